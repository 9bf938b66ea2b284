//! Property tests: the diff is a fixed point after its own writes, deterministic, and total.

use super::super::raw::{parse_items, RawCustomer, RawInvoice, RawPosting, RawVoucher};
use super::super::*;
use super::{customer, d, named, num, policy};
use crate::domain::owed::CreditEffect;
use crate::domain::Money;
use proptest::prelude::*;
use rust_decimal::Decimal;
use serde_json::{json, Value};

#[derive(Debug, Clone)]
struct Inv {
    id: i64,
    number: i64,
    customer: i64,
    day: u32,
    has_due: bool,
    amount_ore: i64,
    outstanding: u8,
}

#[derive(Debug, Clone)]
struct Post {
    id: i64,
    customer: i64,
    day: u32,
    amount_ore: i64,
    number: Option<i64>,
    vtype: u8,
    close_group: Option<i64>,
    due: bool,
    desc: u8,
    counter: u32,
}

fn date(day: u32) -> String {
    (d("2025-12-01") + chrono::Days::new(day.into())).to_string()
}

fn inv_json(i: &Inv) -> Value {
    let amount = num(Decimal::new(i.amount_ore, 2));
    let outstanding = match i.outstanding {
        0 => num(Decimal::ZERO),
        1 => amount.clone(),
        _ => num(Decimal::new(i.amount_ore / 2, 2)),
    };
    json!({
        "id": i.id, "version": 1, "invoiceNumber": i.number, "invoiceDate": date(i.day),
        "invoiceDueDate": if i.has_due { json!(date(i.day + 14)) } else { json!(null) },
        "customer": { "id": i.customer }, "amount": amount, "amountOutstanding": outstanding,
        "voucher": { "id": 50_000 + i.id }
    })
}

const DESCS: [&str; 4] = ["Tap på krav", "Innbetaling", "", "Avskrevet"];

fn post_json(p: &Post) -> Value {
    let vt = match p.vtype {
        0 => Some(json!(null)),
        1 => Some(named("Bilag")),
        _ => None,
    };
    let mut voucher = json!({ "id": 60_000 + p.id });
    if let Some(t) = vt {
        voucher["voucherType"] = t;
    }
    json!({
        "id": p.id, "version": 1, "date": date(p.day), "customer": { "id": p.customer },
        "amountGross": num(Decimal::new(p.amount_ore, 2)),
        "invoiceNumber": p.number.map_or(String::new(), |n| n.to_string()),
        "termOfPayment": if p.due { json!(date(p.day + 10)) } else { json!(null) },
        "description": DESCS[usize::from(p.desc) % DESCS.len()],
        "voucher": voucher, "type": null,
        "closeGroup": p.close_group.map(|g| json!({ "id": g }))
    })
}

fn voucher_json(p: &Post) -> Value {
    json!({
        "id": 60_000 + p.id, "version": 1, "description": DESCS[usize::from(p.desc) % DESCS.len()],
        "voucherType": null,
        "postings": [ { "id": p.id, "account": { "number": 1500 }, "amountGross": num(Decimal::new(p.amount_ore, 2)) },
                      { "id": p.id + 1_000_000, "account": { "number": p.counter }, "amountGross": num(Decimal::new(-p.amount_ore, 2)) } ]
    })
}

fn inv_strategy() -> impl Strategy<Value = Inv> {
    (
        1i64..40,
        1i64..4,
        0u32..90,
        any::<bool>(),
        1i64..5_000_000,
        0u8..3,
    )
        .prop_map(
            |(id, customer, day, has_due, amount_ore, outstanding)| Inv {
                id,
                number: 10_000 + id,
                customer,
                day,
                has_due,
                amount_ore,
                outstanding,
            },
        )
}

fn post_strategy() -> impl Strategy<Value = Post> {
    (
        (1i64..80, 1i64..4, 0u32..120, -5_000_000i64..5_000_000),
        (
            prop::option::of(10_001i64..10_040),
            0u8..3,
            prop::option::of(1i64..6),
            any::<bool>(),
            0u8..4,
            prop::sample::select(vec![1920u32, 7830, 3000, 1580]),
        ),
    )
        .prop_map(
            |(
                (id, customer, day, amount_ore),
                (number, vtype, close_group, due, desc, counter),
            )| {
                Post {
                    id,
                    customer,
                    day,
                    amount_ore,
                    number,
                    vtype,
                    close_group,
                    due,
                    desc,
                    counter,
                }
            },
        )
}

fn build(invs: &[Inv], posts: &[Post], flags: (bool, bool), today_offset: u32) -> LedgerBuild {
    let customers: Vec<Value> = (1..=2).map(customer).collect();
    let (customers, mut q) = parse_items::<RawCustomer>(RecordKind::Customer, customers);
    let (invoices, q2) =
        parse_items::<RawInvoice>(RecordKind::Invoice, invs.iter().map(inv_json).collect());
    let (postings, q3) =
        parse_items::<RawPosting>(RecordKind::Posting, posts.iter().map(post_json).collect());
    let (vouchers, q4) = parse_items::<RawVoucher>(
        RecordKind::Voucher,
        posts
            .iter()
            .filter(|p| p.amount_ore < 0)
            .map(voucher_json)
            .collect(),
    );
    q.extend(q2);
    q.extend(q3);
    q.extend(q4);
    let read = LedgerRead {
        customers,
        invoices,
        postings,
        vouchers,
        quarantined: q,
    };
    let p = LedgerPolicy {
        include_saft_imported: flags.0,
        include_null_voucher_type: flags.1,
        ..policy()
    };
    build_ledger(
        &read,
        &p,
        d("2026-01-01") + chrono::Days::new(today_offset.into()),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// diff(previous = apply(diff(empty, items)), items) is empty, and the diff is deterministic.
    #[test]
    fn a_resync_after_applying_the_diff_is_empty(
        invs in prop::collection::vec(inv_strategy(), 0..8),
        posts in prop::collection::vec(post_strategy(), 0..16),
        flags in (any::<bool>(), any::<bool>()),
        today in 0u32..200,
    ) {
        let b = build(&invs, &posts, flags, today);
        let first = diff(&MirrorState::default(), &b, Completeness::Full);
        prop_assert_eq!(&first, &diff(&MirrorState::default(), &b, Completeness::Full));
        let mut state = MirrorState::default();
        state.apply(&first);
        let second = diff(&state, &b, Completeness::Full);
        prop_assert!(second.is_empty(), "{:?}", second);
        // Every event key is unique within one diff.
        let mut keys: Vec<&str> = first.events.iter().map(|e| e.key()).collect();
        let n = keys.len();
        keys.sort_unstable();
        keys.dedup();
        prop_assert_eq!(keys.len(), n);
    }

    /// Items are consistent: owed is the principal less the reducing credits (never negative,
    /// beyond it a credit balance), whatever Tripletex's figure says; write-offs and undecided
    /// credits are counted apart; a disagreement with Tripletex is flagged with both figures and
    /// held for review; the status follows the derived balance; overdue items are not closed and
    /// have a due date; counts add up.
    #[test]
    fn items_are_consistent(
        invs in prop::collection::vec(inv_strategy(), 0..8),
        posts in prop::collection::vec(post_strategy(), 0..16),
        flags in (any::<bool>(), any::<bool>()),
        today in 0u32..200,
    ) {
        let b = build(&invs, &posts, flags, today);
        for i in &b.items {
            let sum = |e: CreditEffect| i.credits.iter()
                .filter(|c| c.effect_on(i.voucher_id) == e)
                .fold(Money::ZERO, |acc, c| acc + c.reduction());
            prop_assert!(!i.owed.is_negative() && !i.credit_balance.is_negative());
            prop_assert!(i.owed.is_zero() || i.credit_balance.is_zero());
            prop_assert_eq!(i.has_flag(ItemFlag::CreditBalance), !i.credit_balance.is_zero());
            if i.source == ItemSource::Credit {
                prop_assert_eq!(i.owed, Money::ZERO);
                prop_assert_eq!(i.credit_balance, Money::ZERO - i.ledger_outstanding);
                prop_assert!(i.cross_check.is_none());
                continue;
            }
            let reducing = sum(CreditEffect::Reduces);
            prop_assert_eq!(i.owed - i.credit_balance, i.principal - reducing);
            prop_assert!(i.owed <= i.principal.max(Money::ZERO));
            prop_assert_eq!(i.written_off, sum(CreditEffect::WritesOff));
            prop_assert_eq!(i.unclassified_credits, sum(CreditEffect::Undecided));
            let balance = i.principal - reducing - i.written_off - i.unclassified_credits;
            prop_assert_eq!(i.has_flag(ItemFlag::SourcesDisagree), i.cross_check.is_some());
            if let Some(x) = i.cross_check {
                prop_assert!(i.has_flag(ItemFlag::NeedsReview));
                prop_assert_eq!(x.tripletex_outstanding, i.ledger_outstanding);
                prop_assert_eq!(x.derived_balance, balance);
                prop_assert!(x.tripletex_outstanding != x.derived_balance);
            }
            let status = if !balance.is_zero() {
                ItemStatus::Open
            } else if !i.owed.is_zero() {
                ItemStatus::WrittenOffCandidate
            } else {
                ItemStatus::Closed
            };
            prop_assert_eq!(i.status, status);
            if i.overdue {
                prop_assert!(i.status != ItemStatus::Closed && i.due_date.is_some());
            }
            prop_assert_eq!(i.due_date_estimated, i.has_flag(ItemFlag::DueDateEstimated));
            if !flags.0 {
                prop_assert!(!i.due_date_estimated);
            }
            prop_assert!(i.date >= policy().fetch_from);
        }
        let c = &b.counts;
        prop_assert_eq!(
            (c.open_items + c.closed_items + c.written_off_candidates) as usize,
            b.items.len()
        );
        prop_assert_eq!(c.skipped_total() as usize, b.skipped.len());
        let mut ids: Vec<&str> = b.items.iter().map(|i| i.id.as_str()).collect();
        ids.dedup();
        prop_assert_eq!(ids.len(), b.items.len());
    }
}
