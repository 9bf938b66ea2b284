//! The case routes through the real handler, against moto. The claims and cases are made by the
//! real classification service from the ledger events the sync sends.

use chrono::{DateTime, Utc};
use lambda_http::Request;
use serde_json::{json, Value};

use shared::domain::ledger::ItemStatus;
use shared::services::cases::CasesService;
use shared::services::classification::ClassificationService;
use test_support::classification::*;

const ORG: &str = "org_cases";

/// An API Gateway HTTP API (payload 2.0) event as the JWT authorizer delivers it.
fn request(method: &str, path_and_query: &str, org: Option<&str>, body: Option<&str>) -> Request {
    let claims = match org {
        Some(o) => vec![("org", o), ("sub", "user-kari")],
        None => Vec::new(),
    };
    test_support::http::gateway_request(method, path_and_query, &claims, body)
}

struct Api {
    svc: CasesService,
    now: DateTime<Utc>,
}

impl Api {
    async fn call(
        &self,
        method: &str,
        path: &str,
        org: Option<&str>,
        body: Option<&str>,
    ) -> (u16, Value) {
        let resp = cases_api::handle(&self.svc, request(method, path, org, body), self.now)
            .await
            .expect("the handler never fails");
        let text = String::from_utf8_lossy(resp.body().as_ref()).to_string();
        let json = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("JSON: {text}"))
        };
        (resp.status().as_u16(), json)
    }
    async fn get(&self, path: &str) -> (u16, Value) {
        self.call("GET", path, Some(ORG), None).await
    }
    async fn post(&self, path: &str, body: &str) -> (u16, Value) {
        self.call("POST", path, Some(ORG), Some(body)).await
    }
}

/// Three overdue invoices of an account (daysPastDue 14, today 10 Mar 2026): 2001 plain open,
/// 2002 written off without the marker word (customer 40002), 2003 with an unknown credit.
async fn setup() -> (World, Api) {
    let w = World::new(ORG, 14).await;
    let classification = ClassificationService::new(w.store.clone(), w.jobs.clone());
    let today = date(2026, 3, 10);
    let now = t(2026, 3, 10);
    for (inv, customer) in [(2001, 40001), (2002, 40002), (2003, 40001)] {
        let m = mirrored(
            inv,
            customer,
            kr(5_000),
            date(2026, 1, 5),
            date(2026, 1, 19),
        );
        classification.handle(&w.msg(m), today, now).await.unwrap();
    }
    let mut wo = CreditSpec::new(2002, 71001, date(2026, 2, 15), 5_000)
        .text("Innbetaling")
        .counter(vec![debit(7830, 5_000)])
        .status(ItemStatus::WrittenOffCandidate);
    wo.customer = 40002;
    classification
        .handle(&w.msg(wo.event()), today, now)
        .await
        .unwrap();
    let odd = CreditSpec::new(2003, 71002, date(2026, 2, 16), 1_000)
        .text("Korrigering")
        .counter(vec![])
        .event();
    classification
        .handle(&w.msg(odd), today, now)
        .await
        .unwrap();
    let api = Api {
        svc: CasesService::new(w.store.clone()),
        now,
    };
    (w, api)
}

fn ids(v: &Value) -> Vec<String> {
    v["cases"]
        .as_array()
        .unwrap_or_else(|| panic!("a case list: {v}"))
        .iter()
        .map(|c| c["caseId"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn cases_are_listed_filtered_and_paged() {
    let (w, api) = setup().await;
    let base = format!("/v1/accounts/{}/cases", w.account);
    let (s, all) = api.get(&base).await;
    assert_eq!(s, 200, "{all}");
    assert_eq!(
        ids(&all),
        vec!["case_inv_2001", "case_inv_2002", "case_inv_2003"]
    );
    assert_eq!(all["nextCursor"], Value::Null);
    let first = &all["cases"][0];
    assert_eq!(first["id"], format!("{}.case_inv_2001", w.account));
    assert_eq!(first["state"], "open");
    assert_eq!(first["status"]["reason"]["code"], "overdue");

    let (_, wo) = api.get(&format!("{base}?writtenOff=true")).await;
    assert_eq!(ids(&wo), vec!["case_inv_2002"]);
    assert_eq!(wo["cases"][0]["claimStatus"], "writtenOff");
    let (_, review) = api.get(&format!("{base}?needsReview=true")).await;
    assert_eq!(ids(&review), vec!["case_inv_2003"]);
    let (_, cust) = api.get(&format!("{base}?customer=40001")).await;
    assert_eq!(ids(&cust), vec!["case_inv_2001", "case_inv_2003"]);

    // Pause one: status filters.
    let id = format!("{}.case_inv_2001", w.account);
    let (s, _) = api
        .post(
            &format!("/v1/cases/{id}/pause"),
            r#"{"until": "2026-04-01", "note": "Avtalt nedbetaling"}"#,
        )
        .await;
    assert_eq!(s, 200);
    let (_, paused) = api.get(&format!("{base}?status=paused")).await;
    assert_eq!(ids(&paused), vec!["case_inv_2001"]);
    let (_, open) = api.get(&format!("{base}?status=open&customer=40001")).await;
    assert_eq!(ids(&open), vec!["case_inv_2003"]);

    // Pages of one: every case exactly once.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..10 {
        let path = match &cursor {
            Some(c) => format!("{base}?limit=1&cursor={c}"),
            None => format!("{base}?limit=1"),
        };
        let (s, page) = api.get(&path).await;
        assert_eq!(s, 200, "{page}");
        seen.extend(ids(&page));
        match page["nextCursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(
        seen,
        vec!["case_inv_2001", "case_inv_2002", "case_inv_2003"]
    );

    for (q, field) in [
        ("status=done", "status"),
        ("writtenOff=yes", "writtenOff"),
        ("limit=0", "limit"),
        ("cursor=bm9wZQ", "cursor"),
        ("stauts=open", "query"),
    ] {
        let (s, e) = api.get(&format!("{base}?{q}")).await;
        assert_eq!(s, 400, "{q}: {e}");
        assert_eq!(e["error"]["field"], field, "{q}: {e}");
    }
}

#[tokio::test]
async fn a_case_shows_its_claim_write_offs_evidence_and_timeline() {
    let (w, api) = setup().await;
    let (s, d) = api
        .get(&format!("/v1/cases/{}.case_inv_2002", w.account))
        .await;
    assert_eq!(s, 200, "{d}");
    assert_eq!(d["writtenOff"], true);
    assert_eq!(d["claim"]["status"], "writtenOff");
    assert_eq!(d["claim"]["amounts"]["principal"], "5000.00");
    assert_eq!(d["claim"]["amounts"]["writtenOff"], "5000.00");
    assert_eq!(d["claim"]["amounts"]["outstanding"], "5000.00");
    assert_eq!(d["claim"]["amounts"]["ledgerBalance"], "0.00");
    assert_eq!(d["claim"]["writeOffs"][0]["amount"], "5000.00");
    assert_eq!(d["claim"]["writeOffs"][0]["markerMissing"], true);
    let credit = &d["claim"]["credits"][0];
    assert_eq!(credit["classification"]["kind"], "write_off");
    assert_eq!(credit["classification"]["flags"], json!(["marker_missing"]));
    assert_eq!(
        credit["classification"]["evidence"][0]["account_number"], 7830,
        "{credit}"
    );
    assert!(credit["classification"]["reason_no"]
        .as_str()
        .unwrap()
        .contains("7830"));
    assert_eq!(d["timeline"][0]["event"]["type"], "opened");
    let claim_timeline = d["claim"]["timeline"].as_array().unwrap();
    assert_eq!(claim_timeline.len(), 2, "mirrored, then the write-off");
}

#[tokio::test]
async fn pause_resume_close_reopen_and_notes() {
    let (w, api) = setup().await;
    let id = format!("{}.case_inv_2001", w.account);
    let p = |a: &str| format!("/v1/cases/{id}/{a}");

    let (s, e) = api
        .post(&p("pause"), r#"{"until": "2026-03-10", "note": "x"}"#)
        .await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (422, Some("pause_not_in_future"))
    );
    assert_eq!(e["error"]["field"], "until");
    let (s, e) = api
        .post(&p("pause"), r#"{"until": "2026-04-01", "note": " "}"#)
        .await;
    assert_eq!((s, e["error"]["field"].as_str()), (422, Some("note")));
    let (s, e) = api.post(&p("pause"), r#"{"until": "1. april"}"#).await;
    assert_eq!((s, e["error"]["field"].as_str()), (400, Some("until")));
    let (s, d) = api
        .post(
            &p("pause"),
            r#"{"until": "2026-04-01", "note": "Kunden betaler 1. april"}"#,
        )
        .await;
    assert_eq!(s, 200, "{d}");
    assert_eq!(d["status"]["state"], "paused");
    assert_eq!(d["status"]["until"], "2026-04-01");

    let (s, d) = api.post(&p("resume"), "").await;
    assert_eq!((s, d["state"].as_str()), (200, Some("open")), "{d}");
    let (s, e) = api.post(&p("resume"), "{}").await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (409, Some("invalid_transition"))
    );

    let (s, e) = api.post(&p("close"), r#"{"reason": "other"}"#).await;
    assert_eq!(
        (s, e["error"]["field"].as_str()),
        (422, Some("text")),
        "{e}"
    );
    let (s, e) = api.post(&p("close"), r#"{"reason": "gone"}"#).await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (422, Some("unknown_close_reason"))
    );
    let (s, d) = api
        .post(
            &p("close"),
            r#"{"reason": "debtorInsolvent", "note": "Konkurs åpnet"}"#,
        )
        .await;
    assert_eq!(s, 200, "{d}");
    assert_eq!(d["status"]["reason"]["code"], "debtorInsolvent");
    assert_eq!(d["status"]["by"]["id"], "user-kari");
    let (s, _) = api.post(&p("close"), r#"{"reason": "withdrawn"}"#).await;
    assert_eq!(s, 409);

    let (s, d) = api.post(&p("reopen"), r#"{"note": "Feil lukket"}"#).await;
    assert_eq!((s, d["state"].as_str()), (200, Some("open")), "{d}");
    let (s, d) = api
        .post(
            &p("close"),
            r#"{"reason": "annet", "text": "Oppgjort direkte"}"#,
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(d["status"]["reason"]["text"], "Oppgjort direkte");

    let (s, d) = api.post(&p("notes"), r#"{"text": "Ringte kunden"}"#).await;
    assert_eq!(s, 201, "{d}");
    assert_eq!(d["notes"][0]["text"], "Ringte kunden");
    assert_eq!(d["notes"][0]["author"], "user-kari");
    let (s, e) = api.post(&p("notes"), r#"{"text": ""}"#).await;
    assert_eq!((s, e["error"]["field"].as_str()), (422, Some("text")));
    let (s, e) = api.post(&p("notes"), r#"{"txt": "x"}"#).await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (400, Some("unknown_field"))
    );
    let (s, e) = api.post(&p("notes"), "{").await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (400, Some("malformed_json"))
    );

    // The timeline has every step, in order.
    let (_, d) = api.get(&format!("/v1/cases/{id}")).await;
    let types: Vec<&str> = d["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"]["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        vec![
            "opened",
            "paused",
            "resumed",
            "closed",
            "reopened",
            "closed",
            "noteAdded"
        ]
    );
}

#[tokio::test]
async fn another_organization_gets_404_and_changes_nothing() {
    let (w, api) = setup().await;
    let id = format!("{}.case_inv_2001", w.account);
    let (s, e) = api
        .call("GET", &format!("/v1/cases/{id}"), Some("org_other"), None)
        .await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (404, Some("case_not_found"))
    );
    let (s, _) = api
        .call(
            "POST",
            &format!("/v1/cases/{id}/close"),
            Some("org_other"),
            Some(r#"{"reason": "withdrawn"}"#),
        )
        .await;
    assert_eq!(s, 404);
    let (s, e) = api
        .call(
            "GET",
            &format!("/v1/accounts/{}/cases", w.account),
            Some("org_other"),
            None,
        )
        .await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (404, Some("account_not_found"))
    );
    let (_, d) = api.get(&format!("/v1/cases/{id}")).await;
    assert_eq!(d["state"], "open", "untouched");

    // Ids that are not case ids are simply not found.
    for bad in ["case_inv_2001", "x.y", &format!("{}.case_nope", w.account)] {
        let (s, _) = api.get(&format!("/v1/cases/{bad}")).await;
        assert_eq!(s, 404, "{bad}");
    }
}

#[tokio::test]
async fn no_token_organization_unknown_routes_and_wrong_methods() {
    let (w, api) = setup().await;
    let (s, e) = api
        .call(
            "GET",
            &format!("/v1/accounts/{}/cases", w.account),
            None,
            None,
        )
        .await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (401, Some("unauthorized"))
    );
    let (s, _) = api.get("/v1/casez").await;
    assert_eq!(s, 404);
    let (s, e) = api
        .call(
            "DELETE",
            &format!("/v1/cases/{}.case_inv_2001", w.account),
            Some(ORG),
            None,
        )
        .await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (405, Some("method_not_allowed"))
    );
    let (s, _) = api
        .call(
            "GET",
            &format!("/v1/cases/{}.case_inv_2001/pause", w.account),
            Some(ORG),
            None,
        )
        .await;
    assert_eq!(s, 405);
}
