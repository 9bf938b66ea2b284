//! One module per outside system. SDK and HTTP client types stay inside these modules: callers see
//! domain types and outcome enums.
//!
//! - [`aws`]: the AWS SDK configuration (rustls HTTPS client, retries).
//! - [`store`]: DynamoDB (one table; every key spelled in [`store::keys`]).
//! - [`queue`]: SQS (the FIFO queues between the stages, the batch helper of the workers).
//! - [`mail`]: SES (raw and simple sends, the sent-mail log).
//! - [`letters`]: S3 (the letters bucket: the archive of sent letters, the print outbox).
//! - [`secrets`]: Secrets Manager (Tripletex employee tokens).
//! - [`tripletex`]: Tripletex API v2.
//! - [`brreg`]: Brønnøysundregistrene (Enhetsregisteret).

pub mod aws;
pub mod brreg;
pub mod letters;
pub mod mail;
pub mod queue;
pub mod secrets;
pub mod store;
pub mod tripletex;
