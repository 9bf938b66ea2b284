//! Booking in Tripletex (reference §7–§8): vouchers (`POST /ledger/voucher`, the look-ups by
//! `externalVoucherNumber` and by date window, `:reverse`), closing postings
//! (`PUT /ledger/posting/:closePostings`), and what a voucher needs to be built: accounts by
//! number, the receivables account (`postingRules`), voucher types, accounting periods and the
//! open postings of a customer.
//!
//! `POST /ledger/voucher` is the one request of the client that is **not repeated** after a 5xx
//! or a transport failure (it may have been carried out): the caller looks the voucher up by its
//! `externalVoucherNumber` before it posts again. A 429 is repeated (Tripletex refused it
//! unprocessed). Tripletex's refusals stay typed ([`TripletexError::Api`] with its validation
//! messages, [`TripletexError::Forbidden`] for a missing "Advanced Voucher" permission).

use chrono::NaiveDate;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};
use serde::Deserialize;
use serde_json::{json, Value};
use std::str::FromStr;

use super::model::{empty_as_none, Ref};
use super::{Acting, EmployeeKey, Repeat, TripletexClient, TripletexError};
use crate::domain::voucher::{LedgerAccount, VoucherDraft};
use crate::domain::Money;

/// A voucher as read back from Tripletex.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostedVoucher {
    pub id: i64,
    /// Tripletex's voucher number (within the year); `None` until sent to the ledger.
    pub number: Option<i64>,
    pub year: Option<i64>,
    pub date: Option<NaiveDate>,
    pub external_voucher_number: Option<String>,
    /// The voucher this one reverses (Tripletex's `reverseVoucher` on a reversing voucher).
    pub reverses: Option<i64>,
    pub postings: Vec<PostedPosting>,
}

impl PostedVoucher {
    /// «{number}-{year}» as Tripletex shows it (`numberAsString`), else the id.
    pub fn display_number(&self) -> String {
        match (self.number, self.year) {
            (Some(n), Some(y)) if n > 0 => format!("{n}-{y}"),
            _ => format!("id {}", self.id),
        }
    }
}

/// One posting of a read voucher.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostedPosting {
    pub id: i64,
    pub row: Option<i64>,
    pub account_id: Option<i64>,
    pub customer_id: Option<i64>,
    pub amount: Option<Money>,
}

/// An open posting on the customer ledger (for closing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenPosting {
    pub id: i64,
    pub amount: Money,
    pub invoice_number: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct VoucherWire {
    id: i64,
    number: Option<i64>,
    year: Option<i64>,
    date: Option<String>,
    #[serde(default, deserialize_with = "empty_as_none")]
    external_voucher_number: Option<String>,
    reverse_voucher: Option<Ref>,
    #[serde(default)]
    postings: Option<Vec<PostingWire>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PostingWire {
    id: i64,
    row: Option<i64>,
    account: Option<Ref>,
    customer: Option<Ref>,
    amount_gross: Option<Value>,
    amount: Option<Value>,
    #[serde(default, deserialize_with = "empty_as_none")]
    invoice_number: Option<String>,
}

fn money_of(v: &Option<Value>) -> Option<Money> {
    match v.as_ref()? {
        Value::Number(n) => Money::from_str(&n.to_string()).ok(),
        Value::String(s) => Money::from_str(s).ok(),
        _ => None,
    }
}

impl From<VoucherWire> for PostedVoucher {
    fn from(w: VoucherWire) -> Self {
        Self {
            id: w.id,
            number: w.number,
            year: w.year,
            date: w
                .date
                .as_deref()
                .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok()),
            external_voucher_number: w.external_voucher_number,
            reverses: w.reverse_voucher.map(|r| r.id),
            postings: w
                .postings
                .unwrap_or_default()
                .into_iter()
                .map(|p| PostedPosting {
                    id: p.id,
                    row: p.row,
                    account_id: p.account.map(|a| a.id),
                    customer_id: p.customer.map(|c| c.id),
                    amount: money_of(&p.amount_gross).or_else(|| money_of(&p.amount)),
                })
                .collect(),
        }
    }
}

const VOUCHER_FIELDS: &str = "id,number,year,date,externalVoucherNumber,reverseVoucher(id),\
postings(id,row,account(id),customer(id),amountGross)";

/// A money amount as a JSON number with its two decimals, as Tripletex wants it ("Amounts should
/// be rounded to 2 decimals"): written from the decimal text, never computed in floating point.
fn amount_json(m: Money) -> Value {
    serde_json::Number::from_str(&m.to_string())
        .map(Value::Number)
        .unwrap_or(Value::Null)
}

/// The request body of `POST /ledger/voucher` for a draft (`voucher_type`: looked up by name;
/// `None` sends `null`, a plain manual voucher).
pub fn voucher_body(draft: &VoucherDraft, voucher_type: Option<i64>) -> Value {
    let postings: Vec<Value> = draft
        .postings
        .iter()
        .map(|p| {
            let mut v = json!({
                "row": p.row,
                "date": draft.date.format("%Y-%m-%d").to_string(),
                "description": p.description,
                "account": {"id": p.account.id},
                "amountGross": amount_json(p.amount),
                "amountGrossCurrency": amount_json(p.amount),
            });
            if let Some(c) = p.customer_id {
                v["customer"] = json!({"id": c});
            }
            if let Some(n) = &p.invoice_number {
                v["invoiceNumber"] = json!(n);
            }
            if let Some(t) = p.vat_type_id {
                v["vatType"] = json!({"id": t});
            }
            v
        })
        .collect();
    json!({
        "date": draft.date.format("%Y-%m-%d").to_string(),
        "description": draft.description,
        "externalVoucherNumber": draft.external_voucher_number,
        "voucherType": voucher_type.map(|id| json!({"id": id})).unwrap_or(Value::Null),
        "postings": postings,
    })
}

#[derive(Deserialize)]
struct One<T> {
    value: T,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AccountWire {
    id: i64,
    number: Option<i64>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    vat_locked: Option<bool>,
    vat_type: Option<Ref>,
    #[serde(default)]
    is_inactive: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PeriodWire {
    start: Option<String>,
    #[serde(default)]
    is_closed: Option<bool>,
}

impl TripletexClient {
    /// `POST /ledger/voucher?sendToLedger=…`: creates the voucher (not repeated after a 5xx or a
    /// transport failure; see the module's doc).
    pub async fn post_voucher(
        &self,
        key: &EmployeeKey,
        acting: Acting,
        body: &Value,
        send_to_ledger: bool,
    ) -> Result<PostedVoucher, TripletexError> {
        let path = "/ledger/voucher";
        let url = self.url(path);
        let json = serde_json::to_vec(body)
            .map_err(|e| TripletexError::Decode(format!("POST {path}: body: {e}")))?;
        let query = [
            ("sendToLedger", send_to_ledger.to_string()),
            ("fields", VOUCHER_FIELDS.to_string()),
        ];
        let result = async {
            let raw = self
                .authed_with(key, acting, path, Repeat::OnlyUnprocessed, |auth| {
                    self.http
                        .post(&url)
                        .query(&query)
                        .header(AUTHORIZATION, auth)
                        .header(CONTENT_TYPE, "application/json; charset=utf-8")
                        .body(json.clone())
                })
                .await?;
            let one: One<VoucherWire> = serde_json::from_slice(&raw)
                .map_err(|e| TripletexError::Decode(format!("POST {path}: {e}")))?;
            Ok(one.value.into())
        }
        .await;
        result.map_err(|e| self.scrub(e, key))
    }

    /// `GET /ledger/voucher/>externalVoucherNumber`: the vouchers whose number is exactly
    /// `number` (Tripletex's own filter is not documented as exact: compared here).
    pub async fn vouchers_by_external_number(
        &self,
        key: &EmployeeKey,
        acting: Acting,
        number: &str,
    ) -> Result<Vec<PostedVoucher>, TripletexError> {
        let found: Vec<VoucherWire> = self
            .list(
                key,
                acting,
                "/ledger/voucher/>externalVoucherNumber",
                &[("externalVoucherNumber", number.to_string())],
                VOUCHER_FIELDS,
            )
            .await?;
        Ok(found
            .into_iter()
            .map(PostedVoucher::from)
            .filter(|v| v.external_voucher_number.as_deref() == Some(number))
            .collect())
    }

    /// `GET /ledger/voucher?dateFrom&dateTo&fields=id,externalVoucherNumber`: the ids of the
    /// vouchers in `[from, to)` whose external number is exactly `number`.
    pub async fn voucher_ids_in_window(
        &self,
        key: &EmployeeKey,
        acting: Acting,
        from: NaiveDate,
        to: NaiveDate,
        number: &str,
    ) -> Result<Vec<i64>, TripletexError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct IdOnly {
            id: i64,
            #[serde(default, deserialize_with = "empty_as_none")]
            external_voucher_number: Option<String>,
        }
        let all: Vec<IdOnly> = self
            .list(
                key,
                acting,
                "/ledger/voucher",
                &[
                    ("dateFrom", from.format("%Y-%m-%d").to_string()),
                    ("dateTo", to.format("%Y-%m-%d").to_string()),
                ],
                "id,externalVoucherNumber",
            )
            .await?;
        Ok(all
            .into_iter()
            .filter(|v| v.external_voucher_number.as_deref() == Some(number))
            .map(|v| v.id)
            .collect())
    }

    /// `GET /ledger/voucher?dateFrom&dateTo`: the vouchers of `[from, to)` with their postings
    /// and what they reverse.
    pub async fn vouchers_in_window(
        &self,
        key: &EmployeeKey,
        acting: Acting,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<PostedVoucher>, TripletexError> {
        let all: Vec<VoucherWire> = self
            .list(
                key,
                acting,
                "/ledger/voucher",
                &[
                    ("dateFrom", from.format("%Y-%m-%d").to_string()),
                    ("dateTo", to.format("%Y-%m-%d").to_string()),
                ],
                VOUCHER_FIELDS,
            )
            .await?;
        Ok(all.into_iter().map(PostedVoucher::from).collect())
    }

    /// `GET /ledger/voucher/{id}`.
    pub async fn voucher(
        &self,
        key: &EmployeeKey,
        acting: Acting,
        id: i64,
    ) -> Result<PostedVoucher, TripletexError> {
        let w: VoucherWire = self
            .get_value(
                key,
                acting,
                &format!("/ledger/voucher/{id}"),
                &[("fields", VOUCHER_FIELDS.to_string())],
            )
            .await?;
        Ok(w.into())
    }

    /// `PUT /ledger/voucher/{id}/:reverse?date=`: the reversing voucher. Not repeated blindly
    /// either: the caller reads the voucher's `reverseVoucher` first.
    pub async fn reverse_voucher(
        &self,
        key: &EmployeeKey,
        acting: Acting,
        id: i64,
        date: NaiveDate,
    ) -> Result<PostedVoucher, TripletexError> {
        let path = format!("/ledger/voucher/{id}/:reverse");
        let url = self.url(&path);
        let query = [
            ("date", date.format("%Y-%m-%d").to_string()),
            ("fields", VOUCHER_FIELDS.to_string()),
        ];
        let result = async {
            let raw = self
                .authed_with(key, acting, &path, Repeat::OnlyUnprocessed, |auth| {
                    self.http
                        .put(&url)
                        .query(&query)
                        .header(AUTHORIZATION, auth)
                })
                .await?;
            let one: One<VoucherWire> = serde_json::from_slice(&raw)
                .map_err(|e| TripletexError::Decode(format!("PUT {path}: {e}")))?;
            Ok(one.value.into())
        }
        .await;
        result.map_err(|e| self.scrub(e, key))
    }

    /// `PUT /ledger/posting/:closePostings` with the posting ids: the validation messages
    /// Tripletex returns (`postingId`, `message`), empty when all were closed. Closing is
    /// idempotent (closed postings stay closed), so it is retried like a read.
    pub async fn close_postings(
        &self,
        key: &EmployeeKey,
        acting: Acting,
        posting_ids: &[i64],
    ) -> Result<Vec<(i64, String)>, TripletexError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Msg {
            posting_id: Option<i64>,
            message: Option<String>,
        }
        #[derive(Deserialize)]
        struct Msgs {
            #[serde(default)]
            values: Vec<Msg>,
        }
        let path = "/ledger/posting/:closePostings";
        let url = self.url(path);
        let body = serde_json::to_vec(posting_ids)
            .map_err(|e| TripletexError::Decode(format!("PUT {path}: body: {e}")))?;
        let result = async {
            let raw = self
                .authed(key, acting, path, |auth| {
                    self.http
                        .put(&url)
                        .header(AUTHORIZATION, auth)
                        .header(CONTENT_TYPE, "application/json; charset=utf-8")
                        .body(body.clone())
                })
                .await?;
            let msgs: Msgs = serde_json::from_slice(&raw)
                .map_err(|e| TripletexError::Decode(format!("PUT {path}: {e}")))?;
            Ok(msgs
                .values
                .into_iter()
                .map(|m| (m.posting_id.unwrap_or(0), m.message.unwrap_or_default()))
                .collect())
        }
        .await;
        result.map_err(|e| self.scrub(e, key))
    }

    /// `GET /ledger/account?number=…`: the active accounts with these numbers.
    pub async fn accounts_by_number(
        &self,
        key: &EmployeeKey,
        acting: Acting,
        numbers: &[u32],
    ) -> Result<Vec<LedgerAccount>, TripletexError> {
        if numbers.is_empty() {
            return Ok(Vec::new());
        }
        let list: Vec<String> = numbers.iter().map(u32::to_string).collect();
        let found: Vec<AccountWire> = self
            .list(
                key,
                acting,
                "/ledger/account",
                &[("number", list.join(","))],
                "id,number,name,vatLocked,vatType(id),isInactive",
            )
            .await?;
        Ok(found
            .into_iter()
            .filter(|a| a.is_inactive != Some(true))
            .filter_map(|a| {
                Some(LedgerAccount {
                    id: a.id,
                    number: u32::try_from(a.number?).ok()?,
                    name: a.name.unwrap_or_default(),
                    vat_locked: a.vat_locked.unwrap_or(false),
                    vat_type_id: a.vat_type.map(|t| t.id),
                })
            })
            .filter(|a| numbers.contains(&a.number))
            .collect())
    }

    /// The customer ledger account (`GET /ledger/postingRules`, `accountReceivableCustomersId`).
    pub async fn receivables_account(
        &self,
        key: &EmployeeKey,
        acting: Acting,
    ) -> Result<Option<LedgerAccount>, TripletexError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Rules {
            account_receivable_customers_id: Option<AccountWire>,
        }
        let rules: Rules = self
            .get_value(
                key,
                acting,
                "/ledger/postingRules",
                &[(
                    "fields",
                    "accountReceivableCustomersId(id,number,name,vatLocked,vatType(id))"
                        .to_string(),
                )],
            )
            .await?;
        Ok(rules.account_receivable_customers_id.and_then(|a| {
            Some(LedgerAccount {
                id: a.id,
                number: u32::try_from(a.number?).ok()?,
                name: a.name.unwrap_or_default(),
                vat_locked: a.vat_locked.unwrap_or(false),
                vat_type_id: a.vat_type.map(|t| t.id),
            })
        }))
    }

    /// `GET /ledger/voucherType?name=`: the id of the type named exactly `name`, if the company
    /// has one (ids differ per company).
    pub async fn voucher_type_id(
        &self,
        key: &EmployeeKey,
        acting: Acting,
        name: &str,
    ) -> Result<Option<i64>, TripletexError> {
        #[derive(Deserialize)]
        struct Vt {
            id: i64,
            name: Option<String>,
        }
        let types: Vec<Vt> = self
            .list(
                key,
                acting,
                "/ledger/voucherType",
                &[("name", name.to_string())],
                "id,name",
            )
            .await?;
        Ok(types
            .into_iter()
            .find(|t| {
                t.name
                    .as_deref()
                    .is_some_and(|n| n.eq_ignore_ascii_case(name))
            })
            .map(|t| t.id))
    }

    /// The first day of the first accounting period starting on or after the start of
    /// `date`'s month that is not closed (`GET /ledger/accountingPeriod`), if any is known.
    pub async fn first_open_period_start(
        &self,
        key: &EmployeeKey,
        acting: Acting,
        date: NaiveDate,
    ) -> Result<Option<NaiveDate>, TripletexError> {
        use chrono::Datelike;
        let from = date.with_day(1).unwrap_or(date);
        let to = from
            .checked_add_months(chrono::Months::new(24))
            .unwrap_or(from);
        let periods: Vec<PeriodWire> = self
            .list(
                key,
                acting,
                "/ledger/accountingPeriod",
                &[
                    ("startFrom", from.format("%Y-%m-%d").to_string()),
                    ("startTo", to.format("%Y-%m-%d").to_string()),
                ],
                "start,isClosed",
            )
            .await?;
        let mut open: Vec<NaiveDate> = periods
            .into_iter()
            .filter(|p| p.is_closed == Some(false))
            .filter_map(|p| {
                p.start
                    .as_deref()
                    .and_then(|s| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok())
            })
            .collect();
        open.sort();
        Ok(open.into_iter().next())
    }

    /// The open postings of `customer` on `account` (`GET /ledger/posting/openPost`).
    pub async fn open_customer_postings(
        &self,
        key: &EmployeeKey,
        acting: Acting,
        account_id: i64,
        customer_id: i64,
        before: NaiveDate,
    ) -> Result<Vec<OpenPosting>, TripletexError> {
        let found: Vec<PostingWire> = self
            .list(
                key,
                acting,
                "/ledger/posting/openPost",
                &[
                    ("date", before.format("%Y-%m-%d").to_string()),
                    ("accountId", account_id.to_string()),
                    ("customerId", customer_id.to_string()),
                ],
                "id,amountGross,amount,invoiceNumber",
            )
            .await?;
        Ok(found
            .into_iter()
            .filter_map(|p| {
                Some(OpenPosting {
                    id: p.id,
                    amount: money_of(&p.amount_gross).or_else(|| money_of(&p.amount))?,
                    invoice_number: p.invoice_number,
                })
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::claim::{ClaimId, SettlementAmounts};
    use crate::domain::voucher::{build, SettlementRef, VoucherAccounts, VoucherPattern};

    #[test]
    fn the_body_has_rows_from_one_gross_amounts_and_the_customer_on_receivables() {
        let acc = |id, number| LedgerAccount {
            id,
            number,
            name: String::new(),
            vat_locked: false,
            vat_type_id: None,
        };
        let accounts = VoucherAccounts {
            receivables: acc(11, 1500),
            interest_income: acc(12, 8055),
            fee_income: acc(13, 3900),
            recovery: acc(14, 7820),
            no_vat_type_id: Some(6),
        };
        let claim = ClaimId::invoice(1001).unwrap();
        let amounts = SettlementAmounts {
            principal: "10000".parse().unwrap(),
            interest: "154.11".parse().unwrap(),
            fees: "35".parse().unwrap(),
            recovered: Money::ZERO,
            excess: Money::ZERO,
        };
        let s = SettlementRef {
            key: "settle:acc_x:inv_1001:1",
            claim_id: &claim,
            settlement_version: 1,
            customer_id: 77,
            invoice_number: Some("10023"),
            amounts: &amounts,
        };
        let draft = build(
            &s,
            &accounts,
            &VoucherPattern::PaymentOnReceivables,
            NaiveDate::from_ymd_opt(2026, 8, 1).unwrap(),
        )
        .unwrap()
        .unwrap();
        let body = voucher_body(&draft, Some(8000002));
        assert_eq!(body["voucherType"], json!({"id": 8000002}));
        let p = &body["postings"];
        assert_eq!(p[0]["row"], 1);
        assert_eq!(p[0]["amountGross"].to_string(), "189.11");
        assert_eq!(p[0]["amountGrossCurrency"].to_string(), "189.11");
        assert_eq!(p[0]["customer"], json!({"id": 77}));
        assert_eq!(p[0]["invoiceNumber"], "10023");
        assert_eq!(p[1]["amountGross"].to_string(), "-154.11");
        assert_eq!(p[1]["vatType"], json!({"id": 6}));
        assert!(p[1].get("customer").is_none());
        assert_eq!(body["externalVoucherNumber"], draft.external_voucher_number);
        assert!(voucher_body(&draft, None)["voucherType"].is_null());
    }
}
