//! `inndrive-local`: the local stack (moto + Tripletex sandbox + the function binaries behind a local
//! API Gateway and SQS event sources). See docs/local.md.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
use inndrive_local::{repo_root, LocalStack, StackOptions};
use serde_json::{json, Value};

#[derive(Parser)]
#[command(
    name = "inndrive-local",
    about = "Inndrive's local stack and Lambda runner"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Start moto, the Tripletex sandbox and the functions; print ports, URLs and a dev JWT.
    Up(UpArgs),
    /// Stop a stack started with `up --background`.
    Down,
    /// Show whether a background stack is running, and its ports.
    Status,
    /// The README's main job: start the stack, then, as a frontend would through the HTTP API,
    /// register the sandbox's accountant key, list its clients, create an account and an integration
    /// per client, and print what the user sees. Stops the stack at the end unless --keep.
    Demo {
        /// Organization id for the dev JWT.
        #[arg(long, default_value = "org_regnskap_nord")]
        org: String,
        /// Keep the stack running after the demo (Ctrl-C stops it).
        #[arg(long)]
        keep: bool,
        /// Give the fully linked client (Fjordkraft, 2001) a generated ledger of this many postings
        /// next to its hand-written demo data (SAF-T items, manual vouchers, write-offs, part
        /// payments, …); 0 for the hand-written data only.
        #[arg(long, default_value_t = 600)]
        postings: usize,
        /// How far back the integrations fetch (days).
        #[arg(long, default_value_t = 1095)]
        fetch_days: i64,
    },
    /// Print a dev JWT the local API accepts.
    Jwt {
        /// Organization id (the `org` claim), e.g. org_acme.
        #[arg(long)]
        org: String,
        #[arg(long, default_value = "dev-user")]
        sub: String,
        #[arg(long, default_value_t = 60)]
        ttl_minutes: u64,
    },
    /// Each function's time from process start to its first handled event, with no AWS behind it
    /// (a local Runtime API; see docs/performance.md, Deploy). Build the functions first, in
    /// release for numbers that mean something (`./dev startup` does).
    Startup {
        /// Runs per function (the report gives median, min and max).
        #[arg(long, default_value_t = 20)]
        runs: usize,
        /// Where the function binaries are (default: INNDRIVE_BIN_DIR, else beside this program).
        #[arg(long)]
        bin_dir: Option<PathBuf>,
        /// The SAM template (default: <repo>/template.yaml).
        #[arg(long)]
        template: Option<PathBuf>,
        /// Only these functions (logical ids or binary names, comma-separated; default: all).
        #[arg(long, value_delimiter = ',')]
        functions: Vec<String>,
        /// Extra environment for the functions, KEY=VALUE (repeatable), e.g. to try a setting.
        #[arg(long = "env", value_parser = parse_key_value)]
        env: Vec<(String, String)>,
    },
}

fn parse_key_value(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .ok_or_else(|| format!("`{s}` is not KEY=VALUE"))
}

#[derive(clap::Args, Clone)]
struct UpArgs {
    /// Detach: run the stack in the background (log in .local/stack.log, state in .local/stack.json).
    #[arg(long)]
    background: bool,
    /// Sandbox fixture: `demo`, a fixture file, or `none` (no sandbox).
    #[arg(long, default_value = "demo")]
    fixture: String,
    /// Tripletex base URL for the functions, e.g. https://api-test.tripletex.tech/v2 (default: the sandbox).
    #[arg(long)]
    tripletex_base_url: Option<String>,
    /// Tripletex consumer token (better: the TRIPLETEX_CONSUMER_TOKEN env var, which is not visible in `ps`).
    #[arg(long)]
    consumer_token: Option<String>,
    /// Port of the local HTTP API (default: a free port).
    #[arg(long)]
    api_port: Option<u16>,
    /// The SAM template (default: <repo>/template.yaml).
    #[arg(long)]
    template: Option<PathBuf>,
    /// Only these functions (logical ids, comma-separated; default: all).
    #[arg(long, value_delimiter = ',')]
    functions: Option<Vec<String>>,
    /// Seconds before a failed SQS message is retried (AWS: the queue's visibility timeout).
    #[arg(long, default_value_t = 1)]
    sqs_retry_delay_secs: u64,
    /// Internal: the state file a background stack writes once it is up.
    #[arg(long, hide = true)]
    state_file: Option<PathBuf>,
}

fn state_dir() -> PathBuf {
    repo_root().join(".local")
}

fn state_file() -> PathBuf {
    state_dir().join("stack.json")
}

fn pid_alive(pid: u64) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
        && std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|s| !s.contains(") Z "))
            .unwrap_or(false)
}

fn read_state() -> Option<Value> {
    let text = std::fs::read_to_string(state_file()).ok()?;
    serde_json::from_str(&text).ok()
}

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    let res = match cli.cmd {
        Cmd::Up(args) if args.background => up_background(args).await,
        Cmd::Up(args) => up_foreground(args).await,
        Cmd::Down => down().await,
        Cmd::Status => status().await,
        Cmd::Demo {
            org,
            keep,
            postings,
            fetch_days,
        } => demo(org, keep, postings, fetch_days).await,
        Cmd::Jwt {
            org,
            sub,
            ttl_minutes,
        } => {
            println!(
                "{}",
                inndrive_local::dev_jwt(&org, &sub, Duration::from_secs(ttl_minutes * 60))
            );
            Ok(())
        }
        Cmd::Startup {
            runs,
            bin_dir,
            template,
            functions,
            env,
        } => startup(runs, bin_dir, template, functions, env).await,
    };
    if let Err(e) = res {
        eprintln!("inndrive-local: {e:#}");
        std::process::exit(1);
    }
}

fn options(args: &UpArgs) -> anyhow::Result<StackOptions> {
    let fixture = match args.fixture.as_str() {
        "none" => None,
        "demo" => Some(tripletex_sandbox::Fixture::demo()),
        path => Some(
            tripletex_sandbox::Fixture::from_path(Path::new(path))
                .with_context(|| format!("reading fixture {path}"))?,
        ),
    };
    let consumer_token = args.consumer_token.clone().or_else(|| {
        std::env::var("TRIPLETEX_CONSUMER_TOKEN")
            .ok()
            .filter(|t| !t.is_empty())
    });
    if args.tripletex_base_url.is_some() && consumer_token.is_none() {
        bail!("--tripletex-base-url needs a consumer token: --consumer-token or TRIPLETEX_CONSUMER_TOKEN");
    }
    // With a real Tripletex, no sandbox is needed unless a fixture was asked for explicitly.
    let fixture = if args.tripletex_base_url.is_some() && args.fixture == "demo" {
        None
    } else {
        fixture
    };
    let dir = state_dir();
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut o = StackOptions {
        fixture,
        tripletex_base_url: args.tripletex_base_url.clone(),
        consumer_token,
        functions: args.functions.clone(),
        sqs_retry_delay: Duration::from_secs(args.sqs_retry_delay_secs),
        api_port: args.api_port,
        moto_log: Some(dir.join("moto.log")),
        echo_logs: true,
        ..StackOptions::default()
    };
    if let Some(t) = &args.template {
        o.template = t.clone();
    }
    Ok(o)
}

fn summary(stack: &LocalStack) -> Value {
    let resources: serde_json::Map<String, Value> = stack
        .resources
        .iter()
        .map(|r| (r.logical_id.clone(), json!(r.ref_value)))
        .collect();
    json!({
        "pid": std::process::id(),
        "api_url": stack.api_url,
        "moto_endpoint": stack.moto_endpoint,
        "sandbox_url": stack.sandbox_url,
        "tripletex_base_url": stack.tripletex_base_url,
        "jwt_issuer": stack.jwt_issuer,
        "jwt_audiences": stack.jwt_audiences,
        "functions": stack.functions.iter().map(|f| &f.logical_id).collect::<Vec<_>>(),
        "pids": stack.pids(),
        "resources": resources,
        "log_file": state_dir().join("stack.log"),
        "started_at": chrono::Utc::now().to_rfc3339(),
    })
}

fn print_summary(s: &Value, jwt: &str) {
    let api = s["api_url"].as_str().unwrap_or("");
    println!("inndrive-local stack is up");
    println!("  API (API Gateway HTTP API): {api}");
    println!(
        "  moto (local AWS):           {}",
        s["moto_endpoint"].as_str().unwrap_or("")
    );
    if let Some(sb) = s["sandbox_url"].as_str() {
        println!("  Tripletex sandbox:          {sb}");
    }
    println!(
        "  Tripletex base URL in use:  {}",
        s["tripletex_base_url"].as_str().unwrap_or("")
    );
    if let Some(f) = s["functions"].as_array() {
        let names: Vec<&str> = f.iter().filter_map(Value::as_str).collect();
        println!("  functions:                  {}", names.join(", "));
    }
    if let Some(r) = s["resources"].as_object() {
        for (k, v) in r {
            println!("  {k:<30} {}", v.as_str().unwrap_or(""));
        }
    }
    println!("  dev JWT (org org_demo, 12 h; more: inndrive-local jwt --org ORG):");
    println!("{jwt}");
    println!("  try: curl -H \"Authorization: Bearer $JWT\" {api}/v1/accounts");
}

async fn up_foreground(args: UpArgs) -> anyhow::Result<()> {
    let opts = options(&args)?;
    let stack = inndrive_local::start(opts).await?;
    let s = summary(&stack);
    let jwt = stack.dev_jwt_for("org_demo", "dev-user", Duration::from_secs(12 * 3600));
    for (id, t) in &stack.not_emulated {
        println!("  not emulated: {id} ({t})");
    }
    print_summary(&s, &jwt);
    if let Some(f) = &args.state_file {
        let tmp = f.with_extension("json.tmp");
        std::fs::write(&tmp, serde_json::to_vec_pretty(&s)?)?;
        std::fs::rename(&tmp, f)?;
    }
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    println!("inndrive-local: stopping");
    stack.shutdown().await;
    if let Some(f) = &args.state_file {
        let _ = std::fs::remove_file(f);
    }
    Ok(())
}

async fn up_background(args: UpArgs) -> anyhow::Result<()> {
    if let Some(s) = read_state() {
        if s["pid"].as_u64().is_some_and(pid_alive) {
            bail!(
                "a stack is already running (pid {}, API {}); `inndrive-local down` first",
                s["pid"],
                s["api_url"].as_str().unwrap_or("")
            );
        }
        let _ = std::fs::remove_file(state_file());
    }
    // Validate the options here so mistakes are reported in the terminal, not the log.
    options(&args)?;
    let dir = state_dir();
    let log_path = dir.join("stack.log");
    let log = std::fs::File::create(&log_path)
        .with_context(|| format!("creating {}", log_path.display()))?;
    let exe = std::env::current_exe()?;
    let mut cmd = std::process::Command::new(exe);
    cmd.arg("up")
        .arg("--fixture")
        .arg(&args.fixture)
        .arg("--sqs-retry-delay-secs")
        .arg(args.sqs_retry_delay_secs.to_string())
        .arg("--state-file")
        .arg(state_file());
    if let Some(u) = &args.tripletex_base_url {
        cmd.arg("--tripletex-base-url").arg(u);
    }
    if let Some(p) = args.api_port {
        cmd.arg("--api-port").arg(p.to_string());
    }
    if let Some(t) = &args.template {
        cmd.arg("--template").arg(t);
    }
    if let Some(f) = &args.functions {
        cmd.arg("--functions").arg(f.join(","));
    }
    // The token goes through the environment, never the command line.
    if let Some(t) = &args.consumer_token {
        cmd.env("TRIPLETEX_CONSUMER_TOKEN", t);
    }
    {
        use std::os::unix::process::CommandExt;
        cmd.process_group(0);
    }
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()
        .context("starting the background stack")?;
    let started = Instant::now();
    let http = reqwest::Client::new();
    loop {
        if let Some(st) = child.try_wait()? {
            let tail = std::fs::read_to_string(&log_path).unwrap_or_default();
            let tail: Vec<&str> = tail.lines().rev().take(30).collect();
            bail!(
                "the background stack exited ({st}); last lines of {}:\n{}",
                log_path.display(),
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            );
        }
        if let Some(s) = read_state() {
            if let Some(api) = s["api_url"].as_str() {
                if http.get(format!("{api}/")).send().await.is_ok() {
                    let jwt = inndrive_local::dev_jwt(
                        "org_demo",
                        "dev-user",
                        Duration::from_secs(12 * 3600),
                    );
                    print_summary(&s, &jwt);
                    println!(
                        "  running in the background (pid {}); log: {}",
                        child.id(),
                        log_path.display()
                    );
                    println!("  stop it with: inndrive-local down");
                    return Ok(());
                }
            }
        }
        if started.elapsed() > Duration::from_secs(180) {
            let _ = child.kill();
            bail!(
                "the background stack did not come up within 180 s; see {}",
                log_path.display()
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn signal(pid: u64, sig: &str) {
    let _ = std::process::Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

async fn down() -> anyhow::Result<()> {
    let Some(s) = read_state() else {
        println!(
            "no background stack ({} does not exist)",
            state_file().display()
        );
        return Ok(());
    };
    let Some(pid) = s["pid"].as_u64() else {
        bail!("{} has no pid", state_file().display());
    };
    if pid_alive(pid) {
        signal(pid, "TERM");
        let started = Instant::now();
        while pid_alive(pid) && started.elapsed() < Duration::from_secs(15) {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        if pid_alive(pid) {
            signal(pid, "KILL");
        }
    }
    // Children that outlived it (only if it was killed hard).
    if let Some(pids) = s["pids"].as_object() {
        for p in pids.values().filter_map(Value::as_u64) {
            if p > 0 && pid_alive(p) {
                signal(p, "KILL");
            }
        }
    }
    let _ = std::fs::remove_file(state_file());
    println!("stopped the stack (pid {pid})");
    Ok(())
}

async fn status() -> anyhow::Result<()> {
    let Some(s) = read_state() else {
        println!("not running (no {})", state_file().display());
        return Ok(());
    };
    let pid = s["pid"].as_u64().unwrap_or(0);
    let alive = pid_alive(pid);
    let api = s["api_url"].as_str().unwrap_or("");
    let answering = reqwest::Client::new()
        .get(format!("{api}/"))
        .timeout(Duration::from_secs(2))
        .send()
        .await
        .is_ok();
    println!(
        "{} (pid {pid}); API {api} {}",
        if alive {
            "running"
        } else {
            "NOT running (stale state file)"
        },
        if answering {
            "answers"
        } else {
            "does not answer"
        }
    );
    println!("  moto:    {}", s["moto_endpoint"].as_str().unwrap_or(""));
    if let Some(sb) = s["sandbox_url"].as_str() {
        println!("  sandbox: {sb}");
    }
    println!(
        "  Tripletex base URL: {}",
        s["tripletex_base_url"].as_str().unwrap_or("")
    );
    println!("  log: {}", s["log_file"].as_str().unwrap_or(""));
    Ok(())
}

async fn demo(org: String, keep: bool, postings: usize, fetch_days: i64) -> anyhow::Result<()> {
    let dir = state_dir();
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    println!(
        "Starting the local stack (moto, Tripletex sandbox, functions from template.yaml) ..."
    );
    let mut fixture = tripletex_sandbox::Fixture::demo();
    if postings > 0 {
        fixture = fixture.with_generated_company(
            tripletex_sandbox::DEMO_FULL_CLIENT_ID,
            tripletex_sandbox::GenSpec::with_postings(7, postings),
        )?;
    }
    let opts = StackOptions {
        fixture: Some(fixture),
        moto_log: Some(dir.join("moto.log")),
        ..StackOptions::default()
    };
    let started = Instant::now();
    let stack = inndrive_local::start(opts).await?;
    println!(
        "  up in {:.1} s: API {} · moto {} · Tripletex sandbox {}",
        started.elapsed().as_secs_f64(),
        stack.api_url,
        stack.moto_endpoint,
        stack.sandbox_url.as_deref().unwrap_or("-")
    );
    let demo_opts = inndrive_local::demo::DemoOptions {
        org,
        employee_token: tripletex_sandbox::DEMO_ACCOUNTANT_KEY.to_string(),
        accountant_key: true,
        fetch_from: chrono::Utc::now().date_naive() - chrono::Duration::days(fetch_days),
        letters_dir: dir.join("letters"),
    };
    let result = inndrive_local::demo::run(&stack, &demo_opts).await;
    std::fs::write(dir.join("demo-function.log"), stack.logs().join("\n"))
        .with_context(|| "writing the function log")?;
    println!(
        "  (function logs: {})",
        dir.join("demo-function.log").display()
    );
    if keep && result.is_ok() {
        println!("\nThe stack keeps running; Ctrl-C stops it.");
        let _ = tokio::signal::ctrl_c().await;
    }
    stack.shutdown().await;
    result.map(|_| ())
}

async fn startup(
    runs: usize,
    bin_dir: Option<PathBuf>,
    template: Option<PathBuf>,
    only: Vec<String>,
    env: Vec<(String, String)>,
) -> anyhow::Result<()> {
    use inndrive_local::startup;
    let template = template.unwrap_or_else(|| repo_root().join("template.yaml"));
    let bin_dir = bin_dir.unwrap_or_else(inndrive_local::runtime::default_bin_dir);
    let functions = startup::functions_of(&template)?;
    println!("binaries: {}", bin_dir.display());
    let env = env.into_iter().collect();
    let measured = startup::measure(&functions, &bin_dir, runs, &only, &env).await?;
    print!("{}", startup::report(&measured, runs));
    Ok(())
}
