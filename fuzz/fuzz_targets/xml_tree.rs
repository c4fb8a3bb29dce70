//! The key-ring XML tree (`xmltree::parse`): anything may be refused, nothing may panic, and a
//! tree it returns must serialise (`keyxml::write_element`) to XML it reads again.
#![no_main]

use libfuzzer_sys::fuzz_target;
use trousseau::dataprotection::{keyxml::write_element, xmltree};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(tree) = xmltree::parse(text) {
        let written = write_element(&tree);
        if let Err(e) = xmltree::parse(&written) {
            panic!("a parsed tree does not read back: {e}\n{written}");
        }
    }
});
