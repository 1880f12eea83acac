//! The workspace's `rust-version` (its MSRV, also in the README) is honest: no package in
//! Cargo.lock declares a higher one. A `cargo update` that pulls a crate needing a newer Rust
//! fails here, and the fix is to pin that crate back (`cargo update -p NAME --precise …`) or to
//! raise `rust-version` in Cargo.toml and the README together.
//!
//! Reads `cargo metadata --locked --offline` for the host platform (the packages a build here
//! downloaded). Where they are not all downloaded yet (a test run alone on a fresh machine) it
//! skips loudly; under CI (`CI=true`, after `cargo test --workspace` has fetched them) it fails.

use std::process::Command;

/// `1.88`, `1.88.0` → `[1, 88, 0]`.
fn version(v: &str) -> Vec<u64> {
    let mut parts: Vec<u64> = v
        .split('.')
        .map(|p| p.parse().unwrap_or_else(|_| panic!("rust-version {v:?}")))
        .collect();
    parts.resize(3, 0);
    parts
}

fn host() -> String {
    let out = Command::new("rustc")
        .arg("-vV")
        .output()
        .expect("rustc -vV");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .expect("a host line")
        .to_owned()
}

#[test]
fn no_locked_package_needs_a_newer_rust_than_the_workspace_declares() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--locked", "--offline"])
        .args(["--filter-platform", &host()])
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .output()
        .expect("cargo metadata runs");
    if !out.status.success() {
        let why = String::from_utf8_lossy(&out.stderr);
        assert!(
            std::env::var("CI").map_or(true, |v| v != "true"),
            "cargo metadata --locked --offline failed under CI: {why}"
        );
        eprintln!("!!! SKIPPING the MSRV check: cargo metadata --offline failed (run `cargo fetch --locked` first): {why}");
        return;
    }
    let m: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let members: Vec<&str> = m["workspace_members"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    let packages = m["packages"].as_array().unwrap();
    let ours = |p: &&serde_json::Value| members.contains(&p["id"].as_str().unwrap_or(""));
    let declared: Vec<&str> = packages
        .iter()
        .filter(ours)
        .map(|p| {
            p["rust_version"]
                .as_str()
                .expect("every member has rust-version")
        })
        .collect();
    let msrv = declared[0];
    assert!(
        declared.iter().all(|v| *v == msrv),
        "workspace members disagree: {declared:?}"
    );
    let too_new: Vec<String> = packages
        .iter()
        .filter(|p| !ours(p))
        .filter_map(|p| {
            let rv = p["rust_version"].as_str()?;
            (version(rv) > version(msrv)).then(|| {
                format!(
                    "{} {} needs {rv}",
                    p["name"].as_str().unwrap_or("?"),
                    p["version"].as_str().unwrap_or("?")
                )
            })
        })
        .collect();
    assert!(
        too_new.is_empty(),
        "the workspace declares rust-version {msrv}, but locked packages need more: {too_new:?}"
    );
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"))
        .expect("README.md");
    let short = msrv.trim_end_matches(".0");
    assert!(
        readme.contains(&format!("Rust {short} or newer")),
        "README.md should say \"Rust {short} or newer\""
    );
}
