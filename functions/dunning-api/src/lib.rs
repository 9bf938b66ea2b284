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
use serde::Deserialize;
use serde_json::json;

use shared::domain::case::CaseId;
use shared::domain::collection::dunning::notice::NoticeError;
use shared::domain::collection::dunning::{DunningPolicy, NoticeId};
use shared::domain::setup::AccountId;
use shared::http::{json_response, ApiError, Reply, Req, Router};
use shared::services::cases::{norwegian_date, parse_public_case_id};
use shared::services::dunning::{
    parse_batch_id, DunningError, DunningService, Resolution, Selection,
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
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PutPolicy {
    #[serde(default)]
    version: Option<u64>,
    policy: DunningPolicy,
}

/// `POST …/approve`: every waiting notice of the batch, or the listed ones.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Approve {
    #[serde(default)]
    all: bool,
    #[serde(default)]
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

#[derive(Debug, Deserialize)]
#[serde(rename_all = "lowercase")]
enum ResolutionBody {
    /// It went out: recorded as sent, the effects follow at the next run.
    Sent,
    /// It did not: a later run may send it.
    Release,
}

/// `POST …/resolve`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Resolve {
    resolution: ResolutionBody,
    #[serde(default)]
    note: Option<String>,
}

// ---------------------------------------------------------------------------------- handlers

async fn get_policy(svc: &DunningService, req: &Req) -> Reply {
    let view = svc
        .policy(&req.org()?, &account(req)?)
        .await
        .map_err(to_api)?;
    Ok(json_response(StatusCode::OK, &view))
}

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

async fn preview(svc: &DunningService, req: &Req) -> Reply {
    let (org, account) = (req.org()?, account(req)?);
    let date = date_param(req, "date")?;
    let p = svc.preview(&org, &account, date).await.map_err(to_api)?;
    Ok(json_response(StatusCode::OK, &p))
}

async fn preview_org(svc: &DunningService, req: &Req) -> Reply {
    let org = req.org()?;
    let date = date_param(req, "date")?;
    let accounts = svc.preview_org(&org, date).await.map_err(to_api)?;
    Ok(json_response(
        StatusCode::OK,
        &json!({ "date": date, "accounts": accounts }),
    ))
}

async fn batches(svc: &DunningService, req: &Req) -> Reply {
    let b = svc
        .batches(&req.org()?, &account(req)?)
        .await
        .map_err(to_api)?;
    Ok(json_response(StatusCode::OK, &json!({ "batches": b })))
}

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

async fn run_now(svc: &DunningService, req: &Req) -> Reply {
    req.no_body()?;
    let run = svc
        .request_run(&req.org()?, &account(req)?, &req.user()?)
        .await
        .map_err(to_api)?;
    Ok(json_response(StatusCode::ACCEPTED, &run))
}

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

async fn uncertain(svc: &DunningService, req: &Req) -> Reply {
    let held = svc
        .uncertain(&req.org()?, &account(req)?)
        .await
        .map_err(to_api)?;
    Ok(json_response(StatusCode::OK, &json!({ "notices": held })))
}

async fn notices(svc: &DunningService, req: &Req) -> Reply {
    let org = req.org()?;
    let (account, case) = case(req)?;
    let list = svc
        .notices_of_case(&org, &account, &case)
        .await
        .map_err(to_api)?;
    Ok(json_response(StatusCode::OK, &json!({ "notices": list })))
}

/// The letter as sent. API Gateway HTTP API carries binary bodies base64-encoded
/// (`isBase64Encoded`), which `lambda_http` does for a binary body.
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
    Ok(json_response(
        StatusCode::OK,
        &json!({ "notices": changed }),
    ))
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
