//! Key files in every format (XML 1.0/2.0, 32 raw bytes, 64 hex, hashed) through the keyfile
//! provider's `interpret`, the bytes-level entry point of `load_key_file`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(loaded) = trousseau_keyfile::interpret(data) {
        let _ = trousseau_keyfile::key_check(loaded.key.expose());
    }
    let _ = trousseau_keyfile::is_database_file(data);
});
