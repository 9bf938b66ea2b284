//! Writing Enhetsregisteret's postal address back to the customer in Tripletex (the
//! setting `writeAddressesToTripletex`, off by default, only together with
//! `updateAddressesFromBrreg`).
//!
//! Contract for the sync (the caller):
//! - Call [`write_back_addresses`] after the register look-up of a run, with the run's settings and
//!   the customers [`planned_address_writes`] picks (those for which
//!   [`address_update`](crate::domain::ledger::registry::address_update) says the register's
//!   address differs from Tripletex's). With the setting off (or `updateAddressesFromBrreg` off)
//!   nothing is sent and the report is empty: the check lives here, the caller need not repeat it.
//! - Each customer is one `PUT /customer/{id}` at the `version` this run read (optimistic
//!   locking). A stale version (someone changed the customer since) is counted in `conflicts` and
//!   skipped: the next sync reads the customer's new version (its `changes` make `changedSince`
//!   return it) and tries again if the address still differs.
//! - Never fails the sync: every per-customer failure (refusal, rate limit after retries,
//!   transport) is counted and reported with its reason, and the next customer is tried.
//! - A customer without a read `version`, a register address without a street line, postal code
//!   or city, or a foreign register address (the country is not written: Tripletex keeps its own)
//!   is skipped with the reason; so is a customer whose Tripletex address already reads the same as
//!   what would be written (register addresses with three lines become two in Tripletex, which
//!   must not be written again on every sync).
//! - Logs carry customer ids, counts and Tripletex's error text (the client scrubs tokens from
//!   it), never a token.

use std::collections::HashMap;

use crate::adapters::store::ledger::CustomerRegistry;
use crate::adapters::tripletex::{
    is_version_conflict, Acting, AddressBody, EmployeeKey, TripletexClient,
};
use crate::domain::ledger::{MirroredCustomer, PostalAddress};
use crate::domain::setup::IntegrationSettings;

/// One customer whose Tripletex postal address is to become the register's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressWriteBack {
    pub customer_id: i64,
    /// The customer's `version` as this sync read it; `None` → not written (no blind overwrite).
    pub version: Option<i64>,
    /// The postal address as Tripletex has it (as read), if any.
    pub tripletex_address: Option<PostalAddress>,
    /// Tripletex's id of that address, when known: the address is then updated in place.
    pub tripletex_address_id: Option<i64>,
    /// Enhetsregisteret's postal address.
    pub register_address: PostalAddress,
}

/// Why a customer was not written (and not attempted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteBackSkip {
    pub customer_id: i64,
    pub reason: String,
}

/// A customer whose write failed (other than a version conflict).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteBackFailure {
    pub customer_id: i64,
    /// Tripletex's answer or the transport failure (no secrets).
    pub reason: String,
    /// Worth trying again soon (rate limit, server or transport trouble).
    pub transient: bool,
}

/// What [`write_back_addresses`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteBackReport {
    /// Customers whose postal address Tripletex accepted.
    pub written: u32,
    /// Customer ids written, with the version Tripletex answered (when it did).
    pub written_ids: Vec<(i64, Option<i64>)>,
    /// Stale version: skipped this time; the next sync retries with the new version.
    pub conflicts: u32,
    pub conflict_ids: Vec<i64>,
    pub skipped: Vec<WriteBackSkip>,
    pub failures: Vec<WriteBackFailure>,
}

impl WriteBackReport {
    /// Nothing was sent to Tripletex.
    pub fn is_empty(&self) -> bool {
        self.written == 0 && self.conflicts == 0 && self.failures.is_empty()
    }
}

/// Whether the settings ask for the write-back (both settings on).
pub fn write_back_enabled(settings: &IntegrationSettings) -> bool {
    settings.write_addresses_to_tripletex && settings.update_addresses_from_brreg
}

/// The customers of a build whose Tripletex postal address differs from the register's (the same
/// rule as the mirror's `address_update`), with what the write needs. `registry` is the run's
/// look-up result by customer id.
pub fn planned_address_writes(
    customers: &[MirroredCustomer],
    registry: &HashMap<i64, CustomerRegistry>,
) -> Vec<AddressWriteBack> {
    customers
        .iter()
        .filter_map(|c| {
            let reg = registry.get(&c.id)?;
            let register_address = reg.address_update_for(c)?;
            Some(AddressWriteBack {
                customer_id: c.id,
                version: c.version,
                tripletex_address: c.postal_address.clone(),
                tripletex_address_id: None,
                register_address,
            })
        })
        .collect()
}

fn skip_reason(w: &AddressWriteBack, body: &AddressBody) -> Option<String> {
    if w.version.is_none() {
        return Some("the customer's version was not read; not written without it".into());
    }
    if body.address_line1.is_empty() || body.postal_code.is_empty() || body.city.is_empty() {
        return Some(
            "the register's address lacks a street line, postal code or city; not written".into(),
        );
    }
    if let Some(country) = &w.register_address.country_code {
        let tripletex_country = w
            .tripletex_address
            .as_ref()
            .and_then(|a| a.country_code.as_deref());
        let norwegian = country.eq_ignore_ascii_case("NO");
        let same = tripletex_country.is_some_and(|t| t.eq_ignore_ascii_case(country));
        if !norwegian && !same {
            return Some(format!(
                "the register's address is in {country}; the country is not written"
            ));
        }
    }
    if let Some(current) = &w.tripletex_address {
        if AddressBody::from_postal(current, None).same_text(body) {
            return Some("Tripletex's address already reads as the register's".into());
        }
    }
    None
}

/// `PUT /customer/{id}` with the register's postal address for each of `writes`, one after the
/// other, when `settings` ask for it (see the module's contract). Never fails: see the report.
pub async fn write_back_addresses(
    client: &TripletexClient,
    key: &EmployeeKey,
    acting: Acting,
    settings: &IntegrationSettings,
    writes: &[AddressWriteBack],
) -> WriteBackReport {
    let mut report = WriteBackReport::default();
    if !write_back_enabled(settings) || writes.is_empty() {
        return report;
    }
    for w in writes {
        let body = AddressBody::from_postal(&w.register_address, w.tripletex_address_id);
        if let Some(reason) = skip_reason(w, &body) {
            tracing::info!(customer = w.customer_id, %reason, "address write-back skipped");
            report.skipped.push(WriteBackSkip {
                customer_id: w.customer_id,
                reason,
            });
            continue;
        }
        let version = w.version.unwrap_or_default();
        match client
            .put_customer_postal_address(key, acting, w.customer_id, version, &body)
            .await
        {
            Ok(updated) => {
                tracing::info!(
                    customer = w.customer_id,
                    version,
                    new_version = updated.version,
                    "register address written to Tripletex"
                );
                report.written += 1;
                report.written_ids.push((w.customer_id, updated.version));
            }
            Err(e) if is_version_conflict(&e) => {
                tracing::info!(
                    customer = w.customer_id,
                    version,
                    "customer changed in Tripletex since it was read; address write-back skipped until the next sync"
                );
                report.conflicts += 1;
                report.conflict_ids.push(w.customer_id);
            }
            Err(e) => {
                tracing::warn!(customer = w.customer_id, error = %e, "address write-back failed");
                report.failures.push(WriteBackFailure {
                    customer_id: w.customer_id,
                    reason: e.to_string(),
                    transient: e.is_transient(),
                });
            }
        }
    }
    tracing::info!(
        written = report.written,
        conflicts = report.conflicts,
        skipped = report.skipped.len(),
        failures = report.failures.len(),
        "address write-back done"
    );
    report
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::setup::KeyId;
    use crate::domain::{DebtorKind, OrgNumber};
    use chrono::NaiveDate;

    fn addr(lines: &[&str], code: &str, city: &str, country: Option<&str>) -> PostalAddress {
        PostalAddress {
            lines: lines.iter().map(|s| s.to_string()).collect(),
            postal_code: Some(code.into()),
            city: Some(city.into()),
            country_code: country.map(str::to_string),
        }
    }

    fn customer(id: i64, address: Option<PostalAddress>) -> MirroredCustomer {
        MirroredCustomer {
            id,
            version: Some(3),
            name: "Vestland Bygg AS".into(),
            customer_number: None,
            organization_number: OrgNumber::parse("922334455").ok(),
            invalid_organization_number: None,
            debtor_kind: DebtorKind::Business,
            inactive: false,
            email: None,
            invoice_email: None,
            overdue_notice_email: None,
            postal_address: address,
            payment_terms: None,
        }
    }

    fn registry(address: Option<PostalAddress>) -> CustomerRegistry {
        CustomerRegistry {
            stop_dunning: false,
            stop_reasons: Vec::new(),
            found: true,
            registered_name: None,
            registered_address: address,
        }
    }

    fn settings(brreg: bool, write: bool) -> IntegrationSettings {
        IntegrationSettings {
            key_id: KeyId::from_suffix("0192f0c4a1b27f3e8c1d2e3f4a5b6c7d").unwrap(),
            client_company_id: 2001,
            fetch_from: NaiveDate::from_ymd_opt(2025, 1, 1).unwrap(),
            days_past_due: 14,
            update_addresses_from_brreg: brreg,
            write_addresses_to_tripletex: write,
            include_saft_imported: false,
            include_null_voucher_type: false,
            voucher_posting: Default::default(),
        }
    }

    #[test]
    fn only_customers_whose_address_differs_are_planned() {
        let oslo = addr(&["Storgata 1"], "0150", "Oslo", Some("NO"));
        let bergen = addr(&["Kaigata 7"], "5003", "Bergen", Some("NO"));
        let customers = vec![
            customer(1, Some(oslo.clone())),
            customer(2, Some(oslo.clone())),
            customer(3, None),
            customer(4, Some(oslo.clone())),
        ];
        let reg = HashMap::from([
            (1, registry(Some(bergen.clone()))),
            (
                2,
                registry(Some(addr(&["STORGATA  1"], "0150", "OSLO", None))),
            ),
            (3, registry(Some(bergen.clone()))),
            // 4: no look-up result; 5: not a customer of the build.
            (5, registry(Some(bergen.clone()))),
        ]);
        let planned = planned_address_writes(&customers, &reg);
        let ids: Vec<i64> = planned.iter().map(|p| p.customer_id).collect();
        assert_eq!(ids, vec![1, 3]);
        assert_eq!(planned[0].version, Some(3));
        assert_eq!(planned[0].tripletex_address, Some(oslo));
        assert_eq!(planned[0].register_address, bergen);
        assert_eq!(planned[1].tripletex_address, None);
    }

    #[test]
    fn enabled_only_with_both_settings() {
        assert!(write_back_enabled(&settings(true, true)));
        assert!(!write_back_enabled(&settings(true, false)));
        assert!(!write_back_enabled(&settings(false, true)));
    }

    #[test]
    fn skip_reasons() {
        let w = |version, current: Option<PostalAddress>, register: PostalAddress| {
            let body = AddressBody::from_postal(&register, None);
            let w = AddressWriteBack {
                customer_id: 1,
                version,
                tripletex_address: current,
                tripletex_address_id: None,
                register_address: register,
            };
            skip_reason(&w, &body)
        };
        let bergen = addr(&["Kaigata 7"], "5003", "Bergen", Some("NO"));
        assert_eq!(w(Some(1), None, bergen.clone()), None);
        assert!(w(None, None, bergen.clone()).unwrap().contains("version"));
        assert!(w(Some(1), None, addr(&[], "5003", "Bergen", None))
            .unwrap()
            .contains("street line"));
        assert!(w(
            Some(1),
            None,
            addr(&["Storgatan 1"], "111 22", "Stockholm", Some("SE"))
        )
        .unwrap()
        .contains("SE"));
        // A foreign address Tripletex already has in that country may be updated.
        assert_eq!(
            w(
                Some(1),
                Some(addr(
                    &["Drottninggatan 2"],
                    "111 22",
                    "Stockholm",
                    Some("SE")
                )),
                addr(&["Storgatan 1"], "111 22", "Stockholm", Some("SE"))
            ),
            None
        );
        // Three register lines read back from Tripletex as two: not written again.
        let three = addr(
            &["c/o A", "Postboks 1", "Kaigata 7"],
            "5003",
            "Bergen",
            Some("NO"),
        );
        let as_written = addr(
            &["c/o A", "Postboks 1, Kaigata 7"],
            "5003",
            "Bergen",
            Some("NO"),
        );
        assert!(w(Some(1), Some(as_written), three)
            .unwrap()
            .contains("already"));
    }
}
