//! `tessera-model`: check the Tessera model, print counterexamples, explore it in a browser.

use clap::{Parser, Subcommand, ValueEnum};
use stateright::Model;
use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;
use tessera_model::check::{check_all, model_for};
use tessera_model::render;
use tessera_model::switches::{Capabilities, Switch, Variant};
use tessera_model::world::{property, Bounds, Expectation, PROPERTIES};

const ABOUT: &str = "The Tessera protocol as a stateright model, with a web attacker.

Every mitigation Tessera adds to the original proposal is a switch. `seed` is the proposal as
written (all switches off), `hardened` has every switch on, and `hardened-minus-<switch>` turns
one off. `check` explores every reachable state breadth-first and reports, per variant and
property, whether it holds, with the shortest counterexample drawn as a message sequence
diagram (columns: U's browser, E's browser, Consumer C, Authority A, attacker / M).";

fn variants_help() -> String {
    let mut s = String::from("Variants: seed, hardened");
    for w in Switch::ALL {
        s.push_str(&format!(", hardened-minus-{}", w.name()));
    }
    s.push_str(".\n\nSwitches:\n");
    for w in Switch::ALL {
        s.push_str(&format!("  {:<11} {}\n", w.name(), w.describe()));
    }
    s.push_str("\nProperties (short name, kind, full name, requirements):\n");
    for p in PROPERTIES {
        let kind = match p.expectation {
            Expectation::Always => "always",
            Expectation::Sometimes => "sometimes",
        };
        s.push_str(&format!(
            "  {:<18} {kind} \"{}\" ({})\n",
            tessera_model::world::short_name(p.name),
            p.name,
            p.requirements.join(", ")
        ));
    }
    s.push_str(
        "\nExamples:\n  tessera-model check --all --format markdown\n  \
         tessera-model check --variant seed\n  \
         tessera-model trace --variant hardened-minus-issuer --property \"session integrity\" --format mermaid\n  \
         tessera-model explore --variant seed localhost:3000\n",
    );
    s
}

#[derive(Parser, Debug)]
#[command(name = "tessera-model", about = ABOUT, after_help = variants_help())]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
enum Format {
    Text,
    Json,
    Markdown,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
enum TraceFormat {
    Text,
    Mermaid,
    Json,
}

#[derive(clap::Args, Debug, Clone, Copy)]
struct CapArgs {
    /// Attacker capability: URLs the honest browser visits leak to the attacker (Referer,
    /// history). Off by default: TSR-AUTHZ-4 and TSR-CONSUMER-9 stop Referer leaks.
    #[arg(long)]
    leaks: bool,
    /// Attacker capability off: no copies of the Consumer's requests to A (on by default:
    /// logs, TLS-terminating proxies).
    #[arg(long)]
    no_capture: bool,
    /// Bound: logins the Consumer starts (with A or M).
    #[arg(long, default_value_t = Bounds::default().logins)]
    logins: u8,
    /// Bound: sessions at A (handshakes plus refreshes).
    #[arg(long, default_value_t = Bounds::default().sessions)]
    sessions: u8,
    /// Bound: the clock stops at this tick.
    #[arg(long, default_value_t = Bounds::default().max_time)]
    max_time: u8,
    /// Bound: requests the attacker sends A itself (forged or replayed).
    #[arg(long, default_value_t = Bounds::default().attacker_requests)]
    attacker_requests: u8,
}

impl CapArgs {
    fn caps(self) -> Capabilities {
        Capabilities {
            leaks: self.leaks,
            capture: !self.no_capture,
        }
    }
    fn bounds(self) -> Bounds {
        Bounds {
            logins: self.logins,
            sessions: self.sessions,
            max_time: self.max_time,
            attacker_requests: self.attacker_requests,
            ..Bounds::default()
        }
    }
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Explore every reachable state (BFS) and report each property, with the shortest
    /// counterexample of each violated one.
    Check {
        /// The variant to check (default: hardened).
        #[arg(long, conflicts_with = "all")]
        variant: Option<String>,
        /// Check every variant: the attack matrix.
        #[arg(long)]
        all: bool,
        /// Variants checked in parallel (each variant's search is single-threaded).
        #[arg(long, default_value_t = 2)]
        threads: usize,
        /// text: verdicts and diagrams; json: one document; markdown: the attack matrix.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        #[command(flatten)]
        caps: CapArgs,
    },
    /// Print one counterexample (or witness) of one property in one variant.
    Trace {
        #[arg(long)]
        variant: String,
        /// The property's name (see --help of the main command), or its short column name.
        #[arg(long)]
        property: String,
        #[arg(long, value_enum, default_value_t = TraceFormat::Text)]
        format: TraceFormat,
        #[command(flatten)]
        caps: CapArgs,
    },
    /// Serve stateright's web explorer for a variant (blocks until interrupted).
    Explore {
        #[arg(long, default_value = "hardened")]
        variant: String,
        /// Address to listen on.
        #[arg(default_value = "localhost:3000")]
        addr: String,
        #[command(flatten)]
        caps: CapArgs,
    },
}

fn find_variant(name: &str) -> Result<Variant, String> {
    Variant::by_name(name).ok_or_else(|| format!("unknown variant {name:?}; see --help"))
}

fn progress(name: &str, states: usize, elapsed: Duration, depth: usize) {
    let rate = states as f64 / elapsed.as_secs_f64().max(1e-3);
    let mut e = std::io::stderr().lock();
    let _ = write!(
        e,
        "\r\x1b[2K{name}: {states} states, {rate:.0} states/s, depth {depth}"
    );
    let _ = e.flush();
}

fn run() -> Result<(), String> {
    let cli = Cli::parse();
    match cli.command {
        Command::Check {
            variant,
            all,
            threads,
            format,
            caps,
        } => {
            let variants = if all {
                Variant::all()
            } else {
                vec![find_variant(variant.as_deref().unwrap_or("hardened"))?]
            };
            let reports = check_all(
                &variants,
                caps.caps(),
                caps.bounds(),
                threads,
                Some(&progress),
            );
            eprintln!();
            let out = match format {
                Format::Text => render::text(&reports),
                Format::Markdown => render::markdown(&reports),
                Format::Json => {
                    serde_json::to_string_pretty(&render::json(&reports))
                        .map_err(|e| e.to_string())?
                        + "\n"
                }
            };
            print!("{out}");
            Ok(())
        }
        Command::Trace {
            variant,
            property: pname,
            format,
            caps,
        } => {
            let v = find_variant(&variant)?;
            let def = property(&pname)
                .or_else(|| {
                    PROPERTIES
                        .iter()
                        .find(|p| tessera_model::world::short_name(p.name) == pname)
                })
                .ok_or_else(|| format!("unknown property {pname:?}; see --help"))?;
            let reports = check_all(
                std::slice::from_ref(&v),
                caps.caps(),
                caps.bounds(),
                1,
                Some(&progress),
            );
            eprintln!();
            let r = &reports[0];
            let p = r
                .properties
                .iter()
                .find(|p| p.def.name == def.name)
                .expect("every property is reported");
            let Some(path) = &p.path else {
                return Err(format!(
                    "{}: \"{}\" has no counterexample or witness",
                    v.name, def.name
                ));
            };
            let out = match format {
                TraceFormat::Text => render::text_diagram(&r.model, path),
                TraceFormat::Mermaid => render::mermaid(&r.model, path),
                TraceFormat::Json => {
                    serde_json::to_string_pretty(&serde_json::json!({
                        "variant": v.name,
                        "property": def.name,
                        "requirements": def.requirements,
                        "expectation": def.expectation,
                        "holds": p.holds,
                        "steps": render::steps_json(&r.model, path),
                    }))
                    .map_err(|e| e.to_string())?
                        + "\n"
                }
            };
            print!("{out}");
            Ok(())
        }
        Command::Explore {
            variant,
            addr,
            caps,
        } => {
            let v = find_variant(&variant)?;
            let model = model_for(&v, caps.caps(), caps.bounds());
            eprintln!("explorer for {} on http://{addr}/ (Ctrl-C to stop)", v.name);
            // `serve` blocks for as long as the server runs.
            let _checker = model.checker().serve(addr.as_str());
            Ok(())
        }
    }
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tessera-model: {e}");
            ExitCode::from(2)
        }
    }
}
