//! Dunning planner throughput: 1,000,000 plans (50,000 claims, each planned on 20 consecutive
//! days) on one thread.
//!
//! `cargo bench -p shared --no-default-features --bench dunning`
//!
//! The claims are built before timing with a fixed-seed generator and brought to a random point
//! of their chain by running the planner itself day by day (with missed runs), recording what
//! the service would record (letters, charges, the standardkompensasjon). Prints a plain
//! measurement (plans per second, best of several passes), then runs criterion with
//! `Throughput::Elements(1_000_000)`.

use chrono::{DateTime, Days, NaiveDate, Utc};
use criterion::{black_box, Criterion, Throughput};
use shared::domain::case::{Actor, Case, ObjectionChannel};
use shared::domain::claim::{
    ChargesDemanded, ClaimEvent, ClaimEventKind, ClaimId, ClaimState, Credit, EventKey, Mirror,
    PostingRef,
};
use shared::domain::classify::CreditKind;
use shared::domain::collection::dunning::{
    compensation_claimed, plan, BankAccount, Chain, CustomerView, DunningPolicy, NoticeRecord,
    PlanDecision, PlanInput, Sender,
};
use shared::domain::collection::letters::{DebtorKind, SentLetter};
use shared::domain::ledger::registry::StopReason;
use shared::domain::ledger::{MirroredCustomer, PostalAddress};
use shared::domain::setup::{AccountId, OrgId};
use shared::domain::{Money, Rulebook};
use std::time::{Duration, Instant};

const CLAIMS: usize = 50_000;
const DAYS: u64 = 20;
const PLANS: usize = CLAIMS * DAYS as usize;

struct Scenario {
    claim: ClaimState,
    case: Case,
    customer: MirroredCustomer,
    stops: Vec<StopReason>,
    letters: Vec<SentLetter>,
    compensation: Option<Money>,
    policy: usize,
    start: NaiveDate,
}

/// A small deterministic generator (no extra dependency).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

fn address(city: &str, country: &str) -> PostalAddress {
    PostalAddress {
        lines: vec!["Storgata 1".into()],
        postal_code: Some("0150".into()),
        city: Some(city.into()),
        country_code: Some(country.into()),
    }
}

fn policies() -> Vec<DunningPolicy> {
    let sender = Sender {
        name: "Kreditor AS".into(),
        organization_number: None,
        address: address("Oslo", "NO"),
        bank_account: BankAccount::parse("8601 11 17947").expect("account"),
        email: None,
        phone: None,
        reply_to: None,
    };
    let full = DunningPolicy {
        enabled: true,
        sender: Some(sender),
        ..DunningPolicy::default()
    };
    let only_bo = DunningPolicy {
        chain: Chain::OnlyBetalingsoppfordring,
        ..full.clone()
    };
    let book = Rulebook::norway();
    for p in [&full, &only_bo] {
        assert!(p.validate(book).is_ok());
    }
    vec![full, only_bo]
}

fn scenarios(book: &Rulebook, policies: &[DunningPolicy]) -> Vec<Scenario> {
    let mut rng = Lcg(0x0d11_2026);
    let first_due: NaiveDate = "2025-01-02".parse().expect("date");
    let last_day = book.last_rate_day();
    let at: DateTime<Utc> = "2025-01-01T06:00:00Z".parse().expect("time");
    let org = OrgId::parse("org_bench").expect("org");
    let account = AccountId::from_suffix("01hzy3k9q7m2v8x4c6n5b1t0ra").expect("account");
    (0..CLAIMS)
        .map(|i| {
            let invoice = i as i64 + 1;
            let due = first_due + Days::new(rng.below(500));
            let principal = Money::from_ore(10_000 + rng.below(50_000_000) as i64);
            let id = ClaimId::invoice(invoice).expect("claim id");
            let mut claim = ClaimState::new(org.clone(), account.clone(), id.clone());
            claim
                .apply(ClaimEvent::mirrored(
                    &id,
                    Mirror {
                        invoice_id: Some(invoice),
                        invoice_number: Some(invoice.to_string()),
                        voucher_id: Some(invoice * 10),
                        customer_id: invoice % 9_000,
                        principal,
                        invoice_date: due - Days::new(14),
                        due_date: due,
                        due_date_estimated: false,
                        version: Some(1),
                        cross_check: None,
                    },
                ))
                .expect("mirror");
            // A fifth pay part (a part payment changes the interest's balance).
            if rng.chance(20) {
                let part = Money::from_ore(principal.to_ore() as i64 / (2 + rng.below(3) as i64));
                claim
                    .apply(ClaimEvent::credit(Credit {
                        posting: PostingRef {
                            id: invoice,
                            version: Some(1),
                        },
                        voucher_id: invoice * 10 + 1,
                        date: due + Days::new(1 + rng.below(60)),
                        amount: part,
                        kind: CreditKind::Payment,
                        flags: vec![],
                        description: None,
                        reversed_by: None,
                    }))
                    .expect("credit");
            }
            let open_on = claim.case_opens_on(1).expect("mirrored");
            let mut case = Case::open(&claim, open_on, 1, at).expect("case");
            let debtor_kind = if rng.chance(25) {
                DebtorKind::Business
            } else {
                DebtorKind::Consumer
            };
            let customer = MirroredCustomer {
                id: invoice % 9_000,
                version: None,
                name: "Kunde".into(),
                customer_number: None,
                organization_number: None,
                invalid_organization_number: None,
                debtor_kind,
                inactive: false,
                email: (!rng.chance(5)).then(|| "post@kunde.no".to_string()),
                invoice_email: rng.chance(30).then(|| "faktura@kunde.no".to_string()),
                overdue_notice_email: None,
                postal_address: Some(address("Oslo", if rng.chance(3) { "SE" } else { "NO" })),
                payment_terms: None,
            };
            let stops = if rng.chance(2) {
                vec![StopReason::Bankrupt]
            } else {
                vec![]
            };
            if rng.chance(2) {
                // The debtor objects some day after the due date (the planner reads the case).
                let on = due + Days::new(rng.below(60));
                case.record_objection(
                    "bestrider kravet",
                    on,
                    ObjectionChannel::Email,
                    Actor::user("bench"),
                    on,
                    at,
                )
                .expect("objection");
            }
            let policy = usize::from(rng.chance(10));
            let mut letters = Vec::new();
            if policy == 1 && rng.chance(70) {
                // Tripletex's own purring before the only-betalingsoppfordring chain.
                let sent = due + Days::new(14);
                letters.push(SentLetter {
                    kind: shared::domain::LetterKind::Purring,
                    sent,
                    deadline: Some(sent + Days::new(14)),
                    fee: Money::from_kroner(38),
                });
            }
            // Mostly in the middle of the chain (the default chain ends 44 days after due), so that
            // a good part of the plans are notices (interest, fees), the expensive path.
            let start = (due + Days::new(1 + rng.below(60))).min(last_day - Days::new(DAYS));
            let mut records: Vec<NoticeRecord> = Vec::new();
            let mut day = due + Days::new(1);
            while day < start {
                if !rng.chance(10) {
                    let decision = plan(&PlanInput {
                        claim: &claim,
                        case: &case,
                        customer: CustomerView::of(&customer, &stops),
                        letters: &letters,
                        compensation_claimed: compensation_claimed(&records),
                        policy: &policies[policy],
                        book,
                        today: day,
                    });
                    if let PlanDecision::Send(n) = decision {
                        let rec = NoticeRecord::new(&format!("ltr_{invoice}_{day}"), &n);
                        letters.extend(rec.sent_letters());
                        let ch: ChargesDemanded = rec.charges_demanded();
                        claim
                            .apply(ClaimEvent::new(
                                EventKey::new(&format!("charges:{}", rec.letter_id)).expect("key"),
                                ClaimEventKind::ChargesDemanded(ch),
                            ))
                            .expect("charges");
                        records.push(rec);
                    }
                }
                day = day + Days::new(1);
            }
            if rng.chance(3) {
                case.pause(start + Days::new(30), "avtale", Actor::System, start, at)
                    .expect("pause");
            }
            Scenario {
                claim,
                case,
                customer,
                stops,
                letters,
                compensation: compensation_claimed(&records),
                policy,
                start,
            }
        })
        .collect()
}

#[derive(Default, Debug, Clone, Copy, PartialEq, Eq)]
struct Tally {
    send: u64,
    wait: u64,
    hold: u64,
    done: u64,
    fees_ore: i128,
    total_ore: i128,
}

/// Plans every scenario on each of its 20 days; returns a tally (the checksum).
#[inline(never)]
fn run(book: &Rulebook, policies: &[DunningPolicy], data: &[Scenario]) -> Tally {
    let mut t = Tally::default();
    for s in data {
        let customer = CustomerView::of(&s.customer, &s.stops);
        for k in 0..DAYS {
            let decision = plan(&PlanInput {
                claim: &s.claim,
                case: &s.case,
                customer,
                letters: &s.letters,
                compensation_claimed: s.compensation,
                policy: &policies[s.policy],
                book,
                today: s.start + Days::new(k),
            });
            match decision {
                PlanDecision::Send(n) => {
                    t.send += 1;
                    t.fees_ore += n.amounts.fees_demanded().to_ore();
                    t.total_ore += n.amounts.total.to_ore();
                }
                PlanDecision::WaitUntil { .. } => t.wait += 1,
                PlanDecision::Hold(_) => t.hold += 1,
                PlanDecision::Done => t.done += 1,
            }
        }
    }
    t
}

/// User + system CPU time of this process (Linux `/proc/self/stat`, 100 ticks a second).
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The fields after the command name (which is in parentheses and may hold spaces).
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

fn main() {
    let book = Rulebook::norway();
    let policies = policies();
    let t = Instant::now();
    let data = scenarios(book, &policies);
    println!(
        "dunning: {CLAIMS} claims built and brought to their chain's state in {:.1} s",
        t.elapsed().as_secs_f64()
    );

    // Plain measurement: best of 5 passes, one thread (wall time, and the process's CPU time,
    // which a loaded machine disturbs less).
    let mut best = Duration::MAX;
    let mut best_cpu = f64::MAX;
    let mut tally = Tally::default();
    for _ in 0..5 {
        let cpu = cpu_seconds();
        let t = Instant::now();
        tally = black_box(run(book, &policies, black_box(&data)));
        best = best.min(t.elapsed());
        if let (Some(a), Some(b)) = (cpu, cpu_seconds()) {
            best_cpu = best_cpu.min(b - a);
        }
    }
    let per_sec = PLANS as f64 / best.as_secs_f64();
    let cpu = if best_cpu < f64::MAX {
        format!(
            "; CPU {:.2} s = {:.0} plans per CPU-second",
            best_cpu,
            PLANS as f64 / best_cpu
        )
    } else {
        String::new()
    };
    println!(
        "dunning: {PLANS} plans in {:.3} s on one thread = {:.0} plans/s{cpu} \
         (send {}, wait {}, hold {}, done {}; fees {} øre, totals {} øre)",
        best.as_secs_f64(),
        per_sec,
        tally.send,
        tally.wait,
        tally.hold,
        tally.done,
        tally.fees_ore,
        tally.total_ore
    );

    let mut c = Criterion::default()
        .sample_size(10)
        .measurement_time(Duration::from_secs(15))
        .configure_from_args();
    let mut g = c.benchmark_group("dunning");
    g.throughput(Throughput::Elements(PLANS as u64));
    g.bench_function("plan_1m", |b| {
        b.iter(|| run(book, &policies, black_box(&data)))
    });
    g.finish();
    c.final_summary();
}
