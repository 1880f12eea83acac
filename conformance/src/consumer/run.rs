//! Runs Consumer-profile scenarios (spec A.6) against a Consumer in test mode.

use super::attacker::Attacker;
use super::browser::{login_form, request_error, Browser, Page, NO_ANSWER};
use super::honest::{Honest, GRANTS, SCOPES};
use super::scenario::{BrowserName, Form, ResetExpect, Scenario, StartExpect, Step, Who};
use super::BackChannel;
use crate::runner::{Deviation, Failure, Ran, RunResult, Verdict};
use crate::symbols::{random_token, Scope};
use crate::vector::{Origin, Vector, FORMAT as VECTOR_FORMAT};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// The `consumer_id` the Consumer under test has at both Authorities.
pub const CONSUMER_ID: &str = "consumer-under-test";

/// What `GET /tessera-test/consumer` says (TSR-CONF-8).
#[derive(Debug, Clone)]
pub struct ConsumerInfo {
    pub redirect_uri: String,
    pub login_url: String,
}

/// The parties the suite plays, and the Consumer under test.
#[derive(Debug)]
pub struct Suite {
    /// The Consumer's base URL.
    pub base: String,
    origin: String,
    pub info: ConsumerInfo,
    pub honest: Honest,
    pub attacker: Attacker,
    attacker_task: tokio::task::JoinHandle<()>,
    log: BackChannel,
    http: reqwest::Client,
    pub deviations: Vec<Deviation>,
}

/// Why a step failed.
#[derive(Debug, Default)]
struct Fail {
    message: String,
    request: Option<String>,
    expected: Option<String>,
    actual: Option<String>,
    extra: Vec<&'static str>,
}

impl Fail {
    fn msg(m: impl Into<String>) -> Self {
        Fail {
            message: m.into(),
            ..Fail::default()
        }
    }

    fn citing(mut self, r: &'static str) -> Self {
        self.extra.push(r);
        self
    }
}

impl From<String> for Fail {
    fn from(s: String) -> Self {
        Fail::msg(s)
    }
}

struct Login {
    who: Who,
    authorize_url: String,
}

struct Callback {
    url: String,
    code: Option<String>,
}

struct Ctx<'a> {
    suite: &'a Suite,
    scope: Scope,
    victim: Browser,
    attacker: Browser,
    logins: BTreeMap<String, Login>,
    callbacks: BTreeMap<String, Callback>,
}

impl Suite {
    /// Reads the Consumer's test-mode description and starts `A` (with the Consumer registered
    /// for its redirect URI) and `M`.
    pub async fn start(base: &str, deviations: Vec<Deviation>) -> Result<Suite, String> {
        let base = base.trim_end_matches('/').to_string();
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| format!("HTTP client: {e}"))?;
        let url = format!("{base}/tessera-test/consumer");
        let r = http
            .get(&url)
            .send()
            .await
            .map_err(|e| format!("GET {url}: {e}"))?;
        let status = r.status().as_u16();
        let text = r.text().await.unwrap_or_default();
        let j: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        let (Some(redirect_uri), Some(login_url)) =
            (j["redirect_uri"].as_str(), j["login_url"].as_str())
        else {
            return Err(format!(
                "GET {url} answered {status} {text:.200}\n(is the Consumer in test mode? see spec A.6.1, TSR-CONF-8)"
            ));
        };
        let info = ConsumerInfo {
            redirect_uri: redirect_uri.into(),
            login_url: login_url.into(),
        };
        let origin = url::Url::parse(&base)
            .map_err(|e| format!("{base}: {e}"))?
            .origin()
            .ascii_serialization();
        let log = BackChannel::default();
        let honest = Honest::start(CONSUMER_ID, &info.redirect_uri, log.clone()).await?;
        let (attacker, attacker_task) = Attacker::start(CONSUMER_ID, log.clone()).await?;
        Ok(Suite {
            base,
            origin,
            info,
            honest,
            attacker,
            attacker_task,
            log,
            http,
            deviations,
        })
    }

    pub async fn stop(self) {
        self.attacker_task.abort();
        self.honest.stop().await;
    }

    fn issuer(&self, who: Who) -> &str {
        match who {
            Who::A => &self.honest.issuer,
            Who::M => &self.attacker.issuer,
        }
    }

    fn registration(&self, who: Who) -> Value {
        let key = match who {
            Who::A => &self.honest.key,
            Who::M => &self.attacker.key,
        };
        let issuer = match who {
            Who::A => self.honest.issuer.clone(),
            Who::M => self.attacker.configured_issuer(),
        };
        json!({
            "issuer": issuer,
            "consumer_id": CONSUMER_ID,
            "key": key,
            "grants": GRANTS,
            "scopes": SCOPES,
        })
    }

    /// Runs one scenario to its verdict.
    pub async fn run(&self, s: &Scenario) -> Verdict {
        self.attacker.reset(s.attacker.clone());
        let mut ctx = Ctx {
            suite: self,
            scope: Scope::new(&self.honest.issuer, 0),
            victim: Browser::new(self.http.clone()),
            attacker: Browser::new(self.http.clone()),
            logins: BTreeMap::new(),
            callbacks: BTreeMap::new(),
        };
        let implicit = !matches!(s.steps.first(), Some(Step::Reset { .. }));
        if implicit {
            let reset = Step::Reset {
                authorities: vec![Who::A, Who::M],
                expect: ResetExpect::Ok,
                back_channel: None,
            };
            if let Err(e) = ctx.step(&reset).await {
                return self.verdict(s, 0, e);
            }
        }
        for (i, step) in s.steps.iter().enumerate() {
            if let Err(e) = ctx.step(step).await {
                return self.verdict(s, i + 1, e);
            }
        }
        Verdict::Passed
    }

    fn verdict(&self, s: &Scenario, step: usize, e: Fail) -> Verdict {
        let mut requirements = s.requirements.clone();
        for r in e.extra {
            if !requirements.iter().any(|x| x == r) {
                requirements.push(r.to_string());
            }
        }
        let failure = Failure {
            vector: s.id.clone(),
            title: s.title.clone(),
            step,
            requirements,
            message: e.message,
            request: e.request,
            expected: e.expected,
            actual: e.actual,
        };
        crate::runner::judge(&self.deviations, failure)
    }

    /// spec A.6.3: what every response of the Consumer must satisfy. `code`: the response
    /// answers a callback that carried this code.
    fn check_page(&self, page: &Page, callback_code: Option<Option<&str>>) -> Result<(), Fail> {
        for c in page.set_cookies() {
            let attrs: Vec<String> = c
                .split(';')
                .skip(1)
                .map(|a| a.trim().to_ascii_lowercase().replace(' ', ""))
                .collect();
            let http_only = attrs.iter().any(|a| a == "httponly");
            let same_site = attrs
                .iter()
                .any(|a| a == "samesite=lax" || a == "samesite=strict");
            if !(http_only && same_site) {
                return Err(Fail {
                    message: format!(
                        "a session cookie without HttpOnly and SameSite=Lax (or Strict): {c}"
                    ),
                    actual: Some(page.summary()),
                    ..Fail::default()
                }
                .citing("TSR-CONSUMER-2"));
            }
        }
        let location = page.header("location").unwrap_or("");
        for sid in self.honest.sids().iter().chain(self.attacker.sids().iter()) {
            if page.body.contains(sid.as_str()) || location.contains(sid.as_str()) {
                return Err(Fail {
                    message: "a sid an Authority issued reached the browser".into(),
                    actual: Some(page.summary()),
                    ..Fail::default()
                }
                .citing("TSR-CONSUMER-2"));
            }
        }
        if let Some(code) = callback_code {
            let rp = page.header("referrer-policy").unwrap_or("");
            if !rp
                .split(',')
                .any(|p| p.trim().eq_ignore_ascii_case("no-referrer"))
            {
                return Err(Fail {
                    message: "the callback's answer has no Referrer-Policy: no-referrer".into(),
                    actual: Some(page.summary()),
                    ..Fail::default()
                }
                .citing("TSR-CONSUMER-9"));
            }
            if let Some(url) = third_party_resource(&page.body, &self.origin) {
                return Err(Fail {
                    message: format!("the callback's answer loads a third-party resource: {url}"),
                    actual: Some(page.summary()),
                    ..Fail::default()
                }
                .citing("TSR-CONSUMER-9"));
            }
            if let Some(code) = code.filter(|c| !c.is_empty()) {
                if location.contains(code) || page.body.contains(code) {
                    return Err(Fail {
                        message: "the callback's answer carries the code on".into(),
                        actual: Some(page.summary()),
                        ..Fail::default()
                    }
                    .citing("TSR-CONSUMER-9"));
                }
            }
        }
        Ok(())
    }
}

/// The first `src` or `href` of `html` that points to another origin than `origin` (spec
/// TSR-CONSUMER-9: no third-party resources in the callback's answer).
fn third_party_resource(html: &str, origin: &str) -> Option<String> {
    let lower = html.to_ascii_lowercase();
    for attr in ["src=", "href="] {
        let mut from = 0;
        while let Some(p) = lower[from..].find(attr) {
            let start = from + p + attr.len();
            from = start;
            let value: String = html[start..]
                .trim_start_matches(['"', '\''])
                .chars()
                .take_while(|c| !matches!(c, '"' | '\'' | ' ' | '>'))
                .collect();
            let absolute = value.starts_with("//") || value.contains("://");
            if absolute && !value.starts_with(&format!("{origin}/")) && value != origin {
                return Some(value);
            }
        }
    }
    None
}

/// The back-channel requests of one step against what it allows: `"any"`, or an array of
/// `"A /v1/…"` entries, in order, and no other.
/// `refresh-overlapped`: how long the first refresh may take to reach `M`, and how long a
/// second one is waited for before `M` lets the first answer go. The second refresh must
/// reach the Consumer's single flight before that: if it came after the first had finished,
/// it would rightly refresh the new `sid` and be counted as a second request, so the wait is
/// generous for a loaded machine.
const OVERLAP_WAIT: Duration = Duration::from_secs(5);
const OVERLAP_SETTLE: Duration = Duration::from_secs(2);

/// Polls `done` every 5 ms until it holds (`true`) or `limit` has passed (`false`).
async fn wait_until(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let start = tokio::time::Instant::now();
    loop {
        if done() {
            return true;
        }
        if start.elapsed() >= limit {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn check_back_channel(
    got: &[String],
    expected: Option<&Value>,
    default: Option<Vec<String>>,
) -> Result<(), Fail> {
    let want: Vec<String> = match expected {
        Some(Value::String(s)) if s == "any" => return Ok(()),
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|v| v.as_str().map(String::from))
            .collect(),
        Some(other) => return Err(Fail::msg(format!("bad back_channel {other}"))),
        None => match default {
            Some(d) => d,
            None => return Ok(()),
        },
    };
    if got == want.as_slice() {
        return Ok(());
    }
    Err(Fail {
        message: if want.is_empty() {
            "the Consumer made back-channel requests where it must make none".into()
        } else {
            "the Consumer's back-channel requests are not the expected ones".into()
        },
        expected: Some(format!("back channel: {want:?}")),
        actual: Some(format!("back channel: {got:?}")),
        ..Fail::default()
    })
}

impl Ctx<'_> {
    fn browser(&mut self, b: BrowserName) -> &mut Browser {
        match b {
            BrowserName::Victim => &mut self.victim,
            BrowserName::Attacker => &mut self.attacker,
        }
    }

    async fn step(&mut self, step: &Step) -> Result<(), Fail> {
        let suite = self.suite;
        match step {
            Step::Reset {
                authorities,
                expect,
                back_channel,
            } => {
                let body = json!({
                    "authorities": authorities.iter().map(|w| suite.registration(*w)).collect::<Vec<_>>()
                });
                let url = format!("{}/tessera-test/reset", suite.base);
                let mark = suite.log.len();
                let r = suite
                    .http
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(body.to_string())
                    .send()
                    .await
                    .map_err(|e| request_error(&reqwest::Method::POST, &url, &e))?;
                let status = r.status().as_u16();
                let text = r.text().await.unwrap_or_default();
                let error = serde_json::from_str::<Value>(&text)
                    .ok()
                    .and_then(|j| j["error"].as_str().map(String::from));
                self.victim.cookies.clear();
                self.attacker.cookies.clear();
                let sent = Some(format!(
                    "POST /tessera-test/reset with {}",
                    authorities
                        .iter()
                        .map(|w| w.name())
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
                match (expect, status) {
                    (ResetExpect::Ok, 200) => {}
                    (ResetExpect::Refused, 400) if error.is_some() => {}
                    (ResetExpect::Ok, _) => {
                        return Err(Fail {
                            message: "the Consumer did not accept the suite's Authorities".into(),
                            request: sent,
                            expected: Some("200".into()),
                            actual: Some(format!("{status} {text:.400}")),
                            ..Fail::default()
                        }
                        .citing("TSR-CONF-9"))
                    }
                    (ResetExpect::Refused, _) => {
                        return Err(Fail {
                            message:
                                "the Consumer accepted an Authority whose metadata it must refuse"
                                    .into(),
                            request: sent,
                            expected: Some("400 {\"error\": …}".into()),
                            actual: Some(format!("{status} {text:.400}")),
                            ..Fail::default()
                        })
                    }
                }
                check_back_channel(&suite.log.since(mark), back_channel.as_ref(), None)
            }
            Step::Start {
                browser,
                authority,
                form,
                expect,
                name,
                back_channel,
            } => {
                let issuer = suite.issuer(*authority).to_string();
                let mut page_url = url::Url::parse(&suite.info.login_url)
                    .map_err(|e| format!("login_url {}: {e}", suite.info.login_url))?;
                page_url.query_pairs_mut().append_pair("authority", &issuer);
                let page_url = page_url.to_string();
                let mark = suite.log.len();
                let page = self.browser(*browser).get(&page_url).await?;
                suite.check_page(&page, None)?;
                // started: a redirect to the Authority, or to any other origin than the
                // Consumer's own (an authorize URL the Consumer should not have trusted)
                let started = |p: &Page| {
                    matches!(p.status, 302 | 303)
                        && p.header("location").is_some_and(|l| {
                            l.starts_with(&format!("{issuer}/"))
                                || url::Url::parse(l)
                                    .is_ok_and(|u| u.origin().ascii_serialization() != suite.origin)
                        })
                };
                let mut sent = format!("GET {page_url}");
                let answer = if *form == Form::GetOnly {
                    page
                } else {
                    if page.status != 200 {
                        return Err(Fail {
                            message: "the login-start page did not answer 200".into(),
                            request: Some(sent),
                            actual: Some(page.summary()),
                            ..Fail::default()
                        }
                        .citing("TSR-CONF-11"));
                    }
                    let f = login_form(&page.body, &page_url).map_err(|e| {
                        Fail {
                            message: e,
                            request: Some(sent.clone()),
                            actual: Some(page.summary()),
                            ..Fail::default()
                        }
                        .citing("TSR-CONF-11")
                    })?;
                    let fields = match form {
                        Form::NoCsrf => f
                            .fields
                            .iter()
                            .map(|(k, v)| {
                                let keep = v == &issuer;
                                (k.clone(), if keep { v.clone() } else { String::new() })
                            })
                            .collect(),
                        Form::TokenOfOtherBrowser => {
                            let other = self.browser(browser.other()).get(&page_url).await?;
                            suite.check_page(&other, None)?;
                            login_form(&other.body, &page_url)?.fields
                        }
                        _ => f.fields.clone(),
                    };
                    let with_cookies = *form != Form::NoCookie;
                    let shown: Vec<String> =
                        fields.iter().map(|(k, v)| format!("{k}={v}")).collect();
                    sent.push_str(&format!(
                        "\nPOST {} ({}) {}",
                        f.action,
                        if with_cookies {
                            "with the browser's cookies"
                        } else {
                            "without cookies"
                        },
                        shown.join("&")
                    ));
                    let origin = suite.origin.clone();
                    let r = self
                        .browser(*browser)
                        .submit(&f.action, &fields, &origin, with_cookies)
                        .await?;
                    suite.check_page(&r, None)?;
                    r
                };
                let got = suite.log.since(mark);
                let ok = started(&answer);
                match expect {
                    StartExpect::Started if !ok => {
                        return Err(Fail {
                            message: format!("the login with {} did not start", authority.name()),
                            request: Some(sent),
                            expected: Some(format!("302 or 303 to {issuer}/…")),
                            actual: Some(format!("{}\nback channel: {got:?}", answer.summary())),
                            ..Fail::default()
                        })
                    }
                    StartExpect::Refused if ok => {
                        return Err(Fail {
                            message: "the Consumer started a login it must refuse to start".into(),
                            request: Some(sent),
                            expected: Some("no redirect to the Authority, no handshake".into()),
                            actual: Some(format!("{}\nback channel: {got:?}", answer.summary())),
                            ..Fail::default()
                        })
                    }
                    _ => {}
                }
                if let (StartExpect::Started, Some(n)) = (expect, name) {
                    self.logins.insert(
                        n.clone(),
                        Login {
                            who: *authority,
                            authorize_url: answer.header("location").unwrap_or("").to_string(),
                        },
                    );
                }
                let default = (*expect == StartExpect::Refused).then(Vec::new);
                check_back_channel(&got, back_channel.as_ref(), default).map_err(|mut e| {
                    e.request = Some(sent.clone());
                    e
                })
            }
            Step::Authorize {
                login,
                username,
                decision,
                sub,
                name,
            } => {
                let l = self
                    .logins
                    .get(login)
                    .ok_or_else(|| format!("no login named {login}"))?;
                let (url, code) = match l.who {
                    Who::A => {
                        let body = json!({
                            "authorize_url": l.authorize_url,
                            "username": username,
                            "decision": decision,
                        });
                        let u = format!("{}/conformance/authorize", suite.honest.issuer);
                        let r = suite
                            .http
                            .post(&u)
                            .header("content-type", "application/json")
                            .body(body.to_string())
                            .send()
                            .await
                            .map_err(|e| request_error(&reqwest::Method::POST, &u, &e))?;
                        let status = r.status().as_u16();
                        let j: Value = serde_json::from_str(&r.text().await.unwrap_or_default())
                            .unwrap_or(Value::Null);
                        let redirect = j["redirect"].as_str().ok_or_else(|| {
                            format!("POST /conformance/authorize at A answered {status} {j}")
                        })?;
                        let code = url::Url::parse(redirect).ok().and_then(|u| {
                            u.query_pairs()
                                .find(|(k, _)| k == "code")
                                .map(|(_, v)| v.into_owned())
                        });
                        (redirect.to_string(), code)
                    }
                    Who::M => {
                        let sub = match sub {
                            Some(v) => Some(
                                self.scope
                                    .value(v)?
                                    .as_str()
                                    .ok_or_else(|| Fail::msg("sub is not a string"))?
                                    .to_string(),
                            ),
                            None => None,
                        };
                        suite
                            .attacker
                            .authorize(&l.authorize_url, decision == "allow", sub)?
                    }
                };
                self.callbacks.insert(name.clone(), Callback { url, code });
                Ok(())
            }
            Step::Callback {
                browser,
                of,
                change,
                back_channel,
            } => {
                let cb = self
                    .callbacks
                    .get(of)
                    .ok_or_else(|| format!("no callback named {of}"))?;
                let url = changed(&cb.url, change, suite)?;
                let code = cb.code.clone();
                let mark = suite.log.len();
                let page = self.browser(*browser).get(&url).await?;
                let sent = format!("GET {url} in the {browser} browser");
                suite
                    .check_page(&page, Some(code.as_deref()))
                    .map_err(|mut e| {
                        e.request = Some(sent.clone());
                        e
                    })?;
                check_back_channel(&suite.log.since(mark), back_channel.as_ref(), None).map_err(
                    |mut e| {
                        e.request = Some(sent.clone());
                        e.actual = Some(format!(
                            "{}\n{}",
                            e.actual.unwrap_or_default(),
                            page.summary()
                        ));
                        e
                    },
                )
            }
            Step::PlantCookie { from, to } => {
                let cookies = self.browser(*from).cookies.clone();
                self.browser(*to).cookies = cookies;
                Ok(())
            }
            Step::Observe {
                browser,
                logged_in,
                bind,
            } => {
                let url = format!("{}/tessera-test/session", suite.base);
                let page = self.browser(*browser).get(&url).await?;
                self.session_answer(
                    &page,
                    *browser,
                    logged_in,
                    bind,
                    "GET /tessera-test/session",
                    "TSR-CONF-10",
                )
            }
            Step::Refresh {
                browser,
                concurrent,
                logged_in,
                back_channel,
            } => {
                let url = format!("{}/tessera-test/refresh", suite.base);
                let mark = suite.log.len();
                let answers_from = suite.honest.refresh_answers().len();
                let page = self
                    .browser(*browser)
                    .post_json(&url, &json!({ "concurrent": concurrent }))
                    .await?;
                let sent = format!(
                    "POST /tessera-test/refresh {{\"concurrent\": {concurrent}}} in the {browser} browser"
                );
                let answered = suite.honest.refresh_answers()[answers_from..].to_vec();
                let explain = |mut e: Fail| {
                    e.request = Some(sent.clone());
                    e.actual = Some(format!(
                        "{}\nA answered the Consumer's refreshes: {answered:?}",
                        e.actual.take().unwrap_or_default()
                    ));
                    e
                };
                suite.check_page(&page, None).map_err(explain)?;
                check_back_channel(&suite.log.since(mark), back_channel.as_ref(), None)
                    .map_err(explain)?;
                self.session_answer(
                    &page,
                    *browser,
                    logged_in,
                    &BTreeMap::new(),
                    "POST /tessera-test/refresh",
                    "TSR-CONF-13",
                )
                .map_err(explain)
            }
            Step::RefreshOverlapped {
                browser,
                other,
                logged_in,
                other_logged_in,
                back_channel,
            } => {
                let url = format!("{}/tessera-test/refresh", suite.base);
                let mark = suite.log.len();
                let refreshes_at_m = |log: &BackChannel| {
                    log.since(mark)
                        .iter()
                        .filter(|e| e.as_str() == "M /v1/refresh")
                        .count()
                };
                let in_background = |b: &Browser| {
                    let (mut b, url) = (b.clone(), url.clone());
                    tokio::spawn(async move { b.post_json(&url, &json!({})).await })
                };
                let sent = format!(
                    "POST /tessera-test/refresh {{}} in the {browser} browser (its refresh at M held), in the {other} browser, and again in the {browser} browser; then M answered the first"
                );
                let explain = |mut e: Fail| {
                    e.request = Some(sent.clone());
                    e
                };
                let first = in_background(self.browser(*browser));
                // the first refresh is at M (and held) before the others start
                if !wait_until(OVERLAP_WAIT, || refreshes_at_m(&suite.log) >= 1).await {
                    first.abort();
                    suite.attacker.release_refresh();
                    return Err(explain(Fail {
                        message: format!(
                            "the {browser} browser's refresh made no refresh request to M within {} s",
                            OVERLAP_WAIT.as_secs()
                        ),
                        actual: Some(format!("back channel: {:?}", suite.log.since(mark))),
                        ..Fail::default()
                    }));
                }
                let between = self.browser(*other).post_json(&url, &json!({})).await;
                let second = in_background(self.browser(*browser));
                // a Consumer that shares the held request makes no second one; one that does
                // not makes it now
                wait_until(OVERLAP_SETTLE, || refreshes_at_m(&suite.log) >= 2).await;
                suite.attacker.release_refresh();
                let joined = |r: Result<Result<Page, String>, tokio::task::JoinError>| {
                    r.map_err(|e| format!("a background refresh: {e}"))?
                };
                let first = joined(first.await)?;
                let second = joined(second.await)?;
                let between = between?;
                for page in [&first, &between, &second] {
                    suite.check_page(page, None).map_err(explain)?;
                }
                check_back_channel(&suite.log.since(mark), back_channel.as_ref(), None)
                    .map_err(explain)?;
                for (page, b, want) in [
                    (&first, *browser, logged_in),
                    (&between, *other, other_logged_in),
                    (&second, *browser, logged_in),
                ] {
                    self.session_answer(
                        page,
                        b,
                        want,
                        &BTreeMap::new(),
                        "POST /tessera-test/refresh",
                        "TSR-CONF-13",
                    )
                    .map_err(explain)?;
                }
                Ok(())
            }
            Step::SubjectData {
                browser,
                data,
                logged_in,
                back_channel,
            } => {
                let page = self
                    .hook(*browser, "subject", back_channel.as_ref())
                    .await?;
                self.session_answer(
                    &page,
                    *browser,
                    logged_in,
                    &BTreeMap::new(),
                    "POST /tessera-test/subject",
                    "TSR-CONF-14",
                )?;
                let j: Value = serde_json::from_str(&page.body).unwrap_or_default();
                let got = j.get("data").ok_or_else(|| {
                    Fail {
                        message: "POST /tessera-test/subject answered without data".into(),
                        actual: Some(page.summary()),
                        ..Fail::default()
                    }
                    .citing("TSR-CONF-14")
                })?;
                self.scope.matches(data, got).map_err(|e| Fail {
                    message: format!("the Subject data the Consumer would use is not right ({e})"),
                    request: Some(format!(
                        "POST /tessera-test/subject in the {browser} browser"
                    )),
                    expected: Some(format!("data: {data}")),
                    actual: Some(j.to_string()),
                    ..Fail::default()
                })
            }
            Step::Logout {
                browser,
                logged_in,
                back_channel,
            } => {
                let page = self.hook(*browser, "logout", back_channel.as_ref()).await?;
                self.session_answer(
                    &page,
                    *browser,
                    logged_in,
                    &BTreeMap::new(),
                    "POST /tessera-test/logout",
                    "TSR-CONF-15",
                )
            }
            Step::RefreshElsewhere => Ok(suite.honest.act_on_last_sid("/v1/refresh").await?),
            Step::RevokeAtAuthority => Ok(suite.honest.act_on_last_sid("/v1/revoke").await?),
        }
    }

    /// `POST /tessera-test/{name}` `{}` in `browser`; the answer checked as every response
    /// (A.6.3) and the back-channel requests it caused against `back_channel`.
    async fn hook(
        &mut self,
        browser: BrowserName,
        name: &str,
        back_channel: Option<&Value>,
    ) -> Result<Page, Fail> {
        let suite = self.suite;
        let url = format!("{}/tessera-test/{name}", suite.base);
        let mark = suite.log.len();
        let page = self.browser(browser).post_json(&url, &json!({})).await?;
        let sent = format!("POST /tessera-test/{name} {{}} in the {browser} browser");
        let explain = |mut e: Fail| {
            e.request = Some(sent.clone());
            e
        };
        suite.check_page(&page, None).map_err(explain)?;
        check_back_channel(&suite.log.since(mark), back_channel, None).map_err(explain)?;
        Ok(page)
    }

    /// Checks an answer shaped as `GET /tessera-test/session`'s (TSR-CONF-10) against
    /// `logged_in`, and binds `bind`; `hook` names the request, `requirement` the test-mode
    /// requirement a malformed answer breaks.
    fn session_answer(
        &mut self,
        page: &Page,
        browser: BrowserName,
        logged_in: &Value,
        bind: &BTreeMap<String, String>,
        hook: &str,
        requirement: &'static str,
    ) -> Result<(), Fail> {
        let suite = self.suite;
        let j: Value = serde_json::from_str(&page.body).map_err(|_| {
            Fail {
                message: format!("{hook} did not answer JSON"),
                actual: Some(page.summary()),
                ..Fail::default()
            }
            .citing(requirement)
        })?;
        if page.status != 200 || j.get("logged_in").is_none() {
            return Err(Fail {
                message: format!("{hook} did not answer 200 {{logged_in, error}}"),
                actual: Some(page.summary()),
                ..Fail::default()
            }
            .citing(requirement));
        }
        let mut want = logged_in.clone();
        if let Some(w) = want.get_mut("issuer") {
            match w.as_str() {
                Some("A") => *w = json!(suite.honest.issuer),
                Some("M") => *w = json!(suite.attacker.issuer),
                _ => {}
            }
        }
        let who = |v: &Value| match v["issuer"].as_str() {
            Some(i) if i == suite.honest.issuer => format!("A's {}", v["sub"]),
            Some(i) if i == suite.attacker.issuer => format!("M's {}", v["sub"]),
            _ => v.to_string(),
        };
        self.scope
            .matches(&want, &j["logged_in"])
            .map_err(|e| Fail {
                message: format!(
                    "the {browser} browser is logged in as {} ({e})",
                    if j["logged_in"].is_null() {
                        "nobody".to_string()
                    } else {
                        who(&j["logged_in"])
                    }
                ),
                request: Some(format!("{hook} in the {browser} browser")),
                expected: Some(format!("logged_in: {logged_in}")),
                actual: Some(j.to_string()),
                ..Fail::default()
            })?;
        for (name, pointer) in bind {
            let v = j
                .pointer(pointer)
                .cloned()
                .ok_or_else(|| format!("the session has nothing at {pointer} to bind"))?;
            self.scope.bound.insert(name.clone(), v);
        }
        Ok(())
    }
}

/// The callback URL `url` with the parameters of `change` replaced (`null`: left out; `"A"`,
/// `"M"`: that Authority's issuer; `"random"`: a fresh value; anything else: itself).
fn changed(url: &str, change: &BTreeMap<String, Value>, suite: &Suite) -> Result<String, String> {
    if change.is_empty() {
        return Ok(url.to_string());
    }
    let mut u = url::Url::parse(url).map_err(|e| format!("callback {url}: {e}"))?;
    let mut pairs: Vec<(String, String)> = u
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    for (k, v) in change {
        pairs.retain(|(name, _)| name != k);
        let value = match v {
            Value::Null => continue,
            Value::String(s) if s == "A" => suite.honest.issuer.clone(),
            Value::String(s) if s == "M" => suite.attacker.issuer.clone(),
            Value::String(s) if s == "random" => random_token()[..22].to_string(),
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        pairs.push((k.clone(), value));
    }
    u.query_pairs_mut().clear().extend_pairs(pairs.iter());
    Ok(u.to_string())
}

/// The report's view of a scenario (id, title, requirements; the report reads nothing else).
pub fn as_vector(s: &Scenario) -> Vector {
    Vector {
        format: VECTOR_FORMAT.into(),
        id: s.id.clone(),
        title: s.title.clone(),
        requirements: s.requirements.clone(),
        origin: Origin::Requirement,
        features: vec![],
        steps: vec![],
    }
}

/// The verdict of a scenario left unrun because the Consumer stopped answering.
fn stopped_answering(suite: &Suite, s: &Scenario) -> Verdict {
    suite.verdict(
        s,
        0,
        Fail {
            message: format!(
                "{NO_ANSWER}: not run, the Consumer did not answer in the two scenarios before"
            ),
            ..Fail::default()
        },
    )
}

/// Runs `scenarios` in order, calling `progress` after each; once two scenarios in a row
/// ended because the Consumer did not answer, the others fail without being run.
pub async fn run_all(
    suite: &Suite,
    scenarios: &[Scenario],
    mut progress: impl FnMut(&Scenario, &Verdict),
) -> RunResult {
    let start = Instant::now();
    let mut runs = Vec::new();
    // a Consumer that stopped answering would make every later scenario wait out its
    // timeouts too: after two in a row end without an answer, the rest fail unrun
    let mut unanswered_in_a_row = 0;
    for s in scenarios {
        let began = Instant::now();
        let verdict = if unanswered_in_a_row >= 2 {
            stopped_answering(suite, s)
        } else {
            suite.run(s).await
        };
        let duration = began.elapsed();
        match &verdict {
            Verdict::Failed(f) if f.message.starts_with(NO_ANSWER) => unanswered_in_a_row += 1,
            _ => unanswered_in_a_row = 0,
        }
        progress(s, &verdict);
        runs.push(Ran {
            vector: as_vector(s),
            verdict,
            duration,
        });
    }
    RunResult {
        runs,
        elapsed: start.elapsed(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn third_party_resources_are_found() {
        let o = "http://127.0.0.1:9";
        assert_eq!(super::third_party_resource("<a href=\"/\">x</a>", o), None);
        assert_eq!(
            super::third_party_resource("<img src='http://127.0.0.1:9/a.png'>", o),
            None
        );
        assert_eq!(
            super::third_party_resource("<script src=\"https://cdn.example/x.js\">", o),
            Some("https://cdn.example/x.js".into())
        );
        assert_eq!(
            super::third_party_resource("<link href=//fonts.example/f>", o),
            Some("//fonts.example/f".into())
        );
    }
}
