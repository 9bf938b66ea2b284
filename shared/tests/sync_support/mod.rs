//! Test harness of the ledger sync: moto (local AWS) + the Tripletex sandbox with a scenario
//! company + the real engine.
//!
//! moto: `MOTO_ENDPOINT` if set; otherwise a moto_server is started from `$INNDRIVE_MOTO_VENV`,
//! `<repo>/.venv-moto` or `/work/.venv-moto` and stopped when the test process ends. Without either
//! the tests fail saying so. Every world has its own table, queues, secrets and sandbox.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, GlobalSecondaryIndex, KeySchemaElement,
    KeyType, Projection, ProjectionType, ScalarAttributeType,
};
use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};
use chrono::{NaiveDate, Utc};
use secrecy::SecretString;
use serde_json::{json, Value};
use shared::adapters::brreg::{BrregClient, CachedBrreg, DynamoBrregCache};
use shared::adapters::mail::{DynamoSentMailLog, Mailer};
use shared::adapters::queue::{ClassificationQueue, SyncJob, SyncReason};
use shared::adapters::secrets::Secrets;
use shared::adapters::store::ledger::{PageRequest, StoredCustomer};
use shared::adapters::store::DynamoStore;
use shared::adapters::tripletex::{RetryPolicy, TripletexClient};
use shared::domain::ledger::{LedgerItem, LedgerQuery, SkipReason, SkipRecord};
use shared::domain::setup::{
    Account, AccountId, Integration, IntegrationId, IntegrationSettings, IntegrationStatus, KeyId,
    OrgId, TripletexKey,
};
use shared::services::sync::{job_for, ReadyMail, SyncConfig, SyncService, TripletexSource};
use tripletex_sandbox::{Faults, Fixture, SandboxHandle};

static MOTO: OnceLock<String> = OnceLock::new();

fn repo_root() -> PathBuf {
    let mut dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    while !dir.join("template.yaml").is_file() {
        if !dir.pop() {
            return PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
        }
    }
    dir
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

fn http_ok(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect_timeout(
        &format!("127.0.0.1:{port}").parse().unwrap(),
        Duration::from_millis(200),
    ) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
    if s.write_all(b"GET /moto-api/ HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut buf = [0u8; 16];
    matches!(s.read(&mut buf), Ok(n) if n > 0 && buf.starts_with(b"HTTP/1"))
}

fn start_moto() -> String {
    let candidates: Vec<PathBuf> = std::env::var_os("INNDRIVE_MOTO_VENV")
        .map(PathBuf::from)
        .into_iter()
        .chain([
            repo_root().join(".venv-moto"),
            PathBuf::from("/work/.venv-moto"),
        ])
        .collect();
    let Some(bin) = candidates
        .iter()
        .map(|v| v.join("bin/moto_server"))
        .find(|p| p.exists())
    else {
        panic!(
            "these tests need moto: set MOTO_ENDPOINT or create a venv with moto_server in one of \
             {candidates:?}"
        );
    };
    let port = free_port();
    let script = format!(
        "'{}' -H 127.0.0.1 -p {port} >/dev/null 2>&1 & pid=$!; cat >/dev/null; kill $pid",
        bin.display()
    );
    let child = Command::new("sh")
        .arg("-c")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting moto_server");
    std::mem::forget(child);
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if http_ok(port) {
            return format!("http://127.0.0.1:{port}");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("moto_server did not answer on port {port} within 30 s");
}

/// The moto endpoint; sets the SDK's environment once.
pub fn moto() -> &'static str {
    MOTO.get_or_init(|| {
        let endpoint = std::env::var("MOTO_ENDPOINT")
            .ok()
            .filter(|s| !s.is_empty())
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

fn key(name: &str, t: KeyType) -> KeySchemaElement {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(t)
        .build()
        .unwrap()
}

fn attr(name: &str) -> AttributeDefinition {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(ScalarAttributeType::S)
        .build()
        .unwrap()
}

fn gsi(name: &str) -> GlobalSecondaryIndex {
    GlobalSecondaryIndex::builder()
        .index_name(name)
        .key_schema(key(&format!("{name}PK"), KeyType::Hash))
        .key_schema(key(&format!("{name}SK"), KeyType::Range))
        .projection(
            Projection::builder()
                .projection_type(ProjectionType::All)
                .build(),
        )
        .build()
        .unwrap()
}

pub fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

// ------------------------------------------------------------------------------ scenario data

pub const AR: i64 = 70001500;
pub const BANK: i64 = 70001920;
pub const REVENUE: i64 = 70003000;
pub const LOSS: i64 = 70007830;

#[derive(Clone, Copy)]
pub enum Vt {
    Invoice,
    Payment,
    Opening,
    Null,
}

impl Vt {
    fn json(self) -> Value {
        match self {
            Vt::Invoice => json!({"id": 8000001, "name": "Utgående faktura"}),
            Vt::Payment => json!({"id": 8000002, "name": "Betaling"}),
            Vt::Opening => json!({"id": 8000003, "name": "Åpningsbalanse"}),
            Vt::Null => Value::Null,
        }
    }
}

pub fn customer(id: i64, name: &str, org: &str, private: bool, inactive: bool) -> Value {
    json!({"id": id, "version": 1, "name": name, "organizationNumber": org,
           "customerNumber": id - 30000, "isCustomer": true, "isInactive": inactive,
           "isPrivateIndividual": private, "email": "", "invoiceEmail": "", "overdueNoticeEmail": "",
           "invoicesDueIn": 14, "invoicesDueInType": "DAYS",
           "postalAddress": {"id": id + 500000, "addressLine1": "Kaigata 2", "addressLine2": "",
                             "postalCode": "5003", "city": "Bergen"}})
}

#[allow(clippy::too_many_arguments)]
pub fn invoice(
    id: i64,
    number: i64,
    cust: i64,
    date: &str,
    due: &str,
    amount: f64,
    outstanding: f64,
    voucher: i64,
) -> Value {
    json!({"id": id, "version": 1, "invoiceNumber": number, "invoiceDate": date, "invoiceDueDate": due,
           "customer": {"id": cust}, "kid": format!("00{number}7"), "isCreditNote": false,
           "creditedInvoice": 0, "amount": amount, "amountOutstanding": outstanding,
           "currency": {"id": 1, "code": "NOK"}, "voucher": {"id": voucher}})
}

#[allow(clippy::too_many_arguments)]
pub fn posting(
    id: i64,
    voucher: i64,
    vt: Vt,
    date: &str,
    account: i64,
    amount: f64,
    cust: Option<i64>,
    invoice_number: &str,
    term: Option<&str>,
    close_group: Option<i64>,
) -> Value {
    let mut p = json!({"id": id, "version": 0,
        "voucher": {"id": voucher, "voucherType": vt.json()},
        "date": date, "description": "", "account": {"id": account, "number": account - 70000000},
        "amount": amount, "amountGross": amount, "invoiceNumber": invoice_number,
        "row": 1, "vatType": {"id": 0}});
    if let Some(c) = cust {
        p["customer"] = json!({"id": c});
    }
    if let Some(t) = term {
        p["termOfPayment"] = json!(t);
    }
    if let Some(g) = close_group {
        p["closeGroup"] = json!({"id": g});
    }
    p
}

pub fn voucher(id: i64, date: &str, desc: &str, vt: Vt, postings: &[i64]) -> Value {
    json!({"id": id, "version": 0, "date": date, "number": id - 50000, "year": 2026,
           "description": desc, "voucherType": vt.json(),
           "postings": postings.iter().map(|p| json!({"id": p})).collect::<Vec<_>>()})
}

fn account(id: i64, name: &str, ledger_type: &str, closeable: bool, bank: bool) -> Value {
    json!({"id": id, "version": 0, "number": id - 70000000, "name": name, "type": "ASSETS",
           "ledgerType": ledger_type, "isCloseable": closeable, "isInactive": false,
           "isBankAccount": bank})
}

/// The base scenario (fetchFrom 2026-01-01): an open overdue invoice, a paid one, a written-off
/// one (not among the open postings), a SAF-T opening item without due date, a manual voucher
/// (`voucherType: null`), an open item dated before fetchFrom, and a posting with a broken amount.
pub fn base_company() -> Value {
    let mut broken = posting(
        60040,
        50040,
        Vt::Invoice,
        "2026-07-01",
        AR,
        100.0,
        Some(40001),
        "",
        Some("2026-07-15"),
        None,
    );
    broken["amountGross"] = json!("tolv kroner");
    broken["amount"] = json!("tolv kroner");
    json!({
        "customers": [
            customer(40001, "Vestland Bygg AS", "922334455", false, false),
            customer(40002, "Havbruk Service AS", "812345672", false, false),
            customer(40003, "Ola Nordmann", "", true, false),
            customer(40004, "Gamle Kunde AS", "", false, true),
        ],
        "invoices": [
            invoice(80001, 10023, 40001, "2026-05-02", "2026-05-16", 12500.0, 12500.0, 50001),
            invoice(80002, 10024, 40002, "2026-05-20", "2026-06-03", 8000.0, 0.0, 50002),
            invoice(80003, 10025, 40002, "2026-03-01", "2026-03-15", 5000.0, 0.0, 50004),
        ],
        "postings": [
            posting(60001, 50001, Vt::Invoice, "2026-05-02", AR, 12500.0, Some(40001), "10023", Some("2026-05-16"), None),
            posting(60002, 50001, Vt::Invoice, "2026-05-02", REVENUE, -12500.0, None, "", None, None),
            posting(60003, 50002, Vt::Invoice, "2026-05-20", AR, 8000.0, Some(40002), "10024", Some("2026-06-03"), Some(90001)),
            posting(60004, 50002, Vt::Invoice, "2026-05-20", REVENUE, -8000.0, None, "", None, None),
            posting(60005, 50003, Vt::Payment, "2026-06-01", BANK, 8000.0, None, "", None, None),
            posting(60006, 50003, Vt::Payment, "2026-06-01", AR, -8000.0, Some(40002), "10024", None, Some(90001)),
            // Written off: the invoice nets to zero, Tripletex no longer lists it as open.
            posting(60010, 50004, Vt::Invoice, "2026-03-01", AR, 5000.0, Some(40002), "10025", Some("2026-03-15"), Some(90002)),
            posting(60013, 50004, Vt::Invoice, "2026-03-01", REVENUE, -5000.0, None, "", None, None),
            posting(60011, 50010, Vt::Null, "2026-09-01", AR, -5000.0, Some(40002), "10025", None, Some(90002)),
            posting(60012, 50010, Vt::Null, "2026-09-01", LOSS, 5000.0, None, "", None, None),
            // SAF-T opening balance: no invoice, no due date.
            posting(60020, 50020, Vt::Opening, "2026-02-01", AR, 3000.0, Some(40003), "", None, None),
            // Manual voucher without type.
            posting(60030, 50030, Vt::Null, "2026-04-01", AR, 2000.0, Some(40001), "", Some("2026-04-15"), None),
            // Open, from before fetchFrom (openPost has no lower date bound).
            posting(60050, 50050, Vt::Invoice, "2025-06-01", AR, 1500.0, Some(40001), "9001", Some("2025-06-15"), None),
            // An amount that is not a number: quarantined, the sync goes on.
            broken,
        ],
        "vouchers": [
            voucher(50001, "2026-05-02", "Faktura 10023", Vt::Invoice, &[60001, 60002]),
            voucher(50002, "2026-05-20", "Faktura 10024", Vt::Invoice, &[60003, 60004]),
            voucher(50003, "2026-06-01", "Innbetaling faktura 10024", Vt::Payment, &[60005, 60006]),
            voucher(50004, "2026-03-01", "Faktura 10025", Vt::Invoice, &[60010, 60013]),
            voucher(50010, "2026-09-01", "Tap på fordring faktura 10025", Vt::Null, &[60011, 60012]),
            voucher(50020, "2026-02-01", "Åpningsbalanse", Vt::Opening, &[60020]),
            voucher(50030, "2026-04-01", "Manuelt bilag", Vt::Null, &[60030]),
            voucher(50040, "2026-07-01", "Faktura", Vt::Invoice, &[60040]),
            voucher(50050, "2025-06-01", "Faktura 9001", Vt::Invoice, &[60050]),
        ],
        "accounts": [
            account(AR, "Kundefordringer", "CUSTOMER", true, false),
            account(BANK, "Bankinnskudd", "GENERAL", false, true),
            account(REVENUE, "Salgsinntekt", "GENERAL", false, false),
            account(LOSS, "Konstaterte tap på fordringer", "GENERAL", false, false),
        ],
    })
}

/// The demo fixture with company 2001's collections replaced.
pub fn fixture_with(collections: &Value) -> Fixture {
    fixture_for(2001, collections)
}

/// The demo fixture with `company`'s collections replaced.
pub fn fixture_for(company: i64, collections: &Value) -> Fixture {
    let text =
        std::fs::read_to_string(repo_root().join("infra/tripletex-sandbox/fixtures/demo.json"))
            .expect("demo fixture");
    let mut f: Value = serde_json::from_str(&text).unwrap();
    for c in f["companies"].as_array_mut().unwrap() {
        if c["id"] == json!(company) {
            c["collections"] = collections.clone();
        }
    }
    Fixture::from_json(&f.to_string()).expect("scenario fixture is valid")
}

// ---------------------------------------------------------------------------------- the world

/// The AWS resources a world uses.
pub struct Resources {
    pub table: String,
    pub sync_queue_url: String,
    pub class_queue_url: String,
    pub secret_prefix: String,
    pub mail_from: String,
}

pub struct World {
    pub store: DynamoStore,
    pub ddb: aws_sdk_dynamodb::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub sm: aws_sdk_secretsmanager::Client,
    pub sdk: aws_config::SdkConfig,
    pub table: String,
    pub sync_queue_url: String,
    pub class_queue_url: String,
    pub secret_prefix: String,
    pub mail_from: String,
    pub sandbox: SandboxHandle,
    pub org: OrgId,
    pub account: AccountId,
    pub integration: Integration,
}

fn unique() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

pub fn default_settings(key: KeyId, client: i64) -> IntegrationSettings {
    IntegrationSettings {
        key_id: key,
        client_company_id: client,
        fetch_from: d("2026-01-01"),
        days_past_due: 14,
        update_addresses_from_brreg: false,
        write_addresses_to_tripletex: false,
        include_saft_imported: false,
        include_null_voucher_type: false,
    }
}

impl World {
    /// A world whose company 2001 has `collections` (the accountant key, client 2001).
    pub async fn new(
        collections: &Value,
        settings: impl FnOnce(&mut IntegrationSettings),
    ) -> World {
        Self::with_fixture(fixture_with(collections), 2001, settings).await
    }

    pub async fn with_fixture(
        fixture: Fixture,
        client: i64,
        settings: impl FnOnce(&mut IntegrationSettings),
    ) -> World {
        moto();
        let sdk = shared::adapters::aws::sdk_config().await;
        let ddb = aws_sdk_dynamodb::Client::new(&sdk);
        let sqs = aws_sdk_sqs::Client::new(&sdk);
        let ses = aws_sdk_sesv2::Client::new(&sdk);
        let run = unique()[..12].to_string();
        let table = format!("inndrive-sync-{run}");
        ddb.create_table()
            .table_name(&table)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(attr("PK"))
            .attribute_definitions(attr("SK"))
            .attribute_definitions(attr("GSI1PK"))
            .attribute_definitions(attr("GSI1SK"))
            .attribute_definitions(attr("GSI2PK"))
            .attribute_definitions(attr("GSI2SK"))
            .key_schema(key("PK", KeyType::Hash))
            .key_schema(key("SK", KeyType::Range))
            .global_secondary_indexes(gsi("GSI1"))
            .global_secondary_indexes(gsi("GSI2"))
            .send()
            .await
            .expect("create table in moto");
        let fifo = |name: String| {
            let sqs = sqs.clone();
            async move {
                sqs.create_queue()
                    .queue_name(name)
                    .attributes(QueueAttributeName::FifoQueue, "true")
                    .attributes(QueueAttributeName::ContentBasedDeduplication, "false")
                    .attributes(QueueAttributeName::DeduplicationScope, "messageGroup")
                    .attributes(QueueAttributeName::FifoThroughputLimit, "perMessageGroupId")
                    .send()
                    .await
                    .expect("create queue in moto")
                    .queue_url
                    .expect("queue url")
            }
        };
        let sync_queue_url = fifo(format!("inndrive-sync-{run}-sync.fifo")).await;
        let class_queue_url = fifo(format!("inndrive-sync-{run}-classification.fifo")).await;
        let secret_prefix = format!("inndrive/sync-{run}/tripletex-keys/");
        let mail_from = format!("noreply-{run}@inndrive.test");
        ses.create_email_identity()
            .email_identity(&mail_from)
            .send()
            .await
            .expect("create SES identity in moto");

        let sandbox =
            tripletex_sandbox::start_in_thread(fixture, Faults::default()).expect("sandbox starts");
        Self::populate(
            sdk,
            Resources {
                table,
                sync_queue_url,
                class_queue_url,
                secret_prefix,
                mail_from,
            },
            sandbox,
            client,
            settings,
        )
        .await
    }

    /// Puts the account, key (with its token secret) and integration into existing resources
    /// (e.g. the local stack's, provisioned from template.yaml).
    pub async fn populate(
        sdk: aws_config::SdkConfig,
        r: Resources,
        sandbox: SandboxHandle,
        client: i64,
        settings: impl FnOnce(&mut IntegrationSettings),
    ) -> World {
        let Resources {
            table,
            sync_queue_url,
            class_queue_url,
            secret_prefix,
            mail_from,
        } = r;
        let ddb = aws_sdk_dynamodb::Client::new(&sdk);
        let sqs = aws_sdk_sqs::Client::new(&sdk);
        let sm = aws_sdk_secretsmanager::Client::new(&sdk);
        let run = unique()[..12].to_string();

        let store = DynamoStore::new(ddb.clone(), table.clone());
        let org = OrgId::parse(&format!("org_{}", &run[..8])).unwrap();
        let now = Utc::now();
        let account = Account {
            id: AccountId::from_suffix(&unique()).unwrap(),
            org: org.clone(),
            name: "Fjordkraft Rørlegger AS".into(),
            organization_number: None,
            created_at: now,
        };
        let key_id = KeyId::from_suffix(&unique()).unwrap();
        let key = TripletexKey {
            id: key_id.clone(),
            org: org.clone(),
            label: "Kontorets nøkkel".into(),
            accountant_key: true,
            company_id: 1001,
            company_name: Some("Regnskap Nord AS".into()),
            token_hint: "0001".into(),
            created_at: now,
            integration_count: 0,
        };
        assert!(store.put_account(&account).await.unwrap());
        assert!(store.put_key(&key).await.unwrap());
        let secrets = Secrets::new(sm.clone(), secret_prefix.clone());
        secrets
            .create_employee_token(
                &org,
                &key_id,
                &SecretString::from(tripletex_sandbox::DEMO_ACCOUNTANT_KEY),
            )
            .await
            .unwrap();
        let mut s = default_settings(key_id, client);
        settings(&mut s);
        let integration = Integration {
            id: IntegrationId::from_suffix(&unique()).unwrap(),
            org: org.clone(),
            account_id: account.id.clone(),
            settings: s,
            accountant_key: true,
            client_company_name: Some("Fjordkraft Rørlegger AS".into()),
            status: IntegrationStatus::Pending,
            version: 1,
            initial_sync_version: 1,
            initial_sync_enqueued: true,
            progress: None,
            last_sync: None,
            created_at: now,
            updated_at: now,
        };
        let created = store.create_integration(&integration).await.unwrap();
        assert_eq!(format!("{created:?}"), "Created");
        World {
            store,
            ddb,
            sqs,
            sm,
            sdk,
            table,
            sync_queue_url,
            class_queue_url,
            secret_prefix,
            mail_from,
            sandbox,
            org,
            account: account.id,
            integration,
        }
    }

    /// Replaces the sandbox (e.g. with changed data); the next `service()` talks to the new one.
    pub fn replace_sandbox(&mut self, fixture: Fixture) {
        self.sandbox =
            tripletex_sandbox::start_in_thread(fixture, Faults::default()).expect("sandbox starts");
    }

    pub fn tripletex(&self) -> TripletexClient {
        TripletexClient::new(
            self.sandbox.base_url.clone(),
            SecretString::from(tripletex_sandbox::DEMO_CONSUMER_TOKEN),
        )
        .with_retry_policy(RetryPolicy {
            max_attempts: 8,
            base_delay: Duration::from_millis(20),
            max_delay: Duration::from_millis(200),
            max_total_wait: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
        })
    }

    pub fn brreg_url(&self) -> String {
        format!(
            "{}/enhetsregisteret/api",
            self.sandbox.base_url.trim_end_matches("/v2")
        )
    }

    pub fn service(&self, config: SyncConfig) -> SyncService {
        SyncService {
            store: self.store.clone(),
            secrets: Secrets::new(self.sm.clone(), self.secret_prefix.clone()),
            tripletex: TripletexSource::ready(self.tripletex()),
            classification: ClassificationQueue::new(
                self.sqs.clone(),
                self.class_queue_url.clone(),
            ),
            brreg: Some(CachedBrreg::new(
                BrregClient::new(self.brreg_url()),
                DynamoBrregCache::new(self.ddb.clone(), self.table.clone()),
            )),
            mail: Some(ReadyMail {
                mailer: Mailer::new(&self.sdk, self.mail_from.clone()),
                log: Arc::new(DynamoSentMailLog::new(self.ddb.clone(), self.table.clone())),
            }),
            config,
            clock: shared::clock::system(),
        }
    }

    pub fn job(&self, reason: SyncReason) -> SyncJob {
        job_for(&self.integration, reason, Utc::now())
    }

    pub async fn current_integration(&self) -> Integration {
        self.store
            .get_integration(&self.org, &self.account)
            .await
            .unwrap()
            .expect("integration")
    }

    /// Changes the integration's settings in place (a new settings version).
    pub async fn change_settings(&mut self, f: impl FnOnce(&mut IntegrationSettings)) {
        let mut i = self.current_integration().await;
        f(&mut i.settings);
        let previous_key = i.settings.key_id.clone();
        let expected = i.version;
        i.version += 1;
        let r = self
            .store
            .update_integration(&i, expected, &previous_key, false)
            .await
            .unwrap();
        assert_eq!(format!("{r:?}"), "Updated");
        self.integration = self.current_integration().await;
    }

    pub async fn set_contact_email(&self, email: &str) {
        self.ddb
            .put_item()
            .table_name(&self.table)
            .item("PK", AttributeValue::S(format!("ORG#{}", self.org)))
            .item("SK", AttributeValue::S("PROFILE".into()))
            .item("contactEmail", AttributeValue::S(email.into()))
            .send()
            .await
            .unwrap();
    }

    /// Receives and deletes every message of the classification queue: (group, dedup id, body).
    /// A body is a `ClassificationBatch`: one customer's events (see [`events_of`]).
    pub async fn drain_classification(&self) -> Vec<(String, String, Value)> {
        let mut out = Vec::new();
        let mut empty_rounds = 0;
        while empty_rounds < 2 {
            let got = self
                .sqs
                .receive_message()
                .queue_url(&self.class_queue_url)
                .max_number_of_messages(10)
                .message_system_attribute_names(MessageSystemAttributeName::All)
                .wait_time_seconds(0)
                .send()
                .await
                .unwrap();
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
                if let Some(h) = m.receipt_handle() {
                    self.sqs
                        .delete_message()
                        .queue_url(&self.class_queue_url)
                        .receipt_handle(h)
                        .send()
                        .await
                        .unwrap();
                }
                out.push((
                    get(MessageSystemAttributeName::MessageGroupId),
                    get(MessageSystemAttributeName::MessageDeduplicationId),
                    serde_json::from_str(m.body().unwrap_or("null")).unwrap(),
                ));
            }
        }
        out
    }

    pub async fn items(&self) -> BTreeMap<String, LedgerItem> {
        let page = self
            .store
            .list_items(
                &self.account,
                &LedgerQuery::default(),
                &PageRequest::first(1000),
            )
            .await
            .unwrap();
        page.items.into_iter().map(|i| (i.id.clone(), i)).collect()
    }

    pub async fn customers(&self) -> BTreeMap<i64, StoredCustomer> {
        let page = self
            .store
            .list_customers(&self.account, &PageRequest::first(1000))
            .await
            .unwrap();
        page.items.into_iter().map(|c| (c.customer.id, c)).collect()
    }

    pub async fn skips(&self, reason: SkipReason) -> Vec<SkipRecord> {
        self.store
            .list_skips(&self.account, reason, &PageRequest::first(1000))
            .await
            .unwrap()
            .items
    }

    pub async fn skip_keys(&self, reason: SkipReason) -> Vec<String> {
        self.skips(reason)
            .await
            .into_iter()
            .map(|s| s.record.key)
            .collect()
    }

    /// Every message moto's SES "sent" to `to`.
    pub async fn mails_to(&self, to: &str) -> Vec<Value> {
        // moto builds data.json from live state and can answer 500 while another test writes.
        let url = format!("{}/moto-api/data.json", moto());
        let mut data = Value::Null;
        for attempt in 0..10u64 {
            tokio::time::sleep(Duration::from_millis(100 * attempt)).await;
            if let Ok(r) = reqwest::get(&url).await {
                if r.status().is_success() {
                    if let Ok(v) = r.json::<Value>().await {
                        data = v;
                        break;
                    }
                }
            }
        }
        assert!(!data.is_null(), "moto's data.json could not be read");
        data["ses"]["Message"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|m| m.to_string().contains(to))
            .collect()
    }
}

/// The events of drained classification messages, in order: (message group, event).
pub fn events_of(messages: &[(String, String, Value)]) -> Vec<(String, Value)> {
    messages
        .iter()
        .flat_map(|(group, _, body)| {
            body["events"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .map(move |e| (group.clone(), e))
        })
        .collect()
}
