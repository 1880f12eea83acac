//! A real browser: headless Chromium (Debian's `chromium`, driven through `chromidriver` with
//! the WebDriver client `fantoccini`) logs in at the demo Consumer through the Authority's own
//! login and consent pages; then forged callbacks delivered into the victim's browser are
//! refused with a clear error page.
//!
//! Chromium is required under CI (`CI=true`): a missing browser fails the test. Elsewhere the
//! tests are skipped with a loud message when `/usr/bin/chromium` or `/usr/bin/chromedriver` is
//! missing (`apt-get install chromium chromium-driver`, as `.ci/setup` does).

#[path = "browser/agent.rs"]
mod agent;

use fantoccini::{Client, ClientBuilder, Locator};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tessera::demo::{self, Demo, DemoOptions};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// chromedriver as a child process, killed on drop.
struct Driver {
    child: Child,
    url: String,
    _profile: tempfile::TempDir,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `None` (skip) when the browser is missing outside CI; panics when it is missing under CI.
fn browser_available() -> bool {
    let present =
        std::path::Path::new(CHROMIUM).exists() && std::path::Path::new(CHROMEDRIVER).exists();
    if present {
        return true;
    }
    let msg = format!("{CHROMIUM} or {CHROMEDRIVER} is missing (apt-get install chromium chromium-driver; .ci/setup does it)");
    assert!(
        std::env::var("CI").map_or(true, |v| v != "true"),
        "browser test cannot run under CI: {msg}"
    );
    eprintln!("\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!");
    eprintln!("!!! SKIPPING the browser test: {msg}");
    eprintln!("!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n");
    false
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts chromedriver and a headless Chromium session with a fresh profile.
async fn browser() -> (Driver, Client) {
    let port = free_port();
    let child = Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    let profile = tempfile::tempdir().unwrap();
    let driver = Driver {
        child,
        url: format!("http://127.0.0.1:{port}"),
        _profile: profile,
    };
    let status = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(r) = status.get(format!("{}/status", driver.url)).send().await {
            if r.status().is_success() {
                break;
            }
        }
        assert!(Instant::now() < deadline, "chromedriver did not come up");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "binary": CHROMIUM,
            "args": [
                // Network closed here: nothing may reach out (updates, sync, QUIC probes).
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", "--no-default-browser-check",
                format!("--user-data-dir={}", driver._profile.path().display()),
            ]
        }),
    );
    let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&driver.url)
        .await
        .expect("a Chromium session");
    (driver, client)
}

/// Waits (15 s at most) for the element `css`; on failure shows the page.
async fn find(c: &Client, css: &str) -> fantoccini::elements::Element {
    match c
        .wait()
        .at_most(Duration::from_secs(15))
        .for_element(Locator::Css(css))
        .await
    {
        Ok(e) => e,
        Err(e) => {
            let url = c
                .current_url()
                .await
                .map(|u| u.to_string())
                .unwrap_or_default();
            let page = c.source().await.unwrap_or_default();
            panic!("{css}: {e}\nat {url}\npage: {page}")
        }
    }
}

/// The text of `css`, retried while the page is changing under us (stale elements).
async fn text(c: &Client, css: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        match find(c, css).await.text().await {
            Ok(t) => return t,
            Err(e) if Instant::now() < deadline => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("{css}: {e}"),
        }
    }
}

/// Waits until the browser's URL contains `part`.
async fn wait_url(c: &Client, part: &str) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let url = c.current_url().await.unwrap().to_string();
        if url.contains(part) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "URL {url} never contained {part}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn click(c: &Client, css: &str) {
    find(c, css).await.click().await.unwrap();
}

/// Saves a screenshot to `$TESSERA_SCREENSHOTS/{name}.png` when that variable is set.
async fn screenshot(c: &Client, name: &str) {
    if let Ok(dir) = std::env::var("TESSERA_SCREENSHOTS") {
        let png = c.screenshot().await.unwrap();
        std::fs::write(format!("{dir}/{name}.png"), png).unwrap();
    }
}

/// The `id` of the element that has the keyboard focus.
async fn focused(c: &Client) -> String {
    let v = c
        .execute(
            "return document.activeElement && document.activeElement.id",
            vec![],
        )
        .await
        .unwrap();
    v.as_str().unwrap_or("").to_owned()
}

/// Whether the page's stylesheet applied (`main` is a bounded, bordered card).
async fn styled(c: &Client) -> bool {
    let v = c
        .execute(
            "return getComputedStyle(document.querySelector('main')).borderTopStyle",
            vec![],
        )
        .await
        .unwrap();
    v.as_str() == Some("solid")
}

async fn fill(c: &Client, css: &str, value: &str) {
    find(c, css).await.send_keys(value).await.unwrap();
}

/// In the browser: from the demo's home page, through the Authority's pages, back logged in.
async fn log_in(c: &Client, d: &Demo) {
    c.goto(&format!("{}/", d.consumer_url)).await.unwrap();
    click(c, "#login").await;
    click(c, "#start-login").await; // TSR-CONSUMER-14: a POST with the CSRF token
                                    // The Authority's sign-in page.
    fill(c, "input[name=username]", &d.username).await;
    fill(c, "input[name=password]", &d.password).await;
    click(c, "form button[type=submit]").await;
    // Its consent page (spec TSR-AUTHZ-10, TSR-DELEGATE-5): the signed-in account, "not
    // you?", and the delegate it may pass access on to, unticked; then Allow.
    assert!(text(c, "#account").await.contains(&d.username));
    assert!(text(c, "#not-you").await.contains("Not you?"));
    let delegation = text(c, "#delegation").await;
    assert!(delegation.contains("Tessera demo partner"), "{delegation}");
    screenshot(c, "consent").await;
    click(c, "button[name=decision][value=allow]").await;
    wait_url(c, &format!("{}/", d.consumer_url)).await;
}

#[tokio::test]
async fn a_subject_logs_in_through_a_real_browser() {
    if !browser_available() {
        return;
    }
    let t0 = Instant::now();
    let d = demo::start(DemoOptions::ephemeral()).await.unwrap();
    let (_driver, c) = browser().await;

    log_in(&c, &d).await;
    let sub = text(&c, "#sub").await;
    screenshot(&c, "logged-in").await;
    assert!(!sub.is_empty());
    assert_eq!(text(&c, "#issuer").await, d.issuer);
    // spec TSR-CONSUMER-9: back on a clean URL, no code in the address bar or history.
    let url = c.current_url().await.unwrap();
    assert_eq!(url.as_str(), format!("{}/", d.consumer_url));
    assert!(
        text(&c, "#grants").await.contains("staff yes"),
        "grants shown"
    );
    assert!(
        text(&c, "#scopes").await.contains("email yes"),
        "scopes shown"
    );
    assert!(
        text(&c, "#data").await.contains("demo@example.org"),
        "Subject data via the ticket"
    );
    // spec TSR-CONSUMER-2: the session cookie is HttpOnly: page scripts cannot read it.
    let js = c.execute("return document.cookie", vec![]).await.unwrap();
    assert!(
        !js.as_str().unwrap_or("").contains("tessera_consumer"),
        "{js}"
    );

    // Refresh, then log out.
    click(&c, "#refresh").await;
    wait_url(&c, "notice=refreshed").await;
    assert!(text(&c, "#notice").await.contains("refreshed"));
    assert_eq!(
        text(&c, "#sub").await,
        sub,
        "same pairwise sub after refresh"
    );
    click(&c, "#logout").await;
    wait_url(&c, "notice=logged_out").await;
    assert!(text(&c, "#notice").await.contains("logged out"));
    assert!(c.source().await.unwrap().contains("You are not logged in"));

    c.close().await.unwrap();
    d.stop().await;
    eprintln!("browser login test: {:?}", t0.elapsed());
}

#[tokio::test]
async fn forged_callbacks_delivered_into_the_victims_browser_are_refused() {
    if !browser_available() {
        return;
    }
    let t0 = Instant::now();
    let d = demo::start(DemoOptions::ephemeral()).await.unwrap();
    d.add_subject("mallory", "mallory-password").unwrap();
    // The attacker logs in as themselves (in their own browser) and keeps the callback URL:
    // their code, for their session.
    let attacker = agent::Agent::new();
    let r = agent::start_login(&attacker, &d.consumer_url).await;
    let attackers_callback = attacker
        .authorize(
            &r.location().unwrap(),
            "mallory",
            "mallory-password",
            "allow",
        )
        .await;

    let (_driver, c) = browser().await;
    // 1. Login CSRF: the victim never started a login; the attacker's callback is opened in
    //    the victim's browser (a link, an image, a redirect). spec TSR-CONSUMER-3.
    c.goto(&attackers_callback).await.unwrap();
    assert_eq!(text(&c, "#reason").await, "no_pending_login");
    assert!(text(&c, "#message")
        .await
        .contains("not started in this browser"));
    assert!(
        !c.current_url().await.unwrap().as_str().contains("code="),
        "no code in the URL"
    );

    // 2. Mix-up: the victim has started a login (is on the Authority's page) and receives a
    //    callback naming another issuer. Its state is not the victim's (the attacker never sees
    //    that), so it is refused before the issuer is even compared (TSR-CONSUMER-13; the
    //    issuer check, TSR-CONSUMER-4, is exercised with the right state in
    //    consumer_negative.rs).
    c.goto(&format!("{}/", d.consumer_url)).await.unwrap();
    click(&c, "#login").await;
    click(&c, "#start-login").await; // TSR-CONSUMER-14: a POST with the CSRF token
    fill(&c, "input[name=username]", "").await; // on the Authority's sign-in page
    let forged = format!(
        "{}/callback?code=attackers-code&state=attackers-state-0123456&iss=https%3A%2F%2Fevil.example",
        d.consumer_url
    );
    c.goto(&forged).await.unwrap();
    assert_eq!(text(&c, "#reason").await, "no_pending_login");
    screenshot(&c, "foreign-state").await;

    // 3. Session swap: the victim starts again and gets the attacker's real callback (right
    //    issuer, the attacker's code and state): the state names none of the victim's pending
    //    logins, so the Consumer refuses it without a request (TSR-CONSUMER-13), and the victim
    //    is not logged in as the attacker.
    c.goto(&format!("{}/", d.consumer_url)).await.unwrap();
    click(&c, "#login").await;
    click(&c, "#start-login").await; // TSR-CONSUMER-14: a POST with the CSRF token
    fill(&c, "input[name=username]", "").await;
    c.goto(&attackers_callback).await.unwrap();
    assert_eq!(text(&c, "#reason").await, "no_pending_login");
    c.goto(&format!("{}/", d.consumer_url)).await.unwrap();
    assert!(c.source().await.unwrap().contains("You are not logged in"));

    c.close().await.unwrap();
    d.stop().await;
    eprintln!("browser forged-callback test: {:?}", t0.elapsed());
}

/// Runs the `tessera` binary to completion with `stdin`; returns its stdout, panicking with its
/// stderr when it fails.
fn tessera_cli(args: &[&str], stdin: &str) -> String {
    use std::io::Write as _;
    let mut child = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(args)
        .env_remove("TESSERA_DB")
        .env_remove("TESSERA_CONFIG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "tessera {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A long-running `tessera` child, killed on drop.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `tessera args…` and waits (60 s at most) for a stdout line containing `label`;
/// returns the child and the rest of that line.
fn tessera_until(args: &[&str], label: &str) -> (Running, String) {
    use std::io::BufRead as _;
    let mut child = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(args)
        .env_remove("TESSERA_DB")
        .env_remove("TESSERA_CONFIG")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let running = Running(child);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            // keep reading after the caller stopped listening: a closed pipe would make the
            // child's next write fail
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let line = rx
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .unwrap_or_else(|_| panic!("tessera {args:?} never printed {label:?}"));
        if let Some((_, rest)) = line.split_once(label) {
            return (running, rest.trim().to_owned());
        }
    }
}

/// Waits (60 s at most) until `url` answers 200.
async fn wait_up(url: &str) {
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(r) = http.get(url).send().await {
            if r.status().is_success() {
                return;
            }
        }
        assert!(Instant::now() < deadline, "{url} never came up");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The newcomer's path (issue 14): a Consumer registered with `tessera consumer add` and a
/// Subject with `tessera subject add` in a SQLite file, `tessera serve` on that file, and
/// `tessera demo-consumer` against it; a real browser logs in with them.
#[tokio::test]
async fn a_consumer_registered_with_the_cli_logs_in_against_tessera_serve() {
    if !browser_available() {
        return;
    }
    let t0 = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("tessera.db");
    let db = db.to_str().unwrap();
    let (authority_port, consumer_port) = (free_port(), free_port());
    let redirect = format!("http://localhost:{consumer_port}/callback");
    let registration = tessera_cli(
        &[
            "consumer",
            "add",
            "--db",
            db,
            "--id",
            "shop",
            "--name",
            "Ada's Shop",
            "--redirect-uri",
            &redirect,
            "--scope",
            "email",
        ],
        "",
    );
    let key_file = dir.path().join("shop.key");
    std::fs::write(&key_file, &registration).unwrap();
    tessera_cli(
        &[
            "subject",
            "add",
            "--db",
            db,
            "--username",
            "ada",
            "--data",
            "email=\"ada@example.org\"",
        ],
        "correct horse battery staple\n",
    );
    let issuer = format!("http://127.0.0.1:{authority_port}");
    let addr = format!("127.0.0.1:{authority_port}");
    let _serve = Running(
        Command::new(env!("CARGO_BIN_EXE_tessera"))
            .args([
                "serve",
                "--db",
                db,
                "--addr",
                &addr,
                "--name",
                "Ada's Authority",
            ])
            .env_remove("TESSERA_DB")
            .env_remove("TESSERA_CONFIG")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_up(&format!("{issuer}/.well-known/tessera-authority")).await;
    let listen = format!("127.0.0.1:{consumer_port}");
    let (_consumer, open) = tessera_until(
        &[
            "demo-consumer",
            "--authority",
            &issuer,
            "--key-file",
            key_file.to_str().unwrap(),
            "--listen",
            &listen,
            "--scope",
            "email",
        ],
        "Open the demo Consumer:",
    );
    let consumer_url = format!("http://localhost:{consumer_port}");
    assert_eq!(open, format!("{consumer_url}/"));

    let (_driver, c) = browser().await;
    // Opened directly, the Authority says what it is (no JSON 404).
    c.goto(&format!("{issuer}/")).await.unwrap();
    assert_eq!(text(&c, "h1").await, "A Tessera Authority");
    assert_eq!(text(&c, "#issuer").await, issuer);
    assert_eq!(text(&c, "#authority-name").await, "Ada's Authority");
    assert!(styled(&c).await, "the stylesheet applies");

    c.goto(&open).await.unwrap();
    assert!(text(&c, "#status").await.contains("not logged in"));
    click(&c, "#login").await;
    // The login start page says where the browser is going.
    assert!(text(&c, "#where").await.contains(&issuer));
    assert!(
        styled(&c).await,
        "the stylesheet applies on the Consumer too"
    );
    click(&c, "#start-login").await;
    wait_url(&c, &format!("{issuer}/authorize")).await;
    // The sign-in page names the Authority and the application, with labelled fields and the
    // focus in the first one.
    assert_eq!(text(&c, "#authority-name").await, "Ada's Authority");
    let signin_for = text(&c, "#signin-for").await;
    assert!(
        signin_for.contains("Ada's Shop") && signin_for.contains("Ada's Authority"),
        "{signin_for}"
    );
    assert_eq!(text(&c, "label[for=username]").await, "Username");
    assert_eq!(text(&c, "label[for=password]").await, "Password");
    assert_eq!(focused(&c).await, "username");
    // A wrong password: a message, the username kept, the focus on the password.
    fill(&c, "input[name=username]", "ada").await;
    fill(&c, "input[name=password]", "not the password").await;
    click(&c, "form button[type=submit]").await;
    assert!(text(&c, "#login-error")
        .await
        .contains("Wrong username or password"));
    let kept = find(&c, "input[name=username]")
        .await
        .prop("value")
        .await
        .unwrap();
    assert_eq!(kept.as_deref(), Some("ada"), "the username is kept");
    assert_eq!(focused(&c).await, "password");
    fill(&c, "input[name=password]", "correct horse battery staple").await;
    click(&c, "form button[type=submit]").await;
    // The consent page: the signed-in account at this Authority, the application, what it
    // asks for, and where the browser goes next.
    let account = text(&c, "#account").await;
    assert!(
        account.contains("ada") && account.contains("Ada's Authority"),
        "{account}"
    );
    assert_eq!(text(&c, "#consumer-name").await, "Ada's Shop");
    assert!(text(&c, "#scopes").await.contains("email"));
    let host = text(&c, "#redirect-host").await;
    assert!(
        host.contains(&format!("localhost:{consumer_port}")),
        "{host}"
    );
    click(&c, "button[name=decision][value=allow]").await;
    wait_url(&c, &format!("{consumer_url}/")).await;
    assert!(text(&c, "#status").await.contains("You are logged in"));
    assert_eq!(text(&c, "#issuer").await, issuer);
    assert!(
        text(&c, "#scopes").await.contains("email yes"),
        "scopes shown"
    );
    assert!(
        text(&c, "#data").await.contains("ada@example.org"),
        "Subject data via the ticket"
    );

    // Error pages say what happened in words, with the code as a detail: the demo Consumer's
    // (a callback it did not start) ...
    c.goto(&format!(
        "{consumer_url}/callback?code=c&state=s-0123456789abcdef&iss=x"
    ))
    .await
    .unwrap();
    assert_eq!(text(&c, "h1").await, "Sign-in failed");
    assert!(text(&c, "#message")
        .await
        .contains("not started in this browser"));
    assert_eq!(text(&c, "#reason").await, "no_pending_login");
    assert!(text(&c, "header").await.contains("Tessera demo Consumer"));
    // ... and the Authority's (a sign-in link that does not exist).
    c.goto(&format!("{issuer}/authorize?request=no-such-request"))
        .await
        .unwrap();
    assert_eq!(text(&c, "h1").await, "This sign-in cannot continue");
    assert_eq!(
        text(&c, "#message").await,
        "This sign-in link is not valid."
    );
    assert_eq!(text(&c, "#error-code").await, "unknown_request");
    c.close().await.unwrap();
    eprintln!("browser CLI-registered consumer test: {:?}", t0.elapsed());
}
