//! Letters and fees: may this letter be sent on this day, with which fee and which deadline?
//!
//! Current law (inkassoloven 1988, inkassoforskriften chapter 1) for a creditor collecting its
//! own claims:
//! - påminnelse: any day after the due date, never a fee, no deadline required;
//! - purring and inkassovarsel: any day after the due date; a fee (1/10 or 1/20 of the
//!   inkassosats, by the claim's due date) only when sent at the earliest 14 days after the
//!   due date (INKF § 1-2); a 14-day deadline;
//! - own betalingsoppfordring: only after the debtor missed a deadline of at least 14 days
//!   set in a purring or inkassovarsel; fee 3/10 or 3/20; a 14-day deadline (INKL § 10);
//! - varsel etter tvangsfullbyrdelsesloven § 4-18: at the earliest on the due date, no fee,
//!   2-week deadline, valid one year after the deadline (§ 4-19). Not part of the inkasso
//!   regime, so the new inkassolov does not make it a gap.
//! - INKF § 1-3: fee-bearing letters per claim at most 2 purringer + 1 betalingsoppfordring,
//!   or 1 purring + 1 inkassovarsel + 1 betalingsoppfordring; a second 1/20 fee needs a missed
//!   ≥14-day deadline in the first; the count resets six months after the last fee-bearing
//!   letter.
//! - No letter (and so no fee) after an objection that is not obviously groundless
//!   (INKL § 17 (2)); the objection must be assessed first.
//! - Business debtors: a claimed standardkompensasjon (FRL § 3a) offsets the fees; the creditor
//!   gets the larger of the two, never the sum (INKF §§ 1-5, 2-6).
//! - On or after the new inkassolov's in-force date every fee-bearing inkasso letter (purring,
//!   inkassovarsel, betalingsoppfordring) is a [`RuleGap`]: their regulations are not published.
//!   A påminnelse stays lawful: it carries no fee, and the new act's rules for every creditor
//!   (§§ 14–18: god inkassoskikk, clear and polite communication, no costs after an objection)
//!   govern how it is written, not whether it may be sent.
//!
//! The decision holds only `Copy` data; sentences are formatted at the edges.

use super::calendar::next_business_day_on_or_after;
use super::rulebook::{
    add_days, add_months, fee_amount, Missing, RuleGap, RuleRef, Rulebook, Table,
};
use crate::domain::money::Money;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

#[derive(utoipa::ToSchema, Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LetterKind {
    /// Betalingspåminnelse: a soft reminder, never a fee.
    Paminnelse,
    Purring,
    Inkassovarsel,
    /// The creditor's own betalingsoppfordring (INKL § 10).
    Betalingsoppfordring,
    /// Varsel etter tvangsfullbyrdelsesloven § 4-18.
    #[serde(rename = "varsel-4-18")]
    Varsel418,
}

impl LetterKind {
    pub const ALL: [LetterKind; 5] = [
        LetterKind::Paminnelse,
        LetterKind::Purring,
        LetterKind::Inkassovarsel,
        LetterKind::Betalingsoppfordring,
        LetterKind::Varsel418,
    ];

    pub fn key(&self) -> &'static str {
        match self {
            LetterKind::Paminnelse => "paminnelse",
            LetterKind::Purring => "purring",
            LetterKind::Inkassovarsel => "inkassovarsel",
            LetterKind::Betalingsoppfordring => "betalingsoppfordring",
            LetterKind::Varsel418 => "varsel-4-18",
        }
    }

    pub fn name_no(&self) -> &'static str {
        match self {
            LetterKind::Paminnelse => "betalingspåminnelse",
            LetterKind::Purring => "purring",
            LetterKind::Inkassovarsel => "inkassovarsel",
            LetterKind::Betalingsoppfordring => "betalingsoppfordring",
            LetterKind::Varsel418 => "varsel etter tvangsfullbyrdelsesloven § 4-18",
        }
    }

    pub fn name_en(&self) -> &'static str {
        match self {
            LetterKind::Paminnelse => "payment reminder",
            LetterKind::Purring => "purring (reminder)",
            LetterKind::Inkassovarsel => "inkassovarsel (debt collection notice)",
            LetterKind::Betalingsoppfordring => "betalingsoppfordring (demand for payment)",
            LetterKind::Varsel418 => "notice under the Enforcement Act § 4-18",
        }
    }

    /// Index in a § 1-3 combination (purring, inkassovarsel, betalingsoppfordring).
    fn limit_index(&self) -> Option<usize> {
        match self {
            LetterKind::Purring => Some(0),
            LetterKind::Inkassovarsel => Some(1),
            LetterKind::Betalingsoppfordring => Some(2),
            _ => None,
        }
    }

    /// Purring and inkassovarsel carry the "1/20" fee.
    fn is_small_fee(&self) -> bool {
        matches!(self, LetterKind::Purring | LetterKind::Inkassovarsel)
    }
}

impl fmt::Display for LetterKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown letter kind {0:?} (paminnelse, purring, inkassovarsel, betalingsoppfordring, varsel-4-18)")]
pub struct UnknownLetterKind(pub String);

impl FromStr for LetterKind {
    type Err = UnknownLetterKind;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_lowercase().as_str() {
            "paminnelse"
            | "påminnelse"
            | "betalingspaminnelse"
            | "betalingspåminnelse"
            | "reminder" => Ok(LetterKind::Paminnelse),
            "purring" => Ok(LetterKind::Purring),
            "inkassovarsel" => Ok(LetterKind::Inkassovarsel),
            "betalingsoppfordring" => Ok(LetterKind::Betalingsoppfordring),
            "varsel-4-18" | "4-18" | "tvfbl-4-18" | "varsel418" => Ok(LetterKind::Varsel418),
            _ => Err(UnknownLetterKind(s.to_string())),
        }
    }
}

#[derive(
    utoipa::ToSchema, Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "kebab-case")]
pub enum DebtorKind {
    #[default]
    Consumer,
    Business,
}

impl FromStr for DebtorKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_lowercase().as_str() {
            "consumer" | "forbruker" | "b2c" => Ok(DebtorKind::Consumer),
            "business" | "naeringsdrivende" | "næringsdrivende" | "b2b" => {
                Ok(DebtorKind::Business)
            }
            other => Err(format!(
                "unknown debtor kind {other:?} (consumer, business)"
            )),
        }
    }
}

/// A letter already sent on the claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SentLetter {
    pub kind: LetterKind,
    pub sent: NaiveDate,
    /// The payment deadline the letter gave (last day to pay), if any.
    pub deadline: Option<NaiveDate>,
    /// The statutory fee the letter carried, BEFORE any offset against standardkompensasjon
    /// (record [`LetterDecision::fee_nominal`]). Zero = not a fee-bearing letter.
    pub fee: Money,
}

/// The debtor's objection (innsigelse) to the claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Objection {
    pub raised_on: NaiveDate,
    /// Set only after a person assessed the objection as obviously groundless.
    pub obviously_groundless: bool,
}

/// What the decision needs to know about the claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClaimFacts<'a> {
    pub due_date: NaiveDate,
    pub principal: Money,
    pub debtor: DebtorKind,
    /// Letters already sent, in any order. Letters dated after the proposed send date are
    /// ignored.
    pub letters: &'a [SentLetter],
    pub objection: Option<Objection>,
    /// The standardkompensasjon claimed on this claim (business debtors), which offsets fees.
    pub compensation_claimed: Option<Money>,
}

/// Why: a machine-readable reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reason {
    /// Allowed with the statutory fee.
    FeeAllowed,
    /// Allowed; this kind of letter never carries a fee.
    NoFeeForThisLetter,
    /// Not allowed: the claim is not overdue yet (the due date, moved to a business day, has
    /// not passed).
    NotOverdue,
    /// Allowed without a fee: sent earlier than 14 days after the due date.
    TooEarlyForFee,
    /// Allowed without a fee: INKF § 1-3's combinations are used up until the six-month reset.
    FeeLimitReached,
    /// Allowed without a fee: a second 1/20 fee needs a missed ≥14-day deadline in the first
    /// fee-bearing letter.
    SecondFeeNeedsMissedDeadline,
    /// Not allowed: a betalingsoppfordring needs a missed ≥14-day deadline in a purring or
    /// inkassovarsel.
    NeedsMissedDeadline,
    /// Not allowed: the debtor objected and the objection is not assessed as obviously
    /// groundless.
    DebtorObjected,
    /// Allowed; the fee is (partly) absorbed by the standardkompensasjon already claimed.
    OffsetByCompensation,
    /// Allowed without a fee: the creditor's dunning policy claims no fee for this step.
    FeeNotInPolicy,
    /// Allowed without a fee: the letter covers several claims of the debtor and carries one
    /// fee, on another (older) claim.
    OneFeePerLetter,
}

impl Reason {
    pub fn code(&self) -> &'static str {
        match self {
            Reason::FeeAllowed => "fee-allowed",
            Reason::NoFeeForThisLetter => "no-fee-for-this-letter",
            Reason::NotOverdue => "not-overdue",
            Reason::TooEarlyForFee => "too-early-for-fee",
            Reason::FeeLimitReached => "fee-limit-reached",
            Reason::SecondFeeNeedsMissedDeadline => "second-fee-needs-missed-deadline",
            Reason::NeedsMissedDeadline => "needs-missed-deadline",
            Reason::DebtorObjected => "debtor-objected",
            Reason::OffsetByCompensation => "offset-by-compensation",
            Reason::FeeNotInPolicy => "fee-not-in-policy",
            Reason::OneFeePerLetter => "one-fee-per-letter",
        }
    }
}

/// The rules a decision rests on (fixed capacity, `Copy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuleRefs {
    items: [Option<RuleRef>; 8],
}

impl RuleRefs {
    fn new() -> Self {
        Self { items: [None; 8] }
    }
    fn push(&mut self, r: RuleRef) {
        if let Some(slot) = self.items.iter_mut().find(|s| s.is_none()) {
            *slot = Some(r);
        }
    }
    pub fn iter(&self) -> impl Iterator<Item = RuleRef> + '_ {
        self.items.iter().flatten().copied()
    }
}

/// The answer for a proposed letter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LetterDecision {
    pub kind: LetterKind,
    pub send_date: NaiveDate,
    pub allowed: bool,
    /// The fee to demand in this letter (after any offset); zero when none is allowed.
    pub fee: Money,
    /// The statutory fee before the offset against standardkompensasjon (record this in
    /// [`SentLetter::fee`]).
    pub fee_nominal: Money,
    /// The earliest date this kind of letter may carry a fee, if it can.
    pub earliest_fee_date: Option<NaiveDate>,
    /// The earliest date this letter may be sent at all (for a not-allowed letter).
    pub earliest_send_date: Option<NaiveDate>,
    /// The minimum number of days the letter's deadline must give (0 = none required).
    pub deadline_days: u32,
    /// The earliest lawful last day to pay the letter must state (send date + deadline days).
    pub min_deadline: Option<NaiveDate>,
    /// For a § 4-18 varsel: the last day it can be relied on (one year after the deadline).
    pub valid_until: Option<NaiveDate>,
    pub reason: Reason,
    /// The due date after moving it to a business day.
    pub effective_due_date: NaiveDate,
    pub rules: RuleRefs,
}

impl LetterDecision {
    fn date_or_dash(d: Option<NaiveDate>) -> String {
        d.map_or_else(|| "-".to_string(), |d| d.format("%d.%m.%Y").to_string())
    }

    /// The reason as a sentence in Norwegian (bokmål).
    pub fn message_no(&self) -> String {
        let k = self.kind.name_no();
        let due = self.effective_due_date.format("%d.%m.%Y");
        let earliest = Self::date_or_dash(self.earliest_fee_date);
        let dl = Self::date_or_dash(self.min_deadline);
        match self.reason {
            Reason::FeeAllowed => format!(
                "{k} kan sendes med gebyr {} kr. Betalingsfristen må være minst {} dager (til og med {dl} eller senere).",
                self.fee, self.deadline_days
            ),
            Reason::NoFeeForThisLetter => {
                if self.deadline_days > 0 {
                    format!(
                        "{k} kan sendes, men gir ikke rett til gebyr. Fristen må være minst {} dager (til og med {dl}).",
                        self.deadline_days
                    )
                } else {
                    format!("{k} kan sendes, men gir ikke rett til gebyr.")
                }
            }
            Reason::NotOverdue => format!(
                "Kravet har ikke forfalt ennå (forfall {due}); {k} kan tidligst sendes {}.",
                Self::date_or_dash(self.earliest_send_date)
            ),
            Reason::TooEarlyForFee => format!(
                "{k} kan sendes, men uten gebyr: gebyr kan tidligst kreves 14 dager etter forfall, dvs. fra {earliest}."
            ),
            Reason::FeeLimitReached => format!(
                "{k} kan sendes, men uten gebyr: grensen for gebyrbelagte brev etter inkassoforskriften § 1-3 er nådd. Nytt gebyr tidligst {earliest}."
            ),
            Reason::SecondFeeNeedsMissedDeadline => format!(
                "{k} kan sendes, men uten gebyr: et nytt gebyr krever at skyldneren har oversittet en frist på minst 14 dager i første gebyrbelagte brev. Tidligst {earliest}."
            ),
            Reason::NeedsMissedDeadline => format!(
                "{k} kan ikke sendes ennå: skyldneren må først ha oversittet en frist på minst 14 dager i en purring eller et inkassovarsel. Tidligst {}.",
                Self::date_or_dash(self.earliest_send_date)
            ),
            Reason::DebtorObjected => format!(
                "{k} kan ikke sendes: skyldneren har kommet med en innsigelse som ikke er åpenbart grunnløs. Innsigelsen må vurderes først, og det kan ikke kreves gebyr."
            ),
            Reason::OffsetByCompensation => format!(
                "{k} kan sendes. Gebyret ({} kr) avregnes mot standardkompensasjonen som allerede er krevd; tillegg nå: {} kr.",
                self.fee_nominal, self.fee
            ),
            Reason::FeeNotInPolicy => {
                format!("{k} sendes uten gebyr: kreditor krever ikke gebyr for dette steget.")
            }
            Reason::OneFeePerLetter => format!(
                "{k} sendes uten gebyr for dette kravet: brevet gjelder flere krav og har ett gebyr, på det eldste kravet."
            ),
        }
    }

    /// The reason as a sentence in English.
    pub fn message_en(&self) -> String {
        let k = self.kind.name_en();
        let due = self.effective_due_date.format("%Y-%m-%d");
        let earliest = self
            .earliest_fee_date
            .map_or_else(|| "-".to_string(), |d| d.to_string());
        let dl = self
            .min_deadline
            .map_or_else(|| "-".to_string(), |d| d.to_string());
        match self.reason {
            Reason::FeeAllowed => format!(
                "The {k} may be sent with a fee of NOK {}. Its deadline must be at least {} days (through {dl} or later).",
                self.fee, self.deadline_days
            ),
            Reason::NoFeeForThisLetter => {
                if self.deadline_days > 0 {
                    format!(
                        "The {k} may be sent but carries no fee. Its deadline must be at least {} days (through {dl}).",
                        self.deadline_days
                    )
                } else {
                    format!("The {k} may be sent but carries no fee.")
                }
            }
            Reason::NotOverdue => format!(
                "The claim is not overdue yet (due {due}); the {k} can be sent from {} at the earliest.",
                self.earliest_send_date.map_or_else(|| "-".to_string(), |d| d.to_string())
            ),
            Reason::TooEarlyForFee => format!(
                "The {k} may be sent without a fee: a fee is allowed at the earliest 14 days after the due date, i.e. from {earliest}."
            ),
            Reason::FeeLimitReached => format!(
                "The {k} may be sent without a fee: the limit on fee-bearing letters (inkassoforskriften § 1-3) is reached. Next fee at the earliest {earliest}."
            ),
            Reason::SecondFeeNeedsMissedDeadline => format!(
                "The {k} may be sent without a fee: a second fee requires that the debtor missed a deadline of at least 14 days in the first fee-bearing letter. Earliest {earliest}."
            ),
            Reason::NeedsMissedDeadline => format!(
                "The {k} cannot be sent yet: the debtor must first miss a deadline of at least 14 days in a purring or inkassovarsel. Earliest {}.",
                self.earliest_send_date.map_or_else(|| "-".to_string(), |d| d.to_string())
            ),
            Reason::DebtorObjected => format!(
                "The {k} cannot be sent: the debtor raised an objection that is not obviously groundless. It must be assessed first, and no fee may be charged."
            ),
            Reason::OffsetByCompensation => format!(
                "The {k} may be sent. Its fee (NOK {}) is set off against the standardkompensasjon already claimed; to add now: NOK {}.",
                self.fee_nominal, self.fee
            ),
            Reason::FeeNotInPolicy => format!(
                "The {k} is sent without a fee: the creditor claims no fee for this step."
            ),
            Reason::OneFeePerLetter => format!(
                "The {k} is sent without a fee for this claim: the letter covers several claims and carries one fee, on the oldest claim."
            ),
        }
    }
}

fn count_fits(combos: &[[u8; 3]], counts: [u8; 3]) -> bool {
    combos
        .iter()
        .any(|c| counts[0] <= c[0] && counts[1] <= c[1] && counts[2] <= c[2])
}

impl Rulebook {
    /// Decides whether `kind` may be sent on `send`, with which fee and deadline.
    /// A [`RuleGap`] means: hold for review, the rulebook does not know the law on that day.
    pub fn decide_letter(
        &self,
        claim: &ClaimFacts<'_>,
        kind: LetterKind,
        send: NaiveDate,
    ) -> Result<LetterDecision, RuleGap> {
        // The new inkassolov: its regulations for a creditor's own fee-bearing letters are not
        // published. The fee-free påminnelse stays lawful (see the module comment); the § 4-18
        // varsel is enforcement law, outside the inkasso regime.
        let mut rules = RuleRefs::new();
        if self.new_law_in_force_on(send) {
            match kind {
                LetterKind::Paminnelse => rules.push(RuleRef {
                    table: Table::Inkassolov,
                    index: self.new_law as u16,
                }),
                LetterKind::Varsel418 => {}
                LetterKind::Purring
                | LetterKind::Inkassovarsel
                | LetterKind::Betalingsoppfordring => {
                    return Err(RuleGap::new(send, Missing::NewInkassolovRegulations));
                }
            }
        }
        let effective_due = next_business_day_on_or_after(claim.due_date);
        let day_after_due = add_days(effective_due, 1);
        let mut d = LetterDecision {
            kind,
            send_date: send,
            allowed: true,
            fee: Money::ZERO,
            fee_nominal: Money::ZERO,
            earliest_fee_date: None,
            earliest_send_date: None,
            deadline_days: 0,
            min_deadline: None,
            valid_until: None,
            reason: Reason::NoFeeForThisLetter,
            effective_due_date: effective_due,
            rules,
        };

        // Deadline the letter must give.
        let ids = self.deadline_ids;
        let deadline_rule = match kind {
            LetterKind::Paminnelse => None,
            LetterKind::Purring => Some(ids.purring),
            LetterKind::Inkassovarsel => Some(ids.inkassovarsel),
            LetterKind::Betalingsoppfordring => Some(ids.betalingsoppfordring),
            LetterKind::Varsel418 => Some(ids.tvfbl_4_18),
        };
        if let Some(i) = deadline_rule {
            let (e, r) = self.deadline(i);
            rules.push(r);
            d.deadline_days = e.days;
            let dl = add_days(send, e.days);
            d.min_deadline = Some(dl);
            if let Some(y) = e.validity_years {
                d.valid_until = Some(add_months(dl, 12 * y));
            }
        }

        // Not overdue yet. The § 4-18 varsel may be sent on the due date itself.
        let earliest_send = if kind == LetterKind::Varsel418 {
            effective_due
        } else {
            day_after_due
        };
        if send < earliest_send {
            d.allowed = false;
            d.reason = Reason::NotOverdue;
            d.earliest_send_date = Some(earliest_send);
            d.min_deadline = None;
            d.valid_until = None;
            d.rules = rules;
            return Ok(d);
        }

        // An objection that is not obviously groundless stops letters and fees.
        if let Some(o) = claim.objection {
            if o.raised_on <= send && !o.obviously_groundless {
                d.allowed = false;
                d.reason = Reason::DebtorObjected;
                d.min_deadline = None;
                d.valid_until = None;
                d.rules = rules;
                return Ok(d);
            }
        }

        let Some(limit_idx) = kind.limit_index() else {
            // Påminnelse and § 4-18 varsel: never a fee.
            d.rules = rules;
            return Ok(d);
        };

        // The fee's data: sats on the send date, fractions by the due date, rounding on the send date.
        let (sats, sats_ref) = self.inkassosats_on(send)?;
        let (fractions, frac_ref) = self.fee_fractions_for_due(claim.due_date)?;
        let (rounding, round_ref) = self.fee_rounding_on(send)?;
        let (limits, limits_ref) = self
            .letter_limits_on(send)
            .ok_or(RuleGap::new(send, Missing::LetterLimits))?;
        rules.push(sats_ref);
        rules.push(frac_ref);
        rules.push(round_ref);
        rules.push(limits_ref);
        let fraction = if kind == LetterKind::Betalingsoppfordring {
            fractions.betalingsoppfordring
        } else {
            fractions.fee
        };
        let nominal = fee_amount(sats, fraction, rounding);

        let letters = claim.letters.iter().filter(|l| l.sent <= send);
        let min_days = |days: u32| {
            move |l: &&SentLetter| l.deadline.is_some_and(|dl| dl >= add_days(l.sent, days))
        };

        // Betalingsoppfordring: needs a missed ≥14-day deadline in a purring or inkassovarsel.
        let mut earliest_base = {
            let (e, r) = self.deadline(ids.fee_earliest_after_due);
            rules.push(r);
            add_days(effective_due, e.days)
        };
        if kind == LetterKind::Betalingsoppfordring {
            let (e, r) = self.deadline(ids.betalingsoppfordring_after_missed);
            rules.push(r);
            // The first day after a qualifying deadline (the deadline's last day is still on time).
            let first_after = letters
                .clone()
                .filter(|l| l.kind.is_small_fee())
                .filter(min_days(e.days))
                .filter_map(|l| l.deadline.map(|dl| add_days(dl, 1)))
                .min();
            match first_after {
                Some(day) if day <= send => earliest_base = earliest_base.max(day),
                _ => {
                    d.allowed = false;
                    d.reason = Reason::NeedsMissedDeadline;
                    d.earliest_send_date = first_after;
                    d.earliest_fee_date = d.earliest_send_date;
                    d.min_deadline = None;
                    d.rules = rules;
                    return Ok(d);
                }
            }
        }

        // INKF § 1-3: the current group of fee-bearing letters (the chain without a six-month pause).
        let fee_letters = || {
            letters
                .clone()
                .filter(|l| !l.fee.is_zero() && l.kind.limit_index().is_some())
        };
        let reset_months = limits.reset_months;
        let last_fee = fee_letters().map(|l| l.sent).max();
        let mut group_start: Option<NaiveDate> = None;
        let mut reset_day: Option<NaiveDate> = None;
        if let Some(last) = last_fee {
            let reset = add_months(last, reset_months);
            if send >= reset {
                reset_day = Some(reset);
            } else {
                let mut start = last;
                // Walk back while the previous fee letter is less than six months before.
                while let Some(prev) = fee_letters()
                    .map(|l| l.sent)
                    .filter(|&s| s < start && add_months(s, reset_months) > start)
                    .max()
                {
                    start = prev;
                }
                group_start = Some(start);
            }
        }
        let in_group = |l: &&SentLetter| group_start.is_some_and(|g| l.sent >= g);
        let mut counts = [0u8; 3];
        for l in fee_letters().filter(in_group) {
            if let Some(i) = l.kind.limit_index() {
                counts[i] = counts[i].saturating_add(1);
            }
        }
        let mut with_this = counts;
        with_this[limit_idx] = with_this[limit_idx].saturating_add(1);
        let group_reset = last_fee.map(|l| add_months(l, reset_months));

        // The earliest fee date under the data, and whether the fee is possible in this group.
        let mut reason_if_blocked = None;
        let mut earliest = earliest_base;
        if let Some(r) = reset_day {
            earliest = earliest.max(r);
        }
        if !count_fits(&limits.combinations, with_this) {
            reason_if_blocked = Some(Reason::FeeLimitReached);
            earliest = earliest.max(group_reset.unwrap_or(earliest));
        } else if kind.is_small_fee() && counts[0] + counts[1] >= 1 {
            // A second 1/20 fee: the first fee-bearing purring/varsel of the group must have
            // had a ≥14-day deadline that has passed.
            let first = fee_letters()
                .filter(in_group)
                .filter(|l| l.kind.is_small_fee())
                .min_by_key(|l| l.sent);
            let needed = first
                .filter(min_days(limits.second_fee_needs_missed_deadline_days))
                .and_then(|l| l.deadline)
                .map(|dl| add_days(dl, 1));
            match needed {
                Some(day) => earliest = earliest.max(day),
                None => {
                    reason_if_blocked = Some(Reason::SecondFeeNeedsMissedDeadline);
                    earliest = earliest.max(group_reset.unwrap_or(earliest));
                }
            }
        }
        d.earliest_fee_date = Some(earliest);

        if send < earliest || reason_if_blocked.is_some() {
            d.reason = reason_if_blocked.unwrap_or(if send < earliest_base {
                Reason::TooEarlyForFee
            } else {
                Reason::SecondFeeNeedsMissedDeadline
            });
            d.rules = rules;
            return Ok(d);
        }

        // The fee is due. Offset against a claimed standardkompensasjon (business debtors):
        // the debtor owes max(compensation, all fees), never the sum.
        d.fee_nominal = nominal;
        d.fee = nominal;
        d.reason = Reason::FeeAllowed;
        if let (DebtorKind::Business, Some(c)) = (claim.debtor, claim.compensation_claimed) {
            let prev: Money = claim
                .letters
                .iter()
                .filter(|l| l.sent <= send)
                .fold(Money::ZERO, |acc, l| acc + l.fee);
            let before = c.max(prev);
            let after = c.max(prev + nominal);
            let payable = after - before;
            if payable < nominal {
                d.fee = payable;
                d.reason = Reason::OffsetByCompensation;
            }
        }
        d.rules = rules;
        Ok(d)
    }

    /// The next letter in Inndrive's default chain (purring → inkassovarsel →
    /// betalingsoppfordring → § 4-18 varsel), decided for `today`. `None` when the chain is
    /// complete (next step: a legal step, outside this decision).
    pub fn next_letter(
        &self,
        claim: &ClaimFacts<'_>,
        today: NaiveDate,
    ) -> Result<Option<LetterDecision>, RuleGap> {
        let sent = |k: LetterKind| claim.letters.iter().any(|l| l.kind == k && l.sent <= today);
        let kind = if !sent(LetterKind::Purring) && !sent(LetterKind::Inkassovarsel) {
            LetterKind::Purring
        } else if !sent(LetterKind::Inkassovarsel) {
            LetterKind::Inkassovarsel
        } else if !sent(LetterKind::Betalingsoppfordring) {
            LetterKind::Betalingsoppfordring
        } else if !sent(LetterKind::Varsel418) {
            LetterKind::Varsel418
        } else {
            return Ok(None);
        };
        self.decide_letter(claim, kind, today).map(Some)
    }

    /// The standardkompensasjon a creditor may claim (FRL § 3a): business debtors only, the
    /// amount of the half-year of the first interest day. `Ok(None)` for consumers.
    pub fn standardkompensasjon(
        &self,
        debtor: DebtorKind,
        due_date: NaiveDate,
    ) -> Result<Option<(Money, RuleRef)>, RuleGap> {
        if debtor == DebtorKind::Consumer {
            return Ok(None);
        }
        let first_interest_day = add_days(next_business_day_on_or_after(due_date), 1);
        self.standardkompensasjon_on(first_interest_day).map(Some)
    }
}
