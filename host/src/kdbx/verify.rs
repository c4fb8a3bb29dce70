//! Does a transformed key open the database? KDBX 4: the header HMAC; KDBX 3.x: the first
//! 32 decrypted bytes equal the header's stream start bytes.

use aes::{
    cipher::{BlockCipherDecrypt, KeyInit},
    Aes256, Block,
};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256, Sha512};
use subtle::ConstantTimeEq;
use trousseau_core::SecretBytes;

use super::{Cipher, KdbxError, KdbxHeader};

/// The result of a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The key opens the database.
    Opens,
    /// It does not: wrong password, wrong key file or a missing/extra component.
    DoesNotOpen,
}

/// Checks `transformed` (the KDF output for the database's KDF) against the header.
pub fn verify_key(header: &KdbxHeader, transformed: &SecretBytes) -> Result<Verdict, KdbxError> {
    let opens = if header.major >= 4 {
        verify_hmac(header, transformed)?
    } else {
        verify_stream_start(header, transformed)?
    };
    Ok(if opens {
        Verdict::Opens
    } else {
        Verdict::DoesNotOpen
    })
}

fn verify_hmac(header: &KdbxHeader, transformed: &SecretBytes) -> Result<bool, KdbxError> {
    let after = &header.after_header;
    if after.len() < 64 {
        return Err(KdbxError::Corrupt(
            "the file ends right after the header (no header hash and HMAC)".into(),
        ));
    }
    if Sha256::digest(&header.header_bytes).as_slice() != &after[..32] {
        return Err(KdbxError::Corrupt(
            "the header's SHA-256 does not match: the database header is damaged".into(),
        ));
    }
    let mut h = Sha512::new();
    h.update(&header.master_seed);
    h.update(transformed.expose());
    h.update([1u8]);
    let hmac_key64 = SecretBytes::copy_from(h.finalize().as_slice());
    let mut h = Sha512::new();
    h.update(u64::MAX.to_le_bytes());
    h.update(hmac_key64.expose());
    let block_key = SecretBytes::copy_from(h.finalize().as_slice());
    let mut mac = <Hmac<Sha256> as hmac::KeyInit>::new_from_slice(block_key.expose())
        .map_err(|e| KdbxError::Corrupt(format!("HMAC key: {e}")))?;
    mac.update(&header.header_bytes);
    Ok(mac
        .finalize()
        .into_bytes()
        .as_slice()
        .ct_eq(&after[32..64])
        .into())
}

fn verify_stream_start(header: &KdbxHeader, transformed: &SecretBytes) -> Result<bool, KdbxError> {
    let expected = header
        .stream_start
        .ok_or_else(|| KdbxError::Corrupt("the header has no stream start bytes".into()))?;
    if header.cipher != Cipher::Aes256 {
        return Err(KdbxError::Unsupported(format!(
            "checking a KDBX 3 database encrypted with {:?} is not supported (AES-256 only)",
            header.cipher
        )));
    }
    let after = &header.after_header;
    if after.len() < 32 || header.iv.len() != 16 {
        return Err(KdbxError::Corrupt(
            "the encrypted content is truncated or the IV is not 16 bytes".into(),
        ));
    }
    let mut h = Sha256::new();
    h.update(&header.master_seed);
    h.update(transformed.expose());
    let key = SecretBytes::copy_from(h.finalize().as_slice());
    let cipher = Aes256::new_from_slice(key.expose())
        .map_err(|e| KdbxError::Corrupt(format!("AES key: {e}")))?;
    // CBC: P_i = D(C_i) xor C_{i-1}, C_{-1} = IV. Two blocks only.
    let mut plain = SecretBytes::from_vec(vec![0u8; 32]);
    for i in 0..2 {
        let mut block = Block::try_from(&after[16 * i..16 * (i + 1)])
            .map_err(|_| KdbxError::Corrupt("block".into()))?;
        cipher.decrypt_block(&mut block);
        let prev = if i == 0 { &header.iv[..] } else { &after[..16] };
        for (j, b) in block.iter().enumerate() {
            plain.expose_mut()[16 * i + j] = b ^ prev[j];
        }
    }
    Ok(plain.ct_eq(&expected))
}
