//! Key-ring elements as a repository hands them over: `ParsedElements::read` on arbitrary
//! elements (keys, revocations, anything else), master-key slots through `Slot::parse`, the
//! ring keys with revocations applied, and each key's descriptor (encryptor).
//! Input: elements separated by NUL bytes, each `name\x01xml` or just `xml`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use trousseau::dataprotection::{
    keyxml::{write_element, ParsedElements},
    manager::PlainKeys,
    slots::{slots, Slot},
};

fuzz_target!(|data: &[u8]| {
    let Ok(parsed) = ParsedElements::read(&trousseau_fuzz::elements(data)) else {
        return;
    };
    for (_, element) in &parsed.other {
        let _ = write_element(element);
        if let Ok(slot) = Slot::parse(element) {
            let _ = (slot.describe_sources(), slot.to_element());
        }
    }
    let _ = slots(&parsed);
    if let Ok(keys) = parsed.into_ring_keys(&PlainKeys) {
        for key in keys {
            let _ = key.encryptor(&PlainKeys);
        }
    }
});
