//! DPAPI-protected keys (ASP.NET Core's `ProtectKeysWithDpapi`) on Windows, run under Wine by
//! .ci/legs.d/windows-engine.sh: a ring configured for DPAPI writes keys in ASP.NET Core's exact
//! form and reads them back, a ring with no key protection on the same Windows user reads
//! them, a key protected the way ASP.NET Core does it (`CryptProtectData` called here directly,
//! with its entropy, flags and plaintext layout written out independently of the engine) is
//! read, and tampered DPAPI secrets are a clear per-key error.
#![cfg(windows)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use base64::Engine;
use trousseau::{
    dataprotection::{dpapi::DpapiScope, manager::KeyManager},
    providers::Filesystem,
    Builder, Config, Trousseau,
};
use windows_sys::Win32::{
    Foundation::LocalFree,
    Security::Cryptography::{
        CryptProtectData, CryptUnprotectData, CRYPTPROTECT_LOCAL_MACHINE,
        CRYPTPROTECT_UI_FORBIDDEN, CRYPT_INTEGER_BLOB,
    },
};

#[path = "support/interop.rs"]
mod interop;
use interop::{key_files, key_with_secret, plain_ring};

/// ASP.NET Core's DPAPI entropy (`DpapiSecretSerializerHelper._purpose`), written out here.
const ASPNET_ENTROPY: &[u8] = b"DPAPI-Protected Secret";
const DECRYPTOR: &str = "Microsoft.AspNetCore.DataProtection.XmlEncryption.DpapiXmlDecryptor, Microsoft.AspNetCore.DataProtection, Version=8.0.0.0, Culture=neutral, PublicKeyToken=adb9793829ddae60";

fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(b)
}

fn unb64(s: &str) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}

fn blob(b: &[u8]) -> CRYPT_INTEGER_BLOB {
    CRYPT_INTEGER_BLOB {
        cbData: b.len() as u32,
        pbData: b.as_ptr().cast_mut(),
    }
}

/// The output blob of a DPAPI call, copied and freed; `None` when the call failed.
fn take(ok: i32, out: CRYPT_INTEGER_BLOB) -> Option<Vec<u8>> {
    if ok == 0 {
        return None;
    }
    // SAFETY: the call succeeded and allocated cbData bytes at pbData with LocalAlloc.
    unsafe {
        let v = std::slice::from_raw_parts(out.pbData, out.cbData as usize).to_vec();
        LocalFree(out.pbData.cast());
        Some(v)
    }
}

/// What ASP.NET Core does: `CryptProtectData(data, null, entropy, null, null,
/// UI_FORBIDDEN | (machine ? LOCAL_MACHINE : 0))`.
fn protect_like_aspnet(data: &[u8], entropy: &[u8], machine: bool) -> Vec<u8> {
    let (input, ent) = (blob(data), blob(entropy));
    let mut out = CRYPT_INTEGER_BLOB {
        cbData: 0,
        pbData: std::ptr::null_mut(),
    };
    let flags = CRYPTPROTECT_UI_FORBIDDEN
        | if machine {
            CRYPTPROTECT_LOCAL_MACHINE
        } else {
            0
        };
    // SAFETY: valid pointers for the call; DPAPI allocates `out`, freed by `take`.
    let ok = unsafe {
        CryptProtectData(
            &input,
            std::ptr::null(),
            &ent,
            std::ptr::null(),
            std::ptr::null(),
            flags,
            &mut out,
        )
    };
    take(ok, out).expect("CryptProtectData failed")
}

/// `CryptUnprotectData(blob, entropy, UI_FORBIDDEN)`, `None` when DPAPI refuses.
fn unprotect_directly(data: &[u8], entropy: &[u8]) -> Option<Vec<u8>> {
    let (input, ent) = (blob(data), blob(entropy));
    let mut out = CRYPT_INTEGER_BLOB {
        cbData: 0,
        pbData: std::ptr::null_mut(),
    };
    // SAFETY: valid pointers for the call; DPAPI allocates `out`, freed by `take`.
    let ok = unsafe {
        CryptUnprotectData(
            &input,
            std::ptr::null_mut(),
            &ent,
            std::ptr::null(),
            std::ptr::null(),
            CRYPTPROTECT_UI_FORBIDDEN,
            &mut out,
        )
    };
    take(ok, out)
}

/// The `<masterKey>` as .NET's `XElement.Save(Stream)` writes it: UTF-8 with a BOM, the XML
/// declaration, two-space indentation, CRLF.
fn aspnet_plaintext(master: &[u8]) -> Vec<u8> {
    let mut v = vec![0xEF, 0xBB, 0xBF];
    v.extend_from_slice(
        format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\r\n<masterKey p1:requiresEncryption=\"true\" xmlns:p1=\"http://schemas.asp.net/2015/03/dataProtection\">\r\n  <!-- Warning: the key below is in an unencrypted form. -->\r\n  <value>{}</value>\r\n</masterKey>",
            b64(master)
        )
        .as_bytes(),
    );
    v
}

/// ASP.NET Core's `<encryptedSecret>` for a DPAPI blob.
fn dpapi_secret(blob: &[u8]) -> String {
    format!(
        "<encryptedSecret decryptorType=\"{DECRYPTOR}\" xmlns=\"http://schemas.asp.net/2015/03/dataProtection\">\n        <encryptedKey xmlns=\"\">\n          <!-- This key is encrypted with Windows DPAPI. -->\n          <value>{}</value>\n        </encryptedKey>\n      </encryptedSecret>",
        b64(blob)
    )
}

fn dpapi_ring(dir: &Path, scope: DpapiScope) -> Trousseau {
    Trousseau::builder()
        .repository(Filesystem::at(dir))
        .application_name("shop")
        .protect_keys_with_dpapi(scope)
        .unwrap()
        .build()
        .unwrap()
}

/// The base64 text of the one `<value>` inside `<encryptedKey>`.
fn value_range(xml: &str) -> (usize, usize) {
    let key = xml.find("<encryptedKey").unwrap();
    let start = key + xml[key..].find("<value>").unwrap() + "<value>".len();
    (start, start + xml[start..].find('<').unwrap())
}

/// Why each key of the ring can or cannot be opened by the ring's own protection.
fn master_keys(manager: &KeyManager) -> Vec<Result<Vec<u8>, String>> {
    manager
        .keys()
        .unwrap()
        .iter()
        .map(|k| {
            let d = k.key.descriptor.as_ref().unwrap();
            manager
                .protection()
                .open_secret(&k.key, d)
                .map(|s| s.expose().to_vec())
                .map_err(|e| e.to_string())
        })
        .collect()
}

/// Why the key `id` can or cannot be opened by the ring's own protection.
fn master_key_of(manager: &KeyManager, id: &str) -> Result<Vec<u8>, String> {
    let keys = manager.keys().unwrap();
    let k = keys.iter().find(|k| k.key.id.to_string() == id).unwrap();
    let d = k.key.descriptor.as_ref().unwrap();
    manager
        .protection()
        .open_secret(&k.key, d)
        .map(|s| s.expose().to_vec())
        .map_err(|e| e.to_string())
}

/// (1) A ring configured for DPAPI (builder and configuration file, both scopes) writes keys in
/// ASP.NET Core's exact form, which DPAPI itself opens with ASP.NET's entropy, and reads them
/// back in a new engine.
#[test]
fn a_dpapi_ring_writes_asp_net_cores_form_and_reads_it_back() {
    for scope in [DpapiScope::CurrentUser, DpapiScope::LocalMachine] {
        let dir = tempfile::tempdir().unwrap();
        let token = dpapi_ring(dir.path(), scope)
            .protector("cookies")
            .protect(b"basket 7")
            .unwrap();
        let files = key_files(dir.path());
        assert_eq!(files.len(), 1, "{files:?}");
        let xml = std::fs::read_to_string(&files[0]).unwrap();
        assert!(
            xml.contains("<encryptedSecret decryptorType=\"Microsoft.AspNetCore.DataProtection.XmlEncryption.DpapiXmlDecryptor, Microsoft.AspNetCore.DataProtection, Version=")
                && xml.contains("xmlns=\"http://schemas.asp.net/2015/03/dataProtection\">")
                && xml.contains("<encryptedKey xmlns=\"\">")
                && xml.contains("<!-- This key is encrypted with Windows DPAPI. -->"),
            "{xml}"
        );
        assert!(
            !xml.contains("<masterKey") && !xml.contains("unencrypted form"),
            "a secret in clear: {xml}"
        );

        // DPAPI opens the blob with ASP.NET's entropy (and only with it), to ASP.NET's layout.
        let (s, e) = value_range(&xml);
        let protected = unb64(&xml[s..e]);
        assert!(
            unprotect_directly(&protected, b"").is_none(),
            "entropy unused"
        );
        let plain = unprotect_directly(&protected, ASPNET_ENTROPY).expect("DPAPI opens it");
        let text = String::from_utf8(plain).unwrap();
        assert!(
            text.starts_with("\u{feff}<?xml version=\"1.0\" encoding=\"utf-8\"?>\r\n<masterKey p1:requiresEncryption=\"true\" xmlns:p1=\"http://schemas.asp.net/2015/03/dataProtection\">\r\n  <!-- Warning: the key below is in an unencrypted form. -->\r\n  <value>"),
            "{text:?}"
        );
        let b = text.find("<value>").unwrap() + "<value>".len();
        let master = unb64(&text[b..b + text[b..].find('<').unwrap()]);
        assert_eq!(master.len(), 64, "a 512-bit master key");
        assert_eq!(text, String::from_utf8(aspnet_plaintext(&master)).unwrap());

        // A new engine with the same protection reads the key back; no second key is made.
        let again = dpapi_ring(dir.path(), scope);
        assert_eq!(
            again.protector("cookies").unprotect(&token).unwrap(),
            b"basket 7"
        );
        assert_eq!(master_keys(again.key_manager()), vec![Ok(master.clone())]);
        assert_eq!(key_files(dir.path()).len(), 1);
    }

    // The same through a configuration file.
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "[repository]\nprovider = \"filesystem\"\ndirectory = '{}'\n[data_protection]\napplication_name = \"shop\"\n[key_protection]\ndpapi = \"local-machine\"\n",
        dir.path().display()
    );
    let config = Config::parse(&text, Path::new("(test)")).unwrap();
    let tr = Builder::from_config(&config).unwrap().build().unwrap();
    let token = tr.protector("cookies").protect(b"from config").unwrap();
    let xml = std::fs::read_to_string(&key_files(dir.path())[0]).unwrap();
    assert!(xml.contains("DpapiXmlDecryptor"), "{xml}");
    assert_eq!(
        plain_ring(dir.path())
            .protector("cookies")
            .unprotect(&token)
            .unwrap(),
        b"from config"
    );
}

/// (2) Keys the DPAPI code path writes are read by an engine with no key protection configured
/// on the same Windows user, and the other way round the DPAPI ring reads keys in clear.
#[test]
fn a_ring_without_key_protection_reads_dpapi_keys() {
    let dir = tempfile::tempdir().unwrap();
    let token = dpapi_ring(dir.path(), DpapiScope::CurrentUser)
        .protector("cookies")
        .protect(b"order 12")
        .unwrap();
    let plain = plain_ring(dir.path());
    assert_eq!(
        plain.protector("cookies").unprotect(&token).unwrap(),
        b"order 12"
    );
    // It protects with the DPAPI key too (it is the default key), and writes nothing.
    let again = plain.protector("cookies").protect(b"order 13").unwrap();
    assert_eq!(key_files(dir.path()).len(), 1);
    assert_eq!(
        dpapi_ring(dir.path(), DpapiScope::CurrentUser)
            .protector("cookies")
            .unprotect(&again)
            .unwrap(),
        b"order 13"
    );
}

/// (3) A key protected exactly as ASP.NET Core's `DpapiXmlEncryptor` does (both scopes) is read:
/// the master key the engine finds is the one protected, and payloads made with the key in
/// clear open under the DPAPI-protected copy.
#[test]
fn a_key_protected_as_asp_net_core_does_is_read() {
    for (machine, id) in [
        (false, "3f0e8a52-54d3-4a56-9a1e-0c1b2d3e4f50"),
        (true, "7a6b5c4d-3e2f-4a1b-8c9d-0e1f2a3b4c5d"),
    ] {
        let master: Vec<u8> = (0..64u8).map(|i| i.wrapping_mul(7) ^ 0x5a).collect();
        let protected = protect_like_aspnet(&aspnet_plaintext(&master), ASPNET_ENTROPY, machine);

        let clear = tempfile::tempdir().unwrap();
        let masterkey = format!(
            "<masterKey p4:requiresEncryption=\"true\" xmlns:p4=\"http://schemas.asp.net/2015/03/dataProtection\"><value>{}</value></masterKey>",
            b64(&master)
        );
        std::fs::write(
            clear.path().join(format!("key-{id}.xml")),
            key_with_secret(id, &masterkey),
        )
        .unwrap();
        let token = plain_ring(clear.path())
            .protector("cookies")
            .protect(b"made with the key in clear")
            .unwrap();

        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(format!("key-{id}.xml")),
            key_with_secret(id, &dpapi_secret(&protected)),
        )
        .unwrap();
        for tr in [
            plain_ring(dir.path()),
            dpapi_ring(dir.path(), DpapiScope::CurrentUser),
        ] {
            assert_eq!(master_keys(tr.key_manager()), vec![Ok(master.clone())]);
            assert_eq!(
                tr.protector("cookies").unprotect(&token).unwrap(),
                b"made with the key in clear"
            );
        }
        assert_eq!(key_files(dir.path()).len(), 1, "no key was added");
    }
}

/// (4) Tampered DPAPI secrets: each is a clear error for that key, never a panic, and a ring
/// holding one still works with another key.
#[test]
fn tampered_dpapi_secrets_are_a_clear_per_key_error() {
    let master: Vec<u8> = (0..64u8).collect();
    let good = protect_like_aspnet(&aspnet_plaintext(&master), ASPNET_ENTROPY, false);
    let mid = good.len() / 2;
    let flipped = {
        let mut b = good.clone();
        b[mid] ^= 1;
        b
    };
    let last = {
        let mut b = good.clone();
        *b.last_mut().unwrap() ^= 0x80;
        b
    };
    let id = "0b5c1f0e-3a2d-4c4b-8e7f-6a5b4c3d2e1f";
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "flipped blob byte",
            dpapi_secret(&flipped),
            "DPAPI cannot unprotect",
        ),
        (
            "flipped last byte",
            dpapi_secret(&last),
            "DPAPI cannot unprotect",
        ),
        (
            "truncated blob",
            dpapi_secret(&good[..mid]),
            "DPAPI cannot unprotect",
        ),
        (
            "other entropy",
            dpapi_secret(&protect_like_aspnet(&aspnet_plaintext(&master), b"", false)),
            "DPAPI cannot unprotect",
        ),
        (
            "not a <masterKey> inside",
            dpapi_secret(&protect_like_aspnet(
                b"<other>AA==</other>",
                ASPNET_ENTROPY,
                false,
            )),
            "not to a <masterKey> element",
        ),
        (
            "not XML inside",
            dpapi_secret(&protect_like_aspnet(
                &[0xff, 0xfe, 0],
                ASPNET_ENTROPY,
                false,
            )),
            "not to a <masterKey> element",
        ),
        (
            "base64 garbage",
            dpapi_secret(&good).replace(&b64(&good), "%%%not base64%%%"),
            "not base64",
        ),
        (
            "oversized value",
            dpapi_secret(&good).replace(&b64(&good), &"A".repeat(200_000)),
            "more than the",
        ),
        (
            "no <encryptedKey>",
            dpapi_secret(&good).replace("encryptedKey", "encryptedThing"),
            "not <encryptedKey>",
        ),
        (
            "two <value>s",
            dpapi_secret(&good).replace("</value>", "</value><value>AA==</value>"),
            "exactly one <value>",
        ),
    ];
    for (what, secret, expected) in cases {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(format!("key-{id}.xml")),
            key_with_secret(id, &secret),
        )
        .unwrap();
        for tr in [
            plain_ring(dir.path()),
            dpapi_ring(dir.path(), DpapiScope::CurrentUser),
        ] {
            let err = master_key_of(tr.key_manager(), id).expect_err(what);
            assert!(err.contains(expected), "{what}: {err}");
        }
        // The DPAPI ring skips the unusable key: a new one is made, and it works.
        let tr = dpapi_ring(dir.path(), DpapiScope::CurrentUser);
        let p = tr.protector("cookies");
        let payload = p.protect(b"still works").unwrap();
        assert_eq!(p.unprotect(&payload).unwrap(), b"still works", "{what}");
        assert_eq!(key_files(dir.path()).len(), 2, "{what}");
    }
}
