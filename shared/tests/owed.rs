//! What is owed, from Tripletex to the claim: the ledger item and the claim built from the same
//! credits agree, and neither demands more than the principal less what reduced it.
//!
//! An invoice is read as Tripletex sends it (JSON, read element by element like the adapter),
//! first alone, then with any mix of payments, credit notes, write-offs, undecided credits,
//! reversed credits and a reversal of the invoice itself, with an `amountOutstanding` that matches
//! the credits or not (a voucher never matched to the invoice, a close group set by hand) or is
//! absent. The ledger is built, diffed against the first sync, and its events go through the
//! classification worker's own mapping ([`map_event`], [`apply_to_record`]) into the claim.
//! No AWS: the pure parts of the worker only.

use chrono::{NaiveDate, TimeZone, Utc};
use proptest::prelude::*;
use rust_decimal::Decimal;
use serde_json::{json, Value};

use shared::adapters::store::claims::ClaimRecord;
use shared::domain::claim::{ClaimId, ClaimState, ReviewCode};
use shared::domain::classify::CreditKind;
use shared::domain::ledger::raw::{parse_items, RawCustomer, RawInvoice, RawPosting, RawVoucher};
use shared::domain::ledger::{
    build_ledger, diff, Completeness, ItemFlag, ItemStatus, LedgerBuild, LedgerItem, LedgerPolicy,
    LedgerRead, MirrorState, RecordKind,
};
use shared::domain::owed::CreditEffect;
use shared::domain::setup::{AccountId, OrgId};
use shared::domain::Money;
use shared::services::classification::{apply_to_record, map_event};

const INVOICE: i64 = 1001;
const INVOICE_VOUCHER: i64 = 9001;
const NUMBER: &str = "10023";

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn num(ore: i64) -> Value {
    Value::Number(
        Decimal::new(ore, 2)
            .normalize()
            .to_string()
            .parse()
            .unwrap(),
    )
}

/// One credit on the invoice, as an accountant books it.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    /// A bank payment (INCOMING_PAYMENT, 1920).
    Payment,
    /// A credit note crediting the invoice.
    CreditNote,
    /// A credit note whose voucher text speaks of a loss: held for a person.
    HeldCreditNote,
    /// «Tap på fordring …», 7830.
    WriteOff,
    /// «Ompostering til riktig kunde», 1500: nobody can tell.
    Undecided,
    /// A payment whose voucher a later voucher reverses.
    ReversedPayment,
    /// A write-off whose voucher a later voucher reverses.
    ReversedWriteOff,
}

impl Kind {
    fn classified(self) -> CreditKind {
        match self {
            Kind::Payment | Kind::ReversedPayment => CreditKind::Payment,
            Kind::CreditNote | Kind::HeldCreditNote => CreditKind::CreditNote,
            Kind::WriteOff | Kind::ReversedWriteOff => CreditKind::WriteOff,
            Kind::Undecided => CreditKind::Unknown,
        }
    }

    fn reversed(self) -> bool {
        matches!(self, Kind::ReversedPayment | Kind::ReversedWriteOff)
    }
}

/// What the invoice's `amountOutstanding` says.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Shown {
    /// The balance the credits leave (Tripletex matched everything).
    Matching,
    /// The principal: nothing was matched to the invoice.
    Principal,
    /// Zero: settled by hand.
    Zero,
    /// Anything.
    Other(i64),
    /// Not sent: the postings' balance is all there is.
    Absent,
}

#[derive(Debug, Clone)]
struct Case {
    principal: i64,
    credits: Vec<(Kind, i64)>,
    invoice_reversed: bool,
    shown: Shown,
}

impl Case {
    /// Principal less every credit that is not reversed (a reversal of the invoice credits the
    /// principal too): what Tripletex shows when it matched everything.
    fn balance(&self) -> i64 {
        let credits: i64 = self
            .credits
            .iter()
            .filter(|(k, _)| !k.reversed())
            .map(|(_, a)| a)
            .sum();
        let reversal = if self.invoice_reversed {
            self.principal
        } else {
            0
        };
        self.principal - credits - reversal
    }

    fn outstanding(&self) -> Option<i64> {
        match self.shown {
            Shown::Matching => Some(self.balance()),
            Shown::Principal => Some(self.principal),
            Shown::Zero => Some(0),
            Shown::Other(o) => Some(o),
            Shown::Absent => None,
        }
    }

    /// Tripletex's read: the invoice (and its credit notes), the customer-ledger postings and the
    /// credits' vouchers. `with_credits = false`: the invoice as first synced, before any credit.
    fn read(&self, with_credits: bool) -> LedgerRead {
        let p = self.principal;
        let mut invoice = json!({
            "id": INVOICE, "version": 1, "invoiceNumber": NUMBER.parse::<i64>().unwrap(),
            "invoiceDate": "2026-03-02", "invoiceDueDate": "2026-03-16", "kid": "0010023007",
            "customer": {"id": 1}, "amount": num(p), "isCreditNote": false,
            "creditedInvoice": 0, "voucher": {"id": INVOICE_VOUCHER}, "currency": {"code": "NOK"}
        });
        let shown = if with_credits {
            self.outstanding()
        } else {
            Some(p)
        };
        if let Some(o) = shown {
            invoice["amountOutstanding"] = num(o);
        }
        let posting = |id: i64, date: &str, ore: i64, number: &str, voucher: Value| {
            json!({
                "id": id, "version": 1, "date": date, "description": "",
                "account": {"id": 1, "number": 1500, "name": "Kundefordringer"},
                "customer": {"id": 1}, "amount": num(ore), "amountGross": num(ore),
                "invoiceNumber": number, "termOfPayment": "2026-03-16", "voucher": voucher,
                "type": null, "closeGroup": null
            })
        };
        let voucher = |id: i64, text: &str, vtype: Value, legs: Value, reverses: Option<i64>| {
            json!({
                "id": id, "version": 1, "date": "2026-04-01", "description": text,
                "voucherType": vtype, "postings": legs,
                "reverseVoucher": reverses.map(|r| json!({"id": r}))
            })
        };
        let leg = |id: i64, account: i64, ore: i64| {
            json!({"id": id, "account": {"number": account, "name": format!("konto {account}")},
                   "amountGross": num(ore)})
        };
        let mut own = posting(
            2001,
            "2026-03-02",
            p,
            NUMBER,
            json!({"id": INVOICE_VOUCHER, "voucherType": {"id": 7, "name": "Utgående faktura"}}),
        );
        own["type"] = json!("OUTGOING_INVOICE_CUSTOMER_POSTING");
        let (mut invoices, mut postings, mut vouchers) = (vec![invoice], vec![own], vec![]);
        if with_credits {
            for (j, (kind, a)) in self.credits.iter().enumerate() {
                let j = j as i64;
                let (id, vid) = (3000 + j, 5000 + j);
                let date = (d("2026-04-01") + chrono::Days::new(j as u64)).to_string();
                let named = |n: &str| json!({"id": vid, "voucherType": {"id": 8, "name": n}});
                let manual = json!({"id": vid, "voucherType": null});
                let (mut post, text, vtype, counter) = match kind {
                    Kind::Payment | Kind::ReversedPayment => {
                        let mut q = posting(id, &date, -a, NUMBER, named("Betaling"));
                        q["type"] = json!("INCOMING_PAYMENT");
                        (q, "Innbetaling", json!({"id": 8, "name": "Betaling"}), 1920)
                    }
                    Kind::CreditNote | Kind::HeldCreditNote => {
                        let number = 20_000 + j;
                        invoices.push(json!({
                            "id": 1100 + j, "version": 1, "invoiceNumber": number,
                            "invoiceDate": date, "invoiceDueDate": date, "customer": {"id": 1},
                            "amount": num(-a), "amountOutstanding": num(0),
                            "isCreditNote": true, "creditedInvoice": INVOICE,
                            "voucher": {"id": vid}
                        }));
                        let mut q = posting(
                            id,
                            &date,
                            -a,
                            &number.to_string(),
                            named("Utgående faktura"),
                        );
                        q["type"] = json!("OUTGOING_INVOICE_CUSTOMER_POSTING");
                        let text = if *kind == Kind::HeldCreditNote {
                            "Tap, kreditnota"
                        } else {
                            "Kreditnota"
                        };
                        (q, text, json!({"id": 8, "name": "Utgående faktura"}), 3000)
                    }
                    Kind::WriteOff | Kind::ReversedWriteOff => (
                        posting(id, &date, -a, NUMBER, manual),
                        "Tap på fordring 10023",
                        json!(null),
                        7830,
                    ),
                    Kind::Undecided => (
                        posting(id, &date, -a, NUMBER, manual),
                        "Ompostering til riktig kunde",
                        json!(null),
                        1500,
                    ),
                };
                post["description"] = json!(text);
                postings.push(post);
                vouchers.push(voucher(
                    vid,
                    text,
                    vtype,
                    json!([leg(id, 1500, -a), leg(id + 100_000, counter, *a)]),
                    None,
                ));
                if kind.reversed() {
                    vouchers.push(voucher(
                        7000 + j,
                        "Tilbakeføring av bilag",
                        json!(null),
                        json!([]),
                        Some(vid),
                    ));
                }
            }
            if self.invoice_reversed {
                postings.push(posting(
                    3999,
                    "2026-05-01",
                    -p,
                    NUMBER,
                    json!({"id": 6999, "voucherType": null}),
                ));
                vouchers.push(voucher(
                    6999,
                    "Tilbakeføring av faktura 10023",
                    json!(null),
                    json!([leg(3999, 1500, -p), leg(103_999, 3000, p)]),
                    Some(INVOICE_VOUCHER),
                ));
            }
        }
        let customer = json!({
            "id": 1, "version": 1, "name": "Kunde AS", "organizationNumber": "923609016",
            "isInactive": false, "isPrivateIndividual": false, "invoicesDueIn": 14,
            "invoicesDueInType": "DAYS"
        });
        let (customers, mut q) = parse_items::<RawCustomer>(RecordKind::Customer, vec![customer]);
        let (invoices, q2) = parse_items::<RawInvoice>(RecordKind::Invoice, invoices);
        let (postings, q3) = parse_items::<RawPosting>(RecordKind::Posting, postings);
        let (vouchers, q4) = parse_items::<RawVoucher>(RecordKind::Voucher, vouchers);
        q.extend(q2);
        q.extend(q3);
        q.extend(q4);
        assert!(q.is_empty(), "{q:?}");
        LedgerRead {
            customers,
            invoices,
            postings,
            vouchers,
            quarantined: q,
        }
    }
}

fn policy() -> LedgerPolicy {
    LedgerPolicy {
        fetch_from: d("2026-01-01"),
        days_past_due: 14,
        include_saft_imported: false,
        include_null_voucher_type: false,
        default_payment_terms_days: LedgerPolicy::DEFAULT_PAYMENT_TERMS_DAYS,
        loss_accounts: Vec::new(),
    }
}

/// The first sync (the invoice alone), then the sync with the credits; every event of both goes
/// through the classification worker's mapping into the claim.
fn sync_and_classify(case: &Case) -> (LedgerBuild, ClaimRecord) {
    let today = d("2026-06-10");
    let now = Utc.with_ymd_and_hms(2026, 6, 10, 8, 0, 0).unwrap();
    let first = build_ledger(&case.read(false), &policy(), today);
    let first_diff = diff(&MirrorState::default(), &first, Completeness::Full);
    let mut state = MirrorState::default();
    state.apply(&first_diff);
    let now_read = build_ledger(&case.read(true), &policy(), today);
    let second_diff = diff(&state, &now_read, Completeness::Full);

    let claim_id = ClaimId::invoice(INVOICE).unwrap();
    let mut rec = ClaimRecord::new(
        ClaimState::new(
            OrgId::parse("org_acme").unwrap(),
            AccountId::from_suffix("01hzy3k9q7m2v8x4c6n5b1t0ra").unwrap(),
            claim_id,
        ),
        now,
    );
    for e in first_diff.events.iter().chain(&second_diff.events) {
        apply_to_record(&mut rec, e.key(), map_event(e, now), now);
    }
    (now_read, rec)
}

fn the_item(b: &LedgerBuild) -> &LedgerItem {
    b.item(&format!("inv_{INVOICE}"))
        .unwrap_or_else(|| panic!("the invoice is in the ledger: {:?}", b.skipped))
}

fn kind() -> impl Strategy<Value = Kind> {
    prop::sample::select(vec![
        Kind::Payment,
        Kind::CreditNote,
        Kind::HeldCreditNote,
        Kind::WriteOff,
        Kind::Undecided,
        Kind::ReversedPayment,
        Kind::ReversedWriteOff,
    ])
}

fn case() -> impl Strategy<Value = Case> {
    (1i64..2_000_000).prop_flat_map(|principal| {
        (
            Just(principal),
            prop::collection::vec((kind(), 1i64..=principal), 0..6),
            prop::bool::weighted(0.15),
            prop_oneof![
                Just(Shown::Matching),
                Just(Shown::Principal),
                Just(Shown::Zero),
                Just(Shown::Absent),
                (-principal..=2 * principal).prop_map(Shown::Other),
            ],
        )
            .prop_map(|(principal, credits, invoice_reversed, shown)| Case {
                principal,
                credits,
                invoice_reversed,
                shown,
            })
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// For any mix of credits, with or without a matching `amountOutstanding`:
    /// `0 ≤ owed ≤ principal − reducing credits` (beyond, a credit balance of its own), a
    /// disagreement with Tripletex is flagged with both figures and held for review, and the
    /// claim's outstanding is the ledger's owed.
    #[test]
    fn the_ledger_and_the_claim_agree_on_what_is_owed(case in case()) {
        let (b, rec) = sync_and_classify(&case);
        let i = the_item(&b);
        // The credits are what the accountant booked.
        let mut want: Vec<CreditKind> = case.credits.iter().map(|(k, _)| k.classified()).collect();
        if case.invoice_reversed {
            want.push(CreditKind::Reversal);
        }
        let got: Vec<CreditKind> = i.credits.iter().map(|c| c.preliminary_kind).collect();
        prop_assert_eq!(got, want);

        let p = Money::from_ore(case.principal);
        let booked = if case.invoice_reversed { Money::ZERO } else { p };
        let reducing = case
            .credits
            .iter()
            .filter(|(k, _)| matches!(k, Kind::Payment | Kind::CreditNote))
            .fold(Money::ZERO, |acc, (_, a)| acc + Money::from_ore(*a));
        prop_assert!(!i.owed.is_negative());
        prop_assert!(i.owed <= (booked - reducing).max(Money::ZERO));
        prop_assert_eq!(i.owed - i.credit_balance, booked - reducing);
        prop_assert!(i.owed <= p, "never more than the principal");
        prop_assert_eq!(i.has_flag(ItemFlag::CreditBalance), !i.credit_balance.is_zero());
        let written_off = case
            .credits
            .iter()
            .filter(|(k, _)| *k == Kind::WriteOff)
            .fold(Money::ZERO, |acc, (_, a)| acc + Money::from_ore(*a));
        prop_assert_eq!(i.written_off, written_off);

        // Tripletex's figure is shown, cross-checked, never summed.
        let balance = Money::from_ore(case.balance());
        match case.outstanding() {
            Some(o) => prop_assert_eq!(i.ledger_outstanding, Money::from_ore(o)),
            None => prop_assert!(i.cross_check.is_none()),
        }
        let disagree = case.outstanding().is_some_and(|o| o != case.balance());
        prop_assert_eq!(i.cross_check.is_some(), disagree);
        prop_assert_eq!(i.has_flag(ItemFlag::SourcesDisagree), disagree);
        if let Some(x) = i.cross_check {
            prop_assert_eq!(x.tripletex_outstanding, i.ledger_outstanding);
            prop_assert_eq!(x.derived_balance, balance);
            prop_assert!(i.has_flag(ItemFlag::NeedsReview));
        }
        let status = if !balance.is_zero() {
            ItemStatus::Open
        } else if !i.owed.is_zero() {
            ItemStatus::WrittenOffCandidate
        } else {
            ItemStatus::Closed
        };
        prop_assert_eq!(i.status, status);

        // The claim, from the same credits through the worker: the same figure.
        let st = &rec.state;
        prop_assert!(rec.problems.is_empty(), "{:?}", rec.problems);
        prop_assert!(rec.held.is_empty(), "{:?}", rec.held);
        prop_assert_eq!(st.amounts.outstanding, i.owed);
        prop_assert_eq!(st.amounts.principal_outstanding, i.owed);
        prop_assert_eq!(st.amounts.written_off, i.written_off);
        prop_assert_eq!(st.amounts.pending_review, i.unclassified_credits);
        prop_assert_eq!(st.amounts.ledger_balance, balance);
        prop_assert_eq!(st.status.is_collectible(), !i.owed.is_zero());
        prop_assert_eq!(rec.summary().needs_review, i.has_flag(ItemFlag::NeedsReview));
        prop_assert_eq!(
            st.review_reasons().iter().any(|r| r.code == ReviewCode::SourcesDisagree),
            disagree
        );
        // Every undecided credit of the ledger is held on the claim, and only those.
        let undecided = i.credits.iter().filter(|c| c.effect_on(i.voucher_id) == CreditEffect::Undecided).count();
        let held = st
            .review_reasons()
            .iter()
            .filter(|r| r.code == ReviewCode::CreditPendingReview)
            .count();
        prop_assert_eq!(held, undecided);
    }
}

/// The reported case: 4 200 kr written off by a manual voucher «Tapsført faktura 2003 …» that
/// was never matched, so `amountOutstanding` still says 4 200. Once, not twice.
#[test]
fn an_unmatched_write_off_is_owed_once_on_the_ledger_and_on_the_claim() {
    let case = Case {
        principal: 420_000,
        credits: vec![(Kind::WriteOff, 420_000)],
        invoice_reversed: false,
        shown: Shown::Principal,
    };
    let (b, rec) = sync_and_classify(&case);
    let i = the_item(&b);
    assert_eq!(i.ledger_outstanding.to_string(), "4200.00");
    assert_eq!(i.written_off.to_string(), "4200.00");
    assert_eq!(i.owed.to_string(), "4200.00");
    assert_eq!(i.status, ItemStatus::WrittenOffCandidate);
    assert!(i.has_flag(ItemFlag::SourcesDisagree));
    assert_eq!(rec.state.amounts.outstanding.to_string(), "4200.00");
    assert!(rec.summary().needs_review);
    let reasons = rec.state.review_reasons();
    assert_eq!(reasons[0].code, ReviewCode::SourcesDisagree, "{reasons:?}");

    // Matched in Tripletex on a later sync: the flag and the review go, what is owed stays.
    let matched = Case {
        shown: Shown::Matching,
        ..case.clone()
    };
    let today = d("2026-06-10");
    let now = Utc.with_ymd_and_hms(2026, 6, 11, 8, 0, 0).unwrap();
    let mut mirror = MirrorState::default();
    for read in [case.read(false), case.read(true)] {
        let changes = diff(
            &mirror,
            &build_ledger(&read, &policy(), today),
            Completeness::Full,
        );
        mirror.apply(&changes);
    }
    let built = build_ledger(&matched.read(true), &policy(), today);
    let i = the_item(&built);
    assert!(i.cross_check.is_none() && !i.has_flag(ItemFlag::NeedsReview));
    assert_eq!(i.owed.to_string(), "4200.00");
    let mut rec = rec;
    for e in &diff(&mirror, &built, Completeness::Full).events {
        apply_to_record(&mut rec, e.key(), map_event(e, now), now);
    }
    assert!(
        !rec.summary().needs_review,
        "{:?}",
        rec.state.review_reasons()
    );
    assert_eq!(rec.state.amounts.outstanding.to_string(), "4200.00");
}
