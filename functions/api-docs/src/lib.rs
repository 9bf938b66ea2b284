//! api-docs: the HTTP API's contract. `GET /v1/openapi.json` serves the OpenAPI 3.1 document of
//! every route of every HTTP function, without a token (API Gateway's `Authorizer: NONE`);
//! `GET /v1/docs` serves a page that renders it for people.
//!
//! The document is not written here: each HTTP function's library declares its part
//! (`ApiDoc`, from `#[utoipa::path]` on its handlers and `ToSchema` on the request and response
//! types), and [`document`] joins the parts with the shared error body and JWT scheme
//! (`shared::http::openapi`). It is built once per process.

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use lambda_http::http::{header, HeaderValue, StatusCode};
use lambda_http::{Body, Request, Response};
use serde_json::Value;
use utoipa::OpenApi;

use shared::http::{json_response, Reply, Req, Router};

/// The document's own routes: public (the only ones without the JWT).
#[derive(OpenApi)]
#[openapi(
    paths(openapi_json, docs_page),
    tags((name = "contract", description = "This document, and a page that renders it"))
)]
pub struct ApiDoc;

/// The whole document: every HTTP function's part, and this function's own.
pub fn document() -> utoipa::openapi::OpenApi {
    shared::http::openapi::document([
        integration_setup::ApiDoc::openapi(),
        cases_api::ApiDoc::openapi(),
        dunning_api::ApiDoc::openapi(),
        legal_documents::ApiDoc::openapi(),
        ApiDoc::openapi(),
    ])
}

/// What the handlers serve: the document as JSON, built once.
pub struct Contract {
    document: Value,
}

impl Contract {
    pub fn new() -> Self {
        Self {
            document: serde_json::to_value(document()).unwrap_or(Value::Null),
        }
    }
}

impl Default for Contract {
    fn default() -> Self {
        Self::new()
    }
}

/// The routes (template.yaml routes the same ones to this function, with `Authorizer: NONE`).
pub static ROUTER: LazyLock<Router<Contract>> = LazyLock::new(|| {
    Router::new()
        .get("/v1/openapi.json", openapi_json)
        .get("/v1/docs", docs_page)
});

/// Handles one request. Never fails: every error is an answer.
pub async fn handle(
    contract: &Contract,
    req: Request,
    now: DateTime<Utc>,
) -> Result<Response<Body>, lambda_http::Error> {
    Ok(ROUTER.serve(contract, req, now).await)
}

/// The OpenAPI 3.1 document of the whole API.
#[utoipa::path(
    get,
    path = "/v1/openapi.json",
    operation_id = "getOpenApiDocument",
    tag = "contract",
    summary = "This OpenAPI 3.1 document (no token needed)",
    security(()),
    responses((status = 200, description = "The document", content_type = "application/json", body = Object))
)]
async fn openapi_json(contract: &Contract, _req: &Req) -> Reply {
    Ok(json_response(StatusCode::OK, &contract.document))
}

/// A page that renders the document (Redoc, loaded from its CDN by the browser).
#[utoipa::path(
    get,
    path = "/v1/docs",
    operation_id = "getApiDocsPage",
    tag = "contract",
    summary = "The document, for people: an HTML page that renders it (no token needed)",
    security(()),
    responses((status = 200, description = "The page", content_type = "text/html", body = String))
)]
async fn docs_page(_contract: &Contract, _req: &Req) -> Reply {
    let mut response = Response::new(Body::from(DOCS_PAGE));
    *response.status_mut() = StatusCode::OK;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    Ok(response)
}

/// Relative `spec-url`: the page works under any stage prefix.
const DOCS_PAGE: &str = r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Inndrive API</title>
</head>
<body>
<redoc spec-url="openapi.json"></redoc>
<script src="https://cdn.redoc.ly/redoc/v2.5.1/bundles/redoc.standalone.js"></script>
</body>
</html>
"#;
