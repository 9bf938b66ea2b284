//! The FIFO voucher-posting queue (`VoucherPostingQueue`): the settlements handed over by the
//! classification worker and the undo of a settlement whose job was sent, read by the
//! voucher-posting worker.
//!
//! | SQS field | settle | undo |
//! |---|---|---|
//! | body | [`VoucherPostingJob`] | [`VoucherUndoJob`] |
//! | `MessageGroupId` | `{accountId}#{claimId}` | `{accountId}#{claimId}` (after its settle job) |
//! | `MessageDeduplicationId` | `settle:{accountId}:{claimId}:{version}` | `undo:{accountId}:{claimId}:{version}` |
//!
//! A retry asked for by a person (`POST …/settlements/{sid}/retry`) sends the settle job again
//! with the deduplication id `{key}:retry:{n}`, so SQS does not drop it as a copy.

use aws_sdk_sqs::error::DisplayErrorContext;
use serde::{Deserialize, Serialize};

use crate::domain::claim::{VoucherPostingJob, VoucherUndoJob};

/// One message of the voucher-posting queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum PostingMessage {
    /// Undo first: it has the `undoes` field a settle job lacks.
    Undo(VoucherUndoJob),
    Settle(VoucherPostingJob),
}

impl PostingMessage {
    pub fn parse(body: &str) -> Result<Self, String> {
        serde_json::from_str(body).map_err(|e| e.to_string())
    }

    pub fn key(&self) -> &str {
        match self {
            PostingMessage::Undo(j) => &j.idempotency_key,
            PostingMessage::Settle(j) => &j.idempotency_key,
        }
    }
}

/// The queue's client.
#[derive(Debug, Clone)]
pub struct VoucherPostingQueue {
    client: aws_sdk_sqs::Client,
    url: String,
}

impl VoucherPostingQueue {
    pub fn new(client: aws_sdk_sqs::Client, url: impl Into<String>) -> Self {
        Self {
            client,
            url: url.into(),
        }
    }

    /// Sends a message; `deduplication_id` defaults to the message's idempotency key.
    pub async fn send(
        &self,
        message: &PostingMessage,
        deduplication_id: Option<&str>,
    ) -> Result<(), String> {
        let (account, claim) = match message {
            PostingMessage::Undo(j) => (&j.account_id, &j.claim_id),
            PostingMessage::Settle(j) => (&j.account_id, &j.claim_id),
        };
        let body = serde_json::to_string(message).map_err(|e| e.to_string())?;
        self.client
            .send_message()
            .queue_url(&self.url)
            .message_body(body)
            .message_group_id(format!("{account}#{claim}"))
            .message_deduplication_id(deduplication_id.unwrap_or(message.key()))
            .send()
            .await
            .map_err(|e| DisplayErrorContext(&e).to_string())?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::claim::{ClaimId, SettlementAmounts};
    use crate::domain::setup::{AccountId, OrgId};
    use chrono::NaiveDate;

    #[test]
    fn settle_and_undo_bodies_parse_apart() {
        let account = AccountId::from_suffix("0192f0c4a1b27f3e8c1d2e3f4a5b6c7d").unwrap();
        let claim = ClaimId::invoice(1001).unwrap();
        let settle = VoucherPostingJob {
            org: OrgId::parse("org_a").unwrap(),
            account_id: account.clone(),
            claim_id: claim.clone(),
            invoice_id: Some(1001),
            customer_id: 77,
            settlement_version: 1,
            settled_on: NaiveDate::from_ymd_opt(2026, 8, 1).unwrap(),
            amounts: SettlementAmounts::default(),
            idempotency_key: VoucherPostingJob::key(&account, &claim, 1),
        };
        let body = serde_json::to_string(&settle).unwrap();
        assert_eq!(
            PostingMessage::parse(&body).unwrap(),
            PostingMessage::Settle(settle.clone())
        );
        let undo = VoucherUndoJob {
            org: settle.org.clone(),
            account_id: account.clone(),
            claim_id: claim.clone(),
            settlement_version: 1,
            undoes: settle.idempotency_key.clone(),
            undone_on: NaiveDate::from_ymd_opt(2026, 8, 3).unwrap(),
            idempotency_key: VoucherUndoJob::key(&account, &claim, 1),
        };
        let body = serde_json::to_string(&PostingMessage::Undo(undo.clone())).unwrap();
        let parsed = PostingMessage::parse(&body).unwrap();
        assert_eq!(parsed, PostingMessage::Undo(undo));
        assert!(parsed.key().starts_with("undo:"));
        assert!(PostingMessage::parse("{}").is_err());
    }
}
