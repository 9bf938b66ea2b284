//! dunning-api: the HTTP API of dunning. Configuration: `TABLE_NAME`, `DUNNING_QUEUE_URL` ("run
//! now" queues the account's run for the dunning function), `LETTERS_BUCKET` (the letters as
//! sent). No SES, no Secrets Manager, no Tripletex, no PDF renderer: it never sends.

use std::process::ExitCode;

use lambda_http::{run, service_fn, Request};
use shared::config::required;
use shared::services::dunning::ports::AwsResources;
use shared::services::dunning::DunningService;

#[tokio::main]
async fn main() -> ExitCode {
    shared::telemetry::init();
    let resources = match (
        required("TABLE_NAME"),
        required("DUNNING_QUEUE_URL"),
        required("LETTERS_BUCKET"),
    ) {
        (Ok(table), Ok(dunning_queue_url), Ok(letters_bucket)) => AwsResources {
            table,
            dunning_queue_url,
            letters_bucket,
        },
        (Err(e), ..) | (_, Err(e), _) | (.., Err(e)) => {
            eprintln!("dunning-api: configuration error: {e}");
            tracing::error!(error = %e, "configuration error; not starting");
            return ExitCode::FAILURE;
        }
    };
    let sdk = shared::adapters::aws::sdk_config().await;
    let svc = DunningService::on_aws(&sdk, &resources, shared::clock::system());
    let svc = &svc;
    match run(service_fn(move |req: Request| async move {
        dunning_api::handle(svc, req, chrono::Utc::now()).await
    }))
    .await
    {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("dunning-api: runtime error: {e}");
            ExitCode::FAILURE
        }
    }
}
