//! End to end, issue 4 §10 (what a user sees): setup → the initial sync (the real `sync-worker`
//! binary, delivered by the stack's SQS event source) → the ledger, its skipped items with the
//! reasons, the customers and the ready notification, all over HTTP; then `includeSaftImported`
//! and a manual sync bring the SAF-T items in.
//!
//! Client 2001 of the sandbox is the demo's hand-written Fjordkraft company plus a small generated
//! company (`tripletex_sandbox::generate`, ~2 000 postings, `today` = today in Oslo) and one
//! manual voucher without voucher type. What to expect is computed from the generated ground truth
//! (`CompanyData`), not written down: open invoices and their overdue flags, written-off invoices
//! still owed, SAF-T opening items without due date, customer counts.
//!
//! Needs the function binaries: `cargo build -p integration-setup -p sync-worker -p scheduled-sync
//! -p loss-classification -p cases-api`.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use chrono::{Datelike, NaiveDate, Utc};
use e2e::{all_pages, connect_client, demo, Api, Tripletex};
use inndrive_local::LocalStack;
use serde_json::{json, Value};
use shared::domain::ledger::is_overdue;
use shared::domain::Money;
use tripletex_sandbox::generator::{CompanyData, VOUCHER_TYPE_OPENING};
use tripletex_sandbox::GenSpec;

const COMPANY: i64 = 2001;
const DAYS_PAST_DUE: u16 = 14;
/// The hand-written manual voucher without voucher type (customer 40005, Fjellhytter AS).
const NULL_TYPE_POSTING: i64 = 60100;

fn oslo_today() -> NaiveDate {
    shared::services::cases::norwegian_date(Utc::now())
}

fn spec(today: NaiveDate) -> GenSpec {
    GenSpec::with_postings(42, 2000).today(today)
}

/// The demo fixture, client 2001 with a manual voucher (voucherType null) and the generated company.
fn fixture(today: NaiveDate) -> tripletex_sandbox::Fixture {
    let path = inndrive_local::repo_root().join("infra/tripletex-sandbox/fixtures/demo.json");
    let mut v: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let company = v["companies"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|c| c["id"] == COMPANY)
        .expect("company 2001 in the demo fixture");
    let col = &mut company["collections"];
    let line = |id: i64, account: Value, amount: f64| {
        json!({
            "id": id, "version": 0, "voucher": {"id": 50100, "voucherType": null},
            "date": "2026-08-20", "description": "Viderefakturert hytteleie", "account": account,
            "amount": amount, "amountCurrency": amount, "amountGross": amount,
            "amountGrossCurrency": amount, "currency": {"id": 1, "code": "NOK"},
            "invoiceNumber": "", "row": 1, "externalRef": "", "systemGenerated": false,
            "vatType": {"id": 0}
        })
    };
    let mut debit = line(
        NULL_TYPE_POSTING,
        json!({"id": 70001500, "number": 1500, "name": "Kundefordringer"}),
        3000.0,
    );
    debit["customer"] = json!({"id": 40005});
    debit["termOfPayment"] = json!("2026-09-03");
    let postings = col["postings"].as_array_mut().unwrap();
    postings.push(debit);
    postings.push(line(
        NULL_TYPE_POSTING + 1,
        json!({"id": 70003000, "number": 3000, "name": "Salgsinntekt, avgiftspliktig"}),
        -3000.0,
    ));
    col["vouchers"].as_array_mut().unwrap().push(json!({
        "id": 50100, "version": 0, "date": "2026-08-20", "number": 100, "tempNumber": 0,
        "year": 2026, "description": "Viderefakturert hytteleie", "voucherType": null,
        "postings": [{"id": NULL_TYPE_POSTING}, {"id": NULL_TYPE_POSTING + 1}],
        "externalVoucherNumber": "", "numberAsString": "100-2026",
        "displayName": "100-2026 Viderefakturert hytteleie"
    }));
    tripletex_sandbox::Fixture::from_json(&v.to_string())
        .expect("the changed fixture loads")
        .with_generated_company(COMPANY, spec(today))
        .expect("company 2001 exists")
}

/// What the generated company says the ledger must show.
struct Truth {
    today: NaiveDate,
    data: CompanyData,
    /// inv_{id} → (amount outstanding, due date) of invoices with something outstanding.
    open_invoices: BTreeMap<String, (Money, NaiveDate)>,
    /// inv_{id} of invoices Tripletex shows settled but that were (partly) written off.
    written_off_invoices: BTreeSet<String>,
    /// item_{postingId} of SAF-T opening items that are owed (open, or closed by a write-off).
    saft_owed: BTreeSet<String>,
}

impl Truth {
    fn new(today: NaiveDate) -> Self {
        let data = tripletex_sandbox::generate(&spec(today));
        let voucher_of = |posting_voucher: i64| {
            data.vouchers
                .iter()
                .find(|v| v.id == posting_voucher)
                .expect("every posting's voucher exists")
        };
        // Vouchers with a 7830 line: the write-offs.
        let write_off_vouchers: BTreeSet<i64> = data
            .postings
            .iter()
            .filter(|p| p.account_number == 7830)
            .map(|p| p.voucher)
            .collect();
        let mut open_invoices = BTreeMap::new();
        let mut written_off_invoices = BTreeSet::new();
        for i in data.invoices.iter().filter(|i| !i.is_credit_note) {
            if i.amount_outstanding > 0 {
                open_invoices.insert(
                    format!("inv_{}", i.id),
                    (Money::from_ore(i.amount_outstanding), i.invoice_due_date),
                );
                continue;
            }
            let written_off = data.postings.iter().any(|p| {
                p.account_number == 1500
                    && p.amount < 0
                    && p.customer == Some(i.customer)
                    && p.invoice_number == i.invoice_number.to_string()
                    && write_off_vouchers.contains(&p.voucher)
            });
            if written_off {
                written_off_invoices.insert(format!("inv_{}", i.id));
            }
        }
        let mut saft_owed = BTreeSet::new();
        for p in data.postings.iter().filter(|p| {
            p.account_number == 1500
                && p.amount > 0
                && voucher_of(p.voucher).voucher_type == Some(VOUCHER_TYPE_OPENING)
        }) {
            let owed = match p.close_group {
                None => true,
                Some((group, _)) => data.postings.iter().any(|q| {
                    q.close_group.map(|g| g.0) == Some(group)
                        && q.amount < 0
                        && write_off_vouchers.contains(&q.voucher)
                }),
            };
            if owed {
                saft_owed.insert(format!("item_{}", p.id));
            }
        }
        Truth {
            today,
            data,
            open_invoices,
            written_off_invoices,
            saft_owed,
        }
    }
}

async fn start(today: NaiveDate) -> LocalStack {
    e2e::start_stack_serving(fixture(today), &[]).await
}

fn by_id(items: &[Value]) -> BTreeMap<String, Value> {
    items
        .iter()
        .map(|i| (i["id"].as_str().unwrap().to_string(), i.clone()))
        .collect()
}

fn refs(skipped: &[Value]) -> BTreeSet<String> {
    skipped
        .iter()
        .map(|s| s["itemRef"].as_str().unwrap().to_string())
        .collect()
}

/// Polls the sync status until `done` holds (60 s), printing the function logs otherwise.
async fn wait_for(
    api: &Api,
    stack: &LocalStack,
    account: &str,
    what: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen = Vec::new();
    loop {
        let r = api
            .get(&format!("/v1/accounts/{account}/integration/status"))
            .await
            .unwrap();
        assert_eq!(r.status, 200, "{}", r.raw);
        let state = format!(
            "{} {}",
            r.body["status"].as_str().unwrap_or("?"),
            r.body["progress"]["step"].as_str().unwrap_or("")
        );
        if seen.last() != Some(&state) {
            seen.push(state);
        }
        if done(&r.body) {
            return r.body;
        }
        if r.body["status"] == "failed" || Instant::now() > deadline {
            panic!(
                "{what}: not after 60 s (states seen: {seen:?}); status {}\nlogs:\n{}",
                r.raw,
                stack.logs().join("\n")
            );
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setup_sync_and_the_ledger_a_user_sees_with_the_skipped_items_and_their_reasons() {
    let today = oslo_today();
    let truth = Truth::new(today);
    assert!(
        !truth.open_invoices.is_empty()
            && !truth.written_off_invoices.is_empty()
            && !truth.saft_owed.is_empty(),
        "the generated company has open, written-off and SAF-T items: {:?}",
        truth.data.stats
    );
    eprintln!(
        "generated: {} open invoices, {} written off, {} SAF-T items owed; {:?}",
        truth.open_invoices.len(),
        truth.written_off_invoices.len(),
        truth.saft_owed.len(),
        truth.data.stats
    );
    let stack = start(today).await;
    let api = Api::new(&stack, "org_fjord");

    // Setup: the accountant key, an account, the integration for Fjordkraft (2001).
    let fetch_from = NaiveDate::from_ymd_opt(today.year() - 4, 1, 1).unwrap();
    let (key, account) = connect_client(
        &api,
        Tripletex::Answers,
        "Fjordkraft Rørlegger AS",
        COMPANY,
        json!({
            "fetchFrom": fetch_from.to_string(), "daysPastDue": DAYS_PAST_DUE,
            "updateAddressesFromBrreg": false, "includeSaftImported": false,
            "includeNullVoucherType": false
        }),
    )
    .await;

    // The initial sync runs by itself; asking for one meanwhile is served by it.
    let r = api
        .post(
            &format!("/v1/accounts/{account}/integration/sync"),
            &json!({}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 202, "{}", r.raw);
    if r.body["status"] != "ready" {
        assert_eq!(r.body["deduplicated"], true, "{}", r.raw);
        assert_eq!(r.body["job"]["reason"], "initial", "{}", r.raw);
    }
    let status = wait_for(&api, &stack, &account, "status ready", |s| {
        s["status"] == "ready"
    })
    .await;
    assert_eq!(status["lastSync"]["succeeded"], true, "{status}");
    assert_eq!(status["progress"], Value::Null);
    let counts = status["counts"].clone();
    eprintln!("after the first sync: {counts}");

    // ------------------------------------------------------------------ the ledger
    let ledger = format!("/v1/accounts/{account}/ledger");
    let items = all_pages(&api, &ledger, "items", 500).await;
    let items = by_id(&items);
    // The hand-written open invoice 10023 (Vestland Bygg AS): open, overdue since May.
    let inv = &items["inv_80001"];
    assert_eq!(inv["status"], "open");
    assert_eq!(inv["owed"], "12500.00");
    assert_eq!(inv["overdue"], true);
    assert!(
        !items.contains_key("inv_80002"),
        "the paid invoice is history"
    );
    // Every generated open invoice, with what Tripletex shows outstanding and the overdue flag.
    for (id, (outstanding, due)) in &truth.open_invoices {
        let i = items
            .get(id)
            .unwrap_or_else(|| panic!("open invoice {id} is missing"));
        assert_eq!(i["status"], "open", "{id}: {i}");
        assert_eq!(i["ledgerOutstanding"], outstanding.to_string(), "{id}");
        assert_eq!(i["dueDate"], due.to_string(), "{id}");
        assert_eq!(
            i["overdue"],
            is_overdue(*due, DAYS_PAST_DUE, truth.today),
            "{id} due {due}"
        );
    }
    // Written off in Tripletex (shown settled there) but still owed.
    let written_off: BTreeSet<String> = items
        .iter()
        .filter(|(id, i)| id.starts_with("inv_") && i["status"] == "written_off_candidate")
        .map(|(id, _)| id.clone())
        .collect();
    assert_eq!(written_off, truth.written_off_invoices);
    for id in &written_off {
        let i = &items[id];
        assert_eq!(i["ledgerOutstanding"], "0.00", "{id}");
        assert_ne!(i["owed"], "0.00", "{id}: {i}");
    }
    // Counts agree with the items.
    let n = |f: &dyn Fn(&Value) -> bool| items.values().filter(|i| f(i)).count() as u64;
    assert_eq!(
        counts["openItems"],
        n(&|i| i["status"] == "open"),
        "{counts}"
    );
    assert_eq!(
        counts["writtenOffCandidates"],
        n(&|i| i["status"] == "written_off_candidate")
    );
    assert_eq!(counts["overdueItems"], n(&|i| i["overdue"] == true));
    // The filters answer the same as filtering by hand.
    let overdue = all_pages(&api, &format!("{ledger}?overdue=true"), "items", 500).await;
    assert_eq!(
        by_id(&overdue).keys().cloned().collect::<BTreeSet<_>>(),
        items
            .iter()
            .filter(|(_, i)| i["overdue"] == true)
            .map(|(id, _)| id.clone())
            .collect::<BTreeSet<_>>()
    );
    let some_customer = items["inv_80001"]["customerId"].as_i64().unwrap();
    let of_customer = all_pages(
        &api,
        &format!("{ledger}?customer={some_customer}&status=open"),
        "items",
        500,
    )
    .await;
    assert!(!of_customer.is_empty());
    assert!(of_customer
        .iter()
        .all(|i| i["customerId"] == some_customer && i["status"] == "open"));

    // ------------------------------------------------------------------ why not in my ledger?
    let saft = all_pages(
        &api,
        &format!("{ledger}?skipped=missing_due_date"),
        "skipped",
        100,
    )
    .await;
    assert_eq!(
        refs(&saft),
        truth.saft_owed,
        "the SAF-T items without due date"
    );
    for s in &saft {
        assert_eq!(s["reason"], "missing_due_date");
        assert_eq!(s["quarantined"], false);
        assert!(s["explanation"]["no"]
            .as_str()
            .unwrap()
            .contains("Ta med SAF-T-importerte poster"));
        assert!(s["explanation"]["en"].as_str().unwrap().contains("SAF-T"));
        assert!(!items.contains_key(s["itemRef"].as_str().unwrap()));
    }
    assert_eq!(
        counts["skipped"]["missing_due_date"],
        truth.saft_owed.len() as u64
    );
    let manual = all_pages(
        &api,
        &format!("{ledger}?skipped=null_voucher_type"),
        "skipped",
        100,
    )
    .await;
    assert_eq!(
        refs(&manual),
        BTreeSet::from([format!("item_{NULL_TYPE_POSTING}")])
    );
    assert_eq!(manual[0]["record"]["customerId"], 40005);
    assert!(manual[0]["explanation"]["no"]
        .as_str()
        .unwrap()
        .contains("uten bilagstype"));
    let everything = all_pages(&api, &format!("{ledger}?skipped=all"), "skipped", 7).await;
    let total: u64 = counts["skipped"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(everything.len() as u64, total, "{counts}");
    assert!(refs(&everything).is_superset(&truth.saft_owed));

    // ------------------------------------------------------------------ customers
    let customers = all_pages(
        &api,
        &format!("/v1/accounts/{account}/customers"),
        "customers",
        20,
    )
    .await;
    let stats = &truth.data.stats;
    assert_eq!(customers.len(), 5 + stats.customers, "demo's 5 + generated");
    assert_eq!(counts["customers"], customers.len() as u64);
    assert_eq!(
        customers.iter().filter(|c| c["inactive"] == true).count(),
        1 + stats.inactive_customers,
        "the inactive ones too"
    );

    // ------------------------------------------------------------------ the ready notification
    let r = api
        .get(&format!("/v1/accounts/{account}/notifications"))
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.raw);
    let notes = r.body["notifications"].as_array().unwrap().clone();
    assert_eq!(notes.len(), 1, "{}", r.raw);
    assert_eq!(notes[0]["kind"], "ledger_ready");
    assert_eq!(notes[0]["counts"], counts);
    assert_eq!(r.body["unseen"], 1);
    let ready_at = notes[0]["createdAt"].clone();

    // ------------------------------------------------------------------ SAF-T items in, by hand
    let r = api
        .patch(
            &format!("/v1/accounts/{account}/integration"),
            &json!({"includeSaftImported": true}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.raw);
    let r = api
        .post(
            &format!("/v1/accounts/{account}/integration/sync"),
            &json!({}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 202, "{}", r.raw);
    assert_eq!(r.body["deduplicated"], false, "{}", r.raw);
    assert_eq!(r.body["job"]["reason"], "manual");
    assert_eq!(r.body["job"]["messageGroupId"], key.as_str());
    let requested_text = r.body["job"]["requestedAt"].as_str().unwrap().to_string();
    let requested = requested_text.clone();
    let again = api
        .post(
            &format!("/v1/accounts/{account}/integration/sync"),
            &json!({}),
        )
        .await
        .unwrap();
    assert_eq!(again.status, 202, "{}", again.raw);
    let requested: chrono::DateTime<Utc> = requested.parse().unwrap();
    if again.body["deduplicated"] == true {
        assert_eq!(again.body["job"]["requestedAt"], json!(requested_text));
    } else {
        // Only if the first manual sync started (and completed) in between.
        let r = api
            .get(&format!("/v1/accounts/{account}/integration/status"))
            .await
            .unwrap();
        let started: chrono::DateTime<Utc> = r.body["lastSync"]["lastCompletedStartedAt"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(
            started > requested,
            "not deduplicated while pending: {}",
            again.raw
        );
    }
    wait_for(&api, &stack, &account, "the manual sync", |s| {
        s["pendingSync"].is_null()
            && s["lastSync"]["lastCompletedStartedAt"]
                .as_str()
                .and_then(|t| t.parse::<chrono::DateTime<Utc>>().ok())
                .is_some_and(|t| t > requested)
    })
    .await;
    let after = by_id(&all_pages(&api, &ledger, "items", 500).await);
    for id in &truth.saft_owed {
        let i = after
            .get(id)
            .unwrap_or_else(|| panic!("SAF-T item {id} is mirrored now"));
        assert_eq!(i["dueDateEstimated"], true, "{id}: {i}");
        assert!(i["dueDate"].is_string());
        assert!(
            i["flags"]
                .as_array()
                .unwrap()
                .contains(&json!("due_date_estimated")),
            "{i}"
        );
    }
    let r = api
        .get(&format!("{ledger}?skipped=missing_due_date"))
        .await
        .unwrap();
    assert_eq!(r.body["skipped"], json!([]), "the skips are gone");
    assert_eq!(
        r.body["counts"]["skipped"]["missing_due_date"]
            .as_u64()
            .unwrap_or(0),
        0
    );
    let r = api
        .get(&format!("/v1/accounts/{account}/notifications"))
        .await
        .unwrap();
    assert_eq!(
        r.body["notifications"].as_array().unwrap().len(),
        1,
        "the ready notice exists once: {}",
        r.raw
    );
    assert_eq!(r.body["notifications"][0]["createdAt"], ready_at);
    let r = api
        .post(
            &format!("/v1/accounts/{account}/notifications/ready/seen"),
            &json!({}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.raw);
    assert!(r.body["seenAt"].is_string());

    // ------------------------------------------------------------------ other organizations
    let other = Api::new(&stack, "org_andre");
    for (method, path) in [
        ("GET", format!("/v1/accounts/{account}/ledger")),
        ("GET", format!("/v1/accounts/{account}/ledger?skipped=all")),
        ("GET", format!("/v1/accounts/{account}/customers")),
        ("GET", format!("/v1/accounts/{account}/integration/status")),
        ("POST", format!("/v1/accounts/{account}/integration/sync")),
        ("GET", format!("/v1/accounts/{account}/notifications")),
        (
            "POST",
            format!("/v1/accounts/{account}/notifications/ready/seen"),
        ),
    ] {
        let body = (method == "POST").then(|| json!({}));
        let r = other.call(method, &path, body.as_ref()).await.unwrap();
        assert_eq!(r.status, 404, "{method} {path}: {}", r.raw);
        assert_eq!(r.error_code(), "account_not_found");
    }

    // No token in any answer.
    for raw in api.seen.lock().unwrap().iter() {
        for t in demo::ALL_TOKENS {
            assert!(!raw.contains(t), "a token in a response");
        }
    }
    stack.shutdown().await;
}
