//! A redelivery storm, end to end: every SQS message is handed to its function three times, in
//! a seeded order within what the queue allows (all the work queues are FIFO: each message's
//! copies before its group's next message, the groups interleaved), while a second organization
//! connects, syncs and re-syncs the company a first one synced under ordinary delivery. The end
//! state is the same (same hash as the Tripletex fault run, `e2e::convergence`), no timeline entry
//! twice, nothing in a dead-letter queue.
//!
//! The seed is 1304, or `INNDRIVE_FAULT_SEED` (`./dev soak`). Needs every function binary.

use std::time::Instant;

use e2e::convergence::{self as c, COMPANY_SEED, POSTINGS};
use e2e::Api;
use inndrive_local::sqs_source::Delivery;
use inndrive_local::LocalStack;

const COPIES: u32 = 3;

async fn start() -> LocalStack {
    // A page per invocation: the sync goes on in continuation messages, which the storm repeats
    // too.
    let opts = e2e::stack_options(
        Some(c::company_fixture()),
        None,
        &[("SyncPagesPerInvocation", "1")],
    );
    e2e::start_stack_from(opts)
        .await
        .expect("the local stack starts")
}

/// Connect, first sync, re-sync; the end state.
async fn run(stack: &LocalStack, api: &Api) -> serde_json::Value {
    let account = c::connect(api).await;
    let first = c::synced(api, stack, &account, None).await;
    c::at_rest(stack).await;
    c::resync(api, &account).await;
    c::synced(api, stack, &account, Some(&first)).await;
    c::settled_view(stack, api, &account).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_message_three_times_ends_as_once() {
    let seed = c::fault_seed(1304);
    let began = Instant::now();
    let stack = start().await;

    let calm = Api::new(&stack, "org_once");
    let expected = run(&stack, &calm).await;
    let (once, none) = stack.delivered();
    assert_eq!(none, 0, "no copies under ordinary delivery");

    stack.set_delivery(Delivery::Storm {
        copies: COPIES,
        seed,
    });
    let stormy = Api::new(&stack, "org_storm");
    let after = run(&stack, &stormy).await;
    stack.set_delivery(Delivery::Once);
    let (all, copies) = stack.delivered();

    c::assert_same_end_state(&expected, &after, &format!("the storm (seed {seed})"));
    let duplicates = c::duplicate_timeline_entries(&after);
    assert!(
        duplicates.is_empty(),
        "events applied twice: {duplicates:?}"
    );
    c::assert_dead_letter_queues_empty(&stack).await;
    let stormed = all - once;
    assert!(
        copies >= stormed / u64::from(COPIES),
        "the storm repeated messages: {copies} copies of {stormed} records"
    );
    eprintln!(
        "redelivery storm (company seed {COMPANY_SEED}, {POSTINGS} postings, storm seed {seed}, \
         {COPIES} copies): {once} records delivered once, then {stormed} records of which {copies} \
         repeated copies; views equal (sha256 {}), {} timeline entries, none twice; nothing in a \
         dead-letter queue; {:.0} s",
        c::sha256(&expected),
        c::timeline_entries(&after),
        began.elapsed().as_secs_f64()
    );
    stack.shutdown().await;
}
