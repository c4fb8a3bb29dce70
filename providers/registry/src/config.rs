//! The registry repository's configuration.

use serde::Deserialize;
use trousseau_core::{Error, ErrorCode, Result};

/// ASP.NET Core's default key (under `HKEY_LOCAL_MACHINE`), where it keeps keys under IIS
/// when the application pool loads no user profile; `{SID}` is the account's SID, which the
/// repository fills in on Windows (the user of the process token).
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

    /// Whether `key` is ASP.NET Core's default (`ASP_NET_DEFAULT_KEY`, the key ASP.NET Core
    /// uses under IIS when the application pool has no user profile).
    pub fn is_asp_net_default(&self) -> bool {
        self.key.eq_ignore_ascii_case(ASP_NET_DEFAULT_KEY)
    }

    /// The hive and the path below it, for a key without `{SID}`.
    pub fn split(&self) -> Result<(Hive, String)> {
        self.resolve(None)
    }

    /// The hive and the path below it, `{SID}` replaced by `sid` (the process user's SID,
    /// which the repository finds on Windows); without a SID, a key naming `{SID}` is refused.
    pub fn resolve(&self, sid: Option<&str>) -> Result<(Hive, String)> {
        let invalid = |m: String| Error::new(ErrorCode::InvalidConfig, m);
        let key = match sid {
            _ if !self.key.contains("{SID}") => self.key.clone(),
            Some(sid) if is_sid(sid) => self.key.replace("{SID}", sid),
            Some(sid) => {
                return Err(invalid(format!(
                    "the registry repository `key` {:?} contains {{SID}}, but the account's SID {sid:?} is not one",
                    self.key
                )))
            }
            None => {
                return Err(invalid(format!(
                    "the registry repository `key` {:?} contains {{SID}}: it is replaced by the account's SID on Windows only; here, replace it yourself (see `whoami /user`)",
                    self.key
                )))
            }
        };
        let (hive, path) = key.split_once('\\').unwrap_or((&key, ""));
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
        Ok((hive, path.to_string()))
    }
}

/// Whether `s` has the form of a string SID (`S-1-5-21-…`): digits after `S-1-`, separated by
/// dashes, so that it cannot add a level to the key path.
fn is_sid(s: &str) -> bool {
    s.len() <= 184
        && s.strip_prefix("S-1-").is_some_and(|rest| {
            rest.split('-')
                .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(key: &str) -> Result<(Hive, String)> {
        RegistryConfig { key: key.into() }.split()
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

    #[test]
    fn sid_fills_in_the_asp_net_default() {
        let c = RegistryConfig {
            key: ASP_NET_DEFAULT_KEY.into(),
        };
        assert!(c.is_asp_net_default());
        assert_eq!(
            c.resolve(Some("S-1-5-21-1-2-3-1001")).unwrap(),
            (
                Hive::LocalMachine,
                r"SOFTWARE\Microsoft\ASP.NET\4.0.30319.0\AutoGenKeys\S-1-5-21-1-2-3-1001\DataProtection".into()
            )
        );
        for bad in ["S-1-5-21-1\\x", "S-1-", "X-1-5", "S-1-5--1", ""] {
            let e = c.resolve(Some(bad)).unwrap_err();
            assert!(e.message().contains("is not one"), "{bad}: {}", e.message());
        }
        let other = RegistryConfig {
            key: r"HKCU\Software\T".into(),
        };
        assert!(!other.is_asp_net_default());
        assert_eq!(
            other.resolve(Some("S-1-5-18")).unwrap().1,
            r"Software\T".to_string()
        );
    }
}
