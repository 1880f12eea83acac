//! Tessera reference implementation: the Authority, the Consumer library and their building blocks.

pub mod hawk;
pub mod pkce;
pub mod rand;
pub mod seal;
