//! The honest Authority `A`: its endpoints (spec 5.2–5.5, 6.3, 6.4, 7.6) and its replay store
//! (spec 4.4, 4.5). With the instances capability `A` runs as two instances over one session
//! store; each has its own replay store unless `shared-replay` is on.

use super::*;

impl Tessera {
    fn expired(now: u8, exp: u8) -> bool {
        now >= exp
    }

    /// Accepting something past its expiry (only possible with the expiry switch off) for the
    /// attacker, on the honest Subject's session.
    fn note_expired(st: &mut State, exp: u8, sender: Sender, subject: Option<Subject>) {
        if Self::expired(st.now, exp)
            && matches!(sender, Sender::Replay | Sender::Forged)
            && subject == Some(Subject::U)
        {
            st.ghost.expired_for_attacker = true;
        }
    }

    pub(crate) fn revoke_family(st: &mut State, family: u8) {
        for s in st.sessions.iter_mut().filter(|s| s.family == family) {
            // Nothing but the ghosts matters about a revoked session any more.
            s.status = Status::Revoked;
            s.exp = 0;
            s.code_exp = 0;
        }
    }

    /// `POST /v1/handshake`. `None` when the bound on sessions is reached.
    pub(crate) fn a_handshake(&self, st: &mut State, login: u8, browser: Browser) -> Option<u8> {
        if st.sessions.len() >= self.bounds.sessions as usize {
            return None;
        }
        let sid = st.sessions.len() as u8;
        st.sessions.push(Session {
            status: Status::Pending,
            login,
            subject: None,
            exp: st.now + PENDING_TTL,
            code_exp: 0,
            family: sid,
            opened_by: None,
            started_by: browser,
            redemptions: 0,
            refreshed: false,
        });
        Some(sid)
    }

    /// The authorize page (spec 5.3): the browser opens it and, with `allow`, its Subject logs
    /// in and allows. `Ok(Some(callback))`: the redirect to the Consumer.
    pub(crate) fn a_authorize(
        &self,
        st: &mut State,
        browser: Browser,
        r: u8,
        allow: bool,
    ) -> Result<Option<Callback>, Outcome> {
        let now = st.now;
        let Some(s) = st.sessions.get(r as usize).cloned() else {
            return Err(Outcome::ErrorPage);
        };
        // spec TSR-AUTHZ-1, TSR-AUTHZ-7
        if s.status != Status::Pending {
            return Err(Outcome::ErrorPage);
        }
        if self.on(Switch::Expiry) && Self::expired(now, s.exp) {
            return Err(Outcome::ErrorPage);
        }
        // spec TSR-AUTHZ-9: bound to the first browser that opened it
        if self.on(Switch::AuthzBinding) && s.opened_by.is_some_and(|b| b != browser) {
            return Err(Outcome::ErrorPage);
        }
        let m = &mut st.sessions[r as usize];
        m.opened_by.get_or_insert(browser);
        if !allow {
            return Ok(None);
        }
        m.status = Status::Authorized;
        m.subject = Some(browser.owner());
        if self.on(Switch::Code) {
            m.code_exp = (now + CODE_TTL).min(s.exp);
        }
        Ok(Some(Callback {
            // spec TSR-CALLBACK-5 (state), or the proposal's C_URL reference (binding off)
            flow: (self.on(Switch::State) || (!self.on(Switch::Binding) && self.on(Switch::Code)))
                .then_some(s.login),
            token: if self.on(Switch::Code) {
                Token::Code(r)
            } else {
                Token::Sid(r)
            },
            // spec TSR-CALLBACK-2
            iss: self.on(Switch::Issuer).then_some(Auth::A),
        }))
    }

    /// `POST /v1/result` (spec 5.5, the table of 6.1).
    fn a_result(
        &self,
        st: &mut State,
        sid: u8,
        code: Option<u8>,
        verifier: u8,
        sender: Sender,
    ) -> Outcome {
        let now = st.now;
        if self.on(Switch::Burn) && self.on(Switch::Code) {
            // spec TSR-RESULT-11 (v1): a code shown with another session's sid has left its
            // flow: burn it.
            if let Some(c) = code.filter(|&c| c != sid) {
                if let Some(f) = st
                    .sessions
                    .get(c as usize)
                    .filter(|x| x.status == Status::Authorized)
                {
                    let fam = f.family;
                    Self::revoke_family(st, fam);
                }
            }
        }
        let Some(s) = st.sessions.get(sid as usize).cloned() else {
            return Outcome::UnknownSession;
        };
        if s.status == Status::Revoked {
            return Outcome::SessionRevoked;
        }
        // spec TSR-RESULT-2
        if self.on(Switch::Expiry) && Self::expired(now, s.exp) {
            return Outcome::SessionExpired;
        }
        let pkce_ok = !self.on(Switch::Pkce) || verifier == s.login;
        match s.status {
            Status::Pending => Outcome::AuthorizationPending,
            Status::Authorized => {
                if self.on(Switch::Code) {
                    if code != Some(sid) {
                        return Outcome::InvalidCode;
                    }
                    // spec TSR-RESULT-5
                    if self.on(Switch::Expiry) && Self::expired(now, s.code_exp) {
                        return Outcome::CodeExpired;
                    }
                }
                // spec TSR-RESULT-6 (v1)
                if !pkce_ok {
                    return Outcome::InvalidVerifier;
                }
                Self::note_expired(st, s.exp, sender, s.subject);
                if self.on(Switch::Code) {
                    Self::note_expired(st, s.code_exp, sender, s.subject);
                }
                let m = &mut st.sessions[sid as usize];
                m.status = Status::Active;
                m.exp = now + SESSION_TTL;
                m.redemptions = (m.redemptions + 1).min(2);
                Outcome::Ok
            }
            Status::Active | Status::Rotated => {
                if self.on(Switch::Code) {
                    // spec TSR-RESULT-9
                    if code == Some(sid) {
                        Self::revoke_family(st, s.family);
                        Outcome::CodeReused
                    } else {
                        Outcome::InvalidCode
                    }
                } else {
                    // The proposal: the Result Request names only A_SID, which stays valid.
                    if !pkce_ok {
                        return Outcome::InvalidVerifier;
                    }
                    Self::note_expired(st, s.exp, sender, s.subject);
                    let m = &mut st.sessions[sid as usize];
                    m.redemptions = (m.redemptions + 1).min(2);
                    Outcome::Ok
                }
            }
            Status::Revoked => Outcome::SessionRevoked,
        }
    }

    /// `POST /v1/refresh` (spec 6.3). `Err(())` when the bound on sessions is reached.
    fn a_refresh(
        &self,
        st: &mut State,
        sid: u8,
        sender: Sender,
    ) -> Result<(Outcome, Option<u8>), ()> {
        let now = st.now;
        let Some(s) = st.sessions.get(sid as usize).cloned() else {
            return Ok((Outcome::UnknownSession, None));
        };
        if s.status == Status::Revoked {
            return Ok((Outcome::SessionRevoked, None));
        }
        // Even the proposal says the refresh fails after A_EXP.
        if Self::expired(now, s.exp) {
            return Ok((Outcome::SessionExpired, None));
        }
        match s.status {
            // spec TSR-REFRESH-2
            Status::Pending | Status::Authorized => Ok((Outcome::SessionNotActive, None)),
            Status::Rotated => {
                // spec TSR-REFRESH-5
                if self.on(Switch::ReuseDetection) {
                    Self::revoke_family(st, s.family);
                }
                Ok((Outcome::SessionReused, None))
            }
            Status::Active => {
                if st.sessions.len() >= self.bounds.sessions as usize {
                    return Err(());
                }
                Self::note_expired(st, s.exp, sender, s.subject);
                let new = st.sessions.len() as u8;
                st.sessions.push(Session {
                    status: Status::Active,
                    exp: now + SESSION_TTL,
                    refreshed: false,
                    redemptions: 0,
                    ..s
                });
                let old = &mut st.sessions[sid as usize];
                old.refreshed = true;
                // spec TSR-REFRESH-3, TSR-REFRESH-4
                if self.on(Switch::Rotation) {
                    old.status = Status::Rotated;
                }
                Ok((Outcome::Ok, Some(new)))
            }
            Status::Revoked => Ok((Outcome::SessionRevoked, None)),
        }
    }

    /// `POST /v1/revoke`: always `200 {}` (TSR-REVOKE-1, TSR-REVOKE-2).
    fn a_revoke(st: &mut State, sid: u8) -> Outcome {
        if let Some(s) = st.sessions.get(sid as usize).cloned() {
            Self::revoke_family(st, s.family);
        }
        Outcome::Ok
    }

    /// The Subject data API with the ticket issued from session `sid` (with Hawk off, the
    /// proposal's "C_ID, C_SECRET, A_SID, A_UID" call, which names the sid itself). Tickets
    /// outlive a refresh of their session until their own expiry (spec 7.3).
    fn a_api(&self, st: &mut State, sid: u8, sender: Sender) -> Outcome {
        let now = st.now;
        let Some(s) = st.sessions.get(sid as usize).cloned() else {
            return Outcome::InvalidCredentials;
        };
        if s.status == Status::Revoked {
            return Outcome::TicketRevoked;
        }
        if !matches!(s.status, Status::Active | Status::Rotated) {
            // No ticket was ever issued from this session.
            return if self.on(Switch::Hawk) {
                Outcome::InvalidCredentials
            } else {
                Outcome::SessionNotActive
            };
        }
        // spec TSR-TICKET-5
        if self.on(Switch::Expiry) && Self::expired(now, s.exp) {
            return Outcome::TicketExpired;
        }
        Self::note_expired(st, s.exp, sender, s.subject);
        Outcome::Ok
    }

    // ----- the replay store (spec 4.4, 4.5) ----------------------------------------------------

    /// Whether the replay store refuses the request with nonce `id` at `instance` (without
    /// changing anything).
    pub(crate) fn replay_refusal(
        &self,
        st: &State,
        id: u8,
        instance: u8,
        pre_restart: bool,
    ) -> Option<Outcome> {
        if !self.on(Switch::Nonce) {
            return None;
        }
        // spec TSR-HAWK-10: the fence refuses what the forgotten store could have accepted
        if self.on(Switch::Fence) && st.restarted && pre_restart {
            return Some(Outcome::StaleTimestamp);
        }
        // spec TSR-HAWK-9, TSR-HAWK-15
        let seen = if self.on(Switch::SharedReplay) {
            st.seen[0] | st.seen[1]
        } else {
            st.seen[instance as usize]
        };
        (seen & (1 << id) != 0).then_some(Outcome::ReplayedRequest)
    }

    /// The replay store's verdict on a signed request with nonce `id` at `instance`, before
    /// anything else: `Some(refusal)`, or `None` and the nonce is remembered.
    fn replay_check(
        &self,
        st: &mut State,
        id: u8,
        instance: u8,
        pre_restart: bool,
    ) -> Option<Outcome> {
        if let Some(refusal) = self.replay_refusal(st, id, instance, pre_restart) {
            return Some(refusal);
        }
        if self.on(Switch::Nonce) {
            if self.on(Switch::SharedReplay) {
                st.seen[0] |= 1 << id;
            } else {
                st.seen[instance as usize] |= 1 << id;
            }
        }
        if st.ghost.processed & (1 << id) != 0 {
            st.ghost.processed_twice = true;
        }
        st.ghost.processed |= 1 << id;
        None
    }

    /// The replay store forgets everything (restart). A shared store is one process too.
    pub(crate) fn restart_replay_store(&self, st: &mut State) {
        st.restarted = true;
        st.seen = [0, 0];
        for f in st.inflight.iter_mut() {
            f.pre_restart = true;
        }
        for c in st.captured.iter_mut() {
            c.pre_restart = true;
        }
    }

    /// `A` processes a request (after the replay store let it through). `None`: past a bound.
    pub(crate) fn process(
        &self,
        st: &mut State,
        req: Req,
        sender: Sender,
        ex: &mut Exchange,
    ) -> Option<()> {
        match req {
            Req::Handshake { login } => {
                let browser = st
                    .logins
                    .get(login as usize)
                    .map_or(Browser::E, |l| l.browser);
                ex.new_sid = Some(self.a_handshake(st, login, browser)?);
                ex.outcome = Outcome::Ok;
            }
            Req::Result {
                sid,
                code,
                verifier,
            } => ex.outcome = self.a_result(st, sid, code, verifier, sender),
            Req::Refresh { sid } => {
                let (o, new) = self.a_refresh(st, sid, sender).ok()?;
                ex.outcome = o;
                ex.new_sid = new;
            }
            Req::Revoke { sid } => ex.outcome = Self::a_revoke(st, sid),
            Req::Api { sid } => ex.outcome = self.a_api(st, sid, sender),
        }
        Some(())
    }

    /// A signed request arrives at `instance`: the replay store, then the endpoint.
    /// `id`: the request's nonce, `None` for a fresh one nobody else holds (a forged request).
    pub(crate) fn receive(
        &self,
        st: &mut State,
        id: Option<u8>,
        req: Req,
        sender: Sender,
        instance: u8,
        pre_restart: bool,
    ) -> Option<Exchange> {
        let mut ex = exchange_of(&req, sender, self.switches);
        ex.instance = instance;
        ex.id = id;
        if let Some(id) = id {
            if let Some(refusal) = self.replay_check(st, id, instance, pre_restart) {
                ex.outcome = refusal;
                return Some(ex);
            }
        }
        self.process(st, req, sender, &mut ex)?;
        Some(ex)
    }

    /// `A` answers the in-flight request `id` at `instance`; the Consumer gets the answer.
    pub(crate) fn deliver(
        &self,
        st: &mut State,
        eff: &mut Effect,
        id: u8,
        instance: u8,
    ) -> Option<()> {
        if instance >= self.instances() {
            return None;
        }
        let i = st.inflight.iter().position(|f| f.id == id)?;
        let f = st.inflight.remove(i);
        let ex = self.receive(
            st,
            Some(f.id),
            f.req,
            Sender::Consumer,
            instance,
            f.pre_restart,
        )?;
        self.capture(st, eff, &f);
        self.consumer_answer(st, eff, &f, &ex);
        eff.exchange = Some(ex);
        Some(())
    }

    /// `A` refuses the in-flight request `id` for a reason outside the protocol (refusal).
    pub(crate) fn refuse(&self, st: &mut State, eff: &mut Effect, id: u8) -> Option<()> {
        if !self.can(Capability::Refusal) {
            return None;
        }
        let i = st.inflight.iter().position(|f| f.id == id)?;
        let f = st.inflight.remove(i);
        let mut ex = exchange_of(&f.req, Sender::Consumer, self.switches);
        ex.id = Some(f.id);
        ex.outcome = Outcome::Unavailable;
        // spec TSR-HAWK-16: the nonce is recorded before any refusal outside the protocol
        if self.on(Switch::RefuseAfterNonce) && self.on(Switch::Nonce) {
            st.seen[0] |= 1 << f.id;
        }
        self.capture(st, eff, &f);
        self.consumer_answer(st, eff, &f, &ex);
        eff.exchange = Some(ex);
        Some(())
    }

    /// Deliveries and refusals of every in-flight request.
    pub(crate) fn authority_actions(&self, st: &State, out: &mut Vec<Action>) {
        for f in &st.inflight {
            for instance in 0..self.instances() {
                out.push(Action::AuthorityDelivers { id: f.id, instance });
            }
            if self.can(Capability::Refusal) {
                out.push(Action::AuthorityRefuses { id: f.id });
            }
        }
        if self.can(Capability::Restart) && !st.restarted {
            out.push(Action::ReplayStoreRestarts);
        }
    }
}

/// The exchange a request makes, before the Authority answers.
pub fn exchange_of(req: &Req, sender: Sender, sw: Switches) -> Exchange {
    let mut ex = Exchange {
        kind: RequestKind::Handshake,
        authority: Auth::A,
        instance: 0,
        sender,
        id: None,
        sid: None,
        code: None,
        verifier: None,
        challenge: None,
        state: None,
        secret_in_clear: !sw.on(Switch::Hawk),
        outcome: Outcome::Ok,
        new_sid: None,
    };
    match *req {
        Req::Handshake { login } => {
            ex.challenge = sw.on(Switch::Pkce).then_some(login);
            ex.state = sw.on(Switch::State).then_some(login);
        }
        Req::Result {
            sid,
            code,
            verifier,
        } => {
            ex.kind = RequestKind::Result;
            ex.sid = Some(sid);
            ex.code = code;
            ex.verifier = sw.on(Switch::Pkce).then_some(verifier);
        }
        Req::Refresh { sid } => {
            ex.kind = RequestKind::Refresh;
            ex.sid = Some(sid);
        }
        Req::Revoke { sid } => {
            ex.kind = RequestKind::Revoke;
            ex.sid = Some(sid);
        }
        Req::Api { sid } => {
            ex.kind = RequestKind::Api;
            ex.sid = Some(sid);
        }
    }
    ex
}
