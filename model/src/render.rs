//! Traces as message sequence diagrams (terminal text, Mermaid, JSON) and the attack matrix.

use crate::check::{replay, PropertyResult, VariantReport};
use crate::switches::Switch;
use crate::world::{
    Action, Auth, Browser, Callback, ConsumerOutcome, Effect, Exchange, Expectation, Outcome,
    RequestKind, Sender, State, Subject, Tessera, Token, Url, PROPERTIES,
};
use serde::Serialize;
use serde_json::{json, Value};

/// The columns of a sequence diagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Party {
    U,
    E,
    C,
    A,
    M,
}

impl Party {
    const ALL: [Party; 5] = [Party::U, Party::E, Party::C, Party::A, Party::M];
    fn title(self) -> &'static str {
        match self {
            Party::U => "U's browser",
            Party::E => "E's browser",
            Party::C => "Consumer C",
            Party::A => "Authority A",
            Party::M => "attacker / M",
        }
    }
    fn id(self) -> &'static str {
        match self {
            Party::U => "U",
            Party::E => "E",
            Party::C => "C",
            Party::A => "A",
            Party::M => "M",
        }
    }
    fn col(self) -> usize {
        self as usize
    }
}

fn party(b: Browser) -> Party {
    match b {
        Browser::U => Party::U,
        Browser::E => Party::E,
    }
}
fn auth(a: Auth) -> Party {
    match a {
        Auth::A => Party::A,
        Auth::M => Party::M,
    }
}
fn subj(s: Subject) -> &'static str {
    match s {
        Subject::U => "u",
        Subject::E => "e",
    }
}
fn aname(a: Auth) -> &'static str {
    match a {
        Auth::A => "A",
        Auth::M => "M",
    }
}

/// One arrow (or a note, when `from == to`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Message {
    pub from: Party,
    pub to: Party,
    pub label: String,
}

fn msg(from: Party, to: Party, label: impl Into<String>) -> Message {
    Message {
        from,
        to,
        label: label.into(),
    }
}

/// A short label for an action (stateright's explorer shows it).
pub fn action_label(a: &Action) -> String {
    match *a {
        Action::Login {
            browser,
            authority,
            m_url,
        } => match authority {
            Auth::A => format!("{browser:?} logs in with A"),
            Auth::M => format!("{browser:?} logs in with M (M answers {})", url_text(m_url)),
        },
        Action::Authorize { browser, request } => {
            format!("{browser:?} opens A's authorize page r{request} and allows")
        }
        Action::Callback {
            browser,
            url,
            m_claim,
        } => {
            format!(
                "{browser:?} opens {} (M would claim {})",
                callback_text(&url),
                subj(m_claim)
            )
        }
        Action::Refresh { browser } => format!("C refreshes {browser:?}'s session"),
        Action::Revoke { browser } => format!("C revokes {browser:?}'s session"),
        Action::Api { browser } => format!("C calls the data API for {browser:?}"),
        Action::Tick => "time passes".into(),
        Action::Forge { req } => format!("attacker sends A {req:?} with the stolen key"),
        Action::Replay { index } => format!("attacker replays captured request #{index} at A"),
    }
}

fn url_text(u: Url) -> String {
    match u {
        Url::Authorize(r) => format!("A/authorize?r{r}"),
        Url::MPage => "M/authorize".into(),
        Url::Callback(cb) => callback_text(&cb),
    }
}

fn callback_text(cb: &Callback) -> String {
    let mut parts = Vec::new();
    if let Some(l) = cb.login {
        parts.push(format!("login=L{l}"));
    }
    parts.push(match cb.token {
        Token::Code(c) if c >= 100 => "code=m".to_string(),
        Token::Code(c) => format!("code=k{c}"),
        Token::Sid(s) if s >= 100 => format!("sid=m{}", s - 100),
        Token::Sid(s) => format!("sid=s{s}"),
    });
    if let Some(i) = cb.iss {
        parts.push(format!("iss={}", aname(i)));
    }
    format!("C/callback?{}", parts.join("&"))
}

fn sid_text(s: u8) -> String {
    if s >= 100 {
        format!("m{}", s - 100)
    } else {
        format!("s{s}")
    }
}

fn request_text(ex: &Exchange) -> String {
    let mut parts = Vec::new();
    if let Some(s) = ex.sid {
        if ex.kind == RequestKind::Api && !ex.secret_in_clear {
            // Signed with the key of the ticket issued from session s.
            parts.push(format!("ticket=t{s}"));
        } else {
            parts.push(format!("sid={}", sid_text(s)));
        }
    }
    if let Some(c) = ex.code {
        parts.push(if c >= 100 {
            "code=m".into()
        } else {
            format!("code=k{c}")
        });
    }
    if let Some(v) = ex.verifier {
        parts.push(if v >= 200 {
            "verifier=x".into()
        } else {
            format!("verifier=v{v}")
        });
    }
    if let Some(c) = ex.challenge {
        parts.push(format!("challenge=S256(v{c})"));
    }
    if ex.secret_in_clear {
        parts.push("C_SECRET".into());
    } else if ex.kind == RequestKind::Api {
        parts.push("Hawk MAC with the ticket key".into());
    } else {
        parts.push("Hawk MAC".into());
    }
    let kind = match ex.kind {
        RequestKind::Handshake => "handshake",
        RequestKind::Authorize => "authorize",
        RequestKind::Result => "result",
        RequestKind::Refresh => "refresh",
        RequestKind::Revoke => "revoke",
        RequestKind::Api => "data API",
    };
    format!("{kind} {{{}}}", parts.join(", "))
}

/// The messages of one step.
pub fn messages(
    model: &Tessera,
    before: &State,
    action: &Action,
    eff: &Effect,
    after: &State,
) -> Vec<Message> {
    let mut v = Vec::new();
    let csrf = |b: Browser| b == Browser::U && !eff.followed;
    match *action {
        Action::Login {
            browser, authority, ..
        } => {
            let b = party(browser);
            v.push(msg(
                b,
                Party::C,
                format!("click \"log in with {}\"", aname(authority)),
            ));
            if let Some(ex) = &eff.exchange {
                v.push(msg(Party::C, auth(authority), request_text(ex)));
                let at = eff.redirect;
                match authority {
                    Auth::A => v.push(msg(
                        Party::A,
                        Party::C,
                        format!("redirect ticket sid={}", sid_text(ex.new_sid.unwrap_or(0))),
                    )),
                    Auth::M => v.push(msg(
                        Party::M,
                        Party::C,
                        format!(
                            "redirect ticket (attacker's), url={}",
                            at.map(url_text).unwrap_or_default()
                        ),
                    )),
                }
                if let Some(u) = at {
                    let shown = match u {
                        Url::Authorize(r) if !model.switches.on(Switch::SidHidden) => {
                            format!("A/authorize?A_SID=s{r}")
                        }
                        other => url_text(other),
                    };
                    v.push(msg(Party::C, b, format!("303 -> {shown}")));
                }
            }
        }
        Action::Authorize { browser, request } => {
            let b = party(browser);
            if csrf(browser) {
                v.push(msg(
                    Party::M,
                    Party::U,
                    format!("CSRF: make U open A/authorize?r{request}"),
                ));
            }
            v.push(msg(
                b,
                Party::A,
                format!(
                    "open authorize page r{request}; {} logs in, allows",
                    subj(browser.owner())
                ),
            ));
            match eff.redirect {
                Some(Url::Callback(cb)) => {
                    v.push(msg(Party::A, b, format!("303 -> {}", callback_text(&cb))));
                }
                _ => v.push(msg(Party::A, b, "400 error page")),
            }
        }
        Action::Callback { browser, url, .. } => {
            let b = party(browser);
            if csrf(browser) {
                v.push(msg(
                    Party::M,
                    Party::U,
                    format!("CSRF: make U open {}", callback_text(&url)),
                ));
            }
            v.push(msg(b, Party::C, callback_text(&url)));
            match eff.consumer {
                Some(ConsumerOutcome::NoPendingLogin) => {
                    v.push(msg(Party::C, b, "refused: no pending login here"));
                }
                Some(ConsumerOutcome::LoginMismatch) => {
                    v.push(msg(Party::C, b, "refused: not this session's login"));
                }
                Some(ConsumerOutcome::IssuerMismatch) => {
                    v.push(msg(Party::C, b, "refused: iss is not the chosen Authority"));
                }
                _ => {
                    if let Some(ex) = &eff.exchange {
                        let to = auth(ex.authority);
                        v.push(msg(Party::C, to, request_text(ex)));
                        let li = after.browsers[browser as usize].logged_in.as_ref();
                        match (ex.outcome, li) {
                            (Outcome::AttackerChosen, Some(l)) => {
                                v.push(msg(
                                    Party::M,
                                    Party::C,
                                    format!("result: sub={} (M's claim)", subj(l.subject)),
                                ));
                            }
                            (Outcome::Ok, Some(l)) => {
                                v.push(msg(
                                    Party::A,
                                    Party::C,
                                    format!("200 result: sub={} + ticket", subj(l.subject)),
                                ));
                            }
                            (o, _) => v.push(msg(to, Party::C, format!("400 {}", o.code()))),
                        }
                        if let Some(l) =
                            li.filter(|_| eff.consumer == Some(ConsumerOutcome::LoggedIn))
                        {
                            let who = match l.issuer {
                                Some(i) => format!("({}, {})", aname(i), subj(l.subject)),
                                None => format!("A_UID {}", subj(l.subject)),
                            };
                            v.push(msg(Party::C, b, format!("logged in as {who}")));
                        } else {
                            v.push(msg(Party::C, b, "login failed"));
                        }
                    }
                }
            }
        }
        Action::Refresh { .. } | Action::Revoke { .. } | Action::Api { .. } => {
            if let Some(ex) = &eff.exchange {
                v.push(msg(Party::C, Party::A, request_text(ex)));
                let ans = match (ex.outcome, ex.new_sid) {
                    (Outcome::Ok, Some(n)) => format!("200 new sid={}", sid_text(n)),
                    (Outcome::Ok, None) => "200".into(),
                    (o, _) => format!("4xx {}", o.code()),
                };
                v.push(msg(Party::A, Party::C, ans));
            }
        }
        Action::Tick => v.push(msg(
            Party::M,
            Party::M,
            format!("time passes: now = {}", after.now),
        )),
        Action::Forge { .. } | Action::Replay { .. } => {
            if let Some(ex) = &eff.exchange {
                let what = if matches!(action, Action::Replay { .. }) {
                    "replay: "
                } else {
                    "forged: "
                };
                v.push(msg(
                    Party::M,
                    Party::A,
                    format!("{what}{}", request_text(ex)),
                ));
                let ans = match (ex.outcome, ex.new_sid) {
                    (Outcome::Ok, Some(n)) if ex.kind == RequestKind::Handshake => {
                        format!("200 redirect ticket sid={}", sid_text(n))
                    }
                    (Outcome::Ok, Some(n)) => format!("200 sid={} + ticket", sid_text(n)),
                    (Outcome::Ok, None) => "200 (ticket / data)".into(),
                    (o, _) => format!("4xx {}", o.code()),
                };
                v.push(msg(Party::A, Party::M, ans));
            }
        }
    }
    // What the attacker learned in this step.
    let k0 = &before.know;
    let k1 = &after.know;
    let mut learned = Vec::new();
    if k1.key && !k0.key {
        learned.push("the Consumer's secret".to_string());
    }
    if k1.loot && !k0.loot {
        learned.push("a ticket/data of u".to_string());
    }
    for (name, a, b) in [
        ("sid", k0.sids, k1.sids),
        ("code", k0.codes, k1.codes),
        ("request", k0.requests, k1.requests),
        ("login", k0.logins, k1.logins),
    ] {
        for i in 0..8 {
            if b & (1 << i) != 0 && a & (1 << i) == 0 {
                learned.push(format!(
                    "{name} {}",
                    match name {
                        "sid" => format!("s{i}"),
                        "code" => format!("k{i}"),
                        "request" => format!("r{i}"),
                        _ => format!("L{i}"),
                    }
                ));
            }
        }
    }
    let captured = model.caps.capture
        && eff
            .exchange
            .is_some_and(|e| e.sender == Sender::Consumer && e.authority == Auth::A);
    if after.captured.len() > before.captured.len() {
        learned.push("a replayable copy".to_string());
    }
    if !learned.is_empty() {
        if captured {
            v.push(msg(
                Party::M,
                Party::M,
                "attacker captures a copy of this request",
            ));
        }
        v.push(msg(
            Party::M,
            Party::M,
            format!("attacker learns {}", learned.join(", ")),
        ));
    }
    v
}

/// A rendered step.
#[derive(Clone, Debug, Serialize)]
pub struct Step {
    pub step: usize,
    pub action: String,
    pub exchange: Option<Exchange>,
    pub consumer: Option<ConsumerOutcome>,
    pub messages: Vec<Message>,
}

/// The steps of a path.
pub fn steps(model: &Tessera, path: &[Action]) -> Vec<Step> {
    let states = replay(model, path);
    path.iter()
        .enumerate()
        .map(|(i, a)| {
            let (after, eff) = model.step(&states[i], a).expect("path replays");
            Step {
                step: i + 1,
                action: action_label(a),
                exchange: eff.exchange,
                consumer: eff.consumer,
                messages: messages(model, &states[i], a, &eff, &after),
            }
        })
        .collect()
}

const W: usize = 24;
const LEFT: usize = 5;

fn center(p: Party) -> usize {
    LEFT + W / 2 + p.col() * W
}

fn lifelines(width: usize) -> Vec<char> {
    let mut line = vec![' '; width];
    for p in Party::ALL {
        line[center(p)] = '|';
    }
    line
}

/// The terminal sequence diagram of a path.
pub fn text_diagram(model: &Tessera, path: &[Action]) -> String {
    let width = LEFT + W * Party::ALL.len() + 2;
    let mut out = String::new();
    let mut head = " ".repeat(LEFT);
    for p in Party::ALL {
        head.push_str(&format!("{:^W$}", p.title()));
    }
    out.push_str(head.trim_end());
    out.push('\n');
    for st in steps(model, path) {
        let mut first = true;
        for m in &st.messages {
            let mut line = lifelines(width);
            let prefix = if first {
                format!("{:>3}.", st.step)
            } else {
                String::new()
            };
            for (i, ch) in prefix.chars().enumerate() {
                line[i] = ch;
            }
            first = false;
            if m.from == m.to {
                let text = format!("[{}]", m.label);
                let start = center(m.from)
                    .saturating_sub(text.chars().count())
                    .max(LEFT);
                let start = if m.from == Party::M {
                    start
                } else {
                    center(m.from) + 2
                };
                let mut chars: Vec<char> = line.clone();
                chars.truncate(start);
                let s: String = chars.into_iter().collect::<String>() + &text;
                out.push_str(s.trim_end());
                out.push('\n');
                continue;
            }
            let (a, b) = (center(m.from), center(m.to));
            let (lo, hi) = (a.min(b), a.max(b));
            let label = format!(" {} ", m.label);
            let span = hi - lo - 1;
            let fits = label.chars().count() + 4 <= span;
            for c in line.iter_mut().take(hi).skip(lo + 1) {
                *c = '-';
            }
            if a < b {
                line[hi - 1] = '>';
            } else {
                line[lo + 1] = '<';
            }
            if fits {
                let start = lo + 1 + (span - label.chars().count()) / 2;
                for (i, ch) in label.chars().enumerate() {
                    line[start + i] = ch;
                }
                out.push_str(line.iter().collect::<String>().trim_end());
                out.push('\n');
            } else {
                // The label on its own line above the arrow, starting at the arrow's left end.
                let mut lab = lifelines(width);
                for (i, ch) in prefix.chars().enumerate() {
                    lab[i] = ch;
                    line[i] = ' ';
                }
                let start = lo + 2;
                let mut s: String = lab[..start].iter().collect();
                s.push_str(&m.label);
                let used = start + m.label.chars().count();
                if used < width {
                    let rest: String = lab[used..].iter().collect();
                    // Keep lifelines to the right of the label visible.
                    let rest: String = rest
                        .chars()
                        .enumerate()
                        .map(|(i, c)| if i == 0 { ' ' } else { c })
                        .collect();
                    s.push_str(&rest);
                }
                out.push_str(s.trim_end());
                out.push('\n');
                out.push_str(line.iter().collect::<String>().trim_end());
                out.push('\n');
            }
        }
    }
    out
}

/// The Mermaid sequence diagram of a path.
pub fn mermaid(model: &Tessera, path: &[Action]) -> String {
    let mut out = String::from("sequenceDiagram\n");
    for p in Party::ALL {
        out.push_str(&format!("    participant {} as {}\n", p.id(), p.title()));
    }
    for st in steps(model, path) {
        out.push_str(&format!("    Note over U,M: step {}\n", st.step));
        for m in &st.messages {
            let label = m.label.replace(';', ",").replace('#', "no. ");
            if m.from == m.to {
                out.push_str(&format!("    Note over {}: {}\n", m.from.id(), label));
            } else {
                out.push_str(&format!("    {}->>{}: {}\n", m.from.id(), m.to.id(), label));
            }
        }
    }
    out
}

/// The JSON form of a path.
pub fn steps_json(model: &Tessera, path: &[Action]) -> Value {
    serde_json::to_value(steps(model, path)).expect("steps serialise")
}

fn short(name: &str) -> &'static str {
    PROPERTIES
        .iter()
        .find(|p| p.name == name)
        .map(|p| crate::world::short_name(p.name))
        .unwrap_or("?")
}

/// The verdict on a property, for tables.
pub fn cell(r: &PropertyResult) -> String {
    match (r.def.expectation, r.holds, &r.path) {
        (Expectation::Always, true, _) => "holds".into(),
        (Expectation::Always, false, Some(p)) => format!("**violated** ({} steps)", p.len()),
        (Expectation::Sometimes, true, Some(p)) => format!("found ({} steps)", p.len()),
        (Expectation::Sometimes, false, _) => "**not found**".into(),
        _ => "?".into(),
    }
}

/// The attack matrix: variants x properties (markdown).
pub fn markdown(reports: &[VariantReport]) -> String {
    let mut out = String::new();
    let always: Vec<_> = PROPERTIES
        .iter()
        .filter(|p| p.expectation == Expectation::Always)
        .collect();
    out.push_str("| variant | states |");
    for p in &always {
        out.push_str(&format!(" {} |", short(p.name)));
    }
    out.push_str(" witnesses |\n|---|---:|");
    for _ in &always {
        out.push_str("---|");
    }
    out.push_str("---|\n");
    for r in reports {
        out.push_str(&format!("| `{}` | {} |", r.name, r.states));
        for p in r
            .properties
            .iter()
            .filter(|p| p.def.expectation == Expectation::Always)
        {
            out.push_str(&format!(" {} |", cell(p)));
        }
        let w: Vec<_> = r
            .properties
            .iter()
            .filter(|p| p.def.expectation == Expectation::Sometimes)
            .collect();
        let found = w.iter().filter(|p| p.holds).count();
        out.push_str(&format!(" {}/{} |\n", found, w.len()));
    }
    out.push('\n');
    out.push_str(
        "Properties (each `always`, paired with a `sometimes` witness so it is not vacuous):\n\n",
    );
    for p in &always {
        out.push_str(&format!(
            "- **{}**: {} ({}); witness: {}.\n",
            short(p.name),
            p.name,
            p.requirements.join(", "),
            p.witness.unwrap_or("-")
        ));
    }
    out.push_str(
        "\nCells give the length of the shortest counterexample (BFS order). \
         Attacker: web attacker with request capture, no URL leaks; bounds: 2 logins, 2 sessions at A, clock 0-2. \
         Regenerate with `cargo run -p tessera-model -- check --all --format markdown`.\n",
    );
    out
}

/// The JSON document of `check --format json`.
pub fn json(reports: &[VariantReport]) -> Value {
    let variants: Vec<Value> = reports
        .iter()
        .map(|r| {
            let props: Vec<Value> = r
                .properties
                .iter()
                .map(|p| {
                    let mut o = json!({
                        "name": p.def.name,
                        "requirements": p.def.requirements,
                        "expectation": p.def.expectation,
                        "holds": p.holds,
                    });
                    if let Some(path) = &p.path {
                        let key = match p.def.expectation {
                            Expectation::Always => "counterexample",
                            Expectation::Sometimes => "example",
                        };
                        o[key] = steps_json(&r.model, path);
                    }
                    o
                })
                .collect();
            json!({
                "name": r.name,
                "states": r.states,
                "transitions": r.transitions,
                "max_depth": r.max_depth,
                "seconds": r.elapsed.as_secs_f64(),
                "properties": props,
            })
        })
        .collect();
    json!({ "variants": variants })
}

/// The terminal report of `check --format text`.
pub fn text(reports: &[VariantReport]) -> String {
    let mut out = String::new();
    for r in reports {
        out.push_str(&format!(
            "== {}: {} states, {} transitions, depth {}, {:.2} s\n",
            r.name,
            r.states,
            r.transitions,
            r.max_depth,
            r.elapsed.as_secs_f64()
        ));
        for p in &r.properties {
            let kind = match p.def.expectation {
                Expectation::Always => "always",
                Expectation::Sometimes => "sometimes",
            };
            out.push_str(&format!(
                "  [{}] {} {} ({})\n",
                cell(p),
                kind,
                p.def.name,
                p.def.requirements.join(", ")
            ));
        }
        for p in &r.properties {
            if let (Expectation::Always, false, Some(path)) = (p.def.expectation, p.holds, &p.path)
            {
                out.push_str(&format!(
                    "\n  counterexample to \"{}\" ({} steps):\n\n",
                    p.def.name,
                    path.len()
                ));
                out.push_str(&text_diagram(&r.model, path));
            }
        }
        out.push('\n');
    }
    out
}
