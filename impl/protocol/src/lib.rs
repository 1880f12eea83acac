//! The Tessera protocol pieces both roles use, with no I/O and no server or database crates:
//!
//! - [`wire`]: the JSON wire types of the spec (requests strict, responses forward compatible);
//! - [`hawk`]: Hawk 1.1 request and response authentication (sans-IO);
//! - [`rand`]: randomness from ring, and a seeded source for tests;
//! - [`clock`]: the injected clock;
//! - [`html`]: the HTML escape and the stylesheet of both roles' pages.
//!
//! The Authority (`tessera`) and the Consumer library (`tessera-consumer`) both build on this
//! crate; it is re-exported as `tessera::{wire, hawk, rand, clock}`.

/// The version of the specification this crate implements (spec TSR-META-3).
pub const PROTOCOL_VERSION: &str = "1.1";

pub mod clock;
pub mod hawk;
pub mod html;
pub mod rand;
pub mod wire;
