//! End to end, dunning: setup → the initial sync (the real `sync-worker`) → classification (the
//! real `loss-classification`, which opens the cases) → the dunning policy over HTTP (the real
//! `dunning-api`) → the daily schedule's input to the real `dunning` binary (fan-out onto the
//! FIFO dunning queue, the local SQS source runs one job per account) → the mails moto's SES
//! took, read back: recipients, subject, the PDF attachment and its amounts.
//!
//! Two accounts of one accounting office: Fjordkraft Rørlegger AS (the demo's company 2001 through
//! the office's accountant key, with two more overdue invoices: 10031 for Havbruk Service AS,
//! 10032 for Fjellhytter AS) and Solberg Elektro AS (company 3001 through its own key, with one
//! overdue invoice, 20001 for Kafé Sentrum AS).
//! Invoice 10032 is paid in Tripletex after the sync and before the run (the sandbox's
//! `register_payment`): the re-check stops it, no letter goes to Fjellhytter, the run's report
//! says why. The preview across both accounts, taken before the run, is what the run sends.
//!
//! The functions run on the real clock: the amounts are whatever they are today; the test
//! compares the letters with the preview of the same day.
//!
//! Needs the function binaries: `cargo build -p integration-setup -p sync-worker -p scheduled-sync
//! -p loss-classification -p cases-api -p dunning -p dunning-api`.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use e2e::{demo, Api};
use inndrive_local::LocalStack;
use serde_json::{json, Value};
use shared::domain::collection::dunning::letter::format::amount;
use shared::domain::collection::dunning::Language;
use shared::domain::Money;
use test_support::dunning::{pdf_text, raw_mails_at, Mail};
use tripletex_sandbox::scenario::{customer, invoice, posting, voucher, Vt, AR, REVENUE};

const ORG: &str = "org_regnskap_purring";

/// Company 3001's chart: its own account ids (72…), the usual numbers.
const AR_3001: i64 = 72001500;
const REVENUE_3001: i64 = 72003000;

/// A posting of company 3001 (the scenario builder numbers accounts of company 2001's ids).
#[allow(clippy::too_many_arguments)]
fn posting_3001(
    id: i64,
    voucher: i64,
    account: i64,
    number: i64,
    amount: f64,
    cust: Option<i64>,
    invoice_number: &str,
    term: Option<&str>,
) -> Value {
    let mut p = posting(
        id,
        voucher,
        Vt::Invoice,
        "2026-09-01",
        account,
        amount,
        cust,
        invoice_number,
        term,
        None,
    );
    p["account"]["number"] = json!(number);
    p
}

/// The demo fixture, with two more overdue invoices for company 2001 and one for company 3001.
fn fixture() -> tripletex_sandbox::Fixture {
    let company_2001 = json!({
        "invoices": [
            invoice(80011, 10031, 40002, "2026-08-01", "2026-08-15", 4000.0, 4000.0, 50011),
            invoice(80012, 10032, 40005, "2026-08-05", "2026-08-19", 6000.0, 6000.0, 50012),
        ],
        "postings": [
            posting(60111, 50011, Vt::Invoice, "2026-08-01", AR, 4000.0, Some(40002), "10031", Some("2026-08-15"), None),
            posting(60112, 50011, Vt::Invoice, "2026-08-01", REVENUE, -4000.0, None, "", None, None),
            posting(60121, 50012, Vt::Invoice, "2026-08-05", AR, 6000.0, Some(40005), "10032", Some("2026-08-19"), None),
            posting(60122, 50012, Vt::Invoice, "2026-08-05", REVENUE, -6000.0, None, "", None, None),
        ],
        "vouchers": [
            voucher(50011, "2026-08-01", "Faktura 10031", Vt::Invoice, &[60111, 60112]),
            voucher(50012, "2026-08-05", "Faktura 10032", Vt::Invoice, &[60121, 60122]),
        ],
    });
    let mut kafe = customer(42001, "Kafé Sentrum AS", "922334455", false, false);
    kafe["invoiceEmail"] = json!("post@kafesentrum.no");
    let company_3001 = json!({
        "customers": [kafe],
        "invoices": [
            invoice(82001, 20001, 42001, "2026-09-01", "2026-09-15", 3500.0, 3500.0, 52001),
        ],
        "postings": [
            posting_3001(62001, 52001, AR_3001, 1500, 3500.0, Some(42001), "20001", Some("2026-09-15")),
            posting_3001(62002, 52001, REVENUE_3001, 3000, -3500.0, None, "", None),
        ],
        "vouchers": [
            voucher(52001, "2026-09-01", "Faktura 20001", Vt::Invoice, &[62001, 62002]),
        ],
        "accounts": [
            {"id": REVENUE_3001, "version": 0, "number": 3000, "name": "Salgsinntekt",
             "type": "OPERATING_REVENUE", "ledgerType": "GENERAL", "isCloseable": false,
             "isInactive": false, "isBankAccount": false},
        ],
    });
    tripletex_sandbox::Fixture::demo()
        .with_objects(2001, &company_2001)
        .expect("company 2001 takes the invoices")
        .with_objects(3001, &company_3001)
        .expect("company 3001 takes the invoice")
}

/// The stack, with a sender of its own (moto's SES is shared by the tests of one run).
async fn start() -> (LocalStack, String) {
    // A sender of this run's own: the test reads back only the mails it sent on a shared moto.
    let sender = format!("purring-d{}@inndrive.test", std::process::id() % 100_000);
    let stack = e2e::start_stack_serving(fixture(), &[("SenderEmail", &sender)]).await;
    (stack, sender)
}

fn today() -> chrono::NaiveDate {
    shared::services::cases::norwegian_date(chrono::Utc::now())
}

/// An account connected to client company `client`.
async fn connect(api: &Api, key: &str, name: &str, client: i64) -> String {
    let r = api
        .post("/v1/accounts", &json!({"name": name}))
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.raw);
    let account = r.body["id"].as_str().unwrap().to_string();
    let r = api
        .put(
            &format!("/v1/accounts/{account}/integration"),
            &json!({
                "keyId": key, "clientCompanyId": client, "fetchFrom": "2025-01-01",
                "daysPastDue": 14, "updateAddressesFromBrreg": false,
                "includeSaftImported": false, "includeNullVoucherType": false
            }),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.raw);
    account
}

async fn wait_for_cases(stack: &LocalStack, api: &Api, account: &str, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let r = api
            .get(&format!("/v1/accounts/{account}/cases"))
            .await
            .unwrap();
        assert_eq!(r.status, 200, "{}", r.raw);
        if r.body["cases"].as_array().unwrap().len() >= n {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "not {n} cases after 120 s: {}; logs:\n{}",
            r.raw,
            stack.logs().join("\n")
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Dunning on, automatic, the default chain, with the creditor as the letters name it.
async fn switch_on(api: &Api, account: &str, creditor: &str, org_number: &str) {
    let path = format!("/v1/accounts/{account}/dunning-policy");
    let r = api.get(&path).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.raw);
    assert_eq!(r.body["policy"]["enabled"], false, "off until switched on");
    assert_eq!(r.body["suggestedSender"]["name"], creditor, "{}", r.raw);
    let mut policy = r.body["policy"].clone();
    policy["enabled"] = json!(true);
    policy["sender"] = json!({
        "name": creditor,
        "organizationNumber": org_number,
        "address": {"lines": ["Strandkaien 4"], "postalCode": "5013", "city": "Bergen", "countryCode": "NO"},
        "bankAccount": "86011117947",
        "email": "regnskap@example.no",
        "phone": "55 12 34 56",
        "replyTo": "regnskap@example.no"
    });
    let r = api
        .put(&path, &json!({"version": null, "policy": policy}))
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.raw);
    assert_eq!(r.body["version"], 1);
}

async fn wait_for_run(stack: &LocalStack, api: &Api, account: &str) -> Value {
    let path = format!("/v1/accounts/{account}/dunning/runs/{}", today());
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let r = api.get(&path).await.unwrap();
        if r.status == 200 && r.body["status"] == "completed" {
            return r.body;
        }
        assert!(
            r.status == 404 || r.body["status"] != "failed",
            "the run failed: {}",
            r.raw
        );
        assert!(
            Instant::now() < deadline,
            "no completed run after 180 s: {}; logs:\n{}",
            r.raw,
            stack.logs().join("\n")
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn money(v: &Value) -> Money {
    v.as_str()
        .unwrap_or_else(|| panic!("an amount is a string: {v}"))
        .parse()
        .unwrap()
}

/// An amount as the letter prints it (pdftotext reads its no-break spaces as spaces).
fn printed(m: Money) -> String {
    amount(m, Language::Nb).replace('\u{a0}', " ")
}

/// The letter id a mail's Message-ID carries (`<{letterId}@{domain}>`).
fn letter_of(m: &Mail) -> String {
    let id = m.message_id.as_deref().expect("a Message-ID");
    id.trim_start_matches('<')
        .split('@')
        .next()
        .unwrap()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daily_run_mails_each_due_letter_once_with_its_pdf_and_nothing_for_a_claim_paid_this_morning(
) {
    let (stack, sender) = start().await;
    let api = Api::new(&stack, ORG);
    let r = api
        .post(
            "/v1/tripletex-keys",
            &json!({"label": "Regnskapskontoret", "employeeToken": demo::ACCOUNTANT_KEY, "accountantKey": true}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.raw);
    let office_key = r.body["id"].as_str().unwrap().to_string();
    let r = api
        .post(
            "/v1/tripletex-keys",
            &json!({"label": "Solbergs egen nøkkel", "employeeToken": demo::COMPANY_KEY, "accountantKey": false}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.raw);
    let own_key = r.body["id"].as_str().unwrap().to_string();
    let fjord = connect(&api, &office_key, "Fjordkraft Rørlegger AS", 2001).await;
    let solberg = connect(&api, &own_key, "Solberg Elektro AS", 3001).await;
    wait_for_cases(&stack, &api, &fjord, 3).await;
    wait_for_cases(&stack, &api, &solberg, 1).await;
    switch_on(&api, &fjord, "Fjordkraft Rørlegger AS", "923456783").await;
    switch_on(&api, &solberg, "Solberg Elektro AS", "987654325").await;

    // Fjellhytter pays 10032 this morning, after the night's sync.
    stack
        .sandbox()
        .expect("the sandbox runs")
        .register_payment(2001, 80012, today(), 6000.0)
        .expect("the sandbox books the payment");

    // The office's view of what goes out today, across both accounts (no re-check: it does not
    // know of the payment yet).
    let r = api.get("/v1/dunning/preview").await.unwrap();
    assert_eq!(r.status, 200, "{}", r.raw);
    let previews = r.body["accounts"].as_array().unwrap().clone();
    assert_eq!(previews.len(), 2, "{}", r.raw);
    let mut previewed: BTreeMap<String, Value> = BTreeMap::new();
    for p in &previews {
        assert_eq!(p["enabled"], true);
        for l in p["letters"].as_array().unwrap() {
            previewed.insert(l["letterId"].as_str().unwrap().to_string(), l.clone());
        }
    }
    let by_name = |name: &str| {
        previewed
            .values()
            .find(|l| l["customerName"] == name)
            .unwrap_or_else(|| panic!("no letter to {name} in the preview: {previewed:?}"))
            .clone()
    };
    assert_eq!(previewed.len(), 4, "{previewed:?}");
    let paid_letter = by_name("Fjellhytter AS")["letterId"]
        .as_str()
        .unwrap()
        .to_string();

    // The schedule's input: one job per account, each run by the dunning function.
    let out = stack
        .invoke_schedule("DunningFunction", "DailyDunning")
        .await
        .expect("the fan-out");
    assert_eq!(out, json!({"queued": 2}));
    let run_fjord = wait_for_run(&stack, &api, &fjord).await;
    let run_solberg = wait_for_run(&stack, &api, &solberg).await;
    assert_eq!(
        run_fjord["report"]["stopped"],
        json!({"paid": 1}),
        "{run_fjord}"
    );
    assert_eq!(run_fjord["report"]["mails"], 2, "{run_fjord}");
    assert_eq!(run_solberg["report"]["mails"], 1, "{run_solberg}");
    assert!(run_fjord["report"]["recheckRequests"].as_u64().unwrap() <= 1);

    // What moto's SES took: the previewed letters but the paid one, each once.
    let mails: Vec<Mail> = raw_mails_at(&stack.moto_endpoint)
        .await
        .into_iter()
        .filter(|m| m.source == sender)
        .collect();
    let mut mailed: Vec<String> = mails.iter().map(letter_of).collect();
    mailed.sort();
    let mut expected: Vec<String> = previewed
        .keys()
        .filter(|id| **id != paid_letter)
        .cloned()
        .collect();
    expected.sort();
    assert_eq!(
        mailed, expected,
        "the preview is what went out, but the paid one"
    );
    assert!(mails.iter().all(|m| m.to != "booking@fjellhytter.no"));

    for (to, invoice_number, customer, creditor) in [
        (
            "post@vestlandbygg.no",
            "10023",
            "Vestland Bygg AS",
            "Fjordkraft Rørlegger AS",
        ),
        (
            "faktura@havbruk.no",
            "10031",
            "Havbruk Service AS",
            "Fjordkraft Rørlegger AS",
        ),
        (
            "post@kafesentrum.no",
            "20001",
            "Kafé Sentrum AS",
            "Solberg Elektro AS",
        ),
    ] {
        let m = mails
            .iter()
            .find(|m| m.to == to)
            .unwrap_or_else(|| panic!("no mail to {to}: {mails:?}"));
        let letter = &previewed[&letter_of(m)];
        assert_eq!(letter["customerName"], customer);
        assert!(m.subject.contains(invoice_number), "{}", m.subject);
        assert!(m.subject.contains(creditor), "{}", m.subject);
        assert!(m.from.contains(creditor), "From: {}", m.from);
        assert!(m.from.contains(&sender), "From: {}", m.from);
        assert_eq!(
            m.reply_to
                .as_deref()
                .map(|r| r.contains("regnskap@example.no")),
            Some(true)
        );
        let total = printed(money(&letter["total"]));
        assert!(m.text.contains(&total), "{total} in the mail: {}", m.text);

        assert_eq!(m.attachments.len(), 1, "{to}");
        let (name, content_type, pdf) = &m.attachments[0];
        assert_eq!(content_type, "application/pdf");
        assert!(
            name.ends_with(".pdf") && name.contains(invoice_number),
            "{name}"
        );
        let text = pdf_text(pdf);
        assert!(text.contains(customer), "{text}");
        assert!(text.contains(creditor), "{text}");
        assert!(text.contains(invoice_number), "{text}");
        assert!(text.contains(&format!("kr {total}")), "{total}: {text}");
        assert!(
            text.contains(&today().format("%d.%m.%Y").to_string()),
            "dated today: {text}"
        );
    }

    // The case's notice and its letter as sent, over HTTP (base64 through the API edge).
    let r = api
        .get(&format!("/v1/accounts/{fjord}/cases"))
        .await
        .unwrap();
    let case = r.body["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["caseId"] == "case_inv_80001")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = api.get(&format!("/v1/cases/{case}/notices")).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.raw);
    let notice = &r.body["notices"][0];
    assert_eq!(notice["status"], "sent", "{}", r.raw);
    let (status, content_type, pdf) = api
        .get_bytes(&format!(
            "/v1/cases/{case}/notices/{}/pdf",
            notice["id"].as_str().unwrap()
        ))
        .await
        .unwrap();
    assert_eq!(status, 200);
    assert_eq!(content_type, "application/pdf");
    let vestland = mails
        .iter()
        .find(|m| m.to == "post@vestlandbygg.no")
        .unwrap();
    assert_eq!(pdf, vestland.attachments[0].2, "the PDF exactly as mailed");

    // The schedule again the same day: the runs are complete, nothing more goes out.
    let out = stack
        .invoke_schedule("DunningFunction", "DailyDunning")
        .await
        .unwrap();
    assert_eq!(out, json!({"queued": 2}));
    tokio::time::sleep(Duration::from_secs(3)).await;
    let again = raw_mails_at(&stack.moto_endpoint)
        .await
        .into_iter()
        .filter(|m| m.source == sender)
        .count();
    assert_eq!(again, mails.len(), "no mail twice");

    // After the whole pipeline with dunning: no Tripletex token in any table item, secret's
    // metadata, log line, queue message, function response, API answer, mail or letter.
    let leaks = e2e::token_leaks(&stack, &[&api]).await.unwrap();
    assert!(leaks.is_empty(), "tokens leaked: {leaks:?}");
    for m in &mails {
        for t in demo::ALL_TOKENS {
            assert!(
                !m.subject.contains(t) && !m.text.contains(t),
                "a token in the mail to {}",
                m.to
            );
            for (name, _, bytes) in &m.attachments {
                assert!(
                    !pdf_text(bytes).contains(t),
                    "a token in the letter {name} to {}",
                    m.to
                );
            }
        }
    }
}
