//! Tests of the ledger core: settings, write-offs, change detection, quarantine.
//! Inputs are Tripletex-shaped JSON, read the way the adapter reads them ([`raw::parse_items`]).

use super::raw::{parse_items, RawCustomer, RawInvoice, RawPosting, RawVoucher};
use super::*;
use crate::domain::classify::CreditKind;
use crate::domain::{DebtorKind, Money};
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use serde_json::{json, Value};

mod brreg;
mod props;

pub(super) fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("test date")
}

pub(super) fn policy() -> LedgerPolicy {
    LedgerPolicy {
        fetch_from: d("2026-01-01"),
        days_past_due: 14,
        include_saft_imported: false,
        include_null_voucher_type: false,
        default_payment_terms_days: LedgerPolicy::DEFAULT_PAYMENT_TERMS_DAYS,
        loss_accounts: Vec::new(),
    }
}

pub(super) fn kr(n: i64) -> Money {
    Money::from_kroner(n)
}

/// A business customer with 30 days' terms.
pub(super) fn customer(id: i64) -> Value {
    json!({
        "id": id, "version": 1, "name": format!("Kunde {id} AS"), "customerNumber": 10000 + id,
        "organizationNumber": "923609016", "isInactive": false, "isPrivateIndividual": false,
        "email": "post@kunde.no", "invoicesDueIn": 30, "invoicesDueInType": "DAYS",
        "postalAddress": { "addressLine1": "Storgata 1", "addressLine2": "", "postalCode": "0150",
                           "city": "Oslo", "country": { "id": 161, "isoAlpha2Code": "NO" } }
    })
}

/// A JSON number written exactly as Tripletex sends amounts (no floating point in our code).
pub(super) fn num(d: Decimal) -> Value {
    Value::Number(
        d.normalize()
            .to_string()
            .parse()
            .expect("a decimal is a JSON number"),
    )
}

pub(super) fn invoice(
    id: i64,
    number: i64,
    customer: i64,
    date: &str,
    due: &str,
    amount: Decimal,
    outstanding: Decimal,
) -> Value {
    json!({
        "id": id, "version": 1, "invoiceNumber": number, "invoiceDate": date,
        "invoiceDueDate": due, "kid": format!("00{number}7"), "customer": { "id": customer },
        "amount": num(amount), "amountOutstanding": num(outstanding), "isCreditNote": false,
        "creditedInvoice": 0, "voucher": { "id": 9000 + id }, "documentId": 55,
        "currency": { "code": "NOK" }
    })
}

/// A customer-ledger posting. `voucher_type`: `json!(null)` for a manual voucher, `json!({...})`
/// for a named type, `Value::Null` wrapped by the caller as needed.
#[allow(clippy::too_many_arguments)]
pub(super) fn posting(
    id: i64,
    customer: i64,
    date: &str,
    amount: Decimal,
    invoice_number: &str,
    voucher_id: i64,
    voucher_type: Value,
    close_group: Option<i64>,
) -> Value {
    json!({
        "id": id, "version": 1, "date": date, "description": "",
        "account": { "id": 1, "number": 1500, "name": "Kundefordringer" },
        "customer": { "id": customer }, "amount": num(amount), "amountGross": num(amount),
        "invoiceNumber": invoice_number, "termOfPayment": null,
        "voucher": { "id": voucher_id, "voucherType": voucher_type },
        "type": null, "closeGroup": close_group.map(|g| json!({ "id": g }))
    })
}

pub(super) fn named(name: &str) -> Value {
    json!({ "id": 7, "name": name })
}

pub(super) fn voucher(id: i64, description: &str, voucher_type: Value, postings: Value) -> Value {
    json!({
        "id": id, "version": 1, "date": "2026-05-20", "description": description,
        "voucherType": voucher_type, "postings": postings, "reverseVoucher": null
    })
}

pub(super) fn leg(id: i64, account: i64, amount: Decimal) -> Value {
    json!({ "id": id, "account": { "number": account, "name": format!("konto {account}") },
            "amountGross": num(amount) })
}

/// Reads the four lists the way the adapter does: element by element.
pub(super) fn read(
    customers: Vec<Value>,
    invoices: Vec<Value>,
    postings: Vec<Value>,
    vouchers: Vec<Value>,
) -> LedgerRead {
    let (customers, mut q) = parse_items::<RawCustomer>(RecordKind::Customer, customers);
    let (invoices, q2) = parse_items::<RawInvoice>(RecordKind::Invoice, invoices);
    let (postings, q3) = parse_items::<RawPosting>(RecordKind::Posting, postings);
    let (vouchers, q4) = parse_items::<RawVoucher>(RecordKind::Voucher, vouchers);
    q.extend(q2);
    q.extend(q3);
    q.extend(q4);
    LedgerRead {
        customers,
        invoices,
        postings,
        vouchers,
        quarantined: q,
    }
}

fn item<'a>(b: &'a LedgerBuild, id: &str) -> &'a LedgerItem {
    b.item(id)
        .unwrap_or_else(|| panic!("item {id} not built; skipped: {:?}", b.skipped))
}

fn skip<'a>(b: &'a LedgerBuild, key: &str) -> &'a SkipRecord {
    b.skip(key)
        .unwrap_or_else(|| panic!("no skip {key}; skipped: {:?}", b.skipped))
}

fn keys(diff: &LedgerDiff) -> Vec<String> {
    diff.events.iter().map(|e| e.key().to_string()).collect()
}

// ---------------------------------------------------------------------------------------------
// fetchFrom and overdue
// ---------------------------------------------------------------------------------------------

#[test]
fn fetch_from_includes_the_day_itself_and_skips_the_day_before() {
    let r = read(
        vec![customer(1)],
        vec![
            invoice(
                11,
                101,
                1,
                "2026-01-01",
                "2026-01-15",
                dec!(1000.0),
                dec!(1000.0),
            ),
            invoice(
                12,
                102,
                1,
                "2025-12-31",
                "2026-01-14",
                dec!(1000.0),
                dec!(1000.0),
            ),
        ],
        vec![],
        vec![],
    );
    let b = build_ledger(&r, &policy(), d("2026-01-10"));
    assert_eq!(item(&b, "inv_11").status, ItemStatus::Open);
    assert!(b.item("inv_12").is_none());
    let s = skip(&b, "inv_12");
    assert_eq!(s.reason, SkipReason::BeforeFetchFrom);
    assert_eq!(s.record.date, Some(d("2025-12-31")));
    assert!(s.detail.contains("2026-01-01"), "{}", s.detail);
    assert_eq!(b.counts.skipped_for(SkipReason::BeforeFetchFrom), 1);
}

#[test]
fn overdue_from_due_date_plus_days_past_due_inclusive() {
    assert!(is_overdue(d("2026-03-16"), 14, d("2026-03-30")));
    assert!(!is_overdue(d("2026-03-16"), 14, d("2026-03-29")));
    // Never on the due date itself, also with daysPastDue 0 (agrees with claim::case_opens_on).
    assert!(!is_overdue(d("2026-03-16"), 0, d("2026-03-16")));
    assert!(is_overdue(d("2026-03-16"), 0, d("2026-03-17")));
    assert!(!is_overdue(d("2026-03-16"), 0, d("2026-03-15")));
    // A due date on a Saturday moves to Monday 2026-03-16 before the days are counted.
    assert!(!is_overdue(d("2026-03-14"), 14, d("2026-03-28")));
    assert!(!is_overdue(d("2026-03-14"), 14, d("2026-03-29")));
    assert!(is_overdue(d("2026-03-14"), 14, d("2026-03-30")));
    assert!(!is_overdue(d("2026-03-14"), 0, d("2026-03-16")));
    assert!(is_overdue(d("2026-03-14"), 0, d("2026-03-17")));
    // Easter 2026: Thursday 2 April to Monday 6 April are not business days.
    assert!(!is_overdue(d("2026-04-02"), 1, d("2026-04-07")));
    assert!(is_overdue(d("2026-04-02"), 1, d("2026-04-08")));
    assert!(!is_overdue(NaiveDate::MAX, 1, NaiveDate::MAX));

    let r = read(
        vec![customer(1)],
        vec![invoice(
            11,
            101,
            1,
            "2026-03-02",
            "2026-03-16",
            dec!(1000.0),
            dec!(1000.0),
        )],
        vec![],
        vec![],
    );
    let on_the_day = build_ledger(&r, &policy(), d("2026-03-30"));
    assert!(item(&on_the_day, "inv_11").overdue);
    assert_eq!(on_the_day.counts.overdue_items, 1);
    let day_before = build_ledger(&r, &policy(), d("2026-03-29"));
    assert!(!item(&day_before, "inv_11").overdue);
    assert_eq!(day_before.counts.overdue_items, 0);
    assert_eq!(day_before.counts.open_items, 1);
}

// ---------------------------------------------------------------------------------------------
// Missing due dates (SAF-T imports)
// ---------------------------------------------------------------------------------------------

/// A SAF-T-imported open item: a manual voucher with a type, no invoice object, no due date.
fn saft_read(customer_json: Value) -> LedgerRead {
    read(
        vec![customer_json],
        vec![],
        vec![posting(
            301,
            1,
            "2026-02-10",
            dec!(4000.0),
            "SAFT-77",
            7301,
            named("Åpningsbalanse"),
            None,
        )],
        vec![],
    )
}

#[test]
fn missing_due_date_is_skipped_with_its_reason_when_saft_is_off() {
    let b = build_ledger(&saft_read(customer(1)), &policy(), d("2026-06-01"));
    assert!(b.items.is_empty());
    let s = skip(&b, "item_301");
    assert_eq!(s.reason, SkipReason::MissingDueDate);
    assert_eq!(s.reason.as_str(), "missing_due_date");
    assert!(!s.reason.is_quarantine());
    assert_eq!(s.record.invoice_number.as_deref(), Some("SAFT-77"));
    assert_eq!(s.record.customer_id, Some(1));
    assert_eq!(b.counts.skipped_for(SkipReason::MissingDueDate), 1);
    assert_eq!(b.counts.quarantined, 0);
}

#[test]
fn missing_due_date_is_derived_from_customer_terms_when_saft_is_on() {
    let p = LedgerPolicy {
        include_saft_imported: true,
        ..policy()
    };
    let b = build_ledger(&saft_read(customer(1)), &p, d("2026-06-01"));
    let i = item(&b, "item_301");
    assert_eq!(i.due_date, Some(d("2026-03-12")), "2026-02-10 + 30 days");
    assert_eq!(i.due_date_source, Some(DueDateSource::CustomerTerms));
    assert!(i.due_date_estimated);
    assert_eq!(i.flags, vec![ItemFlag::DueDateEstimated]);
    assert_eq!(i.source, ItemSource::Voucher);
    assert!(!i.pdf_available);
    assert!(i.overdue);
    assert!(b.skipped.is_empty());
}

#[test]
fn missing_due_date_uses_the_14_day_default_without_customer_terms() {
    let p = LedgerPolicy {
        include_saft_imported: true,
        ..policy()
    };
    let mut c = customer(1);
    c["invoicesDueIn"] = json!(0);
    let b = build_ledger(&saft_read(c.clone()), &p, d("2026-06-01"));
    let i = item(&b, "item_301");
    assert_eq!(i.due_date, Some(d("2026-02-24")));
    assert_eq!(i.due_date_source, Some(DueDateSource::DefaultTerms));
    assert!(i.has_flag(ItemFlag::DueDateEstimated));

    c.as_object_mut().unwrap().remove("invoicesDueIn");
    let b = build_ledger(&saft_read(c), &p, d("2026-06-01"));
    assert_eq!(item(&b, "item_301").due_date, Some(d("2026-02-24")));

    let p7 = LedgerPolicy {
        default_payment_terms_days: 7,
        ..p
    };
    let mut c = customer(1);
    c["invoicesDueInType"] = json!("FORTNIGHTS");
    let b = build_ledger(&saft_read(c), &p7, d("2026-06-01"));
    assert_eq!(item(&b, "item_301").due_date, Some(d("2026-02-17")));
}

#[test]
fn a_due_date_in_tripletex_is_never_estimated() {
    let p = LedgerPolicy {
        include_saft_imported: true,
        ..policy()
    };
    let mut post = posting(
        301,
        1,
        "2026-02-10",
        dec!(4000.0),
        "",
        7301,
        named("Bilag"),
        None,
    );
    post["termOfPayment"] = json!("2026-02-20");
    let b = build_ledger(
        &read(vec![customer(1)], vec![], vec![post], vec![]),
        &p,
        d("2026-02-21"),
    );
    let i = item(&b, "item_301");
    assert_eq!(i.due_date, Some(d("2026-02-20")));
    assert_eq!(i.due_date_source, Some(DueDateSource::Posting));
    assert!(!i.due_date_estimated);
    assert!(i.flags.is_empty());
}

#[test]
fn estimated_due_dates_follow_each_kind_of_terms() {
    let t = |due_in, kind| Some(PaymentTerms { due_in, kind });
    use PaymentTermsKind::*;
    assert_eq!(
        estimate_due_date(d("2026-01-31"), t(1, Months), 14),
        Some((d("2026-02-28"), DueDateSource::CustomerTerms))
    );
    assert_eq!(
        estimate_due_date(d("2026-01-10"), t(20, RecurringDayOfMonth), 14),
        Some((d("2026-02-20"), DueDateSource::CustomerTerms))
    );
    assert_eq!(
        estimate_due_date(d("2026-01-10"), t(31, RecurringDayOfMonth), 14),
        Some((d("2026-02-28"), DueDateSource::CustomerTerms))
    );
    assert_eq!(
        estimate_due_date(d("2026-12-10"), t(5, RecurringDayOfMonth), 14),
        Some((d("2027-01-05"), DueDateSource::CustomerTerms))
    );
    assert_eq!(
        estimate_due_date(d("2026-01-10"), t(0, Days), 14),
        Some((d("2026-01-24"), DueDateSource::DefaultTerms))
    );
    assert_eq!(
        estimate_due_date(d("2026-01-10"), t(40, RecurringDayOfMonth), 14),
        Some((d("2026-01-24"), DueDateSource::DefaultTerms))
    );
    assert_eq!(estimate_due_date(NaiveDate::MAX, None, 14), None);
}

// ---------------------------------------------------------------------------------------------
// voucherType = null
// ---------------------------------------------------------------------------------------------

fn manual_read(voucher_type: Option<Value>) -> LedgerRead {
    let mut p = posting(
        401,
        1,
        "2026-02-10",
        dec!(2500.0),
        "",
        7401,
        json!(null),
        None,
    );
    p["termOfPayment"] = json!("2026-02-24");
    match voucher_type {
        Some(t) => p["voucher"]["voucherType"] = t,
        None => {
            p["voucher"].as_object_mut().unwrap().remove("voucherType");
        }
    }
    read(vec![customer(1)], vec![], vec![p], vec![])
}

#[test]
fn null_voucher_type_is_skipped_when_off_and_mirrored_when_on() {
    let b = build_ledger(&manual_read(Some(json!(null))), &policy(), d("2026-03-01"));
    assert!(b.items.is_empty());
    let s = skip(&b, "item_401");
    assert_eq!(s.reason, SkipReason::NullVoucherType);
    assert!(s.detail.contains("7401"), "{}", s.detail);
    assert_eq!(b.counts.skipped_for(SkipReason::NullVoucherType), 1);

    let on = LedgerPolicy {
        include_null_voucher_type: true,
        ..policy()
    };
    let b = build_ledger(&manual_read(Some(json!(null))), &on, d("2026-03-01"));
    let i = item(&b, "item_401");
    assert_eq!(i.status, ItemStatus::Open);
    assert_eq!(i.owed, kr(2500));
    assert!(b.skipped.is_empty());

    // A named type is mirrored either way.
    let b = build_ledger(
        &manual_read(Some(named("Bilag"))),
        &policy(),
        d("2026-03-01"),
    );
    assert!(b.item("item_401").is_some());
}

#[test]
fn voucher_type_not_read_is_taken_from_the_voucher_or_quarantined() {
    let b = build_ledger(&manual_read(None), &policy(), d("2026-03-01"));
    assert_eq!(skip(&b, "item_401").reason, SkipReason::UnknownVoucherType);
    assert_eq!(b.counts.quarantined, 1);

    let mut r = manual_read(None);
    let (v, _) = parse_items::<RawVoucher>(
        RecordKind::Voucher,
        vec![voucher(7401, "Manuelt bilag", json!(null), json!([]))],
    );
    r.vouchers = v;
    let b = build_ledger(&r, &policy(), d("2026-03-01"));
    assert_eq!(skip(&b, "item_401").reason, SkipReason::NullVoucherType);
}

// ---------------------------------------------------------------------------------------------
// The write-off case
// ---------------------------------------------------------------------------------------------

/// Invoice 10023 (12 500) netted to zero by a "Tap" voucher (credit 1500, debit 7830): Tripletex
/// shows it closed and `openPost` no longer lists it. Only the window's postings carry it.
pub(super) fn written_off_read(description: &str) -> LedgerRead {
    let mut own = posting(
        2001,
        1,
        "2026-03-02",
        dec!(12500.0),
        "10023",
        9001,
        named("Utgående faktura"),
        Some(77),
    );
    own["type"] = json!("OUTGOING_INVOICE_CUSTOMER_POSTING");
    own["termOfPayment"] = json!("2026-03-16");
    let mut tap = posting(
        2002,
        1,
        "2026-05-20",
        dec!(-12500.0),
        "10023",
        9002,
        json!(null),
        Some(77),
    );
    tap["description"] = json!(description);
    read(
        vec![customer(1)],
        vec![invoice(
            1001,
            10023,
            1,
            "2026-03-02",
            "2026-03-16",
            dec!(12500.0),
            dec!(0.0),
        )],
        vec![own, tap],
        vec![voucher(
            9002,
            description,
            json!(null),
            json!([
                leg(2002, 1500, dec!(-12500.0)),
                leg(2003, 7830, dec!(12500.0))
            ]),
        )],
    )
}

#[test]
fn write_off_keeps_the_claim_owed_on_a_first_sync_after_the_write_off() {
    let b = build_ledger(
        &written_off_read("Tap på kunde 10023 – konkurs"),
        &policy(),
        d("2026-06-10"),
    );
    let i = item(&b, "inv_1001");
    assert_eq!(i.status, ItemStatus::WrittenOffCandidate);
    assert_eq!(i.ledger_outstanding, Money::ZERO);
    assert_eq!(i.written_off, kr(12500));
    assert_eq!(i.owed, kr(12500));
    assert_eq!(i.principal, kr(12500));
    assert!(i.overdue);
    assert_eq!(i.invoice_number.as_deref(), Some("10023"));
    assert_eq!(i.kid.as_deref(), Some("00100237"));
    assert_eq!(i.debit_posting_ids, vec![2001]);
    assert_eq!(i.credits.len(), 1);
    let c = &i.credits[0];
    assert_eq!(c.posting_id, 2002);
    assert_eq!(c.amount, kr(-12500));
    assert_eq!(c.preliminary_kind, CreditKind::WriteOff);
    assert!(c.voucher_read);
    assert_eq!(
        c.evidence.voucher_description.as_deref(),
        Some("Tap på kunde 10023 – konkurs")
    );
    assert_eq!(c.evidence.counter_postings.len(), 1);
    assert_eq!(c.evidence.counter_postings[0].account_number, 7830);
    assert_eq!(c.evidence.counter_postings[0].amount, dec!(12500));
    assert_eq!(c.evidence.voucher_type, None, "voucherType null");
    assert_eq!(b.counts.written_off_candidates, 1);
    assert_eq!(b.counts.overdue_items, 1);
    assert!(b.skipped.is_empty(), "{:?}", b.skipped);

    let diff = diff(&MirrorState::default(), &b, Completeness::Full);
    assert_eq!(
        keys(&diff),
        vec![
            format!("mirror:inv_1001:{}", ClaimFacts::of(i).hash()),
            "credit:2002:1".to_string(),
            "overdue:inv_1001:2026-03-16".to_string(),
        ]
    );
    match &diff.events[1] {
        LedgerEvent::Credit(e) => {
            assert_eq!(e.item_id, "inv_1001");
            assert_eq!(e.item_status, ItemStatus::WrittenOffCandidate);
            assert_eq!(
                crate::domain::classify::classify(&e.credit.evidence).kind,
                CreditKind::WriteOff
            );
        }
        other => panic!("expected a credit event, got {other:?}"),
    }
    assert!(diff
        .writes
        .iter()
        .any(|w| matches!(w, LedgerWrite::UpsertItem { item, .. } if item.id == "inv_1001")));
}

#[test]
fn write_off_without_the_marker_word_is_still_kept() {
    let b = build_ledger(&written_off_read("Innbetaling"), &policy(), d("2026-06-10"));
    let i = item(&b, "inv_1001");
    assert_eq!(i.status, ItemStatus::WrittenOffCandidate);
    assert_eq!(i.owed, kr(12500));
    assert_eq!(i.credits[0].preliminary_kind, CreditKind::WriteOff);
}

#[test]
fn a_reversed_write_off_writes_nothing_off() {
    let mut r = written_off_read("Tap på kunde 10023");
    // Voucher 9003 reverses the write-off: Tripletex reopens the invoice.
    r.invoices[0].amount_outstanding = Some(raw::Lenient::Valid(dec!(12500)));
    let (v, _) = parse_items::<RawVoucher>(
        RecordKind::Voucher,
        vec![
            json!({ "id": 9003, "version": 1, "description": "Tilbakeføring av bilag",
                     "voucherType": null, "postings": [], "reverseVoucher": { "id": 9002 } }),
        ],
    );
    r.vouchers.extend(v);
    let b = build_ledger(&r, &policy(), d("2026-06-10"));
    let i = item(&b, "inv_1001");
    assert_eq!(i.credits[0].reversed_by, Some(9003));
    assert_eq!(i.written_off, Money::ZERO);
    assert_eq!(i.owed, kr(12500));
    assert_eq!(i.status, ItemStatus::Open);
}

/// Invoice 2003 (10 000) paid with its interest and fee by KID (−10 131.97); then, when `booked`,
/// the income voucher Inndrive books (receivables +131.97 with the invoice's number, interest and
/// fee income), closed together with the invoice and the payment.
fn paid_with_charges_read(booked: bool) -> LedgerRead {
    let own = posting(
        2001,
        1,
        "2026-03-02",
        dec!(10000),
        "2003",
        10001,
        named("Utgående faktura"),
        booked.then_some(77),
    );
    let payment = posting(
        2002,
        1,
        "2026-05-20",
        dec!(-10131.97),
        "2003",
        9100,
        named("Betaling"),
        booked.then_some(77),
    );
    let mut postings = vec![own, payment];
    let mut vouchers = vec![voucher(
        9100,
        "Innbetaling KID faktura 2003",
        named("Betaling"),
        json!([
            leg(2002, 1500, dec!(-10131.97)),
            leg(2010, 1920, dec!(10131.97))
        ]),
    )];
    if booked {
        let mut income = posting(
            2003,
            1,
            "2026-05-20",
            dec!(131.97),
            "2003",
            9200,
            named("Betaling"),
            Some(77),
        );
        income["voucher"]["externalVoucherNumber"] = json!("inndrive-inv_1001-v1-0123456789abcdef");
        postings.push(income);
        vouchers.push(voucher(
            9200,
            "Renter og gebyrer, faktura 2003 (Inndrive sak case_inv_1001)",
            named("Betaling"),
            json!([
                leg(2003, 1500, dec!(131.97)),
                leg(2011, 8050, dec!(-93.97)),
                leg(2012, 3900, dec!(-38))
            ]),
        ));
    }
    read(
        vec![customer(1)],
        vec![invoice(
            1001,
            2003,
            1,
            "2026-03-02",
            "2026-03-16",
            dec!(10000),
            if booked { dec!(0) } else { dec!(-131.97) },
        )],
        postings,
        vouchers,
    )
}

#[test]
fn interest_and_fees_booked_onto_the_invoice_count_in_the_balance_tripletex_shows() {
    let today = d("2026-06-10");
    // Paid beyond the invoice: a credit balance, and Tripletex agrees.
    let b = build_ledger(&paid_with_charges_read(false), &policy(), today);
    let i = item(&b, "inv_1001");
    assert_eq!((i.owed, i.cross_check), (Money::ZERO, None));
    assert_eq!(i.credit_balance, "131.97".parse().unwrap());
    assert_eq!(i.status, ItemStatus::Open);
    // The income voucher booked and closed with it: the item is closed, nothing disagrees, and
    // the income line is no credit (it is not taken for a payment).
    let b = build_ledger(&paid_with_charges_read(true), &policy(), today);
    let i = item(&b, "inv_1001");
    assert_eq!(i.cross_check, None, "{i:?}");
    assert_eq!((i.owed, i.credit_balance), (Money::ZERO, Money::ZERO));
    assert_eq!(i.status, ItemStatus::Closed);
    assert!(!i.has_flag(ItemFlag::SourcesDisagree) && !i.has_flag(ItemFlag::NeedsReview));
    assert_eq!(i.credits.len(), 1);
    assert_eq!(i.credits[0].preliminary_kind, CreditKind::Payment);
    assert_eq!(i.debit_posting_ids, vec![2001, 2003]);
    assert_eq!(i.principal, kr(10_000), "the charges are not principal");
    // The same debit on a voucher Inndrive did not book is not taken for charges: Tripletex's
    // figure and the credits disagree, for a person to look at.
    let mut foreign = paid_with_charges_read(true);
    for p in foreign.postings.iter_mut() {
        if let Some(v) = p.voucher.as_mut() {
            v.external_voucher_number = None;
        }
    }
    let b = build_ledger(&foreign, &policy(), today);
    assert!(item(&b, "inv_1001").cross_check.is_some());
}

/// Invoice 2003 (4 200) written off with a manual voucher «Tapsført faktura 2003 …» (debit 7830,
/// credit 1500 with the customer and the invoice number) that was never matched to the invoice:
/// the postings net to zero, but the invoice's `amountOutstanding` still says 4 200.
fn unmatched_write_off_read(amount_outstanding: Decimal) -> LedgerRead {
    let text = "Tapsført faktura 2003 Kunde 1 AS";
    let mut own = posting(
        2001,
        1,
        "2026-03-02",
        dec!(4200.0),
        "2003",
        9001,
        named("Utgående faktura"),
        Some(77),
    );
    own["type"] = json!("OUTGOING_INVOICE_CUSTOMER_POSTING");
    let mut tap = posting(
        2002,
        1,
        "2026-05-20",
        dec!(-4200.0),
        "2003",
        9002,
        json!(null),
        Some(77),
    );
    tap["description"] = json!(text);
    read(
        vec![customer(1)],
        vec![invoice(
            1001,
            2003,
            1,
            "2026-03-02",
            "2026-03-16",
            dec!(4200.0),
            amount_outstanding,
        )],
        vec![own, tap],
        vec![voucher(
            9002,
            text,
            json!(null),
            json!([
                leg(2002, 1500, dec!(-4200.0)),
                leg(2003, 7830, dec!(4200.0))
            ]),
        )],
    )
}

#[test]
fn an_unmatched_write_off_is_owed_once_and_held_for_review() {
    let b = build_ledger(
        &unmatched_write_off_read(dec!(4200)),
        &policy(),
        d("2026-06-10"),
    );
    let i = item(&b, "inv_1001");
    assert_eq!(i.credits[0].preliminary_kind, CreditKind::WriteOff);
    assert_eq!(
        i.ledger_outstanding,
        kr(4200),
        "Tripletex's figure, shown as it is"
    );
    assert_eq!(i.written_off, kr(4200));
    assert_eq!(i.owed, kr(4200), "never 8 400");
    assert_eq!(i.credit_balance, Money::ZERO);
    assert_eq!(
        i.cross_check,
        Some(crate::domain::owed::CrossCheck {
            tripletex_outstanding: kr(4200),
            derived_balance: Money::ZERO,
        })
    );
    assert!(i.has_flag(ItemFlag::SourcesDisagree) && i.has_flag(ItemFlag::NeedsReview));
    assert_eq!(
        i.status,
        ItemStatus::WrittenOffCandidate,
        "the postings net to zero: the derived view decides, not the unmatched figure"
    );
    assert!(i.overdue);
    // The claim learns of the disagreement with the mirror event.
    let diff = diff(&MirrorState::default(), &b, Completeness::Full);
    match &diff.events[0] {
        LedgerEvent::ItemMirrored(e) => assert_eq!(e.facts.cross_check, i.cross_check),
        other => panic!("expected the mirror event first, got {other:?}"),
    }
    let json = serde_json::to_value(i).unwrap();
    assert_eq!(
        json["crossCheck"],
        json!({"tripletexOutstanding": "4200.00", "derivedBalance": "0.00"})
    );
    assert_eq!(json["owed"], "4200.00");
}

#[test]
fn once_tripletex_agrees_the_cross_check_clears_with_a_new_mirror_key() {
    let today = d("2026-06-10");
    // First seen before the write-off: agreeing, facts without a cross-check.
    let mut before = unmatched_write_off_read(dec!(4200));
    before.postings.retain(|p| p.id == Some(2001));
    before.postings[0].close_group = None;
    before.vouchers.clear();
    let b0 = build_ledger(&before, &policy(), today);
    assert_eq!(item(&b0, "inv_1001").cross_check, None);
    let first = diff(&MirrorState::default(), &b0, Completeness::Full);
    let mut state = MirrorState::default();
    state.apply(&first);
    // The unmatched write-off: the facts change (the cross-check).
    let b1 = build_ledger(&unmatched_write_off_read(dec!(4200)), &policy(), today);
    let second = diff(&state, &b1, Completeness::Full);
    state.apply(&second);
    // Matched in Tripletex: amountOutstanding 0, the same facts as at first sight, yet a key
    // the claim has not applied.
    let b2 = build_ledger(&unmatched_write_off_read(dec!(0)), &policy(), today);
    let i = item(&b2, "inv_1001");
    assert_eq!((i.cross_check, i.owed), (None, kr(4200)));
    assert!(!i.has_flag(ItemFlag::SourcesDisagree) && !i.has_flag(ItemFlag::NeedsReview));
    let third = diff(&state, &b2, Completeness::Full);
    let mirror_keys = |d: &LedgerDiff| -> Vec<String> {
        d.events
            .iter()
            .filter(|e| matches!(e, LedgerEvent::ItemMirrored(_)))
            .map(|e| e.key().to_string())
            .collect()
    };
    let (k1, k2, k3) = (
        mirror_keys(&first),
        mirror_keys(&second),
        mirror_keys(&third),
    );
    assert_eq!((k1.len(), k2.len(), k3.len()), (1, 1, 1));
    assert!(k1[0] != k3[0] && k2[0] != k3[0], "{k1:?} {k2:?} {k3:?}");
    match third
        .events
        .iter()
        .find(|e| matches!(e, LedgerEvent::ItemMirrored(_)))
    {
        Some(LedgerEvent::ItemMirrored(e)) => assert_eq!(e.facts.cross_check, None),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_close_group_set_by_hand_does_not_settle_what_the_credits_leave() {
    // A voucher item of 1 000, paid 600, both postings closed by hand in one close group:
    // Tripletex shows nothing open, the credits leave 400.
    let mut debit = posting(
        3001,
        1,
        "2026-03-01",
        dec!(1000.0),
        "V-7",
        9301,
        named("Bilag"),
        Some(95),
    );
    debit["termOfPayment"] = json!("2026-03-15");
    let mut pay = posting(
        3002,
        1,
        "2026-03-20",
        dec!(-600.0),
        "V-7",
        9302,
        named("Betaling"),
        Some(95),
    );
    pay["type"] = json!("INCOMING_PAYMENT");
    let r = read(
        vec![customer(1)],
        vec![],
        vec![debit, pay],
        vec![voucher(
            9302,
            "Innbetaling",
            named("Betaling"),
            json!([leg(3003, 1920, dec!(600.0))]),
        )],
    );
    let b = build_ledger(&r, &policy(), d("2026-06-10"));
    let i = item(&b, "item_3001");
    assert_eq!(i.ledger_outstanding, Money::ZERO);
    assert_eq!(i.owed, kr(400));
    assert_eq!(i.status, ItemStatus::Open);
    assert_eq!(
        i.cross_check
            .map(|x| (x.tripletex_outstanding, x.derived_balance)),
        Some((Money::ZERO, kr(400)))
    );
    assert!(i.has_flag(ItemFlag::NeedsReview));
}

#[test]
fn a_credit_held_for_review_reduces_nothing_in_the_ledger_as_in_the_claim() {
    // A credit note whose voucher text speaks of a loss: the classifier asks a person, so the
    // claim holds it (pending review) and the ledger must not count it as reducing either.
    let mut cn = invoice(
        1005,
        10030,
        1,
        "2026-03-05",
        "2026-03-05",
        dec!(-3000.0),
        dec!(0.0),
    );
    cn["isCreditNote"] = json!(true);
    cn["creditedInvoice"] = json!(1004);
    let mut cn_post = posting(
        2042,
        1,
        "2026-03-05",
        dec!(-3000.0),
        "10030",
        9042,
        named("Utgående faktura"),
        Some(80),
    );
    cn_post["type"] = json!("OUTGOING_INVOICE_CUSTOMER_POSTING");
    let r = read(
        vec![customer(1)],
        vec![
            invoice(
                1004,
                10029,
                1,
                "2026-03-01",
                "2026-03-15",
                dec!(3000.0),
                dec!(0.0),
            ),
            cn,
        ],
        vec![
            posting(
                2041,
                1,
                "2026-03-01",
                dec!(3000.0),
                "10029",
                9041,
                named("Utgående faktura"),
                Some(80),
            ),
            cn_post,
        ],
        vec![voucher(
            9042,
            "Tap, kreditnota 10030",
            named("Utgående faktura"),
            json!([leg(2043, 3000, dec!(3000.0))]),
        )],
    );
    let b = build_ledger(&r, &policy(), d("2026-06-10"));
    let i = item(&b, "inv_1004");
    let c = &i.credits[0];
    assert_eq!(c.preliminary_kind, CreditKind::CreditNote);
    assert!(c.needs_review);
    assert_eq!(
        c.effect_on(i.voucher_id),
        crate::domain::owed::CreditEffect::Undecided
    );
    assert_eq!(i.owed, kr(3000), "held, not settled");
    assert_eq!(i.unclassified_credits, kr(3000));
    assert_eq!(
        i.cross_check, None,
        "Tripletex agrees: nothing left on the ledger"
    );
    assert_eq!(i.status, ItemStatus::WrittenOffCandidate);
    assert!(i.has_flag(ItemFlag::NeedsReview));
}

#[test]
fn a_paid_invoice_is_closed_and_not_written_on_a_first_sync() {
    let mut pay = posting(
        2012,
        1,
        "2026-03-10",
        dec!(-5000.0),
        "10024",
        9012,
        named("Betaling"),
        Some(78),
    );
    pay["type"] = json!("INCOMING_PAYMENT");
    let r = read(
        vec![customer(1)],
        vec![invoice(
            1002,
            10024,
            1,
            "2026-03-01",
            "2026-03-15",
            dec!(5000.0),
            dec!(0.0),
        )],
        vec![
            posting(
                2011,
                1,
                "2026-03-01",
                dec!(5000.0),
                "10024",
                9011,
                named("Utgående faktura"),
                Some(78),
            ),
            pay,
        ],
        vec![voucher(
            9012,
            "Innbetaling",
            named("Betaling"),
            json!([
                leg(2012, 1500, dec!(-5000.0)),
                leg(2013, 1920, dec!(5000.0))
            ]),
        )],
    );
    let b = build_ledger(&r, &policy(), d("2026-06-10"));
    let i = item(&b, "inv_1002");
    assert_eq!(i.status, ItemStatus::Closed);
    assert_eq!(i.owed, Money::ZERO);
    assert!(!i.overdue);
    assert_eq!(i.credits[0].preliminary_kind, CreditKind::Payment);
    assert_eq!(b.counts.closed_items, 1);
    let diff = diff(&MirrorState::default(), &b, Completeness::Full);
    assert!(diff.events.is_empty(), "{:?}", diff.events);
    assert_eq!(diff.writes.len(), 1, "the customer only: {:?}", diff.writes);
}

#[test]
fn a_credit_note_settles_the_invoice_it_credits() {
    let mut cn = invoice(
        1005,
        10030,
        1,
        "2026-03-05",
        "2026-03-05",
        dec!(-3000.0),
        dec!(0.0),
    );
    cn["isCreditNote"] = json!(true);
    cn["creditedInvoice"] = json!(1004);
    let mut cn_post = posting(
        2042,
        1,
        "2026-03-05",
        dec!(-3000.0),
        "10030",
        9042,
        named("Utgående faktura"),
        Some(80),
    );
    cn_post["type"] = json!("OUTGOING_INVOICE_CUSTOMER_POSTING");
    let r = read(
        vec![customer(1)],
        vec![
            invoice(
                1004,
                10029,
                1,
                "2026-03-01",
                "2026-03-15",
                dec!(3000.0),
                dec!(0.0),
            ),
            cn,
        ],
        vec![
            posting(
                2041,
                1,
                "2026-03-01",
                dec!(3000.0),
                "10029",
                9041,
                named("Utgående faktura"),
                Some(80),
            ),
            cn_post,
        ],
        vec![],
    );
    let b = build_ledger(&r, &policy(), d("2026-06-10"));
    assert_eq!(
        b.items.len(),
        1,
        "a credit note is not an item: {:?}",
        b.items
    );
    let i = item(&b, "inv_1004");
    assert_eq!(i.status, ItemStatus::Closed);
    let c = &i.credits[0];
    assert_eq!(c.preliminary_kind, CreditKind::CreditNote);
    assert!(c.evidence.invoice_is_credit_note);
    assert_eq!(c.evidence.credited_invoice_id, Some(1004));
    assert!(
        i.has_flag(ItemFlag::EvidenceIncomplete),
        "voucher 9042 not read"
    );
}

#[test]
fn an_unapplied_payment_is_an_open_credit_item() {
    let mut p = posting(
        2051,
        1,
        "2026-04-01",
        dec!(-700.0),
        "",
        9051,
        named("Betaling"),
        None,
    );
    p["type"] = json!("INCOMING_PAYMENT");
    let b = build_ledger(
        &read(vec![customer(1)], vec![], vec![p], vec![]),
        &policy(),
        d("2026-06-10"),
    );
    let i = item(&b, "credit_2051");
    assert_eq!(i.source, ItemSource::Credit);
    assert_eq!(i.status, ItemStatus::Open);
    assert_eq!(i.ledger_outstanding, kr(-700));
    assert_eq!(i.owed, Money::ZERO, "a credit owes nothing");
    assert_eq!(i.credit_balance, kr(700));
    assert!(i.has_flag(ItemFlag::CreditBalance));
    assert!(!i.overdue);
    assert_eq!(i.due_date, None);
    let diff = diff(&MirrorState::default(), &b, Completeness::Full);
    assert_eq!(keys(&diff), vec!["credit:2051:1"]);
}

// ---------------------------------------------------------------------------------------------
// Change detection
// ---------------------------------------------------------------------------------------------

fn partly_paid(paid: bool) -> LedgerRead {
    let mut postings = vec![posting(
        2021,
        1,
        "2026-06-01",
        dec!(10000.0),
        "10025",
        9021,
        named("Utgående faktura"),
        None,
    )];
    let mut vouchers = vec![];
    if paid {
        let mut p = posting(
            2022,
            1,
            "2026-06-08",
            dec!(-4000.0),
            "10025",
            9022,
            named("Betaling"),
            None,
        );
        p["type"] = json!("INCOMING_PAYMENT");
        postings.push(p);
        vouchers.push(voucher(
            9022,
            "Innbetaling",
            named("Betaling"),
            json!([
                leg(2022, 1500, dec!(-4000.0)),
                leg(2023, 1920, dec!(4000.0))
            ]),
        ));
    }
    read(
        vec![customer(1)],
        vec![invoice(
            1003,
            10025,
            1,
            "2026-06-01",
            "2026-06-15",
            dec!(10000.0),
            if paid { dec!(6000.0) } else { dec!(10000.0) },
        )],
        postings,
        vouchers,
    )
}

#[test]
fn an_unchanged_resync_writes_nothing_and_sends_nothing() {
    let today = d("2026-06-10");
    let b = build_ledger(&written_off_read("Tap"), &policy(), today);
    let first = diff(&MirrorState::default(), &b, Completeness::Full);
    assert!(!first.is_empty());
    let mut state = MirrorState::default();
    state.apply(&first);
    let again = build_ledger(&written_off_read("Tap"), &policy(), today);
    let second = diff(&state, &again, Completeness::Full);
    assert!(second.is_empty(), "{second:?}");
}

#[test]
fn a_changed_amount_gives_one_upsert_and_one_event() {
    let today = d("2026-06-10");
    let before = build_ledger(&partly_paid(false), &policy(), today);
    let first = diff(&MirrorState::default(), &before, Completeness::Full);
    assert_eq!(first.writes.len(), 2, "customer and item");
    assert_eq!(keys(&first).len(), 1, "mirror only: {:?}", keys(&first));
    let mut state = MirrorState::default();
    state.apply(&first);

    let after = build_ledger(&partly_paid(true), &policy(), today);
    let i = item(&after, "inv_1003");
    assert_eq!(i.ledger_outstanding, kr(6000));
    assert_eq!(i.owed, kr(6000));
    let second = diff(&state, &after, Completeness::Full);
    assert_eq!(second.writes.len(), 1, "{:?}", second.writes);
    assert!(
        matches!(&second.writes[0], LedgerWrite::UpsertItem { item, .. } if item.id == "inv_1003")
    );
    assert_eq!(keys(&second), vec!["credit:2022:1"]);
    match &second.events[0] {
        LedgerEvent::Credit(e) => {
            assert_eq!(e.credit.preliminary_kind, CreditKind::Payment);
            assert_eq!(e.credit.amount, kr(-4000));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_same_events_regenerated_have_the_same_keys() {
    let today = d("2026-06-10");
    let a = diff(
        &MirrorState::default(),
        &build_ledger(&written_off_read("Tap"), &policy(), today),
        Completeness::Full,
    );
    let b = diff(
        &MirrorState::default(),
        &build_ledger(&written_off_read("Tap"), &policy(), today),
        Completeness::Full,
    );
    assert_eq!(keys(&a), keys(&b));
    assert_eq!(a, b);
    // Keys are ASCII without spaces and fit an SQS deduplication id.
    for k in keys(&a) {
        assert!(
            k.len() <= 128 && k.chars().all(|c| c.is_ascii_graphic()),
            "{k}"
        );
    }
}

#[test]
fn becoming_overdue_is_one_upsert_and_one_event_once() {
    let r = partly_paid(false);
    let mut state = MirrorState::default();
    state.apply(&diff(
        &MirrorState::default(),
        &build_ledger(&r, &policy(), d("2026-06-28")),
        Completeness::Full,
    ));
    let due_plus_14 = build_ledger(&r, &policy(), d("2026-06-29"));
    let dd = diff(&state, &due_plus_14, Completeness::Full);
    assert_eq!(keys(&dd), vec!["overdue:inv_1003:2026-06-15"]);
    assert_eq!(dd.writes.len(), 1);
    state.apply(&dd);
    let next_day = diff(
        &state,
        &build_ledger(&r, &policy(), d("2026-06-30")),
        Completeness::Full,
    );
    assert!(next_day.is_empty(), "{next_day:?}");
}

#[test]
fn closing_and_removal_are_events_and_partial_reads_delete_nothing() {
    let today = d("2026-06-10");
    let mut state = MirrorState::default();
    state.apply(&diff(
        &MirrorState::default(),
        &build_ledger(&partly_paid(false), &policy(), today),
        Completeness::Full,
    ));

    // Paid in full: closed.
    let mut r = partly_paid(true);
    r.invoices[0].amount_outstanding = Some(raw::Lenient::Valid(dec!(0)));
    r.postings[1].amount_gross = Some(raw::Lenient::Valid(dec!(-10000)));
    let closed = build_ledger(&r, &policy(), today);
    assert_eq!(item(&closed, "inv_1003").status, ItemStatus::Closed);
    let dc = diff(&state, &closed, Completeness::Full);
    let k = keys(&dc);
    assert_eq!(k.len(), 2, "{k:?}");
    assert_eq!(k[0], "credit:2022:1");
    assert_eq!(
        k[1],
        format!(
            "closed:inv_1003:{}",
            item(&closed, "inv_1003").content_hash()
        )
    );

    // Gone from a full read (e.g. the invoice voucher was deleted): removed.
    let empty = build_ledger(
        &read(vec![customer(1)], vec![], vec![], vec![]),
        &policy(),
        today,
    );
    assert!(diff(&state, &empty, Completeness::Partial).is_empty());
    let dr = diff(&state, &empty, Completeness::Full);
    assert_eq!(
        dr.writes,
        vec![LedgerWrite::DeleteItem {
            id: "inv_1003".into()
        }]
    );
    assert!(keys(&dr)[0].starts_with("removed:inv_1003:"));
}

#[test]
fn turning_a_setting_off_removes_the_item_with_the_skip_reason() {
    let on = LedgerPolicy {
        include_null_voucher_type: true,
        ..policy()
    };
    let today = d("2026-03-01");
    let mut state = MirrorState::default();
    state.apply(&diff(
        &MirrorState::default(),
        &build_ledger(&manual_read(Some(json!(null))), &on, today),
        Completeness::Full,
    ));
    let off = build_ledger(&manual_read(Some(json!(null))), &policy(), today);
    let dd = diff(&state, &off, Completeness::Full);
    match dd.events.as_slice() {
        [LedgerEvent::ItemRemoved(e)] => {
            assert_eq!(e.item_id, "item_401");
            assert_eq!(e.skip_reason, Some(SkipReason::NullVoucherType));
        }
        other => panic!("{other:?}"),
    }
    assert!(dd.writes.iter().any(
        |w| matches!(w, LedgerWrite::UpsertSkip { skip, .. } if skip.record.key == "item_401")
    ));
}

// ---------------------------------------------------------------------------------------------
// Quarantine and counts
// ---------------------------------------------------------------------------------------------

#[test]
fn malformed_items_are_quarantined_while_the_others_pass() {
    let mut bad_amount = invoice(21, 201, 1, "2026-02-01", "2026-02-15", dec!(0.0), dec!(0.0));
    bad_amount["amount"] = json!("tolv tusen");
    let mut sub_ore = invoice(22, 202, 1, "2026-02-01", "2026-02-15", dec!(0.0), dec!(0.0));
    sub_ore["amount"] = json!(100.005);
    let mut bad_date = invoice(
        23,
        203,
        1,
        "2026-02-01",
        "2026-02-15",
        dec!(10.0),
        dec!(10.0),
    );
    bad_date["invoiceDueDate"] = json!("15.02.2026");
    let mut no_customer = posting(
        501,
        1,
        "2026-02-01",
        dec!(10.0),
        "",
        9501,
        named("Bilag"),
        None,
    );
    no_customer["customer"] = json!(null);
    let not_an_object = json!("garbage");
    let wrong_id_type = json!({ "id": "abc", "invoiceNumber": 1 });
    let r = read(
        vec![customer(1)],
        vec![
            invoice(
                20,
                200,
                1,
                "2026-02-01",
                "2026-02-15",
                dec!(1000.0),
                dec!(1000.0),
            ),
            bad_amount,
            sub_ore,
            bad_date,
            wrong_id_type,
        ],
        vec![no_customer, not_an_object],
        vec![],
    );
    let b = build_ledger(&r, &policy(), d("2026-06-10"));
    assert_eq!(b.items.len(), 1);
    assert!(b.item("inv_20").is_some());
    assert_eq!(skip(&b, "inv_21").reason, SkipReason::MalformedAmount);
    assert!(skip(&b, "inv_21").detail.contains("tolv tusen"));
    assert_eq!(skip(&b, "inv_22").reason, SkipReason::MalformedAmount);
    assert_eq!(skip(&b, "inv_23").reason, SkipReason::MalformedDate);
    assert_eq!(skip(&b, "posting_501").reason, SkipReason::MissingCustomer);
    let malformed: Vec<_> = b
        .skipped
        .iter()
        .filter(|s| s.reason == SkipReason::MalformedItem)
        .collect();
    assert_eq!(malformed.len(), 2, "{malformed:?}");
    assert!(malformed
        .iter()
        .all(|s| s.record.key.contains("_unidentified_")));
    assert_eq!(b.counts.quarantined, 6);
    assert_eq!(b.counts.skipped_total(), 6);
    assert_eq!(b.counts.open_items, 1);
}

#[test]
fn every_skip_is_counted_by_reason() {
    let p = policy();
    let mut manual = posting(
        401,
        1,
        "2026-02-10",
        dec!(2500.0),
        "",
        7401,
        json!(null),
        None,
    );
    manual["termOfPayment"] = json!("2026-02-24");
    let mut manual2 = manual.clone();
    manual2["id"] = json!(402);
    let r = read(
        vec![customer(1)],
        vec![
            invoice(
                11,
                101,
                1,
                "2025-06-01",
                "2025-06-15",
                dec!(1000.0),
                dec!(1000.0),
            ),
            invoice(
                12,
                102,
                1,
                "2025-07-01",
                "2025-07-15",
                dec!(1000.0),
                dec!(1000.0),
            ),
            invoice(
                13,
                103,
                1,
                "2026-02-01",
                "2026-02-15",
                dec!(1000.0),
                dec!(1000.0),
            ),
            invoice(
                14,
                104,
                99,
                "2026-02-01",
                "2026-02-15",
                dec!(1000.0),
                dec!(1000.0),
            ),
        ],
        vec![
            manual,
            manual2,
            posting(
                301,
                1,
                "2026-02-10",
                dec!(4000.0),
                "SAFT-77",
                7301,
                named("Åpningsbalanse"),
                None,
            ),
        ],
        vec![],
    );
    let b = build_ledger(&r, &p, d("2026-06-10"));
    let expected: std::collections::BTreeMap<SkipReason, u32> = [
        (SkipReason::BeforeFetchFrom, 2),
        (SkipReason::NullVoucherType, 2),
        (SkipReason::MissingDueDate, 1),
        (SkipReason::UnknownCustomer, 1),
    ]
    .into_iter()
    .collect();
    assert_eq!(b.counts.skipped, expected);
    assert_eq!(b.counts.quarantined, 1);
    assert_eq!(b.counts.customers, 1);
    assert_eq!(b.counts.open_items, 1);
    assert_eq!(b.counts.overdue_items, 1);
    let json = serde_json::to_value(&b.counts).unwrap();
    assert_eq!(json["skipped"]["null_voucher_type"], json!(2));
    assert_eq!(json["openItems"], json!(1));
}

#[test]
fn the_same_posting_twice_is_read_once_with_the_highest_version() {
    let mut v2 = posting(
        2021,
        1,
        "2026-06-01",
        dec!(10000.0),
        "10025",
        9021,
        named("Utgående faktura"),
        None,
    );
    v2["version"] = json!(2);
    v2["termOfPayment"] = json!("2026-06-20");
    let mut r = partly_paid(false);
    let (extra, _) = parse_items::<RawPosting>(RecordKind::Posting, vec![v2]);
    r.postings.splice(0..0, extra);
    let b = build_ledger(&r, &policy(), d("2026-06-10"));
    assert_eq!(item(&b, "inv_1003").debit_posting_ids, vec![2021]);
    assert_eq!(b.items.len(), 1);
}

// ---------------------------------------------------------------------------------------------
// Shapes
// ---------------------------------------------------------------------------------------------

#[test]
fn customers_are_mirrored_with_debtor_kind_terms_and_address() {
    let mut private = customer(2);
    private["isPrivateIndividual"] = json!(true);
    private["organizationNumber"] = json!("");
    let mut bad_org = customer(3);
    bad_org["organizationNumber"] = json!("923609017");
    bad_org
        .as_object_mut()
        .unwrap()
        .remove("isPrivateIndividual");
    let b = build_ledger(
        &read(vec![customer(1), private, bad_org], vec![], vec![], vec![]),
        &policy(),
        d("2026-06-10"),
    );
    let c = &b.customers;
    assert_eq!(c.len(), 3);
    assert_eq!(c[0].debtor_kind, DebtorKind::Business);
    assert_eq!(
        c[0].organization_number.as_ref().map(|o| o.as_str()),
        Some("923609016")
    );
    assert_eq!(
        c[0].payment_terms,
        Some(PaymentTerms {
            due_in: 30,
            kind: PaymentTermsKind::Days
        })
    );
    let a = c[0].postal_address.as_ref().unwrap();
    assert_eq!(a.lines, vec!["Storgata 1"]);
    assert_eq!(a.country_code.as_deref(), Some("NO"));
    assert_eq!(c[1].debtor_kind, DebtorKind::Consumer);
    assert_eq!(c[1].organization_number, None);
    assert_eq!(c[2].debtor_kind, DebtorKind::Consumer, "unknown → consumer");
    assert_eq!(
        c[2].invalid_organization_number.as_deref(),
        Some("923609017")
    );
}

#[test]
fn items_serialize_in_camel_case_with_snake_case_values() {
    let b = build_ledger(&written_off_read("Tap"), &policy(), d("2026-06-10"));
    let v = serde_json::to_value(item(&b, "inv_1001")).unwrap();
    assert_eq!(v["status"], json!("written_off_candidate"));
    assert_eq!(v["owed"], json!("12500.00"));
    assert_eq!(v["dueDate"], json!("2026-03-16"));
    assert_eq!(v["dueDateEstimated"], json!(false));
    assert_eq!(v["credits"][0]["preliminaryKind"], json!("write_off"));
    let back: LedgerItem = serde_json::from_value(v).unwrap();
    assert_eq!(&back, item(&b, "inv_1001"));

    let d1 = diff(&MirrorState::default(), &b, Completeness::Full);
    let ev = serde_json::to_value(&d1.events).unwrap();
    assert_eq!(ev[0]["type"], json!("item_mirrored"));
    assert_eq!(ev[1]["type"], json!("credit"));
    assert_eq!(ev[2]["type"], json!("item_overdue"));
    let state_json = serde_json::to_string(&{
        let mut s = MirrorState::default();
        s.apply(&d1);
        s
    })
    .unwrap();
    let state: MirrorState = serde_json::from_str(&state_json).unwrap();
    assert!(diff(&state, &b, Completeness::Full).is_empty());
}

#[test]
fn the_vouchers_to_read_are_those_of_unread_credits() {
    let mut r = written_off_read("Tap");
    assert!(r.credit_vouchers_to_read().is_empty(), "9002 is read");
    r.vouchers.clear();
    assert_eq!(r.credit_vouchers_to_read(), vec![9002]);
    let r = partly_paid(true);
    assert!(r.credit_vouchers_to_read().is_empty());
}

#[test]
fn ledger_query_filters_items_and_skips() {
    let b = build_ledger(&written_off_read("Tap"), &policy(), d("2026-06-10"));
    let i = item(&b, "inv_1001");
    let q: LedgerQuery =
        serde_json::from_value(json!({ "overdue": true, "customerId": 1 })).unwrap();
    assert!(q.matches_item(i));
    let q: LedgerQuery = serde_json::from_value(json!({ "overdue": false })).unwrap();
    assert!(!q.matches_item(i));
    let q: LedgerQuery =
        serde_json::from_value(json!({ "status": "written_off_candidate" })).unwrap();
    assert!(q.matches_item(i));
    assert!(serde_json::from_value::<LedgerQuery>(json!({ "bogus": 1 })).is_err());

    let s = build_ledger(&saft_read(customer(1)), &policy(), d("2026-06-01"));
    let q: LedgerQuery = serde_json::from_value(json!({ "skipped": "missing_due_date" })).unwrap();
    assert!(q.wants_skips());
    assert!(!q.matches_item(i));
    assert!(q.matches_skip(skip(&s, "item_301")));
    let q: LedgerQuery = serde_json::from_value(json!({ "skipped": "null_voucher_type" })).unwrap();
    assert!(!q.matches_skip(skip(&s, "item_301")));
}

#[test]
fn a_settled_item_left_out_by_a_setting_is_not_reported_as_skipped() {
    // A manual-voucher item (voucherType null) that was paid: history, not ledger.
    let mut debit = posting(
        601,
        1,
        "2026-02-10",
        dec!(800.0),
        "",
        7601,
        json!(null),
        Some(90),
    );
    debit["termOfPayment"] = json!("2026-02-24");
    let mut pay = posting(
        602,
        1,
        "2026-02-20",
        dec!(-800.0),
        "",
        7602,
        named("Betaling"),
        Some(90),
    );
    pay["type"] = json!("INCOMING_PAYMENT");
    let r = read(vec![customer(1)], vec![], vec![debit.clone(), pay], vec![]);
    let b = build_ledger(&r, &policy(), d("2026-06-10"));
    assert!(b.items.is_empty());
    assert!(b.skipped.is_empty(), "{:?}", b.skipped);

    // The same item still open is reported.
    debit["closeGroup"] = json!(null);
    let b = build_ledger(
        &read(vec![customer(1)], vec![], vec![debit], vec![]),
        &policy(),
        d("2026-06-10"),
    );
    assert_eq!(skip(&b, "item_601").reason, SkipReason::NullVoucherType);

    // A SAF-T item written off without due date: still owed, so reported as skipped.
    let mut saft = posting(
        611,
        1,
        "2026-02-10",
        dec!(900.0),
        "S-1",
        7611,
        named("Bilag"),
        Some(91),
    );
    saft["termOfPayment"] = json!(null);
    let tap = posting(
        612,
        1,
        "2026-04-10",
        dec!(-900.0),
        "S-1",
        7612,
        json!(null),
        Some(91),
    );
    let r = read(
        vec![customer(1)],
        vec![],
        vec![saft, tap],
        vec![voucher(
            7612,
            "Tap på fordring",
            json!(null),
            json!([leg(613, 7830, dec!(900.0))]),
        )],
    );
    let b = build_ledger(&r, &policy(), d("2026-06-10"));
    assert_eq!(skip(&b, "item_611").reason, SkipReason::MissingDueDate);
    let saft_on = LedgerPolicy {
        include_saft_imported: true,
        ..policy()
    };
    let b = build_ledger(&r, &saft_on, d("2026-06-10"));
    let i = item(&b, "item_611");
    assert_eq!(i.status, ItemStatus::WrittenOffCandidate);
    assert_eq!(i.owed, kr(900));
    assert!(i.due_date_estimated && i.overdue);
}

#[test]
fn malformed_dates_and_amounts_are_kept_as_they_came_and_round_trip() {
    use super::raw::{amount_value, date_value, AmountValue, DateValue};
    let text = r#"{"id": 1, "date": "2026-02-30", "description": " x ", "amount": "tolv kroner",
        "amountGross": {"a": [1, 2.50]}, "invoiceNumber": 10001, "termOfPayment": " ",
        "voucher": {"id": 3, "voucherType": null}, "type": "INCOMING_PAYMENT", "closeGroup": null}"#;
    // From the page's text (the typed path) and from a JSON value (the quarantine path).
    let from_text: RawPosting = serde_json::from_str(text).unwrap();
    let v: Value = serde_json::from_str(text).unwrap();
    let from_value: RawPosting = serde_json::from_value(v).unwrap();
    assert_eq!(from_text, from_value);
    assert_eq!(
        date_value(&from_text.date),
        DateValue::Malformed(r#""2026-02-30""#.into())
    );
    assert_eq!(date_value(&from_text.term_of_payment), DateValue::Absent);
    assert_eq!(
        amount_value(&from_text.amount),
        AmountValue::Malformed(r#""tolv kroner""#.into())
    );
    assert_eq!(
        amount_value(&from_text.amount_gross),
        AmountValue::Malformed(r#"{"a":[1,2.5]}"#.into())
    );
    assert_eq!(from_text.invoice_number.as_deref(), Some("10001"));
    assert_eq!(from_text.voucher.as_ref().unwrap().voucher_type, Some(None));
    // Written back as they came (the checkpoint, the hash of an unidentified record).
    let out = serde_json::to_value(&from_text).unwrap();
    assert_eq!(out["date"], json!("2026-02-30"));
    assert_eq!(out["termOfPayment"], json!(" "));
    assert_eq!(out["amountGross"], json!({ "a": [1, 2.5] }));
    let back: RawPosting = serde_json::from_value(out).unwrap();
    assert_eq!(back, from_text);
}

#[test]
fn valid_dates_and_amounts_are_read_exactly_from_numbers_and_strings() {
    use super::raw::{amount_value, date_value, AmountValue, DateValue, Lenient};
    for (json_amount, expected) in [
        (json!(1250.5), dec!(1250.5)),
        (json!(12500), dec!(12500)),
        (json!(-0.1), dec!(-0.1)),
        (json!("99.90"), dec!(99.90)),
    ] {
        let text =
            json!({ "id": 5, "amount": json_amount, "invoiceDate": "2026-01-31" }).to_string();
        let inv: RawInvoice = serde_json::from_str(&text).unwrap();
        assert_eq!(amount_value(&inv.amount), AmountValue::Amount(expected));
        assert_eq!(
            date_value(&inv.invoice_date),
            DateValue::Date(d("2026-01-31"))
        );
        let back: RawInvoice = serde_json::from_str(&serde_json::to_string(&inv).unwrap()).unwrap();
        assert_eq!(back, inv);
    }
    let inv: RawInvoice = serde_json::from_str(
        r#"{"amount": true, "invoiceDate": 20260131, "invoiceDueDate": null}"#,
    )
    .unwrap();
    assert_eq!(
        amount_value(&inv.amount),
        AmountValue::Malformed("true".into())
    );
    assert_eq!(
        date_value(&inv.invoice_date),
        DateValue::Malformed("20260131".into())
    );
    assert_eq!(inv.invoice_due_date, None);
    assert!(matches!(inv.amount, Some(Lenient::Invalid(_))));
}

#[test]
fn vouchers_keep_what_the_evidence_needs_and_round_trip() {
    let (v, bad) = parse_items::<RawVoucher>(
        RecordKind::Voucher,
        vec![voucher(
            70,
            "Tap på fordring",
            named("Memorial"),
            json!([leg(1, 1500, dec!(-100)), leg(2, 7830, dec!(100))]),
        )],
    );
    assert!(bad.is_empty());
    let text = serde_json::to_string(&v[0]).unwrap();
    let back: RawVoucher = serde_json::from_str(&text).unwrap();
    assert_eq!(back, v[0]);
    assert_eq!(back.postings.len(), 2);
    let leg = &back.postings[1];
    assert_eq!(leg.id, Some(2));
    let account = leg.account.as_ref().unwrap();
    assert_eq!(account.number, Some(7830));
    assert_eq!(account.name.as_deref(), Some("konto 7830"));
    assert_eq!(
        super::raw::amount_value(&leg.amount_gross),
        super::raw::AmountValue::Amount(dec!(100))
    );
}

#[test]
fn repeated_texts_share_one_allocation_and_read_and_write_as_text() {
    use super::raw::{RawVoucherType, Shared};
    let text = r#"{"id": 1, "name": "Utgående faktura"}"#;
    let a: RawVoucherType = serde_json::from_str(text).unwrap();
    let b: RawVoucherType = serde_json::from_value(serde_json::from_str(text).unwrap()).unwrap();
    assert_eq!(a, b);
    let (na, nb) = (a.name.as_deref().unwrap(), b.name.as_deref().unwrap());
    assert_eq!(na, "Utgående faktura");
    assert!(std::ptr::eq(na.as_ptr(), nb.as_ptr()), "one allocation");
    assert_eq!(
        serde_json::to_value(&a).unwrap(),
        json!({ "id": 1, "name": "Utgående faktura" })
    );
    // A long text is not pooled, and still equal by its content.
    let long = "x".repeat(Shared::MAX_LEN + 1);
    let (l1, l2) = (Shared::new(&long), Shared::new(&long));
    assert_eq!(l1, l2);
    assert!(!std::ptr::eq(l1.as_str().as_ptr(), l2.as_str().as_ptr()));
    // Not a string: the element is malformed, as with a plain String field.
    assert!(serde_json::from_str::<RawVoucherType>(r#"{"name": 5}"#).is_err());
}

#[test]
fn closed_items_the_caller_does_not_keep_are_counted_but_not_held() {
    let mut pay = posting(
        2012,
        1,
        "2026-03-10",
        dec!(-5000.0),
        "10024",
        9012,
        named("Betaling"),
        Some(78),
    );
    pay["type"] = json!("INCOMING_PAYMENT");
    let r = read(
        vec![customer(1)],
        vec![
            invoice(
                1002,
                10024,
                1,
                "2026-03-01",
                "2026-03-15",
                dec!(5000.0),
                dec!(0.0),
            ),
            invoice(
                1003,
                10025,
                1,
                "2026-03-02",
                "2026-03-16",
                dec!(700.0),
                dec!(700.0),
            ),
        ],
        vec![
            posting(
                2011,
                1,
                "2026-03-01",
                dec!(5000.0),
                "10024",
                9011,
                named("Utgående faktura"),
                Some(78),
            ),
            pay,
            posting(
                2021,
                1,
                "2026-03-02",
                dec!(700.0),
                "10025",
                9021,
                named("Utgående faktura"),
                None,
            ),
        ],
        vec![],
    );
    let today = d("2026-06-10");
    let all = build_ledger(&r, &policy(), today);
    assert_eq!(all.items.len(), 2);
    assert_eq!(item(&all, "inv_1002").status, ItemStatus::Closed);
    assert_eq!(item(&all, "inv_1003").status, ItemStatus::Open);

    let none = build_ledger_keeping(&r, &policy(), today, |_| false);
    assert_eq!(none.items, vec![item(&all, "inv_1003").clone()]);
    assert_eq!(none.counts, all.counts);
    assert_eq!(none.counts.closed_items, 1);
    assert_eq!(none.customers, all.customers);
    assert_eq!(none.skipped, all.skipped);

    let mirrored = build_ledger_keeping(&r, &policy(), today, |id| id == "inv_1002");
    assert_eq!(mirrored, all);
}
