//! The ledger sync (issue 4): one job from the FIFO sync queue mirrors one integration's customer
//! ledger from Tripletex into DynamoDB and sends what changed to the classification queue.
//!
//! ```text
//! job ─▶ integration, summary, checkpoint ─▶ mirror (1 query sweep) ─▶ read Tripletex (resumable)
//!     ─▶ Brønnøysund (optional) ─▶ build_ledger ─▶ diff ─▶ events (SQS FIFO, packed per customer group)
//!     ─▶ writes (BatchWriteItem, 25 a batch) ─▶ summary, status ready, ready notice + mail
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

pub mod read;
pub mod writeback;

pub use read::{CustomerRead, ReadState, ReadStats, Step, StepStats};

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Europe::Oslo;
use secrecy::SecretString;
use serde::Serialize;

use crate::adapters::brreg::{BrregCache, CachedBrreg};
use crate::adapters::mail::{Mailer, OutgoingMail, SentMailLog};
use crate::adapters::queue::{
    BatchPacker, PackedBatch, QueueError, SyncJob, SyncQueue, SyncReason,
};
use crate::adapters::secrets::{Secrets, SecretsError};
use crate::adapters::store::keys::ready_mail_key;
use crate::adapters::store::ledger::{
    BatchStats, CustomerRegistry, MailState, MirrorWrite, ReadyNotice, StoredCustomer,
    StoredMirror, SyncSummary,
};
use crate::adapters::store::{DynamoStore, StoreError};
use crate::adapters::tripletex::{Acting, EmployeeKey, TripletexClient, TripletexError};
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

/// The classification queue (FIFO): a sync's events packed per customer group
/// ([`crate::adapters::queue::ClassificationBatch`]).
#[derive(Debug, Clone)]
pub struct ClassificationQueue {
    client: aws_sdk_sqs::Client,
    url: String,
}

/// Bytes of one SendMessageBatch call at most (the sum of its bodies; SQS: 256 KiB).
const MAX_CALL_BYTES: usize = 256 * 1024 - 4 * 1024;

impl ClassificationQueue {
    pub fn new(client: aws_sdk_sqs::Client, url: impl Into<String>) -> Self {
        Self {
            client,
            url: url.into(),
        }
    }

    /// Sends the messages with SendMessageBatch (up to 10 and `MAX_CALL_BYTES` a call), in
    /// order, taking them from `messages` as it goes (only one call's worth of JSON is held).
    /// Entries SQS could not take (its fault) are sent again after a pause (bounded), before the
    /// next call; entries it refused (ours) fail the sync. Returns (calls, messages, time waited).
    pub async fn send_all<I>(&self, messages: I) -> Result<(u32, u32, Duration), SyncError>
    where
        I: IntoIterator<Item = Result<PackedBatch, serde_json::Error>>,
    {
        let (mut calls, mut sent) = (0u32, 0u32);
        let mut waited = Duration::ZERO;
        let mut source = messages.into_iter().peekable();
        loop {
            let mut chunk: Vec<PackedBatch> = Vec::with_capacity(10);
            let mut bytes = 0;
            while chunk.len() < 10 {
                let fits = match source.peek() {
                    None => false,
                    Some(Err(_)) => true,
                    Some(Ok(m)) => chunk.is_empty() || bytes + m.body.len() <= MAX_CALL_BYTES,
                };
                if !fits {
                    break;
                }
                match source.next() {
                    Some(Ok(m)) => {
                        bytes += m.body.len();
                        chunk.push(m);
                    }
                    Some(Err(e)) => {
                        return Err(SyncError::Queue(format!(
                            "could not serialise the events: {e}"
                        )))
                    }
                    None => break,
                }
            }
            if chunk.is_empty() {
                break;
            }
            sent += chunk.len() as u32;
            let mut attempts = 0u32;
            loop {
                let (c, w, failed) = self.send_batch(&chunk).await?;
                calls += c;
                waited += w;
                if failed.is_empty() {
                    break;
                }
                attempts += 1;
                if attempts > 4 {
                    return Err(SyncError::Queue(format!(
                        "{} messages still failing after {attempts} attempts",
                        failed.len()
                    )));
                }
                let delay = Duration::from_millis(100 << attempts);
                tokio::time::sleep(delay).await;
                waited += delay;
                chunk = failed;
            }
        }
        Ok((calls, sent, waited))
    }

    /// One SendMessageBatch call: (calls, time waited, the entries to send again).
    async fn send_batch(
        &self,
        chunk: &[PackedBatch],
    ) -> Result<(u32, Duration, Vec<PackedBatch>), SyncError> {
        let mut entries = Vec::with_capacity(chunk.len());
        for (i, m) in chunk.iter().enumerate() {
            entries.push(
                SendMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .message_body(m.body.clone())
                    .message_group_id(&m.group_id)
                    .message_deduplication_id(&m.deduplication_id)
                    .build()
                    .map_err(|e| SyncError::Queue(e.to_string()))?,
            );
        }
        let started = Instant::now();
        let out = self
            .client
            .send_message_batch()
            .queue_url(&self.url)
            .set_entries(Some(entries))
            .send()
            .await;
        let waited = started.elapsed();
        let mut again = Vec::new();
        match out {
            Ok(o) => {
                for f in o.failed() {
                    if let Some(m) = f.id().parse::<usize>().ok().and_then(|i| chunk.get(i)) {
                        if f.sender_fault() {
                            return Err(SyncError::Queue(format!(
                                "message {} (group {}) refused: {}",
                                m.deduplication_id,
                                m.group_id,
                                f.message().unwrap_or_default()
                            )));
                        }
                        again.push(m.clone());
                    }
                }
            }
            Err(e) => {
                let text = aws_sdk_sqs::error::DisplayErrorContext(&e).to_string();
                tracing::warn!(error = %text, "SendMessageBatch failed; sent again");
                again.extend(chunk.iter().cloned());
            }
        }
        Ok((1, waited, again))
    }
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
    client: tokio::sync::OnceCell<TripletexClient>,
}

impl TripletexSource {
    pub fn lazy(base_url: impl Into<String>, consumer_token_secret_id: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into(),
            consumer_token_secret_id: consumer_token_secret_id.into(),
            client: tokio::sync::OnceCell::new(),
        }
    }

    /// A ready client (tests, benchmarks).
    pub fn ready(client: TripletexClient) -> Self {
        Self {
            base_url: client.base_url().to_string(),
            consumer_token_secret_id: String::new(),
            client: tokio::sync::OnceCell::new_with(Some(client)),
        }
    }

    async fn get(&self, secrets: &Secrets) -> Result<&TripletexClient, SyncError> {
        self.client
            .get_or_try_init(|| async {
                let token: SecretString = secrets
                    .get_string(&self.consumer_token_secret_id)
                    .await
                    .map_err(|e| SyncError::Secrets(e.to_string()))?;
                Ok(TripletexClient::new(self.base_url.clone(), token))
            })
            .await
    }
}

/// The sync worker's service.
pub struct SyncService<C: BrregCache = crate::adapters::brreg::DynamoBrregCache> {
    pub store: DynamoStore,
    pub secrets: Secrets,
    pub tripletex: TripletexSource,
    pub classification: ClassificationQueue,
    pub brreg: Option<CachedBrreg<C>>,
    pub mail: Option<ReadyMail>,
    pub config: SyncConfig,
}

fn oslo_today(now: DateTime<Utc>) -> NaiveDate {
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

impl<C: BrregCache> SyncService<C> {
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

    /// Runs one sync job.
    pub async fn run_job(
        &self,
        job: &SyncJob,
        deadline: Option<Instant>,
    ) -> Result<JobOutcome, SyncError> {
        let t0 = Instant::now();
        let mut stats = RunStats::default();
        let store = &self.store;
        let Some(integration) = store.get_integration(&job.org, &job.account_id).await? else {
            return Ok(JobOutcome::Skipped("the account has no integration".into()));
        };
        if integration.id != job.integration_id {
            return Ok(JobOutcome::Skipped(
                "the integration was replaced since the job was queued".into(),
            ));
        }
        // An account last synced before the key scheme changed has its ledger moved first.
        let summary = store
            .counts_after_legacy_move(&job.org, &job.account_id)
            .await?
            .unwrap_or_default();
        stats.dynamodb_read_requests += 2;
        let ckpt_key = checkpoint_key(&integration);
        let now = Utc::now();
        let checkpoint: Option<ReadState> = match store
            .get_checkpoint(&job.org, &job.account_id)
            .await?
        {
            Some((k, text)) if k == ckpt_key => match serde_json::from_str::<ReadState>(&text) {
                Ok(s) if now - s.started_at < self.config.checkpoint_max_age => Some(s),
                Ok(_) => None,
                Err(e) => {
                    tracing::warn!(error = %e, "checkpoint unreadable; reading afresh");
                    None
                }
            },
            _ => None,
        };
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
            return Ok(JobOutcome::Skipped(
                "a sync that started after this job was requested has completed".into(),
            ));
        }
        let first_sync = integration.status != IntegrationStatus::Ready;

        let ddb_started = Instant::now();
        let mut mirror = store.load_mirror(&job.org, &job.account_id).await?;
        stats.dynamodb_read_requests += mirror.query_pages;
        let mut ddb_wait = ddb_started.elapsed();

        let resumed = checkpoint.is_some();
        stats.resumed = resumed;
        let mut st = match checkpoint {
            Some(s) => s,
            None => {
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
        };

        // ------------------------------------------------------------------ read Tripletex
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
                self.fail(&integration, &text).await?;
                return Ok(JobOutcome::Failed(text));
            }
            Err(e) => return Err(SyncError::Secrets(e.to_string())),
        };
        let key = EmployeeKey::new(integration.settings.key_id.to_string(), token);
        let acting = if integration.accountant_key {
            Acting::Client(integration.settings.client_company_id)
        } else {
            Acting::OwnCompany
        };
        let mut reader = Reader {
            client,
            key: &key,
            acting,
            page_size: self.config.page_size,
            voucher_ids_per_request: self.config.voucher_ids_per_request,
            stats: ReadStats::default(),
        };
        let cpu_read0 = process_cpu_ms();
        let mut pages_now = 0u32;
        let mut last_step: Option<&str> = None;
        while let Some(step) = st.current() {
            let out_of_time = deadline.is_some_and(|d| {
                d.checked_duration_since(Instant::now())
                    .is_none_or(|left| left < self.config.deadline_margin)
            });
            let out_of_pages = self
                .config
                .max_pages_per_invocation
                .is_some_and(|m| pages_now >= m);
            if out_of_time || out_of_pages {
                self.absorb(&mut stats, &reader.stats);
                let text = serde_json::to_string(&st).map_err(|e| {
                    SyncError::Store(StoreError::Corrupt(format!("checkpoint: {e}")))
                })?;
                let started = Instant::now();
                let w = store
                    .put_checkpoint(&job.org, &job.account_id, &ckpt_key, &text)
                    .await?;
                ddb_wait += started.elapsed();
                stats.dynamodb_write_requests += w.requests;
                stats.dynamodb_wait_ms = ms(ddb_wait);
                stats.total_ms = ms(t0.elapsed());
                stats.checkpoint_pages = st.pages;
                tracing::info!(
                    step = step.name(),
                    position = st.position,
                    pages = st.pages,
                    "sync checkpointed before the deadline; it goes on in a continuation job"
                );
                return Ok(JobOutcome::Suspended(stats));
            }
            // Progress on a first sync, once per kind of read (a handful of writes in all).
            let phase = match step {
                Step::PostingRules | Step::Chart | Step::Customers { .. } => "customers",
                Step::Invoices => "invoices",
                Step::OpenPost { .. } | Step::Postings { .. } => "postings",
                Step::Vouchers => "vouchers",
            };
            if first_sync && last_step != Some(phase) {
                self.progress(
                    &integration,
                    IntegrationStatus::Syncing,
                    phase,
                    st.pages as u64,
                )
                .await?;
                stats.dynamodb_write_requests += 1;
            }
            last_step = Some(phase);
            let first_request = st.pages == 0;
            match reader.step(&mut st).await {
                Ok(()) => pages_now += 1,
                Err(ReadError::Tripletex { step, error }) => {
                    let (text, retry) =
                        tripletex_failure(&error, step, first_request, &integration);
                    tracing::warn!(step = step.name(), error = %error, retry, "sync failed in Tripletex");
                    self.fail(&integration, &text).await?;
                    if retry {
                        return Err(SyncError::TripletexUnavailable(text));
                    }
                    return Ok(JobOutcome::Failed(text));
                }
            }
        }
        self.absorb(&mut stats, &reader.stats);
        let cpu_build0 = process_cpu_ms();
        stats.cpu_read_ms = cpu_build0.saturating_sub(cpu_read0);

        // ------------------------------------------------------------------ build and diff
        let policy = LedgerPolicy {
            loss_accounts: st.loss_accounts.clone(),
            ..LedgerPolicy::from_settings(&integration.settings)
        };
        let started_at = st.started_at;
        let customer_read_full = st.customer_read == CustomerRead::Full;
        let raw_customers = std::mem::take(&mut mirror.raw_customers);
        let build_started = Instant::now();
        let read = st.into_read(raw_customers);
        let mut raw_by_id: HashMap<i64, crate::domain::ledger::raw::RawCustomer> = read
            .customers
            .iter()
            .filter_map(|c| c.id.map(|id| (id, c.clone())))
            .collect();
        // Closed items the mirror never had are history (the diff would skip them): the build
        // counts them and drops each as soon as it is built.
        let build = build_ledger_keeping(&read, &policy, oslo_today(Utc::now()), |id| {
            mirror.state.items.contains_key(id)
        });
        drop(read);
        let mut build_time = build_started.elapsed();

        let registry = if integration.settings.update_addresses_from_brreg {
            self.registry(&build, &mut stats).await
        } else {
            HashMap::new()
        };

        // The register's postal address back to Tripletex (`writeAddressesToTripletex`, off by
        // default); never fails the sync (a stale version is retried by the next one).
        if writeback::write_back_enabled(&integration.settings) && !registry.is_empty() {
            let mut planned = writeback::planned_address_writes(&build.customers, &registry);
            for p in &mut planned {
                p.tripletex_address_id = raw_by_id
                    .get(&p.customer_id)
                    .and_then(|r| r.postal_address.as_ref())
                    .and_then(|a| a.id);
            }
            let started = Instant::now();
            let report = writeback::write_back_addresses(
                client,
                &key,
                acting,
                &integration.settings,
                &planned,
            )
            .await;
            stats.tripletex_wait_ms += ms(started.elapsed());
            stats.addresses_written = report.written;
            stats.address_conflicts = report.conflicts;
            tracing::info!(
                written = report.written,
                conflicts = report.conflicts,
                skipped = report.skipped.len(),
                failures = report.failures.len(),
                "address write-back"
            );
        }

        let build_started = Instant::now();
        let d = diff(&mirror.state, &build, Completeness::Full);
        let writes = mirror_writes(
            &mirror,
            &build,
            d.writes,
            &registry,
            integration.settings.update_addresses_from_brreg,
            &mut raw_by_id,
        );
        let event_count = d.events.len();
        let messages = BatchPacker::new(
            &integration.org,
            &integration.account_id,
            &integration.id,
            d.events,
        )
        .map_err(|e| SyncError::Queue(format!("could not serialise the events: {e}")))?;
        build_time += build_started.elapsed();
        stats.build_ms = ms(build_time);
        stats.counts = build.counts.clone();
        drop(build);
        let cpu_events0 = process_cpu_ms();
        stats.cpu_build_ms = cpu_events0.saturating_sub(cpu_build0);

        // ------------------------------------------------------------------ events, then writes
        if event_count > 0 {
            let (calls, sent, waited) = self.classification.send_all(messages).await?;
            stats.sqs_requests += calls;
            stats.events_sent = event_count as u32;
            stats.messages_sent = sent;
            stats.sqs_wait_ms = ms(waited);
        }
        let cpu_writes0 = process_cpu_ms();
        stats.cpu_events_ms = cpu_writes0.saturating_sub(cpu_events0);
        if !writes.is_empty() {
            let w: BatchStats = store
                .write_mirror(&job.org, &job.account_id, &writes)
                .await?;
            stats.dynamodb_write_requests += w.requests;
            stats.dynamodb_items_written += w.items;
            ddb_wait += w.waited;
        }
        drop(writes);
        stats.cpu_writes_ms = process_cpu_ms().saturating_sub(cpu_writes0);

        // ------------------------------------------------------------------ done
        let finished = Utc::now();
        let started = Instant::now();
        let new_summary = SyncSummary {
            counts: stats.counts.clone(),
            last_completed_started_at: Some(started_at),
            last_completed_at: Some(finished),
            first_ready_at: summary.first_ready_at.or(Some(finished)),
            last_full_customer_read_at: if customer_read_full {
                Some(started_at)
            } else {
                summary.last_full_customer_read_at
            },
            integration_id: Some(integration.id.to_string()),
            settings_version: Some(integration.version),
        };
        store
            .put_summary(&job.org, &job.account_id, &new_summary)
            .await?;
        stats.dynamodb_write_requests += 1;
        if resumed {
            store.delete_checkpoint(&job.org, &job.account_id).await?;
            stats.dynamodb_write_requests += 1;
        }
        let still_ours = store
            .update_sync_state(
                &integration.org,
                &integration.account_id,
                &integration.id,
                IntegrationStatus::Ready,
                None,
                Some(&LastSync {
                    finished_at: finished,
                    succeeded: true,
                    message: None,
                }),
            )
            .await?;
        stats.dynamodb_write_requests += 1;
        ddb_wait += started.elapsed();
        if !still_ours {
            return Ok(JobOutcome::Skipped(
                "the integration was replaced during the sync".into(),
            ));
        }
        if summary.first_ready_at.is_none() || first_sync {
            self.ready_notice(&integration, &stats.counts, finished)
                .await?;
        }
        self.ready_mail_if_pending(&integration).await?;
        stats.dynamodb_wait_ms = ms(ddb_wait);
        stats.total_ms = ms(t0.elapsed());
        tracing::info!(
            written = stats.dynamodb_items_written,
            events = stats.events_sent,
            tripletex_requests = stats.tripletex_requests,
            open_items = stats.counts.open_items,
            "sync completed"
        );
        Ok(JobOutcome::Completed(stats))
    }

    fn absorb(&self, stats: &mut RunStats, r: &ReadStats) {
        stats.tripletex_requests = r.requests;
        stats.tripletex_reread_pages = r.reread_pages;
        stats.tripletex_values = r.values;
        stats.tripletex_wait_ms = ms(r.waited);
        stats.tripletex_steps = r.steps.clone();
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
                    finished_at: Utc::now(),
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
        let now = Utc::now();
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
            .send_once(mail.log.as_ref(), &msg, Utc::now())
            .await
        {
            Ok(_) => {
                self.store
                    .mark_ready_mail_sent(&i.org, &i.account_id)
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
    raw_by_id: &mut HashMap<i64, crate::domain::ledger::raw::RawCustomer>,
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

// ---------------------------------------------------------------------------- enqueueing jobs

/// After a suspended run: queues the rest of the sync (reason `continue`, same key group). The
/// caller acknowledges the current message when this succeeds, and fails it otherwise.
pub async fn continue_later(
    queue: &SyncQueue,
    job: &SyncJob,
    stats: &RunStats,
) -> Result<String, SyncError> {
    queue
        .enqueue_continuation(job, stats.checkpoint_pages)
        .await
        .map_err(|e| SyncError::Queue(e.to_string()))
}

/// Outcome of [`request_sync`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestSync {
    /// Queued (the SQS message id).
    Queued(SyncJob),
    /// The account has no integration.
    NoIntegration,
}

/// `POST /v1/accounts/{id}/integration/sync`: asks for a sync now (manual), on the same FIFO
/// queue and message group (the key) as the nightly and initial syncs. A second request within the
/// same second is deduplicated by SQS; a job requested while a sync runs is served by it or runs
/// after it.
pub async fn request_sync(
    store: &DynamoStore,
    queue: &SyncQueue,
    org: &OrgId,
    account: &AccountId,
) -> Result<RequestSync, SyncError> {
    let Some(i) = store.get_integration(org, account).await? else {
        return Ok(RequestSync::NoIntegration);
    };
    let job = job_for(&i, SyncReason::Manual, Utc::now());
    queue
        .enqueue(&job)
        .await
        .map_err(|e: QueueError| SyncError::Queue(e.to_string()))?;
    Ok(RequestSync::Queued(job))
}

/// The job that syncs integration `i`.
pub fn job_for(i: &Integration, reason: SyncReason, at: DateTime<Utc>) -> SyncJob {
    SyncJob {
        org: i.org.clone(),
        account_id: i.account_id.clone(),
        integration_id: i.id.clone(),
        key_id: i.settings.key_id.clone(),
        client_company_id: i.settings.client_company_id,
        reason,
        settings_version: i.version,
        requested_at: at,
    }
}

/// The deduplication id of the nightly job: `scheduled:{integrationId}:{YYYY-MM-DD}` (Oslo date),
/// so a retried schedule run enqueues nothing twice.
pub fn scheduled_dedup_id(i: &Integration, now: DateTime<Utc>) -> String {
    format!("scheduled:{}:{}", i.id, oslo_today(now).format("%Y-%m-%d"))
}

/// What the scheduled run did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ScheduledRun {
    pub integrations: u32,
    pub enqueued: u32,
    pub skipped: u32,
}

/// The nightly run: one job per integration (GSI2), message group = the key, 10 a SendMessageBatch.
/// Integrations whose initial sync is still queued are left to it.
pub async fn enqueue_scheduled(
    store: &DynamoStore,
    sqs: &aws_sdk_sqs::Client,
    sync_queue_url: &str,
    now: DateTime<Utc>,
) -> Result<ScheduledRun, SyncError> {
    let all = store.all_integrations().await?;
    let mut run = ScheduledRun {
        integrations: all.len() as u32,
        ..Default::default()
    };
    let due: Vec<&Integration> = all
        .iter()
        .filter(|i| !(i.status == IntegrationStatus::Pending && i.initial_sync_enqueued))
        .collect();
    run.skipped = run.integrations - due.len() as u32;
    for chunk in due.chunks(10) {
        let mut entries = Vec::new();
        for (n, i) in chunk.iter().enumerate() {
            let job = job_for(i, SyncReason::Scheduled, now);
            entries.push(
                SendMessageBatchRequestEntry::builder()
                    .id(n.to_string())
                    .message_body(
                        serde_json::to_string(&job).map_err(|e| SyncError::Queue(e.to_string()))?,
                    )
                    .message_group_id(job.message_group_id())
                    .message_deduplication_id(scheduled_dedup_id(i, now))
                    .build()
                    .map_err(|e| SyncError::Queue(e.to_string()))?,
            );
        }
        let out = sqs
            .send_message_batch()
            .queue_url(sync_queue_url)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|e| {
                SyncError::Queue(aws_sdk_sqs::error::DisplayErrorContext(&e).to_string())
            })?;
        if !out.failed().is_empty() {
            return Err(SyncError::Queue(format!(
                "{} scheduled jobs were not accepted (the schedule's retry sends them again)",
                out.failed().len()
            )));
        }
        run.enqueued += chunk.len() as u32;
    }
    Ok(run)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn scheduled_dedup_id_uses_the_oslo_date() {
        // 23:30 UTC on 31 Dec is already 1 Jan in Oslo.
        let t = Utc.with_ymd_and_hms(2026, 12, 31, 23, 30, 0).unwrap();
        assert_eq!(oslo_today(t).to_string(), "2027-01-01");
    }
}
