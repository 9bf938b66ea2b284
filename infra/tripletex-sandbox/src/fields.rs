//! Tripletex's `fields=` selection: `a,b,c(x,y),d(*),*`. Parsing, validation against the spec's
//! schemas (unknown field → 400 code 11000) and application to stored objects. Without a
//! sub-selection a nested object comes back as a reference `{id, url}`, as Tripletex does.

use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::sync::OnceLock;

/// Schema name → property → referenced schema (None for scalars), generated from the spec by
/// tools/gen_schema_fields.py.
pub type SchemaTable = BTreeMap<String, BTreeMap<String, Option<String>>>;

pub fn schema_table() -> &'static SchemaTable {
    static TABLE: OnceLock<SchemaTable> = OnceLock::new();
    TABLE.get_or_init(|| {
        serde_json::from_str(include_str!("schema_fields.json")).unwrap_or_default()
    })
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// A property name, or `*`.
    pub name: String,
    pub sub: Option<Selection>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection(pub Vec<Item>);

impl Selection {
    /// `*`: every top-level field, nested objects as references.
    pub fn all() -> Self {
        Selection(vec![Item {
            name: "*".into(),
            sub: None,
        }])
    }

    pub fn parse(s: &str) -> Result<Self, String> {
        let chars: Vec<char> = s.chars().collect();
        let mut pos = 0;
        let sel = parse_list(&chars, &mut pos)?;
        if pos != chars.len() {
            return Err(format!("unexpected ')' at position {pos}"));
        }
        Ok(sel)
    }

    /// Checks every named field exists in `schema` (recursively). Returns the offending path.
    pub fn validate(&self, schema: &str) -> Result<(), String> {
        validate(self, schema, schema_table(), "")
    }

    /// The selected view of `value` (an object of type `schema`); `base` = "host/v2" for `url`s.
    pub fn apply(&self, value: &Value, schema: &str, base: &str) -> Value {
        apply(self, value, Some(schema), base)
    }
}

fn parse_list(c: &[char], pos: &mut usize) -> Result<Selection, String> {
    let mut items = Vec::new();
    loop {
        let start = *pos;
        while *pos < c.len() && !matches!(c[*pos], ',' | '(' | ')') {
            *pos += 1;
        }
        let name: String = c[start..*pos].iter().collect::<String>().trim().to_string();
        let mut sub = None;
        if *pos < c.len() && c[*pos] == '(' {
            *pos += 1;
            sub = Some(parse_list(c, pos)?);
            if *pos >= c.len() || c[*pos] != ')' {
                return Err("missing ')'".into());
            }
            *pos += 1;
            while *pos < c.len() && c[*pos].is_whitespace() {
                *pos += 1;
            }
        }
        if name.is_empty() {
            if sub.is_some() {
                return Err("a sub-selection without a field name".into());
            }
        } else {
            if !(name == "*"
                || name
                    .chars()
                    .all(|ch| ch.is_ascii_alphanumeric() || ch == '_'))
            {
                return Err(format!("illegal field name {name:?}"));
            }
            items.push(Item { name, sub });
        }
        if *pos < c.len() && c[*pos] == ',' {
            *pos += 1;
            continue;
        }
        break;
    }
    Ok(Selection(items))
}

fn validate(
    sel: &Selection,
    schema: &str,
    table: &SchemaTable,
    prefix: &str,
) -> Result<(), String> {
    let Some(props) = table.get(schema) else {
        // A schema we have no table for: accept (we only serve the ones we have).
        return Ok(());
    };
    for item in &sel.0 {
        if item.name == "*" {
            continue;
        }
        let path = format!("{prefix}{}", item.name);
        let Some(target) = props.get(&item.name) else {
            return Err(path);
        };
        if let Some(sub) = &item.sub {
            match target {
                Some(t) => validate(sub, t, table, &format!("{path}."))?,
                None => return Err(path),
            }
        }
    }
    Ok(())
}

/// The API path of a schema's objects (for reference `url`s).
fn api_path(schema: &str) -> Option<&'static str> {
    Some(match schema {
        "Customer" => "customer",
        "Invoice" => "invoice",
        "Posting" => "ledger/posting",
        "Voucher" => "ledger/voucher",
        "Account" => "ledger/account",
        "VoucherType" => "ledger/voucherType",
        "VatType" => "ledger/vatType",
        "CloseGroup" => "ledger/closeGroup",
        "Currency" => "currency",
        "Country" => "country",
        "Company" => "company",
        "Employee" => "employee",
        "Address" => "address",
        "Department" => "department",
        _ => return None,
    })
}

/// `{id, url}` for an object with an id; other values unchanged.
fn reference(value: &Value, schema: Option<&str>, base: &str) -> Value {
    match value {
        Value::Object(o) => match o.get("id") {
            Some(id) => {
                let mut r = Map::new();
                r.insert("id".into(), id.clone());
                if let (Some(p), Some(n)) = (schema.and_then(api_path), id.as_i64()) {
                    r.insert("url".into(), Value::String(format!("{base}/{p}/{n}")));
                }
                Value::Object(r)
            }
            None => value.clone(),
        },
        Value::Array(a) => Value::Array(a.iter().map(|v| reference(v, schema, base)).collect()),
        other => other.clone(),
    }
}

fn apply(sel: &Selection, value: &Value, schema: Option<&str>, base: &str) -> Value {
    match value {
        Value::Array(a) => Value::Array(a.iter().map(|v| apply(sel, v, schema, base)).collect()),
        Value::Object(o) => {
            let table = schema_table();
            let props = schema.and_then(|s| table.get(s));
            let target = |k: &str| props.and_then(|p| p.get(k)).cloned().flatten();
            let mut out = Map::new();
            for item in &sel.0 {
                if item.name == "*" {
                    for (k, v) in o {
                        // `changes` must be asked for by name (`fields=*,changes`), as in Tripletex.
                        if k != "changes" && !out.contains_key(k) {
                            out.insert(k.clone(), reference(v, target(k).as_deref(), base));
                        }
                    }
                    continue;
                }
                let Some(v) = o.get(&item.name) else { continue };
                let t = target(&item.name);
                let shown = match &item.sub {
                    Some(sub) => apply(sub, v, t.as_deref(), base),
                    None => reference(v, t.as_deref(), base),
                };
                out.insert(item.name.clone(), shown);
            }
            Value::Object(out)
        }
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_nested_selections() {
        let s = Selection::parse("id, name ,company(id,name),postings(*),x()").unwrap();
        assert_eq!(s.0.len(), 5);
        assert_eq!(s.0[2].name, "company");
        assert_eq!(s.0[2].sub.as_ref().unwrap().0.len(), 2);
        assert!(Selection::parse("a(b").is_err());
        assert!(Selection::parse("a)b").is_err());
        assert!(Selection::parse("a b").is_err());
    }

    #[test]
    fn validates_against_the_spec() {
        assert!(Selection::parse("id,name,postalAddress(city)")
            .unwrap()
            .validate("Customer")
            .is_ok());
        assert_eq!(
            Selection::parse("id,nope").unwrap().validate("Customer"),
            Err("nope".to_string())
        );
        assert_eq!(
            Selection::parse("postalAddress(nope)")
                .unwrap()
                .validate("Customer"),
            Err("postalAddress.nope".to_string())
        );
        // A scalar cannot have a sub-selection.
        assert!(Selection::parse("name(x)")
            .unwrap()
            .validate("Customer")
            .is_err());
    }

    #[test]
    fn applies_selection_and_references() {
        let v = json!({"id": 1, "name": "A", "currency": {"id": 1, "code": "NOK"}, "postalAddress": {"id": 7, "city": "Oslo"}});
        let all = Selection::all().apply(&v, "Customer", "h/v2");
        assert_eq!(all["currency"], json!({"id": 1, "url": "h/v2/currency/1"}));
        let some = Selection::parse("name,postalAddress(city)")
            .unwrap()
            .apply(&v, "Customer", "h/v2");
        assert_eq!(
            some,
            json!({"name": "A", "postalAddress": {"city": "Oslo"}})
        );
    }
}
