//! integration-setup: the HTTP API for accounts, Tripletex keys and integrations, and what a user
//! sees of the mirrored ledger (ledger, customers, sync status, manual sync, notifications) (API
//! Gateway HTTP API, payload 2.0, JWT authorizer).
//!
//! Each handler turns a request into a service call and its result into a response; no logic
//! beyond that mapping lives here (see `shared::services::setup` for accounts, keys and
//! integrations, `shared::services::ledger` for the ledger, customers, sync status, the manual sync
//! and notifications). Routing, the request span and the error body are the shared edge's
//! (`shared::http::Router`); the organization comes from the JWT claims only.

use std::sync::LazyLock;

use chrono::Utc;
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde_json::json;

use shared::http::{empty_response, json_response, with_location, ApiError, Reply, Req, Router};
use shared::services::ledger::{LedgerError, LedgerParams, LedgerService, PageParams};
use shared::services::setup::{
    AccountView, Change, ClientView, IntegrationView, KeyView, Missing, SetupError, SetupService,
};

/// The services behind the routes (built once per process).
pub struct Services {
    pub setup: SetupService,
    pub ledger: LedgerService,
}

/// The routes (template.yaml routes the same ones to this function).
pub static ROUTER: LazyLock<Router<Services>> = LazyLock::new(|| {
    Router::new()
        .post("/v1/accounts", create_account)
        .get("/v1/accounts", list_accounts)
        .get("/v1/accounts/{id}", get_account)
        .get("/v1/accounts/{id}/integration", get_integration)
        .put("/v1/accounts/{id}/integration", put_integration)
        .patch("/v1/accounts/{id}/integration", patch_integration)
        .get("/v1/accounts/{id}/integration/status", sync_status)
        .post("/v1/accounts/{id}/integration/sync", request_sync)
        .get("/v1/accounts/{id}/ledger", ledger)
        .get("/v1/accounts/{id}/customers", customers)
        .get("/v1/accounts/{id}/notifications", notifications)
        .post("/v1/accounts/{id}/notifications/{nid}/seen", mark_seen)
        .post("/v1/tripletex-keys", create_key)
        .get("/v1/tripletex-keys", list_keys)
        .delete("/v1/tripletex-keys/{id}", delete_key)
        .get("/v1/tripletex-keys/{id}/clients", key_clients)
});

/// Handles one API Gateway (HTTP API, payload 2.0) request. Never fails: every error is an answer.
pub async fn handle(svc: &Services, req: Request) -> Result<Response<Body>, lambda_http::Error> {
    Ok(ROUTER.serve(svc, req, Utc::now()).await)
}

// ------------------------------------------------------------------ accounts

async fn create_account(svc: &Services, req: &Req) -> Reply {
    let org = req.org()?;
    let body = req.json()?;
    let idempotency_key = req
        .headers()
        .get("idempotency-key")
        .map(|v| v.to_str().unwrap_or_default());
    let (account, created) = svc
        .setup
        .create_account(&org, body, idempotency_key)
        .await
        .map_err(to_api)?;
    let response = json_response(created_or_ok(created), &AccountView::from(&account));
    Ok(with_location(
        response,
        &format!("/v1/accounts/{}", account.id),
    ))
}

async fn list_accounts(svc: &Services, req: &Req) -> Reply {
    let org = req.org()?;
    let q = req.query("q");
    let accounts = svc
        .setup
        .list_accounts(&org, q.as_deref())
        .await
        .map_err(to_api)?;
    let views: Vec<AccountView> = accounts.iter().map(AccountView::from).collect();
    Ok(json_response(StatusCode::OK, &views))
}

async fn get_account(svc: &Services, req: &Req) -> Reply {
    let org = req.org()?;
    let account = svc
        .setup
        .get_account(&org, req.param("id")?)
        .await
        .map_err(to_api)?;
    Ok(json_response(StatusCode::OK, &AccountView::from(&account)))
}

// ------------------------------------------------------------------ integrations

async fn get_integration(svc: &Services, req: &Req) -> Reply {
    let org = req.org()?;
    let integration = svc
        .setup
        .get_integration(&org, req.param("id")?)
        .await
        .map_err(to_api)?;
    Ok(json_response(
        StatusCode::OK,
        &IntegrationView::from(&integration),
    ))
}

async fn put_integration(svc: &Services, req: &Req) -> Reply {
    let org = req.org()?;
    let body = req.json()?;
    let (integration, change) = svc
        .setup
        .put_integration(&org, req.param("id")?, body)
        .await
        .map_err(to_api)?;
    let status = match change {
        Change::Created => StatusCode::CREATED,
        Change::Updated | Change::Unchanged => StatusCode::OK,
    };
    Ok(json_response(status, &IntegrationView::from(&integration)))
}

async fn patch_integration(svc: &Services, req: &Req) -> Reply {
    let org = req.org()?;
    let body = req.json()?;
    let (integration, _) = svc
        .setup
        .patch_integration(&org, req.param("id")?, body)
        .await
        .map_err(to_api)?;
    Ok(json_response(
        StatusCode::OK,
        &IntegrationView::from(&integration),
    ))
}

// ------------------------------------------------------------------ the mirrored ledger

async fn sync_status(svc: &Services, req: &Req) -> Reply {
    let org = req.org()?;
    let view = svc
        .ledger
        .status(&org, req.param("id")?, req.now())
        .await
        .map_err(ledger_error)?;
    Ok(json_response(StatusCode::OK, &view))
}

async fn request_sync(svc: &Services, req: &Req) -> Reply {
    let org = req.org()?;
    let r = svc
        .ledger
        .request_sync(&org, req.param("id")?, req.now())
        .await
        .map_err(ledger_error)?;
    Ok(json_response(StatusCode::ACCEPTED, &r))
}

async fn ledger(svc: &Services, req: &Req) -> Reply {
    let org = req.org()?;
    let params = LedgerParams::parse(req.query_pairs()).map_err(ledger_error)?;
    let view = svc
        .ledger
        .ledger(&org, req.param("id")?, &params)
        .await
        .map_err(ledger_error)?;
    Ok(json_response(StatusCode::OK, &view))
}

async fn customers(svc: &Services, req: &Req) -> Reply {
    let org = req.org()?;
    let params = PageParams::parse(req.query_pairs()).map_err(ledger_error)?;
    let view = svc
        .ledger
        .customers(&org, req.param("id")?, &params)
        .await
        .map_err(ledger_error)?;
    Ok(json_response(StatusCode::OK, &view))
}

async fn notifications(svc: &Services, req: &Req) -> Reply {
    let org = req.org()?;
    let view = svc
        .ledger
        .notifications(&org, req.param("id")?)
        .await
        .map_err(ledger_error)?;
    Ok(json_response(StatusCode::OK, &view))
}

async fn mark_seen(svc: &Services, req: &Req) -> Reply {
    let org = req.org()?;
    let view = svc
        .ledger
        .mark_seen(&org, req.param("id")?, req.param("nid")?, req.now())
        .await
        .map_err(ledger_error)?;
    Ok(json_response(StatusCode::OK, &view))
}

// ------------------------------------------------------------------ Tripletex keys

async fn create_key(svc: &Services, req: &Req) -> Reply {
    let org = req.org()?;
    let body = req.json()?;
    let (key, created) = svc.setup.create_key(&org, body).await.map_err(to_api)?;
    let response = json_response(created_or_ok(created), &KeyView::from(&key));
    Ok(with_location(
        response,
        &format!("/v1/tripletex-keys/{}", key.id),
    ))
}

async fn list_keys(svc: &Services, req: &Req) -> Reply {
    let org = req.org()?;
    let keys = svc.setup.list_keys(&org).await.map_err(to_api)?;
    let views: Vec<KeyView> = keys.iter().map(KeyView::from).collect();
    Ok(json_response(StatusCode::OK, &views))
}

async fn delete_key(svc: &Services, req: &Req) -> Reply {
    let org = req.org()?;
    svc.setup
        .delete_key(&org, req.param("id")?)
        .await
        .map_err(to_api)?;
    Ok(empty_response(StatusCode::NO_CONTENT))
}

async fn key_clients(svc: &Services, req: &Req) -> Reply {
    let org = req.org()?;
    let clients = svc
        .setup
        .key_clients(&org, req.param("id")?)
        .await
        .map_err(to_api)?;
    let views: Vec<ClientView> = clients.into_iter().map(ClientView::from).collect();
    Ok(json_response(StatusCode::OK, &views))
}

fn created_or_ok(created: bool) -> StatusCode {
    if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    }
}

// ------------------------------------------------------------------ errors

/// Maps the ledger service's errors to HTTP answers.
fn ledger_error(e: LedgerError) -> ApiError {
    match e {
        LedgerError::BadQuery { field, message } => {
            ApiError::bad_request("invalid_query", message).with_field(field)
        }
        LedgerError::BadCursor => ApiError::bad_request(
            "invalid_cursor",
            "the cursor is not one this listing gave out; start again without it",
        )
        .with_field("cursor"),
        LedgerError::AccountNotFound => ApiError::not_found("account_not_found", "no such account"),
        LedgerError::IntegrationNotFound => ApiError::not_found(
            "integration_not_found",
            "the account has no integration yet (PUT it first)",
        ),
        LedgerError::NotificationNotFound => {
            ApiError::not_found("notification_not_found", "no such notification")
        }
        LedgerError::QueueUnavailable(message) => ApiError::unavailable(
            "temporarily_unavailable",
            "the sync could not be queued; try again shortly",
            5,
        )
        .because(format!("the sync queue did not take the job: {message}")),
        LedgerError::Store(e) => ApiError::internal().because(e),
    }
}

/// Maps the service's errors to HTTP answers.
fn to_api(e: SetupError) -> ApiError {
    match e {
        SetupError::Invalid(errors) => {
            let first = errors.first().cloned();
            let mut api = ApiError::unprocessable(
                "validation_failed",
                first
                    .as_ref()
                    .map(|f| f.message.clone())
                    .unwrap_or_else(|| "invalid input".into()),
            )
            .with("details", json!(errors));
            api.field = first.map(|f| f.field);
            api
        }
        SetupError::NotFound(what, field) => {
            let (code, message) = match what {
                Missing::Account => ("account_not_found", "no such account"),
                Missing::Key => ("key_not_found", "no such Tripletex key"),
                Missing::Integration => (
                    "integration_not_found",
                    "the account has no integration yet (PUT it first)",
                ),
            };
            let mut api = ApiError::not_found(code, message);
            api.field = field.map(str::to_string);
            api
        }
        SetupError::KeyInUse(n) => ApiError::conflict(
            "key_in_use",
            format!("the key is used by {n} integration(s); move them to another key first"),
        )
        .with("integrationCount", json!(n)),
        SetupError::BadIdempotencyKey => ApiError::bad_request(
            "invalid_idempotency_key",
            "the Idempotency-Key header must be 1 to 200 characters",
        ),
        SetupError::IdempotencyKeyReused => ApiError::conflict(
            "idempotency_key_reused",
            "this Idempotency-Key was used before for a different request",
        ),
        SetupError::Concurrent => ApiError::conflict(
            "concurrent_modification",
            "the integration was changed at the same time; read it again and retry",
        ),
        SetupError::TripletexRefused {
            field,
            fix,
            status,
            message,
            request_id,
            refused_endpoints,
        } => {
            let tripletex = json!({
                "status": if status == 0 { None } else { Some(status) },
                "message": message,
                "requestId": request_id,
                "refusedEndpoints": refused_endpoints,
            });
            let mut api = match fix {
                Some(fix) => ApiError::unprocessable(fix.code(), fix.en())
                    .with("fix", json!({ "no": fix.no(), "en": fix.en() })),
                None => ApiError::unprocessable(
                    "tripletex_refused",
                    format!("Tripletex refused: {message}"),
                ),
            }
            .with("tripletex", tripletex);
            api.field = Some(field.to_string());
            api
        }
        SetupError::Unavailable {
            message,
            retry_after_secs,
        } => ApiError::unavailable("temporarily_unavailable", message, retry_after_secs),
        SetupError::BadGateway(message) => ApiError::new(
            StatusCode::BAD_GATEWAY,
            "tripletex_unexpected",
            "Tripletex answered unexpectedly; try again later",
        )
        .because(format!("unexpected answer from Tripletex: {message}")),
        SetupError::Internal(message) => ApiError::internal().because(message),
    }
}
