//! The binary refuses to start without its configuration, naming the missing variable (no panic).

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_integration-setup");

#[test]
fn empty_environment_fails_naming_a_variable() {
    let out = Command::new(BIN)
        .env_clear()
        .output()
        .expect("the binary runs");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("SECRET_PREFIX"), "stderr: {stderr}");
    assert!(!stderr.contains("panicked"), "stderr: {stderr}");
}

#[test]
fn the_last_missing_variable_is_named_too() {
    let out = Command::new(BIN)
        .env_clear()
        .env("SECRET_PREFIX", "inndrive/test/tripletex-keys/")
        .env("TABLE_NAME", "t")
        .env("SYNC_QUEUE_URL", "http://127.0.0.1:1/q.fifo")
        .env("TRIPLETEX_BASE_URL", "http://127.0.0.1:1/v2")
        .output()
        .expect("the binary runs");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("TRIPLETEX_CONSUMER_TOKEN_SECRET_ID"),
        "stderr: {stderr}"
    );
}

#[test]
fn a_prefix_without_slash_is_refused() {
    let out = Command::new(BIN)
        .env_clear()
        .env("SECRET_PREFIX", "inndrive/test")
        .output()
        .expect("the binary runs");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("SECRET_PREFIX"));
}
