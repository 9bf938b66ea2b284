//! The sandbox's data: companies (each with its own collections of Tripletex objects), consumer
//! tokens, employee keys, accountant links and access templates. Read from JSON (or TOML) files; see
//! the README for the format. Objects in the collections are stored in Tripletex's wire format
//! (camelCase, as the spec's schemas), so later issues add data without touching code.

use crate::generator::GenSpec;
use anyhow::{bail, Context};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The demo fixture (fixtures/demo.json), embedded.
pub const DEMO_JSON: &str = include_str!("../fixtures/demo.json");

/// A scenario for the demo's Fjordkraft Rørlegger AS (2001), kept out of the demo fixture so the
/// demo's ledger stays as other tests count it: invoice 10025 (80003, Fjellhytter AS, 6 250 kr,
/// 2025-03-10) written off on 2025-11-14 without a marker word («Korrigering reskontro
/// Fjellhytter AS», 7830 debit / 1500 credit, voucher 50005). `{"companyId", "collections"}`;
/// see [`Fixture::with_write_off_without_marker`].
pub const WRITE_OFF_WITHOUT_MARKER_JSON: &str =
    include_str!("../fixtures/write-off-without-marker.json");

/// A scenario for the demo's Fjordkraft Rørlegger AS (2001), Tripletex's three views of one
/// invoice disagreeing: invoice 2003 (80004, Havbruk Service AS, 4 200 kr, 2026-06-15, due
/// 2026-06-29) written off on 2026-10-15 with a manual voucher «Tapsført faktura 2003 Havbruk
/// Service AS» (7830 debit / 1500 credit with the customer and the invoice number, voucher
/// 50008) that was never matched to the invoice. The two 1500 postings net to zero and share a
/// close group, so `openPost` no longer lists them; the invoice's `amountOutstanding` still says
/// 4 200. See [`Fixture::with_unmatched_write_off`].
pub const UNMATCHED_WRITE_OFF_JSON: &str = include_str!("../fixtures/unmatched-write-off.json");

/// An entitlement: which endpoint family a key may use for a company.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Entitlement {
    Customers,
    Invoices,
    LedgerPostings,
    Vouchers,
    Accounts,
    /// «Avansert bilag»: needed to post a voucher to the ledger (`sendToLedger`) and to reverse.
    AdvancedVoucher,
}

impl Entitlement {
    pub const ALL: [Entitlement; 6] = [
        Self::Customers,
        Self::Invoices,
        Self::LedgerPostings,
        Self::Vouchers,
        Self::Accounts,
        Self::AdvancedVoucher,
    ];
}

/// The name of the template that grants everything ("Alle tilganger" in Tripletex's GUI).
pub const ALL_ACCESS_TEMPLATE: &str = "Alle tilganger";

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Fixture {
    /// Consumer tokens the sandbox accepts (ours is one of them).
    pub consumer_tokens: Vec<String>,
    /// Access templates: name → entitlements. "Alle tilganger" is always present and grants all.
    #[serde(default)]
    pub access_templates: BTreeMap<String, BTreeSet<Entitlement>>,
    pub companies: Vec<CompanyFixture>,
    pub employee_keys: Vec<EmployeeKeyFixture>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CompanyFixture {
    pub id: i64,
    pub name: String,
    /// Nine digits, valid MOD11; "" for none.
    #[serde(default)]
    pub organization_number: String,
    /// Tripletex company type (`AS`, `ENK`, ...).
    #[serde(default = "default_company_type")]
    pub r#type: String,
    #[serde(default)]
    pub email: String,
    /// An accounting office (Client.accountantOrSimilar).
    #[serde(default)]
    pub accountant_or_similar: bool,
    /// Selskap → Regnskapsfører → API-tilgang: whether an accountant's key may use the API for
    /// this company. Irrelevant for the company's own keys.
    #[serde(default = "yes")]
    pub api_access_enabled: bool,
    #[serde(default)]
    pub employees: Vec<EmployeeFixture>,
    /// Collections of Tripletex objects in wire format, by collection name:
    /// `customers`, `invoices`, `postings`, `vouchers`, `accounts` (later: more).
    #[serde(default)]
    pub collections: BTreeMap<String, Vec<Value>>,
    /// A generated client company added to the collections when the sandbox starts (see
    /// `generator`): `{"seed": 7, "postings": 100000}`. Without `today` the sandbox clock's date.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generate: Option<GenSpec>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EmployeeFixture {
    pub id: i64,
    pub first_name: String,
    pub last_name: String,
    #[serde(default)]
    pub email: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EmployeeKeyFixture {
    /// Internal id (EmployeeToken.id).
    pub id: i64,
    /// The employee token as the user pastes it.
    pub token: String,
    /// Owning company and employee.
    pub company_id: i64,
    pub employee_id: i64,
    /// "Regnskapskontorets brukernøkkel": may act for linked clients.
    #[serde(default)]
    pub accountant: bool,
    /// Deleted in Tripletex: session creation is refused, existing sessions stop working.
    #[serde(default)]
    pub deleted: bool,
    /// Expires at the start of this date (Oslo); None = never.
    #[serde(default)]
    pub expiration_date: Option<NaiveDate>,
    /// Template for the key's own company (ordinary keys).
    #[serde(default = "all_access")]
    pub template: String,
    /// Accountant keys: the clients reached and the template per client.
    #[serde(default)]
    pub clients: Vec<ClientLink>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClientLink {
    pub company_id: i64,
    #[serde(default = "all_access")]
    pub template: String,
}

fn default_company_type() -> String {
    "AS".into()
}
fn yes() -> bool {
    true
}
fn all_access() -> String {
    ALL_ACCESS_TEMPLATE.into()
}

/// The collections the sandbox serves now, their endpoint and the entitlement they need.
pub const COLLECTIONS: [(&str, &str, Entitlement, &str); 5] = [
    ("customers", "/customer", Entitlement::Customers, "Customer"),
    ("invoices", "/invoice", Entitlement::Invoices, "Invoice"),
    (
        "postings",
        "/ledger/posting",
        Entitlement::LedgerPostings,
        "Posting",
    ),
    (
        "vouchers",
        "/ledger/voucher",
        Entitlement::Vouchers,
        "Voucher",
    ),
    (
        "accounts",
        "/ledger/account",
        Entitlement::Accounts,
        "Account",
    ),
];

impl Fixture {
    /// Reads a fixture from a `.json` or `.toml` file and validates it.
    pub fn from_path(p: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(p)
            .with_context(|| format!("reading fixture {}", p.display()))?;
        let fixture: Fixture = if p.extension().is_some_and(|e| e == "toml") {
            toml_to_fixture(&text).with_context(|| format!("parsing {}", p.display()))?
        } else {
            serde_json::from_str(&text).with_context(|| format!("parsing {}", p.display()))?
        };
        fixture.validated()
    }

    /// Parses and validates fixture JSON.
    pub fn from_json(text: &str) -> anyhow::Result<Self> {
        let fixture: Fixture = serde_json::from_str(text).context("parsing fixture JSON")?;
        fixture.validated()
    }

    /// fixtures/demo.json (embedded).
    pub fn demo() -> Self {
        match Self::from_json(DEMO_JSON) {
            Ok(f) => f,
            // The demo fixture is compiled in and covered by tests; a broken one is a build defect.
            Err(e) => panic!("embedded demo fixture is invalid: {e:#}"),
        }
    }

    /// Adds a generated client company (customers, invoices, postings, vouchers, chart of accounts,
    /// Brønnøysund entities) to company `company_id`, next to its fixture collections. Generated
    /// ids do not collide with the demo fixture's (see `generator`'s id bases). Fails for an
    /// unknown company.
    pub fn with_generated_company(
        mut self,
        company_id: i64,
        spec: GenSpec,
    ) -> anyhow::Result<Self> {
        let Some(c) = self.companies.iter_mut().find(|c| c.id == company_id) else {
            bail!("no company {company_id} in the fixture");
        };
        c.generate = Some(spec);
        Ok(self)
    }

    /// Appends objects to company `company_id`'s collections: `collections` is
    /// `{"postings": [...], "vouchers": [...], ...}` in wire format, as in a fixture file. Fails for
    /// an unknown company or collection, an object without an integer id, or an id the collection
    /// already has.
    pub fn with_objects(mut self, company_id: i64, collections: &Value) -> anyhow::Result<Self> {
        let Some(c) = self.companies.iter_mut().find(|c| c.id == company_id) else {
            bail!("no company {company_id} in the fixture");
        };
        let Some(collections) = collections.as_object() else {
            bail!("collections must be an object of arrays");
        };
        for (name, items) in collections {
            let Some(items) = items.as_array() else {
                bail!("collection {name:?} must be an array");
            };
            let existing = c.collections.entry(name.clone()).or_default();
            for item in items {
                let id = item.get("id").and_then(Value::as_i64);
                if id.is_some()
                    && existing
                        .iter()
                        .any(|o| o.get("id").and_then(Value::as_i64) == id)
                {
                    bail!("company {company_id}: {name} already has an object with id {id:?}");
                }
                existing.push(item.clone());
            }
        }
        self.validated()
    }

    /// Adds the write-off without a marker word ([`WRITE_OFF_WITHOUT_MARKER_JSON`]) to the demo's
    /// company 2001.
    pub fn with_write_off_without_marker(self) -> anyhow::Result<Self> {
        self.with_scenario(
            "write-off-without-marker.json",
            WRITE_OFF_WITHOUT_MARKER_JSON,
        )
    }

    /// Adds the write-off never matched to its invoice ([`UNMATCHED_WRITE_OFF_JSON`]) to the
    /// demo's company 2001.
    pub fn with_unmatched_write_off(self) -> anyhow::Result<Self> {
        self.with_scenario("unmatched-write-off.json", UNMATCHED_WRITE_OFF_JSON)
    }

    /// Adds a scenario file (`{"companyId", "collections"}`, named `file` in errors).
    fn with_scenario(self, file: &str, json: &str) -> anyhow::Result<Self> {
        let v: Value =
            serde_json::from_str(json).with_context(|| format!("parsing fixtures/{file}"))?;
        let Some(company) = v.get("companyId").and_then(Value::as_i64) else {
            bail!("fixtures/{file} lacks companyId");
        };
        self.with_objects(company, &v["collections"])
    }

    /// The entitlements a template grants.
    pub fn template(&self, name: &str) -> BTreeSet<Entitlement> {
        if name == ALL_ACCESS_TEMPLATE {
            return Entitlement::ALL.into_iter().collect();
        }
        self.access_templates.get(name).cloned().unwrap_or_default()
    }

    fn validated(mut self) -> anyhow::Result<Self> {
        self.access_templates
            .entry(ALL_ACCESS_TEMPLATE.to_string())
            .or_insert_with(|| Entitlement::ALL.into_iter().collect());
        let mut ids = BTreeSet::new();
        for c in &self.companies {
            if !ids.insert(c.id) {
                bail!("company id {} appears twice", c.id);
            }
            if !c.organization_number.is_empty() && !valid_org_number(&c.organization_number) {
                bail!(
                    "company {} has an invalid organisation number {}",
                    c.id,
                    c.organization_number
                );
            }
            for name in c.collections.keys() {
                if !COLLECTIONS.iter().any(|(n, ..)| n == name) {
                    bail!("company {}: unknown collection {name:?}", c.id);
                }
            }
            for (name, items) in &c.collections {
                for item in items {
                    if item.get("id").and_then(Value::as_i64).is_none() {
                        bail!("company {}: an object in {name} lacks an integer id", c.id);
                    }
                }
            }
        }
        let mut tokens = BTreeSet::new();
        for k in &self.employee_keys {
            if !tokens.insert(k.token.clone()) {
                bail!("employee key {} appears twice", k.id);
            }
            let Some(company) = self.companies.iter().find(|c| c.id == k.company_id) else {
                bail!(
                    "employee key {} belongs to unknown company {}",
                    k.id,
                    k.company_id
                );
            };
            if !company.employees.iter().any(|e| e.id == k.employee_id) {
                bail!(
                    "employee key {}: employee {} is not in company {}",
                    k.id,
                    k.employee_id,
                    k.company_id
                );
            }
            if !self.access_templates.contains_key(&k.template) {
                bail!("employee key {}: unknown template {:?}", k.id, k.template);
            }
            if !k.accountant && !k.clients.is_empty() {
                bail!(
                    "employee key {} is not an accountant key but lists clients",
                    k.id
                );
            }
            for l in &k.clients {
                if !ids.contains(&l.company_id) {
                    bail!(
                        "employee key {}: unknown client company {}",
                        k.id,
                        l.company_id
                    );
                }
                if !self.access_templates.contains_key(&l.template) {
                    bail!("employee key {}: unknown template {:?}", k.id, l.template);
                }
            }
        }
        Ok(self)
    }
}

fn toml_to_fixture(text: &str) -> anyhow::Result<Fixture> {
    // TOML → JSON value → Fixture, so both formats share one schema.
    let v: toml::Value = toml::from_str(text)?;
    let json = serde_json::to_value(v)?;
    Ok(serde_json::from_value(json)?)
}

/// MOD11 with weights 3,2,7,6,5,4,3,2 (organisasjonsnummer).
pub fn valid_org_number(s: &str) -> bool {
    let d: Vec<u32> = s.chars().filter_map(|c| c.to_digit(10)).collect();
    if d.len() != 9 || s.len() != 9 {
        return false;
    }
    let sum: u32 = d[..8]
        .iter()
        .zip([3, 2, 7, 6, 5, 4, 3, 2])
        .map(|(a, b)| a * b)
        .sum();
    let check = match 11 - sum % 11 {
        11 => 0,
        10 => return false,
        c => c,
    };
    check == d[8]
}
