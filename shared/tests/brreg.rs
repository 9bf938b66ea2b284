//! Enhetsregisteret client and cache against an in-process stand-in (plain tokio HTTP/1.1), and the
//! DynamoDB cache against moto (moto and the table come from the `test-support` crate).

use std::collections::{HashMap, VecDeque};
use std::net::TcpListener as StdListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use serde_json::{json, Value};
use shared::adapters::brreg::{
    BrregCache, BrregClient, BrregError, CachedBrreg, CachedLookup, DynamoBrregCache,
    MemoryBrregCache, ACCEPT,
};
use shared::adapters::store::keys;
use shared::adapters::tripletex::RetryPolicy;
use shared::domain::ledger::registry::{AddressSource, RegistryLookup, StopReason};
use shared::domain::OrgNumber;
use test_support::{moto, Stack};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

// ---------------------------------------------------------------------------------------------
// The stand-in register

/// One scripted answer: status and body (`None` = no body).
type Answer = (u16, Option<String>);

#[derive(Default)]
struct Script {
    /// Per path: answers in order; the last one repeats.
    answers: HashMap<String, VecDeque<Answer>>,
    /// Every request: (path, accept header).
    seen: Vec<(String, String)>,
}

#[derive(Clone)]
struct StandIn {
    base: String,
    script: Arc<Mutex<Script>>,
}

impl StandIn {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let script = Arc::new(Mutex::new(Script::default()));
        let s2 = script.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut sock, _)) = listener.accept().await else {
                    return;
                };
                let script = s2.clone();
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                        match sock.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    let head = String::from_utf8_lossy(&buf).to_string();
                    let path = head
                        .lines()
                        .next()
                        .and_then(|l| l.split_whitespace().nth(1))
                        .unwrap_or("")
                        .to_string();
                    let accept = head
                        .lines()
                        .find_map(|l| {
                            let (k, v) = l.split_once(':')?;
                            k.eq_ignore_ascii_case("accept")
                                .then(|| v.trim().to_string())
                        })
                        .unwrap_or_default();
                    let (status, body) = {
                        let mut sc = script.lock().unwrap();
                        sc.seen.push((path.clone(), accept));
                        match sc.answers.get_mut(&path) {
                            Some(q) if q.len() > 1 => q.pop_front().unwrap(),
                            Some(q) if q.len() == 1 => q[0].clone(),
                            _ => (
                                404,
                                Some(r#"{"status":404,"error":"Not Found"}"#.to_string()),
                            ),
                        }
                    };
                    let body = body.unwrap_or_default();
                    let reason = match status {
                        200 => "OK",
                        404 => "Not Found",
                        410 => "Gone",
                        500 => "Internal Server Error",
                        _ => "Other",
                    };
                    let resp = format!(
                        "HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = sock.write_all(resp.as_bytes()).await;
                    let _ = sock.shutdown().await;
                });
            }
        });
        Self {
            base: format!("http://127.0.0.1:{port}/enhetsregisteret/api"),
            script,
        }
    }

    fn path(org: &str) -> String {
        format!("/enhetsregisteret/api/enheter/{org}")
    }

    fn answer(&self, org: &str, answers: Vec<Answer>) {
        self.script
            .lock()
            .unwrap()
            .answers
            .insert(Self::path(org), answers.into());
    }

    fn requests_for(&self, org: &str) -> usize {
        let p = Self::path(org);
        self.script
            .lock()
            .unwrap()
            .seen
            .iter()
            .filter(|(x, _)| *x == p)
            .count()
    }

    fn accepts(&self) -> Vec<String> {
        self.script
            .lock()
            .unwrap()
            .seen
            .iter()
            .map(|(_, a)| a.clone())
            .collect()
    }

    fn client(&self) -> BrregClient {
        BrregClient::new(&self.base).with_retry(fast())
    }
}

fn fast() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 3,
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(20),
        max_total_wait: Duration::from_secs(1),
        request_timeout: Duration::from_secs(5),
    }
}

fn org(s: &str) -> OrgNumber {
    OrgNumber::parse(s).unwrap()
}

fn ok(body: Value) -> Answer {
    (200, Some(body.to_string()))
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

/// A full entity as the API shapes it (v2), bankrupt and under liquidation.
fn bankrupt_body() -> Value {
    json!({
        "organisasjonsnummer": "923609016",
        "navn": "KONKURS OG SØNN AS",
        "organisasjonsform": {"kode": "AS", "beskrivelse": "Aksjeselskap"},
        "registreringsdatoEnhetsregisteret": "2019-10-01",
        "registrertIMvaregisteret": true,
        "naeringskode1": {"kode": "62.010", "beskrivelse": "Programmeringstjenester"},
        "antallAnsatte": 3,
        "harRegistrertAntallAnsatte": true,
        "forretningsadresse": {
            "land": "Norge", "landkode": "NO", "postnummer": "0150", "poststed": "OSLO",
            "adresse": ["Storgata 1"], "kommune": "OSLO", "kommunenummer": "0301"
        },
        "postadresse": {
            "land": "Norge", "landkode": "NO", "postnummer": "0101", "poststed": "OSLO",
            "adresse": ["Postboks 12", "Sentrum"], "kommune": "OSLO", "kommunenummer": "0301"
        },
        "konkurs": true,
        "konkursdato": "2026-03-04",
        "underAvvikling": true,
        "underAvviklingDato": "2026-02-01",
        "underTvangsavviklingEllerTvangsopplosning": false,
        "maalform": "Bokmål",
        "_links": {"self": {"href": "https://data.brreg.no/enhetsregisteret/api/enheter/923609016"}}
    })
}

fn healthy_body(orgnr: &str) -> Value {
    json!({
        "organisasjonsnummer": orgnr,
        "navn": "FRISK FIRMA AS",
        "organisasjonsform": {"kode": "AS", "beskrivelse": "Aksjeselskap"},
        "forretningsadresse": {
            "land": "Sverige", "landkode": "SE", "poststed": "STOCKHOLM",
            "adresse": ["Drottninggatan 5", ""]
        },
        "konkurs": false,
        "underAvvikling": false,
        "underTvangsavviklingEllerTvangsopplosning": false
    })
}

// ---------------------------------------------------------------------------------------------
// Client

#[tokio::test]
async fn a_found_entity_is_read_with_flags_dates_and_the_postal_address() {
    let sv = StandIn::start().await;
    sv.answer("923609016", vec![ok(bankrupt_body())]);
    let e = sv
        .client()
        .entity(&org("923609016"))
        .await
        .unwrap()
        .expect("found");
    assert_eq!(e.org_number, org("923609016"));
    assert!(!e.removed_from_register);
    assert_eq!(e.status.name.as_deref(), Some("KONKURS OG SØNN AS"));
    assert!(e.status.bankrupt);
    assert_eq!(e.status.bankrupt_since, Some(date(2026, 3, 4)));
    assert!(e.status.under_liquidation);
    assert_eq!(e.status.under_liquidation_since, Some(date(2026, 2, 1)));
    assert!(!e.status.forced_dissolution);
    assert_eq!(
        e.stop_reasons(),
        vec![StopReason::Bankrupt, StopReason::UnderLiquidation]
    );
    assert!(e.status.stop_dunning());
    assert!(!e.is_deleted());
    let post = e.postal_address().expect("an address");
    assert_eq!(post.lines, vec!["Postboks 12", "Sentrum"]);
    assert_eq!(post.postal_code.as_deref(), Some("0101"));
    assert_eq!(post.city.as_deref(), Some("OSLO"));
    assert_eq!(post.municipality.as_deref(), Some("OSLO"));
    assert_eq!(post.municipality_number.as_deref(), Some("0301"));
    assert_eq!(post.country_code.as_deref(), Some("NO"));
    assert_eq!(post.country.as_deref(), Some("Norge"));
    assert_eq!(
        e.forretningsadresse.as_ref().unwrap().lines,
        vec!["Storgata 1"]
    );
    assert_eq!(e.status.address_source, Some(AddressSource::Postadresse));
    assert_eq!(e.lookup(), RegistryLookup::Found(bankrupt_body()));
    // The pinned API version is asked for.
    assert_eq!(sv.accepts(), vec![ACCEPT.to_string()]);
    assert!(ACCEPT.starts_with("application/vnd.brreg.enhetsregisteret.enhet.v2+json"));
}

#[tokio::test]
async fn without_a_postadresse_the_forretningsadresse_is_the_postal_address() {
    let sv = StandIn::start().await;
    sv.answer("974760673", vec![ok(healthy_body("974760673"))]);
    let e = sv
        .client()
        .entity(&org("974760673"))
        .await
        .unwrap()
        .unwrap();
    assert!(e.stop_reasons().is_empty());
    assert!(!e.status.stop_dunning());
    assert!(e.postadresse.is_none());
    let a = e.postal_address().unwrap();
    assert_eq!(a.country_code.as_deref(), Some("SE"));
    assert_eq!(a.postal_code, None);
    assert_eq!(a.municipality, None);
    assert_eq!(
        e.status.address_source,
        Some(AddressSource::Forretningsadresse)
    );
}

#[tokio::test]
async fn a_deleted_entity_answering_200_with_a_reduced_body_stops_dunning() {
    let sv = StandIn::start().await;
    sv.answer(
        "984851006",
        vec![ok(json!({
            "organisasjonsnummer": "984851006",
            "navn": "BORTE AS",
            "respons_klasse": "SlettetEnhet",
            "slettedato": "2025-11-30",
            "organisasjonsform": {"kode": "AS"}
        }))],
    );
    let e = sv
        .client()
        .entity(&org("984851006"))
        .await
        .unwrap()
        .unwrap();
    assert!(e.is_deleted());
    assert!(!e.removed_from_register);
    assert_eq!(e.status.deleted_on, Some(date(2025, 11, 30)));
    assert_eq!(e.stop_reasons(), vec![StopReason::Deleted]);
}

#[tokio::test]
async fn gone_410_is_an_entity_removed_from_the_register() {
    let sv = StandIn::start().await;
    sv.answer(
        "971526920",
        vec![(
            410,
            Some(
                json!({"organisasjonsnummer": "971526920", "slettedato": "2024-06-01"}).to_string(),
            ),
        )],
    );
    sv.answer("889640782", vec![(410, None)]);
    let client = sv.client();
    let e = client.entity(&org("971526920")).await.unwrap().unwrap();
    assert!(e.removed_from_register);
    assert!(e.is_deleted());
    assert_eq!(e.status.deleted_on, Some(date(2024, 6, 1)));
    assert_eq!(
        e.stop_reasons(),
        vec![StopReason::Deleted, StopReason::RemovedFromRegister]
    );
    assert_eq!(e.lookup(), RegistryLookup::Gone);
    assert_eq!(e.postal_address(), None);

    let bare = client.entity(&org("889640782")).await.unwrap().unwrap();
    assert!(bare.removed_from_register);
    assert_eq!(bare.stop_reasons(), vec![StopReason::RemovedFromRegister]);
    assert_eq!(bare.body, Value::Null);
    // Neither was retried.
    assert_eq!(sv.requests_for("971526920"), 1);
    assert_eq!(sv.requests_for("889640782"), 1);
}

#[tokio::test]
async fn unknown_404_is_none() {
    let sv = StandIn::start().await;
    let got = sv.client().entity(&org("974760673")).await.unwrap();
    assert_eq!(got, None);
    assert_eq!(sv.requests_for("974760673"), 1);
}

#[tokio::test]
async fn a_completed_forced_dissolution_date_stops_dunning_even_without_the_flag() {
    let sv = StandIn::start().await;
    let mut body = healthy_body("974760673");
    body["tvangsopplostPgaManglendeRevisorDato"] = json!("2023-05-06");
    body["tvangsopplostPgaManglendeDagligLederDato"] = json!("2023-01-02");
    sv.answer("974760673", vec![ok(body)]);
    let e = sv
        .client()
        .entity(&org("974760673"))
        .await
        .unwrap()
        .unwrap();
    assert!(e.status.forced_dissolution);
    assert_eq!(e.forced_dissolution_since, Some(date(2023, 1, 2)));
    assert_eq!(e.stop_reasons(), vec![StopReason::ForcedDissolution]);
}

#[tokio::test]
async fn server_errors_are_retried_then_succeed() {
    let sv = StandIn::start().await;
    sv.answer(
        "974760673",
        vec![
            (500, Some("oops".into())),
            (503, None),
            ok(healthy_body("974760673")),
        ],
    );
    let e = sv
        .client()
        .entity(&org("974760673"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(e.status.name.as_deref(), Some("FRISK FIRMA AS"));
    assert_eq!(sv.requests_for("974760673"), 3);
}

#[tokio::test]
async fn persistent_server_errors_give_up_after_the_bounded_attempts() {
    let sv = StandIn::start().await;
    sv.answer("974760673", vec![(502, Some("bad gateway".into()))]);
    let err = sv.client().entity(&org("974760673")).await.unwrap_err();
    assert_eq!(
        err,
        BrregError::Unavailable {
            status: 502,
            attempts: 3
        }
    );
    assert!(err.is_transient());
    assert_eq!(sv.requests_for("974760673"), 3);
}

#[tokio::test]
async fn other_statuses_are_typed_errors_without_retry() {
    let sv = StandIn::start().await;
    sv.answer(
        "974760673",
        vec![(
            400,
            Some(
                r#"{"status":400,"error":"Bad Request","message":"Ugyldig organisasjonsnummer"}"#
                    .into(),
            ),
        )],
    );
    let err = sv.client().entity(&org("974760673")).await.unwrap_err();
    match &err {
        BrregError::Status { status, message } => {
            assert_eq!(*status, 400);
            assert!(message.contains("Ugyldig organisasjonsnummer"), "{message}");
        }
        other => panic!("expected Status, got {other:?}"),
    }
    assert!(!err.is_transient());
    assert_eq!(sv.requests_for("974760673"), 1);
}

#[tokio::test]
async fn bodies_that_are_not_the_entity_asked_for_are_refused() {
    let sv = StandIn::start().await;
    sv.answer(
        "974760673",
        vec![(200, Some("<html>maintenance</html>".into()))],
    );
    sv.answer("923609016", vec![ok(healthy_body("974760673"))]);
    sv.answer("984851006", vec![ok(json!([1, 2]))]);
    sv.answer(
        "971526920",
        vec![ok(
            json!({"organisasjonsnummer": "971526920", "konkurs": "ja"}),
        )],
    );
    let client = sv.client();
    for n in ["974760673", "923609016", "984851006", "971526920"] {
        let err = client.entity(&org(n)).await.unwrap_err();
        assert!(
            matches!(&err, BrregError::Decode { orgnr, .. } if orgnr == n),
            "{n}: {err:?}"
        );
        assert!(!err.is_transient());
    }
}

#[tokio::test]
async fn transport_failures_are_retried_and_reported_without_the_url() {
    // A port nobody listens on.
    let port = StdListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let client = BrregClient::new(format!("http://127.0.0.1:{port}/enhetsregisteret/api"))
        .with_retry(fast());
    let err = client.entity(&org("974760673")).await.unwrap_err();
    match &err {
        BrregError::Transport { attempts, message } => {
            assert_eq!(*attempts, 3);
            assert!(!message.contains("974760673"), "{message}");
        }
        other => panic!("expected Transport, got {other:?}"),
    }
    assert!(err.is_transient());
}

// ---------------------------------------------------------------------------------------------
// Cache (in memory)

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 2, 8, 0, 0).unwrap()
}

#[tokio::test]
async fn an_answer_is_served_from_the_cache_for_a_day_then_refetched() {
    let sv = StandIn::start().await;
    sv.answer(
        "923609016",
        vec![ok(healthy_body("923609016")), ok(bankrupt_body())],
    );
    let cached = CachedBrreg::new(sv.client(), MemoryBrregCache::new());
    let n = org("923609016");

    let first = cached.entity(&n, t0()).await.unwrap();
    assert!(!first.from_cache);
    assert_eq!(first.fetched_at, t0());
    assert!(first.entity.as_ref().unwrap().stop_reasons().is_empty());

    let almost_a_day = t0() + chrono::Duration::hours(23) + chrono::Duration::minutes(59);
    let second = cached.entity(&n, almost_a_day).await.unwrap();
    assert!(second.from_cache);
    assert_eq!(second.fetched_at, t0());
    assert_eq!(second.entity, first.entity);
    assert_eq!(
        sv.requests_for("923609016"),
        1,
        "no second request within a day"
    );

    let a_day_later = t0() + chrono::Duration::days(1);
    let third = cached.entity(&n, a_day_later).await.unwrap();
    assert!(!third.from_cache);
    assert_eq!(third.fetched_at, a_day_later);
    assert_eq!(
        third.entity.unwrap().stop_reasons(),
        vec![StopReason::Bankrupt, StopReason::UnderLiquidation]
    );
    assert_eq!(sv.requests_for("923609016"), 2);
}

#[tokio::test]
async fn not_found_and_gone_are_cached_too_but_errors_are_not() {
    let sv = StandIn::start().await;
    sv.answer("889640782", vec![(410, None)]);
    sv.answer(
        "974760673",
        vec![
            (500, None),
            (500, None),
            (500, None),
            ok(healthy_body("974760673")),
        ],
    );
    let cached = CachedBrreg::new(sv.client(), MemoryBrregCache::new());
    let later = t0() + chrono::Duration::hours(2);

    // 404 (nothing scripted for this number)
    assert_eq!(
        cached.entity(&org("971526920"), t0()).await.unwrap().entity,
        None
    );
    let again = cached.entity(&org("971526920"), later).await.unwrap();
    assert!(again.from_cache);
    assert_eq!(again.entity, None);
    assert_eq!(sv.requests_for("971526920"), 1);

    // 410
    assert!(
        cached
            .entity(&org("889640782"), t0())
            .await
            .unwrap()
            .entity
            .unwrap()
            .removed_from_register
    );
    let again = cached.entity(&org("889640782"), later).await.unwrap();
    assert!(again.from_cache && again.entity.unwrap().removed_from_register);
    assert_eq!(sv.requests_for("889640782"), 1);

    // An error is not cached: the next call asks again.
    assert!(cached.entity(&org("974760673"), t0()).await.is_err());
    assert!(cached
        .cache()
        .get(&org("974760673"))
        .await
        .unwrap()
        .is_none());
    let ok = cached.entity(&org("974760673"), later).await.unwrap();
    assert!(!ok.from_cache);
    assert!(ok.entity.is_some());
    assert_eq!(sv.requests_for("974760673"), 4);
}

#[tokio::test]
async fn a_cached_answer_from_the_future_is_not_trusted() {
    let sv = StandIn::start().await;
    sv.answer("974760673", vec![ok(healthy_body("974760673"))]);
    let cached = CachedBrreg::new(sv.client(), MemoryBrregCache::new());
    cached
        .cache()
        .put(
            &org("974760673"),
            &CachedLookup {
                entity: None,
                fetched_at: t0() + chrono::Duration::hours(1),
            },
        )
        .await
        .unwrap();
    let got = cached.entity(&org("974760673"), t0()).await.unwrap();
    assert!(!got.from_cache);
    assert!(got.entity.is_some());
}

struct BrokenCache;

#[async_trait]
impl BrregCache for BrokenCache {
    async fn get(&self, _: &OrgNumber) -> Result<Option<CachedLookup>, BrregError> {
        Err(BrregError::Cache("down".into()))
    }
    async fn put(&self, _: &OrgNumber, _: &CachedLookup) -> Result<(), BrregError> {
        Err(BrregError::Cache("down".into()))
    }
}

#[tokio::test]
async fn a_failing_cache_does_not_fail_the_lookup() {
    let sv = StandIn::start().await;
    sv.answer("974760673", vec![ok(healthy_body("974760673"))]);
    let cached = CachedBrreg::new(sv.client(), BrokenCache);
    for _ in 0..2 {
        let got = cached.entity(&org("974760673"), t0()).await.unwrap();
        assert!(!got.from_cache);
        assert!(got.entity.is_some());
    }
    assert_eq!(sv.requests_for("974760673"), 2);
}

// ---------------------------------------------------------------------------------------------
// moto

/// A fresh table shaped like template.yaml's (its own stage), and a client for it.
async fn table() -> (aws_sdk_dynamodb::Client, String) {
    moto();
    let cfg = shared::adapters::aws::sdk_config().await;
    let ddb = aws_sdk_dynamodb::Client::new(&cfg);
    let name = Stack::provision(&cfg, &["Table"], None).await.table();
    (ddb, name)
}

async fn raw_item(
    ddb: &aws_sdk_dynamodb::Client,
    table: &str,
    orgnr: &str,
) -> Option<HashMap<String, AttributeValue>> {
    ddb.get_item()
        .table_name(table)
        .key(
            "PK",
            AttributeValue::S(keys::brreg_pk(&OrgNumber::parse(orgnr).unwrap())),
        )
        .key("SK", AttributeValue::S(keys::BRREG_SK.into()))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
}

fn attr_s(item: &HashMap<String, AttributeValue>, k: &str) -> String {
    match item.get(k) {
        Some(AttributeValue::S(s)) => s.clone(),
        other => panic!("{k}: {other:?}"),
    }
}

#[tokio::test]
async fn dynamodb_cache_round_trips_found_gone_and_not_found_with_ttl() {
    let (ddb, table) = table().await;
    let cache = DynamoBrregCache::new(ddb.clone(), &table);
    let found =
        shared::adapters::brreg::Entity::from_found(&org("923609016"), bankrupt_body()).unwrap();
    let gone = shared::adapters::brreg::Entity::from_gone(
        &org("971526920"),
        json!({"slettedato": "2024-06-01"}),
    );
    let entries = [
        ("923609016", Some(found), "found"),
        ("971526920", Some(gone), "gone"),
        ("974760673", None, "not_found"),
    ];
    for (n, entity, _) in &entries {
        assert_eq!(cache.get(&org(n)).await.unwrap(), None);
        let v = CachedLookup {
            entity: entity.clone(),
            fetched_at: t0(),
        };
        cache.put(&org(n), &v).await.unwrap();
        assert_eq!(cache.get(&org(n)).await.unwrap(), Some(v));
    }
    for (n, _, result) in &entries {
        let item = raw_item(&ddb, &table, n).await.expect("item");
        assert_eq!(attr_s(&item, "result"), *result);
        assert_eq!(attr_s(&item, "orgNumber"), *n);
        assert_eq!(attr_s(&item, "fetchedAt"), "2026-11-02T08:00:00.000Z");
        assert_eq!(
            item.get("expiresAt"),
            Some(&AttributeValue::N((t0().timestamp() + 86_400).to_string()))
        );
        assert_eq!(item.contains_key("body"), *result != "not_found");
    }
    // The stored body is the register's JSON.
    let item = raw_item(&ddb, &table, "923609016").await.unwrap();
    let body: Value = serde_json::from_str(&attr_s(&item, "body")).unwrap();
    assert_eq!(body, bankrupt_body());
}

#[tokio::test]
async fn dynamodb_cache_never_replaces_a_newer_answer() {
    let (ddb, table) = table().await;
    let cache = DynamoBrregCache::new(ddb, &table);
    let n = org("974760673");
    let newer = CachedLookup {
        entity: Some(
            shared::adapters::brreg::Entity::from_found(&n, healthy_body("974760673")).unwrap(),
        ),
        fetched_at: t0() + chrono::Duration::hours(3),
    };
    cache.put(&n, &newer).await.unwrap();
    let older = CachedLookup {
        entity: None,
        fetched_at: t0(),
    };
    cache.put(&n, &older).await.unwrap();
    assert_eq!(cache.get(&n).await.unwrap(), Some(newer));
}

#[tokio::test]
async fn dynamodb_cache_serves_a_day_then_refetches() {
    let (ddb, table) = table().await;
    let sv = StandIn::start().await;
    sv.answer(
        "923609016",
        vec![ok(bankrupt_body()), ok(healthy_body("923609016"))],
    );
    sv.answer("889640782", vec![(410, None)]);
    let n = org("923609016");
    let cached = CachedBrreg::new(sv.client(), DynamoBrregCache::new(ddb.clone(), &table));

    let first = cached.entity(&n, t0()).await.unwrap();
    assert!(!first.from_cache);
    // A second instance (another Lambda) over the same table gets the cached answer.
    let other = CachedBrreg::new(sv.client(), DynamoBrregCache::new(ddb.clone(), &table));
    let hit = other
        .entity(&n, t0() + chrono::Duration::hours(20))
        .await
        .unwrap();
    assert!(hit.from_cache);
    assert_eq!(hit.fetched_at, t0());
    assert_eq!(hit.entity, first.entity);
    assert_eq!(
        hit.entity.unwrap().stop_reasons(),
        vec![StopReason::Bankrupt, StopReason::UnderLiquidation]
    );
    assert_eq!(sv.requests_for("923609016"), 1);

    let later = t0() + chrono::Duration::hours(25);
    let refreshed = other.entity(&n, later).await.unwrap();
    assert!(!refreshed.from_cache);
    assert!(refreshed.entity.unwrap().stop_reasons().is_empty());
    assert_eq!(sv.requests_for("923609016"), 2);
    let item = raw_item(&ddb, &table, "923609016").await.unwrap();
    assert_eq!(
        item.get("expiresAt"),
        Some(&AttributeValue::N((later.timestamp() + 86_400).to_string()))
    );

    // A 410 from DynamoDB stays a removed entity.
    cached.entity(&org("889640782"), t0()).await.unwrap();
    let gone = other.entity(&org("889640782"), t0()).await.unwrap();
    assert!(gone.from_cache);
    assert_eq!(
        gone.entity.unwrap().stop_reasons(),
        vec![StopReason::RemovedFromRegister]
    );
}

#[tokio::test]
async fn a_malformed_cached_item_is_a_cache_error_and_a_miss() {
    let (ddb, table) = table().await;
    ddb.put_item()
        .table_name(&table)
        .item(
            "PK",
            AttributeValue::S(keys::brreg_pk(&OrgNumber::parse("974760673").unwrap())),
        )
        .item("SK", AttributeValue::S(keys::BRREG_SK.into()))
        .item("result", AttributeValue::S("found".into()))
        .item("fetchedAt", AttributeValue::S(t0().to_rfc3339()))
        .item("body", AttributeValue::S("{not json".into()))
        .send()
        .await
        .unwrap();
    let cache = DynamoBrregCache::new(ddb.clone(), &table);
    let err = cache.get(&org("974760673")).await.unwrap_err();
    assert!(matches!(err, BrregError::Cache(_)), "{err:?}");

    let sv = StandIn::start().await;
    sv.answer("974760673", vec![ok(healthy_body("974760673"))]);
    let cached = CachedBrreg::new(sv.client(), cache);
    let got = cached.entity(&org("974760673"), t0()).await.unwrap();
    assert!(!got.from_cache);
    assert_eq!(sv.requests_for("974760673"), 1);
    // And the fresh answer replaced the broken item.
    assert!(
        cached
            .entity(&org("974760673"), t0())
            .await
            .unwrap()
            .from_cache
    );
}
