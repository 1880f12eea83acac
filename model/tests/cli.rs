//! The CLI's output shapes and exit codes (JSON, markdown, mermaid, --help, attacks, gating).

use std::process::{Command, Output};

fn exec(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tessera-model"))
        .args(args)
        .output()
        .expect("runs")
}

fn run(args: &[&str]) -> String {
    let out = exec(args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

#[test]
fn check_json_has_the_documented_shape() {
    let text = run(&["check", "--off", "binding", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&text).expect("one JSON document");
    let variant = &v["variants"][0];
    assert_eq!(variant["name"], "hardened-minus-binding");
    assert_eq!(v["capabilities"], serde_json::json!(["capture", "theft"]));
    assert!(variant["states"].as_u64().is_some_and(|n| n > 0));
    let props = variant["properties"].as_array().expect("properties");
    for p in props {
        assert!(p["requirements"].as_array().is_some_and(|r| !r.is_empty()));
        if p["expectation"] == "always" && p["holds"] == false {
            let steps = p["counterexample"].as_array().expect("counterexample");
            assert!(steps[0]["messages"]
                .as_array()
                .is_some_and(|m| !m.is_empty()));
        }
    }
    assert!(props.iter().any(|p| p["holds"] == false));
}

#[test]
fn check_gates_on_declared_safe_variants() {
    // hardened holds: exit 0; a weakened variant declared safe: exit 1, naming it.
    assert!(exec(&["check", "--variant", "hardened"]).status.success());
    let out = exec(&["check", "--off", "state", "--expect-safe"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("hardened-minus-state"));
    // the text report has no markdown markup and says which capabilities it used
    let text = String::from_utf8(out.stdout).expect("utf-8");
    assert!(!text.contains("**"));
    assert!(text.contains("capabilities used: capture,theft"));
    assert!(text.contains("==> here \"session integrity\" breaks"));
}

#[test]
fn bad_arguments_are_refused_with_a_reason() {
    for (args, needle) in [
        (vec!["check", "--logins", "9"], "over its limit"),
        (
            vec!["check", "--capabilities", "telepathy"],
            "unknown capability",
        ),
        (vec!["check", "--off", "nonsense"], "unknown switch"),
        (vec!["check", "--off", "delegate-key"], "ticket model"),
        (vec!["attack", "nonsense"], "unknown attack"),
    ] {
        let out = exec(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(needle),
            "{args:?}"
        );
    }
}

#[test]
fn trace_formats() {
    let args = ["trace", "--off", "issuer-keyed", "--property", "mix-up"];
    let mermaid = run(&[&args[..], &["--format", "mermaid"]].concat());
    assert!(mermaid.starts_with("sequenceDiagram\n"));
    let text = run(&[&args[..], &["--format", "text"]].concat());
    assert!(text.contains("Consumer C") && text.contains("-->"));
    assert!(text.contains("==> here \"mix-up\" breaks"));
    let json: serde_json::Value =
        serde_json::from_str(&run(&[&args[..], &["--format", "json"]].concat())).expect("json");
    assert_eq!(json["variant"], "hardened-minus-issuer-keyed");
    assert!(json["steps"].as_array().is_some_and(|s| !s.is_empty()));
}

#[test]
fn attacks_are_listed_and_shown() {
    let list = run(&["attack", "--list"]);
    for name in [
        "v1-fixation-despite-burn",
        "v1-replay-across-instances",
        "v1-delegation-beyond-consent",
    ] {
        assert!(list.contains(name), "{name}");
    }
    let one = run(&["attack", "v1-replay-across-instances"]);
    assert!(one.contains("capabilities used: capture,instances"));
    assert!(one.contains("replay at #1"));
}

#[test]
fn help_explains_variants_switches_capabilities_and_properties() {
    let help = run(&["--help"]);
    for needle in [
        "seed",
        "v1",
        "hardened-minus-state",
        "refusal",
        "TLS-terminating proxy",
        "TSR-HAWK-9",
        "session integrity",
        "necessity",
    ] {
        assert!(help.contains(needle), "{needle}");
    }
}
