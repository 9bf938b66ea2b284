//! What a handler reads from a request: the organization and the user from the JWT claims, the
//! JSON body (errors name the offending field), query parameters.

use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};
use serde::de::DeserializeOwned;

use super::ApiError;
use crate::domain::setup::OrgId;

/// The JWT claim that carries the organization id.
pub const ORG_CLAIM: &str = "org";
/// The JWT claim that carries the acting user.
pub const USER_CLAIM: &str = "sub";

/// The organization from the JWT authorizer's claims (`requestContext.authorizer.jwt.claims.org`).
/// Never from the request's path, query or body. 401 when absent or malformed.
pub fn org_id(req: &Request) -> Result<OrgId, ApiError> {
    let claim = claim(req, ORG_CLAIM)
        .ok_or_else(|| ApiError::unauthorized("the token carries no organization (claim `org`)"))?;
    OrgId::parse(&claim)
        .map_err(|_| ApiError::unauthorized("the token's organization claim is malformed"))
}

/// The acting user: the JWT's `sub`. 401 when absent or blank.
pub fn user_id(req: &Request) -> Result<String, ApiError> {
    claim(req, USER_CLAIM)
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| ApiError::unauthorized("the token carries no user (claim `sub`)"))
}

/// A claim the JWT authorizer verified.
fn claim(req: &Request, name: &str) -> Option<String> {
    match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx
            .authorizer
            .as_ref()
            .and_then(|a| a.jwt.as_ref())
            .and_then(|j| j.claims.get(name))
            .cloned(),
        _ => None,
    }
}

/// Parses the JSON body into `T`. 400 with the offending field's path (`field`) when the JSON is
/// malformed, a field has the wrong type, a required field is missing or an unknown field is present
/// (request types use `deny_unknown_fields`); 400 with `field: null` for an empty body.
pub fn parse_json<T: DeserializeOwned>(req: &Request) -> Result<T, ApiError> {
    parse_json_bytes(req.body().as_ref())
}

/// An optional JSON body: an empty one means `T::default()`; anything else is [`parse_json`]'s.
pub fn parse_json_or_default<T: DeserializeOwned + Default>(req: &Request) -> Result<T, ApiError> {
    if req.body().as_ref().iter().all(u8::is_ascii_whitespace) {
        Ok(T::default())
    } else {
        parse_json(req)
    }
}

/// A route that takes no input: an empty body or `{}`; anything else is 400 as [`parse_json`] says.
pub fn no_body(req: &Request) -> Result<(), ApiError> {
    #[derive(serde::Deserialize, Default)]
    #[serde(deny_unknown_fields)]
    struct Empty {}
    parse_json_or_default::<Empty>(req).map(|_| ())
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
    use lambda_http::http::StatusCode;

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

    #[test]
    fn the_user_is_the_sub_claim_and_must_not_be_blank() {
        let r = request(
            r#","authorizer":{"jwt":{"claims":{"org":"org_acme","sub":"u1"},"scopes":null}}"#,
        );
        assert_eq!(user_id(&r).unwrap(), "u1");
        let r = request(
            r#","authorizer":{"jwt":{"claims":{"org":"org_acme","sub":" "},"scopes":null}}"#,
        );
        assert_eq!(user_id(&r).unwrap_err().code, "unauthorized");
        assert_eq!(
            user_id(&request("")).unwrap_err().status,
            StatusCode::UNAUTHORIZED
        );
    }
}
