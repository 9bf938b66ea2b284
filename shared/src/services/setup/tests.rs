//! The setup service against in-memory fakes of its ports (DynamoDB, Secrets Manager, SQS and
//! Tripletex are met in the function crate's tests, against moto and the sandbox).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{TimeZone, Utc};
use secrecy::{ExposeSecret, SecretString};

use super::*;

// ------------------------------------------------------------------ fakes

#[derive(Default)]
struct MemStore {
    accounts: Mutex<BTreeMap<(OrgId, AccountId), Account>>,
    keys: Mutex<BTreeMap<(OrgId, KeyId), TripletexKey>>,
    integrations: Mutex<BTreeMap<(OrgId, AccountId), Integration>>,
    fail_put_key: Mutex<bool>,
}

#[async_trait]
impl SetupStore for MemStore {
    async fn put_account(&self, a: &Account) -> Result<bool, StoreError> {
        let mut m = self.accounts.lock().unwrap();
        let k = (a.org.clone(), a.id.clone());
        if m.contains_key(&k) {
            return Ok(false);
        }
        m.insert(k, a.clone());
        Ok(true)
    }
    async fn get_account(
        &self,
        org: &OrgId,
        id: &AccountId,
    ) -> Result<Option<Account>, StoreError> {
        Ok(self
            .accounts
            .lock()
            .unwrap()
            .get(&(org.clone(), id.clone()))
            .cloned())
    }
    async fn list_accounts(&self, org: &OrgId) -> Result<Vec<Account>, StoreError> {
        Ok(self
            .accounts
            .lock()
            .unwrap()
            .values()
            .filter(|a| &a.org == org)
            .cloned()
            .collect())
    }
    async fn put_key(&self, k: &TripletexKey) -> Result<bool, StoreError> {
        if *self.fail_put_key.lock().unwrap() {
            return Err(StoreError::Service("injected failure".into()));
        }
        let mut m = self.keys.lock().unwrap();
        let id = (k.org.clone(), k.id.clone());
        if m.contains_key(&id) {
            return Ok(false);
        }
        m.insert(id, k.clone());
        Ok(true)
    }
    async fn get_key(&self, org: &OrgId, id: &KeyId) -> Result<Option<TripletexKey>, StoreError> {
        Ok(self
            .keys
            .lock()
            .unwrap()
            .get(&(org.clone(), id.clone()))
            .cloned())
    }
    async fn list_keys(&self, org: &OrgId) -> Result<Vec<TripletexKey>, StoreError> {
        Ok(self
            .keys
            .lock()
            .unwrap()
            .values()
            .filter(|k| &k.org == org)
            .cloned()
            .collect())
    }
    async fn delete_key(&self, org: &OrgId, id: &KeyId) -> Result<DeleteKey, StoreError> {
        let mut m = self.keys.lock().unwrap();
        let k = (org.clone(), id.clone());
        match m.get(&k) {
            None => Ok(DeleteKey::NotFound),
            Some(key) if key.integration_count > 0 => Ok(DeleteKey::InUse(key.integration_count)),
            Some(_) => {
                m.remove(&k);
                Ok(DeleteKey::Deleted)
            }
        }
    }
    async fn get_integration(
        &self,
        org: &OrgId,
        account: &AccountId,
    ) -> Result<Option<Integration>, StoreError> {
        Ok(self
            .integrations
            .lock()
            .unwrap()
            .get(&(org.clone(), account.clone()))
            .cloned())
    }
    async fn create_integration(&self, i: &Integration) -> Result<CreateIntegration, StoreError> {
        let mut ints = self.integrations.lock().unwrap();
        let mut keys = self.keys.lock().unwrap();
        let id = (i.org.clone(), i.account_id.clone());
        if ints.contains_key(&id) {
            return Ok(CreateIntegration::AlreadyExists);
        }
        let Some(key) = keys.get_mut(&(i.org.clone(), i.settings.key_id.clone())) else {
            return Ok(CreateIntegration::KeyMissing);
        };
        if !self.accounts.lock().unwrap().contains_key(&id) {
            return Ok(CreateIntegration::AccountMissing);
        }
        key.integration_count += 1;
        ints.insert(id, i.clone());
        Ok(CreateIntegration::Created)
    }
    async fn update_integration(
        &self,
        i: &Integration,
        expected_version: u32,
        previous_key: &KeyId,
        _resync: bool,
    ) -> Result<UpdateIntegration, StoreError> {
        let mut ints = self.integrations.lock().unwrap();
        let mut keys = self.keys.lock().unwrap();
        let id = (i.org.clone(), i.account_id.clone());
        match ints.get(&id) {
            Some(cur) if cur.version == expected_version => {}
            _ => return Ok(UpdateIntegration::VersionConflict),
        }
        if *previous_key != i.settings.key_id {
            let Some(new) = keys.get_mut(&(i.org.clone(), i.settings.key_id.clone())) else {
                return Ok(UpdateIntegration::KeyMissing);
            };
            new.integration_count += 1;
            if let Some(old) = keys.get_mut(&(i.org.clone(), previous_key.clone())) {
                old.integration_count -= 1;
            }
        }
        ints.insert(id, i.clone());
        Ok(UpdateIntegration::Updated)
    }
    async fn mark_initial_sync_enqueued(
        &self,
        org: &OrgId,
        account: &AccountId,
        v: u32,
    ) -> Result<bool, StoreError> {
        let mut ints = self.integrations.lock().unwrap();
        match ints.get_mut(&(org.clone(), account.clone())) {
            Some(i) if i.initial_sync_version == v => {
                i.initial_sync_enqueued = true;
                Ok(true)
            }
            _ => Ok(false),
        }
    }
}

#[derive(Default)]
struct MemVault {
    secrets: Mutex<HashMap<String, String>>,
}

fn vault_name(org: &OrgId, key: &KeyId) -> String {
    format!("{org}/{key}")
}

#[async_trait]
impl TokenVault for MemVault {
    async fn create(
        &self,
        org: &OrgId,
        key: &KeyId,
        token: &SecretString,
    ) -> Result<(), SecretsError> {
        let mut secrets = self.secrets.lock().unwrap();
        if secrets.contains_key(&vault_name(org, key)) {
            return Err(SecretsError::AlreadyExists(vault_name(org, key)));
        }
        secrets.insert(vault_name(org, key), token.expose_secret().to_string());
        Ok(())
    }
    async fn get(&self, org: &OrgId, key: &KeyId) -> Result<SecretString, SecretsError> {
        self.secrets
            .lock()
            .unwrap()
            .get(&vault_name(org, key))
            .map(|s| SecretString::from(s.clone()))
            .ok_or_else(|| SecretsError::NotFound(vault_name(org, key)))
    }
    async fn delete(&self, org: &OrgId, key: &KeyId) -> Result<(), SecretsError> {
        self.secrets.lock().unwrap().remove(&vault_name(org, key));
        Ok(())
    }
}

/// Keeps the jobs and, like a FIFO queue, drops a second message with a deduplication id it has seen.
#[derive(Default)]
struct MemQueue {
    jobs: Mutex<Vec<SyncJob>>,
    seen: Mutex<Vec<String>>,
    fail: Mutex<bool>,
}

#[async_trait]
impl JobQueue for MemQueue {
    async fn enqueue(&self, job: &SyncJob) -> Result<(), QueueError> {
        if *self.fail.lock().unwrap() {
            return Err(QueueError::Service("injected failure".into()));
        }
        let mut seen = self.seen.lock().unwrap();
        if !seen.contains(&job.deduplication_id()) {
            seen.push(job.deduplication_id());
            self.jobs.lock().unwrap().push(job.clone());
        }
        Ok(())
    }
}

/// A Tripletex that knows a few keys: "acct-key-000000" (accountant; clients 1 full, 2 no vouchers,
/// 3 API access off), "own-key-00000000" (ordinary, company 50), everything else refused.
#[derive(Default)]
struct FakeTripletex {
    calls: Mutex<Vec<String>>,
    down: Mutex<bool>,
}

const ACCT: &str = "acct-key-000000";
const OWN: &str = "own-key-00000000";

fn company(id: i64, name: &str) -> ReachableCompany {
    ReachableCompany {
        company_id: id,
        name: name.into(),
        organization_number: None,
    }
}

impl FakeTripletex {
    fn pre(&self, what: &str) -> Result<(), GatewayError> {
        self.calls.lock().unwrap().push(what.to_string());
        if *self.down.lock().unwrap() {
            return Err(GatewayError::Unavailable {
                message: "down".into(),
                retry_after_secs: 30,
            });
        }
        Ok(())
    }
}

fn refused(fix: TripletexFix) -> GatewayError {
    GatewayError::Refused {
        fix: Some(fix),
        status: 401,
        message: "nope".into(),
        request_id: None,
        refused_endpoints: vec![],
    }
}

#[async_trait]
impl TripletexGateway for FakeTripletex {
    async fn verify_key(
        &self,
        key: &EmployeeCredential,
        accountant: bool,
    ) -> Result<VerifiedKey, GatewayError> {
        self.pre("verify")?;
        match (key.token.expose_secret(), accountant) {
            (ACCT, _) => Ok(VerifiedKey {
                company_id: 10,
                company_name: Some("Regnskap AS".into()),
                company_org_number: None,
            }),
            (OWN, false) => Ok(VerifiedKey {
                company_id: 50,
                company_name: Some("Solberg Elektro AS".into()),
                company_org_number: None,
            }),
            (OWN, true) => Err(refused(TripletexFix::NotAnAccountantKey)),
            _ => Err(refused(TripletexFix::KeyDeletedOrExpired)),
        }
    }
    async fn list_clients(
        &self,
        key: &EmployeeCredential,
        accountant: bool,
    ) -> Result<Vec<ReachableCompany>, GatewayError> {
        self.pre("clients")?;
        match (key.token.expose_secret(), accountant) {
            (ACCT, true) => Ok(vec![
                company(1, "Fjordkraft"),
                company(2, "Bakeriet"),
                company(3, "Kaffe"),
            ]),
            (OWN, false) => Ok(vec![company(50, "Solberg Elektro AS")]),
            _ => Err(refused(TripletexFix::KeyDeletedOrExpired)),
        }
    }
    async fn check_client_access(
        &self,
        key: &EmployeeCredential,
        accountant: bool,
        id: i64,
    ) -> Result<ReachableCompany, GatewayError> {
        self.pre("check")?;
        match (key.token.expose_secret(), accountant, id) {
            (ACCT, true, 1) => Ok(company(1, "Fjordkraft")),
            (ACCT, true, 2) => Err(refused(TripletexFix::GrantAllAccess)),
            (ACCT, true, 3) => Err(refused(TripletexFix::EnableApiAccessInClient)),
            (ACCT, true, _) => Err(refused(TripletexFix::LinkKeyToClient)),
            (OWN, false, 50) => Ok(company(50, "Solberg Elektro AS")),
            (OWN, false, _) => Err(refused(TripletexFix::OrdinaryKeyOwnCompanyOnly)),
            _ => Err(refused(TripletexFix::KeyDeletedOrExpired)),
        }
    }
    async fn existing_accounts(
        &self,
        _key: &EmployeeCredential,
        _accountant: bool,
        _company_id: i64,
        numbers: &[u32],
    ) -> Result<Vec<u32>, GatewayError> {
        self.pre("accounts")?;
        // The chart of the fake: the standard accounts, and no 3901.
        Ok(numbers
            .iter()
            .copied()
            .filter(|n| [1500, 3900, 7820, 8050, 8055].contains(n))
            .collect())
    }
}

struct World {
    svc: SetupService,
    store: Arc<MemStore>,
    vault: Arc<MemVault>,
    queue: Arc<MemQueue>,
    tx: Arc<FakeTripletex>,
}

fn world() -> World {
    let store = Arc::new(MemStore::default());
    let vault = Arc::new(MemVault::default());
    let queue = Arc::new(MemQueue::default());
    let tx = Arc::new(FakeTripletex::default());
    let svc = SetupService::new(store.clone(), vault.clone(), queue.clone(), tx.clone())
        .with_clock(Arc::new(|| {
            Utc.with_ymd_and_hms(2026, 3, 10, 9, 0, 0).unwrap()
        }));
    World {
        svc,
        store,
        vault,
        queue,
        tx,
    }
}

fn org(s: &str) -> OrgId {
    OrgId::parse(s).unwrap()
}

fn key_req(token: &str, accountant: bool) -> CreateKeyRequest {
    CreateKeyRequest {
        label: "Kontorets nøkkel".into(),
        employee_token: SecretString::from(token.to_string()),
        accountant_key: accountant,
    }
}

fn put_req(key: &KeyId, company: i64) -> PutIntegrationRequest {
    PutIntegrationRequest {
        key_id: key.to_string(),
        client_company_id: company,
        fetch_from: NaiveDate::from_ymd_opt(2025, 1, 1).unwrap(),
        days_past_due: 14,
        update_addresses_from_brreg: true,
        write_addresses_to_tripletex: false,
        include_saft_imported: false,
        include_null_voucher_type: false,
        voucher_posting: None,
    }
}

async fn account(w: &World, o: &OrgId, name: &str) -> Account {
    w.svc
        .create_account(
            o,
            CreateAccountRequest {
                name: name.into(),
                organization_number: None,
            },
            None,
        )
        .await
        .unwrap()
        .0
}

// ------------------------------------------------------------------ tests

#[tokio::test]
async fn a_rejected_key_stores_nothing_and_says_which_fix() {
    let w = world();
    let o = org("org_a");
    let err = w
        .svc
        .create_key(&o, key_req("deleted-key-123456", true))
        .await
        .unwrap_err();
    match err {
        SetupError::TripletexRefused { field, fix, .. } => {
            assert_eq!(field, "employeeToken");
            assert_eq!(fix, Some(TripletexFix::KeyDeletedOrExpired));
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(w.vault.secrets.lock().unwrap().is_empty());
    assert!(w.store.keys.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_key_item_failure_removes_the_secret_again() {
    let w = world();
    *w.store.fail_put_key.lock().unwrap() = true;
    let err = w
        .svc
        .create_key(&org("org_a"), key_req(ACCT, true))
        .await
        .unwrap_err();
    assert!(matches!(err, SetupError::Internal(_)));
    assert!(w.vault.secrets.lock().unwrap().is_empty());
}

#[tokio::test]
async fn an_accepted_key_keeps_the_token_in_the_vault_only() {
    let w = world();
    let o = org("org_a");
    let key = w.svc.create_key(&o, key_req(ACCT, true)).await.unwrap().0;
    assert_eq!(key.token_hint, "0000");
    assert_eq!(key.company_name.as_deref(), Some("Regnskap AS"));
    assert_eq!(
        w.vault
            .secrets
            .lock()
            .unwrap()
            .get(&vault_name(&o, &key.id))
            .map(String::as_str),
        Some(ACCT)
    );
    let shown = format!("{:?}", w.store.keys.lock().unwrap());
    assert!(!shown.contains(ACCT));
    let view = serde_json::to_string(&KeyView::from(&key)).unwrap();
    assert!(!view.contains(ACCT), "{view}");
}

#[tokio::test]
async fn an_ordinary_key_registered_as_accountant_key_is_refused() {
    let w = world();
    let err = w
        .svc
        .create_key(&org("org_a"), key_req(OWN, true))
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        SetupError::TripletexRefused {
            fix: Some(TripletexFix::NotAnAccountantKey),
            ..
        }
    ));
}

#[tokio::test]
async fn integration_setup_queues_one_initial_sync_grouped_by_key() {
    let w = world();
    let o = org("org_a");
    let key = w.svc.create_key(&o, key_req(ACCT, true)).await.unwrap().0;
    let acc = account(&w, &o, "Fjordkraft").await;
    let (i, change) = w
        .svc
        .put_integration(&o, acc.id.as_str(), put_req(&key.id, 1))
        .await
        .unwrap();
    assert_eq!(change, Change::Created);
    assert_eq!(i.status, IntegrationStatus::Pending);
    assert_eq!(i.client_company_name.as_deref(), Some("Fjordkraft"));
    let jobs = w.queue.jobs.lock().unwrap().clone();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].message_group_id(), key.id.as_str());
    assert_eq!(jobs[0].reason, SyncReason::Initial);
    assert_eq!(jobs[0].integration_id, i.id);
    assert_eq!(w.svc.list_keys(&o).await.unwrap()[0].integration_count, 1);
    assert!(
        w.store
            .get_integration(&o, &acc.id)
            .await
            .unwrap()
            .unwrap()
            .initial_sync_enqueued
    );
}

#[tokio::test]
async fn the_same_setup_twice_is_one_integration_and_one_sync() {
    let w = world();
    let o = org("org_a");
    let key = w.svc.create_key(&o, key_req(ACCT, true)).await.unwrap().0;
    let acc = account(&w, &o, "Fjordkraft").await;
    let (first, _) = w
        .svc
        .put_integration(&o, acc.id.as_str(), put_req(&key.id, 1))
        .await
        .unwrap();
    let (second, change) = w
        .svc
        .put_integration(&o, acc.id.as_str(), put_req(&key.id, 1))
        .await
        .unwrap();
    assert_eq!(change, Change::Unchanged);
    assert_eq!(first.id, second.id);
    assert_eq!(second.version, 1);
    assert_eq!(w.queue.jobs.lock().unwrap().len(), 1);
    assert_eq!(w.svc.list_keys(&o).await.unwrap()[0].integration_count, 1);
}

#[tokio::test]
async fn a_failed_enqueue_is_finished_by_the_retried_request() {
    let w = world();
    let o = org("org_a");
    let key = w.svc.create_key(&o, key_req(ACCT, true)).await.unwrap().0;
    let acc = account(&w, &o, "Fjordkraft").await;
    *w.queue.fail.lock().unwrap() = true;
    let err = w
        .svc
        .put_integration(&o, acc.id.as_str(), put_req(&key.id, 1))
        .await
        .unwrap_err();
    assert!(matches!(err, SetupError::Unavailable { .. }));
    *w.queue.fail.lock().unwrap() = false;
    let (i, change) = w
        .svc
        .put_integration(&o, acc.id.as_str(), put_req(&key.id, 1))
        .await
        .unwrap();
    assert_eq!(change, Change::Unchanged);
    assert!(i.initial_sync_enqueued);
    assert_eq!(w.queue.jobs.lock().unwrap().len(), 1);
    // ... and a third identical request queues nothing more.
    w.svc
        .put_integration(&o, acc.id.as_str(), put_req(&key.id, 1))
        .await
        .unwrap();
    assert_eq!(w.queue.seen.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn changed_settings_update_without_resync_unless_company_or_key_changes() {
    let w = world();
    let o = org("org_a");
    let key = w.svc.create_key(&o, key_req(ACCT, true)).await.unwrap().0;
    let acc = account(&w, &o, "Fjordkraft").await;
    w.svc
        .put_integration(&o, acc.id.as_str(), put_req(&key.id, 1))
        .await
        .unwrap();
    let checks_before =
        w.tx.calls
            .lock()
            .unwrap()
            .iter()
            .filter(|c| *c == "check")
            .count();

    let mut req = put_req(&key.id, 1);
    req.days_past_due = 30;
    let (i, change) = w
        .svc
        .put_integration(&o, acc.id.as_str(), req)
        .await
        .unwrap();
    assert_eq!(change, Change::Updated);
    assert_eq!(i.version, 2);
    assert_eq!(i.settings.days_past_due, 30);
    assert_eq!(w.queue.jobs.lock().unwrap().len(), 1, "no new initial sync");
    let checks_after =
        w.tx.calls
            .lock()
            .unwrap()
            .iter()
            .filter(|c| *c == "check")
            .count();
    assert_eq!(
        checks_before, checks_after,
        "no Tripletex check for a settings-only change"
    );

    // PATCH to another key (an ordinary key of the same org) → new initial sync on the new key's group.
    let own = w.svc.create_key(&o, key_req(OWN, false)).await.unwrap().0;
    let patch = PatchIntegrationRequest {
        key_id: Some(own.id.to_string()),
        client_company_id: Some(50),
        ..Default::default()
    };
    let (i, change) = w
        .svc
        .patch_integration(&o, acc.id.as_str(), patch)
        .await
        .unwrap();
    assert_eq!(change, Change::Updated);
    assert_eq!(i.version, 3);
    assert_eq!(i.settings.days_past_due, 30, "PATCH keeps other fields");
    assert_eq!(i.status, IntegrationStatus::Pending);
    let jobs = w.queue.jobs.lock().unwrap().clone();
    assert_eq!(jobs.len(), 2);
    assert_eq!(jobs[1].message_group_id(), own.id.as_str());
    assert_eq!(jobs[1].settings_version, 3);
    let keys = w.svc.list_keys(&o).await.unwrap();
    let count = |id: &KeyId| keys.iter().find(|k| &k.id == id).unwrap().integration_count;
    assert_eq!(count(&key.id), 0);
    assert_eq!(count(&own.id), 1);
}

#[tokio::test]
async fn refusals_name_the_fix_and_store_nothing() {
    let w = world();
    let o = org("org_a");
    let key = w.svc.create_key(&o, key_req(ACCT, true)).await.unwrap().0;
    let acc = account(&w, &o, "X").await;
    for (company, fix) in [
        (2, TripletexFix::GrantAllAccess),
        (3, TripletexFix::EnableApiAccessInClient),
        (4, TripletexFix::LinkKeyToClient),
    ] {
        let err = w
            .svc
            .put_integration(&o, acc.id.as_str(), put_req(&key.id, company))
            .await
            .unwrap_err();
        match err {
            SetupError::TripletexRefused { field, fix: f, .. } => {
                assert_eq!(field, "clientCompanyId");
                assert_eq!(f, Some(fix));
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(w.store.integrations.lock().unwrap().is_empty());
    assert!(w.queue.jobs.lock().unwrap().is_empty());
}

#[tokio::test]
async fn insane_values_are_422_before_tripletex_is_asked() {
    let w = world();
    let o = org("org_a");
    let key = w.svc.create_key(&o, key_req(ACCT, true)).await.unwrap().0;
    let acc = account(&w, &o, "X").await;
    let calls = w.tx.calls.lock().unwrap().len();
    let mut req = put_req(&key.id, 1);
    req.days_past_due = -1;
    req.fetch_from = NaiveDate::from_ymd_opt(2026, 3, 11).unwrap();
    match w
        .svc
        .put_integration(&o, acc.id.as_str(), req)
        .await
        .unwrap_err()
    {
        SetupError::Invalid(errors) => {
            let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
            assert_eq!(fields, vec!["daysPastDue", "fetchFrom"]);
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(w.tx.calls.lock().unwrap().len(), calls);
}

#[tokio::test]
async fn address_write_back_only_together_with_the_register_look_up() {
    let w = world();
    let o = org("org_a");
    let key = w.svc.create_key(&o, key_req(ACCT, true)).await.unwrap().0;
    let acc = account(&w, &o, "X").await;

    // PUT with write-back but without the look-up: 422 naming the field, nothing stored.
    let mut req = put_req(&key.id, 1);
    req.update_addresses_from_brreg = false;
    req.write_addresses_to_tripletex = true;
    match w
        .svc
        .put_integration(&o, acc.id.as_str(), req)
        .await
        .unwrap_err()
    {
        SetupError::Invalid(errors) => {
            assert_eq!(errors.len(), 1);
            assert_eq!(errors[0].field, "writeAddressesToTripletex");
            assert_eq!(errors[0].code, "requires_update_addresses_from_brreg");
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(w.store.integrations.lock().unwrap().is_empty());

    // PUT without the field (older clients): off.
    let (i, _) = w
        .svc
        .put_integration(&o, acc.id.as_str(), put_req(&key.id, 1))
        .await
        .unwrap();
    assert!(!i.settings.write_addresses_to_tripletex);

    // PATCH it on (the look-up is on): stored, no new initial sync.
    let (i, change) = w
        .svc
        .patch_integration(
            &o,
            acc.id.as_str(),
            PatchIntegrationRequest {
                write_addresses_to_tripletex: Some(true),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(change, Change::Updated);
    assert!(i.settings.write_addresses_to_tripletex);
    assert_eq!(w.queue.jobs.lock().unwrap().len(), 1, "no new initial sync");
    let view = serde_json::to_value(IntegrationView::from(&i)).unwrap();
    assert_eq!(view["settings"]["writeAddressesToTripletex"], true);

    // PATCH the look-up off while write-back stays on: 422, the stored settings unchanged.
    match w
        .svc
        .patch_integration(
            &o,
            acc.id.as_str(),
            PatchIntegrationRequest {
                update_addresses_from_brreg: Some(false),
                ..Default::default()
            },
        )
        .await
        .unwrap_err()
    {
        SetupError::Invalid(errors) => {
            assert_eq!(errors[0].field, "writeAddressesToTripletex");
        }
        other => panic!("unexpected {other:?}"),
    }
    let stored = w.svc.get_integration(&o, acc.id.as_str()).await.unwrap();
    assert!(stored.settings.update_addresses_from_brreg);
    assert!(stored.settings.write_addresses_to_tripletex);

    // Both off in one PATCH is fine.
    let (i, _) = w
        .svc
        .patch_integration(
            &o,
            acc.id.as_str(),
            PatchIntegrationRequest {
                update_addresses_from_brreg: Some(false),
                write_addresses_to_tripletex: Some(false),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(!i.settings.update_addresses_from_brreg && !i.settings.write_addresses_to_tripletex);
}

#[tokio::test]
async fn another_organizations_things_are_not_found() {
    let w = world();
    let a = org("org_a");
    let b = org("org_b");
    let key_b = w.svc.create_key(&b, key_req(ACCT, true)).await.unwrap().0;
    let acc_b = account(&w, &b, "B's client").await;
    w.svc
        .put_integration(&b, acc_b.id.as_str(), put_req(&key_b.id, 1))
        .await
        .unwrap();
    let acc_a = account(&w, &a, "A's client").await;

    assert!(matches!(
        w.svc.get_account(&a, acc_b.id.as_str()).await,
        Err(SetupError::NotFound(Missing::Account, _))
    ));
    assert!(matches!(
        w.svc.get_integration(&a, acc_b.id.as_str()).await,
        Err(SetupError::NotFound(Missing::Account, _))
    ));
    assert!(matches!(
        w.svc.key_clients(&a, key_b.id.as_str()).await,
        Err(SetupError::NotFound(Missing::Key, _))
    ));
    assert!(matches!(
        w.svc.delete_key(&a, key_b.id.as_str()).await,
        Err(SetupError::NotFound(Missing::Key, _))
    ));
    // A's account with B's key: the key is not found in A's organization.
    assert!(matches!(
        w.svc
            .put_integration(&a, acc_a.id.as_str(), put_req(&key_b.id, 1))
            .await,
        Err(SetupError::NotFound(Missing::Key, Some("keyId")))
    ));
    assert!(w
        .svc
        .list_accounts(&a, None)
        .await
        .unwrap()
        .iter()
        .all(|x| x.org == a));
    assert!(w.svc.list_keys(&a).await.unwrap().is_empty());
    assert_eq!(w.queue.jobs.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn a_key_in_use_cannot_be_deleted_and_an_unused_one_loses_its_secret() {
    let w = world();
    let o = org("org_a");
    let key = w.svc.create_key(&o, key_req(ACCT, true)).await.unwrap().0;
    let acc = account(&w, &o, "X").await;
    w.svc
        .put_integration(&o, acc.id.as_str(), put_req(&key.id, 1))
        .await
        .unwrap();
    assert!(matches!(
        w.svc.delete_key(&o, key.id.as_str()).await,
        Err(SetupError::KeyInUse(1))
    ));
    assert_eq!(w.vault.secrets.lock().unwrap().len(), 1);

    let spare = w.svc.create_key(&o, key_req(OWN, false)).await.unwrap().0;
    w.svc.delete_key(&o, spare.id.as_str()).await.unwrap();
    assert_eq!(w.vault.secrets.lock().unwrap().len(), 1);
    assert!(matches!(
        w.svc.delete_key(&o, spare.id.as_str()).await,
        Err(SetupError::NotFound(..))
    ));
}

#[tokio::test]
async fn one_accountant_key_serves_many_accounts() {
    let w = world();
    let o = org("org_a");
    let key = w.svc.create_key(&o, key_req(ACCT, true)).await.unwrap().0;
    for name in ["A", "B", "C"] {
        let acc = account(&w, &o, name).await;
        w.svc
            .put_integration(&o, acc.id.as_str(), put_req(&key.id, 1))
            .await
            .unwrap();
    }
    assert_eq!(w.svc.list_keys(&o).await.unwrap()[0].integration_count, 3);
    assert_eq!(w.queue.jobs.lock().unwrap().len(), 3);
    assert_eq!(w.vault.secrets.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn tripletex_down_is_unavailable_not_a_refusal() {
    let w = world();
    *w.tx.down.lock().unwrap() = true;
    let err = w
        .svc
        .create_key(&org("org_a"), key_req(ACCT, true))
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        SetupError::Unavailable {
            retry_after_secs: 30,
            ..
        }
    ));
    assert!(w.vault.secrets.lock().unwrap().is_empty());
}

#[tokio::test]
async fn accounts_are_searched_by_name_or_number() {
    let w = world();
    let o = org("org_a");
    account(&w, &o, "Bakeriet Hansen AS").await;
    w.svc
        .create_account(
            &o,
            CreateAccountRequest {
                name: "Fjordkraft Rørlegger AS".into(),
                organization_number: Some("974 760 673".into()),
            },
            None,
        )
        .await
        .unwrap();
    let names = |v: Vec<Account>| v.into_iter().map(|a| a.name).collect::<Vec<_>>();
    assert_eq!(
        names(w.svc.list_accounts(&o, Some("rørleg")).await.unwrap()),
        vec!["Fjordkraft Rørlegger AS"]
    );
    assert_eq!(
        names(w.svc.list_accounts(&o, Some("974760")).await.unwrap()),
        vec!["Fjordkraft Rørlegger AS"]
    );
    assert_eq!(w.svc.list_accounts(&o, None).await.unwrap().len(), 2);
    let bad = w
        .svc
        .create_account(
            &o,
            CreateAccountRequest {
                name: " ".into(),
                organization_number: Some("123".into()),
            },
            None,
        )
        .await
        .unwrap_err();
    assert!(matches!(bad, SetupError::Invalid(e) if e.len() == 2));
}

#[tokio::test]
async fn the_same_token_again_is_the_same_key_without_asking_tripletex() {
    let w = world();
    let o = org("org_a");
    let (first, created) = w.svc.create_key(&o, key_req(ACCT, true)).await.unwrap();
    assert!(created);
    let calls = w.tx.calls.lock().unwrap().len();
    let (again, created) = w.svc.create_key(&o, key_req(ACCT, true)).await.unwrap();
    assert!(!created);
    assert_eq!(again.id, first.id);
    assert_eq!(w.tx.calls.lock().unwrap().len(), calls);
    assert_eq!(w.svc.list_keys(&o).await.unwrap().len(), 1);
    // Another organization pasting the same token gets its own key (and id).
    let (other, created) = w
        .svc
        .create_key(&org("org_b"), key_req(ACCT, true))
        .await
        .unwrap();
    assert!(created);
    assert_ne!(other.id, first.id);
    assert!(!first.id.as_str().contains(ACCT));
}

#[tokio::test]
async fn a_secret_left_by_a_crashed_attempt_is_reused() {
    let w = world();
    let o = org("org_a");
    *w.store.fail_put_key.lock().unwrap() = true;
    w.svc.create_key(&o, key_req(ACCT, true)).await.unwrap_err();
    // Simulate the crash: the secret stayed although the item was never written.
    let (first, _) = {
        *w.store.fail_put_key.lock().unwrap() = false;
        w.svc.create_key(&o, key_req(ACCT, true)).await.unwrap()
    };
    let name = vault_name(&o, &first.id);
    w.svc.delete_key(&o, first.id.as_str()).await.unwrap();
    w.vault.secrets.lock().unwrap().insert(name, ACCT.into());
    let (again, created) = w.svc.create_key(&o, key_req(ACCT, true)).await.unwrap();
    assert!(created);
    assert_eq!(again.id, first.id);
    assert_eq!(w.vault.secrets.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn an_idempotency_key_makes_account_creation_repeatable() {
    let w = world();
    let o = org("org_a");
    let req = || CreateAccountRequest {
        name: "Bakeriet".into(),
        organization_number: None,
    };
    let (a, created) = w
        .svc
        .create_account(&o, req(), Some("click-1"))
        .await
        .unwrap();
    assert!(created);
    let (b, created) = w
        .svc
        .create_account(&o, req(), Some("click-1"))
        .await
        .unwrap();
    assert!(!created);
    assert_eq!(a.id, b.id);
    assert_eq!(w.svc.list_accounts(&o, None).await.unwrap().len(), 1);
    let other = CreateAccountRequest {
        name: "Noe annet".into(),
        organization_number: None,
    };
    assert!(matches!(
        w.svc.create_account(&o, other, Some("click-1")).await,
        Err(SetupError::IdempotencyKeyReused)
    ));
    // The same header value in another organization is another account.
    let (c, created) = w
        .svc
        .create_account(&org("org_b"), req(), Some("click-1"))
        .await
        .unwrap();
    assert!(created);
    assert_ne!(c.id, a.id);
    assert!(matches!(
        w.svc.create_account(&o, req(), Some(" ")).await,
        Err(SetupError::BadIdempotencyKey)
    ));
}

#[tokio::test]
async fn voucher_posting_accounts_are_checked_against_the_chart_when_saved() {
    use crate::domain::claim::AllocationRule;
    use crate::domain::voucher::PostingSettingsPatch;
    let w = world();
    let o = org("org_a");
    let key = w.svc.create_key(&o, key_req(ACCT, true)).await.unwrap().0;
    let acc = account(&w, &o, "X").await;
    let (i, _) = w
        .svc
        .put_integration(&o, acc.id.as_str(), put_req(&key.id, 1))
        .await
        .unwrap();
    assert_eq!(i.settings.voucher_posting.fee_income_account, None);
    assert_eq!(
        i.settings.voucher_posting.allocation_rule,
        AllocationRule::PrincipalFirst
    );
    let patch = |p: PostingSettingsPatch| PatchIntegrationRequest {
        voucher_posting: Some(p),
        ..Default::default()
    };

    // A number that is not in the client's chart: 422 naming the field, nothing stored.
    match w
        .svc
        .patch_integration(
            &o,
            acc.id.as_str(),
            patch(PostingSettingsPatch {
                fee_income_account: Some(3901),
                ..Default::default()
            }),
        )
        .await
        .unwrap_err()
    {
        SetupError::Invalid(errors) => {
            assert_eq!(errors[0].field, "voucherPosting.feeIncomeAccount");
            assert_eq!(errors[0].code, "account_not_in_chart");
        }
        other => panic!("unexpected {other:?}"),
    }
    // An account of the wrong class: 422 before asking Tripletex.
    match w
        .svc
        .patch_integration(
            &o,
            acc.id.as_str(),
            patch(PostingSettingsPatch {
                interest_income_account: Some(1500),
                ..Default::default()
            }),
        )
        .await
        .unwrap_err()
    {
        SetupError::Invalid(errors) => {
            assert_eq!(errors[0].field, "voucherPosting.interestIncomeAccount");
            assert_eq!(errors[0].code, "wrong_account_class");
        }
        other => panic!("unexpected {other:?}"),
    }
    let stored = w.svc.get_integration(&o, acc.id.as_str()).await.unwrap();
    assert_eq!(stored.settings.voucher_posting.fee_income_account, None);

    // Accounts that exist, and the customary rule: stored, no new initial sync.
    let (i, change) = w
        .svc
        .patch_integration(
            &o,
            acc.id.as_str(),
            patch(PostingSettingsPatch {
                fee_income_account: Some(3900),
                interest_income_account: Some(8050),
                allocation_rule: Some(AllocationRule::CostsFirst),
                ..Default::default()
            }),
        )
        .await
        .unwrap();
    assert_eq!(change, Change::Updated);
    assert_eq!(i.settings.voucher_posting.fee_income_account, Some(3900));
    assert_eq!(
        i.settings.voucher_posting.interest_income_account,
        Some(8050)
    );
    assert_eq!(
        i.settings.voucher_posting.allocation_rule,
        AllocationRule::CostsFirst
    );
    assert!(!i.settings.voucher_posting.post_in_first_open_period);
    assert_eq!(w.queue.jobs.lock().unwrap().len(), 1, "no new initial sync");
    let view = serde_json::to_value(IntegrationView::from(&i)).unwrap();
    assert_eq!(
        view["settings"]["voucherPosting"]["allocationRule"],
        "costsFirst"
    );
}
