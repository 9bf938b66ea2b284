//! The Norwegian rulebook: the law as dated, versioned data.
//!
//! The data lives in `shared/rules/no.toml`, embedded at compile time (Lambda binaries need no
//! file) and parsed and validated once ([`Rulebook::norway`]). Every entry carries an id,
//! `valid_from` and `valid_to` (**both inclusive**), a legal basis, a source and a confidence
//! grade. Every computed amount is stamped with the [`RuleRef`]s that produced it; a `RuleRef` is
//! a small `Copy` index resolved to its tag (`"forsinkelsesrente:2026-H1@FOR-2025-12-18-2658"`)
//! only at the edges, so the hot paths do not allocate.
//!
//! A date for which the rulebook knows no legal basis is a [`RuleGap`], never a guess.

use crate::domain::money::Money;
use chrono::{Datelike, Days, Months, NaiveDate};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::OnceLock;

/// The embedded Norwegian rulebook data.
pub const NORWAY_TOML: &str = include_str!("../../../rules/no.toml");

// ------------------------------------------------------------------------------------------
// Gaps and errors
// ------------------------------------------------------------------------------------------

/// What the rulebook does not know.
#[derive(utoipa::ToSchema, Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Missing {
    ForsinkelsesrenteRate,
    Standardkompensasjon,
    Inkassosats,
    FeeFractions,
    FeeRounding,
    Rettsgebyr,
    RettsgebyrMultiplier,
    /// The new inkassolov (LOV-2026-05-22-19) is in force on the date, and its regulations
    /// (fees, letter types for a creditor's own collection) are not in the rulebook.
    NewInkassolovRegulations,
    LimitationRule,
    LetterLimits,
}

impl Missing {
    pub fn code(&self) -> &'static str {
        match self {
            Missing::ForsinkelsesrenteRate => "forsinkelsesrente-rate",
            Missing::Standardkompensasjon => "standardkompensasjon",
            Missing::Inkassosats => "inkassosats",
            Missing::FeeFractions => "fee-fractions",
            Missing::FeeRounding => "fee-rounding",
            Missing::Rettsgebyr => "rettsgebyr",
            Missing::RettsgebyrMultiplier => "rettsgebyr-multiplier",
            Missing::NewInkassolovRegulations => "new-inkassolov-regulations",
            Missing::LimitationRule => "limitation-rule",
            Missing::LetterLimits => "letter-limits",
        }
    }
}

impl fmt::Display for Missing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Missing::ForsinkelsesrenteRate => "no forsinkelsesrente rate is known for that day",
            Missing::Standardkompensasjon => "no standardkompensasjon amount is known for that day",
            Missing::Inkassosats => "no inkassosats is known for that day",
            Missing::FeeFractions => "no fee fractions are known for a claim due that day",
            Missing::FeeRounding => "no fee rounding rule is known for that day",
            Missing::Rettsgebyr => "no rettsgebyr is known for that day",
            Missing::RettsgebyrMultiplier => "no rettsgebyr multiplier is known for that day",
            Missing::NewInkassolovRegulations => {
                "the new inkassolov (LOV-2026-05-22-19) is in force and its regulations are not in the rulebook"
            }
            Missing::LimitationRule => "no limitation rule is known for that day",
            Missing::LetterLimits => "no limit on fee-bearing letters (INKF § 1-3) is known for that day",
        })
    }
}

/// "No known legal basis on that date": the step must be held for review, not guessed.
#[derive(
    utoipa::ToSchema,
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    thiserror::Error,
    Serialize,
    Deserialize,
)]
#[error("rule gap on {date}: {missing}")]
#[serde(rename_all = "camelCase")]
pub struct RuleGap {
    pub date: NaiveDate,
    pub missing: Missing,
}

impl RuleGap {
    pub fn new(date: NaiveDate, missing: Missing) -> Self {
        Self { date, missing }
    }
}

/// The data file is wrong. Raised at load time, so a bad file never reaches a computation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RulebookError {
    #[error("the rulebook file does not parse: {0}")]
    Parse(String),
    #[error("{table} entry {id:?}: {reason}")]
    Invalid {
        table: &'static str,
        id: String,
        reason: String,
    },
    #[error(
        "{table}: gap between {prev:?} (valid to {prev_to}) and {next:?} (valid from {next_from})"
    )]
    Gap {
        table: &'static str,
        prev: String,
        prev_to: NaiveDate,
        next: String,
        next_from: NaiveDate,
    },
    #[error("{table}: {prev:?} and {next:?} overlap")]
    Overlap {
        table: &'static str,
        prev: String,
        next: String,
    },
    #[error("{table}: a required entry is missing: {what}")]
    MissingEntry { table: &'static str, what: String },
}

// ------------------------------------------------------------------------------------------
// Metadata and references
// ------------------------------------------------------------------------------------------

#[derive(
    utoipa::ToSchema,
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum Confidence {
    High,
    MediumHigh,
    Medium,
    Low,
    Unverified,
}

impl Confidence {
    pub fn as_str(&self) -> &'static str {
        match self {
            Confidence::High => "high",
            Confidence::MediumHigh => "medium-high",
            Confidence::Medium => "medium",
            Confidence::Low => "low",
            Confidence::Unverified => "unverified",
        }
    }
}

/// The tables of the rulebook.
#[derive(utoipa::ToSchema, Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Table {
    Forsinkelsesrente,
    Standardkompensasjon,
    Inkassosats,
    FeeFractions,
    FeeRounding,
    Deadline,
    LetterLimits,
    Rettsgebyr,
    RettsgebyrMultiplier,
    Limitation,
    Inkassolov,
}

impl Table {
    /// The table's name in the data file and in rule tags.
    pub fn key(&self) -> &'static str {
        match self {
            Table::Forsinkelsesrente => "forsinkelsesrente",
            Table::Standardkompensasjon => "standardkompensasjon",
            Table::Inkassosats => "inkassosats",
            Table::FeeFractions => "fee_fractions",
            Table::FeeRounding => "fee_rounding",
            Table::Deadline => "deadline",
            Table::LetterLimits => "letter_limits",
            Table::Rettsgebyr => "rettsgebyr",
            Table::RettsgebyrMultiplier => "rettsgebyr_multiplier",
            Table::Limitation => "limitation",
            Table::Inkassolov => "inkassolov",
        }
    }
}

/// A reference to one rulebook entry: small and `Copy`; resolve with [`Rulebook::meta`] or
/// [`Rulebook::tag`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RuleRef {
    pub table: Table,
    pub index: u16,
}

/// The data every entry carries.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RuleMeta {
    pub table: Table,
    pub id: String,
    /// First day the entry applies (inclusive).
    pub valid_from: NaiveDate,
    /// Last day the entry applies (inclusive); `None` = no known end (statute in force).
    pub valid_to: Option<NaiveDate>,
    pub basis: String,
    pub source: String,
    pub confidence: Confidence,
    pub note: Option<String>,
    /// `"<table>:<id>@<basis>"`, the string stamped on computed amounts.
    pub tag: String,
}

impl RuleMeta {
    pub fn covers(&self, date: NaiveDate) -> bool {
        self.valid_from <= date && self.valid_to.is_none_or(|to| date <= to)
    }
}

trait HasMeta {
    fn meta(&self) -> &RuleMeta;
}

macro_rules! has_meta {
    ($($t:ty),*) => { $(impl HasMeta for $t { fn meta(&self) -> &RuleMeta { &self.meta } })* };
}

// ------------------------------------------------------------------------------------------
// Typed entries
// ------------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateEntry {
    pub meta: RuleMeta,
    /// Percent per year, e.g. 12.25.
    pub rate_percent: Decimal,
    /// The rate in millionths (12.25 % → 122 500), exact by validation.
    pub rate_micro: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AmountEntry {
    pub meta: RuleMeta,
    pub amount: Money,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Fraction {
    pub numerator: u32,
    pub denominator: u32,
}

impl fmt::Display for Fraction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.numerator, self.denominator)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FractionEntry {
    pub meta: RuleMeta,
    /// Purring and inkassovarsel.
    pub fee: Fraction,
    /// The creditor's own betalingsoppfordring.
    pub betalingsoppfordring: Fraction,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FeeRounding {
    /// No rounding (amounts were whole kroner anyway); a fraction of an øre would be rounded
    /// half-up to øre.
    Exact,
    /// Half-up to whole kroner (INKF § 1-2 from 2026-01-01).
    NearestKrone,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoundingEntry {
    pub meta: RuleMeta,
    pub rounding: FeeRounding,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadlineEntry {
    pub meta: RuleMeta,
    /// The period in days (zero for a period in months).
    pub days: u32,
    /// The period in calendar months (zero for a period in days).
    pub months: u32,
    pub validity_years: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LetterLimitsEntry {
    pub meta: RuleMeta,
    /// Allowed multisets of fee-bearing letters as counts (purring, inkassovarsel, betalingsoppfordring).
    pub combinations: Vec<[u8; 3]>,
    pub second_fee_needs_missed_deadline_days: u32,
    pub reset_months: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CourtFee {
    BegjaeringOmUtlegg,
    Forliksklage,
    /// What the creditor may claim for writing a begjæring om utlegg itself (a cap).
    UtleggWriting,
}

impl CourtFee {
    pub const ALL: [CourtFee; 3] = [
        CourtFee::BegjaeringOmUtlegg,
        CourtFee::Forliksklage,
        CourtFee::UtleggWriting,
    ];

    pub fn key(&self) -> &'static str {
        match self {
            CourtFee::BegjaeringOmUtlegg => "begjaering-om-utlegg",
            CourtFee::Forliksklage => "forliksklage",
            CourtFee::UtleggWriting => "utlegg-skrivesalaer",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MultiplierEntry {
    pub meta: RuleMeta,
    pub fee: CourtFee,
    pub multiplier: Decimal,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitationEntry {
    pub meta: RuleMeta,
    pub years: u32,
    pub judgment_years: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InkassolovEntry {
    pub meta: RuleMeta,
    pub law: String,
}

has_meta!(
    RateEntry,
    AmountEntry,
    FractionEntry,
    RoundingEntry,
    DeadlineEntry,
    LetterLimitsEntry,
    MultiplierEntry,
    LimitationEntry,
    InkassolovEntry
);

/// The rate periods cut at calendar-year boundaries, as day numbers: the interest hot path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RateSegment {
    /// First and last day (inclusive), `NaiveDate::num_days_from_ce`.
    pub first: i32,
    pub last: i32,
    pub rate_micro: i64,
    /// 365 or 366.
    pub year_days: i64,
    pub entry: u16,
}

/// Indexes of the deadline entries the code needs (looked up once at load).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DeadlineIds {
    pub fee_earliest_after_due: usize,
    pub purring: usize,
    pub inkassovarsel: usize,
    pub betalingsoppfordring_after_missed: usize,
    pub betalingsoppfordring: usize,
    pub tvfbl_4_18: usize,
    /// Legal steps within this many months of the betalingsoppfordring, else a new one.
    pub betalingsoppfordring_valid: usize,
}

/// The rulebook, parsed and validated.
#[derive(Debug, Clone)]
pub struct Rulebook {
    pub jurisdiction: String,
    pub version: String,
    pub data_as_of: NaiveDate,
    pub description: String,
    pub(crate) rates: Vec<RateEntry>,
    pub(crate) rate_segments: Vec<RateSegment>,
    pub(crate) compensation: Vec<AmountEntry>,
    pub(crate) inkassosats: Vec<AmountEntry>,
    pub(crate) fee_fractions: Vec<FractionEntry>,
    pub(crate) fee_rounding: Vec<RoundingEntry>,
    pub(crate) deadlines: Vec<DeadlineEntry>,
    pub(crate) deadline_ids: DeadlineIds,
    pub(crate) letter_limits: Vec<LetterLimitsEntry>,
    pub(crate) rettsgebyr: Vec<AmountEntry>,
    pub(crate) multipliers: Vec<MultiplierEntry>,
    pub(crate) limitation: Vec<LimitationEntry>,
    pub(crate) inkassolov: Vec<InkassolovEntry>,
    /// Index in `inkassolov` of the new act (LOV-2026-05-22-19).
    pub(crate) new_law: usize,
    /// The new act's in-force date (data value, or the caller's override).
    pub(crate) new_law_in_force: NaiveDate,
}

// ------------------------------------------------------------------------------------------
// Loading
// ------------------------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    rulebook: RawHeader,
    forsinkelsesrente: Vec<RawEntry>,
    standardkompensasjon: Vec<RawEntry>,
    inkassosats: Vec<RawEntry>,
    fee_fractions: Vec<RawEntry>,
    fee_rounding: Vec<RawEntry>,
    deadline: Vec<RawEntry>,
    letter_limits: Vec<RawEntry>,
    rettsgebyr: Vec<RawEntry>,
    rettsgebyr_multiplier: Vec<RawEntry>,
    limitation: Vec<RawEntry>,
    inkassolov: Vec<RawEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHeader {
    jurisdiction: String,
    version: String,
    data_as_of: NaiveDate,
    description: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    id: String,
    valid_from: NaiveDate,
    valid_to: Option<NaiveDate>,
    basis: String,
    source: String,
    confidence: Confidence,
    note: Option<String>,
    rate_percent: Option<Decimal>,
    amount_nok: Option<Decimal>,
    fee_numerator: Option<u32>,
    fee_denominator: Option<u32>,
    bo_numerator: Option<u32>,
    bo_denominator: Option<u32>,
    rounding: Option<String>,
    days: Option<u32>,
    months: Option<u32>,
    validity_years: Option<u32>,
    combinations: Option<Vec<Vec<String>>>,
    second_fee_needs_missed_deadline_days: Option<u32>,
    reset_months: Option<u32>,
    fee: Option<String>,
    multiplier: Option<Decimal>,
    years: Option<u32>,
    judgment_years: Option<u32>,
    law: Option<String>,
}

fn invalid(table: Table, id: &str, reason: impl Into<String>) -> RulebookError {
    RulebookError::Invalid {
        table: table.key(),
        id: id.to_string(),
        reason: reason.into(),
    }
}

fn need<T>(table: Table, id: &str, field: &str, v: Option<T>) -> Result<T, RulebookError> {
    v.ok_or_else(|| invalid(table, id, format!("field `{field}` is required")))
}

fn meta_of(table: Table, r: &RawEntry) -> Result<RuleMeta, RulebookError> {
    if r.id.trim().is_empty() {
        return Err(invalid(table, &r.id, "empty id"));
    }
    if r.basis.trim().is_empty() || r.basis.contains(char::is_whitespace) {
        return Err(invalid(
            table,
            &r.id,
            "basis must be a non-empty token without spaces",
        ));
    }
    if r.source.trim().is_empty() {
        return Err(invalid(table, &r.id, "source is required"));
    }
    if let Some(to) = r.valid_to {
        if to < r.valid_from {
            return Err(invalid(table, &r.id, "valid_to is before valid_from"));
        }
    }
    Ok(RuleMeta {
        table,
        id: r.id.clone(),
        valid_from: r.valid_from,
        valid_to: r.valid_to,
        basis: r.basis.clone(),
        source: r.source.clone(),
        confidence: r.confidence,
        note: r.note.clone(),
        tag: format!("{}:{}@{}", table.key(), r.id, r.basis),
    })
}

/// Sorts by `valid_from`, rejects duplicate ids and overlaps, and (if `contiguous`) gaps.
/// `bounded` requires a `valid_to` on every entry (periodic values never run open-ended).
fn check_periods<T: HasMeta>(
    table: Table,
    v: &mut [T],
    contiguous: bool,
    bounded: bool,
) -> Result<(), RulebookError> {
    if v.is_empty() {
        return Err(RulebookError::MissingEntry {
            table: table.key(),
            what: "at least one entry".into(),
        });
    }
    v.sort_by_key(|e| e.meta().valid_from);
    for (i, e) in v.iter().enumerate() {
        if bounded && e.meta().valid_to.is_none() {
            return Err(invalid(
                table,
                &e.meta().id,
                "valid_to is required in this table",
            ));
        }
        if v[..i].iter().any(|p| p.meta().id == e.meta().id) {
            return Err(invalid(table, &e.meta().id, "duplicate id"));
        }
    }
    for w in v.windows(2) {
        let (p, n) = (w[0].meta(), w[1].meta());
        let Some(p_to) = p.valid_to else {
            return Err(RulebookError::Overlap {
                table: table.key(),
                prev: p.id.clone(),
                next: n.id.clone(),
            });
        };
        if n.valid_from <= p_to {
            return Err(RulebookError::Overlap {
                table: table.key(),
                prev: p.id.clone(),
                next: n.id.clone(),
            });
        }
        if contiguous && p_to.succ_opt() != Some(n.valid_from) {
            return Err(RulebookError::Gap {
                table: table.key(),
                prev: p.id.clone(),
                prev_to: p_to,
                next: n.id.clone(),
                next_from: n.valid_from,
            });
        }
    }
    Ok(())
}

fn amount_entries(table: Table, raw: &[RawEntry]) -> Result<Vec<AmountEntry>, RulebookError> {
    raw.iter()
        .map(|r| {
            let meta = meta_of(table, r)?;
            let a = need(table, &r.id, "amount_nok", r.amount_nok)?;
            let amount =
                Money::from_decimal(a).map_err(|e| invalid(table, &r.id, e.to_string()))?;
            if amount <= Money::ZERO {
                return Err(invalid(table, &r.id, "amount must be positive"));
            }
            Ok(AmountEntry { meta, amount })
        })
        .collect()
}

fn letter_kind_index(s: &str) -> Option<usize> {
    match s {
        "purring" => Some(0),
        "inkassovarsel" => Some(1),
        "betalingsoppfordring" => Some(2),
        _ => None,
    }
}

impl Rulebook {
    /// The embedded Norwegian rulebook, parsed and validated once per process.
    ///
    /// The embedded file is validated by the unit tests and at every build of this crate's
    /// tests; should it still fail at run time, this panics on first use (a deployment with a
    /// broken rulebook must not compute anything). Use [`Rulebook::try_norway`] to handle it.
    pub fn norway() -> &'static Rulebook {
        match Self::try_norway() {
            Ok(r) => r,
            Err(e) => panic!("the embedded rulebook shared/rules/no.toml is invalid: {e}"),
        }
    }

    /// Like [`Rulebook::norway`] but returns the load error.
    pub fn try_norway() -> Result<&'static Rulebook, RulebookError> {
        static BOOK: OnceLock<Result<Rulebook, RulebookError>> = OnceLock::new();
        BOOK.get_or_init(|| Rulebook::from_toml_str(NORWAY_TOML))
            .as_ref()
            .map_err(Clone::clone)
    }

    /// Parses and validates a rulebook file.
    pub fn from_toml_str(text: &str) -> Result<Rulebook, RulebookError> {
        let raw: RawFile = toml::from_str(text).map_err(|e| RulebookError::Parse(e.to_string()))?;

        // Forsinkelsesrente: contiguous, bounded, one calendar year per entry, exact millionths.
        let t = Table::Forsinkelsesrente;
        let mut rates = raw
            .forsinkelsesrente
            .iter()
            .map(|r| {
                let meta = meta_of(t, r)?;
                let rate = need(t, &r.id, "rate_percent", r.rate_percent)?;
                if rate <= Decimal::ZERO || rate > Decimal::ONE_HUNDRED {
                    return Err(invalid(t, &r.id, "rate_percent must be in (0, 100]"));
                }
                let micro = rate * Decimal::from(10_000);
                if micro.fract() != Decimal::ZERO {
                    return Err(invalid(
                        t,
                        &r.id,
                        "rate_percent has more than four decimals",
                    ));
                }
                let rate_micro =
                    i64::try_from(micro.trunc()).map_err(|e| invalid(t, &r.id, e.to_string()))?;
                if let Some(to) = meta.valid_to {
                    if to.year() != meta.valid_from.year() {
                        return Err(invalid(
                            t,
                            &r.id,
                            "a rate period must lie within one calendar year",
                        ));
                    }
                }
                Ok(RateEntry {
                    meta,
                    rate_percent: rate,
                    rate_micro,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        check_periods(t, &mut rates, true, true)?;
        if rates.len() > usize::from(u16::MAX) {
            return Err(invalid(t, "*", "too many entries"));
        }
        let rate_segments = rates
            .iter()
            .enumerate()
            .filter_map(|(i, e)| {
                let to = e.meta.valid_to?;
                let year_days = if e.meta.valid_from.leap_year() {
                    366
                } else {
                    365
                };
                Some(RateSegment {
                    first: e.meta.valid_from.num_days_from_ce(),
                    last: to.num_days_from_ce(),
                    rate_micro: e.rate_micro,
                    year_days,
                    entry: i as u16,
                })
            })
            .collect();

        let mut compensation =
            amount_entries(Table::Standardkompensasjon, &raw.standardkompensasjon)?;
        // Gaps allowed (values not found are left out and answered with a RuleGap).
        check_periods(Table::Standardkompensasjon, &mut compensation, false, true)?;

        let mut inkassosats = amount_entries(Table::Inkassosats, &raw.inkassosats)?;
        check_periods(Table::Inkassosats, &mut inkassosats, true, true)?;

        let t = Table::FeeFractions;
        let mut fee_fractions = raw
            .fee_fractions
            .iter()
            .map(|r| {
                let meta = meta_of(t, r)?;
                let frac = |n: Option<u32>,
                            d: Option<u32>,
                            nn: &str,
                            dn: &str|
                 -> Result<Fraction, RulebookError> {
                    let numerator = need(t, &r.id, nn, n)?;
                    let denominator = need(t, &r.id, dn, d)?;
                    if denominator == 0 || numerator == 0 || numerator > denominator {
                        return Err(invalid(t, &r.id, "a fee fraction must be in (0, 1]"));
                    }
                    Ok(Fraction {
                        numerator,
                        denominator,
                    })
                };
                Ok(FractionEntry {
                    fee: frac(
                        r.fee_numerator,
                        r.fee_denominator,
                        "fee_numerator",
                        "fee_denominator",
                    )?,
                    betalingsoppfordring: frac(
                        r.bo_numerator,
                        r.bo_denominator,
                        "bo_numerator",
                        "bo_denominator",
                    )?,
                    meta,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        check_periods(t, &mut fee_fractions, true, false)?;

        let t = Table::FeeRounding;
        let mut fee_rounding = raw
            .fee_rounding
            .iter()
            .map(|r| {
                let meta = meta_of(t, r)?;
                let rounding = match need(t, &r.id, "rounding", r.rounding.as_deref())? {
                    "exact" => FeeRounding::Exact,
                    "nearest-krone" => FeeRounding::NearestKrone,
                    other => return Err(invalid(t, &r.id, format!("unknown rounding {other:?}"))),
                };
                Ok(RoundingEntry { meta, rounding })
            })
            .collect::<Result<Vec<_>, _>>()?;
        check_periods(t, &mut fee_rounding, true, false)?;

        let t = Table::Deadline;
        let deadlines = raw
            .deadline
            .iter()
            .map(|r| {
                let meta = meta_of(t, r)?;
                let (days, months) = match (r.days, r.months) {
                    (Some(d), None) if (1..=366).contains(&d) => (d, 0),
                    (None, Some(m)) if (1..=120).contains(&m) => (0, m),
                    (Some(_), None) => return Err(invalid(t, &r.id, "days must be 1..=366")),
                    (None, Some(_)) => return Err(invalid(t, &r.id, "months must be 1..=120")),
                    _ => {
                        return Err(invalid(
                            t,
                            &r.id,
                            "exactly one of `days` and `months` is required",
                        ))
                    }
                };
                Ok(DeadlineEntry {
                    meta,
                    days,
                    months,
                    validity_years: r.validity_years,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let find_deadline = |id: &str| -> Result<usize, RulebookError> {
            let hits: Vec<usize> = deadlines
                .iter()
                .enumerate()
                .filter(|(_, d)| d.meta.id == id)
                .map(|(i, _)| i)
                .collect();
            match hits.as_slice() {
                [i] => Ok(*i),
                [] => Err(RulebookError::MissingEntry {
                    table: t.key(),
                    what: id.to_string(),
                }),
                _ => Err(invalid(t, id, "duplicate id")),
            }
        };
        let deadline_ids = DeadlineIds {
            fee_earliest_after_due: find_deadline("fee-earliest-after-due")?,
            purring: find_deadline("purring-deadline")?,
            inkassovarsel: find_deadline("inkassovarsel-deadline")?,
            betalingsoppfordring_after_missed: find_deadline("betalingsoppfordring-after-missed")?,
            betalingsoppfordring: find_deadline("betalingsoppfordring-deadline")?,
            tvfbl_4_18: find_deadline("tvfbl-4-18-deadline")?,
            betalingsoppfordring_valid: find_deadline(
                "betalingsoppfordring-valid-for-legal-steps",
            )?,
        };
        for (i, id) in [
            (
                deadline_ids.fee_earliest_after_due,
                "fee-earliest-after-due",
            ),
            (deadline_ids.purring, "purring-deadline"),
            (deadline_ids.inkassovarsel, "inkassovarsel-deadline"),
            (
                deadline_ids.betalingsoppfordring_after_missed,
                "betalingsoppfordring-after-missed",
            ),
            (
                deadline_ids.betalingsoppfordring,
                "betalingsoppfordring-deadline",
            ),
            (deadline_ids.tvfbl_4_18, "tvfbl-4-18-deadline"),
        ] {
            if deadlines[i].days == 0 {
                return Err(invalid(t, id, "a period in days is required"));
            }
        }
        if deadlines[deadline_ids.betalingsoppfordring_valid].months == 0 {
            return Err(invalid(
                t,
                "betalingsoppfordring-valid-for-legal-steps",
                "a period in months is required",
            ));
        }
        if deadlines[deadline_ids.tvfbl_4_18].validity_years.is_none() {
            return Err(invalid(
                t,
                "tvfbl-4-18-deadline",
                "validity_years is required",
            ));
        }

        let t = Table::LetterLimits;
        let mut letter_limits = raw
            .letter_limits
            .iter()
            .map(|r| {
                let meta = meta_of(t, r)?;
                let combos = need(t, &r.id, "combinations", r.combinations.as_ref())?;
                let mut combinations = Vec::with_capacity(combos.len());
                for c in combos {
                    let mut counts = [0u8; 3];
                    for k in c {
                        let i = letter_kind_index(k).ok_or_else(|| {
                            invalid(t, &r.id, format!("unknown fee-bearing letter {k:?}"))
                        })?;
                        counts[i] = counts[i].saturating_add(1);
                    }
                    combinations.push(counts);
                }
                if combinations.is_empty() {
                    return Err(invalid(t, &r.id, "no combinations"));
                }
                Ok(LetterLimitsEntry {
                    meta,
                    combinations,
                    second_fee_needs_missed_deadline_days: need(
                        t,
                        &r.id,
                        "second_fee_needs_missed_deadline_days",
                        r.second_fee_needs_missed_deadline_days,
                    )?,
                    reset_months: need(t, &r.id, "reset_months", r.reset_months)?,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        check_periods(t, &mut letter_limits, true, false)?;

        let mut rettsgebyr = amount_entries(Table::Rettsgebyr, &raw.rettsgebyr)?;
        check_periods(Table::Rettsgebyr, &mut rettsgebyr, true, true)?;

        let t = Table::RettsgebyrMultiplier;
        let multipliers = raw
            .rettsgebyr_multiplier
            .iter()
            .map(|r| {
                let meta = meta_of(t, r)?;
                let key = need(t, &r.id, "fee", r.fee.as_deref())?;
                let Some(fee) = CourtFee::ALL.into_iter().find(|f| f.key() == key) else {
                    return Err(invalid(t, &r.id, format!("unknown court fee {key:?}")));
                };
                let multiplier = need(t, &r.id, "multiplier", r.multiplier)?;
                if multiplier <= Decimal::ZERO {
                    return Err(invalid(t, &r.id, "multiplier must be positive"));
                }
                Ok(MultiplierEntry {
                    meta,
                    fee,
                    multiplier,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut multipliers_sorted = Vec::with_capacity(multipliers.len());
        for fee in CourtFee::ALL {
            let mut part: Vec<MultiplierEntry> = multipliers
                .iter()
                .filter(|m| m.fee == fee)
                .cloned()
                .collect();
            check_periods(t, &mut part, true, false)?;
            multipliers_sorted.extend(part);
        }

        let t = Table::Limitation;
        let mut limitation = raw
            .limitation
            .iter()
            .map(|r| {
                let meta = meta_of(t, r)?;
                let years = need(t, &r.id, "years", r.years)?;
                let judgment_years = need(t, &r.id, "judgment_years", r.judgment_years)?;
                if years == 0 || judgment_years == 0 {
                    return Err(invalid(t, &r.id, "years must be positive"));
                }
                Ok(LimitationEntry {
                    meta,
                    years,
                    judgment_years,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        check_periods(t, &mut limitation, true, false)?;

        let t = Table::Inkassolov;
        let mut inkassolov = raw
            .inkassolov
            .iter()
            .map(|r| {
                Ok(InkassolovEntry {
                    meta: meta_of(t, r)?,
                    law: need(t, &r.id, "law", r.law.clone())?,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        // Regimes follow each other; the old one ends where the new one starts (set below).
        inkassolov.sort_by_key(|e| e.meta.valid_from);
        let new_law = inkassolov
            .iter()
            .position(|e| e.law == "LOV-2026-05-22-19")
            .ok_or_else(|| RulebookError::MissingEntry {
                table: t.key(),
                what: "the new inkassolov LOV-2026-05-22-19".into(),
            })?;
        let new_law_in_force = inkassolov[new_law].meta.valid_from;

        let mut book = Rulebook {
            jurisdiction: raw.rulebook.jurisdiction,
            version: raw.rulebook.version,
            data_as_of: raw.rulebook.data_as_of,
            description: raw.rulebook.description,
            rates,
            rate_segments,
            compensation,
            inkassosats,
            fee_fractions,
            fee_rounding,
            deadlines,
            deadline_ids,
            letter_limits,
            rettsgebyr,
            multipliers: multipliers_sorted,
            limitation,
            inkassolov,
            new_law,
            new_law_in_force,
        };
        book.apply_new_law_in_force(new_law_in_force)?;
        Ok(book)
    }

    /// A copy of this rulebook with the new inkassolov in force from `date` instead of the
    /// date in the data (the in-force date is decided by the King in Council).
    pub fn with_new_law_in_force(&self, date: NaiveDate) -> Result<Rulebook, RulebookError> {
        let mut b = self.clone();
        b.apply_new_law_in_force(date)?;
        Ok(b)
    }

    fn apply_new_law_in_force(&mut self, date: NaiveDate) -> Result<(), RulebookError> {
        let t = Table::Inkassolov;
        if self.new_law == 0 {
            return Err(RulebookError::MissingEntry {
                table: t.key(),
                what: "the regime in force before LOV-2026-05-22-19".into(),
            });
        }
        let prev = self.new_law - 1;
        if date <= self.inkassolov[prev].meta.valid_from {
            return Err(invalid(
                t,
                &self.inkassolov[self.new_law].meta.id,
                "in-force date before the old act",
            ));
        }
        self.new_law_in_force = date;
        self.inkassolov[self.new_law].meta.valid_from = date;
        self.inkassolov[prev].meta.valid_to = date.pred_opt();
        let mut v = std::mem::take(&mut self.inkassolov);
        let r = check_periods(t, &mut v, true, false);
        self.inkassolov = v;
        r
    }

    // --------------------------------------------------------------------------------------
    // Resolving references
    // --------------------------------------------------------------------------------------

    /// The metadata of a referenced entry.
    pub fn meta(&self, r: RuleRef) -> &RuleMeta {
        let i = usize::from(r.index);
        match r.table {
            Table::Forsinkelsesrente => &self.rates[i].meta,
            Table::Standardkompensasjon => &self.compensation[i].meta,
            Table::Inkassosats => &self.inkassosats[i].meta,
            Table::FeeFractions => &self.fee_fractions[i].meta,
            Table::FeeRounding => &self.fee_rounding[i].meta,
            Table::Deadline => &self.deadlines[i].meta,
            Table::LetterLimits => &self.letter_limits[i].meta,
            Table::Rettsgebyr => &self.rettsgebyr[i].meta,
            Table::RettsgebyrMultiplier => &self.multipliers[i].meta,
            Table::Limitation => &self.limitation[i].meta,
            Table::Inkassolov => &self.inkassolov[i].meta,
        }
    }

    /// The tag stamped on amounts, e.g. `"forsinkelsesrente:2026-H1@FOR-2025-12-18-2658"`.
    pub fn tag(&self, r: RuleRef) -> &str {
        &self.meta(r).tag
    }

    /// The new inkassolov's in-force date in this rulebook.
    pub fn new_law_in_force(&self) -> NaiveDate {
        self.new_law_in_force
    }

    pub fn new_law(&self) -> &InkassolovEntry {
        &self.inkassolov[self.new_law]
    }

    /// The last day with a known forsinkelsesrente.
    pub fn last_rate_day(&self) -> NaiveDate {
        self.rates
            .last()
            .and_then(|e| e.meta.valid_to)
            .unwrap_or(NaiveDate::MIN)
    }

    pub fn rates(&self) -> &[RateEntry] {
        &self.rates
    }

    pub fn compensation_entries(&self) -> &[AmountEntry] {
        &self.compensation
    }

    pub fn inkassosats_entries(&self) -> &[AmountEntry] {
        &self.inkassosats
    }

    pub fn rettsgebyr_entries(&self) -> &[AmountEntry] {
        &self.rettsgebyr
    }

    /// All entries of all tables (for listings and for the data tests).
    pub fn all_meta(&self) -> Vec<&RuleMeta> {
        let mut v: Vec<&RuleMeta> = Vec::new();
        v.extend(self.rates.iter().map(|e| &e.meta));
        v.extend(self.compensation.iter().map(|e| &e.meta));
        v.extend(self.inkassosats.iter().map(|e| &e.meta));
        v.extend(self.fee_fractions.iter().map(|e| &e.meta));
        v.extend(self.fee_rounding.iter().map(|e| &e.meta));
        v.extend(self.deadlines.iter().map(|e| &e.meta));
        v.extend(self.letter_limits.iter().map(|e| &e.meta));
        v.extend(self.rettsgebyr.iter().map(|e| &e.meta));
        v.extend(self.multipliers.iter().map(|e| &e.meta));
        v.extend(self.limitation.iter().map(|e| &e.meta));
        v.extend(self.inkassolov.iter().map(|e| &e.meta));
        v
    }

    // --------------------------------------------------------------------------------------
    // Dated look-ups
    // --------------------------------------------------------------------------------------

    fn find<T: HasMeta>(v: &[T], date: NaiveDate) -> Option<usize> {
        // Sorted by valid_from, no overlaps: the candidate is the last entry starting on or before.
        let i = v.partition_point(|e| e.meta().valid_from <= date);
        if i == 0 {
            return None;
        }
        v[i - 1].meta().covers(date).then_some(i - 1)
    }

    fn rref(table: Table, i: usize) -> RuleRef {
        RuleRef {
            table,
            index: i as u16,
        }
    }

    /// The forsinkelsesrente in force on `date`.
    pub fn rate_on(&self, date: NaiveDate) -> Result<(&RateEntry, RuleRef), RuleGap> {
        Self::find(&self.rates, date)
            .map(|i| (&self.rates[i], Self::rref(Table::Forsinkelsesrente, i)))
            .ok_or(RuleGap::new(date, Missing::ForsinkelsesrenteRate))
    }

    /// The standardkompensasjon (FRL § 3a, business debtors only) in force on `date`.
    pub fn standardkompensasjon_on(&self, date: NaiveDate) -> Result<(Money, RuleRef), RuleGap> {
        Self::find(&self.compensation, date)
            .map(|i| {
                (
                    self.compensation[i].amount,
                    Self::rref(Table::Standardkompensasjon, i),
                )
            })
            .ok_or(RuleGap::new(date, Missing::Standardkompensasjon))
    }

    /// The inkassosats on `date` (the send date of a letter).
    pub fn inkassosats_on(&self, date: NaiveDate) -> Result<(Money, RuleRef), RuleGap> {
        Self::find(&self.inkassosats, date)
            .map(|i| {
                (
                    self.inkassosats[i].amount,
                    Self::rref(Table::Inkassosats, i),
                )
            })
            .ok_or(RuleGap::new(date, Missing::Inkassosats))
    }

    /// The fee fractions for a claim that fell due on `due_date`.
    pub fn fee_fractions_for_due(
        &self,
        due_date: NaiveDate,
    ) -> Result<(&FractionEntry, RuleRef), RuleGap> {
        Self::find(&self.fee_fractions, due_date)
            .map(|i| (&self.fee_fractions[i], Self::rref(Table::FeeFractions, i)))
            .ok_or(RuleGap::new(due_date, Missing::FeeFractions))
    }

    /// The rounding rule for fee amounts in a letter sent on `date`.
    pub fn fee_rounding_on(&self, date: NaiveDate) -> Result<(FeeRounding, RuleRef), RuleGap> {
        Self::find(&self.fee_rounding, date)
            .map(|i| {
                (
                    self.fee_rounding[i].rounding,
                    Self::rref(Table::FeeRounding, i),
                )
            })
            .ok_or(RuleGap::new(date, Missing::FeeRounding))
    }

    pub(crate) fn deadline(&self, i: usize) -> (&DeadlineEntry, RuleRef) {
        (&self.deadlines[i], Self::rref(Table::Deadline, i))
    }

    pub(crate) fn letter_limits_on(
        &self,
        date: NaiveDate,
    ) -> Option<(&LetterLimitsEntry, RuleRef)> {
        Self::find(&self.letter_limits, date)
            .map(|i| (&self.letter_limits[i], Self::rref(Table::LetterLimits, i)))
    }

    /// Rettsgebyr (R) on `date`.
    pub fn rettsgebyr_on(&self, date: NaiveDate) -> Result<(Money, RuleRef), RuleGap> {
        Self::find(&self.rettsgebyr, date)
            .map(|i| (self.rettsgebyr[i].amount, Self::rref(Table::Rettsgebyr, i)))
            .ok_or(RuleGap::new(date, Missing::Rettsgebyr))
    }

    /// A court fee on `date`: multiplier × R, rounded down to whole kroner
    /// (rettsgebyrloven § 6 a). Stamped with the rettsgebyr and the multiplier entries.
    pub fn court_fee_on(&self, fee: CourtFee, date: NaiveDate) -> Result<CourtFeeAmount, RuleGap> {
        let (r, r_ref) = self.rettsgebyr_on(date)?;
        let i = self
            .multipliers
            .iter()
            .position(|m| m.fee == fee && m.meta.covers(date))
            .ok_or(RuleGap::new(date, Missing::RettsgebyrMultiplier))?;
        let m = &self.multipliers[i];
        let amount =
            Money::from_decimal((r.as_decimal() * m.multiplier).floor()).unwrap_or(Money::ZERO);
        Ok(CourtFeeAmount {
            fee,
            amount,
            rettsgebyr: r,
            multiplier: m.multiplier,
            rules: [r_ref, Self::rref(Table::RettsgebyrMultiplier, i)],
        })
    }

    pub(crate) fn limitation_on(
        &self,
        date: NaiveDate,
    ) -> Result<(&LimitationEntry, RuleRef), RuleGap> {
        Self::find(&self.limitation, date)
            .map(|i| (&self.limitation[i], Self::rref(Table::Limitation, i)))
            .ok_or(RuleGap::new(date, Missing::LimitationRule))
    }

    /// Whether the new inkassolov is in force on `date`.
    pub fn new_law_in_force_on(&self, date: NaiveDate) -> bool {
        date >= self.new_law_in_force
    }

    // --------------------------------------------------------------------------------------
    // Listing what is in force on a day
    // --------------------------------------------------------------------------------------

    /// The rules in force on `date`, with their values and sources, plus the gaps.
    pub fn in_force_on(&self, date: NaiveDate) -> InForce {
        let mut rules = Vec::new();
        let mut gaps = Vec::new();
        let push = |rules: &mut Vec<InForceRule>, meta: &RuleMeta, value: String, applies: &str| {
            rules.push(InForceRule {
                tag: meta.tag.clone(),
                table: meta.table,
                id: meta.id.clone(),
                value,
                applies_to: applies.to_string(),
                valid_from: meta.valid_from,
                valid_to: meta.valid_to,
                basis: meta.basis.clone(),
                source: meta.source.clone(),
                confidence: meta.confidence,
                note: meta.note.clone(),
            });
        };
        match self.rate_on(date) {
            Ok((e, _)) => push(
                &mut rules,
                &e.meta,
                format!("{} % p.a.", e.rate_percent),
                "every claim accruing interest that day",
            ),
            Err(g) => gaps.push(g),
        }
        match Self::find(&self.compensation, date) {
            Some(i) => push(
                &mut rules,
                &self.compensation[i].meta,
                format!("{} kr", self.compensation[i].amount),
                "business debtors only; offsets fees",
            ),
            None => gaps.push(RuleGap::new(date, Missing::Standardkompensasjon)),
        }
        let new_law = self.new_law_in_force_on(date);
        if new_law {
            gaps.push(RuleGap::new(date, Missing::NewInkassolovRegulations));
        }
        let sats = Self::find(&self.inkassosats, date);
        match sats {
            Some(i) => push(
                &mut rules,
                &self.inkassosats[i].meta,
                format!("{} kr", self.inkassosats[i].amount),
                "letters sent that day",
            ),
            None => gaps.push(RuleGap::new(date, Missing::Inkassosats)),
        }
        let rounding = Self::find(&self.fee_rounding, date);
        for f in self
            .fee_fractions
            .iter()
            .filter(|f| f.meta.valid_from <= date)
        {
            let mut value = format!(
                "purring/inkassovarsel {}, betalingsoppfordring {}",
                f.fee, f.betalingsoppfordring
            );
            if let (Some(si), Some(ri), false) = (sats, rounding, new_law) {
                let sats = self.inkassosats[si].amount;
                let r = self.fee_rounding[ri].rounding;
                value.push_str(&format!(
                    " = {} kr / {} kr",
                    fee_amount(sats, f.fee, r),
                    fee_amount(sats, f.betalingsoppfordring, r)
                ));
            }
            let applies = match f.meta.valid_to {
                Some(to) => format!("claims due {} … {}", f.meta.valid_from, to),
                None => format!("claims due from {}", f.meta.valid_from),
            };
            push(&mut rules, &f.meta, value, &applies);
        }
        match rounding {
            Some(i) => {
                let v = match self.fee_rounding[i].rounding {
                    FeeRounding::Exact => "no rounding (exact amounts)",
                    FeeRounding::NearestKrone => "rounded half-up to whole kroner",
                };
                push(
                    &mut rules,
                    &self.fee_rounding[i].meta,
                    v.to_string(),
                    "fee amounts in letters sent that day",
                )
            }
            None => gaps.push(RuleGap::new(date, Missing::FeeRounding)),
        }
        for d in self.deadlines.iter().filter(|d| d.meta.covers(date)) {
            let mut v = if d.months > 0 {
                format!("{} months", d.months)
            } else {
                format!("{} days", d.days)
            };
            if let Some(y) = d.validity_years {
                v.push_str(&format!(", valid {y} year(s) after the deadline"));
            }
            push(&mut rules, &d.meta, v, "letters sent that day");
        }
        for l in self.letter_limits.iter().filter(|l| l.meta.covers(date)) {
            let combos: Vec<String> = l
                .combinations
                .iter()
                .map(|c| {
                    let mut parts = Vec::new();
                    for (n, name) in
                        c.iter()
                            .zip(["purring", "inkassovarsel", "betalingsoppfordring"])
                    {
                        if *n > 0 {
                            parts.push(format!("{n}× {name}"));
                        }
                    }
                    parts.join(" + ")
                })
                .collect();
            push(
                &mut rules,
                &l.meta,
                format!(
                    "fee-bearing letters per claim: {}; second 1/20 fee after a missed ≥{}-day deadline; reset {} months after the last fee-bearing letter",
                    combos.join(" OR "),
                    l.second_fee_needs_missed_deadline_days,
                    l.reset_months
                ),
                "each claim",
            );
        }
        match Self::find(&self.rettsgebyr, date) {
            Some(i) => push(
                &mut rules,
                &self.rettsgebyr[i].meta,
                format!("R = {} kr", self.rettsgebyr[i].amount),
                "court fees that day",
            ),
            None => gaps.push(RuleGap::new(date, Missing::Rettsgebyr)),
        }
        for fee in CourtFee::ALL {
            if let Some(m) = self
                .multipliers
                .iter()
                .find(|m| m.fee == fee && m.meta.covers(date))
            {
                let v = match self.court_fee_on(fee, date) {
                    Ok(c) => format!("{} R = {} kr", m.multiplier.normalize(), c.amount),
                    Err(_) => format!("{} R", m.multiplier.normalize()),
                };
                push(&mut rules, &m.meta, v, fee.key());
            } else {
                gaps.push(RuleGap::new(date, Missing::RettsgebyrMultiplier));
            }
        }
        match Self::find(&self.limitation, date) {
            Some(i) => {
                let l = &self.limitation[i];
                push(
                    &mut rules,
                    &l.meta,
                    format!(
                        "{} years ({} years after a judgment)",
                        l.years, l.judgment_years
                    ),
                    "every claim",
                )
            }
            None => gaps.push(RuleGap::new(date, Missing::LimitationRule)),
        }
        for l in &self.inkassolov {
            let status = if l.meta.covers(date) {
                "in force"
            } else if l.meta.valid_from > date {
                "adopted, not yet in force"
            } else {
                "no longer in force"
            };
            if l.meta.covers(date) || l.meta.valid_from > date {
                push(
                    &mut rules,
                    &l.meta,
                    format!("{} ({status})", l.law),
                    "inkasso regime",
                );
            }
        }
        InForce {
            date,
            rulebook_version: self.version.clone(),
            rules,
            gaps,
        }
    }
}

/// A court fee computed from the rettsgebyr.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CourtFeeAmount {
    pub fee: CourtFee,
    pub amount: Money,
    pub rettsgebyr: Money,
    pub multiplier: Decimal,
    pub rules: [RuleRef; 2],
}

/// One rule in force on a day (an edge type, allocated freely).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InForceRule {
    pub tag: String,
    pub table: Table,
    pub id: String,
    pub value: String,
    pub applies_to: String,
    pub valid_from: NaiveDate,
    pub valid_to: Option<NaiveDate>,
    pub basis: String,
    pub source: String,
    pub confidence: Confidence,
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InForce {
    pub date: NaiveDate,
    pub rulebook_version: String,
    pub rules: Vec<InForceRule>,
    pub gaps: Vec<RuleGap>,
}

/// A chapter 1 fee: `sats × fraction`, rounded as the rule on the send date says.
pub fn fee_amount(sats: Money, fraction: Fraction, rounding: FeeRounding) -> Money {
    let num = sats.to_ore() * i128::from(fraction.numerator);
    let den = i128::from(fraction.denominator);
    match rounding {
        FeeRounding::Exact => {
            if num % den == 0 {
                Money::from_ore((num / den) as i64)
            } else {
                Money::round_half_up(Decimal::from_i128_with_scale(num, 2) / Decimal::from(den))
            }
        }
        FeeRounding::NearestKrone => {
            // kroner = round_half_up(num / (den × 100)), num ≥ 0.
            let d = den * 100;
            let kr = (2 * num + d) / (2 * d);
            Money::from_kroner(kr as i64)
        }
    }
}

/// Adds calendar months, clamping to the month's end (31 Aug + 6 months = 28/29 Feb).
pub(crate) fn add_months(d: NaiveDate, months: u32) -> NaiveDate {
    d.checked_add_months(Months::new(months))
        .unwrap_or(NaiveDate::MAX)
}

pub(crate) fn add_days(d: NaiveDate, days: u32) -> NaiveDate {
    d.checked_add_days(Days::new(u64::from(days)))
        .unwrap_or(NaiveDate::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn embedded_rulebook_loads_and_is_contiguous() {
        let b = Rulebook::norway();
        assert_eq!(b.rates.first().unwrap().meta.valid_from, d("2015-01-01"));
        assert_eq!(b.last_rate_day(), d("2026-12-31"));
        assert_eq!(b.rates.len(), 24);
        for w in b.rates.windows(2) {
            assert_eq!(
                w[0].meta.valid_to.unwrap().succ_opt().unwrap(),
                w[1].meta.valid_from
            );
        }
        assert_eq!(b.new_law_in_force(), d("2027-01-01"));
    }

    #[test]
    fn tags_name_table_period_and_regulation() {
        let b = Rulebook::norway();
        let (_, r) = b.rate_on(d("2026-03-01")).unwrap();
        assert_eq!(b.tag(r), "forsinkelsesrente:2026-H1@FOR-2025-12-18-2658");
    }

    #[test]
    fn fee_amounts_round_from_2026() {
        let t = Fraction {
            numerator: 1,
            denominator: 20,
        };
        let bo = Fraction {
            numerator: 3,
            denominator: 20,
        };
        assert_eq!(
            fee_amount(Money::from_kroner(750), t, FeeRounding::NearestKrone),
            Money::from_kroner(38)
        );
        assert_eq!(
            fee_amount(Money::from_kroner(750), bo, FeeRounding::NearestKrone),
            Money::from_kroner(113)
        );
        assert_eq!(
            fee_amount(Money::from_kroner(750), t, FeeRounding::Exact).to_string(),
            "37.50"
        );
        assert_eq!(
            fee_amount(Money::from_kroner(700), t, FeeRounding::Exact),
            Money::from_kroner(35)
        );
        assert_eq!(
            fee_amount(Money::from_kroner(700), bo, FeeRounding::Exact),
            Money::from_kroner(105)
        );
    }

    #[test]
    fn court_fees_round_down() {
        let b = Rulebook::norway();
        let u = b
            .court_fee_on(CourtFee::BegjaeringOmUtlegg, d("2026-03-01"))
            .unwrap();
        assert_eq!(u.amount, Money::from_kroner(1627));
        let u25 = b
            .court_fee_on(CourtFee::BegjaeringOmUtlegg, d("2025-03-01"))
            .unwrap();
        assert_eq!(u25.amount, Money::from_kroner(1589));
        let f = b
            .court_fee_on(CourtFee::Forliksklage, d("2026-03-01"))
            .unwrap();
        assert_eq!(f.amount, Money::from_kroner(2071));
        let f24 = b
            .court_fee_on(CourtFee::Forliksklage, d("2024-03-01"))
            .unwrap();
        assert_eq!(f24.amount, Money::from_kroner(1404));
        assert_eq!(
            b.court_fee_on(CourtFee::Forliksklage, d("2017-03-01"))
                .unwrap_err()
                .missing,
            Missing::RettsgebyrMultiplier
        );
        assert_eq!(
            b.court_fee_on(CourtFee::BegjaeringOmUtlegg, d("2027-01-01"))
                .unwrap_err(),
            RuleGap::new(d("2027-01-01"), Missing::Rettsgebyr)
        );
    }

    #[test]
    fn new_law_date_is_overridable() {
        let b = Rulebook::norway()
            .with_new_law_in_force(d("2027-07-01"))
            .unwrap();
        assert_eq!(b.new_law_in_force(), d("2027-07-01"));
        assert!(!b.new_law_in_force_on(d("2027-06-30")));
        assert!(b.new_law_in_force_on(d("2027-07-01")));
        assert!(Rulebook::norway()
            .with_new_law_in_force(d("1980-01-01"))
            .is_err());
    }
}
