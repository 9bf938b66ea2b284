//! Test harness: moto (local AWS) + the Tripletex sandbox + the real adapters and the function's
//! handler (the `integration_setup` crate).
//!
//! moto and the resources come from the `test-support` crate: `MOTO_ENDPOINT` if set (./dev test
//! sets it), otherwise a moto_server from a venv, stopped when the test process ends. Every test
//! gets template.yaml's table, sync queue and consumer-token secret under a stage of its own (so
//! its own secret prefix), and its own sandbox.

#![allow(dead_code)]

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use integration_setup::{handle, Services};
use lambda_http::{Body, Request, Response};
use serde_json::Value;
use shared::adapters::queue::SyncQueue;
use shared::adapters::secrets::Secrets;
use shared::adapters::store::DynamoStore;
use shared::services::ledger::LedgerService;
use shared::services::setup::{LazyTripletexGateway, SetupService};
use test_support::{drain_fifo, moto, Stack};
use tripletex_sandbox::{Faults, Fixture, SandboxHandle};

static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();

/// Every log line the code under test wrote (all tests of this binary), as text.
pub fn captured_logs() -> String {
    let buf = LOGS
        .get()
        .expect("logs are captured from the first World::new");
    String::from_utf8_lossy(&buf.lock().unwrap()).to_string()
}

#[derive(Clone)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn init_logs() {
    LOGS.get_or_init(|| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let writer = Capture(buf.clone());
        // Debug for everything we and the SDK write; the sandbox (the fake Tripletex) is not under test.
        let filter = tracing_subscriber::EnvFilter::new("debug,tripletex_sandbox=off");
        let _ = tracing_subscriber::fmt()
            .json()
            .with_env_filter(filter)
            .with_current_span(true)
            .with_span_list(true)
            .with_writer(move || writer.clone())
            .try_init();
        buf
    });
}

/// One test's world: its own table, queue, secrets and sandbox, and the service as main.rs builds it.
pub struct World {
    pub svc: Services,
    pub store: DynamoStore,
    pub ddb: aws_sdk_dynamodb::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub sm: aws_sdk_secretsmanager::Client,
    pub table: String,
    pub queue_url: String,
    pub secret_prefix: String,
    pub consumer_secret_id: String,
    pub sandbox: SandboxHandle,
    /// Every response body the test saw.
    pub responses: Mutex<Vec<String>>,
}

impl World {
    pub async fn new() -> World {
        init_logs();
        moto();
        let sdk = shared::adapters::aws::sdk_config().await;
        let ddb = aws_sdk_dynamodb::Client::new(&sdk);
        let sqs = aws_sdk_sqs::Client::new(&sdk);
        let sm = aws_sdk_secretsmanager::Client::new(&sdk);
        let stack = Stack::provision(
            &sdk,
            &["Table", "SyncQueue", "TripletexConsumerTokenSecret"],
            Some(tripletex_sandbox::DEMO_CONSUMER_TOKEN),
        )
        .await;
        let table = stack.table();
        let queue_url = stack.queue_url("SyncQueue");
        let secret_prefix = stack.env("SECRET_PREFIX");
        let consumer_secret_id = stack.attr("TripletexConsumerTokenSecret", "Name");
        let sandbox = tripletex_sandbox::start_in_thread(Fixture::demo(), Faults::default())
            .expect("sandbox starts");

        let store = DynamoStore::new(ddb.clone(), table.clone());
        let secrets = Secrets::new(sm.clone(), secret_prefix.clone());
        let queue = SyncQueue::new(sqs.clone(), queue_url.clone());
        let svc = Services {
            setup: SetupService::new(
                Arc::new(store.clone()),
                Arc::new(secrets.clone()),
                Arc::new(queue.clone()),
                Arc::new(LazyTripletexGateway::new(
                    sandbox.base_url.clone(),
                    consumer_secret_id.clone(),
                    secrets,
                )),
            ),
            ledger: LedgerService::new(store.clone(), ddb.clone(), queue),
        };
        World {
            svc,
            store,
            ddb,
            sqs,
            sm,
            table,
            queue_url,
            secret_prefix,
            consumer_secret_id,
            sandbox,
            responses: Mutex::new(Vec::new()),
        }
    }

    /// Sends a request through the real handler. `org` None = no JWT claim.
    pub async fn call(
        &self,
        method: &str,
        path_and_query: &str,
        org: Option<&str>,
        body: Option<&str>,
    ) -> (u16, Value, Response<Body>) {
        let req = api_request(method, path_and_query, org, body);
        let resp = handle(&self.svc, req).await.expect("handler never fails");
        let text = String::from_utf8_lossy(resp.body().as_ref()).to_string();
        self.responses.lock().unwrap().push(text.clone());
        let json = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("response is JSON: {text}"))
        };
        (resp.status().as_u16(), json, resp)
    }

    /// Every item of the table (Scan, all pages).
    pub async fn all_items(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .ddb
                .scan()
                .table_name(&self.table)
                .set_exclusive_start_key(start)
                .send()
                .await
                .unwrap();
            for item in page.items() {
                out.push(format!("{item:?}"));
            }
            match page.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => break,
            }
        }
        out
    }

    /// Names, descriptions and tags of every secret under this test's key prefix.
    pub async fn key_secrets(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let mut token = None;
        loop {
            let page = self
                .sm
                .list_secrets()
                .set_next_token(token)
                .send()
                .await
                .unwrap();
            for s in page.secret_list() {
                let name = s.name().unwrap_or_default().to_string();
                if name.starts_with(&self.secret_prefix) {
                    let meta = format!("{:?} {:?}", s.description(), s.tags());
                    out.push((name, meta));
                }
            }
            match page.next_token {
                Some(t) if !t.is_empty() => token = Some(t),
                _ => break,
            }
        }
        out
    }

    pub async fn secret_value(&self, name: &str) -> Option<String> {
        self.sm
            .get_secret_value()
            .secret_id(name)
            .send()
            .await
            .ok()
            .and_then(|o| o.secret_string().map(str::to_string))
    }

    /// Receives (and deletes) every message of the sync queue: (group id, dedup id, body).
    /// Deleting matters: FIFO holds back a group's next message while one is in flight, so a
    /// duplicate would otherwise stay hidden.
    pub async fn drain_queue(&self) -> Vec<(String, String, Value)> {
        drain_fifo(&self.sqs, &self.queue_url).await
    }
}

/// An API Gateway HTTP API (payload 2.0) event as the JWT authorizer delivers it.
pub fn api_request(
    method: &str,
    path_and_query: &str,
    org: Option<&str>,
    body: Option<&str>,
) -> Request {
    let claims = match org {
        Some(o) => vec![("org", o), ("sub", "user-1"), ("iss", "https://auth.test/")],
        None => Vec::new(),
    };
    test_support::http::gateway_request(method, path_and_query, &claims, body)
}
