//! One configured Authority: its endpoints and this Consumer's registration there.

use super::error::{Error, Result};
use tessera_protocol::wire::Metadata;

/// The well-known path of the metadata document (spec 5.1).
pub const WELL_KNOWN_PATH: &str = "/.well-known/tessera-authority";

/// The Authority's endpoints, as its metadata publishes them (spec 5.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    /// The issuer identifier, without a trailing `/`.
    pub issuer: String,
    /// `POST /v1/handshake`.
    pub handshake: String,
    /// `POST /v1/result`.
    pub result: String,
    /// `POST /v1/refresh`.
    pub refresh: String,
    /// `POST /v1/revoke`.
    pub revoke: String,
    /// `GET /v1/subject`.
    pub subject: String,
    /// `GET /v1/ticket`.
    pub ticket: String,
    /// `POST /v1/delegate` (spec 7.7).
    pub delegate: String,
    /// `POST /v1/exchange` (spec 7.7).
    pub exchange: String,
}

impl Endpoints {
    /// The reference layout under `issuer` (`{issuer}/v1/handshake`, …), for configuring an
    /// Authority by hand. The issuer is checked as in [`check_issuer`].
    pub fn reference_layout(issuer: &str) -> Result<Self> {
        let issuer = check_issuer(issuer)?;
        let e = |p: &str| format!("{issuer}{p}");
        Ok(Self {
            handshake: e("/v1/handshake"),
            result: e("/v1/result"),
            refresh: e("/v1/refresh"),
            revoke: e("/v1/revoke"),
            subject: e("/v1/subject"),
            ticket: e("/v1/ticket"),
            delegate: e("/v1/delegate"),
            exchange: e("/v1/exchange"),
            issuer,
        })
    }

    /// Endpoints from a metadata document fetched from `{expected_issuer}/.well-known/…`.
    ///
    /// spec TSR-META-1: the document's `issuer` must equal the URL it came from less the
    /// well-known path, and every endpoint must lie under the issuer. The Authority must offer
    /// protocol version 1.1 and Hawk sha256.
    pub fn from_metadata(expected_issuer: &str, m: &Metadata) -> Result<Self> {
        let expected = check_issuer(expected_issuer)?;
        // spec TSR-META-1: exact string equality, no normalisation.
        if m.issuer != expected {
            return Err(Error::MetadataIssuerMismatch {
                expected,
                got: m.issuer.clone(),
            });
        }
        let under = |name: &str, url: &str| -> Result<String> {
            // spec TSR-META-1: `{issuer}/…`, not merely a string prefix (which would admit
            // `https://auth.example.evil/…`).
            if url.starts_with(&format!("{expected}/")) {
                Ok(url.to_owned())
            } else {
                Err(Error::MetadataInvalid(format!(
                    "{name} is not under the issuer {expected}"
                )))
            }
        };
        // spec TSR-META-3: a v1 Authority neither takes nor echoes `state`.
        if m.protocol_version != tessera_protocol::PROTOCOL_VERSION {
            return Err(Error::MetadataInvalid(format!(
                "protocol_version {:?} is not {}",
                m.protocol_version
                    .chars()
                    .filter(char::is_ascii_graphic)
                    .take(20)
                    .collect::<String>(),
                tessera_protocol::PROTOCOL_VERSION
            )));
        }
        if !m.hawk.algorithms.iter().any(|x| x == "sha256") {
            return Err(Error::MetadataInvalid(
                "Hawk sha256 is not supported".into(),
            ));
        }
        Ok(Self {
            handshake: under("handshake_endpoint", &m.handshake_endpoint)?,
            result: under("result_endpoint", &m.result_endpoint)?,
            refresh: under("refresh_endpoint", &m.refresh_endpoint)?,
            revoke: under("revoke_endpoint", &m.revoke_endpoint)?,
            subject: under("subject_endpoint", &m.subject_endpoint)?,
            ticket: under("ticket_endpoint", &m.ticket_endpoint)?,
            delegate: under("delegate_endpoint", &m.delegate_endpoint)?,
            exchange: under("exchange_endpoint", &m.exchange_endpoint)?,
            issuer: expected,
        })
    }
}

/// Checks an issuer identifier: `https://host[:port]`, or `http` on a loopback host (spec
/// TSR-CONV-1); no path, query, fragment or user-info. Returns it without a trailing `/`.
pub fn check_issuer(issuer: &str) -> Result<String> {
    let bad = |why: &str| Error::InvalidConfig(format!("issuer {issuer:?}: {why}"));
    let u = url::Url::parse(issuer).map_err(|_| bad("not an absolute URL"))?;
    check_transport(&u).map_err(|w| bad(&w))?;
    if !(u.path() == "/" || u.path().is_empty())
        || u.query().is_some()
        || u.fragment().is_some()
        || !u.username().is_empty()
        || u.password().is_some()
    {
        return Err(bad("must have no path, query, fragment or user-info"));
    }
    Ok(issuer.trim_end_matches('/').to_owned())
}

/// spec TSR-CONV-1: `https`, or `http` only on a loopback host.
pub(crate) fn check_transport(u: &url::Url) -> std::result::Result<(), String> {
    match u.scheme() {
        "https" => Ok(()),
        "http" if is_loopback(u) => Ok(()),
        "http" => Err("http is allowed only on a loopback host".into()),
        _ => Err("scheme must be https".into()),
    }
}

fn is_loopback(u: &url::Url) -> bool {
    match u.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// This Consumer's registration at one Authority (spec 3.1): what the Authority's operator
/// gave it.
#[derive(Clone)]
pub struct Registration {
    /// The `consumer_id`.
    pub consumer_id: String,
    /// The Hawk key, as the base64url string the Authority showed (used as its bytes, spec 4.1).
    pub key: String,
    /// The redirect URI to send in handshakes; one of the registered ones, exactly.
    pub redirect_uri: String,
    /// Grants (roles) to ask about at each login.
    pub grants: Vec<String>,
    /// Scopes (Subject data) to ask for at each login.
    pub scopes: Vec<String>,
}

impl std::fmt::Debug for Registration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registration")
            .field("consumer_id", &self.consumer_id)
            .field("key", &"<redacted>")
            .field("redirect_uri", &self.redirect_uri)
            .field("grants", &self.grants)
            .field("scopes", &self.scopes)
            .finish()
    }
}

/// One Authority this Consumer can log Subjects in with.
#[derive(Debug, Clone)]
pub struct AuthorityConfig {
    /// Its endpoints.
    pub endpoints: Endpoints,
    /// This Consumer's registration there.
    pub registration: Registration,
}

impl AuthorityConfig {
    /// Configures an Authority by hand, with the reference endpoint layout under `issuer`.
    pub fn new(issuer: &str, registration: Registration) -> Result<Self> {
        Self::with_endpoints(Endpoints::reference_layout(issuer)?, registration)
    }

    /// Configures an Authority by hand with explicit endpoints.
    pub fn with_endpoints(endpoints: Endpoints, registration: Registration) -> Result<Self> {
        check_issuer(&endpoints.issuer)?;
        for url in [
            &endpoints.handshake,
            &endpoints.result,
            &endpoints.refresh,
            &endpoints.revoke,
            &endpoints.subject,
            &endpoints.ticket,
        ] {
            let u = url::Url::parse(url)
                .map_err(|_| Error::InvalidConfig(format!("endpoint {url:?} is not a URL")))?;
            check_transport(&u)
                .map_err(|w| Error::InvalidConfig(format!("endpoint {url:?}: {w}")))?;
        }
        let r = url::Url::parse(&registration.redirect_uri)
            .map_err(|_| Error::InvalidConfig("redirect_uri is not an absolute URL".into()))?;
        check_transport(&r).map_err(|w| Error::InvalidConfig(format!("redirect_uri: {w}")))?;
        tessera_protocol::hawk::Credentials::new(
            registration.consumer_id.clone(),
            registration.key.as_bytes(),
            "sha256",
        )
        .map_err(|e| Error::InvalidConfig(format!("credentials: {e}")))?;
        Ok(Self {
            endpoints,
            registration,
        })
    }

    /// The issuer identifier.
    #[must_use]
    pub fn issuer(&self) -> &str {
        &self.endpoints.issuer
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metadata(issuer: &str) -> Metadata {
        let e = |p: &str| format!("{issuer}{p}");
        Metadata {
            issuer: issuer.into(),
            handshake_endpoint: e("/v1/handshake"),
            authorize_endpoint: e("/authorize"),
            result_endpoint: e("/v1/result"),
            refresh_endpoint: e("/v1/refresh"),
            revoke_endpoint: e("/v1/revoke"),
            app_ticket_endpoint: e("/v1/app-ticket"),
            reissue_endpoint: e("/v1/reissue"),
            delegate_endpoint: e("/v1/delegate"),
            exchange_endpoint: e("/v1/exchange"),
            subject_endpoint: e("/v1/subject"),
            ticket_endpoint: e("/v1/ticket"),
            hawk: tessera_protocol::wire::HawkMetadata {
                version: "1.1".into(),
                algorithms: vec!["sha256".into()],
                timestamp_skew_seconds: 60,
            },
            grants_supported: vec![],
            scopes_supported: vec![],
            ttl: tessera_protocol::wire::TtlMetadata {
                authorize: 600,
                code: 60,
                session: 86_400,
                family: 2_592_000,
                ticket: 3_600,
            },
            conformance_mode: false,
            protocol_version: "1.1".into(),
        }
    }

    /// spec TSR-META-1
    #[test]
    fn metadata_rules() {
        let i = "https://auth.example";
        assert!(Endpoints::from_metadata(i, &metadata(i)).is_ok());
        let e = Endpoints::from_metadata("https://other.example", &metadata(i)).unwrap_err();
        assert!(matches!(e, Error::MetadataIssuerMismatch { .. }));
        // A string prefix is not enough: `https://auth.example.evil/…` is not under the issuer.
        let mut m = metadata(i);
        m.result_endpoint = "https://auth.example.evil/v1/result".into();
        assert!(matches!(
            Endpoints::from_metadata(i, &m),
            Err(Error::MetadataInvalid(_))
        ));
        let mut m = metadata(i);
        // spec TSR-META-3: a v1 Authority would neither take nor echo `state`
        m.protocol_version = "1".into();
        assert!(matches!(
            Endpoints::from_metadata(i, &m),
            Err(Error::MetadataInvalid(_))
        ));
    }

    #[test]
    fn issuer_rules() {
        assert_eq!(
            check_issuer("https://a.example/").unwrap(),
            "https://a.example"
        );
        assert!(check_issuer("http://127.0.0.1:7").is_ok());
        assert!(check_issuer("http://localhost:7").is_ok());
        for bad in [
            "http://a.example",
            "ftp://a",
            "https://a/x",
            "https://a?x",
            "a",
        ] {
            assert!(check_issuer(bad).is_err(), "{bad}");
        }
    }
}
