//! The attacker: a web attacker (Fett, Küsters, Schmitz, CCS 2016) that runs `M` and `E`, plus
//! the capabilities in force. Everything it knows is in [`Knowledge`]; it builds URLs and
//! requests only from that.

use super::*;

impl Tessera {
    /// The attacker sees a URL (its own browser's, or a leaked one).
    pub(crate) fn learn_url(&self, st: &mut State, url: Url) {
        match url {
            Url::Authorize(r) => {
                add(&mut st.know.requests, r);
                if !self.on(Switch::SidHidden) {
                    add(&mut st.know.sids, r);
                }
            }
            Url::MPage => {}
            Url::Callback(cb) => {
                if let Some(l) = cb.flow {
                    add(&mut st.know.flows, l);
                }
                match cb.token {
                    Token::Code(c) => add(&mut st.know.codes, c),
                    Token::Sid(s) => add(&mut st.know.sids, s),
                }
            }
        }
    }

    /// The authorize requests the attacker can open: those it saw, and, with the `sid` in the
    /// authorize URL (`sid-hidden` off), every sid it knows, since it can build that URL from
    /// the sid alone (spec TSR-HANDSHAKE-5).
    pub(crate) fn known_requests(&self, st: &State) -> u16 {
        if self.on(Switch::SidHidden) {
            st.know.requests
        } else {
            st.know.requests | st.know.sids
        }
    }

    /// The Consumer's request to `A` is captured when it is answered or refused (capture).
    pub(crate) fn capture(&self, st: &mut State, eff: &mut Effect, f: &Flight) {
        if !self.can(Capability::Capture) {
            return;
        }
        if !self.on(Switch::Hawk) {
            st.know.key = true;
        }
        match f.req {
            Req::Handshake { login } => {
                // The body carries the state (and the PKCE challenge, which reveals nothing).
                if self.on(Switch::State) {
                    add(&mut st.know.flows, login);
                }
            }
            Req::Result {
                sid,
                code,
                verifier,
            } => {
                add(&mut st.know.sids, sid);
                add(&mut st.know.verifiers, verifier);
                if let Some(c) = code {
                    add(&mut st.know.codes, c);
                }
            }
            Req::Refresh { sid } | Req::Revoke { sid } => add(&mut st.know.sids, sid),
            Req::Api { sid } => {
                // With Hawk the data call names a ticket, not the sid.
                if !self.on(Switch::Hawk) {
                    add(&mut st.know.sids, sid);
                }
            }
        }
        eff.learnt = Some("the request is captured");
        // Handshakes are not replayed: the answer, a fresh sid, is useless without the key.
        if matches!(f.req, Req::Handshake { .. }) {
            return;
        }
        let c = Captured {
            id: f.id,
            req: f.req,
            pre_restart: f.pre_restart,
        };
        if st.captured.len() < self.bounds.captured as usize
            && !st.captured.iter().any(|x| x.id == f.id)
        {
            st.captured.push(c);
            st.captured.sort_unstable();
        }
    }

    /// The attacker receives `A`'s answer to a request it sent: a sid it now holds, and, for
    /// the honest Subject's session outside a stolen family, loot.
    fn loot(&self, st: &mut State, sid: u8, sender: Sender) {
        add(&mut st.know.sids, sid);
        if let Some(s) = st.sessions.get(sid as usize) {
            if has(st.ghost.stolen, s.family) || (sender == Sender::Forged && st.ghost.key_stolen) {
                st.ghost.stolen_used = true;
            } else if s.subject == Some(Subject::U) {
                st.know.loot = true;
            }
        }
    }

    /// A request the attacker sends `A` itself (replayed or forged).
    #[allow(clippy::too_many_arguments)] // one per field of the request as it arrives
    fn attacker_request(
        &self,
        st: &mut State,
        eff: &mut Effect,
        id: Option<u8>,
        req: Req,
        sender: Sender,
        instance: u8,
        pre_restart: bool,
    ) -> Option<()> {
        if st.attacker_requests >= self.bounds.attacker_requests || instance >= self.instances() {
            return None;
        }
        st.attacker_requests += 1;
        let ex = self.receive(st, id, req, sender, instance, pre_restart)?;
        if ex.outcome == Outcome::Ok {
            // After the honest Consumer refreshed a stolen family, the attacker may keep only
            // what it held before (tickets live to their own expiry): refreshing the stolen sid,
            // or any use of a session it forked from it, means the theft outlived the refresh.
            // (Sids of the family it learns afterwards some other way, with the stolen key, are
            // a second theft, not this one outliving the refresh.)
            let outlived = |st: &State, sid: u8, refresh: bool| {
                st.sessions.get(sid as usize).is_some_and(|s| {
                    has(st.ghost.recovered, s.family)
                        && (has(st.ghost.forked, sid)
                            || (refresh && has(st.ghost.stolen_sids, sid)))
                })
            };
            match req {
                Req::Result { sid, .. } | Req::Api { sid } => {
                    if outlived(st, sid, false) {
                        st.ghost.theft_outlived_refresh = true;
                    }
                    self.loot(st, sid, sender);
                }
                Req::Refresh { sid } => {
                    if outlived(st, sid, true) {
                        st.ghost.theft_outlived_refresh = true;
                    }
                    if let Some(n) = ex.new_sid {
                        if has(st.ghost.stolen_sids, sid) || has(st.ghost.forked, sid) {
                            add(&mut st.ghost.forked, n);
                        }
                        self.loot(st, n, sender);
                    }
                }
                Req::Handshake { .. } | Req::Revoke { .. } => {}
            }
        }
        eff.exchange = Some(ex);
        Some(())
    }

    /// The attacker sends `A` a request of its own with the Consumer key it holds.
    pub(crate) fn forge(&self, st: &mut State, eff: &mut Effect, req: Req) -> Option<()> {
        if !st.know.key {
            return None;
        }
        self.attacker_request(st, eff, None, req, Sender::Forged, 0, false)
    }

    /// The attacker replays a captured request. Replays the replay store refuses change
    /// nothing and are not generated (the conformance generator turns them into
    /// `replayed_request` steps).
    pub(crate) fn replay(
        &self,
        st: &mut State,
        eff: &mut Effect,
        id: u8,
        instance: u8,
    ) -> Option<()> {
        let c = *st.captured.iter().find(|c| c.id == id)?;
        if instance >= self.instances()
            || self
                .replay_refusal(st, id, instance, c.pre_restart)
                .is_some()
        {
            return None;
        }
        self.attacker_request(
            st,
            eff,
            Some(id),
            c.req,
            Sender::Replay,
            instance,
            c.pre_restart,
        )
    }

    /// The attacker steals the honest Subject's live session and the Consumer's key (theft).
    pub(crate) fn steal(&self, st: &mut State, eff: &mut Effect) -> Option<()> {
        if !self.can(Capability::Theft) || st.ghost.stolen != 0 {
            return None;
        }
        let sid = Self::held_by_u(st)?;
        let s = st.sessions.get(sid as usize)?;
        if s.status != Status::Active {
            return None;
        }
        add(&mut st.ghost.stolen, s.family);
        add(&mut st.ghost.stolen_sids, sid);
        st.ghost.key_stolen = !st.know.key;
        st.know.key = true;
        add(&mut st.know.sids, sid);
        eff.learnt = Some("U's session and C's key are stolen");
        Some(())
    }

    fn held_by_u(st: &State) -> Option<u8> {
        st.browsers[Browser::U.ix()]
            .logged_in
            .as_ref()
            .filter(|l| l.vouched_by == Auth::A)
            .map(|l| l.sid)
    }

    /// The callback URLs the attacker can build from what it knows (its own browser's
    /// redirects included: it knows every URL its browser was sent).
    pub(crate) fn crafted_callbacks(&self, st: &State, out: &mut Vec<Callback>) {
        let isses: &[Option<Auth>] = if self.on(Switch::Issuer) || !self.on(Switch::RoutePending) {
            &[Some(Auth::A), Some(Auth::M)]
        } else {
            &[None]
        };
        let carries_flow =
            self.on(Switch::State) || (!self.on(Switch::Binding) && self.on(Switch::Code));
        let flows: Vec<Option<u8>> = if carries_flow {
            members(st.know.flows).map(Some).collect()
        } else {
            vec![None]
        };
        let mut tokens: Vec<Token> = Vec::new();
        if self.on(Switch::Code) {
            tokens.extend(members(st.know.codes).map(Token::Code));
        } else {
            tokens.extend(members(st.know.sids).map(Token::Sid));
        }
        for &token in &tokens {
            for &flow in &flows {
                for &iss in isses {
                    out.push(Callback { flow, token, iss });
                }
            }
        }
        // A callback from M's own "authorize page", for a login via M.
        for (l, p) in st.logins.iter().enumerate() {
            if p.auth != Auth::M {
                continue;
            }
            let token = if self.on(Switch::Code) {
                Token::Code(M_CODE)
            } else {
                Token::Sid(p.sid)
            };
            let flow = carries_flow.then_some(l as u8);
            for &iss in isses {
                let cb = Callback { flow, token, iss };
                if !out.contains(&cb) {
                    out.push(cb);
                }
            }
        }
    }

    /// Forged requests (with the key), replays, theft.
    pub(crate) fn attacker_actions(&self, st: &State, out: &mut Vec<Action>) {
        if self.can(Capability::Theft) && st.ghost.stolen == 0 && Self::held_by_u(st).is_some() {
            out.push(Action::AttackerSteals);
        }
        if st.attacker_requests >= self.bounds.attacker_requests {
            return;
        }
        if st.know.key {
            for sid in members(st.know.sids) {
                if (sid as usize) >= st.sessions.len() {
                    continue;
                }
                let code = self.on(Switch::Code).then_some(sid);
                if code.is_none_or(|c| has(st.know.codes, c)) {
                    // The verifier of the session's login if it was learnt, else its own.
                    let login = st.sessions[sid as usize].login;
                    let verifier = if has(st.know.verifiers, login) {
                        login
                    } else {
                        ATTACKER_VERIFIER
                    };
                    out.push(Action::AttackerForges {
                        req: Req::Result {
                            sid,
                            code,
                            verifier,
                        },
                    });
                }
                out.push(Action::AttackerForges {
                    req: Req::Refresh { sid },
                });
                out.push(Action::AttackerForges {
                    req: Req::Api { sid },
                });
            }
        }
        for c in &st.captured {
            for instance in 0..self.instances() {
                if self
                    .replay_refusal(st, c.id, instance, c.pre_restart)
                    .is_none()
                {
                    out.push(Action::AttackerReplays { id: c.id, instance });
                }
            }
        }
    }
}
