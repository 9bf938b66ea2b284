//! legal-documents: the HTTP API of the legal documents. Configuration: `TABLE_NAME`,
//! `LETTERS_BUCKET` (the documents are kept beside the letters, under `documents/`),
//! `SECRET_PREFIX`, `TRIPLETEX_BASE_URL`, `TRIPLETEX_CONSUMER_TOKEN_SECRET_ID` (the invoice copy
//! from Tripletex, read with the account's employee token).

use std::process::ExitCode;
use std::sync::Arc;

use lambda_http::{run, service_fn, Request};
use shared::adapters::letters::LettersBucket;
use shared::adapters::secrets::Secrets;
use shared::adapters::store::DynamoStore;
use shared::config::{required, ConfigError, TripletexConfig};
use shared::domain::collection::rulebook::Rulebook;
use shared::services::legal::documents::{LegalDocuments, TripletexInvoiceCopies};
use shared::services::sync::TripletexSource;

struct Config {
    table: String,
    bucket: String,
    secret_prefix: String,
    tripletex: TripletexConfig,
}

fn config() -> Result<Config, ConfigError> {
    Ok(Config {
        table: required("TABLE_NAME")?,
        bucket: required("LETTERS_BUCKET")?,
        secret_prefix: required("SECRET_PREFIX")?,
        tripletex: TripletexConfig::from_env()?,
    })
}

#[tokio::main]
async fn main() -> ExitCode {
    shared::telemetry::init();
    let config = match config() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("legal-documents: configuration error: {e}");
            tracing::error!(error = %e, "configuration error; not starting");
            return ExitCode::FAILURE;
        }
    };
    let sdk = shared::adapters::aws::sdk_config().await;
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), config.table);
    let secrets = Secrets::new(
        aws_sdk_secretsmanager::Client::new(&sdk),
        config.secret_prefix,
    );
    let svc = LegalDocuments {
        store: store.clone(),
        bucket: Arc::new(LettersBucket::new(&sdk, config.bucket)),
        invoices: Arc::new(TripletexInvoiceCopies {
            store,
            secrets,
            tripletex: TripletexSource::lazy(
                config.tripletex.base_url,
                config.tripletex.consumer_token_secret_id,
            ),
        }),
        rules: Rulebook::norway(),
    };
    let svc = &svc;
    match run(service_fn(move |req: Request| async move {
        legal_documents::handle(svc, req, chrono::Utc::now()).await
    }))
    .await
    {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("legal-documents: runtime error: {e}");
            ExitCode::FAILURE
        }
    }
}
