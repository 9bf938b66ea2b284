//! Test-only Lambda function for inndrive-local's own tests. Not deployed.
//!
//! SQS events: every record is logged (`worker processed body=... receive_count=...`); a record whose body
//! contains "fail" is reported in `batchItemFailures`, "error" fails the whole invocation, "crash" aborts
//! the process, "sleep" sleeps past any timeout.
//! Other payloads: `{"action": "echo" | "env" | "sleep" | "crash" | "error"}`.
//! With `LOCAL_TEST_WORKER_INIT_FAIL=1` it reports an init error through the Runtime API and exits.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::{json, Value};

async fn handler(event: LambdaEvent<Value>) -> Result<Value, Error> {
    let payload = event.payload;
    if payload.get("Records").is_some() {
        let ev: SqsEvent = serde_json::from_value(payload)?;
        let mut resp = SqsBatchResponse::default();
        for rec in ev.records {
            let body = rec.body.clone().unwrap_or_default();
            let count = rec
                .attributes
                .get("ApproximateReceiveCount")
                .cloned()
                .unwrap_or_default();
            println!(
                "worker processed body={body} receive_count={count} source={}",
                rec.event_source_arn.clone().unwrap_or_default()
            );
            if body.contains("crash") {
                std::process::abort();
            }
            if body.contains("sleep") {
                tokio::time::sleep(std::time::Duration::from_secs(60)).await;
            }
            if body.contains("error") {
                return Err("the batch failed as a whole".into());
            }
            if body.contains("fail") {
                resp.add_failure(rec.message_id.clone().unwrap_or_default());
            }
        }
        return Ok(serde_json::to_value(resp)?);
    }
    match payload
        .get("action")
        .and_then(Value::as_str)
        .unwrap_or("echo")
    {
        "env" => Ok(json!({
            "function_name": std::env::var("AWS_LAMBDA_FUNCTION_NAME").ok(),
            "memory": std::env::var("AWS_LAMBDA_FUNCTION_MEMORY_SIZE").ok(),
            "endpoint": std::env::var("AWS_ENDPOINT_URL").ok(),
            "table": std::env::var("TABLE_NAME").ok(),
            "request_id": event.context.request_id,
            "deadline": event.context.deadline,
            "arn": event.context.invoked_function_arn,
        })),
        "sleep" => {
            tokio::time::sleep(std::time::Duration::from_secs(60)).await;
            Ok(json!("woke"))
        }
        "crash" => std::process::abort(),
        "error" => Err("asked to fail".into()),
        _ => Ok(payload),
    }
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    if std::env::var("LOCAL_TEST_WORKER_INIT_FAIL").as_deref() == Ok("1") {
        let api = std::env::var("AWS_LAMBDA_RUNTIME_API")?;
        reqwest::Client::new()
            .post(format!("http://{api}/2018-06-01/runtime/init/error"))
            .header("Lambda-Runtime-Function-Error-Type", "Runtime.ConfigError")
            .json(&json!({"errorType": "Runtime.ConfigError", "errorMessage": "TABLE_NAME missing (test)"}))
            .send()
            .await?;
        std::process::exit(1);
    }
    lambda_runtime::run(service_fn(handler)).await
}
