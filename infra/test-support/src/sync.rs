//! The world of the ledger sync's tests: template.yaml's table, sync queue and classification
//! queue under a stage of their own, the Tripletex sandbox with a scenario company
//! (`tripletex_sandbox::scenario`), an account with its key (the token in Secrets Manager) and
//! integration, and the real engine ([`World::service`]) as the worker builds it.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{NaiveDate, Utc};
use secrecy::SecretString;
use serde_json::Value;
use shared::adapters::brreg::{BrregClient, CachedBrreg, DynamoBrregCache};
use shared::adapters::mail::{DynamoSentMailLog, Mailer};
use shared::adapters::queue::{ClassificationQueue, SyncJob, SyncReason};
use shared::adapters::secrets::Secrets;
use shared::adapters::store::keys::{org_pk, PROFILE_SK};
use shared::adapters::store::ledger::{PageRequest, StoredCustomer};
use shared::adapters::store::DynamoStore;
use shared::adapters::tripletex::{RetryPolicy, TripletexClient};
use shared::clock::Clock;
use shared::domain::ledger::{LedgerItem, LedgerQuery, SkipReason, SkipRecord};
use shared::domain::setup::{
    Account, AccountId, Integration, IntegrationId, IntegrationSettings, IntegrationStatus, KeyId,
    OrgId, TripletexKey,
};
use shared::services::sync::{job_for, ReadyMail, SyncConfig, SyncService, TripletexSource};
pub use tripletex_sandbox::scenario::*;
use tripletex_sandbox::{Faults, Fixture, SandboxHandle};

use crate::{drain_fifo, id_suffix, moto, sent_messages, verified_sender, Stack};

/// A date, `YYYY-MM-DD`.
pub fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

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
    /// The clock of [`World::service`] and [`World::job`]: the system's unless a test sets one.
    pub clock: Clock,
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
        voucher_posting: Default::default(),
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
        let stack =
            Stack::provision(&sdk, &["Table", "SyncQueue", "ClassificationQueue"], None).await;
        let resources = Resources {
            table: stack.table(),
            sync_queue_url: stack.queue_url("SyncQueue"),
            class_queue_url: stack.queue_url("ClassificationQueue"),
            secret_prefix: stack.env("SECRET_PREFIX"),
            mail_from: verified_sender(&sdk, "noreply").await,
        };
        let sandbox =
            tripletex_sandbox::start_in_thread(fixture, Faults::default()).expect("sandbox starts");
        Self::populate(sdk, resources, sandbox, client, settings).await
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
        let run = id_suffix()[..12].to_string();

        let store = DynamoStore::new(ddb.clone(), table.clone());
        let org = OrgId::parse(&format!("org_{}", &run[..8])).unwrap();
        let now = Utc::now();
        let account = Account {
            id: AccountId::from_suffix(&id_suffix()).unwrap(),
            org: org.clone(),
            name: "Fjordkraft Rørlegger AS".into(),
            organization_number: None,
            created_at: now,
        };
        let key_id = KeyId::from_suffix(&id_suffix()).unwrap();
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
            id: IntegrationId::from_suffix(&id_suffix()).unwrap(),
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
            clock: shared::clock::system(),
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
            clock: self.clock.clone(),
        }
    }

    pub fn job(&self, reason: SyncReason) -> SyncJob {
        job_for(&self.integration, reason, (self.clock)())
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

    /// The organization's contact address, which the ready mail goes to (no endpoint writes it).
    pub async fn set_contact_email(&self, email: &str) {
        self.ddb
            .put_item()
            .table_name(&self.table)
            .item("PK", AttributeValue::S(org_pk(&self.org)))
            .item("SK", AttributeValue::S(PROFILE_SK.into()))
            .item("contactEmail", AttributeValue::S(email.into()))
            .send()
            .await
            .unwrap();
    }

    /// Receives and deletes every message of the classification queue: (group, dedup id, body).
    /// A body is a `ClassificationBatch`: one customer group's events (see [`events_of`]).
    pub async fn drain_classification(&self) -> Vec<(String, String, Value)> {
        drain_fifo(&self.sqs, &self.class_queue_url).await
    }

    /// Receives and deletes every message of the sync queue: (group, dedup id, body).
    pub async fn drain_sync_queue(&self) -> Vec<(String, String, Value)> {
        drain_fifo(&self.sqs, &self.sync_queue_url).await
    }

    pub async fn items(&self) -> BTreeMap<String, LedgerItem> {
        let page = self
            .store
            .list_items(
                &self.org,
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
            .list_customers(&self.org, &self.account, &PageRequest::first(1000))
            .await
            .unwrap();
        page.items.into_iter().map(|c| (c.customer.id, c)).collect()
    }

    pub async fn skips(&self, reason: SkipReason) -> Vec<SkipRecord> {
        self.store
            .list_skips(&self.org, &self.account, reason, &PageRequest::first(1000))
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
        sent_messages()
            .await
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
