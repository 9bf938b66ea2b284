//! integration-setup: builds the configuration, the clients and the services once per process and
//! hands every request to the handler (lib.rs).

use std::process::ExitCode;
use std::sync::Arc;

use lambda_http::{run, service_fn};
use shared::adapters::queue::SyncQueue;
use shared::adapters::secrets::Secrets;
use shared::adapters::store::DynamoStore;
use shared::config::AppConfig;
use shared::services::ledger::LedgerService;
use shared::services::setup::{LazyTripletexGateway, SetupService};

#[tokio::main]
async fn main() -> ExitCode {
    shared::telemetry::init();
    let config = match AppConfig::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("integration-setup: configuration error: {e}");
            tracing::error!(error = %e, "configuration error; not starting");
            return ExitCode::FAILURE;
        }
    };
    let sdk = shared::adapters::aws::sdk_config().await;
    let secrets = Secrets::new(
        aws_sdk_secretsmanager::Client::new(&sdk),
        config.secret_prefix.clone(),
    );
    let tripletex = LazyTripletexGateway::new(
        config.tripletex.base_url.clone(),
        config.tripletex.consumer_token_secret_id.clone(),
        secrets.clone(),
    )
    .with_request_timeout(config.tripletex.request_timeout);
    let ddb = aws_sdk_dynamodb::Client::new(&sdk);
    let store = DynamoStore::new(ddb.clone(), config.table_name.clone());
    let queue = SyncQueue::new(
        aws_sdk_sqs::Client::new(&sdk),
        config.sync_queue_url.clone(),
    );
    let service = integration_setup::Services {
        setup: SetupService::new(
            Arc::new(store.clone()),
            Arc::new(secrets),
            Arc::new(queue.clone()),
            Arc::new(tripletex),
        ),
        ledger: LedgerService::new(store, ddb, queue),
    };
    let service = &service;
    match run(service_fn(move |req| {
        integration_setup::handle(service, req)
    }))
    .await
    {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("integration-setup: runtime error: {e}");
            ExitCode::FAILURE
        }
    }
}
