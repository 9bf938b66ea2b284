//! Tripletex's error envelope (`ApiError` in the spec) and the client's typed error.
//!
//! No error text ever carries a token: the client never puts tokens in URLs, strips URLs from transport
//! errors, and scrubs every known secret (consumer, employee and session token) from texts received
//! from the server before building an error (see [`TripletexError::redact`]).

use serde::Deserialize;
use std::fmt;

/// One entry of `validationMessages` (spec `ApiValidationMessage`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct ValidationMessage {
    pub field: Option<String>,
    pub message: Option<String>,
    pub path: Option<String>,
    pub root_id: Option<i64>,
}

/// Tripletex's error body: `{status, code, message, link, developerMessage, validationMessages, requestId}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: u16,
    /// Tripletex's internal code (3000 authentication, 9000 security, 11000 illegal filter, ...).
    pub code: Option<i64>,
    pub message: String,
    pub developer_message: Option<String>,
    pub validation_messages: Vec<ValidationMessage>,
    /// `requestId` from the body, else the `x-tlx-request-id` header.
    pub request_id: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct RawApiError {
    status: Option<i64>,
    code: Option<i64>,
    message: Option<String>,
    developer_message: Option<String>,
    validation_messages: Option<Vec<ValidationMessage>>,
    request_id: Option<String>,
}

/// Longest piece of a non-JSON error body kept in `message`.
const MAX_RAW_BODY: usize = 200;

impl ApiError {
    /// Parses an error body. Never fails: a body that is not Tripletex's envelope becomes a message
    /// holding (the start of) the body text, and the HTTP status always wins over a missing one.
    pub fn parse(status: u16, body: &[u8], header_request_id: Option<&str>) -> Self {
        match serde_json::from_slice::<RawApiError>(body) {
            Ok(raw) if raw.status.is_some() || raw.code.is_some() || raw.message.is_some() => {
                Self {
                    status,
                    code: raw.code,
                    message: raw.message.unwrap_or_default(),
                    developer_message: raw.developer_message.filter(|s| !s.is_empty()),
                    validation_messages: raw.validation_messages.unwrap_or_default(),
                    request_id: raw
                        .request_id
                        .filter(|s| !s.is_empty())
                        .or_else(|| header_request_id.map(str::to_string)),
                }
            }
            _ => {
                let text = String::from_utf8_lossy(body);
                let mut message: String = text.trim().chars().take(MAX_RAW_BODY).collect();
                if message.is_empty() {
                    message = format!("HTTP {status} without a body");
                }
                Self {
                    status,
                    code: None,
                    message,
                    developer_message: None,
                    validation_messages: Vec::new(),
                    request_id: header_request_id.map(str::to_string),
                }
            }
        }
    }

    fn redact(&mut self, secrets: &[&str]) {
        redact_str(&mut self.message, secrets);
        if let Some(m) = self.developer_message.as_mut() {
            redact_str(m, secrets);
        }
        for v in &mut self.validation_messages {
            for s in [&mut v.field, &mut v.message, &mut v.path]
                .into_iter()
                .flatten()
            {
                redact_str(s, secrets);
            }
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HTTP {}", self.status)?;
        if let Some(c) = self.code {
            write!(f, " code {c}")?;
        }
        write!(f, ": {}", self.message)?;
        if let Some(d) = &self.developer_message {
            write!(f, " ({d})")?;
        }
        for v in &self.validation_messages {
            write!(
                f,
                "; {}: {}",
                v.field.as_deref().unwrap_or("?"),
                v.message.as_deref().unwrap_or("")
            )?;
        }
        if let Some(r) = &self.request_id {
            write!(f, " [requestId {r}]")?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TripletexError {
    /// 401 (after one session re-creation), or the session could not be created because the consumer
    /// or employee token is unknown, deleted or expired (Tripletex answers that with 422 code 18000
    /// and a validation message on `arg:consumerToken` / `arg:employeeToken`).
    #[error("Tripletex refused the credentials: {0}")]
    Unauthorized(ApiError),
    /// 403: the key lacks the entitlement, or may not act for that company.
    #[error("Tripletex refused access: {0}")]
    Forbidden(ApiError),
    #[error("Tripletex: not found: {0}")]
    NotFound(ApiError),
    /// 429 on every attempt within the retry policy's bounds.
    #[error("Tripletex rate limit still exceeded after {attempts} attempts")]
    RateLimited { attempts: u32 },
    /// 5xx on every attempt.
    #[error("Tripletex server error: {0}")]
    Server(ApiError),
    /// Any other non-success status (400, 409, 422, ...).
    #[error("Tripletex rejected the request: {0}")]
    Api(ApiError),
    /// Connection, timeout or TLS failure (after retries). Never contains the URL.
    #[error("Tripletex transport error: {0}")]
    Transport(String),
    /// The body could not be read as the expected JSON (e.g. truncated).
    #[error("Tripletex response could not be decoded: {0}")]
    Decode(String),
}

impl TripletexError {
    /// Maps a non-success status and its parsed body to the error variant.
    pub fn from_status(err: ApiError) -> Self {
        match err.status {
            401 => Self::Unauthorized(err),
            403 => Self::Forbidden(err),
            404 => Self::NotFound(err),
            500..=599 => Self::Server(err),
            _ => Self::Api(err),
        }
    }

    /// The API error inside, if any.
    pub fn api_error(&self) -> Option<&ApiError> {
        match self {
            Self::Unauthorized(e)
            | Self::Forbidden(e)
            | Self::NotFound(e)
            | Self::Server(e)
            | Self::Api(e) => Some(e),
            _ => None,
        }
    }

    /// Worth retrying later (rate limit, server or transport trouble), as opposed to a refusal.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::RateLimited { .. } | Self::Server(_) | Self::Transport(_)
        )
    }

    /// Replaces every occurrence of each secret in the error's texts with `[redacted]`.
    pub fn redact(&mut self, secrets: &[&str]) {
        match self {
            Self::Unauthorized(e)
            | Self::Forbidden(e)
            | Self::NotFound(e)
            | Self::Server(e)
            | Self::Api(e) => e.redact(secrets),
            Self::Transport(s) | Self::Decode(s) => redact_str(s, secrets),
            Self::RateLimited { .. } => {}
        }
    }
}

fn redact_str(s: &mut String, secrets: &[&str]) {
    for secret in secrets {
        // Very short "secrets" would redact ordinary words; real tokens are long.
        if secret.len() >= 6 && s.contains(secret) {
            *s = s.replace(secret, "[redacted]");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_full_envelope() {
        let body = br#"{ "status": 422, "code": 18000, "message": "Validering feilet.", "link": "https://tripletex.no/v2-docs/",
          "developerMessage": null,
          "validationMessages": [ { "field": "postings.account.name", "message": "Kan ikke vaere null.",
                                    "path": "postings[0].account.name", "rootId": null } ],
          "requestId": "309af8e5-1" }"#;
        let e = ApiError::parse(422, body, Some("header-id"));
        assert_eq!(e.status, 422);
        assert_eq!(e.code, Some(18000));
        assert_eq!(e.message, "Validering feilet.");
        assert_eq!(e.developer_message, None);
        assert_eq!(e.validation_messages.len(), 1);
        assert_eq!(
            e.validation_messages[0].field.as_deref(),
            Some("postings.account.name")
        );
        assert_eq!(e.request_id.as_deref(), Some("309af8e5-1"));
        assert!(matches!(
            TripletexError::from_status(e),
            TripletexError::Api(_)
        ));
    }

    #[test]
    fn non_json_body_falls_back_to_text_and_header_request_id() {
        let e = ApiError::parse(502, b"<html>Bad gateway</html>", Some("rid-7"));
        assert_eq!(e.code, None);
        assert_eq!(e.message, "<html>Bad gateway</html>");
        assert_eq!(e.request_id.as_deref(), Some("rid-7"));
        assert!(matches!(
            TripletexError::from_status(e),
            TripletexError::Server(_)
        ));
        let empty = ApiError::parse(500, b"", None);
        assert_eq!(empty.message, "HTTP 500 without a body");
        let long = ApiError::parse(400, "x".repeat(5000).as_bytes(), None);
        assert_eq!(long.message.len(), MAX_RAW_BODY);
    }

    #[test]
    fn status_maps_to_variant() {
        let mk = |s| TripletexError::from_status(ApiError::parse(s, b"{}", None));
        assert!(matches!(mk(401), TripletexError::Unauthorized(_)));
        assert!(matches!(mk(403), TripletexError::Forbidden(_)));
        assert!(matches!(mk(404), TripletexError::NotFound(_)));
        assert!(matches!(mk(503), TripletexError::Server(_)));
        assert!(matches!(mk(409), TripletexError::Api(_)));
    }

    #[test]
    fn redaction_removes_secrets_from_all_texts() {
        let body = br#"{"status":401,"code":3000,"message":"token abcdef123456 expired","developerMessage":"abcdef123456","validationMessages":[{"field":"x","message":"abcdef123456"}]}"#;
        let mut e = TripletexError::from_status(ApiError::parse(401, body, None));
        e.redact(&["abcdef123456"]);
        let shown = format!("{e} {e:?}");
        assert!(!shown.contains("abcdef123456"), "{shown}");
        assert!(shown.contains("[redacted]"));
    }
}
