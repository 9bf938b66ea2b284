//! Cases: the collection case that follows one overdue claim.
//!
//! **One case per claim** (see `docs/cases.md`): the statutory deadlines, the INKF § 1-3 fee
//! limits and limitation are all per claim, so a case per claim keeps each of them a plain
//! property of one case. A debtor view ([`group_by_debtor`]) groups a debtor's cases, and cases
//! may share a letter only when they stand at the same step ([`may_merge`], like Kredin).
//!
//! A case is [`CaseStatus::Open`], [`CaseStatus::Paused`] or [`CaseStatus::Closed`], always with
//! a reason. Transitions are methods taking `today`/`at` from the caller (no clock); an invalid
//! one is a [`CaseError`] and leaves the case unchanged. Every transition and note adds a
//! [`CaseEntry`] to the timeline.
//!
//! - pause with a note and the creditor's own deadline; [`Case::resume_due`] resumes it on that
//!   date (run by the daily job; catch-up: "on or after");
//! - close with a [`CloseReason`] ("vi trekker saken", "skyldner er insolvent", "betalt",
//!   "kreditert", "annet" with a text); reopen;
//! - notes with author and timestamp;
//! - [`Case::follow_claim`] closes the case when its claim is paid or credited, and reopens a
//!   case the system closed that way when the claim becomes owing again (a reversed payment).

mod legal;
#[cfg(test)]
mod tests;

pub use legal::{
    Acknowledgement, Assessment, CaseObjection, Correction, FiledLegalStep, ObjectionChannel,
    ObjectionOutcome, ObjectionState,
};

use super::claim::{ClaimId, ClaimState, ClaimStatus};
use super::setup::{AccountId, OrgId};
use crate::domain::collection::dunning::notice::NoticeLine;
use crate::domain::collection::dunning::record::NoticeRecord;
use crate::domain::collection::dunning::Step;
use crate::domain::collection::legal::radar::WarningLevel;
use crate::domain::collection::legal::Route;
use crate::domain::collection::letters::LetterKind;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// The longest note or "annet" text accepted (characters).
pub const MAX_TEXT_CHARS: usize = 4000;

/// A case: `case_<claimId>`, so opening the case of a claim twice names the same case (the
/// adapter's conditional put makes the second a no-op).
#[derive(
    utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(try_from = "String", into = "String")]
pub struct CaseId(ClaimId);

impl CaseId {
    pub fn for_claim(claim_id: &ClaimId) -> Self {
        Self(claim_id.clone())
    }

    pub fn parse(s: &str) -> Result<Self, CaseError> {
        s.strip_prefix("case_")
            .and_then(|c| ClaimId::parse(c).ok())
            .map(Self)
            .ok_or_else(|| CaseError::InvalidCaseId(s.to_string()))
    }

    /// The claim this case follows.
    pub fn claim_id(&self) -> &ClaimId {
        &self.0
    }
}

impl TryFrom<String> for CaseId {
    type Error = CaseError;
    fn try_from(s: String) -> Result<Self, CaseError> {
        Self::parse(&s)
    }
}
impl From<CaseId> for String {
    fn from(c: CaseId) -> String {
        c.to_string()
    }
}
impl fmt::Display for CaseId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "case_{}", self.0)
    }
}

/// Who did it.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Actor {
    /// A user (JWT `sub`).
    User { id: String },
    /// Inndrive itself (automatic resume, close on payment, the sync).
    System,
}

impl Actor {
    pub fn user(id: &str) -> Self {
        Actor::User { id: id.to_string() }
    }
}

/// Why a case is open.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "code", rename_all = "camelCase")]
pub enum OpenReason {
    /// Opened: the claim was this many days past its (business-day) due date.
    #[serde(rename_all = "camelCase")]
    Overdue { days_past_due: i64 },
    /// A pause ended: by itself on the creditor's deadline, or by a user.
    Resumed { automatic: bool },
    /// A user reopened a closed case.
    Reopened { note: Option<String> },
    /// The claim became owing again (a reversed payment or credit note).
    ClaimReopened,
}

/// Why a case was closed. Norwegian labels as the user sees them: [`CloseReason::label_no`].
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "code", rename_all = "camelCase")]
pub enum CloseReason {
    /// "vi trekker saken": the creditor withdraws the case.
    Withdrawn,
    /// "skyldner er insolvent".
    DebtorInsolvent,
    /// "betalt".
    Paid,
    /// "kreditert".
    Credited,
    /// "annet", with a text (required).
    Other { text: String },
}

impl CloseReason {
    /// The codes accepted by [`CloseReason::parse`].
    pub const CODES: [&'static str; 5] =
        ["withdrawn", "debtorInsolvent", "paid", "credited", "other"];

    /// From an HTTP body: a code and, for "other", a text.
    pub fn parse(code: &str, text: Option<&str>) -> Result<Self, CaseError> {
        let r = match code {
            "withdrawn" => CloseReason::Withdrawn,
            "debtorInsolvent" => CloseReason::DebtorInsolvent,
            "paid" => CloseReason::Paid,
            "credited" => CloseReason::Credited,
            "other" => CloseReason::Other {
                text: text.unwrap_or("").trim().to_string(),
            },
            other => return Err(CaseError::UnknownCloseReason(other.to_string())),
        };
        r.validate()?;
        Ok(r)
    }

    fn validate(&self) -> Result<(), CaseError> {
        if let CloseReason::Other { text } = self {
            if text.trim().is_empty() {
                return Err(CaseError::OtherNeedsText);
            }
            if text.chars().count() > MAX_TEXT_CHARS {
                return Err(CaseError::TooLong {
                    field: "text",
                    max: MAX_TEXT_CHARS,
                });
            }
        }
        Ok(())
    }

    pub fn code(&self) -> &'static str {
        match self {
            CloseReason::Withdrawn => "withdrawn",
            CloseReason::DebtorInsolvent => "debtorInsolvent",
            CloseReason::Paid => "paid",
            CloseReason::Credited => "credited",
            CloseReason::Other { .. } => "other",
        }
    }

    pub fn label_no(&self) -> String {
        match self {
            CloseReason::Withdrawn => "vi trekker saken".into(),
            CloseReason::DebtorInsolvent => "skyldner er insolvent".into(),
            CloseReason::Paid => "betalt".into(),
            CloseReason::Credited => "kreditert".into(),
            CloseReason::Other { text } => format!("annet: {text}"),
        }
    }

    pub fn label_en(&self) -> String {
        match self {
            CloseReason::Withdrawn => "withdrawn by the creditor".into(),
            CloseReason::DebtorInsolvent => "the debtor is insolvent".into(),
            CloseReason::Paid => "paid".into(),
            CloseReason::Credited => "credited".into(),
            CloseReason::Other { text } => format!("other: {text}"),
        }
    }
}

/// Where a case stands, with its reason.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "camelCase")]
pub enum CaseStatus {
    Open {
        reason: OpenReason,
    },
    /// Paused until the creditor's own deadline; resumes by itself on that day.
    #[serde(rename_all = "camelCase")]
    Paused {
        until: NaiveDate,
        note: String,
        since: NaiveDate,
    },
    #[serde(rename_all = "camelCase")]
    Closed {
        reason: CloseReason,
        note: Option<String>,
        closed_on: NaiveDate,
        by: Actor,
    },
}

impl CaseStatus {
    pub fn state(&self) -> CaseState {
        match self {
            CaseStatus::Open { .. } => CaseState::Open,
            CaseStatus::Paused { .. } => CaseState::Paused,
            CaseStatus::Closed { .. } => CaseState::Closed,
        }
    }
}

/// The three states, without their details (for errors and lists).
#[derive(utoipa::ToSchema, Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum CaseState {
    Open,
    Paused,
    Closed,
}

impl fmt::Display for CaseState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CaseState::Open => "open",
            CaseState::Paused => "paused",
            CaseState::Closed => "closed",
        })
    }
}

/// What was attempted (for [`CaseError::InvalidTransition`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum CaseAction {
    Pause,
    Resume,
    Close,
    Reopen,
    RecordStep,
}

impl fmt::Display for CaseAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CaseAction::Pause => "pause",
            CaseAction::Resume => "resume",
            CaseAction::Close => "close",
            CaseAction::Reopen => "reopen",
            CaseAction::RecordStep => "record a step on",
        })
    }
}

/// A note on a case.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Note {
    /// 1, 2, … within the case.
    pub id: u32,
    /// The user (JWT `sub`).
    pub author: String,
    pub at: DateTime<Utc>,
    pub text: String,
}

/// One line of the case's timeline.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CaseEntry {
    pub seq: u64,
    pub at: DateTime<Utc>,
    pub by: Actor,
    pub event: CaseEvent,
}

/// What happened to a case.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum CaseEvent {
    #[serde(rename_all = "camelCase")]
    Opened {
        due_date: NaiveDate,
        days_past_due: i64,
    },
    Paused {
        until: NaiveDate,
        note: String,
    },
    /// A paused case got a new deadline or note.
    PauseChanged {
        until: NaiveDate,
        note: String,
    },
    Resumed {
        automatic: bool,
    },
    Closed {
        reason: CloseReason,
        note: Option<String>,
    },
    Reopened {
        reason: OpenReason,
    },
    #[serde(rename_all = "camelCase")]
    NoteAdded {
        note_id: u32,
    },
    /// Dunning sent a letter: the case now stands at this step.
    StepReached {
        step: LetterKind,
    },
    /// The debtor objected (recorded by a user).
    #[serde(rename_all = "camelCase")]
    ObjectionRecorded {
        objection_id: u32,
        received_on: NaiveDate,
        channel: ObjectionChannel,
    },
    /// A person assessed an objection.
    #[serde(rename_all = "camelCase")]
    ObjectionAssessed {
        objection_id: u32,
        outcome: ObjectionOutcome,
    },
    /// The claim was corrected by hand for a justified objection.
    #[serde(rename_all = "camelCase")]
    ObjectionCorrected {
        objection_id: u32,
        note: String,
    },
    /// The debtor acknowledged the debt: a new limitation period from `on`.
    DebtAcknowledged {
        on: NaiveDate,
        note: String,
    },
    /// The creditor filed a legal step: limitation is suspended while it is pursued.
    #[serde(rename_all = "camelCase")]
    LegalStepFiled {
        route: Route,
        filed_on: NaiveDate,
        document_id: Option<String>,
    },
    /// Legal steps may now be taken (the creditor was told once).
    #[serde(rename_all = "camelCase")]
    LegalStepsReady {
        route: Route,
        betalingsoppfordring_sent: NaiveDate,
    },
    /// The limitation warning of this level went out ("file before …").
    #[serde(rename_all = "camelCase")]
    LimitationWarning {
        level: WarningLevel,
        time_barred_on: NaiveDate,
    },
    /// The claim was settled in full (shown from the claim's settlements; not stored on the
    /// case).
    #[serde(rename_all = "camelCase")]
    Settled {
        settlement_version: u32,
        settled_on: NaiveDate,
        amounts: crate::domain::claim::SettlementAmounts,
        rule: crate::domain::claim::AllocationRule,
    },
    /// The settlement's income was booked in Tripletex (shown from its posting record).
    #[serde(rename_all = "camelCase")]
    VoucherPosted {
        settlement_version: u32,
        voucher_id: i64,
        voucher_number: String,
        date: NaiveDate,
    },
    /// The posting waits for a person (the code of `HeldReason`).
    #[serde(rename_all = "camelCase")]
    VoucherHeld {
        settlement_version: u32,
        code: String,
    },
    /// The booked voucher was reversed (the settlement was undone).
    #[serde(rename_all = "camelCase")]
    VoucherReversed {
        settlement_version: u32,
        voucher_number: String,
    },
    /// Dunning sent a notice on the case: the step, channel, amounts with their rule tags, the
    /// deadline, the letter and who approved it (approve mode).
    NoticeSent(Box<SentNotice>),
}

/// A notice on the case's timeline.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SentNotice {
    /// `{caseId}.{step}`.
    pub notice_id: String,
    pub letter_id: String,
    /// What the notice demanded and why (step, channel, deadline, amounts, rule tags).
    pub line: NoticeLine,
    /// What is kept to plan the next step (the letters on the claim, the charges, the
    /// standardkompensasjon claimed).
    pub record: NoticeRecord,
    /// The user who approved it (approve mode); `None`: sent automatically.
    #[serde(default)]
    pub approved_by: Option<String>,
    /// A person confirmed an uncertain notice as sent.
    #[serde(default)]
    pub confirmed_by: Option<String>,
}

/// A collection case for one claim.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Case {
    pub id: CaseId,
    pub org: OrgId,
    pub account_id: AccountId,
    pub claim_id: ClaimId,
    /// The debtor (Tripletex customer id).
    pub customer_id: i64,
    pub status: CaseStatus,
    pub opened_on: NaiveDate,
    /// The last letter sent (none yet: `null`). Cases merge only at the same step.
    #[serde(default)]
    pub step: Option<LetterKind>,
    #[serde(default)]
    pub notes: Vec<Note>,
    /// The debtor's objections and their assessment.
    #[serde(default)]
    pub objections: Vec<CaseObjection>,
    /// The debtor's acknowledgements of the debt (they interrupt limitation).
    #[serde(default)]
    pub acknowledgements: Vec<Acknowledgement>,
    /// The legal step filed (at most one), as the user recorded it.
    #[serde(default)]
    pub legal_steps: Vec<FiledLegalStep>,
    /// The keys of the notices that go out once (legal steps ready, limitation warnings).
    #[serde(default)]
    pub notified: BTreeSet<String>,
    pub timeline: Vec<CaseEntry>,
    /// Bumped on every change: the adapter's optimistic-lock version.
    pub version: u64,
}

impl Case {
    /// Opens the case of `claim` on `today` if it is collectible and at least `days_past_due`
    /// days past due (the integration's `daysPastDue`; never on the due date itself).
    pub fn open(
        claim: &ClaimState,
        today: NaiveDate,
        days_past_due: u16,
        at: DateTime<Utc>,
    ) -> Result<Self, CaseError> {
        let (Some(mirror), Some(due)) = (claim.mirror.as_ref(), claim.effective_due_date()) else {
            return Err(CaseError::ClaimNotMirrored);
        };
        if !claim.status.is_collectible() {
            return Err(CaseError::ClaimNotCollectible {
                status: claim.status,
            });
        }
        let days = today.signed_duration_since(due).num_days();
        if !claim.is_overdue_by(today, days_past_due) {
            return Err(CaseError::NotOverdue {
                days_past_due: days,
                required: days_past_due.max(1),
            });
        }
        let mut case = Case {
            id: CaseId::for_claim(&claim.claim_id),
            org: claim.org.clone(),
            account_id: claim.account_id.clone(),
            claim_id: claim.claim_id.clone(),
            customer_id: mirror.customer_id,
            status: CaseStatus::Open {
                reason: OpenReason::Overdue {
                    days_past_due: days,
                },
            },
            opened_on: today,
            step: None,
            notes: Vec::new(),
            objections: Vec::new(),
            acknowledgements: Vec::new(),
            legal_steps: Vec::new(),
            notified: BTreeSet::new(),
            timeline: Vec::new(),
            version: 0,
        };
        case.record(
            at,
            Actor::System,
            CaseEvent::Opened {
                due_date: mirror.due_date,
                days_past_due: days,
            },
        );
        Ok(case)
    }

    pub fn state(&self) -> CaseState {
        self.status.state()
    }

    /// Dunning may act on the case (open, not paused or closed).
    pub fn is_active(&self) -> bool {
        self.state() == CaseState::Open
    }

    /// The day a paused case resumes by itself.
    pub fn resumes_on(&self) -> Option<NaiveDate> {
        match &self.status {
            CaseStatus::Paused { until, .. } => Some(*until),
            _ => None,
        }
    }

    /// Pauses until the creditor's deadline `until` (after `today`) with a note. Pausing a paused
    /// case changes its deadline and note; a closed case cannot be paused.
    pub fn pause(
        &mut self,
        until: NaiveDate,
        note: &str,
        by: Actor,
        today: NaiveDate,
        at: DateTime<Utc>,
    ) -> Result<(), CaseError> {
        let note = required_text(note, "note")?;
        check_actor(&by)?;
        if until <= today {
            return Err(CaseError::PauseNotInFuture { until, today });
        }
        let event = match &self.status {
            CaseStatus::Open { .. } => CaseEvent::Paused {
                until,
                note: note.clone(),
            },
            CaseStatus::Paused { .. } => CaseEvent::PauseChanged {
                until,
                note: note.clone(),
            },
            CaseStatus::Closed { .. } => return Err(self.invalid(CaseAction::Pause)),
        };
        let since = match &self.status {
            CaseStatus::Paused { since, .. } => *since,
            _ => today,
        };
        self.status = CaseStatus::Paused { until, note, since };
        self.record(at, by, event);
        Ok(())
    }

    /// Resumes a paused case before its deadline (a user's choice).
    pub fn resume(&mut self, by: Actor, at: DateTime<Utc>) -> Result<(), CaseError> {
        check_actor(&by)?;
        if self.state() != CaseState::Paused {
            return Err(self.invalid(CaseAction::Resume));
        }
        self.status = CaseStatus::Open {
            reason: OpenReason::Resumed { automatic: false },
        };
        self.record(at, by, CaseEvent::Resumed { automatic: false });
        Ok(())
    }

    /// The daily job: a paused case whose deadline is `today` or earlier (a missed run catches up)
    /// resumes by itself. Returns whether it did; any other case is left as it is.
    pub fn resume_due(&mut self, today: NaiveDate, at: DateTime<Utc>) -> bool {
        match self.resumes_on() {
            Some(until) if until <= today => {
                self.status = CaseStatus::Open {
                    reason: OpenReason::Resumed { automatic: true },
                };
                self.record(at, Actor::System, CaseEvent::Resumed { automatic: true });
                true
            }
            _ => false,
        }
    }

    /// Closes an open or paused case with a reason (and an optional note).
    pub fn close(
        &mut self,
        reason: CloseReason,
        note: Option<&str>,
        by: Actor,
        today: NaiveDate,
        at: DateTime<Utc>,
    ) -> Result<(), CaseError> {
        reason.validate()?;
        check_actor(&by)?;
        let note = optional_text(note, "note")?;
        if self.state() == CaseState::Closed {
            return Err(self.invalid(CaseAction::Close));
        }
        self.status = CaseStatus::Closed {
            reason: reason.clone(),
            note: note.clone(),
            closed_on: today,
            by: by.clone(),
        };
        self.record(at, by, CaseEvent::Closed { reason, note });
        Ok(())
    }

    /// Reopens a closed case. Its claim must still be owed (`claim_status` open or written off):
    /// a paid or credited claim has nothing left to collect.
    pub fn reopen(
        &mut self,
        claim_status: ClaimStatus,
        note: Option<&str>,
        by: Actor,
        at: DateTime<Utc>,
    ) -> Result<(), CaseError> {
        check_actor(&by)?;
        let note = optional_text(note, "note")?;
        if self.state() != CaseState::Closed {
            return Err(self.invalid(CaseAction::Reopen));
        }
        if !claim_status.is_collectible() {
            return Err(CaseError::ClaimNotCollectible {
                status: claim_status,
            });
        }
        let reason = OpenReason::Reopened { note };
        self.status = CaseStatus::Open {
            reason: reason.clone(),
        };
        self.record(at, by, CaseEvent::Reopened { reason });
        Ok(())
    }

    /// Adds a note (in any state); returns its id.
    pub fn add_note(
        &mut self,
        author: &str,
        text: &str,
        at: DateTime<Utc>,
    ) -> Result<u32, CaseError> {
        let author = author.trim();
        if author.is_empty() {
            return Err(CaseError::AuthorRequired);
        }
        let text = required_text(text, "text")?;
        let id = self.notes.len() as u32 + 1;
        self.notes.push(Note {
            id,
            author: author.to_string(),
            at,
            text,
        });
        self.record(
            at,
            Actor::user(author),
            CaseEvent::NoteAdded { note_id: id },
        );
        Ok(id)
    }

    /// Dunning sent a letter: the case stands at `step` now (open cases only).
    pub fn record_step(&mut self, step: LetterKind, at: DateTime<Utc>) -> Result<(), CaseError> {
        if !self.is_active() {
            return Err(self.invalid(CaseAction::RecordStep));
        }
        self.step = Some(step);
        self.record(at, Actor::System, CaseEvent::StepReached { step });
        Ok(())
    }

    /// Dunning sent a notice on the case: the case stands at its step (never moved back by an
    /// earlier step) and the timeline shows it. Recorded in any state: the letter went out, even
    /// if the case was paused or closed meanwhile. Returns `false` (and changes nothing) when the
    /// notice's letter is on the timeline already, so recording it twice is harmless.
    pub fn record_notice(&mut self, notice: SentNotice, at: DateTime<Utc>) -> bool {
        let known = self.timeline.iter().any(|e| {
            matches!(&e.event, CaseEvent::NoticeSent(n)
                if n.letter_id == notice.letter_id && n.notice_id == notice.notice_id)
        });
        if known {
            return false;
        }
        let step = notice.line.step;
        if self
            .step
            .and_then(Step::of_letter)
            .is_none_or(|current| current < step)
        {
            self.step = Some(step.letter_kind());
        }
        self.record(at, Actor::System, CaseEvent::NoticeSent(Box::new(notice)));
        true
    }

    /// The notices dunning sent on the case (from its timeline), oldest first: the planner's
    /// letters of the claim.
    pub fn notice_records(&self) -> impl Iterator<Item = &NoticeRecord> {
        self.timeline.iter().filter_map(|e| match &e.event {
            CaseEvent::NoticeSent(n) => Some(&n.record),
            _ => None,
        })
    }

    /// Keeps the case in line with its claim after a claim event: closes it ("betalt" /
    /// "kreditert") when the claim closed, and reopens a case the system closed that way when the
    /// claim is owed again. A case a user closed stays closed. Returns the event, if any.
    pub fn follow_claim(
        &mut self,
        claim_status: ClaimStatus,
        today: NaiveDate,
        at: DateTime<Utc>,
    ) -> Option<CaseEvent> {
        let closing = match claim_status {
            ClaimStatus::ClosedPaid => Some(CloseReason::Paid),
            ClaimStatus::ClosedCredited => Some(CloseReason::Credited),
            _ => None,
        };
        match (&self.status, closing) {
            (CaseStatus::Open { .. } | CaseStatus::Paused { .. }, Some(reason)) => {
                self.status = CaseStatus::Closed {
                    reason: reason.clone(),
                    note: None,
                    closed_on: today,
                    by: Actor::System,
                };
                let ev = CaseEvent::Closed { reason, note: None };
                self.record(at, Actor::System, ev.clone());
                Some(ev)
            }
            (
                CaseStatus::Closed {
                    reason: CloseReason::Paid | CloseReason::Credited,
                    by: Actor::System,
                    ..
                },
                None,
            ) if claim_status.is_collectible() => {
                let reason = OpenReason::ClaimReopened;
                self.status = CaseStatus::Open {
                    reason: reason.clone(),
                };
                let ev = CaseEvent::Reopened { reason };
                self.record(at, Actor::System, ev.clone());
                Some(ev)
            }
            _ => None,
        }
    }

    fn invalid(&self, action: CaseAction) -> CaseError {
        CaseError::InvalidTransition {
            action,
            from: self.state(),
        }
    }

    fn record(&mut self, at: DateTime<Utc>, by: Actor, event: CaseEvent) {
        let seq = self.timeline.len() as u64 + 1;
        self.timeline.push(CaseEntry { seq, at, by, event });
        self.version += 1;
    }
}

fn check_actor(by: &Actor) -> Result<(), CaseError> {
    match by {
        Actor::User { id } if id.trim().is_empty() => Err(CaseError::AuthorRequired),
        _ => Ok(()),
    }
}

fn required_text(s: &str, field: &'static str) -> Result<String, CaseError> {
    let t = s.trim();
    if t.is_empty() {
        return Err(CaseError::TextRequired { field });
    }
    if t.chars().count() > MAX_TEXT_CHARS {
        return Err(CaseError::TooLong {
            field,
            max: MAX_TEXT_CHARS,
        });
    }
    Ok(t.to_string())
}

fn optional_text(s: Option<&str>, field: &'static str) -> Result<Option<String>, CaseError> {
    match s.map(str::trim).filter(|t| !t.is_empty()) {
        None => Ok(None),
        Some(t) => required_text(t, field).map(Some),
    }
}

// ---------------------------------------------------------------------------------------------
// The debtor view
// ---------------------------------------------------------------------------------------------

/// A debtor's cases in one account (the debtor view groups per-claim cases).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DebtorCases {
    pub account_id: AccountId,
    pub customer_id: i64,
    pub open: Vec<CaseId>,
    pub paused: Vec<CaseId>,
    pub closed: Vec<CaseId>,
    /// Open cases that may share one letter: same step, two or more cases each.
    pub mergeable: Vec<Vec<CaseId>>,
}

/// Groups cases by (account, debtor), sorted, case ids sorted within each list.
pub fn group_by_debtor(cases: &[Case]) -> Vec<DebtorCases> {
    let mut by: BTreeMap<(AccountId, i64), Vec<&Case>> = BTreeMap::new();
    for c in cases {
        by.entry((c.account_id.clone(), c.customer_id))
            .or_default()
            .push(c);
    }
    by.into_iter()
        .map(|((account_id, customer_id), mut cs)| {
            cs.sort_by(|a, b| a.id.cmp(&b.id));
            let ids = |s: CaseState| -> Vec<CaseId> {
                cs.iter()
                    .filter(|c| c.state() == s)
                    .map(|c| c.id.clone())
                    .collect()
            };
            let mut steps: BTreeMap<Option<&'static str>, Vec<CaseId>> = BTreeMap::new();
            for c in cs.iter().filter(|c| c.is_active()) {
                steps
                    .entry(c.step.map(|s| s.key()))
                    .or_default()
                    .push(c.id.clone());
            }
            DebtorCases {
                open: ids(CaseState::Open),
                paused: ids(CaseState::Paused),
                closed: ids(CaseState::Closed),
                mergeable: steps.into_values().filter(|v| v.len() > 1).collect(),
                account_id,
                customer_id,
            }
        })
        .collect()
}

/// Why two cases may not share a letter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum MergeRefusal {
    SameCase,
    OtherAccount,
    OtherDebtor,
    NotOpen,
    DifferentStep,
}

/// Whether two cases may be handled together (one letter listing both claims): the same
/// account and debtor, both open, at the same step. Each case keeps its own claim, deadlines
/// and fee count; merging is only about the letter.
pub fn may_merge(a: &Case, b: &Case) -> Result<(), MergeRefusal> {
    if a.id == b.id {
        Err(MergeRefusal::SameCase)
    } else if a.account_id != b.account_id {
        Err(MergeRefusal::OtherAccount)
    } else if a.customer_id != b.customer_id {
        Err(MergeRefusal::OtherDebtor)
    } else if !a.is_active() || !b.is_active() {
        Err(MergeRefusal::NotOpen)
    } else if a.step != b.step {
        Err(MergeRefusal::DifferentStep)
    } else {
        Ok(())
    }
}

/// Why a case operation was refused. The case is unchanged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CaseError {
    #[error("not a case id: {0:?} (case_<claim id>)")]
    InvalidCaseId(String),
    #[error("the claim is not mirrored yet")]
    ClaimNotMirrored,
    #[error("the claim is {} and has nothing to collect", .status.as_str())]
    ClaimNotCollectible { status: ClaimStatus },
    #[error("the claim is {days_past_due} days past due; a case opens at {required}")]
    NotOverdue { days_past_due: i64, required: u16 },
    #[error("cannot {action} a {from} case")]
    InvalidTransition { action: CaseAction, from: CaseState },
    #[error("the pause deadline {until} must be after today ({today})")]
    PauseNotInFuture { until: NaiveDate, today: NaiveDate },
    #[error("{field} is required")]
    TextRequired { field: &'static str },
    #[error("{field} is longer than {max} characters")]
    TooLong { field: &'static str, max: usize },
    #[error("the author (user) is required")]
    AuthorRequired,
    #[error("\"annet\" (other) needs a text")]
    OtherNeedsText,
    #[error(
        "unknown close reason {0:?}; one of withdrawn, debtorInsolvent, paid, credited, other"
    )]
    UnknownCloseReason(String),
    #[error("unknown assessment {0:?}; one of groundless, justified")]
    UnknownObjectionOutcome(String),
    #[error("unknown channel {0:?}; one of email, letter, phone, inPerson, portal, other")]
    UnknownChannel(String),
    #[error("{field} {date} is after today ({today})")]
    DateInFuture {
        field: &'static str,
        date: NaiveDate,
        today: NaiveDate,
    },
    #[error("the case has no objection {id}")]
    ObjectionNotFound { id: u32 },
    #[error("objection {id} is already assessed")]
    ObjectionAlreadyAssessed { id: u32 },
    #[error(
        "objection {id} is not assessed as justified (only a justified objection is corrected)"
    )]
    ObjectionNotJustified { id: u32 },
    #[error("a {route} was already filed on {filed_on}")]
    AlreadyFiled { route: Route, filed_on: NaiveDate },
    #[error("unknown route {0:?}; one of utlegg, forliksklage")]
    UnknownRoute(String),
    #[error("{}", no_objection_text(*.0))]
    NoObjectionIn(ObjectionState),
}

fn no_objection_text(state: ObjectionState) -> &'static str {
    match state {
        ObjectionState::Open => "the case has no objection waiting for an assessment",
        ObjectionState::Justified => "the case has no justified objection waiting for a correction",
        ObjectionState::Groundless | ObjectionState::Corrected => "the case has no such objection",
    }
}

impl CaseError {
    /// The machine code for the HTTP error body.
    pub fn code(&self) -> &'static str {
        match self {
            CaseError::InvalidCaseId(_) => "invalid_case_id",
            CaseError::ClaimNotMirrored => "claim_not_mirrored",
            CaseError::ClaimNotCollectible { .. } => "claim_not_collectible",
            CaseError::NotOverdue { .. } => "not_overdue",
            CaseError::InvalidTransition { .. } => "invalid_transition",
            CaseError::PauseNotInFuture { .. } => "pause_not_in_future",
            CaseError::TextRequired { .. } => "required",
            CaseError::TooLong { .. } => "too_long",
            CaseError::AuthorRequired => "author_required",
            CaseError::OtherNeedsText => "required",
            CaseError::UnknownCloseReason(_) => "unknown_close_reason",
            CaseError::UnknownObjectionOutcome(_) => "unknown_outcome",
            CaseError::UnknownChannel(_) => "unknown_channel",
            CaseError::DateInFuture { .. } => "date_in_future",
            CaseError::ObjectionNotFound { .. } => "objection_not_found",
            CaseError::ObjectionAlreadyAssessed { .. } => "objection_already_assessed",
            CaseError::ObjectionNotJustified { .. } => "objection_not_justified",
            CaseError::AlreadyFiled { .. } => "already_filed",
            CaseError::UnknownRoute(_) => "unknown_route",
            CaseError::NoObjectionIn(ObjectionState::Open) => "no_objection_to_assess",
            CaseError::NoObjectionIn(ObjectionState::Justified) => "no_objection_to_correct",
            CaseError::NoObjectionIn(ObjectionState::Groundless | ObjectionState::Corrected) => {
                "objection_not_found"
            }
        }
    }

    /// The request field at fault, if one is.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            CaseError::PauseNotInFuture { .. } => Some("until"),
            CaseError::TextRequired { field } | CaseError::TooLong { field, .. } => Some(field),
            CaseError::OtherNeedsText => Some("text"),
            CaseError::UnknownCloseReason(_) => Some("reason"),
            CaseError::UnknownObjectionOutcome(_) => Some("outcome"),
            CaseError::UnknownChannel(_) => Some("channel"),
            CaseError::UnknownRoute(_) => Some("route"),
            CaseError::ObjectionNotFound { .. } => Some("objectionId"),
            CaseError::DateInFuture { field, .. } => Some(field),
            _ => None,
        }
    }
}
