//! Numbers and dates as a Norwegian (or English) letter prints them.
//!
//! Bokmål: `10 722,00` (a no-break space between thousands, decimal comma), `kr 10 722,00`,
//! `17.11.2026`, `12,25 %`. English: `10,722.00`, `NOK 10,722.00`, `17 November 2026`, `12.25%`.
//! No-break spaces keep an amount, a percentage or a `§ 4-18` on one line when text wraps.

use crate::domain::collection::dunning::Language;
use crate::domain::money::Money;
use chrono::NaiveDate;
use rust_decimal::Decimal;

/// U+00A0, the no-break space.
pub const NBSP: char = '\u{a0}';

/// An amount without currency: `10 722,00` (nb) or `10,722.00` (en).
pub fn amount(m: Money, lang: Language) -> String {
    let ore = m.to_ore();
    let (sep, dec) = match lang {
        Language::Nb => (NBSP, ','),
        Language::En => (',', '.'),
    };
    let abs = ore.unsigned_abs();
    let kroner = (abs / 100).to_string();
    let mut grouped = String::with_capacity(kroner.len() + kroner.len() / 3 + 4);
    if ore < 0 {
        grouped.push('-');
    }
    for (i, c) in kroner.chars().enumerate() {
        if i > 0 && (kroner.len() - i) % 3 == 0 {
            grouped.push(sep);
        }
        grouped.push(c);
    }
    grouped.push(dec);
    grouped.push_str(&format!("{:02}", abs % 100));
    grouped
}

/// An amount with currency: `kr 10 722,00` (nb) or `NOK 10,722.00` (en).
pub fn kroner(m: Money, lang: Language) -> String {
    match lang {
        Language::Nb => format!("kr{NBSP}{}", amount(m, lang)),
        Language::En => format!("NOK{NBSP}{}", amount(m, lang)),
    }
}

/// A date in running text: `17.11.2026` (nb) or `17 November 2026` (en).
pub fn date(d: NaiveDate, lang: Language) -> String {
    match lang {
        Language::Nb => d.format("%d.%m.%Y").to_string(),
        Language::En => d.format("%-d %B %Y").to_string(),
    }
}

/// A date in a table column: `17.11.2026` (nb) or `17 Nov 2026` (en).
pub fn short_date(d: NaiveDate, lang: Language) -> String {
    match lang {
        Language::Nb => d.format("%d.%m.%Y").to_string(),
        Language::En => d.format("%-d %b %Y").to_string(),
    }
}

/// An annual rate with two decimals: `12,25 %` (nb) or `12.25%` (en).
pub fn percent(p: Decimal, lang: Language) -> String {
    let mut p = p.round_dp(2);
    p.rescale(2);
    match lang {
        Language::Nb => format!("{}{NBSP}%", p.to_string().replace('.', ",")),
        Language::En => format!("{p}%"),
    }
}

/// `923609016` → `923 609 016` (with no-break spaces).
pub fn grouped_orgnr(digits: &str) -> String {
    if digits.len() == 9 {
        format!(
            "{}{NBSP}{}{NBSP}{}",
            &digits[..3],
            &digits[3..6],
            &digits[6..]
        )
    } else {
        digits.to_string()
    }
}

/// `a`, `a og b`, `a, b og c` (nb) or `a`, `a and b`, `a, b and c` (en).
pub fn list(items: &[String], lang: Language) -> String {
    let and = match lang {
        Language::Nb => "og",
        Language::En => "and",
    };
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} {and} {last}", init.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn plain(s: String) -> String {
        s.replace(NBSP, " ")
    }

    #[test]
    fn amounts_are_grouped_by_thousands_with_the_decimal_mark_of_the_language() {
        let m = |ore| Money::from_ore(ore);
        assert_eq!(plain(amount(m(1_072_200), Language::Nb)), "10 722,00");
        assert_eq!(amount(m(1_072_200), Language::En), "10,722.00");
        assert_eq!(
            plain(amount(m(123_456_789_05), Language::Nb)),
            "123 456 789,05"
        );
        assert_eq!(plain(amount(m(3800), Language::Nb)), "38,00");
        assert_eq!(plain(amount(m(5), Language::Nb)), "0,05");
        assert_eq!(plain(amount(m(-100_000), Language::Nb)), "-1 000,00");
        assert_eq!(plain(amount(m(100_000), Language::Nb)), "1 000,00");
        assert_eq!(plain(kroner(m(11300), Language::Nb)), "kr 113,00");
        assert_eq!(plain(kroner(m(11300), Language::En)), "NOK 113.00");
        // The separators are no-break spaces, so an amount never breaks across lines.
        assert!(!kroner(m(1_072_200), Language::Nb).contains(' '));
    }

    #[test]
    fn dates_and_rates() {
        let d = NaiveDate::from_ymd_opt(2026, 7, 1).unwrap();
        assert_eq!(date(d, Language::Nb), "01.07.2026");
        assert_eq!(date(d, Language::En), "1 July 2026");
        assert_eq!(short_date(d, Language::En), "1 Jul 2026");
        assert_eq!(plain(percent(dec!(12.25), Language::Nb)), "12,25 %");
        assert_eq!(plain(percent(dec!(12), Language::Nb)), "12,00 %");
        assert_eq!(percent(dec!(8.5), Language::En), "8.50%");
    }

    #[test]
    fn lists_join_with_the_word_for_and() {
        let v = |xs: &[&str]| xs.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(list(&v(&["a"]), Language::Nb), "a");
        assert_eq!(list(&v(&["a", "b"]), Language::Nb), "a og b");
        assert_eq!(list(&v(&["a", "b", "c"]), Language::En), "a, b and c");
    }
}
