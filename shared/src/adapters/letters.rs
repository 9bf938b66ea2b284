//! The letters bucket (S3, `LETTERS_BUCKET`): every dunning letter's PDF exactly as it was sent,
//! and the outbox of the print-and-post partner. The object keys are built here only:
//!
//! | key | what |
//! |---|---|
//! | `letters/{org}/{accountId}/{date}/{letterId}.pdf` | the archive: every letter, any channel (the API's "letter as sent") |
//! | `outbox/{date}/{org}/{accountId}/{letterId}.pdf` | a letter to print and post |
//! | `outbox/{date}/{org}/{accountId}/manifest.json` | the day's manifest of one account: what the partner prints |
//! | `documents/{org}/{accountId}/{caseId}/{docId}.pdf` | a drafted legal document (begjæring om utlegg, forliksklage) |
//! | `documents/{org}/{accountId}/{caseId}/{docId}-bilag.pdf` | its attachments as one PDF |
//! | `documents/{org}/{accountId}/{caseId}/{docId}-signert.pdf` | the signed document (the approved PDF stamped) |
//!
//! Keys are deterministic, so a retry overwrites the same bytes. The partner takes what the
//! manifest lists; the manifest is rewritten from the day's letter records (those sent by
//! letter), so rewriting it is idempotent and a PDF in the outbox that no manifest lists is never
//! printed. The bucket is private and encrypted; the outbox expires by a lifecycle rule.

use aws_config::SdkConfig;
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::ServerSideEncryption;
use chrono::NaiveDate;

use crate::domain::case::CaseId;
use crate::domain::collection::dunning::LetterId;
use crate::domain::collection::legal::record::LegalDocumentId;
use crate::domain::setup::{AccountId, OrgId};

/// The archive's prefix: kept (the template's lifecycle expires only old versions).
pub const ARCHIVE_PREFIX: &str = "letters/";
/// The print partner's outbox: expires after the template's retention.
pub const OUTBOX_PREFIX: &str = "outbox/";

/// The archived PDF of a letter.
pub fn archive_key(org: &OrgId, account: &AccountId, date: NaiveDate, letter: &LetterId) -> String {
    format!(
        "{ARCHIVE_PREFIX}{org}/{account}/{}/{letter}.pdf",
        date.format("%Y-%m-%d")
    )
}

/// A letter to print and post, in the outbox of its send day.
pub fn outbox_key(date: NaiveDate, org: &OrgId, account: &AccountId, letter: &LetterId) -> String {
    format!(
        "{OUTBOX_PREFIX}{}/{org}/{account}/{letter}.pdf",
        date.format("%Y-%m-%d")
    )
}

/// The manifest of one account's letters to print on one day.
pub fn manifest_key(date: NaiveDate, org: &OrgId, account: &AccountId) -> String {
    format!(
        "{OUTBOX_PREFIX}{}/{org}/{account}/manifest.json",
        date.format("%Y-%m-%d")
    )
}

/// Which PDF of a legal document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocumentPart {
    Document,
    Attachments,
    Signed,
}

/// A PDF of a legal document, kept per case (the organization and account first, like the
/// letters' archive).
pub fn document_key(
    org: &OrgId,
    account: &AccountId,
    case: &CaseId,
    document: &LegalDocumentId,
    part: DocumentPart,
) -> String {
    let suffix = match part {
        DocumentPart::Document => "",
        DocumentPart::Attachments => "-bilag",
        DocumentPart::Signed => "-signert",
    };
    format!("documents/{org}/{account}/{case}/{document}{suffix}.pdf")
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BucketError {
    #[error("S3: {0}")]
    Service(String),
}

/// The letters bucket.
#[derive(Debug, Clone)]
pub struct LettersBucket {
    client: aws_sdk_s3::Client,
    bucket: String,
}

impl LettersBucket {
    /// A client of `bucket`. With an endpoint override (moto) requests are path-style, since
    /// `{bucket}.127.0.0.1` does not resolve.
    pub fn new(config: &SdkConfig, bucket: impl Into<String>) -> Self {
        let s3 = aws_sdk_s3::config::Builder::from(config)
            .force_path_style(config.endpoint_url().is_some())
            .build();
        Self {
            client: aws_sdk_s3::Client::from_conf(s3),
            bucket: bucket.into(),
        }
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// Puts an object (server-side encrypted), replacing one with the same key.
    pub async fn put(
        &self,
        key: &str,
        bytes: Vec<u8>,
        content_type: &str,
    ) -> Result<(), BucketError> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .server_side_encryption(ServerSideEncryption::Aes256)
            .body(ByteStream::from(bytes))
            .send()
            .await
            .map_err(|e| BucketError::Service(DisplayErrorContext(&e).to_string()))?;
        Ok(())
    }

    /// An object's bytes; `None` when there is no such key.
    pub async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, BucketError> {
        let out = match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(o) => o,
            Err(e) if e.as_service_error().and_then(|s| s.code()) == Some("NoSuchKey") => {
                return Ok(None)
            }
            Err(e) => return Err(BucketError::Service(DisplayErrorContext(&e).to_string())),
        };
        let bytes = out
            .body
            .collect()
            .await
            .map_err(|e| BucketError::Service(e.to_string()))?;
        Ok(Some(bytes.into_bytes().to_vec()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_sort_by_day_in_the_outbox_and_by_account_in_the_archive() {
        let org = OrgId::parse("org_a").unwrap();
        let acc = AccountId::from_suffix("0192f0c4a1b27f3e8c1d2e3f4a5b6c7d").unwrap();
        let d = NaiveDate::from_ymd_opt(2026, 10, 1).unwrap();
        let l = LetterId::parse("ltr_0123456789abcdef0123456789abcdef").unwrap();
        assert_eq!(
            archive_key(&org, &acc, d, &l),
            "letters/org_a/acc_0192f0c4a1b27f3e8c1d2e3f4a5b6c7d/2026-10-01/ltr_0123456789abcdef0123456789abcdef.pdf"
        );
        assert_eq!(
            outbox_key(d, &org, &acc, &l),
            "outbox/2026-10-01/org_a/acc_0192f0c4a1b27f3e8c1d2e3f4a5b6c7d/ltr_0123456789abcdef0123456789abcdef.pdf"
        );
        assert!(manifest_key(d, &org, &acc).starts_with("outbox/2026-10-01/org_a/"));
    }

    #[test]
    fn documents_are_kept_per_case_under_their_own_prefix() {
        let org = OrgId::parse("org_a").unwrap();
        let acc = AccountId::from_suffix("0192f0c4a1b27f3e8c1d2e3f4a5b6c7d").unwrap();
        let case = CaseId::parse("case_inv_1001").unwrap();
        let doc = LegalDocumentId::from_suffix("0123456789abcdef0123456789abcdef").unwrap();
        let k = |p| document_key(&org, &acc, &case, &doc, p);
        assert_eq!(
            k(DocumentPart::Document),
            "documents/org_a/acc_0192f0c4a1b27f3e8c1d2e3f4a5b6c7d/case_inv_1001/doc_0123456789abcdef0123456789abcdef.pdf"
        );
        assert!(k(DocumentPart::Attachments).ends_with("-bilag.pdf"));
        assert!(k(DocumentPart::Signed).ends_with("-signert.pdf"));
    }
}
