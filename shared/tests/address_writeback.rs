//! Writing Enhetsregisteret's postal address back to Tripletex (`writeAddressesToTripletex`)
//! against the Tripletex sandbox (demo fixture): `PUT /customer/{id}` at the read version.

use chrono::NaiveDate;
use secrecy::SecretString;
use serde_json::json;
use shared::adapters::tripletex::{
    is_version_conflict, Acting, AddressBody, EmployeeKey, RetryPolicy, TripletexClient,
};
use shared::domain::ledger::PostalAddress;
use shared::domain::setup::{IntegrationSettings, KeyId};
use shared::services::sync::writeback::{write_back_addresses, AddressWriteBack};
use tripletex_sandbox::{
    Faults, Fixture, SandboxHandle, DEMO_ACCOUNTANT_KEY, DEMO_CONSUMER_TOKEN, DEMO_FULL_CLIENT_ID,
};

const CUSTOMER: i64 = 40001;
const OTHER: i64 = 40002;
const ACTING: Acting = Acting::Client(DEMO_FULL_CLIENT_ID);

struct World {
    sb: SandboxHandle,
    client: TripletexClient,
    key: EmployeeKey,
}

fn world() -> World {
    let sb = tripletex_sandbox::start_in_thread(Fixture::demo(), Faults::none()).unwrap();
    let client = TripletexClient::new(&sb.base_url, SecretString::from(DEMO_CONSUMER_TOKEN))
        .with_retry_policy(RetryPolicy::fast_for_tests());
    World {
        sb,
        client,
        key: EmployeeKey::new("key-accountant", SecretString::from(DEMO_ACCOUNTANT_KEY)),
    }
}

impl World {
    fn stored(&self, id: i64) -> serde_json::Value {
        self.sb.customer(DEMO_FULL_CLIENT_ID, id).unwrap()
    }
    fn version(&self, id: i64) -> i64 {
        self.stored(id)["version"].as_i64().unwrap()
    }
    fn puts(&self) -> u64 {
        self.sb
            .stats()
            .requests_by_path
            .iter()
            .filter(|(k, _)| k.starts_with("PUT /v2/customer/"))
            .map(|(_, n)| *n)
            .sum()
    }
}

fn settings(brreg: bool, write: bool) -> IntegrationSettings {
    IntegrationSettings {
        key_id: KeyId::from_suffix("0192f0c4a1b27f3e8c1d2e3f4a5b6c7d").unwrap(),
        client_company_id: DEMO_FULL_CLIENT_ID,
        fetch_from: NaiveDate::from_ymd_opt(2025, 1, 1).unwrap(),
        days_past_due: 14,
        update_addresses_from_brreg: brreg,
        write_addresses_to_tripletex: write,
        include_saft_imported: false,
        include_null_voucher_type: false,
        voucher_posting: Default::default(),
    }
}

fn register_address() -> PostalAddress {
    PostalAddress {
        lines: vec!["Postboks 12".into(), "Kaigata 7".into()],
        postal_code: Some("5003".into()),
        city: Some("BERGEN".into()),
        country_code: Some("NO".into()),
    }
}

fn tripletex_address() -> PostalAddress {
    PostalAddress {
        lines: vec!["Storgata 1".into()],
        postal_code: Some("0150".into()),
        city: Some("Oslo".into()),
        country_code: Some("NO".into()),
    }
}

fn write(id: i64, version: i64) -> AddressWriteBack {
    AddressWriteBack {
        customer_id: id,
        version: Some(version),
        tripletex_address: Some(tripletex_address()),
        tripletex_address_id: None,
        register_address: register_address(),
    }
}

#[tokio::test]
async fn the_register_address_is_written_at_the_read_version() {
    let w = world();
    let v = w.version(CUSTOMER);
    let address_id = w.stored(CUSTOMER)["postalAddress"]["id"].as_i64().unwrap();
    let mut one = write(CUSTOMER, v);
    one.tripletex_address_id = Some(address_id);

    let report =
        write_back_addresses(&w.client, &w.key, ACTING, &settings(true, true), &[one]).await;
    assert_eq!(report.written, 1, "{report:?}");
    assert_eq!(report.conflicts, 0);
    assert!(
        report.failures.is_empty() && report.skipped.is_empty(),
        "{report:?}"
    );
    assert_eq!(report.written_ids, vec![(CUSTOMER, Some(v + 1))]);

    let after = w.stored(CUSTOMER);
    assert_eq!(after["version"], v + 1);
    let a = &after["postalAddress"];
    assert_eq!(a["id"], address_id, "updated in place");
    assert_eq!(a["addressLine1"], "Postboks 12");
    assert_eq!(a["addressLine2"], "Kaigata 7");
    assert_eq!(a["postalCode"], "5003");
    assert_eq!(a["city"], "BERGEN");
    assert_eq!(a["country"]["id"], 161, "country kept");
    assert_eq!(after["changes"][0]["changeType"], "UPDATE");
    assert_eq!(w.puts(), 1);
    // The other customers are untouched.
    assert_eq!(w.version(OTHER), 1);
}

#[tokio::test]
async fn a_stale_version_is_a_counted_conflict_and_the_next_run_writes() {
    let w = world();
    let read_version = w.version(CUSTOMER);
    // Someone edits the customer in Tripletex after the sync read it.
    assert!(w.sb.update_customer(
        DEMO_FULL_CLIENT_ID,
        CUSTOMER,
        json!({"email": "post@vestland.no"})
    ));
    let before = w.stored(CUSTOMER);

    let report = write_back_addresses(
        &w.client,
        &w.key,
        ACTING,
        &settings(true, true),
        &[
            write(CUSTOMER, read_version),
            write(OTHER, w.version(OTHER)),
        ],
    )
    .await;
    assert_eq!(report.conflicts, 1, "{report:?}");
    assert_eq!(report.conflict_ids, vec![CUSTOMER]);
    assert!(
        report.failures.is_empty(),
        "a conflict is not a failure: {report:?}"
    );
    assert_eq!(report.written, 1, "the next customer is still written");
    assert_eq!(report.written_ids[0].0, OTHER);
    assert_eq!(
        w.stored(CUSTOMER),
        before,
        "nothing written over the newer version"
    );
    assert_eq!(w.stored(OTHER)["postalAddress"]["city"], "BERGEN");

    // The next sync reads the new version and writes.
    let report = write_back_addresses(
        &w.client,
        &w.key,
        ACTING,
        &settings(true, true),
        &[write(CUSTOMER, w.version(CUSTOMER))],
    )
    .await;
    assert_eq!((report.written, report.conflicts), (1, 0), "{report:?}");
    let after = w.stored(CUSTOMER);
    assert_eq!(after["postalAddress"]["addressLine2"], "Kaigata 7");
    assert_eq!(after["email"], "post@vestland.no", "the other edit is kept");
}

#[tokio::test]
async fn nothing_is_written_when_the_setting_is_off() {
    let w = world();
    let v = w.version(CUSTOMER);
    let before = w.stored(CUSTOMER);
    for s in [
        settings(true, false),
        settings(false, false),
        settings(false, true),
    ] {
        let report =
            write_back_addresses(&w.client, &w.key, ACTING, &s, &[write(CUSTOMER, v)]).await;
        assert!(report.is_empty(), "{report:?}");
        assert!(report.skipped.is_empty());
    }
    assert_eq!(w.puts(), 0, "no PUT reached Tripletex");
    assert_eq!(
        w.sb.stats().session_creates,
        0,
        "Tripletex was not even asked for a session"
    );
    assert_eq!(w.stored(CUSTOMER), before);
}

#[tokio::test]
async fn failures_are_reported_per_customer_and_do_not_stop_the_run() {
    let w = world();
    let mut no_version = write(OTHER, 1);
    no_version.version = None;
    let report = write_back_addresses(
        &w.client,
        &w.key,
        ACTING,
        &settings(true, true),
        &[
            write(49999, 1),
            no_version,
            write(CUSTOMER, w.version(CUSTOMER)),
        ],
    )
    .await;
    assert_eq!(report.failures.len(), 1, "{report:?}");
    let f = &report.failures[0];
    assert_eq!(f.customer_id, 49999);
    assert!(f.reason.contains("404"), "{}", f.reason);
    assert!(!f.transient);
    assert!(!f.reason.contains(DEMO_ACCOUNTANT_KEY) && !f.reason.contains(DEMO_CONSUMER_TOKEN));
    assert_eq!(report.skipped.len(), 1);
    assert_eq!(report.skipped[0].customer_id, OTHER);
    assert_eq!(report.conflicts, 0);
    assert_eq!(report.written, 1);
    assert_eq!(w.version(OTHER), 1, "no write without a version");
    assert_eq!(w.puts(), 2);
}

#[tokio::test]
async fn the_client_put_sends_the_version_and_reports_a_conflict() {
    let w = world();
    let v = w.version(CUSTOMER);
    let body = AddressBody::from_postal(&register_address(), None);
    let updated = w
        .client
        .put_customer_postal_address(&w.key, ACTING, CUSTOMER, v, &body)
        .await
        .unwrap();
    assert_eq!((updated.id, updated.version), (CUSTOMER, Some(v + 1)));
    // The same version again is stale now.
    let e = w
        .client
        .put_customer_postal_address(&w.key, ACTING, CUSTOMER, v, &body)
        .await
        .unwrap_err();
    assert!(is_version_conflict(&e), "{e}");
    assert_eq!(e.api_error().and_then(|a| a.code), Some(8000));
    assert_eq!(w.version(CUSTOMER), v + 1);
    // A session 401 is recovered from once, as for reads.
    w.sb.revoke_sessions();
    w.client
        .put_customer_postal_address(&w.key, ACTING, CUSTOMER, v + 1, &body)
        .await
        .unwrap();
    assert_eq!(w.version(CUSTOMER), v + 2);
}
