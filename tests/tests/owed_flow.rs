//! End to end: the ledger never demands more than the claim. Tripletex's three views of one
//! invoice disagree, as they do after a manual write-off voucher nobody matched to the invoice.
//!
//! The sandbox runs the demo fixture with its scenario of such a write-off
//! (`Fixture::with_unmatched_write_off`, fixtures/unmatched-write-off.json): invoice 2003 (80004,
//! Havbruk Service AS, 4 200 kr, due 29 Jun 2026) written off on 15 Oct 2026 with «Tapsført
//! faktura 2003 Havbruk Service AS» (debit 7830, credit 1500 with the customer and the invoice
//! number). The two 1500 lines net to zero and are closed, so `openPost` no longer lists the
//! invoice; its `amountOutstanding` still says 4 200. Setup → the initial sync (the real
//! `sync-worker`) → the classification queue → the real `loss-classification` → the ledger
//! (`integration-setup`) and the case (`cases-api`), read over HTTP: 4 200 owed on both, never
//! 8 400; the ledger item flagged `sources_disagree` with both figures; the claim held for review
//! with the reason.
//!
//! Needs the function binaries: `cargo build -p integration-setup -p sync-worker -p scheduled-sync
//! -p loss-classification -p cases-api`.

use std::time::{Duration, Instant};

use e2e::{demo, Api};
use inndrive_local::LocalStack;
use serde_json::{json, Value};

async fn start() -> LocalStack {
    let fixture = tripletex_sandbox::Fixture::demo()
        .with_unmatched_write_off()
        .expect("the scenario adds to company 2001");
    e2e::start_stack_serving(fixture, &[]).await
}

fn money(v: &Value) -> shared::domain::Money {
    v.as_str()
        .unwrap_or_else(|| panic!("an amount is a string: {v}"))
        .parse()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unmatched_write_off_is_owed_once_on_the_ledger_and_on_the_claim_and_held_for_review() {
    let stack = start().await;
    let api = Api::new(&stack, "org_regnskap_owed");

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

    // The initial sync runs, sends the ledger events, and the worker opens the case of invoice
    // 2003 (overdue since July) and holds its claim for review.
    let deadline = Instant::now() + Duration::from_secs(120);
    let case = loop {
        let r = api
            .get(&format!("/v1/accounts/{account}/cases"))
            .await
            .unwrap();
        assert_eq!(r.status, 200, "{}", r.raw);
        let found = r.body["cases"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["caseId"] == "case_inv_80004" && c["needsReview"] == true)
            .cloned();
        if let Some(c) = found {
            break c;
        }
        assert!(
            Instant::now() < deadline,
            "no case for invoice 2003 held for review after 120 s: {}; logs:\n{}",
            r.raw,
            stack.logs().join("\n")
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert_eq!(case["state"], "open", "{case}");
    assert_eq!(case["claimStatus"], "writtenOff", "{case}");
    assert_eq!(case["writtenOff"], true, "{case}");
    assert_eq!(case["customerId"], 40002, "{case}");

    // The ledger: Tripletex's 4 200 shown as it is, the write-off counted apart, 4 200 owed.
    let r = api
        .get(&format!("/v1/accounts/{account}/ledger?limit=500"))
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.raw);
    let items = r.body["items"].as_array().unwrap().clone();
    let item = items
        .iter()
        .find(|i| i["id"] == "inv_80004")
        .unwrap_or_else(|| panic!("invoice 2003 is in the ledger: {}", r.raw))
        .clone();
    assert_eq!(item["invoiceNumber"], "2003", "{item}");
    assert_eq!(item["principal"], "4200.00", "{item}");
    assert_eq!(item["ledgerOutstanding"], "4200.00", "{item}");
    assert_eq!(item["writtenOff"], "4200.00", "{item}");
    assert_eq!(item["owed"], "4200.00", "never 8400: {item}");
    assert_eq!(item["creditBalance"], "0.00", "{item}");
    assert_eq!(item["status"], "written_off_candidate", "{item}");
    assert_eq!(item["overdue"], true, "{item}");
    assert_eq!(
        item["crossCheck"],
        json!({"tripletexOutstanding": "4200.00", "derivedBalance": "0.00"}),
        "{item}"
    );
    let flags = item["flags"].as_array().unwrap();
    assert!(
        flags.contains(&json!("sources_disagree")) && flags.contains(&json!("needs_review")),
        "{item}"
    );
    assert_eq!(item["credits"][0]["preliminaryKind"], "write_off", "{item}");
    // The status filter finds it where the derived view puts it.
    let r = api
        .get(&format!(
            "/v1/accounts/{account}/ledger?status=written_off_candidate"
        ))
        .await
        .unwrap();
    assert!(
        r.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["id"] == "inv_80004"),
        "{}",
        r.raw
    );

    // The claim: the same 4 200, the write-off tracked apart, held for review with the reason.
    let id = case["id"].as_str().unwrap().to_string();
    let d = api.get(&format!("/v1/cases/{id}")).await.unwrap();
    assert_eq!(d.status, 200, "{}", d.raw);
    assert_eq!(d.body["needsReview"], true, "{}", d.raw);
    let claim = &d.body["claim"];
    assert_eq!(claim["amounts"]["principal"], "4200.00", "{claim}");
    assert_eq!(claim["amounts"]["outstanding"], "4200.00", "{claim}");
    assert_eq!(
        claim["amounts"]["principalOutstanding"], "4200.00",
        "{claim}"
    );
    assert_eq!(claim["amounts"]["writtenOff"], "4200.00", "{claim}");
    assert_eq!(claim["amounts"]["ledgerBalance"], "0.00", "{claim}");
    assert_eq!(claim["writeOffs"][0]["voucherId"], 50008, "{claim}");
    assert_eq!(claim["writeOffs"][0]["date"], "2026-10-15", "{claim}");
    let reasons = claim["reviewReasons"].as_array().unwrap();
    assert_eq!(reasons.len(), 1, "{claim}");
    assert_eq!(reasons[0]["code"], "sources_disagree", "{claim}");
    assert_eq!(
        reasons[0]["crossCheck"],
        json!({"tripletexOutstanding": "4200.00", "derivedBalance": "0.00"}),
        "{claim}"
    );
    let message = reasons[0]["message"].as_str().unwrap();
    assert!(
        message.contains("4200.00") && message.contains("disagree"),
        "{message}"
    );
    assert_eq!(claim["problems"], json!([]), "{claim}");

    // The review filter holds it back for a person.
    let r = api
        .get(&format!("/v1/accounts/{account}/cases?needsReview=true"))
        .await
        .unwrap();
    let held: Vec<&str> = r.body["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["caseId"].as_str().unwrap())
        .collect();
    assert_eq!(held, vec!["case_inv_80004"], "{}", r.raw);

    // Across the whole ledger: nothing shows more owed than its claim.
    let r = api
        .get(&format!("/v1/accounts/{account}/cases"))
        .await
        .unwrap();
    for c in r.body["cases"].as_array().unwrap() {
        let claim_id = c["claimId"].as_str().unwrap();
        let d = api
            .get(&format!("/v1/cases/{}", c["id"].as_str().unwrap()))
            .await
            .unwrap();
        let outstanding = money(&d.body["claim"]["amounts"]["outstanding"]);
        let item = items
            .iter()
            .find(|i| i["id"] == claim_id)
            .unwrap_or_else(|| panic!("{claim_id} is in the ledger"));
        assert_eq!(money(&item["owed"]), outstanding, "{claim_id}: {item}");
        assert!(money(&item["owed"]) <= money(&item["principal"]), "{item}");
    }
    stack.shutdown().await;
}
