//! End to end, issue 5: a write-off voucher in the Tripletex sandbox → the ledger sync (the real
//! `sync-worker` binary) → the classification queue → the real `loss-classification` binary →
//! an open case, marked written off, read through the real `cases-api` binary over HTTP.
//!
//! The sandbox runs the demo fixture with one change, as an accountant would book it: invoice
//! 10023 (12 500 kr, Vestland Bygg AS, due 16 May 2026) is written off on 30 Sep 2026 with a
//! manual voucher «Tap på fordring, faktura 10023» crediting 1500 and debiting 7830. Tripletex now
//! shows the invoice closed (amountOutstanding 0): the write-off happened before the first sync.
//!
//! Needs the function binaries: `cargo build -p integration-setup -p sync-worker -p scheduled-sync
//! -p loss-classification -p cases-api`.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use e2e::{demo, peek_messages, Api};
use inndrive_local::{LocalStack, StackOptions};
use serde_json::{json, Value};

/// The demo fixture with invoice 10023 written off.
fn fixture_with_write_off() -> tripletex_sandbox::Fixture {
    let path = inndrive_local::repo_root().join("infra/tripletex-sandbox/fixtures/demo.json");
    let mut v: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let company = v["companies"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|c| c["id"] == 2001)
        .expect("company 2001 in the demo fixture");
    let col = &mut company["collections"];
    for inv in col["invoices"].as_array_mut().unwrap() {
        if inv["id"] == 80001 {
            for f in [
                "amountOutstanding",
                "amountCurrencyOutstanding",
                "amountOutstandingTotal",
                "amountCurrencyOutstandingTotal",
            ] {
                inv[f] = json!(0.0);
            }
            inv["postings"] = json!([{"id": 60001}, {"id": 60007}]);
        }
    }
    let postings = col["postings"].as_array_mut().unwrap();
    for p in postings.iter_mut() {
        if p["id"] == 60001 {
            p["closeGroup"] = json!({"id": 90002});
        }
    }
    // The account's number and name are given on the posting: the sandbox does not expand
    // `account(number,name)` of a fixture posting from its account table.
    let base = |id: i64, account: Value, amount: f64, row: i64| {
        json!({
            "id": id, "version": 0, "voucher": {"id": 50004}, "date": "2026-09-30",
            "description": "Tap på fordring, faktura 10023", "account": account,
            "amount": amount, "amountCurrency": amount, "amountGross": amount,
            "amountGrossCurrency": amount, "currency": {"id": 1, "code": "NOK"},
            "invoiceNumber": "", "row": row, "externalRef": "", "systemGenerated": false,
            "vatType": {"id": 0}
        })
    };
    let mut credit = base(
        60007,
        json!({"id": 70001500, "number": 1500, "name": "Kundefordringer"}),
        -12500.0,
        1,
    );
    credit["invoiceNumber"] = json!("10023");
    credit["customer"] = json!({"id": 40001});
    credit["closeGroup"] = json!({"id": 90002});
    postings.push(credit);
    postings.push(base(
        60008,
        json!({"id": 70007830, "number": 7830, "name": "Konstaterte tap på fordringer"}),
        12500.0,
        2,
    ));
    col["vouchers"].as_array_mut().unwrap().push(json!({
        "id": 50004, "version": 0, "date": "2026-09-30", "number": 4, "tempNumber": 0,
        "year": 2026, "description": "Tap på fordring, faktura 10023",
        "postings": [{"id": 60007}, {"id": 60008}], "externalVoucherNumber": "",
        "numberAsString": "4-2026", "displayName": "4-2026 Tap på fordring, faktura 10023"
    }));
    tripletex_sandbox::Fixture::from_json(&v.to_string()).expect("the changed fixture loads")
}

async fn start() -> LocalStack {
    let stage = format!("c{}", std::process::id() % 100_000);
    let mut parameters = BTreeMap::new();
    parameters.insert("Stage".to_string(), stage.clone());
    let opts = StackOptions {
        stack_name: format!("inndrive-{stage}"),
        parameters,
        fixture: Some(fixture_with_write_off()),
        ..StackOptions::default()
    };
    tokio::time::timeout(Duration::from_secs(120), inndrive_local::start(opts))
        .await
        .expect("the local stack starts within 120 s")
        .expect("the local stack starts")
}

fn queue_url(stack: &LocalStack, logical_id: &str) -> String {
    stack.resources.0[logical_id].ref_value.clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sandbox_write_off_becomes_an_open_case_marked_written_off() {
    let stack = start().await;
    let api = Api::new(&stack, "org_regnskap_tap");

    let r = api
        .post(
            "/v1/tripletex-keys",
            &json!({"label": "Regnskapskontoret", "employeeToken": demo::ACCOUNTANT_KEY, "accountantKey": true}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.raw);
    let key = r.body["id"].as_str().unwrap().to_string();
    let r = api
        .post("/v1/accounts", &json!({"name": "Fjordkraft Rørlegger AS"}))
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.raw);
    let account = r.body["id"].as_str().unwrap().to_string();
    let r = api
        .put(
            &format!("/v1/accounts/{account}/integration"),
            &json!({
                "keyId": key, "clientCompanyId": 2001, "fetchFrom": "2026-01-01",
                "daysPastDue": 14, "updateAddressesFromBrreg": false,
                "includeSaftImported": false, "includeNullVoucherType": false
            }),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.raw);

    // The initial sync runs, sends the ledger events, and the worker classifies them.
    let deadline = Instant::now() + Duration::from_secs(120);
    let cases = loop {
        let r = api
            .get(&format!("/v1/accounts/{account}/cases"))
            .await
            .unwrap();
        assert_eq!(r.status, 200, "{}", r.raw);
        if !r.body["cases"].as_array().unwrap().is_empty() {
            break r.body;
        }
        assert!(
            Instant::now() < deadline,
            "no case after 120 s; logs:\n{}",
            stack.logs().join("\n")
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let list = cases["cases"].as_array().unwrap();
    assert_eq!(
        list.len(),
        1,
        "only the written-off invoice is owed: {cases}"
    );
    let case = &list[0];
    assert_eq!(case["caseId"], "case_inv_80001");
    assert_eq!(case["state"], "open");
    assert_eq!(case["writtenOff"], true);
    assert_eq!(case["claimStatus"], "writtenOff");
    assert_eq!(case["customerId"], 40001);

    let id = case["id"].as_str().unwrap().to_string();
    let d = api.get(&format!("/v1/cases/{id}")).await.unwrap();
    assert_eq!(d.status, 200, "{}", d.raw);
    let claim = &d.body["claim"];
    assert_eq!(claim["amounts"]["principal"], "12500.00");
    assert_eq!(claim["amounts"]["writtenOff"], "12500.00");
    assert_eq!(claim["amounts"]["outstanding"], "12500.00", "still owed");
    assert_eq!(
        claim["amounts"]["ledgerBalance"], "0.00",
        "Tripletex shows it closed"
    );
    assert_eq!(claim["writeOffs"][0]["voucherId"], 50004);
    assert_eq!(claim["writeOffs"][0]["date"], "2026-09-30");
    assert_eq!(claim["writeOffs"][0]["markerMissing"], false);
    let credit = &claim["credits"][0];
    assert_eq!(credit["classification"]["kind"], "write_off");
    assert!(
        credit["classification"]["evidence"]
            .to_string()
            .contains("7830"),
        "{credit}"
    );

    // The filters see it; the paid invoice 10024 never became a case.
    let r = api
        .get(&format!(
            "/v1/accounts/{account}/cases?writtenOff=true&status=open"
        ))
        .await
        .unwrap();
    assert_eq!(r.body["cases"].as_array().unwrap().len(), 1, "{}", r.raw);

    // A note, and the daily job through the function's scheduler input: nothing more to open.
    let r = api
        .post(
            &format!("/v1/cases/{id}/notes"),
            &json!({"text": "Konkursbo meldt"}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.raw);
    let report = stack
        .invoke("LossClassificationFunction", &json!({"daily": true}))
        .await
        .expect("the daily job runs");
    assert_eq!(report["opened"], 0, "{report}");
    assert_eq!(report["failed"], 0, "{report}");

    // Nothing ended in the classification dead-letter queue; no settlement was handed over.
    let dlq = peek_messages(
        &stack,
        &queue_url(&stack, "ClassificationDeadLetterQueue"),
        10,
    )
    .await
    .unwrap();
    assert!(dlq.is_empty(), "{dlq:?}");
    let jobs = peek_messages(&stack, &queue_url(&stack, "VoucherPostingQueue"), 10)
        .await
        .unwrap();
    assert!(jobs.is_empty(), "a write-off settles nothing: {jobs:?}");

    // Another organization does not see the case.
    let other = Api::new(&stack, "org_andre");
    let r = other.get(&format!("/v1/cases/{id}")).await.unwrap();
    assert_eq!(r.status, 404, "{}", r.raw);
    stack.shutdown().await;
}
