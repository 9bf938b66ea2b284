//! Configuration from the environment, read once at start-up. A missing or malformed variable fails
//! fast with a message naming it, before the function takes any event.

use std::env;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {0} is not set")]
    Missing(&'static str),
    #[error("environment variable {name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
}

/// Reads a required variable.
pub fn required(name: &'static str) -> Result<String, ConfigError> {
    match env::var(name) {
        Ok(v) if !v.trim().is_empty() => Ok(v),
        _ => Err(ConfigError::Missing(name)),
    }
}

/// Reads an optional variable, falling back to `default`.
pub fn optional(name: &'static str, default: &str) -> String {
    env::var(name)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| default.to_string())
}

/// Where Tripletex is and which secret holds our consumer token.
#[derive(Debug, Clone)]
pub struct TripletexConfig {
    /// e.g. `https://tripletex.no/v2`, `https://api-test.tripletex.tech/v2`, or the local sandbox.
    pub base_url: String,
    /// Secrets Manager id of the deploy-time secret that holds our consumer token.
    pub consumer_token_secret_id: String,
    /// How long one request may take before the client gives it up (a read is then tried again):
    /// `TRIPLETEX_REQUEST_TIMEOUT_SECONDS`, 60 by default. Tests set it short, so a request that
    /// hangs costs them seconds rather than a minute.
    pub request_timeout: Duration,
}

impl TripletexConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        let base_url = required("TRIPLETEX_BASE_URL")?;
        if !(base_url.starts_with("https://") || base_url.starts_with("http://")) {
            return Err(ConfigError::Invalid {
                name: "TRIPLETEX_BASE_URL",
                reason: "must start with https:// (or http:// for the local sandbox)".into(),
            });
        }
        let request_timeout =
            request_timeout(&optional("TRIPLETEX_REQUEST_TIMEOUT_SECONDS", "60"))?;
        Ok(Self {
            base_url: base_url.trim_end_matches('/').to_string(),
            consumer_token_secret_id: required("TRIPLETEX_CONSUMER_TOKEN_SECRET_ID")?,
            request_timeout,
        })
    }
}

/// `TRIPLETEX_REQUEST_TIMEOUT_SECONDS`: whole seconds above 0.
fn request_timeout(value: &str) -> Result<Duration, ConfigError> {
    match value.trim().parse::<u64>() {
        Ok(s) if s > 0 => Ok(Duration::from_secs(s)),
        _ => Err(ConfigError::Invalid {
            name: "TRIPLETEX_REQUEST_TIMEOUT_SECONDS",
            reason: format!("must be a whole number of seconds above 0, not {value:?}"),
        }),
    }
}

/// The resources every function shares.
#[derive(Debug, Clone)]
pub struct AppConfig {
    /// The single DynamoDB table.
    pub table_name: String,
    /// The FIFO sync queue (message group = Tripletex key id).
    pub sync_queue_url: String,
    /// Prefix of every secret we create or read, e.g. `inndrive/prod/`. IAM grants only this prefix.
    pub secret_prefix: String,
    pub tripletex: TripletexConfig,
}

impl AppConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        let secret_prefix = required("SECRET_PREFIX")?;
        if !secret_prefix.ends_with('/') {
            return Err(ConfigError::Invalid {
                name: "SECRET_PREFIX",
                reason: "must end with '/'".into(),
            });
        }
        Ok(Self {
            table_name: required("TABLE_NAME")?,
            sync_queue_url: required("SYNC_QUEUE_URL")?,
            secret_prefix,
            tripletex: TripletexConfig::from_env()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_timeout_is_whole_seconds_above_zero() {
        assert_eq!(request_timeout("60").unwrap(), Duration::from_secs(60));
        assert_eq!(request_timeout(" 1 ").unwrap(), Duration::from_secs(1));
        for bad in ["0", "-1", "1.5", "soon", ""] {
            let e = request_timeout(bad).unwrap_err().to_string();
            assert!(
                e.contains("TRIPLETEX_REQUEST_TIMEOUT_SECONDS"),
                "{bad:?}: {e}"
            );
        }
    }
}
