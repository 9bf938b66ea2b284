//! The record of sent mail per idempotency key ([`SentMailLog`]), which makes
//! [`super::Mailer::send_once`] at most once, and an in-process implementation. The DynamoDB one
//! is the store's ([`crate::adapters::store::mail_log::DynamoSentMailLog`]).

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::ses::{MailError, MessageId, OutgoingMail};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MailStatus {
    Sending,
    Sent,
    Unknown,
}

impl MailStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sending => "sending",
            Self::Sent => "sent",
            Self::Unknown => "unknown",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "sending" => Some(Self::Sending),
            "sent" => Some(Self::Sent),
            "unknown" => Some(Self::Unknown),
            _ => None,
        }
    }
}

/// One idempotency key's record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailRecord {
    pub key: String,
    pub status: MailStatus,
    /// The delivery that created it (a random id per `send_once` call).
    pub attempt: String,
    pub subject: String,
    pub recipients: u32,
    pub started_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub message_id: Option<MessageId>,
}

/// What [`SentMailLog::claim`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The record was created (status `sending`) for this attempt: go ahead and send.
    Claimed,
    /// A record exists already.
    Existing(MailRecord),
}

/// The record of sent mail per idempotency key. Every change is conditional on the attempt that
/// created the record.
#[async_trait]
pub trait SentMailLog: Send + Sync {
    /// Creates the record with status `sending` unless the key has one.
    async fn claim(
        &self,
        msg: &OutgoingMail,
        attempt: &str,
        now: DateTime<Utc>,
    ) -> Result<Claim, MailError>;
    /// `sending` → `sent` with the message id (for this attempt's record, whatever its status).
    async fn mark_sent(
        &self,
        key: &str,
        attempt: &str,
        id: &MessageId,
        now: DateTime<Utc>,
    ) -> Result<(), MailError>;
    /// `sending` → `unknown` for this attempt's record; `false` if it is not (any more) that.
    async fn mark_unknown(
        &self,
        key: &str,
        attempt: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, MailError>;
    /// Deletes this attempt's `sending` record (the mail was certainly not sent).
    async fn release(&self, key: &str, attempt: &str) -> Result<(), MailError>;
    async fn get(&self, key: &str) -> Result<Option<MailRecord>, MailError>;
}

/// An in-process log (tests, local tools).
#[derive(Debug, Default)]
pub struct MemorySentMailLog {
    records: std::sync::Mutex<HashMap<String, MailRecord>>,
}

impl MemorySentMailLog {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, MailRecord>> {
        self.records.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait]
impl SentMailLog for MemorySentMailLog {
    async fn claim(
        &self,
        msg: &OutgoingMail,
        attempt: &str,
        now: DateTime<Utc>,
    ) -> Result<Claim, MailError> {
        let mut map = self.lock();
        if let Some(r) = map.get(&msg.idempotency_key) {
            return Ok(Claim::Existing(r.clone()));
        }
        map.insert(
            msg.idempotency_key.clone(),
            MailRecord {
                key: msg.idempotency_key.clone(),
                status: MailStatus::Sending,
                attempt: attempt.to_string(),
                subject: msg.subject.clone(),
                recipients: u32::try_from(msg.to.len()).unwrap_or(u32::MAX),
                started_at: now,
                updated_at: now,
                message_id: None,
            },
        );
        Ok(Claim::Claimed)
    }

    async fn mark_sent(
        &self,
        key: &str,
        attempt: &str,
        id: &MessageId,
        now: DateTime<Utc>,
    ) -> Result<(), MailError> {
        match self.lock().get_mut(key) {
            Some(r) if r.attempt == attempt => {
                r.status = MailStatus::Sent;
                r.message_id = Some(id.clone());
                r.updated_at = now;
                Ok(())
            }
            _ => Err(MailError::Log(format!(
                "mail record {key} is not this delivery's"
            ))),
        }
    }

    async fn mark_unknown(
        &self,
        key: &str,
        attempt: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, MailError> {
        match self.lock().get_mut(key) {
            Some(r) if r.attempt == attempt && r.status == MailStatus::Sending => {
                r.status = MailStatus::Unknown;
                r.updated_at = now;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn release(&self, key: &str, attempt: &str) -> Result<(), MailError> {
        let mut map = self.lock();
        if map
            .get(key)
            .is_some_and(|r| r.attempt == attempt && r.status == MailStatus::Sending)
        {
            map.remove(key);
        }
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Option<MailRecord>, MailError> {
        Ok(self.lock().get(key).cloned())
    }
}
