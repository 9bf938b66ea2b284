//! The exactly-once unit of dunning: one [`Notice`] per (case, step), and the [`LetterRecord`]
//! that carries one or more notices to one debtor.
//!
//! A notice moves through a small state machine; every move is a method here (pure, `at` passed
//! in) and the store writes it conditionally on the version it read, so two runs can never both
//! make the same move:
//!
//! ```text
//!   awaiting_approval ──approve──▶ approved ─┐
//!          │ (automatic mode)                │
//!          └──────────────▶ planned ◀────────┘◀── (new, or cancelled: planned again)
//!                              │  letter reserved, PDF rendered and stored
//!                              ▼
//!                           sending ──(SES refused / S3 failed: nothing left)──▶ planned
//!                              │ the outside call answered
//!                              ▼
//!                            sent ──effects applied (claim charges, case step)──▶ sent ✓
//!
//!   sending, found stale by a later run (a crash between the outside call and the record):
//!     e-mail channel  → uncertain  (held for a person; NEVER sent again automatically;
//!                                   a person marks it sent, or releases it → cancelled)
//!     letter only     → planned    (the print partner takes only what the day's manifest
//!                                   lists, and the manifest lists only `sent` letters)
//!   awaiting_approval / approved / planned → cancelled (re-check or re-plan stopped it, with why)
//! ```
//!
//! `cancelled` is not final: a later run may plan the same step again (the claim changed and the
//! sync caught up, or a person released an uncertain notice).

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

use super::grouping::LetterId;
use super::letter::{self, ChargeLine, ClaimLine, LetterInput, Recipient};
use super::planner::PlannedNotice;
use super::policy::Mode;
use super::record::NoticeRecord;
use super::{Channel, Language, Sender, Step};
use crate::domain::case::CaseId;
use crate::domain::claim::ClaimId;
use crate::domain::collection::kid::{Kid, KidModulus};
use crate::domain::collection::rulebook::Rulebook;
use crate::domain::ledger::PostalAddress;
use crate::domain::money::Money;
use crate::domain::setup::{AccountId, OrgId};

// ---------------------------------------------------------------------------------------------
// Identity and status
// ---------------------------------------------------------------------------------------------

/// A notice: `step` on the case `case_id`. As text `{caseId}.{step}`, e.g.
/// `case_inv_80001.purring` (the id in URLs and in the store's keys).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct NoticeId {
    pub case_id: CaseId,
    pub step: Step,
}

impl NoticeId {
    pub fn new(case_id: CaseId, step: Step) -> Self {
        Self { case_id, step }
    }

    pub fn parse(s: &str) -> Result<Self, NoticeError> {
        let bad = || NoticeError::InvalidNoticeId(s.chars().take(80).collect());
        let (case, step) = s.rsplit_once('.').ok_or_else(bad)?;
        Ok(Self {
            case_id: CaseId::parse(case).map_err(|_| bad())?,
            step: step.parse().map_err(|_| bad())?,
        })
    }
}

/// In the API: `case_{claim}.{step}` (the string it serializes to).
impl utoipa::PartialSchema for NoticeId {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .description(Some("A notice: `case_{claim}.{step}`"))
            .examples([serde_json::json!("case_inv_1001.purring")])
            .into()
    }
}

impl utoipa::ToSchema for NoticeId {}

impl fmt::Display for NoticeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.case_id, self.step.key())
    }
}

impl TryFrom<String> for NoticeId {
    type Error = NoticeError;
    fn try_from(s: String) -> Result<Self, NoticeError> {
        Self::parse(&s)
    }
}

impl From<NoticeId> for String {
    fn from(n: NoticeId) -> String {
        n.to_string()
    }
}

/// Where a notice stands (see the module comment).
#[derive(
    utoipa::ToSchema,
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum NoticeStatus {
    /// Approve mode: in the day's batch, waiting for a user.
    AwaitingApproval,
    /// A user approved it; the next run sends it (re-planned for its real send date).
    Approved,
    /// Reserved for a letter; nothing has left yet.
    Planned,
    /// The letter is going out (the outside call may be under way).
    Sending,
    Sent,
    /// A `sending` found stale: the e-mail may or may not have gone. Held for a person.
    Uncertain,
    /// Stopped by the re-check or a re-plan, or released by a person (with the reason).
    Cancelled,
}

impl NoticeStatus {
    pub const ALL: [NoticeStatus; 7] = [
        NoticeStatus::AwaitingApproval,
        NoticeStatus::Approved,
        NoticeStatus::Planned,
        NoticeStatus::Sending,
        NoticeStatus::Sent,
        NoticeStatus::Uncertain,
        NoticeStatus::Cancelled,
    ];

    /// The stored and serialised value.
    pub fn key(self) -> &'static str {
        match self {
            NoticeStatus::AwaitingApproval => "awaiting_approval",
            NoticeStatus::Approved => "approved",
            NoticeStatus::Planned => "planned",
            NoticeStatus::Sending => "sending",
            NoticeStatus::Sent => "sent",
            NoticeStatus::Uncertain => "uncertain",
            NoticeStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|st| st.key() == s)
    }

    /// Whether a run may (re)reserve a notice in this status for a letter, in `mode`.
    pub fn may_reserve(self, mode: Mode) -> bool {
        match self {
            NoticeStatus::Planned | NoticeStatus::Cancelled | NoticeStatus::Approved => true,
            NoticeStatus::AwaitingApproval => mode == Mode::Automatic,
            NoticeStatus::Sending | NoticeStatus::Sent | NoticeStatus::Uncertain => false,
        }
    }
}

impl fmt::Display for NoticeStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoticeError {
    #[error("{0:?} is not a notice id (caseId.step)")]
    InvalidNoticeId(String),
    #[error("a notice that is {from} cannot be {action}")]
    InvalidTransition {
        from: NoticeStatus,
        action: &'static str,
    },
    #[error("who did it must be named")]
    ActorRequired,
}

// ---------------------------------------------------------------------------------------------
// What a notice says (a serialisable view of the planner's notice)
// ---------------------------------------------------------------------------------------------

/// One forsinkelsesrente rate of a notice, over the days it applied.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RateLine {
    pub percent: rust_decimal::Decimal,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub rule: String,
}

/// Forsinkelsesrente of a notice.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InterestView {
    /// The total from `from` through `to`.
    pub amount: Money,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub days: u32,
    pub rates: Vec<RateLine>,
}

/// A fee or the standardkompensasjon of a notice, with its rule tags.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChargeView {
    /// What this notice adds (after offsets).
    pub amount: Money,
    /// The statutory amount before offsets.
    pub nominal: Money,
    pub rules: Vec<String>,
}

/// What a notice demands and why, as shown in the preview, the API, the letter record and the
/// case's timeline: the planner's [`PlannedNotice`] with its rules resolved to tags.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NoticeLine {
    pub step: Step,
    pub send_date: NaiveDate,
    pub deadline: NaiveDate,
    /// After the fallback to what the debtor can receive.
    pub channel: Channel,
    /// The step's channel in the policy.
    pub requested_channel: Channel,
    pub language: Language,
    pub due_date: NaiveDate,
    pub principal: Money,
    pub interest: Option<InterestView>,
    /// The interest not demanded before (what the claim's charges record).
    pub interest_increment: Money,
    /// The interest owed after this notice.
    pub interest_due: Money,
    pub earlier_fees: Money,
    pub fee: Option<ChargeView>,
    pub compensation: Option<ChargeView>,
    pub total: Money,
    /// Why the notice carries its fee, or none (`fee-allowed`, `too-early-for-fee`, …).
    pub fee_reason: String,
    /// Every rule the notice rests on, resolved (`deadline:…`, `forsinkelsesrente:…`, …).
    pub rules: Vec<String>,
}

impl NoticeLine {
    pub fn of(n: &PlannedNotice, book: &Rulebook) -> Self {
        let a = &n.amounts;
        let charge = |f: &super::FeeLine| ChargeView {
            amount: f.amount,
            nominal: f.nominal,
            rules: f.rule_refs().map(|r| book.tag(r).to_string()).collect(),
        };
        let mut rules: Vec<String> = n.rule_refs().map(|r| book.tag(r).to_string()).collect();
        for r in a
            .fee
            .iter()
            .chain(a.compensation.iter())
            .flat_map(|f| f.rule_refs())
        {
            rules.push(book.tag(r).to_string());
        }
        rules.sort();
        rules.dedup();
        Self {
            step: n.step,
            send_date: n.send_date,
            deadline: n.deadline,
            channel: n.channel,
            requested_channel: n.requested_channel,
            language: n.language,
            due_date: n.due_date,
            principal: a.principal_outstanding,
            interest: a.interest.map(|i| InterestView {
                amount: i.amount,
                from: i.from_date,
                to: i.to_date,
                days: i.days,
                rates: i
                    .rates(book)
                    .map(|r| RateLine {
                        percent: r.rate_percent,
                        from: r.from,
                        to: r.to,
                        rule: book.tag(r.rule).to_string(),
                    })
                    .collect(),
            }),
            interest_increment: a.interest_increment,
            interest_due: a.interest_due,
            earlier_fees: a.earlier_fees_outstanding,
            fee: a.fee.as_ref().map(charge),
            compensation: a.compensation.as_ref().map(charge),
            total: a.total,
            fee_reason: n.fee_reason.code().to_string(),
            rules,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Why a notice stopped
// ---------------------------------------------------------------------------------------------

/// What Tripletex says about a claim just before its notice is sent, against what the sync
/// mirrored.
#[derive(utoipa::ToSchema, Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum RecheckVerdict {
    /// As mirrored: the notice may go.
    Unchanged,
    /// Nothing is outstanding any more.
    Paid,
    /// Less is outstanding than the sync saw (a payment since).
    PartlyPaid { outstanding: Money },
    /// The invoice was credited.
    Credited,
    /// Changed in another way (a new version, more outstanding).
    Changed,
    /// Tripletex no longer lists it (deleted, or no longer an open item).
    Gone,
}

impl RecheckVerdict {
    pub fn code(&self) -> &'static str {
        match self {
            RecheckVerdict::Unchanged => "unchanged",
            RecheckVerdict::Paid => "paid",
            RecheckVerdict::PartlyPaid { .. } => "partly_paid",
            RecheckVerdict::Credited => "credited",
            RecheckVerdict::Changed => "changed",
            RecheckVerdict::Gone => "gone",
        }
    }

    pub fn may_send(&self) -> bool {
        matches!(self, RecheckVerdict::Unchanged)
    }

    pub fn message_nb(&self) -> String {
        match self {
            RecheckVerdict::Unchanged => "uendret siden synkroniseringen".into(),
            RecheckVerdict::Paid => "betalt i Tripletex etter synkroniseringen".into(),
            RecheckVerdict::PartlyPaid { outstanding } => format!(
                "delvis betalt i Tripletex etter synkroniseringen (utestående nå {outstanding} kr)"
            ),
            RecheckVerdict::Credited => "kreditert i Tripletex etter synkroniseringen".into(),
            RecheckVerdict::Changed => "endret i Tripletex etter synkroniseringen".into(),
            RecheckVerdict::Gone => "ikke lenger åpen i Tripletex".into(),
        }
    }

    pub fn message_en(&self) -> String {
        match self {
            RecheckVerdict::Unchanged => "unchanged since the sync".into(),
            RecheckVerdict::Paid => "paid in Tripletex after the sync".into(),
            RecheckVerdict::PartlyPaid { outstanding } => format!(
                "partly paid in Tripletex after the sync (NOK {outstanding} outstanding now)"
            ),
            RecheckVerdict::Credited => "credited in Tripletex after the sync".into(),
            RecheckVerdict::Changed => "changed in Tripletex after the sync".into(),
            RecheckVerdict::Gone => "no longer open in Tripletex".into(),
        }
    }
}

/// What the sync mirrored about a claim, for the re-check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mirrored {
    /// Tripletex's version of the invoice (none for an open item without an invoice).
    pub version: Option<i64>,
    /// What Tripletex should show as outstanding (`ClaimAmounts::ledger_balance`).
    pub ledger_balance: Money,
}

/// What Tripletex shows now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Current {
    pub version: Option<i64>,
    /// `amountOutstanding` (none for an open posting: it is open, and that is all we know).
    pub outstanding: Option<Money>,
    pub credited: bool,
}

/// The re-check's verdict: `current` is `None` when Tripletex did not return the claim.
pub fn recheck_verdict(mirrored: Mirrored, current: Option<Current>) -> RecheckVerdict {
    let Some(c) = current else {
        return RecheckVerdict::Gone;
    };
    if c.credited {
        return RecheckVerdict::Credited;
    }
    if let Some(out) = c.outstanding {
        if out != mirrored.ledger_balance {
            return if out.is_zero() || out.is_negative() {
                RecheckVerdict::Paid
            } else if out < mirrored.ledger_balance {
                RecheckVerdict::PartlyPaid { outstanding: out }
            } else {
                RecheckVerdict::Changed
            };
        }
    }
    match (mirrored.version, c.version) {
        (Some(a), Some(b)) if a != b => RecheckVerdict::Changed,
        _ => RecheckVerdict::Unchanged,
    }
}

/// Why a notice was cancelled (serialised with its [`CancelReason::code`] as `reason`).
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum CancelReason {
    /// The re-check found the claim changed in Tripletex since the sync (the change reaches the
    /// claim through the next sync).
    Recheck { verdict: RecheckVerdict },
    /// The plan for the real send day no longer sends this step (`decision`: the planner's hold
    /// code, `wait`, `done` or `other_step`), with its sentence.
    Replanned {
        decision: String,
        message_nb: String,
        message_en: String,
    },
    /// SES refused the message (a suppressed or invalid recipient, an unverified sender).
    Refused { code: String, message: String },
    /// A person released an uncertain notice: a later run may send it again.
    #[serde(rename_all = "camelCase")]
    Released { by: String, note: Option<String> },
    /// The letter could not be composed or rendered (e.g. an address that does not fit the
    /// envelope window); a person must correct the data.
    Unprintable { message: String },
}

impl CancelReason {
    pub fn code(&self) -> &'static str {
        match self {
            CancelReason::Recheck { .. } => "recheck",
            CancelReason::Replanned { .. } => "replanned",
            CancelReason::Refused { .. } => "refused",
            CancelReason::Released { .. } => "released",
            CancelReason::Unprintable { .. } => "unprintable",
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The notice
// ---------------------------------------------------------------------------------------------

/// A user's approval (approve mode).
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[schema(as = NoticeApproval)]
pub struct Approval {
    /// The user (JWT `sub`).
    pub by: String,
    pub at: DateTime<Utc>,
}

/// How the notice left.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Delivery {
    pub sent_at: DateTime<Utc>,
    /// The SES message id (e-mail channels).
    #[serde(default)]
    pub ses_message_id: Option<String>,
    /// The letters outbox object (letter channels).
    #[serde(default)]
    pub outbox_key: Option<String>,
    /// A person marked an uncertain notice sent.
    #[serde(default)]
    pub confirmed_by: Option<String>,
}

/// Why a notice is uncertain.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Uncertainty {
    pub since: DateTime<Utc>,
    /// When the interrupted send started.
    pub sending_since: Option<DateTime<Utc>>,
    pub reason: String,
}

/// One line of a notice's history.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NoticeEntry {
    pub at: DateTime<Utc>,
    pub status: NoticeStatus,
    /// A user; `None`: Inndrive.
    #[serde(default)]
    pub by: Option<String>,
    #[serde(default)]
    pub note: Option<String>,
}

/// One notice (see the module comment).
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Notice {
    pub id: NoticeId,
    pub org: OrgId,
    pub account_id: AccountId,
    pub claim_id: ClaimId,
    pub customer_id: i64,
    pub status: NoticeStatus,
    /// What the last plan said (approve mode: the batch's plan, until the send day's re-plan).
    pub line: NoticeLine,
    /// Approve mode: the day of the batch it waited in.
    #[serde(default)]
    pub batch: Option<NaiveDate>,
    #[serde(default)]
    pub approval: Option<Approval>,
    /// The letter it is reserved for or went in.
    #[serde(default)]
    pub letter_id: Option<LetterId>,
    /// The send attempt that moved it to `sending`.
    #[serde(default)]
    pub attempt: Option<String>,
    #[serde(default)]
    pub sending_since: Option<DateTime<Utc>>,
    #[serde(default)]
    pub delivery: Option<Delivery>,
    /// What the letter demanded of this claim (kept from the reservation on; counts once sent).
    #[serde(default)]
    pub record: Option<NoticeRecord>,
    /// The claim's charges and the case's step and timeline entry are recorded.
    #[serde(default)]
    pub effects_applied: bool,
    #[serde(default)]
    pub cancelled: Option<CancelReason>,
    #[serde(default)]
    pub uncertain: Option<Uncertainty>,
    #[serde(default)]
    pub history: Vec<NoticeEntry>,
    /// Bumped on every move: the store's optimistic lock.
    pub version: u64,
}

impl Notice {
    fn new(
        id: NoticeId,
        org: OrgId,
        account_id: AccountId,
        claim_id: ClaimId,
        customer_id: i64,
        line: NoticeLine,
    ) -> Self {
        Self {
            id,
            org,
            account_id,
            claim_id,
            customer_id,
            status: NoticeStatus::Planned,
            line,
            batch: None,
            approval: None,
            letter_id: None,
            attempt: None,
            sending_since: None,
            delivery: None,
            record: None,
            effects_applied: false,
            cancelled: None,
            uncertain: None,
            history: Vec::new(),
            version: 0,
        }
    }

    /// A new notice in approve mode: waits in `batch` for a user.
    #[allow(clippy::too_many_arguments)]
    pub fn awaiting_approval(
        id: NoticeId,
        org: OrgId,
        account_id: AccountId,
        claim_id: ClaimId,
        customer_id: i64,
        line: NoticeLine,
        batch: NaiveDate,
        at: DateTime<Utc>,
    ) -> Self {
        let mut n = Self::new(id, org, account_id, claim_id, customer_id, line);
        n.batch = Some(batch);
        n.moved(NoticeStatus::AwaitingApproval, at, None, None);
        n
    }

    /// A new notice reserved for `letter`.
    #[allow(clippy::too_many_arguments)]
    pub fn planned(
        id: NoticeId,
        org: OrgId,
        account_id: AccountId,
        claim_id: ClaimId,
        customer_id: i64,
        line: NoticeLine,
        letter: LetterId,
        record: NoticeRecord,
        at: DateTime<Utc>,
    ) -> Self {
        let mut n = Self::new(id, org, account_id, claim_id, customer_id, line);
        n.letter_id = Some(letter);
        n.record = Some(record);
        n.moved(NoticeStatus::Planned, at, None, None);
        n
    }

    fn invalid(&self, action: &'static str) -> NoticeError {
        NoticeError::InvalidTransition {
            from: self.status,
            action,
        }
    }

    fn moved(
        &mut self,
        to: NoticeStatus,
        at: DateTime<Utc>,
        by: Option<&str>,
        note: Option<String>,
    ) {
        self.status = to;
        self.history.push(NoticeEntry {
            at,
            status: to,
            by: by.map(str::to_string),
            note,
        });
        self.version += 1;
    }

    /// A user approves a waiting notice.
    pub fn approve(&mut self, by: &str, at: DateTime<Utc>) -> Result<(), NoticeError> {
        let by = by.trim();
        if by.is_empty() {
            return Err(NoticeError::ActorRequired);
        }
        if self.status != NoticeStatus::AwaitingApproval {
            return Err(self.invalid("approved"));
        }
        self.approval = Some(Approval {
            by: by.to_string(),
            at,
        });
        self.moved(NoticeStatus::Approved, at, Some(by), None);
        Ok(())
    }

    /// Reserves the notice for `letter` with the plan of the send day.
    pub fn reserve(
        &mut self,
        letter: LetterId,
        line: NoticeLine,
        record: NoticeRecord,
        mode: Mode,
        at: DateTime<Utc>,
    ) -> Result<(), NoticeError> {
        if !self.status.may_reserve(mode) {
            return Err(self.invalid("reserved for a letter"));
        }
        let same = self.status == NoticeStatus::Planned
            && self.letter_id.as_ref() == Some(&letter)
            && self.record.as_ref() == Some(&record);
        self.letter_id = Some(letter);
        self.line = line;
        self.record = Some(record);
        self.cancelled = None;
        self.attempt = None;
        self.sending_since = None;
        if same {
            // The same reservation again (a redelivered run): only the version moves, so the
            // other run's next conditional write fails and only one of them sends.
            self.version += 1;
        } else {
            self.moved(NoticeStatus::Planned, at, None, None);
        }
        Ok(())
    }

    /// The letter is going out (attempt `attempt`).
    pub fn start_sending(&mut self, attempt: &str, at: DateTime<Utc>) -> Result<(), NoticeError> {
        if self.status != NoticeStatus::Planned {
            return Err(self.invalid("sent"));
        }
        self.attempt = Some(attempt.to_string());
        self.sending_since = Some(at);
        self.moved(NoticeStatus::Sending, at, None, None);
        Ok(())
    }

    /// Nothing left (SES refused before taking it, or the outbox failed): back to planned.
    pub fn back_to_planned(&mut self, why: &str, at: DateTime<Utc>) -> Result<(), NoticeError> {
        if self.status != NoticeStatus::Sending {
            return Err(self.invalid("returned to planned"));
        }
        self.attempt = None;
        self.sending_since = None;
        self.moved(NoticeStatus::Planned, at, None, Some(why.to_string()));
        Ok(())
    }

    /// The outside calls answered: sent. An uncertain notice whose attempt later learnt its
    /// outcome is sent too (a known outcome beats an unknown one).
    pub fn mark_sent(&mut self, delivery: Delivery, at: DateTime<Utc>) -> Result<(), NoticeError> {
        if !matches!(self.status, NoticeStatus::Sending | NoticeStatus::Uncertain) {
            return Err(self.invalid("marked sent"));
        }
        self.delivery = Some(delivery);
        self.uncertain = None;
        self.moved(NoticeStatus::Sent, at, None, None);
        Ok(())
    }

    /// A `sending` left behind (stale), or an outside call without an answer: it may have gone.
    pub fn mark_uncertain(&mut self, reason: &str, at: DateTime<Utc>) -> Result<(), NoticeError> {
        if self.status != NoticeStatus::Sending {
            return Err(self.invalid("marked uncertain"));
        }
        self.uncertain = Some(Uncertainty {
            since: at,
            sending_since: self.sending_since,
            reason: reason.to_string(),
        });
        self.moved(NoticeStatus::Uncertain, at, None, Some(reason.to_string()));
        Ok(())
    }

    /// Stopped before anything left (re-check, re-plan, SES refusal).
    pub fn cancel(&mut self, reason: CancelReason, at: DateTime<Utc>) -> Result<(), NoticeError> {
        if !matches!(
            self.status,
            NoticeStatus::AwaitingApproval
                | NoticeStatus::Approved
                | NoticeStatus::Planned
                | NoticeStatus::Sending
        ) {
            return Err(self.invalid("cancelled"));
        }
        let note = Some(reason.code().to_string());
        self.cancelled = Some(reason);
        self.attempt = None;
        self.sending_since = None;
        self.moved(NoticeStatus::Cancelled, at, None, note);
        Ok(())
    }

    /// Approve mode: a cancelled notice is planned again and waits in `batch` for a user.
    pub fn await_again(
        &mut self,
        line: NoticeLine,
        batch: NaiveDate,
        at: DateTime<Utc>,
    ) -> Result<(), NoticeError> {
        if self.status != NoticeStatus::Cancelled {
            return Err(self.invalid("put in a batch"));
        }
        self.line = line;
        self.batch = Some(batch);
        self.approval = None;
        self.cancelled = None;
        self.letter_id = None;
        self.moved(NoticeStatus::AwaitingApproval, at, None, None);
        Ok(())
    }

    /// A person checked an uncertain notice and found it sent.
    pub fn confirm_sent(
        &mut self,
        by: &str,
        note: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<(), NoticeError> {
        let by = by.trim();
        if by.is_empty() {
            return Err(NoticeError::ActorRequired);
        }
        if self.status != NoticeStatus::Uncertain {
            return Err(self.invalid("confirmed sent"));
        }
        self.delivery = Some(Delivery {
            sent_at: self.sending_since.unwrap_or(at),
            ses_message_id: None,
            outbox_key: None,
            confirmed_by: Some(by.to_string()),
        });
        self.uncertain = None;
        self.moved(
            NoticeStatus::Sent,
            at,
            Some(by),
            note.map(str::trim)
                .filter(|n| !n.is_empty())
                .map(str::to_string),
        );
        Ok(())
    }

    /// A person checked an uncertain notice and found it not sent: a later run may send it.
    pub fn release(
        &mut self,
        by: &str,
        note: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<(), NoticeError> {
        let by = by.trim();
        if by.is_empty() {
            return Err(NoticeError::ActorRequired);
        }
        if self.status != NoticeStatus::Uncertain {
            return Err(self.invalid("released"));
        }
        let note = note
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(str::to_string);
        self.cancelled = Some(CancelReason::Released {
            by: by.to_string(),
            note: note.clone(),
        });
        self.uncertain = None;
        self.attempt = None;
        self.sending_since = None;
        self.moved(NoticeStatus::Cancelled, at, Some(by), note);
        Ok(())
    }

    /// The claim's charges and the case's step are recorded.
    pub fn mark_effects_applied(&mut self) -> Result<(), NoticeError> {
        if self.status != NoticeStatus::Sent {
            return Err(self.invalid("given its effects"));
        }
        self.effects_applied = true;
        self.version += 1;
        Ok(())
    }

    /// Whether a run must look at the notice: it waits, is under way, is held for a person, or
    /// went out and its effects are not recorded yet. Sent-and-recorded and cancelled notices
    /// are history (the case's timeline carries what the planner needs of a sent one).
    pub fn is_active(&self) -> bool {
        match self.status {
            NoticeStatus::AwaitingApproval
            | NoticeStatus::Approved
            | NoticeStatus::Planned
            | NoticeStatus::Sending
            | NoticeStatus::Uncertain => true,
            NoticeStatus::Sent => !self.effects_applied,
            NoticeStatus::Cancelled => false,
        }
    }

    /// The notice counts as a letter on the claim (for the planner): it went out.
    pub fn sent_record(&self) -> Option<&NoticeRecord> {
        match self.status {
            NoticeStatus::Sent => self.record.as_ref(),
            _ => None,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The letter
// ---------------------------------------------------------------------------------------------

/// Where a letter stands: it moves with its notices, in one transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LetterStatus {
    Planned,
    Sending,
    Sent,
    Uncertain,
    /// Its notices went elsewhere (re-planned into another letter) or were cancelled.
    Cancelled,
}

impl LetterStatus {
    pub fn key(self) -> &'static str {
        match self {
            LetterStatus::Planned => "planned",
            LetterStatus::Sending => "sending",
            LetterStatus::Sent => "sent",
            LetterStatus::Uncertain => "uncertain",
            LetterStatus::Cancelled => "cancelled",
        }
    }
}

/// One claim of a letter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LetterClaimEntry {
    pub notice_id: NoticeId,
    pub claim_id: ClaimId,
    pub invoice_number: Option<String>,
    #[serde(default)]
    pub invoice_date: Option<NaiveDate>,
    /// The invoice's KID as Tripletex has it (checked with MOD10/MOD11 before it is printed).
    #[serde(default)]
    pub kid: Option<String>,
    pub line: NoticeLine,
}

/// One letter: one debtor, one step, one day, one or more notices.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LetterRecord {
    pub letter_id: LetterId,
    pub org: OrgId,
    pub account_id: AccountId,
    pub customer_id: i64,
    pub customer_name: String,
    pub step: Step,
    pub send_date: NaiveDate,
    pub deadline: NaiveDate,
    pub channel: Channel,
    pub language: Language,
    pub status: LetterStatus,
    pub claims: Vec<LetterClaimEntry>,
    pub total: Money,
    /// The e-mail recipient (e-mail channels).
    #[serde(default)]
    pub email_to: Option<String>,
    /// The postal address printed (letter channels).
    #[serde(default)]
    pub postal_address: Option<PostalAddress>,
    #[serde(default)]
    pub subject: Option<String>,
    /// The archived PDF (`letters/…` in the letters bucket): the letter exactly as sent.
    #[serde(default)]
    pub pdf_key: Option<String>,
    #[serde(default)]
    pub pdf_bytes: Option<u64>,
    #[serde(default)]
    pub attempt: Option<String>,
    #[serde(default)]
    pub sending_since: Option<DateTime<Utc>>,
    #[serde(default)]
    pub delivery: Option<Delivery>,
    /// The users who approved its notices (approve mode).
    #[serde(default)]
    pub approved_by: Vec<String>,
    #[serde(default)]
    pub effects_applied: bool,
    pub created_at: DateTime<Utc>,
    pub version: u64,
}

impl LetterRecord {
    /// What the letter says, as plain facts for [`LetterDocument::compose`]: the claims' lines
    /// as planned (amounts, rates and rule tags), the creditor, the debtor's name and address
    /// (an e-mail-only letter has no address lines), the KID when the letter covers one claim
    /// whose KID is valid. The claims' interest is what is still owed of it (what the total
    /// counts).
    ///
    /// [`LetterDocument::compose`]: super::letter::LetterDocument::compose
    pub fn letter_input(&self, sender: &Sender) -> LetterInput {
        let claims: Vec<ClaimLine> = self
            .claims
            .iter()
            .map(|c| {
                let l = &c.line;
                let interest = l.interest.as_ref().map(|i| letter::InterestLine {
                    amount: l.interest_due,
                    from: i.from,
                    to: i.to,
                    rates: i
                        .rates
                        .iter()
                        .map(|r| letter::RatePeriod {
                            percent: r.percent,
                            from: r.from,
                            to: r.to,
                            rule: r.rule.clone(),
                        })
                        .collect(),
                });
                let charge = |f: &ChargeView| ChargeLine {
                    amount: f.amount,
                    rule: f.rules.join(" "),
                };
                let fee = l.fee.as_ref().map(charge);
                let compensation = l.compensation.as_ref().map(charge);
                let total = [
                    interest.as_ref().map_or(Money::ZERO, |i| i.amount),
                    l.earlier_fees,
                    fee.as_ref().map_or(Money::ZERO, |f| f.amount),
                    compensation.as_ref().map_or(Money::ZERO, |f| f.amount),
                ]
                .into_iter()
                .fold(l.principal, |a, b| a + b);
                ClaimLine {
                    invoice_number: c
                        .invoice_number
                        .clone()
                        .unwrap_or_else(|| c.claim_id.to_string()),
                    invoice_date: c.invoice_date,
                    due_date: l.due_date,
                    principal: l.principal,
                    interest,
                    earlier_fees: l.earlier_fees,
                    earlier_compensation: Money::ZERO,
                    fee,
                    compensation,
                    total,
                }
            })
            .collect();
        let grand_total = claims.iter().fold(Money::ZERO, |a, c| a + c.total);
        let kid = match self.claims.as_slice() {
            [one] => one.kid.as_deref().and_then(|k| {
                Kid::parse(k, KidModulus::Mod10)
                    .or_else(|_| Kid::parse(k, KidModulus::Mod11))
                    .ok()
            }),
            _ => None,
        };
        let case_reference = match self.claims.as_slice() {
            [one] => one.notice_id.case_id.to_string(),
            _ => self.letter_id.to_string(),
        };
        LetterInput {
            letter_id: self.letter_id.to_string(),
            step: self.step,
            language: self.language,
            sent_on: self.send_date,
            deadline: self.deadline,
            sender: sender.clone(),
            recipient: Recipient {
                name: self.customer_name.clone(),
                address: self.postal_address.clone().unwrap_or(PostalAddress {
                    lines: Vec::new(),
                    postal_code: None,
                    city: None,
                    country_code: None,
                }),
            },
            claims,
            grand_total,
            kid,
            case_reference,
        }
    }

    pub fn notice_ids(&self) -> impl Iterator<Item = &NoticeId> {
        self.claims.iter().map(|c| &c.notice_id)
    }

    fn moved(&mut self, to: LetterStatus) {
        self.status = to;
        self.version += 1;
    }

    pub fn start_sending(&mut self, attempt: &str, at: DateTime<Utc>) {
        self.attempt = Some(attempt.to_string());
        self.sending_since = Some(at);
        self.moved(LetterStatus::Sending);
    }

    pub fn back_to_planned(&mut self) {
        self.attempt = None;
        self.sending_since = None;
        self.moved(LetterStatus::Planned);
    }

    pub fn mark_sent(&mut self, delivery: Delivery) {
        self.delivery = Some(delivery);
        self.moved(LetterStatus::Sent);
    }

    pub fn mark_uncertain(&mut self) {
        self.moved(LetterStatus::Uncertain);
    }

    pub fn cancel(&mut self) {
        self.attempt = None;
        self.sending_since = None;
        self.moved(LetterStatus::Cancelled);
    }

    pub fn mark_effects_applied(&mut self) {
        self.effects_applied = true;
        self.version += 1;
    }

    /// `sending` for longer than `stale_after` at `now`: its run is gone.
    pub fn is_stale(&self, now: DateTime<Utc>, stale_after: chrono::Duration) -> bool {
        self.status == LetterStatus::Sending
            && self.sending_since.is_some_and(|s| now - s >= stale_after)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 10, 1, h, 0, 0).unwrap()
    }

    fn line() -> NoticeLine {
        let d = NaiveDate::from_ymd_opt(2026, 10, 1).unwrap();
        NoticeLine {
            step: Step::Purring,
            send_date: d,
            deadline: d,
            channel: Channel::Email,
            requested_channel: Channel::Email,
            language: Language::Nb,
            due_date: d,
            principal: Money::from_kroner(100),
            interest: None,
            interest_increment: Money::ZERO,
            interest_due: Money::ZERO,
            earlier_fees: Money::ZERO,
            fee: None,
            compensation: None,
            total: Money::from_kroner(100),
            fee_reason: "fee-not-in-policy".into(),
            rules: vec![],
        }
    }

    fn record(letter: &str) -> NoticeRecord {
        let d = NaiveDate::from_ymd_opt(2026, 10, 1).unwrap();
        NoticeRecord {
            letter_id: letter.into(),
            step: Step::Purring,
            sent: d,
            deadline: d,
            fee_nominal: Money::ZERO,
            fee: Money::ZERO,
            compensation_nominal: None,
            compensation: Money::ZERO,
            interest_total: Money::ZERO,
            interest_increment: Money::ZERO,
        }
    }

    fn id() -> NoticeId {
        NoticeId::parse("case_inv_80001.purring").unwrap()
    }

    fn letter(s: &str) -> LetterId {
        serde_json::from_value(serde_json::json!(s)).unwrap()
    }

    fn org() -> OrgId {
        OrgId::parse("org_a").unwrap()
    }

    fn acc() -> AccountId {
        AccountId::from_suffix("0192f0c4a1b27f3e8c1d2e3f4a5b6c7d").unwrap()
    }

    #[test]
    fn notice_ids_round_trip_and_refuse_other_text() {
        let n = id();
        assert_eq!(n.to_string(), "case_inv_80001.purring");
        assert_eq!(NoticeId::parse(&n.to_string()).unwrap(), n);
        for bad in [
            "case_inv_80001",
            "case_inv_80001.purre",
            "inv_1.purring",
            "",
        ] {
            assert!(NoticeId::parse(bad).is_err(), "{bad}");
        }
        let json = serde_json::to_string(&n).unwrap();
        assert_eq!(json, "\"case_inv_80001.purring\"");
        for st in NoticeStatus::ALL {
            assert_eq!(NoticeStatus::parse(st.key()), Some(st));
            assert_eq!(serde_json::to_value(st).unwrap(), st.key());
        }
    }

    #[test]
    fn the_happy_path_moves_version_by_version_and_records_history() {
        let claim = ClaimId::invoice(80001).unwrap();
        let mut n = Notice::planned(
            id(),
            org(),
            acc(),
            claim,
            40001,
            line(),
            letter("ltr_1"),
            record("ltr_1"),
            t(6),
        );
        assert_eq!((n.status, n.version), (NoticeStatus::Planned, 1));
        assert!(n.sent_record().is_none(), "planned is not a letter yet");
        n.start_sending("a1", t(6)).unwrap();
        assert!(n.start_sending("a2", t(6)).is_err(), "sending twice");
        n.mark_sent(
            Delivery {
                sent_at: t(6),
                ses_message_id: Some("m1".into()),
                outbox_key: None,
                confirmed_by: None,
            },
            t(6),
        )
        .unwrap();
        assert!(n.sent_record().is_some());
        assert!(n
            .reserve(
                letter("ltr_2"),
                line(),
                record("ltr_2"),
                Mode::Automatic,
                t(7)
            )
            .is_err());
        assert!(n
            .cancel(
                CancelReason::Refused {
                    code: "x".into(),
                    message: "y".into()
                },
                t(7)
            )
            .is_err());
        n.mark_effects_applied().unwrap();
        assert_eq!(n.version, 4);
        let statuses: Vec<NoticeStatus> = n.history.iter().map(|h| h.status).collect();
        assert_eq!(
            statuses,
            vec![
                NoticeStatus::Planned,
                NoticeStatus::Sending,
                NoticeStatus::Sent
            ]
        );
    }

    #[test]
    fn approve_mode_waits_for_a_user_and_uncertain_is_only_left_by_a_person() {
        let claim = ClaimId::invoice(80001).unwrap();
        let day = NaiveDate::from_ymd_opt(2026, 10, 1).unwrap();
        let mut n = Notice::awaiting_approval(id(), org(), acc(), claim, 40001, line(), day, t(6));
        assert!(n
            .reserve(letter("l"), line(), record("l"), Mode::Approve, t(6))
            .is_err());
        assert!(n.approve("  ", t(7)).is_err());
        n.approve("u-1", t(7)).unwrap();
        assert!(n.approve("u-1", t(7)).is_err());
        n.reserve(letter("l"), line(), record("l"), Mode::Approve, t(8))
            .unwrap();
        n.start_sending("a", t(8)).unwrap();
        n.mark_uncertain("stale", t(9)).unwrap();
        assert!(!NoticeStatus::Uncertain.may_reserve(Mode::Automatic));
        assert!(n
            .reserve(letter("l2"), line(), record("l2"), Mode::Automatic, t(9))
            .is_err());
        n.release("ops", Some("checked the SES log: not sent"), t(10))
            .unwrap();
        assert_eq!(n.status, NoticeStatus::Cancelled);
        assert!(matches!(n.cancelled, Some(CancelReason::Released { .. })));
        n.reserve(letter("l3"), line(), record("l3"), Mode::Automatic, t(11))
            .unwrap();
        assert_eq!(n.status, NoticeStatus::Planned);
    }

    #[test]
    fn reserving_the_same_letter_again_moves_only_the_version() {
        let claim = ClaimId::invoice(80001).unwrap();
        let mut n = Notice::planned(
            id(),
            org(),
            acc(),
            claim,
            40001,
            line(),
            letter("l"),
            record("l"),
            t(6),
        );
        n.reserve(letter("l"), line(), record("l"), Mode::Automatic, t(6))
            .unwrap();
        assert_eq!((n.version, n.history.len()), (2, 1));
    }

    #[test]
    fn the_recheck_compares_with_what_tripletex_should_show() {
        let m = Mirrored {
            version: Some(3),
            ledger_balance: Money::from_kroner(12_500),
        };
        let now = |v: i64, out: i64| {
            Some(Current {
                version: Some(v),
                outstanding: Some(Money::from_kroner(out)),
                credited: false,
            })
        };
        assert_eq!(
            recheck_verdict(m, now(3, 12_500)),
            RecheckVerdict::Unchanged
        );
        assert_eq!(recheck_verdict(m, now(4, 0)), RecheckVerdict::Paid);
        assert_eq!(
            recheck_verdict(m, now(4, 2_500)),
            RecheckVerdict::PartlyPaid {
                outstanding: Money::from_kroner(2_500)
            }
        );
        assert_eq!(recheck_verdict(m, now(4, 12_500)), RecheckVerdict::Changed);
        assert_eq!(recheck_verdict(m, now(3, 13_000)), RecheckVerdict::Changed);
        assert_eq!(recheck_verdict(m, None), RecheckVerdict::Gone);
        let credited = Some(Current {
            version: Some(4),
            outstanding: Some(Money::ZERO),
            credited: true,
        });
        assert_eq!(recheck_verdict(m, credited), RecheckVerdict::Credited);
        // Written off in the accounts: Tripletex shows 0, and so it should.
        let written_off = Mirrored {
            version: Some(3),
            ledger_balance: Money::ZERO,
        };
        assert_eq!(
            recheck_verdict(written_off, now(3, 0)),
            RecheckVerdict::Unchanged
        );
        // An open item: open, nothing more is known.
        let item = Mirrored {
            version: None,
            ledger_balance: Money::from_kroner(3_000),
        };
        let open = Some(Current {
            version: None,
            outstanding: None,
            credited: false,
        });
        assert_eq!(recheck_verdict(item, open), RecheckVerdict::Unchanged);
        for v in [
            RecheckVerdict::Paid,
            RecheckVerdict::Gone,
            RecheckVerdict::PartlyPaid {
                outstanding: Money::from_kroner(1),
            },
        ] {
            assert!(!v.may_send());
            assert!(!v.message_nb().is_empty() && !v.message_en().is_empty());
            assert_eq!(serde_json::to_value(v).unwrap()["code"], v.code());
        }
    }
}
