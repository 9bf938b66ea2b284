//! `inndrive letters render`: the sample letter as PDF, text and e-mail, from the production code.

use std::process::{Command, Output};

fn inndrive(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_inndrive"))
        .args(args)
        .output()
        .expect("run inndrive")
}

fn text(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).expect("UTF-8")
}

#[test]
fn render_writes_a_pdf_to_stdout_for_every_step() {
    for step in [
        "paminnelse",
        "purring",
        "inkassovarsel",
        "betalingsoppfordring",
    ] {
        let out = inndrive(&["letters", "render", "--step", step]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.stdout.starts_with(b"%PDF-1.7"), "{step}");
        assert!(out.stdout.ends_with(b"%%EOF") || out.stdout.ends_with(b"%%EOF\n"));
    }
    let en = inndrive(&[
        "letters", "render", "--step", "purring", "--lang", "en", "--claims", "40",
    ]);
    assert!(en.status.success());
    // Forty claims take more than one page.
    let raw = String::from_utf8_lossy(&en.stdout);
    assert!(
        raw.contains("/Count 2") || raw.contains("/Count 3"),
        "page count"
    );
}

#[test]
fn render_text_and_email_show_what_the_letter_says() {
    let out = inndrive(&["letters", "render", "--step", "inkassovarsel", "--text"]);
    assert!(out.status.success());
    let t = text(&out).replace('\u{a0}', " ");
    assert!(t.contains("Inkassovarsel"));
    assert!(
        t.contains("Betales ikke kravet innen 17.11.2026, vil inndriving av kravet bli iverksatt.")
    );
    assert!(t.contains("Åse Øvrebø Ærlig"));

    let out = inndrive(&[
        "letters", "render", "--step", "purring", "--claims", "2", "--debtor", "business",
        "--email",
    ]);
    assert!(out.status.success());
    let t = text(&out);
    assert!(
        t.starts_with("Subject: Purring – faktura 10023 og 10024 – Bølgen & Skjærgård"),
        "{t}"
    );
    assert!(t.contains("Standardkompensasjon: kr 430,00"), "{t}");
    assert!(
        t.contains("Melding til mottaker: Faktura 10023, 10024"),
        "{t}"
    );
}

#[test]
fn render_writes_to_a_file_and_refuses_bad_input() {
    let path = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cli-letter.pdf");
    let out = inndrive(&[
        "letters",
        "render",
        "--step",
        "betalingsoppfordring",
        "--out",
        path.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    assert!(std::fs::read(&path).unwrap().starts_with(b"%PDF-1.7"));

    // An unknown step is a usage error; a claim count out of range a plain error naming it.
    let out = inndrive(&["letters", "render", "--step", "purre"]);
    assert_eq!(out.status.code(), Some(2));
    let out = inndrive(&[
        "letters", "render", "--step", "purring", "--claims", "0", "--text",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("1 to 500 claims"));
    // After the new inkassolov is in force a fee-bearing letter has no known rules: refused.
    let out = inndrive(&[
        "letters",
        "render",
        "--step",
        "purring",
        "--date",
        "2027-02-01",
        "--text",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("rule gap"));
}
