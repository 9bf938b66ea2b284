//! The world of the dunning tests (the dunning function's, the benchmark's): the sync world's
//! table, queues, Tripletex sandbox company, account, key and integration, plus template.yaml's
//! dunning queue and letters bucket and a verified SES sender under the same stage. The ledger
//! is synced, classified and the overdue claims' cases opened by the real services at a fixed
//! clock ([`World::new`]); [`World::service`] is the dunning service with the real adapters
//! (DynamoDB, SES raw, S3, the Tripletex re-check, the PDF renderer, SQS) and the world's clock.
//!
//! moto keeps what SES took: [`raw_mails`] reads the raw MIME messages back and parses them
//! ([`Mail`]); [`pdf_text`] reads an attached PDF with poppler's `pdftotext`.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use shared::adapters::queue::{ClassificationBody, SyncReason};
use shared::clock::Clock;
use shared::domain::collection::dunning::letter::sample_sender;
use shared::domain::collection::dunning::{DunningPolicy, Mode};
use shared::services::cases::{norwegian_date, CasesService};
use shared::services::classification::ClassificationService;
use shared::services::dunning::ports::{AwsResources, PdfRenderer};
use shared::services::dunning::DunningService;
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
            mail_from: mail_from.clone(),
            secret_prefix: stack.env("SECRET_PREFIX"),
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
            match ClassificationBody::parse(&body.to_string()).expect("a classification message") {
                ClassificationBody::Batch(b) => {
                    classification
                        .handle_batch(&b, today, now)
                        .await
                        .expect("classified");
                }
                ClassificationBody::Single(m) => {
                    classification
                        .handle(&m, today, now)
                        .await
                        .expect("classified");
                }
            }
        }
        CasesService::new(self.sync.store.clone())
            .run_daily(today, now)
            .await
            .expect("the daily case job runs");
    }

    /// The dunning service with the real adapters and the world's clock.
    pub fn service(&self) -> DunningService {
        DunningService::on_aws(
            &self.sync.sdk,
            &self.resources,
            TripletexSource::ready(self.sync.tripletex()),
            Arc::new(PdfRenderer),
            self.clock(),
        )
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
            .filter(|m| m.source == self.resources.mail_from)
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
    crate::ses_sent("RawMessage")
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
