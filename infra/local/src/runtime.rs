//! The Lambda Runtime API, served per function process, and the process supervisor.
//!
//! Each function gets a listener on 127.0.0.1:0 serving the Runtime API
//! (`/2018-06-01/runtime/invocation/next`, `.../{id}/response`, `.../{id}/error`, `/runtime/init/error`)
//! and its binary is spawned with `AWS_LAMBDA_RUNTIME_API` pointing at it, exactly like the deployed
//! `bootstrap`. Concurrency is one invocation at a time per function. A process that exceeds the
//! function timeout is killed and restarted (the invocation fails with a timeout); a process that dies
//! is restarted and its in-flight invocation fails.
//!
//! For crash tests a [`CrashPlan`] kills the process (SIGKILL) at a random point of some of its
//! invocations, as a Lambda sandbox can vanish mid-batch; the invocation fails as a crash and the
//! process is restarted like any other that died.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Path as AxPath, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::{mpsc, oneshot, watch};

use crate::template::{FunctionDef, ACCOUNT_ID, REGION};

/// How long a (re)started process may take before it asks for its first invocation.
pub const INIT_TIMEOUT: Duration = Duration::from_secs(10);
const MAX_LOG_LINES: usize = 200_000;

/// Captured output of the function processes and the runner (kept in memory; optionally echoed).
#[derive(Debug, Default)]
pub struct LogSink {
    lines: Mutex<VecDeque<String>>,
    traffic: Mutex<VecDeque<Traffic>>,
    echo: bool,
}

/// One event handed to a function or one response it gave (kept so that tests can scan what
/// crossed the boundary: SQS message bodies, API responses).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Traffic {
    /// The function's logical id.
    pub function: String,
    pub direction: Direction,
    /// The payload as text (lossy for non-UTF-8 bytes).
    pub text: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Event,
    Response,
}

impl LogSink {
    pub fn new(echo: bool) -> Arc<LogSink> {
        Arc::new(LogSink {
            lines: Mutex::new(VecDeque::new()),
            traffic: Mutex::new(VecDeque::new()),
            echo,
        })
    }
    pub fn push(&self, line: String) {
        if self.echo {
            println!("{line}");
        }
        let mut l = self.lines.lock().unwrap_or_else(|e| e.into_inner());
        if l.len() >= MAX_LOG_LINES {
            l.pop_front();
        }
        l.push_back(line);
    }
    pub fn record(&self, function: &str, direction: Direction, payload: &[u8]) {
        let mut t = self.traffic.lock().unwrap_or_else(|e| e.into_inner());
        if t.len() >= MAX_LOG_LINES {
            t.pop_front();
        }
        t.push_back(Traffic {
            function: function.to_string(),
            direction,
            text: String::from_utf8_lossy(payload).into_owned(),
        });
    }
    pub fn traffic(&self) -> Vec<Traffic> {
        self.traffic
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .cloned()
            .collect()
    }
    pub fn snapshot(&self) -> Vec<String> {
        self.lines
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .cloned()
            .collect()
    }
}

/// Why an invocation did not produce a response.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum InvokeError {
    /// The handler reported an error (`/invocation/{id}/error`).
    #[error("function error {error_type}: {error_message}")]
    Function {
        error_type: String,
        error_message: String,
    },
    #[error("Task timed out after {0:?}")]
    Timeout(Duration),
    /// The process died during the invocation (panic=abort, exit, signal).
    #[error("the function process exited during the invocation: {0}")]
    Crashed(String),
    /// The process failed to initialise (init/error, or never asked for work).
    #[error("function init failed: {0}")]
    Init(String),
    #[error("the runner is stopping")]
    Stopped,
}

/// Kills of a function's process at random points of its invocations (crash tests).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CrashPlan {
    /// Seeds which invocations are killed and when.
    pub seed: u64,
    /// The share of invocations killed (0..=1).
    pub probability: f64,
    /// The kill comes at a uniformly random time this long at most after the process took the
    /// invocation. None: within the mean duration of the function's invocations so far (so that
    /// it lands inside the batch), or 200 ms before the first one completed.
    pub within: Option<Duration>,
    /// Kills in all, at most.
    pub max_kills: u32,
}

/// What a crash plan did so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CrashStats {
    /// Invocations the plan chose to kill.
    pub chosen: u32,
    /// Of those, the ones still running when the kill came (the process was killed mid-batch).
    pub killed_mid_invocation: u32,
    /// Invocations that were not killed (whatever their outcome) and their total duration.
    pub completed: u32,
    pub completed_time: Duration,
}

#[derive(Debug)]
struct Crashes {
    plan: CrashPlan,
    rng: crate::rng::Rng,
    /// The previous invocation was killed: the next one is spared, so that a message is not
    /// killed until it lands in a dead-letter queue.
    spare_next: bool,
}

impl Crashes {
    fn new(plan: CrashPlan) -> Self {
        Crashes {
            plan,
            rng: crate::rng::Rng::seeded(plan.seed),
            spare_next: false,
        }
    }

    /// Whether to kill the invocation about to run, and after how long.
    fn decide(&mut self, stats: &CrashStats) -> Option<Duration> {
        let roll = self.rng.next_f64();
        let at = self.rng.next_f64();
        if std::mem::take(&mut self.spare_next)
            || stats.chosen >= self.plan.max_kills
            || roll >= self.plan.probability
        {
            return None;
        }
        self.spare_next = true;
        let within = self.plan.within.unwrap_or(match stats.completed {
            0 => Duration::from_millis(200),
            n => stats.completed_time / n,
        });
        Some(within.mul_f64(at))
    }
}

struct Invocation {
    id: String,
    payload: Bytes,
    timeout: Duration,
    cancelled: Arc<AtomicBool>,
    picked: oneshot::Sender<()>,
    result: oneshot::Sender<Result<Bytes, InvokeError>>,
}

struct Shared {
    function_name: String,
    function_arn: String,
    queue_rx: tokio::sync::Mutex<mpsc::Receiver<Invocation>>,
    inflight: Mutex<HashMap<String, oneshot::Sender<Result<Bytes, InvokeError>>>>,
    last_init_error: Mutex<Option<String>>,
    logs: Arc<LogSink>,
    log_prefix: String,
    /// Bumped whenever a process ends: a `next` long-poll left over from a dead process must not
    /// take the next invocation.
    generation: watch::Sender<u64>,
}

impl Shared {
    fn fail_inflight(&self, err: InvokeError) {
        let drained: Vec<_> = self
            .inflight
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain()
            .collect();
        for (_, tx) in drained {
            let _ = tx.send(Err(err.clone()));
        }
    }
    fn log(&self, msg: impl AsRef<str>) {
        self.logs
            .push(format!("[{}] {}", self.log_prefix, msg.as_ref()));
    }
}

/// One function: its Runtime API listener, its process and its invocation queue.
pub struct FunctionRunner {
    pub def: FunctionDef,
    pub runtime_api: String,
    shared: Arc<Shared>,
    queue_tx: mpsc::Sender<Invocation>,
    invoke_lock: tokio::sync::Mutex<()>,
    kill_tx: mpsc::UnboundedSender<InvokeError>,
    stop_tx: watch::Sender<bool>,
    pid: Arc<AtomicU32>,
    tasks: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    crashes: Mutex<Option<Crashes>>,
    crash_stats: Mutex<CrashStats>,
}

/// Where the function binaries are: `$INNDRIVE_BIN_DIR`, else the current executable's directory
/// (or its parent when that is `deps/`, so tests under target/debug/deps find target/debug/<bin>).
pub fn default_bin_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("INNDRIVE_BIN_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(d);
    }
    let exe = std::env::current_exe().unwrap_or_default();
    let dir = exe.parent().map(Path::to_path_buf).unwrap_or_default();
    if dir.file_name().and_then(|n| n.to_str()) == Some("deps") {
        dir.parent().map(Path::to_path_buf).unwrap_or(dir)
    } else {
        dir
    }
}

/// The path of a function binary, or an error naming the binary and how to build it.
pub fn find_binary(bin_dir: &Path, binary: &str) -> anyhow::Result<PathBuf> {
    let p = bin_dir.join(binary);
    if p.is_file() {
        Ok(p)
    } else {
        anyhow::bail!(
            "function binary `{binary}` not found in {} (build it with `cargo build -p {binary}` \
             or `cargo build --bin {binary}`; set INNDRIVE_BIN_DIR to use another directory)",
            bin_dir.display()
        )
    }
}

impl FunctionRunner {
    /// Starts the Runtime API listener and the function process.
    /// `base_env` is the environment the stack gives every function (AWS endpoint, credentials, ...).
    pub async fn start(
        def: FunctionDef,
        binary: PathBuf,
        base_env: &BTreeMap<String, String>,
        logs: Arc<LogSink>,
    ) -> anyhow::Result<FunctionRunner> {
        let (queue_tx, queue_rx) = mpsc::channel::<Invocation>(64);
        let shared = Arc::new(Shared {
            function_name: def.function_name.clone(),
            function_arn: format!(
                "arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{}",
                def.function_name
            ),
            queue_rx: tokio::sync::Mutex::new(queue_rx),
            inflight: Mutex::new(HashMap::new()),
            last_init_error: Mutex::new(None),
            logs,
            log_prefix: def.logical_id.clone(),
            generation: watch::channel(0).0,
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let runtime_api = format!("127.0.0.1:{}", addr.port());
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
            .with_state(shared.clone());
        let (stop_tx, stop_rx) = watch::channel(false);
        let mut server_stop = stop_rx.clone();
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = server_stop.wait_for(|s| *s).await;
                })
                .await;
        });

        let env = function_environment(&def, base_env, &runtime_api, &binary);

        let (kill_tx, kill_rx) = mpsc::unbounded_channel();
        let pid = Arc::new(AtomicU32::new(0));
        let supervisor = tokio::spawn(supervise(
            binary,
            env,
            shared.clone(),
            kill_rx,
            stop_rx,
            pid.clone(),
        ));
        Ok(FunctionRunner {
            def,
            runtime_api,
            shared,
            queue_tx,
            invoke_lock: tokio::sync::Mutex::new(()),
            kill_tx,
            stop_tx,
            pid,
            tasks: Mutex::new(vec![server, supervisor]),
            crashes: Mutex::new(None),
            crash_stats: Mutex::new(CrashStats::default()),
        })
    }

    /// Kills the process at random points of its invocations from now on (None: no more), and
    /// starts the statistics afresh.
    pub fn set_crash_plan(&self, plan: Option<CrashPlan>) {
        *self.crashes.lock().unwrap_or_else(|e| e.into_inner()) = plan.map(Crashes::new);
        *self.crash_stats.lock().unwrap_or_else(|e| e.into_inner()) = CrashStats::default();
    }

    /// What the crash plan did since it was set (and the invocations since then).
    pub fn crash_stats(&self) -> CrashStats {
        *self.crash_stats.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The current process id (0 while restarting).
    pub fn pid(&self) -> u32 {
        self.pid.load(Ordering::SeqCst)
    }

    /// Invokes the function with a JSON payload (one at a time; others wait their turn).
    pub async fn invoke(&self, payload: Bytes) -> Result<Bytes, InvokeError> {
        let _turn = self.invoke_lock.lock().await;
        let id = uuid::Uuid::new_v4().to_string();
        let cancelled = Arc::new(AtomicBool::new(false));
        let (picked_tx, picked_rx) = oneshot::channel();
        let (result_tx, result_rx) = oneshot::channel();
        self.shared
            .logs
            .record(&self.def.logical_id, Direction::Event, &payload);
        self.queue_tx
            .send(Invocation {
                id: id.clone(),
                payload,
                timeout: self.def.timeout,
                cancelled: cancelled.clone(),
                picked: picked_tx,
                result: result_tx,
            })
            .await
            .map_err(|_| InvokeError::Stopped)?;
        // Wait for the process to take the invocation; fail fast when its init failed.
        let init_deadline = Instant::now() + INIT_TIMEOUT;
        let mut picked_rx = picked_rx;
        loop {
            tokio::select! {
                r = &mut picked_rx => {
                    if r.is_err() {
                        return Err(InvokeError::Stopped);
                    }
                    break;
                }
                _ = tokio::time::sleep(Duration::from_millis(100)) => {
                    let init = self
                        .shared
                        .last_init_error
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .clone();
                    if init.is_some() || Instant::now() > init_deadline {
                        cancelled.store(true, Ordering::SeqCst);
                        // It may have been taken in the meantime.
                        if picked_rx.try_recv().is_ok() {
                            break;
                        }
                        return Err(InvokeError::Init(init.unwrap_or_else(|| {
                            format!("the process did not ask for an invocation within {INIT_TIMEOUT:?}")
                        })));
                    }
                }
            }
        }
        let started = Instant::now();
        let kill_after = {
            let stats = self.crash_stats();
            self.crashes
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .as_mut()
                .and_then(|c| c.decide(&stats))
        };
        let answer = tokio::time::timeout(self.def.timeout, result_rx);
        tokio::pin!(answer);
        let mut killed = false;
        let answer = match kill_after {
            None => answer.await,
            Some(after) => {
                self.crash_stats
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .chosen += 1;
                tokio::select! {
                    r = &mut answer => r,
                    _ = tokio::time::sleep(after) => {
                        self.shared.log(format!(
                            "crash plan: killing the process (SIGKILL) {} ms into invocation {id}",
                            after.as_millis()
                        ));
                        self.crash_stats
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .killed_mid_invocation += 1;
                        killed = true;
                        let _ = self.kill_tx.send(InvokeError::Crashed(
                            "killed (SIGKILL) by the crash plan".into(),
                        ));
                        answer.await
                    }
                }
            }
        };
        if !killed {
            let mut stats = self.crash_stats.lock().unwrap_or_else(|e| e.into_inner());
            stats.completed += 1;
            stats.completed_time += started.elapsed();
        }
        match answer {
            Ok(Ok(r)) => {
                if let Ok(bytes) = &r {
                    self.shared
                        .logs
                        .record(&self.def.logical_id, Direction::Response, bytes);
                }
                r
            }
            Ok(Err(_)) => Err(InvokeError::Stopped),
            Err(_) => {
                self.shared
                    .inflight
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(&id);
                self.shared.log(format!(
                    "invocation {id} timed out after {:?}; killing and restarting the process",
                    self.def.timeout
                ));
                let _ = self.kill_tx.send(InvokeError::Timeout(self.def.timeout));
                Err(InvokeError::Timeout(self.def.timeout))
            }
        }
    }

    /// Stops the process and the listener (in-flight and queued invocations fail with `Stopped`).
    pub async fn shutdown(&self) {
        let _ = self.stop_tx.send(true);
        let tasks: Vec<_> =
            std::mem::take(&mut *self.tasks.lock().unwrap_or_else(|e| e.into_inner()));
        for t in tasks {
            let _ = tokio::time::timeout(Duration::from_secs(5), t).await;
        }
    }
}

impl Drop for FunctionRunner {
    fn drop(&mut self) {
        let _ = self.stop_tx.send(true);
    }
}

/// The environment a function process gets, as Lambda gives it to the deployed `bootstrap`: the
/// stack's (`base_env`), the function's own from the template, the Runtime API's address and the
/// `AWS_LAMBDA_*` variables. `RUST_LOG` and `INNDRIVE_AWS_RETRIES` pass through from this process.
pub fn function_environment(
    def: &FunctionDef,
    base_env: &BTreeMap<String, String>,
    runtime_api: &str,
    binary: &Path,
) -> BTreeMap<String, String> {
    let mut env = base_env.clone();
    env.extend(def.env.clone());
    if let Ok(v) = std::env::var("RUST_LOG") {
        env.insert("RUST_LOG".into(), v);
    }
    if let Ok(v) = std::env::var("INNDRIVE_AWS_RETRIES") {
        env.insert("INNDRIVE_AWS_RETRIES".into(), v);
    }
    env.insert("AWS_LAMBDA_RUNTIME_API".into(), runtime_api.to_string());
    env.insert("AWS_LAMBDA_FUNCTION_NAME".into(), def.function_name.clone());
    env.insert("AWS_LAMBDA_FUNCTION_VERSION".into(), "$LATEST".into());
    env.insert(
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE".into(),
        def.memory_mb.to_string(),
    );
    env.insert(
        "AWS_LAMBDA_LOG_GROUP_NAME".into(),
        format!("/aws/lambda/{}", def.function_name),
    );
    env.insert(
        "AWS_LAMBDA_LOG_STREAM_NAME".into(),
        format!("local/[$LATEST]{}", uuid::Uuid::new_v4().simple()),
    );
    env.insert("AWS_REGION".into(), REGION.into());
    env.insert("AWS_DEFAULT_REGION".into(), REGION.into());
    env.insert("AWS_EC2_METADATA_DISABLED".into(), "true".into());
    env.insert("_HANDLER".into(), "bootstrap".into());
    if let Some(dir) = binary.parent() {
        env.insert("LAMBDA_TASK_ROOT".into(), dir.display().to_string());
    }
    if let Ok(path) = std::env::var("PATH") {
        env.insert("PATH".into(), path);
    }
    env
}

async fn supervise(
    binary: PathBuf,
    env: BTreeMap<String, String>,
    shared: Arc<Shared>,
    mut kill_rx: mpsc::UnboundedReceiver<InvokeError>,
    mut stop_rx: watch::Receiver<bool>,
    pid: Arc<AtomicU32>,
) {
    loop {
        if *stop_rx.borrow() {
            return;
        }
        let mut cmd = tokio::process::Command::new(&binary);
        cmd.env_clear()
            .envs(&env)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let started = Instant::now();
        let mut child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => {
                let msg = format!("cannot start {}: {e}", binary.display());
                shared.log(&msg);
                *shared
                    .last_init_error
                    .lock()
                    .unwrap_or_else(|e| e.into_inner()) = Some(msg);
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(1)) => continue,
                    _ = stopped(&mut stop_rx) => return,
                }
            }
        };
        pid.store(child.id().unwrap_or(0), Ordering::SeqCst);
        for out in output_pipes(&mut child) {
            let sh = shared.clone();
            tokio::spawn(async move {
                let mut lines = BufReader::new(out).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    sh.logs.push(format!("[{}] {line}", sh.log_prefix));
                }
            });
        }
        let backoff = tokio::select! {
            status = child.wait() => {
                pid.store(0, Ordering::SeqCst);
                shared.generation.send_modify(|g| *g += 1);
                let status = status.map(|s| s.to_string()).unwrap_or_else(|e| e.to_string());
                let init = shared.last_init_error.lock().unwrap_or_else(|e| e.into_inner()).clone();
                shared.log(format!("process exited ({status}); restarting"));
                match init {
                    Some(msg) => shared.fail_inflight(InvokeError::Init(msg)),
                    None => shared.fail_inflight(InvokeError::Crashed(status)),
                }
                // Do not spin on a binary that dies at start-up.
                started.elapsed() < Duration::from_secs(1)
            }
            Some(reason) = kill_rx.recv() => {
                let _ = child.kill().await;
                pid.store(0, Ordering::SeqCst);
                shared.generation.send_modify(|g| *g += 1);
                shared.fail_inflight(reason);
                false
            }
            _ = stopped(&mut stop_rx) => {
                let _ = child.kill().await;
                pid.store(0, Ordering::SeqCst);
                shared.fail_inflight(InvokeError::Stopped);
                return;
            }
        };
        if backoff {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                _ = stopped(&mut stop_rx) => return,
            }
        }
    }
}

/// Resolves once the stop flag is true (or its sender is gone).
pub async fn stopped(rx: &mut watch::Receiver<bool>) {
    let _ = rx.wait_for(|s| *s).await;
}

fn epoch_ms() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0)
}

async fn next(State(shared): State<Arc<Shared>>) -> Response {
    // A process asking for work has initialised.
    *shared
        .last_init_error
        .lock()
        .unwrap_or_else(|e| e.into_inner()) = None;
    let mut gen_rx = shared.generation.subscribe();
    let my_gen = *gen_rx.borrow_and_update();
    let mut rx = shared.queue_rx.lock().await;
    loop {
        if *gen_rx.borrow() != my_gen {
            return (StatusCode::GONE, "stale process").into_response();
        }
        let inv = tokio::select! {
            inv = rx.recv() => inv,
            _ = gen_rx.changed() => continue,
        };
        let Some(inv) = inv else {
            return (StatusCode::GONE, "runner stopped").into_response();
        };
        if inv.cancelled.load(Ordering::SeqCst) {
            continue;
        }
        let deadline = epoch_ms() + inv.timeout.as_millis();
        shared
            .inflight
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(inv.id.clone(), inv.result);
        let _ = inv.picked.send(());
        let mut headers = HeaderMap::new();
        let h = |s: String| HeaderValue::from_str(&s).unwrap_or(HeaderValue::from_static(""));
        headers.insert("lambda-runtime-aws-request-id", h(inv.id.clone()));
        headers.insert("lambda-runtime-deadline-ms", h(deadline.to_string()));
        headers.insert(
            "lambda-runtime-invoked-function-arn",
            h(shared.function_arn.clone()),
        );
        headers.insert(
            "lambda-runtime-trace-id",
            h(format!(
                "Root=1-{:08x}-{};Parent={};Sampled=0",
                (epoch_ms() / 1000) as u64,
                &uuid::Uuid::new_v4().simple().to_string()[..24],
                &uuid::Uuid::new_v4().simple().to_string()[..16]
            )),
        );
        headers.insert("content-type", HeaderValue::from_static("application/json"));
        return (StatusCode::OK, headers, inv.payload).into_response();
    }
}

async fn response(
    State(shared): State<Arc<Shared>>,
    AxPath(id): AxPath<String>,
    body: Bytes,
) -> Response {
    let tx = shared
        .inflight
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remove(&id);
    match tx {
        Some(tx) => {
            let _ = tx.send(Ok(body));
            (StatusCode::ACCEPTED, axum::Json(json!({"status": "OK"}))).into_response()
        }
        None => unknown_request(&id),
    }
}

fn unknown_request(id: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        axum::Json(json!({
            "errorMessage": format!("invalid or expired request id {id}"),
            "errorType": "InvalidRequestID"
        })),
    )
        .into_response()
}

fn parse_error(headers: &HeaderMap, body: &[u8]) -> (String, String) {
    let v: serde_json::Value = serde_json::from_slice(body).unwrap_or(serde_json::Value::Null);
    let error_type = v
        .get("errorType")
        .and_then(|t| t.as_str())
        .map(str::to_string)
        .or_else(|| {
            headers
                .get("lambda-runtime-function-error-type")
                .and_then(|h| h.to_str().ok())
                .map(str::to_string)
        })
        .unwrap_or_else(|| "Unhandled".into());
    let error_message = v
        .get("errorMessage")
        .and_then(|t| t.as_str())
        .map(str::to_string)
        .unwrap_or_else(|| String::from_utf8_lossy(body).into_owned());
    (error_type, error_message)
}

async fn invocation_error(
    State(shared): State<Arc<Shared>>,
    AxPath(id): AxPath<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (error_type, error_message) = parse_error(&headers, &body);
    let tx = shared
        .inflight
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remove(&id);
    match tx {
        Some(tx) => {
            shared.log(format!(
                "invocation {id} failed: {error_type}: {error_message}"
            ));
            let _ = tx.send(Err(InvokeError::Function {
                error_type,
                error_message,
            }));
            (StatusCode::ACCEPTED, axum::Json(json!({"status": "OK"}))).into_response()
        }
        None => unknown_request(&id),
    }
}

async fn init_error(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (error_type, error_message) = parse_error(&headers, &body);
    let msg = format!("{error_type}: {error_message}");
    shared.log(format!("INIT ERROR in {}: {msg}", shared.function_name));
    *shared
        .last_init_error
        .lock()
        .unwrap_or_else(|e| e.into_inner()) = Some(msg);
    (StatusCode::ACCEPTED, axum::Json(json!({"status": "OK"}))).into_response()
}

/// A function process's stdout and stderr (what Lambda's log pipe reads), taken from the child.
pub(crate) fn output_pipes(
    child: &mut tokio::process::Child,
) -> impl Iterator<Item = Box<dyn tokio::io::AsyncRead + Send + Unpin>> {
    let stdout = child
        .stdout
        .take()
        .map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Send + Unpin>);
    let stderr = child
        .stderr
        .take()
        .map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Send + Unpin>);
    [stdout, stderr].into_iter().flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(probability: f64, max_kills: u32) -> CrashPlan {
        CrashPlan {
            seed: 7,
            probability,
            within: None,
            max_kills,
        }
    }

    #[test]
    fn a_crash_plan_never_kills_twice_in_a_row_nor_past_its_budget() {
        let mut c = Crashes::new(plan(1.0, 3));
        let mut stats = CrashStats::default();
        let mut kills = Vec::new();
        for _ in 0..10 {
            let k = c.decide(&stats);
            if k.is_some() {
                stats.chosen += 1;
            }
            kills.push(k.is_some());
        }
        assert_eq!(
            kills,
            [true, false, true, false, true, false, false, false, false, false]
        );
    }

    #[test]
    fn a_kill_lands_within_the_mean_invocation_or_the_given_bound() {
        let stats = CrashStats {
            completed: 4,
            completed_time: Duration::from_millis(400),
            ..CrashStats::default()
        };
        let mut c = Crashes::new(plan(1.0, 100));
        for _ in 0..20 {
            if let Some(after) = c.decide(&stats) {
                assert!(after < Duration::from_millis(100), "{after:?}");
            }
        }
        let mut c = Crashes::new(CrashPlan {
            within: Some(Duration::from_millis(5)),
            ..plan(1.0, 100)
        });
        for _ in 0..20 {
            if let Some(after) = c.decide(&stats) {
                assert!(after < Duration::from_millis(5), "{after:?}");
            }
        }
        assert!(Crashes::new(plan(0.0, 100)).decide(&stats).is_none());
    }
}
