//! `cargo build --example NAME` of the `rds-iam` package, from a test: the example's
//! executable. Also compiled into the `rds-iam-cli` crate's tests (`#[path]`), which run the
//! examples beside the command.

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

/// Build the example `name` with the further cargo arguments `args` (features) in this test
/// binary's profile, and return its path.
pub fn build(name: &str, args: &[&str]) -> PathBuf {
    let mut cargo = Command::new(env!("CARGO"));
    cargo
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["build", "-p", "rds-iam", "--example", name])
        .args(args)
        .args(["--message-format", "json-render-diagnostics"]);
    // Without the variables cargo sets for this test binary: build scripts (ring's) watch
    // some of them, and would make cargo rebuild everything here and again in the next
    // `cargo test`.
    for (var, _) in std::env::vars_os() {
        let var = var.to_string_lossy();
        if var.starts_with("CARGO_PKG_")
            || var.starts_with("CARGO_BIN_EXE_")
            || [
                "CARGO_MANIFEST_DIR",
                "CARGO_MANIFEST_PATH",
                "CARGO_CRATE_NAME",
                "CARGO_PRIMARY_PACKAGE",
                "CARGO_TARGET_TMPDIR",
                "OUT_DIR",
            ]
            .contains(&var.as_ref())
        {
            cargo.env_remove(var.as_ref());
        }
    }
    if !cfg!(debug_assertions) {
        cargo.arg("--release");
    }
    let output = cargo.output().expect("cargo runs");
    assert!(
        output.status.success(),
        "cargo build --example {name} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .find(|msg| {
            msg["reason"] == "compiler-artifact"
                && msg["target"]["name"] == name
                && msg["target"]["kind"][0] == "example"
        })
        .and_then(|msg| msg["executable"].as_str().map(PathBuf::from))
        .expect("cargo reports the example's executable")
}
