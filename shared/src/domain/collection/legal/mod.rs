//! Legal steps: what follows the creditor's own betalingsoppfordring.
//!
//! An undisputed claim goes straight to a **begjæring om utlegg** with the namsmann on the
//! særlig tvangsgrunnlag of tvangsfullbyrdelsesloven § 7-2 (1) f (the creditor's own written
//! communication showing the claim's basis and amount); a disputed claim (the debtor objected and
//! a person found the objection groundless) goes to a **forliksklage** (tvisteloven § 6-3).
//!
//! - [`policy`]: the creditor's criteria, the dunning policy's `legalSteps` section;
//! - [`readiness`]: "legal steps may now be taken" for one case, by the rules of the issue;
//! - [`radar`]: the limitation radar: each claim's limitation date, its warnings, its holds;
//! - [`document`]: the begjæring om utlegg and the forliksklage, field by field (modelled on
//!   Skatteetaten's utleggsbegjæring API), composed for the PDF;
//! - [`police`]: the police districts, whose namsmann the begjæring goes to;
//! - [`notify`]: the notifications per account and the organization's digest mail;
//! - [`record`]: a drafted document as kept on its case, with its approval;
//! - [`sample`]: a realistic case for the CLI and the tests.
//!
//! Pure: no clock (`today` is passed in), no I/O. The PDF is `shared::documents`.

pub mod document;
pub mod notify;
pub mod police;
pub mod policy;
pub mod radar;
pub mod readiness;
pub mod record;
pub mod sample;

pub use document::{DocumentKind, LegalDocument, LegalDocumentInput};
pub use police::PoliceDistrict;
pub use policy::{LegalStepsMode, LegalStepsPolicy, RoutePreference};
pub use radar::{ClaimLimitation, LimitationWarning, RadarEntry, WarningLevel};
pub use readiness::{readiness, Readiness, ReadinessInput};

use serde::{Deserialize, Serialize};
use std::fmt;

/// Where a claim goes after the betalingsoppfordring.
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
pub enum Route {
    /// Begjæring om utlegg to the namsmann on tvangsfullbyrdelsesloven § 7-2 (1) f.
    Utlegg,
    /// Forliksklage to the forliksråd (tvisteloven § 6-3).
    Forliksklage,
}

impl Route {
    pub fn key(self) -> &'static str {
        match self {
            Route::Utlegg => "utlegg",
            Route::Forliksklage => "forliksklage",
        }
    }

    pub fn parse(s: &str) -> Option<Route> {
        match s {
            "utlegg" => Some(Route::Utlegg),
            "forliksklage" => Some(Route::Forliksklage),
            _ => None,
        }
    }

    pub fn name_no(self) -> &'static str {
        match self {
            Route::Utlegg => "begjæring om utlegg",
            Route::Forliksklage => "forliksklage",
        }
    }

    /// The document drafted for this route.
    pub fn document(self) -> DocumentKind {
        match self {
            Route::Utlegg => DocumentKind::BegjaeringOmUtlegg,
            Route::Forliksklage => DocumentKind::Forliksklage,
        }
    }
}

impl fmt::Display for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

/// The keys of the notices that go out once per case (recorded with
/// [`crate::domain::case::Case::notify_once`]). One place spells them.
pub mod keys {
    use super::radar::WarningLevel;
    use super::Route;
    use chrono::NaiveDate;

    /// "Legal steps may now be taken": once per route and betalingsoppfordring (a new
    /// betalingsoppfordring makes a new readiness, and a new notice).
    pub fn ready(route: Route, betalingsoppfordring_sent: NaiveDate) -> String {
        format!("legal-ready:{route}:{betalingsoppfordring_sent}")
    }

    /// A limitation warning: once per level and limitation date (a part payment that moves the
    /// date starts the warnings again for the new date).
    pub fn limitation_warning(level: WarningLevel, time_barred_on: NaiveDate) -> String {
        format!("limitation:{}:{time_barred_on}", level.key())
    }
}
