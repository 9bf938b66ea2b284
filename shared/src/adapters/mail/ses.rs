//! The SES v2 sender: [`OutgoingMail`], its validation, [`Mailer::send`] and the at-most-once
//! [`Mailer::send_once`] (see the module docs of [`super`]).

use std::fmt;

use aws_config::SdkConfig;
use aws_sdk_sesv2::config::http::HttpResponse;
use aws_sdk_sesv2::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_sesv2::operation::send_email::SendEmailError;
use aws_sdk_sesv2::primitives::Blob;
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message, RawMessage};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use super::log::{Claim, MailRecord, MailStatus, SentMailLog};
use crate::domain::ledger::texts::MailText;

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

impl OutgoingMail {
    /// A mail of `text` to one recipient.
    pub fn to_one(to: &str, text: MailText, idempotency_key: String) -> Self {
        Self {
            to: vec![to.trim().to_string()],
            subject: text.subject,
            text_body: text.text,
            html_body: text.html,
            idempotency_key,
        }
    }
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
    pub fn certainly_not_sent(&self) -> bool {
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

    /// Sends a dunning letter as a raw MIME message (built by [`super::letter::mime`]): SES
    /// takes the recipients from its headers. No deduplication here: the dunning notices are
    /// the exactly-once record. Log lines name the letter and the SES message id only.
    pub async fn send_letter(
        &self,
        mail: &super::letter::LetterMail,
    ) -> Result<MessageId, MailError> {
        if !valid_address(&self.from) {
            return Err(MailError::Invalid(
                "the sender is not an e-mail address".to_string(),
            ));
        }
        let raw = super::letter::mime(mail, &self.from)?;
        let out = self
            .client
            .send_email()
            .from_email_address(&self.from)
            .content(
                EmailContent::builder()
                    .raw(
                        RawMessage::builder()
                            .data(Blob::new(raw))
                            .build()
                            .map_err(|e| MailError::Invalid(e.to_string()))?,
                    )
                    .build(),
            )
            .send()
            .await
            .map_err(map_send_error)?;
        match out.message_id() {
            Some(id) if !id.is_empty() => {
                tracing::info!(letter = %mail.letter_id, message_id = id, "letter e-mailed");
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
