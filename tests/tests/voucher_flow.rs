//! End to end, voucher posting: an invoice of 10 000 kr in the Tripletex sandbox goes overdue →
//! the sync (the real `sync-worker` binary) and the real `loss-classification` binary open its
//! case → a purring demands a fee and forsinkelsesrente (recorded on the claim as the dunning
//! records a sent notice: a `ChargesDemanded` event, the amounts from the rulebook) → the debtor
//! pays principal + interest + fee by KID in the sandbox → the next sync classifies the payment,
//! the claim closes `closedPaid` and the settlement goes to the real `voucher-posting` binary →
//! exactly one voucher in the sandbox, on the receivables, interest income and fee income
//! accounts, closed together with the over-settling payment; read back through the real
//! `cases-api` binary (settlements list, case timeline). The sync after that changes nothing: the
//! income voucher is not taken for a payment, and a redelivered job books nothing more.
//!
//! Each exactly-once case is also tested one level down, against moto and the sandbox with the
//! posting service itself (`functions/voucher-posting/tests/worker.rs`): a redelivered job
//! (`one_voucher_on_the_right_accounts_closed_with_the_payment_and_a_redelivery_changes_nothing`),
//! a crash after the POST (`a_crash_after_the_post_ends_with_one_voucher`) and two workers at
//! once (`two_workers_at_once_end_with_one_voucher`), each counting the vouchers Tripletex holds.
//!
//! Dates are relative to today (Oslo): the invoice fell due 60 days ago, the purring went 30 days
//! ago, the payment came 5 days ago.
//!
//! Needs the function binaries: `cargo build -p integration-setup -p sync-worker -p scheduled-sync
//! -p loss-classification -p cases-api -p voucher-posting`.

use std::time::{Duration, Instant};

use chrono::{Days, NaiveDate, Utc};
use e2e::{demo, peek_messages, Api};
use inndrive_local::LocalStack;
use serde_json::{json, Value};

use shared::adapters::queue::{PostingMessage, VoucherPostingQueue};
use shared::adapters::store::DynamoStore;
use shared::domain::claim::{ChargesDemanded, ClaimEvent, ClaimEventKind, ClaimId, EventKey};
use shared::domain::collection::rulebook::{fee_amount, Rulebook};
use shared::domain::setup::{AccountId, OrgId};
use shared::domain::Money;
use tripletex_sandbox::scenario::{
    invoice, kid_payment, posting, voucher, voucher_company, Vt, AR, INTEREST_INCOME, OTHER_INCOME,
    REVENUE,
};

const ORG: &str = "org_voucher_flow";
const PRINCIPAL: i64 = 10_000;

fn oslo_today() -> NaiveDate {
    shared::services::cases::norwegian_date(Utc::now())
}

fn ago(days: u64) -> NaiveDate {
    oslo_today() - Days::new(days)
}

/// The scenario company with one invoice: 10023, 10 000 kr to Vestland Bygg AS (40001), issued
/// 74 days ago and due 60 days ago; the chart has 3900 (fees), 8050 (interest) and 7820.
fn fixture() -> tripletex_sandbox::Fixture {
    let (issued, due) = (ago(74).to_string(), ago(60).to_string());
    let mut c = voucher_company();
    let amount = PRINCIPAL as f64;
    c["invoices"] = json!([invoice(
        80001, 10023, 40001, &issued, &due, amount, amount, 50001
    )]);
    c["postings"] = json!([
        posting(
            60001,
            50001,
            Vt::Invoice,
            &issued,
            AR,
            amount,
            Some(40001),
            "10023",
            Some(&due),
            None
        ),
        posting(
            60002,
            50001,
            Vt::Invoice,
            &issued,
            REVENUE,
            -amount,
            None,
            "",
            None,
            None
        ),
    ]);
    c["vouchers"] = json!([voucher(
        50001,
        &issued,
        "Faktura 10023",
        Vt::Invoice,
        &[60001, 60002]
    )]);
    tripletex_sandbox::scenario::fixture_with(&c)
}

/// What the purring demanded, as the dunning computes it: the forsinkelsesrente on the principal
/// from the due date through the day the letter was sent, and the purregebyr (the fee fraction of
/// the inkassosats, rounded by the rule in force).
fn purring_charges(due: NaiveDate, sent: NaiveDate) -> ChargesDemanded {
    let book = Rulebook::norway();
    let interest = book
        .interest_total(Money::from_kroner(PRINCIPAL), due, sent)
        .expect("interest")
        .total;
    let (sats, _) = book.inkassosats_on(sent).expect("inkassosats");
    let (fractions, _) = book.fee_fractions_for_due(due).expect("fee fractions");
    let (rounding, _) = book.fee_rounding_on(sent).expect("fee rounding");
    ChargesDemanded {
        reference: "ltr_purring_1".into(),
        date: sent,
        interest,
        fees: fee_amount(sats, fractions.fee, rounding),
    }
}

async fn start() -> LocalStack {
    e2e::start_stack_serving(fixture(), &[]).await
}

fn resource(stack: &LocalStack, logical_id: &str) -> String {
    stack
        .resources
        .ref_value(logical_id)
        .unwrap_or_else(|| panic!("template.yaml has {logical_id}"))
        .to_string()
}

/// Polls `path` until `done` holds (120 s), printing the function logs otherwise.
async fn wait_until(
    api: &Api,
    stack: &LocalStack,
    path: &str,
    what: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let r = api.get(path).await.unwrap();
        assert_eq!(r.status, 200, "{path}: {}", r.raw);
        if done(&r.body) {
            return r.body;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: not after 120 s; {path} = {}\nlogs:\n{}",
            r.raw,
            stack.logs().join("\n")
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Asks for a sync and waits until one that started after the request has completed.
async fn sync_now(api: &Api, stack: &LocalStack, account: &str) -> Value {
    let requested = Utc::now();
    let r = api
        .post(
            &format!("/v1/accounts/{account}/integration/sync"),
            &json!({}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 202, "{}", r.raw);
    let status = format!("/v1/accounts/{account}/integration/status");
    wait_until(api, stack, &status, "the requested sync", |s| {
        s["pendingSync"].is_null()
            && s["lastSync"]["lastCompletedStartedAt"]
                .as_str()
                .and_then(|t| t.parse::<chrono::DateTime<Utc>>().ok())
                .is_some_and(|t| t > requested)
    })
    .await
}

/// The vouchers of company 2001 that Inndrive booked (they carry an `externalVoucherNumber`).
fn ours(stack: &LocalStack) -> Vec<Value> {
    stack
        .sandbox()
        .expect("the stack runs the sandbox")
        .vouchers(2001)
        .into_iter()
        .filter(|v| {
            v["externalVoucherNumber"]
                .as_str()
                .is_some_and(|e| !e.is_empty())
        })
        .collect()
}

fn money(v: &Value) -> Money {
    v.as_str()
        .unwrap_or_else(|| panic!("a money string: {v}"))
        .parse()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paid_purring_books_its_interest_and_fee_once_and_the_next_sync_changes_nothing() {
    let stack = start().await;
    let sandbox = stack.sandbox().expect("the stack runs the sandbox");
    let api = Api::new(&stack, ORG);

    // ------------------------------------------------------------------ setup
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
    let integration = format!("/v1/accounts/{account}/integration");
    let body = |fee_account: u32| {
        json!({
            "keyId": key, "clientCompanyId": 2001, "fetchFrom": "2025-01-01",
            "daysPastDue": 14, "updateAddressesFromBrreg": false,
            "includeSaftImported": false, "includeNullVoucherType": false,
            "voucherPosting": {"feeIncomeAccount": fee_account}
        })
    };
    // 3901 is not in the client's chart: refused, naming the field (checked with Tripletex).
    let r = api.put(&integration, &body(3901)).await.unwrap();
    assert_eq!(r.status, 422, "{}", r.raw);
    assert_eq!(
        r.error_field(),
        Some("voucherPosting.feeIncomeAccount"),
        "{}",
        r.raw
    );
    let r = api.put(&integration, &body(3900)).await.unwrap();
    assert_eq!(r.status, 201, "{}", r.raw);
    assert_eq!(
        r.body["settings"]["voucherPosting"]["feeIncomeAccount"],
        3900
    );

    // ------------------------------------------------------------------ overdue: a case
    let cases = format!("/v1/accounts/{account}/cases");
    wait_until(&api, &stack, &cases, "the overdue invoice's case", |b| {
        b["cases"]
            .as_array()
            .is_some_and(|c| c.iter().any(|c| c["caseId"] == "case_inv_80001"))
    })
    .await;
    let case_path = format!("/v1/cases/{account}.case_inv_80001");
    let d = api.get(&case_path).await.unwrap();
    assert_eq!(d.status, 200, "{}", d.raw);
    assert_eq!(d.body["claim"]["status"], "open", "{}", d.raw);
    assert_eq!(d.body["claim"]["amounts"]["principal"], "10000.00");

    // ------------------------------------------------------------------ the purring's charges
    let charges = purring_charges(ago(60), ago(30));
    assert!(
        charges.interest > Money::ZERO && charges.fees > Money::ZERO,
        "{charges:?}"
    );
    let sdk = stack.sdk_config().await;
    let store = DynamoStore::new(
        aws_sdk_dynamodb::Client::new(&sdk),
        resource(&stack, "Table"),
    );
    let (org, acc) = (
        OrgId::parse(ORG).unwrap(),
        AccountId::parse(&account).unwrap(),
    );
    let claim_id = ClaimId::invoice(80001).unwrap();
    let mut rec = store
        .get_claim(&org, &acc, &claim_id)
        .await
        .unwrap()
        .expect("the claim");
    rec.state
        .apply(ClaimEvent::new(
            EventKey::new(&format!("charges:{}", charges.reference)).unwrap(),
            ClaimEventKind::ChargesDemanded(charges.clone()),
        ))
        .unwrap();
    assert_eq!(
        format!("{:?}", store.save_claim(&rec, None).await.unwrap()),
        "Saved"
    );

    // ------------------------------------------------------------------ the debtor pays
    let owed = Money::from_kroner(PRINCIPAL) + charges.interest + charges.fees;
    let income = charges.interest + charges.fees;
    let paid_on = ago(5);
    let owed_f: f64 = owed.to_string().parse().unwrap();
    sandbox
        .book_voucher(
            2001,
            &kid_payment(&paid_on.to_string(), 40001, "10023", owed_f),
        )
        .expect("the payment is booked");
    assert!(ours(&stack).is_empty());

    sync_now(&api, &stack, &account).await;
    let settlements = format!("/v1/accounts/{account}/settlements");
    let list = wait_until(&api, &stack, &settlements, "the posted settlement", |b| {
        b["settlements"]
            .as_array()
            .is_some_and(|s| s.iter().any(|s| s["status"] == "posted"))
    })
    .await;

    // ------------------------------------------------------------------ one voucher, right
    let vouchers = ours(&stack);
    assert_eq!(vouchers.len(), 1, "exactly one voucher: {vouchers:?}");
    let v = &vouchers[0];
    assert_eq!(
        v["description"],
        "Renter og gebyrer, faktura 10023 (Inndrive sak case_inv_80001)"
    );
    assert_eq!(v["date"], paid_on.to_string());
    let postings = sandbox.postings(2001);
    let lines: Vec<(i64, i64, Money, Value, Value)> = v["postings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| postings.iter().find(|p| p["id"] == r["id"]).unwrap())
        .map(|p| {
            (
                p["row"].as_i64().unwrap(),
                p["account"]["id"].as_i64().unwrap(),
                p["amountGross"].to_string().parse().unwrap(),
                p.get("customer").cloned().unwrap_or(Value::Null),
                p["invoiceNumber"].clone(),
            )
        })
        .collect();
    assert_eq!(
        lines,
        vec![
            (1, AR, income, json!({"id": 40001}), json!("10023")),
            (
                2,
                INTEREST_INCOME,
                Money::ZERO - charges.interest,
                Value::Null,
                json!("")
            ),
            (
                3,
                OTHER_INCOME,
                Money::ZERO - charges.fees,
                Value::Null,
                json!("")
            ),
        ]
    );
    // Closed together: nothing open on the customer's invoice.
    let open: Vec<&Value> = postings
        .iter()
        .filter(|p| p["invoiceNumber"] == "10023" && p["account"]["id"] == json!(AR))
        .filter(|p| p["closeGroup"].is_null())
        .collect();
    assert!(open.is_empty(), "{open:?}");

    // What the user sees: the settlement with its split and the voucher, the claim closed paid.
    let s = &list["settlements"][0];
    assert_eq!(list["settlements"].as_array().unwrap().len(), 1, "{list}");
    assert_eq!(s["id"], "inv_80001.1");
    assert_eq!(s["rule"], "principalFirst");
    assert_eq!(money(&s["split"]["interest"]), charges.interest, "{s}");
    assert_eq!(money(&s["split"]["fees"]), charges.fees);
    assert_eq!(
        money(&s["split"]["principal"]),
        Money::from_kroner(PRINCIPAL)
    );
    assert_eq!(s["voucher"]["id"], v["id"]);
    assert_eq!(s["voucher"]["closed"], true, "{s}");
    let d = api.get(&case_path).await.unwrap();
    assert_eq!(d.body["claim"]["status"], "closedPaid", "{}", d.raw);
    let types: Vec<String> = d.body["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"]["type"].as_str().unwrap().to_string())
        .collect();
    assert!(
        types.contains(&"settled".to_string()) && types.contains(&"voucherPosted".to_string()),
        "{types:?}"
    );
    let claim_before = d.body["claim"].clone();
    let timeline_before = d.body["timeline"].clone();

    // ------------------------------------------------------------------ the next sync
    sync_now(&api, &stack, &account).await;
    // A redelivered job (SQS at-least-once): the worker finds the record, books nothing.
    let rec = store
        .get_posting(&org, &acc, &claim_id, 1)
        .await
        .unwrap()
        .expect("the posting record");
    let queue = VoucherPostingQueue::new(
        aws_sdk_sqs::Client::new(&sdk),
        resource(&stack, "VoucherPostingQueue"),
    );
    queue
        .send(
            &PostingMessage::Settle(rec.job.clone()),
            Some(&format!("{}:redelivered", rec.key)),
        )
        .await
        .unwrap();
    // The sync's events are classified and the redelivered job is taken: both queues drain.
    let deadline = Instant::now() + Duration::from_secs(60);
    for queue in ["ClassificationQueue", "VoucherPostingQueue"] {
        while stack_queue_depth(&stack, queue).await > 0 {
            assert!(Instant::now() < deadline, "{queue} did not drain");
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }

    let d = api.get(&case_path).await.unwrap();
    assert_eq!(d.body["claim"], claim_before, "the claim is unchanged");
    assert_eq!(
        d.body["timeline"], timeline_before,
        "the timeline is unchanged"
    );
    let credits = claim_before["credits"].as_array().unwrap();
    assert_eq!(
        credits.len(),
        1,
        "only the payment is a credit: {credits:?}"
    );
    assert_eq!(credits[0]["classification"]["kind"], "payment");
    assert_eq!(ours(&stack).len(), 1, "still one voucher");
    let r = api.get(&settlements).await.unwrap();
    assert_eq!(r.body, list, "the settlement is unchanged");
    assert_eq!(
        sandbox.stats().requests_matching("POST /v2/ledger/voucher"),
        1,
        "posted once"
    );
    for dlq in [
        "VoucherPostingDeadLetterQueue",
        "ClassificationDeadLetterQueue",
    ] {
        let m = peek_messages(&stack, &resource(&stack, dlq), 10)
            .await
            .unwrap();
        assert!(m.is_empty(), "{dlq}: {m:?}");
    }

    // Another organization sees no settlements of this account.
    let other = Api::new(&stack, "org_andre");
    let r = other.get(&settlements).await.unwrap();
    assert_eq!(r.status, 404, "{}", r.raw);
    stack.shutdown().await;
}

/// Messages in a queue, visible or in flight.
async fn stack_queue_depth(stack: &LocalStack, logical_id: &str) -> u64 {
    let sdk = stack.sdk_config().await;
    let attrs = aws_sdk_sqs::Client::new(&sdk)
        .get_queue_attributes()
        .queue_url(resource(stack, logical_id))
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::All)
        .send()
        .await
        .unwrap();
    let n = |name: aws_sdk_sqs::types::QueueAttributeName| {
        attrs
            .attributes()
            .and_then(|a| a.get(&name))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    n(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
        + n(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
}
