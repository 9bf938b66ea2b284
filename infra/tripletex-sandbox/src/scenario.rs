//! A scenario company for the tests of the ledger sync: builders for Tripletex objects in wire
//! format (customers, invoices, ledger postings, vouchers, accounts of the chart), the base
//! scenario ([`base_company`]) and the demo fixture with a company's collections replaced by a
//! scenario ([`fixture_with`], [`fixture_for`]).
//!
//! Amounts are JSON numbers, as Tripletex sends them.

use serde_json::{json, Value};

use crate::fixture::{Fixture, DEMO_JSON};

// Accounts of the scenario's chart, by id (the account number is the id minus 70 000 000).
/// 1500 Kundefordringer, the customer ledger.
pub const AR: i64 = 70001500;
/// 1920 Bankinnskudd.
pub const BANK: i64 = 70001920;
/// 3000 Salgsinntekt.
pub const REVENUE: i64 = 70003000;
/// 7830 Konstaterte tap på fordringer.
pub const LOSS: i64 = 70007830;
/// 3900 Annen driftsrelatert inntekt (the fee income account proposed to users).
pub const OTHER_INCOME: i64 = 70003900;
/// 7820 Innkommet på tidligere nedskrevne fordringer.
pub const RECOVERY: i64 = 70007820;
/// 8050 Annen renteinntekt (the chart has no 8055: the interest default falls back to it).
pub const INTEREST_INCOME: i64 = 70008050;

/// A voucher type.
#[derive(Clone, Copy)]
pub enum Vt {
    Invoice,
    Payment,
    Opening,
    Null,
}

impl Vt {
    fn json(self) -> Value {
        match self {
            Vt::Invoice => json!({"id": 8000001, "name": "Utgående faktura"}),
            Vt::Payment => json!({"id": 8000002, "name": "Betaling"}),
            Vt::Opening => json!({"id": 8000003, "name": "Åpningsbalanse"}),
            Vt::Null => Value::Null,
        }
    }
}

/// A customer (`private`: a private individual).
pub fn customer(id: i64, name: &str, org: &str, private: bool, inactive: bool) -> Value {
    json!({"id": id, "version": 1, "name": name, "organizationNumber": org,
           "customerNumber": id - 30000, "isCustomer": true, "isInactive": inactive,
           "isPrivateIndividual": private, "email": "", "invoiceEmail": "", "overdueNoticeEmail": "",
           "invoicesDueIn": 14, "invoicesDueInType": "DAYS",
           "postalAddress": {"id": id + 500000, "addressLine1": "Kaigata 2", "addressLine2": "",
                             "postalCode": "5003", "city": "Bergen"}})
}

/// An invoice (`voucher`: its voucher's id).
#[allow(clippy::too_many_arguments)]
pub fn invoice(
    id: i64,
    number: i64,
    cust: i64,
    date: &str,
    due: &str,
    amount: f64,
    outstanding: f64,
    voucher: i64,
) -> Value {
    json!({"id": id, "version": 1, "invoiceNumber": number, "invoiceDate": date, "invoiceDueDate": due,
           "customer": {"id": cust}, "kid": format!("00{number}7"), "isCreditNote": false,
           "creditedInvoice": 0, "amount": amount, "amountOutstanding": outstanding,
           "currency": {"id": 1, "code": "NOK"}, "voucher": {"id": voucher}})
}

/// A ledger posting on `account` (`cust`: the customer of a customer-ledger posting, `term`:
/// its due date, `close_group`: the postings it was closed with).
#[allow(clippy::too_many_arguments)]
pub fn posting(
    id: i64,
    voucher: i64,
    vt: Vt,
    date: &str,
    account: i64,
    amount: f64,
    cust: Option<i64>,
    invoice_number: &str,
    term: Option<&str>,
    close_group: Option<i64>,
) -> Value {
    let mut p = json!({"id": id, "version": 0,
        "voucher": {"id": voucher, "voucherType": vt.json()},
        "date": date, "description": "", "account": {"id": account, "number": account - 70000000},
        "amount": amount, "amountGross": amount, "invoiceNumber": invoice_number,
        "row": 1, "vatType": {"id": 0}});
    if let Some(c) = cust {
        p["customer"] = json!({"id": c});
    }
    if let Some(t) = term {
        p["termOfPayment"] = json!(t);
    }
    if let Some(g) = close_group {
        p["closeGroup"] = json!({"id": g});
    }
    p
}

/// A voucher with its postings' ids.
pub fn voucher(id: i64, date: &str, desc: &str, vt: Vt, postings: &[i64]) -> Value {
    json!({"id": id, "version": 0, "date": date, "number": id - 50000, "year": 2026,
           "description": desc, "voucherType": vt.json(),
           "postings": postings.iter().map(|p| json!({"id": p})).collect::<Vec<_>>()})
}

/// An account of the chart.
pub fn account(id: i64, name: &str, ledger_type: &str, closeable: bool, bank: bool) -> Value {
    json!({"id": id, "version": 0, "number": id - 70000000, "name": name, "type": "ASSETS",
           "ledgerType": ledger_type, "isCloseable": closeable, "isInactive": false,
           "isBankAccount": bank})
}

/// The base scenario (fetchFrom 2026-01-01): an open overdue invoice, a paid one, a written-off
/// one (not among the open postings), a SAF-T opening item without due date, a manual voucher
/// (`voucherType: null`), an open item dated before fetchFrom, and a posting with a broken amount.
pub fn base_company() -> Value {
    let mut broken = posting(
        60040,
        50040,
        Vt::Invoice,
        "2026-07-01",
        AR,
        100.0,
        Some(40001),
        "",
        Some("2026-07-15"),
        None,
    );
    broken["amountGross"] = json!("tolv kroner");
    broken["amount"] = json!("tolv kroner");
    json!({
        "customers": [
            customer(40001, "Vestland Bygg AS", "922334455", false, false),
            customer(40002, "Havbruk Service AS", "812345672", false, false),
            customer(40003, "Ola Nordmann", "", true, false),
            customer(40004, "Gamle Kunde AS", "", false, true),
        ],
        "invoices": [
            invoice(80001, 10023, 40001, "2026-05-02", "2026-05-16", 12500.0, 12500.0, 50001),
            invoice(80002, 10024, 40002, "2026-05-20", "2026-06-03", 8000.0, 0.0, 50002),
            invoice(80003, 10025, 40002, "2026-03-01", "2026-03-15", 5000.0, 0.0, 50004),
        ],
        "postings": [
            posting(60001, 50001, Vt::Invoice, "2026-05-02", AR, 12500.0, Some(40001), "10023", Some("2026-05-16"), None),
            posting(60002, 50001, Vt::Invoice, "2026-05-02", REVENUE, -12500.0, None, "", None, None),
            posting(60003, 50002, Vt::Invoice, "2026-05-20", AR, 8000.0, Some(40002), "10024", Some("2026-06-03"), Some(90001)),
            posting(60004, 50002, Vt::Invoice, "2026-05-20", REVENUE, -8000.0, None, "", None, None),
            posting(60005, 50003, Vt::Payment, "2026-06-01", BANK, 8000.0, None, "", None, None),
            posting(60006, 50003, Vt::Payment, "2026-06-01", AR, -8000.0, Some(40002), "10024", None, Some(90001)),
            // Written off: the invoice nets to zero, Tripletex no longer lists it as open.
            posting(60010, 50004, Vt::Invoice, "2026-03-01", AR, 5000.0, Some(40002), "10025", Some("2026-03-15"), Some(90002)),
            posting(60013, 50004, Vt::Invoice, "2026-03-01", REVENUE, -5000.0, None, "", None, None),
            posting(60011, 50010, Vt::Null, "2026-09-01", AR, -5000.0, Some(40002), "10025", None, Some(90002)),
            posting(60012, 50010, Vt::Null, "2026-09-01", LOSS, 5000.0, None, "", None, None),
            // SAF-T opening balance: no invoice, no due date.
            posting(60020, 50020, Vt::Opening, "2026-02-01", AR, 3000.0, Some(40003), "", None, None),
            // Manual voucher without type.
            posting(60030, 50030, Vt::Null, "2026-04-01", AR, 2000.0, Some(40001), "", Some("2026-04-15"), None),
            // Open, from before fetchFrom (openPost has no lower date bound).
            posting(60050, 50050, Vt::Invoice, "2025-06-01", AR, 1500.0, Some(40001), "9001", Some("2025-06-15"), None),
            // An amount that is not a number: quarantined, the sync goes on.
            broken,
        ],
        "vouchers": [
            voucher(50001, "2026-05-02", "Faktura 10023", Vt::Invoice, &[60001, 60002]),
            voucher(50002, "2026-05-20", "Faktura 10024", Vt::Invoice, &[60003, 60004]),
            voucher(50003, "2026-06-01", "Innbetaling faktura 10024", Vt::Payment, &[60005, 60006]),
            voucher(50004, "2026-03-01", "Faktura 10025", Vt::Invoice, &[60010, 60013]),
            voucher(50010, "2026-09-01", "Tap på fordring faktura 10025", Vt::Null, &[60011, 60012]),
            voucher(50020, "2026-02-01", "Åpningsbalanse", Vt::Opening, &[60020]),
            voucher(50030, "2026-04-01", "Manuelt bilag", Vt::Null, &[60030]),
            voucher(50040, "2026-07-01", "Faktura", Vt::Invoice, &[60040]),
            voucher(50050, "2025-06-01", "Faktura 9001", Vt::Invoice, &[60050]),
        ],
        "accounts": [
            account(AR, "Kundefordringer", "CUSTOMER", true, false),
            account(BANK, "Bankinnskudd", "GENERAL", false, true),
            account(REVENUE, "Salgsinntekt", "GENERAL", false, false),
            account(LOSS, "Konstaterte tap på fordringer", "GENERAL", false, false),
        ],
    })
}

/// The base scenario with the accounts a settlement voucher uses: 3900 (fees), 7820 (recovery)
/// and 8050 (interest; no 8055).
pub fn voucher_company() -> Value {
    let mut c = base_company();
    let accounts = c["accounts"].as_array_mut().expect("accounts");
    accounts.push(account(
        OTHER_INCOME,
        "Annen driftsrelatert inntekt",
        "GENERAL",
        false,
        false,
    ));
    accounts.push(account(
        RECOVERY,
        "Innkommet på tidligere nedskrevne fordringer",
        "GENERAL",
        false,
        false,
    ));
    accounts.push(account(
        INTEREST_INCOME,
        "Annen renteinntekt",
        "GENERAL",
        false,
        false,
    ));
    c
}

/// The body of a debtor's payment as Tripletex books a KID-matched one: bank debit, receivables
/// credit with the customer and the invoice number (for `SandboxHandle::book_voucher`).
pub fn kid_payment(date: &str, customer: i64, invoice_number: &str, amount: f64) -> Value {
    json!({
        "date": date,
        "description": format!("Innbetaling KID faktura {invoice_number}"),
        "voucherType": {"id": 8000002},
        "postings": [
            {"row": 1, "date": date, "account": {"id": BANK}, "amountGross": amount,
             "amountGrossCurrency": amount, "description": "Innbetaling"},
            {"row": 2, "date": date, "account": {"id": AR}, "customer": {"id": customer},
             "invoiceNumber": invoice_number, "amountGross": -amount,
             "amountGrossCurrency": -amount, "description": "Innbetaling"},
        ],
    })
}

/// The demo fixture with company 2001's collections replaced.
pub fn fixture_with(collections: &Value) -> Fixture {
    fixture_for(2001, collections)
}

/// The demo fixture with `company`'s collections replaced.
pub fn fixture_for(company: i64, collections: &Value) -> Fixture {
    let mut f: Value = serde_json::from_str(DEMO_JSON).expect("the demo fixture is JSON");
    for c in f["companies"].as_array_mut().expect("companies") {
        if c["id"] == json!(company) {
            c["collections"] = collections.clone();
        }
    }
    Fixture::from_json(&f.to_string()).expect("scenario fixture is valid")
}
