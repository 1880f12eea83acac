//! The specification's requirement identifiers are well formed, unique, cited only when
//! defined, normative, and numbered without gaps (spec/README.md).

use tessera_conformance::requirements;

#[test]
fn the_spec_has_no_requirement_bookkeeping_problems() {
    let index = requirements::index();
    let problems: Vec<String> = index.problems().iter().map(ToString::to_string).collect();
    assert!(
        problems.is_empty(),
        "spec/ has {} problem(s):\n{}",
        problems.len(),
        problems.join("\n")
    );
}

#[test]
fn the_spec_defines_at_least_sixty_requirements_in_every_area() {
    let index = requirements::index();
    assert!(
        index.requirements.len() >= 60,
        "only {} requirements",
        index.requirements.len()
    );
    for area in &index.areas {
        assert!(
            index.requirements.iter().any(|r| &r.area == area),
            "area {area} is in the table of spec/README.md but defines no requirement"
        );
    }
}

#[test]
fn the_index_covers_every_spec_file() {
    let on_disk = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../spec"))
        .expect("spec/ exists")
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "md"))
        .count();
    assert_eq!(
        requirements::spec_files().len(),
        on_disk,
        "rebuild: a spec file was added or removed"
    );
}
