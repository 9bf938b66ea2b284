//! Inndrive's common crate.
//!
//! Direction of dependencies: `functions/*` → [`services`] (application services) → [`domain`]
//! (pure) and [`adapters`] (one module per outside system). [`http`] is the edge the HTTP functions
//! share. `domain` depends on nothing outside itself: no AWS, no HTTP, no clock (callers pass
//! `today`), no floating point (money is `rust_decimal`).

pub mod config;
pub mod domain;

// The dunning letter as PDF (krilla, embedded fonts): only for the functions and tools that
// render letters.
#[cfg(feature = "documents")]
pub mod documents;

#[cfg(feature = "adapters")]
pub mod adapters;
#[cfg(feature = "adapters")]
pub mod allocator;
// The current time, injected (services never read the system clock themselves).
#[cfg(feature = "adapters")]
pub mod clock;
// The HTTP edge of the API functions: error body, organization claim, JSON parsing, routing span.
#[cfg(feature = "adapters")]
pub mod http;
// Application services: orchestrate the domain and the adapters for one capability.
#[cfg(feature = "adapters")]
pub mod services;
#[cfg(feature = "adapters")]
pub mod telemetry;
