//! Tracing set-up, once per process. JSON lines (CloudWatch reads them as structured logs);
//! `RUST_LOG` filters. Secrets are wrapped in `secrecy` types, so no log line can print them.

pub fn init() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(true)
        .without_time() // Lambda stamps every line itself
        .with_target(true)
        .try_init();
}
