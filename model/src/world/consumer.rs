//! The honest Consumer `C` (spec chapter 10): login start, the callback's checks, its back
//! channel to `A` (result and refresh requests go in flight and are answered later; revoke and
//! the data API are answered at once), and what it does with each answer.

use super::*;

impl Tessera {
    /// The browser clicks "log in" at `C`; `C` starts a login and sends the handshake.
    pub(crate) fn login_start(
        &self,
        st: &mut State,
        eff: &mut Effect,
        browser: Browser,
        authority: Auth,
        intended: bool,
        m_url: Url,
    ) -> Option<()> {
        if st.logins.len() >= self.bounds.logins as usize {
            return None;
        }
        // spec TSR-CONSUMER-14: no login-start CSRF. The attacker's own browser always means it.
        if !intended && (browser == Browser::E || self.on(Switch::StartCsrf)) {
            return None;
        }
        let login = st.logins.len() as u8;
        let url = match authority {
            Auth::A => {
                if st.sent >= self.bounds.requests {
                    return None;
                }
                let id = st.sent;
                st.sent += 1;
                let req = Req::Handshake { login };
                // Only the browser's click waits on the handshake: nothing else can happen
                // between the Consumer's request and its answer that would matter.
                st.logins.push(Login {
                    browser,
                    intended,
                    auth: Auth::A,
                    sid: 0,
                    open: true,
                    completed: false,
                });
                let ex = self.receive(st, Some(id), req, Sender::Consumer, 0, false)?;
                let sid = ex.new_sid.expect("a handshake succeeds");
                st.logins[login as usize].sid = sid;
                let f = Flight {
                    id,
                    req,
                    browser,
                    login,
                    pre_restart: false,
                };
                self.capture(st, eff, &f);
                if self.can(Capability::SidLeak) {
                    add(&mut st.know.sids, sid);
                }
                eff.exchange = Some(ex);
                Url::Authorize(sid)
            }
            Auth::M => {
                // M learns the request: the state (or login reference) and, Hawk off, the
                // secret.
                if !self.on(Switch::Hawk) {
                    st.know.key = true;
                }
                add(&mut st.know.flows, login);
                let mut ex =
                    exchange_of(&Req::Handshake { login }, Sender::Consumer, self.switches);
                ex.authority = Auth::M;
                ex.outcome = Outcome::AttackerChosen;
                eff.exchange = Some(ex);
                st.logins.push(Login {
                    browser,
                    intended,
                    auth: Auth::M,
                    sid: M_SID + login,
                    open: true,
                    completed: false,
                });
                m_url
            }
        };
        eff.redirect = Some(url);
        let b = &mut st.browsers[browser.ix()];
        if self.on(Switch::Binding) {
            // spec TSR-CONSUMER-2; v1 keeps one pending login per browser session, v1.1 several
            // (TSR-CONSUMER-13)
            if self.on(Switch::State) {
                b.pending |= 1 << login;
            } else {
                b.pending = 1 << login;
            }
        }
        // The attacker's browser needs no redirect slot: what it is sent, the attacker knows.
        if browser == Browser::U {
            b.at = Some(url);
        } else {
            self.learn_url(st, url);
        }
        Some(())
    }

    /// Which pending login a callback in `browser` ends, and where its result request goes:
    /// the Consumer's own checks (spec 5.4, chapter 10), without changing anything.
    pub(crate) fn resolve_callback(
        &self,
        st: &State,
        browser: Browser,
        url: &Callback,
    ) -> Result<(u8, Auth), ConsumerOutcome> {
        let login = if self.on(Switch::Binding) {
            let pending = st.browsers[browser.ix()].pending;
            if self.on(Switch::State) {
                // spec TSR-CONSUMER-13: the state picks one of this browser's pending logins
                match url.flow {
                    Some(l) if pending & (1 << l) != 0 => l,
                    _ => return Err(ConsumerOutcome::NoPendingLogin),
                }
            } else {
                // spec TSR-CONSUMER-3 (v1): the browser's one pending login
                let Some(l) = (0..8u8).find(|l| pending & (1 << l) != 0) else {
                    return Err(ConsumerOutcome::NoPendingLogin);
                };
                if let Token::Sid(s) = url.token {
                    if st.logins[l as usize].sid != s {
                        return Err(ConsumerOutcome::LoginMismatch);
                    }
                }
                l
            }
        } else {
            // The pending login the URL refers to, in the Consumer's global table.
            let found = match (url.flow, url.token) {
                (_, Token::Sid(s)) => st.logins.iter().position(|p| p.sid == s && p.open),
                (Some(l), Token::Code(_)) => st
                    .logins
                    .get(l as usize)
                    .is_some_and(|p| p.open)
                    .then_some(l as usize),
                (None, Token::Code(_)) => None,
            };
            match found {
                Some(l) => l as u8,
                None => return Err(ConsumerOutcome::NoPendingLogin),
            }
        };
        let p = &st.logins[login as usize];
        // spec TSR-CONSUMER-4
        if self.on(Switch::Issuer) && url.iss != Some(p.auth) {
            return Err(ConsumerOutcome::IssuerMismatch);
        }
        // spec TSR-CONSUMER-5; off: wherever the callback's iss points
        let to = if self.on(Switch::RoutePending) {
            p.auth
        } else {
            url.iss.unwrap_or(p.auth)
        };
        Ok((login, to))
    }

    /// The browser opens `C`'s callback: `C`'s checks, then the result request.
    pub(crate) fn callback_open(
        &self,
        st: &mut State,
        eff: &mut Effect,
        browser: Browser,
        url: Callback,
        m_claim: Subject,
    ) -> Option<()> {
        let followed = st.browsers[browser.ix()].at == Some(Url::Callback(url));
        if followed {
            st.browsers[browser.ix()].at = None;
        }
        eff.followed = followed && browser == Browser::U;
        let (login, to) = match self.resolve_callback(st, browser, &url) {
            Ok(r) => r,
            Err(refusal) => {
                eff.consumer = Some(refusal);
                return Some(());
            }
        };
        let code = match url.token {
            Token::Code(c) => Some(c),
            Token::Sid(_) => None,
        };
        let p = st.logins[login as usize].clone();
        let req = Req::Result {
            sid: p.sid,
            code,
            verifier: login,
        };
        if to == Auth::A && st.sent >= self.bounds.requests {
            return None;
        }
        // spec TSR-CONSUMER-6
        if self.on(Switch::PendingOnce) {
            st.browsers[browser.ix()].pending &= !(1 << login);
            st.logins[login as usize].open = false;
        }
        match to {
            Auth::M => {
                // The result request goes to the attacker's Authority: it learns all of it.
                if let Some(c) = code {
                    add(&mut st.know.codes, c);
                }
                add(&mut st.know.sids, p.sid);
                add(&mut st.know.verifiers, login);
                if !self.on(Switch::Hawk) {
                    st.know.key = true;
                }
                let mut ex = exchange_of(&req, Sender::Consumer, self.switches);
                ex.authority = Auth::M;
                ex.outcome = Outcome::AttackerChosen;
                eff.exchange = Some(ex);
                st.logins[login as usize].completed = true;
                st.browsers[browser.ix()].logged_in = Some(LoggedIn {
                    issuer: self.on(Switch::IssuerKeyed).then_some(Auth::M),
                    subject: m_claim,
                    sid: p.sid,
                    vouched_by: Auth::M,
                    chose: p.auth,
                    flow_by: p.browser,
                    intended: p.intended,
                    spent: p.completed,
                });
                eff.consumer = Some(ConsumerOutcome::LoggedIn);
            }
            Auth::A => {
                let f = self.send(st, req, browser, login);
                eff.sent = Some(f);
                eff.consumer = Some(ConsumerOutcome::ResultSent);
            }
        }
        Some(())
    }

    /// `C` signs a request to `A` and puts it in flight (callers check the request bound).
    fn send(&self, st: &mut State, req: Req, browser: Browser, login: u8) -> Flight {
        let f = Flight {
            id: st.sent,
            req,
            browser,
            login,
            pre_restart: false,
        };
        st.sent += 1;
        st.inflight.push(f);
        st.inflight.sort_unstable();
        f
    }

    /// `C` gets `A`'s answer to an in-flight request.
    pub(crate) fn consumer_answer(
        &self,
        st: &mut State,
        eff: &mut Effect,
        f: &Flight,
        ex: &Exchange,
    ) {
        let b = f.browser.ix();
        match f.req {
            Req::Result { sid, .. } => {
                if ex.outcome == Outcome::Ok {
                    let s = &st.sessions[sid as usize];
                    let p = &st.logins[f.login as usize];
                    st.browsers[b].logged_in = Some(LoggedIn {
                        issuer: self.on(Switch::IssuerKeyed).then_some(Auth::A),
                        subject: s.subject.expect("an authorized session has a subject"),
                        sid,
                        vouched_by: Auth::A,
                        chose: p.auth,
                        flow_by: s.started_by,
                        intended: p.intended,
                        spent: p.completed,
                    });
                    st.logins[f.login as usize].completed = true;
                    eff.consumer = Some(ConsumerOutcome::LoggedIn);
                } else {
                    eff.consumer = Some(ConsumerOutcome::LoginFailed);
                }
            }
            Req::Refresh { sid } => {
                if let Some(fam) = st.sessions.get(sid as usize).map(|s| s.family) {
                    if has(st.ghost.stolen, fam)
                        && matches!(ex.outcome, Outcome::Ok | Outcome::SessionReused)
                    {
                        add(&mut st.ghost.recovered, fam);
                    }
                }
                let holds = st.browsers[b]
                    .logged_in
                    .as_ref()
                    .is_some_and(|l| l.sid == sid);
                match (ex.outcome, ex.new_sid) {
                    (Outcome::Ok, Some(n)) => {
                        if self.can(Capability::SidLeak) {
                            add(&mut st.know.sids, n);
                        }
                        if holds {
                            // spec TSR-CONSUMER-11
                            st.browsers[b].logged_in.as_mut().expect("holds").sid = n;
                        }
                    }
                    (o, _) if o.unprocessed() => {}
                    _ => {
                        if holds {
                            st.browsers[b].logged_in = None;
                            eff.consumer = Some(ConsumerOutcome::LoggedOut);
                        }
                    }
                }
            }
            Req::Handshake { .. } | Req::Revoke { .. } | Req::Api { .. } => {}
        }
    }

    /// The session `C` holds for a browser, if `A` vouched for it.
    fn held_session(st: &State, browser: Browser) -> Option<u8> {
        st.browsers[browser.ix()]
            .logged_in
            .as_ref()
            .filter(|l| l.vouched_by == Auth::A)
            .map(|l| l.sid)
    }

    /// `C` refreshes the browser's session: at most one refresh per session in flight (the
    /// Consumer library's single flight, so a double submit is one request).
    pub(crate) fn consumer_refresh(
        &self,
        st: &mut State,
        eff: &mut Effect,
        browser: Browser,
    ) -> Option<()> {
        let sid = Self::held_session(st, browser)?;
        if st.sent >= self.bounds.requests
            || st
                .inflight
                .iter()
                .any(|f| matches!(f.req, Req::Refresh { sid: s } if s == sid))
        {
            return None;
        }
        let f = self.send(st, Req::Refresh { sid }, browser, 0);
        eff.sent = Some(f);
        Some(())
    }

    /// A request `C` sends and gets answered in one step (revoke, data API).
    fn consumer_request_now(
        &self,
        st: &mut State,
        eff: &mut Effect,
        req: Req,
        browser: Browser,
    ) -> Option<Exchange> {
        if st.sent >= self.bounds.requests {
            return None;
        }
        let id = st.sent;
        st.sent += 1;
        let ex = self.receive(st, Some(id), req, Sender::Consumer, 0, false)?;
        let f = Flight {
            id,
            req,
            browser,
            login: 0,
            pre_restart: false,
        };
        self.capture(st, eff, &f);
        eff.exchange = Some(ex);
        Some(ex)
    }

    /// `C` logs the browser out and revokes its session.
    pub(crate) fn consumer_revoke(
        &self,
        st: &mut State,
        eff: &mut Effect,
        browser: Browser,
    ) -> Option<()> {
        let sid = Self::held_session(st, browser)?;
        self.consumer_request_now(st, eff, Req::Revoke { sid }, browser)?;
        st.browsers[browser.ix()].logged_in = None;
        eff.consumer = Some(ConsumerOutcome::LoggedOut);
        Some(())
    }

    /// `C` calls the Subject data API with the ticket of the browser's session.
    pub(crate) fn consumer_api(
        &self,
        st: &mut State,
        eff: &mut Effect,
        browser: Browser,
    ) -> Option<()> {
        let sid = Self::held_session(st, browser)?;
        let ex = self.consumer_request_now(st, eff, Req::Api { sid }, browser)?;
        match ex.outcome {
            Outcome::Ok => st.ghost.api_ok = true,
            Outcome::TicketRevoked | Outcome::TicketExpired => {
                st.browsers[browser.ix()].logged_in = None;
                eff.consumer = Some(ConsumerOutcome::LoggedOut);
            }
            _ => {}
        }
        Some(())
    }

    /// The Consumer's own use of the sessions it holds.
    pub(crate) fn consumer_actions(&self, st: &State, out: &mut Vec<Action>) {
        if st.sent >= self.bounds.requests {
            return;
        }
        for b in [Browser::E, Browser::U] {
            if let Some(sid) = Self::held_session(st, b) {
                out.push(Action::ConsumerCallsApi { browser: b });
                if !st
                    .inflight
                    .iter()
                    .any(|f| matches!(f.req, Req::Refresh { sid: s } if s == sid))
                {
                    out.push(Action::ConsumerRefreshes { browser: b });
                }
                out.push(Action::ConsumerRevokes { browser: b });
            }
        }
    }
}
