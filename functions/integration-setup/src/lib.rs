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

use shared::http::openapi::ErrorBody;
use shared::http::{empty_response, json_response, with_location, ApiError, Reply, Req, Router};
use shared::services::ledger::{
    CustomersView, LedgerAnswer, LedgerError, LedgerParams, LedgerService, NotificationView,
    NotificationsView, PageParams, SyncRequested, SyncStatusView,
};
use shared::services::setup::{
    AccountView, Change, ClientView, CreateAccountRequest, CreateKeyRequest, IntegrationView,
    KeyView, Missing, PatchIntegrationRequest, PutIntegrationRequest, SetupError, SetupService,
};
use utoipa::OpenApi;

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

/// This function's part of the OpenAPI document: its routes, as the handlers below declare them.
#[derive(OpenApi)]
#[openapi(
    paths(
        create_account, list_accounts, get_account, get_integration, put_integration,
        patch_integration, sync_status, request_sync, ledger, customers, notifications, mark_seen,
        create_key, list_keys, delete_key, key_clients
    ),
    tags(
        (name = "accounts", description = "The companies whose claims Inndrive follows up"),
        (name = "integrations", description = "An account's connection to its Tripletex company"),
        (name = "ledger", description = "The mirrored customer ledger and its sync"),
        (name = "notifications", description = "What Inndrive tells the user (ledger ready, legal steps ready, limitation)"),
        (name = "tripletex-keys", description = "Tripletex employee tokens and accountant keys, kept in Secrets Manager")
    )
)]
pub struct ApiDoc;

/// Handles one API Gateway (HTTP API, payload 2.0) request. Never fails: every error is an answer.
pub async fn handle(svc: &Services, req: Request) -> Result<Response<Body>, lambda_http::Error> {
    Ok(ROUTER.serve(svc, req, Utc::now()).await)
}

// ------------------------------------------------------------------ accounts

#[utoipa::path(
    post,
    path = "/v1/accounts",
    operation_id = "createAccount",
    tag = "accounts",
    summary = "Creates an account (a company whose claims Inndrive follows up)",
    request_body = CreateAccountRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Repeating a request with the same key answers the account it created (200) instead of a second one", min_length = 1, max_length = 200)),
    responses((status = 201, description = "Created; `Location` names it", body = AccountView, headers(("Location" = String, description = "/v1/accounts/{id}")), links(("GetAccount" = (operation_id = "getAccount", parameters(("id" = "$response.body#/id")))), ("GetIntegration" = (operation_id = "getIntegration", parameters(("id" = "$response.body#/id")))), ("PutIntegration" = (operation_id = "putIntegration", parameters(("id" = "$response.body#/id")))), ("PatchIntegration" = (operation_id = "patchIntegration", parameters(("id" = "$response.body#/id")))), ("RequestSync" = (operation_id = "requestSync", parameters(("id" = "$response.body#/id")))), ("PutDunningPolicy" = (operation_id = "putDunningPolicy", parameters(("id" = "$response.body#/id")))), ("RunDunningNow" = (operation_id = "runDunningNow", parameters(("id" = "$response.body#/id")))))), (status = 200, description = "An earlier request with the same Idempotency-Key created it", body = AccountView), (status = 400, description = "`invalid_json`, `body_required`, `invalid_field`, `invalid_idempotency_key`", body = ErrorBody), (status = 409, description = "`idempotency_key_reused`: the key was used for a different request", body = ErrorBody), (status = 422, description = "`validation_failed`: `field` names the first invalid field, `details` lists them all", body = ErrorBody), (status = 500, description = "`internal_error`: our side failed; `requestId` names the log lines", body = ErrorBody))
)]
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

/// The longest account-name search (`q`).
const MAX_SEARCH_CHARS: usize = 200;

#[utoipa::path(
    get,
    path = "/v1/accounts",
    operation_id = "listAccounts",
    tag = "accounts",
    summary = "The organization's accounts",
    params(("q" = Option<String>, Query, description = "Only accounts whose name contains this (case-insensitive)", max_length = 200)),
    responses((status = 200, description = "The accounts, by name", body = Vec<AccountView>, links(("GetAccount" = (operation_id = "getAccount", parameters(("id" = "$response.body#/0/id")))), ("GetIntegration" = (operation_id = "getIntegration", parameters(("id" = "$response.body#/0/id")))), ("GetSyncStatus" = (operation_id = "getSyncStatus", parameters(("id" = "$response.body#/0/id")))), ("GetLedger" = (operation_id = "getLedger", parameters(("id" = "$response.body#/0/id")))), ("ListCustomers" = (operation_id = "listCustomers", parameters(("id" = "$response.body#/0/id")))), ("ListNotifications" = (operation_id = "listNotifications", parameters(("id" = "$response.body#/0/id")))), ("ListCases" = (operation_id = "listCases", parameters(("id" = "$response.body#/0/id")))), ("ListSettlements" = (operation_id = "listSettlements", parameters(("id" = "$response.body#/0/id")))), ("GetDunningPolicy" = (operation_id = "getDunningPolicy", parameters(("id" = "$response.body#/0/id")))), ("PreviewDunning" = (operation_id = "previewDunning", parameters(("id" = "$response.body#/0/id")))), ("ListDunningBatches" = (operation_id = "listDunningBatches", parameters(("id" = "$response.body#/0/id")))), ("ListUncertainNotices" = (operation_id = "listUncertainNotices", parameters(("id" = "$response.body#/0/id")))))), (status = 400, description = "`invalid_query` (`field` names the parameter), `invalid_cursor`", body = ErrorBody), (status = 500, description = "`internal_error`: our side failed; `requestId` names the log lines", body = ErrorBody))
)]
async fn list_accounts(svc: &Services, req: &Req) -> Reply {
    let org = req.org()?;
    let q = req.query("q");
    if q.as_ref()
        .is_some_and(|q| q.chars().count() > MAX_SEARCH_CHARS)
    {
        return Err(ApiError::bad_request(
            "invalid_query",
            format!("q is a name to search for, at most {MAX_SEARCH_CHARS} characters"),
        )
        .with_field("q"));
    }
    let accounts = svc
        .setup
        .list_accounts(&org, q.as_deref())
        .await
        .map_err(to_api)?;
    let views: Vec<AccountView> = accounts.iter().map(AccountView::from).collect();
    Ok(json_response(StatusCode::OK, &views))
}

#[utoipa::path(
    get,
    path = "/v1/accounts/{id}",
    operation_id = "getAccount",
    tag = "accounts",
    summary = "One account",
    params(("id" = String, Path, description = "The account id.", pattern = "^acc_[0-9a-z]{26,40}$", example = "acc_0192f0c4a1b27f3e8c1d2e3f4a5b6c7d")),
    responses((status = 200, description = "The account", body = AccountView), (status = 404, description = "`account_not_found`: no such account in the organization (another organization's account answers the same)", body = ErrorBody), (status = 500, description = "`internal_error`: our side failed; `requestId` names the log lines", body = ErrorBody))
)]
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

#[utoipa::path(
    get,
    path = "/v1/accounts/{id}/integration",
    operation_id = "getIntegration",
    tag = "integrations",
    summary = "The account's Tripletex integration",
    params(("id" = String, Path, description = "The account id.", pattern = "^acc_[0-9a-z]{26,40}$", example = "acc_0192f0c4a1b27f3e8c1d2e3f4a5b6c7d")),
    responses((status = 200, description = "The integration: settings, status, progress, the last sync", body = IntegrationView), (status = 404, description = "`account_not_found`, `integration_not_found` (the account has no integration yet)", body = ErrorBody), (status = 500, description = "`internal_error`: our side failed; `requestId` names the log lines", body = ErrorBody))
)]
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

#[utoipa::path(
    put,
    path = "/v1/accounts/{id}/integration",
    operation_id = "putIntegration",
    tag = "integrations",
    summary = "Connects the account to a Tripletex company, or replaces all settings",
    request_body = PutIntegrationRequest,
    params(("id" = String, Path, description = "The account id.", pattern = "^acc_[0-9a-z]{26,40}$", example = "acc_0192f0c4a1b27f3e8c1d2e3f4a5b6c7d")),
    responses((status = 201, description = "Created (the first sync is queued)", body = IntegrationView), (status = 200, description = "Updated or unchanged", body = IntegrationView), (status = 400, description = "`invalid_json`, `body_required`, `invalid_field` (the body does not fit; `field` names it)", body = ErrorBody), (status = 404, description = "`account_not_found`, `key_not_found` (`field`: `keyId`)", body = ErrorBody), (status = 409, description = "`concurrent_modification`", body = ErrorBody), (status = 422, description = "`validation_failed`; or Tripletex refused the key or the company (`tripletex_refused` or a specific code with `fix` in Norwegian and English and `tripletex` with its status and message)", body = ErrorBody), (status = 502, description = "`tripletex_unexpected`: Tripletex answered something we do not understand", body = ErrorBody), (status = 503, description = "`temporarily_unavailable`: an outside system is down; `Retry-After` says when to try again", body = ErrorBody), (status = 500, description = "`internal_error`: our side failed; `requestId` names the log lines", body = ErrorBody))
)]
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

#[utoipa::path(
    patch,
    path = "/v1/accounts/{id}/integration",
    operation_id = "patchIntegration",
    tag = "integrations",
    summary = "Changes some settings of the integration",
    request_body = PatchIntegrationRequest,
    params(("id" = String, Path, description = "The account id.", pattern = "^acc_[0-9a-z]{26,40}$", example = "acc_0192f0c4a1b27f3e8c1d2e3f4a5b6c7d")),
    responses((status = 200, description = "The integration as it is now", body = IntegrationView), (status = 400, description = "`invalid_json`, `body_required`, `invalid_field` (the body does not fit; `field` names it)", body = ErrorBody), (status = 404, description = "`account_not_found`, `integration_not_found`, `key_not_found`", body = ErrorBody), (status = 409, description = "`concurrent_modification`", body = ErrorBody), (status = 422, description = "`validation_failed`, `tripletex_refused` (as for PUT)", body = ErrorBody), (status = 502, description = "`tripletex_unexpected`", body = ErrorBody), (status = 503, description = "`temporarily_unavailable`: an outside system is down; `Retry-After` says when to try again", body = ErrorBody), (status = 500, description = "`internal_error`: our side failed; `requestId` names the log lines", body = ErrorBody))
)]
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

#[utoipa::path(
    get,
    path = "/v1/accounts/{id}/integration/status",
    operation_id = "getSyncStatus",
    tag = "ledger",
    summary = "The sync's status, progress and counts",
    params(("id" = String, Path, description = "The account id.", pattern = "^acc_[0-9a-z]{26,40}$", example = "acc_0192f0c4a1b27f3e8c1d2e3f4a5b6c7d")),
    responses((status = 200, description = "The status", body = SyncStatusView), (status = 404, description = "`account_not_found`, `integration_not_found` (the account has no integration yet)", body = ErrorBody), (status = 500, description = "`internal_error`: our side failed; `requestId` names the log lines", body = ErrorBody))
)]
async fn sync_status(svc: &Services, req: &Req) -> Reply {
    let org = req.org()?;
    let view = svc
        .ledger
        .status(&org, req.param("id")?, req.now())
        .await
        .map_err(ledger_error)?;
    Ok(json_response(StatusCode::OK, &view))
}

#[utoipa::path(
    post,
    path = "/v1/accounts/{id}/integration/sync",
    operation_id = "requestSync",
    tag = "ledger",
    summary = "Asks for a sync now (one queued job per integration; a repeat is deduplicated)",
    params(("id" = String, Path, description = "The account id.", pattern = "^acc_[0-9a-z]{26,40}$", example = "acc_0192f0c4a1b27f3e8c1d2e3f4a5b6c7d")),
    responses((status = 202, description = "Queued, or served by a sync already queued (`deduplicated`)", body = SyncRequested), (status = 404, description = "`account_not_found`, `integration_not_found` (the account has no integration yet)", body = ErrorBody), (status = 503, description = "`temporarily_unavailable`: the queue did not take the job", body = ErrorBody), (status = 500, description = "`internal_error`: our side failed; `requestId` names the log lines", body = ErrorBody))
)]
async fn request_sync(svc: &Services, req: &Req) -> Reply {
    let org = req.org()?;
    let r = svc
        .ledger
        .request_sync(&org, req.param("id")?, req.now())
        .await
        .map_err(ledger_error)?;
    Ok(json_response(StatusCode::ACCEPTED, &r))
}

#[utoipa::path(
    get,
    path = "/v1/accounts/{id}/ledger",
    operation_id = "getLedger",
    tag = "ledger",
    summary = "The mirrored customer ledger (reskontro), or the records the sync left out",
    params(("id" = String, Path, description = "The account id.", pattern = "^acc_[0-9a-z]{26,40}$", example = "acc_0192f0c4a1b27f3e8c1d2e3f4a5b6c7d"), ("overdue" = Option<bool>, Query, description = "Only items past due (true) or not (false)"), ("customer" = Option<i64>, Query, description = "Only this Tripletex customer id", minimum = 1), ("status" = Option<String>, Query, description = "open, closed or written_off_candidate", pattern = "^(open|closed|written_off_candidate)$"), ("skipped" = Option<String>, Query, description = "Instead of items: the records left out, `all` or one reason (not with `overdue` or `status`)", max_length = 64), ("limit" = Option<u32>, Query, description = "Page size (default 100)", minimum = 1, maximum = 500), ("cursor" = Option<String>, Query, description = "`nextCursor` of the previous page", min_length = 1, max_length = 2048)),
    responses((status = 200, description = "A page of items (`items`) or of skipped records (`skipped`)", body = LedgerAnswer), (status = 400, description = "`invalid_query` (`field` names the parameter), `invalid_cursor`", body = ErrorBody), (status = 404, description = "`account_not_found`, `integration_not_found` (the account has no integration yet)", body = ErrorBody), (status = 500, description = "`internal_error`: our side failed; `requestId` names the log lines", body = ErrorBody))
)]
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

#[utoipa::path(
    get,
    path = "/v1/accounts/{id}/customers",
    operation_id = "listCustomers",
    tag = "ledger",
    summary = "The account's Tripletex customers as the last sync read them",
    params(("id" = String, Path, description = "The account id.", pattern = "^acc_[0-9a-z]{26,40}$", example = "acc_0192f0c4a1b27f3e8c1d2e3f4a5b6c7d"), ("limit" = Option<u32>, Query, description = "Page size (default 100)", minimum = 1, maximum = 500), ("cursor" = Option<String>, Query, description = "`nextCursor` of the previous page", min_length = 1, max_length = 2048)),
    responses((status = 200, description = "A page of customers", body = CustomersView), (status = 400, description = "`invalid_query` (`field` names the parameter), `invalid_cursor`", body = ErrorBody), (status = 404, description = "`account_not_found`, `integration_not_found` (the account has no integration yet)", body = ErrorBody), (status = 500, description = "`internal_error`: our side failed; `requestId` names the log lines", body = ErrorBody))
)]
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

#[utoipa::path(
    get,
    path = "/v1/accounts/{id}/notifications",
    operation_id = "listNotifications",
    tag = "notifications",
    summary = "The account's notifications, newest first",
    params(("id" = String, Path, description = "The account id.", pattern = "^acc_[0-9a-z]{26,40}$", example = "acc_0192f0c4a1b27f3e8c1d2e3f4a5b6c7d")),
    responses((status = 200, description = "The notifications", body = NotificationsView, links(("MarkSeen" = (operation_id = "markNotificationSeen", parameters(("id" = "$request.path.id"), ("nid" = "$response.body#/notifications/0/id")))))), (status = 404, description = "`account_not_found`: no such account in the organization (another organization's account answers the same)", body = ErrorBody), (status = 500, description = "`internal_error`: our side failed; `requestId` names the log lines", body = ErrorBody))
)]
async fn notifications(svc: &Services, req: &Req) -> Reply {
    let org = req.org()?;
    let view = svc
        .ledger
        .notifications(&org, req.param("id")?)
        .await
        .map_err(ledger_error)?;
    Ok(json_response(StatusCode::OK, &view))
}

#[utoipa::path(
    post,
    path = "/v1/accounts/{id}/notifications/{nid}/seen",
    operation_id = "markNotificationSeen",
    tag = "notifications",
    summary = "Marks a notification seen (idempotent)",
    params(("id" = String, Path, description = "The account id.", pattern = "^acc_[0-9a-z]{26,40}$", example = "acc_0192f0c4a1b27f3e8c1d2e3f4a5b6c7d"), ("nid" = String, Path, description = "The notification id", min_length = 1, max_length = 200)),
    responses((status = 200, description = "The notification, seen", body = NotificationView), (status = 404, description = "`account_not_found`, `notification_not_found`", body = ErrorBody), (status = 500, description = "`internal_error`: our side failed; `requestId` names the log lines", body = ErrorBody))
)]
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

#[utoipa::path(
    post,
    path = "/v1/tripletex-keys",
    operation_id = "createTripletexKey",
    tag = "tripletex-keys",
    summary = "Stores a Tripletex employee token (or an accounting office's accountant key) in Secrets Manager; the answer shows only its last four characters",
    request_body = CreateKeyRequest,
    responses((status = 201, description = "Created; `Location` names it", body = KeyView, headers(("Location" = String, description = "/v1/tripletex-keys/{id}")), links(("GetClients" = (operation_id = "listKeyClients", parameters(("id" = "$response.body#/id")))), ("DeleteKey" = (operation_id = "deleteTripletexKey", parameters(("id" = "$response.body#/id")))))), (status = 200, description = "The same token was stored before: that key", body = KeyView), (status = 400, description = "`invalid_json`, `body_required`, `invalid_field` (the body does not fit; `field` names it)", body = ErrorBody), (status = 422, description = "`validation_failed`; Tripletex refused the token (`invalid_employee_token`, … with `fix`)", body = ErrorBody), (status = 502, description = "`tripletex_unexpected`", body = ErrorBody), (status = 503, description = "`temporarily_unavailable`: an outside system is down; `Retry-After` says when to try again", body = ErrorBody), (status = 500, description = "`internal_error`: our side failed; `requestId` names the log lines", body = ErrorBody))
)]
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

#[utoipa::path(
    get,
    path = "/v1/tripletex-keys",
    operation_id = "listTripletexKeys",
    tag = "tripletex-keys",
    summary = "The organization's Tripletex keys (never the token)",
    responses((status = 200, description = "The keys", body = Vec<KeyView>, links(("GetClients" = (operation_id = "listKeyClients", parameters(("id" = "$response.body#/0/id")))))), (status = 500, description = "`internal_error`: our side failed; `requestId` names the log lines", body = ErrorBody))
)]
async fn list_keys(svc: &Services, req: &Req) -> Reply {
    let org = req.org()?;
    let keys = svc.setup.list_keys(&org).await.map_err(to_api)?;
    let views: Vec<KeyView> = keys.iter().map(KeyView::from).collect();
    Ok(json_response(StatusCode::OK, &views))
}

#[utoipa::path(
    delete,
    path = "/v1/tripletex-keys/{id}",
    operation_id = "deleteTripletexKey",
    tag = "tripletex-keys",
    summary = "Deletes a key no integration uses (and its secret)",
    params(("id" = String, Path, description = "The Tripletex key id.", pattern = "^key_[0-9a-z]{26,40}$", example = "key_0192f0c4a1b27f3e8c1d2e3f4a5b6c7d")),
    responses((status = 204, description = "Deleted"), (status = 404, description = "`key_not_found`", body = ErrorBody), (status = 409, description = "`key_in_use`: `integrationCount` integrations use it; move them first", body = ErrorBody), (status = 500, description = "`internal_error`: our side failed; `requestId` names the log lines", body = ErrorBody))
)]
async fn delete_key(svc: &Services, req: &Req) -> Reply {
    let org = req.org()?;
    svc.setup
        .delete_key(&org, req.param("id")?)
        .await
        .map_err(to_api)?;
    Ok(empty_response(StatusCode::NO_CONTENT))
}

#[utoipa::path(
    get,
    path = "/v1/tripletex-keys/{id}/clients",
    operation_id = "listKeyClients",
    tag = "tripletex-keys",
    summary = "The companies the key reaches: the accounting office's clients for an accountant key, else the key's own company",
    params(("id" = String, Path, description = "The Tripletex key id.", pattern = "^key_[0-9a-z]{26,40}$", example = "key_0192f0c4a1b27f3e8c1d2e3f4a5b6c7d")),
    responses((status = 200, description = "The companies to pick from", body = Vec<ClientView>), (status = 404, description = "`key_not_found`", body = ErrorBody), (status = 422, description = "Tripletex refused the key (`tripletex_refused`, …)", body = ErrorBody), (status = 502, description = "`tripletex_unexpected`", body = ErrorBody), (status = 503, description = "`temporarily_unavailable`: an outside system is down; `Retry-After` says when to try again", body = ErrorBody), (status = 500, description = "`internal_error`: our side failed; `requestId` names the log lines", body = ErrorBody))
)]
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
