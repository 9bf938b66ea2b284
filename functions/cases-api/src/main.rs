//! cases-api: the HTTP API of collection cases. Configuration: `TABLE_NAME` only (no secrets, no
//! Tripletex, no queues: least privilege).

use std::process::ExitCode;

use lambda_http::{run, service_fn, Request};
use shared::adapters::store::DynamoStore;
use shared::config::required;
use shared::services::cases::CasesService;

#[tokio::main]
async fn main() -> ExitCode {
    shared::telemetry::init();
    let table = match required("TABLE_NAME") {
        Ok(t) => t,
        Err(e) => {
            eprintln!("cases-api: configuration error: {e}");
            tracing::error!(error = %e, "configuration error; not starting");
            return ExitCode::FAILURE;
        }
    };
    let sdk = shared::adapters::aws::sdk_config().await;
    let svc = CasesService::new(DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), table));
    let svc = &svc;
    match run(service_fn(move |req: Request| async move {
        cases_api::handle(svc, req, chrono::Utc::now()).await
    }))
    .await
    {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cases-api: runtime error: {e}");
            ExitCode::FAILURE
        }
    }
}
