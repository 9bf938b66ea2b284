//! The pure domain. No AWS, no HTTP, no clock, no floats.
//!
//! - [`collection`]: the Norwegian rules of collection as dated data (rulebook, interest, letters,
//!   limitation, KID, calendar).
//! - [`ledger`], [`classify`], [`claim`], [`case`]: the mirrored reskontro, what each credit is,
//!   what a claim still owes, and the case that follows it up.
//! - [`owed`]: what is owed on a claim, derived once from the principal and the credits; the
//!   ledger item and the claim both use it.
//! - [`setup`], [`money`], [`orgnr`]: identifiers and values used everywhere.

pub mod case;
pub mod claim;
pub mod classify;
pub mod collection;
pub mod ledger;
pub mod money;
pub mod orgnr;
pub mod owed;
pub mod setup;
pub mod voucher;

pub use collection::interest::{
    BalanceChange, Interest, InterestError, InterestSegment, InterestTotal,
};
pub use collection::kid::{Kid, KidError, KidModulus};
pub use collection::letters::{
    ClaimFacts, DebtorKind, LetterDecision, LetterKind, Objection, Reason, SentLetter,
};
pub use collection::limitation::{Interruption, InterruptionKind, Limitation, LimitationState};
pub use collection::rulebook::{Missing, RuleGap, RuleRef, Rulebook, RulebookError};
pub use money::{Money, MoneyError};
pub use orgnr::OrgNumber;
