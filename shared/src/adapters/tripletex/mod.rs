//! Tripletex API v2 client.
//!
//! - Session tokens are created with `POST /token/session/:create` (consumer token + employee token +
//!   `expirationDate`), cached per [`EmployeeKey::cache_id`], renewed before they expire (they expire at
//!   the start of `expirationDate`, Oslo time; see [`session`]) and re-created once on a 401.
//! - Requests authenticate with Basic auth: user `0` for the key's own company, a client company id
//!   for an accountant key acting for that client ([`Acting`]).
//! - 429: wait until the reset announced by the last `X-Rate-Limit-Reset` (429 responses themselves
//!   lack it), else bounded exponential backoff; 5xx and transport failures are retried the same way
//!   ([`RetryPolicy`]).
//! - Lists are paged with `from`/`count`, stopping at a short page; `fullResultSize` is never trusted.
//! - Tokens are `SecretString`s: no `Debug` output, log line or error text contains them.

pub mod customer;
pub mod error;
pub mod invoice_pdf;
pub mod model;
pub mod recheck;
pub mod retry;
pub mod session;
pub mod voucher;

pub use customer::{is_version_conflict, AddressBody, UpdatedCustomer};
pub use error::{ApiError, TripletexError, ValidationMessage};
pub use model::{AccessReport, ClientCompany, Company, ProbeEndpoint, Ref, WhoAmI};
pub use retry::RetryPolicy;
pub use session::SessionPolicy;

use base64::Engine as _;
use chrono::{DateTime, Duration as ChronoDuration, NaiveDate, Utc};
use model::{ClientWire, CompanyWire, ListPage, Single, WhoAmIWire};
use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::fmt;
use std::marker::PhantomData;
use std::ops::ControlFlow;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Default page size (Tripletex's own default and a safe maximum).
pub const DEFAULT_PAGE_SIZE: u32 = 1000;

/// The current time; replaceable for tests of session renewal.
pub use crate::clock::Clock;

/// An employee token ("API-brukernøkkel" or an accounting office's key) and our id for it.
#[derive(Clone)]
pub struct EmployeeKey {
    /// Our key id; the session cache key.
    pub cache_id: String,
    pub token: SecretString,
}

impl EmployeeKey {
    pub fn new(cache_id: impl Into<String>, token: SecretString) -> Self {
        Self {
            cache_id: cache_id.into(),
            token,
        }
    }
}

impl fmt::Debug for EmployeeKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmployeeKey")
            .field("cache_id", &self.cache_id)
            .field("token", &"[redacted]")
            .finish()
    }
}

/// For which company a request acts: the Basic-auth user name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Acting {
    /// User `0`: the company that owns the key.
    OwnCompany,
    /// An accountant key acting for this client company id (from `>withLoginAccess`).
    Client(i64),
}

impl Acting {
    /// Whom a key acts for: an accountant key for the client company, an ordinary key for its
    /// own company (whatever `company_id` says).
    pub fn of_key(accountant_key: bool, company_id: i64) -> Self {
        if accountant_key {
            Acting::Client(company_id)
        } else {
            Acting::OwnCompany
        }
    }

    /// The Basic-auth user name.
    pub fn username(self) -> String {
        match self {
            Acting::OwnCompany => "0".to_string(),
            Acting::Client(id) => id.to_string(),
        }
    }
}

struct CachedSession {
    token: SecretString,
    expiration_date: NaiveDate,
    refresh_at: DateTime<Utc>,
    /// Which employee token the session was made from (a rotated key under the same id gets a new session).
    token_fingerprint: [u8; 32],
    generation: u64,
}

type SessionSlot = Arc<tokio::sync::Mutex<Option<CachedSession>>>;

#[derive(Clone, Copy)]
struct RateState {
    /// When the current rate-limit period ends (from the last `X-Rate-Limit-Reset`).
    reset_at: Instant,
    remaining: Option<u64>,
}

/// A successful-or-final HTTP exchange (429/5xx already retried away or turned into errors).
struct RawResponse {
    status: u16,
    request_id: Option<String>,
    body: Vec<u8>,
}

/// Whether a request may be sent again after a failure that may have been carried out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Repeat {
    /// Reads and idempotent writes: 429, 5xx and transport failures are retried.
    Safe,
    /// A write that creates something: only what Tripletex refused unprocessed (429) is retried.
    OnlyUnprocessed,
}

enum Retryable {
    RateLimited,
    Server(ApiError),
    Transport(String),
}

/// The Tripletex client. Cheap to clone; clones share the HTTP connection pool and the session cache.
#[derive(Clone)]
pub struct TripletexClient {
    base_url: String,
    consumer_token: SecretString,
    http: reqwest::Client,
    sessions: Arc<Mutex<HashMap<String, SessionSlot>>>,
    rate: Arc<Mutex<HashMap<String, RateState>>>,
    retry: RetryPolicy,
    session_policy: SessionPolicy,
    clock: Clock,
    generation: Arc<AtomicU64>,
    /// Requests sent again after a 429, a 5xx or a transport failure, since the client was made.
    retries: Arc<AtomicU64>,
    page_size: u32,
}

impl fmt::Debug for TripletexClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TripletexClient")
            .field("base_url", &self.base_url)
            .field("consumer_token", &"[redacted]")
            .field("retry", &self.retry)
            .field("session_policy", &self.session_policy)
            .field("page_size", &self.page_size)
            .finish()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn fingerprint(token: &SecretString) -> [u8; 32] {
    Sha256::digest(token.expose_secret().as_bytes()).into()
}

/// Transport errors without URL (tokens never go in URLs, but stay safe) and with their causes.
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

impl TripletexClient {
    /// `base_url` e.g. `https://tripletex.no/v2` or the sandbox's `http://127.0.0.1:PORT/v2`.
    pub fn new(base_url: impl Into<String>, consumer_token: SecretString) -> Self {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .pool_idle_timeout(Duration::from_secs(60))
            .user_agent(concat!("inndrive/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_else(|_| reqwest::Client::new());
        Self {
            base_url: base_url.into().trim_end_matches('/').to_string(),
            consumer_token,
            http,
            sessions: Arc::default(),
            rate: Arc::default(),
            retry: RetryPolicy::default(),
            session_policy: SessionPolicy::default(),
            clock: crate::clock::system(),
            generation: Arc::new(AtomicU64::new(0)),
            retries: Arc::new(AtomicU64::new(0)),
            page_size: DEFAULT_PAGE_SIZE,
        }
    }

    pub fn with_retry_policy(mut self, p: RetryPolicy) -> Self {
        self.retry = p;
        self
    }

    /// Bounds each request (connect + answer); a read that times out is sent again as the retry
    /// policy allows. Keeps the rest of the policy.
    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        self.retry.request_timeout = timeout;
        self
    }

    pub fn with_session_policy(mut self, p: SessionPolicy) -> Self {
        self.session_policy = p;
        self
    }

    /// Replaces the clock used for session expiry (tests).
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Page size for [`list`](Self::list) and [`pager`](Self::pager) (default 1000).
    pub fn with_page_size(mut self, n: u32) -> Self {
        self.page_size = n.max(1);
        self
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Drops the cached session of a key (e.g. when the key is deleted or replaced).
    /// Requests this client has sent again (after a 429, a 5xx or a transport failure) since it
    /// was made; a run reports the difference over its own requests.
    pub fn retries(&self) -> u64 {
        self.retries.load(Ordering::Relaxed)
    }

    pub async fn forget_session(&self, key: &EmployeeKey) {
        lock(&self.sessions).remove(&key.cache_id);
    }

    /// The `expirationDate` of the cached session of `key`, if one is cached.
    pub async fn cached_session_expiration(&self, key: &EmployeeKey) -> Option<NaiveDate> {
        let slot = lock(&self.sessions).get(&key.cache_id).cloned()?;
        let guard = slot.lock().await;
        guard.as_ref().map(|s| s.expiration_date)
    }

    // ---------------------------------------------------------------- public API

    /// `GET /token/session/>whoAmI`: who the key is, acting as `acting`.
    pub async fn who_am_i(
        &self,
        key: &EmployeeKey,
        acting: Acting,
    ) -> Result<WhoAmI, TripletexError> {
        let fields = "employeeId,actualEmployeeId,companyId,company(id,name,organizationNumber),employeeIsProxy,language";
        let w: WhoAmIWire = self
            .get_value(
                key,
                acting,
                "/token/session/>whoAmI",
                &[("fields", fields.to_string())],
            )
            .await?;
        let company = w.company;
        let company_id = w
            .company_id
            .or_else(|| company.as_ref().and_then(|c| c.id))
            .ok_or_else(|| TripletexError::Decode("whoAmI without companyId".into()))?;
        Ok(WhoAmI {
            employee_id: w
                .employee_id
                .ok_or_else(|| TripletexError::Decode("whoAmI without employeeId".into()))?,
            actual_employee_id: w.actual_employee_id,
            company_id,
            company_name: company.as_ref().and_then(|c| c.name.clone()),
            company_org_number: company.as_ref().and_then(|c| c.organization_number.clone()),
            employee_is_proxy: w.employee_is_proxy,
            language: w.language.filter(|s| !s.is_empty()),
        })
    }

    /// `GET /company/>withLoginAccess` (all pages): the client companies an accountant key reaches.
    pub async fn clients_with_login_access(
        &self,
        key: &EmployeeKey,
    ) -> Result<Vec<ClientCompany>, TripletexError> {
        let raw: Vec<ClientWire> = self
            .list(
                key,
                Acting::OwnCompany,
                "/company/>withLoginAccess",
                &[],
                "id,name,displayName,organizationNumber",
            )
            .await?;
        Ok(raw.into_iter().map(Into::into).collect())
    }

    /// `GET /company/{id}`.
    pub async fn company(
        &self,
        key: &EmployeeKey,
        acting: Acting,
        company_id: i64,
    ) -> Result<Company, TripletexError> {
        let w: CompanyWire = self
            .get_value(
                key,
                acting,
                &format!("/company/{company_id}"),
                &[(
                    "fields",
                    "id,name,organizationNumber,email,phoneNumber,type".to_string(),
                )],
            )
            .await?;
        Ok(Company {
            id: w.id.unwrap_or(company_id),
            name: w.name.unwrap_or_default(),
            organization_number: w.organization_number,
            email: w.email,
            phone_number: w.phone_number,
            company_type: w.company_type,
        })
    }

    /// Probes the endpoints Inndrive needs (customers, invoices, ledger postings, vouchers, accounts)
    /// acting as the company, with count=1 and minimal fields, and returns which are refused with 403.
    /// Any other failure (401, 429, 5xx, ...) is returned as an error.
    pub async fn probe_access(
        &self,
        key: &EmployeeKey,
        acting: Acting,
    ) -> Result<AccessReport, TripletexError> {
        let today = session::oslo_today((self.clock)());
        let from = "2000-01-01".to_string();
        let to = (today + ChronoDuration::days(1))
            .format("%Y-%m-%d")
            .to_string();
        let mut report = AccessReport::default();
        for endpoint in ProbeEndpoint::ALL {
            let mut query: Vec<(&str, String)> = match endpoint {
                ProbeEndpoint::Invoices => vec![
                    ("invoiceDateFrom", from.clone()),
                    ("invoiceDateTo", to.clone()),
                ],
                ProbeEndpoint::LedgerPostings | ProbeEndpoint::Vouchers => {
                    vec![("dateFrom", from.clone()), ("dateTo", to.clone())]
                }
                ProbeEndpoint::Customers | ProbeEndpoint::Accounts => vec![],
            };
            query.extend([
                ("from", "0".to_string()),
                ("count", "1".to_string()),
                ("fields", "id".to_string()),
            ]);
            match self
                .get_json::<ListPage<serde_json::Value>>(key, acting, endpoint.path(), &query)
                .await
            {
                Ok(_) => report.allowed.push(endpoint),
                Err(TripletexError::Forbidden(_)) => report.refused.push(endpoint),
                Err(e) => return Err(e),
            }
        }
        Ok(report)
    }

    /// All values of a list endpoint, paged with `from`/`count` until a short page.
    /// `query` must not contain `from`, `count` or `fields` (they are set here; duplicates are dropped);
    /// `fields` = "" means Tripletex's default selection.
    pub async fn list<T: DeserializeOwned>(
        &self,
        key: &EmployeeKey,
        acting: Acting,
        path: &str,
        query: &[(&str, String)],
        fields: &str,
    ) -> Result<Vec<T>, TripletexError> {
        let mut pager = self.pager::<T>(key, acting, path, query, fields);
        let mut all = Vec::new();
        while let Some(page) = pager.next_page().await? {
            all.extend(page);
        }
        Ok(all)
    }

    /// Like [`list`](Self::list) but hands each page to `f` as it arrives; `f` may stop early with
    /// `ControlFlow::Break`. Returns the number of values seen.
    pub async fn for_each_page<T, F>(
        &self,
        key: &EmployeeKey,
        acting: Acting,
        path: &str,
        query: &[(&str, String)],
        fields: &str,
        mut f: F,
    ) -> Result<u64, TripletexError>
    where
        T: DeserializeOwned,
        F: FnMut(Vec<T>) -> ControlFlow<()>,
    {
        let mut pager = self.pager::<T>(key, acting, path, query, fields);
        let mut seen = 0u64;
        while let Some(page) = pager.next_page().await? {
            seen += page.len() as u64;
            if f(page).is_break() {
                break;
            }
        }
        Ok(seen)
    }

    /// A page-at-a-time reader for large lists (await `next_page()` until `None`).
    pub fn pager<'a, T: DeserializeOwned>(
        &'a self,
        key: &'a EmployeeKey,
        acting: Acting,
        path: &str,
        query: &[(&str, String)],
        fields: &str,
    ) -> Pager<'a, T> {
        Pager {
            client: self,
            key,
            acting,
            path: path.to_string(),
            query: query
                .iter()
                .filter(|(k, _)| !matches!(*k, "from" | "count" | "fields"))
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
            fields: fields.to_string(),
            page_size: self.page_size,
            from: 0,
            done: false,
            _t: PhantomData,
        }
    }

    /// `GET path` returning `{ "value": T }`; `T` is returned.
    pub async fn get_value<T: DeserializeOwned>(
        &self,
        key: &EmployeeKey,
        acting: Acting,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<T, TripletexError> {
        let single: Single<T> = self.get_json(key, acting, path, query).await?;
        Ok(single.value)
    }

    /// `GET path` decoded as `T` (the whole body).
    pub async fn get_json<T: DeserializeOwned>(
        &self,
        key: &EmployeeKey,
        acting: Acting,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<T, TripletexError> {
        let result = async {
            let body = self.authed_get(key, acting, path, query).await?;
            serde_json::from_slice::<T>(&body)
                .map_err(|e| TripletexError::Decode(format!("GET {path}: {e}")))
        }
        .await;
        result.map_err(|e| self.scrub(e, key))
    }

    // ---------------------------------------------------------------- internals

    fn scrub(&self, mut e: TripletexError, key: &EmployeeKey) -> TripletexError {
        e.redact(&[
            self.consumer_token.expose_secret(),
            key.token.expose_secret(),
        ]);
        e
    }

    fn url(&self, path: &str) -> String {
        if path.starts_with('/') {
            format!("{}{}", self.base_url, path)
        } else {
            format!("{}/{}", self.base_url, path)
        }
    }

    /// GET with the key's session acting as `acting`; on 401 the session is re-created once and the
    /// request retried. Returns the body of a 2xx response.
    async fn authed_get(
        &self,
        key: &EmployeeKey,
        acting: Acting,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<Vec<u8>, TripletexError> {
        let url = self.url(path);
        self.authed(key, acting, path, |auth| {
            self.http.get(&url).query(query).header(AUTHORIZATION, auth)
        })
        .await
    }

    /// One request with the key's session acting as `acting` (Basic user = the company, password =
    /// the session token, marked sensitive): `request` builds it with that header. Retried as
    /// [`Self::send_with_retries`] says; on 401 the session is re-created once and the request
    /// repeated. The session token is redacted from every error. Returns the body of a 2xx response.
    pub(crate) async fn authed<F>(
        &self,
        key: &EmployeeKey,
        acting: Acting,
        path: &str,
        request: F,
    ) -> Result<Vec<u8>, TripletexError>
    where
        F: Fn(HeaderValue) -> reqwest::RequestBuilder,
    {
        self.authed_with(key, acting, path, Repeat::Safe, request)
            .await
    }

    /// [`Self::authed`] for a request that must not be repeated blindly (`Repeat::OnlyUnprocessed`:
    /// a POST that creates something). A 429 and a 401 are repeated (Tripletex refused them
    /// before doing anything); a 5xx or a transport failure is returned at once, since the
    /// request may have been carried out: the caller looks before it tries again.
    pub(crate) async fn authed_with<F>(
        &self,
        key: &EmployeeKey,
        acting: Acting,
        path: &str,
        repeat: Repeat,
        request: F,
    ) -> Result<Vec<u8>, TripletexError>
    where
        F: Fn(HeaderValue) -> reqwest::RequestBuilder,
    {
        let user = acting.username();
        let mut stale: Option<u64> = None;
        loop {
            let (session, generation) = self.session(key, stale).await?;
            let encoded = base64::engine::general_purpose::STANDARD
                .encode(format!("{user}:{}", session.expose_secret()));
            let mut auth = HeaderValue::from_str(&format!("Basic {encoded}")).map_err(|_| {
                TripletexError::Transport("session token is not header-safe".into())
            })?;
            auth.set_sensitive(true);
            let raw = self
                .send_with_retries(&key.cache_id, repeat, || request(auth.clone()))
                .await
                .map_err(|mut e| {
                    e.redact(&[session.expose_secret()]);
                    e
                })?;
            if raw.status == 401 && stale.is_none() {
                tracing::info!(key = %key.cache_id, path, "Tripletex 401; re-creating the session once");
                stale = Some(generation);
                continue;
            }
            if (200..300).contains(&raw.status) {
                return Ok(raw.body);
            }
            let mut err = TripletexError::from_status(ApiError::parse(
                raw.status,
                &raw.body,
                raw.request_id.as_deref(),
            ));
            err.redact(&[session.expose_secret()]);
            return Err(err);
        }
    }

    /// The cached session for `key`, created or renewed when missing, about to expire, made from
    /// another token, or equal to `stale_generation` (the one that just got a 401). One creation at a
    /// time per key (callers for the same key wait for it).
    async fn session(
        &self,
        key: &EmployeeKey,
        stale_generation: Option<u64>,
    ) -> Result<(SecretString, u64), TripletexError> {
        let slot = lock(&self.sessions)
            .entry(key.cache_id.clone())
            .or_default()
            .clone();
        let mut guard = slot.lock().await;
        let now = (self.clock)();
        let fp = fingerprint(&key.token);
        if let Some(s) = guard.as_ref() {
            let usable = Some(s.generation) != stale_generation
                && now < s.refresh_at
                && s.token_fingerprint == fp;
            if usable {
                return Ok((s.token.clone(), s.generation));
            }
        }
        *guard = None;
        let expiration_date = session::choose_expiration_date(now, &self.session_policy);
        let token = self.create_session(key, expiration_date).await?;
        let generation = self.generation.fetch_add(1, Ordering::Relaxed) + 1;
        tracing::debug!(key = %key.cache_id, %expiration_date, "Tripletex session created");
        *guard = Some(CachedSession {
            token: token.clone(),
            expiration_date,
            refresh_at: session::refresh_at(expiration_date, &self.session_policy),
            token_fingerprint: fp,
            generation,
        });
        Ok((token, generation))
    }

    /// `POST /token/session/:create`. An unknown, deleted or expired consumer/employee token comes back
    /// as 422 (code 18000, validation message on `arg:consumerToken`/`arg:employeeToken`) and is
    /// reported as `Unauthorized`, like a 401/403 here.
    async fn create_session(
        &self,
        key: &EmployeeKey,
        expiration_date: NaiveDate,
    ) -> Result<SecretString, TripletexError> {
        let url = self.url("/token/session/:create");
        let result = async {
            let raw = self
                .send_with_retries(&key.cache_id, Repeat::Safe, || {
                    self.http.post(&url).json(&serde_json::json!({
                        "consumerToken": self.consumer_token.expose_secret(),
                        "employeeToken": key.token.expose_secret(),
                        "expirationDate": expiration_date.format("%Y-%m-%d").to_string(),
                    }))
                })
                .await?;
            if (200..300).contains(&raw.status) {
                #[derive(serde::Deserialize)]
                struct TokenOnly {
                    token: Option<String>,
                }
                // No serde message here: it could quote the token.
                let parsed: Single<TokenOnly> = serde_json::from_slice(&raw.body).map_err(|e| {
                    TripletexError::Decode(format!(
                        "session token response is not valid JSON (line {}, column {})",
                        e.line(),
                        e.column()
                    ))
                })?;
                return match parsed.value.token {
                    Some(t) if !t.is_empty() => Ok(SecretString::from(t)),
                    _ => Err(TripletexError::Decode(
                        "session token response without a token".into(),
                    )),
                };
            }
            let api = ApiError::parse(raw.status, &raw.body, raw.request_id.as_deref());
            let token_refused = api.validation_messages.iter().any(|v| {
                v.field
                    .as_deref()
                    .is_some_and(|f| f.contains("employeeToken") || f.contains("consumerToken"))
            });
            Err(match raw.status {
                401 | 403 => TripletexError::Unauthorized(api),
                400 | 422 if token_refused => TripletexError::Unauthorized(api),
                _ => TripletexError::from_status(api),
            })
        }
        .await;
        result.map_err(|e| self.scrub(e, key))
    }

    fn note_rate_headers(&self, cache_id: &str, headers: &HeaderMap) {
        let num = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|s| s.trim().parse::<u64>().ok())
        };
        if let Some(reset) = num("x-rate-limit-reset") {
            lock(&self.rate).insert(
                cache_id.to_string(),
                RateState {
                    reset_at: Instant::now() + Duration::from_secs(reset),
                    remaining: num("x-rate-limit-remaining"),
                },
            );
        }
    }

    /// Time left until the last announced reset for this key, if it lies in the future.
    fn until_reset(&self, cache_id: &str) -> Option<Duration> {
        let state = lock(&self.rate).get(cache_id).copied()?;
        state.reset_at.checked_duration_since(Instant::now())
    }

    /// When the last response said no requests remain in this period, wait for the period to end.
    async fn respect_exhausted_budget(&self, cache_id: &str) {
        let state = lock(&self.rate).get(cache_id).copied();
        if let Some(RateState {
            reset_at,
            remaining: Some(0),
        }) = state
        {
            if let Some(wait) = reset_at.checked_duration_since(Instant::now()) {
                tokio::time::sleep(wait.min(self.retry.max_delay)).await;
            }
        }
    }

    /// Sends (a fresh build of) the request until it is neither 429, 5xx nor a transport failure, or
    /// the retry policy is exhausted.
    async fn send_with_retries<F>(
        &self,
        cache_id: &str,
        repeat: Repeat,
        build: F,
    ) -> Result<RawResponse, TripletexError>
    where
        F: Fn() -> reqwest::RequestBuilder,
    {
        let mut attempts = 0u32;
        let mut waited = Duration::ZERO;
        loop {
            attempts += 1;
            self.respect_exhausted_budget(cache_id).await;
            let outcome = match build().timeout(self.retry.request_timeout).send().await {
                Err(e) => Retryable::Transport(transport_text(e)),
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    let request_id = resp
                        .headers()
                        .get("x-tlx-request-id")
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_string);
                    // Tripletex's 429s lack X-Rate-Limit-Reset; should one carry it, it is used.
                    self.note_rate_headers(cache_id, resp.headers());
                    if status == 429 {
                        Retryable::RateLimited
                    } else {
                        match resp.bytes().await {
                            Err(e) => Retryable::Transport(transport_text(e)),
                            Ok(body) if status >= 500 => Retryable::Server(ApiError::parse(
                                status,
                                &body,
                                request_id.as_deref(),
                            )),
                            Ok(body) => {
                                return Ok(RawResponse {
                                    status,
                                    request_id,
                                    body: body.to_vec(),
                                })
                            }
                        }
                    }
                }
            };
            let wait = match &outcome {
                Retryable::RateLimited => self
                    .retry
                    .rate_limit_wait(attempts, self.until_reset(cache_id)),
                _ => self.retry.backoff(attempts),
            };
            let unprocessed = matches!(outcome, Retryable::RateLimited);
            let allowed = repeat == Repeat::Safe || unprocessed;
            if !allowed || !self.retry.may_retry(attempts, waited, wait) {
                return Err(match outcome {
                    Retryable::RateLimited => TripletexError::RateLimited { attempts },
                    Retryable::Server(e) => TripletexError::Server(e),
                    Retryable::Transport(s) => TripletexError::Transport(s),
                });
            }
            match &outcome {
                Retryable::RateLimited => {
                    tracing::warn!(
                        attempts,
                        wait_ms = wait.as_millis() as u64,
                        "Tripletex 429; waiting"
                    )
                }
                Retryable::Server(e) => {
                    tracing::warn!(
                        attempts,
                        status = e.status,
                        "Tripletex server error; retrying"
                    )
                }
                Retryable::Transport(s) => {
                    tracing::warn!(attempts, error = %s, "Tripletex transport error; retrying")
                }
            }
            self.retries.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(wait).await;
            waited += wait;
        }
    }
}

/// Reads a list endpoint one page at a time (see [`TripletexClient::pager`]).
pub struct Pager<'a, T> {
    client: &'a TripletexClient,
    key: &'a EmployeeKey,
    acting: Acting,
    path: String,
    query: Vec<(String, String)>,
    fields: String,
    page_size: u32,
    from: u64,
    done: bool,
    _t: PhantomData<fn() -> T>,
}

impl<T: DeserializeOwned> Pager<'_, T> {
    pub fn page_size(mut self, n: u32) -> Self {
        self.page_size = n.max(1);
        self
    }

    /// The next page, or `None` after the last (short or empty) page.
    pub async fn next_page(&mut self) -> Result<Option<Vec<T>>, TripletexError> {
        if self.done {
            return Ok(None);
        }
        let mut q: Vec<(&str, String)> = self
            .query
            .iter()
            .map(|(k, v)| (k.as_str(), v.clone()))
            .collect();
        q.push(("from", self.from.to_string()));
        q.push(("count", self.page_size.to_string()));
        if !self.fields.is_empty() {
            q.push(("fields", self.fields.clone()));
        }
        let page: ListPage<T> = self
            .client
            .get_json(self.key, self.acting, &self.path, &q)
            .await?;
        let n = page.values.len();
        // A short page is the last one; `fullResultSize` is not consulted.
        if n < self.page_size as usize {
            self.done = true;
        }
        self.from += n as u64;
        if n == 0 {
            return Ok(None);
        }
        Ok(Some(page.values))
    }

    /// Values read so far (the next page's `from`).
    pub fn position(&self) -> u64 {
        self.from
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acting_usernames() {
        assert_eq!(Acting::OwnCompany.username(), "0");
        assert_eq!(Acting::Client(4711).username(), "4711");
        assert_eq!(Acting::of_key(true, 4711), Acting::Client(4711));
        assert_eq!(Acting::of_key(false, 4711), Acting::OwnCompany);
    }

    #[test]
    fn debug_output_hides_tokens() {
        let key = EmployeeKey::new("k1", SecretString::from("employee-secret-xyz"));
        let client =
            TripletexClient::new("http://x/v2/", SecretString::from("consumer-secret-xyz"));
        let shown = format!("{key:?} {client:?}");
        assert!(!shown.contains("employee-secret-xyz"));
        assert!(!shown.contains("consumer-secret-xyz"));
        assert_eq!(client.base_url(), "http://x/v2");
    }
}
