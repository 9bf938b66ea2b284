//! Shared by the classification and case tests (shared/tests/classification_*.rs and the
//! function crates' tests): moto, a fresh table per test, an account with its integration, a
//! counting voucher-posting queue, and builders for the ledger events the sync sends.
//!
//! moto: `MOTO_ENDPOINT` if set; otherwise a moto_server is started from `$INNDRIVE_MOTO_VENV`,
//! `<repo>/.venv-moto` or `/work/.venv-moto` and stopped when the test process ends. Without
//! either the tests fail saying so.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType,
};
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use rust_decimal::Decimal;

use shared::domain::claim::VoucherPostingJob;
use shared::domain::classify::{CounterPosting, CreditEvidence, CreditKind};
use shared::domain::ledger::{
    ClaimFacts, CreditEvent, CreditLine, ItemClosedEvent, ItemMirroredEvent, ItemOverdueEvent,
    ItemSource, ItemStatus, LedgerEvent,
};
use shared::domain::setup::{
    Account, AccountId, Integration, IntegrationId, IntegrationSettings, IntegrationStatus, KeyId,
    OrgId, TripletexKey,
};
use shared::domain::Money;
use shared::queue::ClassificationMessage;
use shared::services::classification::PostingJobs;
use shared::store::DynamoStore;

static MOTO: OnceLock<String> = OnceLock::new();

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

fn moto_answers(port: u16) -> bool {
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
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let candidates: Vec<PathBuf> = std::env::var_os("INNDRIVE_MOTO_VENV")
        .map(PathBuf::from)
        .into_iter()
        .chain([
            root.join("../.venv-moto"),
            root.join("../../.venv-moto"),
            PathBuf::from("/work/.venv-moto"),
        ])
        .collect();
    let Some(bin) = candidates
        .iter()
        .map(|v| v.join("bin/moto_server"))
        .find(|p| p.exists())
    else {
        panic!(
            "these tests need moto: set MOTO_ENDPOINT or create a venv with moto_server in one \
             of {candidates:?}"
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
        if moto_answers(port) {
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

/// A voucher-posting queue that counts what it was given (and can be told to fail).
#[derive(Default)]
pub struct CountingJobs {
    pub sent: Mutex<Vec<VoucherPostingJob>>,
    pub fail: Mutex<bool>,
}

#[async_trait]
impl PostingJobs for CountingJobs {
    async fn send(&self, job: &VoucherPostingJob) -> Result<(), String> {
        if *self.fail.lock().unwrap() {
            return Err("queue unavailable (test)".into());
        }
        self.sent.lock().unwrap().push(job.clone());
        Ok(())
    }
}

impl CountingJobs {
    pub fn keys(&self) -> Vec<String> {
        self.sent
            .lock()
            .unwrap()
            .iter()
            .map(|j| j.idempotency_key.clone())
            .collect()
    }
}

/// One test's table with an organization, an account and its integration.
pub struct World {
    pub ddb: aws_sdk_dynamodb::Client,
    pub sdk: aws_config::SdkConfig,
    pub store: DynamoStore,
    pub table: String,
    pub org: OrgId,
    pub account: AccountId,
    pub integration: IntegrationId,
    pub jobs: Arc<CountingJobs>,
}

pub fn run_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

pub fn t(y: i32, m: u32, d: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, 9, 0, 0).unwrap()
}

pub fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

pub fn kr(v: i64) -> Money {
    Money::from_kroner(v)
}

impl World {
    /// A fresh table; an account of `org` with an integration (`daysPastDue`).
    pub async fn new(org: &str, days_past_due: u16) -> World {
        moto();
        let sdk = shared::aws::sdk_config().await;
        let ddb = aws_sdk_dynamodb::Client::new(&sdk);
        let table = format!("inndrive-claims-{}", &run_id()[..12]);
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
        let store = DynamoStore::new(ddb.clone(), table.clone());
        let org = OrgId::parse(org).unwrap();
        let (account, integration) = add_account(&store, &org, days_past_due).await;
        World {
            ddb,
            sdk,
            store,
            table,
            org,
            account,
            integration,
            jobs: Arc::new(CountingJobs::default()),
        }
    }

    /// A message of this world's account.
    pub fn msg(&self, event: LedgerEvent) -> ClassificationMessage {
        ClassificationMessage {
            org: self.org.clone(),
            account_id: self.account.clone(),
            integration_id: self.integration.clone(),
            event,
        }
    }

    /// The raw stored claim item's `rev` (to show that nothing was written).
    pub async fn claim_rev(&self, claim: &str) -> Option<u64> {
        self.store
            .get_claim(
                &self.org,
                &self.account,
                &shared::domain::claim::ClaimId::parse(claim).unwrap(),
            )
            .await
            .unwrap()
            .map(|r| r.rev)
    }
}

/// Stores an account, a key and an integration for `org` (the integration's `daysPastDue`).
pub async fn add_account(
    store: &DynamoStore,
    org: &OrgId,
    days_past_due: u16,
) -> (AccountId, IntegrationId) {
    let at = t(2026, 1, 1);
    let account = AccountId::from_suffix(&run_id()).unwrap();
    let key = KeyId::from_suffix(&run_id()).unwrap();
    let integration = IntegrationId::from_suffix(&run_id()).unwrap();
    assert!(store
        .put_account(&Account {
            id: account.clone(),
            org: org.clone(),
            name: "Fjordkraft Rørlegger AS".into(),
            organization_number: None,
            created_at: at,
        })
        .await
        .unwrap());
    assert!(store
        .put_key(&TripletexKey {
            id: key.clone(),
            org: org.clone(),
            label: "test".into(),
            accountant_key: false,
            company_id: 2001,
            company_name: None,
            token_hint: "abcd".into(),
            created_at: at,
            integration_count: 0,
        })
        .await
        .unwrap());
    let created = store
        .create_integration(&Integration {
            id: integration.clone(),
            org: org.clone(),
            account_id: account.clone(),
            settings: IntegrationSettings {
                key_id: key,
                client_company_id: 2001,
                fetch_from: date(2025, 1, 1),
                days_past_due,
                update_addresses_from_brreg: false,
                include_saft_imported: false,
                include_null_voucher_type: false,
            },
            accountant_key: false,
            client_company_name: None,
            status: IntegrationStatus::Ready,
            version: 1,
            initial_sync_version: 1,
            initial_sync_enqueued: true,
            progress: None,
            last_sync: None,
            created_at: at,
            updated_at: at,
        })
        .await
        .unwrap();
    assert_eq!(
        created,
        shared::store::setup::CreateIntegration::Created,
        "integration stored"
    );
    (account, integration)
}

// ------------------------------------------------------------------ ledger events

/// The invoice `inv_{id}` as the sync mirrors it (voucher `id + 500000`).
pub fn mirrored(
    invoice_id: i64,
    customer: i64,
    principal: Money,
    invoice_date: NaiveDate,
    due: NaiveDate,
) -> LedgerEvent {
    let facts = ClaimFacts {
        source: ItemSource::Invoice,
        customer_id: customer,
        invoice_id: Some(invoice_id),
        invoice_number: Some(format!("{}", invoice_id + 10000)),
        voucher_id: Some(invoice_id + 500_000),
        principal,
        date: invoice_date,
        due_date: Some(due),
        due_date_estimated: false,
        source_version: Some(1),
    };
    LedgerEvent::ItemMirrored(ItemMirroredEvent {
        key: format!("mirror:inv_{invoice_id}:{}", facts.hash()),
        item_id: format!("inv_{invoice_id}"),
        facts,
    })
}

/// A debit counter-posting.
pub fn debit(account: u32, amount: i64) -> CounterPosting {
    CounterPosting {
        account_number: account,
        account_name: None,
        amount: Decimal::from(amount),
    }
}

/// A credit posting of `amount` kroner on `inv_{invoice_id}`, with the voucher's text and
/// counter-postings as the sync reads them. `preliminary` is what the sync thought.
pub struct CreditSpec {
    pub invoice_id: i64,
    pub customer: i64,
    pub posting_id: i64,
    pub voucher_id: i64,
    pub date: NaiveDate,
    pub amount: i64,
    pub text: &'static str,
    pub counter: Vec<CounterPosting>,
    pub posting_type: Option<&'static str>,
    pub reverses: Option<i64>,
    pub item_status: ItemStatus,
}

impl CreditSpec {
    pub fn new(invoice_id: i64, posting_id: i64, date: NaiveDate, amount: i64) -> Self {
        Self {
            invoice_id,
            customer: 40001,
            posting_id,
            voucher_id: posting_id + 100_000,
            date,
            amount,
            text: "Innbetaling",
            counter: vec![debit(1920, amount)],
            posting_type: None,
            reverses: None,
            item_status: ItemStatus::Open,
        }
    }

    pub fn text(mut self, text: &'static str) -> Self {
        self.text = text;
        self
    }

    pub fn counter(mut self, counter: Vec<CounterPosting>) -> Self {
        self.counter = counter;
        self
    }

    pub fn reverses(mut self, voucher: i64) -> Self {
        self.reverses = Some(voucher);
        self
    }

    pub fn status(mut self, s: ItemStatus) -> Self {
        self.item_status = s;
        self
    }

    pub fn event(self) -> LedgerEvent {
        let evidence = CreditEvidence {
            voucher_description: Some(self.text.to_string()),
            posting_type: self.posting_type.map(str::to_string),
            counter_postings: self.counter,
            reverses_voucher_id: self.reverses,
            ..CreditEvidence::default()
        };
        let preliminary = shared::domain::classify::classify(&evidence).kind;
        let line = CreditLine {
            posting_id: self.posting_id,
            posting_version: Some(1),
            date: self.date,
            amount: Money::from_kroner(-self.amount),
            voucher_id: Some(self.voucher_id),
            close_group_id: None,
            reversed_by: None,
            voucher_read: true,
            evidence,
            preliminary_kind: preliminary,
            needs_review: preliminary == CreditKind::Unknown,
        };
        LedgerEvent::Credit(Box::new(CreditEvent {
            key: line.event_key(),
            item_id: format!("inv_{}", self.invoice_id),
            customer_id: self.customer,
            item_status: self.item_status,
            credit: line,
        }))
    }
}

pub fn overdue(invoice_id: i64, customer: i64, due: NaiveDate, owed: Money) -> LedgerEvent {
    LedgerEvent::ItemOverdue(ItemOverdueEvent {
        key: format!("overdue:inv_{invoice_id}:{due}"),
        item_id: format!("inv_{invoice_id}"),
        customer_id: customer,
        due_date: due,
        due_date_estimated: false,
        owed,
        status: ItemStatus::Open,
    })
}

pub fn closed(invoice_id: i64, customer: i64) -> LedgerEvent {
    LedgerEvent::ItemClosed(ItemClosedEvent {
        key: format!("closed:inv_{invoice_id}:0000000000000000"),
        item_id: format!("inv_{invoice_id}"),
        customer_id: customer,
        previous_status: ItemStatus::Open,
    })
}
