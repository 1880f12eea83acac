//! Structured audit events: one JSON object per line, to a file (appended) or standard
//! output, for every security event (sign-in, consent, redemption, refresh, reuse detected,
//! revocation, replay refused, authentication failure, and the operator's changes: key
//! rotation, Consumer disabled or removed, password set).
//!
//! No secret is ever written: no key, code, `sid`, ticket, password or MAC; Consumers by id,
//! Subjects by login name.

use serde::Serialize;
use std::io::Write;
use std::path::Path;
use std::sync::{Mutex, PoisonError};

/// One audit event.
#[derive(Debug, Clone, Serialize)]
pub struct Event<'a> {
    /// Unix seconds.
    pub ts: i64,
    /// `login_success`, `revocation`, …
    pub event: &'a str,
    /// The Consumer concerned, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consumer: Option<&'a str>,
    /// The Subject's login name, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<&'a str>,
    /// Further fields (reason, decision, endpoint, …).
    #[serde(flatten)]
    pub details: std::collections::BTreeMap<&'a str, &'a str>,
}

impl<'a> Event<'a> {
    /// An event of kind `event`, now.
    #[must_use]
    pub fn new(event: &'a str) -> Self {
        Self {
            ts: crate::clock::system_now(),
            event,
            consumer: None,
            username: None,
            details: std::collections::BTreeMap::new(),
        }
    }

    /// With the Consumer.
    #[must_use]
    pub fn consumer(mut self, id: Option<&'a str>) -> Self {
        self.consumer = id;
        self
    }

    /// With the Subject's login name.
    #[must_use]
    pub fn username(mut self, name: Option<&'a str>) -> Self {
        self.username = name;
        self
    }

    /// With a detail.
    #[must_use]
    pub fn detail(mut self, key: &'a str, value: &'a str) -> Self {
        self.details.insert(key, value);
        self
    }
}

/// Where audit events go: nowhere (the default), standard output, or a file.
#[derive(Default)]
pub struct Audit {
    sink: Option<Mutex<Box<dyn Write + Send>>>,
}

impl std::fmt::Debug for Audit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Audit")
            .field("enabled", &self.sink.is_some())
            .finish()
    }
}

impl Audit {
    /// Events to `target`: `-` for standard output, else a file path (appended, created if
    /// missing).
    pub fn open(target: &str) -> std::io::Result<Self> {
        let w: Box<dyn Write + Send> = if target == "-" {
            Box::new(std::io::stdout())
        } else {
            Box::new(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(Path::new(target))?,
            )
        };
        Ok(Self::to_writer(w))
    }

    /// Events to any writer (tests).
    #[must_use]
    pub fn to_writer(w: Box<dyn Write + Send>) -> Self {
        Self {
            sink: Some(Mutex::new(w)),
        }
    }

    /// Writes `event` as one line; a failing sink is logged, never fatal to the request.
    pub fn emit(&self, event: &Event<'_>) {
        let Some(sink) = &self.sink else { return };
        let Ok(mut line) = serde_json::to_vec(event) else {
            return;
        };
        line.push(b'\n');
        let mut w = sink.lock().unwrap_or_else(PoisonError::into_inner);
        if let Err(e) = w.write_all(&line).and_then(|()| w.flush()) {
            tracing::error!(error = %e, "cannot write the audit log");
        }
    }
}
