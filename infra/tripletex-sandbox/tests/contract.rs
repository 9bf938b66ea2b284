//! Contract test: every body the sandbox serves (success and error, every endpoint) must validate
//! against the matching schema of Tripletex's published OpenAPI spec (2.74.00).
//!
//! The spec is read from `$TRIPLETEX_OPENAPI`, else from `<repo root>/../shared/reference/
//! tripletex-openapi-2.74.00.json` (repo root = CARGO_MANIFEST_DIR/../..). A missing spec FAILS.
//!
//! Self-contained schemas are built by inlining the referenced component schemas under
//! `definitions` (draft 7), with two deliberate adjustments, both documented in README.md:
//! - every property also admits `null`: real Tripletex serialises unset values as `null`
//!   (`developerMessage`, `validationMessages`, `closeGroup`, `voucherType`, ...) though the spec
//!   declares no `nullable`;
//! - objects get `additionalProperties: false` (the spec leaves it open), so the sandbox cannot
//!   invent fields Tripletex does not have.
//!
//! `readOnly`/`writeOnly`/`example`/`description` are dropped (annotations only).

use serde_json::{json, Map, Value};
use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};
use tripletex_sandbox::{
    FaultKind, FaultRule, Faults, Fixture, SandboxHandle, DEMO_ACCOUNTANT_KEY, DEMO_COMPANY_KEY,
    DEMO_CONSUMER_TOKEN, DEMO_FULL_CLIENT_ID, DEMO_RESTRICTED_CLIENT_ID, DEMO_UNLINKED_ID,
};

fn spec_path() -> PathBuf {
    if let Ok(p) = std::env::var("TRIPLETEX_OPENAPI") {
        return PathBuf::from(p);
    }
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let repo_root = manifest.join("../..");
    repo_root.join("../shared/reference/tripletex-openapi-2.74.00.json")
}

fn spec() -> &'static Value {
    static SPEC: OnceLock<Value> = OnceLock::new();
    SPEC.get_or_init(|| {
        let p = spec_path();
        let text = std::fs::read_to_string(&p).unwrap_or_else(|e| {
            panic!(
                "the Tripletex OpenAPI spec is required for the contract test but could not be read \
                 from {} ({e}); set TRIPLETEX_OPENAPI to its path",
                p.display()
            )
        });
        serde_json::from_str(&text).expect("the OpenAPI spec is valid JSON")
    })
}

fn ref_name(r: &str) -> Option<&str> {
    r.strip_prefix("#/components/schemas/")
}

/// Rewrites one component schema: refs → #/definitions, nullable properties, closed objects.
fn transform(v: &Value, refs: &mut BTreeSet<String>) -> Value {
    match v {
        Value::Object(o) => {
            if let Some(r) = o.get("$ref").and_then(Value::as_str) {
                let name = ref_name(r).unwrap_or_else(|| panic!("unsupported $ref {r}"));
                refs.insert(name.to_string());
                return json!({"$ref": format!("#/definitions/{name}")});
            }
            let mut out = Map::new();
            for (k, val) in o {
                match k.as_str() {
                    "readOnly" | "writeOnly" | "example" | "description" | "title" => {}
                    "properties" => {
                        let props = val.as_object().cloned().unwrap_or_default();
                        let mut np = Map::new();
                        for (pk, pv) in props {
                            let inner = transform(&pv, refs);
                            np.insert(pk, json!({"anyOf": [{"type": "null"}, inner]}));
                        }
                        out.insert("properties".into(), Value::Object(np));
                    }
                    "items" | "additionalProperties" if val.is_object() => {
                        out.insert(k.clone(), transform(val, refs));
                    }
                    _ => {
                        out.insert(k.clone(), val.clone());
                    }
                }
            }
            if out.contains_key("properties") && !out.contains_key("additionalProperties") {
                out.insert("additionalProperties".into(), Value::Bool(false));
            }
            Value::Object(out)
        }
        other => other.clone(),
    }
}

/// A self-contained draft-7 schema for component `root`.
fn self_contained(root: &str) -> Value {
    let schemas = &spec()["components"]["schemas"];
    let mut defs = Map::new();
    let mut todo = vec![root.to_string()];
    while let Some(name) = todo.pop() {
        if defs.contains_key(&name) {
            continue;
        }
        let s = schemas
            .get(&name)
            .unwrap_or_else(|| panic!("schema {name} not in the spec"));
        let mut refs = BTreeSet::new();
        defs.insert(name.clone(), transform(s, &mut refs));
        todo.extend(refs.into_iter().filter(|r| !defs.contains_key(r)));
    }
    json!({
        "$schema": "http://json-schema.org/draft-07/schema#",
        "$ref": format!("#/definitions/{root}"),
        "definitions": defs,
    })
}

fn validator(root: &str) -> &'static jsonschema::Validator {
    static CACHE: OnceLock<Mutex<HashMap<String, &'static jsonschema::Validator>>> =
        OnceLock::new();
    let cache = CACHE.get_or_init(Mutex::default);
    let mut guard = cache.lock().unwrap();
    if let Some(v) = guard.get(root) {
        return v;
    }
    let schema = self_contained(root);
    let v = jsonschema::draft7::options()
        .build(&schema)
        .unwrap_or_else(|e| panic!("schema {root} does not compile: {e}"));
    let leaked: &'static jsonschema::Validator = Box::leak(Box::new(v));
    guard.insert(root.to_string(), leaked);
    leaked
}

fn errors(root: &str, body: &Value) -> Vec<String> {
    validator(root)
        .iter_errors(body)
        .map(|e| format!("{} at {}", e, e.instance_path))
        .collect()
}

fn assert_valid(root: &str, body: &Value, what: &str) {
    let errs = errors(root, body);
    assert!(
        errs.is_empty(),
        "{what}: body does not match {root}:\n{}\nbody: {body}",
        errs.join("\n")
    );
}

/// The schema the spec names for `method path` → `status` (application/json).
fn response_schema(path: &str, method: &str, status: &str) -> String {
    let op = &spec()["paths"][path][method];
    let r = op["responses"][status]["content"]
        .as_object()
        .and_then(|c| c.values().next())
        .and_then(|m| m["schema"]["$ref"].as_str())
        .unwrap_or_else(|| panic!("the spec has no {status} schema for {method} {path}"));
    ref_name(r).unwrap().to_string()
}

struct Api {
    sb: SandboxHandle,
    http: reqwest::Client,
}

impl Api {
    fn new(faults: Faults) -> Self {
        Self::with(Fixture::demo(), faults)
    }

    fn with(fixture: Fixture, faults: Faults) -> Self {
        Self {
            sb: tripletex_sandbox::start_in_thread(fixture, faults).unwrap(),
            http: reqwest::Client::new(),
        }
    }

    async fn session(&self, employee: &str) -> String {
        let (status, body) = self
            .raw(
                reqwest::Method::POST,
                "/token/session/:create",
                None,
                Some(json!({"consumerToken": DEMO_CONSUMER_TOKEN, "employeeToken": employee, "expirationDate": "2099-01-01"})),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        body["value"]["token"].as_str().unwrap().to_string()
    }

    async fn raw(
        &self,
        method: reqwest::Method,
        path_and_query: &str,
        auth: Option<(&str, &str)>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self
            .http
            .request(method, format!("{}{}", self.sb.base_url, path_and_query));
        if let Some((user, token)) = auth {
            req = req.basic_auth(user, Some(token));
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        let v = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{path_and_query}: not JSON ({e}): {text}"));
        (status, v)
    }

    async fn get(&self, path_and_query: &str, user: &str, token: &str) -> (u16, Value) {
        self.raw(
            reqwest::Method::GET,
            path_and_query,
            Some((user, token)),
            None,
        )
        .await
    }
}

const RANGE: &str = "dateFrom=2020-01-01&dateTo=2030-01-01";

#[tokio::test]
async fn spec_is_present_and_names_the_schemas_we_serve() {
    assert_eq!(spec()["info"]["version"].as_str(), Some("2.74.00"));
    assert_eq!(
        response_schema("/token/session/:create", "post", "201"),
        "ResponseWrapperSessionToken"
    );
    assert_eq!(
        response_schema("/ledger/voucher", "get", "200"),
        "VoucherSearchResponse"
    );
    assert_eq!(
        response_schema("/company/>withLoginAccess", "get", "200"),
        "ListResponseClient"
    );
}

#[tokio::test]
async fn session_creation_responses_match_the_spec() {
    let api = Api::new(Faults::none());
    let ok_post = response_schema("/token/session/:create", "post", "201");
    let ok_put = response_schema("/token/session/:create", "put", "200");
    let body = json!({"consumerToken": DEMO_CONSUMER_TOKEN, "employeeToken": DEMO_ACCOUNTANT_KEY, "expirationDate": "2099-01-01"});
    let (s, b) = api
        .raw(
            reqwest::Method::POST,
            "/token/session/:create",
            None,
            Some(body),
        )
        .await;
    assert_eq!(s, 201);
    assert_valid(&ok_post, &b, "POST :create");
    let (s, b) = api
        .raw(
            reqwest::Method::PUT,
            &format!("/token/session/:create?consumerToken={DEMO_CONSUMER_TOKEN}&employeeToken={DEMO_COMPANY_KEY}&expirationDate=2099-01-01"),
            None,
            None,
        )
        .await;
    assert_eq!(s, 200);
    assert_valid(&ok_put, &b, "PUT :create");
    for bad in [
        json!({"consumerToken": "nope", "employeeToken": DEMO_ACCOUNTANT_KEY, "expirationDate": "2099-01-01"}),
        json!({"consumerToken": DEMO_CONSUMER_TOKEN, "employeeToken": "nope", "expirationDate": "2099-01-01"}),
        json!({"consumerToken": DEMO_CONSUMER_TOKEN, "employeeToken": DEMO_ACCOUNTANT_KEY, "expirationDate": "2000-01-01"}),
    ] {
        let (s, b) = api
            .raw(
                reqwest::Method::POST,
                "/token/session/:create",
                None,
                Some(bad),
            )
            .await;
        assert_eq!(s, 422);
        assert_valid("ApiError", &b, "refused :create");
    }
}

#[tokio::test]
async fn every_get_endpoint_matches_the_spec() {
    let api = Api::new(Faults::none());
    let acc = api.session(DEMO_ACCOUNTANT_KEY).await;
    let own = api.session(DEMO_COMPANY_KEY).await;
    let full = DEMO_FULL_CLIENT_ID.to_string();
    let restricted = DEMO_RESTRICTED_CLIENT_ID.to_string();
    let unlinked = DEMO_UNLINKED_ID.to_string();

    // (spec path, request, user, token, expected status)
    let cases: Vec<(&str, String, &str, &str, u16)> = vec![
        ("/token/session/>whoAmI", "/token/session/%3EwhoAmI".into(), "0", &acc, 200),
        ("/token/session/>whoAmI", "/token/session/>whoAmI?fields=*,company(*),employee(*)".into(), &full, &acc, 200),
        ("/company/>withLoginAccess", "/company/%3EwithLoginAccess".into(), "0", &acc, 200),
        ("/company/>withLoginAccess", "/company/%3EwithLoginAccess?fields=*,currency(*)&count=2".into(), "0", &acc, 200),
        ("/company/>withLoginAccess", "/company/%3EwithLoginAccess".into(), "0", &own, 200),
        ("/company/{id}", format!("/company/{full}"), &full, &acc, 200),
        ("/company/{id}", "/company/3001?fields=id,name,organizationNumber".into(), "0", &own, 200),
        ("/customer", "/customer".into(), &full, &acc, 200),
        ("/customer", "/customer?fields=*,postalAddress(*),currency(*)&isInactive=true".into(), &full, &acc, 200),
        ("/customer", "/customer?count=2&from=0&fields=id,name".into(), &restricted, &acc, 200),
        ("/invoice", "/invoice?invoiceDateFrom=2020-01-01&invoiceDateTo=2030-01-01".into(), &full, &acc, 200),
        ("/invoice", "/invoice?invoiceDateFrom=2020-01-01&invoiceDateTo=2030-01-01&fields=*,customer(*),voucher(*),postings(*),currency(*)".into(), &full, &acc, 200),
        // Dunning's re-check: invoices by id, only the compared fields; open postings of a customer.
        ("/invoice", "/invoice?id=80001,80002,1&invoiceDateFrom=2020-01-01&invoiceDateTo=2030-01-01&fields=id,version,amountOutstanding,isCredited,kid".into(), &full, &acc, 200),
        ("/ledger/posting/openPost", "/ledger/posting/openPost?date=2030-01-01&customerId=40001&fields=id,version".into(), &full, &acc, 200),
        ("/ledger/posting", format!("/ledger/posting?{RANGE}"), &full, &acc, 200),
        ("/ledger/posting", format!("/ledger/posting?{RANGE}&fields=*,account(*),customer(*),voucher(*),closeGroup(*)"), &full, &acc, 200),
        ("/ledger/voucher", format!("/ledger/voucher?{RANGE}"), &full, &acc, 200),
        ("/ledger/voucher", format!("/ledger/voucher?{RANGE}&fields=*,postings(*)"), &full, &acc, 200),
        ("/ledger/account", "/ledger/account".into(), &full, &acc, 200),
        ("/ledger/account", "/ledger/account?number=1500,1920&fields=*,currency(*)".into(), "0", &own, 200),
        ("/ledger/account", "/ledger/account".into(), &restricted, &acc, 200),
        ("/ledger/posting/openPost", "/ledger/posting/openPost?date=2030-01-01&accountId=70001500".into(), &full, &acc, 200),
        ("/ledger/posting/openPost", "/ledger/posting/openPost?date=2030-01-01&fields=*,account(*),customer(*)".into(), &full, &acc, 200),
        ("/ledger/postingRules", "/ledger/postingRules".into(), &full, &acc, 200),
        ("/ledger/postingRules", "/ledger/postingRules?fields=*,accountReceivableCustomersId(*)".into(), &full, &acc, 200),
        // Errors: all ApiError.
        ("", "/customer".into(), "0", &acc, 403),
        ("", format!("/ledger/voucher?{RANGE}"), &restricted, &acc, 403),
        ("", "/customer".into(), &unlinked, &acc, 403),
        ("", "/customer?fields=id,nope".into(), &full, &acc, 400),
        ("", "/invoice".into(), &full, &acc, 422),
        ("", "/ledger/posting/openPost".into(), &full, &acc, 422),
        ("", "/ledger/postingRules?fields=nope".into(), &full, &acc, 400),
        ("", "/invoice/999999/pdf".into(), &full, &acc, 404),
        ("", "/company/2004".into(), "0", &own, 403),
        ("", "/company/999999".into(), "0", &own, 404),
        ("", "/no/such/endpoint".into(), "0", &own, 404),
        ("", "/customer".into(), "0", "not-a-session", 401),
    ];
    let mut seen = BTreeSet::new();
    for (spec_path, req, user, token, status) in cases {
        let (s, body) = api.get(&req, user, token).await;
        assert_eq!(s, status, "{req} as {user}: {body}");
        let schema = if status < 300 {
            response_schema(spec_path, "get", "200")
        } else {
            "ApiError".to_string()
        };
        if status < 300 {
            let n = body.get("values").and_then(Value::as_array).map(Vec::len);
            assert!(
                n != Some(0) || req.contains("withLoginAccess"),
                "{req}: expected data, got {body}"
            );
        }
        assert_valid(&schema, &body, &req);
        seen.insert(schema);
    }
    let expected: BTreeSet<String> = [
        "ResponseWrapperLoggedInUserInfo",
        "ListResponseClient",
        "ResponseWrapperCompany",
        "ListResponseCustomer",
        "ListResponseInvoice",
        "ListResponsePosting",
        "VoucherSearchResponse",
        "ListResponseAccount",
        "ResponseWrapperPostingRules",
        "ApiError",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert_eq!(seen, expected);
}

#[tokio::test]
async fn injected_fault_responses_match_the_spec() {
    let api = Api::new(Faults::none());
    let acc = api.session(DEMO_ACCOUNTANT_KEY).await;
    for kind in [
        FaultKind::RateLimit {
            with_reset: false,
            reset_seconds: 1,
        },
        FaultKind::ServerError { status: 503 },
        FaultKind::Unauthorized,
    ] {
        api.sb
            .set_faults(Faults::none().with_rule(FaultRule::new(kind.clone()).times(1)));
        let (s, body) = api.get("/token/session/%3EwhoAmI", "0", &acc).await;
        assert!(s >= 400, "{kind:?}");
        assert_valid("ApiError", &body, &format!("{kind:?}"));
    }
}

#[tokio::test]
async fn the_validator_rejects_wrong_bodies() {
    let api = Api::new(Faults::none());
    let acc = api.session(DEMO_ACCOUNTANT_KEY).await;
    let (_, mut invoices) = api
        .get(
            "/invoice?invoiceDateFrom=2020-01-01&invoiceDateTo=2030-01-01",
            &DEMO_FULL_CLIENT_ID.to_string(),
            &acc,
        )
        .await;
    assert_valid("ListResponseInvoice", &invoices, "original");
    // A string where an integer is required.
    invoices["values"][0]["invoiceNumber"] = json!("10023");
    assert!(!errors("ListResponseInvoice", &invoices).is_empty());
    // A field Tripletex does not have.
    let mut customers =
        json!({"from": 0, "count": 1, "values": [{"id": 1, "organisationNumber": "923456783"}]});
    assert!(!errors("ListResponseCustomer", &customers).is_empty());
    customers["values"][0] = json!({"id": 1, "organizationNumber": "923456783"});
    assert!(errors("ListResponseCustomer", &customers).is_empty());
    // An enum value outside the spec's list, and a wrong nested type.
    let bad_enum = json!({"values": [{"id": 1, "ledgerType": "SOMETHING"}]});
    assert!(!errors("ListResponseAccount", &bad_enum).is_empty());
    let bad_nested = json!({"value": {"id": 1, "token": 42}});
    assert!(!errors("ResponseWrapperSessionToken", &bad_nested).is_empty());
    let bad_error = json!({"status": "401", "code": 3000, "message": "x"});
    assert!(!errors("ApiError", &bad_error).is_empty());
}

/// A generated client company (next to the demo's hand-written objects of the same company): every
/// endpoint and `fields` expansion the ledger sync uses, with and without `If-None-Match`.
#[tokio::test]
async fn generated_company_bodies_match_the_spec() {
    use tripletex_sandbox::GenSpec;
    let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 20).unwrap();
    let fixture = Fixture::demo()
        .with_generated_company(
            DEMO_FULL_CLIENT_ID,
            GenSpec::with_postings(3, 3_000).today(today),
        )
        .unwrap();
    let api = Api::with(fixture, Faults::none());
    let acc = api.session(DEMO_ACCOUNTANT_KEY).await;
    let full = DEMO_FULL_CLIENT_ID.to_string();
    let all_dates = "dateFrom=2000-01-01&dateTo=2100-01-01";
    let inv_dates = "invoiceDateFrom=2000-01-01&invoiceDateTo=2100-01-01";
    let cases: Vec<(&str, String)> = vec![
        ("/customer", "/customer?count=200".into()),
        ("/customer", "/customer?isInactive=true&fields=*,changes,postalAddress(*),currency(*),ledgerAccount(*)".into()),
        ("/customer", "/customer?changedSince=2020-01-01T00:00:00Z&fields=id,name,changes(*)".into()),
        ("/invoice", format!("/invoice?{inv_dates}&count=300")),
        ("/invoice", format!("/invoice?{inv_dates}&count=300&fields=*,customer(*),voucher(*),postings(*),currency(*)")),
        ("/invoice", format!("/invoice?{inv_dates}&fields=id,invoiceDueDate,kid,isCreditNote,creditedInvoice,amountOutstanding,documentId")),
        ("/ledger/posting", format!("/ledger/posting?{all_dates}&count=500")),
        ("/ledger/posting", format!("/ledger/posting?{all_dates}&count=500&fields=*,account(*),customer(*),voucher(*),closeGroup(*),currency(*),vatType(*)")),
        ("/ledger/posting", format!("/ledger/posting?{all_dates}&accountId=70007830&fields=*,voucher(*)")),
        ("/ledger/posting/openPost", "/ledger/posting/openPost?date=2026-11-21&accountId=70001500&count=500".into()),
        ("/ledger/posting/openPost", "/ledger/posting/openPost?date=2026-11-21&accountNumberFrom=1500&accountNumberTo=1500&fields=*,customer(*),voucher(*)".into()),
        ("/ledger/voucher", format!("/ledger/voucher?{all_dates}&count=500")),
        ("/ledger/voucher", format!("/ledger/voucher?{all_dates}&count=300&fields=*,voucherType(*),postings(*)")),
        ("/ledger/account", "/ledger/account".into()),
        ("/ledger/account", "/ledger/account?fields=*,currency(*),vatType(*)".into()),
        ("/ledger/postingRules", "/ledger/postingRules?fields=*,accountReceivableCustomersId(*),accountDebtVendorsId(*)".into()),
    ];
    for (spec_path, req) in cases {
        let schema = response_schema(spec_path, "get", "200");
        for inm in [None, Some("*")] {
            let mut r = api
                .http
                .get(format!("{}{}", api.sb.base_url, req))
                .basic_auth(&full, Some(&acc));
            if let Some(v) = inm {
                r = r.header("If-None-Match", v);
            }
            let resp = r.send().await.unwrap();
            assert_eq!(resp.status(), 200, "{req}");
            let body: Value = resp.json().await.unwrap();
            if let Some(values) = body.get("values") {
                assert!(!values.as_array().unwrap().is_empty(), "{req}: no data");
                assert_eq!(
                    body.get("versionDigest").is_some_and(Value::is_string),
                    inm.is_some(),
                    "{req}"
                );
            }
            assert_valid(&schema, &body, &req);
        }
    }
}

/// References expanded from the company's collections (`account(number,name)` of a fixture
/// posting that stores `{"id": ...}`) still match the spec, and carry the referenced data.
#[tokio::test]
async fn expanded_references_match_the_spec() {
    let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 20).unwrap();
    let fixture = Fixture::demo()
        .with_write_off_without_marker()
        .unwrap()
        .with_unmatched_write_off()
        .unwrap()
        .with_generated_company(
            DEMO_FULL_CLIENT_ID,
            tripletex_sandbox::GenSpec::with_postings(5, 1_500).today(today),
        )
        .unwrap();
    let api = Api::with(fixture, Faults::none());
    let acc = api.session(DEMO_ACCOUNTANT_KEY).await;
    let full = DEMO_FULL_CLIENT_ID.to_string();
    // Fixture rows (ids below 1 000 000) store bare references; generated rows embed partial copies.
    let fixture_dates = "dateFrom=2025-01-01&dateTo=2027-01-01";
    let cases: Vec<(&str, String)> = vec![
        ("/ledger/posting", format!("/ledger/posting?{fixture_dates}&fields=id,account(number,name),customer(id,name),voucher(number,year,description)")),
        ("/ledger/posting", format!("/ledger/posting?{RANGE}&fields=id,account(*),customer(*),voucher(*,postings(account(number)))")),
        ("/invoice", "/invoice?invoiceDateFrom=2020-01-01&invoiceDateTo=2030-01-01&fields=id,customer(name),voucher(number),postings(account(number),amount)".into()),
        ("/ledger/voucher", format!("/ledger/voucher?{RANGE}&fields=id,postings(account(number),customer(name),voucher(id))")),
        ("/ledger/posting/openPost", "/ledger/posting/openPost?date=2026-11-21&fields=id,account(number,displayName),customer(name,customerNumber)".into()),
    ];
    for (spec_path, req) in cases {
        let (s, body) = api.get(&req, &full, &acc).await;
        assert_eq!(s, 200, "{req}: {body}");
        assert_valid(&response_schema(spec_path, "get", "200"), &body, &req);
        let values = body["values"].as_array().unwrap();
        assert!(!values.is_empty(), "{req}: no data");
        let fixture_rows: Vec<&Value> = values
            .iter()
            .filter(|v| v["id"].as_i64().unwrap() < 1_000_000)
            .collect();
        assert!(!fixture_rows.is_empty(), "{req}: no fixture row");
        for v in values {
            match spec_path {
                "/ledger/posting" | "/ledger/posting/openPost" => {
                    assert!(v["account"]["number"].is_i64(), "{req}: {v}");
                    if let Some(c) = v["customer"].as_object() {
                        assert!(c["name"].is_string(), "{req}: {v}");
                    }
                }
                "/invoice" => {
                    assert!(v["customer"]["name"].is_string(), "{req}: {v}");
                    assert!(v["voucher"]["number"].is_i64(), "{req}: {v}");
                    for p in v["postings"].as_array().unwrap() {
                        assert!(p["account"]["number"].is_i64(), "{req}: {v}");
                    }
                }
                _ => {
                    for p in v["postings"].as_array().unwrap() {
                        assert!(p["account"]["number"].is_i64(), "{req}: {v}");
                    }
                }
            }
        }
    }
    // The scenario's write-off: both sides with their account numbers (1500 and 7830).
    let (_, body) = api
        .get(
            "/ledger/voucher?dateFrom=2025-11-14&dateTo=2025-11-15&fields=id,postings(account(number),amount)",
            &full,
            &acc,
        )
        .await;
    let numbers: Vec<i64> = body["values"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["id"] == 50005)
        .flat_map(|v| v["postings"].as_array().unwrap().clone())
        .map(|p| p["account"]["number"].as_i64().unwrap())
        .collect();
    assert_eq!(numbers, vec![1500, 7830], "{body}");
}

/// Enhetsregisteret has no spec here: assert the fields tripletex-api reference §8 documents (and
/// no others but the HAL `_links` and `respons_klasse`), with their types.
#[tokio::test]
async fn brreg_bodies_have_the_documented_shape() {
    use tripletex_sandbox::generator::BrregStatus;
    use tripletex_sandbox::GenSpec;
    let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 20).unwrap();
    let spec = GenSpec {
        customers: 300,
        ..GenSpec::with_postings(4, 1_000).today(today)
    };
    let fixture = Fixture::demo()
        .with_generated_company(DEMO_FULL_CLIENT_ID, spec)
        .unwrap();
    let api = Api::with(fixture, Faults::none());
    let data = api.sb.company_data(DEMO_FULL_CLIENT_ID).unwrap();
    let always = [
        "organisasjonsnummer",
        "navn",
        "organisasjonsform",
        "registreringsdatoEnhetsregisteret",
        "maalform",
        "konkurs",
        "underAvvikling",
        "underTvangsavviklingEllerTvangsopplosning",
        "registrertIMvaregisteret",
        "registrertIForetaksregisteret",
        "registrertIFrivillighetsregisteret",
        "harRegistrertAntallAnsatte",
        "erIKonsern",
    ];
    let optional = [
        "forretningsadresse",
        "postadresse",
        "antallAnsatte",
        "naeringskode1",
        "naeringskode2",
        "naeringskode3",
        "institusjonellSektorkode",
        "stiftelsesdato",
        "sisteInnsendteAarsregnskap",
        "konkursdato",
        "underAvviklingDato",
        "hjemmeside",
        "epostadresse",
        "telefon",
        "mobil",
        "overordnetEnhet",
        "_links",
        "respons_klasse",
    ];
    let booleans = &always[5..];
    let is_date = |v: &Value| {
        v.as_str()
            .is_some_and(|s| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok())
    };
    let check_address = |a: &Value| {
        let o = a.as_object().expect("address object");
        for k in o.keys() {
            assert!(
                [
                    "adresse",
                    "postnummer",
                    "poststed",
                    "kommune",
                    "kommunenummer",
                    "land",
                    "landkode"
                ]
                .contains(&k.as_str()),
                "address field {k}"
            );
        }
        assert!(o["adresse"]
            .as_array()
            .is_some_and(|l| l.iter().all(Value::is_string)));
        assert!(o["postnummer"].as_str().is_some_and(|p| p.len() == 4));
        assert_eq!(o["landkode"], "NO");
    };
    let mut checked = 0;
    for c in data.customers.iter().filter(|c| !c.is_private_individual) {
        let url = format!(
            "http://{}/enhetsregisteret/api/enheter/{}",
            api.sb.addr, c.organization_number
        );
        let resp = api.http.get(url).send().await.unwrap();
        let status = resp.status().as_u16();
        let body: Value = resp.json().await.unwrap();
        match c.brreg.unwrap() {
            BrregStatus::Unknown | BrregStatus::Removed => {
                assert!(status == 404 || status == 410);
                assert_eq!(body["status"], status);
                continue;
            }
            BrregStatus::Deleted(_) => {
                assert_eq!(status, 200);
                let keys: BTreeSet<&str> = body
                    .as_object()
                    .unwrap()
                    .keys()
                    .map(String::as_str)
                    .collect();
                assert_eq!(
                    keys,
                    [
                        "_links",
                        "navn",
                        "organisasjonsform",
                        "organisasjonsnummer",
                        "respons_klasse",
                        "slettedato"
                    ]
                    .into_iter()
                    .collect()
                );
                assert!(is_date(&body["slettedato"]));
                continue;
            }
            _ => {}
        }
        assert_eq!(status, 200);
        let o = body.as_object().unwrap();
        for k in always {
            assert!(o.contains_key(k), "{k} missing: {body}");
        }
        for k in o.keys() {
            assert!(
                always.contains(&k.as_str()) || optional.contains(&k.as_str()),
                "undocumented field {k}"
            );
        }
        for k in booleans {
            assert!(o[*k].is_boolean(), "{k}");
        }
        assert!(o["organisasjonsnummer"]
            .as_str()
            .is_some_and(|s| s.len() == 9));
        assert!(
            o["organisasjonsform"]["kode"].is_string()
                && o["organisasjonsform"]["beskrivelse"].is_string()
        );
        assert!(is_date(&o["registreringsdatoEnhetsregisteret"]));
        check_address(&o["forretningsadresse"]);
        if let Some(p) = o.get("postadresse") {
            check_address(p);
        }
        assert_eq!(o.contains_key("konkursdato"), o["konkurs"] == true);
        assert_eq!(
            o.contains_key("underAvviklingDato"),
            o["underAvvikling"] == true
        );
        checked += 1;
    }
    assert!(checked > 100);
}

#[tokio::test]
async fn customer_put_responses_match_the_spec() {
    let api = Api::new(Faults::none());
    let acc = api.session(DEMO_ACCOUNTANT_KEY).await;
    let full = DEMO_FULL_CLIENT_ID.to_string();
    let ok = response_schema("/customer/{id}", "put", "200");
    assert_eq!(ok, "ResponseWrapperCustomer");
    let put = |body: Value, fields: &'static str| {
        let api = &api;
        let (full, acc) = (full.clone(), acc.clone());
        async move {
            api.raw(
                reqwest::Method::PUT,
                &format!("/customer/40001{fields}"),
                Some((&full, &acc)),
                Some(body),
            )
            .await
        }
    };
    let address = json!({"addressLine1": "Kaigata 7", "addressLine2": "", "postalCode": "5003", "city": "Bergen"});
    let (s, b) = put(
        json!({"id": 40001, "version": 1, "postalAddress": address}),
        "",
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert_valid(&ok, &b, "PUT /customer/{id}");
    let (s, b) = put(
        json!({"id": 40001, "version": 2, "postalAddress": address}),
        "?fields=*,changes,postalAddress(*,country(*))",
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["value"]["postalAddress"]["city"], "Bergen");
    assert_valid(&ok, &b, "PUT /customer/{id} with fields");
    for (body, status) in [
        (json!({"version": 1, "postalAddress": address}), 409),
        (json!({"id": 40002, "version": 3}), 422),
        (json!({"version": 3, "nope": true}), 422),
    ] {
        let (s, b) = put(body, "").await;
        assert_eq!(s, status, "{b}");
        assert_valid("ApiError", &b, "refused PUT /customer/{id}");
    }
    let (s, b) = api
        .raw(
            reqwest::Method::PUT,
            "/customer/49999",
            Some((&full, &acc)),
            Some(json!({"version": 1})),
        )
        .await;
    assert_eq!(s, 404);
    assert_valid("ApiError", &b, "PUT of an unknown customer");
}

#[tokio::test]
async fn voucher_writes_and_reads_match_the_spec() {
    let api = Api::new(Faults::none());
    let acc = api.session(DEMO_ACCOUNTANT_KEY).await;
    let full = DEMO_FULL_CLIENT_ID.to_string();
    let auth = Some((full.as_str(), acc.as_str()));
    let created = response_schema("/ledger/voucher", "post", "201");
    assert_eq!(created, "ResponseWrapperVoucher");
    let line = |row: i64, account: i64, amount: f64| {
        json!({"row": row, "date": "2026-08-01", "account": {"id": account},
               "amountGross": amount, "amountGrossCurrency": amount, "description": "Renter"})
    };
    let body = |postings: Vec<Value>| {
        json!({"date": "2026-08-01", "description": "Renter og gebyrer, faktura 10023",
               "externalVoucherNumber": "inndrive-inv_1-v1-0011223344556677",
               "voucherType": null, "postings": postings})
    };
    // Booked: 1500 with the customer and the invoice number, 8050.
    let mut receivable = line(1, 70001500, 76.10);
    receivable["customer"] = json!({"id": 40001});
    receivable["invoiceNumber"] = json!("10023");
    let (s, b) = api
        .raw(
            reqwest::Method::POST,
            "/ledger/voucher?sendToLedger=true&fields=*,postings(*)",
            auth,
            Some(body(vec![receivable.clone(), line(2, 70008050, -76.10)])),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    assert_valid(&created, &b, "POST /ledger/voucher");
    assert_eq!(b["value"]["postings"][0]["row"], 1);
    let id = b["value"]["id"].as_i64().unwrap();
    let posting = b["value"]["postings"][0]["id"].as_i64().unwrap();

    // Refused as Tripletex refuses: unbalanced, row 0, receivables without a customer.
    let mut row0 = line(1, 70001920, 10.0);
    row0["row"] = json!(0);
    for (postings, needle) in [
        (
            vec![line(1, 70001920, 10.0), line(2, 70008050, -9.0)],
            "er ikke lik 0",
        ),
        (vec![row0, line(2, 70008050, -10.0)], "rad 0"),
        (
            vec![line(1, 70001500, 10.0), line(2, 70008050, -10.0)],
            "Kunde mangler",
        ),
    ] {
        let (s, b) = api
            .raw(
                reqwest::Method::POST,
                "/ledger/voucher",
                auth,
                Some(body(postings)),
            )
            .await;
        assert_eq!(s, 422, "{b}");
        assert!(b.to_string().contains(needle), "{b}");
        assert_valid("ApiError", &b, "refused POST /ledger/voucher");
    }

    // Found by its external number, and by id.
    let list = response_schema("/ledger/voucher/>externalVoucherNumber", "get", "200");
    let (s, b) = api
        .get(
            "/ledger/voucher/>externalVoucherNumber?externalVoucherNumber=inndrive-inv_1-v1-0011223344556677&fields=id,externalVoucherNumber",
            &full,
            &acc,
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_valid(&list, &b, "GET >externalVoucherNumber");
    assert_eq!(b["values"][0]["id"], id);
    let (s, b) = api.get(&format!("/ledger/voucher/{id}"), &full, &acc).await;
    assert_eq!(s, 200, "{b}");
    assert_valid(
        &response_schema("/ledger/voucher/{id}", "get", "200"),
        &b,
        "GET /ledger/voucher/{id}",
    );

    // Closed with nothing to net against: Tripletex's messages, in the documented shape.
    let (s, b) = api
        .raw(
            reqwest::Method::PUT,
            "/ledger/posting/:closePostings",
            auth,
            Some(json!([posting])),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_valid(
        &response_schema("/ledger/posting/:closePostings", "put", "200"),
        &b,
        "PUT :closePostings",
    );
    assert_eq!(b["values"][0]["postingId"], posting);

    // Reversed once.
    let path = format!("/ledger/voucher/{id}/:reverse?date=2026-08-05");
    let (s, b) = api.raw(reqwest::Method::PUT, &path, auth, None).await;
    assert_eq!(s, 200, "{b}");
    assert_valid(
        &response_schema("/ledger/voucher/{id}/:reverse", "put", "200"),
        &b,
        "PUT :reverse",
    );
    assert_eq!(b["value"]["reverseVoucher"]["id"], id);
    let (s, b) = api.raw(reqwest::Method::PUT, &path, auth, None).await;
    assert_eq!(s, 422, "{b}");
    assert_valid("ApiError", &b, "a second :reverse");

    // Voucher types and accounting periods.
    let (s, b) = api
        .get("/ledger/voucherType?name=Betaling", &full, &acc)
        .await;
    assert_eq!(s, 200, "{b}");
    assert_valid(
        &response_schema("/ledger/voucherType", "get", "200"),
        &b,
        "GET /ledger/voucherType",
    );
    assert_eq!(b["values"][0]["name"], "Betaling");
    api.sb.lock_periods_through(
        DEMO_FULL_CLIENT_ID,
        Some(chrono::NaiveDate::from_ymd_opt(2026, 8, 31).unwrap()),
    );
    let (s, b) = api
        .get(
            "/ledger/accountingPeriod?startFrom=2026-08-01&startTo=2026-10-01",
            &full,
            &acc,
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_valid(
        &response_schema("/ledger/accountingPeriod", "get", "200"),
        &b,
        "GET /ledger/accountingPeriod",
    );
    assert_eq!(b["values"][0]["isClosed"], true);
    assert_eq!(b["values"][1]["isClosed"], false);
    let (s, b) = api
        .raw(
            reqwest::Method::POST,
            "/ledger/voucher",
            auth,
            Some(body(vec![
                line(1, 70001920, 10.0),
                line(2, 70008050, -10.0),
            ])),
        )
        .await;
    assert_eq!(s, 422, "{b}");
    assert!(b.to_string().contains("er låst"), "{b}");

    // A key without vouchers in its access template: 403.
    let restricted = DEMO_RESTRICTED_CLIENT_ID.to_string();
    let (s, b) = api
        .raw(
            reqwest::Method::POST,
            "/ledger/voucher",
            Some((&restricted, &acc)),
            Some(body(vec![])),
        )
        .await;
    assert_eq!(s, 403, "{b}");
    assert_valid("ApiError", &b, "POST /ledger/voucher without the right");
}

#[tokio::test]
async fn posting_to_the_ledger_needs_the_advanced_voucher_right() {
    let mut fixture = Fixture::demo();
    fixture.access_templates.insert(
        "Uten avansert bilag".into(),
        [
            tripletex_sandbox::Entitlement::Customers,
            tripletex_sandbox::Entitlement::Invoices,
            tripletex_sandbox::Entitlement::LedgerPostings,
            tripletex_sandbox::Entitlement::Vouchers,
            tripletex_sandbox::Entitlement::Accounts,
        ]
        .into_iter()
        .collect(),
    );
    for k in &mut fixture.employee_keys {
        for c in &mut k.clients {
            if c.company_id == DEMO_FULL_CLIENT_ID {
                c.template = "Uten avansert bilag".into();
            }
        }
    }
    let api = Api::with(fixture, Faults::none());
    let acc = api.session(DEMO_ACCOUNTANT_KEY).await;
    let full = DEMO_FULL_CLIENT_ID.to_string();
    let body = json!({"date": "2026-08-01", "postings": [
        {"row": 1, "account": {"id": 70001920}, "amountGross": 1.0, "amountGrossCurrency": 1.0},
        {"row": 2, "account": {"id": 70008050}, "amountGross": -1.0, "amountGrossCurrency": -1.0}]});
    let (s, b) = api
        .raw(
            reqwest::Method::POST,
            "/ledger/voucher",
            Some((&full, &acc)),
            Some(body.clone()),
        )
        .await;
    assert_eq!(s, 403, "{b}");
    assert!(b["message"].as_str().unwrap().contains("Avansert bilag"));
    assert_valid("ApiError", &b, "403 without Advanced Voucher");
    // Not sent to the ledger, it needs no such right.
    let (s, b) = api
        .raw(
            reqwest::Method::POST,
            "/ledger/voucher?sendToLedger=false",
            Some((&full, &acc)),
            Some(body),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    assert_eq!(b["value"]["number"], 0);
}

/// `GET /invoice/{invoiceId}/pdf` (the invoice copy a legal document attaches): the spec's
/// operation, its path parameter and its 200 media types; the sandbox answers a PDF with one of
/// those types for an invoice with a copy, and the spec's `ApiError` for one it does not have.
#[tokio::test]
async fn the_invoice_pdf_matches_the_spec() {
    let op = &spec()["paths"]["/invoice/{invoiceId}/pdf"]["get"];
    assert_eq!(op["operationId"], "InvoicePdf_downloadPdf");
    let param = op["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["in"] == "path")
        .expect("a path parameter");
    assert_eq!(param["name"], "invoiceId");
    assert_eq!(param["schema"]["type"], "integer");
    let media: BTreeSet<String> = op["responses"]["200"]["content"]
        .as_object()
        .expect("the 200 has content")
        .keys()
        .cloned()
        .collect();
    assert!(media.contains("application/pdf"), "{media:?}");
    for m in &media {
        assert_eq!(
            op["responses"]["200"]["content"][m]["schema"]["format"], "binary",
            "{m}"
        );
    }

    let api = Api::new(Faults::none());
    let acc = api.session(DEMO_ACCOUNTANT_KEY).await;
    let full = DEMO_FULL_CLIENT_ID.to_string();
    for query in ["", "?download=true", "?download=false"] {
        let resp = api
            .http
            .get(format!("{}/invoice/80001/pdf{query}", api.sb.base_url))
            .basic_auth(&full, Some(&acc))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 200, "{query}");
        let ct = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_string();
        assert!(media.contains(&ct), "{ct} is not one of {media:?}");
        let bytes = resp.bytes().await.unwrap();
        assert!(bytes.starts_with(b"%PDF-"), "a PDF");
        assert!(
            bytes.windows(5).any(|w| w == b"%%EOF"),
            "a complete PDF (trailer)"
        );
    }
    for (path, status) in [("/invoice/999999/pdf", 404), ("/invoice/abc/pdf", 400)] {
        let (s, body) = api.get(path, &full, &acc).await;
        assert_eq!(s, status, "{path}: {body}");
        assert_valid("ApiError", &body, path);
    }
}
