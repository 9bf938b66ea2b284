//! Dunning's items in the account partition: the policy, the notices (one per case and step),
//! the letters, the approval batches and the runs (keys in [`super::keys`], under `COLLECT#`).
//!
//! Every write is conditional: a new item on `attribute_not_exists(PK)`, a change on the
//! `version` read (optimistic lock). A letter and its notices move in one TransactWriteItems,
//! so a letter never goes out for a notice another letter holds; a failed condition is
//! [`Save::Conflict`], never an error. Indexes: GSI1 lists an account's active notices (what a
//! run reads instead of every notice ever sent), GSI2 the uncertain notices of all accounts
//! (operators) and the accounts whose dunning is on (the schedule's fan-out).
//!
//! [`DynamoStore::dunning_book`] is the planner's read: the account's open and paused cases with
//! their claims and customers.

use std::collections::{BTreeSet, HashMap};

use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::claims::{
    case_from, case_put, claim_from, claim_put, AccountRef, CaseWrite, ClaimRecord, Save,
    StoredCase,
};
use super::item::*;
use super::keys::{self, account_pk};
use super::ledger::{customer_from, StoredCustomer};
use super::{cancellation_codes, service_error, DynamoStore, StoreError, CONDITION_FAILED};
use crate::domain::case::CaseId;
use crate::domain::claim::ClaimId;
use crate::domain::collection::dunning::{
    BatchRecord, DunningPolicy, LetterId, LetterRecord, Notice, NoticeId, NoticeStatus, RunRecord,
};
use crate::domain::setup::{AccountId, OrgId};

const T_POLICY: &str = "DunningPolicy";
const T_NOTICE: &str = "DunningNotice";
const T_LETTER: &str = "DunningLetter";
const T_BATCH: &str = "DunningBatch";
const T_RUN: &str = "DunningRun";

/// The most items one TransactWriteItems takes: a letter and at most 99 notices.
pub const MAX_TRANSACTION_ITEMS: usize = 100;

/// A policy as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredPolicy {
    pub policy: DunningPolicy,
    /// 1, 2, …: the optimistic lock (`If-Match`).
    pub version: u64,
    pub updated_at: DateTime<Utc>,
    /// The user (JWT `sub`).
    pub updated_by: Option<String>,
}

/// What the planner reads of one account.
#[derive(Debug, Clone, Default)]
pub struct DunningBook {
    /// Open and paused cases (closed ones have nothing to plan).
    pub cases: Vec<StoredCase>,
    pub claims: HashMap<ClaimId, ClaimRecord>,
    pub customers: HashMap<i64, StoredCustomer>,
}

/// An uncertain notice of some account (operators' list).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UncertainRef {
    pub account: AccountRef,
    pub notice_id: NoticeId,
    pub since: String,
}

fn versioned_put(
    item: Item,
    expected: Option<u64>,
) -> (Item, String, HashMap<String, AttributeValue>) {
    let mut values = HashMap::new();
    let cond = match expected {
        None => "attribute_not_exists(PK)".to_string(),
        Some(v) => {
            values.insert(":v".to_string(), n(v));
            "version = :v".to_string()
        }
    };
    (item, cond, values)
}

fn doc<T: serde::de::DeserializeOwned>(item: &Item, what: &str) -> Result<T, StoreError> {
    serde_json::from_str(get_s(item, "doc")?)
        .map_err(|e| StoreError::Corrupt(format!("{what} document: {e}")))
}

fn policy_item(org: &OrgId, account: &AccountId, p: &StoredPolicy) -> Result<Item, StoreError> {
    let mut item = key(
        account_pk(org, account),
        keys::DUNNING_POLICY_SK.to_string(),
    );
    item.insert("type".into(), s(T_POLICY));
    item.insert("org".into(), s(org.as_str()));
    item.insert("accountId".into(), s(account.as_str()));
    item.insert("enabled".into(), b(p.policy.enabled));
    item.insert("version".into(), n(p.version));
    item.insert("doc".into(), s(to_json(p)?));
    if p.policy.enabled {
        item.insert("GSI2PK".into(), s(keys::DUNNING_ENABLED_GSI2PK));
        item.insert(
            "GSI2SK".into(),
            s(keys::dunning_enabled_gsi2sk(org, account)),
        );
    }
    Ok(item)
}

fn notice_item(n_: &Notice) -> Result<Item, StoreError> {
    let mut item = key(account_pk(&n_.org, &n_.account_id), keys::notice_sk(&n_.id));
    item.insert("type".into(), s(T_NOTICE));
    item.insert("org".into(), s(n_.org.as_str()));
    item.insert("accountId".into(), s(n_.account_id.as_str()));
    item.insert("noticeId".into(), s(n_.id.to_string()));
    item.insert("caseId".into(), s(n_.id.case_id.to_string()));
    item.insert("step".into(), s(n_.id.step.key()));
    item.insert("status".into(), s(n_.status.key()));
    if let Some(l) = &n_.letter_id {
        item.insert("letterId".into(), s(l.as_str()));
    }
    if let Some(d) = n_.batch {
        item.insert("batch".into(), s(d.to_string()));
    }
    item.insert("version".into(), n(n_.version));
    item.insert("doc".into(), s(to_json(n_)?));
    if n_.is_active() {
        item.insert(
            "GSI1PK".into(),
            s(keys::active_notices_gsi1pk(&n_.org, &n_.account_id)),
        );
        item.insert("GSI1SK".into(), s(keys::active_notice_gsi1sk(&n_.id)));
    }
    if let (NoticeStatus::Uncertain, Some(u)) = (n_.status, &n_.uncertain) {
        item.insert("GSI2PK".into(), s(keys::UNCERTAIN_NOTICES_GSI2PK));
        item.insert(
            "GSI2SK".into(),
            s(keys::uncertain_notice_gsi2sk(
                u.since,
                &n_.org,
                &n_.account_id,
                &n_.id,
            )),
        );
    }
    Ok(item)
}

fn letter_item(l: &LetterRecord) -> Result<Item, StoreError> {
    let mut item = key(
        account_pk(&l.org, &l.account_id),
        keys::letter_sk(l.send_date, &l.letter_id),
    );
    item.insert("type".into(), s(T_LETTER));
    item.insert("org".into(), s(l.org.as_str()));
    item.insert("accountId".into(), s(l.account_id.as_str()));
    item.insert("letterId".into(), s(l.letter_id.as_str()));
    item.insert("sendDate".into(), s(l.send_date.to_string()));
    item.insert("status".into(), s(l.status.key()));
    item.insert("channel".into(), s(l.channel.key()));
    item.insert("version".into(), n(l.version));
    item.insert("doc".into(), s(to_json(l)?));
    Ok(item)
}

fn put_of(
    item: Item,
    cond: String,
    values: HashMap<String, AttributeValue>,
    table: &str,
) -> Result<TransactWriteItem, StoreError> {
    let put = Put::builder()
        .table_name(table)
        .set_item(Some(item))
        .condition_expression(cond)
        .set_expression_attribute_values((!values.is_empty()).then_some(values))
        .build()
        .map_err(build_err)?;
    Ok(TransactWriteItem::builder().put(put).build())
}

impl DynamoStore {
    async fn put_conditional(&self, item: Item, expected: Option<u64>) -> Result<Save, StoreError> {
        let (item, cond, values) = versioned_put(item, expected);
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(cond)
            .set_expression_attribute_values((!values.is_empty()).then_some(values))
            .send()
            .await;
        Ok(if super::written(result)? {
            Save::Saved
        } else {
            Save::Conflict
        })
    }

    // ------------------------------------------------------------------------------ policy

    pub async fn get_dunning_policy(
        &self,
        org: &OrgId,
        account: &AccountId,
    ) -> Result<Option<StoredPolicy>, StoreError> {
        self.get(
            account_pk(org, account),
            keys::DUNNING_POLICY_SK.to_string(),
        )
        .await?
        .map(|i| doc(&i, "policy"))
        .transpose()
    }

    /// Writes the policy if the stored version is `expected` (`None`: none is stored yet).
    pub async fn put_dunning_policy(
        &self,
        org: &OrgId,
        account: &AccountId,
        policy: &StoredPolicy,
        expected: Option<u64>,
    ) -> Result<Save, StoreError> {
        self.put_conditional(policy_item(org, account, policy)?, expected)
            .await
    }

    /// The accounts whose dunning is on, across organizations (GSI2; eventually consistent: the
    /// run reads the policy again).
    pub async fn dunning_accounts(&self) -> Result<Vec<AccountRef>, StoreError> {
        self.query_index("GSI2", "GSI2PK", keys::DUNNING_ENABLED_GSI2PK)
            .await?
            .iter()
            .map(|item| {
                Ok(AccountRef {
                    org: get_parsed(item, "org", OrgId::parse)?,
                    account_id: get_parsed(item, "accountId", AccountId::parse)?,
                })
            })
            .collect()
    }

    // ----------------------------------------------------------------------------- notices

    /// The account's active notices (GSI1): waiting, under way, uncertain, or sent with effects
    /// still to record. Eventually consistent; every change is conditional on the version read,
    /// so a stale one only loses its write.
    pub async fn active_notices(
        &self,
        org: &OrgId,
        account: &AccountId,
    ) -> Result<Vec<Notice>, StoreError> {
        self.query_index("GSI1", "GSI1PK", &keys::active_notices_gsi1pk(org, account))
            .await?
            .iter()
            .map(|i| doc(i, "notice"))
            .collect()
    }

    /// Every notice of a case (each step's), read consistently.
    pub async fn notices_of_case(
        &self,
        org: &OrgId,
        account: &AccountId,
        case: &CaseId,
    ) -> Result<Vec<Notice>, StoreError> {
        self.query_prefix(
            account_pk(org, account),
            &keys::case_notices_prefix(case),
            None,
        )
        .await?
        .iter()
        .map(|i| doc(i, "notice"))
        .collect()
    }

    pub async fn get_notice(
        &self,
        org: &OrgId,
        account: &AccountId,
        id: &NoticeId,
    ) -> Result<Option<Notice>, StoreError> {
        self.get(account_pk(org, account), keys::notice_sk(id))
            .await?
            .map(|i| doc(&i, "notice"))
            .transpose()
    }

    /// Notices by id, read consistently (absent ones are left out).
    pub async fn get_notices(
        &self,
        org: &OrgId,
        account: &AccountId,
        ids: &[NoticeId],
    ) -> Result<Vec<Notice>, StoreError> {
        let keys = ids
            .iter()
            .map(|id| (account_pk(org, account), keys::notice_sk(id)))
            .collect();
        self.batch_get(keys, 4)
            .await?
            .iter()
            .map(|i| doc(i, "notice"))
            .collect()
    }

    /// Writes a notice if the stored version is `expected` (`None`: it must not exist).
    pub async fn put_notice(
        &self,
        notice: &Notice,
        expected: Option<u64>,
    ) -> Result<Save, StoreError> {
        self.put_conditional(notice_item(notice)?, expected).await
    }

    // ----------------------------------------------------------------------------- letters

    /// Writes a letter and its notices in one transaction, each conditional on the version
    /// read (`None`: must not exist). At most [`MAX_TRANSACTION_ITEMS`] items.
    pub async fn write_letter(
        &self,
        letter: &LetterRecord,
        expected_letter: Option<u64>,
        notices: &[(&Notice, Option<u64>)],
    ) -> Result<Save, StoreError> {
        if notices.len() + 1 > MAX_TRANSACTION_ITEMS {
            return Err(StoreError::Service(format!(
                "a letter with {} notices does not fit one transaction (at most {})",
                notices.len(),
                MAX_TRANSACTION_ITEMS - 1
            )));
        }
        let mut items = Vec::with_capacity(notices.len() + 1);
        let (item, cond, values) = versioned_put(letter_item(letter)?, expected_letter);
        items.push(put_of(item, cond, values, &self.table)?);
        for (notice, expected) in notices {
            let (item, cond, values) = versioned_put(notice_item(notice)?, *expected);
            items.push(put_of(item, cond, values, &self.table)?);
        }
        self.transact_or_conflict(items).await
    }

    /// A sent notice's effects in one transaction: the claim (conditional on its revision), the
    /// case (on its version), the notice and, when given, the letter (on theirs).
    pub async fn record_notice_effects(
        &self,
        claim: &ClaimRecord,
        case: Option<CaseWrite<'_>>,
        notice: (&Notice, u64),
        letter: Option<(&LetterRecord, u64)>,
    ) -> Result<Save, StoreError> {
        let mut items = Vec::with_capacity(4);
        let (item, cond, values) = claim_put(claim)?;
        items.push(put_of(item, cond, values, &self.table)?);
        if let Some(w) = &case {
            let (item, cond, values) = case_put(w)?;
            items.push(put_of(item, cond, values, &self.table)?);
        }
        let (item, cond, values) = versioned_put(notice_item(notice.0)?, Some(notice.1));
        items.push(put_of(item, cond, values, &self.table)?);
        if let Some((l, v)) = letter {
            let (item, cond, values) = versioned_put(letter_item(l)?, Some(v));
            items.push(put_of(item, cond, values, &self.table)?);
        }
        self.transact_or_conflict(items).await
    }

    async fn transact_or_conflict(
        &self,
        items: Vec<TransactWriteItem>,
    ) -> Result<Save, StoreError> {
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await;
        match result {
            Ok(_) => Ok(Save::Saved),
            Err(e) => {
                let e = e.into_service_error();
                let conflict = cancellation_codes(&e)
                    .is_some_and(|codes| codes.iter().any(|c| c == CONDITION_FAILED));
                if conflict {
                    Ok(Save::Conflict)
                } else {
                    Err(service_error(e))
                }
            }
        }
    }

    pub async fn get_letter(
        &self,
        org: &OrgId,
        account: &AccountId,
        send_date: NaiveDate,
        letter: &LetterId,
    ) -> Result<Option<LetterRecord>, StoreError> {
        self.get(account_pk(org, account), keys::letter_sk(send_date, letter))
            .await?
            .map(|i| doc(&i, "letter"))
            .transpose()
    }

    /// The letters of one send day (for the day's manifest).
    pub async fn letters_of_day(
        &self,
        org: &OrgId,
        account: &AccountId,
        send_date: NaiveDate,
    ) -> Result<Vec<LetterRecord>, StoreError> {
        self.query_prefix(
            account_pk(org, account),
            &keys::letters_of_day_prefix(send_date),
            None,
        )
        .await?
        .iter()
        .map(|i| doc(i, "letter"))
        .collect()
    }

    // ----------------------------------------------------------------------------- batches

    /// Creates the day's batch unless it exists; `true` when created.
    pub async fn put_batch_if_absent(&self, batch: &BatchRecord) -> Result<bool, StoreError> {
        let mut item = key(
            account_pk(&batch.org, &batch.account_id),
            keys::batch_sk(batch.date),
        );
        item.insert("type".into(), s(T_BATCH));
        item.insert("version".into(), n(1));
        item.insert("doc".into(), s(to_json(batch)?));
        Ok(self.put_conditional(item, None).await? == Save::Saved)
    }

    /// The account's batches, oldest first.
    pub async fn batches(
        &self,
        org: &OrgId,
        account: &AccountId,
    ) -> Result<Vec<BatchRecord>, StoreError> {
        self.query_prefix(account_pk(org, account), keys::BATCH_PREFIX, None)
            .await?
            .iter()
            .map(|i| doc(i, "batch"))
            .collect()
    }

    pub async fn get_batch(
        &self,
        org: &OrgId,
        account: &AccountId,
        date: NaiveDate,
    ) -> Result<Option<BatchRecord>, StoreError> {
        self.get(account_pk(org, account), keys::batch_sk(date))
            .await?
            .map(|i| doc(&i, "batch"))
            .transpose()
    }

    // -------------------------------------------------------------------------------- runs

    /// Writes a run if the stored version is `expected` (`None`: the day's run must not exist).
    pub async fn put_run(
        &self,
        run: &RunRecord,
        expected: Option<u64>,
    ) -> Result<Save, StoreError> {
        let mut item = key(
            account_pk(&run.org, &run.account_id),
            keys::run_sk(run.date),
        );
        item.insert("type".into(), s(T_RUN));
        item.insert("status".into(), s(run.status.key()));
        item.insert("version".into(), n(run.version));
        item.insert("doc".into(), s(to_json(run)?));
        self.put_conditional(item, expected).await
    }

    pub async fn get_run(
        &self,
        org: &OrgId,
        account: &AccountId,
        date: NaiveDate,
    ) -> Result<Option<RunRecord>, StoreError> {
        self.get(account_pk(org, account), keys::run_sk(date))
            .await?
            .map(|i| doc(&i, "run"))
            .transpose()
    }

    /// The account's runs, oldest first.
    pub async fn runs(
        &self,
        org: &OrgId,
        account: &AccountId,
    ) -> Result<Vec<RunRecord>, StoreError> {
        self.query_prefix(account_pk(org, account), keys::RUN_PREFIX, None)
            .await?
            .iter()
            .map(|i| doc(i, "run"))
            .collect()
    }

    // --------------------------------------------------------------------------- operators

    /// Uncertain notices of every account, oldest first (GSI2).
    pub async fn uncertain_notices(&self) -> Result<Vec<UncertainRef>, StoreError> {
        let mut out: Vec<UncertainRef> = self
            .query_index("GSI2", "GSI2PK", keys::UNCERTAIN_NOTICES_GSI2PK)
            .await?
            .iter()
            .map(|item| {
                Ok(UncertainRef {
                    account: AccountRef {
                        org: get_parsed(item, "org", OrgId::parse)?,
                        account_id: get_parsed(item, "accountId", AccountId::parse)?,
                    },
                    notice_id: get_parsed(item, "noticeId", NoticeId::parse)?,
                    since: get_s(item, "GSI2SK")?.to_string(),
                })
            })
            .collect::<Result<_, StoreError>>()?;
        out.sort_by(|a, b| a.since.cmp(&b.since));
        Ok(out)
    }

    // ------------------------------------------------------------------------ the planner

    /// What the planner reads of one account: its open and paused cases, their claims and
    /// their customers (BatchGetItem on the cases' keys, read consistently).
    pub async fn dunning_book(
        &self,
        org: &OrgId,
        account: &AccountId,
    ) -> Result<DunningBook, StoreError> {
        let items = self
            .query_prefix(
                account_pk(org, account),
                keys::CASE_PREFIX,
                Some((
                    "#state <> :closed",
                    vec![("#state", "state")],
                    vec![(":closed", s("closed"))],
                )),
            )
            .await?;
        let cases: Vec<StoredCase> = items.iter().map(case_from).collect::<Result<_, _>>()?;
        let claim_keys: Vec<(String, String)> = cases
            .iter()
            .map(|c| (account_pk(org, account), keys::claim_sk(&c.case.claim_id)))
            .collect();
        let customer_ids: BTreeSet<i64> = cases.iter().map(|c| c.case.customer_id).collect();
        let customer_keys: Vec<(String, String)> = customer_ids
            .iter()
            .map(|c| (account_pk(org, account), keys::customer_sk(*c)))
            .collect();
        let (claims, customers) = futures::try_join!(
            self.batch_get(claim_keys, 4),
            self.batch_get(customer_keys, 2)
        )?;
        let claims = claims
            .iter()
            .map(|i| claim_from(i).map(|c| (c.state.claim_id.clone(), c)))
            .collect::<Result<_, _>>()?;
        let customers = customers
            .iter()
            .map(|i| customer_from(i).map(|c| (c.customer.id, c)))
            .collect::<Result<_, _>>()?;
        Ok(DunningBook {
            cases,
            claims,
            customers,
        })
    }
}
