//! Writes the seeds that cannot be typed by hand into `fuzz/corpus/` (valid payloads of the
//! fixed ring, a master-key slot element). Run from `fuzz/`:
//! `cargo run --example make_seeds` (no instrumentation or nightly flags needed).

use std::{fs, path::Path};

use trousseau::{
    dataprotection::{
        payload,
        slots::Slot,
        timestamp::{days, Timestamp},
        wrapping::RingWrappingKey,
    },
    masterkey::{Argon2Variant, KdfParams, SourceSpec},
};
use trousseau_core::SecretBytes;

fn write(target: &str, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    let dir = Path::new("corpus").join(target);
    fs::create_dir_all(&dir)?;
    fs::write(dir.join(name), bytes)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let p = trousseau_fuzz::fixed_protector();
    let raw = p.protect(b"hello, fuzzer")?;
    write("payload", "cbc-hmac.bin", &raw)?;
    write(
        "payload",
        "cbc-hmac.b64",
        payload::to_base64url(&raw).as_bytes(),
    )?;
    let later = Timestamp(630_822_816_000_000_000).plus(days(365 * 900));
    write(
        "payload",
        "time-limited.bin",
        &p.time_limited().protect(b"t", later)?,
    )?;

    let w = RingWrappingKey::generate(0)?;
    let spec = SourceSpec {
        provider: "password".into(),
        config: "{}".into(),
        public_params: "{}".into(),
    };
    let kdf = KdfParams::Argon2 {
        variant: Argon2Variant::Id,
        salt: vec![3; 32],
        memory_kib: 1024,
        iterations: 2,
        parallelism: 1,
        version: 0x13,
    };
    let slot = Slot::wrap(
        &SecretBytes::copy_from(&[7; 32]),
        &w,
        "seed",
        vec![spec],
        kdf,
        Timestamp(630_822_816_000_000_000),
    )?
    .to_element()?;
    let named = format!("{}\u{1}{}", slot.name(), slot.xml());
    write("ring_elements", "master-key-slot.xml", named.as_bytes())?;
    Ok(())
}
