//! The Authority's configuration: issuer, TTLs (spec 2.4), Hawk skew, conformance mode.

use crate::wire::TtlMetadata;

/// Time-to-live defaults (spec 2.4, TTL table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ttls {
    /// Authorize request and pending session: 600 s.
    pub authorize: i64,
    /// Code: 60 s (never over 600 s, spec TSR-CONV-13).
    pub code: i64,
    /// Active session: 1 day.
    pub session: i64,
    /// Family: 30 days.
    pub family: i64,
    /// Ticket: 1 hour.
    pub ticket: i64,
    /// App ticket: 1 hour.
    pub app_ticket: i64,
    /// The Subject's login cookie at the Authority: 1 hour.
    pub login: i64,
}

impl Default for Ttls {
    fn default() -> Self {
        Self {
            authorize: 600,
            code: 60,
            session: 86_400,
            family: 2_592_000,
            ticket: 3_600,
            app_ticket: 3_600,
            login: 3_600,
        }
    }
}

impl Ttls {
    /// The TTLs as published in the metadata (spec TSR-META-2).
    #[must_use]
    pub fn metadata(&self) -> TtlMetadata {
        TtlMetadata {
            authorize: self.authorize,
            code: self.code,
            session: self.session,
            family: self.family,
            ticket: self.ticket,
        }
    }
}

/// The Authority's issuer identifier (spec 1.1) with the host and port Hawk MACs are bound to
/// (spec TSR-HAWK-4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issuer {
    url: String,
    host: String,
    port: u16,
    https: bool,
}

/// Why an issuer identifier was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the issuer must be an http(s) URL with a host, an optional port and no path, query or fragment (e.g. https://auth.example)")]
pub struct BadIssuer;

impl Issuer {
    /// Parses `scheme://host[:port]`, without path (a single trailing `/` is dropped).
    pub fn parse(s: &str) -> Result<Self, BadIssuer> {
        let u = url::Url::parse(s).map_err(|_| BadIssuer)?;
        let https = match u.scheme() {
            "https" => true,
            "http" => false,
            _ => return Err(BadIssuer),
        };
        if !(u.path() == "/" || u.path().is_empty())
            || u.query().is_some()
            || u.fragment().is_some()
            || !u.username().is_empty()
            || u.password().is_some()
        {
            return Err(BadIssuer);
        }
        let host = u.host_str().ok_or(BadIssuer)?.to_ascii_lowercase();
        let port = u.port_or_known_default().ok_or(BadIssuer)?;
        let mut url = u.to_string();
        while url.ends_with('/') {
            url.pop();
        }
        Ok(Self {
            url,
            host,
            port,
            https,
        })
    }

    /// The issuer identifier, e.g. `https://auth.example`.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.url
    }

    /// Host for the Hawk normalized string (lower case).
    #[must_use]
    pub fn host(&self) -> &str {
        &self.host
    }

    /// Port for the Hawk normalized string (443/80 when the URL names none).
    #[must_use]
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Whether the issuer is `https` (cookies are then `Secure`, spec TSR-AUTHZ-6).
    #[must_use]
    pub fn is_https(&self) -> bool {
        self.https
    }

    /// `{issuer}{path}`.
    #[must_use]
    pub fn endpoint(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }
}

/// Limits of the HTTP listener (spec TSR-CONV-14): what a slow or idle client may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpLimits {
    /// From a connection's opening, or the first byte of a request on a kept-alive
    /// connection, until the request head is complete: 10 s.
    pub header_timeout: std::time::Duration,
    /// From the request head until the whole body is read: 10 s (then `408 request_timeout`).
    pub body_timeout: std::time::Duration,
    /// How long a kept-alive connection may wait for its next request, and how long a
    /// response may wait for a client that does not read it: 30 s.
    pub idle_timeout: std::time::Duration,
    /// Open connections at once; one more is answered `503 temporarily_unavailable` and
    /// closed: 512 (raise it together with the process's file limit, `ulimit -n`).
    pub max_connections: usize,
}

impl Default for HttpLimits {
    fn default() -> Self {
        Self {
            header_timeout: std::time::Duration::from_secs(10),
            body_timeout: std::time::Duration::from_secs(10),
            idle_timeout: std::time::Duration::from_secs(30),
            max_connections: 512,
        }
    }
}

/// Login throttling (spec TSR-AUTHZ-8); see `server::login_limit` for how they combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginLimits {
    /// Free failures per (account, client) before the back-off: 10.
    pub failures_per_account_client: u32,
    /// Failures per network address per minute, over all accounts: 30.
    pub failures_per_client_per_minute: u32,
    /// Failures per minute over everything before every attempt is slowed down: 300.
    pub global_failures_per_minute: u32,
}

impl Default for LoginLimits {
    fn default() -> Self {
        Self {
            failures_per_account_client: 10,
            failures_per_client_per_minute: 30,
            global_failures_per_minute: 300,
        }
    }
}

/// Everything the Authority is configured with.
#[derive(Debug, Clone)]
pub struct Config {
    /// The issuer identifier.
    pub issuer: Issuer,
    /// The Authority's name for people, at the top of its pages ("Sign in to …"): "Tessera
    /// Authority" unless the operator names it (`tessera serve --name`).
    pub name: String,
    /// TTLs.
    pub ttl: Ttls,
    /// Hawk timestamp skew in seconds (60; never over 300, spec TSR-CONV-13).
    pub skew: i64,
    /// Conformance mode (appendix A).
    pub conformance: bool,
    /// Most nonces remembered at once (spec TSR-HAWK-11). The default, 200,000 × 61, absorbs
    /// 200k signed requests/s over the 60 s skew; the replay cache is also bounded in bytes
    /// (about 21 bytes per nonce, so at most ~256 MB at this capacity).
    pub nonce_capacity: usize,
    /// Most live nonces one Consumer may hold (its Consumer key and its tickets together), so
    /// that one Consumer can neither evict nor lock out another (default: half the capacity).
    pub nonce_owner_quota: usize,
    /// Login throttling (spec TSR-AUTHZ-8).
    pub login: LoginLimits,
    /// Argon2 cost of the hashes this Authority makes (`tessera subject add`: production);
    /// the dummy hash for unknown login names starts with it and then follows the stored
    /// hashes (spec TSR-AUTHZ-8). Conformance mode always uses [`Cost::FIXTURE`].
    pub password_cost: crate::password::Cost,
    /// Limits of the HTTP listener.
    pub http: HttpLimits,
    /// Handshakes one Consumer may start per minute; more get `429 too_many_requests` (spec
    /// TSR-CONV-16): 600.
    pub handshakes_per_consumer_per_minute: u32,
    /// How long after its expiry a session that was never redeemed (pending, denied,
    /// authorized) is deleted (spec TSR-CONV-16): 600 s, so for that long a late `/v1/result`
    /// still gets `session_expired` rather than `unknown_session`.
    pub undecided_grace: i64,
}

impl Config {
    /// Defaults of spec 2.4 for `issuer`.
    #[must_use]
    pub fn new(issuer: Issuer) -> Self {
        Self {
            issuer,
            name: "Tessera Authority".into(),
            ttl: Ttls::default(),
            skew: 60,
            conformance: false,
            nonce_capacity: 200_000 * 61,
            nonce_owner_quota: 100_000 * 61,
            login: LoginLimits::default(),
            password_cost: crate::password::Cost::PRODUCTION,
            http: HttpLimits::default(),
            handshakes_per_consumer_per_minute: 600,
            undecided_grace: 600,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issuer_forms() {
        let i = Issuer::parse("https://Auth.Example").unwrap();
        assert_eq!(
            (i.as_str(), i.host(), i.port()),
            ("https://auth.example", "auth.example", 443)
        );
        let i = Issuer::parse("http://127.0.0.1:7700/").unwrap();
        assert_eq!((i.as_str(), i.port()), ("http://127.0.0.1:7700", 7700));
        assert_eq!(Issuer::parse("http://localhost").unwrap().port(), 80);
        for bad in [
            "ftp://x",
            "https://x/path",
            "https://x?q",
            "https://u@x",
            "x",
        ] {
            assert!(Issuer::parse(bad).is_err(), "{bad}");
        }
    }
}
