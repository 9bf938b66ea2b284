//! The ledger sync: one job from the FIFO sync queue mirrors one integration's customer
//! ledger from Tripletex into DynamoDB and sends what changed to the classification queue.
//!
//! A job goes through named stages, the methods of [`SyncService`] in this order; a `Run` carries
//! the job's context and counters from one to the next, the large data is handed on beside it:
//!
//! ```text
//! begin           the integration, the last summary, the checkpoint; the mirror (one query
//!                 sweep); the read to do (the checkpoint's, or a new one)
//! connect         the Tripletex client, the key's token
//! read            Tripletex, resumable: checkpointed before the deadline
//! build           build_ledger from the read (and the mirror's customers)
//! enrich          Brønnøysund and the address write-back (optional)
//! diff            against the mirror: store writes, and events packed per customer group
//! publish events  SQS FIFO (SendMessageBatch), before the writes
//! write           BatchWriteItem, 25 a request
//! finish          summary, status ready, ready notice + mail
//! ```
//!
//! - **Idempotent.** An unchanged re-sync writes no ledger record and sends no event; events carry
//!   deterministic keys (FIFO deduplication id and the consumer's idempotency key). A job requested
//!   before the last completed sync started is a no-op.
//! - **Resumable.** Before the Lambda deadline (or after `max_pages_per_invocation` pages, a test
//!   knob) the read state is stored as a checkpoint and the run returns `Suspended`; the worker
//!   then enqueues a continuation job ([`continue_later`]) and acknowledges the message, so a long
//!   first sync takes as many invocations as it needs without using up the queue's
//!   `maxReceiveCount`. If the continuation cannot be sent, the message is failed instead and SQS
//!   delivers it again (a crash is the same: the redelivery goes on from the checkpoint).
//! - **Failures a person can act on.** 401/403 set the integration `failed` with the fix in
//!   Tripletex; the job is acknowledged (the next scheduled or manual sync retries). Tripletex or
//!   AWS being unavailable sets `failed` with a "retried automatically" text and fails the job, so
//!   SQS retries it (then the DLQ).

pub mod jobs;
pub mod read;
pub mod writeback;

pub use jobs::{continue_later, enqueue_scheduled, job_for, scheduled_dedup_id, ScheduledRun};
pub use read::{CustomerRead, ReadState, ReadStats, Step, StepStats};

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Europe::Oslo;
use secrecy::SecretString;
use serde::Serialize;

use crate::adapters::brreg::{BrregCache, CachedBrreg, DynamoBrregCache};
use crate::adapters::mail::{Mailer, OutgoingMail, SentMailLog};
use crate::adapters::queue::{BatchPacker, ClassificationQueue, SyncJob};
use crate::adapters::secrets::{Secrets, SecretsError};
use crate::adapters::store::keys::ready_mail_key;
use crate::adapters::store::ledger::{
    BatchStats, CustomerRegistry, MailState, MirrorWrite, ReadyNotice, StoredCustomer,
    StoredMirror, SyncSummary,
};
use crate::adapters::store::{DynamoStore, StoreError};
use crate::adapters::tripletex::{Acting, EmployeeKey, TripletexClient, TripletexError};
use crate::clock::Clock;
use crate::domain::ledger::raw::RawCustomer;
use crate::domain::ledger::texts::ready_mail;
use crate::domain::ledger::{
    build_ledger_keeping, diff, Completeness, LedgerBuild, LedgerPolicy, LedgerWrite, SyncCounts,
};
use crate::domain::setup::{
    AccountId, Integration, IntegrationStatus, LastSync, OrgId, SyncProgress, TripletexFix,
};
use read::{ReadError, Reader};

/// Knobs of the worker.
#[derive(Debug, Clone)]
pub struct SyncConfig {
    /// `count` of every list request (Tripletex's maximum: 1000).
    pub page_size: u32,
    /// Voucher ids per `GET /ledger/voucher?id=…` (each request ≤ 1 page).
    pub voucher_ids_per_request: usize,
    /// Stop reading (checkpoint, fail the job for redelivery) this long before the deadline.
    pub deadline_margin: Duration,
    /// Test knob (`SYNC_MAX_PAGES_PER_INVOCATION`): stop after this many pages per invocation, as
    /// if the deadline had come.
    pub max_pages_per_invocation: Option<u32>,
    /// A full customer read at least this often (else `changedSince`).
    pub full_customer_read_every: chrono::Duration,
    /// Overlap of `changedSince` with the previous sync's start (clock skew).
    pub changed_since_overlap: chrono::Duration,
    /// A checkpoint older than this is not resumed (the read is started afresh).
    pub checkpoint_max_age: chrono::Duration,
}

impl Default for SyncConfig {
    fn default() -> Self {
        Self {
            page_size: crate::adapters::tripletex::DEFAULT_PAGE_SIZE,
            voucher_ids_per_request: 1000,
            deadline_margin: Duration::from_secs(90),
            max_pages_per_invocation: None,
            full_customer_read_every: chrono::Duration::days(7),
            changed_since_overlap: chrono::Duration::minutes(10),
            checkpoint_max_age: chrono::Duration::hours(24),
        }
    }
}

/// What one job did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobOutcome {
    /// The sync completed (status ready).
    Completed(RunStats),
    /// The read was checkpointed before the deadline: the job must be delivered again.
    Suspended(RunStats),
    /// Nothing to do (integration gone, or a newer sync completed).
    Skipped(String),
    /// The sync failed for a reason a person must fix in Tripletex; status `failed`, job done.
    Failed(String),
}

/// A failure that should make SQS deliver the job again.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("the sync was stopped before the deadline; it resumes from its checkpoint")]
    Suspended,
    #[error("Tripletex is unavailable: {0}")]
    TripletexUnavailable(String),
    #[error("DynamoDB: {0}")]
    Store(#[from] StoreError),
    #[error("SQS: {0}")]
    Queue(String),
    #[error("Secrets Manager: {0}")]
    Secrets(String),
    #[error("mail: {0}")]
    Mail(String),
    #[error("the job message is not a sync job: {0}")]
    BadMessage(String),
}

/// Counters and timings of one invocation (logs and the benchmark).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RunStats {
    pub tripletex_requests: u32,
    /// Requests the Tripletex client sent again in this run (429, 5xx, transport failures).
    pub tripletex_retries: u64,
    pub tripletex_reread_pages: u32,
    pub tripletex_values: u64,
    pub tripletex_wait_ms: u64,
    /// Requests and values per kind of read (this invocation).
    pub tripletex_steps: std::collections::BTreeMap<String, read::StepStats>,
    pub dynamodb_write_requests: u32,
    pub dynamodb_items_written: u32,
    pub dynamodb_read_requests: u32,
    pub dynamodb_wait_ms: u64,
    pub sqs_requests: u32,
    pub events_sent: u32,
    /// Classification messages (events packed per customer group, up to 100 a message).
    pub messages_sent: u32,
    pub sqs_wait_ms: u64,
    pub brreg_lookups: u32,
    /// Postal addresses written back to Tripletex (`writeAddressesToTripletex`), and those
    /// skipped because Tripletex had a newer version of the customer.
    pub addresses_written: u32,
    pub address_conflicts: u32,
    pub brreg_wait_ms: u64,
    pub build_ms: u64,
    pub total_ms: u64,
    /// Process CPU time (user + sys) by phase, where the platform tells (Linux: /proc/self/stat).
    pub cpu_read_ms: u64,
    pub cpu_build_ms: u64,
    pub cpu_events_ms: u64,
    pub cpu_writes_ms: u64,
    pub counts: SyncCounts,
    pub resumed: bool,
    /// Pages read when the sync was checkpointed (a suspended run; 0 otherwise).
    pub checkpoint_pages: u32,
}

fn ms(d: Duration) -> u64 {
    d.as_millis() as u64
}

/// This process's CPU time (user + sys) in ms; 0 where /proc is not available.
pub fn process_cpu_ms() -> u64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0;
    };
    let after = stat.rsplit_once(") ").map(|x| x.1).unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    // utime and stime, in clock ticks of 1/100 s (USER_HZ on Linux).
    (ticks(11) + ticks(12)) * 10
}

/// The ready mail: SES through [`Mailer::send_once`] (at most once per integration).
pub struct ReadyMail {
    pub mailer: Mailer,
    pub log: Arc<dyn SentMailLog>,
}

/// Where the Tripletex client comes from: built on first use from the consumer-token secret.
pub struct TripletexSource {
    base_url: String,
    consumer_token_secret_id: String,
    /// The client's per-request timeout (None: the client's default).
    request_timeout: Option<std::time::Duration>,
    client: tokio::sync::OnceCell<TripletexClient>,
}

impl TripletexSource {
    pub fn lazy(base_url: impl Into<String>, consumer_token_secret_id: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into(),
            consumer_token_secret_id: consumer_token_secret_id.into(),
            request_timeout: None,
            client: tokio::sync::OnceCell::new(),
        }
    }

    /// The source for a function's configuration (`TRIPLETEX_*`).
    pub fn from_config(config: &crate::config::TripletexConfig) -> Self {
        Self {
            request_timeout: Some(config.request_timeout),
            ..Self::lazy(
                config.base_url.clone(),
                config.consumer_token_secret_id.clone(),
            )
        }
    }

    /// A ready client (tests, benchmarks).
    pub fn ready(client: TripletexClient) -> Self {
        Self {
            base_url: client.base_url().to_string(),
            consumer_token_secret_id: String::new(),
            request_timeout: None,
            client: tokio::sync::OnceCell::new_with(Some(client)),
        }
    }

    /// The client, when it is made already (or was given ready).
    pub fn ready_client(&self) -> Option<&TripletexClient> {
        self.client.get()
    }

    async fn get(&self, secrets: &Secrets) -> Result<&TripletexClient, SyncError> {
        self.client(secrets)
            .await
            .map_err(|e| SyncError::Secrets(e.to_string()))
    }

    /// The client, made once with the consumer token from Secrets Manager.
    pub async fn client(&self, secrets: &Secrets) -> Result<&TripletexClient, SecretsError> {
        self.client
            .get_or_try_init(|| async {
                let token: SecretString =
                    secrets.get_string(&self.consumer_token_secret_id).await?;
                let client = TripletexClient::new(self.base_url.clone(), token);
                Ok(match self.request_timeout {
                    Some(t) => client.with_request_timeout(t),
                    None => client,
                })
            })
            .await
    }
}

/// The sync worker's service.
pub struct SyncService<C: BrregCache = DynamoBrregCache> {
    pub store: DynamoStore,
    pub secrets: Secrets,
    pub tripletex: TripletexSource,
    pub classification: ClassificationQueue,
    pub brreg: Option<CachedBrreg<C>>,
    pub mail: Option<ReadyMail>,
    pub config: SyncConfig,
    /// The current time: the system clock in the worker, a fixed one in tests.
    pub clock: Clock,
}

pub(crate) fn oslo_today(now: DateTime<Utc>) -> NaiveDate {
    now.with_timezone(&Oslo).date_naive()
}

fn checkpoint_key(i: &Integration) -> String {
    format!("{}:{}", i.id, i.version)
}

/// What went wrong in Tripletex, for a person: the fix, or "retried automatically".
fn tripletex_failure(
    e: &TripletexError,
    step: Step,
    first_request: bool,
    integration: &Integration,
) -> (String, bool) {
    let client = integration.settings.client_company_id;
    match e {
        TripletexError::Unauthorized(_) => (
            format!(
                "Tripletex no longer accepts the key: {}",
                TripletexFix::KeyDeletedOrExpired.en()
            ),
            false,
        ),
        TripletexError::Forbidden(api) => {
            let text = format!("{} {}", api.message, api.developer_message.as_deref().unwrap_or(""));
            if first_request && text.to_lowercase().contains("api") && text.contains("tilgang") {
                (
                    format!(
                        "API access is switched off in client {client}: {}",
                        TripletexFix::EnableApiAccessInClient.en()
                    ),
                    false,
                )
            } else if first_request && integration.accountant_key {
                (
                    format!(
                        "the key no longer has access to client {client}: Klient → Tilganger. {}",
                        TripletexFix::LinkKeyToClient.en()
                    ),
                    false,
                )
            } else {
                (
                    format!(
                        "the key lacks access to {}: give it the access template Alle tilganger. {}",
                        step.access(),
                        TripletexFix::GrantAllAccess.en()
                    ),
                    false,
                )
            }
        }
        TripletexError::RateLimited { .. }
        | TripletexError::Server(_)
        | TripletexError::Transport(_) => (
            format!(
                "Tripletex was unavailable while reading {} ({e}); the sync is retried automatically",
                step.access()
            ),
            true,
        ),
        TripletexError::NotFound(_) | TripletexError::Api(_) | TripletexError::Decode(_) => (
            format!(
                "Tripletex answered unexpectedly while reading {} ({e}); the next sync tries again",
                step.access()
            ),
            false,
        ),
    }
}

// ------------------------------------------------------------------ the stages

/// Why the stages stopped before the end: with an outcome (nothing to do, suspended before the
/// deadline, failed for a person to fix), or with an error (SQS delivers the job again).
enum Exit {
    Early(JobOutcome),
    Error(SyncError),
}

impl From<SyncError> for Exit {
    fn from(e: SyncError) -> Self {
        Exit::Error(e)
    }
}

impl From<StoreError> for Exit {
    fn from(e: StoreError) -> Self {
        Exit::Error(e.into())
    }
}

/// One job on its way through the stages: what it syncs, what the last sync left, and the
/// counters. The large data (the mirror, the read, the build, the writes) is handed from stage to
/// stage beside it, each dropped by the last stage that needs it.
struct Run<'j> {
    job: &'j SyncJob,
    integration: Integration,
    /// The last completed sync's summary (the default before the first).
    summary: SyncSummary,
    /// The integration is not ready yet: progress is shown, and the ready notice is owed.
    first_sync: bool,
    /// The read goes on from a checkpoint.
    resumed: bool,
    checkpoint_key: String,
    /// When the read started (in an earlier invocation, when resumed), and whether it reads every
    /// customer: the summary records both.
    read_started_at: DateTime<Utc>,
    full_customer_read: bool,
    started: Instant,
    ddb_wait: Duration,
    build_time: Duration,
    /// Process CPU time at the start of the current phase (`RunStats::cpu_*_ms`).
    cpu_mark: u64,
    stats: RunStats,
}

impl Run<'_> {
    /// CPU time since the last call (the phase that just ended), and a new mark.
    fn cpu_lap(&mut self) -> u64 {
        let now = process_cpu_ms();
        let lap = now.saturating_sub(self.cpu_mark);
        self.cpu_mark = now;
        lap
    }

    fn absorb(&mut self, r: &ReadStats) {
        let s = &mut self.stats;
        s.tripletex_requests = r.requests;
        s.tripletex_reread_pages = r.reread_pages;
        s.tripletex_values = r.values;
        s.tripletex_wait_ms = ms(r.waited);
        s.tripletex_steps = r.steps.clone();
    }

    /// The stats with the totals of the run so far.
    fn final_stats(&mut self) -> RunStats {
        self.stats.dynamodb_wait_ms = ms(self.ddb_wait);
        self.stats.total_ms = ms(self.started.elapsed());
        std::mem::take(&mut self.stats)
    }
}

/// Tripletex as this run reads it: the client, the integration's key, and whom it acts for.
struct Connection<'a> {
    client: &'a TripletexClient,
    key: EmployeeKey,
    acting: Acting,
    /// The client's retry count when the run connected.
    retries_before: u64,
}

impl Connection<'_> {
    /// Requests sent again since the run connected.
    fn retries(&self) -> u64 {
        self.client.retries().saturating_sub(self.retries_before)
    }
}

/// The ledger built from the read, and the raw customers by id (stored beside the mirrored
/// customers; the write-back takes Tripletex's address ids from them).
struct Built {
    ledger: LedgerBuild,
    raw_customers: HashMap<i64, RawCustomer>,
}

/// What changed against the mirror: its writes, and the events packed for the classification queue
/// (serialised only as they are sent).
struct Changes {
    writes: Vec<MirrorWrite>,
    events: BatchPacker,
    event_count: usize,
}

/// The kind of read a step belongs to, as a first sync's progress shows it.
fn progress_phase(step: Step) -> &'static str {
    match step {
        Step::PostingRules | Step::Chart | Step::Customers { .. } => "customers",
        Step::Invoices => "invoices",
        Step::OpenPost { .. } | Step::Postings { .. } => "postings",
        Step::Vouchers => "vouchers",
    }
}

impl<C: BrregCache> SyncService<C> {
    fn now(&self) -> DateTime<Utc> {
        (self.clock)()
    }

    /// Handles one SQS message body. `deadline`: the invocation's deadline.
    pub async fn handle_message(
        &self,
        body: &str,
        deadline: Option<Instant>,
    ) -> Result<JobOutcome, SyncError> {
        let job: SyncJob =
            serde_json::from_str(body).map_err(|e| SyncError::BadMessage(e.to_string()))?;
        self.run_job(&job, deadline).await
    }

    /// Runs one sync job. `deadline`: the invocation's deadline (the read is checkpointed
    /// `deadline_margin` before it).
    pub async fn run_job(
        &self,
        job: &SyncJob,
        deadline: Option<Instant>,
    ) -> Result<JobOutcome, SyncError> {
        match self.stages(job, deadline).await {
            Ok(outcome) | Err(Exit::Early(outcome)) => Ok(outcome),
            Err(Exit::Error(e)) => Err(e),
        }
    }

    /// The pipeline, one stage after the other.
    async fn stages(&self, job: &SyncJob, deadline: Option<Instant>) -> Result<JobOutcome, Exit> {
        let (mut run, mut mirror, read) = self.begin(job).await?;
        let tripletex = self.connect(&run.integration).await?;
        let read = self.read(&mut run, &tripletex, read, deadline).await?;
        let built = self.build(&mut run, read, &mut mirror);
        let registry = self.enrich(&mut run, &tripletex, &built).await;
        run.stats.tripletex_retries = tripletex.retries();
        let changes = self.diff_against_mirror(&mut run, built, mirror, registry)?;
        self.publish_events(&mut run, changes.events, changes.event_count)
            .await?;
        self.write(&mut run, changes.writes).await?;
        self.finish(run).await
    }

    /// Stage 1, begin: the integration, the last sync's summary and the checkpoint; whether there
    /// is anything to do; the mirror as stored (one query sweep); and the read to do: the
    /// checkpoint's, or a new one.
    async fn begin<'j>(
        &self,
        job: &'j SyncJob,
    ) -> Result<(Run<'j>, StoredMirror, ReadState), Exit> {
        let started = Instant::now();
        let mut stats = RunStats::default();
        let store = &self.store;
        let Some(integration) = store.get_integration(&job.org, &job.account_id).await? else {
            return Err(Exit::Early(JobOutcome::Skipped(
                "the account has no integration".into(),
            )));
        };
        if integration.id != job.integration_id {
            return Err(Exit::Early(JobOutcome::Skipped(
                "the integration was replaced since the job was queued".into(),
            )));
        }
        // An account last synced before the key scheme changed has its ledger moved first.
        let summary = store
            .counts_after_legacy_move(&job.org, &job.account_id)
            .await?
            .unwrap_or_default();
        stats.dynamodb_read_requests += 2;
        let checkpoint_key = checkpoint_key(&integration);
        let now = self.now();
        let checkpoint = self
            .load_checkpoint(&job.org, &job.account_id, &checkpoint_key, now)
            .await?;
        stats.dynamodb_read_requests += 1;
        let same_integration = summary.integration_id.as_deref() == Some(integration.id.as_str());
        if checkpoint.is_none()
            && same_integration
            && summary
                .last_completed_started_at
                .is_some_and(|t| t >= job.requested_at)
        {
            // Still owe the ready mail if an earlier delivery could not send it.
            self.ready_mail_if_pending(&integration).await?;
            return Err(Exit::Early(JobOutcome::Skipped(
                "a sync that started after this job was requested has completed".into(),
            )));
        }

        let ddb_started = Instant::now();
        let mirror = store.load_mirror(&job.org, &job.account_id).await?;
        stats.dynamodb_read_requests += mirror.query_pages;
        let ddb_wait = ddb_started.elapsed();

        let resumed = checkpoint.is_some();
        stats.resumed = resumed;
        let read = match checkpoint {
            Some(s) => s,
            None => self.new_read(&integration, &summary, &mirror, now),
        };
        let run = Run {
            job,
            first_sync: integration.status != IntegrationStatus::Ready,
            integration,
            summary,
            resumed,
            checkpoint_key,
            read_started_at: read.started_at,
            full_customer_read: read.customer_read == CustomerRead::Full,
            started,
            ddb_wait,
            build_time: Duration::ZERO,
            cpu_mark: 0,
            stats,
        };
        Ok((run, mirror, read))
    }

    /// The checkpoint of this integration's settings version, unless it is too old to resume.
    async fn load_checkpoint(
        &self,
        org: &OrgId,
        account: &AccountId,
        key: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<ReadState>, StoreError> {
        Ok(match self.store.get_checkpoint(org, account).await? {
            Some((k, text)) if k == key => match serde_json::from_str::<ReadState>(&text) {
                Ok(s) if now - s.started_at < self.config.checkpoint_max_age => Some(s),
                Ok(_) => None,
                Err(e) => {
                    tracing::warn!(error = %e, "checkpoint unreadable; reading afresh");
                    None
                }
            },
            _ => None,
        })
    }

    /// A read from the start: customers changed since the last sync (with an overlap), or all of
    /// them when the integration or its settings are new, the mirror has none, or the last full
    /// read is `full_customer_read_every` old.
    fn new_read(
        &self,
        integration: &Integration,
        summary: &SyncSummary,
        mirror: &StoredMirror,
        now: DateTime<Utc>,
    ) -> ReadState {
        let same_integration = summary.integration_id.as_deref() == Some(integration.id.as_str());
        let full = !same_integration
            || summary.settings_version != Some(integration.version)
            || mirror.raw_customers.is_empty()
            || summary
                .last_full_customer_read_at
                .is_none_or(|t| now - t >= self.config.full_customer_read_every);
        let customer_read = match (full, summary.last_completed_started_at) {
            (false, Some(t)) => CustomerRead::ChangedSince {
                since: (t - self.config.changed_since_overlap)
                    .with_timezone(&Oslo)
                    .format("%Y-%m-%dT%H:%M:%S")
                    .to_string(),
            },
            _ => CustomerRead::Full,
        };
        let today = oslo_today(now);
        ReadState::new(
            integration.id.to_string(),
            integration.version,
            now,
            integration.settings.fetch_from,
            today.succ_opt().unwrap_or(today),
            customer_read,
        )
    }

    /// Stage 2, connect: the Tripletex client and the integration's key (its token from Secrets
    /// Manager; a missing one fails the sync with the fix).
    async fn connect(&self, integration: &Integration) -> Result<Connection<'_>, Exit> {
        let client = self.tripletex.get(&self.secrets).await?;
        let token = match self
            .secrets
            .employee_token(&integration.org, &integration.settings.key_id)
            .await
        {
            Ok(t) => t,
            Err(SecretsError::NotFound(_)) => {
                let text = "the Tripletex key's token is missing in Inndrive: register the key \
                            again and choose it for this account"
                    .to_string();
                self.fail(integration, &text).await?;
                return Err(Exit::Early(JobOutcome::Failed(text)));
            }
            Err(e) => return Err(SyncError::Secrets(e.to_string()).into()),
        };
        let acting = Acting::of_key(
            integration.accountant_key,
            integration.settings.client_company_id,
        );
        Ok(Connection {
            retries_before: client.retries(),
            client,
            key: EmployeeKey::new(integration.settings.key_id.to_string(), token),
            acting,
        })
    }

    /// Stage 3, read: Tripletex, one request at a time, until the read is complete. Before the
    /// deadline (or after `max_pages_per_invocation` pages) the read is stored as the checkpoint
    /// and the run is suspended; a failure in Tripletex fails the sync.
    async fn read(
        &self,
        run: &mut Run<'_>,
        tripletex: &Connection<'_>,
        mut read: ReadState,
        deadline: Option<Instant>,
    ) -> Result<ReadState, Exit> {
        let mut reader = Reader {
            client: tripletex.client,
            key: &tripletex.key,
            acting: tripletex.acting,
            page_size: self.config.page_size,
            voucher_ids_per_request: self.config.voucher_ids_per_request,
            stats: ReadStats::default(),
        };
        run.cpu_lap();
        let mut pages_now = 0u32;
        let mut shown: Option<&str> = None;
        while let Some(step) = read.current() {
            let out_of_time = deadline.is_some_and(|d| {
                d.checked_duration_since(Instant::now())
                    .is_none_or(|left| left < self.config.deadline_margin)
            });
            let out_of_pages = self
                .config
                .max_pages_per_invocation
                .is_some_and(|m| pages_now >= m);
            if out_of_time || out_of_pages {
                run.absorb(&reader.stats);
                let suspended = self.suspend(run, &read, step).await?;
                return Err(Exit::Early(suspended));
            }
            // Progress on a first sync, once per kind of read (a handful of writes in all).
            let phase = progress_phase(step);
            if run.first_sync && shown != Some(phase) {
                self.progress(
                    &run.integration,
                    IntegrationStatus::Syncing,
                    phase,
                    read.pages as u64,
                )
                .await?;
                run.stats.dynamodb_write_requests += 1;
            }
            shown = Some(phase);
            let first_request = read.pages == 0;
            match reader.step(&mut read).await {
                Ok(()) => pages_now += 1,
                Err(ReadError::Tripletex { step, error }) => {
                    let (text, retry) =
                        tripletex_failure(&error, step, first_request, &run.integration);
                    tracing::warn!(step = step.name(), error = %error, retry, "sync failed in Tripletex");
                    self.fail(&run.integration, &text).await?;
                    return Err(if retry {
                        Exit::Error(SyncError::TripletexUnavailable(text))
                    } else {
                        Exit::Early(JobOutcome::Failed(text))
                    });
                }
            }
        }
        run.absorb(&reader.stats);
        run.stats.cpu_read_ms = run.cpu_lap();
        Ok(read)
    }

    /// Stores the read as the checkpoint: a continuation job goes on from it.
    async fn suspend(
        &self,
        run: &mut Run<'_>,
        read: &ReadState,
        step: Step,
    ) -> Result<JobOutcome, SyncError> {
        let text = serde_json::to_string(read)
            .map_err(|e| SyncError::Store(StoreError::Corrupt(format!("checkpoint: {e}"))))?;
        let started = Instant::now();
        let w = self
            .store
            .put_checkpoint(
                &run.job.org,
                &run.job.account_id,
                &run.checkpoint_key,
                &text,
                self.now(),
            )
            .await?;
        run.ddb_wait += started.elapsed();
        run.stats.dynamodb_write_requests += w.requests;
        run.stats.checkpoint_pages = read.pages;
        tracing::info!(
            step = step.name(),
            position = read.position,
            pages = read.pages,
            "sync checkpointed before the deadline; it goes on in a continuation job"
        );
        Ok(JobOutcome::Suspended(run.final_stats()))
    }

    /// Stage 4, build: the ledger from the read (for a `changedSince` read, the other customers
    /// come from the mirror). Closed items the mirror never had are history (the diff would skip
    /// them): the build counts them and drops each as soon as it is built.
    fn build(&self, run: &mut Run<'_>, read: ReadState, mirror: &mut StoredMirror) -> Built {
        let policy = LedgerPolicy {
            loss_accounts: read.loss_accounts.clone(),
            ..LedgerPolicy::from_settings(&run.integration.settings)
        };
        let started = Instant::now();
        let read = read.into_read(std::mem::take(&mut mirror.raw_customers));
        let raw_customers: HashMap<i64, RawCustomer> = read
            .customers
            .iter()
            .filter_map(|c| c.id.map(|id| (id, c.clone())))
            .collect();
        let ledger = build_ledger_keeping(&read, &policy, oslo_today(self.now()), |id| {
            mirror.state.items.contains_key(id)
        });
        drop(read);
        run.build_time += started.elapsed();
        Built {
            ledger,
            raw_customers,
        }
    }

    /// Stage 5, enrich: Enhetsregisteret for the business customers (`updateAddressesFromBrreg`),
    /// and the register's postal address back to Tripletex (`writeAddressesToTripletex`, off by
    /// default; never fails the sync: a stale version is retried by the next one).
    async fn enrich(
        &self,
        run: &mut Run<'_>,
        tripletex: &Connection<'_>,
        built: &Built,
    ) -> HashMap<i64, CustomerRegistry> {
        if !run.integration.settings.update_addresses_from_brreg {
            return HashMap::new();
        }
        let registry = self.registry(&built.ledger, &mut run.stats).await;
        if writeback::write_back_enabled(&run.integration.settings) && !registry.is_empty() {
            let mut planned = writeback::planned_address_writes(&built.ledger.customers, &registry);
            for p in &mut planned {
                p.tripletex_address_id = built
                    .raw_customers
                    .get(&p.customer_id)
                    .and_then(|r| r.postal_address.as_ref())
                    .and_then(|a| a.id);
            }
            let started = Instant::now();
            let report = writeback::write_back_addresses(
                tripletex.client,
                &tripletex.key,
                tripletex.acting,
                &run.integration.settings,
                &planned,
            )
            .await;
            run.stats.tripletex_wait_ms += ms(started.elapsed());
            run.stats.addresses_written = report.written;
            run.stats.address_conflicts = report.conflicts;
            tracing::info!(
                written = report.written,
                conflicts = report.conflicts,
                skipped = report.skipped.len(),
                failures = report.failures.len(),
                "address write-back"
            );
        }
        registry
    }

    /// Stage 6, diff: what changed against the mirror, as store writes (customers with their raw
    /// read and registry information) and events, packed per customer group.
    fn diff_against_mirror(
        &self,
        run: &mut Run<'_>,
        built: Built,
        mirror: StoredMirror,
        registry: HashMap<i64, CustomerRegistry>,
    ) -> Result<Changes, Exit> {
        let started = Instant::now();
        let Built {
            ledger,
            mut raw_customers,
        } = built;
        let d = diff(&mirror.state, &ledger, Completeness::Full);
        let writes = mirror_writes(
            &mirror,
            &ledger,
            d.writes,
            &registry,
            run.integration.settings.update_addresses_from_brreg,
            &mut raw_customers,
        );
        let event_count = d.events.len();
        let i = &run.integration;
        let events = BatchPacker::new(&i.org, &i.account_id, &i.id, d.events)
            .map_err(|e| SyncError::Queue(format!("could not serialise the events: {e}")))?;
        run.build_time += started.elapsed();
        run.stats.build_ms = ms(run.build_time);
        run.stats.counts = ledger.counts.clone();
        drop((ledger, mirror, raw_customers, registry));
        run.stats.cpu_build_ms = run.cpu_lap();
        Ok(Changes {
            writes,
            events,
            event_count,
        })
    }

    /// Stage 7, publish events: to the classification queue, before the writes. A run that stops
    /// in between finds the same changes again and sends the same messages (deduplicated); the
    /// other order could store a change whose event was never sent.
    async fn publish_events(
        &self,
        run: &mut Run<'_>,
        events: BatchPacker,
        count: usize,
    ) -> Result<(), Exit> {
        if count > 0 {
            let sent = self
                .classification
                .send_all(events)
                .await
                .map_err(|e| SyncError::Queue(e.to_string()))?;
            run.stats.sqs_requests += sent.calls;
            run.stats.events_sent = count as u32;
            run.stats.messages_sent = sent.messages;
            run.stats.sqs_wait_ms = ms(sent.waited);
        }
        run.stats.cpu_events_ms = run.cpu_lap();
        Ok(())
    }

    /// Stage 8, write: the mirror's writes (BatchWriteItem, 25 a request).
    async fn write(&self, run: &mut Run<'_>, writes: Vec<MirrorWrite>) -> Result<(), Exit> {
        if !writes.is_empty() {
            let w: BatchStats = self
                .store
                .write_mirror(&run.job.org, &run.job.account_id, &writes)
                .await?;
            run.stats.dynamodb_write_requests += w.requests;
            run.stats.dynamodb_items_written += w.items;
            run.ddb_wait += w.waited;
        }
        drop(writes);
        run.stats.cpu_writes_ms = run.cpu_lap();
        Ok(())
    }

    /// Stage 9, finish: the summary, the checkpoint removed, status ready (unless the integration
    /// was replaced meanwhile); the ready notice after the first sync, and the ready mail.
    async fn finish(&self, mut run: Run<'_>) -> Result<JobOutcome, Exit> {
        let store = &self.store;
        let account = &run.job.account_id;
        let finished = self.now();
        let started = Instant::now();
        let summary = SyncSummary {
            counts: run.stats.counts.clone(),
            last_completed_started_at: Some(run.read_started_at),
            last_completed_at: Some(finished),
            first_ready_at: run.summary.first_ready_at.or(Some(finished)),
            last_full_customer_read_at: if run.full_customer_read {
                Some(run.read_started_at)
            } else {
                run.summary.last_full_customer_read_at
            },
            integration_id: Some(run.integration.id.to_string()),
            settings_version: Some(run.integration.version),
        };
        store.put_summary(&run.job.org, account, &summary).await?;
        run.stats.dynamodb_write_requests += 1;
        if run.resumed {
            store.delete_checkpoint(&run.job.org, account).await?;
            run.stats.dynamodb_write_requests += 1;
        }
        let i = &run.integration;
        let still_ours = store
            .update_sync_state(
                &i.org,
                &i.account_id,
                &i.id,
                IntegrationStatus::Ready,
                None,
                Some(&LastSync {
                    finished_at: finished,
                    succeeded: true,
                    message: None,
                }),
            )
            .await?;
        run.stats.dynamodb_write_requests += 1;
        run.ddb_wait += started.elapsed();
        if !still_ours {
            return Ok(JobOutcome::Skipped(
                "the integration was replaced during the sync".into(),
            ));
        }
        if run.summary.first_ready_at.is_none() || run.first_sync {
            self.ready_notice(i, &run.stats.counts, finished).await?;
        }
        self.ready_mail_if_pending(i).await?;
        let stats = run.final_stats();
        tracing::info!(
            written = stats.dynamodb_items_written,
            events = stats.events_sent,
            tripletex_requests = stats.tripletex_requests,
            tripletex_retries = stats.tripletex_retries,
            tripletex_reread_pages = stats.tripletex_reread_pages,
            open_items = stats.counts.open_items,
            "sync completed"
        );
        Ok(JobOutcome::Completed(stats))
    }

    async fn progress(
        &self,
        i: &Integration,
        status: IntegrationStatus,
        step: &str,
        done: u64,
    ) -> Result<(), SyncError> {
        self.store
            .update_sync_state(
                &i.org,
                &i.account_id,
                &i.id,
                status,
                Some(&SyncProgress {
                    step: step.to_string(),
                    done,
                    total: None,
                }),
                None,
            )
            .await?;
        Ok(())
    }

    async fn fail(&self, i: &Integration, text: &str) -> Result<(), SyncError> {
        self.store
            .update_sync_state(
                &i.org,
                &i.account_id,
                &i.id,
                IntegrationStatus::Failed,
                None,
                Some(&LastSync {
                    finished_at: self.now(),
                    succeeded: false,
                    message: Some(text.to_string()),
                }),
            )
            .await?;
        Ok(())
    }

    /// Enhetsregisteret for the business customers with a valid organisation number (cached a day).
    /// A failing look-up leaves that customer without registry information this time.
    async fn registry(
        &self,
        build: &LedgerBuild,
        stats: &mut RunStats,
    ) -> HashMap<i64, CustomerRegistry> {
        let mut out = HashMap::new();
        let Some(brreg) = &self.brreg else {
            return out;
        };
        let started = Instant::now();
        let now = self.now();
        for c in &build.customers {
            let Some(org) = &c.organization_number else {
                continue;
            };
            if c.debtor_kind != crate::domain::DebtorKind::Business {
                continue;
            }
            stats.brreg_lookups += 1;
            match brreg.entity(org, now).await {
                Ok(answer) => {
                    let reg = match &answer.entity {
                        Some(e) => CustomerRegistry {
                            stop_dunning: e.status.stop_dunning(),
                            stop_reasons: e.stop_reasons(),
                            found: true,
                            registered_name: e.status.name.clone(),
                            registered_address: e.status.postal_address.clone(),
                        },
                        None => CustomerRegistry {
                            stop_dunning: false,
                            stop_reasons: Vec::new(),
                            found: false,
                            registered_name: None,
                            registered_address: None,
                        },
                    };
                    out.insert(c.id, reg);
                }
                Err(e) => {
                    tracing::warn!(customer = c.id, error = %e, "Enhetsregisteret look-up failed");
                }
            }
        }
        stats.brreg_wait_ms = ms(started.elapsed());
        out
    }

    async fn ready_notice(
        &self,
        i: &Integration,
        counts: &SyncCounts,
        at: DateTime<Utc>,
    ) -> Result<(), SyncError> {
        let contact = self.store.org_contact_email(&i.org).await?;
        let notice = ReadyNotice {
            account_id: i.account_id.clone(),
            integration_id: i.id.to_string(),
            client_company_name: i.client_company_name.clone(),
            counts: counts.clone(),
            created_at: at,
            mail: if contact.is_some() && self.mail.is_some() {
                MailState::Pending
            } else {
                MailState::None
            },
        };
        self.store
            .put_ready_notice(&i.org, &i.account_id, &notice)
            .await?;
        Ok(())
    }

    /// Sends the ready mail if the notice says it is owed (at most once: `send_once`).
    async fn ready_mail_if_pending(&self, i: &Integration) -> Result<(), SyncError> {
        let Some(mail) = &self.mail else {
            return Ok(());
        };
        let Some(notice) = self.store.get_ready_notice(&i.org, &i.account_id).await? else {
            return Ok(());
        };
        if notice.mail != MailState::Pending || notice.integration_id != i.id.as_str() {
            return Ok(());
        }
        let Some(to) = self.store.org_contact_email(&i.org).await? else {
            return Ok(());
        };
        let account_name = self
            .store
            .get_account(&i.org, &i.account_id)
            .await?
            .map(|a| a.name)
            .or_else(|| i.client_company_name.clone())
            .unwrap_or_default();
        let msg = OutgoingMail::to_one(
            &to,
            ready_mail(&account_name, &notice.counts),
            ready_mail_key(&i.id),
        );
        match mail
            .mailer
            .send_once(mail.log.as_ref(), &msg, self.now())
            .await
        {
            Ok(_) => {
                self.store
                    .mark_ready_mail_sent(&i.org, &i.account_id, self.now())
                    .await?;
                Ok(())
            }
            Err(e) if e.is_retryable() => Err(SyncError::Mail(e.to_string())),
            Err(e) => {
                // At most once: a mail that may have gone out is not sent again automatically.
                tracing::error!(error = %e, "the ready mail could not be sent; not retried");
                Ok(())
            }
        }
    }
}

/// Turns the domain's writes into store writes: customers get their raw read and registry
/// information (and the register's postal address); a customer whose registry information changed
/// is written even when its Tripletex data did not; a skip record whose reason changed replaces the
/// record under the old reason.
fn mirror_writes(
    mirror: &StoredMirror,
    build: &LedgerBuild,
    writes: Vec<LedgerWrite>,
    registry: &HashMap<i64, CustomerRegistry>,
    brreg_on: bool,
    raw_by_id: &mut HashMap<i64, RawCustomer>,
) -> Vec<MirrorWrite> {
    let mut out = Vec::with_capacity(writes.len());
    let mut customers_written = std::collections::HashSet::new();
    let stored = |c: &crate::domain::ledger::MirroredCustomer| {
        let reg = registry.get(&c.id).cloned();
        let mut customer = c.clone();
        let mut tripletex_postal_address = None;
        if let Some(r) = &reg {
            if let Some(addr) = r.address_update_for(c) {
                tripletex_postal_address = c.postal_address.clone();
                customer.postal_address = Some(addr);
            }
        }
        StoredCustomer {
            customer,
            tripletex_postal_address,
            registry: reg,
        }
    };
    for w in writes {
        match w {
            LedgerWrite::UpsertCustomer { customer, hash } => {
                customers_written.insert(customer.id);
                out.push(MirrorWrite::PutCustomer {
                    customer: Box::new(stored(&customer)),
                    raw: raw_by_id.remove(&customer.id).map(Box::new),
                    hash,
                });
            }
            LedgerWrite::DeleteCustomer { id } => out.push(MirrorWrite::DeleteCustomer(id)),
            LedgerWrite::UpsertItem { item, hash } => out.push(MirrorWrite::PutItem { item, hash }),
            LedgerWrite::DeleteItem { id } => out.push(MirrorWrite::DeleteItem(id)),
            LedgerWrite::UpsertSkip { skip, hash } => {
                if let Some(old) = mirror.skip_reasons.get(skip.key()) {
                    if *old != skip.reason {
                        out.push(MirrorWrite::DeleteSkip {
                            reason: *old,
                            key: skip.key().to_string(),
                        });
                    }
                }
                out.push(MirrorWrite::PutSkip { skip, hash });
            }
            LedgerWrite::DeleteSkip { key } => {
                if let Some(reason) = mirror.skip_reasons.get(&key) {
                    out.push(MirrorWrite::DeleteSkip {
                        reason: *reason,
                        key,
                    });
                }
            }
        }
    }
    // Registry changes alone (a bankruptcy) also rewrite the customer.
    for c in &build.customers {
        if customers_written.contains(&c.id) {
            continue;
        }
        let now = registry.get(&c.id).map(CustomerRegistry::content_hash);
        let before = mirror.registry_hashes.get(&c.id).copied();
        // A failed look-up (no answer this time) keeps what is stored; with the setting off the
        // registry information is dropped once.
        let changed = match now {
            Some(_) => now != before,
            None => !brreg_on && before.is_some(),
        };
        if changed {
            out.push(MirrorWrite::PutCustomer {
                customer: Box::new(stored(c)),
                raw: raw_by_id.remove(&c.id).map(Box::new),
                hash: c.content_hash(),
            });
        }
    }
    out
}
