//! Crashes, end to end: the sync worker and the loss-classification function (its queue batches
//! and the daily case job) are killed (SIGKILL) at seeded random points of their invocations while
//! a second organization connects, syncs and runs the daily job for the same company
//! as a first one did undisturbed. The runner restarts each killed process; SQS delivers the
//! batch again, the scheduler repeats the daily job. The end state is the undisturbed one (same
//! hash as the Tripletex fault run, `e2e::convergence`): no work lost, no event applied twice
//! (no timeline entry twice), and each organization got the undisturbed one's mails, none twice
//! (moto's SES; a mail whose sender died between claiming it and handing it to SES is held, as
//! the mail log's at-most-once rule says, and the log says so).
//!
//! The seed is 1303, or `INNDRIVE_FAULT_SEED` (`./dev soak`). Needs every function binary.

use std::collections::BTreeMap;
use std::time::Instant;

use e2e::convergence::{self as c, COMPANY_SEED, POSTINGS};
use e2e::Api;
use inndrive_local::runtime::CrashPlan;
use inndrive_local::LocalStack;

/// The functions killed, the share of their invocations that is killed and the kills at most
/// (each).
const KILLED: [&str; 2] = ["SyncWorkerFunction", "LossClassificationFunction"];
const KILL_SHARE: f64 = 0.5;
const MAX_KILLS: u32 = 12;
/// Organizations run one after the other under kills.
const ROUNDS: u64 = 2;
/// The sync goes on in a new invocation after each page, so that a sync has many points to die
/// at (and resumes from its checkpoint).
const PAGES_PER_INVOCATION: &str = "1";

async fn start() -> LocalStack {
    let opts = e2e::stack_options(
        Some(c::company_fixture()),
        None,
        &[("SyncPagesPerInvocation", PAGES_PER_INVOCATION)],
    );
    // The mails are read from moto's whole state at the end: a moto of this test's own keeps
    // that small.
    let opts = inndrive_local::StackOptions {
        own_moto: true,
        ..opts
    };
    e2e::start_stack_from(opts)
        .await
        .expect("the local stack starts")
}

/// The organization's whole run: connect, first sync (its classification), the daily job.
/// Returns the end state and the daily job's failed attempts.
async fn run(stack: &LocalStack, api: &Api) -> (serde_json::Value, u32) {
    let account = c::connect(api).await;
    c::synced(api, stack, &account, None).await;
    c::at_rest(stack).await;
    let (report, failed) = c::daily_case_job(stack).await;
    assert_eq!(report["failed"], 0, "{report}");
    (c::settled_view(stack, api, &account).await, failed)
}

/// The subjects of the mails moto's SES took, by recipient (read once: moto builds the page
/// from its whole state).
async fn mails_by_recipient(stack: &LocalStack) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for m in test_support::ses_sent_at(&stack.moto_endpoint, "Message").await {
        for to in m["destinations"]["ToAddresses"]
            .as_array()
            .into_iter()
            .flatten()
        {
            out.entry(to.as_str().unwrap_or_default().to_string())
                .or_default()
                .push(m["subject"].as_str().unwrap_or_default().to_string());
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_functions_lose_no_work_and_repeat_no_side_effect() {
    let seed = c::fault_seed(1303);
    let began = Instant::now();
    let stack = start().await;

    // Undisturbed.
    let good = Api::new(&stack, "org_calm");
    let good_mail = format!("calm-{}@inndrive.test", uuid::Uuid::new_v4().simple());
    c::set_contact_email(&stack, "org_calm", &good_mail).await;
    let (expected, _) = run(&stack, &good).await;
    eprintln!(
        "crashes: undisturbed run done after {:.0} s",
        began.elapsed().as_secs_f64()
    );
    assert!(
        c::duplicate_timeline_entries(&expected).is_empty(),
        "no timeline entry twice undisturbed: {:?}",
        c::duplicate_timeline_entries(&expected)
    );

    // Killed at random points, round after round (a new organization each, the seed moved on).
    let mut kills = 0;
    let mut timeline = 0;
    let mut crashed_mails = Vec::new();
    for round in 0..ROUNDS {
        let round_seed = seed.wrapping_add(round * KILLED.len() as u64);
        for (i, f) in KILLED.iter().enumerate() {
            stack.set_crash_plan(
                f,
                Some(CrashPlan {
                    seed: round_seed.wrapping_add(i as u64),
                    probability: KILL_SHARE,
                    within: None,
                    max_kills: MAX_KILLS,
                }),
            );
        }
        let round_began = Instant::now();
        let org = format!("org_crashed_{round}");
        let crashed = Api::new(&stack, &org);
        let crashed_mail = format!("crashed-{}@inndrive.test", uuid::Uuid::new_v4().simple());
        c::set_contact_email(&stack, &org, &crashed_mail).await;
        let (after, daily_failed) = run(&stack, &crashed).await;
        let stats: Vec<_> = KILLED
            .iter()
            .map(|f| (*f, stack.crash_stats(f).expect("the function runs")))
            .collect();
        for f in KILLED {
            stack.set_crash_plan(f, None);
        }

        c::assert_same_end_state(&expected, &after, &format!("round {round} (seed {seed})"));
        let duplicates = c::duplicate_timeline_entries(&after);
        assert!(
            duplicates.is_empty(),
            "events applied twice: {duplicates:?}"
        );
        crashed_mails.push((org, crashed_mail));
        c::assert_dead_letter_queues_empty(&stack).await;
        let round_kills: u32 = stats.iter().map(|(_, s)| s.killed_mid_invocation).sum();
        kills += round_kills;
        timeline = c::timeline_entries(&after);
        let per_function: Vec<String> = stats
            .iter()
            .map(|(f, s)| {
                format!(
                    "{f} {} of {}",
                    s.killed_mid_invocation,
                    s.completed + s.killed_mid_invocation
                )
            })
            .collect();
        eprintln!(
            "crashes round {round} (seed {seed}): {round_kills} invocations killed mid-batch ({}; \
             the daily job failed {daily_failed} times and was repeated); end state equal; {:.0} s",
            per_function.join(", "),
            round_began.elapsed().as_secs_f64()
        );
    }
    assert!(kills > 0, "some process was killed mid-invocation");

    // The mails: each organization got the undisturbed one's, none twice. A process killed
    // between claiming a mail and handing it to SES leaves it held (at most once, never twice):
    // then the log says so.
    let mails = mails_by_recipient(&stack).await;
    let good_subjects = mails.get(&good_mail).cloned().unwrap_or_default();
    assert!(
        !good_subjects.is_empty(),
        "the ready mail went out undisturbed"
    );
    let logs = stack.logs();
    let mut held = 0;
    for (org, address) in &crashed_mails {
        let got = mails.get(address).cloned().unwrap_or_default();
        let mut distinct = got.clone();
        distinct.sort();
        distinct.dedup();
        assert_eq!(distinct.len(), got.len(), "{org} got a mail twice: {got:?}");
        for subject in &got {
            assert!(
                good_subjects.contains(subject),
                "{org} got an unexpected mail {subject:?}"
            );
        }
        let missing = good_subjects.len() - got.len();
        if missing > 0 {
            let said = logs
                .iter()
                .filter(|l| {
                    l.contains(org.as_str())
                        && (l.contains("is being sent by another delivery")
                            || l.contains("outcome is unknown"))
                })
                .count();
            assert!(
                said > 0,
                "{org} lacks {missing} mails and nothing says they are held: {got:?}"
            );
            held += missing;
        }
    }
    let sent: usize = crashed_mails
        .iter()
        .map(|(_, a)| mails.get(a).map_or(0, Vec::len))
        .sum();
    eprintln!(
        "crashes (company seed {COMPANY_SEED}, {POSTINGS} postings, crash seed {seed}): {ROUNDS} rounds, \
         {kills} kills; views equal (sha256 {}), {timeline} timeline entries, none twice; \
         {} mails undisturbed, {sent} under kills (none twice, {held} held after a kill between claim and send); \
         nothing in a dead-letter queue; {:.0} s",
        c::sha256(&expected),
        good_subjects.len(),
        began.elapsed().as_secs_f64()
    );
    stack.shutdown().await;
}
