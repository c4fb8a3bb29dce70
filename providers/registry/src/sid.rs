//! The string SID of the user the process runs as (Windows), for the `{SID}` in ASP.NET
//! Core's default registry key: `OpenProcessToken(GetCurrentProcess())`,
//! `GetTokenInformation(TokenUser)`, `ConvertSidToStringSidW`.
//!
//! The only unsafe code of this crate: three Win32 calls with no safe wrapper in the
//! `windows-registry` crate. Every handle and buffer is released on every path.

use trousseau_core::{Error, ErrorCode, Result};
use windows_sys::Win32::{
    Foundation::{CloseHandle, LocalFree, HANDLE},
    Security::{
        Authorization::ConvertSidToStringSidW, GetTokenInformation, TokenUser, TOKEN_QUERY,
        TOKEN_USER,
    },
    System::Threading::{GetCurrentProcess, OpenProcessToken},
};

/// The most bytes of `TOKEN_USER` accepted (a SID is at most 68 bytes).
const MAX_TOKEN_USER: u32 = 1024;

fn failed(call: &str) -> Error {
    Error::new(
        ErrorCode::Io,
        format!(
            "cannot find the account's SID for the registry key's {{SID}} ({call} failed: {})",
            std::io::Error::last_os_error()
        ),
    )
}

/// Closes the token handle when dropped.
struct Token(HANDLE);

impl Drop for Token {
    fn drop(&mut self) {
        // SAFETY: a handle OpenProcessToken returned, closed once.
        unsafe {
            CloseHandle(self.0);
        }
    }
}

/// The SID of the process token's user, as `S-1-5-21-…`.
pub(crate) fn current_user() -> Result<String> {
    let mut handle: HANDLE = std::ptr::null_mut();
    // SAFETY: GetCurrentProcess returns a pseudo-handle; `handle` is written on success.
    if unsafe { OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &mut handle) } == 0 {
        return Err(failed("OpenProcessToken"));
    }
    let token = Token(handle);

    // u64 elements: TOKEN_USER holds pointers, so the buffer is aligned for it.
    let mut buffer = vec![0u64; (MAX_TOKEN_USER as usize).div_ceil(8)];
    let mut needed = 0u32;
    // SAFETY: the buffer is MAX_TOKEN_USER writable bytes, aligned for TOKEN_USER.
    let ok = unsafe {
        GetTokenInformation(
            token.0,
            TokenUser,
            buffer.as_mut_ptr().cast(),
            MAX_TOKEN_USER,
            &mut needed,
        )
    };
    if ok == 0 {
        return Err(failed("GetTokenInformation(TokenUser)"));
    }
    // SAFETY: on success the buffer starts with a TOKEN_USER whose SID points into it.
    let sid = unsafe { (*buffer.as_ptr().cast::<TOKEN_USER>()).User.Sid };

    let mut text: *mut u16 = std::ptr::null_mut();
    // SAFETY: `sid` is valid while `buffer` lives; `text` is LocalAlloc'd on success.
    if unsafe { ConvertSidToStringSidW(sid, &mut text) } == 0 || text.is_null() {
        return Err(failed("ConvertSidToStringSidW"));
    }
    // SAFETY: `text` is a NUL-terminated UTF-16 string; read up to the NUL (bounded), then
    // freed once.
    let sid = unsafe {
        let mut len = 0;
        while len < 256 && *text.add(len) != 0 {
            len += 1;
        }
        let s = String::from_utf16_lossy(std::slice::from_raw_parts(text, len));
        LocalFree(text.cast());
        s
    };
    drop(token);
    Ok(sid)
}
