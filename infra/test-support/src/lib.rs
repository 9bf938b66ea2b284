//! The harness the crates' integration tests share: one moto (local AWS) per test binary, resources
//! provisioned from `template.yaml` under a unique stage per test, SES identities, and the mail
//! moto's SES "sent".
//!
//! moto: `MOTO_ENDPOINT` if set (./dev test sets it); otherwise a `moto_server` is started from
//! `$INNDRIVE_MOTO_VENV`, `<repo>/.venv-tools`, `<repo>/.venv-moto` or `/work/.venv-moto` and stopped
//! when the test process ends. Without either the tests fail with a message saying so.
//!
//! Resources are never listed here by hand: [`Stack::provision`] takes logical ids of
//! `template.yaml` (plus what they refer to, e.g. a queue's dead-letter queue) and creates them
//! through `inndrive_local::provision`, as the local stack does, with `Stage` = `test-<11 hex>`.
//!
//! Three worlds built on it, for the tests of several crates: [`sync`] (the ledger sync: a stack
//! with the table and the sync and classification queues, the Tripletex sandbox with a scenario
//! company, the real engine), [`classification`] (the classification and case services: a table
//! with an account, builders of the ledger events the sync sends) and [`dunning`] (the sync world
//! synced, classified and with its cases opened, plus the dunning queue, the letters bucket and
//! the dunning service with the real adapters; the raw mails moto's SES took). They use `shared`, whose own
//! integration tests use this crate (a cycle through dev-dependencies, which cargo allows: the
//! tests and this crate link the same `shared`).
//!
//! moto, `repo_root` and `free_port` are `inndrive_local`'s (the local stack needs them at run
//! time), so there is one of each.

pub mod classification;
pub mod dunning;
pub mod http;
pub mod sync;
pub mod throttle;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;

use aws_config::SdkConfig;
use aws_sdk_sqs::types::MessageSystemAttributeName;
use inndrive_local::provision::provision;
pub use inndrive_local::repo_root;
use inndrive_local::template::{scalar_to_string, Resolver, Template};
use secrecy::SecretString;
use serde_json::Value;

static MOTO: OnceLock<String> = OnceLock::new();
static TEMPLATE: OnceLock<Template> = OnceLock::new();
static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A free TCP port on 127.0.0.1 (nothing listens on it once this returns).
pub fn free_port() -> u16 {
    inndrive_local::moto::free_port().expect("a free loopback port")
}

/// A name no other test (of any process) uses: `{prefix}-{pid}-{counter}-{uuid}`.
pub fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst),
        uuid::Uuid::new_v4().simple()
    )
}

/// 32 lowercase hex digits, new each time: what the id types take as a suffix.
pub fn id_suffix() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

fn start_moto() -> String {
    let server = inndrive_local::moto::installed_server(&repo_root()).unwrap_or_else(|venvs| {
        panic!(
            "these tests need moto: set MOTO_ENDPOINT (./dev test does) or create a venv with \
             moto_server in one of {venvs:?}"
        )
    });
    inndrive_local::moto::start_for_process(&server).unwrap_or_else(|e| panic!("{e:#}"))
}

/// The moto endpoint (one per test binary); sets the SDK's environment once, before any SDK
/// configuration is built: AWS_ENDPOINT_URL, region eu-north-1, test credentials, no instance
/// metadata, INNDRIVE_AWS_RETRIES=off.
pub fn moto() -> &'static str {
    MOTO.get_or_init(|| {
        let endpoint = std::env::var("MOTO_ENDPOINT")
            .ok()
            .filter(|s| !s.is_empty())
            .map(|s| s.trim_end_matches('/').to_string())
            .unwrap_or_else(start_moto);
        std::env::set_var("AWS_ENDPOINT_URL", &endpoint);
        std::env::set_var("AWS_REGION", "eu-north-1");
        std::env::set_var("AWS_ACCESS_KEY_ID", "test");
        std::env::set_var("AWS_SECRET_ACCESS_KEY", "test");
        std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
        std::env::set_var("INNDRIVE_AWS_RETRIES", "off");
        endpoint
    })
}

fn template() -> &'static Template {
    TEMPLATE.get_or_init(|| {
        let path = repo_root().join("template.yaml");
        Template::from_path(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    })
}

/// Resources of `template.yaml` provisioned in moto under a stage of their own.
pub struct Stack {
    /// `test-<11 hex>` (the template's `Stage` parameter).
    pub stage: String,
    resolver: Resolver,
}

impl Stack {
    /// Provisions the resources `logical_ids` of template.yaml and the resources they refer to
    /// (a queue's dead-letter queue), as the local stack does. `consumer_token` becomes the value
    /// of the secret `TRIPLETEX_CONSUMER_TOKEN_SECRET_ID` names, when that secret is among them.
    pub async fn provision(
        sdk: &SdkConfig,
        logical_ids: &[&str],
        consumer_token: Option<&str>,
    ) -> Stack {
        let full = template();
        let mut wanted: BTreeSet<String> = BTreeSet::new();
        let mut todo: Vec<String> = logical_ids.iter().map(|s| s.to_string()).collect();
        while let Some(id) = todo.pop() {
            assert!(
                full.resources.contains_key(&id),
                "template.yaml has no resource {id}"
            );
            if wanted.insert(id.clone()) {
                todo.extend(full.resource_deps(&id));
            }
        }
        let mut sub = full.clone();
        sub.resources.retain(|id, _| wanted.contains(id));
        sub.resource_order.retain(|id| wanted.contains(id));

        let stage = format!("test-{}", &uuid::Uuid::new_v4().simple().to_string()[..11]);
        let mut params = BTreeMap::from([("Stage".to_string(), stage.clone())]);
        // Parameters without a default (JWT issuer, ...) play no part in the resources.
        for (name, def) in &full.parameters {
            if def.default.is_none() && name != "Stage" {
                params.insert(name.clone(), "test".into());
            }
        }
        let mut resolver = Resolver::new(&sub, &format!("inndrive-{stage}"), &params)
            .expect("template parameters");
        let token = consumer_token.map(|t| SecretString::from(t.to_string()));
        provision(&sub, &mut resolver, sdk, token.as_ref())
            .await
            .unwrap_or_else(|e| panic!("provisioning {logical_ids:?} in moto: {e:#}"));
        Stack { stage, resolver }
    }

    /// `!Ref` of a provisioned resource: a table's name, a queue's URL, a secret's ARN.
    pub fn ref_value(&self, logical_id: &str) -> String {
        self.resolver
            .resources
            .ref_value(logical_id)
            .unwrap_or_else(|| panic!("{logical_id} was not provisioned"))
            .to_string()
    }

    /// `!GetAtt logical_id.attr` (e.g. `QueueName`, `Arn`, a secret's `Name`).
    pub fn attr(&self, logical_id: &str, attr: &str) -> String {
        self.resolver
            .resources
            .attr(logical_id, attr)
            .unwrap_or_else(|| panic!("{logical_id}.{attr} was not provisioned"))
            .to_string()
    }

    /// The table `Table` (TABLE_NAME).
    pub fn table(&self) -> String {
        self.ref_value("Table")
    }

    /// A queue's URL.
    pub fn queue_url(&self, logical_id: &str) -> String {
        self.ref_value(logical_id)
    }

    /// The value of a function environment variable from the template's `Globals`, evaluated for
    /// this stack (e.g. SECRET_PREFIX, SYNC_QUEUE_URL when SyncQueue was provisioned).
    pub fn env(&self, var: &str) -> String {
        let v = template()
            .globals_function
            .get("Environment")
            .and_then(|e| e.get("Variables"))
            .and_then(|v| v.get(var))
            .unwrap_or_else(|| panic!("template.yaml Globals has no variable {var}"));
        let out = self
            .resolver
            .eval(v)
            .unwrap_or_else(|e| panic!("{var}: {e}"));
        scalar_to_string(&out)
    }
}

/// Verifies a fresh sender address (`{unique(prefix)}@inndrive.test`) in moto's SES.
pub async fn verified_sender(sdk: &SdkConfig, prefix: &str) -> String {
    let from = format!("{}@inndrive.test", unique(prefix));
    aws_sdk_sesv2::Client::new(sdk)
        .create_email_identity()
        .email_identity(&from)
        .send()
        .await
        .expect("create SES identity in moto");
    from
}

/// Every message moto's SES has "sent" (`{moto}/moto-api/data.json`, `["ses"]["Message"]`).
pub async fn sent_messages() -> Vec<Value> {
    ses_sent("Message").await
}

/// What moto's SES backend keeps in `sent_messages`, of one kind: `Message` (SendEmail's simple
/// content) or `RawMessage` (the raw MIME a raw send took, whole, attachments included), as
/// `{moto}/moto-api/data.json` lists them under `["ses"][kind]`.
pub async fn ses_sent(kind: &str) -> Vec<Value> {
    ses_sent_at(moto(), kind).await
}

/// [`ses_sent`] of the moto at `endpoint` (e.g. a local stack's).
///
/// moto builds that page from every backend's live state; while another test changes state it can
/// answer 500 (a dict changed during iteration), so a failed read is tried again a few times.
pub async fn ses_sent_at(endpoint: &str, kind: &str) -> Vec<Value> {
    let url = format!("{}/moto-api/data.json", endpoint.trim_end_matches('/'));
    let mut last = String::new();
    for attempt in 0..10u64 {
        if attempt > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(100 * attempt)).await;
        }
        let resp = match reqwest::get(&url).await {
            Ok(r) => r,
            Err(e) => {
                last = e.to_string();
                continue;
            }
        };
        let status = resp.status();
        match resp.json::<Value>().await {
            Ok(data) if status.is_success() => {
                return data["ses"][kind].as_array().cloned().unwrap_or_default()
            }
            Ok(_) => last = format!("HTTP {status}"),
            Err(e) => last = format!("HTTP {status}: {e}"),
        }
    }
    panic!("moto's data.json could not be read as JSON after 10 attempts: {last}");
}

/// Receives and deletes every message of a queue, until two receives in a row find none:
/// (message group id, deduplication id, body as JSON; missing attributes are ""). Deleting
/// matters: FIFO holds back a group's next message while one is in flight, so a duplicate would
/// otherwise stay hidden.
pub async fn drain_fifo(
    sqs: &aws_sdk_sqs::Client,
    queue_url: &str,
) -> Vec<(String, String, Value)> {
    let mut out = Vec::new();
    let mut empty_rounds = 0;
    while empty_rounds < 2 {
        let got = sqs
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(10)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .wait_time_seconds(0)
            .send()
            .await
            .expect("ReceiveMessage in moto");
        let msgs = got.messages();
        if msgs.is_empty() {
            empty_rounds += 1;
            continue;
        }
        empty_rounds = 0;
        for m in msgs {
            let attrs = m.attributes();
            let get = |k: MessageSystemAttributeName| {
                attrs.and_then(|a| a.get(&k)).cloned().unwrap_or_default()
            };
            if let Some(handle) = m.receipt_handle() {
                sqs.delete_message()
                    .queue_url(queue_url)
                    .receipt_handle(handle)
                    .send()
                    .await
                    .expect("DeleteMessage in moto");
            }
            out.push((
                get(MessageSystemAttributeName::MessageGroupId),
                get(MessageSystemAttributeName::MessageDeduplicationId),
                serde_json::from_str(m.body().unwrap_or("null")).expect("a JSON message body"),
            ));
        }
    }
    out
}

/// The routes `template.yaml` sends to the function built as `binary`, as API Gateway route keys
/// (`GET /v1/accounts/{id}`), sorted: what the function's router must serve.
pub fn http_routes(binary: &str) -> Vec<String> {
    let function = template()
        .resources_of_type("AWS::Serverless::Function")
        .find(|r| r.metadata["BuildProperties"]["Binary"].as_str() == Some(binary))
        .unwrap_or_else(|| panic!("template.yaml has no function built as {binary}"));
    let mut routes: Vec<String> = function.properties["Events"]
        .as_object()
        .into_iter()
        .flat_map(|events| events.values())
        .filter(|e| e["Type"] == "HttpApi")
        .map(|e| {
            let p = &e["Properties"];
            format!(
                "{} {}",
                scalar_to_string(&p["Method"]).to_uppercase(),
                scalar_to_string(&p["Path"])
            )
        })
        .collect();
    routes.sort();
    routes
}
