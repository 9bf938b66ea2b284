//! Application services: each orchestrates the pure domain and the adapters for one capability.

pub mod cases;
pub mod classification;
pub mod ledger;
pub mod settlements;
pub mod setup;
pub mod sync;
pub mod vouchers;
