//! Helpers shared by the fuzz targets in `fuzz_targets/` (one target per parser; see
//! `docs/fuzzing.md`). Everything here is fixed and deterministic, so that a crash found once
//! reproduces from its input file alone.

#![forbid(unsafe_code)]

use std::{collections::HashMap, sync::Arc};

use trousseau::dataprotection::{
    algorithms::{Algorithm, EncryptionAlgorithm, ValidationAlgorithm},
    keyring::{Descriptor, Key, KeyRing, MasterKeySecret, RingKey},
    manager::PlainKeys,
    protector::FixedKeyRing,
    timestamp::{days, Timestamp},
    DataProtector,
};
use trousseau_core::SecretBytes;
use uuid::Uuid;

/// The key ids of [`fixed_protector`]'s ring: AES-256-CBC + HMAC-SHA256 (the default key),
/// AES-256-GCM, and a revoked AES-128-CBC + HMAC-SHA512 key.
pub const KEY_IDS: [Uuid; 3] = [
    Uuid::from_u128(0xead9607a_7754_4369_a7f4_6696e5713ced),
    Uuid::from_u128(0x0c819c80_6619_4019_9536_53f8aaffee57),
    Uuid::from_u128(0xbbbbbbbb_1c1c_2d2d_3e3e_444444444444),
];

/// The purposes of [`fixed_protector`].
pub const PURPOSES: [&str; 2] = ["fuzz-app", "fuzz-purpose"];

/// A protector over a fixed in-memory ring of three keys with fixed secrets (see [`KEY_IDS`]).
pub fn fixed_protector() -> DataProtector {
    let created = Timestamp(630_822_816_000_000_000); // 2000-01-01T00:00:00Z
    let algorithms = [
        Algorithm::default(),
        Algorithm {
            encryption: EncryptionAlgorithm::Aes256Gcm,
            validation: ValidationAlgorithm::HmacSha256,
        },
        Algorithm {
            encryption: EncryptionAlgorithm::Aes128Cbc,
            validation: ValidationAlgorithm::HmacSha512,
        },
    ];
    let keys: HashMap<Uuid, Arc<RingKey>> = KEY_IDS
        .iter()
        .zip(algorithms)
        .enumerate()
        .map(|(i, (&id, algorithm))| {
            let key = Key {
                id,
                creation: created,
                activation: created,
                expiration: created.plus(days(365 * 1000)),
                descriptor: Ok(Descriptor {
                    algorithm,
                    secret: MasterKeySecret::Plain(SecretBytes::copy_from(&[i as u8 + 1; 64])),
                }),
            };
            (id, Arc::new(RingKey::new(key, i == 2)))
        })
        .collect();
    let ring = match KeyRing::new(keys, KEY_IDS[0], Arc::new(PlainKeys)) {
        Ok(ring) => ring,
        // The default key is in the map by construction.
        Err(e) => unreachable!("fixed ring: {e}"),
    };
    DataProtector::new(
        Arc::new(FixedKeyRing(Arc::new(ring))),
        PURPOSES.iter().map(|p| p.to_string()).collect(),
    )
}

/// Splits fuzz input into repository elements: parts separated by NUL bytes, each
/// `name\x01xml` (or just `xml`, named `element-N`); invalid UTF-8 is replaced.
pub fn elements(data: &[u8]) -> Vec<trousseau_core::Element> {
    data.split(|&b| b == 0)
        .enumerate()
        .map(|(i, part)| {
            let text = String::from_utf8_lossy(part);
            match text.split_once('\u{1}') {
                Some((name, xml)) => trousseau_core::Element::new(name, xml),
                None => trousseau_core::Element::new(format!("element-{i}"), text.into_owned()),
            }
        })
        .collect()
}
