//! The case routes through the real handler, against moto. The claims and cases are made by the
//! real classification service from the ledger events the sync sends.

use chrono::{DateTime, Utc};
use lambda_http::Request;
use serde_json::{json, Value};

use shared::domain::ledger::ItemStatus;
use shared::services::cases::CasesService;
use shared::services::classification::ClassificationService;
use test_support::classification::*;
use test_support::http::gateway_request_with_headers;

const ORG: &str = "org_cases";

/// An API Gateway HTTP API (payload 2.0) event as the JWT authorizer delivers it (user
/// `user-kari` of `org`).
fn request(
    method: &str,
    path_and_query: &str,
    org: Option<&str>,
    body: Option<&str>,
    headers: &[(&str, &str)],
) -> Request {
    let claims = match org {
        Some(o) => vec![("org", o), ("sub", "user-kari")],
        None => Vec::new(),
    };
    gateway_request_with_headers(method, path_and_query, &claims, body, headers)
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
        self.send(request(method, path, org, body, &[])).await
    }
    async fn call_with(
        &self,
        method: &str,
        path: &str,
        body: Option<&str>,
        headers: &[(&str, &str)],
    ) -> (u16, Value) {
        self.send(request(method, path, Some(ORG), body, headers))
            .await
    }
    async fn send(&self, req: Request) -> (u16, Value) {
        let resp = cases_api::handle(&self.svc, req, self.now)
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

// ------------------------------------------------------------------ settlements

mod settlements {
    use std::sync::{Arc, Mutex};

    use async_trait::async_trait;
    use chrono::{DateTime, TimeZone, Utc};
    use serde_json::Value;

    use shared::adapters::queue::PostingMessage;
    use shared::adapters::secrets::Secrets;
    use shared::domain::claim::{ChargesDemanded, ClaimEvent, ClaimEventKind, ClaimId, EventKey};
    use shared::domain::ledger::LedgerEvent;
    use shared::services::cases::CasesService;
    use shared::services::classification::ClassificationService;
    use shared::services::settlements::RetryQueue;
    use shared::services::vouchers::ports::TripletexBooks;
    use shared::services::vouchers::{Outcome, VoucherService};
    use test_support::classification::{kr, mirrored, CountingJobs, CreditSpec};
    use test_support::sync::{d, kid_payment, voucher_company, World};

    use super::Api;

    /// The voucher-posting queue as the retry sees it: what was sent, with its deduplication id.
    #[derive(Default)]
    struct SentRetries(Mutex<Vec<(PostingMessage, String)>>);

    #[async_trait]
    impl RetryQueue for SentRetries {
        async fn resend(&self, message: &PostingMessage, dedup: &str) -> Result<(), String> {
            self.0
                .lock()
                .unwrap()
                .push((message.clone(), dedup.to_string()));
            Ok(())
        }
    }

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 8, 3, 10, 0, 0).unwrap()
    }

    struct Setup {
        w: World,
        api: Api,
        queue: Arc<SentRetries>,
        vouchers: VoucherService,
        org: String,
    }

    impl Setup {
        async fn call(&self, method: &str, path: &str, body: Option<&str>) -> (u16, Value) {
            self.api.call(method, path, Some(&self.org), body).await
        }
        fn external_count(&self) -> usize {
            self.w
                .sandbox
                .vouchers(2001)
                .iter()
                .filter(|v| {
                    v["externalVoucherNumber"]
                        .as_str()
                        .is_some_and(|e| !e.is_empty())
                })
                .count()
        }
    }

    /// Invoice 10023 of the sandbox's scenario (12 500 kr, customer 40001, due 16 May 2026) as
    /// the classification worker keeps it: overdue, a letter demanded 35 kr in fees and 41 kr
    /// in interest, and the debtor paid 12 576 kr by KID on 1 Aug 2026. The classification
    /// settles the claim and hands over the job; the real posting service holds it, because
    /// no fee income account is chosen yet.
    async fn setup() -> (Setup, PostingMessage) {
        let w = World::new(&voucher_company(), |_| {}).await;
        let jobs = Arc::new(CountingJobs::default());
        let classification = ClassificationService::new(w.store.clone(), jobs.clone());
        let msg = |event| shared::adapters::queue::ClassificationMessage {
            org: w.org.clone(),
            account_id: w.account.clone(),
            integration_id: w.integration.id.clone(),
            event,
        };
        let LedgerEvent::ItemMirrored(mut m) =
            mirrored(80001, 40001, kr(12_500), d("2026-05-02"), d("2026-05-16"))
        else {
            unreachable!("mirrored() makes an ItemMirrored event")
        };
        m.facts.invoice_number = Some("10023".into());
        m.facts.voucher_id = Some(50001);
        m.key = format!("mirror:inv_80001:{}", m.facts.hash());
        classification
            .handle(&msg(LedgerEvent::ItemMirrored(m)), d("2026-06-10"), now())
            .await
            .unwrap();
        // The letter's charges, recorded on the claim as the dunning records them.
        let claim_id = ClaimId::invoice(80001).unwrap();
        let mut rec = w
            .store
            .get_claim(&w.org, &w.account, &claim_id)
            .await
            .unwrap()
            .expect("the claim");
        rec.state
            .apply(ClaimEvent::new(
                EventKey::new("charges:ltr_1").unwrap(),
                ClaimEventKind::ChargesDemanded(ChargesDemanded {
                    reference: "ltr_1".into(),
                    date: d("2026-06-01"),
                    interest: "41".parse().unwrap(),
                    fees: "35".parse().unwrap(),
                }),
            ))
            .unwrap();
        assert_eq!(
            format!("{:?}", w.store.save_claim(&rec, None).await.unwrap()),
            "Saved"
        );
        w.sandbox
            .book_voucher(2001, &kid_payment("2026-08-01", 40001, "10023", 12576.0))
            .expect("the payment is booked");
        let payment = CreditSpec::new(80001, 96_000_001, d("2026-08-01"), 12_576).event();
        classification
            .handle(&msg(payment), d("2026-08-02"), now())
            .await
            .unwrap();
        let job = jobs.sent.lock().unwrap().first().cloned().expect("settled");

        let vouchers = VoucherService::new(
            Arc::new(w.store.clone()),
            Arc::new(TripletexBooks::new(
                w.tripletex(),
                Secrets::new(w.sm.clone(), w.secret_prefix.clone()),
            )),
        );
        let first = PostingMessage::Settle(job);
        let out = vouchers.handle(&first, now()).await.unwrap();
        assert!(matches!(out, Outcome::Held(_)), "{out:?}");
        let queue = Arc::new(SentRetries::default());
        let api = Api {
            svc: CasesService::new(w.store.clone()).with_posting_queue(queue.clone()),
            now: now(),
        };
        let org = w.org.to_string();
        (
            Setup {
                w,
                api,
                queue,
                vouchers,
                org,
            },
            first,
        )
    }

    #[tokio::test]
    async fn a_held_settlement_is_listed_with_the_fix_retried_once_fixed_and_posted_once() {
        let (mut s, first) = setup().await;
        let base = format!("/v1/accounts/{}/settlements", s.w.account);
        let (st, list) = s.call("GET", &base, None).await;
        assert_eq!(st, 200, "{list}");
        let one = &list["settlements"][0];
        assert_eq!(one["id"], "inv_80001.1", "{list}");
        assert_eq!(one["caseId"], "case_inv_80001");
        assert_eq!(one["status"], "held");
        assert_eq!(one["held"]["code"], "fee_account_not_chosen", "{one}");
        assert!(!one["held"]["fix"]["no"].as_str().unwrap().is_empty());
        assert!(!one["held"]["fix"]["en"].as_str().unwrap().is_empty());
        assert_eq!(one["split"]["principal"], "12500.00", "{one}");
        assert_eq!(one["split"]["interest"], "41.00");
        assert_eq!(one["split"]["fees"], "35.00");
        assert_eq!(one["rule"], "principalFirst");
        assert_eq!(one["allocation"]["principalPaid"], "12500.00", "{one}");
        assert_eq!(one["voucher"], Value::Null);
        assert_eq!(s.external_count(), 0, "nothing booked while held");

        // The user chooses the fee income account, then asks for a retry.
        s.w.change_settings(|st| st.voucher_posting.fee_income_account = Some(3900))
            .await;
        let retry = format!("{base}/inv_80001.1/retry");
        let (st, view) = s.call("POST", &retry, None).await;
        assert_eq!(st, 202, "{view}");
        assert_eq!(view["status"], "pending");
        assert_eq!(view["held"], Value::Null);
        assert_eq!(view["retries"], 1);
        assert_eq!(view["rule"], "principalFirst", "filled from the claim");
        // Asked again while on its way: sent again under the same deduplication id, so SQS
        // drops the copy; nothing is written.
        let (st, again) = s.call("POST", &retry, Some("{}")).await;
        assert_eq!(st, 202, "{again}");
        assert_eq!(again["retries"], 1);
        let sent = s.queue.0.lock().unwrap().clone();
        assert_eq!(sent.len(), 2);
        assert_eq!(sent[0].1, sent[1].1);
        assert!(sent[0].1.ends_with(":retry:1"), "{}", sent[0].1);
        assert_eq!(sent[0].0, first, "the settlement's own job goes back");

        // The worker takes the retried job (and the copy, had SQS let it through).
        for (m, _) in &sent {
            s.vouchers.handle(m, now()).await.unwrap();
        }
        assert_eq!(s.external_count(), 1, "one voucher in Tripletex");
        let (_, list) = s.call("GET", &base, None).await;
        let one = &list["settlements"][0];
        assert_eq!(one["status"], "posted", "{one}");
        assert_eq!(one["held"], Value::Null);
        assert!(one["voucher"]["number"]
            .as_str()
            .is_some_and(|n| n.ends_with("-2026")));
        assert_eq!(one["voucher"]["date"], "2026-08-01");
        assert!(one["voucher"]["externalVoucherNumber"]
            .as_str()
            .is_some_and(|e| !e.is_empty() && e.len() <= 70));

        // A posted settlement is not posted again.
        let (st, e) = s.call("POST", &retry, None).await;
        assert_eq!(
            (st, e["error"]["code"].as_str()),
            (409, Some("settlement_not_held")),
            "{e}"
        );
        assert_eq!(e["error"]["status"], "posted", "{e}");
        assert_eq!(s.queue.0.lock().unwrap().len(), 2, "nothing sent");
        assert_eq!(s.external_count(), 1);

        // The case timeline shows the settlement and the voucher.
        let (st, d) = s
            .call(
                "GET",
                &format!("/v1/cases/{}.case_inv_80001", s.w.account),
                None,
            )
            .await;
        assert_eq!(st, 200, "{d}");
        let timeline = d["timeline"].as_array().unwrap();
        let types: Vec<&str> = timeline
            .iter()
            .map(|e| e["event"]["type"].as_str().unwrap())
            .collect();
        assert_eq!(types.first(), Some(&"opened"), "{types:?}");
        let settled = timeline
            .iter()
            .find(|e| e["event"]["type"] == "settled")
            .unwrap_or_else(|| panic!("{types:?}"));
        assert_eq!(settled["event"]["amounts"]["fees"], "35.00", "{settled}");
        assert_eq!(settled["event"]["rule"], "principalFirst");
        let posted = timeline
            .iter()
            .find(|e| e["event"]["type"] == "voucherPosted")
            .unwrap_or_else(|| panic!("{types:?}"));
        assert_eq!(posted["event"]["voucherNumber"], one["voucher"]["number"]);
        let seqs: Vec<u64> = timeline
            .iter()
            .map(|e| e["seq"].as_u64().unwrap())
            .collect();
        assert_eq!(seqs, (1..=timeline.len() as u64).collect::<Vec<_>>());
    }

    #[tokio::test]
    async fn another_organization_and_bad_ids_get_404_and_bad_bodies_400() {
        let (s, _) = setup().await;
        let base = format!("/v1/accounts/{}/settlements", s.w.account);
        let retry = format!("{base}/inv_80001.1/retry");
        for (method, path) in [("GET", &base), ("POST", &retry)] {
            let (st, e) = s.api.call(method, path, Some("org_other"), None).await;
            assert_eq!(
                (st, e["error"]["code"].as_str()),
                (404, Some("account_not_found")),
                "{method} {path}: {e}"
            );
        }
        assert!(s.queue.0.lock().unwrap().is_empty(), "nothing sent");
        for sid in ["inv_80001", "inv_80001.0", "inv_80001.9", "nope.1"] {
            let (st, e) = s.call("POST", &format!("{base}/{sid}/retry"), None).await;
            assert_eq!(
                (st, e["error"]["field"].as_str()),
                (404, Some("sid")),
                "{sid}: {e}"
            );
        }
        let (st, e) = s
            .call("GET", "/v1/accounts/acc_nope/settlements", None)
            .await;
        assert_eq!(st, 404, "{e}");
        let (st, e) = s.call("POST", &retry, Some(r#"{"force": true}"#)).await;
        assert_eq!(
            (st, e["error"]["code"].as_str()),
            (400, Some("unknown_field")),
            "{e}"
        );
        let (st, e) = s.call("POST", &retry, Some("{")).await;
        assert_eq!(
            (st, e["error"]["code"].as_str()),
            (400, Some("malformed_json"))
        );
        let (_, list) = s.call("GET", &base, None).await;
        assert_eq!(list["settlements"][0]["status"], "held", "untouched");
        assert!(s.queue.0.lock().unwrap().is_empty());
    }
}

// ------------------------------------------------------------------------------- legal steps

fn event_types(d: &Value) -> Vec<String> {
    d["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"]["type"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn an_objection_blocks_legal_steps_until_assessed_and_a_groundless_one_makes_the_claim_disputed(
) {
    let (w, api) = setup().await;
    let id = format!("{}.case_inv_2001", w.account);
    let p = |a: &str| format!("/v1/cases/{id}/{a}");

    // Bad input names the field.
    for (body, status, field) in [
        (
            r#"{"text": "", "receivedOn": "2026-03-09", "channel": "email"}"#,
            422,
            "text",
        ),
        (
            r#"{"text": "Nei", "receivedOn": "9. mars", "channel": "email"}"#,
            400,
            "receivedOn",
        ),
        (
            r#"{"text": "Nei", "receivedOn": "2026-03-11", "channel": "email"}"#,
            422,
            "receivedOn",
        ),
        (
            r#"{"text": "Nei", "receivedOn": "2026-03-09", "channel": "fax"}"#,
            422,
            "channel",
        ),
        (
            r#"{"text": "Nei", "receivedOn": "2026-03-09"}"#,
            400,
            "channel",
        ),
    ] {
        let (s, e) = api.post(&p("objection"), body).await;
        assert_eq!(
            (s, e["error"]["field"].as_str()),
            (status, Some(field)),
            "{body}: {e}"
        );
    }
    let (_, before) = api.get(&format!("/v1/cases/{id}")).await;
    let version = before["version"].as_u64().unwrap();

    let (s, d) = api
        .post(
            &p("objection"),
            &format!(
                r#"{{"text": "Arbeidet ble ikke utført som avtalt", "receivedOn": "2026-03-09", "channel": "email", "version": {version}}}"#
            ),
        )
        .await;
    assert_eq!(s, 201, "{d}");
    let objection = &d["legal"]["objections"][0];
    assert_eq!(objection["channel"], "email");
    assert_eq!(objection["receivedOn"], "2026-03-09");
    assert_eq!(objection["recordedBy"]["id"], "user-kari");
    assert_eq!(d["legal"]["readiness"]["state"], "blocked");
    assert_eq!(d["legal"]["readiness"]["code"], "blocked:objection_open");
    let last = d["timeline"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["event"]["type"], "objectionRecorded");
    assert_eq!(last["by"]["id"], "user-kari");

    // The version the user read is gone: 409, nothing written.
    let (s, e) = api
        .post(
            &p("objection/assess"),
            &format!(r#"{{"outcome": "groundless", "reason": "Utført", "version": {version}}}"#),
        )
        .await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (409, Some("version_conflict")),
        "{e}"
    );
    assert_eq!(e["error"]["currentVersion"], version + 1);
    let (s, e) = api
        .call(
            "POST",
            &p("objection/assess"),
            Some(ORG),
            Some(r#"{"outcome": "groundless", "reason": "Utført"}"#),
        )
        .await;
    assert_eq!(s, 200, "without a version the latest is assessed: {e}");

    // Assessed once; the reason is required for `groundless`.
    let (s, e) = api
        .post(
            &p("objection/assess"),
            r#"{"outcome": "groundless", "reason": "igjen"}"#,
        )
        .await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (409, Some("no_objection_to_assess")),
        "{e}"
    );
    let (_, d) = api.get(&format!("/v1/cases/{id}")).await;
    assert_eq!(
        d["legal"]["objections"][0]["assessment"]["outcome"],
        "groundless"
    );
    assert_eq!(
        d["legal"]["objections"][0]["assessment"]["by"]["id"],
        "user-kari"
    );
    // Not blocked by the objection any more: the chain goes on (no betalingsoppfordring yet).
    assert_eq!(
        d["legal"]["readiness"]["code"], "not_yet:no_betalingsoppfordring",
        "{}",
        d["legal"]
    );

    // A second objection, found justified, then corrected by hand.
    let (s, _) = api
        .post(
            &p("objection"),
            r#"{"text": "Beløpet er feil", "receivedOn": "2026-03-10", "channel": "phone"}"#,
        )
        .await;
    assert_eq!(s, 201);
    let (s, e) = api
        .post(&p("objection/assess"), r#"{"outcome": "groundless"}"#)
        .await;
    assert_eq!(
        (s, e["error"]["field"].as_str()),
        (422, Some("reason")),
        "{e}"
    );
    let (s, e) = api
        .post(&p("objection/assess"), r#"{"outcome": "maybe"}"#)
        .await;
    assert_eq!(
        (s, e["error"]["field"].as_str()),
        (422, Some("outcome")),
        "{e}"
    );
    let (s, e) = api
        .post(
            &p("objection/assess"),
            r#"{"outcome": "justified", "objectionId": 9}"#,
        )
        .await;
    assert_eq!(
        (s, e["error"]["code"].as_str(), e["error"]["field"].as_str()),
        (404, Some("objection_not_found"), Some("objectionId")),
        "{e}"
    );
    let (s, d) = api
        .post(
            &p("objection/assess"),
            r#"{"outcome": "justified", "reason": "Feil sats"}"#,
        )
        .await;
    assert_eq!(s, 200, "{d}");
    assert_eq!(
        d["legal"]["readiness"]["code"],
        "blocked:objection_justified"
    );
    let (s, d) = api
        .post(
            &p("objection/corrected"),
            r#"{"note": "Kreditnota 55 sendt"}"#,
        )
        .await;
    assert_eq!(s, 200, "{d}");
    assert_eq!(
        d["legal"]["objections"][1]["correction"]["note"],
        "Kreditnota 55 sendt"
    );
    let (s, e) = api
        .post(&p("objection/corrected"), r#"{"note": "igjen"}"#)
        .await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (409, Some("no_objection_to_correct")),
        "{e}"
    );
    let types = event_types(&d);
    assert_eq!(
        types[types.len() - 5..],
        [
            "objectionRecorded",
            "objectionAssessed",
            "objectionRecorded",
            "objectionAssessed",
            "objectionCorrected"
        ]
    );

    // Another organization: 404, nothing recorded.
    let (s, e) = api
        .call(
            "POST",
            &p("objection"),
            Some("org_other"),
            Some(r#"{"text": "x", "receivedOn": "2026-03-09", "channel": "email"}"#),
        )
        .await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (404, Some("case_not_found"))
    );
    let (_, d) = api.get(&format!("/v1/cases/{id}")).await;
    assert_eq!(d["legal"]["objections"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn an_acknowledgement_starts_a_new_period_and_a_filed_step_suspends_it() {
    let (w, api) = setup().await;
    let id = format!("{}.case_inv_2001", w.account);
    let p = |a: &str| format!("/v1/cases/{id}/{a}");
    let (_, d) = api.get(&format!("/v1/cases/{id}")).await;
    let lim = &d["legal"]["limitation"];
    assert_eq!(lim["state"], "running", "{lim}");
    assert_eq!(lim["start"], "2026-01-19");
    assert_eq!(lim["timeBarredOn"], "2029-01-20");

    let (s, d) = api
        .post(
            &p("acknowledgement"),
            r#"{"on": "2026-03-02", "note": "Lovet å betale i april (e-post)"}"#,
        )
        .await;
    assert_eq!(s, 201, "{d}");
    let lim = &d["legal"]["limitation"];
    assert_eq!(lim["periodStart"], "2026-03-02");
    assert_eq!(lim["interruptedBy"]["kind"], "acknowledgement");
    assert_eq!(lim["timeBarredOn"], "2029-03-03");
    assert_eq!(d["legal"]["acknowledgements"][0]["by"]["id"], "user-kari");

    for (body, status, field) in [
        (
            r#"{"route": "stevning", "filedOn": "2026-03-10"}"#,
            422,
            "route",
        ),
        (
            r#"{"route": "utlegg", "filedOn": "2026-04-10"}"#,
            422,
            "filedOn",
        ),
        (
            r#"{"route": "utlegg", "filedOn": "2026-03-10", "documentId": "doc_0123456789abcdef0123456789abcdef"}"#,
            422,
            "documentId",
        ),
        (r#"{"route": "utlegg"}"#, 400, "filedOn"),
    ] {
        let (s, e) = api.post(&p("legal-steps/filed"), body).await;
        assert_eq!(
            (s, e["error"]["field"].as_str()),
            (status, Some(field)),
            "{body}: {e}"
        );
    }
    let (s, d) = api
        .post(
            &p("legal-steps/filed"),
            r#"{"route": "forliksklage", "filedOn": "2026-03-10"}"#,
        )
        .await;
    assert_eq!(s, 201, "{d}");
    assert_eq!(d["legal"]["filed"]["route"], "forliksklage");
    assert_eq!(d["legal"]["filed"]["by"]["id"], "user-kari");
    assert_eq!(d["legal"]["readiness"]["code"], "blocked:already_filed");
    assert_eq!(d["legal"]["limitation"]["state"], "suspended");
    assert_eq!(d["legal"]["limitation"]["timeBarredOn"], Value::Null);
    let (s, e) = api
        .post(
            &p("legal-steps/filed"),
            r#"{"route": "utlegg", "filedOn": "2026-03-10"}"#,
        )
        .await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (409, Some("already_filed")),
        "{e}"
    );
    assert_eq!(
        event_types(&d)[event_types(&d).len() - 2..],
        ["debtAcknowledged", "legalStepFiled"]
    );

    // If-Match: the version in the header is checked too.
    let (s, e) = api
        .call_with(
            "POST",
            &p("notes"),
            Some(r#"{"text": "x"}"#),
            &[("if-match", "\"1\"")],
        )
        .await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (409, Some("version_conflict")),
        "{e}"
    );
    let (s, e) = api
        .call_with(
            "POST",
            &p("notes"),
            Some(r#"{"text": "x"}"#),
            &[("if-match", "seven")],
        )
        .await;
    assert_eq!(
        (s, e["error"]["field"].as_str()),
        (400, Some("If-Match")),
        "{e}"
    );
}

#[tokio::test]
async fn the_limitation_view_is_the_organization_s_and_checks_its_window() {
    let (w, api) = setup().await;
    // Due 19 Jan 2026, today 10 Mar 2026: time-barred 20 Jan 2029, 1 047 days on.
    let (s, v) = api.get("/v1/limitation").await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["withinDays"], 90);
    assert_eq!(v["claims"], json!([]));
    let (s, v) = api.get("/v1/limitation?within=1060").await;
    assert_eq!(s, 200, "{v}");
    let claims = v["claims"].as_array().unwrap();
    assert_eq!(claims.len(), 3, "{v}");
    assert_eq!(claims[0]["timeBarredOn"], "2029-01-20");
    assert_eq!(claims[0]["lastDay"], "2029-01-19");
    assert_eq!(claims[0]["daysLeft"], 1047);
    assert_eq!(claims[0]["accountId"], w.account.to_string());
    assert!(
        claims[0]["action"]["no"]
            .as_str()
            .unwrap()
            .contains("19.01.2029"),
        "{}",
        claims[0]
    );
    let (_, other) = api
        .call("GET", "/v1/limitation?within=1060", Some("org_other"), None)
        .await;
    assert_eq!(other["claims"], json!([]));
    for q in ["within=0", "within=x", "within=5000", "soon=1"] {
        let (s, e) = api.get(&format!("/v1/limitation?{q}")).await;
        assert_eq!(s, 400, "{q}: {e}");
        assert!(e["error"]["field"].is_string(), "{q}: {e}");
    }
}
