//! The ledger routes through the real handler against moto: a mirrored ledger written with the
//! store's write API (as the sync worker writes it), read back over HTTP with filters, paging,
//! skipped records and their reasons, customers, the sync status, the manual sync (deduplicated)
//! and the ready notification; another organization sees none of it.

mod common;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use common::World;
use serde_json::{json, Value};
use shared::adapters::store::ledger::{
    MailState, MirrorWrite, ReadyNotice, StoredCustomer, SyncSummary,
};
use shared::domain::ledger::{
    ItemSource, ItemStatus, LedgerItem, MirroredCustomer, RecordKind, RecordRef, SkipReason,
    SkipRecord, SyncCounts,
};
use shared::domain::setup::{AccountId, IntegrationStatus, LastSync, OrgId};
use shared::domain::{DebtorKind, Money};
use tripletex_sandbox::{DEMO_ACCOUNTANT_KEY, DEMO_FULL_CLIENT_ID};

const ORG: &str = "org_ledger";

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn customer(id: i64, name: &str, inactive: bool) -> MirroredCustomer {
    MirroredCustomer {
        id,
        version: Some(1),
        name: name.into(),
        customer_number: Some(id - 30000),
        organization_number: None,
        invalid_organization_number: None,
        debtor_kind: DebtorKind::Business,
        inactive,
        email: None,
        invoice_email: None,
        overdue_notice_email: None,
        postal_address: None,
        payment_terms: None,
    }
}

fn item(id: &str, customer: i64, status: ItemStatus, overdue: bool, owed: i64) -> LedgerItem {
    LedgerItem {
        id: id.into(),
        source: ItemSource::Invoice,
        customer_id: customer,
        invoice_id: id.strip_prefix("inv_").and_then(|n| n.parse().ok()),
        invoice_number: Some(format!("1{}", &id[4..])),
        kid: None,
        date: d("2026-05-02"),
        due_date: Some(d("2026-05-16")),
        due_date_source: None,
        due_date_estimated: false,
        principal: Money::from_kroner(owed),
        ledger_outstanding: if status == ItemStatus::Open {
            Money::from_kroner(owed)
        } else {
            Money::from_kroner(0)
        },
        written_off: if status == ItemStatus::WrittenOffCandidate {
            Money::from_kroner(owed)
        } else {
            Money::from_kroner(0)
        },
        unclassified_credits: Money::from_kroner(0),
        owed: Money::from_kroner(owed),
        credit_balance: Money::from_kroner(0),
        cross_check: None,
        status,
        overdue,
        debit_posting_ids: vec![],
        credits: vec![],
        voucher_id: None,
        pdf_available: true,
        document_id: None,
        currency: Some("NOK".into()),
        source_version: Some(1),
        flags: vec![],
    }
}

fn skip(kind: RecordKind, id: i64, key: &str, customer: i64, reason: SkipReason) -> SkipRecord {
    SkipRecord::new(
        RecordRef::new(kind, id)
            .with_key(key)
            .with_customer(Some(customer))
            .with_date(Some(d("2026-01-01"))),
        reason,
        format!("{key}: {}", reason.as_str()),
    )
}

struct Ledger {
    account: String,
    key_id: String,
    started: DateTime<Utc>,
}

/// An account with an integration for the demo's client 2001 (initial sync queued, then drained).
async fn integration(w: &World) -> (String, String) {
    let (s, body, _) = w
        .call(
            "POST",
            "/v1/tripletex-keys",
            Some(ORG),
            Some(
                &json!({"label": "K", "employeeToken": DEMO_ACCOUNTANT_KEY, "accountantKey": true})
                    .to_string(),
            ),
        )
        .await;
    assert_eq!(s, 201, "{body}");
    let key = body["id"].as_str().unwrap().to_string();
    let (s, body, _) = w
        .call(
            "POST",
            "/v1/accounts",
            Some(ORG),
            Some(&json!({"name": "Fjordkraft Rørlegger AS"}).to_string()),
        )
        .await;
    assert_eq!(s, 201, "{body}");
    let account = body["id"].as_str().unwrap().to_string();
    let (s, body, _) = w
        .call(
            "PUT",
            &format!("/v1/accounts/{account}/integration"),
            Some(ORG),
            Some(
                &json!({
                    "keyId": key, "clientCompanyId": DEMO_FULL_CLIENT_ID, "fetchFrom": "2025-01-01",
                    "daysPastDue": 14, "updateAddressesFromBrreg": false,
                    "includeSaftImported": false, "includeNullVoucherType": false
                })
                .to_string(),
            ),
        )
        .await;
    assert_eq!(s, 201, "{body}");
    (account, key)
}

/// The integration plus a mirrored ledger, as a completed first sync leaves it.
async fn synced(w: &World) -> Ledger {
    let (account, key_id) = integration(w).await;
    w.drain_queue().await;
    let org = OrgId::parse(ORG).unwrap();
    let acc = AccountId::parse(&account).unwrap();
    let customers = [
        customer(40001, "Vestland Bygg AS", false),
        customer(40002, "Havbruk Service AS", false),
        customer(40004, "Gamle Kunde AS", true),
    ];
    let items = [
        item("inv_80001", 40001, ItemStatus::Open, true, 12500),
        item("inv_80002", 40002, ItemStatus::Open, false, 8000),
        item(
            "inv_80003",
            40001,
            ItemStatus::WrittenOffCandidate,
            true,
            5000,
        ),
    ];
    let skips = [
        skip(
            RecordKind::Posting,
            60020,
            "item_60020",
            40002,
            SkipReason::MissingDueDate,
        ),
        skip(
            RecordKind::Posting,
            60021,
            "item_60021",
            40001,
            SkipReason::MissingDueDate,
        ),
        skip(
            RecordKind::Posting,
            60030,
            "item_60030",
            40001,
            SkipReason::NullVoucherType,
        ),
        skip(
            RecordKind::Posting,
            60040,
            "posting_60040",
            40001,
            SkipReason::MalformedAmount,
        ),
    ];
    let mut writes = Vec::new();
    for c in &customers {
        writes.push(MirrorWrite::PutCustomer {
            customer: Box::new(StoredCustomer {
                customer: c.clone(),
                tripletex_postal_address: None,
                registry: None,
            }),
            raw: None,
            hash: c.content_hash(),
        });
    }
    for i in &items {
        writes.push(MirrorWrite::PutItem {
            item: Box::new(i.clone()),
            hash: i.content_hash(),
        });
    }
    for s in &skips {
        writes.push(MirrorWrite::PutSkip {
            skip: s.clone(),
            hash: s.content_hash(),
        });
    }
    w.store.write_mirror(&org, &acc, &writes).await.unwrap();
    let mut counts = SyncCounts {
        customers: 3,
        open_items: 2,
        overdue_items: 2,
        written_off_candidates: 1,
        ..SyncCounts::default()
    };
    for s in &skips {
        counts.count_skip(s.reason);
    }
    let integration = w.store.get_integration(&org, &acc).await.unwrap().unwrap();
    let started = Utc::now() - Duration::seconds(30);
    let finished = Utc::now() - Duration::seconds(20);
    w.store
        .put_summary(
            &org,
            &acc,
            &SyncSummary {
                counts: counts.clone(),
                last_completed_started_at: Some(started),
                last_completed_at: Some(finished),
                first_ready_at: Some(finished),
                last_full_customer_read_at: Some(started),
                integration_id: Some(integration.id.to_string()),
                settings_version: Some(integration.version),
            },
        )
        .await
        .unwrap();
    assert!(w
        .store
        .update_sync_state(
            &org,
            &acc,
            &integration.id,
            IntegrationStatus::Ready,
            None,
            Some(&LastSync {
                finished_at: finished,
                succeeded: true,
                message: None,
            }),
        )
        .await
        .unwrap());
    assert!(w
        .store
        .put_ready_notice(
            &org,
            &acc,
            &ReadyNotice {
                account_id: acc.clone(),
                integration_id: integration.id.to_string(),
                client_company_name: Some("Fjordkraft Rørlegger AS".into()),
                counts,
                created_at: finished,
                mail: MailState::None,
            },
        )
        .await
        .unwrap());
    Ledger {
        account,
        key_id,
        started,
    }
}

fn ids(v: &Value, list: &str, field: &str) -> Vec<String> {
    v[list]
        .as_array()
        .unwrap_or_else(|| panic!("{list} in {v}"))
        .iter()
        .map(|i| i[field].as_str().unwrap().to_string())
        .collect()
}

/// Every item of the table, attributes in order.
async fn snapshot(w: &World) -> Vec<std::collections::BTreeMap<String, String>> {
    let out = w.ddb.scan().table_name(&w.table).send().await.unwrap();
    assert!(out.last_evaluated_key.is_none());
    let mut items: Vec<_> = out
        .items()
        .iter()
        .map(|i| {
            i.iter()
                .map(|(k, v)| (k.clone(), format!("{v:?}")))
                .collect()
        })
        .collect();
    items.sort();
    items
}

async fn get(w: &World, path: &str) -> (u16, Value) {
    let (s, v, _) = w.call("GET", path, Some(ORG), None).await;
    (s, v)
}

#[tokio::test]
async fn the_ledger_lists_items_with_filters_counts_and_cursor_paging() {
    let w = World::new().await;
    let l = synced(&w).await;
    let base = format!("/v1/accounts/{}/ledger", l.account);

    let (s, v) = get(&w, &base).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        ids(&v, "items", "id"),
        ["inv_80001", "inv_80002", "inv_80003"]
    );
    assert_eq!(v["nextCursor"], Value::Null);
    assert_eq!(v["status"], "ready");
    assert_eq!(v["counts"]["customers"], 3);
    assert_eq!(v["counts"]["openItems"], 2);
    assert_eq!(v["counts"]["overdueItems"], 2);
    assert_eq!(v["counts"]["skipped"]["missing_due_date"], 2);
    assert_eq!(v["counts"]["skipped"]["null_voucher_type"], 1);
    assert_eq!(v["counts"]["quarantined"], 1);
    assert_eq!(v["lastSync"]["succeeded"], true);
    assert!(v["lastSync"]["lastCompletedAt"].is_string(), "{v}");
    let first = &v["items"][0];
    assert_eq!(first["customerId"], 40001);
    assert_eq!(first["owed"], "12500.00");
    assert_eq!(first["dueDate"], "2026-05-16");
    assert_eq!(first["overdue"], true);

    // Filters, alone and together.
    let (_, v) = get(&w, &format!("{base}?overdue=true")).await;
    assert_eq!(ids(&v, "items", "id"), ["inv_80001", "inv_80003"]);
    let (_, v) = get(&w, &format!("{base}?overdue=false")).await;
    assert_eq!(ids(&v, "items", "id"), ["inv_80002"]);
    let (_, v) = get(&w, &format!("{base}?customer=40002")).await;
    assert_eq!(ids(&v, "items", "id"), ["inv_80002"]);
    let (_, v) = get(&w, &format!("{base}?status=written_off_candidate")).await;
    assert_eq!(ids(&v, "items", "id"), ["inv_80003"]);
    let (_, v) = get(
        &w,
        &format!("{base}?status=open&customer=40001&overdue=true"),
    )
    .await;
    assert_eq!(ids(&v, "items", "id"), ["inv_80001"]);
    let (_, v) = get(&w, &format!("{base}?status=closed")).await;
    assert!(v["items"].as_array().unwrap().is_empty());

    // Pages of two, with the opaque cursor.
    let (_, p1) = get(&w, &format!("{base}?limit=2")).await;
    assert_eq!(ids(&p1, "items", "id"), ["inv_80001", "inv_80002"]);
    let cursor = p1["nextCursor"].as_str().expect("a next page").to_string();
    let (s, p2) = get(&w, &format!("{base}?limit=2&cursor={cursor}")).await;
    assert_eq!(s, 200, "{p2}");
    assert_eq!(ids(&p2, "items", "id"), ["inv_80003"]);
    assert_eq!(p2["nextCursor"], Value::Null);
    // With a filter the pages still add up.
    let (_, f1) = get(&w, &format!("{base}?overdue=true&limit=1")).await;
    let c = f1["nextCursor"].as_str().unwrap().to_string();
    let (_, f2) = get(&w, &format!("{base}?overdue=true&limit=1&cursor={c}")).await;
    assert_eq!(
        [ids(&f1, "items", "id"), ids(&f2, "items", "id")].concat(),
        ["inv_80001", "inv_80003"]
    );
}

#[tokio::test]
async fn skipped_records_come_with_reason_detail_and_the_explanation_in_both_languages() {
    let w = World::new().await;
    let l = synced(&w).await;
    let base = format!("/v1/accounts/{}/ledger", l.account);

    let (s, v) = get(&w, &format!("{base}?skipped=missing_due_date")).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(ids(&v, "skipped", "itemRef"), ["item_60020", "item_60021"]);
    let one = &v["skipped"][0];
    assert_eq!(one["reason"], "missing_due_date");
    assert_eq!(one["quarantined"], false);
    assert_eq!(one["detail"], "item_60020: missing_due_date");
    assert_eq!(one["record"]["customerId"], 40002);
    assert_eq!(one["record"]["kind"], "posting");
    assert!(one["explanation"]["no"]
        .as_str()
        .unwrap()
        .contains("Slå på «Ta med SAF-T-importerte poster»"));
    assert!(one["explanation"]["en"].as_str().unwrap().contains("SAF-T"));
    assert_eq!(v["counts"]["skipped"]["missing_due_date"], 2);
    assert!(v.get("items").is_none(), "skipped records only: {v}");

    // By customer.
    let (_, v) = get(
        &w,
        &format!("{base}?skipped=missing_due_date&customer=40001"),
    )
    .await;
    assert_eq!(ids(&v, "skipped", "itemRef"), ["item_60021"]);

    // Quarantined.
    let (_, v) = get(&w, &format!("{base}?skipped=malformed_amount")).await;
    assert_eq!(ids(&v, "skipped", "itemRef"), ["posting_60040"]);
    assert_eq!(v["skipped"][0]["quarantined"], true);

    // A reason with none.
    let (_, v) = get(&w, &format!("{base}?skipped=unknown_customer")).await;
    assert!(v["skipped"].as_array().unwrap().is_empty());

    // All reasons, one page, then in pages of one across the reasons.
    let (_, v) = get(&w, &format!("{base}?skipped=all")).await;
    let all = ids(&v, "skipped", "itemRef");
    assert_eq!(
        all,
        ["item_60020", "item_60021", "item_60030", "posting_60040"]
    );
    let mut paged = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..10 {
        let path = match &cursor {
            Some(c) => format!("{base}?skipped=all&limit=1&cursor={c}"),
            None => format!("{base}?skipped=all&limit=1"),
        };
        let (s, v) = get(&w, &path).await;
        assert_eq!(s, 200, "{v}");
        paged.extend(ids(&v, "skipped", "itemRef"));
        match v["nextCursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(paged, all);
}

#[tokio::test]
async fn every_bad_parameter_is_a_400_naming_it() {
    let w = World::new().await;
    let l = synced(&w).await;
    let base = format!("/v1/accounts/{}/ledger", l.account);
    for (query, field) in [
        ("overdue=yes", "overdue"),
        ("customer=abc", "customer"),
        ("customer=0", "customer"),
        ("status=paid", "status"),
        ("skipped=because", "skipped"),
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("limit=many", "limit"),
        ("sort=due", "query"),
        ("skipped=all&overdue=true", "overdue"),
        ("cursor=bm9wZQ", "cursor"),
        ("skipped=all&cursor=bm9wZQ", "cursor"),
    ] {
        let (s, v) = get(&w, &format!("{base}?{query}")).await;
        assert_eq!(s, 400, "{query}: {v}");
        assert_eq!(v["error"]["field"], field, "{query}: {v}");
        let code = v["error"]["code"].as_str().unwrap();
        assert!(
            code == "invalid_query" || code == "invalid_cursor",
            "{query}: {v}"
        );
    }
    // The reason list is in the message.
    let (_, v) = get(&w, &format!("{base}?skipped=because")).await;
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("missing_due_date"));
    let (s, v) = get(
        &w,
        &format!("/v1/accounts/{}/customers?limit=9999", l.account),
    )
    .await;
    assert_eq!((s, v["error"]["field"].clone()), (400, json!("limit")));
}

#[tokio::test]
async fn customers_include_the_inactive_and_page() {
    let w = World::new().await;
    let l = synced(&w).await;
    let base = format!("/v1/accounts/{}/customers", l.account);
    let (s, v) = get(&w, &base).await;
    assert_eq!(s, 200, "{v}");
    let names: Vec<&str> = v["customers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["Vestland Bygg AS", "Havbruk Service AS", "Gamle Kunde AS"]
    );
    assert_eq!(v["customers"][2]["inactive"], true);
    assert_eq!(v["customers"][0]["debtorKind"], "business");
    assert_eq!(v["total"], 3);
    let (_, p1) = get(&w, &format!("{base}?limit=2")).await;
    let c = p1["nextCursor"].as_str().unwrap().to_string();
    let (_, p2) = get(&w, &format!("{base}?limit=2&cursor={c}")).await;
    assert_eq!(p2["customers"][0]["id"], 40004);
    assert_eq!(p2["nextCursor"], Value::Null);
    // An item cursor is no customer cursor.
    let (_, items) = get(&w, &format!("/v1/accounts/{}/ledger?limit=1", l.account)).await;
    let ic = items["nextCursor"].as_str().unwrap().to_string();
    let (s, v) = get(&w, &format!("{base}?cursor={ic}")).await;
    assert_eq!(
        (s, v["error"]["code"].clone()),
        (400, json!("invalid_cursor"))
    );
}

#[tokio::test]
async fn a_manual_sync_is_queued_once_while_one_is_pending() {
    let w = World::new().await;
    let (account, key) = integration(&w).await;
    let sync = format!("/v1/accounts/{account}/integration/sync");

    // The initial sync is still queued: it serves the request, nothing more is queued.
    let (s, v, _) = w.call("POST", &sync, Some(ORG), None).await;
    assert_eq!(s, 202, "{v}");
    assert_eq!(v["deduplicated"], true);
    assert_eq!(v["job"]["reason"], "initial");
    assert_eq!(v["status"], "pending");
    let queued = w.drain_queue().await;
    assert_eq!(queued.len(), 1, "only the initial sync: {queued:?}");
    assert!(queued[0].1.starts_with("initial:"));

    // Ready after a sync: a request queues a manual job on the key's group.
    let l = {
        let org = OrgId::parse(ORG).unwrap();
        let acc = AccountId::parse(&account).unwrap();
        let i = w.store.get_integration(&org, &acc).await.unwrap().unwrap();
        let started = Utc::now() - Duration::seconds(60);
        w.store
            .put_summary(
                &org,
                &acc,
                &SyncSummary {
                    last_completed_started_at: Some(started),
                    last_completed_at: Some(started + Duration::seconds(5)),
                    first_ready_at: Some(started + Duration::seconds(5)),
                    integration_id: Some(i.id.to_string()),
                    settings_version: Some(i.version),
                    ..SyncSummary::default()
                },
            )
            .await
            .unwrap();
        w.store
            .update_sync_state(&org, &acc, &i.id, IntegrationStatus::Ready, None, None)
            .await
            .unwrap();
        (org, acc, i)
    };
    let (s, first, _) = w.call("POST", &sync, Some(ORG), None).await;
    assert_eq!(s, 202, "{first}");
    assert_eq!(first["deduplicated"], false);
    assert_eq!(first["job"]["reason"], "manual");
    assert_eq!(first["job"]["messageGroupId"], key.as_str());
    let (_, status) = get(&w, &format!("/v1/accounts/{account}/integration/status")).await;
    assert_eq!(status["pendingSync"]["reason"], "manual", "{status}");
    assert_eq!(status["status"], "ready");

    // A second request while it is queued (or running): the same job, nothing new queued.
    let (s, second, _) = w.call("POST", &sync, Some(ORG), None).await;
    assert_eq!(s, 202, "{second}");
    assert_eq!(second["deduplicated"], true);
    assert_eq!(second["job"]["requestedAt"], first["job"]["requestedAt"]);
    assert_eq!(
        second["job"]["deduplicationId"],
        first["job"]["deduplicationId"]
    );
    let queued = w.drain_queue().await;
    assert_eq!(queued.len(), 1, "one manual job: {queued:?}");
    let (group, dedup, body) = &queued[0];
    assert_eq!(group, &key);
    assert_eq!(dedup, first["job"]["deduplicationId"].as_str().unwrap());
    assert!(dedup.starts_with("manual:"));
    assert_eq!(body["reason"], "manual");
    assert_eq!(body["accountId"], account.as_str());

    // That sync ran (it started after the request) and completed: a new request queues again.
    let (org, acc, i) = l;
    let requested: DateTime<Utc> = first["job"]["requestedAt"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    w.store
        .put_summary(
            &org,
            &acc,
            &SyncSummary {
                last_completed_started_at: Some(requested + Duration::milliseconds(10)),
                last_completed_at: Some(Utc::now()),
                integration_id: Some(i.id.to_string()),
                settings_version: Some(i.version),
                ..SyncSummary::default()
            },
        )
        .await
        .unwrap();
    let _ = org;
    let (_, status) = get(&w, &format!("/v1/accounts/{account}/integration/status")).await;
    assert_eq!(status["pendingSync"], Value::Null, "{status}");
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let (s, third, _) = w.call("POST", &sync, Some(ORG), None).await;
    assert_eq!(s, 202, "{third}");
    assert_eq!(third["deduplicated"], false, "{third}");
    assert_eq!(w.drain_queue().await.len(), 1);
}

#[tokio::test]
async fn the_ready_notification_is_listed_once_and_marked_seen_once() {
    let w = World::new().await;
    let (account, _) = integration(&w).await;
    let list = format!("/v1/accounts/{account}/notifications");
    let (s, v) = get(&w, &list).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["notifications"], json!([]));
    let (s, v, _) = w
        .call("POST", &format!("{list}/ready/seen"), Some(ORG), None)
        .await;
    assert_eq!(
        (s, v["error"]["code"].clone()),
        (404, json!("notification_not_found"))
    );

    let w2 = World::new().await;
    let l = synced(&w2).await;
    let list = format!("/v1/accounts/{}/notifications", l.account);
    let (_, v) = get(&w2, &list).await;
    assert_eq!(v["unseen"], 1, "{v}");
    let n = &v["notifications"][0];
    assert_eq!(n["id"], "ready");
    assert_eq!(n["kind"], "ledger_ready");
    assert_eq!(n["seenAt"], Value::Null);
    assert_eq!(n["counts"]["openItems"], 2);
    assert!(n["message"]["no"]
        .as_str()
        .unwrap()
        .contains("Fjordkraft Rørlegger AS"));
    assert_eq!(n["title"]["no"], "Reskontroen er klar");

    let (s, seen, _) = w2
        .call("POST", &format!("{list}/ready/seen"), Some(ORG), None)
        .await;
    assert_eq!(s, 200, "{seen}");
    let at = seen["seenAt"].as_str().unwrap().to_string();
    let (_, again, _) = w2
        .call("POST", &format!("{list}/ready/seen"), Some(ORG), None)
        .await;
    assert_eq!(again["seenAt"], at.as_str(), "the first time is kept");
    let (_, v) = get(&w2, &list).await;
    assert_eq!(v["unseen"], 0);
    assert_eq!(v["notifications"][0]["seenAt"], at.as_str());
    let (s, v, _) = w2
        .call("POST", &format!("{list}/other/seen"), Some(ORG), None)
        .await;
    assert_eq!(
        (s, v["error"]["code"].clone()),
        (404, json!("notification_not_found"))
    );
    let _ = l.started;
}

#[tokio::test]
async fn another_organization_gets_404_on_every_ledger_route_and_changes_nothing() {
    let w = World::new().await;
    let l = synced(&w).await;
    let a = &l.account;
    let routes = [
        ("GET", format!("/v1/accounts/{a}/ledger")),
        ("GET", format!("/v1/accounts/{a}/ledger?skipped=all")),
        ("GET", format!("/v1/accounts/{a}/customers")),
        ("GET", format!("/v1/accounts/{a}/integration/status")),
        ("POST", format!("/v1/accounts/{a}/integration/sync")),
        ("GET", format!("/v1/accounts/{a}/notifications")),
        ("POST", format!("/v1/accounts/{a}/notifications/ready/seen")),
    ];
    let before = snapshot(&w).await;
    for (m, path) in &routes {
        let (s, v, _) = w.call(m, path, Some("org_other"), None).await;
        assert_eq!(s, 404, "{m} {path}: {v}");
        assert_eq!(v["error"]["code"], "account_not_found", "{m} {path}");
        // The same answer as an account that does not exist.
        let missing = path.replace(a.as_str(), "acc_00000000000000000000000000000000");
        let (s2, v2, _) = w.call(m, &missing, Some(ORG), None).await;
        assert_eq!((s2, &v2["error"]["code"]), (404, &v["error"]["code"]));
        let (s3, _, _) = w
            .call(m, &path.replace(a.as_str(), "not-an-id"), Some(ORG), None)
            .await;
        assert_eq!(s3, 404);
        // No token: 401.
        let (s4, _, _) = w.call(m, path, None, None).await;
        assert_eq!(s4, 401, "{m} {path}");
    }
    assert_eq!(before, snapshot(&w).await, "nothing changed");
    assert!(w.drain_queue().await.is_empty(), "nothing queued");
    // Wrong methods.
    let (s, v, resp) = w
        .call(
            "DELETE",
            &format!("/v1/accounts/{a}/ledger"),
            Some(ORG),
            None,
        )
        .await;
    assert_eq!(s, 405, "{v}");
    assert_eq!(resp.headers()["allow"], "GET");
    let (s, _, _) = w
        .call(
            "GET",
            &format!("/v1/accounts/{a}/integration/sync"),
            Some(ORG),
            None,
        )
        .await;
    assert_eq!(s, 405);
    let _ = l.key_id;
}

#[tokio::test]
async fn before_the_first_sync_the_ledger_is_empty_and_says_so() {
    let w = World::new().await;
    let (account, _) = integration(&w).await;
    let (s, v) = get(&w, &format!("/v1/accounts/{account}/ledger")).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["items"], json!([]));
    assert_eq!(v["status"], "pending");
    assert_eq!(v["lastSync"], Value::Null);
    assert_eq!(v["counts"]["customers"], 0);
    let (s, v) = get(&w, &format!("/v1/accounts/{account}/integration/status")).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["status"], "pending");
    assert_eq!(v["pendingSync"]["reason"], "initial", "{v}");
    // An account without integration: the ledger is empty, the status is 404.
    let (_, acc) = {
        let (s, b, _) = w
            .call(
                "POST",
                "/v1/accounts",
                Some(ORG),
                Some(&json!({"name": "Uten integrasjon AS"}).to_string()),
            )
            .await;
        (s, b)
    };
    let bare = acc["id"].as_str().unwrap();
    let (s, v) = get(&w, &format!("/v1/accounts/{bare}/ledger")).await;
    assert_eq!((s, v["status"].clone()), (200, Value::Null));
    for (m, path) in [
        ("GET", format!("/v1/accounts/{bare}/integration/status")),
        ("POST", format!("/v1/accounts/{bare}/integration/sync")),
    ] {
        let (s, v, _) = w.call(m, &path, Some(ORG), None).await;
        assert_eq!(
            (s, v["error"]["code"].clone()),
            (404, json!("integration_not_found")),
            "{m} {path}"
        );
    }
}

#[tokio::test]
async fn a_queue_that_refuses_the_job_is_503_and_the_next_request_is_not_deduplicated() {
    let w = World::new().await;
    let l = synced(&w).await;
    let broken = integration_setup::Services {
        setup: shared::services::setup::SetupService::new(
            std::sync::Arc::new(w.store.clone()),
            std::sync::Arc::new(shared::adapters::secrets::Secrets::new(
                w.sm.clone(),
                w.secret_prefix.clone(),
            )),
            std::sync::Arc::new(shared::adapters::queue::SyncQueue::new(
                w.sqs.clone(),
                w.queue_url.clone(),
            )),
            std::sync::Arc::new(shared::services::setup::LazyTripletexGateway::new(
                w.sandbox.base_url.clone(),
                w.consumer_secret_id.clone(),
                shared::adapters::secrets::Secrets::new(w.sm.clone(), w.secret_prefix.clone()),
            )),
        ),
        ledger: shared::services::ledger::LedgerService::new(
            w.store.clone(),
            w.ddb.clone(),
            shared::adapters::queue::SyncQueue::new(
                w.sqs.clone(),
                format!("{}-missing.fifo", w.queue_url.trim_end_matches(".fifo")),
            ),
        ),
    };
    let path = format!("/v1/accounts/{}/integration/sync", l.account);
    let resp =
        integration_setup::handle(&broken, common::api_request("POST", &path, Some(ORG), None))
            .await
            .unwrap();
    assert_eq!(resp.status().as_u16(), 503);
    assert_eq!(resp.headers()["retry-after"], "5");
    let body: Value = serde_json::from_slice(resp.body().as_ref()).unwrap();
    assert_eq!(body["error"]["code"], "temporarily_unavailable");
    // The request record was withdrawn: the status shows nothing pending, a retry queues.
    let (_, status) = get(
        &w,
        &format!("/v1/accounts/{}/integration/status", l.account),
    )
    .await;
    assert_eq!(status["pendingSync"], Value::Null, "{status}");
    let (s, v, _) = w.call("POST", &path, Some(ORG), None).await;
    assert_eq!(s, 202, "{v}");
    assert_eq!(v["deduplicated"], false, "{v}");
    let queued = w.drain_queue().await;
    assert_eq!(queued.len(), 1);
    assert_eq!(queued[0].0, l.key_id);
}
