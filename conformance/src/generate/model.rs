//! Vectors from the model (`tessera-model`): filled in when the model's Authority-facing
//! behaviour is available.

use crate::vector::Vector;

pub fn vectors() -> Vec<Vector> {
    Vec::new()
}
