//! voucher-posting: books settlements in Tripletex (FIFO voucher-posting queue).
//! Configuration: `TABLE_NAME`, `SECRET_PREFIX`, `TRIPLETEX_BASE_URL`,
//! `TRIPLETEX_CONSUMER_TOKEN_SECRET_ID`.

#![recursion_limit = "256"]

use std::process::ExitCode;
use std::sync::Arc;

use aws_lambda_events::event::sqs::SqsEvent;
use lambda_runtime::{run, service_fn, LambdaEvent};

use shared::adapters::secrets::Secrets;
use shared::adapters::store::DynamoStore;
use shared::config::{required, TripletexConfig};
use shared::services::sync::TripletexSource;
use shared::services::vouchers::ports::TripletexBooks;
use shared::services::vouchers::VoucherService;
use voucher_posting::Worker;

#[tokio::main]
async fn main() -> ExitCode {
    shared::telemetry::init();
    let config = (|| {
        Ok::<_, shared::config::ConfigError>((
            required("TABLE_NAME")?,
            required("SECRET_PREFIX")?,
            TripletexConfig::from_env()?,
        ))
    })();
    let (table, prefix, tripletex) = match config {
        Ok(c) => c,
        Err(e) => {
            eprintln!("voucher-posting: configuration error: {e}");
            tracing::error!(error = %e, "configuration error; not starting");
            return ExitCode::FAILURE;
        }
    };
    let sdk = shared::adapters::aws::sdk_config().await;
    let secrets = Secrets::new(aws_sdk_secretsmanager::Client::new(&sdk), prefix);
    // The consumer token is read with the first job, not here: a start needs no network.
    let tripletex = TripletexSource::from_config(&tripletex);
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), table);
    let worker = Worker {
        vouchers: VoucherService::new(
            Arc::new(store),
            Arc::new(TripletexBooks::lazy(tripletex, secrets)),
        ),
    };
    let worker = &worker;
    let handler = service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        worker
            .handle(event, chrono::Utc::now())
            .await
            .map_err(lambda_runtime::Error::from)
    });
    match run(handler).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("voucher-posting: runtime error: {e}");
            ExitCode::FAILURE
        }
    }
}
