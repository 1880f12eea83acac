//! Embeds every Markdown file of `spec/` into the crate, so the requirement index
//! (`tessera_conformance::requirements`) works wherever the binary runs, not only in a checkout;
//! and every vector of `vectors/`, so `tessera-conformance run` needs no checkout either
//! (`cargo install` of the runner works anywhere; `--vectors DIR` overrides).

use std::{env, fs, path::PathBuf};

fn main() {
    let spec_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("set by cargo"))
        .join("..")
        .join("spec");
    println!("cargo:rerun-if-changed={}", spec_dir.display());

    let mut files: Vec<PathBuf> = fs::read_dir(&spec_dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", spec_dir.display()))
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "md"))
        .collect();
    files.sort();

    let mut generated = String::from("/// Every Markdown file of `spec/`: (file name, contents).\npub static SPEC_FILES: &[(&str, &str)] = &[\n");
    for path in &files {
        println!("cargo:rerun-if-changed={}", path.display());
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .expect("UTF-8 file name");
        let absolute = fs::canonicalize(path).expect("spec file exists");
        generated.push_str(&format!(
            "    ({name:?}, include_str!({:?})),\n",
            absolute.display().to_string()
        ));
    }
    generated.push_str("];\n");

    let out = PathBuf::from(env::var("OUT_DIR").expect("set by cargo"));
    fs::write(out.join("spec_files.rs"), generated).expect("write generated spec index");
    fs::write(
        out.join("vector_files.rs"),
        embedded_vectors("vectors", "VECTOR_FILES"),
    )
    .expect("write vector index");
    fs::write(
        out.join("consumer_vector_files.rs"),
        embedded_vectors("consumer-vectors", "CONSUMER_VECTOR_FILES"),
    )
    .expect("write Consumer scenario index");
}

/// `pub static {name}: &[(&str, &str)]`: every `{dir}/*.json`, (file name, contents).
fn embedded_vectors(dir: &str, name: &str) -> String {
    let dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("set by cargo")).join(dir);
    // the directory itself: a file added or removed reruns the script
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .map(|entries| {
            entries
                .filter_map(|entry| entry.ok().map(|e| e.path()))
                .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    let mut generated = format!(
        "/// Every file of `conformance/{}/` at build time: (file name, contents).\npub static {name}: &[(&str, &str)] = &[\n",
        dir.file_name().and_then(|n| n.to_str()).unwrap_or_default()
    );
    for path in &files {
        println!("cargo:rerun-if-changed={}", path.display());
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .expect("UTF-8 file name");
        let absolute = fs::canonicalize(path).expect("vector file exists");
        generated.push_str(&format!(
            "    ({name:?}, include_str!({:?})),\n",
            absolute.display().to_string()
        ));
    }
    generated.push_str("];\n");
    generated
}
