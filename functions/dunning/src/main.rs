//! dunning: the schedule's fan-out and the dunning queue's worker (see lib.rs).
//! Configuration: `TABLE_NAME`, `DUNNING_QUEUE_URL`, `LETTERS_BUCKET`, `MAIL_FROM`,
//! `SECRET_PREFIX`, `TRIPLETEX_BASE_URL`, `TRIPLETEX_CONSUMER_TOKEN_SECRET_ID`.

#![recursion_limit = "256"]

use std::process::ExitCode;

use lambda_runtime::{run, service_fn, LambdaEvent};
use serde_json::Value;

use std::sync::Arc;

use dunning::Worker;
use shared::config::{required, AppConfig};
use shared::services::dunning::ports::{AwsResources, PdfRenderer};
use shared::services::dunning::{DunningService, Sending};
use shared::services::sync::TripletexSource;

#[tokio::main]
async fn main() -> ExitCode {
    shared::telemetry::init();
    let (config, queue, bucket, mail_from) = match (
        AppConfig::from_env(),
        required("DUNNING_QUEUE_URL"),
        required("LETTERS_BUCKET"),
        required("MAIL_FROM"),
    ) {
        (Ok(c), Ok(q), Ok(b), Ok(m)) => (c, q, b, m),
        (Err(e), ..) => return config_error(&e),
        (_, Err(e), ..) | (_, _, Err(e), _) | (.., Err(e)) => return config_error(&e),
    };
    let sdk = shared::adapters::aws::sdk_config().await;
    let resources = AwsResources {
        table: config.table_name.clone(),
        dunning_queue_url: queue,
        letters_bucket: bucket,
    };
    let sending = Sending::on_aws(
        &sdk,
        &config.table_name,
        &mail_from,
        &config.secret_prefix,
        TripletexSource::from_config(&config.tripletex),
        Arc::new(PdfRenderer),
    );
    let mut dunning = DunningService::on_aws(&sdk, &resources, shared::clock::system());
    dunning.sending = Some(sending);
    let worker = Worker { dunning };
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
            eprintln!("dunning: runtime error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn config_error(e: &dyn std::fmt::Display) -> ExitCode {
    eprintln!("dunning: configuration error: {e}");
    tracing::error!(error = %e, "configuration error; not starting");
    ExitCode::FAILURE
}
