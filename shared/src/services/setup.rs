//! Integration setup: creditor accounts, Tripletex keys and one integration per account.
//!
//! Everything is scoped to the caller's organization (from the JWT, never from the request): an id
//! of another organization is simply not found. Keys are validated against Tripletex before anything
//! is stored; the employee token goes to Secrets Manager only. Setting up an integration checks that
//! the key reaches the company, stores the integration (`pending`) with a conditional write and
//! queues the initial sync on the FIFO queue (message group = key) with a deterministic
//! deduplication id, so a retried request neither doubles the integration nor the sync.

mod gateway;
pub use gateway::LazyTripletexGateway;
pub mod ports;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use chrono_tz::Europe::Oslo;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::adapters::queue::{QueueError, SyncJob, SyncReason};
use crate::adapters::secrets::SecretsError;
use crate::adapters::store::setup::{CreateIntegration, DeleteKey, UpdateIntegration};
use crate::adapters::store::StoreError;
use crate::domain::setup::{
    self as dom, Account, AccountId, FieldError, Integration, IntegrationId, IntegrationSettings,
    IntegrationSettingsPatch, IntegrationStatus, KeyId, LastSync, OrgId, SyncProgress,
    TripletexFix, TripletexKey,
};
pub use ports::{
    EmployeeCredential, GatewayError, JobQueue, ReachableCompany, SetupStore, TokenVault,
    TripletexGateway, VerifiedKey,
};

// ------------------------------------------------------------------ requests

/// `POST /v1/accounts`.
#[derive(utoipa::ToSchema, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateAccountRequest {
    pub name: String,
    #[serde(default)]
    pub organization_number: Option<String>,
}

/// `POST /v1/tripletex-keys`. The token is a [`SecretString`] from the moment it is parsed.
#[derive(utoipa::ToSchema, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateKeyRequest {
    pub label: String,
    /// The employee token (or the accounting office's accountant key) made in Tripletex.
    #[schema(value_type = String, format = Password)]
    pub employee_token: SecretString,
    pub accountant_key: bool,
}

/// `PUT /v1/accounts/{id}/integration`. Numbers are wide here so that out-of-range values get a 422
/// naming the field rather than a parse error.
#[derive(utoipa::ToSchema, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PutIntegrationRequest {
    pub key_id: String,
    pub client_company_id: i64,
    pub fetch_from: NaiveDate,
    pub days_past_due: i64,
    pub update_addresses_from_brreg: bool,
    /// Off when absent (added after the other settings; older clients do not send it).
    #[serde(default)]
    pub write_addresses_to_tripletex: bool,
    pub include_saft_imported: bool,
    pub include_null_voucher_type: bool,
    /// The voucher posting's accounts and rules; the defaults when absent.
    #[serde(default)]
    pub voucher_posting: Option<crate::domain::voucher::PostingSettings>,
}

/// `PATCH /v1/accounts/{id}/integration`: only the fields to change.
#[derive(utoipa::ToSchema, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PatchIntegrationRequest {
    pub key_id: Option<String>,
    pub client_company_id: Option<i64>,
    pub fetch_from: Option<NaiveDate>,
    pub days_past_due: Option<i64>,
    pub update_addresses_from_brreg: Option<bool>,
    pub write_addresses_to_tripletex: Option<bool>,
    pub include_saft_imported: Option<bool>,
    pub include_null_voucher_type: Option<bool>,
    pub voucher_posting: Option<crate::domain::voucher::PostingSettingsPatch>,
}

// ------------------------------------------------------------------ responses

fn time(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

#[derive(utoipa::ToSchema, Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountView {
    pub id: String,
    pub name: String,
    pub organization_number: Option<String>,
    pub created_at: String,
}

impl From<&Account> for AccountView {
    fn from(a: &Account) -> Self {
        Self {
            id: a.id.to_string(),
            name: a.name.clone(),
            organization_number: a.organization_number.as_ref().map(|o| o.to_string()),
            created_at: time(&a.created_at),
        }
    }
}

/// A key as the API shows it: never the token, only its last four characters.
#[derive(utoipa::ToSchema, Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyView {
    pub id: String,
    pub label: String,
    pub accountant_key: bool,
    pub company_name: Option<String>,
    pub token_hint: String,
    pub created_at: String,
    pub integration_count: u32,
}

impl From<&TripletexKey> for KeyView {
    fn from(k: &TripletexKey) -> Self {
        Self {
            id: k.id.to_string(),
            label: k.label.clone(),
            accountant_key: k.accountant_key,
            company_name: k.company_name.clone(),
            token_hint: k.token_hint.clone(),
            created_at: time(&k.created_at),
            integration_count: k.integration_count,
        }
    }
}

#[derive(utoipa::ToSchema, Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClientView {
    pub company_id: i64,
    pub name: String,
    pub organization_number: Option<String>,
}

impl From<ReachableCompany> for ClientView {
    fn from(c: ReachableCompany) -> Self {
        Self {
            company_id: c.company_id,
            name: c.name,
            organization_number: c.organization_number,
        }
    }
}

#[derive(utoipa::ToSchema, Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IntegrationView {
    pub id: String,
    pub account_id: String,
    pub settings: IntegrationSettings,
    pub client_company_name: Option<String>,
    pub status: IntegrationStatus,
    pub progress: Option<SyncProgress>,
    pub last_sync: Option<LastSync>,
    pub version: u32,
    pub created_at: String,
    pub updated_at: String,
}

impl From<&Integration> for IntegrationView {
    fn from(i: &Integration) -> Self {
        Self {
            id: i.id.to_string(),
            account_id: i.account_id.to_string(),
            settings: i.settings.clone(),
            client_company_name: i.client_company_name.clone(),
            status: i.status,
            progress: i.progress.clone(),
            last_sync: i.last_sync.clone(),
            version: i.version,
            created_at: time(&i.created_at),
            updated_at: time(&i.updated_at),
        }
    }
}

/// What `PUT`/`PATCH` of an integration did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Created,
    Updated,
    /// Identical settings: nothing changed, nothing new queued.
    Unchanged,
}

// ------------------------------------------------------------------ errors

/// Which thing was not found (in the caller's organization).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    Account,
    Key,
    Integration,
}

#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// Values that are well-formed but not acceptable (422).
    #[error("invalid input")]
    Invalid(Vec<FieldError>),
    /// Not found in the caller's organization (404; other organizations' ids look the same).
    #[error("{0:?} not found")]
    NotFound(Missing, Option<&'static str>),
    /// The key is used by integrations (409).
    #[error("the key is used by {0} integration(s)")]
    KeyInUse(u32),
    /// The `Idempotency-Key` header is empty or longer than 200 characters (400).
    #[error("malformed Idempotency-Key")]
    BadIdempotencyKey,
    /// The `Idempotency-Key` was used before for a different request (409).
    #[error("Idempotency-Key reused with another body")]
    IdempotencyKeyReused,
    /// A concurrent change won (409): read again and retry.
    #[error("the integration was changed concurrently")]
    Concurrent,
    /// Tripletex refused the key or the company (422), with the step that fixes it.
    #[error("Tripletex refused: {message}")]
    TripletexRefused {
        field: &'static str,
        fix: Option<TripletexFix>,
        status: u16,
        message: String,
        request_id: Option<String>,
        refused_endpoints: Vec<String>,
    },
    /// Tripletex (or our queue) is down for now (503 with a retry-after hint).
    #[error("temporarily unavailable: {message}")]
    Unavailable {
        message: String,
        retry_after_secs: u64,
    },
    /// Tripletex answered something unexpected (502).
    #[error("Tripletex: {0}")]
    BadGateway(String),
    /// Our own storage failed (500). The text is for logs, not for the user.
    #[error("internal: {0}")]
    Internal(String),
}

impl From<StoreError> for SetupError {
    fn from(e: StoreError) -> Self {
        Self::Internal(e.to_string())
    }
}
impl From<SecretsError> for SetupError {
    fn from(e: SecretsError) -> Self {
        Self::Internal(e.to_string())
    }
}

impl SetupError {
    fn from_gateway(e: GatewayError, field: &'static str) -> Self {
        match e {
            GatewayError::Refused {
                fix,
                status,
                message,
                request_id,
                refused_endpoints,
            } => Self::TripletexRefused {
                field,
                fix,
                status,
                message,
                request_id,
                refused_endpoints,
            },
            GatewayError::Unavailable {
                message,
                retry_after_secs,
            } => Self::Unavailable {
                message,
                retry_after_secs,
            },
            GatewayError::Unexpected(m) => Self::BadGateway(m),
        }
    }
}

fn queue_unavailable(e: QueueError) -> SetupError {
    tracing::error!(error = %e, "the sync queue refused the initial sync");
    SetupError::Unavailable {
        message: "the sync could not be queued; send the same request again".into(),
        retry_after_secs: 5,
    }
}

// ------------------------------------------------------------------ the service

pub use crate::clock::Clock;

pub struct SetupService {
    store: Arc<dyn SetupStore>,
    vault: Arc<dyn TokenVault>,
    queue: Arc<dyn JobQueue>,
    tripletex: Arc<dyn TripletexGateway>,
    clock: Clock,
}

/// 32 hex digits of SHA-256 over a purpose, the organization and a value: a stable id suffix that
/// does not reveal the value.
fn fingerprint(purpose: &str, org: &OrgId, value: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::new()
        .chain_update(b"inndrive:")
        .chain_update(purpose.as_bytes())
        .chain_update(b":")
        .chain_update(org.as_str().as_bytes())
        .chain_update(b":")
        .chain_update(value.as_bytes())
        .finalize();
    digest[..16].iter().map(|b| format!("{b:02x}")).collect()
}

fn new_suffix() -> String {
    uuid::Uuid::now_v7().simple().to_string()
}

// A UUID's simple form is 32 lowercase hex digits, which the id alphabet always accepts.
fn new_account_id() -> Result<AccountId, SetupError> {
    AccountId::from_suffix(&new_suffix()).map_err(|e| SetupError::Internal(e.to_string()))
}
fn new_integration_id() -> Result<IntegrationId, SetupError> {
    IntegrationId::from_suffix(&new_suffix()).map_err(|e| SetupError::Internal(e.to_string()))
}

/// Ids in paths: a malformed id is simply not found.
fn parse_account_id(raw: &str) -> Result<AccountId, SetupError> {
    AccountId::parse(raw).map_err(|_| SetupError::NotFound(Missing::Account, None))
}
fn parse_key_id(raw: &str, field: Option<&'static str>) -> Result<KeyId, SetupError> {
    KeyId::parse(raw).map_err(|_| SetupError::NotFound(Missing::Key, field))
}

impl SetupService {
    pub fn new(
        store: Arc<dyn SetupStore>,
        vault: Arc<dyn TokenVault>,
        queue: Arc<dyn JobQueue>,
        tripletex: Arc<dyn TripletexGateway>,
    ) -> Self {
        Self {
            store,
            vault,
            queue,
            tripletex,
            clock: crate::clock::system(),
        }
    }

    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    fn now(&self) -> DateTime<Utc> {
        (self.clock)()
    }

    /// Today in Norway (settings are dates as the user sees them).
    fn today(&self) -> NaiveDate {
        self.now().with_timezone(&Oslo).date_naive()
    }

    // -------------------------------------------------------------- accounts

    /// Creates an account. With an `Idempotency-Key` the id derives from it, so a repeated request
    /// returns the account it created (`false` = already existed) instead of a second one.
    pub async fn create_account(
        &self,
        org: &OrgId,
        req: CreateAccountRequest,
        idempotency_key: Option<&str>,
    ) -> Result<(Account, bool), SetupError> {
        let (name, organization_number) =
            dom::validate_new_account(&req.name, req.organization_number.as_deref())
                .map_err(SetupError::Invalid)?;
        let id = match idempotency_key {
            None => new_account_id()?,
            Some(k) => {
                let k = k.trim();
                if k.is_empty() || k.len() > 200 {
                    return Err(SetupError::BadIdempotencyKey);
                }
                AccountId::from_suffix(&fingerprint("account", org, k))
                    .map_err(|_| SetupError::BadIdempotencyKey)?
            }
        };
        let account = Account {
            id,
            org: org.clone(),
            name,
            organization_number,
            created_at: self.now(),
        };
        if self.store.put_account(&account).await? {
            tracing::info!(org = %org, account_id = %account.id, "account created");
            return Ok((account, true));
        }
        let existing = self
            .store
            .get_account(org, &account.id)
            .await?
            .ok_or_else(|| SetupError::Internal("account vanished after a conflict".into()))?;
        if idempotency_key.is_some()
            && existing.name == account.name
            && existing.organization_number == account.organization_number
        {
            Ok((existing, false))
        } else if idempotency_key.is_some() {
            Err(SetupError::IdempotencyKeyReused)
        } else {
            Err(SetupError::Internal("account id collision".into()))
        }
    }

    pub async fn list_accounts(
        &self,
        org: &OrgId,
        query: Option<&str>,
    ) -> Result<Vec<Account>, SetupError> {
        let mut accounts = self.store.list_accounts(org).await?;
        if let Some(q) = query {
            accounts.retain(|a| a.matches(q));
        }
        accounts.sort_by(|a, b| {
            (a.name.to_lowercase(), a.id.as_str()).cmp(&(b.name.to_lowercase(), b.id.as_str()))
        });
        Ok(accounts)
    }

    pub async fn get_account(&self, org: &OrgId, id: &str) -> Result<Account, SetupError> {
        let id = parse_account_id(id)?;
        self.store
            .get_account(org, &id)
            .await?
            .ok_or(SetupError::NotFound(Missing::Account, None))
    }

    // -------------------------------------------------------------- keys

    /// Validates the key with Tripletex, stores the token in the vault and the key item (no token) in
    /// the store. A refused key leaves nothing behind.
    ///
    /// The key id derives from the organization and the token, so pasting the same token again (a
    /// retry, a double click, or a user who forgot) returns the key already registered (`false`)
    /// without asking Tripletex or storing anything twice.
    pub async fn create_key(
        &self,
        org: &OrgId,
        req: CreateKeyRequest,
    ) -> Result<(TripletexKey, bool), SetupError> {
        let label = dom::validate_new_key(&req.label, req.employee_token.expose_secret())
            .map_err(SetupError::Invalid)?;
        let token = SecretString::from(req.employee_token.expose_secret().trim().to_string());
        let id = KeyId::from_suffix(&fingerprint("tripletex-key", org, token.expose_secret()))
            .map_err(|_| SetupError::Internal("key id derivation".into()))?;
        if let Some(existing) = self.store.get_key(org, &id).await? {
            return Ok((existing, false));
        }
        let credential = EmployeeCredential {
            cache_id: id.to_string(),
            token: token.clone(),
        };
        let verified = self
            .tripletex
            .verify_key(&credential, req.accountant_key)
            .await
            .map_err(|e| {
                tracing::info!(org = %org, error = %e, "Tripletex did not accept a new key");
                SetupError::from_gateway(e, "employeeToken")
            })?;
        let key = TripletexKey {
            id: id.clone(),
            org: org.clone(),
            label,
            accountant_key: req.accountant_key,
            company_id: verified.company_id,
            company_name: verified.company_name,
            token_hint: dom::token_hint(token.expose_secret()),
            created_at: self.now(),
            integration_count: 0,
        };
        // The secret's name derives from the token too: one that exists already holds this very
        // token (an earlier attempt, or a concurrent one, got that far).
        let created_secret = match self.vault.create(org, &id, &token).await {
            Ok(()) => true,
            Err(SecretsError::AlreadyExists(_)) => false,
            // The same token was deleted moments ago and AWS is still removing its secret.
            Err(SecretsError::NotYet(_)) => {
                return Err(SetupError::Unavailable {
                    message: "this key was deleted moments ago; register it again in a minute"
                        .into(),
                    retry_after_secs: 60,
                })
            }
            Err(e) => return Err(e.into()),
        };
        match self.store.put_key(&key).await {
            Ok(true) => {
                tracing::info!(org = %org, key_id = %id, accountant_key = key.accountant_key, "Tripletex key registered");
                Ok((key, true))
            }
            // A concurrent request stored it first.
            Ok(false) => match self.store.get_key(org, &id).await? {
                Some(existing) => Ok((existing, false)),
                None => Err(SetupError::Concurrent),
            },
            Err(e) => {
                if created_secret {
                    // Undo the secret so that nothing is left behind.
                    if let Err(e) = self.vault.delete(org, &id).await {
                        tracing::error!(org = %org, key_id = %id, error = %e, "could not remove the secret of a key whose item failed");
                    }
                }
                Err(e.into())
            }
        }
    }

    pub async fn list_keys(&self, org: &OrgId) -> Result<Vec<TripletexKey>, SetupError> {
        Ok(self.store.list_keys(org).await?)
    }

    async fn key(
        &self,
        org: &OrgId,
        id: &KeyId,
        field: Option<&'static str>,
    ) -> Result<TripletexKey, SetupError> {
        self.store
            .get_key(org, id)
            .await?
            .ok_or(SetupError::NotFound(Missing::Key, field))
    }

    async fn credential(&self, key: &TripletexKey) -> Result<EmployeeCredential, SetupError> {
        let token = self.vault.get(&key.org, &key.id).await?;
        Ok(EmployeeCredential {
            cache_id: key.id.to_string(),
            token,
        })
    }

    /// Deletes a key no integration uses: first the item (conditional), then the secret.
    pub async fn delete_key(&self, org: &OrgId, id: &str) -> Result<(), SetupError> {
        let id = parse_key_id(id, None)?;
        match self.store.delete_key(org, &id).await? {
            DeleteKey::Deleted => {}
            DeleteKey::NotFound => return Err(SetupError::NotFound(Missing::Key, None)),
            DeleteKey::InUse(n) => return Err(SetupError::KeyInUse(n)),
        }
        if let Err(e) = self.vault.delete(org, &id).await {
            // The item is gone, so the key can no longer be used; the secret is an orphan to clean up.
            tracing::error!(org = %org, key_id = %id, error = %e, "key deleted but its secret could not be deleted");
        }
        tracing::info!(org = %org, key_id = %id, "Tripletex key deleted");
        Ok(())
    }

    /// The companies a key reaches (an accountant key's clients; an ordinary key's own company).
    pub async fn key_clients(
        &self,
        org: &OrgId,
        id: &str,
    ) -> Result<Vec<ReachableCompany>, SetupError> {
        let id = parse_key_id(id, None)?;
        let key = self.key(org, &id, None).await?;
        let credential = self.credential(&key).await?;
        self.tripletex
            .list_clients(&credential, key.accountant_key)
            .await
            .map_err(|e| SetupError::from_gateway(e, "keyId"))
    }

    // -------------------------------------------------------------- integrations

    pub async fn get_integration(
        &self,
        org: &OrgId,
        account_id: &str,
    ) -> Result<Integration, SetupError> {
        let account_id = parse_account_id(account_id)?;
        if let Some(i) = self.store.get_integration(org, &account_id).await? {
            return Ok(i);
        }
        // Tell "no such account" from "no integration yet" (both within the caller's organization).
        match self.store.get_account(org, &account_id).await? {
            None => Err(SetupError::NotFound(Missing::Account, None)),
            Some(_) => Err(SetupError::NotFound(Missing::Integration, None)),
        }
    }

    /// `PUT`: sets up (or replaces the settings of) an account's integration.
    pub async fn put_integration(
        &self,
        org: &OrgId,
        account_id: &str,
        req: PutIntegrationRequest,
    ) -> Result<(Integration, Change), SetupError> {
        let account_id = parse_account_id(account_id)?;
        let settings = self.settings_from_put(req)?;
        self.store
            .get_account(org, &account_id)
            .await?
            .ok_or(SetupError::NotFound(Missing::Account, None))?;
        self.apply(org, &account_id, |_| Ok(settings.clone())).await
    }

    /// `PATCH`: changes some settings of an existing integration.
    pub async fn patch_integration(
        &self,
        org: &OrgId,
        account_id: &str,
        req: PatchIntegrationRequest,
    ) -> Result<(Integration, Change), SetupError> {
        let account_id = parse_account_id(account_id)?;
        let patch = self.patch_from_request(req)?;
        // 404 for a missing account or a missing integration, before anything else.
        self.get_integration(org, account_id.as_str()).await?;
        self.apply(org, &account_id, |existing| match existing {
            Some(i) => Ok(patch.apply(&i.settings)),
            None => Err(SetupError::NotFound(Missing::Integration, None)),
        })
        .await
    }

    fn settings_from_put(
        &self,
        req: PutIntegrationRequest,
    ) -> Result<IntegrationSettings, SetupError> {
        let key_id = parse_key_id(&req.key_id, Some("keyId"))?;
        let settings = IntegrationSettings {
            key_id,
            client_company_id: req.client_company_id,
            fetch_from: req.fetch_from,
            days_past_due: u16::try_from(req.days_past_due).unwrap_or(u16::MAX),
            update_addresses_from_brreg: req.update_addresses_from_brreg,
            write_addresses_to_tripletex: req.write_addresses_to_tripletex,
            include_saft_imported: req.include_saft_imported,
            include_null_voucher_type: req.include_null_voucher_type,
            voucher_posting: req.voucher_posting.unwrap_or_default(),
        };
        settings
            .validate(self.today())
            .map_err(SetupError::Invalid)?;
        Ok(settings)
    }

    fn patch_from_request(
        &self,
        req: PatchIntegrationRequest,
    ) -> Result<IntegrationSettingsPatch, SetupError> {
        let key_id = match req.key_id {
            None => None,
            Some(raw) => Some(parse_key_id(&raw, Some("keyId"))?),
        };
        Ok(IntegrationSettingsPatch {
            key_id,
            client_company_id: req.client_company_id,
            fetch_from: req.fetch_from,
            days_past_due: req
                .days_past_due
                .map(|d| u16::try_from(d).unwrap_or(u16::MAX)),
            update_addresses_from_brreg: req.update_addresses_from_brreg,
            write_addresses_to_tripletex: req.write_addresses_to_tripletex,
            include_saft_imported: req.include_saft_imported,
            include_null_voucher_type: req.include_null_voucher_type,
            voucher_posting: req.voucher_posting,
        })
    }

    /// The common path of PUT and PATCH: read, decide, write conditionally, queue; on a lost race
    /// read again (a bounded number of times).
    async fn apply<F>(
        &self,
        org: &OrgId,
        account_id: &AccountId,
        desired: F,
    ) -> Result<(Integration, Change), SetupError>
    where
        F: Fn(Option<&Integration>) -> Result<IntegrationSettings, SetupError>,
    {
        for _ in 0..3 {
            let existing = self.store.get_integration(org, account_id).await?;
            let settings = desired(existing.as_ref())?;
            settings
                .validate(self.today())
                .map_err(SetupError::Invalid)?;

            if let Some(current) = &existing {
                if current.settings == settings {
                    // A repeated request: nothing to change. Finish a queueing that failed before.
                    let current = self.ensure_initial_sync_queued(current.clone()).await?;
                    return Ok((current, Change::Unchanged));
                }
            }

            let key = self.key(org, &settings.key_id, Some("keyId")).await?;
            let resync = existing
                .as_ref()
                .is_none_or(|c| c.settings.needs_new_initial_sync(&settings));
            let company_name = if resync {
                let credential = self.credential(&key).await?;
                let company = self
                    .tripletex
                    .check_client_access(&credential, key.accountant_key, settings.client_company_id)
                    .await
                    .map_err(|e| {
                        tracing::info!(org = %org, key_id = %key.id, company = settings.client_company_id, error = %e, "Tripletex refused the company");
                        SetupError::from_gateway(e, "clientCompanyId")
                    })?;
                Some(company.name).filter(|n| !n.is_empty())
            } else {
                existing
                    .as_ref()
                    .and_then(|c| c.client_company_name.clone())
            };
            self.check_posting_accounts(&key, existing.as_ref(), &settings)
                .await?;
            let now = self.now();

            match existing {
                None => {
                    let integration = Integration {
                        id: new_integration_id()?,
                        org: org.clone(),
                        account_id: account_id.clone(),
                        settings,
                        accountant_key: key.accountant_key,
                        client_company_name: company_name,
                        status: IntegrationStatus::Pending,
                        version: 1,
                        initial_sync_version: 1,
                        initial_sync_enqueued: false,
                        progress: None,
                        last_sync: None,
                        created_at: now,
                        updated_at: now,
                    };
                    match self.store.create_integration(&integration).await? {
                        CreateIntegration::Created => {
                            tracing::info!(org = %org, account_id = %account_id, integration_id = %integration.id, key_id = %key.id, "integration created");
                            let integration = self.ensure_initial_sync_queued(integration).await?;
                            return Ok((integration, Change::Created));
                        }
                        CreateIntegration::AlreadyExists => continue,
                        CreateIntegration::KeyMissing => {
                            return Err(SetupError::NotFound(Missing::Key, Some("keyId")))
                        }
                        CreateIntegration::AccountMissing => {
                            return Err(SetupError::NotFound(Missing::Account, None))
                        }
                    }
                }
                Some(current) => {
                    let mut next = current.clone();
                    next.settings = settings;
                    next.accountant_key = key.accountant_key;
                    next.client_company_name = company_name;
                    next.version = current.version + 1;
                    next.updated_at = now;
                    if resync {
                        next.status = IntegrationStatus::Pending;
                        next.initial_sync_version = next.version;
                        next.initial_sync_enqueued = false;
                        next.progress = None;
                    }
                    match self
                        .store
                        .update_integration(
                            &next,
                            current.version,
                            &current.settings.key_id,
                            resync,
                        )
                        .await?
                    {
                        UpdateIntegration::Updated => {
                            tracing::info!(org = %org, account_id = %account_id, version = next.version, resync, "integration settings changed");
                            let next = if resync {
                                self.ensure_initial_sync_queued(next).await?
                            } else {
                                next
                            };
                            return Ok((next, Change::Updated));
                        }
                        UpdateIntegration::VersionConflict => continue,
                        UpdateIntegration::KeyMissing => {
                            return Err(SetupError::NotFound(Missing::Key, Some("keyId")))
                        }
                    }
                }
            }
        }
        Err(SetupError::Concurrent)
    }

    /// The account numbers chosen for voucher posting exist in the client's chart of accounts
    /// (checked with Tripletex when they change): else 422 naming the field.
    async fn check_posting_accounts(
        &self,
        key: &TripletexKey,
        existing: Option<&Integration>,
        settings: &IntegrationSettings,
    ) -> Result<(), SetupError> {
        let chosen = settings.voucher_posting.chosen_accounts();
        let unchanged = existing.is_some_and(|e| {
            e.settings.client_company_id == settings.client_company_id
                && e.settings
                    .voucher_posting
                    .chosen_accounts()
                    .iter()
                    .map(|c| c.number)
                    .eq(chosen.iter().map(|c| c.number))
        });
        if chosen.is_empty() || unchanged {
            return Ok(());
        }
        let numbers: Vec<u32> = chosen.iter().map(|c| c.number).collect();
        let credential = self.credential(key).await?;
        let found = self
            .tripletex
            .existing_accounts(
                &credential,
                key.accountant_key,
                settings.client_company_id,
                &numbers,
            )
            .await
            .map_err(|e| SetupError::from_gateway(e, "voucherPosting"))?;
        let missing: Vec<FieldError> = chosen
            .iter()
            .filter(|c| !found.contains(&c.number))
            .map(|c| {
                FieldError::new(
                    c.field,
                    "account_not_in_chart",
                    format!(
                        "account {} does not exist in the client's chart of accounts in Tripletex (or is inactive)",
                        c.number
                    ),
                )
            })
            .collect();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(SetupError::Invalid(missing))
        }
    }

    /// Queues the initial sync of `i.initial_sync_version` unless that is already done. The
    /// deduplication id is derived from it, so a repeat within SQS's window is dropped by SQS, and the
    /// `initialSyncEnqueued` flag stops repeats after it.
    async fn ensure_initial_sync_queued(
        &self,
        mut i: Integration,
    ) -> Result<Integration, SetupError> {
        if i.initial_sync_enqueued {
            return Ok(i);
        }
        let job = SyncJob {
            org: i.org.clone(),
            account_id: i.account_id.clone(),
            integration_id: i.id.clone(),
            key_id: i.settings.key_id.clone(),
            client_company_id: i.settings.client_company_id,
            reason: SyncReason::Initial,
            settings_version: i.initial_sync_version,
            requested_at: self.now(),
        };
        self.queue.enqueue(&job).await.map_err(queue_unavailable)?;
        self.store
            .mark_initial_sync_enqueued(&i.org, &i.account_id, i.initial_sync_version)
            .await?;
        tracing::info!(integration_id = %i.id, key_id = %job.key_id, dedup = %job.deduplication_id(), "initial sync queued");
        i.initial_sync_enqueued = true;
        Ok(i)
    }
}
