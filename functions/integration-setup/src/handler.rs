//! Request → service call → response. Routing on method + raw path; the organization comes from the
//! JWT claims only. No logic beyond mapping lives here (see `shared::services::setup` for accounts,
//! keys and integrations, `shared::services::ledger` for the ledger, customers, sync status, the
//! manual sync and notifications).

use chrono::Utc;
use lambda_http::http::{header, HeaderValue, Method, StatusCode};
use lambda_http::{Body, Request, RequestExt, Response};
use serde_json::json;
use tracing::Instrument;

use shared::http::{self as api, empty_response, json_response, ApiError};
use shared::services::ledger::{LedgerError, LedgerParams, LedgerService, PageParams};
use shared::services::setup::{
    AccountView, Change, ClientView, IntegrationView, KeyView, Missing, SetupError, SetupService,
};

/// The services behind the routes (built once per process).
pub struct Services {
    pub setup: SetupService,
    pub ledger: LedgerService,
}

/// Handles one API Gateway (HTTP API, payload 2.0) request. Never fails: every error is an answer.
pub async fn handle(svc: &Services, req: Request) -> Result<Response<Body>, lambda_http::Error> {
    let method = req.method().clone();
    let path = request_path(&req);
    let request_id = req
        .lambda_context_ref()
        .map(|c| c.request_id.clone())
        .unwrap_or_default();
    let span = tracing::info_span!("request", %method, %path, %request_id);
    async move {
        let response = match route(svc, &req, &method, &path).await {
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

/// The raw path (no stage prefix), falling back to the URI's path.
fn request_path(req: &Request) -> String {
    let raw = req.raw_http_path();
    if raw.is_empty() {
        req.uri().path().to_string()
    } else {
        raw.to_string()
    }
}

async fn route(
    services: &Services,
    req: &Request,
    method: &Method,
    path: &str,
) -> Result<Response<Body>, ApiError> {
    let svc = &services.setup;
    let ledger = &services.ledger;
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    match segments.as_slice() {
        ["v1", "accounts"] => match *method {
            Method::POST => create_account(svc, req).await,
            Method::GET => list_accounts(svc, req).await,
            _ => Err(ApiError::method_not_allowed(&["GET", "POST"])),
        },
        ["v1", "accounts", id] => match *method {
            Method::GET => get_account(svc, req, id).await,
            _ => Err(ApiError::method_not_allowed(&["GET"])),
        },
        ["v1", "accounts", id, "integration"] => match *method {
            Method::GET => get_integration(svc, req, id).await,
            Method::PUT => put_integration(svc, req, id).await,
            Method::PATCH => patch_integration(svc, req, id).await,
            _ => Err(ApiError::method_not_allowed(&["GET", "PUT", "PATCH"])),
        },
        ["v1", "accounts", id, "integration", "status"] => match *method {
            Method::GET => {
                let org = api::org_id(req)?;
                let view = ledger
                    .status(&org, id, Utc::now())
                    .await
                    .map_err(ledger_error)?;
                Ok(json_response(StatusCode::OK, &view))
            }
            _ => Err(ApiError::method_not_allowed(&["GET"])),
        },
        ["v1", "accounts", id, "integration", "sync"] => match *method {
            Method::POST => {
                let org = api::org_id(req)?;
                let r = ledger
                    .request_sync(&org, id, Utc::now())
                    .await
                    .map_err(ledger_error)?;
                Ok(json_response(StatusCode::ACCEPTED, &r))
            }
            _ => Err(ApiError::method_not_allowed(&["POST"])),
        },
        ["v1", "accounts", id, "ledger"] => match *method {
            Method::GET => {
                let org = api::org_id(req)?;
                let params =
                    LedgerParams::parse(query_pairs(req).iter().map(pair)).map_err(ledger_error)?;
                let view = ledger
                    .ledger(&org, id, &params)
                    .await
                    .map_err(ledger_error)?;
                Ok(json_response(StatusCode::OK, &view))
            }
            _ => Err(ApiError::method_not_allowed(&["GET"])),
        },
        ["v1", "accounts", id, "customers"] => match *method {
            Method::GET => {
                let org = api::org_id(req)?;
                let params =
                    PageParams::parse(query_pairs(req).iter().map(pair)).map_err(ledger_error)?;
                let view = ledger
                    .customers(&org, id, &params)
                    .await
                    .map_err(ledger_error)?;
                Ok(json_response(StatusCode::OK, &view))
            }
            _ => Err(ApiError::method_not_allowed(&["GET"])),
        },
        ["v1", "accounts", id, "notifications"] => match *method {
            Method::GET => {
                let org = api::org_id(req)?;
                let view = ledger.notifications(&org, id).await.map_err(ledger_error)?;
                Ok(json_response(StatusCode::OK, &view))
            }
            _ => Err(ApiError::method_not_allowed(&["GET"])),
        },
        ["v1", "accounts", id, "notifications", nid, "seen"] => match *method {
            Method::POST => {
                let org = api::org_id(req)?;
                let view = ledger
                    .mark_seen(&org, id, nid, Utc::now())
                    .await
                    .map_err(ledger_error)?;
                Ok(json_response(StatusCode::OK, &view))
            }
            _ => Err(ApiError::method_not_allowed(&["POST"])),
        },
        ["v1", "tripletex-keys"] => match *method {
            Method::POST => create_key(svc, req).await,
            Method::GET => list_keys(svc, req).await,
            _ => Err(ApiError::method_not_allowed(&["GET", "POST"])),
        },
        ["v1", "tripletex-keys", id] => match *method {
            Method::DELETE => delete_key(svc, req, id).await,
            _ => Err(ApiError::method_not_allowed(&["DELETE"])),
        },
        ["v1", "tripletex-keys", id, "clients"] => match *method {
            Method::GET => key_clients(svc, req, id).await,
            _ => Err(ApiError::method_not_allowed(&["GET"])),
        },
        _ => Err(ApiError::unknown_route(path)),
    }
}

// ------------------------------------------------------------------ endpoints

async fn create_account(svc: &SetupService, req: &Request) -> Result<Response<Body>, ApiError> {
    let org = api::org_id(req)?;
    let body = api::parse_json(req)?;
    let idempotency_key = req
        .headers()
        .get("idempotency-key")
        .map(|v| v.to_str().unwrap_or_default());
    let (account, created) = svc
        .create_account(&org, body, idempotency_key)
        .await
        .map_err(to_api)?;
    let mut response = json_response(created_or_ok(created), &AccountView::from(&account));
    set_location(&mut response, &format!("/v1/accounts/{}", account.id));
    Ok(response)
}

async fn list_accounts(svc: &SetupService, req: &Request) -> Result<Response<Body>, ApiError> {
    let org = api::org_id(req)?;
    let q = api::query_param(req, "q");
    let accounts = svc
        .list_accounts(&org, q.as_deref())
        .await
        .map_err(to_api)?;
    let views: Vec<AccountView> = accounts.iter().map(AccountView::from).collect();
    Ok(json_response(StatusCode::OK, &views))
}

async fn get_account(
    svc: &SetupService,
    req: &Request,
    id: &str,
) -> Result<Response<Body>, ApiError> {
    let org = api::org_id(req)?;
    let account = svc.get_account(&org, id).await.map_err(to_api)?;
    Ok(json_response(StatusCode::OK, &AccountView::from(&account)))
}

async fn create_key(svc: &SetupService, req: &Request) -> Result<Response<Body>, ApiError> {
    let org = api::org_id(req)?;
    let body = api::parse_json(req)?;
    let (key, created) = svc.create_key(&org, body).await.map_err(to_api)?;
    let mut response = json_response(created_or_ok(created), &KeyView::from(&key));
    set_location(&mut response, &format!("/v1/tripletex-keys/{}", key.id));
    Ok(response)
}

async fn list_keys(svc: &SetupService, req: &Request) -> Result<Response<Body>, ApiError> {
    let org = api::org_id(req)?;
    let keys = svc.list_keys(&org).await.map_err(to_api)?;
    let views: Vec<KeyView> = keys.iter().map(KeyView::from).collect();
    Ok(json_response(StatusCode::OK, &views))
}

async fn delete_key(
    svc: &SetupService,
    req: &Request,
    id: &str,
) -> Result<Response<Body>, ApiError> {
    let org = api::org_id(req)?;
    svc.delete_key(&org, id).await.map_err(to_api)?;
    Ok(empty_response(StatusCode::NO_CONTENT))
}

async fn key_clients(
    svc: &SetupService,
    req: &Request,
    id: &str,
) -> Result<Response<Body>, ApiError> {
    let org = api::org_id(req)?;
    let clients = svc.key_clients(&org, id).await.map_err(to_api)?;
    let views: Vec<ClientView> = clients.into_iter().map(ClientView::from).collect();
    Ok(json_response(StatusCode::OK, &views))
}

async fn get_integration(
    svc: &SetupService,
    req: &Request,
    id: &str,
) -> Result<Response<Body>, ApiError> {
    let org = api::org_id(req)?;
    let integration = svc.get_integration(&org, id).await.map_err(to_api)?;
    Ok(json_response(
        StatusCode::OK,
        &IntegrationView::from(&integration),
    ))
}

async fn put_integration(
    svc: &SetupService,
    req: &Request,
    id: &str,
) -> Result<Response<Body>, ApiError> {
    let org = api::org_id(req)?;
    let body = api::parse_json(req)?;
    let (integration, change) = svc.put_integration(&org, id, body).await.map_err(to_api)?;
    let status = match change {
        Change::Created => StatusCode::CREATED,
        Change::Updated | Change::Unchanged => StatusCode::OK,
    };
    Ok(json_response(status, &IntegrationView::from(&integration)))
}

async fn patch_integration(
    svc: &SetupService,
    req: &Request,
    id: &str,
) -> Result<Response<Body>, ApiError> {
    let org = api::org_id(req)?;
    let body = api::parse_json(req)?;
    let (integration, _) = svc
        .patch_integration(&org, id, body)
        .await
        .map_err(to_api)?;
    Ok(json_response(
        StatusCode::OK,
        &IntegrationView::from(&integration),
    ))
}

fn created_or_ok(created: bool) -> StatusCode {
    if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    }
}

fn set_location(response: &mut Response<Body>, location: &str) {
    if let Ok(v) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, v);
    }
}

/// The query string's parameters (each name once: a repeated name is its last value).
fn query_pairs(req: &Request) -> Vec<(String, String)> {
    req.query_string_parameters()
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn pair(p: &(String, String)) -> (&str, &str) {
    (p.0.as_str(), p.1.as_str())
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
        LedgerError::QueueUnavailable(message) => {
            tracing::warn!(error = %message, "the sync queue did not take the job");
            ApiError::unavailable(
                "temporarily_unavailable",
                "the sync could not be queued; try again shortly",
                5,
            )
        }
        LedgerError::Store(e) => {
            tracing::error!(error = %e, "internal error");
            ApiError::internal()
        }
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
        SetupError::BadGateway(message) => {
            tracing::error!(error = %message, "unexpected answer from Tripletex");
            ApiError::new(
                StatusCode::BAD_GATEWAY,
                "tripletex_unexpected",
                "Tripletex answered unexpectedly; try again later",
            )
        }
        SetupError::Internal(message) => {
            tracing::error!(error = %message, "internal error");
            ApiError::internal()
        }
    }
}
