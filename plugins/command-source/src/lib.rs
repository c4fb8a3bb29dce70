//! # trousseau-command-source — an example third-party plugin
//!
//! A key source that runs a configured program (an argv list, never a shell) with a time limit
//! and takes the key material from its standard output: the usual way to fetch a key from a
//! vault or KMS command-line tool. Written only against `trousseau-core`, as a third party
//! would, and built as a `cdylib` to drop into a plugin directory.
//!
//! The component is of kind `provider`: the host hashes it (KeePass `KeyProvider` semantics)
//! unless `direct_key` is set. Enrollment stores a key check value, so that a program that
//! later prints a different key is reported as such instead of silently giving another key.

#![deny(unsafe_code)]

mod config;
mod run;

use serde::{Deserialize, Serialize};
use trousseau_core::{
    ComponentKind, DeriveContext, Enrollment, Error, ErrorCode, Factory, Interaction, KeySource,
    PluginDef, ProviderDef, SecretBytes, SourceDescription, SourceFlags,
};

use config::{Config, Encoding};

/// The plugin.
pub static PLUGIN: PluginDef = PluginDef {
    name: "trousseau-command-source",
    version: env!("CARGO_PKG_VERSION"),
    providers: &[ProviderDef {
        id: "command",
        summary: "runs a program (no shell) and reads the key from its standard output",
        config_help: config::HELP,
        factory: Factory::KeySource(make),
    }],
};

trousseau_core::export_plugin!(PLUGIN);

fn make(config: &str) -> Result<Box<dyn KeySource>, Error> {
    Ok(Box::new(CommandSource {
        config: Config::parse(config)?,
    }))
}

struct CommandSource {
    config: Config,
}

/// Public parameters stored at enrollment.
#[derive(Serialize, Deserialize)]
struct PublicParams {
    /// Hex of the first 4 bytes of SHA-256("trousseau-command-source check" ‖ key): tells a
    /// changed key from a right one without revealing it.
    check: String,
}

impl CommandSource {
    fn fetch(&self, ctx: &DeriveContext) -> Result<SecretBytes, Error> {
        let mut env: Vec<(String, String)> = self
            .config
            .env
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        env.push(("TROUSSEAU_CHALLENGE".into(), hex::encode(ctx.challenge())));
        env.push(("TROUSSEAU_LOCATION".into(), ctx.location().into()));
        let out = run::run(&self.config.argv, &env, self.config.timeout())?;
        let key = decode(&out, self.config.encoding).map_err(|what| {
            Error::new(
                ErrorCode::CorruptData,
                format!(
                    "command key source: the output of {:?} {what}",
                    self.config.argv[0]
                ),
            )
        })?;
        if key.is_empty() {
            return Err(Error::new(
                ErrorCode::CorruptData,
                format!(
                    "command key source: {:?} printed no key (empty output)",
                    self.config.argv[0]
                ),
            ));
        }
        if self.config.direct_key && key.len() != 32 {
            return Err(Error::new(
                ErrorCode::CorruptData,
                format!(
                    "command key source: direct_key needs exactly 32 bytes, {:?} gave {}",
                    self.config.argv[0],
                    key.len()
                ),
            ));
        }
        Ok(key)
    }
}

impl KeySource for CommandSource {
    fn describe(&self) -> SourceDescription {
        let flags = if self.config.direct_key {
            SourceFlags::DIRECT_KEY
        } else {
            SourceFlags::NONE
        };
        SourceDescription::new(
            "command",
            ComponentKind::Provider,
            flags,
            format!("command {}", self.config.argv.join(" ")),
        )
    }

    fn enroll(&self, ctx: &DeriveContext, _ui: &dyn Interaction) -> Result<Enrollment, Error> {
        let key = self.fetch(ctx)?;
        let params = PublicParams {
            check: check_value(&key),
        };
        let json = serde_json::to_string(&params)
            .map_err(|e| Error::new(ErrorCode::Internal, e.to_string()))?;
        Ok(Enrollment::new(key, json))
    }

    fn derive(&self, ctx: &DeriveContext, _ui: &dyn Interaction) -> Result<SecretBytes, Error> {
        let key = self.fetch(ctx)?;
        if !ctx.public_params().trim().is_empty() {
            let params: PublicParams = serde_json::from_str(ctx.public_params()).map_err(|e| {
                Error::new(
                    ErrorCode::CorruptData,
                    format!("command key source: stored parameters are unreadable: {e}"),
                )
            })?;
            let ok: bool = subtle::ConstantTimeEq::ct_eq(
                check_value(&key).as_bytes(),
                params.check.as_bytes(),
            )
            .into();
            if !ok {
                return Err(Error::new(
                    ErrorCode::WrongKey,
                    format!(
                        "command key source: {:?} printed a different key than when this master \
                         key was created",
                        self.config.argv[0]
                    ),
                ));
            }
        }
        Ok(key)
    }
}

fn check_value(key: &SecretBytes) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::new()
        .chain_update(b"trousseau-command-source check")
        .chain_update(key.expose())
        .finalize();
    hex::encode(&digest[..4])
}

fn decode(out: &SecretBytes, encoding: Encoding) -> Result<SecretBytes, &'static str> {
    let bytes = out.expose();
    match encoding {
        Encoding::Raw => {
            let end = if bytes.ends_with(b"\r\n") {
                bytes.len() - 2
            } else if bytes.ends_with(b"\n") {
                bytes.len() - 1
            } else {
                bytes.len()
            };
            Ok(SecretBytes::copy_from(&bytes[..end]))
        }
        Encoding::Hex => hex::decode(trim_ascii(bytes))
            .map(SecretBytes::from_vec)
            .map_err(|_| "is not hexadecimal"),
        Encoding::Base64 => {
            use base64::Engine;
            let text = trim_ascii(bytes);
            let engines = [
                &base64::engine::general_purpose::STANDARD,
                &base64::engine::general_purpose::STANDARD_NO_PAD,
                &base64::engine::general_purpose::URL_SAFE,
                &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            ];
            engines
                .iter()
                .find_map(|e| e.decode(text).ok())
                .map(SecretBytes::from_vec)
                .ok_or("is not base64")
        }
    }
}

fn trim_ascii(b: &[u8]) -> &[u8] {
    let start = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    let end = b
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &b[start..end]
}

#[cfg(test)]
mod tests;
