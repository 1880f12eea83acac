//! The checked-in vectors are exactly what the generator produces, well formed, at least 200,
//! and together with the model's properties and `uncovered.json` they account for every
//! requirement of the spec.
//!
//! After changing the generator (or the model), regenerate with
//! `cargo run -p tessera-conformance -- generate` (or `TESSERA_REGENERATE=1 cargo test -p
//! tessera-conformance --test vectors`) and review the diff, including the insta snapshot of
//! the index (`cargo insta review`).

use std::collections::BTreeMap;
use std::sync::OnceLock;
use tessera_conformance::{coverage, generate, requirements, vector, vectors_dir};

/// The generator's output, computed once (it runs the model checker on every variant).
fn generated() -> &'static [vector::Vector] {
    static ALL: OnceLock<Vec<vector::Vector>> = OnceLock::new();
    ALL.get_or_init(generate::all)
}

#[test]
fn checked_in_vectors_are_fresh() {
    let dir = vectors_dir();
    if std::env::var_os("TESSERA_REGENERATE").is_some() {
        generate::write(&dir).expect("write vectors");
    }
    let generated: BTreeMap<String, String> = generated()
        .iter()
        .map(|v| (format!("{}.json", v.id), vector::to_file_text(v)))
        .collect();
    let mut on_disk: BTreeMap<String, String> = BTreeMap::new();
    for entry in std::fs::read_dir(&dir).expect("conformance/vectors exists") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|x| x == "json") {
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .expect("name")
                .to_string();
            on_disk.insert(name, std::fs::read_to_string(&path).expect("read"));
        }
    }
    let mut stale = Vec::new();
    for (name, text) in &generated {
        match on_disk.get(name) {
            None => stale.push(format!("missing: {name}")),
            Some(t) if t != text => stale.push(format!("differs: {name}")),
            _ => {}
        }
    }
    for name in on_disk.keys() {
        if !generated.contains_key(name) {
            stale.push(format!("not generated any more: {name}"));
        }
    }
    assert!(
        stale.is_empty(),
        "conformance/vectors/ is stale ({} files); run `cargo run -p tessera-conformance -- generate`:\n{}",
        stale.len(),
        stale.join("\n")
    );
}

#[test]
fn the_index_of_vectors_is_as_reviewed() {
    let index: Vec<String> = generated()
        .iter()
        .map(|v| {
            let origin = serde_json::to_string(&v.origin).expect("json");
            format!("{} | {} | {}", v.id, v.requirements.join(" "), origin)
        })
        .collect();
    insta::assert_snapshot!("vector_index", index.join("\n"));
}

#[test]
fn vectors_are_well_formed_and_enough() {
    let index = requirements::index();
    let ids = index.ids();
    let vectors = vector::load_dir(&vectors_dir()).expect("load");
    assert!(vectors.len() >= 200, "only {} vectors", vectors.len());
    let problems: Vec<String> = vectors
        .iter()
        .flat_map(|v| vector::check(v, &ids))
        .collect();
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    let mut seen = std::collections::BTreeSet::new();
    for v in &vectors {
        assert!(seen.insert(&v.id), "duplicate id {}", v.id);
    }
}

#[test]
fn every_requirement_is_covered_or_has_a_reason() {
    let vectors = vector::load_dir(&vectors_dir()).expect("load");
    let c = coverage::planned(&vectors);
    let unexplained: Vec<String> = c
        .uncovered
        .iter()
        .filter(|u| u.reason.starts_with("no vector"))
        .map(|u| u.id.clone())
        .collect();
    assert!(
        unexplained.is_empty(),
        "requirements neither covered nor explained in conformance/uncovered.json: {unexplained:?}"
    );
    let index = requirements::index();
    let defined = index.ids();
    for (id, _) in coverage::uncovered_reasons() {
        assert!(
            defined.contains(&id.as_str()),
            "uncovered.json names {id}, which spec/ does not define"
        );
        assert!(
            !c.covered.contains(&id),
            "uncovered.json gives a reason for {id}, but it is covered: remove the stale reason"
        );
        assert!(
            !tessera_conformance::consumer::is_consumer_side(&id),
            "uncovered.json gives a reason for {id}, an obligation of the Consumer: the Consumer profile accounts for it (consumer-vectors/, consumer-uncovered.json)"
        );
    }
    for id in coverage::model_properties().keys() {
        assert!(
            defined.contains(&id.as_str()),
            "the model names {id}, which spec/ does not define"
        );
    }
    // the Consumer's obligations: accounted for by the Consumer profile, not by the Authority's
    // vectors (which test none of them) nor by the model's properties
    for v in &vectors {
        let consumer_side: Vec<&String> = v
            .requirements
            .iter()
            .filter(|r| tessera_conformance::consumer::is_consumer_side(r))
            .collect();
        assert!(
            consumer_side.is_empty(),
            "{} cites {consumer_side:?}, obligations of the Consumer its Authority-facing steps do not test",
            v.id
        );
    }
    for id in defined
        .iter()
        .filter(|i| tessera_conformance::consumer::is_consumer_side(i))
    {
        let u = c.uncovered.iter().find(|u| u.id == *id);
        assert!(
            u.is_some_and(|u| u.reason.starts_with("An obligation of the Consumer")),
            "{id}: the Authority profile should defer to the Consumer profile, but says {u:?}"
        );
    }
}

#[test]
fn the_schema_names_every_member_the_format_uses() {
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/vector.schema.json"))
            .expect("conformance/vector.schema.json"),
    )
    .expect("the schema is JSON");
    let mut names = std::collections::BTreeSet::new();
    collect_property_names(&schema, &mut names);
    let mut used = std::collections::BTreeSet::new();
    for v in vector::load_dir(&vectors_dir()).expect("load") {
        let j = serde_json::to_value(&v).expect("json");
        structural_keys(&j, &mut used);
    }
    let missing: Vec<&String> = used.iter().filter(|k| !names.contains(*k)).collect();
    assert!(
        missing.is_empty(),
        "members used by vectors but absent from the schema: {missing:?}"
    );
}

fn collect_property_names(v: &serde_json::Value, out: &mut std::collections::BTreeSet<String>) {
    match v {
        serde_json::Value::Object(m) => {
            if let Some(serde_json::Value::Object(props)) = m.get("properties") {
                out.extend(props.keys().cloned());
            }
            for x in m.values() {
                collect_property_names(x, out);
            }
        }
        serde_json::Value::Array(a) => a.iter().for_each(|x| collect_property_names(x, out)),
        _ => {}
    }
}

/// Keys of the format itself, not of the free JSON inside `body`, `match`, `headers`, `bind`.
fn structural_keys(v: &serde_json::Value, out: &mut std::collections::BTreeSet<String>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, x) in m {
                out.insert(k.clone());
                if !matches!(k.as_str(), "body" | "match" | "headers" | "bind") {
                    structural_keys(x, out);
                }
            }
        }
        serde_json::Value::Array(a) => a.iter().for_each(|x| structural_keys(x, out)),
        _ => {}
    }
}
