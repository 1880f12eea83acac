//! `tessera-model`: check the Tessera model, print counterexamples and named attacks, run the
//! necessity analysis, explore it in a browser.

use clap::{Parser, Subcommand, ValueEnum};
use stateright::Model;
use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;
use tessera_model::attacks::{self, ATTACKS};
use tessera_model::check::{check_all, model_for};
use tessera_model::necessity;
use tessera_model::render;
use tessera_model::switches::{Capabilities, Capability, Switch, Variant, World};
use tessera_model::world::{property, Bounds, Expectation, PROPERTIES};

const ABOUT: &str = "The Tessera protocol as a stateright model, with a web attacker.

Every mitigation is a switch and every attacker power beyond the web attacker's basics is a
capability. `seed` is the proposal as written (every switch off), `v1` the protocol of spec
v1, `hardened` the protocol of spec v1.1, `hardened-minus-<switch>` turns one switch off and
`check --off a,b` any combination. `check` explores every reachable state breadth-first and
reports, per variant and property, whether it holds, with the shortest counterexample drawn as
a message sequence diagram (columns: U's browser, E's browser, Consumer C, Authority A,
attacker / M). `necessity` says, for every mitigation, under which capabilities it is needed.";

fn variants_help() -> String {
    let mut s = String::from("Variants: seed, v1, hardened");
    for w in Switch::ALL
        .iter()
        .filter(|w| Variant::hardened().switches.on(**w))
    {
        s.push_str(&format!(", hardened-minus-{}", w.name()));
    }
    s.push_str(".\n\nSwitches (login flow, then tickets):\n");
    for w in Switch::ALL {
        s.push_str(&format!("  {:<19} {}\n", w.name(), w.describe()));
    }
    s.push_str("\nCapabilities (--capabilities a,b | all | none; default: capture,theft):\n");
    for c in Capability::ALL {
        s.push_str(&format!("  {:<19} {}\n", c.name(), c.situation()));
    }
    s.push_str("\nProperties of the login flow (short name, kind, full name, requirements):\n");
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
         tessera-model check --variant v1 --capabilities capture,refusal\n  \
         tessera-model check --off state,burn --capabilities all\n  \
         tessera-model attack --list\n  \
         tessera-model attack v1-fixation-despite-burn --format mermaid\n  \
         tessera-model necessity --format json\n  \
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

#[derive(clap::Args, Debug, Clone)]
struct WorldArgs {
    /// Capabilities in force: a comma-separated list, `all` or `none` (see --help of the main
    /// command for what each stands for).
    #[arg(long, default_value = "capture,theft")]
    capabilities: String,
    /// Bound: logins the Consumer starts (with A or M), at most 8.
    #[arg(long, default_value_t = Bounds::default().logins)]
    logins: u8,
    /// Bound: sessions at A (handshakes plus refreshes), at most 16.
    #[arg(long, default_value_t = Bounds::default().sessions)]
    sessions: u8,
    /// Bound: the clock stops at this tick.
    #[arg(long, default_value_t = Bounds::default().max_time)]
    max_time: u8,
    /// Bound: requests the Consumer signs to A, at most 32.
    #[arg(long, default_value_t = Bounds::default().requests)]
    requests: u8,
    /// Bound: captured requests the attacker keeps, at most 32.
    #[arg(long, default_value_t = Bounds::default().captured)]
    captured: u8,
    /// Bound: requests the attacker sends A itself (forged or replayed), at most 32.
    #[arg(long, default_value_t = Bounds::default().attacker_requests)]
    attacker_requests: u8,
}

impl WorldArgs {
    fn caps(&self) -> Result<Capabilities, String> {
        Capabilities::parse(&self.capabilities)
    }
    fn bounds(&self) -> Result<Bounds, String> {
        let b = Bounds {
            logins: self.logins,
            sessions: self.sessions,
            max_time: self.max_time,
            requests: self.requests,
            captured: self.captured,
            attacker_requests: self.attacker_requests,
        };
        b.validate()?;
        Ok(b)
    }
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Explore every reachable state (BFS) and report each property, with the shortest
    /// counterexample of each violated one. Exits 1 when `hardened` violates a property.
    Check {
        /// The variant to check (default: hardened).
        #[arg(long, conflicts_with_all = ["all", "off"])]
        variant: Option<String>,
        /// Check every variant: the attack matrix.
        #[arg(long)]
        all: bool,
        /// `hardened` with these switches off (comma-separated).
        #[arg(long, value_delimiter = ',')]
        off: Vec<String>,
        /// Variants checked in parallel (each variant's search is single-threaded).
        #[arg(long, default_value_t = 2)]
        threads: usize,
        /// text: verdicts and diagrams; json: one document; markdown: the attack matrix.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// Exit 1 if any checked variant violates an `always` property (`hardened` is always
        /// expected to be safe).
        #[arg(long)]
        expect_safe: bool,
        #[command(flatten)]
        world: WorldArgs,
    },
    /// Print one counterexample (or witness) of one property in one variant.
    Trace {
        /// The variant (default: hardened, or hardened with --off).
        #[arg(long)]
        variant: Option<String>,
        /// `hardened` with these switches off (comma-separated).
        #[arg(long, value_delimiter = ',', conflicts_with = "variant")]
        off: Vec<String>,
        /// The property's name (see --help of the main command), or its short column name.
        #[arg(long)]
        property: String,
        #[arg(long, value_enum, default_value_t = TraceFormat::Text)]
        format: TraceFormat,
        #[command(flatten)]
        world: WorldArgs,
    },
    /// A named attack of spec chapter 9 (or a finding against v1), with its shortest trace.
    Attack {
        /// The attack's name (see --list).
        name: Option<String>,
        /// List the named attacks.
        #[arg(long)]
        list: bool,
        #[arg(long, value_enum, default_value_t = TraceFormat::Text)]
        format: TraceFormat,
    },
    /// For every mitigation: the weakest capabilities under which it is needed, the minimal
    /// groups of mitigations needed only together, and those no capability justifies.
    Necessity {
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// Searches run in parallel.
        #[arg(long, default_value_t = 2)]
        threads: usize,
    },
    /// Serve stateright's web explorer for a variant (blocks until interrupted).
    Explore {
        #[arg(long, default_value = "hardened")]
        variant: String,
        /// Address to listen on.
        #[arg(default_value = "localhost:3000")]
        addr: String,
        #[command(flatten)]
        world: WorldArgs,
    },
}

fn find_variant(name: &str) -> Result<Variant, String> {
    Variant::by_name(name).ok_or_else(|| format!("unknown variant {name:?}; see --help"))
}

fn off_variant(off: &[String]) -> Result<Variant, String> {
    let switches = off
        .iter()
        .map(|n| Switch::by_name(n).ok_or_else(|| format!("unknown switch {n:?}; see --help")))
        .collect::<Result<Vec<_>, _>>()?;
    if let Some(w) = switches.iter().find(|w| w.world() != World::Flow) {
        return Err(format!(
            "switch {:?} belongs to the ticket model; `check` runs the login flow (see `necessity` and `attack`)",
            w.name()
        ));
    }
    Ok(Variant::hardened_without(&switches))
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

fn footer(caps: Capabilities, bounds: Bounds) -> String {
    format!(
        "capabilities used: {}; bounds: {} logins, {} sessions at A, clock 0-{}, {} Consumer requests, {} attacker requests\n",
        caps.names(),
        bounds.logins,
        bounds.sessions,
        bounds.max_time,
        bounds.requests,
        bounds.attacker_requests
    )
}

/// `Ok(true)`: every variant declared safe held.
fn run() -> Result<bool, String> {
    let cli = Cli::parse();
    match cli.command {
        Command::Check {
            variant,
            all,
            off,
            threads,
            format,
            expect_safe,
            world,
        } => {
            let (caps, bounds) = (world.caps()?, world.bounds()?);
            let variants = if all {
                Variant::all()
            } else if !off.is_empty() {
                vec![off_variant(&off)?]
            } else {
                vec![find_variant(variant.as_deref().unwrap_or("hardened"))?]
            };
            let reports = check_all(&variants, caps, bounds, threads, Some(&progress));
            eprintln!();
            let out = match format {
                Format::Text => render::text(&reports) + &footer(caps, bounds),
                Format::Markdown => render::markdown(&reports),
                Format::Json => {
                    let mut doc = render::json(&reports);
                    doc["capabilities"] =
                        serde_json::json!(caps.list().iter().map(|c| c.name()).collect::<Vec<_>>());
                    serde_json::to_string_pretty(&doc).map_err(|e| e.to_string())? + "\n"
                }
            };
            print!("{out}");
            let broken: Vec<&str> = reports
                .iter()
                .filter(|r| (expect_safe || r.name == "hardened") && r.violated())
                .map(|r| r.name.as_str())
                .collect();
            if !broken.is_empty() {
                eprintln!(
                    "tessera-model: {} violate(s) a property under {}",
                    broken.join(", "),
                    caps.names()
                );
            }
            Ok(broken.is_empty())
        }
        Command::Trace {
            variant,
            off,
            property: pname,
            format,
            world,
        } => {
            let (caps, bounds) = (world.caps()?, world.bounds()?);
            let v = if off.is_empty() {
                find_variant(variant.as_deref().unwrap_or("hardened"))?
            } else {
                off_variant(&off)?
            };
            let def = property(&pname)
                .ok_or_else(|| format!("unknown property {pname:?}; see --help"))?;
            let reports = check_all(std::slice::from_ref(&v), caps, bounds, 1, Some(&progress));
            eprintln!();
            let r = &reports[0];
            let p = r
                .properties
                .iter()
                .find(|p| p.def.name == def.name)
                .expect("every property is reported");
            let Some(path) = &p.path else {
                return Err(format!(
                    "{}: \"{}\" has no counterexample or witness under {}",
                    v.name,
                    def.name,
                    caps.names()
                ));
            };
            let out = match format {
                TraceFormat::Text => {
                    render::text_diagram_marked(&r.model, path, Some(def)) + &footer(caps, bounds)
                }
                TraceFormat::Mermaid => render::mermaid(&r.model, path),
                TraceFormat::Json => {
                    serde_json::to_string_pretty(&serde_json::json!({
                        "variant": v.name,
                        "property": def.name,
                        "requirements": def.requirements,
                        "expectation": def.expectation,
                        "holds": p.holds,
                        "capabilities": caps.list().iter().map(|c| c.name()).collect::<Vec<_>>(),
                        "steps": render::steps_json(&r.model, path),
                    }))
                    .map_err(|e| e.to_string())?
                        + "\n"
                }
            };
            print!("{out}");
            Ok(true)
        }
        Command::Attack { name, list, format } => {
            if list || name.is_none() {
                for a in ATTACKS {
                    println!(
                        "{:<34} {:<32} [{}] spec {}: {}",
                        a.name,
                        a.variant,
                        attacks::capabilities(a).names(),
                        a.section,
                        a.description
                    );
                }
                return Ok(true);
            }
            let name = name.expect("checked");
            let a = attacks::by_name(&name)
                .ok_or_else(|| format!("unknown attack {name:?}; see `attack --list`"))?;
            print!(
                "{}",
                render::attack(
                    a,
                    format == TraceFormat::Mermaid,
                    format == TraceFormat::Json
                )?
            );
            Ok(true)
        }
        Command::Necessity { format, threads } => {
            let done = std::sync::atomic::AtomicUsize::new(0);
            let cb = |name: &str| {
                let n = done.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
                eprint!("\r\x1b[2Knecessity: {n} mitigations analysed (last: {name})");
            };
            let a = necessity::analyse(threads, Some(&cb));
            eprintln!();
            let out = match format {
                Format::Text => necessity::text(&a),
                Format::Markdown => necessity::markdown(&a),
                Format::Json => serde_json::to_string_pretty(&a).map_err(|e| e.to_string())? + "\n",
            };
            print!("{out}");
            Ok(a.hardened_holds)
        }
        Command::Explore {
            variant,
            addr,
            world,
        } => {
            let v = find_variant(&variant)?;
            let model = model_for(&v, world.caps()?, world.bounds()?);
            eprintln!("explorer for {} on http://{addr}/ (Ctrl-C to stop)", v.name);
            // `serve` blocks for as long as the server runs.
            let _checker = model.checker().serve(addr.as_str());
            Ok(true)
        }
    }
}

fn main() -> ExitCode {
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("tessera-model: {e}");
            ExitCode::from(2)
        }
    }
}
