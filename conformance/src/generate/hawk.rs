//! Request authentication (spec chapter 4) at every authenticated endpoint.

use super::dsl::*;
use crate::vector::{Actor, Expect, Feature, IdTamper, Origin, Request, Step, Vector};
use serde_json::{json, Value};

/// An authenticated endpoint: how to call it correctly, and what it needs first.
struct Endpoint {
    name: &'static str,
    method: &'static str,
    path: &'static str,
    /// `true`: ticket credentials; `false`: Consumer credentials.
    ticket: bool,
    features: &'static [Feature],
}

const ENDPOINTS: &[Endpoint] = &[
    Endpoint {
        name: "handshake",
        method: "POST",
        path: "/v1/handshake",
        ticket: false,
        features: &[],
    },
    Endpoint {
        name: "result",
        method: "POST",
        path: "/v1/result",
        ticket: false,
        features: &[],
    },
    Endpoint {
        name: "refresh",
        method: "POST",
        path: "/v1/refresh",
        ticket: false,
        features: &[],
    },
    Endpoint {
        name: "revoke",
        method: "POST",
        path: "/v1/revoke",
        ticket: false,
        features: &[],
    },
    Endpoint {
        name: "app-ticket",
        method: "POST",
        path: "/v1/app-ticket",
        ticket: false,
        features: &[Feature::AppTicket],
    },
    Endpoint {
        name: "reissue",
        method: "POST",
        path: "/v1/reissue",
        ticket: true,
        features: &[Feature::Reissue],
    },
    Endpoint {
        name: "subject",
        method: "GET",
        path: "/v1/subject",
        ticket: true,
        features: &[],
    },
    Endpoint {
        name: "ticket",
        method: "GET",
        path: "/v1/ticket",
        ticket: true,
        features: &[Feature::TicketInfo],
    },
];

impl Endpoint {
    /// Setup steps, and the correct request with its expected answer.
    fn good(&self) -> (Vec<Step>, Request) {
        let (setup, body, expect): (Vec<Step>, Option<Value>, Expect) = match self.name {
            "handshake" => (vec![], Some(handshake_body(C, "h")), Expect::ok()),
            "result" => (
                vec![handshake("1"), allow("1")],
                Some(result_body("1")),
                Expect::ok(),
            ),
            "refresh" => (login("1"), Some(sid_body("$sid1")), Expect::ok()),
            "revoke" => (vec![handshake("1")], Some(sid_body("$sid1")), Expect::ok()),
            "app-ticket" => (vec![], Some(json!({})), Expect::ok()),
            "reissue" => (login("1"), Some(json!({})), Expect::ok()),
            _ => (login("1"), None, Expect::ok()),
        };
        let actor = if self.ticket {
            ticket("$t1")
        } else {
            consumer(C)
        };
        (setup, request(actor, self.method, self.path, body, expect))
    }

    fn vector(&self, case: &str, title: &str, reqs: &[&str], steps: Vec<Step>) -> Vector {
        with_features(
            vector(
                &format!("hawk.{}.{case}", self.name),
                &format!("{} {}: {title}", self.method, self.path),
                reqs,
                Origin::Requirement,
                steps,
            ),
            self.features,
        )
    }

    /// The correct request altered by `f`, expecting `expect`, then the correct request again
    /// (the refusal changed nothing, TSR-CONV-7).
    fn negative(
        &self,
        case: &str,
        title: &str,
        reqs: &[&str],
        expect: Expect,
        f: impl FnOnce(&mut Request),
    ) -> Vector {
        let (mut steps, good) = self.good();
        let mut bad = good.clone();
        bad.expect = expect;
        f(&mut bad);
        steps.push(step(bad));
        steps.push(step(good));
        let mut r = reqs.to_vec();
        r.push("TSR-CONV-7");
        self.vector(case, title, &r, steps)
    }
}

pub fn vectors() -> Vec<Vector> {
    let mut out = Vec::new();
    for e in ENDPOINTS {
        out.push(e.negative(
            "no-authorization",
            "no Authorization header is 401 unauthenticated",
            &["TSR-HAWK-2", "TSR-ERROR-4"],
            err("unauthenticated"),
            |r| r.actor = Actor::Anonymous,
        ));
        out.push(e.negative(
            "basic-scheme",
            "another scheme than Hawk is 401 unauthenticated",
            &["TSR-HAWK-2"],
            err("unauthenticated"),
            |r| r.actor = Actor::Authorization("Basic Y29uc3VtZXI6c2VjcmV0".into()),
        ));
        out.push(e.negative(
            "wrong-mac",
            "a MAC that does not verify is 401 invalid_credentials",
            &["TSR-HAWK-4"],
            err("invalid_credentials"),
            |r| r.hawk.mac = Some("6R4rV5iE+NPoym+WwjeHzjAGXUtLNIxmo1vpMofpLAE=".into()),
        ));
        out.push(e.negative(
            "wrong-key",
            "a request signed with another key is 401 invalid_credentials",
            &["TSR-HAWK-4"],
            err("invalid_credentials"),
            |r| r.hawk.key = Some("${random:otherkey}".into()),
        ));
        out.push(e.negative(
            "unknown-id",
            "an unknown id is 401 invalid_credentials, the same as a wrong MAC",
            &["TSR-HAWK-6"],
            err("invalid_credentials"),
            |r| {
                r.hawk.id = Some(if e.ticket {
                    "t1.k0.AAAA".into()
                } else {
                    "no-such-consumer".into()
                });
            },
        ));
        out.push(e.negative(
            "other-host",
            "a request signed for another host is 401 invalid_credentials",
            &["TSR-HAWK-4"],
            err("invalid_credentials"),
            |r| r.hawk.host = Some("evil.example".into()),
        ));
        out.push(e.negative(
            "other-port",
            "a request signed for another port is 401 invalid_credentials",
            &["TSR-HAWK-4"],
            err("invalid_credentials"),
            |r| r.hawk.port = Some(1),
        ));
        out.push(e.negative(
            "other-path",
            "a MAC over another request-target is 401 invalid_credentials",
            &["TSR-HAWK-4"],
            err("invalid_credentials"),
            |r| r.hawk.target = Some(format!("{}?x=1", e.path)),
        ));
        out.push(e.negative(
            "other-method",
            "a MAC over another method is 401 invalid_credentials",
            &["TSR-HAWK-4"],
            err("invalid_credentials"),
            |r| {
                r.hawk.method = Some(if e.method == "GET" {
                    "POST".into()
                } else {
                    "PUT".into()
                });
            },
        ));
        out.push(e.negative(
            "stale-past",
            "a ts older than the skew is 401 stale_timestamp with a verifiable tsm",
            &["TSR-HAWK-7", "TSR-HAWK-8", "TSR-ERROR-4"],
            err("stale_timestamp"),
            |r| r.hawk.ts_offset = -(SKEW + 1),
        ));
        out.push(e.negative(
            "stale-future",
            "a ts ahead by more than the skew is 401 stale_timestamp",
            &["TSR-HAWK-7", "TSR-HAWK-8"],
            err("stale_timestamp"),
            |r| r.hawk.ts_offset = SKEW + 1,
        ));
        out.push(
            e.negative(
                "skew-edge",
                "a ts exactly the skew behind is accepted",
                &["TSR-HAWK-7"],
                Expect::ok(),
                |r| r.hawk.ts_offset = -SKEW,
            )
            .drop_last(),
        );
        out.push(e.negative(
            "stale-wrong-mac",
            "the MAC is checked before the timestamp",
            &["TSR-HAWK-7", "TSR-HAWK-4"],
            err("invalid_credentials"),
            |r| {
                r.hawk.ts_offset = -1000;
                r.hawk.key = Some("${random:k}".into());
            },
        ));
        out.push(e.negative(
            "header-garbage",
            "a Hawk header that does not parse is 400 invalid_header",
            &["TSR-HAWK-3"],
            err("invalid_header"),
            |r| r.actor = Actor::Authorization("Hawk id=\"x\", ts=\"1\", nonce".into()),
        ));
        out.push(e.negative(
            "header-missing-mac",
            "a Hawk header without mac is 400 invalid_header",
            &["TSR-HAWK-3"],
            err("invalid_header"),
            |r| {
                r.actor = Actor::Authorization(
                    "Hawk id=\"conformance-consumer\", ts=\"${now}\", nonce=\"abc\"".into(),
                );
            },
        ));
        out.push(e.negative("header-unknown-attribute", "an unknown Hawk attribute is 400 invalid_header", &["TSR-HAWK-3"], err("invalid_header"), |r| r.actor = Actor::Authorization("Hawk id=\"conformance-consumer\", ts=\"${now}\", nonce=\"abc\", mac=\"AAAA\", color=\"red\"".into())));
        out.push(e.negative(
            "header-repeated-attribute",
            "a repeated Hawk attribute is 400 invalid_header",
            &["TSR-HAWK-3"],
            err("invalid_header"),
            |r| {
                r.actor = Actor::Authorization(
                    "Hawk id=\"a\", id=\"b\", ts=\"${now}\", nonce=\"abc\", mac=\"AAAA\"".into(),
                );
            },
        ));
        out.push(e.negative(
            "header-non-numeric-ts",
            "a non-numeric ts is 400 invalid_header",
            &["TSR-HAWK-3"],
            err("invalid_header"),
            |r| {
                r.actor = Actor::Authorization(
                    "Hawk id=\"conformance-consumer\", ts=\"soon\", nonce=\"abc\", mac=\"AAAA\""
                        .into(),
                );
            },
        ));
        // `ts` is a decimal integer (4.2): a sign is not one, though Rust's and JavaScript's
        // integer parsers take `+` (a parser that only calls one of them lets it through)
        out.push(e.negative(
            "header-signed-ts",
            "a ts with a + sign is 400 invalid_header",
            &["TSR-HAWK-3"],
            err("invalid_header"),
            |r| {
                r.actor = Actor::Authorization(
                    "Hawk id=\"conformance-consumer\", ts=\"+${now}\", nonce=\"abc\", mac=\"AAAA\""
                        .into(),
                );
            },
        ));
        // 4.2: whitespace around commas parses (the npm package's parser allows it); the MAC
        // is wrong on purpose, so a parser that accepts it answers 401, one that does not, 400
        out.push(e.negative(
            "header-space-before-comma",
            "spaces and tabs around the commas parse: with a wrong MAC the answer is 401 invalid_credentials, not 400",
            &["TSR-HAWK-3", "TSR-HAWK-4"],
            err("invalid_credentials"),
            |r| {
                r.actor = Actor::Authorization(
                    "Hawk id=\"conformance-consumer\" , ts=\"${now}\"\t,\tnonce=\"abc\" ,mac=\"AAAA\""
                        .into(),
                );
            },
        ));
        // the last value without its closing quote: the header ends inside it, so a scan for
        // the quote that runs one byte too far reads past the end (HTTP trims a trailing space,
        // so the value's last character is the header's)
        out.push(e.negative(
            "header-unterminated-value",
            "a last Hawk attribute value without its closing quote is 400 invalid_header",
            &["TSR-HAWK-3"],
            err("invalid_header"),
            |r| {
                r.actor = Actor::Authorization(
                    "Hawk id=\"conformance-consumer\", ts=\"${now}\", nonce=\"abc\", mac=\"AAAA"
                        .into(),
                );
            },
        ));
        out.push(e.negative("header-too-long", "a Hawk header over 4096 bytes is 400 invalid_header", &["TSR-HAWK-3"], err("invalid_header"), |r| r.actor = Actor::Authorization(format!("Hawk id=\"conformance-consumer\", ts=\"${{now}}\", nonce=\"abc\", ext=\"{}\", mac=\"AAAA\"", "x".repeat(4100)))));
        for (case, header, title) in [
            ("header-backslash", "Hawk id=\"conformance-consumer\", ts=\"${now}\", nonce=\"abc\", ext=\"a\\\\b\", mac=\"AAAA\"", "a backslash in a Hawk attribute value is 400 invalid_header"),
            ("header-empty-value", "Hawk id=\"\", ts=\"${now}\", nonce=\"abc\", mac=\"AAAA\"", "an empty Hawk attribute value is 400 invalid_header"),
            ("header-tab-in-value", "Hawk id=\"conformance-consumer\", ts=\"${now}\", nonce=\"a\tb\", mac=\"AAAA\"", "a tab in a Hawk attribute value is 400 invalid_header"),
        ] {
            out.push(e.negative(case, title, &["TSR-HAWK-3"], err("invalid_header"), |r| {
                r.actor = Actor::Authorization(header.into());
            }));
        }
        out.push(e.negative(
            "header-scheme-only",
            "the scheme alone is 400 invalid_header",
            &["TSR-HAWK-3"],
            err("invalid_header"),
            |r| {
                r.actor = Actor::Authorization("Hawk".into());
            },
        ));
        out.push(
            e.negative(
                "header-4096-bytes",
                "a correct header of exactly 4096 bytes is accepted",
                &["TSR-HAWK-3"],
                Expect::ok(),
                |r| {
                    r.hawk.header_length = Some(4096);
                },
            )
            .drop_last(),
        );
        // spec 4.2: a nonce of up to 64 characters parses, a longer one is 400 (43 random
        // characters, so that no two vectors send the same nonce, padded to the length)
        out.push(
            e.negative(
                "nonce-64-characters",
                "a nonce of exactly 64 characters is accepted",
                &["TSR-HAWK-3"],
                Expect::ok(),
                |r| r.hawk.nonce = Some(format!("${{random:nonce64}}{}", "n".repeat(21))),
            )
            .drop_last(),
        );
        out.push(e.negative(
            "nonce-65-characters",
            "a nonce of 65 characters is 400 invalid_header",
            &["TSR-HAWK-3"],
            err("invalid_header"),
            |r| r.hawk.nonce = Some(format!("${{random:nonce65}}{}", "n".repeat(22))),
        ));
        // replay: the accepted request, sent again byte for byte
        let (mut steps, good) = e.good();
        steps.push(step(named(good.clone(), "first")));
        steps.push(replay("first", err("replayed_request")));
        out.push(e.vector(
            "replay",
            "the same request sent twice: the second is 401 replayed_request",
            &["TSR-HAWK-9"],
            steps,
        ));
        // an accepted (id, ts, nonce) in a new, differently signed request
        let (mut steps, good) = e.good();
        let mut first = good.clone();
        first.hawk.nonce = Some("${random:nonce}".into());
        steps.push(step(first));
        let mut again = good.clone();
        again.hawk.nonce = Some("${random:nonce}".into());
        again.hawk.ext = Some("another request".into());
        again.expect = err("replayed_request");
        steps.push(step(again));
        out.push(e.vector(
            "nonce-reuse",
            "a nonce accepted once is refused in a new request with the same ts",
            &["TSR-HAWK-9"],
            steps,
        ));
        // the other kind of credentials
        if e.ticket {
            out.push(e.negative(
                "consumer-credentials",
                "Consumer credentials at a ticket endpoint are 401 invalid_credentials",
                &["TSR-HAWK-1", "TSR-TICKET-8"],
                err("invalid_credentials"),
                |r| r.actor = consumer(C),
            ));
            out.push(e.negative(
                "app-mismatch",
                "a ticket request whose app is not the ticket's is 401 invalid_credentials",
                &["TSR-HAWK-14"],
                err("invalid_credentials"),
                |r| r.hawk.app = Some(D.into()),
            ));
            out.push(e.negative(
                "app-missing",
                "a ticket request without app is 401 invalid_credentials",
                &["TSR-HAWK-14"],
                err("invalid_credentials"),
                |r| r.hawk.omit_app = true,
            ));
            out.push(e.negative(
                "dlg-added",
                "a dlg on a ticket that has none is 401 invalid_credentials",
                &["TSR-HAWK-14"],
                err("invalid_credentials"),
                |r| r.hawk.dlg = Some(D.into()),
            ));
            if e.method == "GET" {
                out.push(e.negative(
                    "body-text-plain",
                    "a GET with a non-JSON body is 415 unsupported_media_type",
                    &["TSR-CONV-4"],
                    err("unsupported_media_type"),
                    |r| {
                        r.raw_body = Some("hello".into());
                        r.content_type = Some("text/plain".into());
                    },
                ));
            } else {
                out.push(e.negative(
                    "hash-before-app",
                    "a missing payload hash is reported before an app mismatch (order of 4.8)",
                    &["TSR-HAWK-5", "TSR-HAWK-14"],
                    err("invalid_payload_hash"),
                    |r| {
                        r.hawk.omit_hash = true;
                        r.hawk.app = Some(D.into());
                    },
                ));
            }
            out.push(e.negative(
                "forged-ticket-id",
                "a ticket id that does not open is 401 invalid_credentials",
                &["TSR-HAWK-6", "TSR-TICKET-1"],
                err("invalid_credentials"),
                |r| r.hawk.id = Some("${t1/id}x".into()),
            ));
        } else {
            out.push(
                e.negative(
                    "ticket-credentials",
                    "ticket credentials at a Consumer endpoint are 401 invalid_credentials",
                    &["TSR-HAWK-1", "TSR-TICKET-8"],
                    err("invalid_credentials"),
                    |r| {
                        r.actor = ticket("$tx");
                    },
                )
                .with_prefix(login("x")),
            );
            out.push(e.negative(
                "app-on-consumer",
                "app on a request with Consumer credentials is 401 invalid_credentials",
                &["TSR-HAWK-14"],
                err("invalid_credentials"),
                |r| r.hawk.app = Some(C.into()),
            ));
        }
        if e.method == "POST" {
            out.push(e.negative(
                "hash-missing",
                "a body without hash is 401 invalid_payload_hash",
                &["TSR-HAWK-5"],
                err("invalid_payload_hash"),
                |r| r.hawk.omit_hash = true,
            ));
            out.push(e.negative(
                "hash-wrong",
                "a hash of another body is 401 invalid_payload_hash",
                &["TSR-HAWK-5"],
                err("invalid_payload_hash"),
                |r| r.hawk.hash = Some("Yi9LfIIFRtBEPt74PVmbTF/xVAwPn7ub15ePICfgnuY=".into()),
            ));
            out.push(e.negative(
                "unauthenticated-bad-body",
                "authentication comes before the body: no header and a broken body is 401",
                &["TSR-CONV-6", "TSR-HAWK-2"],
                err("unauthenticated"),
                |r| {
                    r.actor = Actor::Anonymous;
                    r.body = None;
                    r.raw_body = Some("{not json".into());
                },
            ));
            out.push(e.negative(
                "bad-mac-bad-body",
                "a wrong MAC with a broken body is 401 invalid_credentials, not 400",
                &["TSR-CONV-6", "TSR-HAWK-4"],
                err("invalid_credentials"),
                |r| {
                    r.body = None;
                    r.raw_body = Some("[1,2".into());
                    r.hawk.key = Some("${random:k2}".into());
                },
            ));
            out.push(
                e.negative(
                    "content-type-charset",
                    "application/json with a charset parameter is accepted and hashed without it",
                    &["TSR-HAWK-5"],
                    Expect::ok(),
                    |r| {
                        r.content_type = Some("application/json; charset=utf-8".into());
                    },
                )
                .drop_last(),
            );
        }
    }
    out
}

/// Every Hawk attribute left out alone, the others kept (the MAC still covers the value): a
/// required one makes the header unparseable (TSR-HAWK-3); an optional one that the MAC covers
/// makes the MAC fail (TSR-HAWK-4), since the Authority computes it from the header as sent.
pub fn omitted_attributes() -> Vec<Vector> {
    let mut out = Vec::new();
    for e in ENDPOINTS {
        for attribute in ["id", "ts", "nonce", "mac"] {
            out.push(e.negative(
                &format!("omit.{attribute}"),
                &format!("a header without {attribute}, every other attribute kept, is 400 invalid_header"),
                &["TSR-HAWK-3"],
                err("invalid_header"),
                |r| r.hawk.omit = vec![attribute.into()],
            ));
        }
        if e.method == "POST" {
            out.push(e.negative(
                "omit.hash",
                "a signed hash left out of the header: the MAC (over the header as sent) fails first, 401 invalid_credentials",
                &["TSR-HAWK-4", "TSR-HAWK-5"],
                err("invalid_credentials"),
                |r| r.hawk.omit = vec!["hash".into()],
            ));
        }
        out.push(e.negative(
            "omit.ext",
            "a signed ext left out of the header is 401 invalid_credentials",
            &["TSR-HAWK-4"],
            err("invalid_credentials"),
            |r| {
                r.hawk.ext = Some("covered-by-the-mac".into());
                r.hawk.omit = vec!["ext".into()];
            },
        ));
        if e.ticket {
            out.push(e.negative(
                "omit.app",
                "a signed app left out of the header is 401 invalid_credentials",
                &["TSR-HAWK-4", "TSR-HAWK-14"],
                err("invalid_credentials"),
                |r| r.hawk.omit = vec!["app".into()],
            ));
        }
    }
    out
}

/// One check of spec 4.8's order: its name, the answer when it is the first to fail, and how
/// to break it.
struct Check {
    name: &'static str,
    answer: &'static str,
    requirements: &'static [&'static str],
    applies: fn(&Endpoint) -> bool,
    /// Breaks the check in the request; may add setup steps (a revoke, a clock advance).
    breaks: fn(&Endpoint, &mut Request, &mut Vec<Step>),
}

const BROKEN_BODY: &str = "{\"not\": json";

fn post_only(e: &Endpoint) -> bool {
    e.method == "POST"
}

fn any(_: &Endpoint) -> bool {
    true
}

fn ticket_only(e: &Endpoint) -> bool {
    e.ticket
}

/// Spec 4.8, in order.
const CHECKS: &[Check] = &[
    Check {
        name: "method",
        answer: "method_not_allowed",
        requirements: &["TSR-ERROR-1"],
        applies: any,
        breaks: |e, r, _| r.method = if e.method == "GET" { "DELETE" } else { "PUT" }.into(),
    },
    Check {
        name: "media-type",
        answer: "unsupported_media_type",
        requirements: &["TSR-CONV-4"],
        applies: post_only,
        breaks: |_, r, _| r.content_type = Some("text/plain".into()),
    },
    Check {
        name: "body-size",
        answer: "payload_too_large",
        requirements: &["TSR-CONV-5"],
        applies: post_only,
        breaks: |_, r, _| {
            r.body = None;
            r.raw_body = Some(format!("{{\"pad\": {}", "1".repeat(16 * 1024 + 1)));
        },
    },
    Check {
        name: "header",
        answer: "invalid_header",
        requirements: &["TSR-HAWK-3"],
        applies: any,
        breaks: |_, r, _| r.hawk.omit = vec!["nonce".into()],
    },
    Check {
        name: "mac",
        answer: "invalid_credentials",
        requirements: &["TSR-HAWK-4"],
        applies: any,
        breaks: |_, r, _| r.hawk.key = Some("${random:wrongkey}".into()),
    },
    Check {
        name: "payload-hash",
        answer: "invalid_payload_hash",
        requirements: &["TSR-HAWK-5"],
        applies: post_only,
        breaks: |_, r, _| {
            r.hawk.hash = Some("Yi9LfIIFRtBEPt74PVmbTF/xVAwPn7ub15ePICfgnuY=".into());
        },
    },
    Check {
        name: "oz",
        answer: "invalid_credentials",
        requirements: &["TSR-HAWK-14"],
        applies: any,
        breaks: |e, r, _| r.hawk.app = Some(if e.ticket { D } else { C }.into()),
    },
    Check {
        name: "timestamp",
        answer: "stale_timestamp",
        requirements: &["TSR-HAWK-7"],
        applies: any,
        breaks: |_, r, _| r.hawk.ts_offset = -1000,
    },
    Check {
        name: "nonce",
        answer: "replayed_request",
        requirements: &["TSR-HAWK-9"],
        applies: any,
        // the nonce of an accepted request: `order` sends the good request with it first
        breaks: |_, r, _| r.hawk.nonce = Some("${random:accepted-nonce}".into()),
    },
    Check {
        name: "ticket-revoked",
        answer: "ticket_revoked",
        requirements: &["TSR-TICKET-6"],
        applies: ticket_only,
        breaks: |_, _, setup| setup.push(revoke("1")),
    },
    Check {
        name: "ticket-expired",
        answer: "ticket_expired",
        requirements: &["TSR-TICKET-5"],
        applies: ticket_only,
        breaks: |_, _, setup| setup.push(advance(TTL_TICKET, "the ticket expires")),
    },
    Check {
        name: "body",
        answer: "invalid_request",
        requirements: &["TSR-CONV-3"],
        applies: post_only,
        breaks: |_, r, _| {
            r.body = None;
            r.raw_body = Some(BROKEN_BODY.into());
        },
    },
];

/// Spec 4.8's order of checks: for each check, a request that breaks it and every later
/// check at once must get the answer of that check, the first to fail. (Each check alone is
/// broken by the `hawk.*`, `body.*` and endpoint vectors.) Where nothing was set up to break
/// a check, the request is sent correctly afterwards and must succeed (TSR-CONV-7).
pub fn order_of_checks() -> Vec<Vector> {
    let mut out = Vec::new();
    for e in ENDPOINTS {
        let applicable: Vec<&Check> = CHECKS.iter().filter(|c| (c.applies)(e)).collect();
        for (k, first) in applicable.iter().enumerate() {
            let (mut steps, good) = e.good();
            let mut bad = good.clone();
            let mut setup = Vec::new();
            let mut later: Vec<&str> = Vec::new();
            // later checks first, so that the first check's own breakage wins where two touch
            // the same part (the body-size stage's big body over the broken one)
            // the nonce can only be broken with an accepted ts: at the nonce stage an accepted
            // request with that nonce goes first, and the clock must not move before the
            // replay, so the ticket is not also expired there (before the nonce stage the
            // stale ts of the timestamp stage makes the triple a new one anyway)
            let replays = first.name == "nonce";
            for c in applicable[k..].iter().rev() {
                if first.name == "media-type" && c.name == "body-size" {
                    continue; // 413 and 415 are one stage of 4.8: no order between them
                }
                if replays && c.name == "ticket-expired" {
                    continue;
                }
                if !replays && c.name == "nonce" {
                    continue; // see above: nothing to replay with a stale ts
                }
                (c.breaks)(e, &mut bad, &mut setup);
                if c.name != first.name {
                    later.insert(0, c.name);
                }
            }
            if replays {
                let mut accepted = good.clone();
                accepted.hawk.nonce = Some("${random:accepted-nonce}".into());
                steps.push(step(accepted));
            }
            let changes_state = replays || !setup.is_empty();
            steps.extend(setup);
            bad.expect = err(first.answer);
            steps.push(step(bad));
            if !changes_state {
                steps.push(step(good));
            }
            let mut reqs = first.requirements.to_vec();
            reqs.push("TSR-CONV-7");
            let title = if later.is_empty() {
                format!(
                    "order of checks (4.8): {} broken, {}",
                    first.name, first.answer
                )
            } else {
                format!(
                    "order of checks (4.8): {} broken, and later checks too ({}): {} comes first",
                    first.name,
                    later.join(", "),
                    first.answer
                )
            };
            out.push(with_features(
                vector(
                    &format!("order.{}.{}", e.name, first.name),
                    &format!("{} {}: {title}", e.method, e.path),
                    &reqs,
                    Origin::Requirement,
                    steps,
                ),
                e.features,
            ));
        }
    }
    out
}

/// A ticket's sealed id altered in each region, and relabelled to a key id the Authority has
/// never had: every one is 401 invalid_credentials, the same as an unknown id (TSR-HAWK-6),
/// and the unaltered ticket still works afterwards.
pub fn tampered_ticket_ids() -> Vec<Vector> {
    let regions = [
        (
            IdTamper::KeyId,
            "key-id",
            "one character of the key id changed",
        ),
        (IdTamper::Nonce, "nonce", "one bit of the nonce flipped"),
        (
            IdTamper::Ciphertext,
            "ciphertext",
            "one bit of the ciphertext flipped",
        ),
        (IdTamper::Tag, "tag", "one bit of the tag flipped"),
        (
            IdTamper::Shorter,
            "shorter",
            "the sealed payload one byte shorter",
        ),
        (
            IdTamper::Longer,
            "longer",
            "the sealed payload one byte longer",
        ),
        (
            IdTamper::TooShort,
            "too-short",
            "a sealed payload shorter than nonce and tag",
        ),
        (IdTamper::Empty, "empty-payload", "an empty sealed payload"),
    ];
    let mut out = Vec::new();
    for e in ENDPOINTS.iter().filter(|e| e.ticket) {
        for (how, case, what) in regions {
            let mut v = e.negative(
                &format!("ticket-id.{case}"),
                &format!("a ticket id with {what} is 401 invalid_credentials"),
                &["TSR-TICKET-1", "TSR-HAWK-6"],
                err("invalid_credentials"),
                |r| r.hawk.id_tamper = Some(how),
            );
            v.id = format!("ticket-id.{}.{case}", e.name);
            out.push(v);
        }
        let mut v = e.negative(
            "ticket-id.unknown-key-id",
            "a ticket id relabelled to a key id the Authority never had is 401 invalid_credentials",
            // retired key ids: `retired_key_ids`
            &["TSR-TICKET-1", "TSR-HAWK-6"],
            err("invalid_credentials"),
            |r| r.hawk.relabel = Some("zz-never-issued".into()),
        );
        v.id = format!("ticket-id.{}.unknown-key-id", e.name);
        out.push(v);
    }
    out
}

/// `POST /conformance/sealing-keys` (spec A.4a) with `body`; a rotation binds `{bind}` to the
/// key id that was current.
fn sealing_keys(body: Value, bind: Option<&str>) -> Step {
    let mut expect = Expect::ok();
    if let Some(name) = bind {
        expect = expect.bind(name, "/previous");
    }
    step(note(
        post(Actor::Anonymous, "/conformance/sealing-keys", body, expect),
        "the operator rotates or withdraws a ticket sealing key (spec A.4a)",
    ))
}

/// Retired and withdrawn sealing keys (spec TSR-TICKET-2, through the hook of A.4a): a ticket
/// sealed under a retired key keeps working, one under a withdrawn key stops, and a ticket
/// relabelled to a retired key id (the key exists, but did not seal it) is refused.
pub fn retired_key_ids() -> Vec<Vector> {
    let reqs = &["TSR-TICKET-2", "TSR-CONF-12", "TSR-HAWK-6"];
    let rotate = |bind| sealing_keys(json!({"action": "rotate"}), Some(bind));
    let mut still_opens = login("1");
    still_opens.extend([
        rotate("old"),
        ok_subject("$t1"),
        sealing_keys(json!({"action": "withdraw", "kid": "${old}"}), None),
        subject("$t1", err("invalid_credentials")),
    ]);
    let mut new_key = login("1");
    new_key.push(rotate("old"));
    new_key.extend(login("2"));
    new_key.extend([
        sealing_keys(json!({"action": "withdraw", "kid": "${old}"}), None),
        ok_subject("$t2"),
    ]);
    let mut relabelled = vec![rotate("old")];
    relabelled.extend(login("1"));
    relabelled.extend([
        step(tweak(
            get(ticket("$t1"), "/v1/subject", err("invalid_credentials")),
            |h| {
                h.relabel = Some("${old}".into());
            },
        )),
        ok_subject("$t1"),
    ]);
    let refused = |body: Value, why: &str| {
        step(note(
            post(
                Actor::Anonymous,
                "/conformance/sealing-keys",
                body,
                err("invalid_request"),
            ),
            why,
        ))
    };
    let mut bad_changes = login("1");
    bad_changes.extend([
        step(get(
            Actor::Anonymous,
            "/conformance/sealing-keys",
            Expect::ok().bind("current", "/current"),
        )),
        refused(
            json!({"action": "withdraw", "kid": "${current}"}),
            "the current key cannot be withdrawn",
        ),
        refused(
            json!({"action": "withdraw", "kid": "zz-never-issued"}),
            "a key id the Authority does not hold",
        ),
        refused(
            json!({"action": "rotate", "kid": "${current}"}),
            "rotate takes no kid",
        ),
        refused(json!({"action": "forget"}), "an unknown action"),
        ok_subject("$t1"),
    ]);
    vec![
        vector(
            "ticket-id.retired-key.keeps-working",
            "a ticket sealed under a key that was then retired keeps working until the key is withdrawn, then is 401 invalid_credentials",
            reqs,
            Origin::Requirement,
            still_opens,
        ),
        vector(
            "ticket-id.retired-key.new-tickets",
            "after a rotation new tickets are sealed under the new key: withdrawing the old one leaves them working",
            reqs,
            Origin::Requirement,
            new_key,
        ),
        vector(
            "ticket-id.retired-key.relabelled",
            "a ticket id relabelled to a retired key id the Authority still holds is 401 invalid_credentials (the key id is bound to the sealed payload)",
            &["TSR-TICKET-1", "TSR-TICKET-2", "TSR-CONF-12", "TSR-HAWK-6"],
            Origin::Requirement,
            relabelled,
        ),
        vector(
            "conformance.sealing-keys-refused",
            "the sealing-key hook refuses withdrawing the current key, an unknown key id and malformed changes with 400 invalid_request, and changes nothing",
            &["TSR-CONF-12"],
            Origin::Requirement,
            bad_changes,
        ),
    ]
}

trait VectorExt {
    fn drop_last(self) -> Self;
    fn with_prefix(self, steps: Vec<Step>) -> Self;
}

impl VectorExt for Vector {
    /// The final "correct request again" is not wanted (the altered one was correct too).
    fn drop_last(mut self) -> Self {
        self.steps.pop();
        self
    }

    fn with_prefix(mut self, mut steps: Vec<Step>) -> Self {
        steps.append(&mut self.steps);
        self.steps = steps;
        self
    }
}
