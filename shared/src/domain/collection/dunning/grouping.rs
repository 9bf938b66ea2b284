//! Grouping: the day's notices of one debtor that stand at the same step go in one letter, with
//! one fee.
//!
//! Notices share a letter when they have the same account, customer, step, send date, channel
//! and language. The letter lists each claim's amounts, oldest claim (earliest due date) first,
//! and carries at most one fee: it stays on the oldest claim that has one; the others lose
//! theirs with the reason [`Reason::OneFeePerLetter`] (the fee pays for a letter, INKF § 1-1, so
//! one letter earns one). Each claim keeps its own interest and standardkompensasjon. The
//! letter's id is a hash of (account, customer, step, send date, sorted case ids), so planning
//! the same day again names the same letter.

use super::planner::PlannedNotice;
use super::{Channel, Language, Step};
use crate::domain::case::CaseId;
use crate::domain::collection::letters::Reason;
use crate::domain::money::Money;
use crate::domain::setup::AccountId;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// Which case a notice belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CaseRef {
    pub account_id: AccountId,
    pub case_id: CaseId,
}

/// A letter's id: `ltr_` and 32 hex digits (FNV-1a 128 of what identifies the letter).
#[derive(
    utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct LetterId(String);

impl LetterId {
    /// The id of the letter to `customer_id` of `account`, at `step` on `send_date`, for
    /// `case_ids` (any order).
    pub fn of(
        account: &AccountId,
        customer_id: i64,
        step: Step,
        send_date: NaiveDate,
        case_ids: &[&CaseId],
    ) -> Self {
        let mut ids: Vec<String> = case_ids.iter().map(|c| c.to_string()).collect();
        ids.sort();
        ids.dedup();
        let mut h = Fnv128::new();
        h.write(b"inndrive.letter.v1");
        h.field(account.to_string().as_bytes());
        h.field(customer_id.to_string().as_bytes());
        h.field(step.key().as_bytes());
        h.field(send_date.to_string().as_bytes());
        for id in &ids {
            h.field(id.as_bytes());
        }
        Self(format!("ltr_{:032x}", h.0))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A letter id as [`LetterId::of`] makes them (`ltr_` and 32 lowercase hex digits).
    pub fn parse(s: &str) -> Option<Self> {
        let hex = s.strip_prefix("ltr_")?;
        (hex.len() == 32 && hex.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f')))
            .then(|| Self(s.to_string()))
    }
}

impl fmt::Display for LetterId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// FNV-1a, 128 bits: a stable, dependency-free hash (not for security; the input is our own ids).
struct Fnv128(u128);

impl Fnv128 {
    const OFFSET: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
    const PRIME: u128 = 0x0000_0000_0100_0000_0000_0000_0000_013b;

    fn new() -> Self {
        Self(Self::OFFSET)
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u128::from(*b);
            self.0 = self.0.wrapping_mul(Self::PRIME);
        }
    }

    /// A field, separated from the previous one by a NUL (ids never contain one).
    fn field(&mut self, bytes: &[u8]) {
        self.write(&[0]);
        self.write(bytes);
    }
}

/// One claim in a letter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LetterClaim {
    pub case_id: CaseId,
    pub notice: PlannedNotice,
}

/// One letter to one debtor, for one or more claims at the same step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LetterPlan {
    pub letter_id: LetterId,
    pub account_id: AccountId,
    pub customer_id: i64,
    pub step: Step,
    pub send_date: NaiveDate,
    /// The latest of the claims' deadlines (every claim in the letter gets it).
    pub deadline: NaiveDate,
    pub channel: Channel,
    pub language: Language,
    /// Oldest claim first (due date, then case id).
    pub claims: Vec<LetterClaim>,
    /// The sum of the claims' totals.
    pub total: Money,
}

impl LetterPlan {
    /// The one fee the letter carries, if any.
    pub fn fee(&self) -> Money {
        self.claims
            .iter()
            .filter_map(|c| c.notice.amounts.fee)
            .fold(Money::ZERO, |acc, f| acc + f.amount)
    }
}

/// Groups the day's notices into letters (see the module comment). Deterministic: the letters
/// come ordered by (account, customer, step, send date, channel, language).
pub fn group_notices(notices: Vec<(CaseRef, i64, PlannedNotice)>) -> Vec<LetterPlan> {
    type Key = (AccountId, i64, Step, NaiveDate, Channel, Language);
    let mut groups: BTreeMap<Key, Vec<LetterClaim>> = BTreeMap::new();
    for (case, customer_id, notice) in notices {
        let key = (
            case.account_id,
            customer_id,
            notice.step,
            notice.send_date,
            notice.channel,
            notice.language,
        );
        groups.entry(key).or_default().push(LetterClaim {
            case_id: case.case_id,
            notice,
        });
    }
    groups
        .into_iter()
        .map(
            |((account_id, customer_id, step, send_date, channel, language), mut claims)| {
                claims.sort_by(|a, b| {
                    (a.notice.due_date, &a.case_id).cmp(&(b.notice.due_date, &b.case_id))
                });
                claims.dedup_by(|a, b| a.case_id == b.case_id);
                let deadline = claims
                    .iter()
                    .map(|c| c.notice.deadline)
                    .max()
                    .unwrap_or(send_date);
                let mut fee_kept = false;
                for c in claims.iter_mut() {
                    c.notice.extend_deadline(deadline);
                    if c.notice.amounts.fee.is_some() {
                        if fee_kept {
                            c.notice.drop_fee(Reason::OneFeePerLetter);
                        }
                        fee_kept = true;
                    }
                }
                let total = claims
                    .iter()
                    .fold(Money::ZERO, |acc, c| acc + c.notice.amounts.total);
                let ids: Vec<&CaseId> = claims.iter().map(|c| &c.case_id).collect();
                LetterPlan {
                    letter_id: LetterId::of(&account_id, customer_id, step, send_date, &ids),
                    account_id,
                    customer_id,
                    step,
                    send_date,
                    deadline,
                    channel,
                    language,
                    claims,
                    total,
                }
            },
        )
        .collect()
}
