//! E-mail through Amazon SES v2, sent at most once per idempotency key.
//!
//! [`Mailer::send`] sends one message. SES has no idempotency token, and SQS delivers at least once,
//! so jobs use [`Mailer::send_once`] with a [`SentMailLog`]:
//!
//! 1. a conditional put creates the key's record with status `sending` (only one delivery can);
//! 2. the mail is sent;
//! 3. the record gets status `sent` and the SES message id.
//!
//! A later delivery with the same key finds the record: `sent` → [`SendOutcome::AlreadySent`];
//! `sending` younger than [`Mailer::stale_after`] → [`MailError::InProgress`] (retryable: the
//! other delivery is probably sending right now); `sending` older than that (a crash between the
//! put and the answer from SES) → the record becomes `unknown` and [`MailError::Unknown`]
//! (not retryable).
//!
//! **The choice: at most once.** A mail that may have gone out is never sent again automatically;
//! a person checks `unknown` records (SES sending statistics / the recipient) and deletes the
//! record to allow a resend. When SES certainly did not take the mail (an error answer from SES,
//! or the connection was refused), the record is deleted again so that the retry can send. The SES
//! client is built without SDK retries for the same reason: the SDK would retry a timed-out
//! `SendEmail`, which can send twice; throttling and 5xx come back as retryable errors instead and
//! the queue retries the job.
//!
//! Log lines name the idempotency key, the SES message id and the number of recipients, never
//! the addresses or the text.

use std::collections::HashMap;
use std::fmt;

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_sesv2::config::http::HttpResponse;
use aws_sdk_sesv2::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_sesv2::operation::send_email::SendEmailError;
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::ledger::{SkipReason, SyncCounts};

/// SES allows 50 recipients per message.
pub const MAX_RECIPIENTS: usize = 50;
const MAX_KEY_LEN: usize = 256;
const MAX_SUBJECT_LEN: usize = 500;

/// One message to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingMail {
    pub to: Vec<String>,
    pub subject: String,
    pub text_body: String,
    pub html_body: Option<String>,
    /// The same key for every delivery of the same job (e.g. `ready:{integrationId}`).
    pub idempotency_key: String,
}

/// The SES message id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct MessageId(pub String);

impl MessageId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What [`Mailer::send_once`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendOutcome {
    /// Sent now.
    Sent(MessageId),
    /// An earlier delivery sent it; nothing was sent now.
    AlreadySent(MessageId),
}

impl SendOutcome {
    pub fn message_id(&self) -> &MessageId {
        match self {
            Self::Sent(id) | Self::AlreadySent(id) => id,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MailError {
    /// The message (or the sender address) is not valid; nothing was sent.
    #[error("the mail is not valid: {0}")]
    Invalid(String),
    /// SES refused the message: `MessageRejected` (unverified sender, suppressed recipient),
    /// `MailFromDomainNotVerifiedException`, `AccountSuspendedException`,
    /// `SendingPausedException`, `BadRequestException`, `NotFoundException` or another 4xx.
    #[error("SES refused the mail ({code}): {message}")]
    Rejected { code: String, message: String },
    /// `TooManyRequestsException` / `LimitExceededException`: try later.
    #[error("SES is throttling ({code}): {message}")]
    Throttled { code: String, message: String },
    /// SES answered 5xx: try later.
    #[error("SES failed (HTTP {status}): {message}")]
    Service { status: u16, message: String },
    /// SES could not be reached (connection refused, DNS): nothing was sent; try later.
    #[error("SES could not be reached: {0}")]
    Unreachable(String),
    /// The call ended without an answer (timeout, connection lost, unreadable answer): the mail
    /// may have been sent. Not retryable: a retry could send it twice.
    #[error("SES gave no answer; the mail may have been sent: {0}")]
    NoAnswer(String),
    /// Another delivery of the same key is sending right now: try later.
    #[error("mail {key} is being sent by another delivery")]
    InProgress { key: String },
    /// It is unknown whether the mail with this key went out (a delivery crashed or got no answer
    /// from SES). Never sent again automatically; a person checks.
    #[error("mail {key} may or may not have been sent; a person must check: {reason}")]
    Unknown { key: String, reason: String },
    /// The sent-mail log (DynamoDB) failed.
    #[error("sent-mail log: {0}")]
    Log(String),
}

impl MailError {
    /// Worth retrying later (throttling, SES 5xx, SES unreachable, a delivery in progress, the
    /// log failing). Refusals, invalid mails, unknown outcomes and no-answer are not.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Self::Throttled { .. }
                | Self::Service { .. }
                | Self::Unreachable(_)
                | Self::InProgress { .. }
                | Self::Log(_)
        )
    }

    /// SES certainly did not take the mail.
    fn certainly_not_sent(&self) -> bool {
        !matches!(self, Self::NoAnswer(_))
    }
}

// ---------------------------------------------------------------------------------------------
// Validation

fn has_control(s: &str) -> bool {
    s.chars().any(char::is_control)
}

fn valid_address(a: &str) -> bool {
    let Some((local, domain)) = a.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && a.len() <= 254
        && !a.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// Checks a message before anything is sent or logged.
pub fn validate(msg: &OutgoingMail) -> Result<(), MailError> {
    let invalid = |m: &str| Err(MailError::Invalid(m.to_string()));
    if msg.to.is_empty() {
        return invalid("no recipients");
    }
    if msg.to.len() > MAX_RECIPIENTS {
        return invalid("more than 50 recipients");
    }
    if let Some(i) = msg.to.iter().position(|a| !valid_address(a)) {
        return Err(MailError::Invalid(format!(
            "recipient {} is not an e-mail address",
            i + 1
        )));
    }
    if msg.subject.trim().is_empty() {
        return invalid("empty subject");
    }
    if has_control(&msg.subject) || msg.subject.chars().count() > MAX_SUBJECT_LEN {
        return invalid("the subject has line breaks or is too long");
    }
    if msg.text_body.trim().is_empty() {
        return invalid("empty text body");
    }
    let key = &msg.idempotency_key;
    if key.trim().is_empty() || key.len() > MAX_KEY_LEN || has_control(key) {
        return invalid("the idempotency key is empty, too long or has control characters");
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// SES

/// The SES v2 sender.
#[derive(Debug, Clone)]
pub struct Mailer {
    client: aws_sdk_sesv2::Client,
    from: String,
    stale_after: chrono::Duration,
}

fn content(data: &str) -> Result<Content, MailError> {
    Content::builder()
        .data(data)
        .charset("UTF-8")
        .build()
        .map_err(|e| MailError::Invalid(e.to_string()))
}

fn refused_connection(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            if matches!(
                io.kind(),
                std::io::ErrorKind::ConnectionRefused | std::io::ErrorKind::AddrNotAvailable
            ) {
                return true;
            }
        }
        let text = err.to_string();
        if text.contains("dns error") || text.contains("failed to lookup address") {
            return true;
        }
        cur = err.source();
    }
    false
}

fn map_send_error(e: SdkError<SendEmailError, HttpResponse>) -> MailError {
    let text = DisplayErrorContext(&e).to_string();
    match &e {
        SdkError::ServiceError(se) => {
            let status = se.raw().status().as_u16();
            let err = se.err();
            let code = err.code().unwrap_or("Unknown").to_string();
            let message = err.message().unwrap_or("").to_string();
            if err.is_too_many_requests_exception()
                || err.is_limit_exceeded_exception()
                || status == 429
                || code.starts_with("Throttl")
            {
                MailError::Throttled { code, message }
            } else if status >= 500 {
                MailError::Service {
                    status,
                    message: if message.is_empty() { code } else { message },
                }
            } else {
                MailError::Rejected { code, message }
            }
        }
        SdkError::ConstructionFailure(_) => MailError::Invalid(text),
        SdkError::DispatchFailure(_) if refused_connection(&e) => MailError::Unreachable(text),
        _ => MailError::NoAnswer(text),
    }
}

impl Mailer {
    /// A sender from `from` (a verified SES identity). The SES client has the SDK's retries off
    /// (see the module docs).
    pub fn new(config: &SdkConfig, from: String) -> Self {
        let ses = aws_sdk_sesv2::config::Builder::from(config)
            .retry_config(aws_sdk_sesv2::config::retry::RetryConfig::disabled())
            .build();
        Self::from_client(aws_sdk_sesv2::Client::from_conf(ses), from)
    }

    pub fn from_client(client: aws_sdk_sesv2::Client, from: String) -> Self {
        Self {
            client,
            from,
            stale_after: chrono::Duration::minutes(15),
        }
    }

    /// How long a `sending` record may be left before it counts as a crashed delivery (default
    /// 15 minutes: a Lambda's longest run).
    pub fn with_stale_after(mut self, d: chrono::Duration) -> Self {
        self.stale_after = d;
        self
    }

    pub fn stale_after(&self) -> chrono::Duration {
        self.stale_after
    }

    pub fn from_address(&self) -> &str {
        &self.from
    }

    /// Sends one message (no deduplication: jobs use [`Mailer::send_once`]).
    pub async fn send(&self, msg: &OutgoingMail) -> Result<MessageId, MailError> {
        validate(msg)?;
        if !valid_address(&self.from) {
            return Err(MailError::Invalid(
                "the sender is not an e-mail address".to_string(),
            ));
        }
        let mut body = Body::builder().text(content(&msg.text_body)?);
        if let Some(html) = msg.html_body.as_deref().filter(|h| !h.trim().is_empty()) {
            body = body.html(content(html)?);
        }
        let message = Message::builder()
            .subject(content(&msg.subject)?)
            .body(body.build())
            .build();
        let out = self
            .client
            .send_email()
            .from_email_address(&self.from)
            .destination(
                Destination::builder()
                    .set_to_addresses(Some(msg.to.clone()))
                    .build(),
            )
            .content(EmailContent::builder().simple(message).build())
            .send()
            .await
            .map_err(map_send_error)?;
        match out.message_id() {
            Some(id) if !id.is_empty() => {
                tracing::info!(
                    key = %msg.idempotency_key,
                    message_id = id,
                    recipients = msg.to.len(),
                    "mail sent"
                );
                Ok(MessageId(id.to_string()))
            }
            _ => Err(MailError::NoAnswer(
                "SES answered without a message id".to_string(),
            )),
        }
    }

    /// Sends the message unless a delivery with the same idempotency key already did (or may
    /// have); see the module docs. `now` is the time of this delivery.
    pub async fn send_once<L: SentMailLog + ?Sized>(
        &self,
        log: &L,
        msg: &OutgoingMail,
        now: DateTime<Utc>,
    ) -> Result<SendOutcome, MailError> {
        validate(msg)?;
        let key = msg.idempotency_key.as_str();
        let attempt = uuid::Uuid::new_v4().to_string();
        if let Claim::Existing(record) = log.claim(msg, &attempt, now).await? {
            return self.settle_existing(log, record, now).await;
        }
        match self.send(msg).await {
            Ok(id) => {
                if let Err(e) = log.mark_sent(key, &attempt, &id, now).await {
                    // Sent: the record stays `sending` and later deliveries never send again.
                    tracing::warn!(key, message_id = %id, error = %e, "mail sent but not marked sent");
                }
                Ok(SendOutcome::Sent(id))
            }
            Err(e) if e.certainly_not_sent() => {
                if let Err(le) = log.release(key, &attempt).await {
                    tracing::warn!(key, error = %le, "could not release the mail record; a retry will wait for it to go stale");
                }
                Err(e)
            }
            Err(e) => {
                tracing::error!(key, error = %e, "mail may or may not have been sent; marked unknown");
                if let Err(le) = log.mark_unknown(key, &attempt, now).await {
                    tracing::warn!(key, error = %le, "could not mark the mail record unknown");
                }
                Err(MailError::Unknown {
                    key: key.to_string(),
                    reason: e.to_string(),
                })
            }
        }
    }

    async fn settle_existing<L: SentMailLog + ?Sized>(
        &self,
        log: &L,
        record: MailRecord,
        now: DateTime<Utc>,
    ) -> Result<SendOutcome, MailError> {
        let key = record.key.clone();
        match record.status {
            MailStatus::Sent => match record.message_id {
                Some(id) => {
                    tracing::info!(key, message_id = %id, "mail already sent; not sending again");
                    Ok(SendOutcome::AlreadySent(id))
                }
                None => Err(MailError::Unknown {
                    key,
                    reason: "the record says sent but has no message id".to_string(),
                }),
            },
            MailStatus::Unknown => Err(MailError::Unknown {
                key,
                reason: "an earlier delivery's outcome is unknown".to_string(),
            }),
            MailStatus::Sending if now < record.started_at + self.stale_after => {
                Err(MailError::InProgress { key })
            }
            MailStatus::Sending => {
                let changed = log.mark_unknown(&key, &record.attempt, now).await?;
                if !changed {
                    // It moved on meanwhile: read it once more.
                    if let Some(r) = log.get(&key).await? {
                        if r.status == MailStatus::Sent {
                            if let Some(id) = r.message_id {
                                return Ok(SendOutcome::AlreadySent(id));
                            }
                        }
                    }
                }
                tracing::error!(key, started_at = %record.started_at, "a delivery left its mail unfinished; marked unknown");
                Err(MailError::Unknown {
                    key,
                    reason: format!(
                        "a delivery started sending at {} and never finished",
                        record.started_at.to_rfc3339_opts(SecondsFormat::Secs, true)
                    ),
                })
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The sent-mail log

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

/// The log in the app table: `PK=MAIL#{idempotencyKey}`, `SK=MAIL`, `status`
/// (`sending` | `sent` | `unknown`), `attempt`, `subject`, `recipients` (N), `startedAt`,
/// `updatedAt`, and once sent `messageId`, `sentAt`. No TTL: the record is the proof that a mail
/// went out. No addresses or bodies are stored.
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

    pub fn pk(key: &str) -> String {
        format!("MAIL#{key}")
    }

    pub const SK: &'static str = "MAIL";
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn ts(t: &DateTime<Utc>) -> AttributeValue {
    AttributeValue::S(t.to_rfc3339_opts(SecondsFormat::Millis, true))
}

fn log_error<E>(e: E) -> MailError
where
    E: std::error::Error + Send + Sync + 'static,
{
    MailError::Log(aws_sdk_dynamodb::error::DisplayErrorContext(&e).to_string())
}

fn record_from(item: &HashMap<String, AttributeValue>) -> Result<MailRecord, MailError> {
    let text = |name: &str| match item.get(name) {
        Some(AttributeValue::S(v)) => Ok(v.as_str()),
        _ => Err(MailError::Log(format!(
            "mail record: attribute {name} is missing"
        ))),
    };
    let time = |name: &str| {
        text(name).and_then(|t| {
            DateTime::parse_from_rfc3339(t)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|_| MailError::Log(format!("mail record: {name} is not a time")))
        })
    };
    let pk = text("PK")?;
    Ok(MailRecord {
        key: pk.strip_prefix("MAIL#").unwrap_or(pk).to_string(),
        status: MailStatus::parse(text("status")?)
            .ok_or_else(|| MailError::Log("mail record: unknown status".to_string()))?,
        attempt: text("attempt")?.to_string(),
        subject: text("subject").unwrap_or_default().to_string(),
        recipients: match item.get("recipients") {
            Some(AttributeValue::N(n)) => n.parse().unwrap_or(0),
            _ => 0,
        },
        started_at: time("startedAt")?,
        updated_at: time("updatedAt")?,
        message_id: text("messageId").ok().map(|m| MessageId(m.to_string())),
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
            let put = self
                .client
                .put_item()
                .table_name(&self.table)
                .item("PK", s(Self::pk(key)))
                .item("SK", s(Self::SK))
                .item("status", s(MailStatus::Sending.as_str()))
                .item("attempt", s(attempt))
                .item("subject", s(&msg.subject))
                .item("recipients", AttributeValue::N(msg.to.len().to_string()))
                .item("startedAt", ts(&now))
                .item("updatedAt", ts(&now))
                .condition_expression("attribute_not_exists(PK)")
                .send()
                .await;
            if crate::adapters::store::written(put).map_err(|e| MailError::Log(e.to_string()))? {
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
            .key("PK", s(Self::pk(key)))
            .key("SK", s(Self::SK))
            .update_expression("SET #s = :sent, messageId = :id, sentAt = :now, updatedAt = :now")
            .condition_expression("attempt = :a")
            .expression_attribute_names("#s", "status")
            .expression_attribute_values(":sent", s(MailStatus::Sent.as_str()))
            .expression_attribute_values(":id", s(id.as_str()))
            .expression_attribute_values(":now", ts(&now))
            .expression_attribute_values(":a", s(attempt))
            .send()
            .await
            .map_err(|e| log_error(e.into_service_error()))?;
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
            .key("PK", s(Self::pk(key)))
            .key("SK", s(Self::SK))
            .update_expression("SET #s = :unknown, updatedAt = :now")
            .condition_expression("attempt = :a AND #s = :sending")
            .expression_attribute_names("#s", "status")
            .expression_attribute_values(":unknown", s(MailStatus::Unknown.as_str()))
            .expression_attribute_values(":sending", s(MailStatus::Sending.as_str()))
            .expression_attribute_values(":now", ts(&now))
            .expression_attribute_values(":a", s(attempt))
            .send()
            .await;
        crate::adapters::store::written(result).map_err(|e| MailError::Log(e.to_string()))
    }

    async fn release(&self, key: &str, attempt: &str) -> Result<(), MailError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("PK", s(Self::pk(key)))
            .key("SK", s(Self::SK))
            .condition_expression("attempt = :a AND #s = :sending")
            .expression_attribute_names("#s", "status")
            .expression_attribute_values(":sending", s(MailStatus::Sending.as_str()))
            .expression_attribute_values(":a", s(attempt))
            .send()
            .await;
        // Someone else's attempt now (or already gone): nothing of ours to release.
        crate::adapters::store::written(result).map_err(|e| MailError::Log(e.to_string()))?;
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Option<MailRecord>, MailError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("PK", s(Self::pk(key)))
            .key("SK", s(Self::SK))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| log_error(e.into_service_error()))?;
        out.item().map(record_from).transpose()
    }
}

// ---------------------------------------------------------------------------------------------
// The "ready" notification

/// The counts of the first successful sync, for [`ready_mail`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadyCounts {
    pub customers: u32,
    pub open_items: u32,
    pub overdue_items: u32,
    /// Items not mirrored, by reason.
    pub skipped: std::collections::BTreeMap<SkipReason, u32>,
}

impl From<&SyncCounts> for ReadyCounts {
    fn from(c: &SyncCounts) -> Self {
        Self {
            customers: c.customers,
            open_items: c.open_items,
            overdue_items: c.overdue_items,
            skipped: c.skipped.clone(),
        }
    }
}

impl ReadyCounts {
    pub fn skipped_total(&self) -> u64 {
        self.skipped.values().map(|n| u64::from(*n)).sum()
    }
}

/// The idempotency key of the ready mail of an integration (one per integration, ever).
pub fn ready_mail_key(integration_id: &str) -> String {
    format!("ready:{integration_id}")
}

/// A skip reason in Norwegian (bokmål).
pub fn skip_reason_nb(reason: SkipReason) -> &'static str {
    match reason.as_str() {
        "before_fetch_from" => "datert før startdatoen for henting",
        "missing_due_date" => "mangler forfallsdato",
        "null_voucher_type" => "bilag uten bilagstype",
        "unknown_customer" => "kunden ble ikke funnet",
        "malformed_item" => "kunne ikke leses",
        "missing_id" => "mangler id",
        "missing_customer" => "mangler kunde",
        "malformed_amount" => "ugyldig beløp",
        "malformed_date" => "ugyldig dato",
        "missing_invoice_number" => "mangler fakturanummer",
        "unknown_voucher_type" => "ukjent bilagstype",
        other => other,
    }
}

/// Control characters (line breaks) out, runs of spaces collapsed: safe in a subject line.
fn one_line(s: &str) -> String {
    s.split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The mail to the organisation's contact when an account's first sync has succeeded: Norwegian
/// subject and body, with an English summary line. `idempotency_key`: see [`ready_mail_key`].
pub fn ready_mail(
    org_contact: &str,
    account_name: &str,
    counts: &ReadyCounts,
    idempotency_key: &str,
) -> OutgoingMail {
    let account = one_line(account_name);
    let account = if account.is_empty() {
        "kontoen".to_string()
    } else {
        account
    };
    let skipped_total = counts.skipped_total();
    let mut skip_lines: Vec<(String, u32)> = counts
        .skipped
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(r, n)| (skip_reason_nb(*r).to_string(), *n))
        .collect();
    skip_lines.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));

    let mut text = String::new();
    text.push_str("Hei,\n\n");
    text.push_str(&format!(
        "Første synkronisering fra Tripletex for {account} er fullført, og reskontroen er klar i Inndrive.\n\n"
    ));
    text.push_str(&format!("Kunder: {}\n", counts.customers));
    text.push_str(&format!("Åpne poster: {}\n", counts.open_items));
    text.push_str(&format!("Forfalte poster: {}\n", counts.overdue_items));
    text.push_str(&format!("Poster som ikke er tatt med: {skipped_total}\n"));
    for (label, n) in &skip_lines {
        text.push_str(&format!("  - {label}: {n}\n"));
    }
    if skipped_total > 0 {
        text.push_str(
            "\nI Inndrive ser du hvilke poster som ikke er tatt med, og hvorfor. De fleste kan tas med ved å endre innstillingene for integrasjonen.\n",
        );
    }
    text.push_str(&format!(
        "\nIn English: the first Tripletex sync for {account} is complete and the customer ledger is ready in Inndrive: {} customers, {} open items, {} overdue, {} skipped.\n",
        counts.customers, counts.open_items, counts.overdue_items, skipped_total
    ));
    text.push_str("\nHilsen\nInndrive\n");

    let a = html_escape(&account);
    let mut html = String::new();
    html.push_str("<p>Hei,</p>\n");
    html.push_str(&format!(
        "<p>Første synkronisering fra Tripletex for <strong>{a}</strong> er fullført, og reskontroen er klar i Inndrive.</p>\n"
    ));
    html.push_str("<table>\n");
    for (label, n) in [
        ("Kunder", u64::from(counts.customers)),
        ("Åpne poster", u64::from(counts.open_items)),
        ("Forfalte poster", u64::from(counts.overdue_items)),
        ("Poster som ikke er tatt med", skipped_total),
    ] {
        html.push_str(&format!("<tr><td>{label}</td><td>{n}</td></tr>\n"));
    }
    html.push_str("</table>\n");
    if !skip_lines.is_empty() {
        html.push_str("<ul>\n");
        for (label, n) in &skip_lines {
            html.push_str(&format!("<li>{}: {n}</li>\n", html_escape(label)));
        }
        html.push_str("</ul>\n");
    }
    html.push_str(&format!(
        "<p lang=\"en\">In English: the first Tripletex sync for {a} is complete and the customer ledger is ready in Inndrive: {} customers, {} open items, {} overdue, {} skipped.</p>\n",
        counts.customers, counts.open_items, counts.overdue_items, skipped_total
    ));
    html.push_str("<p>Hilsen<br>Inndrive</p>\n");

    OutgoingMail {
        to: vec![org_contact.trim().to_string()],
        subject: format!(
            "Inndrive: reskontroen for {} er klar",
            account.chars().take(200).collect::<String>()
        ),
        text_body: text,
        html_body: Some(html),
        idempotency_key: idempotency_key.to_string(),
    }
}
