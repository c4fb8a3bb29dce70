//! The DPAPI backend on Windows (run under Wine by .ci/legs.d/windows-dpapi.sh).
#![cfg(windows)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use trousseau_core::{DeriveContext, ErrorCode, KeySource, NoInteraction};
use trousseau_user_account::{PublicParams, UserAccountConfig, UserAccountSource, USER_KEY_LEN};
use windows_sys::Win32::{
    Foundation::LocalFree,
    Security::Cryptography::{CryptProtectData, CRYPTPROTECT_UI_FORBIDDEN, CRYPT_INTEGER_BLOB},
};

/// KeePass `KcpUserAccount` entropy (KeePass 2.x `KeePassLib/Keys/KcpUserAccount.cs`), written
/// out here independently of the crate.
const KEEPASS_ENTROPY: [u8; 16] = [
    0xDE, 0x13, 0x5B, 0x5F, 0x18, 0xA3, 0x46, 0x70, 0xB2, 0x57, 0x24, 0x29, 0x69, 0x88, 0x98, 0xE6,
];

/// What KeePass does: `ProtectedData.Protect(key, entropy, CurrentUser)`.
fn protect_like_keepass(key: &[u8], entropy: Option<&[u8]>) -> Vec<u8> {
    let input = CRYPT_INTEGER_BLOB {
        cbData: key.len() as u32,
        pbData: key.as_ptr().cast_mut(),
    };
    let ent = entropy.map(|e| CRYPT_INTEGER_BLOB {
        cbData: e.len() as u32,
        pbData: e.as_ptr().cast_mut(),
    });
    let mut out = CRYPT_INTEGER_BLOB {
        cbData: 0,
        pbData: std::ptr::null_mut(),
    };
    // SAFETY: valid pointers for the call; DPAPI allocates `out`, freed below.
    unsafe {
        let ok = CryptProtectData(
            &input,
            std::ptr::null(),
            ent.as_ref().map_or(std::ptr::null(), |e| e as *const _),
            std::ptr::null(),
            std::ptr::null(),
            CRYPTPROTECT_UI_FORBIDDEN,
            &mut out,
        );
        assert_ne!(ok, 0, "CryptProtectData failed");
        let v = std::slice::from_raw_parts(out.pbData, out.cbData as usize).to_vec();
        LocalFree(out.pbData.cast());
        v
    }
}

fn source(json: serde_json::Value) -> UserAccountSource {
    UserAccountSource::new(UserAccountConfig::parse(&json.to_string()).unwrap())
}

#[test]
fn dpapi_enroll_derive_and_keepass_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("Trousseau").join("ProtectedUserKey.bin");
    let src = source(serde_json::json!({"backend": "dpapi", "path": path}));
    let ctx = DeriveContext::new(b"seed", "", "t");
    let err = src.derive(&ctx, &NoInteraction).unwrap_err();
    assert_eq!(err.code(), ErrorCode::NotFound, "{err}");
    let (key, params) = src.enroll(&ctx, &NoInteraction).unwrap().into_parts();
    assert_eq!(key.len(), USER_KEY_LEN);
    assert_eq!(
        PublicParams::parse(&params)
            .unwrap()
            .unwrap()
            .backend
            .as_str(),
        "dpapi"
    );
    let blob = std::fs::read(&path).unwrap();
    assert!(
        !blob.windows(USER_KEY_LEN).any(|w| w == key.expose()),
        "stored unprotected"
    );
    let again = src
        .derive(&DeriveContext::new(b"seed", &params, "t"), &NoInteraction)
        .unwrap();
    assert!(again.ct_eq(key.expose()));

    // KeePass's own file under %APPDATA%\KeePass, protected exactly as KeePass does.
    let appdata = dir.path().join("AppData");
    std::fs::create_dir_all(appdata.join("KeePass")).unwrap();
    let kp_key: Vec<u8> = (0..64u8).map(|i| i.wrapping_mul(37)).collect();
    std::fs::write(
        appdata.join("KeePass").join("ProtectedUserKey.bin"),
        protect_like_keepass(&kp_key, Some(&KEEPASS_ENTROPY)),
    )
    .unwrap();
    // Only this test touches APPDATA.
    std::env::set_var("APPDATA", &appdata);
    let kp = source(serde_json::json!({"backend": "dpapi", "keepass": true}));
    let (got, params) = kp.enroll(&ctx, &NoInteraction).unwrap().into_parts();
    assert_eq!(got.expose(), &kp_key[..]);
    assert!(PublicParams::parse(&params)
        .unwrap()
        .unwrap()
        .location
        .contains("KeePass"));
    // The automatic choice on Windows is DPAPI under %APPDATA%\Trousseau.
    let (_, params) = source(serde_json::json!({}))
        .enroll(&ctx, &NoInteraction)
        .unwrap()
        .into_parts();
    let p = PublicParams::parse(&params).unwrap().unwrap();
    assert_eq!(p.backend.as_str(), "dpapi");
    assert!(p.location.contains("Trousseau"), "{}", p.location);

    // A blob protected without KeePass's entropy does not unprotect: not silently replaced.
    let wrong = dir.path().join("wrong.bin");
    let wrong_blob = protect_like_keepass(&kp_key, None);
    std::fs::write(&wrong, &wrong_blob).unwrap();
    let err = source(serde_json::json!({"backend": "dpapi", "path": wrong}))
        .enroll(&ctx, &NoInteraction)
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::WrongKey, "{err}");
    assert_eq!(std::fs::read(&wrong).unwrap(), wrong_blob);
}
