//! scheduled-sync: the nightly EventBridge Scheduler target (SAM `ScheduleV2`, Europe/Oslo). Lists
//! the integrations (GSI2) and enqueues one sync job each onto the FIFO sync queue, message group =
//! the Tripletex key, deduplication id `scheduled:{integrationId}:{YYYY-MM-DD}` (Oslo date): a
//! retried schedule run enqueues nothing twice. The event's payload is not used.

use std::process::ExitCode;

use lambda_runtime::{run, service_fn, LambdaEvent};
use shared::adapters::queue::SyncQueue;
use shared::adapters::store::DynamoStore;
use shared::config::required;
use shared::services::sync::enqueue_scheduled;

#[tokio::main]
async fn main() -> ExitCode {
    shared::telemetry::init();
    let (table, queue_url) = match (required("TABLE_NAME"), required("SYNC_QUEUE_URL")) {
        (Ok(t), Ok(q)) => (t, q),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("scheduled-sync: configuration error: {e}");
            tracing::error!(error = %e, "configuration error; not starting");
            return ExitCode::FAILURE;
        }
    };
    let sdk = shared::adapters::aws::sdk_config().await;
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), table);
    let queue = SyncQueue::new(aws_sdk_sqs::Client::new(&sdk), queue_url);
    let clock = shared::clock::system();
    let (store, queue, clock) = (&store, &queue, &clock);
    let handler = move |_event: LambdaEvent<serde_json::Value>| async move {
        let run = enqueue_scheduled(store, queue, clock())
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "scheduled sync failed; the schedule's retry policy runs it again");
                lambda_runtime::Error::from(e.to_string())
            })?;
        tracing::info!(
            integrations = run.integrations,
            enqueued = run.enqueued,
            skipped = run.skipped,
            "scheduled sync jobs enqueued"
        );
        Ok::<serde_json::Value, lambda_runtime::Error>(serde_json::to_value(&run)?)
    };
    match run(service_fn(handler)).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("scheduled-sync: runtime error: {e}");
            ExitCode::FAILURE
        }
    }
}
