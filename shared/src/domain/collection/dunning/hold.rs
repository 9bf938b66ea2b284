//! Why the planner sends nothing for a claim today. Each reason has a stable code and a
//! sentence in bokmål and English; the holds are checked in a fixed order (see
//! [`super::planner::plan`]).

use super::customer::{stop_reason_en, stop_reason_nb, StopReasons};
use crate::domain::claim::ClaimStatus;
use crate::domain::collection::rulebook::{Missing, RuleGap};
use crate::domain::money::Money;
use chrono::NaiveDate;
use serde::Serialize;

/// Why no notice goes out.
#[derive(utoipa::ToSchema, Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum HoldReason {
    /// The account's dunning policy is off.
    DunningDisabled,
    /// The case is closed.
    CaseClosed,
    /// The case is paused until the creditor's own deadline.
    CasePaused { until: NaiveDate },
    /// The claim is paid, credited or not mirrored.
    NotCollectible { status: ClaimStatus },
    /// A person must look at the claim first.
    NeedsReview { reason: ReviewReason },
    /// Enhetsregisteret: the debtor is bankrupt, under liquidation, deleted, …
    RegistryStop { reasons: StopReasons },
    /// The debtor objected and the objection is not assessed as obviously groundless
    /// (inkassoloven § 17 (2)).
    #[serde(rename_all = "camelCase")]
    DebtorObjected { raised_on: NaiveDate },
    /// Foreldelse: the claim is time-barred.
    TimeBarred { since: NaiveDate },
    /// Principal and charges outstanding are below the policy's minimum.
    BelowMinimum { owed: Money, minimum: Money },
    /// The rulebook knows no legal basis for the step on this day (incl. the new inkassolov:
    /// "waiting for the new regulations").
    RuleGap { gap: RuleGap },
    /// Neither a usable e-mail nor a postal address.
    NoChannel,
    /// Only-betalingsoppfordring chain without a purring or inkassovarsel on record whose
    /// ≥14-day deadline the debtor missed.
    NoPriorNotice,
}

/// Why a person must look first.
#[derive(utoipa::ToSchema, Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ReviewReason {
    /// A credit on the claim is held for review: what is owed is not known.
    CreditPendingReview { amount: Money },
    /// The due date was derived (SAF-T import without one): fees and interest hang on it.
    DueDateEstimated,
    /// The interest could not be computed from the claim's balances.
    InterestNotComputable,
}

impl ReviewReason {
    pub fn code(&self) -> &'static str {
        match self {
            ReviewReason::CreditPendingReview { .. } => "credit_pending_review",
            ReviewReason::DueDateEstimated => "due_date_estimated",
            ReviewReason::InterestNotComputable => "interest_not_computable",
        }
    }

    fn message_nb(&self) -> String {
        match self {
            ReviewReason::CreditPendingReview { amount } => format!(
                "en innbetaling eller kreditering på {amount} kr venter på vurdering, så det er uklart hva som skyldes"
            ),
            ReviewReason::DueDateEstimated => {
                "forfallsdatoen er anslått (import uten forfallsdato), og renter og gebyr avhenger av den".to_string()
            }
            ReviewReason::InterestNotComputable => {
                "forsinkelsesrenten kan ikke beregnes ut fra kravets saldo".to_string()
            }
        }
    }

    fn message_en(&self) -> String {
        match self {
            ReviewReason::CreditPendingReview { amount } => format!(
                "a payment or credit of NOK {amount} awaits review, so what is owed is unclear"
            ),
            ReviewReason::DueDateEstimated => {
                "the due date is estimated (imported without one), and interest and fees depend on it".to_string()
            }
            ReviewReason::InterestNotComputable => {
                "the late-payment interest cannot be computed from the claim's balances".to_string()
            }
        }
    }
}

fn date_nb(d: NaiveDate) -> String {
    d.format("%d.%m.%Y").to_string()
}

fn join(
    reasons: StopReasons,
    label: fn(crate::domain::ledger::registry::StopReason) -> &'static str,
) -> String {
    reasons.iter().map(label).collect::<Vec<_>>().join(", ")
}

impl HoldReason {
    /// The stable code (the serialised `code`).
    pub fn code(&self) -> &'static str {
        match self {
            HoldReason::DunningDisabled => "dunning_disabled",
            HoldReason::CaseClosed => "case_closed",
            HoldReason::CasePaused { .. } => "case_paused",
            HoldReason::NotCollectible { .. } => "not_collectible",
            HoldReason::NeedsReview { .. } => "needs_review",
            HoldReason::RegistryStop { .. } => "registry_stop",
            HoldReason::DebtorObjected { .. } => "debtor_objected",
            HoldReason::TimeBarred { .. } => "time_barred",
            HoldReason::BelowMinimum { .. } => "below_minimum",
            HoldReason::RuleGap { .. } => "rule_gap",
            HoldReason::NoChannel => "no_channel",
            HoldReason::NoPriorNotice => "no_prior_notice",
        }
    }

    /// The reason in bokmål, for the user.
    pub fn message_nb(&self) -> String {
        match self {
            HoldReason::DunningDisabled => "Purring er slått av for denne kontoen.".to_string(),
            HoldReason::CaseClosed => "Saken er avsluttet.".to_string(),
            HoldReason::CasePaused { until } => {
                format!("Saken er satt på vent til {}.", date_nb(*until))
            }
            HoldReason::NotCollectible { status } => format!(
                "Kravet kan ikke følges opp ({}).",
                match status {
                    ClaimStatus::Unmirrored => "fakturaen er ikke hentet fra Tripletex ennå",
                    ClaimStatus::Open | ClaimStatus::WrittenOff => "status ukjent",
                    ClaimStatus::ClosedPaid => "betalt",
                    ClaimStatus::ClosedCredited => "kreditert",
                }
            ),
            HoldReason::NeedsReview { reason } => {
                format!("Kravet må vurderes av en person: {}.", reason.message_nb())
            }
            HoldReason::RegistryStop { reasons } => format!(
                "Skyldneren er {} i Enhetsregisteret; kravet meldes i boet eller følges opp manuelt, ikke med purringer.",
                join(*reasons, stop_reason_nb)
            ),
            HoldReason::DebtorObjected { raised_on } => format!(
                "Skyldneren kom med en innsigelse {} som ikke er vurdert som åpenbart grunnløs; ingen brev eller gebyrer før den er vurdert (inkassoloven § 17 (2)).",
                date_nb(*raised_on)
            ),
            HoldReason::TimeBarred { since } => format!(
                "Kravet er foreldet fra {} (foreldelsesloven §§ 2–3).",
                date_nb(*since)
            ),
            HoldReason::BelowMinimum { owed, minimum } => format!(
                "Utestående {owed} kr er under minstebeløpet {minimum} kr."
            ),
            HoldReason::RuleGap { gap } => match gap.missing {
                Missing::NewInkassolovRegulations => format!(
                    "Venter på forskriftene til den nye inkassoloven (i kraft fra {}): gebyrbelagte brev sendes ikke før reglene er kjent.",
                    date_nb(gap.date)
                ),
                _ => format!(
                    "Regelverket mangler grunnlag for {} ({}); en person må se på kravet.",
                    date_nb(gap.date),
                    gap.missing.code()
                ),
            },
            HoldReason::NoChannel => {
                "Kunden har verken gyldig e-postadresse eller postadresse.".to_string()
            }
            HoldReason::NoPriorNotice => "Betalingsoppfordring krever at skyldneren har oversittet en frist på minst 14 dager i en purring eller et inkassovarsel, og ingen slik er registrert på kravet.".to_string(),
        }
    }

    /// The reason in English.
    pub fn message_en(&self) -> String {
        match self {
            HoldReason::DunningDisabled => "Dunning is switched off for this account.".to_string(),
            HoldReason::CaseClosed => "The case is closed.".to_string(),
            HoldReason::CasePaused { until } => format!("The case is paused until {until}."),
            HoldReason::NotCollectible { status } => format!(
                "The claim cannot be followed up ({}).",
                match status {
                    ClaimStatus::Unmirrored => "the invoice is not read from Tripletex yet",
                    ClaimStatus::Open | ClaimStatus::WrittenOff => "unknown status",
                    ClaimStatus::ClosedPaid => "paid",
                    ClaimStatus::ClosedCredited => "credited",
                }
            ),
            HoldReason::NeedsReview { reason } => {
                format!("A person must review the claim: {}.", reason.message_en())
            }
            HoldReason::RegistryStop { reasons } => format!(
                "The debtor is {} in the Central Coordinating Register; the claim is filed with the estate or handled manually, not chased with letters.",
                join(*reasons, stop_reason_en)
            ),
            HoldReason::DebtorObjected { raised_on } => format!(
                "The debtor objected on {raised_on} and the objection is not assessed as obviously groundless; no letters or fees until it is (Debt Collection Act § 17 (2))."
            ),
            HoldReason::TimeBarred { since } => format!(
                "The claim is time-barred since {since} (Limitation Act §§ 2–3)."
            ),
            HoldReason::BelowMinimum { owed, minimum } => format!(
                "NOK {owed} outstanding is below the minimum of NOK {minimum}."
            ),
            HoldReason::RuleGap { gap } => match gap.missing {
                Missing::NewInkassolovRegulations => format!(
                    "Waiting for the new regulations under the new Debt Collection Act (in force from {}): fee-bearing letters wait until the rules are known.",
                    gap.date
                ),
                _ => format!(
                    "The rulebook has no legal basis on {} ({}); a person must look at the claim.",
                    gap.date,
                    gap.missing.code()
                ),
            },
            HoldReason::NoChannel => {
                "The customer has neither a valid e-mail address nor a postal address.".to_string()
            }
            HoldReason::NoPriorNotice => "A betalingsoppfordring requires that the debtor missed a deadline of at least 14 days in a purring or an inkassovarsel, and none is on record for the claim.".to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ledger::registry::StopReason;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn every_hold_has_a_stable_code_equal_to_its_serialised_tag_and_two_sentences() {
        let all = [
            HoldReason::DunningDisabled,
            HoldReason::CaseClosed,
            HoldReason::CasePaused {
                until: d("2026-03-01"),
            },
            HoldReason::NotCollectible {
                status: ClaimStatus::ClosedPaid,
            },
            HoldReason::NeedsReview {
                reason: ReviewReason::DueDateEstimated,
            },
            HoldReason::RegistryStop {
                reasons: StopReasons::of(&[StopReason::Bankrupt]),
            },
            HoldReason::DebtorObjected {
                raised_on: d("2026-02-01"),
            },
            HoldReason::TimeBarred {
                since: d("2026-01-01"),
            },
            HoldReason::BelowMinimum {
                owed: Money::from_kroner(50),
                minimum: Money::from_kroner(100),
            },
            HoldReason::RuleGap {
                gap: RuleGap::new(d("2027-01-01"), Missing::NewInkassolovRegulations),
            },
            HoldReason::NoChannel,
            HoldReason::NoPriorNotice,
        ];
        let mut codes = Vec::new();
        for h in all {
            let json = serde_json::to_value(h).unwrap();
            assert_eq!(json["code"], h.code(), "{json}");
            assert!(!h.message_nb().is_empty() && !h.message_en().is_empty());
            codes.push(h.code());
        }
        codes.sort();
        codes.dedup();
        assert_eq!(codes.len(), all.len());
    }

    #[test]
    fn the_new_inkassolov_gap_reads_as_waiting_for_the_regulations() {
        let h = HoldReason::RuleGap {
            gap: RuleGap::new(d("2027-01-01"), Missing::NewInkassolovRegulations),
        };
        assert!(h.message_nb().contains("Venter på forskriftene"));
        assert!(h.message_en().contains("Waiting for the new regulations"));
        let json = serde_json::to_value(h).unwrap();
        assert_eq!(json["gap"]["missing"], "new-inkassolov-regulations");
        let stop = HoldReason::RegistryStop {
            reasons: StopReasons::of(&[StopReason::Bankrupt, StopReason::Deleted]),
        };
        assert!(stop.message_nb().contains("konkurs, slettet"));
        assert_eq!(
            serde_json::to_value(stop).unwrap()["reasons"],
            serde_json::json!(["bankrupt", "deleted"])
        );
    }
}
