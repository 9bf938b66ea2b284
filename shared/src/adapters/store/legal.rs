//! The legal steps' items (keys in [`super::keys`]):
//!
//! - **notifications about a case** in the organization's partition
//!   (`NOTICE#CASE#{accountId}#{nid}`): one per notice that goes out once ("legal steps may now be
//!   taken", each limitation warning). Put only if absent, so the daily job that runs twice (or
//!   crashes between the notification and the case) writes each once. `seenAt` is set once; the
//!   digest it went out in (`digest`, the mail's idempotency key) is set once. They expire 400
//!   days after they were made (TTL `expiresAt`): the case's timeline keeps the record.
//! - **drafted legal documents** in the account's partition
//!   (`COLLECT#LEGALDOC#{caseId}#{docId}`), versioned (optimistic lock on `version`).
//!
//! The whole record is one JSON document (`doc`); the attributes beside it are what conditions
//! and filters read.

use chrono::{DateTime, Duration, Utc};

use super::claims::Save;
use super::item::*;
use super::keys::{self, account_pk, org_pk};
use super::{written, DynamoStore, StoreError};
use crate::domain::case::CaseId;
use crate::domain::collection::legal::notify::CaseNotification;
use crate::domain::collection::legal::record::{LegalDocumentId, LegalDocumentRecord};
use crate::domain::setup::{AccountId, OrgId};

const T_NOTIFICATION: &str = "CaseNotification";
const T_DOCUMENT: &str = "LegalDocument";

/// How long a notification is kept.
pub const NOTIFICATION_TTL_DAYS: i64 = 400;

fn doc<T: serde::de::DeserializeOwned>(item: &Item, what: &str) -> Result<T, StoreError> {
    serde_json::from_str(get_s(item, "doc")?)
        .map_err(|e| StoreError::Corrupt(format!("{what} document: {e}")))
}

fn notification_item(n_: &CaseNotification) -> Result<Item, StoreError> {
    let mut item = key(
        org_pk(&n_.org),
        keys::case_notification_sk(&n_.account_id, &n_.id),
    );
    item.insert("type".into(), s(T_NOTIFICATION));
    item.insert("accountId".into(), s(n_.account_id.as_str()));
    item.insert("caseId".into(), s(n_.case_id.to_string()));
    item.insert("kind".into(), s(n_.notice.kind()));
    item.insert("createdAt".into(), ts(&n_.created_at));
    item.insert(
        "expiresAt".into(),
        n((n_.created_at + Duration::days(NOTIFICATION_TTL_DAYS)).timestamp()),
    );
    if let Some(d) = &n_.digest {
        item.insert("digest".into(), s(d));
    }
    item.insert("doc".into(), s(to_json(n_)?));
    Ok(item)
}

fn notification_from(item: &Item) -> Result<CaseNotification, StoreError> {
    let mut n_: CaseNotification = doc(item, "notification")?;
    // The attributes set after the put are the truth.
    n_.seen_at = match opt_s(item, "seenAt") {
        Some(_) => Some(get_ts(item, "seenAt")?),
        None => None,
    };
    n_.digest = opt_s(item, "digest").map(str::to_string);
    Ok(n_)
}

fn document_item(d: &LegalDocumentRecord) -> Result<Item, StoreError> {
    let mut item = key(
        account_pk(&d.org, &d.account_id),
        keys::legal_document_sk(&d.case_id, &d.document_id),
    );
    item.insert("type".into(), s(T_DOCUMENT));
    item.insert("org".into(), s(d.org.as_str()));
    item.insert("accountId".into(), s(d.account_id.as_str()));
    item.insert("caseId".into(), s(d.case_id.to_string()));
    item.insert("documentId".into(), s(d.document_id.as_str()));
    item.insert("kind".into(), s(d.kind.key()));
    item.insert("version".into(), n(d.version));
    item.insert("doc".into(), s(to_json(d)?));
    Ok(item)
}

impl DynamoStore {
    // ------------------------------------------------------------------------ notifications

    /// Writes the notification unless it exists: `true` if this call wrote it.
    pub async fn put_case_notification(&self, n_: &CaseNotification) -> Result<bool, StoreError> {
        let res = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(notification_item(n_)?))
            .condition_expression("attribute_not_exists(PK)")
            .send()
            .await;
        written(res)
    }

    /// The notifications of an account, oldest first.
    pub async fn case_notifications(
        &self,
        org: &OrgId,
        account: &AccountId,
    ) -> Result<Vec<CaseNotification>, StoreError> {
        let items = self
            .query_prefix(org_pk(org), &keys::case_notifications_prefix(account), None)
            .await?;
        let mut out: Vec<CaseNotification> = items
            .iter()
            .map(notification_from)
            .collect::<Result<_, _>>()?;
        out.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
        Ok(out)
    }

    /// Every notification of the organization (all its accounts), oldest first.
    pub async fn org_case_notifications(
        &self,
        org: &OrgId,
    ) -> Result<Vec<CaseNotification>, StoreError> {
        let items = self
            .query_prefix(org_pk(org), keys::CASE_NOTIFICATION_PREFIX, None)
            .await?;
        let mut out: Vec<CaseNotification> = items
            .iter()
            .map(notification_from)
            .collect::<Result<_, _>>()?;
        out.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
        Ok(out)
    }

    /// Moves the notification into the digest `to`, if it is still in `from` (`None`: in no
    /// digest). `true` if it is in `to` now.
    pub async fn assign_digest(
        &self,
        n_: &CaseNotification,
        from: Option<&str>,
        to: &str,
    ) -> Result<bool, StoreError> {
        let req = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(
                org_pk(&n_.org),
                keys::case_notification_sk(&n_.account_id, &n_.id),
            )))
            .update_expression("SET digest = :to")
            .expression_attribute_values(":to", s(to));
        let req = match from {
            None => req.condition_expression(
                "attribute_exists(PK) AND (attribute_not_exists(digest) OR digest = :to)",
            ),
            Some(f) => req
                .condition_expression("attribute_exists(PK) AND (digest = :from OR digest = :to)")
                .expression_attribute_values(":from", s(f)),
        };
        written(req.send().await)
    }

    /// Marks the notification seen (the first time is kept); `None` when there is no such
    /// notification.
    pub async fn mark_case_notification_seen(
        &self,
        org: &OrgId,
        account: &AccountId,
        nid: &str,
        at: DateTime<Utc>,
    ) -> Result<Option<CaseNotification>, StoreError> {
        let sk = keys::case_notification_sk(account, nid);
        let res = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(org_pk(org), sk.clone())))
            .update_expression("SET seenAt = :t")
            .condition_expression("attribute_exists(PK) AND attribute_not_exists(seenAt)")
            .expression_attribute_values(":t", ts(&at))
            .send()
            .await;
        written(res)?;
        self.get(org_pk(org), sk)
            .await?
            .map(|i| notification_from(&i))
            .transpose()
    }

    // ---------------------------------------------------------------------------- documents

    /// Writes a document, conditional on the version read (`None`: it must not exist).
    pub async fn put_legal_document(
        &self,
        d: &LegalDocumentRecord,
        expected: Option<u64>,
    ) -> Result<Save, StoreError> {
        let item = document_item(d)?;
        let mut req = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item));
        req = match expected {
            None => req.condition_expression("attribute_not_exists(PK)"),
            Some(v) => req
                .condition_expression("version = :v")
                .expression_attribute_values(":v", n(v)),
        };
        Ok(if written(req.send().await)? {
            Save::Saved
        } else {
            Save::Conflict
        })
    }

    /// A document of a case; `None` when there is none (or it is another organization's).
    pub async fn get_legal_document(
        &self,
        org: &OrgId,
        account: &AccountId,
        case: &CaseId,
        document: &LegalDocumentId,
    ) -> Result<Option<LegalDocumentRecord>, StoreError> {
        self.get(
            account_pk(org, account),
            keys::legal_document_sk(case, document),
        )
        .await?
        .map(|i| doc(&i, "legal document"))
        .transpose()
    }

    /// The documents of a case, oldest first.
    pub async fn legal_documents_of_case(
        &self,
        org: &OrgId,
        account: &AccountId,
        case: &CaseId,
    ) -> Result<Vec<LegalDocumentRecord>, StoreError> {
        let items = self
            .query_prefix(
                account_pk(org, account),
                &keys::case_legal_documents_prefix(case),
                None,
            )
            .await?;
        let mut out: Vec<LegalDocumentRecord> = items
            .iter()
            .map(|i| doc(i, "legal document"))
            .collect::<Result<_, _>>()?;
        out.sort_by(|a, b| {
            a.drafted_at
                .cmp(&b.drafted_at)
                .then(a.document_id.cmp(&b.document_id))
        });
        Ok(out)
    }
}
