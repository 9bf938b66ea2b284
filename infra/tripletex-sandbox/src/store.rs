//! Per-company indexed collections. Each object is a [`Row`]: its id, the keys the endpoints filter
//! on (date, customer, account, number, open/closed, ...), a content hash (for `versionDigest`) and
//! its source: a fixture object in wire format, or an index into the generated [`CompanyData`]
//! (rendered only when it lands on a page). Rows are sorted by id; filters scan the compact keys
//! (or the per-customer index) and only the requested page is rendered and serialised.

use crate::fields::{Lookup, Resolve};
use crate::fixture::CompanyFixture;
use crate::generator::{self, CompanyData};
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

#[derive(Debug, Clone)]
pub(crate) enum Src {
    Json(Value),
    Gen(usize),
}

/// What the list endpoints filter on, extracted once.
#[derive(Debug, Clone, Default)]
pub(crate) struct Keys {
    /// invoiceDate / posting date / voucher date.
    pub date: Option<NaiveDate>,
    pub customer: Option<i64>,
    pub account: Option<i64>,
    pub voucher: Option<i64>,
    /// customerNumber / invoiceNumber / voucher number / account number (postings: their account's).
    pub number: Option<i64>,
    /// Postings: no close group.
    pub open: bool,
    pub inactive: bool,
    pub is_bank: Option<bool>,
    /// Customers: time of the latest change (None: unknown, counts as the sandbox's start).
    pub changed: Option<DateTime<Utc>>,
    /// customers: organizationNumber; invoices: kid; postings: type; accounts: ledgerType.
    pub s1: String,
    /// customers: email.
    pub s2: String,
    /// Vouchers: voucherType id.
    pub vtype: Option<i64>,
}

#[derive(Debug, Clone)]
pub(crate) struct Row {
    pub id: i64,
    pub keys: Keys,
    pub hash: u64,
    pub src: Src,
}

#[derive(Debug, Default)]
pub(crate) struct Table {
    /// Sorted by id.
    pub rows: Vec<Row>,
    /// customer id → row indices (ascending).
    pub by_customer: HashMap<i64, Vec<usize>>,
}

impl Table {
    fn new(mut rows: Vec<Row>) -> Self {
        rows.sort_by_key(|r| r.id);
        let mut by_customer: HashMap<i64, Vec<usize>> = HashMap::new();
        for (i, r) in rows.iter().enumerate() {
            if let Some(c) = r.keys.customer {
                by_customer.entry(c).or_default().push(i);
            }
        }
        Table { rows, by_customer }
    }

    pub fn get(&self, id: i64) -> Option<&Row> {
        self.rows
            .binary_search_by_key(&id, |r| r.id)
            .ok()
            .map(|i| &self.rows[i])
    }

    /// Rows of one customer (ascending id), or all rows.
    pub fn candidates<'a>(
        &'a self,
        customer: Option<i64>,
    ) -> Box<dyn Iterator<Item = &'a Row> + 'a> {
        match customer {
            Some(c) => Box::new(
                self.by_customer
                    .get(&c)
                    .into_iter()
                    .flatten()
                    .map(move |&i| &self.rows[i]),
            ),
            None => Box::new(self.rows.iter()),
        }
    }
}

pub(crate) struct CompanyStore {
    pub tables: HashMap<&'static str, Table>,
    pub data: Option<Arc<CompanyData>>,
    /// When the store was built: the change time of fixture customers without `changes`.
    pub loaded: DateTime<Utc>,
}

fn hash_of<T: Hash>(t: T) -> u64 {
    let mut h = std::hash::DefaultHasher::new();
    t.hash(&mut h);
    h.finish()
}

fn json_hash(v: &Value) -> u64 {
    hash_of(serde_json::to_vec(v).unwrap_or_default())
}

fn i64_at(v: &Value, path: &[&str]) -> Option<i64> {
    let mut cur = v;
    for p in path {
        cur = cur.get(p)?;
    }
    cur.as_i64()
}

fn date_at(v: &Value, name: &str) -> Option<NaiveDate> {
    v.get(name)
        .and_then(Value::as_str)
        .and_then(|s| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok())
}

fn str_at(v: &Value, name: &str) -> String {
    v.get(name)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// Parses a change timestamp or a `changedSince` value: RFC 3339, `YYYY-MM-DDThh:mm:ss` (Oslo),
/// or a date (start of that day, Oslo).
pub(crate) fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    use chrono::TimeZone;
    use chrono_tz::Europe::Oslo;
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    for f in [
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S",
    ] {
        if let Ok(n) = chrono::NaiveDateTime::parse_from_str(s, f) {
            return Oslo
                .from_local_datetime(&n)
                .earliest()
                .map(|t| t.with_timezone(&Utc));
        }
    }
    let d = NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?;
    Oslo.from_local_datetime(&d.and_hms_opt(0, 0, 0)?)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
}

/// Accounts known to the store: id → (number, closeable).
type AccountInfo = HashMap<i64, (i64, bool)>;

/// Keys of a fixture object (or a mutated generated one) in wire format.
fn keys_from_json(name: &str, v: &Value, accounts: &AccountInfo) -> Keys {
    let mut k = Keys {
        customer: i64_at(v, &["customer", "id"]),
        account: i64_at(v, &["account", "id"]),
        voucher: i64_at(v, &["voucher", "id"]),
        ..Keys::default()
    };
    match name {
        "customers" => {
            k.number = i64_at(v, &["customerNumber"]);
            k.inactive = v
                .get("isInactive")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            k.s1 = str_at(v, "organizationNumber");
            k.s2 = str_at(v, "email");
            k.changed = v
                .get("changes")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|c| c.get("timestamp").and_then(Value::as_str))
                .filter_map(parse_time)
                .max();
        }
        "invoices" => {
            k.date = date_at(v, "invoiceDate");
            k.number = i64_at(v, &["invoiceNumber"]);
            k.s1 = str_at(v, "kid");
        }
        "postings" => {
            k.date = date_at(v, "date");
            let info = k.account.and_then(|a| accounts.get(&a).copied());
            k.number = info.map(|i| i.0);
            // Open posts exist only on closeable (sub-ledger) accounts such as 1500.
            k.open = info.is_some_and(|i| i.1) && v.get("closeGroup").is_none_or(Value::is_null);
            k.s1 = str_at(v, "type");
        }
        "vouchers" => {
            k.date = date_at(v, "date");
            k.number = i64_at(v, &["number"]);
            k.vtype = i64_at(v, &["voucherType", "id"]);
        }
        "accounts" => {
            k.number = i64_at(v, &["number"]);
            k.s1 = str_at(v, "ledgerType");
            k.is_bank = v.get("isBankAccount").and_then(Value::as_bool);
            k.inactive = v
                .get("isInactive")
                .and_then(Value::as_bool)
                .unwrap_or(false);
        }
        _ => {}
    }
    k
}

impl CompanyStore {
    pub fn build(
        company: &CompanyFixture,
        data: Option<Arc<CompanyData>>,
        loaded: DateTime<Utc>,
    ) -> Self {
        let empty = Vec::new();
        let coll = |n: &str| company.collections.get(n).unwrap_or(&empty);
        // Accounts first: postings need account numbers.
        let mut accounts: Vec<Row> = Vec::new();
        let no_numbers = HashMap::new();
        for v in coll("accounts") {
            accounts.push(Row {
                id: i64_at(v, &["id"]).unwrap_or(0),
                keys: keys_from_json("accounts", v, &no_numbers),
                hash: json_hash(v),
                src: Src::Json(v.clone()),
            });
        }
        if data.is_some() {
            for v in CompanyData::render_accounts() {
                let id = i64_at(&v, &["id"]).unwrap_or(0);
                if accounts.iter().all(|a| a.id != id) {
                    accounts.push(Row {
                        id,
                        keys: keys_from_json("accounts", &v, &no_numbers),
                        hash: json_hash(&v),
                        src: Src::Json(v),
                    });
                }
            }
        }
        let account_info: AccountInfo = accounts
            .iter()
            .filter_map(|r| {
                let closeable = match &r.src {
                    Src::Json(v) => v.get("isCloseable").and_then(Value::as_bool),
                    Src::Gen(_) => None,
                };
                Some((r.id, (r.keys.number?, closeable.unwrap_or(false))))
            })
            .collect();
        let mut tables = HashMap::new();
        for name in ["customers", "invoices", "postings", "vouchers"] {
            let mut rows: Vec<Row> = coll(name)
                .iter()
                .map(|v| Row {
                    id: i64_at(v, &["id"]).unwrap_or(0),
                    keys: keys_from_json(name, v, &account_info),
                    hash: json_hash(v),
                    src: Src::Json(v.clone()),
                })
                .collect();
            if let Some(d) = &data {
                gen_rows(name, d, &account_info, &mut rows);
            }
            tables.insert(name, Table::new(rows));
        }
        tables.insert("accounts", Table::new(accounts));
        // Not served as lists, but looked up when a `fields` selection expands a reference.
        let json_row = |v: Value| Row {
            id: i64_at(&v, &["id"]).unwrap_or(0),
            keys: Keys::default(),
            hash: json_hash(&v),
            src: Src::Json(v),
        };
        let employees = company.employees.iter().map(|e| {
            json_row(json!({
                "id": e.id, "version": 0, "firstName": e.first_name, "lastName": e.last_name,
                "displayName": format!("{} {}", e.first_name, e.last_name), "email": e.email,
            }))
        });
        tables.insert("employees", Table::new(employees.collect()));
        let voucher_types = generator::VOUCHER_TYPES.iter().map(|&(id, name)| {
            json_row(json!({"id": id, "version": 0, "name": name, "displayName": name}))
        });
        tables.insert("voucherTypes", Table::new(voucher_types.collect()));
        CompanyStore {
            tables,
            data,
            loaded,
        }
    }

    pub fn table(&self, name: &str) -> Option<&Table> {
        self.tables.get(name)
    }

    /// The object in wire format (without `url`, unless a fixture object has one).
    pub fn render(&self, name: &str, row: &Row) -> Value {
        match (&row.src, &self.data) {
            (Src::Json(v), _) => v.clone(),
            (Src::Gen(i), Some(d)) => match name {
                "customers" => d.render_customer(&d.customers[*i]),
                "invoices" => d.render_invoice(&d.invoices[*i]),
                "postings" => d.render_posting(&d.postings[*i]),
                "vouchers" => d.render_voucher(&d.vouchers[*i]),
                _ => Value::Null,
            },
            (Src::Gen(_), None) => Value::Null,
        }
    }

    /// The object a reference of spec schema `schema` points to, with its `url` (`base` =
    /// "host/v2"), for `fields` expansion.
    pub fn lookup(&self, schema: &str, id: i64, base: &str) -> Lookup {
        let (table, path) = match schema {
            "Account" => ("accounts", "/ledger/account"),
            "Customer" => ("customers", "/customer"),
            "Invoice" => ("invoices", "/invoice"),
            "Posting" => ("postings", "/ledger/posting"),
            "Voucher" => ("vouchers", "/ledger/voucher"),
            "Employee" => ("employees", "/employee"),
            "VoucherType" => ("voucherTypes", "/ledger/voucherType"),
            _ => return Lookup::NotKept,
        };
        match self.table(table).and_then(|t| t.get(id)) {
            Some(row) => {
                let mut v = self.render(table, row);
                let id = v.get("id").and_then(Value::as_i64);
                if let (Value::Object(o), Some(id)) = (&mut v, id) {
                    o.entry("url")
                        .or_insert_with(|| Value::String(format!("{base}{path}/{id}")));
                }
                Lookup::Found(v)
            }
            None => Lookup::Missing,
        }
    }

    /// Applies a shallow JSON merge patch to a customer, bumps its version and records an UPDATE
    /// change at `now` (so `changedSince` and `versionDigest` see it). False if unknown.
    pub fn update_customer(&mut self, id: i64, patch: &Value, now: DateTime<Utc>) -> bool {
        let Some(table) = self.tables.get("customers") else {
            return false;
        };
        let Some(row) = table.get(id) else {
            return false;
        };
        let mut v = self.render("customers", row);
        if let (Value::Object(o), Value::Object(p)) = (&mut v, patch) {
            for (k, val) in p {
                if k != "id" && k != "changes" {
                    o.insert(k.clone(), val.clone());
                }
            }
            let version = o.get("version").and_then(Value::as_i64).unwrap_or(0) + 1;
            o.insert("version".into(), json!(version));
            let change = json!({"employeeId": 0, "timestamp": generator::timestamp_str(now),
                                "changeType": "UPDATE"});
            match o.get_mut("changes").and_then(Value::as_array_mut) {
                Some(a) => a.push(change),
                None => {
                    o.insert("changes".into(), json!([change]));
                }
            }
        }
        let keys = keys_from_json("customers", &v, &HashMap::new());
        let hash = json_hash(&v);
        let rows: Vec<Row> = self
            .tables
            .remove("customers")
            .map(|t| t.rows)
            .unwrap_or_default()
            .into_iter()
            .map(|r| {
                if r.id == id {
                    Row {
                        id,
                        keys: keys.clone(),
                        hash,
                        src: Src::Json(v.clone()),
                    }
                } else {
                    r
                }
            })
            .collect();
        self.tables.insert("customers", Table::new(rows));
        true
    }

    /// Registers a payment of `amount` on an invoice on `date`, as a bank payment booked in
    /// Tripletex would look afterwards: the invoice's `amountOutstanding` falls (never below
    /// zero) and its `version` rises; a payment voucher with a bank line and a customer-ledger
    /// credit line (customer, invoice number) is added; a payment that settles the invoice closes
    /// the invoice's ledger line and the credit line in one close group. Returns the new
    /// voucher's id; `None` for an unknown invoice.
    pub fn register_payment(
        &mut self,
        invoice_id: i64,
        date: NaiveDate,
        amount: f64,
    ) -> Option<i64> {
        let inv_row = self.table("invoices")?.get(invoice_id)?.clone();
        let mut inv = self.render("invoices", &inv_row);
        let customer = i64_at(&inv, &["customer", "id"])?;
        let invoice_voucher = i64_at(&inv, &["voucher", "id"]);
        let number = inv
            .get("invoiceNumber")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        let outstanding = inv
            .get("amountOutstanding")
            .and_then(Value::as_f64)
            .unwrap_or(0.0);
        let left = ((outstanding - amount) * 100.0).round().max(0.0) / 100.0;
        let settled = left == 0.0;
        if let Value::Object(o) = &mut inv {
            for f in [
                "amountOutstanding",
                "amountCurrencyOutstanding",
                "amountOutstandingTotal",
                "amountCurrencyOutstandingTotal",
            ] {
                if f == "amountOutstanding" || o.contains_key(f) {
                    o.insert(f.into(), json!(left));
                }
            }
            let version = o.get("version").and_then(Value::as_i64).unwrap_or(0) + 1;
            o.insert("version".into(), json!(version));
        }
        let postings = self.table("postings")?;
        let ar_line = postings.rows.iter().find(|r| {
            r.keys.customer == Some(customer)
                && r.keys.voucher == invoice_voucher
                && invoice_voucher.is_some()
        });
        let ar_account = ar_line.and_then(|r| r.keys.account)?;
        let ar_line_id = ar_line.map(|r| r.id);
        let bank = self
            .table("accounts")
            .and_then(|t| t.rows.iter().find(|r| r.keys.is_bank == Some(true)))
            .map(|r| r.id);
        let next_posting = postings.rows.last().map_or(1, |r| r.id + 1);
        let voucher_id = self
            .table("vouchers")
            .and_then(|t| t.rows.last())
            .map_or(1, |r| r.id + 1);
        let close_group = settled.then_some(voucher_id + 9_000_000);
        let d = date.format("%Y-%m-%d").to_string();
        let line = |id: i64, account: i64, amount: f64, cust: Option<i64>| {
            let mut p = json!({"id": id, "version": 0,
                "voucher": {"id": voucher_id, "voucherType": {"id": 8000002, "name": "Betaling"}},
                "date": d, "description": format!("Innbetaling faktura {number}"),
                "account": {"id": account}, "amount": amount, "amountGross": amount,
                "amountCurrency": amount, "amountGrossCurrency": amount,
                "currency": {"id": 1, "code": "NOK"}, "invoiceNumber": "", "row": 1,
                "vatType": {"id": 0}});
            if let Some(c) = cust {
                p["customer"] = json!({"id": c});
                p["invoiceNumber"] = json!(number.to_string());
                if let Some(g) = close_group {
                    p["closeGroup"] = json!({"id": g});
                }
            }
            p
        };
        let mut new_postings = vec![line(next_posting, ar_account, -amount, Some(customer))];
        if let Some(b) = bank {
            new_postings.push(line(next_posting + 1, b, amount, None));
        }
        let voucher = json!({"id": voucher_id, "version": 0, "date": d, "number": voucher_id,
            "year": date.format("%Y").to_string().parse::<i64>().unwrap_or(2026),
            "description": format!("Innbetaling faktura {number}"),
            "voucherType": {"id": 8000002, "name": "Betaling"},
            "postings": new_postings.iter().map(|p| json!({"id": p["id"]})).collect::<Vec<_>>()});
        let mut changed_postings = new_postings;
        if let (Some(g), Some(id)) = (close_group, ar_line_id) {
            if let Some(row) = self.table("postings").and_then(|t| t.get(id)).cloned() {
                let mut p = self.render("postings", &row);
                p["closeGroup"] = json!({"id": g});
                changed_postings.push(p);
            }
        }
        self.upsert("invoices", vec![inv]);
        self.upsert("postings", changed_postings);
        self.upsert("vouchers", vec![voucher]);
        Some(voucher_id)
    }

    /// Accounts known to the store: id → (number, closeable).
    fn account_info(&self) -> AccountInfo {
        self.table("accounts")
            .map(|t| {
                t.rows
                    .iter()
                    .filter_map(|r| {
                        let closeable = match &r.src {
                            Src::Json(v) => v.get("isCloseable").and_then(Value::as_bool),
                            Src::Gen(_) => None,
                        };
                        Some((r.id, (r.keys.number?, closeable.unwrap_or(false))))
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Inserts or replaces objects of a collection (`customers`, `invoices`, `postings`,
    /// `vouchers`) given in wire format, re-indexing the table: what the sandbox's own writes
    /// (vouchers, reversals, closed postings, an invoice's outstanding amount) go through.
    pub fn upsert(&mut self, name: &'static str, objects: Vec<Value>) {
        let accounts = self.account_info();
        let mut rows = self.tables.remove(name).map(|t| t.rows).unwrap_or_default();
        for v in objects {
            let id = i64_at(&v, &["id"]).unwrap_or(0);
            let row = Row {
                id,
                keys: keys_from_json(name, &v, &accounts),
                hash: json_hash(&v),
                src: Src::Json(v),
            };
            match rows.iter().position(|r| r.id == id) {
                Some(i) => rows[i] = row,
                None => rows.push(row),
            }
        }
        self.tables.insert(name, Table::new(rows));
    }

    /// An object in wire format, by collection and id.
    pub fn object(&self, name: &str, id: i64) -> Option<Value> {
        let row = self.table(name)?.get(id)?;
        Some(self.render(name, row))
    }

    /// Every object of a collection in wire format (small tables: vouchers of a scenario).
    pub fn objects(&self, name: &str) -> Vec<Value> {
        self.table(name)
            .map(|t| t.rows.iter().map(|r| self.render(name, r)).collect())
            .unwrap_or_default()
    }

    /// `PostingRules` from the chart: the customer ledger account (1500, else the first account
    /// with ledgerType CUSTOMER), vendor (2400), employee (2910), rounding (7790).
    pub fn posting_rules(&self, company_id: i64) -> Value {
        let accounts = self.table("accounts");
        let find = |pred: &dyn Fn(&Row) -> bool| -> Value {
            accounts
                .and_then(|t| t.rows.iter().find(|r| pred(r)))
                .map(|r| self.render("accounts", r))
                .unwrap_or(Value::Null)
        };
        let receivable = {
            let v = find(&|r| r.keys.number == Some(1500));
            if v.is_null() {
                find(&|r| r.keys.s1 == "CUSTOMER")
            } else {
                v
            }
        };
        json!({
            "id": company_id,
            "version": 0,
            "accountReceivableCustomersId": receivable,
            "accountDebtVendorsId": find(&|r| r.keys.number == Some(2400)),
            "accountDebtEmployeesAndOwnersId": find(&|r| r.keys.number == Some(2910)),
            "accountRoundDiffId": find(&|r| r.keys.number == Some(7790)),
            "vatPerDepartment": false,
            "multipleIndustries": false,
            "defaultBusinessActivityTypeId": 0,
        })
    }
}

/// Looks references up in one company's store (see [`CompanyStore::lookup`]).
pub(crate) struct Resolver<'a> {
    pub store: &'a CompanyStore,
    /// "host/v2", for `url`s.
    pub base: &'a str,
}

impl Resolve for Resolver<'_> {
    fn lookup(&self, schema: &str, id: i64) -> Lookup {
        self.store.lookup(schema, id, self.base)
    }
}

/// Rows for the generated objects of one collection, with their keys taken from the typed data.
fn gen_rows(name: &str, d: &CompanyData, accounts: &AccountInfo, rows: &mut Vec<Row>) {
    let h = |id: i64| hash_of(("generated", name, id));
    match name {
        "customers" => rows.extend(d.customers.iter().enumerate().map(|(i, c)| Row {
            id: c.id,
            keys: Keys {
                number: Some(c.customer_number),
                inactive: c.is_inactive,
                s1: c.organization_number.clone(),
                s2: c.email.clone(),
                changed: Some(c.last_change()),
                ..Keys::default()
            },
            hash: h(c.id),
            src: Src::Gen(i),
        })),
        "invoices" => rows.extend(d.invoices.iter().enumerate().map(|(i, x)| Row {
            id: x.id,
            keys: Keys {
                date: Some(x.invoice_date),
                customer: Some(x.customer),
                voucher: Some(x.voucher),
                number: Some(x.invoice_number),
                s1: x.kid.clone(),
                ..Keys::default()
            },
            hash: h(x.id),
            src: Src::Gen(i),
        })),
        "postings" => rows.extend(d.postings.iter().enumerate().map(|(i, p)| Row {
            id: p.id,
            keys: Keys {
                date: Some(p.date),
                customer: p.customer,
                account: Some(p.account_id()),
                voucher: Some(p.voucher),
                number: Some(p.account_number),
                open: p.close_group.is_none() && accounts.get(&p.account_id()).is_some_and(|a| a.1),
                s1: p.posting_type.unwrap_or("").to_string(),
                ..Keys::default()
            },
            hash: h(p.id),
            src: Src::Gen(i),
        })),
        "vouchers" => rows.extend(d.vouchers.iter().enumerate().map(|(i, v)| Row {
            id: v.id,
            keys: Keys {
                date: Some(v.date),
                number: Some(v.number),
                vtype: v.voucher_type,
                ..Keys::default()
            },
            hash: h(v.id),
            src: Src::Gen(i),
        })),
        _ => {}
    }
}

/// Enhetsregisteret answers for every organisation number the sandbox knows: generated customers
/// with their drawn status; fixture companies and fixture customers as active entities.
pub(crate) fn brreg_entries(
    companies: &[CompanyFixture],
    stores: &HashMap<i64, CompanyStore>,
) -> HashMap<String, (u16, Value)> {
    let mut out = HashMap::new();
    let today = Utc::now().date_naive();
    let active = |orgnr: &str, name: &str, street: &str, pc: &str, city: &str| {
        let c = generator::GenCustomer {
            id: 0,
            customer_number: 1,
            name: name.to_string(),
            organization_number: orgnr.to_string(),
            is_private_individual: false,
            is_inactive: false,
            email: String::new(),
            phone_number_mobile: String::new(),
            address_line1: street.to_string(),
            postal_code: pc.to_string(),
            city: city.to_string(),
            invoices_due_in: 14,
            created: DateTime::from_timestamp(1_262_304_000, 0).unwrap_or_default(),
            updated: None,
            brreg: Some(generator::BrregStatus::Active),
        };
        generator::render_brreg(&c, today)
    };
    for company in companies {
        if !company.organization_number.is_empty() {
            if let Some(e) = active(
                &company.organization_number,
                &company.name,
                "Storgata 1",
                "0150",
                "Oslo",
            ) {
                out.insert(company.organization_number.clone(), e);
            }
        }
        for c in company.collections.get("customers").into_iter().flatten() {
            let orgnr = str_at(c, "organizationNumber");
            if orgnr.is_empty() {
                continue;
            }
            let addr = c.get("postalAddress").cloned().unwrap_or(Value::Null);
            if let Some(e) = active(
                &orgnr,
                &str_at(c, "name"),
                &str_at(&addr, "addressLine1"),
                &str_at(&addr, "postalCode"),
                &str_at(&addr, "city"),
            ) {
                out.insert(orgnr, e);
            }
        }
    }
    for store in stores.values() {
        if let Some(d) = &store.data {
            for c in &d.customers {
                match generator::render_brreg(c, d.today) {
                    Some(e) => {
                        out.insert(c.organization_number.clone(), e);
                    }
                    None => {
                        out.remove(&c.organization_number);
                    }
                }
            }
        }
    }
    out
}
