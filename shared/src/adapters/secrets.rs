//! Secrets Manager: the employee tokens of registered Tripletex keys, and our consumer token.
//!
//! An employee token is stored under `{SECRET_PREFIX}{org}/{keyId}` (IAM grants only that prefix).
//! Its description and tags name the org and the key id, never the token. Values are handed in and
//! out as [`SecretString`] only.

use aws_sdk_secretsmanager::{error::DisplayErrorContext, types::Tag, Client};
use secrecy::{ExposeSecret, SecretString};

use crate::domain::setup::{KeyId, OrgId};

#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    #[error("secret {0} does not exist")]
    NotFound(String),
    #[error("secret {0} already exists")]
    AlreadyExists(String),
    /// Secrets Manager refuses the name for now, e.g. a secret of that name is still being deleted.
    #[error(
        "secret {0} cannot be created right now (a secret of that name is still being deleted)"
    )]
    NotYet(String),
    #[error("secret {name} has no string value")]
    NoValue { name: String },
    /// Any other Secrets Manager failure (the text never contains a secret value).
    #[error("Secrets Manager: {0}")]
    Service(String),
}

/// Secrets Manager adapter.
#[derive(Debug, Clone)]
pub struct Secrets {
    client: Client,
    prefix: String,
}

impl Secrets {
    /// `prefix` is `SECRET_PREFIX` (ends with '/').
    pub fn new(client: Client, prefix: impl Into<String>) -> Self {
        Self {
            client,
            prefix: prefix.into(),
        }
    }

    /// The name of a key's employee-token secret.
    pub fn employee_token_name(&self, org: &OrgId, key: &KeyId) -> String {
        format!("{}{}/{}", self.prefix, org, key)
    }

    /// Stores a new key's employee token. Fails with [`SecretsError::AlreadyExists`] if the name is taken.
    pub async fn create_employee_token(
        &self,
        org: &OrgId,
        key: &KeyId,
        token: &SecretString,
    ) -> Result<(), SecretsError> {
        let name = self.employee_token_name(org, key);
        let result = self
            .client
            .create_secret()
            .name(&name)
            .description(format!(
                "Tripletex employee token of Inndrive key {key} (organization {org})"
            ))
            .secret_string(token.expose_secret())
            .tags(tag("inndrive:org", org.as_str()))
            .tags(tag("inndrive:key-id", key.as_str()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) => {
                let service = e.into_service_error();
                if service.is_resource_exists_exception() {
                    Err(SecretsError::AlreadyExists(name))
                } else if service.is_invalid_request_exception() {
                    Err(SecretsError::NotYet(name))
                } else {
                    Err(SecretsError::Service(
                        DisplayErrorContext(&service).to_string(),
                    ))
                }
            }
        }
    }

    /// Reads a key's employee token.
    pub async fn employee_token(
        &self,
        org: &OrgId,
        key: &KeyId,
    ) -> Result<SecretString, SecretsError> {
        self.get_string(&self.employee_token_name(org, key)).await
    }

    /// Deletes a key's employee token at once (no recovery window). A missing secret is not an error.
    pub async fn delete_employee_token(
        &self,
        org: &OrgId,
        key: &KeyId,
    ) -> Result<(), SecretsError> {
        let name = self.employee_token_name(org, key);
        let result = self
            .client
            .delete_secret()
            .secret_id(&name)
            .force_delete_without_recovery(true)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) => {
                let service = e.into_service_error();
                if service.is_resource_not_found_exception() {
                    Ok(())
                } else {
                    Err(SecretsError::Service(
                        DisplayErrorContext(&service).to_string(),
                    ))
                }
            }
        }
    }

    /// Reads any secret's string value by id or ARN (e.g. the consumer token's deploy-time secret).
    pub async fn get_string(&self, secret_id: &str) -> Result<SecretString, SecretsError> {
        let result = self
            .client
            .get_secret_value()
            .secret_id(secret_id)
            .send()
            .await;
        match result {
            Ok(out) => match out.secret_string() {
                Some(s) if !s.is_empty() => Ok(SecretString::from(s.to_string())),
                _ => Err(SecretsError::NoValue {
                    name: secret_id.to_string(),
                }),
            },
            Err(e) => {
                let service = e.into_service_error();
                if service.is_resource_not_found_exception() {
                    Err(SecretsError::NotFound(secret_id.to_string()))
                } else {
                    Err(SecretsError::Service(
                        DisplayErrorContext(&service).to_string(),
                    ))
                }
            }
        }
    }
}

fn tag(key: &str, value: &str) -> Tag {
    Tag::builder().key(key).value(value).build()
}
