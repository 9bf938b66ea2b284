//! A deterministic generator for a realistic client company: private and business customers (some
//! inactive, some whose organisation number Brønnøysund reports bankrupt, under liquidation,
//! deleted or removed), invoices with KID and part payments, credit notes, SAF-T-imported opening
//! items without due date or invoice, manual vouchers with `voucherType = null`, loss write-offs
//! against 7830 with and without a marker word, and the postings of all of them.
//!
//! Same [`GenSpec`] (seed, sizes, `today`) → byte-identical [`CompanyData`]. The PRNG is a
//! self-contained SplitMix64. Amounts are integer øre (rendered as NOK with 2 decimals).
//!
//! Event model: phase 1 draws customers, claims (invoices, SAF-T items) and their fates
//! (payments, credit notes, write-offs) with dates; phase 2 sorts all events by date and turns them
//! into vouchers and postings, assigning ids, voucher numbers (per year), invoice numbers and KIDs in
//! date order; phase 3 closes every claim whose customer-ledger postings net to zero (one close
//! group per claim) and computes `amountOutstanding`.

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// What to generate. In fixture JSON: `"generate": {"seed": 7, "postings": 100000}` under a company.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GenSpec {
    pub seed: u64,
    /// Target number of postings: invoices are drawn until the postings reach it (the result has at
    /// least this many, overshooting by at most one claim's postings). Used when `invoices` is 0;
    /// 0 and 0 → 1000.
    #[serde(default)]
    pub postings: usize,
    /// Number of customers; 0 → derived from the size (about one per 50 postings, at least 12).
    #[serde(default)]
    pub customers: usize,
    /// Exact number of (non-credit-note) invoices; 0 → drawn until `postings` is reached.
    #[serde(default)]
    pub invoices: usize,
    /// The generator's today: dates fall in the three years before it. `None` → the sandbox clock's
    /// date (Oslo) when the sandbox starts (then the data depends on that date).
    #[serde(default)]
    pub today: Option<NaiveDate>,
}

impl GenSpec {
    /// A company of about `postings` postings.
    pub fn with_postings(seed: u64, postings: usize) -> Self {
        Self {
            seed,
            postings,
            ..Self::default()
        }
    }

    pub fn today(mut self, today: NaiveDate) -> Self {
        self.today = Some(today);
        self
    }

    /// Parses the CLI form `seed=7,postings=100000[,customers=N][,invoices=N][,today=YYYY-MM-DD]`;
    /// `company=ID` is returned separately (None if absent).
    pub fn parse_cli(s: &str) -> Result<(Self, Option<i64>), String> {
        let mut spec = GenSpec::default();
        let mut company = None;
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (k, v) = part
                .split_once('=')
                .ok_or_else(|| format!("expected key=value, got {part:?}"))?;
            let num = |v: &str| {
                v.trim()
                    .replace('_', "")
                    .parse::<u64>()
                    .map_err(|_| format!("{k}: not a number: {v:?}"))
            };
            match k.trim() {
                "seed" => spec.seed = num(v)?,
                "postings" => spec.postings = num(v)? as usize,
                "customers" => spec.customers = num(v)? as usize,
                "invoices" => spec.invoices = num(v)? as usize,
                "today" => {
                    spec.today = Some(
                        NaiveDate::parse_from_str(v.trim(), "%Y-%m-%d")
                            .map_err(|_| format!("today: not a date: {v:?}"))?,
                    )
                }
                "company" => company = Some(num(v)? as i64),
                other => return Err(format!("unknown key {other:?}")),
            }
        }
        Ok((spec, company))
    }
}

// ------------------------------------------------------------------------------------ ids

pub const CUSTOMER_ID_BASE: i64 = 1_000_000;
pub const INVOICE_ID_BASE: i64 = 2_000_000;
pub const VOUCHER_ID_BASE: i64 = 3_000_000;
pub const CLOSE_GROUP_ID_BASE: i64 = 4_000_000;
pub const DOCUMENT_ID_BASE: i64 = 5_000_000;
pub const POSTING_ID_BASE: i64 = 10_000_000;
/// Account ids are `ACCOUNT_ID_BASE + number` (as in the demo fixture: 70001500 = 1500).
pub const ACCOUNT_ID_BASE: i64 = 70_000_000;
pub const FIRST_CUSTOMER_NUMBER: i64 = 20_001;
pub const FIRST_INVOICE_NUMBER: i64 = 200_001;

pub const VOUCHER_TYPE_INVOICE: i64 = 8_000_001;
pub const VOUCHER_TYPE_PAYMENT: i64 = 8_000_002;
pub const VOUCHER_TYPE_OPENING: i64 = 8_000_003;
/// (id, name) of the voucher types the generator uses. Manual vouchers have none (`null`).
pub const VOUCHER_TYPES: [(i64, &str); 3] = [
    (VOUCHER_TYPE_INVOICE, "Utgående faktura"),
    (VOUCHER_TYPE_PAYMENT, "Betaling"),
    (VOUCHER_TYPE_OPENING, "Åpningsbalanse"),
];

/// The chart: (number, name, type, ledgerType, isBankAccount, vatType id).
pub const CHART: [(i64, &str, &str, &str, bool, i64); 12] = [
    (1500, "Kundefordringer", "ASSETS", "CUSTOMER", false, 0),
    (
        1509,
        "Ikke reskontroførte kundefordringer",
        "ASSETS",
        "GENERAL",
        false,
        0,
    ),
    (
        1580,
        "Avsetning tap på fordringer",
        "ASSETS",
        "GENERAL",
        false,
        0,
    ),
    (1920, "Bankinnskudd", "ASSETS", "GENERAL", true, 0),
    (2050, "Annen egenkapital", "EQUITY", "GENERAL", false, 0),
    (2400, "Leverandørgjeld", "LIABILITIES", "VENDOR", false, 0),
    (
        2700,
        "Utgående merverdiavgift, høy sats",
        "LIABILITIES",
        "GENERAL",
        false,
        0,
    ),
    (
        2910,
        "Gjeld til ansatte og eiere",
        "LIABILITIES",
        "EMPLOYEE",
        false,
        0,
    ),
    (
        3000,
        "Salgsinntekt, avgiftspliktig",
        "OPERATING_REVENUES",
        "GENERAL",
        false,
        3,
    ),
    (
        7790,
        "Øredifferanser",
        "OPERATING_EXPENSES",
        "GENERAL",
        false,
        0,
    ),
    (
        7830,
        "Konstaterte tap på fordringer",
        "OPERATING_EXPENSES",
        "GENERAL",
        false,
        0,
    ),
    (
        8050,
        "Annen renteinntekt",
        "INVESTMENT_INCOME",
        "GENERAL",
        false,
        0,
    ),
];

pub fn account_id(number: i64) -> i64 {
    ACCOUNT_ID_BASE + number
}

// ------------------------------------------------------------------------------------ data

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GenCustomer {
    pub id: i64,
    pub customer_number: i64,
    pub name: String,
    /// "" for private customers.
    pub organization_number: String,
    pub is_private_individual: bool,
    pub is_inactive: bool,
    pub email: String,
    pub phone_number_mobile: String,
    pub address_line1: String,
    pub postal_code: String,
    pub city: String,
    pub invoices_due_in: i64,
    pub created: DateTime<Utc>,
    /// A later update (changes: CREATE, then UPDATE).
    pub updated: Option<DateTime<Utc>>,
    /// What Brønnøysund says about the organisation number (business customers only).
    pub brreg: Option<BrregStatus>,
}

impl GenCustomer {
    /// The time of the latest change (what `changedSince` compares).
    pub fn last_change(&self) -> DateTime<Utc> {
        self.updated.unwrap_or(self.created)
    }
}

/// Enhetsregisteret's view of a business customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", tag = "status", content = "date")]
pub enum BrregStatus {
    Active,
    /// `konkurs: true`, `konkursdato`.
    Bankrupt(NaiveDate),
    /// `underAvvikling: true`, `underAvviklingDato`.
    UnderLiquidation(NaiveDate),
    /// `underTvangsavviklingEllerTvangsopplosning: true`.
    ForcedDissolution(NaiveDate),
    /// Deleted: 200 with the reduced body (`respons_klasse: "SlettetEnhet"`, `slettedato`).
    Deleted(NaiveDate),
    /// Removed from the open data: 410 Gone.
    Removed,
    /// Not in the register at all (a mistyped number): 404.
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GenInvoice {
    pub id: i64,
    pub invoice_number: i64,
    pub invoice_date: NaiveDate,
    pub invoice_due_date: NaiveDate,
    pub customer: i64,
    /// MOD10 KID; "" on credit notes.
    pub kid: String,
    pub is_credit_note: bool,
    /// Id of the credited invoice (0 if not a credit note), as Tripletex.
    pub credited_invoice: i64,
    pub is_credited: bool,
    /// Gross (incl. 25 % VAT) in øre; negative for credit notes.
    pub amount: i64,
    pub amount_excluding_vat: i64,
    pub amount_outstanding: i64,
    pub voucher: i64,
    /// Customer-ledger postings of the invoice (the invoice's own first, then payments etc.).
    pub postings: Vec<i64>,
    /// A PDF copy exists (`documentId` set); false for a few invoices imported without one.
    pub document_id: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GenVoucher {
    pub id: i64,
    pub number: i64,
    pub year: i32,
    pub date: NaiveDate,
    pub description: String,
    /// None = a manual ("avansert") voucher, `voucherType: null`.
    pub voucher_type: Option<i64>,
    pub external_voucher_number: String,
    /// Its postings: `postings[first_posting .. first_posting + posting_count]`.
    pub first_posting: usize,
    pub posting_count: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GenPosting {
    pub id: i64,
    pub voucher: i64,
    pub date: NaiveDate,
    pub description: String,
    pub account_number: i64,
    pub customer: Option<i64>,
    /// Net amount in øre (debit +, credit −).
    pub amount: i64,
    /// Gross amount in øre.
    pub amount_gross: i64,
    pub vat_type: i64,
    /// "" when none.
    pub invoice_number: String,
    /// Due date; None for SAF-T imports and most manual postings.
    pub term_of_payment: Option<NaiveDate>,
    pub row: i64,
    pub posting_type: Option<&'static str>,
    /// KID for KID payments, else "".
    pub external_ref: String,
    pub system_generated: bool,
    pub close_group: Option<(i64, NaiveDate)>,
}

impl GenPosting {
    pub fn account_id(&self) -> i64 {
        account_id(self.account_number)
    }
}

/// What the generator made, counted while making it (tests recount from the data).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GenStats {
    pub customers: usize,
    pub private_customers: usize,
    pub inactive_customers: usize,
    /// Business customers per Brønnøysund status.
    pub brreg_bankrupt: usize,
    pub brreg_under_liquidation: usize,
    pub brreg_forced_dissolution: usize,
    pub brreg_deleted: usize,
    pub brreg_removed: usize,
    pub brreg_unknown: usize,
    pub invoices: usize,
    pub credit_notes: usize,
    pub invoices_without_pdf: usize,
    pub kid_payments: usize,
    pub manual_payments: usize,
    /// Invoices or SAF-T items with two or more payments, or one payment short of the amount (less
    /// credit notes).
    pub part_paid_claims: usize,
    pub write_offs_with_marker: usize,
    pub write_offs_without_marker: usize,
    pub saft_items: usize,
    pub null_type_vouchers: usize,
    pub vouchers: usize,
    pub postings: usize,
    pub close_groups: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CompanyData {
    pub spec: GenSpec,
    pub today: NaiveDate,
    pub customers: Vec<GenCustomer>,
    pub invoices: Vec<GenInvoice>,
    /// Sorted by id = by date.
    pub vouchers: Vec<GenVoucher>,
    /// Sorted by id = by (date, voucher, row).
    pub postings: Vec<GenPosting>,
    pub stats: GenStats,
}

/// The marker words of a loss write-off (case-insensitive prefixes of the description).
pub const WRITE_OFF_MARKERS: [&str; 2] = ["Tap", "Avskrevet"];

/// Whether a voucher description carries a write-off marker word.
pub fn has_write_off_marker(description: &str) -> bool {
    let d = description.trim_start().to_lowercase();
    WRITE_OFF_MARKERS
        .iter()
        .any(|m| d.starts_with(&m.to_lowercase()))
}

// ------------------------------------------------------------------------------------ PRNG

/// SplitMix64 (Steele, Lea, Flood 2014): tiny, fast, good enough for test data.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed ^ 0x5EED_7E1E_7E70_0001)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in 0..n (0 if n == 0).
    pub fn below(&mut self, n: u64) -> u64 {
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }
    /// Uniform in lo..hi (lo if empty).
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        if hi <= lo {
            lo
        } else {
            lo + self.below((hi - lo) as u64) as i64
        }
    }
    /// True with probability permille/1000.
    pub fn chance(&mut self, permille: u64) -> bool {
        self.below(1000) < permille
    }
    pub fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len() as u64) as usize]
    }
}

// ------------------------------------------------------------------------------------ checks

/// MOD10 (Luhn) check digit of a KID base.
pub fn kid_mod10(base: &str) -> u32 {
    let mut s = 0;
    for (i, c) in base.chars().rev().enumerate() {
        let d = c.to_digit(10).unwrap_or(0);
        let p = if i % 2 == 0 { d * 2 } else { d };
        s += p / 10 + p % 10;
    }
    (10 - s % 10) % 10
}

/// A valid organisation number (MOD11, weights 3,2,7,6,5,4,3,2) starting with 8 or 9.
fn org_number(rng: &mut Rng) -> String {
    loop {
        let mut d = [0u32; 8];
        d[0] = if rng.chance(600) { 9 } else { 8 };
        for x in d.iter_mut().skip(1) {
            *x = rng.below(10) as u32;
        }
        let sum: u32 = d
            .iter()
            .zip([3, 2, 7, 6, 5, 4, 3, 2])
            .map(|(a, b)| a * b)
            .sum();
        let check = match 11 - sum % 11 {
            11 => 0,
            10 => continue,
            c => c,
        };
        return d
            .iter()
            .chain(std::iter::once(&check))
            .map(|x| char::from_digit(*x, 10).unwrap_or('0'))
            .collect();
    }
}

// ------------------------------------------------------------------------------------ words

const FIRST: [&str; 24] = [
    "Ola", "Kari", "Per", "Anne", "Lars", "Ingrid", "Jon", "Marit", "Ole", "Hilde", "Erik",
    "Silje", "Knut", "Nina", "Bjørn", "Tone", "Arne", "Liv", "Geir", "Randi", "Trond", "Hanne",
    "Svein", "Åse",
];
const LAST: [&str; 20] = [
    "Hansen",
    "Johansen",
    "Olsen",
    "Larsen",
    "Andersen",
    "Pedersen",
    "Nilsen",
    "Kristiansen",
    "Jensen",
    "Karlsen",
    "Johnsen",
    "Pettersen",
    "Eriksen",
    "Berg",
    "Haugen",
    "Hagen",
    "Johannessen",
    "Andreassen",
    "Jacobsen",
    "Dahl",
];
const PLACE: [&str; 16] = [
    "Vestland",
    "Nordfjord",
    "Fjell",
    "Kyst",
    "Dale",
    "Bakke",
    "Elve",
    "Skog",
    "Havbruk",
    "Berg",
    "Sol",
    "Nord",
    "Sør",
    "Øst",
    "Vik",
    "Strand",
];
const TRADE: [&str; 16] = [
    "Bygg",
    "Rør",
    "Elektro",
    "Transport",
    "Regnskap",
    "Maskin",
    "Eiendom",
    "Handel",
    "Service",
    "Trelast",
    "Maling",
    "Data",
    "Catering",
    "Anlegg",
    "Frisør",
    "Bil",
];
const STREET: [&str; 10] = [
    "Storgata",
    "Kirkegata",
    "Strandveien",
    "Industriveien",
    "Fjordgata",
    "Skolegata",
    "Bakkeveien",
    "Havnegata",
    "Parkveien",
    "Elvegata",
];
const POSTAL: [(&str, &str, &str); 10] = [
    ("0150", "OSLO", "0301"),
    ("5003", "BERGEN", "4601"),
    ("7010", "TRONDHEIM", "5001"),
    ("4006", "STAVANGER", "1103"),
    ("9008", "TROMSØ", "5501"),
    ("4610", "KRISTIANSAND S", "4204"),
    ("3015", "DRAMMEN", "3301"),
    ("6002", "ÅLESUND", "1507"),
    ("8006", "BODØ", "1804"),
    ("2317", "HAMAR", "3403"),
];

fn title_case(s: &str) -> String {
    let lower = s.to_lowercase();
    let mut out = String::with_capacity(lower.len());
    let mut start = true;
    for c in lower.chars() {
        if start {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        start = c == ' ';
    }
    out
}

// ------------------------------------------------------------------------------------ generate

struct Claim {
    customer: usize,
    /// Invoice (index into `invs`) or a SAF-T item (None).
    inv: Option<usize>,
    /// SAF-T: the old invoice number ("" if none).
    saft_number: String,
    date: NaiveDate,
    gross: i64,
    /// Customer-ledger postings (indices into `postings`).
    ledger: Vec<usize>,
    /// Payments made (count, øre) and credit notes (øre), for the part-payment count.
    payments: (usize, i64),
    credited: i64,
}

struct Inv {
    claim: usize,
    date: NaiveDate,
    due: NaiveDate,
    gross: i64,
    net: i64,
    credit_of: Option<usize>,
    has_pdf: bool,
    number: i64,
    kid: String,
    id: i64,
    voucher: i64,
}

enum Ev {
    Invoice {
        inv: usize,
    },
    Payment {
        claim: usize,
        cents: i64,
        kid: bool,
    },
    WriteOff {
        claim: usize,
        cents: i64,
        text: String,
    },
    Saft {
        claim: usize,
    },
}

fn split_amount(rng: &mut Rng, total: i64, parts: usize) -> Vec<i64> {
    let mut out = Vec::with_capacity(parts);
    let mut left = total;
    for i in 0..parts {
        if i + 1 == parts {
            out.push(left);
        } else {
            let share = rng.range(20, 60);
            let a = (left * share / 100 / 100) * 100; // whole kroner
            let a = a.max(100).min(left - 100 * (parts - i - 1) as i64);
            out.push(a);
            left -= a;
        }
    }
    out
}

/// Generates a company. Deterministic in `spec` (with `today` = `spec.today`, else the current
/// date in Oslo).
pub fn generate(spec: &GenSpec) -> CompanyData {
    let today = spec.today.unwrap_or_else(|| {
        Utc::now()
            .with_timezone(&chrono_tz::Europe::Oslo)
            .date_naive()
    });
    let target_postings = if spec.postings == 0 && spec.invoices == 0 {
        1000
    } else {
        spec.postings
    };
    let size = if spec.invoices > 0 {
        spec.invoices * 5
    } else {
        target_postings
    };
    let n_customers = if spec.customers > 0 {
        spec.customers
    } else {
        (size / 50).max(12)
    };
    let mut rng = Rng::new(spec.seed);
    let start = today - Duration::days(3 * 365);
    let mut stats = GenStats::default();

    // --- customers
    let mut customers = Vec::with_capacity(n_customers);
    for i in 0..n_customers {
        let private = rng.chance(300);
        let (pc, city, _) = *rng.pick(&POSTAL);
        let street = format!("{} {}", rng.pick(&STREET), rng.range(1, 120));
        let (name, email) = if private {
            let f = rng.pick(&FIRST);
            let l = rng.pick(&LAST);
            (
                format!("{f} {l}"),
                format!(
                    "{}.{}{}@epost.no",
                    f.to_lowercase(),
                    l.to_lowercase(),
                    rng.range(1, 99)
                ),
            )
        } else {
            let p = rng.pick(&PLACE);
            let t = rng.pick(&TRADE);
            let suffix = if rng.chance(850) { "AS" } else { "ENK" };
            let name = if suffix == "ENK" {
                format!("{} {p} {t}", rng.pick(&LAST))
            } else {
                format!("{p} {t} {suffix}")
            };
            let domain: String = format!("{p}{t}{}", i)
                .to_lowercase()
                .chars()
                .map(|c| match c {
                    'æ' => 'e',
                    'ø' => 'o',
                    'å' => 'a',
                    c => c,
                })
                .collect();
            (name, format!("faktura@{domain}.no"))
        };
        let created_day = start - Duration::days(rng.range(0, 900));
        let created = Utc.from_utc_datetime(&created_day.and_hms_opt(0, 0, 0).unwrap_or_default())
            + Duration::seconds(rng.range(6 * 3600, 18 * 3600));
        let updated = if rng.chance(300) {
            let span = (today - created_day).num_days().max(1);
            let d = created_day + Duration::days(rng.range(1, span));
            let t = Utc.from_utc_datetime(&d.and_hms_opt(0, 0, 0).unwrap_or_default())
                + Duration::seconds(rng.range(6 * 3600, 18 * 3600));
            Some(t)
        } else {
            None
        };
        let brreg = if private {
            None
        } else {
            let r = rng.below(1000);
            let when = |rng: &mut Rng| today - Duration::days(rng.range(20, 700));
            Some(match r {
                0..=59 => BrregStatus::Bankrupt(when(&mut rng)),
                60..=89 => BrregStatus::UnderLiquidation(when(&mut rng)),
                90..=104 => BrregStatus::ForcedDissolution(when(&mut rng)),
                105..=134 => BrregStatus::Deleted(when(&mut rng)),
                135..=144 => BrregStatus::Removed,
                145..=154 => BrregStatus::Unknown,
                _ => BrregStatus::Active,
            })
        };
        let inactive = rng.chance(80)
            || matches!(brreg, Some(BrregStatus::Deleted(_) | BrregStatus::Removed))
                && rng.chance(500);
        customers.push(GenCustomer {
            id: CUSTOMER_ID_BASE + 1 + i as i64,
            customer_number: FIRST_CUSTOMER_NUMBER + i as i64,
            organization_number: if private {
                String::new()
            } else {
                org_number(&mut rng)
            },
            name,
            is_private_individual: private,
            is_inactive: inactive,
            email,
            phone_number_mobile: format!("9{:07}", rng.below(10_000_000)),
            address_line1: street,
            postal_code: pc.to_string(),
            city: title_case(city),
            invoices_due_in: *rng.pick(&[10, 14, 14, 14, 20, 30]),
            created,
            updated,
            brreg,
        });
    }

    // --- phase 1: claims and events
    let mut claims: Vec<Claim> = Vec::new();
    let mut invs: Vec<Inv> = Vec::new();
    let mut events = Events::default();
    let mut planned = 0usize;
    let pick_customer = |rng: &mut Rng| {
        let n = n_customers as u64;
        rng.below(n).min(rng.below(n)) as usize
    };
    let amount = |rng: &mut Rng, private: bool| {
        let net = if private {
            rng.range(200, 8_000) * 100 + rng.range(0, 100)
        } else if rng.chance(800) {
            rng.range(1_000, 40_000) * 100 + rng.range(0, 100)
        } else {
            rng.range(40_000, 400_000) * 100
        };
        let vat = (net * 25 + 50) / 100;
        (net + vat, net)
    };
    let write_off_text = |rng: &mut Rng, marker: bool, c: &GenCustomer, what: &str| -> String {
        if marker {
            match rng.below(4) {
                0 => format!("Tap på fordring {what} {}", c.name),
                1 => format!("Tap på krav – {} ({})", c.name, c.customer_number),
                2 => format!("Avskrevet {what}"),
                _ => format!("Avskrevet uerholdelig fordring {}", c.name),
            }
        } else {
            match rng.below(3) {
                0 => format!("Korrigering kunde {}", c.customer_number),
                1 => format!("Utligning saldo {what}"),
                _ => format!("Oppretting reskontro {}", c.name),
            }
        }
    };

    // SAF-T opening items: the migration date is the window's first day.
    let n_saft = (n_customers / 8).max(3);
    for k in 0..n_saft {
        let cu = pick_customer(&mut rng);
        let (gross, _) = amount(&mut rng, customers[cu].is_private_individual);
        let claim = claims.len();
        claims.push(Claim {
            customer: cu,
            inv: None,
            saft_number: if rng.chance(600) {
                format!("{}", 4000 + k * 3 + rng.below(3) as usize)
            } else {
                String::new()
            },
            date: start,
            gross,
            ledger: Vec::new(),
            payments: (0, 0),
            credited: 0,
        });
        events.push(start, Ev::Saft { claim });
        planned += 2;
        stats.saft_items += 1;
        let fate = rng.below(1000);
        let d1 = start + Duration::days(rng.range(10, 200));
        match fate {
            0..=399 => {}
            400..=849 => {
                // paid (sometimes in two parts), by manual voucher: no KID on imported items
                let parts = if fate < 750 { 1 } else { 2 };
                let split = split_amount(&mut rng, gross, parts);
                let mut d = d1;
                for (i, a) in split.into_iter().enumerate() {
                    if d < today && !(parts == 2 && i == 1 && rng.chance(500)) {
                        events.push(
                            d,
                            Ev::Payment {
                                claim,
                                cents: a,
                                kid: false,
                            },
                        );
                        planned += 2;
                    }
                    d += Duration::days(rng.range(10, 60));
                }
            }
            _ => {
                let marker = rng.chance(650);
                let what = if claims[claim].saft_number.is_empty() {
                    "inngående balanse".to_string()
                } else {
                    format!("faktura {}", claims[claim].saft_number)
                };
                let text = write_off_text(&mut rng, marker, &customers[cu], &what);
                let d = d1 + Duration::days(rng.range(60, 300));
                if d < today {
                    events.push(
                        d,
                        Ev::WriteOff {
                            claim,
                            cents: gross,
                            text,
                        },
                    );
                    planned += 2;
                }
            }
        }
    }

    // Invoices and their fates.
    let window = (today - start).num_days() - 1;
    let mut n_inv = 0usize;
    loop {
        if spec.invoices > 0 {
            if n_inv >= spec.invoices {
                break;
            }
        } else if planned >= target_postings {
            break;
        }
        n_inv += 1;
        let cu = pick_customer(&mut rng);
        let c = &customers[cu];
        let date = start + Duration::days(rng.range(1, window.max(2)));
        let due = date + Duration::days(c.invoices_due_in);
        let (gross, net) = amount(&mut rng, c.is_private_individual);
        let claim = claims.len();
        let inv = invs.len();
        claims.push(Claim {
            customer: cu,
            inv: Some(inv),
            saft_number: String::new(),
            date,
            gross,
            ledger: Vec::new(),
            payments: (0, 0),
            credited: 0,
        });
        let has_pdf = !rng.chance(20);
        invs.push(Inv {
            claim,
            date,
            due,
            gross,
            net,
            credit_of: None,
            has_pdf,
            number: 0,
            kid: String::new(),
            id: 0,
            voucher: 0,
        });
        events.push(date, Ev::Invoice { inv });
        planned += 3;
        let distressed = matches!(
            c.brreg,
            Some(
                BrregStatus::Bankrupt(_)
                    | BrregStatus::UnderLiquidation(_)
                    | BrregStatus::ForcedDissolution(_)
            )
        );
        let fate = if distressed {
            // More write-offs and open items, fewer payments.
            match rng.below(1000) {
                0..=299 => 900,
                300..=549 => 700,
                r => r - 550,
            }
        } else {
            rng.below(1000)
        };
        let pay_date = |rng: &mut Rng| {
            if rng.chance(200) {
                due + Duration::days(rng.range(20, 150))
            } else {
                due + Duration::days(rng.range(-8, 15))
            }
        };
        let pay =
            |events: &mut Events, planned: &mut usize, d: NaiveDate, cents: i64, kid: bool| {
                if d < today {
                    events.push(d, Ev::Payment { claim, cents, kid });
                    *planned += 2;
                    true
                } else {
                    false
                }
            };
        match fate {
            // paid in full, mostly by KID
            0..=539 | 950.. => {
                let d = pay_date(&mut rng);
                let kid = rng.chance(880);
                pay(&mut events, &mut planned, d, gross, kid);
            }
            // part payments
            540..=659 => {
                let parts = rng.range(2, 4) as usize;
                let split = split_amount(&mut rng, gross, parts);
                let complete = rng.chance(500);
                let mut d = pay_date(&mut rng);
                for (i, a) in split.iter().enumerate() {
                    if i + 1 == parts && !complete {
                        break;
                    }
                    let kid = rng.chance(800);
                    pay(&mut events, &mut planned, d, *a, kid);
                    d += Duration::days(rng.range(7, 45));
                }
            }
            // open
            660..=799 => {}
            // credit note (full or partial), the rest paid or open
            800..=889 => {
                let full = fate < 860;
                let cd = date + Duration::days(rng.range(1, 25));
                if cd < today {
                    let (cg, cn) = if full {
                        (gross, net)
                    } else {
                        let n = (net * rng.range(10, 60) / 100 / 100) * 100;
                        let v = (n * 25 + 50) / 100;
                        (n + v, n)
                    };
                    let ci = invs.len();
                    invs.push(Inv {
                        claim,
                        date: cd,
                        due: cd,
                        gross: -cg,
                        net: -cn,
                        credit_of: Some(inv),
                        has_pdf: true,
                        number: 0,
                        kid: String::new(),
                        id: 0,
                        voucher: 0,
                    });
                    events.push(cd, Ev::Invoice { inv: ci });
                    planned += 3;
                    if !full && rng.chance(600) {
                        let d = pay_date(&mut rng).max(cd + Duration::days(1));
                        pay(&mut events, &mut planned, d, gross - cg, true);
                    }
                }
            }
            // loss write-off, sometimes after a part payment
            890..=949 => {
                let mut rest = gross;
                if rng.chance(300) {
                    let a = (gross * rng.range(20, 60) / 100 / 100) * 100;
                    if a > 0 && pay(&mut events, &mut planned, pay_date(&mut rng), a, true) {
                        rest -= a;
                    }
                }
                let d = due + Duration::days(rng.range(60, 400));
                if d < today {
                    let marker = rng.chance(650);
                    let c = &customers[cu];
                    let text = write_off_text(&mut rng, marker, c, "faktura {INV}");
                    events.push(
                        d,
                        Ev::WriteOff {
                            claim,
                            cents: rest,
                            text,
                        },
                    );
                    planned += 2;
                }
            }
        }
    }

    // --- phase 2: vouchers and postings in date order
    let mut events = events.list;
    events.sort_by_key(|(d, s, _)| (*d, *s));
    let mut vouchers: Vec<GenVoucher> = Vec::with_capacity(events.len());
    let mut postings: Vec<GenPosting> = Vec::with_capacity(planned);
    let mut next_number: (i32, i64) = (0, 0);
    let mut next_invoice_number = FIRST_INVOICE_NUMBER;
    let mut next_document = DOCUMENT_ID_BASE + 1;
    let mut saft_no = 0;
    for (date, _, ev) in &events {
        let date = *date;
        let year = date.year();
        if next_number.0 != year {
            next_number = (year, 1);
        }
        let vid = VOUCHER_ID_BASE + 1 + vouchers.len() as i64;
        let first = postings.len();
        macro_rules! posting {
            ($acc:expr, $amount:expr, $gross:expr, $desc:expr, $row:expr) => {
                add_posting(&mut postings, vid, date, $acc, $amount, $gross, $desc, $row)
            };
        }
        let (description, vtype, ext) = match ev {
            Ev::Invoice { inv } => {
                let number = next_invoice_number;
                next_invoice_number += 1;
                let claim = invs[*inv].claim;
                let credit_of = invs[*inv].credit_of;
                if credit_of.is_some() {
                    claims[claim].credited -= invs[*inv].gross;
                }
                let cu = &customers[claims[claim].customer];
                let desc = match credit_of {
                    Some(o) => format!("Kreditnota {number} til faktura {}", invs[o].number),
                    None => format!("Faktura {number}"),
                };
                let i = &mut invs[*inv];
                i.number = number;
                i.id = INVOICE_ID_BASE + 1 + (number - FIRST_INVOICE_NUMBER);
                i.voucher = vid;
                if credit_of.is_none() {
                    let base = format!("{:05}{:07}", cu.customer_number % 100_000, number);
                    i.kid = format!("{base}{}", kid_mod10(&base));
                }
                let i = &invs[*inv];
                let vat = i.gross - i.net;
                let p = posting!(1500, i.gross, i.gross, &desc, 1);
                postings[p].customer = Some(cu.id);
                postings[p].invoice_number = i.number.to_string();
                postings[p].term_of_payment = Some(i.due);
                postings[p].posting_type = Some("OUTGOING_INVOICE_CUSTOMER_POSTING");
                claims[claim].ledger.push(p);
                let r = posting!(3000, -i.net, -i.gross, &desc, 2);
                postings[r].vat_type = 3;
                let v = posting!(2700, -vat, -vat, &desc, 0);
                postings[v].system_generated = true;
                postings[v].vat_type = 3;
                (desc, Some(VOUCHER_TYPE_INVOICE), String::new())
            }
            Ev::Payment { claim, cents, kid } => {
                let c = &claims[*claim];
                let cu = &customers[c.customer];
                let (number, kid_str) = match c.inv {
                    Some(i) => (invs[i].number.to_string(), invs[i].kid.clone()),
                    None => (c.saft_number.clone(), String::new()),
                };
                let by_kid = *kid && !kid_str.is_empty();
                let desc = if by_kid {
                    format!("Innbetaling KID {kid_str}")
                } else if number.is_empty() {
                    format!("Innbetaling {}", cu.name)
                } else {
                    format!("Innbetaling faktura {number}")
                };
                let b = posting!(1920, *cents, *cents, &desc, 1);
                let p = posting!(1500, -*cents, -*cents, &desc, 2);
                postings[p].customer = Some(cu.id);
                postings[p].invoice_number = number;
                if by_kid {
                    postings[b].posting_type = Some("INCOMING_PAYMENT_OPPOSITE");
                    postings[p].posting_type = Some("INCOMING_PAYMENT");
                    postings[p].external_ref = kid_str;
                    stats.kid_payments += 1;
                } else {
                    stats.manual_payments += 1;
                }
                claims[*claim].ledger.push(p);
                claims[*claim].payments.0 += 1;
                claims[*claim].payments.1 += *cents;
                (
                    desc,
                    if by_kid {
                        Some(VOUCHER_TYPE_PAYMENT)
                    } else {
                        None
                    },
                    String::new(),
                )
            }
            Ev::WriteOff { claim, cents, text } => {
                let c = &claims[*claim];
                let cu = &customers[c.customer];
                let number = match c.inv {
                    Some(i) => invs[i].number.to_string(),
                    None => c.saft_number.clone(),
                };
                let desc = text.replace("{INV}", &number);
                if has_write_off_marker(&desc) {
                    stats.write_offs_with_marker += 1;
                } else {
                    stats.write_offs_without_marker += 1;
                }
                posting!(7830, *cents, *cents, &desc, 1);
                let p = posting!(1500, -*cents, -*cents, &desc, 2);
                postings[p].customer = Some(cu.id);
                postings[p].invoice_number = number;
                claims[*claim].ledger.push(p);
                (desc, None, String::new())
            }
            Ev::Saft { claim } => {
                saft_no += 1;
                let c = &claims[*claim];
                let cu = &customers[c.customer];
                let desc = if c.saft_number.is_empty() {
                    format!("Inngående balanse kunde {} (SAF-T)", cu.customer_number)
                } else {
                    format!("Inngående balanse faktura {} (SAF-T)", c.saft_number)
                };
                let p = posting!(1500, c.gross, c.gross, &desc, 1);
                postings[p].customer = Some(cu.id);
                postings[p].invoice_number = c.saft_number.clone();
                posting!(2050, -c.gross, -c.gross, &desc, 2);
                claims[*claim].ledger.push(p);
                (
                    desc,
                    Some(VOUCHER_TYPE_OPENING),
                    format!("SAFT-{}-{saft_no}", start.year()),
                )
            }
        };
        if vtype.is_none() {
            stats.null_type_vouchers += 1;
        }
        vouchers.push(GenVoucher {
            id: vid,
            number: next_number.1,
            year,
            date,
            description,
            voucher_type: vtype,
            external_voucher_number: ext,
            first_posting: first,
            posting_count: postings.len() - first,
        });
        next_number.1 += 1;
    }

    // --- phase 3: close claims that net to zero; outstanding amounts
    let mut next_group = CLOSE_GROUP_ID_BASE + 1;
    let mut outstanding = vec![0i64; claims.len()];
    for (ci, c) in claims.iter().enumerate() {
        let (n, paid) = c.payments;
        if n >= 2 || (n == 1 && paid < c.gross - c.credited) {
            stats.part_paid_claims += 1;
        }
        let sum: i64 = c.ledger.iter().map(|&p| postings[p].amount).sum();
        outstanding[ci] = sum;
        if sum == 0 && c.ledger.len() > 1 {
            let last = c
                .ledger
                .iter()
                .map(|&p| postings[p].date)
                .max()
                .unwrap_or(c.date);
            for &p in &c.ledger {
                postings[p].close_group = Some((next_group, last));
            }
            next_group += 1;
            stats.close_groups += 1;
        }
    }
    let mut invoices = Vec::with_capacity(invs.len());
    let credited: std::collections::HashSet<usize> =
        invs.iter().filter_map(|i| i.credit_of).collect();
    let credit_vouchers: std::collections::HashSet<i64> = invs
        .iter()
        .filter(|x| x.credit_of.is_some())
        .map(|x| x.voucher)
        .collect();
    for (k, i) in invs.iter().enumerate() {
        let c = &claims[i.claim];
        let own: Vec<i64> = c
            .ledger
            .iter()
            .filter(|&&p| {
                // The original lists its own posting and payments/write-offs; a credit note its own.
                let on_credit_voucher = credit_vouchers.contains(&postings[p].voucher);
                if i.credit_of.is_some() {
                    postings[p].voucher == i.voucher
                } else {
                    !on_credit_voucher
                }
            })
            .map(|&p| postings[p].id)
            .collect();
        let document_id = if i.has_pdf {
            let d = next_document;
            next_document += 1;
            Some(d)
        } else {
            stats.invoices_without_pdf += 1;
            None
        };
        if i.credit_of.is_some() {
            stats.credit_notes += 1;
        } else {
            stats.invoices += 1;
        }
        invoices.push(GenInvoice {
            id: i.id,
            invoice_number: i.number,
            invoice_date: i.date,
            invoice_due_date: i.due,
            customer: customers[c.customer].id,
            kid: i.kid.clone(),
            is_credit_note: i.credit_of.is_some(),
            credited_invoice: i.credit_of.map(|o| invs[o].id).unwrap_or(0),
            is_credited: credited.contains(&k),
            amount: i.gross,
            amount_excluding_vat: i.net,
            amount_outstanding: if i.credit_of.is_some() {
                0
            } else {
                outstanding[i.claim]
            },
            voucher: i.voucher,
            postings: own,
            document_id,
        });
    }
    invoices.sort_by_key(|i| i.id);

    stats.customers = customers.len();
    stats.private_customers = customers.iter().filter(|c| c.is_private_individual).count();
    stats.inactive_customers = customers.iter().filter(|c| c.is_inactive).count();
    for c in &customers {
        match c.brreg {
            Some(BrregStatus::Bankrupt(_)) => stats.brreg_bankrupt += 1,
            Some(BrregStatus::UnderLiquidation(_)) => stats.brreg_under_liquidation += 1,
            Some(BrregStatus::ForcedDissolution(_)) => stats.brreg_forced_dissolution += 1,
            Some(BrregStatus::Deleted(_)) => stats.brreg_deleted += 1,
            Some(BrregStatus::Removed) => stats.brreg_removed += 1,
            Some(BrregStatus::Unknown) => stats.brreg_unknown += 1,
            _ => {}
        }
    }
    stats.vouchers = vouchers.len();
    stats.postings = postings.len();
    CompanyData {
        spec: spec.clone(),
        today,
        customers,
        invoices,
        vouchers,
        postings,
        stats,
    }
}

#[derive(Default)]
struct Events {
    list: Vec<(NaiveDate, usize, Ev)>,
}

impl Events {
    fn push(&mut self, d: NaiveDate, e: Ev) {
        let seq = self.list.len();
        self.list.push((d, seq, e));
    }
}

#[allow(clippy::too_many_arguments)]
fn add_posting(
    postings: &mut Vec<GenPosting>,
    voucher: i64,
    date: NaiveDate,
    account: i64,
    amount: i64,
    gross: i64,
    desc: &str,
    row: i64,
) -> usize {
    postings.push(GenPosting {
        id: POSTING_ID_BASE + 1 + postings.len() as i64,
        voucher,
        date,
        description: desc.to_string(),
        account_number: account,
        customer: None,
        amount,
        amount_gross: gross,
        vat_type: 0,
        invoice_number: String::new(),
        term_of_payment: None,
        row,
        posting_type: None,
        external_ref: String::new(),
        system_generated: false,
        close_group: None,
    });
    postings.len() - 1
}

// ------------------------------------------------------------------------------------ rendering

/// Øre → NOK as a JSON number with at most 2 decimals.
pub fn nok(ore: i64) -> Value {
    json!(ore as f64 / 100.0)
}

fn date_str(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

/// Tripletex-style timestamp of a change (UTC, seconds).
pub fn timestamp_str(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn currency() -> Value {
    json!({"id": 1, "code": "NOK"})
}

impl CompanyData {
    pub fn customer(&self, id: i64) -> Option<&GenCustomer> {
        let i = usize::try_from(id - CUSTOMER_ID_BASE - 1).ok()?;
        self.customers.get(i).filter(|c| c.id == id)
    }

    pub fn voucher(&self, id: i64) -> Option<&GenVoucher> {
        let i = usize::try_from(id - VOUCHER_ID_BASE - 1).ok()?;
        self.vouchers.get(i).filter(|v| v.id == id)
    }

    pub fn posting(&self, id: i64) -> Option<&GenPosting> {
        let i = usize::try_from(id - POSTING_ID_BASE - 1).ok()?;
        self.postings.get(i).filter(|p| p.id == id)
    }

    /// The postings of a voucher.
    pub fn voucher_postings(&self, v: &GenVoucher) -> &[GenPosting] {
        &self.postings[v.first_posting..v.first_posting + v.posting_count]
    }

    fn customer_ref(&self, id: i64) -> Value {
        match self.customer(id) {
            Some(c) => json!({"id": c.id, "customerNumber": c.customer_number, "name": c.name,
                              "organizationNumber": c.organization_number}),
            None => json!({"id": id}),
        }
    }

    fn voucher_type(id: i64) -> Value {
        let name = VOUCHER_TYPES
            .iter()
            .find(|(i, _)| *i == id)
            .map(|(_, n)| *n)
            .unwrap_or("");
        json!({"id": id, "version": 0, "name": name, "displayName": name})
    }

    /// A customer in Tripletex's wire format (`changes` included; `*` does not select it).
    pub fn render_customer(&self, c: &GenCustomer) -> Value {
        let mut changes = vec![
            json!({"employeeId": 0, "timestamp": timestamp_str(c.created), "changeType": "CREATE"}),
        ];
        if let Some(u) = c.updated {
            changes.push(
                json!({"employeeId": 0, "timestamp": timestamp_str(u), "changeType": "UPDATE"}),
            );
        }
        json!({
            "id": c.id,
            "version": changes.len() - 1,
            "changes": changes,
            "name": c.name,
            "organizationNumber": c.organization_number,
            "globalLocationNumber": 0,
            "customerNumber": c.customer_number,
            "supplierNumber": 0,
            "isCustomer": true,
            "isSupplier": false,
            "isInactive": c.is_inactive,
            "isPrivateIndividual": c.is_private_individual,
            "email": c.email,
            "invoiceEmail": c.email,
            "overdueNoticeEmail": "",
            "phoneNumber": "",
            "phoneNumberMobile": c.phone_number_mobile,
            "description": "",
            "language": "NO",
            "displayName": format!("{} ({})", c.name, c.customer_number),
            "invoicesDueIn": c.invoices_due_in,
            "invoicesDueInType": "DAYS",
            "invoiceSendMethod": if c.is_private_individual { "EFAKTURA" } else { "EHF" },
            "isFactoring": false,
            "isAutomaticSoftReminderEnabled": false,
            "isAutomaticReminderEnabled": false,
            "isAutomaticNoticeOfDebtCollectionEnabled": false,
            "postalAddress": {
                "id": c.id + 500_000_000,
                "addressLine1": c.address_line1,
                "addressLine2": "",
                "postalCode": c.postal_code,
                "city": c.city,
                "country": {"id": 161},
            },
            "currency": currency(),
            "ledgerAccount": {"id": account_id(1500), "number": 1500, "name": "Kundefordringer"},
        })
    }

    pub fn render_invoice(&self, i: &GenInvoice) -> Value {
        let v = self.voucher(i.voucher);
        json!({
            "id": i.id,
            "version": 1,
            "invoiceNumber": i.invoice_number,
            "invoiceDate": date_str(i.invoice_date),
            "invoiceDueDate": date_str(i.invoice_due_date),
            "deliveryDate": date_str(i.invoice_date),
            "customer": self.customer_ref(i.customer),
            "kid": i.kid,
            "isCreditNote": i.is_credit_note,
            "creditedInvoice": i.credited_invoice,
            "isCredited": i.is_credited,
            "isCharged": true,
            "isApproved": true,
            "amount": nok(i.amount),
            "amountCurrency": nok(i.amount),
            "amountExcludingVat": nok(i.amount_excluding_vat),
            "amountExcludingVatCurrency": nok(i.amount_excluding_vat),
            "amountRoundoff": 0.0,
            "amountRoundoffCurrency": 0.0,
            "amountOutstanding": nok(i.amount_outstanding),
            "amountCurrencyOutstanding": nok(i.amount_outstanding),
            "amountOutstandingTotal": nok(i.amount_outstanding),
            "amountCurrencyOutstandingTotal": nok(i.amount_outstanding),
            "sumRemits": 0.0,
            "currency": currency(),
            "voucher": match v {
                Some(v) => json!({"id": v.id, "number": v.number, "year": v.year, "date": date_str(v.date)}),
                None => json!({"id": i.voucher}),
            },
            "postings": i.postings.iter().map(|p| json!({"id": p})).collect::<Vec<_>>(),
            "reminders": [],
            "invoiceRemark": Value::Null,
            "comment": "",
            "invoiceComment": "",
            "documentId": i.document_id,
        })
    }

    pub fn render_posting(&self, p: &GenPosting) -> Value {
        let v = self.voucher(p.voucher);
        let (name, ..) = CHART
            .iter()
            .find(|a| a.0 == p.account_number)
            .map(|a| (a.1, a.2))
            .unwrap_or(("", ""));
        json!({
            "id": p.id,
            "version": 0,
            "voucher": match v {
                Some(v) => json!({"id": v.id, "number": v.number, "year": v.year, "date": date_str(v.date),
                                  "description": v.description,
                                  "voucherType": v.voucher_type.map(Self::voucher_type)}),
                None => json!({"id": p.voucher}),
            },
            "date": date_str(p.date),
            "description": p.description,
            "account": {"id": p.account_id(), "number": p.account_number, "name": name},
            "customer": p.customer.map(|c| self.customer_ref(c)),
            "supplier": Value::Null,
            "employee": Value::Null,
            "project": Value::Null,
            "product": Value::Null,
            "department": Value::Null,
            "vatType": {"id": p.vat_type},
            "amount": nok(p.amount),
            "amountCurrency": nok(p.amount),
            "amountGross": nok(p.amount_gross),
            "amountGrossCurrency": nok(p.amount_gross),
            "currency": currency(),
            "closeGroup": p.close_group.map(|(id, d)| json!({"id": id, "date": date_str(d)})),
            "invoiceNumber": p.invoice_number,
            "termOfPayment": p.term_of_payment.map(date_str),
            "row": p.row,
            "type": p.posting_type,
            "externalRef": p.external_ref,
            "systemGenerated": p.system_generated,
            "matched": p.account_number == 1920 && p.close_group.is_some(),
        })
    }

    /// A voucher; its postings as `{id}` references (the server expands them on `postings(...)`).
    pub fn render_voucher(&self, v: &GenVoucher) -> Value {
        json!({
            "id": v.id,
            "version": 0,
            "date": date_str(v.date),
            "number": v.number,
            "tempNumber": 0,
            "year": v.year,
            "description": v.description,
            "voucherType": v.voucher_type.map(Self::voucher_type),
            "reverseVoucher": Value::Null,
            "postings": self.voucher_postings(v).iter().map(|p| json!({"id": p.id})).collect::<Vec<_>>(),
            "document": Value::Null,
            "attachment": Value::Null,
            "externalVoucherNumber": v.external_voucher_number,
            "ediDocument": Value::Null,
            "vendorInvoiceNumber": "",
            "numberAsString": format!("{}-{}", v.number, v.year),
            "displayName": format!("{}-{} {}", v.number, v.year, v.description),
        })
    }

    /// The generated chart of accounts.
    pub fn render_accounts() -> Vec<Value> {
        CHART
            .iter()
            .map(|&(number, name, ty, ledger, bank, vat)| {
                json!({
                    "id": account_id(number),
                    "version": 0,
                    "number": number,
                    "numberPretty": number.to_string(),
                    "name": name,
                    "description": "",
                    "type": ty,
                    "ledgerType": ledger,
                    "isCloseable": ledger == "CUSTOMER" || ledger == "VENDOR",
                    "isInactive": false,
                    "isBankAccount": bank,
                    "isInvoiceAccount": false,
                    "isApplicableForSupplierInvoice": false,
                    "requireReconciliation": bank,
                    "vatLocked": vat != 0,
                    "displayName": format!("{number} {name}"),
                    "currency": currency(),
                    "vatType": {"id": vat},
                    "saftCode": "",
                })
            })
            .collect()
    }
}

/// The Enhetsregisteret answer for a business customer: (HTTP status, body). `None` = 404.
pub fn render_brreg(c: &GenCustomer, today: NaiveDate) -> Option<(u16, Value)> {
    let status = c.brreg?;
    let orgnr = &c.organization_number;
    let form = if c.name.ends_with(" AS") {
        json!({"kode": "AS", "beskrivelse": "Aksjeselskap"})
    } else {
        json!({"kode": "ENK", "beskrivelse": "Enkeltpersonforetak"})
    };
    let navn = c.name.to_uppercase();
    let links = json!({"self": {"href": format!("https://data.brreg.no/enhetsregisteret/api/enheter/{orgnr}")}});
    let address = json!({
        "land": "Norge",
        "landkode": "NO",
        "postnummer": c.postal_code,
        "poststed": c.city.to_uppercase(),
        "adresse": [c.address_line1],
        "kommune": c.city.to_uppercase(),
        "kommunenummer": POSTAL.iter().find(|p| p.0 == c.postal_code).map(|p| p.2).unwrap_or("0301"),
    });
    match status {
        BrregStatus::Unknown => None,
        BrregStatus::Removed => Some((
            410,
            json!({"timestamp": format!("{}T00:00:00.000+00:00", date_str(today)), "status": 410,
                   "error": "Gone", "message": "Enheten er fjernet",
                   "path": format!("/enhetsregisteret/api/enheter/{orgnr}")}),
        )),
        BrregStatus::Deleted(d) => Some((
            200,
            json!({"organisasjonsnummer": orgnr, "navn": navn, "organisasjonsform": form,
                   "slettedato": date_str(d), "respons_klasse": "SlettetEnhet", "_links": links}),
        )),
        _ => {
            let reg = c.created.date_naive() - Duration::days(365);
            let mut b = json!({
                "organisasjonsnummer": orgnr,
                "navn": navn,
                "organisasjonsform": form,
                "registreringsdatoEnhetsregisteret": date_str(reg),
                "registrertIMvaregisteret": c.name.ends_with(" AS"),
                "naeringskode1": {"kode": "43.221", "beskrivelse": "Rørleggerarbeid"},
                "harRegistrertAntallAnsatte": true,
                "antallAnsatte": 3 + (c.customer_number % 40),
                "forretningsadresse": address,
                "stiftelsesdato": date_str(reg),
                "registrertIForetaksregisteret": true,
                "registrertIFrivillighetsregisteret": false,
                "konkurs": false,
                "underAvvikling": false,
                "underTvangsavviklingEllerTvangsopplosning": false,
                "maalform": "Bokmål",
                "erIKonsern": false,
                "respons_klasse": "Enhet",
                "_links": links,
            });
            if c.customer_number % 3 == 0 {
                b["postadresse"] = json!({
                    "land": "Norge", "landkode": "NO", "postnummer": c.postal_code,
                    "poststed": c.city.to_uppercase(),
                    "adresse": [format!("Postboks {}", 100 + c.customer_number % 900)],
                    "kommune": c.city.to_uppercase(),
                    "kommunenummer": address["kommunenummer"].clone(),
                });
            }
            match status {
                BrregStatus::Bankrupt(d) => {
                    b["konkurs"] = json!(true);
                    b["konkursdato"] = json!(date_str(d));
                }
                BrregStatus::UnderLiquidation(d) => {
                    b["underAvvikling"] = json!(true);
                    b["underAvviklingDato"] = json!(date_str(d));
                }
                BrregStatus::ForcedDissolution(_) => {
                    b["underTvangsavviklingEllerTvangsopplosning"] = json!(true);
                }
                _ => {}
            }
            Some((200, b))
        }
    }
}
