//! A realistic sample letter, computed with the real rulebook: the operator CLI renders it
//! (`inndrive letters render`), the benchmark times it and the tests read it back from the PDF.
//!
//! The oldest claim fell due 90 days before the send date (more when there are many claims), the
//! others 3, 6, 9 … days after it; interest runs from the day after
//! each due date; earlier letters went out on the usual timetable (purring at due + 15 days,
//! inkassovarsel at due + 30, each with a 14-day deadline), and their fees, like this letter's,
//! are what [`Rulebook::decide_letter`] allows. As the grouping of notices does, only the oldest
//! claim carries a fee (and, for a business debtor, the standardkompensasjon).

use super::{ChargeLine, ClaimLine, InterestLine, LetterInput, RatePeriod, Recipient};
use crate::domain::collection::dunning::{BankAccount, Language, Sender, Step};
use crate::domain::collection::kid::Kid;
use crate::domain::collection::letters::{ClaimFacts, DebtorKind, SentLetter};
use crate::domain::collection::rulebook::{add_days, RuleGap, Rulebook, Table};
use crate::domain::ledger::PostalAddress;
use crate::domain::money::Money;
use crate::domain::{InterestError, OrgNumber};
use chrono::{Days, NaiveDate};

fn days_before(d: NaiveDate, days: u64) -> NaiveDate {
    d.checked_sub_days(Days::new(days))
        .unwrap_or(NaiveDate::MIN)
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SampleError {
    #[error("a sample letter lists 1 to 500 claims, not {0}")]
    Claims(usize),
    #[error(transparent)]
    Gap(#[from] RuleGap),
    #[error(transparent)]
    Interest(#[from] InterestError),
}

/// The sample creditor.
pub fn sample_sender() -> Sender {
    Sender {
        name: "Bølgen & Skjærgård Rørleggerservice AS".into(),
        organization_number: OrgNumber::parse("923609016").ok(),
        address: PostalAddress {
            lines: vec!["Storgata 1".into()],
            postal_code: Some("0155".into()),
            city: Some("Oslo".into()),
            country_code: Some("NO".into()),
        },
        bank_account: BankAccount::parse("8601 11 17947")
            .unwrap_or_else(|_| unreachable!("a valid published example number")),
        email: Some("faktura@bolgen-skjaergard.no".into()),
        phone: Some("22 12 34 56".into()),
        reply_to: Some("faktura@bolgen-skjaergard.no".into()),
    }
}

/// The sample debtor: in Norway for bokmål, in Sweden for English.
pub fn sample_recipient(language: Language, debtor: DebtorKind) -> Recipient {
    match (language, debtor) {
        (Language::Nb, DebtorKind::Consumer) => Recipient {
            name: "Åse Øvrebø Ærlig".into(),
            address: PostalAddress {
                lines: vec!["Bærumsveien 12 B".into()],
                postal_code: Some("1337".into()),
                city: Some("Sandvika".into()),
                country_code: Some("NO".into()),
            },
        },
        (Language::Nb, DebtorKind::Business) => Recipient {
            name: "Fjøsnisse Gårdsdrift AS".into(),
            address: PostalAddress {
                lines: vec!["Att. regnskap".into(), "Postboks 123 Sentrum".into()],
                postal_code: Some("7401".into()),
                city: Some("Trondheim".into()),
                country_code: Some("NO".into()),
            },
        },
        (Language::En, DebtorKind::Consumer) => Recipient {
            name: "Anna Öberg".into(),
            address: PostalAddress {
                lines: vec!["Storgatan 5".into()],
                postal_code: Some("111 22".into()),
                city: Some("Stockholm".into()),
                country_code: Some("SE".into()),
            },
        },
        (Language::En, DebtorKind::Business) => Recipient {
            name: "Nordic Timber Trading AB".into(),
            address: PostalAddress {
                lines: vec!["Hamngatan 10".into()],
                postal_code: Some("411 14".into()),
                city: Some("Göteborg".into()),
                country_code: Some("SE".into()),
            },
        },
    }
}

/// The chain's earlier fee-bearing letters before `step`, sent on the usual timetable, and the
/// fees they demanded (after any offset against the standardkompensasjon).
fn history(
    rulebook: &Rulebook,
    step: Step,
    facts: &ClaimFacts<'_>,
) -> Result<(Vec<SentLetter>, Money), RuleGap> {
    let mut sent: Vec<SentLetter> = Vec::new();
    let mut demanded = Money::ZERO;
    for (i, earlier) in [Step::Purring, Step::Inkassovarsel].into_iter().enumerate() {
        if earlier >= step {
            break;
        }
        let on = add_days(facts.due_date, 15 * (i as u32 + 1));
        let f = ClaimFacts {
            letters: &sent,
            ..*facts
        };
        let d = rulebook.decide_letter(&f, earlier.letter_kind(), on)?;
        demanded = demanded + d.fee;
        sent.push(SentLetter {
            kind: earlier.letter_kind(),
            sent: on,
            deadline: Some(add_days(on, 14)),
            fee: d.fee_nominal,
        });
    }
    Ok((sent, demanded))
}

/// A sample letter of `step` with `claims` invoices, sent on `sent_on`.
pub fn sample(
    rulebook: &Rulebook,
    step: Step,
    language: Language,
    claims: usize,
    debtor: DebtorKind,
    sent_on: NaiveDate,
) -> Result<LetterInput, SampleError> {
    if !(1..=500).contains(&claims) {
        return Err(SampleError::Claims(claims));
    }
    let mut lines = Vec::with_capacity(claims);
    let oldest_due = days_before(sent_on, 90.max(20 + 3 * (claims as u64 - 1)));
    for i in 0..claims {
        let due = add_days(oldest_due, 3 * i as u32);
        let invoice_date = days_before(due, 14);
        // 500 kr … 20 000 kr, varied, whole kroner plus some øre.
        let principal = Money::from_ore(50_000 + ((i as i64 * 7_919_37) % 1_950_000));
        let it = rulebook.interest(principal, due, sent_on)?;
        let interest = it.first_day.map(|from| InterestLine {
            amount: it.total,
            from,
            to: it.last_day,
            rates: it
                .segments
                .iter()
                .map(|s| RatePeriod {
                    percent: s.rate_percent,
                    from: s.from,
                    to: s.to,
                    rule: rulebook.tag(s.rule).to_string(),
                })
                .collect(),
        });
        let oldest = i == 0;
        let compensation = if oldest && step != Step::Paminnelse {
            rulebook.standardkompensasjon(debtor, due)?
        } else {
            None
        };
        let facts = ClaimFacts {
            due_date: due,
            principal,
            debtor,
            letters: &[],
            objection: None,
            compensation_claimed: compensation.map(|(m, _)| m),
        };
        let (earlier_fees, fee) = if oldest {
            let (sent, earlier) = history(rulebook, step, &facts)?;
            let f = ClaimFacts {
                letters: &sent,
                ..facts
            };
            let d = rulebook.decide_letter(&f, step.letter_kind(), sent_on)?;
            let fee = (d.allowed && !d.fee.is_zero()).then(|| ChargeLine {
                amount: d.fee,
                rule: d
                    .rules
                    .iter()
                    .filter(|r| r.table == Table::FeeFractions)
                    .map(|r| rulebook.tag(r).to_string())
                    .collect::<Vec<_>>()
                    .join(" "),
            });
            (earlier, fee)
        } else {
            (Money::ZERO, None)
        };
        let compensation = compensation.map(|(amount, rule)| ChargeLine {
            amount,
            rule: rulebook.tag(rule).to_string(),
        });
        let total = [
            interest.as_ref().map_or(Money::ZERO, |i| i.amount),
            earlier_fees,
            fee.as_ref().map_or(Money::ZERO, |f| f.amount),
            compensation.as_ref().map_or(Money::ZERO, |f| f.amount),
        ]
        .into_iter()
        .fold(principal, |a, b| a + b);
        lines.push(ClaimLine {
            invoice_number: (10_023 + i).to_string(),
            invoice_date: Some(invoice_date),
            due_date: due,
            principal,
            interest,
            earlier_fees,
            earlier_compensation: Money::ZERO,
            fee,
            compensation,
            total,
        });
    }
    let grand_total = lines.iter().fold(Money::ZERO, |a, c| a + c.total);
    let kid = match lines.as_slice() {
        [one] => Kid::generate_mod10(&format!("{:0>8}", one.invoice_number)).ok(),
        _ => None,
    };
    let deadline_days = match step {
        Step::Paminnelse => 7,
        _ => 14,
    };
    Ok(LetterInput {
        letter_id: format!("{}-{}-{}", sent_on.format("%Y%m%d"), step.key(), claims),
        step,
        language,
        sent_on,
        deadline: add_days(sent_on, deadline_days),
        sender: sample_sender(),
        recipient: sample_recipient(language, debtor),
        claims: lines,
        grand_total,
        kid,
        case_reference: "SAK-2026-00417".into(),
    })
}
