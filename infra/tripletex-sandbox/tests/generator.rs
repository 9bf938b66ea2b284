//! The generator on its own: determinism, counts by kind recounted from the data, invariants
//! (balanced vouchers, outstanding amounts, close groups, KIDs, organisation numbers).

use chrono::NaiveDate;
use std::collections::{BTreeMap, HashMap, HashSet};
use tripletex_sandbox::fixture::valid_org_number;
use tripletex_sandbox::generator::{
    generate, has_write_off_marker, kid_mod10, BrregStatus, GenSpec, VOUCHER_TYPE_OPENING,
};

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 20).unwrap()
}

#[test]
fn same_seed_gives_byte_identical_data_and_another_seed_does_not() {
    let spec = GenSpec::with_postings(7, 20_000).today(today());
    let a = serde_json::to_vec(&generate(&spec)).unwrap();
    let b = serde_json::to_vec(&generate(&spec)).unwrap();
    assert_eq!(a, b);
    let c =
        serde_json::to_vec(&generate(&GenSpec::with_postings(8, 20_000).today(today()))).unwrap();
    assert_ne!(a, c);
    // Explicit sizes are honoured.
    let d = generate(&GenSpec {
        seed: 1,
        customers: 40,
        invoices: 300,
        today: Some(today()),
        ..GenSpec::default()
    });
    assert_eq!(d.customers.len(), 40);
    assert_eq!(d.stats.invoices, 300);
}

#[test]
fn the_cli_form_parses() {
    let (s, company) =
        GenSpec::parse_cli("seed=7,postings=100_000,today=2026-11-20,company=2001").unwrap();
    assert_eq!(s, GenSpec::with_postings(7, 100_000).today(today()));
    assert_eq!(company, Some(2001));
    assert!(GenSpec::parse_cli("seed=x").is_err());
    assert!(GenSpec::parse_cli("colour=blue").is_err());
}

#[test]
fn counts_by_kind_match_the_data_and_invariants_hold() {
    let target = 30_000;
    let d = generate(&GenSpec::with_postings(42, target).today(today()));
    let s = &d.stats;
    eprintln!("{}", serde_json::to_string_pretty(s).unwrap());
    assert!(
        d.postings.len() >= target && d.postings.len() < target + 20,
        "{}",
        d.postings.len()
    );
    assert_eq!(s.postings, d.postings.len());
    assert_eq!(s.vouchers, d.vouchers.len());

    // Customers.
    let private: Vec<_> = d
        .customers
        .iter()
        .filter(|c| c.is_private_individual)
        .collect();
    assert_eq!(s.private_customers, private.len());
    assert!(private
        .iter()
        .all(|c| c.organization_number.is_empty() && c.brreg.is_none()));
    let business: Vec<_> = d
        .customers
        .iter()
        .filter(|c| !c.is_private_individual)
        .collect();
    assert!(business
        .iter()
        .all(|c| valid_org_number(&c.organization_number) && c.brreg.is_some()));
    let orgnrs: HashSet<_> = business.iter().map(|c| &c.organization_number).collect();
    assert_eq!(
        orgnrs.len(),
        business.len(),
        "organisation numbers are unique"
    );
    assert_eq!(
        s.inactive_customers,
        d.customers.iter().filter(|c| c.is_inactive).count()
    );
    let bankrupt = business
        .iter()
        .filter(|c| matches!(c.brreg, Some(BrregStatus::Bankrupt(_))))
        .count();
    assert_eq!(s.brreg_bankrupt, bankrupt);
    for n in [
        s.private_customers,
        s.inactive_customers,
        s.brreg_bankrupt,
        s.brreg_under_liquidation,
        s.brreg_deleted,
        s.brreg_removed,
        s.brreg_unknown,
    ] {
        assert!(n > 0, "{s:?}");
    }
    assert!(s.private_customers < s.customers / 2);

    // Every voucher balances (net amounts) and its postings are contiguous and dated like it.
    for v in &d.vouchers {
        let ps = d.voucher_postings(v);
        assert!(ps.len() >= 2);
        assert_eq!(
            ps.iter().map(|p| p.amount).sum::<i64>(),
            0,
            "voucher {} balances",
            v.id
        );
        assert!(ps.iter().all(|p| p.voucher == v.id && p.date == v.date));
        assert!(v.date < today());
    }
    // Ids ascend with dates; voucher numbers restart each year.
    assert!(d
        .postings
        .windows(2)
        .all(|w| w[0].id < w[1].id && w[0].date <= w[1].date));
    let mut per_year: BTreeMap<i32, Vec<i64>> = BTreeMap::new();
    for v in &d.vouchers {
        per_year.entry(v.year).or_default().push(v.number);
    }
    for nums in per_year.values() {
        assert_eq!(*nums, (1..=nums.len() as i64).collect::<Vec<_>>());
    }

    // Write-offs: 7830 debit + 1500 credit with the customer, on manual vouchers.
    let (mut with_marker, mut without_marker) = (0, 0);
    for v in &d.vouchers {
        let ps = d.voucher_postings(v);
        if let Some(loss) = ps.iter().find(|p| p.account_number == 7830) {
            assert!(loss.amount > 0);
            let ar = ps
                .iter()
                .find(|p| p.account_number == 1500)
                .expect("1500 leg");
            assert_eq!(ar.amount, -loss.amount);
            assert!(ar.customer.is_some());
            assert_eq!(v.voucher_type, None);
            if has_write_off_marker(&v.description) {
                with_marker += 1;
            } else {
                without_marker += 1;
            }
        }
    }
    assert_eq!(
        (with_marker, without_marker),
        (s.write_offs_with_marker, s.write_offs_without_marker)
    );
    assert!(with_marker > 0 && without_marker > 0);

    // SAF-T items: opening-balance vouchers whose customer posting has no due date and no invoice.
    let invoice_numbers: HashSet<String> = d
        .invoices
        .iter()
        .map(|i| i.invoice_number.to_string())
        .collect();
    let saft: Vec<_> = d
        .vouchers
        .iter()
        .filter(|v| v.voucher_type == Some(VOUCHER_TYPE_OPENING))
        .collect();
    assert_eq!(saft.len(), s.saft_items);
    for v in &saft {
        let ar = d
            .voucher_postings(v)
            .iter()
            .find(|p| p.account_number == 1500)
            .unwrap();
        assert_eq!(ar.term_of_payment, None);
        assert!(!invoice_numbers.contains(&ar.invoice_number));
        assert!(ar.customer.is_some());
    }
    assert!(saft
        .iter()
        .any(|v| d.voucher_postings(v)[0].invoice_number.is_empty()));
    assert!(saft
        .iter()
        .any(|v| !d.voucher_postings(v)[0].invoice_number.is_empty()));

    // Manual vouchers: voucherType null.
    assert_eq!(
        s.null_type_vouchers,
        d.vouchers
            .iter()
            .filter(|v| v.voucher_type.is_none())
            .count()
    );
    assert!(s.null_type_vouchers > s.write_offs_with_marker + s.write_offs_without_marker);

    // KID payments: 1920 debit, 1500 credit with the invoice's KID as externalRef.
    let kids: HashMap<&str, i64> = d
        .invoices
        .iter()
        .filter(|i| !i.kid.is_empty())
        .map(|i| (i.kid.as_str(), i.invoice_number))
        .collect();
    let mut kid_payments = 0;
    for p in d
        .postings
        .iter()
        .filter(|p| p.posting_type == Some("INCOMING_PAYMENT"))
    {
        kid_payments += 1;
        assert_eq!(p.account_number, 1500);
        assert_eq!(
            kids.get(p.external_ref.as_str()).map(|n| n.to_string()),
            Some(p.invoice_number.clone())
        );
        let bank = d
            .voucher_postings(d.voucher(p.voucher).unwrap())
            .iter()
            .find(|q| q.account_number == 1920)
            .unwrap();
        assert_eq!(bank.amount, -p.amount);
    }
    assert_eq!(kid_payments, s.kid_payments);
    for i in d.invoices.iter().filter(|i| !i.is_credit_note) {
        let (base, check) = i.kid.split_at(i.kid.len() - 1);
        assert_eq!(check, kid_mod10(base).to_string(), "KID {}", i.kid);
    }

    // Invoices: 1500 + 3000 + 2700; outstanding = what is left on 1500 for the invoice number;
    // credit notes point at the invoice they credit.
    let by_id: HashMap<i64, _> = d.invoices.iter().map(|i| (i.id, i)).collect();
    let mut part_paid = 0;
    for i in &d.invoices {
        let v = d.voucher(i.voucher).unwrap();
        let accounts: Vec<i64> = d
            .voucher_postings(v)
            .iter()
            .map(|p| p.account_number)
            .collect();
        assert_eq!(accounts, vec![1500, 3000, 2700]);
        if i.is_credit_note {
            let orig = by_id[&i.credited_invoice];
            assert!(orig.is_credited && !orig.is_credit_note);
            assert!(i.amount < 0 && -i.amount <= orig.amount);
            assert_eq!(i.kid, "");
            assert_eq!(i.amount_outstanding, 0);
        } else {
            assert_eq!(i.credited_invoice, 0);
            let ledger: i64 = d
                .postings
                .iter()
                .filter(|p| p.account_number == 1500 && p.customer == Some(i.customer))
                .filter(|p| {
                    p.invoice_number == i.invoice_number.to_string()
                        || d.invoices
                            .iter()
                            .any(|c| c.credited_invoice == i.id && c.voucher == p.voucher)
                })
                .map(|p| p.amount)
                .sum();
            assert_eq!(ledger, i.amount_outstanding, "invoice {}", i.invoice_number);
            let paid: Vec<i64> = i
                .postings
                .iter()
                .map(|&p| d.posting(p).unwrap())
                .filter(|p| p.description.starts_with("Innbetaling"))
                .map(|p| -p.amount)
                .collect();
            let credited: i64 = d
                .invoices
                .iter()
                .filter(|c| c.credited_invoice == i.id)
                .map(|c| -c.amount)
                .sum();
            if paid.len() >= 2 || (paid.len() == 1 && paid[0] < i.amount - credited) {
                part_paid += 1;
            }
        }
    }
    // Part-paid claims: the invoices recounted here, plus SAF-T items paid in parts.
    assert!(part_paid > 0);
    assert!(
        (part_paid..=part_paid + s.saft_items).contains(&s.part_paid_claims),
        "{part_paid} vs {}",
        s.part_paid_claims
    );
    assert!(s.credit_notes > 0 && s.invoices_without_pdf > 0 && s.manual_payments > 0);
    assert_eq!(
        s.invoices_without_pdf,
        d.invoices
            .iter()
            .filter(|i| i.document_id.is_none())
            .count()
    );

    // Closed = every customer posting of the claim carries the same close group; closed claims net
    // to zero.
    let mut groups: HashMap<i64, i64> = HashMap::new();
    for p in &d.postings {
        if let Some((g, date)) = p.close_group {
            assert_eq!(p.account_number, 1500);
            assert!(date >= p.date);
            *groups.entry(g).or_default() += p.amount;
        }
    }
    assert_eq!(groups.len(), s.close_groups);
    assert!(groups.values().all(|&sum| sum == 0));
    let open_invoices = d
        .invoices
        .iter()
        .filter(|i| i.amount_outstanding > 0)
        .count();
    assert!(open_invoices > 0 && open_invoices < d.invoices.len() / 2);
}
