//! The two browsers: `U`, the honest Subject's, follows its redirects and opens whatever the
//! attacker makes it open (CSRF); `E`, the attacker's, opens whatever the attacker knows.

use super::*;

impl Tessera {
    /// The browser opens `A`'s authorize page for `request`; its Subject logs in and allows,
    /// or (with leaks on) only looks at it and leaves.
    pub(crate) fn authorize_open(
        &self,
        st: &mut State,
        eff: &mut Effect,
        browser: Browser,
        request: u8,
        allow: bool,
    ) -> Option<()> {
        if !(allow || browser == Browser::U && self.can(Capability::Leaks)) {
            return None;
        }
        let followed = st.browsers[browser.ix()].at == Some(Url::Authorize(request));
        if followed && allow {
            st.browsers[browser.ix()].at = None;
        }
        eff.followed = followed && browser == Browser::U;
        if browser == Browser::U && self.can(Capability::Leaks) {
            // The page's URL leaks once the honest browser has opened it.
            self.learn_url(st, Url::Authorize(request));
            eff.learnt = Some("the authorize URL leaks");
        }
        let outcome = match self.a_authorize(st, browser, request, allow) {
            Ok(Some(cb)) => {
                eff.redirect = Some(Url::Callback(cb));
                if browser == Browser::E {
                    self.learn_url(st, Url::Callback(cb));
                } else {
                    st.browsers[browser.ix()].at = Some(Url::Callback(cb));
                }
                Outcome::Ok
            }
            Ok(None) => Outcome::Ok,
            Err(o) => o,
        };
        let mut ex = exchange_of(
            &Req::Api { sid: request },
            Sender::Browser(browser),
            self.switches,
        );
        ex.kind = RequestKind::Authorize;
        ex.sid = (!self.on(Switch::SidHidden)).then_some(request);
        ex.secret_in_clear = false;
        ex.outcome = outcome;
        eff.exchange = Some(ex);
        Some(())
    }

    /// Login starts, authorize pages and callbacks, for both browsers.
    pub(crate) fn browser_actions(&self, st: &State, out: &mut Vec<Action>) {
        let browsers = [Browser::E, Browser::U];
        // Logins: a browser chooses A or M; M answers with its own page or any authorize URL
        // of A the attacker knows. U starts logins itself, or (no start CSRF protection) the
        // attacker makes it.
        if st.logins.len() < self.bounds.logins as usize {
            for &b in &browsers {
                let intents: &[bool] = if b == Browser::U && !self.on(Switch::StartCsrf) {
                    &[true, false]
                } else {
                    &[true]
                };
                for &intended in intents {
                    if st.sent < self.bounds.requests {
                        out.push(Action::LoginStart {
                            browser: b,
                            authority: Auth::A,
                            intended,
                            m_url: Url::MPage,
                        });
                    }
                    out.push(Action::LoginStart {
                        browser: b,
                        authority: Auth::M,
                        intended,
                        m_url: Url::MPage,
                    });
                    for r in members(self.known_requests(st)) {
                        out.push(Action::LoginStart {
                            browser: b,
                            authority: Auth::M,
                            intended,
                            m_url: Url::Authorize(r),
                        });
                    }
                }
            }
        }
        // Authorize pages: U follows its redirect or is sent by the attacker; E goes anywhere
        // the attacker knows.
        for &b in &browsers {
            let mut rs = self.known_requests(st);
            if let Some(Url::Authorize(r)) = st.browsers[b.ix()].at {
                add(&mut rs, r);
            }
            for r in members(rs) {
                let Some(s) = st.sessions.get(r as usize) else {
                    continue;
                };
                if s.status != Status::Pending {
                    continue;
                }
                out.push(Action::AuthorizeOpen {
                    browser: b,
                    request: r,
                    allow: true,
                });
                if b == Browser::U && self.can(Capability::Leaks) && s.opened_by.is_none() {
                    out.push(Action::AuthorizeOpen {
                        browser: b,
                        request: r,
                        allow: false,
                    });
                }
            }
        }
        // Callbacks: U follows its redirect; both open whatever the attacker can build.
        let mut crafted = Vec::new();
        self.crafted_callbacks(st, &mut crafted);
        for &b in &browsers {
            let mut mine = crafted.clone();
            if let Some(Url::Callback(cb)) = st.browsers[b.ix()].at {
                if !mine.contains(&cb) {
                    mine.insert(0, cb);
                }
            }
            for url in mine {
                match self.resolve_callback(st, b, &url) {
                    Ok((_, Auth::M)) => {
                        for m_claim in [Subject::U, Subject::E] {
                            out.push(Action::CallbackOpen {
                                browser: b,
                                url,
                                m_claim,
                            });
                        }
                    }
                    Ok((_, Auth::A)) if st.sent >= self.bounds.requests => {}
                    _ => out.push(Action::CallbackOpen {
                        browser: b,
                        url,
                        m_claim: Subject::E,
                    }),
                }
            }
        }
    }
}
