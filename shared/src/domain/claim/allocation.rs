//! How payments are split between principal, fees and interest: the account's allocation rule,
//! applied once, where the claim's amounts are computed ([`super::ClaimAmounts::compute`]).
//!
//! Two rules (the account chooses; `docs/vouchers.md` gives the reasoning and the legal standing):
//!
//! - [`AllocationRule::PrincipalFirst`] (the default): a payment goes to the principal, then to
//!   fees, then to interest. It is how Tripletex books a payment against an invoice.
//! - [`AllocationRule::CostsFirst`]: costs (fees) → interest → principal, the customary order of
//!   Norwegian collection practice (and of the Civil Procedure Act for enforced claims).
//!
//! The split is computed **in ledger order**: a payment can only pay charges demanded on or before
//! its date (a payment made before the letter cannot pay the letter's fee). Money paid beyond
//! everything owed at its date is carried: charges demanded later take it first (fees, then
//! interest), under either rule, as a creditor sets off a balance it holds. On one day, payments
//! come before the charges of that day (the payment was on its way before the letter went out).
//!
//! At full settlement both rules pay the same totals (all of principal, fees and interest); they
//! differ in what is outstanding along the way (under costs-first the principal stays larger, and
//! interest runs on it), in the split of each payment, and so in what a letter says is left.
//!
//! Pure: no clock, no floats.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::ClaimError;
use crate::domain::money::Money;

/// The order a payment covers what is owed.
#[derive(
    utoipa::ToSchema, Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "camelCase")]
pub enum AllocationRule {
    /// Principal → fees → interest (Tripletex's own booking of a payment against an invoice).
    #[default]
    PrincipalFirst,
    /// Fees → interest → principal (the customary order of collection).
    CostsFirst,
}

impl AllocationRule {
    pub fn as_str(self) -> &'static str {
        match self {
            AllocationRule::PrincipalFirst => "principalFirst",
            AllocationRule::CostsFirst => "costsFirst",
        }
    }
}

/// One payment as the allocation sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PaymentPart {
    pub date: NaiveDate,
    pub voucher_id: i64,
    pub posting_id: i64,
    pub amount: Money,
}

/// Charges demanded on a day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChargePart {
    pub date: NaiveDate,
    pub fees: Money,
    pub interest: Money,
}

/// How one payment was split.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AllocationLine {
    pub date: NaiveDate,
    pub posting_id: i64,
    pub amount: Money,
    pub principal: Money,
    pub fees: Money,
    pub interest: Money,
    /// Not needed for anything owed (yet): the debtor's credit balance.
    pub excess: Money,
}

/// The split of every payment, and what is left owing.
#[derive(utoipa::ToSchema, Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Allocation {
    pub rule: AllocationRule,
    /// One line per payment, in ledger order (date, voucher, posting).
    pub lines: Vec<AllocationLine>,
    pub principal_paid: Money,
    pub fees_paid: Money,
    pub interest_paid: Money,
    /// Paid beyond everything owed.
    pub excess: Money,
    pub principal_outstanding: Money,
    pub fees_outstanding: Money,
    pub interest_outstanding: Money,
}

enum Step {
    Pay(PaymentPart),
    Charge(ChargePart),
}

/// Splits `payments` between `principal` (net of credit notes) and the `charges` by `rule`, in
/// ledger order. The payments' and charges' order in the slices does not matter.
pub fn allocate(
    rule: AllocationRule,
    principal: Money,
    payments: &[PaymentPart],
    charges: &[ChargePart],
) -> Result<Allocation, ClaimError> {
    let add = |a: Money, b: Money| a.checked_add(b).ok_or(ClaimError::Overflow);
    let sub = |a: Money, b: Money| a.checked_sub(b).ok_or(ClaimError::Overflow);

    let mut steps: Vec<(NaiveDate, u8, i64, i64, Step)> = Vec::new();
    for p in payments {
        steps.push((p.date, 0, p.voucher_id, p.posting_id, Step::Pay(*p)));
    }
    for (i, c) in charges.iter().enumerate() {
        steps.push((c.date, 1, i as i64, 0, Step::Charge(*c)));
    }
    steps.sort_by_key(|(d, kind, a, b, _)| (*d, *kind, *a, *b));

    let mut out = Allocation {
        rule,
        principal_outstanding: principal.max(Money::ZERO),
        ..Allocation::default()
    };
    // Money paid beyond what was owed at its date, by line, oldest first.
    let mut carried: Vec<(usize, Money)> = Vec::new();

    for (_, _, _, _, step) in steps {
        match step {
            Step::Pay(p) => {
                let mut left = p.amount;
                let mut line = AllocationLine {
                    date: p.date,
                    posting_id: p.posting_id,
                    amount: p.amount,
                    principal: Money::ZERO,
                    fees: Money::ZERO,
                    interest: Money::ZERO,
                    excess: Money::ZERO,
                };
                let mut take = |owed: &mut Money, paid: &mut Money| -> Result<(), ClaimError> {
                    let t = left.min(*owed).max(Money::ZERO);
                    left = sub(left, t)?;
                    *owed = sub(*owed, t)?;
                    *paid = add(*paid, t)?;
                    Ok(())
                };
                match rule {
                    AllocationRule::PrincipalFirst => {
                        take(&mut out.principal_outstanding, &mut line.principal)?;
                        take(&mut out.fees_outstanding, &mut line.fees)?;
                        take(&mut out.interest_outstanding, &mut line.interest)?;
                    }
                    AllocationRule::CostsFirst => {
                        take(&mut out.fees_outstanding, &mut line.fees)?;
                        take(&mut out.interest_outstanding, &mut line.interest)?;
                        take(&mut out.principal_outstanding, &mut line.principal)?;
                    }
                }
                line.excess = left;
                if !left.is_zero() {
                    carried.push((out.lines.len(), left));
                }
                out.lines.push(line);
            }
            Step::Charge(c) => {
                out.fees_outstanding = add(out.fees_outstanding, c.fees)?;
                out.interest_outstanding = add(out.interest_outstanding, c.interest)?;
                // A balance the debtor has with us pays new charges first: fees, then interest.
                for (idx, amount) in carried.iter_mut() {
                    for fees in [true, false] {
                        let owed = if fees {
                            &mut out.fees_outstanding
                        } else {
                            &mut out.interest_outstanding
                        };
                        let t = (*amount).min(*owed);
                        if t.is_zero() {
                            continue;
                        }
                        *amount = sub(*amount, t)?;
                        *owed = sub(*owed, t)?;
                        let line = &mut out.lines[*idx];
                        line.excess = sub(line.excess, t)?;
                        if fees {
                            line.fees = add(line.fees, t)?;
                        } else {
                            line.interest = add(line.interest, t)?;
                        }
                    }
                }
                carried.retain(|(_, a)| !a.is_zero());
            }
        }
    }
    for l in &out.lines {
        out.principal_paid = add(out.principal_paid, l.principal)?;
        out.fees_paid = add(out.fees_paid, l.fees)?;
        out.interest_paid = add(out.interest_paid, l.interest)?;
        out.excess = add(out.excess, l.excess)?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn d(day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 7, day).unwrap()
    }
    fn m(s: &str) -> Money {
        s.parse().unwrap()
    }
    fn pay(day: u32, id: i64, amount: &str) -> PaymentPart {
        PaymentPart {
            date: d(day),
            voucher_id: id,
            posting_id: id,
            amount: m(amount),
        }
    }
    fn charge(day: u32, fees: &str, interest: &str) -> ChargePart {
        ChargePart {
            date: d(day),
            fees: m(fees),
            interest: m(interest),
        }
    }

    #[test]
    fn principal_first_pays_the_principal_before_any_charge() {
        let a = allocate(
            AllocationRule::PrincipalFirst,
            m("10000"),
            &[pay(20, 1, "5000")],
            &[charge(10, "35", "41.10")],
        )
        .unwrap();
        assert_eq!(a.lines[0].principal, m("5000"));
        assert_eq!(a.principal_outstanding, m("5000"));
        assert_eq!(a.fees_outstanding, m("35"));
        assert_eq!(a.interest_outstanding, m("41.10"));
    }

    #[test]
    fn costs_first_pays_fees_then_interest_then_principal() {
        let a = allocate(
            AllocationRule::CostsFirst,
            m("10000"),
            &[pay(20, 1, "50"), pay(21, 2, "5000")],
            &[charge(10, "35", "41.10")],
        )
        .unwrap();
        assert_eq!(
            (a.lines[0].fees, a.lines[0].interest, a.lines[0].principal),
            (m("35"), m("15"), m("0"))
        );
        assert_eq!(
            (a.lines[1].fees, a.lines[1].interest, a.lines[1].principal),
            (m("0"), m("26.10"), m("4973.90"))
        );
        assert_eq!(a.principal_outstanding, m("5026.10"));
        assert_eq!(a.fees_outstanding + a.interest_outstanding, m("0"));
    }

    #[test]
    fn a_payment_before_the_letter_cannot_pay_the_letters_charges() {
        let a = allocate(
            AllocationRule::CostsFirst,
            m("10000"),
            &[pay(5, 1, "5000"), pay(30, 2, "5076.10")],
            &[charge(20, "35", "41.10")],
        )
        .unwrap();
        assert_eq!(a.lines[0].principal, m("5000"));
        assert_eq!(a.lines[1].fees, m("35"));
        assert_eq!(a.lines[1].interest, m("41.10"));
        assert_eq!(a.lines[1].principal, m("5000"));
        assert_eq!(a.excess, m("0"));
    }

    #[test]
    fn an_earlier_overpayment_pays_later_charges() {
        let a = allocate(
            AllocationRule::PrincipalFirst,
            m("1000"),
            &[pay(5, 1, "1100")],
            &[charge(20, "35", "41.10")],
        )
        .unwrap();
        assert_eq!(a.lines[0].fees, m("35"));
        assert_eq!(a.lines[0].interest, m("41.10"));
        assert_eq!(a.excess, m("23.90"));
        assert_eq!(a.lines[0].excess, m("23.90"));
    }

    fn amount() -> impl Strategy<Value = Money> {
        (0i64..2_000_000).prop_map(|o| Money::from_ore(o))
    }

    proptest! {
        /// Every øre paid lands in exactly one place; both rules pay the same totals once all is
        /// paid, and nothing is outstanding below zero.
        #[test]
        fn allocation_sums(principal in amount(),
                           pays in prop::collection::vec((1u32..28, amount()), 0..6),
                           charges in prop::collection::vec((1u32..28, amount(), amount()), 0..4)) {
            let payments: Vec<PaymentPart> = pays.iter().enumerate()
                .map(|(i, (day, a))| PaymentPart { date: d(*day), voucher_id: i as i64, posting_id: i as i64, amount: *a })
                .collect();
            let charges: Vec<ChargePart> = charges.iter()
                .map(|(day, f, i)| ChargePart { date: d(*day), fees: *f, interest: *i })
                .collect();
            let paid = payments.iter().fold(Money::ZERO, |a, p| a + p.amount);
            let fees = charges.iter().fold(Money::ZERO, |a, c| a + c.fees);
            let interest = charges.iter().fold(Money::ZERO, |a, c| a + c.interest);
            let mut totals = Vec::new();
            for rule in [AllocationRule::PrincipalFirst, AllocationRule::CostsFirst] {
                let a = allocate(rule, principal, &payments, &charges).unwrap();
                for l in &a.lines {
                    prop_assert_eq!(l.principal + l.fees + l.interest + l.excess, l.amount);
                    prop_assert!(!l.excess.is_negative());
                }
                prop_assert_eq!(a.principal_paid + a.fees_paid + a.interest_paid + a.excess, paid);
                prop_assert_eq!(a.principal_paid + a.principal_outstanding, principal);
                prop_assert_eq!(a.fees_paid + a.fees_outstanding, fees);
                prop_assert_eq!(a.interest_paid + a.interest_outstanding, interest);
                prop_assert!(!a.principal_outstanding.is_negative());
                // Money is never both carried and owed.
                let owing = a.principal_outstanding + a.fees_outstanding + a.interest_outstanding;
                prop_assert!(a.excess.is_zero() || owing.is_zero());
                totals.push((owing, a.excess));
                if rule == AllocationRule::PrincipalFirst {
                    prop_assert_eq!(a.principal_outstanding, (principal - paid).max(Money::ZERO));
                }
            }
            // What is owed in all, and the excess, do not depend on the rule.
            prop_assert_eq!(totals[0], totals[1]);
        }
    }
}
