//! `Money`: an amount in Norwegian kroner (NOK), always a whole number of øre.
//!
//! Backed by `rust_decimal::Decimal`; serialised as a string with two decimals ("684.66").
//! Computed amounts that are not whole øre are rounded explicitly with
//! [`Money::round_half_up`] (the rounding point is always visible in the calling code).

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Money(Decimal);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("not an amount: {0:?}")]
    Parse(String),
    #[error("an amount in NOK has at most two decimals (øre)")]
    SubOre,
    #[error("the amount is too large")]
    TooLarge,
}

impl Money {
    pub const ZERO: Money = Money(Decimal::ZERO);

    /// Exact conversion; rejects amounts with fractions of an øre.
    pub fn from_decimal(d: Decimal) -> Result<Self, MoneyError> {
        let n = d.normalize();
        if n.scale() > 2 {
            return Err(MoneyError::SubOre);
        }
        Ok(Self::normalized(n))
    }

    /// Rounds half-up (away from zero on .5) to whole øre.
    pub fn round_half_up(d: Decimal) -> Self {
        Self::normalized(d.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero))
    }

    /// Whole kroner.
    pub fn from_kroner(kr: i64) -> Self {
        Self::normalized(Decimal::from(kr))
    }

    /// From a number of øre.
    pub fn from_ore(ore: i64) -> Self {
        Self(Decimal::new(ore, 2))
    }

    fn normalized(mut d: Decimal) -> Self {
        d.rescale(2);
        Self(d)
    }

    pub fn as_decimal(&self) -> Decimal {
        self.0
    }

    /// The amount in øre (exact: the invariant is whole øre).
    pub fn to_ore(&self) -> i128 {
        let mut d = self.0;
        d.rescale(2);
        d.mantissa()
    }

    /// The amount in øre as i64, `None` if it does not fit.
    pub fn to_ore_i64(&self) -> Option<i64> {
        i64::try_from(self.to_ore()).ok()
    }

    pub fn is_zero(&self) -> bool {
        self.0.is_zero()
    }

    pub fn is_negative(&self) -> bool {
        self.0.is_sign_negative() && !self.0.is_zero()
    }

    pub fn checked_add(self, other: Money) -> Option<Money> {
        self.0.checked_add(other.0).map(Self::normalized)
    }

    pub fn checked_sub(self, other: Money) -> Option<Money> {
        self.0.checked_sub(other.0).map(Self::normalized)
    }

    pub fn max(self, other: Money) -> Money {
        if self >= other {
            self
        } else {
            other
        }
    }

    pub fn min(self, other: Money) -> Money {
        if self <= other {
            self
        } else {
            other
        }
    }
}

impl FromStr for Money {
    type Err = MoneyError;
    /// Accepts "10000", "10000.5", "10 000,50" (Norwegian decimal comma and spaces).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let cleaned: String = s
            .trim()
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '\u{a0}')
            .map(|c| if c == ',' { '.' } else { c })
            .collect();
        if cleaned.is_empty() {
            return Err(MoneyError::Parse(s.to_string()));
        }
        let d = Decimal::from_str(&cleaned).map_err(|_| MoneyError::Parse(s.to_string()))?;
        Self::from_decimal(d)
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = self.0;
        d.rescale(2);
        write!(f, "{d}")
    }
}

impl std::ops::Add for Money {
    type Output = Money;
    fn add(self, rhs: Money) -> Money {
        Money::normalized(self.0 + rhs.0)
    }
}

impl std::ops::Sub for Money {
    type Output = Money;
    fn sub(self, rhs: Money) -> Money {
        Money::normalized(self.0 - rhs.0)
    }
}

impl Serialize for Money {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// In the API: a string with two decimals, kroner (`"4200.00"`, `"-125.50"`): exact, unlike a
/// JSON number.
impl utoipa::PartialSchema for Money {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .pattern(Some(r"^-?[0-9]+\.[0-9]{2}$"))
            .description(Some("An amount in NOK with two decimals, as a string"))
            .examples([serde_json::json!("4200.00")])
            .into()
    }
}

impl utoipa::ToSchema for Money {}

impl<'de> Deserialize<'de> for Money {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Money::from_str(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn parses_and_prints_two_decimals() {
        assert_eq!("10000".parse::<Money>().unwrap().to_string(), "10000.00");
        assert_eq!("10 000,5".parse::<Money>().unwrap().to_string(), "10000.50");
        assert_eq!("0.10".parse::<Money>().unwrap().to_ore(), 10);
        assert_eq!("1.005".parse::<Money>(), Err(MoneyError::SubOre));
        assert!("abc".parse::<Money>().is_err());
        assert!("".parse::<Money>().is_err());
    }

    #[test]
    fn rounds_half_up_at_the_point_asked() {
        assert_eq!(Money::round_half_up(dec!(684.6575)).to_string(), "684.66");
        assert_eq!(Money::round_half_up(dec!(0.005)).to_string(), "0.01");
        assert_eq!(Money::round_half_up(dec!(0.00499)).to_string(), "0.00");
        assert_eq!(Money::round_half_up(dec!(-0.005)).to_string(), "-0.01");
    }

    #[test]
    fn serde_is_a_string() {
        let m = Money::from_ore(68466);
        assert_eq!(serde_json::to_string(&m).unwrap(), "\"684.66\"");
        let back: Money = serde_json::from_str("\"684.66\"").unwrap();
        assert_eq!(back, m);
        assert!(serde_json::from_str::<Money>("\"1.234\"").is_err());
        assert_eq!(
            Money::from_kroner(38) + Money::from_ore(50),
            Money::from_ore(3850)
        );
    }
}
