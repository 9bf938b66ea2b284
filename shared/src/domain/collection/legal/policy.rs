//! The creditor's criteria for legal steps: the dunning policy's `legalSteps` section.
//!
//! "The system tells you when legal steps can be taken, by the criteria you set": a threshold
//! (claims below it are never proposed for legal steps), a route preference, and what the daily
//! job does with a ready case: nothing (off, the default: nobody is told before the creditor
//! looked), tell the creditor, or also draft the document for the creditor to sign. Nothing is
//! ever filed by Inndrive. Validated with the rest of the policy
//! ([`crate::domain::collection::dunning::DunningPolicy::validate`]).

use crate::domain::money::Money;
use serde::{Deserialize, Serialize};

/// What the daily job does when a case becomes ready.
#[derive(
    utoipa::ToSchema, Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum LegalStepsMode {
    /// Readiness is shown on the case, nobody is notified, nothing is drafted.
    #[default]
    Off,
    /// The creditor is notified once per ready case (and in the organization's digest).
    NotifyOnly,
    /// Notified, and the document is drafted for the creditor to approve and sign.
    DraftAutomatically,
}

/// Which route a ready, undisputed claim takes.
#[derive(
    utoipa::ToSchema, Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum RoutePreference {
    /// Undisputed: begjæring om utlegg (§ 7-2 f); disputed: forliksklage.
    #[default]
    Automatic,
    /// Always a forliksklage (a judgment gives a 10-year limitation period and settles the
    /// claim; some creditors prefer it).
    Forliksklage,
}

/// The `legalSteps` section of the dunning policy.
#[derive(utoipa::ToSchema, Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LegalStepsPolicy {
    pub mode: LegalStepsMode,
    /// A claim is proposed for legal steps only when what it owes (principal, fees and interest
    /// outstanding) is at least this.
    pub minimum_amount: Money,
    pub route: RoutePreference,
    /// In a begjæring om utlegg: if the debtor objects, the case goes on to the forliksråd
    /// (tvangsfullbyrdelsesloven § 7-7; the API's `kanBehandlesIForliksraadet`).
    pub forliksraad_if_objection: bool,
    /// Ask for a judgment by default (fraværsdom) if the debtor does not answer or meet
    /// (tvisteloven § 6-10 (4); the API's `krevesFravaersdom`).
    pub default_judgment: bool,
}

impl Default for LegalStepsPolicy {
    fn default() -> Self {
        Self {
            mode: LegalStepsMode::Off,
            minimum_amount: Money::ZERO,
            route: RoutePreference::Automatic,
            forliksraad_if_objection: true,
            default_judgment: true,
        }
    }
}

impl LegalStepsPolicy {
    /// The creditor wants to hear about ready cases.
    pub fn notifies(&self) -> bool {
        matches!(
            self.mode,
            LegalStepsMode::NotifyOnly | LegalStepsMode::DraftAutomatically
        )
    }

    /// The daily job drafts the document of a ready case.
    pub fn drafts(&self) -> bool {
        self.mode == LegalStepsMode::DraftAutomatically
    }
}
