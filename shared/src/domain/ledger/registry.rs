//! Enhetsregisteret (Brønnøysundregistrene): whether dunning must stop for a debtor, and the
//! registered postal address.
//!
//! Input: the JSON body of `GET https://data.brreg.no/enhetsregisteret/api/enheter/{orgnr}`
//! (the adapter fetches it; this module only reads it). A deleted entity answers 200 with a
//! reduced body (`respons_klasse: "SlettetEnhet"`, `slettedato`); 410 means removed from the open
//! data; 404 means unknown ([`RegistryLookup`]).
//!
//! Dunning stops for an entity that is bankrupt (`konkurs`), under liquidation
//! (`underAvvikling`), under forced dissolution (`underTvangsavviklingEllerTvangsopplosning`),
//! deleted (`slettedato`), or removed from the register (410): the claim is then filed with the
//! estate or handled by a person, not chased with letters.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::model::{MirroredCustomer, PostalAddress};
use super::raw::{date_value, DateField, DateValue};
use crate::domain::OrgNumber;

/// The Enhetsregisteret fields read (names as in the API).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct BrregEntity {
    pub organisasjonsnummer: Option<String>,
    pub navn: Option<String>,
    pub konkurs: Option<bool>,
    pub konkursdato: DateField,
    pub under_avvikling: Option<bool>,
    pub under_avvikling_dato: DateField,
    pub under_tvangsavvikling_eller_tvangsopplosning: Option<bool>,
    pub slettedato: DateField,
    #[serde(rename = "respons_klasse")]
    pub respons_klasse: Option<String>,
    pub postadresse: Option<BrregAddress>,
    pub forretningsadresse: Option<BrregAddress>,
}

/// An Enhetsregisteret address: `adresse` is an array of lines.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct BrregAddress {
    pub adresse: Vec<String>,
    pub postnummer: Option<String>,
    pub poststed: Option<String>,
    pub land: Option<String>,
    pub landkode: Option<String>,
}

/// Why dunning stops.
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
pub enum StopReason {
    /// `konkurs`.
    Bankrupt,
    /// `underAvvikling` (voluntary liquidation).
    UnderLiquidation,
    /// `underTvangsavviklingEllerTvangsopplosning`.
    ForcedDissolution,
    /// `slettedato` / `respons_klasse: "SlettetEnhet"`.
    Deleted,
    /// 410: removed from the open register data.
    RemovedFromRegister,
}

/// Which Enhetsregisteret address was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AddressSource {
    /// `postadresse` (preferred for letters).
    Postadresse,
    /// `forretningsadresse` (when there is no postal address).
    Forretningsadresse,
}

/// What the register says about a debtor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegistryStatus {
    /// As registered (checked); `None` when the body had none or an invalid one.
    pub organization_number: Option<OrgNumber>,
    pub name: Option<String>,
    pub bankrupt: bool,
    pub bankrupt_since: Option<NaiveDate>,
    pub under_liquidation: bool,
    pub under_liquidation_since: Option<NaiveDate>,
    pub forced_dissolution: bool,
    pub deleted: bool,
    pub deleted_on: Option<NaiveDate>,
    /// Sorted; empty = dunning may go on.
    pub stop_reasons: Vec<StopReason>,
    pub postal_address: Option<PostalAddress>,
    pub address_source: Option<AddressSource>,
}

impl RegistryStatus {
    /// Dunning must stop for this debtor.
    pub fn stop_dunning(&self) -> bool {
        !self.stop_reasons.is_empty()
    }
}

/// What the adapter got from Enhetsregisteret.
#[derive(Debug, Clone, PartialEq)]
pub enum RegistryLookup {
    /// 200: the body (a full or a reduced "SlettetEnhet" entity).
    Found(serde_json::Value),
    /// 410: removed from the open data.
    Gone,
    /// 404: no such entity (or a sub-entity number).
    NotFound,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    #[error("the Enhetsregisteret answer is not an entity: {0}")]
    NotAnEntity(String),
}

/// The status from a 200 body.
pub fn registry_status(body: &serde_json::Value) -> Result<RegistryStatus, RegistryError> {
    if !body.is_object() {
        return Err(RegistryError::NotAnEntity("not a JSON object".to_string()));
    }
    let e: BrregEntity = serde_json::from_value(body.clone())
        .map_err(|err| RegistryError::NotAnEntity(err.to_string()))?;
    Ok(status_of(&e))
}

impl RegistryStatus {
    /// An entity removed from the register's open data (HTTP 410): dunning stops, nothing else
    /// is known about it.
    pub fn removed(org: &OrgNumber) -> Self {
        RegistryStatus {
            organization_number: Some(org.clone()),
            name: None,
            bankrupt: false,
            bankrupt_since: None,
            under_liquidation: false,
            under_liquidation_since: None,
            forced_dissolution: false,
            deleted: false,
            deleted_on: None,
            stop_reasons: vec![StopReason::RemovedFromRegister],
            postal_address: None,
            address_source: None,
        }
    }
}

/// The status from any answer; `None` for 404 (nothing known: dunning is not stopped by it, the
/// adapter reports the unknown number).
pub fn status_from_lookup(
    org: &OrgNumber,
    lookup: &RegistryLookup,
) -> Result<Option<RegistryStatus>, RegistryError> {
    match lookup {
        RegistryLookup::Found(body) => registry_status(body).map(Some),
        RegistryLookup::NotFound => Ok(None),
        RegistryLookup::Gone => Ok(Some(RegistryStatus::removed(org))),
    }
}

fn opt_date(f: &DateField) -> Option<NaiveDate> {
    match date_value(f) {
        DateValue::Date(d) => Some(d),
        _ => None,
    }
}

fn present(f: &DateField) -> bool {
    !matches!(date_value(f), DateValue::Absent)
}

fn non_blank(s: &Option<String>) -> Option<String> {
    s.as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_string)
}

fn brreg_address(a: &BrregAddress) -> Option<PostalAddress> {
    let addr = PostalAddress {
        lines: a
            .adresse
            .iter()
            .map(|l| l.trim())
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect(),
        postal_code: non_blank(&a.postnummer),
        city: non_blank(&a.poststed),
        country_code: non_blank(&a.landkode).map(|c| c.to_ascii_uppercase()),
    };
    (!addr.is_empty()).then_some(addr)
}

fn status_of(e: &BrregEntity) -> RegistryStatus {
    let bankrupt = e.konkurs.unwrap_or(false);
    let under_liquidation = e.under_avvikling.unwrap_or(false);
    let forced_dissolution = e
        .under_tvangsavvikling_eller_tvangsopplosning
        .unwrap_or(false);
    let deleted = present(&e.slettedato)
        || e.respons_klasse
            .as_deref()
            .is_some_and(|k| k.trim().eq_ignore_ascii_case("SlettetEnhet"));
    let mut stop_reasons = Vec::new();
    if bankrupt {
        stop_reasons.push(StopReason::Bankrupt);
    }
    if under_liquidation {
        stop_reasons.push(StopReason::UnderLiquidation);
    }
    if forced_dissolution {
        stop_reasons.push(StopReason::ForcedDissolution);
    }
    if deleted {
        stop_reasons.push(StopReason::Deleted);
    }
    let (postal_address, address_source) = match e.postadresse.as_ref().and_then(brreg_address) {
        Some(a) => (Some(a), Some(AddressSource::Postadresse)),
        None => match e.forretningsadresse.as_ref().and_then(brreg_address) {
            Some(a) => (Some(a), Some(AddressSource::Forretningsadresse)),
            None => (None, None),
        },
    };
    RegistryStatus {
        organization_number: e
            .organisasjonsnummer
            .as_deref()
            .and_then(|s| OrgNumber::parse(s).ok()),
        name: non_blank(&e.navn),
        bankrupt,
        bankrupt_since: opt_date(&e.konkursdato),
        under_liquidation,
        under_liquidation_since: opt_date(&e.under_avvikling_dato),
        forced_dissolution,
        deleted,
        deleted_on: opt_date(&e.slettedato),
        stop_reasons,
        postal_address,
        address_source,
    }
}

fn fold(s: &str) -> String {
    s.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

fn same_address(a: &PostalAddress, b: &PostalAddress) -> bool {
    let lines = |x: &PostalAddress| x.lines.iter().map(|l| fold(l)).collect::<Vec<_>>();
    let opt = |x: &Option<String>| x.as_deref().map(fold);
    lines(a) == lines(b)
        && opt(&a.postal_code) == opt(&b.postal_code)
        && opt(&a.city) == opt(&b.city)
        && match (&a.country_code, &b.country_code) {
            (Some(x), Some(y)) => x.eq_ignore_ascii_case(y),
            _ => true,
        }
}

/// The address to write to the customer in Tripletex (`updateAddressesFromBrreg`): the
/// register's postal address when the setting is on and it differs from the customer's (case and
/// spacing ignored; the country only when both sides have one). `None`: nothing to update.
pub fn address_update(
    customer: &MirroredCustomer,
    status: &RegistryStatus,
    update_addresses_from_brreg: bool,
) -> Option<PostalAddress> {
    if !update_addresses_from_brreg {
        return None;
    }
    let registered = status.postal_address.as_ref()?;
    match &customer.postal_address {
        Some(current) if same_address(current, registered) => None,
        _ => Some(registered.clone()),
    }
}
