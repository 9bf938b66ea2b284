//! The Tripletex data the client returns, and the wire shapes it reads them from.
//! Wire DTOs have every field optional (`fields=` and entitlements decide what comes back) and map
//! Tripletex's `""` for unset strings to `None`.

use serde::{Deserialize, Deserializer};

/// `""` (and whitespace-only) → `None`.
pub fn empty_as_none<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let v: Option<String> = Option::deserialize(d)?;
    Ok(v.filter(|s| !s.trim().is_empty()))
}

/// `{ "value": T }`.
#[derive(Debug, Deserialize)]
pub struct Single<T> {
    pub value: T,
}

/// `ListResponse<T>`; only `values` is relied upon (`fullResultSize` is never trusted).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListPage<T> {
    #[serde(default = "Vec::new")]
    pub values: Vec<T>,
    #[serde(default)]
    pub full_result_size: Option<i64>,
    #[serde(default)]
    pub version_digest: Option<String>,
}

/// A reference `{id, url}` or an expanded object of which we only need the id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct Ref {
    pub id: i64,
}

/// Who the session acts as (`GET /token/session/>whoAmI`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WhoAmI {
    pub employee_id: i64,
    /// The token owner's employee id (differs from `employee_id` when acting as a proxy).
    pub actual_employee_id: Option<i64>,
    /// The company the request acted for (own company, or the client when acting as one).
    pub company_id: i64,
    pub company_name: Option<String>,
    pub company_org_number: Option<String>,
    pub employee_is_proxy: Option<bool>,
    pub language: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct WhoAmIWire {
    pub employee_id: Option<i64>,
    pub actual_employee_id: Option<i64>,
    pub company_id: Option<i64>,
    pub company: Option<CompanyWire>,
    pub employee_is_proxy: Option<bool>,
    pub language: Option<String>,
}

/// A client company the accountant key has login access to (`GET /company/>withLoginAccess`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCompany {
    /// Use as the Basic-auth user name (`Acting::Client(id)`).
    pub id: i64,
    pub name: String,
    /// `""` from Tripletex → `None`.
    pub organization_number: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ClientWire {
    pub id: i64,
    #[serde(default, deserialize_with = "empty_as_none")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "empty_as_none")]
    pub display_name: Option<String>,
    #[serde(default, deserialize_with = "empty_as_none")]
    pub organization_number: Option<String>,
}

impl From<ClientWire> for ClientCompany {
    fn from(w: ClientWire) -> Self {
        Self {
            id: w.id,
            name: w.name.or(w.display_name).unwrap_or_default(),
            organization_number: w.organization_number,
        }
    }
}

/// A company (`GET /company/{id}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Company {
    pub id: i64,
    pub name: String,
    pub organization_number: Option<String>,
    pub email: Option<String>,
    pub phone_number: Option<String>,
    /// Tripletex company type (`AS`, `ENK`, ...).
    pub company_type: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CompanyWire {
    pub id: Option<i64>,
    #[serde(default, deserialize_with = "empty_as_none")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "empty_as_none")]
    pub organization_number: Option<String>,
    #[serde(default, deserialize_with = "empty_as_none")]
    pub email: Option<String>,
    #[serde(default, deserialize_with = "empty_as_none")]
    pub phone_number: Option<String>,
    #[serde(default, rename = "type", deserialize_with = "empty_as_none")]
    pub company_type: Option<String>,
}

/// The endpoints Inndrive needs, as probed by `probe_access`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ProbeEndpoint {
    Customers,
    Invoices,
    LedgerPostings,
    Vouchers,
    Accounts,
}

impl ProbeEndpoint {
    pub const ALL: [ProbeEndpoint; 5] = [
        Self::Customers,
        Self::Invoices,
        Self::LedgerPostings,
        Self::Vouchers,
        Self::Accounts,
    ];

    /// Path relative to the base URL.
    pub fn path(self) -> &'static str {
        match self {
            Self::Customers => "/customer",
            Self::Invoices => "/invoice",
            Self::LedgerPostings => "/ledger/posting",
            Self::Vouchers => "/ledger/voucher",
            Self::Accounts => "/ledger/account",
        }
    }

    /// Stable name for logs, API responses and storage.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Customers => "customers",
            Self::Invoices => "invoices",
            Self::LedgerPostings => "ledger_postings",
            Self::Vouchers => "vouchers",
            Self::Accounts => "accounts",
        }
    }
}

/// What `probe_access` found: which endpoints answered and which were refused with 403.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccessReport {
    pub allowed: Vec<ProbeEndpoint>,
    pub refused: Vec<ProbeEndpoint>,
}

impl AccessReport {
    /// Everything Inndrive needs is reachable.
    pub fn is_complete(&self) -> bool {
        self.refused.is_empty()
    }
    pub fn is_refused(&self, e: ProbeEndpoint) -> bool {
        self.refused.contains(&e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_wire_maps_empty_org_number_to_none() {
        let v: Vec<ClientWire> = serde_json::from_str(
            r#"[{"id":1,"name":"A AS","organizationNumber":""},{"id":2,"name":"B AS","organizationNumber":"923609016"},{"id":3,"displayName":"C"}]"#,
        )
        .unwrap();
        let c: Vec<ClientCompany> = v.into_iter().map(Into::into).collect();
        assert_eq!(c[0].organization_number, None);
        assert_eq!(c[1].organization_number.as_deref(), Some("923609016"));
        assert_eq!(c[2].name, "C");
    }

    #[test]
    fn list_page_tolerates_missing_meta() {
        let p: ListPage<Ref> = serde_json::from_str(r#"{"values":[{"id":4,"url":"x"}]}"#).unwrap();
        assert_eq!(p.values, vec![Ref { id: 4 }]);
        assert_eq!(p.full_result_size, None);
    }
}
