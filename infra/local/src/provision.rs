//! Creates the template's tables, queues, buckets and secrets in moto (idempotently), in
//! dependency order.

use std::collections::BTreeMap;

use anyhow::{anyhow, Context};
use aws_config::SdkConfig;
use aws_sdk_dynamodb::types as ddb;
use aws_sdk_sqs::types::QueueAttributeName;
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value as Json;

use crate::template::{scalar_to_string, ResolvedResource, Resolver, Template};

/// The env var whose secret gets the configured Tripletex consumer token.
pub const CONSUMER_TOKEN_SECRET_VAR: &str = "TRIPLETEX_CONSUMER_TOKEN_SECRET_ID";

/// What provisioning did.
#[derive(Debug, Clone, Default)]
pub struct ProvisionReport {
    /// (logical id, type) of resources the local stack does not emulate.
    pub not_emulated: Vec<(String, String)>,
    /// Human-readable lines ("created table inndrive-local", "queue ... exists").
    pub actions: Vec<String>,
}

/// Provisions every resource of `template` into moto and records its physical ids in `resolver`.
pub async fn provision(
    template: &Template,
    resolver: &mut Resolver,
    sdk: &SdkConfig,
    consumer_token: Option<&SecretString>,
) -> anyhow::Result<ProvisionReport> {
    let ddb_client = aws_sdk_dynamodb::Client::new(sdk);
    let sqs = aws_sdk_sqs::Client::new(sdk);
    let sm = aws_sdk_secretsmanager::Client::new(sdk);
    // Path-style: `{bucket}.127.0.0.1` does not resolve.
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(sdk)
            .force_path_style(true)
            .build(),
    );
    let consumer_secrets = template.resources_referenced_by_env_var(CONSUMER_TOKEN_SECRET_VAR);
    let mut report = ProvisionReport::default();
    let region = resolver.region.clone();
    let account = resolver.account_id.clone();
    let stack = resolver.stack_name.clone();

    for id in template.dependency_order()? {
        let def = &template.resources[&id];
        let mut attrs = BTreeMap::new();
        let mut emulated = true;
        let ref_value = match def.type_.as_str() {
            "AWS::DynamoDB::Table" => {
                let props = resolver.eval(&def.properties)?;
                let name = props
                    .get("TableName")
                    .map(scalar_to_string)
                    .unwrap_or_else(|| format!("{stack}-{id}"));
                let created = create_table(&ddb_client, &name, &props)
                    .await
                    .with_context(|| format!("creating table {name} ({id})"))?;
                report.actions.push(format!(
                    "table {name}: {}",
                    if created { "created" } else { "exists" }
                ));
                attrs.insert(
                    "Arn".into(),
                    format!("arn:aws:dynamodb:{region}:{account}:table/{name}"),
                );
                name
            }
            "AWS::SQS::Queue" => {
                let props = resolver.eval(&def.properties)?;
                let fifo = props.get("FifoQueue").map(scalar_to_string).as_deref() == Some("true");
                let mut name = props
                    .get("QueueName")
                    .map(scalar_to_string)
                    .unwrap_or_else(|| format!("{stack}-{id}"));
                if fifo && !name.ends_with(".fifo") {
                    name.push_str(".fifo");
                }
                let url = create_queue(&sqs, &name, &props)
                    .await
                    .with_context(|| format!("creating queue {name} ({id})"))?;
                report.actions.push(format!("queue {name}: {url}"));
                attrs.insert(
                    "Arn".into(),
                    format!("arn:aws:sqs:{region}:{account}:{name}"),
                );
                attrs.insert("QueueName".into(), name);
                attrs.insert("QueueUrl".into(), url.clone());
                url
            }
            "AWS::SecretsManager::Secret" => {
                let props = resolver.eval(&def.properties)?;
                let name = props
                    .get("Name")
                    .map(scalar_to_string)
                    .unwrap_or_else(|| format!("{id}-{stack}"));
                let value: Option<SecretString> = if consumer_secrets.contains(&id) {
                    consumer_token.cloned()
                } else if let Some(s) = props.get("SecretString") {
                    Some(SecretString::from(scalar_to_string(s)))
                } else if props.get("GenerateSecretString").is_some() {
                    Some(SecretString::from(
                        uuid::Uuid::new_v4().simple().to_string(),
                    ))
                } else {
                    None
                };
                let desc = props.get("Description").map(scalar_to_string);
                let arn = create_secret(&sm, &name, desc, value.as_ref())
                    .await
                    .with_context(|| format!("creating secret {name} ({id})"))?;
                report.actions.push(format!(
                    "secret {name}{}",
                    if value.is_some() { " (value set)" } else { "" }
                ));
                attrs.insert("Id".into(), arn.clone());
                attrs.insert("Name".into(), name);
                arn
            }
            "AWS::S3::Bucket" => {
                let props = resolver.eval(&def.properties)?;
                let name = props
                    .get("BucketName")
                    .map(scalar_to_string)
                    .unwrap_or_else(|| format!("{stack}-{id}").to_lowercase());
                let created = create_bucket(&s3, &name, &region)
                    .await
                    .with_context(|| format!("creating bucket {name} ({id})"))?;
                report.actions.push(format!(
                    "bucket {name}: {}",
                    if created { "created" } else { "exists" }
                ));
                attrs.insert("Arn".into(), format!("arn:aws:s3:::{name}"));
                attrs.insert("DomainName".into(), format!("{name}.s3.amazonaws.com"));
                name
            }
            "AWS::S3::BucketPolicy" => {
                let props = resolver.eval(&def.properties)?;
                let bucket = str_field(&props, "Bucket")?;
                let mut policy = props
                    .get("PolicyDocument")
                    .cloned()
                    .ok_or_else(|| anyhow!("{id}: no PolicyDocument"))?;
                // moto is reached over plain HTTP (and enforces bucket policies): a statement
                // on `aws:SecureTransport` would refuse every local request, so it is left out;
                // the rest of the policy applies as in AWS.
                let mut left_out = 0;
                if let Some(statements) = policy.get_mut("Statement").and_then(Json::as_array_mut) {
                    let before = statements.len();
                    statements.retain(|st| !st.to_string().contains("aws:SecureTransport"));
                    left_out = before - statements.len();
                }
                let applies = policy
                    .get("Statement")
                    .and_then(Json::as_array)
                    .is_some_and(|st| !st.is_empty());
                if applies {
                    s3.put_bucket_policy()
                        .bucket(&bucket)
                        .policy(policy.to_string())
                        .send()
                        .await
                        .map_err(
                            |e| anyhow!(aws_sdk_s3::error::DisplayErrorContext(&e).to_string()),
                        )
                        .with_context(|| format!("setting the policy of bucket {bucket} ({id})"))?;
                }
                report.actions.push(format!(
                    "bucket policy {bucket}: {}{}",
                    if applies { "set" } else { "nothing to set" },
                    if left_out > 0 {
                        format!(" ({left_out} TLS-only statement(s) left out: the local endpoint is plain HTTP)")
                    } else {
                        String::new()
                    }
                ));
                bucket
            }
            "AWS::Serverless::Function" => {
                let name = format!("{stack}-{id}");
                attrs.insert(
                    "Arn".into(),
                    format!("arn:aws:lambda:{region}:{account}:function:{name}"),
                );
                name
            }
            "AWS::Serverless::HttpApi" => crate::template::LOCAL_API_ID.to_string(),
            // Monitoring: nothing runs on it locally (no metrics are emitted to alarm on).
            "AWS::CloudWatch::Alarm" | "AWS::SNS::Topic" | "AWS::SNS::Subscription" => {
                emulated = false;
                report
                    .actions
                    .push(format!("{id}: monitoring, not needed locally"));
                id.clone()
            }
            other => {
                emulated = false;
                report.not_emulated.push((id.clone(), other.to_string()));
                id.clone()
            }
        };
        resolver.resources.0.insert(
            id.clone(),
            ResolvedResource {
                logical_id: id.clone(),
                type_: def.type_.clone(),
                ref_value,
                attrs,
                emulated,
            },
        );
    }
    Ok(report)
}

fn str_field(v: &Json, k: &str) -> anyhow::Result<String> {
    v.get(k)
        .map(scalar_to_string)
        .ok_or_else(|| anyhow!("missing {k} in {v}"))
}

fn key_schema(v: Option<&Json>) -> anyhow::Result<Vec<ddb::KeySchemaElement>> {
    let mut out = Vec::new();
    for k in v.and_then(Json::as_array).cloned().unwrap_or_default() {
        out.push(
            ddb::KeySchemaElement::builder()
                .attribute_name(str_field(&k, "AttributeName")?)
                .key_type(ddb::KeyType::from(str_field(&k, "KeyType")?.as_str()))
                .build()?,
        );
    }
    Ok(out)
}

fn projection(v: Option<&Json>) -> ddb::Projection {
    let mut b = ddb::Projection::builder();
    if let Some(p) = v {
        if let Some(t) = p.get("ProjectionType") {
            b = b.projection_type(ddb::ProjectionType::from(scalar_to_string(t).as_str()));
        }
        for a in p
            .get("NonKeyAttributes")
            .and_then(Json::as_array)
            .cloned()
            .unwrap_or_default()
        {
            b = b.non_key_attributes(scalar_to_string(&a));
        }
    } else {
        b = b.projection_type(ddb::ProjectionType::All);
    }
    b.build()
}

fn throughput(v: Option<&Json>) -> anyhow::Result<Option<ddb::ProvisionedThroughput>> {
    let Some(p) = v else { return Ok(None) };
    let num = |k: &str| -> i64 {
        p.get(k)
            .map(scalar_to_string)
            .and_then(|s| s.parse().ok())
            .unwrap_or(5)
    };
    Ok(Some(
        ddb::ProvisionedThroughput::builder()
            .read_capacity_units(num("ReadCapacityUnits"))
            .write_capacity_units(num("WriteCapacityUnits"))
            .build()?,
    ))
}

/// Creates a table; Ok(false) when it already exists.
async fn create_table(
    client: &aws_sdk_dynamodb::Client,
    name: &str,
    props: &Json,
) -> anyhow::Result<bool> {
    if client
        .describe_table()
        .table_name(name)
        .send()
        .await
        .is_ok()
    {
        return Ok(false);
    }
    let billing = props
        .get("BillingMode")
        .map(scalar_to_string)
        .unwrap_or_else(|| "PROVISIONED".into());
    let mut req = client
        .create_table()
        .table_name(name)
        .billing_mode(ddb::BillingMode::from(billing.as_str()))
        .set_key_schema(Some(key_schema(props.get("KeySchema"))?));
    for a in props
        .get("AttributeDefinitions")
        .and_then(Json::as_array)
        .cloned()
        .unwrap_or_default()
    {
        req = req.attribute_definitions(
            ddb::AttributeDefinition::builder()
                .attribute_name(str_field(&a, "AttributeName")?)
                .attribute_type(ddb::ScalarAttributeType::from(
                    str_field(&a, "AttributeType")?.as_str(),
                ))
                .build()?,
        );
    }
    if let Some(t) = throughput(props.get("ProvisionedThroughput"))? {
        req = req.provisioned_throughput(t);
    }
    for g in props
        .get("GlobalSecondaryIndexes")
        .and_then(Json::as_array)
        .cloned()
        .unwrap_or_default()
    {
        let mut b = ddb::GlobalSecondaryIndex::builder()
            .index_name(str_field(&g, "IndexName")?)
            .set_key_schema(Some(key_schema(g.get("KeySchema"))?))
            .projection(projection(g.get("Projection")));
        if let Some(t) = throughput(g.get("ProvisionedThroughput"))? {
            b = b.provisioned_throughput(t);
        }
        req = req.global_secondary_indexes(b.build()?);
    }
    for l in props
        .get("LocalSecondaryIndexes")
        .and_then(Json::as_array)
        .cloned()
        .unwrap_or_default()
    {
        req = req.local_secondary_indexes(
            ddb::LocalSecondaryIndex::builder()
                .index_name(str_field(&l, "IndexName")?)
                .set_key_schema(Some(key_schema(l.get("KeySchema"))?))
                .projection(projection(l.get("Projection")))
                .build()?,
        );
    }
    match req.send().await {
        Ok(_) => {}
        Err(e) => {
            let se = e.into_service_error();
            if se.is_resource_in_use_exception() {
                return Ok(false);
            }
            return Err(se.into());
        }
    }
    if let Some(ttl) = props.get("TimeToLiveSpecification") {
        let enabled = ttl.get("Enabled").map(scalar_to_string).as_deref() == Some("true");
        if let (true, Some(attr)) = (enabled, ttl.get("AttributeName")) {
            // Optional: a failure here does not stop the stack.
            let spec = ddb::TimeToLiveSpecification::builder()
                .attribute_name(scalar_to_string(attr))
                .enabled(true)
                .build()?;
            let _ = client
                .update_time_to_live()
                .table_name(name)
                .time_to_live_specification(spec)
                .send()
                .await;
        }
    }
    Ok(true)
}

fn queue_attributes(props: &Json) -> BTreeMap<QueueAttributeName, String> {
    let mut out = BTreeMap::new();
    let simple = [
        ("FifoQueue", QueueAttributeName::FifoQueue),
        (
            "ContentBasedDeduplication",
            QueueAttributeName::ContentBasedDeduplication,
        ),
        ("DeduplicationScope", QueueAttributeName::DeduplicationScope),
        (
            "FifoThroughputLimit",
            QueueAttributeName::FifoThroughputLimit,
        ),
        ("VisibilityTimeout", QueueAttributeName::VisibilityTimeout),
        (
            "MessageRetentionPeriod",
            QueueAttributeName::MessageRetentionPeriod,
        ),
        ("DelaySeconds", QueueAttributeName::DelaySeconds),
        ("MaximumMessageSize", QueueAttributeName::MaximumMessageSize),
        (
            "ReceiveMessageWaitTimeSeconds",
            QueueAttributeName::ReceiveMessageWaitTimeSeconds,
        ),
        (
            "SqsManagedSseEnabled",
            QueueAttributeName::SqsManagedSseEnabled,
        ),
    ];
    for (k, attr) in simple {
        if let Some(v) = props.get(k) {
            out.insert(attr, scalar_to_string(v));
        }
    }
    if let Some(rp) = props.get("RedrivePolicy") {
        let policy = match rp {
            Json::String(s) => s.clone(),
            other => {
                let mut o = other.clone();
                // maxReceiveCount must be a number in the JSON SQS stores.
                if let Some(m) = o.get("maxReceiveCount").map(scalar_to_string) {
                    if let Ok(n) = m.parse::<u64>() {
                        o["maxReceiveCount"] = Json::from(n);
                    }
                }
                o.to_string()
            }
        };
        out.insert(QueueAttributeName::RedrivePolicy, policy);
    }
    out
}

async fn create_queue(
    client: &aws_sdk_sqs::Client,
    name: &str,
    props: &Json,
) -> anyhow::Result<String> {
    let attrs = queue_attributes(props);
    let res = client
        .create_queue()
        .queue_name(name)
        .set_attributes(Some(attrs.clone().into_iter().collect()))
        .send()
        .await;
    match res {
        Ok(out) => out
            .queue_url
            .ok_or_else(|| anyhow!("CreateQueue returned no URL")),
        Err(e) => {
            let se = e.into_service_error();
            if !se.is_queue_name_exists() {
                return Err(se.into());
            }
            // It exists with other attributes: bring them in line (FifoQueue cannot change).
            let url = client
                .get_queue_url()
                .queue_name(name)
                .send()
                .await?
                .queue_url
                .ok_or_else(|| anyhow!("GetQueueUrl returned no URL"))?;
            let mut attrs = attrs;
            attrs.remove(&QueueAttributeName::FifoQueue);
            client
                .set_queue_attributes()
                .queue_url(&url)
                .set_attributes(Some(attrs.into_iter().collect()))
                .send()
                .await?;
            Ok(url)
        }
    }
}

/// The environment variable naming a function's SES sender.
pub const MAIL_FROM_VAR: &str = "MAIL_FROM";

/// Verifies an e-mail identity in (moto's) SES, as the operator does once for `SenderEmail`;
/// an identity that exists is left as it is.
pub async fn verify_sender(sdk: &SdkConfig, address: &str) -> anyhow::Result<()> {
    let ses = aws_sdk_sesv2::Client::new(sdk);
    match ses
        .create_email_identity()
        .email_identity(address)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_already_exists_exception()) =>
        {
            Ok(())
        }
        Err(e) => Err(anyhow!(
            "verifying the SES identity {address}: {}",
            aws_sdk_sesv2::error::DisplayErrorContext(&e)
        )),
    }
}

/// Creates a bucket (private: moto keeps it so) unless it exists; `true` when created.
async fn create_bucket(s3: &aws_sdk_s3::Client, name: &str, region: &str) -> anyhow::Result<bool> {
    use aws_sdk_s3::types::{BucketLocationConstraint, CreateBucketConfiguration};
    let mut req = s3.create_bucket().bucket(name);
    if region != "us-east-1" {
        req = req.create_bucket_configuration(
            CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::from(region))
                .build(),
        );
    }
    match req.send().await {
        Ok(_) => Ok(true),
        Err(e) => {
            let svc = e.as_service_error();
            if svc
                .is_some_and(|s| s.is_bucket_already_owned_by_you() || s.is_bucket_already_exists())
            {
                Ok(false)
            } else {
                Err(anyhow!(
                    aws_sdk_s3::error::DisplayErrorContext(&e).to_string()
                ))
            }
        }
    }
}

async fn create_secret(
    client: &aws_sdk_secretsmanager::Client,
    name: &str,
    description: Option<String>,
    value: Option<&SecretString>,
) -> anyhow::Result<String> {
    let res = client
        .create_secret()
        .name(name)
        .set_description(description)
        .set_secret_string(value.map(|v| v.expose_secret().to_string()))
        .send()
        .await;
    match res {
        Ok(out) => out
            .arn
            .ok_or_else(|| anyhow!("CreateSecret returned no ARN")),
        Err(e) => {
            let se = e.into_service_error();
            if !se.is_resource_exists_exception() {
                return Err(anyhow!(
                    "CreateSecret {name}: {}",
                    se.meta().code().unwrap_or("error")
                ));
            }
            let arn = client
                .describe_secret()
                .secret_id(name)
                .send()
                .await?
                .arn
                .ok_or_else(|| anyhow!("DescribeSecret returned no ARN"))?;
            if let Some(v) = value {
                client
                    .put_secret_value()
                    .secret_id(&arn)
                    .secret_string(v.expose_secret())
                    .send()
                    .await
                    .map_err(|e| {
                        anyhow!(
                            "PutSecretValue {name}: {}",
                            e.into_service_error().meta().code().unwrap_or("error")
                        )
                    })?;
            }
            Ok(arn)
        }
    }
}
