//! Letters per second on one core: compose (text and amounts) + lay out + write the PDF.
//!
//! `cargo bench -p shared --no-default-features --features documents --bench letters`
//!
//! Prints a plain single-threaded measurement per letter shape (best of 5 passes), then runs
//! criterion with `Throughput::Elements(1)` per letter. The inputs (amounts computed with the
//! rulebook) are built once before timing: the dunning function gets them from the planner.

use chrono::NaiveDate;
use criterion::{black_box, Criterion, Throughput};
use shared::documents::render;
use shared::domain::collection::dunning::letter::{sample, LetterDocument, LetterInput};
use shared::domain::collection::dunning::{Language, Step};
use shared::domain::{DebtorKind, Rulebook};
use std::time::{Duration, Instant};

fn letter(input: &LetterInput) -> usize {
    let doc = LetterDocument::compose(input).expect("a valid sample");
    render(&doc).expect("renders").len()
}

fn main() {
    let sent = NaiveDate::from_ymd_opt(2026, 11, 3).expect("date");
    let shapes: Vec<(&str, LetterInput)> = vec![
        ("purring_nb_1_claim", Step::Purring, Language::Nb, 1),
        (
            "inkassovarsel_nb_3_claims",
            Step::Inkassovarsel,
            Language::Nb,
            3,
        ),
        (
            "betalingsoppfordring_en_1_claim",
            Step::Betalingsoppfordring,
            Language::En,
            1,
        ),
        (
            "betalingsoppfordring_nb_40_claims",
            Step::Betalingsoppfordring,
            Language::Nb,
            40,
        ),
    ]
    .into_iter()
    .map(|(name, step, lang, n)| {
        let input = sample(
            Rulebook::norway(),
            step,
            lang,
            n,
            DebtorKind::Consumer,
            sent,
        )
        .expect("sample");
        (name, input)
    })
    .collect();

    // Warm up the fonts (loaded once per process, as in a warm Lambda).
    letter(&shapes[0].1);

    for (name, input) in &shapes {
        let per_pass = 200;
        let mut best = Duration::MAX;
        let mut bytes = 0;
        for _ in 0..5 {
            let t = Instant::now();
            for _ in 0..per_pass {
                bytes = black_box(letter(black_box(input)));
            }
            best = best.min(t.elapsed());
        }
        let each = best.as_secs_f64() / per_pass as f64;
        println!(
            "letters: {name}: {:.2} ms per letter = {:.0} letters/s on one thread ({bytes} bytes)",
            each * 1e3,
            1.0 / each
        );
    }

    let mut c = Criterion::default()
        .sample_size(20)
        .measurement_time(Duration::from_secs(8))
        .configure_from_args();
    let mut g = c.benchmark_group("letters");
    g.throughput(Throughput::Elements(1));
    for (name, input) in &shapes {
        g.bench_function(*name, |b| b.iter(|| letter(black_box(input))));
    }
    g.finish();
    c.final_summary();
}
