//! Organisasjonsnummer: nine digits, the last a MOD11 check digit with weights 3,2,7,6,5,4,3,2.

use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(
    utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(try_from = "String", into = "String")]
pub struct OrgNumber(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OrgNumberError {
    #[error("an organisation number has nine digits (spaces allowed), got {0} digits")]
    Length(usize),
    #[error("an organisation number contains only digits and spaces")]
    NotDigits,
    #[error("the check digit does not match (MOD11)")]
    CheckDigit,
}

const WEIGHTS: [u32; 8] = [3, 2, 7, 6, 5, 4, 3, 2];

impl OrgNumber {
    /// Parses "923 609 016", "923609016" or "NO 923 609 016 MVA"-free input into a checked number.
    pub fn parse(input: &str) -> Result<Self, OrgNumberError> {
        let mut digits = String::with_capacity(9);
        for c in input.chars() {
            if c.is_ascii_digit() {
                digits.push(c);
            } else if !c.is_whitespace() {
                return Err(OrgNumberError::NotDigits);
            }
        }
        if digits.len() != 9 {
            return Err(OrgNumberError::Length(digits.len()));
        }
        let d: Vec<u32> = digits.bytes().map(|b| u32::from(b - b'0')).collect();
        match check_digit(&d[..8]) {
            Some(c) if c == d[8] => Ok(Self(digits)),
            _ => Err(OrgNumberError::CheckDigit),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The MOD11 check digit for the first eight digits; `None` when the remainder makes it 10
/// (such numbers are never issued).
fn check_digit(first8: &[u32]) -> Option<u32> {
    let sum: u32 = first8.iter().zip(WEIGHTS).map(|(d, w)| d * w).sum();
    match 11 - sum % 11 {
        11 => Some(0),
        10 => None,
        c => Some(c),
    }
}

impl fmt::Display for OrgNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for OrgNumber {
    type Error = OrgNumberError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<OrgNumber> for String {
    fn from(o: OrgNumber) -> String {
        o.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_real_numbers_with_and_without_spaces() {
        // Brønnøysundregistrene itself, and DNB Bank ASA.
        assert_eq!(
            OrgNumber::parse("974 760 673").unwrap().as_str(),
            "974760673"
        );
        assert!(OrgNumber::parse("984851006").is_ok());
    }

    #[test]
    fn rejects_wrong_check_digit_length_and_letters() {
        assert_eq!(
            OrgNumber::parse("974760674"),
            Err(OrgNumberError::CheckDigit)
        );
        assert_eq!(OrgNumber::parse("97476067"), Err(OrgNumberError::Length(8)));
        assert_eq!(
            OrgNumber::parse("97476067X"),
            Err(OrgNumberError::NotDigits)
        );
    }
}
