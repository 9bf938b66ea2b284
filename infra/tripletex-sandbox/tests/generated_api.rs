//! A generated company served over HTTP: paging 100k postings exactly once with `…To` exclusive,
//! openPost against postingRules' receivables account, invoices with the new fields and PDFs,
//! vouchers with their counter-postings, customers with `changedSince`, `If-None-Match` → 304,
//! and the Enhetsregisteret stand-in.

use chrono::{Duration, NaiveDate};
use serde_json::{json, Value};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use tripletex_sandbox::generator::{account_id, BrregStatus, CompanyData, GenSpec};
use tripletex_sandbox::{
    Faults, Fixture, SandboxHandle, DEMO_ACCOUNTANT_KEY, DEMO_CONSUMER_TOKEN, DEMO_FULL_CLIENT_ID,
};

const CLIENT: i64 = DEMO_FULL_CLIENT_ID;

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 20).unwrap()
}

/// The demo fixture with client 2001's hand-written collections replaced by a generated company.
fn fixture(postings: usize, seed: u64) -> Fixture {
    fixture_spec(GenSpec::with_postings(seed, postings).today(today()))
}

fn fixture_spec(spec: GenSpec) -> Fixture {
    let mut f = Fixture::demo()
        .with_generated_company(CLIENT, spec)
        .unwrap();
    f.companies
        .iter_mut()
        .find(|c| c.id == CLIENT)
        .unwrap()
        .collections
        .clear();
    f
}

struct T {
    sb: SandboxHandle,
    http: reqwest::Client,
    token: String,
    data: Arc<CompanyData>,
}

impl T {
    async fn new(f: Fixture) -> Self {
        let sb = tripletex_sandbox::start_in_thread(f, Faults::none()).unwrap();
        let http = reqwest::Client::new();
        let r: Value = http
            .post(format!("{}/token/session/:create", sb.base_url))
            .json(&json!({"consumerToken": DEMO_CONSUMER_TOKEN, "employeeToken": DEMO_ACCOUNTANT_KEY, "expirationDate": "2099-01-01"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let token = r["value"]["token"].as_str().unwrap().to_string();
        let data = sb.company_data(CLIENT).expect("generated data");
        T {
            sb,
            http,
            token,
            data,
        }
    }

    async fn get_with(
        &self,
        path: &str,
        inm: Option<&str>,
    ) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
        let mut r = self
            .http
            .get(format!("{}{}", self.sb.base_url, path))
            .basic_auth(CLIENT.to_string(), Some(&self.token));
        if let Some(v) = inm {
            r = r.header("If-None-Match", v);
        }
        let r = r.send().await.unwrap();
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        (status, headers, r.bytes().await.unwrap().to_vec())
    }

    async fn get(&self, path: &str) -> Value {
        let (s, _, b) = self.get_with(path, None).await;
        let v: Value = serde_json::from_slice(&b).unwrap();
        assert_eq!(s, 200, "{path}: {v}");
        v
    }

    /// Every value of a list endpoint, paging with `count` (stops at a short page).
    async fn all(&self, path: &str, count: usize) -> Vec<Value> {
        let sep = if path.contains('?') { '&' } else { '?' };
        let mut out = Vec::new();
        loop {
            let page = self
                .get(&format!("{path}{sep}from={}&count={count}", out.len()))
                .await;
            let values = page["values"].as_array().unwrap().clone();
            let n = values.len();
            assert_eq!(page["count"].as_u64(), Some(n as u64));
            out.extend(values);
            if n < count {
                return out;
            }
        }
    }
}

fn d(x: NaiveDate) -> String {
    x.format("%Y-%m-%d").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paging_100k_postings_returns_each_exactly_once_with_exclusive_to() {
    let t = T::new(fixture(100_000, 7)).await;
    let data = &t.data;
    assert!(data.postings.len() >= 100_000);
    // Three adjacent windows [a,b) [b,c) [c,e): together every posting, each exactly once.
    let a = data.postings.first().unwrap().date;
    let e = today();
    let b = a + Duration::days(365);
    let c = data.postings[data.postings.len() / 2].date; // a date with postings on it
    let mut seen: HashSet<i64> = HashSet::new();
    let mut total = 0;
    for (from, to) in [(a, b), (b, c), (c, e)] {
        let ps = t
            .all(
                &format!(
                    "/ledger/posting?dateFrom={}&dateTo={}&fields=id,date",
                    d(from),
                    d(to)
                ),
                1000,
            )
            .await;
        let expected = data
            .postings
            .iter()
            .filter(|p| from <= p.date && p.date < to)
            .count();
        assert_eq!(ps.len(), expected, "[{from}, {to})");
        for p in &ps {
            let pd = NaiveDate::parse_from_str(p["date"].as_str().unwrap(), "%Y-%m-%d").unwrap();
            assert!(from <= pd && pd < to, "{p} outside [{from}, {to})");
            assert!(seen.insert(p["id"].as_i64().unwrap()), "{p} twice");
        }
        total += ps.len();
    }
    assert_eq!(total, data.postings.len());
    // A one-day window holds exactly that day's postings; dateTo = dateFrom is empty.
    let day = t
        .get(&format!(
            "/ledger/posting?dateFrom={}&dateTo={}&count=10000",
            d(c),
            d(c + Duration::days(1))
        ))
        .await;
    let on_c = data.postings.iter().filter(|p| p.date == c).count();
    assert!(on_c > 0);
    assert_eq!(day["values"].as_array().unwrap().len(), on_c);
    assert_eq!(day["fullResultSize"].as_u64(), Some(on_c as u64));
    let none = t
        .get(&format!(
            "/ledger/posting?dateFrom={}&dateTo={}",
            d(c),
            d(c)
        ))
        .await;
    assert_eq!(none["count"], 0);
    // Filters: customer and account.
    let cu = data.customers[0].id;
    let by_customer = t.all(&format!("/ledger/posting?dateFrom=2000-01-01&dateTo=2100-01-01&customerId={cu}&fields=id,customer(id)"), 1000).await;
    assert_eq!(
        by_customer.len(),
        data.postings
            .iter()
            .filter(|p| p.customer == Some(cu))
            .count()
    );
    assert!(by_customer.iter().all(|p| p["customer"]["id"] == cu));
    let loss = t
        .all(
            &format!(
                "/ledger/posting?dateFrom=2000-01-01&dateTo=2100-01-01&accountId={}",
                account_id(7830)
            ),
            1000,
        )
        .await;
    assert_eq!(
        loss.len(),
        data.stats.write_offs_with_marker + data.stats.write_offs_without_marker
    );
    // Vouchers page the same way.
    let vs = t
        .all(
            &format!(
                "/ledger/voucher?dateFrom=2000-01-01&dateTo={}&fields=id",
                d(e)
            ),
            1000,
        )
        .await;
    assert_eq!(vs.len(), data.vouchers.len());
}

#[tokio::test]
async fn open_post_lists_open_receivables_and_excludes_closed_write_offs() {
    let t = T::new(fixture(8_000, 11)).await;
    let data = &t.data;
    let rules = t
        .get("/ledger/postingRules?fields=accountReceivableCustomersId(id,number)")
        .await;
    let ar = rules["value"]["accountReceivableCustomersId"].clone();
    assert_eq!(ar["number"], 1500);
    let ar_id = ar["id"].as_i64().unwrap();
    // `date` is required.
    let (s, _, _) = t
        .get_with(&format!("/ledger/posting/openPost?accountId={ar_id}"), None)
        .await;
    assert_eq!(s, 422);
    let tomorrow = today() + Duration::days(1);
    let open = t
        .all(&format!("/ledger/posting/openPost?date={}&accountId={ar_id}&fields=id,amount,invoiceNumber,customer(id),termOfPayment,closeGroup", d(tomorrow)), 1000)
        .await;
    let expected: BTreeSet<i64> = data
        .postings
        .iter()
        .filter(|p| p.account_number == 1500 && p.close_group.is_none())
        .map(|p| p.id)
        .collect();
    let got: BTreeSet<i64> = open.iter().map(|p| p["id"].as_i64().unwrap()).collect();
    assert_eq!(got, expected);
    assert!(open.iter().all(|p| p["closeGroup"].is_null()));
    // Without an account filter: still only the closeable (sub-ledger) accounts' open postings, not
    // bank, revenue or VAT lines.
    let any = t
        .all(
            &format!("/ledger/posting/openPost?date={}&fields=id", d(tomorrow)),
            1000,
        )
        .await;
    assert_eq!(any.len(), expected.len());
    // Written-off invoices netted to zero are not there; open invoices add up to amountOutstanding.
    let by_number: HashMap<String, f64> = open.iter().fold(HashMap::new(), |mut m, p| {
        *m.entry(p["invoiceNumber"].as_str().unwrap().to_string())
            .or_default() += p["amount"].as_f64().unwrap();
        m
    });
    let mut written_off = 0;
    for i in data.invoices.iter().filter(|i| !i.is_credit_note) {
        let ps: Vec<_> = i
            .postings
            .iter()
            .map(|&p| data.posting(p).unwrap())
            .collect();
        let wrote_off = ps.iter().any(|p| {
            data.voucher_postings(data.voucher(p.voucher).unwrap())
                .iter()
                .any(|q| q.account_number == 7830)
        });
        let key = i.invoice_number.to_string();
        if wrote_off && i.amount_outstanding == 0 {
            written_off += 1;
            assert!(
                !by_number.contains_key(&key),
                "written-off invoice {key} is open"
            );
        }
        if i.amount_outstanding != 0 && !i.is_credited {
            let sum = by_number.get(&key).copied().unwrap_or(0.0);
            assert!(
                (sum - i.amount_outstanding as f64 / 100.0).abs() < 0.005,
                "invoice {key}: {sum} vs {}",
                i.amount_outstanding
            );
        }
    }
    assert!(written_off > 0);
    // SAF-T items are open posts without due date.
    assert!(open.iter().any(|p| p["termOfPayment"].is_null()));
    // `date` is exclusive: a cut-off on the migration date excludes the SAF-T items posted on it.
    let first = data.postings[0].date;
    let before = t
        .get(&format!(
            "/ledger/posting/openPost?date={}&accountId={ar_id}",
            d(first)
        ))
        .await;
    assert_eq!(before["count"], 0);
    // customerId narrows it.
    let cu = open[0]["customer"]["id"].as_i64().unwrap();
    let mine = t
        .all(
            &format!(
                "/ledger/posting/openPost?date={}&customerId={cu}",
                d(tomorrow)
            ),
            1000,
        )
        .await;
    assert_eq!(
        mine.len(),
        expected
            .iter()
            .filter(|&&id| data.posting(id).unwrap().customer == Some(cu))
            .count()
    );
}

#[tokio::test]
async fn invoices_carry_due_date_kid_credit_links_outstanding_and_pdf() {
    let t = T::new(fixture(6_000, 5)).await;
    let data = &t.data;
    let inv = t
        .all("/invoice?invoiceDateFrom=2000-01-01&invoiceDateTo=2100-01-01&fields=id,invoiceNumber,invoiceDueDate,kid,isCreditNote,creditedInvoice,isCredited,amount,amountOutstanding,documentId,customer(id)", 1000)
        .await;
    assert_eq!(inv.len(), data.invoices.len());
    let credit: Vec<_> = inv.iter().filter(|i| i["isCreditNote"] == true).collect();
    assert_eq!(credit.len(), data.stats.credit_notes);
    for c in &credit {
        let orig = inv
            .iter()
            .find(|i| i["id"] == c["creditedInvoice"])
            .expect("credited invoice listed");
        assert_eq!(orig["isCredited"], true);
        assert_eq!(c["kid"], "");
    }
    assert!(inv
        .iter()
        .filter(|i| i["isCreditNote"] == false)
        .all(|i| i["creditedInvoice"] == 0 && i["kid"].as_str().unwrap().len() == 13));
    // invoiceDateTo is exclusive; kid and invoiceNumber filters.
    let i0 = &data.invoices[10];
    let same_day = t
        .get(&format!(
            "/invoice?invoiceDateFrom={}&invoiceDateTo={}&fields=id",
            d(i0.invoice_date),
            d(i0.invoice_date)
        ))
        .await;
    assert_eq!(same_day["count"], 0);
    let by_kid = t
        .get(&format!(
            "/invoice?invoiceDateFrom=2000-01-01&invoiceDateTo=2100-01-01&kid={}",
            i0.kid
        ))
        .await;
    assert_eq!(by_kid["count"], 1);
    assert_eq!(by_kid["values"][0]["id"], i0.id);
    assert_eq!(
        by_kid["values"][0]["invoiceDueDate"],
        d(i0.invoice_due_date)
    );
    // PDF copy: exists unless documentId is null.
    let with = data
        .invoices
        .iter()
        .find(|i| i.document_id.is_some())
        .unwrap();
    let without = data
        .invoices
        .iter()
        .find(|i| i.document_id.is_none())
        .unwrap();
    let (s, h, body) = t.get_with(&format!("/invoice/{}/pdf", with.id), None).await;
    assert_eq!(s, 200);
    assert_eq!(h["content-type"], "application/pdf");
    assert!(body.starts_with(b"%PDF-1.4") && body.ends_with(b"%%EOF\n"));
    let (s, _, _) = t
        .get_with(&format!("/invoice/{}/pdf", without.id), None)
        .await;
    assert_eq!(s, 404);
    // Postings of an invoice expand on request.
    let one = t.get(&format!("/invoice?invoiceDateFrom=2000-01-01&invoiceDateTo=2100-01-01&id={}&fields=id,postings(id,amount,account(number))", i0.id)).await;
    assert_eq!(one["values"][0]["postings"][0]["account"]["number"], 1500);
}

#[tokio::test]
async fn vouchers_show_type_description_and_counter_postings() {
    let t = T::new(fixture(5_000, 3)).await;
    let data = &t.data;
    let vs = t
        .all("/ledger/voucher?dateFrom=2000-01-01&dateTo=2100-01-01&fields=id,description,voucherType(name),postings(account(number),amount,customer(id),description)", 1000)
        .await;
    assert_eq!(vs.len(), data.vouchers.len());
    let nulls = vs.iter().filter(|v| v["voucherType"].is_null()).count();
    assert_eq!(nulls, data.stats.null_type_vouchers);
    let write_offs: Vec<_> = vs
        .iter()
        .filter(|v| {
            v["postings"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p["account"]["number"] == 7830)
        })
        .collect();
    assert_eq!(
        write_offs.len(),
        data.stats.write_offs_with_marker + data.stats.write_offs_without_marker
    );
    for w in &write_offs {
        assert!(w["voucherType"].is_null());
        let ps = w["postings"].as_array().unwrap();
        let ar = ps.iter().find(|p| p["account"]["number"] == 1500).unwrap();
        assert!(ar["amount"].as_f64().unwrap() < 0.0 && ar["customer"]["id"].is_i64());
    }
    let names: BTreeSet<&str> = vs
        .iter()
        .filter_map(|v| v["voucherType"]["name"].as_str())
        .collect();
    assert_eq!(
        names,
        ["Betaling", "Utgående faktura", "Åpningsbalanse"]
            .into_iter()
            .collect()
    );
    // typeId filter and numberFrom/numberTo (to exclusive) within a year.
    let year = data.vouchers[0].year;
    let (y0, y1) = (
        NaiveDate::from_ymd_opt(year, 1, 1).unwrap(),
        NaiveDate::from_ymd_opt(year + 1, 1, 1).unwrap(),
    );
    let some = t
        .get(&format!(
            "/ledger/voucher?dateFrom={}&dateTo={}&numberFrom=2&numberTo=5&fields=number",
            d(y0),
            d(y1)
        ))
        .await;
    let nums: Vec<i64> = some["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["number"].as_i64().unwrap())
        .collect();
    assert_eq!(nums, vec![2, 3, 4]);
    // Accounts: the chart includes 1500, 1920, 7830.
    let acc = t
        .get("/ledger/account?number=1500,1920,7830&fields=number,ledgerType,isBankAccount")
        .await;
    assert_eq!(acc["count"], 3);
    assert_eq!(acc["values"][0]["ledgerType"], "CUSTOMER");
    assert_eq!(acc["values"][1]["isBankAccount"], true);
}

#[tokio::test]
async fn customers_inactive_changed_since_and_if_none_match() {
    let t = T::new(fixture(3_000, 9)).await;
    let data = &t.data;
    let active = t
        .all(
            "/customer?fields=id,isInactive,isPrivateIndividual,organizationNumber",
            1000,
        )
        .await;
    let inactive = t
        .all("/customer?isInactive=true&fields=id,isInactive", 1000)
        .await;
    assert_eq!(active.len() + inactive.len(), data.customers.len());
    assert_eq!(inactive.len(), data.stats.inactive_customers);
    assert!(active
        .iter()
        .filter(|c| c["isPrivateIndividual"] == true)
        .all(|c| c["organizationNumber"] == ""));
    // `changes` only on request.
    let one = t.get("/customer?count=1").await;
    assert!(one["values"][0].get("changes").is_none());
    let one = t.get("/customer?count=1&fields=id,changes").await;
    assert_eq!(one["values"][0]["changes"][0]["changeType"], "CREATE");

    // changedSince: the customers whose latest change is at or after it.
    let mut times: Vec<_> = data.customers.iter().map(|c| c.last_change()).collect();
    times.sort();
    let cut = times[times.len() * 3 / 4];
    let since = cut.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let mut got = t
        .all(&format!("/customer?changedSince={since}&fields=id"), 1000)
        .await;
    got.extend(
        t.all(
            &format!("/customer?changedSince={since}&isInactive=true&fields=id"),
            1000,
        )
        .await,
    );
    let expected = data
        .customers
        .iter()
        .filter(|c| c.last_change() >= cut)
        .count();
    assert_eq!(got.len(), expected);
    let (s, _, _) = t.get_with("/customer?changedSince=yesterday", None).await;
    assert_eq!(s, 422);

    // If-None-Match: any value → a digest; the digest → 304 while unchanged.
    let path = "/customer?count=20&fields=id,name,version";
    let (s, _, b) = t.get_with(path, Some("*")).await;
    assert_eq!(s, 200);
    let digest = serde_json::from_slice::<Value>(&b).unwrap()["versionDigest"]
        .as_str()
        .unwrap()
        .to_string();
    let (s, _, b) = t.get_with(path, Some(&digest)).await;
    assert_eq!(s, 304);
    assert!(b.is_empty());
    let (s, _, b) = t.get_with(path, Some(&format!("\"{digest}\""))).await;
    assert_eq!((s, b.len()), (304, 0));
    // Other pages and other `fields` have other digests.
    let (_, _, b2) = t
        .get_with(
            "/customer?count=20&from=20&fields=id,name,version",
            Some("*"),
        )
        .await;
    assert_ne!(
        serde_json::from_slice::<Value>(&b2).unwrap()["versionDigest"]
            .as_str()
            .unwrap(),
        digest
    );
    // Without the header: no digest.
    assert!(t.get(path).await.get("versionDigest").is_none());

    // A change: the page's digest changes, and changedSince after the first read finds it.
    let first_active = active[0]["id"].as_i64().unwrap();
    t.sb.advance_clock(60);
    // The first read happened "now" (after every generated change, whatever the machine's date).
    let latest = data
        .customers
        .iter()
        .map(|c| c.last_change())
        .max()
        .unwrap();
    let read_at = (chrono::Utc::now().max(latest) + Duration::seconds(1))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    t.sb.advance_clock((chrono::Utc::now().max(latest) - chrono::Utc::now()).num_seconds());
    assert!(t
        .sb
        .update_customer(CLIENT, first_active, json!({"email": "ny@epost.no"})));
    assert!(!t.sb.update_customer(CLIENT, 1, json!({})));
    let (s, _, b) = t.get_with(path, Some(&digest)).await;
    assert_eq!(s, 200);
    assert_ne!(
        serde_json::from_slice::<Value>(&b).unwrap()["versionDigest"]
            .as_str()
            .unwrap(),
        digest
    );
    let changed = t
        .get(&format!(
            "/customer?changedSince={read_at}&fields=id,email,version,changes"
        ))
        .await;
    assert_eq!(changed["count"], 1, "{changed}");
    assert_eq!(changed["values"][0]["id"], first_active);
    assert_eq!(changed["values"][0]["email"], "ny@epost.no");
    assert_eq!(
        changed["values"][0]["changes"]
            .as_array()
            .unwrap()
            .last()
            .unwrap()["changeType"],
        "UPDATE"
    );
    let by_email = t.get("/customer?email=ny@epost.no&fields=id").await;
    assert_eq!(by_email["count"], 1);
    // The admin API does the same.
    let r = t.http.post(format!("{}/customers/update", t.sb.admin_url()))
        .json(&json!({"companyId": CLIENT, "customerId": first_active, "patch": {"isInactive": true}}))
        .send().await.unwrap();
    assert_eq!(r.status(), 200);
    let inactive2 = t.all("/customer?isInactive=true&fields=id", 1000).await;
    assert_eq!(inactive2.len(), inactive.len() + 1);
}

#[tokio::test]
async fn brreg_stand_in_answers_consistently_with_the_customers() {
    let spec = GenSpec {
        customers: 400,
        ..GenSpec::with_postings(9, 3_000).today(today())
    };
    let t = T::new(fixture_spec(spec)).await;
    let data = &t.data;
    let base = format!("http://{}/enhetsregisteret/api/enheter", t.sb.addr);
    let mut seen = BTreeSet::new();
    for c in data.customers.iter().filter(|c| !c.is_private_individual) {
        let r = t
            .http
            .get(format!("{base}/{}", c.organization_number))
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let body: Value = r.json().await.unwrap();
        let kind = match c.brreg.unwrap() {
            BrregStatus::Active => {
                assert_eq!(status, 200);
                for f in [
                    "konkurs",
                    "underAvvikling",
                    "underTvangsavviklingEllerTvangsopplosning",
                ] {
                    assert_eq!(body[f], false, "{body}");
                }
                "active"
            }
            BrregStatus::Bankrupt(d0) => {
                assert_eq!(
                    (status, &body["konkurs"], body["konkursdato"].as_str()),
                    (200, &json!(true), Some(d(d0).as_str()))
                );
                "bankrupt"
            }
            BrregStatus::UnderLiquidation(_) => {
                assert_eq!((status, &body["underAvvikling"]), (200, &json!(true)));
                "liquidation"
            }
            BrregStatus::ForcedDissolution(_) => {
                assert_eq!(
                    (status, &body["underTvangsavviklingEllerTvangsopplosning"]),
                    (200, &json!(true))
                );
                "forced"
            }
            BrregStatus::Deleted(d0) => {
                assert_eq!(status, 200);
                assert_eq!(body["respons_klasse"], "SlettetEnhet");
                assert_eq!(body["slettedato"], d(d0));
                "deleted"
            }
            BrregStatus::Removed => {
                assert_eq!(status, 410);
                "removed"
            }
            BrregStatus::Unknown => {
                assert_eq!(status, 404);
                "unknown"
            }
        };
        if status == 200 {
            assert_eq!(body["organisasjonsnummer"], c.organization_number);
            assert_eq!(body["navn"], c.name.to_uppercase());
        }
        seen.insert(kind);
    }
    assert_eq!(seen.len(), 7, "{seen:?}");
    // Malformed → 400; the v1 media type → 406.
    assert_eq!(
        t.http
            .get(format!("{base}/12345"))
            .send()
            .await
            .unwrap()
            .status(),
        400
    );
    let active = data
        .customers
        .iter()
        .find(|c| c.brreg == Some(BrregStatus::Active))
        .unwrap();
    let r = t
        .http
        .get(format!("{base}/{}", active.organization_number))
        .header("Accept", "application/vnd.enhetsregisteret.enhet.v1+json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 406);
    assert!(t.sb.stats().requests_matching("/enhetsregisteret/") > 0);
}

#[test]
fn the_binary_serves_a_generated_company() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_tripletex-sandbox"))
        .args([
            "--generate",
            "seed=7,postings=2000,today=2026-11-20",
            "--print-stats",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut stats_line = String::new();
    out.read_line(&mut stats_line).unwrap();
    let mut url_line = String::new();
    out.read_line(&mut url_line).unwrap();
    let stats: Value = serde_json::from_str(
        stats_line
            .trim()
            .strip_prefix("GENERATED company=2001 ")
            .unwrap_or_else(|| panic!("{stats_line}")),
    )
    .unwrap();
    let expected = tripletex_sandbox::generate(&GenSpec::with_postings(7, 2000).today(today()));
    assert_eq!(stats, serde_json::to_value(&expected.stats).unwrap());
    let url = url_line
        .trim()
        .strip_prefix("SANDBOX_URL=")
        .unwrap()
        .to_string();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let n = rt.block_on(async {
        let http = reqwest::Client::new();
        let r: Value = http
            .post(format!("{url}/token/session/:create"))
            .json(&json!({"consumerToken": DEMO_CONSUMER_TOKEN, "employeeToken": DEMO_ACCOUNTANT_KEY, "expirationDate": "2099-01-01"}))
            .send().await.unwrap().json().await.unwrap();
        let token = r["value"]["token"].as_str().unwrap().to_string();
        let page: Value = http
            .get(format!("{url}/ledger/posting?dateFrom=2000-01-01&dateTo=2100-01-01&count=1&fields=id"))
            .basic_auth(CLIENT.to_string(), Some(&token))
            .send().await.unwrap().json().await.unwrap();
        page["fullResultSize"].as_u64().unwrap()
    });
    let _ = child.kill();
    let _ = child.wait();
    // The demo's hand-written postings of company 2001 plus the generated ones.
    let demo_postings = Fixture::demo()
        .companies
        .iter()
        .find(|c| c.id == CLIENT)
        .map(|c| c.collections["postings"].len())
        .unwrap();
    assert_eq!(demo_postings, 6);
    assert_eq!(n as usize, expected.postings.len() + demo_postings);
    assert!(Command::new(env!("CARGO_BIN_EXE_tripletex-sandbox"))
        .args(["--generate", "seed=1,company=999"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| !s.success())
        .unwrap());
}

#[tokio::test]
async fn a_fixture_json_generate_entry_generates() {
    let mut v: Value = serde_json::from_str(tripletex_sandbox::fixture::DEMO_JSON).unwrap();
    let c = v["companies"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|c| c["id"] == CLIENT)
        .unwrap();
    c["generate"] = json!({"seed": 7, "postings": 1500, "today": "2026-11-20"});
    let f = Fixture::from_json(&v.to_string()).unwrap();
    let t = T::new(f).await;
    assert_eq!(
        *t.data,
        tripletex_sandbox::generate(&GenSpec::with_postings(7, 1500).today(today()))
    );
    let bad = json!({"seed": 7, "size": 3});
    c_generate_rejected(bad);
}

fn c_generate_rejected(spec: Value) {
    let mut v: Value = serde_json::from_str(tripletex_sandbox::fixture::DEMO_JSON).unwrap();
    let c = v["companies"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|c| c["id"] == CLIENT)
        .unwrap();
    c["generate"] = spec;
    assert!(Fixture::from_json(&v.to_string()).is_err());
}

#[tokio::test]
async fn two_sandboxes_with_the_same_spec_serve_the_same_bytes() {
    let a = T::new(fixture(4_000, 21)).await;
    let b = T::new(fixture(4_000, 21)).await;
    let c = T::new(fixture(4_000, 22)).await;
    for path in [
        "/ledger/posting?dateFrom=2000-01-01&dateTo=2100-01-01&from=1000&count=500",
        "/ledger/voucher?dateFrom=2000-01-01&dateTo=2100-01-01&count=200&fields=*,postings(*)",
        "/invoice?invoiceDateFrom=2000-01-01&invoiceDateTo=2100-01-01&count=300",
        "/customer?fields=*,changes",
    ] {
        let (x, y, z) = (
            body(&a, path).await,
            body(&b, path).await,
            body(&c, path).await,
        );
        assert_eq!(x, y, "{path}");
        assert_ne!(x, z, "{path}");
    }
}

async fn body(t: &T, path: &str) -> String {
    let (s, _, bytes) = t.get_with(path, None).await;
    assert_eq!(s, 200);
    String::from_utf8(bytes)
        .unwrap()
        .replace(&t.sb.addr.to_string(), "HOST")
}

/// The generator embeds `{id, number, name}` accounts and partial customers and vouchers in its
/// postings, so the sync's selections render generated pages without a single reference look-up
/// (the look-up path is for fixture objects that store bare `{id}` references).
#[test]
fn the_syncs_selections_need_no_look_ups_on_generated_postings() {
    use std::cell::Cell;
    use tripletex_sandbox::fields::{Lookup, Resolve, Selection};
    struct Counting(Cell<usize>);
    impl Resolve for Counting {
        fn lookup(&self, _schema: &str, _id: i64) -> Lookup {
            self.0.set(self.0.get() + 1);
            Lookup::NotKept
        }
    }
    let data = tripletex_sandbox::generate(&GenSpec::with_postings(3, 2000).today(today()));
    let counting = Counting(Cell::new(0));
    let brief = Selection::parse("id,date,account(number,name),customer(id),voucher(id)").unwrap();
    let sync = Selection::parse(
        "id,version,date,description,account(id,number,name),customer(id),amount,amountGross,\
         invoiceNumber,termOfPayment,voucher(id,voucherType(id,name)),type,closeGroup(id)",
    )
    .unwrap();
    for p in &data.postings {
        let v = data.render_posting(p);
        let out = brief.apply_resolving(&v, "Posting", "h/v2", &counting);
        assert!(out["account"]["number"].is_i64(), "{out}");
        sync.apply_resolving(&v, "Posting", "h/v2", &counting);
    }
    assert_eq!(counting.0.get(), 0);
    // A selection the embedded copy cannot answer is looked up.
    let more = Selection::parse("account(displayName)").unwrap();
    more.apply_resolving(
        &data.render_posting(&data.postings[0]),
        "Posting",
        "h/v2",
        &counting,
    );
    assert_eq!(counting.0.get(), 1);
}
