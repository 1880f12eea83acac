//! Reports of a run: the console summary, `--report-json` and `--junit`.

use crate::coverage;
use crate::runner::{Failure, RunResult, Verdict};
use crate::vector::Vector;
use serde::Serialize;
use std::fmt::Write as _;

/// The JSON report (`--report-json`).
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub target: String,
    /// The `--filter` pattern, when the run was filtered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
    /// `production` for `--profile production` (set by the caller).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    pub vectors: usize,
    pub passed: usize,
    pub failed: usize,
    pub unimplemented: usize,
    pub deviations: usize,
    pub seconds: f64,
    pub requirements: coverage::Coverage,
    /// Every vector run, in order, with its status and duration.
    pub results: Vec<VectorResult>,
    pub failures: Vec<Failure>,
    pub unimplemented_vectors: Vec<Unimplemented>,
    pub known_deviations: Vec<KnownDeviation>,
}

/// One vector's line of the report.
#[derive(Debug, Clone, Serialize)]
pub struct VectorResult {
    pub id: String,
    /// [`crate::vector::Vector::group`]: the JUnit `classname`.
    pub group: String,
    pub title: String,
    pub requirements: Vec<String>,
    /// `passed`, `failed`, `unimplemented` or `deviation`.
    pub status: &'static str,
    pub seconds: f64,
    /// For a failure or a deviation: the 1-based step and what went wrong.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// For an unimplemented vector: the feature; for a deviation: the reason.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub feature: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
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
    /// The report of an unfiltered run.
    pub fn new(target: &str, result: &RunResult) -> Report {
        Self::filtered(target, result, None, &[])
    }

    /// The report of a run of the vectors matching `filter`; `left_out` are the vectors the
    /// filter excluded, so that what only they cite is reported as filtered out, not uncovered.
    pub fn filtered(
        target: &str,
        result: &RunResult,
        filter: Option<&str>,
        left_out: &[Vector],
    ) -> Report {
        let mut r = Report {
            target: target.to_string(),
            filter: filter.map(String::from),
            profile: None,
            vectors: result.runs.len(),
            passed: 0,
            failed: 0,
            unimplemented: 0,
            deviations: 0,
            seconds: result.elapsed.as_secs_f64(),
            requirements: coverage::compute(result.verdicts(), left_out),
            results: vec![],
            failures: vec![],
            unimplemented_vectors: vec![],
            known_deviations: vec![],
        };
        for ran in &result.runs {
            let v = &ran.vector;
            let mut line = VectorResult {
                id: v.id.clone(),
                group: v.group().to_string(),
                title: v.title.clone(),
                requirements: v.requirements.clone(),
                status: "passed",
                seconds: ran.duration.as_secs_f64(),
                step: None,
                message: None,
                feature: None,
                reason: None,
            };
            match &ran.verdict {
                Verdict::Passed => r.passed += 1,
                Verdict::Failed(f) => {
                    r.failed += 1;
                    r.failures.push(f.clone());
                    line.status = "failed";
                    line.step = Some(f.step);
                    line.message = Some(f.message.clone());
                }
                Verdict::Unimplemented { feature } => {
                    r.unimplemented += 1;
                    r.unimplemented_vectors.push(Unimplemented {
                        vector: v.id.clone(),
                        feature: feature.clone(),
                    });
                    line.status = "unimplemented";
                    line.feature = Some(feature.clone());
                }
                Verdict::Deviation { reason, failure } => {
                    r.deviations += 1;
                    r.known_deviations.push(KnownDeviation {
                        vector: v.id.clone(),
                        reason: reason.clone(),
                        step: failure.step,
                        message: failure.message.clone(),
                    });
                    line.status = "deviation";
                    line.step = Some(failure.step);
                    line.message = Some(failure.message.clone());
                    line.reason = Some(reason.clone());
                }
            }
            r.results.push(line);
        }
        r
    }

    /// Whether the run counts as a success (no failure; unimplemented optional features and
    /// known deviations are not failures).
    pub fn ok(&self) -> bool {
        self.failed == 0
    }

    /// The console text: every failure in full, the deviations and unimplemented vectors one
    /// line each, then the summary, once.
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
        let mut filter = self
            .filter
            .as_deref()
            .map(|f| format!(" (--filter {f})"))
            .unwrap_or_default();
        if let Some(p) = &self.profile {
            filter.push_str(&format!(" (--profile {p})"));
        }
        let noun = if self.profile.as_deref() == Some("consumer") {
            "scenarios"
        } else {
            "vectors"
        };
        let _ = writeln!(
            s,
            "\n{} {noun}{filter} against {} in {:.1} s: {} passed, {} failed, {} unimplemented, {} known deviations",
            self.vectors, self.target, self.seconds, self.passed, self.failed, self.unimplemented, self.deviations
        );
        let filtered_out = if self.requirements.filtered_out.is_empty() {
            String::new()
        } else {
            format!(
                ", {} cited only by vectors left out of this run (--filter, --profile production)",
                self.requirements.filtered_out.len()
            )
        };
        let _ = writeln!(
            s,
            "requirements: {} covered, {} uncovered (each with its reason in the JSON report){filtered_out}",
            self.requirements.covered.len(),
            self.requirements.uncovered.len()
        );
        s
    }

    /// JUnit XML: one test case per vector, `classname` its group, `name` its id, its
    /// requirements as properties, its duration as `time`.
    pub fn junit(&self) -> String {
        let mut s = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        let _ = writeln!(
            s,
            "<testsuites name=\"tessera-conformance\" tests=\"{}\" failures=\"{}\" skipped=\"{}\" time=\"{:.3}\">",
            self.vectors,
            self.failed,
            self.unimplemented + self.deviations,
            self.seconds
        );
        let _ = writeln!(
            s,
            "  <testsuite name=\"tessera-conformance\" tests=\"{}\" failures=\"{}\" errors=\"0\" skipped=\"{}\" time=\"{:.3}\">",
            self.vectors,
            self.failed,
            self.unimplemented + self.deviations,
            self.seconds
        );
        let _ = writeln!(s, "    <properties>");
        let _ = writeln!(
            s,
            "      <property name=\"target\" value=\"{}\"/>",
            xml(&self.target)
        );
        if let Some(f) = &self.filter {
            let _ = writeln!(s, "      <property name=\"filter\" value=\"{}\"/>", xml(f));
        }
        if let Some(p) = &self.profile {
            let _ = writeln!(s, "      <property name=\"profile\" value=\"{}\"/>", xml(p));
        }
        let _ = writeln!(s, "    </properties>");
        let mut failures = self.failures.iter();
        for r in &self.results {
            let _ = writeln!(
                s,
                "    <testcase classname=\"{}\" name=\"{}\" time=\"{:.3}\">",
                xml(&r.group),
                xml(&r.id),
                r.seconds
            );
            let _ = writeln!(s, "      <properties>");
            for req in &r.requirements {
                let _ = writeln!(
                    s,
                    "        <property name=\"requirement\" value=\"{}\"/>",
                    xml(req)
                );
            }
            let _ = writeln!(s, "      </properties>");
            match r.status {
                "failed" => {
                    let text = failures
                        .find(|f| f.vector == r.id)
                        .map(failure_text)
                        .unwrap_or_default();
                    let _ = writeln!(
                        s,
                        "      <failure message=\"{}\">{}</failure>",
                        xml(&format!(
                            "step {}: {}",
                            r.step.unwrap_or(0),
                            r.message.as_deref().unwrap_or("")
                        )),
                        xml(&text)
                    );
                }
                "unimplemented" => {
                    let _ = writeln!(
                        s,
                        "      <skipped message=\"unimplemented: {}\"/>",
                        xml(r.feature.as_deref().unwrap_or(""))
                    );
                }
                "deviation" => {
                    let _ = writeln!(
                        s,
                        "      <skipped message=\"known deviation: {}\"/>",
                        xml(r.reason.as_deref().unwrap_or(""))
                    );
                }
                _ => {}
            }
            s.push_str("    </testcase>\n");
        }
        s.push_str("  </testsuite>\n</testsuites>\n");
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
