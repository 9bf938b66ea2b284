//! The Tripletex reads of one sync, as resumable steps (docs/sync.md §1).
//!
//! Every list is read with `fields=` (only what the ledger uses) and `count` = the page size. A page
//! is first decoded into the typed raw shapes; only if that fails (a malformed element) is it read
//! again as plain JSON and split with `raw::parse_items`, so one broken element is quarantined and
//! the rest go on. The read state (what was read so far and where to go on) is serialisable: it is
//! the sync's checkpoint.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDate, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::adapters::tripletex::model::ListPage;
use crate::adapters::tripletex::{Acting, EmployeeKey, TripletexClient, TripletexError};
use crate::domain::classify;
use crate::domain::ledger::raw::{parse_items, RawCustomer, RawInvoice, RawPosting, RawVoucher};
use crate::domain::ledger::{LedgerRead, RecordKind, SkipRecord};

pub const CUSTOMER_FIELDS: &str = "id,version,name,customerNumber,organizationNumber,isInactive,\
isPrivateIndividual,email,invoiceEmail,overdueNoticeEmail,invoicesDueIn,invoicesDueInType,\
postalAddress(id,addressLine1,addressLine2,postalCode,city,country(isoAlpha2Code))";
pub const INVOICE_FIELDS: &str = "id,version,invoiceNumber,invoiceDate,invoiceDueDate,kid,amount,\
amountOutstanding,isCreditNote,creditedInvoice,customer(id),voucher(id),documentId,currency(code)";
/// No `account`: the reads are filtered by the AR account already, and the ledger does not use it.
pub const POSTING_FIELDS: &str = "id,version,date,description,customer(id),amount,amountGross,\
invoiceNumber,termOfPayment,voucher(id,voucherType(id,name),externalVoucherNumber),type,closeGroup(id)";
pub const VOUCHER_FIELDS: &str =
    "id,version,date,description,voucherType(id,name),reverseVoucher(id),\
postings(id,account(number,name),amountGross)";
pub const ACCOUNT_FIELDS: &str = "id,number,ledgerType";
pub const POSTING_RULES_FIELDS: &str = "accountReceivableCustomersId(id)";

/// One step of the read.
#[derive(utoipa::ToSchema, Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case")]
#[schema(as = SyncStep)]
pub enum Step {
    /// `GET /ledger/postingRules`: the customer ledger (AR) account.
    PostingRules,
    /// `GET /ledger/account`: other `ledgerType=CUSTOMER` accounts and the loss accounts.
    Chart,
    /// `GET /customer?isInactive=…` (with `changedSince` after a full read).
    Customers { inactive: bool },
    /// `GET /invoice` over `[fetchFrom, tomorrow)`.
    Invoices,
    /// `GET /ledger/posting/openPost` on one AR account (open items of any date).
    OpenPost { account: i64 },
    /// `GET /ledger/posting` on one AR account over `[fetchFrom, tomorrow)`.
    Postings { account: i64 },
    /// `GET /ledger/voucher?id=…` for the credits' vouchers.
    Vouchers,
}

impl Step {
    pub fn name(&self) -> &'static str {
        match self {
            Step::PostingRules => "posting_rules",
            Step::Chart => "chart",
            Step::Customers { .. } => "customers",
            Step::Invoices => "invoices",
            Step::OpenPost { .. } => "open_posts",
            Step::Postings { .. } => "postings",
            Step::Vouchers => "vouchers",
        }
    }

    /// The step's key in [`ReadStats::steps`]: one per query (customers active / inactive, one
    /// per AR account).
    pub fn stats_key(&self) -> String {
        match self {
            Step::Customers { inactive: false } => "customers_active".into(),
            Step::Customers { inactive: true } => "customers_inactive".into(),
            Step::OpenPost { account } => format!("open_posts_{account}"),
            Step::Postings { account } => format!("postings_{account}"),
            other => other.name().into(),
        }
    }

    /// What the key needs access to for this step (for the failure text).
    pub fn access(&self) -> &'static str {
        match self {
            Step::PostingRules | Step::Chart => "the chart of accounts",
            Step::Customers { .. } => "customers",
            Step::Invoices => "invoices",
            Step::OpenPost { .. } | Step::Postings { .. } => "ledger postings",
            Step::Vouchers => "vouchers",
        }
    }
}

/// How customers are read this time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum CustomerRead {
    Full,
    /// Only customers changed since; the others are taken from the mirror.
    ChangedSince {
        since: String,
    },
}

/// The read so far: the checkpoint's content.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReadState {
    pub integration_id: String,
    pub settings_version: u32,
    pub started_at: DateTime<Utc>,
    pub fetch_from: NaiveDate,
    pub tomorrow: NaiveDate,
    pub customer_read: CustomerRead,
    /// Steps to do, in order; `steps[next]` is the current one (more are added once the AR accounts
    /// are known).
    pub steps: Vec<Step>,
    pub next: usize,
    /// `from` of the next page of the current step (for vouchers: the next id chunk).
    pub position: u64,
    pub ar_accounts: Vec<i64>,
    pub loss_accounts: Vec<u32>,
    pub customers: Vec<RawCustomer>,
    pub invoices: Vec<RawInvoice>,
    pub postings: Vec<RawPosting>,
    pub vouchers: Vec<RawVoucher>,
    pub quarantined: Vec<SkipRecord>,
    /// The voucher ids to read (fixed when the vouchers step starts).
    pub voucher_ids: Vec<i64>,
    /// Pages read (all invocations).
    pub pages: u32,
}

impl ReadState {
    pub fn new(
        integration_id: String,
        settings_version: u32,
        started_at: DateTime<Utc>,
        fetch_from: NaiveDate,
        tomorrow: NaiveDate,
        customer_read: CustomerRead,
    ) -> Self {
        Self {
            integration_id,
            settings_version,
            started_at,
            fetch_from,
            tomorrow,
            customer_read,
            steps: vec![Step::PostingRules, Step::Chart],
            next: 0,
            position: 0,
            ar_accounts: Vec::new(),
            loss_accounts: Vec::new(),
            customers: Vec::new(),
            invoices: Vec::new(),
            postings: Vec::new(),
            vouchers: Vec::new(),
            quarantined: Vec::new(),
            voucher_ids: Vec::new(),
            pages: 0,
        }
    }

    pub fn done(&self) -> bool {
        self.next >= self.steps.len()
    }

    pub fn current(&self) -> Option<Step> {
        self.steps.get(self.next).copied()
    }

    fn advance(&mut self) {
        self.next += 1;
        self.position = 0;
    }

    /// The read as the domain takes it (customers merged with `mirror_customers` for a
    /// `changedSince` read: the changed ones win).
    pub fn into_read(
        self,
        mirror_customers: impl IntoIterator<Item = (i64, RawCustomer)>,
    ) -> LedgerRead {
        let customers = match self.customer_read {
            CustomerRead::Full => self.customers,
            CustomerRead::ChangedSince { .. } => {
                let mut all: std::collections::BTreeMap<i64, RawCustomer> =
                    mirror_customers.into_iter().collect();
                let mut unidentified = Vec::new();
                for c in self.customers {
                    match c.id {
                        Some(id) => {
                            all.insert(id, c);
                        }
                        None => unidentified.push(c),
                    }
                }
                all.into_values().chain(unidentified).collect()
            }
        };
        // A posting open and dated in the window was read twice (openPost and the window): keep
        // one (the highest version), before the build holds everything in memory.
        let mut postings = self.postings;
        postings.sort_by_key(|p| (p.id, std::cmp::Reverse(p.version)));
        postings.dedup_by(|a, b| a.id.is_some() && a.id == b.id);
        postings.shrink_to_fit();
        LedgerRead {
            customers,
            invoices: self.invoices,
            postings,
            vouchers: self.vouchers,
            quarantined: self.quarantined,
        }
    }
}

/// Requests and values of one kind of read (for the benchmark's "minimal pages").
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StepStats {
    pub requests: u32,
    pub values: u64,
    /// For vouchers: the ids asked for.
    pub ids: u64,
}

/// Counters of the reads (for logs and the benchmark).
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReadStats {
    /// By step name.
    pub steps: std::collections::BTreeMap<String, StepStats>,
    /// GET requests made (pages, postingRules; a re-read of a malformed page counts).
    pub requests: u32,
    /// Pages whose typed decoding failed and that were read again as plain JSON.
    pub reread_pages: u32,
    pub values: u64,
    #[serde(skip)]
    pub waited: Duration,
}

/// Why the read stopped.
#[derive(Debug)]
pub enum ReadError {
    Tripletex { step: Step, error: TripletexError },
}

/// Reads one page (or one step that is a single request). Returns `true` when the step is done.
pub(crate) struct Reader<'a> {
    pub client: &'a TripletexClient,
    pub key: &'a EmployeeKey,
    pub acting: Acting,
    pub page_size: u32,
    pub voucher_ids_per_request: usize,
    pub stats: ReadStats,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct PostingRulesWire {
    account_receivable_customers_id: Option<crate::domain::ledger::raw::RawRef>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct AccountWire {
    id: Option<i64>,
    number: Option<i64>,
    ledger_type: Option<String>,
}

/// At most this many records are reserved ahead from a `fullResultSize`.
const MAX_RESERVE: usize = 1_000_000;

/// On a list's first page, room for all of it (`fullResultSize`): the records are read into one
/// vector that does not grow page by page (each growth copies it and leaves the old block free
/// in the heap). A hint only: capped, and a wrong one costs nothing but memory.
fn reserve_list<T>(v: &mut Vec<T>, position: u64, full: Option<i64>) {
    if position == 0 {
        if let Some(full) = full.and_then(|f| usize::try_from(f).ok()) {
            v.reserve(full.min(MAX_RESERVE));
        }
    }
}

fn date(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

impl Reader<'_> {
    async fn get<T: DeserializeOwned>(
        &mut self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<T, TripletexError> {
        let started = Instant::now();
        self.stats.requests += 1;
        let r = self
            .client
            .get_json::<T>(self.key, self.acting, path, query)
            .await;
        self.stats.waited += started.elapsed();
        r
    }

    /// One page of a list: typed, else element by element with quarantine.
    async fn page<T: DeserializeOwned>(
        &mut self,
        kind: RecordKind,
        path: &str,
        query: &[(&str, String)],
        fields: &str,
        from: u64,
        count: u32,
    ) -> Result<(Vec<T>, Vec<SkipRecord>, usize, Option<i64>), TripletexError> {
        let mut q: Vec<(&str, String)> = query.to_vec();
        q.push(("from", from.to_string()));
        q.push(("count", count.to_string()));
        q.push(("fields", fields.to_string()));
        match self.get::<ListPage<T>>(path, &q).await {
            Ok(p) => {
                let n = p.values.len();
                self.stats.values += n as u64;
                let full = p.full_result_size;
                Ok((p.values, Vec::new(), n, full))
            }
            Err(TripletexError::Decode(_)) => {
                self.stats.reread_pages += 1;
                let p = self.get::<ListPage<serde_json::Value>>(path, &q).await?;
                let n = p.values.len();
                self.stats.values += n as u64;
                let (ok, bad) = parse_items::<T>(kind, p.values);
                Ok((ok, bad, n, p.full_result_size))
            }
            Err(e) => Err(e),
        }
    }

    /// Does one request of the current step. `Ok(())` also when the read is complete.
    pub async fn step(&mut self, st: &mut ReadState) -> Result<(), ReadError> {
        let Some(step) = st.current() else {
            return Ok(());
        };
        let size = self.page_size;
        st.pages += 1;
        let (requests_before, values_before) = (self.stats.requests, self.stats.values);
        let r = self.step_inner(st, step, size).await;
        let e = self.stats.steps.entry(step.stats_key()).or_default();
        e.requests += self.stats.requests - requests_before;
        e.values += self.stats.values - values_before;
        if step == Step::Vouchers {
            e.ids = st.voucher_ids.len() as u64;
        }
        r
    }

    async fn step_inner(
        &mut self,
        st: &mut ReadState,
        step: Step,
        size: u32,
    ) -> Result<(), ReadError> {
        let fail = |error| ReadError::Tripletex { step, error };
        let window = || {
            vec![
                ("dateFrom", date(st.fetch_from)),
                ("dateTo", date(st.tomorrow)),
            ]
        };
        match step {
            Step::PostingRules => {
                #[derive(Deserialize)]
                struct Single {
                    value: PostingRulesWire,
                }
                let r: Single = self
                    .get(
                        "/ledger/postingRules",
                        &[("fields", POSTING_RULES_FIELDS.to_string())],
                    )
                    .await
                    .map_err(fail)?;
                if let Some(id) = r.value.account_receivable_customers_id.and_then(|a| a.id) {
                    st.ar_accounts.push(id);
                }
                st.advance();
            }
            Step::Chart => {
                let (accounts, _bad, n, _) = self
                    .page::<AccountWire>(
                        RecordKind::Posting,
                        "/ledger/account",
                        &[],
                        ACCOUNT_FIELDS,
                        st.position,
                        size,
                    )
                    .await
                    .map_err(fail)?;
                for a in &accounts {
                    if a.ledger_type.as_deref() == Some("CUSTOMER") {
                        if let Some(id) = a.id {
                            if !st.ar_accounts.contains(&id) {
                                st.ar_accounts.push(id);
                            }
                        }
                    }
                }
                let mut loss: BTreeSet<u32> = st.loss_accounts.iter().copied().collect();
                loss.extend(classify::loss_accounts_in_chart(
                    accounts
                        .iter()
                        .filter_map(|a| a.number.and_then(|n| u32::try_from(n).ok())),
                ));
                st.loss_accounts = loss.into_iter().collect();
                st.position += n as u64;
                if n < size as usize {
                    // The chart is read: plan the rest.
                    st.advance();
                    let mut rest = vec![
                        Step::Customers { inactive: false },
                        Step::Customers { inactive: true },
                        Step::Invoices,
                    ];
                    rest.extend(
                        st.ar_accounts
                            .iter()
                            .map(|&a| Step::OpenPost { account: a }),
                    );
                    rest.extend(
                        st.ar_accounts
                            .iter()
                            .map(|&a| Step::Postings { account: a }),
                    );
                    rest.push(Step::Vouchers);
                    st.steps.extend(rest);
                }
            }
            Step::Customers { inactive } => {
                let mut q = vec![("isInactive", inactive.to_string())];
                if let CustomerRead::ChangedSince { since } = &st.customer_read {
                    q.push(("changedSince", since.clone()));
                }
                self.list_page::<RawCustomer>(
                    st,
                    RecordKind::Customer,
                    "/customer",
                    &q,
                    CUSTOMER_FIELDS,
                    size,
                    |st| &mut st.customers,
                )
                .await
                .map_err(fail)?;
            }
            Step::Invoices => {
                let q = vec![
                    ("invoiceDateFrom", date(st.fetch_from)),
                    ("invoiceDateTo", date(st.tomorrow)),
                ];
                self.list_page::<RawInvoice>(
                    st,
                    RecordKind::Invoice,
                    "/invoice",
                    &q,
                    INVOICE_FIELDS,
                    size,
                    |st| &mut st.invoices,
                )
                .await
                .map_err(fail)?;
            }
            Step::OpenPost { account } => {
                let q = vec![
                    ("date", date(st.tomorrow)),
                    ("accountId", account.to_string()),
                ];
                self.list_page::<RawPosting>(
                    st,
                    RecordKind::Posting,
                    "/ledger/posting/openPost",
                    &q,
                    POSTING_FIELDS,
                    size,
                    |st| &mut st.postings,
                )
                .await
                .map_err(fail)?;
            }
            Step::Postings { account } => {
                let mut q = window();
                q.push(("accountId", account.to_string()));
                self.list_page::<RawPosting>(
                    st,
                    RecordKind::Posting,
                    "/ledger/posting",
                    &q,
                    POSTING_FIELDS,
                    size,
                    |st| &mut st.postings,
                )
                .await
                .map_err(fail)?;
            }
            Step::Vouchers => {
                if st.position == 0 && st.voucher_ids.is_empty() {
                    let read = LedgerRead {
                        postings: std::mem::take(&mut st.postings),
                        ..Default::default()
                    };
                    st.voucher_ids = read.credit_vouchers_to_read();
                    st.postings = read.postings;
                }
                let per = self.voucher_ids_per_request.clamp(1, size as usize);
                let start = (st.position as usize).min(st.voucher_ids.len());
                let chunk: Vec<i64> = st.voucher_ids[start..].iter().take(per).copied().collect();
                if chunk.is_empty() {
                    st.pages -= 1;
                    st.advance();
                    return Ok(());
                }
                // Tripletex requires a date range on this endpoint: the credits' dates bound it.
                let min_date = st
                    .postings
                    .iter()
                    .filter_map(|p| match &p.date {
                        Some(crate::domain::ledger::raw::Lenient::Valid(d)) => Some(*d),
                        _ => None,
                    })
                    .min()
                    .unwrap_or(st.fetch_from)
                    .min(st.fetch_from);
                let ids = chunk
                    .iter()
                    .map(i64::to_string)
                    .collect::<Vec<_>>()
                    .join(",");
                let q = vec![
                    ("id", ids),
                    ("dateFrom", date(min_date)),
                    ("dateTo", date(st.tomorrow)),
                ];
                let (v, bad, _n, _) = self
                    .page::<RawVoucher>(
                        RecordKind::Voucher,
                        "/ledger/voucher",
                        &q,
                        VOUCHER_FIELDS,
                        0,
                        size,
                    )
                    .await
                    .map_err(fail)?;
                if st.position == 0 {
                    st.vouchers.reserve(st.voucher_ids.len().min(MAX_RESERVE));
                }
                st.vouchers.extend(v);
                st.quarantined.extend(bad);
                st.position += chunk.len() as u64;
                if st.position as usize >= st.voucher_ids.len() {
                    st.advance();
                }
            }
        }
        Ok(())
    }

    /// One page of a list step: its values go to `list(st)` (reserved for the list's size on the
    /// first page), what could not be parsed is quarantined, and the step moves on (or ends on a
    /// short page).
    #[allow(clippy::too_many_arguments)]
    async fn list_page<T: DeserializeOwned>(
        &mut self,
        st: &mut ReadState,
        kind: RecordKind,
        path: &str,
        query: &[(&str, String)],
        fields: &str,
        size: u32,
        list: fn(&mut ReadState) -> &mut Vec<T>,
    ) -> Result<(), TripletexError> {
        let (v, bad, n, full) = self
            .page::<T>(kind, path, query, fields, st.position, size)
            .await?;
        let position = st.position;
        let target = list(st);
        reserve_list(target, position, full);
        target.extend(v);
        st.quarantined.extend(bad);
        self.next_or_done(st, n);
        Ok(())
    }

    fn next_or_done(&self, st: &mut ReadState, n: usize) {
        st.position += n as u64;
        if n < self.page_size as usize {
            st.advance();
        }
    }
}

/// A memory probe of the read and the build against a running sandbox (not part of the suite):
/// `INNDRIVE_PROBE_SANDBOX=http://127.0.0.1:PORT/v2 cargo test -p shared --lib read_memory_probe
/// -- --ignored --nocapture`, the sandbox started with `--generate seed=7,postings=100000,company=2001`.
#[cfg(test)]
mod probe {
    use super::*;
    use crate::domain::ledger::{
        build_ledger, build_ledger_keeping, diff, Completeness, LedgerPolicy, MirrorState,
    };
    use secrecy::SecretString;

    fn status(field: &str) -> f64 {
        std::fs::read_to_string("/proc/self/status")
            .unwrap_or_default()
            .lines()
            .find(|l| l.starts_with(field))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    }

    fn cpu_ms() -> u64 {
        let s = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
        let rest = s.rsplit(')').next().unwrap_or_default();
        // After the command: state, ppid, …; utime and stime are the 12th and 13th (clock ticks).
        let f: Vec<&str> = rest.split_whitespace().collect();
        let tick = |i: usize| f.get(i).and_then(|x| x.parse::<u64>().ok()).unwrap_or(0);
        (tick(11) + tick(12)) * 10
    }

    extern "C" {
        fn malloc_trim(pad: usize) -> i32;
    }

    fn report(stage: &str) {
        eprintln!(
            "PROBE {stage:<28} hwm {:7.1} MB  rss {:7.1} MB  cpu {:6} ms",
            status("VmHWM:"),
            status("VmRSS:"),
            cpu_ms()
        );
    }

    fn reset_peak() {
        // SAFETY: glibc's malloc_trim only releases free memory.
        unsafe {
            malloc_trim(0);
        }
        let _ = std::fs::write("/proc/self/clear_refs", "5");
    }

    /// Reads everything as the sync does; the read and the ledger policy.
    async fn read_all(base: &str) -> (LedgerRead, LedgerPolicy, NaiveDate) {
        let client = TripletexClient::new(base, SecretString::from("sandbox-consumer-token"));
        let key = EmployeeKey::new("probe", SecretString::from("sandbox-accountant-key-0001"));
        let now = (crate::clock::system())();
        let today = now.date_naive();
        let fetch_from = today - chrono::Duration::days(3 * 366);
        let mut st = ReadState::new(
            "probe".into(),
            1,
            now,
            fetch_from,
            today.succ_opt().unwrap(),
            CustomerRead::Full,
        );
        let mut reader = Reader {
            client: &client,
            key: &key,
            acting: Acting::Client(2001),
            page_size: 1000,
            voucher_ids_per_request: 1000,
            stats: ReadStats::default(),
        };
        let cpu0 = cpu_ms();
        while !st.done() {
            reader.step(&mut st).await.expect("read");
        }
        let cpu_read = cpu_ms() - cpu0;
        report("read");
        eprintln!(
            "PROBE read: {} requests, {} values, wait {:?}, cpu {cpu_read} ms; customers {} \
             invoices {} postings {} vouchers {} (voucher postings {})",
            reader.stats.requests,
            reader.stats.values,
            reader.stats.waited,
            st.customers.len(),
            st.invoices.len(),
            st.postings.len(),
            st.vouchers.len(),
            st.vouchers.iter().map(|v| v.postings.len()).sum::<usize>()
        );
        let policy = LedgerPolicy {
            fetch_from,
            days_past_due: 0,
            include_saft_imported: true,
            include_null_voucher_type: true,
            default_payment_terms_days: 14,
            loss_accounts: st.loss_accounts.clone(),
        };
        let read = st.into_read(Vec::new());
        report("into_read");
        (read, policy, today)
    }

    #[tokio::test(flavor = "current_thread")]
    #[ignore = "needs a running sandbox (INNDRIVE_PROBE_SANDBOX)"]
    async fn read_memory_probe() {
        let Ok(base) = std::env::var("INNDRIVE_PROBE_SANDBOX") else {
            panic!("set INNDRIVE_PROBE_SANDBOX to the sandbox's /v2 URL");
        };
        eprintln!(
            "PROBE sizes: RawPosting {} RawInvoice {} RawVoucher {} RawCustomer {} LedgerItem {} \
             CreditLine {}",
            std::mem::size_of::<RawPosting>(),
            std::mem::size_of::<RawInvoice>(),
            std::mem::size_of::<RawVoucher>(),
            std::mem::size_of::<RawCustomer>(),
            std::mem::size_of::<crate::domain::ledger::LedgerItem>(),
            std::mem::size_of::<crate::domain::ledger::CreditLine>(),
        );

        if std::env::var_os("INNDRIVE_PROBE_TUNE").is_some() {
            assert!(crate::allocator::tune_for_batch_work());
            eprintln!("PROBE heap tuned as the sync worker's main does");
        }
        // As the sync builds today: everything, then the closed items the mirror never had
        // (here: all, the mirror is empty) are dropped.
        reset_peak();
        report("start");
        let (read, policy, today) = read_all(&base).await;
        let cpu1 = cpu_ms();
        let mut build = build_ledger(&read, &policy, today);
        eprintln!("PROBE build cpu {} ms", cpu_ms() - cpu1);
        report("build");
        drop(read);
        build
            .items
            .retain(|i| i.status != crate::domain::ledger::ItemStatus::Closed);
        build.items.shrink_to_fit();
        let d = diff(&MirrorState::default(), &build, Completeness::Full);
        report("diff");
        let kept = (build.items.len(), d.writes.len(), d.events.len());
        eprintln!("PROBE items kept, writes, events: {kept:?}");
        drop((build, d));

        // The closed items the mirror never had left out during the build.
        reset_peak();
        report("start again");
        let (read, policy, today) = read_all(&base).await;
        let cpu1 = cpu_ms();
        let build = build_ledger_keeping(&read, &policy, today, |_| false);
        eprintln!("PROBE build cpu {} ms", cpu_ms() - cpu1);
        report("build keeping no closed");
        drop(read);
        let d = diff(&MirrorState::default(), &build, Completeness::Full);
        report("diff");
        assert_eq!((build.items.len(), d.writes.len(), d.events.len()), kept);
    }
}
