//! The integration-setup handler with the real adapters against moto and the Tripletex sandbox.

mod common;

use common::World;
use serde_json::{json, Value};
use shared::adapters::store::keys;
use tripletex_sandbox::{
    DEMO_ACCOUNTANT_KEY, DEMO_API_OFF_CLIENT_ID, DEMO_COMPANY_KEY, DEMO_DELETED_KEY,
    DEMO_FULL_CLIENT_ID, DEMO_RESTRICTED_CLIENT_ID, DEMO_SOLBERG_ID, DEMO_UNLINKED_ID,
};

const ALL_TOKENS: [&str; 3] = [DEMO_ACCOUNTANT_KEY, DEMO_COMPANY_KEY, DEMO_DELETED_KEY];

fn key_body(token: &str, accountant: bool) -> String {
    json!({"label": "Regnskapskontoret", "employeeToken": token, "accountantKey": accountant})
        .to_string()
}

fn integration_body(key_id: &str, company: i64) -> String {
    json!({
        "keyId": key_id, "clientCompanyId": company, "fetchFrom": "2025-01-01", "daysPastDue": 14,
        "updateAddressesFromBrreg": true, "includeSaftImported": false, "includeNullVoucherType": false
    })
    .to_string()
}

async fn create_key(w: &World, org: &str, token: &str, accountant: bool) -> String {
    let (status, body, _) = w
        .call(
            "POST",
            "/v1/tripletex-keys",
            Some(org),
            Some(&key_body(token, accountant)),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    body["id"].as_str().unwrap().to_string()
}

async fn create_account(w: &World, org: &str, name: &str) -> String {
    let (status, body, _) = w
        .call(
            "POST",
            "/v1/accounts",
            Some(org),
            Some(&json!({"name": name}).to_string()),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    body["id"].as_str().unwrap().to_string()
}

/// Asserts that no token occurs in any DynamoDB item, secret name/description/tag, response body or
/// log line of this test binary.
async fn assert_no_token_leaks(w: &World) {
    let items = w.all_items().await;
    let secrets = w.key_secrets().await;
    let responses = w.responses.lock().unwrap().clone();
    let logs = common::captured_logs();
    assert!(!logs.is_empty(), "the log capture works");
    for token in ALL_TOKENS {
        for item in &items {
            assert!(!item.contains(token), "token in a DynamoDB item: {item}");
        }
        for (name, meta) in &secrets {
            assert!(
                !name.contains(token) && !meta.contains(token),
                "token in secret metadata: {name} {meta}"
            );
        }
        for r in &responses {
            assert!(!r.contains(token), "token in a response: {r}");
        }
        assert!(!logs.contains(token), "token in the logs");
    }
}

#[tokio::test]
async fn keys_are_verified_stored_in_secrets_only_and_list_their_clients() {
    let w = World::new().await;
    let (status, key, resp) = w
        .call(
            "POST",
            "/v1/tripletex-keys",
            Some("org_a"),
            Some(&key_body(DEMO_ACCOUNTANT_KEY, true)),
        )
        .await;
    assert_eq!(status, 201, "{key}");
    assert_eq!(key["tokenHint"], "0001");
    assert_eq!(key["accountantKey"], true);
    assert_eq!(key["label"], "Regnskapskontoret");
    assert!(
        key["companyName"].as_str().is_some_and(|n| !n.is_empty()),
        "{key}"
    );
    assert!(key["createdAt"].is_string());
    let id = key["id"].as_str().unwrap();
    assert_eq!(
        resp.headers()["location"],
        format!("/v1/tripletex-keys/{id}")
    );

    // The token is in Secrets Manager under the prefix, and nowhere else.
    let name = format!("{}org_a/{id}", w.secret_prefix);
    assert_eq!(
        w.secret_value(&name).await.as_deref(),
        Some(DEMO_ACCOUNTANT_KEY)
    );
    let secrets = w.key_secrets().await;
    assert_eq!(secrets.len(), 1);
    assert!(
        secrets[0].1.contains(id),
        "tags/description name the key id: {:?}",
        secrets[0]
    );

    let (status, list, _) = w
        .call("GET", "/v1/tripletex-keys", Some("org_a"), None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["id"], id);

    // The accountant key's clients: the linked ones, never the unlinked company.
    let (status, clients, _) = w
        .call(
            "GET",
            &format!("/v1/tripletex-keys/{id}/clients"),
            Some("org_a"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{clients}");
    let ids: Vec<i64> = clients
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["companyId"].as_i64().unwrap())
        .collect();
    assert!(
        ids.contains(&DEMO_FULL_CLIENT_ID) && ids.contains(&DEMO_RESTRICTED_CLIENT_ID),
        "{clients}"
    );
    assert!(!ids.contains(&DEMO_UNLINKED_ID));
    let names: Vec<&str> = clients
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"Fjordkraft Rørlegger AS"), "{names:?}");

    // An ordinary key lists its own company.
    let own = create_key(&w, "org_a", DEMO_COMPANY_KEY, false).await;
    let (status, clients, _) = w
        .call(
            "GET",
            &format!("/v1/tripletex-keys/{own}/clients"),
            Some("org_a"),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        clients,
        json!([{"companyId": DEMO_SOLBERG_ID, "name": "Solberg Elektro AS", "organizationNumber": clients[0]["organizationNumber"]}])
    );

    assert_no_token_leaks(&w).await;
}

#[tokio::test]
async fn a_rejected_key_is_422_with_the_fix_and_nothing_is_stored() {
    let w = World::new().await;
    let (status, body, _) = w
        .call(
            "POST",
            "/v1/tripletex-keys",
            Some("org_a"),
            Some(&key_body(DEMO_DELETED_KEY, false)),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "tripletex_key_invalid");
    assert_eq!(body["error"]["field"], "employeeToken");
    assert!(body["error"]["fix"]["no"]
        .as_str()
        .unwrap()
        .contains("slettet"));
    assert!(body["error"]["fix"]["en"]
        .as_str()
        .unwrap()
        .contains("deleted"));
    assert!(
        body["error"]["tripletex"]["message"].is_string(),
        "Tripletex's reason is passed on: {body}"
    );

    // An ordinary key registered as an accountant key.
    let (status, body, _) = w
        .call(
            "POST",
            "/v1/tripletex-keys",
            Some("org_a"),
            Some(&key_body(DEMO_COMPANY_KEY, true)),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "tripletex_not_accountant_key");

    // A token Tripletex has never seen.
    let (status, _, _) = w
        .call(
            "POST",
            "/v1/tripletex-keys",
            Some("org_a"),
            Some(&key_body("no-such-token-at-all-9999", false)),
        )
        .await;
    assert_eq!(status, 422);

    assert!(w.all_items().await.is_empty(), "no item stored");
    assert!(w.key_secrets().await.is_empty(), "no secret stored");
    assert_no_token_leaks(&w).await;
}

#[tokio::test]
async fn integration_setup_queues_one_initial_sync_in_the_keys_group_even_when_repeated() {
    let w = World::new().await;
    let key = create_key(&w, "org_a", DEMO_ACCOUNTANT_KEY, true).await;
    let account = create_account(&w, "org_a", "Fjordkraft Rørlegger AS").await;
    let path = format!("/v1/accounts/{account}/integration");

    let (status, first, _) = w
        .call(
            "PUT",
            &path,
            Some("org_a"),
            Some(&integration_body(&key, DEMO_FULL_CLIENT_ID)),
        )
        .await;
    assert_eq!(status, 201, "{first}");
    assert_eq!(first["status"], "pending");
    assert_eq!(first["settings"]["keyId"], key);
    assert_eq!(first["settings"]["clientCompanyId"], DEMO_FULL_CLIENT_ID);
    assert_eq!(first["clientCompanyName"], "Fjordkraft Rørlegger AS");
    assert_eq!(first["version"], 1);

    // The same request again (a client retry), then once more concurrently.
    let (status, second, _) = w
        .call(
            "PUT",
            &path,
            Some("org_a"),
            Some(&integration_body(&key, DEMO_FULL_CLIENT_ID)),
        )
        .await;
    assert_eq!(status, 200, "{second}");
    assert_eq!(second["id"], first["id"]);
    assert_eq!(second["version"], 1);
    let body = integration_body(&key, DEMO_FULL_CLIENT_ID);
    let (a, b) = tokio::join!(
        w.call("PUT", &path, Some("org_a"), Some(&body)),
        w.call("PUT", &path, Some("org_a"), Some(&body))
    );
    assert_eq!((a.0, b.0), (200, 200));

    let messages = w.drain_queue().await;
    assert_eq!(messages.len(), 1, "exactly one initial sync: {messages:?}");
    let (group, dedup, job) = &messages[0];
    assert_eq!(group, &key, "message group = the Tripletex key");
    assert_eq!(
        dedup,
        &format!("initial:{}:1", first["id"].as_str().unwrap())
    );
    assert_eq!(
        job,
        &json!({
            "org": "org_a", "accountId": account, "integrationId": first["id"], "keyId": key,
            "clientCompanyId": DEMO_FULL_CLIENT_ID, "reason": "initial", "settingsVersion": 1,
            "requestedAt": job["requestedAt"]
        }),
        "ids only"
    );

    // One integration item, found through both indexes; the key counts it.
    let integrations = w
        .all_items()
        .await
        .into_iter()
        .filter(|i| i.contains(keys::INTEGRATION_PREFIX))
        .count();
    assert_eq!(integrations, 1);
    let key_id = shared::domain::setup::KeyId::parse(&key).unwrap();
    assert_eq!(
        w.store.integrations_using_key(&key_id).await.unwrap().len(),
        1
    );
    assert_eq!(w.store.all_integrations().await.unwrap().len(), 1);
    let (_, keys, _) = w
        .call("GET", "/v1/tripletex-keys", Some("org_a"), None)
        .await;
    assert_eq!(keys[0]["integrationCount"], 1);

    // GET shows settings and status; the key cannot be deleted while used.
    let (status, got, _) = w.call("GET", &path, Some("org_a"), None).await;
    assert_eq!(status, 200);
    assert_eq!(got["status"], "pending");
    assert_eq!(got["settings"]["daysPastDue"], 14);
    let (status, body, _) = w
        .call(
            "DELETE",
            &format!("/v1/tripletex-keys/{key}"),
            Some("org_a"),
            None,
        )
        .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "key_in_use");

    assert_no_token_leaks(&w).await;
}

#[tokio::test]
async fn settings_changes_and_moving_to_another_key() {
    let w = World::new().await;
    let acct = create_key(&w, "org_a", DEMO_ACCOUNTANT_KEY, true).await;
    let own = create_key(&w, "org_a", DEMO_COMPANY_KEY, false).await;
    let account = create_account(&w, "org_a", "Solberg Elektro AS").await;
    let path = format!("/v1/accounts/{account}/integration");
    let (status, _, _) = w
        .call(
            "PUT",
            &path,
            Some("org_a"),
            Some(&integration_body(&acct, DEMO_FULL_CLIENT_ID)),
        )
        .await;
    assert_eq!(status, 201);

    // A settings-only change: version 2, no new initial sync.
    let (status, body, _) = w
        .call(
            "PATCH",
            &path,
            Some("org_a"),
            Some(r#"{"daysPastDue": 30, "includeSaftImported": true}"#),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["version"], 2);
    assert_eq!(body["settings"]["daysPastDue"], 30);
    assert_eq!(body["settings"]["includeSaftImported"], true);
    assert_eq!(body["settings"]["clientCompanyId"], DEMO_FULL_CLIENT_ID);

    // Moving to the ordinary key's own company: a new initial sync in the new key's group.
    let patch = json!({"keyId": own, "clientCompanyId": DEMO_SOLBERG_ID}).to_string();
    let (status, body, _) = w.call("PATCH", &path, Some("org_a"), Some(&patch)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["version"], 3);
    assert_eq!(body["status"], "pending");
    assert_eq!(body["clientCompanyName"], "Solberg Elektro AS");
    let messages = w.drain_queue().await;
    let groups: Vec<&str> = messages.iter().map(|m| m.0.as_str()).collect();
    assert_eq!(groups, vec![acct.as_str(), own.as_str()], "{messages:?}");
    assert_eq!(messages[1].2["settingsVersion"], 3);

    // The old key is free again and can be deleted; its secret goes with it.
    let (_, keys, _) = w
        .call("GET", "/v1/tripletex-keys", Some("org_a"), None)
        .await;
    let count = |id: &str| {
        keys.as_array()
            .unwrap()
            .iter()
            .find(|k| k["id"] == id)
            .unwrap()["integrationCount"]
            .clone()
    };
    assert_eq!((count(&acct), count(&own)), (json!(0), json!(1)));
    let (status, _, _) = w
        .call(
            "DELETE",
            &format!("/v1/tripletex-keys/{acct}"),
            Some("org_a"),
            None,
        )
        .await;
    assert_eq!(status, 204);
    assert_eq!(
        w.secret_value(&format!("{}org_a/{acct}", w.secret_prefix))
            .await,
        None
    );
    let (status, _, _) = w
        .call(
            "DELETE",
            &format!("/v1/tripletex-keys/{acct}"),
            Some("org_a"),
            None,
        )
        .await;
    assert_eq!(status, 404);
    assert_no_token_leaks(&w).await;
}

#[tokio::test]
async fn tripletex_refusals_say_which_step_fixes_them_and_store_nothing() {
    let w = World::new().await;
    let key = create_key(&w, "org_a", DEMO_ACCOUNTANT_KEY, true).await;
    let account = create_account(&w, "org_a", "Bakeriet Hansen AS").await;
    let path = format!("/v1/accounts/{account}/integration");
    for (company, code, norwegian) in [
        (
            DEMO_RESTRICTED_CLIENT_ID,
            "tripletex_missing_entitlement",
            "Alle tilganger",
        ),
        (
            DEMO_API_OFF_CLIENT_ID,
            "tripletex_api_access_disabled",
            "Selskap → Regnskapsfører → API-tilgang",
        ),
        (
            DEMO_UNLINKED_ID,
            "tripletex_key_not_linked_to_client",
            "Klient → Tilganger → Legg til API-nøkkel",
        ),
    ] {
        let (status, body, _) = w
            .call(
                "PUT",
                &path,
                Some("org_a"),
                Some(&integration_body(&key, company)),
            )
            .await;
        assert_eq!(status, 422, "{body}");
        assert_eq!(body["error"]["code"], code, "{body}");
        assert_eq!(body["error"]["field"], "clientCompanyId");
        assert!(
            body["error"]["fix"]["no"]
                .as_str()
                .unwrap()
                .contains(norwegian),
            "{body}"
        );
        assert!(!body["error"]["fix"]["en"].as_str().unwrap().is_empty());
    }
    let (status, body, _) = w
        .call(
            "PUT",
            &path,
            Some("org_a"),
            Some(&integration_body(&key, DEMO_RESTRICTED_CLIENT_ID)),
        )
        .await;
    assert_eq!(status, 422);
    let refused: Vec<&str> = body["error"]["tripletex"]["refusedEndpoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(refused.contains(&"vouchers"), "{body}");

    let (status, body, _) = w.call("GET", &path, Some("org_a"), None).await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "integration_not_found");
    assert!(w.drain_queue().await.is_empty());
    let (_, keys, _) = w
        .call("GET", "/v1/tripletex-keys", Some("org_a"), None)
        .await;
    assert_eq!(keys[0]["integrationCount"], 0);
}

#[tokio::test]
async fn one_organization_cannot_see_or_use_anothers_things() {
    let w = World::new().await;
    let key_b = create_key(&w, "org_b", DEMO_ACCOUNTANT_KEY, true).await;
    let account_b = create_account(&w, "org_b", "B sin klient AS").await;
    let (status, _, _) = w
        .call(
            "PUT",
            &format!("/v1/accounts/{account_b}/integration"),
            Some("org_b"),
            Some(&integration_body(&key_b, DEMO_FULL_CLIENT_ID)),
        )
        .await;
    assert_eq!(status, 201);
    let account_a = create_account(&w, "org_a", "A sin klient AS").await;

    let not_found = [
        ("GET", format!("/v1/accounts/{account_b}"), None),
        ("GET", format!("/v1/accounts/{account_b}/integration"), None),
        (
            "PUT",
            format!("/v1/accounts/{account_b}/integration"),
            Some(integration_body(&key_b, DEMO_FULL_CLIENT_ID)),
        ),
        (
            "PATCH",
            format!("/v1/accounts/{account_b}/integration"),
            Some(r#"{"daysPastDue": 1}"#.to_string()),
        ),
        ("GET", format!("/v1/tripletex-keys/{key_b}/clients"), None),
        ("DELETE", format!("/v1/tripletex-keys/{key_b}"), None),
        // A's own account with B's key.
        (
            "PUT",
            format!("/v1/accounts/{account_a}/integration"),
            Some(integration_body(&key_b, DEMO_FULL_CLIENT_ID)),
        ),
    ];
    for (method, path, body) in &not_found {
        let (status, resp, _) = w.call(method, path, Some("org_a"), body.as_deref()).await;
        assert_eq!(status, 404, "{method} {path}: {resp}");
    }
    // The answer for B's ids equals the answer for ids that exist nowhere.
    let (_, theirs, _) = w
        .call(
            "GET",
            &format!("/v1/accounts/{account_b}"),
            Some("org_a"),
            None,
        )
        .await;
    let (_, nobody, _) = w
        .call(
            "GET",
            "/v1/accounts/acc_0000000000000000000000000000000a",
            Some("org_a"),
            None,
        )
        .await;
    assert_eq!(theirs, nobody);

    let (_, accounts, _) = w.call("GET", "/v1/accounts", Some("org_a"), None).await;
    assert_eq!(accounts.as_array().unwrap().len(), 1);
    assert_eq!(accounts[0]["id"], account_a);
    let (_, keys, _) = w
        .call("GET", "/v1/tripletex-keys", Some("org_a"), None)
        .await;
    assert_eq!(keys, json!([]));

    // B's things are untouched.
    let (status, integ, _) = w
        .call(
            "GET",
            &format!("/v1/accounts/{account_b}/integration"),
            Some("org_b"),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(integ["version"], 1);
    assert_eq!(w.drain_queue().await.len(), 1);
}

#[tokio::test]
async fn accounts_can_be_searched_by_name_and_organisation_number() {
    let w = World::new().await;
    create_account(&w, "org_a", "Fjordkraft Rørlegger AS").await;
    let (status, body, resp) = w
        .call(
            "POST",
            "/v1/accounts",
            Some("org_a"),
            Some(r#"{"name": "Bakeriet Hansen AS", "organizationNumber": "974 760 673"}"#),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["organizationNumber"], "974760673");
    assert!(resp.headers()["location"]
        .to_str()
        .unwrap()
        .ends_with(body["id"].as_str().unwrap()));

    let names = |v: &Value| {
        v.as_array()
            .unwrap()
            .iter()
            .map(|a| a["name"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    let (_, found, _) = w
        .call("GET", "/v1/accounts?q=bakeriet", Some("org_a"), None)
        .await;
    assert_eq!(names(&found), vec!["Bakeriet Hansen AS"]);
    let (_, found, _) = w
        .call("GET", "/v1/accounts?q=974760", Some("org_a"), None)
        .await;
    assert_eq!(names(&found), vec!["Bakeriet Hansen AS"]);
    let (_, found, _) = w.call("GET", "/v1/accounts", Some("org_a"), None).await;
    assert_eq!(found.as_array().unwrap().len(), 2);
    let (status, got, _) = w
        .call(
            "GET",
            &format!("/v1/accounts/{}", body["id"].as_str().unwrap()),
            Some("org_a"),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(got["name"], "Bakeriet Hansen AS");
}

/// method, path, org claim, body, expected status, error code, error field
type Case = (
    &'static str,
    String,
    Option<&'static str>,
    Option<String>,
    u16,
    &'static str,
    Value,
);

#[tokio::test]
async fn bad_requests_get_4xx_with_the_field_never_500() {
    let w = World::new().await;
    let key = create_key(&w, "org_a", DEMO_ACCOUNTANT_KEY, true).await;
    let account = create_account(&w, "org_a", "X AS").await;
    let path = format!("/v1/accounts/{account}/integration");

    let cases: Vec<Case> = vec![
        (
            "GET",
            "/v1/accounts".into(),
            None,
            None,
            401,
            "unauthorized",
            Value::Null,
        ),
        (
            "GET",
            "/v1/nothing".into(),
            Some("org_a"),
            None,
            404,
            "route_not_found",
            Value::Null,
        ),
        (
            "DELETE",
            "/v1/accounts".into(),
            Some("org_a"),
            None,
            405,
            "method_not_allowed",
            Value::Null,
        ),
        (
            "POST",
            "/v1/accounts".into(),
            Some("org_a"),
            None,
            400,
            "body_required",
            Value::Null,
        ),
        (
            "POST",
            "/v1/accounts".into(),
            Some("org_a"),
            Some("{\"name\": ".into()),
            400,
            "malformed_json",
            Value::Null,
        ),
        (
            "POST",
            "/v1/accounts".into(),
            Some("org_a"),
            Some(r#"{"name": 7}"#.into()),
            400,
            "invalid_field",
            json!("name"),
        ),
        (
            "POST",
            "/v1/accounts".into(),
            Some("org_a"),
            Some(r#"{"name": "A", "org": "org_b"}"#.into()),
            400,
            "unknown_field",
            json!("org"),
        ),
        (
            "POST",
            "/v1/accounts".into(),
            Some("org_a"),
            Some(r#"{"name": "A", "organizationNumber": "123456789"}"#.into()),
            422,
            "validation_failed",
            json!("organizationNumber"),
        ),
        (
            "POST",
            "/v1/tripletex-keys".into(),
            Some("org_a"),
            Some(r#"{"label": "x", "accountantKey": true}"#.into()),
            400,
            "missing_field",
            json!("employeeToken"),
        ),
        (
            "PUT",
            path.clone(),
            Some("org_a"),
            Some(
                integration_body(&key, DEMO_FULL_CLIENT_ID)
                    .replace("\"daysPastDue\":14", "\"daysPastDue\":400"),
            ),
            422,
            "validation_failed",
            json!("daysPastDue"),
        ),
        (
            "PUT",
            path.clone(),
            Some("org_a"),
            Some(integration_body(&key, DEMO_FULL_CLIENT_ID).replace("2025-01-01", "2099-01-01")),
            422,
            "validation_failed",
            json!("fetchFrom"),
        ),
        (
            "PUT",
            path.clone(),
            Some("org_a"),
            Some(integration_body(&key, DEMO_FULL_CLIENT_ID).replace("2025-01-01", "2001-01-01")),
            422,
            "validation_failed",
            json!("fetchFrom"),
        ),
        (
            "PUT",
            path.clone(),
            Some("org_a"),
            Some(integration_body(&key, DEMO_FULL_CLIENT_ID).replace("2025-01-01", "1. januar")),
            400,
            "invalid_field",
            json!("fetchFrom"),
        ),
        (
            "PUT",
            path.clone(),
            Some("org_a"),
            Some(integration_body("key_bogus", DEMO_FULL_CLIENT_ID)),
            404,
            "key_not_found",
            json!("keyId"),
        ),
        (
            "PATCH",
            path.clone(),
            Some("org_a"),
            Some(r#"{"daysPastDue": 3}"#.into()),
            404,
            "integration_not_found",
            Value::Null,
        ),
        (
            "GET",
            "/v1/accounts/not-an-id".into(),
            Some("org_a"),
            None,
            404,
            "account_not_found",
            Value::Null,
        ),
    ];
    for (method, p, org, body, status, code, field) in cases {
        let (got, resp, _) = w.call(method, &p, org, body.as_deref()).await;
        assert_eq!(got, status, "{method} {p} {body:?}: {resp}");
        assert_eq!(resp["error"]["code"], code, "{method} {p} {body:?}: {resp}");
        assert_eq!(
            resp["error"]["field"], field,
            "{method} {p} {body:?}: {resp}"
        );
        assert!(resp["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()));
    }
    assert!(w.drain_queue().await.is_empty());
}

#[tokio::test]
async fn tripletex_down_is_503_with_retry_after() {
    let w = World::new().await;
    // Point the service at a port nobody listens on: the consumer token is fine, Tripletex is not there.
    let port = test_support::free_port();
    let secrets = shared::adapters::secrets::Secrets::new(w.sm.clone(), w.secret_prefix.clone());
    let setup = shared::services::setup::SetupService::new(
        std::sync::Arc::new(w.store.clone()),
        std::sync::Arc::new(secrets.clone()),
        std::sync::Arc::new(shared::adapters::queue::SyncQueue::new(
            w.sqs.clone(),
            w.queue_url.clone(),
        )),
        std::sync::Arc::new(shared::services::setup::LazyTripletexGateway::new(
            format!("http://127.0.0.1:{port}/v2"),
            w.consumer_secret_id.clone(),
            secrets,
        )),
    );
    let svc = integration_setup::Services {
        setup,
        ledger: shared::services::ledger::LedgerService::new(
            w.store.clone(),
            w.ddb.clone(),
            shared::adapters::queue::SyncQueue::new(w.sqs.clone(), w.queue_url.clone()),
        ),
    };
    let req = common::api_request(
        "POST",
        "/v1/tripletex-keys",
        Some("org_a"),
        Some(&key_body(DEMO_ACCOUNTANT_KEY, true)),
    );
    let resp = integration_setup::handle(&svc, req).await.unwrap();
    assert_eq!(resp.status().as_u16(), 503);
    assert!(resp.headers().contains_key("retry-after"));
    let body: Value = serde_json::from_slice(resp.body().as_ref()).unwrap();
    assert_eq!(body["error"]["code"], "temporarily_unavailable");
    assert!(w.all_items().await.is_empty());
    assert!(w.key_secrets().await.is_empty());
}

#[tokio::test]
async fn two_first_setups_at_once_make_one_integration_and_one_sync() {
    let w = World::new().await;
    let key = create_key(&w, "org_a", DEMO_ACCOUNTANT_KEY, true).await;
    let account = create_account(&w, "org_a", "Fjordkraft Rørlegger AS").await;
    let path = format!("/v1/accounts/{account}/integration");
    let body = integration_body(&key, DEMO_FULL_CLIENT_ID);
    let (a, b) = tokio::join!(
        w.call("PUT", &path, Some("org_a"), Some(&body)),
        w.call("PUT", &path, Some("org_a"), Some(&body))
    );
    let mut statuses = vec![a.0, b.0];
    statuses.sort();
    assert_eq!(statuses, vec![200, 201], "{} {}", a.1, b.1);
    assert_eq!(a.1["id"], b.1["id"]);
    assert_eq!(w.drain_queue().await.len(), 1);
    let (_, keys, _) = w
        .call("GET", "/v1/tripletex-keys", Some("org_a"), None)
        .await;
    assert_eq!(keys[0]["integrationCount"], 1);
}

#[tokio::test]
async fn pasting_a_key_again_or_repeating_an_account_post_creates_nothing_new() {
    let w = World::new().await;
    let first = create_key(&w, "org_a", DEMO_ACCOUNTANT_KEY, true).await;
    let (status, again, _) = w
        .call(
            "POST",
            "/v1/tripletex-keys",
            Some("org_a"),
            Some(&key_body(DEMO_ACCOUNTANT_KEY, true)),
        )
        .await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["id"], first);
    assert_eq!(w.key_secrets().await.len(), 1);
    assert_eq!(
        w.all_items()
            .await
            .iter()
            .filter(|i| i.contains(keys::KEY_PREFIX))
            .count(),
        1
    );

    let post = |key: &'static str, name: &'static str| {
        let mut req = common::api_request(
            "POST",
            "/v1/accounts",
            Some("org_a"),
            Some(&json!({ "name": name }).to_string()),
        );
        req.headers_mut()
            .insert("idempotency-key", key.parse().unwrap());
        req
    };
    let r1 = integration_setup::handle(&w.svc, post("k-1", "Bakeriet Hansen AS"))
        .await
        .unwrap();
    let r2 = integration_setup::handle(&w.svc, post("k-1", "Bakeriet Hansen AS"))
        .await
        .unwrap();
    let r3 = integration_setup::handle(&w.svc, post("k-1", "Noe annet AS"))
        .await
        .unwrap();
    assert_eq!(
        (
            r1.status().as_u16(),
            r2.status().as_u16(),
            r3.status().as_u16()
        ),
        (201, 200, 409)
    );
    let b1: Value = serde_json::from_slice(r1.body().as_ref()).unwrap();
    let b2: Value = serde_json::from_slice(r2.body().as_ref()).unwrap();
    assert_eq!(b1, b2);
    let (_, accounts, _) = w.call("GET", "/v1/accounts", Some("org_a"), None).await;
    assert_eq!(accounts.as_array().unwrap().len(), 1);
    assert_no_token_leaks(&w).await;
}

#[tokio::test]
async fn an_accountant_key_registered_as_ordinary_is_refused_with_the_fix() {
    let w = World::new().await;
    let (status, body, _) = w
        .call(
            "POST",
            "/v1/tripletex-keys",
            Some("org_a"),
            Some(&key_body(DEMO_ACCOUNTANT_KEY, false)),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "tripletex_is_accountant_key");
    assert!(w.all_items().await.is_empty());
    assert!(w.key_secrets().await.is_empty());
}

#[tokio::test]
async fn writing_addresses_to_tripletex_is_a_setting_that_needs_the_register_look_up() {
    let w = World::new().await;
    let acct = create_key(&w, "org_a", DEMO_ACCOUNTANT_KEY, true).await;
    let account = create_account(&w, "org_a", "Fjordkraft Rørlegger AS").await;
    let path = format!("/v1/accounts/{account}/integration");
    let body = |brreg: bool, write: bool| {
        let mut b: Value =
            serde_json::from_str(&integration_body(&acct, DEMO_FULL_CLIENT_ID)).unwrap();
        b["updateAddressesFromBrreg"] = json!(brreg);
        b["writeAddressesToTripletex"] = json!(write);
        b.to_string()
    };

    // Without the look-up: 422 naming the field; nothing stored, nothing queued.
    let (status, err, _) = w
        .call("PUT", &path, Some("org_a"), Some(&body(false, true)))
        .await;
    assert_eq!(status, 422, "{err}");
    assert_eq!(err["error"]["code"], "validation_failed");
    assert_eq!(err["error"]["field"], "writeAddressesToTripletex");
    assert_eq!(
        err["error"]["details"][0]["code"],
        "requires_update_addresses_from_brreg"
    );
    let (status, _, _) = w.call("GET", &path, Some("org_a"), None).await;
    assert_eq!(status, 404);

    // Absent from a PUT: off (GET reads it back from DynamoDB).
    let (status, created, _) = w
        .call(
            "PUT",
            &path,
            Some("org_a"),
            Some(&integration_body(&acct, DEMO_FULL_CLIENT_ID)),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["settings"]["writeAddressesToTripletex"], false);

    // PATCH on: stored, no new initial sync.
    let (status, patched, _) = w
        .call(
            "PATCH",
            &path,
            Some("org_a"),
            Some(r#"{"writeAddressesToTripletex": true}"#),
        )
        .await;
    assert_eq!(status, 200, "{patched}");
    assert_eq!(patched["settings"]["writeAddressesToTripletex"], true);
    let (status, got, _) = w.call("GET", &path, Some("org_a"), None).await;
    assert_eq!(status, 200);
    assert_eq!(got["settings"]["writeAddressesToTripletex"], true);
    assert_eq!(got["version"], 2);
    assert_eq!(w.drain_queue().await.len(), 1, "only the initial sync");

    // Turning the look-up off alone is refused; both off in one PATCH is fine.
    let (status, err, _) = w
        .call(
            "PATCH",
            &path,
            Some("org_a"),
            Some(r#"{"updateAddressesFromBrreg": false}"#),
        )
        .await;
    assert_eq!(status, 422, "{err}");
    assert_eq!(err["error"]["field"], "writeAddressesToTripletex");
    let (status, got, _) = w
        .call(
            "PATCH",
            &path,
            Some("org_a"),
            Some(r#"{"updateAddressesFromBrreg": false, "writeAddressesToTripletex": false}"#),
        )
        .await;
    assert_eq!(status, 200, "{got}");
    assert_eq!(got["settings"]["updateAddressesFromBrreg"], false);
    assert_eq!(got["settings"]["writeAddressesToTripletex"], false);
    // A wrong type is a 400 naming the field.
    let (status, err, _) = w
        .call(
            "PATCH",
            &path,
            Some("org_a"),
            Some(r#"{"writeAddressesToTripletex": "yes"}"#),
        )
        .await;
    assert_eq!(status, 400, "{err}");
    assert_eq!(err["error"]["field"], "writeAddressesToTripletex");
    assert_no_token_leaks(&w).await;
}

#[tokio::test]
async fn posting_settings_are_read_and_patched_and_their_accounts_checked_in_the_clients_chart() {
    let w = World::new().await;
    let acct = create_key(&w, "org_a", DEMO_ACCOUNTANT_KEY, true).await;
    let account = create_account(&w, "org_a", "Fjordkraft Rørlegger AS").await;
    let path = format!("/v1/accounts/{account}/integration");
    let (status, created, _) = w
        .call(
            "PUT",
            &path,
            Some("org_a"),
            Some(&integration_body(&acct, DEMO_FULL_CLIENT_ID)),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    // The defaults: no fee income account yet, principal first, closed periods held.
    let (status, got, _) = w.call("GET", &path, Some("org_a"), None).await;
    assert_eq!(status, 200, "{got}");
    let vp = &got["settings"]["voucherPosting"];
    assert_eq!(vp["feeIncomeAccount"], Value::Null, "{vp}");
    assert_eq!(vp["allocationRule"], "principalFirst");
    assert_eq!(vp["postInFirstOpenPeriod"], false);

    // The demo client's chart has 3000 and 8050, not 3900: 422 naming the field, nothing stored.
    let (status, err, _) = w
        .call(
            "PATCH",
            &path,
            Some("org_a"),
            Some(r#"{"voucherPosting": {"feeIncomeAccount": 3900}}"#),
        )
        .await;
    assert_eq!(status, 422, "{err}");
    assert_eq!(err["error"]["field"], "voucherPosting.feeIncomeAccount");
    assert_eq!(err["error"]["details"][0]["code"], "account_not_in_chart");
    // The wrong class is refused before Tripletex is asked.
    let (status, err, _) = w
        .call(
            "PATCH",
            &path,
            Some("org_a"),
            Some(r#"{"voucherPosting": {"interestIncomeAccount": 1500}}"#),
        )
        .await;
    assert_eq!(status, 422, "{err}");
    assert_eq!(
        err["error"]["field"],
        "voucherPosting.interestIncomeAccount"
    );
    // Bad input: 400 naming the field.
    for (body, field) in [
        (
            r#"{"voucherPosting": {"feeIncomeAcount": 3000}}"#,
            "voucherPosting.feeIncomeAcount",
        ),
        (
            r#"{"voucherPosting": {"allocationRule": "lifo"}}"#,
            "voucherPosting.allocationRule",
        ),
    ] {
        let (status, err, _) = w.call("PATCH", &path, Some("org_a"), Some(body)).await;
        assert_eq!(status, 400, "{body}: {err}");
        assert_eq!(err["error"]["field"], field, "{body}: {err}");
    }
    let (_, got, _) = w.call("GET", &path, Some("org_a"), None).await;
    assert_eq!(got["settings"]["voucherPosting"], *vp, "unchanged");

    // Accounts in the chart and the customary order: stored, no new initial sync.
    let (status, patched, _) = w
        .call(
            "PATCH",
            &path,
            Some("org_a"),
            Some(
                r#"{"voucherPosting": {"feeIncomeAccount": 3000, "interestIncomeAccount": 8050,
                    "allocationRule": "costsFirst"}}"#,
            ),
        )
        .await;
    assert_eq!(status, 200, "{patched}");
    let (_, got, _) = w.call("GET", &path, Some("org_a"), None).await;
    let vp = &got["settings"]["voucherPosting"];
    assert_eq!(vp["feeIncomeAccount"], 3000, "{vp}");
    assert_eq!(vp["interestIncomeAccount"], 8050);
    assert_eq!(vp["allocationRule"], "costsFirst");
    assert_eq!(w.drain_queue().await.len(), 1, "only the initial sync");

    // Another organization cannot read or change them.
    let (status, _, _) = w
        .call(
            "PATCH",
            &path,
            Some("org_b"),
            Some(r#"{"voucherPosting": {"feeIncomeAccount": 3000}}"#),
        )
        .await;
    assert_eq!(status, 404);
}
