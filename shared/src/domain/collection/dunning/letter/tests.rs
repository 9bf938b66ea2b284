use super::*;
use crate::domain::collection::letters::DebtorKind;
use crate::domain::collection::rulebook::Rulebook;
use rust_decimal_macros::dec;

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

const SENT: &str = "2026-11-03";

fn input(step: Step, lang: Language, claims: usize) -> LetterInput {
    sample(
        Rulebook::norway(),
        step,
        lang,
        claims,
        DebtorKind::Consumer,
        d(SENT),
    )
    .unwrap()
}

fn compose(i: &LetterInput) -> LetterDocument {
    LetterDocument::compose(i).unwrap()
}

/// The text with ordinary spaces, as a reader (or pdftotext after normalising) sees it.
fn text(doc: &LetterDocument) -> String {
    doc.text().replace(NBSP, " ")
}

#[test]
fn every_step_in_both_languages_makes_the_statements_the_law_asks_for() {
    for step in Step::ALL {
        for lang in [Language::Nb, Language::En] {
            for n in [1, 3] {
                let doc = compose(&input(step, lang, n));
                for s in Statement::required_for(step) {
                    assert!(
                        doc.statements.contains(s),
                        "{step} {lang:?} {n} claims: missing {s:?} ({})",
                        s.basis()
                    );
                }
            }
        }
    }
}

#[test]
fn the_deadline_the_amount_and_the_invoice_are_in_every_letter() {
    for step in Step::ALL {
        let i = input(step, Language::Nb, 1);
        let doc = compose(&i);
        let t = text(&doc);
        let deadline = i.deadline.format("%d.%m.%Y").to_string();
        assert!(t.contains(&deadline), "{step}: {deadline} missing");
        let total = format::kroner(i.grand_total, Language::Nb).replace(NBSP, " ");
        assert!(t.contains(&total), "{step}: {total} missing");
        assert!(t.contains("faktura 10023"), "{step}");
        assert!(t.contains("Forfall"), "{step}");
        assert!(t.contains("KID: "), "{step}");
        assert!(t.contains("Kontonummer: 8601 11 17947"), "{step}");
        assert_eq!(doc.meta[2].value, deadline);
        assert!(doc
            .payment
            .fields
            .iter()
            .any(|f| f.value == deadline && f.strong));
    }
}

#[test]
fn the_inkassovarsel_says_collection_will_start_and_never_calls_itself_a_reminder() {
    for lang in [Language::Nb, Language::En] {
        for n in [1, 4] {
            let i = input(Step::Inkassovarsel, lang, n);
            let doc = compose(&i);
            let all = format!(
                "{}\n{}\n{}",
                text(&doc),
                doc.email_subject(),
                doc.email_body_text()
            )
            .to_lowercase();
            assert!(!all.contains("purr"), "{lang:?}: {all}");
            assert!(!all.contains("reminder"), "{lang:?}: {all}");
            let deadline = format::date(i.deadline, lang).replace(NBSP, " ");
            let statement = match lang {
                Language::Nb => {
                    format!("betales ikke kravet innen {deadline}, vil inndriving av kravet bli iverksatt")
                }
                Language::En => format!(
                    "if the claim is not paid by {}, collection of the claim will be started",
                    deadline.to_lowercase()
                ),
            };
            assert!(all.contains(&statement), "{lang:?}: {statement}");
        }
        let doc = compose(&input(Step::Inkassovarsel, lang, 1));
        assert!(doc.title.starts_with(match lang {
            Language::Nb => "Inkassovarsel",
            Language::En => "Debt collection notice",
        }));
    }
}

#[test]
fn the_betalingsoppfordring_carries_the_section_10_statements_and_the_4_18_varsel() {
    let i = input(Step::Betalingsoppfordring, Language::Nb, 1);
    let doc = compose(&i);
    let t = text(&doc);
    // (a) the creditor, (d) the rate and the first interest day, (e) legal collection, (1) pay
    // or object, and the § 4-18 varsel.
    assert!(t.contains("Kreditor er Bølgen & Skjærgård Rørleggerservice AS, org.nr. 923 609 016"));
    let from = i.claims[0].interest.as_ref().unwrap().from;
    assert!(
        t.contains(&format!("fra og med {}", from.format("%d.%m.%Y"))),
        "{t}"
    );
    assert!(t.contains("12,25 % per år"), "{t}");
    assert!(t.contains("begjære utlegg hos namsmannen"));
    assert!(t.contains("med å betale kr "));
    assert!(t.contains("eller å komme med innsigelser mot kravet"));
    assert!(t.contains("Varsel etter tvangsfullbyrdelsesloven § 4-18"));
    assert!(t.contains("Vi oppfordrer deg med dette til å betale kravet"));
    assert!(t.contains("begjære tvangsfullbyrdelse"));
    // Fees: this letter's 113 kr (3/20 of 750 kr) and the earlier purring and varsel, 2 × 38 kr.
    assert!(
        t.contains("Gebyr for betalingsoppfordring: kr 113,00"),
        "{t}"
    );
    assert!(t.contains("Gebyrer fra tidligere brev: kr 76,00"), "{t}");
}

#[test]
fn a_betalingsoppfordring_without_interest_says_that_none_is_charged() {
    let mut i = input(Step::Betalingsoppfordring, Language::Nb, 1);
    let c = &mut i.claims[0];
    let interest = c.interest.take().unwrap().amount;
    c.total = c.total - interest;
    i.grand_total = i.grand_total - interest;
    let doc = compose(&i);
    assert!(doc.statements.contains(&Statement::InterestRateAndStart));
    assert!(text(&doc).contains("Vi krever ikke forsinkelsesrente av kravet."));
    assert!(!doc.table.columns.iter().any(|c| c.title == "Renter"));
}

#[test]
fn amounts_are_listed_separately_and_add_up() {
    let i = input(Step::Inkassovarsel, Language::Nb, 3);
    let doc = compose(&i);
    let titles: Vec<&str> = doc.table.columns.iter().map(|c| c.title.as_str()).collect();
    assert_eq!(
        titles,
        [
            "Faktura",
            "Fakturadato",
            "Forfall",
            "Renter fra",
            "Hovedstol",
            "Renter",
            "Gebyrer",
            "Sum"
        ]
    );
    assert_eq!(doc.table.rows.len(), 3);
    let parse = |s: &str| -> Money {
        if s == "–" {
            return Money::ZERO;
        }
        s.replace(NBSP, "").replace("kr", "").parse().unwrap()
    };
    for (row, claim) in doc.table.rows.iter().zip(&i.claims) {
        let parts: Money = row[4..7].iter().fold(Money::ZERO, |a, s| a + parse(s));
        assert_eq!(parts, parse(&row[7]));
        assert_eq!(parse(&row[7]), claim.total);
    }
    let labels: Vec<&str> = doc.totals.iter().map(|t| t.label.as_str()).collect();
    assert_eq!(
        labels,
        [
            "Hovedstol",
            "Forsinkelsesrente",
            "Gebyrer fra tidligere brev",
            "Gebyr for inkassovarsel",
            "Å betale"
        ]
    );
    let last = doc.totals.last().unwrap();
    assert!(last.strong);
    assert_eq!(parse(&last.amount), i.grand_total);
    let sum: Money = doc.totals[..doc.totals.len() - 1]
        .iter()
        .fold(Money::ZERO, |a, t| a + parse(&t.amount));
    assert_eq!(sum, i.grand_total);
}

#[test]
fn a_plain_paminnelse_has_one_amount_column_and_no_fee() {
    let mut i = input(Step::Paminnelse, Language::Nb, 1);
    let c = &mut i.claims[0];
    c.interest = None;
    c.total = c.principal;
    i.grand_total = c.principal;
    let doc = compose(&i);
    let titles: Vec<&str> = doc.table.columns.iter().map(|c| c.title.as_str()).collect();
    assert_eq!(titles, ["Faktura", "Fakturadato", "Forfall", "Beløp"]);
    assert!(text(&doc).contains("Påminnelsen er uten gebyr."));
    assert!(!doc.statements.contains(&Statement::InterestRateAndStart));
}

#[test]
fn a_business_debtor_sees_the_compensation_and_that_it_offsets_the_fees() {
    let i = sample(
        Rulebook::norway(),
        Step::Purring,
        Language::Nb,
        2,
        DebtorKind::Business,
        d(SENT),
    )
    .unwrap();
    let comp = i.claims[0].compensation.as_ref().unwrap();
    assert_eq!(comp.amount, Money::from_kroner(430));
    // The purring fee (38 kr) is set off against the 430 kr compensation: no fee to add.
    assert!(i.claims[0].fee.is_none());
    let doc = compose(&i);
    assert!(doc.statements.contains(&Statement::Compensation));
    assert!(doc.table.columns.iter().any(|c| c.title == "Kompensasjon"));
    let t = text(&doc);
    assert!(
        t.contains("forsinkelsesrenteloven § 3a, til sammen kr 430,00"),
        "{t}"
    );
    assert!(t.contains("Denne purringen er uten gebyr."));
    assert!(doc
        .rules
        .iter()
        .any(|r| r.starts_with("standardkompensasjon:")));
}

#[test]
fn several_claims_pay_with_the_invoice_numbers_as_message_and_one_claim_with_its_kid() {
    let one = compose(&input(Step::Purring, Language::Nb, 1));
    let kid = one
        .payment
        .fields
        .iter()
        .find(|f| f.label == "KID")
        .unwrap();
    assert!(Kid::parse(&kid.value, crate::domain::KidModulus::Mod10).is_ok());

    let three = compose(&input(Step::Purring, Language::Nb, 3));
    let msg = three
        .payment
        .fields
        .iter()
        .find(|f| f.label == "Melding til mottaker")
        .unwrap();
    assert_eq!(msg.value, "Faktura 10023, 10024, 10025");
    assert!(three.payment.fields.iter().all(|f| f.label != "KID"));

    let many = compose(&input(Step::Purring, Language::Nb, 40));
    let msg = many
        .payment
        .fields
        .iter()
        .find(|f| f.label == "Melding til mottaker")
        .unwrap();
    assert_eq!(msg.value, "Ref. SAK-2026-00417");
}

#[test]
fn the_english_letter_pays_from_abroad_with_the_iban_and_addresses_the_country() {
    let doc = compose(&input(Step::Purring, Language::En, 1));
    assert!(doc
        .payment
        .fields
        .iter()
        .any(|f| f.label == "IBAN" && f.value == "NO93 8601 1117 947"));
    assert_eq!(
        doc.recipient_lines,
        ["Anna Öberg", "Storgatan 5", "111 22 Stockholm", "SWEDEN"]
    );
    let t = text(&doc);
    assert!(t.contains("Please pay NOK "), "{t}");
    assert!(t.contains("Late-payment interest is calculated"));
    assert!(doc.page_label(1, 2) == "Page 1 of 2");
}

#[test]
fn the_address_block_has_no_blank_lines_and_fits_the_window() {
    let mut i = input(Step::Purring, Language::Nb, 1);
    i.recipient.address.lines = vec![
        "c/o Hansen".into(),
        "  ".into(),
        "Leilighet H0201".into(),
        "Bakkeveien 3".into(),
        "Inngang bak".into(),
        "Oppgang 2".into(),
    ];
    let doc = compose(&i);
    assert_eq!(doc.recipient_lines.len(), MAX_ADDRESS_LINES);
    assert!(doc.recipient_lines.iter().all(|l| !l.trim().is_empty()));
    assert_eq!(doc.recipient_lines[0], "Åse Øvrebø Ærlig");
    assert_eq!(doc.recipient_lines.last().unwrap(), "1337 Sandvika");
    assert!(doc
        .recipient_lines
        .iter()
        .any(|l| l == "Inngang bak, Oppgang 2"));
}

#[test]
fn rates_over_several_claims_and_half_years_are_merged_and_dated() {
    let mut i = input(Step::Purring, Language::Nb, 2);
    let period = |p, from: &str, to: &str| RatePeriod {
        percent: p,
        from: d(from),
        to: d(to),
        rule: "r".into(),
    };
    i.claims[0].interest.as_mut().unwrap().rates = vec![
        period(dec!(12.00), "2026-06-15", "2026-06-30"),
        period(dec!(12.25), "2026-07-01", "2026-11-03"),
    ];
    i.claims[1].interest.as_mut().unwrap().rates =
        vec![period(dec!(12.25), "2026-08-01", "2026-11-03")];
    let doc = compose(&i);
    let t = text(&doc);
    assert!(
        t.contains(
            "med 12,00 % per år til og med 30.06.2026 og 12,25 % per år fra og med 01.07.2026."
        ),
        "{t}"
    );
    assert!(t.contains("fra og med datoen under «Renter fra»"));
}

#[test]
fn wrong_arithmetic_and_impossible_letters_are_refused() {
    let good = input(Step::Purring, Language::Nb, 2);

    let mut i = good.clone();
    i.claims[1].total = i.claims[1].total + Money::from_ore(1);
    assert!(matches!(
        LetterDocument::compose(&i),
        Err(LetterError::ClaimTotal { invoice, .. }) if invoice == "10024"
    ));

    let mut i = good.clone();
    i.grand_total = i.grand_total + Money::from_kroner(1);
    assert!(matches!(
        LetterDocument::compose(&i),
        Err(LetterError::GrandTotal { .. })
    ));

    let mut i = good.clone();
    i.kid = Some(Kid::generate_mod10("1234567").unwrap());
    assert_eq!(
        LetterDocument::compose(&i),
        Err(LetterError::KidWithSeveralClaims(2))
    );

    let mut i = good.clone();
    i.deadline = i.sent_on;
    assert!(matches!(
        LetterDocument::compose(&i),
        Err(LetterError::DeadlineNotAfterSendDate { .. })
    ));

    let mut i = good.clone();
    i.claims.clear();
    assert_eq!(LetterDocument::compose(&i), Err(LetterError::NoClaims));

    let mut i = good.clone();
    i.recipient.name = " ".into();
    assert_eq!(
        LetterDocument::compose(&i),
        Err(LetterError::NoRecipientName)
    );

    let mut i = input(Step::Paminnelse, Language::Nb, 1);
    let fee = Money::from_kroner(38);
    i.claims[0].fee = Some(ChargeLine {
        amount: fee,
        rule: "x".into(),
    });
    i.claims[0].total = i.claims[0].total + fee;
    i.grand_total = i.grand_total + fee;
    assert_eq!(
        LetterDocument::compose(&i),
        Err(LetterError::FeeOnPaminnelse("10023".into()))
    );
}

#[test]
fn the_email_names_the_letter_and_carries_the_amounts_in_plain_spaces() {
    let i = input(Step::Purring, Language::Nb, 1);
    let doc = compose(&i);
    assert_eq!(
        doc.email_subject(),
        "Purring – faktura 10023 – Bølgen & Skjærgård Rørleggerservice AS"
    );
    let body = doc.email_body_text();
    assert!(!body.contains(NBSP));
    let total = format::kroner(i.grand_total, Language::Nb).replace(NBSP, " ");
    assert!(body.contains(&format!("Å betale: {total}")), "{body}");
    assert!(body.contains(&format!("KID: {}", i.kid.as_ref().unwrap())));
    assert!(body.contains(&format!(
        "Betalingsfrist: {}",
        i.deadline.format("%d.%m.%Y")
    )));
    assert!(body.contains("Purregebyr: kr 38,00"), "{body}");
    assert!(body.contains("svare på denne e-posten"));

    let many = compose(&input(Step::Betalingsoppfordring, Language::En, 5));
    assert_eq!(
        many.email_subject(),
        "Demand for payment and notice under the Enforcement Act § 4-18 – 5 invoices – \
         Bølgen & Skjærgård Rørleggerservice AS"
    );
}

#[test]
fn the_rule_tags_behind_the_amounts_are_kept() {
    let doc = compose(&input(Step::Betalingsoppfordring, Language::Nb, 1));
    assert!(
        doc.rules
            .iter()
            .any(|r| r.starts_with("forsinkelsesrente:2026-H2")),
        "{:?}",
        doc.rules
    );
    assert!(
        doc.rules
            .iter()
            .any(|r| r.starts_with("fee-fractions:") || r.contains("fraction")),
        "{:?}",
        doc.rules
    );
}
