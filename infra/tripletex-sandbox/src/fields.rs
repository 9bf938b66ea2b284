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
    /// References are rendered from what is stored (no look-ups); see [`Selection::apply_resolving`].
    pub fn apply(&self, value: &Value, schema: &str, base: &str) -> Value {
        apply(self, value, Some(schema), base, &NoLookups, 0)
    }

    /// As [`Selection::apply`], but a reference whose sub-selection asks for more than the stored
    /// object holds is looked up with `resolver` and rendered from the referenced object
    /// (recursively, up to [`MAX_RESOLVE_DEPTH`] look-ups deep), as Tripletex does.
    pub fn apply_resolving(
        &self,
        value: &Value,
        schema: &str,
        base: &str,
        resolver: &dyn Resolve,
    ) -> Value {
        apply(self, value, Some(schema), base, resolver, 0)
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

/// `{id, url}` for an object with an id; other values unchanged. The `url` (scheme-less, built
/// from the sandbox's own `host/v2`) only for schemas that have a `url` property in the spec.
fn reference(value: &Value, schema: Option<&str>, base: &str) -> Value {
    match value {
        Value::Object(o) => match o.get("id") {
            Some(id) => {
                let mut r = Map::new();
                r.insert("id".into(), id.clone());
                if let (Some(p), Some(n)) = (schema.and_then(url_path), id.as_i64()) {
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

/// The API path for `url`s of a schema's objects, if the spec gives the schema a `url`.
fn url_path(schema: &str) -> Option<&'static str> {
    let has_url = schema_table()
        .get(schema)
        .is_none_or(|props| props.contains_key("url"));
    api_path(schema).filter(|_| has_url)
}

/// How many references deep `fields` expansion looks objects up (`voucher(postings(account(..)))`
/// is three). Deeper sub-selections are applied to what the object at that depth holds.
pub const MAX_RESOLVE_DEPTH: usize = 5;

/// The answer of a reference look-up.
#[derive(Debug, Clone, PartialEq)]
pub enum Lookup {
    /// The referenced object in wire format, with its `url`.
    Found(Value),
    /// The sandbox keeps objects of this type, but this one is not among them (or not visible).
    Missing,
    /// The sandbox keeps no collection of this type (currency, country, address, ...): the stored
    /// object is all there is.
    NotKept,
}

/// Looks up the object a reference `{id}` points to, by the spec schema of the referencing
/// property (`Posting.account` → `Account`).
pub trait Resolve {
    fn lookup(&self, schema: &str, id: i64) -> Lookup;
}

/// No look-ups: every reference is rendered from what is stored.
pub struct NoLookups;

impl Resolve for NoLookups {
    fn lookup(&self, _schema: &str, _id: i64) -> Lookup {
        Lookup::NotKept
    }
}

/// An object that is a bare reference: only `id` (and perhaps `url`).
fn is_bare_reference(o: &Map<String, Value>) -> bool {
    o.contains_key("id") && o.keys().all(|k| k == "id" || k == "url")
}

/// Whether rendering `sub` from the stored object `o` needs the referenced object: the
/// selection asks for a field (other than `id`/`url`) that `o` lacks, or for `*` of a bare
/// reference or of a partial copy (an embedded object may hold only a few fields).
fn needs_lookup(sub: &Selection, o: &Map<String, Value>) -> bool {
    sub.0.iter().any(|item| match item.name.as_str() {
        "id" | "url" => false,
        "*" => true,
        name => !o.contains_key(name),
    })
}

fn apply(
    sel: &Selection,
    value: &Value,
    schema: Option<&str>,
    base: &str,
    resolver: &dyn Resolve,
    depth: usize,
) -> Value {
    match value {
        Value::Array(a) => Value::Array(
            a.iter()
                .map(|v| apply(sel, v, schema, base, resolver, depth))
                .collect(),
        ),
        Value::Object(o) => {
            let table = schema_table();
            let props = schema.and_then(|s| table.get(s));
            // Borrowed from the static table: no allocation per field and row.
            let target = |k: &str| -> Option<&'static str> {
                props.and_then(|p| p.get(k)).and_then(|t| t.as_deref())
            };
            let mut out = Map::new();
            for item in &sel.0 {
                if item.name == "*" {
                    for (k, v) in o {
                        // `changes` must be asked for by name (`fields=*,changes`), as in Tripletex.
                        if k != "changes" && !out.contains_key(k) {
                            out.insert(k.clone(), reference(v, target(k), base));
                        }
                    }
                    continue;
                }
                let Some(v) = o.get(&item.name) else { continue };
                let t = target(&item.name);
                let shown = match &item.sub {
                    Some(sub) => expand(sub, v, t, base, resolver, depth),
                    None => reference(v, t, base),
                };
                out.insert(item.name.clone(), shown);
            }
            Value::Object(out)
        }
        other => other.clone(),
    }
}

/// A property with a sub-selection: each referenced object (one, or each of an array) is looked
/// up when the stored copy cannot answer the selection, then the selection is applied to it.
fn expand(
    sub: &Selection,
    value: &Value,
    schema: Option<&str>,
    base: &str,
    resolver: &dyn Resolve,
    depth: usize,
) -> Value {
    match value {
        Value::Array(a) => Value::Array(
            a.iter()
                .map(|v| expand(sub, v, schema, base, resolver, depth))
                .collect(),
        ),
        Value::Object(o) if depth < MAX_RESOLVE_DEPTH && needs_lookup(sub, o) => {
            let looked_up = match (schema, o.get("id").and_then(Value::as_i64)) {
                (Some(s), Some(id)) => resolver.lookup(s, id),
                _ => Lookup::NotKept,
            };
            match looked_up {
                Lookup::Found(full) => apply(sub, &full, schema, base, resolver, depth + 1),
                // A reference to an object that does not exist (or that the caller may not
                // see): Tripletex answers just its id.
                Lookup::Missing if is_bare_reference(o) => {
                    let mut r = Map::new();
                    r.insert("id".into(), o["id"].clone());
                    Value::Object(r)
                }
                Lookup::Missing | Lookup::NotKept => {
                    apply(sub, value, schema, base, resolver, depth + 1)
                }
            }
        }
        other => apply(sub, other, schema, base, resolver, depth + 1),
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

    /// Accounts 1500 and 7830, customer 7, voucher 9 with a posting 11; no currencies kept.
    struct Fake;
    impl Resolve for Fake {
        fn lookup(&self, schema: &str, id: i64) -> Lookup {
            let v = match (schema, id) {
                ("Account", 1500) => {
                    json!({"id": 1500, "number": 1500, "name": "Kundefordringer", "url": "h/v2/ledger/account/1500"})
                }
                ("Account", 7830) => json!({"id": 7830, "number": 7830, "name": "Tap"}),
                ("Customer", 7) => json!({"id": 7, "name": "Kunde AS", "customerNumber": 10007}),
                ("Voucher", 9) => json!({"id": 9, "number": 4, "postings": [{"id": 11}]}),
                ("Posting", 11) => {
                    json!({"id": 11, "amount": 5.0, "account": {"id": 7830}, "voucher": {"id": 9}})
                }
                ("Account" | "Customer" | "Voucher" | "Posting", _) => return Lookup::Missing,
                _ => return Lookup::NotKept,
            };
            Lookup::Found(v)
        }
    }

    fn resolved(fields: &str, v: &Value, schema: &str) -> Value {
        Selection::parse(fields)
            .unwrap()
            .apply_resolving(v, schema, "h/v2", &Fake)
    }

    #[test]
    fn expands_references_from_the_resolver() {
        let p = json!({"id": 1, "account": {"id": 1500}, "customer": {"id": 7, "url": "x"},
                       "voucher": {"id": 9}, "currency": {"id": 1, "code": "NOK"}});
        assert_eq!(
            resolved("id,account(number,name),customer(id,name)", &p, "Posting"),
            json!({"id": 1, "account": {"number": 1500, "name": "Kundefordringer"},
                   "customer": {"id": 7, "name": "Kunde AS"}})
        );
        // `*` of a reference renders the referenced object, its own references unexpanded.
        assert_eq!(
            resolved("voucher(*)", &p, "Posting")["voucher"],
            json!({"id": 9, "number": 4, "postings": [{"id": 11, "url": "h/v2/ledger/posting/11"}]})
        );
        // Nested: an invoice's postings and their accounts, two look-ups deep.
        let inv = json!({"id": 2, "postings": [{"id": 11}]});
        assert_eq!(
            resolved("postings(amount,account(number))", &inv, "Invoice"),
            json!({"postings": [{"amount": 5.0, "account": {"number": 7830}}]})
        );
        assert_eq!(
            resolved("voucher(number,postings(account(name)))", &p, "Posting")["voucher"],
            json!({"number": 4, "postings": [{"account": {"name": "Tap"}}]})
        );
        // A type the sandbox keeps no collection of: what is stored.
        assert_eq!(
            resolved("currency(code)", &p, "Posting"),
            json!({"currency": {"code": "NOK"}})
        );
    }

    #[test]
    fn a_missing_object_is_just_its_id_and_unselected_references_stay_references() {
        let p =
            json!({"id": 1, "account": {"id": 999}, "customer": {"id": 7}, "voucher": {"id": 9}});
        let out = resolved("account(number,name),customer,voucher(id)", &p, "Posting");
        assert_eq!(out["account"], json!({"id": 999}));
        assert_eq!(out["customer"], json!({"id": 7, "url": "h/v2/customer/7"}));
        assert_eq!(out["voucher"], json!({"id": 9}));
        let all = resolved("*", &p, "Posting");
        assert_eq!(
            all["account"],
            json!({"id": 999, "url": "h/v2/ledger/account/999"})
        );
        // A stored copy that answers the selection is used as it is (no look-up needed).
        let embedded = json!({"account": {"id": 999, "number": 1234, "name": "Eget"}});
        assert_eq!(
            resolved("account(number,name)", &embedded, "Posting"),
            json!({"account": {"number": 1234, "name": "Eget"}})
        );
        // Without a resolver nothing is looked up.
        assert_eq!(
            Selection::parse("account(number)")
                .unwrap()
                .apply(&p, "Posting", "h/v2"),
            json!({"account": {}})
        );
    }

    #[test]
    fn look_ups_stop_at_the_depth_limit() {
        // A voucher whose posting points back at the voucher: each level is one look-up.
        let mut fields = String::from("number");
        for _ in 0..4 {
            fields = format!("postings(voucher({fields}))");
        }
        let v = json!({"id": 9, "postings": [{"id": 11}]});
        let out = resolved(&fields, &v, "Voucher");
        // 8 levels asked for; the first MAX_RESOLVE_DEPTH (5) are looked up, the 6th shows what
        // the stored reference `{"id": 9}` holds for `postings(...)`: nothing.
        assert_eq!(MAX_RESOLVE_DEPTH, 5);
        assert_eq!(
            out,
            json!({"postings": [{"voucher": {"postings": [{"voucher": {"postings": [{"voucher": {}}]}}]}}]})
        );
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
