//! Inndrive's common crate.
//!
//! Direction of dependencies: `functions/*` → application services here → `domain` (pure) and the
//! adapters (one module per outside system). `domain` depends on nothing outside itself: no AWS, no
//! HTTP, no clock (callers pass `today`), no floating point (money is `rust_decimal`).

#[cfg(feature = "adapters")]
pub mod allocator;
#[cfg(feature = "adapters")]
pub mod aws;
pub mod config;
pub mod domain;
#[cfg(feature = "adapters")]
pub mod telemetry;

// One module per outside system.
#[cfg(feature = "adapters")]
pub mod brreg;
#[cfg(feature = "adapters")]
pub mod mail;
#[cfg(feature = "adapters")]
pub mod queue;
#[cfg(feature = "adapters")]
pub mod secrets;
#[cfg(feature = "adapters")]
pub mod store;
#[cfg(feature = "adapters")]
pub mod tripletex;

// HTTP edge helpers shared by the API functions (error body shape, claims, JSON parsing).
#[cfg(feature = "adapters")]
pub mod api;
// Application services: orchestrate the domain and the adapters for one capability.
#[cfg(feature = "adapters")]
pub mod services;
