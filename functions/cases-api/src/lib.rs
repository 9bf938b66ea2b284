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
use shared::http::openapi::ErrorBody;
use shared::http::{json_response, ApiError, Reply, Req, Router};
use shared::services::cases::{
    norwegian_date, parse_within, CaseCommand, CaseQuery, CasesError, CasesService,
};
use shared::services::cases::{
    AcknowledgementRequest, AssessRequest, CaseDetail, CaseListView, CloseRequest,
    CorrectedRequest, FiledRequest, NoteRequest, ObjectionRequest, PauseRequest, ReopenRequest,
};
use shared::services::legal::radar::LimitationList;
use shared::services::settlements::{SettlementView, SettlementsError, SettlementsView};

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

/// This function's part of the OpenAPI document: its routes, as the handlers below declare them.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        list, detail, pause, resume, close, reopen, note, settlements, retry_settlement,
        objection, assess, corrected, acknowledgement, filed, limitation
    ),
    tags(
        (name = "cases", description = "Collection cases: one per overdue claim, with its timeline and legal state"),
        (name = "settlements", description = "How a payment was split into principal, interest and fees, and booked in Tripletex")
    )
)]
pub struct ApiDoc;

/// Handles one request. Never fails: every error is an answer. `now` comes from the caller.
pub async fn handle(
    svc: &CasesService,
    req: Request,
    now: DateTime<Utc>,
) -> Result<Response<Body>, lambda_http::Error> {
    Ok(ROUTER.serve(svc, req, now).await)
}

#[utoipa::path(
    get,
    path = "/v1/accounts/{id}/cases",
    operation_id = "listCases",
    tag = "cases",
    summary = "The account's collection cases, newest first",
    params(("id" = String, Path, description = "The account id.", pattern = "^acc_[0-9a-z]{26,40}$", example = "acc_0192f0c4a1b27f3e8c1d2e3f4a5b6c7d"), ("status" = Option<String>, Query, description = "open, paused or closed", pattern = "^(open|paused|closed)$"), ("customer" = Option<i64>, Query, description = "Only this Tripletex customer id", minimum = 1), ("writtenOff" = Option<bool>, Query, description = "Only cases whose claim was (not) written off in Tripletex"), ("needsReview" = Option<bool>, Query, description = "Only cases held for a person (sources disagree, a credit balance, …)"), ("limit" = Option<u32>, Query, description = "Page size (default 50)", minimum = 1, maximum = 100), ("cursor" = Option<String>, Query, description = "`nextCursor` of the previous page", min_length = 1, max_length = 2048)),
    responses((status = 200, description = "A page of cases", body = CaseListView, links(("GetCase" = (operation_id = "getCase", parameters(("id" = "$response.body#/cases/0/id")))), ("ListCaseNotices" = (operation_id = "listCaseNotices", parameters(("id" = "$response.body#/cases/0/id")))), ("ListLegalDocuments" = (operation_id = "listLegalDocuments", parameters(("id" = "$response.body#/cases/0/id")))), ("DraftLegalDocument" = (operation_id = "draftLegalDocument", parameters(("id" = "$response.body#/cases/0/id")))), ("AddCaseNote" = (operation_id = "addCaseNote", parameters(("id" = "$response.body#/cases/0/id")))), ("PauseCase" = (operation_id = "pauseCase", parameters(("id" = "$response.body#/cases/0/id")))), ("ResumeCase" = (operation_id = "resumeCase", parameters(("id" = "$response.body#/cases/0/id")))), ("RecordObjection" = (operation_id = "recordObjection", parameters(("id" = "$response.body#/cases/0/id")))), ("RecordAcknowledgement" = (operation_id = "recordAcknowledgement", parameters(("id" = "$response.body#/cases/0/id")))), ("CloseCase" = (operation_id = "closeCase", parameters(("id" = "$response.body#/cases/0/id")))), ("ReopenCase" = (operation_id = "reopenCase", parameters(("id" = "$response.body#/cases/0/id")))), ("AssessObjection" = (operation_id = "assessObjection", parameters(("id" = "$response.body#/cases/0/id")))), ("RecordCorrection" = (operation_id = "recordCorrection", parameters(("id" = "$response.body#/cases/0/id")))), ("RecordLegalStepFiled" = (operation_id = "recordLegalStepFiled", parameters(("id" = "$response.body#/cases/0/id")))))), (status = 400, description = "`invalid_query` (`field` names the parameter), `invalid_cursor`", body = ErrorBody), (status = 404, description = "`account_not_found`: no such account in the organization (another organization's account answers the same)", body = ErrorBody), (status = 500, description = "`internal_error`: our side failed; `requestId` names the log lines", body = ErrorBody))
)]
async fn list(svc: &CasesService, req: &Req) -> Reply {
    let org = req.org()?;
    let query = CaseQuery::parse(req.query_pairs()).map_err(to_api)?;
    let list = svc
        .list(&org, req.param("id")?, &query)
        .await
        .map_err(to_api)?;
    Ok(json_response(StatusCode::OK, &list))
}

#[utoipa::path(
    get,
    path = "/v1/cases/{id}",
    operation_id = "getCase",
    tag = "cases",
    summary = "One case: its status, claim (amounts, write-offs, evidence), timeline, notes and legal state",
    params(("id" = String, Path, description = "The case id: `{accountId}.case_{claim}`.", pattern = "^acc_[0-9a-z]{26,40}\\.case_[A-Za-z0-9_-]{1,80}$", example = "acc_0192f0c4a1b27f3e8c1d2e3f4a5b6c7d.case_inv_1001")),
    responses((status = 200, description = "The case", body = CaseDetail), (status = 404, description = "`case_not_found`: no such case in the organization (another organization's case answers the same)", body = ErrorBody), (status = 500, description = "`internal_error`: our side failed; `requestId` names the log lines", body = ErrorBody))
)]
async fn detail(svc: &CasesService, req: &Req) -> Reply {
    let org = req.org()?;
    let detail = svc
        .get(&org, req.param("id")?, norwegian_date(req.now()))
        .await
        .map_err(to_api)?;
    Ok(json_response(StatusCode::OK, &detail))
}

#[utoipa::path(
    get,
    path = "/v1/accounts/{id}/settlements",
    operation_id = "listSettlements",
    tag = "settlements",
    summary = "The account's settlements: how each payment was split and booked in Tripletex",
    params(("id" = String, Path, description = "The account id.", pattern = "^acc_[0-9a-z]{26,40}$", example = "acc_0192f0c4a1b27f3e8c1d2e3f4a5b6c7d")),
    responses((status = 200, description = "The settlements", body = SettlementsView, links(("RetrySettlement" = (operation_id = "retrySettlement", parameters(("id" = "$request.path.id"), ("sid" = "$response.body#/settlements/0/id")))))), (status = 404, description = "`account_not_found`: no such account in the organization (another organization's account answers the same)", body = ErrorBody), (status = 500, description = "`internal_error`: our side failed; `requestId` names the log lines", body = ErrorBody))
)]
async fn settlements(svc: &CasesService, req: &Req) -> Reply {
    let org = req.org()?;
    let list = svc
        .settlements()
        .list(&org, req.param("id")?)
        .await
        .map_err(settlements_error)?;
    Ok(json_response(
        StatusCode::OK,
        &SettlementsView { settlements: list },
    ))
}

#[utoipa::path(
    post,
    path = "/v1/accounts/{id}/settlements/{sid}/retry",
    operation_id = "retrySettlement",
    tag = "settlements",
    summary = "Sends a held settlement back to the voucher posting",
    params(("id" = String, Path, description = "The account id.", pattern = "^acc_[0-9a-z]{26,40}$", example = "acc_0192f0c4a1b27f3e8c1d2e3f4a5b6c7d"), ("sid" = String, Path, description = "The settlement id (`{claim}.{n}`).", pattern = "^[A-Za-z0-9_-]{1,80}\\.[0-9]{1,9}$", example = "inv_1001.1")),
    responses((status = 202, description = "Queued for posting", body = SettlementView), (status = 400, description = "`invalid_json`, `body_required`, `invalid_field` (the body does not fit; `field` names it)", body = ErrorBody), (status = 404, description = "`account_not_found`, `settlement_not_found`", body = ErrorBody), (status = 409, description = "`settlement_not_held` (with `status`), `concurrent_modification`", body = ErrorBody), (status = 503, description = "`temporarily_unavailable`: the queue did not take it", body = ErrorBody), (status = 500, description = "`internal_error`: our side failed; `requestId` names the log lines", body = ErrorBody))
)]
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

#[utoipa::path(
    get,
    path = "/v1/limitation",
    operation_id = "listLimitation",
    tag = "cases",
    summary = "The organization's claims nearing limitation (foreldelse), soonest first",
    params(("within" = Option<u32>, Query, description = "Days ahead (default 90)", minimum = 1, maximum = 1098)),
    responses((status = 200, description = "The claims", body = LimitationList), (status = 400, description = "`invalid_query` (`field` names the parameter), `invalid_cursor`", body = ErrorBody), (status = 500, description = "`internal_error`: our side failed; `requestId` names the log lines", body = ErrorBody))
)]
async fn limitation(svc: &CasesService, req: &Req) -> Reply {
    let org = req.org()?;
    let within = parse_within(req.query_pairs()).map_err(to_api)?;
    let view = svc
        .limitation(&org, within, norwegian_date(req.now()))
        .await
        .map_err(to_api)?;
    Ok(json_response(StatusCode::OK, &view))
}

#[utoipa::path(
    post,
    path = "/v1/cases/{id}/objection",
    operation_id = "recordObjection",
    tag = "cases",
    summary = "Records an objection (innsigelse): fees, letters and legal steps stop",
    request_body = ObjectionRequest,
    params(("id" = String, Path, description = "The case id: `{accountId}.case_{claim}`.", pattern = "^acc_[0-9a-z]{26,40}\\.case_[A-Za-z0-9_-]{1,80}$", example = "acc_0192f0c4a1b27f3e8c1d2e3f4a5b6c7d.case_inv_1001"), ("If-Match" = Option<String>, Header, description = "The case version the command was decided on (`7` or `\"7\"`); a stale one is 409 `version_conflict`", max_length = 24)),
    responses((status = 201, description = "The case with the objection", body = CaseDetail), (status = 400, description = "`invalid_json`, `body_required`, `invalid_field` (`field` names it), `invalid_if_match`", body = ErrorBody), (status = 404, description = "`case_not_found` (another organization's case answers the same), `objection_not_found`", body = ErrorBody), (status = 409, description = "`version_conflict` (the case changed since the version named; `currentVersion`), `concurrent_modification`, `invalid_transition` (with `state`), or the case's state does not allow it (`claim_not_collectible`, `objection_already_assessed`, `already_filed`, …)", body = ErrorBody), (status = 422, description = "A field breaks a rule (`field` names it: a date in the past or too far ahead, a text too long, `unknown_document`, …)", body = ErrorBody), (status = 500, description = "`internal_error`: our side failed; `requestId` names the log lines", body = ErrorBody))
)]
async fn objection(svc: &CasesService, req: &Req) -> Reply {
    command(
        svc,
        req,
        CaseCommand::Objection(req.json()?),
        StatusCode::CREATED,
    )
    .await
}

#[utoipa::path(
    post,
    path = "/v1/cases/{id}/objection/assess",
    operation_id = "assessObjection",
    tag = "cases",
    summary = "Assesses the objection: groundless (the chain goes on; the route becomes forliksklage) or justified",
    request_body = AssessRequest,
    params(("id" = String, Path, description = "The case id: `{accountId}.case_{claim}`.", pattern = "^acc_[0-9a-z]{26,40}\\.case_[A-Za-z0-9_-]{1,80}$", example = "acc_0192f0c4a1b27f3e8c1d2e3f4a5b6c7d.case_inv_1001"), ("If-Match" = Option<String>, Header, description = "The case version the command was decided on (`7` or `\"7\"`); a stale one is 409 `version_conflict`", max_length = 24)),
    responses((status = 200, description = "The case", body = CaseDetail), (status = 400, description = "`invalid_json`, `body_required`, `invalid_field` (`field` names it), `invalid_if_match`", body = ErrorBody), (status = 404, description = "`case_not_found` (another organization's case answers the same), `objection_not_found`", body = ErrorBody), (status = 409, description = "`version_conflict` (the case changed since the version named; `currentVersion`), `concurrent_modification`, `invalid_transition` (with `state`), or the case's state does not allow it (`claim_not_collectible`, `objection_already_assessed`, `already_filed`, …)", body = ErrorBody), (status = 422, description = "A field breaks a rule (`field` names it: a date in the past or too far ahead, a text too long, `unknown_document`, …)", body = ErrorBody), (status = 500, description = "`internal_error`: our side failed; `requestId` names the log lines", body = ErrorBody))
)]
async fn assess(svc: &CasesService, req: &Req) -> Reply {
    command(svc, req, CaseCommand::Assess(req.json()?), StatusCode::OK).await
}

#[utoipa::path(
    post,
    path = "/v1/cases/{id}/objection/corrected",
    operation_id = "recordCorrection",
    tag = "cases",
    summary = "Records that a justified objection was met by correcting the claim",
    request_body = CorrectedRequest,
    params(("id" = String, Path, description = "The case id: `{accountId}.case_{claim}`.", pattern = "^acc_[0-9a-z]{26,40}\\.case_[A-Za-z0-9_-]{1,80}$", example = "acc_0192f0c4a1b27f3e8c1d2e3f4a5b6c7d.case_inv_1001"), ("If-Match" = Option<String>, Header, description = "The case version the command was decided on (`7` or `\"7\"`); a stale one is 409 `version_conflict`", max_length = 24)),
    responses((status = 200, description = "The case", body = CaseDetail), (status = 400, description = "`invalid_json`, `body_required`, `invalid_field` (`field` names it), `invalid_if_match`", body = ErrorBody), (status = 404, description = "`case_not_found` (another organization's case answers the same), `objection_not_found`", body = ErrorBody), (status = 409, description = "`version_conflict` (the case changed since the version named; `currentVersion`), `concurrent_modification`, `invalid_transition` (with `state`), or the case's state does not allow it (`claim_not_collectible`, `objection_already_assessed`, `already_filed`, …)", body = ErrorBody), (status = 422, description = "A field breaks a rule (`field` names it: a date in the past or too far ahead, a text too long, `unknown_document`, …)", body = ErrorBody), (status = 500, description = "`internal_error`: our side failed; `requestId` names the log lines", body = ErrorBody))
)]
async fn corrected(svc: &CasesService, req: &Req) -> Reply {
    command(
        svc,
        req,
        CaseCommand::Corrected(req.json()?),
        StatusCode::OK,
    )
    .await
}

#[utoipa::path(
    post,
    path = "/v1/cases/{id}/acknowledgement",
    operation_id = "recordAcknowledgement",
    tag = "cases",
    summary = "Records that the debtor acknowledged the debt (a new limitation period)",
    request_body = AcknowledgementRequest,
    params(("id" = String, Path, description = "The case id: `{accountId}.case_{claim}`.", pattern = "^acc_[0-9a-z]{26,40}\\.case_[A-Za-z0-9_-]{1,80}$", example = "acc_0192f0c4a1b27f3e8c1d2e3f4a5b6c7d.case_inv_1001"), ("If-Match" = Option<String>, Header, description = "The case version the command was decided on (`7` or `\"7\"`); a stale one is 409 `version_conflict`", max_length = 24)),
    responses((status = 201, description = "The case", body = CaseDetail), (status = 400, description = "`invalid_json`, `body_required`, `invalid_field` (`field` names it), `invalid_if_match`", body = ErrorBody), (status = 404, description = "`case_not_found` (another organization's case answers the same), `objection_not_found`", body = ErrorBody), (status = 409, description = "`version_conflict` (the case changed since the version named; `currentVersion`), `concurrent_modification`, `invalid_transition` (with `state`), or the case's state does not allow it (`claim_not_collectible`, `objection_already_assessed`, `already_filed`, …)", body = ErrorBody), (status = 422, description = "A field breaks a rule (`field` names it: a date in the past or too far ahead, a text too long, `unknown_document`, …)", body = ErrorBody), (status = 500, description = "`internal_error`: our side failed; `requestId` names the log lines", body = ErrorBody))
)]
async fn acknowledgement(svc: &CasesService, req: &Req) -> Reply {
    command(
        svc,
        req,
        CaseCommand::Acknowledge(req.json()?),
        StatusCode::CREATED,
    )
    .await
}

#[utoipa::path(
    post,
    path = "/v1/cases/{id}/legal-steps/filed",
    operation_id = "recordLegalStepFiled",
    tag = "cases",
    summary = "Records that a legal step was filed (limitation is suspended while it is pursued)",
    request_body = FiledRequest,
    params(("id" = String, Path, description = "The case id: `{accountId}.case_{claim}`.", pattern = "^acc_[0-9a-z]{26,40}\\.case_[A-Za-z0-9_-]{1,80}$", example = "acc_0192f0c4a1b27f3e8c1d2e3f4a5b6c7d.case_inv_1001"), ("If-Match" = Option<String>, Header, description = "The case version the command was decided on (`7` or `\"7\"`); a stale one is 409 `version_conflict`", max_length = 24)),
    responses((status = 201, description = "The case", body = CaseDetail), (status = 400, description = "`invalid_json`, `body_required`, `invalid_field` (`field` names it), `invalid_if_match`", body = ErrorBody), (status = 404, description = "`case_not_found` (another organization's case answers the same), `objection_not_found`", body = ErrorBody), (status = 409, description = "`version_conflict` (the case changed since the version named; `currentVersion`), `concurrent_modification`, `invalid_transition` (with `state`), or the case's state does not allow it (`claim_not_collectible`, `objection_already_assessed`, `already_filed`, …)", body = ErrorBody), (status = 422, description = "A field breaks a rule (`field` names it: a date in the past or too far ahead, a text too long, `unknown_document`, …)", body = ErrorBody), (status = 500, description = "`internal_error`: our side failed; `requestId` names the log lines", body = ErrorBody))
)]
async fn filed(svc: &CasesService, req: &Req) -> Reply {
    command(
        svc,
        req,
        CaseCommand::Filed(req.json()?),
        StatusCode::CREATED,
    )
    .await
}

#[utoipa::path(
    post,
    path = "/v1/cases/{id}/pause",
    operation_id = "pauseCase",
    tag = "cases",
    summary = "Pauses the follow-up until a date (letters and fees wait)",
    request_body = PauseRequest,
    params(("id" = String, Path, description = "The case id: `{accountId}.case_{claim}`.", pattern = "^acc_[0-9a-z]{26,40}\\.case_[A-Za-z0-9_-]{1,80}$", example = "acc_0192f0c4a1b27f3e8c1d2e3f4a5b6c7d.case_inv_1001"), ("If-Match" = Option<String>, Header, description = "The case version the command was decided on (`7` or `\"7\"`); a stale one is 409 `version_conflict`", max_length = 24)),
    responses((status = 200, description = "The case, paused", body = CaseDetail), (status = 400, description = "`invalid_json`, `body_required`, `invalid_field` (`field` names it), `invalid_if_match`", body = ErrorBody), (status = 404, description = "`case_not_found` (another organization's case answers the same), `objection_not_found`", body = ErrorBody), (status = 409, description = "`version_conflict` (the case changed since the version named; `currentVersion`), `concurrent_modification`, `invalid_transition` (with `state`), or the case's state does not allow it (`claim_not_collectible`, `objection_already_assessed`, `already_filed`, …)", body = ErrorBody), (status = 422, description = "A field breaks a rule (`field` names it: a date in the past or too far ahead, a text too long, `unknown_document`, …)", body = ErrorBody), (status = 500, description = "`internal_error`: our side failed; `requestId` names the log lines", body = ErrorBody))
)]
async fn pause(svc: &CasesService, req: &Req) -> Reply {
    command(svc, req, CaseCommand::Pause(req.json()?), StatusCode::OK).await
}

#[utoipa::path(
    post,
    path = "/v1/cases/{id}/resume",
    operation_id = "resumeCase",
    tag = "cases",
    summary = "Resumes a paused case now",
    params(("id" = String, Path, description = "The case id: `{accountId}.case_{claim}`.", pattern = "^acc_[0-9a-z]{26,40}\\.case_[A-Za-z0-9_-]{1,80}$", example = "acc_0192f0c4a1b27f3e8c1d2e3f4a5b6c7d.case_inv_1001"), ("If-Match" = Option<String>, Header, description = "The case version the command was decided on (`7` or `\"7\"`); a stale one is 409 `version_conflict`", max_length = 24)),
    responses((status = 200, description = "The case, open", body = CaseDetail), (status = 400, description = "`invalid_json`, `body_required`, `invalid_field` (`field` names it), `invalid_if_match`", body = ErrorBody), (status = 404, description = "`case_not_found` (another organization's case answers the same), `objection_not_found`", body = ErrorBody), (status = 409, description = "`version_conflict` (the case changed since the version named; `currentVersion`), `concurrent_modification`, `invalid_transition` (with `state`), or the case's state does not allow it (`claim_not_collectible`, `objection_already_assessed`, `already_filed`, …)", body = ErrorBody), (status = 422, description = "A field breaks a rule (`field` names it: a date in the past or too far ahead, a text too long, `unknown_document`, …)", body = ErrorBody), (status = 500, description = "`internal_error`: our side failed; `requestId` names the log lines", body = ErrorBody))
)]
async fn resume(svc: &CasesService, req: &Req) -> Reply {
    req.no_body()?;
    command(svc, req, CaseCommand::Resume, StatusCode::OK).await
}

#[utoipa::path(
    post,
    path = "/v1/cases/{id}/close",
    operation_id = "closeCase",
    tag = "cases",
    summary = "Closes the case (withdrawn, insolvent, paid, credited, other)",
    request_body = CloseRequest,
    params(("id" = String, Path, description = "The case id: `{accountId}.case_{claim}`.", pattern = "^acc_[0-9a-z]{26,40}\\.case_[A-Za-z0-9_-]{1,80}$", example = "acc_0192f0c4a1b27f3e8c1d2e3f4a5b6c7d.case_inv_1001"), ("If-Match" = Option<String>, Header, description = "The case version the command was decided on (`7` or `\"7\"`); a stale one is 409 `version_conflict`", max_length = 24)),
    responses((status = 200, description = "The case, closed", body = CaseDetail), (status = 400, description = "`invalid_json`, `body_required`, `invalid_field` (`field` names it), `invalid_if_match`", body = ErrorBody), (status = 404, description = "`case_not_found` (another organization's case answers the same), `objection_not_found`", body = ErrorBody), (status = 409, description = "`version_conflict` (the case changed since the version named; `currentVersion`), `concurrent_modification`, `invalid_transition` (with `state`), or the case's state does not allow it (`claim_not_collectible`, `objection_already_assessed`, `already_filed`, …)", body = ErrorBody), (status = 422, description = "A field breaks a rule (`field` names it: a date in the past or too far ahead, a text too long, `unknown_document`, …)", body = ErrorBody), (status = 500, description = "`internal_error`: our side failed; `requestId` names the log lines", body = ErrorBody))
)]
async fn close(svc: &CasesService, req: &Req) -> Reply {
    command(svc, req, CaseCommand::Close(req.json()?), StatusCode::OK).await
}

#[utoipa::path(
    post,
    path = "/v1/cases/{id}/reopen",
    operation_id = "reopenCase",
    tag = "cases",
    summary = "Reopens a closed case",
    request_body = ReopenRequest,
    params(("id" = String, Path, description = "The case id: `{accountId}.case_{claim}`.", pattern = "^acc_[0-9a-z]{26,40}\\.case_[A-Za-z0-9_-]{1,80}$", example = "acc_0192f0c4a1b27f3e8c1d2e3f4a5b6c7d.case_inv_1001"), ("If-Match" = Option<String>, Header, description = "The case version the command was decided on (`7` or `\"7\"`); a stale one is 409 `version_conflict`", max_length = 24)),
    responses((status = 200, description = "The case, open", body = CaseDetail), (status = 400, description = "`invalid_json`, `body_required`, `invalid_field` (`field` names it), `invalid_if_match`", body = ErrorBody), (status = 404, description = "`case_not_found` (another organization's case answers the same), `objection_not_found`", body = ErrorBody), (status = 409, description = "`version_conflict` (the case changed since the version named; `currentVersion`), `concurrent_modification`, `invalid_transition` (with `state`), or the case's state does not allow it (`claim_not_collectible`, `objection_already_assessed`, `already_filed`, …)", body = ErrorBody), (status = 422, description = "A field breaks a rule (`field` names it: a date in the past or too far ahead, a text too long, `unknown_document`, …)", body = ErrorBody), (status = 500, description = "`internal_error`: our side failed; `requestId` names the log lines", body = ErrorBody))
)]
async fn reopen(svc: &CasesService, req: &Req) -> Reply {
    command(
        svc,
        req,
        CaseCommand::Reopen(req.json_or_default()?),
        StatusCode::OK,
    )
    .await
}

#[utoipa::path(
    post,
    path = "/v1/cases/{id}/notes",
    operation_id = "addCaseNote",
    tag = "cases",
    summary = "Adds a note to the case",
    request_body = NoteRequest,
    params(("id" = String, Path, description = "The case id: `{accountId}.case_{claim}`.", pattern = "^acc_[0-9a-z]{26,40}\\.case_[A-Za-z0-9_-]{1,80}$", example = "acc_0192f0c4a1b27f3e8c1d2e3f4a5b6c7d.case_inv_1001"), ("If-Match" = Option<String>, Header, description = "The case version the command was decided on (`7` or `\"7\"`); a stale one is 409 `version_conflict`", max_length = 24)),
    responses((status = 201, description = "The case with the note", body = CaseDetail), (status = 400, description = "`invalid_json`, `body_required`, `invalid_field` (`field` names it), `invalid_if_match`", body = ErrorBody), (status = 404, description = "`case_not_found` (another organization's case answers the same), `objection_not_found`", body = ErrorBody), (status = 409, description = "`version_conflict` (the case changed since the version named; `currentVersion`), `concurrent_modification`, `invalid_transition` (with `state`), or the case's state does not allow it (`claim_not_collectible`, `objection_already_assessed`, `already_filed`, …)", body = ErrorBody), (status = 422, description = "A field breaks a rule (`field` names it: a date in the past or too far ahead, a text too long, `unknown_document`, …)", body = ErrorBody), (status = 500, description = "`internal_error`: our side failed; `requestId` names the log lines", body = ErrorBody))
)]
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
