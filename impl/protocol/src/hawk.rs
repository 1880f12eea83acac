//! Hawk 1.1 HTTP authentication (header scheme), client and server side, computed exactly
//! as the hapi/mozilla `hawk` npm package (v9) computes it, so stock Hawk implementations
//! interoperate with Tessera.
//!
//! Only `sha256` is supported. Bewits and `message` MACs are not implemented.
//!
//! Everything here is sans-IO: the current time, randomness and the nonce cache are passed in.
//!
//! # Keys
//!
//! Like the npm package (which hands the key *string* to `crypto.createHmac`), the HMAC key is
//! the raw bytes of the key as given: a Tessera key, a base64url string, is used as the bytes
//! of that string, not decoded.
//!
//! # Differences from the npm package (all stricter, none affects a well-behaved client)
//!
//! * Server-side checks run in the order MAC → payload hash → timestamp → nonce, so a stale
//!   or forged request never consumes a nonce-cache entry.
//! * A request with a body must carry `hash` (the npm server only checks it when asked to).
//!   A `hash` sent without a body is checked against the hash of the empty payload.
//! * `ts` must be a plain decimal without leading zeros; `dlg` without `app` is refused (the
//!   npm server would accept it without covering it by the MAC).
//! * All MAC and hash comparisons are constant-time, on the client side too.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use ring::{digest, hmac};
use std::fmt;

/// Default allowed clock skew, in seconds, either way (as the npm package).
pub const DEFAULT_SKEW_SECS: u64 = 60;
/// Longest header this module will parse (as the npm package's `maxMatchLength`).
pub const MAX_HEADER_LEN: usize = 4096;

const AUTHORIZATION_ATTRIBUTES: &[&str] =
    &["id", "ts", "nonce", "hash", "ext", "mac", "app", "dlg"];
const SERVER_AUTHORIZATION_ATTRIBUTES: &[&str] = &["mac", "ext", "hash"];
const WWW_AUTHENTICATE_ATTRIBUTES: &[&str] = &["ts", "tsm", "error"];
const STALE_MESSAGE: &str = "Stale timestamp";

/// Compares two byte strings in constant time (for equal lengths; the lengths themselves are
/// not hidden).
///
/// ring's public constant-time helper is deprecated, so this uses `ring::hmac::verify`, whose
/// comparison is constant-time: both inputs are MACed under one fixed key and the tags
/// compared. Equal tags mean equal inputs (HMAC-SHA-256 is collision resistant). The key is
/// set up once (its two padded blocks cost as much as the comparison: issue 15).
#[must_use]
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    static KEY: std::sync::LazyLock<hmac::Key> = std::sync::LazyLock::new(|| {
        hmac::Key::new(hmac::HMAC_SHA256, b"tessera constant-time comparison")
    });
    let key = &*KEY;
    let tag = hmac::sign(key, a);
    hmac::verify(key, b, tag.as_ref()).is_ok()
}

// ---------------------------------------------------------------------------------------------
// Credentials

/// MAC algorithm. Only SHA-256 is supported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// HMAC-SHA-256, Hawk name `sha256`.
    Sha256,
}

impl Algorithm {
    /// Parses a Hawk algorithm name; only `sha256` (exactly) is accepted.
    pub fn from_name(name: &str) -> Result<Self, CredentialsError> {
        match name {
            "sha256" => Ok(Self::Sha256),
            other => Err(CredentialsError::UnsupportedAlgorithm(other.to_owned())),
        }
    }

    /// The Hawk name of the algorithm.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Sha256 => "sha256",
        }
    }
}

/// Why [`Credentials`] could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialsError {
    /// An algorithm other than `sha256`.
    #[error("unsupported Hawk algorithm {0:?} (only sha256)")]
    UnsupportedAlgorithm(String),
    /// The id is empty or has characters a header attribute cannot carry.
    #[error("credentials id must be printable ASCII without '\"' or '\\'")]
    BadId,
    /// The key is empty.
    #[error("credentials key must not be empty")]
    EmptyKey,
}

/// Hawk credentials: an id, a key and the algorithm.
#[derive(Clone)]
pub struct Credentials {
    id: String,
    key: hmac::Key,
    algorithm: Algorithm,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("id", &self.id)
            .field("key", &"<redacted>")
            .field("algorithm", &self.algorithm)
            .finish()
    }
}

impl Credentials {
    /// Builds credentials. `key` is used as raw bytes; pass a key string's bytes as they are
    /// (this is what the npm package does with a string key). `algorithm` must be `sha256`.
    pub fn new(
        id: impl Into<String>,
        key: impl AsRef<[u8]>,
        algorithm: &str,
    ) -> Result<Self, CredentialsError> {
        let algorithm = Algorithm::from_name(algorithm)?;
        let id = id.into();
        if !is_attribute_value(&id) {
            return Err(CredentialsError::BadId);
        }
        let key = key.as_ref();
        if key.is_empty() {
            return Err(CredentialsError::EmptyKey);
        }
        Ok(Self {
            id,
            key: hmac::Key::new(hmac::HMAC_SHA256, key),
            algorithm,
        })
    }

    /// The credentials id (the `id` header attribute).
    #[must_use]
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The MAC algorithm.
    #[must_use]
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    fn mac(&self, data: &[u8]) -> String {
        STANDARD.encode(hmac::sign(&self.key, data))
    }

    /// Constant-time check of a base64 MAC received from the peer.
    fn verify_mac(&self, data: &[u8], mac_b64: &str) -> bool {
        match STANDARD.decode(mac_b64) {
            Ok(tag) => hmac::verify(&self.key, data, &tag).is_ok(),
            Err(_) => false,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Normalized string, payload hash, MACs

/// What a MAC covers; the first line of the normalized string is `hawk.1.{type}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MacType {
    /// A request's `Authorization` header.
    Header,
    /// A response's `Server-Authorization` header.
    Response,
}

impl MacType {
    fn as_str(self) -> &'static str {
        match self {
            Self::Header => "header",
            Self::Response => "response",
        }
    }
}

/// Everything a request MAC covers (and a response MAC, with the response's `hash`/`ext`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Artifacts {
    /// HTTP method; upper-cased in the normalized string.
    pub method: String,
    /// Request target in origin form: path and query exactly as sent (`/a/b?x=1`).
    pub resource: String,
    /// Host name; lower-cased in the normalized string.
    pub host: String,
    /// Port.
    pub port: u16,
    /// Timestamp, unix seconds.
    pub ts: u64,
    /// Nonce.
    pub nonce: String,
    /// Payload hash (see [`payload_hash`]).
    pub hash: Option<String>,
    /// Application-specific data.
    pub ext: Option<String>,
    /// Oz application id.
    pub app: Option<String>,
    /// Oz delegated-by application id (only meaningful with `app`).
    pub dlg: Option<String>,
}

impl Artifacts {
    /// Artifacts without hash, ext, app or dlg.
    pub fn new(
        method: impl Into<String>,
        resource: impl Into<String>,
        host: impl Into<String>,
        port: u16,
        ts: u64,
        nonce: impl Into<String>,
    ) -> Self {
        Self {
            method: method.into(),
            resource: resource.into(),
            host: host.into(),
            port,
            ts,
            nonce: nonce.into(),
            hash: None,
            ext: None,
            app: None,
            dlg: None,
        }
    }

    /// Sets `hash` to the payload hash of `body` sent with `content_type`.
    #[must_use]
    pub fn with_payload(mut self, content_type: Option<&str>, body: &[u8]) -> Self {
        self.hash = Some(payload_hash(content_type, body));
        self
    }

    /// Sets `ext`.
    #[must_use]
    pub fn with_ext(mut self, ext: impl Into<String>) -> Self {
        self.ext = Some(ext.into());
        self
    }

    /// Sets the Oz `app` and, optionally, `dlg`.
    #[must_use]
    pub fn with_app(mut self, app: impl Into<String>, dlg: Option<String>) -> Self {
        self.app = Some(app.into());
        self.dlg = dlg;
        self
    }
}

fn non_empty(v: Option<&String>) -> Option<&str> {
    v.map(String::as_str).filter(|s| !s.is_empty())
}

/// The Hawk 1.1 normalized string:
///
/// ```text
/// hawk.1.{type}\n{ts}\n{nonce}\n{METHOD}\n{resource}\n{host}\n{port}\n{hash}\n{ext}\n
/// ```
///
/// followed by `{app}\n{dlg}\n` only when `app` is present. In `ext`, `\` becomes `\\` and a
/// newline becomes `\n`. Empty `hash`/`ext`/`app` count as absent (as in the npm package).
#[must_use]
pub fn normalized_string(kind: MacType, a: &Artifacts) -> String {
    use std::fmt::Write as _;
    let hash = non_empty(a.hash.as_ref()).unwrap_or("");
    let ext = non_empty(a.ext.as_ref());
    let app = non_empty(a.app.as_ref());
    let dlg = non_empty(a.dlg.as_ref()).unwrap_or("");
    // one allocation, sized for the common case (an `ext` without characters to escape)
    let mut s = String::with_capacity(
        48 + a.nonce.len()
            + a.method.len()
            + a.resource.len()
            + a.host.len()
            + hash.len()
            + ext.map_or(0, str::len)
            + app.map_or(0, |app| app.len() + dlg.len()),
    );
    let _ = write!(s, "hawk.1.{}\n{}\n", kind.as_str(), a.ts);
    s.push_str(&a.nonce);
    s.push('\n');
    if a.method.is_ascii() {
        s.extend(a.method.chars().map(|c| c.to_ascii_uppercase()));
    } else {
        s.push_str(&a.method.to_uppercase());
    }
    s.push('\n');
    s.push_str(&a.resource);
    s.push('\n');
    if a.host.is_ascii() {
        s.extend(a.host.chars().map(|c| c.to_ascii_lowercase()));
    } else {
        s.push_str(&a.host.to_lowercase());
    }
    let _ = write!(s, "\n{}\n", a.port);
    s.push_str(hash);
    s.push('\n');
    if let Some(ext) = ext {
        for c in ext.chars() {
            match c {
                '\\' => s.push_str("\\\\"),
                '\n' => s.push_str("\\n"),
                c => s.push(c),
            }
        }
    }
    s.push('\n');
    if let Some(app) = app {
        s.push_str(app);
        s.push('\n');
        s.push_str(dlg);
        s.push('\n');
    }
    s
}

/// The media type the payload hash covers: the content type without parameters, trimmed and
/// lower-cased (`"Text/Plain; charset=utf-8"` → `"text/plain"`).
#[must_use]
pub fn normalize_content_type(content_type: Option<&str>) -> String {
    content_type
        .and_then(|ct| ct.split(';').next())
        .unwrap_or("")
        .trim()
        .to_lowercase()
}

/// Base64 SHA-256 of `hawk.1.payload\n{content type}\n{body}\n`.
#[must_use]
pub fn payload_hash(content_type: Option<&str>, body: &[u8]) -> String {
    let mut ctx = digest::Context::new(&digest::SHA256);
    ctx.update(b"hawk.1.payload\n");
    ctx.update(normalize_content_type(content_type).as_bytes());
    ctx.update(b"\n");
    ctx.update(body);
    ctx.update(b"\n");
    STANDARD.encode(ctx.finish())
}

/// Base64 (standard, padded) HMAC over the normalized string of `kind`.
#[must_use]
pub fn calculate_mac(credentials: &Credentials, kind: MacType, artifacts: &Artifacts) -> String {
    credentials.mac(normalized_string(kind, artifacts).as_bytes())
}

/// The `tsm` of a stale-timestamp reply: base64 HMAC over `hawk.1.ts\n{ts}\n`.
#[must_use]
pub fn timestamp_mac(credentials: &Credentials, ts: u64) -> String {
    credentials.mac(format!("hawk.1.ts\n{ts}\n").as_bytes())
}

/// A fresh request nonce (16 random bytes, unpadded base64url: 22 characters).
pub fn generate_nonce<R: crate::rand::Random + ?Sized>(rng: &R) -> String {
    crate::rand::token(rng, 16)
}

// ---------------------------------------------------------------------------------------------
// Header parsing

/// Why a Hawk header could not be parsed. Parsing never panics.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// No header, or an empty one.
    #[error("missing Hawk header")]
    Missing,
    /// Longer than [`MAX_HEADER_LEN`] bytes.
    #[error("header longer than {MAX_HEADER_LEN} bytes")]
    TooLong,
    /// The scheme is not `Hawk`.
    #[error("scheme is not Hawk")]
    BadScheme,
    /// Not `Hawk name="value", ...`.
    #[error("invalid header syntax")]
    BadSyntax,
    /// An attribute this header does not have.
    #[error("unknown attribute {0:?}")]
    UnknownAttribute(String),
    /// A value that is empty or has characters outside printable ASCII without `"` and `\`.
    #[error("bad value for attribute {0:?}")]
    BadAttributeValue(String),
    /// An attribute given twice.
    #[error("duplicate attribute {0:?}")]
    DuplicateAttribute(String),
    /// A required attribute is absent.
    #[error("missing required attribute {0:?}")]
    MissingAttribute(&'static str),
    /// `ts` is not a plain decimal number of seconds that fits in 64 bits.
    #[error("invalid timestamp")]
    BadTimestamp,
    /// A nonce longer than [`MAX_NONCE_LEN`] characters (spec TSR-HAWK-3).
    #[error("nonce longer than {MAX_NONCE_LEN} characters")]
    NonceTooLong,
}

/// Longest nonce accepted (spec TSR-HAWK-3): replay memory is kept per nonce, so its length is
/// what an attacker with one valid key could otherwise inflate.
pub const MAX_NONCE_LEN: usize = 64;

/// Printable ASCII except `"` and `\` — the characters the npm package allows in a value.
fn is_attribute_char(b: u8) -> bool {
    (0x20..=0x7e).contains(&b) && b != b'"' && b != b'\\'
}

fn is_attribute_value(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_attribute_char)
}

fn is_word_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

fn is_space(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// Parses `Hawk name="value", ...` keeping only names in `allowed`, each at most once.
fn parse_attributes<'h>(
    header: &'h str,
    allowed: &[&'static str],
) -> Result<Vec<(&'static str, &'h str)>, ParseError> {
    if header.is_empty() {
        return Err(ParseError::Missing);
    }
    if header.len() > MAX_HEADER_LEN {
        return Err(ParseError::TooLong);
    }
    let bytes = header.as_bytes();
    // without an early exit, so that the check is vectorized (a header is mostly a ticket id)
    let not_printable = bytes.iter().fold(false, |bad, &b| {
        bad | !((0x20..=0x7e).contains(&b) || b == b'\t')
    });
    if not_printable {
        return Err(ParseError::BadSyntax);
    }
    let scheme_end = bytes
        .iter()
        .position(|&b| !is_word_char(b))
        .unwrap_or(bytes.len());
    if scheme_end == 0 {
        return Err(ParseError::BadSyntax);
    }
    if !header[..scheme_end].eq_ignore_ascii_case("hawk") {
        return Err(ParseError::BadScheme);
    }
    let mut pos = scheme_end;
    let after_scheme = pos;
    while pos < bytes.len() && is_space(bytes[pos]) {
        pos += 1;
    }
    if pos == after_scheme || pos == bytes.len() {
        // `Hawk` alone, `Hawk   `, or `Hawk,...`
        return Err(ParseError::BadSyntax);
    }

    let mut out: Vec<(&'static str, &'h str)> = Vec::new();
    while pos < bytes.len() {
        let name_start = pos;
        while pos < bytes.len() && is_word_char(bytes[pos]) {
            pos += 1;
        }
        let name = &header[name_start..pos];
        if name.is_empty() || !header[pos..].starts_with("=\"") {
            return Err(ParseError::BadSyntax);
        }
        pos += 2;
        let value_start = pos;
        // one scan to the closing quote; a backslash (no escapes in Hawk) or no closing quote
        // is a syntax error
        match memchr::memchr2(b'"', b'\\', &bytes[pos..]) {
            Some(len) if bytes[pos + len] == b'"' => pos += len,
            _ => return Err(ParseError::BadSyntax),
        }
        let value = &header[value_start..pos];
        pos += 1; // closing quote
        while pos < bytes.len() && is_space(bytes[pos]) {
            pos += 1;
        }
        if pos < bytes.len() {
            if bytes[pos] != b',' {
                return Err(ParseError::BadSyntax);
            }
            pos += 1;
            while pos < bytes.len() && is_space(bytes[pos]) {
                pos += 1;
            }
        }

        let Some(&known) = allowed.iter().find(|&&a| a == name) else {
            return Err(ParseError::UnknownAttribute(name.to_owned()));
        };
        // the header is printable ASCII or tabs (checked above) and the value has no `"` or
        // backslash (scanned): so `is_attribute_value` reduces to non-empty without tabs
        if value.is_empty() || value.as_bytes().contains(&b'\t') {
            return Err(ParseError::BadAttributeValue(known.to_owned()));
        }
        if out.iter().any(|(n, _)| *n == known) {
            return Err(ParseError::DuplicateAttribute(known.to_owned()));
        }
        out.push((known, value));
    }
    Ok(out)
}

fn take(attrs: &[(&'static str, &str)], name: &str) -> Option<String> {
    attrs
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, v)| (*v).to_owned())
}

fn parse_ts(s: &str) -> Result<u64, ParseError> {
    let digits_only = !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let leading_zero = s.len() > 1 && s.starts_with('0');
    if !digits_only || leading_zero {
        return Err(ParseError::BadTimestamp);
    }
    s.parse().map_err(|_| ParseError::BadTimestamp)
}

/// A parsed request `Authorization: Hawk ...` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationHeader {
    /// Credentials id.
    pub id: String,
    /// Timestamp, unix seconds.
    pub ts: u64,
    /// Nonce.
    pub nonce: String,
    /// The request MAC (base64).
    pub mac: String,
    /// Payload hash.
    pub hash: Option<String>,
    /// Application-specific data.
    pub ext: Option<String>,
    /// Oz application id.
    pub app: Option<String>,
    /// Oz delegated-by application id (only with `app`).
    pub dlg: Option<String>,
}

/// Parses a request `Authorization` header strictly: scheme `Hawk` (any case); attributes
/// `id ts nonce hash ext mac app dlg` only, each at most once, values in double quotes made of
/// printable ASCII without `"` and `\`; `id`, `ts`, `nonce`, `mac` required; `ts` decimal;
/// at most [`MAX_HEADER_LEN`] bytes.
pub fn parse_authorization_header(header: &str) -> Result<AuthorizationHeader, ParseError> {
    let attrs = parse_attributes(header, AUTHORIZATION_ATTRIBUTES)?;
    let required =
        |name: &'static str| take(&attrs, name).ok_or(ParseError::MissingAttribute(name));
    let parsed = AuthorizationHeader {
        id: required("id")?,
        ts: parse_ts(&required("ts")?)?,
        nonce: required("nonce")?,
        mac: required("mac")?,
        hash: take(&attrs, "hash"),
        ext: take(&attrs, "ext"),
        app: take(&attrs, "app"),
        dlg: take(&attrs, "dlg"),
    };
    // spec TSR-HAWK-3
    if parsed.nonce.len() > MAX_NONCE_LEN {
        return Err(ParseError::NonceTooLong);
    }
    // `dlg` without `app` parses: it is an Oz mismatch, 401 after the MAC (spec TSR-HAWK-14)
    Ok(parsed)
}

// ---------------------------------------------------------------------------------------------
// Client side: Authorization header

/// Why a header could not be generated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    /// A value is empty or has characters a header attribute cannot carry (printable ASCII
    /// without `"` and `\`). The npm package would escape `"` and `\`, producing a header its
    /// own parser refuses; we refuse up front instead.
    #[error("bad value for attribute {0:?}")]
    BadAttributeValue(&'static str),
    /// `dlg` without `app`.
    #[error("dlg without app")]
    DlgWithoutApp,
}

fn check_value(name: &'static str, value: &str) -> Result<(), HeaderError> {
    if is_attribute_value(value) {
        Ok(())
    } else {
        Err(HeaderError::BadAttributeValue(name))
    }
}

fn check_optional(name: &'static str, value: Option<&String>) -> Result<(), HeaderError> {
    value.map_or(Ok(()), |v| check_value(name, v))
}

/// The client's `Authorization` header value for a request described by `artifacts`
/// (same attribute order and spacing as the npm package):
///
/// `Hawk id="…", ts="…", nonce="…"[, hash="…"][, ext="…"], mac="…"[, app="…"[, dlg="…"]]`
pub fn client_authorization_header(
    credentials: &Credentials,
    artifacts: &Artifacts,
) -> Result<String, HeaderError> {
    check_value("nonce", &artifacts.nonce)?;
    check_optional("hash", artifacts.hash.as_ref())?;
    check_optional("ext", artifacts.ext.as_ref())?;
    check_optional("app", artifacts.app.as_ref())?;
    check_optional("dlg", artifacts.dlg.as_ref())?;
    if artifacts.dlg.is_some() && artifacts.app.is_none() {
        return Err(HeaderError::DlgWithoutApp);
    }
    let mac = calculate_mac(credentials, MacType::Header, artifacts);
    let mut h = format!(
        "Hawk id=\"{}\", ts=\"{}\", nonce=\"{}\"",
        credentials.id(),
        artifacts.ts,
        artifacts.nonce
    );
    if let Some(hash) = &artifacts.hash {
        h.push_str(&format!(", hash=\"{hash}\""));
    }
    if let Some(ext) = &artifacts.ext {
        h.push_str(&format!(", ext=\"{ext}\""));
    }
    h.push_str(&format!(", mac=\"{mac}\""));
    if let Some(app) = &artifacts.app {
        h.push_str(&format!(", app=\"{app}\""));
        if let Some(dlg) = &artifacts.dlg {
            h.push_str(&format!(", dlg=\"{dlg}\""));
        }
    }
    Ok(h)
}

// ---------------------------------------------------------------------------------------------
// Server side: request verification

/// The Authority's own host and port, from its configuration.
///
/// Verification always uses these, **never the request's `Host` header**: a request MACed for
/// another server names that server's host/port in its normalized string, so its MAC does not
/// verify here, and a request captured on its way to (or relayed by) another server cannot be
/// replayed against this one. Trusting the `Host` header would let the attacker simply send
/// the other server's name along with the captured request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerOrigin {
    /// Host name as clients address this server.
    pub host: String,
    /// Port as clients address this server (443 behind a TLS terminator on the default port).
    pub port: u16,
}

/// The parts of an incoming request that verification needs besides the header.
#[derive(Debug, Clone, Copy)]
pub struct RequestParts<'a> {
    /// HTTP method.
    pub method: &'a str,
    /// Request target in origin form (path and query, exactly as received, not decoded).
    pub resource: &'a str,
    /// The `Content-Type` header, if any.
    pub content_type: Option<&'a str>,
    /// The raw body; empty when there is none.
    pub body: &'a [u8],
}

/// A stale (or fenced-off) timestamp: what is needed for the reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaleTimestamp {
    /// The server time put in the reply.
    pub now: u64,
    /// Value for the `WWW-Authenticate` header of the 401 reply (see
    /// [`stale_timestamp_header`]); the client checks `tsm` and adjusts its clock offset.
    pub www_authenticate: String,
}

/// Why a request failed verification.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// The credentials passed in are not those the header's `id` names (a caller bug).
    #[error("credentials do not match the header id")]
    CredentialsMismatch,
    /// The MAC does not verify.
    #[error("bad mac")]
    BadMac,
    /// The request has a body but no `hash`.
    #[error("missing required payload hash")]
    MissingPayloadHash,
    /// `hash` does not match the body.
    #[error("bad payload hash")]
    BadPayloadHash,
    /// The timestamp is outside the allowed skew (or before the restart fence).
    #[error("stale timestamp")]
    Stale(StaleTimestamp),
    /// The (id, ts, nonce) triple was seen before: a replay.
    #[error("nonce already used")]
    Replayed,
    /// The nonce cache is full of live entries; the request is refused, not risked.
    #[error("nonce cache full")]
    NonceCacheFull,
}

/// A nonce-cache verdict that refuses the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NonceError {
    /// Seen before.
    #[error("nonce already used")]
    Replayed,
    /// Full of live entries.
    #[error("nonce cache full")]
    Full,
    /// The timestamp is outside the window this cache can vouch for (stale for it, or before
    /// its restart fence). Reported to the client as a stale timestamp.
    #[error("timestamp outside the nonce cache window")]
    OutsideWindow,
}

/// Replay protection: remembers `(id, ts, nonce)` triples.
///
/// The Authority's in-memory implementation is `tessera::replay::ReplayCache`; a persistent store can
/// implement this too.
pub trait NonceCheck {
    /// The smallest timestamp this cache can vouch for (the restart fence); requests with an
    /// older `ts` are refused as stale. `0` means no fence.
    fn min_timestamp(&self) -> u64;

    /// Atomically: refuse if `(id, ts, nonce)` was seen, else remember it.
    fn check_and_remember(
        &self,
        id: &str,
        ts: u64,
        nonce: &str,
        now: u64,
    ) -> Result<(), NonceError>;

    /// [`NonceCheck::check_and_remember`], charging the entry to `owner` (the Consumer a
    /// Consumer key or a ticket belongs to) so that a cache with per-owner quotas refuses one
    /// owner at its quota (`Full`) while others still work. The default ignores `owner`.
    fn check_and_remember_for(
        &self,
        owner: &str,
        id: &str,
        ts: u64,
        nonce: &str,
        now: u64,
    ) -> Result<(), NonceError> {
        let _ = owner;
        self.check_and_remember(id, ts, nonce, now)
    }

    /// How many nonces are remembered, and the bytes they take, where known (for metrics).
    fn usage(&self) -> Option<(usize, usize)> {
        None
    }
}

/// The `WWW-Authenticate` value of a stale-timestamp reply, exactly as the npm package
/// writes it: `Hawk ts="{now}", tsm="{tsm}", error="Stale timestamp"`.
#[must_use]
pub fn stale_timestamp_header(credentials: &Credentials, now: u64) -> String {
    format!(
        "Hawk ts=\"{now}\", tsm=\"{}\", error=\"{STALE_MESSAGE}\"",
        timestamp_mac(credentials, now)
    )
}

fn stale(credentials: &Credentials, now: u64) -> VerifyError {
    VerifyError::Stale(StaleTimestamp {
        now,
        www_authenticate: stale_timestamp_header(credentials, now),
    })
}

/// Verifies a request's parsed `Authorization` header. Pure: time and the nonce cache are
/// passed in.
///
/// `credentials` are those the caller found for `header.id` (unknown ids are the caller's
/// error to report). `origin` is the server's own configured host and port (see
/// [`ServerOrigin`] for why never the `Host` header). `skew_secs` is the allowed clock skew
/// either way ([`DEFAULT_SKEW_SECS`]).
///
/// Checks, in order: MAC (constant-time) → payload hash (required when the request has a
/// body, checked whenever present) → timestamp within ±`skew_secs` of `now` and not before
/// the cache's restart fence → nonce unseen (then remembered). Returns the artifacts, which
/// [`server_authorization_header`] needs for the response MAC.
pub fn authenticate_request<N: NonceCheck + ?Sized>(
    header: &AuthorizationHeader,
    credentials: &Credentials,
    origin: &ServerOrigin,
    request: &RequestParts<'_>,
    now: u64,
    skew_secs: u64,
    nonces: &N,
) -> Result<Artifacts, VerifyError> {
    let artifacts = Artifacts {
        method: request.method.to_owned(),
        resource: request.resource.to_owned(),
        host: origin.host.clone(),
        port: origin.port,
        ts: header.ts,
        nonce: header.nonce.clone(),
        hash: header.hash.clone(),
        ext: header.ext.clone(),
        app: header.app.clone(),
        dlg: header.dlg.clone(),
    };
    let payload = Payload {
        content_type: request.content_type,
        body: request.body,
    };
    verify_request(
        header,
        credentials,
        &artifacts,
        payload,
        now,
        skew_secs,
        nonces,
    )?;
    Ok(artifacts)
}

/// [`authenticate_request`] for a caller that has built the request's artifacts already (a
/// server keeps them to sign its response, and need not build them twice: issue 15).
/// `artifacts` must be those of `header` on this server: its method, resource, host and port,
/// and the header's `ts`, `nonce`, `hash`, `ext`, `app` and `dlg`. Same checks, same order.
pub fn verify_request<N: NonceCheck + ?Sized>(
    header: &AuthorizationHeader,
    credentials: &Credentials,
    artifacts: &Artifacts,
    payload: Payload<'_>,
    now: u64,
    skew_secs: u64,
    nonces: &N,
) -> Result<(), VerifyError> {
    if header.id != credentials.id() {
        return Err(VerifyError::CredentialsMismatch);
    }

    // 1. MAC
    let normalized = normalized_string(MacType::Header, artifacts);
    if !credentials.verify_mac(normalized.as_bytes(), &header.mac) {
        return Err(VerifyError::BadMac);
    }

    // 2. Payload hash
    match &header.hash {
        None if !payload.body.is_empty() => return Err(VerifyError::MissingPayloadHash),
        None => {}
        Some(hash) => {
            let expected = payload_hash(payload.content_type, payload.body);
            if !constant_time_eq(expected.as_bytes(), hash.as_bytes()) {
                return Err(VerifyError::BadPayloadHash);
            }
        }
    }

    // 3. Timestamp
    if header.ts.abs_diff(now) > skew_secs || header.ts < nonces.min_timestamp() {
        return Err(stale(credentials, now));
    }

    // 4. Nonce
    match nonces.check_and_remember(&header.id, header.ts, &header.nonce, now) {
        Ok(()) => Ok(()),
        Err(NonceError::Replayed) => Err(VerifyError::Replayed),
        Err(NonceError::Full) => Err(VerifyError::NonceCacheFull),
        Err(NonceError::OutsideWindow) => Err(stale(credentials, now)),
    }
}

// ---------------------------------------------------------------------------------------------
// Server side: response header

/// A response (or request) payload: its content type and raw bytes.
#[derive(Debug, Clone, Copy)]
pub struct Payload<'a> {
    /// The `Content-Type` header, if any.
    pub content_type: Option<&'a str>,
    /// The raw body.
    pub body: &'a [u8],
}

/// The `Server-Authorization` value for a response to the request `request` (the artifacts
/// [`authenticate_request`] returned): `Hawk mac="…"[, hash="…"][, ext="…"]`. The MAC has
/// type `response` and covers the request's ts, nonce, method, resource, host, port, app and
/// dlg, plus the hash of `payload` (when given) and `ext`.
/// The `ext` of a Tessera `Server-Authorization`: `status=<HTTP status>`, so the response MAC
/// covers the status (spec TSR-HAWK-17).
#[must_use]
pub fn status_ext(status: u16) -> String {
    format!("status={status}")
}

pub fn server_authorization_header(
    credentials: &Credentials,
    request: &Artifacts,
    payload: Option<Payload<'_>>,
    ext: Option<&str>,
) -> Result<String, HeaderError> {
    if let Some(ext) = ext {
        check_value("ext", ext)?;
    }
    let mut artifacts = request.clone();
    artifacts.hash = payload.map(|p| payload_hash(p.content_type, p.body));
    artifacts.ext = ext.map(str::to_owned);
    let mac = calculate_mac(credentials, MacType::Response, &artifacts);
    let mut h = format!("Hawk mac=\"{mac}\"");
    if let Some(hash) = &artifacts.hash {
        h.push_str(&format!(", hash=\"{hash}\""));
    }
    if let Some(ext) = ext {
        h.push_str(&format!(", ext=\"{ext}\""));
    }
    Ok(h)
}

// ---------------------------------------------------------------------------------------------
// Client side: checking the server's replies

/// Why a server reply failed the client's checks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResponseError {
    /// The header could not be parsed.
    #[error("invalid header: {0}")]
    Parse(#[from] ParseError),
    /// The response MAC does not verify.
    #[error("bad response mac")]
    BadMac,
    /// A payload was given but the header has no `hash`.
    #[error("missing response payload hash")]
    MissingPayloadHash,
    /// `hash` does not match the payload.
    #[error("bad response payload hash")]
    BadPayloadHash,
    /// `tsm` does not verify: the stale reply was not made with our key.
    #[error("bad server timestamp mac")]
    BadTimestampMac,
    /// The server time cannot be represented as an offset.
    #[error("server timestamp out of range")]
    TimestampOutOfRange,
}

/// What the client learns from a verified `Server-Authorization` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerAuthorization {
    /// The response MAC.
    pub mac: String,
    /// The response payload hash, if sent.
    pub hash: Option<String>,
    /// The server's `ext`, if sent.
    pub ext: Option<String>,
}

/// Checks a response's `Server-Authorization` header against the request's `artifacts` (as
/// sent). When `payload` is given, `hash` is required and must match it.
pub fn authenticate_response(
    header: &str,
    credentials: &Credentials,
    request: &Artifacts,
    payload: Option<Payload<'_>>,
) -> Result<ServerAuthorization, ResponseError> {
    let attrs = parse_attributes(header, SERVER_AUTHORIZATION_ATTRIBUTES)?;
    let parsed = ServerAuthorization {
        mac: take(&attrs, "mac").ok_or(ParseError::MissingAttribute("mac"))?,
        hash: take(&attrs, "hash"),
        ext: take(&attrs, "ext"),
    };
    let mut artifacts = request.clone();
    artifacts.hash.clone_from(&parsed.hash);
    artifacts.ext.clone_from(&parsed.ext);
    let normalized = normalized_string(MacType::Response, &artifacts);
    if !credentials.verify_mac(normalized.as_bytes(), &parsed.mac) {
        return Err(ResponseError::BadMac);
    }
    if let Some(p) = payload {
        let hash = parsed
            .hash
            .as_deref()
            .ok_or(ResponseError::MissingPayloadHash)?;
        let expected = payload_hash(p.content_type, p.body);
        if !constant_time_eq(expected.as_bytes(), hash.as_bytes()) {
            return Err(ResponseError::BadPayloadHash);
        }
    }
    Ok(parsed)
}

/// Checks a stale-timestamp reply's `WWW-Authenticate` header (`ts` and `tsm`, constant-time)
/// and returns the server's clock offset, `server ts − now` in seconds, to add to the local
/// clock for the retry.
pub fn verify_stale_timestamp_header(
    header: &str,
    credentials: &Credentials,
    now: u64,
) -> Result<i64, ResponseError> {
    let attrs = parse_attributes(header, WWW_AUTHENTICATE_ATTRIBUTES)?;
    let ts_str = take(&attrs, "ts").ok_or(ParseError::MissingAttribute("ts"))?;
    let tsm = take(&attrs, "tsm").ok_or(ParseError::MissingAttribute("tsm"))?;
    let ts = parse_ts(&ts_str)?;
    if !credentials.verify_mac(format!("hawk.1.ts\n{ts}\n").as_bytes(), &tsm) {
        return Err(ResponseError::BadTimestampMac);
    }
    let ts = i64::try_from(ts).map_err(|_| ResponseError::TimestampOutOfRange)?;
    let now = i64::try_from(now).map_err(|_| ResponseError::TimestampOutOfRange)?;
    ts.checked_sub(now)
        .ok_or(ResponseError::TimestampOutOfRange)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds() -> Credentials {
        Credentials::new("id1", "key-one", "sha256").unwrap()
    }

    #[test]
    fn constant_time_eq_compares() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(constant_time_eq(b"", b""));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }

    #[test]
    fn credentials_checks() {
        assert_eq!(
            Credentials::new("a", "k", "sha1").unwrap_err(),
            CredentialsError::UnsupportedAlgorithm("sha1".into())
        );
        assert_eq!(
            Credentials::new("a", "k", "SHA256").unwrap_err(),
            CredentialsError::UnsupportedAlgorithm("SHA256".into())
        );
        assert_eq!(
            Credentials::new("", "k", "sha256").unwrap_err(),
            CredentialsError::BadId
        );
        assert_eq!(
            Credentials::new("a\"b", "k", "sha256").unwrap_err(),
            CredentialsError::BadId
        );
        assert_eq!(
            Credentials::new("a", "", "sha256").unwrap_err(),
            CredentialsError::EmptyKey
        );
        assert!(!format!("{:?}", creds()).contains("key-one"));
    }
}
