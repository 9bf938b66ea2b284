//! What a dunning letter says: [`LetterInput`] (plain facts) → [`LetterDocument`] (the composed
//! letter, in bokmål or English), plus the e-mail subject and plain-text body that carry it.
//!
//! Pure: no clock, no I/O. Where the letter is laid out and how it becomes a PDF is
//! `shared::documents` (feature `documents`); this module decides every word.
//!
//! Legal contents (norwegian-collection-rules.md § 3.2), per step:
//! - every letter: what the claim concerns (invoice number, dates), the amounts with principal,
//!   interest, fees and compensation shown separately, the deadline as a date, how to pay
//!   (account, KID or message), how to object, and the creditor;
//! - purring with fee: amount and what the claim concerns (INKF § 1-2), the fee's basis;
//! - inkassovarsel (inkassoloven § 9): heading «Inkassovarsel», the unambiguous statement that
//!   collection will be started if the claim is not paid by the deadline; the word "purring"
//!   appears nowhere in it;
//! - betalingsoppfordring (inkassoloven § 10 (2) a–e): the creditor, what the claim concerns, the
//!   amounts separately, the interest rate and the date interest runs from, the deadline to pay
//!   or object, that legal collection with further costs may follow; combined with the varsel
//!   etter tvangsfullbyrdelsesloven § 4-18 (an oppfordring to pay, and that enforcement may
//!   otherwise be requested).
//!
//! Each statement the letter makes is recorded as a [`Statement`] with its legal basis, so the
//! tests (and a reader) can check a letter against [`Statement::required_for`].

mod compose;
pub mod format;
mod sample;

pub use format::NBSP;
pub use sample::{sample, sample_recipient, sample_sender, SampleError};

use super::{Language, Sender, Step};
use crate::domain::collection::kid::Kid;
use crate::domain::ledger::PostalAddress;
use crate::domain::money::Money;
use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::Serialize;

// ---------------------------------------------------------------------------------------------
// Input
// ---------------------------------------------------------------------------------------------

/// Everything a letter needs, as plain values. The dunning service fills it from the planner's
/// notice (amounts with their rule tags), the policy's sender and the debtor's address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LetterInput {
    /// The deterministic letter id (also the PDF's document id).
    pub letter_id: String,
    pub step: Step,
    pub language: Language,
    /// The day the letter is sent (its date).
    pub sent_on: NaiveDate,
    /// The last day to pay (and, for a betalingsoppfordring, to object).
    pub deadline: NaiveDate,
    pub sender: Sender,
    pub recipient: Recipient,
    /// The claims, in the order they are listed (oldest first is the planner's order).
    pub claims: Vec<ClaimLine>,
    /// The sum of the claims' totals: what the debtor is asked to pay.
    pub grand_total: Money,
    /// The KID to pay with: only when the letter covers one claim (several claims: none, the
    /// debtor gives the invoice numbers as message).
    pub kid: Option<Kid>,
    /// The case reference the creditor uses ("Vår referanse").
    pub case_reference: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Recipient {
    pub name: String,
    pub address: PostalAddress,
}

/// One claim (invoice) in the letter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClaimLine {
    pub invoice_number: String,
    pub invoice_date: Option<NaiveDate>,
    pub due_date: NaiveDate,
    /// The principal still outstanding.
    pub principal: Money,
    /// Forsinkelsesrente to the send date (none when interest is off).
    pub interest: Option<InterestLine>,
    /// Fees demanded by earlier letters and still unpaid.
    pub earlier_fees: Money,
    /// Standardkompensasjon (FRL § 3a) claimed by an earlier letter and still unpaid.
    pub earlier_compensation: Money,
    /// This letter's fee.
    pub fee: Option<ChargeLine>,
    /// Standardkompensasjon claimed in this letter (business debtors only).
    pub compensation: Option<ChargeLine>,
    /// principal + interest + earlier fees + earlier compensation + fee + compensation.
    pub total: Money,
}

/// Forsinkelsesrente on one claim: the amount through `to`, from the first interest day `from`,
/// at the rates in force on those days.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InterestLine {
    pub amount: Money,
    /// First interest day (the day after the effective due date).
    pub from: NaiveDate,
    /// Last interest day (the send date).
    pub to: NaiveDate,
    /// The rates applied, each over the days it covered, in date order.
    pub rates: Vec<RatePeriod>,
}

/// An annual forsinkelsesrente rate applied from `from` through `to` (inclusive).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RatePeriod {
    /// Percent per year, e.g. 12.25.
    pub percent: Decimal,
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// The rulebook tag of the rate (e.g. `forsinkelsesrente:2026-H2@FOR-2026-06-25-1372`).
    pub rule: String,
}

/// A fee or a compensation, with the rulebook tag it rests on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChargeLine {
    pub amount: Money,
    pub rule: String,
}

// ---------------------------------------------------------------------------------------------
// Output
// ---------------------------------------------------------------------------------------------

/// The composed letter. The PDF layout places these parts; nothing here depends on the layout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LetterDocument {
    pub letter_id: String,
    pub step: Step,
    pub language: Language,
    /// The heading («Inkassovarsel», …).
    pub title: String,
    /// The creditor's name (top of the first page, the closing and every page header).
    pub sender_name: String,
    /// Under the creditor's name: address lines and organisation number.
    pub sender_lines: Vec<String>,
    /// The address block for the window envelope: name first, no blank lines, at most
    /// [`MAX_ADDRESS_LINES`] lines.
    pub recipient_lines: Vec<String>,
    /// Date, reference and deadline, beside the address block.
    pub meta: Vec<Field>,
    /// Before the claims table.
    pub intro: Vec<Paragraph>,
    pub table: ClaimTable,
    pub totals: Vec<TotalLine>,
    pub payment: PaymentBox,
    /// After the payment box: interest, fees, consequences, the § 4-18 varsel, objections.
    pub body: Vec<Paragraph>,
    /// "Med vennlig hilsen", the creditor's name.
    pub closing: Vec<String>,
    /// The creditor's contact details, printed at the foot of every page.
    pub footer: Vec<String>,
    /// The header of the second and later pages.
    pub continuation_header: String,
    /// The legal statements this letter makes, in the order they first appear.
    pub statements: Vec<Statement>,
    /// The rulebook tags behind the amounts (rates, fees, compensation), sorted, unique.
    pub rules: Vec<String>,
    email_subject: String,
    email_body: String,
}

/// The most lines the address block may have: what fits the C5 window (35 mm) at 10 pt.
pub const MAX_ADDRESS_LINES: usize = 6;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Field {
    pub label: String,
    pub value: String,
    /// Printed bold (the amount and the deadline).
    pub strong: bool,
}

/// A paragraph: an optional heading, then runs of text (a run may be bold).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Paragraph {
    pub heading: Option<String>,
    pub runs: Vec<Run>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Run {
    pub text: String,
    pub strong: bool,
}

impl Paragraph {
    pub(crate) fn new(runs: Vec<Run>) -> Self {
        Self {
            heading: None,
            runs,
        }
    }

    pub(crate) fn headed(heading: String, runs: Vec<Run>) -> Self {
        Self {
            heading: Some(heading),
            runs,
        }
    }

    /// The paragraph's text without its heading.
    pub fn text(&self) -> String {
        self.runs.iter().map(|r| r.text.as_str()).collect()
    }
}

pub(crate) fn plain(text: impl Into<String>) -> Run {
    Run {
        text: text.into(),
        strong: false,
    }
}

pub(crate) fn strong(text: impl Into<String>) -> Run {
    Run {
        text: text.into(),
        strong: true,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Align {
    Left,
    Right,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Column {
    pub title: String,
    pub align: Align,
}

/// The claims: one row per invoice; amount columns right-aligned. Columns without any amount in
/// this letter (no interest, no fee, no compensation) are left out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClaimTable {
    pub columns: Vec<Column>,
    pub rows: Vec<Vec<String>>,
}

/// A line of the totals under the table; the last one is what to pay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TotalLine {
    pub label: String,
    pub amount: String,
    pub strong: bool,
}

/// How to pay: account, KID or message, amount, deadline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentBox {
    pub title: String,
    pub fields: Vec<Field>,
}

/// A statement a dunning letter makes because a rule (or sound practice) asks for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Statement {
    /// Who the creditor is (name, organisation number, address).
    Creditor,
    /// What the claim concerns: invoice number, invoice and due date.
    WhatTheClaimConcerns,
    /// Principal, interest, fees and compensation as separate amounts, and their total.
    AmountsSeparately,
    /// The deadline, as a date.
    Deadline,
    /// The interest rate(s) used and the date interest runs from (or that none is charged).
    InterestRateAndStart,
    /// The fee and its basis, or that the letter carries none.
    Fee,
    /// The standardkompensasjon and that it does not come on top of the fees.
    Compensation,
    /// Account, KID or message, amount and deadline.
    PaymentDetails,
    /// Inkassovarsel: collection will be started if the claim is not paid by the deadline.
    CollectionWillStart,
    /// Betalingsoppfordring: the deadline is to pay or to object.
    PayOrObject,
    /// Betalingsoppfordring: non-payment may lead to legal collection with further costs.
    LegalCollectionMayFollow,
    /// The varsel etter tvangsfullbyrdelsesloven § 4-18.
    EnforcementNotice,
    /// How to object to the claim, and that an objection is looked at before going on.
    Objection,
}

impl Statement {
    /// The legal basis (or the practice) the statement rests on.
    pub fn basis(self) -> &'static str {
        match self {
            Statement::Creditor => "inkassoloven § 10 (2) a; god inkassoskikk (§ 8)",
            Statement::WhatTheClaimConcerns => "inkassoforskriften § 1-2; inkassoloven § 10 (2) b",
            Statement::AmountsSeparately => {
                "inkassoforskriften § 1-2; inkassoloven § 10 (2) c (hovedkrav og tilleggskrav hver for seg)"
            }
            Statement::Deadline => {
                "inkassoloven §§ 9 (1) og 10 (1) (minst 14 dager); inkassoforskriften § 1-3"
            }
            Statement::InterestRateAndStart => {
                "inkassoloven § 10 (2) d; forsinkelsesrenteloven §§ 2–3"
            }
            Statement::Fee => "inkassoforskriften § 1-2",
            Statement::Compensation => {
                "forsinkelsesrenteloven § 3a; inkassoforskriften §§ 1-5 og 2-6 (ikke i tillegg til gebyrene)"
            }
            Statement::PaymentDetails => "practice: what the debtor needs to pay correctly",
            Statement::CollectionWillStart => "inkassoloven § 9 (1)",
            Statement::PayOrObject => "inkassoloven § 10 (1)",
            Statement::LegalCollectionMayFollow => "inkassoloven § 10 (2) e",
            Statement::EnforcementNotice => "tvangsfullbyrdelsesloven § 4-18",
            Statement::Objection => "inkassoloven § 17 (2); god inkassoskikk (§ 8)",
        }
    }

    /// The statements a letter of `step` must make.
    pub fn required_for(step: Step) -> &'static [Statement] {
        use Statement::*;
        match step {
            Step::Paminnelse => &[
                Creditor,
                WhatTheClaimConcerns,
                AmountsSeparately,
                Deadline,
                Fee,
                PaymentDetails,
                Objection,
            ],
            Step::Purring => &[
                Creditor,
                WhatTheClaimConcerns,
                AmountsSeparately,
                Deadline,
                Fee,
                PaymentDetails,
                Objection,
            ],
            Step::Inkassovarsel => &[
                Creditor,
                WhatTheClaimConcerns,
                AmountsSeparately,
                Deadline,
                Fee,
                PaymentDetails,
                CollectionWillStart,
                Objection,
            ],
            Step::Betalingsoppfordring => &[
                Creditor,
                WhatTheClaimConcerns,
                AmountsSeparately,
                Deadline,
                InterestRateAndStart,
                Fee,
                PaymentDetails,
                PayOrObject,
                LegalCollectionMayFollow,
                EnforcementNotice,
                Objection,
            ],
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LetterError {
    #[error("a letter lists at least one claim")]
    NoClaims,
    #[error("the recipient has no name")]
    NoRecipientName,
    #[error("the deadline {deadline} is not after the send date {sent_on}")]
    DeadlineNotAfterSendDate {
        sent_on: NaiveDate,
        deadline: NaiveDate,
    },
    #[error("invoice {invoice}: {field} is negative")]
    NegativeAmount {
        invoice: String,
        field: &'static str,
    },
    #[error("invoice {invoice}: the total {stated} is not the sum of its parts ({computed})")]
    ClaimTotal {
        invoice: String,
        stated: Money,
        computed: Money,
    },
    #[error("the grand total {stated} is not the sum of the claims ({computed})")]
    GrandTotal { stated: Money, computed: Money },
    #[error("a KID identifies one claim; this letter lists {0}")]
    KidWithSeveralClaims(usize),
    #[error("a betalingspåminnelse never carries a fee (invoice {0})")]
    FeeOnPaminnelse(String),
    #[error("invoice {invoice}: the interest has no rate")]
    InterestWithoutRate { invoice: String },
    #[error("an amount is too large")]
    Overflow,
}

// ---------------------------------------------------------------------------------------------
// Composition
// ---------------------------------------------------------------------------------------------

impl LetterDocument {
    /// Composes the letter. Checks the arithmetic it prints (each claim's total, the grand total)
    /// and the few facts that would make it wrong; the planner decided whether it may be sent.
    pub fn compose(input: &LetterInput) -> Result<Self, LetterError> {
        compose::compose(input)
    }

    /// The e-mail subject, e.g. «Inkassovarsel – faktura 10023 – Eksempel AS».
    pub fn email_subject(&self) -> &str {
        &self.email_subject
    }

    /// A short plain-text e-mail body with the amounts; the letter itself is attached as PDF.
    pub fn email_body_text(&self) -> &str {
        &self.email_body
    }

    /// The page number line: «Side 1 av 2» / «Page 1 of 2».
    pub fn page_label(&self, page: usize, pages: usize) -> String {
        match self.language {
            Language::Nb => format!("Side {page} av {pages}"),
            Language::En => format!("Page {page} of {pages}"),
        }
    }

    /// All the letter's text in reading order (for search, tests and the plain-text archive).
    pub fn text(&self) -> String {
        let mut out = Vec::new();
        out.push(self.sender_name.clone());
        out.extend(self.sender_lines.iter().cloned());
        out.extend(self.recipient_lines.iter().cloned());
        for f in &self.meta {
            out.push(format!("{}: {}", f.label, f.value));
        }
        out.push(self.title.clone());
        let para = |p: &Paragraph, out: &mut Vec<String>| {
            if let Some(h) = &p.heading {
                out.push(h.clone());
            }
            out.push(p.text());
        };
        for p in &self.intro {
            para(p, &mut out);
        }
        out.push(
            self.table
                .columns
                .iter()
                .map(|c| c.title.as_str())
                .collect::<Vec<_>>()
                .join(" | "),
        );
        for r in &self.table.rows {
            out.push(r.join(" | "));
        }
        for t in &self.totals {
            out.push(format!("{}: {}", t.label, t.amount));
        }
        out.push(self.payment.title.clone());
        for f in &self.payment.fields {
            out.push(format!("{}: {}", f.label, f.value));
        }
        for p in &self.body {
            para(p, &mut out);
        }
        out.extend(self.closing.iter().cloned());
        out.extend(self.footer.iter().cloned());
        out.join("\n")
    }
}

#[cfg(test)]
mod tests;
