//! Isolation over every route of the HTTP API, generated from the route list of `template.yaml`.
//!
//! Organization A connects a Tripletex client and runs the initial sync, so that every kind of id
//! the API takes exists for A (account, key, case, notification, …). Then organization B calls
//! every route with an id, once with A's ids and once with ids of the same shape that exist for
//! nobody. Both answers must be the same 404 (the body compared with the ids and the request id
//! taken out), and a dump of the whole table must be byte-for-byte the same before and after: B
//! learns nothing and writes nothing. The routes without an id (lists, searches, creations) must
//! show B nothing of A's.
//!
//! Then the whole run is scanned for the Tripletex tokens: table items, secret metadata, log
//! lines, SQS messages, function responses, API answers.
//!
//! The suite knows each route by name ([`probes`]). A route in the template that it does not know
//! fails the first test, so a new route cannot ship without its isolation probe.
//!
//! Needs every function binary (`cargo build --workspace --bins`).

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use e2e::{connected_world, demo, fixture_company_id, start_stack, table_dump, Api, Reply, World};
use serde_json::{json, Value};

/// How B calls a route: the body it sends (a valid one, so that only the ids decide the answer).
struct Probe {
    body: Option<Value>,
}

fn probe(body: Option<Value>) -> Probe {
    Probe { body }
}

/// Every route of the API with its probe, keyed as API Gateway keys routes (`GET /v1/accounts`).
fn probes(a_client: i64) -> BTreeMap<&'static str, Probe> {
    let integration = json!({
        "keyId": "{key}", "clientCompanyId": a_client, "fetchFrom": "2026-01-01",
        "daysPastDue": 14, "updateAddressesFromBrreg": false,
        "includeSaftImported": false, "includeNullVoucherType": false
    });
    BTreeMap::from([
        // Routes without an id: what B sees or creates is B's own.
        (
            "POST /v1/accounts",
            probe(Some(json!({"name": "B sin klient"}))),
        ),
        ("GET /v1/accounts", probe(None)),
        (
            "POST /v1/tripletex-keys",
            probe(Some(
                json!({"label": "B", "employeeToken": demo::COMPANY_KEY, "accountantKey": false}),
            )),
        ),
        ("GET /v1/tripletex-keys", probe(None)),
        // Routes with an id.
        ("GET /v1/accounts/{id}", probe(None)),
        ("DELETE /v1/tripletex-keys/{id}", probe(None)),
        ("GET /v1/tripletex-keys/{id}/clients", probe(None)),
        (
            "PUT /v1/accounts/{id}/integration",
            probe(Some(integration)),
        ),
        ("GET /v1/accounts/{id}/integration", probe(None)),
        (
            "PATCH /v1/accounts/{id}/integration",
            probe(Some(json!({"daysPastDue": 21}))),
        ),
        ("GET /v1/accounts/{id}/integration/status", probe(None)),
        (
            "POST /v1/accounts/{id}/integration/sync",
            probe(Some(json!({}))),
        ),
        ("GET /v1/accounts/{id}/ledger", probe(None)),
        ("GET /v1/accounts/{id}/customers", probe(None)),
        ("GET /v1/accounts/{id}/notifications", probe(None)),
        (
            "POST /v1/accounts/{id}/notifications/{nid}/seen",
            probe(Some(json!({}))),
        ),
        ("GET /v1/accounts/{id}/cases", probe(None)),
        ("GET /v1/cases/{id}", probe(None)),
        (
            "POST /v1/cases/{id}/pause",
            probe(Some(json!({"until": "2027-01-15", "note": "B prøver"}))),
        ),
        ("POST /v1/cases/{id}/resume", probe(Some(json!({})))),
        (
            "POST /v1/cases/{id}/close",
            probe(Some(json!({"reason": "withdrawn"}))),
        ),
        ("POST /v1/cases/{id}/reopen", probe(Some(json!({})))),
        (
            "POST /v1/cases/{id}/notes",
            probe(Some(json!({"text": "B skriver her"}))),
        ),
        ("GET /v1/limitation", probe(None)),
        (
            "POST /v1/cases/{id}/objection",
            probe(Some(
                json!({"text": "Jeg har aldri bestilt dette", "receivedOn": "{today}", "channel": "email"}),
            )),
        ),
        (
            "POST /v1/cases/{id}/objection/assess",
            probe(Some(
                json!({"outcome": "groundless", "reason": "Varen ble levert"}),
            )),
        ),
        (
            "POST /v1/cases/{id}/objection/corrected",
            probe(Some(json!({"note": "Kravet er rettet"}))),
        ),
        (
            "POST /v1/cases/{id}/acknowledgement",
            probe(Some(json!({"on": "{today}", "note": "Erkjent på telefon"}))),
        ),
        (
            "POST /v1/cases/{id}/legal-steps/filed",
            probe(Some(json!({"route": "utlegg", "filedOn": "{today}"}))),
        ),
        (
            "POST /v1/cases/{id}/legal-documents",
            probe(Some(json!({}))),
        ),
        ("GET /v1/cases/{id}/legal-documents", probe(None)),
        ("GET /v1/cases/{id}/legal-documents/{docId}", probe(None)),
        (
            "GET /v1/cases/{id}/legal-documents/{docId}/pdf",
            probe(None),
        ),
        (
            "POST /v1/cases/{id}/legal-documents/{docId}/approve",
            probe(Some(json!({"name": "B Bedrift"}))),
        ),
        ("GET /v1/accounts/{id}/dunning-policy", probe(None)),
        (
            "PUT /v1/accounts/{id}/dunning-policy",
            probe(Some(json!({"policy": "{policy}"}))),
        ),
        ("GET /v1/accounts/{id}/dunning/preview", probe(None)),
        ("GET /v1/dunning/preview", probe(None)),
        ("GET /v1/accounts/{id}/dunning/batches", probe(None)),
        (
            "POST /v1/accounts/{id}/dunning/batches/{batchId}/approve",
            probe(Some(json!({"all": true}))),
        ),
        ("POST /v1/accounts/{id}/dunning/run", probe(None)),
        ("GET /v1/accounts/{id}/dunning/runs/{date}", probe(None)),
        ("GET /v1/accounts/{id}/dunning/uncertain", probe(None)),
        ("GET /v1/cases/{id}/notices", probe(None)),
        ("GET /v1/cases/{id}/notices/{noticeId}/pdf", probe(None)),
        (
            "POST /v1/cases/{id}/notices/{noticeId}/resolve",
            probe(Some(json!({"resolution": "release"}))),
        ),
        ("GET /v1/accounts/{id}/settlements", probe(None)),
        ("GET /v1/openapi.json", probe(None)),
        ("GET /v1/docs", probe(None)),
        (
            "POST /v1/accounts/{id}/settlements/{sid}/retry",
            probe(Some(json!({}))),
        ),
    ])
}

/// A's ids, by the name of the path parameter and the collection it follows.
struct Ids(World);

impl std::ops::Deref for Ids {
    type Target = World;
    fn deref(&self) -> &World {
        &self.0
    }
}

impl Ids {
    /// The value for `{param}` in a route whose path starts with `path`.
    fn value(&self, path: &str, param: &str) -> String {
        match (param, path) {
            ("id", p) if p.starts_with("/v1/accounts/") => self.account.clone(),
            ("id", p) if p.starts_with("/v1/tripletex-keys/") => self.key.clone(),
            ("id", p) if p.starts_with("/v1/cases/") => self.case.clone(),
            ("nid", _) => self.notification.clone(),
            // The first settlement of A's claim (`{claimId}.{version}`): the account in the path
            // decides, whether A's claim has been settled or not.
            ("sid", _) => format!("{}.1", self.claim()),
            // A document id of the right shape (`doc_` + 32 hex): the case in the path decides.
            ("docId", _) => "doc_0123456789abcdef0123456789abcdef".to_string(),
            // Today's batch and run; the purring of A's case.
            ("batchId" | "date", _) => self.today.to_string(),
            ("noticeId", _) => format!("{}.purring", self.case_in_account()),
            (param, path) => panic!("the isolation suite has no id for {{{param}}} in {path}"),
        }
    }

    /// A's case id within its account (`case_{claim}`).
    fn case_in_account(&self) -> &str {
        self.case.rsplit('.').next().unwrap_or(&self.case)
    }

    /// The claim of A's case (`{account}.case_{claim}`).
    fn claim(&self) -> String {
        let case = self.case.rsplit('.').next().unwrap_or(&self.case);
        case.strip_prefix("case_").unwrap_or(case).to_string()
    }

    fn all(&self) -> [&str; 4] {
        [&self.account, &self.key, &self.case, &self.notification]
    }
}

/// An id of the same shape that exists for nobody: the last character of each part moved on
/// within its class (`acc_…7f` → `acc_…7a`: hex stays hex; `2026-12-02` → `2026-12-03`), a
/// dunning step's name kept (`….purring`), so that a format check cannot tell them apart.
fn nobodys(id: &str) -> String {
    const STEPS: [&str; 4] = [
        "paminnelse",
        "purring",
        "inkassovarsel",
        "betalingsoppfordring",
    ];
    id.split('.')
        .map(|part| {
            if STEPS.contains(&part) {
                return part.to_string();
            }
            let mut chars: Vec<char> = part.chars().collect();
            if let Some(last) = chars.last_mut() {
                *last = match *last {
                    '9' => '0',
                    'f' => 'a',
                    'z' => 'g',
                    'Z' => 'A',
                    c if c.is_ascii_alphanumeric() => (c as u8 + 1) as char,
                    c => c,
                };
            }
            chars.into_iter().collect::<String>()
        })
        .collect::<Vec<_>>()
        .join(".")
}

/// The route's path with each `{param}` filled by `fill`.
fn fill(path: &str, mut value: impl FnMut(&str) -> String) -> String {
    let mut out = String::new();
    let mut rest = path;
    while let Some(start) = rest.find('{') {
        let end = rest[start..].find('}').expect("a closed parameter") + start;
        out.push_str(&rest[..start]);
        out.push_str(&value(&rest[start + 1..end]));
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

/// The answer with what may differ between two ids taken out: the request id, and the ids.
fn comparable(r: &Reply, ids: &[(String, &str)]) -> (u16, String) {
    let mut body = r.body.clone();
    if let Some(o) = body.as_object_mut() {
        o.remove("requestId");
        if let Some(e) = o.get_mut("error").and_then(Value::as_object_mut) {
            e.remove("requestId");
        }
    }
    let mut text = body.to_string();
    for (id, name) in ids {
        text = text.replace(id.as_str(), name);
    }
    (r.status, text)
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

async fn call(api: &Api, method: &str, path: &str, body: Option<&Value>) -> Reply {
    api.call(method, path, body)
        .await
        .unwrap_or_else(|e| panic!("{method} {path}: {e:#}"))
}

/// A's world: a key, an account connected to a demo client, the initial sync done, cases opened
/// and the "ready" notification there.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_organization_gets_404_on_every_route_with_an_id_changes_nothing_and_no_token_is_anywhere(
) {
    let stack = start_stack().await.expect("stack");
    let client = fixture_company_id("Fjordkraft Rørlegger AS");
    let probes = probes(client);

    // Every route of the template has its probe, and every probe a route.
    let routes: BTreeSet<String> = stack
        .functions
        .iter()
        .flat_map(|f| f.http_routes.iter())
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    let known: BTreeSet<String> = probes.keys().map(|k| k.to_string()).collect();
    assert_eq!(
        routes.difference(&known).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "routes of template.yaml without an isolation probe: add them to probes()"
    );
    assert_eq!(
        known.difference(&routes).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "probes for routes template.yaml no longer has"
    );

    let a = Api::new(&stack, "org_iso_a");
    let b = Api::new(&stack, "org_iso_b");
    let ids = Ids(connected_world(&stack, &a, client).await);
    let table = stack
        .resources
        .ref_value("Table")
        .expect("the table")
        .to_string();
    let names: Vec<(String, &str)> = [
        (ids.account.clone(), "{account}"),
        (ids.key.clone(), "{key}"),
        (ids.case.clone(), "{case}"),
        (ids.notification.clone(), "{notification}"),
    ]
    .into_iter()
    .flat_map(|(id, name)| [(nobodys(&id), name), (id, name)])
    .collect();

    // Let A's pipeline come to rest, so that the dump compares B's calls only.
    let rest_by = Instant::now() + Duration::from_secs(60);
    let mut before = sorted(table_dump(&stack, &table).await.unwrap());
    loop {
        tokio::time::sleep(Duration::from_secs(2)).await;
        let again = sorted(table_dump(&stack, &table).await.unwrap());
        if again == before {
            break;
        }
        assert!(
            Instant::now() < rest_by,
            "A's pipeline still writes after 60 s: {:?}",
            again
                .iter()
                .filter(|i| !before.contains(i))
                .chain(before.iter().filter(|i| !again.contains(i)))
                .take(4)
                .collect::<Vec<_>>()
        );
        before = again;
    }
    eprintln!("isolation: A's world has {} items", before.len());

    let today = shared::services::cases::norwegian_date(chrono::Utc::now());
    let mut with_id = 0;
    for (route, p) in &probes {
        let (method, path) = route.split_once(' ').unwrap();
        if !path.contains('{') {
            continue;
        }
        with_id += 1;
        eprintln!("isolation: {route}");
        let body = p.body.as_ref().map(|b| {
            let text = b
                .to_string()
                .replace("{key}", &ids.key)
                .replace("{today}", &today.to_string())
                .replace("\"{policy}\"", &ids.policy.to_string());
            serde_json::from_str(&text).unwrap()
        });
        let theirs = call(
            &b,
            method,
            &fill(path, |n| ids.value(path, n)),
            body.as_ref(),
        )
        .await;
        let nobody = call(
            &b,
            method,
            &fill(path, |n| nobodys(&ids.value(path, n))),
            body.as_ref(),
        )
        .await;
        assert_eq!(theirs.status, 404, "{route} with A's ids: {}", theirs.raw);
        assert_eq!(
            comparable(&theirs, &names),
            comparable(&nobody, &names),
            "{route}: A's ids and nobody's answer differently"
        );
    }
    let after = sorted(table_dump(&stack, &table).await.unwrap());
    assert!(
        before == after,
        "B's calls changed the table: {} items before, {} after",
        before.len(),
        after.len()
    );

    // The routes without an id show B nothing of A's; the public ones (no JWT) show everyone the
    // same.
    let public: BTreeSet<String> = stack
        .functions
        .iter()
        .flat_map(|f| f.http_routes.iter())
        .filter(|r| !r.authorized)
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    for (route, p) in &probes {
        let (method, path) = route.split_once(' ').unwrap();
        if path.contains('{') {
            continue;
        }
        let r = call(&b, method, path, p.body.as_ref()).await;
        assert!(r.status < 500, "{route}: {}", r.raw);
        if public.contains(*route) {
            // The same for everyone, with a token or without: nothing of any organization's.
            let anonymous = call(&Api::with_token(&stack.api_url, None), method, path, None).await;
            assert_eq!(
                r.raw, anonymous.raw,
                "{route} answers B otherwise than anyone"
            );
            continue;
        }
        for id in ids.all() {
            assert!(!r.raw.contains(id), "{route} shows B A's {id}: {}", r.raw);
        }
    }
    // A still has all of it.
    let r = a.get(&format!("/v1/cases/{}", ids.case)).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.raw);
    eprintln!(
        "isolation: {} routes, {with_id} with an id probed twice by another organization",
        probes.len()
    );

    // After the pipeline ran (setup, sync, classification, cases) and every route was called: no
    // Tripletex token in any table item, secret metadata, log line, SQS message, function
    // response or API answer.
    let leaks = e2e::token_leaks(&stack, &[&a, &b]).await.unwrap();
    assert!(leaks.is_empty(), "tokens leaked: {leaks:?}");
    let (sqs, responses) = e2e::scanned_traffic(&stack);
    assert!(sqs > 0, "the scan saw the queues' messages");
    eprintln!(
        "secrets scan: {sqs} SQS events, {responses} function responses, {} log lines: 0 tokens",
        stack.logs().len()
    );
    stack.shutdown().await;
}

#[test]
fn nobodys_ids_keep_the_shape() {
    assert_eq!(nobodys("acc_7Hq2"), "acc_7Hq3");
    assert_eq!(nobodys("acc_1z.case_inv_80009"), "acc_1g.case_inv_80000");
    assert_eq!(nobodys("acc_01af"), "acc_01aa");
    assert_eq!(nobodys("case_inv_80001.purring"), "case_inv_80002.purring");
    assert_eq!(nobodys("2026-12-02"), "2026-12-03");
    assert_ne!(nobodys("ntf_ready"), "ntf_ready");
    assert_eq!(
        fill("/v1/accounts/{id}/notifications/{nid}/seen", |p| p
            .to_uppercase()),
        "/v1/accounts/ID/notifications/NID/seen"
    );
}
