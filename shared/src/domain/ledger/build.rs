//! From what was read in Tripletex to the mirrored ledger: customers, items, skip records, counts.
//!
//! Pure and total: every raw record ends up as part of an item, as a skip record with its reason,
//! or (zero-amount postings, postings of an item that is itself skipped) folded into its item.

use chrono::{Datelike, Days, Months, NaiveDate};
use std::collections::{BTreeMap, HashMap};

use super::model::*;
use super::raw::*;
use super::{is_overdue, LedgerPolicy};
use crate::domain::classify::{self, CounterPosting, CreditEvidence, VoucherTypeRef};
use crate::domain::owed::{self, CreditEffect, CrossCheck};
use crate::domain::{DebtorKind, Money, OrgNumber};

/// Everything one sync read from Tripletex for one client company.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LedgerRead {
    /// All customers the items refer to (active and inactive).
    pub customers: Vec<RawCustomer>,
    /// All invoices dated from `fetchFrom` (open and closed; credit notes included).
    pub invoices: Vec<RawInvoice>,
    /// Postings on the customer-ledger (AR) accounts: the open items (`openPost`, any date) and
    /// every posting dated from `fetchFrom` (`GET /ledger/posting`), open or closed. Duplicates
    /// (the same id twice) are fine: the highest version wins.
    pub postings: Vec<RawPosting>,
    /// The vouchers of the credit postings, with all their postings (for the classifier).
    pub vouchers: Vec<RawVoucher>,
    /// Records that [`parse_items`] could not read at all.
    pub quarantined: Vec<SkipRecord>,
}

impl LedgerRead {
    /// The vouchers the classifier needs that are not read yet: those of the credit postings
    /// (negative amounts). Sorted, without duplicates.
    pub fn credit_vouchers_to_read(&self) -> Vec<i64> {
        let have: std::collections::HashSet<i64> =
            self.vouchers.iter().filter_map(|v| v.id).collect();
        let mut ids: Vec<i64> = self
            .postings
            .iter()
            .filter(|p| {
                let amount = match amount_value(&p.amount_gross) {
                    AmountValue::Amount(a) => Some(a),
                    _ => match amount_value(&p.amount) {
                        AmountValue::Amount(a) => Some(a),
                        _ => None,
                    },
                };
                amount.is_some_and(|a| a.is_sign_negative() && !a.is_zero())
            })
            .filter_map(|p| p.voucher.as_ref()?.id)
            .filter(|id| !have.contains(id))
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }
}

/// The ledger as read now, before comparing with the mirror.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LedgerBuild {
    /// By id.
    pub customers: Vec<MirroredCustomer>,
    /// By id; closed items included (the diff decides whether they are written).
    pub items: Vec<LedgerItem>,
    /// By key.
    pub skipped: Vec<SkipRecord>,
    pub counts: SyncCounts,
}

impl LedgerBuild {
    pub fn item(&self, id: &str) -> Option<&LedgerItem> {
        self.items.iter().find(|i| i.id == id)
    }

    pub fn skip(&self, key: &str) -> Option<&SkipRecord> {
        self.skipped.iter().find(|s| s.record.key == key)
    }
}

/// The due date from a customer's payment terms, or the integration's default when the customer
/// has none (or `0 DAYS`, which Tripletex shows when terms were never set: an estimate on the
/// item's own date would make it overdue at once, the later date is the safer one for dunning).
/// `None` only when the date would be out of range.
pub fn estimate_due_date(
    base: NaiveDate,
    terms: Option<PaymentTerms>,
    default_days: u16,
) -> Option<(NaiveDate, DueDateSource)> {
    let by_terms = terms.and_then(|t| match t.kind {
        PaymentTermsKind::Days if t.due_in > 0 => base.checked_add_days(Days::new(t.due_in.into())),
        PaymentTermsKind::Days => None,
        PaymentTermsKind::Months if t.due_in > 0 => base.checked_add_months(Months::new(t.due_in)),
        PaymentTermsKind::Months => None,
        PaymentTermsKind::RecurringDayOfMonth if (1..=31).contains(&t.due_in) => {
            let next = base.with_day(1)?.checked_add_months(Months::new(1))?;
            let last = next.checked_add_months(Months::new(1))?.pred_opt()?.day();
            next.with_day(t.due_in.min(last))
        }
        PaymentTermsKind::RecurringDayOfMonth => None,
    });
    match by_terms {
        Some(d) => Some((d, DueDateSource::CustomerTerms)),
        None => base
            .checked_add_days(Days::new(default_days.into()))
            .map(|d| (d, DueDateSource::DefaultTerms)),
    }
}

/// Builds the ledger. `today` decides the overdue flags only.
pub fn build_ledger(read: &LedgerRead, policy: &LedgerPolicy, today: NaiveDate) -> LedgerBuild {
    build_ledger_keeping(read, policy, today, |_| true)
}

/// [`build_ledger`], keeping a closed item only when `keep_closed(item_id)` says so (the sync
/// keeps those the mirror has: a closed item the mirror never had is history, the diff would skip
/// it). A closed item left out is still counted in [`SyncCounts::closed_items`]; it is dropped as
/// soon as it is built, so the build never holds all of them at once.
pub fn build_ledger_keeping(
    read: &LedgerRead,
    policy: &LedgerPolicy,
    today: NaiveDate,
    keep_closed: impl Fn(&str) -> bool,
) -> LedgerBuild {
    let mut b = Builder {
        policy,
        today,
        skipped: read.quarantined.clone(),
        customers: BTreeMap::new(),
        vouchers: HashMap::new(),
        reversed_by: HashMap::new(),
    };
    b.customers(&read.customers);
    b.vouchers(&read.vouchers);
    let invoices = b.invoices(&read.invoices);
    let postings = b.postings(&read.postings);
    let drafts = group(&invoices, &postings);
    let mut counts = SyncCounts::default();
    let mut items = Vec::new();
    // Each draft is dropped once its item is built.
    for d in drafts {
        let Some(item) = b.item(&d) else {
            continue;
        };
        match item.status {
            ItemStatus::Open => counts.open_items += 1,
            ItemStatus::Closed => counts.closed_items += 1,
            ItemStatus::WrittenOffCandidate => counts.written_off_candidates += 1,
        }
        if item.overdue {
            counts.overdue_items += 1;
        }
        if item.status != ItemStatus::Closed || keep_closed(&item.id) {
            items.push(item);
        }
    }
    items.sort_by(|a, b| a.id.cmp(&b.id));
    items.shrink_to_fit();

    let mut skipped = std::mem::take(&mut b.skipped);
    skipped.sort_by(|a, b| a.record.key.cmp(&b.record.key));
    skipped.dedup_by(|a, b| a.record.key == b.record.key);

    counts.customers = u32::try_from(b.customers.len()).unwrap_or(u32::MAX);
    for s in &skipped {
        counts.count_skip(s.reason);
    }
    LedgerBuild {
        customers: b.customers.into_values().collect(),
        items,
        skipped,
        counts,
    }
}

struct Builder<'a> {
    policy: &'a LedgerPolicy,
    today: NaiveDate,
    skipped: Vec<SkipRecord>,
    customers: BTreeMap<i64, MirroredCustomer>,
    vouchers: HashMap<i64, &'a RawVoucher>,
    /// Reversed voucher id → the voucher that reverses it.
    reversed_by: HashMap<i64, i64>,
}

/// The voucher type as far as it was read (borrowed from the read).
#[derive(Debug, Clone, Copy, PartialEq)]
enum VType<'a> {
    Unknown,
    Null,
    Named(&'a RawVoucherType),
}

impl VType<'_> {
    fn to_ref(self) -> Option<VoucherTypeRef> {
        match self {
            VType::Named(t) => Some(VoucherTypeRef {
                id: t.id,
                name: t.name.as_deref().map(str::to_string),
            }),
            VType::Null | VType::Unknown => None,
        }
    }
}

fn vtype(v: &Option<Option<RawVoucherType>>) -> VType<'_> {
    match v {
        None => VType::Unknown,
        Some(None) => VType::Null,
        Some(Some(t)) => VType::Named(t),
    }
}

/// A customer-ledger posting that passed the checks: what was checked, and the raw posting for
/// the rest (nothing copied).
#[derive(Debug, Clone)]
struct Post<'a> {
    raw: &'a RawPosting,
    id: i64,
    date: NaiveDate,
    amount: Money,
    customer_id: i64,
    invoice_number: Option<&'a str>,
    term_of_payment: Option<NaiveDate>,
}

impl<'a> Post<'a> {
    fn version(&self) -> Option<i64> {
        self.raw.version
    }

    fn description(&self) -> Option<&'a str> {
        trimmed(self.raw.description.as_deref())
    }

    fn voucher_id(&self) -> Option<i64> {
        self.raw.voucher.as_ref().and_then(|v| v.id)
    }

    /// On a settlement voucher Inndrive booked (the interest and fees the debtor paid).
    fn booked_by_settlement(&self) -> bool {
        self.raw
            .voucher
            .as_ref()
            .and_then(|v| v.external_voucher_number.as_deref())
            .is_some_and(crate::domain::voucher::is_settlement_voucher)
    }

    fn voucher_type(&self) -> VType<'a> {
        self.raw
            .voucher
            .as_ref()
            .map_or(VType::Unknown, |v| vtype(&v.voucher_type))
    }

    fn posting_type(&self) -> Option<&'a str> {
        trimmed(self.raw.posting_type.as_deref())
    }

    fn close_group(&self) -> Option<i64> {
        self.raw.close_group.as_ref().and_then(|c| c.id)
    }
}

/// An invoice that passed the checks (its texts borrowed from the read).
#[derive(Debug, Clone)]
struct Inv<'a> {
    id: i64,
    version: Option<i64>,
    number: String,
    date: NaiveDate,
    due: Option<NaiveDate>,
    kid: Option<&'a str>,
    amount: Money,
    outstanding: Option<Money>,
    is_credit_note: bool,
    credited_invoice: Option<i64>,
    customer_id: i64,
    voucher_id: Option<i64>,
    document_id: Option<i64>,
    /// Trimmed, not yet upper-cased.
    currency: Option<&'a str>,
}

fn non_blank(s: &Option<String>) -> Option<String> {
    trimmed(s.as_deref()).map(str::to_string)
}

/// The text trimmed, `None` when blank.
fn trimmed(s: Option<&str>) -> Option<&str> {
    s.map(str::trim).filter(|t| !t.is_empty())
}

fn money(field: &str, v: AmountValue) -> Result<Option<Money>, (SkipReason, String)> {
    match v {
        AmountValue::Absent => Ok(None),
        AmountValue::Amount(d) => Money::from_decimal(d).map(Some).map_err(|e| {
            (
                SkipReason::MalformedAmount,
                format!("{field} {d} is not an amount in NOK: {e}"),
            )
        }),
        AmountValue::Malformed(raw) => Err((
            SkipReason::MalformedAmount,
            format!("{field} is not a number: {raw}"),
        )),
    }
}

fn date(field: &str, v: DateValue) -> Result<Option<NaiveDate>, (SkipReason, String)> {
    match v {
        DateValue::Absent => Ok(None),
        DateValue::Date(d) => Ok(Some(d)),
        DateValue::Malformed(raw) => Err((
            SkipReason::MalformedDate,
            format!("{field} is not a date (yyyy-MM-dd): {raw}"),
        )),
    }
}

fn parse_terms(due_in: Option<i64>, kind: Option<&str>) -> Option<PaymentTerms> {
    let due_in = u32::try_from(due_in?).ok().filter(|n| *n <= 10_000)?;
    let kind = match kind.map(str::trim).unwrap_or("DAYS") {
        k if k.eq_ignore_ascii_case("DAYS") => PaymentTermsKind::Days,
        k if k.eq_ignore_ascii_case("MONTHS") => PaymentTermsKind::Months,
        k if k.eq_ignore_ascii_case("RECURRING_DAY_OF_MONTH") => {
            PaymentTermsKind::RecurringDayOfMonth
        }
        _ => return None,
    };
    Some(PaymentTerms { due_in, kind })
}

fn address(a: &RawAddress) -> Option<PostalAddress> {
    let addr = PostalAddress {
        lines: [&a.address_line1, &a.address_line2]
            .into_iter()
            .filter_map(non_blank)
            .collect(),
        postal_code: non_blank(&a.postal_code),
        city: non_blank(&a.city),
        country_code: a
            .country
            .as_ref()
            .and_then(|c| non_blank(&c.iso_alpha2_code))
            .map(|c| c.to_ascii_uppercase()),
    };
    (!addr.is_empty()).then_some(addr)
}

/// Keeps the record with the highest version per id (first wins on a tie).
fn newer(old: Option<i64>, new: Option<i64>) -> bool {
    new > old
}

impl<'a> Builder<'a> {
    fn skip(&mut self, record: RecordRef, reason: SkipReason, detail: impl Into<String>) {
        self.skipped.push(SkipRecord::new(record, reason, detail));
    }

    fn customers(&mut self, raw: &[RawCustomer]) {
        for c in raw {
            let Some(id) = c.id else {
                self.skip(
                    RecordRef::unidentified(RecordKind::Customer, super::ContentHash::of(c)),
                    SkipReason::MissingId,
                    "a customer without id",
                );
                continue;
            };
            let org_raw = non_blank(&c.organization_number);
            let (organization_number, invalid_organization_number) = match &org_raw {
                None => (None, None),
                Some(s) => match OrgNumber::parse(s) {
                    Ok(o) => (Some(o), None),
                    Err(_) => (None, Some(s.clone())),
                },
            };
            let m = MirroredCustomer {
                id,
                version: c.version,
                name: non_blank(&c.name).unwrap_or_default(),
                customer_number: c.customer_number,
                organization_number,
                invalid_organization_number,
                debtor_kind: match c.is_private_individual {
                    Some(false) => DebtorKind::Business,
                    _ => DebtorKind::Consumer,
                },
                inactive: c.is_inactive.unwrap_or(false),
                email: non_blank(&c.email),
                invoice_email: non_blank(&c.invoice_email),
                overdue_notice_email: non_blank(&c.overdue_notice_email),
                postal_address: c.postal_address.as_ref().and_then(address),
                payment_terms: parse_terms(c.invoices_due_in, c.invoices_due_in_type.as_deref()),
            };
            match self.customers.get(&id) {
                Some(old) if !newer(old.version, m.version) => {}
                _ => {
                    self.customers.insert(id, m);
                }
            }
        }
    }

    fn vouchers(&mut self, raw: &'a [RawVoucher]) {
        for v in raw {
            let Some(id) = v.id else {
                // A voucher is context for credits, not a ledger record: without an id it cannot
                // be linked to anything. Recorded so that the adapter's bug is visible.
                self.skip(
                    RecordRef::unidentified(RecordKind::Voucher, super::ContentHash::of(v)),
                    SkipReason::MissingId,
                    "a voucher without id",
                );
                continue;
            };
            match self.vouchers.get(&id) {
                Some(old) if !newer(old.version, v.version) => {}
                _ => {
                    self.vouchers.insert(id, v);
                }
            }
        }
        let mut links: Vec<(i64, i64)> = self
            .vouchers
            .iter()
            .filter_map(|(id, v)| v.reverse_voucher.as_ref()?.id.map(|r| (r, *id)))
            .collect();
        links.sort_unstable();
        for (reversed, by) in links {
            self.reversed_by.entry(reversed).or_insert(by);
        }
    }

    fn invoices(&mut self, raw: &'a [RawInvoice]) -> Vec<Inv<'a>> {
        let mut out: Vec<Inv<'a>> = Vec::with_capacity(raw.len());
        for r in raw {
            let Some(id) = r.id else {
                self.skip(
                    RecordRef::unidentified(RecordKind::Invoice, super::ContentHash::of(r)),
                    SkipReason::MissingId,
                    "an invoice without id",
                );
                continue;
            };
            let customer_id = r.customer.as_ref().and_then(|c| c.id);
            let number = r.invoice_number.filter(|n| *n > 0);
            match self.invoice(id, r, customer_id, number) {
                Ok(inv) => out.push(inv),
                Err((reason, detail)) => {
                    let dt = date("invoiceDate", date_value(&r.invoice_date));
                    let record = RecordRef::new(RecordKind::Invoice, id)
                        .with_customer(customer_id)
                        .with_invoice_number(number.map(|n| n.to_string()))
                        .with_date(dt.ok().flatten());
                    self.skip(record, reason, detail);
                }
            }
        }
        keep_newest(&mut out, |i| (i.id, i.version));
        out
    }

    fn invoice(
        &self,
        id: i64,
        r: &'a RawInvoice,
        customer_id: Option<i64>,
        number: Option<i64>,
    ) -> Result<Inv<'a>, (SkipReason, String)> {
        let customer_id = customer_id.ok_or((
            SkipReason::MissingCustomer,
            "the invoice has no customer".to_string(),
        ))?;
        let number = number
            .ok_or((
                SkipReason::MissingInvoiceNumber,
                "the invoice has no invoice number".to_string(),
            ))?
            .to_string();
        let dt = date("invoiceDate", date_value(&r.invoice_date))?.ok_or((
            SkipReason::MalformedDate,
            "the invoice has no invoiceDate".to_string(),
        ))?;
        let due = date("invoiceDueDate", date_value(&r.invoice_due_date))?;
        let amount = money("amount", amount_value(&r.amount))?.ok_or((
            SkipReason::MalformedAmount,
            "the invoice has no amount".to_string(),
        ))?;
        let outstanding = money("amountOutstanding", amount_value(&r.amount_outstanding))?;
        Ok(Inv {
            id,
            version: r.version,
            number,
            date: dt,
            due,
            kid: trimmed(r.kid.as_deref()),
            amount,
            outstanding,
            is_credit_note: r.is_credit_note.unwrap_or(false),
            credited_invoice: r.credited_invoice.filter(|c| *c != 0),
            customer_id,
            voucher_id: r.voucher.as_ref().and_then(|v| v.id),
            document_id: r.document_id.filter(|d| *d != 0),
            currency: trimmed(r.currency.as_ref().and_then(|c| c.code.as_deref())),
        })
    }

    fn postings(&mut self, raw: &'a [RawPosting]) -> Vec<Post<'a>> {
        let mut out: Vec<Post<'a>> = Vec::with_capacity(raw.len());
        for r in raw {
            let Some(id) = r.id else {
                self.skip(
                    RecordRef::unidentified(RecordKind::Posting, super::ContentHash::of(r)),
                    SkipReason::MissingId,
                    "a posting without id",
                );
                continue;
            };
            let customer_id = r.customer.as_ref().and_then(|c| c.id);
            let number = trimmed(r.invoice_number.as_deref());
            match posting(id, r, customer_id, number) {
                Ok(p) => out.push(p),
                Err((reason, detail)) => {
                    let record = RecordRef::new(RecordKind::Posting, id)
                        .with_customer(customer_id)
                        .with_invoice_number(number.map(str::to_string))
                        .with_date(date("date", date_value(&r.date)).ok().flatten());
                    self.skip(record, reason, detail);
                }
            }
        }
        keep_newest(&mut out, |p| (p.id, p.version()));
        out.sort_by_key(|p| (p.date, p.id));
        out
    }
}

/// Keeps one record per id: the highest version, the first read on a tie (as [`newer`] decides).
/// Sorted by id.
fn keep_newest<T>(v: &mut Vec<T>, key: impl Fn(&T) -> (i64, Option<i64>)) {
    v.sort_by_key(|t| {
        let (id, version) = key(t);
        (id, std::cmp::Reverse(version))
    });
    v.dedup_by(|later, first| key(later).0 == key(first).0);
    v.shrink_to_fit();
}

fn posting<'a>(
    id: i64,
    r: &'a RawPosting,
    customer_id: Option<i64>,
    invoice_number: Option<&'a str>,
) -> Result<Post<'a>, (SkipReason, String)> {
    let customer_id = customer_id.ok_or((
        SkipReason::MissingCustomer,
        "a posting on the customer ledger without customer".to_string(),
    ))?;
    let dt = date("date", date_value(&r.date))?.ok_or((
        SkipReason::MalformedDate,
        "the posting has no date".to_string(),
    ))?;
    let term_of_payment = date("termOfPayment", date_value(&r.term_of_payment))?;
    let amount = match money("amountGross", amount_value(&r.amount_gross))? {
        Some(m) => m,
        None => money("amount", amount_value(&r.amount))?.ok_or((
            SkipReason::MalformedAmount,
            "the posting has neither amountGross nor amount".to_string(),
        ))?,
    };
    Ok(Post {
        id,
        raw: r,
        date: dt,
        amount,
        customer_id,
        invoice_number,
        term_of_payment,
    })
}

/// What Tripletex shows outstanding for an item.
#[derive(Debug, Clone, Copy)]
enum Shown {
    /// Tripletex's own figure: the invoice's `amountOutstanding`, or zero for debits closed in a
    /// close group. A second source, cross-checked against the credits.
    Reported(Money),
    /// A balance summed from the postings read: the same source as the credits.
    Summed(Money),
}

impl Shown {
    fn amount(self) -> Money {
        match self {
            Shown::Reported(m) | Shown::Summed(m) => m,
        }
    }
}

/// An item before the settings are applied.
#[derive(Debug)]
struct Draft<'p> {
    source: ItemSource,
    invoice: Option<&'p Inv<'p>>,
    debits: Vec<&'p Post<'p>>,
    /// With the credit note it comes from, if any.
    credits: Vec<(&'p Post<'p>, Option<&'p Inv<'p>>)>,
}

/// The item's own voucher: the invoice's, or the first debit posting's (the claim's mirror carries
/// it as the voucher whose reversal cancels the claim).
fn own_voucher(d: &Draft<'_>) -> Option<i64> {
    d.invoice
        .and_then(|i| i.voucher_id)
        .or_else(|| d.anchor().and_then(|a| a.voucher_id()))
}

impl<'p> Draft<'p> {
    fn anchor(&self) -> Option<&'p Post<'p>> {
        self.debits
            .first()
            .copied()
            .or(self.credits.first().map(|c| c.0))
    }
}

/// Groups postings into items (Tripletex's own recipe, FAQ "payment information per invoice"):
/// a posting belongs to the invoice with the same customer and invoice number; a credit note's
/// posting belongs to the invoice it credits; a credit without a number belongs to the debit it is
/// closed with (same close group); debits with a number but no invoice object form one voucher item
/// per (customer, number); everything else stands alone.
fn group<'p>(invoices: &'p [Inv<'p>], postings: &'p [Post<'p>]) -> Vec<Draft<'p>> {
    let mut drafts: Vec<Draft<'p>> = Vec::new();
    let mut by_number: HashMap<(i64, &str), usize> = HashMap::new();
    let mut by_invoice_id: HashMap<i64, usize> = HashMap::new();
    for inv in invoices.iter().filter(|i| !i.is_credit_note) {
        by_number.insert((inv.customer_id, inv.number.as_str()), drafts.len());
        by_invoice_id.insert(inv.id, drafts.len());
        drafts.push(Draft {
            source: ItemSource::Invoice,
            invoice: Some(inv),
            debits: Vec::new(),
            credits: Vec::new(),
        });
    }
    let credit_notes: HashMap<(i64, &str), &Inv<'p>> = invoices
        .iter()
        .filter(|i| i.is_credit_note)
        .map(|i| ((i.customer_id, i.number.as_str()), i))
        .collect();

    let mut by_close_group: HashMap<i64, usize> = HashMap::new();
    for p in postings
        .iter()
        .filter(|p| !p.amount.is_negative() && !p.amount.is_zero())
    {
        let idx = match p.invoice_number {
            Some(n) => match by_number.get(&(p.customer_id, n)) {
                Some(&i) => i,
                None => {
                    by_number.insert((p.customer_id, n), drafts.len());
                    drafts.push(Draft {
                        source: ItemSource::Voucher,
                        invoice: None,
                        debits: Vec::new(),
                        credits: Vec::new(),
                    });
                    drafts.len() - 1
                }
            },
            None => {
                drafts.push(Draft {
                    source: ItemSource::Voucher,
                    invoice: None,
                    debits: Vec::new(),
                    credits: Vec::new(),
                });
                drafts.len() - 1
            }
        };
        drafts[idx].debits.push(p);
        if let Some(g) = p.close_group() {
            by_close_group.entry(g).or_insert(idx);
        }
    }

    for p in postings.iter().filter(|p| p.amount.is_negative()) {
        let key = p.invoice_number.map(|n| (p.customer_id, n));
        let credit_note = key.and_then(|k| credit_notes.get(&k).copied());
        let target = key
            .and_then(|k| by_number.get(&k).copied())
            .or_else(|| {
                credit_note
                    .and_then(|cn| cn.credited_invoice)
                    .and_then(|id| by_invoice_id.get(&id).copied())
            })
            .or_else(|| {
                p.close_group()
                    .and_then(|g| by_close_group.get(&g).copied())
            });
        match target {
            Some(i) => drafts[i].credits.push((p, credit_note)),
            None => drafts.push(Draft {
                source: ItemSource::Credit,
                invoice: None,
                debits: Vec::new(),
                credits: vec![(p, credit_note)],
            }),
        }
    }
    drafts
}

impl<'a> Builder<'a> {
    /// Applies the settings to one draft: an item, or a skip record.
    fn item(&mut self, d: &Draft<'_>) -> Option<LedgerItem> {
        let anchor = d.anchor();
        let (record, item_id, customer_id, date) = match (d.invoice, anchor) {
            (Some(inv), _) => (
                RecordRef::new(RecordKind::Invoice, inv.id),
                format!("inv_{}", inv.id),
                inv.customer_id,
                inv.date,
            ),
            (None, Some(a)) => (
                RecordRef::new(RecordKind::Posting, a.id),
                match d.source {
                    ItemSource::Credit => format!("credit_{}", a.id),
                    _ => format!("item_{}", a.id),
                },
                a.customer_id,
                a.date,
            ),
            (None, None) => return None,
        };
        let invoice_number = d
            .invoice
            .map(|i| i.number.clone())
            .or_else(|| anchor.and_then(|a| a.invoice_number.map(str::to_string)));
        let record = record
            .with_key(item_id.clone())
            .with_customer(Some(customer_id))
            .with_invoice_number(invoice_number.clone())
            .with_date(Some(date));
        let policy = self.policy;

        if date < policy.fetch_from {
            self.skip(
                record,
                SkipReason::BeforeFetchFrom,
                format!(
                    "dated {date}, before the integration's fetchFrom ({})",
                    policy.fetch_from
                ),
            );
            return None;
        }
        let Some(payment_terms) = self.customers.get(&customer_id).map(|c| c.payment_terms) else {
            self.skip(
                record,
                SkipReason::UnknownCustomer,
                format!("customer {customer_id} was not among the customers read"),
            );
            return None;
        };
        // A setting that leaves the item out: recorded only if the item would be in the ledger
        // (a settled item is history either way, and is not reported as skipped).
        let mut left_out: Option<(SkipReason, String)> = None;
        if d.invoice.is_none() {
            if let Some(a) = anchor {
                match self.voucher_type_of(a) {
                    VType::Null if !policy.include_null_voucher_type => {
                        left_out = Some((
                            SkipReason::NullVoucherType,
                            format!(
                                "voucher {} has no voucher type (a manual voucher), and \
                                 includeNullVoucherType is off",
                                a.voucher_id().map_or("?".to_string(), |v| v.to_string())
                            ),
                        ));
                    }
                    VType::Unknown => {
                        self.skip(
                            record,
                            SkipReason::UnknownVoucherType,
                            "the voucher type was neither on the posting nor read with its \
                             voucher",
                        );
                        return None;
                    }
                    _ => {}
                }
            }
        }

        let mut flags = Vec::new();
        let (due_date, due_date_source) = if d.source == ItemSource::Credit {
            (None, None)
        } else {
            let known = d
                .invoice
                .and_then(|i| i.due.map(|due| (due, DueDateSource::Invoice)))
                .or_else(|| {
                    d.debits
                        .iter()
                        .find_map(|p| p.term_of_payment)
                        .map(|due| (due, DueDateSource::Posting))
                });
            match known {
                Some((due, src)) => (Some(due), Some(src)),
                None if policy.include_saft_imported => {
                    match estimate_due_date(date, payment_terms, policy.default_payment_terms_days)
                    {
                        Some((due, src)) => {
                            flags.push(ItemFlag::DueDateEstimated);
                            (Some(due), Some(src))
                        }
                        None => {
                            self.skip(
                                record,
                                SkipReason::MalformedDate,
                                "no due date, and none can be derived from the item's date",
                            );
                            return None;
                        }
                    }
                }
                None => {
                    if left_out.is_none() {
                        left_out = Some((
                            SkipReason::MissingDueDate,
                            "no due date in Tripletex (invoiceDueDate / termOfPayment), and \
                             includeSaftImported is off"
                                .to_string(),
                        ));
                    }
                    (None, None)
                }
            }
        };

        let mut credits: Vec<CreditLine> = d
            .credits
            .iter()
            .map(|(p, cn)| self.credit_line(p, *cn))
            .collect();
        credits.sort_by_key(|c| (c.date, c.posting_id));
        let mut debit_posting_ids: Vec<i64> = d.debits.iter().map(|p| p.id).collect();
        debit_posting_ids.sort_unstable();

        let sum = |ps: &mut dyn Iterator<Item = Money>| ps.fold(Money::ZERO, |a, b| a + b);
        let debit_sum = sum(&mut d.debits.iter().map(|p| p.amount));
        let credit_sum = sum(&mut credits.iter().map(|c| c.amount));
        let all_debits_closed =
            !d.debits.is_empty() && d.debits.iter().all(|p| p.close_group().is_some());

        // What Tripletex shows outstanding: its own figure (the invoice's `amountOutstanding`, or
        // debits closed in a close group) is a second source, cross-checked against the credits;
        // a balance summed from the same postings is not.
        let (principal, shown) = match (d.source, d.invoice) {
            (ItemSource::Credit, _) => {
                let own = credits.first().map_or(Money::ZERO, |c| c.amount);
                let open = credits.first().is_some_and(|c| c.close_group_id.is_none());
                (own, Shown::Summed(if open { own } else { Money::ZERO }))
            }
            (_, Some(inv)) => (
                inv.amount,
                match inv.outstanding {
                    Some(o) => Shown::Reported(o),
                    None if all_debits_closed => Shown::Reported(Money::ZERO),
                    None => Shown::Summed(inv.amount + credit_sum),
                },
            ),
            (_, None) if all_debits_closed => (debit_sum, Shown::Reported(Money::ZERO)),
            (_, None) => (debit_sum, Shown::Summed(debit_sum + credit_sum)),
        };
        let ledger_outstanding = shown.amount();
        // What is owed, from the principal and the credits (never from Tripletex's figure). An
        // unapplied credit owes nothing: what is open of it is a credit balance.
        let derived = if d.source == ItemSource::Credit {
            owed::derive(
                Money::ZERO,
                [(CreditEffect::Reduces, Money::ZERO - ledger_outstanding)],
            )
        } else {
            // A reversal of the item's own voucher cancels what was booked, as on the claim
            // (whose mirror carries this voucher): nothing is owed of it, and the reversing
            // credit itself counts for nothing beyond that.
            let own_voucher = own_voucher(d);
            let booked = if credits.iter().any(|c| c.cancels(own_voucher)) {
                Money::ZERO
            } else {
                principal
            };
            owed::derive(
                booked,
                credits
                    .iter()
                    .map(|c| (c.effect_on(own_voucher), c.reduction())),
            )
        };
        let derived = match derived {
            Ok(o) => o,
            Err(e) => {
                self.skip(record, SkipReason::MalformedAmount, e.to_string());
                return None;
            }
        };
        // The interest and fees Inndrive booked onto an invoice when the debtor paid them (the
        // settlement voucher's receivables line, with the invoice's number): not principal, so
        // what is owed is unchanged, but Tripletex's figure counts them, and so does the balance
        // it should show; nothing is left to refund of what paid them.
        let booked_charges = match d.invoice {
            Some(_) => sum(&mut d
                .debits
                .iter()
                .filter(|p| p.booked_by_settlement())
                .map(|p| p.amount)),
            None => Money::ZERO,
        };
        let derived = if booked_charges.is_zero() {
            derived
        } else {
            let Some(expected) = derived.expected_balance.checked_add(booked_charges) else {
                self.skip(
                    record,
                    SkipReason::MalformedAmount,
                    "the amounts are too large to add up",
                );
                return None;
            };
            owed::Owed {
                expected_balance: expected,
                credit_balance: derived
                    .credit_balance
                    .checked_sub(booked_charges)
                    .unwrap_or(Money::ZERO)
                    .max(Money::ZERO),
                ..derived
            }
        };
        let cross_check = match shown {
            Shown::Reported(t) if d.source != ItemSource::Credit => {
                CrossCheck::between(t, &derived)
            }
            _ => None,
        };
        let owed = derived.owed;
        // The status follows the derived view: a balance the credits leave is open; none, but
        // still owed (a write-off, an undecided credit) is a written-off candidate.
        let status = if d.source == ItemSource::Credit {
            if ledger_outstanding.is_zero() {
                ItemStatus::Closed
            } else {
                ItemStatus::Open
            }
        } else if !derived.expected_balance.is_zero() {
            ItemStatus::Open
        } else if !owed.is_zero() {
            ItemStatus::WrittenOffCandidate
        } else {
            ItemStatus::Closed
        };
        if let Some((reason, detail)) = left_out {
            if status != ItemStatus::Closed {
                self.skip(record, reason, detail);
            }
            return None;
        }
        let overdue = status != ItemStatus::Closed
            && owed > Money::ZERO
            && due_date.is_some_and(|due| is_overdue(due, policy.days_past_due, self.today));

        if cross_check.is_some()
            || credits
                .iter()
                .any(|c| c.needs_review && c.reversed_by.is_none())
        {
            flags.push(ItemFlag::NeedsReview);
        }
        if cross_check.is_some() {
            flags.push(ItemFlag::SourcesDisagree);
        }
        if credits.iter().any(|c| !c.voucher_read) {
            flags.push(ItemFlag::EvidenceIncomplete);
        }
        if !derived.credit_balance.is_zero() {
            flags.push(ItemFlag::CreditBalance);
        }
        flags.sort_unstable();
        flags.dedup();

        let inv = d.invoice;
        Some(LedgerItem {
            id: item_id,
            source: d.source,
            customer_id,
            invoice_id: inv.map(|i| i.id),
            invoice_number,
            kid: inv.and_then(|i| i.kid.map(str::to_string)),
            date,
            due_date,
            due_date_source,
            due_date_estimated: due_date_source.is_some_and(DueDateSource::is_estimated),
            principal,
            ledger_outstanding,
            written_off: derived.written_off,
            unclassified_credits: derived.undecided,
            owed,
            credit_balance: derived.credit_balance,
            cross_check,
            status,
            overdue,
            debit_posting_ids,
            credits,
            voucher_id: own_voucher(d),
            pdf_available: inv.is_some(),
            document_id: inv.and_then(|i| i.document_id),
            currency: inv.and_then(|i| i.currency.map(str::to_ascii_uppercase)),
            source_version: inv.map_or(anchor.and_then(|a| a.version()), |i| i.version),
            flags,
        })
    }

    /// The posting's voucher type, else its voucher's as read.
    fn voucher_type_of<'p>(&self, p: &Post<'p>) -> VType<'p>
    where
        'a: 'p,
    {
        match p.voucher_type() {
            VType::Unknown => p
                .voucher_id()
                .and_then(|id| self.vouchers.get(&id))
                .map_or(VType::Unknown, |v| vtype(&v.voucher_type)),
            known => known,
        }
    }

    fn credit_line(&self, p: &Post<'_>, credit_note: Option<&Inv<'_>>) -> CreditLine {
        let voucher = p
            .voucher_id()
            .and_then(|id| self.vouchers.get(&id).copied());
        let voucher_type = self.voucher_type_of(p).to_ref();
        let counter_postings = voucher
            .map(|v| {
                v.postings
                    .iter()
                    .filter(|cp| cp.id != Some(p.id))
                    .filter_map(|cp| {
                        let account = cp.account.as_ref()?;
                        let number = u32::try_from(account.number?).ok()?;
                        let amount = match amount_value(&cp.amount_gross) {
                            AmountValue::Amount(a) => a,
                            _ => match amount_value(&cp.amount) {
                                AmountValue::Amount(a) => a,
                                _ => return None,
                            },
                        };
                        Some(CounterPosting {
                            account_number: number,
                            account_name: trimmed(account.name.as_deref()).map(str::to_string),
                            amount,
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        let reversed_by = p
            .voucher_id()
            .and_then(|id| self.reversed_by.get(&id).copied());
        let evidence = CreditEvidence {
            voucher_description: voucher
                .and_then(|v| trimmed(v.description.as_deref()))
                .map(str::to_string),
            posting_description: p.description().map(str::to_string),
            voucher_type,
            posting_type: p.posting_type().map(str::to_string),
            counter_postings,
            invoice_is_credit_note: credit_note.is_some(),
            credited_invoice_id: credit_note.and_then(|c| c.credited_invoice),
            reverses_voucher_id: voucher.and_then(|v| v.reverse_voucher.as_ref()?.id),
            is_reversed_by: reversed_by,
            loss_accounts: self.policy.loss_accounts.clone(),
        };
        let c = classify::classify(&evidence);
        CreditLine {
            posting_id: p.id,
            posting_version: p.version(),
            date: p.date,
            amount: p.amount,
            voucher_id: p.voucher_id(),
            close_group_id: p.close_group(),
            reversed_by,
            voucher_read: voucher.is_some(),
            needs_review: c.needs_review(),
            preliminary_kind: c.kind,
            evidence,
        }
    }
}
