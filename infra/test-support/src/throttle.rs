//! AWS throttling injected at the SDK's HTTP boundary: an HTTP client for the SDK configuration
//! (around the real one) that answers the first attempts of every call with the service's
//! throttling error — DynamoDB's `ProvisionedThroughputExceededException`, SQS's
//! `ThrottlingException` and `RequestThrottled` — without the request reaching the service, and
//! passes later attempts through. It counts the attempts, so a test can show what the SDK's
//! retry configuration did with them.
//!
//! At this boundary rather than in an interceptor: an interceptor can rewrite a response, but not
//! keep the request from the service, and a throttled write that happened anyway is not what
//! AWS does.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;

/// What one operation (e.g. `DynamoDB_20120810.PutItem`, `AmazonSQS.SendMessage`) went through.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Attempts {
    /// Calls (first attempts).
    pub calls: u32,
    /// Attempts in all, the first ones included.
    pub attempts: u32,
    /// Attempts answered with a throttling error.
    pub throttled: u32,
}

/// The throttling client. Clones share the counters.
#[derive(Debug, Clone)]
pub struct Throttle {
    inner: SharedHttpClient,
    /// The first this-many attempts of every call are throttled.
    throttled_attempts: u32,
    counts: Arc<Mutex<BTreeMap<String, Attempts>>>,
}

impl Throttle {
    /// Throttles the first `throttled_attempts` attempts of every call made through `inner`.
    pub fn around(inner: SharedHttpClient, throttled_attempts: u32) -> Self {
        Throttle {
            inner,
            throttled_attempts,
            counts: Arc::default(),
        }
    }

    /// The client to hand to the SDK configuration.
    pub fn client(&self) -> SharedHttpClient {
        SharedHttpClient::new(self.clone())
    }

    /// The attempts so far, by operation.
    pub fn attempts(&self) -> BTreeMap<String, Attempts> {
        self.counts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

impl HttpClient for Throttle {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(Throttling {
            inner: self.inner.http_connector(settings, components),
            throttled_attempts: self.throttled_attempts,
            counts: self.counts.clone(),
        })
    }
}

#[derive(Debug)]
struct Throttling {
    inner: SharedHttpConnector,
    throttled_attempts: u32,
    counts: Arc<Mutex<BTreeMap<String, Attempts>>>,
}

/// The attempt number the SDK announces in `amz-sdk-request: attempt=N; max=M`.
fn attempt_of(request: &HttpRequest) -> u32 {
    request
        .headers()
        .get("amz-sdk-request")
        .and_then(|v| {
            v.split(';')
                .find_map(|p| p.trim().strip_prefix("attempt="))
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(1)
}

/// The throttling error the service behind `target` answers with (awsJson 1.0 protocol). SQS's
/// alternate between its two codes; SQS's query-compatible error header carries the legacy one.
fn throttled(target: &str, attempt: u32) -> HttpResponse {
    let (kind, query_code) = if target.starts_with("DynamoDB") {
        (
            "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
            None,
        )
    } else if attempt % 2 == 1 {
        ("com.amazonaws.sqs#ThrottlingException", None)
    } else {
        (
            "com.amazonaws.sqs#RequestThrottled",
            Some("RequestThrottled;Sender"),
        )
    };
    let body =
        serde_json::json!({"__type": kind, "message": "Rate exceeded (injected by the test)"});
    let mut r = HttpResponse::new(
        StatusCode::try_from(400).expect("400 is a status"),
        SdkBody::from(body.to_string()),
    );
    r.headers_mut()
        .insert("content-type", "application/x-amz-json-1.0");
    if let Some(code) = query_code {
        r.headers_mut().insert("x-amzn-query-error", code);
    }
    r
}

impl HttpConnector for Throttling {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let target = request
            .headers()
            .get("x-amz-target")
            .unwrap_or("other")
            .to_string();
        let attempt = attempt_of(&request);
        let throttle = attempt <= self.throttled_attempts;
        {
            let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
            let c = counts.entry(target.clone()).or_default();
            c.calls += u32::from(attempt == 1);
            c.attempts += 1;
            c.throttled += u32::from(throttle);
        }
        if throttle {
            let response = throttled(&target, attempt);
            HttpConnectorFuture::new(async move { Ok(response) })
        } else {
            self.inner.call(request)
        }
    }
}
