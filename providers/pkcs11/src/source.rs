//! [`Pkcs11Source`]: challenge-response with a non-extractable MAC key on a PKCS#11 token.

use std::path::Path;

use cryptoki::{
    mechanism::Mechanism,
    object::{Attribute, ObjectClass},
    session::Session,
    types::Ulong,
};
use trousseau_core::{
    ComponentKind, DeriveContext, Enrollment, Error, ErrorCode, Interaction, KeySource, Result,
    SecretBytes, SourceDescription, SourceFlags,
};

use crate::{
    config::{MacMechanism, Pkcs11Config, PublicParams},
    token::{self, find_key, key_type_for, map_err, Module, TokenSelector},
};

/// The provider id.
pub const PROVIDER_ID: &str = "pkcs11";

/// Default label of the key.
const DEFAULT_KEY_LABEL: &str = "trousseau";

/// A challenge-response source: the component is the token's MAC of the challenge.
#[derive(Debug)]
pub struct Pkcs11Source {
    config: Pkcs11Config,
}

impl Pkcs11Source {
    /// A source with this configuration.
    pub fn new(config: Pkcs11Config) -> Self {
        Pkcs11Source { config }
    }

    fn key_id(&self) -> Result<Option<Vec<u8>>> {
        self.config
            .key_id
            .as_deref()
            .map(|h| {
                hex::decode(h).map_err(|_| {
                    Error::new(
                        ErrorCode::InvalidConfig,
                        format!("pkcs11 key_id {h:?} is not hex"),
                    )
                })
            })
            .transpose()
    }

    fn key_length(&self, mechanism: MacMechanism) -> Result<u64> {
        let len = self.config.key_length.unwrap_or(32);
        let ok = match mechanism {
            MacMechanism::HmacSha256 => (32..=1024).contains(&len),
            MacMechanism::AesCmac => matches!(len, 16 | 24 | 32),
        };
        if ok {
            Ok(len)
        } else {
            Err(Error::new(
                ErrorCode::InvalidConfig,
                format!(
                    "pkcs11 key_length {len} does not suit {}: HMAC keys need 32 bytes or more \
                     (tokens such as SoftHSM refuse shorter ones), AES keys 16, 24 or 32",
                    mechanism.as_str()
                ),
            ))
        }
    }

    fn generate(
        &self,
        session: &Session,
        label: &str,
        mechanism: MacMechanism,
    ) -> Result<token::FoundKey> {
        let id = match self.key_id()? {
            Some(id) => id,
            None => {
                let mut id = vec![0u8; 8];
                getrandom::fill(&mut id).map_err(|e| {
                    Error::new(ErrorCode::Internal, format!("random generator failed: {e}"))
                })?;
                id
            }
        };
        let gen = match mechanism {
            MacMechanism::HmacSha256 => Mechanism::GenericSecretKeyGen,
            MacMechanism::AesCmac => Mechanism::AesKeyGen,
        };
        let template = [
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(key_type_for(mechanism)),
            Attribute::Token(true),
            Attribute::Private(true),
            Attribute::Sensitive(true),
            Attribute::Extractable(false),
            Attribute::ValueLen(value_len(self.key_length(mechanism)?)?),
            Attribute::Label(label.as_bytes().to_vec()),
            Attribute::Id(id.clone()),
            Attribute::Sign(true),
            Attribute::Verify(true),
        ];
        let handle = session
            .generate_key(&gen, &template)
            .map_err(token::map_create_err)?;
        tracing::info!("created {} key {label:?} on the token", mechanism.as_str());
        Ok(token::FoundKey {
            handle,
            label: label.to_owned(),
            id,
        })
    }
}

fn mac(
    session: &Session,
    key: &token::FoundKey,
    mechanism: MacMechanism,
    challenge: &[u8],
) -> Result<SecretBytes> {
    let mech = match mechanism {
        MacMechanism::HmacSha256 => Mechanism::Sha256Hmac,
        MacMechanism::AesCmac => Mechanism::AesCMac,
    };
    let out = session
        .sign(&mech, key.handle, challenge)
        .map_err(|e| map_err(e, "computing the response on the token"))?;
    Ok(SecretBytes::from_vec(out))
}

/// The PKCS#11 module to load: only ever the one in this node's configuration. The path
/// recorded at enrollment lives in the key ring, which a party without the master key may be
/// able to write; loading it would let them choose code for this process to run. It is shown
/// as a hint, never opened.
fn configured_module<'a>(config: &'a Pkcs11Config, recorded: &PublicParams) -> Result<&'a Path> {
    config.module.as_deref().ok_or_else(|| {
        Error::new(
            ErrorCode::InvalidConfig,
            format!(
                "the pkcs11 source needs `module` in this node's configuration (the path of the \
                 token's PKCS#11 library, e.g. /usr/lib/softhsm/libsofthsm2.so); the module \
                 recorded at enrollment was {} (a hint only: a module is never loaded from \
                 the key ring)",
                recorded.module.display()
            ),
        )
    })
}

impl KeySource for Pkcs11Source {
    fn describe(&self) -> SourceDescription {
        let token = self
            .config
            .token_label
            .clone()
            .or_else(|| self.config.token_serial.clone())
            .unwrap_or_else(|| "first token".to_owned());
        SourceDescription::new(
            PROVIDER_ID,
            ComponentKind::ChallengeResponse,
            SourceFlags::HARDWARE | SourceFlags::MIGHT_PROMPT,
            format!("PKCS#11 token {token}"),
        )
    }

    fn enroll(&self, ctx: &DeriveContext, ui: &dyn Interaction) -> Result<Enrollment> {
        let module_path = self.config.module.clone().ok_or_else(|| {
            Error::new(
                ErrorCode::InvalidConfig,
                "the pkcs11 source needs \"module\": the path of the token's PKCS#11 library",
            )
        })?;
        let mechanism = self.config.mechanism.unwrap_or_default();
        let label = self
            .config
            .key_label
            .clone()
            .unwrap_or_else(|| DEFAULT_KEY_LABEL.to_owned());
        let module = Module::open(&module_path)?;
        let token = module.find_token(&TokenSelector {
            serial: self.config.token_serial.clone(),
            label: self.config.token_label.clone(),
        })?;
        let session = module.login(&token, true, &self.config.pin, ui)?;
        let key = match find_key(&session, &label, self.key_id()?.as_deref(), mechanism)? {
            Some(k) => k,
            None => self.generate(&session, &label, mechanism)?,
        };
        let component = mac(&session, &key, mechanism, ctx.challenge())?;
        let params = PublicParams {
            module: module_path,
            token_label: token.label,
            token_serial: token.serial,
            key_label: key.label,
            key_id: hex::encode(&key.id),
            mechanism,
        };
        Ok(Enrollment::new(component, params.to_json()))
    }

    fn derive(&self, ctx: &DeriveContext, ui: &dyn Interaction) -> Result<SecretBytes> {
        let params = PublicParams::parse(ctx.public_params())?.ok_or_else(|| {
            Error::new(
                ErrorCode::CorruptData,
                "the pkcs11 source has no stored parameters; enroll it first",
            )
        })?;
        let module = Module::open(configured_module(&self.config, &params)?)?;
        let token = module.find_token(&TokenSelector {
            serial: Some(params.token_serial.clone()),
            label: Some(params.token_label.clone()),
        })?;
        let session = module.login(&token, false, &self.config.pin, ui)?;
        let id = hex::decode(&params.key_id).map_err(|_| {
            Error::new(
                ErrorCode::CorruptData,
                "the stored pkcs11 key id is not hex",
            )
        })?;
        let id = (!id.is_empty()).then_some(id);
        let key = find_key(&session, &params.key_label, id.as_deref(), params.mechanism)?
            .ok_or_else(|| {
                Error::new(
                    ErrorCode::NotFound,
                    format!(
                        "key not found: token {} (serial {}) has no {} key labelled {:?} with id {}; \
                         it was deleted, or this is another token",
                        token.label,
                        token.serial,
                        params.mechanism.as_str(),
                        params.key_label,
                        params.key_id
                    ),
                )
            })?;
        mac(&session, &key, params.mechanism, ctx.challenge())
    }
}

/// A key length (checked by `key_length`: at most 1024) as the token's `CK_ULONG`, which is 32
/// bits on Windows and 64 bits elsewhere.
fn value_len(len: u64) -> Result<Ulong> {
    usize::try_from(len)
        .ok()
        .and_then(|len| Ulong::try_from(len).ok())
        .ok_or_else(|| {
            Error::new(
                ErrorCode::InvalidConfig,
                format!("pkcs11 key_length {len} is too large for this platform"),
            )
        })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use trousseau_core::NoInteraction;

    use super::*;

    #[test]
    fn derive_never_loads_the_module_recorded_in_the_ring() {
        // A planted "module": a file that exists, so that opening it would fail differently
        // ("is not a PKCS#11 module") from the configuration error expected here.
        let dir = tempfile::tempdir().unwrap();
        let planted = dir.path().join("libplanted.so");
        std::fs::write(&planted, b"not a library").unwrap();
        let params = PublicParams {
            module: planted.clone(),
            token_label: "t".into(),
            token_serial: "1".into(),
            key_label: "trousseau".into(),
            key_id: "a1".into(),
            mechanism: MacMechanism::HmacSha256,
        }
        .to_json();
        let source = Pkcs11Source::new(Pkcs11Config::parse(r#"{"token_label": "t"}"#).unwrap());
        let err = source
            .derive(&DeriveContext::new(b"seed", &params, "t"), &NoInteraction)
            .unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidConfig, "{err}");
        let msg = err.message();
        assert!(
            msg.contains("needs `module` in this node's configuration"),
            "{msg}"
        );
        assert!(
            msg.contains(planted.to_str().unwrap()),
            "hint missing: {msg}"
        );
        assert!(
            !msg.contains("is not a PKCS#11 module"),
            "it was opened: {msg}"
        );
    }
}
