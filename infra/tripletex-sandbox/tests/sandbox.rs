//! The sandbox's own behaviour: auth rules, expiry, paging, fields, faults, admin API, fixtures, CLI.

use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use tripletex_sandbox::fixture::valid_org_number;
use tripletex_sandbox::{
    FaultKind, FaultRule, Faults, Fixture, SandboxHandle, Stats, DEMO_ACCOUNTANT_KEY,
    DEMO_API_OFF_CLIENT_ID, DEMO_COMPANY_KEY, DEMO_CONSUMER_TOKEN, DEMO_DELETED_KEY,
    DEMO_FULL_CLIENT_ID, DEMO_RESTRICTED_CLIENT_ID, DEMO_UNLINKED_ID,
};

struct T {
    sb: SandboxHandle,
    http: reqwest::Client,
}

impl T {
    fn new(faults: Faults) -> Self {
        Self::with(Fixture::demo(), faults)
    }
    fn with(fixture: Fixture, faults: Faults) -> Self {
        Self {
            sb: tripletex_sandbox::start_in_thread(fixture, faults).unwrap(),
            http: reqwest::Client::new(),
        }
    }
    async fn create(&self, employee: &str, date: &str) -> (u16, Value) {
        let r = self
            .http
            .post(format!("{}/token/session/:create", self.sb.base_url))
            .json(&json!({"consumerToken": DEMO_CONSUMER_TOKEN, "employeeToken": employee, "expirationDate": date}))
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap())
    }
    async fn session(&self, employee: &str) -> String {
        let (s, b) = self.create(employee, "2099-01-01").await;
        assert_eq!(s, 201, "{b}");
        b["value"]["token"].as_str().unwrap().to_string()
    }
    async fn get(
        &self,
        path: &str,
        user: &str,
        token: &str,
    ) -> (u16, reqwest::header::HeaderMap, Value) {
        let r = self
            .http
            .get(format!("{}{}", self.sb.base_url, path))
            .basic_auth(user, Some(token))
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let text = r.text().await.unwrap();
        (
            status,
            headers,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }
}

#[test]
fn demo_fixture_is_as_documented() {
    let f = Fixture::demo();
    assert_eq!(f.consumer_tokens, vec![DEMO_CONSUMER_TOKEN]);
    for c in &f.companies {
        assert!(
            valid_org_number(&c.organization_number),
            "{} {}",
            c.name,
            c.organization_number
        );
    }
    let names: Vec<&str> = f.companies.iter().map(|c| c.name.as_str()).collect();
    for n in [
        "Regnskap Nord AS",
        "Fjordkraft Rørlegger AS",
        "Bakeriet Hansen AS",
        "Kaffebrenneriet Sør AS",
        "Ikke Koblet AS",
        "Solberg Elektro AS",
    ] {
        assert!(names.contains(&n), "{n}");
    }
    let acc = f
        .employee_keys
        .iter()
        .find(|k| k.token == DEMO_ACCOUNTANT_KEY)
        .unwrap();
    assert!(acc.accountant);
    let linked: Vec<i64> = acc.clients.iter().map(|l| l.company_id).collect();
    assert_eq!(
        linked,
        vec![
            DEMO_FULL_CLIENT_ID,
            DEMO_RESTRICTED_CLIENT_ID,
            DEMO_API_OFF_CLIENT_ID
        ]
    );
    assert!(!linked.contains(&DEMO_UNLINKED_ID));
    let restricted = f.template(&acc.clients[1].template);
    assert!(!restricted.contains(&tripletex_sandbox::Entitlement::Vouchers));
    assert_eq!(restricted.len(), 4);
    assert!(f
        .employee_keys
        .iter()
        .any(|k| k.token == DEMO_DELETED_KEY && k.deleted));
    assert!(
        !f.companies
            .iter()
            .find(|c| c.id == DEMO_API_OFF_CLIENT_ID)
            .unwrap()
            .api_access_enabled
    );
}

#[test]
fn org_number_check() {
    assert!(valid_org_number("923456783"));
    assert!(!valid_org_number("923456784"));
    assert!(!valid_org_number("92345678"));
    assert!(!valid_org_number("92345678a"));
}

#[test]
fn fixtures_are_validated_and_toml_works() {
    let dir = std::env::temp_dir().join(format!("sbx-fixture-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let toml = r#"
consumerTokens = ["c"]
[[companies]]
id = 1
name = "Test AS"
organizationNumber = "923456783"
employees = [{ id = 10, firstName = "A", lastName = "B" }]
[companies.collections]
customers = [{ id = 5, name = "Kunde AS" }]
[[employeeKeys]]
id = 100
token = "k"
companyId = 1
employeeId = 10
"#;
    let p = dir.join("f.toml");
    std::fs::write(&p, toml).unwrap();
    let f = Fixture::from_path(&p).unwrap();
    assert_eq!(f.companies[0].collections["customers"].len(), 1);
    // Invalid: bad org number, unknown collection, key of an unknown company, unknown template.
    for (bad, why) in [
        (
            toml.replace("923456783", "923456784"),
            "organisation number",
        ),
        (
            toml.replace("customers = ", "gadgets = "),
            "unknown collection",
        ),
        (
            toml.replace("companyId = 1", "companyId = 2"),
            "unknown company",
        ),
        (
            toml.replace("employeeId = 10", "employeeId = 10\ntemplate = \"Nope\""),
            "unknown template",
        ),
    ] {
        std::fs::write(&p, bad).unwrap();
        let err = format!("{:#}", Fixture::from_path(&p).unwrap_err());
        assert!(err.contains(why), "{why}: {err}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn session_creation_rules() {
    let t = T::new(Faults::none());
    let today = chrono::Utc::now().date_naive();
    // Today (or earlier) is refused: the date must be later than today.
    let (s, b) = t.create(DEMO_COMPANY_KEY, &today.to_string()).await;
    assert_eq!(s, 422, "{b}");
    assert_eq!(b["validationMessages"][0]["field"], "arg:expirationDate");
    let (s, b) = t.create(DEMO_DELETED_KEY, "2099-01-01").await;
    assert_eq!((s, b["code"].as_i64()), (422, Some(18000)));
    assert_eq!(b["validationMessages"][0]["field"], "arg:employeeToken");
    let (s, _) = t.create("unknown", "2099-01-01").await;
    assert_eq!(s, 422);
    assert_eq!(t.sb.stats().session_creates, 0);
    let tomorrow = (today + chrono::Duration::days(2)).to_string();
    let (s, b) = t.create(DEMO_COMPANY_KEY, &tomorrow).await;
    assert_eq!(s, 201);
    assert!(b["value"]["token"].as_str().unwrap().starts_with("eyJ"));
    assert_eq!(t.sb.stats().session_creates, 1);
    // Legacy PUT with query parameters answers 200.
    let r = t
        .http
        .put(format!(
            "{}/token/session/:create?consumerToken={DEMO_CONSUMER_TOKEN}&employeeToken={DEMO_COMPANY_KEY}&expirationDate=2099-01-01",
            t.sb.base_url
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
}

#[tokio::test]
async fn sessions_expire_at_the_start_of_their_date_in_oslo() {
    let t = T::new(Faults::none());
    let today = chrono::Utc::now()
        .with_timezone(&chrono_tz::Europe::Oslo)
        .date_naive();
    let (_, b) = t
        .create(
            DEMO_COMPANY_KEY,
            &(today + chrono::Duration::days(1)).to_string(),
        )
        .await;
    let token = b["value"]["token"].as_str().unwrap().to_string();
    let (s, _, _) = t.get("/token/session/%3EwhoAmI", "0", &token).await;
    assert_eq!(s, 200);
    // 25 hours later it is certainly past 00:00 of tomorrow (Oslo).
    t.sb.advance_clock(25 * 3600);
    let (s, _, b) = t.get("/token/session/%3EwhoAmI", "0", &token).await;
    assert_eq!((s, b["code"].as_i64()), (401, Some(3000)));
}

#[tokio::test]
async fn accountant_auth_rules() {
    let t = T::new(Faults::none());
    let acc = t.session(DEMO_ACCOUNTANT_KEY).await;
    // User 0: only >whoAmI and >withLoginAccess.
    assert_eq!(t.get("/token/session/>whoAmI", "0", &acc).await.0, 200);
    assert_eq!(t.get("/company/>withLoginAccess", "0", &acc).await.0, 200);
    assert_eq!(t.get("/company/1001", "0", &acc).await.0, 403);
    assert_eq!(t.get("/ledger/account", "0", &acc).await.0, 403);
    // Linked client with all access.
    let full = DEMO_FULL_CLIENT_ID.to_string();
    let (s, _, who) = t.get("/token/session/>whoAmI", &full, &acc).await;
    assert_eq!(s, 200);
    assert_eq!(who["value"]["companyId"], DEMO_FULL_CLIENT_ID);
    assert_eq!(who["value"]["employeeIsProxy"], true);
    assert_eq!(t.get(&format!("/company/{full}"), &full, &acc).await.0, 200);
    // Another company id than the one acted for.
    assert_eq!(t.get("/company/2002", &full, &acc).await.0, 403);
    // Restricted template: no vouchers.
    let restricted = DEMO_RESTRICTED_CLIENT_ID.to_string();
    let (s, _, b) = t
        .get(
            "/ledger/voucher?dateFrom=2020-01-01&dateTo=2030-01-01",
            &restricted,
            &acc,
        )
        .await;
    assert_eq!((s, b["code"].as_i64()), (403, Some(9000)));
    assert_eq!(t.get("/customer", &restricted, &acc).await.0, 200);
    // API access switched off in the client; unlinked company; garbage user name.
    assert_eq!(
        t.get("/customer", &DEMO_API_OFF_CLIENT_ID.to_string(), &acc)
            .await
            .0,
        403
    );
    assert_eq!(
        t.get("/customer", &DEMO_UNLINKED_ID.to_string(), &acc)
            .await
            .0,
        403
    );
    assert_eq!(t.get("/customer", "abc", &acc).await.0, 401);
    // No or broken Authorization.
    let r = t
        .http
        .get(format!("{}/customer", t.sb.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    // Ordinary key: everything for its own company, nobody else's.
    let own = t.session(DEMO_COMPANY_KEY).await;
    assert_eq!(t.get("/ledger/account", "0", &own).await.0, 200);
    assert_eq!(t.get("/ledger/account", "3001", &own).await.0, 200);
    assert_eq!(t.get("/customer", &full, &own).await.0, 403);
    let (_, _, clients) = t.get("/company/>withLoginAccess", "0", &own).await;
    assert_eq!(clients["values"], json!([]));
    // Deleting a key ends its sessions.
    assert!(t.sb.set_key_deleted(DEMO_COMPANY_KEY, true));
    assert_eq!(t.get("/ledger/account", "0", &own).await.0, 401);
}

#[tokio::test]
async fn paging_fields_and_filters() {
    let t = T::new(Faults::none());
    let acc = t.session(DEMO_ACCOUNTANT_KEY).await;
    let full = DEMO_FULL_CLIENT_ID.to_string();
    let (_, _, p1) = t
        .get("/customer?from=0&count=3&fields=id", &full, &acc)
        .await;
    assert_eq!(
        p1["values"],
        json!([{"id": 40001}, {"id": 40002}, {"id": 40003}])
    );
    assert_eq!(
        (
            p1["from"].as_i64(),
            p1["count"].as_i64(),
            p1["fullResultSize"].as_i64()
        ),
        (Some(0), Some(3), Some(4))
    );
    let (_, _, p2) = t
        .get("/customer?from=3&count=3&fields=id", &full, &acc)
        .await;
    assert_eq!(p2["values"], json!([{"id": 40005}]));
    // Default selection: nested objects as {id, url}.
    let (_, _, d) = t.get("/customer?count=1", &full, &acc).await;
    let addr = &d["values"][0]["postalAddress"];
    assert_eq!(addr["id"], 540001);
    assert!(addr["url"]
        .as_str()
        .unwrap()
        .ends_with("/v2/address/540001"));
    assert!(addr.get("city").is_none());
    assert!(d["values"][0]["url"]
        .as_str()
        .unwrap()
        .ends_with("/v2/customer/40001"));
    // Nested selection.
    let (_, _, n) = t
        .get(
            "/customer?count=1&fields=name,postalAddress(city,postalCode)",
            &full,
            &acc,
        )
        .await;
    assert_eq!(
        n["values"][0],
        json!({"name": "Vestland Bygg AS", "postalAddress": {"city": "Oslo", "postalCode": "0150"}})
    );
    // Illegal fields, top-level and nested.
    for f in ["nope", "postalAddress(nope)", "name(x)", "id,(a)"] {
        let (s, _, b) = t.get(&format!("/customer?fields={f}"), &full, &acc).await;
        assert_eq!((s, b["code"].as_i64()), (400, Some(11000)), "{f}: {b}");
    }
    // Filters.
    let (_, _, inv) = t
        .get(
            "/invoice?invoiceDateFrom=2026-05-10&invoiceDateTo=2026-06-01&fields=invoiceNumber",
            &full,
            &acc,
        )
        .await;
    assert_eq!(inv["values"], json!([{"invoiceNumber": 10024}]));
    let (_, _, inv) = t
        .get(
            "/invoice?invoiceDateFrom=2026-01-01&invoiceDateTo=2026-05-02&fields=id",
            &full,
            &acc,
        )
        .await;
    assert_eq!(inv["values"], json!([]), "dateTo is exclusive");
    let (_, _, acc_list) = t
        .get(
            "/ledger/account?number=1500,1920&fields=number",
            &full,
            &acc,
        )
        .await;
    assert_eq!(
        acc_list["values"],
        json!([{"number": 1500}, {"number": 1920}])
    );
    let (_, _, posts) = t
        .get("/ledger/posting?dateFrom=2026-01-01&dateTo=2027-01-01&customerId=40002&fields=id,closeGroup(id)", &full, &acc)
        .await;
    assert_eq!(
        posts["values"],
        json!([{"id": 60003, "closeGroup": {"id": 90001}}, {"id": 60006, "closeGroup": {"id": 90001}}])
    );
    let (s, _, b) = t
        .get("/ledger/posting?dateFrom=2026-01-01", &full, &acc)
        .await;
    assert_eq!(
        (s, b["validationMessages"][0]["field"].as_str()),
        (422, Some("dateTo"))
    );
}

#[test]
fn the_write_off_scenario_is_added_to_fjordkraft() {
    let f = Fixture::demo().with_write_off_without_marker().unwrap();
    let c = f
        .companies
        .iter()
        .find(|c| c.id == DEMO_FULL_CLIENT_ID)
        .unwrap();
    let count = |name: &str| c.collections[name].len();
    assert_eq!(
        (count("invoices"), count("postings"), count("vouchers")),
        (3, 10, 5)
    );
    let loss = c.collections["postings"]
        .iter()
        .find(|p| p["account"]["id"] == 70007830)
        .unwrap();
    assert_eq!(loss["account"], json!({"id": 70007830}), "a bare reference");
    assert_eq!(loss["description"], "Korrigering reskontro Fjellhytter AS");
    // Added twice: the ids clash.
    let err = f.with_write_off_without_marker().unwrap_err().to_string();
    assert!(err.contains("already has"), "{err}");
    let err = Fixture::demo()
        .with_objects(999, &json!({"postings": []}))
        .unwrap_err();
    assert!(err.to_string().contains("999"), "{err}");
    assert!(Fixture::demo()
        .with_objects(DEMO_FULL_CLIENT_ID, &json!({"nonsense": [{"id": 1}]}))
        .is_err());
}

/// Tripletex's three views of invoice 2003 disagree: the postings net to zero and are closed
/// (not in `openPost`), the invoice still says 4 200 outstanding.
#[tokio::test]
async fn the_unmatched_write_off_is_closed_on_the_ledger_but_outstanding_on_the_invoice() {
    let f = Fixture::demo().with_unmatched_write_off().unwrap();
    let err = f
        .clone()
        .with_unmatched_write_off()
        .unwrap_err()
        .to_string();
    assert!(err.contains("already has"), "{err}");
    // Both scenarios fit into one company (no id clashes).
    f.clone().with_write_off_without_marker().unwrap();
    let t = T::with(f, Faults::none());
    let acc = t.session(DEMO_ACCOUNTANT_KEY).await;
    let full = DEMO_FULL_CLIENT_ID.to_string();
    let (s, _, inv) = t
        .get(
            "/invoice?invoiceDateFrom=2026-06-15&invoiceDateTo=2026-06-16&fields=id,invoiceNumber,amount,amountOutstanding,customer(name)",
            &full,
            &acc,
        )
        .await;
    assert_eq!(s, 200, "{inv}");
    assert_eq!(
        inv["values"],
        json!([{"id": 80004, "invoiceNumber": 2003, "amount": 4200.0,
                "amountOutstanding": 4200.0, "customer": {"name": "Havbruk Service AS"}}])
    );
    let (_, _, open) = t
        .get(
            "/ledger/posting/openPost?date=2026-12-31&customerId=40002&fields=id",
            &full,
            &acc,
        )
        .await;
    assert_eq!(
        open["values"],
        json!([]),
        "nothing open for Havbruk: {open}"
    );
    let (_, _, posts) = t
        .get(
            "/ledger/posting?dateFrom=2026-06-01&dateTo=2027-01-01&customerId=40002&invoiceNumber=2003&fields=id,amount,invoiceNumber,closeGroup(id),account(number),voucher(description)",
            &full,
            &acc,
        )
        .await;
    let ours: Vec<&Value> = posts["values"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["invoiceNumber"] == "2003")
        .collect();
    assert_eq!(
        ours,
        vec![
            &json!({"id": 60013, "amount": 4200.0, "invoiceNumber": "2003", "closeGroup": {"id": 90004},
                    "account": {"number": 1500}, "voucher": {"description": "Faktura 2003"}}),
            &json!({"id": 60015, "amount": -4200.0, "invoiceNumber": "2003", "closeGroup": {"id": 90004},
                    "account": {"number": 1500},
                    "voucher": {"description": "Tapsført faktura 2003 Havbruk Service AS"}}),
        ]
    );
    let (_, _, v) = t
        .get(
            "/ledger/voucher?dateFrom=2026-10-15&dateTo=2026-10-16&fields=id,postings(account(number),amountGross)",
            &full,
            &acc,
        )
        .await;
    assert_eq!(
        v["values"],
        json!([{"id": 50008, "postings": [{"account": {"number": 1500}, "amountGross": -4200.0},
                                           {"account": {"number": 7830}, "amountGross": 4200.0}]}])
    );
}

#[tokio::test]
async fn references_are_expanded_from_the_companys_collections() {
    let t = T::with(
        Fixture::demo().with_write_off_without_marker().unwrap(),
        Faults::none(),
    );
    let acc = t.session(DEMO_ACCOUNTANT_KEY).await;
    let full = DEMO_FULL_CLIENT_ID.to_string();
    // The fixture's postings store `{"id": N}`; sub-fields come from the account and customer.
    // (A field a fixture object lacks, such as the 7830 line's customer, is left out.)
    let (s, _, b) = t
        .get(
            "/ledger/posting?dateFrom=2025-11-14&dateTo=2025-11-15&fields=id,account(number,name),customer(id,name),voucher(number,description)",
            &full,
            &acc,
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(
        b["values"],
        json!([
            {"id": 60009, "account": {"number": 1500, "name": "Kundefordringer"},
             "customer": {"id": 40005, "name": "Fjellhytter AS"},
             "voucher": {"number": 312, "description": "Korrigering reskontro Fjellhytter AS"}},
            {"id": 60010, "account": {"number": 7830, "name": "Konstaterte tap på fordringer"},
             "voucher": {"number": 312, "description": "Korrigering reskontro Fjellhytter AS"}},
        ])
    );
    // `*` of a reference: the whole referenced object, its own references unexpanded.
    let (_, _, b) = t
        .get(
            "/ledger/posting?dateFrom=2025-11-14&dateTo=2025-11-15&count=1&fields=account(*)",
            &full,
            &acc,
        )
        .await;
    let a = &b["values"][0]["account"];
    assert_eq!(a["displayName"], "1500 Kundefordringer");
    assert_eq!(a["isCloseable"], true);
    assert!(a["url"]
        .as_str()
        .unwrap()
        .ends_with("/v2/ledger/account/70001500"));
    assert_eq!(a["currency"]["id"], 1);
    assert!(a["currency"].get("code").is_none(), "{a}");
    // Invoices: customer(name), and their postings with the postings' accounts (nested).
    let (_, _, b) = t
        .get(
            "/invoice?invoiceDateFrom=2025-01-01&invoiceDateTo=2026-01-01&fields=invoiceNumber,customer(name),postings(amount,account(number),voucher(description))",
            &full,
            &acc,
        )
        .await;
    assert_eq!(
        b["values"],
        json!([{"invoiceNumber": 10025, "customer": {"name": "Fjellhytter AS"}, "postings": [
            {"amount": 6250.0, "account": {"number": 1500}, "voucher": {"description": "Faktura 10025"}},
            {"amount": -6250.0, "account": {"number": 1500}, "voucher": {"description": "Korrigering reskontro Fjellhytter AS"}},
        ]}])
    );
    // Vouchers: postings(account(number)), the counter-postings included.
    let (_, _, b) = t
        .get(
            "/ledger/voucher?dateFrom=2026-06-01&dateTo=2026-06-02&fields=number,postings(row,account(number),customer(customerNumber))",
            &full,
            &acc,
        )
        .await;
    assert_eq!(
        b["values"],
        json!([{"number": 3, "postings": [
            {"row": 1, "account": {"number": 1920}},
            {"row": 2, "account": {"number": 1500}, "customer": {"customerNumber": 10002}},
        ]}])
    );
    // Three look-ups deep: posting → voucher → its postings → their accounts.
    let (_, _, b) = t
        .get(
            "/ledger/posting?dateFrom=2026-06-01&dateTo=2026-06-02&count=1&fields=voucher(postings(account(number)))",
            &full,
            &acc,
        )
        .await;
    assert_eq!(
        b["values"][0],
        json!({"voucher": {"postings": [{"account": {"number": 1920}}, {"account": {"number": 1500}}]}})
    );
}

#[tokio::test]
async fn unselected_references_stay_references_and_missing_objects_are_just_ids() {
    let mut fixture = Fixture::demo();
    let company = fixture
        .companies
        .iter_mut()
        .find(|c| c.id == DEMO_FULL_CLIENT_ID)
        .unwrap();
    let postings = company.collections.get_mut("postings").unwrap();
    let mut orphan = postings[0].clone();
    orphan["id"] = json!(60099);
    orphan["account"] = json!({"id": 70009999});
    orphan["customer"] = json!({"id": 49999});
    orphan["voucher"] = json!({"id": 59999});
    postings.push(orphan);
    let t = T::with(fixture, Faults::none());
    let acc = t.session(DEMO_ACCOUNTANT_KEY).await;
    let full = DEMO_FULL_CLIENT_ID.to_string();
    let get = |fields: &'static str| {
        let (t, full, acc) = (&t, &full, &acc);
        async move {
            let (s, _, b) = t
                .get(
                    &format!("/ledger/posting?dateFrom=2026-05-02&dateTo=2026-05-03&id=60001,60099&fields={fields}"),
                    full,
                    acc,
                )
                .await;
            assert_eq!(s, 200, "{b}");
            b["values"].as_array().unwrap().clone()
        }
    };
    // Not expanded without a sub-selection: {id, url}, scheme-less from the sandbox's address.
    for fields in ["id,account,customer,voucher", "*"] {
        let v = get(fields).await;
        let url = v[0]["account"]["url"].as_str().unwrap();
        assert_eq!(
            v[0]["account"].as_object().unwrap().len(),
            2,
            "{fields}: {}",
            v[0]
        );
        assert!(!url.contains("://"), "{url}");
        assert_eq!(
            url,
            format!("{}/ledger/account/70001500", t.sb.addr.to_string() + "/v2")
        );
        assert_eq!(v[0]["customer"]["id"], 40001);
        assert!(v[0]["customer"]["url"]
            .as_str()
            .unwrap()
            .ends_with("/v2/customer/40001"));
        assert!(v[0]["customer"].get("name").is_none());
        // A missing object's reference looks the same without a sub-selection.
        assert_eq!(v[1]["account"]["id"], 70009999);
        assert!(v[1]["account"]["url"]
            .as_str()
            .unwrap()
            .ends_with("/v2/ledger/account/70009999"));
    }
    // `x(id)` needs no look-up: just the id, as Tripletex.
    let v = get("account(id),voucher(id)").await;
    assert_eq!(
        v[0],
        json!({"account": {"id": 70001500}, "voucher": {"id": 50001}})
    );
    // A reference to an object that does not exist: only its id, whatever the selection.
    let v = get("id,account(number,name),customer(name),voucher(number,postings(id))").await;
    assert_eq!(
        v[1],
        json!({"id": 60099, "account": {"id": 70009999}, "customer": {"id": 49999}, "voucher": {"id": 59999}})
    );
    assert_eq!(
        v[0]["account"],
        json!({"number": 1500, "name": "Kundefordringer"})
    );
    assert_eq!(v[0]["customer"], json!({"name": "Vestland Bygg AS"}));
}

#[tokio::test]
async fn rate_limit_headers_and_the_real_limit() {
    let t = T::new(Faults {
        rate_limit: tripletex_sandbox::RateLimit {
            limit: 3,
            window_seconds: 60,
        },
        ..Faults::none()
    });
    let own = t.session(DEMO_COMPANY_KEY).await; // request 1 of the window
    let (s, h, _) = t.get("/ledger/account", "0", &own).await;
    assert_eq!(s, 200);
    assert_eq!(h["x-rate-limit-limit"], "3");
    assert_eq!(h["x-rate-limit-remaining"], "1");
    let reset: u64 = h["x-rate-limit-reset"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&reset));
    assert_eq!(t.get("/ledger/account", "0", &own).await.0, 200);
    let (s, h, b) = t.get("/ledger/account", "0", &own).await;
    assert_eq!(s, 429, "{b}");
    assert!(
        h.get("x-rate-limit-reset").is_none(),
        "429s lack the reset header, as Tripletex"
    );
    assert_eq!(h["x-rate-limit-remaining"], "0");
}

#[tokio::test]
async fn a_hang_outlasts_the_client_and_a_reset_closes_the_connection_unanswered() {
    let t = T::new(Faults::none());
    let own = t.session(DEMO_COMPANY_KEY).await;
    t.sb.set_faults(
        Faults::none()
            .with_rule(
                FaultRule::new(FaultKind::Hang { ms: 1500 })
                    .times(1)
                    .on_path("/ledger/account"),
            )
            .with_rule(
                FaultRule::new(FaultKind::Reset)
                    .times(1)
                    .on_path("/ledger/account"),
            ),
    );
    let get = || {
        t.http
            .get(format!("{}/ledger/account", t.sb.base_url))
            .basic_auth("0", Some(&own))
            .timeout(std::time::Duration::from_millis(300))
            .send()
    };
    let hung = get()
        .await
        .expect_err("no answer within the client's timeout");
    assert!(hung.is_timeout(), "{hung:?}");
    let reset = get()
        .await
        .expect_err("the connection is closed without an answer");
    assert!(
        !reset.is_timeout() && reset.status().is_none(),
        "a transport error, not an answer: {reset:?}"
    );
    // The server goes on serving (on a new connection).
    let ok = get().await.expect("answered once the faults are spent");
    assert_eq!(ok.status().as_u16(), 200);
    let stats = t.sb.stats();
    assert_eq!(stats.faults_injected, 2);
    assert_eq!(stats.requests_by_path["GET /v2/ledger/account"], 3);
}

#[tokio::test]
async fn faults_via_the_admin_api_and_counters() {
    let t = T::new(Faults::none());
    let own = t.session(DEMO_COMPANY_KEY).await;
    let admin = t.sb.admin_url();
    let faults = json!({"rules": [
        {"kind": {"type": "rate_limit", "with_reset": true, "reset_seconds": 7}, "count": 1, "pathContains": "/ledger/account"},
        {"kind": {"type": "server_error", "status": 502}, "count": 1, "pathContains": "/ledger/account"},
        {"kind": {"type": "truncate"}, "count": 1, "pathContains": "/ledger/account"}
    ]});
    let r = t
        .http
        .post(format!("{admin}/faults"))
        .json(&faults)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let (s, h, _) = t.get("/ledger/account", "0", &own).await;
    assert_eq!((s, h["x-rate-limit-reset"].to_str().unwrap()), (429, "7"));
    assert_eq!(t.get("/ledger/account", "0", &own).await.0, 502);
    let (s, _, body) = t.get("/ledger/account", "0", &own).await;
    assert_eq!(s, 200);
    assert!(body.is_string(), "truncated body is not JSON");
    assert!(t.get("/ledger/account", "0", &own).await.2.is_object());
    let bad = t
        .http
        .post(format!("{admin}/faults"))
        .body("{nope")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status().as_u16(), 400);

    let stats: Stats = t
        .http
        .get(format!("{admin}/stats"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stats.session_creates, 1);
    assert_eq!(stats.requests_by_path["GET /v2/ledger/account"], 4);
    assert_eq!(stats.faults_injected, 3);
    assert_eq!(stats.responses_by_status[&429], 1);
    assert_eq!(stats, t.sb.stats());
    let reset: Stats = t
        .http
        .post(format!("{admin}/stats/reset"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(reset.total_requests, 0);

    // Clock, key deletion, session revocation through the admin API.
    let r = t
        .http
        .post(format!("{admin}/sessions/revoke"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["revoked"], 1);
    assert_eq!(t.get("/ledger/account", "0", &own).await.0, 401);
    let own = t.session(DEMO_COMPANY_KEY).await;
    let r = t
        .http
        .post(format!("{admin}/keys"))
        .json(&json!({"token": DEMO_COMPANY_KEY, "deleted": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(t.get("/ledger/account", "0", &own).await.0, 401);
    let r = t
        .http
        .post(format!("{admin}/clock"))
        .json(&json!({"advanceSeconds": 3600}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
}

#[tokio::test]
async fn fraction_faults_hit_about_that_share() {
    let t = T::new(
        Faults::none().with_rule(
            FaultRule::new(FaultKind::ServerError { status: 500 })
                .fraction(0.5)
                .on_path("/ledger/account"),
        ),
    );
    let own = t.session(DEMO_COMPANY_KEY).await;
    let mut errors = 0;
    for _ in 0..60 {
        if t.get("/ledger/account?fields=id", "0", &own).await.0 == 500 {
            errors += 1;
        }
    }
    assert!((15..=45).contains(&errors), "{errors}");
}

#[test]
fn the_binary_prints_its_url_and_serves() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tripletex-sandbox"))
        .args([
            "--fixture",
            "demo",
            "--port",
            "0",
            "--fault",
            "503:1/whoAmI",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .trim()
        .strip_prefix("SANDBOX_URL=")
        .unwrap_or_else(|| panic!("{line}"))
        .to_string();
    assert!(
        url.starts_with("http://127.0.0.1:") && url.ends_with("/v2"),
        "{url}"
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let result = rt.block_on(async {
        let http = reqwest::Client::new();
        let r = http
            .post(format!("{url}/token/session/:create"))
            .json(&json!({"consumerToken": DEMO_CONSUMER_TOKEN, "employeeToken": DEMO_COMPANY_KEY, "expirationDate": "2099-01-01"}))
            .send()
            .await
            .unwrap();
        let token = r.json::<Value>().await.unwrap()["value"]["token"].as_str().unwrap().to_string();
        let first = http.get(format!("{url}/token/session/>whoAmI")).basic_auth("0", Some(&token)).send().await.unwrap().status().as_u16();
        let second = http.get(format!("{url}/token/session/>whoAmI")).basic_auth("0", Some(&token)).send().await.unwrap().status().as_u16();
        (first, second)
    });
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(result, (503, 200));
}

#[tokio::test]
async fn start_on_the_callers_runtime_and_shutdown() {
    let sb = tripletex_sandbox::start(
        Fixture::demo(),
        Faults::none(),
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let health = reqwest::get(format!("{}/health", sb.admin_url()))
        .await
        .unwrap();
    assert_eq!(health.text().await.unwrap(), "ok");
    let addr = sb.addr;
    sb.shutdown().await;
    assert!(reqwest::get(format!("http://{addr}/_sandbox/health"))
        .await
        .is_err());
    // The threaded variant shuts down too.
    let sb = tripletex_sandbox::start_in_thread(Fixture::demo(), Faults::none()).unwrap();
    let addr = sb.addr;
    sb.shutdown().await;
    assert!(reqwest::get(format!("http://{addr}/_sandbox/health"))
        .await
        .is_err());
}
