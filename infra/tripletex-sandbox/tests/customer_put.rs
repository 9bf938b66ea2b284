//! `PUT /customer/{id}`: Tripletex's partial update with optimistic locking (reference §3.5, §4.3).

use serde_json::{json, Value};
use tripletex_sandbox::{
    Faults, Fixture, SandboxHandle, DEMO_ACCOUNTANT_KEY, DEMO_CONSUMER_TOKEN, DEMO_FULL_CLIENT_ID,
    DEMO_RESTRICTED_CLIENT_ID,
};

const CUSTOMER: i64 = 40001;

struct T {
    sb: SandboxHandle,
    http: reqwest::Client,
    token: String,
}

impl T {
    async fn new(fixture: Fixture) -> Self {
        let sb = tripletex_sandbox::start_in_thread(fixture, Faults::none()).unwrap();
        let http = reqwest::Client::new();
        let b: Value = http
            .post(format!("{}/token/session/:create", sb.base_url))
            .json(&json!({"consumerToken": DEMO_CONSUMER_TOKEN, "employeeToken": DEMO_ACCOUNTANT_KEY, "expirationDate": "2099-01-01"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let token = b["value"]["token"].as_str().unwrap().to_string();
        Self { sb, http, token }
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        user: i64,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut r = self
            .http
            .request(method, format!("{}{}", self.sb.base_url, path))
            .basic_auth(user.to_string(), Some(&self.token));
        if let Some(b) = body {
            r = r.json(&b);
        }
        let r = r.send().await.unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    async fn put(&self, id: i64, body: Value) -> (u16, Value) {
        self.send(
            reqwest::Method::PUT,
            &format!("/customer/{id}"),
            DEMO_FULL_CLIENT_ID,
            Some(body),
        )
        .await
    }

    fn stored(&self, id: i64) -> Value {
        self.sb.customer(DEMO_FULL_CLIENT_ID, id).unwrap()
    }
}

fn address_update(version: i64, address_id: Option<i64>) -> Value {
    let mut a = json!({"addressLine1": "Kaigata 7", "addressLine2": "Postboks 12",
                       "postalCode": "5003", "city": "Bergen"});
    if let Some(id) = address_id {
        a["id"] = json!(id);
    }
    json!({"id": CUSTOMER, "version": version, "postalAddress": a})
}

#[tokio::test]
async fn a_put_with_the_current_version_updates_the_postal_address_in_place() {
    let t = T::new(Fixture::demo()).await;
    let before = t.stored(CUSTOMER);
    let v = before["version"].as_i64().unwrap();
    let address_id = before["postalAddress"]["id"].as_i64().unwrap();

    // Fixture customers count as changed when the sandbox started: change an hour later.
    t.sb.advance_clock(3600);
    let since = (chrono::Utc::now() + chrono::Duration::minutes(30)).format("%Y-%m-%dT%H:%M:%SZ");
    let (s, b) = t.put(CUSTOMER, address_update(v, Some(address_id))).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["value"]["id"], CUSTOMER);
    assert_eq!(b["value"]["version"], v + 1);
    // Without a sub-selection the address is a reference, as Tripletex answers.
    assert_eq!(b["value"]["postalAddress"]["id"], address_id);

    let after = t.stored(CUSTOMER);
    assert_eq!(after["version"], v + 1);
    let a = &after["postalAddress"];
    assert_eq!(a["id"], address_id, "updated in place");
    assert_eq!(a["addressLine1"], "Kaigata 7");
    assert_eq!(a["addressLine2"], "Postboks 12");
    assert_eq!(a["postalCode"], "5003");
    assert_eq!(a["city"], "Bergen");
    assert_eq!(
        a["country"], before["postalAddress"]["country"],
        "country kept"
    );
    assert_eq!(after["name"], before["name"], "other fields kept");
    assert_eq!(after["changes"].as_array().map(Vec::len), Some(1));
    assert_eq!(after["changes"][0]["changeType"], "UPDATE");

    // A later changedSince read returns the customer with the new address; one dated after the
    // change does not.
    let (s, b) = t
        .send(
            reqwest::Method::GET,
            &format!("/customer?changedSince={since}&fields=id,version,postalAddress(*)"),
            DEMO_FULL_CLIENT_ID,
            None,
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let ids: Vec<i64> = b["values"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["id"].as_i64())
        .collect();
    assert_eq!(ids, vec![CUSTOMER], "only the changed customer");
    assert_eq!(b["values"][0]["postalAddress"]["city"], "Bergen");
    assert_eq!(b["values"][0]["version"], v + 1);
    let later = (chrono::Utc::now() + chrono::Duration::minutes(90)).format("%Y-%m-%dT%H:%M:%SZ");
    let (_, b) = t
        .send(
            reqwest::Method::GET,
            &format!("/customer?changedSince={later}"),
            DEMO_FULL_CLIENT_ID,
            None,
        )
        .await;
    assert_eq!(b["values"].as_array().map(Vec::len), Some(0));
}

#[tokio::test]
async fn a_stale_version_is_a_409_revision_conflict_and_changes_nothing() {
    let t = T::new(Fixture::demo()).await;
    let v = t.stored(CUSTOMER)["version"].as_i64().unwrap();
    assert!(t.sb.update_customer(
        DEMO_FULL_CLIENT_ID,
        CUSTOMER,
        json!({"email": "ny@vestland.no"})
    ));
    let before = t.stored(CUSTOMER);
    assert_eq!(before["version"], v + 1);

    let (s, b) = t.put(CUSTOMER, address_update(v, None)).await;
    assert_eq!(s, 409, "{b}");
    assert_eq!(b["status"], 409);
    assert_eq!(b["code"], 8000);
    assert!(
        b["message"].as_str().unwrap().contains("RevisionException"),
        "{b}"
    );
    assert!(b["requestId"].is_string());
    assert_eq!(t.stored(CUSTOMER), before, "nothing written");

    // With the current version it goes through.
    let (s, b) = t.put(CUSTOMER, address_update(v + 1, None)).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(t.stored(CUSTOMER)["version"], v + 2);
}

#[tokio::test]
async fn refusals_use_tripletexs_error_envelope() {
    let t = T::new(Fixture::demo()).await;
    let v = t.stored(CUSTOMER)["version"].as_i64().unwrap();
    let before = t.stored(CUSTOMER);
    // Unknown customer.
    let (s, b) = t.put(49999, json!({"version": 1})).await;
    assert_eq!((s, b["code"].as_i64()), (404, Some(6000)), "{b}");
    // Body id differs from the path.
    let (s, b) = t.put(CUSTOMER, json!({"id": 40002, "version": v})).await;
    assert_eq!((s, b["code"].as_i64()), (422, Some(18000)), "{b}");
    assert_eq!(b["validationMessages"][0]["field"], "id");
    // Another address's id.
    let (s, b) = t.put(CUSTOMER, address_update(v, Some(1))).await;
    assert_eq!(s, 422, "{b}");
    assert_eq!(b["validationMessages"][0]["field"], "postalAddress.id");
    // A field the Customer schema does not have.
    let (s, b) = t.put(CUSTOMER, json!({"version": v, "nope": 1})).await;
    assert_eq!((s, b["code"].as_i64()), (422, Some(16000)), "{b}");
    // Not JSON.
    let r = t
        .http
        .put(format!("{}/customer/{CUSTOMER}", t.sb.base_url))
        .basic_auth(DEMO_FULL_CLIENT_ID.to_string(), Some(&t.token))
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 422);
    // Other methods on the path are still refused.
    let (s, _) = t
        .send(
            reqwest::Method::DELETE,
            &format!("/customer/{CUSTOMER}"),
            DEMO_FULL_CLIENT_ID,
            None,
        )
        .await;
    assert_eq!(s, 405);
    // A customer of another company is not found (the acting company's collections only).
    let (s, _) = t
        .send(
            reqwest::Method::PUT,
            "/customer/41001",
            DEMO_FULL_CLIENT_ID,
            Some(json!({"version": 1})),
        )
        .await;
    assert_eq!(s, 404);
    assert_eq!(t.stored(CUSTOMER), before, "nothing written by any refusal");
}

#[tokio::test]
async fn without_the_customer_entitlement_a_put_is_403() {
    let mut f = Fixture::demo();
    for ents in f.access_templates.values_mut() {
        ents.retain(|e| *e != tripletex_sandbox::fixture::Entitlement::Customers);
    }
    let t = T::new(f).await;
    let (s, b) = t
        .send(
            reqwest::Method::PUT,
            &format!("/customer/{CUSTOMER}"),
            DEMO_RESTRICTED_CLIENT_ID,
            Some(json!({"version": 1})),
        )
        .await;
    assert_eq!((s, b["code"].as_i64()), (403, Some(9000)), "{b}");
}
