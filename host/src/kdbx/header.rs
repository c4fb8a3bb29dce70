//! The KDBX outer header (format versions 2.x/3.x with 16-bit field sizes, 4.x with 32-bit).

use std::collections::BTreeMap;

use super::{variant, KdbxError};
use crate::masterkey::{Argon2Variant, KdfParams};

const SIG1: u32 = 0x9AA2_D903;
const SIG2: u32 = 0xB54B_FB67;
const SIG2_KDB: u32 = 0xB54B_FB65;

const AES_KDF: [u8; 16] = uuid(0xc9d9f39a_628a_4460_bf74_0d08c18a4fea);
const ARGON2D: [u8; 16] = uuid(0xef636ddf_8c29_444b_91f7_a9a403e30a0c);
const ARGON2ID: [u8; 16] = uuid(0x9e298b19_56db_4773_b23d_fc3ec6f0a1e6);
const CIPHER_AES256: [u8; 16] = uuid(0x31c1f2e6_bf71_4350_be58_05216afc5aff);
const CIPHER_CHACHA20: [u8; 16] = uuid(0xd6038a2b_8b6f_4cb5_a524_339a31dbb59a);
const CIPHER_TWOFISH: [u8; 16] = uuid(0xad68f29f_576f_4bb9_a36a_d47af965346c);

const fn uuid(v: u128) -> [u8; 16] {
    v.to_be_bytes()
}

/// The database's outer cipher.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cipher {
    /// AES-256-CBC.
    Aes256,
    /// ChaCha20.
    ChaCha20,
    /// Twofish-CBC.
    Twofish,
}

/// What [`parse_header`] extracts.
#[derive(Debug, Clone)]
pub struct KdbxHeader {
    /// Major file version (3 for KDBX 3.1, 4 for KDBX 4.x; 2 for pre-3.0 files).
    pub major: u16,
    /// Minor file version.
    pub minor: u16,
    /// The outer cipher.
    pub cipher: Cipher,
    /// The master seed (32 bytes).
    pub master_seed: Vec<u8>,
    /// The encryption IV.
    pub iv: Vec<u8>,
    /// The KDF and its parameters.
    pub kdf: KdfParams,
    /// KDBX 3.x: the expected first 32 plaintext bytes.
    pub stream_start: Option<[u8; 32]>,
    /// The header bytes, up to and including the end-of-header field.
    pub header_bytes: Vec<u8>,
    /// What follows the header (KDBX 4: SHA-256 and HMAC of the header; KDBX 3: ciphertext).
    pub after_header: Vec<u8>,
}

fn corrupt(msg: impl Into<String>) -> KdbxError {
    KdbxError::Corrupt(msg.into())
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// Parses the outer header of a KDBX file. `bytes` needs only the header and the bytes right
/// after it (64 for KDBX 4, 32 for KDBX 3), but the whole file is fine.
pub fn parse_header(bytes: &[u8]) -> Result<KdbxHeader, KdbxError> {
    let (s1, s2, ver) = (u32_at(bytes, 0), u32_at(bytes, 4), u32_at(bytes, 8));
    match (s1, s2) {
        (Some(SIG1), Some(SIG2)) => {}
        (Some(SIG1), Some(SIG2_KDB)) => {
            return Err(KdbxError::Unsupported(
                "this is a KeePass 1.x (.kdb) database; only KDBX (KeePass 2.x) is supported"
                    .into(),
            ))
        }
        _ => {
            return Err(corrupt(
                "not a KeePass database (the KDBX signature is missing)",
            ))
        }
    }
    let ver = ver.ok_or_else(|| corrupt("the header is truncated"))?;
    let (major, minor) = ((ver >> 16) as u16, (ver & 0xFFFF) as u16);
    if !(2..=4).contains(&major) {
        return Err(KdbxError::Unsupported(format!(
            "KDBX version {major}.{minor} is not supported (2.x, 3.x, 4.x)"
        )));
    }
    let wide = major >= 4;
    let mut fields: BTreeMap<u8, Vec<u8>> = BTreeMap::new();
    let mut pos = 12;
    loop {
        let id = *bytes
            .get(pos)
            .ok_or_else(|| corrupt("the header is truncated"))?;
        let (size, skip) = if wide {
            (u32_at(bytes, pos + 1).map(|s| s as usize), 5)
        } else {
            (
                bytes
                    .get(pos + 1..pos + 3)
                    .map(|b| u16::from_le_bytes([b[0], b[1]]) as usize),
                3,
            )
        };
        let size = size.ok_or_else(|| corrupt("the header is truncated"))?;
        let start = pos + skip;
        let data = bytes
            .get(start..start.saturating_add(size))
            .ok_or_else(|| corrupt(format!("header field {id} is truncated")))?;
        pos = start + size;
        if id == 0 {
            break;
        }
        fields.insert(id, data.to_vec());
    }
    let field = |id: u8, name: &str| {
        fields
            .get(&id)
            .cloned()
            .ok_or_else(|| corrupt(format!("the header has no {name} field")))
    };
    let cipher = match <[u8; 16]>::try_from(field(2, "cipher")?.as_slice()) {
        Ok(CIPHER_AES256) => Cipher::Aes256,
        Ok(CIPHER_CHACHA20) => Cipher::ChaCha20,
        Ok(CIPHER_TWOFISH) => Cipher::Twofish,
        _ => {
            return Err(KdbxError::Unsupported(
                "the database uses an unknown cipher".into(),
            ))
        }
    };
    let master_seed = field(4, "master seed")?;
    if master_seed.len() != 32 {
        return Err(corrupt(format!(
            "the master seed is {} bytes, not 32",
            master_seed.len()
        )));
    }
    let iv = field(7, "encryption IV")?;
    let (kdf, stream_start) = if wide {
        (kdf_from_dictionary(&field(11, "KDF parameters")?)?, None)
    } else {
        let seed: [u8; 32] = field(5, "transform seed")?
            .try_into()
            .map_err(|_| corrupt("the transform seed is not 32 bytes"))?;
        let rounds: [u8; 8] = field(6, "transform rounds")?
            .try_into()
            .map_err(|_| corrupt("the transform rounds field is not 8 bytes"))?;
        let start: [u8; 32] = field(9, "stream start bytes")?
            .try_into()
            .map_err(|_| corrupt("the stream start bytes are not 32 bytes"))?;
        (
            KdfParams::AesKdf {
                rounds: u64::from_le_bytes(rounds),
                seed,
            },
            Some(start),
        )
    };
    Ok(KdbxHeader {
        major,
        minor,
        cipher,
        master_seed,
        iv,
        kdf,
        stream_start,
        header_bytes: bytes[..pos].to_vec(),
        after_header: bytes[pos..bytes.len().min(pos + 64)].to_vec(),
    })
}

fn kdf_from_dictionary(data: &[u8]) -> Result<KdfParams, KdbxError> {
    use variant::Value;
    let dict = variant::parse(data)?;
    let bytes = |k: &str| match dict.get(k) {
        Some(Value::Bytes(b)) => Ok(b.clone()),
        _ => Err(corrupt(format!("the KDF parameters have no {k} entry"))),
    };
    let u64_of = |k: &str| match dict.get(k) {
        Some(Value::U64(v)) => Ok(*v),
        Some(Value::U32(v)) => Ok(u64::from(*v)),
        _ => Err(corrupt(format!(
            "the KDF parameters have no numeric {k} entry"
        ))),
    };
    let small = |k: &str| {
        u64_of(k).and_then(|v| {
            u32::try_from(v).map_err(|_| corrupt(format!("KDF parameter {k} = {v} is too large")))
        })
    };
    let id: [u8; 16] = bytes("$UUID")?
        .try_into()
        .map_err(|_| corrupt("the KDF UUID is not 16 bytes"))?;
    let argon = |variant| -> Result<KdfParams, KdbxError> {
        if dict.contains_key("K") || dict.contains_key("A") {
            return Err(KdbxError::Unsupported(
                "Argon2 with a secret key (K) or associated data (A) is not supported".into(),
            ));
        }
        Ok(KdfParams::Argon2 {
            variant,
            salt: bytes("S")?,
            memory_kib: u32::try_from(u64_of("M")? / 1024)
                .map_err(|_| corrupt("Argon2 memory is too large"))?,
            iterations: small("I")?,
            parallelism: small("P")?,
            version: small("V")?,
        })
    };
    match id {
        AES_KDF => Ok(KdfParams::AesKdf {
            rounds: u64_of("R")?,
            seed: bytes("S")?
                .try_into()
                .map_err(|_| corrupt("the AES-KDF seed is not 32 bytes"))?,
        }),
        ARGON2D => argon(Argon2Variant::D),
        ARGON2ID => argon(Argon2Variant::Id),
        other => Err(KdbxError::Unsupported(format!(
            "unknown KDF {}; known: AES-KDF, Argon2d, Argon2id",
            hex::encode(other)
        ))),
    }
}
