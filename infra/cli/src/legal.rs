//! `inndrive legal …`: the legal documents from the command line.
//!
//! `inndrive legal render --doc utlegg|forliksklage [--debtor consumer|business] > doc.pdf`
//! drafts the sample case's document with the code the service uses (every amount from the
//! rulebook, the notices planned by the real planner; see `domain::collection::legal::sample`)
//! and renders it with `shared::documents`. `--text` prints its text and the points to check
//! before signing; `--attachments` renders the attachments bundle instead (the sample letters
//! stand in for the notices as sent; the invoice copy is left out, Tripletex makes it);
//! `--approved-by NAME` renders the signed document (stamped, with the SHA-256 of the approved
//! bytes on stderr).

use anyhow::{anyhow, bail, Context, Result};
use chrono::{DateTime, Utc};
use clap::{Args, Subcommand, ValueEnum};
use shared::documents::{self, BundlePart, PartContent};
use shared::domain::collection::dunning::letter::{sample, LetterDocument};
use shared::domain::collection::dunning::Language;
use shared::domain::collection::legal::document::{AttachmentKind, DocumentKind, LegalDocument};
use shared::domain::collection::legal::sample::sample_document;
use shared::domain::{DebtorKind, Rulebook};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct LegalArgs {
    #[command(subcommand)]
    cmd: LegalCmd,
}

#[derive(Debug, Subcommand)]
enum LegalCmd {
    /// Render the sample case's begjæring om utlegg or forliksklage as PDF (to stdout, or --out).
    Render(RenderArgs),
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Doc {
    Utlegg,
    Forliksklage,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Debtor {
    Consumer,
    Business,
}

#[derive(Debug, Args)]
struct RenderArgs {
    /// utlegg (begjæring om utlegg, § 7-2 f) or forliksklage (disputed claim).
    #[arg(long, value_enum)]
    doc: Doc,
    /// A consumer leaves the fødselsnummer field to fill in by hand.
    #[arg(long, value_enum, default_value = "consumer")]
    debtor: Debtor,
    /// Write the PDF here instead of stdout.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Print the document's text and what to check before signing, instead of the PDF.
    #[arg(long, conflicts_with_all = ["out", "attachments", "approved_by"])]
    text: bool,
    /// Render the attachments bundle instead of the document.
    #[arg(long, conflicts_with = "approved_by")]
    attachments: bool,
    /// Render the signed document: approved and stamped by NAME.
    #[arg(long, value_name = "NAME")]
    approved_by: Option<String>,
    /// The approval time (RFC 3339). Fixed by default so that the sample is the same every time.
    #[arg(long, default_value = "2026-07-16T08:30:00Z")]
    approved_at: DateTime<Utc>,
}

pub fn run(args: LegalArgs) -> Result<ExitCode> {
    match args.cmd {
        LegalCmd::Render(a) => render(a),
    }
}

fn render(a: RenderArgs) -> Result<ExitCode> {
    let book =
        Rulebook::try_norway().map_err(|e| anyhow!("the embedded rulebook is invalid: {e}"))?;
    let kind = match a.doc {
        Doc::Utlegg => DocumentKind::BegjaeringOmUtlegg,
        Doc::Forliksklage => DocumentKind::Forliksklage,
    };
    let debtor = match a.debtor {
        Debtor::Consumer => DebtorKind::Consumer,
        Debtor::Business => DebtorKind::Business,
    };
    let (_, input) = sample_document(book, kind, debtor).context("drafting the sample")?;
    let doc = LegalDocument::compose(&input);
    if a.text {
        println!("{}", doc.text());
        if !doc.warnings.is_empty() {
            println!("\nTo check before signing:");
            for w in &doc.warnings {
                println!("- {w}");
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    let pdf = if a.attachments {
        attachments(book, &input)?
    } else {
        let pdf = documents::render_legal(&doc).context("rendering the PDF")?;
        match &a.approved_by {
            Some(name) => {
                let signed =
                    documents::approve(&pdf, name, a.approved_at).context("stamping the PDF")?;
                eprintln!(
                    "approved by {} at {}, sha256 {}",
                    signed.approval.by, signed.approval.at, signed.approval.sha256
                );
                signed.pdf
            }
            None => pdf,
        }
    };
    match a.out {
        Some(path) => {
            std::fs::write(&path, &pdf).with_context(|| format!("writing {}", path.display()))?
        }
        None => {
            let mut stdout = std::io::stdout().lock();
            if stdout.is_terminal() {
                bail!("the PDF is binary: redirect stdout (… > doc.pdf) or give --out FILE");
            }
            stdout
                .write_all(&pdf)
                .context("writing the PDF to stdout")?;
            stdout.flush()?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The sample's attachments: the sample letters for the notices, the payment history and (for
/// the forliksklage) the objection page. The invoice copy comes from Tripletex in the service.
fn attachments(
    book: &Rulebook,
    input: &shared::domain::collection::legal::LegalDocumentInput,
) -> Result<Vec<u8>> {
    let mut pdfs: Vec<(usize, Vec<u8>)> = Vec::new();
    let mut pages: Vec<(usize, LegalDocument)> = Vec::new();
    for (i, att) in input.attachments.iter().enumerate() {
        match (att.kind, att.step) {
            (AttachmentKind::Notice, Some(step)) => {
                let sent = input
                    .notices
                    .iter()
                    .find(|n| Some(n.letter_id.as_str()) == att.letter_id.as_deref())
                    .map(|n| n.sent)
                    .unwrap_or(input.date);
                let letter = sample(book, step, Language::Nb, 1, DebtorKind::Consumer, sent)
                    .context("composing a sample letter")?;
                let doc = LetterDocument::compose(&letter).context("composing a sample letter")?;
                pdfs.push((
                    i,
                    documents::render(&doc).context("rendering a sample letter")?,
                ));
            }
            (AttachmentKind::PaymentHistory, _) => {
                pages.push((i, LegalDocument::payment_history(input, att.number)))
            }
            (AttachmentKind::Objection, _) => {
                if let Some(p) = LegalDocument::objection_page(input, att.number) {
                    pages.push((i, p));
                }
            }
            (AttachmentKind::Invoice, _) | (AttachmentKind::Notice, None) => {}
        }
    }
    let mut parts: Vec<(usize, BundlePart<'_>)> = pdfs
        .iter()
        .map(|(i, b)| {
            (
                *i,
                BundlePart {
                    attachment: &input.attachments[*i],
                    content: PartContent::Pdf(b),
                },
            )
        })
        .chain(pages.iter().map(|(i, p)| {
            (
                *i,
                BundlePart {
                    attachment: &input.attachments[*i],
                    content: PartContent::Page(p),
                },
            )
        }))
        .collect();
    parts.sort_by_key(|(i, _)| *i);
    let parts: Vec<BundlePart<'_>> = parts.into_iter().map(|(_, p)| p).collect();
    documents::bundle(
        &format!("Bilag til {}", input.kind.title().to_lowercase()),
        &input.creditor.name,
        &format!("{}-bilag", input.document_id),
        &parts,
    )
    .context("bundling the attachments")
}
