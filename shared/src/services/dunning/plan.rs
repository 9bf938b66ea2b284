//! Planning one account for one day, from what the store read: the same code for the run and
//! for the preview (which only does not write). Pure: no I/O, `today` passed in.
//!
//! For every open or paused case: the planner's decision (`domain::collection::dunning::plan`)
//! with the letters already on the claim (the case's timeline, and sent notices whose effects
//! are not recorded yet), then what happens to it today given the notice that may exist for
//! (case, step) and the policy's mode ([`Disposition`]). Active notices the plan no longer
//! supports are cancelled, with the reason.

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;

use crate::adapters::store::claims::StoredCase;
use crate::adapters::store::dunning::DunningBook;
use crate::domain::case::CaseId;
use crate::domain::claim::ClaimId;
use crate::domain::collection::dunning::customer::CustomerView;
use crate::domain::collection::dunning::{
    compensation_claimed, plan, CancelReason, DunningPolicy, LetterPlan, Mode, Notice,
    NoticeRecord, NoticeStatus, PlanDecision, PlanInput, PlannedNotice, Step,
};
use crate::domain::collection::letters::{DebtorKind, SentLetter};
use crate::domain::collection::rulebook::Rulebook;

/// What happens to a case's plan today.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Disposition {
    /// Goes into a letter today (`existing`: the notice already recorded for this step).
    Send { existing: Option<Notice> },
    /// Approve mode: a notice waits in today's batch for a user.
    Await,
    /// Due today, but left as it is (`sent`, `uncertain`, `sending`, `awaiting_approval`).
    Skip(&'static str),
    /// Nothing is due today (wait, hold, done).
    Nothing,
    /// The case's claim was not found (the sync's records are inconsistent; nothing is sent).
    MissingClaim,
}

/// One case's plan for the day.
#[derive(Debug, Clone)]
pub struct CasePlan {
    pub case_id: CaseId,
    pub claim_id: ClaimId,
    pub customer_id: i64,
    /// `None` when the claim is missing.
    pub decision: Option<PlanDecision>,
    /// The active notice of the planned step (or of any step, when nothing is due).
    pub notice: Option<Notice>,
    pub disposition: Disposition,
}

/// The day's plan of an account.
#[derive(Debug, Clone, Default)]
pub struct AccountPlan {
    /// One per open or paused case, by case id.
    pub cases: Vec<CasePlan>,
    /// Active notices the plan no longer supports.
    pub cancel: Vec<(Notice, CancelReason)>,
}

impl AccountPlan {
    /// The notices to send today, as the grouping takes them.
    pub fn to_send(
        &self,
        account: &crate::domain::setup::AccountId,
    ) -> Vec<(
        crate::domain::collection::dunning::CaseRef,
        i64,
        PlannedNotice,
    )> {
        self.cases
            .iter()
            .filter_map(|c| match (&c.disposition, &c.decision) {
                (Disposition::Send { .. }, Some(PlanDecision::Send(n))) => Some((
                    crate::domain::collection::dunning::CaseRef {
                        account_id: account.clone(),
                        case_id: c.case_id.clone(),
                    },
                    c.customer_id,
                    n.clone(),
                )),
                _ => None,
            })
            .collect()
    }

    /// Counts per decision (`send`, `wait`, `done`, `hold`, `missing_claim`) and per hold reason.
    pub fn counts(&self) -> (BTreeMap<String, u32>, BTreeMap<String, u32>) {
        let mut decisions = BTreeMap::new();
        let mut holds = BTreeMap::new();
        for c in &self.cases {
            let key = match &c.decision {
                None => "missing_claim",
                Some(PlanDecision::Send(_)) => "send",
                Some(PlanDecision::WaitUntil { .. }) => "wait",
                Some(PlanDecision::Done) => "done",
                Some(PlanDecision::Hold(h)) => {
                    *holds.entry(h.code().to_string()).or_insert(0) += 1;
                    "hold"
                }
            };
            *decisions.entry(key.to_string()).or_insert(0) += 1;
        }
        (decisions, holds)
    }
}

/// Whether a notice in this status may still be cancelled by a re-plan (nothing has left).
fn cancellable(status: NoticeStatus) -> bool {
    matches!(
        status,
        NoticeStatus::AwaitingApproval | NoticeStatus::Approved | NoticeStatus::Planned
    )
}

fn replanned(decision: &PlanDecision, planned_step: Option<Step>) -> CancelReason {
    match decision {
        PlanDecision::Hold(h) => CancelReason::Replanned {
            decision: h.code().to_string(),
            message_nb: h.message_nb(),
            message_en: h.message_en(),
        },
        PlanDecision::WaitUntil { date, step } => CancelReason::Replanned {
            decision: "wait".into(),
            message_nb: format!(
                "{} er først aktuelt {}",
                step.title_nb(),
                date.format("%d.%m.%Y")
            ),
            message_en: format!("the {} is due only on {date}", step.key()),
        },
        PlanDecision::Done => CancelReason::Replanned {
            decision: "done".into(),
            message_nb: "ingen flere trinn å sende".into(),
            message_en: "no step is left to send".into(),
        },
        PlanDecision::Send(_) => CancelReason::Replanned {
            decision: "other_step".into(),
            message_nb: format!(
                "planen sender nå et annet trinn ({})",
                planned_step.map_or("", |s| s.title_nb())
            ),
            message_en: format!(
                "the plan now sends another step ({})",
                planned_step.map_or("", |s| s.key())
            ),
        },
    }
}

fn case_closed() -> CancelReason {
    CancelReason::Replanned {
        decision: "case_closed".into(),
        message_nb: "saken er lukket".into(),
        message_en: "the case is closed".into(),
    }
}

/// The letters on a claim for the planner: the notices on the case's timeline, and sent
/// notices whose effects are not recorded yet (one record per letter).
fn records<'a>(case: &'a StoredCase, active: &'a [&'a Notice]) -> Vec<&'a NoticeRecord> {
    let mut out: Vec<&NoticeRecord> = case.case.notice_records().collect();
    for n in active {
        if let Some(r) = n.sent_record() {
            if !out
                .iter()
                .any(|o| o.letter_id == r.letter_id && o.step == r.step)
            {
                out.push(r);
            }
        }
    }
    out
}

/// Plans every open or paused case of the account for `today` (see the module comment).
pub fn plan_account(
    book: &DunningBook,
    active: &[Notice],
    policy: &DunningPolicy,
    rules: &Rulebook,
    today: NaiveDate,
) -> AccountPlan {
    let mut by_case: HashMap<&CaseId, Vec<&Notice>> = HashMap::new();
    for n in active {
        by_case.entry(&n.id.case_id).or_default().push(n);
    }
    let mut cases: Vec<&StoredCase> = book.cases.iter().collect();
    cases.sort_by(|a, b| a.case.id.cmp(&b.case.id));
    let mut out = AccountPlan::default();
    let none: Vec<&Notice> = Vec::new();
    for stored in &cases {
        let case = &stored.case;
        let notices = by_case.get(&case.id).unwrap_or(&none);
        let Some(claim) = book.claims.get(&case.claim_id) else {
            out.cases.push(CasePlan {
                case_id: case.id.clone(),
                claim_id: case.claim_id.clone(),
                customer_id: case.customer_id,
                decision: None,
                notice: None,
                disposition: Disposition::MissingClaim,
            });
            continue;
        };
        let customer = book.customers.get(&case.customer_id);
        let view = match customer {
            Some(c) => CustomerView::of(
                &c.customer,
                c.registry.as_ref().map_or(&[][..], |r| &r.stop_reasons[..]),
            ),
            // Not mirrored (an inconsistency): no address to write to, no standardkompensasjon.
            None => CustomerView {
                debtor_kind: DebtorKind::Consumer,
                stop_reasons: &[],
                email: None,
                postal_address: None,
            },
        };
        let recs = records(stored, notices);
        let letters: Vec<SentLetter> = recs.iter().flat_map(|r| r.sent_letters()).collect();
        let owned: Vec<NoticeRecord> = recs.iter().map(|r| (*r).clone()).collect();
        let decision = plan(&PlanInput {
            claim: &claim.state,
            case,
            customer: view,
            letters: &letters,
            compensation_claimed: compensation_claimed(&owned),
            policy,
            book: rules,
            today,
        });
        let step = match &decision {
            PlanDecision::Send(n) => Some(n.step),
            _ => None,
        };
        // Active notices of other steps (or of any step when nothing is due) that nothing has
        // left for: the plan no longer supports them.
        for n in notices.iter() {
            if Some(n.id.step) != step && cancellable(n.status) {
                out.cancel.push(((*n).clone(), replanned(&decision, step)));
            }
        }
        let existing = step.and_then(|s| notices.iter().find(|n| n.id.step == s).copied());
        let disposition = match (step, existing.map(|n| n.status)) {
            (None, _) => Disposition::Nothing,
            (Some(_), None) => match policy.mode {
                Mode::Automatic => Disposition::Send { existing: None },
                Mode::Approve => Disposition::Await,
            },
            (Some(_), Some(st)) => match (st, policy.mode) {
                (NoticeStatus::Sent, _) => Disposition::Skip("sent"),
                (NoticeStatus::Uncertain, _) => Disposition::Skip("uncertain"),
                (NoticeStatus::Sending, _) => Disposition::Skip("sending"),
                (NoticeStatus::AwaitingApproval, Mode::Approve) => {
                    Disposition::Skip("awaiting_approval")
                }
                (NoticeStatus::Cancelled, Mode::Approve) => Disposition::Await,
                (
                    NoticeStatus::AwaitingApproval
                    | NoticeStatus::Approved
                    | NoticeStatus::Planned
                    | NoticeStatus::Cancelled,
                    _,
                ) => Disposition::Send {
                    existing: existing.cloned(),
                },
            },
        };
        out.cases.push(CasePlan {
            case_id: case.id.clone(),
            claim_id: case.claim_id.clone(),
            customer_id: case.customer_id,
            decision: Some(decision),
            notice: existing.or_else(|| notices.first().copied()).cloned(),
            disposition,
        });
    }
    // Active notices of cases that are closed (or gone): nothing more goes out for them.
    let open: std::collections::HashSet<&CaseId> = cases.iter().map(|c| &c.case.id).collect();
    for n in active {
        if !open.contains(&n.id.case_id) && cancellable(n.status) {
            out.cancel.push((n.clone(), case_closed()));
        }
    }
    out
}

/// The most notices in one letter: a letter and its notices move in one transaction of at most
/// 100 items.
pub const MAX_NOTICES_PER_LETTER: usize = 99;

/// Splits letters with more claims than one transaction takes into letters of at most `max`
/// claims (oldest first; the one fee stays on the first), each with its own id.
pub fn split_letters(letters: Vec<LetterPlan>, max: usize) -> Vec<LetterPlan> {
    use crate::domain::collection::dunning::LetterId;
    use crate::domain::Money;
    let mut out = Vec::with_capacity(letters.len());
    for l in letters {
        if l.claims.len() <= max {
            out.push(l);
            continue;
        }
        for chunk in l.claims.chunks(max.max(1)) {
            let ids: Vec<&CaseId> = chunk.iter().map(|c| &c.case_id).collect();
            out.push(LetterPlan {
                letter_id: LetterId::of(&l.account_id, l.customer_id, l.step, l.send_date, &ids),
                claims: chunk.to_vec(),
                total: chunk
                    .iter()
                    .fold(Money::ZERO, |a, c| a + c.notice.amounts.total),
                ..l.clone()
            });
        }
    }
    out
}
