//! Writing to a customer: `PUT /customer/{id}` with the postal address only (reference §4.3).
//!
//! Tripletex's `PUT` is a partial update: the body carries the customer's `id`, the `version` it
//! was read at (optimistic locking: a stale version answers 409 code 8000 "RevisionException",
//! reference §3.5/§3.7) and `postalAddress` — an `Address` with the address's own `id` when known,
//! so the address is updated in place. The country is not sent (Tripletex keeps the one it has).
//!
//! Like every request of the client, a 429/5xx/transport failure is retried with the same body.
//! That is safe here: should a first attempt have landed, the retry meets the new version and
//! answers a conflict ([`is_version_conflict`]), and the next sync reads the written address.

use reqwest::header::AUTHORIZATION;
use serde::{Deserialize, Serialize};

use super::{Acting, EmployeeKey, TripletexClient, TripletexError};
use crate::domain::ledger::PostalAddress;

/// Tripletex's `Address` as written: two street lines, postal code and city (`""` for none).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AddressBody {
    /// The customer's current postal address id: updated in place. Without it Tripletex makes the
    /// address anew.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
    pub address_line1: String,
    pub address_line2: String,
    pub postal_code: String,
    pub city: String,
}

impl AddressBody {
    /// The first line goes to `addressLine1`; further lines (Enhetsregisteret has up to three)
    /// are joined with ", " into `addressLine2`.
    pub fn from_postal(address: &PostalAddress, id: Option<i64>) -> Self {
        let mut lines = address
            .lines
            .iter()
            .map(|l| l.trim())
            .filter(|l| !l.is_empty());
        let first = lines.next().unwrap_or_default().to_string();
        let rest: Vec<&str> = lines.collect();
        Self {
            id,
            address_line1: first,
            address_line2: rest.join(", "),
            postal_code: address
                .postal_code
                .as_deref()
                .unwrap_or_default()
                .trim()
                .to_string(),
            city: address
                .city
                .as_deref()
                .unwrap_or_default()
                .trim()
                .to_string(),
        }
    }

    /// Same lines, postal code and city as `other` (case and spacing ignored; `id` not compared).
    pub fn same_text(&self, other: &AddressBody) -> bool {
        let fold = |s: &str| {
            s.split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
                .to_lowercase()
        };
        fold(&self.address_line1) == fold(&other.address_line1)
            && fold(&self.address_line2) == fold(&other.address_line2)
            && fold(&self.postal_code) == fold(&other.postal_code)
            && fold(&self.city) == fold(&other.city)
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PostalAddressPut<'a> {
    id: i64,
    version: i64,
    postal_address: &'a AddressBody,
}

/// What Tripletex answered: the customer's id and new version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UpdatedCustomer {
    pub id: i64,
    /// `None` if the answer did not carry it (the write still succeeded).
    pub version: Option<i64>,
}

#[derive(Deserialize)]
struct UpdatedWire {
    id: Option<i64>,
    version: Option<i64>,
}

#[derive(Deserialize)]
struct UpdatedWrapper {
    value: Option<UpdatedWire>,
}

/// The customer changed since its `version` was read: 409 with code 8000 (RevisionException) or
/// without a code, or a 422 whose validation message is about the version.
pub fn is_version_conflict(e: &TripletexError) -> bool {
    let TripletexError::Api(api) = e else {
        return false;
    };
    match api.status {
        409 => matches!(api.code, None | Some(8000)),
        422 => {
            let about_version = |s: &str| {
                let s = s.to_lowercase();
                s.contains("version") || s.contains("versjon") || s.contains("revision")
            };
            api.validation_messages
                .iter()
                .any(|v| v.field.as_deref().is_some_and(about_version))
                || about_version(&api.message)
        }
        _ => false,
    }
}

impl TripletexClient {
    /// `PUT /customer/{id}` changing only the postal address, at `version` (optimistic locking).
    /// A stale version is an error for which [`is_version_conflict`] is true.
    pub async fn put_customer_postal_address(
        &self,
        key: &EmployeeKey,
        acting: Acting,
        customer_id: i64,
        version: i64,
        address: &AddressBody,
    ) -> Result<UpdatedCustomer, TripletexError> {
        let path = format!("/customer/{customer_id}");
        let body = PostalAddressPut {
            id: customer_id,
            version,
            postal_address: address,
        };
        let result = async {
            let raw = self.authed_put_json(key, acting, &path, &body).await?;
            // A 2xx is the write; the body only tells the new version.
            let parsed = serde_json::from_slice::<UpdatedWrapper>(&raw)
                .ok()
                .and_then(|w| w.value);
            Ok(UpdatedCustomer {
                id: parsed.as_ref().and_then(|v| v.id).unwrap_or(customer_id),
                version: parsed.and_then(|v| v.version),
            })
        }
        .await;
        result.map_err(|e| self.scrub(e, key))
    }

    /// PUT with a JSON body and the key's session acting as `acting` (see
    /// [`TripletexClient::authed`]). Returns the body of a 2xx response.
    async fn authed_put_json<B: Serialize>(
        &self,
        key: &EmployeeKey,
        acting: Acting,
        path: &str,
        body: &B,
    ) -> Result<Vec<u8>, TripletexError> {
        let url = self.url(path);
        let json = serde_json::to_vec(body)
            .map_err(|e| TripletexError::Decode(format!("PUT {path}: body: {e}")))?;
        self.authed(key, acting, path, |auth| {
            self.http
                .put(&url)
                .header(AUTHORIZATION, auth)
                .header(
                    reqwest::header::CONTENT_TYPE,
                    "application/json; charset=utf-8",
                )
                .body(json.clone())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::tripletex::ApiError;

    fn addr(lines: &[&str], code: Option<&str>, city: Option<&str>) -> PostalAddress {
        PostalAddress {
            lines: lines.iter().map(|s| s.to_string()).collect(),
            postal_code: code.map(str::to_string),
            city: city.map(str::to_string),
            country_code: Some("NO".into()),
        }
    }

    #[test]
    fn register_lines_fit_tripletexs_two_lines() {
        let b = AddressBody::from_postal(
            &addr(
                &["c/o Regnskap AS", " Postboks 12 ", "Kaigata 7"],
                Some("5003"),
                Some("BERGEN"),
            ),
            Some(9),
        );
        assert_eq!(b.address_line1, "c/o Regnskap AS");
        assert_eq!(b.address_line2, "Postboks 12, Kaigata 7");
        assert_eq!(
            (b.postal_code.as_str(), b.city.as_str()),
            ("5003", "BERGEN")
        );
        let v = serde_json::to_value(&b).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"id": 9, "addressLine1": "c/o Regnskap AS",
                "addressLine2": "Postboks 12, Kaigata 7", "postalCode": "5003", "city": "BERGEN"})
        );
        let none = AddressBody::from_postal(&addr(&[], None, None), None);
        assert_eq!(none.address_line1, "");
        assert!(serde_json::to_value(&none).unwrap().get("id").is_none());
        assert!(b.same_text(&AddressBody::from_postal(
            &addr(
                &["C/O  Regnskap AS", "Postboks 12,  Kaigata 7"],
                Some("5003"),
                Some("Bergen")
            ),
            None
        )));
        assert!(!b.same_text(&none));
    }

    #[test]
    fn conflicts_are_recognised() {
        let e = |status: u16, body: &str| {
            TripletexError::from_status(ApiError::parse(status, body.as_bytes(), None))
        };
        assert!(is_version_conflict(&e(
            409,
            r#"{"status":409,"code":8000,"message":"RevisionException"}"#
        )));
        assert!(is_version_conflict(&e(409, "")));
        assert!(!is_version_conflict(&e(
            409,
            r#"{"status":409,"code":10000,"message":"Locked"}"#
        )));
        assert!(is_version_conflict(&e(
            422,
            r#"{"status":422,"code":18000,"message":"Validering feilet.","validationMessages":[{"field":"version","message":"Objektet er endret"}]}"#
        )));
        assert!(!is_version_conflict(&e(
            422,
            r#"{"status":422,"code":18000,"message":"Validering feilet.","validationMessages":[{"field":"postalAddress.postalCode","message":"Ugyldig"}]}"#
        )));
        assert!(!is_version_conflict(&e(404, "{}")));
        assert!(!is_version_conflict(&TripletexError::Transport("x".into())));
    }
}
