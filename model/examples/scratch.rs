use tessera_model::check::{check, model_for};
use tessera_model::switches::*;
use tessera_model::world::*;
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let caps = Capabilities::parse(args.get(1).map(|s| s.as_str()).unwrap_or("capture")).unwrap();
    let names: Vec<String> = args[2..].to_vec();
    for n in names {
        let v = if let Some(rest) = n.strip_prefix("off:") {
            Variant::hardened_without(&rest.split(',').map(|w| Switch::by_name(w).unwrap()).collect::<Vec<_>>())
        } else { Variant::by_name(&n).unwrap() };
        let mut b = Bounds::default(); if let Ok(n) = std::env::var("SESSIONS") { b.sessions = n.parse().unwrap(); } let m = model_for(&v, caps, b);
        let r = check(&v.name, &m, Some(&|n: &str, st: usize, e: std::time::Duration, d: usize| eprintln!("{n} {st} {:?} depth {d}", e)));
        println!("{} [{}]: {} states {:?} depth {}", v.name, caps.names(), r.states, r.elapsed, r.max_depth);
        for p in &r.properties {
            if !p.holds || p.def.expectation == Expectation::Sometimes {
                println!("  {:>18} holds={} steps={:?}", short_name(p.def.name), p.holds, p.path.as_ref().map(|x| x.len()));
                if !p.holds && p.def.expectation == Expectation::Always {
                    for a in p.path.as_ref().unwrap() { println!("        {a}"); }
                }
            }
        }
    }
}
