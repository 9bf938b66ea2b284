//! The HTTP server: `/v2/...` behaves like Tripletex for the endpoints Inndrive uses; `/_sandbox/...`
//! is the sandbox's own admin API (faults, counters, clock, keys).

use crate::faults::{FaultState, Faults};
use crate::fields::Selection;
use crate::fixture::{EmployeeKeyFixture, Entitlement, Fixture, COLLECTIONS};
use crate::generator::{self, CompanyData, GenSpec};
use crate::store::{self, CompanyStore, Row};
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Europe::Oslo;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

mod vouchers;

/// Request counters, for tests and benchmarks (`GET /_sandbox/stats`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Stats {
    /// Successful session creations.
    pub session_creates: u64,
    /// All /v2 requests.
    pub total_requests: u64,
    /// "METHOD /v2/decoded/path" → count.
    pub requests_by_path: BTreeMap<String, u64>,
    /// HTTP status → count.
    pub responses_by_status: BTreeMap<u16, u64>,
    /// Requests that got an injected fault (429, 5xx, truncation, a hang, a closed connection).
    pub faults_injected: u64,
}

impl Stats {
    /// Requests whose "METHOD path" key contains `needle`.
    pub fn requests_matching(&self, needle: &str) -> u64 {
        self.requests_by_path
            .iter()
            .filter(|(k, _)| k.contains(needle))
            .map(|(_, v)| v)
            .sum()
    }
}

struct SessionRec {
    id: i64,
    key_token: String,
    consumer_id: i64,
    expiration_date: NaiveDate,
}

struct RateWindow {
    started: DateTime<Utc>,
    used: u64,
}

pub(crate) struct AppState {
    fixture: RwLock<Fixture>,
    sessions: Mutex<HashMap<String, SessionRec>>,
    faults: Mutex<FaultState>,
    stats: Mutex<Stats>,
    rate: Mutex<HashMap<String, RateWindow>>,
    clock_offset_secs: AtomicI64,
    next_id: AtomicU64,
    /// Indexed collections per company (fixture objects and generated ones).
    stores: RwLock<HashMap<i64, CompanyStore>>,
    /// Enhetsregisteret stand-in: orgnr → (status, body).
    brreg: HashMap<String, (u16, Value)>,
    /// Per company: the accounting periods through this date are closed (locked).
    locks: Mutex<HashMap<i64, NaiveDate>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl AppState {
    pub(crate) fn new(fixture: Fixture, faults: Faults) -> Self {
        let now = Utc::now();
        let t_all = std::time::Instant::now();
        let mut stores = HashMap::new();
        for c in &fixture.companies {
            let data = c.generate.as_ref().map(|spec| {
                let spec = GenSpec {
                    today: Some(spec.today.unwrap_or_else(|| oslo_today(now))),
                    ..spec.clone()
                };
                let t0 = std::time::Instant::now();
                let data = generator::generate(&spec);
                tracing::info!(
                    company = c.id,
                    postings = data.postings.len(),
                    vouchers = data.vouchers.len(),
                    invoices = data.invoices.len(),
                    customers = data.customers.len(),
                    elapsed_ms = t0.elapsed().as_millis() as u64,
                    "generated client company"
                );
                Arc::new(data)
            });
            stores.insert(c.id, CompanyStore::build(c, data, now));
        }
        let t0 = std::time::Instant::now();
        let brreg = store::brreg_entries(&fixture.companies, &stores);
        tracing::info!(
            brreg_entities = brreg.len(),
            brreg_ms = t0.elapsed().as_millis() as u64,
            total_ms = t_all.elapsed().as_millis() as u64,
            "sandbox data ready (generation, indexes, brreg)"
        );
        Self {
            stores: RwLock::new(stores),
            brreg,
            fixture: RwLock::new(fixture),
            sessions: Mutex::default(),
            faults: Mutex::new(FaultState::new(faults)),
            stats: Mutex::default(),
            rate: Mutex::default(),
            clock_offset_secs: AtomicI64::new(0),
            next_id: AtomicU64::new(1),
            locks: Mutex::default(),
        }
    }

    /// The date through which `company`'s periods are locked, if any.
    pub(crate) fn locked_through(&self, company: i64) -> Option<NaiveDate> {
        lock(&self.locks).get(&company).copied()
    }

    /// Locks (`Some`) or opens (`None`) `company`'s periods through a date.
    pub(crate) fn set_locked_through(&self, company: i64, date: Option<NaiveDate>) {
        match date {
            Some(d) => lock(&self.locks).insert(company, d),
            None => lock(&self.locks).remove(&company),
        };
    }

    /// Creates a voucher as the company's own bookkeeper would (no key, no rights checked; the
    /// same rules otherwise), e.g. a debtor's payment. Returns the voucher or Tripletex's error.
    pub(crate) fn book_voucher(&self, company: i64, body: &Value) -> Result<Value, Value> {
        vouchers::create_voucher(self, company, body, true).map_err(|e| e.body("admin"))
    }

    /// The company's objects of a collection in wire format (vouchers, postings, invoices).
    pub(crate) fn objects(&self, company: i64, collection: &str) -> Vec<Value> {
        self.stores()
            .get(&company)
            .map(|s| s.objects(collection))
            .unwrap_or_default()
    }

    pub(crate) fn now(&self) -> DateTime<Utc> {
        Utc::now() + Duration::seconds(self.clock_offset_secs.load(Ordering::Relaxed))
    }

    pub(crate) fn stats(&self) -> Stats {
        lock(&self.stats).clone()
    }

    pub(crate) fn reset_stats(&self) {
        *lock(&self.stats) = Stats::default();
    }

    pub(crate) fn set_faults(&self, f: Faults) {
        lock(&self.faults).replace(f);
    }

    pub(crate) fn faults(&self) -> Faults {
        lock(&self.faults).faults.clone()
    }

    pub(crate) fn advance_clock(&self, secs: i64) {
        self.clock_offset_secs.fetch_add(secs, Ordering::Relaxed);
    }

    /// Marks an employee key deleted (or not); returns false if unknown.
    pub(crate) fn set_key_deleted(&self, token: &str, deleted: bool) -> bool {
        let mut f = self.fixture.write().unwrap_or_else(|p| p.into_inner());
        match f.employee_keys.iter_mut().find(|k| k.token == token) {
            Some(k) => {
                k.deleted = deleted;
                true
            }
            None => false,
        }
    }

    /// Forgets every session (their tokens then get 401, as after expiry or revocation).
    pub(crate) fn revoke_sessions(&self) -> usize {
        let mut s = lock(&self.sessions);
        let n = s.len();
        s.clear();
        n
    }

    /// The session tokens currently known (tests use them to check nothing leaks them).
    pub(crate) fn session_tokens(&self) -> Vec<String> {
        lock(&self.sessions).keys().cloned().collect()
    }

    /// The generated data of a company, if it has any.
    pub(crate) fn company_data(&self, company_id: i64) -> Option<Arc<CompanyData>> {
        self.stores().get(&company_id).and_then(|s| s.data.clone())
    }

    /// Updates a customer (shallow merge of `patch`), stamping an UPDATE change at the sandbox
    /// clock's now. False if the company or customer is unknown.
    pub(crate) fn update_customer(&self, company_id: i64, customer_id: i64, patch: &Value) -> bool {
        let now = self.now();
        let mut stores = self.stores.write().unwrap_or_else(|p| p.into_inner());
        stores
            .get_mut(&company_id)
            .is_some_and(|s| s.update_customer(customer_id, patch, now))
    }

    /// Registers a payment on an invoice (see `CompanyStore::register_payment`).
    pub(crate) fn register_payment(
        &self,
        company_id: i64,
        invoice_id: i64,
        date: NaiveDate,
        amount: f64,
    ) -> Option<i64> {
        let mut stores = self.stores.write().unwrap_or_else(|p| p.into_inner());
        stores
            .get_mut(&company_id)
            .and_then(|s| s.register_payment(invoice_id, date, amount))
    }

    /// A customer as stored (wire format, `changes` included), for assertions.
    pub(crate) fn customer(&self, company_id: i64, customer_id: i64) -> Option<Value> {
        let stores = self.stores();
        let store = stores.get(&company_id)?;
        let row = store.table("customers")?.get(customer_id)?;
        Some(store.render("customers", row))
    }

    fn stores(&self) -> std::sync::RwLockReadGuard<'_, HashMap<i64, CompanyStore>> {
        self.stores.read().unwrap_or_else(|p| p.into_inner())
    }

    fn fixture(&self) -> std::sync::RwLockReadGuard<'_, Fixture> {
        self.fixture.read().unwrap_or_else(|p| p.into_inner())
    }
}

pub(crate) fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/_sandbox/health", get(|| async { "ok" }))
        .route("/_sandbox/stats", get(admin_stats))
        .route("/_sandbox/stats/reset", post(admin_stats_reset))
        .route(
            "/_sandbox/faults",
            get(admin_get_faults).post(admin_set_faults),
        )
        .route("/_sandbox/clock", post(admin_clock))
        .route("/_sandbox/keys", post(admin_keys))
        .route("/_sandbox/sessions/revoke", post(admin_revoke))
        .route("/_sandbox/customers/update", post(admin_update_customer))
        .route("/_sandbox/invoices/pay", post(admin_pay_invoice))
        .route("/enhetsregisteret/api/enheter/{orgnr}", get(brreg_enhet))
        .fallback(v2)
        .with_state(state)
}

async fn admin_stats(State(s): State<Arc<AppState>>) -> Json<Stats> {
    Json(s.stats())
}

async fn admin_stats_reset(State(s): State<Arc<AppState>>) -> Json<Stats> {
    s.reset_stats();
    Json(s.stats())
}

async fn admin_get_faults(State(s): State<Arc<AppState>>) -> Json<Faults> {
    Json(s.faults())
}

async fn admin_set_faults(State(s): State<Arc<AppState>>, body: Bytes) -> Response {
    match serde_json::from_slice::<Faults>(&body) {
        Ok(f) => {
            s.set_faults(f);
            Json(s.faults()).into_response()
        }
        Err(e) => (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": {"code": "bad_faults", "message": e.to_string()}})),
        )
            .into_response(),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ClockBody {
    advance_seconds: i64,
}

async fn admin_clock(State(s): State<Arc<AppState>>, body: Bytes) -> Response {
    match serde_json::from_slice::<ClockBody>(&body) {
        Ok(b) => {
            s.advance_clock(b.advance_seconds);
            Json(json!({"now": s.now().to_rfc3339()})).into_response()
        }
        Err(e) => (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": {"code": "bad_clock", "message": e.to_string()}})),
        )
            .into_response(),
    }
}

async fn admin_revoke(State(s): State<Arc<AppState>>) -> Json<Value> {
    Json(json!({"revoked": s.revoke_sessions()}))
}

#[derive(Deserialize)]
struct KeysBody {
    token: String,
    deleted: bool,
}

async fn admin_keys(State(s): State<Arc<AppState>>, body: Bytes) -> Response {
    match serde_json::from_slice::<KeysBody>(&body) {
        Ok(b) if s.set_key_deleted(&b.token, b.deleted) => {
            Json(json!({"deleted": b.deleted})).into_response()
        }
        Ok(_) => (
            StatusCode::NOT_FOUND,
            Json(json!({"error": {"code": "unknown_key", "message": "no such employee key"}})),
        )
            .into_response(),
        Err(e) => (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": {"code": "bad_keys", "message": e.to_string()}})),
        )
            .into_response(),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UpdateCustomerBody {
    company_id: i64,
    customer_id: i64,
    #[serde(default)]
    patch: Value,
}

async fn admin_update_customer(State(s): State<Arc<AppState>>, body: Bytes) -> Response {
    match serde_json::from_slice::<UpdateCustomerBody>(&body) {
        Ok(b) if s.update_customer(b.company_id, b.customer_id, &b.patch) => {
            Json(json!({"updated": true})).into_response()
        }
        Ok(_) => (
            StatusCode::NOT_FOUND,
            Json(json!({"error": {"code": "unknown_customer", "message": "no such company or customer"}})),
        )
            .into_response(),
        Err(e) => (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": {"code": "bad_update", "message": e.to_string()}})),
        )
            .into_response(),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PayInvoiceBody {
    company_id: i64,
    invoice_id: i64,
    date: NaiveDate,
    amount: f64,
}

/// `POST /_sandbox/invoices/pay {companyId, invoiceId, date, amount}`: a payment booked in
/// Tripletex after the sync (see `SandboxHandle::register_payment`).
async fn admin_pay_invoice(State(s): State<Arc<AppState>>, body: Bytes) -> Response {
    match serde_json::from_slice::<PayInvoiceBody>(&body) {
        Ok(b) if b.amount > 0.0 => match s.register_payment(b.company_id, b.invoice_id, b.date, b.amount) {
            Some(voucher) => Json(json!({"voucherId": voucher})).into_response(),
            None => (
                StatusCode::NOT_FOUND,
                Json(json!({"error": {"code": "unknown_invoice", "message": "no such company or invoice"}})),
            )
                .into_response(),
        },
        Ok(_) => (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": {"code": "bad_payment", "message": "amount must be positive"}})),
        )
            .into_response(),
        Err(e) => (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": {"code": "bad_payment", "message": e.to_string()}})),
        )
            .into_response(),
    }
}

// ---------------------------------------------------------------------- Enhetsregisteret stand-in

/// `GET /enhetsregisteret/api/enheter/{orgnr}` as data.brreg.no answers it: 200 entity; 200 with
/// the reduced `SlettetEnhet` body for a deleted entity; 410 for one removed from the open data;
/// 404 for an unknown number; 400 for a malformed one; 406 for the retired v1 media type.
async fn brreg_enhet(
    State(s): State<Arc<AppState>>,
    axum::extract::Path(orgnr): axum::extract::Path<String>,
    headers: HeaderMap,
) -> Response {
    {
        let mut st = lock(&s.stats);
        *st.requests_by_path
            .entry(format!("GET /enhetsregisteret/api/enheter/{orgnr}"))
            .or_default() += 1;
    }
    let path = format!("/enhetsregisteret/api/enheter/{orgnr}");
    let err = |status: u16, error: &str, message: &str| {
        (
            status,
            json!({"timestamp": Utc::now().format("%Y-%m-%dT%H:%M:%S%.3f+00:00").to_string(),
                   "status": status, "error": error, "message": message, "path": path}),
        )
    };
    let accept = headers
        .get("accept")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let (status, body) = if accept.contains("enhetsregisteret.enhet.v1") {
        err(406, "Not Acceptable", "Ikke støttet versjon")
    } else if orgnr.len() != 9 || !orgnr.bytes().all(|b| b.is_ascii_digit()) {
        err(400, "Bad Request", "Ugyldig organisasjonsnummer")
    } else {
        match s.brreg.get(&orgnr) {
            Some((st, b)) => (*st, b.clone()),
            None => err(
                404,
                "Not Found",
                "Ingen enhet med organisasjonsnummer funnet",
            ),
        }
    };
    lock(&s.stats)
        .responses_by_status
        .entry(status)
        .and_modify(|c| *c += 1)
        .or_insert(1);
    let mut resp = (
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        serde_json::to_vec(&body).unwrap_or_default(),
    )
        .into_response();
    let ct = if status == 200 {
        "application/vnd.brreg.enhetsregisteret.enhet.v2+json;charset=UTF-8"
    } else {
        "application/json"
    };
    resp.headers_mut()
        .insert("content-type", HeaderValue::from_static(ct));
    resp.headers_mut()
        .insert("cache-control", HeaderValue::from_static("no-store"));
    resp
}

// ------------------------------------------------------------------------------------------ /v2

/// A Tripletex error (status + ApiError body).
pub(crate) struct TxError {
    status: u16,
    code: i64,
    message: String,
    validation: Vec<(String, String)>,
}

impl TxError {
    fn new(status: u16, code: i64, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            validation: Vec::new(),
        }
    }
    fn unauthorized(msg: &str) -> Self {
        Self::new(401, 3000, msg)
    }
    fn forbidden(msg: &str) -> Self {
        Self::new(403, 9000, msg)
    }
    fn validation(field: &str, message: &str) -> Self {
        Self {
            status: 422,
            code: 18000,
            message: "Validering feilet.".into(),
            validation: vec![(field.into(), message.into())],
        }
    }
    fn body(&self, request_id: &str) -> Value {
        let mut b = json!({
            "status": self.status,
            "code": self.code,
            "message": self.message,
            "link": "https://tripletex.no/v2-docs/",
            "developerMessage": Value::Null,
            "validationMessages": Value::Null,
            "requestId": request_id,
        });
        if !self.validation.is_empty() {
            b["validationMessages"] = Value::Array(
                self.validation
                    .iter()
                    .map(|(f, m)| json!({"field": f, "message": m, "path": f, "rootId": Value::Null}))
                    .collect(),
            );
        }
        b
    }
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push(h * 16 + l);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Start of `date` in Oslo.
fn start_of(date: NaiveDate) -> DateTime<Utc> {
    let midnight = date.and_hms_opt(0, 0, 0).unwrap_or_default();
    Oslo.from_local_datetime(&midnight)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| Utc.from_utc_datetime(&midnight))
}

fn oslo_today(now: DateTime<Utc>) -> NaiveDate {
    now.with_timezone(&Oslo).date_naive()
}

/// Who is calling, for whom, with what rights.
struct Ctx {
    key: EmployeeKeyFixture,
    acting_company: i64,
    /// Accountant key acting for a client.
    proxy: bool,
    /// Accountant key with user 0: only >whoAmI and >withLoginAccess.
    accountant_own: bool,
    entitlements: BTreeSet<Entitlement>,
}

struct Req<'a> {
    method: &'a Method,
    path: &'a str,
    query: &'a [(String, String)],
    headers: &'a HeaderMap,
    body: &'a Bytes,
    base: String,
}

impl Req<'_> {
    fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

struct Reply {
    status: u16,
    body: Value,
    /// A non-JSON body (content type, bytes): a PDF, or the empty body of a 304.
    raw: Option<(&'static str, Vec<u8>)>,
    /// The employee token whose rate budget this request used.
    budget_key: Option<String>,
}

async fn v2(
    State(state): State<Arc<AppState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = percent_decode(uri.path());
    let request_id = uuid::Uuid::new_v4().to_string();
    let stat_key = format!("{method} {path}");
    {
        let mut st = lock(&state.stats);
        st.total_requests += 1;
        *st.requests_by_path.entry(stat_key.clone()).or_default() += 1;
    }
    // A rule's `pathContains` is matched against "METHOD /v2/path", so a rule can name a
    // method ("POST /v2/ledger/voucher") as well as a part of the path.
    let decision = lock(&state.faults).decide(&stat_key);
    if decision.latency_ms > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(decision.latency_ms)).await;
    }
    let rate_limit = state.faults().rate_limit;
    let finish = |status: u16, body: Vec<u8>, rate: Option<(u64, u64, Option<u64>)>| {
        lock(&state.stats)
            .responses_by_status
            .entry(status)
            .and_modify(|c| *c += 1)
            .or_insert(1);
        let mut resp = (
            StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            body,
        )
            .into_response();
        let h = resp.headers_mut();
        h.insert(
            "content-type",
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
        if let Ok(v) = HeaderValue::from_str(&request_id) {
            h.insert("x-tlx-request-id", v);
        }
        h.insert("server", HeaderValue::from_static("tripletex-sandbox"));
        if let Some((limit, remaining, reset)) = rate {
            h.insert("x-rate-limit-limit", HeaderValue::from(limit));
            h.insert("x-rate-limit-remaining", HeaderValue::from(remaining));
            if let Some(r) = reset {
                h.insert("x-rate-limit-reset", HeaderValue::from(r));
            }
        }
        resp
    };

    // No answer at all: the connection is closed (after a hang longer than the client waits).
    if let Some(ms) = decision.drop_connection_after_ms {
        lock(&state.stats).faults_injected += 1;
        if ms > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
        }
        return crate::serve::dropped_connection();
    }

    // Injected 429 / 5xx.
    if let Some((with_reset, reset)) = decision.rate_limit {
        lock(&state.stats).faults_injected += 1;
        let e = TxError::new(429, 0, "Too Many Requests");
        let body = serde_json::to_vec(&e.body(&request_id)).unwrap_or_default();
        return finish(
            429,
            body,
            Some((rate_limit.limit, 0, with_reset.then_some(reset))),
        );
    }
    if let Some(status) = decision.server_error {
        lock(&state.stats).faults_injected += 1;
        let e = TxError::new(status, 1000, "En feil har oppstått (sandbox fault).");
        let body = serde_json::to_vec(&e.body(&request_id)).unwrap_or_default();
        return finish(status, body, None);
    }

    if decision.unauthorized {
        lock(&state.stats).faults_injected += 1;
        let e = TxError::unauthorized("Ugyldig eller utløpt sesjonstoken (sandbox fault).");
        let body = serde_json::to_vec(&e.body(&request_id)).unwrap_or_default();
        return finish(401, body, None);
    }

    let query: Vec<(String, String)> = Query::<Vec<(String, String)>>::try_from_uri(&uri)
        .map(|q| q.0)
        .unwrap_or_default();
    let host = headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    let req = Req {
        method: &method,
        path: &path,
        query: &query,
        headers: &headers,
        body: &body,
        base: format!("{host}/v2"),
    };
    let reply = match handle(&state, &req) {
        Ok(r) => r,
        Err((e, budget_key)) => Reply {
            status: e.status,
            body: e.body(&request_id),
            raw: None,
            budget_key,
        },
    };
    // Carried out, then lost on the way back.
    if let Some(status) = decision.server_error_after {
        lock(&state.stats).faults_injected += 1;
        let e = TxError::new(
            status,
            1000,
            "En feil har oppstått (sandbox fault after handling).",
        );
        let body = serde_json::to_vec(&e.body(&request_id)).unwrap_or_default();
        return finish(status, body, None);
    }

    // The per-key rate window (X-Rate-Limit-* on every non-429 response).
    let now = state.now();
    let window = Duration::seconds(rate_limit.window_seconds.max(1) as i64);
    let budget = reply.budget_key.as_ref().map(|k| {
        let mut rates = lock(&state.rate);
        let w = rates.entry(k.clone()).or_insert(RateWindow {
            started: now,
            used: 0,
        });
        if now >= w.started + window {
            w.started = now;
            w.used = 0;
        }
        w.used += 1;
        let reset = ((w.started + window) - now).num_milliseconds().max(0) as u64;
        (w.used, reset.div_ceil(1000))
    });
    let (used, reset) = budget.unwrap_or((0, rate_limit.window_seconds));
    if used > rate_limit.limit {
        let e = TxError::new(429, 0, "Too Many Requests");
        let body = serde_json::to_vec(&e.body(&request_id)).unwrap_or_default();
        return finish(429, body, Some((rate_limit.limit, 0, None)));
    }
    let (mut bytes, content_type) = match reply.raw {
        Some((ct, b)) => (b, Some(ct)),
        None => (serde_json::to_vec(&reply.body).unwrap_or_default(), None),
    };
    if decision.truncate && content_type.is_none() {
        lock(&state.stats).faults_injected += 1;
        bytes.truncate(bytes.len() / 2);
    }
    let mut resp = finish(
        reply.status,
        bytes,
        Some((
            rate_limit.limit,
            rate_limit.limit.saturating_sub(used),
            Some(reset),
        )),
    );
    match content_type {
        Some("") => {
            resp.headers_mut().remove("content-type");
        }
        Some(ct) => {
            if let Ok(v) = HeaderValue::from_str(ct) {
                resp.headers_mut().insert("content-type", v);
            }
        }
        None => {}
    }
    resp
}

/// A handler's successful answer.
enum Out {
    Json(Value),
    /// (status, content type ("" = none), body)
    Raw(u16, &'static str, Vec<u8>),
}

type HResult = Result<Reply, (TxError, Option<String>)>;

fn handle(state: &AppState, req: &Req) -> HResult {
    let Some(rest) = req.path.strip_prefix("/v2") else {
        return Err((TxError::new(404, 6000, "Not found"), None));
    };
    let rest = rest.trim_end_matches('/');
    if rest == "/token/session/:create" {
        return match *req.method {
            Method::POST | Method::PUT => create_session(state, req),
            _ => Err((TxError::new(405, 4000, "Method not allowed"), None)),
        };
    }
    let customer_put = *req.method == Method::PUT && rest.starts_with("/customer/");
    if req.method != Method::GET && !customer_put && !vouchers::is_write(req.method, rest) {
        return Err((TxError::new(405, 4000, "Method not allowed"), None));
    }
    let ctx = authenticate(state, req).map_err(|e| (e, None))?;
    let budget = Some(ctx.key.token.clone());
    let with_budget = |r: Result<Out, TxError>| match r {
        Ok(Out::Json(body)) => Ok(Reply {
            status: 200,
            body,
            raw: None,
            budget_key: budget.clone(),
        }),
        Ok(Out::Raw(status, ct, bytes)) => Ok(Reply {
            status,
            body: Value::Null,
            raw: Some((ct, bytes)),
            budget_key: budget.clone(),
        }),
        Err(e) => Err((e, budget.clone())),
    };
    match rest {
        "/token/session/>whoAmI" => with_budget(who_am_i(state, req, &ctx).map(Out::Json)),
        "/company/>withLoginAccess" => {
            with_budget(with_login_access(state, req, &ctx).map(Out::Json))
        }
        _ => {
            if ctx.accountant_own {
                return with_budget(Err(TxError::forbidden(
                    "Regnskapsførers brukernøkkel med brukernavn 0 gir bare tilgang til >whoAmI og >withLoginAccess.",
                )));
            }
            if customer_put {
                let id = rest.strip_prefix("/customer/").unwrap_or_default();
                return with_budget(put_customer(state, req, &ctx, id).map(Out::Json));
            }
            if let Some(answer) = vouchers::route(state, req, &ctx, rest) {
                return with_budget(answer);
            }
            if let Some(id) = rest.strip_prefix("/company/") {
                return with_budget(company(state, req, &ctx, id).map(Out::Json));
            }
            match rest {
                "/ledger/posting/openPost" => {
                    return with_budget(list_collection(
                        state,
                        req,
                        &ctx,
                        "openPost",
                        Entitlement::LedgerPostings,
                        "Posting",
                    ))
                }
                "/ledger/postingRules" => return with_budget(posting_rules(state, req, &ctx)),
                _ => {}
            }
            if let Some(id) = rest
                .strip_prefix("/invoice/")
                .and_then(|r| r.strip_suffix("/pdf"))
            {
                return with_budget(invoice_pdf(state, &ctx, id));
            }
            match COLLECTIONS.iter().find(|(_, p, ..)| *p == rest) {
                Some(&(name, _, ent, schema)) => {
                    with_budget(list_collection(state, req, &ctx, name, ent, schema))
                }
                None => with_budget(Err(TxError::new(404, 6000, "Object not found"))),
            }
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct SessionBody {
    consumer_token: Option<String>,
    employee_token: Option<String>,
    expiration_date: Option<String>,
}

fn create_session(state: &AppState, req: &Req) -> HResult {
    let input: SessionBody = if *req.method == Method::POST {
        serde_json::from_slice(req.body).map_err(|_| {
            (
                TxError::new(422, 22000, "Ugyldig JSON i forespørselen."),
                None,
            )
        })?
    } else {
        SessionBody {
            consumer_token: req.param("consumerToken").map(str::to_string),
            employee_token: req.param("employeeToken").map(str::to_string),
            expiration_date: req.param("expirationDate").map(str::to_string),
        }
    };
    let fixture = state.fixture();
    let now = state.now();
    let consumer = input.consumer_token.unwrap_or_default();
    let Some(consumer_idx) = fixture.consumer_tokens.iter().position(|t| *t == consumer) else {
        return Err((
            TxError::validation(
                "arg:consumerToken",
                "The consumer token is invalid or does not exist.",
            ),
            None,
        ));
    };
    let employee = input.employee_token.unwrap_or_default();
    let key = fixture.employee_keys.iter().find(|k| k.token == employee);
    let Some(key) = key.filter(|k| key_usable(k, now)) else {
        return Err((
            TxError::validation(
                "arg:employeeToken",
                "The employee token is invalid or does not exist.",
            ),
            None,
        ));
    };
    let date = input
        .expiration_date
        .as_deref()
        .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok());
    let Some(date) = date.filter(|d| *d > oslo_today(now)) else {
        return Err((
            TxError::validation(
                "arg:expirationDate",
                "Utløpsdato må være en gyldig dato etter dagens dato.",
            ),
            Some(key.token.clone()),
        ));
    };
    let id = state.next_id.fetch_add(1, Ordering::Relaxed) as i64;
    let token_json = json!({"tokenId": id, "token": uuid::Uuid::new_v4().to_string()}).to_string();
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(token_json);
    lock(&state.sessions).insert(
        token.clone(),
        SessionRec {
            id,
            key_token: key.token.clone(),
            consumer_id: consumer_idx as i64 + 1,
            expiration_date: date,
        },
    );
    lock(&state.stats).session_creates += 1;
    let body = json!({"value": {
        "id": id,
        "version": 0,
        "url": format!("{}/token/session/{id}", req.base),
        "consumerToken": {"id": consumer_idx as i64 + 1, "url": format!("{}/token/consumer/{}", req.base, consumer_idx + 1)},
        "employeeToken": {"id": key.id, "url": format!("{}/token/employee/{}", req.base, key.id)},
        "expirationDate": date.format("%Y-%m-%d").to_string(),
        "token": token,
    }});
    Ok(Reply {
        status: if *req.method == Method::POST {
            201
        } else {
            200
        },
        body,
        raw: None,
        budget_key: Some(key.token.clone()),
    })
}

fn key_usable(k: &EmployeeKeyFixture, now: DateTime<Utc>) -> bool {
    !k.deleted && k.expiration_date.is_none_or(|d| now < start_of(d))
}

/// Basic auth → session → key → acting company and entitlements.
fn authenticate(state: &AppState, req: &Req) -> Result<Ctx, TxError> {
    let creds = req
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| {
            base64::engine::general_purpose::STANDARD
                .decode(b.trim())
                .ok()
        })
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| {
            TxError::unauthorized("Autentisering kreves (Basic auth med sesjonstoken).")
        })?;
    let (user, token) = creds.split_once(':').unwrap_or(("", creds.as_str()));
    let now = state.now();
    let (key_token, _consumer) = {
        let sessions = lock(&state.sessions);
        let s = sessions
            .get(token)
            .ok_or_else(|| TxError::unauthorized("Ugyldig eller utløpt sesjonstoken."))?;
        if now >= start_of(s.expiration_date) {
            return Err(TxError::unauthorized("Ugyldig eller utløpt sesjonstoken."));
        }
        let _ = s.id;
        (s.key_token.clone(), s.consumer_id)
    };
    let fixture = state.fixture();
    let key = fixture
        .employee_keys
        .iter()
        .find(|k| k.token == key_token)
        .filter(|k| key_usable(k, now))
        .ok_or_else(|| TxError::unauthorized("Ugyldig eller utløpt sesjonstoken."))?
        .clone();
    let own = user.is_empty() || user == "0" || user == key.company_id.to_string();
    if own {
        let entitlements = fixture.template(&key.template);
        return Ok(Ctx {
            acting_company: key.company_id,
            proxy: false,
            accountant_own: key.accountant,
            entitlements,
            key,
        });
    }
    let client_id: i64 = user
        .parse()
        .map_err(|_| TxError::unauthorized("Ugyldig brukernavn i Basic auth."))?;
    let link = key.clients.iter().find(|l| l.company_id == client_id);
    let Some(link) = link.filter(|_| key.accountant) else {
        return Err(TxError::forbidden(
            "Brukernøkkelen har ikke tilgang til denne klienten.",
        ));
    };
    let company = fixture.companies.iter().find(|c| c.id == client_id);
    if !company.is_some_and(|c| c.api_access_enabled) {
        return Err(TxError::forbidden(
            "API-tilgang for regnskapsfører er ikke slått på i klientens selskap.",
        ));
    }
    let entitlements = fixture.template(&link.template);
    Ok(Ctx {
        acting_company: client_id,
        proxy: true,
        accountant_own: false,
        entitlements,
        key,
    })
}

fn selection(req: &Req, schema: &str) -> Result<Selection, TxError> {
    let sel = match req.param("fields").map(str::trim).filter(|s| !s.is_empty()) {
        None => Selection::all(),
        Some(f) => Selection::parse(f).map_err(|e| {
            TxError::new(400, 11000, format!("Illegal field in fields filter: {e}"))
        })?,
    };
    sel.validate(schema)
        .map_err(|f| TxError::new(400, 11000, format!("Illegal field in fields filter: {f}")))?;
    Ok(sel)
}

fn company_json(state: &AppState, id: i64, base: &str) -> Option<Value> {
    let f = state.fixture();
    let c = f.companies.iter().find(|c| c.id == id)?;
    Some(json!({
        "id": c.id,
        "version": 1,
        "url": format!("{base}/company/{}", c.id),
        "name": c.name,
        "displayName": c.name,
        "organizationNumber": c.organization_number,
        "email": c.email,
        "phoneNumber": "",
        "phoneNumberMobile": "",
        "faxNumber": "",
        "type": c.r#type,
        "currency": {"id": 1},
        "accountantOrSimilar": c.accountant_or_similar,
        "companyMigration": "NONE",
        "invoiceShowDeliveryDate": false,
        "startDate": "2020-01-01",
    }))
}

fn who_am_i(state: &AppState, req: &Req, ctx: &Ctx) -> Result<Value, TxError> {
    let sel = selection(req, "LoggedInUserInfo")?;
    let fixture = state.fixture();
    let employee = fixture
        .companies
        .iter()
        .find(|c| c.id == ctx.key.company_id)
        .and_then(|c| c.employees.iter().find(|e| e.id == ctx.key.employee_id));
    let employee_json = employee.map(|e| {
        json!({"id": e.id, "firstName": e.first_name, "lastName": e.last_name,
               "displayName": format!("{} {}", e.first_name, e.last_name), "email": e.email})
    });
    drop(fixture);
    let value = json!({
        "employeeId": ctx.key.employee_id,
        "actualEmployeeId": ctx.key.employee_id,
        "employee": employee_json.unwrap_or(json!({"id": ctx.key.employee_id})),
        "companyId": ctx.acting_company,
        "company": company_json(state, ctx.acting_company, &req.base).unwrap_or(json!({"id": ctx.acting_company})),
        "language": "NO",
        "loggedInWithConnect": false,
        "employeeIsProxy": ctx.proxy,
    });
    Ok(json!({"value": sel.apply(&value, "LoggedInUserInfo", &req.base)}))
}

fn paging(req: &Req) -> Result<(usize, usize), TxError> {
    let num = |name: &str, default: usize| -> Result<usize, TxError> {
        match req.param(name) {
            None | Some("") => Ok(default),
            Some(v) => v.parse::<usize>().map_err(|_| {
                TxError::validation(name, "Verdien må være et ikke-negativt heltall.")
            }),
        }
    };
    Ok((num("from", 0)?, num("count", 1000)?))
}

fn list_response(
    state: &AppState,
    req: &Req,
    all: Vec<Value>,
    schema: &str,
) -> Result<Value, TxError> {
    let sel = selection(req, schema)?;
    let (from, count) = paging(req)?;
    let total = all.len();
    let page: Vec<Value> = all
        .iter()
        .skip(from)
        .take(count)
        .map(|v| sel.apply(v, schema, &req.base))
        .collect();
    let lie = state.faults().lie_full_result_size;
    let full = if lie { from + page.len() } else { total };
    Ok(json!({
        "fullResultSize": full,
        "from": from,
        "count": page.len(),
        "values": page,
    }))
}

fn with_login_access(state: &AppState, req: &Req, ctx: &Ctx) -> Result<Value, TxError> {
    let fixture = state.fixture();
    let mut clients = Vec::new();
    if ctx.key.accountant {
        for link in &ctx.key.clients {
            if let Some(c) = fixture.companies.iter().find(|c| c.id == link.company_id) {
                clients.push(json!({
                    "id": c.id,
                    "version": 1,
                    "url": format!("{}/company/{}", req.base, c.id),
                    "name": c.name,
                    "displayName": c.name,
                    "organizationNumber": c.organization_number,
                    "email": c.email,
                    "type": c.r#type,
                    "accountantOrSimilar": c.accountant_or_similar,
                    "customerCompanyId": c.id,
                }));
            }
        }
    }
    drop(fixture);
    list_response(state, req, clients, "Client")
}

fn company(state: &AppState, req: &Req, ctx: &Ctx, id: &str) -> Result<Value, TxError> {
    let id: i64 = id
        .parse()
        .map_err(|_| TxError::new(400, 12000, "Ugyldig id i stien."))?;
    let sel = selection(req, "Company")?;
    if id != ctx.acting_company {
        let exists = state.fixture().companies.iter().any(|c| c.id == id);
        return Err(if exists {
            TxError::forbidden("Du har ikke tilgang til dette selskapet.")
        } else {
            TxError::new(404, 6000, "Objektet finnes ikke.")
        });
    }
    let c = company_json(state, id, &req.base)
        .ok_or_else(|| TxError::new(404, 6000, "Objektet finnes ikke."))?;
    Ok(json!({"value": sel.apply(&c, "Company", &req.base)}))
}

fn date_param(req: &Req, name: &str, required: bool) -> Result<Option<NaiveDate>, TxError> {
    match req.param(name).filter(|s| !s.is_empty()) {
        None if required => Err(TxError::validation(name, "Kan ikke være null.")),
        None => Ok(None),
        Some(s) => NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .map(Some)
            .map_err(|_| TxError::validation(name, "Ugyldig dato (yyyy-MM-dd).")),
    }
}

fn id_list(req: &Req, name: &str) -> Option<BTreeSet<i64>> {
    req.param(name)
        .filter(|s| !s.is_empty())
        .map(|s| s.split(',').filter_map(|p| p.trim().parse().ok()).collect())
}

fn entitled(ctx: &Ctx, ent: Entitlement) -> Result<(), TxError> {
    if ctx.entitlements.contains(&ent) {
        Ok(())
    } else {
        Err(TxError::forbidden(
            "Du har ikke tilgang til denne funksjonen (mangler rettighet i tilgangsmalen).",
        ))
    }
}

fn int_param(req: &Req, name: &str) -> Result<Option<i64>, TxError> {
    match req.param(name).map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(v) => v
            .parse()
            .map(Some)
            .map_err(|_| TxError::validation(name, "Verdien må være et heltall.")),
    }
}

fn bool_param(req: &Req, name: &str) -> Option<bool> {
    match req.param(name).map(str::trim) {
        Some("true") => Some(true),
        Some("false") => Some(false),
        _ => None,
    }
}

/// The `If-None-Match` value, without quotes (None when absent or empty).
fn if_none_match(req: &Req) -> Option<String> {
    req.headers
        .get("if-none-match")
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.trim()
                .trim_start_matches("W/")
                .trim_matches('"')
                .to_string()
        })
        .filter(|v| !v.is_empty())
}

/// `GET /customer`, `/invoice`, `/ledger/posting`, `/ledger/posting/openPost`, `/ledger/voucher`,
/// `/ledger/account`: filter the company's rows on their keys, then render and select only the
/// requested page.
fn list_collection(
    state: &AppState,
    req: &Req,
    ctx: &Ctx,
    name: &str,
    ent: Entitlement,
    schema: &str,
) -> Result<Out, TxError> {
    entitled(ctx, ent)?;
    // Validate `fields` before filters so an illegal filter is reported like Tripletex.
    let sel = selection(req, schema)?;
    let table_name = if name == "openPost" { "postings" } else { name };
    let (dfrom, dto) = match name {
        "invoices" => (
            date_param(req, "invoiceDateFrom", true)?,
            date_param(req, "invoiceDateTo", true)?,
        ),
        "postings" | "vouchers" => (
            date_param(req, "dateFrom", true)?,
            date_param(req, "dateTo", true)?,
        ),
        // "Invoice date. Format is yyyy-MM-dd (to and excl.)": open postings dated before `date`.
        "openPost" => (None, date_param(req, "date", true)?),
        _ => (None, None),
    };
    let ids = id_list(req, "id");
    let customer = int_param(req, "customerId")?;
    let account = int_param(req, "accountId")?;
    let acc_from = int_param(req, "accountNumberFrom")?;
    let acc_to = int_param(req, "accountNumberTo")?;
    let num_from = int_param(req, "numberFrom")?;
    let num_to = int_param(req, "numberTo")?;
    let changed_since = match req.param("changedSince").filter(|s| !s.trim().is_empty()) {
        None => None,
        Some(s) => Some(store::parse_time(s).ok_or_else(|| {
            TxError::validation("changedSince", "Ugyldig tidspunkt (yyyy-MM-ddTHH:mm:ss).")
        })?),
    };
    let numbers = |param: &str| id_list(req, param);
    let (
        customer_numbers,
        invoice_numbers,
        voucher_numbers,
        account_numbers,
        type_ids,
        voucher_ids,
    ) = (
        numbers("customerAccountNumber"),
        numbers("invoiceNumber"),
        numbers("number"),
        numbers("number"),
        numbers("typeId"),
        numbers("voucherId"),
    );
    let eq = |param: &str, have: &str| {
        req.param(param)
            .filter(|s| !s.is_empty())
            .is_none_or(|p| p == have)
    };
    let want_inactive = req.param("isInactive") == Some("true");
    let is_bank = bool_param(req, "isBankAccount");
    let acc_inactive = bool_param(req, "isInactive");
    let posting_type = req.param("type").filter(|s| !s.is_empty());
    let ledger_type = req.param("ledgerType").filter(|s| !s.is_empty());

    let stores = state.stores();
    let store = stores.get(&ctx.acting_company);
    let empty = store::Table::default();
    let table = store.and_then(|s| s.table(table_name)).unwrap_or(&empty);
    let in_range = |r: &Row| match (dfrom, dto) {
        (Some(a), Some(b)) => r.keys.date.is_some_and(|d| a <= d && d < b),
        (None, Some(b)) => r.keys.date.is_some_and(|d| d < b),
        _ => true,
    };
    let in_set = |set: &Option<BTreeSet<i64>>, v: Option<i64>| {
        set.as_ref()
            .is_none_or(|s| v.is_some_and(|v| s.contains(&v)))
    };
    let acc_num_ok = |r: &Row| {
        acc_from.is_none_or(|f| r.keys.number.is_some_and(|n| n >= f))
            && acc_to.is_none_or(|t| r.keys.number.is_some_and(|n| n <= t))
    };
    let loaded = store.map(|s| s.loaded).unwrap_or_else(Utc::now);
    let keep = |r: &Row| -> bool {
        if !in_set(&ids, Some(r.id)) || !in_range(r) {
            return false;
        }
        let k = &r.keys;
        match name {
            "customers" => {
                // The spec declares isInactive default false: without it, only active customers.
                k.inactive == want_inactive
                    && eq("organizationNumber", &k.s1)
                    && eq("email", &k.s2)
                    && in_set(&customer_numbers, k.number)
                    && changed_since.is_none_or(|t| k.changed.unwrap_or(loaded) >= t)
            }
            "invoices" => {
                in_set(&invoice_numbers, k.number)
                    && eq("kid", &k.s1)
                    && in_set(&voucher_ids, k.voucher)
                    && customer.is_none_or(|c| k.customer == Some(c))
            }
            "postings" | "openPost" => {
                (name == "postings" || k.open)
                    && customer.is_none_or(|c| k.customer == Some(c))
                    && account.is_none_or(|a| k.account == Some(a))
                    && acc_num_ok(r)
                    && posting_type.is_none_or(|t| k.s1 == t)
            }
            "vouchers" => {
                in_set(&voucher_numbers, k.number)
                    && num_from.is_none_or(|f| k.number.is_some_and(|n| n >= f))
                    && num_to.is_none_or(|t| k.number.is_some_and(|n| n < t))
                    && in_set(&type_ids, k.vtype)
            }
            "accounts" => {
                in_set(&account_numbers, k.number)
                    && ledger_type.is_none_or(|t| k.s1 == t)
                    && is_bank.is_none_or(|b| k.is_bank == Some(b))
                    && acc_inactive.is_none_or(|b| k.inactive == b)
            }
            _ => true,
        }
    };
    let by_customer = matches!(name, "invoices" | "postings" | "openPost") && customer.is_some();
    let matching: Vec<&Row> = table
        .candidates(if by_customer { customer } else { None })
        .filter(|r| keep(r))
        .collect();

    let (from, count) = paging(req)?;
    let total = matching.len();
    let page: &[&Row] = &matching[from.min(total)..from.saturating_add(count).min(total)];
    let digest_wanted = if_none_match(req);
    let digest = digest_wanted.as_ref().map(|_| {
        let mut h = std::hash::DefaultHasher::new();
        use std::hash::{Hash, Hasher};
        (name, req.param("fields").unwrap_or(""), from, count).hash(&mut h);
        for r in page {
            (r.id, r.hash).hash(&mut h);
        }
        format!("{:016x}", h.finish())
    });
    if let (Some(want), Some(have)) = (&digest_wanted, &digest) {
        if want == have && !page.is_empty() {
            return Ok(Out::Raw(304, "", Vec::new()));
        }
    }
    let store = match store {
        Some(s) => s,
        None => {
            return Ok(Out::Json(
                json!({"fullResultSize": 0, "from": from, "count": 0, "values": []}),
            ))
        }
    };
    let path = COLLECTIONS
        .iter()
        .find(|(n, ..)| *n == table_name)
        .map(|(_, p, ..)| *p)
        .unwrap_or("");
    // References (`account(number,name)`, a voucher's `postings(...)`, ...) are looked up in
    // the company's collections when the selection asks for more than the stored object holds.
    let resolver = store::Resolver {
        store,
        base: &req.base,
    };
    let values: Vec<Value> = page
        .iter()
        .map(|r| {
            let mut v = store.render(table_name, r);
            add_url(&mut v, &req.base, path);
            sel.apply_resolving(&v, schema, &req.base, &resolver)
        })
        .collect();
    let page_empty = page.is_empty();
    drop(matching);
    drop(stores);
    let lie = state.faults().lie_full_result_size;
    let full = if lie { from + values.len() } else { total };
    let mut body = json!({
        "fullResultSize": full,
        "from": from,
        "count": values.len(),
        "values": values,
    });
    if digest_wanted.is_some() {
        body["versionDigest"] = if page_empty {
            Value::Null
        } else {
            json!(digest)
        };
    }
    Ok(Out::Json(body))
}

/// Customer fields a PUT may carry but that are not written (read-only in the spec, or ours).
const CUSTOMER_READ_ONLY: [&str; 5] = ["id", "changes", "url", "displayName", "isCustomer"];
/// Address fields that are not written from a PUT body.
const ADDRESS_READ_ONLY: [&str; 7] = [
    "changes",
    "url",
    "version",
    "displayName",
    "addressAsString",
    "displayNameInklMatrikkel",
    "id",
];

/// `PUT /customer/{id}`: a partial update (reference §3.5/§4.3) answering
/// `ResponseWrapperCustomer`. Optimistic locking: a `version` in the body that is not the stored
/// one → 409 code 8000 (RevisionException) and nothing changes; without `version` the update is
/// applied as it is. `postalAddress`/`physicalAddress` update the customer's address in place
/// (its `id` kept; an `id` of another address → 422); other fields replace the stored value;
/// unknown fields → 422 code 16000. The customer's `version` is incremented and an UPDATE change
/// recorded at the sandbox clock, so a later `changedSince` read returns it. Entitlement: customers.
fn put_customer(state: &AppState, req: &Req, ctx: &Ctx, id: &str) -> Result<Value, TxError> {
    entitled(ctx, Entitlement::Customers)?;
    let id: i64 = id
        .parse()
        .map_err(|_| TxError::new(400, 12000, "Ugyldig id i stien."))?;
    let sel = selection(req, "Customer")?;
    let invalid_json = || TxError::new(422, 22000, "Ugyldig JSON i forespørselen.");
    let body: Value = serde_json::from_slice(req.body).map_err(|_| invalid_json())?;
    let Value::Object(body) = body else {
        return Err(invalid_json());
    };
    let props = crate::fields::schema_table().get("Customer");
    if let Some(unknown) = body
        .keys()
        .find(|k| props.is_none_or(|p| !p.contains_key(k.as_str())))
    {
        let mut e = TxError::new(422, 16000, "Feil i mapping av JSON.");
        e.validation = vec![(unknown.clone(), "Ukjent felt.".into())];
        return Err(e);
    }
    match body.get("id") {
        None | Some(Value::Null) => {}
        Some(v) if v.as_i64() == Some(id) => {}
        Some(_) => {
            return Err(TxError::validation(
                "id",
                "Id i objektet samsvarer ikke med id i stien.",
            ))
        }
    }
    let sent_version = match body.get("version") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            v.as_i64()
                .ok_or_else(|| TxError::validation("version", "Verdien må være et heltall."))?,
        ),
    };
    let now = state.now();
    let mut stores = state.stores.write().unwrap_or_else(|p| p.into_inner());
    let not_found = || TxError::new(404, 6000, "Objektet finnes ikke.");
    let store = stores.get_mut(&ctx.acting_company).ok_or_else(not_found)?;
    let row = store
        .table("customers")
        .and_then(|t| t.get(id))
        .ok_or_else(not_found)?;
    let current = store.render("customers", row);
    let have = current.get("version").and_then(Value::as_i64).unwrap_or(0);
    if let Some(v) = sent_version {
        if v != have {
            return Err(TxError::new(
                409,
                8000,
                format!(
                    "RevisionException: Objektet er endret av en annen bruker (versjon {v}, gjeldende versjon {have})."
                ),
            ));
        }
    }
    let mut patch = serde_json::Map::new();
    for (k, v) in &body {
        if CUSTOMER_READ_ONLY.contains(&k.as_str()) || k == "version" {
            continue;
        }
        if k == "postalAddress" || k == "physicalAddress" {
            let sent = match v {
                Value::Null => continue,
                Value::Object(o) => o,
                _ => return Err(TxError::validation(k, "Forventet et adresseobjekt.")),
            };
            let mut addr = match current.get(k.as_str()) {
                Some(Value::Object(o)) => o.clone(),
                _ => serde_json::Map::new(),
            };
            let stored_id = addr.get("id").and_then(Value::as_i64);
            match (sent.get("id").and_then(Value::as_i64), stored_id) {
                (Some(a), Some(b)) if a != b => {
                    return Err(TxError::validation(
                        &format!("{k}.id"),
                        "Adressen tilhører ikke denne kunden.",
                    ))
                }
                _ => {}
            }
            for (ak, av) in sent {
                if !ADDRESS_READ_ONLY.contains(&ak.as_str()) {
                    addr.insert(ak.clone(), av.clone());
                }
            }
            if stored_id.is_none() {
                let new_id = 900_000_000 + state.next_id.fetch_add(1, Ordering::Relaxed) as i64;
                addr.insert("id".into(), json!(new_id));
            }
            patch.insert(k.clone(), Value::Object(addr));
        } else {
            patch.insert(k.clone(), v.clone());
        }
    }
    if !store.update_customer(id, &Value::Object(patch), now) {
        return Err(not_found());
    }
    let row = store
        .table("customers")
        .and_then(|t| t.get(id))
        .ok_or_else(not_found)?;
    let mut v = store.render("customers", row);
    add_url(&mut v, &req.base, "/customer");
    Ok(json!({"value": sel.apply(&v, "Customer", &req.base)}))
}

fn add_url(v: &mut Value, base: &str, path: &str) {
    let id = v.get("id").and_then(Value::as_i64);
    if let (Value::Object(o), Some(id)) = (v, id) {
        if !o.contains_key("url") {
            o.insert("url".into(), Value::String(format!("{base}{path}/{id}")));
        }
    }
}

/// `GET /ledger/postingRules`: the customer ledger (AR) account and friends.
fn posting_rules(state: &AppState, req: &Req, ctx: &Ctx) -> Result<Out, TxError> {
    entitled(ctx, Entitlement::Accounts)?;
    let sel = selection(req, "PostingRules")?;
    let stores = state.stores();
    let mut v = match stores.get(&ctx.acting_company) {
        Some(s) => s.posting_rules(ctx.acting_company),
        None => json!({"id": ctx.acting_company, "version": 0}),
    };
    drop(stores);
    if let Value::Object(o) = &mut v {
        for (_, a) in o.iter_mut() {
            add_url(a, &req.base, "/ledger/account");
        }
        o.insert(
            "url".into(),
            Value::String(format!("{}/ledger/postingRules", req.base)),
        );
    }
    Ok(Out::Json(
        json!({"value": sel.apply(&v, "PostingRules", &req.base)}),
    ))
}

/// `GET /invoice/{id}/pdf`: a small PDF for an invoice with a copy (`documentId` absent in fixture
/// data, or set); 404 for an unknown invoice or one without a copy.
fn invoice_pdf(state: &AppState, ctx: &Ctx, id: &str) -> Result<Out, TxError> {
    entitled(ctx, Entitlement::Invoices)?;
    let id: i64 = id
        .parse()
        .map_err(|_| TxError::new(400, 12000, "Ugyldig id i stien."))?;
    let stores = state.stores();
    let store = stores
        .get(&ctx.acting_company)
        .ok_or_else(|| TxError::new(404, 6000, "Objektet finnes ikke."))?;
    let row = store
        .table("invoices")
        .and_then(|t| t.get(id))
        .ok_or_else(|| TxError::new(404, 6000, "Objektet finnes ikke."))?;
    let v = store.render("invoices", row);
    let has_copy = match v.get("documentId") {
        None => true,
        Some(d) => d.as_i64().is_some_and(|d| d != 0),
    };
    if !has_copy {
        return Err(TxError::new(
            404,
            6000,
            "Fakturaen har ingen PDF-kopi (importert uten dokument).",
        ));
    }
    let number = v.get("invoiceNumber").and_then(Value::as_i64).unwrap_or(0);
    Ok(Out::Raw(
        200,
        "application/pdf",
        minimal_pdf(&format!("Faktura {number}")),
    ))
}

/// A valid one-page PDF showing `text`.
fn minimal_pdf(text: &str) -> Vec<u8> {
    let text: String = text
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == ' ')
        .collect();
    let content = format!("BT /F1 24 Tf 72 720 Td ({text}) Tj ET");
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_string(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_string(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>".to_string(),
        format!("<< /Length {} >>\nstream\n{content}\nendstream", content.len()),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_string(),
    ];
    let mut out = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (i, o) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n{o}\nendobj\n", i + 1).as_bytes());
    }
    let xref = out.len();
    out.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for off in offsets {
        out.extend_from_slice(format!("{off:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    out
}
