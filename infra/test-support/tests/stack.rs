//! The harness itself against moto: template-shaped resources under a unique stage, the SES
//! identity and the mail read back.

use aws_sdk_dynamodb::types::{KeyType, ProjectionType, TimeToLiveStatus};
use aws_sdk_sqs::types::QueueAttributeName;
use test_support::{moto, sent_messages, unique, verified_sender, Stack};

#[tokio::test]
async fn a_stack_has_the_templates_table_queue_and_secret_under_its_own_stage() {
    let sdk = inndrive_local::moto::sdk_config_for(moto()).await;
    let a = Stack::provision(
        &sdk,
        &["Table", "SyncQueue", "TripletexConsumerTokenSecret"],
        Some("consumer-token-value"),
    )
    .await;
    let b = Stack::provision(&sdk, &["Table"], None).await;
    assert_ne!(a.stage, b.stage);
    assert!(
        a.stage.len() <= 16 && a.stage.starts_with("test-"),
        "{}",
        a.stage
    );
    assert_eq!(a.table(), format!("inndrive-{}", a.stage));
    assert_eq!(a.env("TABLE_NAME"), a.table());
    assert_eq!(
        a.env("SECRET_PREFIX"),
        format!("inndrive/{}/tripletex-keys/", a.stage)
    );

    let ddb = aws_sdk_dynamodb::Client::new(&sdk);
    let t = ddb
        .describe_table()
        .table_name(a.table())
        .send()
        .await
        .unwrap()
        .table
        .unwrap();
    let keys: Vec<(String, KeyType)> = t
        .key_schema()
        .iter()
        .map(|k| (k.attribute_name().to_string(), k.key_type().clone()))
        .collect();
    assert_eq!(
        keys,
        vec![("PK".into(), KeyType::Hash), ("SK".into(), KeyType::Range)]
    );
    let mut gsis: Vec<(String, Vec<String>, Option<ProjectionType>)> = t
        .global_secondary_indexes()
        .iter()
        .map(|g| {
            (
                g.index_name().unwrap().to_string(),
                g.key_schema()
                    .iter()
                    .map(|k| k.attribute_name().to_string())
                    .collect(),
                g.projection().and_then(|p| p.projection_type().cloned()),
            )
        })
        .collect();
    gsis.sort();
    assert_eq!(
        gsis,
        vec![
            (
                "GSI1".into(),
                vec!["GSI1PK".into(), "GSI1SK".into()],
                Some(ProjectionType::All)
            ),
            (
                "GSI2".into(),
                vec!["GSI2PK".into(), "GSI2SK".into()],
                Some(ProjectionType::All)
            ),
        ]
    );
    let ttl = ddb
        .describe_time_to_live()
        .table_name(a.table())
        .send()
        .await
        .unwrap()
        .time_to_live_description
        .unwrap();
    assert_eq!(ttl.attribute_name(), Some("expiresAt"));
    assert_eq!(ttl.time_to_live_status(), Some(&TimeToLiveStatus::Enabled));

    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let url = a.queue_url("SyncQueue");
    assert_eq!(a.env("SYNC_QUEUE_URL"), url);
    assert!(
        url.ends_with(&format!("inndrive-{}-sync.fifo", a.stage)),
        "{url}"
    );
    let attrs = sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(QueueAttributeName::All)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap();
    assert_eq!(attrs[&QueueAttributeName::FifoQueue], "true");
    assert_eq!(
        attrs[&QueueAttributeName::ContentBasedDeduplication],
        "false"
    );
    assert_eq!(
        attrs[&QueueAttributeName::DeduplicationScope],
        "messageGroup"
    );
    assert!(
        attrs[&QueueAttributeName::RedrivePolicy]
            .contains(&format!("inndrive-{}-sync-dlq.fifo", a.stage)),
        "{attrs:?}"
    );

    let sm = aws_sdk_secretsmanager::Client::new(&sdk);
    let name = a.attr("TripletexConsumerTokenSecret", "Name");
    assert_eq!(
        name,
        format!("inndrive/{}/tripletex/consumer-token", a.stage)
    );
    assert_eq!(
        a.env("TRIPLETEX_CONSUMER_TOKEN_SECRET_ID"),
        a.ref_value("TripletexConsumerTokenSecret")
    );
    let value = sm.get_secret_value().secret_id(&name).send().await.unwrap();
    assert_eq!(value.secret_string(), Some("consumer-token-value"));
}

#[tokio::test]
async fn mail_from_a_verified_sender_is_read_back_from_moto() {
    let sdk = inndrive_local::moto::sdk_config_for(moto()).await;
    let from = verified_sender(&sdk, "noreply").await;
    let subject = unique("subject");
    let ses = aws_sdk_sesv2::Client::new(&sdk);
    use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};
    let content = |s: &str| Content::builder().data(s).build().unwrap();
    ses.send_email()
        .from_email_address(&from)
        .destination(Destination::builder().to_addresses("a@b.test").build())
        .content(
            EmailContent::builder()
                .simple(
                    Message::builder()
                        .subject(content(&subject))
                        .body(Body::builder().text(content("hei")).build())
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    let found: Vec<_> = sent_messages()
        .await
        .into_iter()
        .filter(|m| m["subject"].as_str() == Some(subject.as_str()))
        .collect();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["source"].as_str(), Some(from.as_str()));
}

#[tokio::test]
async fn drain_fifo_receives_and_deletes_every_message_with_group_and_dedup_ids() {
    let sdk = inndrive_local::moto::sdk_config_for(moto()).await;
    let stack = Stack::provision(&sdk, &["SyncQueue"], None).await;
    let url = stack.queue_url("SyncQueue");
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    for (group, dedup, n) in [("g1", "d1", 1), ("g1", "d2", 2), ("g2", "d3", 3)] {
        sqs.send_message()
            .queue_url(&url)
            .message_group_id(group)
            .message_deduplication_id(dedup)
            .message_body(format!("{{\"n\": {n}}}"))
            .send()
            .await
            .unwrap();
    }
    let mut got = test_support::drain_fifo(&sqs, &url).await;
    got.sort_by_key(|(_, d, _)| d.clone());
    assert_eq!(
        got,
        vec![
            ("g1".into(), "d1".into(), serde_json::json!({"n": 1})),
            ("g1".into(), "d2".into(), serde_json::json!({"n": 2})),
            ("g2".into(), "d3".into(), serde_json::json!({"n": 3})),
        ]
    );
    assert!(test_support::drain_fifo(&sqs, &url).await.is_empty());
}
