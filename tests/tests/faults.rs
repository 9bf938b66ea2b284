//! Tripletex's bad days, end to end: a first sync and a re-sync while a fifth of Tripletex's
//! answers are 429 without a reset header, 500, 503, a body cut in half, a request that hangs
//! past the client's timeout or a connection closed without an answer end in the same ledger,
//! claims and cases as a sync of the same company on a good day, with nothing in a dead-letter
//! queue and the retries reported in the sync's log line.
//!
//! One stack, one sandbox with the demo fixture and a generated client company (fixed seed). A
//! first organization connects the client while the sandbox behaves; a second organization
//! connects the same client with the faults on. What each sees through the API is compared by
//! SHA-256 of the whole (`e2e::convergence`). The functions' Tripletex requests time out after
//! one second here (`TRIPLETEX_REQUEST_TIMEOUT_SECONDS`), so a hang costs a second, not a minute.
//!
//! Which requests fail follows the fault seed: 1302, or `INNDRIVE_FAULT_SEED` (`./dev soak`).
//!
//! Needs every function binary (`cargo build --workspace --bins`).

use std::time::Instant;

use e2e::convergence::{self as c, COMPANY_SEED, POSTINGS};
use e2e::Api;
use inndrive_local::LocalStack;
use tripletex_sandbox::{FaultKind, FaultRule, Faults};

/// The faults' share of Tripletex's answers.
const FAULT_SHARE: f64 = 0.20;
/// The functions' Tripletex request timeout here, and how long a hanging request hangs.
const REQUEST_TIMEOUT_SECONDS: u64 = 1;
const HANG_MS: u64 = 2_500;

async fn start() -> LocalStack {
    let mut opts = e2e::stack_options(Some(c::company_fixture()), None, &[]);
    opts.function_env.insert(
        "TRIPLETEX_REQUEST_TIMEOUT_SECONDS".into(),
        REQUEST_TIMEOUT_SECONDS.to_string(),
    );
    e2e::start_stack_from(opts)
        .await
        .expect("the local stack starts")
}

/// A fifth of the answers fail, split over the kinds Tripletex is seen to give.
fn bad_day(seed: u64) -> Faults {
    let kinds = [
        FaultKind::RateLimit {
            with_reset: false,
            reset_seconds: 1,
        },
        FaultKind::ServerError { status: 500 },
        FaultKind::ServerError { status: 503 },
        FaultKind::Truncate,
        FaultKind::Hang { ms: HANG_MS },
        FaultKind::Reset,
    ];
    let share = FAULT_SHARE / kinds.len() as f64;
    Faults {
        rules: kinds
            .into_iter()
            .map(|k| FaultRule::new(k).fraction(share))
            .collect(),
        seed: Some(seed),
        ..Faults::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_sync_and_a_re_sync_on_a_bad_day_end_as_on_a_good_day() {
    let seed = c::fault_seed(COMPANY_SEED);
    let began = Instant::now();
    let stack = start().await;
    let sandbox = stack.sandbox().expect("the sandbox runs");

    // A good day.
    let good = Api::new(&stack, "org_good_day");
    let good_account = c::connect(&good).await;
    c::synced(&good, &stack, &good_account, None).await;
    let expected = c::settled_view(&stack, &good, &good_account).await;
    assert!(
        !expected["items"].as_array().unwrap().is_empty()
            && !expected["cases"].as_array().unwrap().is_empty(),
        "the company has a ledger and cases"
    );
    assert_eq!(
        c::reported(&stack.logs(), "tripletex_retries"),
        0,
        "no retries on a good day"
    );

    // A bad day: a fifth of the answers fail.
    sandbox.reset_stats();
    sandbox.set_faults(bad_day(seed));
    let bad = Api::new(&stack, "org_bad_day");
    let bad_account = c::connect(&bad).await;
    let first = c::synced(&bad, &stack, &bad_account, None).await;
    let after_first = c::settled_view(&stack, &bad, &bad_account).await;
    c::assert_same_end_state(&expected, &after_first, "the first sync on a bad day");

    // A re-sync on the bad day changes nothing.
    c::resync(&bad, &bad_account).await;
    c::synced(&bad, &stack, &bad_account, Some(&first)).await;
    let after_resync = c::settled_view(&stack, &bad, &bad_account).await;
    c::assert_same_end_state(&expected, &after_resync, "the re-sync on a bad day");
    let stats = sandbox.stats();
    sandbox.set_faults(Faults::default());

    // The faults happened, the retries are reported, and nothing is in a dead-letter queue.
    let failed = stats.faults_injected;
    let logs = stack.logs();
    let retries = c::reported(&logs, "tripletex_retries");
    let reread = c::reported(&logs, "tripletex_reread_pages");
    let timeouts = logs
        .iter()
        .filter(|l| l.contains("transport error; retrying") && l.contains("timeout"))
        .count();
    let resets = logs
        .iter()
        .filter(|l| l.contains("transport error; retrying") && !l.contains("timeout"))
        .count();
    assert!(failed > 0, "the sandbox injected faults: {stats:?}");
    assert!(
        retries + reread > 0,
        "the syncs met some of the {failed} faults and said so"
    );
    assert_eq!(
        retries,
        c::retries_logged(&logs),
        "the retries the syncs report are the retries their client made"
    );
    c::assert_dead_letter_queues_empty(&stack).await;
    eprintln!(
        "faults (company seed {COMPANY_SEED}, {POSTINGS} postings, fault seed {seed}, {:.0} % faults): \
         {} requests, {failed} faults injected; the syncs retried {retries} requests \
         ({timeouts} after a timeout, {resets} after a closed connection) and read {reread} cut pages again; \
         views equal (sha256 {}); {:.0} s",
        FAULT_SHARE * 100.0,
        stats.total_requests,
        c::sha256(&expected),
        began.elapsed().as_secs_f64()
    );
    stack.shutdown().await;
}
