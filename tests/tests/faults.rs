//! Tripletex's bad days, end to end: a first sync and a re-sync while a fifth of Tripletex's
//! answers are 429 without a reset header, 500, 503 or a body cut in half end in the same ledger,
//! claims and cases as a sync of the same company on a good day, with nothing in a dead-letter
//! queue and the retries reported in the sync's log line.
//!
//! One stack, one sandbox with the demo fixture and a generated client company (fixed seed). A
//! first organization connects the client while the sandbox behaves; a second organization
//! connects the same client with the faults on. What each sees through the API (the ledger with
//! its skipped items, the cases, each case with its claim) is compared after the ids and
//! timestamps that differ between two organizations are taken out, by SHA-256 of the whole.
//!
//! Needs every function binary (`cargo build --workspace --bins`).

use std::time::{Duration, Instant};

use chrono::{NaiveDate, Utc};
use e2e::{all_pages, demo, peek_messages, Api};
use inndrive_local::LocalStack;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tripletex_sandbox::{FaultKind, FaultRule, Faults, GenSpec};

const CLIENT: i64 = 2001;
/// The generated company's seed and size, and the faults' share of Tripletex's answers.
const SEED: u64 = 1302;
const POSTINGS: usize = 1000;
const FAULT_SHARE: f64 = 0.20;

fn today() -> NaiveDate {
    shared::services::cases::norwegian_date(Utc::now())
}

async fn start() -> LocalStack {
    let fixture = tripletex_sandbox::Fixture::demo()
        .with_generated_company(
            CLIENT,
            GenSpec::with_postings(SEED, POSTINGS).today(today()),
        )
        .expect("company 2001 exists");
    e2e::start_stack_serving(fixture, &[]).await
}

/// A fifth of the answers fail, split over the kinds Tripletex is seen to give.
fn bad_day() -> Faults {
    let share = FAULT_SHARE / 4.0;
    Faults {
        rules: vec![
            FaultRule::new(FaultKind::RateLimit {
                with_reset: false,
                reset_seconds: 1,
            })
            .fraction(share),
            FaultRule::new(FaultKind::ServerError { status: 500 }).fraction(share),
            FaultRule::new(FaultKind::ServerError { status: 503 }).fraction(share),
            FaultRule::new(FaultKind::Truncate).fraction(share),
        ],
        ..Faults::default()
    }
}

/// The call, repeated as a user would while the answer says Tripletex is unavailable (5xx; both
/// calls that reach Tripletex here are idempotent).
async fn as_a_user(api: &Api, method: &str, path: &str, body: &Value) -> e2e::Reply {
    for _ in 0..5 {
        let r = api.call(method, path, Some(body)).await.unwrap();
        if r.status < 500 {
            return r;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    panic!("{method} {path}: Tripletex unavailable five times over");
}

/// Connects the demo client for `api`'s organization and returns its account id.
async fn connect(api: &Api) -> String {
    let r = as_a_user(
        api,
        "POST",
        "/v1/tripletex-keys",
        &json!({"label": "Regnskapskontoret", "employeeToken": demo::ACCOUNTANT_KEY, "accountantKey": true}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.raw);
    let key = r.body["id"].as_str().unwrap().to_string();
    let r = api
        .post("/v1/accounts", &json!({"name": "Fjordkraft Rørlegger AS"}))
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.raw);
    let account = r.body["id"].as_str().unwrap().to_string();
    let r = as_a_user(
        api,
        "PUT",
        &format!("/v1/accounts/{account}/integration"),
        &json!({
                "keyId": key, "clientCompanyId": CLIENT,
                "fetchFrom": (today() - chrono::Duration::days(3 * 365)).to_string(),
                "daysPastDue": 14, "updateAddressesFromBrreg": false,
                "includeSaftImported": true, "includeNullVoucherType": false
        }),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.raw);
    account
}

/// Waits until a sync that started after `after` (or any, for `None`) completed; returns when.
async fn synced(api: &Api, stack: &LocalStack, account: &str, after: Option<&str>) -> String {
    let deadline = Instant::now() + Duration::from_secs(240);
    loop {
        let r = api
            .get(&format!("/v1/accounts/{account}/integration/status"))
            .await
            .unwrap();
        assert_eq!(r.status, 200, "{}", r.raw);
        let started = r.body["lastSync"]["lastCompletedStartedAt"].as_str();
        if r.body["status"] == "ready" && started.is_some_and(|s| after.is_none_or(|a| s > a)) {
            return started.unwrap().to_string();
        }
        assert!(
            r.body["status"] != "failed" && Instant::now() < deadline,
            "the sync did not complete: {}\nlogs:\n{}",
            r.raw,
            stack.logs().join("\n")
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Drops what differs between two organizations' views of the same company: timestamps (keys
/// ending in `At`, the timeline's `at`) and the organization's own ids.
fn normalized(v: &Value, account: &str) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, _)| !k.ends_with("At") && k.as_str() != "at")
                .map(|(k, v)| (k.clone(), normalized(v, account)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(|v| normalized(v, account)).collect()),
        Value::String(s) => Value::String(s.replace(account, "{account}")),
        other => other.clone(),
    }
}

/// What the organization sees of the company: the ledger with its skipped items, the cases, and
/// each case with its claim and timeline.
async fn view(api: &Api, account: &str) -> Value {
    let ledger = format!("/v1/accounts/{account}/ledger");
    let items = all_pages(api, &ledger, "items", 100).await;
    let skipped = all_pages(api, &format!("{ledger}?skipped=all"), "skipped", 100).await;
    let cases = all_pages(api, &format!("/v1/accounts/{account}/cases"), "cases", 100).await;
    let mut details = Vec::new();
    for c in &cases {
        let r = api
            .get(&format!("/v1/cases/{}", c["id"].as_str().unwrap()))
            .await
            .unwrap();
        assert_eq!(r.status, 200, "{}", r.raw);
        details.push(r.body);
    }
    normalized(
        &json!({"items": items, "skipped": skipped, "cases": cases, "details": details}),
        account,
    )
}

/// The view once the classification worker and the case job have come to rest.
async fn settled_view(api: &Api, account: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut last = view(api, account).await;
    loop {
        tokio::time::sleep(Duration::from_secs(2)).await;
        let now = view(api, account).await;
        if now == last {
            return now;
        }
        assert!(Instant::now() < deadline, "the view keeps changing");
        last = now;
    }
}

fn sha256(v: &Value) -> String {
    Sha256::digest(v.to_string().as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The first place where two views differ (for the failure message).
fn first_difference(a: &Value, b: &Value) -> String {
    let (a, b) = (
        serde_json::to_string_pretty(a).unwrap(),
        serde_json::to_string_pretty(b).unwrap(),
    );
    a.lines()
        .zip(b.lines())
        .enumerate()
        .find(|(_, (x, y))| x != y)
        .map(|(i, (x, y))| format!("line {i}: {x} ≠ {y}"))
        .unwrap_or_else(|| "one view is longer".into())
}

/// A number field of the sync worker's "sync completed" lines, summed over the runs.
fn reported(logs: &[String], field: &str) -> u64 {
    logs.iter()
        .filter(|l| l.starts_with("[SyncWorkerFunction]") && l.contains("sync completed"))
        .filter_map(|l| {
            let at = l.find(&format!("\"{field}\":"))?;
            l[at + field.len() + 3..]
                .split(|c: char| !c.is_ascii_digit())
                .next()?
                .parse::<u64>()
                .ok()
        })
        .sum()
}

/// The retries the sync worker's Tripletex client announced in its log, one line each.
fn retries_logged(logs: &[String]) -> u64 {
    logs.iter()
        .filter(|l| l.starts_with("[SyncWorkerFunction]"))
        .filter(|l| l.contains("Tripletex 429; waiting") || l.contains("error; retrying"))
        .count() as u64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_sync_and_a_re_sync_on_a_bad_day_end_as_on_a_good_day() {
    let stack = start().await;
    let sandbox = stack.sandbox().expect("the sandbox runs");

    // A good day.
    let good = Api::new(&stack, "org_good_day");
    let good_account = connect(&good).await;
    synced(&good, &stack, &good_account, None).await;
    let expected = settled_view(&good, &good_account).await;
    assert!(
        !expected["items"].as_array().unwrap().is_empty()
            && !expected["cases"].as_array().unwrap().is_empty(),
        "the company has a ledger and cases"
    );
    assert_eq!(
        reported(&stack.logs(), "tripletex_retries"),
        0,
        "no retries on a good day"
    );

    // A bad day: a fifth of the answers fail.
    sandbox.reset_stats();
    sandbox.set_faults(bad_day());
    let bad = Api::new(&stack, "org_bad_day");
    let bad_account = connect(&bad).await;
    let first = synced(&bad, &stack, &bad_account, None).await;
    let after_first = settled_view(&bad, &bad_account).await;
    assert!(
        after_first == expected,
        "the first sync on a bad day differs: {}",
        first_difference(&expected, &after_first)
    );

    // A re-sync on the bad day changes nothing.
    let r = bad
        .post(
            &format!("/v1/accounts/{bad_account}/integration/sync"),
            &json!({}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 202, "{}", r.raw);
    synced(&bad, &stack, &bad_account, Some(&first)).await;
    let after_resync = settled_view(&bad, &bad_account).await;
    assert!(
        after_resync == expected,
        "the re-sync on a bad day differs: {}",
        first_difference(&expected, &after_resync)
    );
    let stats = sandbox.stats();
    sandbox.set_faults(Faults::default());

    // The faults happened, the retries are reported, and nothing is in a dead-letter queue.
    let failed = stats.faults_injected;
    let logs = stack.logs();
    let retries = reported(&logs, "tripletex_retries");
    let reread = reported(&logs, "tripletex_reread_pages");
    assert!(failed > 0, "the sandbox injected faults: {stats:?}");
    assert!(
        retries + reread > 0,
        "the syncs met some of the {failed} faults and said so"
    );
    assert_eq!(
        retries,
        retries_logged(&logs),
        "the retries the syncs report are the retries their client made"
    );
    for dlq in ["SyncDeadLetterQueue", "ClassificationDeadLetterQueue"] {
        let url = stack.resources.ref_value(dlq).unwrap().to_string();
        let left = peek_messages(&stack, &url, 10).await.unwrap();
        assert!(left.is_empty(), "{dlq} holds {} messages", left.len());
    }
    eprintln!(
        "faults (seed {SEED}, {POSTINGS} postings, {:.0} % faults): {} requests, {failed} faults injected, \
         the syncs retried {retries} requests and read {reread} cut pages again; views equal (sha256 {})",
        FAULT_SHARE * 100.0,
        stats.total_requests,
        sha256(&expected)
    );
    stack.shutdown().await;
}
