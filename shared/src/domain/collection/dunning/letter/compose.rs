//! Composing the letter: every sentence, per step and language, and the arithmetic it prints
//! (checked before a word is written).

use super::format::{self, NBSP};
use super::{plain, strong};
use super::{
    Align, ClaimLine, ClaimTable, Column, Field, InterestLine, LetterDocument, LetterError,
    LetterInput, Paragraph, PaymentBox, Recipient, Statement, TotalLine, MAX_ADDRESS_LINES,
};
use crate::domain::collection::dunning::{Language, Step};
use crate::domain::ledger::PostalAddress;
use crate::domain::money::Money;
use chrono::NaiveDate;
use rust_decimal::Decimal;

pub(super) fn compose(input: &LetterInput) -> Result<LetterDocument, LetterError> {
    let sums = validate(input)?;
    let mut c = Composer {
        input,
        lang: input.language,
        sums,
        statements: Vec::new(),
    };
    Ok(c.compose())
}

/// Sums over the claims, checked.
#[derive(Debug, Clone, Copy)]
struct Sums {
    principal: Money,
    interest: Money,
    earlier_fees: Money,
    fee: Money,
    compensation: Money,
    total: Money,
}

fn add(a: Money, b: Money) -> Result<Money, LetterError> {
    a.checked_add(b).ok_or(LetterError::Overflow)
}

fn validate(input: &LetterInput) -> Result<Sums, LetterError> {
    if input.claims.is_empty() {
        return Err(LetterError::NoClaims);
    }
    if input.recipient.name.trim().is_empty() {
        return Err(LetterError::NoRecipientName);
    }
    if input.deadline <= input.sent_on {
        return Err(LetterError::DeadlineNotAfterSendDate {
            sent_on: input.sent_on,
            deadline: input.deadline,
        });
    }
    if input.kid.is_some() && input.claims.len() > 1 {
        return Err(LetterError::KidWithSeveralClaims(input.claims.len()));
    }
    let mut s = Sums {
        principal: Money::ZERO,
        interest: Money::ZERO,
        earlier_fees: Money::ZERO,
        fee: Money::ZERO,
        compensation: Money::ZERO,
        total: Money::ZERO,
    };
    for c in &input.claims {
        let interest = c.interest.as_ref().map_or(Money::ZERO, |i| i.amount);
        let fee = c.fee.as_ref().map_or(Money::ZERO, |f| f.amount);
        let comp = c.compensation.as_ref().map_or(Money::ZERO, |f| f.amount);
        for (field, m) in [
            ("principal", c.principal),
            ("interest", interest),
            ("earlierFees", c.earlier_fees),
            ("earlierCompensation", c.earlier_compensation),
            ("fee", fee),
            ("compensation", comp),
            ("total", c.total),
        ] {
            if m.is_negative() {
                return Err(LetterError::NegativeAmount {
                    invoice: c.invoice_number.clone(),
                    field,
                });
            }
        }
        if input.step == Step::Paminnelse && !fee.is_zero() {
            return Err(LetterError::FeeOnPaminnelse(c.invoice_number.clone()));
        }
        if let Some(i) = &c.interest {
            if i.rates.is_empty() {
                return Err(LetterError::InterestWithoutRate {
                    invoice: c.invoice_number.clone(),
                });
            }
        }
        let computed = [interest, c.earlier_fees, c.earlier_compensation, fee, comp]
            .into_iter()
            .try_fold(c.principal, add)?;
        if computed != c.total {
            return Err(LetterError::ClaimTotal {
                invoice: c.invoice_number.clone(),
                stated: c.total,
                computed,
            });
        }
        s.principal = add(s.principal, c.principal)?;
        s.interest = add(s.interest, interest)?;
        s.earlier_fees = add(s.earlier_fees, c.earlier_fees)?;
        s.fee = add(s.fee, fee)?;
        s.compensation = add(add(s.compensation, comp)?, c.earlier_compensation)?;
        s.total = add(s.total, c.total)?;
    }
    if s.total != input.grand_total {
        return Err(LetterError::GrandTotal {
            stated: input.grand_total,
            computed: s.total,
        });
    }
    Ok(s)
}

/// Picks the bokmål or the English text.
fn tr<T>(lang: Language, nb: T, en: T) -> T {
    match lang {
        Language::Nb => nb,
        Language::En => en,
    }
}

struct Composer<'a> {
    input: &'a LetterInput,
    lang: Language,
    sums: Sums,
    statements: Vec<Statement>,
}

impl Composer<'_> {
    fn made(&mut self, s: Statement) {
        if !self.statements.contains(&s) {
            self.statements.push(s);
        }
    }

    fn kr(&self, m: Money) -> String {
        format::kroner(m, self.lang)
    }

    fn date(&self, d: NaiveDate) -> String {
        format::date(d, self.lang)
    }

    fn one_claim(&self) -> Option<&ClaimLine> {
        match self.input.claims.as_slice() {
            [one] => Some(one),
            _ => None,
        }
    }

    fn invoice_numbers(&self) -> Vec<String> {
        self.input
            .claims
            .iter()
            .map(|c| c.invoice_number.clone())
            .collect()
    }

    fn compose(&mut self) -> LetterDocument {
        let input = self.input;
        let lang = self.lang;
        let title = match lang {
            Language::Nb => input.step.title_nb(),
            Language::En => input.step.title_en(),
        }
        .replace("§ ", "§\u{a0}");
        let sender_lines = self.sender_lines();
        let recipient_lines = recipient_lines(&input.recipient);
        let meta = vec![
            Field {
                label: tr(lang, "Dato", "Date").into(),
                value: self.date(input.sent_on),
                strong: false,
            },
            Field {
                label: tr(lang, "Vår referanse", "Our reference").into(),
                value: input.case_reference.clone(),
                strong: false,
            },
            Field {
                label: tr(lang, "Betalingsfrist", "Payment deadline").into(),
                value: self.date(input.deadline),
                strong: true,
            },
        ];
        let intro = self.intro();
        let table = self.table();
        let totals = self.totals();
        let payment = self.payment();
        let body = self.body();
        let closing = vec![
            tr(lang, "Med vennlig hilsen", "Kind regards").to_string(),
            input.sender.name.clone(),
        ];
        let footer = self.footer();
        let continuation_header = format!(
            "{} · {} · {}",
            input.sender.name,
            short_title(input.step, lang),
            self.date(input.sent_on)
        );
        let mut rules: Vec<String> = input
            .claims
            .iter()
            .flat_map(|c| {
                let rates = c
                    .interest
                    .iter()
                    .flat_map(|i| i.rates.iter().map(|r| r.rule.clone()));
                let charges = c
                    .fee
                    .iter()
                    .chain(c.compensation.iter())
                    .map(|f| f.rule.clone());
                rates.chain(charges).collect::<Vec<_>>()
            })
            .collect();
        rules.sort();
        rules.dedup();
        let email_subject = self.email_subject(&title);
        let email_body = self.email_body(&title);
        LetterDocument {
            letter_id: input.letter_id.clone(),
            step: input.step,
            language: lang,
            title,
            sender_name: input.sender.name.clone(),
            sender_lines,
            recipient_lines,
            meta,
            intro,
            table,
            totals,
            payment,
            body,
            closing,
            footer,
            continuation_header,
            statements: std::mem::take(&mut self.statements),
            rules,
            email_subject,
            email_body,
        }
    }

    /// The creditor's address; an English letter goes abroad, so it names Norway.
    fn sender_address(&self) -> Vec<String> {
        let a = &self.input.sender.address;
        let mut lines = address_lines(a);
        let norwegian = a
            .country_code
            .as_deref()
            .is_none_or(|c| c.trim().eq_ignore_ascii_case("NO"));
        if self.lang == Language::En && norwegian {
            lines.push("Norway".into());
        }
        lines
    }

    fn sender_lines(&mut self) -> Vec<String> {
        let s = &self.input.sender;
        let mut lines: Vec<String> = self.sender_address();
        if let Some(org) = &s.organization_number {
            lines.push(format!(
                "{}{NBSP}{}",
                tr(self.lang, "Org.nr.", "Org. no."),
                format::grouped_orgnr(org.as_str())
            ));
        }
        self.made(Statement::Creditor);
        lines
    }

    /// The creditor in one sentence: «Eksempel AS, org.nr. 923 609 016, Storgata 1, 0155 Oslo».
    fn creditor_inline(&self) -> String {
        let s = &self.input.sender;
        let mut parts = vec![s.name.clone()];
        if let Some(org) = &s.organization_number {
            parts.push(format!(
                "{}{NBSP}{}",
                tr(self.lang, "org.nr.", "org. no."),
                format::grouped_orgnr(org.as_str())
            ));
        }
        parts.extend(self.sender_address().iter().map(|p| unbreakable(p)));
        parts.join(", ")
    }

    /// «faktura 10023, som forfalt 02.09.2026» / «fakturaene nedenfor, som alle har forfalt».
    fn what_it_concerns(&mut self) -> String {
        self.made(Statement::WhatTheClaimConcerns);
        let lang = self.lang;
        match self.one_claim() {
            Some(c) => match lang {
                Language::Nb => format!(
                    "faktura{NBSP}{}, som forfalt til betaling {}",
                    c.invoice_number,
                    self.date(c.due_date)
                ),
                Language::En => format!(
                    "invoice{NBSP}{}, which fell due on {}",
                    c.invoice_number,
                    self.date(c.due_date)
                ),
            },
            None => tr(
                lang,
                "fakturaene i oversikten nedenfor, som alle har forfalt til betaling",
                "the invoices listed below, all of which are past their due date",
            )
            .to_string(),
        }
    }

    fn intro(&mut self) -> Vec<Paragraph> {
        let lang = self.lang;
        let step = self.input.step;
        let concerns = self.what_it_concerns();
        let total = self.kr(self.input.grand_total);
        let deadline = self.date(self.input.deadline);
        self.made(Statement::Deadline);
        let mut out = Vec::new();
        let opening = match (step, lang) {
            (Step::Paminnelse, Language::Nb) => format!(
                "Vi kan ikke se at vi har mottatt betaling for {concerns}. Det kan hende at \
                 betalingen og dette brevet har krysset hverandre; i så fall kan du se bort fra \
                 påminnelsen."
            ),
            (Step::Paminnelse, Language::En) => format!(
                "According to our records we have not received payment for {concerns}. If your \
                 payment and this letter have crossed, please disregard this reminder."
            ),
            (Step::Purring, Language::Nb) => {
                format!("Vi har ikke mottatt betaling for {concerns}.")
            }
            (Step::Purring, Language::En) => {
                format!("We have not received payment for {concerns}.")
            }
            (Step::Inkassovarsel, Language::Nb) => format!(
                "Vi har ikke mottatt betaling for {concerns}. Dette brevet er et varsel om \
                 inkasso etter inkassoloven{NBSP}§{NBSP}9."
            ),
            (Step::Inkassovarsel, Language::En) => format!(
                "We have not received payment for {concerns}. This letter is a notice of debt \
                 collection under section{NBSP}9 of the Norwegian Debt Collection Act \
                 (inkassoloven{NBSP}§{NBSP}9)."
            ),
            (Step::Betalingsoppfordring, Language::Nb) => format!(
                "Vi har ikke mottatt betaling for {concerns}, og fristen i vårt forrige brev er \
                 ute. Dette brevet er en betalingsoppfordring etter inkassoloven{NBSP}§{NBSP}10 \
                 og et varsel etter tvangsfullbyrdelsesloven{NBSP}§{NBSP}4-18."
            ),
            (Step::Betalingsoppfordring, Language::En) => format!(
                "We have not received payment for {concerns}, and the deadline in our previous \
                 letter has passed. This letter is a demand for payment under section{NBSP}10 \
                 of the Norwegian Debt Collection Act (inkassoloven{NBSP}§{NBSP}10) and a notice \
                 under section{NBSP}4-18 of the Enforcement Act \
                 (tvangsfullbyrdelsesloven{NBSP}§{NBSP}4-18)."
            ),
        };
        out.push(Paragraph::new(vec![plain(opening)]));

        if step == Step::Betalingsoppfordring {
            self.made(Statement::PayOrObject);
            out.push(Paragraph::new(match lang {
                Language::Nb => vec![
                    plain("Du har frist til "),
                    strong(deadline.clone()),
                    plain(" med å betale "),
                    strong(total.clone()),
                    plain(" eller å komme med innsigelser mot kravet."),
                ],
                Language::En => vec![
                    plain("You have until "),
                    strong(deadline.clone()),
                    plain(" to pay "),
                    strong(total.clone()),
                    plain(" or to object to the claim."),
                ],
            }));
            self.made(Statement::Creditor);
            out.push(Paragraph::new(vec![plain(match lang {
                Language::Nb => format!("Kreditor er {}.", self.creditor_inline()),
                Language::En => format!("The creditor is {}.", self.creditor_inline()),
            })]));
        } else {
            let mut runs = match lang {
                Language::Nb => vec![
                    plain("Vi ber deg betale "),
                    strong(total.clone()),
                    plain(" innen "),
                    strong(deadline.clone()),
                    plain("."),
                ],
                Language::En => vec![
                    plain("Please pay "),
                    strong(total.clone()),
                    plain(" by "),
                    strong(deadline.clone()),
                    plain("."),
                ],
            };
            if step == Step::Purring {
                runs.push(plain(tr(
                    lang,
                    " Betales ikke beløpet innen fristen, vil vi følge opp kravet videre, og det \
                     kan føre til flere gebyrer.",
                    " If the amount is not paid by the deadline, we will follow up the claim \
                     further, which may lead to further fees.",
                )));
            }
            out.push(Paragraph::new(runs));
        }

        if step == Step::Inkassovarsel {
            // The § 9 statement: unambiguous, prominent, before the amounts.
            self.made(Statement::CollectionWillStart);
            out.push(Paragraph::headed(
                tr(lang, "Varsel om inkasso", "Notice of debt collection").into(),
                match lang {
                    Language::Nb => vec![
                        strong(format!(
                            "Betales ikke kravet innen {deadline}, vil inndriving av kravet bli \
                             iverksatt."
                        )),
                        plain(" Inndrivingen kan føre til økte kostnader for deg."),
                    ],
                    Language::En => vec![
                        strong(format!(
                            "If the claim is not paid by {deadline}, collection of the claim \
                             will be started."
                        )),
                        plain(" Collection may lead to further costs for you."),
                    ],
                },
            ));
        }
        out
    }

    fn table(&mut self) -> ClaimTable {
        self.made(Statement::AmountsSeparately);
        let lang = self.lang;
        let claims = &self.input.claims;
        let any_interest = claims.iter().any(|c| c.interest.is_some());
        let any_fee = claims.iter().any(|c| {
            !c.earlier_fees.is_zero() || c.fee.as_ref().is_some_and(|f| !f.amount.is_zero())
        });
        let any_comp = claims.iter().any(|c| {
            !c.earlier_compensation.is_zero()
                || c.compensation.as_ref().is_some_and(|f| !f.amount.is_zero())
        });
        let left = |t: &str| Column {
            title: t.into(),
            align: Align::Left,
        };
        let right = |t: &str| Column {
            title: t.into(),
            align: Align::Right,
        };
        let mut columns = vec![
            left(tr(lang, "Faktura", "Invoice")),
            left(tr(lang, "Fakturadato", "Invoice date")),
            left(tr(lang, "Forfall", "Due date")),
        ];
        if any_interest {
            columns.push(left(tr(lang, "Renter fra", "Interest from")));
        }
        let extras = any_interest || any_fee || any_comp;
        columns.push(right(if extras {
            tr(lang, "Hovedstol", "Principal")
        } else {
            tr(lang, "Beløp", "Amount")
        }));
        if any_interest {
            columns.push(right(tr(lang, "Renter", "Interest")));
        }
        if any_fee {
            columns.push(right(tr(lang, "Gebyrer", "Fees")));
        }
        if any_comp {
            columns.push(right(tr(lang, "Kompensasjon", "Compensation")));
        }
        if extras {
            columns.push(right(tr(lang, "Sum", "Total")));
        }
        let amount = |m: Money| format::amount(m, lang);
        // An addition that is zero on this invoice prints as a dash, so the figures stand out.
        let addition = |m: Money| {
            if m.is_zero() {
                "–".to_string()
            } else {
                format::amount(m, lang)
            }
        };
        let day = |d: NaiveDate| format::short_date(d, lang);
        let rows = claims
            .iter()
            .map(|c| {
                let mut row = vec![
                    c.invoice_number.clone(),
                    c.invoice_date.map_or_else(|| "–".to_string(), day),
                    day(c.due_date),
                ];
                if any_interest {
                    row.push(
                        c.interest
                            .as_ref()
                            .map_or_else(|| "–".into(), |i| day(i.from)),
                    );
                }
                row.push(amount(c.principal));
                if any_interest {
                    row.push(addition(
                        c.interest.as_ref().map_or(Money::ZERO, |i| i.amount),
                    ));
                }
                if any_fee {
                    let fee = c.fee.as_ref().map_or(Money::ZERO, |f| f.amount);
                    row.push(addition(c.earlier_fees + fee));
                }
                if any_comp {
                    let comp = c.compensation.as_ref().map_or(Money::ZERO, |f| f.amount);
                    row.push(addition(c.earlier_compensation + comp));
                }
                if extras {
                    row.push(amount(c.total));
                }
                row
            })
            .collect();
        ClaimTable { columns, rows }
    }

    fn totals(&mut self) -> Vec<TotalLine> {
        let lang = self.lang;
        let s = self.sums;
        let line = |label: &str, m: Money, strong: bool| TotalLine {
            label: label.into(),
            amount: format::kroner(m, lang),
            strong,
        };
        let mut out = vec![line(tr(lang, "Hovedstol", "Principal"), s.principal, false)];
        if !s.interest.is_zero() {
            out.push(line(
                tr(lang, "Forsinkelsesrente", "Late-payment interest"),
                s.interest,
                false,
            ));
        }
        if !s.earlier_fees.is_zero() {
            out.push(line(
                tr(
                    lang,
                    "Gebyrer fra tidligere brev",
                    "Fees from earlier letters",
                ),
                s.earlier_fees,
                false,
            ));
        }
        if !s.fee.is_zero() {
            out.push(line(self.fee_label(), s.fee, false));
        }
        if !s.compensation.is_zero() {
            out.push(line(
                tr(
                    lang,
                    "Standardkompensasjon (forsinkelsesrenteloven § 3a)",
                    "Standard compensation (Late Payment Interest Act § 3a)",
                ),
                s.compensation,
                false,
            ));
        }
        out.push(line(tr(lang, "Å betale", "Amount to pay"), s.total, true));
        out
    }

    fn fee_label(&self) -> &'static str {
        match (self.input.step, self.lang) {
            (Step::Paminnelse, Language::Nb) => "Gebyr",
            (Step::Paminnelse, Language::En) => "Fee",
            (Step::Purring, Language::Nb) => "Purregebyr",
            (Step::Purring, Language::En) => "Reminder fee",
            (Step::Inkassovarsel, Language::Nb) => "Gebyr for inkassovarsel",
            (Step::Inkassovarsel, Language::En) => "Fee for this debt collection notice",
            (Step::Betalingsoppfordring, Language::Nb) => "Gebyr for betalingsoppfordring",
            (Step::Betalingsoppfordring, Language::En) => "Fee for this demand for payment",
        }
    }

    fn payment(&mut self) -> PaymentBox {
        self.made(Statement::PaymentDetails);
        let lang = self.lang;
        let input = self.input;
        let field = |label: &str, value: String, strong: bool| Field {
            label: label.into(),
            value,
            strong,
        };
        let mut fields = vec![field(
            tr(lang, "Kontonummer", "Account number"),
            input.sender.bank_account.formatted(),
            false,
        )];
        if lang == Language::En {
            fields.push(field(
                "IBAN",
                input.sender.bank_account.iban_formatted(),
                false,
            ));
        }
        match &input.kid {
            Some(kid) => fields.push(field(
                tr(lang, "KID", "KID (payment reference)"),
                kid.to_string(),
                true,
            )),
            None => {
                let numbers = self.invoice_numbers();
                let message = if numbers.len() <= 6 {
                    match lang {
                        Language::Nb => format!("Faktura {}", numbers.join(", ")),
                        Language::En => format!("Invoice {}", numbers.join(", ")),
                    }
                } else {
                    format!("Ref. {}", input.case_reference)
                };
                fields.push(field(
                    tr(lang, "Melding til mottaker", "Payment message"),
                    message,
                    true,
                ));
            }
        }
        fields.push(field(
            tr(lang, "Beløp", "Amount"),
            self.kr(input.grand_total),
            true,
        ));
        fields.push(field(
            tr(lang, "Betalingsfrist", "Payment deadline"),
            self.date(input.deadline),
            true,
        ));
        PaymentBox {
            title: tr(lang, "Slik betaler du", "How to pay").into(),
            fields,
        }
    }

    /// The merged rate periods over all claims: consecutive or overlapping periods with the same
    /// rate become one.
    fn rate_periods(&self) -> Vec<(Decimal, NaiveDate, NaiveDate)> {
        let mut all: Vec<(Decimal, NaiveDate, NaiveDate)> = self
            .input
            .claims
            .iter()
            .filter_map(|c| c.interest.as_ref())
            .flat_map(|i| i.rates.iter().map(|r| (r.percent, r.from, r.to)))
            .collect();
        all.sort_by_key(|&(p, from, to)| (from, to, p));
        let mut merged: Vec<(Decimal, NaiveDate, NaiveDate)> = Vec::new();
        for (p, from, to) in all {
            match merged.iter_mut().find(|(mp, mfrom, mto)| {
                *mp == p && from <= mto.succ_opt().unwrap_or(*mto) && *mfrom <= to
            }) {
                Some(m) => {
                    m.1 = m.1.min(from);
                    m.2 = m.2.max(to);
                }
                None => merged.push((p, from, to)),
            }
        }
        merged.sort_by_key(|&(_, from, _)| from);
        merged
    }

    fn interest_text(&mut self) -> Option<String> {
        let lang = self.lang;
        let with_interest: Vec<&InterestLine> = self
            .input
            .claims
            .iter()
            .filter_map(|c| c.interest.as_ref())
            .collect();
        if with_interest.is_empty() {
            if self.input.step == Step::Betalingsoppfordring {
                // § 10 (2) d asks for the rate used: say that none is.
                self.made(Statement::InterestRateAndStart);
                return Some(
                    tr(
                        lang,
                        "Vi krever ikke forsinkelsesrente av kravet.",
                        "We do not charge late-payment interest on the claim.",
                    )
                    .to_string(),
                );
            }
            return None;
        }
        self.made(Statement::InterestRateAndStart);
        let periods = self.rate_periods();
        let n = periods.len();
        let rates: Vec<String> = periods
            .iter()
            .enumerate()
            .map(|(i, &(p, from, to))| {
                let p = format::percent(p, lang);
                let (from, to) = (self.date(from), self.date(to));
                match (lang, n, i) {
                    (Language::Nb, 1, _) => format!("{p} per år"),
                    (Language::En, 1, _) => format!("{p} a year"),
                    (Language::Nb, _, 0) => format!("{p} per år til og med {to}"),
                    (Language::En, _, 0) => format!("{p} a year up to and including {to}"),
                    (Language::Nb, _, i) if i + 1 == n => format!("{p} per år fra og med {from}"),
                    (Language::En, _, i) if i + 1 == n => format!("{p} a year from {from}"),
                    (Language::Nb, _, _) => format!("{p} per år fra og med {from} til og med {to}"),
                    (Language::En, _, _) => format!("{p} a year from {from} to {to}"),
                }
            })
            .collect();
        let rates = format::list(&rates, lang);
        let to = with_interest
            .iter()
            .map(|i| i.to)
            .max()
            .unwrap_or(self.input.sent_on);
        let to = self.date(to);
        let text = match (self.one_claim().and_then(|c| c.interest.as_ref()), lang) {
            (Some(i), Language::Nb) => format!(
                "Forsinkelsesrenten er beregnet etter forsinkelsesrenteloven fra og med {} til og \
                 med {to}, med {rates}. Renten løper videre til kravet er betalt.",
                self.date(i.from)
            ),
            (Some(i), Language::En) => format!(
                "Late-payment interest is calculated under the Norwegian Late Payment Interest \
                 Act (forsinkelsesrenteloven) from {} up to and including {to}, at {rates}. \
                 Interest continues to accrue until the claim is paid.",
                self.date(i.from)
            ),
            (None, Language::Nb) => format!(
                "Forsinkelsesrenten er beregnet etter forsinkelsesrenteloven for hver faktura fra \
                 og med datoen under «Renter fra» til og med {to}, med {rates}. Renten løper \
                 videre til kravet er betalt."
            ),
            (None, Language::En) => format!(
                "Late-payment interest is calculated under the Norwegian Late Payment Interest \
                 Act (forsinkelsesrenteloven) on each invoice from the date under «Interest \
                 from» up to and including {to}, at {rates}. Interest continues to accrue until \
                 the claim is paid."
            ),
        };
        Some(text)
    }

    fn fee_text(&mut self) -> String {
        self.made(Statement::Fee);
        let lang = self.lang;
        let s = self.sums;
        let fee = self.kr(s.fee);
        let mut text = match (self.input.step, s.fee.is_zero(), lang) {
            (Step::Paminnelse, _, Language::Nb) => "Påminnelsen er uten gebyr.".to_string(),
            (Step::Paminnelse, _, Language::En) => "There is no fee for this reminder.".to_string(),
            (Step::Purring, true, Language::Nb) => "Denne purringen er uten gebyr.".into(),
            (Step::Purring, true, Language::En) => "There is no fee for this reminder.".into(),
            (Step::Purring, false, Language::Nb) => {
                format!("Purregebyret på {fee} følger av inkassoforskriften{NBSP}§{NBSP}1-2.")
            }
            (Step::Purring, false, Language::En) => format!(
                "The reminder fee of {fee} is set by the Debt Collection Regulations \
                 (inkassoforskriften{NBSP}§{NBSP}1-2)."
            ),
            (Step::Inkassovarsel, true, Language::Nb) => {
                "Vi krever ikke gebyr for dette varselet.".into()
            }
            (Step::Inkassovarsel, true, Language::En) => "There is no fee for this notice.".into(),
            (Step::Inkassovarsel, false, Language::Nb) => format!(
                "Gebyret for dette varselet, {fee}, følger av \
                 inkassoforskriften{NBSP}§{NBSP}1-2."
            ),
            (Step::Inkassovarsel, false, Language::En) => format!(
                "The fee of {fee} for this notice is set by the Debt Collection Regulations \
                 (inkassoforskriften{NBSP}§{NBSP}1-2)."
            ),
            (Step::Betalingsoppfordring, true, Language::Nb) => {
                "Vi krever ikke gebyr for denne betalingsoppfordringen.".into()
            }
            (Step::Betalingsoppfordring, true, Language::En) => {
                "There is no fee for this demand for payment.".into()
            }
            (Step::Betalingsoppfordring, false, Language::Nb) => format!(
                "Gebyret for denne betalingsoppfordringen, {fee}, følger av \
                 inkassoforskriften{NBSP}§{NBSP}1-2."
            ),
            (Step::Betalingsoppfordring, false, Language::En) => format!(
                "The fee of {fee} for this demand is set by the Debt Collection Regulations \
                 (inkassoforskriften{NBSP}§{NBSP}1-2)."
            ),
        };
        if !s.earlier_fees.is_zero() {
            text.push(' ');
            text.push_str(&match lang {
                Language::Nb => format!(
                    "Gebyrer fra tidligere brev som ikke er betalt, til sammen {}, er tatt med i \
                     beløpet.",
                    self.kr(s.earlier_fees)
                ),
                Language::En => format!(
                    "Unpaid fees from earlier letters, {} in total, are included in the amount.",
                    self.kr(s.earlier_fees)
                ),
            });
        }
        text
    }

    fn compensation_text(&mut self) -> Option<String> {
        if self.sums.compensation.is_zero() {
            return None;
        }
        self.made(Statement::Compensation);
        let amount = self.kr(self.sums.compensation);
        Some(match self.lang {
            Language::Nb => format!(
                "Som næringsdrivende skylder dere standardkompensasjon etter \
                 forsinkelsesrenteloven{NBSP}§{NBSP}3a, til sammen {amount}. Gebyrer for \
                 purringer og varsler trekkes fra i den."
            ),
            Language::En => format!(
                "As a business you owe the standard compensation under the Late Payment \
                 Interest Act (forsinkelsesrenteloven{NBSP}§{NBSP}3a), {amount} in total. Fees \
                 for reminders and notices are deducted from it."
            ),
        })
    }

    fn body(&mut self) -> Vec<Paragraph> {
        let lang = self.lang;
        let step = self.input.step;
        let deadline = self.date(self.input.deadline);
        let mut out = Vec::new();
        // Interest, fees and compensation: how the additions to the principal were computed.
        let interest = self.interest_text();
        let heading = match (interest.is_some(), lang) {
            (true, Language::Nb) => "Renter og gebyr",
            (true, Language::En) => "Interest and fees",
            (false, Language::Nb) => "Gebyr",
            (false, Language::En) => "Fees",
        };
        let text = [interest, Some(self.fee_text()), self.compensation_text()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
        out.push(Paragraph::headed(heading.into(), vec![plain(text)]));
        match step {
            Step::Paminnelse | Step::Purring | Step::Inkassovarsel => {}
            Step::Betalingsoppfordring => {
                self.made(Statement::LegalCollectionMayFollow);
                out.push(Paragraph::headed(
                    tr(lang, "Rettslig inndriving", "Legal collection").into(),
                    vec![plain(tr(
                        lang,
                        "Betales ikke kravet innen fristen, kan vi inndrive det rettslig, ved å \
                         begjære utlegg hos namsmannen eller ved å sende forliksklage til \
                         forliksrådet. Rettslig inndriving fører til ytterligere kostnader for \
                         deg, blant annet rettsgebyr.",
                        "If the claim is not paid by the deadline, we may collect it through \
                         legal proceedings, by petitioning the enforcement officer \
                         (namsmannen) for attachment or by bringing the claim before the \
                         conciliation board (forliksrådet). Legal collection leads to further \
                         costs for you, including court fees.",
                    ))],
                ));
                self.made(Statement::EnforcementNotice);
                out.push(Paragraph::headed(
                    tr(
                        lang,
                        "Varsel etter tvangsfullbyrdelsesloven § 4-18",
                        "Notice under the Enforcement Act § 4-18 (tvangsfullbyrdelsesloven)",
                    )
                    .replace("§ ", "§\u{a0}"),
                    vec![plain(match lang {
                        Language::Nb => format!(
                            "Vi oppfordrer deg med dette til å betale kravet. Er det ikke \
                             betalt innen {deadline}, kan vi begjære tvangsfullbyrdelse \
                             (utlegg) hos namsmannen uten å varsle deg på nytt."
                        ),
                        Language::En => format!(
                            "We hereby call on you to pay the claim. If it has not been paid by \
                             {deadline}, we may petition the enforcement officer (namsmannen) \
                             for enforcement (attachment, utlegg) without notifying you again."
                        ),
                    })],
                ));
            }
        }
        let mut objection = self.objection_paragraph();
        if step != Step::Paminnelse {
            objection.runs.push(plain(tr(
                lang,
                " Har du betalt i mellomtiden, kan du se bort fra dette brevet.",
                " If you have paid in the meantime, please disregard this letter.",
            )));
        }
        out.push(objection);
        out
    }

    fn contact(&self) -> Option<String> {
        let s = &self.input.sender;
        let lang = self.lang;
        let mut ways = Vec::new();
        if let Some(e) = s.email.as_deref().filter(|e| !e.trim().is_empty()) {
            ways.push(format!("{} {e}", tr(lang, "e-post", "e-mail")));
        }
        if let Some(p) = s.phone.as_deref().filter(|p| !p.trim().is_empty()) {
            ways.push(format!(
                "{}{NBSP}{}",
                tr(lang, "telefon", "phone"),
                p.replace(' ', "\u{a0}")
            ));
        }
        let list = match lang {
            Language::Nb => ways.join(" eller "),
            Language::En => ways.join(" or "),
        };
        (!ways.is_empty()).then_some(list)
    }

    fn objection_paragraph(&mut self) -> Paragraph {
        self.made(Statement::Objection);
        let lang = self.lang;
        let contact = self.contact();
        let text = match (lang, contact) {
            (Language::Nb, Some(c)) => format!(
                "Mener du at kravet ikke er riktig, ber vi deg gi oss beskjed før fristen, på \
                 {c}. Vi ser på innsigelsen før vi går videre med kravet."
            ),
            (Language::Nb, None) => format!(
                "Mener du at kravet ikke er riktig, ber vi deg skrive til oss på {} før fristen. \
                 Vi ser på innsigelsen før vi går videre med kravet.",
                self.creditor_inline()
            ),
            (Language::En, Some(c)) => format!(
                "If you believe the claim is not correct, please let us know before the \
                 deadline, by {c}. We will look into your objection before we take the claim \
                 further."
            ),
            (Language::En, None) => format!(
                "If you believe the claim is not correct, please write to us at {} before the \
                 deadline. We will look into your objection before we take the claim further.",
                self.creditor_inline()
            ),
        };
        Paragraph::headed(
            tr(lang, "Uenig i kravet?", "Do you disagree?").into(),
            vec![plain(text)],
        )
    }

    fn footer(&self) -> Vec<String> {
        let s = &self.input.sender;
        let lang = self.lang;
        let mut first = vec![s.name.clone()];
        first.extend(self.sender_address());
        if let Some(org) = &s.organization_number {
            first.push(format!(
                "{}{NBSP}{}",
                tr(lang, "Org.nr.", "Org. no."),
                format::grouped_orgnr(org.as_str())
            ));
        }
        let mut second = Vec::new();
        if let Some(p) = s.phone.as_deref().filter(|p| !p.trim().is_empty()) {
            second.push(format!(
                "{}{NBSP}{}",
                tr(lang, "Telefon", "Phone"),
                p.replace(' ', "\u{a0}")
            ));
        }
        if let Some(e) = s.email.as_deref().filter(|e| !e.trim().is_empty()) {
            second.push(format!("{} {e}", tr(lang, "E-post", "E-mail")));
        }
        second.push(format!(
            "{} {}",
            tr(lang, "Konto", "Account"),
            s.bank_account.formatted().replace(' ', "\u{a0}")
        ));
        second.push(format!(
            "{} {}",
            tr(lang, "Brev-ID", "Letter ID"),
            self.input.letter_id
        ));
        let line = |items: Vec<String>| {
            items
                .iter()
                .map(|i| unbreakable(i))
                .collect::<Vec<_>>()
                .join(" · ")
        };
        vec![line(first), line(second)]
    }

    fn email_subject(&self, title: &str) -> String {
        let lang = self.lang;
        let numbers = self.invoice_numbers();
        let what = match (lang, numbers.as_slice()) {
            (Language::Nb, [one]) => format!("faktura {one}"),
            (Language::En, [one]) => format!("invoice {one}"),
            (Language::Nb, few) if few.len() <= 3 => {
                format!("faktura {}", format::list(few, lang))
            }
            (Language::En, few) if few.len() <= 3 => {
                format!("invoices {}", format::list(few, lang))
            }
            (Language::Nb, many) => format!("{} fakturaer", many.len()),
            (Language::En, many) => format!("{} invoices", many.len()),
        };
        format!("{title} – {what} – {}", self.input.sender.name).replace(NBSP, " ")
    }

    /// Plain text with ordinary spaces (mail clients handle no-break spaces unevenly).
    fn email_body(&self, title: &str) -> String {
        let lang = self.lang;
        let input = self.input;
        let sp = |s: String| s.replace(NBSP, " ");
        let what = sp(match (self.one_claim(), lang) {
            (Some(c), Language::Nb) => format!(
                "faktura {}, som forfalt {}",
                c.invoice_number,
                self.date(c.due_date)
            ),
            (Some(c), Language::En) => format!(
                "invoice {}, due on {}",
                c.invoice_number,
                self.date(c.due_date)
            ),
            (None, Language::Nb) => format!(
                "{} fakturaer som har forfalt ({})",
                input.claims.len(),
                self.invoice_numbers().join(", ")
            ),
            (None, Language::En) => format!(
                "{} overdue invoices ({})",
                input.claims.len(),
                self.invoice_numbers().join(", ")
            ),
        });
        let mut lines = Vec::new();
        lines.push(tr(lang, "Hei,", "Hello,").to_string());
        lines.push(String::new());
        lines.push(match lang {
            Language::Nb => format!(
                "Vi har ikke registrert betaling for {what}. Vedlagt er {} fra {}.",
                title.to_lowercase(),
                input.sender.name
            ),
            Language::En => format!(
                "We have not registered payment for {what}. Attached is our letter «{title}» \
                 from {}.",
                input.sender.name
            ),
        });
        if input.step == Step::Inkassovarsel {
            lines.push(String::new());
            lines.push(sp(match lang {
                Language::Nb => format!(
                    "Betales ikke kravet innen {}, vil inndriving av kravet bli iverksatt.",
                    self.date(input.deadline)
                ),
                Language::En => format!(
                    "If the claim is not paid by {}, collection of the claim will be started.",
                    self.date(input.deadline)
                ),
            }));
        }
        lines.push(String::new());
        for t in self.totals_plain() {
            lines.push(t);
        }
        lines.push(String::new());
        for f in &self.payment_plain() {
            lines.push(f.clone());
        }
        lines.push(String::new());
        lines.push(
            tr(
                lang,
                "Brevet i vedlegget (PDF) viser hvordan beløpene er beregnet.",
                "The attached letter (PDF) shows how the amounts are calculated.",
            )
            .to_string(),
        );
        lines.push(match (lang, input.sender.reply_to.is_some()) {
            (Language::Nb, true) => {
                "Er du uenig i kravet, eller har du spørsmål, kan du svare på denne e-posten. \
                 Har du betalt i mellomtiden, kan du se bort fra den."
                    .to_string()
            }
            (Language::Nb, false) => {
                "Er du uenig i kravet, eller har du spørsmål, finner du kontaktinformasjonen \
                 vår i brevet. Har du betalt i mellomtiden, kan du se bort fra denne e-posten."
                    .to_string()
            }
            (Language::En, true) => "If you disagree with the claim or have questions, \
                                     please reply to this e-mail. If you have paid in the \
                                     meantime, please disregard it."
                .to_string(),
            (Language::En, false) => "If you disagree with the claim or have questions, our \
                                      contact details are in the letter. If you have paid in \
                                      the meantime, please disregard this e-mail."
                .to_string(),
        });
        lines.push(String::new());
        lines.push(tr(lang, "Med vennlig hilsen", "Kind regards").to_string());
        lines.push(input.sender.name.clone());
        let mut body = lines.join("\n").replace(NBSP, " ");
        body.push('\n');
        body
    }

    fn totals_plain(&self) -> Vec<String> {
        let lang = self.lang;
        let s = self.sums;
        let mut v = vec![(tr(lang, "Hovedstol", "Principal"), s.principal)];
        if !s.interest.is_zero() {
            v.push((tr(lang, "Forsinkelsesrente", "Interest"), s.interest));
        }
        if !s.earlier_fees.is_zero() {
            v.push((
                tr(
                    lang,
                    "Gebyrer fra tidligere brev",
                    "Fees from earlier letters",
                ),
                s.earlier_fees,
            ));
        }
        if !s.fee.is_zero() {
            v.push((self.fee_label(), s.fee));
        }
        if !s.compensation.is_zero() {
            v.push((
                tr(lang, "Standardkompensasjon", "Standard compensation"),
                s.compensation,
            ));
        }
        v.push((tr(lang, "Å betale", "Amount to pay"), s.total));
        v.into_iter()
            .map(|(l, m)| format!("{l}: {}", self.kr(m).replace(NBSP, " ")))
            .collect()
    }

    fn payment_plain(&self) -> Vec<String> {
        let lang = self.lang;
        let input = self.input;
        let mut v = vec![format!(
            "{}: {}",
            tr(lang, "Kontonummer", "Account number"),
            input.sender.bank_account.formatted()
        )];
        if lang == Language::En {
            v.push(format!(
                "IBAN: {}",
                input.sender.bank_account.iban_formatted()
            ));
        }
        match &input.kid {
            Some(kid) => v.push(format!("KID: {kid}")),
            None => v.push(format!(
                "{}: {}",
                tr(lang, "Melding til mottaker", "Payment message"),
                match lang {
                    Language::Nb => format!("Faktura {}", self.invoice_numbers().join(", ")),
                    Language::En => format!("Invoice {}", self.invoice_numbers().join(", ")),
                }
            )),
        }
        v.push(format!(
            "{}: {}",
            tr(lang, "Betalingsfrist", "Payment deadline"),
            self.date(input.deadline)
        ));
        v
    }
}

/// The heading without the § 4-18 part, for the header of page 2 and later.
fn short_title(step: Step, lang: Language) -> &'static str {
    match (step, lang) {
        (Step::Paminnelse, Language::Nb) => "Betalingspåminnelse",
        (Step::Paminnelse, Language::En) => "Payment reminder",
        (Step::Purring, Language::Nb) => "Purring",
        (Step::Purring, Language::En) => "Reminder",
        (Step::Inkassovarsel, Language::Nb) => "Inkassovarsel",
        (Step::Inkassovarsel, Language::En) => "Debt collection notice",
        (Step::Betalingsoppfordring, Language::Nb) => "Betalingsoppfordring",
        (Step::Betalingsoppfordring, Language::En) => "Demand for payment",
    }
}

/// Spaces inside one item become no-break spaces, so that a line breaks only between items.
fn unbreakable(s: &str) -> String {
    s.replace(' ', "\u{a0}")
}

/// Street lines, then «0155 Oslo», then the country for an address abroad.
fn address_lines(a: &PostalAddress) -> Vec<String> {
    let mut lines: Vec<String> = a
        .lines
        .iter()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .collect();
    let place = [a.postal_code.as_deref(), a.city.as_deref()]
        .into_iter()
        .flatten()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    if !place.is_empty() {
        lines.push(place);
    }
    if let Some(country) = country_line(a.country_code.as_deref()) {
        lines.push(country);
    }
    lines
}

/// The country line of an address abroad, in capitals (as the Universal Postal Union asks):
/// the English name for the countries Norwegian creditors most often write to, the ISO code
/// otherwise (a post office reads both). `None` for Norway or an unknown country.
fn country_line(code: Option<&str>) -> Option<String> {
    let code = code?.trim().to_ascii_uppercase();
    if code.is_empty() || code == "NO" {
        return None;
    }
    const NAMES: &[(&str, &str)] = &[
        ("SE", "SWEDEN"),
        ("DK", "DENMARK"),
        ("FI", "FINLAND"),
        ("IS", "ICELAND"),
        ("DE", "GERMANY"),
        ("GB", "UNITED KINGDOM"),
        ("NL", "NETHERLANDS"),
        ("PL", "POLAND"),
        ("LT", "LITHUANIA"),
        ("LV", "LATVIA"),
        ("EE", "ESTONIA"),
        ("FR", "FRANCE"),
        ("ES", "SPAIN"),
        ("IT", "ITALY"),
        ("PT", "PORTUGAL"),
        ("BE", "BELGIUM"),
        ("AT", "AUSTRIA"),
        ("CH", "SWITZERLAND"),
        ("IE", "IRELAND"),
        ("US", "UNITED STATES"),
    ];
    Some(
        NAMES
            .iter()
            .find(|(c, _)| *c == code)
            .map_or(code.clone(), |(_, name)| (*name).to_string()),
    )
}

/// The window block: the name, then the address, at most [`MAX_ADDRESS_LINES`] lines (extra
/// street lines are joined with commas into the last street line), never a blank line.
fn recipient_lines(r: &Recipient) -> Vec<String> {
    let mut street: Vec<String> = r
        .address
        .lines
        .iter()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .collect();
    let tail = {
        let only_place = PostalAddress {
            lines: Vec::new(),
            ..r.address.clone()
        };
        address_lines(&only_place)
    };
    let room = MAX_ADDRESS_LINES - 1 - tail.len();
    if street.len() > room && room > 0 {
        let rest = street.split_off(room - 1).join(", ");
        street.push(rest);
    }
    let mut lines = vec![r.name.trim().to_string()];
    lines.extend(street);
    lines.extend(tail);
    lines
}
