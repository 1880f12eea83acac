//! The CLI's output shapes (JSON per issue 3, markdown, mermaid, --help).

use std::process::Command;

fn run(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_tessera-model"))
        .args(args)
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

#[test]
fn check_json_has_the_documented_shape() {
    let text = run(&[
        "check",
        "--variant",
        "hardened-minus-binding",
        "--format",
        "json",
    ]);
    let v: serde_json::Value = serde_json::from_str(&text).expect("one JSON document");
    let variant = &v["variants"][0];
    assert_eq!(variant["name"], "hardened-minus-binding");
    assert!(variant["states"].as_u64().is_some_and(|n| n > 0));
    assert!(variant["seconds"].as_f64().is_some());
    let props = variant["properties"].as_array().expect("properties");
    for p in props {
        assert!(p["name"].is_string());
        assert!(p["requirements"].as_array().is_some_and(|r| !r.is_empty()));
        assert!(p["expectation"] == "always" || p["expectation"] == "sometimes");
        assert!(p["holds"].is_boolean());
        if p["expectation"] == "always" && p["holds"] == false {
            let steps = p["counterexample"].as_array().expect("counterexample");
            assert!(!steps.is_empty());
            assert!(steps[0]["messages"]
                .as_array()
                .is_some_and(|m| !m.is_empty()));
        }
    }
    assert!(props.iter().any(|p| p["holds"] == false));
}

#[test]
fn trace_formats() {
    let args = [
        "trace",
        "--variant",
        "hardened-minus-issuer",
        "--property",
        "mix-up",
    ];
    let mermaid = run(&[&args[..], &["--format", "mermaid"]].concat());
    assert!(mermaid.starts_with("sequenceDiagram\n"));
    let text = run(&[&args[..], &["--format", "text"]].concat());
    assert!(text.contains("Consumer C") && text.contains("-->"));
    let json: serde_json::Value =
        serde_json::from_str(&run(&[&args[..], &["--format", "json"]].concat())).expect("json");
    assert_eq!(json["variant"], "hardened-minus-issuer");
    assert!(json["steps"].as_array().is_some_and(|s| s.len() == 2));
}

#[test]
fn help_explains_variants_switches_and_properties() {
    let help = run(&["--help"]);
    for needle in [
        "seed",
        "hardened-minus-binding",
        "PKCE",
        "TSR-HAWK-9",
        "session integrity",
        "explore",
    ] {
        assert!(
            help.contains(needle) || help.to_lowercase().contains(&needle.to_lowercase()),
            "{needle}"
        );
    }
}
