//! A small client for the HTTP API, as a frontend uses it: a bearer token and JSON. Used by the
//! `demo` command and the end-to-end tests.

use std::time::Duration;

use anyhow::{Context, Result};
use serde_json::Value;

use crate::LocalStack;

/// A response: status and JSON body (Null when empty).
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
    pub raw: String,
}

impl Reply {
    /// `error.code` of an error body.
    pub fn error_code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }
    pub fn error_field(&self) -> Option<&str> {
        self.body["error"]["field"].as_str()
    }
}

/// The HTTP API as a frontend sees it: a bearer token and JSON.
#[derive(Clone)]
pub struct Api {
    base: String,
    jwt: Option<String>,
    http: reqwest::Client,
    /// Every raw response body this client received (tests scan them for secrets).
    pub seen: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Api {
    pub fn new(stack: &LocalStack, org: &str) -> Self {
        Self::with_token(&stack.api_url, Some(stack.dev_jwt(org)))
    }

    pub fn with_token(base: &str, jwt: Option<String>) -> Self {
        Api {
            base: base.trim_end_matches('/').to_string(),
            jwt,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .expect("reqwest client"),
            seen: Default::default(),
        }
    }

    pub async fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Reply> {
        let method = reqwest::Method::from_bytes(method.as_bytes())?;
        let mut req = self.http.request(method, format!("{}{}", self.base, path));
        if let Some(t) = &self.jwt {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req
            .send()
            .await
            .with_context(|| format!("calling {path}"))?;
        let status = resp.status().as_u16();
        let raw = resp.text().await?;
        self.seen.lock().unwrap().push(raw.clone());
        let body = if raw.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&raw).unwrap_or(Value::String(raw.clone()))
        };
        Ok(Reply { status, body, raw })
    }

    /// A GET whose answer is not JSON (a PDF): status, `Content-Type` and the bytes.
    pub async fn get_bytes(&self, path: &str) -> Result<(u16, String, Vec<u8>)> {
        let mut req = self.http.get(format!("{}{}", self.base, path));
        if let Some(t) = &self.jwt {
            req = req.bearer_auth(t);
        }
        let resp = req
            .send()
            .await
            .with_context(|| format!("calling {path}"))?;
        let status = resp.status().as_u16();
        let content_type = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        Ok((status, content_type, resp.bytes().await?.to_vec()))
    }

    pub async fn get(&self, path: &str) -> Result<Reply> {
        self.call("GET", path, None).await
    }
    pub async fn post(&self, path: &str, body: &Value) -> Result<Reply> {
        self.call("POST", path, Some(body)).await
    }
    pub async fn put(&self, path: &str, body: &Value) -> Result<Reply> {
        self.call("PUT", path, Some(body)).await
    }
    pub async fn patch(&self, path: &str, body: &Value) -> Result<Reply> {
        self.call("PATCH", path, Some(body)).await
    }
    pub async fn delete(&self, path: &str) -> Result<Reply> {
        self.call("DELETE", path, None).await
    }
}
