//! E-mail through Amazon SES v2, sent at most once per idempotency key: the sender in [`ses`],
//! the record of sent mail in [`log`] (its DynamoDB implementation is the store's,
//! [`crate::adapters::store::mail_log`]). What a mail says is content, not I/O: the ready mail's
//! texts are in [`crate::domain::ledger::texts`].
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
//! Dunning letters go as raw MIME with the PDF attached ([`letter`], [`Mailer::send_letter`]);
//! their exactly-once record is the dunning notice, not the sent-mail log.
//!
//! Log lines name the idempotency key, the SES message id and the number of recipients, never
//! the addresses or the text.

pub mod letter;
pub mod log;
pub mod ses;

pub use crate::adapters::store::mail_log::DynamoSentMailLog;
pub use letter::LetterMail;
pub use log::{Claim, MailRecord, MailStatus, MemorySentMailLog, SentMailLog};
pub use ses::{validate, MailError, Mailer, MessageId, OutgoingMail, SendOutcome, MAX_RECIPIENTS};
