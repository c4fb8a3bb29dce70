//! Key sources for hardware tokens.
//!
//! - `pkcs11`: challenge-response with a non-extractable MAC key on a PKCS#11 token
//!   (HMAC-SHA256 with a generic-secret key, or AES-CMAC). The challenge is the KDF seed, as in
//!   KeePassXC; enrollment creates the key (sensitive, non-extractable, labelled) or binds to an
//!   existing one by label or id.
//! - `yubikey-recovery`: KeePassXC's YubiKey HMAC-SHA1 challenge-response computed in software
//!   from the slot's typed-in secret, to open a KeePassXC-style composition without the token.
//!
//! Hosts also use [`TokenRsaKey`]: decryption with an RSA private key that stays on a PKCS#11
//! token (the private key of a certificate that protects ASP.NET Core keys).

#![forbid(unsafe_code)]

mod config;
mod recovery;
mod rsa_key;
mod secret_input;
mod source;
mod token;

use trousseau_core::{Factory, KeySource, PluginDef, ProviderDef, Result};

pub use config::{MacMechanism, Pkcs11Config, PublicParams};
pub use recovery::{
    effective_challenge, parse_secret, yubikey_response, RecoveryConfig, YubikeyRecoverySource,
    RECOVERY_PROVIDER_ID, SECRET_LEN,
};
pub use rsa_key::{RsaDecryption, RsaKeyLocation, RsaPublicParts, TokenRsaKey};
pub use secret_input::{SecretInput, MAX_SECRET_FILE_SIZE};
pub use source::{Pkcs11Source, PROVIDER_ID};

fn make_pkcs11(config: &str) -> Result<Box<dyn KeySource>> {
    Ok(Box::new(Pkcs11Source::new(Pkcs11Config::parse(config)?)))
}

fn make_recovery(config: &str) -> Result<Box<dyn KeySource>> {
    Ok(Box::new(YubikeyRecoverySource::from_json(config)?))
}

/// The providers of this crate.
pub static PLUGIN: PluginDef = PluginDef {
    name: "trousseau-pkcs11",
    version: env!("CARGO_PKG_VERSION"),
    providers: &[
        ProviderDef {
            id: PROVIDER_ID,
            summary: "challenge-response: HMAC-SHA256 (or AES-CMAC) of the KDF seed with a non-extractable key on a PKCS#11 token",
            config_help: "module: path of the PKCS#11 library (required, on every node: the path recorded at enrollment is never loaded); token_label / token_serial: which token; \
key_label (default \"trousseau\") / key_id (hex): the key, created at enrollment when absent; \
mechanism: \"hmac-sha256\" (default) | \"aes-cmac\"; key_length: bytes of a created key (default 32); \
pin: {\"env\": \"VAR\"} or {\"file\": \"path\"} (default: asked)",
            factory: Factory::KeySource(make_pkcs11),
        },
        ProviderDef {
            id: RECOVERY_PROVIDER_ID,
            summary: "challenge-response: KeePassXC's YubiKey HMAC-SHA1 response computed from the typed-in 20-byte slot secret (recovery without the token)",
            config_help: "secret: {\"env\": \"VAR\"} or {\"file\": \"path\"} holding 40 hex digits or 32 base32 characters (default: asked)",
            factory: Factory::KeySource(make_recovery),
        },
    ],
};

trousseau_core::register_builtin!(PLUGIN);
