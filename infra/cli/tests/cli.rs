//! End-to-end tests of the `inndrive` binary.

use std::process::Command;

fn inndrive(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_inndrive"))
        .args(args)
        .output()
        .expect("run inndrive");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn json(s: &str) -> serde_json::Value {
    serde_json::from_str(s.trim()).unwrap_or_else(|e| panic!("not one JSON object ({e}): {s}"))
}

#[test]
fn rules_interest_json_worked_example() {
    let (code, out, err) = inndrive(&[
        "rules",
        "interest",
        "--principal",
        "10000",
        "--due",
        "2025-06-20",
        "--until",
        "2026-01-10",
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    let v = json(&out);
    assert_eq!(v["interest"], "684.66");
    let segs = v["segments"].as_array().unwrap();
    assert_eq!(segs.len(), 3);
    assert_eq!(segs[0]["from"], "2025-06-21");
    assert_eq!(segs[0]["days"], 10);
    assert_eq!(segs[0]["ratePercent"], "12.50");
    assert_eq!(segs[1]["days"], 184);
    assert_eq!(
        segs[2]["rule"],
        "forsinkelsesrente:2026-H1@FOR-2025-12-18-2658"
    );
    let version = v["ruleVersion"].as_str().unwrap();
    assert!(version.contains("2025-H2@FOR-2025-06-23-1321"), "{version}");
}

#[test]
fn rules_interest_text_and_gap() {
    let (code, out, _) = inndrive(&[
        "rules",
        "interest",
        "--principal",
        "10000",
        "--due",
        "2025-06-20",
        "--until",
        "2026-01-10",
    ]);
    assert_eq!(code, 0);
    assert!(out.contains("total: 684.66 kr"), "{out}");
    let (code, out, _) = inndrive(&[
        "rules",
        "interest",
        "--principal",
        "10000",
        "--due",
        "2026-06-20",
        "--until",
        "2027-01-10",
        "--json",
    ]);
    assert_eq!(code, 3);
    let v = json(&out);
    assert_eq!(v["error"]["code"], "rule-gap");
    assert_eq!(v["error"]["date"], "2027-01-01");
    assert_eq!(v["error"]["missing"], "forsinkelsesrente-rate");
}

#[test]
fn rules_letter_decision() {
    let (code, out, err) = inndrive(&[
        "rules",
        "letter",
        "--kind",
        "purring",
        "--due",
        "2025-12-01",
        "--send",
        "2026-01-05",
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    let v = json(&out);
    assert_eq!(v["allowed"], true);
    assert_eq!(v["fee"], "38.00");
    assert_eq!(v["deadlineDays"], 14);
    assert_eq!(v["minDeadline"], "2026-01-19");
    assert_eq!(v["reason"], "fee-allowed");
    assert!(v["messageNo"].as_str().unwrap().contains("38.00 kr"));
    assert!(v["messageEn"].as_str().unwrap().contains("NOK 38.00"));
    // Too early for a fee.
    let (_, out, _) = inndrive(&[
        "rules",
        "letter",
        "--kind",
        "purring",
        "--due",
        "2025-12-01",
        "--send",
        "2025-12-05",
        "--json",
    ]);
    let v = json(&out);
    assert_eq!(
        (v["fee"].as_str(), v["reason"].as_str()),
        (Some("0.00"), Some("too-early-for-fee"))
    );
    assert_eq!(v["earliestFeeDate"], "2025-12-15");
    // Betalingsoppfordring after a missed inkassovarsel deadline, business debtor with compensation.
    let (_, out, _) = inndrive(&[
        "rules",
        "letter",
        "--kind",
        "betalingsoppfordring",
        "--due",
        "2025-12-01",
        "--send",
        "2026-01-20",
        "--sent",
        "inkassovarsel:2025-12-15:2025-12-29:35",
        "--debtor",
        "business",
        "--compensation",
        "--json",
    ]);
    let v = json(&out);
    assert_eq!(v["allowed"], true);
    assert_eq!(v["feeNominal"], "113.00");
    assert_eq!(v["fee"], "0.00");
    assert_eq!(v["reason"], "offset-by-compensation");
    // After the new inkassolov: a gap, exit code 3.
    let (code, out, _) = inndrive(&[
        "rules",
        "letter",
        "--kind",
        "purring",
        "--due",
        "2026-12-01",
        "--send",
        "2027-01-05",
        "--json",
    ]);
    assert_eq!(code, 3);
    assert_eq!(json(&out)["error"]["missing"], "new-inkassolov-regulations");
    // Text output.
    let (code, out, _) = inndrive(&[
        "rules",
        "letter",
        "--kind",
        "purring",
        "--due",
        "2025-12-01",
        "--send",
        "2026-01-05",
    ]);
    assert_eq!(code, 0);
    assert!(
        out.contains("ALLOWED") && out.contains("fee: 38.00 kr"),
        "{out}"
    );
}

#[test]
fn rules_show_lists_rules_with_sources() {
    let (code, out, err) = inndrive(&["rules", "show", "--on", "2026-11-26"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("forsinkelsesrente:2026-H2@FOR-2026-06-25-1372"),
        "{out}"
    );
    assert!(out.contains("12.25 % p.a."));
    assert!(out.contains("inkassosats:2026@FOR-2025-12-19-2709"));
    assert!(out.contains("source:"));
    assert!(
        out.contains("LOV-2026-05-22-19 (adopted, not yet in force)"),
        "{out}"
    );
    let (code, out, _) = inndrive(&["rules", "show", "--on", "2026-11-26", "--json"]);
    assert_eq!(code, 0);
    let v = json(&out);
    assert!(v["rules"].as_array().unwrap().len() >= 10);
    let (_, out, _) = inndrive(&["rules", "show", "--on", "2027-02-01"]);
    assert!(out.contains("RULE GAPS"), "{out}");
}

#[test]
fn rules_limitation_and_kid() {
    let (code, out, _) = inndrive(&[
        "rules",
        "limitation",
        "--start",
        "2023-03-15",
        "--interruption",
        "part-payment:2024-05-02",
        "--json",
    ]);
    assert_eq!(code, 0);
    let v = json(&out);
    assert_eq!(v["lastDay"], "2027-05-02");
    assert_eq!(v["timeBarredOn"], "2027-05-03");
    let (code, out, _) = inndrive(&["rules", "kid", "--modulus", "mod11", "--base", "12345678"]);
    assert_eq!((code, out.trim()), (0, "123456785"));
    let (code, _, _) = inndrive(&["rules", "kid", "--validate", "123456783"]);
    assert_eq!(code, 1);
}

#[test]
fn bad_input_is_a_usage_error() {
    let (code, _, err) = inndrive(&[
        "rules",
        "interest",
        "--principal",
        "10.001",
        "--due",
        "2025-06-20",
        "--until",
        "2026-01-10",
    ]);
    assert_eq!(code, 2, "{err}");
    let (code, _, _) = inndrive(&[
        "rules",
        "letter",
        "--kind",
        "brev",
        "--due",
        "2025-06-20",
        "--send",
        "2026-01-10",
    ]);
    assert_eq!(code, 2);
}
