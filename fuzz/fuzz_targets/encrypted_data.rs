//! The `<EncryptedData>` of a certificate-protected key (ASP.NET Core's
//! `ProtectKeysWithCertificate` form) as the key-ring XML reader hands it over:
//! `EncryptedData::read` refuses or reads it (bounded sizes, known algorithms), the certificates
//! it names are listed, and decrypting it with no matching certificate is an error, never a
//! panic. No RSA runs: a fuzzer cannot make a valid key transport, and the checks before it are
//! what an attacker reaches.
#![no_main]

use libfuzzer_sys::fuzz_target;
use trousseau::dataprotection::{xmlenc::encrypted_data::EncryptedData, xmltree};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(tree) = xmltree::parse(text) else {
        return;
    };
    if let Ok(encrypted) = EncryptedData::read(&tree) {
        let _ = encrypted.thumbprints();
        assert!(encrypted.decrypt(&[]).is_err());
    }
});
