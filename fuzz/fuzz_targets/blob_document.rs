//! The blob repository document (`<repository>` holding every element) and the element text
//! helpers: `document::read`, `element::compact`, `element::friendly_name`. What `read`
//! returns must survive `write` then `read` unchanged.
#![no_main]

use libfuzzer_sys::fuzz_target;
use trousseau_repository_xml::{document, element};

fuzz_target!(|data: &[u8]| {
    if let Ok(children) = document::read(data, "fuzz") {
        for child in &children {
            let _ = element::friendly_name(child);
        }
        let again = document::read(&document::write(&children), "fuzz")
            .expect("a written document reads back");
        assert_eq!(again, children);
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(compacted) = element::compact(text) {
            assert_eq!(element::compact(&compacted).ok().as_ref(), Some(&compacted));
        }
        let _ = element::friendly_name(text);
    }
});
