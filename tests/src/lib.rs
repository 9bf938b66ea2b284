//! Helpers for the end-to-end tests: a local stack per test (moto provisioned from `template.yaml`,
//! the Tripletex sandbox, the runner with the real function binaries), and a small HTTP client that
//! talks to the API as a frontend does.
//!
//! Each test starts its own stack with a unique stage, so its table, queues and secrets are its own
//! even when tests share one moto server (`MOTO_ENDPOINT`, set by `./dev test`).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
pub use inndrive_local::client::{Api, Reply};
use inndrive_local::{LocalStack, StackOptions};
use serde_json::{json, Value};

pub mod convergence;

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
    start_stack_on(None, functions, &[]).await
}

/// A stack of this test's own (stage `e<n>p<pid>`) whose sandbox serves `fixture` (none: the demo
/// fixture, as `StackOptions` has it), running the functions named (none: all), with extra
/// template parameters.
pub async fn start_stack_on(
    fixture: Option<tripletex_sandbox::Fixture>,
    functions: Option<&[&str]>,
    parameters: &[(&str, &str)],
) -> Result<LocalStack> {
    start_stack_from(stack_options(fixture, functions, parameters)).await
}

/// The options [`start_stack_on`] starts a stack with, for a test that changes more of them
/// (e.g. the functions' environment) before [`start_stack_from`].
pub fn stack_options(
    fixture: Option<tripletex_sandbox::Fixture>,
    functions: Option<&[&str]>,
    parameters: &[(&str, &str)],
) -> StackOptions {
    let n = STACKS.fetch_add(1, Ordering::SeqCst);
    let stage = format!("e{n}p{}", std::process::id() % 100_000);
    let mut params: BTreeMap<String, String> = parameters
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    params.insert("Stage".to_string(), stage.clone());
    let defaults = StackOptions::default();
    StackOptions {
        stack_name: format!("inndrive-{stage}"),
        parameters: params,
        functions: functions.map(|f| f.iter().map(|s| s.to_string()).collect()),
        fixture: fixture.or(defaults.fixture.clone()),
        ..defaults
    }
}

/// Starts a stack with these options (within 120 s).
pub async fn start_stack_from(opts: StackOptions) -> Result<LocalStack> {
    tokio::time::timeout(Duration::from_secs(120), inndrive_local::start(opts))
        .await
        .context("the local stack did not start within 120 s")?
}

/// [`start_stack_on`] for a test that cannot go on without its stack.
pub async fn start_stack_serving(
    fixture: tripletex_sandbox::Fixture,
    parameters: &[(&str, &str)],
) -> LocalStack {
    start_stack_on(Some(fixture), None, parameters)
        .await
        .expect("the local stack starts")
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

/// An item as JSON with its attributes in name order (nested maps too), so that two scans of an
/// unchanged table compare equal: the SDK's `HashMap` has no order of its own.
fn canonical(
    item: &std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>,
) -> Value {
    use aws_sdk_dynamodb::types::AttributeValue as A;
    fn value(v: &A) -> Value {
        match v {
            A::S(s) => serde_json::json!({ "S": s }),
            A::N(n) => serde_json::json!({ "N": n }),
            A::Bool(b) => serde_json::json!({ "BOOL": b }),
            A::Null(_) => serde_json::json!({ "NULL": true }),
            A::B(b) => serde_json::json!({ "B": format!("{:?}", b.as_ref()) }),
            A::L(l) => serde_json::json!({ "L": l.iter().map(value).collect::<Vec<_>>() }),
            A::M(m) => serde_json::json!({ "M": canonical(m) }),
            A::Ss(v) => serde_json::json!({ "SS": sorted(v.clone()) }),
            A::Ns(v) => serde_json::json!({ "NS": sorted(v.clone()) }),
            other => serde_json::json!({ "other": format!("{other:?}") }),
        }
    }
    fn sorted(mut v: Vec<String>) -> Vec<String> {
        v.sort();
        v
    }
    let ordered: BTreeMap<&String, Value> = item.iter().map(|(k, v)| (k, value(v))).collect();
    serde_json::to_value(ordered).unwrap_or(Value::Null)
}

/// Every item of a table, as JSON text with its attributes in name order (for scans and for
/// before/after comparisons).
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
            out.push(canonical(item).to_string());
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

/// Where a Tripletex token of the demo fixture appears after a run: every table item, the
/// secrets' metadata (names, descriptions, tags — not their values), every log line of the
/// functions and the runner, every SQS message body a function was handed, every response a
/// function gave, and every answer the `apis` read. Empty when nothing leaked; each hit names the
/// place and the token's fixture name, never the token.
pub async fn token_leaks(stack: &LocalStack, apis: &[&Api]) -> Result<Vec<String>> {
    use inndrive_local::runtime::Direction;
    let table = stack
        .resources
        .ref_value("Table")
        .context("the template has the table")?
        .to_string();
    let mut places: Vec<(String, String)> = Vec::new();
    for item in table_dump(stack, &table).await? {
        places.push(("table item".into(), item));
    }
    for s in secrets_metadata(stack, &stack_secret_prefix(stack)).await? {
        places.push(("secret metadata".into(), s));
    }
    for line in stack.logs() {
        places.push(("log line".into(), line));
    }
    for t in stack.traffic() {
        match t.direction {
            // Only the queue's messages: an API request may carry a token the user sends to
            // register a key, which is its purpose.
            Direction::Event if t.text.contains("\"aws:sqs\"") => {
                places.push((format!("SQS message to {}", t.function), t.text))
            }
            Direction::Event => {}
            Direction::Response => places.push((format!("response of {}", t.function), t.text)),
        }
    }
    for api in apis {
        for raw in api.seen.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            places.push(("API answer".into(), raw.clone()));
        }
    }
    let tokens = [
        ("the accountant key", demo::ACCOUNTANT_KEY),
        ("the company key", demo::COMPANY_KEY),
        ("the deleted company's key", demo::DELETED_KEY),
        ("the consumer token", demo::CONSUMER_TOKEN),
    ];
    let mut hits = Vec::new();
    for (place, text) in &places {
        for (name, token) in tokens {
            if text.contains(token) {
                hits.push(format!("{name} in a {place}"));
            }
        }
    }
    anyhow::ensure!(
        places.iter().any(|(p, _)| p == "table item")
            && places.iter().any(|(p, _)| p == "log line"),
        "nothing to scan: the table or the logs are empty"
    );
    Ok(hits)
}

/// How many places [`token_leaks`] would scan, by kind (for the test's report).
pub fn scanned_traffic(stack: &LocalStack) -> (usize, usize) {
    use inndrive_local::runtime::Direction;
    let t = stack.traffic();
    let sqs = t
        .iter()
        .filter(|t| t.direction == Direction::Event && t.text.contains("\"aws:sqs\""))
        .count();
    let responses = t
        .iter()
        .filter(|t| t.direction == Direction::Response)
        .count();
    (sqs, responses)
}

/// Every page of a listing (`list` is the array's name), following `nextCursor`.
pub async fn all_pages(api: &Api, path: &str, list: &str, limit: u32) -> Vec<Value> {
    let sep = if path.contains('?') { '&' } else { '?' };
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..1000 {
        let url = match &cursor {
            Some(c) => format!("{path}{sep}limit={limit}&cursor={c}"),
            None => format!("{path}{sep}limit={limit}"),
        };
        let r = api.get(&url).await.unwrap();
        assert_eq!(r.status, 200, "{url}: {}", r.raw);
        out.extend(r.body[list].as_array().unwrap().iter().cloned());
        match r.body["nextCursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => return out,
        }
    }
    panic!("{path}: more than 1000 pages");
}

/// An organization's connected world: a Tripletex key (the demo accountant key), an account, its
/// integration with the demo fixture's company `client`, synced until it has a case and a
/// notification.
pub struct World {
    pub today: chrono::NaiveDate,
    /// The account's dunning policy as `GET …/dunning-policy` answers it (the defaults).
    pub policy: Value,
    pub account: String,
    pub key: String,
    pub case: String,
    pub notification: String,
}

/// Connects `client` for the organization `a` acts for and waits (up to 180 s) until the sync has
/// opened a case and told the user. Panics when it does not: the test cannot go on.
pub async fn connected_world(stack: &LocalStack, a: &Api, client: i64) -> World {
    let (key, account) = connect_client(
        a,
        Tripletex::Answers,
        "A sin klient",
        client,
        json!({
            "fetchFrom": "2026-01-01", "daysPastDue": 14, "updateAddressesFromBrreg": false,
            "includeSaftImported": false, "includeNullVoucherType": false
        }),
    )
    .await;

    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let cases = a
            .get(&format!("/v1/accounts/{account}/cases"))
            .await
            .expect("the API answers");
        let notes = a
            .get(&format!("/v1/accounts/{account}/notifications"))
            .await
            .expect("the API answers");
        let case = cases.body["cases"]
            .as_array()
            .and_then(|c| c.first())
            .and_then(|c| c["id"].as_str());
        let notification = notes.body["notifications"]
            .as_array()
            .and_then(|n| n.first())
            .and_then(|n| n["id"].as_str());
        if let (Some(case), Some(notification)) = (case, notification) {
            let policy = a
                .get(&format!("/v1/accounts/{account}/dunning-policy"))
                .await
                .expect("the API answers");
            assert_eq!(policy.status, 200, "{}", policy.raw);
            return World {
                today: shared::services::cases::norwegian_date(chrono::Utc::now()),
                policy: policy.body["policy"].clone(),
                account,
                key,
                case: case.to_string(),
                notification: notification.to_string(),
            };
        }
        assert!(
            Instant::now() < deadline,
            "A's sync did not open cases and notify within 180 s: {} {}; logs:\n{}",
            cases.raw,
            notes.raw,
            stack.logs().join("\n")
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// How the setup calls meet Tripletex: answering (a 5xx fails the test), or failing now and then
/// under injected faults (the call is repeated as a user would, up to five times).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tripletex {
    Answers,
    Faulty,
}

/// The call; under [`Tripletex::Faulty`] repeated while the answer is a 5xx (the setup calls that
/// reach Tripletex are idempotent).
pub async fn setup_call(
    api: &Api,
    tripletex: Tripletex,
    method: &str,
    path: &str,
    body: &Value,
) -> Reply {
    let tries = match tripletex {
        Tripletex::Answers => 1,
        Tripletex::Faulty => 5,
    };
    let mut last = None;
    for _ in 0..tries {
        let r = api
            .call(method, path, Some(body))
            .await
            .expect("the API answers");
        if r.status < 500 {
            return r;
        }
        last = Some(r);
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let last = last.expect("one try at least");
    panic!(
        "{method} {path}: {} after {tries} tries: {}",
        last.status, last.raw
    )
}

/// Registers the demo accountant key and an account `name` for `api`'s organization and connects
/// the demo fixture's company `client` with `settings` (the integration's fields besides `keyId` and
/// `clientCompanyId`). Returns (key id, account id); the first sync starts by itself.
pub async fn connect_client(
    api: &Api,
    tripletex: Tripletex,
    name: &str,
    client: i64,
    settings: Value,
) -> (String, String) {
    let r = setup_call(
        api,
        tripletex,
        "POST",
        "/v1/tripletex-keys",
        &json!({"label": "Regnskapskontoret", "employeeToken": demo::ACCOUNTANT_KEY, "accountantKey": true}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.raw);
    let key = r.body["id"].as_str().expect("a key id").to_string();
    let r = setup_call(
        api,
        tripletex,
        "POST",
        "/v1/accounts",
        &json!({ "name": name }),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.raw);
    let account = r.body["id"].as_str().expect("an account id").to_string();
    let mut integration = settings;
    integration["keyId"] = json!(key);
    integration["clientCompanyId"] = json!(client);
    let r = setup_call(
        api,
        tripletex,
        "PUT",
        &format!("/v1/accounts/{account}/integration"),
        &integration,
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.raw);
    (key, account)
}
