//! What the debtor still owes on one claim: one figure, derived in one place.
//!
//! Tripletex has three views of an invoice that do not always agree: the invoice's own
//! `amountOutstanding`, the open postings (`openPost`, close groups) and the credit postings on
//! the customer ledger. SAF-T imports, manual vouchers never matched to the invoice and close
//! groups set by hand make them drift apart: a manual write-off voucher nets the postings to zero
//! while the invoice's `amountOutstanding` still shows the full amount. Adding a write-off to such
//! a figure demands the claim twice.
//!
//! So what is owed is never read from Tripletex's figure, nor summed with it. [`derive`] computes
//! it from the principal less the credits that reduce it (payments, credit notes; a reversal of
//! the invoice itself cancels the principal), never below zero; money beyond the principal is a credit balance of its own. A write-off never
//! reduces what is owed, an undecided credit does not until a person decides, a reversed credit
//! counts for nothing. Tripletex's figure is only a cross-check ([`CrossCheck::between`]): the
//! balance the credits imply is what Tripletex should show; when it shows something else the two
//! sources disagree and a person must look.
//!
//! The mirrored ledger item (`ledger::LedgerItem`) and the claim (`claim::ClaimAmounts`) both call
//! [`derive`], so the ledger view and the claim cannot disagree about what is owed for the same
//! credits. Pure: no clock, no I/O, no floats.

use serde::{Deserialize, Serialize};

use super::classify::CreditKind;
use super::money::Money;

/// How one credit (or one part of it) counts toward what is owed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CreditEffect {
    /// A payment or credit note: reduces what is owed. (A reversal of the claim's own voucher
    /// cancels the principal instead: see [`CreditEffect::of_classified`].)
    Reduces,
    /// A loss write-off in the accounts: the debt stands, what is owed is unchanged.
    WritesOff,
    /// Not decided (unknown kind, or held for a person): reduces nothing until decided.
    Undecided,
    /// Undone by a later reversal, or placed elsewhere by a person: counts for nothing, not even
    /// in the balance Tripletex should show (the reversing voucher cancels it there).
    Void,
}

impl CreditEffect {
    /// The effect of a credit as the classifier sees it (`classify::classify`): a credit a
    /// person must look at is undecided, whatever its kind; payments and credit notes reduce,
    /// write-offs write off, unknown credits are undecided. The ledger and the claim use this one
    /// mapping, so a payment with a review flag is held on both sides.
    ///
    /// A reversal is not a credit of its own on the claim: a reversal of the claim's own voucher
    /// cancels the principal (the caller derives from a principal of zero and voids the reversing
    /// credit), one of a credit's voucher voids that credit. Any other reversal is undecided here,
    /// as the claim holds it until it sees the voucher it reverses.
    pub fn of_classified(kind: CreditKind, needs_review: bool) -> Self {
        match kind {
            _ if needs_review => CreditEffect::Undecided,
            CreditKind::Payment | CreditKind::CreditNote => CreditEffect::Reduces,
            CreditKind::WriteOff => CreditEffect::WritesOff,
            CreditKind::Reversal | CreditKind::Unknown => CreditEffect::Undecided,
        }
    }
}

/// What is owed on a claim, and the sums it comes from. All amounts positive except
/// `expected_balance`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Owed {
    /// What was booked: the invoice amount (zero when the invoice itself was reversed).
    pub principal: Money,
    /// Payments, credit notes and reversals.
    pub reducing: Money,
    /// Write-offs in the accounts; they do not reduce what is owed.
    pub written_off: Money,
    /// Credits not decided yet; they do not reduce what is owed.
    pub undecided: Money,
    /// `max(principal − reducing, 0)`: what the debtor still owes.
    pub owed: Money,
    /// `max(reducing − principal, 0)`: paid or credited beyond the principal (to refund or
    /// place). At most one of `owed` and `credit_balance` is non-zero.
    pub credit_balance: Money,
    /// `principal − every credit that is not void`: the balance Tripletex should show for the
    /// item on the customer ledger (a write-off nets it to zero there). May be negative.
    pub expected_balance: Money,
}

/// The amounts are too large to add up (beyond `rust_decimal`'s range).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the amounts are too large to add up")]
pub struct OwedOverflow;

/// What is owed on a claim of `principal`, given its credits, each with its effect and its
/// amount (positive: how much the credit reduces the customer ledger; a credit split between a
/// payment and a write-off is given as two parts). The order of the credits does not matter.
pub fn derive(
    principal: Money,
    credits: impl IntoIterator<Item = (CreditEffect, Money)>,
) -> Result<Owed, OwedOverflow> {
    let add = |a: Money, b: Money| a.checked_add(b).ok_or(OwedOverflow);
    let (mut reducing, mut written_off, mut undecided) = (Money::ZERO, Money::ZERO, Money::ZERO);
    for (effect, amount) in credits {
        match effect {
            CreditEffect::Reduces => reducing = add(reducing, amount)?,
            CreditEffect::WritesOff => written_off = add(written_off, amount)?,
            CreditEffect::Undecided => undecided = add(undecided, amount)?,
            CreditEffect::Void => {}
        }
    }
    let net = principal.checked_sub(reducing).ok_or(OwedOverflow)?;
    let expected_balance = net
        .checked_sub(add(written_off, undecided)?)
        .ok_or(OwedOverflow)?;
    Ok(Owed {
        principal,
        reducing,
        written_off,
        undecided,
        owed: net.max(Money::ZERO),
        credit_balance: Money::ZERO
            .checked_sub(net)
            .ok_or(OwedOverflow)?
            .max(Money::ZERO),
        expected_balance,
    })
}

/// Tripletex's own figure for an item and the balance its credits imply, kept when the two
/// disagree. Neither is what is owed (that is [`Owed::owed`]); a person decides which source is
/// wrong (typically: a write-off or payment voucher was never matched to the invoice).
#[derive(utoipa::ToSchema, Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CrossCheck {
    /// What Tripletex shows outstanding (`amountOutstanding`, or zero for postings closed in a
    /// close group).
    pub tripletex_outstanding: Money,
    /// [`Owed::expected_balance`]: the principal less every credit that is not void.
    pub derived_balance: Money,
}

impl CrossCheck {
    /// `Some` when Tripletex's figure is not the balance the credits imply.
    pub fn between(tripletex_outstanding: Money, owed: &Owed) -> Option<Self> {
        (tripletex_outstanding != owed.expected_balance).then_some(Self {
            tripletex_outstanding,
            derived_balance: owed.expected_balance,
        })
    }

    /// For the user and the operator (English; the amounts are Tripletex ledger data).
    pub fn explain(&self, owed: Money) -> String {
        format!(
            "Tripletex shows {} outstanding, but the credits on the customer ledger leave {}: \
             the two sources disagree (typically a payment or write-off voucher that was never \
             matched to the invoice). What is owed ({owed}) is taken from the credits; check the \
             matching in Tripletex.",
            self.tripletex_outstanding, self.derived_balance
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn kr(n: i64) -> Money {
        Money::from_kroner(n)
    }

    #[test]
    fn a_write_off_never_reduces_what_is_owed() {
        let o = derive(kr(4200), [(CreditEffect::WritesOff, kr(4200))]).unwrap();
        assert_eq!(o.owed, kr(4200));
        assert_eq!(o.written_off, kr(4200));
        assert_eq!(
            o.expected_balance,
            Money::ZERO,
            "Tripletex shows it settled"
        );
        assert_eq!(o.credit_balance, Money::ZERO);
        // Tripletex still showing the invoice's 4 200 is a disagreement, not 8 400 owed.
        let x = CrossCheck::between(kr(4200), &o).expect("the sources disagree");
        assert_eq!(
            (x.tripletex_outstanding, x.derived_balance),
            (kr(4200), Money::ZERO)
        );
        assert!(
            x.explain(o.owed).contains("4200.00"),
            "{}",
            x.explain(o.owed)
        );
        assert_eq!(CrossCheck::between(Money::ZERO, &o), None);
    }

    #[test]
    fn payments_reduce_undecided_credits_wait_and_void_ones_count_for_nothing() {
        let o = derive(
            kr(10_000),
            [
                (CreditEffect::Reduces, kr(3000)),
                (CreditEffect::Undecided, kr(2000)),
                (CreditEffect::Void, kr(5000)),
                (CreditEffect::WritesOff, kr(1000)),
            ],
        )
        .unwrap();
        assert_eq!(o.owed, kr(7000));
        assert_eq!(o.undecided, kr(2000));
        assert_eq!(o.expected_balance, kr(4000));
    }

    #[test]
    fn money_beyond_the_principal_is_a_credit_balance_not_a_negative_debt() {
        let o = derive(kr(1000), [(CreditEffect::Reduces, kr(1200))]).unwrap();
        assert_eq!(o.owed, Money::ZERO);
        assert_eq!(o.credit_balance, kr(200));
        assert_eq!(o.expected_balance, kr(-200));
    }

    #[test]
    fn the_effect_of_a_classified_credit() {
        use CreditEffect as E;
        use CreditKind as K;
        for (kind, review, effect) in [
            (K::Payment, false, E::Reduces),
            (K::Payment, true, E::Undecided),
            (K::CreditNote, false, E::Reduces),
            (K::WriteOff, false, E::WritesOff),
            (K::WriteOff, true, E::Undecided),
            (K::Reversal, false, E::Undecided),
            (K::Reversal, true, E::Undecided),
            (K::Unknown, true, E::Undecided),
        ] {
            assert_eq!(
                CreditEffect::of_classified(kind, review),
                effect,
                "{kind:?}"
            );
        }
    }

    #[test]
    fn amounts_beyond_the_decimal_range_are_an_error_not_a_panic() {
        let huge = Money::from_decimal(rust_decimal::Decimal::MAX).unwrap();
        assert_eq!(
            derive(
                huge,
                [
                    (CreditEffect::WritesOff, huge),
                    (CreditEffect::Undecided, huge)
                ]
            ),
            Err(OwedOverflow)
        );
    }

    fn effect() -> impl Strategy<Value = CreditEffect> {
        prop::sample::select(vec![
            CreditEffect::Reduces,
            CreditEffect::WritesOff,
            CreditEffect::Undecided,
            CreditEffect::Void,
        ])
    }

    proptest! {
        #[test]
        fn owed_is_the_principal_less_what_reduces_it_never_negative_never_order_dependent(
            principal in 0i64..10_000_000,
            credits in prop::collection::vec((effect(), 1i64..5_000_000), 0..12),
        ) {
            let p = Money::from_ore(principal);
            let cs: Vec<(CreditEffect, Money)> =
                credits.iter().map(|(e, a)| (*e, Money::from_ore(*a))).collect();
            let o = derive(p, cs.iter().copied()).unwrap();
            let sum = |want: CreditEffect| cs.iter()
                .filter(|(e, _)| *e == want)
                .fold(Money::ZERO, |acc, (_, a)| acc + *a);
            prop_assert_eq!(o.reducing, sum(CreditEffect::Reduces));
            prop_assert_eq!(o.written_off, sum(CreditEffect::WritesOff));
            prop_assert_eq!(o.undecided, sum(CreditEffect::Undecided));
            prop_assert!(!o.owed.is_negative() && !o.credit_balance.is_negative());
            prop_assert!(o.owed <= p.max(Money::ZERO));
            prop_assert_eq!(o.owed - o.credit_balance, p - o.reducing);
            prop_assert!(o.owed.is_zero() || o.credit_balance.is_zero());
            prop_assert_eq!(
                o.expected_balance,
                p - o.reducing - o.written_off - o.undecided
            );
            let mut reversed = cs.clone();
            reversed.reverse();
            prop_assert_eq!(derive(p, reversed).unwrap(), o);
        }
    }
}
