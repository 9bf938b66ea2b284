//! loss-classification: the SQS worker of the classification queue and the daily case job.
//! Configuration: `TABLE_NAME`, `VOUCHER_POSTING_QUEUE_URL`.

// The worker's futures (SQS batch → claim → store → SDK) nest deeper than the default 128.
#![recursion_limit = "256"]

use std::process::ExitCode;
use std::sync::Arc;

use lambda_runtime::{run, service_fn, LambdaEvent};
use serde_json::Value;

use loss_classification::Worker;
use shared::adapters::queue::VoucherPostingQueue;
use shared::adapters::store::DynamoStore;
use shared::config::required;
use shared::services::cases::CasesService;
use shared::services::classification::ClassificationService;

#[tokio::main]
async fn main() -> ExitCode {
    shared::telemetry::init();
    let (table, posting_queue) = match (
        required("TABLE_NAME"),
        required("VOUCHER_POSTING_QUEUE_URL"),
    ) {
        (Ok(t), Ok(q)) => (t, q),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("loss-classification: configuration error: {e}");
            tracing::error!(error = %e, "configuration error; not starting");
            return ExitCode::FAILURE;
        }
    };
    let sdk = shared::adapters::aws::sdk_config().await;
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), table);
    let jobs = VoucherPostingQueue::new(aws_sdk_sqs::Client::new(&sdk), posting_queue);
    let worker = Worker {
        classification: ClassificationService::new(store.clone(), Arc::new(jobs)),
        cases: CasesService::new(store),
    };
    let worker = &worker;
    let handler = service_fn(move |event: LambdaEvent<Value>| async move {
        worker
            .handle(event, chrono::Utc::now())
            .await
            .map_err(lambda_runtime::Error::from)
    });
    match run(handler).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("loss-classification: runtime error: {e}");
            ExitCode::FAILURE
        }
    }
}
