//! Helpers for the end-to-end tests: a local stack per test (moto provisioned from `template.yaml`,
//! the Tripletex sandbox, the runner with the real function binaries), and a small HTTP client that
//! talks to the API as a frontend does.
//!
//! Each test starts its own stack with a unique stage, so its table, queues and secrets are its own
//! even when tests share one moto server (`MOTO_ENDPOINT`, set by `./dev test`).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use anyhow::{Context, Result};
pub use inndrive_local::client::{Api, Reply};
use inndrive_local::{LocalStack, StackOptions};
use serde_json::Value;

/// The Tripletex tokens of the sandbox's demo fixture (`infra/tripletex-sandbox/fixtures/demo.json`).
pub mod demo {
    pub use tripletex_sandbox::{
        DEMO_ACCOUNTANT_KEY as ACCOUNTANT_KEY, DEMO_COMPANY_KEY as COMPANY_KEY,
        DEMO_CONSUMER_TOKEN as CONSUMER_TOKEN, DEMO_DELETED_KEY as DELETED_KEY,
    };
    pub const ALL_TOKENS: [&str; 4] = [ACCOUNTANT_KEY, COMPANY_KEY, DELETED_KEY, CONSUMER_TOKEN];
}

/// A company of the demo fixture, by name.
pub fn fixture_company_id(name: &str) -> i64 {
    let path = inndrive_local::repo_root().join("infra/tripletex-sandbox/fixtures/demo.json");
    let text = std::fs::read_to_string(&path).expect("the demo fixture is readable");
    let v: Value = serde_json::from_str(&text).expect("the demo fixture is JSON");
    v["companies"]
        .as_array()
        .expect("companies")
        .iter()
        .find(|c| c["name"] == name)
        .and_then(|c| c["id"].as_i64())
        .unwrap_or_else(|| panic!("no company {name} in the demo fixture"))
}

static STACKS: AtomicU32 = AtomicU32::new(0);

/// Starts a stack whose resources are this test's own (stage `e<n>p<pid>`), running every function
/// of the template.
pub async fn start_stack() -> Result<LocalStack> {
    start_stack_with(None).await
}

/// As [`start_stack`], running only the functions named (logical ids), e.g. to inspect a queue that
/// another function would otherwise consume.
pub async fn start_stack_with(functions: Option<&[&str]>) -> Result<LocalStack> {
    let n = STACKS.fetch_add(1, Ordering::SeqCst);
    let stage = format!("e{n}p{}", std::process::id() % 100_000);
    let mut parameters = BTreeMap::new();
    parameters.insert("Stage".to_string(), stage.clone());
    let opts = StackOptions {
        stack_name: format!("inndrive-{stage}"),
        parameters,
        functions: functions.map(|f| f.iter().map(|s| s.to_string()).collect()),
        ..StackOptions::default()
    };
    tokio::time::timeout(Duration::from_secs(120), inndrive_local::start(opts))
        .await
        .context("the local stack did not start within 120 s")?
}

/// This stack's secret-name prefix, `inndrive/<stage>/` (derived from the consumer-token secret the
/// template creates), so that scans see only this test's secrets on a shared moto.
pub fn stack_secret_prefix(stack: &LocalStack) -> String {
    let consumer = stack
        .resources
        .ref_value("TripletexConsumerTokenSecret")
        .expect("the template has the consumer-token secret");
    let name = consumer.rsplit(":secret:").next().unwrap_or(consumer);
    let stage_prefix = name.split('/').take(2).collect::<Vec<_>>().join("/");
    format!("{stage_prefix}/")
}

/// Every item of a table, as JSON text (for scans).
pub async fn table_dump(stack: &LocalStack, table: &str) -> Result<Vec<String>> {
    let cfg = stack.sdk_config().await;
    let ddb = aws_sdk_dynamodb::Client::new(&cfg);
    let mut out = Vec::new();
    let mut start = None;
    loop {
        let resp = ddb
            .scan()
            .table_name(table)
            .set_exclusive_start_key(start)
            .send()
            .await
            .context("scanning the table")?;
        for item in resp.items() {
            out.push(format!("{item:?}"));
        }
        start = resp.last_evaluated_key().cloned();
        if start.is_none() {
            break;
        }
    }
    Ok(out)
}

/// Names, descriptions and tags of every secret under `prefix` (their values excluded).
pub async fn secrets_metadata(stack: &LocalStack, prefix: &str) -> Result<Vec<String>> {
    let cfg = stack.sdk_config().await;
    let sm = aws_sdk_secretsmanager::Client::new(&cfg);
    let mut out = Vec::new();
    let mut token = None;
    loop {
        let resp = sm
            .list_secrets()
            .set_next_token(token)
            .send()
            .await
            .context("listing secrets")?;
        for s in resp.secret_list() {
            if s.name().unwrap_or("").starts_with(prefix) {
                out.push(format!(
                    "{} | {} | {:?}",
                    s.name().unwrap_or(""),
                    s.description().unwrap_or(""),
                    s.tags()
                ));
            }
        }
        token = resp.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    Ok(out)
}

/// Drains up to `max` messages from a queue (with their attributes), deleting none.
pub async fn peek_messages(
    stack: &LocalStack,
    queue_url: &str,
    max: usize,
) -> Result<Vec<aws_sdk_sqs::types::Message>> {
    let cfg = stack.sdk_config().await;
    let sqs = aws_sdk_sqs::Client::new(&cfg);
    let mut out = Vec::new();
    for _ in 0..5 {
        let resp = sqs
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .visibility_timeout(60)
            .message_system_attribute_names(aws_sdk_sqs::types::MessageSystemAttributeName::All)
            .send()
            .await
            .context("receiving from the queue")?;
        let got = resp.messages().to_vec();
        if got.is_empty() {
            break;
        }
        out.extend(got);
        if out.len() >= max {
            break;
        }
    }
    Ok(out)
}
