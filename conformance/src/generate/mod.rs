//! The generator: every vector of `conformance/vectors/`, from the model and from the spec.
//!
//! Families:
//! * `state` — every cell of the session state table (spec 6.1);
//! * `hawk` — request authentication (chapter 4) at every authenticated endpoint, including
//!   each attribute left out alone (`hawk.*.omit.*`);
//! * `order` — spec 4.8: each check broken together with every later one;
//! * `ticket-id` — sealed ticket ids altered in every region, relabelled to an unknown key id;
//! * `body`, `handshake`, `result`, `refresh`, `revoke`, `app-ticket`, `reissue`,
//!   `delegation`, `subject`, `ticket`, `metadata`, `errors`, `conformance`, `authorize`,
//!   `callback` — the rules of each endpoint, one vector per rule and per error-table row;
//! * `concurrency` — concurrent groups (TSR-SESSION-2);
//! * `race` — many copies of one single-use request at once, exactly one winner;
//! * `model` — from the model (`tessera-model`): one vector per (request kind, outcome) pair
//!   the model reaches, and one negative vector per counterexample of a weakened variant.
//!
//! [`consumer`] generates the Consumer profile's scenarios (`conformance/consumer-vectors/`).

pub mod consumer;
pub mod dsl;
mod endpoints;
mod hawk;
pub mod model;
mod races;
mod state_table;

use crate::vector::Vector;

/// Every vector, sorted by id.
pub fn all() -> Vec<Vector> {
    let mut v = Vec::new();
    v.extend(state_table::vectors());
    v.extend(hawk::vectors());
    v.extend(hawk::omitted_attributes());
    v.extend(hawk::order_of_checks());
    v.extend(hawk::tampered_ticket_ids());
    v.extend(hawk::retired_key_ids());
    v.extend(endpoints::bodies());
    v.extend(endpoints::handshakes());
    v.extend(endpoints::results());
    v.extend(endpoints::sessions());
    v.extend(endpoints::tickets());
    v.extend(endpoints::misc());
    v.extend(endpoints::concurrency());
    v.extend(races::vectors());
    v.extend(model::vectors());
    v.sort_by(|a, b| a.id.cmp(&b.id));
    v
}

/// Writes every vector to `dir` as `{id}.json` and removes stale `*.json` files there.
pub fn write(dir: &std::path::Path) -> std::io::Result<usize> {
    std::fs::create_dir_all(dir)?;
    let vectors = all();
    let keep: std::collections::BTreeSet<String> =
        vectors.iter().map(|v| format!("{}.json", v.id)).collect();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("")
            .to_string();
        if name.ends_with(".json") && !keep.contains(&name) {
            std::fs::remove_file(&path)?;
        }
    }
    for v in &vectors {
        std::fs::write(
            dir.join(format!("{}.json", v.id)),
            crate::vector::to_file_text(v),
        )?;
    }
    Ok(vectors.len())
}
