//! The one error body of the HTTP API, and JSON / empty responses.
//!
//! Error body: `{"error": {"code": "...", "message": "...", "field": "..." | null, ...}}`.
//! 400 malformed input, 401 no organization claim, 404 not found / unknown route, 405 wrong method,
//! 409 conflict, 422 semantically invalid, 502/503 when an outside system fails (503 with
//! `Retry-After`), 500 when our own side fails. Bad input is never a 500. A 5xx body also carries
//! `requestId` (added by the edge, [`super::Router`]), the id its log line carries.

use lambda_http::http::{header, HeaderValue, StatusCode};
use lambda_http::{Body, Response};
use serde::Serialize;
use serde_json::{json, Map, Value};

/// An error answer of the HTTP API.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub status: StatusCode,
    /// Stable, machine-readable (snake_case).
    pub code: String,
    /// For people (English unless a field says otherwise).
    pub message: String,
    /// The JSON path of the offending input field, if one is to blame.
    pub field: Option<String>,
    /// More members of the `error` object (e.g. `fix`, `details`, `tripletex`).
    pub extra: Map<String, Value>,
    /// Seconds, sent as `Retry-After` and as `error.retryAfterSeconds`.
    pub retry_after: Option<u64>,
    /// What went wrong inside, for the log line the edge writes; never part of the response.
    pub cause: Option<String>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            status,
            code: code.into(),
            message: message.into(),
            field: None,
            extra: Map::new(),
            retry_after: None,
            cause: None,
        }
    }

    pub fn bad_request(code: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }
    pub fn unprocessable(code: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
    }
    pub fn not_found(code: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, message)
    }
    pub fn conflict(code: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }
    pub fn unavailable(code: &str, message: impl Into<String>, retry_after: u64) -> Self {
        let mut e = Self::new(StatusCode::SERVICE_UNAVAILABLE, code, message);
        e.retry_after = Some(retry_after);
        e
    }
    /// 500: our own side failed. Say why with [`ApiError::because`]; the user sees only this text.
    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "something went wrong on our side; try again later",
        )
    }
    /// 404 for a path no route matches.
    pub fn unknown_route(path: &str) -> Self {
        Self::not_found("route_not_found", format!("no such resource: {path}"))
    }
    /// 405 with the allowed methods.
    pub fn method_not_allowed(allowed: &[&str]) -> Self {
        let mut e = Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            format!("allowed methods: {}", allowed.join(", ")),
        );
        e.extra.insert("allowed".into(), json!(allowed));
        e
    }

    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }
    pub fn with(mut self, key: &str, value: Value) -> Self {
        self.extra.insert(key.to_string(), value);
        self
    }
    /// The inside story (an SDK error, an unexpected answer): logged by the edge with the request
    /// id, never sent.
    pub fn because(mut self, cause: impl std::fmt::Display) -> Self {
        self.cause = Some(cause.to_string());
        self
    }

    /// The JSON body.
    pub fn body(&self) -> Value {
        let mut error = Map::new();
        error.insert("code".into(), json!(self.code));
        error.insert("message".into(), json!(self.message));
        error.insert("field".into(), json!(self.field));
        if let Some(s) = self.retry_after {
            error.insert("retryAfterSeconds".into(), json!(s));
        }
        for (k, v) in &self.extra {
            error.insert(k.clone(), v.clone());
        }
        json!({ "error": error })
    }

    pub fn into_response(self) -> Response<Body> {
        let mut response = json_response(self.status, &self.body());
        if let Some(s) = self.retry_after {
            if let Ok(v) = HeaderValue::from_str(&s.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        if let Some(Value::Array(allowed)) = self.extra.get("allowed") {
            let list: Vec<&str> = allowed.iter().filter_map(Value::as_str).collect();
            if let Ok(v) = HeaderValue::from_str(&list.join(", ")) {
                response.headers_mut().insert(header::ALLOW, v);
            }
        }
        response
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.code,
            self.message
        )
    }
}

/// A JSON response.
pub fn json_response<T: Serialize + ?Sized>(status: StatusCode, value: &T) -> Response<Body> {
    let (status, text) = match serde_json::to_string(value) {
        Ok(t) => (status, t),
        Err(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            r#"{"error":{"code":"internal_error","message":"response could not be serialised","field":null}}"#
                .to_string(),
        ),
    };
    let mut response = Response::new(Body::from(text));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// An empty response (e.g. 204).
pub fn empty_response(status: StatusCode) -> Response<Body> {
    let mut response = Response::new(Body::Empty);
    *response.status_mut() = status;
    response
}

/// The response with a `Location` header (the path of what a POST created).
pub fn with_location(mut response: Response<Body>, location: &str) -> Response<Body> {
    if let Ok(v) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, v);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_body_has_the_agreed_shape_and_retry_after() {
        let r = ApiError::unavailable("tripletex_unavailable", "later", 30).into_response();
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(r.headers()[header::RETRY_AFTER], "30");
        let v: Value = serde_json::from_slice(r.body().as_ref()).unwrap();
        assert_eq!(v["error"]["code"], "tripletex_unavailable");
        assert_eq!(v["error"]["field"], Value::Null);
        assert_eq!(v["error"]["retryAfterSeconds"], 30);
        let r = ApiError::method_not_allowed(&["GET", "POST"]).into_response();
        assert_eq!(r.headers()[header::ALLOW], "GET, POST");
    }

    #[test]
    fn the_cause_is_never_in_the_body() {
        let e = ApiError::internal().because("dynamodb: table inndrive-prod throttled");
        let r = e.clone().into_response();
        let text = String::from_utf8_lossy(r.body().as_ref()).to_string();
        assert!(!text.contains("throttled"), "{text}");
        assert!(!e.to_string().contains("throttled"), "{e}");
        assert_eq!(
            e.cause.as_deref(),
            Some("dynamodb: table inndrive-prod throttled")
        );
    }
}
