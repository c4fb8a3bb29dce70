//! Cryptographic primitives shared by the master key (AES-KDF) and data protection (AES-CBC,
//! HMAC-SHA256), where the crates' generic paths are too slow.

#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
pub mod aes_ni;
pub mod cbc_hmac;
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
pub mod stitched_x86;
