//! Benchmark of the ledger sync, one run on loopback: a first sync of a generated
//! client company (100 000 postings) and an unchanged re-sync, with the real engine against the
//! Tripletex sandbox (its release binary, a separate process) and moto; then a plain
//! download-and-parse of the same pages from the same sandbox, for the CPU comparison.
//!
//! ```sh
//! cargo build --release -p tripletex-sandbox
//! CARGO_PROFILE_RELEASE_LTO=false cargo bench -p sync-worker --bench sync_bench -- [postings]
//! ```
//!
//! Prints a JSON report (and a table). CPU is this process's user + sys time (/proc/self/stat); the
//! sandbox and moto run in their own processes. Peak RSS is VmHWM, reset before each phase
//! (/proc/self/clear_refs).

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::Utc;
use serde_json::{json, Value};
use shared::adapters::queue::SyncReason;
use shared::adapters::tripletex::model::ListPage;
use shared::adapters::tripletex::{Acting, EmployeeKey, TripletexClient};
use shared::services::sync::{JobOutcome, RunStats, SyncConfig};
use test_support::moto;
use test_support::sync::*;

fn proc_cpu() -> Duration {
    let (user, sys) = proc_user_sys();
    user + sys
}

/// This process's user and system CPU time (fields 14 and 15 of /proc/self/stat, in clock ticks).
fn proc_user_sys() -> (Duration, Duration) {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(") ").map(|x| x.1).unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    let hz = 100u64; // CLK_TCK on Linux
    (
        Duration::from_millis(ticks(11) * 1000 / hz),
        Duration::from_millis(ticks(12) * 1000 / hz),
    )
}

fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

extern "C" {
    /// glibc: return freed heap to the OS, so the next phase's peak is its own.
    fn malloc_trim(pad: usize) -> i32;
}

fn reset_peak_rss() {
    // SAFETY: glibc's malloc_trim has no preconditions; it only releases free memory.
    unsafe {
        malloc_trim(0);
    }
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

struct Sandbox {
    child: Child,
    base_url: String,
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_sandbox(postings: usize) -> Sandbox {
    let bin = std::env::var_os("INNDRIVE_SANDBOX_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let target = std::env::var_os("CARGO_TARGET_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from("target"));
            target.join("release/tripletex-sandbox")
        });
    assert!(
        bin.exists(),
        "build the sandbox first: cargo build --release -p tripletex-sandbox ({})",
        bin.display()
    );
    let mut child = Command::new(&bin)
        .args([
            "--fixture",
            "demo",
            "--port",
            "0",
            "--rate-limit",
            "100000",
            "--generate",
            &format!("seed=7,postings={postings},company=2001"),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting the sandbox");
    let out = child.stdout.take().unwrap();
    let mut lines = BufReader::new(out).lines();
    let base_url = loop {
        let line = lines
            .next()
            .expect("the sandbox printed its URL")
            .expect("stdout");
        if let Some(u) = line.strip_prefix("SANDBOX_URL=") {
            break u.trim().to_string();
        }
    };
    Sandbox { child, base_url }
}

async fn sandbox_stats(base: &str) -> Value {
    let admin = format!("{}/_sandbox/stats", base.trim_end_matches("/v2"));
    reqwest::get(&admin).await.unwrap().json().await.unwrap()
}

async fn sandbox_reset(base: &str) {
    let admin = format!("{}/_sandbox/stats/reset", base.trim_end_matches("/v2"));
    reqwest::Client::new().post(&admin).send().await.unwrap();
}

/// ⌈values / 1000⌉, at least 1 (an empty list is one request).
fn pages(values: u64) -> u64 {
    values.div_ceil(1000).max(1)
}

fn minimal_pages(s: &RunStats) -> u64 {
    s.tripletex_steps
        .iter()
        .map(|(name, st)| match name.as_str() {
            "posting_rules" => 1,
            "vouchers" => st.ids.div_ceil(1000),
            _ => pages(st.values),
        })
        .sum()
}

fn report(name: &str, s: &RunStats, cpu: Duration, rss: f64, sandbox_requests: u64) -> Value {
    let min_pages = minimal_pages(s);
    let min_writes = (s.dynamodb_items_written as u64).div_ceil(25);
    let waits = s.tripletex_wait_ms + s.dynamodb_wait_ms + s.sqs_wait_ms + s.brreg_wait_ms;
    json!({
        "run": name,
        "tripletexRequests": s.tripletex_requests,
        "sandboxRequestsSeen": sandbox_requests,
        "minimalPages": min_pages,
        "requestRatio": s.tripletex_requests as f64 / min_pages as f64,
        "steps": s.tripletex_steps,
        "itemsWritten": s.dynamodb_items_written,
        "dynamodbWriteRequests": s.dynamodb_write_requests,
        "minimalWriteRequests": min_writes,
        "writeRatio": if min_writes == 0 { Value::Null } else { json!(s.dynamodb_write_requests as f64 / min_writes as f64) },
        "dynamodbReadRequests": s.dynamodb_read_requests,
        "eventsSent": s.events_sent,
        "messagesSent": s.messages_sent,
        "sqsRequests": s.sqs_requests,
        "cpuMs": cpu.as_millis() as u64,
        "peakRssMb": (rss * 10.0).round() / 10.0,
        "wallMs": s.total_ms,
        "waitTripletexMs": s.tripletex_wait_ms,
        "waitDynamodbMs": s.dynamodb_wait_ms,
        "waitSqsMs": s.sqs_wait_ms,
        "computeMs": s.total_ms.saturating_sub(waits),
        "buildAndDiffMs": s.build_ms,
        "cpuReadMs": s.cpu_read_ms,
        "cpuBuildMs": s.cpu_build_ms,
        "cpuEventsMs": s.cpu_events_ms,
        "cpuWritesMs": s.cpu_writes_ms,
        "counts": s.counts,
    })
}

/// The same pages as the sync, downloaded and parsed as plain JSON, nothing else.
async fn plain_download_and_parse(
    client: &TripletexClient,
    key: &EmployeeKey,
    fetch_from: &str,
    tomorrow: &str,
    ar: i64,
) -> u64 {
    use shared::services::sync::read as f;
    let acting = Acting::Client(2001);
    let mut values = 0u64;
    let _: Value = client
        .get_json(
            key,
            acting,
            "/ledger/postingRules",
            &[("fields", f::POSTING_RULES_FIELDS.to_string())],
        )
        .await
        .unwrap();
    let mut credit_vouchers = std::collections::BTreeSet::new();
    type Query<'a> = Vec<(&'a str, String)>;
    let lists: Vec<(&str, Query, &str)> = vec![
        ("/ledger/account", vec![], f::ACCOUNT_FIELDS),
        (
            "/customer",
            vec![("isInactive", "false".into())],
            f::CUSTOMER_FIELDS,
        ),
        (
            "/customer",
            vec![("isInactive", "true".into())],
            f::CUSTOMER_FIELDS,
        ),
        (
            "/invoice",
            vec![
                ("invoiceDateFrom", fetch_from.into()),
                ("invoiceDateTo", tomorrow.into()),
            ],
            f::INVOICE_FIELDS,
        ),
        (
            "/ledger/posting/openPost",
            vec![("date", tomorrow.into()), ("accountId", ar.to_string())],
            f::POSTING_FIELDS,
        ),
        (
            "/ledger/posting",
            vec![
                ("dateFrom", fetch_from.into()),
                ("dateTo", tomorrow.into()),
                ("accountId", ar.to_string()),
            ],
            f::POSTING_FIELDS,
        ),
    ];
    for (path, q, fields) in lists {
        let mut from = 0u64;
        loop {
            let mut qq = q.clone();
            qq.push(("from", from.to_string()));
            qq.push(("count", "1000".into()));
            qq.push(("fields", fields.to_string()));
            let page: ListPage<Value> = client.get_json(key, acting, path, &qq).await.unwrap();
            let n = page.values.len();
            if path.starts_with("/ledger/posting") {
                for v in &page.values {
                    if v["amountGross"].as_f64().is_some_and(|a| a < 0.0) {
                        if let Some(id) = v["voucher"]["id"].as_i64() {
                            credit_vouchers.insert(id);
                        }
                    }
                }
            }
            values += n as u64;
            from += n as u64;
            if n < 1000 {
                break;
            }
        }
    }
    let ids: Vec<i64> = credit_vouchers.into_iter().collect();
    for chunk in ids.chunks(1000) {
        let q = vec![
            (
                "id",
                chunk
                    .iter()
                    .map(i64::to_string)
                    .collect::<Vec<_>>()
                    .join(","),
            ),
            ("dateFrom", "2000-01-01".to_string()),
            ("dateTo", tomorrow.to_string()),
            ("from", "0".into()),
            ("count", "1000".into()),
            ("fields", f::VOUCHER_FIELDS.to_string()),
        ];
        let page: ListPage<Value> = client
            .get_json(key, acting, "/ledger/voucher", &q)
            .await
            .unwrap();
        values += page.values.len() as u64;
    }
    values
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    // As the worker's main does (the engine runs in this process).
    assert!(shared::allocator::tune_for_batch_work());
    let postings: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(100_000);
    moto();
    let sandbox = start_sandbox(postings);
    eprintln!("sandbox {} with {postings} postings", sandbox.base_url);

    // The world (table, queues, key, integration) in moto; its in-process sandbox is not used.
    let fetch_from = (Utc::now().date_naive() - chrono::Duration::days(3 * 366)).to_string();
    let ff = d(&fetch_from);
    let mut w = World::new(&base_company(), |s| {
        s.fetch_from = ff;
        s.include_saft_imported = true;
        s.include_null_voucher_type = true;
        s.update_addresses_from_brreg = false;
    })
    .await;
    w.sandbox.set_faults(Default::default());
    let client = TripletexClient::new(
        sandbox.base_url.clone(),
        secrecy::SecretString::from(tripletex_sandbox::DEMO_CONSUMER_TOKEN),
    );
    let svc = {
        let mut s = w.service(SyncConfig::default());
        s.tripletex = shared::services::sync::TripletexSource::ready(client.clone());
        // As the worker builds it (sync-worker/src/main.rs): no stalled-stream protection.
        {
            let conf = aws_sdk_sqs::config::Builder::from(&w.sdk)
                .stalled_stream_protection(
                    aws_sdk_sqs::config::StalledStreamProtectionConfig::disabled(),
                )
                .build();
            s.classification = shared::adapters::queue::ClassificationQueue::new(
                aws_sdk_sqs::Client::from_conf(conf),
                w.class_queue_url.clone(),
            );
        }
        s
    };

    let mut out = Vec::new();
    for (name, reason) in [
        ("first sync", SyncReason::Initial),
        ("unchanged re-sync", SyncReason::Manual),
    ] {
        sandbox_reset(&sandbox.base_url).await;
        // The classification consumer is not part of what is measured: a stand-in in its own
        // process (so its CPU is not ours) purges the queue every 0.5 s to keep it short (moto's
        // SQS costs O(queue length) per call; a real queue does not).
        let purger = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "while true; do curl -s -o /dev/null -X POST -H 'X-Amz-Target: AmazonSQS.PurgeQueue' \
                 -H 'Content-Type: application/x-amz-json-1.0' \
                 -H 'Authorization: AWS4-HMAC-SHA256 Credential=test/20260101/eu-north-1/sqs/aws4_request, SignedHeaders=host, Signature=0' \
                 -d '{{\"QueueUrl\": \"{}\"}}' {}/; sleep 0.5; done",
                w.class_queue_url,
                moto()
            ))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("purger");
        reset_peak_rss();
        let cpu0 = proc_cpu();
        let sys0 = proc_user_sys().1;
        let t0 = Instant::now();
        let outcome = svc.run_job(&w.job(reason), None).await.unwrap();
        let mut purger = purger;
        let _ = purger.kill();
        let _ = purger.wait();
        let wall = t0.elapsed();
        let cpu = proc_cpu() - cpu0;
        let sys = proc_user_sys().1 - sys0;
        let rss = peak_rss_mb();
        let JobOutcome::Completed(stats) = outcome else {
            panic!("{name}: {outcome:?}");
        };
        let seen = sandbox_stats(&sandbox.base_url).await["totalRequests"]
            .as_u64()
            .unwrap_or(0);
        let mut r = report(name, &stats, cpu, rss, seen);
        r["wallMsMeasured"] = json!(wall.as_millis() as u64);
        r["cpuSysMs"] = json!(sys.as_millis() as u64);
        eprintln!("{name}: {}", serde_json::to_string(&r).unwrap());
        out.push(r);
        // Drop the events (the consumer is not measured here).
        let _ = w
            .sqs
            .purge_queue()
            .queue_url(&w.class_queue_url)
            .send()
            .await;
    }

    // Baseline: the same pages, downloaded and parsed into plain JSON values.
    let token = secrecy::SecretString::from(tripletex_sandbox::DEMO_ACCOUNTANT_KEY);
    let key = EmployeeKey::new("bench-baseline", token);
    let tomorrow = (Utc::now().date_naive() + chrono::Duration::days(1)).to_string();
    // Five passes: the first gives the peak RSS; the CPU compared against is the median (one pass
    // is short, so it is the side of the ratio most disturbed by the other processes).
    let mut passes: Vec<(Duration, Duration, Duration, f64)> = Vec::new();
    let mut values = 0;
    let mut base_requests = 0;
    for _ in 0..5 {
        sandbox_reset(&sandbox.base_url).await;
        reset_peak_rss();
        let cpu0 = proc_cpu();
        let sys0 = proc_user_sys().1;
        let t0 = Instant::now();
        values = plain_download_and_parse(&client, &key, &fetch_from, &tomorrow, AR).await;
        let cpu = proc_cpu() - cpu0;
        let sys = proc_user_sys().1 - sys0;
        let wall = t0.elapsed();
        base_requests = sandbox_stats(&sandbox.base_url).await["totalRequests"]
            .as_u64()
            .unwrap_or(0);
        passes.push((cpu, wall, sys, peak_rss_mb()));
    }
    let mut cpus: Vec<u64> = passes.iter().map(|p| p.0.as_millis() as u64).collect();
    cpus.sort_unstable();
    let base_cpu_ms = cpus[cpus.len() / 2];
    let baseline = json!({
        "run": "plain download-and-parse",
        "values": values,
        "requests": base_requests,
        "cpuMs": base_cpu_ms,
        "cpuMsPasses": passes.iter().map(|p| p.0.as_millis() as u64).collect::<Vec<_>>(),
        "cpuSysMsPasses": passes.iter().map(|p| p.2.as_millis() as u64).collect::<Vec<_>>(),
        "wallMs": passes[0].1.as_millis() as u64,
        "peakRssMb": (passes[0].3 * 10.0).round() / 10.0,
    });
    for r in &mut out {
        let cpu = r["cpuMs"].as_u64().unwrap_or(0) as f64;
        r["cpuRatioToPlain"] = json!(cpu / (base_cpu_ms.max(1) as f64));
    }
    out.push(baseline);
    w.integration = w.current_integration().await;
    println!("{}", serde_json::to_string_pretty(&out).unwrap());
}
