//! `tessera demo` as the README runs it: the binary starts, prints the URL to open and the demo
//! Subject's credentials, and a login with those works (a scripted HTTP browser here; the real
//! browser test is browser_login.rs). Also: one Consumer with two Authorities (mix-up).

#[path = "browser/agent.rs"]
mod agent;

use agent::{query_param, Agent};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tessera::consumer::{AuthorityConfig, CallbackParams, Consumer, Error};
use tessera::demo::{self, DemoOptions};

struct Kill(Child);
impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn after<'a>(line: &'a str, label: &str) -> Option<&'a str> {
    line.split_once(label).map(|(_, r)| r.trim())
}

#[tokio::test]
async fn tessera_demo_prints_what_to_open_and_a_login_with_it_works() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args([
            "demo",
            "--authority-addr",
            "127.0.0.1:0",
            "--consumer-addr",
            "127.0.0.1:0",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("tessera demo starts");
    let stdout = child.stdout.take().unwrap();
    let _guard = Kill(child);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let (mut url, mut user, mut pass) = (None, None, None);
    let deadline = Instant::now() + Duration::from_secs(30);
    while url.is_none() || user.is_none() {
        let line = rx
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .expect("tessera demo printed its URL and credentials");
        if let Some(u) = after(&line, "Open the demo Consumer:") {
            url = Some(u.trim_end_matches('/').to_owned());
        }
        if let Some(rest) = after(&line, "Log in as:") {
            let w: Vec<&str> = rest.split_whitespace().collect();
            assert_eq!((w[0], w[2]), ("username", "password"), "{line}");
            user = Some(w[1].to_owned());
            pass = Some(w[3].to_owned());
        }
    }
    let (url, user, pass) = (url.unwrap(), user.unwrap(), pass.unwrap());

    let browser = Agent::new();
    let home = browser.get(&format!("{url}/")).await;
    assert!(home.body.contains("Log in with Tessera"), "{}", home.body);
    let r = agent::start_login(&browser, &url).await;
    let cb = browser
        .authorize(&r.location().unwrap(), &user, &pass, "allow")
        .await;
    assert_eq!(browser.get(&cb).await.location().as_deref(), Some("/"));
    let home = browser.get(&format!("{url}/")).await;
    assert!(home.body.contains("You are logged in"), "{}", home.body);
    assert!(home.body.contains("Demo Subject"));
}

/// Mix-up (spec TSR-CONSUMER-4, TSR-CONSUMER-5): one Consumer registered at two Authorities; a
/// login started with A and answered by a callback from B (B's real code and issuer) is
/// refused before any request, and the result request only ever goes to A.
#[tokio::test]
async fn a_consumer_with_two_authorities_refuses_a_callback_from_the_other_one() {
    let a = demo::start(DemoOptions::ephemeral()).await.unwrap();
    let b = demo::start(DemoOptions::ephemeral()).await.unwrap();
    let c = Consumer::new(vec![
        AuthorityConfig::new(&a.issuer, a.registration.clone()).unwrap(),
        AuthorityConfig::new(&b.issuer, b.registration.clone()).unwrap(),
    ])
    .unwrap();
    assert_eq!(c.issuers(), vec![a.issuer.as_str(), b.issuer.as_str()]);

    let at_a = c.begin_login(Some(&a.issuer)).await.unwrap();
    assert_eq!(at_a.pending.issuer, a.issuer);
    let at_b = c.begin_login(Some(&b.issuer)).await.unwrap();
    let cb_b = Agent::new()
        .authorize(&at_b.authorize_url, &b.username, &b.password, "allow")
        .await;
    assert_eq!(
        query_param(&cb_b, "iss").as_deref(),
        Some(b.issuer.as_str())
    );
    let params_b = CallbackParams::from_query(cb_b.split_once('?').unwrap().1).unwrap();

    // B's callback in the flow started with A: B's state is not A's flow (TSR-CONSUMER-13).
    let e = c
        .complete_login(Some(at_a.pending.clone()), &params_b)
        .await
        .unwrap_err();
    assert!(matches!(e, Error::NoPendingLogin), "{e:?}");
    // Even with A's flow's state (as an Authority that learnt it would echo it), B's issuer is
    // refused (TSR-CONSUMER-4).
    let forged = CallbackParams {
        state: Some(at_a.pending.state.clone()),
        ..params_b.clone()
    };
    let e = c
        .complete_login(Some(at_a.pending.clone()), &forged)
        .await
        .unwrap_err();
    assert!(
        matches!(&e, Error::IssuerMismatch { expected, got } if expected == &a.issuer && got == &b.issuer),
        "{e:?}"
    );
    // Nothing was sent to either: B's code is still good for B's own flow.
    let login = c
        .complete_login(Some(at_b.pending), &params_b)
        .await
        .unwrap();
    assert_eq!(login.issuer, b.issuer);
    // Identity is (issuer, sub): the same person at A would be a different Subject here.
    assert_eq!(login.subject_id().issuer, b.issuer);
    a.stop().await;
    b.stop().await;
}

/// Runs `tessera args…` to completion off the runtime's thread (the in-process Authority keeps
/// answering); returns (success, stderr).
async fn tessera_exits(args: Vec<String>) -> (bool, String) {
    tokio::task::spawn_blocking(move || {
        let out = Command::new(env!("CARGO_BIN_EXE_tessera"))
            .args(&args)
            .env_remove("TESSERA_DB")
            .env_remove("TESSERA_CONFIG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    })
    .await
    .unwrap()
}

/// The first hour (issue 14): what `tessera demo-consumer` says when the registration does not
/// match, and what `serve`, `demo` and `demo-consumer` say when their address is taken: each
/// names the address or value at fault and the flag that changes it.
#[tokio::test]
async fn start_up_errors_say_what_to_change() {
    let d = demo::start(DemoOptions::ephemeral()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("demo.key");
    let wrong_key_file = dir.path().join("wrong.key");
    std::fs::write(&key_file, format!("key: {}\n", d.registration.key)).unwrap();
    std::fs::write(&wrong_key_file, "A".repeat(43)).unwrap();
    let consumer_addr = d.consumer_url.trim_start_matches("http://").to_owned();
    let base = |key: &std::path::Path, extra: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = [
            "demo-consumer",
            "--authority",
            &d.issuer,
            "--consumer-id",
            "demo-consumer",
            "--key-file",
            key.to_str().unwrap(),
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        v.extend(extra.iter().map(|s| (*s).to_owned()));
        v
    };
    let registered = d.registration.redirect_uri.clone();

    let (ok, err) = tessera_exits(base(&wrong_key_file, &["--listen", "127.0.0.1:0"])).await;
    assert!(!ok);
    assert!(
        err.contains("did not accept consumer_id \"demo-consumer\"") && err.contains("--key-file"),
        "{err}"
    );

    // The default redirect URI (on 127.0.0.1, as the Authority is on localhost) is not the
    // registered one.
    let (ok, err) = tessera_exits(base(&key_file, &["--listen", "127.0.0.1:0"])).await;
    assert!(!ok);
    assert!(
        err.contains("http://127.0.0.1:0/callback is not a registered redirect URI")
            && err.contains("--redirect-uri"),
        "{err}"
    );

    let (ok, err) = tessera_exits(base(
        &key_file,
        &["--redirect-uri", &registered, "--scope", "nope"],
    ))
    .await;
    assert!(!ok);
    assert!(err.contains("--scope asked for (nope)"), "{err}");

    // All good but the address: the demo's own Consumer holds it.
    let (ok, err) = tessera_exits(base(
        &key_file,
        &["--redirect-uri", &registered, "--listen", &consumer_addr],
    ))
    .await;
    assert!(!ok);
    assert!(
        err.contains(&format!(
            "cannot listen on {consumer_addr}: the address is already in use"
        )) && err.contains("--listen"),
        "{err}"
    );

    let db = dir.path().join("t.db");
    let (ok, err) = tessera_exits(
        [
            "serve",
            "--db",
            db.to_str().unwrap(),
            "--addr",
            &consumer_addr,
        ]
        .map(str::to_owned)
        .to_vec(),
    )
    .await;
    assert!(!ok);
    assert!(
        err.contains(&format!("cannot listen on {consumer_addr}")) && err.contains("--addr"),
        "{err}"
    );
    let (ok, err) = tessera_exits(
        ["demo", "--authority-addr", &consumer_addr]
            .map(str::to_owned)
            .to_vec(),
    )
    .await;
    assert!(!ok);
    assert!(
        err.contains(&format!("cannot listen on {consumer_addr}"))
            && err.contains("--authority-addr"),
        "{err}"
    );
    d.stop().await;
}
