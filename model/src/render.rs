//! Traces as message sequence diagrams (terminal text, Mermaid, JSON) and the attack matrix.

use crate::attacks::{self, Attack};
use crate::check::{replay, PropertyResult, VariantReport};
use crate::switches::Switch;
use crate::world::{
    Action, Auth, Browser, Callback, ConsumerOutcome, Effect, Exchange, Expectation, Flight,
    LoggedIn, Outcome, PropertyDef, RequestKind, Sender, State, Subject, Tessera, Url,
    ATTACKER_VERIFIER, M_CODE, M_SID, PROPERTIES, P_EXPIRY, P_INTEGRITY, P_MIXUP, P_RECOVERY,
    P_REDEEMED_TWICE, P_REPLAY, P_SECRECY,
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
fn who(l: &LoggedIn) -> String {
    match l.issuer {
        Some(i) => format!("({}, {})", aname(i), subj(l.subject)),
        None => format!("A_UID {}", subj(l.subject)),
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

fn url_text(u: Url) -> String {
    u.to_string()
}

fn callback_text(cb: &Callback) -> String {
    cb.to_string()
}

fn sid_text(s: u8) -> String {
    if s >= M_SID {
        format!("m{}", s - M_SID)
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
        parts.push(if c >= M_CODE {
            "code=M's".into()
        } else {
            format!("code=k{c}")
        });
    }
    if let Some(v) = ex.verifier {
        parts.push(if v >= ATTACKER_VERIFIER {
            "verifier=attacker's".into()
        } else {
            format!("verifier=v{v}")
        });
    }
    if let Some(c) = ex.challenge {
        parts.push(format!("challenge=S256(v{c})"));
    }
    if let Some(l) = ex.state {
        parts.push(format!("state=L{l}"));
    }
    if ex.secret_in_clear {
        parts.push("C_SECRET".into());
    } else if ex.kind == RequestKind::Api {
        parts.push("Hawk MAC with the ticket key".into());
    } else {
        parts.push("Hawk MAC".into());
    }
    if let Some(id) = ex.id {
        parts.push(format!("nonce #{id}"));
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

fn answer_text(ex: &Exchange) -> String {
    match (ex.outcome, ex.new_sid) {
        (Outcome::Ok, Some(n)) if ex.kind == RequestKind::Handshake => {
            format!("200 redirect ticket sid={}", sid_text(n))
        }
        (Outcome::Ok, Some(n)) => format!("200 sid={} + ticket", sid_text(n)),
        (Outcome::Ok, None) if ex.kind == RequestKind::Result => "200 result ticket".into(),
        (Outcome::Ok, None) if ex.kind == RequestKind::Api => "200 subject data".into(),
        (Outcome::Ok, None) => "200".into(),
        (Outcome::Unavailable, _) => "503 (refused outside the protocol)".into(),
        (o, _) => format!("4xx {}", o.code()),
    }
}

fn flight_text(f: &Flight, sw: crate::switches::Switches) -> String {
    let mut ex = crate::world::exchange_of(&f.req, Sender::Consumer, sw);
    ex.id = Some(f.id);
    request_text(&ex)
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
        Action::LoginStart {
            browser,
            authority,
            intended,
            ..
        } => {
            let b = party(browser);
            if !intended {
                v.push(msg(Party::M, b, "CSRF: a cross-site page starts a login"));
            }
            v.push(msg(
                b,
                Party::C,
                format!("click \"log in with {}\"", aname(authority)),
            ));
            if let Some(ex) = &eff.exchange {
                v.push(msg(Party::C, auth(authority), request_text(ex)));
                let at = eff.redirect;
                match authority {
                    Auth::A => v.push(msg(Party::A, Party::C, answer_text(ex))),
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
        Action::AuthorizeOpen {
            browser,
            request,
            allow,
        } => {
            let b = party(browser);
            if csrf(browser) {
                v.push(msg(
                    Party::M,
                    Party::U,
                    format!("CSRF: make U open A/authorize?request=r{request}"),
                ));
            }
            let what = if allow {
                format!("; {} logs in, allows", subj(browser.owner()))
            } else {
                "; looks, leaves".to_string()
            };
            v.push(msg(
                b,
                Party::A,
                format!("open authorize page r{request}{what}"),
            ));
            match (eff.redirect, eff.exchange.map(|e| e.outcome)) {
                (Some(Url::Callback(cb)), _) => {
                    v.push(msg(Party::A, b, format!("303 -> {}", callback_text(&cb))));
                }
                (None, Some(Outcome::Ok)) => v.push(msg(Party::A, b, "200 consent page")),
                _ => v.push(msg(Party::A, b, "400 error page")),
            }
        }
        Action::CallbackOpen { browser, url, .. } => {
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
                    v.push(msg(
                        Party::C,
                        b,
                        "refused: no pending login of this flow here",
                    ));
                }
                Some(ConsumerOutcome::LoginMismatch) => {
                    v.push(msg(Party::C, b, "refused: not this session's login"));
                }
                Some(ConsumerOutcome::IssuerMismatch) => {
                    v.push(msg(Party::C, b, "refused: iss is not the chosen Authority"));
                }
                Some(ConsumerOutcome::ResultSent) => {
                    if let Some(f) = &eff.sent {
                        v.push(msg(
                            Party::C,
                            Party::A,
                            format!("{} (in flight)", flight_text(f, model.switches)),
                        ));
                    }
                }
                _ => {
                    if let Some(ex) = &eff.exchange {
                        v.push(msg(Party::C, Party::M, request_text(ex)));
                        if let Some(l) = after.browsers[browser as usize].logged_in.as_ref() {
                            v.push(msg(
                                Party::M,
                                Party::C,
                                format!("result: sub={} (M's claim)", subj(l.subject)),
                            ));
                            v.push(msg(Party::C, b, format!("logged in as {}", who(l))));
                        }
                    }
                }
            }
        }
        Action::AuthorityDelivers { id, instance } => {
            if let Some(ex) = &eff.exchange {
                let f = before.inflight.iter().find(|f| f.id == id);
                let b = f.map_or(Party::C, |f| party(f.browser));
                v.push(msg(
                    Party::A,
                    Party::A,
                    format!("instance #{instance} takes request #{id}"),
                ));
                v.push(msg(Party::A, Party::C, answer_text(ex)));
                match eff.consumer {
                    Some(ConsumerOutcome::LoggedIn) => {
                        if let Some(l) =
                            f.and_then(|f| after.browsers[f.browser as usize].logged_in.as_ref())
                        {
                            v.push(msg(Party::C, b, format!("logged in as {}", who(l))));
                        }
                    }
                    Some(ConsumerOutcome::LoginFailed) => v.push(msg(Party::C, b, "login failed")),
                    Some(ConsumerOutcome::LoggedOut) => v.push(msg(Party::C, b, "logged out")),
                    _ => {}
                }
            }
        }
        Action::AuthorityRefuses { id } => {
            let b = before
                .inflight
                .iter()
                .find(|f| f.id == id)
                .map_or(Party::C, |f| party(f.browser));
            v.push(msg(
                Party::A,
                Party::C,
                format!("503 request #{id} refused outside the protocol"),
            ));
            if eff.consumer == Some(ConsumerOutcome::LoginFailed) {
                v.push(msg(Party::C, b, "login failed"));
            }
        }
        Action::ConsumerRefreshes { .. } => {
            if let Some(f) = &eff.sent {
                v.push(msg(
                    Party::C,
                    Party::A,
                    format!("{} (in flight)", flight_text(f, model.switches)),
                ));
            }
        }
        Action::ConsumerRevokes { .. } | Action::ConsumerCallsApi { .. } => {
            if let Some(ex) = &eff.exchange {
                v.push(msg(Party::C, Party::A, request_text(ex)));
                v.push(msg(Party::A, Party::C, answer_text(ex)));
            }
        }
        Action::ClockTicks => v.push(msg(
            Party::M,
            Party::M,
            format!("time passes: now = {}", after.now),
        )),
        Action::ReplayStoreRestarts => v.push(msg(
            Party::A,
            Party::A,
            "the replay store restarts and forgets its nonces",
        )),
        Action::AttackerSteals => v.push(msg(
            Party::M,
            Party::M,
            "theft: the attacker takes U's session and C's key",
        )),
        Action::AttackerForges { .. } | Action::AttackerReplays { .. } => {
            if let Some(ex) = &eff.exchange {
                let what = if matches!(action, Action::AttackerReplays { .. }) {
                    format!("replay at #{}: ", ex.instance)
                } else {
                    "forged: ".to_string()
                };
                v.push(msg(
                    Party::M,
                    Party::A,
                    format!("{what}{}", request_text(ex)),
                ));
                v.push(msg(Party::A, Party::M, answer_text(ex)));
            }
        }
    }
    // What the attacker learned in this step.
    let k0 = &before.know;
    let k1 = &after.know;
    let mut learned = Vec::new();
    if k1.key && !k0.key {
        learned.push("the Consumer's key".to_string());
    }
    if k1.loot && !k0.loot {
        learned.push("a ticket/data of u".to_string());
    }
    for (name, a, b) in [
        ("sid s", k0.sids, k1.sids),
        ("code k", k0.codes, k1.codes),
        ("request r", k0.requests, k1.requests),
        ("state L", k0.flows, k1.flows),
        ("verifier v", k0.verifiers, k1.verifiers),
    ] {
        for i in 0..16u8 {
            if b & (1 << i) != 0 && a & (1 << i) == 0 {
                learned.push(format!("{name}{i}"));
            }
        }
    }
    if after.captured.len() > before.captured.len() {
        learned.push("a replayable copy".to_string());
    }
    if !learned.is_empty() {
        if let Some(how) = eff.learnt {
            v.push(msg(Party::M, Party::M, format!("attacker: {how}")));
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
                action: a.to_string(),
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

/// Why a state violates a property, in words.
pub fn why(def: &PropertyDef, st: &State) -> String {
    let li = |b: Browser| st.browsers[b as usize].logged_in.as_ref();
    match def.name {
        P_INTEGRITY => {
            for b in [Browser::E, Browser::U] {
                if let Some(l) = li(b) {
                    let vouch = if l.vouched_by == Auth::A { "A's" } else { "M's" };
                    let bad = match (b, l.vouched_by) {
                        (Browser::E, Auth::A) => l.subject == Subject::U,
                        (Browser::U, Auth::A) => l.subject != Subject::U,
                        (Browser::U, Auth::M) => {
                            !(l.chose == Auth::M && l.intended && l.flow_by == Browser::U && !l.spent)
                        }
                        _ => false,
                    };
                    if bad {
                        let intent = if !l.intended {
                            ", in a login U never meant to start"
                        } else if l.spent {
                            ", through a login that had already completed"
                        } else {
                            ""
                        };
                        return format!("{b:?}'s browser is logged in as {} on {vouch} word{intent}", who(l));
                    }
                }
            }
            "a browser is logged in as someone else".into()
        }
        P_MIXUP => "the Consumer recorded an identity under an issuer that did not vouch for it".into(),
        P_SECRECY => {
            if st.know.loot {
                "the attacker received a ticket or data of u".into()
            } else {
                "the attacker holds C's key and the sid of a live session of u".into()
            }
        }
        P_REPLAY => "A processed a request with a nonce it had processed before".into(),
        P_REDEEMED_TWICE => "a session of u was redeemed by a second result request".into(),
        P_EXPIRY => "A accepted the attacker's request on u's session after its expiry".into(),
        P_RECOVERY => "A accepted the attacker's refresh in a family the honest Consumer had refreshed since the theft".into(),
        _ => "the property's condition is false".into(),
    }
}

/// The terminal sequence diagram of a path.
pub fn text_diagram(model: &Tessera, path: &[Action]) -> String {
    text_diagram_marked(model, path, None)
}

/// The terminal sequence diagram of a path; with `property`, the step where it first breaks
/// (an `always`) or is witnessed (a `sometimes`) is marked, with the reason.
pub fn text_diagram_marked(
    model: &Tessera,
    path: &[Action],
    property: Option<&PropertyDef>,
) -> String {
    let states = replay(model, path);
    let mark = property.and_then(|def| {
        let hit = |st: &State| {
            let c = (def.condition)(model, st);
            match def.expectation {
                Expectation::Always => !c,
                Expectation::Sometimes => c,
            }
        };
        states.iter().position(hit).map(|i| (i, def))
    });
    let width = LEFT + W * Party::ALL.len() + 2;
    let mut out = String::new();
    let mut head = " ".repeat(LEFT);
    for p in Party::ALL {
        head.push_str(&format!("{:^W$}", p.title()));
    }
    out.push_str(head.trim_end());
    out.push('\n');
    for st in steps(model, path) {
        if let Some((i, def)) = mark {
            if i == st.step - 1 && i > 0 {
                out.push_str(&mark_line(def, &states[i]));
            }
        }
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
    if let Some((i, def)) = mark {
        if i == path.len() {
            out.push_str(&mark_line(def, &states[i]));
        }
    }
    out
}

fn mark_line(def: &PropertyDef, st: &State) -> String {
    match def.expectation {
        Expectation::Always => format!(
            "  ==> here \"{}\" breaks: {}\n",
            crate::world::short_name(def.name),
            why(def, st)
        ),
        Expectation::Sometimes => format!(
            "  ==> here \"{}\" is witnessed\n",
            crate::world::short_name(def.name)
        ),
    }
}

/// A named attack, rendered: the trace (a sequence diagram for the login flow, numbered steps
/// for the ticket model), the property it breaks, and the capabilities it used.
pub fn attack(a: &Attack, mermaid_format: bool, json_format: bool) -> Result<String, String> {
    let caps = attacks::capabilities(a);
    let off: Vec<&str> = attacks::weakened(a).iter().map(|w| w.name()).collect();
    let head = format!(
        "attack {} (spec {}): {}\nvariant {} (switches off relative to hardened: {}), capabilities: {}\nbreaks: {}\n\n",
        a.name,
        a.section,
        a.description,
        a.variant,
        if off.is_empty() { "none".to_string() } else { off.join(", ") },
        caps.names(),
        a.violates
    );
    match a.target {
        attacks::Target::Flow(goal) => {
            let m = attacks::model_of(a);
            let path = crate::check::shortest(&m, &[goal])
                .pop()
                .flatten()
                .ok_or_else(|| format!("attack {} not found within the bounds", a.name))?;
            if json_format {
                return serde_json::to_string_pretty(&json!({
                    "attack": a.name, "variant": a.variant, "capabilities": caps.list().iter().map(|c| c.name()).collect::<Vec<_>>(),
                    "violates": a.violates, "steps": steps_json(&m, &path),
                })).map(|s| s + "\n").map_err(|e| e.to_string());
            }
            if mermaid_format {
                return Ok(mermaid(&m, &path));
            }
            let def = crate::world::PROPERTIES
                .iter()
                .find(|p| p.name == a.violates);
            Ok(head
                + &text_diagram_marked(&m, &path, def)
                + &format!("\ncapabilities used: {}\n", caps.names()))
        }
        attacks::Target::Tickets(_) => {
            let trace = attacks::find(a)
                .ok_or_else(|| format!("attack {} not found within the bounds", a.name))?;
            if json_format {
                return serde_json::to_string_pretty(&json!({
                    "attack": a.name, "variant": a.variant, "capabilities": caps.list().iter().map(|c| c.name()).collect::<Vec<_>>(),
                    "violates": a.violates, "steps": trace,
                })).map(|s| s + "\n").map_err(|e| e.to_string());
            }
            if mermaid_format {
                let mut out = String::from("sequenceDiagram\n    participant A as Authority A\n");
                for t in &trace {
                    out.push_str(&format!("    Note over A: {}\n", t.replace(';', ",")));
                }
                return Ok(out);
            }
            let mut out = head;
            for (i, t) in trace.iter().enumerate() {
                out.push_str(&format!("{:>3}. {t}\n", i + 1));
            }
            out.push_str(&format!(
                "  ==> here \"{}\" breaks\n\ncapabilities used: {}\n",
                a.violates,
                caps.names()
            ));
            Ok(out)
        }
    }
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

/// The verdict on a property, for the terminal (no markup).
pub fn cell_plain(r: &PropertyResult) -> String {
    cell(r).replace("**", "")
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
        let states = if r.complete {
            r.states.to_string()
        } else {
            format!("{}+", r.states)
        };
        out.push_str(&format!("| `{}` | {states} |", r.name));
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
        "\nCells give the length of the shortest counterexample (BFS order); `N+` states: the search \
         stopped once every property was decided, after N states. \
         Attacker: the web attacker with request capture and session theft (`--capabilities capture,theft`); bounds: the defaults \
         (2 logins, 2 sessions at A, clock 0-2, 6 Consumer requests, 2 attacker requests). \
         `v1` is spec v1, `hardened` spec v1.1. \
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
                "complete": r.complete,
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
            "== {}: {}{} states, {} transitions, depth {}, {:.2} s\n",
            r.name,
            r.states,
            if r.complete {
                ""
            } else {
                "+ (stopped once every property was decided)"
            },
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
                cell_plain(p),
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
                out.push_str(&text_diagram_marked(&r.model, path, Some(p.def)));
            }
        }
        out.push('\n');
    }
    out
}
