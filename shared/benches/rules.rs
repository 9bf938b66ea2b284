//! Rulebook throughput: forsinkelsesrente + the next-letter decision for 1,000,000 claims.
//!
//! `cargo bench -p shared --no-default-features --bench rules`
//!
//! Prints a plain single-threaded measurement (claims per second, best of several passes) and
//! then runs the criterion benchmark with `Throughput::Elements(1_000_000)`.

use chrono::{Days, NaiveDate};
use criterion::{black_box, Criterion, Throughput};
use shared::domain::collection::letters::{ClaimFacts, DebtorKind, LetterKind, SentLetter};
use shared::domain::{Money, Rulebook};
use std::time::{Duration, Instant};

const CLAIMS: usize = 1_000_000;

struct Claim {
    due: NaiveDate,
    principal: Money,
    debtor: DebtorKind,
    compensation: Option<Money>,
    letters: [SentLetter; 3],
    n_letters: usize,
    today: NaiveDate,
}

/// A small deterministic generator (no extra dependency).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn claims(n: usize) -> Vec<Claim> {
    let book = Rulebook::norway();
    let mut rng = Lcg(0x1dd1_2026);
    let base: NaiveDate = "2023-01-02".parse().expect("date");
    let last_day = book.last_rate_day();
    let placeholder = SentLetter {
        kind: LetterKind::Purring,
        sent: base,
        deadline: None,
        fee: Money::ZERO,
    };
    (0..n)
        .map(|_| {
            let due = base + Days::new(rng.below(1260));
            let today = (due + Days::new(1 + rng.below(500))).min(last_day);
            let principal = Money::from_ore(10_000 + rng.below(50_000_000) as i64);
            let debtor = if rng.below(4) == 0 {
                DebtorKind::Business
            } else {
                DebtorKind::Consumer
            };
            let compensation = (debtor == DebtorKind::Business && rng.below(2) == 0).then(|| {
                book.standardkompensasjon(debtor, due)
                    .ok()
                    .flatten()
                    .map_or(Money::from_kroner(460), |(m, _)| m)
            });
            let mut letters = [placeholder; 3];
            let mut n_letters = 0;
            for (i, kind) in [
                LetterKind::Purring,
                LetterKind::Inkassovarsel,
                LetterKind::Betalingsoppfordring,
            ]
            .into_iter()
            .enumerate()
            {
                let sent = due + Days::new(14 + 15 * i as u64);
                if sent >= today || rng.below(5) == 0 {
                    break;
                }
                let claim = ClaimFacts {
                    due_date: due,
                    principal,
                    debtor,
                    letters: &letters[..n_letters],
                    objection: None,
                    compensation_claimed: compensation,
                };
                let fee = book
                    .decide_letter(&claim, kind, sent)
                    .map_or(Money::ZERO, |d| d.fee_nominal);
                letters[n_letters] = SentLetter {
                    kind,
                    sent,
                    deadline: Some(sent + Days::new(14)),
                    fee,
                };
                n_letters += 1;
            }
            Claim {
                due,
                principal,
                debtor,
                compensation,
                letters,
                n_letters,
                today,
            }
        })
        .collect()
}

/// Interest through `today` plus the next-letter decision; returns a checksum.
#[inline(never)]
fn run(book: &Rulebook, claims: &[Claim]) -> (i128, u64) {
    let mut interest_ore = 0i128;
    let mut fees = 0u64;
    for c in claims {
        if let Ok(i) = book.interest_total(c.principal, c.due, c.today) {
            interest_ore += i.total.to_ore();
        }
        let facts = ClaimFacts {
            due_date: c.due,
            principal: c.principal,
            debtor: c.debtor,
            letters: &c.letters[..c.n_letters],
            objection: None,
            compensation_claimed: c.compensation,
        };
        if let Ok(Some(d)) = book.next_letter(&facts, c.today) {
            fees += d.fee.to_ore() as u64 + u64::from(d.allowed);
        }
    }
    (interest_ore, fees)
}

fn main() {
    let book = Rulebook::norway();
    let data = claims(CLAIMS);

    // Plain measurement: best of 5 passes over all claims, one thread.
    let mut best = Duration::MAX;
    let mut check = (0, 0);
    for _ in 0..5 {
        let t = Instant::now();
        check = black_box(run(book, black_box(&data)));
        best = best.min(t.elapsed());
    }
    let per_sec = CLAIMS as f64 / best.as_secs_f64();
    println!(
        "rules: {CLAIMS} claims (interest + next-letter decision) in {:.3} s on one thread = {:.0} claims/s (checksum {} øre, {})",
        best.as_secs_f64(),
        per_sec,
        check.0,
        check.1
    );

    let mut c = Criterion::default()
        .sample_size(10)
        .measurement_time(Duration::from_secs(15))
        .configure_from_args();
    let mut g = c.benchmark_group("rulebook");
    g.throughput(Throughput::Elements(CLAIMS as u64));
    g.bench_function("interest_and_next_letter_1m_claims", |b| {
        b.iter(|| run(book, black_box(&data)))
    });
    g.finish();
    c.final_summary();
}
