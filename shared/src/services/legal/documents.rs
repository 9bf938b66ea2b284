//! The documents the creditor signs: drafting a begjæring om utlegg or a forliksklage from the
//! case, keeping it (and its attachments) per case, and the approval.
//!
//! - **Draft** (`POST /v1/cases/{id}/legal-documents`): only for a case that is ready for legal
//!   steps (the domain's readiness), by its route or, for an undisputed claim, a forliksklage if
//!   the user asks for one (a disputed claim never goes to § 7-2 f utlegg). The facts are the
//!   case's: the claim and its payments, the notices on the timeline (with their letters), the
//!   objection, the debtor as mirrored, the creditor from the dunning policy's sender. The PDF
//!   (`documents::render_legal`) and the attachments as one PDF (`documents::bundle`: the invoice
//!   copy from Tripletex, each letter as sent from the letters bucket, the payment history, the
//!   objection with its assessment) are stored in the letters bucket under `documents/` per case
//!   (`adapters::letters::document_key`), the record in the table. The id is a hash of what the
//!   draft is made from (the case and claim as read, the kind, the date, the user's choices), so
//!   the same request twice gives the same draft.
//! - **Approve** (`POST …/{docId}/approve`): who (the signer's name, and the user), when, and the
//!   SHA-256 of the exact PDF approved (the caller may send the hash it saw: a different one is
//!   refused); the signed document is that PDF stamped (`documents::approve`). Approving twice
//!   answers the first approval. A draft whose facts changed since (drafting it again for the
//!   same date and choices gives another document), or a case no longer ready, is refused.
//!
//! Electronic filing is out of scope: the user files the signed document and records `filed` on
//! the case (`POST /v1/cases/{id}/legal-steps/filed`).

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::{readiness_of, DocumentSummary, ReadinessView};
use crate::adapters::letters::{document_key, BucketError, DocumentPart};
use crate::adapters::secrets::Secrets;
use crate::adapters::store::claims::{ClaimRecord, Save, StoredCase};
use crate::adapters::store::ledger::StoredCustomer;
use crate::adapters::store::{DynamoStore, StoreError};
use crate::documents::{self, BundlePart, PartContent, RenderError};
use crate::domain::case::{Actor, CaseEvent, CaseId};
use crate::domain::collection::dunning::{DunningPolicy, LetterId, LetterRecord, Step};
use crate::domain::collection::kid::{Kid, KidModulus};
use crate::domain::collection::legal::document::{
    AttachmentKind, DocumentKind, DraftError, DraftInput, Forum, LegalDocument, LegalDocumentInput,
    Party, PartyId, SentNotice,
};
use crate::domain::collection::legal::readiness::Readiness;
use crate::domain::collection::legal::record::{
    DraftChoices, LegalDocumentId, LegalDocumentRecord, StoredPdf,
};
use crate::domain::collection::legal::{PoliceDistrict, Route};
use crate::domain::collection::letters::DebtorKind;
use crate::domain::collection::rulebook::Rulebook;
use crate::domain::setup::{AccountId, OrgId};
use crate::services::cases::{norwegian_date, parse_public_case_id, public_case_id};
use crate::services::dunning::ports::{account_tripletex, LetterArchive, RecheckError};
use crate::services::sync::TripletexSource;

// ------------------------------------------------------------------------------------ ports

/// The invoice copy (Tripletex `GET /invoice/{id}/pdf`).
#[async_trait]
pub trait InvoiceCopies: Send + Sync {
    /// The invoice's PDF; `None` when Tripletex has no copy of it.
    async fn invoice_pdf(
        &self,
        org: &OrgId,
        account: &AccountId,
        invoice_id: i64,
    ) -> Result<Option<Vec<u8>>, String>;
}

/// The invoice copy from Tripletex, through the account's integration.
pub struct TripletexInvoiceCopies {
    pub store: DynamoStore,
    pub secrets: Secrets,
    pub tripletex: TripletexSource,
}

#[async_trait]
impl InvoiceCopies for TripletexInvoiceCopies {
    async fn invoice_pdf(
        &self,
        org: &OrgId,
        account: &AccountId,
        invoice_id: i64,
    ) -> Result<Option<Vec<u8>>, String> {
        let t = account_tripletex(&self.store, &self.secrets, &self.tripletex, org, account)
            .await
            .map_err(|e: RecheckError| e.to_string())?;
        t.client
            .invoice_pdf(&t.key, t.acting, invoice_id)
            .await
            .map_err(|e| e.to_string())
    }
}

// ------------------------------------------------------------------------------ the requests

/// `POST /v1/cases/{id}/legal-documents`. Everything is optional: the kind follows the case's
/// route; the forum is a field to fill in by hand when not given.
#[derive(utoipa::ToSchema, Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DraftRequest {
    /// `utlegg` or `forliksklage`.
    #[serde(default)]
    pub kind: Option<String>,
    /// What the claim concerns (default: «Faktura {number}»).
    #[serde(default)]
    pub description: Option<String>,
    /// Begjæring om utlegg: the police district of the debtor's alminnelig verneting (`oslo`,
    /// `ost`, `innlandet`, `sor-ost`, `agder`, `sor-vest`, `vest`, `more-og-romsdal`,
    /// `trondelag`, `nordland`, `troms`, `finnmark`) …
    #[serde(default)]
    pub police_district: Option<String>,
    /// … and why (e.g. «Saksøktes forretningskontor er i Trondheim kommune»).
    #[serde(default)]
    pub forum_reason: Option<String>,
    /// Forliksklage: the municipality whose forliksråd.
    #[serde(default)]
    pub municipality: Option<String>,
    /// The debtor is an enkeltpersonforetak (`sakssoektErENK`).
    #[serde(default)]
    pub debtor_is_sole_proprietorship: bool,
}

/// `POST /v1/cases/{id}/legal-documents/{docId}/approve`.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ApproveRequest {
    /// The signer's name, as the stamp shows it.
    pub name: String,
    /// The SHA-256 of the PDF the signer read (lowercase hex); refused if it is not the draft's.
    #[serde(default)]
    pub sha256: Option<String>,
}

/// Which PDF of a document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// The document as drafted (approved: the bytes the approval's hash is of).
    Document,
    /// The attachments as one PDF.
    Attachments,
    /// The signed document (the approved PDF stamped).
    Signed,
}

impl Part {
    pub fn parse(s: &str) -> Option<Part> {
        match s {
            "document" => Some(Part::Document),
            "attachments" => Some(Part::Attachments),
            "signed" => Some(Part::Signed),
            _ => None,
        }
    }
}

// ---------------------------------------------------------------------------------- the views

/// A document with everything in it.
#[derive(utoipa::ToSchema, Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DocumentView {
    #[serde(flatten)]
    pub summary: DocumentSummary,
    /// The case's URL id.
    pub case: String,
    pub choices: DraftChoices,
    pub attachments_sha256: String,
    pub signed_sha256: Option<String>,
    /// Every field of the document, computed (amounts with their rules, attachments).
    pub content: LegalDocumentInput,
}

impl DocumentView {
    pub fn of(d: &LegalDocumentRecord) -> Self {
        Self {
            summary: DocumentSummary::of(d),
            case: public_case_id(&d.account_id, &d.case_id),
            choices: d.choices.clone(),
            attachments_sha256: d.attachments.sha256.clone(),
            signed_sha256: d.signed.as_ref().map(|s| s.sha256.clone()),
            content: d.input.clone(),
        }
    }
}

/// `GET /v1/cases/{id}/legal-documents`.
#[derive(utoipa::ToSchema, Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DocumentList {
    pub documents: Vec<DocumentSummary>,
}

/// A PDF to download.
#[derive(Debug, Clone)]
pub struct Pdf {
    pub bytes: Vec<u8>,
    pub file_name: String,
    pub sha256: String,
}

// ---------------------------------------------------------------------------------- the errors

/// Why a document operation failed. The HTTP edge maps each to its status.
#[derive(Debug, thiserror::Error)]
pub enum LegalDocError {
    #[error("no such case")]
    CaseNotFound,
    #[error("no such document")]
    DocumentNotFound,
    /// 422, naming the field.
    #[error("{message}")]
    BadRequest {
        field: &'static str,
        message: String,
    },
    /// 409: legal steps may not be taken on the case now (the readiness says why).
    #[error("legal steps may not be taken now: {}", .0.message)]
    NotReady(Box<ReadinessView>),
    /// 409: a disputed claim goes to the forliksråd, never to § 7-2 f utlegg.
    #[error("the claim is disputed (an objection was found groundless): draft a forliksklage, not a begjæring om utlegg")]
    DisputedNotUtlegg,
    /// 409: the claim behind the case is not stored.
    #[error("the case's claim is not stored")]
    ClaimMissing,
    /// 409: the dunning policy names no creditor (sender) to draft for.
    #[error("the account's dunning policy has no sender (the creditor's name, organisation number, address and account)")]
    NoCreditor,
    /// 409: the debtor is not mirrored, or has no postal address.
    #[error("the debtor has no postal address in the mirrored ledger")]
    DebtorWithoutAddress,
    /// 409: the domain refused to draft.
    #[error(transparent)]
    Draft(#[from] DraftError),
    /// 409: an attachment cannot be had.
    #[error("attachment «{title}»: {reason}")]
    AttachmentUnavailable { title: String, reason: String },
    /// 409: the facts changed since the draft: draft again.
    #[error("the case changed since this document was drafted ({0}); draft it again")]
    Stale(String),
    /// 409: the hash the caller saw is not the draft's.
    #[error("the sha256 given is not the SHA-256 of this draft ({expected})")]
    HashMismatch { expected: String },
    /// 409: the approved document was never signed (an approval without its stamp).
    #[error("the document is approved but has no signed PDF")]
    NotSigned,
    #[error("the document kept changing while we tried to approve it")]
    Contention,
    #[error("rendering the PDF failed: {0}")]
    Render(#[from] RenderError),
    #[error("the stored PDF {0} is missing or not the one recorded")]
    PdfCorrupt(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("letters bucket: {0}")]
    Bucket(#[from] BucketError),
}

impl LegalDocError {
    pub fn code(&self) -> &'static str {
        match self {
            LegalDocError::CaseNotFound => "case_not_found",
            LegalDocError::DocumentNotFound => "document_not_found",
            LegalDocError::BadRequest { .. } => "invalid_field",
            LegalDocError::NotReady(_) => "not_ready",
            LegalDocError::DisputedNotUtlegg => "disputed_claim",
            LegalDocError::ClaimMissing => "claim_missing",
            LegalDocError::NoCreditor => "creditor_missing",
            LegalDocError::DebtorWithoutAddress => "debtor_without_address",
            LegalDocError::Draft(e) => match e {
                DraftError::NotMirrored => "claim_not_mirrored",
                DraftError::NoBetalingsoppfordring => "no_betalingsoppfordring",
                DraftError::BeforeDeadline { .. } => "before_deadline",
                DraftError::FeesDoNotMatch { .. } => "fees_do_not_match",
                DraftError::CreditorWithoutOrgNumber => "creditor_without_org_number",
                DraftError::DebtorWithoutName => "debtor_without_name",
                DraftError::Gap(_) => "rule_gap",
                DraftError::Interest(_) => "interest_failed",
                DraftError::Overflow => "overflow",
            },
            LegalDocError::AttachmentUnavailable { .. } => "attachment_unavailable",
            LegalDocError::Stale(_) => "draft_stale",
            LegalDocError::HashMismatch { .. } => "sha256_mismatch",
            LegalDocError::NotSigned => "not_signed",
            LegalDocError::Contention => "concurrent_modification",
            LegalDocError::Render(_) => "render_failed",
            LegalDocError::PdfCorrupt(_) => "pdf_corrupt",
            LegalDocError::Store(_) => "store_failed",
            LegalDocError::Bucket(_) => "bucket_failed",
        }
    }
}

fn bad(field: &'static str, message: impl Into<String>) -> LegalDocError {
    LegalDocError::BadRequest {
        field,
        message: message.into(),
    }
}

// ---------------------------------------------------------------------------------- the service

/// The documents of cases.
pub struct LegalDocuments {
    pub store: DynamoStore,
    /// The letters bucket: the notices' PDFs are read from it, the documents written to it.
    pub bucket: Arc<dyn LetterArchive>,
    pub invoices: Arc<dyn InvoiceCopies>,
    pub rules: &'static Rulebook,
}

/// What a draft is made of, read from the store.
struct Facts {
    stored: StoredCase,
    claim: ClaimRecord,
    customer: Option<StoredCustomer>,
    policy: DunningPolicy,
    /// The letters of the notices on the timeline, by letter id.
    letters: HashMap<String, LetterRecord>,
}

/// The readable parts of a draft request, checked.
fn choices_of(
    req: &DraftRequest,
    kind: DocumentKind,
    invoice_number: Option<&str>,
) -> Result<DraftChoices, LegalDocError> {
    fn text(s: &Option<String>) -> Option<&str> {
        s.as_deref().map(str::trim).filter(|t| !t.is_empty())
    }
    let forum = match kind {
        DocumentKind::BegjaeringOmUtlegg => {
            if req.municipality.is_some() {
                return Err(bad(
                    "municipality",
                    "a begjæring om utlegg goes to the namsmann: give policeDistrict, not municipality",
                ));
            }
            let district = match text(&req.police_district) {
                None => None,
                Some(k) => Some(
                    PoliceDistrict::ALL
                        .into_iter()
                        .find(|d| d.key() == k)
                        .ok_or_else(|| {
                            bad(
                                "policeDistrict",
                                format!(
                                    "unknown police district {k:?}; one of {}",
                                    PoliceDistrict::ALL.map(|d| d.key()).join(", ")
                                ),
                            )
                        })?,
                ),
            };
            Forum::Namsmann {
                district,
                reason: text(&req.forum_reason).unwrap_or("").to_string(),
            }
        }
        DocumentKind::Forliksklage => {
            if req.police_district.is_some() {
                return Err(bad(
                    "policeDistrict",
                    "a forliksklage goes to the forliksråd: give municipality, not policeDistrict",
                ));
            }
            Forum::Forliksrad {
                municipality: text(&req.municipality).map(str::to_string),
            }
        }
    };
    let description = match text(&req.description) {
        Some(d) if d.chars().count() > 500 => {
            return Err(bad(
                "description",
                "description is longer than 500 characters",
            ))
        }
        Some(d) => d.to_string(),
        None => match invoice_number {
            Some(n) => format!("Faktura {n}"),
            None => "Faktura".to_string(),
        },
    };
    Ok(DraftChoices {
        forum,
        description,
        debtor_is_sole_proprietorship: req.debtor_is_sole_proprietorship,
    })
}

/// The debtor as a party to the case, from the mirrored customer.
fn debtor_party(
    customer: Option<&StoredCustomer>,
    sole_proprietorship: bool,
) -> Result<Party, LegalDocError> {
    let c = customer.ok_or(LegalDocError::DebtorWithoutAddress)?;
    let address = c
        .customer
        .postal_address
        .clone()
        .filter(|a| !a.is_empty())
        .ok_or(LegalDocError::DebtorWithoutAddress)?;
    let id = match (&c.customer.organization_number, c.customer.debtor_kind) {
        (Some(n), _) if sole_proprietorship => PartyId::SoleProprietorship { number: n.clone() },
        (Some(n), DebtorKind::Business) => PartyId::Organisation { number: n.clone() },
        (None, DebtorKind::Business) if sole_proprietorship => {
            return Err(bad(
                "debtorIsSoleProprietorship",
                "an enkeltpersonforetak has an organisasjonsnummer, and the customer has none in Tripletex",
            ))
        }
        (_, DebtorKind::Consumer) | (None, DebtorKind::Business) => PartyId::Person,
    };
    Ok(Party {
        name: c.customer.name.clone(),
        address,
        id,
    })
}

/// The draft's id: a hash of what it is made from.
fn draft_id(
    facts: &Facts,
    kind: DocumentKind,
    date: NaiveDate,
    choices: &DraftChoices,
) -> LegalDocumentId {
    let basis = format!(
        "inndrive.legal-document.v1|{}|{}|{}|{}|{}|{}|{}",
        facts.stored.case.account_id,
        facts.stored.case.id,
        kind.key(),
        date,
        facts.stored.case.version,
        facts.claim.rev,
        serde_json::to_string(choices).unwrap_or_default()
    );
    let hex = documents::sha256_hex(basis.as_bytes());
    LegalDocumentId::from_suffix(&hex[..32]).unwrap_or_else(|| {
        // sha256_hex is lowercase hex: never reached.
        LegalDocumentId::from_suffix("00000000000000000000000000000000")
            .expect("32 zeros are a document id")
    })
}

impl LegalDocuments {
    fn case_ref(public_id: &str) -> Result<(AccountId, CaseId), LegalDocError> {
        parse_public_case_id(public_id).ok_or(LegalDocError::CaseNotFound)
    }

    async fn facts(
        &self,
        org: &OrgId,
        account: &AccountId,
        case_id: &CaseId,
    ) -> Result<Facts, LegalDocError> {
        let stored = self
            .store
            .get_case(org, account, case_id)
            .await?
            .ok_or(LegalDocError::CaseNotFound)?;
        let claim = self
            .store
            .get_claim(org, account, case_id.claim_id())
            .await?
            .ok_or(LegalDocError::ClaimMissing)?;
        let (customer, policy) = futures::try_join!(
            self.store
                .get_customer(org, account, stored.case.customer_id),
            self.store.get_dunning_policy(org, account),
        )?;
        let mut letters = HashMap::new();
        for e in &stored.case.timeline {
            let CaseEvent::NoticeSent(n) = &e.event else {
                continue;
            };
            let Some(id) = LetterId::parse(&n.letter_id) else {
                continue;
            };
            if let Some(l) = self
                .store
                .get_letter(org, account, n.record.sent, &id)
                .await?
            {
                letters.insert(n.letter_id.clone(), l);
            }
        }
        Ok(Facts {
            stored,
            claim,
            customer,
            policy: policy.map(|p| p.policy).unwrap_or_default(),
            letters,
        })
    }

    /// The case's readiness today, required to be `ready` with a route `kind` may follow.
    fn ready_for(
        &self,
        facts: &Facts,
        kind: Option<DocumentKind>,
        today: NaiveDate,
    ) -> Result<DocumentKind, LegalDocError> {
        let policy = &facts.policy.legal_steps;
        let r = readiness_of(
            &facts.claim.state,
            &facts.stored.case,
            facts.customer.as_ref(),
            policy,
            self.rules,
            today,
        );
        let Readiness::Ready { route, .. } = r else {
            return Err(LegalDocError::NotReady(Box::new(ReadinessView::of(
                r,
                policy,
                &facts.stored.case,
            ))));
        };
        match (route, kind) {
            (Route::Forliksklage, Some(DocumentKind::BegjaeringOmUtlegg))
                if facts.stored.case.is_disputed() =>
            {
                Err(LegalDocError::DisputedNotUtlegg)
            }
            (_, Some(k)) => Ok(k),
            (r, None) => Ok(r.document()),
        }
    }

    /// The document's content, computed from the facts.
    fn content(
        &self,
        facts: &Facts,
        kind: DocumentKind,
        choices: &DraftChoices,
        date: NaiveDate,
        id: &LegalDocumentId,
    ) -> Result<LegalDocumentInput, LegalDocError> {
        let creditor = facts
            .policy
            .sender
            .as_ref()
            .ok_or(LegalDocError::NoCreditor)?;
        let debtor = debtor_party(
            facts.customer.as_ref(),
            choices.debtor_is_sole_proprietorship,
        )?;
        let sent: Vec<(&crate::domain::collection::dunning::NoticeRecord, _)> = facts
            .stored
            .case
            .timeline
            .iter()
            .filter_map(|e| match &e.event {
                CaseEvent::NoticeSent(n) => Some((&n.record, n.line.channel)),
                _ => None,
            })
            .collect();
        let notices: Vec<SentNotice<'_>> = sent
            .iter()
            .map(|(record, channel)| SentNotice {
                record,
                channel: *channel,
            })
            .collect();
        let kid = self.kid(facts);
        Ok(LegalDocumentInput::draft(&DraftInput {
            kind,
            document_id: id.as_str(),
            claim: &facts.claim.state,
            case: &facts.stored.case,
            notices: &notices,
            creditor,
            debtor: &debtor,
            description: &choices.description,
            kid: kid.as_ref(),
            forum: &choices.forum,
            policy: &facts.policy.legal_steps,
            book: self.rules,
            date,
        })?)
    }

    /// The claim's KID as the betalingsoppfordring printed it (Tripletex's, checked).
    fn kid(&self, facts: &Facts) -> Option<Kid> {
        let claim_id = &facts.stored.case.claim_id;
        let bo = facts
            .stored
            .case
            .notice_records()
            .filter(|r| r.step == Step::Betalingsoppfordring)
            .max_by_key(|r| r.sent)?;
        let raw = facts
            .letters
            .get(&bo.letter_id)?
            .claims
            .iter()
            .find(|c| &c.claim_id == claim_id)?
            .kid
            .clone()?;
        Kid::parse(&raw, KidModulus::Mod10)
            .or_else(|_| Kid::parse(&raw, KidModulus::Mod11))
            .ok()
    }

    /// The attachments as one PDF, in the document's order.
    async fn attachments(
        &self,
        org: &OrgId,
        account: &AccountId,
        facts: &Facts,
        input: &LegalDocumentInput,
    ) -> Result<Vec<u8>, LegalDocError> {
        let mut pdfs: Vec<Option<Vec<u8>>> = Vec::with_capacity(input.attachments.len());
        let mut pages: Vec<Option<LegalDocument>> = Vec::with_capacity(input.attachments.len());
        for a in &input.attachments {
            let unavailable = |reason: String| LegalDocError::AttachmentUnavailable {
                title: a.title.clone(),
                reason,
            };
            let (pdf, page) = match a.kind {
                AttachmentKind::Invoice => {
                    let invoice = facts
                        .claim
                        .state
                        .mirror
                        .as_ref()
                        .and_then(|m| m.invoice_id)
                        .ok_or_else(|| {
                            unavailable("the claim is an open item without a Tripletex invoice: attach its basis by hand".into())
                        })?;
                    let bytes = self
                        .invoices
                        .invoice_pdf(org, account, invoice)
                        .await
                        .map_err(|e| unavailable(format!("Tripletex: {e}")))?
                        .ok_or_else(|| {
                            unavailable("Tripletex has no PDF copy of the invoice".into())
                        })?;
                    (Some(bytes), None)
                }
                AttachmentKind::Notice => {
                    let key = a
                        .letter_id
                        .as_ref()
                        .and_then(|l| facts.letters.get(l))
                        .and_then(|l| l.pdf_key.clone())
                        .ok_or_else(|| unavailable("the letter as sent is not archived".into()))?;
                    let bytes = self.bucket.get(&key).await?.ok_or_else(|| {
                        unavailable(format!("{key} is not in the letters bucket"))
                    })?;
                    (Some(bytes), None)
                }
                AttachmentKind::PaymentHistory => {
                    (None, Some(LegalDocument::payment_history(input, a.number)))
                }
                AttachmentKind::Objection => {
                    let page = LegalDocument::objection_page(input, a.number)
                        .ok_or_else(|| unavailable("the document states no objection".into()))?;
                    (None, Some(page))
                }
            };
            pdfs.push(pdf);
            pages.push(page);
        }
        let parts: Vec<BundlePart<'_>> = input
            .attachments
            .iter()
            .zip(pdfs.iter().zip(pages.iter()))
            .filter_map(|(attachment, (pdf, page))| {
                let content = match (pdf, page) {
                    (Some(b), _) => PartContent::Pdf(b),
                    (None, Some(p)) => PartContent::Page(p),
                    (None, None) => return None,
                };
                Some(BundlePart {
                    attachment,
                    content,
                })
            })
            .collect();
        Ok(documents::bundle(
            &format!("Bilag til {}", input.kind.title().to_lowercase()),
            &input.creditor.name,
            &format!("{}-bilag", input.document_id),
            &parts,
        )?)
    }

    async fn store_pdf(&self, key: String, bytes: Vec<u8>) -> Result<StoredPdf, LegalDocError> {
        let stored = StoredPdf {
            sha256: documents::sha256_hex(&bytes),
            bytes: bytes.len() as u64,
            key: key.clone(),
        };
        self.bucket.put(&key, bytes, "application/pdf").await?;
        Ok(stored)
    }

    /// Drafts the case's document for filing today (see the module comment). `true` with a new
    /// draft, `false` when the same draft existed.
    pub async fn draft(
        &self,
        org: &OrgId,
        public_id: &str,
        user: &str,
        req: &DraftRequest,
        now: DateTime<Utc>,
    ) -> Result<(DocumentView, bool), LegalDocError> {
        let (account, case_id) = Self::case_ref(public_id)?;
        let today = norwegian_date(now);
        let asked = match req.kind.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(k) => Some(DocumentKind::parse(k).ok_or_else(|| {
                bad(
                    "kind",
                    format!("unknown kind {k:?}; one of utlegg, forliksklage"),
                )
            })?),
        };
        let facts = self.facts(org, &account, &case_id).await?;
        let kind = self.ready_for(&facts, asked, today)?;
        let invoice_number = facts
            .claim
            .state
            .mirror
            .as_ref()
            .and_then(|m| m.invoice_number.clone());
        let choices = choices_of(req, kind, invoice_number.as_deref())?;
        let id = draft_id(&facts, kind, today, &choices);
        if let Some(existing) = self
            .store
            .get_legal_document(org, &account, &case_id, &id)
            .await?
        {
            return Ok((DocumentView::of(&existing), false));
        }
        let input = self.content(&facts, kind, &choices, today, &id)?;
        let pdf = documents::render_legal(&LegalDocument::compose(&input))?;
        let bundle = self.attachments(org, &account, &facts, &input).await?;
        let pdf = self
            .store_pdf(
                document_key(org, &account, &case_id, &id, DocumentPart::Document),
                pdf,
            )
            .await?;
        let attachments = self
            .store_pdf(
                document_key(org, &account, &case_id, &id, DocumentPart::Attachments),
                bundle,
            )
            .await?;
        let record = LegalDocumentRecord {
            document_id: id.clone(),
            org: org.clone(),
            account_id: account.clone(),
            case_id: case_id.clone(),
            kind,
            date: today,
            choices,
            input,
            pdf,
            attachments,
            drafted_by: Actor::user(user),
            drafted_at: now,
            approval: None,
            approved_by_user: None,
            signed: None,
            version: 1,
        };
        match self.store.put_legal_document(&record, None).await? {
            Save::Saved => {
                tracing::info!(case = %case_id, document = %id, kind = kind.key(), "legal document drafted");
                Ok((DocumentView::of(&record), true))
            }
            // The same draft made at the same time by another request: the same bytes.
            Save::Conflict => {
                let existing = self
                    .store
                    .get_legal_document(org, &account, &case_id, &id)
                    .await?
                    .ok_or(LegalDocError::Contention)?;
                Ok((DocumentView::of(&existing), false))
            }
        }
    }

    /// The case's documents, oldest first.
    pub async fn list(&self, org: &OrgId, public_id: &str) -> Result<DocumentList, LegalDocError> {
        let (account, case_id) = Self::case_ref(public_id)?;
        if self
            .store
            .get_case(org, &account, &case_id)
            .await?
            .is_none()
        {
            return Err(LegalDocError::CaseNotFound);
        }
        let docs = self
            .store
            .legal_documents_of_case(org, &account, &case_id)
            .await?;
        Ok(DocumentList {
            documents: docs.iter().map(DocumentSummary::of).collect(),
        })
    }

    async fn record(
        &self,
        org: &OrgId,
        public_id: &str,
        document: &str,
    ) -> Result<LegalDocumentRecord, LegalDocError> {
        let (account, case_id) = Self::case_ref(public_id)?;
        let id = LegalDocumentId::parse(document).ok_or(LegalDocError::DocumentNotFound)?;
        self.store
            .get_legal_document(org, &account, &case_id, &id)
            .await?
            .ok_or(LegalDocError::DocumentNotFound)
    }

    /// One document.
    pub async fn get(
        &self,
        org: &OrgId,
        public_id: &str,
        document: &str,
    ) -> Result<DocumentView, LegalDocError> {
        Ok(DocumentView::of(
            &self.record(org, public_id, document).await?,
        ))
    }

    /// A PDF of the document (another organization's: not found).
    pub async fn pdf(
        &self,
        org: &OrgId,
        public_id: &str,
        document: &str,
        part: Part,
    ) -> Result<Pdf, LegalDocError> {
        let rec = self.record(org, public_id, document).await?;
        let (stored, suffix) = match part {
            Part::Document => (&rec.pdf, ""),
            Part::Attachments => (&rec.attachments, "-bilag"),
            Part::Signed => (
                rec.signed.as_ref().ok_or(if rec.approval.is_some() {
                    LegalDocError::NotSigned
                } else {
                    LegalDocError::DocumentNotFound
                })?,
                "-signert",
            ),
        };
        let bytes = self
            .bucket
            .get(&stored.key)
            .await?
            .ok_or_else(|| LegalDocError::PdfCorrupt(stored.key.clone()))?;
        Ok(Pdf {
            file_name: format!("{}-{}{suffix}.pdf", rec.kind.key(), rec.document_id),
            sha256: stored.sha256.clone(),
            bytes,
        })
    }

    /// Approves the draft as `name` (the signer), user `user` (see the module comment).
    /// `true` when this call approved it, `false` when it was approved before.
    pub async fn approve(
        &self,
        org: &OrgId,
        public_id: &str,
        document: &str,
        user: &str,
        req: &ApproveRequest,
        now: DateTime<Utc>,
    ) -> Result<(DocumentView, bool), LegalDocError> {
        let name = req.name.trim();
        if name.is_empty() {
            return Err(bad("name", "name (the signer's name) is required"));
        }
        if name.chars().count() > 200 {
            return Err(bad("name", "name is longer than 200 characters"));
        }
        let seen = req.sha256.as_deref().map(|h| h.trim().to_ascii_lowercase());
        let rec = self.record(org, public_id, document).await?;
        if let Some(h) = &seen {
            if *h != rec.pdf.sha256 {
                return Err(LegalDocError::HashMismatch {
                    expected: rec.pdf.sha256.clone(),
                });
            }
        }
        if rec.approval.is_some() {
            return Ok((DocumentView::of(&rec), false));
        }
        // Still what the case says, and the case still ready.
        let facts = self.facts(org, &rec.account_id, &rec.case_id).await?;
        self.ready_for(&facts, Some(rec.kind), norwegian_date(now))?;
        let again = self.content(&facts, rec.kind, &rec.choices, rec.date, &rec.document_id)?;
        if again != rec.input {
            return Err(LegalDocError::Stale(what_changed(&rec.input, &again)));
        }
        let pdf = self
            .bucket
            .get(&rec.pdf.key)
            .await?
            .filter(|b| documents::sha256_hex(b) == rec.pdf.sha256)
            .ok_or_else(|| LegalDocError::PdfCorrupt(rec.pdf.key.clone()))?;
        let signed = documents::approve(&pdf, name, now)?;
        let stored = self
            .store_pdf(
                document_key(
                    org,
                    &rec.account_id,
                    &rec.case_id,
                    &rec.document_id,
                    DocumentPart::Signed,
                ),
                signed.pdf,
            )
            .await?;
        let mut approved = rec.clone();
        approved.approval = Some(signed.approval);
        approved.approved_by_user = Some(user.to_string());
        approved.signed = Some(stored);
        approved.version += 1;
        match self
            .store
            .put_legal_document(&approved, Some(rec.version))
            .await?
        {
            Save::Saved => {
                tracing::info!(case = %rec.case_id, document = %rec.document_id, "legal document approved");
                Ok((DocumentView::of(&approved), true))
            }
            Save::Conflict => {
                let now_stored = self.record(org, public_id, document).await?;
                if now_stored.approval.is_some() {
                    Ok((DocumentView::of(&now_stored), false))
                } else {
                    Err(LegalDocError::Contention)
                }
            }
        }
    }
}

/// A short account of what differs between the draft and the case now.
fn what_changed(draft: &LegalDocumentInput, now: &LegalDocumentInput) -> String {
    let mut what = Vec::new();
    if draft.total != now.total {
        what.push(format!(
            "the total is now {} (was {})",
            now.total, draft.total
        ));
    }
    if draft.claims.iter().map(|c| c.payments.len()).sum::<usize>()
        != now.claims.iter().map(|c| c.payments.len()).sum::<usize>()
    {
        what.push("payments".to_string());
    }
    if draft.notices != now.notices {
        what.push("the notices".to_string());
    }
    if draft.objection != now.objection {
        what.push("the objection".to_string());
    }
    if draft.debtor != now.debtor {
        what.push("the debtor".to_string());
    }
    if draft.creditor != now.creditor || draft.creditor_account != now.creditor_account {
        what.push("the creditor".to_string());
    }
    if what.is_empty() {
        what.push("the content".to_string());
    }
    what.join(", ")
}
