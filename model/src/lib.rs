//! Tessera as an executable stateright model. Placeholder docs, replaced below.

pub mod check;
pub mod render;
pub mod switches;
pub mod world;

pub use switches::{Capabilities, Switch, Switches, Variant};
pub use world::{Action, Tessera};
