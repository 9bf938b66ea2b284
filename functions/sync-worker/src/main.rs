//! sync-worker: one sync job per invocation from the FIFO sync queue (BatchSize 1). A job that is
//! checkpointed before the deadline goes on in a continuation job (same key group) and is
//! acknowledged; a job that fails for a passing reason is reported as a batch item failure, and
//! SQS delivers it again (it resumes from its checkpoint).

#![recursion_limit = "256"]

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::{run, service_fn, LambdaEvent};
use shared::adapters::brreg::{BrregClient, CachedBrreg, DynamoBrregCache, PRODUCTION_BASE_URL};
use shared::adapters::mail::{DynamoSentMailLog, Mailer};
use shared::adapters::queue::{process_sqs_batch, ClassificationQueue, SyncJob, SyncQueue};
use shared::adapters::secrets::Secrets;
use shared::adapters::store::DynamoStore;
use shared::config::{optional, AppConfig};
use shared::services::sync::{
    continue_later, JobOutcome, ReadyMail, SyncConfig, SyncError, SyncService, TripletexSource,
};

/// How soon a checkpointed job is delivered again when its continuation could not be queued.
const RESUME_AFTER: Duration = Duration::from_secs(5);

/// The invocation's deadline (epoch ms) as an `Instant`.
fn deadline_of(deadline_ms: u64) -> Option<Instant> {
    if deadline_ms == 0 {
        return None;
    }
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .ok()?
        .as_millis() as u64;
    Some(Instant::now() + Duration::from_millis(deadline_ms.saturating_sub(now_ms)))
}

#[tokio::main]
async fn main() -> ExitCode {
    // Before anything allocates much: large buffers stay in the heap (shared::allocator).
    let tuned = shared::allocator::tune_for_batch_work();
    shared::telemetry::init();
    tracing::debug!(tuned, "heap thresholds");
    let config = match AppConfig::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("sync-worker: configuration error: {e}");
            tracing::error!(error = %e, "configuration error; not starting");
            return ExitCode::FAILURE;
        }
    };
    let classification_url = match shared::config::required("CLASSIFICATION_QUEUE_URL") {
        Ok(u) => u,
        Err(e) => {
            eprintln!("sync-worker: configuration error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut sync_config = SyncConfig::default();
    // 0 (the template's default) = no limit.
    if let Ok(n) = optional("SYNC_MAX_PAGES_PER_INVOCATION", "0").parse::<u32>() {
        sync_config.max_pages_per_invocation = (n > 0).then_some(n);
    }
    if let Ok(s) = optional("SYNC_DEADLINE_MARGIN_SECONDS", "").parse::<u64>() {
        sync_config.deadline_margin = Duration::from_secs(s);
    }
    let sdk = shared::adapters::aws::sdk_config().await;
    let ddb = aws_sdk_dynamodb::Client::new(&sdk);
    let secrets = Secrets::new(
        aws_sdk_secretsmanager::Client::new(&sdk),
        config.secret_prefix.clone(),
    );
    let brreg_url = optional("BRREG_BASE_URL", PRODUCTION_BASE_URL);
    let mail_from = optional("MAIL_FROM", "");
    let mail = (!mail_from.is_empty()).then(|| ReadyMail {
        mailer: Mailer::new(&sdk, mail_from.clone()),
        log: Arc::new(DynamoSentMailLog::new(
            ddb.clone(),
            config.table_name.clone(),
        )),
    });
    let service = SyncService {
        store: DynamoStore::new(ddb.clone(), config.table_name.clone()),
        secrets,
        tripletex: TripletexSource::from_config(&config.tripletex),
        // Stalled-stream protection guards streaming bodies; for small SendMessageBatch calls it
        // only costs CPU (timers polled while waiting).
        classification: ClassificationQueue::new(
            aws_sdk_sqs::Client::from_conf(
                aws_sdk_sqs::config::Builder::from(&sdk)
                    .stalled_stream_protection(
                        aws_sdk_sqs::config::StalledStreamProtectionConfig::disabled(),
                    )
                    .build(),
            ),
            classification_url,
        ),
        brreg: Some(CachedBrreg::new(
            BrregClient::new(brreg_url),
            DynamoBrregCache::new(ddb, config.table_name.clone()),
        )),
        mail,
        config: sync_config,
        clock: shared::clock::system(),
    };
    let service = &service;
    let sync_queue = SyncQueue::new(
        aws_sdk_sqs::Client::new(&sdk),
        config.sync_queue_url.clone(),
    );
    let sync_queue = &sync_queue;
    let handler = move |event: LambdaEvent<SqsEvent>| async move {
        let deadline = deadline_of(event.context.deadline);
        let response: SqsBatchResponse = process_sqs_batch(event, |msg| async move {
            let body = msg.body.unwrap_or_default();
            let receipt = msg.receipt_handle.clone();
            let job: SyncJob = match serde_json::from_str(&body) {
                Ok(job) => job,
                Err(e) => {
                    // Retrying cannot fix it: acknowledge (logged) rather than poison the group.
                    tracing::error!(error = %e, "not a sync job; dropped");
                    return Ok(());
                }
            };
            match service.run_job(&job, deadline).await {
                Ok(JobOutcome::Completed(stats)) => {
                    tracing::info!(stats = %serde_json::to_string(&stats).unwrap_or_default(), "sync job done");
                    Ok(())
                }
                Ok(JobOutcome::Skipped(why)) => {
                    tracing::info!(reason = %why, "sync job skipped");
                    Ok(())
                }
                Ok(JobOutcome::Failed(why)) => {
                    tracing::warn!(reason = %why, "sync failed; status failed, the next sync retries");
                    Ok(())
                }
                Ok(JobOutcome::Suspended(stats)) => {
                    // The rest goes on in a continuation job (same key group); this message is
                    // done. Without it, come back soon through a redelivery (the checkpoint makes
                    // it go on where this one stopped) rather than after the visibility timeout.
                    match continue_later(sync_queue, &job, &stats).await {
                        Ok(id) => {
                            tracing::info!(message_id = %id, pages = stats.checkpoint_pages, "sync continues in a new job");
                            return Ok(());
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "could not queue the continuation; the job is delivered again");
                        }
                    }
                    if let Some(r) = receipt {
                        if let Err(e) = sync_queue.redeliver_after(&r, RESUME_AFTER).await {
                            tracing::warn!(error = %e, "could not shorten the visibility timeout; the job resumes after the queue's");
                        }
                    }
                    Err(SyncError::Suspended)
                }
                Err(e) => Err(e),
            }
        })
        .await;
        Ok::<SqsBatchResponse, lambda_runtime::Error>(response)
    };
    match run(service_fn(handler)).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sync-worker: runtime error: {e}");
            ExitCode::FAILURE
        }
    }
}
