//! Enhetsregisteret: stop flags for each status, deleted entities, 410/404, addresses.

use super::super::registry::*;
use super::super::{MirroredCustomer, PostalAddress};
use super::d;
use crate::domain::{DebtorKind, OrgNumber};
use serde_json::{json, Value};

fn entity() -> Value {
    json!({
        "organisasjonsnummer": "923609016", "navn": "KUNDE AS",
        "organisasjonsform": { "kode": "AS", "beskrivelse": "Aksjeselskap" },
        "registreringsdatoEnhetsregisteret": "2019-10-01", "maalform": "Bokmål",
        "konkurs": false, "underAvvikling": false,
        "underTvangsavviklingEllerTvangsopplosning": false,
        "registrertIMvaregisteret": true, "harRegistrertAntallAnsatte": false,
        "postadresse": { "land": "Norge", "landkode": "NO", "postnummer": "0101",
                         "poststed": "OSLO", "adresse": ["Postboks 1", ""],
                         "kommune": "OSLO", "kommunenummer": "0301" },
        "forretningsadresse": { "land": "Norge", "landkode": "NO", "postnummer": "0150",
                                "poststed": "OSLO", "adresse": ["Storgata 1"] }
    })
}

#[test]
fn an_active_entity_does_not_stop_dunning() {
    let s = registry_status(&entity()).unwrap();
    assert!(!s.stop_dunning());
    assert!(s.stop_reasons.is_empty());
    assert_eq!(
        s.organization_number.as_ref().map(|o| o.as_str()),
        Some("923609016")
    );
    assert_eq!(s.name.as_deref(), Some("KUNDE AS"));
    let a = s.postal_address.unwrap();
    assert_eq!(a.lines, vec!["Postboks 1"]);
    assert_eq!(a.postal_code.as_deref(), Some("0101"));
    assert_eq!(a.country_code.as_deref(), Some("NO"));
    assert_eq!(s.address_source, Some(AddressSource::Postadresse));
}

#[test]
fn each_status_stops_dunning_with_its_reason() {
    let cases: [(&str, Value, StopReason); 3] = [
        ("konkurs", json!(true), StopReason::Bankrupt),
        ("underAvvikling", json!(true), StopReason::UnderLiquidation),
        (
            "underTvangsavviklingEllerTvangsopplosning",
            json!(true),
            StopReason::ForcedDissolution,
        ),
    ];
    for (field, value, reason) in cases {
        let mut e = entity();
        e[field] = value;
        let s = registry_status(&e).unwrap();
        assert!(s.stop_dunning(), "{field}");
        assert_eq!(s.stop_reasons, vec![reason], "{field}");
    }
    let mut e = entity();
    e["konkurs"] = json!(true);
    e["konkursdato"] = json!("2026-04-02");
    e["underAvvikling"] = json!(true);
    e["underAvviklingDato"] = json!("2026-04-03");
    let s = registry_status(&e).unwrap();
    assert!(s.bankrupt && s.under_liquidation && !s.forced_dissolution);
    assert_eq!(s.bankrupt_since, Some(d("2026-04-02")));
    assert_eq!(s.under_liquidation_since, Some(d("2026-04-03")));
    assert_eq!(
        s.stop_reasons,
        vec![StopReason::Bankrupt, StopReason::UnderLiquidation]
    );
}

#[test]
fn a_deleted_entity_stops_dunning() {
    // The reduced body Enhetsregisteret answers (200) for a deleted entity.
    let e = json!({ "respons_klasse": "SlettetEnhet", "organisasjonsnummer": "923609016",
                    "navn": "KUNDE AS", "slettedato": "2025-11-30" });
    let s = registry_status(&e).unwrap();
    assert!(s.deleted);
    assert_eq!(s.deleted_on, Some(d("2025-11-30")));
    assert_eq!(s.stop_reasons, vec![StopReason::Deleted]);
    assert!(s.postal_address.is_none());

    let mut e = entity();
    e["slettedato"] = json!("2026-01-15");
    assert_eq!(
        registry_status(&e).unwrap().stop_reasons,
        vec![StopReason::Deleted]
    );
}

#[test]
fn gone_stops_dunning_not_found_says_nothing() {
    let org = OrgNumber::parse("923609016").unwrap();
    let gone = status_from_lookup(&org, &RegistryLookup::Gone)
        .unwrap()
        .unwrap();
    assert_eq!(gone.stop_reasons, vec![StopReason::RemovedFromRegister]);
    assert_eq!(
        status_from_lookup(&org, &RegistryLookup::NotFound).unwrap(),
        None
    );
    let found = status_from_lookup(&org, &RegistryLookup::Found(entity())).unwrap();
    assert!(!found.unwrap().stop_dunning());
    assert!(registry_status(&json!([1, 2])).is_err());
    assert!(registry_status(&json!({ "konkurs": "ja" })).is_err());
}

#[test]
fn business_address_is_the_fallback_and_updates_follow_the_setting() {
    let mut e = entity();
    e.as_object_mut().unwrap().remove("postadresse");
    let s = registry_status(&e).unwrap();
    assert_eq!(s.address_source, Some(AddressSource::Forretningsadresse));

    let mut customer = MirroredCustomer {
        id: 1,
        version: Some(1),
        name: "Kunde AS".into(),
        customer_number: None,
        organization_number: None,
        invalid_organization_number: None,
        debtor_kind: DebtorKind::Business,
        inactive: false,
        email: None,
        invoice_email: None,
        overdue_notice_email: None,
        postal_address: Some(PostalAddress {
            lines: vec!["storgata  1".into()],
            postal_code: Some("0150".into()),
            city: Some("Oslo".into()),
            country_code: None,
        }),
        payment_terms: None,
    };
    assert_eq!(address_update(&customer, &s, true), None, "same address");
    customer.postal_address.as_mut().unwrap().postal_code = Some("0151".into());
    assert_eq!(address_update(&customer, &s, false), None, "setting off");
    assert_eq!(
        address_update(&customer, &s, true),
        s.postal_address.clone(),
        "differs"
    );
    customer.postal_address = None;
    assert_eq!(
        address_update(&customer, &s, true),
        s.postal_address.clone()
    );
}
