//! The SAM template is checked offline by cfn-lint and `sam validate --lint` as part of the tests,
//! and the properties that cfn-lint does not check (seen in the reference: runtime, architecture,
//! partial batch responses, visibility timeouts vs function timeouts) are asserted here.

use std::path::PathBuf;
use std::process::Command;

use inndrive_local::repo_root;

/// A tool of the tools venv (`./dev test` installs it there).
fn venv_tool(name: &str) -> PathBuf {
    let venv = std::env::var_os("INNDRIVE_MOTO_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join(".venv-tools"));
    let bin = venv.join("bin").join(name);
    assert!(
        bin.is_file(),
        "{name} not found at {} (run the tests through `./dev test`, which installs it)",
        bin.display()
    );
    bin
}

fn cfn_lint() -> PathBuf {
    venv_tool("cfn-lint")
}

/// `sam validate --lint`, offline: the SAM transform and cfn-lint run locally, with a region and
/// no credentials (nothing is sent to AWS).
fn sam_validate(template: &std::path::Path) -> std::process::Output {
    Command::new(venv_tool("sam"))
        .args(["validate", "--lint", "--region", "eu-north-1", "--template"])
        .arg(template)
        .env("SAM_CLI_TELEMETRY", "0")
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("AWS_ENDPOINT_URL")
        .current_dir(repo_root())
        .output()
        .expect("sam runs")
}

#[test]
fn template_passes_cfn_lint() {
    let out = Command::new(cfn_lint())
        .arg("template.yaml")
        .current_dir(repo_root())
        .output()
        .expect("cfn-lint runs");
    assert!(
        out.status.success(),
        "cfn-lint found problems:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn cfn_lint_catches_a_broken_template() {
    // The check above can fail: a typo cfn-lint knows must make it fail.
    let text = std::fs::read_to_string(repo_root().join("template.yaml")).unwrap();
    let broken = text.replacen(
        "BillingMode: PAY_PER_REQUEST",
        "BillingMode: PAY_PER_REQ",
        1,
    );
    assert_ne!(text, broken);
    let dir = std::env::temp_dir().join(format!("inndrive-cfn-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("template.yaml");
    std::fs::write(&path, broken).unwrap();
    let out = Command::new(cfn_lint())
        .arg(&path)
        .output()
        .expect("cfn-lint runs");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(!out.status.success(), "cfn-lint accepted PAY_PER_REQ");
}

#[test]
fn template_passes_sam_validate() {
    let out = sam_validate(&repo_root().join("template.yaml"));
    assert!(
        out.status.success(),
        "sam validate --lint found problems:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn sam_validate_catches_a_broken_template() {
    // A property SAM's schema does not know must make the check above fail.
    let text = std::fs::read_to_string(repo_root().join("template.yaml")).unwrap();
    let broken = text.replacen(
        "      BillingMode: PAY_PER_REQUEST\n",
        "      BillingMode: PAY_PER_REQUEST\n      BillingModes: PAY_PER_REQUEST\n",
        1,
    );
    assert_ne!(text, broken);
    let dir = std::env::temp_dir().join(format!("inndrive-sam-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("template.yaml");
    std::fs::write(&path, broken).unwrap();
    let out = sam_validate(&path);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        !out.status.success(),
        "sam validate accepted an unknown property:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// What cfn-lint does not catch, checked on the parsed template.
#[test]
fn functions_queues_and_globals_follow_the_house_rules() {
    let text = std::fs::read_to_string(repo_root().join("template.yaml")).unwrap();
    let t = inndrive_local::template::Template::parse(&text).expect("template parses");
    let g = &t.globals_function;
    assert_eq!(g["Runtime"], "provided.al2023");
    assert_eq!(g["Architectures"], serde_json::json!(["arm64"]));
    assert_eq!(g["Handler"], "bootstrap");
    assert_eq!(g["LoggingConfig"]["LogFormat"], "JSON");

    let max_timeout = |fn_props: &serde_json::Value| -> i64 {
        fn_props["Timeout"]
            .as_i64()
            .or_else(|| fn_props["Timeout"].as_str().and_then(|s| s.parse().ok()))
            .unwrap_or(900)
    };
    let mut sqs_events = 0;
    for (id, r) in &t.resources {
        if r.type_ != "AWS::Serverless::Function" {
            continue;
        }
        assert_eq!(
            r.metadata["BuildMethod"], "rust-cargolambda",
            "{id} is built by cargo lambda"
        );
        assert!(
            r.metadata["BuildProperties"]["Binary"].is_string(),
            "{id} names its binary"
        );
        let timeout = max_timeout(&r.properties);
        for (ev, e) in r.properties["Events"].as_object().into_iter().flatten() {
            if e["Type"] != "SQS" {
                continue;
            }
            sqs_events += 1;
            let p = &e["Properties"];
            assert_eq!(
                p["FunctionResponseTypes"],
                serde_json::json!(["ReportBatchItemFailures"]),
                "{id}.{ev} reports partial batch failures"
            );
            // The queue: visibility ≥ 6 × the function timeout, and a DLQ.
            let queue_id = p["Queue"]["Fn::GetAtt"][0]
                .as_str()
                .or_else(|| {
                    p["Queue"]["Fn::GetAtt"]
                        .as_str()
                        .and_then(|s| s.split('.').next())
                })
                .unwrap_or_else(|| {
                    panic!("{id}.{ev}: Queue is a GetAtt of a queue in this template")
                });
            let q = &t.resources[queue_id].properties;
            let vis = q["VisibilityTimeout"].as_i64().unwrap_or(30);
            assert!(
                vis >= 6 * timeout,
                "{queue_id}: visibility {vis} < 6 × {timeout}"
            );
            assert!(
                q["RedrivePolicy"]["deadLetterTargetArn"].is_object(),
                "{queue_id} has a dead-letter queue"
            );
        }
    }
    assert!(sqs_events >= 1, "at least one SQS worker");
}

/// Every function alarms on its errors and every dead-letter queue on a message in it, both to
/// the alarm topic: a new function or queue cannot ship without its alarm.
#[test]
fn every_function_and_every_dead_letter_queue_has_its_alarm() {
    let text = std::fs::read_to_string(repo_root().join("template.yaml")).unwrap();
    let t = inndrive_local::template::Template::parse(&text).expect("template parses");
    let alarms: Vec<&serde_json::Value> = t
        .resources
        .values()
        .filter(|r| r.type_ == "AWS::CloudWatch::Alarm")
        .map(|r| &r.properties)
        .collect();
    let watched = |namespace: &str, metric: &str, dimension: &str, target: &serde_json::Value| {
        alarms.iter().any(|a| {
            a["Namespace"] == namespace
                && a["MetricName"] == metric
                && a["AlarmActions"] == serde_json::json!([{"Ref": "AlarmTopic"}])
                && a["Dimensions"].as_array().is_some_and(|d| {
                    d.iter()
                        .any(|d| d["Name"] == dimension && d["Value"] == *target)
                })
        })
    };
    let dlqs: Vec<&str> = t
        .resources
        .values()
        .filter(|r| r.type_ == "AWS::SQS::Queue")
        .filter_map(|r| {
            r.properties["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0].as_str()
        })
        .collect();
    assert!(!dlqs.is_empty());
    let mut checked = 0;
    for (id, r) in &t.resources {
        if r.type_ == "AWS::Serverless::Function" {
            checked += 1;
            assert!(
                watched(
                    "AWS/Lambda",
                    "Errors",
                    "FunctionName",
                    &serde_json::json!({"Ref": id})
                ),
                "{id} has no Errors alarm to the AlarmTopic"
            );
        }
    }
    for q in &dlqs {
        checked += 1;
        assert!(
            watched(
                "AWS/SQS",
                "ApproximateNumberOfMessagesVisible",
                "QueueName",
                &serde_json::json!({"Fn::GetAtt": [q, "QueueName"]})
            ),
            "the dead-letter queue {q} has no depth alarm to the AlarmTopic"
        );
    }
    assert!(checked >= 8, "{checked} alarms checked");
}
