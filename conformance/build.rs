//! Embeds every Markdown file of `spec/` into the crate, so the requirement index
//! (`tessera_conformance::requirements`) works wherever the binary runs, not only in a checkout.

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

    let out = PathBuf::from(env::var("OUT_DIR").expect("set by cargo")).join("spec_files.rs");
    fs::write(out, generated).expect("write generated spec index");
}
