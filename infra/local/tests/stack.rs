//! The local stack against a real moto: provisioning from the real template, the SQS event source with
//! its DLQ, the Runtime API (timeouts, crashes, init errors) and the API Gateway emulation.
//!
//! moto: `$MOTO_ENDPOINT` when set, else the stack starts one from `$INNDRIVE_MOTO_VENV` (or
//! `<repo>/.venv-moto`, created when missing).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use aws_sdk_sqs::types::QueueAttributeName;
use inndrive_local::{InvokeError, LocalStack, StackOptions};
use serde_json::{json, Value};

static COUNTER: AtomicUsize = AtomicUsize::new(0);

fn unique(prefix: &str) -> String {
    format!(
        "{prefix}{}x{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    )
}

fn worker_bin_dir() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_local-test-worker"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn write_template(name: &str, yaml: &str) -> PathBuf {
    let dir = std::env::temp_dir().join("inndrive-local-tests");
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(format!("{name}.yaml"));
    std::fs::write(&p, yaml).unwrap();
    p
}

fn opts(template: PathBuf, stack: &str) -> StackOptions {
    StackOptions {
        template,
        fixture: None,
        bin_dir: Some(worker_bin_dir()),
        stack_name: stack.to_string(),
        sqs_retry_delay: Duration::from_secs(1),
        ..StackOptions::default()
    }
}

const WORKER_TEMPLATE: &str = r#"
Globals:
  Function:
    Timeout: 2
    MemorySize: 256
    Environment:
      Variables:
        TABLE_NAME: !Ref Table
Resources:
  Table:
    Type: AWS::DynamoDB::Table
    Properties:
      TableName: !Sub "${AWS::StackName}-table"
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions: [ { AttributeName: PK, AttributeType: S } ]
      KeySchema: [ { AttributeName: PK, KeyType: HASH } ]
  WorkQueue:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: !Sub "${AWS::StackName}-work"
      VisibilityTimeout: 60
      RedrivePolicy:
        deadLetterTargetArn: !GetAtt WorkDeadLetterQueue.Arn
        maxReceiveCount: 2
  WorkDeadLetterQueue:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: !Sub "${AWS::StackName}-work-dlq"
  Worker:
    Type: AWS::Serverless::Function
    Metadata: { BuildMethod: rust-cargolambda, BuildProperties: { Binary: local-test-worker } }
    Properties:
      Events:
        Work:
          Type: SQS
          Properties:
            Queue: !GetAtt WorkQueue.Arn
            BatchSize: 10
            FunctionResponseTypes: [ReportBatchItemFailures]
  BrokenInit:
    Type: AWS::Serverless::Function
    Metadata: { BuildProperties: { Binary: local-test-worker } }
    Properties:
      Environment: { Variables: { LOCAL_TEST_WORKER_INIT_FAIL: "1" } }
  Api:
    Type: AWS::Serverless::HttpApi
    Properties:
      Auth:
        DefaultAuthorizer: Jwt
        Authorizers:
          Jwt:
            JwtConfiguration: { issuer: !Ref JwtIssuer, audience: !Ref JwtAudience }
      CorsConfiguration: { AllowOrigins: ["*"], AllowMethods: [GET, POST], AllowHeaders: [Authorization] }
  Echo:
    Type: AWS::Serverless::Function
    Metadata: { BuildProperties: { Binary: local-test-worker } }
    Properties:
      Events:
        GetThing:
          Type: HttpApi
          Properties: { ApiId: !Ref Api, Path: "/v1/things/{id}", Method: GET }
        Health:
          Type: HttpApi
          Properties: { ApiId: !Ref Api, Path: "/health", Method: GET, Auth: { Authorizer: NONE } }
  Stream:
    Type: AWS::Kinesis::Stream
  FifoQueue:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: !Sub "${AWS::StackName}-jobs.fifo"
      FifoQueue: true
      ContentBasedDeduplication: false
      VisibilityTimeout: 5400
      RedrivePolicy: { deadLetterTargetArn: !GetAtt FifoDeadLetterQueue.Arn, maxReceiveCount: 2 }
  FifoDeadLetterQueue:
    Type: AWS::SQS::Queue
    Properties: { QueueName: !Sub "${AWS::StackName}-jobs-dlq.fifo", FifoQueue: true }
  FifoWorker:
    Type: AWS::Serverless::Function
    Metadata: { BuildProperties: { Binary: local-test-worker } }
    Properties:
      Events:
        Jobs:
          Type: SQS
          Properties: { Queue: !GetAtt FifoQueue.Arn, BatchSize: 5, FunctionResponseTypes: [ReportBatchItemFailures] }
Parameters:
  JwtIssuer: { Type: String }
  JwtAudience: { Type: CommaDelimitedList }
"#;

async fn start_worker_stack(functions: &[&str]) -> (LocalStack, String) {
    let stack = unique("lt");
    let template = write_template(&stack, WORKER_TEMPLATE);
    let mut o = opts(template, &stack);
    o.functions = Some(functions.iter().map(|s| s.to_string()).collect());
    let s = inndrive_local::start(o).await.expect("stack starts");
    (s, stack)
}

fn count_lines(logs: &[String], needle: &str) -> usize {
    logs.iter().filter(|l| l.contains(needle)).count()
}

async fn queue_depth(sqs: &aws_sdk_sqs::Client, url: &str) -> (i64, i64) {
    let a = sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::All)
        .send()
        .await
        .unwrap();
    let attrs = a.attributes.unwrap_or_default();
    let get =
        |k: QueueAttributeName| -> i64 { attrs.get(&k).and_then(|v| v.parse().ok()).unwrap_or(-1) };
    (
        get(QueueAttributeName::ApproximateNumberOfMessages),
        get(QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
    )
}

/// The issue's test: the runner's SQS mapping deletes only succeeded records and a failing record
/// reaches the DLQ after maxReceiveCount.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqs_mapping_deletes_only_succeeded_records_and_poison_reaches_dlq() {
    let (stack, name) = start_worker_stack(&["Worker"]).await;
    let sdk = stack.sdk_config().await;
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let queue_url = stack.resources.ref_value("WorkQueue").unwrap().to_string();
    let dlq_url = stack
        .resources
        .attr("WorkDeadLetterQueue", "QueueUrl")
        .unwrap()
        .to_string();
    assert!(queue_url.ends_with(&format!("{name}-work")), "{queue_url}");

    // One batch with two good records and one poison record.
    let entries = ["ok-1", "fail-1", "ok-2"].iter().enumerate().map(|(i, b)| {
        aws_sdk_sqs::types::SendMessageBatchRequestEntry::builder()
            .id(format!("e{i}"))
            .message_body(*b)
            .build()
            .unwrap()
    });
    sqs.send_message_batch()
        .queue_url(&queue_url)
        .set_entries(Some(entries.collect()))
        .send()
        .await
        .unwrap();

    // Wait for the poison message in the DLQ.
    let started = Instant::now();
    let dlq_bodies = loop {
        let out = sqs
            .receive_message()
            .queue_url(&dlq_url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await
            .unwrap();
        let bodies: Vec<String> = out
            .messages
            .unwrap_or_default()
            .iter()
            .filter_map(|m| m.body().map(str::to_string))
            .collect();
        if !bodies.is_empty() {
            break bodies;
        }
        assert!(
            started.elapsed() < Duration::from_secs(40),
            "nothing reached the DLQ; logs:\n{}",
            stack.logs().join("\n")
        );
    };
    assert_eq!(dlq_bodies, vec!["fail-1".to_string()]);

    let logs = stack.logs();
    let all = logs.join("\n");
    // Succeeded records were deleted after their first (successful) delivery...
    assert_eq!(count_lines(&logs, "body=ok-1 "), 1, "{all}");
    assert_eq!(count_lines(&logs, "body=ok-2 "), 1, "{all}");
    // ...the failing one was delivered maxReceiveCount (2) times, then moved to the DLQ.
    assert_eq!(
        count_lines(&logs, "body=fail-1 receive_count=1 "),
        1,
        "{all}"
    );
    assert_eq!(
        count_lines(&logs, "body=fail-1 receive_count=2 "),
        1,
        "{all}"
    );
    assert_eq!(
        count_lines(&logs, "body=fail-1 receive_count=3"),
        0,
        "{all}"
    );
    assert!(
        logs.iter()
            .any(|l| l.contains("body=ok-1") && l.contains(&format!("{name}-work"))),
        "eventSourceARN names the queue: {all}"
    );
    // The main queue is empty.
    assert_eq!(queue_depth(&sqs, &queue_url).await, (0, 0));
    stack.shutdown().await;
}

/// The same with a FIFO queue shaped like the real sync queue (visibility timeout 5400 s: only the
/// runner's retry delay brings the failed message back).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifo_queue_partial_failure_and_redrive() {
    let (stack, _) = start_worker_stack(&["FifoWorker"]).await;
    let sqs = aws_sdk_sqs::Client::new(&stack.sdk_config().await);
    let queue_url = stack.resources.ref_value("FifoQueue").unwrap().to_string();
    let dlq_url = stack
        .resources
        .ref_value("FifoDeadLetterQueue")
        .unwrap()
        .to_string();
    for (i, (body, group)) in [("ok-a", "g1"), ("fail-b", "g2"), ("ok-c", "g1")]
        .iter()
        .enumerate()
    {
        sqs.send_message()
            .queue_url(&queue_url)
            .message_body(*body)
            .message_group_id(*group)
            .message_deduplication_id(format!("d{i}"))
            .send()
            .await
            .unwrap();
    }
    let started = Instant::now();
    loop {
        let out = sqs
            .receive_message()
            .queue_url(&dlq_url)
            .wait_time_seconds(1)
            .send()
            .await
            .unwrap();
        let bodies: Vec<String> = out
            .messages
            .unwrap_or_default()
            .iter()
            .filter_map(|m| m.body().map(str::to_string))
            .collect();
        if !bodies.is_empty() {
            assert_eq!(bodies, vec!["fail-b".to_string()]);
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(40),
            "{}",
            stack.logs().join("\n")
        );
    }
    let logs = stack.logs();
    let all = logs.join("\n");
    assert_eq!(count_lines(&logs, "body=ok-a "), 1, "{all}");
    assert_eq!(count_lines(&logs, "body=ok-c "), 1, "{all}");
    assert_eq!(count_lines(&logs, "body=fail-b "), 2, "{all}");
    assert_eq!(queue_depth(&sqs, &queue_url).await, (0, 0));
    stack.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invocation_error_deletes_nothing() {
    let (stack, _) = start_worker_stack(&["Worker"]).await;
    let sqs = aws_sdk_sqs::Client::new(&stack.sdk_config().await);
    let queue_url = stack.resources.ref_value("WorkQueue").unwrap().to_string();
    let dlq_url = stack
        .resources
        .attr("WorkDeadLetterQueue", "QueueUrl")
        .unwrap()
        .to_string();
    sqs.send_message()
        .queue_url(&queue_url)
        .message_body("error-batch")
        .send()
        .await
        .unwrap();
    let started = Instant::now();
    loop {
        let (visible, _) = queue_depth(&sqs, &dlq_url).await;
        if visible == 1 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(40),
            "{}",
            stack.logs().join("\n")
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let logs = stack.logs();
    assert_eq!(
        count_lines(&logs, "body=error-batch"),
        2,
        "{}",
        logs.join("\n")
    );
    assert!(logs
        .iter()
        .any(|l| l.contains("invocation with 1 record(s) failed")));
    stack.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runtime_api_env_timeout_crash_and_init_error() {
    let (stack, name) = start_worker_stack(&["Worker", "BrokenInit"]).await;

    // The handler sees the Lambda environment and context.
    let env = stack
        .invoke("Worker", &json!({"action": "env"}))
        .await
        .unwrap();
    assert_eq!(env["function_name"], format!("{name}-Worker"));
    assert_eq!(env["memory"], "256");
    assert_eq!(env["endpoint"], stack.moto_endpoint);
    assert_eq!(env["table"], format!("{name}-table"));
    assert!(env["arn"]
        .as_str()
        .unwrap()
        .ends_with(&format!("function:{name}-Worker")));
    assert!(env["deadline"].as_u64().unwrap() > 0);

    // Handler error.
    match stack
        .invoke_raw("Worker", json!({"action": "error"}).to_string().into())
        .await
    {
        Err(InvokeError::Function { error_message, .. }) => {
            assert!(error_message.contains("asked to fail"))
        }
        other => panic!("expected a function error, got {other:?}"),
    }

    // Timeout (2 s): the invocation fails, the process is restarted and serves the next one.
    let t0 = Instant::now();
    let r = stack
        .invoke_raw("Worker", json!({"action": "sleep"}).to_string().into())
        .await;
    assert_eq!(r, Err(InvokeError::Timeout(Duration::from_secs(2))));
    assert!(t0.elapsed() < Duration::from_secs(5));
    let echo = stack
        .invoke("Worker", &json!({"action": "echo", "n": 1}))
        .await
        .unwrap();
    assert_eq!(echo["n"], 1);

    // Crash (abort): the in-flight invocation fails, the process is restarted.
    match stack
        .invoke_raw("Worker", json!({"action": "crash"}).to_string().into())
        .await
    {
        Err(InvokeError::Crashed(_)) => {}
        other => panic!("expected a crash, got {other:?}"),
    }
    let echo = stack.invoke("Worker", &json!({"n": 2})).await.unwrap();
    assert_eq!(echo["n"], 2);

    // A process killed while it waits for work (in its `next` long-poll) is restarted and serves the
    // next invocation.
    for _ in 0..2 {
        let old = stack.pids()["Worker"];
        assert!(old > 0);
        std::process::Command::new("kill")
            .arg("-KILL")
            .arg(old.to_string())
            .status()
            .unwrap();
        let t0 = Instant::now();
        while stack.pids()["Worker"] == old || stack.pids()["Worker"] == 0 {
            assert!(t0.elapsed() < Duration::from_secs(10), "no restart");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let echo = stack.invoke("Worker", &json!({"n": 3})).await.unwrap();
        assert_eq!(echo["n"], 3);
    }

    // Init error reported through /runtime/init/error.
    match stack.invoke_raw("BrokenInit", "{}".into()).await {
        Err(InvokeError::Init(msg)) => assert!(msg.contains("TABLE_NAME missing (test)"), "{msg}"),
        other => panic!("expected an init error, got {other:?}"),
    }
    assert!(stack
        .logs()
        .iter()
        .any(|l| l.contains("[BrokenInit] INIT ERROR")));
    assert!(stack
        .not_emulated
        .contains(&("Stream".to_string(), "AWS::Kinesis::Stream".to_string())));
    stack.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_gateway_routes_jwt_and_payload() {
    let (stack, _) = start_worker_stack(&["Echo"]).await;
    let http = reqwest::Client::new();
    let url = |p: &str| format!("{}{p}", stack.api_url);

    // No token / bad token → 401 like API Gateway.
    let r = http.get(url("/v1/things/t1")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"message": "Unauthorized"})
    );
    let forged = inndrive_local::jwt::sign(
        "https://evil/",
        "inndrive-local",
        "org_x",
        "u",
        Duration::from_secs(60),
    );
    let r = http
        .get(url("/v1/things/t1"))
        .bearer_auth(forged)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    // Unknown route → 404.
    let r = http.get(url("/nope")).send().await.unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"message": "Not Found"})
    );

    // A valid token: the function receives the v2 event with the claims as strings.
    let token = stack.dev_jwt("org_acme");
    let r = http
        .get(url("/v1/things/t1?x=1&x=2"))
        .bearer_auth(&token)
        .header("Origin", "http://localhost:5173")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["access-control-allow-origin"], "*");
    let ev: Value = r.json().await.unwrap();
    assert_eq!(ev["version"], "2.0");
    assert_eq!(ev["routeKey"], "GET /v1/things/{id}");
    assert_eq!(ev["pathParameters"]["id"], "t1");
    assert_eq!(ev["queryStringParameters"]["x"], "1,2");
    let claims = &ev["requestContext"]["authorizer"]["jwt"]["claims"];
    assert_eq!(claims["org"], "org_acme");
    assert_eq!(claims["sub"], "dev-user");
    assert!(claims["exp"].is_string());
    // The crate-root dev_jwt is accepted too.
    let r = http
        .get(url("/v1/things/t2"))
        .bearer_auth(inndrive_local::dev_jwt(
            "org_b",
            "u2",
            Duration::from_secs(60),
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // A route with Auth: NONE needs no token and gets no authorizer context.
    let r = http.get(url("/health")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let ev: Value = r.json().await.unwrap();
    assert!(ev["requestContext"].get("authorizer").is_none());

    // CORS preflight answered by the API.
    let r = http
        .request(reqwest::Method::OPTIONS, url("/v1/things/t1"))
        .header("Origin", "http://localhost:5173")
        .header("Access-Control-Request-Method", "GET")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(r.headers()["access-control-allow-methods"], "GET,POST");
    stack.shutdown().await;
}

/// The real template.yaml provisions into moto, twice (idempotent), with the consumer token in its
/// secret and the FIFO queue's redrive policy pointing at its DLQ.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_template_provisions_idempotently() {
    use inndrive_local::template::{Resolver, Template};
    let template = Template::from_path(&inndrive_local::repo_root().join("template.yaml")).unwrap();
    let stage = unique("s");
    let overrides = BTreeMap::from([
        ("Stage".to_string(), stage.clone()),
        (
            "JwtIssuer".to_string(),
            inndrive_local::jwt::DEV_ISSUER.to_string(),
        ),
        (
            "JwtAudience".to_string(),
            inndrive_local::jwt::DEV_AUDIENCE.to_string(),
        ),
    ]);
    let mut moto = match std::env::var("MOTO_ENDPOINT")
        .ok()
        .filter(|e| !e.is_empty())
    {
        Some(e) => inndrive_local::moto::Moto::external(&e),
        None => inndrive_local::moto::Moto::start(
            &inndrive_local::moto::venv_dir(&inndrive_local::repo_root()),
            None,
        )
        .await
        .unwrap(),
    };
    let sdk = inndrive_local::moto::sdk_config_for(&moto.endpoint).await;
    let token = secrecy::SecretString::from("consumer-token-for-test".to_string());
    let mut first = None;
    for _ in 0..2 {
        let mut r = Resolver::new(&template, "inndrive-local", &overrides).unwrap();
        let report = inndrive_local::provision::provision(&template, &mut r, &sdk, Some(&token))
            .await
            .expect("provisioning succeeds (also the second time)");
        assert!(report.not_emulated.is_empty(), "{:?}", report.not_emulated);
        let fns = template.functions(&r).unwrap();
        let env = fns[0].env.clone();
        if let Some(prev) = &first {
            assert_eq!(prev, &env, "same physical ids the second time");
        }
        first = Some(env);
        let _ = r;
    }
    let env = first.unwrap();
    assert_eq!(env["TABLE_NAME"], format!("inndrive-{stage}"));

    let ddb = aws_sdk_dynamodb::Client::new(&sdk);
    let t = ddb
        .describe_table()
        .table_name(format!("inndrive-{stage}"))
        .send()
        .await
        .unwrap();
    let t = t.table.unwrap();
    assert_eq!(t.global_secondary_indexes().len(), 2);
    assert_eq!(t.key_schema().len(), 2);

    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let a = sqs
        .get_queue_attributes()
        .queue_url(&env["SYNC_QUEUE_URL"])
        .attribute_names(QueueAttributeName::All)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap();
    assert_eq!(a[&QueueAttributeName::FifoQueue], "true");
    assert_eq!(a[&QueueAttributeName::VisibilityTimeout], "5400");
    let redrive: Value = serde_json::from_str(&a[&QueueAttributeName::RedrivePolicy]).unwrap();
    assert_eq!(redrive["maxReceiveCount"], 5);
    assert!(redrive["deadLetterTargetArn"]
        .as_str()
        .unwrap()
        .ends_with(&format!("inndrive-{stage}-sync-dlq.fifo")));

    let sm = aws_sdk_secretsmanager::Client::new(&sdk);
    let v = sm
        .get_secret_value()
        .secret_id(&env["TRIPLETEX_CONSUMER_TOKEN_SECRET_ID"])
        .send()
        .await
        .unwrap();
    assert_eq!(v.secret_string(), Some("consumer-token-for-test"));
    moto.shutdown().await;
}

#[tokio::test]
async fn missing_binary_is_a_clear_error() {
    let stack = unique("mb");
    let template = write_template(
        &stack,
        "Resources:\n  F:\n    Type: AWS::Serverless::Function\n    Metadata: { BuildProperties: { Binary: no-such-binary } }\n    Properties: {}\n",
    );
    let err = inndrive_local::start(opts(template, &stack))
        .await
        .err()
        .expect("fails");
    let msg = err.to_string();
    assert!(
        msg.contains("no-such-binary") && msg.contains("cargo build -p no-such-binary"),
        "{msg}"
    );
}

/// `up --background` detaches, writes .local/stack.json and prints the ports; `status` sees it; the
/// API answers; `down` stops it and its processes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_background_up_status_down() {
    let root = std::env::temp_dir().join(unique("inndrive-local-cli-"));
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(root.join("Cargo.toml"), "# test root\n").unwrap();
    std::fs::write(
        root.join("template.yaml"),
        r#"
Resources:
  Jobs:
    Type: AWS::SQS::Queue
    Properties: { QueueName: !Sub "${AWS::StackName}-cli-jobs" }
  Echo:
    Type: AWS::Serverless::Function
    Metadata: { BuildProperties: { Binary: local-test-worker } }
    Properties:
      Events:
        Health:
          Type: HttpApi
          Properties: { Path: "/health", Method: GET }
"#,
    )
    .unwrap();
    let exe = env!("CARGO_BIN_EXE_inndrive-local");
    let run = |args: &[&str]| {
        let out = std::process::Command::new(exe)
            .args(args)
            .env("INNDRIVE_REPO_ROOT", &root)
            .env("INNDRIVE_BIN_DIR", worker_bin_dir())
            .output()
            .unwrap();
        (
            out.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    };
    let (ok, out) = run(&["up", "--background", "--fixture", "none"]);
    assert!(ok, "{out}");
    assert!(
        out.contains("API (API Gateway HTTP API): http://127.0.0.1:"),
        "{out}"
    );
    assert!(out.contains("cli-jobs"), "{out}");
    let state: Value =
        serde_json::from_str(&std::fs::read_to_string(root.join(".local/stack.json")).unwrap())
            .unwrap();
    let api = state["api_url"].as_str().unwrap().to_string();
    let pid = state["pid"].as_u64().unwrap();
    let worker_pid = state["pids"]["Echo"].as_u64().unwrap();

    let (ok, out) = run(&["status"]);
    assert!(
        ok && out.contains("running") && out.contains("answers"),
        "{out}"
    );
    let r = reqwest::get(format!("{api}/health")).await.unwrap();
    assert_eq!(r.status(), 200);
    // A second background stack is refused while this one runs.
    let (ok, out) = run(&["up", "--background", "--fixture", "none"]);
    assert!(!ok && out.contains("already running"), "{out}");

    let (ok, out) = run(&["down"]);
    assert!(ok && out.contains("stopped"), "{out}");
    let alive = |p: u64| {
        std::fs::read_to_string(format!("/proc/{p}/stat"))
            .map(|s| !s.contains(") Z "))
            .unwrap_or(false)
    };
    assert!(!alive(pid), "the stack process is gone");
    assert!(!alive(worker_pid), "the function process is gone");
    if let Some(moto_pid) = state["pids"]["moto"].as_u64() {
        assert!(!alive(moto_pid), "the stack's moto is gone");
    }
    assert!(
        reqwest::get(format!("{api}/health")).await.is_err(),
        "the API is closed"
    );
    let (_, out) = run(&["status"]);
    assert!(out.contains("not running"), "{out}");
    let _ = std::fs::remove_dir_all(&root);
}
