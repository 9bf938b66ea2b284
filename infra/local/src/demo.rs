//! The README's main job, locally: as a frontend would through the HTTP API, an accounting office
//! registers its Tripletex accountant key once, picks client companies from the key's list, creates a
//! creditor account per client and sets up each integration. Prints what the user sees.

use anyhow::{bail, Context, Result};
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
}

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
            "\n5. Sync queue: {} initial sync(s) waiting, message group = key {}",
            report.queued_syncs, report.key_id
        ));
    }

    if report.connected.is_empty() {
        bail!("no client could be connected");
    }
    say(format!(
        "\nDone: {} client(s) connected with one key, {} refused with the fix named.",
        report.connected.len(),
        report.refused.len()
    ));
    Ok(report)
}
