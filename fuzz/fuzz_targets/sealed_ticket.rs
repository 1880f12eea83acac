//! libFuzzer's entry for [`tessera_fuzz::sealed_ticket`] (the body lives in `fuzz/src/lib.rs`, shared
//! with the smoke test `impl/tests/fuzz_smoke.rs`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| tessera_fuzz::sealed_ticket(data));
