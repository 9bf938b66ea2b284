//! The ports of the dunning service (a trait per outside system) and their implementations by
//! the real adapters. The unit tests use in-memory fakes of the same traits (`tests.rs`); the
//! function's tests meet the real ones against moto and the Tripletex sandbox.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::NaiveDate;

use crate::adapters::letters::{BucketError, LettersBucket};
use crate::adapters::mail::{LetterMail, MailError, Mailer};
use crate::adapters::queue::{DunningJob, DunningQueue, QueueError};
use crate::adapters::secrets::{Secrets, SecretsError};
use crate::adapters::store::claims::{AccountRef, CaseWrite, ClaimRecord, Save, StoredCase};
use crate::adapters::store::dunning::{DunningBook, StoredPolicy};
use crate::adapters::store::{DynamoStore, StoreError};
use crate::adapters::tripletex::recheck::IDS_PER_REQUEST;
use crate::adapters::tripletex::{Acting, EmployeeKey, TripletexError};
use crate::domain::case::CaseId;
use crate::domain::claim::ClaimId;
use crate::domain::collection::dunning::letter::LetterDocument;
use crate::domain::collection::dunning::notice::{Current, Mirrored};
use crate::domain::collection::dunning::{
    BatchRecord, LetterId, LetterRecord, Notice, NoticeId, RunRecord,
};
use crate::domain::setup::{AccountId, OrgId};
use crate::domain::Money;
use crate::services::dunning::SenderSuggestion;
use crate::services::sync::TripletexSource;

// ------------------------------------------------------------------------------------ store

/// Everything dunning keeps (DynamoDB in production).
#[async_trait]
pub trait DunningStore: Send + Sync {
    async fn account_exists(&self, org: &OrgId, account: &AccountId) -> Result<bool, StoreError>;
    /// What is known of the creditor without asking anyone: the client company's name as
    /// Tripletex reported it when the integration was set up (else the account's name) and the
    /// account's organization number.
    async fn sender_facts(
        &self,
        org: &OrgId,
        account: &AccountId,
    ) -> Result<SenderSuggestion, StoreError>;
    /// The organization's accounts (the preview across accounts).
    async fn accounts_of(&self, org: &OrgId) -> Result<Vec<AccountId>, StoreError>;
    async fn get_policy(
        &self,
        org: &OrgId,
        account: &AccountId,
    ) -> Result<Option<StoredPolicy>, StoreError>;
    async fn put_policy(
        &self,
        org: &OrgId,
        account: &AccountId,
        policy: &StoredPolicy,
        expected: Option<u64>,
    ) -> Result<Save, StoreError>;
    /// Accounts whose dunning is on, across organizations.
    async fn enabled_accounts(&self) -> Result<Vec<AccountRef>, StoreError>;
    /// The planner's read: open and paused cases, their claims and customers.
    async fn book(&self, org: &OrgId, account: &AccountId) -> Result<DunningBook, StoreError>;
    async fn active_notices(
        &self,
        org: &OrgId,
        account: &AccountId,
    ) -> Result<Vec<Notice>, StoreError>;
    async fn notices_of_case(
        &self,
        org: &OrgId,
        account: &AccountId,
        case: &CaseId,
    ) -> Result<Vec<Notice>, StoreError>;
    async fn get_notices(
        &self,
        org: &OrgId,
        account: &AccountId,
        ids: &[NoticeId],
    ) -> Result<Vec<Notice>, StoreError>;
    /// A notice alone, conditional on the version read (`None`: must not exist).
    async fn put_notice(&self, notice: &Notice, expected: Option<u64>) -> Result<Save, StoreError>;
    /// A letter and its notices in one transaction, each conditional on its version read.
    async fn write_letter(
        &self,
        letter: &LetterRecord,
        expected_letter: Option<u64>,
        notices: &[(&Notice, Option<u64>)],
    ) -> Result<Save, StoreError>;
    async fn get_letter(
        &self,
        org: &OrgId,
        account: &AccountId,
        send_date: NaiveDate,
        letter: &LetterId,
    ) -> Result<Option<LetterRecord>, StoreError>;
    async fn letters_of_day(
        &self,
        org: &OrgId,
        account: &AccountId,
        send_date: NaiveDate,
    ) -> Result<Vec<LetterRecord>, StoreError>;
    async fn put_batch_if_absent(&self, batch: &BatchRecord) -> Result<bool, StoreError>;
    async fn batches(
        &self,
        org: &OrgId,
        account: &AccountId,
    ) -> Result<Vec<BatchRecord>, StoreError>;
    async fn put_run(&self, run: &RunRecord, expected: Option<u64>) -> Result<Save, StoreError>;
    async fn get_run(
        &self,
        org: &OrgId,
        account: &AccountId,
        date: NaiveDate,
    ) -> Result<Option<RunRecord>, StoreError>;
    async fn get_claim(
        &self,
        org: &OrgId,
        account: &AccountId,
        claim: &ClaimId,
    ) -> Result<Option<ClaimRecord>, StoreError>;
    async fn get_case(
        &self,
        org: &OrgId,
        account: &AccountId,
        case: &CaseId,
    ) -> Result<Option<StoredCase>, StoreError>;
    /// A sent notice's effects in one transaction: the claim (its charges), the case (its step
    /// and timeline entry), the notice (`effectsApplied`) and, with the letter's last notice,
    /// the letter; each conditional on the revision/version read.
    async fn record_effects(
        &self,
        claim: &ClaimRecord,
        case: Option<CaseWrite<'_>>,
        notice: (&Notice, u64),
        letter: Option<(&LetterRecord, u64)>,
    ) -> Result<Save, StoreError>;
}

#[async_trait]
impl DunningStore for DynamoStore {
    async fn account_exists(&self, org: &OrgId, account: &AccountId) -> Result<bool, StoreError> {
        Ok(self.get_account(org, account).await?.is_some())
    }
    async fn sender_facts(
        &self,
        org: &OrgId,
        account: &AccountId,
    ) -> Result<SenderSuggestion, StoreError> {
        let account_item = self.get_account(org, account).await?;
        let integration = self.get_integration(org, account).await?;
        Ok(SenderSuggestion {
            name: integration
                .and_then(|i| i.client_company_name)
                .or_else(|| account_item.as_ref().map(|a| a.name.clone())),
            organization_number: account_item.and_then(|a| a.organization_number),
        })
    }
    async fn accounts_of(&self, org: &OrgId) -> Result<Vec<AccountId>, StoreError> {
        Ok(self
            .list_accounts(org)
            .await?
            .into_iter()
            .map(|a| a.id)
            .collect())
    }
    async fn get_policy(
        &self,
        org: &OrgId,
        account: &AccountId,
    ) -> Result<Option<StoredPolicy>, StoreError> {
        self.get_dunning_policy(org, account).await
    }
    async fn put_policy(
        &self,
        org: &OrgId,
        account: &AccountId,
        policy: &StoredPolicy,
        expected: Option<u64>,
    ) -> Result<Save, StoreError> {
        self.put_dunning_policy(org, account, policy, expected)
            .await
    }
    async fn enabled_accounts(&self) -> Result<Vec<AccountRef>, StoreError> {
        self.dunning_accounts().await
    }
    async fn book(&self, org: &OrgId, account: &AccountId) -> Result<DunningBook, StoreError> {
        self.dunning_book(org, account).await
    }
    async fn active_notices(
        &self,
        org: &OrgId,
        account: &AccountId,
    ) -> Result<Vec<Notice>, StoreError> {
        DynamoStore::active_notices(self, org, account).await
    }
    async fn notices_of_case(
        &self,
        org: &OrgId,
        account: &AccountId,
        case: &CaseId,
    ) -> Result<Vec<Notice>, StoreError> {
        DynamoStore::notices_of_case(self, org, account, case).await
    }
    async fn get_notices(
        &self,
        org: &OrgId,
        account: &AccountId,
        ids: &[NoticeId],
    ) -> Result<Vec<Notice>, StoreError> {
        DynamoStore::get_notices(self, org, account, ids).await
    }
    async fn put_notice(&self, notice: &Notice, expected: Option<u64>) -> Result<Save, StoreError> {
        DynamoStore::put_notice(self, notice, expected).await
    }
    async fn write_letter(
        &self,
        letter: &LetterRecord,
        expected_letter: Option<u64>,
        notices: &[(&Notice, Option<u64>)],
    ) -> Result<Save, StoreError> {
        DynamoStore::write_letter(self, letter, expected_letter, notices).await
    }
    async fn get_letter(
        &self,
        org: &OrgId,
        account: &AccountId,
        send_date: NaiveDate,
        letter: &LetterId,
    ) -> Result<Option<LetterRecord>, StoreError> {
        DynamoStore::get_letter(self, org, account, send_date, letter).await
    }
    async fn letters_of_day(
        &self,
        org: &OrgId,
        account: &AccountId,
        send_date: NaiveDate,
    ) -> Result<Vec<LetterRecord>, StoreError> {
        DynamoStore::letters_of_day(self, org, account, send_date).await
    }
    async fn put_batch_if_absent(&self, batch: &BatchRecord) -> Result<bool, StoreError> {
        DynamoStore::put_batch_if_absent(self, batch).await
    }
    async fn batches(
        &self,
        org: &OrgId,
        account: &AccountId,
    ) -> Result<Vec<BatchRecord>, StoreError> {
        DynamoStore::batches(self, org, account).await
    }
    async fn put_run(&self, run: &RunRecord, expected: Option<u64>) -> Result<Save, StoreError> {
        DynamoStore::put_run(self, run, expected).await
    }
    async fn get_run(
        &self,
        org: &OrgId,
        account: &AccountId,
        date: NaiveDate,
    ) -> Result<Option<RunRecord>, StoreError> {
        DynamoStore::get_run(self, org, account, date).await
    }
    async fn get_claim(
        &self,
        org: &OrgId,
        account: &AccountId,
        claim: &ClaimId,
    ) -> Result<Option<ClaimRecord>, StoreError> {
        DynamoStore::get_claim(self, org, account, claim).await
    }
    async fn get_case(
        &self,
        org: &OrgId,
        account: &AccountId,
        case: &CaseId,
    ) -> Result<Option<StoredCase>, StoreError> {
        DynamoStore::get_case(self, org, account, case).await
    }
    async fn record_effects(
        &self,
        claim: &ClaimRecord,
        case: Option<CaseWrite<'_>>,
        notice: (&Notice, u64),
        letter: Option<(&LetterRecord, u64)>,
    ) -> Result<Save, StoreError> {
        self.record_notice_effects(claim, case, notice, letter)
            .await
    }
}

// ----------------------------------------------------------------------------------- mailer

/// SES for the letters (raw MIME with the PDF attached).
#[async_trait]
pub trait NoticeMailer: Send + Sync {
    /// The verified sender identity (the `From` address; its domain names the Message-IDs).
    fn from_address(&self) -> &str;
    /// Sends the letter; the SES message id.
    async fn send(&self, mail: &LetterMail) -> Result<String, MailError>;
}

#[async_trait]
impl NoticeMailer for Mailer {
    fn from_address(&self) -> &str {
        Mailer::from_address(self)
    }
    async fn send(&self, mail: &LetterMail) -> Result<String, MailError> {
        self.send_letter(mail).await.map(|id| id.0)
    }
}

// ---------------------------------------------------------------------------------- archive

/// The letters bucket (S3): the archive, the outbox and its manifests.
#[async_trait]
pub trait LetterArchive: Send + Sync {
    async fn put(&self, key: &str, bytes: Vec<u8>, content_type: &str) -> Result<(), BucketError>;
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, BucketError>;
}

#[async_trait]
impl LetterArchive for LettersBucket {
    async fn put(&self, key: &str, bytes: Vec<u8>, content_type: &str) -> Result<(), BucketError> {
        LettersBucket::put(self, key, bytes, content_type).await
    }
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, BucketError> {
        LettersBucket::get(self, key).await
    }
}

// ---------------------------------------------------------------------------------- renderer

/// The PDF renderer (in-process; `shared::documents`).
pub trait LetterRenderer: Send + Sync {
    fn render(&self, doc: &LetterDocument) -> Result<Vec<u8>, String>;
}

/// The real renderer (feature `documents`).
#[cfg(feature = "documents")]
#[derive(Debug, Clone, Copy, Default)]
pub struct PdfRenderer;

#[cfg(feature = "documents")]
impl LetterRenderer for PdfRenderer {
    fn render(&self, doc: &LetterDocument) -> Result<Vec<u8>, String> {
        crate::documents::render(doc).map_err(|e| e.to_string())
    }
}

// ------------------------------------------------------------------------------------ queue

/// The dunning queue.
#[async_trait]
pub trait RunQueue: Send + Sync {
    async fn enqueue(&self, jobs: &[DunningJob]) -> Result<(), QueueError>;
}

#[async_trait]
impl RunQueue for DunningQueue {
    async fn enqueue(&self, jobs: &[DunningJob]) -> Result<(), QueueError> {
        DunningQueue::enqueue(self, jobs).await.map(|_| ())
    }
}

// ------------------------------------------------------------------------- the real service

/// Where the real adapters find their resources (both functions' environment).
#[derive(Debug, Clone)]
pub struct AwsResources {
    pub table: String,
    pub dunning_queue_url: String,
    pub letters_bucket: String,
}

impl super::DunningService {
    /// The service with the real adapters (DynamoDB, the letters bucket, the dunning queue) and
    /// no [`Sending`](super::Sending): the HTTP API's, which previews, approves, queues runs and
    /// reads letters as sent, and cannot send (it has no SES, Secrets Manager or renderer).
    pub fn on_aws(
        sdk: &aws_config::SdkConfig,
        r: &AwsResources,
        clock: crate::clock::Clock,
    ) -> Self {
        use std::sync::Arc;
        Self {
            store: Arc::new(DynamoStore::new(
                aws_sdk_dynamodb::Client::new(sdk),
                r.table.clone(),
            )),
            archive: Arc::new(LettersBucket::new(sdk, r.letters_bucket.clone())),
            queue: Arc::new(DunningQueue::new(
                aws_sdk_sqs::Client::new(sdk),
                r.dunning_queue_url.clone(),
            )),
            sending: None,
            rules: Arc::new(crate::domain::Rulebook::norway().clone()),
            clock,
            config: super::DunningConfig::default(),
        }
    }
}

impl super::Sending {
    /// The real sending ports: SES (raw) from `mail_from` (the verified identity), the Tripletex
    /// re-check (`tripletex`: the client, made once; the keys' tokens under `secret_prefix`) and
    /// the renderer as given (the function: [`PdfRenderer`]).
    pub fn on_aws(
        sdk: &aws_config::SdkConfig,
        table: &str,
        mail_from: &str,
        secret_prefix: &str,
        tripletex: TripletexSource,
        renderer: std::sync::Arc<dyn LetterRenderer>,
    ) -> Self {
        use std::sync::Arc;
        Self {
            mailer: Arc::new(Mailer::new(sdk, mail_from.to_string())),
            recheck: Arc::new(TripletexRecheck {
                store: DynamoStore::new(aws_sdk_dynamodb::Client::new(sdk), table.to_string()),
                secrets: Secrets::new(
                    aws_sdk_secretsmanager::Client::new(sdk),
                    secret_prefix.to_string(),
                ),
                tripletex,
            }),
            renderer,
        }
    }
}

// ---------------------------------------------------------------------------------- re-check

/// A claim to check in Tripletex.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecheckItem {
    pub claim_id: ClaimId,
    /// The Tripletex invoice (`None`: an open item without an invoice).
    pub invoice_id: Option<i64>,
    /// The open item's posting (`item_<posting>` claims).
    pub posting_id: Option<i64>,
    pub customer_id: i64,
    pub invoice_date: NaiveDate,
    pub mirrored: Mirrored,
}

/// What Tripletex showed for one claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecheckFound {
    /// `None`: Tripletex did not list it.
    pub current: Option<Current>,
    pub kid: Option<String>,
}

/// The re-check's answer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecheckAnswer {
    pub found: HashMap<ClaimId, RecheckFound>,
    /// Tripletex requests made.
    pub requests: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecheckError {
    /// The account has no integration (nothing to check against: nothing is sent).
    #[error("the account has no Tripletex integration")]
    NoIntegration,
    #[error("the Tripletex key's token: {0}")]
    Token(String),
    #[error("Tripletex: {0}")]
    Tripletex(String),
}

/// Tripletex, just before sending.
#[async_trait]
pub trait Recheck: Send + Sync {
    async fn recheck(
        &self,
        org: &OrgId,
        account: &AccountId,
        today: NaiveDate,
        items: &[RecheckItem],
    ) -> Result<RecheckAnswer, RecheckError>;
}

/// Tripletex as one account reaches it: the client, the integration's key (its token from
/// Secrets Manager) and the company it acts for.
pub struct AccountTripletex<'a> {
    pub client: &'a crate::adapters::tripletex::TripletexClient,
    pub key: EmployeeKey,
    pub acting: Acting,
}

/// Tripletex for the account: its integration names the key and the client company; the key's
/// token comes from Secrets Manager. [`RecheckError::NoIntegration`] without an integration.
pub async fn account_tripletex<'a>(
    store: &DynamoStore,
    secrets: &Secrets,
    tripletex: &'a TripletexSource,
    org: &OrgId,
    account: &AccountId,
) -> Result<AccountTripletex<'a>, RecheckError> {
    let integration = store
        .get_integration(org, account)
        .await
        .map_err(|e| RecheckError::Tripletex(e.to_string()))?
        .ok_or(RecheckError::NoIntegration)?;
    let client = tripletex
        .client(secrets)
        .await
        .map_err(|e: SecretsError| RecheckError::Token(e.to_string()))?;
    let token = secrets
        .employee_token(org, &integration.settings.key_id)
        .await
        .map_err(|e| RecheckError::Token(e.to_string()))?;
    let key = EmployeeKey::new(integration.settings.key_id.to_string(), token);
    let acting = Acting::of_key(
        integration.accountant_key,
        integration.settings.client_company_id,
    );
    Ok(AccountTripletex {
        client,
        key,
        acting,
    })
}

/// The re-check against Tripletex: the account's integration names the key and client company;
/// the key's token comes from Secrets Manager.
pub struct TripletexRecheck {
    pub store: DynamoStore,
    pub secrets: Secrets,
    pub tripletex: TripletexSource,
}

#[async_trait]
impl Recheck for TripletexRecheck {
    async fn recheck(
        &self,
        org: &OrgId,
        account: &AccountId,
        today: NaiveDate,
        items: &[RecheckItem],
    ) -> Result<RecheckAnswer, RecheckError> {
        let mut answer = RecheckAnswer::default();
        if items.is_empty() {
            return Ok(answer);
        }
        let AccountTripletex {
            client,
            key,
            acting,
        } = account_tripletex(&self.store, &self.secrets, &self.tripletex, org, account).await?;
        let tx = |e: TripletexError| RecheckError::Tripletex(e.to_string());
        let tomorrow = today.succ_opt().unwrap_or(today);

        let mut invoices: Vec<&RecheckItem> =
            items.iter().filter(|i| i.invoice_id.is_some()).collect();
        invoices.sort_by_key(|i| i.invoice_date);
        for page in invoices.chunks(IDS_PER_REQUEST) {
            let ids: Vec<i64> = page.iter().filter_map(|i| i.invoice_id).collect();
            let from = page.iter().map(|i| i.invoice_date).min().unwrap_or(today);
            let to = page
                .iter()
                .map(|i| i.invoice_date)
                .max()
                .unwrap_or(today)
                .succ_opt()
                .unwrap_or(tomorrow);
            let rows = client
                .invoices_by_id(&key, acting, &ids, from, to)
                .await
                .map_err(tx)?;
            answer.requests += 1;
            let by_id: HashMap<i64, _> = rows.into_iter().map(|r| (r.id, r)).collect();
            for item in page {
                let now = item.invoice_id.and_then(|id| by_id.get(&id));
                answer.found.insert(
                    item.claim_id.clone(),
                    RecheckFound {
                        current: now.map(|r| Current {
                            version: r.version,
                            outstanding: r.amount_outstanding,
                            credited: r.is_credited,
                        }),
                        kid: now.and_then(|r| r.kid.clone()),
                    },
                );
            }
        }

        let mut by_customer: HashMap<i64, Vec<&RecheckItem>> = HashMap::new();
        for i in items.iter().filter(|i| i.invoice_id.is_none()) {
            by_customer.entry(i.customer_id).or_default().push(i);
        }
        for (customer, page) in by_customer {
            let open = client
                .open_posts_of_customer(&key, acting, customer, tomorrow)
                .await
                .map_err(tx)?;
            answer.requests += 1;
            for item in page {
                let still = open.iter().find(|p| Some(p.id) == item.posting_id);
                answer.found.insert(
                    item.claim_id.clone(),
                    RecheckFound {
                        current: still.map(|p| Current {
                            version: p.version.filter(|_| item.mirrored.version.is_some()),
                            outstanding: None::<Money>,
                            credited: false,
                        }),
                        kid: None,
                    },
                );
            }
        }
        Ok(answer)
    }
}
