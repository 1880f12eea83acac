//! `tessera-conformance`: run the conformance vectors against an Authority, regenerate them,
//! list them, show requirement coverage.

use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use std::path::PathBuf;
use std::process::ExitCode;
use tessera_conformance::report::Report;
use tessera_conformance::runner::{self, Deviation, Profile, Runner, Target, Verdict};
use tessera_conformance::{coverage, generate, glob_match, vector, vectors_dir};

#[derive(Debug, Parser)]
#[command(
    name = "tessera-conformance",
    version,
    about = "The Tessera conformance suite"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the vectors against an Authority in conformance mode (spec appendix A), or with
    /// `--profile consumer` the scenarios against a Consumer in test mode (spec A.6).
    Run(RunArgs),
    /// Regenerate the vector files from the generator (and the model).
    Generate {
        /// Output directory. Default: `conformance/vectors/`.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Output directory of the Consumer profile's scenarios. Default:
        /// `conformance/consumer-vectors/`.
        #[arg(long)]
        consumer_out: Option<PathBuf>,
    },
    /// List the vectors: id, requirements, title.
    List {
        /// Directory of vector files. Default: the built-in vectors.
        #[arg(long)]
        vectors: Option<PathBuf>,
        /// Only ids matching this pattern (`*` wildcards; without one, a substring).
        #[arg(long)]
        filter: Option<String>,
        /// `consumer`: the Consumer profile's scenarios instead (spec A.6).
        #[arg(long)]
        profile: Option<ListProfile>,
    },
    /// Serve the reference Consumer (the demo Consumer on the Rust Consumer library) in test
    /// mode (spec A.6.1) on 127.0.0.1 until interrupted, and print its URL: point
    /// `run --profile consumer --target URL` at it, e.g. to compare with your Consumer.
    #[cfg(feature = "reference-server")]
    ReferenceConsumer {
        /// Loopback port (0: any free one).
        #[arg(long, default_value_t = 0)]
        port: u16,
    },
    /// Requirement coverage of the vector set (what a fully passing run covers).
    Coverage {
        /// Directory of vector files. Default: the built-in vectors.
        #[arg(long)]
        vectors: Option<PathBuf>,
        /// `consumer`: the Consumer profile's scenarios and requirements instead (spec A.6).
        #[arg(long)]
        profile: Option<ListProfile>,
    },
}

/// The vectors of `dir` (default: the built-in ones), split by `filter` into (selected,
/// left out).
fn load(
    dir: Option<PathBuf>,
    filter: Option<&str>,
) -> Result<(Vec<vector::Vector>, Vec<vector::Vector>), String> {
    let all = match dir {
        Some(dir) => vector::load_dir(&dir)?,
        None => vector::embedded()?,
    };
    Ok(match filter {
        Some(f) => all.into_iter().partition(|v| glob_match(f, &v.id)),
        None => (all, vec![]),
    })
}

#[derive(Debug, clap::Args)]
struct RunArgs {
    /// Base URL of the Authority (with `--profile consumer`: of the Consumer, in test mode).
    /// Default: start the reference Authority (Consumer) in process.
    #[arg(long)]
    target: Option<String>,
    /// Directory of vector files (with `--profile consumer`: of scenario files). Default:
    /// the ones built into this binary (`conformance/vectors/`, `conformance/consumer-vectors/`).
    #[arg(long)]
    vectors: Option<PathBuf>,
    /// Run only vectors whose id matches (`*` wildcards; without one, a substring).
    /// Requirements that only the other vectors cite are reported as filtered out.
    #[arg(long)]
    filter: Option<String>,
    /// Write the JSON report here.
    #[arg(long)]
    report_json: Option<PathBuf>,
    /// Write a JUnit XML report here.
    #[arg(long)]
    junit: Option<PathBuf>,
    /// Known deviations: a JSON array of {"vector": id or pattern with *, "reason": text}.
    #[arg(long)]
    deviations: Option<PathBuf>,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
    /// `conformance`: the target's test clock, every vector. `production`: the target on
    /// its real clock with its restart fence on, as deployed (spec A.5.5); the vectors
    /// that need the test clock are left out, and the runner waits out the fence.
    /// `consumer`: the target is a Consumer in test mode (spec A.6); the runner plays the
    /// honest Authority, the attacker's Authority and two browsers, and runs the Consumer
    /// scenarios (`--vectors DIR` runs others than the built-in ones; without `--target`,
    /// the reference Consumer is started in process).
    #[arg(long, value_enum, default_value_t = ProfileArg::Conformance)]
    profile: ProfileArg,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum ListProfile {
    Consumer,
}

/// The Consumer scenarios of `dir` (default: the built-in ones) whose id matches `filter`.
fn load_scenarios(
    dir: Option<PathBuf>,
    filter: Option<&str>,
) -> Result<Vec<tessera_conformance::consumer::scenario::Scenario>, String> {
    use tessera_conformance::consumer::scenario;
    let all = match dir {
        Some(d) => scenario::load_dir(&d)?,
        None => scenario::embedded()?,
    };
    Ok(all
        .into_iter()
        .filter(|s| filter.is_none_or(|f| glob_match(f, &s.id)))
        .collect())
}

fn print_coverage(c: &coverage::Coverage) {
    println!("covered ({}): {}", c.covered.len(), c.covered.join(" "));
    println!("uncovered ({}):", c.uncovered.len());
    for u in &c.uncovered {
        println!("  {}: {}", u.id, u.reason);
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum ProfileArg {
    Conformance,
    Production,
    Consumer,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Run(args) => {
            let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
            match rt.block_on(run(args)) {
                Ok(true) => ExitCode::SUCCESS,
                Ok(false) => ExitCode::from(1),
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::from(2)
                }
            }
        }
        Command::Generate { out, consumer_out } => {
            let dir = out.unwrap_or_else(vectors_dir);
            let cdir = consumer_out.unwrap_or_else(tessera_conformance::consumer::scenario::dir);
            match generate::write(&dir)
                .map_err(|e| e.to_string())
                .and_then(|n| generate::consumer::write(&cdir).map(|c| (n, c)))
            {
                Ok((n, c)) => {
                    println!("wrote {n} vectors to {}", dir.display());
                    println!("wrote {c} Consumer scenarios to {}", cdir.display());
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::from(2)
                }
            }
        }
        #[cfg(feature = "reference-server")]
        Command::ReferenceConsumer { port } => {
            let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
            rt.block_on(async {
                use tessera_conformance::consumer::reference::ReferenceConsumer;
                match ReferenceConsumer::start_on(port).await {
                    Ok(c) => {
                        println!("{}", c.url());
                        std::future::pending::<()>().await;
                        ExitCode::SUCCESS
                    }
                    Err(e) => {
                        eprintln!("error: {e}");
                        ExitCode::from(2)
                    }
                }
            })
        }
        Command::List {
            vectors,
            filter,
            profile: Some(ListProfile::Consumer),
        } => match load_scenarios(vectors, filter.as_deref()) {
            Ok(ss) => {
                for s in &ss {
                    println!("{}\t{}\t{}", s.id, s.requirements.join(","), s.title);
                }
                println!("{} scenarios", ss.len());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(2)
            }
        },
        Command::Coverage {
            vectors,
            profile: Some(ListProfile::Consumer),
        } => match load_scenarios(vectors, None) {
            Ok(ss) => {
                print_coverage(&tessera_conformance::consumer::planned(&ss));
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(2)
            }
        },
        Command::List {
            vectors, filter, ..
        } => match load(vectors, filter.as_deref()) {
            Ok((vs, _)) => {
                for v in &vs {
                    println!("{}\t{}\t{}", v.id, v.requirements.join(","), v.title);
                }
                println!("{} vectors", vs.len());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(2)
            }
        },
        Command::Coverage { vectors, .. } => match load(vectors, None) {
            Ok((vs, _)) => {
                print_coverage(&coverage::planned(&vs));
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(2)
            }
        },
    }
}

async fn run(args: RunArgs) -> Result<bool, String> {
    let RunArgs {
        target,
        vectors,
        filter,
        report_json,
        junit,
        deviations,
        quiet,
        profile,
    } = args;
    let profile = match profile {
        ProfileArg::Conformance => Profile::Conformance,
        ProfileArg::Production => Profile::Production,
        ProfileArg::Consumer => {
            return run_consumer(RunArgs {
                target,
                vectors,
                filter,
                report_json,
                junit,
                deviations,
                quiet,
                profile,
            })
            .await
        }
    };
    let (mut vs, mut left_out) = load(vectors, filter.as_deref())?;
    if vs.is_empty() {
        return Err(format!(
            "no vector matches --filter {}",
            filter.as_deref().unwrap_or("")
        ));
    }
    let deviations = read_deviations(deviations)?;
    #[cfg(feature = "reference-server")]
    let mut reference = None;
    let url = match target {
        Some(t) => t,
        None => {
            #[cfg(feature = "reference-server")]
            {
                let r = match profile {
                    Profile::Conformance => {
                        tessera_conformance::reference::Reference::start_fenced().await?
                    }
                    Profile::Production => {
                        tessera_conformance::reference::Reference::start_production().await?
                    }
                };
                let url = r.url();
                eprintln!(
                    "started the reference Authority in conformance mode at {url}{}",
                    if profile == Profile::Production {
                        " (real clock, restart fence on)"
                    } else {
                        ""
                    }
                );
                reference = Some(r);
                url
            }
            #[cfg(not(feature = "reference-server"))]
            return Err(
                "no --target given, and this build cannot start the reference Authority".into(),
            );
        }
    };
    let target = Target::connect(&url).await?;
    if profile == Profile::Production {
        let (clocked, free): (Vec<_>, Vec<_>) = vs
            .into_iter()
            .partition(|v| v.needs_test_clock(target.skew));
        eprintln!(
            "production profile: {} vectors need the test clock and are left out",
            clocked.len()
        );
        vs = free;
        left_out.extend(clocked);
    }
    let mut runner = Runner::with_profile(target, deviations, profile);
    let bar = if quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(vs.len() as u64)
    };
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut failed = 0;
    let result = runner::run_all(&mut runner, &vs, |v, verdict| {
        if matches!(verdict, Verdict::Failed(_)) {
            failed += 1;
        }
        bar.set_message(format!("{failed} failed · {}", v.id));
        bar.inc(1);
    })
    .await;
    bar.finish_and_clear();
    #[cfg(feature = "reference-server")]
    if let Some(r) = reference {
        r.stop().await;
    }
    if let Some(waited) = runner.fence_waited {
        eprintln!(
            "production profile: the restart fence refused requests for {:.0} s",
            waited.as_secs_f64()
        );
    }
    if !runner.rate_waited.is_zero() {
        eprintln!(
            "production profile: waited {:.0} s for the Authority's handshake rate (TSR-CONV-16)",
            runner.rate_waited.as_secs_f64()
        );
    }
    let mut report = Report::filtered(&url, &result, filter.as_deref(), &left_out);
    if profile == Profile::Production {
        report.profile = Some("production".into());
    }
    print!("{}", report.console());
    if let Some(p) = report_json {
        std::fs::write(&p, serde_json::to_string_pretty(&report).expect("json"))
            .map_err(|e| format!("{}: {e}", p.display()))?;
    }
    if let Some(p) = junit {
        std::fs::write(&p, report.junit()).map_err(|e| format!("{}: {e}", p.display()))?;
    }
    Ok(report.ok())
}

fn read_deviations(path: Option<PathBuf>) -> Result<Vec<Deviation>, String> {
    match path {
        Some(p) => serde_json::from_str(
            &std::fs::read_to_string(&p).map_err(|e| format!("{}: {e}", p.display()))?,
        )
        .map_err(|e| format!("{}: {e}", p.display())),
        None => Ok(vec![]),
    }
}

/// `run --profile consumer` (spec A.6).
#[cfg(feature = "reference-server")]
async fn run_consumer(args: RunArgs) -> Result<bool, String> {
    use tessera_conformance::consumer::{self, reference::ReferenceConsumer, run, scenario};
    let all = match &args.vectors {
        Some(dir) => scenario::load_dir(dir)?,
        None => scenario::embedded()?,
    };
    let (scenarios, left_out): (Vec<_>, Vec<_>) = match args.filter.as_deref() {
        Some(f) => all.into_iter().partition(|s| glob_match(f, &s.id)),
        None => (all, vec![]),
    };
    if scenarios.is_empty() {
        return Err(format!(
            "no scenario matches --filter {}",
            args.filter.as_deref().unwrap_or("")
        ));
    }
    let deviations = read_deviations(args.deviations)?;
    let mut reference = None;
    let url = match args.target {
        Some(t) => t,
        None => {
            let r = ReferenceConsumer::start().await?;
            let url = r.url();
            eprintln!("started the reference Consumer in test mode at {url}");
            reference = Some(r);
            url
        }
    };
    let suite = run::Suite::start(&url, deviations).await?;
    eprintln!(
        "the suite plays the honest Authority A at {} and the attacker's Authority M at {}",
        suite.honest.issuer, suite.attacker.issuer
    );
    let bar = if args.quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(scenarios.len() as u64)
    };
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut failed = 0;
    let result = run::run_all(&suite, &scenarios, |s, verdict| {
        if matches!(verdict, Verdict::Failed(_)) {
            failed += 1;
        }
        bar.set_message(format!("{failed} failed · {}", s.id));
        bar.inc(1);
    })
    .await;
    bar.finish_and_clear();
    suite.stop().await;
    if let Some(r) = reference {
        r.stop().await;
    }
    let left: Vec<vector::Vector> = left_out.iter().map(run::as_vector).collect();
    let mut report = Report::filtered(&url, &result, args.filter.as_deref(), &left);
    report.profile = Some("consumer".into());
    let verdicts: Vec<&Verdict> = result.runs.iter().map(|r| &r.verdict).collect();
    report.requirements = consumer::coverage(scenarios.iter().zip(verdicts), &left_out);
    print!("{}", report.console());
    if let Some(p) = args.report_json {
        std::fs::write(&p, serde_json::to_string_pretty(&report).expect("json"))
            .map_err(|e| format!("{}: {e}", p.display()))?;
    }
    if let Some(p) = args.junit {
        std::fs::write(&p, report.junit()).map_err(|e| format!("{}: {e}", p.display()))?;
    }
    Ok(report.ok())
}

#[cfg(not(feature = "reference-server"))]
async fn run_consumer(_: RunArgs) -> Result<bool, String> {
    Err("the Consumer profile needs the reference Authority (feature reference-server)".into())
}
