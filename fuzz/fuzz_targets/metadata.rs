//! The metadata a Consumer fetches (spec 5.1) from an Authority it does not trust yet: parsing
//! and checking it never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera::consumer::Endpoints;
use tessera::wire::Metadata;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = serde_json::from_slice::<Metadata>(data) {
        let _ = Endpoints::from_metadata("https://auth.example", &m);
        let _ = Endpoints::from_metadata(&m.issuer, &m);
    }
});
