//! `inndrive classify …`: how a credit on a customer's ledger is classified, and why.
//!
//! Support staff use it to answer "why was this treated as a write-off?": give the voucher
//! description and the counter-accounts, get the kind ([`CreditKind`]), the flags with their
//! severity, the evidence (which rule fired on what) and the reason in Norwegian and English.
//! The decision itself is [`shared::domain::classify::classify`]; this module only builds its
//! input from the arguments and renders its output (see `docs/classification.md`).
//!
//! Exit codes: 0 a classification (also `unknown`); 2 usage (clap: a bad account number or
//! amount names the argument).

use anyhow::Result;
use clap::{Args, ValueEnum};
use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::{json, Value};
use shared::domain::classify::{
    classify, AccountRole, Classification, CounterPosting, CreditEvidence, CreditKind,
    EvidenceItem, Flag, MarkerStrength, Severity, TextSource, VoucherTypeRef,
};
use shared::domain::Money;
use std::process::ExitCode;

/// The amount a counter-posting is taken to debit when neither its own `:AMOUNT` nor `--amount`
/// is given. Only its sign matters for the kind; the output says it was assumed.
fn nominal_amount() -> Money {
    Money::from_ore(100)
}

#[derive(Debug, Args)]
pub struct ClassifyArgs {
    /// The voucher description (Tripletex `Voucher.description`), e.g. "Tap på fordring 10023".
    #[arg(long, value_name = "TEXT")]
    description: String,
    /// A debit on the same voucher, ACCOUNT or ACCOUNT:AMOUNT (repeatable), e.g. 7830 or
    /// 1920:500.00. ACCOUNT is a 4-digit account number; without AMOUNT the debit is the
    /// credited amount (--amount).
    #[arg(long = "counter-account", value_name = "ACCOUNT[:AMOUNT]", value_parser = parse_counter_account)]
    counter_accounts: Vec<CounterArg>,
    /// The credited amount in NOK: what a --counter-account without its own amount debits.
    /// When not given, 1.00 is assumed (only the sign matters for the classification).
    #[arg(
        long,
        value_name = "AMOUNT",
        value_parser = parse_amount,
        allow_negative_numbers = true
    )]
    amount: Option<Money>,
    /// The credit posting's own description (Tripletex `Posting.description`); read for the
    /// marker word when the voucher description has none.
    #[arg(long, value_name = "TEXT")]
    posting_description: Option<String>,
    /// The invoice the credit belongs to is a credit note (`Invoice.isCreditNote`).
    #[arg(long)]
    credit_note: bool,
    /// The voucher reverses this voucher (id).
    #[arg(long, value_name = "VOUCHER_ID", value_parser = clap::value_parser!(i64).range(1..))]
    reverses: Option<i64>,
    /// A later voucher (id) reverses this voucher.
    #[arg(long, value_name = "VOUCHER_ID", value_parser = clap::value_parser!(i64).range(1..))]
    reversed_by: Option<i64>,
    /// The credit posting's type (Tripletex `Posting.type`), e.g. INCOMING_PAYMENT or
    /// OUTGOING_INVOICE_CUSTOMER_POSTING.
    #[arg(long, value_name = "TYPE")]
    posting_type: Option<String>,
    /// The voucher type's name (Tripletex `Voucher.voucherType.name`), e.g. "Utgående faktura".
    #[arg(long, value_name = "NAME")]
    voucher_type: Option<String>,
    /// The client's loss accounts, comma-separated (default: 7830,7835).
    #[arg(long, value_name = "ACCOUNTS", value_delimiter = ',', value_parser = parse_account)]
    loss_accounts: Vec<u32>,
    /// The language of the human text (default: both). JSON always carries both.
    #[arg(long, value_enum)]
    lang: Option<Lang>,
    /// One JSON object: kind, markerMissing, reason (English), reasonNo, reasonEn, needsReview,
    /// flags, evidence.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Lang {
    No,
    En,
}

/// One `--counter-account`.
#[derive(Debug, Clone, Copy)]
struct CounterArg {
    account: u32,
    /// `None`: the credited amount.
    amount: Option<Money>,
}

fn parse_account(s: &str) -> Result<u32, String> {
    let t = s.trim();
    if t.len() == 4 && t.bytes().all(|b| b.is_ascii_digit()) && !t.starts_with('0') {
        t.parse()
            .map_err(|_| format!("{t:?} is not a 4-digit account number"))
    } else {
        Err(format!(
            "{t:?} is not a 4-digit account number (1000–9999, e.g. 1920 or 7830)"
        ))
    }
}

fn parse_amount(s: &str) -> Result<Money, String> {
    let m: Money = s
        .parse()
        .map_err(|e| format!("{s:?} is not an amount in NOK ({e}), e.g. 500 or 500.00"))?;
    if m.is_negative() || m.is_zero() {
        return Err(format!(
            "{s:?}: the amount must be positive (a debit), e.g. 500.00"
        ));
    }
    Ok(m)
}

fn parse_counter_account(s: &str) -> Result<CounterArg, String> {
    let (account, amount) = match s.split_once(':') {
        Some((a, m)) => (a, Some(m)),
        None => (s, None),
    };
    Ok(CounterArg {
        account: parse_account(account)?,
        amount: amount.map(parse_amount).transpose()?,
    })
}

impl ClassifyArgs {
    fn credited_amount(&self) -> Money {
        self.amount.unwrap_or_else(nominal_amount)
    }

    fn evidence(&self) -> CreditEvidence {
        let mut loss_accounts = self.loss_accounts.clone();
        loss_accounts.sort_unstable();
        loss_accounts.dedup();
        CreditEvidence {
            voucher_description: Some(self.description.clone()),
            posting_description: self.posting_description.clone(),
            voucher_type: self.voucher_type.as_ref().map(|name| VoucherTypeRef {
                id: None,
                name: Some(name.clone()),
            }),
            posting_type: self.posting_type.clone(),
            counter_postings: self
                .counter_accounts
                .iter()
                .map(|c| CounterPosting {
                    account_number: c.account,
                    account_name: None,
                    amount: c.amount.unwrap_or(self.credited_amount()).as_decimal(),
                })
                .collect(),
            invoice_is_credit_note: self.credit_note,
            credited_invoice_id: None,
            reverses_voucher_id: self.reverses,
            is_reversed_by: self.reversed_by,
            loss_accounts,
        }
    }

    /// Whether the amount of the counter-posting on `account` with `amount` was assumed (no
    /// `:AMOUNT` and no `--amount`).
    fn amount_assumed(&self, account: u32, amount: Decimal) -> bool {
        self.amount.is_none()
            && amount == nominal_amount().as_decimal()
            && self
                .counter_accounts
                .iter()
                .any(|c| c.account == account && c.amount.is_none())
    }
}

pub fn run(args: ClassifyArgs) -> Result<ExitCode> {
    let c = classify(&args.evidence());
    if args.json {
        println!("{}", serde_json::to_string(&to_json(&args, &c))?);
    } else {
        print_text(&args, &c);
    }
    Ok(ExitCode::SUCCESS)
}

/// The snake_case code serde gives a unit enum variant ("loss", "voucher_description" …).
fn code<T: Serialize>(t: &T) -> String {
    match serde_json::to_value(t) {
        Ok(Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(_) => String::from("?"),
    }
}

fn to_json(args: &ClassifyArgs, c: &Classification) -> Value {
    let flags: Vec<Value> = c
        .flags
        .iter()
        .map(|&f| {
            let (en, no) = flag_meaning(f);
            json!({
                "flag": f.as_str(),
                "severity": code(&f.severity()),
                "meaningEn": en,
                "meaningNo": no,
            })
        })
        .collect();
    let evidence: Vec<Value> = c.evidence.iter().map(|e| evidence_json(args, e)).collect();
    json!({
        "kind": c.kind.as_str(),
        "markerMissing": c.has_flag(Flag::MarkerMissing),
        "reason": c.reason_en,
        "reasonEn": c.reason_en,
        "reasonNo": c.reason_no,
        "needsReview": c.needs_review(),
        "flags": flags,
        "evidence": evidence,
    })
}

fn evidence_json(args: &ClassifyArgs, e: &EvidenceItem) -> Value {
    let (en, no) = evidence_text(args, e);
    let mut v = match e {
        EvidenceItem::Reverses { voucher_id } => {
            json!({"rule": "reverses", "voucherId": voucher_id})
        }
        EvidenceItem::ReversedBy { voucher_id } => {
            json!({"rule": "reversed_by", "voucherId": voucher_id})
        }
        EvidenceItem::CreditNoteInvoice {
            credited_invoice_id,
        } => json!({"rule": "credit_note_invoice", "creditedInvoiceId": credited_invoice_id}),
        EvidenceItem::CreditNotePosting { posting_type } => {
            json!({"rule": "credit_note_posting", "postingType": posting_type})
        }
        EvidenceItem::CreditNoteVoucherType { name } => {
            json!({"rule": "credit_note_voucher_type", "name": name})
        }
        EvidenceItem::Marker {
            source,
            word,
            stem,
            strength,
        } => json!({
            "rule": "marker",
            "source": code(source),
            "word": word,
            "stem": stem.as_str(),
            "strength": code(strength),
        }),
        EvidenceItem::LossWordLater { source, word } => {
            json!({"rule": "loss_word_later", "source": code(source), "word": word})
        }
        EvidenceItem::CounterAccount {
            account_number,
            account_name,
            amount,
            role,
        } => json!({
            "rule": "counter_account",
            "accountNumber": account_number,
            "accountName": account_name,
            "amount": amount.to_string(),
            "amountAssumed": args.amount_assumed(*account_number, *amount),
            "role": code(role),
        }),
        EvidenceItem::PaymentPostingType { posting_type } => {
            json!({"rule": "payment_posting_type", "postingType": posting_type})
        }
    };
    if let Value::Object(m) = &mut v {
        m.insert("en".into(), Value::String(en));
        m.insert("no".into(), Value::String(no));
    }
    v
}

fn rule_code(e: &EvidenceItem) -> &'static str {
    match e {
        EvidenceItem::Reverses { .. } => "reverses",
        EvidenceItem::ReversedBy { .. } => "reversed_by",
        EvidenceItem::CreditNoteInvoice { .. } => "credit_note_invoice",
        EvidenceItem::CreditNotePosting { .. } => "credit_note_posting",
        EvidenceItem::CreditNoteVoucherType { .. } => "credit_note_voucher_type",
        EvidenceItem::Marker { .. } => "marker",
        EvidenceItem::LossWordLater { .. } => "loss_word_later",
        EvidenceItem::CounterAccount { .. } => "counter_account",
        EvidenceItem::PaymentPostingType { .. } => "payment_posting_type",
    }
}

fn source_words(s: TextSource) -> (&'static str, &'static str) {
    match s {
        TextSource::VoucherDescription => ("the voucher description", "bilagsteksten"),
        TextSource::PostingDescription => ("the posting description", "posteringsteksten"),
    }
}

fn role_words(r: AccountRole) -> (&'static str, &'static str) {
    match r {
        AccountRole::Bank => (
            "a bank or cash account: payment evidence",
            "bank- eller kassekonto: tegn på betaling",
        ),
        AccountRole::Loss => (
            "a loss account: write-off evidence",
            "tapskonto: tegn på tap",
        ),
        AccountRole::LossAllowance => (
            "allowance for losses on receivables: possibly a write-off",
            "avsetning tap på kundefordringer: mulig tap",
        ),
        AccountRole::LossGroupOther => (
            "in the loss group (78xx) but not a loss account: possibly a write-off",
            "i tapsgruppen (78xx), men ikke tapskonto: mulig tap",
        ),
        AccountRole::Other => (
            "neither a bank nor a loss account",
            "verken bank- eller tapskonto",
        ),
    }
}

/// What one piece of evidence says, in English and Norwegian.
fn evidence_text(args: &ClassifyArgs, e: &EvidenceItem) -> (String, String) {
    match e {
        EvidenceItem::Reverses { voucher_id } => (
            format!("the voucher reverses voucher {voucher_id}"),
            format!("bilaget tilbakefører bilag {voucher_id}"),
        ),
        EvidenceItem::ReversedBy { voucher_id } => (
            format!("voucher {voucher_id} later reverses this voucher"),
            format!("bilag {voucher_id} tilbakefører senere dette bilaget"),
        ),
        EvidenceItem::CreditNoteInvoice {
            credited_invoice_id: Some(id),
        } => (
            format!("the invoice is a credit note, crediting invoice id {id}"),
            format!("fakturaen er en kreditnota som krediterer faktura-id {id}"),
        ),
        EvidenceItem::CreditNoteInvoice {
            credited_invoice_id: None,
        } => (
            "the invoice is a credit note".to_string(),
            "fakturaen er en kreditnota".to_string(),
        ),
        EvidenceItem::CreditNotePosting { posting_type } => (
            format!(
                "the credit posting has type {posting_type} (the customer leg of an outgoing \
                 invoice: a credit note)"
            ),
            format!(
                "krediteringen har posteringstypen {posting_type} (kundeposteringen på en \
                 utgående faktura: en kreditnota)"
            ),
        ),
        EvidenceItem::CreditNoteVoucherType { name } => (
            format!("the voucher type is «{name}» (a credit on it is a credit note)"),
            format!("bilagstypen er «{name}» (en kreditering på den er en kreditnota)"),
        ),
        EvidenceItem::Marker {
            source,
            word,
            stem,
            strength,
        } => {
            let (src_en, src_no) = source_words(*source);
            let (str_en, str_no) = match strength {
                MarkerStrength::Clear => ("a clear loss word", "et entydig tapsord"),
                MarkerStrength::Ambiguous => ("not plainly a loss word", "ikke entydig et tapsord"),
            };
            let stem = stem.as_str();
            (
                format!("{src_en} begins with «{word}» (marker stem «{stem}», {str_en})"),
                format!("{src_no} begynner med «{word}» (tapsstamme «{stem}», {str_no})"),
            )
        }
        EvidenceItem::LossWordLater { source, word } => {
            let (src_en, src_no) = source_words(*source);
            (
                format!(
                    "«{word}» appears later in {src_en}; only the first word counts as the marker"
                ),
                format!("«{word}» står senere i {src_no}; bare første ord teller som tapsord"),
            )
        }
        EvidenceItem::CounterAccount {
            account_number,
            account_name,
            amount,
            role,
        } => {
            let (role_en, role_no) = role_words(*role);
            let name = account_name
                .as_deref()
                .map(|n| format!(" {n}"))
                .unwrap_or_default();
            let (amount_en, amount_no) = if args.amount_assumed(*account_number, *amount) {
                (
                    " (amount not given, assumed)".to_string(),
                    " (beløp ikke oppgitt, antatt)".to_string(),
                )
            } else {
                (String::new(), String::new())
            };
            (
                format!(
                    "the voucher debits {account_number}{name} by {amount}{amount_en}: {role_en}"
                ),
                format!(
                    "bilaget debiterer {account_number}{name} med {amount}{amount_no}: {role_no}"
                ),
            )
        }
        EvidenceItem::PaymentPostingType { posting_type } => (
            format!("the credit posting has type {posting_type}: an incoming payment"),
            format!("krediteringen har posteringstypen {posting_type}: en innbetaling"),
        ),
    }
}

fn flag_meaning(f: Flag) -> (&'static str, &'static str) {
    match f {
        Flag::MarkerMissing => (
            "a write-off found through the loss account, but the description does not begin with \
             «Tap», «Avskriv» or «Avskrev»: other systems would have read it as a payment",
            "tap funnet via tapskontoen, men teksten begynner ikke med «Tap», «Avskriv» eller \
             «Avskrev»: andre systemer ville lest det som en betaling",
        ),
        Flag::ConflictingEvidence => (
            "the evidence points two ways: a person decides",
            "opplysningene peker i to retninger: en person avgjør",
        ),
        Flag::AmbiguousMarker => (
            "the first word starts with «tap» but is not plainly a loss word",
            "første ord begynner med «tap», men er ikke entydig et tapsord",
        ),
        Flag::MixedPaymentAndWriteOff => (
            "the voucher debits both a loss account and a bank account: part paid, part written \
             off; check the amounts",
            "bilaget debiterer både tapskonto og bankkonto: delvis betalt, delvis tapsført; \
             kontroller beløpene",
        ),
        Flag::UnexpectedCounterAccount => (
            "a write-off by the marker word, but the voucher debits neither a loss account nor 1580",
            "tap etter tapsordet, men bilaget debiterer verken tapskonto eller 1580",
        ),
        Flag::PossibleWriteOff => (
            "no marker word, but a debit on 1580 or a 78xx account that is not a loss account",
            "ikke tapsord, men debet på 1580 eller en 78xx-konto som ikke er tapskonto",
        ),
        Flag::LossWordLater => (
            "a loss word appears later in the text; it does not count as the marker",
            "et tapsord står senere i teksten; det teller ikke som tapsord",
        ),
        Flag::ReversedLater => (
            "a later voucher reverses this one",
            "et senere bilag tilbakefører dette",
        ),
    }
}

fn kind_words(k: CreditKind) -> (&'static str, &'static str) {
    match k {
        CreditKind::Payment => ("payment", "betaling"),
        CreditKind::CreditNote => ("credit note", "kreditnota"),
        CreditKind::WriteOff => (
            "write-off: the claim stays open",
            "tap (tapsføring): kravet holdes åpent",
        ),
        CreditKind::Reversal => ("reversal", "tilbakeføring"),
        CreditKind::Unknown => (
            "unknown: held for a person, not taken as a payment",
            "ukjent: holdes tilbake til en person har sett på det, regnes ikke som betaling",
        ),
    }
}

fn severity_words(s: Severity) -> (&'static str, &'static str) {
    match s {
        Severity::Info => ("info", "info"),
        Severity::Warning => ("warning", "advarsel"),
        Severity::Review => ("review", "til vurdering"),
    }
}

fn print_text(args: &ClassifyArgs, c: &Classification) {
    let show_no = args.lang != Some(Lang::En);
    let show_en = args.lang != Some(Lang::No);
    let lines = |indent: &str, en: &str, no: &str| {
        if show_no {
            println!("{indent}no: {no}");
        }
        if show_en {
            println!("{indent}en: {en}");
        }
    };

    let (kind_en, kind_no) = kind_words(c.kind);
    println!("kind: {}", c.kind.as_str());
    lines("  ", kind_en, kind_no);
    println!(
        "needs review: {}",
        if c.needs_review() { "yes" } else { "no" }
    );

    if c.flags.is_empty() {
        println!("flags: none");
    } else {
        println!("flags:");
        for &f in &c.flags {
            let (sev_en, sev_no) = severity_words(f.severity());
            let sev = match (show_en, show_no) {
                (true, false) => sev_en.to_string(),
                (false, true) => sev_no.to_string(),
                _ if sev_en == sev_no => sev_en.to_string(),
                _ => format!("{sev_en} / {sev_no}"),
            };
            println!("  {} ({sev})", f.as_str());
            let (en, no) = flag_meaning(f);
            lines("    ", en, no);
        }
    }

    if c.evidence.is_empty() {
        println!("evidence: none");
    } else {
        println!("evidence:");
        for e in &c.evidence {
            println!("  {}", rule_code(e));
            let (en, no) = evidence_text(args, e);
            lines("    ", &en, &no);
        }
    }

    println!("reason:");
    lines("  ", &c.reason_en, &c.reason_no);
    if args.amount.is_none() && args.counter_accounts.iter().any(|c| c.amount.is_none()) {
        let nominal = nominal_amount();
        lines(
            "  ",
            &format!(
                "(no --amount given: a --counter-account without an amount is taken as a debit \
                 of {nominal}; only the sign matters for the kind)"
            ),
            &format!(
                "(--amount ikke oppgitt: en --counter-account uten beløp regnes som debet \
                 {nominal}; bare fortegnet betyr noe for klassifiseringen)"
            ),
        );
    }
}
