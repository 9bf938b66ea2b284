//! The dunning routes through the real handler, against moto and the Tripletex sandbox: the
//! dunning world (a company synced, classified and its cases opened by the real services); the
//! API's service as main.rs builds it (no sending), the runs by the dunning function's service.

use chrono::{DateTime, Duration, Utc};
use lambda_http::Body;
use serde_json::{json, Value};

use shared::domain::collection::dunning::{Mode, Step};
use shared::services::cases::public_case_id;
use shared::services::dunning::DunningService;
use test_support::dunning::*;
use test_support::http::gateway_request;

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().to_utc()
}

/// 07:00 in Oslo on 1 October 2026: 10023 (Vestland Bygg) and 10025 (Havbruk) are due for the
/// purring.
const MORNING: &str = "2026-10-01T05:00:00Z";

struct Api<'a> {
    w: &'a World,
    svc: DunningService,
}

impl<'a> Api<'a> {
    fn new(w: &'a World) -> Self {
        Self {
            w,
            svc: w.api_service(),
        }
    }

    async fn raw(
        &self,
        method: &str,
        path: &str,
        org: &str,
        body: Option<&str>,
    ) -> lambda_http::Response<Body> {
        let claims = [("org", org), ("sub", "user-kari")];
        dunning_api::handle(
            &self.svc,
            gateway_request(method, path, &claims, body),
            self.w.now(),
        )
        .await
        .expect("the handler never fails")
    }

    async fn call_as(
        &self,
        method: &str,
        path: &str,
        org: &str,
        body: Option<&str>,
    ) -> (u16, Value) {
        let resp = self.raw(method, path, org, body).await;
        let text = String::from_utf8_lossy(resp.body().as_ref()).to_string();
        let json = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("JSON: {text}"))
        };
        (resp.status().as_u16(), json)
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        self.call_as("GET", path, self.w.sync.org.as_str(), None)
            .await
    }
    async fn put(&self, path: &str, body: &str) -> (u16, Value) {
        self.call_as("PUT", path, self.w.sync.org.as_str(), Some(body))
            .await
    }
    async fn post(&self, path: &str, body: &str) -> (u16, Value) {
        self.call_as("POST", path, self.w.sync.org.as_str(), Some(body))
            .await
    }

    fn account_path(&self, rest: &str) -> String {
        format!("/v1/accounts/{}{rest}", self.w.sync.account)
    }
}

/// The dunning function's run of the day (the worker's service).
async fn run_today(w: &World) {
    let r = w
        .service()
        .run_account(&w.sync.org, &w.sync.account, None)
        .await
        .expect("the run");
    assert!(!r.continued);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_policy_is_read_with_a_suggested_sender_replaced_by_version_and_validated() {
    let w = World::new(&company(), at(MORNING)).await;
    let api = Api::new(&w);
    let path = api.account_path("/dunning-policy");

    let (s, v) = api.get(&path).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["version"], Value::Null, "nothing stored: the defaults");
    assert_eq!(v["policy"]["enabled"], false);
    assert_eq!(v["suggestedSender"]["name"], "Fjordkraft Rørlegger AS");

    // The first PUT (no version read) stores version 1, with the creditor.
    let mut policy = v["policy"].clone();
    policy["enabled"] = json!(true);
    policy["sender"] =
        serde_json::to_value(shared::domain::collection::dunning::letter::sample_sender()).unwrap();
    let (s, v) = api
        .put(
            &path,
            &json!({"version": null, "policy": policy}).to_string(),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["version"], 1);
    assert_eq!(v["updatedBy"], "user-kari");
    assert_eq!(v["suggestedSender"], Value::Null, "the sender is named");

    // A stale version: 409 with the current one.
    let (s, v) = api
        .put(
            &path,
            &json!({"version": null, "policy": policy}).to_string(),
        )
        .await;
    assert_eq!(s, 409, "{v}");
    assert_eq!(v["error"]["code"], "version_conflict");
    assert_eq!(v["error"]["currentVersion"], 1);
    assert_eq!(v["error"]["field"], "version");

    // Every rule broken, each naming its field and the law.
    let mut bad = policy.clone();
    bad["steps"]["inkassovarsel"]["deadlineDays"] = json!(7);
    bad["minimumAmount"] = json!("-1.00");
    let (s, v) = api
        .put(&path, &json!({"version": 1, "policy": bad}).to_string())
        .await;
    assert_eq!(s, 422, "{v}");
    assert_eq!(v["error"]["code"], "invalid_policy");
    let fields: Vec<&str> = v["error"]["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["field"].as_str().unwrap())
        .collect();
    assert!(
        fields.contains(&"policy.steps.inkassovarsel.deadlineDays"),
        "{fields:?}"
    );
    assert!(fields.contains(&"policy.minimumAmount"), "{fields:?}");
    let ink = v["error"]["violations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["field"] == "policy.steps.inkassovarsel.deadlineDays")
        .unwrap();
    assert!(
        ink["messageNb"]
            .as_str()
            .unwrap()
            .starts_with("Inkassoloven § 9"),
        "{ink}"
    );
    assert!(ink["code"].is_string());

    // Malformed input is 400 naming the field; nothing changed.
    let (s, v) = api
        .put(
            &path,
            &json!({"version": 1, "policy": {"enabled": "yes"}}).to_string(),
        )
        .await;
    assert_eq!(s, 400, "{v}");
    assert_eq!(v["error"]["field"], "policy.enabled");
    let (s, v) = api.put(&path, r#"{"version": 1, "polcy": {}}"#).await;
    assert_eq!(s, 400, "{v}");
    assert_eq!(v["error"]["field"], "polcy");
    let (s, v) = api.put(&path, "not json").await;
    assert_eq!(s, 400, "{v}");

    // The current version replaces it.
    policy["minimumAmount"] = json!("100.00");
    let (s, v) = api
        .put(&path, &json!({"version": 1, "policy": policy}).to_string())
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["version"], 2);
    assert_eq!(api.get(&path).await.1["policy"]["minimumAmount"], "100.00");

    // Another organization's account, and no account at all: 404.
    let (s, v) = api.call_as("GET", &path, "org_other", None).await;
    assert_eq!(s, 404, "{v}");
    assert_eq!(v["error"]["code"], "account_not_found");
    let (s, _) = api.get("/v1/accounts/acc_nope/dunning-policy").await;
    assert_eq!(s, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_preview_across_accounts_is_what_the_run_then_sends_and_the_letters_are_served_as_sent()
{
    let w = World::new(&company(), at(MORNING)).await;
    w.enable(Mode::Automatic, |_| {}).await;
    let api = Api::new(&w);

    let (s, one) = api
        .get(&api.account_path("/dunning/preview?date=2026-10-01"))
        .await;
    assert_eq!(s, 200, "{one}");
    let (s, all) = api.get("/v1/dunning/preview?date=2026-10-01").await;
    assert_eq!(s, 200, "{all}");
    assert_eq!(all["accounts"].as_array().unwrap().len(), 1);
    assert_eq!(
        all["accounts"][0], one,
        "the org's preview is the accounts' previews"
    );
    // Today by default.
    assert_eq!(api.get(&api.account_path("/dunning/preview")).await.1, one);
    let letters: Vec<String> = one["letters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["letterId"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(letters.len(), 2, "{one}");
    let (s, v) = api
        .get(&api.account_path("/dunning/preview?date=1.10.2026"))
        .await;
    assert_eq!(s, 400, "{v}");
    assert_eq!(v["error"]["field"], "date");

    run_today(&w).await;
    let mails = w.mails().await;
    let mut mailed: Vec<String> = mails
        .iter()
        .map(|m| {
            let id = m.message_id.as_deref().unwrap();
            id.trim_start_matches('<')
                .split('@')
                .next()
                .unwrap()
                .to_string()
        })
        .collect();
    mailed.sort();
    let mut previewed = letters.clone();
    previewed.sort();
    assert_eq!(
        mailed, previewed,
        "the preview's letters are the ones mailed"
    );

    // The case's notices, and the letter exactly as it was attached.
    let case = shared::domain::case::CaseId::parse("case_inv_80001").unwrap();
    let case_path = format!("/v1/cases/{}", public_case_id(&w.sync.account, &case));
    let (s, v) = api.get(&format!("{case_path}/notices")).await;
    assert_eq!(s, 200, "{v}");
    let notices = v["notices"].as_array().unwrap();
    assert_eq!(notices.len(), 1);
    assert_eq!(notices[0]["status"], "sent");
    let notice_id = notices[0]["id"].as_str().unwrap().to_string();
    assert_eq!(notice_id, format!("case_inv_80001.{}", Step::Purring.key()));

    let resp = api
        .raw(
            "GET",
            &format!("{case_path}/notices/{notice_id}/pdf"),
            w.sync.org.as_str(),
            None,
        )
        .await;
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(resp.headers()["content-type"], "application/pdf");
    let Body::Binary(pdf) = resp.body() else {
        panic!("a binary body (base64 through API Gateway)");
    };
    let mail = mails
        .iter()
        .find(|m| m.to == "purring@vestlandbygg.no")
        .unwrap();
    assert_eq!(&mail.attachments[0].2, pdf, "the bytes as sent");
    assert!(pdf_text(pdf).contains("Purring"));

    // Another case's notice id under this case, another organization, an unknown case: 404.
    let (s, v) = api
        .get(&format!("{case_path}/notices/case_inv_80003.purring/pdf"))
        .await;
    assert_eq!(s, 404, "{v}");
    assert_eq!(v["error"]["code"], "notice_not_found");
    let (s, _) = api
        .call_as("GET", &format!("{case_path}/notices"), "org_other", None)
        .await;
    assert_eq!(s, 404);
    let (s, v) = api
        .get(&format!(
            "/v1/cases/{}/notices",
            public_case_id(
                &w.sync.account,
                &shared::domain::case::CaseId::parse("case_inv_99999").unwrap()
            )
        ))
        .await;
    assert_eq!(s, 404, "{v}");
    assert_eq!(v["error"]["code"], "case_not_found");
    // No letter for a step not sent.
    let (s, v) = api
        .get(&format!(
            "{case_path}/notices/case_inv_80001.inkassovarsel/pdf"
        ))
        .await;
    assert_eq!(s, 404, "{v}");

    // The day's run, as the function recorded it? run_account alone keeps no run record: the
    // worker's job does (see run now).
    let (s, _) = api.get(&api.account_path("/dunning/runs/2026-10-01")).await;
    assert_eq!(s, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_now_queues_one_job_per_day_and_the_run_is_reported() {
    let w = World::new(&company(), at(MORNING)).await;
    w.enable(Mode::Automatic, |_| {}).await;
    let api = Api::new(&w);
    let (s, run) = api.post(&api.account_path("/dunning/run"), "").await;
    assert_eq!(s, 202, "{run}");
    assert_eq!(run["status"], "requested");
    assert_eq!(run["date"], "2026-10-01");
    let (s, again) = api.post(&api.account_path("/dunning/run"), "{}").await;
    assert_eq!(s, 202);
    assert_eq!(again["requestedAt"], run["requestedAt"], "the same run");
    let (s, v) = api
        .post(&api.account_path("/dunning/run"), r#"{"now": true}"#)
        .await;
    assert_eq!(s, 400, "{v}");
    assert_eq!(v["error"]["field"], "now");

    // The queue has the job (SQS keeps one per deduplication id); the function runs it.
    let sqs = aws_sdk_sqs::Client::new(&w.sync.sdk);
    let jobs = test_support::drain_fifo(&sqs, &w.resources.dunning_queue_url).await;
    assert!(!jobs.is_empty());
    for (_, dedup, _) in &jobs {
        assert_eq!(dedup, &format!("dunning:{}:2026-10-01", w.sync.account));
    }
    let job: shared::adapters::queue::DunningJob =
        serde_json::from_value(jobs[0].2.clone()).unwrap();
    w.service().handle_job(&job, None).await.unwrap();

    let (s, v) = api.get(&api.account_path("/dunning/runs/2026-10-01")).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["status"], "completed");
    assert_eq!(v["report"]["letters"], 2);
    assert_eq!(v["report"]["mails"], 2);
    assert_eq!(
        v["trigger"],
        json!({"kind": "user", "id": "user-kari"}),
        "who asked"
    );
    let (s, v) = api.get(&api.account_path("/dunning/runs/yesterday")).await;
    assert_eq!(s, 404, "{v}");
    // Asked again after it completed: the day's run as it stands, nothing queued.
    let (s, v) = api.post(&api.account_path("/dunning/run"), "").await;
    assert_eq!(s, 202);
    assert_eq!(v["status"], "completed");
    assert!(
        test_support::drain_fifo(&sqs, &w.resources.dunning_queue_url)
            .await
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approve_mode_waits_for_the_user_and_sends_what_was_approved_at_the_next_run() {
    let w = World::new(&company(), at(MORNING)).await;
    w.enable(Mode::Approve, |_| {}).await;
    let api = Api::new(&w);
    run_today(&w).await;
    assert!(w.mails().await.is_empty(), "nothing before approval");

    let (s, v) = api.get(&api.account_path("/dunning/batches")).await;
    assert_eq!(s, 200, "{v}");
    let batch = &v["batches"][0];
    assert_eq!(batch["id"], "2026-10-01");
    assert_eq!(batch["awaitingApproval"], 2);
    let waiting: Vec<String> = batch["waiting"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_str().unwrap().to_string())
        .collect();
    let vestland = waiting
        .iter()
        .find(|id| id.starts_with("case_inv_80001"))
        .unwrap()
        .clone();
    let approve = api.account_path("/dunning/batches/2026-10-01/approve");

    // Bad input names the field; an unknown batch is 404.
    let (s, v) = api.post(&approve, "{}").await;
    assert_eq!(s, 400, "{v}");
    assert_eq!(v["error"]["field"], "all");
    let (s, v) = api.post(&approve, r#"{"notices": []}"#).await;
    assert_eq!(s, 400, "{v}");
    assert_eq!(v["error"]["field"], "notices");
    let (s, v) = api.post(&approve, r#"{"notices": ["nope"]}"#).await;
    assert_eq!(s, 400, "{v}");
    assert_eq!(v["error"]["field"], "notices[0]");
    let (s, v) = api
        .post(
            &api.account_path("/dunning/batches/2026-09-30/approve"),
            r#"{"all": true}"#,
        )
        .await;
    assert_eq!(s, 404, "{v}");
    assert_eq!(v["error"]["code"], "batch_not_found");

    // One approved: the next run sends it, re-planned for its real send date.
    let (s, v) = api
        .post(&approve, &json!({"notices": [vestland]}).to_string())
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["approved"], json!([vestland]));
    w.set_now(at(MORNING) + Duration::days(1));
    run_today(&w).await;
    let mails = w.mails().await;
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].to, "purring@vestlandbygg.no");
    assert!(
        pdf_text(&mails[0].attachments[0].2).contains("02.10.2026"),
        "sent 2 October"
    );

    // The rest, all at once.
    let (s, v) = api.post(&approve, r#"{"all": true}"#).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["approved"].as_array().unwrap().len(), 1);
    w.set_now(at(MORNING) + Duration::days(2));
    run_today(&w).await;
    assert_eq!(w.mails().await.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_uncertain_notice_is_listed_and_a_person_resolves_it_once() {
    let w = World::new(&company(), at(MORNING)).await;
    w.enable(Mode::Automatic, |_| {}).await;
    let crash = Crash::default();
    crash.arm(CrashPoint::AfterSes);
    let svc = std::sync::Arc::new(w.crashing_service(&crash));
    let (org, account) = (w.sync.org.clone(), w.sync.account.clone());
    let died = tokio::spawn(async move { svc.run_account(&org, &account, None).await }).await;
    assert!(died.is_err_and(|e| e.is_panic()));
    // Later, a run finds the letter in `sending` long ago: uncertain.
    w.set_now(at(MORNING) + Duration::hours(1));
    run_today(&w).await;
    let mails = w.mails().await.len();
    assert_eq!(mails, 2, "the crashed letter went, the other too");

    let api = Api::new(&w);
    let (s, v) = api.get(&api.account_path("/dunning/uncertain")).await;
    assert_eq!(s, 200, "{v}");
    let held = v["notices"].as_array().unwrap();
    assert_eq!(held.len(), 1, "{v}");
    let id = held[0]["id"].as_str().unwrap().to_string();
    let case = shared::domain::collection::dunning::NoticeId::parse(&id)
        .unwrap()
        .case_id;
    let resolve = format!(
        "/v1/cases/{}/notices/{id}/resolve",
        public_case_id(&w.sync.account, &case)
    );

    let (s, v) = api.post(&resolve, r#"{"resolution": "maybe"}"#).await;
    assert_eq!(s, 400, "{v}");
    assert_eq!(v["error"]["field"], "resolution");
    let (s, v) = api
        .post(
            &resolve,
            r#"{"resolution": "sent", "note": "SES log shows it"}"#,
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["notices"][0]["status"], "sent");
    let (s, v) = api.post(&resolve, r#"{"resolution": "release"}"#).await;
    assert_eq!(s, 409, "{v}");
    assert_eq!(v["error"]["code"], "invalid_transition");
    let (s, _) = api
        .call_as(
            "POST",
            &resolve,
            "org_other",
            Some(r#"{"resolution": "sent"}"#),
        )
        .await;
    assert_eq!(s, 404);

    // The next run records its effects and mails nothing.
    w.set_now(at(MORNING) + Duration::days(1));
    run_today(&w).await;
    assert_eq!(w.mails().await.len(), mails);
    assert!(
        api.get(&api.account_path("/dunning/uncertain")).await.1["notices"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}
