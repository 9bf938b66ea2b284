//! The smallest program that renders a letter: a sample purring as PDF on stdout. Its stripped
//! release size, minus `letter_text`'s, is what the renderer (krilla, the layout, the two
//! embedded fonts) adds to a binary:
//!
//! `cargo build --release -p shared --no-default-features --features documents --example letter_pdf`

use chrono::NaiveDate;
use shared::documents::render;
use shared::domain::collection::dunning::letter::{sample, LetterDocument};
use shared::domain::collection::dunning::{Language, Step};
use shared::domain::{DebtorKind, Rulebook};
use std::io::Write;
use std::process::ExitCode;

fn main() -> ExitCode {
    let sent = NaiveDate::from_ymd_opt(2026, 11, 3).expect("a valid date");
    let pdf = sample(
        Rulebook::norway(),
        Step::Purring,
        Language::Nb,
        1,
        DebtorKind::Consumer,
        sent,
    )
    .map_err(|e| e.to_string())
    .and_then(|input| LetterDocument::compose(&input).map_err(|e| e.to_string()))
    .and_then(|doc| render(&doc).map_err(|e| e.to_string()));
    match pdf {
        Ok(pdf) => match std::io::stdout().lock().write_all(&pdf) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        },
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
