//! Table and property tests for the credit classifier.

use super::*;
use proptest::prelude::*;
use rust_decimal_macros::dec;

/// The voucher around a credit, as a short name for the table.
#[derive(Debug, Clone, Copy)]
enum Ctx {
    /// Only the text: no counter-postings, no invoice, no links.
    TextOnly,
    /// Counter-posting: a debit on this account (1920 bank, 7830 loss, 1500, 2400, 3000 …).
    Debit(u32),
    /// Debits on 7830 and 1920 (part dividend, part write-off).
    LossAndBank,
    /// The credit posting has type INCOMING_PAYMENT (OCR/KID), no counter-postings given.
    IncomingPayment,
    /// The invoice is a credit note (isCreditNote, creditedInvoice = 4711), counter 3000.
    CreditNote,
    /// The voucher reverses voucher 55 (55-2026), counter 3000.
    Reverses,
}

fn evidence(desc: &str, ctx: Ctx) -> CreditEvidence {
    let mut e = CreditEvidence {
        voucher_description: Some(desc.to_string()),
        ..Default::default()
    };
    match ctx {
        Ctx::TextOnly => {}
        Ctx::Debit(account) => e.counter_postings.push(debit(account, dec!(12500))),
        Ctx::LossAndBank => {
            e.counter_postings.push(debit(1920, dec!(2500)));
            e.counter_postings.push(debit(7830, dec!(10000)));
        }
        Ctx::IncomingPayment => e.posting_type = Some("INCOMING_PAYMENT".into()),
        Ctx::CreditNote => {
            e.invoice_is_credit_note = true;
            e.credited_invoice_id = Some(4711);
            e.counter_postings.push(debit(3000, dec!(10000)));
            e.counter_postings.push(debit(2700, dec!(2500)));
        }
        Ctx::Reverses => {
            e.reverses_voucher_id = Some(55);
            e.counter_postings.push(debit(3000, dec!(12500)));
        }
    }
    e
}

fn debit(account_number: u32, amount: Decimal) -> CounterPosting {
    CounterPosting {
        account_number,
        account_name: None,
        amount,
    }
}

use CreditKind::*;
use Flag::*;

/// (voucher description, context, expected kind, expected flags — exactly).
#[rustfmt::skip]
const TABLE: &[(&str, Ctx, CreditKind, &[Flag])] = &[
    // Clear markers, with and without the loss account.
    ("Tap på kunde 10023 – konkurs",            Ctx::Debit(7830), WriteOff, &[]),
    ("TAPSFØRT faktura 2024-118",               Ctx::Debit(7830), WriteOff, &[]),
    ("avskrevet etter purring",                 Ctx::Debit(7830), WriteOff, &[]),
    ("Avskrivning uerholdelig fordring",        Ctx::Debit(7830), WriteOff, &[]),
    (" - tap: kunde insolvent",                 Ctx::Debit(7830), WriteOff, &[]),
    ("AVSKRIVNING",                             Ctx::Debit(7835), WriteOff, &[]),
    ("Tap på fordring, faktura 10023",          Ctx::TextOnly,    WriteOff, &[]),
    ("Tapsføring faktura 10031",                Ctx::TextOnly,    WriteOff, &[]),
    ("tapsføres iht. FSFIN § 6-2-1 b",          Ctx::TextOnly,    WriteOff, &[]),
    ("Tapsfør",                                 Ctx::TextOnly,    WriteOff, &[]),
    ("Avskriv rest faktura 10077",              Ctx::TextOnly,    WriteOff, &[]),
    ("AVSKREVNE krav 2025",                     Ctx::TextOnly,    WriteOff, &[]),
    ("Avskrives – debitor slått konkurs",       Ctx::TextOnly,    WriteOff, &[]),
    ("«Tap» kunde 20011",                       Ctx::TextOnly,    WriteOff, &[]),
    ("*Tap* purret tre ganger",                 Ctx::TextOnly,    WriteOff, &[]),
    ("# tap",                                   Ctx::TextOnly,    WriteOff, &[]),
    ("(Tap på fordringer)",                     Ctx::TextOnly,    WriteOff, &[]),
    ("\tTAP: inkasso uten resultat",            Ctx::TextOnly,    WriteOff, &[]),
    ("Avskrev",                                 Ctx::Debit(1580), WriteOff, &[]),
    // A marker with a counter-account that is neither loss nor 1580.
    ("Tap faktura 10023",                       Ctx::Debit(3000), WriteOff, &[UnexpectedCounterAccount]),
    // Words that start with "tap" but are not plainly loss words.
    ("Tapt fordring, kunde konkurs",            Ctx::Debit(7830), WriteOff, &[]),
    ("Tapte fordringer 2025",                   Ctx::TextOnly,    WriteOff, &[AmbiguousMarker]),
    ("Tapet og maling",                         Ctx::TextOnly,    WriteOff, &[AmbiguousMarker]),
    ("Tapet og maling",                         Ctx::Debit(1920), Unknown,  &[ConflictingEvidence, AmbiguousMarker]),
    ("Tapt kvittering, betaling",               Ctx::Debit(1920), Unknown,  &[ConflictingEvidence, AmbiguousMarker]),
    ("Tapas-kveld, kreditering",                Ctx::Debit(3000), WriteOff, &[AmbiguousMarker, UnexpectedCounterAccount]),
    // Marker with a bank debit: suspicious, a person decides.
    ("Tap – dividende fra konkursbo",           Ctx::Debit(1920), Unknown,  &[ConflictingEvidence]),
    ("Avskrevet, innbetalt",                    Ctx::IncomingPayment, Unknown, &[ConflictingEvidence]),
    // Marker, loss account and bank: part paid, part written off.
    ("Tap etter dividende",                     Ctx::LossAndBank, WriteOff, &[MixedPaymentAndWriteOff]),
    ("Innbetaling dividende",                   Ctx::LossAndBank, WriteOff, &[MarkerMissing, MixedPaymentAndWriteOff]),
    // Loss account without the marker: the case Kredin warns about.
    ("Innbetaling",                             Ctx::Debit(7830), WriteOff, &[MarkerMissing]),
    ("Kunde konkurs – tap",                     Ctx::Debit(7830), WriteOff, &[MarkerMissing, LossWordLater]),
    ("10023 Tap på fordring",                   Ctx::Debit(7830), WriteOff, &[MarkerMissing, LossWordLater]),
    ("Write-off customer 10023",                Ctx::Debit(7830), WriteOff, &[MarkerMissing]),
    ("",                                        Ctx::Debit(7830), WriteOff, &[MarkerMissing]),
    // The word must come first.
    ("Kunde konkurs – tap",                     Ctx::TextOnly,    Unknown,  &[LossWordLater]),
    ("10023 Tap på fordring",                   Ctx::TextOnly,    Unknown,  &[LossWordLater]),
    ("1) Tap på fordring",                      Ctx::TextOnly,    Unknown,  &[LossWordLater]),
    ("Betaling, tapt kvittering",               Ctx::Debit(1920), Payment,  &[]),
    ("Delbetaling, rest avskrives senere",      Ctx::Debit(1920), Payment,  &[LossWordLater]),
    ("Avskrift av faktura 10023",               Ctx::Debit(1920), Payment,  &[]),
    ("Avsk. faktura 10023",                     Ctx::TextOnly,    Unknown,  &[]),
    // Payments.
    ("Innbetaling faktura 10023",               Ctx::Debit(1920), Payment,  &[]),
    ("OCR innbetaling KID 000123455",           Ctx::IncomingPayment, Payment, &[]),
    ("Ås kommune, innbetaling",                 Ctx::Debit(1920), Payment,  &[]),
    ("Kontant betaling",                        Ctx::Debit(1900), Payment,  &[]),
    ("Dividende konkursbo",                     Ctx::Debit(1920), Payment,  &[]),
    ("",                                        Ctx::Debit(1920), Payment,  &[]),
    // Credit notes and reversals.
    ("Kreditnota 10045",                        Ctx::CreditNote,  CreditNote, &[]),
    ("Tap, kreditnota 10045",                   Ctx::CreditNote,  CreditNote, &[ConflictingEvidence]),
    ("Kreditnota 10045",                        Ctx::TextOnly,    Unknown,  &[]),
    ("Tilbakeføring av bilag 55-2026",          Ctx::Reverses,    Reversal, &[]),
    ("Tap på fordring",                         Ctx::Reverses,    Reversal, &[ConflictingEvidence]),
    ("Tilbakeføring av bilag 55-2026",          Ctx::TextOnly,    Unknown,  &[]),
    // Neither.
    ("Korrigering",                             Ctx::TextOnly,    Unknown,  &[]),
    ("ÅRSOPPGJØR korrigering",                  Ctx::TextOnly,    Unknown,  &[]),
    ("Avregning",                               Ctx::Debit(2400), Unknown,  &[]),
    ("Motregning mot leverandørgjeld",          Ctx::Debit(2400), Unknown,  &[]),
    ("Ompostering til riktig kunde",            Ctx::Debit(1500), Unknown,  &[]),
    ("Bruk av avsetning",                       Ctx::Debit(1580), Unknown,  &[PossibleWriteOff]),
    ("Innkommet på tidligere tapsførte krav",   Ctx::Debit(7820), Unknown,  &[PossibleWriteOff, LossWordLater]),
    ("",                                        Ctx::TextOnly,    Unknown,  &[]),
    ("   \t ",                                  Ctx::TextOnly,    Unknown,  &[]),
];

#[test]
fn the_table_of_voucher_descriptions() {
    let mut failures = Vec::new();
    for (i, (desc, ctx, kind, flags)) in TABLE.iter().enumerate() {
        let c = classify(&evidence(desc, *ctx));
        let mut want = flags.to_vec();
        want.sort_unstable();
        if c.kind != *kind || c.flags != want {
            failures.push(format!(
                "row {i}: {desc:?} with {ctx:?}: want {kind:?} {want:?}, got {:?} {:?} ({})",
                c.kind, c.flags, c.reason_en
            ));
        }
        assert!(!c.reason_en.is_empty() && !c.reason_no.is_empty());
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
    assert!(TABLE.len() >= 30);
}

/// The table, seen through the marker function alone: exactly the rows whose first word starts
/// with a stem have a marker.
#[test]
fn the_table_through_the_marker_function() {
    let expected_marker = |d: &str| {
        let first = d
            .trim_start_matches(|c: char| !c.is_alphanumeric())
            .split(|c: char| !c.is_alphabetic())
            .next()
            .unwrap_or("")
            .to_lowercase();
        ["tap", "avskriv", "avskrev"]
            .iter()
            .any(|s| first.starts_with(s))
    };
    for (desc, ..) in TABLE {
        assert_eq!(
            starts_with_loss_marker(desc).is_some(),
            expected_marker(desc),
            "{desc:?}"
        );
    }
}

// ---- the counter-account rule ------------------------------------------------------------------

#[test]
fn loss_account_without_marker_is_a_write_off_with_a_warning() {
    let mut e = evidence("Innbetaling faktura 10023", Ctx::TextOnly);
    e.counter_postings.push(CounterPosting {
        account_number: 7830,
        account_name: Some("Tap på fordringer".into()),
        amount: dec!(4000.00),
    });
    let c = classify(&e);
    assert_eq!(c.kind, WriteOff);
    assert_eq!(c.flags, vec![MarkerMissing]);
    assert!(
        !c.needs_review(),
        "a marker_missing write-off is a warning, not a hold"
    );
    assert_eq!(MarkerMissing.severity(), Severity::Warning);
    assert!(c.reason_en.contains("7830 (4000.00)"), "{}", c.reason_en);
    assert!(c.reason_en.contains("would have read this as a payment"));
    assert!(c.reason_no.contains("Advarsel"), "{}", c.reason_no);
    assert!(c.reason_no.contains("betaling"));
    assert!(c.evidence.contains(&EvidenceItem::CounterAccount {
        account_number: 7830,
        account_name: Some("Tap på fordringer".into()),
        amount: dec!(4000.00),
        role: AccountRole::Loss,
    }));
}

#[test]
fn bank_counter_account_is_a_payment() {
    for bank in [1900, 1920, 1930, 1940, 1999] {
        let c = classify(&evidence("Innbetaling", Ctx::Debit(bank)));
        assert_eq!(c.kind, Payment, "{bank}");
        assert!(c.flags.is_empty());
        assert!(!c.needs_review());
        let word = if bank < 1920 {
            "cash account"
        } else {
            "bank account"
        };
        assert!(
            c.reason_en.contains(&format!("{word} {bank}")),
            "{}",
            c.reason_en
        );
    }
}

#[test]
fn other_counter_accounts_are_unknown_never_payment() {
    for other in [1500, 1501, 1890, 2000, 2400, 2700, 3000, 6800, 8050] {
        let c = classify(&evidence("Innbetaling faktura 10023", Ctx::Debit(other)));
        assert_eq!(c.kind, Unknown, "{other}");
        assert!(c.needs_review());
        assert!(c.reason_en.contains(&other.to_string()));
    }
}

#[test]
fn only_debits_count_as_counter_evidence() {
    // A credit on the bank alongside the customer credit is not money coming in.
    let mut e = evidence("Innbetaling", Ctx::TextOnly);
    e.counter_postings.push(debit(1920, dec!(-500)));
    e.counter_postings.push(debit(7830, dec!(0)));
    let c = classify(&e);
    assert_eq!(c.kind, Unknown);
    assert!(c.evidence.is_empty(), "{:?}", c.evidence);
}

#[test]
fn loss_accounts_follow_the_clients_chart() {
    // The client books losses on 7831; 7830 does not exist in its chart.
    let chart = [1500, 1920, 7820, 7831, 7839, 8050];
    let loss = loss_accounts_in_chart(chart);
    assert_eq!(loss, vec![7831]);
    let mut e = evidence("Innbetaling", Ctx::Debit(7831));
    e.loss_accounts = loss.clone();
    let c = classify(&e);
    assert_eq!((c.kind, c.flags.clone()), (WriteOff, vec![MarkerMissing]));

    // 7831 is not a loss account by default: loss group, held for a person.
    let c = classify(&evidence("Innbetaling", Ctx::Debit(7831)));
    assert_eq!((c.kind, c.flags), (Unknown, vec![PossibleWriteOff]));

    // Defaults: 7830 and 7835.
    assert_eq!(account_role(7830, &[]), AccountRole::Loss);
    assert_eq!(account_role(7835, &[]), AccountRole::Loss);
    assert_eq!(account_role(7839, &[]), AccountRole::LossGroupOther);
    assert_eq!(account_role(1580, &[]), AccountRole::LossAllowance);
    assert_eq!(account_role(1920, &[]), AccountRole::Bank);
    assert_eq!(account_role(1500, &[]), AccountRole::Other);
    assert_eq!(account_role(7830, &[7831]), AccountRole::LossGroupOther);
}

// ---- credit notes --------------------------------------------------------------------------------

#[test]
fn credit_note_from_the_invoice_or_the_posting() {
    let mut e = evidence("Kreditnota 10045", Ctx::TextOnly);
    e.invoice_is_credit_note = true;
    assert_eq!(classify(&e).kind, CreditNote);

    let mut e = evidence("Kreditnota 10045", Ctx::TextOnly);
    e.credited_invoice_id = Some(1945373645);
    let c = classify(&e);
    assert_eq!(c.kind, CreditNote);
    assert!(c.reason_en.contains("1945373645"));

    let mut e = evidence("Faktura 10045", Ctx::TextOnly);
    e.posting_type = Some("OUTGOING_INVOICE_CUSTOMER_POSTING".into());
    assert_eq!(classify(&e).kind, CreditNote);

    let mut e = evidence("Faktura 10045", Ctx::TextOnly);
    e.voucher_type = Some(VoucherTypeRef {
        id: Some(9912),
        name: Some("Utgående faktura".into()),
    });
    assert_eq!(classify(&e).kind, CreditNote);
}

#[test]
fn credited_invoice_zero_is_not_a_credit_note() {
    let mut e = evidence("Innbetaling", Ctx::Debit(1920));
    e.credited_invoice_id = Some(0);
    e.voucher_type = Some(VoucherTypeRef {
        id: Some(1),
        name: Some("Betaling".into()),
    });
    assert_eq!(classify(&e).kind, Payment);
}

#[test]
fn credit_note_with_bank_evidence_is_flagged() {
    let mut e = evidence("Kreditnota 10045", Ctx::Debit(1920));
    e.invoice_is_credit_note = true;
    let c = classify(&e);
    assert_eq!(
        (c.kind, c.flags.clone()),
        (CreditNote, vec![ConflictingEvidence])
    );
    assert!(c.needs_review());
}

// ---- reversals -----------------------------------------------------------------------------------

#[test]
fn reversal_comes_first() {
    // Even with a credit note, a bank debit and a loss debit, a reversing voucher is a reversal.
    let mut e = evidence("Tilbakeføring av bilag 55-2026", Ctx::LossAndBank);
    e.reverses_voucher_id = Some(55);
    e.invoice_is_credit_note = true;
    let c = classify(&e);
    assert_eq!(c.kind, Reversal);
    assert_eq!(c.flags, vec![ConflictingEvidence]);
    assert!(c.reason_no.contains("tilbakefører bilag 55"));

    // A reversal with a bank debit (a refund undone) is not a conflict.
    let mut e = evidence("Tilbakeføring av bilag 56-2026", Ctx::Debit(1920));
    e.reverses_voucher_id = Some(56);
    let c = classify(&e);
    assert_eq!((c.kind, c.flags), (Reversal, vec![]));
}

#[test]
fn a_reversed_voucher_keeps_its_kind_and_is_flagged() {
    let mut e = evidence("Innbetaling faktura 10023", Ctx::Debit(1920));
    e.is_reversed_by = Some(77);
    let c = classify(&e);
    assert_eq!((c.kind, c.flags.clone()), (Payment, vec![ReversedLater]));
    assert!(c
        .evidence
        .contains(&EvidenceItem::ReversedBy { voucher_id: 77 }));
    assert!(c.reason_en.contains("Voucher 77 later reverses"));
}

// ---- which description ---------------------------------------------------------------------------

#[test]
fn posting_description_when_the_voucher_description_is_blank() {
    for vd in [None, Some(""), Some("   ")] {
        let e = CreditEvidence {
            voucher_description: vd.map(String::from),
            posting_description: Some("Tap på fordring 10023".into()),
            ..Default::default()
        };
        let c = classify(&e);
        assert_eq!(c.kind, WriteOff);
        assert!(matches!(
            c.evidence[0],
            EvidenceItem::Marker {
                source: TextSource::PostingDescription,
                stem: MarkerStem::Tap,
                ..
            }
        ));
        assert!(c
            .reason_en
            .starts_with("The posting description begins with «Tap»"));
    }
}

#[test]
fn voucher_description_wins_when_both_have_a_marker() {
    let e = CreditEvidence {
        voucher_description: Some("Avskrevet 2026".into()),
        posting_description: Some("Tap".into()),
        ..Default::default()
    };
    let c = classify(&e);
    assert_eq!(
        c.evidence,
        vec![EvidenceItem::Marker {
            source: TextSource::VoucherDescription,
            word: "Avskrevet".into(),
            stem: MarkerStem::Avskrev,
            strength: MarkerStrength::Clear,
        }]
    );
}

#[test]
fn a_marker_in_the_posting_description_still_counts_when_the_voucher_text_has_none() {
    let mut e = CreditEvidence {
        voucher_description: Some("Bilag 12".into()),
        posting_description: Some("Tapsført".into()),
        ..Default::default()
    };
    assert_eq!(classify(&e).kind, WriteOff);
    e.counter_postings.push(debit(1920, dec!(100)));
    assert_eq!(classify(&e).kind, Unknown);
}

#[test]
fn empty_evidence_is_unknown() {
    let c = classify(&CreditEvidence::default());
    assert_eq!(c.kind, Unknown);
    assert!(c.flags.is_empty() && c.evidence.is_empty());
    assert!(c.needs_review());
    assert!(c.reason_en.contains("not taken as a payment"));
}

// ---- the marker function -------------------------------------------------------------------------

#[test]
fn marker_words_and_their_strength() {
    use MarkerStem as S;
    use MarkerStrength::*;
    let cases: &[(&str, Option<(S, MarkerStrength)>)] = &[
        ("tap", Some((S::Tap, Clear))),
        ("Tap:", Some((S::Tap, Clear))),
        ("Tap-føring", Some((S::Tap, Clear))),
        ("tapsført", Some((S::Tap, Clear))),
        ("Tapsføring", Some((S::Tap, Clear))),
        ("tap på fordring", Some((S::Tap, Clear))),
        ("TAPSFØRES", Some((S::Tap, Clear))),
        ("Tapføring", Some((S::Tap, Clear))),
        ("avskriv", Some((S::Avskriv, Clear))),
        ("Avskrivning", Some((S::Avskriv, Clear))),
        ("avskrivninger", Some((S::Avskriv, Clear))),
        ("Avskrive", Some((S::Avskriv, Clear))),
        ("avskrevet", Some((S::Avskrev, Clear))),
        ("AVSKREVNE", Some((S::Avskrev, Clear))),
        ("Avskreven", Some((S::Avskrev, Clear))),
        ("tapt", Some((S::Tap, Ambiguous))),
        ("Tapte", Some((S::Tap, Ambiguous))),
        ("Tapet", Some((S::Tap, Ambiguous))),
        ("Tape", Some((S::Tap, Ambiguous))),
        ("tappekran", Some((S::Tap, Ambiguous))),
        ("Ta p", None),
        ("Tåp", None),
        ("Avskrift", None),
        ("Avsk.", None),
        ("Avskr", None),
        ("Skrive av", None),
        ("Betaling", None),
        ("Etap", None),
        ("Utap", None),
    ];
    for (text, want) in cases {
        let got = starts_with_loss_marker(text).map(|m| (m.stem, m.strength));
        assert_eq!(got, *want, "{text:?}");
    }
}

#[test]
fn marker_word_keeps_the_spelling_and_folds_the_case() {
    let m = starts_with_loss_marker("«ÅÆØ»").map(|m| m.folded);
    assert_eq!(m, None);
    let m = starts_with_loss_marker("  – AVSKREVET etter purring").unwrap();
    assert_eq!(m.word, "AVSKREVET");
    assert_eq!(m.folded, "avskrevet");
    let m = starts_with_loss_marker("TAPSFØRINGSBILAG").unwrap();
    assert_eq!(m.folded, "tapsføringsbilag");
}

// ---- serde shape ---------------------------------------------------------------------------------

#[test]
fn serde_kind_and_flags_are_snake_case() {
    let c = classify(&evidence("Innbetaling", Ctx::LossAndBank));
    let v = serde_json::to_value(&c).unwrap();
    assert_eq!(v["kind"], "write_off");
    assert_eq!(
        v["flags"],
        serde_json::json!(["marker_missing", "mixed_payment_and_write_off"])
    );
    assert_eq!(v["evidence"][0]["rule"], "counter_account");
    assert_eq!(v["evidence"][0]["role"], "bank");
    assert_eq!(v["evidence"][1]["role"], "loss");
    for (kind, s) in [
        (Payment, "payment"),
        (CreditNote, "credit_note"),
        (WriteOff, "write_off"),
        (Reversal, "reversal"),
        (Unknown, "unknown"),
    ] {
        assert_eq!(serde_json::to_value(kind).unwrap(), s);
        assert_eq!(kind.as_str(), s);
    }
    for f in [
        MarkerMissing,
        ConflictingEvidence,
        AmbiguousMarker,
        MixedPaymentAndWriteOff,
        UnexpectedCounterAccount,
        PossibleWriteOff,
        LossWordLater,
        ReversedLater,
    ] {
        assert_eq!(serde_json::to_value(f).unwrap(), f.as_str());
    }
    let back: Classification = serde_json::from_value(v).unwrap();
    assert_eq!(back, c);
}

#[test]
fn evidence_reads_from_plain_json() {
    let e: CreditEvidence = serde_json::from_str(
        r#"{ "voucher_description": "Innbetaling",
             "voucher_type": null,
             "counter_postings": [ { "account_number": 7830, "amount": "1250.50" } ] }"#,
    )
    .unwrap();
    assert_eq!(e.counter_postings[0].amount, dec!(1250.50));
    assert_eq!(classify(&e).flags, vec![MarkerMissing]);
    // Amounts may also be JSON numbers, as Tripletex sends them.
    let e: CreditEvidence = serde_json::from_str(
        r#"{ "posting_description": "Tap", "counter_postings": [ { "account_number": 1920, "amount": 1250.5 } ] }"#,
    )
    .unwrap();
    assert_eq!(e.counter_postings[0].amount, dec!(1250.5));
    assert_eq!(classify(&e).kind, Unknown);
    let empty: CreditEvidence = serde_json::from_str("{}").unwrap();
    assert_eq!(empty, CreditEvidence::default());
}

// ---- properties ------------------------------------------------------------------------------------

/// Leading whitespace and punctuation the rule skips.
fn leading() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop::sample::select(vec![
            " ", "\t", "\n", "-", "–", "«", "*", "#", "(", "\"", "•", ".", ":", "\u{200b}",
        ]),
        0..4,
    )
    .prop_map(|v| v.concat())
}

/// A word of Norwegian letters in any case.
fn word() -> impl Strategy<Value = String> {
    "[a-zA-ZæøåÆØÅé]{1,12}"
}

fn starts_with_stem(w: &str) -> bool {
    let f: String = w.chars().flat_map(char::to_lowercase).collect();
    f.starts_with("tap") || f.starts_with("avskriv") || f.starts_with("avskrev")
}

/// Debits on accounts that are not loss accounts (bank, receivables, revenue, VAT, suppliers).
fn non_loss_debits() -> impl Strategy<Value = Vec<CounterPosting>> {
    proptest::collection::vec(
        (
            prop::sample::select(vec![1500u32, 1580, 1920, 2400, 2700, 3000, 7820, 7839]),
            -100_000i64..100_000,
        )
            .prop_map(|(n, cents)| debit(n, Decimal::new(cents, 2))),
        0..3,
    )
}

proptest! {
    /// Any description whose first word does not begin with a marker is never a write-off by
    /// marker, whatever follows and whatever non-loss accounts the voucher debits.
    #[test]
    fn no_marker_first_never_a_write_off_by_marker(
        lead in leading(),
        first in word().prop_filter("first word must not start with a stem", |w| !starts_with_stem(w)),
        rest in "[ ,.:;–-][^\u{0300}-\u{036f}]{0,40}",
        posting in proptest::option::of(prop_oneof![Just("Tap".to_string()), "[a-zA-Z ]{0,10}"]),
        counter in non_loss_debits(),
    ) {
        let text = format!("{lead}{first}{rest}");
        prop_assert!(starts_with_loss_marker(&text).is_none(), "{:?}", text);
        let e = CreditEvidence {
            voucher_description: Some(text.clone()),
            // The posting description carries no marker either (else it would be the source).
            posting_description: posting.filter(|p| !starts_with_stem(p.trim())),
            counter_postings: counter,
            ..Default::default()
        };
        let c = classify(&e);
        prop_assert_ne!(c.kind, CreditKind::WriteOff, "{:?} → {}", text, c.reason_en);
        let has_marker_evidence = c.evidence.iter().any(|ev| matches!(ev, EvidenceItem::Marker { .. }));
        prop_assert!(!has_marker_evidence);
    }

    /// Leading digits hide the marker, too.
    #[test]
    fn a_leading_number_hides_the_marker(n in 0u32..1_000_000, lead in leading()) {
        let text = format!("{lead}{n} Tap på fordring");
        prop_assert!(starts_with_loss_marker(&text).is_none());
        prop_assert_eq!(classify(&evidence(&text, Ctx::TextOnly)).kind, CreditKind::Unknown);
    }

    /// Any text whose first word starts with a stem, in any case, after any leading punctuation,
    /// is a write-off by marker when nothing else is known.
    #[test]
    fn marker_first_is_a_write_off(
        lead in leading(),
        stem in prop::sample::select(vec!["tap", "avskriv", "avskrev"]),
        tail in "[a-zæøå]{0,8}",
        upper in any::<bool>(),
        rest in "([ ,.:;–-][^\u{0300}-\u{036f}]{0,30})?",
    ) {
        let w = format!("{stem}{tail}");
        let w = if upper { w.to_uppercase() } else { w };
        let text = format!("{lead}{w}{rest}");
        let m = starts_with_loss_marker(&text);
        prop_assert!(m.is_some(), "{:?}", text);
        let m = m.unwrap();
        prop_assert_eq!(m.stem.as_str(), stem);
        prop_assert_eq!(m.word, w);
        prop_assert_eq!(classify(&evidence(&text, Ctx::TextOnly)).kind, CreditKind::WriteOff);
    }

    /// Never silently a payment: a payment always has bank debit or payment-type evidence, and
    /// classify is total (no panic) on arbitrary input.
    #[test]
    fn payment_only_with_payment_evidence(
        vd in proptest::option::of(".{0,30}"),
        pd in proptest::option::of(".{0,30}"),
        pt in proptest::option::of(prop::sample::select(vec![
            "INCOMING_PAYMENT", "INCOMING_PAYMENT_OPPOSITE", "OUTGOING_INVOICE_CUSTOMER_POSTING", "WAGE", "",
        ])),
        accounts in proptest::collection::vec((1000u32..9000, -10_000i64..10_000), 0..4),
        credit_note in any::<bool>(),
        reverses in proptest::option::of(1i64..1000),
    ) {
        let e = CreditEvidence {
            voucher_description: vd,
            posting_description: pd,
            posting_type: pt.map(String::from),
            counter_postings: accounts.iter().map(|&(n, a)| debit(n, Decimal::new(a, 0))).collect(),
            invoice_is_credit_note: credit_note,
            reverses_voucher_id: reverses,
            ..Default::default()
        };
        let c = classify(&e);
        if c.kind == CreditKind::Payment {
            let bank = e.counter_postings.iter().any(|cp| (1900..2000).contains(&cp.account_number) && cp.amount > Decimal::ZERO);
            let typed = matches!(e.posting_type.as_deref(), Some("INCOMING_PAYMENT" | "INCOMING_PAYMENT_OPPOSITE"));
            prop_assert!(bank || typed);
            let no_marker = c.evidence.iter().all(|ev| !matches!(ev, EvidenceItem::Marker { .. }));
            prop_assert!(no_marker);
        }
        let mut sorted = c.flags.clone();
        sorted.sort_unstable();
        sorted.dedup();
        prop_assert_eq!(&sorted, &c.flags);
        prop_assert!(!c.reason_en.is_empty() && !c.reason_no.is_empty());
    }

    /// Changing the case of a description never changes the classification.
    #[test]
    fn case_does_not_matter(
        row in 0..TABLE.len(),
    ) {
        let (desc, ctx, kind, _) = TABLE[row];
        prop_assert_eq!(classify(&evidence(&desc.to_uppercase(), ctx)).kind, kind);
        prop_assert_eq!(classify(&evidence(&desc.to_lowercase(), ctx)).kind, kind);
    }
}
