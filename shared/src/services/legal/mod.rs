//! Legal steps, the service side: what a case shows about legal steps and limitation, the daily
//! job's part (ready cases and limitation warnings, each told once, and the organization's
//! digest), the limitation view across an organization's accounts, and (feature `documents`)
//! the drafted documents the creditor approves and signs ([`documents`]).
//!
//! The rules are the pure domain's (`domain::collection::legal`): readiness, the radar, the
//! documents. Here they meet the store: the case and its claim, the debtor as mirrored (with
//! Enhetsregisteret's stop reasons), the account's dunning policy (its `legalSteps` section) and
//! the notices on the case's timeline (the letters sent).

pub mod daily;
#[cfg(feature = "documents")]
pub mod documents;
pub mod radar;

use chrono::NaiveDate;
use serde::Serialize;

use crate::adapters::store::ledger::StoredCustomer;
use crate::domain::case::{Acknowledgement, Case, CaseObjection, FiledLegalStep};
use crate::domain::claim::ClaimState;
use crate::domain::collection::legal::radar::{claim_limitation, LimitationReview};
use crate::domain::collection::legal::readiness::{readiness, Readiness, ReadinessInput};
use crate::domain::collection::legal::record::{DocumentStatus, LegalDocumentRecord};
use crate::domain::collection::legal::{
    keys, DocumentKind, LegalStepsMode, LegalStepsPolicy, LimitationWarning, WarningLevel,
};
use crate::domain::collection::letters::SentLetter;
use crate::domain::collection::limitation::{Interruption, LimitationState};
use crate::domain::collection::rulebook::Rulebook;
use crate::domain::ledger::registry::StopReason;
use crate::domain::money::Money;
use crate::domain::InterestError;

/// The letters sent on the case's claim: the notices dunning recorded on its timeline (the
/// betalingsoppfordring is also the § 4-18 varsel).
pub fn letters_of(case: &Case) -> Vec<SentLetter> {
    case.notice_records()
        .flat_map(|r| r.sent_letters())
        .collect()
}

/// Enhetsregisteret's stop reasons for the debtor (none when it was not looked up).
pub fn stop_reasons(customer: Option<&StoredCustomer>) -> &[StopReason] {
    customer
        .and_then(|c| c.registry.as_ref())
        .map_or(&[][..], |r| &r.stop_reasons[..])
}

/// Whether legal steps may be taken on the case today (the domain's rules).
pub fn readiness_of(
    claim: &ClaimState,
    case: &Case,
    customer: Option<&StoredCustomer>,
    policy: &LegalStepsPolicy,
    book: &Rulebook,
    today: NaiveDate,
) -> Readiness {
    let letters = letters_of(case);
    readiness(&ReadinessInput {
        claim,
        case,
        letters: &letters,
        stop_reasons: stop_reasons(customer),
        policy,
        book,
        today,
    })
}

/// Readiness as the case shows it: the route and why, or what is missing.
#[derive(utoipa::ToSchema, Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReadinessView {
    #[serde(flatten)]
    pub readiness: Readiness,
    /// `ready:utlegg`, `blocked:objection_open`, …
    pub code: String,
    /// The state in bokmål.
    pub message: String,
    /// The creditor's `legalSteps.mode`: whether the creditor is told when the case is ready.
    pub mode: LegalStepsMode,
    /// The creditor was told that this readiness was reached (the notice on the timeline).
    pub notified: bool,
}

impl ReadinessView {
    pub fn of(r: Readiness, policy: &LegalStepsPolicy, case: &Case) -> Self {
        Self {
            code: r.code(),
            message: r.message_nb(),
            mode: policy.mode,
            notified: r.notice_key().is_some_and(|k| case.was_notified(&k)),
            readiness: r,
        }
    }
}

/// A claim's limitation as the case shows it.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LimitationView {
    pub state: LimitationState,
    /// The start of the first period (the due date).
    pub start: NaiveDate,
    /// The start of the period now running.
    pub period_start: NaiveDate,
    /// The last day a legal step interrupts limitation (`None` while one is pending).
    pub last_day: Option<NaiveDate>,
    pub time_barred_on: Option<NaiveDate>,
    /// Days from today to `timeBarredOn` (negative: past it).
    pub days_left: Option<i64>,
    /// The event that set the period now running.
    pub interrupted_by: Option<Interruption>,
    /// Every interrupting event, in date order.
    pub interruptions: Vec<Interruption>,
    /// The warning due today (sent once).
    pub warning: Option<LimitationWarning>,
    /// Interest accruals already time-barred today.
    pub interest_lost: Money,
    /// A rule that is not modelled may apply (foreldelsesloven §§ 10, 17, 22): a person decides.
    pub review: Option<LimitationReview>,
    pub review_message: Option<String>,
    pub rule: String,
}

/// Why the debtor's limitation needs a person, from what is mirrored of it.
pub fn limitation_review(customer: Option<&StoredCustomer>) -> Option<LimitationReview> {
    LimitationReview::of_debtor(
        stop_reasons(customer),
        customer.and_then(|c| c.customer.postal_address.as_ref()),
    )
}

/// The claim's limitation today; `None` for a claim not mirrored or a date the rulebook has no
/// rule for (the radar lists the latter with its gap).
pub fn limitation_of(
    book: &Rulebook,
    claim: &ClaimState,
    case: Option<&Case>,
    customer: Option<&StoredCustomer>,
    today: NaiveDate,
) -> Option<LimitationView> {
    let cl = claim_limitation(book, claim, case)?.ok()?;
    let lim = &cl.limitation;
    let due = claim.mirror.as_ref()?.due_date;
    let interest_lost = match book.time_barred_interest(
        claim.amounts.principal_outstanding,
        due,
        cl.start,
        &cl.interruptions,
        today,
    ) {
        Ok(b) => b.total,
        Err(InterestError::Gap(_))
        | Err(InterestError::NegativeBalance)
        | Err(InterestError::ChangesOutOfOrder)
        | Err(InterestError::Overflow) => Money::ZERO,
    };
    let review = limitation_review(customer);
    let warning = match (lim.state_on(today), lim.last_day, lim.time_barred_on) {
        (LimitationState::Running, Some(last), Some(barred)) => {
            WarningLevel::due(last, today).map(|level| LimitationWarning {
                level,
                file_before: last,
                time_barred_on: barred,
                key: keys::limitation_warning(level, barred),
            })
        }
        _ => None,
    };
    Some(LimitationView {
        state: lim.state_on(today),
        start: cl.start,
        period_start: lim.period_start,
        last_day: lim.last_day,
        time_barred_on: lim.time_barred_on,
        days_left: lim
            .time_barred_on
            .map(|b| b.signed_duration_since(today).num_days()),
        interrupted_by: lim.interrupted_by,
        interruptions: cl.interruptions.clone(),
        warning,
        interest_lost,
        review,
        review_message: review.map(|r| r.message_nb().to_string()),
        rule: book.tag(lim.rule).to_string(),
    })
}

/// A drafted document in a list.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DocumentSummary {
    pub document_id: String,
    pub kind: DocumentKind,
    pub title: String,
    pub date: NaiveDate,
    pub status: DocumentStatus,
    pub total: Money,
    pub drafted_at: chrono::DateTime<chrono::Utc>,
    pub drafted_by: crate::domain::case::Actor,
    pub pdf_sha256: String,
    pub approval: Option<crate::domain::collection::legal::document::Approval>,
    pub warnings: Vec<String>,
}

impl DocumentSummary {
    pub fn of(d: &LegalDocumentRecord) -> Self {
        Self {
            document_id: d.document_id.to_string(),
            kind: d.kind,
            title: d.kind.title().to_string(),
            date: d.date,
            status: d.status(),
            total: d.input.total,
            drafted_at: d.drafted_at,
            drafted_by: d.drafted_by.clone(),
            pdf_sha256: d.pdf.sha256.clone(),
            approval: d.approval.clone(),
            warnings: d.input.warnings.clone(),
        }
    }
}

/// What the case page shows about legal steps.
#[derive(utoipa::ToSchema, Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LegalView {
    /// `None` when the claim is not stored (an inconsistency a person must look at).
    pub readiness: Option<ReadinessView>,
    pub limitation: Option<LimitationView>,
    pub objections: Vec<CaseObjection>,
    pub acknowledgements: Vec<Acknowledgement>,
    /// The legal step the user recorded as filed.
    pub filed: Option<FiledLegalStep>,
    pub documents: Vec<DocumentSummary>,
}

/// The case's legal view today.
pub fn legal_view(
    book: &Rulebook,
    claim: Option<&ClaimState>,
    case: &Case,
    customer: Option<&StoredCustomer>,
    policy: &LegalStepsPolicy,
    documents: &[LegalDocumentRecord],
    today: NaiveDate,
) -> LegalView {
    LegalView {
        readiness: claim.map(|c| {
            ReadinessView::of(
                readiness_of(c, case, customer, policy, book, today),
                policy,
                case,
            )
        }),
        limitation: claim.and_then(|c| limitation_of(book, c, Some(case), customer, today)),
        objections: case.objections.clone(),
        acknowledgements: case.acknowledgements.clone(),
        filed: case.filed().cloned(),
        documents: documents.iter().map(DocumentSummary::of).collect(),
    }
}
