//! Protected payloads: the envelope, base64url, and unprotect (plain and time-limited) against
//! a fixed in-memory ring. Anything may fail; nothing may panic. Round trip: what `protect`
//! makes, `unprotect` returns.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use trousseau::dataprotection::{
    payload, protector::TimeLimitedProtector, timestamp::Timestamp, DataProtector,
};

fn protector() -> &'static DataProtector {
    static P: OnceLock<DataProtector> = OnceLock::new();
    P.get_or_init(trousseau_fuzz::fixed_protector)
}

fuzz_target!(|data: &[u8]| {
    let p = protector();
    let now = Timestamp(639_000_000_000_000_000);
    let _ = payload::open_envelope(data);
    let _ = p.unprotect_detailed(data, data.first().is_some_and(|b| b & 1 == 1));
    let _ = p.time_limited().unprotect(data, now);
    let _ = TimeLimitedProtector::split(data, now).map(|(_, t)| t.to_string());
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = p.unprotect_str(text);
        let _ = payload::from_base64url(text);
    }
    if data.len() <= 4096 {
        let protected = p.protect(data).expect("protect");
        assert_eq!(p.unprotect(&protected).expect("round trip"), data);
    }
});
