//! The limitation radar (foreldelse): per claim the date it becomes time-barred, the warnings
//! before it, and what happens after it.
//!
//! - The date: the claim's due date + 3 years (foreldelsesloven §§ 2–3), recomputed from every
//!   interrupting event by [`Rulebook::limitation`]: a part payment (the claim's credits) or an
//!   acknowledgement (recorded on the case) starts a new period (§ 14); a legal step filed
//!   (recorded on the case) suspends it while it is pursued (§§ 15, 17).
//! - Interest already lost, day by day: [`Rulebook::time_barred_interest`].
//! - Warnings at 6, 3 and 1 month before the last day ("file before …"): each a distinct key
//!   ([`super::keys::limitation_warning`]) so it is sent once; a claim first seen late gets only
//!   the most urgent warning due.
//! - Past the date: the planner holds the claim from every letter and fee
//!   (`HoldReason::TimeBarred`), computed by [`time_barred_since`], the same function the radar
//!   reads ([`claim_limitation`]).
//! - Not modelled: the extension for ignorance of the claim or the debtor (§ 10) and the extra
//!   year after a legal step that ended without a decision or a claim reported in an insolvency
//!   (§ 22, § 17). A claim where they may apply is held for review with the reason
//!   ([`LimitationReview`]): the computed date may be too early, and a person decides.
//!
//! The claims come from the caller as [`RadarInput`]s; [`scan`] answers "time-barred within N
//! days" across an organization's accounts, soonest first (built on
//! [`Rulebook::expiring_within`]).

use crate::domain::case::Case;
use crate::domain::claim::ClaimState;
use crate::domain::collection::dunning::customer::{is_deliverable, StopReasons};
use crate::domain::collection::limitation::{
    Interruption, InterruptionKind, Limitation, LimitationState,
};
use crate::domain::collection::rulebook::{add_months, RuleGap, RuleRef, Rulebook};
use crate::domain::ledger::registry::StopReason;
use crate::domain::ledger::PostalAddress;
use crate::domain::money::Money;
use crate::domain::InterestError;
use chrono::{Months, NaiveDate};
use serde::{Deserialize, Serialize};

/// How long before the last day a warning goes out.
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
#[serde(rename_all = "camelCase")]
pub enum WarningLevel {
    SixMonths,
    ThreeMonths,
    OneMonth,
}

impl WarningLevel {
    /// Least urgent first.
    pub const ALL: [WarningLevel; 3] = [
        WarningLevel::SixMonths,
        WarningLevel::ThreeMonths,
        WarningLevel::OneMonth,
    ];

    pub fn months(self) -> u32 {
        match self {
            WarningLevel::SixMonths => 6,
            WarningLevel::ThreeMonths => 3,
            WarningLevel::OneMonth => 1,
        }
    }

    pub fn key(self) -> &'static str {
        match self {
            WarningLevel::SixMonths => "6m",
            WarningLevel::ThreeMonths => "3m",
            WarningLevel::OneMonth => "1m",
        }
    }

    /// The first day of this warning for a claim whose last day is `last_day`.
    pub fn from(self, last_day: NaiveDate) -> NaiveDate {
        last_day
            .checked_sub_months(Months::new(self.months()))
            .unwrap_or(NaiveDate::MIN)
    }

    /// The most urgent warning due on `today` for `last_day` (none before six months, none after
    /// the last day).
    pub fn due(last_day: NaiveDate, today: NaiveDate) -> Option<WarningLevel> {
        if today > last_day {
            return None;
        }
        Self::ALL
            .into_iter()
            .rev()
            .find(|l| today >= l.from(last_day))
    }
}

/// A warning to send: "file before `file_before`".
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LimitationWarning {
    pub level: WarningLevel,
    /// The last day a legal step interrupts limitation.
    pub file_before: NaiveDate,
    pub time_barred_on: NaiveDate,
    /// Sent once per key ([`super::keys::limitation_warning`]).
    pub key: String,
}

/// Why a person must look at a claim's limitation: a rule that is not modelled may move the date.
#[derive(utoipa::ToSchema, Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum LimitationReview {
    /// Foreldelsesloven § 10: the creditor may lack the knowledge of where the debtor is (no
    /// postal address or e-mail on record, or the debtor lives abroad): a 1-year extra period
    /// from when the creditor learned it may apply.
    DebtorWhereaboutsUnknown,
    /// Foreldelsesloven §§ 17 and 22: the debtor is bankrupt or in liquidation; a claim reported
    /// to the estate is interrupted, and an extra year may follow the proceedings.
    InsolvencyProceedings,
}

impl LimitationReview {
    pub fn code(self) -> &'static str {
        match self {
            LimitationReview::DebtorWhereaboutsUnknown => "debtor_whereabouts_unknown",
            LimitationReview::InsolvencyProceedings => "insolvency_proceedings",
        }
    }

    pub fn message_nb(self) -> &'static str {
        match self {
            LimitationReview::DebtorWhereaboutsUnknown => "Foreldelsesloven § 10 kan gi tilleggsfrist: Inndrive har ingen brukbar adresse til skyldneren i Norge. Foreldelsesdatoen under kan være for tidlig; vurder saken selv.",
            LimitationReview::InsolvencyProceedings => "Foreldelsesloven §§ 17 og 22 kan gjelde: skyldneren er konkurs eller under avvikling. Meld kravet i boet; foreldelsesdatoen under tar ikke hensyn til bobehandlingen.",
        }
    }

    pub fn message_en(self) -> &'static str {
        match self {
            LimitationReview::DebtorWhereaboutsUnknown => "Limitation Act § 10 may extend the period: there is no usable address for the debtor in Norway. The date below may be too early; review the case.",
            LimitationReview::InsolvencyProceedings => "Limitation Act §§ 17 and 22 may apply: the debtor is bankrupt or in liquidation. Report the claim to the estate; the date below ignores the proceedings.",
        }
    }

    /// The review a debtor calls for, from what Inndrive knows of it: the register's stop
    /// reasons, and whether it has a deliverable postal address in Norway.
    pub fn of_debtor(
        stop_reasons: &[StopReason],
        postal_address: Option<&PostalAddress>,
    ) -> Option<LimitationReview> {
        let stops = StopReasons::of(stop_reasons);
        if stops.contains(StopReason::Bankrupt)
            || stops.contains(StopReason::UnderLiquidation)
            || stops.contains(StopReason::ForcedDissolution)
        {
            return Some(LimitationReview::InsolvencyProceedings);
        }
        let in_norway = postal_address.is_some_and(|a| {
            is_deliverable(a)
                && a.country_code
                    .as_deref()
                    .is_none_or(|c| c.eq_ignore_ascii_case("NO"))
        });
        (!in_norway).then_some(LimitationReview::DebtorWhereaboutsUnknown)
    }
}

/// A claim's limitation with the events it rests on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimLimitation {
    /// The start of the first period: the due date (payment could first be demanded).
    pub start: NaiveDate,
    /// Every interrupting event, in date order.
    pub interruptions: Vec<Interruption>,
    pub limitation: Limitation,
}

/// The interrupting events of a claim: its part payments (the claim's credits that paid
/// something) and the case's acknowledgements and filed legal step, in date order.
pub fn interruptions(claim: &ClaimState, case: Option<&Case>) -> Vec<Interruption> {
    let mut v: Vec<Interruption> = claim
        .counted_credits()
        .filter(|c| !c.paid.is_zero())
        .map(|c| Interruption {
            date: c.date,
            kind: InterruptionKind::PartPayment,
        })
        .chain(case.into_iter().flat_map(|c| c.limitation_interruptions()))
        .collect();
    v.sort_by_key(|i| i.date);
    v
}

/// The claim's limitation (start: its due date). `None` for a claim not mirrored yet.
pub fn claim_limitation(
    book: &Rulebook,
    claim: &ClaimState,
    case: Option<&Case>,
) -> Option<Result<ClaimLimitation, RuleGap>> {
    let start = claim.mirror.as_ref()?.due_date;
    let interruptions = interruptions(claim, case);
    Some(
        book.limitation(start, &interruptions)
            .map(|limitation| ClaimLimitation {
                start,
                interruptions,
                limitation,
            }),
    )
}

/// For the planner: `Ok((rule, Some(since)))` when the claim (limitation started on `start`) is
/// time-barred on `today`, `Ok((rule, None))` when it is not. A claim cannot be barred before
/// its first period ends, so the events are read (and allocated) only after that: the
/// planner's hot path stays allocation-free.
pub fn time_barred_since(
    book: &Rulebook,
    claim: &ClaimState,
    case: &Case,
    start: NaiveDate,
    today: NaiveDate,
) -> Result<(RuleRef, Option<NaiveDate>), RuleGap> {
    let (entry, rule) = book.limitation_on(start)?;
    if today <= add_months(start, 12 * entry.years) {
        return Ok((rule, None));
    }
    let lim = book.limitation(start, &interruptions(claim, Some(case)))?;
    Ok(match (lim.state_on(today), lim.time_barred_on) {
        (LimitationState::TimeBarred, Some(since)) => (lim.rule, Some(since)),
        (LimitationState::TimeBarred, None)
        | (LimitationState::Running, _)
        | (LimitationState::Suspended, _) => (lim.rule, None),
    })
}

/// One claim as the radar reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RadarInput<Id> {
    pub id: Id,
    /// The claim's due date (the start of the first period).
    pub start: NaiveDate,
    pub due_date: NaiveDate,
    /// The principal still owed (the interest lost is computed on it).
    pub principal_outstanding: Money,
    pub interruptions: Vec<Interruption>,
    pub review: Option<LimitationReview>,
}

impl<Id> RadarInput<Id> {
    /// The radar's view of a mirrored claim and its case (`None`: not mirrored).
    pub fn of(
        id: Id,
        claim: &ClaimState,
        case: Option<&Case>,
        review: Option<LimitationReview>,
    ) -> Option<Self> {
        let m = claim.mirror.as_ref()?;
        Some(Self {
            id,
            start: m.due_date,
            due_date: m.due_date,
            principal_outstanding: claim.amounts.principal_outstanding,
            interruptions: interruptions(claim, case),
            review,
        })
    }
}

/// What the radar says about one claim.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RadarEntry<Id> {
    pub id: Id,
    /// The last day a legal step interrupts limitation ("file before").
    pub last_day: NaiveDate,
    pub time_barred_on: NaiveDate,
    pub days_left: i64,
    /// The event that set the period now running, if any.
    pub interrupted_by: Option<Interruption>,
    /// The warning due today, if any (sent once per key).
    pub warning: Option<LimitationWarning>,
    /// Interest accruals already time-barred today.
    pub interest_lost: Money,
    /// A rule that is not modelled may apply: held for review.
    pub review: Option<LimitationReview>,
    /// The limitation rule's tag.
    pub rule: String,
}

/// The claims that become time-barred within `within_days` days after `today`, soonest first,
/// with the warning due and the interest already lost. Claims under a pending legal step and
/// claims already time-barred are not listed (the planner holds the latter). A claim whose
/// computation has a gap is returned with its gap.
pub fn scan<Id: Copy>(
    book: &Rulebook,
    claims: &[RadarInput<Id>],
    today: NaiveDate,
    within_days: u32,
) -> (Vec<RadarEntry<Id>>, Vec<(Id, RuleGap)>) {
    let (expiring, mut gaps) = book.expiring_within(
        claims
            .iter()
            .enumerate()
            .map(|(i, c)| (i, c.start, c.interruptions.as_slice())),
        today,
        within_days,
    );
    let mut out = Vec::with_capacity(expiring.len());
    let mut id_gaps: Vec<(Id, RuleGap)> = gaps.drain(..).map(|(i, g)| (claims[i].id, g)).collect();
    for e in expiring {
        let c = &claims[e.id];
        let lim = match book.limitation(c.start, &c.interruptions) {
            Ok(l) => l,
            Err(g) => {
                id_gaps.push((c.id, g));
                continue;
            }
        };
        let interest_lost = match book.time_barred_interest(
            c.principal_outstanding,
            c.due_date,
            c.start,
            &c.interruptions,
            today,
        ) {
            Ok(b) => b.total,
            Err(InterestError::Gap(g)) => {
                id_gaps.push((c.id, g));
                continue;
            }
            Err(InterestError::NegativeBalance)
            | Err(InterestError::ChangesOutOfOrder)
            | Err(InterestError::Overflow) => Money::ZERO,
        };
        let warning = WarningLevel::due(e.last_day, today).map(|level| LimitationWarning {
            level,
            file_before: e.last_day,
            time_barred_on: e.time_barred_on,
            key: super::keys::limitation_warning(level, e.time_barred_on),
        });
        out.push(RadarEntry {
            id: c.id,
            last_day: e.last_day,
            time_barred_on: e.time_barred_on,
            days_left: e.days_left,
            interrupted_by: lim.interrupted_by,
            warning,
            interest_lost,
            review: c.review,
            rule: book.tag(lim.rule).to_string(),
        });
    }
    (out, id_gaps)
}

#[cfg(test)]
mod tests;
