//! `tripletex-sandbox --fixture <path|demo> --port <port|0> [--fault ...]`: prints
//! `SANDBOX_URL=http://127.0.0.1:PORT/v2` and serves until killed.

use clap::Parser;
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use tripletex_sandbox::{Faults, Fixture, GenSpec, DEMO_FULL_CLIENT_ID};

#[derive(Parser)]
#[command(about = "A local Tripletex API v2 look-alike for Inndrive's tests and demos")]
struct Args {
    /// Fixture file (.json or .toml), or `demo` for the embedded demo fixture.
    #[arg(long, default_value = "demo")]
    fixture: String,
    /// Port on 127.0.0.1; 0 picks a free one.
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Fault rule, repeatable: KIND[:N][@FRACTION][/PATH] with KIND 429 | 429-reset | 500 | 502 |
    /// 503 | truncate | latency=MS; or `latency=MS` (all responses) or `lie-full-result-size`.
    #[arg(long = "fault")]
    faults: Vec<String>,
    /// Faults as JSON (the body of POST /_sandbox/faults); --fault rules are added to it.
    #[arg(long)]
    faults_json: Option<PathBuf>,
    /// Rate limit per key and window (X-Rate-Limit-Limit).
    #[arg(long)]
    rate_limit: Option<u64>,
    /// Rate-limit window in seconds.
    #[arg(long)]
    rate_window: Option<u64>,
    /// Serve a generated client company: `seed=7,postings=100000` (also `customers=N`,
    /// `invoices=N`, `today=YYYY-MM-DD`, `company=ID`; default company: the demo's full client
    /// 2001, next to its hand-written objects). Repeatable for several companies.
    #[arg(long = "generate")]
    generate: Vec<String>,
    /// With --generate: print each generated company's counts (JSON) to stdout before serving.
    #[arg(long)]
    print_stats: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let mut fixture = if args.fixture == "demo" {
        Fixture::demo()
    } else {
        Fixture::from_path(&PathBuf::from(&args.fixture))?
    };
    let mut generated = Vec::new();
    for g in &args.generate {
        let (spec, company) = GenSpec::parse_cli(g).map_err(anyhow::Error::msg)?;
        let company = company.unwrap_or(DEMO_FULL_CLIENT_ID);
        fixture = fixture.with_generated_company(company, spec)?;
        generated.push(company);
    }
    let mut faults = match &args.faults_json {
        Some(p) => serde_json::from_str(&std::fs::read_to_string(p)?)?,
        None => Faults::default(),
    };
    for f in &args.faults {
        faults.apply_cli(f).map_err(anyhow::Error::msg)?;
    }
    if let Some(l) = args.rate_limit {
        faults.rate_limit.limit = l;
    }
    if let Some(w) = args.rate_window {
        faults.rate_limit.window_seconds = w;
    }
    let handle = tripletex_sandbox::start(
        fixture,
        faults,
        SocketAddr::from(([127, 0, 0, 1], args.port)),
    )
    .await?;
    if args.print_stats {
        for c in &generated {
            if let Some(d) = handle.company_data(*c) {
                println!("GENERATED company={c} {}", serde_json::to_string(&d.stats)?);
            }
        }
    }
    println!("SANDBOX_URL={}", handle.base_url);
    std::io::stdout().flush()?;
    tracing::info!(admin = %handle.admin_url(), "tripletex-sandbox listening");
    tokio::signal::ctrl_c().await?;
    handle.shutdown().await;
    Ok(())
}
