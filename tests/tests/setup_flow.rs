//! End to end: an accounting office connects Tripletex clients through the HTTP API.
//! HTTP → the local API Gateway (JWT) → the real `integration-setup` binary (Lambda Runtime API) →
//! moto (DynamoDB, SQS, Secrets Manager, provisioned from template.yaml) and the Tripletex sandbox.

use e2e::{
    demo, fixture_company_id, peek_messages, secrets_metadata, stack_secret_prefix,
    start_stack_with, table_dump, Api,
};
use inndrive_local::LocalStack;
use serde_json::{json, Value};

/// These tests inspect the sync queue, so the sync worker (which would consume it) does not run.
async fn start_stack() -> anyhow::Result<LocalStack> {
    start_stack_with(Some(&["IntegrationSetupFunction"])).await
}

fn today() -> chrono::NaiveDate {
    chrono::Utc::now().date_naive()
}

fn settings(key_id: &str, client: i64) -> Value {
    json!({
        "keyId": key_id,
        "clientCompanyId": client,
        "fetchFrom": (today() - chrono::Duration::days(365)).to_string(),
        "daysPastDue": 14,
        "updateAddressesFromBrreg": true,
        "includeSaftImported": false,
        "includeNullVoucherType": false
    })
}

async fn register_accountant_key(api: &Api) -> String {
    let r = api
        .post(
            "/v1/tripletex-keys",
            &json!({"label": "Regnskapskontorets nøkkel", "employeeToken": demo::ACCOUNTANT_KEY, "accountantKey": true}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "register key: {}", r.raw);
    r.body["id"].as_str().expect("key id").to_string()
}

async fn create_account(api: &Api, name: &str, orgnr: Option<&str>) -> String {
    let mut body = json!({ "name": name });
    if let Some(o) = orgnr {
        body["organizationNumber"] = json!(o);
    }
    let r = api.post("/v1/accounts", &body).await.unwrap();
    assert_eq!(r.status, 201, "create account: {}", r.raw);
    r.body["id"].as_str().expect("account id").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accountant_connects_a_client_and_the_initial_sync_is_queued_per_key() {
    let stack = start_stack().await.expect("stack");
    let api = Api::new(&stack, "org_regnskap_nord");

    // A creditor account, found again by search.
    let account = create_account(&api, "Fjordkraft Rørlegger AS", Some("934 567 897")).await;
    let list = api.get("/v1/accounts?q=fjordkraft").await.unwrap();
    assert_eq!(list.status, 200, "{}", list.raw);
    assert!(
        list.raw.contains(&account),
        "search by name finds it: {}",
        list.raw
    );
    let by_orgnr = api.get("/v1/accounts?q=934567897").await.unwrap();
    assert!(
        by_orgnr.raw.contains(&account),
        "search by orgnr finds it: {}",
        by_orgnr.raw
    );
    let none = api.get("/v1/accounts?q=bakeriet").await.unwrap();
    assert!(!none.raw.contains(&account), "{}", none.raw);

    // The accountant key, registered once; the response shows a hint, never the token.
    let r = api
        .post(
            "/v1/tripletex-keys",
            &json!({"label": "Regnskapskontorets nøkkel", "employeeToken": demo::ACCOUNTANT_KEY, "accountantKey": true}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.raw);
    let key = r.body["id"].as_str().unwrap().to_string();
    assert_eq!(r.body["tokenHint"], json!("0001"));
    assert_eq!(r.body["accountantKey"], json!(true));
    assert_eq!(r.body["companyName"], json!("Regnskap Nord AS"));
    assert!(r.body["createdAt"].is_string());

    // The dropdown: the clients linked to the key.
    let clients = api
        .get(&format!("/v1/tripletex-keys/{key}/clients"))
        .await
        .unwrap();
    assert_eq!(clients.status, 200, "{}", clients.raw);
    let names: Vec<&str> = clients
        .body
        .as_array()
        .expect("a list of clients")
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    assert!(names.contains(&"Fjordkraft Rørlegger AS"), "{names:?}");
    assert!(names.contains(&"Bakeriet Hansen AS"), "{names:?}");
    assert!(
        !names.contains(&"Ikke Koblet AS"),
        "an unlinked company is not offered: {names:?}"
    );
    let fjordkraft = fixture_company_id("Fjordkraft Rørlegger AS");
    let entry = clients
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["companyId"] == json!(fjordkraft))
        .expect("Fjordkraft by companyId");
    assert_eq!(entry["organizationNumber"], json!("934567897"));

    // The integration: stored as pending, the initial sync queued with the key as message group.
    let put = api
        .put(
            &format!("/v1/accounts/{account}/integration"),
            &settings(&key, fjordkraft),
        )
        .await
        .unwrap();
    assert_eq!(put.status, 201, "{}", put.raw);
    assert_eq!(put.body["status"], json!("pending"), "{}", put.raw);
    let got = api
        .get(&format!("/v1/accounts/{account}/integration"))
        .await
        .unwrap();
    assert_eq!(got.status, 200, "{}", got.raw);
    assert_eq!(got.body["status"], json!("pending"));
    assert_eq!(
        got.body["settings"]["clientCompanyId"],
        json!(fjordkraft),
        "{}",
        got.raw
    );
    assert_eq!(
        got.body["settings"]["daysPastDue"],
        json!(14),
        "{}",
        got.raw
    );

    // The same setup request again: no second integration, no second initial sync.
    let again = api
        .put(
            &format!("/v1/accounts/{account}/integration"),
            &settings(&key, fjordkraft),
        )
        .await
        .unwrap();
    assert_eq!(
        again.status, 200,
        "a repeated PUT is not a new integration: {}",
        again.raw
    );

    // PATCH changes a setting.
    let patched = api
        .patch(
            &format!("/v1/accounts/{account}/integration"),
            &json!({"daysPastDue": 30}),
        )
        .await
        .unwrap();
    assert_eq!(patched.status, 200, "{}", patched.raw);
    let got = api
        .get(&format!("/v1/accounts/{account}/integration"))
        .await
        .unwrap();
    assert_eq!(
        got.body["settings"]["daysPastDue"],
        json!(30),
        "{}",
        got.raw
    );

    let queue = stack
        .resources
        .ref_value("SyncQueue")
        .expect("sync queue")
        .to_string();
    let messages = peek_messages(&stack, &queue, 10).await.unwrap();
    let mine: Vec<_> = messages
        .iter()
        .filter(|m| m.body().unwrap_or("").contains(&account))
        .collect();
    assert_eq!(mine.len(), 1, "exactly one initial sync: {messages:?}");
    let m = mine[0];
    let group = m
        .attributes()
        .and_then(|a| a.get(&aws_sdk_sqs::types::MessageSystemAttributeName::MessageGroupId))
        .cloned();
    assert_eq!(
        group.as_deref(),
        Some(key.as_str()),
        "message group = the Tripletex key"
    );
    let body: Value = serde_json::from_str(m.body().unwrap()).expect("JSON body");
    let text = body.to_string();
    for t in demo::ALL_TOKENS {
        assert!(
            !text.contains(t),
            "a queue message never carries a token: {text}"
        );
    }

    // One accountant key serves a second account without pasting it again.
    let account2 = create_account(&api, "Bakeriet Hansen AS", None).await;
    let bakeriet = fixture_company_id("Bakeriet Hansen AS");
    let r = api
        .put(
            &format!("/v1/accounts/{account2}/integration"),
            &settings(&key, bakeriet),
        )
        .await
        .unwrap();
    // Bakeriet's key template lacks vouchers: refused with the fix named, not stored.
    assert_eq!(r.status, 422, "{}", r.raw);
    assert_eq!(r.error_code(), "tripletex_missing_entitlement", "{}", r.raw);
    assert!(r.raw.contains("Alle tilganger"), "{}", r.raw);

    // A key in use cannot be deleted.
    let del = api
        .delete(&format!("/v1/tripletex-keys/{key}"))
        .await
        .unwrap();
    assert_eq!(del.status, 409, "{}", del.raw);
    let keys = api.get("/v1/tripletex-keys").await.unwrap();
    assert!(
        keys.raw.contains(&key),
        "the key is still there: {}",
        keys.raw
    );

    stack.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_name_the_step_in_tripletex_that_fixes_them() {
    let stack = start_stack().await.expect("stack");
    let api = Api::new(&stack, "org_refusals");
    let key = register_accountant_key(&api).await;
    let account = create_account(&api, "Klient", None).await;

    let cases = [
        (
            "Ikke Koblet AS",
            "tripletex_key_not_linked_to_client",
            "Tilganger",
        ),
        (
            "Kaffebrenneriet Sør AS",
            "tripletex_api_access_disabled",
            "API-tilgang",
        ),
        (
            "Bakeriet Hansen AS",
            "tripletex_missing_entitlement",
            "Alle tilganger",
        ),
    ];
    for (company, code, fix) in cases {
        let id = fixture_company_id(company);
        let r = api
            .put(
                &format!("/v1/accounts/{account}/integration"),
                &settings(&key, id),
            )
            .await
            .unwrap();
        assert_eq!(r.status, 422, "{company}: {}", r.raw);
        assert_eq!(r.error_code(), code, "{company}: {}", r.raw);
        assert!(
            r.raw.contains(fix),
            "{company}: the fix is named: {}",
            r.raw
        );
    }
    let none = api
        .get(&format!("/v1/accounts/{account}/integration"))
        .await
        .unwrap();
    assert_eq!(
        none.status, 404,
        "nothing stored after refusals: {}",
        none.raw
    );

    stack.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_key_is_422_and_nothing_is_stored_anywhere() {
    let stack = start_stack().await.expect("stack");
    let api = Api::new(&stack, "org_rejected");
    let table = stack.resources.ref_value("Table").unwrap().to_string();
    let before = table_dump(&stack, &table).await.unwrap();

    for token in [demo::DELETED_KEY, "not-a-tripletex-token-at-all"] {
        let r = api
            .post(
                "/v1/tripletex-keys",
                &json!({"label": "Gammel nøkkel", "employeeToken": token, "accountantKey": false}),
            )
            .await
            .unwrap();
        assert_eq!(r.status, 422, "{}", r.raw);
        assert_eq!(r.error_code(), "tripletex_key_invalid", "{}", r.raw);
        assert!(!r.raw.contains(token), "the token is not echoed: {}", r.raw);
    }
    let after = table_dump(&stack, &table).await.unwrap();
    assert_eq!(before, after, "no item written");
    let secrets = secrets_metadata(&stack, &stack_secret_prefix(&stack))
        .await
        .unwrap();
    assert!(
        secrets.iter().all(|s| !s.contains("tripletex-keys")),
        "no key secret created: {secrets:?}"
    );
    let keys = api.get("/v1/tripletex-keys").await.unwrap();
    assert_eq!(keys.body, json!([]), "{}", keys.raw);

    stack.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_never_reach_items_logs_responses_or_secret_metadata() {
    let stack = start_stack().await.expect("stack");
    let api = Api::new(&stack, "org_leakcheck");
    let key = register_accountant_key(&api).await;
    let r = api
        .post(
            "/v1/tripletex-keys",
            &json!({"label": "Egen nøkkel", "employeeToken": demo::COMPANY_KEY, "accountantKey": false}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.raw);
    let own = r.body["id"].as_str().unwrap().to_string();
    let own_clients = api
        .get(&format!("/v1/tripletex-keys/{own}/clients"))
        .await
        .unwrap();
    assert_eq!(own_clients.status, 200, "{}", own_clients.raw);
    assert_eq!(
        own_clients.body.as_array().map(Vec::len),
        Some(1),
        "an ordinary key reaches its own company: {}",
        own_clients.raw
    );
    assert_eq!(own_clients.body[0]["name"], json!("Solberg Elektro AS"));

    let account = create_account(&api, "Fjordkraft", None).await;
    let r = api
        .put(
            &format!("/v1/accounts/{account}/integration"),
            &settings(&key, fixture_company_id("Fjordkraft Rørlegger AS")),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.raw);
    let _ = api.get("/v1/tripletex-keys").await.unwrap();
    let _ = api
        .get(&format!("/v1/accounts/{account}/integration"))
        .await
        .unwrap();
    // An unused key can be deleted, and its secret goes with it.
    let del = api
        .delete(&format!("/v1/tripletex-keys/{own}"))
        .await
        .unwrap();
    assert!(del.status == 204 || del.status == 200, "{}", del.raw);

    let table = stack.resources.ref_value("Table").unwrap().to_string();
    let items = table_dump(&stack, &table).await.unwrap();
    assert!(!items.is_empty());
    let secrets = secrets_metadata(&stack, &stack_secret_prefix(&stack))
        .await
        .unwrap();
    assert!(
        secrets.iter().any(|s| s.contains(&key)),
        "the accountant key's secret exists: {secrets:?}"
    );
    assert!(
        !secrets.iter().any(|s| s.contains(&own)),
        "the deleted key's secret is gone: {secrets:?}"
    );
    // Nor in any item, secret's metadata, log line, queue message or answer.
    let leaks = e2e::token_leaks(&stack, &[&api]).await.unwrap();
    assert!(leaks.is_empty(), "tokens leaked: {leaks:?}");
    stack.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn organizations_cannot_see_or_use_each_others_data() {
    let stack = start_stack().await.expect("stack");
    let a = Api::new(&stack, "org_a");
    let b = Api::new(&stack, "org_b");
    let key = register_accountant_key(&a).await;
    let account = create_account(&a, "A sin klient", None).await;
    let fjordkraft = fixture_company_id("Fjordkraft Rørlegger AS");
    let r = a
        .put(
            &format!("/v1/accounts/{account}/integration"),
            &settings(&key, fjordkraft),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.raw);

    // B sees none of it, and cannot use it: 404, as if it did not exist.
    assert_eq!(b.get("/v1/accounts").await.unwrap().body, json!([]));
    assert_eq!(b.get("/v1/tripletex-keys").await.unwrap().body, json!([]));
    for (what, r) in [
        (
            "account",
            b.get(&format!("/v1/accounts/{account}")).await.unwrap(),
        ),
        (
            "integration",
            b.get(&format!("/v1/accounts/{account}/integration"))
                .await
                .unwrap(),
        ),
        (
            "clients",
            b.get(&format!("/v1/tripletex-keys/{key}/clients"))
                .await
                .unwrap(),
        ),
        (
            "delete key",
            b.delete(&format!("/v1/tripletex-keys/{key}"))
                .await
                .unwrap(),
        ),
        (
            "patch integration",
            b.patch(
                &format!("/v1/accounts/{account}/integration"),
                &json!({"daysPastDue": 1}),
            )
            .await
            .unwrap(),
        ),
    ] {
        assert_eq!(r.status, 404, "{what}: {}", r.raw);
    }
    // B cannot attach A's key to its own account either.
    let b_account = create_account(&b, "B sin klient", None).await;
    let r = b
        .put(
            &format!("/v1/accounts/{b_account}/integration"),
            &settings(&key, fjordkraft),
        )
        .await
        .unwrap();
    assert!(r.status == 404 || r.status == 422, "{}", r.raw);
    assert_eq!(r.error_field(), Some("keyId"), "{}", r.raw);
    // A's data is untouched.
    let still = a
        .get(&format!("/v1/accounts/{account}/integration"))
        .await
        .unwrap();
    assert_eq!(still.status, 200);
    assert_eq!(still.body["settings"]["daysPastDue"], json!(14));

    stack.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_a_clear_error_naming_the_field() {
    let stack = start_stack().await.expect("stack");
    let api = Api::new(&stack, "org_badinput");

    let anonymous = Api::with_token(&stack.api_url, None);
    assert_eq!(anonymous.get("/v1/accounts").await.unwrap().status, 401);
    let forged = Api::with_token(&stack.api_url, Some("eyJhbGciOiJIUzI1NiJ9.e30.x".into()));
    assert_eq!(forged.get("/v1/accounts").await.unwrap().status, 401);

    let r = api.post("/v1/accounts", &json!({"name": 5})).await.unwrap();
    assert_eq!(r.status, 400, "{}", r.raw);
    assert_eq!(r.error_field(), Some("name"), "{}", r.raw);
    let r = api
        .post(
            "/v1/accounts",
            &json!({"name": "X", "organizationNumber": "123456789"}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 422, "{}", r.raw);
    assert_eq!(r.error_field(), Some("organizationNumber"), "{}", r.raw);
    let r = api
        .post("/v1/accounts", &json!({"name": "   "}))
        .await
        .unwrap();
    assert_eq!(r.status, 422, "{}", r.raw);
    assert_eq!(r.error_field(), Some("name"), "{}", r.raw);

    let key = register_accountant_key(&api).await;
    let account = create_account(&api, "Klient", None).await;
    let fjordkraft = fixture_company_id("Fjordkraft Rørlegger AS");
    let mut s = settings(&key, fjordkraft);
    s["daysPastDue"] = json!(400);
    let r = api
        .put(&format!("/v1/accounts/{account}/integration"), &s)
        .await
        .unwrap();
    assert_eq!(r.status, 422, "{}", r.raw);
    assert_eq!(r.error_field(), Some("daysPastDue"), "{}", r.raw);
    let mut s = settings(&key, fjordkraft);
    s["fetchFrom"] = json!((today() + chrono::Duration::days(1)).to_string());
    let r = api
        .put(&format!("/v1/accounts/{account}/integration"), &s)
        .await
        .unwrap();
    assert_eq!(r.status, 422, "{}", r.raw);
    assert_eq!(r.error_field(), Some("fetchFrom"), "{}", r.raw);
    let mut s = settings(&key, fjordkraft);
    s["fetchFrom"] = json!("2014-01-01");
    let r = api
        .put(&format!("/v1/accounts/{account}/integration"), &s)
        .await
        .unwrap();
    assert_eq!(r.status, 422, "{}", r.raw);
    assert_eq!(r.error_field(), Some("fetchFrom"), "{}", r.raw);
    let r = api
        .call("PUT", &format!("/v1/accounts/{account}/integration"), None)
        .await
        .unwrap();
    assert_eq!(r.status, 400, "{}", r.raw);
    // Nothing was stored by the bad requests.
    let got = api
        .get(&format!("/v1/accounts/{account}/integration"))
        .await
        .unwrap();
    assert_eq!(got.status, 404, "{}", got.raw);
    // The function is still alive after all of it.
    assert_eq!(api.get("/v1/accounts").await.unwrap().status, 200);

    stack.shutdown().await;
}
