//! The voucher that books a settlement's income in Tripletex, as a pure value, and why a posting
//! is held. `docs/vouchers.md` is the design; the adapter (`adapters::tripletex::voucher`) only
//! sends what is built here.
//!
//! Two patterns ([`VoucherPattern`]):
//!
//! - [`VoucherPattern::PaymentOnReceivables`]: Tripletex already holds the whole payment on the
//!   receivables account (KID-matched to the invoice, which it over-settles). The voucher moves
//!   the part beyond the invoice from the customer to income: **debit** receivables (with the
//!   customer and the invoice number) = interest + fees + recovery; **credit** interest income,
//!   fee income, and (after a write-off) the recovery account. The receivables line and the
//!   over-settling payment then net to zero and are closed together.
//! - [`VoucherPattern::PaymentNotInTripletex`]: the money came in elsewhere. **Debit** the bank
//!   with all of it, **credit** receivables with the principal still open there (customer,
//!   invoice number), the recovery account with what was written off, and the income accounts.
//!
//! Tripletex's rules (reference §7.3): the postings balance; rows start at 1 (row 0 is
//! Tripletex's own); `amountGross` = `amountGrossCurrency` (NOK); a receivables line carries the
//! customer; income lines carry a no-VAT code (a VAT-locked account its own code).
//!
//! Pure: no clock, no I/O, no floats.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::claim::{ClaimId, SettlementAmounts};
use super::ledger::hash::fnv1a64;
use super::money::Money;

/// Tripletex's limit on `externalVoucherNumber`.
pub const MAX_EXTERNAL_NUMBER: usize = 70;

/// An account of the client's chart, resolved by number (`GET /ledger/account?number=`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LedgerAccount {
    pub id: i64,
    pub number: u32,
    #[serde(default)]
    pub name: String,
    /// The account is locked to a VAT code: a posting on it must carry exactly that code.
    #[serde(default)]
    pub vat_locked: bool,
    /// The account's own VAT code (id), when it has one.
    #[serde(default)]
    pub vat_type_id: Option<i64>,
}

/// The accounts a settlement voucher uses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VoucherAccounts {
    /// The customer ledger (`postingRules.accountReceivableCustomersId`, normally 1500).
    pub receivables: LedgerAccount,
    /// Forsinkelsesrente (8055 or 8050).
    pub interest_income: LedgerAccount,
    /// Reminder fees and compensation (the user's choice).
    pub fee_income: LedgerAccount,
    /// Recovery of written-off claims (7820/7825).
    pub recovery: LedgerAccount,
    /// The VAT code for "no VAT" (outside the VAT act) on income lines of unlocked accounts.
    pub no_vat_type_id: Option<i64>,
}

/// Where the payment is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "pattern", rename_all = "camelCase")]
pub enum VoucherPattern {
    /// The whole payment is already on the receivables account (the usual case: every payment
    /// Inndrive knows was read from Tripletex's customer ledger).
    PaymentOnReceivables,
    /// The payment is not in Tripletex at all: the voucher books it from the bank.
    PaymentNotInTripletex { bank: LedgerAccount },
}

/// What a posting line is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum LineRole {
    Receivables,
    InterestIncome,
    FeeIncome,
    Recovery,
    Bank,
}

/// One posting of a voucher to be sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PostingDraft {
    /// 1, 2, …: Tripletex's GUI row (0 is Tripletex's own).
    pub row: u32,
    pub role: LineRole,
    pub account: LedgerAccount,
    /// Debit positive, credit negative; `amountGross` and `amountGrossCurrency` (NOK).
    pub amount: Money,
    pub customer_id: Option<i64>,
    pub invoice_number: Option<String>,
    pub vat_type_id: Option<i64>,
    pub description: String,
}

/// A voucher to be sent to `POST /ledger/voucher`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VoucherDraft {
    pub date: NaiveDate,
    pub description: String,
    pub external_voucher_number: String,
    pub postings: Vec<PostingDraft>,
}

/// What the voucher is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettlementRef<'a> {
    /// The settlement's idempotency key (`settle:{account}:{claim}:{version}`).
    pub key: &'a str,
    pub claim_id: &'a ClaimId,
    pub settlement_version: u32,
    pub customer_id: i64,
    /// The invoice number as Tripletex writes it on postings (a string); `None` for an open item
    /// without one.
    pub invoice_number: Option<&'a str>,
    pub amounts: &'a SettlementAmounts,
}

/// Why a voucher cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VoucherError {
    #[error("the postings do not balance (sum {0})")]
    Unbalanced(Money),
    #[error("rows must be 1, 2, … in order")]
    BadRows,
    #[error("a receivables line needs the customer")]
    CustomerMissing,
    #[error("a posting of zero")]
    ZeroAmount,
    #[error("a negative amount in the settlement: {0}")]
    NegativeAmount(&'static str),
    #[error("externalVoucherNumber longer than {MAX_EXTERNAL_NUMBER} characters")]
    ExternalNumberTooLong,
    #[error("the amounts are too large")]
    Overflow,
}

/// The deterministic `externalVoucherNumber` of a settlement: `inndrive-{claim}-v{version}-{hash}`,
/// `hash` 16 hex digits of FNV-1a 64 of the settlement key (which names the account, so two
/// accounts following one Tripletex company do not share a number; the claim and version in
/// clear make it readable in Tripletex). At most 62 characters.
pub fn external_voucher_number(key: &str, claim: &ClaimId, version: u32) -> String {
    let hash = fnv1a64(key.as_bytes());
    format!("{EXTERNAL_PREFIX}{claim}-v{version}-{hash:016x}")
}

/// How every settlement voucher's `externalVoucherNumber` starts.
pub const EXTERNAL_PREFIX: &str = "inndrive-";

/// A voucher Inndrive booked for a settlement (by its `externalVoucherNumber`): its receivables
/// line carries the interest and fees onto the invoice; the ledger counts it as such, never as
/// principal or a payment.
pub fn is_settlement_voucher(external_voucher_number: &str) -> bool {
    external_voucher_number.starts_with(EXTERNAL_PREFIX)
}

/// The case of a claim, as the user knows it (`case_{claimId}`).
fn case_name(claim: &ClaimId) -> String {
    format!("case_{claim}")
}

/// «Renter og gebyrer, faktura 10023 (Inndrive sak case_inv_1001)»: what is booked, the invoice,
/// the case. A recovery says so first.
pub fn description(s: &SettlementRef<'_>) -> String {
    let a = s.amounts;
    let charges = match (a.interest.is_zero(), a.fees.is_zero()) {
        (false, false) => Some("renter og gebyrer"),
        (false, true) => Some("renter"),
        (true, false) => Some("gebyrer"),
        (true, true) => None,
    };
    let what = match (a.recovered.is_zero(), charges) {
        (true, Some(c)) => capitalise(c),
        (false, Some(c)) => format!("Innkommet på nedskrevet fordring, {c}"),
        (false, None) => "Innkommet på nedskrevet fordring".to_string(),
        (true, None) => "Innbetaling".to_string(),
    };
    let of = match s.invoice_number {
        Some(n) => format!("faktura {n}"),
        None => format!("post {}", s.claim_id),
    };
    format!("{what}, {of} (Inndrive sak {})", case_name(s.claim_id))
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// Whether a settlement has anything to book: interest, fees or a recovery. (An excess is the
/// debtor's money: it stays on the customer for a person to refund or place.)
pub fn has_income(a: &SettlementAmounts) -> bool {
    !(a.interest.is_zero() && a.fees.is_zero() && a.recovered.is_zero())
}

/// The settlement's voucher dated `date`, or `None` when there is nothing to book.
pub fn build(
    s: &SettlementRef<'_>,
    accounts: &VoucherAccounts,
    pattern: &VoucherPattern,
    date: NaiveDate,
) -> Result<Option<VoucherDraft>, VoucherError> {
    let a = s.amounts;
    for (name, m) in [
        ("interest", a.interest),
        ("fees", a.fees),
        ("recovered", a.recovered),
        ("principal", a.principal),
    ] {
        if m.is_negative() {
            return Err(VoucherError::NegativeAmount(name));
        }
    }
    if !has_income(a) {
        return Ok(None);
    }
    let add = |x: Money, y: Money| x.checked_add(y).ok_or(VoucherError::Overflow);
    let neg = |x: Money| Money::ZERO.checked_sub(x).ok_or(VoucherError::Overflow);
    let invoice_number = s.invoice_number.map(str::to_string);
    let of = match s.invoice_number {
        Some(n) => format!("faktura {n}"),
        None => format!("post {}", s.claim_id),
    };
    let income_vat = |acc: &LedgerAccount| {
        if acc.vat_locked {
            acc.vat_type_id
        } else {
            accounts.no_vat_type_id
        }
    };
    let mut lines: Vec<(LineRole, LedgerAccount, Money, bool, Option<i64>, String)> = Vec::new();
    let income = add(add(a.interest, a.fees)?, a.recovered)?;
    match pattern {
        VoucherPattern::PaymentOnReceivables => {
            lines.push((
                LineRole::Receivables,
                accounts.receivables.clone(),
                income,
                true,
                None,
                description(s),
            ));
        }
        VoucherPattern::PaymentNotInTripletex { bank } => {
            // All that came in: the principal still open on receivables, what was written off
            // (recovered), interest and fees.
            let open_principal = a
                .principal
                .checked_sub(a.recovered)
                .ok_or(VoucherError::Overflow)?
                .max(Money::ZERO);
            lines.push((
                LineRole::Bank,
                bank.clone(),
                add(open_principal, income)?,
                false,
                None,
                format!("Innbetaling {of}"),
            ));
            if !open_principal.is_zero() {
                lines.push((
                    LineRole::Receivables,
                    accounts.receivables.clone(),
                    neg(open_principal)?,
                    true,
                    None,
                    format!("Innbetaling {of}"),
                ));
            }
        }
    }
    if !a.interest.is_zero() {
        lines.push((
            LineRole::InterestIncome,
            accounts.interest_income.clone(),
            neg(a.interest)?,
            false,
            income_vat(&accounts.interest_income),
            format!("Forsinkelsesrente, {of}"),
        ));
    }
    if !a.fees.is_zero() {
        lines.push((
            LineRole::FeeIncome,
            accounts.fee_income.clone(),
            neg(a.fees)?,
            false,
            income_vat(&accounts.fee_income),
            format!("Purregebyr og kompensasjon, {of}"),
        ));
    }
    if !a.recovered.is_zero() {
        lines.push((
            LineRole::Recovery,
            accounts.recovery.clone(),
            neg(a.recovered)?,
            false,
            accounts
                .recovery
                .vat_type_id
                .filter(|_| accounts.recovery.vat_locked),
            format!("Innkommet på tidligere nedskrevet fordring, {of}"),
        ));
    }
    let postings = lines
        .into_iter()
        .enumerate()
        .map(
            |(i, (role, account, amount, customer, vat, text))| PostingDraft {
                row: i as u32 + 1,
                role,
                account,
                amount,
                customer_id: customer.then_some(s.customer_id),
                invoice_number: if customer {
                    invoice_number.clone()
                } else {
                    None
                },
                vat_type_id: vat,
                description: text,
            },
        )
        .collect();
    let draft = VoucherDraft {
        date,
        description: description(s),
        external_voucher_number: external_voucher_number(s.key, s.claim_id, s.settlement_version),
        postings,
    };
    draft.check()?;
    Ok(Some(draft))
}

impl VoucherDraft {
    /// Tripletex's rules: rows 1, 2, … in order, no zero line, a customer on every receivables
    /// line, the sum zero, the external number within its limit.
    pub fn check(&self) -> Result<(), VoucherError> {
        let mut sum = Money::ZERO;
        for (i, p) in self.postings.iter().enumerate() {
            if p.row as usize != i + 1 {
                return Err(VoucherError::BadRows);
            }
            if p.amount.is_zero() {
                return Err(VoucherError::ZeroAmount);
            }
            if p.role == LineRole::Receivables && p.customer_id.is_none() {
                return Err(VoucherError::CustomerMissing);
            }
            sum = sum.checked_add(p.amount).ok_or(VoucherError::Overflow)?;
        }
        if !sum.is_zero() {
            return Err(VoucherError::Unbalanced(sum));
        }
        if self.external_voucher_number.chars().count() > MAX_EXTERNAL_NUMBER {
            return Err(VoucherError::ExternalNumberTooLong);
        }
        Ok(())
    }

    /// The receivables line (the one closed with the over-settling payment).
    pub fn receivables_row(&self) -> Option<&PostingDraft> {
        self.postings
            .iter()
            .find(|p| p.role == LineRole::Receivables)
    }
}

// ---------------------------------------------------------------------------------------------
// The account's posting settings
// ---------------------------------------------------------------------------------------------

/// Interest income: the first of these that exists in the client's chart (8055 «Annen
/// renteinntekt, forsinkelsesrente» where the company has it, else 8050 «Annen renteinntekt»).
pub const INTEREST_INCOME_DEFAULTS: [u32; 2] = [8055, 8050];
/// Recovery of written-off claims («Inngått på tidligere nedskrevne fordringer»).
pub const RECOVERY_DEFAULTS: [u32; 2] = [7820, 7825];
/// The fee income account proposed to the user (no standard account exists for reminder fees):
/// 3900 «Annen driftsrelatert inntekt», outside VAT.
pub const FEE_INCOME_PROPOSAL: u32 = 3900;

/// How settlements are booked for one account (part of the integration's settings).
#[derive(utoipa::ToSchema, Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PostingSettings {
    /// `None`: the first of [`INTEREST_INCOME_DEFAULTS`] that exists.
    #[serde(default)]
    pub interest_income_account: Option<u32>,
    /// `None`: not chosen yet; a settlement with fees is held until it is.
    #[serde(default)]
    pub fee_income_account: Option<u32>,
    /// `None`: the first of [`RECOVERY_DEFAULTS`] that exists.
    #[serde(default)]
    pub recovery_account: Option<u32>,
    /// How payments are split between principal, fees and interest.
    #[serde(default)]
    pub allocation_rule: crate::domain::claim::AllocationRule,
    /// When the settlement's date lies in a closed period, post on the first day of the first
    /// open period instead of holding it. Off by default: the date of the payment is the right
    /// date, and moving it is the accountant's decision.
    #[serde(default)]
    pub post_in_first_open_period: bool,
}

/// A partial change of [`PostingSettings`] (absent fields keep their value).
#[derive(utoipa::ToSchema, Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PostingSettingsPatch {
    pub interest_income_account: Option<u32>,
    pub fee_income_account: Option<u32>,
    pub recovery_account: Option<u32>,
    pub allocation_rule: Option<crate::domain::claim::AllocationRule>,
    pub post_in_first_open_period: Option<bool>,
}

impl PostingSettingsPatch {
    pub fn apply(&self, base: &PostingSettings) -> PostingSettings {
        PostingSettings {
            interest_income_account: self
                .interest_income_account
                .or(base.interest_income_account),
            fee_income_account: self.fee_income_account.or(base.fee_income_account),
            recovery_account: self.recovery_account.or(base.recovery_account),
            allocation_rule: self.allocation_rule.unwrap_or(base.allocation_rule),
            post_in_first_open_period: self
                .post_in_first_open_period
                .unwrap_or(base.post_in_first_open_period),
        }
    }
}

/// An account field of the settings: its JSON name under `voucherPosting`, the number chosen,
/// and the account classes (first digit, NS 4102) it may be in.
pub struct AccountChoice {
    pub field: &'static str,
    pub number: u32,
    pub classes: &'static [char],
}

impl PostingSettings {
    /// The accounts the user chose (not the defaults), for the chart check when saved.
    pub fn chosen_accounts(&self) -> Vec<AccountChoice> {
        let mut v = Vec::new();
        if let Some(n) = self.interest_income_account {
            v.push(AccountChoice {
                field: "voucherPosting.interestIncomeAccount",
                number: n,
                classes: &['8'],
            });
        }
        if let Some(n) = self.fee_income_account {
            v.push(AccountChoice {
                field: "voucherPosting.feeIncomeAccount",
                number: n,
                classes: &['3', '8'],
            });
        }
        if let Some(n) = self.recovery_account {
            v.push(AccountChoice {
                field: "voucherPosting.recoveryAccount",
                number: n,
                classes: &['7'],
            });
        }
        v
    }

    /// The numbers are account numbers of the right class: interest income in class 8
    /// (financial income), fee income in class 3 (operating income) or 8, recovery in class 7
    /// (group 78). `(field, code, message)` per problem.
    pub fn validate(&self) -> Vec<(&'static str, &'static str, String)> {
        let mut errors = Vec::new();
        for c in self.chosen_accounts() {
            let text = c.number.to_string();
            let first = text.chars().next().unwrap_or('0');
            if !(1000..=99_999_999).contains(&c.number) {
                errors.push((
                    c.field,
                    "invalid",
                    format!("{} must be an account number (4 to 8 digits)", c.field),
                ));
            } else if !c.classes.contains(&first) {
                let classes: Vec<String> = c.classes.iter().map(|d| format!("{d}xxx")).collect();
                errors.push((
                    c.field,
                    "wrong_account_class",
                    format!(
                        "{} must be an account in class {} (NS 4102), got {}",
                        c.field,
                        classes.join(" or "),
                        c.number
                    ),
                ));
            }
        }
        errors
    }
}

// ---------------------------------------------------------------------------------------------
// Why a posting is held
// ---------------------------------------------------------------------------------------------

/// Why a settlement was not booked, with the fix in Norwegian and English. A held settlement is
/// never retried by itself: a person fixes the cause and asks for a retry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum HeldReason {
    /// The voucher date is in a closed (locked) accounting period.
    PeriodLocked,
    /// Tripletex found the postings unbalanced.
    Unbalanced,
    /// An account of the mapping does not exist (any more) in the client's chart.
    AccountMissing { field: String },
    /// Tripletex wants the customer on a receivables line.
    CustomerMissing,
    /// An account is locked to a VAT code the line does not carry.
    VatLocked { field: String },
    /// The key lacks Tripletex's "Advanced Voucher" (Avansert bilag) permission.
    PermissionMissing,
    /// The account has no fee income account chosen yet.
    FeeAccountNotChosen,
    /// The client's receivables account could not be found (`postingRules`).
    ReceivablesUnknown,
    /// The claim no longer holds this settlement (a reversed payment, new charges) before the
    /// income was booked: nothing is booked for it.
    NoLongerSettled,
    /// Any other refusal by Tripletex.
    Refused,
}

impl HeldReason {
    pub fn code(&self) -> &'static str {
        match self {
            HeldReason::PeriodLocked => "period_locked",
            HeldReason::Unbalanced => "unbalanced",
            HeldReason::AccountMissing { .. } => "account_missing",
            HeldReason::CustomerMissing => "customer_missing",
            HeldReason::VatLocked { .. } => "vat_locked",
            HeldReason::PermissionMissing => "permission_missing",
            HeldReason::FeeAccountNotChosen => "fee_account_not_chosen",
            HeldReason::ReceivablesUnknown => "receivables_unknown",
            HeldReason::NoLongerSettled => "no_longer_settled",
            HeldReason::Refused => "refused",
        }
    }

    /// The fix, in Norwegian.
    pub fn no(&self) -> String {
        match self {
            HeldReason::PeriodLocked => {
                "Perioden er låst: åpne perioden i Tripletex eller velg en annen dato (slå på \
                 «bokfør i første åpne periode» i innstillingene), og prøv igjen."
                    .into()
            }
            HeldReason::Unbalanced => {
                "Tripletex fant at posteringene ikke går i balanse. Kontroller kontoene i \
                 innstillingene og prøv igjen; meld fra til Inndrive om det gjentar seg."
                    .into()
            }
            HeldReason::AccountMissing { field } => format!(
                "Kontoen i «{field}» finnes ikke i klientens kontoplan. Velg en konto som finnes \
                 i innstillingene, og prøv igjen."
            ),
            HeldReason::CustomerMissing => {
                "Tripletex krever kunde på kundefordringslinjen (Kunde mangler). Kontroller at \
                 kunden finnes i Tripletex, og prøv igjen."
                    .into()
            }
            HeldReason::VatLocked { field } => format!(
                "Kontoen i «{field}» er låst til en mva-kode. Velg en inntektskonto uten mva \
                 (utenfor mva-loven), eller lås opp kontoen i Tripletex, og prøv igjen."
            ),
            HeldReason::PermissionMissing => {
                "Nøkkelen mangler rettigheten «Avansert bilag» i Tripletex. Gi API-nøkkelen \
                 tilgangsmalen «Alle tilganger» (med Avansert bilag), og prøv igjen."
                    .into()
            }
            HeldReason::FeeAccountNotChosen => {
                "Velg konto for gebyrinntekter i innstillingene (forslag: 3900 Annen \
                 driftsrelatert inntekt), og prøv igjen."
                    .into()
            }
            HeldReason::ReceivablesUnknown => {
                "Fant ikke kundefordringskontoen i Tripletex (bokføringsregler). Kontroller \
                 kontoplanen, og prøv igjen."
                    .into()
            }
            HeldReason::NoLongerSettled => {
                "Saken er ikke lenger oppgjort (en innbetaling er tilbakeført eller nye krav er \
                 lagt til). Ingenting er bokført."
                    .into()
            }
            HeldReason::Refused => {
                "Tripletex avviste bilaget. Se meldingen fra Tripletex, rett årsaken og prøv igjen."
                    .into()
            }
        }
    }

    /// The fix, in English.
    pub fn en(&self) -> String {
        match self {
            HeldReason::PeriodLocked => {
                "The period is locked: open the period in Tripletex or choose another date (turn \
                 on \"post in the first open period\" in the settings), then retry."
                    .into()
            }
            HeldReason::Unbalanced => {
                "Tripletex found the postings unbalanced. Check the accounts in the settings and \
                 retry; tell Inndrive if it happens again."
                    .into()
            }
            HeldReason::AccountMissing { field } => format!(
                "The account in \"{field}\" does not exist in the client's chart of accounts. \
                 Choose an existing account in the settings, then retry."
            ),
            HeldReason::CustomerMissing => {
                "Tripletex needs the customer on the receivables line (Kunde mangler). Check that \
                 the customer exists in Tripletex, then retry."
                    .into()
            }
            HeldReason::VatLocked { field } => format!(
                "The account in \"{field}\" is locked to a VAT code. Choose an income account \
                 without VAT (outside the VAT act), or unlock the account in Tripletex, then retry."
            ),
            HeldReason::PermissionMissing => {
                "The key lacks Tripletex's \"Advanced Voucher\" (Avansert bilag) permission. Give \
                 the API key the access template \"Alle tilganger\" (with Advanced Voucher), then \
                 retry."
                    .into()
            }
            HeldReason::FeeAccountNotChosen => {
                "Choose the fee income account in the settings (proposal: 3900 Other operating \
                 income), then retry."
                    .into()
            }
            HeldReason::ReceivablesUnknown => {
                "The receivables account was not found in Tripletex (posting rules). Check the \
                 chart of accounts, then retry."
                    .into()
            }
            HeldReason::NoLongerSettled => {
                "The claim is no longer settled (a payment was reversed or new charges were \
                 added). Nothing was booked."
                    .into()
            }
            HeldReason::Refused => {
                "Tripletex refused the voucher. See Tripletex's message, fix the cause, then retry."
                    .into()
            }
        }
    }
}

/// Which line of our voucher a Tripletex validation path (`postings[2].account.id`) is about, as
/// the settings field that chose its account.
fn field_of_row(path: &str, draft: Option<&VoucherDraft>) -> String {
    let idx = path
        .strip_prefix("postings[")
        .and_then(|r| r.split(']').next())
        .and_then(|n| n.parse::<usize>().ok());
    let role = idx.and_then(|i| draft.and_then(|d| d.postings.get(i)).map(|p| p.role));
    match role {
        Some(LineRole::InterestIncome) => "interestIncomeAccount",
        Some(LineRole::FeeIncome) => "feeIncomeAccount",
        Some(LineRole::Recovery) => "recoveryAccount",
        Some(LineRole::Receivables) => "receivables",
        Some(LineRole::Bank) => "bankAccount",
        None => "accounts",
    }
    .to_string()
}

/// What a Tripletex refusal of a voucher (status, message, validation messages as `(field or
/// path, message)`) means. Pure text matching on Tripletex's documented and observed messages;
/// what matches nothing is [`HeldReason::Refused`], never a guess.
pub fn refusal_reason(
    status: u16,
    message: &str,
    validation: &[(String, String)],
    draft: Option<&VoucherDraft>,
) -> HeldReason {
    if status == 403 {
        return HeldReason::PermissionMissing;
    }
    let lower = |s: &str| s.to_lowercase();
    let texts: Vec<(String, String)> = validation
        .iter()
        .map(|(f, m)| (lower(f), lower(m)))
        .chain(std::iter::once((String::new(), lower(message))))
        .collect();
    for (field, text) in &texts {
        if (text.contains("periode") || text.contains("period"))
            && (text.contains("låst")
                || text.contains("lukket")
                || text.contains("stengt")
                || text.contains("locked")
                || text.contains("closed"))
        {
            return HeldReason::PeriodLocked;
        }
        if text.contains("ikke lik 0") || text.contains("balanse") || text.contains("balance") {
            return HeldReason::Unbalanced;
        }
        if field.contains("customer") && (text.contains("mangler") || text.contains("missing")) {
            return HeldReason::CustomerMissing;
        }
        if field.contains("vattype") || text.contains("mva-kode") || text.contains("vat code") {
            let path = validation
                .iter()
                .find(|(f, _)| lower(f) == *field)
                .map(|(f, _)| f.as_str())
                .unwrap_or("");
            return HeldReason::VatLocked {
                field: field_of_row(path, draft),
            };
        }
        if field.contains("account")
            && (text.contains("finnes ikke")
                || text.contains("does not exist")
                || text.contains("not found")
                || text.contains("ugyldig"))
        {
            let path = validation
                .iter()
                .find(|(f, _)| lower(f) == *field)
                .map(|(f, _)| f.as_str())
                .unwrap_or("");
            return HeldReason::AccountMissing {
                field: field_of_row(path, draft),
            };
        }
    }
    HeldReason::Refused
}

#[cfg(test)]
mod tests;
