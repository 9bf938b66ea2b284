//! A Norwegian bank account number (kontonummer): 11 digits, the last a MOD11 check digit over
//! the first ten with the weights 5 4 3 2 7 6 5 4 3 2 (the same cyclic 2–7 weights from the right
//! as a MOD11 KID). A remainder that gives the check "10" makes the number invalid.

use crate::domain::collection::kid::mod11_check;
use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct BankAccount(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BankAccountError {
    #[error("a Norwegian account number has 11 digits (spaces and dots allowed), got {0}")]
    Length(usize),
    #[error("an account number holds digits only (spaces and dots allowed)")]
    NotDigits,
    #[error("the check digit does not match (MOD11): a digit is mistyped")]
    CheckDigit,
}

impl BankAccount {
    /// Parses `1234.56.78903`, `1234 56 78903` or `12345678903`.
    pub fn parse(input: &str) -> Result<Self, BankAccountError> {
        let mut digits = String::with_capacity(11);
        for c in input.trim().chars() {
            match c {
                '0'..='9' => digits.push(c),
                ' ' | '.' => {}
                _ => return Err(BankAccountError::NotDigits),
            }
        }
        if digits.len() != 11 {
            return Err(BankAccountError::Length(digits.len()));
        }
        let check = mod11_check(&digits[..10]).map_err(|_| BankAccountError::NotDigits)?;
        if digits.as_bytes()[10] != check as u8 {
            return Err(BankAccountError::CheckDigit);
        }
        Ok(Self(digits))
    }

    /// The 11 digits.
    pub fn digits(&self) -> &str {
        &self.0
    }

    /// As printed on Norwegian giros: `1234 56 78903`.
    pub fn formatted(&self) -> String {
        format!("{} {} {}", &self.0[..4], &self.0[4..6], &self.0[6..])
    }

    /// The IBAN of the account (ISO 13616): `NO`, two check digits (98 − the number mod 97, with
    /// the country code moved to the end as N = 23, O = 24), then the 11 digits. For debtors
    /// paying from abroad.
    pub fn iban(&self) -> String {
        let rearranged = format!("{}232400", self.0);
        let remainder = rearranged
            .bytes()
            .fold(0u32, |r, b| (r * 10 + u32::from(b - b'0')) % 97);
        format!("NO{:02}{}", 98 - remainder, self.0)
    }

    /// The IBAN in groups of four, as printed: `NO93 8601 1117 947`.
    pub fn iban_formatted(&self) -> String {
        let iban = self.iban();
        let groups: Vec<&str> = iban
            .as_bytes()
            .chunks(4)
            .map(|c| std::str::from_utf8(c).unwrap_or_default())
            .collect();
        groups.join(" ")
    }
}

impl fmt::Display for BankAccount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.formatted())
    }
}

impl TryFrom<String> for BankAccount {
    type Error = BankAccountError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<BankAccount> for String {
    fn from(a: BankAccount) -> String {
        a.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_numbers_parse_in_every_common_spelling() {
        // 1503.43.21059 and 8601.11.17947 are published example numbers with valid checks.
        for raw in [
            "86011117947",
            "8601.11.17947",
            "8601 11 17947",
            " 8601 11 17947 ",
        ] {
            let a = BankAccount::parse(raw).unwrap();
            assert_eq!(a.digits(), "86011117947");
            assert_eq!(a.formatted(), "8601 11 17947");
        }
        assert!(BankAccount::parse("1503.43.21059").is_ok());
    }

    #[test]
    fn a_mistyped_digit_a_wrong_length_or_letters_are_refused() {
        assert_eq!(
            BankAccount::parse("86011117948"),
            Err(BankAccountError::CheckDigit)
        );
        assert_eq!(
            BankAccount::parse("8601111794"),
            Err(BankAccountError::Length(10))
        );
        assert_eq!(
            BankAccount::parse("8601-11-17947"),
            Err(BankAccountError::NotDigits)
        );
    }

    #[test]
    fn every_single_digit_change_of_a_valid_number_is_caught() {
        // MOD11 catches every single-digit error.
        let good = "86011117947";
        for pos in 0..11 {
            for d in b'0'..=b'9' {
                let mut s = good.as_bytes().to_vec();
                if s[pos] == d {
                    continue;
                }
                s[pos] = d;
                let s = String::from_utf8(s).unwrap();
                assert!(BankAccount::parse(&s).is_err(), "{s} should be refused");
            }
        }
    }

    #[test]
    fn the_iban_matches_the_published_norwegian_example() {
        // NO93 8601 1117 947 is the example IBAN for Norway in the IBAN registry (SWIFT).
        let a = BankAccount::parse("8601 11 17947").unwrap();
        assert_eq!(a.iban(), "NO9386011117947");
        assert_eq!(a.iban_formatted(), "NO93 8601 1117 947");
        // And the IBAN's own check holds (the whole number, rearranged, is 1 mod 97).
        let b = BankAccount::parse("1503.43.21059").unwrap();
        let iban = b.iban();
        let rearranged = format!("{}2324{}", &iban[4..], &iban[2..4]);
        let r = rearranged
            .bytes()
            .fold(0u32, |r, c| (r * 10 + u32::from(c - b'0')) % 97);
        assert_eq!(r, 1, "{iban}");
    }

    #[test]
    fn it_serialises_as_its_digits_and_refuses_invalid_json() {
        let a = BankAccount::parse("8601 11 17947").unwrap();
        assert_eq!(serde_json::to_string(&a).unwrap(), "\"86011117947\"");
        assert!(serde_json::from_str::<BankAccount>("\"86011117948\"").is_err());
    }
}
