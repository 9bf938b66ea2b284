//! Booking, as Tripletex behaves (reference §6.4, §7, §8): `POST /ledger/voucher`,
//! `GET /ledger/voucher/>externalVoucherNumber`, `GET /ledger/voucher/{id}`,
//! `PUT /ledger/voucher/{id}/:reverse`, `PUT /ledger/posting/:closePostings`,
//! `GET /ledger/voucherType` and `GET /ledger/accountingPeriod`.
//!
//! The rules a voucher is held to: `sendToLedger` (default true) needs the "Advanced Voucher"
//! entitlement (403 otherwise); `date` and postings are required; a posting's `row` must not be 0
//! (Tripletex's own rows); each account must exist; a posting on the customer ledger needs
//! `customer` (`postings.customer.id: Kunde mangler`); a VAT-locked account takes only its own
//! `vatType`; the postings of each date sum to zero («Summen av posteringene for {date} er ikke
//! lik 0»); no date in a locked period; `externalVoucherNumber` at most 70 characters. A posting on
//! the customer ledger with an invoice number moves that invoice's `amountOutstanding` (assumed:
//! Tripletex's own figure follows the postings carrying the invoice number). Closing postings
//! needs one customer and a sum of zero, else Tripletex's validation message per posting.
//!
//! Amounts are handled in whole øre (the sandbox's money; Tripletex rounds to two decimals).

use super::*;

/// Money in øre from a JSON number or numeric string.
fn ore(v: &Value) -> Option<i64> {
    let f = match v {
        Value::Number(n) => n.as_f64()?,
        Value::String(s) => s.trim().parse::<f64>().ok()?,
        _ => return None,
    };
    Some((f * 100.0).round() as i64)
}

fn kroner(ore: i64) -> Value {
    json!(ore as f64 / 100.0)
}

/// Is this a write the voucher module serves?
pub(super) fn is_write(method: &Method, rest: &str) -> bool {
    (*method == Method::POST && rest == "/ledger/voucher")
        || (*method == Method::PUT
            && (rest == "/ledger/posting/:closePostings"
                || (rest.starts_with("/ledger/voucher/") && rest.ends_with("/:reverse"))))
}

/// The voucher module's answer for `rest`, or `None` when it does not serve that path.
pub(super) fn route(
    state: &AppState,
    req: &Req,
    ctx: &Ctx,
    rest: &str,
) -> Option<Result<Out, TxError>> {
    let m = req.method;
    if *m == Method::POST && rest == "/ledger/voucher" {
        return Some(post_voucher(state, req, ctx));
    }
    if *m == Method::PUT && rest == "/ledger/posting/:closePostings" {
        return Some(close_postings(state, req, ctx));
    }
    if *m == Method::GET && rest == "/ledger/voucher/>externalVoucherNumber" {
        return Some(by_external_number(state, req, ctx));
    }
    if *m == Method::GET && rest == "/ledger/voucherType" {
        return Some(voucher_types(state, req, ctx));
    }
    if *m == Method::GET && rest == "/ledger/accountingPeriod" {
        return Some(accounting_periods(state, req, ctx));
    }
    let id_part = rest.strip_prefix("/ledger/voucher/")?;
    if *m == Method::PUT {
        let id = id_part.strip_suffix("/:reverse")?;
        return Some(reverse(state, req, ctx, id));
    }
    if *m == Method::GET && !id_part.contains('/') {
        return Some(one_voucher(state, req, ctx, id_part));
    }
    None
}

fn invalid_json() -> TxError {
    TxError::new(422, 22000, "Ugyldig JSON i forespørselen.")
}

fn validation_at(path: String, field: &str, message: &str) -> TxError {
    let mut e = TxError::validation(field, message);
    e.validation = vec![(path, message.to_string())];
    e
}

fn render_voucher(store: &CompanyStore, req: &Req, v: &Value) -> Result<Value, TxError> {
    let sel = selection(req, "Voucher")?;
    let mut v = v.clone();
    add_url(&mut v, &req.base, "/ledger/voucher");
    let resolver = store::Resolver {
        store,
        base: &req.base,
    };
    Ok(sel.apply_resolving(&v, "Voucher", &req.base, &resolver))
}

/// Whether `date` lies in a locked period of the acting company.
fn locked(state: &AppState, company: i64, date: NaiveDate) -> bool {
    state.locked_through(company).is_some_and(|l| date <= l)
}

fn locked_error(date: NaiveDate) -> TxError {
    validation_at(
        "date".into(),
        "date",
        &format!(
            "Perioden {} er låst. Bilag kan ikke registreres i en låst periode.",
            date.format("%Y-%m")
        ),
    )
}

/// A validated posting of a new voucher.
struct NewPosting {
    row: i64,
    date: NaiveDate,
    account: Value,
    customer: Option<i64>,
    amount: i64,
    vat_type: Option<i64>,
    invoice_number: String,
    description: String,
    term_of_payment: Option<String>,
}

/// Creates a voucher from a `Voucher` body in the acting company (the rules in the module's doc;
/// `check_rights` false for the sandbox's own admin writes, e.g. a debtor's payment).
pub(super) fn create_voucher(
    state: &AppState,
    company: i64,
    body: &Value,
    send_to_ledger: bool,
) -> Result<Value, TxError> {
    let Value::Object(b) = body else {
        return Err(invalid_json());
    };
    let props = crate::fields::schema_table().get("Voucher");
    if let Some(unknown) = b
        .keys()
        .find(|k| props.is_none_or(|p| !p.contains_key(k.as_str())))
    {
        let mut e = TxError::new(422, 16000, "Feil i mapping av JSON.");
        e.validation = vec![(unknown.clone(), "Ukjent felt.".into())];
        return Err(e);
    }
    let date = b
        .get("date")
        .and_then(Value::as_str)
        .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
        .ok_or_else(|| TxError::validation("date", "Kan ikke være null."))?;
    let external = b
        .get("externalVoucherNumber")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    if external.chars().count() > 70 {
        return Err(TxError::validation(
            "externalVoucherNumber",
            "Verdien kan ikke være lengre enn 70 tegn.",
        ));
    }
    let postings = match b.get("postings") {
        Some(Value::Array(a)) if !a.is_empty() => a,
        _ => {
            return Err(TxError::validation(
                "postings",
                "Bilaget må ha minst én postering.",
            ))
        }
    };
    if locked(state, company, date) {
        return Err(locked_error(date));
    }
    let stores = state.stores.read().unwrap_or_else(|p| p.into_inner());
    let store = stores
        .get(&company)
        .ok_or_else(|| TxError::new(404, 6000, "Objektet finnes ikke."))?;
    let mut new_postings = Vec::new();
    for (i, p) in postings.iter().enumerate() {
        let row = p.get("row").and_then(Value::as_i64).unwrap_or(0);
        if row <= 0 {
            return Err(validation_at(
                format!("postings[{i}].row"),
                "postings.row",
                "Posteringene på rad 0 (guiRow 0) er systemgenererte og kan ikke opprettes eller \
                 endres via API. Bruk rad 1 og oppover.",
            ));
        }
        let account_id = p
            .get("account")
            .and_then(|a| a.get("id"))
            .and_then(Value::as_i64);
        let account = account_id
            .and_then(|id| store.object("accounts", id))
            .ok_or_else(|| {
                validation_at(
                    format!("postings[{i}].account.id"),
                    "postings.account.id",
                    "Kontoen finnes ikke.",
                )
            })?;
        let amount = p.get("amountGross").and_then(ore).ok_or_else(|| {
            validation_at(
                format!("postings[{i}].amountGross"),
                "postings.amountGross",
                "Kan ikke være null.",
            )
        })?;
        let customer = p
            .get("customer")
            .and_then(|c| c.get("id"))
            .and_then(Value::as_i64);
        let customer_ledger = account.get("ledgerType").and_then(Value::as_str) == Some("CUSTOMER");
        if customer_ledger && customer.is_none() {
            return Err(validation_at(
                format!("postings[{i}].customer.id"),
                "postings.customer.id",
                "Kunde mangler",
            ));
        }
        if let Some(c) = customer {
            if store.object("customers", c).is_none() {
                return Err(validation_at(
                    format!("postings[{i}].customer.id"),
                    "postings.customer.id",
                    "Kunden finnes ikke.",
                ));
            }
        }
        let vat_type = p
            .get("vatType")
            .and_then(|v| v.get("id"))
            .and_then(Value::as_i64);
        if account.get("vatLocked").and_then(Value::as_bool) == Some(true) {
            let own = account
                .get("vatType")
                .and_then(|v| v.get("id"))
                .and_then(Value::as_i64);
            if vat_type != own {
                return Err(validation_at(
                    format!("postings[{i}].vatType.id"),
                    "postings.vatType.id",
                    &format!(
                        "Kontoen {} er låst til mva-kode {}.",
                        account.get("number").and_then(Value::as_i64).unwrap_or(0),
                        own.unwrap_or(0)
                    ),
                ));
            }
        }
        let pdate = p
            .get("date")
            .and_then(Value::as_str)
            .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
            .unwrap_or(date);
        new_postings.push(NewPosting {
            row,
            date: pdate,
            account,
            customer,
            amount,
            vat_type,
            invoice_number: p
                .get("invoiceNumber")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            description: p
                .get("description")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            term_of_payment: p
                .get("termOfPayment")
                .and_then(Value::as_str)
                .map(str::to_string),
        });
    }
    let mut per_date: BTreeMap<NaiveDate, i64> = BTreeMap::new();
    for p in &new_postings {
        *per_date.entry(p.date).or_default() += p.amount;
    }
    if let Some((d, _)) = per_date.iter().find(|(_, sum)| **sum != 0) {
        return Err(TxError::validation(
            "postings",
            &format!("Summen av posteringene for {d} er ikke lik 0."),
        ));
    }
    let voucher_type = match b
        .get("voucherType")
        .and_then(|v| v.get("id"))
        .and_then(Value::as_i64)
    {
        None => Value::Null,
        Some(id) => {
            let vt = store
                .object("voucherTypes", id)
                .ok_or_else(|| TxError::validation("voucherType.id", "Bilagstypen finnes ikke."))?;
            if vt.get("name").and_then(Value::as_str) == Some("Utgående faktura") {
                return Err(TxError::validation(
                    "voucherType",
                    "Et nytt bilag kan ikke ha bilagstypen Utgående faktura. Bruk \
                     fakturaendepunktet, eller voucherType null.",
                ));
            }
            json!({"id": id, "name": vt.get("name").cloned().unwrap_or(Value::Null)})
        }
    };
    use chrono::Datelike;
    let year = date.year() as i64;
    let number = if send_to_ledger {
        store
            .objects("vouchers")
            .iter()
            .filter(|v| v.get("year").and_then(Value::as_i64) == Some(year))
            .filter_map(|v| v.get("number").and_then(Value::as_i64))
            .max()
            .unwrap_or(0)
            + 1
    } else {
        0
    };
    let invoices = store.objects("invoices");
    drop(stores);

    let vid = 95_000_000 + state.next_id.fetch_add(1, Ordering::Relaxed) as i64;
    let mut posting_values = Vec::new();
    let mut refs = Vec::new();
    let mut outstanding: BTreeMap<i64, i64> = BTreeMap::new();
    for p in &new_postings {
        let pid = 96_000_000 + state.next_id.fetch_add(1, Ordering::Relaxed) as i64;
        let mut v = json!({
            "id": pid, "version": 0,
            "voucher": {"id": vid, "voucherType": voucher_type},
            "date": p.date.format("%Y-%m-%d").to_string(),
            "description": p.description,
            "account": {"id": p.account["id"], "number": p.account["number"]},
            "amount": kroner(p.amount), "amountGross": kroner(p.amount),
            "amountCurrency": kroner(p.amount), "amountGrossCurrency": kroner(p.amount),
            "invoiceNumber": p.invoice_number, "row": p.row,
            "vatType": {"id": p.vat_type.unwrap_or(0)},
            "closeGroup": Value::Null,
        });
        if let Some(c) = p.customer {
            v["customer"] = json!({"id": c});
        }
        if let Some(t) = &p.term_of_payment {
            v["termOfPayment"] = json!(t);
        }
        let customer_ledger =
            p.account.get("ledgerType").and_then(Value::as_str) == Some("CUSTOMER");
        if customer_ledger && !p.invoice_number.is_empty() {
            let inv = invoices.iter().find(|i| {
                i.get("invoiceNumber")
                    .and_then(Value::as_i64)
                    .map(|n| n.to_string())
                    == Some(p.invoice_number.clone())
                    && i.get("customer")
                        .and_then(|c| c.get("id"))
                        .and_then(Value::as_i64)
                        == p.customer
            });
            if let Some(id) = inv.and_then(|i| i.get("id")).and_then(Value::as_i64) {
                *outstanding.entry(id).or_default() += p.amount;
            }
        }
        refs.push(json!({"id": pid}));
        posting_values.push(v);
    }
    let voucher = json!({
        "id": vid, "version": 0,
        "date": date.format("%Y-%m-%d").to_string(),
        "number": number, "tempNumber": if send_to_ledger { 0 } else { vid % 100_000 },
        "year": year,
        "description": b.get("description").and_then(Value::as_str).unwrap_or(""),
        "voucherType": voucher_type,
        "externalVoucherNumber": external,
        "reverseVoucher": Value::Null,
        "postings": refs,
        "numberAsString": if send_to_ledger { format!("{number}-{year}") } else { String::new() },
    });
    let changed_invoices: Vec<Value> = invoices
        .into_iter()
        .filter_map(|mut i| {
            let id = i.get("id").and_then(Value::as_i64)?;
            let delta = *outstanding.get(&id)?;
            let before = i.get("amountOutstanding").and_then(ore).unwrap_or(0);
            i["amountOutstanding"] = kroner(before + delta);
            i["version"] = json!(i.get("version").and_then(Value::as_i64).unwrap_or(0) + 1);
            Some(i)
        })
        .collect();
    let mut stores = state.stores.write().unwrap_or_else(|p| p.into_inner());
    let store = stores
        .get_mut(&company)
        .ok_or_else(|| TxError::new(404, 6000, "Objektet finnes ikke."))?;
    store.upsert("postings", posting_values);
    store.upsert("vouchers", vec![voucher.clone()]);
    if !changed_invoices.is_empty() {
        store.upsert("invoices", changed_invoices);
    }
    Ok(voucher)
}

fn post_voucher(state: &AppState, req: &Req, ctx: &Ctx) -> Result<Out, TxError> {
    entitled(ctx, Entitlement::Vouchers)?;
    let send = bool_param(req, "sendToLedger").unwrap_or(true);
    if send && !ctx.entitlements.contains(&Entitlement::AdvancedVoucher) {
        return Err(TxError::forbidden(
            "Du mangler rettigheten «Avansert bilag» (Advanced Voucher), som kreves for å bokføre \
             bilag (sendToLedger).",
        ));
    }
    // Validate `fields` before writing anything.
    selection(req, "Voucher")?;
    let body: Value = serde_json::from_slice(req.body).map_err(|_| invalid_json())?;
    let voucher = create_voucher(state, ctx.acting_company, &body, send)?;
    let stores = state.stores();
    let store = stores
        .get(&ctx.acting_company)
        .ok_or_else(|| TxError::new(404, 6000, "Objektet finnes ikke."))?;
    let v = render_voucher(store, req, &voucher)?;
    let bytes = serde_json::to_vec(&json!({ "value": v })).unwrap_or_default();
    Ok(Out::Raw(201, "application/json; charset=utf-8", bytes))
}

fn one_voucher(state: &AppState, req: &Req, ctx: &Ctx, id: &str) -> Result<Out, TxError> {
    entitled(ctx, Entitlement::Vouchers)?;
    let id: i64 = id
        .parse()
        .map_err(|_| TxError::new(400, 12000, "Ugyldig id i stien."))?;
    let stores = state.stores();
    let store = stores
        .get(&ctx.acting_company)
        .ok_or_else(|| TxError::new(404, 6000, "Objektet finnes ikke."))?;
    let v = store
        .object("vouchers", id)
        .ok_or_else(|| TxError::new(404, 6000, "Objektet finnes ikke."))?;
    Ok(Out::Json(json!({"value": render_voucher(store, req, &v)?})))
}

fn by_external_number(state: &AppState, req: &Req, ctx: &Ctx) -> Result<Out, TxError> {
    entitled(ctx, Entitlement::Vouchers)?;
    let wanted = req.param("externalVoucherNumber").unwrap_or("").to_string();
    let sel = selection(req, "Voucher")?;
    let (from, count) = paging(req)?;
    let stores = state.stores();
    let Some(store) = stores.get(&ctx.acting_company) else {
        return Ok(Out::Json(
            json!({"fullResultSize": 0, "from": from, "count": 0, "values": []}),
        ));
    };
    let resolver = store::Resolver {
        store,
        base: &req.base,
    };
    let all: Vec<Value> = store
        .objects("vouchers")
        .into_iter()
        .filter(|v| {
            !wanted.is_empty()
                && v.get("externalVoucherNumber").and_then(Value::as_str) == Some(wanted.as_str())
        })
        .collect();
    let total = all.len();
    let values: Vec<Value> = all
        .into_iter()
        .skip(from)
        .take(count)
        .map(|mut v| {
            add_url(&mut v, &req.base, "/ledger/voucher");
            sel.apply_resolving(&v, "Voucher", &req.base, &resolver)
        })
        .collect();
    Ok(Out::Json(json!({
        "fullResultSize": total, "from": from, "count": values.len(), "values": values,
    })))
}

fn reverse(state: &AppState, req: &Req, ctx: &Ctx, id: &str) -> Result<Out, TxError> {
    entitled(ctx, Entitlement::Vouchers)?;
    if !ctx.entitlements.contains(&Entitlement::AdvancedVoucher) {
        return Err(TxError::forbidden(
            "Du mangler rettigheten «Avansert bilag» (Advanced Voucher).",
        ));
    }
    let id: i64 = id
        .parse()
        .map_err(|_| TxError::new(400, 12000, "Ugyldig id i stien."))?;
    selection(req, "Voucher")?;
    let date = date_param(req, "date", true)?.unwrap_or_default();
    let (original, postings) = {
        let stores = state.stores();
        let store = stores
            .get(&ctx.acting_company)
            .ok_or_else(|| TxError::new(404, 6000, "Objektet finnes ikke."))?;
        let v = store
            .object("vouchers", id)
            .ok_or_else(|| TxError::new(404, 6000, "Objektet finnes ikke."))?;
        let already = store.objects("vouchers").iter().any(|o| {
            o.get("reverseVoucher")
                .and_then(|r| r.get("id"))
                .and_then(Value::as_i64)
                == Some(id)
        });
        if already {
            return Err(TxError::validation(
                "id",
                "Bilaget er allerede tilbakeført.",
            ));
        }
        let postings: Vec<Value> = v
            .get("postings")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|p| p.get("id").and_then(Value::as_i64))
            .filter_map(|pid| store.object("postings", pid))
            .collect();
        (v, postings)
    };
    let body = json!({
        "date": date.format("%Y-%m-%d").to_string(),
        "description": format!(
            "Tilbakeføring av bilag {}",
            original.get("numberAsString").and_then(Value::as_str).unwrap_or("")
        ),
        "voucherType": original.get("voucherType").cloned().unwrap_or(Value::Null),
        "postings": postings.iter().map(|p| {
            let mut n = json!({
                "row": p.get("row").cloned().unwrap_or(json!(1)),
                "date": date.format("%Y-%m-%d").to_string(),
                "description": p.get("description").cloned().unwrap_or(json!("")),
                "account": {"id": p["account"]["id"]},
                "amountGross": kroner(-p.get("amountGross").and_then(ore).unwrap_or(0)),
                "amountGrossCurrency": kroner(-p.get("amountGross").and_then(ore).unwrap_or(0)),
                "invoiceNumber": p.get("invoiceNumber").cloned().unwrap_or(json!("")),
                "vatType": p.get("vatType").cloned().unwrap_or(Value::Null),
            });
            if let Some(c) = p.get("customer").filter(|c| !c.is_null()) {
                n["customer"] = c.clone();
            }
            n
        }).collect::<Vec<_>>(),
    });
    let mut body = body;
    if body["voucherType"].is_object() {
        body["voucherType"] = json!({"id": body["voucherType"]["id"]});
    }
    let mut reversing = create_voucher(state, ctx.acting_company, &body, true)?;
    reversing["reverseVoucher"] = json!({"id": id});
    let mut stores = state.stores.write().unwrap_or_else(|p| p.into_inner());
    let store = stores
        .get_mut(&ctx.acting_company)
        .ok_or_else(|| TxError::new(404, 6000, "Objektet finnes ikke."))?;
    store.upsert("vouchers", vec![reversing.clone()]);
    drop(stores);
    let stores = state.stores();
    let store = stores
        .get(&ctx.acting_company)
        .ok_or_else(|| TxError::new(404, 6000, "Objektet finnes ikke."))?;
    Ok(Out::Json(
        json!({"value": render_voucher(store, req, &reversing)?}),
    ))
}

fn close_postings(state: &AppState, req: &Req, ctx: &Ctx) -> Result<Out, TxError> {
    entitled(ctx, Entitlement::LedgerPostings)?;
    let ids: Vec<i64> = serde_json::from_slice(req.body).map_err(|_| invalid_json())?;
    let mut stores = state.stores.write().unwrap_or_else(|p| p.into_inner());
    let store = stores
        .get_mut(&ctx.acting_company)
        .ok_or_else(|| TxError::new(404, 6000, "Objektet finnes ikke."))?;
    let mut messages = Vec::new();
    let mut postings = Vec::new();
    for id in &ids {
        match store.object("postings", *id) {
            Some(p) => postings.push(p),
            None => messages.push(json!({"postingId": id, "message": "Posteringen finnes ikke."})),
        }
    }
    let customers: BTreeSet<Option<i64>> = postings
        .iter()
        .map(|p| {
            p.get("customer")
                .and_then(|c| c.get("id"))
                .and_then(Value::as_i64)
        })
        .collect();
    let sum: i64 = postings
        .iter()
        .filter_map(|p| p.get("amountGross").and_then(ore))
        .sum();
    if messages.is_empty() {
        if customers.len() != 1 || customers.contains(&None) {
            for p in &postings {
                messages.push(json!({"postingId": p["id"], "message":
                    "Posteringene som lukkes må ha samme kunde."}));
            }
        } else if sum != 0 {
            for p in &postings {
                messages.push(json!({"postingId": p["id"], "message":
                    format!("Posteringene går ikke i null (sum {:.2}).", sum as f64 / 100.0)}));
            }
        }
    }
    if messages.is_empty() && !postings.is_empty() {
        let group = 97_000_000 + state.next_id.fetch_add(1, Ordering::Relaxed) as i64;
        let closed: Vec<Value> = postings
            .into_iter()
            .map(|mut p| {
                p["closeGroup"] = json!({"id": group});
                p
            })
            .collect();
        store.upsert("postings", closed);
    }
    let n = messages.len();
    Ok(Out::Json(json!({
        "fullResultSize": n, "from": 0, "count": n, "values": messages,
    })))
}

fn voucher_types(state: &AppState, req: &Req, ctx: &Ctx) -> Result<Out, TxError> {
    entitled(ctx, Entitlement::Vouchers)?;
    let name = req.param("name").unwrap_or("").to_lowercase();
    let all: Vec<Value> = state
        .stores()
        .get(&ctx.acting_company)
        .map(|s| s.objects("voucherTypes"))
        .unwrap_or_default()
        .into_iter()
        .filter(|t| {
            t.get("name")
                .and_then(Value::as_str)
                .is_some_and(|n| n.to_lowercase().contains(&name))
        })
        .map(|mut t| {
            add_url(&mut t, &req.base, "/ledger/voucherType");
            t
        })
        .collect();
    Ok(Out::Json(list_response(state, req, all, "VoucherType")?))
}

/// Monthly accounting periods of 2020–2030; those ending on or before the company's lock date
/// are closed.
fn accounting_periods(state: &AppState, req: &Req, ctx: &Ctx) -> Result<Out, TxError> {
    entitled(ctx, Entitlement::Vouchers)?;
    let start_from = date_param(req, "startFrom", false)?;
    let start_to = date_param(req, "startTo", false)?;
    let lock = state.locked_through(ctx.acting_company);
    let mut all = Vec::new();
    let mut start = NaiveDate::from_ymd_opt(2020, 1, 1).unwrap_or_default();
    let mut n = 1;
    while start.format("%Y").to_string() != "2031" {
        let next = start
            .checked_add_months(chrono::Months::new(1))
            .unwrap_or(start);
        let end = next;
        let keep = start_from.is_none_or(|f| start >= f) && start_to.is_none_or(|t| start < t);
        if keep {
            all.push(json!({
                "id": 880_000 + n, "version": 0,
                "url": format!("{}/ledger/accountingPeriod/{}", req.base, 880_000 + n),
                "name": start.format("%B %Y").to_string(),
                "number": n,
                "start": start.format("%Y-%m-%d").to_string(),
                "end": end.format("%Y-%m-%d").to_string(),
                "isClosed": lock.is_some_and(|l| end <= l.succ_opt().unwrap_or(l)),
            }));
        }
        start = next;
        n += 1;
    }
    Ok(Out::Json(list_response(
        state,
        req,
        all,
        "AccountingPeriod",
    )?))
}
