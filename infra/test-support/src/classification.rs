//! The world of the classification and case tests (shared's and the loss-classification and
//! cases-api functions'): template.yaml's table under a stage of its own, an account with its
//! integration, a counting voucher-posting queue, and builders of the ledger events the sync sends.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use rust_decimal::Decimal;

use crate::{id_suffix, moto, Stack};
use shared::adapters::queue::ClassificationMessage;
use shared::adapters::store::DynamoStore;
use shared::domain::claim::{VoucherPostingJob, VoucherUndoJob};
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
use shared::services::classification::PostingJobs;

/// A voucher-posting queue that counts what it was given (and can be told to fail).
#[derive(Default)]
pub struct CountingJobs {
    pub sent: Mutex<Vec<VoucherPostingJob>>,
    pub undone: Mutex<Vec<VoucherUndoJob>>,
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
    async fn send_undo(&self, job: &VoucherUndoJob) -> Result<(), String> {
        if *self.fail.lock().unwrap() {
            return Err("queue unavailable (test)".into());
        }
        self.undone.lock().unwrap().push(job.clone());
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

/// A new id suffix (32 hex digits).
pub fn run_id() -> String {
    id_suffix()
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
        let sdk = shared::adapters::aws::sdk_config().await;
        let ddb = aws_sdk_dynamodb::Client::new(&sdk);
        let table = Stack::provision(&sdk, &["Table"], None).await.table();
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
                write_addresses_to_tripletex: false,
                include_saft_imported: false,
                include_null_voucher_type: false,
                voucher_posting: Default::default(),
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
        shared::adapters::store::setup::CreateIntegration::Created,
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
        cross_check: None,
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
