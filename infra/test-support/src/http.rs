//! Requests as API Gateway HTTP API (payload 2.0) hands them to an HTTP function behind the JWT
//! authorizer, for the functions' handler tests.

use lambda_http::Request;
use serde_json::{json, Map, Value};

/// `method path?query` with the verified JWT `claims` (none: no authorizer context, as for a
/// route without one) and a JSON `body`. Query values are taken as written (`%20` → space).
pub fn gateway_request(
    method: &str,
    path_and_query: &str,
    claims: &[(&str, &str)],
    body: Option<&str>,
) -> Request {
    gateway_request_with_headers(method, path_and_query, claims, body, &[])
}

/// As [`gateway_request`], with extra `headers` (e.g. `If-Match`).
pub fn gateway_request_with_headers(
    method: &str,
    path_and_query: &str,
    claims: &[(&str, &str)],
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
    if !claims.is_empty() {
        let claims: Map<String, Value> = claims
            .iter()
            .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
            .collect();
        context["authorizer"] = json!({"jwt": {"claims": claims, "scopes": null}});
    }
    let mut params = Map::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        params.insert(k.to_string(), Value::String(v.replace("%20", " ")));
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
