//! What dunning's re-check reads: `GET /invoice?id=…` with Tripletex's semantics (a list of ids,
//! the required date window still applies) and a payment booked after a sync
//! (`SandboxHandle::register_payment`, `POST /_sandbox/invoices/pay`).

use serde_json::{json, Value};
use tripletex_sandbox::scenario::{base_company, fixture_with};
use tripletex_sandbox::{Faults, DEMO_ACCOUNTANT_KEY, DEMO_CONSUMER_TOKEN, DEMO_FULL_CLIENT_ID};

async fn session(base: &str) -> String {
    let b: Value = reqwest::Client::new()
        .post(format!("{base}/token/session/:create"))
        .json(&json!({"consumerToken": DEMO_CONSUMER_TOKEN, "employeeToken": DEMO_ACCOUNTANT_KEY, "expirationDate": "2099-01-01"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    b["value"]["token"].as_str().unwrap().to_string()
}

async fn get(base: &str, token: &str, path: &str) -> (u16, Value) {
    let r = reqwest::Client::new()
        .get(format!("{base}{path}"))
        .basic_auth(DEMO_FULL_CLIENT_ID.to_string(), Some(token))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

fn ids(v: &Value) -> Vec<i64> {
    v["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["id"].as_i64().unwrap())
        .collect()
}

#[tokio::test]
async fn invoices_by_id_keep_the_date_window_and_a_payment_shows_at_once() {
    let sb =
        tripletex_sandbox::start_in_thread(fixture_with(&base_company()), Faults::none()).unwrap();
    let base = sb.base_url.clone();
    let token = session(&base).await;
    let fields = "fields=id,version,amountOutstanding,isCredited,kid";

    let (status, body) = get(
        &base,
        &token,
        &format!("/invoice?id=80001,80003,99999&invoiceDateFrom=2026-01-01&invoiceDateTo=2027-01-01&{fields}"),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        ids(&body),
        vec![80001, 80003],
        "unknown ids are simply absent"
    );
    assert_eq!(body["values"][0]["amountOutstanding"], json!(12500.0));
    assert_eq!(body["values"][0]["version"], 1);

    // The window still applies: 80003 is dated 2026-03-01.
    let (_, body) = get(
        &base,
        &token,
        &format!(
            "/invoice?id=80001,80003&invoiceDateFrom=2026-04-01&invoiceDateTo=2027-01-01&{fields}"
        ),
    )
    .await;
    assert_eq!(ids(&body), vec![80001]);
    // And is required, as in Tripletex.
    let (status, _) = get(&base, &token, "/invoice?id=80001").await;
    assert_eq!(status, 422);

    // Paid in full after the sync: nothing outstanding, a new version, the ledger line closed.
    let voucher = sb
        .register_payment(
            DEMO_FULL_CLIENT_ID,
            80001,
            "2026-10-01".parse().unwrap(),
            12_500.0,
        )
        .expect("the invoice exists");
    let (_, body) = get(
        &base,
        &token,
        &format!("/invoice?id=80001&invoiceDateFrom=2026-01-01&invoiceDateTo=2027-01-01&{fields}"),
    )
    .await;
    assert_eq!(body["values"][0]["amountOutstanding"], json!(0.0));
    assert_eq!(body["values"][0]["version"], 2);
    let (_, open) = get(
        &base,
        &token,
        "/ledger/posting/openPost?date=2026-10-02&customerId=40001&fields=id,closeGroup(id)",
    )
    .await;
    assert!(
        !ids(&open).contains(&60001),
        "the invoice's ledger line is closed: {open}"
    );
    let (_, postings) = get(
        &base,
        &token,
        "/ledger/posting?dateFrom=2026-10-01&dateTo=2026-10-02&customerId=40001&fields=id,amount,voucher(id),invoiceNumber",
    )
    .await;
    let credit = &postings["values"][0];
    assert_eq!(credit["amount"], json!(-12500.0));
    assert_eq!(credit["voucher"]["id"], voucher);
    assert_eq!(credit["invoiceNumber"], "10023");

    // The admin route does the same for a part payment.
    let r: Value = reqwest::Client::new()
        .post(format!("{}/invoices/pay", sb.admin_url()))
        .json(&json!({"companyId": DEMO_FULL_CLIENT_ID, "invoiceId": 80002, "date": "2026-10-01", "amount": 1.0}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(r["voucherId"].is_i64(), "{r}");
    assert!(sb
        .register_payment(
            DEMO_FULL_CLIENT_ID,
            424242,
            "2026-10-01".parse().unwrap(),
            1.0
        )
        .is_none());
}
