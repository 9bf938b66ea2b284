//! The Tripletex client end to end against the Tripletex sandbox (demo fixture).

use chrono::{Duration as ChronoDuration, Utc};
use secrecy::SecretString;
use shared::adapters::tripletex::{
    Acting, EmployeeKey, ProbeEndpoint, RetryPolicy, TripletexClient, TripletexError,
};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tripletex_sandbox::{
    FaultKind, FaultRule, Faults, Fixture, RateLimit, SandboxHandle, DEMO_ACCOUNTANT_KEY,
    DEMO_API_OFF_CLIENT_ID, DEMO_COMPANY_KEY, DEMO_CONSUMER_TOKEN, DEMO_DELETED_KEY,
    DEMO_FULL_CLIENT_ID, DEMO_OFFICE_ID, DEMO_RESTRICTED_CLIENT_ID, DEMO_SOLBERG_ID,
    DEMO_UNLINKED_ID,
};

fn sandbox(faults: Faults) -> SandboxHandle {
    tripletex_sandbox::start_in_thread(Fixture::demo(), faults).expect("sandbox starts")
}

fn client(sb: &SandboxHandle) -> TripletexClient {
    TripletexClient::new(&sb.base_url, SecretString::from(DEMO_CONSUMER_TOKEN))
        .with_retry_policy(RetryPolicy::fast_for_tests())
}

fn key(id: &str, token: &str) -> EmployeeKey {
    EmployeeKey::new(id, SecretString::from(token))
}

fn accountant() -> EmployeeKey {
    key("key-accountant", DEMO_ACCOUNTANT_KEY)
}

fn ordinary() -> EmployeeKey {
    key("key-solberg", DEMO_COMPANY_KEY)
}

fn code(e: &TripletexError) -> Option<i64> {
    e.api_error().and_then(|a| a.code)
}

#[tokio::test]
async fn session_is_created_once_and_reused_across_calls() {
    let sb = sandbox(Faults::none());
    let c = client(&sb);
    let k = accountant();
    let me = c.who_am_i(&k, Acting::OwnCompany).await.unwrap();
    assert_eq!(me.company_id, DEMO_OFFICE_ID);
    assert_eq!(me.company_name.as_deref(), Some("Regnskap Nord AS"));
    assert_eq!(me.company_org_number.as_deref(), Some("923456783"));
    assert_eq!(me.employee_is_proxy, Some(false));
    c.who_am_i(&k, Acting::OwnCompany).await.unwrap();
    c.clients_with_login_access(&k).await.unwrap();
    c.who_am_i(&k, Acting::Client(DEMO_FULL_CLIENT_ID))
        .await
        .unwrap();
    assert_eq!(sb.stats().session_creates, 1);
    // A clone shares the cache.
    c.clone().who_am_i(&k, Acting::OwnCompany).await.unwrap();
    assert_eq!(sb.stats().session_creates, 1);
    // Another key gets its own session.
    c.who_am_i(&ordinary(), Acting::OwnCompany).await.unwrap();
    assert_eq!(sb.stats().session_creates, 2);
    // The requested expirationDate is in the future (today + 7 in Oslo).
    let exp = c.cached_session_expiration(&k).await.unwrap();
    assert!(exp > Utc::now().date_naive());
}

#[tokio::test]
async fn concurrent_first_calls_create_one_session() {
    let sb = sandbox(Faults {
        latency_ms: 20,
        ..Faults::none()
    });
    let c = client(&sb);
    let k = accountant();
    let calls = (0..8).map(|_| c.who_am_i(&k, Acting::OwnCompany));
    for r in futures::future::join_all(calls).await {
        r.unwrap();
    }
    assert_eq!(sb.stats().session_creates, 1);
}

#[tokio::test]
async fn a_rotated_token_under_the_same_cache_id_gets_a_new_session() {
    let sb = sandbox(Faults::none());
    let c = client(&sb);
    c.who_am_i(&key("same-id", DEMO_ACCOUNTANT_KEY), Acting::OwnCompany)
        .await
        .unwrap();
    let me = c
        .who_am_i(&key("same-id", DEMO_COMPANY_KEY), Acting::OwnCompany)
        .await
        .unwrap();
    assert_eq!(me.company_id, DEMO_SOLBERG_ID);
    assert_eq!(sb.stats().session_creates, 2);
}

#[tokio::test]
async fn session_is_renewed_before_it_expires() {
    let sb = sandbox(Faults::none());
    let now = Arc::new(Mutex::new(Utc::now()));
    let clock_now = now.clone();
    let c = client(&sb).with_clock(Arc::new(move || *clock_now.lock().unwrap()));
    let k = accountant();
    c.who_am_i(&k, Acting::OwnCompany).await.unwrap();
    let first = c.cached_session_expiration(&k).await.unwrap();
    // Eight days later (both clocks): the cached session has expired; the client must notice by
    // itself (no 401 round trip) and create a new one.
    *now.lock().unwrap() += ChronoDuration::days(8);
    sb.advance_clock(8 * 24 * 3600);
    c.who_am_i(&k, Acting::OwnCompany).await.unwrap();
    let stats = sb.stats();
    assert_eq!(stats.session_creates, 2);
    assert_eq!(stats.responses_by_status.get(&401), None, "{stats:?}");
    assert!(c.cached_session_expiration(&k).await.unwrap() > first);
    // Within the validity (6 days on) nothing is renewed.
    *now.lock().unwrap() += ChronoDuration::days(6);
    sb.advance_clock(6 * 24 * 3600);
    c.who_am_i(&k, Acting::OwnCompany).await.unwrap();
    assert_eq!(sb.stats().session_creates, 2);
}

#[tokio::test]
async fn a_401_recreates_the_session_once_and_retries() {
    let sb = sandbox(Faults::none());
    let c = client(&sb);
    let k = accountant();
    c.who_am_i(&k, Acting::OwnCompany).await.unwrap();
    assert_eq!(sb.revoke_sessions(), 1);
    let me = c.who_am_i(&k, Acting::OwnCompany).await.unwrap();
    assert_eq!(me.company_id, DEMO_OFFICE_ID);
    let stats = sb.stats();
    assert_eq!(stats.session_creates, 2);
    assert_eq!(stats.responses_by_status.get(&401), Some(&1));
    assert_eq!(stats.requests_matching(">whoAmI"), 3);
}

#[tokio::test]
async fn a_second_401_is_returned_not_retried_forever() {
    let sb = sandbox(Faults::none());
    let c = client(&sb);
    let k = accountant();
    c.who_am_i(&k, Acting::OwnCompany).await.unwrap();
    sb.reset_stats();
    sb.set_faults(
        Faults::none().with_rule(FaultRule::new(FaultKind::Unauthorized).on_path("whoAmI")),
    );
    let err = c.who_am_i(&k, Acting::OwnCompany).await.unwrap_err();
    assert!(matches!(err, TripletexError::Unauthorized(_)), "{err:?}");
    assert_eq!(code(&err), Some(3000));
    let stats = sb.stats();
    assert_eq!(stats.requests_matching(">whoAmI"), 2);
    assert_eq!(stats.session_creates, 1);
}

#[tokio::test]
async fn a_key_deleted_after_setup_ends_as_unauthorized() {
    let sb = sandbox(Faults::none());
    let c = client(&sb);
    let k = ordinary();
    c.who_am_i(&k, Acting::OwnCompany).await.unwrap();
    assert!(sb.set_key_deleted(DEMO_COMPANY_KEY, true));
    let err = c.who_am_i(&k, Acting::OwnCompany).await.unwrap_err();
    assert!(matches!(err, TripletexError::Unauthorized(_)), "{err:?}");
    // 401 on the request, then one re-creation attempt refused with 422 → Unauthorized.
    assert_eq!(sb.stats().requests_matching(":create"), 2);
}

#[tokio::test]
async fn deleted_key_and_unknown_consumer_are_unauthorized() {
    let sb = sandbox(Faults::none());
    let c = client(&sb);
    let err = c
        .who_am_i(&key("deleted", DEMO_DELETED_KEY), Acting::OwnCompany)
        .await
        .unwrap_err();
    let TripletexError::Unauthorized(api) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(api.status, 422);
    assert_eq!(api.code, Some(18000));
    assert_eq!(
        api.validation_messages[0].field.as_deref(),
        Some("arg:employeeToken")
    );
    assert!(api.request_id.is_some());

    let wrong_consumer =
        TripletexClient::new(&sb.base_url, SecretString::from("not-our-consumer-token"))
            .with_retry_policy(RetryPolicy::fast_for_tests());
    let err = wrong_consumer
        .who_am_i(&accountant(), Acting::OwnCompany)
        .await
        .unwrap_err();
    assert!(matches!(err, TripletexError::Unauthorized(_)), "{err:?}");
    assert_eq!(sb.stats().session_creates, 0);
}

#[tokio::test]
async fn accountant_key_lists_its_clients_across_pages() {
    let sb = sandbox(Faults::none());
    let c = client(&sb).with_page_size(2);
    let clients = c.clients_with_login_access(&accountant()).await.unwrap();
    let ids: Vec<i64> = clients.iter().map(|c| c.id).collect();
    assert_eq!(
        ids,
        vec![
            DEMO_FULL_CLIENT_ID,
            DEMO_RESTRICTED_CLIENT_ID,
            DEMO_API_OFF_CLIENT_ID
        ]
    );
    assert_eq!(clients[0].name, "Fjordkraft Rørlegger AS");
    assert_eq!(clients[0].organization_number.as_deref(), Some("934567897"));
    // 2 + 1 (short page): two requests.
    assert_eq!(sb.stats().requests_matching(">withLoginAccess"), 2);
    // An ordinary key has no clients.
    assert!(c
        .clients_with_login_access(&ordinary())
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn acting_as_a_linked_client_and_refused_otherwise() {
    let sb = sandbox(Faults::none());
    let c = client(&sb);
    let k = accountant();
    let me = c
        .who_am_i(&k, Acting::Client(DEMO_FULL_CLIENT_ID))
        .await
        .unwrap();
    assert_eq!(me.company_id, DEMO_FULL_CLIENT_ID);
    assert_eq!(me.company_name.as_deref(), Some("Fjordkraft Rørlegger AS"));
    assert_eq!(me.employee_is_proxy, Some(true));
    let company = c
        .company(&k, Acting::Client(DEMO_FULL_CLIENT_ID), DEMO_FULL_CLIENT_ID)
        .await
        .unwrap();
    assert_eq!(company.organization_number.as_deref(), Some("934567897"));
    assert_eq!(company.company_type.as_deref(), Some("AS"));

    // Not linked to the key.
    let err = c
        .who_am_i(&k, Acting::Client(DEMO_UNLINKED_ID))
        .await
        .unwrap_err();
    assert!(matches!(err, TripletexError::Forbidden(_)), "{err:?}");
    assert_eq!(code(&err), Some(9000));
    // Linked, but the client has API access switched off.
    let err = c
        .who_am_i(&k, Acting::Client(DEMO_API_OFF_CLIENT_ID))
        .await
        .unwrap_err();
    assert!(matches!(err, TripletexError::Forbidden(_)), "{err:?}");
    // An ordinary key cannot act for another company.
    let err = c
        .who_am_i(&ordinary(), Acting::Client(DEMO_FULL_CLIENT_ID))
        .await
        .unwrap_err();
    assert!(matches!(err, TripletexError::Forbidden(_)), "{err:?}");
    // Accountant key with user 0: only >whoAmI and >withLoginAccess.
    let err = c
        .company(&k, Acting::OwnCompany, DEMO_OFFICE_ID)
        .await
        .unwrap_err();
    assert!(matches!(err, TripletexError::Forbidden(_)), "{err:?}");
    // None of these refusals re-created a session (one per key: accountant and ordinary).
    assert_eq!(sb.stats().session_creates, 2);
}

#[tokio::test]
async fn probe_access_reports_refused_endpoints() {
    let sb = sandbox(Faults::none());
    let c = client(&sb);
    let k = accountant();
    let full = c
        .probe_access(&k, Acting::Client(DEMO_FULL_CLIENT_ID))
        .await
        .unwrap();
    assert!(full.is_complete(), "{full:?}");
    assert_eq!(full.allowed.len(), 5);
    let restricted = c
        .probe_access(&k, Acting::Client(DEMO_RESTRICTED_CLIENT_ID))
        .await
        .unwrap();
    assert_eq!(restricted.refused, vec![ProbeEndpoint::Vouchers]);
    let own = c
        .probe_access(&ordinary(), Acting::OwnCompany)
        .await
        .unwrap();
    assert!(own.is_complete());
    // Probes ask for one value with minimal fields.
    let stats = sb.stats();
    assert_eq!(stats.requests_matching("GET /v2/ledger/voucher"), 3);
    // Other failures are errors, not "refused".
    sb.set_faults(
        Faults::none()
            .with_rule(FaultRule::new(FaultKind::ServerError { status: 500 }).on_path("/invoice")),
    );
    let err = c
        .probe_access(&k, Acting::Client(DEMO_FULL_CLIENT_ID))
        .await
        .unwrap_err();
    assert!(matches!(err, TripletexError::Server(_)), "{err:?}");
}

#[tokio::test]
async fn rate_limit_429_with_reset_header_waits_for_the_reset() {
    let sb = sandbox(
        Faults::none().with_rule(
            FaultRule::new(FaultKind::RateLimit {
                with_reset: true,
                reset_seconds: 1,
            })
            .times(1)
            .on_path("whoAmI"),
        ),
    );
    let policy = RetryPolicy {
        max_delay: Duration::from_secs(3),
        ..RetryPolicy::fast_for_tests()
    };
    let c = client(&sb).with_retry_policy(policy);
    let k = accountant();
    let t = Instant::now();
    c.who_am_i(&k, Acting::OwnCompany).await.unwrap();
    let waited = t.elapsed();
    assert!(waited >= Duration::from_millis(900), "{waited:?}");
    assert_eq!(sb.stats().responses_by_status.get(&429), Some(&1));
}

#[tokio::test]
async fn rate_limit_429_without_reset_uses_the_last_seen_reset() {
    // A 2-second window: successful responses say X-Rate-Limit-Reset: 2.
    let sb = sandbox(Faults {
        rate_limit: RateLimit {
            limit: 1000,
            window_seconds: 2,
        },
        ..Faults::none()
    });
    let policy = RetryPolicy {
        max_delay: Duration::from_secs(3),
        ..RetryPolicy::fast_for_tests()
    };
    let c = client(&sb).with_retry_policy(policy);
    let k = accountant();
    c.who_am_i(&k, Acting::OwnCompany).await.unwrap();
    sb.set_faults(Faults {
        rate_limit: RateLimit {
            limit: 1000,
            window_seconds: 2,
        },
        ..Faults::none().with_rule(
            FaultRule::new(FaultKind::RateLimit {
                with_reset: false,
                reset_seconds: 0,
            })
            .times(1),
        )
    });
    let t = Instant::now();
    c.who_am_i(&k, Acting::OwnCompany).await.unwrap();
    let waited = t.elapsed();
    assert!(waited >= Duration::from_millis(1000), "{waited:?}");
    assert!(waited < Duration::from_millis(2900), "{waited:?}");
}

#[tokio::test]
async fn rate_limit_429_without_any_reset_backs_off_exponentially() {
    // The very first request (session creation) is rate limited twice: nothing known yet.
    let sb = sandbox(
        Faults::none().with_rule(
            FaultRule::new(FaultKind::RateLimit {
                with_reset: false,
                reset_seconds: 0,
            })
            .times(2),
        ),
    );
    let c = client(&sb);
    let t = Instant::now();
    c.who_am_i(&accountant(), Acting::OwnCompany).await.unwrap();
    // fast_for_tests: 5 ms + 10 ms of backoff.
    assert!(
        t.elapsed() < Duration::from_millis(800),
        "{:?}",
        t.elapsed()
    );
    assert_eq!(sb.stats().responses_by_status.get(&429), Some(&2));
}

#[tokio::test]
async fn rate_limit_gives_up_within_bounds() {
    let sb = sandbox(Faults::none());
    let c = client(&sb);
    let k = accountant();
    c.who_am_i(&k, Acting::OwnCompany).await.unwrap();
    sb.set_faults(
        Faults::none().with_rule(FaultRule::new(FaultKind::RateLimit {
            with_reset: false,
            reset_seconds: 0,
        })),
    );
    let t = Instant::now();
    let err = c.who_am_i(&k, Acting::OwnCompany).await.unwrap_err();
    assert_eq!(err, TripletexError::RateLimited { attempts: 4 });
    assert!(t.elapsed() < Duration::from_secs(3));
    // Bounded total wait: a tiny budget stops before the attempts run out.
    let stingy = client(&sb).with_retry_policy(RetryPolicy {
        max_attempts: 50,
        max_total_wait: Duration::from_millis(30),
        ..RetryPolicy::fast_for_tests()
    });
    let t = Instant::now();
    let err = stingy.who_am_i(&k, Acting::OwnCompany).await.unwrap_err();
    assert!(
        matches!(err, TripletexError::RateLimited { attempts } if attempts < 50),
        "{err:?}"
    );
    assert!(t.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn server_errors_are_retried_then_reported() {
    let sb = sandbox(
        Faults::none().with_rule(
            FaultRule::new(FaultKind::ServerError { status: 503 })
                .times(2)
                .on_path("whoAmI"),
        ),
    );
    let c = client(&sb);
    let k = accountant();
    c.who_am_i(&k, Acting::OwnCompany).await.unwrap();
    assert_eq!(sb.stats().requests_matching(">whoAmI"), 3);
    sb.set_faults(
        Faults::none()
            .with_rule(FaultRule::new(FaultKind::ServerError { status: 502 }).on_path("whoAmI")),
    );
    let err = c.who_am_i(&k, Acting::OwnCompany).await.unwrap_err();
    let TripletexError::Server(api) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(api.status, 502);
    assert_eq!(api.code, Some(1000));
    assert!(err.is_transient());
}

#[tokio::test]
async fn truncated_bodies_are_decode_errors() {
    let sb = sandbox(
        Faults::none().with_rule(
            FaultRule::new(FaultKind::Truncate)
                .times(1)
                .on_path("/customer"),
        ),
    );
    let c = client(&sb);
    let k = accountant();
    let err = c
        .list::<serde_json::Value>(
            &k,
            Acting::Client(DEMO_FULL_CLIENT_ID),
            "/customer",
            &[],
            "id",
        )
        .await
        .unwrap_err();
    assert!(matches!(err, TripletexError::Decode(_)), "{err:?}");
    // A truncated session response is a Decode error too, and does not quote the body.
    sb.set_faults(
        Faults::none().with_rule(
            FaultRule::new(FaultKind::Truncate)
                .times(1)
                .on_path(":create"),
        ),
    );
    let err = c
        .who_am_i(&ordinary(), Acting::OwnCompany)
        .await
        .unwrap_err();
    let TripletexError::Decode(text) = &err else {
        panic!("{err:?}")
    };
    assert!(!text.contains("eyJ"), "{text}");
}

#[tokio::test]
async fn pages_until_a_short_page_even_when_full_result_size_lies() {
    let sb = sandbox(Faults {
        lie_full_result_size: true,
        ..Faults::none()
    });
    let c = client(&sb).with_page_size(3);
    let k = accountant();
    let values: Vec<serde_json::Value> = c
        .list(
            &k,
            Acting::Client(DEMO_FULL_CLIENT_ID),
            "/customer",
            &[],
            "id,name",
        )
        .await
        .unwrap();
    let ids: Vec<i64> = values.iter().map(|v| v["id"].as_i64().unwrap()).collect();
    // The four active customers (isInactive defaults to false), over a full and a short page.
    assert_eq!(ids, vec![40001, 40002, 40003, 40005]);
    assert_eq!(sb.stats().requests_matching("GET /v2/customer"), 2);
    // Exactly a multiple of the page size: the empty page ends it.
    let c4 = client(&sb).with_page_size(2);
    sb.reset_stats();
    let all: Vec<serde_json::Value> = c4
        .list(
            &k,
            Acting::Client(DEMO_FULL_CLIENT_ID),
            "/customer",
            &[],
            "id",
        )
        .await
        .unwrap();
    assert_eq!(all.len(), 4);
    assert_eq!(sb.stats().requests_matching("GET /v2/customer"), 3);
    // Caller's query parameters pass through (and from/count/fields in them are ignored).
    let inactive: Vec<serde_json::Value> = c
        .list(
            &k,
            Acting::Client(DEMO_FULL_CLIENT_ID),
            "/customer",
            &[
                ("isInactive", "true".to_string()),
                ("count", "1".to_string()),
            ],
            "id",
        )
        .await
        .unwrap();
    assert_eq!(inactive, vec![serde_json::json!({"id": 40004})]);
}

#[tokio::test]
async fn fields_are_passed_through_and_illegal_fields_are_api_errors() {
    let sb = sandbox(Faults::none());
    let c = client(&sb);
    let k = accountant();
    let values: Vec<serde_json::Value> = c
        .list(
            &k,
            Acting::Client(DEMO_FULL_CLIENT_ID),
            "/invoice",
            &[
                ("invoiceDateFrom", "2026-01-01".into()),
                ("invoiceDateTo", "2027-01-01".into()),
            ],
            "id,invoiceNumber,customer(id,name)",
        )
        .await
        .unwrap();
    assert_eq!(values.len(), 2);
    let mut keys: Vec<&String> = values[0].as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(keys, vec!["customer", "id", "invoiceNumber"]);
    // The reference is expanded with the selected sub-fields, as Tripletex does.
    assert_eq!(
        values[0]["customer"],
        serde_json::json!({"id": 40001, "name": "Vestland Bygg AS"})
    );
    let err = c
        .list::<serde_json::Value>(
            &k,
            Acting::Client(DEMO_FULL_CLIENT_ID),
            "/customer",
            &[],
            "id,noSuchField",
        )
        .await
        .unwrap_err();
    let TripletexError::Api(api) = &err else {
        panic!("{err:?}")
    };
    assert_eq!((api.status, api.code), (400, Some(11000)));
}

#[tokio::test]
async fn pager_streams_pages_and_for_each_page_can_stop() {
    let sb = sandbox(Faults::none());
    let c = client(&sb);
    let k = accountant();
    let q = [
        ("dateFrom", "2026-01-01".to_string()),
        ("dateTo", "2027-01-01".to_string()),
    ];
    let mut pager = c
        .pager::<serde_json::Value>(
            &k,
            Acting::Client(DEMO_FULL_CLIENT_ID),
            "/ledger/posting",
            &q,
            "id,amount",
        )
        .page_size(4);
    let mut sizes = Vec::new();
    while let Some(page) = pager.next_page().await.unwrap() {
        sizes.push(page.len());
    }
    assert_eq!(sizes, vec![4, 2]);
    let seen = c
        .with_page_size(1)
        .for_each_page::<serde_json::Value, _>(
            &k,
            Acting::Client(DEMO_FULL_CLIENT_ID),
            "/ledger/posting",
            &q,
            "id",
            |_page| std::ops::ControlFlow::Break(()),
        )
        .await
        .unwrap();
    assert_eq!(seen, 1);
}

#[tokio::test]
async fn no_token_appears_in_any_error() {
    let sb = sandbox(Faults::none());
    let c = client(&sb);
    let k = accountant();
    let mut errors: Vec<TripletexError> = Vec::new();
    c.who_am_i(&k, Acting::OwnCompany).await.unwrap();
    errors.push(
        c.who_am_i(&k, Acting::Client(DEMO_UNLINKED_ID))
            .await
            .unwrap_err(),
    );
    errors.push(
        c.company(&k, Acting::OwnCompany, DEMO_OFFICE_ID)
            .await
            .unwrap_err(),
    );
    errors.push(
        c.list::<serde_json::Value>(
            &k,
            Acting::Client(DEMO_FULL_CLIENT_ID),
            "/customer",
            &[],
            "bad",
        )
        .await
        .unwrap_err(),
    );
    errors.push(
        c.who_am_i(&key("d", DEMO_DELETED_KEY), Acting::OwnCompany)
            .await
            .unwrap_err(),
    );
    sb.set_faults(
        Faults::none().with_rule(FaultRule::new(FaultKind::Unauthorized).on_path("whoAmI")),
    );
    errors.push(c.who_am_i(&k, Acting::OwnCompany).await.unwrap_err());
    sb.set_faults(Faults::none().with_rule(FaultRule::new(FaultKind::ServerError { status: 500 })));
    errors.push(c.who_am_i(&k, Acting::OwnCompany).await.unwrap_err());
    sb.set_faults(
        Faults::none().with_rule(FaultRule::new(FaultKind::RateLimit {
            with_reset: false,
            reset_seconds: 0,
        })),
    );
    errors.push(c.who_am_i(&k, Acting::OwnCompany).await.unwrap_err());
    sb.set_faults(Faults::none().with_rule(FaultRule::new(FaultKind::Truncate)));
    errors.push(c.who_am_i(&k, Acting::OwnCompany).await.unwrap_err());
    sb.set_faults(Faults::none());
    // Transport: nothing listens there.
    let dead = TripletexClient::new(
        "http://127.0.0.1:9/v2",
        SecretString::from(DEMO_CONSUMER_TOKEN),
    )
    .with_retry_policy(RetryPolicy::fast_for_tests());
    errors.push(dead.who_am_i(&k, Acting::OwnCompany).await.unwrap_err());

    let mut secrets: Vec<String> = sb.session_tokens();
    assert!(!secrets.is_empty());
    secrets.extend(
        [
            DEMO_CONSUMER_TOKEN,
            DEMO_ACCOUNTANT_KEY,
            DEMO_DELETED_KEY,
            DEMO_COMPANY_KEY,
        ]
        .map(String::from),
    );
    let kinds: std::collections::BTreeSet<String> = errors
        .iter()
        .map(|e| {
            format!("{e:?}")
                .split(['(', ' ', '{'])
                .next()
                .unwrap_or("")
                .to_string()
        })
        .collect();
    assert!(kinds.len() >= 7, "{kinds:?}");
    for e in &errors {
        let shown = format!("{e} | {e:?}");
        for s in &secrets {
            assert!(!shown.contains(s.as_str()), "{shown}");
        }
        // No Basic-auth value (base64 of "user:session") either.
        assert!(!shown.contains("Basic "), "{shown}");
    }
    let dbg = format!("{c:?} {k:?}");
    for s in &secrets {
        assert!(!dbg.contains(s.as_str()), "{dbg}");
    }
}

#[tokio::test]
async fn pages_a_large_collection_with_the_default_page_size() {
    let mut fixture = Fixture::demo();
    let company = fixture
        .companies
        .iter_mut()
        .find(|c| c.id == DEMO_FULL_CLIENT_ID)
        .unwrap();
    let customers: Vec<serde_json::Value> = (0..5500)
        .map(|i| {
            serde_json::json!({"id": 100_000 + i, "name": format!("Kunde {i}"), "customerNumber": 20_000 + i,
                               "organizationNumber": "", "isInactive": false, "email": format!("k{i}@example.no")})
        })
        .collect();
    company.collections.insert("customers".into(), customers);
    let sb = tripletex_sandbox::start_in_thread(fixture, Faults::none()).unwrap();
    let c = client(&sb);
    let k = accountant();
    let t = Instant::now();
    let values: Vec<serde_json::Value> = c
        .list(
            &k,
            Acting::Client(DEMO_FULL_CLIENT_ID),
            "/customer",
            &[],
            "id,name,customerNumber,email",
        )
        .await
        .unwrap();
    let elapsed = t.elapsed();
    assert_eq!(values.len(), 5500);
    let ids: std::collections::BTreeSet<i64> =
        values.iter().map(|v| v["id"].as_i64().unwrap()).collect();
    assert_eq!(ids.len(), 5500, "no duplicates, nothing skipped");
    // 5 full pages of 1000 and a short one of 500.
    assert_eq!(sb.stats().requests_matching("GET /v2/customer"), 6);
    eprintln!("listed 5500 customers in 6 pages in {elapsed:?}");
}
