//! Benchmark of the daily dunning run: one account with N due notices (default 10 000), one
//! letter each (N business debtors with one overdue invoice each, an overdue-notice e-mail and a
//! postal address), run end to end by the real service as the function builds it: DynamoDB, SES
//! and S3 in moto (its own process), the re-check against the Tripletex sandbox (in this process,
//! on its own thread), the PDFs rendered in process.
//!
//! ```sh
//! ./dev bench-dunning [N]
//! ```
//!
//! Set-up (not measured): the test-support dunning world — the company in the sandbox, the real
//! sync, classification and daily case job into moto, dunning switched on (purring first, 14
//! days after the due date). Then one run of the account (`DunningService::run_account`, as the
//! worker's job runs it) at 07:00 Oslo on 1 October 2026. Prints a JSON report:
//!
//! - Tripletex re-check requests per notice (the run's report, and the sandbox's own count);
//! - DynamoDB write requests per notice (every store write: PutItem, UpdateItem or
//!   TransactWriteItems, counted at the port);
//! - SES calls, and notices and letters sent (equal: one letter per notice here);
//! - CPU by phase (the run's report: load, plan, re-check, render, send, record), process CPU
//!   (user + sys) of the run, wall time; the re-check phase's CPU includes the sandbox's thread
//!   answering it;
//! - peak RSS (VmHWM) during the run, the heap trimmed and the peak reset just before it, and the
//!   resident size before it (the sandbox's data and the set-up's leftovers are in both);
//! - letters rendered per second (render CPU), and letters sent per second (wall).

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{json, Value};
use shared::domain::collection::dunning::Mode;
use test_support::dunning::{Counts, World};
use test_support::sync::{
    account, customer, invoice, posting, voucher, Vt, AR, BANK, LOSS, REVENUE,
};

fn proc_cpu() -> Duration {
    shared::telemetry::process_cpu()
}

fn status_kb(field: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .unwrap_or(0.0)
}

fn mb(kb: f64) -> f64 {
    (kb / 1024.0 * 10.0).round() / 10.0
}

extern "C" {
    /// glibc: return freed heap to the OS, so the run's peak is its own.
    fn malloc_trim(pad: usize) -> i32;
}

fn reset_peak_rss() {
    // SAFETY: glibc's malloc_trim has no preconditions; it only releases free memory.
    unsafe {
        malloc_trim(0);
    }
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// N business customers with one overdue invoice each (due between 1 August and 10 September
/// 2026, 1 000–50 000 kr), an overdue-notice e-mail and a postal address.
fn company(n: usize) -> Value {
    let mut customers = Vec::with_capacity(n);
    let mut invoices = Vec::with_capacity(n);
    let mut postings = Vec::with_capacity(2 * n);
    let mut vouchers = Vec::with_capacity(n);
    let first_due = NaiveDate::from_ymd_opt(2026, 8, 1).unwrap();
    for i in 0..n as i64 {
        let cust = 100_000 + i;
        let inv = 1_000_000 + i;
        let number = 500_000 + i;
        let v = 2_000_000 + i;
        let (ar_line, rev_line) = (3_000_000 + 2 * i, 3_000_001 + 2 * i);
        let due = first_due + chrono::Duration::days(i % 40);
        let date = due - chrono::Duration::days(14);
        let (date, due) = (date.to_string(), due.to_string());
        let amount = 1000.0 + ((i * 7919) % 49_000) as f64;
        let mut c = customer(cust, &format!("Kunde {i} AS"), "", false, false);
        c["overdueNoticeEmail"] = json!(format!("kunde{i}@debtor.test"));
        customers.push(c);
        invoices.push(invoice(inv, number, cust, &date, &due, amount, amount, v));
        postings.push(posting(
            ar_line,
            v,
            Vt::Invoice,
            &date,
            AR,
            amount,
            Some(cust),
            &number.to_string(),
            Some(&due),
            None,
        ));
        postings.push(posting(
            rev_line,
            v,
            Vt::Invoice,
            &date,
            REVENUE,
            -amount,
            None,
            "",
            None,
            None,
        ));
        vouchers.push(voucher(
            v,
            &date,
            &format!("Faktura {number}"),
            Vt::Invoice,
            &[ar_line, rev_line],
        ));
    }
    json!({
        "customers": customers,
        "invoices": invoices,
        "postings": postings,
        "vouchers": vouchers,
        "accounts": [
            account(AR, "Kundefordringer", "CUSTOMER", true, false),
            account(BANK, "Bankinnskudd", "GENERAL", false, true),
            account(REVENUE, "Salgsinntekt", "GENERAL", false, false),
            account(LOSS, "Konstaterte tap på fordringer", "GENERAL", false, false),
        ],
    })
}

/// The sandbox's count of /v2 requests since its last reset, and per path.
async fn sandbox_requests(w: &World) -> Value {
    let base = w.sync.sandbox.base_url.trim_end_matches("/v2").to_string();
    let stats: Value = reqwest::get(format!("{base}/_sandbox/stats"))
        .await
        .expect("the sandbox's stats")
        .json()
        .await
        .expect("JSON");
    json!({"total": stats["totalRequests"], "byPath": stats["requestsByPath"]})
}

async fn sandbox_reset(w: &World) {
    let base = w.sync.sandbox.base_url.trim_end_matches("/v2").to_string();
    reqwest::Client::new()
        .post(format!("{base}/_sandbox/stats/reset"))
        .send()
        .await
        .expect("the sandbox resets its stats");
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let n: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(10_000);
    let at: DateTime<Utc> = DateTime::parse_from_rfc3339("2026-10-01T05:00:00Z")
        .unwrap()
        .to_utc();

    eprintln!("set-up: {n} debtors with one overdue invoice each; sync, classification, cases …");
    let t = Instant::now();
    let w = World::new(&company(n), at).await;
    w.enable(Mode::Automatic, |_| {}).await;
    let setup_s = t.elapsed().as_secs_f64();
    eprintln!("set-up done in {setup_s:.1} s; the run …");

    let counts = Arc::new(Counts::default());
    let svc = w.counted_service(&counts);
    sandbox_reset(&w).await;
    reset_peak_rss();
    let rss_before = status_kb("VmRSS:");
    let (cpu0, wall0) = (proc_cpu(), Instant::now());
    let report = svc
        .run_account(&w.sync.org, &w.sync.account, None)
        .await
        .expect("the run");
    let (cpu, wall) = (proc_cpu() - cpu0, wall0.elapsed());
    let peak = status_kb("VmHWM:");
    let sandbox_seen = sandbox_requests(&w).await;

    let notices = report.notices_sent as f64;
    let per = |x: u64| {
        if notices == 0.0 {
            Value::Null
        } else {
            json!((x as f64 / notices * 1000.0).round() / 1000.0)
        }
    };
    let writes = Counts::get(&counts.dynamodb_writes);
    let ses = Counts::get(&counts.ses_calls);
    let render_s = report.cpu_ms.render as f64 / 1000.0;
    let out = json!({
        "dueNotices": n,
        "setupSeconds": (setup_s * 10.0).round() / 10.0,
        "cases": report.cases,
        "decisions": report.decisions,
        "holds": report.holds,
        "stopped": report.stopped,
        "letters": report.letters,
        "noticesSent": report.notices_sent,
        "mails": report.mails,
        "sesCalls": ses,
        "s3Puts": Counts::get(&counts.s3_puts),
        "recheckRequests": report.recheck_requests,
        "recheckRequestsPerNotice": per(u64::from(report.recheck_requests)),
        "sandboxRequestsSeen": sandbox_seen,
        "dynamodbWriteRequests": writes,
        "dynamodbWritesPerNotice": per(writes),
        "cpuMsByPhase": report.cpu_ms,
        "wallMsByPhase": report.wall_ms,
        "cpuMs": cpu.as_millis() as u64,
        "wallMs": wall.as_millis() as u64,
        "rssBeforeMb": mb(rss_before),
        "peakRssMb": mb(peak),
        "lettersRenderedPerCpuSecond": if render_s > 0.0 { json!(((report.letters as f64) / render_s).round()) } else { Value::Null },
        "lettersSentPerSecond": ((report.letters as f64) / wall.as_secs_f64() * 10.0).round() / 10.0,
    });
    println!("{}", serde_json::to_string_pretty(&out).unwrap());
    assert_eq!(ses, u64::from(report.mails), "one SES call per mail");
    assert_eq!(report.letters as usize, n, "every due notice sent: {out}");
}
