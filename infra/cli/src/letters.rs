//! `inndrive letters …`: the dunning letters from the command line.
//!
//! `inndrive letters render --step purring [--lang en] [--claims N] > letter.pdf` renders a
//! sample letter with the same code the dunning function uses: the content from
//! `domain::collection::dunning::letter` (amounts computed with the rulebook), the PDF from
//! `shared::documents`. `--text` prints the letter's text instead, `--email` the e-mail subject
//! and body that would carry it.

use anyhow::{anyhow, bail, Context, Result};
use chrono::NaiveDate;
use clap::{Args, Subcommand, ValueEnum};
use shared::documents;
use shared::domain::collection::dunning::letter::{sample, LetterDocument};
use shared::domain::collection::dunning::{Language, Step};
use shared::domain::{DebtorKind, Rulebook};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct LettersArgs {
    #[command(subcommand)]
    cmd: LettersCmd,
}

#[derive(Debug, Subcommand)]
enum LettersCmd {
    /// Render a sample letter as PDF (to stdout, or --out FILE).
    Render(RenderArgs),
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Lang {
    Nb,
    En,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Debtor {
    Consumer,
    Business,
}

#[derive(Debug, Args)]
struct RenderArgs {
    /// paminnelse, purring, inkassovarsel or betalingsoppfordring.
    #[arg(long)]
    step: Step,
    #[arg(long, value_enum, default_value = "nb")]
    lang: Lang,
    /// How many claims (invoices) the letter lists, 1–500.
    #[arg(long, default_value_t = 1)]
    claims: usize,
    /// A business debtor gets the standardkompensasjon (FRL § 3a).
    #[arg(long, value_enum, default_value = "consumer")]
    debtor: Debtor,
    /// The send date (amounts and fees are computed for it). Fixed by default so that the
    /// sample is the same every time.
    #[arg(long, default_value = "2026-11-03")]
    date: NaiveDate,
    /// Write the PDF here instead of stdout.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Print the letter's text instead of the PDF.
    #[arg(long, conflicts_with_all = ["email", "out"])]
    text: bool,
    /// Print the e-mail subject and body instead of the PDF.
    #[arg(long, conflicts_with = "out")]
    email: bool,
}

pub fn run(args: LettersArgs) -> Result<ExitCode> {
    match args.cmd {
        LettersCmd::Render(a) => render(a),
    }
}

fn render(a: RenderArgs) -> Result<ExitCode> {
    let rulebook =
        Rulebook::try_norway().map_err(|e| anyhow!("the embedded rulebook is invalid: {e}"))?;
    let language = match a.lang {
        Lang::Nb => Language::Nb,
        Lang::En => Language::En,
    };
    let debtor = match a.debtor {
        Debtor::Consumer => DebtorKind::Consumer,
        Debtor::Business => DebtorKind::Business,
    };
    let input = sample(rulebook, a.step, language, a.claims, debtor, a.date)
        .context("composing the sample letter")?;
    let doc = LetterDocument::compose(&input).context("composing the sample letter")?;
    if a.text {
        println!("{}", doc.text());
        return Ok(ExitCode::SUCCESS);
    }
    if a.email {
        println!(
            "Subject: {}\n\n{}",
            doc.email_subject(),
            doc.email_body_text()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let pdf = documents::render(&doc).context("rendering the PDF")?;
    match a.out {
        Some(path) => {
            std::fs::write(&path, &pdf).with_context(|| format!("writing {}", path.display()))?
        }
        None => {
            let mut stdout = std::io::stdout().lock();
            if stdout.is_terminal() {
                bail!("the PDF is binary: redirect stdout (… > letter.pdf) or give --out FILE");
            }
            stdout
                .write_all(&pdf)
                .context("writing the PDF to stdout")?;
            stdout.flush()?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
