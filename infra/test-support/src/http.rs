//! API Gateway HTTP API (payload 2.0) requests as the JWT authorizer delivers them, for the HTTP
//! functions' handler tests (the handlers take a `lambda_http::Request`).

use lambda_http::Request;
use serde_json::{json, Value};

/// A request for `path_and_query`; `claims`: the token's `(org, sub)` (none: no token), `body`:
/// JSON text, `headers`: extra headers.
pub fn gateway_request(
    method: &str,
    path_and_query: &str,
    claims: Option<(&str, &str)>,
    body: Option<&str>,
    headers: &[(&str, &str)],
) -> Request {
    let (path, query) = path_and_query
        .split_once('?')
        .unwrap_or((path_and_query, ""));
    let mut context = json!({
        "accountId": "123456789012", "apiId": "api", "domainName": "api.test", "domainPrefix": "api",
        "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "test"},
        "requestId": "req-1", "routeKey": "$default", "stage": "$default",
        "time": "10/Mar/2026:09:00:00 +0000", "timeEpoch": 1773133200000u64
    });
    if let Some((org, sub)) = claims {
        context["authorizer"] =
            json!({"jwt": {"claims": {"org": org, "sub": sub}, "scopes": null}});
    }
    let mut params = serde_json::Map::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        params.insert(k.to_string(), Value::String(v.to_string()));
    }
    let mut event = json!({
        "version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": query,
        "headers": {"content-type": "application/json", "host": "api.test"},
        "requestContext": context, "isBase64Encoded": false
    });
    for (k, v) in headers {
        event["headers"][*k] = Value::String(v.to_string());
    }
    if !params.is_empty() {
        event["queryStringParameters"] = Value::Object(params);
    }
    if let Some(b) = body {
        event["body"] = Value::String(b.to_string());
    }
    lambda_http::request::from_str(&event.to_string()).expect("a valid API Gateway v2 event")
}
