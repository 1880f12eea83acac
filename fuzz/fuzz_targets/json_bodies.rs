//! Every JSON request body type through the one strict parser (spec TSR-CONV-3, TSR-CONV-15):
//! never panics, and anything accepted has no duplicate member and no null.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera::wire::{
    self, AppTicketRequest, ClockAdvance, ConformanceAuthorize, HandshakeRequest, ReissueRequest,
    ResultRequest, SidRequest,
};

fn has_null(v: &serde_json::Value) -> bool {
    match v {
        serde_json::Value::Null => true,
        serde_json::Value::Array(a) => a.iter().any(has_null),
        serde_json::Value::Object(o) => o.values().any(has_null),
        _ => false,
    }
}

fuzz_target!(|data: &[u8]| {
    let strict = tessera::json::parse_strict(data);
    if let Ok(v) = &strict {
        // serde_json agrees it is JSON, and nothing null survived
        assert!(serde_json::from_slice::<serde_json::Value>(data).is_ok());
        assert!(!has_null(v));
    }
    let results = [
        wire::parse::<HandshakeRequest>(data).is_ok(),
        wire::parse::<ResultRequest>(data).is_ok(),
        wire::parse::<SidRequest>(data).is_ok(),
        wire::parse::<AppTicketRequest>(data).is_ok(),
        wire::parse::<ReissueRequest>(data).is_ok(),
        wire::parse::<ConformanceAuthorize>(data).is_ok(),
        wire::parse::<ClockAdvance>(data).is_ok(),
    ];
    if results.iter().any(|ok| *ok) {
        assert!(
            strict.is_ok(),
            "a wire type accepted what the strict parser refuses"
        );
    }
    if let Err(e) = wire::parse::<SidRequest>(data) {
        assert_eq!(e.status().as_u16(), 400);
    }
});
