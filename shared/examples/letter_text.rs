//! The baseline for the renderer's size: composes a sample letter and prints its text (the pure
//! domain only, no PDF). Compare its stripped release size with `letter_pdf`'s:
//!
//! `cargo build --release -p shared --no-default-features --example letter_text`

use chrono::NaiveDate;
use shared::domain::collection::dunning::letter::{sample, LetterDocument};
use shared::domain::collection::dunning::{Language, Step};
use shared::domain::{DebtorKind, Rulebook};
use std::process::ExitCode;

fn main() -> ExitCode {
    let sent = NaiveDate::from_ymd_opt(2026, 11, 3).expect("a valid date");
    let doc = sample(
        Rulebook::norway(),
        Step::Purring,
        Language::Nb,
        1,
        DebtorKind::Consumer,
        sent,
    )
    .map_err(|e| e.to_string())
    .and_then(|input| LetterDocument::compose(&input).map_err(|e| e.to_string()));
    match doc {
        Ok(doc) => {
            println!("{}", doc.text());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
