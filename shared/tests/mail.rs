//! SES v2 mail and the sent-mail log against moto; sent mail is read back from
//! `{MOTO_ENDPOINT}/moto-api/data.json` (`["ses"]["Message"]`).
//!
//! moto, the table (template.yaml's, under a stage of its own) and the verified sender come from
//! the `test-support` crate.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, TimeZone, Utc};
use serde_json::Value;
use shared::adapters::mail::{
    validate, Claim, DynamoSentMailLog, MailError, MailStatus, Mailer, MemorySentMailLog,
    MessageId, OutgoingMail, SendOutcome, SentMailLog,
};
use shared::adapters::store::keys::{mail_pk, ready_mail_key, MAIL_SK};
use shared::domain::ledger::texts::ready_mail;
use shared::domain::ledger::{SkipReason, SyncCounts};
use shared::domain::setup::IntegrationId;
use test_support::{free_port, moto, sent_messages, unique, verified_sender, Stack};

/// One test's world: a verified sender, a table for the log, clients.
struct World {
    cfg: aws_config::SdkConfig,
    ses: aws_sdk_sesv2::Client,
    ddb: aws_sdk_dynamodb::Client,
    table: String,
    from: String,
}

impl World {
    async fn new() -> Self {
        moto();
        let cfg = shared::adapters::aws::sdk_config().await;
        let ses = aws_sdk_sesv2::Client::new(&cfg);
        let ddb = aws_sdk_dynamodb::Client::new(&cfg);
        let table = Stack::provision(&cfg, &["Table"], None).await.table();
        let from = verified_sender(&cfg, "noreply").await;
        Self {
            cfg,
            ses,
            ddb,
            table,
            from,
        }
    }

    fn mailer(&self) -> Mailer {
        Mailer::new(&self.cfg, self.from.clone())
    }

    fn log(&self) -> DynamoSentMailLog {
        DynamoSentMailLog::new(self.ddb.clone(), &self.table)
    }

    async fn raw_record(&self, key: &str) -> Option<HashMap<String, AttributeValue>> {
        self.ddb
            .get_item()
            .table_name(&self.table)
            .key("PK", AttributeValue::S(mail_pk(key)))
            .key("SK", AttributeValue::S(MAIL_SK.into()))
            .consistent_read(true)
            .send()
            .await
            .unwrap()
            .item
    }
}

async fn message_by_id(id: &MessageId) -> Value {
    let all = sent_messages().await;
    let found: Vec<Value> = all
        .into_iter()
        .filter(|m| m["id"].as_str() == Some(id.as_str()))
        .collect();
    assert_eq!(found.len(), 1, "message {id} in moto");
    found.into_iter().next().unwrap()
}

async fn count_with_subject(subject: &str) -> usize {
    sent_messages()
        .await
        .iter()
        .filter(|m| m["subject"].as_str() == Some(subject))
        .count()
}

fn mail(subject: &str, key: &str) -> OutgoingMail {
    OutgoingMail {
        to: vec![
            "regnskap@kunde.test".into(),
            "daglig.leder@kunde.test".into(),
        ],
        subject: subject.into(),
        text_body: "Hei,\n\nDette er en prøve. Ærlig talt: æøå ÆØÅ.\n".into(),
        html_body: Some("<p>Hei, <b>prøve</b></p>".into()),
        idempotency_key: key.into(),
    }
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 2, 8, 0, 0).unwrap()
}

fn text_of(m: &Value) -> String {
    m["body"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| m["body"].to_string())
}

// ---------------------------------------------------------------------------------------------
// send

#[tokio::test]
async fn a_mail_is_sent_and_read_back_from_moto() {
    let w = World::new().await;
    let subject = format!("Prøve {}", unique("s"));
    let id = w
        .mailer()
        .send(&mail(&subject, &unique("k")))
        .await
        .unwrap();
    assert!(!id.as_str().is_empty());
    let m = message_by_id(&id).await;
    assert_eq!(m["subject"].as_str(), Some(subject.as_str()));
    assert_eq!(m["source"].as_str(), Some(w.from.as_str()));
    let to: Vec<&str> = m["destinations"]["ToAddresses"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(to, vec!["regnskap@kunde.test", "daglig.leder@kunde.test"]);
    // moto keeps the HTML part when there is one, else the text part.
    assert_eq!(text_of(&m), "<p>Hei, <b>prøve</b></p>");

    let text_only = OutgoingMail {
        html_body: None,
        ..mail(&format!("Tekst {}", unique("s")), &unique("k"))
    };
    let id = w.mailer().send(&text_only).await.unwrap();
    let m = message_by_id(&id).await;
    assert_eq!(
        text_of(&m),
        "Hei,\n\nDette er en prøve. Ærlig talt: æøå ÆØÅ.\n"
    );
}

#[tokio::test]
async fn an_unverified_sender_is_message_rejected_and_not_retryable() {
    let w = World::new().await;
    let stranger = format!("{}@elsewhere.test", unique("nobody"));
    let subject = unique("rejected");
    let mailer = Mailer::new(&w.cfg, stranger);
    let err = mailer
        .send(&mail(&subject, &unique("k")))
        .await
        .unwrap_err();
    match &err {
        MailError::Rejected { code, .. } => assert_eq!(code, "MessageRejected"),
        other => panic!("expected Rejected, got {other:?}"),
    }
    assert!(!err.is_retryable());
    assert_eq!(count_with_subject(&subject).await, 0);
}

#[tokio::test]
async fn invalid_mails_are_refused_before_anything_is_sent_or_logged() {
    let w = World::new().await;
    let log = w.log();
    let good = mail("Emne", &unique("k"));
    let cases: Vec<OutgoingMail> = vec![
        OutgoingMail {
            to: vec![],
            ..good.clone()
        },
        OutgoingMail {
            to: vec!["not-an-address".into()],
            ..good.clone()
        },
        OutgoingMail {
            to: vec!["a@b.test\r\nBcc: x@y.test".into()],
            ..good.clone()
        },
        OutgoingMail {
            to: vec!["x@y.test".into(); 51],
            ..good.clone()
        },
        OutgoingMail {
            subject: "  ".into(),
            ..good.clone()
        },
        OutgoingMail {
            subject: "Emne\r\nBcc: x@y.test".into(),
            ..good.clone()
        },
        OutgoingMail {
            text_body: "".into(),
            ..good.clone()
        },
        OutgoingMail {
            idempotency_key: " ".into(),
            ..good.clone()
        },
        OutgoingMail {
            idempotency_key: "k".repeat(300),
            ..good.clone()
        },
    ];
    for (i, m) in cases.iter().enumerate() {
        let err = w.mailer().send_once(&log, m, t0()).await.unwrap_err();
        assert!(matches!(err, MailError::Invalid(_)), "case {i}: {err:?}");
        assert!(!err.is_retryable());
        assert_eq!(log.get(&m.idempotency_key).await.unwrap(), None, "case {i}");
    }
    assert!(validate(&good).is_ok());
    let bad_sender = Mailer::new(&w.cfg, "no sender".into());
    assert!(matches!(
        bad_sender.send(&good).await,
        Err(MailError::Invalid(_))
    ));
}

// ---------------------------------------------------------------------------------------------
// send_once

#[tokio::test]
async fn send_once_twice_sends_one_mail_and_the_second_is_already_sent() {
    let w = World::new().await;
    let log = w.log();
    let subject = unique("once");
    let key = unique("job");
    let m = mail(&subject, &key);

    let first = w.mailer().send_once(&log, &m, t0()).await.unwrap();
    let SendOutcome::Sent(id) = first.clone() else {
        panic!("first: {first:?}")
    };
    // The redelivered SQS message, a minute later, from another Lambda.
    let second = w
        .mailer()
        .send_once(&log, &m, t0() + chrono::Duration::minutes(1))
        .await
        .unwrap();
    assert_eq!(second, SendOutcome::AlreadySent(id.clone()));
    assert_eq!(second.message_id(), &id);
    assert_eq!(count_with_subject(&subject).await, 1);
    message_by_id(&id).await;

    // The item: status, message id, no addresses or body.
    let item = w.raw_record(&key).await.expect("record");
    let get = |k: &str| match item.get(k) {
        Some(AttributeValue::S(s)) => s.clone(),
        Some(AttributeValue::N(n)) => n.clone(),
        other => panic!("{k}: {other:?}"),
    };
    assert_eq!(get("status"), "sent");
    assert_eq!(get("messageId"), id.as_str());
    assert_eq!(get("subject"), subject);
    assert_eq!(get("recipients"), "2");
    assert_eq!(get("startedAt"), "2026-11-02T08:00:00.000Z");
    assert_eq!(get("sentAt"), "2026-11-02T08:00:00.000Z");
    assert!(!get("attempt").is_empty());
    let dump = format!("{item:?}");
    assert!(!dump.contains("kunde.test"), "no addresses stored: {dump}");
    assert!(!dump.contains("Dette er en prøve"), "no body stored");
    let rec = log.get(&key).await.unwrap().unwrap();
    assert_eq!(rec.status, MailStatus::Sent);
    assert_eq!(rec.message_id, Some(id));
    assert_eq!(rec.key, key);
}

#[tokio::test]
async fn concurrent_deliveries_send_one_mail() {
    let w = World::new().await;
    let log = w.log();
    let subject = unique("race");
    let m = mail(&subject, &unique("job"));
    let (a, b, c) = (w.mailer(), w.mailer(), w.mailer());
    let (ra, rb, rc) = tokio::join!(
        a.send_once(&log, &m, t0()),
        b.send_once(&log, &m, t0()),
        c.send_once(&log, &m, t0())
    );
    let results = [ra, rb, rc];
    let sent = results
        .iter()
        .filter(|r| matches!(r, Ok(SendOutcome::Sent(_))))
        .count();
    assert_eq!(sent, 1, "{results:?}");
    for r in &results {
        match r {
            Ok(_) => {}
            Err(e @ MailError::InProgress { .. }) => assert!(e.is_retryable()),
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    assert_eq!(count_with_subject(&subject).await, 1);
}

#[tokio::test]
async fn a_fresh_sending_record_is_in_progress_and_a_stale_one_becomes_unknown_never_resent() {
    let w = World::new().await;
    let log = w.log();
    let subject = unique("crash");
    let key = unique("job");
    let m = mail(&subject, &key);
    // A delivery that claimed the key and crashed before SES answered.
    assert_eq!(
        log.claim(&m, "crashed-attempt", t0()).await.unwrap(),
        Claim::Claimed
    );

    let mailer = w.mailer();
    assert_eq!(mailer.stale_after(), chrono::Duration::minutes(15));
    let err = mailer
        .send_once(&log, &m, t0() + chrono::Duration::minutes(14))
        .await
        .unwrap_err();
    assert_eq!(err, MailError::InProgress { key: key.clone() });
    assert!(err.is_retryable());

    let err = mailer
        .send_once(&log, &m, t0() + chrono::Duration::minutes(15))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, MailError::Unknown { key: k, .. } if *k == key),
        "{err:?}"
    );
    assert!(!err.is_retryable());
    let rec = log.get(&key).await.unwrap().unwrap();
    assert_eq!(rec.status, MailStatus::Unknown);
    assert_eq!(rec.attempt, "crashed-attempt");

    // Any later delivery: still unknown, still nothing sent.
    let err = mailer
        .send_once(&log, &m, t0() + chrono::Duration::days(1))
        .await
        .unwrap_err();
    assert!(matches!(err, MailError::Unknown { .. }));
    assert_eq!(count_with_subject(&subject).await, 0);
}

#[tokio::test]
async fn a_rejected_mail_releases_its_key_so_a_later_delivery_can_send() {
    let w = World::new().await;
    let log = w.log();
    let subject = unique("later");
    let key = unique("job");
    let m = mail(&subject, &key);
    let sender = format!("{}@inndrive.test", unique("new-sender"));
    let mailer = Mailer::new(&w.cfg, sender.clone());

    let err = mailer.send_once(&log, &m, t0()).await.unwrap_err();
    assert!(matches!(err, MailError::Rejected { .. }), "{err:?}");
    assert_eq!(log.get(&key).await.unwrap(), None, "record released");

    // The sender gets verified; the job's retry now sends, once.
    w.ses
        .create_email_identity()
        .email_identity(&sender)
        .send()
        .await
        .unwrap();
    let out = mailer.send_once(&log, &m, t0()).await.unwrap();
    assert!(matches!(out, SendOutcome::Sent(_)));
    assert_eq!(count_with_subject(&subject).await, 1);
}

#[tokio::test]
async fn ses_unreachable_is_retryable_and_releases_the_key() {
    let w = World::new().await;
    let log = w.log();
    let port = free_port();
    let ses_conf = aws_sdk_sesv2::config::Builder::from(&w.cfg)
        .endpoint_url(format!("http://127.0.0.1:{port}"))
        .build();
    let mailer = Mailer::from_client(aws_sdk_sesv2::Client::from_conf(ses_conf), w.from.clone());
    let key = unique("job");
    let m = mail(&unique("unreachable"), &key);
    let err = mailer.send_once(&log, &m, t0()).await.unwrap_err();
    assert!(matches!(err, MailError::Unreachable(_)), "{err:?}");
    assert!(err.is_retryable());
    assert_eq!(log.get(&key).await.unwrap(), None);
    // The retry through the real endpoint sends.
    let out = w.mailer().send_once(&log, &m, t0()).await.unwrap();
    assert!(matches!(out, SendOutcome::Sent(_)));
}

#[tokio::test]
async fn the_in_memory_log_behaves_like_the_dynamodb_one() {
    let w = World::new().await;
    let log = MemorySentMailLog::new();
    let subject = unique("memory");
    let m = mail(&subject, &unique("job"));
    let first = w.mailer().send_once(&log, &m, t0()).await.unwrap();
    let second = w.mailer().send_once(&log, &m, t0()).await.unwrap();
    assert!(matches!(first, SendOutcome::Sent(_)));
    assert_eq!(second, SendOutcome::AlreadySent(first.message_id().clone()));
    assert_eq!(count_with_subject(&subject).await, 1);

    let crashed = mail(&unique("memory-crash"), &unique("job"));
    log.claim(&crashed, "a1", t0()).await.unwrap();
    let mailer = w.mailer().with_stale_after(chrono::Duration::minutes(5));
    assert!(matches!(
        mailer
            .send_once(&log, &crashed, t0() + chrono::Duration::minutes(4))
            .await,
        Err(MailError::InProgress { .. })
    ));
    assert!(matches!(
        mailer
            .send_once(&log, &crashed, t0() + chrono::Duration::minutes(5))
            .await,
        Err(MailError::Unknown { .. })
    ));
}

// ---------------------------------------------------------------------------------------------
// The ready mail

fn counts() -> SyncCounts {
    let mut skipped = BTreeMap::new();
    skipped.insert(SkipReason::MissingDueDate, 3);
    skipped.insert(SkipReason::BeforeFetchFrom, 12);
    skipped.insert(SkipReason::NullVoucherType, 0);
    SyncCounts {
        customers: 42,
        open_items: 17,
        overdue_items: 5,
        skipped,
        ..SyncCounts::default()
    }
}

/// The ready mail as the sync sends it.
fn ready(to: &str, account: &str, counts: &SyncCounts, key: &str) -> OutgoingMail {
    OutgoingMail::to_one(to, ready_mail(account, counts), key.to_string())
}

fn integration() -> IntegrationId {
    IntegrationId::from_suffix(&uuid::Uuid::new_v4().simple().to_string()).unwrap()
}

#[test]
fn the_ready_mail_lists_the_counts_in_norwegian_with_an_english_line() {
    let m = ready(
        "post@kontor.test",
        "Fjord & Fisk AS",
        &counts(),
        "ready:int_1",
    );
    assert_eq!(m.to, vec!["post@kontor.test"]);
    assert_eq!(
        m.subject,
        "Inndrive: reskontroen for Fjord & Fisk AS er klar"
    );
    assert_eq!(m.idempotency_key, "ready:int_1");
    let t = &m.text_body;
    for needle in [
        "Første synkronisering fra Tripletex for Fjord & Fisk AS er fullført",
        "Kunder: 42\n",
        "Åpne poster: 17\n",
        "Forfalte poster: 5\n",
        "Poster som ikke er tatt med: 15\n",
        "  - datert før startdatoen for henting: 12\n",
        "  - mangler forfallsdato: 3\n",
        "In English: the first Tripletex sync for Fjord & Fisk AS is complete",
        "42 customers, 17 open items, 5 overdue, 15 skipped",
    ] {
        assert!(t.contains(needle), "missing {needle:?} in\n{t}");
    }
    // Zero counts are not listed; the larger reason first.
    assert!(!t.contains("bilag uten bilagstype"), "{t}");
    assert!(t.find(": 12\n").unwrap() < t.find(": 3\n").unwrap());
    let h = m.html_body.as_deref().unwrap();
    assert!(h.contains("<strong>Fjord &amp; Fisk AS</strong>"), "{h}");
    assert!(!h.contains("Fjord & Fisk"), "escaped in HTML: {h}");
    assert!(h.contains("<td>Åpne poster</td><td>17</td>"), "{h}");
    assert!(validate(&m).is_ok());
}

#[test]
fn the_ready_mail_is_safe_with_odd_account_names_and_nothing_skipped() {
    let plain = SyncCounts {
        customers: 1,
        ..SyncCounts::default()
    };
    let id = IntegrationId::parse("int_0192f0c4a1b27f3e8c1d2e3f4a5b6c7e").unwrap();
    let m = ready(
        " a@b.test ",
        "Evil\r\nBcc: x@y.test <script>",
        &plain,
        &ready_mail_key(&id),
    );
    assert_eq!(
        m.subject,
        "Inndrive: reskontroen for Evil Bcc: x@y.test <script> er klar"
    );
    assert!(!m.html_body.as_deref().unwrap().contains("<script>"));
    assert!(m.text_body.contains("Poster som ikke er tatt med: 0\n"));
    assert!(!m.text_body.contains("I Inndrive ser du hvilke poster"));
    assert_eq!(m.to, vec!["a@b.test"]);
    assert_eq!(
        m.idempotency_key,
        "ready:int_0192f0c4a1b27f3e8c1d2e3f4a5b6c7e"
    );
    assert!(validate(&m).is_ok());
    let long = ready("a@b.test", &"x".repeat(2000), &plain, "k");
    assert!(validate(&long).is_ok());
    let blank = ready("a@b.test", "  ", &plain, "k");
    assert_eq!(blank.subject, "Inndrive: reskontroen for kontoen er klar");
}

#[tokio::test]
async fn the_ready_mail_goes_out_once_through_ses() {
    let w = World::new().await;
    let log = w.log();
    let account = unique("Konto");
    let key = ready_mail_key(&integration());
    let m = ready("post@kontor.test", &account, &counts(), &key);
    let out = w.mailer().send_once(&log, &m, t0()).await.unwrap();
    let again = w.mailer().send_once(&log, &m, t0()).await.unwrap();
    assert_eq!(again, SendOutcome::AlreadySent(out.message_id().clone()));
    let sent = message_by_id(out.message_id()).await;
    assert_eq!(
        sent["subject"].as_str(),
        Some(format!("Inndrive: reskontroen for {account} er klar").as_str())
    );
    assert_eq!(
        sent["destinations"]["ToAddresses"][0].as_str(),
        Some("post@kontor.test")
    );
    assert_eq!(text_of(&sent), m.html_body.clone().unwrap());
    assert_eq!(count_with_subject(&m.subject).await, 1);
}
