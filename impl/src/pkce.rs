//! PKCE (RFC 7636), S256 only.
//!
//! The Consumer sends `challenge = BASE64URL-NOPAD(SHA-256(ASCII(verifier)))` in the handshake
//! and the `verifier` with the result request; the Authority checks that they match, so only
//! the party that started the flow can redeem its code. The `plain` method is not supported:
//! it offers no protection once the challenge is observed.

use crate::rand::Random;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ring::digest;

/// Shortest verifier RFC 7636 §4.1 allows.
pub const MIN_VERIFIER_LEN: usize = 43;
/// Longest verifier RFC 7636 §4.1 allows.
pub const MAX_VERIFIER_LEN: usize = 128;
/// Length of an S256 challenge: 32 bytes in unpadded base64url.
pub const CHALLENGE_LEN: usize = 43;

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// RFC 7636 §4.1: 43 to 128 characters of `[A-Za-z0-9-._~]`.
#[must_use]
pub fn is_valid_verifier(verifier: &str) -> bool {
    (MIN_VERIFIER_LEN..=MAX_VERIFIER_LEN).contains(&verifier.len())
        && verifier.bytes().all(is_unreserved)
}

/// Whether `challenge` has the form of an S256 challenge: 43 characters of unpadded
/// base64url that decode to 32 bytes.
#[must_use]
pub fn is_valid_challenge(challenge: &str) -> bool {
    challenge.len() == CHALLENGE_LEN
        && URL_SAFE_NO_PAD
            .decode(challenge)
            .is_ok_and(|bytes| bytes.len() == 32)
}

/// The S256 challenge for `verifier`: unpadded base64url of SHA-256 over its ASCII bytes.
///
/// This does not check the verifier's format (see [`is_valid_verifier`]); [`verify`] does.
#[must_use]
pub fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, verifier.as_bytes()))
}

/// Whether `verifier` is well-formed and its S256 challenge equals `challenge`.
///
/// The comparison is constant-time. A malformed verifier is refused before hashing.
#[must_use]
pub fn verify(verifier: &str, challenge: &str) -> bool {
    if !is_valid_verifier(verifier) {
        return false;
    }
    let expected = self::challenge(verifier);
    crate::hawk::constant_time_eq(expected.as_bytes(), challenge.as_bytes())
}

/// A fresh verifier: 32 random bytes in unpadded base64url (43 characters, the RFC's
/// recommendation).
pub fn generate_verifier<R: Random + ?Sized>(rng: &R) -> String {
    crate::rand::token(rng, 32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rand::SeededRandom;

    const RFC_VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const RFC_CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    #[test]
    fn rfc7636_appendix_b() {
        assert_eq!(challenge(RFC_VERIFIER), RFC_CHALLENGE);
        assert!(verify(RFC_VERIFIER, RFC_CHALLENGE));
        assert!(is_valid_challenge(RFC_CHALLENGE));
    }

    #[test]
    fn wrong_verifier_or_challenge_is_refused() {
        let mut other = RFC_VERIFIER.to_owned();
        other.replace_range(0..1, "e");
        assert!(!verify(&other, RFC_CHALLENGE));
        assert!(!verify(
            RFC_VERIFIER,
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cN"
        ));
        assert!(!verify(RFC_VERIFIER, ""));
        assert!(!verify(RFC_VERIFIER, &format!("{RFC_CHALLENGE}=")));
        // plain method: the verifier itself is not accepted as a challenge
        assert!(!verify(RFC_VERIFIER, RFC_VERIFIER));
    }

    #[test]
    fn verifier_format() {
        assert!(is_valid_verifier(&"a".repeat(43)));
        assert!(is_valid_verifier(&"-._~aZ09".repeat(16))); // 128
        assert!(!is_valid_verifier(&"a".repeat(42)));
        assert!(!is_valid_verifier(&"a".repeat(129)));
        assert!(!is_valid_verifier(&format!("{}+", "a".repeat(42))));
        assert!(!is_valid_verifier(&format!("{}é", "a".repeat(42))));
        assert!(!is_valid_verifier(&format!("{} ", "a".repeat(42))));
        // a malformed verifier is refused even when its hash matches
        let short = "a".repeat(42);
        assert!(!verify(&short, &challenge(&short)));
    }

    #[test]
    fn challenge_format() {
        assert!(!is_valid_challenge(&"A".repeat(42)));
        assert!(!is_valid_challenge(&"A".repeat(44)));
        assert!(!is_valid_challenge(&format!("{}+", &RFC_CHALLENGE[..42])));
    }

    #[test]
    fn generated_verifiers_are_valid_and_round_trip() {
        let rng = SeededRandom::new(42);
        let v = generate_verifier(&rng);
        assert_eq!(v.len(), 43);
        assert!(is_valid_verifier(&v));
        assert!(verify(&v, &challenge(&v)));
        assert_ne!(v, generate_verifier(&rng));
    }
}
