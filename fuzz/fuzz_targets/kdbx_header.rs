//! KDBX outer headers (3.x and 4.x) and the KDBX 4 variant dictionary of KDF parameters,
//! then the key check against a fixed transformed key.
//! Input: a KDBX file; or, when it starts with `VD`, the rest is a variant dictionary placed
//! as the KDF-parameters field of an otherwise valid KDBX 4 header.
#![no_main]

use libfuzzer_sys::fuzz_target;
use trousseau::kdbx::{parse_header, verify_key};
use trousseau_core::SecretBytes;

/// A KDBX 4.1 header (AES-256, 32-byte seed, 16-byte IV) whose KDF parameters are `dict`.
fn kdbx4_with_dictionary(dict: &[u8]) -> Vec<u8> {
    let mut h = Vec::new();
    h.extend_from_slice(&0x9AA2_D903u32.to_le_bytes());
    h.extend_from_slice(&0xB54B_FB67u32.to_le_bytes());
    h.extend_from_slice(&0x0004_0001u32.to_le_bytes());
    let mut field = |id: u8, value: &[u8]| {
        h.push(id);
        h.extend_from_slice(&(value.len() as u32).to_le_bytes());
        h.extend_from_slice(value);
    };
    field(2, &0x31c1f2e6_bf71_4350_be58_05216afc5affu128.to_be_bytes());
    field(4, &[7; 32]);
    field(7, &[9; 16]);
    field(11, dict);
    field(0, b"\r\n\r\n");
    h.extend_from_slice(&[0; 64]);
    h
}

fuzz_target!(|data: &[u8]| {
    let bytes = match data.strip_prefix(b"VD") {
        Some(dict) => kdbx4_with_dictionary(dict),
        None => data.to_vec(),
    };
    if let Ok(header) = parse_header(&bytes) {
        let _ = verify_key(&header, &SecretBytes::copy_from(&[0x5a; 32]));
    }
});
