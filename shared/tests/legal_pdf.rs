//! The legal documents as PDF, read back with poppler (`pdftotext`, `pdfinfo`): the begjæring
//! om utlegg and the forliksklage with their amounts, court fee, parties and attachments; the
//! attachments bundle; the approval stamp and the hash of the approved bytes.
//!
//! Needs poppler-utils (`.ci/run` installs it). Run: `cargo test -p shared --features documents
//! --test legal_pdf`.

use chrono::{DateTime, Utc};
use shared::documents::{
    approve, bundle, layout_legal, render, render_legal, sha256_hex, BundlePart, PartContent,
    RenderError, MAX_PAGES,
};
use shared::domain::collection::dunning::letter::{sample, LetterDocument, NBSP};
use shared::domain::collection::dunning::{Language, Step};
use shared::domain::collection::legal::document::{
    AttachmentKind, DocumentKind, LegalDocument, LegalDocumentInput,
};
use shared::domain::collection::legal::sample::sample_document;
use shared::domain::{DebtorKind, Rulebook};
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

fn book() -> &'static Rulebook {
    Rulebook::norway()
}

fn drafted(kind: DocumentKind, debtor: DebtorKind) -> LegalDocumentInput {
    sample_document(book(), kind, debtor).unwrap().1
}

fn tmp_pdf(bytes: &[u8]) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "legal-{}-{}.pdf",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::write(&path, bytes).unwrap();
    path
}

fn poppler(tool: &str, pdf: &[u8]) -> String {
    let path = tmp_pdf(pdf);
    let mut cmd = Command::new(tool);
    if tool == "pdftotext" {
        cmd.args(["-enc", "UTF-8"]).arg(&path).arg("-");
    } else {
        cmd.arg(&path);
    }
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{tool} is needed (apt-get install poppler-utils): {e}"));
    let _ = std::fs::remove_file(&path);
    assert!(
        out.status.success(),
        "{tool}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The text as pdftotext reads it, every run of white space as one space.
fn extract(pdf: &[u8]) -> String {
    poppler("pdftotext", pdf)
        .replace(NBSP, " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn pages(pdf: &[u8]) -> usize {
    poppler("pdfinfo", pdf)
        .lines()
        .find_map(|l| l.strip_prefix("Pages:"))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

fn plain(s: &str) -> String {
    s.replace(NBSP, " ")
}

fn at() -> DateTime<Utc> {
    "2026-07-16T08:30:00Z".parse().unwrap()
}

#[test]
fn the_begjaering_reads_back_with_its_amounts_court_fee_parties_and_attachments() {
    let i = drafted(DocumentKind::BegjaeringOmUtlegg, DebtorKind::Consumer);
    let doc = LegalDocument::compose(&i);
    let pdf = render_legal(&doc).unwrap();
    assert!(pdf.starts_with(b"%PDF-1.7"));
    let text = extract(&pdf);
    let c = &i.claims[0];
    let must = [
        "Begjæring om utlegg".to_string(),
        "Namsmannen i Oslo politidistrikt".into(),
        // The parties.
        "Bølgen & Skjærgård Rørleggerservice AS".into(),
        "923 609 016".into(),
        "Åse Øvrebø Ærlig".into(),
        "Bærumsveien 12 B, 1337 Sandvika".into(),
        "Fødselsnummer (saksøkte, 11 siffer)".into(),
        "Inndrive lagrer ikke fødselsnummer".into(),
        // The claim, its interest with the rates, its fees and the total.
        "12 500,00".into(),
        "-2 000,00".into(),
        "Gjenstående hovedstol 10 500,00".into(),
        format!(
            "Forsinkelsesrente til 16.07.2026 {}",
            plain(&shared_amount(c.interest.claimed))
        ),
        "12,00 %".into(),
        "12,25 %".into(),
        "Gebyr for betalingsoppfordring".into(),
        format!("Krav per 16.07.2026 {}", plain(&shared_amount(c.total))),
        // The court fee of the year and the writing costs.
        "1,21 × rettsgebyret kr 1 345,00".into(),
        "1 627,00".into(),
        "672,00".into(),
        format!("Til sammen {}", plain(&shared_amount(i.total))),
        // The tvangsgrunnlag, the § 4-18 varsel and the choice of the forliksråd.
        "tvangsfullbyrdelsesloven § 7-2 første ledd bokstav f".into(),
        "betalingsoppfordring sendt 01.07.2026".into(),
        "tvangsfullbyrdelsesloven § 7-7".into(),
        "☒ Ja".into(),
        // The attachments.
        "Bilag 1 Faktura 10023 datert 04.05.2026".into(),
        "Bilag 6 Betalingshistorikk".into(),
        "Sted og dato".into(),
        "Underskrift".into(),
    ];
    for m in must {
        assert!(text.contains(&m), "{m:?} not in\n{text}");
    }
    assert!(pages(&pdf) >= 2);
    // Every box on the page, and the top band free for the stamp.
    let placed = layout_legal(&doc).unwrap();
    assert!(placed.pages.len() <= MAX_PAGES);
    for (_, b) in placed.boxes() {
        assert!(b.rect.y >= 13.0 * shared::documents::MM, "{:?}", b.text);
        assert!(
            b.rect.right() <= shared::documents::PAGE_WIDTH - 15.0,
            "{:?}",
            b.text
        );
    }
}

fn shared_amount(m: shared::domain::Money) -> String {
    // 10 908,95 as the document prints it (no-break spaces between thousands).
    let ore = m.to_ore();
    let kr = (ore / 100).to_string();
    let mut out = String::new();
    for (i, ch) in kr.chars().enumerate() {
        if i > 0 && (kr.len() - i) % 3 == 0 {
            out.push(' ');
        }
        out.push(ch);
    }
    format!("{out},{:02}", ore % 100)
}

#[test]
fn the_forliksklage_reads_back_with_the_dispute_the_pastand_and_its_fee() {
    let i = drafted(DocumentKind::Forliksklage, DebtorKind::Business);
    let text = extract(&render_legal(&LegalDocument::compose(&i)).unwrap());
    for m in [
        "Forliksklage",
        "etter tvisteloven § 6-3",
        "Forliksrådet i Trondheim",
        "Fjøsnisse Gårdsdrift AS",
        "912 345 602",
        "Innklagedes innsigelse",
        "Jeg mener arbeidet ikke ble utført som avtalt",
        "Klagers syn",
        "Påstand",
        "dømmes til å betale",
        "1,54 × rettsgebyret kr 1 345,00",
        "2 071,00",
        "Innsigelse mottatt 15.07.2026 og kreditors vurdering",
    ] {
        assert!(text.contains(m), "{m:?} not in\n{text}");
    }
    assert!(!text.contains("Fødselsnummer"));
}

#[test]
fn the_attachments_become_one_pdf_in_order_each_page_labelled() {
    let i = drafted(DocumentKind::Forliksklage, DebtorKind::Consumer);
    // The notices as sent: here the sample letters stand in for them.
    let letter = |step: Step| {
        let input = sample(book(), step, Language::Nb, 1, DebtorKind::Consumer, i.date).unwrap();
        render(&LetterDocument::compose(&input).unwrap()).unwrap()
    };
    let invoice = letter(Step::Paminnelse);
    let notices: Vec<(usize, Vec<u8>)> = i
        .attachments
        .iter()
        .enumerate()
        .filter_map(|(n, a)| a.step.map(|s| (n, letter(s))))
        .collect();
    let history = LegalDocument::payment_history(&i, 6);
    let objection = LegalDocument::objection_page(&i, 7).unwrap();
    let mut parts = vec![BundlePart {
        attachment: &i.attachments[0],
        content: PartContent::Pdf(&invoice),
    }];
    for (n, bytes) in &notices {
        parts.push(BundlePart {
            attachment: &i.attachments[*n],
            content: PartContent::Pdf(bytes),
        });
    }
    parts.push(BundlePart {
        attachment: &i.attachments[5],
        content: PartContent::Page(&history),
    });
    parts.push(BundlePart {
        attachment: &i.attachments[6],
        content: PartContent::Page(&objection),
    });
    assert_eq!(i.attachments[5].kind, AttachmentKind::PaymentHistory);
    assert_eq!(i.attachments[6].kind, AttachmentKind::Objection);
    let out = bundle("Bilag", "Kreditor", "doc-bilag", &parts).unwrap();
    let expected_pages: usize = std::iter::once(&invoice)
        .chain(notices.iter().map(|(_, b)| b))
        .map(|b| pages(b))
        .sum::<usize>()
        + pages(&render_legal(&history).unwrap())
        + pages(&render_legal(&objection).unwrap());
    assert_eq!(pages(&out), expected_pages);
    let text = extract(&out);
    // In order, each labelled, the embedded letters' own text still readable.
    let order = [
        "Bilag 1 – side 1 av 1: Faktura 10023",
        "Bilag 2 – side 1 av 1: Betalingspåminnelse sendt",
        "Bilag 5 – side 1 av 2: Betalingsoppfordring med varsel",
        "Varsel etter tvangsfullbyrdelsesloven § 4-18",
        "Bilag 6 – side 1 av 1: Betalingshistorikk",
        "Innbetaling",
        "Bilag 7 – side 1 av 1: Innsigelse mottatt 15.07.2026 og kreditors vurdering",
        "Innsigelsen er vurdert som grunnløs",
    ];
    let mut from = 0;
    for m in order {
        let at = text[from..]
            .find(m)
            .unwrap_or_else(|| panic!("{m:?} not after position {from} in\n{text}"));
        from += at + m.len();
    }
    // Not a PDF: the attachment is named.
    let broken = [BundlePart {
        attachment: &i.attachments[0],
        content: PartContent::Pdf(b"not a pdf"),
    }];
    match bundle("Bilag", "Kreditor", "doc-bilag", &broken) {
        Err(RenderError::InvalidAttachment { number: 1, .. }) => {}
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_approved_pdf_is_stamped_with_who_and_when_and_the_hash_of_the_approved_bytes() {
    let i = drafted(DocumentKind::BegjaeringOmUtlegg, DebtorKind::Business);
    let pdf = render_legal(&LegalDocument::compose(&i)).unwrap();
    let signed = approve(&pdf, "  Kari Nordmann ", at()).unwrap();
    assert_eq!(signed.approval.by, "Kari Nordmann");
    assert_eq!(signed.approval.at, at());
    assert_eq!(signed.approval.sha256, sha256_hex(&pdf));
    assert_eq!(signed.approval.sha256.len(), 64);
    assert_ne!(sha256_hex(&signed.pdf), signed.approval.sha256);
    let n = pages(&pdf);
    assert_eq!(pages(&signed.pdf), n);
    let text = extract(&signed.pdf);
    // 08:30 UTC is 10:30 in Oslo in July.
    assert!(
        text.contains("GODKJENT OG SIGNERT av Kari Nordmann 16.07.2026 kl. 10:30 (side 1 av"),
        "{text}"
    );
    assert_eq!(
        text.matches("GODKJENT OG SIGNERT av Kari Nordmann").count(),
        n
    );
    assert!(text.contains(&format!(
        "SHA-256 av det godkjente dokumentet: {}",
        signed.approval.sha256
    )));
    // The document itself is still there, readable.
    assert!(text.contains("Begjæring om utlegg") && text.contains("1 627,00"));
    // Deterministic: the same approval gives the same bytes.
    assert_eq!(
        approve(&pdf, "Kari Nordmann", at()).unwrap().pdf,
        signed.pdf
    );
    // One changed byte is another hash.
    let mut other = pdf.clone();
    let last = other.len() - 2;
    other[last] ^= 1;
    assert_ne!(sha256_hex(&other), signed.approval.sha256);
    assert!(matches!(
        approve(&pdf, " ", at()),
        Err(RenderError::NoApprover)
    ));
    assert!(matches!(
        approve(b"%PDF-1.7 garbage", "Kari", at()),
        Err(RenderError::InvalidPdf(_))
    ));
}
