//! Master-key policy expiry values (`policy::parse_expiry`: xs:duration, xs:date,
//! xs:dateTime), and checking a rule at extreme instants.
//! (The CLI's `--ttl` parser lives in a private module of the binary's CLI, so it is not
//! reachable from here.)
#![no_main]

use libfuzzer_sys::fuzz_target;
use time::OffsetDateTime;
use trousseau::policy::parse_expiry;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(rule) = parse_expiry(text) {
        let _ = rule.describe();
        let (lo, hi) = (
            OffsetDateTime::new_utc(time::Date::MIN, time::Time::MIDNIGHT),
            OffsetDateTime::new_utc(time::Date::MAX, time::Time::MIDNIGHT),
        );
        for (changed, now) in [(lo, hi), (hi, lo), (OffsetDateTime::UNIX_EPOCH, hi)] {
            let _ = rule.expired(changed, now);
        }
    }
});
