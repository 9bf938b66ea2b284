//! The template wires the function as the code expects: the classification queue with partial
//! batch failures, the daily schedule with the input the handler recognises, and the FIFO
//! voucher-posting queue (with its dead-letter queue) it may send to.

use serde_yaml::Value;

fn template() -> Value {
    let path = test_support::repo_root().join("template.yaml");
    serde_yaml::from_str(&std::fs::read_to_string(path).expect("template.yaml")).expect("YAML")
}

fn tag_target(v: &Value) -> String {
    match v {
        Value::Tagged(t) => match &t.value {
            Value::String(s) => s.clone(),
            Value::Sequence(s) => s
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join("."),
            other => format!("{other:?}"),
        },
        other => format!("{other:?}"),
    }
}

#[test]
fn the_function_is_wired_to_its_queues_and_the_daily_schedule() {
    let t = template();
    let r = &t["Resources"];
    let f = &r["LossClassificationFunction"];
    assert_eq!(
        f["Metadata"]["BuildProperties"]["Binary"],
        "loss-classification"
    );
    let events = &f["Properties"]["Events"];
    let sqs = &events["LedgerEvents"];
    assert_eq!(sqs["Type"], "SQS");
    assert_eq!(
        tag_target(&sqs["Properties"]["Queue"]),
        "ClassificationQueue.Arn"
    );
    assert_eq!(
        sqs["Properties"]["FunctionResponseTypes"][0],
        "ReportBatchItemFailures"
    );
    let daily = &events["DailyCases"];
    assert_eq!(daily["Type"], "ScheduleV2");
    let input: serde_json::Value =
        serde_json::from_str(daily["Properties"]["Input"].as_str().expect("Input")).unwrap();
    assert!(matches!(
        loss_classification::trigger(input),
        Ok(loss_classification::Trigger::Daily)
    ));
    assert_eq!(
        tag_target(&f["Properties"]["Environment"]["Variables"]["VOUCHER_POSTING_QUEUE_URL"]),
        "VoucherPostingQueue"
    );
    // The classification queue's visibility timeout covers the function's timeout.
    let timeout = f["Properties"]["Timeout"].as_u64().unwrap();
    let visibility = r["ClassificationQueue"]["Properties"]["VisibilityTimeout"]
        .as_u64()
        .unwrap();
    assert!(visibility >= timeout, "{visibility} < {timeout}");

    let q = &r["VoucherPostingQueue"]["Properties"];
    assert_eq!(q["FifoQueue"], true);
    assert_eq!(q["ContentBasedDeduplication"], false);
    assert_eq!(
        tag_target(&q["RedrivePolicy"]["deadLetterTargetArn"]),
        "VoucherPostingDeadLetterQueue.Arn"
    );
    assert_eq!(
        r["VoucherPostingDeadLetterQueue"]["Properties"]["FifoQueue"],
        true
    );
}

#[test]
fn the_cases_api_needs_the_table_and_the_posting_queue_only_and_serves_every_route() {
    let t = template();
    let f = &t["Resources"]["CasesApiFunction"];
    assert_eq!(f["Metadata"]["BuildProperties"]["Binary"], "cases-api");
    // Least privilege: the table, and sending on the voucher-posting queue (the retry of a held
    // settlement); no Secrets Manager, no Tripletex.
    let policies = f["Properties"]["Policies"].as_sequence().unwrap();
    assert_eq!(policies.len(), 2, "least privilege: {policies:?}");
    assert!(policies[0].get("DynamoDBCrudPolicy").is_some());
    assert_eq!(
        tag_target(&policies[1]["SQSSendMessagePolicy"]["QueueName"]),
        "VoucherPostingQueue.QueueName"
    );
    assert_eq!(
        tag_target(&f["Properties"]["Environment"]["Variables"]["VOUCHER_POSTING_QUEUE_URL"]),
        "VoucherPostingQueue"
    );
    let mut routes: Vec<String> = f["Properties"]["Events"]
        .as_mapping()
        .unwrap()
        .values()
        .map(|e| {
            format!(
                "{} {}",
                e["Properties"]["Method"].as_str().unwrap(),
                e["Properties"]["Path"].as_str().unwrap()
            )
        })
        .collect();
    routes.sort();
    assert_eq!(
        routes,
        vec![
            "GET /v1/accounts/{id}/cases",
            "GET /v1/accounts/{id}/settlements",
            "GET /v1/cases/{id}",
            "GET /v1/limitation",
            "POST /v1/accounts/{id}/settlements/{sid}/retry",
            "POST /v1/cases/{id}/acknowledgement",
            "POST /v1/cases/{id}/close",
            "POST /v1/cases/{id}/legal-steps/filed",
            "POST /v1/cases/{id}/notes",
            "POST /v1/cases/{id}/objection",
            "POST /v1/cases/{id}/objection/assess",
            "POST /v1/cases/{id}/objection/corrected",
            "POST /v1/cases/{id}/pause",
            "POST /v1/cases/{id}/reopen",
            "POST /v1/cases/{id}/resume",
        ]
    );
}
