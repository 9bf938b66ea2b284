//! cases-api: the HTTP routes of collection cases (API Gateway HTTP API, payload 2.0, JWT
//! authorizer). Each handler turns a request into a service call and its result into a response;
//! the behaviour is in `shared::services::cases`, routing, the request span and the error body in
//! the shared edge (`shared::http::Router`). The organization comes from the JWT claim `org`, the
//! acting user from `sub`; a case of another organization answers 404 like one that does not
//! exist.
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
//! | `GET /v1/accounts/{id}/settlements` | each settlement: split, voucher in Tripletex, status (`posted`, `held` with the reason and fix, `reversed`, …) |
//! | `POST /v1/accounts/{id}/settlements/{sid}/retry` | a held settlement back to the posting worker → 202 |
//!
//! The settlements live here rather than in integration-setup: they are a case's money story
//! (the case timeline shows `settled` and `voucherPosted`), and this function already has the
//! table and the JWT edge; the retry needs only SQS send on the voucher-posting queue, so the
//! function still holds no Secrets Manager right and never talks to Tripletex (the posting
//! itself stays in the voucher-posting worker, one exactly-once path).
//! | `POST /v1/cases/{id}/objection` | `{text, receivedOn, channel, version?}` → 201 |
//! | `POST /v1/cases/{id}/objection/assess` | `{outcome: groundless\|justified, reason, objectionId?, version?}` |
//! | `POST /v1/cases/{id}/objection/corrected` | `{note, objectionId?, version?}` |
//! | `POST /v1/cases/{id}/acknowledgement` | `{on, note, version?}` → 201 |
//! | `POST /v1/cases/{id}/legal-steps/filed` | `{route: utlegg\|forliksklage, filedOn, documentId?, version?}` → 201 |
//! | `GET /v1/limitation` | `within` (days, default 90): the organization's claims nearing limitation |
//!
//! The case answers carry `legal`: readiness (the route and why, or what is missing), the
//! limitation, objections, acknowledgements, the step filed and the drafted documents. A legal
//! command that names the case version it read (`version`, or `If-Match`) is refused with 409
//! `version_conflict` when the case changed since.

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde_json::json;

use shared::domain::case::{CaseError, CaseState};
use shared::http::{json_response, ApiError, Reply, Req, Router};
use shared::services::cases::{
    norwegian_date, parse_within, CaseCommand, CaseQuery, CasesError, CasesService,
};
use shared::services::settlements::SettlementsError;

/// The routes (template.yaml routes the same ones to this function).
pub static ROUTER: LazyLock<Router<CasesService>> = LazyLock::new(|| {
    Router::new()
        .get("/v1/accounts/{id}/cases", list)
        .get("/v1/cases/{id}", detail)
        .post("/v1/cases/{id}/pause", pause)
        .post("/v1/cases/{id}/resume", resume)
        .post("/v1/cases/{id}/close", close)
        .post("/v1/cases/{id}/reopen", reopen)
        .post("/v1/cases/{id}/notes", note)
        .get("/v1/accounts/{id}/settlements", settlements)
        .post(
            "/v1/accounts/{id}/settlements/{sid}/retry",
            retry_settlement,
        )
        .post("/v1/cases/{id}/objection", objection)
        .post("/v1/cases/{id}/objection/assess", assess)
        .post("/v1/cases/{id}/objection/corrected", corrected)
        .post("/v1/cases/{id}/acknowledgement", acknowledgement)
        .post("/v1/cases/{id}/legal-steps/filed", filed)
        .get("/v1/limitation", limitation)
});

/// Handles one request. Never fails: every error is an answer. `now` comes from the caller.
pub async fn handle(
    svc: &CasesService,
    req: Request,
    now: DateTime<Utc>,
) -> Result<Response<Body>, lambda_http::Error> {
    Ok(ROUTER.serve(svc, req, now).await)
}

async fn list(svc: &CasesService, req: &Req) -> Reply {
    let org = req.org()?;
    let query = CaseQuery::parse(req.query_pairs()).map_err(to_api)?;
    let list = svc
        .list(&org, req.param("id")?, &query)
        .await
        .map_err(to_api)?;
    Ok(json_response(StatusCode::OK, &list))
}

async fn detail(svc: &CasesService, req: &Req) -> Reply {
    let org = req.org()?;
    let detail = svc
        .get(&org, req.param("id")?, norwegian_date(req.now()))
        .await
        .map_err(to_api)?;
    Ok(json_response(StatusCode::OK, &detail))
}

async fn settlements(svc: &CasesService, req: &Req) -> Reply {
    let org = req.org()?;
    let list = svc
        .settlements()
        .list(&org, req.param("id")?)
        .await
        .map_err(settlements_error)?;
    Ok(json_response(
        StatusCode::OK,
        &json!({ "settlements": list }),
    ))
}

async fn retry_settlement(svc: &CasesService, req: &Req) -> Reply {
    let org = req.org()?;
    req.no_body()?;
    let view = svc
        .settlements()
        .retry(&org, req.param("id")?, req.param("sid")?, req.now())
        .await
        .map_err(settlements_error)?;
    Ok(json_response(StatusCode::ACCEPTED, &view))
}

/// Maps the settlements' errors to HTTP answers.
pub fn settlements_error(e: SettlementsError) -> ApiError {
    match e {
        SettlementsError::AccountNotFound => {
            ApiError::not_found("account_not_found", "no such account")
        }
        SettlementsError::NotFound => {
            ApiError::not_found("settlement_not_found", "no such settlement").with_field("sid")
        }
        SettlementsError::NotHeld(status) => ApiError::conflict(
            "settlement_not_held",
            format!("the settlement is {status}, not held: there is nothing to retry"),
        )
        .with("status", json!(status)),
        SettlementsError::Concurrent => ApiError::conflict(
            "concurrent_modification",
            "the settlement changed meanwhile; read it again",
        ),
        SettlementsError::NoQueue | SettlementsError::Queue(_) => ApiError::unavailable(
            "temporarily_unavailable",
            "the retry could not be queued; try again shortly",
            5,
        )
        .because(e.to_string()),
        SettlementsError::Store(e) => ApiError::internal().because(format!("storage failed: {e}")),
    }
}

async fn limitation(svc: &CasesService, req: &Req) -> Reply {
    let org = req.org()?;
    let within = parse_within(req.query_pairs()).map_err(to_api)?;
    let view = svc
        .limitation(&org, within, norwegian_date(req.now()))
        .await
        .map_err(to_api)?;
    Ok(json_response(StatusCode::OK, &view))
}

async fn objection(svc: &CasesService, req: &Req) -> Reply {
    command(
        svc,
        req,
        CaseCommand::Objection(req.json()?),
        StatusCode::CREATED,
    )
    .await
}

async fn assess(svc: &CasesService, req: &Req) -> Reply {
    command(svc, req, CaseCommand::Assess(req.json()?), StatusCode::OK).await
}

async fn corrected(svc: &CasesService, req: &Req) -> Reply {
    command(
        svc,
        req,
        CaseCommand::Corrected(req.json()?),
        StatusCode::OK,
    )
    .await
}

async fn acknowledgement(svc: &CasesService, req: &Req) -> Reply {
    command(
        svc,
        req,
        CaseCommand::Acknowledge(req.json()?),
        StatusCode::CREATED,
    )
    .await
}

async fn filed(svc: &CasesService, req: &Req) -> Reply {
    command(
        svc,
        req,
        CaseCommand::Filed(req.json()?),
        StatusCode::CREATED,
    )
    .await
}

async fn pause(svc: &CasesService, req: &Req) -> Reply {
    command(svc, req, CaseCommand::Pause(req.json()?), StatusCode::OK).await
}

async fn resume(svc: &CasesService, req: &Req) -> Reply {
    req.no_body()?;
    command(svc, req, CaseCommand::Resume, StatusCode::OK).await
}

async fn close(svc: &CasesService, req: &Req) -> Reply {
    command(svc, req, CaseCommand::Close(req.json()?), StatusCode::OK).await
}

async fn reopen(svc: &CasesService, req: &Req) -> Reply {
    command(
        svc,
        req,
        CaseCommand::Reopen(req.json_or_default()?),
        StatusCode::OK,
    )
    .await
}

async fn note(svc: &CasesService, req: &Req) -> Reply {
    command(
        svc,
        req,
        CaseCommand::Note(req.json()?),
        StatusCode::CREATED,
    )
    .await
}

/// A command on the case `{id}` by the token's user; answers the case with `status`.
async fn command(svc: &CasesService, req: &Req, command: CaseCommand, status: StatusCode) -> Reply {
    let org = req.org()?;
    let user = req.user()?;
    let now = req.now();
    let expected = if_match(req)?;
    let detail = svc
        .command(
            &org,
            req.param("id")?,
            &user,
            command,
            expected,
            norwegian_date(now),
            now,
        )
        .await
        .map_err(to_api)?;
    Ok(json_response(status, &detail))
}

/// The case version in `If-Match` (`7` or `"7"`), if given.
fn if_match(req: &Req) -> Result<Option<u64>, ApiError> {
    let Some(v) = req.header("if-match") else {
        return Ok(None);
    };
    v.trim()
        .trim_start_matches("W/")
        .trim_matches('"')
        .parse()
        .map(Some)
        .map_err(|_| {
            ApiError::bad_request(
                "invalid_if_match",
                "If-Match is the case version (a number)",
            )
            .with_field("If-Match")
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
        CasesError::VersionConflict { expected, current } => ApiError::conflict(
            "version_conflict",
            format!(
                "the case changed since version {expected}: reload it (it is at version {current})"
            ),
        )
        .with("currentVersion", json!(current)),
        CasesError::UnknownDocument(d) => ApiError::unprocessable(
            "unknown_document",
            format!("the case has no legal document {d:?}"),
        )
        .with_field("documentId"),
        CasesError::Case(ce) => case_error(ce),
        CasesError::Store(e) => ApiError::internal().because(format!("storage failed: {e}")),
    }
}

fn case_error(e: CaseError) -> ApiError {
    let status = match &e {
        CaseError::InvalidTransition { .. }
        | CaseError::ClaimNotCollectible { .. }
        | CaseError::NotOverdue { .. }
        | CaseError::ClaimNotMirrored
        | CaseError::ObjectionAlreadyAssessed { .. }
        | CaseError::ObjectionNotJustified { .. }
        | CaseError::NoObjectionIn(_)
        | CaseError::AlreadyFiled { .. } => StatusCode::CONFLICT,
        CaseError::InvalidCaseId(_) | CaseError::ObjectionNotFound { .. } => StatusCode::NOT_FOUND,
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
