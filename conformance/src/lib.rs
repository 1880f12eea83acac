//! The Tessera conformance suite.
//!
//! * [`requirements`] — the index of the specification's `TSR-…` requirements;
//! * [`vector`] — the vector format (spec appendix A.5, `conformance/vector.schema.json`);
//! * [`generate`] — the generator of `conformance/vectors/`;
//! * [`runner`] — runs vectors against any Authority in conformance mode, over HTTP only,
//!   with its own independent Hawk client ([`hawk`]);
//! * [`report`], [`coverage`] — the console, JSON and JUnit reports and requirement coverage;
//! * [`consumer`] — the Consumer profile: the suite tests a Consumer, playing the Authorities
//!   and the browsers (spec A.6).

pub mod consumer;
pub mod coverage;
pub mod errors;
pub mod generate;
pub mod hawk;
pub mod report;
pub mod requirements;
pub mod runner;
pub mod symbols;
pub mod vector;

#[cfg(feature = "reference-server")]
pub mod reference;

/// `*` matches any run of characters; anything else matches itself. A pattern without `*`
/// matches ids containing it.
pub fn glob_match(pattern: &str, id: &str) -> bool {
    if !pattern.contains('*') {
        return id.contains(pattern);
    }
    let parts: Vec<&str> = pattern.split('*').collect();
    let mut rest = id;
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            match rest.strip_prefix(part) {
                Some(r) => rest = r,
                None => return false,
            }
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else {
            match rest.find(part) {
                Some(p) => rest = &rest[p + part.len()..],
                None => return false,
            }
        }
    }
    rest.is_empty()
}

/// The directory of the checked-in vectors.
pub fn vectors_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("vectors")
}
