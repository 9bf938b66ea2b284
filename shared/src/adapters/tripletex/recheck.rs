//! The reads of dunning's re-check, just before a letter is sent: what Tripletex shows now for
//! the claims due today, batched so that a run makes at most one request per page of claims.
//!
//! - Invoices: `GET /invoice?id=1,2,3…&invoiceDateFrom=…&invoiceDateTo=…` (Tripletex requires
//!   the date window even with `id`; `invoiceDateTo` is exclusive) with only the fields compared:
//!   `id,version,amountOutstanding,isCredited,kid`. At most [`IDS_PER_REQUEST`] ids a request.
//! - Open items without an invoice: `GET /ledger/posting/openPost?date=<tomorrow>&customerId=…`
//!   (one request per customer that has such items): an item still listed is still open.

use chrono::NaiveDate;
use serde::Deserialize;

use super::{Acting, EmployeeKey, TripletexClient, TripletexError};
use crate::domain::ledger::raw::{amount_value, AmountField, AmountValue};
use crate::domain::Money;

pub const INVOICE_CHECK_FIELDS: &str = "id,version,amountOutstanding,isCredited,kid";
pub const OPEN_POST_CHECK_FIELDS: &str = "id,version";

/// The most ids in one request: a page of claims (the query string stays near 2 KB, well under
/// the 8 KB that proxies accept).
pub const IDS_PER_REQUEST: usize = 200;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct InvoiceWire {
    id: i64,
    #[serde(default)]
    version: Option<i64>,
    #[serde(default)]
    amount_outstanding: AmountField,
    #[serde(default)]
    is_credited: Option<bool>,
    #[serde(default)]
    kid: Option<String>,
}

#[derive(Debug, Deserialize)]
struct PostingWire {
    id: i64,
    #[serde(default)]
    version: Option<i64>,
}

/// An invoice as Tripletex shows it now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvoiceNow {
    pub id: i64,
    pub version: Option<i64>,
    /// `None` when Tripletex sent none or something that is not an amount.
    pub amount_outstanding: Option<Money>,
    pub is_credited: bool,
    /// Empty KIDs are `None`.
    pub kid: Option<String>,
}

/// An open posting as Tripletex shows it now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenPostNow {
    pub id: i64,
    pub version: Option<i64>,
}

impl TripletexClient {
    /// The invoices `ids` (at most [`IDS_PER_REQUEST`]: one request) dated in
    /// `[date_from, date_to)`. An id Tripletex does not return is not there (deleted, or outside
    /// the window).
    pub async fn invoices_by_id(
        &self,
        key: &EmployeeKey,
        acting: Acting,
        ids: &[i64],
        date_from: NaiveDate,
        date_to: NaiveDate,
    ) -> Result<Vec<InvoiceNow>, TripletexError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let list = ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
        let query = [
            ("id", list),
            ("invoiceDateFrom", date_from.format("%Y-%m-%d").to_string()),
            ("invoiceDateTo", date_to.format("%Y-%m-%d").to_string()),
        ];
        let rows: Vec<InvoiceWire> = self
            .list(key, acting, "/invoice", &query, INVOICE_CHECK_FIELDS)
            .await?;
        Ok(rows
            .into_iter()
            .map(|r| InvoiceNow {
                id: r.id,
                version: r.version,
                amount_outstanding: match amount_value(&r.amount_outstanding) {
                    AmountValue::Amount(d) => Money::from_decimal(d).ok(),
                    AmountValue::Absent | AmountValue::Malformed(_) => None,
                },
                is_credited: r.is_credited.unwrap_or(false),
                kid: r
                    .kid
                    .map(|k| k.trim().to_string())
                    .filter(|k| !k.is_empty()),
            })
            .collect())
    }

    /// The customer's open postings on the customer ledger before `date` (exclusive).
    pub async fn open_posts_of_customer(
        &self,
        key: &EmployeeKey,
        acting: Acting,
        customer_id: i64,
        date: NaiveDate,
    ) -> Result<Vec<OpenPostNow>, TripletexError> {
        let query = [
            ("date", date.format("%Y-%m-%d").to_string()),
            ("customerId", customer_id.to_string()),
        ];
        let rows: Vec<PostingWire> = self
            .list(
                key,
                acting,
                "/ledger/posting/openPost",
                &query,
                OPEN_POST_CHECK_FIELDS,
            )
            .await?;
        Ok(rows
            .into_iter()
            .map(|r| OpenPostNow {
                id: r.id,
                version: r.version,
            })
            .collect())
    }
}
