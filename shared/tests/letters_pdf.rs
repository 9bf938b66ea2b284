//! The dunning letters as PDF: the text read back with poppler (`pdftotext`, `pdffonts`), the
//! file's properties from its bytes, and the print rules checked on the layout.
//!
//! Needs poppler-utils (`.ci/run` installs it). Run: `cargo test -p shared --features documents
//! --test letters_pdf`.

use chrono::NaiveDate;
use shared::documents::{
    layout, render, Layout, RenderError, Role, Weight, BARCODE_ZONE, MAX_PAGES, MM, PAGE_HEIGHT,
    PAGE_WIDTH, WINDOW,
};
use shared::domain::collection::dunning::letter::{sample, LetterDocument, LetterInput, NBSP};
use shared::domain::collection::dunning::{Language, Step};
use shared::domain::{DebtorKind, Rulebook};
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

fn sent() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 3).unwrap()
}

fn input(step: Step, lang: Language, claims: usize, debtor: DebtorKind) -> LetterInput {
    sample(Rulebook::norway(), step, lang, claims, debtor, sent()).unwrap()
}

fn doc(step: Step, lang: Language, claims: usize) -> LetterDocument {
    LetterDocument::compose(&input(step, lang, claims, DebtorKind::Consumer)).unwrap()
}

fn tmp_pdf(bytes: &[u8]) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "letter-{}-{}.pdf",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::write(&path, bytes).unwrap();
    path
}

/// Runs a poppler tool on the PDF and returns its stdout.
fn poppler(tool: &str, args: &[&str], pdf: &[u8]) -> String {
    let path = tmp_pdf(pdf);
    let out = Command::new(tool)
        .args(args)
        .arg(&path)
        .args(if tool == "pdftotext" {
            &["-"][..]
        } else {
            &[][..]
        })
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

/// The text as pdftotext reads it, every run of white space (line breaks, no-break spaces) as
/// one space.
fn extract(pdf: &[u8]) -> String {
    poppler("pdftotext", &["-enc", "UTF-8"], pdf)
        .replace(NBSP, " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn plain(s: &str) -> String {
    s.replace(NBSP, " ")
}

#[test]
fn every_letter_reads_back_with_its_names_amounts_kid_and_deadline() {
    for step in Step::ALL {
        for lang in [Language::Nb, Language::En] {
            let i = input(step, lang, 1, DebtorKind::Consumer);
            let d = LetterDocument::compose(&i).unwrap();
            let text = extract(&render(&d).unwrap());
            let must = [
                plain(&d.title),
                "Bølgen & Skjærgård Rørleggerservice AS".into(),
                d.recipient_lines[0].clone(),
                plain(&d.totals.last().unwrap().amount),
                i.kid.as_ref().unwrap().to_string(),
                plain(&d.meta[2].value),
                "10023".into(),
                "8601 11 17947".into(),
            ];
            for m in must {
                assert!(text.contains(&m), "{step} {lang:?}: {m:?} not in\n{text}");
            }
            match lang {
                Language::Nb => {
                    assert!(text.contains("Åse Øvrebø Ærlig"));
                    assert!(text.contains("1337 Sandvika"));
                    assert!(text.contains("Side 1 av "));
                    assert!(text.contains("Betalingsfrist"));
                }
                Language::En => {
                    assert!(text.contains("Anna Öberg"));
                    assert!(text.contains("SWEDEN"));
                    assert!(text.contains("NO93 8601 1117 947"));
                    assert!(text.contains("Page 1 of "));
                }
            }
        }
    }
}

#[test]
fn the_inkassovarsel_and_the_betalingsoppfordring_read_back_with_their_legal_statements() {
    let d = doc(Step::Inkassovarsel, Language::Nb, 1);
    let words = extract(&render(&d).unwrap());
    let deadline = plain(&d.meta[2].value);
    assert!(words.contains(&format!(
        "Betales ikke kravet innen {deadline}, vil inndriving av kravet bli iverksatt."
    )));
    assert!(!words.to_lowercase().contains("purr"), "{words}");

    let d = doc(Step::Betalingsoppfordring, Language::Nb, 1);
    let words = extract(&render(&d).unwrap());
    for s in [
        "Varsel etter tvangsfullbyrdelsesloven § 4-18",
        "Kreditor er Bølgen & Skjærgård Rørleggerservice AS, org.nr. 923 609 016",
        "eller å komme med innsigelser mot kravet",
        "12,25 % per år",
        "Gebyr for betalingsoppfordring kr 113,00",
    ] {
        assert!(words.contains(s), "{s:?} not in {words}");
    }
}

#[test]
fn the_file_is_pdf_1_7_a4_unencrypted_with_the_fonts_embedded() {
    let d = doc(Step::Purring, Language::Nb, 3);
    let pdf = render(&d).unwrap();
    // Version from the header: 1.x with x ≤ 7.
    assert!(pdf.starts_with(b"%PDF-1."), "{:?}", &pdf[..8]);
    let minor = pdf[7] - b'0';
    assert!(minor <= 7, "PDF 1.{minor}");
    let raw = String::from_utf8_lossy(&pdf);
    assert!(!raw.contains("/Encrypt"));
    // Every page's MediaBox is A4 (595.28 × 841.89 pt).
    let boxes: Vec<Vec<f32>> = raw
        .match_indices("/MediaBox")
        .map(|(i, _)| {
            let rest = &raw[i..];
            let open = rest.find('[').unwrap();
            let close = rest.find(']').unwrap();
            rest[open + 1..close]
                .split_whitespace()
                .map(|n| n.parse::<f32>().unwrap())
                .collect()
        })
        .collect();
    assert!(!boxes.is_empty());
    for b in boxes {
        assert_eq!(b.len(), 4);
        assert!(
            (b[2] - b[0] - 595.276).abs() < 0.5 && (b[3] - b[1] - 841.89).abs() < 0.5,
            "{b:?}"
        );
    }
    // poppler agrees, and both faces are embedded (as subsets).
    let info = poppler("pdfinfo", &[], &pdf);
    let field = |key: &str| -> String {
        info.lines()
            .find_map(|l| l.strip_prefix(key).map(|v| v.trim().to_string()))
            .unwrap_or_else(|| panic!("{key} missing in\n{info}"))
    };
    assert_eq!(field("Encrypted:"), "no");
    assert!(field("Page size:").ends_with("(A4)"), "{info}");
    assert_eq!(field("PDF version:"), "1.7");
    assert_eq!(field("Pages:"), "1");
    let fonts = poppler("pdffonts", &[], &pdf);
    let rows: Vec<&str> = fonts.lines().skip(2).collect();
    assert_eq!(rows.len(), 2, "{fonts}");
    for face in ["DejaVuSans", "DejaVuSans-Bold"] {
        let row = rows
            .iter()
            .find(|r| {
                r.split_whitespace()
                    .next()
                    .unwrap()
                    .ends_with(&format!("+{face}"))
            })
            .unwrap_or_else(|| panic!("{face} missing:\n{fonts}"));
        // name type encoding emb sub uni
        let cols: Vec<&str> = row.split_whitespace().collect();
        let n = cols.len();
        assert_eq!(&cols[n - 5..n - 2], ["yes", "yes", "yes"], "{row}");
    }
    // Subsetting keeps the file small.
    assert!(pdf.len() < 60_000, "{} bytes", pdf.len());
}

#[test]
fn the_same_letter_gives_the_same_bytes() {
    let d = doc(Step::Inkassovarsel, Language::Nb, 2);
    assert_eq!(render(&d).unwrap(), render(&d).unwrap());
}

/// The print rules on the layout of one letter.
fn check_print_rules(l: &Layout, what: &str) {
    assert!(l.pages.len() <= MAX_PAGES, "{what}");
    for (page, b) in l.boxes() {
        let r = b.rect;
        assert!(
            !r.intersects(&BARCODE_ZONE),
            "{what}: page {page} {:?} {:?} in the barcode zone",
            b.role,
            b.text
        );
        assert!(
            r.x >= 20.0 * MM && r.right() <= PAGE_WIDTH - 15.0 * MM,
            "{what}: {:?} {:?} outside the margins ({r:?})",
            b.role,
            b.text
        );
        assert!(
            r.y >= 10.0 * MM && r.bottom() <= PAGE_HEIGHT - 8.0 * MM,
            "{what}: {b:?}"
        );
        if b.role == Role::Address {
            assert_eq!(page, 0);
            assert!(
                WINDOW.contains(&r),
                "{what}: address line {:?} outside the window",
                b.text
            );
            assert!((10.0..=12.0).contains(&b.size), "{what}: {} pt", b.size);
            assert_eq!(b.weight, Weight::Regular);
        } else {
            assert!(
                page > 0 || !r.intersects(&WINDOW),
                "{what}: {:?} {:?} shows in the window",
                b.role,
                b.text
            );
        }
    }
    // The address block: consecutive lines at one leading, no blank line.
    let address: Vec<_> = l.pages[0]
        .boxes
        .iter()
        .filter(|b| b.role == Role::Address)
        .collect();
    assert!(!address.is_empty(), "{what}");
    let gaps: Vec<f32> = address
        .windows(2)
        .map(|w| w[1].baseline - w[0].baseline)
        .collect();
    for g in &gaps {
        assert!(
            (g - address[0].size * 1.2).abs() < 0.01,
            "{what}: line gap {g}"
        );
    }
    // The closing never stands alone on a page: the last paragraph comes with it.
    let closing_page = l
        .boxes()
        .find(|(_, b)| b.role == Role::Closing)
        .map(|(i, _)| i)
        .unwrap_or_else(|| panic!("{what}: no closing"));
    assert!(
        l.pages[closing_page]
            .boxes
            .iter()
            .any(|b| b.role == Role::Body),
        "{what}: the closing is alone on page {closing_page}"
    );
    // No two text boxes on a page overlap.
    for (i, p) in l.pages.iter().enumerate() {
        for (a_i, a) in p.boxes.iter().enumerate() {
            for b in &p.boxes[a_i + 1..] {
                let (ra, rb) = (a.rect, b.rect);
                // Boxes on one line may touch; shrink by a hair to allow exact adjacency.
                let shrink = |r: shared::documents::Rect| shared::documents::Rect {
                    x: r.x + 0.05,
                    y: r.y + 0.05,
                    w: (r.w - 0.1).max(0.0),
                    h: (r.h - 0.1).max(0.0),
                };
                assert!(
                    !shrink(ra).intersects(&shrink(rb)),
                    "{what}: page {i}: {:?} overlaps {:?}",
                    a.text,
                    b.text
                );
            }
        }
    }
}

#[test]
fn every_letter_keeps_the_print_rules() {
    for step in Step::ALL {
        for lang in [Language::Nb, Language::En] {
            for debtor in [DebtorKind::Consumer, DebtorKind::Business] {
                for n in [1, 3, 40] {
                    let i = input(step, lang, n, debtor);
                    let d = LetterDocument::compose(&i).unwrap();
                    check_print_rules(
                        &layout(&d).unwrap(),
                        &format!("{step} {lang:?} {debtor:?} {n}"),
                    );
                }
            }
        }
    }
}

#[test]
fn forty_claims_continue_on_a_second_page_under_a_repeated_table_header() {
    let d = doc(Step::Betalingsoppfordring, Language::Nb, 40);
    let l = layout(&d).unwrap();
    let pages = l.pages.len();
    assert!(pages >= 2, "{pages} pages");
    // Every invoice once, in order, in the first column.
    let first_column = l
        .boxes()
        .filter(|(_, b)| b.role == Role::TableCell)
        .map(|(_, b)| b.rect.x)
        .fold(f32::MAX, f32::min);
    let invoice_cells = |b: &shared::documents::TextBox| {
        b.role == Role::TableCell && (b.rect.x - first_column).abs() < 0.01
    };
    let invoices: Vec<&str> = l
        .boxes()
        .filter(|(_, b)| invoice_cells(b))
        .map(|(_, b)| b.text.as_str())
        .collect();
    let expected: Vec<String> = (0..40).map(|i| (10_023 + i).to_string()).collect();
    assert_eq!(invoices, expected);
    // Each page with rows has the header above its first row.
    let mut pages_with_rows = 0;
    for p in &l.pages {
        let first_cell = p
            .boxes
            .iter()
            .filter(|b| b.role == Role::TableCell)
            .map(|b| b.rect.y)
            .fold(f32::MAX, f32::min);
        if first_cell == f32::MAX {
            continue;
        }
        pages_with_rows += 1;
        let headers: Vec<_> = p
            .boxes
            .iter()
            .filter(|b| b.role == Role::TableHeader)
            .collect();
        assert_eq!(headers.len(), d.table.columns.len());
        assert!(headers.iter().all(|h| h.rect.y < first_cell));
        assert_eq!(headers[0].text, "Faktura");
    }
    assert!(pages_with_rows >= 2);
    // Page numbers and the continuation header.
    let text = extract(&render(&d).unwrap());
    for i in 1..=pages {
        assert!(
            text.contains(&format!("Side {i} av {pages}")),
            "Side {i} av {pages}"
        );
    }
    assert!(text.contains("Bølgen & Skjærgård Rørleggerservice AS · Betalingsoppfordring"));
    for n in &expected {
        assert!(text.contains(n.as_str()), "{n}");
    }
    // Right-aligned amounts: the cells of an amount column end at one x.
    for p in &l.pages {
        let sums: Vec<f32> = p
            .boxes
            .iter()
            .filter(|b| b.role == Role::TableCell && b.text.contains(','))
            .map(|b| b.rect.right())
            .collect();
        let last = sums.iter().cloned().fold(0.0, f32::max);
        let at_last = sums.iter().filter(|x| (last - **x).abs() < 0.01).count();
        let rows = p.boxes.iter().filter(|b| invoice_cells(b)).count();
        assert!(at_last >= rows, "{at_last} of {rows} sums end at {last}");
    }
}

#[test]
fn a_letter_longer_than_a_print_partner_takes_is_refused() {
    let mut i = input(Step::Purring, Language::Nb, 500, DebtorKind::Consumer);
    let more = i.claims.clone();
    i.claims.extend(more.clone());
    i.claims.extend(more);
    i.grand_total = i
        .claims
        .iter()
        .fold(shared::domain::Money::ZERO, |a, c| a + c.total);
    let d = LetterDocument::compose(&i).unwrap();
    assert_eq!(
        layout(&d).unwrap_err(),
        RenderError::TooManyPages(MAX_PAGES)
    );
}

#[test]
fn an_address_too_long_for_the_window_is_refused_and_a_long_name_wraps() {
    let mut i = input(Step::Purring, Language::Nb, 1, DebtorKind::Consumer);
    i.recipient.name =
        "Fjøsnisse Gårdsdrift og Landbruksservice for Nordre og Søndre Østfold AS".into();
    let d = LetterDocument::compose(&i).unwrap();
    let l = layout(&d).unwrap();
    check_print_rules(&l, "long name");
    let address: Vec<&str> = l.pages[0]
        .boxes
        .iter()
        .filter(|b| b.role == Role::Address)
        .map(|b| b.text.as_str())
        .collect();
    assert_eq!(address.len(), 4, "{address:?}");

    i.recipient.address.lines = vec![
        "c/o Hansen og Hansen Eiendomsforvaltning".into(),
        "Leilighet H0201, oppgang B, tredje etasje".into(),
        "Bakkeveien 3".into(),
        "Inngang fra baksiden ved garasjene".into(),
    ];
    let d = LetterDocument::compose(&i).unwrap();
    assert_eq!(layout(&d).unwrap_err(), RenderError::AddressDoesNotFit);
}
