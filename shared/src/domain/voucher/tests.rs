use super::*;
use proptest::prelude::*;

fn acc(id: i64, number: u32) -> LedgerAccount {
    LedgerAccount {
        id,
        number,
        name: String::new(),
        vat_locked: false,
        vat_type_id: None,
    }
}

fn accounts() -> VoucherAccounts {
    VoucherAccounts {
        receivables: acc(1, 1500),
        interest_income: acc(2, 8055),
        fee_income: acc(3, 3900),
        recovery: acc(4, 7820),
        no_vat_type_id: Some(6),
    }
}

fn m(s: &str) -> Money {
    s.parse().unwrap()
}

fn amounts(principal: &str, interest: &str, fees: &str, recovered: &str) -> SettlementAmounts {
    SettlementAmounts {
        principal: m(principal),
        interest: m(interest),
        fees: m(fees),
        recovered: m(recovered),
        excess: Money::ZERO,
    }
}

const KEY: &str = "settle:acc_0192f0c4a1b27f3e8c1d2e3f4a5b6c7d:inv_1001:1";

fn date() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 8, 1).unwrap()
}

#[test]
fn income_voucher_moves_the_overpayment_to_interest_and_fee_income_without_vat() {
    let claim = ClaimId::invoice(1001).unwrap();
    let a = amounts("10000", "154.11", "35", "0");
    let s = SettlementRef {
        key: KEY,
        claim_id: &claim,
        settlement_version: 1,
        customer_id: 77,
        invoice_number: Some("10023"),
        amounts: &a,
    };
    let v = build(
        &s,
        &accounts(),
        &VoucherPattern::PaymentOnReceivables,
        date(),
    )
    .unwrap()
    .unwrap();
    assert_eq!(
        v.description,
        "Renter og gebyrer, faktura 10023 (Inndrive sak case_inv_1001)"
    );
    let rows: Vec<(u32, u32, Money, Option<i64>, Option<&str>, Option<i64>)> = v
        .postings
        .iter()
        .map(|p| {
            (
                p.row,
                p.account.number,
                p.amount,
                p.customer_id,
                p.invoice_number.as_deref(),
                p.vat_type_id,
            )
        })
        .collect();
    assert_eq!(
        rows,
        vec![
            (1, 1500, m("189.11"), Some(77), Some("10023"), None),
            (2, 8055, m("-154.11"), None, None, Some(6)),
            (3, 3900, m("-35"), None, None, Some(6)),
        ]
    );
    assert_eq!(v.receivables_row().unwrap().row, 1);
    assert!(v.external_voucher_number.len() <= MAX_EXTERNAL_NUMBER);
    assert!(v
        .external_voucher_number
        .starts_with("inndrive-inv_1001-v1-"));
}

#[test]
fn a_recovery_is_booked_on_the_recovery_account_with_the_charges() {
    let claim = ClaimId::invoice(1001).unwrap();
    let a = amounts("10000", "41.10", "35", "10000");
    let s = SettlementRef {
        key: KEY,
        claim_id: &claim,
        settlement_version: 1,
        customer_id: 77,
        invoice_number: Some("10023"),
        amounts: &a,
    };
    let v = build(
        &s,
        &accounts(),
        &VoucherPattern::PaymentOnReceivables,
        date(),
    )
    .unwrap()
    .unwrap();
    assert!(v
        .description
        .starts_with("Innkommet på nedskrevet fordring, renter og gebyrer, faktura 10023"));
    let by_number: Vec<(u32, Money)> = v
        .postings
        .iter()
        .map(|p| (p.account.number, p.amount))
        .collect();
    assert_eq!(
        by_number,
        vec![
            (1500, m("10076.10")),
            (8055, m("-41.10")),
            (3900, m("-35")),
            (7820, m("-10000")),
        ]
    );
}

#[test]
fn without_the_payment_in_tripletex_the_bank_is_debited_and_receivables_credited() {
    let claim = ClaimId::invoice(1001).unwrap();
    let a = amounts("10000", "41.10", "35", "0");
    let s = SettlementRef {
        key: KEY,
        claim_id: &claim,
        settlement_version: 1,
        customer_id: 77,
        invoice_number: Some("10023"),
        amounts: &a,
    };
    let v = build(
        &s,
        &accounts(),
        &VoucherPattern::PaymentNotInTripletex { bank: acc(9, 1920) },
        date(),
    )
    .unwrap()
    .unwrap();
    let rows: Vec<(u32, Money, Option<i64>)> = v
        .postings
        .iter()
        .map(|p| (p.account.number, p.amount, p.customer_id))
        .collect();
    assert_eq!(
        rows,
        vec![
            (1920, m("10076.10"), None),
            (1500, m("-10000"), Some(77)),
            (8055, m("-41.10"), None),
            (3900, m("-35"), None),
        ]
    );
}

#[test]
fn a_vat_locked_income_account_gets_its_own_code_and_nothing_to_book_is_none() {
    let claim = ClaimId::invoice(1001).unwrap();
    let mut accs = accounts();
    accs.fee_income.vat_locked = true;
    accs.fee_income.vat_type_id = Some(5);
    let a = amounts("10000", "0", "35", "0");
    let s = SettlementRef {
        key: KEY,
        claim_id: &claim,
        settlement_version: 1,
        customer_id: 77,
        invoice_number: None,
        amounts: &a,
    };
    let v = build(&s, &accs, &VoucherPattern::PaymentOnReceivables, date())
        .unwrap()
        .unwrap();
    assert_eq!(v.postings[1].vat_type_id, Some(5));
    assert_eq!(
        v.description,
        "Gebyrer, post inv_1001 (Inndrive sak case_inv_1001)"
    );
    let none = amounts("10000", "0", "0", "0");
    let s = SettlementRef {
        amounts: &none,
        ..s
    };
    assert_eq!(
        build(&s, &accs, &VoucherPattern::PaymentOnReceivables, date()).unwrap(),
        None
    );
}

#[test]
fn the_external_number_is_deterministic_short_and_names_the_account() {
    let claim = ClaimId::open_item(9_223_372_036_854_775_807).unwrap();
    let a = external_voucher_number(KEY, &claim, u32::MAX);
    assert_eq!(a, external_voucher_number(KEY, &claim, u32::MAX));
    assert!(a.len() <= MAX_EXTERNAL_NUMBER, "{a} is {}", a.len());
    let other_account = KEY.replace("acc_0192", "acc_0193");
    assert_ne!(a, external_voucher_number(&other_account, &claim, u32::MAX));
}

#[test]
fn tripletex_refusals_map_to_held_reasons() {
    let v = |f: &str, m: &str| vec![(f.to_string(), m.to_string())];
    assert_eq!(
        refusal_reason(
            422,
            "Validering feilet.",
            &v("postings.customer.id", "Kunde mangler"),
            None
        ),
        HeldReason::CustomerMissing
    );
    assert_eq!(
        refusal_reason(
            422,
            "Validering feilet.",
            &v(
                "postings",
                "Summen av posteringene for 2026-08-01 er ikke lik 0"
            ),
            None
        ),
        HeldReason::Unbalanced
    );
    assert_eq!(
        refusal_reason(
            422,
            "Validering feilet.",
            &v("date", "Perioden 2026-08 er låst for bilagsføring."),
            None
        ),
        HeldReason::PeriodLocked
    );
    assert_eq!(
        refusal_reason(403, "Du har ikke tilgang", &[], None),
        HeldReason::PermissionMissing
    );
    let claim = ClaimId::invoice(1001).unwrap();
    let a = amounts("10000", "41.10", "35", "0");
    let s = SettlementRef {
        key: KEY,
        claim_id: &claim,
        settlement_version: 1,
        customer_id: 77,
        invoice_number: Some("10023"),
        amounts: &a,
    };
    let draft = build(
        &s,
        &accounts(),
        &VoucherPattern::PaymentOnReceivables,
        date(),
    )
    .unwrap()
    .unwrap();
    assert_eq!(
        refusal_reason(
            422,
            "Validering feilet.",
            &v("postings[2].account.id", "Kontoen finnes ikke."),
            Some(&draft)
        ),
        HeldReason::AccountMissing {
            field: "feeIncomeAccount".into()
        }
    );
    assert_eq!(
        refusal_reason(
            422,
            "Validering feilet.",
            &v("postings[1].vatType.id", "Kontoen er låst til mva-kode 3."),
            Some(&draft)
        ),
        HeldReason::VatLocked {
            field: "interestIncomeAccount".into()
        }
    );
    assert_eq!(
        refusal_reason(422, "Noe annet", &[], None),
        HeldReason::Refused
    );
    for r in [
        HeldReason::PeriodLocked,
        HeldReason::PermissionMissing,
        HeldReason::FeeAccountNotChosen,
    ] {
        assert!(!r.no().is_empty() && !r.en().is_empty());
    }
    assert!(HeldReason::PeriodLocked
        .no()
        .starts_with("Perioden er låst: åpne perioden i Tripletex eller velg en annen dato"));
}

fn money() -> impl Strategy<Value = Money> {
    (0i64..100_000_000).prop_map(Money::from_ore)
}

proptest! {
    /// Whatever the amounts and the pattern, the voucher balances, its rows are 1..n, no line is
    /// zero, and the receivables line carries the customer.
    #[test]
    fn the_voucher_always_balances(principal in money(), interest in money(), fees in money(),
                                   recovered in money(), bank in any::<bool>()) {
        let claim = ClaimId::invoice(1001).unwrap();
        let a = SettlementAmounts { principal, interest, fees, recovered: recovered.min(principal), excess: Money::ZERO };
        let s = SettlementRef { key: KEY, claim_id: &claim, settlement_version: 3, customer_id: 77,
                                invoice_number: Some("10023"), amounts: &a };
        let pattern = if bank {
            VoucherPattern::PaymentNotInTripletex { bank: acc(9, 1920) }
        } else {
            VoucherPattern::PaymentOnReceivables
        };
        match build(&s, &accounts(), &pattern, date()).unwrap() {
            None => prop_assert!(!has_income(&a)),
            Some(v) => {
                prop_assert!(v.check().is_ok());
                let sum = v.postings.iter().fold(Money::ZERO, |acc, p| acc + p.amount);
                prop_assert_eq!(sum, Money::ZERO);
                let income: Money = v.postings.iter()
                    .filter(|p| matches!(p.role, LineRole::InterestIncome | LineRole::FeeIncome | LineRole::Recovery))
                    .fold(Money::ZERO, |acc, p| acc - p.amount);
                prop_assert_eq!(income, a.interest + a.fees + a.recovered);
            }
        }
    }
}
