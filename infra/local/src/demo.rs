//! The README's main job, locally: as a frontend would through the HTTP API, an accounting office
//! registers its Tripletex accountant key once, picks client companies from the key's list, creates a
//! creditor account per client and sets up each integration; the sync worker runs the first sync of
//! each connected client, and the demo prints the ledger a user then sees (counts, skipped items with
//! the reason, the most overdue items, the "ready" notification). Then dunning: the creditor switches
//! it on, the demo shows the day's preview (what goes out today, per claim, or why not), runs the day
//! ("run now": the dunning function sends the letters; moto's SES takes the mails) and says where
//! each letter sent can be found (the PDF, as sent, fetched through the API into a local folder).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use chrono::NaiveDate;
use serde_json::{json, Value};

use crate::client::{Api, Reply};
use crate::LocalStack;

/// What the demo did, for callers that check it (the CLI prints as it goes).
#[derive(Debug, Default)]
pub struct DemoReport {
    pub key_id: String,
    pub clients: usize,
    pub connected: Vec<String>,
    pub refused: Vec<(String, String)>,
    pub queued_syncs: usize,
    /// Accounts whose first sync completed (status ready), with their ledger's counts.
    pub synced: Vec<(String, Value)>,
    /// The day's dunning preview of each synced account.
    pub previews: Vec<(String, Value)>,
    /// The letters sent by the day's run, as PDFs written locally.
    pub letters: Vec<PathBuf>,
}

/// Options of the demo.
pub struct DemoOptions {
    /// The organization the dev JWT is issued for.
    pub org: String,
    /// The employee token to register (the sandbox's accountant key by default).
    pub employee_token: String,
    pub accountant_key: bool,
    /// `fetchFrom` of the integrations.
    pub fetch_from: chrono::NaiveDate,
    /// Where the letters sent are written (as the API serves them).
    pub letters_dir: PathBuf,
}

/// How long the demo waits for a client's first sync.
const FIRST_SYNC_TIMEOUT: Duration = Duration::from_secs(90);

fn say(line: impl AsRef<str>) {
    println!("{}", line.as_ref());
}

fn fail(step: &str, r: &Reply) -> anyhow::Error {
    anyhow::anyhow!("{step}: HTTP {} {}", r.status, r.raw)
}

pub async fn run(stack: &LocalStack, opts: &DemoOptions) -> Result<DemoReport> {
    let api = Api::new(stack, &opts.org);
    let mut report = DemoReport::default();

    say(format!(
        "\n── Inndrive, locally ─ organization {} (from the JWT)",
        opts.org
    ));

    // 1. The accountant key, registered once.
    let r = api
        .post(
            "/v1/tripletex-keys",
            &json!({
                "label": "Regnskapskontorets nøkkel",
                "employeeToken": opts.employee_token,
                "accountantKey": opts.accountant_key,
            }),
        )
        .await?;
    if r.status != 201 {
        return Err(fail("registering the Tripletex key", &r));
    }
    let key = &r.body;
    report.key_id = key["id"].as_str().unwrap_or_default().to_string();
    say(format!(
        "\n1. Tripletex key registered: «{}» for {} ({}key, token …{}), id {}",
        key["label"].as_str().unwrap_or(""),
        key["companyName"].as_str().unwrap_or("?"),
        if key["accountantKey"] == json!(true) {
            "accountant "
        } else {
            ""
        },
        key["tokenHint"].as_str().unwrap_or(""),
        report.key_id,
    ));
    say("   The token is in Secrets Manager only; it is never shown again.");

    // 2. The key's clients: the dropdown.
    let r = api
        .get(&format!("/v1/tripletex-keys/{}/clients", report.key_id))
        .await?;
    if r.status != 200 {
        return Err(fail("listing the key's clients", &r));
    }
    let clients = r.body.as_array().cloned().unwrap_or_default();
    report.clients = clients.len();
    say(format!(
        "\n2. Client companies this key reaches ({}):",
        clients.len()
    ));
    for c in &clients {
        say(format!(
            "   {:>6}  {:<28} {}",
            c["companyId"],
            c["name"].as_str().unwrap_or(""),
            c["organizationNumber"].as_str().unwrap_or("–"),
        ));
    }

    // 3. An account and an integration per client.
    say("\n3. A creditor account and an integration per client:");
    for c in &clients {
        let name = c["name"].as_str().unwrap_or("").to_string();
        let mut body = json!({ "name": name });
        if let Some(o) = c["organizationNumber"].as_str() {
            body["organizationNumber"] = json!(o);
        }
        let acc = api.post("/v1/accounts", &body).await?;
        if acc.status != 201 {
            return Err(fail("creating an account", &acc));
        }
        let account_id = acc.body["id"].as_str().unwrap_or_default().to_string();
        let settings = json!({
            "keyId": report.key_id,
            "clientCompanyId": c["companyId"],
            "fetchFrom": opts.fetch_from.to_string(),
            "daysPastDue": 14,
            "updateAddressesFromBrreg": true,
            "includeSaftImported": false,
            "includeNullVoucherType": false,
        });
        let r = api
            .put(&format!("/v1/accounts/{account_id}/integration"), &settings)
            .await?;
        match r.status {
            200 | 201 => {
                say(format!(
                    "   ✔ {name}: integration {}, status {}; the initial sync is queued",
                    r.body["id"].as_str().unwrap_or(""),
                    r.body["status"].as_str().unwrap_or("?"),
                ));
                report.connected.push(account_id);
            }
            422 | 409 | 403 | 404 => {
                let e = &r.body["error"];
                if let Some(fix) = e["fix"].as_object() {
                    say(format!(
                        "   ✘ {name}: Tripletex refused ({})",
                        e["code"].as_str().unwrap_or("")
                    ));
                    say(format!(
                        "       Fix (no): {}",
                        fix.get("no").and_then(Value::as_str).unwrap_or("")
                    ));
                    say(format!(
                        "       Fix (en): {}",
                        fix.get("en").and_then(Value::as_str).unwrap_or("")
                    ));
                } else {
                    say(format!(
                        "   ✘ {name}: {}",
                        e["message"].as_str().unwrap_or(&r.raw)
                    ));
                }
                report
                    .refused
                    .push((name, e["code"].as_str().unwrap_or("").to_string()));
            }
            _ => return Err(fail("setting up an integration", &r)),
        }
    }

    // 4. What the user sees afterwards.
    let r = api.get("/v1/accounts").await?;
    say(format!(
        "\n4. Accounts: {}",
        r.body.as_array().map(|a| a.len()).unwrap_or(0)
    ));
    for id in &report.connected {
        let i = api.get(&format!("/v1/accounts/{id}/integration")).await?;
        let s = &i.body["settings"];
        say(format!(
            "   {}: {} · client {} · fetch from {} · {} days past due · status {}",
            id,
            i.body["clientCompanyName"].as_str().unwrap_or(""),
            s["clientCompanyId"],
            s["fetchFrom"].as_str().unwrap_or(""),
            s["daysPastDue"],
            i.body["status"].as_str().unwrap_or("?"),
        ));
    }

    // 5. The sync queue (FIFO, one message group per Tripletex key).
    if let Some(q) = stack.resources.ref_value("SyncQueue") {
        let cfg = stack.sdk_config().await;
        let sqs = aws_sdk_sqs::Client::new(&cfg);
        let attrs = sqs
            .get_queue_attributes()
            .queue_url(q)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
            .send()
            .await
            .context("reading the sync queue")?;
        report.queued_syncs = attrs
            .attributes()
            .and_then(|a| {
                a.get(&aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
            })
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        say(format!(
            "\n5. Sync queue (FIFO, message group = key {}): {} initial sync(s) not yet picked up",
            report.key_id, report.queued_syncs
        ));
    }

    // 6. The first sync of each connected client, and the ledger the user sees.
    let names: BTreeMap<String, String> = {
        let r = api.get("/v1/accounts").await?;
        r.body
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|a| {
                (
                    a["id"].as_str().unwrap_or("").to_string(),
                    a["name"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect()
    };
    for id in &report.connected {
        let name = names.get(id).cloned().unwrap_or_default();
        say(format!(
            "\n6. First sync of {name} (the sync worker, from the queue):"
        ));
        let status = wait_for_first_sync(&api, id, FIRST_SYNC_TIMEOUT).await?;
        if status["status"] != "ready" {
            say(format!(
                "   ✘ {}: {}",
                status["status"].as_str().unwrap_or("?"),
                status["lastSync"]["message"]
                    .as_str()
                    .unwrap_or("no answer in time")
            ));
            continue;
        }
        print_ledger(&api, id, &status).await?;
        report.synced.push((id.clone(), status["counts"].clone()));
    }

    if report.connected.is_empty() {
        bail!("no client could be connected");
    }

    // 7. Dunning: switched on, the day's preview, the day's run, the letters as sent.
    let synced: Vec<String> = report.synced.iter().map(|(id, _)| id.clone()).collect();
    for id in &synced {
        let name = names.get(id).cloned().unwrap_or_default();
        let (preview, letters) = dunning(stack, &api, id, &name, &opts.letters_dir).await?;
        report.previews.push((id.clone(), preview));
        report.letters.extend(letters);
    }
    let r = api.get("/v1/dunning/preview").await?;
    if r.status == 200 {
        let accounts = r.body["accounts"].as_array().cloned().unwrap_or_default();
        let letters: u64 = accounts
            .iter()
            .map(|a| a["totals"]["letters"].as_u64().unwrap_or(0))
            .sum();
        say(format!(
            "\n8. The office's view (GET /v1/dunning/preview?date={}): {} account(s), {} letter(s) still due today",
            r.body["date"].as_str().unwrap_or(""),
            accounts.len(),
            letters
        ));
    }

    say(format!(
        "\nDone: {} client(s) connected with one key ({} with its ledger ready), {} refused with the fix named; {} letter(s) sent.",
        report.connected.len(),
        report.synced.len(),
        report.refused.len(),
        report.letters.len()
    ));
    if let Some(first) = report.letters.first() {
        say(format!(
            "The letters sent today, as PDFs: {} (e.g. {})",
            opts.letters_dir.display(),
            first.display()
        ));
    }
    Ok(report)
}

/// How long the demo waits for the classification to open the cases, and for the day's run.
const CASES_TIMEOUT: Duration = Duration::from_secs(60);
const RUN_TIMEOUT: Duration = Duration::from_secs(120);

/// Step 7 for one account: dunning on (the sender from what Inndrive knows, completed with the
/// demo's address and bank account), the day's preview, "run now", the letters written to
/// `letters_dir`. Returns the preview and the PDFs written.
async fn dunning(
    stack: &LocalStack,
    api: &Api,
    account: &str,
    name: &str,
    letters_dir: &std::path::Path,
) -> Result<(Value, Vec<PathBuf>)> {
    say(format!("\n7. Dunning for {name}:"));
    // The classification opens the cases from the sync's events (the loss-classification
    // worker, from its queue): wait until their number stops changing.
    let started = Instant::now();
    let (mut last, mut steady) = (usize::MAX, 0);
    let cases = loop {
        let r = api
            .get(&format!("/v1/accounts/{account}/cases?limit=100"))
            .await?;
        if r.status != 200 {
            return Err(fail("listing the cases", &r));
        }
        let n = r.body["cases"].as_array().map_or(0, Vec::len);
        steady = if n == last && n > 0 { steady + 1 } else { 0 };
        last = n;
        if steady >= 4 || started.elapsed() > CASES_TIMEOUT {
            break n;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    say(format!("   {cases} open case(s)"));

    let path = format!("/v1/accounts/{account}/dunning-policy");
    let r = api.get(&path).await?;
    if r.status != 200 {
        return Err(fail("reading the dunning policy", &r));
    }
    let suggested = &r.body["suggestedSender"];
    let mut policy = r.body["policy"].clone();
    policy["enabled"] = json!(true);
    policy["sender"] = json!({
        "name": suggested["name"].as_str().unwrap_or(name),
        "organizationNumber": suggested["organizationNumber"],
        "address": {"lines": ["Strandkaien 4"], "postalCode": "5013", "city": "Bergen", "countryCode": "NO"},
        "bankAccount": "8601 11 17947",
        "email": "regnskap@example.no",
        "phone": "55 12 34 56",
        "replyTo": "regnskap@example.no",
    });
    let r = api
        .put(
            &path,
            &json!({"version": r.body["version"], "policy": policy}),
        )
        .await?;
    if r.status != 200 {
        return Err(fail("switching dunning on", &r));
    }
    say(format!(
        "   Switched on (PUT {path}, version {}): {} mode, the whole chain; the creditor «{}» (from Tripletex), the address and bank account the demo's",
        r.body["version"],
        r.body["policy"]["mode"].as_str().unwrap_or("?"),
        r.body["policy"]["sender"]["name"].as_str().unwrap_or(""),
    ));

    let r = api
        .get(&format!("/v1/accounts/{account}/dunning/preview"))
        .await?;
    if r.status != 200 {
        return Err(fail("the dunning preview", &r));
    }
    let preview = r.body.clone();
    print_preview(&preview);

    let r = api
        .post(&format!("/v1/accounts/{account}/dunning/run"), &json!({}))
        .await?;
    if r.status != 202 {
        return Err(fail("running dunning now", &r));
    }
    let date = r.body["date"].as_str().unwrap_or("").to_string();
    let started = Instant::now();
    let run = loop {
        let r = api
            .get(&format!("/v1/accounts/{account}/dunning/runs/{date}"))
            .await?;
        let status = r.body["status"].as_str().unwrap_or("");
        if (r.status == 200 && (status == "completed" || status == "failed"))
            || started.elapsed() > RUN_TIMEOUT
        {
            break r.body;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let rep = &run["report"];
    say(format!(
        "   The day's run ({date}): {} · {} letter(s), {} e-mail(s), {} to the print outbox, {} stopped by the re-check against Tripletex {}",
        run["status"].as_str().unwrap_or("not finished in time"),
        rep["letters"],
        rep["mails"],
        rep["outbox"],
        rep["stopped"]
            .as_object()
            .map(|m| m.values().filter_map(Value::as_u64).sum::<u64>())
            .unwrap_or(0),
        rep["stopped"],
    ));

    // Where the letters sent can be found: the letters bucket (moto) and, fetched through the
    // API exactly as sent, a local folder.
    std::fs::create_dir_all(letters_dir)
        .with_context(|| format!("creating {}", letters_dir.display()))?;
    let mut written: Vec<PathBuf> = Vec::new();
    let sent_cases: Vec<&Value> = preview["claims"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| c["decision"] == "send")
        .collect();
    for c in sent_cases {
        let case = format!("{account}.{}", c["caseId"].as_str().unwrap_or_default());
        let r = api.get(&format!("/v1/cases/{case}/notices")).await?;
        for n in r.body["notices"].as_array().cloned().unwrap_or_default() {
            // One PDF per letter: a debtor's claims due for the same step share one.
            let file = letters_dir.join(format!("{}.pdf", n["letterId"].as_str().unwrap_or("")));
            if n["status"] != "sent" || written.contains(&file) {
                continue;
            }
            let notice = n["id"].as_str().unwrap_or_default();
            let (status, _, pdf) = api
                .get_bytes(&format!("/v1/cases/{case}/notices/{notice}/pdf"))
                .await?;
            if status != 200 {
                continue;
            }
            std::fs::write(&file, &pdf).with_context(|| format!("writing {}", file.display()))?;
            say(format!(
                "   ✉ {} · {} → {} ({} bytes)",
                c["customerName"].as_str().unwrap_or(""),
                n["line"]["step"].as_str().unwrap_or(""),
                file.display(),
                pdf.len()
            ));
            written.push(file);
        }
    }
    if let Some(bucket) = stack.resources.ref_value("LettersBucket") {
        say(format!(
            "   Archive: s3://{bucket}/letters/… in moto ({}); the e-mails are in moto's SES (/moto-api/data.json, RawMessage)",
            stack.moto_endpoint
        ));
    }
    Ok((preview, written))
}

/// The day's preview: per claim what goes out (step, total, deadline) or why not.
fn print_preview(p: &Value) {
    let t = &p["totals"];
    say(format!(
        "   Preview for {} (GET …/dunning/preview): {} case(s), {} letter(s), kr {} in all",
        p["date"].as_str().unwrap_or(""),
        t["cases"],
        t["letters"],
        nok(t["amount"].as_str().unwrap_or("0.00")),
    ));
    for c in p["claims"].as_array().cloned().unwrap_or_default() {
        let what = match c["decision"].as_str().unwrap_or("") {
            "send" => {
                let line = &c["line"];
                format!(
                    "sends {} · kr {} · deadline {}",
                    line["step"].as_str().unwrap_or("?"),
                    nok(line["total"].as_str().unwrap_or("0.00")),
                    line["deadline"].as_str().unwrap_or("?"),
                )
            }
            "wait" => format!(
                "waits: {} on {}",
                c["step"].as_str().unwrap_or("?"),
                c["date"].as_str().unwrap_or("?")
            ),
            "hold" => format!(
                "held: {}",
                c["messageEn"]
                    .as_str()
                    .or(c["reason"]["code"].as_str())
                    .unwrap_or("?")
            ),
            other => other.to_string(),
        };
        say(format!(
            "     {:<24} {:>9}  {}",
            cut(c["customerName"].as_str().unwrap_or(""), 24),
            c["invoiceNumber"].as_str().unwrap_or("–"),
            what
        ));
    }
}

/// Polls the sync status until the first sync is done (ready or failed), printing the steps.
async fn wait_for_first_sync(api: &Api, account: &str, timeout: Duration) -> Result<Value> {
    let started = Instant::now();
    let mut steps: Vec<String> = Vec::new();
    loop {
        let r = api
            .get(&format!("/v1/accounts/{account}/integration/status"))
            .await?;
        if r.status != 200 {
            return Err(fail("reading the sync status", &r));
        }
        let status = r.body["status"].as_str().unwrap_or("?").to_string();
        let step = match r.body["progress"]["step"].as_str() {
            Some(s) => format!("{status} ({s})"),
            None => status.clone(),
        };
        if steps.last() != Some(&step) {
            steps.push(step);
        }
        if status == "ready" || status == "failed" || started.elapsed() > timeout {
            say(format!(
                "   {} — {:.1} s",
                steps.join(" → "),
                started.elapsed().as_secs_f64()
            ));
            return Ok(r.body);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Every page of a listing.
async fn all_pages(api: &Api, path: &str, list: &str) -> Result<Vec<Value>> {
    let sep = if path.contains('?') { '&' } else { '?' };
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..200 {
        let url = match &cursor {
            Some(c) => format!("{path}{sep}limit=500&cursor={c}"),
            None => format!("{path}{sep}limit=500"),
        };
        let r = api.get(&url).await?;
        if r.status != 200 {
            return Err(fail("reading the ledger", &r));
        }
        out.extend(r.body[list].as_array().cloned().unwrap_or_default());
        match r.body["nextCursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    Ok(out)
}

/// "12500.00" → "12 500,00".
fn nok(amount: &str) -> String {
    let (int, frac) = amount.split_once('.').unwrap_or((amount, "00"));
    let (sign, digits) = match int.strip_prefix('-') {
        Some(d) => ("-", d),
        None => ("", int),
    };
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push(' ');
        }
        grouped.push(c);
    }
    format!("{sign}{grouped},{frac}")
}

fn cut(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n - 1).collect();
        t.push('…');
        t
    }
}

/// The ledger summary of one account, as `GET …/ledger`, `…/customers` and `…/notifications`
/// show it.
async fn print_ledger(api: &Api, account: &str, status: &Value) -> Result<()> {
    let c = &status["counts"];
    let customers = all_pages(
        api,
        &format!("/v1/accounts/{account}/customers"),
        "customers",
    )
    .await?;
    let inactive = customers.iter().filter(|c| c["inactive"] == true).count();
    let names: BTreeMap<i64, String> = customers
        .iter()
        .filter_map(|c| Some((c["id"].as_i64()?, c["name"].as_str()?.to_string())))
        .collect();
    let open = c["openItems"].as_u64().unwrap_or(0);
    let written_off = c["writtenOffCandidates"].as_u64().unwrap_or(0);
    say(format!(
        "   Reskontro: {} kunder ({} inaktive) · {} skyldige poster ({} åpne, {} avskrevet i Tripletex men fortsatt skyldig) · {} av dem forfalt",
        c["customers"],
        inactive,
        open + written_off,
        open,
        written_off,
        c["overdueItems"],
    ));

    // Why is an item not in my ledger?
    let skipped = c["skipped"].as_object().cloned().unwrap_or_default();
    if skipped.is_empty() {
        say("   Ikke tatt med: ingen (alle postene fra Tripletex er i reskontroen)");
    } else {
        say("   Ikke tatt med (GET …/ledger?skipped=<reason>):");
        let all = all_pages(
            api,
            &format!("/v1/accounts/{account}/ledger?skipped=all"),
            "skipped",
        )
        .await?;
        for (reason, n) in &skipped {
            let explanation = all
                .iter()
                .find(|s| s["reason"] == reason.as_str())
                .and_then(|s| s["explanation"]["no"].as_str())
                .unwrap_or("");
            say(format!("     {n:>4} × {reason}: {explanation}"));
        }
    }

    // The most overdue items.
    let mut overdue = all_pages(
        api,
        &format!("/v1/accounts/{account}/ledger?overdue=true"),
        "items",
    )
    .await?;
    overdue.sort_by(|a, b| a["dueDate"].as_str().cmp(&b["dueDate"].as_str()));
    let today = chrono::Utc::now().date_naive();
    if overdue.is_empty() {
        say("   Forfalte poster: ingen");
    } else {
        say(format!(
            "   Mest forfalte poster ({} av {}):",
            overdue.len().min(5),
            overdue.len()
        ));
        say(format!(
            "     {:<26} {:>9}  {:<10} {:>6}  {:>14}",
            "Kunde", "Faktura", "Forfall", "Dager", "Skyldig (kr)"
        ));
        for i in overdue.iter().take(5) {
            let due = i["dueDate"].as_str().unwrap_or("");
            let days = NaiveDate::parse_from_str(due, "%Y-%m-%d")
                .map(|d| (today - d).num_days().to_string())
                .unwrap_or_default();
            let customer = i["customerId"]
                .as_i64()
                .and_then(|id| names.get(&id).cloned())
                .unwrap_or_else(|| i["customerId"].to_string());
            let owed = nok(i["owed"].as_str().unwrap_or("0.00"));
            let note = if i["status"] == "written_off_candidate" {
                "  avskrevet i Tripletex, fortsatt skyldig"
            } else {
                ""
            };
            say(format!(
                "     {:<26} {:>9}  {:<10} {:>6}  {:>14}{}",
                cut(&customer, 26),
                i["invoiceNumber"].as_str().unwrap_or("–"),
                due,
                days,
                owed,
                note,
            ));
        }
    }

    // The pop-up.
    let r = api
        .get(&format!("/v1/accounts/{account}/notifications"))
        .await?;
    for n in r.body["notifications"]
        .as_array()
        .cloned()
        .unwrap_or_default()
    {
        say(format!(
            "   Varsel «{}»: {}{}",
            n["title"]["no"].as_str().unwrap_or(""),
            n["message"]["no"].as_str().unwrap_or(""),
            if n["seenAt"].is_null() {
                " (ikke sett)"
            } else {
                ""
            }
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_grouped_the_norwegian_way() {
        assert_eq!(nok("12500.00"), "12 500,00");
        assert_eq!(nok("1234567.5"), "1 234 567,5");
        assert_eq!(nok("-800.00"), "-800,00");
        assert_eq!(nok("0.00"), "0,00");
    }
}
