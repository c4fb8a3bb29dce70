//! Windows DPAPI: `CryptProtectData` and `CryptUnprotectData` (the functions exist on Windows
//! only; [`DpapiScope`] everywhere, so that configurations naming it parse on every system).
//!
//! Two parts of Trousseau protect bytes with DPAPI: the `user-account` key source (its user key,
//! in KeePass's `ProtectedUserKey.bin` format) and the engine (key secrets at rest, as ASP.NET
//! Core's `ProtectKeysWithDpapi`). Both link this crate, and this crate already holds the
//! operating-system code providers share (see `read_regular_file`), so the one wrapper around
//! the two calls lives here: the engine does not depend on a provider's internals, and there
//! is no second copy of the unsafe code to keep right. Like the file helpers these are plain
//! Rust functions, not part of the plugin ABI.
//!
//! What the wrapper guarantees: inputs longer than DPAPI's 32-bit lengths are refused (never
//! truncated), no prompt is ever shown (`CRYPTPROTECT_UI_FORBIDDEN`), and the plaintext DPAPI
//! returns is copied into [`SecretBytes`](crate::SecretBytes), then wiped and freed.

#[cfg(windows)]
use windows_sys::Win32::{
    Foundation::LocalFree,
    Security::Cryptography::{
        CryptProtectData, CryptUnprotectData, CRYPTPROTECT_LOCAL_MACHINE,
        CRYPTPROTECT_UI_FORBIDDEN, CRYPT_INTEGER_BLOB,
    },
};

#[cfg(windows)]
use crate::SecretBytes;

/// Whose DPAPI master key protects the data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DpapiScope {
    /// The current Windows user: only this user (on this machine, or with a roaming profile)
    /// can unprotect it (the default, as in ASP.NET Core).
    #[default]
    CurrentUser,
    /// The machine (`CRYPTPROTECT_LOCAL_MACHINE`): any process on this machine can unprotect
    /// it.
    LocalMachine,
}

impl DpapiScope {
    /// The scope's name in configurations: `current-user` or `local-machine`.
    pub fn name(self) -> &'static str {
        match self {
            DpapiScope::CurrentUser => "current-user",
            DpapiScope::LocalMachine => "local-machine",
        }
    }

    /// The scope a configuration names (`current-user` or `local-machine`).
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "current-user" => Some(DpapiScope::CurrentUser),
            "local-machine" => Some(DpapiScope::LocalMachine),
            _ => None,
        }
    }
}

#[cfg(windows)]
fn blob(bytes: &[u8]) -> std::io::Result<CRYPT_INTEGER_BLOB> {
    let len = u32::try_from(bytes.len()).map_err(|_| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "more than 4 GiB cannot go through DPAPI",
        )
    })?;
    Ok(CRYPT_INTEGER_BLOB {
        cbData: len,
        pbData: bytes.as_ptr().cast_mut(),
    })
}

/// Runs one DPAPI call, then copies, wipes and frees the block it allocated. `call` gets
/// (input, entropy, output) and returns the API's BOOL.
#[cfg(windows)]
#[allow(unsafe_code)]
fn call(
    input: &[u8],
    entropy: &[u8],
    f: impl FnOnce(&CRYPT_INTEGER_BLOB, &CRYPT_INTEGER_BLOB, &mut CRYPT_INTEGER_BLOB) -> i32,
) -> std::io::Result<SecretBytes> {
    let input = blob(input)?;
    let entropy = blob(entropy)?;
    let mut out = CRYPT_INTEGER_BLOB {
        cbData: 0,
        pbData: std::ptr::null_mut(),
    };
    if f(&input, &entropy, &mut out) == 0 {
        return Err(std::io::Error::last_os_error());
    }
    if out.pbData.is_null() {
        return Ok(SecretBytes::from_vec(Vec::new()));
    }
    // SAFETY: the call succeeded, so DPAPI returned cbData valid bytes at pbData, allocated
    // with LocalAlloc; we own them.
    let bytes = unsafe { std::slice::from_raw_parts(out.pbData, out.cbData as usize) };
    let copy = SecretBytes::copy_from(bytes);
    // SAFETY: the same owned block, wiped before it is freed.
    unsafe {
        std::ptr::write_bytes(out.pbData, 0, out.cbData as usize);
        LocalFree(out.pbData.cast());
    }
    Ok(copy)
}

#[cfg(windows)]
/// `CryptProtectData(data, no description, entropy, UI_FORBIDDEN | scope)`: the DPAPI blob
/// protecting `data` for `scope`, bound to `entropy` (an empty slice is still passed, as an
/// empty entropy blob).
#[allow(unsafe_code)]
pub fn protect(data: &[u8], entropy: &[u8], scope: DpapiScope) -> std::io::Result<Vec<u8>> {
    let flags = match scope {
        DpapiScope::CurrentUser => CRYPTPROTECT_UI_FORBIDDEN,
        DpapiScope::LocalMachine => CRYPTPROTECT_UI_FORBIDDEN | CRYPTPROTECT_LOCAL_MACHINE,
    };
    let protected = call(data, entropy, |input, entropy, out| {
        // SAFETY: every pointer is valid for the call; DPAPI allocates `out`.
        unsafe {
            CryptProtectData(
                input,
                std::ptr::null(),
                entropy,
                std::ptr::null(),
                std::ptr::null(),
                flags,
                out,
            )
        }
    })?;
    Ok(protected.expose().to_vec())
}

#[cfg(windows)]
/// `CryptUnprotectData(blob, entropy, UI_FORBIDDEN)`: the bytes `blob` protects, when it was
/// made with the same `entropy` by this user (or on this machine, for a machine blob). DPAPI
/// authenticates the blob, so an altered one fails here.
#[allow(unsafe_code)]
pub fn unprotect(blob: &[u8], entropy: &[u8]) -> std::io::Result<SecretBytes> {
    call(blob, entropy, |input, entropy, out| {
        // SAFETY: every pointer is valid for the call; DPAPI allocates `out`.
        unsafe {
            CryptUnprotectData(
                input,
                std::ptr::null_mut(),
                entropy,
                std::ptr::null(),
                std::ptr::null(),
                CRYPTPROTECT_UI_FORBIDDEN,
                out,
            )
        }
    })
}
