//! End-to-end tests of `inndrive classify` (the built binary).

use serde_json::Value;
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

/// `inndrive classify ARGS --json`: exit code 0 and one JSON object with the required keys.
fn classify_json(args: &[&str]) -> Value {
    let mut all = vec!["classify"];
    all.extend_from_slice(args);
    all.push("--json");
    let (code, out, err) = inndrive(&all);
    assert_eq!(code, 0, "{args:?}: stderr {err}");
    let v: Value = serde_json::from_str(out.trim())
        .unwrap_or_else(|e| panic!("not one JSON object ({e}): {out}"));
    assert!(v["kind"].is_string(), "{v}");
    assert!(v["markerMissing"].is_boolean(), "{v}");
    assert!(v["reason"].as_str().is_some_and(|r| !r.is_empty()), "{v}");
    assert_eq!(v["reason"], v["reasonEn"], "reason is the English reason");
    v
}

fn flags(v: &Value) -> Vec<String> {
    v["flags"]
        .as_array()
        .expect("flags")
        .iter()
        .map(|f| f["flag"].as_str().expect("flag code").to_string())
        .collect()
}

fn rules(v: &Value) -> Vec<String> {
    v["evidence"]
        .as_array()
        .expect("evidence")
        .iter()
        .map(|e| e["rule"].as_str().expect("rule").to_string())
        .collect()
}

#[test]
fn write_off_with_marker_and_loss_account() {
    let v = classify_json(&[
        "--description",
        "Tap på fordring 10023",
        "--counter-account",
        "7830",
    ]);
    assert_eq!(v["kind"], "write_off");
    assert_eq!(v["markerMissing"], false);
    assert_eq!(v["needsReview"], false);
    assert!(flags(&v).is_empty(), "{v}");
    assert_eq!(rules(&v), ["marker", "counter_account"]);
    assert_eq!(v["evidence"][0]["word"], "Tap");
    assert_eq!(v["evidence"][0]["source"], "voucher_description");
    assert_eq!(v["evidence"][1]["accountNumber"], 7830);
    assert_eq!(v["evidence"][1]["role"], "loss");
    assert_eq!(v["evidence"][1]["amountAssumed"], true);
    assert!(
        v["reasonNo"].as_str().unwrap().contains("tapskonto 7830"),
        "{v}"
    );
}

#[test]
fn write_off_without_marker_is_flagged() {
    let v = classify_json(&["--description", "Korrigering", "--counter-account", "7830"]);
    assert_eq!(v["kind"], "write_off");
    assert_eq!(v["markerMissing"], true);
    assert_eq!(flags(&v), ["marker_missing"]);
    assert_eq!(v["flags"][0]["severity"], "warning");
    // A warning: the classification stands, no review needed.
    assert_eq!(v["needsReview"], false);
    assert!(
        v["reason"]
            .as_str()
            .unwrap()
            .contains("would have read this as a payment"),
        "{v}"
    );
}

#[test]
fn payments() {
    let v = classify_json(&[
        "--description",
        "Innbetaling faktura 10023",
        "--counter-account",
        "1920",
    ]);
    assert_eq!(v["kind"], "payment");
    assert_eq!(v["markerMissing"], false);
    assert!(flags(&v).is_empty(), "{v}");
    assert_eq!(v["evidence"][0]["role"], "bank");

    // "tapt" is not the first word: a payment, not a write-off.
    let v = classify_json(&[
        "--description",
        "Betaling, tapt kvittering",
        "--counter-account",
        "1920",
    ]);
    assert_eq!(v["kind"], "payment");
    assert_eq!(v["markerMissing"], false);
    assert!(!rules(&v).contains(&"marker".to_string()), "{v}");

    // An incoming-payment posting type without any counter-account.
    let v = classify_json(&[
        "--description",
        "OCR innbetaling KID 000123455",
        "--posting-type",
        "INCOMING_PAYMENT",
    ]);
    assert_eq!(v["kind"], "payment");
    assert_eq!(rules(&v), ["payment_posting_type"]);
}

#[test]
fn marker_against_bank_is_unknown_with_conflicting_evidence() {
    let v = classify_json(&["--description", "Tap", "--counter-account", "1920"]);
    assert_eq!(v["kind"], "unknown");
    assert_eq!(v["markerMissing"], false);
    assert_eq!(flags(&v), ["conflicting_evidence"]);
    assert_eq!(v["flags"][0]["severity"], "review");
    assert_eq!(v["needsReview"], true);
    assert_eq!(rules(&v), ["marker", "counter_account"]);
}

#[test]
fn credit_note_and_reversal() {
    let v = classify_json(&["--description", "Kreditnota 10045", "--credit-note"]);
    assert_eq!(v["kind"], "credit_note");
    assert_eq!(rules(&v), ["credit_note_invoice"]);
    // The text alone does not make a credit note.
    let v = classify_json(&["--description", "Kreditnota 10045"]);
    assert_eq!(v["kind"], "unknown");

    let v = classify_json(&[
        "--description",
        "Tilbakeføring av bilag 55-2026",
        "--reverses",
        "55",
    ]);
    assert_eq!(v["kind"], "reversal");
    assert_eq!(v["evidence"][0]["rule"], "reverses");
    assert_eq!(v["evidence"][0]["voucherId"], 55);
    assert!(v["reasonNo"].as_str().unwrap().contains("bilag 55"), "{v}");
}

#[test]
fn nothing_to_go_on_is_unknown_not_payment() {
    let v = classify_json(&["--description", "Korrigering"]);
    assert_eq!(v["kind"], "unknown");
    assert_eq!(v["markerMissing"], false);
    assert_eq!(v["needsReview"], true);
    assert!(rules(&v).is_empty(), "{v}");
    // Empty description: still a classification, exit 0.
    let v = classify_json(&["--description", ""]);
    assert_eq!(v["kind"], "unknown");
}

#[test]
fn several_counter_accounts_with_amounts() {
    let v = classify_json(&[
        "--description",
        "Tap etter dividende",
        "--counter-account",
        "7830:9500.00",
        "--counter-account",
        "1920:500,50",
    ]);
    assert_eq!(v["kind"], "write_off");
    assert_eq!(flags(&v), ["mixed_payment_and_write_off"]);
    assert_eq!(v["needsReview"], true);
    let ev = v["evidence"].as_array().unwrap();
    assert_eq!(ev[1]["amount"], "9500.00");
    assert_eq!(ev[1]["amountAssumed"], false);
    assert_eq!(ev[2]["accountNumber"], 1920);
    assert_eq!(ev[2]["amount"], "500.50");
    let reason = v["reason"].as_str().unwrap();
    assert!(
        reason.contains("7830 (9500.00)") && reason.contains("1920 (500.50)"),
        "{reason}"
    );

    // --amount is the debit of a counter-account without its own amount.
    let v = classify_json(&[
        "--description",
        "Innbetaling",
        "--counter-account",
        "1920",
        "--amount",
        "12500",
    ]);
    assert_eq!(v["evidence"][0]["amount"], "12500.00");
    assert_eq!(v["evidence"][0]["amountAssumed"], false);
}

#[test]
fn posting_description_loss_accounts_and_voucher_type() {
    // The marker in the posting description counts when the voucher text has none.
    let v = classify_json(&[
        "--description",
        "Bilag 2026-118",
        "--posting-description",
        "Avskrevet etter konkurs",
    ]);
    assert_eq!(v["kind"], "write_off");
    assert_eq!(v["evidence"][0]["source"], "posting_description");

    // The client's own loss account: 7831 is a loss account, 7830 then is not.
    let v = classify_json(&[
        "--description",
        "Korrigering",
        "--counter-account",
        "7831",
        "--loss-accounts",
        "7831,7835",
    ]);
    assert_eq!(v["kind"], "write_off");
    assert_eq!(v["markerMissing"], true);
    let v = classify_json(&[
        "--description",
        "Korrigering",
        "--counter-account",
        "7830",
        "--loss-accounts",
        "7831",
    ]);
    assert_eq!(v["kind"], "unknown");
    assert_eq!(flags(&v), ["possible_write_off"]);

    let v = classify_json(&[
        "--description",
        "Faktura 10045",
        "--voucher-type",
        "Utgående faktura",
    ]);
    assert_eq!(v["kind"], "credit_note");
    assert_eq!(rules(&v), ["credit_note_voucher_type"]);
}

#[test]
fn text_output_has_both_languages_flags_and_evidence() {
    let (code, out, err) = inndrive(&[
        "classify",
        "--description",
        "Korrigering",
        "--counter-account",
        "7830",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("kind: write_off"), "{out}");
    assert!(out.contains("marker_missing (warning"), "{out}");
    assert!(out.contains("counter_account"), "{out}");
    // The reason in Norwegian and in English.
    assert!(
        out.contains("no: Bilaget debiterer tapskonto 7830"),
        "{out}"
    );
    assert!(
        out.contains("en: The voucher debits the loss account 7830"),
        "{out}"
    );
    // The assumed amount is said out loud.
    assert!(out.contains("no --amount given"), "{out}");

    let (code, out, _) = inndrive(&[
        "classify",
        "--description",
        "Korrigering",
        "--counter-account",
        "7830",
        "--lang",
        "no",
    ]);
    assert_eq!(code, 0);
    assert!(
        out.contains("no: Bilaget debiterer tapskonto 7830"),
        "{out}"
    );
    assert!(!out.contains("en: "), "{out}");
    assert!(out.contains("marker_missing (advarsel)"), "{out}");

    let (code, out, _) = inndrive(&[
        "classify",
        "--description",
        "Korrigering",
        "--counter-account",
        "7830:100",
        "--lang",
        "en",
    ]);
    assert_eq!(code, 0);
    assert!(
        out.contains("en: The voucher debits the loss account 7830 (100.00)"),
        "{out}"
    );
    assert!(!out.contains("no: "), "{out}");
}

#[test]
fn usage_errors_exit_2_and_name_the_argument() {
    for (args, arg_name) in [
        (vec!["--counter-account", "19x0"], "--counter-account"),
        (vec!["--counter-account", "192"], "--counter-account"),
        (vec!["--counter-account", "19200"], "--counter-account"),
        (vec!["--counter-account", "1920:abc"], "--counter-account"),
        (vec!["--counter-account", "1920:1.001"], "--counter-account"),
        (vec!["--counter-account", "1920:0"], "--counter-account"),
        (vec!["--loss-accounts", "7830,78x5"], "--loss-accounts"),
        (vec!["--amount", "-5"], "--amount"),
        (vec!["--reverses", "abc"], "--reverses"),
        (vec!["--lang", "de"], "--lang"),
    ] {
        let mut all = vec!["classify", "--description", "Tap"];
        all.extend_from_slice(&args);
        let (code, out, err) = inndrive(&all);
        assert_eq!(code, 2, "{args:?}: {out} {err}");
        assert!(err.contains(arg_name), "{args:?}: {err}");
        assert!(out.is_empty(), "{args:?}: {out}");
    }
    let (code, _, err) = inndrive(&["classify", "--counter-account", "7830"]);
    assert_eq!(code, 2);
    assert!(err.contains("--description"), "{err}");
}
