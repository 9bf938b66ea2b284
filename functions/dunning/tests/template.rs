//! The template wires the function as the code expects: the FIFO dunning queue (with its
//! dead-letter queue) with partial batch failures, the daily schedule with the input the handler
//! recognises (Europe/Oslo, after the nightly sync and the daily case job), the letters bucket
//! (encrypted, private, the outbox expiring), and rights for exactly what the run touches.

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

/// The hour (local time) of a `cron(m h * * ? *)` expression.
fn cron_hour(expr: &str) -> u32 {
    let inner = expr
        .strip_prefix("cron(")
        .and_then(|s| s.strip_suffix(')'))
        .unwrap_or_else(|| panic!("not a cron expression: {expr}"));
    inner
        .split_whitespace()
        .nth(1)
        .and_then(|h| h.parse().ok())
        .unwrap_or_else(|| panic!("no fixed hour in {expr}"))
}

fn default_of(t: &Value, param: &str) -> String {
    t["Parameters"][param]["Default"]
        .as_str()
        .unwrap_or_else(|| panic!("{param} has no default"))
        .to_string()
}

#[test]
fn the_function_is_wired_to_its_queue_and_the_daily_schedule() {
    let t = template();
    let r = &t["Resources"];
    let f = &r["DunningFunction"];
    assert_eq!(f["Metadata"]["BuildProperties"]["Binary"], "dunning");
    let events = &f["Properties"]["Events"];

    let sqs = &events["DunningJobs"];
    assert_eq!(sqs["Type"], "SQS");
    assert_eq!(tag_target(&sqs["Properties"]["Queue"]), "DunningQueue.Arn");
    assert_eq!(
        sqs["Properties"]["FunctionResponseTypes"][0],
        "ReportBatchItemFailures"
    );

    let daily = &events["DailyDunning"];
    assert_eq!(daily["Type"], "ScheduleV2");
    assert_eq!(
        daily["Properties"]["ScheduleExpressionTimezone"],
        "Europe/Oslo"
    );
    let input: serde_json::Value =
        serde_json::from_str(daily["Properties"]["Input"].as_str().expect("Input")).unwrap();
    assert!(matches!(
        dunning::trigger(input),
        Ok(dunning::Trigger::FanOut)
    ));
    // After the nightly sync and the daily case job (by default earlier the same morning).
    let hour = |function: &str, event: &str| {
        let e = &r[function]["Properties"]["Events"][event]["Properties"]["ScheduleExpression"];
        match e {
            Value::String(s) => cron_hour(s),
            tagged => cron_hour(&default_of(&t, &tag_target(tagged))),
        }
    };
    let dunning_at = hour("DunningFunction", "DailyDunning");
    let cases_at = hour("LossClassificationFunction", "DailyCases");
    let sync_at = hour("ScheduledSyncFunction", "Nightly");
    assert!(
        dunning_at > cases_at && cases_at > sync_at,
        "sync at {sync_at}, cases at {cases_at}, dunning at {dunning_at}"
    );

    let env = &f["Properties"]["Environment"]["Variables"];
    assert_eq!(tag_target(&env["DUNNING_QUEUE_URL"]), "DunningQueue");
    assert_eq!(tag_target(&env["LETTERS_BUCKET"]), "LettersBucket");
    assert_eq!(tag_target(&env["MAIL_FROM"]), "SenderEmail");

    // The queue's visibility timeout is at least 6 x the function's timeout (AWS's advice for
    // an SQS event source), so a job is not delivered twice while it runs.
    let timeout = f["Properties"]["Timeout"].as_u64().unwrap();
    let q = &r["DunningQueue"]["Properties"];
    assert!(q["VisibilityTimeout"].as_u64().unwrap() >= 6 * timeout);
    assert_eq!(q["FifoQueue"], true);
    assert_eq!(q["ContentBasedDeduplication"], false);
    assert_eq!(
        tag_target(&q["RedrivePolicy"]["deadLetterTargetArn"]),
        "DunningDeadLetterQueue.Arn"
    );
    assert_eq!(r["DunningDeadLetterQueue"]["Properties"]["FifoQueue"], true);
}

#[test]
fn the_letters_bucket_is_encrypted_private_and_the_outbox_expires() {
    let t = template();
    let b = &t["Resources"]["LettersBucket"];
    assert_eq!(b["Type"], "AWS::S3::Bucket");
    assert_eq!(b["DeletionPolicy"], "Retain", "sent letters are evidence");
    let p = &b["Properties"];
    assert!(
        p["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
            ["ServerSideEncryptionByDefault"]["SSEAlgorithm"]
            .is_string()
    );
    for flag in [
        "BlockPublicAcls",
        "BlockPublicPolicy",
        "IgnorePublicAcls",
        "RestrictPublicBuckets",
    ] {
        assert_eq!(p["PublicAccessBlockConfiguration"][flag], true, "{flag}");
    }
    let rules = p["LifecycleConfiguration"]["Rules"].as_sequence().unwrap();
    let outbox = rules
        .iter()
        .find(|r| r["Prefix"] == shared::adapters::letters::OUTBOX_PREFIX)
        .expect("a lifecycle rule for the outbox");
    assert_eq!(outbox["Status"], "Enabled");
    assert!(!outbox["ExpirationInDays"].is_null());
    // The archive of sent letters (letters/…) never expires: only old versions do.
    assert!(rules
        .iter()
        .filter(|r| r["Prefix"] == shared::adapters::letters::ARCHIVE_PREFIX)
        .all(|r| r["ExpirationInDays"].is_null()));
}

#[test]
fn the_function_may_send_raw_mail_write_and_read_letters_and_read_tripletex_keys() {
    let t = template();
    let policies = t["Resources"]["DunningFunction"]["Properties"]["Policies"]
        .as_sequence()
        .unwrap();
    assert!(policies
        .iter()
        .any(|p| p.get("DynamoDBCrudPolicy").is_some()));
    assert!(policies
        .iter()
        .any(|p| p.get("SQSSendMessagePolicy").is_some()));
    let statements: Vec<&Value> = policies
        .iter()
        .filter_map(|p| p.get("Statement"))
        .flat_map(|s| s.as_sequence().unwrap())
        .collect();
    let actions = |sid: &str| -> Vec<String> {
        let s = statements
            .iter()
            .find(|s| s["Sid"] == sid)
            .unwrap_or_else(|| panic!("no statement {sid}"));
        s["Action"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap().to_string())
            .collect()
    };
    assert!(actions("SendLettersFromOurIdentityOnly").contains(&"ses:SendRawEmail".to_string()));
    let s3 = actions("LettersArchiveAndOutbox");
    assert!(s3.contains(&"s3:PutObject".to_string()));
    assert!(s3.contains(&"s3:GetObject".to_string()));
    assert!(
        !s3.iter().any(|a| a.contains("Delete")),
        "never deletes a letter"
    );
    assert_eq!(
        actions("ReadEmployeeTokensUnderOurPrefixOnly"),
        vec!["secretsmanager:GetSecretValue"]
    );
}
