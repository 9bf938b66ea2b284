//! The Tripletex shapes the sync reads, as plain typed data (camelCase, as Tripletex sends them).
//!
//! Every field is optional: what is missing or malformed is decided by the builder, per item,
//! with a reason (see [`super::SkipReason`]). Amounts and dates are [`Lenient`]: a value of the
//! wrong shape does not fail the whole item's deserialisation but is kept for the reason text
//! (`malformed_amount`, `malformed_date`). A structurally broken item (not an object, an id that is
//! not a number) fails [`parse_items`] for that item only.
//!
//! Amounts: Tripletex sends JSON numbers (`12500.0`). `rust_decimal` reads a number through its
//! shortest round-trip decimal text, so `1250.5` becomes exactly `1250.5`; strings are accepted too.
//! Whether an amount is a whole number of øre is checked by the builder (`Money`).

use chrono::NaiveDate;
use rust_decimal::Decimal;
use std::cell::RefCell;
use std::collections::HashSet;
use std::marker::PhantomData;
use std::sync::Arc;

use serde::de::{self, DeserializeOwned, IntoDeserializer, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::hash::ContentHash;
use super::{RecordKind, RecordRef, SkipReason, SkipRecord};

/// A value that is either of the expected type or kept as it came (for the reason text).
///
/// A valid value costs no more than `T` and a pointer: the malformed one is boxed. Reading one
/// builds no `serde_json::Value` unless it is an array or an object (never a valid date or amount).
#[derive(Debug, Clone, PartialEq)]
pub enum Lenient<T> {
    Valid(T),
    Invalid(Box<RawJson>),
}

/// A JSON value as compact text (`serde_json::Value`'s `Display`), e.g. `"tolv kroner"` with its
/// quotes, or `{"a":1}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawJson(Box<str>);

impl RawJson {
    pub fn new(v: &serde_json::Value) -> Self {
        RawJson(v.to_string().into_boxed_str())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn to_value(&self) -> serde_json::Value {
        serde_json::from_str(&self.0).unwrap_or(serde_json::Value::Null)
    }

    /// A string of white space only (`""`).
    fn is_blank_string(&self) -> bool {
        self.0.starts_with('"')
            && serde_json::from_str::<String>(&self.0).is_ok_and(|s| s.trim().is_empty())
    }
}

impl<T> Lenient<T> {
    pub fn valid(&self) -> Option<&T> {
        match self {
            Lenient::Valid(t) => Some(t),
            Lenient::Invalid(_) => None,
        }
    }

    /// A malformed value, kept as it came.
    pub fn invalid(v: &serde_json::Value) -> Self {
        Lenient::Invalid(Box::new(RawJson::new(v)))
    }
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Lenient<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(LenientVisitor(PhantomData))
    }
}

struct LenientVisitor<T>(PhantomData<T>);

type ValueError = serde::de::value::Error;

/// `T` from one scalar, else the scalar kept as JSON (built only then).
fn scalar<'de, T, D>(d: D, json: impl FnOnce() -> serde_json::Value) -> Lenient<T>
where
    T: DeserializeOwned,
    D: Deserializer<'de, Error = ValueError>,
{
    match T::deserialize(d) {
        Ok(t) => Lenient::Valid(t),
        Err(_) => Lenient::invalid(&json()),
    }
}

/// `T` from an array or object, through a `serde_json::Value` (rare: never a valid date/amount).
fn structured<T: DeserializeOwned>(v: serde_json::Value) -> Lenient<T> {
    match T::deserialize(&v) {
        Ok(t) => Lenient::Valid(t),
        Err(_) => Lenient::invalid(&v),
    }
}

impl<'de, T: DeserializeOwned> Visitor<'de> for LenientVisitor<T> {
    type Value = Lenient<T>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(scalar(v.into_deserializer(), || serde_json::Value::Bool(v)))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(scalar(v.into_deserializer(), || v.into()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(scalar(v.into_deserializer(), || v.into()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(scalar(v.into_deserializer(), || v.into()))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(scalar(
            de::value::StrDeserializer::<ValueError>::new(v),
            || v.into(),
        ))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(scalar(().into_deserializer(), || serde_json::Value::Null))
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        self.visit_unit()
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        Lenient::deserialize(d)
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        let v = serde_json::Value::deserialize(de::value::SeqAccessDeserializer::new(seq))?;
        Ok(structured(v))
    }

    fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        let v = serde_json::Value::deserialize(de::value::MapAccessDeserializer::new(map))?;
        Ok(structured(v))
    }
}

impl<T: Serialize> Serialize for Lenient<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Lenient::Valid(t) => t.serialize(s),
            Lenient::Invalid(raw) => raw.to_value().serialize(s),
        }
    }
}

/// An optional date field: absent, `null` and `""` all mean "not set".
pub type DateField = Option<Lenient<NaiveDate>>;
/// An optional amount field (`null` = not set).
pub type AmountField = Option<Lenient<Decimal>>;

/// What a date field holds.
#[derive(Debug, Clone, PartialEq)]
pub enum DateValue {
    Absent,
    Date(NaiveDate),
    Malformed(String),
}

pub fn date_value(f: &DateField) -> DateValue {
    match f {
        None => DateValue::Absent,
        Some(Lenient::Valid(d)) => DateValue::Date(*d),
        Some(Lenient::Invalid(raw)) if raw.is_blank_string() => DateValue::Absent,
        Some(Lenient::Invalid(raw)) => DateValue::Malformed(raw.as_str().to_string()),
    }
}

/// What an amount field holds.
#[derive(Debug, Clone, PartialEq)]
pub enum AmountValue {
    Absent,
    Amount(Decimal),
    Malformed(String),
}

pub fn amount_value(f: &AmountField) -> AmountValue {
    match f {
        None => AmountValue::Absent,
        Some(Lenient::Valid(d)) => AmountValue::Amount(*d),
        Some(Lenient::Invalid(raw)) => AmountValue::Malformed(raw.as_str().to_string()),
    }
}

/// A short text that repeats across thousands of records (a posting type, a voucher type's or an
/// account's name, a currency code): equal texts read on one thread share one allocation.
///
/// The pool is per thread and bounded (texts up to [`Shared::MAX_LEN`] bytes, at most
/// [`Shared::MAX_POOLED`] of them); beyond that a text is allocated on its own. It only saves
/// memory: a `Shared` compares, hashes and serialises as its text.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Shared(Arc<str>);

thread_local! {
    static POOL: RefCell<HashSet<Arc<str>>> = RefCell::new(HashSet::new());
}

impl Shared {
    pub const MAX_LEN: usize = 64;
    pub const MAX_POOLED: usize = 4096;

    pub fn new(s: &str) -> Self {
        if s.len() > Self::MAX_LEN {
            return Shared(Arc::from(s));
        }
        POOL.with(|pool| {
            let mut pool = pool.borrow_mut();
            if let Some(a) = pool.get(s) {
                return Shared(Arc::clone(a));
            }
            let a: Arc<str> = Arc::from(s);
            if pool.len() < Self::MAX_POOLED {
                pool.insert(Arc::clone(&a));
            }
            Shared(a)
        })
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::ops::Deref for Shared {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl From<&str> for Shared {
    fn from(s: &str) -> Self {
        Shared::new(s)
    }
}

impl Serialize for Shared {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Shared {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Shared;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Shared, E> {
                Ok(Shared::new(v))
            }
        }
        d.deserialize_str(V)
    }
}

/// `{ "id": … }`: a reference to another Tripletex object.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RawRef {
    pub id: Option<i64>,
}

/// `Address` (postalAddress of a customer).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RawAddress {
    /// Tripletex's id of the address (an address written back is updated in place).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
    pub address_line1: Option<String>,
    pub address_line2: Option<String>,
    pub postal_code: Option<String>,
    pub city: Option<String>,
    pub country: Option<RawCountry>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RawCountry {
    pub id: Option<i64>,
    pub iso_alpha2_code: Option<String>,
}

/// `Customer` with the fields the sync reads:
/// `fields=id,version,name,customerNumber,organizationNumber,isInactive,isPrivateIndividual,email,
/// invoiceEmail,overdueNoticeEmail,invoicesDueIn,invoicesDueInType,postalAddress(*,country(isoAlpha2Code))`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RawCustomer {
    pub id: Option<i64>,
    pub version: Option<i64>,
    pub name: Option<String>,
    pub customer_number: Option<i64>,
    pub organization_number: Option<String>,
    pub is_inactive: Option<bool>,
    pub is_private_individual: Option<bool>,
    pub email: Option<String>,
    pub invoice_email: Option<String>,
    pub overdue_notice_email: Option<String>,
    /// Payment terms: a count (0..10000) …
    pub invoices_due_in: Option<i64>,
    /// … of `DAYS`, `MONTHS` or `RECURRING_DAY_OF_MONTH`.
    pub invoices_due_in_type: Option<String>,
    pub postal_address: Option<RawAddress>,
}

/// `Currency` (only the code is read).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RawCurrency {
    pub code: Option<Shared>,
}

/// `Invoice` with the fields the sync reads (all invoices dated from `fetchFrom`, open or not):
/// `fields=id,version,invoiceNumber,invoiceDate,invoiceDueDate,kid,amount,amountOutstanding,
/// isCreditNote,creditedInvoice,customer(id),voucher(id),documentId,currency(code)`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RawInvoice {
    pub id: Option<i64>,
    pub version: Option<i64>,
    pub invoice_number: Option<i64>,
    pub invoice_date: DateField,
    pub invoice_due_date: DateField,
    pub kid: Option<Box<str>>,
    /// Total incl. VAT in company currency (NOK).
    pub amount: AmountField,
    /// Outstanding in company currency, without reminder fees (Tripletex computes it).
    pub amount_outstanding: AmountField,
    pub is_credit_note: Option<bool>,
    /// The original invoice's id on a credit note; 0 otherwise.
    pub credited_invoice: Option<i64>,
    pub customer: Option<RawRef>,
    pub voucher: Option<RawRef>,
    pub document_id: Option<i64>,
    pub currency: Option<RawCurrency>,
}

/// `VoucherType` (`{id, name}`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RawVoucherType {
    pub id: Option<i64>,
    pub name: Option<Shared>,
}

/// A posting's `voucher`, expanded as `voucher(id,voucherType(id,name),externalVoucherNumber)`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RawVoucherRef {
    pub id: Option<i64>,
    /// `None`: not read; `Some(None)`: `voucherType: null` (a manual "avansert" voucher).
    #[serde(
        deserialize_with = "double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub voucher_type: Option<Option<RawVoucherType>>,
    /// Set by whoever created the voucher through the API (`""` when none): Inndrive's settlement
    /// vouchers carry theirs ([`crate::domain::voucher::is_settlement_voucher`]).
    pub external_voucher_number: Option<Box<str>>,
}

/// `Account` of a voucher's posting (`account(number,name)`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RawAccount {
    pub id: Option<i64>,
    pub number: Option<i64>,
    pub name: Option<Shared>,
}

/// `Posting` on a customer-ledger (AR) account, from `openPost` and from `GET /ledger/posting`
/// over the window:
/// `fields=id,version,date,description,customer(id),amount,amountGross,invoiceNumber,
/// termOfPayment,voucher(id,voucherType(id,name),externalVoucherNumber),type,closeGroup(id)` (no
/// `account`: the reads
/// are filtered by the AR account already).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RawPosting {
    pub id: Option<i64>,
    pub version: Option<i64>,
    pub date: DateField,
    pub description: Option<Box<str>>,
    pub customer: Option<RawRef>,
    /// Net amount (computed by Tripletex); used only when `amountGross` is absent.
    pub amount: AmountField,
    /// Debit positive, credit negative, company currency.
    pub amount_gross: AmountField,
    /// A string in Tripletex ("" when none); a number is accepted too.
    #[serde(deserialize_with = "string_or_number")]
    pub invoice_number: Option<Box<str>>,
    /// The due date of the open item (`null` on SAF-T imports and opening balances).
    pub term_of_payment: DateField,
    pub voucher: Option<RawVoucherRef>,
    /// `INCOMING_PAYMENT`, `OUTGOING_INVOICE_CUSTOMER_POSTING`, …; `null` for manual postings.
    #[serde(rename = "type")]
    pub posting_type: Option<Shared>,
    /// `null` while open; set when matched (paid, credited, written off).
    pub close_group: Option<RawRef>,
}

/// One posting of a voucher (the counter-postings of a credit, any account): only what the
/// classification evidence uses, `postings(id,account(number,name),amountGross)`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RawVoucherPosting {
    pub id: Option<i64>,
    pub account: Option<RawAccount>,
    /// Used only when `amountGross` is absent.
    pub amount: AmountField,
    pub amount_gross: AmountField,
}

/// `Voucher` of a credit posting, with all its postings (for the counter-postings):
/// `fields=id,version,date,description,voucherType(id,name),reverseVoucher(id),
/// postings(id,account(number,name),amountGross)`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RawVoucher {
    pub id: Option<i64>,
    pub version: Option<i64>,
    pub date: DateField,
    pub description: Option<Box<str>>,
    /// `None`: not read; `Some(None)`: `voucherType: null`.
    #[serde(
        deserialize_with = "double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub voucher_type: Option<Option<RawVoucherType>>,
    pub postings: Vec<RawVoucherPosting>,
    /// The voucher this voucher reverses.
    pub reverse_voucher: Option<RawRef>,
}

/// Present-and-null → `Some(None)`; absent → `None` (via `#[serde(default)]`).
fn double_option<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

fn string_or_number<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Box<str>>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Option<Box<str>>;

        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("invoiceNumber as a string or a number")
        }

        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_any(self)
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(Some(v.into()))
        }

        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok(Some(v.to_string().into_boxed_str()))
        }

        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(Some(v.to_string().into_boxed_str()))
        }

        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
            Ok(Some(serde_json::Number::from_f64(v).map_or_else(
                || v.to_string().into_boxed_str(),
                |n| n.to_string().into_boxed_str(),
            )))
        }

        fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
            Err(E::custom(format!("invoiceNumber is a string, got {v}")))
        }

        fn visit_seq<A: de::SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
            let v = serde_json::Value::deserialize(de::value::SeqAccessDeserializer::new(seq))?;
            Err(de::Error::custom(format!(
                "invoiceNumber is a string, got {v}"
            )))
        }

        fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
            let v = serde_json::Value::deserialize(de::value::MapAccessDeserializer::new(map))?;
            Err(de::Error::custom(format!(
                "invoiceNumber is a string, got {v}"
            )))
        }
    }
    d.deserialize_option(V)
}

/// Deserialises the elements of a Tripletex `values` array one by one: an element that cannot be
/// read at all is quarantined (`malformed_item`) with serde's message, and the others go on.
pub fn parse_items<T: DeserializeOwned>(
    kind: RecordKind,
    values: Vec<serde_json::Value>,
) -> (Vec<T>, Vec<SkipRecord>) {
    let mut ok = Vec::with_capacity(values.len());
    let mut bad = Vec::new();
    for v in values {
        match T::deserialize(&v) {
            Ok(t) => ok.push(t),
            Err(e) => {
                let id = v.get("id").and_then(serde_json::Value::as_i64);
                let record = match id {
                    Some(id) => RecordRef::new(kind, id),
                    None => RecordRef::unidentified(kind, ContentHash::of(&v)),
                };
                bad.push(SkipRecord::new(
                    record,
                    SkipReason::MalformedItem,
                    e.to_string(),
                ));
            }
        }
    }
    (ok, bad)
}
