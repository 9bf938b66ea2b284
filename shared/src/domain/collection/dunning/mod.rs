//! Dunning: the creditor's own follow-up of an overdue claim, step by step.
//!
//! The vocabulary every part of dunning shares: the [`Step`]s of the chain, the [`Channel`] a
//! notice goes by, the [`Language`] it is written in, the creditor as [`Sender`] with its
//! [`BankAccount`]. The policy, the planner and the letter texts build on these.
//!
//! - [`policy`]: the account's [`DunningPolicy`] and its validation;
//! - [`planner`]: [`plan`] one claim for a day: send, wait, hold ([`HoldReason`]) or done;
//! - [`grouping`]: the day's notices of one debtor at one step in one letter, one fee;
//! - [`record`]: what is kept per sent notice so the planner's inputs can be rebuilt;
//! - [`customer`]: the debtor as the planner sees it (e-mail, postal address, register stops);
//! - [`notice`]: the exactly-once notice per (case, step), its state machine, and the letter
//!   record that carries notices to one debtor;
//! - [`run`]: one account's run on one day and its report.

mod bank_account;
pub mod customer;
pub mod grouping;
pub mod hold;
pub mod letter;
pub mod notice;
pub mod planner;
pub mod policy;
pub mod record;
pub mod run;

pub use bank_account::{BankAccount, BankAccountError};
pub use customer::CustomerView;
pub use grouping::{group_notices, CaseRef, LetterClaim, LetterId, LetterPlan};
pub use hold::{HoldReason, ReviewReason};
pub use notice::{
    recheck_verdict, CancelReason, LetterRecord, LetterStatus, Notice, NoticeId, NoticeLine,
    NoticeStatus, RecheckVerdict,
};
pub use planner::{
    plan, FeeLine, InterestLine, NoticeAmounts, PlanDecision, PlanInput, PlannedNotice,
};
pub use policy::{Chain, DunningPolicy, Mode, PolicyRule, PolicyViolation, StepPolicy};
pub use record::{compensation_claimed, NoticeRecord};
pub use run::{BatchRecord, PhaseTimes, RunRecord, RunReport, RunStatus, RunTrigger};

use crate::domain::collection::letters::LetterKind;
use crate::domain::ledger::PostalAddress;
use crate::domain::OrgNumber;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// One step of the creditor's own chain. A step is one letter to the debtor; the last one is the
/// creditor's own betalingsoppfordring, always combined with the varsel etter
/// tvangsfullbyrdelsesloven § 4-18 (allowed in one letter: Lovavdelingen 2009, id565372).
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
pub enum Step {
    /// Betalingspåminnelse: a soft reminder, never a fee.
    Paminnelse,
    /// Purring: a reminder that may carry the 1/20 fee (INKF § 1-2).
    Purring,
    /// Inkassovarsel (inkassoloven § 9): states that inkasso follows; may carry the 1/20 fee.
    Inkassovarsel,
    /// The creditor's own betalingsoppfordring (inkassoloven § 10) with the § 4-18 varsel.
    Betalingsoppfordring,
}

impl Step {
    /// In chain order.
    pub const ALL: [Step; 4] = [
        Step::Paminnelse,
        Step::Purring,
        Step::Inkassovarsel,
        Step::Betalingsoppfordring,
    ];

    /// The key used in the API, in stored records and in idempotency keys.
    pub fn key(self) -> &'static str {
        match self {
            Step::Paminnelse => "paminnelse",
            Step::Purring => "purring",
            Step::Inkassovarsel => "inkassovarsel",
            Step::Betalingsoppfordring => "betalingsoppfordring",
        }
    }

    /// The letters of the rulebook this step sends (the last step sends two in one).
    pub fn letter_kinds(self) -> &'static [LetterKind] {
        match self {
            Step::Paminnelse => &[LetterKind::Paminnelse],
            Step::Purring => &[LetterKind::Purring],
            Step::Inkassovarsel => &[LetterKind::Inkassovarsel],
            Step::Betalingsoppfordring => {
                &[LetterKind::Betalingsoppfordring, LetterKind::Varsel418]
            }
        }
    }

    /// The rulebook's letter that decides this step's fee and deadline.
    pub fn letter_kind(self) -> LetterKind {
        self.letter_kinds()[0]
    }

    /// Position in the chain (0 = påminnelse).
    pub fn index(self) -> usize {
        match self {
            Step::Paminnelse => 0,
            Step::Purring => 1,
            Step::Inkassovarsel => 2,
            Step::Betalingsoppfordring => 3,
        }
    }

    /// The step a sent letter of this kind stands for (`None` for a § 4-18 varsel sent alone).
    pub fn of_letter(kind: LetterKind) -> Option<Step> {
        match kind {
            LetterKind::Paminnelse => Some(Step::Paminnelse),
            LetterKind::Purring => Some(Step::Purring),
            LetterKind::Inkassovarsel => Some(Step::Inkassovarsel),
            LetterKind::Betalingsoppfordring => Some(Step::Betalingsoppfordring),
            LetterKind::Varsel418 => None,
        }
    }

    /// The heading of the letter (bokmål). The inkassovarsel's heading is «Inkassovarsel» and
    /// never uses the word "purring" (a reminder called so is not a § 9 varsel).
    pub fn title_nb(self) -> &'static str {
        match self {
            Step::Paminnelse => "Betalingspåminnelse",
            Step::Purring => "Purring",
            Step::Inkassovarsel => "Inkassovarsel",
            Step::Betalingsoppfordring => {
                "Betalingsoppfordring og varsel etter tvangsfullbyrdelsesloven § 4-18"
            }
        }
    }

    pub fn title_en(self) -> &'static str {
        match self {
            Step::Paminnelse => "Payment reminder",
            Step::Purring => "Reminder (purring)",
            Step::Inkassovarsel => "Debt collection notice (inkassovarsel)",
            Step::Betalingsoppfordring => {
                "Demand for payment and notice under the Enforcement Act § 4-18"
            }
        }
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown step {0:?} (paminnelse, purring, inkassovarsel, betalingsoppfordring)")]
pub struct UnknownStep(pub String);

impl FromStr for Step {
    type Err = UnknownStep;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Step::ALL
            .into_iter()
            .find(|step| step.key() == s)
            .ok_or_else(|| UnknownStep(s.to_string()))
    }
}

/// How a notice reaches the debtor.
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
pub enum Channel {
    /// E-mail with the letter attached as PDF.
    Email,
    /// A printed letter (the PDF goes to the letters outbox for the print-and-post partner).
    Letter,
    EmailAndLetter,
}

impl Channel {
    pub fn key(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Letter => "letter",
            Channel::EmailAndLetter => "email_and_letter",
        }
    }

    pub fn uses_email(self) -> bool {
        matches!(self, Channel::Email | Channel::EmailAndLetter)
    }

    pub fn uses_letter(self) -> bool {
        matches!(self, Channel::Letter | Channel::EmailAndLetter)
    }
}

/// The language a notice is written in: bokmål, or English for a debtor abroad.
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
    Default,
    Serialize,
    Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    #[default]
    Nb,
    En,
}

impl Language {
    /// English for a postal address outside Norway, bokmål otherwise.
    pub fn for_address(address: Option<&PostalAddress>) -> Self {
        match address.and_then(|a| a.country_code.as_deref()) {
            Some(cc) if !cc.eq_ignore_ascii_case("NO") => Language::En,
            _ => Language::Nb,
        }
    }
}

/// The creditor as the letters name it. Filled from what Tripletex knows about the client
/// company, corrected by the user in the dunning policy.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Sender {
    pub name: String,
    pub organization_number: Option<OrgNumber>,
    pub address: PostalAddress,
    /// Where the debtor pays (with the claim's KID).
    pub bank_account: BankAccount,
    /// Contact e-mail shown in the letter.
    pub email: Option<String>,
    pub phone: Option<String>,
    /// Where the debtor's replies to an e-mailed notice go (`Reply-To`).
    pub reply_to: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_round_trip_through_their_keys_and_the_last_step_sends_the_4_18_varsel() {
        for step in Step::ALL {
            assert_eq!(step.key().parse::<Step>(), Ok(step));
            assert_eq!(Step::of_letter(step.letter_kind()), Some(step));
        }
        assert!("purre".parse::<Step>().is_err());
        assert_eq!(
            Step::Betalingsoppfordring.letter_kinds(),
            &[LetterKind::Betalingsoppfordring, LetterKind::Varsel418]
        );
        assert!(!Step::Inkassovarsel
            .title_nb()
            .to_lowercase()
            .contains("purring"));
    }

    #[test]
    fn a_foreign_address_gets_english_and_a_norwegian_or_unknown_one_bokmal() {
        let at = |cc: Option<&str>| PostalAddress {
            lines: vec!["Gate 1".into()],
            postal_code: Some("0150".into()),
            city: Some("Oslo".into()),
            country_code: cc.map(str::to_string),
        };
        assert_eq!(Language::for_address(Some(&at(Some("SE")))), Language::En);
        assert_eq!(Language::for_address(Some(&at(Some("no")))), Language::Nb);
        assert_eq!(Language::for_address(Some(&at(None))), Language::Nb);
        assert_eq!(Language::for_address(None), Language::Nb);
    }
}
