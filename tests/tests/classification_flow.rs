//! End to end, issue 5: a write-off voucher in the Tripletex sandbox → the ledger sync (the real
//! `sync-worker` binary) → the classification queue → the real `loss-classification` binary →
//! an open case, marked written off, read through the real `cases-api` binary over HTTP.
//!
//! The sandbox runs the demo fixture with one change, as an accountant would book it: invoice
//! 10023 (12 500 kr, Vestland Bygg AS, due 16 May 2026) is written off on 30 Sep 2026 with a
//! manual voucher «Tap på fordring, faktura 10023» crediting 1500 and debiting 7830. Tripletex now
//! shows the invoice closed (amountOutstanding 0): the write-off happened before the first sync.
//! A second write-off, one WITHOUT a marker word, comes from the sandbox's scenario
//! (`Fixture::with_write_off_without_marker`, fixtures/write-off-without-marker.json): invoice 10025
//! (6 250 kr, Fjellhytter AS) written off on 14 Nov 2025 with «Korrigering reskontro Fjellhytter
//! AS», 7830 / 1500. Only the account (7830, which the sandbox resolves from the postings'
//! `{"id": ...}` references for `account(number,name)`) shows it is a loss: it must end as an open
//! case marked written off, flagged `marker_missing`.
//!
//! Needs the function binaries: `cargo build -p integration-setup -p sync-worker -p scheduled-sync
//! -p loss-classification -p cases-api`.

use std::time::{Duration, Instant};

use e2e::{demo, peek_messages, Api};
use inndrive_local::LocalStack;
use serde_json::{json, Value};

/// The demo fixture with invoice 10023 written off (marker word), plus the sandbox's write-off
/// without a marker word (invoice 10025).
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
            inv["postings"] = json!([{"id": 60001}, {"id": 60011}]);
        }
    }
    let postings = col["postings"].as_array_mut().unwrap();
    for p in postings.iter_mut() {
        if p["id"] == 60001 {
            p["closeGroup"] = json!({"id": 90003});
        }
    }
    // References as Tripletex stores them (`{"id": N}`): the sandbox resolves the account's
    // number and name when the sync asks for `account(number,name)`.
    let base = |id: i64, account: i64, amount: f64, row: i64| {
        json!({
            "id": id, "version": 0, "voucher": {"id": 50006}, "date": "2026-09-30",
            "description": "Tap på fordring, faktura 10023", "account": {"id": account},
            "amount": amount, "amountCurrency": amount, "amountGross": amount,
            "amountGrossCurrency": amount, "currency": {"id": 1, "code": "NOK"},
            "invoiceNumber": "", "row": row, "externalRef": "", "systemGenerated": false,
            "vatType": {"id": 0}
        })
    };
    let mut credit = base(60011, 70001500, -12500.0, 1);
    credit["invoiceNumber"] = json!("10023");
    credit["customer"] = json!({"id": 40001});
    credit["closeGroup"] = json!({"id": 90003});
    postings.push(credit);
    postings.push(base(60012, 70007830, 12500.0, 2));
    col["vouchers"].as_array_mut().unwrap().push(json!({
        "id": 50006, "version": 0, "date": "2026-09-30", "number": 4, "tempNumber": 0,
        "year": 2026, "description": "Tap på fordring, faktura 10023",
        "postings": [{"id": 60011}, {"id": 60012}], "externalVoucherNumber": "",
        "numberAsString": "4-2026", "displayName": "4-2026 Tap på fordring, faktura 10023"
    }));
    // The sandbox's scenario of a write-off without a marker word (invoice 10025, Fjellhytter AS).
    // Its loss line stores the account as a bare reference: the number 7830 reaches the sync only
    // through the sandbox's reference expansion.
    let scenario: Value =
        serde_json::from_str(tripletex_sandbox::WRITE_OFF_WITHOUT_MARKER_JSON).unwrap();
    let loss_line = scenario["collections"]["postings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == 60010)
        .expect("the scenario's 7830 line (posting 60010)");
    assert_eq!(loss_line["account"], json!({"id": 70007830}));
    assert_eq!(
        loss_line["description"],
        "Korrigering reskontro Fjellhytter AS"
    );
    tripletex_sandbox::Fixture::from_json(&v.to_string())
        .expect("the changed fixture loads")
        .with_write_off_without_marker()
        .expect("the write-off scenario adds to company 2001")
}

async fn start() -> LocalStack {
    e2e::start_stack_serving(fixture_with_write_off(), &[]).await
}

fn queue_url(stack: &LocalStack, logical_id: &str) -> String {
    stack.resources.0[logical_id].ref_value.clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sandbox_write_offs_with_and_without_a_marker_become_open_cases_marked_written_off() {
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
                "keyId": key, "clientCompanyId": 2001, "fetchFrom": "2025-01-01",
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
        if r.body["cases"].as_array().unwrap().len() >= 2 {
            break r.body;
        }
        assert!(
            Instant::now() < deadline,
            "not two cases after 120 s: {}; logs:\n{}",
            r.raw,
            stack.logs().join("\n")
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let list = cases["cases"].as_array().unwrap();
    assert_eq!(
        list.len(),
        2,
        "only the two written-off invoices are owed: {cases}"
    );
    let by_case = |case_id: &str| {
        list.iter()
            .find(|c| c["caseId"] == case_id)
            .unwrap_or_else(|| panic!("no {case_id}: {cases}"))
            .clone()
    };
    let case = by_case("case_inv_80001");
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
    assert_eq!(claim["writeOffs"][0]["voucherId"], 50006);
    assert_eq!(claim["writeOffs"][0]["date"], "2026-09-30");
    assert_eq!(claim["writeOffs"][0]["markerMissing"], false);
    let credit = &claim["credits"][0];
    assert_eq!(credit["classification"]["kind"], "write_off");
    assert_eq!(credit["classification"]["flags"], json!([]), "{credit}");
    assert!(
        credit["classification"]["evidence"]
            .to_string()
            .contains("7830"),
        "{credit}"
    );

    // The write-off without a marker word: recognised by its 7830 line alone, flagged.
    let quiet = by_case("case_inv_80003");
    assert_eq!(quiet["state"], "open", "{quiet}");
    assert_eq!(quiet["writtenOff"], true, "{quiet}");
    assert_eq!(quiet["claimStatus"], "writtenOff", "{quiet}");
    assert_eq!(quiet["customerId"], 40005);
    let quiet_id = quiet["id"].as_str().unwrap().to_string();
    let d = api.get(&format!("/v1/cases/{quiet_id}")).await.unwrap();
    assert_eq!(d.status, 200, "{}", d.raw);
    let claim = &d.body["claim"];
    assert_eq!(claim["amounts"]["principal"], "6250.00", "{claim}");
    assert_eq!(claim["amounts"]["writtenOff"], "6250.00", "{claim}");
    assert_eq!(claim["amounts"]["outstanding"], "6250.00", "{claim}");
    assert_eq!(claim["amounts"]["ledgerBalance"], "0.00", "{claim}");
    assert_eq!(claim["writeOffs"][0]["voucherId"], 50005, "{claim}");
    assert_eq!(claim["writeOffs"][0]["date"], "2025-11-14");
    assert_eq!(claim["writeOffs"][0]["markerMissing"], true, "{claim}");
    let credit = &claim["credits"][0];
    assert_eq!(credit["classification"]["kind"], "write_off", "{credit}");
    assert_eq!(
        credit["classification"]["flags"],
        json!(["marker_missing"]),
        "{credit}"
    );
    let evidence = credit["classification"]["evidence"].to_string();
    assert!(evidence.contains("7830"), "{credit}");

    // The filters see it; the paid invoice 10024 never became a case.
    let r = api
        .get(&format!(
            "/v1/accounts/{account}/cases?writtenOff=true&status=open"
        ))
        .await
        .unwrap();
    assert_eq!(r.body["cases"].as_array().unwrap().len(), 2, "{}", r.raw);

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
