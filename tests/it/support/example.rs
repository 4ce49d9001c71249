//! A command of this crate (an example), built once per test run with the features and
//! profile of this test binary, so that cargo reuses what it built for the tests.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Command;
use std::sync::{LazyLock, Mutex};

use serde_json::Value;

/// The path of example `name`, built on first use.
pub fn built(name: &str) -> PathBuf {
    static BUILT: LazyLock<Mutex<HashMap<String, PathBuf>>> = LazyLock::new(Mutex::default);
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(path) = built.get(name) {
        return path.clone();
    }
    let features: Vec<&str> = [
        ("default", cfg!(feature = "default")),
        ("postgres", cfg!(feature = "postgres")),
        ("mysql", cfg!(feature = "mysql")),
        ("emulator", cfg!(feature = "emulator")),
    ]
    .into_iter()
    .filter_map(|(feature, on)| on.then_some(feature))
    .collect();
    let mut cargo = Command::new(env!("CARGO"));
    cargo
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["build", "--example", name, "--no-default-features"])
        .args(["--features", &features.join(",")])
        .args(["--message-format", "json-render-diagnostics"]);
    if !cfg!(debug_assertions) {
        cargo.arg("--release");
    }
    // Not the variables cargo set for this test binary: build scripts watch some of them
    // and would make cargo build everything again.
    for (var, _) in std::env::vars_os() {
        let var = var.to_string_lossy();
        let for_this_binary = var.starts_with("CARGO_PKG_")
            || var.starts_with("CARGO_CRATE_")
            || var.starts_with("CARGO_MANIFEST_")
            || ["CARGO_PRIMARY_PACKAGE", "CARGO_TARGET_TMPDIR", "OUT_DIR"].contains(&&*var);
        if for_this_binary {
            cargo.env_remove(&*var);
        }
    }
    let output = cargo.output().expect("cargo runs");
    assert!(
        output.status.success(),
        "cargo build --example {name} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let path = String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .find(|msg| {
            msg["reason"] == "compiler-artifact"
                && msg["target"]["name"] == name
                && msg["target"]["kind"][0] == "example"
        })
        .and_then(|msg| msg["executable"].as_str().map(PathBuf::from))
        .expect("cargo names the example's executable");
    built.insert(name.to_owned(), path.clone());
    path
}
