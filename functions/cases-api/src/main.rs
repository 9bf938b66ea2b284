//! cases-api: the HTTP API of collection cases and settlements. Configuration: `TABLE_NAME`,
//! `VOUCHER_POSTING_QUEUE_URL` (the retry of a held settlement; no secrets, no Tripletex: least
//! privilege).

use std::process::ExitCode;
use std::sync::Arc;

use lambda_http::{run, service_fn, Request};
use shared::adapters::queue::VoucherPostingQueue;
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
    let mut svc = CasesService::new(DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), table));
    match required("VOUCHER_POSTING_QUEUE_URL") {
        Ok(url) => {
            svc = svc.with_posting_queue(Arc::new(VoucherPostingQueue::new(
                aws_sdk_sqs::Client::new(&sdk),
                url,
            )))
        }
        // The cases still work; a retry answers 503.
        Err(e) => tracing::error!(error = %e, "no voucher-posting queue: retries are refused"),
    }
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
