//! The sent-mail log in the app table ([`SentMailLog`] for [`crate::adapters::mail`]): one
//! record per idempotency key, `PK = MAIL#{idempotencyKey}`, `SK = MAIL` ([`super::keys`]), with
//! `status` (`sending` | `sent` | `unknown`), `attempt`, `subject`, `recipients` (N), `startedAt`,
//! `updatedAt`, and once sent `messageId`, `sentAt`. No TTL: the record is the proof that a mail
//! went out. No addresses or bodies are stored.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::item::*;
use super::keys::{mail_key_of, mail_pk, MAIL_SK};
use super::{service_error, written, StoreError};
use crate::adapters::mail::{
    Claim, MailError, MailRecord, MailStatus, MessageId, OutgoingMail, SentMailLog,
};

/// The sent-mail log in DynamoDB.
#[derive(Debug, Clone)]
pub struct DynamoSentMailLog {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl DynamoSentMailLog {
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }
}

fn mail_key(idempotency_key: &str) -> Item {
    key(mail_pk(idempotency_key), MAIL_SK.into())
}

fn log_error(e: StoreError) -> MailError {
    MailError::Log(e.to_string())
}

fn record_from(item: &Item) -> Result<MailRecord, MailError> {
    let pk = get_s(item, "PK").map_err(log_error)?;
    Ok(MailRecord {
        key: mail_key_of(pk)
            .ok_or_else(|| MailError::Log("mail record: not a mail key".to_string()))?
            .to_string(),
        status: MailStatus::parse(get_s(item, "status").map_err(log_error)?)
            .ok_or_else(|| MailError::Log("mail record: unknown status".to_string()))?,
        attempt: get_s(item, "attempt").map_err(log_error)?.to_string(),
        subject: opt_s(item, "subject").unwrap_or_default().to_string(),
        recipients: get_n(item, "recipients").unwrap_or(0),
        started_at: get_ts(item, "startedAt").map_err(log_error)?,
        updated_at: get_ts(item, "updatedAt").map_err(log_error)?,
        message_id: opt_s(item, "messageId").map(|m| MessageId(m.to_string())),
    })
}

#[async_trait]
impl SentMailLog for DynamoSentMailLog {
    async fn claim(
        &self,
        msg: &OutgoingMail,
        attempt: &str,
        now: DateTime<Utc>,
    ) -> Result<Claim, MailError> {
        let key = &msg.idempotency_key;
        // A record deleted between our failed put and our read: try the put again (bounded).
        for _ in 0..3 {
            let mut item = mail_key(key);
            item.insert("status".into(), s(MailStatus::Sending.as_str()));
            item.insert("attempt".into(), s(attempt));
            item.insert("subject".into(), s(&msg.subject));
            item.insert("recipients".into(), n(msg.to.len()));
            item.insert("startedAt".into(), ts(&now));
            item.insert("updatedAt".into(), ts(&now));
            let put = self
                .client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(item))
                .condition_expression("attribute_not_exists(PK)")
                .send()
                .await;
            if written(put).map_err(log_error)? {
                return Ok(Claim::Claimed);
            }
            if let Some(r) = self.get(key).await? {
                return Ok(Claim::Existing(r));
            }
        }
        Err(MailError::Log(format!(
            "mail record {key} keeps changing; try later"
        )))
    }

    async fn mark_sent(
        &self,
        key: &str,
        attempt: &str,
        id: &MessageId,
        now: DateTime<Utc>,
    ) -> Result<(), MailError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(mail_key(key)))
            .update_expression("SET #s = :sent, messageId = :id, sentAt = :now, updatedAt = :now")
            .condition_expression("attempt = :a")
            .expression_attribute_names("#s", "status")
            .expression_attribute_values(":sent", s(MailStatus::Sent.as_str()))
            .expression_attribute_values(":id", s(id.as_str()))
            .expression_attribute_values(":now", ts(&now))
            .expression_attribute_values(":a", s(attempt))
            .send()
            .await
            .map_err(|e| log_error(service_error(e)))?;
        Ok(())
    }

    async fn mark_unknown(
        &self,
        key: &str,
        attempt: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, MailError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(mail_key(key)))
            .update_expression("SET #s = :unknown, updatedAt = :now")
            .condition_expression("attempt = :a AND #s = :sending")
            .expression_attribute_names("#s", "status")
            .expression_attribute_values(":unknown", s(MailStatus::Unknown.as_str()))
            .expression_attribute_values(":sending", s(MailStatus::Sending.as_str()))
            .expression_attribute_values(":now", ts(&now))
            .expression_attribute_values(":a", s(attempt))
            .send()
            .await;
        written(result).map_err(log_error)
    }

    async fn release(&self, key: &str, attempt: &str) -> Result<(), MailError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(mail_key(key)))
            .condition_expression("attempt = :a AND #s = :sending")
            .expression_attribute_names("#s", "status")
            .expression_attribute_values(":sending", s(MailStatus::Sending.as_str()))
            .expression_attribute_values(":a", s(attempt))
            .send()
            .await;
        // Someone else's attempt now (or already gone): nothing of ours to release.
        written(result).map_err(log_error)?;
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Option<MailRecord>, MailError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(mail_key(key)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| log_error(service_error(e)))?;
        out.item().map(record_from).transpose()
    }
}
