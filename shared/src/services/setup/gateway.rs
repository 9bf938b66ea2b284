//! [`TripletexGateway`] for the real [`TripletexClient`]: which calls answer each question, and which
//! step in Tripletex fixes each refusal.

use async_trait::async_trait;

use super::ports::{
    EmployeeCredential, GatewayError, ReachableCompany, TripletexGateway, VerifiedKey,
};
use crate::adapters::tripletex::{Acting, ApiError, EmployeeKey, TripletexClient, TripletexError};
use crate::domain::setup::TripletexFix;

fn employee_key(key: &EmployeeCredential) -> EmployeeKey {
    EmployeeKey::new(key.cache_id.clone(), key.token.clone())
}

fn refused(fix: Option<TripletexFix>, e: &ApiError) -> GatewayError {
    GatewayError::Refused {
        fix,
        status: e.status,
        message: e.to_string(),
        request_id: e.request_id.clone(),
        refused_endpoints: Vec::new(),
    }
}

/// Whether Tripletex blamed the consumer token (ours) rather than the user's key.
fn blames_consumer_token(e: &ApiError) -> bool {
    e.validation_messages.iter().any(|v| {
        v.field
            .as_deref()
            .is_some_and(|f| f.to_ascii_lowercase().contains("consumertoken"))
    })
}

/// Maps a client error. `on_unauthorized` / `on_forbidden` are the fixes that fit the call that failed.
fn map_error(
    e: TripletexError,
    on_unauthorized: TripletexFix,
    on_forbidden: TripletexFix,
) -> GatewayError {
    match e {
        TripletexError::Unauthorized(api) if blames_consumer_token(&api) => GatewayError::Unexpected(
            format!("Tripletex refused Inndrive's consumer token (operator: check the consumer-token secret): {api}"),
        ),
        TripletexError::Unauthorized(api) => refused(Some(on_unauthorized), &api),
        TripletexError::Forbidden(api) => refused(Some(on_forbidden), &api),
        TripletexError::RateLimited { attempts } => GatewayError::Unavailable {
            message: format!("Tripletex rate limit still exceeded after {attempts} attempts"),
            retry_after_secs: 60,
        },
        TripletexError::Server(api) => GatewayError::Unavailable {
            message: format!("Tripletex server error: {api}"),
            retry_after_secs: 30,
        },
        TripletexError::Transport(t) => GatewayError::Unavailable {
            message: format!("Tripletex could not be reached: {t}"),
            retry_after_secs: 30,
        },
        // 422 from session creation (unknown/expired employee token) arrives as Unauthorized from the
        // client; any other 4xx is unexpected here.
        TripletexError::Api(api) => refused(None, &api),
        other => GatewayError::Unexpected(other.to_string()),
    }
}

#[async_trait]
impl TripletexGateway for TripletexClient {
    async fn verify_key(
        &self,
        key: &EmployeeCredential,
        accountant_key: bool,
    ) -> Result<VerifiedKey, GatewayError> {
        let ek = employee_key(key);
        let who = self.who_am_i(&ek, Acting::OwnCompany).await.map_err(|e| {
            map_error(
                e,
                TripletexFix::KeyDeletedOrExpired,
                TripletexFix::GrantAllAccess,
            )
        })?;
        if accountant_key {
            let clients = self.clients_with_login_access(&ek).await.map_err(|e| {
                map_error(
                    e,
                    TripletexFix::KeyDeletedOrExpired,
                    TripletexFix::NotAnAccountantKey,
                )
            })?;
            if clients.is_empty() {
                // An ordinary key lists no clients either. Tell them apart: with user 0 an accountant
                // key reaches only >whoAmI and >withLoginAccess, an ordinary key its own company too.
                match self.company(&ek, Acting::OwnCompany, who.company_id).await {
                    Ok(_) => {
                        return Err(GatewayError::Refused {
                            fix: Some(TripletexFix::NotAnAccountantKey),
                            status: 0,
                            message: "the key has no clients and reads its own company like an \
                                      ordinary key"
                                .into(),
                            request_id: None,
                            refused_endpoints: Vec::new(),
                        })
                    }
                    // An accountant key that is not linked to any client yet.
                    Err(TripletexError::Forbidden(_)) => {}
                    Err(e) => {
                        return Err(map_error(
                            e,
                            TripletexFix::KeyDeletedOrExpired,
                            TripletexFix::GrantAllAccess,
                        ))
                    }
                }
            }
        }
        if !accountant_key {
            // An accounting office's key with user 0 reaches only >whoAmI and >withLoginAccess. If it
            // cannot read its own company but lists clients, it was registered as the wrong kind.
            if let Err(TripletexError::Forbidden(api)) =
                self.company(&ek, Acting::OwnCompany, who.company_id).await
            {
                if let Ok(clients) = self.clients_with_login_access(&ek).await {
                    if !clients.is_empty() {
                        return Err(refused(Some(TripletexFix::IsAnAccountantKey), &api));
                    }
                }
            }
        }
        Ok(VerifiedKey {
            company_id: who.company_id,
            company_name: who.company_name,
            company_org_number: who.company_org_number,
        })
    }

    async fn list_clients(
        &self,
        key: &EmployeeCredential,
        accountant_key: bool,
    ) -> Result<Vec<ReachableCompany>, GatewayError> {
        let ek = employee_key(key);
        if accountant_key {
            let clients = self.clients_with_login_access(&ek).await.map_err(|e| {
                map_error(
                    e,
                    TripletexFix::KeyDeletedOrExpired,
                    TripletexFix::NotAnAccountantKey,
                )
            })?;
            Ok(clients
                .into_iter()
                .map(|c| ReachableCompany {
                    company_id: c.id,
                    name: c.name,
                    organization_number: c.organization_number,
                })
                .collect())
        } else {
            let who = self.who_am_i(&ek, Acting::OwnCompany).await.map_err(|e| {
                map_error(
                    e,
                    TripletexFix::KeyDeletedOrExpired,
                    TripletexFix::GrantAllAccess,
                )
            })?;
            Ok(vec![ReachableCompany {
                company_id: who.company_id,
                name: who.company_name.unwrap_or_default(),
                organization_number: who.company_org_number,
            }])
        }
    }

    async fn check_client_access(
        &self,
        key: &EmployeeCredential,
        accountant_key: bool,
        company_id: i64,
    ) -> Result<ReachableCompany, GatewayError> {
        let ek = employee_key(key);
        let (acting, company) = if accountant_key {
            let clients = self.list_clients(key, true).await?;
            let Some(client) = clients.into_iter().find(|c| c.company_id == company_id) else {
                return Err(GatewayError::Refused {
                    fix: Some(TripletexFix::LinkKeyToClient),
                    status: 0,
                    message: format!(
                        "company {company_id} is not among the clients this key is linked to"
                    ),
                    request_id: None,
                    refused_endpoints: Vec::new(),
                });
            };
            // Linked, but the client's company may have API access switched off.
            self.who_am_i(&ek, Acting::Client(company_id))
                .await
                .map_err(|e| {
                    map_error(
                        e,
                        TripletexFix::EnableApiAccessInClient,
                        TripletexFix::EnableApiAccessInClient,
                    )
                })?;
            (Acting::Client(company_id), client)
        } else {
            let own = self.list_clients(key, false).await?;
            let Some(company) = own.into_iter().find(|c| c.company_id == company_id) else {
                return Err(GatewayError::Refused {
                    fix: Some(TripletexFix::OrdinaryKeyOwnCompanyOnly),
                    status: 0,
                    message: format!(
                        "an ordinary key reaches only its own company, not {company_id}"
                    ),
                    request_id: None,
                    refused_endpoints: Vec::new(),
                });
            };
            (Acting::OwnCompany, company)
        };
        let on_refusal = if accountant_key {
            TripletexFix::EnableApiAccessInClient
        } else {
            TripletexFix::KeyDeletedOrExpired
        };
        let report = self
            .probe_access(&ek, acting)
            .await
            .map_err(|e| map_error(e, on_refusal, TripletexFix::GrantAllAccess))?;
        if !report.is_complete() {
            let names: Vec<String> = report
                .refused
                .iter()
                .map(|e| e.as_str().to_string())
                .collect();
            return Err(GatewayError::Refused {
                fix: Some(TripletexFix::GrantAllAccess),
                status: 403,
                message: format!("Tripletex refused access to: {}", names.join(", ")),
                request_id: None,
                refused_endpoints: names,
            });
        }
        Ok(company)
    }

    async fn existing_accounts(
        &self,
        key: &EmployeeCredential,
        accountant_key: bool,
        company_id: i64,
        numbers: &[u32],
    ) -> Result<Vec<u32>, GatewayError> {
        let acting = Acting::of_key(accountant_key, company_id);
        let found = self
            .accounts_by_number(&employee_key(key), acting, numbers)
            .await
            .map_err(|e| {
                map_error(
                    e,
                    TripletexFix::KeyDeletedOrExpired,
                    TripletexFix::GrantAllAccess,
                )
            })?;
        Ok(found.into_iter().map(|a| a.number).collect())
    }
}

/// A [`TripletexGateway`] that reads our consumer token from Secrets Manager on first use (once per
/// process) and then delegates to a [`TripletexClient`]. A missing token makes Tripletex calls fail
/// with 503 instead of failing the function's start-up.
pub struct LazyTripletexGateway {
    base_url: String,
    consumer_token_secret_id: String,
    secrets: crate::adapters::secrets::Secrets,
    /// The client's per-request timeout (None: the client's default).
    request_timeout: Option<std::time::Duration>,
    client: tokio::sync::OnceCell<TripletexClient>,
}

impl LazyTripletexGateway {
    pub fn new(
        base_url: impl Into<String>,
        consumer_token_secret_id: impl Into<String>,
        secrets: crate::adapters::secrets::Secrets,
    ) -> Self {
        Self {
            base_url: base_url.into(),
            consumer_token_secret_id: consumer_token_secret_id.into(),
            secrets,
            request_timeout: None,
            client: tokio::sync::OnceCell::new(),
        }
    }

    /// Bounds each Tripletex request (see `TripletexConfig::request_timeout`).
    pub fn with_request_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.request_timeout = Some(timeout);
        self
    }

    async fn client(&self) -> Result<&TripletexClient, GatewayError> {
        self.client
            .get_or_try_init(|| async {
                let token = self
                    .secrets
                    .get_string(&self.consumer_token_secret_id)
                    .await
                    .map_err(|e| {
                        tracing::error!(error = %e, secret = %self.consumer_token_secret_id, "the Tripletex consumer token could not be read");
                        GatewayError::Unavailable {
                            message: "the Tripletex connection is not configured yet".into(),
                            retry_after_secs: 60,
                        }
                    })?;
                let client = TripletexClient::new(self.base_url.clone(), token);
                Ok(match self.request_timeout {
                    Some(t) => client.with_request_timeout(t),
                    None => client,
                })
            })
            .await
    }
}

#[async_trait]
impl TripletexGateway for LazyTripletexGateway {
    async fn verify_key(
        &self,
        key: &EmployeeCredential,
        accountant_key: bool,
    ) -> Result<VerifiedKey, GatewayError> {
        self.client().await?.verify_key(key, accountant_key).await
    }
    async fn list_clients(
        &self,
        key: &EmployeeCredential,
        accountant_key: bool,
    ) -> Result<Vec<ReachableCompany>, GatewayError> {
        self.client().await?.list_clients(key, accountant_key).await
    }
    async fn check_client_access(
        &self,
        key: &EmployeeCredential,
        accountant_key: bool,
        company_id: i64,
    ) -> Result<ReachableCompany, GatewayError> {
        self.client()
            .await?
            .check_client_access(key, accountant_key, company_id)
            .await
    }
    async fn existing_accounts(
        &self,
        key: &EmployeeCredential,
        accountant_key: bool,
        company_id: i64,
        numbers: &[u32],
    ) -> Result<Vec<u32>, GatewayError> {
        self.client()
            .await?
            .existing_accounts(key, accountant_key, company_id, numbers)
            .await
    }
}
