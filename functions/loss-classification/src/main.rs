//! loss-classification: the SQS worker of the classification queue and the daily case job.
//! Configuration: `TABLE_NAME`, `VOUCHER_POSTING_QUEUE_URL`; `MAIL_FROM` (optional: the sender
//! of the organizations' daily legal-steps digest; without it no digest is mailed).

// The worker's futures (SQS batch → claim → store → SDK) nest deeper than the default 128.
#![recursion_limit = "256"]

use std::process::ExitCode;
use std::sync::Arc;

use lambda_runtime::{run, service_fn, LambdaEvent};
use serde_json::Value;

use loss_classification::Worker;
use shared::adapters::mail::{DynamoSentMailLog, Mailer};
use shared::adapters::queue::VoucherPostingQueue;
use shared::adapters::store::DynamoStore;
use shared::config::{optional, required};
use shared::services::cases::CasesService;
use shared::services::classification::ClassificationService;
use shared::services::legal::daily::DigestMail;

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
    let ddb = aws_sdk_dynamodb::Client::new(&sdk);
    let store = DynamoStore::new(ddb.clone(), table.clone());
    let jobs = VoucherPostingQueue::new(aws_sdk_sqs::Client::new(&sdk), posting_queue);
    let mut cases = CasesService::new(store.clone());
    let mail_from = optional("MAIL_FROM", "");
    if !mail_from.is_empty() {
        cases = cases.with_digest_mail(DigestMail {
            mailer: Mailer::new(&sdk, mail_from),
            log: Arc::new(DynamoSentMailLog::new(ddb, table)),
        });
    }
    let worker = Worker {
        classification: ClassificationService::new(store, Arc::new(jobs)),
        cases,
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
