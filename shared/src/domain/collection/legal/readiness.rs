//! "Legal steps may now be taken": whether one case is ready, and by which route.
//!
//! A case is ready when (norwegian-collection-rules.md §§ 3.1, 4.1):
//! - a betalingsoppfordring with a deadline of at least 14 days was sent (inkassoloven § 10);
//! - the varsel etter tvangsfullbyrdelsesloven § 4-18 was sent (with the betalingsoppfordring or
//!   alone), its two weeks have passed, and it is still valid (one year after its deadline,
//!   § 4-19);
//! - the betalingsoppfordring's own deadline has passed;
//! - nothing was paid since the betalingsoppfordring;
//! - no objection is open (or justified and not corrected: inkassoloven § 17 (2));
//! - what the claim owes is at least the creditor's threshold (the policy's `legalSteps`);
//! - the betalingsoppfordring is not older than 6 months (inkassoloven § 11; the rulebook's
//!   `betalingsoppfordring-valid-for-legal-steps`); if it is, the case proposes a new one.
//!
//! Before those, a case that cannot go anywhere is blocked with its reason: a legal step already
//! filed, the case closed or paused, the claim paid or credited, a credit held for review, the
//! debtor bankrupt or dissolved (the claim is reported to the estate instead), the claim
//! time-barred (the limitation radar's computation).
//!
//! The route: a disputed claim (an objection assessed as groundless) goes to the forliksråd; an
//! undisputed one to the namsmann on § 7-2 (1) f, unless the creditor prefers the forliksråd.
//! The letters come from the case's sent notices ([`super::super::dunning::NoticeRecord::
//! sent_letters`]) and any other source, as the planner reads them.

use super::policy::{LegalStepsPolicy, RoutePreference};
use super::radar::time_barred_since;
use super::{keys, Route};
use crate::domain::case::{Case, CaseStatus, ObjectionState};
use crate::domain::claim::{ClaimState, ClaimStatus};
use crate::domain::collection::dunning::customer::{stop_reason_en, stop_reason_nb, StopReasons};
use crate::domain::collection::letters::{LetterKind, SentLetter};
use crate::domain::collection::rulebook::{add_days, add_months, RuleGap, Rulebook};
use crate::domain::ledger::registry::StopReason;
use crate::domain::money::Money;
use chrono::NaiveDate;
use serde::Serialize;

/// Everything readiness reads, borrowed.
#[derive(Debug, Clone, Copy)]
pub struct ReadinessInput<'a> {
    pub claim: &'a ClaimState,
    pub case: &'a Case,
    /// The letters sent on the claim (any order, any source); letters after `today` are ignored.
    pub letters: &'a [SentLetter],
    /// Enhetsregisteret's stop reasons for the debtor (`&[]` when none).
    pub stop_reasons: &'a [StopReason],
    pub policy: &'a LegalStepsPolicy,
    pub book: &'a Rulebook,
    pub today: NaiveDate,
}

/// A letter as readiness cites it.
#[derive(utoipa::ToSchema, Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SentOn {
    pub sent: NaiveDate,
    /// The last day it gave.
    pub deadline: NaiveDate,
}

/// Why this route.
#[derive(utoipa::ToSchema, Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum RouteReason {
    /// Undisputed: the betalingsoppfordring is a særlig tvangsgrunnlag (tvfbl § 7-2 (1) f).
    Undisputed,
    /// The debtor objected and the objection was found groundless: the forliksråd decides.
    #[serde(rename_all = "camelCase")]
    Disputed { objection_received_on: NaiveDate },
    /// The creditor's policy prefers the forliksråd.
    CreditorPrefersForliksklage,
}

/// The facts a ready case rests on.
#[derive(utoipa::ToSchema, Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReadyWhy {
    pub route_reason: RouteReason,
    pub betalingsoppfordring: SentOn,
    pub varsel_4_18: SentOn,
    /// The last day the § 4-18 varsel may be relied on (one year after its deadline).
    pub varsel_valid_until: NaiveDate,
    /// The betalingsoppfordring is good for legal steps through this day; a new one after.
    pub file_by: NaiveDate,
    pub owed: Money,
}

/// Why not yet (the case will get there by itself).
#[derive(utoipa::ToSchema, Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum NotYetWhy {
    /// No betalingsoppfordring was sent yet (dunning sends it).
    NoBetalingsoppfordring,
    /// The deadlines of the betalingsoppfordring and the § 4-18 varsel have not passed.
    #[serde(rename_all = "camelCase")]
    DeadlinesRunning {
        betalingsoppfordring_deadline: NaiveDate,
        varsel_deadline: NaiveDate,
    },
}

/// Why a new betalingsoppfordring (with the § 4-18 varsel) is needed first.
#[derive(utoipa::ToSchema, Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum ProposeWhy {
    /// The last betalingsoppfordring is older than the months legal steps must follow it in.
    #[serde(rename_all = "camelCase")]
    TooOld { sent: NaiveDate, months: u32 },
    /// The letter's deadline was shorter than the law's minimum.
    #[serde(rename_all = "camelCase")]
    DeadlineTooShort {
        letter: LetterKind,
        sent: NaiveDate,
        minimum_days: u32,
    },
    /// No § 4-18 varsel was sent (a betalingsoppfordring from elsewhere, without it).
    #[serde(rename_all = "camelCase")]
    NoVarsel418 {
        betalingsoppfordring_sent: NaiveDate,
    },
    /// The § 4-18 varsel is no longer valid (§ 4-19: one year after its deadline).
    #[serde(rename_all = "camelCase")]
    Varsel418Expired { valid_until: NaiveDate },
}

/// Why the case cannot go to legal steps (a person, or an event, must change something).
#[derive(utoipa::ToSchema, Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum Blocked {
    #[serde(rename_all = "camelCase")]
    AlreadyFiled {
        route: Route,
        filed_on: NaiveDate,
    },
    CaseClosed,
    CasePaused {
        until: NaiveDate,
    },
    NotCollectible {
        status: ClaimStatus,
    },
    /// A credit is held for review, or the due date is estimated.
    NeedsReview,
    /// Bankrupt, in liquidation, deleted: report the claim to the estate instead.
    RegistryStop {
        reasons: StopReasons,
    },
    /// The debtor objected and no person has assessed it (inkassoloven § 17 (2)).
    #[serde(rename_all = "camelCase")]
    ObjectionOpen {
        received_on: NaiveDate,
    },
    /// The objection was found justified and the claim is not corrected yet.
    #[serde(rename_all = "camelCase")]
    ObjectionJustified {
        received_on: NaiveDate,
    },
    /// A payment arrived after the betalingsoppfordring: the debtor is paying; a person decides
    /// (an agreement, or a new betalingsoppfordring for the rest).
    PaidSince {
        on: NaiveDate,
        amount: Money,
    },
    /// What the claim owes is below the creditor's threshold.
    BelowThreshold {
        owed: Money,
        minimum: Money,
    },
    TimeBarred {
        since: NaiveDate,
    },
    /// The rulebook knows no rule for a date the decision needs.
    RuleGap {
        gap: RuleGap,
    },
}

/// The answer for one case today.
#[derive(utoipa::ToSchema, Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "camelCase")]
pub enum Readiness {
    /// Legal steps may now be taken, by `route`.
    Ready {
        route: Route,
        why: ReadyWhy,
    },
    /// Not yet; `until` is the first day it may be (none: it waits for an event).
    NotYet {
        until: Option<NaiveDate>,
        why: NotYetWhy,
    },
    /// Send a new betalingsoppfordring (with the § 4-18 varsel) first.
    ProposeNewBetalingsoppfordring {
        why: ProposeWhy,
    },
    Blocked {
        reason: Blocked,
    },
}

impl Readiness {
    /// The stable code of the state and its reason, e.g. `ready`, `blocked:objection_open`.
    pub fn code(&self) -> String {
        match self {
            Readiness::Ready { route, .. } => format!("ready:{route}"),
            Readiness::NotYet { why, .. } => format!("not_yet:{}", why.code()),
            Readiness::ProposeNewBetalingsoppfordring { why } => {
                format!("propose_new_betalingsoppfordring:{}", why.code())
            }
            Readiness::Blocked { reason } => format!("blocked:{}", reason.code()),
        }
    }

    /// The key of the "legal steps may now be taken" notice (sent once), for a ready case.
    pub fn notice_key(&self) -> Option<String> {
        match self {
            Readiness::Ready { route, why } => {
                Some(keys::ready(*route, why.betalingsoppfordring.sent))
            }
            Readiness::NotYet { .. }
            | Readiness::ProposeNewBetalingsoppfordring { .. }
            | Readiness::Blocked { .. } => None,
        }
    }

    /// The state in bokmål, for the case view and the notification.
    pub fn message_nb(&self) -> String {
        match self {
            Readiness::Ready { route, why } => {
                let reason = match why.route_reason {
                    RouteReason::Undisputed => "kravet er ikke bestridt, og betalingsoppfordringen er særlig tvangsgrunnlag (tvangsfullbyrdelsesloven § 7-2 (1) f)".to_string(),
                    RouteReason::Disputed { objection_received_on } => format!(
                        "skyldneren bestred kravet {}, og innsigelsen er vurdert som grunnløs: tvisten avgjøres i forliksrådet",
                        nb(objection_received_on)
                    ),
                    RouteReason::CreditorPrefersForliksklage => {
                        "kreditor har valgt forliksrådet i innstillingene".to_string()
                    }
                };
                format!(
                    "Rettslige skritt kan nå tas: {} ({reason}). Betalingsoppfordringen ble sendt {} og kan brukes til og med {}.",
                    route.name_no(),
                    nb(why.betalingsoppfordring.sent),
                    nb(why.file_by)
                )
            }
            Readiness::NotYet { until, why } => match (why, until) {
                (NotYetWhy::NoBetalingsoppfordring, _) => {
                    "Ikke ennå: ingen betalingsoppfordring med varsel etter tvangsfullbyrdelsesloven § 4-18 er sendt.".to_string()
                }
                (NotYetWhy::DeadlinesRunning { .. }, Some(u)) => format!(
                    "Ikke ennå: fristene i betalingsoppfordringen og varselet etter § 4-18 løper; rettslige skritt kan tas fra {}.",
                    nb(*u)
                ),
                (NotYetWhy::DeadlinesRunning { .. }, None) => {
                    "Ikke ennå: fristene i betalingsoppfordringen og varselet etter § 4-18 løper.".to_string()
                }
            },
            Readiness::ProposeNewBetalingsoppfordring { why } => match why {
                ProposeWhy::TooOld { sent, months } => format!(
                    "Send en ny betalingsoppfordring: den forrige ({}) er eldre enn {months} måneder (inkassoloven § 11).",
                    nb(*sent)
                ),
                ProposeWhy::DeadlineTooShort { letter, sent, minimum_days } => format!(
                    "Send en ny betalingsoppfordring: {} sendt {} ga kortere frist enn {minimum_days} dager.",
                    letter.name_no(),
                    nb(*sent)
                ),
                ProposeWhy::NoVarsel418 { betalingsoppfordring_sent } => format!(
                    "Send en ny betalingsoppfordring med varsel etter tvangsfullbyrdelsesloven § 4-18: betalingsoppfordringen {} hadde ikke varselet.",
                    nb(*betalingsoppfordring_sent)
                ),
                ProposeWhy::Varsel418Expired { valid_until } => format!(
                    "Send en ny betalingsoppfordring med varsel: varselet etter § 4-18 gjaldt til {} (§ 4-19).",
                    nb(*valid_until)
                ),
            },
            Readiness::Blocked { reason } => reason.message_nb(),
        }
    }
}

impl NotYetWhy {
    pub fn code(&self) -> &'static str {
        match self {
            NotYetWhy::NoBetalingsoppfordring => "no_betalingsoppfordring",
            NotYetWhy::DeadlinesRunning { .. } => "deadlines_running",
        }
    }
}

impl ProposeWhy {
    pub fn code(&self) -> &'static str {
        match self {
            ProposeWhy::TooOld { .. } => "too_old",
            ProposeWhy::DeadlineTooShort { .. } => "deadline_too_short",
            ProposeWhy::NoVarsel418 { .. } => "no_varsel_4_18",
            ProposeWhy::Varsel418Expired { .. } => "varsel_4_18_expired",
        }
    }
}

impl Blocked {
    pub fn code(&self) -> &'static str {
        match self {
            Blocked::AlreadyFiled { .. } => "already_filed",
            Blocked::CaseClosed => "case_closed",
            Blocked::CasePaused { .. } => "case_paused",
            Blocked::NotCollectible { .. } => "not_collectible",
            Blocked::NeedsReview => "needs_review",
            Blocked::RegistryStop { .. } => "registry_stop",
            Blocked::ObjectionOpen { .. } => "objection_open",
            Blocked::ObjectionJustified { .. } => "objection_justified",
            Blocked::PaidSince { .. } => "paid_since",
            Blocked::BelowThreshold { .. } => "below_threshold",
            Blocked::TimeBarred { .. } => "time_barred",
            Blocked::RuleGap { .. } => "rule_gap",
        }
    }

    pub fn message_nb(&self) -> String {
        match self {
            Blocked::AlreadyFiled { route, filed_on } => {
                format!("{} ble sendt inn {}.", capital(route.name_no()), nb(*filed_on))
            }
            Blocked::CaseClosed => "Saken er avsluttet.".to_string(),
            Blocked::CasePaused { until } => format!("Saken er satt på vent til {}.", nb(*until)),
            Blocked::NotCollectible { .. } => "Kravet er betalt eller kreditert.".to_string(),
            Blocked::NeedsReview => "Kravet må vurderes av en person først (en innbetaling venter på vurdering, eller forfallsdatoen er anslått).".to_string(),
            Blocked::RegistryStop { reasons } => format!(
                "Skyldneren er {} i Enhetsregisteret: meld kravet i boet i stedet.",
                reasons.iter().map(stop_reason_nb).collect::<Vec<_>>().join(", ")
            ),
            Blocked::ObjectionOpen { received_on } => format!(
                "Skyldneren kom med en innsigelse {} som ikke er vurdert: ingen rettslige skritt før den er vurdert (inkassoloven § 17 (2)).",
                nb(*received_on)
            ),
            Blocked::ObjectionJustified { received_on } => format!(
                "Innsigelsen fra {} er vurdert som berettiget: avslutt saken eller korriger kravet først.",
                nb(*received_on)
            ),
            Blocked::PaidSince { on, amount } => format!(
                "Skyldneren betalte {amount} kr {} etter betalingsoppfordringen: vurder saken (avtale, eller ny betalingsoppfordring for resten).",
                nb(*on)
            ),
            Blocked::BelowThreshold { owed, minimum } => format!(
                "Kravet ({owed} kr) er under grensen for rettslige skritt ({minimum} kr)."
            ),
            Blocked::TimeBarred { since } => {
                format!("Kravet er foreldet fra {}.", nb(*since))
            }
            Blocked::RuleGap { gap } => format!("Regelverket mangler data: {gap}."),
        }
    }

    pub fn message_en(&self) -> String {
        match self {
            Blocked::AlreadyFiled { route, filed_on } => {
                format!("A {route} was filed on {filed_on}.")
            }
            Blocked::CaseClosed => "The case is closed.".to_string(),
            Blocked::CasePaused { until } => format!("The case is paused until {until}."),
            Blocked::NotCollectible { .. } => "The claim is paid or credited.".to_string(),
            Blocked::NeedsReview => "A person must review the claim first.".to_string(),
            Blocked::RegistryStop { reasons } => format!(
                "The debtor is {} in the register: report the claim to the estate instead.",
                reasons.iter().map(stop_reason_en).collect::<Vec<_>>().join(", ")
            ),
            Blocked::ObjectionOpen { received_on } => format!(
                "The debtor objected on {received_on} and nobody has assessed it yet."
            ),
            Blocked::ObjectionJustified { received_on } => format!(
                "The objection of {received_on} was found justified: close or correct the claim first."
            ),
            Blocked::PaidSince { on, amount } => {
                format!("The debtor paid NOK {amount} on {on}, after the betalingsoppfordring.")
            }
            Blocked::BelowThreshold { owed, minimum } => format!(
                "The claim (NOK {owed}) is below the threshold for legal steps (NOK {minimum})."
            ),
            Blocked::TimeBarred { since } => format!("The claim is time-barred since {since}."),
            Blocked::RuleGap { gap } => format!("The rulebook lacks data: {gap}."),
        }
    }
}

fn nb(d: NaiveDate) -> String {
    d.format("%d.%m.%Y").to_string()
}

fn capital(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

/// Decides readiness for one case today.
pub fn readiness(inp: &ReadinessInput<'_>) -> Readiness {
    match decide(inp) {
        Ok(r) => r,
        Err(reason) => Readiness::Blocked { reason },
    }
}

fn decide(inp: &ReadinessInput<'_>) -> Result<Readiness, Blocked> {
    let (case, claim, book, today) = (inp.case, inp.claim, inp.book, inp.today);

    // 1. What stops everything.
    if let Some(f) = case.filed() {
        return Err(Blocked::AlreadyFiled {
            route: f.route,
            filed_on: f.filed_on,
        });
    }
    match &case.status {
        CaseStatus::Closed { .. } => return Err(Blocked::CaseClosed),
        CaseStatus::Paused { until, .. } => return Err(Blocked::CasePaused { until: *until }),
        CaseStatus::Open { .. } => {}
    }
    let mirror = match &claim.mirror {
        Some(m) if claim.status.is_collectible() => m,
        _ => {
            return Err(Blocked::NotCollectible {
                status: claim.status,
            })
        }
    };
    if !claim.amounts.pending_review.is_zero() || mirror.due_date_estimated {
        return Err(Blocked::NeedsReview);
    }
    let stops = StopReasons::of(inp.stop_reasons);
    if !stops.is_empty() {
        return Err(Blocked::RegistryStop { reasons: stops });
    }
    if let Some(o) = case.blocking_objection() {
        return Err(match o.state() {
            ObjectionState::Justified => Blocked::ObjectionJustified {
                received_on: o.received_on,
            },
            ObjectionState::Open | ObjectionState::Groundless | ObjectionState::Corrected => {
                Blocked::ObjectionOpen {
                    received_on: o.received_on,
                }
            }
        });
    }
    let gap = |gap| Blocked::RuleGap { gap };
    if let (_, Some(since)) =
        time_barred_since(book, claim, case, mirror.due_date, today).map_err(gap)?
    {
        return Err(Blocked::TimeBarred { since });
    }
    let owed = claim.amounts.outstanding;
    if owed < inp.policy.minimum_amount {
        return Err(Blocked::BelowThreshold {
            owed,
            minimum: inp.policy.minimum_amount,
        });
    }

    // 2. The betalingsoppfordring and the § 4-18 varsel.
    let ids = book.deadline_ids;
    let bo_min = book.deadline(ids.betalingsoppfordring).0.days;
    let (varsel_entry, _) = book.deadline(ids.tvfbl_4_18);
    let varsel_min = varsel_entry.days;
    let valid_months = book.deadline(ids.betalingsoppfordring_valid).0.months;
    let latest = |kind: LetterKind| {
        inp.letters
            .iter()
            .filter(|l| l.kind == kind && l.sent <= today)
            .max_by_key(|l| (l.sent, l.deadline))
    };
    let Some(bo) = latest(LetterKind::Betalingsoppfordring) else {
        return Ok(Readiness::NotYet {
            until: None,
            why: NotYetWhy::NoBetalingsoppfordring,
        });
    };
    let bo_deadline = bo.deadline.unwrap_or(bo.sent);
    let propose = |why| Ok(Readiness::ProposeNewBetalingsoppfordring { why });
    if bo_deadline < add_days(bo.sent, bo_min) {
        return propose(ProposeWhy::DeadlineTooShort {
            letter: LetterKind::Betalingsoppfordring,
            sent: bo.sent,
            minimum_days: bo_min,
        });
    }

    // 3. Nothing paid since the betalingsoppfordring.
    if let Some(p) = claim
        .counted_credits()
        .filter(|c| !c.paid.is_zero() && c.date >= bo.sent && c.date <= today)
        .min_by_key(|c| c.date)
    {
        return Err(Blocked::PaidSince {
            on: p.date,
            amount: p.paid,
        });
    }

    // 4. Not older than six months: a new betalingsoppfordring otherwise.
    let file_by = add_months(bo.sent, valid_months);
    if today > file_by {
        return propose(ProposeWhy::TooOld {
            sent: bo.sent,
            months: valid_months,
        });
    }
    let Some(varsel) = latest(LetterKind::Varsel418) else {
        return propose(ProposeWhy::NoVarsel418 {
            betalingsoppfordring_sent: bo.sent,
        });
    };
    let varsel_deadline = varsel.deadline.unwrap_or(varsel.sent);
    if varsel_deadline < add_days(varsel.sent, varsel_min) {
        return propose(ProposeWhy::DeadlineTooShort {
            letter: LetterKind::Varsel418,
            sent: varsel.sent,
            minimum_days: varsel_min,
        });
    }
    let varsel_valid_until = add_months(
        varsel_deadline,
        12 * varsel_entry.validity_years.unwrap_or(1),
    );
    if today > varsel_valid_until {
        return propose(ProposeWhy::Varsel418Expired {
            valid_until: varsel_valid_until,
        });
    }

    // 5. Both deadlines passed (the last day is still the debtor's).
    let from = add_days(bo_deadline.max(varsel_deadline), 1);
    if today < from {
        return Ok(Readiness::NotYet {
            until: Some(from),
            why: NotYetWhy::DeadlinesRunning {
                betalingsoppfordring_deadline: bo_deadline,
                varsel_deadline,
            },
        });
    }

    // 6. The route.
    let (route, route_reason) = match (case.groundless_objection(), inp.policy.route) {
        (Some(o), _) => (
            Route::Forliksklage,
            RouteReason::Disputed {
                objection_received_on: o.received_on,
            },
        ),
        (None, RoutePreference::Forliksklage) => (
            Route::Forliksklage,
            RouteReason::CreditorPrefersForliksklage,
        ),
        (None, RoutePreference::Automatic) => (Route::Utlegg, RouteReason::Undisputed),
    };
    Ok(Readiness::Ready {
        route,
        why: ReadyWhy {
            route_reason,
            betalingsoppfordring: SentOn {
                sent: bo.sent,
                deadline: bo_deadline,
            },
            varsel_4_18: SentOn {
                sent: varsel.sent,
                deadline: varsel_deadline,
            },
            varsel_valid_until,
            file_by,
            owed,
        },
    })
}

#[cfg(test)]
mod tests;
