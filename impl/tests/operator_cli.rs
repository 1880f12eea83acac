//! The `tessera` binary as an operator runs it: TLS (HTTP/1.1 and HTTP/2), the TOML file with
//! environment overrides, and the operator commands applied to a running server without a
//! restart (a disabled Consumer is refused, a rotated key replaces the old one, rotated and
//! retired sealing keys are taken up by the key reload).

use serde_json::{json, Value};
use std::io::{Read as _, Write as _};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tessera::hawk::{self, Artifacts, Credentials};
use tessera::rand::{token, SystemRandom};

fn tessera(args: &[&str], env: &[(&str, &str)], stdin: Option<&str>) -> (bool, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tessera"));
    cmd.args(args)
        .env_remove("TESSERA_DB")
        .env_remove("TESSERA_CONFIG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let mut input = child.stdin.take().unwrap();
    if let Some(s) = stdin {
        input.write_all(s.as_bytes()).unwrap();
    }
    drop(input);
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve(args: &[&str], env: &[(&str, &str)], log: &Path) -> Server {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tessera"));
    cmd.arg("serve")
        .args(args)
        .env_remove("TESSERA_DB")
        .env_remove("TESSERA_CONFIG")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap());
    for (k, v) in env {
        cmd.env(k, v);
    }
    Server(cmd.spawn().unwrap())
}

fn wait_listening(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "server did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The server as a client reaches it.
#[derive(Clone)]
struct Endpoint {
    client: reqwest::Client,
    base: String,
    port: u16,
}

/// A Hawk-signed request (POST with `{}`, or GET); (outcome, json).
async fn signed(
    ep: &Endpoint,
    id: &str,
    key: &str,
    app: Option<&str>,
    method: &str,
    path: &str,
) -> (String, Value) {
    let ts = u64::try_from(tessera::clock::system_now()).unwrap();
    let nonce = token(&SystemRandom::new(), 12);
    let body = if method == "POST" {
        b"{}".to_vec()
    } else {
        vec![]
    };
    let mut a = Artifacts::new(method, path, "127.0.0.1", ep.port, ts, &nonce);
    if method == "POST" {
        a = a.with_payload(Some("application/json"), &body);
    }
    if let Some(app) = app {
        a = a.with_app(app.to_owned(), None);
    }
    let c = Credentials::new(id.to_owned(), key.as_bytes(), "sha256").unwrap();
    let mut req = ep
        .client
        .request(method.parse().unwrap(), format!("{}{path}", ep.base))
        .header(
            "authorization",
            hawk::client_authorization_header(&c, &a).unwrap(),
        );
    if method == "POST" {
        req = req.header("content-type", "application/json").body(body);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    let json: Value = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap_or(Value::Null);
    let outcome = if status == 200 {
        "200".to_owned()
    } else {
        format!("{status} {}", json["error"].as_str().unwrap_or(""))
    };
    (outcome, json)
}

/// Retries `f` (a signed request) past the start-up replay mark.
async fn eventually<F, Fut>(want: &str, f: F) -> Value
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = (String, Value)>,
{
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (o, j) = f().await;
        if o == want {
            return j;
        }
        assert!(Instant::now() < deadline, "wanted {want}, still {o} {j}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn field(out: &str, name: &str) -> String {
    out.lines()
        .find_map(|l| l.strip_prefix(name))
        .map(|v| v.trim().to_owned())
        .unwrap_or_else(|| panic!("no {name} in {out}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_config_file_and_live_operator_commands() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ops.db");
    let db_s = db.to_str().unwrap();
    // every operator command reads the store from TESSERA_DB (no --db)
    let env = [("TESSERA_DB", db_s)];

    let (ok, out, err) = tessera(
        &[
            "consumer",
            "add",
            "--id",
            "shop",
            "--name",
            "Shop",
            "--redirect-uri",
            "https://shop.example/cb",
        ],
        &env,
        None,
    );
    assert!(ok, "{err}");
    let mut key = field(&out, "key:");
    let (ok, _, err) = tessera(
        &["subject", "add", "--username", "ada", "--role", "staff"],
        &env,
        Some("correct horse\n"),
    );
    assert!(ok, "{err}");
    let (_, out, _) = tessera(&["subject", "list"], &env, None);
    assert!(out.starts_with("ada\tsub_"), "{out}");
    let (_, out, _) = tessera(&["subject", "show", "--username", "ada"], &env, None);
    assert!(out.contains("roles:    staff"), "{out}");
    assert!(!out.contains("argon2"), "no password hash: {out}");

    // TLS from the TOML file, the key reload interval from the environment
    let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
    let cert = dir.path().join("cert.pem");
    let key_pem = dir.path().join("key.pem");
    std::fs::write(&cert, certified.cert.pem()).unwrap();
    std::fs::write(&key_pem, certified.key_pair.serialize_pem()).unwrap();
    let port = free_port();
    let toml = dir.path().join("tessera.toml");
    std::fs::write(
        &toml,
        format!(
            "addr = \"127.0.0.1:{port}\"\ndb = \"/nonexistent/overridden-by-env.db\"\n\
             tls_cert = {:?}\ntls_key = {:?}\n",
            cert.to_str().unwrap(),
            key_pem.to_str().unwrap()
        ),
    )
    .unwrap();
    let _server = serve(
        &["--config", toml.to_str().unwrap()],
        &[("TESSERA_DB", db_s), ("TESSERA_KEY_RELOAD_SECS", "1")],
        &dir.path().join("serve.log"),
    );
    wait_listening(port);
    let base = format!("https://127.0.0.1:{port}");
    let client = reqwest::Client::builder()
        .add_root_certificate(
            reqwest::Certificate::from_pem(certified.cert.pem().as_bytes()).unwrap(),
        )
        .build()
        .unwrap();

    let ep = Endpoint {
        client: client.clone(),
        base: base.clone(),
        port,
    };

    // HTTP/1.1 over TLS, and the issuer is https
    let meta: Value = serde_json::from_slice(
        &client
            .get(format!("{base}/.well-known/tessera-authority"))
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap(),
    )
    .unwrap_or(Value::Null);
    assert_eq!(meta["issuer"], json!(base), "{meta}");
    assert_eq!(
        client
            .get(format!("{base}/healthz"))
            .send()
            .await
            .unwrap()
            .version(),
        reqwest::Version::HTTP_11
    );
    // HTTP/2 by ALPN: the server answers the connection preface with its SETTINGS frame
    assert!(speaks_h2(port, &certified.cert.pem()), "no HTTP/2 over TLS");

    // a Hawk-signed request over TLS (the MAC binds the issuer's port)
    let app_ticket = eventually("200", || {
        signed(&ep, "shop", &key, None, "POST", "/v1/app-ticket")
    })
    .await;
    let t1 = app_ticket;
    let t1_id = t1["id"].as_str().unwrap().to_owned();
    assert!(t1_id.starts_with("t1.k1."), "{t1_id}");

    // seal-key rotate: new tickets are sealed with k2 within the reload interval, old ones
    // still open; retire k1: the old ticket stops verifying. No restart.
    let (ok, out, err) = tessera(&["seal-key", "rotate"], &env, None);
    assert!(ok && out.contains("k2"), "{out}{err}");
    let key_c = key.clone();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (o, j) = signed(&ep, "shop", &key_c, None, "POST", "/v1/app-ticket").await;
        assert_eq!(o, "200", "{j}");
        if j["id"].as_str().unwrap().starts_with("t1.k2.") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the rotated key was never taken up"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (t1_key, t1_app) = (
        t1["key"].as_str().unwrap().to_owned(),
        t1["app"].as_str().unwrap().to_owned(),
    );
    let get_t1 = || signed(&ep, &t1_id, &t1_key, Some(&t1_app), "GET", "/v1/ticket");
    assert_eq!(get_t1().await.0, "200");
    let (_, out, _) = tessera(&["seal-key", "list"], &env, None);
    assert_eq!(out, "k1\nk2 (current)\n");
    let (ok, _, err) = tessera(&["seal-key", "retire", "--kid", "k1"], &env, None);
    assert!(ok, "{err}");
    eventually("401 invalid_credentials", get_t1).await;

    // consumer disable / enable / rotate-key / remove, seen on the next requests
    let (ok, out, _) = tessera(&["consumer", "disable", "--id", "shop"], &env, None);
    assert!(ok, "{out}");
    let (_, out, _) = tessera(&["consumer", "show", "--id", "shop"], &env, None);
    assert!(out.contains("disabled:      true"), "{out}");
    let k = key.clone();
    let post = |k: String| {
        let ep = ep.clone();
        async move { signed(&ep, "shop", &k, None, "POST", "/v1/app-ticket").await }
    };
    assert_eq!(post(k.clone()).await.0, "401 invalid_credentials");
    assert!(tessera(&["consumer", "enable", "--id", "shop"], &env, None).0);
    assert_eq!(post(k.clone()).await.0, "200");
    let (ok, out, _) = tessera(&["consumer", "rotate-key", "--id", "shop"], &env, None);
    assert!(ok);
    key = field(&out, "key:");
    assert_eq!(post(k).await.0, "401 invalid_credentials");
    assert_eq!(post(key.clone()).await.0, "200");
    assert!(tessera(&["consumer", "remove", "--id", "shop"], &env, None).0);
    assert_eq!(post(key).await.0, "401 invalid_credentials");
    let (_, out, _) = tessera(&["consumer", "list"], &env, None);
    assert_eq!(out, "");

    // subject set-password / remove
    let (ok, out, err) = tessera(
        &["subject", "set-password", "--username", "ada"],
        &env,
        Some("battery staple\n"),
    );
    assert!(ok && out.contains("families revoked"), "{out}{err}");
    assert!(tessera(&["subject", "remove", "--username", "ada"], &env, None).0);
    let (ok, _, err) = tessera(&["subject", "show", "--username", "ada"], &env, None);
    assert!(!ok && err.contains("no such subject"), "{err}");
}

/// A TLS connection offering only `h2` by ALPN, then the HTTP/2 preface and an empty SETTINGS
/// frame: the server must pick h2 and answer with a SETTINGS frame.
fn speaks_h2(port: u16, ca_pem: &str) -> bool {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut roots = rustls::RootCertStore::empty();
    use rustls::pki_types::pem::PemObject as _;
    let der = rustls::pki_types::CertificateDer::from_pem_slice(ca_pem.as_bytes()).unwrap();
    roots.add(der).unwrap();
    let mut config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec()];
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let mut conn = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
    let mut sock = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut tls = rustls::Stream::new(&mut conn, &mut sock);
    tls.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")
        .unwrap();
    let mut frame = [0u8; 9];
    tls.read_exact(&mut frame).unwrap();
    let alpn = tls.conn.alpn_protocol().map(<[u8]>::to_vec);
    alpn.as_deref() == Some(b"h2") && frame[3] == 0x4
}

/// A new password has a minimum length, in `subject add` and `subject set-password` alike, and
/// a refused one changes nothing.
#[test]
fn a_short_password_is_refused_with_what_is_needed() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    let db = db.to_str().unwrap();
    let add = ["subject", "add", "--db", db, "--username", "ada"];
    let (ok, _, err) = tessera(&add, &[], Some("short\n"));
    assert!(!ok);
    assert!(
        err.contains("too short: 5 characters, at least 8 needed"),
        "{err}"
    );
    let (_, out, _) = tessera(&["subject", "list", "--db", db], &[], None);
    assert!(!out.contains("ada"), "nothing saved: {out}");
    let (ok, _, err) = tessera(&add, &[], Some("long enough\n"));
    assert!(ok, "{err}");
    let (ok, _, err) = tessera(
        &["subject", "set-password", "--db", db, "--username", "ada"],
        &[],
        Some("1234567\n"),
    );
    assert!(!ok);
    assert!(err.contains("at least 8"), "{err}");
}
