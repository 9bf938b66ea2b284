//! The pure domain: Norwegian identifiers, money, the dated rulebook and the setup rules.
//! No AWS, no HTTP, no clock, no floats.

pub mod orgnr;
pub mod setup;

pub use orgnr::OrgNumber;
