//! Reports of a run: the console summary, `--report-json` and `--junit`.

use crate::coverage;
use crate::runner::{Failure, RunResult, Verdict};
use serde::Serialize;
use std::fmt::Write as _;

/// The JSON report (`--report-json`).
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub target: String,
    pub vectors: usize,
    pub passed: usize,
    pub failed: usize,
    pub unimplemented: usize,
    pub deviations: usize,
    pub seconds: f64,
    pub requirements: coverage::Coverage,
    pub failures: Vec<Failure>,
    pub unimplemented_vectors: Vec<Unimplemented>,
    pub known_deviations: Vec<KnownDeviation>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Unimplemented {
    pub vector: String,
    pub feature: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct KnownDeviation {
    pub vector: String,
    pub reason: String,
    pub step: usize,
    pub message: String,
}

impl Report {
    pub fn new(target: &str, result: &RunResult) -> Report {
        let mut r = Report {
            target: target.to_string(),
            vectors: result.verdicts.len(),
            passed: 0,
            failed: 0,
            unimplemented: 0,
            deviations: 0,
            seconds: result.elapsed.as_secs_f64(),
            requirements: coverage::compute(&result.verdicts),
            failures: vec![],
            unimplemented_vectors: vec![],
            known_deviations: vec![],
        };
        for (v, verdict) in &result.verdicts {
            match verdict {
                Verdict::Passed => r.passed += 1,
                Verdict::Failed(f) => {
                    r.failed += 1;
                    r.failures.push(f.clone());
                }
                Verdict::Unimplemented { feature } => {
                    r.unimplemented += 1;
                    r.unimplemented_vectors.push(Unimplemented {
                        vector: v.id.clone(),
                        feature: feature.clone(),
                    });
                }
                Verdict::Deviation { reason, failure } => {
                    r.deviations += 1;
                    r.known_deviations.push(KnownDeviation {
                        vector: v.id.clone(),
                        reason: reason.clone(),
                        step: failure.step,
                        message: failure.message.clone(),
                    });
                }
            }
        }
        r
    }

    /// Whether the run counts as a success (no failure; unimplemented optional features and
    /// known deviations are not failures).
    pub fn ok(&self) -> bool {
        self.failed == 0
    }

    /// The console text: every failure in full, then the summary.
    pub fn console(&self) -> String {
        let mut s = String::new();
        for f in &self.failures {
            s.push_str(&failure_text(f));
            s.push('\n');
        }
        for d in &self.known_deviations {
            let _ = writeln!(
                s,
                "known deviation {} (step {}): {} — {}",
                d.vector, d.step, d.message, d.reason
            );
        }
        for u in &self.unimplemented_vectors {
            let _ = writeln!(s, "unimplemented {} (feature {})", u.vector, u.feature);
        }
        let _ = writeln!(
            s,
            "\n{} vectors against {} in {:.1} s: {} passed, {} failed, {} unimplemented, {} known deviations",
            self.vectors, self.target, self.seconds, self.passed, self.failed, self.unimplemented, self.deviations
        );
        let _ = writeln!(
            s,
            "requirements: {} covered, {} uncovered (each with its reason in the JSON report)",
            self.requirements.covered.len(),
            self.requirements.uncovered.len()
        );
        let _ = writeln!(s, "{} passed, {} failed", self.passed, self.failed);
        s
    }

    /// JUnit XML: one test case per vector.
    pub fn junit(&self, result: &RunResult) -> String {
        let mut s = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        let _ = writeln!(
            s,
            "<testsuite name=\"tessera-conformance\" tests=\"{}\" failures=\"{}\" skipped=\"{}\" time=\"{:.3}\">",
            self.vectors,
            self.failed,
            self.unimplemented + self.deviations,
            self.seconds
        );
        for (v, verdict) in &result.verdicts {
            let _ = write!(
                s,
                "  <testcase classname=\"{}\" name=\"{}\">",
                xml(v.requirements.join(" ").as_str()),
                xml(&v.id)
            );
            match verdict {
                Verdict::Passed => {}
                Verdict::Failed(f) => {
                    let _ = write!(
                        s,
                        "<failure message=\"{}\">{}</failure>",
                        xml(&format!("step {}: {}", f.step, f.message)),
                        xml(&failure_text(f))
                    );
                }
                Verdict::Unimplemented { feature } => {
                    let _ = write!(s, "<skipped message=\"unimplemented: {}\"/>", xml(feature));
                }
                Verdict::Deviation { reason, .. } => {
                    let _ = write!(s, "<skipped message=\"known deviation: {}\"/>", xml(reason));
                }
            }
            s.push_str("</testcase>\n");
        }
        s.push_str("</testsuite>\n");
        s
    }
}

/// One failure, in full.
pub fn failure_text(f: &Failure) -> String {
    let mut s = format!(
        "FAILED {} — {}\n  step {}: {}\n  requirements: {}\n",
        f.vector,
        f.title,
        f.step,
        f.message,
        f.requirements.join(", ")
    );
    for (label, text) in [
        ("request sent", &f.request),
        ("expected", &f.expected),
        ("actual response", &f.actual),
    ] {
        if let Some(t) = text {
            let _ = writeln!(s, "  {label}:");
            for line in t.lines() {
                let _ = writeln!(s, "    {line}");
            }
        }
    }
    s
}

fn xml(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '<' => "&lt;".to_string(),
            '>' => "&gt;".to_string(),
            '&' => "&amp;".to_string(),
            '"' => "&quot;".to_string(),
            c if (c as u32) < 0x20 && c != '\n' && c != '\t' => " ".to_string(),
            c => c.to_string(),
        })
        .collect()
}
