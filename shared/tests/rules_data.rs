//! The rulebook data: load-time validation, the rate table as a regression list, listings.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use shared::domain::collection::rulebook::{
    Confidence, Missing, RuleGap, RulebookError, NORWAY_TOML,
};
use shared::domain::{Money, Rulebook};
use std::str::FromStr;

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

/// Forsinkelsesrente per half-year (shared/reference/norwegian-collection-rules.md § 1.2).
/// Adding a half-year: one entry in shared/rules/no.toml and one row here.
const RATES: &[(&str, &str, &str)] = &[
    ("2015-01-01", "2015-06-30", "9.25"),
    ("2015-07-01", "2015-12-31", "9.00"),
    ("2016-01-01", "2016-06-30", "8.75"),
    ("2016-07-01", "2016-12-31", "8.50"),
    ("2017-01-01", "2017-06-30", "8.50"),
    ("2017-07-01", "2017-12-31", "8.50"),
    ("2018-01-01", "2018-06-30", "8.50"),
    ("2018-07-01", "2018-12-31", "8.50"),
    ("2019-01-01", "2019-06-30", "8.75"),
    ("2019-07-01", "2019-12-31", "9.25"),
    ("2020-01-01", "2020-06-30", "9.50"),
    ("2020-07-01", "2020-12-31", "8.00"),
    ("2021-01-01", "2021-06-30", "8.00"),
    ("2021-07-01", "2021-12-31", "8.00"),
    ("2022-01-01", "2022-06-30", "8.50"),
    ("2022-07-01", "2022-12-31", "9.25"),
    ("2023-01-01", "2023-06-30", "10.75"),
    ("2023-07-01", "2023-12-31", "11.75"),
    ("2024-01-01", "2024-06-30", "12.50"),
    ("2024-07-01", "2024-12-31", "12.50"),
    ("2025-01-01", "2025-06-30", "12.50"),
    ("2025-07-01", "2025-12-31", "12.25"),
    ("2026-01-01", "2026-06-30", "12.00"),
    ("2026-07-01", "2026-12-31", "12.25"),
];

#[test]
fn rate_table_is_the_reference_table() {
    let b = Rulebook::norway();
    assert_eq!(b.rates().len(), RATES.len());
    for (e, (from, to, rate)) in b.rates().iter().zip(RATES) {
        assert_eq!(e.meta.valid_from, d(from));
        assert_eq!(e.meta.valid_to, Some(d(to)));
        assert_eq!(e.rate_percent, Decimal::from_str(rate).unwrap(), "{from}");
        assert!(!e.meta.source.is_empty());
        assert_eq!(b.rate_on(d(from)).unwrap().0.rate_percent, e.rate_percent);
        assert_eq!(b.rate_on(d(to)).unwrap().0.rate_percent, e.rate_percent);
    }
    assert_eq!(b.last_rate_day(), d("2026-12-31"));
}

#[test]
fn amounts_per_period() {
    let b = Rulebook::norway();
    let sats = |s| b.inkassosats_on(d(s)).unwrap().0;
    assert_eq!(sats("2015-06-01"), Money::from_kroner(650));
    assert_eq!(sats("2016-06-01"), Money::from_kroner(670));
    assert_eq!(sats("2020-09-30"), Money::from_kroner(700));
    assert_eq!(sats("2025-12-31"), Money::from_kroner(700));
    assert_eq!(sats("2026-01-01"), Money::from_kroner(750));
    assert_eq!(
        b.inkassosats_on(d("2027-01-01")),
        Err(RuleGap::new(d("2027-01-01"), Missing::Inkassosats))
    );
    let r = |s| b.rettsgebyr_on(d(s)).unwrap().0;
    assert_eq!(r("2015-05-05"), Money::from_kroner(860));
    assert_eq!(r("2024-05-05"), Money::from_kroner(1277));
    assert_eq!(r("2026-05-05"), Money::from_kroner(1345));
    let c = |s| b.standardkompensasjon_on(d(s)).unwrap().0;
    assert_eq!(c("2026-03-01"), Money::from_kroner(460));
    assert_eq!(c("2026-11-26"), Money::from_kroner(430));
    assert_eq!(c("2016-07-01"), Money::from_kroner(370));
    for missing in [
        "2015-03-01",
        "2016-03-01",
        "2017-09-01",
        "2021-03-01",
        "2027-01-01",
    ] {
        assert_eq!(
            b.standardkompensasjon_on(d(missing)).unwrap_err().missing,
            Missing::Standardkompensasjon
        );
    }
}

#[test]
fn every_entry_has_a_source_and_tag_and_sub_high_entries_are_documented() {
    let b = Rulebook::norway();
    let docs = include_str!("../../docs/rules.md");
    for m in b.all_meta() {
        assert!(!m.source.trim().is_empty(), "{}", m.tag);
        assert!(m.tag.starts_with(m.table.key()), "{}", m.tag);
        let weak = m.confidence > Confidence::MediumHigh
            || m.note
                .as_deref()
                .is_some_and(|n| n.contains("UNVERIFIED") || n.contains("CONFLICT"));
        if weak {
            assert!(
                docs.contains(&m.tag),
                "docs/rules.md must name the weak entry {}",
                m.tag
            );
        }
    }
}

fn without_entry(text: &str, table: &str, id: &str) -> String {
    // Removes the `[[table]]` block whose id line matches.
    let blocks: Vec<&str> = text.split(&format!("[[{table}]]\n")).collect();
    let mut out = blocks[0].to_string();
    for blk in &blocks[1..] {
        if !blk.starts_with(&format!("id = \"{id}\"\n")) {
            out.push_str(&format!("[[{table}]]\n"));
            out.push_str(blk);
        }
    }
    out
}

#[test]
fn a_gap_in_the_rates_is_rejected_at_load() {
    let text = without_entry(NORWAY_TOML, "forsinkelsesrente", "2020-H2");
    assert_ne!(text, NORWAY_TOML);
    match Rulebook::from_toml_str(&text) {
        Err(RulebookError::Gap {
            table, prev, next, ..
        }) => {
            assert_eq!(
                (table, prev.as_str(), next.as_str()),
                ("forsinkelsesrente", "2020-H1", "2021-H1")
            );
        }
        other => panic!("expected a gap, got {other:?}"),
    }
    // The inkassosats table must be contiguous too.
    let text = without_entry(NORWAY_TOML, "inkassosats", "2016");
    assert!(matches!(
        Rulebook::from_toml_str(&text),
        Err(RulebookError::Gap {
            table: "inkassosats",
            ..
        })
    ));
    // The compensation table may have gaps (unknown values are left out).
    let text = without_entry(NORWAY_TOML, "standardkompensasjon", "2020-H2");
    assert!(Rulebook::from_toml_str(&text).is_ok());
}

#[test]
fn overlaps_and_bad_periods_are_rejected_at_load() {
    let text = NORWAY_TOML.replacen(
        "id = \"2021-H1\"\nvalid_from = \"2021-01-01\"",
        "id = \"2021-H1\"\nvalid_from = \"2020-12-31\"",
        1,
    );
    assert_ne!(text, NORWAY_TOML);
    assert!(matches!(
        Rulebook::from_toml_str(&text),
        Err(RulebookError::Overlap {
            table: "forsinkelsesrente",
            ..
        }) | Err(RulebookError::Invalid { .. })
    ));
    // A rate period spanning a new year is refused (the divisor is per calendar year).
    let text = NORWAY_TOML.replacen(
        "valid_to = \"2020-12-31\"\nrate_percent = \"8.00\"",
        "valid_to = \"2021-01-31\"\nrate_percent = \"8.00\"",
        1,
    );
    assert_ne!(text, NORWAY_TOML);
    match Rulebook::from_toml_str(&text) {
        Err(RulebookError::Invalid { table, id, reason }) => {
            assert_eq!((table, id.as_str()), ("forsinkelsesrente", "2020-H2"));
            assert!(reason.contains("one calendar year"), "{reason}");
        }
        other => panic!("expected an invalid period, got {other:?}"),
    }
    // Open-ended rates are refused.
    let text = NORWAY_TOML.replacen(
        "valid_to = \"2026-12-31\"\nrate_percent = \"12.25\"\n",
        "rate_percent = \"12.25\"\n",
        1,
    );
    assert_ne!(text, NORWAY_TOML);
    assert!(matches!(
        Rulebook::from_toml_str(&text),
        Err(RulebookError::Invalid { .. })
    ));
    // Unknown fields and missing deadline ids are refused.
    let text = NORWAY_TOML.replacen(
        "rate_percent = \"9.25\"",
        "rate_percent = \"9.25\"\nrate_pct = \"9\"",
        1,
    );
    assert!(matches!(
        Rulebook::from_toml_str(&text),
        Err(RulebookError::Parse(_))
    ));
    let text = NORWAY_TOML.replacen(
        "id = \"inkassovarsel-deadline\"",
        "id = \"varsel-deadline\"",
        1,
    );
    assert!(matches!(
        Rulebook::from_toml_str(&text),
        Err(RulebookError::MissingEntry { .. })
    ));
}

#[test]
fn next_half_year_is_a_data_change() {
    let b = Rulebook::norway();
    let p = Money::from_kroner(10_000);
    assert!(b.interest(p, d("2026-12-01"), d("2027-02-01")).is_err());
    let text = format!(
        "{NORWAY_TOML}\n[[forsinkelsesrente]]\nid = \"2027-H1\"\nvalid_from = \"2027-01-01\"\nvalid_to = \"2027-06-30\"\nrate_percent = \"12.00\"\nbasis = \"FOR-TEST\"\nsource = \"test\"\nconfidence = \"high\"\n"
    );
    let next = Rulebook::from_toml_str(&text).unwrap();
    let i = next.interest(p, d("2026-12-01"), d("2027-02-01")).unwrap();
    assert_eq!(i.segments.len(), 2);
    assert_eq!(
        next.tag(i.segments[1].rule),
        "forsinkelsesrente:2027-H1@FOR-TEST"
    );
    assert_eq!(
        next.interest(p, d("2026-12-01"), d("2027-07-01"))
            .unwrap_err()
            .to_string(),
        "rule gap on 2027-07-01: no forsinkelsesrente rate is known for that day"
    );
}

#[test]
fn show_lists_the_rules_in_force_with_sources() {
    let b = Rulebook::norway();
    let f = b.in_force_on(d("2026-11-26"));
    let tags: Vec<&str> = f.rules.iter().map(|r| r.tag.as_str()).collect();
    for t in [
        "forsinkelsesrente:2026-H2@FOR-2026-06-25-1372",
        "standardkompensasjon:2026-H2@FOR-2026-06-25-1372",
        "inkassosats:2026@FOR-2025-12-19-2709",
        "fee_fractions:twentieths@FOR-2020-06-19-1248",
        "fee_rounding:nearest-krone@FOR-2025-12-19-2709",
        "letter_limits:inkf-1-3@INKF§1-3",
        "rettsgebyr:2026@rgl§1",
        "rettsgebyr_multiplier:utlegg-1.21@LOV-2021-12-22-166",
        "limitation:foreldelsesloven@foreldelsesloven§2",
        "inkassolov:inkassolov-2026@LOV-2026-05-22-19",
    ] {
        assert!(tags.contains(&t), "{t} missing from {tags:?}");
    }
    let rate = f
        .rules
        .iter()
        .find(|r| r.table == shared::domain::collection::rulebook::Table::Forsinkelsesrente)
        .unwrap();
    assert_eq!(rate.value, "12.25 % p.a.");
    assert_eq!(rate.confidence, Confidence::Medium);
    let fr = f.rules.iter().find(|r| r.id == "twentieths").unwrap();
    assert!(fr.value.contains("38.00 kr / 113.00 kr"), "{}", fr.value);
    assert!(f.gaps.is_empty(), "{:?}", f.gaps);
    let after = b.in_force_on(d("2027-01-01"));
    let missing: Vec<Missing> = after.gaps.iter().map(|g| g.missing).collect();
    assert!(missing.contains(&Missing::ForsinkelsesrenteRate));
    assert!(missing.contains(&Missing::NewInkassolovRegulations));
}
