//! The conformance fixtures (spec A.3): two Consumers and two Subjects, fresh at each start.

use super::BuildError;
use crate::config::Issuer;
use crate::core::{Consumer, Subject};
use crate::password::{self, Cost};
use crate::rand::{token, Random, TOKEN_BYTES};
use crate::store::Store;
use crate::wire::{FixtureConsumer, FixtureSubject, Fixtures};

/// The fixtures of spec A.3 (TSR-CONF-5), with fresh keys and passwords.
pub(super) fn install_fixtures(
    issuer: &Issuer,
    store: &dyn Store,
    rng: &dyn Random,
) -> Result<Fixtures, BuildError> {
    let consumers = vec![
        Consumer {
            id: "conformance-consumer".into(),
            key: token(rng, TOKEN_BYTES),
            name: "Conformance Consumer".into(),
            redirect_uris: vec!["https://consumer.example/callback".into()],
            grants: vec!["admin".into(), "staff".into()],
            scopes: vec!["email".into(), "profile".into()],
            may_delegate: true,
            delegates: vec!["conformance-delegate".into()],
        },
        Consumer {
            id: "conformance-delegate".into(),
            key: token(rng, TOKEN_BYTES),
            name: "Conformance Delegate".into(),
            redirect_uris: vec!["https://delegate.example/callback".into()],
            grants: vec!["staff".into()],
            scopes: vec!["email".into()],
            may_delegate: false,
            delegates: vec![],
        },
    ];
    let mut fixture_consumers = Vec::new();
    for c in consumers {
        store.put_consumer(&c)?;
        fixture_consumers.push(FixtureConsumer {
            consumer_id: c.id,
            key: c.key,
            algorithm: "sha256".into(),
            name: c.name,
            redirect_uris: c.redirect_uris,
            grants: c.grants,
            scopes: c.scopes,
            may_delegate: c.may_delegate,
            delegates: c.delegates,
        });
    }
    let mut subjects = Vec::new();
    for (username, roles, email, name) in [
        (
            "alice",
            vec!["staff".to_owned()],
            "alice@example.org",
            "Alice",
        ),
        ("mallory", vec![], "mallory@example.org", "Mallory"),
    ] {
        let pw = token(rng, 16);
        let mut data = serde_json::Map::new();
        data.insert("email".into(), email.into());
        data.insert("profile".into(), serde_json::json!({ "name": name }));
        store.put_subject(&Subject {
            id: format!("sub_{}", token(rng, 16)),
            username: username.into(),
            password_hash: password::hash(&pw, Cost::FIXTURE, rng)?,
            roles: roles.clone(),
            data: data.clone(),
        })?;
        subjects.push(FixtureSubject {
            username: username.into(),
            password: pw,
            roles,
            data,
        });
    }
    Ok(Fixtures {
        issuer: issuer.as_str().to_owned(),
        consumers: fixture_consumers,
        subjects,
    })
}
