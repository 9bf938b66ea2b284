//! The edge every HTTP function shares: one [`Router`] per function declares its routes
//! (`METHOD /path/{param}` as in template.yaml) and their handlers; [`Router::serve`] does the rest
//! the same way for all of them:
//!
//! - the path is the event's `rawPath` with a named stage's prefix removed (API Gateway HTTP API,
//!   payload 2.0, puts `/{stage}` in front of the path for every stage but `$default`);
//! - the route is the most specific one for the method (literal segments beat `{param}`s, earlier
//!   segments first, as API Gateway chooses); a path no route has is 404 `route_not_found`, a path
//!   that has routes for other methods only is 405 `method_not_allowed` with `Allow`;
//! - a `request` span carries the method, route, path, API Gateway's request id, Lambda's request id
//!   and the organization (when the token names a valid one), so every log line of the request has
//!   them;
//! - every error becomes the one error body ([`ApiError`]); a 5xx is logged with its code and
//!   cause and its body carries `requestId` instead of any inside detail.
//!
//! A handler is an `async fn(&State, &Req) -> Reply`: it turns the request into a service call and
//! the result into a response.

use std::future::Future;
use std::ops::Deref;
use std::pin::Pin;

use chrono::{DateTime, Utc};
use lambda_http::http::{Method, StatusCode};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use serde::de::DeserializeOwned;
use serde_json::json;
use tracing::field::Empty;
use tracing::Instrument;

use super::request::{self, org_id};
use super::ApiError;
use crate::domain::setup::OrgId;

/// What a handler answers: a response, or the error the edge turns into the error body.
pub type Reply = Result<Response<Body>, ApiError>;

/// The future of a handler, boxed so handlers of one router share a type.
pub type ReplyFuture<'a> = Pin<Box<dyn Future<Output = Reply> + Send + 'a>>;

/// A request handler: any `async fn(&S, &Req) -> Reply` (and any function of that shape).
pub trait Handler<'a, S: 'a>: Send + Sync {
    fn call(&self, state: &'a S, req: &'a Req) -> ReplyFuture<'a>;
}

impl<'a, S: 'a, F, Fut> Handler<'a, S> for F
where
    F: Fn(&'a S, &'a Req) -> Fut + Send + Sync,
    Fut: Future<Output = Reply> + Send + 'a,
{
    fn call(&self, state: &'a S, req: &'a Req) -> ReplyFuture<'a> {
        Box::pin(self(state, req))
    }
}

/// One request as a handler sees it: the API Gateway request (through `Deref`), the path
/// parameters of its route, the time it is handled at, and the request id.
pub struct Req {
    request: Request,
    params: Vec<(&'static str, String)>,
    now: DateTime<Utc>,
    request_id: Option<String>,
}

impl Deref for Req {
    type Target = Request;
    fn deref(&self) -> &Request {
        &self.request
    }
}

impl Req {
    /// A path parameter of the route (`id` of `/v1/cases/{id}`). Asking for a name the route does
    /// not have is a mistake in the function: 500, logged.
    pub fn param(&self, name: &str) -> Result<&str, ApiError> {
        self.params
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
            .ok_or_else(|| {
                ApiError::internal().because(format!("the route has no parameter `{name}`"))
            })
    }
    /// When the request is handled (given by the caller of [`Router::serve`]).
    pub fn now(&self) -> DateTime<Utc> {
        self.now
    }
    /// API Gateway's request id (`requestContext.requestId`), also in the `request` span.
    pub fn request_id(&self) -> Option<&str> {
        self.request_id.as_deref()
    }
    /// The organization from the JWT claims (401 without one).
    pub fn org(&self) -> Result<OrgId, ApiError> {
        org_id(&self.request)
    }
    /// The acting user, the JWT's `sub` (401 without one).
    pub fn user(&self) -> Result<String, ApiError> {
        request::user_id(&self.request)
    }
    /// The JSON body (400 naming the field when it does not fit `T`).
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, ApiError> {
        request::parse_json(&self.request)
    }
    /// An optional JSON body: empty means `T::default()`.
    pub fn json_or_default<T: DeserializeOwned + Default>(&self) -> Result<T, ApiError> {
        request::parse_json_or_default(&self.request)
    }
    /// No input: an empty body or `{}`.
    pub fn no_body(&self) -> Result<(), ApiError> {
        request::no_body(&self.request)
    }
    /// A query-string parameter.
    pub fn query(&self, name: &str) -> Option<String> {
        request::query_param(&self.request, name)
    }
    /// The query string's parameters as (name, value) pairs.
    pub fn query_pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.request
            .query_string_parameters_ref()
            .into_iter()
            .flat_map(|q| q.iter())
    }
    /// A header's value, when it is text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.request
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(&'static str),
    Param(&'static str),
}

/// A route's path, `/v1/accounts/{id}/integration`.
#[derive(Debug)]
struct Pattern {
    text: &'static str,
    segments: Vec<Segment>,
}

impl Pattern {
    fn parse(text: &'static str) -> Result<Pattern, String> {
        let rest = text
            .strip_prefix('/')
            .ok_or_else(|| "a path starts with `/`".to_string())?;
        let mut segments = Vec::new();
        for s in rest.split('/') {
            let segment = match s.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(name) if is_name(name) => Segment::Param(name),
                Some(name) => return Err(format!("`{{{name}}}` is not a parameter name")),
                None if !s.is_empty() && !s.contains(['{', '}']) => Segment::Literal(s),
                None => return Err(format!("`{s}` is not a path segment")),
            };
            if let Segment::Param(name) = &segment {
                if segments.contains(&segment) {
                    return Err(format!("the parameter `{name}` occurs twice"));
                }
            }
            segments.push(segment);
        }
        Ok(Pattern { text, segments })
    }

    /// The path parameters when `path` (split into segments) is this pattern's.
    fn matches(&self, path: &[&str]) -> Option<Vec<(&'static str, String)>> {
        if path.len() != self.segments.len() {
            return None;
        }
        let mut params = Vec::new();
        for (segment, part) in self.segments.iter().zip(path) {
            match segment {
                Segment::Literal(l) if l == part => {}
                Segment::Param(name) if !part.is_empty() => params.push((*name, part.to_string())),
                _ => return None,
            }
        }
        Some(params)
    }

    /// Literal segments rank above parameters, the first segments first (greater is more specific).
    fn specificity(&self) -> Vec<bool> {
        self.segments
            .iter()
            .map(|s| matches!(s, Segment::Literal(_)))
            .collect()
    }

    /// The same paths as `other` (parameter names aside).
    fn same_shape(&self, other: &Pattern) -> bool {
        self.segments.len() == other.segments.len()
            && self
                .segments
                .iter()
                .zip(&other.segments)
                .all(|pair| match pair {
                    (Segment::Literal(a), Segment::Literal(b)) => a == b,
                    (Segment::Param(_), Segment::Param(_)) => true,
                    _ => false,
                })
    }
}

fn is_name(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

type BoxedHandler<S> = Box<dyn for<'a> Handler<'a, S>>;

struct Route<S> {
    method: Method,
    pattern: Pattern,
    handler: BoxedHandler<S>,
}

/// The routes of one HTTP function. Build it once (e.g. in a `LazyLock`); a route that is not a
/// well-formed path, or that is declared twice, panics there, which any test of the function
/// shows.
pub struct Router<S> {
    routes: Vec<Route<S>>,
}

impl<S: Sync + 'static> Default for Router<S> {
    fn default() -> Self {
        Self::new()
    }
}

impl<S: Sync + 'static> Router<S> {
    pub fn new() -> Self {
        Router { routes: Vec::new() }
    }

    pub fn get<H: for<'a> Handler<'a, S> + 'static>(self, path: &'static str, h: H) -> Self {
        self.route(Method::GET, path, h)
    }
    pub fn post<H: for<'a> Handler<'a, S> + 'static>(self, path: &'static str, h: H) -> Self {
        self.route(Method::POST, path, h)
    }
    pub fn put<H: for<'a> Handler<'a, S> + 'static>(self, path: &'static str, h: H) -> Self {
        self.route(Method::PUT, path, h)
    }
    pub fn patch<H: for<'a> Handler<'a, S> + 'static>(self, path: &'static str, h: H) -> Self {
        self.route(Method::PATCH, path, h)
    }
    pub fn delete<H: for<'a> Handler<'a, S> + 'static>(self, path: &'static str, h: H) -> Self {
        self.route(Method::DELETE, path, h)
    }

    /// Adds `method path` → `handler`.
    pub fn route<H: for<'a> Handler<'a, S> + 'static>(
        mut self,
        method: Method,
        path: &'static str,
        handler: H,
    ) -> Self {
        let pattern = match Pattern::parse(path) {
            Ok(p) => p,
            Err(e) => panic!("route {method} {path}: {e}"),
        };
        if let Some(twin) = self
            .routes
            .iter()
            .find(|r| r.method == method && r.pattern.same_shape(&pattern))
        {
            panic!(
                "route {method} {path} is declared twice (also as {})",
                twin.pattern.text
            );
        }
        self.routes.push(Route {
            method,
            pattern,
            handler: Box::new(handler),
        });
        self
    }

    /// The routes as API Gateway route keys (`GET /v1/accounts/{id}`), in declaration order: what
    /// template.yaml must route to the function.
    pub fn route_keys(&self) -> Vec<String> {
        self.routes
            .iter()
            .map(|r| format!("{} {}", r.method, r.pattern.text))
            .collect()
    }

    /// Handles one request: finds its route, runs the handler within the request span and turns
    /// every error into the error body. Never fails. `now` is the time the handler sees.
    pub async fn serve(&self, state: &S, request: Request, now: DateTime<Utc>) -> Response<Body> {
        let method = request.method().clone();
        let path = request_path(&request);
        let request_id = gateway_request_id(&request);
        let span = tracing::info_span!(
            "request",
            %method,
            %path,
            route = Empty,
            request_id = Empty,
            lambda_request_id = Empty,
            org = Empty,
        );
        if let Some(id) = &request_id {
            span.record("request_id", id.as_str());
        }
        if let Some(ctx) = request.lambda_context_ref() {
            span.record("lambda_request_id", ctx.request_id.as_str());
        }
        if let Ok(org) = org_id(&request) {
            span.record("org", org.as_str());
        }
        let reply = async {
            let (route, params) = self.find(&method, &path)?;
            tracing::Span::current().record("route", route.pattern.text);
            let req = Req {
                request,
                params,
                now,
                request_id: request_id.clone(),
            };
            route.handler.call(state, &req).await
        };
        async {
            let response = match reply.await {
                Ok(response) => response,
                Err(e) => error_response(e, request_id.as_deref()),
            };
            tracing::info!(status = response.status().as_u16(), "handled");
            response
        }
        .instrument(span)
        .await
    }

    /// The route for `method path`: the most specific of those with the method; 404 when no route
    /// has the path, 405 with `Allow` when only other methods do.
    fn find(
        &self,
        method: &Method,
        path: &str,
    ) -> Result<(&Route<S>, Vec<(&'static str, String)>), ApiError> {
        let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
        let mut best: Option<(&Route<S>, Vec<(&'static str, String)>)> = None;
        let mut allowed: Vec<&Method> = Vec::new();
        for route in &self.routes {
            let Some(params) = route.pattern.matches(&parts) else {
                continue;
            };
            if route.method != *method {
                allowed.push(&route.method);
                continue;
            }
            let better = best
                .as_ref()
                .is_none_or(|(b, _)| route.pattern.specificity() > b.pattern.specificity());
            if better {
                best = Some((route, params));
            }
        }
        if let Some(found) = best {
            return Ok(found);
        }
        if allowed.is_empty() {
            return Err(ApiError::unknown_route(path));
        }
        allowed.sort_by_key(|m| method_rank(m));
        allowed.dedup();
        let allowed: Vec<&str> = allowed.iter().map(|m| m.as_str()).collect();
        Err(ApiError::method_not_allowed(&allowed))
    }
}

/// `Allow` lists methods in this order whatever the order of declaration.
fn method_rank(m: &Method) -> (usize, String) {
    let known = [
        Method::GET,
        Method::HEAD,
        Method::POST,
        Method::PUT,
        Method::PATCH,
        Method::DELETE,
    ];
    let rank = known.iter().position(|k| k == m).unwrap_or(known.len());
    (rank, m.as_str().to_string())
}

/// The error body; a 5xx is logged (code, cause) in the request span and answers `requestId`.
fn error_response(e: ApiError, request_id: Option<&str>) -> Response<Body> {
    if !e.status.is_server_error() {
        return e.into_response();
    }
    let status = e.status.as_u16();
    let cause = e.cause.as_deref();
    if e.status == StatusCode::SERVICE_UNAVAILABLE {
        tracing::warn!(status, code = %e.code, cause, "request failed");
    } else {
        tracing::error!(status, code = %e.code, cause, "request failed");
    }
    let e = match request_id {
        Some(id) => e.with("requestId", json!(id)),
        None => e,
    };
    e.into_response()
}

/// API Gateway's id of the request (`requestContext.requestId`).
fn gateway_request_id(req: &Request) -> Option<String> {
    match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx.request_id.clone(),
        _ => None,
    }
    .filter(|id| !id.is_empty())
}

/// The path the routes see: the event's `rawPath` (the URI's path if the event has none) without
/// a named stage's `/{stage}` prefix. API Gateway HTTP API (payload 2.0) serves a named stage
/// under `/{stage}/…` and keeps that prefix in `rawPath`; the `$default` stage has no prefix.
fn request_path(req: &Request) -> String {
    let raw = match req.raw_http_path() {
        "" => req.uri().path(),
        raw => raw,
    };
    let stage = match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx.stage.as_deref(),
        _ => None,
    };
    match stage {
        Some(stage) if stage != "$default" && !stage.is_empty() => {
            match raw.strip_prefix('/').and_then(|r| r.strip_prefix(stage)) {
                Some("") => "/".to_string(),
                Some(rest) if rest.starts_with('/') => rest.to_string(),
                _ => raw.to_string(),
            }
        }
        _ => raw.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use lambda_http::http::header;
    use serde_json::Value;
    use tracing::instrument::WithSubscriber;

    use super::*;
    use crate::http::json_response;

    /// The handlers' state: what they saw.
    #[derive(Default)]
    struct Seen(Mutex<Vec<String>>);

    async fn show(seen: &Seen, req: &Req) -> Reply {
        let line = format!(
            "{} {:?} {:?} {}",
            req.method(),
            req.param("id").ok(),
            req.param("nid").ok(),
            req.now().format("%Y-%m-%d"),
        );
        seen.0.lock().unwrap().push(line.clone());
        Ok(json_response(StatusCode::OK, &json!({ "saw": line })))
    }

    async fn mine(_: &Seen, _: &Req) -> Reply {
        Ok(json_response(StatusCode::OK, &json!({ "route": "mine" })))
    }

    async fn refuse(_: &Seen, req: &Req) -> Reply {
        let _org = req.org()?;
        Err(ApiError::unprocessable("not_today", "not today").with_field("date"))
    }

    async fn fail(_: &Seen, _: &Req) -> Reply {
        Err(ApiError::internal().because("table inndrive-test: connection reset"))
    }

    async fn typo(_: &Seen, req: &Req) -> Reply {
        req.param("idd")?;
        Ok(json_response(StatusCode::OK, &json!({})))
    }

    fn router() -> Router<Seen> {
        Router::new()
            .get("/v1/accounts/{id}", show)
            .delete("/v1/accounts/{id}", show)
            .get("/v1/accounts/mine", mine)
            .post("/v1/accounts/{id}/notes/{nid}/seen", show)
            .post("/v1/refuse", refuse)
            .get("/v1/refuse", show)
            .put("/v1/fail", fail)
            .get("/v1/typo/{id}", typo)
    }

    /// A payload 2.0 event as API Gateway sends it for `stage`.
    fn event(method: &str, raw_path: &str, stage: &str, org: Option<&str>) -> Request {
        let mut ctx = json!({
            "accountId": "1", "apiId": "a", "domainName": "x", "domainPrefix": "x",
            "http": {"method": method, "path": raw_path, "protocol": "HTTP/1.1",
                     "sourceIp": "127.0.0.1", "userAgent": "t"},
            "requestId": "Zx1Req-Id=", "routeKey": "$default", "stage": stage,
            "time": "10/Mar/2026:09:00:00 +0000", "timeEpoch": 0
        });
        if let Some(org) = org {
            ctx["authorizer"] =
                json!({"jwt": {"claims": {"org": org, "sub": "u1"}, "scopes": null}});
        }
        let ev = json!({
            "version": "2.0", "routeKey": "$default", "rawPath": raw_path, "rawQueryString": "",
            "headers": {"content-type": "application/json"}, "requestContext": ctx,
            "isBase64Encoded": false
        });
        lambda_http::request::from_str(&ev.to_string()).unwrap()
    }

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-03-10T09:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    async fn call(method: &str, path: &str, stage: &str) -> (u16, Value, Response<Body>) {
        let seen = Seen::default();
        let r = router()
            .serve(&seen, event(method, path, stage, Some("org_acme")), now())
            .await;
        let body = serde_json::from_slice(r.body().as_ref()).unwrap_or(Value::Null);
        (r.status().as_u16(), body, r)
    }

    #[tokio::test]
    async fn routes_by_method_and_path_with_parameters() {
        let (s, v, _) = call("GET", "/v1/accounts/acc_1", "$default").await;
        assert_eq!(
            (s, v["saw"].as_str()),
            (200, Some(r#"GET Some("acc_1") None 2026-03-10"#))
        );
        let (_, v, _) = call("POST", "/v1/accounts/acc_1/notes/n.2/seen", "$default").await;
        assert_eq!(v["saw"], r#"POST Some("acc_1") Some("n.2") 2026-03-10"#);
        // A trailing slash is the same path.
        let (s, _, _) = call("GET", "/v1/accounts/acc_1/", "$default").await;
        assert_eq!(s, 200);
    }

    #[tokio::test]
    async fn a_literal_segment_beats_a_parameter() {
        let (_, v, _) = call("GET", "/v1/accounts/mine", "$default").await;
        assert_eq!(v["route"], "mine");
        // The literal route has no DELETE: the parameter route takes it, as API Gateway would.
        let (s, v, _) = call("DELETE", "/v1/accounts/mine", "$default").await;
        assert_eq!(
            (s, v["saw"].as_str()),
            (200, Some(r#"DELETE Some("mine") None 2026-03-10"#))
        );
    }

    #[tokio::test]
    async fn unknown_paths_are_404_and_other_methods_405_with_allow() {
        for path in [
            "/v1/nothing",
            "/v1/accounts",
            "/v1/accounts//notes/n/seen",
            "/",
        ] {
            let (s, v, _) = call("GET", path, "$default").await;
            assert_eq!(
                (s, v["error"]["code"].as_str()),
                (404, Some("route_not_found")),
                "{path}"
            );
            assert_eq!(v["error"]["field"], Value::Null);
        }
        let (s, v, r) = call("PATCH", "/v1/accounts/acc_1", "$default").await;
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (405, Some("method_not_allowed"))
        );
        // Declared DELETE before GET for this path elsewhere; `Allow` has one order.
        assert_eq!(r.headers()[header::ALLOW], "GET, DELETE");
        assert_eq!(v["error"]["allowed"], json!(["GET", "DELETE"]));
        let (_, _, r) = call("DELETE", "/v1/refuse", "$default").await;
        assert_eq!(r.headers()[header::ALLOW], "GET, POST");
    }

    #[tokio::test]
    async fn a_named_stage_prefix_is_not_part_of_the_path() {
        // API Gateway keeps a named stage in rawPath; the routes never name it.
        let (s, v, _) = call("GET", "/prod/v1/accounts/acc_1", "prod").await;
        assert_eq!(
            (s, v["saw"].as_str()),
            (200, Some(r#"GET Some("acc_1") None 2026-03-10"#))
        );
        // Only a whole first segment equal to the stage is the prefix.
        let (s, v, _) = call("GET", "/production/v1/accounts/acc_1", "prod").await;
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (404, Some("route_not_found"))
        );
        assert_eq!(
            v["error"]["message"],
            "no such resource: /production/v1/accounts/acc_1"
        );
        // `$default` has no prefix: a first segment named like it is a path segment.
        let (s, _, _) = call("GET", "/$default/v1/accounts/acc_1", "$default").await;
        assert_eq!(s, 404);
        let (s, _, _) = call("GET", "/v1/accounts/acc_1", "$default").await;
        assert_eq!(s, 200);
        assert_eq!(request_path(&event("GET", "/prod", "prod", None)), "/");
    }

    #[tokio::test]
    async fn handler_errors_become_the_error_body() {
        let (s, v, _) = call("POST", "/v1/refuse", "$default").await;
        assert_eq!(s, 422);
        assert_eq!(
            v,
            json!({"error": {"code": "not_today", "message": "not today", "field": "date"}}),
            "a 4xx carries no request id and nothing else"
        );
        let seen = Seen::default();
        let r = router()
            .serve(&seen, event("POST", "/v1/refuse", "$default", None), now())
            .await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }

    /// Every log line the code wrote while `f` ran, as JSON lines.
    async fn logs_of<F: Future>(f: F) -> (F::Output, String) {
        #[derive(Clone)]
        struct Capture(Arc<Mutex<Vec<u8>>>);
        impl std::io::Write for Capture {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let buf = Arc::new(Mutex::new(Vec::new()));
        let writer = Capture(buf.clone());
        let subscriber = tracing_subscriber::fmt()
            .json()
            .with_current_span(true)
            .with_max_level(tracing::Level::INFO)
            .with_writer(move || writer.clone())
            .finish();
        let out = f.with_subscriber(subscriber).await;
        let text = String::from_utf8_lossy(&buf.lock().unwrap()).to_string();
        (out, text)
    }

    fn line_with<'a>(logs: &'a str, needle: &str) -> Value {
        let line = logs
            .lines()
            .find(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no log line with {needle}: {logs}"));
        serde_json::from_str(line).unwrap()
    }

    #[tokio::test]
    async fn a_5xx_is_logged_with_the_request_id_and_answers_it_without_the_cause() {
        let ((s, v, _), logs) = logs_of(call("PUT", "/v1/fail", "$default")).await;
        assert_eq!(s, 500);
        assert_eq!(v["error"]["code"], "internal_error");
        assert_eq!(v["error"]["requestId"], "Zx1Req-Id=");
        assert!(!v.to_string().contains("connection reset"), "{v}");
        let failed = line_with(&logs, "request failed");
        assert_eq!(failed["level"], "ERROR");
        assert_eq!(failed["fields"]["code"], "internal_error");
        assert_eq!(
            failed["fields"]["cause"],
            "table inndrive-test: connection reset"
        );
        assert_eq!(failed["span"]["request_id"], "Zx1Req-Id=");
        assert_eq!(failed["span"]["route"], "/v1/fail");
        assert_eq!(failed["span"]["org"], "org_acme");
        assert_eq!(failed["span"]["method"], "PUT");
    }

    #[tokio::test]
    async fn every_request_is_logged_in_its_span() {
        let (_, logs) = logs_of(call("GET", "/prod/v1/accounts/acc_7", "prod")).await;
        let handled = line_with(&logs, "handled");
        assert_eq!(handled["fields"]["status"], 200);
        assert_eq!(handled["span"]["request_id"], "Zx1Req-Id=");
        assert_eq!(handled["span"]["route"], "/v1/accounts/{id}");
        assert_eq!(handled["span"]["path"], "/v1/accounts/acc_7");
        assert_eq!(handled["span"]["org"], "org_acme");
        // A 404 is logged too, with no route and no failure line.
        let ((s, _, _), logs) = logs_of(call("GET", "/v1/none", "$default")).await;
        assert_eq!(s, 404);
        assert_eq!(
            line_with(&logs, "handled")["span"]["request_id"],
            "Zx1Req-Id="
        );
        assert!(!logs.contains("request failed"), "{logs}");
    }

    #[tokio::test]
    async fn a_parameter_the_route_does_not_have_is_a_500() {
        let (s, v, _) = call("GET", "/v1/typo/x", "$default").await;
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (500, Some("internal_error"))
        );
    }

    #[test]
    fn the_route_keys_are_api_gateway_s() {
        assert_eq!(
            router().route_keys()[..3],
            [
                "GET /v1/accounts/{id}",
                "DELETE /v1/accounts/{id}",
                "GET /v1/accounts/mine"
            ]
        );
    }

    #[test]
    #[should_panic(expected = "declared twice")]
    fn a_route_declared_twice_is_refused() {
        let _ = Router::<Seen>::new()
            .get("/v1/cases/{id}", show)
            .get("/v1/cases/{case}", show);
    }

    #[test]
    fn malformed_paths_are_refused() {
        for path in [
            "v1/x",
            "/v1//x",
            "/v1/{}",
            "/v1/{a-b}",
            "/v1/x{y}",
            "/v1/{id}/{id}",
            "/v1/{p+}",
        ] {
            let result = std::panic::catch_unwind(|| Router::<Seen>::new().get(path, show));
            assert!(result.is_err(), "{path}");
        }
    }
}
