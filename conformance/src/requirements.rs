//! The requirement index of the Tessera specification.
//!
//! Every normative statement in `spec/` carries an identifier `TSR-<AREA>-<n>`, defined once in
//! the form `**[TSR-AREA-n]**` at the start of the statement and cited elsewhere without the
//! brackets (spec/README.md, "Requirement language and identifiers"). This module extracts
//! them, so that tests can check the spec's bookkeeping and coverage reports can list what the
//! model and the vectors exercise.
//!
//! Text inside code (fenced blocks and `inline spans`) is ignored: it shows syntax, it does not
//! define or cite requirements.

use std::collections::{BTreeMap, BTreeSet};

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/spec_files.rs"));
}

/// The Markdown files of `spec/` as they were when this crate was built: (file name, text).
pub fn spec_files() -> &'static [(&'static str, &'static str)] {
    embedded::SPEC_FILES
}

/// The file whose area table lists the valid `<AREA>` names.
const AREA_TABLE_FILE: &str = "README.md";

/// The BCP 14 key words; a defining statement must use at least one.
const BCP14_KEYWORDS: &[&str] = &[
    "MUST",
    "SHALL",
    "SHOULD",
    "REQUIRED",
    "RECOMMENDED",
    "MAY",
    "OPTIONAL",
];

/// One requirement: where it is defined and what it says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    /// `TSR-RESULT-3`.
    pub id: String,
    /// `RESULT`.
    pub area: String,
    /// `3`.
    pub number: u32,
    /// The spec file that defines it, e.g. `05-login-flow.md`.
    pub file: String,
    /// 1-based line of the definition.
    pub line: usize,
    /// The defining paragraph, with Markdown line breaks folded into spaces.
    pub statement: String,
}

/// A mention of a requirement outside its definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Citation {
    pub id: String,
    pub file: String,
    pub line: usize,
}

/// Something wrong with the spec's requirement bookkeeping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// A `TSR-` token that is not of the form `TSR-<AREA>-<n>`.
    MalformedId {
        text: String,
        file: String,
        line: usize,
    },
    /// An identifier defined more than once.
    DuplicateDefinition {
        id: String,
        first: (String, usize),
        again: (String, usize),
    },
    /// A citation of an identifier defined nowhere.
    UndefinedCitation {
        id: String,
        file: String,
        line: usize,
    },
    /// A definition whose area is not in the area table.
    UnknownArea {
        id: String,
        file: String,
        line: usize,
    },
    /// A defining statement without a BCP 14 key word.
    NotNormative {
        id: String,
        file: String,
        line: usize,
    },
    /// Numbers of an area that are skipped (areas are numbered 1, 2, 3, … without gaps).
    NumberingGap { area: String, missing: Vec<u32> },
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::MalformedId { text, file, line } => {
                write!(f, "{file}:{line}: `{text}` is not of the form TSR-<AREA>-<n>")
            }
            Problem::DuplicateDefinition { id, first, again } => write!(
                f,
                "{}:{}: {id} is defined again (first defined at {}:{})",
                again.0, again.1, first.0, first.1
            ),
            Problem::UndefinedCitation { id, file, line } => {
                write!(f, "{file}:{line}: {id} is cited but defined nowhere")
            }
            Problem::UnknownArea { id, file, line } => write!(
                f,
                "{file}:{line}: {id} has an area missing from the table in spec/{AREA_TABLE_FILE}"
            ),
            Problem::NotNormative { id, file, line } => write!(
                f,
                "{file}:{line}: the statement defining {id} has no BCP 14 key word (MUST, SHOULD, MAY, ...)"
            ),
            Problem::NumberingGap { area, missing } => {
                write!(f, "area {area} skips number(s) {missing:?}")
            }
        }
    }
}

/// All requirements and citations of a specification.
#[derive(Debug, Clone, Default)]
pub struct SpecIndex {
    /// In file order, then line order.
    pub requirements: Vec<Requirement>,
    pub citations: Vec<Citation>,
    /// Area names from the area table, in table order.
    pub areas: Vec<String>,
    malformed: Vec<Problem>,
}

/// The index of the specification embedded in this build.
pub fn index() -> SpecIndex {
    SpecIndex::parse(spec_files())
}

impl SpecIndex {
    /// Builds the index from (file name, Markdown) pairs.
    pub fn parse<N: AsRef<str>, T: AsRef<str>>(files: &[(N, T)]) -> SpecIndex {
        let mut index = SpecIndex::default();
        for (name, text) in files {
            let (name, text) = (name.as_ref(), text.as_ref());
            if name == AREA_TABLE_FILE {
                index.areas = parse_area_table(text);
            }
            index.scan_file(name, text);
        }
        index
    }

    fn scan_file(&mut self, file: &str, text: &str) {
        let lines = prose_lines(text);
        for (i, line) in lines.iter().enumerate() {
            let mut rest = line.as_str();
            let mut offset = 0;
            while let Some(pos) = rest.find("TSR-") {
                let start = offset + pos;
                let token = id_token(&line[start..]);
                let defines = line[..start].ends_with("**[")
                    && line[start + token.len()..].starts_with("]**");
                match parse_id(token) {
                    Some((area, number)) if defines => self.requirements.push(Requirement {
                        id: token.to_string(),
                        area,
                        number,
                        file: file.to_string(),
                        line: i + 1,
                        statement: paragraph_from(&lines, i, start - 3),
                    }),
                    Some(_) => self.citations.push(Citation {
                        id: token.to_string(),
                        file: file.to_string(),
                        line: i + 1,
                    }),
                    None => self.malformed.push(Problem::MalformedId {
                        text: token.to_string(),
                        file: file.to_string(),
                        line: i + 1,
                    }),
                }
                let consumed = pos + token.len().max(4);
                rest = &rest[consumed..];
                offset += consumed;
            }
        }
    }

    /// The defined identifiers, in spec order.
    pub fn ids(&self) -> Vec<&str> {
        self.requirements.iter().map(|r| r.id.as_str()).collect()
    }

    /// The requirement with this identifier.
    pub fn get(&self, id: &str) -> Option<&Requirement> {
        self.requirements.iter().find(|r| r.id == id)
    }

    /// Every bookkeeping problem, all of them (not just the first).
    pub fn problems(&self) -> Vec<Problem> {
        let mut problems = self.malformed.clone();
        let mut first: BTreeMap<&str, &Requirement> = BTreeMap::new();
        for r in &self.requirements {
            if let Some(earlier) = first.get(r.id.as_str()) {
                problems.push(Problem::DuplicateDefinition {
                    id: r.id.clone(),
                    first: (earlier.file.clone(), earlier.line),
                    again: (r.file.clone(), r.line),
                });
            } else {
                first.insert(&r.id, r);
            }
            if !self.areas.contains(&r.area) {
                problems.push(Problem::UnknownArea {
                    id: r.id.clone(),
                    file: r.file.clone(),
                    line: r.line,
                });
            }
            if !has_bcp14_keyword(&r.statement) {
                problems.push(Problem::NotNormative {
                    id: r.id.clone(),
                    file: r.file.clone(),
                    line: r.line,
                });
            }
        }
        for c in &self.citations {
            if !first.contains_key(c.id.as_str()) {
                problems.push(Problem::UndefinedCitation {
                    id: c.id.clone(),
                    file: c.file.clone(),
                    line: c.line,
                });
            }
        }
        let mut numbers: BTreeMap<&str, BTreeSet<u32>> = BTreeMap::new();
        for r in &self.requirements {
            numbers.entry(&r.area).or_default().insert(r.number);
        }
        for (area, set) in numbers {
            let max = set.iter().copied().max().unwrap_or(0);
            let missing: Vec<u32> = (1..=max).filter(|n| !set.contains(n)).collect();
            if !missing.is_empty() {
                problems.push(Problem::NumberingGap {
                    area: area.to_string(),
                    missing,
                });
            }
        }
        problems
    }
}

/// `TSR-` followed by the characters an identifier can contain.
fn id_token(s: &str) -> &str {
    let end = s
        .char_indices()
        .skip(4)
        .find(|&(_, c)| !(c.is_ascii_alphanumeric() || c == '-'))
        .map_or(s.len(), |(i, _)| i);
    // A trailing hyphen is punctuation ("TSR-RESULT-3-style"), not part of the id.
    s[..end].trim_end_matches('-')
}

/// `TSR-AREA-n` → (AREA, n); `None` for anything else.
fn parse_id(token: &str) -> Option<(String, u32)> {
    let rest = token.strip_prefix("TSR-")?;
    let (area, number) = rest.split_once('-')?;
    let area_ok = !area.is_empty() && area.chars().all(|c| c.is_ascii_uppercase());
    let number_ok = !number.is_empty()
        && number.chars().all(|c| c.is_ascii_digit())
        && !number.starts_with('0');
    if !(area_ok && number_ok) {
        return None;
    }
    Some((area.to_string(), number.parse().ok()?))
}

/// The file's lines with code removed: fenced blocks become empty lines and inline code spans
/// become spaces, so line numbers stay right.
fn prose_lines(text: &str) -> Vec<String> {
    let mut in_fence = false;
    text.lines()
        .map(|line| {
            if line.trim_start().starts_with("```") {
                in_fence = !in_fence;
                return String::new();
            }
            if in_fence {
                return String::new();
            }
            let mut out = String::with_capacity(line.len());
            let mut in_code = false;
            for c in line.chars() {
                if c == '`' {
                    in_code = !in_code;
                    out.push(' ');
                } else {
                    out.push(if in_code { ' ' } else { c });
                }
            }
            out
        })
        .collect()
}

/// The paragraph that starts at `lines[first]` column `column`, up to the next blank line.
fn paragraph_from(lines: &[String], first: usize, column: usize) -> String {
    let mut parts = vec![lines[first][column..].trim().to_string()];
    parts.extend(
        lines[first + 1..]
            .iter()
            .take_while(|l| !l.trim().is_empty())
            .map(|l| l.trim().to_string()),
    );
    parts.join(" ")
}

fn has_bcp14_keyword(statement: &str) -> bool {
    statement
        .split(|c: char| !c.is_ascii_alphanumeric())
        .any(|word| BCP14_KEYWORDS.contains(&word))
}

/// Area names from rows of the form "| `AREA` | …" in the area table.
fn parse_area_table(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|line| {
            let cell = line.strip_prefix("| `")?;
            let (name, _) = cell.split_once('`')?;
            (!name.is_empty() && name.chars().all(|c| c.is_ascii_uppercase()))
                .then(|| name.to_string())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const AREAS: &str = "| area | where |\n|---|---|\n| `RESULT` | ch 5 |\n| `HAWK` | ch 4 |\n";

    fn problems_of(body: &str) -> Vec<Problem> {
        SpecIndex::parse(&[("README.md", AREAS), ("x.md", body)]).problems()
    }

    #[test]
    fn a_well_formed_spec_has_no_problems() {
        let body = "**[TSR-RESULT-1]** The Authority MUST refuse it.\n\n\
                    **[TSR-RESULT-2]** It SHOULD log\nthe refusal.\n\nSee TSR-RESULT-1.";
        let index = SpecIndex::parse(&[("README.md", AREAS), ("x.md", body)]);
        assert_eq!(index.problems(), vec![]);
        assert_eq!(index.ids(), vec!["TSR-RESULT-1", "TSR-RESULT-2"]);
        assert_eq!(index.citations.len(), 1);
        let second = index.get("TSR-RESULT-2").expect("defined");
        assert_eq!(
            (second.line, second.number, second.area.as_str()),
            (3, 2, "RESULT")
        );
        assert_eq!(
            second.statement,
            "**[TSR-RESULT-2]** It SHOULD log the refusal."
        );
    }

    #[test]
    fn every_kind_of_problem_is_reported_at_once() {
        let body = "**[TSR-RESULT-1]** MUST.\n\n**[TSR-RESULT-1]** MUST again.\n\n\
                    **[TSR-RESULT-3]** no key word here.\n\n**[TSR-NOPE-1]** MUST.\n\n\
                    cites TSR-HAWK-9 and TSR-result-2 and TSR-RESULT-01.";
        let found = problems_of(body);
        let kinds: Vec<&str> = found
            .iter()
            .map(|p| match p {
                Problem::MalformedId { .. } => "malformed",
                Problem::DuplicateDefinition { .. } => "duplicate",
                Problem::UndefinedCitation { .. } => "undefined",
                Problem::UnknownArea { .. } => "area",
                Problem::NotNormative { .. } => "not-normative",
                Problem::NumberingGap { .. } => "gap",
            })
            .collect();
        assert_eq!(
            kinds,
            vec![
                "malformed",
                "malformed",
                "duplicate",
                "not-normative",
                "area",
                "undefined",
                "gap"
            ],
            "{found:#?}"
        );
        assert!(found.contains(&Problem::NumberingGap {
            area: "RESULT".into(),
            missing: vec![2]
        }));
        assert!(found.contains(&Problem::UndefinedCitation {
            id: "TSR-HAWK-9".into(),
            file: "x.md".into(),
            line: 9
        }));
    }

    #[test]
    fn code_neither_defines_nor_cites() {
        let body =
            "```\n**[TSR-RESULT-1]** MUST\n```\nInline `**[TSR-RESULT-1]**` and `TSR-HAWK-7`.\n";
        let index = SpecIndex::parse(&[("README.md", AREAS), ("x.md", body)]);
        assert!(index.requirements.is_empty());
        assert!(index.citations.is_empty());
        assert_eq!(index.problems(), vec![]);
    }

    #[test]
    fn trailing_punctuation_is_not_part_of_an_id() {
        assert_eq!(id_token("TSR-RESULT-3."), "TSR-RESULT-3");
        assert_eq!(id_token("TSR-RESULT-3-style"), "TSR-RESULT-3-style");
        assert_eq!(id_token("TSR-RESULT-3), and"), "TSR-RESULT-3");
        assert_eq!(parse_id("TSR-RESULT-3-style"), None);
        assert_eq!(parse_id("TSR-RESULT-3"), Some(("RESULT".into(), 3)));
    }
}
