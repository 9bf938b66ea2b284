//! What the fault, crash and redelivery runs share: one generated client company (fixed seed), an
//! organization that connects it and syncs it as a user would, and its end state as the API shows
//! it (the ledger with its skipped items, the cases, each case with its claim and timeline),
//! normalized so that two organizations' views of the same company compare equal, and hashed.
//!
//! Each run connects the same company for a second organization under its fault and compares the
//! hash with a run on a good day.

use std::time::{Duration, Instant};

use chrono::{NaiveDate, Utc};
use inndrive_local::LocalStack;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tripletex_sandbox::{Fixture, GenSpec};

use crate::{all_pages, connect_client, peek_messages, Api, Tripletex};

/// The generated client company: its id, seed and size. Fixed, so every run's end state can be
/// compared with every other's.
pub const CLIENT: i64 = 2001;
pub const COMPANY_SEED: u64 = 1302;
pub const POSTINGS: usize = 1000;

/// The seed of the faults themselves (which requests fail, where a process is killed, the order
/// of redeliveries): `INNDRIVE_FAULT_SEED` when set (`./dev soak` sets a random one), else the
/// test's own fixed seed.
pub fn fault_seed(fixed: u64) -> u64 {
    match std::env::var("INNDRIVE_FAULT_SEED") {
        Ok(s) if !s.trim().is_empty() => s
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("INNDRIVE_FAULT_SEED={s:?} is not a number")),
        _ => fixed,
    }
}

pub fn today() -> NaiveDate {
    shared::services::cases::norwegian_date(Utc::now())
}

/// The demo fixture with the generated company as client 2001.
pub fn company_fixture() -> Fixture {
    Fixture::demo()
        .with_generated_company(
            CLIENT,
            GenSpec::with_postings(COMPANY_SEED, POSTINGS).today(today()),
        )
        .expect("company 2001 exists")
}

/// Connects the client company for `api`'s organization (repeating a setup call Tripletex failed,
/// as a user would) and returns its account id.
pub async fn connect(api: &Api) -> String {
    let (_, account) = connect_client(
        api,
        Tripletex::Faulty,
        "Fjordkraft Rørlegger AS",
        CLIENT,
        json!({
            "fetchFrom": (today() - chrono::Duration::days(3 * 365)).to_string(),
            "daysPastDue": 14, "updateAddressesFromBrreg": false,
            "includeSaftImported": true, "includeNullVoucherType": false
        }),
    )
    .await;
    account
}

/// Asks for a re-sync (202).
pub async fn resync(api: &Api, account: &str) {
    let r = api
        .post(
            &format!("/v1/accounts/{account}/integration/sync"),
            &json!({}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 202, "{}", r.raw);
}

/// Waits until a sync that started after `after` (or any, for `None`) completed; returns when it
/// started.
pub async fn synced(api: &Api, stack: &LocalStack, account: &str, after: Option<&str>) -> String {
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
pub fn normalized(v: &Value, account: &str) -> Value {
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
pub async fn view(api: &Api, account: &str) -> Value {
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

/// The work queues of the stack (their messages are the pipeline's work in progress).
const WORK_QUEUES: [&str; 4] = [
    "SyncQueue",
    "ClassificationQueue",
    "VoucherPostingQueue",
    "DunningQueue",
];

/// Waits until no work queue holds a message, visible or in flight, three looks in a row (the
/// pipeline has come to rest: a function deletes a message only after handling it).
pub async fn at_rest(stack: &LocalStack) {
    use aws_sdk_sqs::types::QueueAttributeName as A;
    let sqs = aws_sdk_sqs::Client::new(&stack.sdk_config().await);
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut quiet = 0;
    while quiet < 3 {
        let mut busy = 0u64;
        for q in WORK_QUEUES {
            let Some(url) = stack.resources.ref_value(q) else {
                continue;
            };
            let attrs = sqs
                .get_queue_attributes()
                .queue_url(url)
                .attribute_names(A::ApproximateNumberOfMessages)
                .attribute_names(A::ApproximateNumberOfMessagesNotVisible)
                .attribute_names(A::ApproximateNumberOfMessagesDelayed)
                .send()
                .await
                .expect("GetQueueAttributes in moto");
            for (_, v) in attrs.attributes().into_iter().flatten() {
                busy += v.parse::<u64>().unwrap_or(1);
            }
        }
        quiet = if busy == 0 { quiet + 1 } else { 0 };
        assert!(
            Instant::now() < deadline,
            "the queues do not come to rest ({busy} messages)"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// The view once the pipeline (the classification worker, the case job) has come to rest.
pub async fn settled_view(stack: &LocalStack, api: &Api, account: &str) -> Value {
    at_rest(stack).await;
    view(api, account).await
}

/// The end state's hash (SHA-256 of the view's JSON text, hex).
pub fn sha256(v: &Value) -> String {
    Sha256::digest(v.to_string().as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The first place where two views differ (for the failure message).
pub fn first_difference(a: &Value, b: &Value) -> String {
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

/// Asserts that `actual` is the good day's end state.
pub fn assert_same_end_state(expected: &Value, actual: &Value, what: &str) {
    assert!(
        actual == expected,
        "{what} differs from the good day: {}",
        first_difference(expected, actual)
    );
}

/// Timeline entries that occur twice in one case (an event applied twice): "case: entry".
pub fn duplicate_timeline_entries(view: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for case in view["details"].as_array().into_iter().flatten() {
        for timeline in [&case["timeline"], &case["claim"]["timeline"]] {
            let mut seen = std::collections::BTreeSet::new();
            for entry in timeline.as_array().into_iter().flatten() {
                let text = entry.to_string();
                if !seen.insert(text.clone()) {
                    out.push(format!("{}: {text}", case["id"]));
                }
            }
        }
    }
    out
}

/// How many timeline entries the view's cases and their claims hold in all.
pub fn timeline_entries(view: &Value) -> usize {
    view["details"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            c["timeline"].as_array().map_or(0, Vec::len)
                + c["claim"]["timeline"].as_array().map_or(0, Vec::len)
        })
        .sum()
}

/// A number field of the sync worker's "sync completed" lines, summed over the runs.
pub fn reported(logs: &[String], field: &str) -> u64 {
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
pub fn retries_logged(logs: &[String]) -> u64 {
    logs.iter()
        .filter(|l| l.starts_with("[SyncWorkerFunction]"))
        // "Tripletex server error; retrying", "Tripletex transport error; retrying".
        .filter(|l| l.contains("Tripletex 429; waiting") || l.contains("error; retrying"))
        .count() as u64
}

/// Asserts that none of the dead-letter queues holds a message.
pub async fn assert_dead_letter_queues_empty(stack: &LocalStack) {
    for dlq in [
        "SyncDeadLetterQueue",
        "ClassificationDeadLetterQueue",
        "VoucherPostingDeadLetterQueue",
        "DunningDeadLetterQueue",
    ] {
        let Some(url) = stack.resources.ref_value(dlq) else {
            continue;
        };
        let left = peek_messages(stack, url, 10).await.unwrap();
        assert!(left.is_empty(), "{dlq} holds {} messages", left.len());
    }
}

/// Sets the organization's contact address, which the ready mail and the daily digest go to (no
/// endpoint writes it).
pub async fn set_contact_email(stack: &LocalStack, org: &str, email: &str) {
    use aws_sdk_dynamodb::types::AttributeValue;
    use shared::adapters::store::keys::{org_pk, PROFILE_SK};
    let org = shared::domain::setup::OrgId::parse(org).expect("a valid organization id");
    let table = stack.resources.ref_value("Table").expect("the table");
    aws_sdk_dynamodb::Client::new(&stack.sdk_config().await)
        .put_item()
        .table_name(table)
        .item("PK", AttributeValue::S(org_pk(&org)))
        .item("SK", AttributeValue::S(PROFILE_SK.into()))
        .item("contactEmail", AttributeValue::S(email.into()))
        .send()
        .await
        .expect("PutItem in moto");
}

/// Runs the daily case job as its schedule does, repeated as EventBridge Scheduler repeats a
/// failed invocation (up to 3 retries). Returns the job's report and the failed attempts.
pub async fn daily_case_job(stack: &LocalStack) -> (Value, u32) {
    let mut failed = 0;
    loop {
        match stack
            .invoke_schedule("LossClassificationFunction", "DailyCases")
            .await
        {
            Ok(report) => return (report, failed),
            Err(e) if failed < 3 => {
                eprintln!("the daily case job failed ({e}); the scheduler retries it");
                failed += 1;
            }
            Err(e) => panic!("the daily case job failed four times: {e}"),
        }
    }
}
