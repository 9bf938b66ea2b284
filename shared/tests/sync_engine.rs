//! The ledger sync engine against moto and the Tripletex sandbox.

use std::collections::BTreeMap;

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{json, Value};
use shared::adapters::queue::SyncReason;
use shared::adapters::store::keys;
use shared::adapters::store::ledger::MailState;
use shared::domain::ledger::{ItemStatus, SkipReason};
use shared::domain::setup::IntegrationStatus;
use shared::services::sync::{JobOutcome, RunStats, SyncConfig};
use test_support::sync::*;

fn completed(o: JobOutcome) -> RunStats {
    match o {
        JobOutcome::Completed(s) => s,
        other => panic!("expected a completed sync, got {other:?}"),
    }
}

fn event_types(messages: &[(String, String, Value)]) -> Vec<String> {
    let mut v: Vec<String> = events_of(messages)
        .iter()
        .map(|(_, e)| {
            format!(
                "{}:{}",
                e["type"].as_str().unwrap_or("?"),
                e["itemId"].as_str().unwrap_or("?")
            )
        })
        .collect();
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_sync_mirrors_the_ledger_sets_ready_and_mails_once() {
    let w = World::new(&base_company(), |_| {}).await;
    w.set_contact_email("regnskap@fjordkraft.test").await;
    let svc = w.service(SyncConfig::default());

    let stats = completed(
        svc.run_job(&w.job(SyncReason::Initial), None)
            .await
            .unwrap(),
    );

    // Customers: all four, the inactive one included.
    let customers = w.customers().await;
    assert_eq!(
        customers.keys().copied().collect::<Vec<_>>(),
        vec![40001, 40002, 40003, 40004]
    );
    assert!(customers[&40004].customer.inactive);

    // Items: the open invoice, the written-off one (owed, although not among the open postings);
    // the paid invoice is history and not written.
    let items = w.items().await;
    assert_eq!(
        items.keys().cloned().collect::<Vec<_>>(),
        vec!["inv_80001".to_string(), "inv_80003".to_string()]
    );
    let open = &items["inv_80001"];
    assert_eq!(open.status, ItemStatus::Open);
    assert!(open.overdue);
    assert_eq!(open.kid.as_deref(), Some("00100237"));
    assert_eq!(open.owed.to_string(), "12500.00");
    let written_off = &items["inv_80003"];
    assert_eq!(written_off.status, ItemStatus::WrittenOffCandidate);
    assert_eq!(written_off.owed.to_string(), "5000.00");
    assert_eq!(written_off.ledger_outstanding.to_string(), "0.00");
    assert!(written_off.overdue);
    assert_eq!(written_off.credits.len(), 1);
    assert!(
        written_off.credits[0].voucher_read,
        "the write-off voucher was read"
    );

    // Skips with reasons.
    assert_eq!(
        w.skip_keys(SkipReason::MissingDueDate).await,
        vec!["item_60020"]
    );
    assert_eq!(
        w.skip_keys(SkipReason::NullVoucherType).await,
        vec!["item_60030"]
    );
    assert_eq!(
        w.skip_keys(SkipReason::BeforeFetchFrom).await,
        vec!["item_60050"]
    );
    assert_eq!(
        w.skip_keys(SkipReason::MalformedAmount).await,
        vec!["posting_60040"]
    );

    // Counts, status and timestamps.
    let summary = w
        .store
        .counts(&w.org, &w.account)
        .await
        .unwrap()
        .expect("summary");
    assert_eq!(summary.counts, stats.counts);
    assert_eq!(summary.counts.customers, 4);
    assert_eq!(summary.counts.open_items, 1);
    assert_eq!(summary.counts.written_off_candidates, 1);
    assert_eq!(summary.counts.overdue_items, 2);
    assert_eq!(summary.counts.skipped_for(SkipReason::MissingDueDate), 1);
    assert_eq!(summary.counts.skipped_for(SkipReason::NullVoucherType), 1);
    assert_eq!(summary.counts.skipped_for(SkipReason::MalformedAmount), 1);
    assert_eq!(summary.counts.quarantined, 1);
    assert!(summary.first_ready_at.is_some() && summary.last_completed_at.is_some());
    let i = w.current_integration().await;
    assert_eq!(i.status, IntegrationStatus::Ready);
    assert!(i.last_sync.as_ref().is_some_and(|l| l.succeeded));
    assert!(i.progress.is_none());

    // The ready notice, and the mail once.
    let notice = w
        .store
        .get_ready_notice(&w.org, &w.account)
        .await
        .unwrap()
        .expect("ready notice");
    assert_eq!(notice.counts.open_items, 1);
    assert_eq!(notice.mail, MailState::Sent);
    assert_eq!(w.mails_to("regnskap@fjordkraft.test").await.len(), 1);

    // Events: every claim mirrored, its credits, the overdue ones; packed per customer group.
    let events = w.drain_classification().await;
    assert_eq!(
        event_types(&events),
        vec![
            "credit:inv_80003",
            "item_mirrored:inv_80001",
            "item_mirrored:inv_80003",
            "item_overdue:inv_80001",
            "item_overdue:inv_80003",
        ]
    );
    let mut groups = Vec::new();
    for (group, dedup, body) in &events {
        let g = body["group"].as_i64().unwrap();
        groups.push(g);
        assert_eq!(group, &format!("{}#g{g}", w.account));
        for e in body["events"].as_array().unwrap() {
            let customer = e["customerId"]
                .as_i64()
                .or(e["facts"]["customerId"].as_i64())
                .unwrap();
            assert_eq!(customer % 64, g, "{e}");
        }
        // The deduplication id is the SHA-256 of the event keys, in order.
        use sha2::Digest;
        let mut h = sha2::Sha256::new();
        for e in body["events"].as_array().unwrap() {
            h.update(e["key"].as_str().unwrap().as_bytes());
            h.update(b"\n");
        }
        let expected: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(dedup, &expected);
        assert_eq!(body["org"], json!(w.org.as_str()));
        assert!(!body.to_string().contains("sandbox-accountant-key"));
    }
    groups.sort();
    groups.dedup();
    assert_eq!(
        groups.len(),
        events.len(),
        "one message per group (few events here)"
    );
    // A claim's events in order: mirrored before its credits, before overdue.
    let seq: Vec<String> = events_of(&events)
        .iter()
        .filter(|(_, e)| e["itemId"] == "inv_80003")
        .map(|(_, e)| e["type"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(seq, vec!["item_mirrored", "credit", "item_overdue"]);
    assert_eq!(stats.events_sent, 5);
    assert_eq!(stats.messages_sent as usize, events.len());

    // The same job delivered again: nothing written, nothing sent, no second mail.
    let again = svc
        .run_job(&w.job(SyncReason::Initial), None)
        .await
        .unwrap();
    match again {
        JobOutcome::Completed(s) => {
            assert_eq!(s.dynamodb_items_written, 0);
            assert_eq!(s.events_sent, 0);
        }
        JobOutcome::Skipped(_) => {}
        other => panic!("unexpected {other:?}"),
    }
    assert!(w.drain_classification().await.is_empty());
    assert_eq!(w.mails_to("regnskap@fjordkraft.test").await.len(), 1);
}

fn paid_in_part(mut c: Value) -> Value {
    // inv_80001 gets a part payment of 2500: one new credit posting, the outstanding moves.
    c["invoices"][0]["amountOutstanding"] = json!(10000.0);
    let postings = c["postings"].as_array_mut().unwrap();
    postings.push(posting(
        60060,
        50060,
        Vt::Payment,
        "2026-10-01",
        BANK,
        2500.0,
        None,
        "",
        None,
        None,
    ));
    postings.push(posting(
        60061,
        50060,
        Vt::Payment,
        "2026-10-01",
        AR,
        -2500.0,
        Some(40001),
        "10023",
        None,
        None,
    ));
    c["vouchers"].as_array_mut().unwrap().push(voucher(
        50060,
        "2026-10-01",
        "Innbetaling faktura 10023",
        Vt::Payment,
        &[60060, 60061],
    ));
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unchanged_resync_writes_nothing_and_a_changed_posting_writes_one_item_and_one_event() {
    let mut w = World::new(&base_company(), |_| {}).await;
    completed(
        w.service(SyncConfig::default())
            .run_job(&w.job(SyncReason::Initial), None)
            .await
            .unwrap(),
    );
    w.drain_classification().await;
    let before = w.items().await;

    // Unchanged: a new job (manual) reads again and writes no ledger record, sends no event.
    let s = completed(
        w.service(SyncConfig::default())
            .run_job(&w.job(SyncReason::Manual), None)
            .await
            .unwrap(),
    );
    assert_eq!(s.dynamodb_items_written, 0);
    assert_eq!(s.events_sent, 0);
    assert_eq!(s.sqs_requests, 0);
    // Only the bookkeeping: the summary and the integration's last sync.
    assert_eq!(s.dynamodb_write_requests, 2, "{s:?}");
    assert!(w.drain_classification().await.is_empty());
    assert_eq!(w.items().await, before);

    // A part payment on inv_80001: exactly that item is written, and one credit event goes out.
    w.replace_sandbox(fixture_with(&paid_in_part(base_company())));
    let s = completed(
        w.service(SyncConfig::default())
            .run_job(&w.job(SyncReason::Manual), None)
            .await
            .unwrap(),
    );
    assert_eq!(s.dynamodb_items_written, 1, "{s:?}");
    let events = w.drain_classification().await;
    assert_eq!(event_types(&events), vec!["credit:inv_80001"]);
    assert_eq!(events_of(&events)[0].1["key"], "credit:60061:0");
    let after = w.items().await;
    assert_eq!(after["inv_80001"].owed.to_string(), "10000.00");
    assert_eq!(after["inv_80003"], before["inv_80003"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_decide_saft_and_null_voucher_type_items() {
    let mut w = World::new(&base_company(), |_| {}).await;
    completed(
        w.service(SyncConfig::default())
            .run_job(&w.job(SyncReason::Initial), None)
            .await
            .unwrap(),
    );
    assert_eq!(
        w.skip_keys(SkipReason::MissingDueDate).await,
        vec!["item_60020"]
    );
    assert_eq!(
        w.skip_keys(SkipReason::NullVoucherType).await,
        vec!["item_60030"]
    );
    w.drain_classification().await;

    w.change_settings(|s| {
        s.include_saft_imported = true;
        s.include_null_voucher_type = true;
    })
    .await;
    completed(
        w.service(SyncConfig::default())
            .run_job(&w.job(SyncReason::Initial), None)
            .await
            .unwrap(),
    );
    let items = w.items().await;
    // SAF-T item: due date derived from the customer's terms (14 days), flagged.
    let saft = &items["item_60020"];
    assert!(saft.due_date_estimated);
    assert_eq!(saft.due_date, Some(d("2026-02-15")));
    // Manual voucher (voucherType null) is mirrored now.
    assert_eq!(items["item_60030"].status, ItemStatus::Open);
    // The skip records are gone.
    assert!(w.skips(SkipReason::MissingDueDate).await.is_empty());
    assert!(w.skips(SkipReason::NullVoucherType).await.is_empty());
    let summary = w.store.counts(&w.org, &w.account).await.unwrap().unwrap();
    assert_eq!(summary.counts.open_items, 3);
    assert_eq!(summary.counts.skipped_for(SkipReason::MissingDueDate), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_403_on_vouchers_fails_with_the_alle_tilganger_fix() {
    // Client 2002's access template lacks vouchers.
    let w = World::with_fixture(fixture_for(2002, &base_company()), 2002, |_| {}).await;
    let out = w
        .service(SyncConfig::default())
        .run_job(&w.job(SyncReason::Initial), None)
        .await
        .unwrap();
    let JobOutcome::Failed(text) = out else {
        panic!("expected a failure, got {out:?}");
    };
    assert!(
        text.contains("vouchers") && text.contains("Alle tilganger"),
        "{text}"
    );
    let i = w.current_integration().await;
    assert_eq!(i.status, IntegrationStatus::Failed);
    let last = i.last_sync.unwrap();
    assert!(!last.succeeded);
    assert!(last.message.unwrap().contains("Alle tilganger"));
    // Nothing half-written, no events.
    assert!(w.items().await.is_empty());
    assert!(w.drain_classification().await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_without_access_to_the_client_names_klient_tilganger() {
    // Company 2004 is not linked to the accountant key.
    let w = World::with_fixture(fixture_for(2004, &base_company()), 2004, |_| {}).await;
    let out = w
        .service(SyncConfig::default())
        .run_job(&w.job(SyncReason::Initial), None)
        .await
        .unwrap();
    let JobOutcome::Failed(text) = out else {
        panic!("expected a failure, got {out:?}");
    };
    assert!(
        text.contains("no longer has access to client 2004") && text.contains("Klient → Tilganger"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_storm_within_bounds_still_completes() {
    let w = World::new(&base_company(), |_| {}).await;
    w.sandbox.set_faults(
        serde_json::from_value(json!({"rules": [
            {"kind": {"type": "rate_limit", "with_reset": false, "reset_seconds": 1}, "count": 5,
             "pathContains": "/ledger/posting"},
            {"kind": {"type": "server_error", "status": 503}, "count": 2, "pathContains": "/invoice"}
        ]}))
        .unwrap(),
    );
    let s = completed(
        w.service(SyncConfig::default())
            .run_job(&w.job(SyncReason::Initial), None)
            .await
            .unwrap(),
    );
    let stats = w.sandbox.stats();
    assert_eq!(stats.responses_by_status.get(&429).copied().unwrap_or(0), 5);
    assert_eq!(stats.responses_by_status.get(&503).copied().unwrap_or(0), 2);
    assert_eq!(s.counts.open_items, 1);
    assert_eq!(w.items().await.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_sync_resumes_from_its_checkpoint() {
    let w = World::new(&base_company(), |_| {}).await;
    let svc = w.service(SyncConfig {
        max_pages_per_invocation: Some(3),
        ..SyncConfig::default()
    });
    let job = w.job(SyncReason::Initial);
    let mut suspended = 0;
    let mut requests = 0;
    let stats = loop {
        match svc.run_job(&job, None).await.unwrap() {
            JobOutcome::Suspended(s) => {
                suspended += 1;
                requests += s.tripletex_requests;
                assert!(s.tripletex_requests <= 3);
                assert!(
                    w.items().await.is_empty(),
                    "nothing is written before the read is done"
                );
                assert_eq!(
                    w.current_integration().await.status,
                    IntegrationStatus::Syncing
                );
            }
            JobOutcome::Completed(s) => break s,
            other => panic!("unexpected {other:?}"),
        }
        assert!(suspended < 20, "the sync does not progress");
    };
    requests += stats.tripletex_requests;
    assert!(stats.resumed);
    assert!(suspended >= 2, "{suspended}");
    // Each page was read once over all invocations (no restart from the beginning).
    let pages = w.sandbox.stats().total_requests;
    assert_eq!(
        requests as u64 + 1,
        pages,
        "one session creation besides the pages"
    );
    assert_eq!(w.items().await.len(), 2);
    assert_eq!(
        w.skip_keys(SkipReason::MissingDueDate).await,
        vec!["item_60020"]
    );
    assert!(w
        .store
        .get_checkpoint(&w.org, &w.account)
        .await
        .unwrap()
        .is_none());
    assert_eq!(
        w.current_integration().await.status,
        IntegrationStatus::Ready
    );
}

/// The service's clock decides a checkpoint's age: one younger than `checkpoint_max_age` is
/// resumed, an older one is dropped and the read starts afresh, at the clock's time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_checkpoint_older_than_its_max_age_is_not_resumed() {
    use chrono::{Duration, SubsecRound, Utc};
    let mut w = World::new(&base_company(), |_| {}).await;
    let t0 = Utc::now().trunc_subsecs(0);
    let max_age = SyncConfig::default().checkpoint_max_age;
    let at = |w: &mut World, t| w.clock = shared::clock::fixed(t);
    let suspending = SyncConfig {
        max_pages_per_invocation: Some(3),
        ..SyncConfig::default()
    };
    at(&mut w, t0);
    let job = w.job(SyncReason::Initial);
    let first = w.service(suspending.clone()).run_job(&job, None).await;
    assert!(
        matches!(first, Ok(JobOutcome::Suspended(ref s)) if !s.resumed),
        "{first:?}"
    );

    // Just younger than the maximum age: resumed (and suspended again, 3 pages further).
    at(&mut w, t0 + max_age - Duration::minutes(1));
    let second = w.service(suspending).run_job(&job, None).await;
    assert!(
        matches!(second, Ok(JobOutcome::Suspended(ref s)) if s.resumed),
        "{second:?}"
    );

    // The checkpoint (started at t0) is now older than the maximum: read afresh.
    let later = t0 + max_age + Duration::minutes(1);
    at(&mut w, later);
    let stats = completed(
        w.service(SyncConfig::default())
            .run_job(&job, None)
            .await
            .unwrap(),
    );
    assert!(!stats.resumed);
    let summary = w
        .store
        .counts(&w.org, &w.account)
        .await
        .unwrap()
        .expect("summary");
    assert_eq!(summary.last_completed_started_at, Some(later));
    assert_eq!(summary.last_completed_at, Some(later));
    assert_eq!(w.items().await.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn brreg_flags_stop_dunning_updates_addresses_and_is_cached_for_a_day() {
    use tripletex_sandbox::generator::{BrregStatus, GenSpec};
    let fixture = tripletex_sandbox::Fixture::demo()
        .with_generated_company(2001, GenSpec::with_postings(11, 4000))
        .unwrap();
    let mut w = World::with_fixture(fixture, 2001, |s| s.update_addresses_from_brreg = true).await;
    let s = completed(
        w.service(SyncConfig::default())
            .run_job(&w.job(SyncReason::Initial), None)
            .await
            .unwrap(),
    );
    let data = w.sandbox.company_data(2001).expect("generated company");
    let customers = w.customers().await;
    let mut flagged = 0;
    let mut checked = 0;
    for g in data
        .customers
        .iter()
        .filter(|c| !c.is_private_individual && c.brreg.is_some())
    {
        let Some(m) = customers.get(&g.id) else {
            continue;
        };
        if m.customer.organization_number.is_none() {
            continue;
        }
        checked += 1;
        let reg = m.registry.as_ref().expect("registry information");
        let stop = matches!(
            g.brreg,
            Some(
                BrregStatus::Bankrupt(_)
                    | BrregStatus::UnderLiquidation(_)
                    | BrregStatus::ForcedDissolution(_)
                    | BrregStatus::Deleted(_)
                    | BrregStatus::Removed
            )
        );
        assert_eq!(reg.stop_dunning, stop, "customer {} {:?}", g.id, g.brreg);
        assert_eq!(reg.found, !matches!(g.brreg, Some(BrregStatus::Unknown)));
        if stop {
            flagged += 1;
        }
        if let Some(addr) = &reg.registered_address {
            // The register's address is mirrored; one that differs only in case stays as is.
            let norm = |a: &shared::domain::ledger::PostalAddress| {
                format!("{:?}|{:?}|{:?}", a.lines, a.postal_code, a.city).to_lowercase()
            };
            let mirrored = m.customer.postal_address.as_ref().expect("an address");
            assert_eq!(norm(mirrored), norm(addr), "customer {}", g.id);
            if m.tripletex_postal_address.is_some() {
                assert_eq!(mirrored, addr);
            }
        }
    }
    assert!(
        checked > 10 && flagged > 0,
        "checked {checked}, flagged {flagged}"
    );
    // Every business customer with a valid number is looked up (the demo fixture's two included).
    let with_number = customers
        .values()
        .filter(|c| {
            c.customer.organization_number.is_some()
                && c.customer.debtor_kind == shared::domain::DebtorKind::Business
        })
        .count();
    assert_eq!(with_number, checked + 2);
    assert_eq!(s.brreg_lookups as usize, with_number);
    // Writing back to Tripletex is its own setting, off here: nothing was sent.
    assert_eq!(s.addresses_written, 0);
    assert!(w
        .sandbox
        .stats()
        .requests_by_path
        .iter()
        .all(|(p, _)| !p.starts_with("PUT")));
    let brreg_requests = |st: &tripletex_sandbox::Stats| -> u64 {
        st.requests_by_path
            .iter()
            .filter(|(p, _)| p.contains("enhetsregisteret"))
            .map(|(_, n)| *n)
            .sum()
    };
    let first = brreg_requests(&w.sandbox.stats());
    assert_eq!(first as usize, with_number);
    // A second sync the same day: answers from the cache, nothing rewritten.
    let s2 = completed(
        w.service(SyncConfig::default())
            .run_job(&w.job(SyncReason::Manual), None)
            .await
            .unwrap(),
    );
    assert_eq!(brreg_requests(&w.sandbox.stats()), first);
    assert_eq!(s2.dynamodb_items_written, 0, "{s2:?}");

    // The setting turned off: the registry information (and the register's addresses) go, once.
    w.change_settings(|s| s.update_addresses_from_brreg = false)
        .await;
    let s3 = completed(
        w.service(SyncConfig::default())
            .run_job(&w.job(SyncReason::Initial), None)
            .await
            .unwrap(),
    );
    assert_eq!(s3.brreg_lookups, 0);
    assert_eq!(s3.dynamodb_items_written as usize, with_number, "{s3:?}");
    let after = w.customers().await;
    assert!(after
        .values()
        .all(|c| c.registry.is_none() && c.tripletex_postal_address.is_none()));
}

/// `writeAddressesToTripletex`: the register's address is written to the customer in Tripletex
/// (at the version read); the next sync reads the new version and has nothing to write.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_registers_address_is_written_back_to_tripletex_when_asked() {
    use tripletex_sandbox::generator::GenSpec;
    let fixture = tripletex_sandbox::Fixture::demo()
        .with_generated_company(2001, GenSpec::with_postings(11, 4000))
        .unwrap();
    let w = World::with_fixture(fixture, 2001, |s| {
        s.update_addresses_from_brreg = true;
        s.write_addresses_to_tripletex = true;
    })
    .await;
    let s = completed(
        w.service(SyncConfig::default())
            .run_job(&w.job(SyncReason::Initial), None)
            .await
            .unwrap(),
    );
    assert!(s.addresses_written > 0, "{s:?}");
    assert_eq!(s.address_conflicts, 0);
    let customers = w.customers().await;
    let mut checked = 0;
    for c in customers.values() {
        // The mirror kept Tripletex's old address where the register's differed.
        if c.tripletex_postal_address.is_none() {
            continue;
        }
        let reg = c
            .registry
            .as_ref()
            .unwrap()
            .registered_address
            .as_ref()
            .unwrap();
        let now = w.sandbox.customer(2001, c.customer.id).expect("customer");
        let addr = &now["postalAddress"];
        assert_eq!(
            addr["postalCode"].as_str(),
            reg.postal_code.as_deref(),
            "{now}"
        );
        assert_eq!(addr["city"].as_str(), reg.city.as_deref(), "{now}");
        assert_eq!(
            addr["addressLine1"].as_str(),
            reg.lines.first().map(String::as_str)
        );
        checked += 1;
    }
    assert!(checked > 0);
    // The next sync: the changed customers come back with their new version; nothing to write.
    let s2 = completed(
        w.service(SyncConfig::default())
            .run_job(&w.job(SyncReason::Manual), None)
            .await
            .unwrap(),
    );
    assert_eq!(s2.addresses_written, 0, "{s2:?}");
}

// ---------------------------------------------------------------------------------------------
// The mirrored ledger moves out of its legacy partition (store::migrate)

type Item = std::collections::HashMap<String, AttributeValue>;

/// Every item of a partition by sort key (without `PK`), read consistently.
async fn partition(w: &World, pk: &str) -> BTreeMap<String, Item> {
    let mut out = BTreeMap::new();
    let mut start = None;
    loop {
        let page = w
            .ddb
            .query()
            .table_name(&w.table)
            .key_condition_expression("PK = :pk")
            .expression_attribute_values(":pk", AttributeValue::S(pk.to_string()))
            .consistent_read(true)
            .set_exclusive_start_key(start.take())
            .send()
            .await
            .unwrap();
        for mut item in page.items.unwrap_or_default() {
            item.remove("PK");
            let sk = item["SK"].as_s().unwrap().clone();
            out.insert(sk, item);
        }
        match page.last_evaluated_key {
            Some(k) if !k.is_empty() => start = Some(k),
            _ => break,
        }
    }
    out
}

async fn put_raw(w: &World, pk: &str, mut item: Item) {
    item.insert("PK".into(), AttributeValue::S(pk.to_string()));
    w.ddb
        .put_item()
        .table_name(&w.table)
        .set_item(Some(item))
        .send()
        .await
        .unwrap();
}

/// Puts the account's ledger back where the code before the key change kept it: every item of the
/// account's partition (the sync's: there are no claims here) moves to `ACC#{accountId}`.
async fn back_to_the_legacy_partition(w: &World) {
    let pk = keys::account_pk(&w.org, &w.account);
    for (sk, item) in partition(w, &pk).await {
        put_raw(w, &keys::legacy_ledger_pk(&w.account), item).await;
        w.ddb
            .delete_item()
            .table_name(&w.table)
            .key("PK", AttributeValue::S(pk.clone()))
            .key("SK", AttributeValue::S(sk))
            .send()
            .await
            .unwrap();
    }
    assert!(partition(w, &pk).await.is_empty());
}

fn sync_request(integration_id: &str) -> Item {
    [
        ("SK", AttributeValue::S(keys::SYNC_REQUEST_SK.into())),
        ("integrationId", AttributeValue::S(integration_id.into())),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ledger_in_the_legacy_partition_is_moved_whole_and_once() {
    let w = World::new(&base_company(), |_| {}).await;
    completed(
        w.service(SyncConfig::default())
            .run_job(&w.job(SyncReason::Initial), None)
            .await
            .unwrap(),
    );
    w.drain_classification().await;
    // An interrupted sync's checkpoint too (two chunks), under another job key (not resumed).
    let state = "ø".repeat(200_000);
    w.store
        .put_checkpoint(
            &w.org,
            &w.account,
            "int_other:1",
            &state,
            chrono::Utc::now(),
        )
        .await
        .unwrap();
    let pk = keys::account_pk(&w.org, &w.account);
    let legacy = keys::legacy_ledger_pk(&w.account);
    let before = partition(&w, &pk).await;
    let (items, customers) = (w.items().await, w.customers().await);
    let summary = w.store.counts(&w.org, &w.account).await.unwrap().unwrap();
    assert!(before.len() >= 10, "{:?}", before.keys());

    back_to_the_legacy_partition(&w).await;
    assert!(w.items().await.is_empty(), "not readable under the new key");
    // A manual sync request made after the deploy (new key) beats the legacy one.
    put_raw(&w, &legacy, sync_request("int_old")).await;
    put_raw(&w, &pk, sync_request("int_new")).await;

    // Every item moves; the newer request is kept and the legacy one dropped.
    let moved = w
        .store
        .move_legacy_ledger(&w.org, &w.account)
        .await
        .unwrap();
    assert_eq!(moved.moved, before.len() as u32, "{moved:?}");
    assert_eq!(
        (moved.superseded, moved.moved_by_other),
        (1, 0),
        "{moved:?}"
    );
    let mut expected = before.clone();
    expected.insert(keys::SYNC_REQUEST_SK.into(), sync_request("int_new"));
    assert_eq!(partition(&w, &pk).await, expected);
    assert!(partition(&w, &legacy).await.is_empty());
    assert_eq!(w.items().await, items);
    assert_eq!(w.customers().await, customers);
    assert_eq!(
        w.store.counts(&w.org, &w.account).await.unwrap(),
        Some(summary.clone())
    );
    let (job_key, text) = w
        .store
        .get_checkpoint(&w.org, &w.account)
        .await
        .unwrap()
        .expect("checkpoint");
    assert_eq!((job_key.as_str(), text == state), ("int_other:1", true));

    // Again: nothing to do, nothing changes.
    let again = w
        .store
        .move_legacy_ledger(&w.org, &w.account)
        .await
        .unwrap();
    assert!(again.is_empty(), "{again:?}");
    assert_eq!(partition(&w, &pk).await, expected);

    // The sync moves a legacy ledger by itself before it reads the mirror: an unchanged re-sync
    // then writes no ledger record and sends no event, and the account keeps its first-ready time.
    back_to_the_legacy_partition(&w).await;
    let s = completed(
        w.service(SyncConfig::default())
            .run_job(&w.job(SyncReason::Manual), None)
            .await
            .unwrap(),
    );
    assert_eq!(s.dynamodb_items_written, 0, "{s:?}");
    assert_eq!(s.events_sent, 0, "{s:?}");
    assert!(w.drain_classification().await.is_empty());
    assert!(partition(&w, &legacy).await.is_empty());
    assert_eq!(w.items().await, items);
    let after = w.store.counts(&w.org, &w.account).await.unwrap().unwrap();
    assert_eq!(after.first_ready_at, summary.first_ready_at);
    assert!(after.last_completed_at > summary.last_completed_at);
}
