//! A local HTTP server that behaves like Tripletex API v2 for the endpoints Inndrive uses, with
//! Tripletex's auth rules, fixture data, fault injection and request counters. See README.md.

pub mod faults;
pub mod fields;
pub mod fixture;
pub mod generator;
pub mod scenario;
mod serve;
mod server;
mod store;

pub use faults::{FaultKind, FaultRule, Faults, RateLimit};
pub use fixture::{Entitlement, Fixture, UNMATCHED_WRITE_OFF_JSON, WRITE_OFF_WITHOUT_MARKER_JSON};
pub use generator::{generate, CompanyData, GenSpec, GenStats};
pub use server::Stats;

use anyhow::Context;
use server::AppState;
use std::net::SocketAddr;
use std::sync::Arc;

/// The demo fixture's consumer token.
pub const DEMO_CONSUMER_TOKEN: &str = "sandbox-consumer-token";
/// The demo accounting office's accountant key (Regnskap Nord AS).
pub const DEMO_ACCOUNTANT_KEY: &str = "sandbox-accountant-key-0001";
/// The demo ordinary key (Solberg Elektro AS).
pub const DEMO_COMPANY_KEY: &str = "sandbox-company-key-0002";
/// The demo deleted key.
pub const DEMO_DELETED_KEY: &str = "sandbox-deleted-key-0003";
/// Demo company ids.
pub const DEMO_OFFICE_ID: i64 = 1001;
pub const DEMO_FULL_CLIENT_ID: i64 = 2001;
pub const DEMO_RESTRICTED_CLIENT_ID: i64 = 2002;
pub const DEMO_API_OFF_CLIENT_ID: i64 = 2003;
pub const DEMO_UNLINKED_ID: i64 = 2004;
pub const DEMO_SOLBERG_ID: i64 = 3001;

enum Runner {
    Task(tokio::task::JoinHandle<()>),
    Thread(std::thread::JoinHandle<()>),
}

/// A running sandbox. Dropping it stops the server too (without waiting).
pub struct SandboxHandle {
    /// e.g. "http://127.0.0.1:PORT/v2"
    pub base_url: String,
    pub addr: SocketAddr,
    state: Arc<AppState>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    runner: Option<Runner>,
}

impl std::fmt::Debug for SandboxHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SandboxHandle")
            .field("base_url", &self.base_url)
            .finish()
    }
}

impl SandboxHandle {
    /// "http://127.0.0.1:PORT/_sandbox"
    pub fn admin_url(&self) -> String {
        format!("http://{}/_sandbox", self.addr)
    }

    /// Counters so far (same as `GET /_sandbox/stats`).
    pub fn stats(&self) -> Stats {
        self.state.stats()
    }

    pub fn reset_stats(&self) {
        self.state.reset_stats()
    }

    /// Replaces the faults (same as `POST /_sandbox/faults`).
    pub fn set_faults(&self, f: Faults) {
        self.state.set_faults(f)
    }

    pub fn faults(&self) -> Faults {
        self.state.faults()
    }

    /// Moves the sandbox's clock (session and key expiry) forward by `secs` (negative: back).
    pub fn advance_clock(&self, secs: i64) {
        self.state.advance_clock(secs)
    }

    /// Marks an employee key deleted (or restores it). Returns false for an unknown token.
    pub fn set_key_deleted(&self, token: &str, deleted: bool) -> bool {
        self.state.set_key_deleted(token, deleted)
    }

    /// Forgets all sessions (later requests with them get 401). Returns how many there were.
    pub fn revoke_sessions(&self) -> usize {
        self.state.revoke_sessions()
    }

    /// The session tokens the sandbox has issued and still knows.
    pub fn session_tokens(&self) -> Vec<String> {
        self.state.session_tokens()
    }

    /// The generated data of a company (ground truth for tests), if the fixture generated one.
    pub fn company_data(&self, company_id: i64) -> Option<Arc<generator::CompanyData>> {
        self.state.company_data(company_id)
    }

    /// Updates a customer (shallow JSON merge of `patch`), bumping its `version` and recording an
    /// UPDATE change at the sandbox clock's now, so `changedSince` and `versionDigest` see it
    /// (same as `POST /_sandbox/customers/update`). False for an unknown company or customer.
    pub fn update_customer(
        &self,
        company_id: i64,
        customer_id: i64,
        patch: serde_json::Value,
    ) -> bool {
        self.state.update_customer(company_id, customer_id, &patch)
    }

    /// Registers a payment of `amount` on invoice `invoice_id` of `company_id` on `date`, as
    /// Tripletex shows it afterwards: `amountOutstanding` falls and the invoice's `version`
    /// rises, a payment voucher with a customer-ledger credit line is added (closing the invoice
    /// when it is settled). Returns the voucher id; `None` for an unknown company or invoice.
    pub fn register_payment(
        &self,
        company_id: i64,
        invoice_id: i64,
        date: chrono::NaiveDate,
        amount: f64,
    ) -> Option<i64> {
        self.state
            .register_payment(company_id, invoice_id, date, amount)
    }

    /// A customer as the sandbox stores it (wire format with `version`, `postalAddress` and
    /// `changes`), e.g. to assert what a `PUT /customer/{id}` wrote. None for an unknown one.
    pub fn customer(&self, company_id: i64, customer_id: i64) -> Option<serde_json::Value> {
        self.state.customer(company_id, customer_id)
    }

    /// Books a voucher in `company` as its own bookkeeper would (same rules as
    /// `POST /ledger/voucher`, no key): e.g. a debtor's payment, KID-matched to an invoice
    /// (a posting on 1500 with the customer and the invoice number). The voucher, or Tripletex's
    /// error body.
    pub fn book_voucher(
        &self,
        company_id: i64,
        body: &serde_json::Value,
    ) -> Result<serde_json::Value, serde_json::Value> {
        self.state.book_voucher(company_id, body)
    }

    /// The company's vouchers as stored (wire format, postings as `{id}` references).
    pub fn vouchers(&self, company_id: i64) -> Vec<serde_json::Value> {
        self.state.objects(company_id, "vouchers")
    }

    /// The company's postings as stored (wire format).
    pub fn postings(&self, company_id: i64) -> Vec<serde_json::Value> {
        self.state.objects(company_id, "postings")
    }

    /// The company's invoices as stored (wire format, `amountOutstanding` as it now is).
    pub fn invoices(&self, company_id: i64) -> Vec<serde_json::Value> {
        self.state.objects(company_id, "invoices")
    }

    /// Locks the company's accounting periods through `date` (`None` opens them again): a
    /// voucher dated in a locked period is refused, `GET /ledger/accountingPeriod` shows them
    /// closed.
    pub fn lock_periods_through(&self, company_id: i64, date: Option<chrono::NaiveDate>) {
        self.state.set_locked_through(company_id, date)
    }

    /// Stops the server and waits for it to finish.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        match self.runner.take() {
            Some(Runner::Task(h)) => {
                let _ = h.await;
            }
            Some(Runner::Thread(h)) => {
                let _ = tokio::task::spawn_blocking(move || h.join()).await;
            }
            None => {}
        }
    }
}

impl Drop for SandboxHandle {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Starts the sandbox on the current tokio runtime, bound to `addr` (use port 0 for a free port).
pub async fn start(
    fixture: Fixture,
    faults: Faults,
    addr: SocketAddr,
) -> anyhow::Result<SandboxHandle> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding {addr}"))?;
    let addr = listener.local_addr()?;
    let state = Arc::new(AppState::new(fixture, faults));
    let app = server::router(state.clone());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(serve::serve(listener, app, async {
        let _ = rx.await;
    }));
    Ok(SandboxHandle {
        base_url: format!("http://{addr}/v2"),
        addr,
        state,
        shutdown: Some(tx),
        runner: Some(Runner::Task(task)),
    })
}

/// For callers without a tokio runtime of their own (e.g. #[tokio::test] per-test runtimes): runs
/// the server on a dedicated thread with its own runtime, bound to 127.0.0.1 on a free port.
pub fn start_in_thread(fixture: Fixture, faults: Faults) -> anyhow::Result<SandboxHandle> {
    let (ready_tx, ready_rx) =
        std::sync::mpsc::channel::<anyhow::Result<(SocketAddr, Arc<AppState>)>>();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::Builder::new()
        .name("tripletex-sandbox".into())
        .spawn(move || {
            let rt = match tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    let _ = ready_tx.send(Err(e.into()));
                    return;
                }
            };
            rt.block_on(async move {
                let bound =
                    tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await;
                let listener = match bound {
                    Ok(l) => l,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e.into()));
                        return;
                    }
                };
                let addr = match listener.local_addr() {
                    Ok(a) => a,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e.into()));
                        return;
                    }
                };
                let state = Arc::new(AppState::new(fixture, faults));
                let app = server::router(state.clone());
                let _ = ready_tx.send(Ok((addr, state)));
                serve::serve(listener, app, async {
                    let _ = rx.await;
                })
                .await;
            });
        })
        .context("spawning the sandbox thread")?;
    let (addr, state) = ready_rx
        .recv()
        .context("the sandbox thread ended before binding")??;
    Ok(SandboxHandle {
        base_url: format!("http://{addr}/v2"),
        addr,
        state,
        shutdown: Some(tx),
        runner: Some(Runner::Thread(thread)),
    })
}
