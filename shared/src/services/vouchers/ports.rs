//! The ports of the voucher-posting service, and their implementations by the real adapters
//! (DynamoDB; Tripletex with the key's token from Secrets Manager). Unit tests use in-memory
//! fakes of the same traits.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use chrono::NaiveDate;
use secrecy::SecretString;

use crate::adapters::secrets::Secrets;
use crate::adapters::store::claims::ClaimRecord;
use crate::adapters::store::vouchers::{PostingRecord, Written};
use crate::adapters::store::{DynamoStore, StoreError};
use crate::adapters::tripletex::voucher::{voucher_body, OpenPosting, PostedVoucher};
use crate::adapters::tripletex::{Acting, EmployeeKey, TripletexClient, TripletexError};
use crate::domain::claim::ClaimId;
use crate::domain::setup::{AccountId, Integration, KeyId, OrgId};
use crate::domain::voucher::{LedgerAccount, VoucherDraft};
use crate::domain::Money;
use crate::services::sync::TripletexSource;

/// Posting records, claims and integrations (DynamoDB in production).
#[async_trait]
pub trait PostingStore: Send + Sync {
    async fn get_posting(
        &self,
        org: &OrgId,
        account: &AccountId,
        claim: &ClaimId,
        version: u32,
    ) -> Result<Option<PostingRecord>, StoreError>;
    /// Conditional on `rec.rev` (0: must not exist); bumps `rec.rev` when written.
    async fn save_posting(&self, rec: &mut PostingRecord) -> Result<Written, StoreError>;
    async fn list_postings(
        &self,
        org: &OrgId,
        account: &AccountId,
    ) -> Result<Vec<PostingRecord>, StoreError>;
    async fn get_claim(
        &self,
        org: &OrgId,
        account: &AccountId,
        claim: &ClaimId,
    ) -> Result<Option<ClaimRecord>, StoreError>;
    async fn get_integration(
        &self,
        org: &OrgId,
        account: &AccountId,
    ) -> Result<Option<Integration>, StoreError>;
}

#[async_trait]
impl PostingStore for DynamoStore {
    async fn get_posting(
        &self,
        org: &OrgId,
        account: &AccountId,
        claim: &ClaimId,
        version: u32,
    ) -> Result<Option<PostingRecord>, StoreError> {
        DynamoStore::get_posting(self, org, account, claim, version).await
    }
    async fn save_posting(&self, rec: &mut PostingRecord) -> Result<Written, StoreError> {
        DynamoStore::save_posting(self, rec).await
    }
    async fn list_postings(
        &self,
        org: &OrgId,
        account: &AccountId,
    ) -> Result<Vec<PostingRecord>, StoreError> {
        DynamoStore::list_postings(self, org, account).await
    }
    async fn get_claim(
        &self,
        org: &OrgId,
        account: &AccountId,
        claim: &ClaimId,
    ) -> Result<Option<ClaimRecord>, StoreError> {
        DynamoStore::get_claim(self, org, account, claim).await
    }
    async fn get_integration(
        &self,
        org: &OrgId,
        account: &AccountId,
    ) -> Result<Option<Integration>, StoreError> {
        DynamoStore::get_integration(self, org, account).await
    }
}

/// Whose books: the integration's key and the Tripletex company it reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Books {
    pub org: OrgId,
    pub key_id: KeyId,
    pub company_id: i64,
    pub accountant_key: bool,
}

/// A voucher in Tripletex.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Booked {
    pub id: i64,
    /// «12-2026», or «id …» before it has a number.
    pub number: String,
    pub date: NaiveDate,
    /// The posting on the customer ledger (with the customer).
    pub receivables_posting_id: Option<i64>,
}

/// Why a Tripletex call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LedgerError {
    /// Tripletex refused (4xx): not retried blindly. `validation`: (path or field, message).
    #[error("Tripletex refused (HTTP {status}): {message}")]
    Refused {
        status: u16,
        message: String,
        validation: Vec<(String, String)>,
    },
    /// Rate limit, server or network trouble (after the client's retries): try again later.
    #[error("Tripletex is unavailable: {0}")]
    Transient(String),
    /// An answer we cannot use, or the key's token could not be read.
    #[error("{0}")]
    Unexpected(String),
}

impl From<TripletexError> for LedgerError {
    fn from(e: TripletexError) -> Self {
        if e.is_transient() {
            return LedgerError::Transient(e.to_string());
        }
        match e.api_error() {
            Some(api) if !matches!(e, TripletexError::Unauthorized(_)) => LedgerError::Refused {
                status: api.status,
                message: api.message.clone(),
                validation: api
                    .validation_messages
                    .iter()
                    .map(|v| {
                        (
                            v.path
                                .clone()
                                .or_else(|| v.field.clone())
                                .unwrap_or_default(),
                            v.message.clone().unwrap_or_default(),
                        )
                    })
                    .collect(),
            },
            _ => LedgerError::Unexpected(e.to_string()),
        }
    }
}

/// The Tripletex calls the posting needs.
#[async_trait]
pub trait VoucherLedger: Send + Sync {
    /// The active accounts with these numbers.
    async fn accounts(&self, b: &Books, numbers: &[u32])
        -> Result<Vec<LedgerAccount>, LedgerError>;
    /// The customer ledger account (`postingRules`).
    async fn receivables(&self, b: &Books) -> Result<Option<LedgerAccount>, LedgerError>;
    /// The id of the voucher type named `name`, if the company has it.
    async fn voucher_type(&self, b: &Books, name: &str) -> Result<Option<i64>, LedgerError>;
    /// The first day of the first open period from `date`'s month on.
    async fn first_open_date(
        &self,
        b: &Books,
        date: NaiveDate,
    ) -> Result<Option<NaiveDate>, LedgerError>;
    /// The voucher with exactly this `externalVoucherNumber`: looked up by the number, and
    /// among the vouchers of `[from, to)`.
    async fn find(
        &self,
        b: &Books,
        external: &str,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Option<Booked>, LedgerError>;
    async fn post(
        &self,
        b: &Books,
        draft: &VoucherDraft,
        voucher_type: Option<i64>,
    ) -> Result<Booked, LedgerError>;
    async fn open_postings(
        &self,
        b: &Books,
        account_id: i64,
        customer_id: i64,
        before: NaiveDate,
    ) -> Result<Vec<OpenPosting>, LedgerError>;
    /// Closes the postings together; Tripletex's messages (empty: closed).
    async fn close(&self, b: &Books, ids: &[i64]) -> Result<Vec<(i64, String)>, LedgerError>;
    /// The voucher dated `date` that reverses `voucher_id`, if there is one.
    async fn reversal_of(
        &self,
        b: &Books,
        voucher_id: i64,
        date: NaiveDate,
    ) -> Result<Option<Booked>, LedgerError>;
    async fn reverse(
        &self,
        b: &Books,
        voucher_id: i64,
        date: NaiveDate,
    ) -> Result<Booked, LedgerError>;
}

/// [`VoucherLedger`] on the real client. The client is made on first use, from the consumer
/// token in Secrets Manager (nothing is read while the function starts); the key's token is read
/// once per process and key.
pub struct TripletexBooks {
    tripletex: TripletexSource,
    /// Where tokens not cached yet are read (`None`: only the tokens given).
    secrets: Option<Secrets>,
    tokens: Mutex<HashMap<(OrgId, KeyId), SecretString>>,
}

impl TripletexBooks {
    /// The client made on first use by `tripletex` (the function: nothing is read at start-up).
    pub fn lazy(tripletex: TripletexSource, secrets: Secrets) -> Self {
        Self {
            tripletex,
            secrets: Some(secrets),
            tokens: Mutex::default(),
        }
    }

    /// A ready client; employee tokens from Secrets Manager (tests against the sandbox and moto).
    pub fn new(client: TripletexClient, secrets: Secrets) -> Self {
        Self::lazy(TripletexSource::ready(client), secrets)
    }

    /// With the tokens given and no Secrets Manager (tests against the sandbox).
    pub fn with_tokens(
        client: TripletexClient,
        tokens: impl IntoIterator<Item = ((OrgId, KeyId), SecretString)>,
    ) -> Self {
        Self {
            tripletex: TripletexSource::ready(client),
            secrets: None,
            tokens: Mutex::new(tokens.into_iter().collect()),
        }
    }

    async fn client(&self) -> Result<&TripletexClient, LedgerError> {
        if let Some(client) = self.tripletex.ready_client() {
            return Ok(client);
        }
        let secrets = self.secrets.as_ref().ok_or_else(|| {
            LedgerError::Unexpected("no Tripletex client and no Secrets Manager".into())
        })?;
        self.tripletex
            .client(secrets)
            .await
            .map_err(|e| LedgerError::Unexpected(format!("the consumer token: {e}")))
    }

    /// The client, the key and whom it acts for.
    async fn key(&self, b: &Books) -> Result<(&TripletexClient, EmployeeKey, Acting), LedgerError> {
        let client = self.client().await?;
        let cached = self
            .tokens
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&(b.org.clone(), b.key_id.clone()))
            .cloned();
        let token = match cached {
            Some(t) => t,
            None => {
                let secrets = self.secrets.as_ref().ok_or_else(|| {
                    LedgerError::Unexpected(format!("no token for key {}", b.key_id))
                })?;
                let t = secrets
                    .employee_token(&b.org, &b.key_id)
                    .await
                    .map_err(|e| LedgerError::Unexpected(format!("the key's token: {e}")))?;
                self.tokens
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert((b.org.clone(), b.key_id.clone()), t.clone());
                t
            }
        };
        let acting = Acting::of_key(b.accountant_key, b.company_id);
        Ok((
            client,
            EmployeeKey::new(b.key_id.to_string(), token),
            acting,
        ))
    }
}

fn booked(v: &PostedVoucher) -> Booked {
    Booked {
        id: v.id,
        number: v.display_number(),
        date: v.date.unwrap_or_default(),
        receivables_posting_id: v
            .postings
            .iter()
            .find(|p| p.customer_id.is_some())
            .map(|p| p.id),
    }
}

#[async_trait]
impl VoucherLedger for TripletexBooks {
    async fn accounts(
        &self,
        b: &Books,
        numbers: &[u32],
    ) -> Result<Vec<LedgerAccount>, LedgerError> {
        let (c, k, a) = self.key(b).await?;
        Ok(c.accounts_by_number(&k, a, numbers).await?)
    }
    async fn receivables(&self, b: &Books) -> Result<Option<LedgerAccount>, LedgerError> {
        let (c, k, a) = self.key(b).await?;
        Ok(c.receivables_account(&k, a).await?)
    }
    async fn voucher_type(&self, b: &Books, name: &str) -> Result<Option<i64>, LedgerError> {
        let (c, k, a) = self.key(b).await?;
        Ok(c.voucher_type_id(&k, a, name).await?)
    }
    async fn first_open_date(
        &self,
        b: &Books,
        date: NaiveDate,
    ) -> Result<Option<NaiveDate>, LedgerError> {
        let (c, k, a) = self.key(b).await?;
        Ok(c.first_open_period_start(&k, a, date).await?)
    }
    async fn find(
        &self,
        b: &Books,
        external: &str,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Option<Booked>, LedgerError> {
        let (c, k, a) = self.key(b).await?;
        let found = c.vouchers_by_external_number(&k, a, external).await?;
        if let Some(v) = found.iter().min_by_key(|v| v.id) {
            return Ok(Some(booked(v)));
        }
        let ids = c.voucher_ids_in_window(&k, a, from, to, external).await?;
        match ids.iter().min() {
            Some(id) => Ok(Some(booked(&c.voucher(&k, a, *id).await?))),
            None => Ok(None),
        }
    }
    async fn post(
        &self,
        b: &Books,
        draft: &VoucherDraft,
        voucher_type: Option<i64>,
    ) -> Result<Booked, LedgerError> {
        let (c, k, a) = self.key(b).await?;
        let body = voucher_body(draft, voucher_type);
        Ok(booked(&c.post_voucher(&k, a, &body, true).await?))
    }
    async fn open_postings(
        &self,
        b: &Books,
        account_id: i64,
        customer_id: i64,
        before: NaiveDate,
    ) -> Result<Vec<OpenPosting>, LedgerError> {
        let (c, k, a) = self.key(b).await?;
        Ok(
            c.open_customer_postings(&k, a, account_id, customer_id, before)
                .await?,
        )
    }
    async fn close(&self, b: &Books, ids: &[i64]) -> Result<Vec<(i64, String)>, LedgerError> {
        let (c, k, a) = self.key(b).await?;
        Ok(c.close_postings(&k, a, ids).await?)
    }
    async fn reversal_of(
        &self,
        b: &Books,
        voucher_id: i64,
        date: NaiveDate,
    ) -> Result<Option<Booked>, LedgerError> {
        let (c, k, a) = self.key(b).await?;
        let to = date.succ_opt().unwrap_or(date);
        let all = c.vouchers_in_window(&k, a, date, to).await?;
        Ok(all
            .iter()
            .find(|v| v.reverses == Some(voucher_id))
            .map(booked))
    }
    async fn reverse(
        &self,
        b: &Books,
        voucher_id: i64,
        date: NaiveDate,
    ) -> Result<Booked, LedgerError> {
        let (c, k, a) = self.key(b).await?;
        Ok(booked(&c.reverse_voucher(&k, a, voucher_id, date).await?))
    }
}

/// The sum of postings, for closing (all or nothing).
pub fn sum(postings: &[OpenPosting]) -> Money {
    postings.iter().fold(Money::ZERO, |a, p| a + p.amount)
}
