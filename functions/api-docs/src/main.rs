//! api-docs: serves the OpenAPI document (built once per process). No configuration, no AWS.

use std::process::ExitCode;

use lambda_http::{run, service_fn, Request};

#[tokio::main]
async fn main() -> ExitCode {
    shared::telemetry::init();
    let contract = api_docs::Contract::new();
    let contract = &contract;
    match run(service_fn(move |req: Request| async move {
        api_docs::handle(contract, req, chrono::Utc::now()).await
    }))
    .await
    {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("api-docs: runtime error: {e}");
            ExitCode::FAILURE
        }
    }
}
