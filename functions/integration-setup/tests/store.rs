//! The DynamoDB store's conditional writes and transactions against moto: the outcomes the service
//! relies on for idempotency and for never deleting a key under an integration.

mod common;

use chrono::{NaiveDate, TimeZone, Utc};
use common::World;
use shared::adapters::store::keys;
use shared::adapters::store::setup::{CreateIntegration, DeleteKey, UpdateIntegration};
use shared::domain::setup::{
    Account, AccountId, Integration, IntegrationId, IntegrationSettings, IntegrationStatus, KeyId,
    OrgId, TripletexKey,
};

fn suffix() -> String {
    uuid::Uuid::now_v7().simple().to_string()
}

fn org() -> OrgId {
    OrgId::parse("org_store").unwrap()
}

async fn account(w: &World) -> AccountId {
    let a = Account {
        id: AccountId::from_suffix(&suffix()).unwrap(),
        org: org(),
        name: "Konto AS".into(),
        organization_number: None,
        created_at: Utc::now(),
    };
    assert!(w.store.put_account(&a).await.unwrap());
    assert!(
        !w.store.put_account(&a).await.unwrap(),
        "second put of the same id is refused"
    );
    a.id
}

async fn key(w: &World) -> KeyId {
    let k = TripletexKey {
        id: KeyId::from_suffix(&suffix()).unwrap(),
        org: org(),
        label: "k".into(),
        accountant_key: true,
        company_id: 1001,
        company_name: Some("Regnskap Nord AS".into()),
        token_hint: "0001".into(),
        created_at: Utc::now(),
        integration_count: 0,
    };
    assert!(w.store.put_key(&k).await.unwrap());
    k.id
}

fn integration(account: &AccountId, key: &KeyId) -> Integration {
    let t = Utc.with_ymd_and_hms(2026, 3, 10, 9, 0, 0).unwrap();
    Integration {
        id: IntegrationId::from_suffix(&suffix()).unwrap(),
        org: org(),
        account_id: account.clone(),
        settings: IntegrationSettings {
            key_id: key.clone(),
            client_company_id: 2001,
            fetch_from: NaiveDate::from_ymd_opt(2025, 1, 1).unwrap(),
            days_past_due: 14,
            update_addresses_from_brreg: true,
            write_addresses_to_tripletex: false,
            include_saft_imported: false,
            include_null_voucher_type: false,
            voucher_posting: Default::default(),
        },
        accountant_key: true,
        client_company_name: Some("Fjordkraft Rørlegger AS".into()),
        status: IntegrationStatus::Pending,
        version: 1,
        initial_sync_version: 1,
        initial_sync_enqueued: false,
        progress: None,
        last_sync: None,
        created_at: t,
        updated_at: t,
    }
}

async fn count(w: &World, key: &KeyId) -> u32 {
    w.store
        .get_key(&org(), key)
        .await
        .unwrap()
        .unwrap()
        .integration_count
}

#[tokio::test]
async fn create_is_conditional_and_counts_the_key() {
    let w = World::new().await;
    let acc = account(&w).await;
    let k = key(&w).await;
    let first = integration(&acc, &k);
    assert_eq!(
        w.store.create_integration(&first).await.unwrap(),
        CreateIntegration::Created
    );
    // A second create for the same account (another id, as a concurrent request would have).
    let second = integration(&acc, &k);
    assert_eq!(
        w.store.create_integration(&second).await.unwrap(),
        CreateIntegration::AlreadyExists
    );
    assert_eq!(
        count(&w, &k).await,
        1,
        "the losing transaction did not count"
    );
    let stored = w
        .store
        .get_integration(&org(), &acc)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored, first);

    // A deleted key or a missing account: nothing written.
    let other_acc = account(&w).await;
    let gone = KeyId::from_suffix(&suffix()).unwrap();
    assert_eq!(
        w.store
            .create_integration(&integration(&other_acc, &gone))
            .await
            .unwrap(),
        CreateIntegration::KeyMissing
    );
    assert!(
        w.store.get_key(&org(), &gone).await.unwrap().is_none(),
        "no phantom key item"
    );
    let no_acc = AccountId::from_suffix(&suffix()).unwrap();
    assert_eq!(
        w.store
            .create_integration(&integration(&no_acc, &k))
            .await
            .unwrap(),
        CreateIntegration::AccountMissing
    );
    assert!(w
        .store
        .get_integration(&org(), &other_acc)
        .await
        .unwrap()
        .is_none());
    assert_eq!(count(&w, &k).await, 1);
}

#[tokio::test]
async fn a_key_in_use_is_not_deleted_until_its_integration_moves() {
    let w = World::new().await;
    let acc = account(&w).await;
    let k1 = key(&w).await;
    let k2 = key(&w).await;
    let i = integration(&acc, &k1);
    w.store.create_integration(&i).await.unwrap();
    assert_eq!(
        w.store.delete_key(&org(), &k1).await.unwrap(),
        DeleteKey::InUse(1)
    );

    // Stale version: refused, counts untouched.
    let mut moved = i.clone();
    moved.settings.key_id = k2.clone();
    moved.version = 2;
    assert_eq!(
        w.store
            .update_integration(&moved, 7, &k1, true)
            .await
            .unwrap(),
        UpdateIntegration::VersionConflict
    );
    assert_eq!((count(&w, &k1).await, count(&w, &k2).await), (1, 0));

    // Moving to a key that does not exist: refused as a whole.
    let mut to_nowhere = moved.clone();
    to_nowhere.settings.key_id = KeyId::from_suffix(&suffix()).unwrap();
    assert_eq!(
        w.store
            .update_integration(&to_nowhere, 1, &k1, true)
            .await
            .unwrap(),
        UpdateIntegration::KeyMissing
    );
    assert_eq!(
        w.store
            .get_integration(&org(), &acc)
            .await
            .unwrap()
            .unwrap()
            .version,
        1
    );

    // The real move: both counts change with the integration, indexes follow.
    moved.initial_sync_version = 2;
    assert_eq!(
        w.store
            .update_integration(&moved, 1, &k1, true)
            .await
            .unwrap(),
        UpdateIntegration::Updated
    );
    assert_eq!((count(&w, &k1).await, count(&w, &k2).await), (0, 1));
    assert!(w
        .store
        .integrations_using_key(&k1)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(w.store.integrations_using_key(&k2).await.unwrap().len(), 1);
    let stored = w
        .store
        .get_integration(&org(), &acc)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.settings.key_id, k2);
    assert_eq!(
        (
            stored.version,
            stored.initial_sync_version,
            stored.initial_sync_enqueued
        ),
        (2, 2, false)
    );

    assert_eq!(
        w.store.delete_key(&org(), &k1).await.unwrap(),
        DeleteKey::Deleted
    );
    assert_eq!(
        w.store.delete_key(&org(), &k1).await.unwrap(),
        DeleteKey::NotFound
    );
    assert_eq!(
        w.store.delete_key(&org(), &k2).await.unwrap(),
        DeleteKey::InUse(1)
    );
}

#[tokio::test]
async fn the_enqueued_flag_belongs_to_one_initial_sync_version() {
    let w = World::new().await;
    let acc = account(&w).await;
    let k = key(&w).await;
    w.store
        .create_integration(&integration(&acc, &k))
        .await
        .unwrap();
    assert!(!w
        .store
        .mark_initial_sync_enqueued(&org(), &acc, 2)
        .await
        .unwrap());
    assert!(
        !w.store
            .get_integration(&org(), &acc)
            .await
            .unwrap()
            .unwrap()
            .initial_sync_enqueued
    );
    assert!(w
        .store
        .mark_initial_sync_enqueued(&org(), &acc, 1)
        .await
        .unwrap());
    assert!(
        w.store
            .get_integration(&org(), &acc)
            .await
            .unwrap()
            .unwrap()
            .initial_sync_enqueued
    );
    let other = AccountId::from_suffix(&suffix()).unwrap();
    assert!(
        !w.store
            .mark_initial_sync_enqueued(&org(), &other, 1)
            .await
            .unwrap(),
        "no item is created"
    );
    assert!(w
        .store
        .get_integration(&org(), &other)
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn a_settings_only_update_keeps_what_the_sync_worker_wrote() {
    let w = World::new().await;
    let acc = account(&w).await;
    let k = key(&w).await;
    let i = integration(&acc, &k);
    w.store.create_integration(&i).await.unwrap();
    // The sync worker moves the status on (its own UpdateItem).
    w.ddb
        .update_item()
        .table_name(&w.table)
        .key(
            "PK",
            aws_sdk_dynamodb::types::AttributeValue::S(keys::org_pk(&org())),
        )
        .key(
            "SK",
            aws_sdk_dynamodb::types::AttributeValue::S(keys::integration_sk(&acc)),
        )
        .update_expression("SET #s = :s")
        .expression_attribute_names("#s", "status")
        .expression_attribute_values(
            ":s",
            aws_sdk_dynamodb::types::AttributeValue::S("ready".into()),
        )
        .send()
        .await
        .unwrap();
    let mut next = i.clone();
    next.settings.days_past_due = 30;
    next.version = 2;
    assert_eq!(
        w.store
            .update_integration(&next, 1, &k, false)
            .await
            .unwrap(),
        UpdateIntegration::Updated
    );
    let stored = w
        .store
        .get_integration(&org(), &acc)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.status, IntegrationStatus::Ready, "status kept");
    assert_eq!(stored.settings.days_past_due, 30);
    assert_eq!(count(&w, &k).await, 1);
}

#[tokio::test]
async fn the_sync_worker_moves_status_and_progress_of_the_current_integration_only() {
    use shared::domain::setup::{LastSync, SyncProgress};
    let w = World::new().await;
    let acc = account(&w).await;
    let k = key(&w).await;
    let i = integration(&acc, &k);
    w.store.create_integration(&i).await.unwrap();
    let progress = SyncProgress {
        step: "invoices".into(),
        done: 40,
        total: Some(100),
    };
    assert!(w
        .store
        .update_sync_state(
            &org(),
            &acc,
            &i.id,
            IntegrationStatus::Syncing,
            Some(&progress),
            None
        )
        .await
        .unwrap());
    let got = w
        .store
        .get_integration(&org(), &acc)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (got.status, got.progress.as_ref()),
        (IntegrationStatus::Syncing, Some(&progress))
    );
    assert_eq!(got.version, 1, "settings version untouched");

    let done = LastSync {
        finished_at: Utc.with_ymd_and_hms(2026, 3, 10, 10, 0, 0).unwrap(),
        succeeded: true,
        message: None,
    };
    assert!(w
        .store
        .update_sync_state(
            &org(),
            &acc,
            &i.id,
            IntegrationStatus::Ready,
            None,
            Some(&done)
        )
        .await
        .unwrap());
    let got = w
        .store
        .get_integration(&org(), &acc)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.status, IntegrationStatus::Ready);
    assert_eq!(got.progress, None);
    assert_eq!(got.last_sync, Some(done));

    // A job for an integration that was replaced does nothing.
    let stale = IntegrationId::from_suffix(&suffix()).unwrap();
    assert!(!w
        .store
        .update_sync_state(&org(), &acc, &stale, IntegrationStatus::Failed, None, None)
        .await
        .unwrap());
    assert_eq!(
        w.store
            .get_integration(&org(), &acc)
            .await
            .unwrap()
            .unwrap()
            .status,
        IntegrationStatus::Ready
    );
}
