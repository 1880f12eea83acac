//! Sealed ticket ids (spec TSR-TICKET-2): opening attacker-chosen strings never panics and
//! never succeeds without the key; a real seal survives and tampering is refused.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use tessera::rand::SeededRandom;
use tessera::seal::Sealer;

fn sealer() -> &'static Sealer {
    static S: OnceLock<Sealer> = OnceLock::new();
    S.get_or_init(|| Sealer::new("k1", &[9u8; 32]).unwrap())
}

fuzz_target!(|data: &[u8]| {
    let s = sealer();
    if let Ok(text) = std::str::from_utf8(data) {
        // a string the fuzzer made cannot be a valid seal under a key it does not know
        assert!(s.open(text).is_err());
        assert!(tessera::core::open_ticket(s, text).is_none());
    }
    if data.len() <= tessera::seal::MAX_PLAINTEXT_LEN {
        let sealed = s.seal(data, &SeededRandom::new(data.len() as u64)).unwrap();
        assert_eq!(s.open(&sealed).unwrap(), data);
        let mut tampered = sealed.into_bytes();
        let i = data.first().map_or(0, |b| *b as usize) % tampered.len();
        tampered[i] = if tampered[i] == b'A' { b'B' } else { b'A' };
        if let Ok(t) = String::from_utf8(tampered) {
            assert!(s.open(&t).map_or(true, |p| p == data));
        }
    }
});
