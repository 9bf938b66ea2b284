//! `inndrive`: the operator CLI.
//!
//! One binary, one subcommand per area (`inndrive rules …`, `inndrive classify …`,
//! `inndrive letters …`, `inndrive legal …`; others are added as siblings in [`Command`]).

use clap::{Parser, Subcommand};
use std::process::ExitCode;

mod classify;
mod legal;
mod letters;
mod rules;

#[derive(Debug, Parser)]
#[command(name = "inndrive", version, about = "Inndrive operator CLI")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// The Norwegian rulebook: interest, letters and fees, rules in force, limitation, KID.
    Rules(rules::RulesArgs),
    /// How a credit on a customer's ledger is classified (write-off, payment, credit note,
    /// reversal, unknown) and why.
    Classify(classify::ClassifyArgs),
    /// The dunning letters: render a sample letter (PDF, text or e-mail) with the production code.
    Letters(letters::LettersArgs),
    /// The legal steps: render the sample begjæring om utlegg or forliksklage, its attachments,
    /// or the signed (stamped) document.
    Legal(legal::LegalArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Rules(args) => rules::run(args),
        Command::Classify(args) => classify::run(args),
        Command::Letters(args) => letters::run(args),
        Command::Legal(args) => legal::run(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}
