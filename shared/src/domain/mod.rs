//! The pure domain: Norwegian identifiers, money, the dated rulebook and the setup rules.
//! No AWS, no HTTP, no clock, no floats.

pub mod calendar;
pub mod case;
pub mod claim;
pub mod classify;
pub mod interest;
pub mod kid;
pub mod ledger;
pub mod letters;
pub mod limitation;
pub mod money;
pub mod orgnr;
pub mod rulebook;
pub mod setup;

pub use interest::{BalanceChange, Interest, InterestError, InterestSegment, InterestTotal};
pub use kid::{Kid, KidError, KidModulus};
pub use letters::{
    ClaimFacts, DebtorKind, LetterDecision, LetterKind, Objection, Reason, SentLetter,
};
pub use limitation::{Interruption, InterruptionKind, Limitation, LimitationState};
pub use money::{Money, MoneyError};
pub use orgnr::OrgNumber;
pub use rulebook::{Missing, RuleGap, RuleRef, Rulebook, RulebookError};
