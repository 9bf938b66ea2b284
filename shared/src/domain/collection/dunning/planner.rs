//! The planner: for one claim on one day, send the next step, wait for its day, hold (with a
//! named reason), or nothing is left to send.
//!
//! Pure: the inputs are plain borrowed values the service builds from its stored records
//! ([`PlanInput`]); `today` is passed in. The debtor's objection is the case's
//! ([`Case::objection`]), and limitation is the limitation radar's computation
//! ([`time_barred_since`]): one source for each. One call decides one claim: never more than one step
//! per claim per run. A run that was missed catches up: a step is due *on or after* its day, and
//! its deadline counts from the real send date (today). Nothing on the hot path allocates
//! (rules are `Copy` [`RuleRef`]s; sentences are made at the edges), except the balance history
//! of a claim with more than [`INLINE_CREDITS`] credits and the limitation of a claim whose first
//! limitation period has run out.
//!
//! The order of the holds: disabled, case closed, case paused, claim not collectible, needs
//! review, registry stop, objection, limitation, below minimum; then the step logic (the next
//! step and its day, the channel, the rulebook's decision, fee, standardkompensasjon, interest).

use super::customer::{is_deliverable, is_valid_email, CustomerView, StopReasons};
use super::hold::{HoldReason, ReviewReason};
use super::policy::{Chain, DunningPolicy};
use super::{Channel, Language, Step};
use crate::domain::case::{Case, CaseStatus};
use crate::domain::claim::ClaimState;
use crate::domain::collection::calendar::next_business_day_on_or_after;
use crate::domain::collection::interest::{BalanceChange, InterestError};
use crate::domain::collection::legal::radar::time_barred_since;
use crate::domain::collection::letters::{
    ClaimFacts, DebtorKind, LetterDecision, LetterKind, Objection, Reason, SentLetter,
};
use crate::domain::collection::rulebook::{add_days, RuleRef, Rulebook, Table};
use crate::domain::money::Money;
use chrono::NaiveDate;
use rust_decimal::Decimal;

#[cfg(test)]
mod tests;

/// Credits sorted on the stack when building a claim's balance history; more go to the heap.
pub const INLINE_CREDITS: usize = 16;

/// Everything the planner reads, borrowed.
#[derive(Debug, Clone, Copy)]
pub struct PlanInput<'a> {
    pub claim: &'a ClaimState,
    pub case: &'a Case,
    pub customer: CustomerView<'a>,
    /// The letters sent on the claim, from any source (Inndrive's notices, rebuilt with
    /// [`super::record::NoticeRecord::sent_letters`], and Tripletex's own reminders), any order.
    /// Letters dated after `today` are ignored.
    pub letters: &'a [SentLetter],
    /// The standardkompensasjon an earlier notice claimed
    /// ([`super::record::compensation_claimed`]).
    pub compensation_claimed: Option<Money>,
    pub policy: &'a DunningPolicy,
    pub book: &'a Rulebook,
    pub today: NaiveDate,
}

/// The planner's answer for one claim today.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlanDecision {
    Send(PlannedNotice),
    /// The next step is due on `date` (a later run sends it).
    WaitUntil {
        date: NaiveDate,
        step: Step,
    },
    Hold(HoldReason),
    /// No active step is left after the last one sent (the legal steps come next; another part
    /// decides when a claim is ready for them).
    Done,
}

/// A notice to send today.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedNotice {
    pub step: Step,
    pub send_date: NaiveDate,
    /// The last day to pay: the send date plus the step's deadline, never below the law's.
    pub deadline: NaiveDate,
    /// The channel after falling back to what the customer can receive.
    pub channel: Channel,
    /// The step's channel in the policy.
    pub requested_channel: Channel,
    pub language: Language,
    /// The invoice's due date, and the same moved to a business day.
    pub due_date: NaiveDate,
    pub effective_due_date: NaiveDate,
    pub amounts: NoticeAmounts,
    /// The rules the decision rests on (deadlines, fee data, § 1-3 limits, limitation,
    /// standardkompensasjon, the inkasso regime); the interest's rate entries are in
    /// [`InterestLine::rules`]. All of them: [`PlannedNotice::rule_refs`].
    pub rules: NoticeRules,
    /// Why the letter carries its fee, or none.
    pub fee_reason: Reason,
}

/// The amounts of one claim in a notice; every computed amount carries its rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NoticeAmounts {
    pub principal_outstanding: Money,
    /// Forsinkelsesrente from the first interest day to the send date (`None`: interest off).
    pub interest: Option<InterestLine>,
    /// The interest not demanded before: record it in `ChargesDemanded` (never negative).
    pub interest_increment: Money,
    /// The interest owed after this notice: earlier interest outstanding plus the increment.
    pub interest_due: Money,
    pub earlier_fees_outstanding: Money,
    /// This letter's fee (`None`: no fee, see [`PlannedNotice::fee_reason`]).
    pub fee: Option<FeeLine>,
    /// The standardkompensasjon claimed with this letter (business debtors, once).
    pub compensation: Option<FeeLine>,
    /// Principal + earlier fees + interest due + fee + compensation.
    pub total: Money,
}

impl NoticeAmounts {
    /// The fees this notice adds (fee and compensation, after offsets): record them in
    /// `ChargesDemanded`.
    pub fn fees_demanded(&self) -> Money {
        self.fee.map_or(Money::ZERO, |f| f.amount)
            + self.compensation.map_or(Money::ZERO, |c| c.amount)
    }

    fn compute_total(&mut self) {
        self.total = self.principal_outstanding
            + self.earlier_fees_outstanding
            + self.interest_due
            + self.fees_demanded();
    }
}

/// Forsinkelsesrente in a notice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InterestLine {
    /// The total from `from_date` through `to_date`, rounded once.
    pub amount: Money,
    /// The first interest day (the day after the business-day due date).
    pub from_date: NaiveDate,
    /// The send date (inclusive).
    pub to_date: NaiveDate,
    pub days: u32,
    /// The first and last forsinkelsesrente entries used (a range of the table).
    pub rules: Option<(RuleRef, RuleRef)>,
}

/// One rate of an interest line, with the days it applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RatePeriod {
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// Percent per year.
    pub rate_percent: Decimal,
    pub rule: RuleRef,
}

impl InterestLine {
    /// The rates in force over the line's days, each clipped to them (for the letter's
    /// "rate(s) and from-date").
    pub fn rates<'b>(&self, book: &'b Rulebook) -> impl Iterator<Item = RatePeriod> + 'b {
        let (from, to) = (self.from_date, self.to_date);
        let range = self.rules.map_or(1..=0, |(a, b)| a.index..=b.index);
        range.filter_map(move |i| {
            let e = book.rates().get(usize::from(i))?;
            let start = e.meta.valid_from.max(from);
            let end = e.meta.valid_to.map_or(to, |t| t.min(to));
            (start <= end).then_some(RatePeriod {
                from: start,
                to: end,
                rate_percent: e.rate_percent,
                rule: RuleRef {
                    table: Table::Forsinkelsesrente,
                    index: i,
                },
            })
        })
    }
}

/// A fee or the standardkompensasjon in a notice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeeLine {
    /// What this letter adds (after the offset between fees and standardkompensasjon).
    pub amount: Money,
    /// The statutory amount before the offset (a fee: record it in `SentLetter::fee`).
    pub nominal: Money,
    /// Fee: inkassosats, fee fractions, rounding. Compensation: its half-year entry.
    pub rules: [Option<RuleRef>; 3],
}

impl FeeLine {
    pub fn rule_refs(&self) -> impl Iterator<Item = RuleRef> + '_ {
        self.rules.iter().flatten().copied()
    }
}

/// The rules of a notice (fixed capacity, `Copy`, no duplicates).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NoticeRules {
    items: [Option<RuleRef>; 16],
}

impl NoticeRules {
    fn new() -> Self {
        Self { items: [None; 16] }
    }

    fn push(&mut self, r: RuleRef) {
        for slot in self.items.iter_mut() {
            match slot {
                Some(x) if *x == r => return,
                Some(_) => {}
                None => {
                    *slot = Some(r);
                    return;
                }
            }
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = RuleRef> + '_ {
        self.items.iter().flatten().copied()
    }
}

impl PlannedNotice {
    /// Every rule the notice rests on: [`PlannedNotice::rules`] and each forsinkelsesrente entry
    /// of the interest line. Resolve with [`Rulebook::tag`].
    pub fn rule_refs(&self) -> impl Iterator<Item = RuleRef> + '_ {
        let interest = self
            .amounts
            .interest
            .and_then(|i| i.rules)
            .map_or(1..=0, |(a, b)| a.index..=b.index)
            .map(|index| RuleRef {
                table: Table::Forsinkelsesrente,
                index,
            });
        self.rules.iter().chain(interest)
    }

    /// The letters of the rulebook this notice is, as they are recorded once it is sent (the
    /// betalingsoppfordring step is also the § 4-18 varsel).
    pub fn sent_letters(&self) -> impl Iterator<Item = SentLetter> {
        let fee = self.amounts.fee.map_or(Money::ZERO, |f| f.nominal);
        sent_letters(self.step, self.send_date, self.deadline, fee)
    }

    /// Takes this claim's fee off the letter (one fee per letter, kept on another claim).
    pub fn drop_fee(&mut self, reason: Reason) {
        if self.amounts.fee.take().is_some() {
            self.fee_reason = reason;
            self.amounts.compute_total();
        }
    }

    /// Moves the deadline later (a letter for several claims states one deadline).
    pub fn extend_deadline(&mut self, deadline: NaiveDate) {
        self.deadline = self.deadline.max(deadline);
    }
}

/// The letters a step sends, as recorded: the step's letter with the fee (before any offset),
/// and for the betalingsoppfordring also the § 4-18 varsel (no fee).
pub(crate) fn sent_letters(
    step: Step,
    sent: NaiveDate,
    deadline: NaiveDate,
    fee_nominal: Money,
) -> impl Iterator<Item = SentLetter> {
    step.letter_kinds()
        .iter()
        .enumerate()
        .map(move |(i, kind)| SentLetter {
            kind: *kind,
            sent,
            deadline: Some(deadline),
            fee: if i == 0 { fee_nominal } else { Money::ZERO },
        })
}

/// Plans one claim for `input.today`.
pub fn plan(input: &PlanInput<'_>) -> PlanDecision {
    match plan_or_hold(input) {
        Ok(d) => d,
        Err(hold) => PlanDecision::Hold(hold),
    }
}

fn plan_or_hold(inp: &PlanInput<'_>) -> Result<PlanDecision, HoldReason> {
    let (policy, book, today) = (inp.policy, inp.book, inp.today);

    // 1. The holds, in order.
    if !policy.enabled {
        return Err(HoldReason::DunningDisabled);
    }
    match &inp.case.status {
        CaseStatus::Closed { .. } => return Err(HoldReason::CaseClosed),
        CaseStatus::Paused { until, .. } => return Err(HoldReason::CasePaused { until: *until }),
        CaseStatus::Open { .. } => {}
    }
    let claim = inp.claim;
    let mirror = match &claim.mirror {
        Some(m) if claim.status.is_collectible() => m,
        _ => {
            return Err(HoldReason::NotCollectible {
                status: claim.status,
            })
        }
    };
    let amounts = &claim.amounts;
    if !amounts.pending_review.is_zero() {
        return Err(HoldReason::NeedsReview {
            reason: ReviewReason::CreditPendingReview {
                amount: amounts.pending_review,
            },
        });
    }
    if mirror.due_date_estimated {
        return Err(HoldReason::NeedsReview {
            reason: ReviewReason::DueDateEstimated,
        });
    }
    let stops = StopReasons::of(inp.customer.stop_reasons);
    if !stops.is_empty() {
        return Err(HoldReason::RegistryStop { reasons: stops });
    }
    // The case is the one source of the objection (recorded, assessed and corrected there).
    let objection = inp.case.objection();
    if let Some(o) = objection {
        if !o.obviously_groundless && o.raised_on <= today {
            return Err(HoldReason::DebtorObjected {
                raised_on: o.raised_on,
            });
        }
    }
    // Limitation: the same computation as the limitation radar (part payments, the case's
    // acknowledgements and filed legal step).
    let limitation_rule = match time_barred_since(book, claim, inp.case, mirror.due_date, today)
        .map_err(|gap| HoldReason::RuleGap { gap })?
    {
        (_, Some(since)) => return Err(HoldReason::TimeBarred { since }),
        (rule, None) => rule,
    };
    if amounts.outstanding < policy.minimum_amount {
        return Err(HoldReason::BelowMinimum {
            owed: amounts.outstanding,
            minimum: policy.minimum_amount,
        });
    }

    // 2. The next step and its day.
    let letters = || inp.letters.iter().filter(move |l| l.sent <= today);
    let last_step = letters().filter_map(|l| Step::of_letter(l.kind)).max();
    let Some(step) = policy
        .active_steps()
        .find(|s| last_step.is_none_or(|last| *s > last))
    else {
        return Ok(PlanDecision::Done);
    };
    if policy.chain == Chain::OnlyBetalingsoppfordring
        && !letters().any(|l| matches!(l.kind, LetterKind::Purring | LetterKind::Inkassovarsel))
    {
        return Err(HoldReason::NoPriorNotice);
    }
    let effective_due = next_business_day_on_or_after(mirror.due_date);
    // After the latest deadline any letter gave (a letter without one: its send date).
    let base = letters()
        .map(|l| l.deadline.unwrap_or(l.sent))
        .max()
        .map_or(effective_due, |d| d.max(effective_due));
    let sp = policy.step(step);
    // One step a day: never on the day a letter already went (a deadline of 0 days under an
    // invalid policy would otherwise let the next step follow within the hour).
    let after_last_letter = letters().map(|l| add_days(l.sent, 1)).max();
    let due_on = add_days(base, u32::from(sp.days_after)).max(after_last_letter.unwrap_or(base));
    if today < due_on {
        return Ok(PlanDecision::WaitUntil { date: due_on, step });
    }

    // 3. How it reaches the debtor.
    let channel = resolve_channel(sp.channel, &inp.customer).ok_or(HoldReason::NoChannel)?;

    // 4. Standardkompensasjon (business debtors only): claimed once, by the first notice.
    let earlier_fees = letters().fold(Money::ZERO, |acc, l| acc + l.fee);
    let (compensation_claimed, compensation) = match inp.customer.debtor_kind {
        DebtorKind::Consumer => (None, None),
        DebtorKind::Business => match inp.compensation_claimed {
            Some(c) => (Some(c), None),
            None if policy.standardkompensasjon => {
                match book
                    .standardkompensasjon(DebtorKind::Business, mirror.due_date)
                    .map_err(|gap| HoldReason::RuleGap { gap })?
                {
                    Some((c, rule)) => (
                        Some(c),
                        Some(FeeLine {
                            amount: c.max(earlier_fees) - earlier_fees,
                            nominal: c,
                            rules: [Some(rule), None, None],
                        }),
                    ),
                    None => (None, None),
                }
            }
            None => (None, None),
        },
    };

    // 5. The rulebook's decision for today. Under the new inkassolov a fee-free purring is a
    // reminder like the påminnelse (see docs/dunning.md).
    let facts = ClaimFacts {
        due_date: mirror.due_date,
        principal: mirror.principal,
        debtor: inp.customer.debtor_kind,
        letters: inp.letters,
        objection,
        compensation_claimed,
    };
    let kind = if step == Step::Purring && !sp.fee && book.new_law_in_force_on(today) {
        LetterKind::Paminnelse
    } else {
        step.letter_kind()
    };
    let decision = match decide(book, &facts, kind, step, today, objection)? {
        Ok(d) => d,
        Err(not_today) => return Ok(not_today),
    };
    let varsel = if step == Step::Betalingsoppfordring {
        match decide(book, &facts, LetterKind::Varsel418, step, today, objection)? {
            Ok(v) => Some(v),
            Err(not_today) => return Ok(not_today),
        }
    } else {
        None
    };

    // 6. The fee: when the policy wants it and the law allows it today.
    let fee_possible = !decision.fee_nominal.is_zero();
    let (fee, fee_reason) = match (fee_possible, sp.fee) {
        (true, true) => (
            Some(FeeLine {
                amount: decision.fee,
                nominal: decision.fee_nominal,
                rules: fee_rules(&decision),
            }),
            decision.reason,
        ),
        (true, false) => (None, Reason::FeeNotInPolicy),
        (false, _) => (None, decision.reason),
    };

    // 7. Forsinkelsesrente on the principal's balance history, to the send date.
    let (interest, interest_increment) = if policy.interest {
        let total = with_balance_history(claim, mirror.principal, today, |changes| {
            book.interest_total_on_balances(mirror.due_date, mirror.principal, changes, today)
        })
        .map_err(|e| match e {
            InterestError::Gap(gap) => HoldReason::RuleGap { gap },
            InterestError::NegativeBalance
            | InterestError::ChangesOutOfOrder
            | InterestError::Overflow => HoldReason::NeedsReview {
                reason: ReviewReason::InterestNotComputable,
            },
        })?;
        let increment = total
            .total
            .checked_sub(amounts.interest_demanded)
            .map_or(Money::ZERO, |m| m.max(Money::ZERO));
        (
            Some(InterestLine {
                amount: total.total,
                from_date: add_days(effective_due, 1),
                to_date: today,
                days: total.days,
                rules: total.rules,
            }),
            increment,
        )
    } else {
        (None, Money::ZERO)
    };

    // 8. The deadline: the policy's, never below the law's.
    let legal_days = match step {
        Step::Purring if !policy.purring_needs_long_deadline() => 0,
        Step::Paminnelse | Step::Purring | Step::Inkassovarsel | Step::Betalingsoppfordring => {
            decision
                .deadline_days
                .max(varsel.map_or(0, |v| v.deadline_days))
        }
    };
    let deadline = add_days(today, u32::from(sp.deadline_days).max(legal_days));

    let mut rules = NoticeRules::new();
    for r in decision.rules.iter() {
        rules.push(r);
    }
    if let Some(v) = &varsel {
        for r in v.rules.iter() {
            rules.push(r);
        }
    }
    if let Some(c) = &compensation {
        for r in c.rule_refs() {
            rules.push(r);
        }
    }
    rules.push(limitation_rule);

    let mut amounts = NoticeAmounts {
        principal_outstanding: amounts.principal_outstanding,
        interest,
        interest_increment,
        interest_due: amounts.interest_outstanding + interest_increment,
        earlier_fees_outstanding: amounts.fees_outstanding,
        fee,
        compensation,
        total: Money::ZERO,
    };
    amounts.compute_total();
    Ok(PlanDecision::Send(PlannedNotice {
        step,
        send_date: today,
        deadline,
        channel,
        requested_channel: sp.channel,
        language: Language::for_address(inp.customer.postal_address),
        due_date: mirror.due_date,
        effective_due_date: effective_due,
        amounts,
        rules,
        fee_reason,
    }))
}

/// The rulebook's decision, or (`Ok(Err(..))`) what the planner does when the letter may not go
/// today: wait for its first lawful day, or hold. `Err` is a rule gap.
fn decide(
    book: &Rulebook,
    facts: &ClaimFacts<'_>,
    kind: LetterKind,
    step: Step,
    today: NaiveDate,
    objection: Option<Objection>,
) -> Result<Result<LetterDecision, PlanDecision>, HoldReason> {
    let d = book
        .decide_letter(facts, kind, today)
        .map_err(|gap| HoldReason::RuleGap { gap })?;
    Ok(match d.reason {
        Reason::NotOverdue => Err(PlanDecision::WaitUntil {
            date: d.earliest_send_date.unwrap_or(add_days(today, 1)),
            step,
        }),
        Reason::NeedsMissedDeadline => Err(match d.earliest_send_date {
            Some(date) if date > today => PlanDecision::WaitUntil { date, step },
            _ => PlanDecision::Hold(HoldReason::NoPriorNotice),
        }),
        Reason::DebtorObjected => Err(PlanDecision::Hold(HoldReason::DebtorObjected {
            raised_on: objection.map_or(today, |o| o.raised_on),
        })),
        Reason::FeeAllowed
        | Reason::NoFeeForThisLetter
        | Reason::TooEarlyForFee
        | Reason::FeeLimitReached
        | Reason::SecondFeeNeedsMissedDeadline
        | Reason::OffsetByCompensation
        | Reason::FeeNotInPolicy
        | Reason::OneFeePerLetter => Ok(d),
    })
}

/// The fee's own rules out of the decision's: the inkassosats, the fractions, the rounding.
fn fee_rules(d: &LetterDecision) -> [Option<RuleRef>; 3] {
    let find = |t: Table| d.rules.iter().find(|r| r.table == t);
    [
        find(Table::Inkassosats),
        find(Table::FeeFractions),
        find(Table::FeeRounding),
    ]
}

/// The step's channel, falling back to what the customer can receive: no usable e-mail → letter;
/// no postal address → e-mail; neither → `None`.
fn resolve_channel(wanted: Channel, customer: &CustomerView<'_>) -> Option<Channel> {
    let email = customer.email.is_some_and(is_valid_email);
    let post = customer.postal_address.is_some_and(is_deliverable);
    match (wanted.uses_email() && email, wanted.uses_letter() && post) {
        (true, true) => Some(Channel::EmailAndLetter),
        (true, false) => Some(Channel::Email),
        (false, true) => Some(Channel::Letter),
        (false, false) if post => Some(Channel::Letter),
        (false, false) if email => Some(Channel::Email),
        (false, false) => None,
    }
}

/// Calls `f` with the principal's balance history before `until` (in date order): after each
/// credit day the balance is `max(0, principal − credited − paid)` through that day.
fn with_balance_history<R>(
    claim: &ClaimState,
    principal: Money,
    until: NaiveDate,
    f: impl FnOnce(&[BalanceChange]) -> R,
) -> R {
    let mut reductions = [(NaiveDate::MIN, Money::ZERO); INLINE_CREDITS];
    let mut n = 0;
    for c in claim.counted_credits().filter(|c| c.date < until) {
        if n == INLINE_CREDITS {
            let mut all: Vec<(NaiveDate, Money)> = claim
                .counted_credits()
                .filter(|c| c.date < until)
                .map(|c| (c.date, c.paid + c.credited))
                .collect();
            all.sort_by_key(|r| r.0);
            let changes: Vec<BalanceChange> = balances(principal, &all).collect();
            return f(&changes);
        }
        reductions[n] = (c.date, c.paid + c.credited);
        n += 1;
    }
    let reductions = &mut reductions[..n];
    reductions.sort_unstable_by_key(|r| r.0);
    let mut changes = [BalanceChange {
        date: NaiveDate::MIN,
        balance: Money::ZERO,
    }; INLINE_CREDITS];
    for (slot, c) in changes.iter_mut().zip(balances(principal, reductions)) {
        *slot = c;
    }
    f(&changes[..n])
}

/// The principal's balance after each reduction (payments and credits, in date order).
pub(crate) fn balances(
    principal: Money,
    reductions: &[(NaiveDate, Money)],
) -> impl Iterator<Item = BalanceChange> + '_ {
    let mut reduced = Money::ZERO;
    reductions.iter().map(move |(date, amount)| {
        reduced = reduced + *amount;
        BalanceChange {
            date: *date,
            balance: (principal - reduced).max(Money::ZERO),
        }
    })
}
