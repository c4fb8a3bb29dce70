//! An RSA private key on a PKCS#11 token, for hosts that decrypt with it (the RSA key
//! transport of XML Encryption, as certificate-protected ASP.NET Core keys use): the module is
//! opened, the token found by label or serial, the user logged in with a PIN from an
//! environment variable, the private key found by label or id, and the token decrypts.
//!
//! Each operation opens the module and finalizes it again: an open module holds this crate's
//! process-wide module lock, so a host keeping a [`TokenRsaKey`] never blocks the `pkcs11` key
//! source. The PIN is read from its variable for each login and wiped after it; it is never
//! logged.

use std::path::PathBuf;

use cryptoki::{
    error::{Error as CkError, RvError},
    mechanism::{
        rsa::{PkcsMgfType, PkcsOaepParams, PkcsOaepSource},
        Mechanism, MechanismType,
    },
    object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle},
    session::Session,
};
use serde::Deserialize;
use trousseau_core::{Error, ErrorCode, NoInteraction, Result};
use zeroize::Zeroizing;

use crate::{
    secret_input::SecretInput,
    token::{map_err, Module, TokenSelector},
};

/// Where an RSA private key is: the module, the token, the key and the PIN's variable, as a
/// host's configuration names them (the `pkcs11` key source's names: `module`,
/// `token_label`, `token_serial`, `key_label`, `key_id`; the PIN only from the environment
/// variable `pin_env`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RsaKeyLocation {
    /// The PKCS#11 module (shared library), e.g. `/usr/lib/softhsm/libsofthsm2.so`.
    pub module: PathBuf,
    /// The token, by label.
    pub token_label: Option<String>,
    /// The token, by serial number (wins over the label).
    pub token_serial: Option<String>,
    /// The private key's CKA_LABEL.
    pub key_label: Option<String>,
    /// The private key's CKA_ID in hex (wins over the label).
    pub key_id: Option<String>,
    /// The environment variable holding the user PIN (never the PIN itself).
    pub pin_env: String,
}

/// The RSA decryption the token performs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RsaDecryption {
    /// CKM_RSA_PKCS: PKCS#1 v1.5 encryption padding.
    Pkcs1v15,
    /// CKM_RSA_PKCS_OAEP with SHA-1 and MGF1-SHA1, no label.
    OaepSha1,
}

/// The public part of the token's private key, big-endian without leading zeros.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RsaPublicParts {
    /// CKA_MODULUS.
    pub modulus: Vec<u8>,
    /// CKA_PUBLIC_EXPONENT, when the token keeps it with the private key.
    pub public_exponent: Option<Vec<u8>>,
}

impl RsaPublicParts {
    /// Whether these are the parts of the public key with `modulus` and `public_exponent`
    /// (big-endian, leading zeros ignored); the exponent is compared only when the token
    /// shows it.
    pub fn matches(&self, modulus: &[u8], public_exponent: &[u8]) -> bool {
        self.modulus == trimmed(modulus)
            && self
                .public_exponent
                .as_ref()
                .is_none_or(|e| *e == trimmed(public_exponent))
    }
}

/// An RSA private key on a PKCS#11 token, used through the token (never extracted).
#[derive(Debug, Clone)]
pub struct TokenRsaKey {
    location: RsaKeyLocation,
    id: Option<Vec<u8>>,
}

fn invalid(why: String) -> Error {
    Error::new(ErrorCode::InvalidConfig, why)
}

fn trimmed(bytes: &[u8]) -> Vec<u8> {
    let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    bytes[start..].to_vec()
}

impl TokenRsaKey {
    /// The key at `location`; checks only the settings (a key label or id, the id's hex). The
    /// token is first used by [`TokenRsaKey::public_parts`] or [`TokenRsaKey::decrypt`].
    pub fn new(location: RsaKeyLocation) -> Result<TokenRsaKey> {
        let id = match &location.key_id {
            Some(hex_id) => Some(
                hex::decode(hex_id)
                    .map_err(|e| invalid(format!("key_id {hex_id:?} is not hexadecimal ({e})")))?,
            ),
            None if location.key_label.is_none() => {
                return Err(invalid(
                    "name the token's RSA private key with key_label or key_id".into(),
                ))
            }
            None => None,
        };
        if location.pin_env.is_empty() {
            return Err(invalid(
                "pin_env names no environment variable for the token's PIN".into(),
            ));
        }
        Ok(TokenRsaKey { location, id })
    }

    /// How the key is named in messages: "RSA private key with label … on token … of
    /// `module`".
    pub fn describe(&self) -> String {
        let key = match (&self.location.key_id, &self.location.key_label) {
            (Some(id), _) => format!("id {id}"),
            (None, Some(label)) => format!("label {label:?}"),
            (None, None) => "(unnamed)".into(),
        };
        let token = match (&self.location.token_serial, &self.location.token_label) {
            (Some(s), _) => format!("token with serial {s}"),
            (None, Some(l)) => format!("token {l}"),
            (None, None) => "the first token".into(),
        };
        format!(
            "RSA private key with {key} on {token} of {}",
            self.location.module.display()
        )
    }

    /// Opens the module, logs in and runs `f` with the session and the key.
    fn with_key<T>(&self, f: impl FnOnce(&Session, ObjectHandle) -> Result<T>) -> Result<T> {
        let module = Module::open(&self.location.module)?;
        let token = module.find_token(&TokenSelector {
            serial: self.location.token_serial.clone(),
            label: self.location.token_label.clone(),
        })?;
        let pin = SecretInput {
            env: Some(self.location.pin_env.clone()),
            file: None,
        };
        let session = module.login(&token, false, &pin, &NoInteraction)?;
        let mut template = vec![
            Attribute::Class(ObjectClass::PRIVATE_KEY),
            Attribute::KeyType(KeyType::RSA),
        ];
        match (&self.id, &self.location.key_label) {
            (Some(id), _) => template.push(Attribute::Id(id.clone())),
            (None, Some(label)) => template.push(Attribute::Label(label.as_bytes().to_vec())),
            (None, None) => {}
        }
        let found = session
            .find_objects(&template)
            .map_err(|e| map_err(e, "searching for the RSA private key"))?;
        match found.as_slice() {
            [one] => f(&session, *one),
            [] => Err(invalid(format!(
                "there is no {}; import it (e.g. softhsm2-util --import key.pk8 --label … \
                 --id …) or correct key_label/key_id",
                self.describe()
            ))),
            many => Err(invalid(format!(
                "{} RSA private keys match: {}; name one by its id (key_id)",
                many.len(),
                self.describe()
            ))),
        }
    }

    /// The key's modulus and public exponent, read from the token (logging in).
    pub fn public_parts(&self) -> Result<RsaPublicParts> {
        self.with_key(|session, key| {
            let attrs = session
                .get_attributes(
                    key,
                    &[AttributeType::Modulus, AttributeType::PublicExponent],
                )
                .map_err(|e| map_err(e, "reading the RSA key's modulus"))?;
            let mut parts = RsaPublicParts {
                modulus: Vec::new(),
                public_exponent: None,
            };
            for a in attrs {
                match a {
                    Attribute::Modulus(m) => parts.modulus = trimmed(&m),
                    Attribute::PublicExponent(e) => parts.public_exponent = Some(trimmed(&e)),
                    _ => {}
                }
            }
            if parts.modulus.is_empty() {
                return Err(invalid(format!(
                    "the token does not show the modulus of the {}",
                    self.describe()
                )));
            }
            Ok(parts)
        })
    }

    /// `ciphertext` decrypted by the token with `mechanism`. `Err` when the key cannot be
    /// reached (module, token, PIN, key) or the token refuses the operation itself (mechanism
    /// or key usage); `Ok(None)` for every other refusal of C_Decrypt, which includes a
    /// padding that does not check: that depends on the ciphertext, so callers must not tell
    /// it apart from a wrong result.
    pub fn decrypt(
        &self,
        mechanism: RsaDecryption,
        ciphertext: &[u8],
    ) -> Result<Option<Zeroizing<Vec<u8>>>> {
        let oaep = PkcsOaepParams::new(
            MechanismType::SHA1,
            PkcsMgfType::MGF1_SHA1,
            PkcsOaepSource::empty(),
        );
        let mechanism = match mechanism {
            RsaDecryption::Pkcs1v15 => Mechanism::RsaPkcs,
            RsaDecryption::OaepSha1 => Mechanism::RsaPkcsOaep(oaep),
        };
        self.with_key(
            |session, key| match session.decrypt(&mechanism, key, ciphertext) {
                Ok(plain) => Ok(Some(Zeroizing::new(plain))),
                Err(
                    e @ CkError::Pkcs11(
                        RvError::TokenNotPresent
                        | RvError::DeviceRemoved
                        | RvError::UserNotLoggedIn
                        | RvError::KeyFunctionNotPermitted
                        | RvError::KeyTypeInconsistent
                        | RvError::MechanismInvalid
                        | RvError::MechanismParamInvalid,
                        _,
                    ),
                ) => Err(map_err(e, "decrypting with the RSA private key")),
                Err(_) => Ok(None),
            },
        )
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn location(key_label: Option<&str>, key_id: Option<&str>, pin_env: &str) -> RsaKeyLocation {
        RsaKeyLocation {
            module: PathBuf::from("/usr/lib/softhsm/libsofthsm2.so"),
            token_label: Some("t".into()),
            key_label: key_label.map(Into::into),
            key_id: key_id.map(Into::into),
            pin_env: pin_env.into(),
            ..RsaKeyLocation::default()
        }
    }

    #[test]
    fn settings_are_checked_before_the_token_is_used() {
        for (loc, expect) in [
            (location(None, None, "PIN"), "key_label or key_id"),
            (location(None, Some("zz"), "PIN"), "not hexadecimal"),
            (location(Some("dp"), None, ""), "pin_env"),
        ] {
            let e = TokenRsaKey::new(loc).unwrap_err();
            assert_eq!(e.code(), ErrorCode::InvalidConfig, "{e}");
            assert!(e.message().contains(expect), "{e}");
        }
        let key = TokenRsaKey::new(location(Some("dp"), Some("0a"), "PIN")).unwrap();
        assert_eq!(
            key.describe(),
            "RSA private key with id 0a on token t of /usr/lib/softhsm/libsofthsm2.so"
        );
        let parts = RsaPublicParts {
            modulus: vec![1, 0],
            public_exponent: Some(vec![1, 0, 1]),
        };
        assert!(parts.matches(&[0, 0, 1, 0], &[1, 0, 1]));
        assert!(!parts.matches(&[1, 1], &[1, 0, 1]));
        assert!(!parts.matches(&[1, 0], &[3]));
    }
}
