'use strict';

// A Tessera v1.1 Consumer written from the specification alone (spec chapters 4, 5 and 10),
// with the npm `hawk` package for request signing and response verification. It is the example
// an implementer copies: one file, node's own http server, no framework.
//
//   TESSERA_TEST_MODE=1 node consumer.js        test mode (spec A.6.1): the conformance suite
//                                               configures it with POST /tessera-test/reset
//   TESSERA_AUTHORITIES='[{"issuer": …, "consumer_id": …, "key": …, "grants": […],
//     "scopes": […]}]' node consumer.js         its Authorities, outside test mode
//
//   PORT (default 0: any free port; the URL is printed on the first line of stdout),
//   HOST (default 127.0.0.1).
//
// TESSERA_SKIP_CHECK=<name> removes one check, so that a test can show the conformance suite
// catches it: binding, state, pending-once, issuer, issuer-keyed, start-csrf,
// server-authorization, result-shape, metadata, tsm, refresh-single-flight,
// refresh-replace-sid, refresh-logout.

const Crypto = require('crypto');
const Http = require('http');
const Hawk = require('hawk');

const TEST_MODE = process.env.TESSERA_TEST_MODE === '1';
const SKIP = new Set((process.env.TESSERA_SKIP_CHECK || '').split(',').filter(Boolean));
const checks = (name) => !SKIP.has(name);

const COOKIE = 'tc_session';
const MAX_PENDING = 8;                 // pending logins per browser session (TSR-CONSUMER-13)
const MAX_SESSIONS = 10000;

let base = '';                         // this Consumer's origin, known once listening
let authorities = [];                  // configured Authorities, the default first
let sessions = new Map();              // session id -> { csrf, pending: Map(state -> login), user, error }
let users = new Map();                 // "issuer\nsub" -> user (TSR-CONSUMER-10)

const random = (bytes) => Crypto.randomBytes(bytes).toString('base64url');
const sameSecret = (a, b) => {
    const x = Buffer.from(String(a));
    const y = Buffer.from(String(b));
    return x.length === y.length && Crypto.timingSafeEqual(x, y);
};
const redirectUri = () => `${base}/callback`;

// ---- Authorities ---------------------------------------------------------------------------

// spec 5.1, TSR-META-1, TSR-META-3: configure an Authority from its metadata.
const discover = async (registration) => {
    const issuer = registration.issuer.replace(/\/$/, '');
    // TSR-CONV-1: https, or plain http only on a loopback address (127.0.0.0/8, [::1], localhost)
    let url;
    try {
        url = new URL(issuer);
    }
    catch (err) {
        throw new Refusal('invalid_config');
    }
    const loopback = /^127\.\d+\.\d+\.\d+$/.test(url.hostname) || url.hostname === '[::1]' || url.hostname === 'localhost';
    if (!(url.protocol === 'https:' || (url.protocol === 'http:' && loopback))) {
        throw new Refusal('invalid_config');
    }
    // TSR-CONSUMER-16: an issuer identifier (1.1) is scheme, host and port only: no path,
    // query, fragment or user-info (`https://auth.example@evil.example` is evil.example)
    if (url.username || url.password || url.pathname !== '/' || url.search || url.hash) {
        throw new Refusal('invalid_config');
    }
    const res = await fetch(`${issuer}/.well-known/tessera-authority`, { redirect: 'manual' });
    if (res.status !== 200) {
        throw new Refusal('metadata_invalid');
    }
    const m = await res.json();
    if (checks('metadata')) {
        if (m.issuer !== issuer) {
            throw new Refusal('metadata_issuer_mismatch');
        }
        for (const [name, value] of Object.entries(m)) {
            if (name.endsWith('_endpoint') && !(typeof value === 'string' && value.startsWith(`${issuer}/`))) {
                throw new Refusal('metadata_invalid');
            }
        }
        if (m.protocol_version !== '1.1' || !(m.hawk && Array.isArray(m.hawk.algorithms) && m.hawk.algorithms.includes('sha256'))) {
            throw new Refusal('metadata_invalid');
        }
    }
    return {
        issuer,
        metadata: m,
        credentials: { id: registration.consumer_id, key: registration.key, algorithm: 'sha256' },
        consumerId: registration.consumer_id,
        grants: registration.grants || [],
        scopes: registration.scopes || [],
        offset: 0                                   // Authority clock - ours (TSR-HAWK-8)
    };
};

class Refusal extends Error {
    constructor(code) {
        super(code);
        this.code = code;
    }
}

// A Hawk-signed request (spec 4.2), its Server-Authorization verified (TSR-HAWK-13), the status
// it covers checked (TSR-HAWK-17); one retry after a stale-timestamp reply whose tsm verifies
// (TSR-HAWK-8). `body` undefined: a GET. `ticket`: sign with a ticket (its id and key, and the Oz
// `app`/`dlg`, spec TSR-HAWK-14) instead of the Consumer's key. Returns [status, parsed body].
const call = async (authority, method, url, body, ticket) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const credentials = ticket ? { id: ticket.id, key: ticket.key, algorithm: ticket.algorithm } : authority.credentials;
    for (let attempt = 0; attempt < 2; ++attempt) {
        const { header, artifacts } = Hawk.client.header(url, method, {
            credentials,
            ...(payload === undefined ? {} : { payload, contentType: 'application/json' }),
            ...(ticket ? { app: ticket.app, dlg: ticket.dlg || undefined } : {}),
            timestamp: Math.floor(Date.now() / 1000) + authority.offset
        });
        const res = await fetch(url, {
            method,
            redirect: 'manual',
            headers: {
                authorization: header,
                accept: 'application/json',
                ...(payload === undefined ? {} : { 'content-type': 'application/json' })
            },
            body: payload
        });
        const text = await res.text();
        const headers = Object.fromEntries(res.headers.entries());
        if (res.status === 401 && !headers['server-authorization'] && /tsm=/.test(headers['www-authenticate'] || '')) {
            const www = Hawk.utils.parseAuthorizationHeader(headers['www-authenticate'], ['ts', 'tsm', 'error']);
            const tsm = Hawk.crypto.calculateTsMac(www.ts, credentials);
            if (checks('tsm') && !sameSecret(tsm, www.tsm)) {
                throw new Refusal('stale_timestamp_unverified');
            }
            authority.offset = Number(www.ts) - Math.floor(Date.now() / 1000);
            continue;
        }
        if (checks('server-authorization')) {
            let verified;
            try {
                verified = Hawk.client.authenticate({ headers }, credentials, artifacts, { payload: text, required: true });
            }
            catch (err) {
                throw new Refusal('server_authorization_invalid');
            }
            if (verified.headers['server-authorization'].ext !== `status=${res.status}`) {
                throw new Refusal('server_authorization_invalid');
            }
        }
        let parsed = null;
        try {
            parsed = JSON.parse(text);
        }
        catch (err) {
            throw new Refusal('invalid_response');
        }
        return [res.status, parsed];
    }
    throw new Refusal('stale_timestamp');
};
const post = (authority, url, body) => call(authority, 'POST', url, body);

// ---- the login flow --------------------------------------------------------------------------

// spec 5.2: the handshake, with a fresh 128-bit state (TSR-CONSUMER-13).
const beginLogin = async (authority) => {
    const state = random(16);
    const [status, hs] = await post(authority, authority.metadata.handshake_endpoint, {
        redirect_uri: redirectUri(), grants: authority.grants, scopes: authority.scopes, state
    });
    if (status !== 200) {
        throw new Refusal('authority');
    }
    if (hs.iss !== authority.issuer || typeof hs.authorize_url !== 'string' ||
        !hs.authorize_url.startsWith(`${authority.issuer}/`) || typeof hs.sid !== 'string' || !hs.sid ||
        hs.authorize_url.includes(hs.sid)) {                    // TSR-CONSUMER-2: the sid never enters a browser
        throw new Refusal('invalid_response');
    }
    return {
        pending: { issuer: authority.issuer, sid: hs.sid, state, started: Date.now(), exp: hs.exp - authority.offset },
        authorizeUrl: hs.authorize_url
    };
};

const isBoolMap = (o, names) => o && typeof o === 'object' && !Array.isArray(o) &&
    Object.keys(o).length === names.length && names.every((n) => typeof o[n] === 'boolean');

// spec TSR-CONSUMER-7: the shapes of 5.5 before anything is used.
const checkResult = (r, authority) => {
    const ok = r && typeof r.sub === 'string' && /^[\x21-\x7e]{1,255}$/.test(r.sub) &&
        isBoolMap(r.grants, authority.grants) && isBoolMap(r.scopes, authority.scopes) &&
        Number.isInteger(r.exp) && r.ticket && typeof r.ticket === 'object';
    if (!ok) {
        return false;
    }
    const t = r.ticket;
    const granted = authority.scopes.filter((s) => r.scopes[s]).sort();
    const scope = Array.isArray(t.scope) ? [...new Set(t.scope)].sort() : null;
    return typeof t.id === 'string' && /^[\x20-\x7e]+$/.test(t.id) && !/["\\]/.test(t.id) &&
        typeof t.key === 'string' && t.key.length >= 43 && t.algorithm === 'sha256' &&
        t.app === authority.consumerId && t.user === r.sub && (t.dlg === null || t.dlg === undefined) &&
        typeof t.grant === 'string' && scope !== null && scope.length === t.scope.length &&
        JSON.stringify(scope) === JSON.stringify(granted);
};

// spec 5.4 and chapter 10: every check of the callback, in order, then the result request.
const completeLogin = async (session, query) => {
    const state = query.get('state');
    if (!state) {
        throw new Refusal('malformed_callback');
    }
    // TSR-CONSUMER-2, -3, -13: a pending login of this browser session with this state.
    let pending = null;
    let owner = session;
    if (!checks('binding')) {
        // (check removed) look the state up in every browser session
        for (const s of sessions.values()) {
            for (const p of s.pending.values()) {
                if (p.state === state) {
                    pending = p;
                    owner = s;
                }
            }
        }
    }
    else if (session) {
        if (checks('state')) {
            for (const p of session.pending.values()) {
                if (sameSecret(p.state, state)) {
                    pending = p;
                }
            }
        }
        else {
            pending = [...session.pending.values()].pop() || null;     // (check removed) the latest
        }
    }
    if (!pending) {
        throw new Refusal('no_pending_login');
    }
    // TSR-CONSUMER-6: used at most once, whatever happens next.
    if (checks('pending-once')) {
        owner.pending.delete(pending.state);
    }
    // TSR-CONSUMER-4
    if (checks('issuer') && query.get('iss') !== pending.issuer) {
        throw new Refusal(query.get('iss') ? 'issuer_mismatch' : 'missing_issuer');
    }
    // TSR-CONSUMER-12
    if (query.get('error')) {
        throw new Refusal(query.get('error') === 'access_denied' ? 'access_denied' : 'callback_error');
    }
    const code = query.get('code');
    if (!code) {
        throw new Refusal('malformed_callback');
    }
    const authority = authorities.find((a) => a.issuer === pending.issuer);
    if (!authority) {
        throw new Refusal('unknown_authority');
    }
    if (Math.floor(Date.now() / 1000) >= pending.exp) {
        throw new Refusal('pending_login_expired');
    }
    // TSR-CONSUMER-5: the pending login's Authority, its result endpoint, its key, the pending sid.
    const [status, r] = await post(authority, authority.metadata.result_endpoint, { sid: pending.sid, code });
    if (status !== 200) {
        throw new Refusal('authority');
    }
    if (checks('result-shape') && !checkResult(r, authority)) {
        throw new Refusal('invalid_response');
    }
    // TSR-CONSUMER-10: users keyed by (issuer, sub).
    const key = checks('issuer-keyed') ? `${authority.issuer}\n${r.sub}` : r.sub;
    if (!users.has(key)) {
        users.set(key, { issuer: authority.issuer, sub: r.sub, sid: pending.sid, ticket: r.ticket });
    }
    return users.get(key);
};

// ---- refresh ----------------------------------------------------------------------------------

// TSR-CONSUMER-15: one refresh request per sid at a time; concurrent refreshes share its outcome.
const refreshing = new Map();          // sid -> promise of the Authority's answer

const refreshRequest = (user) => {
    const sid = user.sid;
    if (checks('refresh-single-flight') && refreshing.has(sid)) {
        return refreshing.get(sid);
    }
    const answer = (async () => {
        const authority = authorities.find((a) => a.issuer === user.issuer);
        if (!authority) {
            throw new Refusal('unknown_authority');
        }
        const [status, r] = await post(authority, authority.metadata.refresh_endpoint, { sid });
        if (status !== 200) {
            throw new Refusal(r && /^[a-z_]{1,40}$/.test(r.error) ? r.error : 'authority');
        }
        // TSR-CONSUMER-7: the answer is about this sid, with a new one and a usable ticket.
        const t = r && r.ticket;
        if (!r || r.previous_sid !== sid || typeof r.sid !== 'string' || !r.sid || r.sid === sid ||
            !Number.isInteger(r.exp) || !t || t.app !== authority.consumerId || t.user !== user.sub ||
            typeof t.key !== 'string' || t.key.length < 43 || t.algorithm !== 'sha256') {
            throw new Refusal('invalid_response');
        }
        return r;
    })();
    refreshing.set(sid, answer);
    answer.catch(() => {}).finally(() => refreshing.delete(sid));
    return answer;
};

// The Subject is logged out everywhere: every browser session of this user, and the user's login.
const logout = (user) => {
    for (const s of sessions.values()) {
        if (s.user === user) {
            s.user = null;
        }
    }
    users.delete(`${user.issuer}\n${user.sub}`);
    users.delete(user.sub);
};

const LOGOUT_CODES = new Set(['session_reused', 'session_revoked', 'session_expired', 'unknown_session']);

// Refreshes the login of a browser session, as a page of this Consumer would before using it.
// TSR-CONSUMER-11: the new sid replaces the stored one before anything else uses it; a reuse or a
// revoked session is a logout.
const refreshSession = async (session) => {
    const user = session.user;
    if (!user) {
        return;
    }
    try {
        const r = await refreshRequest(user);
        if (checks('refresh-replace-sid') && user.sid === r.previous_sid) {
            user.sid = r.sid;
            user.ticket = r.ticket;
        }
    }
    catch (err) {
        const code = err instanceof Refusal ? err.code : 'internal';
        session.error = code;
        if (checks('refresh-logout') && LOGOUT_CODES.has(code)) {
            logout(user);
        }
    }
};

// ---- Subject data and logout -----------------------------------------------------------------

// spec 7.6: the Subject data with the login's ticket; used only once its Server-Authorization
// verified (TSR-CONSUMER-7) and its `sub` is the login's (TSR-DATA-2).
const subjectData = async (user) => {
    const authority = authorities.find((a) => a.issuer === user.issuer);
    if (!authority) {
        throw new Refusal('unknown_authority');
    }
    const [status, data] = await call(authority, 'GET', authority.metadata.subject_endpoint, undefined, user.ticket);
    if (status !== 200) {
        throw new Refusal(data && /^[a-z_]{1,40}$/.test(data.error) ? data.error : 'authority');
    }
    if (!data || typeof data !== 'object' || data.sub !== user.sub) {
        throw new Refusal('subject_mismatch');
    }
    return data;
};

// Logout: the session family revoked at the Authority (spec 6.4, TSR-REVOKE-1; best effort), the
// browser session forgotten. Returns the Set-Cookie that clears the cookie.
const logoutSession = async (id, session) => {
    const user = session.user;
    sessions.delete(id);
    users.delete(`${user.issuer}\n${user.sub}`);
    const authority = authorities.find((a) => a.issuer === user.issuer);
    if (authority) {
        try {
            await post(authority, authority.metadata.revoke_endpoint, { sid: user.sid });
        }
        catch (err) {
            // the login is gone here either way; the family dies with its expiry
        }
    }
    return `${COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax${base.startsWith('https:') ? '; Secure' : ''}`;
};

// ---- browser sessions -------------------------------------------------------------------------

const cookieOf = (req) => {
    for (const part of (req.headers.cookie || '').split(';')) {
        const [k, v] = part.trim().split('=');
        if (k === COOKIE && v) {
            return v;
        }
    }
    return null;
};

const newSession = () => {
    if (sessions.size >= MAX_SESSIONS) {
        sessions.delete(sessions.keys().next().value);
    }
    const id = random(32);
    sessions.set(id, { csrf: random(32), pending: new Map(), user: null, error: null });
    return id;
};

// TSR-CONSUMER-2: HttpOnly, SameSite=Lax, Secure over https.
const setCookie = (id) => `${COOKIE}=${id}; Path=/; HttpOnly; SameSite=Lax${base.startsWith('https:') ? '; Secure' : ''}`;

const escape = (s) => String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));

const send = (res, status, headers, body = '') => {
    res.writeHead(status, {
        'cache-control': 'no-store',
        'referrer-policy': 'no-referrer',                       // TSR-CONSUMER-9
        'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
        ...headers
    });
    res.end(body);
};
const html = (res, status, title, body, headers = {}) => send(res, status, { 'content-type': 'text/html; charset=utf-8', ...headers },
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escape(title)}</title></head><body>${body}</body></html>`);
const json = (res, status, value) => send(res, status, { 'content-type': 'application/json' }, JSON.stringify(value));
const refuse = (res, session, code) => {
    if (session) {
        session.error = code;
    }
    send(res, 303, { location: `/error?reason=${encodeURIComponent(code)}` });
};

const readBody = (req) => new Promise((resolve, reject) => {
    let data = '';
    req.setEncoding('utf8');
    req.on('data', (chunk) => {
        data += chunk;
        if (data.length > 65536) {
            reject(new Refusal('too_large'));
            req.destroy();
        }
    });
    req.on('end', () => resolve(data));
    req.on('error', reject);
});

// ---- routes -----------------------------------------------------------------------------------

const routes = {
    // TSR-CONSUMER-14: a GET only shows the form; it never starts a login.
    'GET /login': (req, res, url) => {
        let id = cookieOf(req);
        const headers = {};
        if (!id || !sessions.has(id)) {
            id = newSession();
            headers['set-cookie'] = setCookie(id);
        }
        const authority = url.searchParams.get('authority') || (authorities[0] && authorities[0].issuer) || '';
        html(res, 200, 'Sign in', `<h1>Sign in</h1><form method="post" action="/login">` +
            `<input type="hidden" name="csrf" value="${escape(sessions.get(id).csrf)}">` +
            `<input type="hidden" name="authority" value="${escape(authority)}">` +
            `<button type="submit">Continue to sign in</button></form>`, headers);
    },

    // TSR-CONSUMER-14: only a same-origin POST with this browser session's CSRF token starts one.
    'POST /login': async (req, res) => {
        const session = sessions.get(cookieOf(req));
        const form = new URLSearchParams(await readBody(req));
        if (checks('start-csrf')) {
            // The token is what proves the form is ours. Origin is checked too where the browser
            // names one: under this page's Referrer-Policy: no-referrer it sends "null".
            const origin = req.headers.origin;
            const foreign = origin && origin !== 'null' && origin !== base;
            if (!session || !sameSecret(session.csrf, form.get('csrf') || '') || foreign) {
                return refuse(res, session, 'login_csrf');
            }
        }
        const authority = authorities.find((a) => a.issuer === form.get('authority')) || authorities[0];
        if (!authority) {
            return refuse(res, session, 'unknown_authority');
        }
        const start = await beginLogin(authority);
        const owner = session || sessions.get(newSession());
        if (owner.pending.size >= MAX_PENDING) {
            owner.pending.delete(owner.pending.keys().next().value);    // the oldest goes first
        }
        owner.pending.set(start.pending.state, start.pending);
        send(res, 303, { location: start.authorizeUrl });
    },

    'GET /callback': async (req, res, url) => {
        const oldId = cookieOf(req);
        const session = sessions.get(oldId) || null;
        const keys = [...url.searchParams.keys()];
        if (new Set(keys).size !== keys.length) {
            return refuse(res, session, 'malformed_callback');
        }
        let user;
        try {
            user = await completeLogin(session, url.searchParams);
        }
        catch (err) {
            return refuse(res, session, err instanceof Refusal ? err.code : 'internal');
        }
        // TSR-CONSUMER-8: a new session id; other pending logins (other tabs) move with it.
        const id = newSession();
        const fresh = sessions.get(id);
        fresh.user = user;
        if (session) {
            fresh.pending = session.pending;
            sessions.delete(oldId);
        }
        send(res, 303, { location: '/', 'set-cookie': setCookie(id) });      // no code in the URL
    },

    'GET /': (req, res) => {
        const session = sessions.get(cookieOf(req));
        const who = session && session.user ? `Logged in as <code>${escape(session.user.sub)}</code> at ${escape(session.user.issuer)}.` : 'Not logged in.';
        html(res, 200, 'Tessera Consumer (Node.js)', `<p>${who}</p>` + authorities.map((a) =>
            `<form method="get" action="/login"><input type="hidden" name="authority" value="${escape(a.issuer)}"><button>Log in with ${escape(a.issuer)}</button></form>`).join(''));
    },

    'GET /error': (req, res, url) => {
        const reason = /^[a-z_]{1,40}$/.test(url.searchParams.get('reason') || '') ? url.searchParams.get('reason') : 'unknown';
        html(res, 400, 'Sign-in refused', `<h1>Sign-in refused</h1><p>Reason: <code>${reason}</code></p><p><a href="/">Start again</a></p>`);
    }
};

// spec A.6.1: the test mode's endpoints, only with TESSERA_TEST_MODE=1 (TSR-CONF-7).
const testRoutes = {
    'GET /tessera-test/consumer': (req, res) => json(res, 200, { redirect_uri: redirectUri(), login_url: `${base}/login` }),

    'POST /tessera-test/reset': async (req, res) => {
        let body;
        try {
            body = JSON.parse(await readBody(req));
        }
        catch (err) {
            return json(res, 400, { error: 'invalid_request' });
        }
        if (!body || !Array.isArray(body.authorities)) {
            return json(res, 400, { error: 'invalid_request' });
        }
        sessions = new Map();
        users = new Map();
        authorities = [];
        try {
            const configured = [];
            for (const registration of body.authorities) {
                configured.push(await discover(registration));
            }
            authorities = configured;
            json(res, 200, {});
        }
        catch (err) {
            json(res, 400, { error: err instanceof Refusal ? err.code : 'invalid_config' });
        }
    },

    'GET /tessera-test/session': (req, res) => sessionState(res, sessions.get(cookieOf(req))),

    // `concurrent` refreshes of this browser session's login at once, as that many requests of
    // its pages arriving together would make them (TSR-CONF-13).
    'POST /tessera-test/refresh': async (req, res) => {
        let body;
        try {
            body = JSON.parse(await readBody(req) || '{}');
        }
        catch (err) {
            return json(res, 400, { error: 'invalid_request' });
        }
        const n = body && body.concurrent !== undefined ? body.concurrent : 1;
        if (!Number.isInteger(n) || n < 1 || n > 8) {
            return json(res, 400, { error: 'invalid_request' });
        }
        const session = sessions.get(cookieOf(req));
        if (session) {
            await Promise.all(Array.from({ length: n }, () => refreshSession(session)));
        }
        sessionState(res, session);
    },

    // The Subject data for this browser session's login, as a page of this Consumer reads it,
    // after its checks (TSR-CONF-14).
    'POST /tessera-test/subject': async (req, res) => {
        const session = sessions.get(cookieOf(req));
        let data = null;
        if (session && session.user) {
            try {
                data = await subjectData(session.user);
            }
            catch (err) {
                session.error = err instanceof Refusal ? err.code : 'internal';
            }
        }
        sessionState(res, session, { data });
    },

    // Log this browser session out as this Consumer's logout does (TSR-CONF-15).
    'POST /tessera-test/logout': async (req, res) => {
        const id = cookieOf(req);
        const session = sessions.get(id);
        const headers = {};
        if (session && session.user) {
            headers['set-cookie'] = await logoutSession(id, session);
        }
        sessionState(res, sessions.get(id), {}, headers);
    }
};

const sessionState = (res, session, extra = {}, headers = {}) => {
    const user = session && session.user;
    send(res, 200, { 'content-type': 'application/json', ...headers }, JSON.stringify({
        logged_in: user ? { issuer: user.issuer, sub: user.sub } : null,
        error: (session && session.error) || null,
        ...extra
    }));
};

const server = Http.createServer(async (req, res) => {
    const url = new URL(req.url, base);
    const route = `${req.method} ${url.pathname}`;
    const handler = routes[route] || (TEST_MODE && testRoutes[route]);
    try {
        if (!handler) {
            return send(res, 404, { 'content-type': 'text/plain' }, 'not found');
        }
        await handler(req, res, url);
    }
    catch (err) {
        if (!res.headersSent) {
            refuse(res, sessions.get(cookieOf(req)), err instanceof Refusal ? err.code : 'internal');
        }
    }
});

const main = async () => {
    const host = process.env.HOST || '127.0.0.1';
    await new Promise((resolve) => server.listen(Number(process.env.PORT || 0), host, resolve));
    base = `http://${host}:${server.address().port}`;
    if (!TEST_MODE && process.env.TESSERA_AUTHORITIES) {
        for (const registration of JSON.parse(process.env.TESSERA_AUTHORITIES)) {
            authorities.push(await discover(registration));
        }
    }
    process.stdout.write(`${base}\n`);
};

main().catch((err) => {
    process.stderr.write(`cannot start: ${err.message}\n`);
    process.exit(1);
});
