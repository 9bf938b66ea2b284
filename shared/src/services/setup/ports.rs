//! The ports of the setup service (what it needs from the outside), and their implementations by
//! the real adapters. Unit tests use in-memory fakes of the same traits.

use async_trait::async_trait;
use secrecy::SecretString;

use crate::adapters::queue::{QueueError, SyncJob, SyncQueue};
use crate::adapters::secrets::{Secrets, SecretsError};
use crate::adapters::store::setup::{CreateIntegration, DeleteKey, UpdateIntegration};
use crate::adapters::store::{DynamoStore, StoreError};
use crate::domain::setup::{
    Account, AccountId, Integration, KeyId, OrgId, TripletexFix, TripletexKey,
};

/// Persistence of accounts, keys and integrations (DynamoDB in production).
#[async_trait]
pub trait SetupStore: Send + Sync {
    async fn put_account(&self, account: &Account) -> Result<bool, StoreError>;
    async fn get_account(&self, org: &OrgId, id: &AccountId)
        -> Result<Option<Account>, StoreError>;
    async fn list_accounts(&self, org: &OrgId) -> Result<Vec<Account>, StoreError>;
    async fn put_key(&self, key: &TripletexKey) -> Result<bool, StoreError>;
    async fn get_key(&self, org: &OrgId, id: &KeyId) -> Result<Option<TripletexKey>, StoreError>;
    async fn list_keys(&self, org: &OrgId) -> Result<Vec<TripletexKey>, StoreError>;
    async fn delete_key(&self, org: &OrgId, id: &KeyId) -> Result<DeleteKey, StoreError>;
    async fn get_integration(
        &self,
        org: &OrgId,
        account: &AccountId,
    ) -> Result<Option<Integration>, StoreError>;
    async fn create_integration(&self, i: &Integration) -> Result<CreateIntegration, StoreError>;
    /// Writes the settings of `i` if the stored version is `expected_version`; moves the key counts
    /// when the key changed; resets the sync state when `resync`.
    async fn update_integration(
        &self,
        i: &Integration,
        expected_version: u32,
        previous_key: &KeyId,
        resync: bool,
    ) -> Result<UpdateIntegration, StoreError>;
    async fn mark_initial_sync_enqueued(
        &self,
        org: &OrgId,
        account: &AccountId,
        initial_sync_version: u32,
    ) -> Result<bool, StoreError>;
}

/// Where employee tokens live (Secrets Manager in production).
#[async_trait]
pub trait TokenVault: Send + Sync {
    async fn create(
        &self,
        org: &OrgId,
        key: &KeyId,
        token: &SecretString,
    ) -> Result<(), SecretsError>;
    async fn get(&self, org: &OrgId, key: &KeyId) -> Result<SecretString, SecretsError>;
    async fn delete(&self, org: &OrgId, key: &KeyId) -> Result<(), SecretsError>;
}

/// The sync queue.
#[async_trait]
pub trait JobQueue: Send + Sync {
    async fn enqueue(&self, job: &SyncJob) -> Result<(), QueueError>;
}

/// An employee token and the id its Tripletex session is cached under.
pub struct EmployeeCredential {
    pub cache_id: String,
    pub token: SecretString,
}

/// What Tripletex says about a key that works.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedKey {
    pub company_id: i64,
    pub company_name: Option<String>,
    pub company_org_number: Option<String>,
}

/// A company the key reaches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReachableCompany {
    pub company_id: i64,
    pub name: String,
    pub organization_number: Option<String>,
}

/// Why a Tripletex call did not give what was needed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GatewayError {
    /// Tripletex refused; `fix` is the step in Tripletex that helps, when known.
    #[error("Tripletex refused: {message}")]
    Refused {
        fix: Option<TripletexFix>,
        /// Tripletex's HTTP status (0 when the refusal is ours, e.g. client not in the key's list).
        status: u16,
        message: String,
        request_id: Option<String>,
        /// Endpoints answered with 403 (when a probe found missing entitlements).
        refused_endpoints: Vec<String>,
    },
    /// Tripletex is down, slow or rate-limiting: try again later.
    #[error("Tripletex is unavailable: {message}")]
    Unavailable {
        message: String,
        retry_after_secs: u64,
    },
    /// Anything else (unexpected answer, our consumer token refused, ...).
    #[error("Tripletex: {0}")]
    Unexpected(String),
}

/// The Tripletex calls the setup needs.
#[async_trait]
pub trait TripletexGateway: Send + Sync {
    /// Session + whoAmI; for an accountant key also `>withLoginAccess`.
    async fn verify_key(
        &self,
        key: &EmployeeCredential,
        accountant_key: bool,
    ) -> Result<VerifiedKey, GatewayError>;
    /// An accountant key's clients; an ordinary key's own company.
    async fn list_clients(
        &self,
        key: &EmployeeCredential,
        accountant_key: bool,
    ) -> Result<Vec<ReachableCompany>, GatewayError>;
    /// Whether the key reaches `company_id` with every entitlement the sync needs.
    async fn check_client_access(
        &self,
        key: &EmployeeCredential,
        accountant_key: bool,
        company_id: i64,
    ) -> Result<ReachableCompany, GatewayError>;
    /// Which of `numbers` are active accounts in `company_id`'s chart (`GET /ledger/account`).
    async fn existing_accounts(
        &self,
        key: &EmployeeCredential,
        accountant_key: bool,
        company_id: i64,
        numbers: &[u32],
    ) -> Result<Vec<u32>, GatewayError>;
}

// ------------------------------------------------------------------ real adapters

#[async_trait]
impl SetupStore for DynamoStore {
    async fn put_account(&self, account: &Account) -> Result<bool, StoreError> {
        DynamoStore::put_account(self, account).await
    }
    async fn get_account(
        &self,
        org: &OrgId,
        id: &AccountId,
    ) -> Result<Option<Account>, StoreError> {
        DynamoStore::get_account(self, org, id).await
    }
    async fn list_accounts(&self, org: &OrgId) -> Result<Vec<Account>, StoreError> {
        DynamoStore::list_accounts(self, org).await
    }
    async fn put_key(&self, key: &TripletexKey) -> Result<bool, StoreError> {
        DynamoStore::put_key(self, key).await
    }
    async fn get_key(&self, org: &OrgId, id: &KeyId) -> Result<Option<TripletexKey>, StoreError> {
        DynamoStore::get_key(self, org, id).await
    }
    async fn list_keys(&self, org: &OrgId) -> Result<Vec<TripletexKey>, StoreError> {
        DynamoStore::list_keys(self, org).await
    }
    async fn delete_key(&self, org: &OrgId, id: &KeyId) -> Result<DeleteKey, StoreError> {
        DynamoStore::delete_key(self, org, id).await
    }
    async fn get_integration(
        &self,
        org: &OrgId,
        account: &AccountId,
    ) -> Result<Option<Integration>, StoreError> {
        DynamoStore::get_integration(self, org, account).await
    }
    async fn create_integration(&self, i: &Integration) -> Result<CreateIntegration, StoreError> {
        DynamoStore::create_integration(self, i).await
    }
    async fn update_integration(
        &self,
        i: &Integration,
        expected_version: u32,
        previous_key: &KeyId,
        resync: bool,
    ) -> Result<UpdateIntegration, StoreError> {
        DynamoStore::update_integration(self, i, expected_version, previous_key, resync).await
    }
    async fn mark_initial_sync_enqueued(
        &self,
        org: &OrgId,
        account: &AccountId,
        initial_sync_version: u32,
    ) -> Result<bool, StoreError> {
        DynamoStore::mark_initial_sync_enqueued(self, org, account, initial_sync_version).await
    }
}

#[async_trait]
impl TokenVault for Secrets {
    async fn create(
        &self,
        org: &OrgId,
        key: &KeyId,
        token: &SecretString,
    ) -> Result<(), SecretsError> {
        self.create_employee_token(org, key, token).await
    }
    async fn get(&self, org: &OrgId, key: &KeyId) -> Result<SecretString, SecretsError> {
        self.employee_token(org, key).await
    }
    async fn delete(&self, org: &OrgId, key: &KeyId) -> Result<(), SecretsError> {
        self.delete_employee_token(org, key).await
    }
}

#[async_trait]
impl JobQueue for SyncQueue {
    async fn enqueue(&self, job: &SyncJob) -> Result<(), QueueError> {
        SyncQueue::enqueue(self, job).await.map(|_| ())
    }
}
