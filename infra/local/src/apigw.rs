//! API Gateway HTTP API emulation: routes from the template's `HttpApi` events, the JWT authorizer,
//! payload format 2.0 in, the function's response out.
//!
//! The stage is the template's `StageName`. `$default` serves at the root of the URL; a named stage
//! serves under `/{stage}/…` and, as API Gateway does, keeps that prefix in the event's `rawPath`
//! and `requestContext.http.path` (routes are matched without it).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde_json::{json, Map, Value as Json};

use crate::jwt;
use crate::runtime::{FunctionRunner, InvokeError};
use crate::template::{CorsDef, JwtAuthorizerDef, DEFAULT_STAGE, LOCAL_API_ID};

#[derive(Debug, Clone, PartialEq, Eq)]
enum Seg {
    Lit(String),
    Param(String),
    Greedy(String),
}

/// One route (`METHOD /path/{param}`) and the function behind it.
#[derive(Clone)]
pub struct Route {
    pub method: String,
    pub path: String,
    pub authorized: bool,
    pub function: Arc<FunctionRunner>,
}

impl Route {
    pub fn new(method: &str, path: &str, authorized: bool, function: Arc<FunctionRunner>) -> Route {
        Route {
            method: method.to_uppercase(),
            path: path.to_string(),
            authorized,
            function,
        }
    }
    pub fn route_key(&self) -> String {
        if self.path == "$default" || self.path == "/$default" {
            "$default".into()
        } else {
            format!("{} {}", self.method, self.path)
        }
    }
}

fn parse_path(path: &str) -> Vec<Seg> {
    path.trim_start_matches('/')
        .split('/')
        .map(|s| {
            if let Some(name) = s.strip_prefix('{').and_then(|s| s.strip_suffix("+}")) {
                Seg::Greedy(name.to_string())
            } else if let Some(name) = s.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Seg::Param(name.to_string())
            } else {
                Seg::Lit(s.to_string())
            }
        })
        .collect()
}

/// Matches a request path against a route's segments; returns the path parameters.
fn match_path(segs: &[Seg], path: &str) -> Option<BTreeMap<String, String>> {
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let mut params = BTreeMap::new();
    for (i, seg) in segs.iter().enumerate() {
        match seg {
            Seg::Lit(l) => {
                if parts.get(i) != Some(&l.as_str()) {
                    return None;
                }
            }
            Seg::Param(n) => {
                let p = parts.get(i).filter(|p| !p.is_empty())?;
                params.insert(n.clone(), (*p).to_string());
            }
            Seg::Greedy(n) => {
                let rest = parts.get(i..).filter(|r| !r.is_empty())?.join("/");
                if rest.is_empty() {
                    return None;
                }
                params.insert(n.clone(), rest);
                return Some(params);
            }
        }
    }
    (parts.len() == segs.len()).then_some(params)
}

/// The HTTP API: stage, routes, authorizer and CORS as the template configures them.
pub struct HttpApi {
    /// `$default`, or a stage name that prefixes every path.
    pub stage: String,
    pub routes: Vec<Route>,
    pub jwt: Option<JwtAuthorizerDef>,
    pub cors: Option<CorsDef>,
}

impl HttpApi {
    /// The path under the stage: `raw_path` itself for `$default`, `raw_path` without `/{stage}`
    /// for a named stage (None when it is not under the stage, which API Gateway answers 404).
    pub fn path_in_stage<'p>(&self, raw_path: &'p str) -> Option<&'p str> {
        if self.stage == DEFAULT_STAGE {
            return Some(raw_path);
        }
        match raw_path
            .strip_prefix('/')
            .and_then(|p| p.strip_prefix(self.stage.as_str()))
        {
            Some("") => Some("/"),
            Some(rest) if rest.starts_with('/') => Some(rest),
            _ => None,
        }
    }

    /// The most specific matching route (API Gateway's rule: literal segments beat parameters, which
    /// beat greedy `{proxy+}`; an exact method beats ANY; `$default` last).
    pub fn find(&self, method: &str, path: &str) -> Option<(&Route, BTreeMap<String, String>)> {
        let keys: Vec<(String, String)> = self
            .routes
            .iter()
            .map(|r| (r.method.clone(), r.path.clone()))
            .collect();
        best_route(&keys, method, path).map(|(i, p)| (&self.routes[i], p))
    }
}

/// Index of the most specific route among `(method, path)` pairs for a request, with its path
/// parameters.
pub fn best_route(
    routes: &[(String, String)],
    method: &str,
    path: &str,
) -> Option<(usize, BTreeMap<String, String>)> {
    type Score = (usize, usize, bool, bool);
    let mut best: Option<(Score, usize, BTreeMap<String, String>)> = None;
    for (i, (m, p)) in routes.iter().enumerate() {
        if m != "ANY" && m != method {
            continue;
        }
        let is_default = p == "$default" || p == "/$default";
        let segs = parse_path(p);
        let params = if is_default {
            Some(BTreeMap::new())
        } else {
            match_path(&segs, path)
        };
        let Some(params) = params else { continue };
        let lits = segs.iter().filter(|s| matches!(s, Seg::Lit(_))).count();
        let non_greedy = segs.iter().filter(|s| !matches!(s, Seg::Greedy(_))).count();
        let score = (
            if is_default { 0 } else { 1 + lits },
            non_greedy,
            !is_default,
            m != "ANY",
        );
        if best.as_ref().is_none_or(|(s, _, _)| score > *s) {
            best = Some((score, i, params));
        }
    }
    best.map(|(_, i, p)| (i, p))
}

fn message(status: StatusCode, msg: &str) -> Response {
    (status, axum::Json(json!({ "message": msg }))).into_response()
}

/// Serves the API on `listener` until `stop` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    api: Arc<HttpApi>,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = axum::Router::new().fallback(handle).with_state(api);
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(stop)
    .await
}

fn is_textual(content_type: Option<&str>) -> bool {
    match content_type {
        None => true,
        Some(ct) => {
            let ct = ct.to_ascii_lowercase();
            ct.starts_with("text/")
                || ct.contains("json")
                || ct.contains("xml")
                || ct.contains("javascript")
                || ct.starts_with("application/x-www-form-urlencoded")
        }
    }
}

/// Inputs of one API Gateway v2 event.
pub struct EventInput<'a> {
    pub method: &'a str,
    pub raw_path: &'a str,
    pub raw_query: &'a str,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
    pub source_ip: &'a str,
    pub route_key: &'a str,
    /// `$default` or the stage's name (whose prefix `raw_path` then carries).
    pub stage: &'a str,
    pub path_params: &'a BTreeMap<String, String>,
    /// Verified JWT claims (None on routes without an authorizer).
    pub claims: Option<&'a Map<String, Json>>,
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                match u8::from_str_radix(
                    std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz"),
                    16,
                ) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The API Gateway HTTP API payload format 2.0 event for a request.
pub fn build_event(i: &EventInput) -> Json {
    let mut headers: BTreeMap<String, String> = BTreeMap::new();
    let mut cookies: Vec<String> = Vec::new();
    for (name, value) in i.headers {
        let v = String::from_utf8_lossy(value.as_bytes()).into_owned();
        if name == "cookie" {
            cookies.extend(
                v.split(';')
                    .map(|c| c.trim().to_string())
                    .filter(|c| !c.is_empty()),
            );
            continue;
        }
        headers
            .entry(name.as_str().to_string())
            .and_modify(|e| {
                e.push(',');
                e.push_str(&v);
            })
            .or_insert(v);
    }
    let mut query: BTreeMap<String, String> = BTreeMap::new();
    for pair in i.raw_query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let (k, v) = (percent_decode(k), percent_decode(v));
        query
            .entry(k)
            .and_modify(|e| {
                e.push(',');
                e.push_str(&v);
            })
            .or_insert(v);
    }
    let host = headers
        .get("host")
        .cloned()
        .unwrap_or_else(|| "localhost".into());
    let now = chrono::Utc::now();
    let ct = headers.get("content-type").map(String::as_str);
    let (body, b64) = if i.body.is_empty() {
        (None, false)
    } else if is_textual(ct) && std::str::from_utf8(i.body).is_ok() {
        (Some(String::from_utf8_lossy(i.body).into_owned()), false)
    } else {
        (
            Some(base64::engine::general_purpose::STANDARD.encode(i.body)),
            true,
        )
    };
    let mut ctx = json!({
        "accountId": crate::template::ACCOUNT_ID,
        "apiId": LOCAL_API_ID,
        "domainName": host,
        "domainPrefix": host.split('.').next().unwrap_or(&host),
        "http": {
            "method": i.method,
            "path": i.raw_path,
            "protocol": "HTTP/1.1",
            "sourceIp": i.source_ip,
            "userAgent": headers.get("user-agent").cloned().unwrap_or_default(),
        },
        "requestId": uuid::Uuid::new_v4().to_string(),
        "routeKey": i.route_key,
        "stage": i.stage,
        "time": now.format("%d/%b/%Y:%H:%M:%S +0000").to_string(),
        "timeEpoch": now.timestamp_millis(),
    });
    if let Some(claims) = i.claims {
        ctx["authorizer"] = json!({
            "jwt": { "claims": jwt::claims_as_strings(claims), "scopes": null }
        });
    }
    let mut ev = json!({
        "version": "2.0",
        "routeKey": i.route_key,
        "rawPath": i.raw_path,
        "rawQueryString": i.raw_query,
        "headers": headers,
        "requestContext": ctx,
        "isBase64Encoded": b64,
    });
    if !cookies.is_empty() {
        ev["cookies"] = json!(cookies);
    }
    if !query.is_empty() {
        ev["queryStringParameters"] = json!(query);
    }
    if !i.path_params.is_empty() {
        ev["pathParameters"] = json!(i.path_params);
    }
    if let Some(b) = body {
        ev["body"] = Json::String(b);
    }
    ev
}

/// Translates a function's response (format 2.0) into an HTTP response.
pub fn translate_response(out: &[u8]) -> Response {
    let v: Json = match serde_json::from_slice(out) {
        Ok(v) => v,
        Err(_) => return message(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error"),
    };
    let structured = v.as_object().filter(|o| o.contains_key("statusCode"));
    let Some(o) = structured else {
        // No statusCode: API Gateway assumes 200, application/json, the response as the body.
        return (
            StatusCode::OK,
            [("content-type", "application/json")],
            Bytes::copy_from_slice(out),
        )
            .into_response();
    };
    let status = o
        .get("statusCode")
        .and_then(|s| {
            s.as_u64()
                .or_else(|| s.as_str().and_then(|s| s.parse().ok()))
        })
        .and_then(|s| StatusCode::from_u16(s as u16).ok());
    let Some(status) = status else {
        return message(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error");
    };
    let mut builder = Response::builder().status(status);
    let hdr = |k: &str, v: &str| -> Option<(HeaderName, HeaderValue)> {
        Some((
            HeaderName::from_bytes(k.as_bytes()).ok()?,
            HeaderValue::from_str(v).ok()?,
        ))
    };
    if let Some(h) = o.get("multiValueHeaders").and_then(Json::as_object) {
        for (k, vals) in h {
            for val in vals.as_array().cloned().unwrap_or_default() {
                if let Some((k, v)) = hdr(k, &crate::template::scalar_to_string(&val)) {
                    builder = builder.header(k, v);
                }
            }
        }
    }
    if let Some(h) = o.get("headers").and_then(Json::as_object) {
        for (k, val) in h {
            if let Some((k, v)) = hdr(k, &crate::template::scalar_to_string(val)) {
                builder = builder.header(k, v);
            }
        }
    }
    for c in o
        .get("cookies")
        .and_then(Json::as_array)
        .cloned()
        .unwrap_or_default()
    {
        if let Some(c) = c.as_str().and_then(|c| HeaderValue::from_str(c).ok()) {
            builder = builder.header("set-cookie", c);
        }
    }
    let body = match o.get("body") {
        None | Some(Json::Null) => Vec::new(),
        Some(Json::String(s)) => {
            if o.get("isBase64Encoded")
                .and_then(Json::as_bool)
                .unwrap_or(false)
            {
                match base64::engine::general_purpose::STANDARD.decode(s) {
                    Ok(b) => b,
                    Err(_) => {
                        return message(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
                    }
                }
            } else {
                s.clone().into_bytes()
            }
        }
        Some(other) => other.to_string().into_bytes(),
    };
    builder
        .body(Body::from(body))
        .unwrap_or_else(|_| message(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error"))
}

fn cors_headers(cors: &CorsDef, origin: &str, headers: &mut HeaderMap) {
    let allowed = cors.allow_origins.iter().any(|o| o == "*" || o == origin);
    if !allowed {
        return;
    }
    let value = if cors.allow_origins.iter().any(|o| o == "*") {
        "*"
    } else {
        origin
    };
    if let Ok(v) = HeaderValue::from_str(value) {
        headers.insert("access-control-allow-origin", v);
    }
}

async fn handle(
    State(api): State<Arc<HttpApi>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
) -> Response {
    let (parts, body) = req.into_parts();
    let origin = parts
        .headers
        .get("origin")
        .and_then(|o| o.to_str().ok())
        .map(str::to_string);

    // CORS preflight is answered by API Gateway itself when the API has a CORS configuration.
    if let (Some(cors), Some(origin)) = (&api.cors, &origin) {
        if parts.method == Method::OPTIONS
            && parts.headers.contains_key("access-control-request-method")
        {
            let mut resp = StatusCode::NO_CONTENT.into_response();
            let h = resp.headers_mut();
            cors_headers(cors, origin, h);
            let join = |l: &[String]| HeaderValue::from_str(&l.join(",")).ok();
            if let Some(v) = join(&cors.allow_methods) {
                h.insert("access-control-allow-methods", v);
            }
            if let Some(v) = join(&cors.allow_headers) {
                h.insert("access-control-allow-headers", v);
            }
            if let Some(age) = cors.max_age {
                h.insert("access-control-max-age", HeaderValue::from(age));
            }
            return resp;
        }
    }

    let mut resp = route_request(&api, parts, body, peer).await;
    if let (Some(cors), Some(origin)) = (&api.cors, &origin) {
        cors_headers(cors, origin, resp.headers_mut());
    }
    resp
}

async fn route_request(
    api: &HttpApi,
    parts: axum::http::request::Parts,
    body: Body,
    peer: SocketAddr,
) -> Response {
    let method = parts.method.as_str().to_uppercase();
    let raw_path = parts.uri.path().to_string();
    let raw_query = parts.uri.query().unwrap_or("").to_string();
    let found = api
        .path_in_stage(&raw_path)
        .and_then(|path| api.find(&method, path));
    let Some((route, params)) = found else {
        return message(StatusCode::NOT_FOUND, "Not Found");
    };
    let claims = match (&api.jwt, route.authorized) {
        (Some(cfg), true) => {
            let token = parts
                .headers
                .get("authorization")
                .and_then(|h| h.to_str().ok())
                .and_then(|h| {
                    h.strip_prefix("Bearer ")
                        .or_else(|| h.strip_prefix("bearer "))
                })
                .map(str::trim);
            let Some(token) = token else {
                return message(StatusCode::UNAUTHORIZED, "Unauthorized");
            };
            match jwt::verify(token, &cfg.issuer, &cfg.audiences) {
                Ok(c) => Some(c),
                Err(_) => return message(StatusCode::UNAUTHORIZED, "Unauthorized"),
            }
        }
        _ => None,
    };
    let body = match axum::body::to_bytes(body, 10 * 1024 * 1024).await {
        Ok(b) => b,
        Err(_) => return message(StatusCode::PAYLOAD_TOO_LARGE, "Request Entity Too Large"),
    };
    let route_key = route.route_key();
    let source_ip = peer.ip().to_string();
    let event = build_event(&EventInput {
        method: &method,
        raw_path: &raw_path,
        raw_query: &raw_query,
        headers: &parts.headers,
        body: &body,
        source_ip: &source_ip,
        route_key: &route_key,
        stage: &api.stage,
        path_params: &params,
        claims: claims.as_ref(),
    });
    let payload = Bytes::from(serde_json::to_vec(&event).unwrap_or_default());
    match route.function.invoke(payload).await {
        Ok(out) => translate_response(&out),
        Err(InvokeError::Timeout(_)) => {
            message(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable")
        }
        Err(_) => message(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_matching() {
        let segs = parse_path("/v1/accounts/{id}/integration");
        let p = match_path(&segs, "/v1/accounts/a1/integration").unwrap();
        assert_eq!(p["id"], "a1");
        assert!(match_path(&segs, "/v1/accounts/a1").is_none());
        assert!(match_path(&segs, "/v1/accounts//integration").is_none());
        let segs = parse_path("/files/{proxy+}");
        assert_eq!(match_path(&segs, "/files/a/b/c").unwrap()["proxy"], "a/b/c");
        assert!(match_path(&segs, "/files").is_none());
        assert!(match_path(&parse_path("/v1/accounts"), "/v1/accounts")
            .unwrap()
            .is_empty());
    }

    #[test]
    fn most_specific_route_wins() {
        let routes: Vec<(String, String)> = [
            ("ANY", "/{proxy+}"),
            ("GET", "/v1/accounts/{id}"),
            ("GET", "/v1/accounts/mine"),
            ("ANY", "/v1/accounts/{id}"),
            ("GET", "/v1/{proxy+}"),
            ("POST", "/v1/accounts"),
        ]
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
        let pick = |m: &str, p: &str| best_route(&routes, m, p).map(|(i, _)| i);
        assert_eq!(pick("GET", "/v1/accounts/mine"), Some(2));
        assert_eq!(pick("GET", "/v1/accounts/a1"), Some(1));
        assert_eq!(pick("DELETE", "/v1/accounts/a1"), Some(3));
        assert_eq!(pick("GET", "/v1/other/x"), Some(4));
        assert_eq!(pick("POST", "/v1/accounts"), Some(5));
        assert_eq!(pick("GET", "/v1/accounts"), Some(4));
        assert_eq!(pick("PUT", "/x"), Some(0));
        let only_get = vec![("GET".to_string(), "/a".to_string())];
        assert_eq!(best_route(&only_get, "POST", "/a"), None);
        assert_eq!(best_route(&only_get, "GET", "/b"), None);
    }

    #[test]
    fn event_has_the_v2_shape_and_lambda_http_accepts_it() {
        let mut headers = HeaderMap::new();
        headers.insert("host", HeaderValue::from_static("127.0.0.1:4000"));
        headers.insert("user-agent", HeaderValue::from_static("curl/8"));
        headers.insert("content-type", HeaderValue::from_static("application/json"));
        headers.append("x-multi", HeaderValue::from_static("a"));
        headers.append("x-multi", HeaderValue::from_static("b"));
        headers.insert("cookie", HeaderValue::from_static("s=1; t=2"));
        let params = BTreeMap::from([("id".to_string(), "acc_1".to_string())]);
        let claims: Map<String, Json> =
            serde_json::from_value(json!({"org": "org_acme", "sub": "u1", "exp": 123})).unwrap();
        let ev = build_event(&EventInput {
            method: "PUT",
            raw_path: "/v1/accounts/acc_1/integration",
            raw_query: "a=1&a=2&q=hello%20world",
            headers: &headers,
            body: br#"{"x":1}"#,
            source_ip: "127.0.0.1",
            route_key: "PUT /v1/accounts/{id}/integration",
            stage: "$default",
            path_params: &params,
            claims: Some(&claims),
        });
        assert_eq!(ev["version"], "2.0");
        assert_eq!(ev["headers"]["x-multi"], "a,b");
        assert!(ev["headers"].get("cookie").is_none());
        assert_eq!(ev["cookies"], json!(["s=1", "t=2"]));
        assert_eq!(ev["queryStringParameters"]["a"], "1,2");
        assert_eq!(ev["queryStringParameters"]["q"], "hello world");
        assert_eq!(
            ev["requestContext"]["authorizer"]["jwt"]["claims"]["exp"],
            "123"
        );
        assert_eq!(ev["requestContext"]["stage"], "$default");
        assert_eq!(ev["body"], r#"{"x":1}"#);
        assert_eq!(ev["isBase64Encoded"], false);

        use lambda_http::RequestExt;
        let req =
            lambda_http::request::from_str(&ev.to_string()).expect("lambda_http accepts the event");
        assert_eq!(req.method(), "PUT");
        assert_eq!(req.uri().path(), "/v1/accounts/acc_1/integration");
        assert_eq!(req.path_parameters().first("id"), Some("acc_1"));
        assert_eq!(req.query_string_parameters().all("a"), Some(vec!["1", "2"]));
        assert_eq!(req.headers()["x-multi"], "a,b");
        match req.request_context() {
            lambda_http::request::RequestContext::ApiGatewayV2(ctx) => {
                let jwt = ctx.authorizer.unwrap().jwt.unwrap();
                assert_eq!(jwt.claims["org"], "org_acme");
                assert_eq!(
                    ctx.route_key.as_deref(),
                    Some("PUT /v1/accounts/{id}/integration")
                );
            }
            _ => panic!("not an API Gateway v2 context"),
        }
        match req.body() {
            lambda_http::Body::Text(t) => assert_eq!(t, r#"{"x":1}"#),
            other => panic!("unexpected body {other:?}"),
        }
    }

    #[test]
    fn a_named_stage_prefixes_the_path_and_stays_in_raw_path() {
        let api = |stage: &str| HttpApi {
            stage: stage.into(),
            routes: vec![],
            jwt: None,
            cors: None,
        };
        let prod = api("prod");
        assert_eq!(
            prod.path_in_stage("/prod/v1/cases/c1"),
            Some("/v1/cases/c1")
        );
        assert_eq!(prod.path_in_stage("/prod"), Some("/"));
        assert_eq!(prod.path_in_stage("/v1/cases/c1"), None);
        assert_eq!(prod.path_in_stage("/production/v1"), None);
        let default = api("$default");
        assert_eq!(default.path_in_stage("/v1/cases/c1"), Some("/v1/cases/c1"));

        // What the function receives: the prefix in rawPath and http.path, the stage named.
        let params = BTreeMap::from([("id".to_string(), "c1".to_string())]);
        let ev = build_event(&EventInput {
            method: "GET",
            raw_path: "/prod/v1/cases/c1",
            raw_query: "",
            headers: &HeaderMap::new(),
            body: b"",
            source_ip: "127.0.0.1",
            route_key: "GET /v1/cases/{id}",
            stage: "prod",
            path_params: &params,
            claims: None,
        });
        assert_eq!(ev["rawPath"], "/prod/v1/cases/c1");
        assert_eq!(ev["requestContext"]["http"]["path"], "/prod/v1/cases/c1");
        assert_eq!(ev["requestContext"]["stage"], "prod");
        use lambda_http::RequestExt;
        let req = lambda_http::request::from_str(&ev.to_string()).unwrap();
        assert_eq!(req.raw_http_path(), "/prod/v1/cases/c1");
    }

    #[tokio::test]
    async fn response_translation() {
        let r = translate_response(
            br#"{"statusCode":201,"headers":{"content-type":"application/json","x-a":"1"},"cookies":["c=1"],"body":"{\"ok\":true}","isBase64Encoded":false}"#,
        );
        assert_eq!(r.status(), 201);
        assert_eq!(r.headers()["x-a"], "1");
        assert_eq!(r.headers()["set-cookie"], "c=1");
        let b = axum::body::to_bytes(r.into_body(), 1000).await.unwrap();
        assert_eq!(&b[..], br#"{"ok":true}"#);

        let r = translate_response(br#"{"statusCode":200,"body":"aGk=","isBase64Encoded":true}"#);
        let b = axum::body::to_bytes(r.into_body(), 1000).await.unwrap();
        assert_eq!(&b[..], b"hi");

        let r = translate_response(br#""plain""#);
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["content-type"], "application/json");
        let b = axum::body::to_bytes(r.into_body(), 1000).await.unwrap();
        assert_eq!(&b[..], br#""plain""#);
    }
}
