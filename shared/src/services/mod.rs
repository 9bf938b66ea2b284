//! Application services: each orchestrates the pure domain and the adapters for one capability.

pub mod cases;
pub mod classification;
pub mod dunning;
pub mod ledger;
pub mod legal;
pub mod settlements;
pub mod setup;
pub mod sync;
pub mod vouchers;
