//! Cryptographic primitives shared by the master key (AES-KDF) and data protection (AES-CBC),
//! where the crates' generic paths are too slow.

#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
pub mod aes_ni;
