//! The registry repository's configuration.

use serde::Deserialize;
use trousseau_core::{Error, ErrorCode, Result};

/// ASP.NET Core's default key (under `HKEY_LOCAL_MACHINE`); `{SID}` is the account's SID.
pub const ASP_NET_DEFAULT_KEY: &str =
    r"HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\ASP.NET\4.0.30319.0\AutoGenKeys\{SID}\DataProtection";

/// The configuration (a JSON object; see [`crate::CONFIG_HELP`]).
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct RegistryConfig {
    /// The full key path, hive first.
    #[serde(default = "default_key")]
    pub key: String,
}

fn default_key() -> String {
    ASP_NET_DEFAULT_KEY.into()
}

/// A registry hive the repository may live in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hive {
    /// `HKEY_LOCAL_MACHINE`.
    LocalMachine,
    /// `HKEY_CURRENT_USER`.
    CurrentUser,
}

impl RegistryConfig {
    /// Parses the JSON configuration.
    pub fn from_json(json: &str) -> Result<Self> {
        trousseau_repository_xml::config::parse("registry", json)
    }

    /// The hive and the path below it.
    pub fn split(&self) -> Result<(Hive, &str)> {
        let invalid = |m: String| Error::new(ErrorCode::InvalidConfig, m);
        if self.key.contains("{SID}") {
            return Err(invalid(format!(
                "the registry repository `key` {:?} contains {{SID}}: replace it with the account's SID (see `whoami /user`)",
                self.key
            )));
        }
        let (hive, path) = self.key.split_once('\\').unwrap_or((&self.key, ""));
        let hive = match hive.to_ascii_uppercase().as_str() {
            "HKEY_LOCAL_MACHINE" | "HKLM" => Hive::LocalMachine,
            "HKEY_CURRENT_USER" | "HKCU" => Hive::CurrentUser,
            other => {
                return Err(invalid(format!(
                    "the registry repository `key` starts with {other:?}: start it with HKEY_LOCAL_MACHINE\\ or HKEY_CURRENT_USER\\"
                )))
            }
        };
        let path = path.trim_matches('\\');
        if path.is_empty() {
            return Err(invalid(
                "the registry repository `key` names a hive only: give a key below it".into(),
            ));
        }
        Ok((hive, path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(key: &str) -> Result<(Hive, String)> {
        let c = RegistryConfig { key: key.into() };
        c.split().map(|(h, p)| (h, p.to_string()))
    }

    #[test]
    fn hives_and_paths() {
        assert_eq!(
            split(r"HKCU\Software\Trousseau\Ring").unwrap(),
            (Hive::CurrentUser, r"Software\Trousseau\Ring".into())
        );
        assert_eq!(
            split(r"HKEY_LOCAL_MACHINE\SOFTWARE\X\").unwrap().0,
            Hive::LocalMachine
        );
    }

    #[test]
    fn bad_keys_are_explained() {
        for (key, needle) in [
            (ASP_NET_DEFAULT_KEY, "{SID}"),
            (r"HKEY_USERS\x", "HKEY_USERS"),
            ("HKCU", "hive only"),
        ] {
            let e = split(key).unwrap_err();
            assert_eq!(e.code(), ErrorCode::InvalidConfig);
            assert!(e.message().contains(needle), "{key}: {}", e.message());
        }
    }
}
