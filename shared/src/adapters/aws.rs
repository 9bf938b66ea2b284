//! One place that builds the AWS SDK configuration.
//!
//! The SDK crates are compiled without their default HTTPS client (it drags in aws-lc-sys and a second
//! hyper stack), so every configuration must be handed a client here; without it every call fails at
//! run time with "No HTTP client was available". `AWS_ENDPOINT_URL` (read by aws-config itself) points
//! the SDK at moto locally; in AWS it is unset.

use std::time::Duration;

use aws_config::{retry::RetryConfig, BehaviorVersion, SdkConfig};
use aws_smithy_http_client::{
    tls::{self, rustls_provider::CryptoMode},
    Builder,
};
pub use aws_smithy_types::retry::RetryMode;

/// The retry configuration the SDK clients get.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AwsRetries {
    /// Deployed: the SDK's standard retry mode, spelled out: 3 attempts per call, exponential
    /// backoff with full jitter from 1 s up to 20 s, and the retry quota that stops retrying when
    /// a service keeps failing. DynamoDB's `ProvisionedThroughputExceededException` and SQS's
    /// `ThrottlingException` / `RequestThrottled` are throttling errors to it, retried like any
    /// transient one.
    Production,
    /// Tests against moto (`INNDRIVE_AWS_RETRIES=off`): the production backoff would retry a moto
    /// 500 for seconds; two quick repeats within 50 ms instead. moto's server has thread races of
    /// its own (a `GetSecretValue` while another test creates a secret answers 500 "dictionary
    /// changed size during iteration") that AWS does not have.
    Moto,
}

impl AwsRetries {
    /// `Moto` when `INNDRIVE_AWS_RETRIES=off`, else `Production`.
    pub fn from_env() -> Self {
        if std::env::var("INNDRIVE_AWS_RETRIES").as_deref() == Ok("off") {
            AwsRetries::Moto
        } else {
            AwsRetries::Production
        }
    }

    pub fn retry_config(self) -> RetryConfig {
        match self {
            AwsRetries::Production => RetryConfig::standard()
                .with_max_attempts(3)
                .with_initial_backoff(Duration::from_secs(1))
                .with_max_backoff(Duration::from_secs(20)),
            AwsRetries::Moto => RetryConfig::standard()
                .with_max_attempts(3)
                .with_initial_backoff(Duration::from_millis(5))
                .with_max_backoff(Duration::from_millis(50)),
        }
    }
}

/// The HTTPS client every SDK client uses (rustls with ring).
pub fn https_client() -> aws_sdk_dynamodb::config::SharedHttpClient {
    Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .build_https()
}

/// The SDK configuration for a Lambda function or a local tool (retries: [`AwsRetries::from_env`]).
pub async fn sdk_config() -> SdkConfig {
    sdk_config_with(https_client(), AwsRetries::from_env()).await
}

/// The SDK configuration over another HTTP client (tests put a fault-injecting one around
/// [`https_client`]), with the retry configuration given.
pub async fn sdk_config_with(
    http: aws_sdk_dynamodb::config::SharedHttpClient,
    retries: AwsRetries,
) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(http)
        .retry_config(retries.retry_config())
        .load()
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn production_retries_are_the_standard_mode_with_its_bounds() {
        let c = AwsRetries::Production.retry_config();
        assert_eq!(c.mode(), RetryMode::Standard);
        assert_eq!(c.max_attempts(), 3);
        assert_eq!(c.initial_backoff(), Duration::from_secs(1));
        assert_eq!(c.max_backoff(), Duration::from_secs(20));
        assert_eq!(AwsRetries::Moto.retry_config().mode(), RetryMode::Standard);
    }
}
