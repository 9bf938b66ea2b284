//! HTTP edge helpers for the lambda_http functions: the error body, the organization from the JWT
//! claims, JSON parsing that names the offending field, JSON responses.
//!
//! Error body: `{"error": {"code": "...", "message": "...", "field": "..." | null, ...}}`.
//! 400 malformed input, 401 no organization claim, 404 not found / unknown route, 405 wrong method,
//! 409 conflict, 422 semantically invalid, 502/503 when an outside system fails (503 with
//! `Retry-After`). Bad input is never a 500.

use lambda_http::http::{header, HeaderValue, StatusCode};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Map, Value};

use crate::domain::setup::OrgId;

/// The JWT claim that carries the organization id.
pub const ORG_CLAIM: &str = "org";

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
        }
    }

    pub fn bad_request(code: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
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

/// The organization from the JWT authorizer's claims (`requestContext.authorizer.jwt.claims.org`).
/// Never from the request's path, query or body. 401 when absent or malformed.
pub fn org_id(req: &Request) -> Result<OrgId, ApiError> {
    let unauthorized = |m: &str| ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", m);
    let claim = match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx
            .authorizer
            .as_ref()
            .and_then(|a| a.jwt.as_ref())
            .and_then(|j| j.claims.get(ORG_CLAIM))
            .cloned(),
        _ => None,
    };
    let claim =
        claim.ok_or_else(|| unauthorized("the token carries no organization (claim `org`)"))?;
    OrgId::parse(&claim).map_err(|_| unauthorized("the token's organization claim is malformed"))
}

/// Parses the JSON body into `T`. 400 with the offending field's path (`field`) when the JSON is
/// malformed, a field has the wrong type, a required field is missing or an unknown field is present
/// (request types use `deny_unknown_fields`); 400 with `field: null` for an empty body.
pub fn parse_json<T: DeserializeOwned>(req: &Request) -> Result<T, ApiError> {
    parse_json_bytes(req.body().as_ref())
}

/// [`parse_json`] on raw bytes.
pub fn parse_json_bytes<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request(
            "body_required",
            "the request needs a JSON body",
        ));
    }
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(ApiError::bad_request(
            "malformed_json",
            "the body must be a JSON object",
        ));
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|err| {
        let inner = err.inner();
        let path = err.path().to_string();
        let text = strip_position(&inner.to_string());
        if inner.is_syntax() || inner.is_eof() {
            return malformed(&text);
        }
        // serde reports a missing or unknown field at the parent's path; name the field itself.
        let named = backticked(&text);
        let field = if text.starts_with("unknown field") {
            // The path already ends with the unknown field.
            Some(path).filter(|p| p != ".").or(named)
        } else if text.starts_with("missing field") {
            named.map(|n| join_path(&path, &n))
        } else if path == "." || path.is_empty() {
            None
        } else {
            Some(path)
        };
        let code = if text.starts_with("missing field") {
            "missing_field"
        } else if text.starts_with("unknown field") {
            "unknown_field"
        } else {
            "invalid_field"
        };
        let mut e = ApiError::bad_request(code, text);
        e.field = field;
        e
    })?;
    // Trailing characters after the document are malformed JSON too.
    de.end()
        .map_err(|e| malformed(&strip_position(&e.to_string())))?;
    Ok(value)
}

fn malformed(text: &str) -> ApiError {
    ApiError::bad_request(
        "malformed_json",
        format!("the body is not valid JSON: {text}"),
    )
}

fn strip_position(s: &str) -> String {
    match s.rfind(" at line ") {
        Some(i) => s[..i].to_string(),
        None => s.to_string(),
    }
}

fn backticked(s: &str) -> Option<String> {
    let start = s.find('`')? + 1;
    let len = s[start..].find('`')?;
    Some(s[start..start + len].to_string())
}

fn join_path(parent: &str, name: &str) -> String {
    if parent == "." || parent.is_empty() {
        name.to_string()
    } else {
        format!("{parent}.{name}")
    }
}

/// A query-string parameter.
pub fn query_param(req: &Request, name: &str) -> Option<String> {
    req.query_string_parameters_ref()
        .and_then(|q| q.first(name).map(str::to_string))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        days_past_due: i64,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    #[allow(dead_code)]
    struct Req {
        label: String,
        accountant_key: bool,
        #[serde(default)]
        inner: Option<Inner>,
    }

    fn err(body: &str) -> ApiError {
        parse_json_bytes::<Req>(body.as_bytes()).unwrap_err()
    }

    #[test]
    fn errors_name_the_field() {
        let e = err(r#"{"label": 5, "accountantKey": true}"#);
        assert_eq!(
            (e.status.as_u16(), e.code.as_str(), e.field.as_deref()),
            (400, "invalid_field", Some("label"))
        );
        let e = err(r#"{"label": "x"}"#);
        assert_eq!(
            (e.code.as_str(), e.field.as_deref()),
            ("missing_field", Some("accountantKey"))
        );
        let e = err(r#"{"label": "x", "accountantKey": true, "employeeTokn": "t"}"#);
        assert_eq!(
            (e.code.as_str(), e.field.as_deref()),
            ("unknown_field", Some("employeeTokn"))
        );
        let e = err(r#"{"label": "x", "accountantKey": true, "inner": {"daysPastDue": "a"}}"#);
        assert_eq!(e.field.as_deref(), Some("inner.daysPastDue"));
        let e = err(r#"{"label": "x", "accountantKey": true, "inner": {}}"#);
        assert_eq!(e.field.as_deref(), Some("inner.daysPastDue"));
    }

    #[test]
    fn malformed_and_empty_bodies_are_400_without_field() {
        for body in [
            "",
            "  ",
            "{",
            "{\"label\": \"x\", \"accountantKey\": true} trailing",
            "[1,2]",
        ] {
            let e = err(body);
            assert_eq!(e.status, StatusCode::BAD_REQUEST, "{body}");
            assert_eq!(e.field, None, "{body}");
        }
        assert_eq!(err("").code, "body_required");
        assert_eq!(err("{").code, "malformed_json");
    }

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

    fn request(claims: &str) -> Request {
        let event = format!(
            r#"{{"version":"2.0","routeKey":"$default","rawPath":"/v1/accounts","rawQueryString":"",
            "headers":{{"content-type":"application/json"}},
            "requestContext":{{"accountId":"1","apiId":"a","domainName":"x","domainPrefix":"x",
              "http":{{"method":"GET","path":"/v1/accounts","protocol":"HTTP/1.1","sourceIp":"127.0.0.1","userAgent":"t"}},
              "requestId":"r","routeKey":"$default","stage":"$default","time":"10/Mar/2026:09:00:00 +0000","timeEpoch":0
              {claims}}},
            "isBase64Encoded":false}}"#
        );
        lambda_http::request::from_str(&event).unwrap()
    }

    #[test]
    fn org_comes_from_the_jwt_claims_only() {
        let r = request(
            r#","authorizer":{"jwt":{"claims":{"org":"org_acme","sub":"u1"},"scopes":null}}"#,
        );
        assert_eq!(org_id(&r).unwrap().as_str(), "org_acme");
        let r = request("");
        assert_eq!(org_id(&r).unwrap_err().status, StatusCode::UNAUTHORIZED);
        let r = request(r#","authorizer":{"jwt":{"claims":{"org":"../x"},"scopes":null}}"#);
        assert_eq!(org_id(&r).unwrap_err().status, StatusCode::UNAUTHORIZED);
    }
}
