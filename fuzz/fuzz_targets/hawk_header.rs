//! The Hawk `Authorization` header parser (spec 4.2): never panics; what it accepts obeys the
//! limits of TSR-HAWK-3.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera::hawk::{parse_authorization_header, MAX_HEADER_LEN, MAX_NONCE_LEN};

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(h) = parse_authorization_header(s) {
        assert!(s.len() <= MAX_HEADER_LEN);
        assert!(!h.id.is_empty() && !h.nonce.is_empty() && !h.mac.is_empty());
        assert!(h.nonce.len() <= MAX_NONCE_LEN);
    }
});
