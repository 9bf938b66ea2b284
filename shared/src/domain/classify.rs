//! Classifying a credit on a customer's ledger (reskontro): payment, credit note, loss write-off,
//! reversal, or unknown.
//!
//! Tripletex has no "written off" flag. By convention (Kredin's guide) a write-off voucher's
//! description begins with "Tap…", "Avskriv…" or "Avskrev…"; a write-off without the word looks
//! like a payment to other systems, and the case gets closed as if the debt were paid. A written-off
//! claim still exists (for three years, foreldelsesloven § 2), so Inndrive keeps it open. This
//! module decides, from plain data taken from Tripletex, what a credit is, and says why.
//!
//! Input: [`CreditEvidence`], one credit posting (negative amount) on a customer-ledger account
//! with what surrounds it: the voucher's description and type, the posting's description and
//! type, the voucher's other postings ("counter-postings"), the invoice it belongs to, and the
//! reversal links. Output: [`Classification`], a [`CreditKind`], [`Flag`]s, the
//! [`EvidenceItem`]s that fired, and a reason in English and Norwegian.
//!
//! Precedence (see `docs/classification.md` for the why):
//! 1. The voucher reverses another voucher → [`CreditKind::Reversal`].
//! 2. The credit comes from a credit note → [`CreditKind::CreditNote`].
//! 3. A debit on a loss account (7830 …) → [`CreditKind::WriteOff`]; without the marker word it is
//!    flagged [`Flag::MarkerMissing`]; with a bank debit as well, [`Flag::MixedPaymentAndWriteOff`].
//! 4. The marker word and payment evidence (bank 19xx debit or an incoming-payment posting type)
//!    → [`CreditKind::Unknown`] with [`Flag::ConflictingEvidence`]: a person decides.
//! 5. The marker word alone → [`CreditKind::WriteOff`].
//! 6. Payment evidence alone → [`CreditKind::Payment`].
//! 7. Anything else → [`CreditKind::Unknown`], never silently a payment.
//!
//! Pure: no clock, no I/O, no floats.

mod marker;
#[cfg(test)]
mod tests;

pub use marker::{
    later_loss_word, starts_with_loss_marker, MarkerStem, MarkerStrength, MarkerWord,
};

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// Loss accounts assumed when the client's chart is not known: 7830 "Tap på fordringer,
/// fradragsberettiget" (Tripletex: "Konstaterte tap på fordringer") and 7835 "Tap på fordringer,
/// ikke fradragsberettiget" (NS 4102).
pub const DEFAULT_LOSS_ACCOUNTS: [u32; 2] = [7830, 7835];

/// Posting types (Tripletex `Posting.type`) that mean an incoming payment.
pub const PAYMENT_POSTING_TYPES: [&str; 2] = ["INCOMING_PAYMENT", "INCOMING_PAYMENT_OPPOSITE"];

/// The posting type of the customer leg of an outgoing invoice; on a credit it is a credit note.
pub const INVOICE_CUSTOMER_POSTING_TYPE: &str = "OUTGOING_INVOICE_CUSTOMER_POSTING";

/// A voucher type (Tripletex `Voucher.voucherType`). Ids differ per company, so the name is what
/// is read; `None` for the whole struct means `voucherType: null` (a manual "avansert" voucher).
#[derive(utoipa::ToSchema, Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VoucherTypeRef {
    #[serde(default)]
    pub id: Option<i64>,
    #[serde(default)]
    pub name: Option<String>,
}

/// Another posting on the same voucher as the credit (Tripletex `Posting` of `Voucher.postings`).
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CounterPosting {
    /// `Posting.account.number` (e.g. 1920, 7830).
    pub account_number: u32,
    /// `Posting.account.name`, for the reason text only.
    #[serde(default)]
    pub account_name: Option<String>,
    /// `Posting.amountGross` in company currency: debit positive, credit negative. Only debits
    /// (> 0) are evidence: the other side of a credit to the customer is a debit.
    pub amount: Decimal,
}

/// Everything the classifier looks at for one credit on a customer's ledger. Plain data, as read
/// from Tripletex; absent fields are `None`/empty/`false`.
#[derive(utoipa::ToSchema, Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CreditEvidence {
    /// `Voucher.description`.
    pub voucher_description: Option<String>,
    /// `Posting.description` of the credit posting itself.
    pub posting_description: Option<String>,
    /// `Voucher.voucherType`; `None` = `voucherType: null`.
    pub voucher_type: Option<VoucherTypeRef>,
    /// `Posting.type` of the credit posting (e.g. `INCOMING_PAYMENT`); `None` for manual postings.
    pub posting_type: Option<String>,
    /// The voucher's other postings (not the credit itself).
    pub counter_postings: Vec<CounterPosting>,
    /// `Invoice.isCreditNote` of the invoice the credit belongs to.
    pub invoice_is_credit_note: bool,
    /// `Invoice.creditedInvoice` (the original invoice's id when this is a credit note; Tripletex
    /// sends 0 otherwise, which counts as `None`).
    pub credited_invoice_id: Option<i64>,
    /// The id of the voucher this voucher reverses (from `Voucher.reverseVoucher`).
    pub reverses_voucher_id: Option<i64>,
    /// The id of a later voucher that reverses this one.
    pub is_reversed_by: Option<i64>,
    /// The loss accounts (78xx) present in the client's chart; empty = [`DEFAULT_LOSS_ACCOUNTS`].
    /// See [`loss_accounts_in_chart`].
    pub loss_accounts: Vec<u32>,
}

/// What a credit is.
#[derive(utoipa::ToSchema, Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CreditKind {
    /// Money came in (bank or cash, or an incoming-payment posting).
    Payment,
    /// A credit note cancelled (part of) the claim.
    CreditNote,
    /// A loss write-off (tapsføring): the debt still exists, the claim stays open.
    WriteOff,
    /// The voucher reverses an earlier voucher.
    Reversal,
    /// Not decided: held for a person, never taken as a payment.
    Unknown,
}

impl CreditKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CreditKind::Payment => "payment",
            CreditKind::CreditNote => "credit_note",
            CreditKind::WriteOff => "write_off",
            CreditKind::Reversal => "reversal",
            CreditKind::Unknown => "unknown",
        }
    }
}

/// How much a flag asks of the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// For the record.
    Info,
    /// Tell the user; the classification stands.
    Warning,
    /// A person must confirm before the credit is acted on.
    Review,
}

/// Something worth knowing about a classification. Serialized in snake_case.
#[derive(
    utoipa::ToSchema,
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Flag {
    /// A write-off found through a loss-account debit, but the description does not begin with
    /// "Tap"/"Avskriv"/"Avskrev": other systems would have read it as a payment. (Warning)
    MarkerMissing,
    /// The evidence points two ways (marker word with a bank debit; a credit note or reversal
    /// with write-off or payment evidence). (Review)
    ConflictingEvidence,
    /// The marker word is not plain loss vocabulary ("Tapt", "Tapet", "Tape" …). (Review)
    AmbiguousMarker,
    /// The voucher debits both a loss account and a bank account: part paid, part written off.
    /// (Review)
    MixedPaymentAndWriteOff,
    /// A write-off by marker, but the voucher debits neither a loss account nor 1580. (Review)
    UnexpectedCounterAccount,
    /// No marker, but the voucher debits 1580 (allowance for losses) or a 78xx account that is
    /// not a loss account. (Review)
    PossibleWriteOff,
    /// A loss word appears later in the text ("Delbetaling, rest avskrives senere"); it does not
    /// count as the marker. (Info)
    LossWordLater,
    /// A later voucher reverses this one; its effect is undone. (Info)
    ReversedLater,
}

impl Flag {
    pub fn as_str(self) -> &'static str {
        match self {
            Flag::MarkerMissing => "marker_missing",
            Flag::ConflictingEvidence => "conflicting_evidence",
            Flag::AmbiguousMarker => "ambiguous_marker",
            Flag::MixedPaymentAndWriteOff => "mixed_payment_and_write_off",
            Flag::UnexpectedCounterAccount => "unexpected_counter_account",
            Flag::PossibleWriteOff => "possible_write_off",
            Flag::LossWordLater => "loss_word_later",
            Flag::ReversedLater => "reversed_later",
        }
    }

    pub fn severity(self) -> Severity {
        match self {
            Flag::MarkerMissing => Severity::Warning,
            Flag::ConflictingEvidence
            | Flag::AmbiguousMarker
            | Flag::MixedPaymentAndWriteOff
            | Flag::UnexpectedCounterAccount
            | Flag::PossibleWriteOff => Severity::Review,
            Flag::LossWordLater | Flag::ReversedLater => Severity::Info,
        }
    }
}

/// Where a description came from.
#[derive(utoipa::ToSchema, Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TextSource {
    VoucherDescription,
    PostingDescription,
}

/// What a counter-posting's account says about the credit.
#[derive(utoipa::ToSchema, Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountRole {
    /// 1900–1999: bank and cash.
    Bank,
    /// One of the loss accounts (7830 …).
    Loss,
    /// 1580: allowance for losses on receivables.
    LossAllowance,
    /// Another 7800–7899 account (recoveries 7820/7825, change in allowance 7839 …).
    LossGroupOther,
    /// Anything else (receivables, revenue, VAT, supplier ledger …).
    Other,
}

/// One fact that the classifier used.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "rule", rename_all = "snake_case")]
pub enum EvidenceItem {
    /// The voucher reverses voucher `voucher_id`.
    Reverses { voucher_id: i64 },
    /// Voucher `voucher_id` reverses this voucher.
    ReversedBy { voucher_id: i64 },
    /// The invoice is a credit note (`isCreditNote`, or `creditedInvoice` set).
    CreditNoteInvoice { credited_invoice_id: Option<i64> },
    /// The credit posting is the customer leg of an outgoing invoice (so: a credit note).
    CreditNotePosting { posting_type: String },
    /// The voucher type is "Utgående faktura" (a credit on it is a credit note).
    CreditNoteVoucherType { name: String },
    /// The text begins with a marker word.
    Marker {
        source: TextSource,
        word: String,
        stem: MarkerStem,
        strength: MarkerStrength,
    },
    /// A loss word appears later in the text (hint only).
    LossWordLater { source: TextSource, word: String },
    /// A debit counter-posting and what its account means.
    CounterAccount {
        account_number: u32,
        account_name: Option<String>,
        amount: Decimal,
        role: AccountRole,
    },
    /// The credit posting's type is an incoming payment.
    PaymentPostingType { posting_type: String },
}

/// The decision about one credit.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Classification {
    pub kind: CreditKind,
    /// Sorted, without duplicates.
    pub flags: Vec<Flag>,
    /// Every fact found, in the order the rules look at them.
    pub evidence: Vec<EvidenceItem>,
    pub reason_en: String,
    pub reason_no: String,
}

impl Classification {
    pub fn has_flag(&self, flag: Flag) -> bool {
        self.flags.contains(&flag)
    }

    /// A person must look before anything is done with this credit: the kind is unknown, or a
    /// flag of severity [`Severity::Review`] is set.
    pub fn needs_review(&self) -> bool {
        self.kind == CreditKind::Unknown
            || self.flags.iter().any(|f| f.severity() == Severity::Review)
    }
}

/// The loss accounts among a client's account numbers: 7830–7838 ("Tap på fordringer" and the
/// company's own sub-accounts). 7820/7825 (recoveries) and 7839 (change in allowance) are not loss
/// accounts. Empty when the chart has none (then [`DEFAULT_LOSS_ACCOUNTS`] applies).
pub fn loss_accounts_in_chart(account_numbers: impl IntoIterator<Item = u32>) -> Vec<u32> {
    let mut v: Vec<u32> = account_numbers
        .into_iter()
        .filter(|n| (7830..=7838).contains(n))
        .collect();
    v.sort_unstable();
    v.dedup();
    v
}

/// What an account number means for a credit on the customer ledger.
pub fn account_role(account_number: u32, loss_accounts: &[u32]) -> AccountRole {
    let loss: &[u32] = if loss_accounts.is_empty() {
        &DEFAULT_LOSS_ACCOUNTS
    } else {
        loss_accounts
    };
    if loss.contains(&account_number) {
        AccountRole::Loss
    } else if (1900..=1999).contains(&account_number) {
        AccountRole::Bank
    } else if account_number == 1580 {
        AccountRole::LossAllowance
    } else if (7800..=7899).contains(&account_number) {
        AccountRole::LossGroupOther
    } else {
        AccountRole::Other
    }
}

/// Classifies one credit. Total: every input gives a classification.
pub fn classify(e: &CreditEvidence) -> Classification {
    let facts = Facts::gather(e);
    decide(facts)
}

fn non_blank(s: &Option<String>) -> Option<&str> {
    s.as_deref().filter(|t| !t.trim().is_empty())
}

/// The facts gathered before any rule is applied.
struct Facts {
    evidence: Vec<EvidenceItem>,
    reverses: Option<i64>,
    reversed_by: Option<i64>,
    credit_note: bool,
    marker: Option<(TextSource, MarkerWord)>,
    later_word: Option<(TextSource, MarkerWord)>,
    loss_debits: Vec<(u32, Decimal)>,
    bank_debits: Vec<(u32, Decimal)>,
    payment_posting_type: Option<String>,
    /// Debits on 1580 or a non-loss 78xx account.
    loss_like_debits: Vec<u32>,
    /// Debits on any other account.
    other_debits: Vec<u32>,
}

impl Facts {
    fn gather(e: &CreditEvidence) -> Self {
        let mut evidence = Vec::new();

        if let Some(id) = e.reverses_voucher_id {
            evidence.push(EvidenceItem::Reverses { voucher_id: id });
        }
        if let Some(id) = e.is_reversed_by {
            evidence.push(EvidenceItem::ReversedBy { voucher_id: id });
        }

        let credited_invoice_id = e.credited_invoice_id.filter(|&id| id != 0);
        let mut credit_note = false;
        if e.invoice_is_credit_note || credited_invoice_id.is_some() {
            credit_note = true;
            evidence.push(EvidenceItem::CreditNoteInvoice {
                credited_invoice_id,
            });
        }
        let posting_type = e
            .posting_type
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty());
        if let Some(t) = posting_type {
            if t.eq_ignore_ascii_case(INVOICE_CUSTOMER_POSTING_TYPE) {
                credit_note = true;
                evidence.push(EvidenceItem::CreditNotePosting {
                    posting_type: t.to_string(),
                });
            }
        }
        if let Some(name) = e.voucher_type.as_ref().and_then(|v| non_blank(&v.name)) {
            if is_outgoing_invoice_type(name) {
                credit_note = true;
                evidence.push(EvidenceItem::CreditNoteVoucherType {
                    name: name.trim().to_string(),
                });
            }
        }

        // The marker: the voucher description, failing that the posting description.
        let texts = [
            (
                TextSource::VoucherDescription,
                non_blank(&e.voucher_description),
            ),
            (
                TextSource::PostingDescription,
                non_blank(&e.posting_description),
            ),
        ];
        let marker = texts
            .iter()
            .find_map(|(src, t)| t.and_then(starts_with_loss_marker).map(|m| (*src, m)));
        let later_word = match marker {
            Some(_) => None,
            None => texts
                .iter()
                .find_map(|(src, t)| t.and_then(later_loss_word).map(|m| (*src, m))),
        };
        if let Some((source, m)) = &marker {
            evidence.push(EvidenceItem::Marker {
                source: *source,
                word: m.word.clone(),
                stem: m.stem,
                strength: m.strength,
            });
        }
        if let Some((source, m)) = &later_word {
            evidence.push(EvidenceItem::LossWordLater {
                source: *source,
                word: m.word.clone(),
            });
        }

        let mut loss_debits = Vec::new();
        let mut bank_debits = Vec::new();
        let mut loss_like_debits = Vec::new();
        let mut other_debits = Vec::new();
        for cp in e
            .counter_postings
            .iter()
            .filter(|cp| cp.amount > Decimal::ZERO)
        {
            let role = account_role(cp.account_number, &e.loss_accounts);
            match role {
                AccountRole::Loss => loss_debits.push((cp.account_number, cp.amount)),
                AccountRole::Bank => bank_debits.push((cp.account_number, cp.amount)),
                AccountRole::LossAllowance | AccountRole::LossGroupOther => {
                    loss_like_debits.push(cp.account_number)
                }
                AccountRole::Other => other_debits.push(cp.account_number),
            }
            evidence.push(EvidenceItem::CounterAccount {
                account_number: cp.account_number,
                account_name: cp.account_name.clone(),
                amount: cp.amount,
                role,
            });
        }

        let payment_posting_type = posting_type
            .filter(|t| {
                PAYMENT_POSTING_TYPES
                    .iter()
                    .any(|p| t.eq_ignore_ascii_case(p))
            })
            .map(str::to_string);
        if let Some(t) = &payment_posting_type {
            evidence.push(EvidenceItem::PaymentPostingType {
                posting_type: t.clone(),
            });
        }

        Facts {
            evidence,
            reverses: e.reverses_voucher_id,
            reversed_by: e.is_reversed_by,
            credit_note,
            marker,
            later_word,
            loss_debits,
            bank_debits,
            payment_posting_type,
            loss_like_debits,
            other_debits,
        }
    }

    fn has_payment_evidence(&self) -> bool {
        !self.bank_debits.is_empty() || self.payment_posting_type.is_some()
    }

    fn has_write_off_evidence(&self) -> bool {
        self.marker.is_some() || !self.loss_debits.is_empty()
    }
}

/// "Utgående faktura" (Outgoing invoice), in any case; also the English display name.
fn is_outgoing_invoice_type(name: &str) -> bool {
    let folded: String = name.trim().chars().flat_map(char::to_lowercase).collect();
    folded == "utgående faktura" || folded == "outgoing invoice"
}

fn decide(f: Facts) -> Classification {
    let mut flags = Vec::new();
    if f.reversed_by.is_some() {
        flags.push(Flag::ReversedLater);
    }
    if f.later_word.is_some() {
        flags.push(Flag::LossWordLater);
    }
    let text = Texts::new(&f);

    let (kind, en, no) = if let Some(id) = f.reverses {
        if f.has_write_off_evidence() {
            flags.push(Flag::ConflictingEvidence);
        }
        (
            CreditKind::Reversal,
            format!(
                "The voucher reverses voucher {id}.{}",
                text.conflict_en(&flags, &text.write_off_en)
            ),
            format!(
                "Bilaget tilbakefører bilag {id}.{}",
                text.conflict_no(&flags, &text.write_off_no)
            ),
        )
    } else if f.credit_note {
        if f.has_write_off_evidence() || f.has_payment_evidence() {
            flags.push(Flag::ConflictingEvidence);
        }
        (
            CreditKind::CreditNote,
            format!(
                "The credit comes from a credit note ({}).{}",
                text.credit_note_en,
                text.conflict_en(&flags, &text.conflict_detail_en)
            ),
            format!(
                "Krediteringen kommer fra en kreditnota ({}).{}",
                text.credit_note_no,
                text.conflict_no(&flags, &text.conflict_detail_no)
            ),
        )
    } else if !f.loss_debits.is_empty() {
        let accounts = list(&f.loss_debits);
        let mut en = format!("The voucher debits the loss account {accounts}.");
        let mut no = format!("Bilaget debiterer tapskonto {accounts}.");
        match &f.marker {
            Some((_, m)) => {
                en.push_str(&format!(" The description begins with «{}».", m.word));
                no.push_str(&format!(" Teksten begynner med «{}».", m.word));
            }
            None => {
                flags.push(Flag::MarkerMissing);
                en.push_str(
                    " Warning: the description does not begin with «Tap», «Avskriv» or «Avskrev», \
                     so other systems would have read this as a payment and closed the claim. \
                     Inndrive treats it as a write-off and keeps the claim open.",
                );
                no.push_str(
                    " Advarsel: teksten begynner ikke med «Tap», «Avskriv» eller «Avskrev», så \
                     andre systemer ville lest dette som en betaling og lukket saken. Inndrive \
                     behandler det som et tap og holder kravet åpent.",
                );
            }
        }
        if !f.bank_debits.is_empty() {
            flags.push(Flag::MixedPaymentAndWriteOff);
            let (acc_en, acc_no) = bank_words(&f.bank_debits);
            let banks = list(&f.bank_debits);
            en.push_str(&format!(
                " It also debits the {acc_en} {banks}: part paid, part written off; check the \
                 amounts."
            ));
            no.push_str(&format!(
                " Det debiterer også {acc_no} {banks}: delvis betalt, delvis tapsført; kontroller \
                 beløpene."
            ));
        }
        (CreditKind::WriteOff, en, no)
    } else if let Some((source, m)) = &f.marker {
        let src_en = source_en(*source);
        let src_no = source_no(*source);
        if f.has_payment_evidence() {
            flags.push(Flag::ConflictingEvidence);
            let (mut en, mut no) = (
                format!(
                    "The {src_en} begins with «{}» (write-off), but {}: held for a person to decide \
                     between write-off and payment.",
                    m.word, text.payment_en
                ),
                format!(
                    "{src_no} begynner med «{}» (tap), men {}: holdes tilbake til en person har \
                     avgjort om det er tap eller betaling.",
                    m.word, text.payment_no
                ),
            );
            if m.strength == MarkerStrength::Ambiguous {
                flags.push(Flag::AmbiguousMarker);
                en.push_str(&format!(" «{}» is not plainly a loss word.", m.word));
                no.push_str(&format!(" «{}» er ikke entydig et tapsord.", m.word));
            }
            (CreditKind::Unknown, en, no)
        } else {
            let mut en = format!("The {src_en} begins with «{}».", m.word);
            let mut no = format!("{src_no} begynner med «{}».", m.word);
            if m.strength == MarkerStrength::Ambiguous {
                flags.push(Flag::AmbiguousMarker);
                en.push_str(&format!(
                    " «{}» starts with «{}» but is not plainly a loss word (e.g. «tapt» = lost, \
                     «tapet» = wallpaper): please confirm.",
                    m.word,
                    m.stem.as_str()
                ));
                no.push_str(&format!(
                    " «{}» begynner med «{}», men er ikke entydig et tapsord (f.eks. «tapt», \
                     «tapet»): bekreft.",
                    m.word,
                    m.stem.as_str()
                ));
            }
            if !f.other_debits.is_empty() && f.loss_like_debits.is_empty() {
                flags.push(Flag::UnexpectedCounterAccount);
                let accounts = join(&f.other_debits);
                en.push_str(&format!(
                    " But the voucher debits {accounts}, not a loss account such as 7830: please \
                     check."
                ));
                no.push_str(&format!(
                    " Men bilaget debiterer {accounts}, ikke en tapskonto som 7830: kontroller."
                ));
            }
            (CreditKind::WriteOff, en, no)
        }
    } else if f.has_payment_evidence() {
        (
            CreditKind::Payment,
            format!("Payment: {}.", text.payment_en),
            format!("Betaling: {}.", text.payment_no),
        )
    } else if !f.loss_like_debits.is_empty() {
        flags.push(Flag::PossibleWriteOff);
        let accounts = join(&f.loss_like_debits);
        (
            CreditKind::Unknown,
            format!(
                "The voucher debits {accounts} (loss allowance or the loss group) without a loss \
                 account and without «Tap»/«Avskriv»/«Avskrev» first in the text: possibly a \
                 write-off, held for a person."
            ),
            format!(
                "Bilaget debiterer {accounts} (avsetning eller tapsgruppen) uten tapskonto og uten \
                 «Tap»/«Avskriv»/«Avskrev» først i teksten: mulig tap, holdes tilbake til en person \
                 har sett på det."
            ),
        )
    } else {
        let (en, no) = if f.other_debits.is_empty() {
            (
                "No marker word, no loss, bank or credit-note evidence: held for a person, not \
                 taken as a payment."
                    .to_string(),
                "Verken tapsord, tapskonto, bankkonto eller kreditnota: holdes tilbake til en \
                 person har sett på det, og regnes ikke som betaling."
                    .to_string(),
            )
        } else {
            let accounts = join(&f.other_debits);
            (
                format!(
                    "The voucher debits {accounts}, which is neither a bank nor a loss account, \
                     and the text has no marker word: held for a person, not taken as a payment."
                ),
                format!(
                    "Bilaget debiterer {accounts}, som verken er bank- eller tapskonto, og teksten \
                     har ikke tapsord: holdes tilbake til en person har sett på det, og regnes ikke \
                     som betaling."
                ),
            )
        };
        (CreditKind::Unknown, en, no)
    };

    let mut reason_en = en;
    let mut reason_no = no;
    if let Some((_, m)) = &f.later_word {
        reason_en.push_str(&format!(
            " Note: «{}» appears later in the text; a write-off's description must begin with the \
             word.",
            m.word
        ));
        reason_no.push_str(&format!(
            " Merk: «{}» står senere i teksten; teksten på et tapsbilag må begynne med ordet.",
            m.word
        ));
    }
    if let Some(id) = f.reversed_by {
        reason_en.push_str(&format!(" Voucher {id} later reverses this voucher."));
        reason_no.push_str(&format!(" Bilag {id} tilbakefører senere dette bilaget."));
    }

    flags.sort_unstable();
    flags.dedup();
    Classification {
        kind,
        flags,
        evidence: f.evidence,
        reason_en,
        reason_no,
    }
}

/// Reusable phrases built from the facts.
struct Texts {
    payment_en: String,
    payment_no: String,
    credit_note_en: String,
    credit_note_no: String,
    /// The write-off evidence only (what conflicts with a reversal).
    write_off_en: String,
    write_off_no: String,
    /// Write-off and payment evidence (what conflicts with a credit note).
    conflict_detail_en: String,
    conflict_detail_no: String,
}

impl Texts {
    fn new(f: &Facts) -> Self {
        let (payment_en, payment_no) = match (&f.bank_debits[..], &f.payment_posting_type) {
            ([], Some(t)) => (
                format!("the posting type is {t}"),
                format!("posteringstypen er {t}"),
            ),
            (banks, _) => {
                let (acc_en, acc_no) = bank_words(banks);
                let b = list(banks);
                (
                    format!("the voucher debits the {acc_en} {b}"),
                    format!("bilaget debiterer {acc_no} {b}"),
                )
            }
        };
        let (credit_note_en, credit_note_no) = f
            .evidence
            .iter()
            .find_map(|ev| match ev {
                EvidenceItem::CreditNoteInvoice {
                    credited_invoice_id: Some(id),
                } => Some((
                    format!("it credits invoice id {id}"),
                    format!("den krediterer faktura-id {id}"),
                )),
                EvidenceItem::CreditNoteInvoice { .. } => Some((
                    "the invoice is a credit note".to_string(),
                    "fakturaen er en kreditnota".to_string(),
                )),
                EvidenceItem::CreditNotePosting { posting_type } => Some((
                    format!("a credit posting of type {posting_type}"),
                    format!("en kreditpostering av typen {posting_type}"),
                )),
                EvidenceItem::CreditNoteVoucherType { name } => Some((
                    format!("a credit on a voucher of type «{name}»"),
                    format!("en kreditering på et bilag av typen «{name}»"),
                )),
                _ => None,
            })
            .unwrap_or_default();
        let mut en_parts = Vec::new();
        let mut no_parts = Vec::new();
        if let Some((_, m)) = &f.marker {
            en_parts.push(format!("the text begins with «{}»", m.word));
            no_parts.push(format!("teksten begynner med «{}»", m.word));
        }
        if !f.loss_debits.is_empty() {
            let l = list(&f.loss_debits);
            en_parts.push(format!("the loss account {l} is debited"));
            no_parts.push(format!("tapskonto {l} er debitert"));
        }
        let write_off_en = en_parts.join(" and ");
        let write_off_no = no_parts.join(" og ");
        if f.has_payment_evidence() {
            en_parts.push(payment_en.clone());
            no_parts.push(payment_no.clone());
        }
        Texts {
            payment_en,
            payment_no,
            credit_note_en,
            credit_note_no,
            write_off_en,
            write_off_no,
            conflict_detail_en: en_parts.join(" and "),
            conflict_detail_no: no_parts.join(" og "),
        }
    }

    fn conflict_en(&self, flags: &[Flag], detail: &str) -> String {
        if flags.contains(&Flag::ConflictingEvidence) {
            format!(" But {detail}: please check before acting on it.")
        } else {
            String::new()
        }
    }

    fn conflict_no(&self, flags: &[Flag], detail: &str) -> String {
        if flags.contains(&Flag::ConflictingEvidence) {
            format!(" Men {detail}: kontroller før det brukes.")
        } else {
            String::new()
        }
    }
}

fn source_en(s: TextSource) -> &'static str {
    match s {
        TextSource::VoucherDescription => "voucher description",
        TextSource::PostingDescription => "posting description",
    }
}

fn source_no(s: TextSource) -> &'static str {
    match s {
        TextSource::VoucherDescription => "Bilagsteksten",
        TextSource::PostingDescription => "Posteringsteksten",
    }
}

/// "7830 (1 000.00)" style list of debits: account numbers with amounts.
fn list(debits: &[(u32, Decimal)]) -> String {
    debits
        .iter()
        .map(|(n, a)| format!("{n} ({a})"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// "bank account" for 1920–1999, "cash account" for 1900–1919 (kontanter), both when mixed.
fn bank_words(debits: &[(u32, Decimal)]) -> (&'static str, &'static str) {
    let cash = debits.iter().filter(|(n, _)| *n < 1920).count();
    match cash {
        0 => ("bank account", "bankkonto"),
        c if c == debits.len() => ("cash account", "kassekonto"),
        _ => ("bank or cash accounts", "bank- og kassekonto"),
    }
}

fn join(accounts: &[u32]) -> String {
    let mut v = accounts.to_vec();
    v.sort_unstable();
    v.dedup();
    v.iter().map(u32::to_string).collect::<Vec<_>>().join(", ")
}
