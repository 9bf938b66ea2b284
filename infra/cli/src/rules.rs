//! `inndrive rules …`: the rulebook from the command line.
//!
//! Exit codes: 0 done; 1 bad input or other error; 2 usage (clap); 3 a `RuleGap` (no known
//! legal basis on a date: hold for review).

use anyhow::{anyhow, bail, Context, Result};
use chrono::NaiveDate;
use clap::{Args, Subcommand, ValueEnum};
use serde_json::{json, Value};
use shared::domain::collection::interest::BalanceChange;
use shared::domain::collection::kid::{Kid, KidModulus};
use shared::domain::collection::letters::{
    ClaimFacts, DebtorKind, LetterKind, Objection, SentLetter,
};
use shared::domain::collection::limitation::{Interruption, InterruptionKind};
use shared::domain::{InterestError, Money, RuleGap, Rulebook};
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct RulesArgs {
    /// Override the new inkassolov's in-force date (default: the rulebook's, signalled 2027-01-01).
    #[arg(long, global = true, value_name = "DATE")]
    new_law_in_force: Option<NaiveDate>,
    #[command(subcommand)]
    cmd: RulesCmd,
}

#[derive(Debug, Subcommand)]
enum RulesCmd {
    /// Forsinkelsesrente on a principal from its due date through a date, with segments.
    Interest(InterestArgs),
    /// May this letter be sent on that day, with which fee and deadline, and why.
    Letter(LetterArgs),
    /// The rules in force on a day, with values and sources.
    Show(ShowArgs),
    /// When a claim becomes time-barred (foreldelse), and the interest already lost.
    Limitation(LimitationArgs),
    /// Generate or validate a KID (MOD10 or MOD11).
    Kid(KidArgs),
}

#[derive(Debug, Args)]
struct InterestArgs {
    /// Principal in NOK, e.g. 10000 or 10000.50.
    #[arg(long)]
    principal: Money,
    /// Due date (moved to the next business day if it is not one).
    #[arg(long)]
    due: NaiveDate,
    /// Payment or as-of date (last interest day, inclusive).
    #[arg(long)]
    until: NaiveDate,
    /// A part payment, DATE:AMOUNT (repeatable); the paid part bears interest through DATE.
    #[arg(long = "payment", value_name = "DATE:AMOUNT")]
    payments: Vec<String>,
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Debtor {
    Consumer,
    Business,
}

#[derive(Debug, Args)]
struct LetterArgs {
    /// paminnelse, purring, inkassovarsel, betalingsoppfordring or varsel-4-18.
    #[arg(long)]
    kind: LetterKind,
    #[arg(long)]
    due: NaiveDate,
    /// The day the letter would be sent.
    #[arg(long)]
    send: NaiveDate,
    #[arg(long, value_enum, default_value = "consumer")]
    debtor: Debtor,
    /// Principal in NOK (informational for the decision).
    #[arg(long, default_value = "0")]
    principal: Money,
    /// A letter already sent: KIND:SENT[:DEADLINE[:FEE]] (repeatable). FEE is the statutory
    /// fee it carried (before offset); DEADLINE the last day to pay it gave.
    #[arg(long = "sent", value_name = "KIND:SENT[:DEADLINE[:FEE]]")]
    sent: Vec<String>,
    /// The debtor objected on this date.
    #[arg(long, value_name = "DATE")]
    objection: Option<NaiveDate>,
    /// The objection was assessed as obviously groundless.
    #[arg(long, requires = "objection")]
    objection_groundless: bool,
    /// Business debtor: the standardkompensasjon (FRL § 3a) has been claimed (amount from the
    /// rulebook for the first interest day), which offsets fees.
    #[arg(long)]
    compensation: bool,
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct ShowArgs {
    #[arg(long)]
    on: NaiveDate,
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct LimitationArgs {
    /// The day payment could first be demanded (normally the due date).
    #[arg(long)]
    start: NaiveDate,
    /// An interruption: KIND:DATE with KIND part-payment, acknowledgement, legal-step or judgment.
    #[arg(long = "interruption", value_name = "KIND:DATE")]
    interruptions: Vec<String>,
    /// Also report the time-barred interest on this principal as of --as-of.
    #[arg(long)]
    principal: Option<Money>,
    /// Due date for the interest (default: --start).
    #[arg(long)]
    due: Option<NaiveDate>,
    #[arg(long)]
    as_of: Option<NaiveDate>,
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct KidArgs {
    #[arg(long, value_enum, default_value = "mod10")]
    modulus: Modulus,
    /// Append a check digit to this base.
    #[arg(long, conflicts_with = "validate")]
    base: Option<String>,
    /// Validate this KID.
    #[arg(long)]
    validate: Option<String>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Modulus {
    Mod10,
    Mod11,
}

pub fn run(args: RulesArgs) -> Result<ExitCode> {
    let base =
        Rulebook::try_norway().map_err(|e| anyhow!("the embedded rulebook is invalid: {e}"))?;
    let owned;
    let book: &Rulebook = match args.new_law_in_force {
        Some(date) => {
            owned = base
                .with_new_law_in_force(date)
                .map_err(|e| anyhow!("{e}"))?;
            &owned
        }
        None => base,
    };
    match args.cmd {
        RulesCmd::Interest(a) => interest(book, a),
        RulesCmd::Letter(a) => letter(book, a),
        RulesCmd::Show(a) => show(book, a),
        RulesCmd::Limitation(a) => limitation(book, a),
        RulesCmd::Kid(a) => kid(a),
    }
}

fn gap_out(gap: &RuleGap, json_out: bool) -> ExitCode {
    if json_out {
        let v = json!({"error": {
            "code": "rule-gap",
            "message": gap.to_string(),
            "date": gap.date,
            "missing": gap.missing.code(),
        }});
        println!("{v}");
    } else {
        eprintln!("RULE GAP (hold for review): {gap}");
    }
    ExitCode::from(3)
}

fn split2(s: &str) -> Result<(&str, &str)> {
    s.split_once(':')
        .ok_or_else(|| anyhow!("expected A:B, got {s:?}"))
}

fn interest(book: &Rulebook, a: InterestArgs) -> Result<ExitCode> {
    let mut changes = Vec::new();
    let mut balance = a.principal;
    for p in &a.payments {
        let (date, amount) = split2(p)?;
        let date: NaiveDate = date
            .parse()
            .with_context(|| format!("payment date {date:?}"))?;
        let amount: Money = amount
            .parse()
            .map_err(|e| anyhow!("payment amount {amount:?}: {e}"))?;
        balance = balance
            .checked_sub(amount)
            .filter(|b| !b.is_negative())
            .ok_or_else(|| anyhow!("payments exceed the principal"))?;
        changes.push(BalanceChange { date, balance });
    }
    let r = match book.interest_on_balances(a.due, a.principal, &changes, a.until) {
        Ok(r) => r,
        Err(InterestError::Gap(g)) => return Ok(gap_out(&g, a.json)),
        Err(e) => bail!("{e}"),
    };
    let version = book.interest_rule_version(r.rules);
    if a.json {
        let segments: Vec<Value> = r
            .segments
            .iter()
            .map(|s| {
                json!({
                    "from": s.from,
                    "to": s.to,
                    "days": s.days,
                    "balance": s.balance,
                    "ratePercent": s.rate_percent.to_string(),
                    "yearDays": s.year_days,
                    "amount": s.amount_exact.round_dp(6).normalize().to_string(),
                    "rule": book.tag(s.rule),
                })
            })
            .collect();
        let v = json!({
            "interest": r.total,
            "principal": a.principal,
            "dueDate": a.due,
            "effectiveDueDate": r.effective_due_date,
            "firstDay": r.first_day,
            "lastDay": r.last_day,
            "days": r.days,
            "segments": segments,
            "ruleVersion": version,
        });
        println!("{v}");
    } else {
        println!(
            "Forsinkelsesrente on {} kr due {} through {}",
            a.principal, a.due, a.until
        );
        if r.effective_due_date != a.due {
            println!(
                "  due date moved to the next business day: {}",
                r.effective_due_date
            );
        }
        println!(
            "  {:<10}  {:<10}  {:>5}  {:>12}  {:>7}  {:>4}  {:>14}  rule",
            "from", "to", "days", "balance", "rate %", "year", "amount"
        );
        for s in &r.segments {
            println!(
                "  {}  {}  {:>5}  {:>12}  {:>7}  {:>4}  {:>14}  {}",
                s.from,
                s.to,
                s.days,
                s.balance.to_string(),
                s.rate_percent.to_string(),
                s.year_days,
                s.amount_exact.round_dp(4).to_string(),
                book.tag(s.rule)
            );
        }
        println!(
            "  total: {} kr ({} days; exact sum rounded half-up to øre once)",
            r.total, r.days
        );
        println!("  rule version: {version}");
    }
    Ok(ExitCode::SUCCESS)
}

fn parse_sent(s: &str) -> Result<SentLetter> {
    let parts: Vec<&str> = s.split(':').collect();
    if parts.len() < 2 || parts.len() > 4 {
        bail!("--sent expects KIND:SENT[:DEADLINE[:FEE]], got {s:?}");
    }
    let kind: LetterKind = parts[0].parse().map_err(|e| anyhow!("{e}"))?;
    let sent: NaiveDate = parts[1]
        .parse()
        .with_context(|| format!("date {:?}", parts[1]))?;
    let deadline = match parts.get(2).filter(|p| !p.is_empty()) {
        Some(p) => Some(
            p.parse::<NaiveDate>()
                .with_context(|| format!("deadline {p:?}"))?,
        ),
        None => None,
    };
    let fee = match parts.get(3) {
        Some(p) => p.parse::<Money>().map_err(|e| anyhow!("fee {p:?}: {e}"))?,
        None => Money::ZERO,
    };
    Ok(SentLetter {
        kind,
        sent,
        deadline,
        fee,
    })
}

fn letter(book: &Rulebook, a: LetterArgs) -> Result<ExitCode> {
    let letters = a
        .sent
        .iter()
        .map(|s| parse_sent(s))
        .collect::<Result<Vec<_>>>()?;
    let debtor = match a.debtor {
        Debtor::Consumer => DebtorKind::Consumer,
        Debtor::Business => DebtorKind::Business,
    };
    let compensation = if a.compensation {
        match book.standardkompensasjon(debtor, a.due) {
            Ok(c) => c.map(|(m, _)| m),
            Err(g) => return Ok(gap_out(&g, a.json)),
        }
    } else {
        None
    };
    let claim = ClaimFacts {
        due_date: a.due,
        principal: a.principal,
        debtor,
        letters: &letters,
        objection: a.objection.map(|raised_on| Objection {
            raised_on,
            obviously_groundless: a.objection_groundless,
        }),
        compensation_claimed: compensation,
    };
    let d = match book.decide_letter(&claim, a.kind, a.send) {
        Ok(d) => d,
        Err(g) => return Ok(gap_out(&g, a.json)),
    };
    let tags: Vec<&str> = d.rules.iter().map(|r| book.tag(r)).collect();
    if a.json {
        let v = json!({
            "kind": d.kind,
            "sendDate": d.send_date,
            "allowed": d.allowed,
            "fee": d.fee,
            "feeNominal": d.fee_nominal,
            "compensationClaimed": compensation,
            "earliestFeeDate": d.earliest_fee_date,
            "earliestSendDate": d.earliest_send_date,
            "deadlineDays": d.deadline_days,
            "minDeadline": d.min_deadline,
            "validUntil": d.valid_until,
            "effectiveDueDate": d.effective_due_date,
            "reason": d.reason.code(),
            "messageNo": d.message_no(),
            "messageEn": d.message_en(),
            "rules": tags,
            "ruleVersion": book.version,
        });
        println!("{v}");
    } else {
        println!(
            "{} on {}: {}",
            d.kind.name_en(),
            d.send_date,
            if d.allowed { "ALLOWED" } else { "NOT ALLOWED" }
        );
        println!(
            "  fee: {} kr{}",
            d.fee,
            if d.fee != d.fee_nominal {
                format!(" (statutory {} kr, offset)", d.fee_nominal)
            } else {
                String::new()
            }
        );
        if let Some(e) = d.earliest_fee_date {
            println!("  earliest date with a fee: {e}");
        }
        if let Some(e) = d.earliest_send_date {
            println!("  earliest send date: {e}");
        }
        if d.deadline_days > 0 {
            if let Some(m) = d.min_deadline {
                println!(
                    "  deadline: at least {} days, last day to pay {m} or later",
                    d.deadline_days
                );
            }
        }
        if let Some(v) = d.valid_until {
            println!("  valid until: {v}");
        }
        println!("  reason: {}", d.reason.code());
        println!("  no: {}", d.message_no());
        println!("  en: {}", d.message_en());
        println!("  rules: {}", tags.join(", "));
    }
    Ok(ExitCode::SUCCESS)
}

fn show(book: &Rulebook, a: ShowArgs) -> Result<ExitCode> {
    let f = book.in_force_on(a.on);
    if a.json {
        println!("{}", serde_json::to_string(&f)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "Rules in force on {} (rulebook {}; valid_from/valid_to inclusive)",
        f.date, f.rulebook_version
    );
    for r in &f.rules {
        let to = r
            .valid_to
            .map_or_else(|| "…".to_string(), |d| d.to_string());
        println!("\n  {}", r.tag);
        println!("    value:      {}", r.value);
        println!("    applies to: {}", r.applies_to);
        println!("    valid:      {} … {}", r.valid_from, to);
        println!("    source:     {}", r.source);
        println!("    confidence: {}", r.confidence.as_str());
        if let Some(n) = &r.note {
            println!("    note:       {n}");
        }
    }
    if !f.gaps.is_empty() {
        println!("\n  RULE GAPS (no known legal basis; steps are held for review):");
        for g in &f.gaps {
            println!("    - {}: {}", g.missing.code(), g.missing);
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn limitation(book: &Rulebook, a: LimitationArgs) -> Result<ExitCode> {
    let mut ints = Vec::new();
    for s in &a.interruptions {
        let (kind, date) = split2(s)?;
        let kind = match kind {
            "part-payment" => InterruptionKind::PartPayment,
            "acknowledgement" => InterruptionKind::Acknowledgement,
            "legal-step" => InterruptionKind::LegalStep,
            "judgment" => InterruptionKind::Judgment,
            other => bail!("unknown interruption {other:?} (part-payment, acknowledgement, legal-step, judgment)"),
        };
        ints.push(Interruption {
            kind,
            date: date.parse().with_context(|| format!("date {date:?}"))?,
        });
    }
    let l = match book.limitation(a.start, &ints) {
        Ok(l) => l,
        Err(g) => return Ok(gap_out(&g, a.json)),
    };
    let barred = match (a.principal, a.as_of) {
        (Some(p), Some(as_of)) => {
            match book.time_barred_interest(p, a.due.unwrap_or(a.start), a.start, &ints, as_of) {
                Ok(b) => Some(b),
                Err(InterestError::Gap(g)) => return Ok(gap_out(&g, a.json)),
                Err(e) => bail!("{e}"),
            }
        }
        _ => None,
    };
    if a.json {
        let v = json!({
            "periodStart": l.period_start,
            "periodYears": l.period_years,
            "lastDay": l.last_day,
            "timeBarredOn": l.time_barred_on,
            "state": a.as_of.map(|d| l.state_on(d)),
            "ignoredEvents": l.ignored_events,
            "barredInterest": barred.as_ref().map(|b| b.total),
            "barredInterestRuns": barred.as_ref().map(|b| b.runs.clone()),
            "rule": book.tag(l.rule),
        });
        println!("{v}");
    } else {
        println!(
            "Limitation (foreldelse) from {} ({} years)",
            l.period_start, l.period_years
        );
        match (l.last_day, l.time_barred_on) {
            (Some(last), Some(b)) => {
                println!("  last day to interrupt: {last}; time-barred from {b}")
            }
            _ => println!("  suspended: a legal step is pending"),
        }
        if l.ignored_events > 0 {
            println!(
                "  {} event(s) after the claim was time-barred were ignored (no revival)",
                l.ignored_events
            );
        }
        if let Some(b) = barred {
            println!("  time-barred interest: {} kr over {:?}", b.total, b.runs);
        }
        println!("  rule: {}", book.tag(l.rule));
    }
    Ok(ExitCode::SUCCESS)
}

fn kid(a: KidArgs) -> Result<ExitCode> {
    let m = match a.modulus {
        Modulus::Mod10 => KidModulus::Mod10,
        Modulus::Mod11 => KidModulus::Mod11,
    };
    match (a.base, a.validate) {
        (Some(base), None) => {
            let k = match m {
                KidModulus::Mod10 => Kid::generate_mod10(&base),
                KidModulus::Mod11 => Kid::generate_mod11(&base),
            }
            .map_err(|e| anyhow!("{e}"))?;
            println!("{k}");
            Ok(ExitCode::SUCCESS)
        }
        (None, Some(v)) => match Kid::parse(&v, m) {
            Ok(k) => {
                println!("valid: {k}");
                Ok(ExitCode::SUCCESS)
            }
            Err(e) => {
                println!("invalid: {e}");
                Ok(ExitCode::from(1))
            }
        },
        _ => bail!("give --base or --validate"),
    }
}
