//! What is kept per sent notice and claim, so the planner's inputs can be rebuilt from it: the
//! letters on the claim (`SentLetter`, for the next step, the fee limits and the deadlines), the
//! interest and fees demanded (`ChargesDemanded`, summed by the claim), and whether the
//! standardkompensasjon was claimed.

use super::planner::{sent_letters, PlannedNotice};
use super::Step;
use crate::domain::claim::ChargesDemanded;
use crate::domain::collection::letters::SentLetter;
use crate::domain::money::Money;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// One claim's part of one sent letter.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NoticeRecord {
    /// The letter ([`super::grouping::LetterId`]); the reference of the claim's charges.
    pub letter_id: String,
    pub step: Step,
    /// The real send date.
    pub sent: NaiveDate,
    /// The last day to pay the letter gave.
    pub deadline: NaiveDate,
    /// The statutory fee before the offset against standardkompensasjon (zero: no fee). This is
    /// what INKF § 1-3 counts.
    pub fee_nominal: Money,
    /// The fee demanded (after the offset).
    pub fee: Money,
    /// The standardkompensasjon claimed with this notice (its full amount), if it was.
    #[serde(default)]
    pub compensation_nominal: Option<Money>,
    /// The standardkompensasjon demanded (after the offset against earlier fees).
    #[serde(default)]
    pub compensation: Money,
    /// The interest through the send date, as the letter showed it.
    pub interest_total: Money,
    /// The interest not demanded before (what the claim's charges add).
    pub interest_increment: Money,
}

impl NoticeRecord {
    /// The record of `notice`, sent in letter `letter_id`.
    pub fn new(letter_id: &str, notice: &PlannedNotice) -> Self {
        let a = &notice.amounts;
        Self {
            letter_id: letter_id.to_string(),
            step: notice.step,
            sent: notice.send_date,
            deadline: notice.deadline,
            fee_nominal: a.fee.map_or(Money::ZERO, |f| f.nominal),
            fee: a.fee.map_or(Money::ZERO, |f| f.amount),
            compensation_nominal: a.compensation.map(|c| c.nominal),
            compensation: a.compensation.map_or(Money::ZERO, |c| c.amount),
            interest_total: a.interest.map_or(Money::ZERO, |i| i.amount),
            interest_increment: a.interest_increment,
        }
    }

    /// The letters of the rulebook this notice was (two for the betalingsoppfordring step: it is
    /// also the § 4-18 varsel).
    pub fn sent_letters(&self) -> impl Iterator<Item = SentLetter> {
        sent_letters(self.step, self.sent, self.deadline, self.fee_nominal)
    }

    /// The charges this notice demanded, to apply to the claim (the interest increment, not the
    /// running total; fees after offsets, compensation included).
    pub fn charges_demanded(&self) -> ChargesDemanded {
        ChargesDemanded {
            reference: self.letter_id.clone(),
            date: self.sent,
            interest: self.interest_increment,
            fees: self.fee + self.compensation,
        }
    }
}

/// The standardkompensasjon claimed on a claim by its notices (the first one that claimed it).
pub fn compensation_claimed(records: &[NoticeRecord]) -> Option<Money> {
    records
        .iter()
        .filter(|r| r.compensation_nominal.is_some())
        .min_by_key(|r| r.sent)
        .and_then(|r| r.compensation_nominal)
}
