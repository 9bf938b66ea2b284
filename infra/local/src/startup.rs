//! The start-up benchmark (`./dev startup`): each function's time from process start to its first
//! handled event, with no AWS and no network behind it.
//!
//! Per run, one listener on 127.0.0.1 serves the Lambda Runtime API to one fresh function process
//! (the environment [`function_environment`] gives it, as in the local stack) and hands it one
//! event that the function answers without reaching AWS. The clock starts just before the process
//! is spawned and stops when the Runtime API receives the response. `AWS_ENDPOINT_URL` points at
//! the same listener: every AWS call the function makes is recorded, so a function that calls AWS
//! while it initialises (before its first `next`) is named in the report. The event per function
//! ([`probe_for`]):
//! - an HTTP function: its first GET route behind the JWT authorizer, without a token: 401;
//! - an SQS worker: one message whose body is not a message: a batch response (a batch item
//!   failure, or acknowledged where the worker drops what it cannot read);
//! - a function with only a schedule: the schedule's input, against an empty table (the stub
//!   answers DynamoDB `Query`/`Scan` with no items, on loopback).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use axum::body::Bytes;
use axum::extract::{Path as AxPath, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Value as Json};
use tokio::io::AsyncReadExt;
use tokio::sync::watch;

use crate::runtime::function_environment;
use crate::template::{FunctionDef, Resolver, Template, ACCOUNT_ID, DEFAULT_STAGE, REGION};

/// How long one run may take before it counts as failed.
const RUN_TIMEOUT: Duration = Duration::from_secs(10);
/// The request id of the one invocation of a run.
const REQUEST_ID: &str = "startup-bench-1";
/// The goal for start to first handled event.
pub const GOAL: Duration = Duration::from_millis(20);

/// Which AWS calls the event needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AwsUse {
    /// None: any call is reported.
    None,
    /// Reads of an empty table (DynamoDB `Query`/`Scan`, answered with no items).
    EmptyTable,
}

/// What the response must look like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// An API Gateway response with this status code.
    Status(u16),
    /// An SQS batch response (`batchItemFailures`).
    BatchResponse,
    /// Any JSON answer (not an invocation error).
    Answer,
}

/// The event a function gets in the benchmark.
#[derive(Debug, Clone)]
pub struct Probe {
    /// What the event is, for the report.
    pub what: String,
    pub event: Json,
    pub aws: AwsUse,
    pub expect: Expect,
}

/// The event that `def` answers without AWS (or, for a function with only a schedule, with an
/// empty table): its first authorized GET route (else its first authorized route) without a token
/// (401), else its first public GET route (200), else its first SQS source with a body that is not
/// a message, else its first schedule's input.
pub fn probe_for(def: &FunctionDef) -> anyhow::Result<Probe> {
    // A GET route: a body-less request is answered 401 before anything reads a body.
    let authorized = || def.http_routes.iter().filter(|r| r.authorized);
    let route = authorized()
        .find(|r| r.method == "GET")
        .or_else(|| authorized().next())
        .map(|r| (r, 401))
        // A function with public routes only (the API's document): its first GET, answered 200.
        .or_else(|| {
            def.http_routes
                .iter()
                .find(|r| r.method == "GET")
                .map(|r| (r, 200))
        });
    if let Some((route, status)) = route {
        let mut params = BTreeMap::new();
        let path: Vec<String> = route
            .path
            .split('/')
            .map(
                |seg| match seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                    Some(name) => {
                        let name = name.trim_end_matches('+');
                        params.insert(name.to_string(), format!("{name}-1"));
                        format!("{name}-1")
                    }
                    None => seg.to_string(),
                },
            )
            .collect();
        let path = path.join("/");
        let method = if route.method == "ANY" {
            "GET"
        } else {
            route.method.as_str()
        };
        let route_key = format!("{} {}", route.method, route.path);
        let mut headers = HeaderMap::new();
        headers.insert("host", HeaderValue::from_static("localhost"));
        headers.insert("user-agent", HeaderValue::from_static("startup-bench"));
        let event = crate::apigw::build_event(&crate::apigw::EventInput {
            method,
            raw_path: &path,
            raw_query: "",
            headers: &headers,
            body: b"",
            source_ip: "127.0.0.1",
            route_key: &route_key,
            stage: DEFAULT_STAGE,
            path_params: &params,
            claims: None,
        });
        return Ok(Probe {
            what: format!("{method} {path}, no token → {status}"),
            event,
            aws: AwsUse::None,
            expect: Expect::Status(status),
        });
    }
    if let Some(source) = def.sqs_sources.first() {
        let message = aws_sdk_sqs::types::Message::builder()
            .message_id("00000000-0000-4000-8000-000000000001")
            .receipt_handle("startup-bench-receipt")
            .body("not a message")
            .md5_of_body("c7cbb2ecb4d1e6b3a1c1d0e9a4c0b3f1")
            .attributes(
                aws_sdk_sqs::types::MessageSystemAttributeName::ApproximateReceiveCount,
                "1",
            )
            .attributes(
                aws_sdk_sqs::types::MessageSystemAttributeName::MessageGroupId,
                "startup-bench",
            )
            .build();
        return Ok(Probe {
            what: format!("SQS {}: a body that is not a message", source.event_name),
            event: crate::sqs_source::build_event(&[message], &source.queue_arn, REGION),
            aws: AwsUse::None,
            expect: Expect::BatchResponse,
        });
    }
    if let Some(schedule) = def.schedules.first() {
        return Ok(Probe {
            what: format!("schedule {}, empty table", schedule.event_name),
            event: schedule.input.clone(),
            aws: AwsUse::EmptyTable,
            expect: Expect::Answer,
        });
    }
    bail!(
        "{} has no HTTP route, SQS source or schedule to send an event through",
        def.logical_id
    )
}

/// One run: the times from spawn, and what crossed the boundary.
#[derive(Debug, Clone)]
pub struct Run {
    /// Spawn → first `GET /runtime/invocation/next` (the function's init).
    pub ready: Duration,
    /// Spawn → the response (or error) posted for the event.
    pub handled: Duration,
    /// The response's summary (status code, batch item failures), for the report.
    pub answer: String,
    /// AWS calls before the first `next` (init).
    pub aws_at_init: Vec<String>,
    /// AWS calls while handling the event.
    pub aws_in_handler: Vec<String>,
}

#[derive(Default)]
struct RunState {
    started: Option<Instant>,
    ready: Option<Duration>,
    handed_out: bool,
    done: Option<(Duration, Result<Bytes, String>)>,
    aws_calls: Vec<(bool, String)>,
}

struct Bench {
    event: Bytes,
    deadline_ms: u128,
    function_arn: String,
    state: Mutex<RunState>,
    done_tx: watch::Sender<bool>,
}

impl Bench {
    fn elapsed(&self) -> Duration {
        self.lock().started.map(|s| s.elapsed()).unwrap_or_default()
    }
    fn lock(&self) -> std::sync::MutexGuard<'_, RunState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
    fn finish(&self, result: Result<Bytes, String>) {
        let t = self.elapsed();
        let mut st = self.lock();
        if st.done.is_none() {
            st.done = Some((t, result));
        }
        drop(st);
        let _ = self.done_tx.send(true);
    }
}

async fn next(State(b): State<Arc<Bench>>) -> Response {
    let t = b.elapsed();
    let first = {
        let mut st = b.lock();
        st.ready.get_or_insert(t);
        !std::mem::replace(&mut st.handed_out, true)
    };
    if !first {
        // One event per process: the next poll waits until the process is killed.
        std::future::pending::<()>().await;
    }
    let mut headers = HeaderMap::new();
    let h = |s: &str| HeaderValue::from_str(s).unwrap_or(HeaderValue::from_static(""));
    headers.insert("lambda-runtime-aws-request-id", h(REQUEST_ID));
    headers.insert("lambda-runtime-deadline-ms", h(&b.deadline_ms.to_string()));
    headers.insert("lambda-runtime-invoked-function-arn", h(&b.function_arn));
    headers.insert(
        "lambda-runtime-trace-id",
        h("Root=1-00000000-000000000000000000000000;Parent=0000000000000000;Sampled=0"),
    );
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    (StatusCode::OK, headers, b.event.clone()).into_response()
}

async fn response(
    State(b): State<Arc<Bench>>,
    AxPath(_id): AxPath<String>,
    body: Bytes,
) -> Response {
    b.finish(Ok(body));
    (StatusCode::ACCEPTED, axum::Json(json!({"status": "OK"}))).into_response()
}

async fn invocation_error(
    State(b): State<Arc<Bench>>,
    AxPath(_id): AxPath<String>,
    body: Bytes,
) -> Response {
    b.finish(Err(format!(
        "invocation error: {}",
        String::from_utf8_lossy(&body)
    )));
    (StatusCode::ACCEPTED, axum::Json(json!({"status": "OK"}))).into_response()
}

async fn init_error(State(b): State<Arc<Bench>>, body: Bytes) -> Response {
    b.finish(Err(format!(
        "init error: {}",
        String::from_utf8_lossy(&body)
    )));
    (StatusCode::ACCEPTED, axum::Json(json!({"status": "OK"}))).into_response()
}

/// Every other request is an AWS call (`AWS_ENDPOINT_URL` points here): recorded; DynamoDB reads
/// get an empty page, anything else an error (the benchmark has no AWS behind it).
async fn aws_call(
    State(b): State<Arc<Bench>>,
    method: axum::http::Method,
    uri: axum::http::Uri,
    headers: HeaderMap,
) -> Response {
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .unwrap_or_else(|| format!("{method} {}", uri.path()));
    {
        let mut st = b.lock();
        let at_init = st.ready.is_none();
        st.aws_calls.push((at_init, target.clone()));
    }
    let json10 = [("content-type", "application/x-amz-json-1.0")];
    match target.as_str() {
        "DynamoDB_20120810.Query" | "DynamoDB_20120810.Scan" => (
            StatusCode::OK,
            json10,
            json!({"Count": 0, "ScannedCount": 0, "Items": []}).to_string(),
        )
            .into_response(),
        _ => (
            StatusCode::BAD_REQUEST,
            json10,
            json!({
                "__type": "com.amazon.coral.service#UnrecognizedClientException",
                "message": "the start-up benchmark has no AWS behind it"
            })
            .to_string(),
        )
            .into_response(),
    }
}

/// Starts `binary` once, hands it the probe's event and measures. The process is killed after.
pub async fn run_once(
    def: &FunctionDef,
    binary: &Path,
    probe: &Probe,
    extra_env: &BTreeMap<String, String>,
) -> anyhow::Result<Run> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (done_tx, mut done_rx) = watch::channel(false);
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    let bench = Arc::new(Bench {
        event: Bytes::from(probe.event.to_string()),
        deadline_ms: now_ms + def.timeout.as_millis(),
        function_arn: format!(
            "arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{}",
            def.function_name
        ),
        state: Mutex::new(RunState::default()),
        done_tx,
    });
    let app = Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .route(
            "/2018-06-01/runtime/invocation/{id}/response",
            post(response),
        )
        .route(
            "/2018-06-01/runtime/invocation/{id}/error",
            post(invocation_error),
        )
        .route("/2018-06-01/runtime/init/error", post(init_error))
        .fallback(aws_call)
        .with_state(bench.clone());
    let (stop_tx, mut stop_rx) = watch::channel(false);
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = stop_rx.wait_for(|s| *s).await;
            })
            .await;
    });

    let base_env = BTreeMap::from([
        ("AWS_ACCESS_KEY_ID".to_string(), "startup-bench".to_string()),
        (
            "AWS_SECRET_ACCESS_KEY".to_string(),
            "startup-bench".to_string(),
        ),
        ("AWS_ENDPOINT_URL".to_string(), format!("http://{addr}")),
    ]);
    let mut env = function_environment(def, &base_env, &addr.to_string(), binary);
    env.extend(extra_env.clone());
    let mut cmd = tokio::process::Command::new(binary);
    cmd.env_clear()
        .envs(&env)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    bench.lock().started = Some(Instant::now());
    let mut child = cmd
        .spawn()
        .with_context(|| format!("starting {}", binary.display()))?;
    // Drain the output as Lambda's log pipe would; kept for the error message of a failed run.
    let output = Arc::new(Mutex::new(Vec::<u8>::new()));
    for pipe in crate::runtime::output_pipes(&mut child) {
        let output = output.clone();
        tokio::spawn(async move {
            let mut pipe = pipe;
            let mut buf = [0u8; 8192];
            while let Ok(n) = pipe.read(&mut buf).await {
                if n == 0 {
                    break;
                }
                output
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .extend_from_slice(&buf[..n]);
            }
        });
    }

    let outcome = tokio::select! {
        r = done_rx.wait_for(|d| *d) => r.map(|_| ()).map_err(|_| anyhow!("the benchmark stopped")),
        status = child.wait() => Err(anyhow!("the process exited before it answered ({})",
            status.map(|s| s.to_string()).unwrap_or_else(|e| e.to_string()))),
        _ = tokio::time::sleep(RUN_TIMEOUT) => Err(anyhow!("no answer within {RUN_TIMEOUT:?}")),
    };
    let _ = child.kill().await;
    let _ = stop_tx.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(2), server).await;
    let log =
        || String::from_utf8_lossy(&output.lock().unwrap_or_else(|e| e.into_inner())).into_owned();
    outcome.with_context(|| format!("{}; its output:\n{}", def.logical_id, log()))?;

    let st = bench.lock();
    let (handled, result) = st
        .done
        .clone()
        .ok_or_else(|| anyhow!("{}: no answer recorded", def.logical_id))?;
    let body = result.map_err(|e| anyhow!("{}: {e}; its output:\n{}", def.logical_id, log()))?;
    let answer = check(probe, &body)
        .with_context(|| format!("{}: unexpected answer to {}", def.logical_id, probe.what))?;
    let (at_init, in_handler): (Vec<_>, Vec<_>) = st.aws_calls.iter().partition(|(i, _)| *i);
    Ok(Run {
        ready: st.ready.unwrap_or(handled),
        handled,
        answer,
        aws_at_init: at_init.into_iter().map(|(_, c)| c.clone()).collect(),
        aws_in_handler: in_handler.into_iter().map(|(_, c)| c.clone()).collect(),
    })
}

/// The answer's summary, or why it is not what the probe expects.
fn check(probe: &Probe, body: &[u8]) -> anyhow::Result<String> {
    let v: Json = serde_json::from_slice(body).context("the response is not JSON")?;
    match probe.expect {
        Expect::Status(code) => {
            let got = v.get("statusCode").and_then(Json::as_u64);
            if got != Some(u64::from(code)) {
                bail!("expected status {code}, got {v}");
            }
            Ok(format!("{code}"))
        }
        Expect::BatchResponse => {
            let failures = v
                .get("batchItemFailures")
                .and_then(Json::as_array)
                .ok_or_else(|| anyhow!("expected a batch response, got {v}"))?;
            Ok(match failures.len() {
                0 => "acknowledged".to_string(),
                n => format!("{n} item failure"),
            })
        }
        Expect::Answer => Ok("answered".to_string()),
    }
}

/// One function's runs.
#[derive(Debug, Clone)]
pub struct Measured {
    pub logical_id: String,
    pub binary: String,
    pub probe: String,
    pub runs: Vec<Run>,
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    match v.len() {
        0 => Duration::ZERO,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2,
    }
}

impl Measured {
    pub fn handled(&self) -> Vec<Duration> {
        self.runs.iter().map(|r| r.handled).collect()
    }
    pub fn median(&self) -> Duration {
        median(self.handled())
    }
    pub fn min(&self) -> Duration {
        self.handled().into_iter().min().unwrap_or_default()
    }
    pub fn max(&self) -> Duration {
        self.handled().into_iter().max().unwrap_or_default()
    }
    pub fn median_ready(&self) -> Duration {
        median(self.runs.iter().map(|r| r.ready).collect())
    }
    /// The distinct AWS calls made at init, over all runs.
    pub fn aws_at_init(&self) -> Vec<String> {
        let mut calls: Vec<String> = self
            .runs
            .iter()
            .flat_map(|r| r.aws_at_init.clone())
            .collect();
        calls.sort();
        calls.dedup();
        calls
    }
}

/// The functions of the template, named as in AWS (no AWS is created or reached).
pub fn functions_of(template_path: &Path) -> anyhow::Result<Vec<FunctionDef>> {
    let template = Template::from_path(template_path)?;
    // Parameters without a default get placeholders: nothing here reaches what they name.
    let overrides: BTreeMap<String, String> = template
        .parameters
        .values()
        .filter(|p| p.default.is_none())
        .map(|p| (p.name.clone(), format!("startup-bench-{}", p.name)))
        .collect();
    let mut resolver = Resolver::new(&template, "inndrive-bench", &overrides)?;
    resolver.name_offline(&template)?;
    Ok(template.functions(&resolver)?)
}

/// Measures every function (or those in `only`) `runs` times, one process at a time;
/// `extra_env` is added to every function's environment (to try a setting).
pub async fn measure(
    functions: &[FunctionDef],
    bin_dir: &Path,
    runs: usize,
    only: &[String],
    extra_env: &BTreeMap<String, String>,
) -> anyhow::Result<Vec<Measured>> {
    let mut out = Vec::new();
    for def in functions {
        if !only.is_empty()
            && !only
                .iter()
                .any(|o| o == &def.logical_id || o == &def.binary)
        {
            continue;
        }
        let binary: PathBuf = crate::runtime::find_binary(bin_dir, &def.binary)?;
        let probe = probe_for(def)?;
        let mut measured = Measured {
            logical_id: def.logical_id.clone(),
            binary: def.binary.clone(),
            probe: probe.what.clone(),
            runs: Vec::with_capacity(runs),
        };
        // One unmeasured run first: the binary's pages come from disk once, as a warm host's
        // page cache holds them for every later start.
        run_once(def, &binary, &probe, extra_env).await?;
        for _ in 0..runs {
            let run = run_once(def, &binary, &probe, extra_env).await?;
            if probe.aws == AwsUse::None && !run.aws_in_handler.is_empty() {
                bail!(
                    "{}: the event was meant to need no AWS, but the function called {:?}",
                    def.logical_id,
                    run.aws_in_handler
                );
            }
            measured.runs.push(run);
        }
        out.push(measured);
    }
    Ok(out)
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

/// The report: one line per function, times in ms, the goal and the AWS calls at init.
pub fn report(measured: &[Measured], runs: usize) -> String {
    let mut s = format!(
        "start → first handled event, {runs} runs per function (ms; goal ≤ {} ms)\n",
        GOAL.as_millis()
    );
    s.push_str(&format!(
        "{:<28} {:>7} {:>6} {:>6} {:>7}  {:<5} {:<14} {}\n",
        "function", "median", "min", "max", "init", "goal", "answer", "event"
    ));
    for m in measured {
        let answer = m.runs.first().map(|r| r.answer.clone()).unwrap_or_default();
        s.push_str(&format!(
            "{:<28} {:>7} {:>6} {:>6} {:>7}  {:<5} {:<14} {}\n",
            m.binary,
            ms(m.median()),
            ms(m.min()),
            ms(m.max()),
            ms(m.median_ready()),
            if m.median() <= GOAL { "met" } else { "MISS" },
            answer,
            m.probe
        ));
    }
    s.push_str("init = start → the first `next` (median). AWS calls while initialising: ");
    let at_init: Vec<String> = measured
        .iter()
        .filter(|m| !m.aws_at_init().is_empty())
        .map(|m| format!("{} {}", m.binary, m.aws_at_init().join(", ")))
        .collect();
    if at_init.is_empty() {
        s.push_str("none\n");
    } else {
        s.push_str(&at_init.join("; "));
        s.push('\n');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn real_functions() -> Vec<FunctionDef> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../template.yaml");
        functions_of(&root).unwrap()
    }

    #[test]
    fn every_function_of_the_template_has_a_probe() {
        let fns = real_functions();
        assert!(fns.len() >= 9, "{} functions", fns.len());
        for f in &fns {
            let p = probe_for(f).unwrap();
            match p.expect {
                Expect::Status(401) => {
                    assert!(!f.http_routes.is_empty());
                    let ctx = &p.event["requestContext"];
                    assert!(
                        ctx.get("authorizer").is_none(),
                        "{}: no token",
                        f.logical_id
                    );
                    assert!(!p.event["rawPath"].as_str().unwrap().contains('{'));
                    // lambda_http reads it as an API Gateway v2 request.
                    serde_json::from_value::<aws_lambda_events::apigw::ApiGatewayV2httpRequest>(
                        p.event.clone(),
                    )
                    .unwrap();
                }
                Expect::BatchResponse => {
                    assert!(f.http_routes.is_empty() && !f.sqs_sources.is_empty());
                    let ev: aws_lambda_events::sqs::SqsEvent =
                        serde_json::from_value(p.event.clone()).unwrap();
                    assert_eq!(ev.records.len(), 1);
                }
                Expect::Answer => assert_eq!(p.aws, AwsUse::EmptyTable),
                Expect::Status(200) => {
                    assert!(
                        f.http_routes.iter().all(|r| !r.authorized),
                        "{}",
                        f.logical_id
                    );
                }
                Expect::Status(other) => panic!("unexpected status {other}"),
            }
        }
        let scheduled = fns.iter().find(|f| f.binary == "scheduled-sync").unwrap();
        assert_eq!(probe_for(scheduled).unwrap().expect, Expect::Answer);
    }

    #[test]
    fn the_functions_are_named_as_in_aws_without_aws() {
        let fns = real_functions();
        let f = fns.iter().find(|f| f.binary == "cases-api").unwrap();
        assert_eq!(f.env["TABLE_NAME"], "inndrive-dev");
        assert!(
            f.env["VOUCHER_POSTING_QUEUE_URL"].starts_with("https://sqs.eu-north-1.amazonaws.com/")
        );
    }

    #[test]
    fn check_reads_status_and_batch_responses() {
        let http = Probe {
            what: String::new(),
            event: Json::Null,
            aws: AwsUse::None,
            expect: Expect::Status(401),
        };
        assert_eq!(check(&http, br#"{"statusCode":401}"#).unwrap(), "401");
        assert!(check(&http, br#"{"statusCode":500}"#).is_err());
        let sqs = Probe {
            expect: Expect::BatchResponse,
            ..http
        };
        assert_eq!(
            check(&sqs, br#"{"batchItemFailures":[{"itemIdentifier":"m"}]}"#).unwrap(),
            "1 item failure"
        );
        assert_eq!(
            check(&sqs, br#"{"batchItemFailures":[]}"#).unwrap(),
            "acknowledged"
        );
        assert!(check(&sqs, br#"{"statusCode":200}"#).is_err());
    }

    #[test]
    fn median_of_even_and_odd() {
        let d = Duration::from_millis;
        assert_eq!(median(vec![d(3), d(1), d(2)]), d(2));
        assert_eq!(
            median(vec![d(4), d(1), d(2), d(3)]),
            Duration::from_micros(2500)
        );
    }
}
