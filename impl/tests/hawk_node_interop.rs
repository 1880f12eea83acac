//! Interoperability with the npm `hawk` package (the reference Hawk implementation), run by
//! node through `tests/node/hawk.js`.
//!
//! Needs node (v20) and the pinned package: `npm ci --prefix impl/tests/node`. Without them
//! these tests fail (they never pass silently).

use serde_json::{json, Map, Value};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use tessera::hawk::{
    authenticate_request, authenticate_response, client_authorization_header, normalized_string,
    parse_authorization_header, payload_hash, server_authorization_header,
    verify_stale_timestamp_header, Artifacts, Credentials, MacType, NonceCache, Payload,
    RequestParts, ServerOrigin, VerifyError, DEFAULT_SKEW_SECS,
};
use tessera::rand::{token, SeededRandom};

const HOST: &str = "auth.example.com";
const PORT: u16 = 8443;
const NOW: u64 = 1_700_000_000;
const ID: &str = "consumer-1";
const INSTALL: &str = "npm ci --prefix impl/tests/node";

fn node_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("node")
}

fn read_json(path: &Path) -> Option<Value> {
    serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()
}

/// Fails (never skips) when the npm package is missing or not the pinned version.
fn ensure_installed() {
    let dir = node_dir();
    let pinned = read_json(&dir.join("package.json"))
        .and_then(|p| p["dependencies"]["hawk"].as_str().map(str::to_owned))
        .expect("impl/tests/node/package.json must pin the hawk version");
    let installed = read_json(&dir.join("node_modules/hawk/package.json"))
        .and_then(|p| p["version"].as_str().map(str::to_owned));
    match installed {
        None => panic!(
            "the npm hawk package is not installed for the interop tests; run `{INSTALL}` \
             (from the repository root; needs node v20 and npm)"
        ),
        Some(v) if v != pinned => {
            panic!("installed npm hawk is {v}, package.json pins {pinned}; run `{INSTALL}`")
        }
        Some(_) => {}
    }
}

/// Runs one operation of tests/node/hawk.js.
fn node(request: &Value) -> Value {
    ensure_installed();
    let dir = node_dir();
    let mut child = Command::new("node")
        .arg(dir.join("hawk.js"))
        .current_dir(&dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run `node` ({e}); install node v20, then `{INSTALL}`"));
    child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(request.to_string().as_bytes())
        .expect("write to node");
    let out = child.wait_with_output().expect("wait for node");
    assert!(
        out.status.success(),
        "node failed for {request}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("node printed JSON");
    let pinned = read_json(&dir.join("package.json")).unwrap()["dependencies"]["hawk"].clone();
    assert_eq!(v["hawkVersion"], pinned, "node loaded another hawk version");
    v
}

/// A Tessera-style key: 32 random bytes as a base64url string, used as the bytes of that string.
fn key() -> String {
    token(&SeededRandom::new(11), 32)
}

fn creds() -> Credentials {
    Credentials::new(ID, key(), "sha256").unwrap()
}

fn node_creds(key: &str) -> Value {
    json!({ "id": ID, "key": key, "algorithm": "sha256" })
}

fn origin() -> ServerOrigin {
    ServerOrigin {
        host: HOST.into(),
        port: PORT,
    }
}

#[derive(Debug, Clone, Copy)]
struct Case {
    name: &'static str,
    method: &'static str,
    resource: &'static str,
    content_type: Option<&'static str>,
    body: &'static str,
    ext: Option<&'static str>,
    app: Option<&'static str>,
    dlg: Option<&'static str>,
}

const CASES: &[Case] = &[
    Case {
        name: "GET with ext",
        method: "GET",
        resource: "/v1/tickets?x=1&y=%20z",
        content_type: None,
        body: "",
        ext: Some("tessera ext: a=1;b=2"),
        app: None,
        dlg: None,
    },
    Case {
        name: "POST JSON",
        method: "POST",
        resource: "/v1/handshake",
        content_type: Some("application/json; charset=utf-8"),
        body: r#"{"consumer_id":"consumer-1","challenge":"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"}"#,
        ext: None,
        app: None,
        dlg: None,
    },
    Case {
        name: "GET with app",
        method: "GET",
        resource: "/v1/me",
        content_type: None,
        body: "",
        ext: None,
        app: Some("app-1"),
        dlg: None,
    },
    Case {
        name: "POST with app, dlg, ext and non-ASCII body",
        method: "POST",
        resource: "/v1/result?trace=1",
        content_type: Some("Application/JSON"),
        body: r#"{"note":"héllo ✓"}"#,
        ext: Some("x"),
        app: Some("app-1"),
        dlg: Some("consumer-2"),
    },
];

impl Case {
    fn parts(&self) -> RequestParts<'static> {
        RequestParts {
            method: self.method,
            resource: self.resource,
            content_type: self.content_type,
            body: self.body.as_bytes(),
        }
    }

    fn our_artifacts(&self, ts: u64, nonce: &str) -> Artifacts {
        let mut a = Artifacts::new(self.method, self.resource, HOST, PORT, ts, nonce);
        if !self.body.is_empty() {
            a = a.with_payload(self.content_type, self.body.as_bytes());
        }
        a.ext = self.ext.map(str::to_owned);
        a.app = self.app.map(str::to_owned);
        a.dlg = self.dlg.map(str::to_owned);
        a
    }
}

/// Our artifacts in the shape the npm package uses (absent values omitted).
fn node_artifacts(a: &Artifacts) -> Value {
    let mut m = Map::new();
    m.insert("method".into(), json!(a.method));
    m.insert("resource".into(), json!(a.resource));
    m.insert("host".into(), json!(a.host));
    m.insert("port".into(), json!(a.port));
    m.insert("ts".into(), json!(a.ts.to_string()));
    m.insert("nonce".into(), json!(a.nonce));
    for (k, v) in [
        ("hash", &a.hash),
        ("ext", &a.ext),
        ("app", &a.app),
        ("dlg", &a.dlg),
    ] {
        if let Some(v) = v {
            m.insert(k.into(), json!(v));
        }
    }
    Value::Object(m)
}

fn as_string(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

fn check(failures: &mut Vec<String>, ok: bool, what: impl FnOnce() -> String) {
    if !ok {
        failures.push(what());
    }
}

#[test]
fn node_signs_we_verify() {
    let mut failures = Vec::new();
    for (i, case) in CASES.iter().enumerate() {
        let nonce = format!("node-{i}");
        let mut options = json!({
            "credentials": node_creds(&key()),
            "timestamp": NOW,
            "nonce": nonce,
        });
        for (k, v) in [
            ("ext", case.ext),
            ("app", case.app),
            ("dlg", case.dlg),
            ("contentType", case.content_type),
        ] {
            if let Some(v) = v {
                options[k] = json!(v);
            }
        }
        if !case.body.is_empty() {
            options["payload"] = json!(case.body);
        }
        let out = node(&json!({
            "op": "client_header",
            "uri": format!("https://{HOST}:{PORT}{}", case.resource),
            "method": case.method,
            "options": options,
        }));
        let header = out["header"].as_str().unwrap();
        let parsed = match parse_authorization_header(header) {
            Ok(p) => p,
            Err(e) => {
                failures.push(format!(
                    "{}: cannot parse node header {header:?}: {e}",
                    case.name
                ));
                continue;
            }
        };
        let cache = NonceCache::new(100, DEFAULT_SKEW_SECS, 0);
        match authenticate_request(
            &parsed,
            &creds(),
            &origin(),
            &case.parts(),
            NOW,
            DEFAULT_SKEW_SECS,
            &cache,
        ) {
            Ok(ours) => {
                let theirs = &out["artifacts"];
                let pairs = [
                    ("ts", Some(ours.ts.to_string())),
                    ("nonce", Some(ours.nonce.clone())),
                    ("resource", Some(ours.resource.clone())),
                    ("host", Some(ours.host.clone())),
                    ("port", Some(ours.port.to_string())),
                    ("hash", ours.hash.clone()),
                    ("ext", ours.ext.clone()),
                    ("app", ours.app.clone()),
                    ("dlg", ours.dlg.clone()),
                ];
                for (k, v) in pairs {
                    let t = as_string(&theirs[k]);
                    check(&mut failures, t == v, || {
                        format!("{}: artifact {k}: node {t:?}, ours {v:?}", case.name)
                    });
                }
            }
            Err(e) => failures.push(format!(
                "{}: we rejected node's header {header:?}: {e:?}",
                case.name
            )),
        }
        // The same header presented to a server on another port must fail.
        let elsewhere = ServerOrigin {
            host: HOST.into(),
            port: 443,
        };
        let cache = NonceCache::new(100, DEFAULT_SKEW_SECS, 0);
        let got = authenticate_request(
            &parsed,
            &creds(),
            &elsewhere,
            &case.parts(),
            NOW,
            DEFAULT_SKEW_SECS,
            &cache,
        );
        check(&mut failures, got == Err(VerifyError::BadMac), || {
            format!("{}: accepted on another port: {got:?}", case.name)
        });
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

fn node_authenticate(case: &Case, header: &str, port: u16, now: u64) -> Value {
    let mut request = json!({
        "method": case.method,
        "url": case.resource,
        "host": HOST,
        "port": port,
        "authorization": header,
    });
    if let Some(ct) = case.content_type {
        request["contentType"] = json!(ct);
    }
    let mut options = json!({});
    if !case.body.is_empty() {
        options["payload"] = json!(case.body);
    }
    node(&json!({
        "op": "server_authenticate",
        "now": now,
        "credentials": node_creds(&key()),
        "request": request,
        "options": options,
    }))
}

#[test]
fn we_sign_node_verifies() {
    let mut failures = Vec::new();
    for (i, case) in CASES.iter().enumerate() {
        let ours = case.our_artifacts(NOW, &format!("rust-{i}"));
        let header = client_authorization_header(&creds(), &ours).unwrap();
        let out = node_authenticate(case, &header, PORT, NOW);
        check(&mut failures, out["ok"] == json!(true), || {
            format!(
                "{}: node rejected {header:?}: {}",
                case.name, out["message"]
            )
        });
        check(
            &mut failures,
            as_string(&out["artifacts"]["hash"]) == ours.hash,
            || {
                format!(
                    "{}: node hash {} vs ours {:?}",
                    case.name, out["artifacts"]["hash"], ours.hash
                )
            },
        );
        // node, too, refuses it on another port
        let out = node_authenticate(case, &header, 443, NOW);
        check(&mut failures, out["message"] == json!("Bad mac"), || {
            format!("{}: node on another port said {}", case.name, out)
        });
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn server_authorization_both_ways() {
    let responses: [(Option<&str>, Option<&str>, Option<&str>); 4] = [
        (
            Some("application/json"),
            Some(r#"{"sid":"abc","exp":1700000600}"#),
            Some("resp-ext"),
        ),
        (Some("text/plain; charset=utf-8"), Some("ok ✓"), None),
        (Some("application/json"), Some(""), None),
        (None, None, None),
    ];
    let mut failures = Vec::new();
    for (i, case) in CASES.iter().enumerate() {
        for (j, (ct, body, ext)) in responses.iter().enumerate() {
            let name = format!("{} / response {j}", case.name);
            let request = case.our_artifacts(NOW, &format!("resp-{i}-{j}"));
            let payload = body.map(|b| Payload {
                content_type: *ct,
                body: b.as_bytes(),
            });
            let ours = server_authorization_header(&creds(), &request, payload, *ext).unwrap();

            let mut options = json!({});
            if let Some(b) = body {
                options["payload"] = json!(b);
            }
            if let Some(ct) = ct {
                options["contentType"] = json!(ct);
            }
            if let Some(e) = ext {
                options["ext"] = json!(e);
            }
            let theirs = node(&json!({
                "op": "server_header",
                "credentials": node_creds(&key()),
                "artifacts": node_artifacts(&request),
                "options": options,
            }));
            let theirs = theirs["header"].as_str().unwrap().to_owned();
            check(&mut failures, ours == theirs, || {
                format!("{name}: ours {ours:?}, node {theirs:?}")
            });

            // node's client accepts ours
            let mut headers = json!({ "server-authorization": ours });
            if let Some(ct) = ct {
                headers["content-type"] = json!(ct);
            }
            let mut copts = json!({ "required": true });
            if let Some(b) = body {
                copts["payload"] = json!(b);
            }
            let out = node(&json!({
                "op": "client_authenticate",
                "credentials": node_creds(&key()),
                "artifacts": node_artifacts(&request),
                "response": { "headers": headers },
                "options": copts,
            }));
            check(&mut failures, out["ok"] == json!(true), || {
                format!("{name}: node client rejected ours: {out}")
            });

            // and fails it for a tampered payload
            if body.is_some() {
                copts["payload"] = json!("tampered");
                let out = node(&json!({
                    "op": "client_authenticate",
                    "credentials": node_creds(&key()),
                    "artifacts": node_artifacts(&request),
                    "response": { "headers": headers },
                    "options": copts,
                }));
                check(
                    &mut failures,
                    out["message"] == json!("Bad response payload mac"),
                    || format!("{name}: node client on tampered payload: {out}"),
                );
            }

            // our client accepts node's
            let got = authenticate_response(&theirs, &creds(), &request, payload);
            check(&mut failures, got.is_ok(), || {
                format!("{name}: we rejected node's {theirs:?}: {got:?}")
            });
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn stale_timestamp_replies_both_ways() {
    let case = &CASES[1];
    let client_clock = NOW - 300;
    let request = case.our_artifacts(client_clock, "stale-1");
    let header = client_authorization_header(&creds(), &request).unwrap();

    // node, as the server, finds it stale
    let out = node_authenticate(case, &header, PORT, NOW);
    assert_eq!(out["message"], json!("Stale timestamp"), "{out}");
    let node_www = out["wwwAuthenticate"]
        .as_str()
        .expect("WWW-Authenticate")
        .to_owned();

    // ours says exactly the same
    let cache = NonceCache::new(100, DEFAULT_SKEW_SECS, 0);
    let parsed = parse_authorization_header(&header).unwrap();
    let Err(VerifyError::Stale(stale)) = authenticate_request(
        &parsed,
        &creds(),
        &origin(),
        &case.parts(),
        NOW,
        DEFAULT_SKEW_SECS,
        &cache,
    ) else {
        panic!("expected a stale error");
    };
    assert_eq!(stale.www_authenticate, node_www);

    // our client checks node's tsm and learns the offset
    assert_eq!(
        verify_stale_timestamp_header(&node_www, &creds(), client_clock),
        Ok(300)
    );

    // node's client checks our tsm (and refuses it under another key)
    for (key, want_ok) in [(key(), true), ("some other key".to_owned(), false)] {
        let out = node(&json!({
            "op": "client_authenticate",
            "credentials": node_creds(&key),
            "artifacts": node_artifacts(&request),
            "response": { "headers": { "www-authenticate": stale.www_authenticate } },
            "options": {},
        }));
        if want_ok {
            assert_eq!(out["ok"], json!(true), "{out}");
            assert_eq!(
                out["headers"]["www-authenticate"]["ts"],
                json!(NOW.to_string())
            );
        } else {
            assert_eq!(
                out["message"],
                json!("Invalid server timestamp hash"),
                "{out}"
            );
        }
    }
}

#[test]
fn normalized_strings_and_payload_hashes_agree() {
    let mut failures = Vec::new();
    let base = Artifacts::new(
        "post",
        "/a/b?c=d&e=%2F",
        "Auth.Example.COM",
        8443,
        NOW,
        "abc",
    );
    let variants = [
        base.clone(),
        base.clone().with_ext("back\\slash and\nnewline"),
        base.clone().with_app("app-1", None),
        base.clone()
            .with_app("app-1", Some("dlg-1".into()))
            .with_ext("e"),
        Artifacts {
            hash: Some("h".into()),
            ..base
        },
    ];
    for (kind, name) in [(MacType::Header, "header"), (MacType::Response, "response")] {
        for a in &variants {
            let out = node(
                &json!({ "op": "normalized_string", "type": name, "options": node_artifacts(a) }),
            );
            let ours = normalized_string(kind, a);
            check(&mut failures, out["value"] == json!(ours), || {
                format!("{name} {a:?}: node {}, ours {ours:?}", out["value"])
            });
        }
    }
    let content_types = [
        None,
        Some(""),
        Some("text/plain"),
        Some(" Application/JSON ; charset=UTF-8"),
        Some("multipart/form-data; boundary=x"),
    ];
    for ct in content_types {
        for body in ["", "Thank you for flying Hawk", "héllo ✓\n\r\n"] {
            let mut req = json!({ "op": "payload_hash", "payload": body });
            if let Some(ct) = ct {
                req["contentType"] = json!(ct);
            }
            let out = node(&req);
            let ours = payload_hash(ct, body.as_bytes());
            check(&mut failures, out["value"] == json!(ours), || {
                format!("{ct:?} {body:?}: node {}, ours {ours}", out["value"])
            });
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}
