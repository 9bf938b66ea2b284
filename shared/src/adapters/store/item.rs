//! Small helpers to read and write DynamoDB attribute maps, shared by every store module.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine as _;
use chrono::{DateTime, NaiveDate, Utc};

use super::StoreError;

pub(crate) type Item = HashMap<String, AttributeValue>;

/// The key attributes of an item (the start of every item, and the key of every request).
pub(crate) fn key(pk: String, sk: String) -> Item {
    [("PK".to_string(), s(pk)), ("SK".to_string(), s(sk))].into()
}

/// A small JSON document kept as a string attribute.
pub(crate) fn to_json<T: serde::Serialize>(v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// A request builder that refused its input (a required field missing: our bug).
pub(crate) fn build_err(e: aws_sdk_dynamodb::error::BuildError) -> StoreError {
    StoreError::Service(format!("request could not be built: {e}"))
}

/// An opaque page cursor: the last returned sort key, base64url.
pub(crate) fn encode_cursor(sk: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sk.as_bytes())
}

/// The sort key in a cursor of [`encode_cursor`], if it is one and names a key under `prefix`
/// (a cursor of another listing is refused).
pub(crate) fn decode_cursor(cursor: &str, prefix: &str) -> Option<String> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor.trim())
        .ok()?;
    let sk = String::from_utf8(bytes).ok()?;
    sk.starts_with(prefix).then_some(sk)
}

pub(crate) fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

pub(crate) fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

pub(crate) fn b(v: bool) -> AttributeValue {
    AttributeValue::Bool(v)
}

pub(crate) fn ts(v: &DateTime<Utc>) -> AttributeValue {
    AttributeValue::S(v.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
}

pub(crate) fn get_s<'a>(item: &'a Item, name: &str) -> Result<&'a str, StoreError> {
    match item.get(name) {
        Some(AttributeValue::S(v)) => Ok(v),
        _ => Err(StoreError::Corrupt(format!(
            "attribute {name} is not a string"
        ))),
    }
}

pub(crate) fn opt_s<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    match item.get(name) {
        Some(AttributeValue::S(v)) => Some(v),
        _ => None,
    }
}

pub(crate) fn get_n<T: std::str::FromStr>(item: &Item, name: &str) -> Result<T, StoreError> {
    match item.get(name) {
        Some(AttributeValue::N(v)) => v
            .parse()
            .map_err(|_| StoreError::Corrupt(format!("attribute {name} is not a valid number"))),
        _ => Err(StoreError::Corrupt(format!(
            "attribute {name} is not a number"
        ))),
    }
}

pub(crate) fn get_b(item: &Item, name: &str) -> Result<bool, StoreError> {
    match item.get(name) {
        Some(AttributeValue::Bool(v)) => Ok(*v),
        _ => Err(StoreError::Corrupt(format!(
            "attribute {name} is not a boolean"
        ))),
    }
}

pub(crate) fn get_ts(item: &Item, name: &str) -> Result<DateTime<Utc>, StoreError> {
    let raw = get_s(item, name)?;
    DateTime::parse_from_rfc3339(raw)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| StoreError::Corrupt(format!("attribute {name} is not an RFC 3339 time")))
}

pub(crate) fn get_date(item: &Item, name: &str) -> Result<NaiveDate, StoreError> {
    let raw = get_s(item, name)?;
    NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .map_err(|_| StoreError::Corrupt(format!("attribute {name} is not a date")))
}

/// Parses a string attribute with a domain parser.
pub(crate) fn get_parsed<T, E>(
    item: &Item,
    name: &str,
    parse: impl Fn(&str) -> Result<T, E>,
) -> Result<T, StoreError> {
    parse(get_s(item, name)?)
        .map_err(|_| StoreError::Corrupt(format!("attribute {name} is malformed")))
}

/// A JSON document kept as a string attribute (small nested values written by other stages).
pub(crate) fn opt_json<T: serde::de::DeserializeOwned>(
    item: &Item,
    name: &str,
) -> Result<Option<T>, StoreError> {
    match opt_s(item, name) {
        None => Ok(None),
        Some(raw) => serde_json::from_str(raw)
            .map(Some)
            .map_err(|_| StoreError::Corrupt(format!("attribute {name} is not the expected JSON"))),
    }
}

#[cfg(test)]
mod tests {
    use super::super::keys;
    use super::*;

    #[test]
    fn cursors_round_trip_and_foreign_ones_are_refused() {
        let sk = keys::item_sk("inv_1");
        let c = encode_cursor(&sk);
        assert_eq!(decode_cursor(&c, keys::ITEM_PREFIX), Some(sk));
        assert_eq!(decode_cursor(&c, keys::CUSTOMER_PREFIX), None);
        assert_eq!(decode_cursor("%%%", keys::ITEM_PREFIX), None);
        assert_eq!(decode_cursor("!!", keys::CASE_PREFIX), None);
    }
}
