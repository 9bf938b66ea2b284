//! A drafted legal document as it is kept on its case: what was drafted (every computed field),
//! from what the user chose (the forum, the description, whether the debtor is an
//! enkeltpersonforetak), where its PDFs are and their SHA-256, and the approval.
//!
//! Approval is once: who, when, and the hash of the exact PDF approved. A draft whose facts have
//! changed since (drafting it again from the case, for the same date and choices, gives another
//! document: a payment, an objection, a correction) is stale and is not approved: the user drafts
//! again.

use super::document::{Approval, DocumentKind, Forum, LegalDocumentInput};
use crate::domain::case::{Actor, CaseId};
use crate::domain::setup::{AccountId, OrgId};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

/// `doc_{32 hex}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct LegalDocumentId(String);

impl LegalDocumentId {
    /// From 32 lowercase hex digits (a new UUID's, for a new draft).
    pub fn from_suffix(hex: &str) -> Option<Self> {
        (hex.len() == 32
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
        .then(|| Self(format!("doc_{hex}")))
    }

    pub fn parse(s: &str) -> Option<Self> {
        s.strip_prefix("doc_").and_then(Self::from_suffix)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for LegalDocumentId {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Self::parse(&s).ok_or_else(|| format!("not a document id: {s:?}"))
    }
}
impl From<LegalDocumentId> for String {
    fn from(d: LegalDocumentId) -> String {
        d.0
    }
}
impl fmt::Display for LegalDocumentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What the user chose when drafting (kept, so the draft can be made again to check it).
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DraftChoices {
    pub forum: Forum,
    /// What the claim concerns (`kravbeskrivelse`).
    pub description: String,
    /// The debtor is an enkeltpersonforetak (`sakssoektErENK`): the owner's fødselsnummer is
    /// filled in by hand.
    pub debtor_is_sole_proprietorship: bool,
}

/// A stored PDF: its object key in the letters bucket and the SHA-256 of its bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredPdf {
    pub key: String,
    pub sha256: String,
    pub bytes: u64,
}

/// Where a document stands.
#[derive(utoipa::ToSchema, Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum DocumentStatus {
    Drafted,
    /// Approved and signed (stamped).
    Approved,
}

/// A drafted document on its case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LegalDocumentRecord {
    pub document_id: LegalDocumentId,
    pub org: OrgId,
    pub account_id: AccountId,
    pub case_id: CaseId,
    pub kind: DocumentKind,
    /// The filing date the amounts are computed for.
    pub date: NaiveDate,
    pub choices: DraftChoices,
    /// Every field of the document, computed.
    pub input: LegalDocumentInput,
    /// The document as drafted.
    pub pdf: StoredPdf,
    /// The attachments as one PDF.
    pub attachments: StoredPdf,
    pub drafted_by: Actor,
    pub drafted_at: DateTime<Utc>,
    #[serde(default)]
    pub approval: Option<Approval>,
    /// The user (JWT `sub`) who approved.
    #[serde(default)]
    pub approved_by_user: Option<String>,
    /// The signed document: the approved PDF stamped.
    #[serde(default)]
    pub signed: Option<StoredPdf>,
    /// The optimistic lock.
    pub version: u64,
}

impl LegalDocumentRecord {
    pub fn status(&self) -> DocumentStatus {
        match self.approval {
            Some(_) => DocumentStatus::Approved,
            None => DocumentStatus::Drafted,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn document_ids_are_doc_and_32_hex_digits() {
        let id = LegalDocumentId::from_suffix("0123456789abcdef0123456789abcdef").unwrap();
        assert_eq!(id.as_str(), "doc_0123456789abcdef0123456789abcdef");
        assert_eq!(LegalDocumentId::parse(id.as_str()), Some(id));
        for bad in [
            "doc_0123",
            "doc_0123456789ABCDEF0123456789abcdef",
            "0123456789abcdef0123456789abcdef",
            "doc_0123456789abcdef0123456789abcdeg",
            "",
        ] {
            assert_eq!(LegalDocumentId::parse(bad), None, "{bad}");
        }
    }
}
