//! `tessera demo-consumer`: the demo Consumer app of [`super::app`] against any Authority — for
//! a newcomer, the one they started with `tessera serve` and registered a Consumer at with
//! `tessera consumer add`. It uses only the Consumer library (`tessera-consumer`).
//!
//! At start it fetches the Authority's metadata and makes one test handshake, so a wrong key,
//! an unregistered redirect URI or a scope the registration lacks is reported at once, in
//! words that say what to change, rather than after the Subject's password. (The test
//! handshake leaves one pending session at the Authority, which expires with its authorize
//! TTL.)

use super::app;
use crate::consumer::web::{WebConsumer, WebOptions};
use crate::consumer::{default_http_client, Consumer, Error, Registration};
use crate::server;
use std::net::SocketAddr;

type AnyError = Box<dyn std::error::Error + Send + Sync>;

/// How to start the demo Consumer against an Authority.
#[derive(Clone)]
pub struct StandaloneOptions {
    /// The Authority's issuer (`http://127.0.0.1:7700`) or its metadata URL.
    pub authority: String,
    /// The registered `consumer_id`.
    pub consumer_id: String,
    /// The Consumer's key (what `tessera consumer add` printed once).
    pub key: String,
    /// Where to listen.
    pub listen: SocketAddr,
    /// The registered redirect URI to use; its origin is the URL to open in the browser.
    pub redirect_uri: String,
    /// Grants (roles) to ask about.
    pub grants: Vec<String>,
    /// Scopes (Subject data) to ask for.
    pub scopes: Vec<String>,
}

impl std::fmt::Debug for StandaloneOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StandaloneOptions")
            .field("authority", &self.authority)
            .field("consumer_id", &self.consumer_id)
            .field("key", &"<redacted>")
            .field("listen", &self.listen)
            .field("redirect_uri", &self.redirect_uri)
            .field("grants", &self.grants)
            .field("scopes", &self.scopes)
            .finish()
    }
}

/// The redirect URI to use when none is given: `/callback` on the `listen` port, under the
/// loopback host name the Authority does not use (`localhost`, or `127.0.0.1` when the
/// Authority is on `localhost`), because cookies are per host name, not per port: on the
/// Authority's host name the two sites' cookies would mix (spec TSR-AUTHZ-6).
#[must_use]
pub fn default_redirect_uri(authority: &str, listen: SocketAddr) -> String {
    let authority_host = host_of(authority).unwrap_or_default();
    let host = if authority_host == "localhost" {
        "127.0.0.1"
    } else {
        "localhost"
    };
    format!("http://{host}:{}/callback", listen.port())
}

/// The key file: the key alone, or what `tessera consumer add` printed (`consumer_id: …`,
/// `key: …`, `algorithm: …` lines). Returns the `consumer_id` when the file names one.
pub fn parse_key_file(text: &str) -> Result<(Option<String>, String), String> {
    let mut id = None;
    let mut key = None;
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        match line.split_once(':') {
            Some(("consumer_id", v)) => id = Some(v.trim().to_owned()),
            Some(("key", v)) => key = Some(v.trim().to_owned()),
            Some(("algorithm", v)) if v.trim() != "sha256" => {
                return Err(format!(
                    "the key file says algorithm {}; Tessera keys are sha256",
                    v.trim()
                ))
            }
            Some(("algorithm", _)) => {}
            _ if key.is_none() && !line.contains(char::is_whitespace) => {
                key = Some(line.to_owned());
            }
            _ => {
                return Err(
                    "the key file holds neither a key alone nor the `key: …` line that \
                     `tessera consumer add` prints"
                        .into(),
                )
            }
        }
    }
    let key = key
        .filter(|k| !k.is_empty())
        .ok_or("the key file is empty")?;
    Ok((id, key))
}

/// A running demo Consumer.
#[derive(Debug)]
pub struct RunningConsumer {
    /// The URL to open in the browser (the redirect URI's origin).
    pub consumer_url: String,
    /// The Authority's issuer, as its metadata names it.
    pub issuer: String,
    /// The integration (its sessions and its [`Consumer`]).
    pub web: WebConsumer,
    shutdown: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl RunningConsumer {
    /// Stops the server.
    pub async fn stop(self) {
        let _ = self.shutdown.send(());
        let _ = self.task.await;
    }
}

fn host_of(url: &str) -> Option<String> {
    url::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_ascii_lowercase))
}

/// Discovers the Authority, checks the registration with one handshake, and serves the demo
/// Consumer app on `opts.listen`.
pub async fn start(opts: StandaloneOptions) -> Result<RunningConsumer, AnyError> {
    let redirect = url::Url::parse(&opts.redirect_uri).map_err(|_| {
        format!(
            "--redirect-uri {:?} is not an absolute URL",
            opts.redirect_uri
        )
    })?;
    let consumer_url = redirect.origin().ascii_serialization();
    let consumer_host = host_of(&consumer_url).unwrap_or_default();
    let registration = Registration {
        consumer_id: opts.consumer_id.clone(),
        key: opts.key.clone(),
        redirect_uri: opts.redirect_uri.clone(),
        grants: opts.grants.clone(),
        scopes: opts.scopes.clone(),
    };
    let authority = Consumer::discover(&default_http_client(), &opts.authority, registration)
        .await
        .map_err(|e| explain_discovery(&e, &opts.authority))?;
    let issuer = authority.issuer().to_owned();
    let authority_host = host_of(&issuer).unwrap_or_default();
    if authority_host == consumer_host {
        return Err(format!(
            "the demo Consumer ({consumer_url}) and the Authority ({issuer}) share the host name \
             {consumer_host}: the browser would mix their cookies (cookies are per host name, \
             not per port). Register and pass a redirect URI on another name, e.g. \
             --redirect-uri {}",
            default_redirect_uri(&issuer, opts.listen)
        )
        .into());
    }
    let consumer = Consumer::new(vec![authority])?;
    if let Err(e) = consumer.begin_login(None).await {
        return Err(explain_handshake(&e, &opts).into());
    }
    let listener = crate::listen::bind(&opts.listen.to_string(), "--listen").await?;
    let options = WebOptions {
        app_name: app::APP_NAME.into(),
        ..WebOptions::default()
    };
    let web = WebConsumer::new(consumer, options);
    let router = app::host_guard(app::router(&web), &consumer_url, &authority_host);
    let (shutdown, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(server::serve(listener, router, async move {
        let _ = rx.await;
    }));
    Ok(RunningConsumer {
        consumer_url,
        issuer,
        web,
        shutdown,
        task,
    })
}

fn explain_discovery(e: &Error, authority: &str) -> String {
    match e {
        Error::Transport(why) => format!(
            "cannot reach the Authority at {authority} ({why}); is `tessera serve` running there? \
             (its address is its --addr, http://127.0.0.1:7700 by default)"
        ),
        Error::MetadataIssuerMismatch { got, .. } => format!(
            "the Authority at {authority} names itself {got}; pass --authority {got} (the \
             issuer is compared exactly, host name included)"
        ),
        Error::MetadataInvalid(_) => format!(
            "{authority} does not serve Tessera metadata ({e}); pass the Authority's issuer URL"
        ),
        _ => format!("cannot use the Authority at {authority}: {e}"),
    }
}

fn explain_handshake(e: &Error, o: &StandaloneOptions) -> String {
    let id = &o.consumer_id;
    match e {
        Error::ServerAuthorizationMissing { status: 401 } => format!(
            "the Authority did not accept consumer_id {id:?} with this key (401): check \
             --consumer-id and the key in --key-file (what `tessera consumer add` printed), and \
             that the Consumer is registered in the database this `tessera serve` uses (--db)"
        ),
        Error::Authority { code, .. } if code == "invalid_redirect_uri" => format!(
            "{} is not a registered redirect URI of {id:?}: register it (`tessera consumer add \
             --id {id} … --redirect-uri {0}`), or pass the registered one with --redirect-uri",
            o.redirect_uri
        ),
        Error::Authority { code, .. } if code == "grant_not_allowed" => format!(
            "{id:?} is not registered for every --grant asked for ({}); drop those, or \
             register the Consumer with them (`tessera consumer add … --grant NAME`)",
            o.grants.join(" ")
        ),
        Error::Authority { code, .. } if code == "scope_not_allowed" => format!(
            "{id:?} is not registered for every --scope asked for ({}); drop those, or \
             register the Consumer with them (`tessera consumer add … --scope NAME`)",
            o.scopes.join(" ")
        ),
        _ => format!("the test handshake with the Authority failed: {e}"),
    }
}

/// `tessera demo-consumer`: starts, prints what to open, runs until Ctrl-C.
pub async fn run(opts: StandaloneOptions) -> Result<(), AnyError> {
    let running = start(opts.clone()).await?;
    let banner = format!(
        "\nTessera demo Consumer is running (Ctrl-C to stop).\n\n  \
         Open the demo Consumer:  {}/\n  \
         Authority (issuer):      {}\n  \
         Registered as:           {}\n\n  \
         Use these host names exactly: cookies are per host name, and the login must come back \
         to the name it started on.\n  \
         Log in as a Subject added with `tessera subject add`.\n\n",
        running.consumer_url, running.issuer, opts.consumer_id
    );
    // Written once, and a stdout nobody reads any more (a closed pipe) does not stop the
    // Consumer: `println!` would panic on it.
    {
        use std::io::Write as _;
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(banner.as_bytes()).and_then(|()| out.flush());
    }
    tokio::signal::ctrl_c().await?;
    running.stop().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_files() {
        let printed = "consumer_id: shop\nkey:         abcDEF_-0123\nalgorithm:   sha256\n";
        assert_eq!(
            parse_key_file(printed).unwrap(),
            (Some("shop".into()), "abcDEF_-0123".into())
        );
        assert_eq!(
            parse_key_file("  abcDEF_-0123 \n").unwrap(),
            (None, "abcDEF_-0123".into())
        );
        assert!(parse_key_file("").is_err());
        assert!(parse_key_file("two words").is_err());
        assert!(parse_key_file("key: k\nalgorithm: sha1\n").is_err());
    }

    #[test]
    fn the_default_redirect_uri_avoids_the_authoritys_host_name() {
        let listen = SocketAddr::from(([127, 0, 0, 1], 7701));
        assert_eq!(
            default_redirect_uri("http://127.0.0.1:7700", listen),
            "http://localhost:7701/callback"
        );
        assert_eq!(
            default_redirect_uri("http://localhost:7700", listen),
            "http://127.0.0.1:7701/callback"
        );
    }
}
