//! The police districts: the namsmann a begjæring om utlegg goes to is the one of the district
//! where the debtor has alminnelig verneting (tvangsfullbyrdelsesloven § 7-3; a person's home, a
//! company's business address).
//!
//! **The user picks the district** (prefilled with nothing): Inndrive does not derive it from the
//! postal code. The postal address in Tripletex is where invoices go, often a P.O. box, an
//! accountant or an invoice hotel, not where the debtor lives or has its business; a postal code
//! → municipality table (Posten's register, updated monthly) plus a municipality → district table
//! (357 municipalities, with districts that cross county lines: Asker and Bærum are in Oslo,
//! Lunner in Innlandet, Jevnaker in Sør-Øst, Sunnhordland in Sør-Vest, Bindal in Trøndelag,
//! Gratangen in Nordland) would be dated data to keep up, and would still guess from the wrong
//! address. The choice goes in the begjæring with its reason, as Skatteetaten's API asks for it
//! (`valgtNamsmannsdistrikt { namsmannsdistrikt, begrunnelse }`); the namsmann decides
//! (`besluttetNamsmannsdistrikt`).
//!
//! The twelve districts since the police reform of 1 January 2016 (names as published then;
//! sprak.nrk.no 2016, politiet.no). A new reform is a code change here and a line in
//! `docs/legal-steps.md`.

use serde::{Deserialize, Serialize};
use std::fmt;

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
#[serde(rename_all = "kebab-case")]
pub enum PoliceDistrict {
    Oslo,
    Ost,
    Innlandet,
    SorOst,
    Agder,
    SorVest,
    Vest,
    MoreOgRomsdal,
    Trondelag,
    Nordland,
    Troms,
    Finnmark,
}

impl PoliceDistrict {
    pub const ALL: [PoliceDistrict; 12] = [
        PoliceDistrict::Oslo,
        PoliceDistrict::Ost,
        PoliceDistrict::Innlandet,
        PoliceDistrict::SorOst,
        PoliceDistrict::Agder,
        PoliceDistrict::SorVest,
        PoliceDistrict::Vest,
        PoliceDistrict::MoreOgRomsdal,
        PoliceDistrict::Trondelag,
        PoliceDistrict::Nordland,
        PoliceDistrict::Troms,
        PoliceDistrict::Finnmark,
    ];

    /// The key in the API and in stored documents.
    pub fn key(self) -> &'static str {
        match self {
            PoliceDistrict::Oslo => "oslo",
            PoliceDistrict::Ost => "ost",
            PoliceDistrict::Innlandet => "innlandet",
            PoliceDistrict::SorOst => "sor-ost",
            PoliceDistrict::Agder => "agder",
            PoliceDistrict::SorVest => "sor-vest",
            PoliceDistrict::Vest => "vest",
            PoliceDistrict::MoreOgRomsdal => "more-og-romsdal",
            PoliceDistrict::Trondelag => "trondelag",
            PoliceDistrict::Nordland => "nordland",
            PoliceDistrict::Troms => "troms",
            PoliceDistrict::Finnmark => "finnmark",
        }
    }

    pub fn parse(s: &str) -> Option<PoliceDistrict> {
        Self::ALL.into_iter().find(|d| d.key() == s)
    }

    /// «Oslo politidistrikt».
    pub fn name_no(self) -> &'static str {
        match self {
            PoliceDistrict::Oslo => "Oslo politidistrikt",
            PoliceDistrict::Ost => "Øst politidistrikt",
            PoliceDistrict::Innlandet => "Innlandet politidistrikt",
            PoliceDistrict::SorOst => "Sør-Øst politidistrikt",
            PoliceDistrict::Agder => "Agder politidistrikt",
            PoliceDistrict::SorVest => "Sør-Vest politidistrikt",
            PoliceDistrict::Vest => "Vest politidistrikt",
            PoliceDistrict::MoreOgRomsdal => "Møre og Romsdal politidistrikt",
            PoliceDistrict::Trondelag => "Trøndelag politidistrikt",
            PoliceDistrict::Nordland => "Nordland politidistrikt",
            PoliceDistrict::Troms => "Troms politidistrikt",
            PoliceDistrict::Finnmark => "Finnmark politidistrikt",
        }
    }

    /// «Namsmannen i Oslo politidistrikt».
    pub fn namsmann_no(self) -> String {
        format!("Namsmannen i {}", self.name_no())
    }
}

impl fmt::Display for PoliceDistrict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twelve_districts_round_trip_through_their_keys() {
        let mut keys: Vec<&str> = PoliceDistrict::ALL.iter().map(|d| d.key()).collect();
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), 12);
        for d in PoliceDistrict::ALL {
            assert_eq!(PoliceDistrict::parse(d.key()), Some(d));
            let json = serde_json::to_string(&d).unwrap();
            assert_eq!(json, format!("\"{}\"", d.key()));
            assert!(d.name_no().ends_with("politidistrikt"));
        }
        assert_eq!(PoliceDistrict::parse("sandvika"), None);
        assert_eq!(
            PoliceDistrict::SorOst.namsmann_no(),
            "Namsmannen i Sør-Øst politidistrikt"
        );
    }
}
