//! The ledger sync engine against moto and the Tripletex sandbox (issue 4).

mod sync_support;

use serde_json::{json, Value};
use shared::domain::ledger::{ItemStatus, SkipReason};
use shared::domain::setup::IntegrationStatus;
use shared::queue::SyncReason;
use shared::services::sync::{JobOutcome, RunStats, SyncConfig};
use shared::store::ledger::MailState;
use sync_support::*;

fn completed(o: JobOutcome) -> RunStats {
    match o {
        JobOutcome::Completed(s) => s,
        other => panic!("expected a completed sync, got {other:?}"),
    }
}

fn event_types(events: &[(String, String, Value)]) -> Vec<String> {
    let mut v: Vec<String> = events
        .iter()
        .map(|(_, _, b)| {
            format!(
                "{}:{}",
                b["event"]["type"].as_str().unwrap_or("?"),
                b["event"]["itemId"].as_str().unwrap_or("?")
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
    let summary = w.store.counts(&w.account).await.unwrap().expect("summary");
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

    // Events: every claim mirrored, its credits, the overdue ones; grouped per claim.
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
    for (group, dedup, body) in &events {
        assert_eq!(
            group,
            &format!(
                "{}#{}",
                w.account,
                body["event"]["itemId"].as_str().unwrap()
            )
        );
        assert_eq!(dedup, body["event"]["key"].as_str().unwrap());
        assert_eq!(body["org"], json!(w.org.as_str()));
        assert!(!body.to_string().contains("sandbox-accountant-key"));
    }
    assert_eq!(stats.events_sent, 5);

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
