//! Brønnøysundregistrene, Enhetsregisteret: `GET {base}/enheter/{orgnr}` (open data, no auth), and a
//! one-day cache of the answers.
//!
//! - 200: the entity. A deleted entity also answers 200, with a reduced body
//!   (`respons_klasse: "SlettetEnhet"`, `slettedato`).
//! - 410: removed from the open data ("Enheten er fjernet"); kept as an [`Entity`] with
//!   `removed_from_register` and the stop reason `RemovedFromRegister` (a `slettedato` in a 410 body
//!   also marks it deleted).
//! - 404: unknown number (also a sub-entity's number): `None`.
//! - 429, 5xx and transport failures are retried with bounded backoff; any other status is a typed
//!   error.
//!
//! What the answer means for dunning is the pure domain's business
//! ([`crate::domain::ledger::registry`]); [`Entity::status`] is its [`RegistryStatus`], computed
//! once when the answer is read, so a cached entity and a fresh one give the same status.
//!
//! [`CachedBrreg`] serves an answer (found, gone or not found) for a day after it was fetched. The
//! caller passes `now`; nothing here reads the clock. Cache stores: [`MemoryBrregCache`] and
//! [`DynamoBrregCache`] (item `PK=BRREG#{orgnr}`, `SK=ENTITY`, TTL attribute `expiresAt`).

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client as DynamoClient;
use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use crate::adapters::store::item::{key, s};
use crate::adapters::store::keys::{brreg_pk, BRREG_SK};
use crate::adapters::tripletex::RetryPolicy;
use crate::domain::ledger::registry::{
    status_from_lookup, RegistryLookup, RegistryStatus, StopReason,
};
use crate::domain::OrgNumber;

/// The production API base.
pub const PRODUCTION_BASE_URL: &str = "https://data.brreg.no/enhetsregisteret/api";

/// The pinned response version (the API versions by `Accept`; v1 answers 406 since 2026), with plain
/// JSON as a fallback.
pub const ACCEPT: &str =
    "application/vnd.brreg.enhetsregisteret.enhet.v2+json, application/json;q=0.5";

/// How long an answer is served from the cache.
pub const CACHE_MAX_AGE_SECS: i64 = 24 * 60 * 60;

/// Longest piece of an error body kept in an error text.
const MAX_ERROR_TEXT: usize = 200;
/// Largest body read as an entity (real ones are a few kB).
const MAX_BODY: usize = 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BrregError {
    /// A status other than 200/404/410 that is not worth retrying (400, 403, 406, ...).
    #[error("Enhetsregisteret answered HTTP {status}: {message}")]
    Status { status: u16, message: String },
    /// 429 or 5xx on every attempt.
    #[error("Enhetsregisteret still answered HTTP {status} after {attempts} attempts")]
    Unavailable { status: u16, attempts: u32 },
    /// Connection, timeout or TLS failure on every attempt (no URL in the text).
    #[error("Enhetsregisteret transport error after {attempts} attempts: {message}")]
    Transport { attempts: u32, message: String },
    /// A 200 body that is not an entity, or an entity with another number than asked for.
    #[error("Enhetsregisteret answer for {orgnr} could not be read: {message}")]
    Decode { orgnr: String, message: String },
    /// The cache store failed (the lookup itself may still succeed; see [`CachedBrreg`]).
    #[error("Enhetsregisteret cache: {0}")]
    Cache(String),
}

impl BrregError {
    /// Worth trying again later (rate limit, server or transport trouble, a failing cache).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::Unavailable { .. } | Self::Transport { .. } | Self::Cache(_)
        )
    }
}

/// An Enhetsregisteret address (`forretningsadresse` / `postadresse`); `adresse` is an array of
/// lines. Foreign addresses have no `postnummer`/`kommune`/`kommunenummer`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Address {
    #[serde(rename = "adresse")]
    pub lines: Vec<String>,
    #[serde(rename = "postnummer")]
    pub postal_code: Option<String>,
    #[serde(rename = "poststed")]
    pub city: Option<String>,
    #[serde(rename = "kommune")]
    pub municipality: Option<String>,
    #[serde(rename = "kommunenummer")]
    pub municipality_number: Option<String>,
    #[serde(rename = "land")]
    pub country: Option<String>,
    /// ISO 3166-1 alpha-2.
    #[serde(rename = "landkode")]
    pub country_code: Option<String>,
}

impl Address {
    fn is_empty(&self) -> bool {
        self.lines.iter().all(|l| l.trim().is_empty())
            && [
                &self.postal_code,
                &self.city,
                &self.municipality,
                &self.country,
                &self.country_code,
            ]
            .iter()
            .all(|f| f.as_deref().is_none_or(|s| s.trim().is_empty()))
    }
}

/// What the register answered for a number it knows (200 or 410).
#[derive(Debug, Clone, PartialEq)]
pub struct Entity {
    /// The number asked for (a 200 body naming another number is refused).
    pub org_number: OrgNumber,
    /// 410: removed from the open data.
    pub removed_from_register: bool,
    /// The domain's reading: stop flags (sorted), dates, name, postal address.
    pub status: RegistryStatus,
    /// The earliest `tvangsopplostPga…Dato` / `tvangsavvikletPga…Dato` (forced dissolution done).
    pub forced_dissolution_since: Option<NaiveDate>,
    pub postadresse: Option<Address>,
    pub forretningsadresse: Option<Address>,
    /// The body as received (`Null` for a 410 without a JSON body): provenance and the cache's copy.
    pub body: serde_json::Value,
}

/// Dates in the API that record a completed forced dissolution (`underTvangsavviklingEller…` is
/// the flag; these are set when it is done).
const FORCED_DISSOLUTION_DATES: [&str; 5] = [
    "tvangsopplostPgaManglendeDagligLederDato",
    "tvangsopplostPgaManglendeRevisorDato",
    "tvangsopplostPgaManglendeRegnskapDato",
    "tvangsopplostPgaMangelfulltStyreDato",
    "tvangsavvikletPgaManglendeSlettingDato",
];

#[derive(Deserialize, Default)]
#[serde(default)]
struct AddressWire {
    postadresse: Option<Address>,
    forretningsadresse: Option<Address>,
}

fn date_in(body: &serde_json::Value, field: &str) -> Option<Option<NaiveDate>> {
    match body.get(field)? {
        serde_json::Value::String(s) if s.trim().is_empty() => None,
        serde_json::Value::Null => None,
        serde_json::Value::String(s) => Some(NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok()),
        // Present but not a date: the fact counts, the date is unknown.
        _ => Some(None),
    }
}

impl Entity {
    /// Reads a 200 body.
    pub fn from_found(org: &OrgNumber, body: serde_json::Value) -> Result<Self, BrregError> {
        let decode = |message: String| BrregError::Decode {
            orgnr: org.to_string(),
            message,
        };
        if !body.is_object() {
            return Err(decode("not a JSON object".to_string()));
        }
        if let Some(v) = body.get("organisasjonsnummer").filter(|v| !v.is_null()) {
            let same = v
                .as_str()
                .and_then(|s| OrgNumber::parse(s).ok())
                .is_some_and(|o| &o == org);
            if !same {
                return Err(decode(
                    "the body names another organisasjonsnummer".to_string(),
                ));
            }
        }
        let mut status = status_from_lookup(org, &RegistryLookup::Found(body.clone()))
            .map_err(|e| decode(e.to_string()))?
            .ok_or_else(|| decode("no status".to_string()))?;
        let addresses: AddressWire =
            serde_json::from_value(body.clone()).map_err(|e| decode(e.to_string()))?;
        let dissolution_dates: Vec<Option<NaiveDate>> = FORCED_DISSOLUTION_DATES
            .iter()
            .filter_map(|f| date_in(&body, f))
            .collect();
        if !dissolution_dates.is_empty() && !status.forced_dissolution {
            // Dissolved by force even if the flag is missing: dunning stops as well.
            status.forced_dissolution = true;
            status.stop_reasons.push(StopReason::ForcedDissolution);
            status.stop_reasons.sort();
            status.stop_reasons.dedup();
        }
        if status.organization_number.is_none() {
            status.organization_number = Some(org.clone());
        }
        Ok(Self {
            org_number: org.clone(),
            removed_from_register: false,
            status,
            forced_dissolution_since: dissolution_dates.into_iter().flatten().min(),
            postadresse: addresses.postadresse.filter(|a| !a.is_empty()),
            forretningsadresse: addresses.forretningsadresse.filter(|a| !a.is_empty()),
            body,
        })
    }

    /// Reads a 410 answer (removed from the open data); the body is optional and only its
    /// `slettedato` is read.
    pub fn from_gone(org: &OrgNumber, body: serde_json::Value) -> Self {
        let mut status = RegistryStatus::removed(org);
        if let Some(deleted_on) = date_in(&body, "slettedato") {
            status.deleted = true;
            status.deleted_on = deleted_on;
            status.stop_reasons.push(StopReason::Deleted);
            status.stop_reasons.sort();
            status.stop_reasons.dedup();
        }
        Self {
            org_number: org.clone(),
            removed_from_register: true,
            status,
            forced_dissolution_since: None,
            postadresse: None,
            forretningsadresse: None,
            body,
        }
    }

    /// Why dunning must stop (sorted; empty = it may go on).
    pub fn stop_reasons(&self) -> Vec<StopReason> {
        self.status.stop_reasons.clone()
    }

    /// Deleted (`slettedato` / `SlettetEnhet`) or removed from the register (410).
    pub fn is_deleted(&self) -> bool {
        self.status.deleted || self.removed_from_register
    }

    /// The address for letters: `postadresse` if there is one, else `forretningsadresse`.
    pub fn postal_address(&self) -> Option<&Address> {
        self.postadresse
            .as_ref()
            .or(self.forretningsadresse.as_ref())
    }

    /// The answer in the domain's input type.
    pub fn lookup(&self) -> RegistryLookup {
        if self.removed_from_register {
            RegistryLookup::Gone
        } else {
            RegistryLookup::Found(self.body.clone())
        }
    }
}

/// The register client. Cheap to clone.
#[derive(Debug, Clone)]
pub struct BrregClient {
    base_url: String,
    http: reqwest::Client,
    retry: RetryPolicy,
}

/// The default retry policy: 3 attempts, at most 5 s of waiting, 10 s per request.
pub fn default_retry() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 3,
        base_delay: Duration::from_millis(250),
        max_delay: Duration::from_secs(2),
        max_total_wait: Duration::from_secs(5),
        request_timeout: Duration::from_secs(10),
    }
}

fn transport_text(e: reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connect"
    } else if e.is_body() || e.is_decode() {
        "body"
    } else {
        "request"
    };
    let e = e.without_url();
    let mut text = format!("{kind}: {e}");
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let s: String = text.trim().chars().take(MAX_ERROR_TEXT).collect();
    if s.is_empty() {
        "no body".to_string()
    } else {
        s
    }
}

enum Failure {
    Status(u16),
    Transport(String),
}

impl BrregClient {
    /// `base_url` e.g. [`PRODUCTION_BASE_URL`] or a stand-in's `http://127.0.0.1:PORT/enhetsregisteret/api`.
    pub fn new(base_url: impl Into<String>) -> Self {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .pool_idle_timeout(Duration::from_secs(60))
            .user_agent(concat!("inndrive/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_else(|_| reqwest::Client::new());
        Self {
            base_url: base_url.into().trim_end_matches('/').to_string(),
            http,
            retry: default_retry(),
        }
    }

    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// `GET {base}/enheter/{orgnr}`: `Some` for 200 and 410, `None` for 404.
    pub async fn entity(&self, orgnr: &OrgNumber) -> Result<Option<Entity>, BrregError> {
        let url = format!("{}/enheter/{}", self.base_url, orgnr.as_str());
        let mut attempts = 0u32;
        let mut waited = Duration::ZERO;
        loop {
            attempts += 1;
            let failure = match self
                .http
                .get(&url)
                .header(reqwest::header::ACCEPT, ACCEPT)
                .timeout(self.retry.request_timeout)
                .send()
                .await
            {
                Err(e) => Failure::Transport(transport_text(e)),
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    match status {
                        200 | 410 => match resp.bytes().await {
                            Err(e) if status == 200 => Failure::Transport(transport_text(e)),
                            // A 410's body is optional.
                            Err(_) => {
                                return Ok(Some(Entity::from_gone(orgnr, serde_json::Value::Null)))
                            }
                            Ok(bytes) => {
                                return self.read(orgnr, status, &bytes).map(Some);
                            }
                        },
                        404 => {
                            tracing::debug!(orgnr = %orgnr, "Enhetsregisteret: unknown number");
                            return Ok(None);
                        }
                        429 | 500..=599 => Failure::Status(status),
                        _ => {
                            let body = resp.bytes().await.unwrap_or_default();
                            return Err(BrregError::Status {
                                status,
                                message: snippet(&body),
                            });
                        }
                    }
                }
            };
            let wait = self.retry.backoff(attempts);
            if !self.retry.may_retry(attempts, waited, wait) {
                return Err(match failure {
                    Failure::Status(status) => BrregError::Unavailable { status, attempts },
                    Failure::Transport(message) => BrregError::Transport { attempts, message },
                });
            }
            match &failure {
                Failure::Status(status) => {
                    tracing::warn!(orgnr = %orgnr, status, attempts, "Enhetsregisteret unavailable; retrying")
                }
                Failure::Transport(message) => {
                    tracing::warn!(orgnr = %orgnr, error = %message, attempts, "Enhetsregisteret transport error; retrying")
                }
            }
            tokio::time::sleep(wait).await;
            waited += wait;
        }
    }

    fn read(&self, orgnr: &OrgNumber, status: u16, bytes: &[u8]) -> Result<Entity, BrregError> {
        if status == 410 {
            let body = serde_json::from_slice(bytes).unwrap_or(serde_json::Value::Null);
            return Ok(Entity::from_gone(orgnr, body));
        }
        if bytes.len() > MAX_BODY {
            return Err(BrregError::Decode {
                orgnr: orgnr.to_string(),
                message: format!("body of {} bytes is too large", bytes.len()),
            });
        }
        let body: serde_json::Value =
            serde_json::from_slice(bytes).map_err(|e| BrregError::Decode {
                orgnr: orgnr.to_string(),
                message: e.to_string(),
            })?;
        Entity::from_found(orgnr, body)
    }
}

// ---------------------------------------------------------------------------------------------
// Cache

/// A stored answer: the entity (200/410) or `None` (404), and when it was fetched.
#[derive(Debug, Clone, PartialEq)]
pub struct CachedLookup {
    pub entity: Option<Entity>,
    pub fetched_at: DateTime<Utc>,
}

/// Where [`CachedBrreg`] keeps answers.
#[async_trait]
pub trait BrregCache: Send + Sync {
    async fn get(&self, orgnr: &OrgNumber) -> Result<Option<CachedLookup>, BrregError>;
    async fn put(&self, orgnr: &OrgNumber, value: &CachedLookup) -> Result<(), BrregError>;
}

/// An in-process cache (tests, local tools, or in front of the DynamoDB one in a warm Lambda).
#[derive(Debug, Default)]
pub struct MemoryBrregCache {
    map: std::sync::Mutex<HashMap<OrgNumber, CachedLookup>>,
}

impl MemoryBrregCache {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.map
            .lock()
            .map(|m| m.len())
            .unwrap_or_else(|p| p.into_inner().len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[async_trait]
impl BrregCache for MemoryBrregCache {
    async fn get(&self, orgnr: &OrgNumber) -> Result<Option<CachedLookup>, BrregError> {
        let map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        Ok(map.get(orgnr).cloned())
    }

    async fn put(&self, orgnr: &OrgNumber, value: &CachedLookup) -> Result<(), BrregError> {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        map.insert(orgnr.clone(), value.clone());
        Ok(())
    }
}

/// The DynamoDB cache: one item per number in the app table.
///
/// `PK=BRREG#{orgnr}`, `SK=ENTITY` (`store::keys::brreg_pk`), `orgNumber`, `result` (`found` | `gone` | `not_found`),
/// `body` (the register's JSON as a string; `found` and `gone` with a body), `fetchedAt`
/// (RFC 3339, ms, UTC), `expiresAt` (epoch seconds, fetchedAt + 1 day: the table's TTL attribute).
/// A put never replaces a newer answer (`fetchedAt` compared in the condition).
#[derive(Debug, Clone)]
pub struct DynamoBrregCache {
    client: DynamoClient,
    table: String,
}

impl DynamoBrregCache {
    pub fn new(client: DynamoClient, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }
}

fn ddb_error<E>(e: E) -> BrregError
where
    E: std::error::Error + Send + Sync + 'static,
{
    BrregError::Cache(aws_sdk_dynamodb::error::DisplayErrorContext(&e).to_string())
}

fn rfc3339(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn corrupt(what: &str) -> BrregError {
    BrregError::Cache(format!("cached item is malformed: {what}"))
}

#[async_trait]
impl BrregCache for DynamoBrregCache {
    async fn get(&self, orgnr: &OrgNumber) -> Result<Option<CachedLookup>, BrregError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(brreg_pk(orgnr), BRREG_SK.into())))
            .send()
            .await
            .map_err(|e| ddb_error(e.into_service_error()))?;
        let Some(item) = out.item() else {
            return Ok(None);
        };
        let text = |name: &str| match item.get(name) {
            Some(AttributeValue::S(v)) => Some(v.as_str()),
            _ => None,
        };
        let fetched_at = text("fetchedAt")
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&Utc))
            .ok_or_else(|| corrupt("fetchedAt"))?;
        let body = || -> Result<serde_json::Value, BrregError> {
            match text("body") {
                None => Ok(serde_json::Value::Null),
                Some(raw) => serde_json::from_str(raw).map_err(|_| corrupt("body")),
            }
        };
        let entity = match text("result") {
            Some("found") => Some(Entity::from_found(orgnr, body()?).map_err(|_| corrupt("body"))?),
            Some("gone") => Some(Entity::from_gone(orgnr, body()?)),
            Some("not_found") => None,
            _ => return Err(corrupt("result")),
        };
        Ok(Some(CachedLookup { entity, fetched_at }))
    }

    async fn put(&self, orgnr: &OrgNumber, value: &CachedLookup) -> Result<(), BrregError> {
        let fetched_at = rfc3339(&value.fetched_at);
        let expires_at = value
            .fetched_at
            .timestamp()
            .saturating_add(CACHE_MAX_AGE_SECS);
        let result = match &value.entity {
            None => "not_found",
            Some(e) if e.removed_from_register => "gone",
            Some(_) => "found",
        };
        let mut req = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(key(brreg_pk(orgnr), BRREG_SK.into())))
            .item("orgNumber", s(orgnr.as_str()))
            .item("result", s(result))
            .item("fetchedAt", s(&fetched_at))
            .item("expiresAt", AttributeValue::N(expires_at.to_string()))
            .condition_expression("attribute_not_exists(PK) OR fetchedAt <= :f")
            .expression_attribute_values(":f", s(&fetched_at));
        if let Some(e) = &value.entity {
            if !e.body.is_null() {
                req = req.item("body", s(e.body.to_string()));
            }
        }
        match req.send().await {
            Ok(_) => Ok(()),
            Err(e) => {
                let service = e.into_service_error();
                if service.is_conditional_check_failed_exception() {
                    // A newer answer is already stored.
                    Ok(())
                } else {
                    Err(ddb_error(service))
                }
            }
        }
    }
}

/// An answer with its provenance.
#[derive(Debug, Clone, PartialEq)]
pub struct RegistryAnswer {
    /// `None`: the register does not know the number (404).
    pub entity: Option<Entity>,
    /// When the register gave this answer.
    pub fetched_at: DateTime<Utc>,
    pub from_cache: bool,
}

/// The client behind a cache: an answer fetched less than a day ago is served from the cache.
/// The cache is best effort: a failing cache read is a miss, a failing write is logged.
#[derive(Debug, Clone)]
pub struct CachedBrreg<C> {
    client: BrregClient,
    cache: C,
    max_age: chrono::Duration,
}

impl<C: BrregCache> CachedBrreg<C> {
    pub fn new(client: BrregClient, cache: C) -> Self {
        Self {
            client,
            cache,
            max_age: chrono::Duration::seconds(CACHE_MAX_AGE_SECS),
        }
    }

    pub fn cache(&self) -> &C {
        &self.cache
    }

    /// Fresh: fetched at or before `now`, less than a day ago.
    pub fn is_fresh(&self, fetched_at: DateTime<Utc>, now: DateTime<Utc>) -> bool {
        fetched_at <= now && now.signed_duration_since(fetched_at) < self.max_age
    }

    /// The entity as the register says, at most a day old.
    pub async fn entity(
        &self,
        orgnr: &OrgNumber,
        now: DateTime<Utc>,
    ) -> Result<RegistryAnswer, BrregError> {
        match self.cache.get(orgnr).await {
            Ok(Some(hit)) if self.is_fresh(hit.fetched_at, now) => {
                return Ok(RegistryAnswer {
                    entity: hit.entity,
                    fetched_at: hit.fetched_at,
                    from_cache: true,
                });
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(orgnr = %orgnr, error = %e, "Enhetsregisteret cache read failed; fetching");
            }
        }
        let entity = self.client.entity(orgnr).await?;
        let stored = CachedLookup {
            entity,
            fetched_at: now,
        };
        if let Err(e) = self.cache.put(orgnr, &stored).await {
            tracing::warn!(orgnr = %orgnr, error = %e, "Enhetsregisteret cache write failed");
        }
        Ok(RegistryAnswer {
            entity: stored.entity,
            fetched_at: now,
            from_cache: false,
        })
    }
}
