//! The world of the dunning tests (the dunning function's, the benchmark's): the sync world's
//! table, queues, Tripletex sandbox company, account, key and integration, plus template.yaml's
//! dunning queue and letters bucket and a verified SES sender under the same stage. The ledger
//! is synced, classified and the overdue claims' cases opened by the real services at a fixed
//! clock ([`World::new`]); [`World::service`] is the dunning service with the real adapters
//! (DynamoDB, SES raw, S3, the Tripletex re-check, the PDF renderer, SQS) and the world's clock.
//!
//! moto keeps what SES took: [`raw_mails`] reads the raw MIME messages back and parses them
//! ([`Mail`]); [`pdf_text`] reads an attached PDF with poppler's `pdftotext`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use chrono::NaiveDate;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use shared::adapters::letters::{BucketError, ARCHIVE_PREFIX};
use shared::adapters::mail::{LetterMail, MailError};
use shared::adapters::queue::{ClassificationBody, SyncReason};
use shared::adapters::store::claims::{AccountRef, CaseWrite, ClaimRecord, Save, StoredCase};
use shared::adapters::store::dunning::{DunningBook, StoredPolicy};
use shared::adapters::store::StoreError;
use shared::clock::Clock;
use shared::domain::case::CaseId;
use shared::domain::claim::ClaimId;
use shared::domain::collection::dunning::letter::sample_sender;
use shared::domain::collection::dunning::{
    BatchRecord, LetterId, LetterRecord, LetterStatus, Notice, NoticeId, RunRecord,
};
use shared::domain::collection::dunning::{DunningPolicy, Mode};
use shared::domain::setup::{AccountId, OrgId};
use shared::services::cases::{norwegian_date, CasesService};
use shared::services::classification::ClassificationService;
use shared::services::dunning::ports::{AwsResources, PdfRenderer};
use shared::services::dunning::DunningService;
use shared::services::dunning::{
    DunningStore, LetterArchive, NoticeMailer, SenderSuggestion, Sending,
};
use shared::services::sync::{JobOutcome, SyncConfig, TripletexSource};

use crate::classification::CountingJobs;
use crate::sync::{base_company, fixture_with, Resources, World as SyncWorld};
use crate::{moto, verified_sender, Stack};

/// The sandbox's base company with e-mail addresses for dunning: Vestland Bygg AS (40001, the
/// open invoice 10023 and an old open item) has an overdue-notice address, Havbruk Service AS
/// (40002, the written-off invoice 10025) an invoice address; Ola Nordmann (40003) none.
pub fn company() -> Value {
    let mut c = base_company();
    for cust in c["customers"].as_array_mut().into_iter().flatten() {
        match cust["id"].as_i64() {
            Some(40001) => cust["overdueNoticeEmail"] = json!("purring@vestlandbygg.no"),
            Some(40002) => cust["invoiceEmail"] = json!("faktura@havbruk.no"),
            _ => {}
        }
    }
    c
}

/// The dunning world (see the module comment).
pub struct World {
    pub sync: SyncWorld,
    pub resources: AwsResources,
    pub s3: aws_sdk_s3::Client,
    now: Arc<Mutex<DateTime<Utc>>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl World {
    /// A stage of its own, the sandbox's company 2001 with `collections`, synced, classified and
    /// its overdue claims' cases opened at `at` (the clock then stays there until moved).
    pub async fn new(collections: &Value, at: DateTime<Utc>) -> World {
        moto();
        let sdk = shared::adapters::aws::sdk_config().await;
        let stack = Stack::provision(
            &sdk,
            &[
                "Table",
                "SyncQueue",
                "ClassificationQueue",
                "DunningQueue",
                "LettersBucket",
            ],
            None,
        )
        .await;
        let mail_from = verified_sender(&sdk, "inkasso").await;
        let resources = AwsResources {
            table: stack.table(),
            dunning_queue_url: stack.queue_url("DunningQueue"),
            letters_bucket: stack.ref_value("LettersBucket"),
        };
        let sandbox = tripletex_sandbox::start_in_thread(
            fixture_with(collections),
            tripletex_sandbox::Faults::default(),
        )
        .expect("sandbox starts");
        let mut sync = SyncWorld::populate(
            sdk.clone(),
            Resources {
                table: stack.table(),
                sync_queue_url: stack.queue_url("SyncQueue"),
                class_queue_url: stack.queue_url("ClassificationQueue"),
                secret_prefix: stack.env("SECRET_PREFIX"),
                mail_from,
            },
            sandbox,
            2001,
            |_| {},
        )
        .await;
        let now = Arc::new(Mutex::new(at));
        let clock_now = now.clone();
        sync.clock = Arc::new(move || *lock(&clock_now));
        let s3 = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&sdk)
                .force_path_style(true)
                .build(),
        );
        let w = World {
            sync,
            resources,
            s3,
            now,
        };
        w.sync_and_open_cases(SyncReason::Initial).await;
        w
    }

    pub fn now(&self) -> DateTime<Utc> {
        *lock(&self.now)
    }

    pub fn set_now(&self, t: DateTime<Utc>) {
        *lock(&self.now) = t;
    }

    pub fn clock(&self) -> Clock {
        let now = self.now.clone();
        Arc::new(move || *lock(&now))
    }

    /// Syncs (the real engine), classifies what the sync sent (the real classification
    /// service) and runs the daily case job, all at the world's clock.
    pub async fn sync_and_open_cases(&self, reason: SyncReason) {
        let out = self
            .sync
            .service(SyncConfig::default())
            .run_job(&self.sync.job(reason), None)
            .await
            .expect("the sync runs");
        assert!(
            matches!(out, JobOutcome::Completed(_)),
            "the sync completes: {out:?}"
        );
        let now = self.now();
        let today = norwegian_date(now);
        let classification =
            ClassificationService::new(self.sync.store.clone(), Arc::new(CountingJobs::default()));
        for (_, _, body) in self.sync.drain_classification().await {
            let message =
                ClassificationBody::parse(&body.to_string()).expect("a classification message");
            // As SQS would: a failed message is delivered again (the claims it handled are then
            // duplicates). moto fails a transaction that runs while another writes the same
            // partition (its rollback copy iterates the table), which the worker's claims in
            // parallel do on a large batch; DynamoDB does not.
            let mut attempt = 0;
            loop {
                let result = match &message {
                    ClassificationBody::Batch(b) => {
                        classification.handle_batch(b, today, now).await.map(drop)
                    }
                    ClassificationBody::Single(m) => {
                        classification.handle(m, today, now).await.map(drop)
                    }
                };
                attempt += 1;
                match result {
                    Ok(()) => break,
                    Err(_) if attempt < 20 => {
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    }
                    Err(e) => panic!("classified after {attempt} deliveries: {e}"),
                }
            }
        }
        CasesService::new(self.sync.store.clone())
            .run_daily(today, now)
            .await
            .expect("the daily case job runs");
    }

    /// The dunning service as the function builds it (the real adapters, sending included) at
    /// the world's clock.
    pub fn service(&self) -> DunningService {
        let mut s = self.api_service();
        s.sending = Some(Sending::on_aws(
            &self.sync.sdk,
            &self.resources.table,
            &self.sync.mail_from,
            &self.sync.secret_prefix,
            TripletexSource::ready(self.sync.tripletex()),
            Arc::new(PdfRenderer),
        ));
        s
    }

    /// The dunning service as the HTTP API builds it: no sending.
    pub fn api_service(&self) -> DunningService {
        DunningService::on_aws(&self.sync.sdk, &self.resources, self.clock())
    }

    /// The SES-verified sender of this world's letters.
    pub fn mail_from(&self) -> &str {
        &self.sync.mail_from
    }

    /// Switches dunning on for the account (the service's validation and store), with the sample
    /// creditor, the purring as the first step 14 days after the due date (the påminnelse off),
    /// then `f`'s changes.
    pub async fn enable(&self, mode: Mode, f: impl FnOnce(&mut DunningPolicy)) {
        let mut p = DunningPolicy::default();
        p.enabled = true;
        p.mode = mode;
        p.steps.paminnelse.enabled = false;
        p.steps.purring.days_after = 14;
        p.sender = Some(sample_sender());
        f(&mut p);
        self.service()
            .put_policy(&self.sync.org, &self.sync.account, p, None, "test-user")
            .await
            .expect("the policy is valid");
    }

    /// An object of the letters bucket.
    pub async fn object(&self, key: &str) -> Option<Vec<u8>> {
        let out = self
            .s3
            .get_object()
            .bucket(&self.resources.letters_bucket)
            .key(key)
            .send()
            .await
            .ok()?;
        Some(out.body.collect().await.ok()?.into_bytes().to_vec())
    }

    /// The raw mails moto's SES took from this world's sender.
    pub async fn mails(&self) -> Vec<Mail> {
        raw_mails()
            .await
            .into_iter()
            .filter(|m| m.source == self.sync.mail_from)
            .collect()
    }
}

/// One raw mail moto's SES took, parsed.
#[derive(Debug, Clone)]
pub struct Mail {
    /// The envelope sender (the verified identity).
    pub source: String,
    pub to: String,
    pub from: String,
    pub reply_to: Option<String>,
    pub subject: String,
    pub message_id: Option<String>,
    pub in_reply_to: Option<String>,
    pub references: Option<String>,
    pub text: String,
    /// (file name, content type, bytes).
    pub attachments: Vec<(String, String, Vec<u8>)>,
}

fn parse(source: &str, raw: &str) -> Mail {
    use mailparse::{DispositionType, MailHeaderMap};
    let m = mailparse::parse_mail(raw.as_bytes()).expect("a MIME message");
    let h = |name: &str| m.headers.get_first_value(name);
    let mut text = String::new();
    let mut attachments = Vec::new();
    for part in m.subparts.iter() {
        let d = part.get_content_disposition();
        if d.disposition == DispositionType::Attachment {
            attachments.push((
                d.params.get("filename").cloned().unwrap_or_default(),
                part.ctype.mimetype.clone(),
                part.get_body_raw().expect("an attachment body"),
            ));
        } else if part.ctype.mimetype == "text/plain" {
            text = part.get_body().expect("a text body");
        }
    }
    Mail {
        source: source.to_string(),
        to: h("To").unwrap_or_default(),
        from: h("From").unwrap_or_default(),
        reply_to: h("Reply-To"),
        subject: h("Subject").unwrap_or_default(),
        message_id: h("Message-ID"),
        in_reply_to: h("In-Reply-To"),
        references: h("References"),
        text,
        attachments,
    }
}

/// Every raw mail moto's SES took (its `sent_messages`, the raw kind), parsed.
pub async fn raw_mails() -> Vec<Mail> {
    raw_mails_at(crate::moto()).await
}

/// [`raw_mails`] of the moto at `endpoint` (e.g. a local stack's).
pub async fn raw_mails_at(endpoint: &str) -> Vec<Mail> {
    crate::ses_sent_at(endpoint, "RawMessage")
        .await
        .iter()
        .map(|m| {
            parse(
                m["source"].as_str().unwrap_or_default(),
                m["raw_data"].as_str().unwrap_or_default(),
            )
        })
        .collect()
}

/// The text of a PDF as `pdftotext` reads it, every run of white space as one space (no-break
/// spaces included).
pub fn pdf_text(pdf: &[u8]) -> String {
    let path = std::env::temp_dir().join(format!("inndrive-{}.pdf", uuid::Uuid::new_v4()));
    std::fs::write(&path, pdf).expect("a temporary file");
    let out = std::process::Command::new("pdftotext")
        .args(["-enc", "UTF-8"])
        .arg(&path)
        .arg("-")
        .output()
        .unwrap_or_else(|e| panic!("pdftotext is needed (apt-get install poppler-utils): {e}"));
    let _ = std::fs::remove_file(&path);
    assert!(out.status.success(), "pdftotext failed");
    String::from_utf8_lossy(&out.stdout)
        .replace('\u{a0}', " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

// ------------------------------------------------------------------------------ crash points

/// Where a run crashes (panics, as a process that dies would leave things), once: the points the
/// exactly-once design names, in the order a letter passes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrashPoint {
    /// The letter and its notices are reserved (`planned`); nothing rendered yet.
    AfterReserve,
    /// The PDF is in the archive; the notices still `planned`.
    AfterArchive,
    /// The letter and its notices are `sending`; SES not called yet.
    AfterSending,
    /// SES took the mail; `sent` not recorded.
    AfterSes,
    /// `sent` is recorded; the claim's charges and the case's step are not.
    AfterSent,
    /// A notice's effects are recorded; the run record not yet completed.
    AfterEffects,
}

impl CrashPoint {
    pub const ALL: [CrashPoint; 6] = [
        CrashPoint::AfterReserve,
        CrashPoint::AfterArchive,
        CrashPoint::AfterSending,
        CrashPoint::AfterSes,
        CrashPoint::AfterSent,
        CrashPoint::AfterEffects,
    ];
}

/// The armed crash point, shared by the wrappers of one service; taken when it fires.
#[derive(Debug, Clone, Default)]
pub struct Crash(Arc<Mutex<Option<CrashPoint>>>);

impl Crash {
    pub fn arm(&self, at: CrashPoint) {
        *lock(&self.0) = Some(at);
    }

    pub fn armed(&self) -> Option<CrashPoint> {
        *lock(&self.0)
    }

    fn fire(&self, at: CrashPoint) {
        let mut armed = lock(&self.0);
        if *armed == Some(at) {
            *armed = None;
            drop(armed);
            panic!("injected crash {at:?}");
        }
    }
}

/// What a service's outside calls came to (the benchmark's figures): DynamoDB write requests
/// (each store write is one PutItem, UpdateItem or TransactWriteItems), SES calls, S3 puts.
#[derive(Debug, Default)]
pub struct Counts {
    pub dynamodb_writes: AtomicU64,
    pub ses_calls: AtomicU64,
    pub s3_puts: AtomicU64,
}

impl Counts {
    fn bump(c: &AtomicU64) {
        c.fetch_add(1, Ordering::Relaxed);
    }

    pub fn get(c: &AtomicU64) -> u64 {
        c.load(Ordering::Relaxed)
    }
}

/// The real store, counting its writes and crashing after the writes [`CrashPoint`] names.
struct CrashingStore {
    inner: Arc<dyn DunningStore>,
    crash: Crash,
    counts: Arc<Counts>,
}

#[async_trait::async_trait]
impl DunningStore for CrashingStore {
    async fn account_exists(&self, org: &OrgId, account: &AccountId) -> Result<bool, StoreError> {
        self.inner.account_exists(org, account).await
    }
    async fn sender_facts(
        &self,
        org: &OrgId,
        account: &AccountId,
    ) -> Result<SenderSuggestion, StoreError> {
        self.inner.sender_facts(org, account).await
    }
    async fn accounts_of(&self, org: &OrgId) -> Result<Vec<AccountId>, StoreError> {
        self.inner.accounts_of(org).await
    }
    async fn get_policy(
        &self,
        org: &OrgId,
        account: &AccountId,
    ) -> Result<Option<StoredPolicy>, StoreError> {
        self.inner.get_policy(org, account).await
    }
    async fn put_policy(
        &self,
        org: &OrgId,
        account: &AccountId,
        policy: &StoredPolicy,
        expected: Option<u64>,
    ) -> Result<Save, StoreError> {
        Counts::bump(&self.counts.dynamodb_writes);
        self.inner.put_policy(org, account, policy, expected).await
    }
    async fn enabled_accounts(&self) -> Result<Vec<AccountRef>, StoreError> {
        self.inner.enabled_accounts().await
    }
    async fn book(&self, org: &OrgId, account: &AccountId) -> Result<DunningBook, StoreError> {
        self.inner.book(org, account).await
    }
    async fn active_notices(
        &self,
        org: &OrgId,
        account: &AccountId,
    ) -> Result<Vec<Notice>, StoreError> {
        self.inner.active_notices(org, account).await
    }
    async fn notices_of_case(
        &self,
        org: &OrgId,
        account: &AccountId,
        case: &CaseId,
    ) -> Result<Vec<Notice>, StoreError> {
        self.inner.notices_of_case(org, account, case).await
    }
    async fn get_notices(
        &self,
        org: &OrgId,
        account: &AccountId,
        ids: &[NoticeId],
    ) -> Result<Vec<Notice>, StoreError> {
        self.inner.get_notices(org, account, ids).await
    }
    async fn put_notice(&self, notice: &Notice, expected: Option<u64>) -> Result<Save, StoreError> {
        Counts::bump(&self.counts.dynamodb_writes);
        self.inner.put_notice(notice, expected).await
    }
    async fn write_letter(
        &self,
        letter: &LetterRecord,
        expected_letter: Option<u64>,
        notices: &[(&Notice, Option<u64>)],
    ) -> Result<Save, StoreError> {
        Counts::bump(&self.counts.dynamodb_writes);
        let out = self
            .inner
            .write_letter(letter, expected_letter, notices)
            .await?;
        if out == Save::Saved {
            match letter.status {
                LetterStatus::Planned => self.crash.fire(CrashPoint::AfterReserve),
                LetterStatus::Sending => self.crash.fire(CrashPoint::AfterSending),
                LetterStatus::Sent => self.crash.fire(CrashPoint::AfterSent),
                LetterStatus::Uncertain | LetterStatus::Cancelled => {}
            }
        }
        Ok(out)
    }
    async fn get_letter(
        &self,
        org: &OrgId,
        account: &AccountId,
        send_date: NaiveDate,
        letter: &LetterId,
    ) -> Result<Option<LetterRecord>, StoreError> {
        self.inner.get_letter(org, account, send_date, letter).await
    }
    async fn letters_of_day(
        &self,
        org: &OrgId,
        account: &AccountId,
        send_date: NaiveDate,
    ) -> Result<Vec<LetterRecord>, StoreError> {
        self.inner.letters_of_day(org, account, send_date).await
    }
    async fn put_batch_if_absent(&self, batch: &BatchRecord) -> Result<bool, StoreError> {
        Counts::bump(&self.counts.dynamodb_writes);
        self.inner.put_batch_if_absent(batch).await
    }
    async fn batches(
        &self,
        org: &OrgId,
        account: &AccountId,
    ) -> Result<Vec<BatchRecord>, StoreError> {
        self.inner.batches(org, account).await
    }
    async fn put_run(&self, run: &RunRecord, expected: Option<u64>) -> Result<Save, StoreError> {
        Counts::bump(&self.counts.dynamodb_writes);
        self.inner.put_run(run, expected).await
    }
    async fn get_run(
        &self,
        org: &OrgId,
        account: &AccountId,
        date: NaiveDate,
    ) -> Result<Option<RunRecord>, StoreError> {
        self.inner.get_run(org, account, date).await
    }
    async fn get_claim(
        &self,
        org: &OrgId,
        account: &AccountId,
        claim: &ClaimId,
    ) -> Result<Option<ClaimRecord>, StoreError> {
        self.inner.get_claim(org, account, claim).await
    }
    async fn get_case(
        &self,
        org: &OrgId,
        account: &AccountId,
        case: &CaseId,
    ) -> Result<Option<StoredCase>, StoreError> {
        self.inner.get_case(org, account, case).await
    }
    async fn record_effects(
        &self,
        claim: &ClaimRecord,
        case: Option<CaseWrite<'_>>,
        notice: (&Notice, u64),
        letter: Option<(&LetterRecord, u64)>,
    ) -> Result<Save, StoreError> {
        Counts::bump(&self.counts.dynamodb_writes);
        let out = self
            .inner
            .record_effects(claim, case, notice, letter)
            .await?;
        if out == Save::Saved {
            self.crash.fire(CrashPoint::AfterEffects);
        }
        Ok(out)
    }
}

/// Real SES (moto), counting its calls and crashing once it took a mail.
struct CrashingMailer {
    inner: Arc<dyn NoticeMailer>,
    crash: Crash,
    counts: Arc<Counts>,
}

#[async_trait::async_trait]
impl NoticeMailer for CrashingMailer {
    fn from_address(&self) -> &str {
        self.inner.from_address()
    }
    async fn send(&self, mail: &LetterMail) -> Result<String, MailError> {
        Counts::bump(&self.counts.ses_calls);
        let id = self.inner.send(mail).await?;
        self.crash.fire(CrashPoint::AfterSes);
        Ok(id)
    }
}

/// The real letters bucket (moto's S3), counting its puts and crashing once a letter's PDF is
/// archived.
struct CrashingArchive {
    inner: Arc<dyn LetterArchive>,
    crash: Crash,
    counts: Arc<Counts>,
}

#[async_trait::async_trait]
impl LetterArchive for CrashingArchive {
    async fn put(&self, key: &str, bytes: Vec<u8>, content_type: &str) -> Result<(), BucketError> {
        Counts::bump(&self.counts.s3_puts);
        self.inner.put(key, bytes, content_type).await?;
        if key.starts_with(ARCHIVE_PREFIX) {
            self.crash.fire(CrashPoint::AfterArchive);
        }
        Ok(())
    }
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, BucketError> {
        self.inner.get(key).await
    }
}

impl World {
    /// [`World::service`] whose store, SES and bucket crash once at the point `crash` is armed
    /// with (unarmed, it is the real service).
    pub fn crashing_service(&self, crash: &Crash) -> DunningService {
        self.probed_service(crash, &Arc::new(Counts::default()))
    }

    /// [`World::service`] whose store writes, SES calls and bucket puts are counted in `counts`.
    pub fn counted_service(&self, counts: &Arc<Counts>) -> DunningService {
        self.probed_service(&Crash::default(), counts)
    }

    fn probed_service(&self, crash: &Crash, counts: &Arc<Counts>) -> DunningService {
        let mut s = self.service();
        s.store = Arc::new(CrashingStore {
            inner: s.store,
            crash: crash.clone(),
            counts: counts.clone(),
        });
        s.archive = Arc::new(CrashingArchive {
            inner: s.archive,
            crash: crash.clone(),
            counts: counts.clone(),
        });
        if let Some(sending) = s.sending.as_mut() {
            sending.mailer = Arc::new(CrashingMailer {
                inner: sending.mailer.clone(),
                crash: crash.clone(),
                counts: counts.clone(),
            });
        }
        s
    }
}
