//! KID (kundeidentifikasjonsnummer) for OCR giro payments, MOD10 (Luhn) or MOD11.
//!
//! Rules from Mastercard Payment Services' *Systemspesifikasjon OCR giro* as summarised in
//! shared/reference/norwegian-collection-rules.md § 7: digits only, 4–25 characters including
//! the check digit; MOD10 weights 2,1,2,1… from the right with digit sums of the products;
//! MOD11 weights 2,3,4,5,6,7,2,3… from the right, remainder 0 → check 0, remainder 1 → check
//! "10", written as '-' (minus).

use serde::{Deserialize, Serialize};
use std::fmt;

pub const KID_MIN_LEN: usize = 4;
pub const KID_MAX_LEN: usize = 25;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KidModulus {
    Mod10,
    Mod11,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(into = "String")]
pub struct Kid(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KidError {
    #[error("a KID has {KID_MIN_LEN}–{KID_MAX_LEN} characters including the check digit, got {0}")]
    Length(usize),
    #[error("a KID contains only digits (and, with MOD11, a final '-')")]
    NotDigits,
    #[error("the check digit does not match ({0:?})")]
    CheckDigit(KidModulus),
    #[error("the MOD11 check digit of this base would be '-' (remainder 1); choose another base")]
    Mod11Dash,
}

fn digits(base: &str) -> Result<impl DoubleEndedIterator<Item = u32> + '_, KidError> {
    if !base.bytes().all(|b| b.is_ascii_digit()) {
        return Err(KidError::NotDigits);
    }
    Ok(base.bytes().map(|b| u32::from(b - b'0')))
}

/// The MOD10 (Luhn) check digit of `base`.
pub fn mod10_check(base: &str) -> Result<char, KidError> {
    let mut sum = 0u32;
    for (i, d) in digits(base)?.rev().enumerate() {
        let p = if i % 2 == 0 { d * 2 } else { d };
        sum += p / 10 + p % 10;
    }
    let c = (10 - sum % 10) % 10;
    Ok(char::from(b'0' + c as u8))
}

/// The MOD11 check character of `base`: '0'–'9', or '-' when the remainder is 1.
pub fn mod11_check(base: &str) -> Result<char, KidError> {
    const W: [u32; 6] = [2, 3, 4, 5, 6, 7];
    let mut sum = 0u32;
    for (i, d) in digits(base)?.rev().enumerate() {
        sum += d * W[i % 6];
    }
    Ok(match 11 - sum % 11 {
        11 => '0',
        10 => '-',
        c => char::from(b'0' + c as u8),
    })
}

fn check_len(len: usize) -> Result<(), KidError> {
    if !(KID_MIN_LEN..=KID_MAX_LEN).contains(&len) {
        return Err(KidError::Length(len));
    }
    Ok(())
}

impl Kid {
    /// Validates a KID received from a bank or typed by a user, with the registered modulus.
    pub fn parse(input: &str, modulus: KidModulus) -> Result<Self, KidError> {
        let s: String = input.chars().filter(|c| !c.is_whitespace()).collect();
        check_len(s.len())?;
        let (base, check) = s.split_at(s.len() - 1);
        let expected = match modulus {
            KidModulus::Mod10 => mod10_check(base)?,
            KidModulus::Mod11 => mod11_check(base)?,
        };
        let got = check.chars().next().ok_or(KidError::Length(0))?;
        if !(got.is_ascii_digit() || (got == '-' && modulus == KidModulus::Mod11)) {
            return Err(KidError::NotDigits);
        }
        if got != expected {
            return Err(KidError::CheckDigit(modulus));
        }
        Ok(Self(s))
    }

    /// Appends the MOD10 check digit to `base`.
    pub fn generate_mod10(base: &str) -> Result<Self, KidError> {
        check_len(base.len() + 1)?;
        let c = mod10_check(base)?;
        Ok(Self(format!("{base}{c}")))
    }

    /// Appends the MOD11 check character to `base`; remainder 1 gives a final '-'
    /// (valid per the MPS specification, but confusing to payers: see
    /// [`Kid::generate_mod11_digits_only`]).
    pub fn generate_mod11(base: &str) -> Result<Self, KidError> {
        check_len(base.len() + 1)?;
        let c = mod11_check(base)?;
        Ok(Self(format!("{base}{c}")))
    }

    /// Like [`Kid::generate_mod11`] but refuses a base whose check would be '-'.
    pub fn generate_mod11_digits_only(base: &str) -> Result<Self, KidError> {
        let k = Self::generate_mod11(base)?;
        if k.0.ends_with('-') {
            return Err(KidError::Mod11Dash);
        }
        Ok(k)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Kid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<Kid> for String {
    fn from(k: Kid) -> String {
        k.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mps_examples() {
        assert_eq!(
            Kid::generate_mod10("12345678").unwrap().as_str(),
            "123456782"
        );
        assert_eq!(
            Kid::generate_mod11("12345678").unwrap().as_str(),
            "123456785"
        );
        assert_eq!(Kid::generate_mod10("1234").unwrap().as_str(), "12344");
        assert_eq!(Kid::generate_mod11("1234").unwrap().as_str(), "12343");
        assert_eq!(mod10_check("1234567").unwrap(), '4');
    }

    #[test]
    fn mod11_remainders_zero_and_one() {
        // Weights from the right 2,3,4,5: "0006" → 6*2 = 12, 12 % 11 = 1 → check '-'.
        assert_eq!(mod11_check("0006").unwrap(), '-');
        assert_eq!(Kid::generate_mod11("0006").unwrap().as_str(), "0006-");
        assert_eq!(
            Kid::generate_mod11_digits_only("0006"),
            Err(KidError::Mod11Dash)
        );
        assert!(Kid::parse("0006-", KidModulus::Mod11).is_ok());
        assert!(Kid::parse("0006-", KidModulus::Mod10).is_err());
        // "0000": sum 0, remainder 0 → '0'. "0501": 1*2 + 5*4 = 22, remainder 0 → '0'.
        assert_eq!(mod11_check("0000").unwrap(), '0');
        assert_eq!(mod11_check("0501").unwrap(), '0');
        // "0105": 5*2 + 1*4 = 14, remainder 3 → 8.
        assert_eq!(mod11_check("0105").unwrap(), '8');
        assert!(Kid::parse("05010", KidModulus::Mod11).is_ok());
    }

    #[test]
    fn validates_and_rejects() {
        assert!(Kid::parse("123456782", KidModulus::Mod10).is_ok());
        assert!(Kid::parse("1234 5678 2", KidModulus::Mod10).is_ok());
        assert_eq!(
            Kid::parse("123456783", KidModulus::Mod10),
            Err(KidError::CheckDigit(KidModulus::Mod10))
        );
        assert!(Kid::parse("123456785", KidModulus::Mod11).is_ok());
        assert_eq!(
            Kid::parse("123", KidModulus::Mod10),
            Err(KidError::Length(3))
        );
        assert_eq!(
            Kid::parse(&"1".repeat(26), KidModulus::Mod10),
            Err(KidError::Length(26))
        );
        assert_eq!(
            Kid::parse("12a45", KidModulus::Mod10),
            Err(KidError::NotDigits)
        );
        assert_eq!(Kid::generate_mod10("12"), Err(KidError::Length(3)));
    }

    #[test]
    fn generated_kids_always_validate() {
        for n in 0u64..3000 {
            let base = format!("{:06}", n * 7919 % 1_000_000);
            let k10 = Kid::generate_mod10(&base).unwrap();
            assert!(Kid::parse(k10.as_str(), KidModulus::Mod10).is_ok());
            let k11 = Kid::generate_mod11(&base).unwrap();
            assert!(Kid::parse(k11.as_str(), KidModulus::Mod11).is_ok());
            // A single changed digit is always caught by both.
            let mut bytes = k10.as_str().as_bytes().to_vec();
            bytes[2] = if bytes[2] == b'9' { b'0' } else { bytes[2] + 1 };
            let bad = String::from_utf8(bytes).unwrap();
            assert!(Kid::parse(&bad, KidModulus::Mod10).is_err());
        }
    }
}
