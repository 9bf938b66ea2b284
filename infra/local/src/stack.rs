//! The whole local stack: moto provisioned from the template, the sandbox, the function processes, the
//! API Gateway emulation and the SQS event sources.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use axum::body::Bytes;
use secrecy::SecretString;
use serde_json::Value as Json;
use tokio::sync::watch;

use crate::apigw::{HttpApi, Route};
use crate::jwt;
use crate::moto::{self, Moto};
use crate::provision;
use crate::runtime::{self, FunctionRunner, InvokeError, LogSink};
use crate::template::{FunctionDef, ResolvedResources, Resolver, Template};

/// Where the repository is: `$INNDRIVE_REPO_ROOT`, else the nearest ancestor of the current directory
/// with a `template.yaml` and a `Cargo.toml`, else the checkout this crate was built from.
pub fn repo_root() -> PathBuf {
    if let Some(r) = std::env::var_os("INNDRIVE_REPO_ROOT").filter(|r| !r.is_empty()) {
        return PathBuf::from(r);
    }
    if let Ok(mut dir) = std::env::current_dir() {
        loop {
            if dir.join("template.yaml").is_file() && dir.join("Cargo.toml").is_file() {
                return dir;
            }
            if !dir.pop() {
                break;
            }
        }
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// How to start the stack.
#[derive(Clone)]
pub struct StackOptions {
    /// The SAM template (default: `<repo root>/template.yaml`).
    pub template: PathBuf,
    /// Start the Tripletex sandbox with this fixture (default: the demo fixture). None: no sandbox.
    pub fixture: Option<tripletex_sandbox::Fixture>,
    /// Tripletex base URL the functions use (default: the sandbox's, else the template's default),
    /// e.g. `https://api-test.tripletex.tech/v2`.
    pub tripletex_base_url: Option<String>,
    /// The consumer token stored in the consumer-token secret (default: the fixture's first one when
    /// the functions talk to the sandbox).
    pub consumer_token: Option<String>,
    /// Directory of the function binaries (default: [`runtime::default_bin_dir`]).
    pub bin_dir: Option<PathBuf>,
    /// Logical ids of the functions to run. None = all functions in the template.
    pub functions: Option<Vec<String>>,
    /// How soon a failed SQS message is visible again (AWS: the queue's visibility timeout).
    pub sqs_retry_delay: Duration,
    /// `AWS::StackName` (default "inndrive-local").
    pub stack_name: String,
    /// Template parameter overrides (on top of the local ones: Stage=local, JwtIssuer, JwtAudience,
    /// TripletexBaseUrl).
    pub parameters: BTreeMap<String, String>,
    /// Port of the HTTP API (None: a free port).
    pub api_port: Option<u16>,
    /// An already running moto (default: `$MOTO_ENDPOINT`, else one is started).
    pub moto_endpoint: Option<String>,
    /// Start a moto of the stack's own even when `$MOTO_ENDPOINT` is set (a test that reads
    /// moto's whole state, e.g. the mails its SES took, reads only its own then).
    pub own_moto: bool,
    /// The moto venv (default: `$INNDRIVE_MOTO_VENV`, else `<repo root>/.venv-moto`).
    pub moto_venv: Option<PathBuf>,
    /// File for moto's output (None: discarded).
    pub moto_log: Option<PathBuf>,
    /// Print function and runner log lines to stdout as well (they are always kept in memory).
    pub echo_logs: bool,
    /// Environment variables every function process gets on top of the template's (tests: e.g.
    /// a short `TRIPLETEX_REQUEST_TIMEOUT_SECONDS`).
    pub function_env: BTreeMap<String, String>,
}

impl std::fmt::Debug for StackOptions {
    // Hand-written so the consumer token never reaches a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StackOptions")
            .field("template", &self.template)
            .field("fixture", &self.fixture.as_ref().map(|_| "<fixture>"))
            .field("tripletex_base_url", &self.tripletex_base_url)
            .field(
                "consumer_token",
                &self.consumer_token.as_ref().map(|_| "<redacted>"),
            )
            .field("bin_dir", &self.bin_dir)
            .field("functions", &self.functions)
            .field("sqs_retry_delay", &self.sqs_retry_delay)
            .field("stack_name", &self.stack_name)
            .field("parameters", &self.parameters)
            .field("api_port", &self.api_port)
            .field("moto_endpoint", &self.moto_endpoint)
            .field("own_moto", &self.own_moto)
            .field("function_env", &self.function_env)
            .finish_non_exhaustive()
    }
}

impl Default for StackOptions {
    fn default() -> Self {
        StackOptions {
            template: repo_root().join("template.yaml"),
            fixture: Some(tripletex_sandbox::Fixture::demo()),
            tripletex_base_url: None,
            consumer_token: None,
            bin_dir: None,
            functions: None,
            sqs_retry_delay: Duration::from_secs(1),
            stack_name: "inndrive-local".into(),
            parameters: BTreeMap::new(),
            api_port: None,
            moto_endpoint: None,
            own_moto: false,
            moto_venv: None,
            moto_log: None,
            echo_logs: false,
            function_env: BTreeMap::new(),
        }
    }
}

/// A running local stack. Dropping it stops everything (without waiting); prefer [`LocalStack::shutdown`].
pub struct LocalStack {
    /// e.g. "http://127.0.0.1:PORT", with `/{stage}` for a named stage (routes as in the template:
    /// `{api_url}/v1/accounts`).
    pub api_url: String,
    pub moto_endpoint: String,
    /// The sandbox's base URL ("http://127.0.0.1:PORT/v2") when one was started.
    pub sandbox_url: Option<String>,
    /// The Tripletex base URL the functions use.
    pub tripletex_base_url: String,
    /// Logical id → physical name / URL / ARN.
    pub resources: ResolvedResources,
    /// The functions that run (resolved).
    pub functions: Vec<FunctionDef>,
    /// (logical id, type) of resources the stack does not emulate.
    pub not_emulated: Vec<(String, String)>,
    /// JWT issuer and audiences the API accepts.
    pub jwt_issuer: String,
    pub jwt_audiences: Vec<String>,
    logs: Arc<LogSink>,
    moto: Moto,
    sandbox: Option<tripletex_sandbox::SandboxHandle>,
    runners: BTreeMap<String, Arc<FunctionRunner>>,
    delivery: Arc<crate::sqs_source::DeliveryControl>,
    stop_tx: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

/// Starts the stack. Servers run as tasks on the current tokio runtime (use a multi-thread runtime in
/// tests, e.g. `#[tokio::test(flavor = "multi_thread")]`).
pub async fn start(opts: StackOptions) -> anyhow::Result<LocalStack> {
    let logs = LogSink::new(opts.echo_logs);
    let template = Template::from_path(&opts.template)?;

    // Fail fast on missing binaries, before anything is started.
    let bin_dir = opts
        .bin_dir
        .clone()
        .unwrap_or_else(runtime::default_bin_dir);
    let all_fns: Vec<String> = template
        .resources_of_type("AWS::Serverless::Function")
        .map(|r| r.logical_id.clone())
        .collect();
    let selected: Vec<String> = match &opts.functions {
        None => all_fns.clone(),
        Some(list) => {
            for f in list {
                if !all_fns.contains(f) {
                    bail!(
                        "function {f} is not in {} (functions: {all_fns:?})",
                        opts.template.display()
                    );
                }
            }
            list.clone()
        }
    };
    let mut binaries = BTreeMap::new();
    for id in &selected {
        let bin = template.resources[id]
            .metadata
            .get("BuildProperties")
            .and_then(|b| b.get("Binary"))
            .and_then(Json::as_str)
            .ok_or_else(|| anyhow!("function {id} has no Metadata.BuildProperties.Binary"))?;
        binaries.insert(id.clone(), runtime::find_binary(&bin_dir, bin)?);
    }

    // The sandbox.
    let sandbox = match &opts.fixture {
        Some(f) => Some(
            tripletex_sandbox::start(
                f.clone(),
                tripletex_sandbox::Faults::default(),
                ([127, 0, 0, 1], 0).into(),
            )
            .await
            .context("starting the Tripletex sandbox")?,
        ),
        None => None,
    };
    let sandbox_url = sandbox.as_ref().map(|s| s.base_url.clone());
    let tripletex_base_url = opts
        .tripletex_base_url
        .clone()
        .or_else(|| sandbox_url.clone());
    let consumer_token: Option<SecretString> = match (
        &opts.consumer_token,
        &opts.tripletex_base_url,
        &opts.fixture,
    ) {
        (Some(t), _, _) => Some(SecretString::from(t.clone())),
        (None, None, Some(f)) => f.consumer_tokens.first().cloned().map(SecretString::from),
        _ => None,
    };

    // moto.
    let external = opts.moto_endpoint.clone().or_else(|| {
        std::env::var("MOTO_ENDPOINT")
            .ok()
            .filter(|e| !e.is_empty() && !opts.own_moto)
    });
    let moto = match external {
        Some(e) => Moto::external(&e),
        None => {
            let venv = opts
                .moto_venv
                .clone()
                .unwrap_or_else(|| moto::venv_dir(&repo_root()));
            Moto::start(&venv, opts.moto_log.as_deref()).await?
        }
    };
    let sdk = moto::sdk_config_for(&moto.endpoint).await;

    // Parameters and provisioning.
    let mut overrides = BTreeMap::from([
        ("Stage".to_string(), "local".to_string()),
        ("JwtIssuer".to_string(), jwt::DEV_ISSUER.to_string()),
        ("JwtAudience".to_string(), jwt::DEV_AUDIENCE.to_string()),
    ]);
    if let Some(url) = &tripletex_base_url {
        overrides.insert("TripletexBaseUrl".into(), url.clone());
    }
    overrides.extend(opts.parameters.clone());
    let mut resolver = Resolver::new(&template, &opts.stack_name, &overrides)?;
    let report =
        provision::provision(&template, &mut resolver, &sdk, consumer_token.as_ref()).await?;
    for a in &report.actions {
        logs.push(format!("[stack] {a}"));
    }
    for (id, t) in &report.not_emulated {
        logs.push(format!("[stack] {id} ({t}): not emulated"));
    }
    if consumer_token.is_none()
        && !template
            .resources_referenced_by_env_var(provision::CONSUMER_TOKEN_SECRET_VAR)
            .is_empty()
    {
        logs.push("[stack] no Tripletex consumer token configured: the consumer-token secret has no value".into());
    }

    // Functions.
    let functions: Vec<FunctionDef> = template
        .functions(&resolver)?
        .into_iter()
        .filter(|f| selected.contains(&f.logical_id))
        .map(|mut f| {
            f.env.extend(opts.function_env.clone());
            f
        })
        .collect();
    // The operator verifies the mail sender (`SenderEmail`) in SES once per account and region;
    // moto's SES gets the same here, or it refuses the functions' mail.
    let senders: std::collections::BTreeSet<&String> = functions
        .iter()
        .filter_map(|f| f.env.get(provision::MAIL_FROM_VAR))
        .collect();
    for sender in senders {
        provision::verify_sender(&sdk, sender).await?;
        logs.push(format!("[stack] SES identity {sender}: verified"));
    }
    let base_env = BTreeMap::from([
        ("AWS_ENDPOINT_URL".to_string(), moto.endpoint.clone()),
        ("AWS_ACCESS_KEY_ID".to_string(), "test".to_string()),
        ("AWS_SECRET_ACCESS_KEY".to_string(), "test".to_string()),
    ]);
    let mut runners = BTreeMap::new();
    for f in &functions {
        let r = FunctionRunner::start(
            f.clone(),
            binaries[&f.logical_id].clone(),
            &base_env,
            logs.clone(),
        )
        .await?;
        logs.push(format!(
            "[stack] function {} ({}) runtime API {}",
            f.logical_id, f.binary, r.runtime_api
        ));
        runners.insert(f.logical_id.clone(), Arc::new(r));
    }

    // API Gateway.
    let apis = template.http_apis(&resolver)?;
    let mut routes = Vec::new();
    for f in &functions {
        for r in &f.http_routes {
            routes.push(Route::new(
                &r.method,
                &r.path,
                r.authorized,
                runners[&f.logical_id].clone(),
            ));
        }
    }
    let api_def = apis.into_iter().next().unwrap_or_default();
    let jwt_issuer = api_def
        .jwt
        .as_ref()
        .map(|j| j.issuer.clone())
        .unwrap_or_else(|| jwt::DEV_ISSUER.into());
    let jwt_audiences = api_def
        .jwt
        .as_ref()
        .map(|j| j.audiences.clone())
        .unwrap_or_else(|| vec![jwt::DEV_AUDIENCE.into()]);
    let api = Arc::new(HttpApi {
        stage: api_def.stage.clone(),
        routes,
        jwt: api_def.jwt,
        cors: api_def.cors,
    });
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", opts.api_port.unwrap_or(0)))
        .await
        .with_context(|| format!("binding the API port {:?}", opts.api_port))?;
    // A named stage serves under `/{stage}`; `$default` at the root.
    let api_url = match api_def.stage.as_str() {
        crate::template::DEFAULT_STAGE => format!("http://{}", listener.local_addr()?),
        stage => format!("http://{}/{stage}", listener.local_addr()?),
    };
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut tasks = Vec::new();
    let mut api_stop = stop_rx.clone();
    tasks.push(tokio::spawn(async move {
        let _ = crate::apigw::serve(listener, api, async move {
            runtime::stopped(&mut api_stop).await
        })
        .await;
    }));

    // SQS event sources.
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let delivery = Arc::new(crate::sqs_source::DeliveryControl::default());
    for f in &functions {
        for s in f.sqs_sources.iter().filter(|s| s.enabled) {
            let url = resolver
                .resources
                .queue_url_by_arn(&s.queue_arn)
                .ok_or_else(|| {
                    anyhow!(
                        "SQS event {} of {}: no queue with ARN {}",
                        s.event_name,
                        f.logical_id,
                        s.queue_arn
                    )
                })?
                .to_string();
            logs.push(format!(
                "[stack] {} polls {url} ({})",
                f.logical_id, s.event_name
            ));
            tasks.push(tokio::spawn(crate::sqs_source::run_poller(
                runners[&f.logical_id].clone(),
                s.clone(),
                url,
                sqs.clone(),
                opts.sqs_retry_delay,
                logs.clone(),
                delivery.clone(),
                stop_rx.clone(),
            )));
        }
    }

    Ok(LocalStack {
        api_url,
        moto_endpoint: moto.endpoint.clone(),
        sandbox_url,
        tripletex_base_url: resolver
            .param_str("TripletexBaseUrl")
            .or(tripletex_base_url)
            .unwrap_or_default(),
        resources: resolver.resources.clone(),
        functions,
        not_emulated: report.not_emulated,
        jwt_issuer,
        jwt_audiences,
        logs,
        moto,
        sandbox,
        runners,
        delivery,
        stop_tx,
        tasks,
    })
}

impl LocalStack {
    /// A JWT the local API accepts, for organization `org` (sub "dev-user", valid one hour).
    pub fn dev_jwt(&self, org: &str) -> String {
        self.dev_jwt_for(org, "dev-user", Duration::from_secs(3600))
    }

    pub fn dev_jwt_for(&self, org: &str, sub: &str, ttl: Duration) -> String {
        let aud = self
            .jwt_audiences
            .first()
            .map(String::as_str)
            .unwrap_or(jwt::DEV_AUDIENCE);
        jwt::sign(&self.jwt_issuer, aud, org, sub, ttl)
    }

    /// Every log line so far: function stdout/stderr (prefixed `[LogicalId]`) and runner events.
    pub fn logs(&self) -> Vec<String> {
        self.logs.snapshot()
    }

    /// Every event handed to a function and every response it gave, oldest first.
    pub fn traffic(&self) -> Vec<crate::runtime::Traffic> {
        self.logs.traffic()
    }

    /// SDK configuration pointing at this stack's moto.
    pub async fn sdk_config(&self) -> aws_config::SdkConfig {
        moto::sdk_config_for(&self.moto_endpoint).await
    }

    /// The sandbox, when one was started (faults, stats, clock).
    pub fn sandbox(&self) -> Option<&tripletex_sandbox::SandboxHandle> {
        self.sandbox.as_ref()
    }

    /// Invokes a function directly (like `aws lambda invoke`) with a JSON payload.
    pub async fn invoke(&self, logical_id: &str, payload: &Json) -> anyhow::Result<Json> {
        let out = self
            .invoke_raw(logical_id, Bytes::from(serde_json::to_vec(payload)?))
            .await?;
        Ok(serde_json::from_slice(&out)?)
    }

    /// Invokes a function as its EventBridge Scheduler event `event_name` would (with the
    /// event's `Input`), e.g. `invoke_schedule("DunningFunction", "DailyDunning")`.
    pub async fn invoke_schedule(
        &self,
        logical_id: &str,
        event_name: &str,
    ) -> anyhow::Result<Json> {
        let f = self
            .functions
            .iter()
            .find(|f| f.logical_id == logical_id)
            .ok_or_else(|| anyhow!("function {logical_id} is not running"))?;
        let s = f
            .schedules
            .iter()
            .find(|s| s.event_name == event_name)
            .ok_or_else(|| anyhow!("{logical_id} has no schedule event {event_name}"))?;
        self.invoke(logical_id, &s.input).await
    }

    /// Invokes a function with raw bytes; the error says how the invocation failed.
    pub async fn invoke_raw(&self, logical_id: &str, payload: Bytes) -> Result<Bytes, InvokeError> {
        match self.runners.get(logical_id) {
            Some(r) => r.invoke(payload).await,
            None => Err(InvokeError::Init(format!(
                "function {logical_id} is not running"
            ))),
        }
    }

    /// Kills a function's process at random points of its invocations from now on (see
    /// [`runtime::CrashPlan`]); None stops it. False when the function does not run.
    pub fn set_crash_plan(&self, logical_id: &str, plan: Option<runtime::CrashPlan>) -> bool {
        self.runners
            .get(logical_id)
            .map(|r| r.set_crash_plan(plan))
            .is_some()
    }

    /// How the SQS event sources hand messages over from their next receive on (e.g. a
    /// redelivery storm, [`crate::sqs_source::Delivery::Storm`]).
    pub fn set_delivery(&self, mode: crate::sqs_source::Delivery) {
        self.delivery.set(mode)
    }

    /// Records the SQS event sources handed to functions since the stack started, and of those
    /// the extra copies a storm added.
    pub fn delivered(&self) -> (u64, u64) {
        self.delivery.delivered()
    }

    /// What the crash plan of a function did since it was set.
    pub fn crash_stats(&self, logical_id: &str) -> Option<runtime::CrashStats> {
        self.runners.get(logical_id).map(|r| r.crash_stats())
    }

    /// Process ids: moto (when started by the stack) and the function processes.
    pub fn pids(&self) -> BTreeMap<String, u32> {
        let mut out = BTreeMap::new();
        if let Some(p) = self.moto.pid() {
            out.insert("moto".to_string(), p);
        }
        for (id, r) in &self.runners {
            out.insert(id.clone(), r.pid());
        }
        out
    }

    /// Stops the pollers, the API, the functions, the sandbox and moto (if started here).
    pub async fn shutdown(mut self) {
        let _ = self.stop_tx.send(true);
        for t in std::mem::take(&mut self.tasks) {
            let _ = tokio::time::timeout(Duration::from_secs(5), t).await;
        }
        for r in self.runners.values() {
            r.shutdown().await;
        }
        if let Some(s) = self.sandbox.take() {
            s.shutdown().await;
        }
        self.moto.shutdown().await;
    }
}

impl Drop for LocalStack {
    fn drop(&mut self) {
        let _ = self.stop_tx.send(true);
    }
}
