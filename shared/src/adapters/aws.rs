//! One place that builds the AWS SDK configuration.
//!
//! The SDK crates are compiled without their default HTTPS client (it drags in aws-lc-sys and a second
//! hyper stack), so every configuration must be handed a client here; without it every call fails at
//! run time with "No HTTP client was available". `AWS_ENDPOINT_URL` (read by aws-config itself) points
//! the SDK at moto locally; in AWS it is unset.

use aws_config::{retry::RetryConfig, BehaviorVersion, SdkConfig};
use aws_smithy_http_client::{
    tls::{self, rustls_provider::CryptoMode},
    Builder,
};

/// The SDK configuration for a Lambda function or a local tool.
///
/// `INNDRIVE_AWS_RETRIES=off` (tests against moto) replaces the production backoff, which would
/// retry a moto 500 for seconds, with two quick repeats within 50 ms: moto's server has thread
/// races of its own (a `GetSecretValue` while another test creates a secret answers 500
/// "dictionary changed size during iteration") that AWS does not have.
pub async fn sdk_config() -> SdkConfig {
    let http = Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .build_https();
    let mut loader = aws_config::defaults(BehaviorVersion::latest()).http_client(http);
    if std::env::var("INNDRIVE_AWS_RETRIES").as_deref() == Ok("off") {
        loader = loader.retry_config(
            RetryConfig::standard()
                .with_max_attempts(3)
                .with_initial_backoff(std::time::Duration::from_millis(5))
                .with_max_backoff(std::time::Duration::from_millis(50)),
        );
    }
    loader.load().await
}
