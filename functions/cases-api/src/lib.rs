//! cases-api: the HTTP routes of collection cases (API Gateway HTTP API, payload 2.0, JWT
//! authorizer). Request → service call → response; the behaviour is in
//! `shared::services::cases`. The organization comes from the JWT claim `org`, the acting user
//! from `sub`; a case of another organization answers 404 like one that does not exist.
//!
//! | Route | |
//! |---|---|
//! | `GET /v1/accounts/{id}/cases` | `status`, `customer`, `writtenOff`, `needsReview`, `limit`, `cursor` |
//! | `GET /v1/cases/{id}` | the case with its timeline, notes and claim (amounts, write-offs, evidence) |
//! | `POST /v1/cases/{id}/pause` | `{until, note}` |
//! | `POST /v1/cases/{id}/resume` | |
//! | `POST /v1/cases/{id}/close` | `{reason, text?, note?}` |
//! | `POST /v1/cases/{id}/reopen` | `{note?}` |
//! | `POST /v1/cases/{id}/notes` | `{text}` → 201 |

use chrono::{DateTime, Utc};
use lambda_http::http::{Method, StatusCode};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use serde::de::DeserializeOwned;
use serde_json::json;
use tracing::Instrument;

use shared::domain::case::{CaseError, CaseState};
use shared::http::{self as api, json_response, ApiError};
use shared::services::cases::{
    norwegian_date, CaseCommand, CaseQuery, CasesError, CasesService, ReopenRequest,
};

/// Handles one request. Never fails: every error is an answer. `now` comes from the caller.
pub async fn handle(
    svc: &CasesService,
    req: Request,
    now: DateTime<Utc>,
) -> Result<Response<Body>, lambda_http::Error> {
    let method = req.method().clone();
    let path = {
        let raw = req.raw_http_path();
        if raw.is_empty() {
            req.uri().path().to_string()
        } else {
            raw.to_string()
        }
    };
    let span = tracing::info_span!("request", %method, %path);
    async move {
        let response = match route(svc, &req, &method, &path, now).await {
            Ok(r) => r,
            Err(e) => {
                if e.status.is_server_error() {
                    tracing::warn!(code = %e.code, "request failed");
                }
                e.into_response()
            }
        };
        tracing::info!(status = response.status().as_u16(), "handled");
        Ok(response)
    }
    .instrument(span)
    .await
}

async fn route(
    svc: &CasesService,
    req: &Request,
    method: &Method,
    path: &str,
    now: DateTime<Utc>,
) -> Result<Response<Body>, ApiError> {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    match segments.as_slice() {
        ["v1", "accounts", id, "cases"] => match *method {
            Method::GET => {
                let org = api::org_id(req)?;
                let params = req.query_string_parameters();
                let pairs: Vec<(&str, &str)> = params.iter().collect();
                let query = CaseQuery::parse(pairs).map_err(to_api)?;
                let list = svc.list(&org, id, &query).await.map_err(to_api)?;
                Ok(json_response(StatusCode::OK, &list))
            }
            _ => Err(ApiError::method_not_allowed(&["GET"])),
        },
        ["v1", "cases", id] => match *method {
            Method::GET => {
                let org = api::org_id(req)?;
                let detail = svc.get(&org, id).await.map_err(to_api)?;
                Ok(json_response(StatusCode::OK, &detail))
            }
            _ => Err(ApiError::method_not_allowed(&["GET"])),
        },
        ["v1", "cases", id, action] => {
            if *method != Method::POST {
                return if matches!(*action, "pause" | "resume" | "close" | "reopen" | "notes") {
                    Err(ApiError::method_not_allowed(&["POST"]))
                } else {
                    Err(ApiError::unknown_route(path))
                };
            }
            let command = match *action {
                "pause" => CaseCommand::Pause(body(req)?),
                "resume" => {
                    no_body(req)?;
                    CaseCommand::Resume
                }
                "close" => CaseCommand::Close(body(req)?),
                "reopen" => CaseCommand::Reopen(optional_body::<ReopenRequest>(req)?),
                "notes" => CaseCommand::Note(body(req)?),
                _ => return Err(ApiError::unknown_route(path)),
            };
            let org = api::org_id(req)?;
            let user = user_id(req)?;
            let created = matches!(command, CaseCommand::Note(_));
            let detail = svc
                .command(&org, id, &user, command, norwegian_date(now), now)
                .await
                .map_err(to_api)?;
            let status = if created {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            Ok(json_response(status, &detail))
        }
        _ => Err(ApiError::unknown_route(path)),
    }
}

fn body<T: DeserializeOwned>(req: &Request) -> Result<T, ApiError> {
    api::parse_json(req)
}

/// An optional JSON body: empty means the default.
fn optional_body<T: DeserializeOwned + Default>(req: &Request) -> Result<T, ApiError> {
    if req.body().as_ref().iter().all(u8::is_ascii_whitespace) {
        Ok(T::default())
    } else {
        api::parse_json(req)
    }
}

/// `resume` takes no input: an empty body or `{}`.
fn no_body(req: &Request) -> Result<(), ApiError> {
    #[derive(serde::Deserialize, Default)]
    #[serde(deny_unknown_fields)]
    struct Empty {}
    optional_body::<Empty>(req).map(|_| ())
}

/// The acting user: the JWT's `sub`.
fn user_id(req: &Request) -> Result<String, ApiError> {
    let sub = match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx
            .authorizer
            .as_ref()
            .and_then(|a| a.jwt.as_ref())
            .and_then(|j| j.claims.get("sub"))
            .cloned(),
        _ => None,
    };
    sub.filter(|s| !s.trim().is_empty()).ok_or_else(|| {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "the token carries no user (claim `sub`)",
        )
    })
}

/// Service errors → HTTP answers.
pub fn to_api(e: CasesError) -> ApiError {
    match e {
        CasesError::AccountNotFound => ApiError::not_found("account_not_found", "no such account"),
        CasesError::CaseNotFound => ApiError::not_found("case_not_found", "no such case"),
        CasesError::BadCursor => {
            ApiError::bad_request("invalid_cursor", "the cursor is not one this API returned")
                .with_field("cursor")
        }
        CasesError::BadQuery { field, message } => {
            ApiError::bad_request("invalid_query", message).with_field(field)
        }
        CasesError::Contention => ApiError::conflict(
            "concurrent_modification",
            "the case changed several times while we updated it; try again",
        ),
        CasesError::Case(ce) => case_error(ce),
        CasesError::Store(e) => {
            tracing::error!(error = %e, "storage failed");
            ApiError::internal()
        }
    }
}

fn case_error(e: CaseError) -> ApiError {
    let status = match &e {
        CaseError::InvalidTransition { .. }
        | CaseError::ClaimNotCollectible { .. }
        | CaseError::NotOverdue { .. }
        | CaseError::ClaimNotMirrored => StatusCode::CONFLICT,
        CaseError::InvalidCaseId(_) => StatusCode::NOT_FOUND,
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    };
    let mut err = ApiError::new(status, e.code(), e.to_string());
    err.field = e.field().map(str::to_string);
    if let CaseError::InvalidTransition { from, .. } = &e {
        let state = match from {
            CaseState::Open => "open",
            CaseState::Paused => "paused",
            CaseState::Closed => "closed",
        };
        err = err.with("state", json!(state));
    }
    err
}
