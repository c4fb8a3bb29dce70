//! xs:dateTime as key XML holds it (`Timestamp::parse`). Differential: where the `time` crate's
//! RFC 3339 parser also accepts the text, both must give the same instant. A parsed instant
//! must print as text that parses back to it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use time::format_description::well_known::Rfc3339;
use trousseau::dataprotection::timestamp::Timestamp;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let ours = Timestamp::parse(text);
    if let Ok(t) = &ours {
        let printed = t.to_string();
        assert_eq!(
            Timestamp::parse(&printed).ok(),
            Some(*t),
            "{text:?} printed {printed:?}"
        );
        let _ = (t.compact(), t.unix_seconds());
    }
    if let (Ok(t), Ok(theirs)) = (&ours, time::OffsetDateTime::parse(text, &Rfc3339)) {
        assert_eq!(t.to_offset_date_time(), Some(theirs), "{text:?}");
    }
});
