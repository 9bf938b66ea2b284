//! The legal documents the creditor signs: a **begjæring om utlegg** on the særlig tvangsgrunnlag
//! of tvangsfullbyrdelsesloven § 7-2 (1) f, and a **forliksklage** (tvisteloven § 6-3).
//!
//! Two steps, as for the letters:
//! - [`LegalDocumentInput::draft`] gathers every fact from the case (the claim, its payments, the
//!   notices as sent, the objection) and computes every amount with the rulebook: interest to the
//!   filing date with the rates used, the fees demanded, the court fee of the year and the costs
//!   the creditor may claim. The input's fields follow Skatteetaten's utleggsbegjæring API (beta):
//!   parties (`saksoeker`, `saksoekt`, `sakssoektErENK`), each claim with its original and remaining
//!   amount, creation date, due date and KID (`hovedkrav`, `kravforfall`, `innbetaling`), the
//!   betalingsoppfordring's dates (`betalingsoppforing`), the interest claim (`rentekrav`), the
//!   tvangsgrunnlag `SkriftligMeddelelse` with its `varselTvfbl418`, `kanBehandlesIForliksraadet`,
//!   the `rettsgebyr` and the attachments (`vedlegg`); a later filing through that API maps these
//!   fields (see `docs/legal-steps.md`).
//! - [`LegalDocument::compose`] writes the document in bokmål, section by section, for the PDF
//!   (`shared::documents::render_legal`).
//!
//! The fødselsnummer of a consumer (or of the owner of an enkeltpersonforetak) is never stored:
//! the document leaves a field to fill in by hand and says so.

use super::police::PoliceDistrict;
use super::policy::LegalStepsPolicy;
use crate::domain::case::{Case, ObjectionOutcome, ObjectionState};
use crate::domain::claim::ClaimState;
use crate::domain::collection::dunning::letter::format::{
    amount, grouped_orgnr, kroner, percent, short_date,
};
use crate::domain::collection::dunning::letter::{
    plain, strong, Align, ClaimTable, Column, Field, Paragraph, TotalLine,
};
use crate::domain::collection::dunning::planner::balances;
use crate::domain::collection::dunning::{
    BankAccount, Channel, Language, NoticeRecord, Sender, Step,
};
use crate::domain::collection::interest::{BalanceChange, InterestError};
use crate::domain::collection::kid::Kid;
use crate::domain::collection::rulebook::{add_days, Confidence, CourtFee, RuleGap, Rulebook};
use crate::domain::ledger::PostalAddress;
use crate::domain::money::Money;
use crate::domain::OrgNumber;
use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

const NB: Language = Language::Nb;

/// Which document.
#[derive(utoipa::ToSchema, Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum DocumentKind {
    /// Begjæring om utlegg, tvangsfullbyrdelsesloven § 7-2 (1) f.
    BegjaeringOmUtlegg,
    /// Forliksklage, tvisteloven § 6-3.
    Forliksklage,
}

impl DocumentKind {
    pub fn key(self) -> &'static str {
        match self {
            DocumentKind::BegjaeringOmUtlegg => "utlegg",
            DocumentKind::Forliksklage => "forliksklage",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "utlegg" => Some(DocumentKind::BegjaeringOmUtlegg),
            "forliksklage" => Some(DocumentKind::Forliksklage),
            _ => None,
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            DocumentKind::BegjaeringOmUtlegg => "Begjæring om utlegg",
            DocumentKind::Forliksklage => "Forliksklage",
        }
    }

    fn court_fee(self) -> CourtFee {
        match self {
            DocumentKind::BegjaeringOmUtlegg => CourtFee::BegjaeringOmUtlegg,
            DocumentKind::Forliksklage => CourtFee::Forliksklage,
        }
    }
}

/// How a party is identified.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum PartyId {
    /// A company with its organisasjonsnummer.
    Organisation { number: OrgNumber },
    /// A person: the fødselsnummer is filled in by hand on the signed document (never stored).
    Person,
    /// An enkeltpersonforetak (`sakssoektErENK`): the owner is liable personally; the
    /// organisasjonsnummer, and the owner's fødselsnummer by hand.
    SoleProprietorship { number: OrgNumber },
}

/// A party to the case (saksøker / saksøkt).
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Party {
    pub name: String,
    pub address: PostalAddress,
    pub id: PartyId,
}

impl Party {
    /// The debtor is an enkeltpersonforetak (the API's `sakssoektErENK`).
    pub fn is_enk(&self) -> bool {
        matches!(self.id, PartyId::SoleProprietorship { .. })
    }

    /// A fødselsnummer must be filled in by hand.
    pub fn needs_birth_number(&self) -> bool {
        matches!(
            self.id,
            PartyId::Person | PartyId::SoleProprietorship { .. }
        )
    }
}

/// Where the document goes.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Forum {
    /// The namsmann of the debtor's alminnelig verneting, picked by the user (`None`: a field
    /// to fill in by hand), with the reason (the API's `valgtNamsmannsdistrikt.begrunnelse`).
    Namsmann {
        district: Option<PoliceDistrict>,
        reason: String,
    },
    /// The forliksråd of the municipality where the debtor lives or has its business
    /// (tvisteloven § 4-4; `None`: a field to fill in by hand).
    Forliksrad { municipality: Option<String> },
}

/// A letter as sent, cited by the document and attached to it.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NoticeRef {
    pub step: Step,
    pub letter_id: String,
    pub sent: NaiveDate,
    pub deadline: NaiveDate,
    pub channel: Channel,
}

/// A notice the dunning sent: its record and the channel it went by.
#[derive(Debug, Clone, Copy)]
pub struct SentNotice<'a> {
    pub record: &'a NoticeRecord,
    pub channel: Channel,
}

/// A payment on the claim (the API's `innbetaling`).
#[derive(utoipa::ToSchema, Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Payment {
    pub date: NaiveDate,
    pub amount: Money,
}

/// One period of the interest specification: a balance at a rate over some days.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InterestRow {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub days: u32,
    pub balance: Money,
    pub rate_percent: Decimal,
    /// The exact amount of the period (kroner, not rounded); the total is rounded once.
    pub amount_exact: Decimal,
    pub rule: String,
}

/// Forsinkelsesrente to the filing date (the API's `rentekrav` with `forsinkelsesrente`).
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InterestClaim {
    /// The first interest day (after the business-day due date).
    pub from: NaiveDate,
    /// The filing date (inclusive).
    pub to: NaiveDate,
    /// The interest accrued over the period, rounded once.
    pub accrued: Money,
    /// Interest the debtor already paid.
    pub paid: Money,
    /// Accrued − paid: what is claimed.
    pub claimed: Money,
    pub rows: Vec<InterestRow>,
}

/// A fee demanded out of court (the API's `tilleggskrav`).
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FeeClaim {
    pub label: String,
    pub date: NaiveDate,
    pub amount: Money,
    pub basis: String,
}

/// One claim (the API's `hovedkrav`).
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LegalClaim {
    /// The invoice number (`kravreferanse`).
    pub reference: String,
    /// What it concerns (`kravbeskrivelse`).
    pub description: String,
    /// The invoice date (`opprettelsesdatoForKrav`).
    pub created: NaiveDate,
    /// `kravforfall.betalingsfrist`.
    pub due_date: NaiveDate,
    /// `kravforfall.kidnummer` (digits, as validated when the KID was made).
    pub kid: Option<String>,
    /// `opprinneligBeloep`.
    pub original_amount: Money,
    /// Credit notes on the invoice.
    pub credited: Money,
    pub payments: Vec<Payment>,
    /// The principal still owed (`gjenstaaendeBeloep`).
    pub remaining: Money,
    pub interest: InterestClaim,
    pub fees: Vec<FeeClaim>,
    /// Of the fees, what the debtor already paid.
    pub fees_paid: Money,
    /// Remaining principal + interest claimed + fees not paid.
    pub total: Money,
}

/// A cost of the legal step the creditor claims from the debtor.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CostLine {
    pub label: String,
    pub amount: Money,
    pub basis: String,
    /// The rulebook tags (rettsgebyr of the year, multiplier).
    pub rules: Vec<String>,
}

/// What an attachment is (the API's `VedleggType`).
#[derive(utoipa::ToSchema, Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum AttachmentKind {
    /// The invoice: the claim's basis.
    Invoice,
    /// A notice as sent (the betalingsoppfordring is the § 7-2 f tvangsgrunnlag; the § 4-18
    /// varsel in it the tvangskraftgrunnlag).
    Notice,
    PaymentHistory,
    /// The objection with its assessment.
    Objection,
}

impl AttachmentKind {
    /// The API's `VedleggType`.
    pub fn api_type(self, step: Option<Step>) -> &'static str {
        match (self, step) {
            (AttachmentKind::Invoice, _) => "tvangsgrunnlag",
            (AttachmentKind::Notice, Some(Step::Betalingsoppfordring)) => "betalingsoppfordring",
            (AttachmentKind::Notice, _)
            | (AttachmentKind::PaymentHistory, _)
            | (AttachmentKind::Objection, _) => "annet",
        }
    }
}

/// An attachment, numbered as the document lists it («Bilag 1»).
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Attachment {
    pub number: u32,
    pub kind: AttachmentKind,
    /// For a notice: which step.
    pub step: Option<Step>,
    /// For a notice: its letter id (the service finds its PDF by it).
    pub letter_id: Option<String>,
    pub title: String,
}

/// The objection, as the forliksklage states the dispute.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectionFacts {
    pub received_on: NaiveDate,
    pub channel: String,
    pub text: String,
    /// Why the creditor found it groundless.
    pub assessment: Option<String>,
}

/// Every fact of the document, computed ([`LegalDocumentInput::draft`]).
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LegalDocumentInput {
    pub kind: DocumentKind,
    /// The document's id (`utleggsbegjaeringIdentifikator`; the PDF's document id).
    pub document_id: String,
    /// The filing date (`begjaeringsdato`): interest runs to it.
    pub date: NaiveDate,
    /// The creditor's reference (`innsenderReferanse`).
    pub case_reference: String,
    pub creditor: Party,
    pub creditor_account: BankAccount,
    pub creditor_email: Option<String>,
    pub creditor_phone: Option<String>,
    pub debtor: Party,
    pub forum: Forum,
    pub claims: Vec<LegalClaim>,
    /// The særlig tvangsgrunnlag: the betalingsoppfordring (`SkriftligMeddelelse`).
    pub betalingsoppfordring: NoticeRef,
    /// The varsel etter § 4-18 (`varselTvfbl418`), here in the same letter.
    pub varsel_418: NoticeRef,
    /// Every notice sent, oldest first.
    pub notices: Vec<NoticeRef>,
    pub objection: Option<ObjectionFacts>,
    pub costs: Vec<CostLine>,
    /// `kanBehandlesIForliksraadet` (begjæring om utlegg).
    pub forliksraad_if_objection: bool,
    /// `krevesFravaersdom`.
    pub default_judgment: bool,
    pub attachments: Vec<Attachment>,
    /// The claims' totals plus the costs.
    pub total: Money,
    /// Things the user must check before signing (an unverified rule, fields to fill by hand).
    pub warnings: Vec<String>,
}

/// What drafting reads.
#[derive(Debug, Clone, Copy)]
pub struct DraftInput<'a> {
    pub kind: DocumentKind,
    pub document_id: &'a str,
    pub claim: &'a ClaimState,
    pub case: &'a Case,
    /// The notices sent on the claim (any order).
    pub notices: &'a [SentNotice<'a>],
    pub creditor: &'a Sender,
    pub debtor: &'a Party,
    /// What the claim concerns, as the invoice says (e.g. «Rørleggerarbeid, Storgata 5»).
    pub description: &'a str,
    pub kid: Option<&'a Kid>,
    pub forum: &'a Forum,
    pub policy: &'a LegalStepsPolicy,
    pub book: &'a Rulebook,
    pub date: NaiveDate,
}

/// Why a document cannot be drafted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DraftError {
    #[error("the claim is not mirrored yet")]
    NotMirrored,
    #[error("no betalingsoppfordring with the § 4-18 varsel was sent on this claim")]
    NoBetalingsoppfordring,
    #[error("the filing date {date} is before the betalingsoppfordring's deadline {deadline}")]
    BeforeDeadline {
        date: NaiveDate,
        deadline: NaiveDate,
    },
    #[error(
        "the fees of the notices ({notices}) are not the fees demanded on the claim ({claim})"
    )]
    FeesDoNotMatch { notices: Money, claim: Money },
    #[error("the creditor has no organisation number")]
    CreditorWithoutOrgNumber,
    #[error("the debtor's name is empty")]
    DebtorWithoutName,
    #[error(transparent)]
    Gap(#[from] RuleGap),
    #[error("the interest cannot be computed: {0}")]
    Interest(InterestError),
    #[error("an amount is too large")]
    Overflow,
}

impl From<InterestError> for DraftError {
    fn from(e: InterestError) -> Self {
        match e {
            InterestError::Gap(g) => DraftError::Gap(g),
            other => DraftError::Interest(other),
        }
    }
}

fn step_name(step: Step) -> &'static str {
    match step {
        Step::Paminnelse => "Betalingspåminnelse",
        Step::Purring => "Purring",
        Step::Inkassovarsel => "Inkassovarsel",
        Step::Betalingsoppfordring => {
            "Betalingsoppfordring med varsel etter tvangsfullbyrdelsesloven § 4-18"
        }
    }
}

fn step_short(step: Step) -> &'static str {
    match step {
        Step::Paminnelse => "betalingspåminnelse",
        Step::Purring => "purring",
        Step::Inkassovarsel => "inkassovarsel",
        Step::Betalingsoppfordring => "betalingsoppfordring",
    }
}

fn channel_no(c: Channel) -> &'static str {
    match c {
        Channel::Email => "e-post",
        Channel::Letter => "brev",
        Channel::EmailAndLetter => "e-post og brev",
    }
}

fn fee_basis(step: Step) -> &'static str {
    match step {
        Step::Paminnelse | Step::Purring | Step::Inkassovarsel => {
            "inkassoforskriften § 1-2 (1/20 av inkassosatsen)"
        }
        Step::Betalingsoppfordring => "inkassoforskriften § 1-2 (3/20 av inkassosatsen)",
    }
}

impl LegalDocumentInput {
    /// Gathers the facts of `d.case` and computes the amounts for filing on `d.date`.
    pub fn draft(d: &DraftInput<'_>) -> Result<Self, DraftError> {
        let claim = d.claim;
        let mirror = claim.mirror.as_ref().ok_or(DraftError::NotMirrored)?;
        let creditor_org = d
            .creditor
            .organization_number
            .clone()
            .ok_or(DraftError::CreditorWithoutOrgNumber)?;
        if d.debtor.name.trim().is_empty() {
            return Err(DraftError::DebtorWithoutName);
        }
        let book = d.book;

        // The notices, oldest first; the betalingsoppfordring is the last one of its step.
        let mut notices: Vec<&SentNotice<'_>> = d
            .notices
            .iter()
            .filter(|n| n.record.sent <= d.date)
            .collect();
        notices.sort_by_key(|n| (n.record.sent, n.record.step));
        let refs: Vec<NoticeRef> = notices
            .iter()
            .map(|n| NoticeRef {
                step: n.record.step,
                letter_id: n.record.letter_id.clone(),
                sent: n.record.sent,
                deadline: n.record.deadline,
                channel: n.channel,
            })
            .collect();
        let bo = refs
            .iter()
            .rev()
            .find(|n| n.step == Step::Betalingsoppfordring)
            .cloned()
            .ok_or(DraftError::NoBetalingsoppfordring)?;
        if d.date <= bo.deadline {
            return Err(DraftError::BeforeDeadline {
                date: d.date,
                deadline: bo.deadline,
            });
        }

        // Payments and the balance history (payments and credit notes reduce the principal).
        let mut reductions: Vec<(NaiveDate, Money)> = claim
            .counted_credits()
            .filter(|c| c.date <= d.date)
            .map(|c| (c.date, c.paid + c.credited))
            .collect();
        reductions.sort_by_key(|r| r.0);
        let mut payments: Vec<Payment> = claim
            .counted_credits()
            .filter(|c| !c.paid.is_zero() && c.date <= d.date)
            .map(|c| Payment {
                date: c.date,
                amount: c.paid,
            })
            .collect();
        payments.sort_by_key(|p| p.date);
        let changes: Vec<BalanceChange> = balances(mirror.principal, &reductions)
            .filter(|c| c.date < d.date)
            .collect();
        let interest =
            book.interest_on_balances(mirror.due_date, mirror.principal, &changes, d.date)?;
        let a = &claim.amounts;
        let interest_paid = a
            .interest_demanded
            .checked_sub(a.interest_outstanding)
            .ok_or(DraftError::Overflow)?
            .max(Money::ZERO);
        let interest_claimed = interest
            .total
            .checked_sub(interest_paid)
            .ok_or(DraftError::Overflow)?
            .max(Money::ZERO);
        let interest_claim = InterestClaim {
            from: add_days(interest.effective_due_date, 1),
            to: d.date,
            accrued: interest.total,
            paid: interest_paid,
            claimed: interest_claimed,
            rows: interest
                .segments
                .iter()
                .map(|s| InterestRow {
                    from: s.from,
                    to: s.to,
                    days: s.days,
                    balance: s.balance,
                    rate_percent: s.rate_percent,
                    amount_exact: s.amount_exact,
                    rule: book.tag(s.rule).to_string(),
                })
                .collect(),
        };

        // The fees the notices demanded, each on its day.
        let mut fees = Vec::new();
        for n in &notices {
            let r = n.record;
            if !r.fee.is_zero() {
                fees.push(FeeClaim {
                    label: format!("Gebyr for {}", step_short(r.step)),
                    date: r.sent,
                    amount: r.fee,
                    basis: fee_basis(r.step).to_string(),
                });
            }
            if !r.compensation.is_zero() {
                fees.push(FeeClaim {
                    label: "Standardkompensasjon (forsinkelsesrenteloven § 3 a)".to_string(),
                    date: r.sent,
                    amount: r.compensation,
                    basis: "forsinkelsesrenteloven § 3 a".to_string(),
                });
            }
        }
        let fees_listed = fees
            .iter()
            .try_fold(Money::ZERO, |acc, f| acc.checked_add(f.amount))
            .ok_or(DraftError::Overflow)?;
        if fees_listed != a.fees_demanded {
            return Err(DraftError::FeesDoNotMatch {
                notices: fees_listed,
                claim: a.fees_demanded,
            });
        }
        let fees_paid = (a.fees_demanded - a.fees_outstanding).max(Money::ZERO);
        let total = [
            a.principal_outstanding,
            interest_claimed,
            a.fees_outstanding,
        ]
        .into_iter()
        .try_fold(Money::ZERO, |acc, m| acc.checked_add(m))
        .ok_or(DraftError::Overflow)?;
        let legal_claim = LegalClaim {
            reference: mirror
                .invoice_number
                .clone()
                .unwrap_or_else(|| claim.claim_id.to_string()),
            description: d.description.trim().to_string(),
            created: mirror.invoice_date,
            due_date: mirror.due_date,
            kid: d.kid.map(|k| k.as_str().to_string()),
            original_amount: mirror.principal,
            credited: a.credited,
            payments,
            remaining: a.principal_outstanding,
            interest: interest_claim,
            fees,
            fees_paid,
            total,
        };

        // The costs of the legal step.
        let mut warnings = Vec::new();
        let mut costs = Vec::new();
        let mut cost = |fee: CourtFee, label: &str, basis: &str| -> Result<(), DraftError> {
            let c = book.court_fee_on(fee, d.date)?;
            for r in c.rules {
                let m = book.meta(r);
                if matches!(m.confidence, Confidence::Unverified | Confidence::Low) {
                    warnings.push(format!(
                        "{label}: {} er ikke bekreftet i en primærkilde ({}); kontroller beløpet før du signerer.",
                        m.tag,
                        m.note.as_deref().unwrap_or("se docs/rules.md")
                    ));
                }
            }
            costs.push(CostLine {
                label: format!(
                    "{label} ({} × rettsgebyret {})",
                    c.multiplier.normalize().to_string().replace('.', ","),
                    kroner(c.rettsgebyr, NB)
                ),
                amount: c.amount,
                basis: basis.to_string(),
                rules: c.rules.iter().map(|r| book.tag(*r).to_string()).collect(),
            });
            Ok(())
        };
        match d.kind {
            DocumentKind::BegjaeringOmUtlegg => {
                cost(
                    d.kind.court_fee(),
                    "Rettsgebyr for begjæring om utlegg",
                    "rettsgebyrloven § 14",
                )?;
                cost(
                    CourtFee::UtleggWriting,
                    "Utferdigelse av begjæringen",
                    "tvangsfullbyrdelsesloven § 3-1 (nødvendige kostnader; høyst ½ rettsgebyr)",
                )?;
            }
            DocumentKind::Forliksklage => {
                cost(
                    d.kind.court_fee(),
                    "Gebyr for behandling i forliksrådet",
                    "rettsgebyrloven § 7; tvisteloven § 6-13 (1) a",
                )?;
            }
        }
        let costs_total = costs
            .iter()
            .try_fold(Money::ZERO, |acc, c| acc.checked_add(c.amount))
            .ok_or(DraftError::Overflow)?;

        // The objection (a disputed claim) and the attachments.
        let objection = d
            .case
            .objections
            .iter()
            .filter(|o| o.state() == ObjectionState::Groundless)
            .max_by_key(|o| (o.received_on, o.id))
            .map(|o| ObjectionFacts {
                received_on: o.received_on,
                channel: o.channel.label_no().to_string(),
                text: o.text.clone(),
                assessment: o.assessment.as_ref().map(|a| match &a.outcome {
                    ObjectionOutcome::Groundless { reason } => reason.clone(),
                    ObjectionOutcome::Justified { note } => note.clone().unwrap_or_default(),
                }),
            });
        let mut attachments = vec![Attachment {
            number: 1,
            kind: AttachmentKind::Invoice,
            step: None,
            letter_id: None,
            title: format!(
                "Faktura {} datert {}",
                legal_claim.reference,
                nb(legal_claim.created)
            ),
        }];
        for n in &refs {
            attachments.push(Attachment {
                number: attachments.len() as u32 + 1,
                kind: AttachmentKind::Notice,
                step: Some(n.step),
                letter_id: Some(n.letter_id.clone()),
                title: format!(
                    "{} sendt {} med {}",
                    step_name(n.step),
                    nb(n.sent),
                    channel_no(n.channel)
                ),
            });
        }
        attachments.push(Attachment {
            number: attachments.len() as u32 + 1,
            kind: AttachmentKind::PaymentHistory,
            step: None,
            letter_id: None,
            title: "Betalingshistorikk".to_string(),
        });
        if let Some(o) = &objection {
            attachments.push(Attachment {
                number: attachments.len() as u32 + 1,
                kind: AttachmentKind::Objection,
                step: None,
                letter_id: None,
                title: format!(
                    "Innsigelse mottatt {} og kreditors vurdering",
                    nb(o.received_on)
                ),
            });
        }

        if d.debtor.needs_birth_number() {
            warnings.push("Fødselsnummeret til saksøkte fylles inn for hånd på det signerte dokumentet; Inndrive lagrer det ikke.".to_string());
        }
        match d.forum {
            Forum::Namsmann { district: None, .. } => warnings.push(
                "Velg namsmannsdistrikt (politidistriktet der skyldneren bor eller har forretningskontor).".to_string(),
            ),
            Forum::Forliksrad { municipality: None } => warnings.push(
                "Fyll inn forliksrådet (kommunen der skyldneren bor eller har forretningskontor).".to_string(),
            ),
            Forum::Namsmann { .. } | Forum::Forliksrad { .. } => {}
        }

        let total = total.checked_add(costs_total).ok_or(DraftError::Overflow)?;
        Ok(Self {
            kind: d.kind,
            document_id: d.document_id.to_string(),
            date: d.date,
            case_reference: d.case.id.to_string(),
            creditor: Party {
                name: d.creditor.name.clone(),
                address: d.creditor.address.clone(),
                id: PartyId::Organisation {
                    number: creditor_org,
                },
            },
            creditor_account: d.creditor.bank_account.clone(),
            creditor_email: d.creditor.email.clone(),
            creditor_phone: d.creditor.phone.clone(),
            debtor: d.debtor.clone(),
            forum: d.forum.clone(),
            claims: vec![legal_claim],
            betalingsoppfordring: bo.clone(),
            varsel_418: bo,
            notices: refs,
            objection,
            costs,
            forliksraad_if_objection: d.policy.forliksraad_if_objection,
            default_judgment: d.policy.default_judgment,
            attachments,
            total,
            warnings,
        })
    }

    /// The claims' totals (without the costs).
    pub fn claims_total(&self) -> Money {
        self.claims.iter().fold(Money::ZERO, |acc, c| acc + c.total)
    }
}

fn nb(d: NaiveDate) -> String {
    short_date(d, NB)
}

// ---------------------------------------------------------------------------------------------
// The composed document
// ---------------------------------------------------------------------------------------------

/// A part of a section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum Block {
    Paragraph(Paragraph),
    /// Label and value pairs, one per line.
    Fields {
        fields: Vec<Field>,
    },
    Table(ClaimTable),
    /// Right-aligned totals; the last one is the sum.
    Totals {
        lines: Vec<TotalLine>,
    },
    /// A field left empty, to fill in by hand, with why.
    FillIn {
        label: String,
        note: String,
    },
    /// A yes/no choice, marked.
    Choice {
        label: String,
        yes: bool,
    },
    /// Place, date and signature lines.
    Signature {
        name: String,
        role: String,
    },
}

/// A numbered section with its heading.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Section {
    pub heading: String,
    pub blocks: Vec<Block>,
}

/// The composed document (bokmål), for the PDF.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LegalDocument {
    pub document_id: String,
    pub kind: DocumentKind,
    pub title: String,
    /// Under the title: the legal basis.
    pub subtitle: String,
    pub creditor_name: String,
    /// To whom, date, reference.
    pub meta: Vec<Field>,
    pub sections: Vec<Section>,
    pub footer: Vec<String>,
    pub continuation_header: String,
    /// For the user, not printed: what to check before signing.
    pub warnings: Vec<String>,
}

impl LegalDocument {
    pub fn compose(i: &LegalDocumentInput) -> Self {
        compose(i)
    }

    pub fn page_label(&self, page: usize, pages: usize) -> String {
        format!("Side {page} av {pages}")
    }

    /// All the text in reading order (for the CLI and the tests).
    pub fn text(&self) -> String {
        let mut out = vec![
            self.creditor_name.clone(),
            self.title.clone(),
            self.subtitle.clone(),
        ];
        for f in &self.meta {
            out.push(format!("{}: {}", f.label, f.value));
        }
        for s in &self.sections {
            out.push(s.heading.clone());
            for b in &s.blocks {
                match b {
                    Block::Paragraph(p) => {
                        if let Some(h) = &p.heading {
                            out.push(h.clone());
                        }
                        out.push(p.text());
                    }
                    Block::Fields { fields } => {
                        for f in fields {
                            out.push(format!("{}: {}", f.label, f.value));
                        }
                    }
                    Block::Table(t) => {
                        out.push(
                            t.columns
                                .iter()
                                .map(|c| c.title.as_str())
                                .collect::<Vec<_>>()
                                .join(" | "),
                        );
                        for r in &t.rows {
                            out.push(r.join(" | "));
                        }
                    }
                    Block::Totals { lines } => {
                        for l in lines {
                            out.push(format!("{}: {}", l.label, l.amount));
                        }
                    }
                    Block::FillIn { label, note } => {
                        out.push(format!("{label}: ____________ ({note})"))
                    }
                    Block::Choice { label, yes } => {
                        out.push(format!("{label}: {}", if *yes { "Ja" } else { "Nei" }))
                    }
                    Block::Signature { name, role } => {
                        out.push(format!("Sted og dato / underskrift: {name}, {role}"))
                    }
                }
            }
        }
        out.extend(self.footer.iter().cloned());
        out.join("\n")
    }
}

fn field(label: &str, value: impl Into<String>) -> Field {
    Field {
        label: label.to_string(),
        value: value.into(),
        strong: false,
    }
}

fn strong_field(label: &str, value: impl Into<String>) -> Field {
    Field {
        label: label.to_string(),
        value: value.into(),
        strong: true,
    }
}

fn address_line(a: &PostalAddress) -> String {
    let mut parts: Vec<String> = a
        .lines
        .iter()
        .filter(|l| !l.trim().is_empty())
        .cloned()
        .collect();
    let place = [a.postal_code.as_deref(), a.city.as_deref()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    if !place.is_empty() {
        parts.push(place);
    }
    if let Some(cc) = a
        .country_code
        .as_deref()
        .filter(|c| !c.eq_ignore_ascii_case("NO"))
    {
        parts.push(cc.to_string());
    }
    parts.join(", ")
}

fn party_blocks(p: &Party, role: &str) -> Vec<Block> {
    let mut fields = vec![
        strong_field("Navn", p.name.clone()),
        field("Adresse", address_line(&p.address)),
    ];
    match &p.id {
        PartyId::Organisation { number } => {
            fields.push(field("Organisasjonsnummer", grouped_orgnr(number.as_str())))
        }
        PartyId::SoleProprietorship { number } => {
            fields.push(field("Organisasjonsnummer", grouped_orgnr(number.as_str())));
            fields.push(field(
                "Foretaksform",
                "Enkeltpersonforetak: innehaveren er personlig ansvarlig",
            ));
        }
        PartyId::Person => {}
    }
    let mut blocks = vec![Block::Fields { fields }];
    if p.needs_birth_number() {
        blocks.push(Block::FillIn {
            label: format!("Fødselsnummer ({role}, 11 siffer)"),
            note:
                "Fylles ut for hånd av kreditor før innsending. Inndrive lagrer ikke fødselsnummer."
                    .to_string(),
        });
    }
    blocks
}

fn rate_text(rows: &[InterestRow]) -> String {
    let mut rates: Vec<String> = Vec::new();
    for r in rows {
        let p = percent(r.rate_percent, NB);
        if rates.last() != Some(&p) {
            rates.push(p);
        }
    }
    rates.join(", ")
}

fn compose(i: &LegalDocumentInput) -> LegalDocument {
    let utlegg = i.kind == DocumentKind::BegjaeringOmUtlegg;
    let claim_total = i.claims_total();
    let mut sections = Vec::new();

    // 1. Parties.
    let (creditor_role, debtor_role) = if utlegg {
        ("saksøker", "saksøkte")
    } else {
        ("klager", "innklagede")
    };
    let mut parties = vec![Block::Paragraph(Paragraph::headed(
        format!("{} ({})", capital(creditor_role), "kreditor"),
        vec![],
    ))];
    let mut creditor = party_blocks(&i.creditor, creditor_role);
    if let Some(Block::Fields { fields }) = creditor.first_mut() {
        fields.push(field("Kontonummer", i.creditor_account.to_string()));
        if let Some(e) = &i.creditor_email {
            fields.push(field("E-post", e.clone()));
        }
        if let Some(p) = &i.creditor_phone {
            fields.push(field("Telefon", p.clone()));
        }
    }
    parties.extend(creditor);
    parties.push(Block::Paragraph(Paragraph::headed(
        format!("{} ({})", capital(debtor_role), "skyldner"),
        vec![],
    )));
    parties.extend(party_blocks(&i.debtor, debtor_role));
    sections.push(Section {
        heading: "1. Partene".to_string(),
        blocks: parties,
    });

    // 2. The basis of the claim (tvangsgrunnlag / grounds).
    let bo = &i.betalingsoppfordring;
    let mut basis = Vec::new();
    for c in &i.claims {
        basis.push(Block::Fields {
            fields: vec![
                field(
                    "Kravet gjelder",
                    format!("{} (faktura {})", c.description, c.reference),
                ),
                field("Fakturadato", nb(c.created)),
                field("Forfallsdato", nb(c.due_date)),
                field("KID", c.kid.clone().unwrap_or_else(|| "–".to_string())),
                field("Opprinnelig beløp", kroner(c.original_amount, NB)),
                field("Gjenstående hovedstol", kroner(c.remaining, NB)),
            ],
        });
    }
    if utlegg {
        basis.push(Block::Paragraph(Paragraph::new(vec![
            plain("Tvangsgrunnlaget er kreditors skriftlige meddelelse til skyldneren som angir kravets grunnlag og størrelse, jf. tvangsfullbyrdelsesloven § 7-2 første ledd bokstav f: "),
            strong(format!("betalingsoppfordring sendt {}", nb(bo.sent))),
            plain(format!(
                " med {}, med betalingsfrist {}. Betalingsoppfordringen inneholdt varsel etter tvangsfullbyrdelsesloven § 4-18 med frist på to uker, som er utløpt uten at kravet er betalt eller bestridt.",
                channel_no(bo.channel),
                nb(bo.deadline)
            )),
        ])));
    } else {
        basis.push(Block::Paragraph(Paragraph::new(vec![
            plain("Klager har levert varer eller tjenester til innklagede og fakturert dem som angitt over. Kravet forfalt til betaling og er ikke betalt. Klager har sendt innklagede "),
            plain(
                i.notices
                    .iter()
                    .map(|n| format!("{} {}", step_name(n.step).to_lowercase(), nb(n.sent)))
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
            plain(", med varsel om at saken kunne bli brakt inn for forliksrådet."),
        ])));
        if let Some(o) = &i.objection {
            basis.push(Block::Paragraph(Paragraph::headed(
                "Innklagedes innsigelse".to_string(),
                vec![plain(format!(
                    "Innklagede bestred kravet {} ({}): «{}»",
                    nb(o.received_on),
                    o.channel,
                    o.text
                ))],
            )));
            basis.push(Block::Paragraph(Paragraph::headed(
                "Klagers syn".to_string(),
                vec![plain(o.assessment.clone().unwrap_or_default())],
            )));
        }
    }
    sections.push(Section {
        heading: if utlegg {
            "2. Kravets grunnlag og tvangsgrunnlag".to_string()
        } else {
            "2. Hva saken gjelder og grunnlaget for kravet".to_string()
        },
        blocks: basis,
    });

    // 3. The claim specified.
    let mut spec = Vec::new();
    for c in &i.claims {
        let mut rows = vec![vec![
            format!("Hovedstol, faktura {}", c.reference),
            nb(c.created),
            amount(c.original_amount, NB),
        ]];
        if !c.credited.is_zero() {
            rows.push(vec![
                "Kreditert".to_string(),
                "".to_string(),
                format!("-{}", amount(c.credited, NB)),
            ]);
        }
        for p in &c.payments {
            rows.push(vec![
                "Innbetalt".to_string(),
                nb(p.date),
                format!("-{}", amount(p.amount, NB)),
            ]);
        }
        rows.push(vec![
            format!(
                "Forsinkelsesrente {} – {} ({})",
                nb(c.interest.from),
                nb(c.interest.to),
                rate_text(&c.interest.rows)
            ),
            nb(c.interest.to),
            amount(c.interest.accrued, NB),
        ]);
        for f in &c.fees {
            rows.push(vec![f.label.clone(), nb(f.date), amount(f.amount, NB)]);
        }
        spec.push(Block::Table(ClaimTable {
            columns: vec![
                Column {
                    title: "Post".into(),
                    align: Align::Left,
                },
                Column {
                    title: "Dato".into(),
                    align: Align::Left,
                },
                Column {
                    title: "Beløp (kr)".into(),
                    align: Align::Right,
                },
            ],
            rows,
        }));
        if !(c.interest.paid.is_zero() && c.fees_paid.is_zero()) {
            spec.push(Block::Paragraph(Paragraph::new(vec![plain(format!(
                "Innbetalingene er ført først på hovedstolen, deretter på gebyrene ({}) og rentene ({}).",
                kroner(c.fees_paid, NB),
                kroner(c.interest.paid, NB)
            ))])));
        }
        spec.push(Block::Totals {
            lines: vec![
                TotalLine {
                    label: "Gjenstående hovedstol".into(),
                    amount: amount(c.remaining, NB),
                    strong: false,
                },
                TotalLine {
                    label: format!("Forsinkelsesrente til {}", nb(c.interest.to)),
                    amount: amount(c.interest.claimed, NB),
                    strong: false,
                },
                TotalLine {
                    label: "Utenrettslige inndrivingskostnader".into(),
                    amount: amount(
                        c.fees.iter().fold(Money::ZERO, |a, f| a + f.amount) - c.fees_paid,
                        NB,
                    ),
                    strong: false,
                },
                TotalLine {
                    label: format!("Krav per {}", nb(i.date)),
                    amount: amount(c.total, NB),
                    strong: true,
                },
            ],
        });
        // The interest specification with the rates used.
        spec.push(Block::Paragraph(Paragraph::headed(
            "Renteberegning".to_string(),
            vec![plain(format!(
                "Forsinkelsesrente etter forsinkelsesrenteloven § 3 første ledd, fra dagen etter forfall ({}) til og med {}, med satsen for hvert halvår delt på årets dager:",
                nb(c.interest.from),
                nb(c.interest.to)
            ))],
        )));
        spec.push(Block::Table(ClaimTable {
            columns: vec![
                Column {
                    title: "Fra".into(),
                    align: Align::Left,
                },
                Column {
                    title: "Til".into(),
                    align: Align::Left,
                },
                Column {
                    title: "Dager".into(),
                    align: Align::Right,
                },
                Column {
                    title: "Grunnlag".into(),
                    align: Align::Right,
                },
                Column {
                    title: "Rentesats".into(),
                    align: Align::Right,
                },
                Column {
                    title: "Rente".into(),
                    align: Align::Right,
                },
            ],
            rows: c
                .interest
                .rows
                .iter()
                .map(|r| {
                    vec![
                        nb(r.from),
                        nb(r.to),
                        r.days.to_string(),
                        amount(r.balance, NB),
                        percent(r.rate_percent, NB),
                        exact(r.amount_exact),
                    ]
                })
                .collect(),
        }));
    }
    sections.push(Section {
        heading: "3. Kravet spesifisert".to_string(),
        blocks: spec,
    });

    // 4. Costs of the legal step.
    let mut cost_rows: Vec<Vec<String>> = i
        .costs
        .iter()
        .map(|c| vec![c.label.clone(), c.basis.clone(), amount(c.amount, NB)])
        .collect();
    let costs_total = i.costs.iter().fold(Money::ZERO, |a, c| a + c.amount);
    if cost_rows.is_empty() {
        cost_rows.push(vec!["Ingen".into(), "".into(), amount(Money::ZERO, NB)]);
    }
    let mut cost_blocks = vec![Block::Table(ClaimTable {
        columns: vec![
            Column {
                title: "Kostnad".into(),
                align: Align::Left,
            },
            Column {
                title: "Hjemmel".into(),
                align: Align::Left,
            },
            Column {
                title: "Beløp (kr)".into(),
                align: Align::Right,
            },
        ],
        rows: cost_rows,
    })];
    if !utlegg {
        cost_blocks.push(Block::Paragraph(Paragraph::new(vec![plain(
            "Klager fører saken selv og krever ikke dekning for rettshjelp (tvisteloven § 6-13 (1) d). Utenrettslige inndrivingskostnader er tatt med i kravet over, ikke som sakskostnader (§ 6-13 (2)).",
        )])));
    }
    cost_blocks.push(Block::Totals {
        lines: vec![
            TotalLine {
                label: "Kravet".into(),
                amount: amount(claim_total, NB),
                strong: false,
            },
            TotalLine {
                label: "Kostnader".into(),
                amount: amount(costs_total, NB),
                strong: false,
            },
            TotalLine {
                label: "Til sammen".into(),
                amount: amount(i.total, NB),
                strong: true,
            },
        ],
    });
    sections.push(Section {
        heading: if utlegg {
            "4. Saksomkostninger".to_string()
        } else {
            "4. Sakskostnader".to_string()
        },
        blocks: cost_blocks,
    });

    // 5. Påstand and the choices.
    let first = &i.claims[0];
    let pastand = format!(
        "{} dømmes til å betale {} {} med tillegg av forsinkelsesrente etter forsinkelsesrenteloven § 3 første ledd av {} fra {} til betaling skjer, samt sakskostnader.",
        i.debtor.name,
        i.creditor.name,
        kroner(claim_total, NB),
        kroner(first.remaining, NB),
        nb(add_days(i.date, 1)),
    );
    let mut claim_blocks = Vec::new();
    if utlegg {
        claim_blocks.push(Block::Paragraph(Paragraph::new(vec![
            plain("Saksøker begjærer utlegg for "),
            strong(kroner(i.total, NB)),
            plain(format!(
                " (kravet {} og kostnader {}), med tillegg av forsinkelsesrente av {} fra {} til betaling skjer, og kostnadene ved forretningen.",
                kroner(claim_total, NB),
                kroner(costs_total, NB),
                kroner(first.remaining, NB),
                nb(add_days(i.date, 1))
            )),
        ])));
        claim_blocks.push(Block::Choice {
            label: "Saksøker ønsker at saken behandles i forliksrådet dersom saksøkte kommer med innsigelser (tvangsfullbyrdelsesloven § 7-7)".to_string(),
            yes: i.forliksraad_if_objection,
        });
        if i.forliksraad_if_objection {
            claim_blocks.push(Block::Paragraph(Paragraph::headed(
                "Påstand ved behandling i forliksrådet".to_string(),
                vec![plain(pastand.clone())],
            )));
            claim_blocks.push(Block::Choice {
                label: "Saksøker krever fraværsdom dersom saksøkte ikke svarer eller ikke møter (tvisteloven § 6-10 (4))".to_string(),
                yes: i.default_judgment,
            });
        }
    } else {
        claim_blocks.push(Block::Paragraph(Paragraph::headed(
            "Påstand".to_string(),
            vec![strong(pastand)],
        )));
        claim_blocks.push(Block::Choice {
            label: "Klager krever fraværsdom dersom innklagede ikke svarer eller ikke møter (tvisteloven § 6-10 (4))".to_string(),
            yes: i.default_judgment,
        });
        claim_blocks.push(Block::Paragraph(Paragraph::headed(
            "Bevis".to_string(),
            vec![plain("Klager viser til bilagene: fakturaen, brevene som er sendt innklagede, betalingshistorikken og innsigelsen med klagers vurdering.")],
        )));
    }
    sections.push(Section {
        heading: if utlegg {
            "5. Begjæringen".to_string()
        } else {
            "5. Påstand og bevis".to_string()
        },
        blocks: claim_blocks,
    });

    // 6. Attachments.
    sections.push(Section {
        heading: "6. Bilag".to_string(),
        blocks: vec![Block::Table(ClaimTable {
            columns: vec![
                Column {
                    title: "Bilag".into(),
                    align: Align::Left,
                },
                Column {
                    title: "Innhold".into(),
                    align: Align::Left,
                },
            ],
            rows: i
                .attachments
                .iter()
                .map(|a| vec![format!("Bilag {}", a.number), a.title.clone()])
                .collect(),
        })],
    });

    // 7. Signature.
    sections.push(Section {
        heading: "7. Underskrift".to_string(),
        blocks: vec![
            Block::Paragraph(Paragraph::new(vec![plain(if utlegg {
                "Saksøker bekrefter at opplysningene er riktige, og at kravet ikke er betalt eller bestridt etter at betalingsoppfordringen ble sendt."
            } else {
                "Klager bekrefter at opplysningene er riktige."
            })])),
            Block::Signature {
                name: i.creditor.name.clone(),
                role: if utlegg { "saksøker" } else { "klager" }.to_string(),
            },
        ],
    });

    let to = match &i.forum {
        Forum::Namsmann {
            district: Some(d), ..
        } => d.namsmann_no(),
        Forum::Namsmann { district: None, .. } => {
            "Namsmannen i ______________ politidistrikt".to_string()
        }
        Forum::Forliksrad {
            municipality: Some(m),
        } => format!("Forliksrådet i {m}"),
        Forum::Forliksrad { municipality: None } => {
            "Forliksrådet i ______________ kommune".to_string()
        }
    };
    let mut meta = vec![
        strong_field("Til", to),
        field("Dato", nb(i.date)),
        field(
            if utlegg {
                "Saksøkers referanse"
            } else {
                "Klagers referanse"
            },
            i.case_reference.clone(),
        ),
    ];
    if let Forum::Namsmann {
        district: Some(_),
        reason,
    } = &i.forum
    {
        if !reason.trim().is_empty() {
            meta.push(field("Verneting", reason.clone()));
        }
    }
    let org = match &i.creditor.id {
        PartyId::Organisation { number } | PartyId::SoleProprietorship { number } => {
            format!("org.nr. {}", grouped_orgnr(number.as_str()))
        }
        PartyId::Person => String::new(),
    };
    LegalDocument {
        document_id: i.document_id.clone(),
        kind: i.kind,
        title: i.kind.title().to_string(),
        subtitle: if utlegg {
            "etter tvangsfullbyrdelsesloven § 7-2 første ledd bokstav f (særlig tvangsgrunnlag)"
                .to_string()
        } else {
            "etter tvisteloven § 6-3".to_string()
        },
        creditor_name: i.creditor.name.clone(),
        meta,
        sections,
        footer: vec![
            format!("{} – {} – {}", i.kind.title(), i.creditor.name, org),
            format!(
                "Dokument {} – utarbeidet med Inndrive, signeres av kreditor",
                i.document_id
            ),
        ],
        continuation_header: format!(
            "{} – {} mot {} – {}",
            i.kind.title(),
            i.creditor.name,
            i.debtor.name,
            nb(i.date)
        ),
        warnings: i.warnings.clone(),
    }
}

/// A user's approval of a drafted document: who, when, and the SHA-256 of the exact PDF bytes
/// approved (lowercase hex). The signed document is that PDF stamped with the approver's name
/// and time (`shared::documents::approve`).
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[schema(as = DocumentApproval)]
pub struct Approval {
    pub by: String,
    pub at: chrono::DateTime<chrono::Utc>,
    pub sha256: String,
}

impl LegalDocument {
    /// The payment history attachment: the invoice, each payment and credit, each notice with
    /// its fee, and the balance after each, as of the filing date.
    pub fn payment_history(i: &LegalDocumentInput, number: u32) -> LegalDocument {
        let mut sections = Vec::new();
        for c in &i.claims {
            // (date, order, text, amount change) in date order; the notices' fees add to what is
            // owed, payments and credits take from it.
            let mut events: Vec<(NaiveDate, u8, String, Money, bool)> = vec![(
                c.created,
                0,
                format!("Faktura {} (forfall {})", c.reference, nb(c.due_date)),
                c.original_amount,
                true,
            )];
            for p in &c.payments {
                events.push((p.date, 2, "Innbetaling".to_string(), p.amount, false));
            }
            for n in &i.notices {
                let fee = c
                    .fees
                    .iter()
                    .filter(|f| f.date == n.sent)
                    .fold(Money::ZERO, |a, f| a + f.amount);
                events.push((
                    n.sent,
                    1,
                    format!(
                        "{} sendt med {}, frist {}",
                        step_name(n.step),
                        channel_no(n.channel),
                        nb(n.deadline)
                    ),
                    fee,
                    true,
                ));
            }
            events.sort_by_key(|e| (e.0, e.1));
            let mut balance = Money::ZERO;
            let mut rows = Vec::new();
            for (date, _, text, change, adds) in events {
                balance = if adds {
                    balance + change
                } else {
                    balance - change
                };
                rows.push(vec![
                    nb(date),
                    text,
                    if change.is_zero() {
                        "–".to_string()
                    } else if adds {
                        amount(change, NB)
                    } else {
                        format!("-{}", amount(change, NB))
                    },
                    amount(balance, NB),
                ]);
            }
            if !c.credited.is_zero() {
                balance = balance - c.credited;
                rows.push(vec![
                    "".to_string(),
                    "Kreditert".to_string(),
                    format!("-{}", amount(c.credited, NB)),
                    amount(balance, NB),
                ]);
            }
            sections.push(Section {
                heading: format!("Faktura {}", c.reference),
                blocks: vec![
                    Block::Table(ClaimTable {
                        columns: vec![
                            Column { title: "Dato".into(), align: Align::Left },
                            Column { title: "Hendelse".into(), align: Align::Left },
                            Column { title: "Beløp (kr)".into(), align: Align::Right },
                            Column { title: "Saldo (kr)".into(), align: Align::Right },
                        ],
                        rows,
                    }),
                    Block::Paragraph(Paragraph::new(vec![plain(format!(
                        "Saldoen er hovedstol og gebyrer; forsinkelsesrenten til {} ({}) er spesifisert i {}.",
                        nb(c.interest.to),
                        kroner(c.interest.claimed, NB),
                        i.kind.title().to_lowercase()
                    ))])),
                ],
            });
        }
        attachment_page(i, number, "Betalingshistorikk", sections)
    }

    /// The objection attachment: what the debtor said, when and how, and the creditor's
    /// assessment. `None` when the claim is not disputed.
    pub fn objection_page(i: &LegalDocumentInput, number: u32) -> Option<LegalDocument> {
        let o = i.objection.as_ref()?;
        let sections = vec![Section {
            heading: format!("Innsigelse mottatt {}", nb(o.received_on)),
            blocks: vec![
                Block::Fields {
                    fields: vec![
                        field("Mottatt", nb(o.received_on)),
                        field("Kanal", o.channel.clone()),
                        field("Fra", i.debtor.name.clone()),
                    ],
                },
                Block::Paragraph(Paragraph::headed(
                    "Skyldnerens innsigelse".to_string(),
                    vec![plain(format!("«{}»", o.text))],
                )),
                Block::Paragraph(Paragraph::headed(
                    "Kreditors vurdering".to_string(),
                    vec![plain(format!(
                        "Innsigelsen er vurdert som grunnløs: {}",
                        o.assessment.clone().unwrap_or_default()
                    ))],
                )),
            ],
        }];
        Some(attachment_page(
            i,
            number,
            "Innsigelse og kreditors vurdering",
            sections,
        ))
    }
}

fn attachment_page(
    i: &LegalDocumentInput,
    number: u32,
    what: &str,
    sections: Vec<Section>,
) -> LegalDocument {
    LegalDocument {
        document_id: format!("{}-bilag-{number}", i.document_id),
        kind: i.kind,
        title: format!("Bilag {number}: {what}"),
        subtitle: format!(
            "til {} – {} mot {}",
            i.kind.title().to_lowercase(),
            i.creditor.name,
            i.debtor.name
        ),
        creditor_name: i.creditor.name.clone(),
        meta: vec![
            field("Dato", nb(i.date)),
            field(
                match i.kind {
                    DocumentKind::BegjaeringOmUtlegg => "Saksøkers referanse",
                    DocumentKind::Forliksklage => "Klagers referanse",
                },
                i.case_reference.clone(),
            ),
        ],
        sections,
        footer: vec![format!(
            "Bilag {number} – {} – {}",
            i.kind.title(),
            i.creditor.name
        )],
        continuation_header: format!("Bilag {number}: {what}"),
        warnings: Vec::new(),
    }
}

fn capital(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

/// An exact period amount with two decimals (the total is rounded once, from the exact sum).
fn exact(d: Decimal) -> String {
    let m = Money::round_half_up(d);
    amount(m, NB)
}

#[cfg(test)]
mod tests;
