//! dunning-api: the HTTP routes of dunning (API Gateway HTTP API, payload 2.0, JWT authorizer).
//! Each handler turns a request into a call of `shared::services::dunning` and its result into a
//! response; routing, the request span and the error body are the shared edge's
//! (`shared::http::Router`). The organization comes from the JWT claim `org`, the acting user
//! from `sub`; another organization's account, case or notice answers 404 like one that does
//! not exist. The service here has no sending ports: the API previews, approves and queues runs
//! ("run now"); the dunning function sends.
//!
//! | Route | |
//! |---|---|
//! | `GET /v1/accounts/{id}/dunning-policy` | the policy (the defaults, off, when none is stored), its `version`, a `suggestedSender` while it names none |
//! | `PUT /v1/accounts/{id}/dunning-policy` | `{version, policy}` → 200; 409 on a stale `version`; 422 naming every field and rule |
//! | `GET /v1/accounts/{id}/dunning/preview?date=` | what goes out on the date (default today, Oslo), per claim, or why not |
//! | `GET /v1/dunning/preview?date=` | the same for every account of the organization |
//! | `GET /v1/accounts/{id}/dunning/batches` | approve mode: the day's batches and what waits in them |
//! | `POST /v1/accounts/{id}/dunning/batches/{batchId}/approve` | `{all: true}` or `{notices: [...]}` |
//! | `POST /v1/accounts/{id}/dunning/run` | run the account today (idempotent per account and Oslo day) → 202 |
//! | `GET /v1/accounts/{id}/dunning/runs/{date}` | the day's run and its report |
//! | `GET /v1/accounts/{id}/dunning/uncertain` | notices held for a person (may or may not have gone out) |
//! | `GET /v1/cases/{id}/notices` | the case's notices |
//! | `GET /v1/cases/{id}/notices/{noticeId}/pdf` | the letter exactly as sent (`application/pdf`) |
//! | `POST /v1/cases/{id}/notices/{noticeId}/resolve` | an uncertain notice: `{resolution: sent \| release, note?}` |

use std::sync::LazyLock;

use chrono::{DateTime, NaiveDate, Utc};
use lambda_http::http::{header, HeaderValue, StatusCode};
use lambda_http::{Body, Request, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use shared::domain::case::CaseId;
use shared::domain::collection::dunning::notice::Notice;
use shared::domain::collection::dunning::notice::NoticeError;
use shared::domain::collection::dunning::RunRecord;
use shared::domain::collection::dunning::{DunningPolicy, NoticeId};
use shared::domain::setup::AccountId;
use shared::http::openapi::ErrorBody;
use shared::http::{json_response, ApiError, Reply, Req, Router};
use shared::services::cases::{norwegian_date, parse_public_case_id};
use shared::services::dunning::{
    parse_batch_id, ApproveOutcome, BatchView, DunningError, DunningService, PolicyView, Preview,
    Resolution, Selection,
};

/// The routes (template.yaml routes the same ones to this function).
pub static ROUTER: LazyLock<Router<DunningService>> = LazyLock::new(|| {
    Router::new()
        .get("/v1/accounts/{id}/dunning-policy", get_policy)
        .put("/v1/accounts/{id}/dunning-policy", put_policy)
        .get("/v1/accounts/{id}/dunning/preview", preview)
        .get("/v1/dunning/preview", preview_org)
        .get("/v1/accounts/{id}/dunning/batches", batches)
        .post(
            "/v1/accounts/{id}/dunning/batches/{batchId}/approve",
            approve,
        )
        .post("/v1/accounts/{id}/dunning/run", run_now)
        .get("/v1/accounts/{id}/dunning/runs/{date}", run_of)
        .get("/v1/accounts/{id}/dunning/uncertain", uncertain)
        .get("/v1/cases/{id}/notices", notices)
        .get("/v1/cases/{id}/notices/{noticeId}/pdf", pdf)
        .post("/v1/cases/{id}/notices/{noticeId}/resolve", resolve)
});

/// Handles one request. Never fails: every error is an answer. `now` comes from the caller.
/// This function's part of the OpenAPI document: its routes, as the handlers below declare them.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        get_policy, put_policy, preview, preview_org, batches, approve, run_now, run_of,
        uncertain, notices, pdf, resolve
    ),
    tags((name = "dunning", description = "The creditor's own follow-up: policy, preview, batches, runs and the letters sent"))
)]
pub struct ApiDoc;

pub async fn handle(
    svc: &DunningService,
    req: Request,
    now: DateTime<Utc>,
) -> Result<Response<Body>, lambda_http::Error> {
    Ok(ROUTER.serve(svc, req, now).await)
}

// ------------------------------------------------------------------------------------ inputs

/// `{id}` of an account route; not an account id → 404 as for an unknown account.
fn account(req: &Req) -> Result<AccountId, ApiError> {
    AccountId::parse(req.param("id")?).map_err(|_| to_api(DunningError::AccountNotFound))
}

/// `{id}` of a case route (`{accountId}.{caseId}`, as the cases API names cases).
fn case(req: &Req) -> Result<(AccountId, CaseId), ApiError> {
    parse_public_case_id(req.param("id")?).ok_or_else(|| to_api(DunningError::CaseNotFound))
}

/// `{noticeId}` (`{caseId}.{step}`, as the notices list names it) of the case `case`; another
/// case's notice is not found here.
fn notice_of(req: &Req, case: &CaseId) -> Result<NoticeId, ApiError> {
    match NoticeId::parse(req.param("noticeId")?) {
        Ok(id) if &id.case_id == case => Ok(id),
        _ => Err(to_api(DunningError::NoticeNotFound)),
    }
}

/// A date query parameter (`YYYY-MM-DD`); absent → today in Oslo.
fn date_param(req: &Req, name: &str) -> Result<NaiveDate, ApiError> {
    match req.query(name) {
        None => Ok(norwegian_date(req.now())),
        Some(s) => parse_date(&s).ok_or_else(|| {
            ApiError::bad_request("invalid_query", format!("{name} must be a date YYYY-MM-DD"))
                .with_field(name)
        }),
    }
}

fn parse_date(s: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok()
}

/// `PUT …/dunning-policy`: the policy and the version it replaces (the `version` GET answered;
/// `null` or absent when GET answered `null`, i.e. none is stored yet).
/// `GET /v1/dunning/preview`.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrgPreview {
    pub date: NaiveDate,
    pub accounts: Vec<Preview>,
}

/// `GET /v1/accounts/{id}/dunning/batches`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Batches {
    pub batches: Vec<BatchView>,
}

/// A list of notices (of a case, the uncertain ones of an account, those a resolution changed).
#[derive(Debug, Serialize, ToSchema)]
pub struct Notices {
    pub notices: Vec<Notice>,
}

/// `PUT /v1/accounts/{id}/dunning-policy`: the policy and the version it was read at (0 or absent
/// for the first save).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PutPolicy {
    #[serde(default)]
    version: Option<u64>,
    policy: DunningPolicy,
}

/// `POST …/approve`: every waiting notice of the batch, or the listed ones.
/// What to approve: `{"all": true}` or `{"notices": [...]}`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Approve {
    #[serde(default)]
    all: bool,
    /// Notice ids (`case_{claim}.{step}`).
    #[serde(default)]
    #[schema(value_type = Option<Vec<String>>)]
    notices: Option<Vec<NoticeId>>,
}

impl Approve {
    fn selection(self) -> Result<Selection, ApiError> {
        match (self.all, self.notices) {
            (true, None) => Ok(Selection::All),
            (false, Some(ids)) if !ids.is_empty() => Ok(Selection::Notices(ids)),
            (false, Some(_)) => Err(ApiError::bad_request(
                "invalid_field",
                "notices must list at least one notice id (or send {\"all\": true})",
            )
            .with_field("notices")),
            (true, Some(_)) => Err(ApiError::bad_request(
                "invalid_field",
                "either all or notices, not both",
            )
            .with_field("notices")),
            (false, None) => Err(ApiError::bad_request(
                "missing_field",
                "say what to approve: {\"all\": true} or {\"notices\": [...]}",
            )
            .with_field("all")),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ResolutionBody {
    /// It went out: recorded as sent, the effects follow at the next run.
    Sent,
    /// It did not: a later run may send it.
    Release,
}

/// `POST …/resolve`.
/// How an uncertain notice ends: `sent` (the mail did go) or `release` (plan it again).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Resolve {
    resolution: ResolutionBody,
    #[serde(default)]
    note: Option<String>,
}

// ---------------------------------------------------------------------------------- handlers

#[utoipa::path(
    get,
    path = "/v1/accounts/{id}/dunning-policy",
    operation_id = "getDunningPolicy",
    tag = "dunning",
    summary = "The account's dunning policy (the defaults, switched off, until one is saved)",
    params(("id" = String, Path, description = "The account id.", pattern = "^acc_[0-9a-z]{26,40}$", example = "acc_0192f0c4a1b27f3e8c1d2e3f4a5b6c7d")),
    responses((status = 200, description = "The policy with its version", body = PolicyView), (status = 404, description = "`account_not_found`: no such account in the organization (another organization's account answers the same)", body = ErrorBody), (status = 500, description = "`internal_error`: our side failed; `requestId` names the log lines", body = ErrorBody))
)]
async fn get_policy(svc: &DunningService, req: &Req) -> Reply {
    let view = svc
        .policy(&req.org()?, &account(req)?)
        .await
        .map_err(to_api)?;
    Ok(json_response(StatusCode::OK, &view))
}

#[utoipa::path(
    put,
    path = "/v1/accounts/{id}/dunning-policy",
    operation_id = "putDunningPolicy",
    tag = "dunning",
    summary = "Saves the dunning policy (version-checked)",
    request_body = PutPolicy,
    params(("id" = String, Path, description = "The account id.", pattern = "^acc_[0-9a-z]{26,40}$", example = "acc_0192f0c4a1b27f3e8c1d2e3f4a5b6c7d")),
    responses((status = 200, description = "The policy as saved", body = PolicyView), (status = 400, description = "`invalid_json`, `body_required`, `invalid_field` (the body does not fit; `field` names it)", body = ErrorBody), (status = 404, description = "`account_not_found`: no such account in the organization (another organization's account answers the same)", body = ErrorBody), (status = 409, description = "`version_conflict`: the policy changed since the version sent (`currentVersion`)", body = ErrorBody), (status = 422, description = "`invalid_policy`: `violations` lists each rule the policy breaks (field, rule, the law's minimum)", body = ErrorBody), (status = 500, description = "`internal_error`: our side failed; `requestId` names the log lines", body = ErrorBody))
)]
async fn put_policy(svc: &DunningService, req: &Req) -> Reply {
    let (org, account, user) = (req.org()?, account(req)?, req.user()?);
    let body: PutPolicy = req.json()?;
    // Optimistic locking always: no version read means none may be stored yet.
    let expected = Some(body.version.unwrap_or(0));
    let view = svc
        .put_policy(&org, &account, body.policy, expected, &user)
        .await
        .map_err(to_api)?;
    Ok(json_response(StatusCode::OK, &view))
}

#[utoipa::path(
    get,
    path = "/v1/accounts/{id}/dunning/preview",
    operation_id = "previewDunning",
    tag = "dunning",
    summary = "What the day's run would do for the account: each claim's next step, or why it waits or is held, with every amount and its rule",
    params(("id" = String, Path, description = "The account id.", pattern = "^acc_[0-9a-z]{26,40}$", example = "acc_0192f0c4a1b27f3e8c1d2e3f4a5b6c7d"), ("date" = Option<String>, Query, description = "The day (YYYY-MM-DD; default today in Oslo)", format = Date)),
    responses((status = 200, description = "The preview", body = Preview), (status = 400, description = "`invalid_query`: `date` is not a date", body = ErrorBody), (status = 404, description = "`account_not_found`: no such account in the organization (another organization's account answers the same)", body = ErrorBody), (status = 500, description = "`internal_error`: our side failed; `requestId` names the log lines", body = ErrorBody))
)]
async fn preview(svc: &DunningService, req: &Req) -> Reply {
    let (org, account) = (req.org()?, account(req)?);
    let date = date_param(req, "date")?;
    let p = svc.preview(&org, &account, date).await.map_err(to_api)?;
    Ok(json_response(StatusCode::OK, &p))
}

#[utoipa::path(
    get,
    path = "/v1/dunning/preview",
    operation_id = "previewDunningOrg",
    tag = "dunning",
    summary = "The day's preview across the organization's accounts",
    params(("date" = Option<String>, Query, description = "The day (YYYY-MM-DD; default today in Oslo)", format = Date)),
    responses((status = 200, description = "Per account", body = OrgPreview), (status = 400, description = "`invalid_query`: `date` is not a date", body = ErrorBody), (status = 500, description = "`internal_error`: our side failed; `requestId` names the log lines", body = ErrorBody))
)]
async fn preview_org(svc: &DunningService, req: &Req) -> Reply {
    let org = req.org()?;
    let date = date_param(req, "date")?;
    let accounts = svc.preview_org(&org, date).await.map_err(to_api)?;
    Ok(json_response(
        StatusCode::OK,
        &OrgPreview { date, accounts },
    ))
}

#[utoipa::path(
    get,
    path = "/v1/accounts/{id}/dunning/batches",
    operation_id = "listDunningBatches",
    tag = "dunning",
    summary = "The batches waiting for approval (approve mode), newest first",
    params(("id" = String, Path, description = "The account id.", pattern = "^acc_[0-9a-z]{26,40}$", example = "acc_0192f0c4a1b27f3e8c1d2e3f4a5b6c7d")),
    responses((status = 200, description = "The batches", body = Batches, links(("Approve" = (operation_id = "approveDunningBatch", parameters(("id" = "$request.path.id"), ("batchId" = "$response.body#/batches/0/id")))))), (status = 404, description = "`account_not_found`: no such account in the organization (another organization's account answers the same)", body = ErrorBody), (status = 500, description = "`internal_error`: our side failed; `requestId` names the log lines", body = ErrorBody))
)]
async fn batches(svc: &DunningService, req: &Req) -> Reply {
    let b = svc
        .batches(&req.org()?, &account(req)?)
        .await
        .map_err(to_api)?;
    Ok(json_response(StatusCode::OK, &Batches { batches: b }))
}

#[utoipa::path(
    post,
    path = "/v1/accounts/{id}/dunning/batches/{batchId}/approve",
    operation_id = "approveDunningBatch",
    tag = "dunning",
    summary = "Approves the day's batch, all of it or some notices: they go out in the next run",
    request_body = Approve,
    params(("id" = String, Path, description = "The account id.", pattern = "^acc_[0-9a-z]{26,40}$", example = "acc_0192f0c4a1b27f3e8c1d2e3f4a5b6c7d"), ("batchId" = String, Path, description = "The batch: its day (YYYY-MM-DD)", format = Date)),
    responses((status = 200, description = "What was approved", body = ApproveOutcome), (status = 400, description = "`invalid_json`, `invalid_field`, `missing_field` (say `all` or `notices`)", body = ErrorBody), (status = 404, description = "`account_not_found`, `batch_not_found`, `notice_not_found`", body = ErrorBody), (status = 409, description = "`invalid_transition` (a notice is no longer waiting), `concurrent_modification`", body = ErrorBody), (status = 500, description = "`internal_error`: our side failed; `requestId` names the log lines", body = ErrorBody))
)]
async fn approve(svc: &DunningService, req: &Req) -> Reply {
    let (org, account, user) = (req.org()?, account(req)?, req.user()?);
    let batch = parse_batch_id(req.param("batchId")?).map_err(to_api)?;
    let selection = req.json::<Approve>()?.selection()?;
    let out = svc
        .approve(&org, &account, batch, selection, &user)
        .await
        .map_err(to_api)?;
    Ok(json_response(StatusCode::OK, &out))
}

#[utoipa::path(
    post,
    path = "/v1/accounts/{id}/dunning/run",
    operation_id = "runDunningNow",
    tag = "dunning",
    summary = "Runs the account's dunning now (once per account and Oslo day; a repeat answers the same run)",
    params(("id" = String, Path, description = "The account id.", pattern = "^acc_[0-9a-z]{26,40}$", example = "acc_0192f0c4a1b27f3e8c1d2e3f4a5b6c7d")),
    responses((status = 202, description = "The run, queued", body = RunRecord, links(("RunOf" = (operation_id = "getDunningRun", parameters(("id" = "$request.path.id"), ("date" = "$response.body#/date")))))), (status = 400, description = "`invalid_json`, `body_required`, `invalid_field` (the body does not fit; `field` names it)", body = ErrorBody), (status = 404, description = "`account_not_found`: no such account in the organization (another organization's account answers the same)", body = ErrorBody), (status = 500, description = "`internal_error`: our side failed; `requestId` names the log lines", body = ErrorBody))
)]
async fn run_now(svc: &DunningService, req: &Req) -> Reply {
    req.no_body()?;
    let run = svc
        .request_run(&req.org()?, &account(req)?, &req.user()?)
        .await
        .map_err(to_api)?;
    Ok(json_response(StatusCode::ACCEPTED, &run))
}

#[utoipa::path(
    get,
    path = "/v1/accounts/{id}/dunning/runs/{date}",
    operation_id = "getDunningRun",
    tag = "dunning",
    summary = "The account's dunning run of a day: what it sent, stopped and held",
    params(("id" = String, Path, description = "The account id.", pattern = "^acc_[0-9a-z]{26,40}$", example = "acc_0192f0c4a1b27f3e8c1d2e3f4a5b6c7d"), ("date" = String, Path, description = "The day (YYYY-MM-DD)", format = Date)),
    responses((status = 200, description = "The run and its report", body = RunRecord), (status = 404, description = "`account_not_found`, `run_not_found`", body = ErrorBody), (status = 500, description = "`internal_error`: our side failed; `requestId` names the log lines", body = ErrorBody))
)]
async fn run_of(svc: &DunningService, req: &Req) -> Reply {
    let (org, account) = (req.org()?, account(req)?);
    let date = parse_date(req.param("date")?).ok_or_else(|| {
        ApiError::not_found(
            "run_not_found",
            "no run on that day (the date is YYYY-MM-DD)",
        )
    })?;
    match svc.run_of(&org, &account, date).await.map_err(to_api)? {
        Some(run) => Ok(json_response(StatusCode::OK, &run)),
        None => Err(ApiError::not_found(
            "run_not_found",
            "the account has no dunning run on that day",
        )),
    }
}

#[utoipa::path(
    get,
    path = "/v1/accounts/{id}/dunning/uncertain",
    operation_id = "listUncertainNotices",
    tag = "dunning",
    summary = "Notices whose sending is uncertain (a crash between the mail and its record): held for a person, never re-sent by themselves",
    params(("id" = String, Path, description = "The account id.", pattern = "^acc_[0-9a-z]{26,40}$", example = "acc_0192f0c4a1b27f3e8c1d2e3f4a5b6c7d")),
    responses((status = 200, description = "The notices", body = Notices), (status = 404, description = "`account_not_found`: no such account in the organization (another organization's account answers the same)", body = ErrorBody), (status = 500, description = "`internal_error`: our side failed; `requestId` names the log lines", body = ErrorBody))
)]
async fn uncertain(svc: &DunningService, req: &Req) -> Reply {
    let held = svc
        .uncertain(&req.org()?, &account(req)?)
        .await
        .map_err(to_api)?;
    Ok(json_response(StatusCode::OK, &Notices { notices: held }))
}

#[utoipa::path(
    get,
    path = "/v1/cases/{id}/notices",
    operation_id = "listCaseNotices",
    tag = "dunning",
    summary = "The case's notices (letters), each with its amounts, rules, channel and status",
    params(("id" = String, Path, description = "The case id: `{accountId}.case_{claim}`.", pattern = "^acc_[0-9a-z]{26,40}\\.case_[A-Za-z0-9_-]{1,80}$", example = "acc_0192f0c4a1b27f3e8c1d2e3f4a5b6c7d.case_inv_1001")),
    responses((status = 200, description = "The notices", body = Notices, links(("Pdf" = (operation_id = "getNoticePdf", parameters(("id" = "$request.path.id"), ("noticeId" = "$response.body#/notices/0/id")))), ("Resolve" = (operation_id = "resolveNotice", parameters(("id" = "$request.path.id"), ("noticeId" = "$response.body#/notices/0/id")))))), (status = 404, description = "`case_not_found`: no such case in the organization (another organization's case answers the same)", body = ErrorBody), (status = 500, description = "`internal_error`: our side failed; `requestId` names the log lines", body = ErrorBody))
)]
async fn notices(svc: &DunningService, req: &Req) -> Reply {
    let org = req.org()?;
    let (account, case) = case(req)?;
    let list = svc
        .notices_of_case(&org, &account, &case)
        .await
        .map_err(to_api)?;
    Ok(json_response(StatusCode::OK, &Notices { notices: list }))
}

/// The letter as sent. API Gateway HTTP API carries binary bodies base64-encoded
/// (`isBase64Encoded`), which `lambda_http` does for a binary body.
#[utoipa::path(
    get,
    path = "/v1/cases/{id}/notices/{noticeId}/pdf",
    operation_id = "getNoticePdf",
    tag = "dunning",
    summary = "The letter exactly as sent (PDF)",
    params(("id" = String, Path, description = "The case id: `{accountId}.case_{claim}`.", pattern = "^acc_[0-9a-z]{26,40}\\.case_[A-Za-z0-9_-]{1,80}$", example = "acc_0192f0c4a1b27f3e8c1d2e3f4a5b6c7d.case_inv_1001"), ("noticeId" = String, Path, description = "The notice id: `case_{claim}.{step}`", pattern = "^case_[A-Za-z0-9_-]{1,80}\\.(paminnelse|purring|inkassovarsel|betalingsoppfordring)$", example = "case_inv_1001.purring")),
    responses((status = 200, description = "The PDF", content_type = "application/pdf", body = Vec<u8>, headers(("Content-Disposition" = String))), (status = 404, description = "`case_not_found`, `notice_not_found`, `letter_not_found` (no letter was sent for it)", body = ErrorBody), (status = 500, description = "`internal_error`: our side failed; `requestId` names the log lines", body = ErrorBody))
)]
async fn pdf(svc: &DunningService, req: &Req) -> Reply {
    let org = req.org()?;
    let (account, case) = case(req)?;
    let notice = notice_of(req, &case)?;
    let (bytes, name) = svc
        .notice_pdf(&org, &account, &notice)
        .await
        .map_err(to_api)?;
    let mut response = Response::new(Body::Binary(bytes));
    *response.status_mut() = StatusCode::OK;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/pdf"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("inline; filename=\"{name}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(response)
}

#[utoipa::path(
    post,
    path = "/v1/cases/{id}/notices/{noticeId}/resolve",
    operation_id = "resolveNotice",
    tag = "dunning",
    summary = "Resolves an uncertain notice: it was sent (record it), or release it to be planned again",
    request_body = Resolve,
    params(("id" = String, Path, description = "The case id: `{accountId}.case_{claim}`.", pattern = "^acc_[0-9a-z]{26,40}\\.case_[A-Za-z0-9_-]{1,80}$", example = "acc_0192f0c4a1b27f3e8c1d2e3f4a5b6c7d.case_inv_1001"), ("noticeId" = String, Path, description = "The notice id: `case_{claim}.{step}`", pattern = "^case_[A-Za-z0-9_-]{1,80}\\.(paminnelse|purring|inkassovarsel|betalingsoppfordring)$", example = "case_inv_1001.purring")),
    responses((status = 200, description = "The notices of the letter, as they are now", body = Notices), (status = 400, description = "`invalid_json`, `body_required`, `invalid_field` (the body does not fit; `field` names it)", body = ErrorBody), (status = 404, description = "`case_not_found`, `notice_not_found`", body = ErrorBody), (status = 409, description = "`invalid_transition`: the notice is not uncertain (with `status`)", body = ErrorBody), (status = 500, description = "`internal_error`: our side failed; `requestId` names the log lines", body = ErrorBody))
)]
async fn resolve(svc: &DunningService, req: &Req) -> Reply {
    let (org, user) = (req.org()?, req.user()?);
    let (account, case) = case(req)?;
    let notice = notice_of(req, &case)?;
    let body: Resolve = req.json()?;
    let resolution = match body.resolution {
        ResolutionBody::Sent => Resolution::Sent,
        ResolutionBody::Release => Resolution::Release,
    };
    let changed = svc
        .resolve_uncertain(
            &org,
            &account,
            &notice,
            resolution,
            &user,
            body.note.as_deref(),
        )
        .await
        .map_err(to_api)?;
    Ok(json_response(StatusCode::OK, &Notices { notices: changed }))
}

// ---------------------------------------------------------------------------------- errors

/// Service errors → HTTP answers.
pub fn to_api(e: DunningError) -> ApiError {
    match e {
        DunningError::AccountNotFound => {
            ApiError::not_found("account_not_found", "no such account")
        }
        DunningError::CaseNotFound => ApiError::not_found("case_not_found", "no such case"),
        DunningError::NoticeNotFound => ApiError::not_found("notice_not_found", "no such notice"),
        DunningError::BatchNotFound => ApiError::not_found("batch_not_found", "no such batch"),
        DunningError::LetterNotFound => ApiError::not_found(
            "letter_not_found",
            "no letter was sent for this notice (or it is not stored)",
        ),
        DunningError::InvalidPolicy(violations) => {
            // The fields are the policy's; the body carries it under `policy`.
            let violations: Vec<serde_json::Value> = violations
                .iter()
                .map(|v| {
                    let mut body = json!(v);
                    body["field"] = json!(format!("policy.{}", v.field));
                    body
                })
                .collect();
            let first = violations
                .first()
                .and_then(|v| v["field"].as_str())
                .map(str::to_string);
            let mut err = ApiError::unprocessable(
                "invalid_policy",
                format!(
                    "the policy breaks {} rule(s); see violations",
                    violations.len()
                ),
            )
            .with("violations", json!(violations));
            err.field = first;
            err
        }
        DunningError::VersionConflict { current } => ApiError::conflict(
            "version_conflict",
            "the policy was changed since you read it; read it again and reapply your change",
        )
        .with_field("version")
        .with("currentVersion", json!(current)),
        DunningError::Notice(n) => notice_error(n),
        DunningError::BadRequest { field, message } => {
            ApiError::bad_request("invalid_field", message).with_field(field)
        }
        DunningError::Contention => ApiError::conflict(
            "concurrent_modification",
            "the record changed several times while we updated it; try again",
        ),
        DunningError::Store(e) => ApiError::internal().because(format!("storage failed: {e}")),
        DunningError::Archive(e) => {
            ApiError::internal().because(format!("the letters bucket failed: {e}"))
        }
        DunningError::Queue(e) => {
            ApiError::internal().because(format!("the dunning queue failed: {e}"))
        }
        e @ (DunningError::Recheck(_) | DunningError::Mail(_) | DunningError::CannotSend) => {
            ApiError::internal().because(format!("a sending path was reached in the API: {e}"))
        }
    }
}

fn notice_error(e: NoticeError) -> ApiError {
    match &e {
        NoticeError::InvalidNoticeId(_) => {
            ApiError::not_found("notice_not_found", "no such notice")
        }
        NoticeError::InvalidTransition { from, .. } => {
            ApiError::conflict("invalid_transition", e.to_string()).with("status", json!(from))
        }
        NoticeError::ActorRequired => {
            ApiError::unauthorized("the token carries no user (claim `sub`)")
        }
    }
}
