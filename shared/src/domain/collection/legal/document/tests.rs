use super::*;
use crate::domain::collection::legal::sample::{sample_case, sample_document, sample_forum};
use crate::domain::collection::letters::DebtorKind;
use crate::domain::BalanceChange;

fn book() -> &'static Rulebook {
    Rulebook::norway()
}

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn kr(n: i64) -> Money {
    Money::from_kroner(n)
}

#[test]
fn the_begjaering_specifies_principal_interest_fees_and_costs_that_add_up() {
    let (s, i) = sample_document(
        book(),
        DocumentKind::BegjaeringOmUtlegg,
        DebtorKind::Business,
    )
    .unwrap();
    assert_eq!(i.date, d("2026-07-16"));
    let c = &i.claims[0];
    assert_eq!(c.reference, "10023");
    assert_eq!(c.created, d("2026-05-04"));
    assert_eq!(c.due_date, d("2026-05-18"));
    assert_eq!(c.kid.as_deref(), Some(s.kid.as_str()));
    assert_eq!(c.original_amount, kr(12_500));
    assert_eq!(
        c.payments,
        vec![Payment {
            date: d("2026-06-10"),
            amount: kr(2_000)
        }]
    );
    assert_eq!(c.remaining, kr(10_500));
    // Interest from the day after the due date to the filing date on the balance history,
    // as the rulebook computes it: 12 500 until the payment day, 10 500 after.
    let expected = book()
        .interest_on_balances(
            d("2026-05-18"),
            kr(12_500),
            &[BalanceChange {
                date: d("2026-06-10"),
                balance: kr(10_500),
            }],
            d("2026-07-16"),
        )
        .unwrap();
    assert_eq!(c.interest.accrued, expected.total);
    assert_eq!(c.interest.from, d("2026-05-19"));
    assert_eq!(c.interest.to, d("2026-07-16"));
    // The rates used: 12.00 % to 30 June, 12.25 % from 1 July (both halves of 2026).
    let rates: Vec<String> = c
        .interest
        .rows
        .iter()
        .map(|r| r.rate_percent.to_string())
        .collect();
    assert!(
        rates.contains(&"12.00".to_string()) && rates.contains(&"12.25".to_string()),
        "{rates:?}"
    );
    assert!(c
        .interest
        .rows
        .iter()
        .all(|r| r.rule.starts_with("forsinkelsesrente:2026-H")));
    // The fees the notices demanded: purring 38, inkassovarsel 38, betalingsoppfordring 113,
    // offset against the standardkompensasjon for a business debtor.
    let fees: Money = c
        .fees
        .iter()
        .map(|f| f.amount)
        .fold(Money::ZERO, |a, b| a + b);
    assert_eq!(fees, s.claim.amounts.fees_demanded);
    assert!(c
        .fees
        .iter()
        .any(|f| f.label.starts_with("Standardkompensasjon")));
    assert_eq!(
        c.total,
        c.remaining + c.interest.claimed + s.claim.amounts.fees_outstanding
    );
    // The costs: 1.21 R for the begjæring and ½ R for writing it, with 2026's R (1 345 kr),
    // rounded down.
    assert_eq!(i.costs.len(), 2);
    assert_eq!(i.costs[0].amount, kr(1_627));
    assert_eq!(
        i.costs[0].rules,
        vec![
            "rettsgebyr:2026@rgl§1".to_string(),
            "rettsgebyr_multiplier:utlegg-1.21@LOV-2021-12-22-166".to_string()
        ]
    );
    assert_eq!(i.costs[1].amount, kr(672));
    assert_eq!(i.total, c.total + kr(1_627 + 672));
    // The tvangsgrunnlag: the betalingsoppfordring with the § 4-18 varsel in it.
    assert_eq!(i.betalingsoppfordring.step, Step::Betalingsoppfordring);
    assert_eq!(i.betalingsoppfordring.sent, d("2026-07-01"));
    assert_eq!(i.varsel_418, i.betalingsoppfordring);
    assert!(i.forliksraad_if_objection && i.default_judgment);
    assert!(!i.debtor.is_enk());
    assert!(i.objection.is_none());
    assert!(i.warnings.is_empty(), "{:?}", i.warnings);
}

#[test]
fn the_attachments_are_the_invoice_each_notice_as_sent_and_the_payment_history() {
    let (_, i) = sample_document(
        book(),
        DocumentKind::BegjaeringOmUtlegg,
        DebtorKind::Consumer,
    )
    .unwrap();
    let titles: Vec<&str> = i.attachments.iter().map(|a| a.title.as_str()).collect();
    assert_eq!(titles.len(), 6, "{titles:?}");
    assert_eq!(titles[0], "Faktura 10023 datert 04.05.2026");
    assert!(titles[1].starts_with("Betalingspåminnelse sendt"));
    assert!(titles[2].starts_with("Purring sendt"));
    assert!(titles[3].starts_with("Inkassovarsel sendt"));
    assert_eq!(
        titles[4],
        "Betalingsoppfordring med varsel etter tvangsfullbyrdelsesloven § 4-18 sendt 01.07.2026 med e-post og brev"
    );
    assert_eq!(titles[5], "Betalingshistorikk");
    assert_eq!(
        i.attachments.iter().map(|a| a.number).collect::<Vec<_>>(),
        vec![1, 2, 3, 4, 5, 6]
    );
    assert_eq!(
        i.attachments[4].kind.api_type(i.attachments[4].step),
        "betalingsoppfordring"
    );
    assert_eq!(i.attachments[0].kind.api_type(None), "tvangsgrunnlag");
    // A consumer: the fødselsnummer is filled in by hand and never stored.
    assert!(i.debtor.needs_birth_number());
    assert!(i.warnings.iter().any(|w| w.contains("Fødselsnummeret")));
    let doc = LegalDocument::compose(&i);
    let text = doc.text();
    assert!(
        text.contains("Fødselsnummer (saksøkte, 11 siffer): ____________"),
        "{text}"
    );
    assert!(text.contains("Inndrive lagrer ikke fødselsnummer"));
    let json = serde_json::to_string(&i).unwrap();
    assert!(!json.to_lowercase().contains("fodselsnummer") && !json.contains("birthNumber"));
}

#[test]
fn the_begjaering_reads_as_a_7_2_f_request_to_the_namsmann() {
    let (_, i) = sample_document(
        book(),
        DocumentKind::BegjaeringOmUtlegg,
        DebtorKind::Consumer,
    )
    .unwrap();
    let doc = LegalDocument::compose(&i);
    let text = doc
        .text()
        .replace(crate::domain::collection::dunning::letter::NBSP, " ");
    for must in [
        "Begjæring om utlegg",
        "tvangsfullbyrdelsesloven § 7-2 første ledd bokstav f",
        "Til: Namsmannen i Oslo politidistrikt",
        "Verneting: Saksøkte bor i Bærum kommune",
        "Bølgen & Skjærgård Rørleggerservice AS",
        "Organisasjonsnummer: 923 609 016",
        "Åse Øvrebø Ærlig",
        "betalingsoppfordring sendt 01.07.2026",
        "varsel etter tvangsfullbyrdelsesloven § 4-18",
        "Saksøker ønsker at saken behandles i forliksrådet dersom saksøkte kommer med innsigelser (tvangsfullbyrdelsesloven § 7-7): Ja",
        "Påstand ved behandling i forliksrådet",
        "Rettsgebyr for begjæring om utlegg (1,21 × rettsgebyret kr 1 345,00) | rettsgebyrloven § 14 | 1 627,00",
        "Utferdigelse av begjæringen (0,5 × rettsgebyret kr 1 345,00)",
        "Bilag 6 | Betalingshistorikk",
        "12,25 %",
    ] {
        assert!(text.contains(must), "{must:?} not in\n{text}");
    }
    assert_eq!(doc.sections.len(), 7);
    assert_eq!(doc.page_label(1, 3), "Side 1 av 3");
}

#[test]
fn the_forliksklage_states_the_dispute_the_pastand_and_its_fee_marked_unverified() {
    let (s, i) = sample_document(book(), DocumentKind::Forliksklage, DebtorKind::Business).unwrap();
    assert!(s.case.is_disputed());
    let o = i.objection.as_ref().unwrap();
    assert_eq!(o.channel, "e-post");
    assert!(o
        .assessment
        .as_deref()
        .unwrap()
        .contains("signert arbeidsordre"));
    assert_eq!(
        i.attachments.last().unwrap().kind,
        AttachmentKind::Objection
    );
    // 1.54 R of 2026, rounded down: 2 071 kr; its adoption is unverified, so the user is told.
    assert_eq!(i.costs.len(), 1);
    assert_eq!(i.costs[0].amount, kr(2_071));
    assert!(
        i.warnings.iter().any(|w| w.contains("forliksklage-1.54")),
        "{:?}",
        i.warnings
    );
    let doc = LegalDocument::compose(&i);
    let text = doc
        .text()
        .replace(crate::domain::collection::dunning::letter::NBSP, " ");
    for must in [
        "Forliksklage",
        "etter tvisteloven § 6-3",
        "Til: Forliksrådet i Trondheim",
        "Innklagedes innsigelse",
        "Klagers syn",
        "Fjøsnisse Gårdsdrift AS dømmes til å betale Bølgen & Skjærgård Rørleggerservice AS",
        "med tillegg av forsinkelsesrente etter forsinkelsesrenteloven § 3 første ledd av kr 10 500,00 fra 17.07.2026 til betaling skjer",
        "Klager krever fraværsdom",
        "Bevis",
        "Organisasjonsnummer: 912 345 602",
    ] {
        assert!(text.contains(must), "{must:?} not in\n{text}");
    }
    assert!(!text.contains("Fødselsnummer"));
}

#[test]
fn drafting_refuses_what_would_make_a_wrong_document() {
    let s = sample_case(book(), DebtorKind::Business, false).unwrap();
    let notices: Vec<SentNotice<'_>> = s
        .records
        .iter()
        .map(|(record, channel)| SentNotice {
            record,
            channel: *channel,
        })
        .collect();
    let sender = crate::domain::collection::dunning::letter::sample_sender();
    let forum = sample_forum(DocumentKind::BegjaeringOmUtlegg, DebtorKind::Business);
    let policy = LegalStepsPolicy::default();
    let draft = |notices: &[SentNotice<'_>], date: NaiveDate, sender: &Sender| {
        LegalDocumentInput::draft(&DraftInput {
            kind: DocumentKind::BegjaeringOmUtlegg,
            document_id: "doc_1",
            claim: &s.claim,
            case: &s.case,
            notices,
            creditor: sender,
            debtor: &s.debtor,
            description: "Rørleggerarbeid",
            kid: None,
            forum: &forum,
            policy: &policy,
            book: book(),
            date,
        })
    };
    assert!(draft(&notices, s.ready_on, &sender).is_ok());
    assert_eq!(
        draft(&notices, d("2026-07-15"), &sender),
        Err(DraftError::BeforeDeadline {
            date: d("2026-07-15"),
            deadline: d("2026-07-15")
        })
    );
    assert_eq!(
        draft(&notices[..3], s.ready_on, &sender),
        Err(DraftError::NoBetalingsoppfordring)
    );
    let mut no_org = sender.clone();
    no_org.organization_number = None;
    assert_eq!(
        draft(&notices, s.ready_on, &no_org),
        Err(DraftError::CreditorWithoutOrgNumber)
    );
    // A notice missing from the list would leave fees unexplained.
    let charged = notices
        .iter()
        .position(|n| !(n.record.fee + n.record.compensation).is_zero())
        .unwrap();
    let mut partial = notices.clone();
    partial.remove(charged);
    assert!(matches!(
        draft(&partial, s.ready_on, &sender),
        Err(DraftError::FeesDoNotMatch { .. })
    ));
    // The rulebook ends with 2026: a filing in 2027 is a gap, not a guess.
    assert!(matches!(
        draft(&notices, d("2027-01-04"), &sender),
        Err(DraftError::Gap(_))
    ));
}
