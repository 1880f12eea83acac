//! The Tessera conformance suite.
//!
//! Today this crate holds the index of the specification's requirements
//! ([`requirements`]): every `TSR-…` identifier defined in `spec/`, checked for form and
//! uniqueness, which the model's properties and the conformance vectors cite and which
//! requirement-coverage reports are computed against.

pub mod requirements;
