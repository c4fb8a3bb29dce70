//! Key secrets protected with Windows DPAPI, as ASP.NET Core's `ProtectKeysWithDpapi` writes
//! them (`DpapiXmlEncryptor`) and `DpapiXmlDecryptor` reads them.
//!
//! The element that replaces a key's `<masterKey>`:
//!
//! ```xml
//! <encryptedSecret decryptorType="Microsoft.AspNetCore.DataProtection.XmlEncryption.DpapiXmlDecryptor, Microsoft.AspNetCore.DataProtection, Version=…" xmlns="http://schemas.asp.net/2015/03/dataProtection">
//!   <encryptedKey xmlns="">
//!     <!-- This key is encrypted with Windows DPAPI. -->
//!     <value>base64 of the DPAPI blob</value>
//!   </encryptedKey>
//! </encryptedSecret>
//! ```
//!
//! The DPAPI blob is `CryptProtectData` over the `<masterKey>` element (its
//! `requiresEncryption` mark and warning comment included) as .NET's `XElement.Save(Stream)`
//! writes it: UTF-8 with a byte-order mark, an XML declaration, two-space indentation and CRLF
//! line ends. The optional entropy is the 22 UTF-8 bytes `DPAPI-Protected Secret`, there is no
//! description, and the flags are `CRYPTPROTECT_UI_FORBIDDEN`, plus
//! `CRYPTPROTECT_LOCAL_MACHINE` for `ProtectKeysWithDpapi(protectToLocalMachine: true)`.
//! Decryption passes `CRYPTPROTECT_UI_FORBIDDEN` only: the blob records its own scope.
//!
//! Every ring reads DPAPI keys on Windows (interop rings in clear, certificate-protected ones,
//! and [`DpapiKeys`]), when this Windows user (or this machine, for machine-scoped keys) wrote
//! them; [`DpapiKeys`] also writes new keys in this form. Elsewhere DPAPI does not exist: such
//! keys stay in the ring, unusable, and [`DpapiKeys::new`] refuses.
//!
//! The DPAPI calls themselves are `trousseau_core::dpapi`'s, shared with the `user-account`
//! provider's DPAPI backend.

use base64::Engine;
pub use trousseau_core::dpapi::DpapiScope;
use trousseau_core::SecretBytes;
use zeroize::Zeroizing;

use super::{
    algorithms::Algorithm,
    at_rest::{self, KeyEncryption, UnusableKeys},
    decryptors::DPAPI,
    error::{DataProtectionError, Result},
    keyring::{Descriptor, Key},
    keyxml::{self, DP_NAMESPACE, UNENCRYPTED_WARNING},
    xmltree,
};

/// The optional entropy ASP.NET Core passes to DPAPI for key secrets.
pub const ENTROPY: &[u8] = b"DPAPI-Protected Secret";

/// The comment inside `<encryptedKey>`.
pub const COMMENT: &str = " This key is encrypted with Windows DPAPI. ";

/// The most base64 text accepted in `<value>`: a DPAPI blob of a master key is a few hundred
/// bytes; anything near this is not one.
pub const MAX_VALUE_CHARS: usize = 64 * 1024;

/// Key secrets protected at rest with Windows DPAPI, byte-compatible with ASP.NET Core's
/// `ProtectKeysWithDpapi` (`DpapiXmlEncryptor`): new keys are protected for the current
/// Windows user, or for the machine; existing keys in clear or under DPAPI are read.
///
/// The trust model is ASP.NET Core's: secrets are confidential to the Windows user (or to
/// every process on the machine, for [`DpapiScope::LocalMachine`]), but nothing authenticates
/// the repository's elements: whoever can write the repository and run code as that user can
/// plant a key or a revocation, as in interop mode.
pub struct DpapiKeys {
    scope: DpapiScope,
    unusable: UnusableKeys,
}

impl std::fmt::Debug for DpapiKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DpapiKeys({})", self.scope.name())
    }
}

/// Why DPAPI protection cannot be used on this system.
#[cfg(not(windows))]
pub fn unavailable(scope: DpapiScope) -> String {
    format!(
        "DPAPI key protection ({}) needs Windows: DPAPI (ASP.NET Core's ProtectKeysWithDpapi) \
         exists only there; protect the ring with a certificate instead \
         (ProtectKeysWithCertificate) to share it across systems",
        scope.name()
    )
}

impl DpapiKeys {
    /// Protection writing new keys under DPAPI in `scope`; refused on systems other than
    /// Windows.
    pub fn new(scope: DpapiScope) -> Result<Self> {
        #[cfg(not(windows))]
        {
            Err(DataProtectionError::InvalidInput(unavailable(scope)))
        }
        #[cfg(windows)]
        {
            Ok(DpapiKeys {
                scope,
                unusable: UnusableKeys::default(),
            })
        }
    }

    /// Whose DPAPI key protects new keys.
    pub fn scope(&self) -> DpapiScope {
        self.scope
    }
}

/// The `<masterKey>` element as ASP.NET Core's `XElement.Save` writes it before DPAPI protects
/// it (see the module documentation): the bytes given to `CryptProtectData`.
pub fn master_key_plaintext(secret: &SecretBytes) -> Zeroizing<Vec<u8>> {
    let mut b64 = Zeroizing::new(String::new());
    base64::engine::general_purpose::STANDARD.encode_string(secret.expose(), &mut b64);
    let text = Zeroizing::new(format!(
        "\u{feff}<?xml version=\"1.0\" encoding=\"utf-8\"?>\r\n<masterKey p1:requiresEncryption=\"true\" xmlns:p1=\"{DP_NAMESPACE}\">\r\n  <!--{UNENCRYPTED_WARNING}-->\r\n  <value>{}</value>\r\n</masterKey>",
        b64.as_str()
    ));
    Zeroizing::new(text.as_bytes().to_vec())
}

/// The `<encryptedSecret>` element holding `blob`, indented as a key's descriptor child.
pub fn encrypted_secret_xml(blob: &[u8]) -> String {
    format!(
        "      <encryptedSecret decryptorType=\"{DPAPI}{}\" xmlns=\"{DP_NAMESPACE}\">\n        <encryptedKey xmlns=\"\">\n          <!--{COMMENT}-->\n          <value>{}</value>\n        </encryptedKey>\n      </encryptedSecret>",
        keyxml::DESERIALIZER_ASSEMBLY,
        base64::engine::general_purpose::STANDARD.encode(blob)
    )
}

/// The DPAPI blob in an `<encryptedSecret>` element of the DPAPI form: exactly one child,
/// `<encryptedKey>`, whose `<value>` holds at most [`MAX_VALUE_CHARS`] of base64.
pub fn blob(xml: &str) -> Result<Vec<u8>> {
    let bad = DataProtectionError::InvalidInput;
    let secret = xmltree::parse(xml)?;
    let mut children = secret.children.iter();
    let (Some(key), None) = (children.next(), children.next()) else {
        return Err(bad(
            "its DPAPI <encryptedSecret> must hold exactly one element, the <encryptedKey>".into(),
        ));
    };
    if key.local_name() != "encryptedKey" {
        return Err(bad(format!(
            "its DPAPI <encryptedSecret> holds <{}>, not <encryptedKey>",
            key.local_name()
        )));
    }
    let mut values = key.children_named("value");
    let (Some(value), None) = (values.next(), values.next()) else {
        return Err(bad(
            "its DPAPI <encryptedKey> must hold exactly one <value>".into(),
        ));
    };
    if value.text.len() > MAX_VALUE_CHARS {
        return Err(bad(format!(
            "its DPAPI <value> is {} characters, more than the {MAX_VALUE_CHARS} accepted",
            value.text.len()
        )));
    }
    let b64: String = value.text.split_whitespace().collect();
    let blob = base64::engine::general_purpose::STANDARD
        .decode(b64.as_bytes())
        .map_err(|e| bad(format!("its DPAPI <value> is not base64: {e}")))?;
    if blob.is_empty() {
        return Err(bad("its DPAPI <value> is empty".into()));
    }
    Ok(blob)
}

/// The master key in a DPAPI `<encryptedSecret>` element, unprotected by this Windows user
/// (or machine).
#[cfg(windows)]
pub(crate) fn open(xml: &str) -> Result<SecretBytes> {
    let blob = blob(xml)?;
    let plain = trousseau_core::dpapi::unprotect(&blob, ENTROPY).map_err(|e| {
        DataProtectionError::InvalidInput(format!(
            "Windows DPAPI cannot unprotect its master key ({e}): it was protected by another \
             Windows user or machine, or altered or damaged"
        ))
    })?;
    keyxml::decrypted_master_key(plain.expose())
}

impl KeyEncryption for DpapiKeys {
    fn secret_xml(
        &self,
        _key: &Key,
        _algorithm: Algorithm,
        secret: &SecretBytes,
    ) -> Result<String> {
        #[cfg(windows)]
        {
            let plaintext = master_key_plaintext(secret);
            let blob =
                trousseau_core::dpapi::protect(&plaintext, ENTROPY, self.scope).map_err(|e| {
                    DataProtectionError::InvalidInput(format!(
                        "Windows DPAPI cannot protect a new key ({}): {e}",
                        self.scope.name()
                    ))
                })?;
            Ok(encrypted_secret_xml(&blob))
        }
        #[cfg(not(windows))]
        {
            let _ = secret;
            Err(DataProtectionError::InvalidInput(unavailable(self.scope)))
        }
    }

    fn open_secret(&self, key: &Key, descriptor: &Descriptor) -> Result<SecretBytes> {
        at_rest::open_shared(descriptor).map_err(|why| self.unusable.refuse(key, why))
    }

    fn is_closed(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plaintext_is_what_xelement_save_writes_and_reads_back() {
        let secret = SecretBytes::from_vec((0..64u8).collect());
        let plain = master_key_plaintext(&secret);
        assert!(plain.starts_with(b"\xEF\xBB\xBF<?xml version=\"1.0\" encoding=\"utf-8\"?>\r\n<masterKey p1:requiresEncryption=\"true\" xmlns:p1=\"http://schemas.asp.net/2015/03/dataProtection\">\r\n  <!-- Warning: the key below is in an unencrypted form. -->\r\n  <value>AAECAwQF"));
        assert!(plain.ends_with(b"Pw==</value>\r\n</masterKey>"));
        let back = keyxml::decrypted_master_key(&plain).unwrap();
        assert_eq!(back.expose(), secret.expose());
    }

    #[test]
    fn the_element_has_asp_net_cores_form() {
        let xml = encrypted_secret_xml(b"\x01\x00\x00\x00blob");
        assert!(xml.trim_start().starts_with(
            "<encryptedSecret decryptorType=\"Microsoft.AspNetCore.DataProtection.XmlEncryption.DpapiXmlDecryptor, Microsoft.AspNetCore.DataProtection, Version="
        ));
        assert!(xml.contains("<encryptedKey xmlns=\"\">"));
        assert!(xml.contains("<!-- This key is encrypted with Windows DPAPI. -->"));
        assert_eq!(blob(&xml).unwrap(), b"\x01\x00\x00\x00blob");
    }

    #[test]
    fn malformed_elements_are_refused_with_a_reason() {
        let good = encrypted_secret_xml(b"blob");
        let value = "<value>YmxvYg==</value>";
        for (xml, needle) in [
            (
                good.replace("encryptedKey", "somethingElse"),
                "not <encryptedKey>",
            ),
            (good.replace(value, ""), "exactly one <value>"),
            (
                good.replace(value, &format!("{value}{value}")),
                "exactly one <value>",
            ),
            (good.replace("YmxvYg==", "%%%"), "not base64"),
            (good.replace("YmxvYg==", ""), "empty"),
            (
                good.replace("YmxvYg==", &"A".repeat(MAX_VALUE_CHARS + 4)),
                "more than the",
            ),
            (
                good.replace("</encryptedKey>", "</encryptedKey><x/>"),
                "exactly one element",
            ),
        ] {
            let e = blob(&xml).unwrap_err().to_string();
            assert!(e.contains(needle), "{needle}: {e}");
        }
    }

    #[cfg(not(windows))]
    #[test]
    fn refused_off_windows() {
        let e = DpapiKeys::new(DpapiScope::LocalMachine).unwrap_err();
        assert!(e.to_string().contains("needs Windows"), "{e}");
        assert!(e.to_string().contains("local-machine"), "{e}");
    }
}
