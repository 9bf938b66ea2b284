//! Dunning: the creditor's own follow-up, every day, by the account's policy — planned by the
//! pure planner, re-checked against Tripletex, each notice sent exactly once (docs/dunning.md).
//!
//! [`DunningService`] is the one place the function and the HTTP API call:
//!
//! - the daily run ([`DunningService::fan_out`] puts one job per enabled account on the dunning
//!   queue; [`DunningService::handle_job`] runs one account: [`DunningService::run_account`]),
//!   in named stages: load → repair → plan → approval batch (approve mode) → re-check →
//!   group → per letter: reserve → render + archive → sending → send → sent → effects →
//!   manifest → report (`engine.rs`);
//! - the preview ([`DunningService::preview`], [`DunningService::preview_org`]): the same
//!   planning code as the run, writing nothing;
//! - the policy ([`DunningService::policy`], [`DunningService::put_policy`]), the notices of a
//!   case and a letter's PDF as sent, the approval batches, "run now", and the uncertain
//!   notices a person resolves.
//!
//! The outside systems are ports (`ports.rs`): the store, SES, the letters bucket, the
//! Tripletex re-check, the PDF renderer, the queue; and the clock. Nothing here reads the time
//! except through [`DunningService::clock`].

mod engine;
pub mod plan;
pub mod ports;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use crate::adapters::letters::BucketError;
use crate::adapters::mail::MailError;
use crate::adapters::queue::{DunningJob, DunningReason, QueueError};
use crate::adapters::store::claims::Save;
use crate::adapters::store::dunning::StoredPolicy;
use crate::adapters::store::StoreError;
use crate::clock::Clock;
use crate::domain::case::CaseId;
use crate::domain::collection::dunning::notice::NoticeError;
use crate::domain::collection::dunning::{
    group_notices, BatchRecord, Channel, DunningPolicy, HoldReason, Language, LetterStatus, Mode,
    Notice, NoticeId, NoticeLine, NoticeStatus, PlanDecision, PolicyViolation, RunRecord,
    RunReport, RunStatus, RunTrigger, Step,
};
use crate::domain::collection::rulebook::Rulebook;
use crate::domain::setup::{AccountId, OrgId};
use crate::domain::Money;
use crate::services::cases::norwegian_date;

pub use engine::JobOutcome;
pub use plan::{AccountPlan, CasePlan, Disposition};
pub use ports::{
    DunningStore, LetterArchive, LetterRenderer, NoticeMailer, Recheck, RecheckAnswer,
    RecheckError, RecheckFound, RecheckItem, RunQueue,
};

/// How the service behaves.
#[derive(Debug, Clone)]
pub struct DunningConfig {
    /// A notice `sending` for longer than this belongs to a run that is gone (a Lambda runs at
    /// most 15 minutes): a later run marks it uncertain (e-mail) or plans it again (letter only).
    pub stale_after: chrono::Duration,
    /// A run stops this long before its invocation's deadline and goes on in a new message.
    pub deadline_margin: std::time::Duration,
}

impl Default for DunningConfig {
    fn default() -> Self {
        Self {
            stale_after: chrono::Duration::minutes(15),
            deadline_margin: std::time::Duration::from_secs(60),
        }
    }
}

/// The dunning service (see the module comment).
pub struct DunningService {
    pub store: Arc<dyn DunningStore>,
    pub archive: Arc<dyn LetterArchive>,
    pub queue: Arc<dyn RunQueue>,
    /// What only the dunning function has; the HTTP API (preview, policy, approval, "run now",
    /// the letters as sent) runs without it and never sends.
    pub sending: Option<Sending>,
    pub rules: Arc<Rulebook>,
    /// The current time: the system clock in the function, a fixed one in tests.
    pub clock: Clock,
    pub config: DunningConfig,
}

/// The ports a run needs to send: SES, the Tripletex re-check and the PDF renderer.
pub struct Sending {
    pub mailer: Arc<dyn NoticeMailer>,
    pub recheck: Arc<dyn Recheck>,
    pub renderer: Arc<dyn LetterRenderer>,
}

/// Why a dunning operation failed. The HTTP edge maps each to its status.
#[derive(Debug, thiserror::Error)]
pub enum DunningError {
    #[error("no such account")]
    AccountNotFound,
    #[error("no such case")]
    CaseNotFound,
    #[error("no such notice")]
    NoticeNotFound,
    #[error("no such batch")]
    BatchNotFound,
    #[error("the letter of this notice is not stored")]
    LetterNotFound,
    /// 422: every rule the policy breaks, each naming its field.
    #[error("the policy breaks {} rule(s)", .0.len())]
    InvalidPolicy(Vec<PolicyViolation>),
    /// 409: the policy changed since the version the caller read.
    #[error("the policy was changed meanwhile (it is at version {current:?})")]
    VersionConflict { current: Option<u64> },
    /// 409: the notice is not in a state that allows it.
    #[error(transparent)]
    Notice(#[from] NoticeError),
    #[error("{message}")]
    BadRequest {
        field: &'static str,
        message: String,
    },
    #[error("the record kept changing while we tried to update it")]
    Contention,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("re-check: {0}")]
    Recheck(#[from] RecheckError),
    #[error("mail: {0}")]
    Mail(MailError),
    #[error("letters bucket: {0}")]
    Archive(#[from] BucketError),
    #[error("queue: {0}")]
    Queue(#[from] QueueError),
    /// A run was asked of a service built without [`Sending`] (the HTTP API's): nothing was
    /// touched.
    #[error("this service cannot send (no SES, re-check or renderer): runs belong to the dunning function")]
    CannotSend,
}

// ---------------------------------------------------------------------------------------------
// Views
// ---------------------------------------------------------------------------------------------

/// The account's policy as the API shows it.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicyView {
    pub policy: DunningPolicy,
    /// The stored version (`If-Match`); `None`: nothing stored yet, these are the defaults.
    pub version: Option<u64>,
    pub updated_at: Option<DateTime<Utc>>,
    pub updated_by: Option<String>,
    /// While the policy names no sender: what Inndrive already knows of the creditor, for the
    /// form to start from (the user completes the address and the bank account).
    pub suggested_sender: Option<SenderSuggestion>,
}

/// The creditor as far as Inndrive knows it without asking (see [`DunningStore::sender_facts`]):
/// the name Tripletex gave the client company when the integration was set up, else the
/// account's name; the account's organization number.
#[derive(utoipa::ToSchema, Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SenderSuggestion {
    pub name: Option<String>,
    pub organization_number: Option<crate::domain::OrgNumber>,
}

/// What the planner decided for a claim, in the preview.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum PreviewDecision {
    /// A notice goes out (or waits for approval): its amounts, deadline, channel and rules.
    Send { line: Box<NoticeLine> },
    /// The next step is due on `date`.
    Wait { date: NaiveDate, step: Step },
    /// Nothing goes out, for a named reason (`reason.code`, with the sentences).
    #[serde(rename_all = "camelCase")]
    Hold {
        reason: HoldReason,
        message_nb: String,
        message_en: String,
    },
    /// No step is left.
    Done,
    /// The case's claim is not stored (an inconsistency a person must look at).
    MissingClaim,
}

/// One claim in the preview.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PreviewClaim {
    pub case_id: CaseId,
    pub claim_id: String,
    pub customer_id: i64,
    pub customer_name: Option<String>,
    pub invoice_number: Option<String>,
    #[serde(flatten)]
    pub decision: PreviewDecision,
    /// What happens on the day: `send`, `await_approval`, `nothing`, or why a due notice is left
    /// (`sent`, `uncertain`, `sending`, `awaiting_approval`).
    pub outcome: String,
    /// The letter it would go in.
    pub letter_id: Option<String>,
    /// The active notice of the case, if any (id and status).
    pub notice: Option<PreviewNotice>,
}

#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PreviewNotice {
    pub id: NoticeId,
    pub status: NoticeStatus,
}

/// One letter in the preview.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PreviewLetter {
    pub letter_id: String,
    pub customer_id: i64,
    pub customer_name: Option<String>,
    pub step: Step,
    pub channel: Channel,
    pub language: Language,
    pub deadline: NaiveDate,
    pub cases: Vec<CaseId>,
    pub fee: Money,
    pub total: Money,
}

#[derive(utoipa::ToSchema, Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PreviewTotals {
    pub cases: u32,
    pub letters: u32,
    /// Notices in the letters.
    pub notices: u32,
    /// Approve mode: notices that would wait in the day's batch.
    pub awaiting_approval: u32,
    /// The letters' totals.
    pub amount: Money,
    pub decisions: BTreeMap<String, u32>,
    pub holds: BTreeMap<String, u32>,
}

/// The dry run of one account on one day: what would go out, per claim, or why not.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Preview {
    pub account_id: AccountId,
    pub date: NaiveDate,
    pub enabled: bool,
    pub mode: Mode,
    /// The stored policy's version (`None`: the defaults, dunning off).
    pub policy_version: Option<u64>,
    pub claims: Vec<PreviewClaim>,
    pub letters: Vec<PreviewLetter>,
    pub totals: PreviewTotals,
}

/// An approval batch.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchView {
    /// The day (`YYYY-MM-DD`), also the batch's id.
    pub id: NaiveDate,
    pub created_at: DateTime<Utc>,
    /// Notices the day's run put in it.
    pub notices: u32,
    /// Still waiting, and approved but not sent yet.
    pub awaiting_approval: u32,
    pub approved: u32,
    pub waiting: Vec<Notice>,
}

/// What to approve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    All,
    Notices(Vec<NoticeId>),
}

/// What an approval did.
#[derive(utoipa::ToSchema, Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ApproveOutcome {
    pub approved: Vec<NoticeId>,
    /// Notices of the batch that were not waiting (already approved, sent, cancelled, …).
    pub not_waiting: Vec<(NoticeId, NoticeStatus)>,
    /// Ids that are not notices of this batch.
    pub not_found: Vec<NoticeId>,
}

/// What a person decided about an uncertain letter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    /// It went out (the SES log or the debtor says so): recorded as sent, the effects follow.
    Sent,
    /// It did not: a later run may send it again.
    Release,
}

// ---------------------------------------------------------------------------------------------
// The API
// ---------------------------------------------------------------------------------------------

impl DunningService {
    fn now(&self) -> DateTime<Utc> {
        (self.clock)()
    }

    /// The sending ports, or [`DunningError::CannotSend`] before anything is touched.
    fn sending(&self) -> Result<&Sending, DunningError> {
        self.sending.as_ref().ok_or(DunningError::CannotSend)
    }

    async fn require_account(&self, org: &OrgId, account: &AccountId) -> Result<(), DunningError> {
        if self.store.account_exists(org, account).await? {
            Ok(())
        } else {
            Err(DunningError::AccountNotFound)
        }
    }

    /// The account's policy; the defaults (dunning off) when none is stored.
    pub async fn policy(
        &self,
        org: &OrgId,
        account: &AccountId,
    ) -> Result<PolicyView, DunningError> {
        self.require_account(org, account).await?;
        let mut view = match self.store.get_policy(org, account).await? {
            Some(p) => PolicyView {
                policy: p.policy,
                version: Some(p.version),
                updated_at: Some(p.updated_at),
                updated_by: p.updated_by,
                suggested_sender: None,
            },
            None => PolicyView {
                policy: DunningPolicy::default(),
                version: None,
                updated_at: None,
                updated_by: None,
                suggested_sender: None,
            },
        };
        if view.policy.sender.is_none() {
            view.suggested_sender = Some(self.store.sender_facts(org, account).await?);
        }
        Ok(view)
    }

    /// Replaces the policy after validating it (every violation, each naming its field).
    /// `expected_version` (the `If-Match` or the body's `version`): the write happens only if
    /// the stored version is still that one (`Some(0)`: nothing may be stored yet); without it
    /// the latest stored version is replaced.
    pub async fn put_policy(
        &self,
        org: &OrgId,
        account: &AccountId,
        policy: DunningPolicy,
        expected_version: Option<u64>,
        by: &str,
    ) -> Result<PolicyView, DunningError> {
        self.require_account(org, account).await?;
        policy
            .validate(&self.rules)
            .map_err(DunningError::InvalidPolicy)?;
        for _ in 0..5 {
            let current = self
                .store
                .get_policy(org, account)
                .await?
                .map(|p| p.version);
            if let Some(want) = expected_version {
                if current.unwrap_or(0) != want {
                    return Err(DunningError::VersionConflict { current });
                }
            }
            let now = self.now();
            let stored = StoredPolicy {
                policy: policy.clone(),
                version: current.unwrap_or(0) + 1,
                updated_at: now,
                updated_by: Some(by.to_string()),
            };
            match self
                .store
                .put_policy(org, account, &stored, current)
                .await?
            {
                Save::Saved => {
                    let suggested_sender = match stored.policy.sender {
                        Some(_) => None,
                        None => Some(self.store.sender_facts(org, account).await?),
                    };
                    return Ok(PolicyView {
                        policy: stored.policy,
                        version: Some(stored.version),
                        updated_at: Some(now),
                        updated_by: stored.updated_by,
                        suggested_sender,
                    });
                }
                Save::Conflict if expected_version.is_some() => {
                    let current = self
                        .store
                        .get_policy(org, account)
                        .await?
                        .map(|p| p.version);
                    return Err(DunningError::VersionConflict { current });
                }
                Save::Conflict => continue,
            }
        }
        Err(DunningError::Contention)
    }

    /// What would go out for the account on `date` (the run's planning, no writes, no
    /// re-check).
    pub async fn preview(
        &self,
        org: &OrgId,
        account: &AccountId,
        date: NaiveDate,
    ) -> Result<Preview, DunningError> {
        self.require_account(org, account).await?;
        let stored = self.store.get_policy(org, account).await?;
        let (policy, version) = match &stored {
            Some(p) => (p.policy.clone(), Some(p.version)),
            None => (DunningPolicy::default(), None),
        };
        let book = self.store.book(org, account).await?;
        let active = self.store.active_notices(org, account).await?;
        let plan = plan::plan_account(&book, &active, &policy, &self.rules, date);
        let letters = plan::split_letters(
            group_notices(plan.to_send(account)),
            plan::MAX_NOTICES_PER_LETTER,
        );
        let letter_of: HashMap<&CaseId, &str> = letters
            .iter()
            .flat_map(|l| {
                l.claims
                    .iter()
                    .map(move |c| (&c.case_id, l.letter_id.as_str()))
            })
            .collect();
        let name = |customer: i64| {
            book.customers
                .get(&customer)
                .map(|c| c.customer.name.clone())
        };
        let (decisions, holds) = plan.counts();
        let mut totals = PreviewTotals {
            cases: plan.cases.len() as u32,
            letters: letters.len() as u32,
            notices: letters.iter().map(|l| l.claims.len() as u32).sum(),
            awaiting_approval: 0,
            amount: letters.iter().fold(Money::ZERO, |a, l| a + l.total),
            decisions,
            holds,
        };
        let mut claims = Vec::with_capacity(plan.cases.len());
        for c in &plan.cases {
            let claim = book.claims.get(&c.claim_id);
            let decision = match &c.decision {
                None => PreviewDecision::MissingClaim,
                Some(PlanDecision::Send(n)) => {
                    // The line as it goes in the letter (the grouping may take the fee off).
                    let grouped = letters
                        .iter()
                        .flat_map(|l| l.claims.iter())
                        .find(|g| g.case_id == c.case_id)
                        .map(|g| &g.notice)
                        .unwrap_or(n);
                    PreviewDecision::Send {
                        line: Box::new(NoticeLine::of(grouped, &self.rules)),
                    }
                }
                Some(PlanDecision::WaitUntil { date, step }) => PreviewDecision::Wait {
                    date: *date,
                    step: *step,
                },
                Some(PlanDecision::Hold(h)) => PreviewDecision::Hold {
                    reason: *h,
                    message_nb: h.message_nb(),
                    message_en: h.message_en(),
                },
                Some(PlanDecision::Done) => PreviewDecision::Done,
            };
            let outcome = match &c.disposition {
                Disposition::Send { .. } => "send".to_string(),
                Disposition::Await => {
                    totals.awaiting_approval += 1;
                    "await_approval".to_string()
                }
                Disposition::Skip(why) => why.to_string(),
                Disposition::Nothing => "nothing".to_string(),
                Disposition::MissingClaim => "missing_claim".to_string(),
            };
            claims.push(PreviewClaim {
                case_id: c.case_id.clone(),
                claim_id: c.claim_id.to_string(),
                customer_id: c.customer_id,
                customer_name: name(c.customer_id),
                invoice_number: claim
                    .and_then(|r| r.state.mirror.as_ref())
                    .and_then(|m| m.invoice_number.clone()),
                decision,
                outcome,
                letter_id: letter_of.get(&c.case_id).map(|s| s.to_string()),
                notice: c.notice.as_ref().map(|n| PreviewNotice {
                    id: n.id.clone(),
                    status: n.status,
                }),
            });
        }
        let letters = letters
            .iter()
            .map(|l| PreviewLetter {
                letter_id: l.letter_id.to_string(),
                customer_id: l.customer_id,
                customer_name: name(l.customer_id),
                step: l.step,
                channel: l.channel,
                language: l.language,
                deadline: l.deadline,
                cases: l.claims.iter().map(|c| c.case_id.clone()).collect(),
                fee: l.fee(),
                total: l.total,
            })
            .collect();
        Ok(Preview {
            account_id: account.clone(),
            date,
            enabled: policy.enabled,
            mode: policy.mode,
            policy_version: version,
            claims,
            letters,
            totals,
        })
    }

    /// The preview of every account of the organization (the accounting office's "what goes
    /// out tomorrow").
    pub async fn preview_org(
        &self,
        org: &OrgId,
        date: NaiveDate,
    ) -> Result<Vec<Preview>, DunningError> {
        let mut out = Vec::new();
        for account in self.store.accounts_of(org).await? {
            out.push(self.preview(org, &account, date).await?);
        }
        Ok(out)
    }

    /// Every notice of a case (each step's), oldest step first.
    pub async fn notices_of_case(
        &self,
        org: &OrgId,
        account: &AccountId,
        case: &CaseId,
    ) -> Result<Vec<Notice>, DunningError> {
        self.require_account(org, account).await?;
        if self.store.get_case(org, account, case).await?.is_none() {
            return Err(DunningError::CaseNotFound);
        }
        let mut notices = self.store.notices_of_case(org, account, case).await?;
        notices.sort_by_key(|n| n.id.step);
        Ok(notices)
    }

    /// The letter of a sent (or uncertain) notice exactly as it was sent: its PDF and a file
    /// name.
    pub async fn notice_pdf(
        &self,
        org: &OrgId,
        account: &AccountId,
        notice: &NoticeId,
    ) -> Result<(Vec<u8>, String), DunningError> {
        self.require_account(org, account).await?;
        let n = self
            .store
            .get_notices(org, account, std::slice::from_ref(notice))
            .await?
            .pop()
            .ok_or(DunningError::NoticeNotFound)?;
        let (Some(letter_id), Some(record)) = (&n.letter_id, &n.record) else {
            return Err(DunningError::LetterNotFound);
        };
        if !matches!(n.status, NoticeStatus::Sent | NoticeStatus::Uncertain) {
            return Err(DunningError::LetterNotFound);
        }
        let letter = self
            .store
            .get_letter(org, account, record.sent, letter_id)
            .await?
            .ok_or(DunningError::LetterNotFound)?;
        let key = letter
            .pdf_key
            .as_deref()
            .ok_or(DunningError::LetterNotFound)?;
        let pdf = self
            .archive
            .get(key)
            .await?
            .ok_or(DunningError::LetterNotFound)?;
        Ok((
            pdf,
            format!("{}-{}.pdf", letter.step.key(), letter.letter_id),
        ))
    }

    /// The account's approval batches, newest first, with what still waits in each.
    pub async fn batches(
        &self,
        org: &OrgId,
        account: &AccountId,
    ) -> Result<Vec<BatchView>, DunningError> {
        self.require_account(org, account).await?;
        let batches = self.store.batches(org, account).await?;
        let active = self.store.active_notices(org, account).await?;
        let mut out: Vec<BatchView> = batches
            .into_iter()
            .map(|b| {
                let mine: Vec<&Notice> =
                    active.iter().filter(|n| n.batch == Some(b.date)).collect();
                let count = |s: NoticeStatus| mine.iter().filter(|n| n.status == s).count() as u32;
                BatchView {
                    id: b.date,
                    created_at: b.created_at,
                    notices: b.notices,
                    awaiting_approval: count(NoticeStatus::AwaitingApproval),
                    approved: count(NoticeStatus::Approved),
                    waiting: mine
                        .into_iter()
                        .filter(|n| n.status == NoticeStatus::AwaitingApproval)
                        .cloned()
                        .collect(),
                }
            })
            .collect();
        out.sort_by(|a, b| b.id.cmp(&a.id));
        Ok(out)
    }

    /// Approves notices waiting in the batch of `batch` (all of them, or some): they go out at
    /// the next run, re-planned for their real send date.
    pub async fn approve(
        &self,
        org: &OrgId,
        account: &AccountId,
        batch: NaiveDate,
        selection: Selection,
        by: &str,
    ) -> Result<ApproveOutcome, DunningError> {
        self.require_account(org, account).await?;
        if by.trim().is_empty() {
            return Err(DunningError::BadRequest {
                field: "by",
                message: "who approves must be named".into(),
            });
        }
        if !self
            .store
            .batches(org, account)
            .await?
            .iter()
            .any(|b| b.date == batch)
        {
            return Err(DunningError::BatchNotFound);
        }
        let mut out = ApproveOutcome::default();
        let candidates: Vec<Notice> = match &selection {
            Selection::All => self
                .store
                .active_notices(org, account)
                .await?
                .into_iter()
                .filter(|n| n.batch == Some(batch) && n.status == NoticeStatus::AwaitingApproval)
                .collect(),
            Selection::Notices(ids) => {
                let found = self.store.get_notices(org, account, ids).await?;
                for id in ids {
                    if !found.iter().any(|n| &n.id == id && n.batch == Some(batch)) {
                        out.not_found.push(id.clone());
                    }
                }
                found
                    .into_iter()
                    .filter(|n| n.batch == Some(batch))
                    .collect()
            }
        };
        for mut n in candidates {
            let mut done = false;
            for _ in 0..3 {
                if n.status != NoticeStatus::AwaitingApproval {
                    out.not_waiting.push((n.id.clone(), n.status));
                    done = true;
                    break;
                }
                let expected = n.version;
                let mut next = n.clone();
                next.approve(by, self.now())?;
                match self.store.put_notice(&next, Some(expected)).await? {
                    Save::Saved => {
                        out.approved.push(next.id.clone());
                        done = true;
                        break;
                    }
                    Save::Conflict => {
                        match self
                            .store
                            .get_notices(org, account, std::slice::from_ref(&n.id))
                            .await?
                            .pop()
                        {
                            Some(fresh) => n = fresh,
                            None => break,
                        }
                    }
                }
            }
            if !done {
                return Err(DunningError::Contention);
            }
        }
        Ok(out)
    }

    /// Runs the account today ("run now"): one run per account and Oslo day. The first request
    /// records the run and queues it; a later one answers the day's run as it stands (and queues
    /// it again while it is only requested: SQS drops the copy within five minutes, the run
    /// record after that).
    pub async fn request_run(
        &self,
        org: &OrgId,
        account: &AccountId,
        by: &str,
    ) -> Result<RunRecord, DunningError> {
        self.require_account(org, account).await?;
        let now = self.now();
        let today = norwegian_date(now);
        let run = RunRecord::requested(
            org.clone(),
            account.clone(),
            today,
            RunTrigger::User { id: by.to_string() },
            now,
        );
        let run = match self.store.put_run(&run, None).await? {
            Save::Saved => run,
            Save::Conflict => self
                .store
                .get_run(org, account, today)
                .await?
                .ok_or(DunningError::Contention)?,
        };
        if run.status == RunStatus::Requested {
            self.queue
                .enqueue(&[DunningJob {
                    org: org.clone(),
                    account_id: account.clone(),
                    date: today,
                    reason: DunningReason::Manual,
                    continuation: 0,
                    requested_at: now,
                }])
                .await?;
        }
        Ok(run)
    }

    /// The day's run of the account, if there is one.
    pub async fn run_of(
        &self,
        org: &OrgId,
        account: &AccountId,
        date: NaiveDate,
    ) -> Result<Option<RunRecord>, DunningError> {
        self.require_account(org, account).await?;
        Ok(self.store.get_run(org, account, date).await?)
    }

    /// The schedule's fan-out: one job for today on the dunning queue per account whose dunning
    /// is on. Returns how many were queued.
    pub async fn fan_out(&self) -> Result<usize, DunningError> {
        let now = self.now();
        let today = norwegian_date(now);
        let jobs: Vec<DunningJob> = self
            .store
            .enabled_accounts()
            .await?
            .into_iter()
            .map(|a| DunningJob {
                org: a.org,
                account_id: a.account_id,
                date: today,
                reason: DunningReason::Scheduled,
                continuation: 0,
                requested_at: now,
            })
            .collect();
        self.queue.enqueue(&jobs).await?;
        tracing::info!(accounts = jobs.len(), %today, "dunning fan-out");
        Ok(jobs.len())
    }

    /// The account's uncertain notices: held for a person, never sent again automatically.
    pub async fn uncertain(
        &self,
        org: &OrgId,
        account: &AccountId,
    ) -> Result<Vec<Notice>, DunningError> {
        self.require_account(org, account).await?;
        Ok(self
            .store
            .active_notices(org, account)
            .await?
            .into_iter()
            .filter(|n| n.status == NoticeStatus::Uncertain)
            .collect())
    }

    /// A person's decision about an uncertain notice. It applies to its whole letter (one
    /// e-mail carried all of the letter's notices): every uncertain notice of the letter becomes
    /// sent (the next run records the effects) or is released (a later run may send it again).
    /// Returns the notices changed.
    pub async fn resolve_uncertain(
        &self,
        org: &OrgId,
        account: &AccountId,
        notice: &NoticeId,
        resolution: Resolution,
        by: &str,
        note: Option<&str>,
    ) -> Result<Vec<Notice>, DunningError> {
        self.require_account(org, account).await?;
        for _ in 0..3 {
            let n = self
                .store
                .get_notices(org, account, std::slice::from_ref(notice))
                .await?
                .pop()
                .ok_or(DunningError::NoticeNotFound)?;
            if n.status != NoticeStatus::Uncertain {
                return Err(NoticeError::InvalidTransition {
                    from: n.status,
                    action: "resolved (it is not uncertain)",
                }
                .into());
            }
            let (Some(letter_id), Some(record)) = (n.letter_id.clone(), n.record.clone()) else {
                return Err(DunningError::LetterNotFound);
            };
            let mut letter = self
                .store
                .get_letter(org, account, record.sent, &letter_id)
                .await?
                .ok_or(DunningError::LetterNotFound)?;
            let ids: Vec<NoticeId> = letter.notice_ids().cloned().collect();
            let notices: Vec<Notice> = self
                .store
                .get_notices(org, account, &ids)
                .await?
                .into_iter()
                .filter(|x| {
                    x.status == NoticeStatus::Uncertain && x.letter_id.as_ref() == Some(&letter_id)
                })
                .collect();
            let now = self.now();
            let expected_letter = letter.version;
            let mut changed = Vec::with_capacity(notices.len());
            for mut x in notices.iter().cloned() {
                match resolution {
                    Resolution::Sent => x.confirm_sent(by, note, now)?,
                    Resolution::Release => x.release(by, note, now)?,
                }
                changed.push(x);
            }
            match resolution {
                Resolution::Sent => {
                    let delivery = changed
                        .first()
                        .and_then(|x| x.delivery.clone())
                        .ok_or(DunningError::Contention)?;
                    letter.mark_sent(delivery);
                }
                Resolution::Release => letter.cancel(),
            }
            if letter.status == LetterStatus::Uncertain {
                return Err(DunningError::Contention);
            }
            let writes: Vec<(&Notice, Option<u64>)> = changed
                .iter()
                .zip(notices.iter())
                .map(|(c, old)| (c, Some(old.version)))
                .collect();
            match self
                .store
                .write_letter(&letter, Some(expected_letter), &writes)
                .await?
            {
                Save::Saved => {
                    tracing::warn!(
                        letter = %letter_id,
                        notices = changed.len(),
                        by,
                        resolution = ?resolution,
                        "uncertain letter resolved by a person"
                    );
                    return Ok(changed);
                }
                Save::Conflict => continue,
            }
        }
        Err(DunningError::Contention)
    }
}

/// The date of a batch id (`YYYY-MM-DD`), for the API.
pub fn parse_batch_id(s: &str) -> Result<NaiveDate, DunningError> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| DunningError::BatchNotFound)
}

/// The day's batch of an account (approve mode).
fn batch_record(
    org: &OrgId,
    account: &AccountId,
    date: NaiveDate,
    notices: u32,
    at: DateTime<Utc>,
) -> BatchRecord {
    BatchRecord {
        org: org.clone(),
        account_id: account.clone(),
        date,
        created_at: at,
        notices,
    }
}

/// Helper for the report.
fn count(map: &mut BTreeMap<String, u32>, key: &str) {
    RunReport::count(map, key)
}
