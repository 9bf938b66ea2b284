//! End to end on a sandbox company, on a fixed clock, day by day: the real sync mirrors three
//! invoices, the real classification opens the claims, the daily case job opens and follows the
//! cases, the real dunning service sends påminnelse → purring → inkassovarsel →
//! betalingsoppfordring with the § 4-18 varsel (letters archived in the letters bucket), and:
//!
//! - invoice 10023 becomes ready for a begjæring om utlegg; the creditor is told once (one
//!   notification, one digest mail; the next daily run tells nothing); the begjæring is drafted
//!   with the right amounts, court fee and attachments (the PDFs read back with `pdftotext`),
//!   approved, and the signed PDF carries the stamp and the hash of what was approved;
//! - invoice 10024's debtor objects after the inkassovarsel: its chain stops; after a
//!   `groundless` assessment the chain goes on and its route is forliksklage;
//! - invoice 10025, 35 months past due, is in the limitation view; a part payment moves its date
//!   by the rule (a new three-year period from the payment).
//!
//! moto (table, letters bucket, SES, Secrets Manager) and the Tripletex sandbox (the invoice
//! copy, dunning's re-check). Needs poppler-utils (`pdftotext`).

use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use serde_json::{json, Value};

use shared::adapters::letters::LettersBucket;
use shared::adapters::mail::{DynamoSentMailLog, Mailer};
use shared::adapters::queue::SyncQueue;
use shared::adapters::queue::{ClassificationBatch, DunningJob, QueueError, SyncReason};
use shared::adapters::secrets::Secrets;
use shared::adapters::store::dunning::StoredPolicy;
use shared::domain::case::{Case, CaseEvent, CaseId};
use shared::domain::claim::ClaimId;
use shared::domain::collection::dunning::letter::sample_sender;
use shared::domain::collection::dunning::{DunningPolicy, Step};
use shared::domain::collection::legal::{LegalStepsMode, LegalStepsPolicy};
use shared::domain::collection::rulebook::{CourtFee, Rulebook};
use shared::services::cases::{norwegian_date, public_case_id, CaseCommand, CasesService};
use shared::services::classification::ClassificationService;
use shared::services::dunning::ports::{PdfRenderer, RunQueue, TripletexRecheck};
use shared::services::dunning::{DunningConfig, DunningService, Sending};
use shared::services::ledger::LedgerService;
use shared::services::legal::daily::DigestMail;
use shared::services::legal::documents::{LegalDocuments, TripletexInvoiceCopies};
use shared::services::sync::{SyncConfig, TripletexSource};
use test_support::classification::{CountingJobs, CreditSpec};
use test_support::http::gateway_request;
use test_support::sync::*;
use test_support::Stack;

const USER: &str = "user-kari";

/// 08:00 in Oslo (summer time) on `day`.
fn morning(day: NaiveDate) -> DateTime<Utc> {
    Utc.from_utc_datetime(&day.and_hms_opt(6, 0, 0).unwrap())
}

fn scenario() -> Value {
    let inv = |id, number, cust, date: &str, due: &str, amount: f64, voucher, p1, p2| {
        (
            invoice(id, number, cust, date, due, amount, amount, voucher),
            [
                posting(
                    p1,
                    voucher,
                    Vt::Invoice,
                    date,
                    AR,
                    amount,
                    Some(cust),
                    &number.to_string(),
                    Some(due),
                    None,
                ),
                posting(
                    p2,
                    voucher,
                    Vt::Invoice,
                    date,
                    REVENUE,
                    -amount,
                    None,
                    "",
                    None,
                    None,
                ),
            ],
            voucher_of(voucher, date, number, p1, p2),
        )
    };
    fn voucher_of(id: i64, date: &str, number: i64, p1: i64, p2: i64) -> Value {
        voucher(
            id,
            date,
            &format!("Faktura {number}"),
            Vt::Invoice,
            &[p1, p2],
        )
    }
    let a = inv(
        80001,
        10023,
        40001,
        "2026-05-02",
        "2026-05-16",
        12500.0,
        50001,
        60001,
        60002,
    );
    let b = inv(
        80002,
        10024,
        40002,
        "2026-05-04",
        "2026-05-18",
        8000.0,
        50002,
        60003,
        60004,
    );
    let c = inv(
        80003,
        10025,
        40004,
        "2023-06-06",
        "2023-06-20",
        4000.0,
        50003,
        60005,
        60006,
    );
    let mut postings = Vec::new();
    for x in [&a, &b, &c] {
        postings.extend(x.1.iter().cloned());
    }
    json!({
        "customers": [
            customer(40001, "Vestland Bygg AS", "922334455", false, false),
            customer(40002, "Havbruk Service AS", "812345672", false, false),
            customer(40004, "Nordlys Handel AS", "", false, false),
        ],
        "invoices": [a.0, b.0, c.0],
        "postings": postings,
        "vouchers": [a.2, b.2, c.2],
        "accounts": [
            account(AR, "Kundefordringer", "CUSTOMER", true, false),
            account(BANK, "Bankinnskudd", "GENERAL", false, true),
            account(REVENUE, "Salgsinntekt", "GENERAL", false, false),
        ],
    })
}

/// The dunning queue is only for the fan-out and continuations: unused by `run_account`.
struct NoQueue;

#[async_trait]
impl RunQueue for NoQueue {
    async fn enqueue(&self, _jobs: &[DunningJob]) -> Result<(), QueueError> {
        Ok(())
    }
}

fn pdftotext(pdf: &[u8]) -> String {
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "legal-flow-{}-{}.pdf",
        std::process::id(),
        uuid_like(pdf)
    ));
    std::fs::write(&path, pdf).unwrap();
    let out = Command::new("pdftotext")
        .args(["-enc", "UTF-8", "-layout"])
        .arg(&path)
        .arg("-")
        .output()
        .expect("pdftotext is needed (apt-get install poppler-utils)");
    let _ = std::fs::remove_file(&path);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .replace(['\u{a0}', '\u{202f}'], " ")
}

fn uuid_like(b: &[u8]) -> String {
    shared::documents::sha256_hex(b)[..12].to_string()
}

/// The world: the sync's (table, sandbox, key in Secrets Manager, integration) plus the letters
/// bucket, the services on a clock the test moves, and the case ids.
struct Flow {
    w: World,
    now: Arc<Mutex<DateTime<Utc>>>,
    cases: CasesService,
    classification: ClassificationService,
    dunning: DunningService,
    documents: LegalDocuments,
    contact: String,
}

impl Flow {
    fn now(&self) -> DateTime<Utc> {
        *self.now.lock().unwrap()
    }
    fn today(&self) -> NaiveDate {
        norwegian_date(self.now())
    }
    fn set_day(&self, day: NaiveDate) {
        *self.now.lock().unwrap() = morning(day);
    }
    fn case_id(&self, invoice: i64) -> CaseId {
        CaseId::for_claim(&ClaimId::invoice(invoice).unwrap())
    }
    fn public(&self, invoice: i64) -> String {
        public_case_id(&self.w.account, &self.case_id(invoice))
    }
    async fn case(&self, invoice: i64) -> Option<Case> {
        self.w
            .store
            .get_case(&self.w.org, &self.w.account, &self.case_id(invoice))
            .await
            .unwrap()
            .map(|s| s.case)
    }
    async fn notices(&self, invoice: i64) -> Vec<Step> {
        self.case(invoice)
            .await
            .map(|c| c.notice_records().map(|r| r.step).collect())
            .unwrap_or_default()
    }
    /// The day: dunning's run, then the daily case job (cases, legal notices, the digest).
    async fn run_day(&self) -> shared::services::cases::DailyReport {
        self.dunning
            .run_account(&self.w.org, &self.w.account, None)
            .await
            .unwrap_or_else(|e| panic!("dunning on {}: {e}", self.today()));
        self.cases
            .run_daily(self.today(), self.now())
            .await
            .unwrap()
    }
    async fn classify(&self, batch: &ClassificationBatch) {
        self.classification
            .handle_batch(batch, self.today(), self.now())
            .await
            .unwrap();
    }
    async fn docs(
        &self,
        method: &str,
        path: &str,
        org: &str,
        body: Option<&str>,
    ) -> (u16, Value, Vec<u8>) {
        let req = gateway_request(method, path, &[("org", org), ("sub", USER)], body);
        let resp = legal_documents::handle(&self.documents, req, self.now())
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let is_pdf = resp
            .headers()
            .get("content-type")
            .is_some_and(|v| v == "application/pdf");
        let bytes = resp.body().to_vec();
        let json = if is_pdf || bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| panic!("JSON: {}", String::from_utf8_lossy(&bytes)))
        };
        (status, json, bytes)
    }
    async fn digests(&self) -> Vec<Value> {
        self.w.mails_to(&self.contact).await
    }
}

async fn flow(start: NaiveDate) -> Flow {
    let mut w = World::new(&scenario(), |s| {
        s.fetch_from = "2023-01-01".parse().unwrap();
    })
    .await;
    let now = Arc::new(Mutex::new(morning(start)));
    let clock_now = now.clone();
    let clock: shared::clock::Clock = Arc::new(move || *clock_now.lock().unwrap());
    w.clock = clock.clone();
    let bucket_name = Stack::provision(&w.sdk, &["LettersBucket"], None)
        .await
        .ref_value("LettersBucket");
    let bucket = Arc::new(LettersBucket::new(&w.sdk, bucket_name));
    let secrets = Secrets::new(w.sm.clone(), w.secret_prefix.clone());
    let log = Arc::new(DynamoSentMailLog::new(w.ddb.clone(), w.table.clone()));
    let cases = CasesService::new(w.store.clone()).with_digest_mail(DigestMail {
        mailer: Mailer::new(&w.sdk, w.mail_from.clone()),
        log,
    });
    let classification =
        ClassificationService::new(w.store.clone(), Arc::new(CountingJobs::default()));
    let dunning = DunningService {
        store: Arc::new(w.store.clone()),
        archive: bucket.clone(),
        sending: Some(Sending {
            mailer: Arc::new(Mailer::new(&w.sdk, w.mail_from.clone())),
            recheck: Arc::new(TripletexRecheck {
                store: w.store.clone(),
                secrets: secrets.clone(),
                tripletex: TripletexSource::ready(w.tripletex()),
            }),
            renderer: Arc::new(PdfRenderer),
        }),
        queue: Arc::new(NoQueue),
        rules: Arc::new(Rulebook::norway().clone()),
        clock,
        config: DunningConfig::default(),
    };
    let documents = LegalDocuments {
        store: w.store.clone(),
        bucket,
        invoices: Arc::new(TripletexInvoiceCopies {
            store: w.store.clone(),
            secrets,
            tripletex: TripletexSource::ready(w.tripletex()),
        }),
        rules: Rulebook::norway(),
    };
    let contact = format!("kreditor-{}@kunde.test", w.org);
    w.set_contact_email(&contact).await;
    let policy = DunningPolicy {
        enabled: true,
        sender: Some(sample_sender()),
        legal_steps: LegalStepsPolicy {
            mode: LegalStepsMode::NotifyOnly,
            ..LegalStepsPolicy::default()
        },
        ..DunningPolicy::default()
    };
    w.store
        .put_dunning_policy(
            &w.org,
            &w.account,
            &StoredPolicy {
                policy,
                version: 1,
                updated_at: morning(start),
                updated_by: Some(USER.into()),
            },
            None,
        )
        .await
        .unwrap();
    let f = Flow {
        w,
        now,
        cases,
        classification,
        dunning,
        documents,
        contact,
    };
    // The initial sync, and its ledger events through the classification.
    f.w.service(SyncConfig::default())
        .run_job(&f.w.job(SyncReason::Initial), None)
        .await
        .unwrap();
    for (_, _, body) in f.w.drain_classification().await {
        let batch: ClassificationBatch = serde_json::from_value(body).unwrap();
        f.classify(&batch).await;
    }
    f
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_runs_the_chain_becomes_ready_is_drafted_and_signed_another_is_disputed_and_a_third_nears_limitation(
) {
    let start = NaiveDate::from_ymd_opt(2026, 5, 20).unwrap();
    let f = flow(start).await;
    let report = f.run_day().await;
    // Only 10025 is 14 days past due yet (the classification opened its case).
    assert!(f.case(80003).await.is_some(), "{report:?}");
    assert!(f.case(80001).await.is_none(), "{report:?}");

    // ---- 10025, 35 months past due: in the limitation view, then a part payment moves it.
    let book = Rulebook::norway();
    let view = f.cases.limitation(&f.w.org, 90, f.today()).await.unwrap();
    let c = view
        .claims
        .iter()
        .find(|e| e.case == f.public(80003))
        .unwrap_or_else(|| panic!("10025 is in the view: {view:?}"));
    assert_eq!(
        c.last_day,
        "2026-06-20".parse().unwrap(),
        "due 20 Jun 2023 + 3 years: {c:?}"
    );
    assert!(c.days_left <= 34 && c.days_left > 0, "{c:?}");
    // Each day's interest is barred three years after it accrued: the first day (21 Jun 2023)
    // only on 22 Jun 2026.
    assert_eq!(c.interest_lost, shared::domain::Money::ZERO, "{c:?}");
    assert!(c.action.no.contains("20.06.2026"), "{c:?}");
    // The daily run already warned (1 month before), once.
    assert_eq!(report.legal.warnings, 1, "{report:?}");
    let paid_on = f.today();
    let payment = CreditSpec {
        customer: 40004,
        ..CreditSpec::new(80003, 61001, paid_on, 1_000)
    };
    f.classification
        .handle(
            &shared::adapters::queue::ClassificationMessage {
                org: f.w.org.clone(),
                account_id: f.w.account.clone(),
                integration_id: f.w.integration.id.clone(),
                event: payment.event(),
            },
            f.today(),
            f.now(),
        )
        .await
        .unwrap();
    let view = f.cases.limitation(&f.w.org, 90, f.today()).await.unwrap();
    assert!(
        view.claims.iter().all(|e| e.case != f.public(80003)),
        "moved out of 90 days: {view:?}"
    );
    let view = f.cases.limitation(&f.w.org, 1200, f.today()).await.unwrap();
    let c = view
        .claims
        .iter()
        .find(|e| e.case == f.public(80003))
        .unwrap();
    assert_eq!(
        c.last_day,
        book_add_years(paid_on, 3),
        "a new period from the part payment: {c:?}"
    );
    assert_eq!(c.interrupted_by.map(|i| i.date), Some(paid_on), "{c:?}");

    // ---- Day by day until 10023 and 10024 are ready.
    let mut day = start;
    let mut objected_at: Option<(NaiveDate, usize)> = None;
    let mut assessed = false;
    let mut ready_a: Option<NaiveDate> = None;
    let mut ready_b: Option<NaiveDate> = None;
    while ready_a.is_none() || ready_b.is_none() {
        day = day.succ_opt().unwrap();
        assert!(
            day < start + Duration::days(200),
            "never ready: a {ready_a:?} b {ready_b:?}"
        );
        f.set_day(day);
        let report = f.run_day().await;
        assert_eq!(report.failed + report.legal.failed, 0, "{day}: {report:?}");
        let b_notices = f.notices(80002).await;
        match objected_at {
            None if b_notices.contains(&Step::Inkassovarsel) => {
                // The debtor objects to 10024 after its inkassovarsel.
                f.cases
                    .command(
                        &f.w.org,
                        &f.public(80002),
                        USER,
                        CaseCommand::Objection(serde_json::from_value(json!({
                            "text": "Leveransen var mangelfull; vi betaler ikke før den er rettet.",
                            "receivedOn": day.to_string(), "channel": "letter"
                        })).unwrap()),
                        None,
                        f.today(),
                        f.now(),
                    )
                    .await
                    .unwrap();
                objected_at = Some((day, b_notices.len()));
            }
            Some((on, n)) if !assessed => {
                // The objection stops the chain: nothing more goes out while it is open.
                assert_eq!(
                    b_notices.len(),
                    n,
                    "{day}: a notice after the objection of {on}"
                );
                if day >= on + Duration::days(30) {
                    let d = f
                        .cases
                        .command(
                            &f.w.org,
                            &f.public(80002),
                            "user-leder",
                            CaseCommand::Assess(serde_json::from_value(json!({
                                "outcome": "groundless",
                                "reason": "Leveransen ble godkjent ved overlevering; reklamasjonen angir ingen konkret mangel."
                            })).unwrap()),
                            None,
                            f.today(),
                            f.now(),
                        )
                        .await
                        .unwrap();
                    let r = d.legal.readiness.as_ref().unwrap();
                    assert!(!r.code.starts_with("blocked"), "{}", r.code);
                    assessed = true;
                }
            }
            _ => {}
        }
        let told = |c: &Case| {
            c.timeline
                .iter()
                .filter(|e| matches!(e.event, CaseEvent::LegalStepsReady { .. }))
                .count()
        };
        if ready_a.is_none() && f.case(80001).await.is_some_and(|a| told(&a) > 0) {
            ready_a = Some(day);
        }
        if ready_b.is_none() && f.case(80002).await.is_some_and(|b| told(&b) > 0) {
            ready_b = Some(day);
        }
    }
    let a_case = f.case(80001).await.unwrap();
    let steps: Vec<Step> = a_case.notice_records().map(|r| r.step).collect();
    assert_eq!(
        steps,
        vec![
            Step::Paminnelse,
            Step::Purring,
            Step::Inkassovarsel,
            Step::Betalingsoppfordring
        ]
    );
    let bo = a_case
        .notice_records()
        .find(|r| r.step == Step::Betalingsoppfordring)
        .unwrap()
        .clone();
    assert_eq!(
        ready_a,
        bo.deadline.succ_opt(),
        "ready the day after the deadline"
    );

    // ---- Told once: one notification, one digest line; a second run today tells nothing.
    let a_detail = f
        .cases
        .get(&f.w.org, &f.public(80001), f.today())
        .await
        .unwrap();
    let r = a_detail.legal.readiness.as_ref().unwrap();
    assert_eq!(r.code, "ready:utlegg");
    assert!(r.notified);
    let notes =
        f.w.store
            .case_notifications(&f.w.org, &f.w.account)
            .await
            .unwrap();
    let ready_notes: Vec<_> = notes
        .iter()
        .filter(|n| n.notice.kind() == "legal_steps_ready")
        .collect();
    assert_eq!(ready_notes.len(), 2, "one per ready case: {notes:?}");
    // The account's notifications (the frontend's pop-ups) list them; seen once.
    let ledger = LedgerService::new(
        f.w.store.clone(),
        f.w.ddb.clone(),
        SyncQueue::new(f.w.sqs.clone(), f.w.sync_queue_url.clone()),
    );
    let listed = ledger
        .notifications(&f.w.org, f.w.account.as_str())
        .await
        .unwrap();
    let ready_a_note = listed
        .notifications
        .iter()
        .find(|n| {
            n.kind == "legal_steps_ready" && n.case.as_deref() == Some(f.public(80001).as_str())
        })
        .unwrap_or_else(|| panic!("10023's notification: {listed:?}"));
    assert!(
        ready_a_note.message.no.contains("begjæring om utlegg"),
        "{ready_a_note:?}"
    );
    let seen = ledger
        .mark_seen(&f.w.org, f.w.account.as_str(), &ready_a_note.id, f.now())
        .await
        .unwrap();
    assert_eq!(seen.seen_at, Some(f.now()));
    let later = f.now() + Duration::hours(1);
    let again_seen = ledger
        .mark_seen(&f.w.org, f.w.account.as_str(), &ready_a_note.id, later)
        .await
        .unwrap();
    assert_eq!(again_seen.seen_at, Some(f.now()), "the first time is kept");
    let again = f.cases.run_daily(f.today(), f.now()).await.unwrap();
    assert_eq!(
        (
            again.legal.ready_notified,
            again.legal.warnings,
            again.legal.digests
        ),
        (0, 0, 0),
        "{again:?}"
    );
    assert_eq!(
        f.w.store
            .case_notifications(&f.w.org, &f.w.account)
            .await
            .unwrap()
            .len(),
        notes.len()
    );
    let mails = f.digests().await;
    let subjects: Vec<String> = mails
        .iter()
        .map(|m| m["subject"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(
        subjects
            .iter()
            .filter(|s| s.contains("klar for rettslige skritt"))
            .count(),
        2,
        "one digest a day, each ready case in one: {subjects:?}"
    );

    // ---- 10024: disputed, so its route is forliksklage.
    let b_detail = f
        .cases
        .get(&f.w.org, &f.public(80002), f.today())
        .await
        .unwrap();
    assert_eq!(
        b_detail.legal.readiness.as_ref().unwrap().code,
        "ready:forliksklage"
    );
    let (s, e, _) = f
        .docs(
            "POST",
            &format!("/v1/cases/{}/legal-documents", f.public(80002)),
            f.w.org.as_str(),
            Some(r#"{"kind": "utlegg"}"#),
        )
        .await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (409, Some("disputed_claim")),
        "{e}"
    );

    // ---- The begjæring om utlegg for 10023.
    let base = format!("/v1/cases/{}/legal-documents", f.public(80001));
    let org = f.w.org.to_string();
    let (s, e, _) = f
        .docs("POST", &base, &org, Some(r#"{"policeDistrict": "bergen"}"#))
        .await;
    assert_eq!(
        (s, e["error"]["field"].as_str()),
        (422, Some("policeDistrict")),
        "{e}"
    );
    let body = r#"{"policeDistrict": "vest", "forumReason": "Saksøktes forretningskontor er i Bergen kommune", "description": "Rørleggerarbeid, Kaigata 2"}"#;
    let (s, doc, _) = f.docs("POST", &base, &org, Some(body)).await;
    assert_eq!(s, 201, "{doc}");
    let doc_id = doc["documentId"].as_str().unwrap().to_string();
    let (s, same, _) = f.docs("POST", &base, &org, Some(body)).await;
    assert_eq!(
        (s, same["documentId"].as_str()),
        (200, Some(doc_id.as_str())),
        "the same draft"
    );
    let content = &doc["content"];
    let claim = &content["claims"][0];
    assert_eq!(claim["originalAmount"], "12500.00");
    assert_eq!(claim["remaining"], "12500.00");
    let fees: shared::domain::Money = claim["fees"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            f["amount"]
                .as_str()
                .unwrap()
                .parse::<shared::domain::Money>()
                .unwrap()
        })
        .fold(shared::domain::Money::ZERO, |a, b| a + b);
    assert!(
        fees > shared::domain::Money::ZERO,
        "the purring, inkassovarsel and betalingsoppfordring fees"
    );
    let court = book
        .court_fee_on(CourtFee::BegjaeringOmUtlegg, f.today())
        .unwrap()
        .amount
        .to_string();
    assert!(
        content["costs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["amount"] == court.as_str()),
        "the court fee of the year, 1.21 R in whole kroner ({court}): {}",
        content["costs"]
    );
    assert_eq!(content["betalingsoppfordring"]["sent"], bo.sent.to_string());
    let kinds: Vec<&str> = content["attachments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "invoice",
            "notice",
            "notice",
            "notice",
            "notice",
            "paymentHistory"
        ]
    );

    let (s, _, pdf) = f
        .docs("GET", &format!("{base}/{doc_id}/pdf"), &org, None)
        .await;
    assert_eq!(s, 200);
    let text = pdftotext(&pdf);
    for want in [
        "Begjæring om utlegg",
        "Vestland Bygg AS",
        "922 334 455",
        "12 500,00",
        "Vest politidistrikt",
        &nok(&court),
    ] {
        assert!(text.contains(want), "the PDF says {want:?}:\n{text}");
    }
    let (s, _, bundle) = f
        .docs(
            "GET",
            &format!("{base}/{doc_id}/pdf?part=attachments"),
            &org,
            None,
        )
        .await;
    assert_eq!(s, 200);
    let bundle_text = pdftotext(&bundle);
    for want in [
        "Bilag 1",
        "Faktura 10023",
        "Betalingsoppfordring",
        "Betalingshistorikk",
    ] {
        assert!(
            bundle_text.contains(want),
            "the attachments say {want:?}:\n{bundle_text}"
        );
    }

    // Another organization: not found, for the list, the document and its PDF.
    for path in [
        base.clone(),
        format!("{base}/{doc_id}"),
        format!("{base}/{doc_id}/pdf"),
    ] {
        let (s, _, _) = f.docs("GET", &path, "org_other", None).await;
        assert_eq!(s, 404, "{path}");
    }

    // ---- Approval: the hash of the exact PDF, the stamp, once.
    let sha = shared::documents::sha256_hex(&pdf);
    let (s, e, _) = f
        .docs(
            "POST",
            &format!("{base}/{doc_id}/approve"),
            &org,
            Some(&format!(
                r#"{{"name": "Kari Nordmann", "sha256": "{}"}}"#,
                "0".repeat(64)
            )),
        )
        .await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (409, Some("sha256_mismatch")),
        "{e}"
    );
    let (s, e, _) = f
        .docs(
            "POST",
            &format!("{base}/{doc_id}/approve"),
            &org,
            Some(r#"{"name": " "}"#),
        )
        .await;
    assert_eq!(
        (s, e["error"]["field"].as_str()),
        (422, Some("name")),
        "{e}"
    );
    let approve = format!(r#"{{"name": "Kari Nordmann", "sha256": "{sha}"}}"#);
    let (s, approved, _) = f
        .docs(
            "POST",
            &format!("{base}/{doc_id}/approve"),
            &org,
            Some(&approve),
        )
        .await;
    assert_eq!(s, 200, "{approved}");
    assert_eq!(approved["approval"]["by"], "Kari Nordmann");
    assert_eq!(approved["approval"]["sha256"], sha.as_str());
    assert_eq!(approved["status"], "approved");
    let at = approved["approval"]["at"].clone();
    f.set_day(f.today().succ_opt().unwrap());
    let (s, twice, _) = f
        .docs(
            "POST",
            &format!("{base}/{doc_id}/approve"),
            &org,
            Some(&approve),
        )
        .await;
    assert_eq!(
        (s, &twice["approval"]["at"]),
        (200, &at),
        "approving twice keeps the first"
    );
    let (s, _, signed) = f
        .docs(
            "GET",
            &format!("{base}/{doc_id}/pdf?part=signed"),
            &org,
            None,
        )
        .await;
    assert_eq!(s, 200);
    let signed_text = pdftotext(&signed);
    assert!(
        signed_text.contains("GODKJENT OG SIGNERT av Kari Nordmann"),
        "{signed_text}"
    );
    assert!(signed_text.contains(&sha), "the stamp carries the hash");
    let (_, list, _) = f.docs("GET", &base, &org, None).await;
    assert_eq!(list["documents"].as_array().unwrap().len(), 1, "{list}");

    // ---- A stale draft is not approved: 10024's forliksklage, then a payment on it.
    let b_base = format!("/v1/cases/{}/legal-documents", f.public(80002));
    let (s, fk, _) = f
        .docs("POST", &b_base, &org, Some(r#"{"municipality": "Bergen"}"#))
        .await;
    assert_eq!(s, 201, "{fk}");
    assert_eq!(fk["kind"], "forliksklage");
    let fk_id = fk["documentId"].as_str().unwrap().to_string();
    // The creditor's details changed since the draft: drafting it again gives another document.
    let mut stored =
        f.w.store
            .get_dunning_policy(&f.w.org, &f.w.account)
            .await
            .unwrap()
            .unwrap();
    let mut sender = sample_sender();
    sender.phone = Some("55 00 00 00".into());
    stored.policy.sender = Some(sender);
    stored.version += 1;
    f.w.store
        .put_dunning_policy(&f.w.org, &f.w.account, &stored, Some(stored.version - 1))
        .await
        .unwrap();
    let (s, e, _) = f
        .docs(
            "POST",
            &format!("{b_base}/{fk_id}/approve"),
            &org,
            Some(r#"{"name": "Kari Nordmann"}"#),
        )
        .await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (409, Some("draft_stale")),
        "{e}"
    );
    let pay = CreditSpec {
        customer: 40002,
        ..CreditSpec::new(80002, 61002, f.today(), 500)
    };
    f.classification
        .handle(
            &shared::adapters::queue::ClassificationMessage {
                org: f.w.org.clone(),
                account_id: f.w.account.clone(),
                integration_id: f.w.integration.id.clone(),
                event: pay.event(),
            },
            f.today(),
            f.now(),
        )
        .await
        .unwrap();
    let (s, e, _) = f
        .docs(
            "POST",
            &format!("{b_base}/{fk_id}/approve"),
            &org,
            Some(r#"{"name": "Kari Nordmann"}"#),
        )
        .await;
    assert_eq!(s, 409, "{e}");
    assert!(
        matches!(
            e["error"]["code"].as_str(),
            Some("not_ready") | Some("draft_stale")
        ),
        "{e}"
    );

    // ---- Filed: the case knows, and the limitation clock is suspended.
    let d = f
        .cases
        .command(
            &f.w.org,
            &f.public(80001),
            USER,
            CaseCommand::Filed(
                serde_json::from_value(json!({
                    "route": "utlegg", "filedOn": f.today().to_string(), "documentId": doc_id
                }))
                .unwrap(),
            ),
            None,
            f.today(),
            f.now(),
        )
        .await
        .unwrap();
    assert_eq!(
        d.legal.readiness.as_ref().unwrap().code,
        "blocked:already_filed"
    );
    assert_eq!(d.legal.documents.len(), 1);
}

/// "1627.00" as the documents print it: "1 627,00".
fn nok(amount: &str) -> String {
    let (kr, ore) = amount.split_once('.').unwrap_or((amount, "00"));
    let digits: Vec<char> = kr.chars().collect();
    let mut grouped = String::new();
    for (i, c) in digits.iter().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push(' ');
        }
        grouped.push(*c);
    }
    format!("{grouped},{ore}")
}

fn book_add_years(d: NaiveDate, years: i32) -> NaiveDate {
    d.checked_add_months(chrono::Months::new(12 * years as u32))
        .unwrap()
}
