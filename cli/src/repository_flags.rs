//! The global repository flags (`--repository`, `--redis-url`, `--repository-dir`, …) and how
//! they override the configuration file's `[repository]` table.
//!
//! The repository is `--repository`, else the file's `[repository] provider`, else the one
//! provider the other flags belong to, else the default filesystem repository. Settings start
//! from the file's table when it names the same provider, and each flag overrides its key. A
//! flag of another provider than the chosen one, or flags of two providers, are usage errors.

use std::path::PathBuf;

use anyhow::anyhow;
use clap::Args;

use trousseau::config::ProviderConfig;

use super::CliError;

/// Global flags choosing and configuring the key-ring repository.
#[derive(Debug, Default, Clone, Args)]
pub struct RepositoryFlags {
    /// Key-ring repository provider (e.g. filesystem, redis, blob); overrides [repository]
    /// provider in the configuration file.
    #[arg(
        long = "repository",
        id = "repository",
        global = true,
        value_name = "ID"
    )]
    pub provider: Option<String>,

    /// filesystem: the key-ring directory (`directory`).
    #[arg(
        long = "repository-dir",
        id = "repository-dir",
        global = true,
        value_name = "DIR"
    )]
    pub directory: Option<PathBuf>,

    /// redis: server URL, redis://host:port/db, rediss://… or redis+unix:///path (`url`). Prefer
    /// `password_env` in the configuration file to a password in the URL.
    #[arg(
        long = "redis-url",
        id = "redis-url",
        global = true,
        value_name = "URL"
    )]
    pub redis_url: Option<String>,

    /// redis: the list holding the ring (`key`; default DataProtection-Keys).
    #[arg(
        long = "redis-key",
        id = "redis-key",
        global = true,
        value_name = "KEY"
    )]
    pub redis_key: Option<String>,

    /// blob: azure, s3 or gcs (`service`).
    #[arg(
        long = "blob-service",
        id = "blob-service",
        global = true,
        value_name = "SERVICE"
    )]
    pub blob_service: Option<String>,

    /// blob: service URL for emulators and S3-compatible servers (`endpoint`).
    #[arg(
        long = "blob-endpoint",
        id = "blob-endpoint",
        global = true,
        value_name = "URL"
    )]
    pub blob_endpoint: Option<String>,

    /// blob: the Azure container or S3/GCS bucket (`container`).
    #[arg(
        long = "blob-container",
        id = "blob-container",
        global = true,
        value_name = "NAME"
    )]
    pub blob_container: Option<String>,

    /// blob: the object holding the ring, e.g. keys.xml (`blob`).
    #[arg(
        long = "blob-name",
        id = "blob-name",
        global = true,
        value_name = "NAME"
    )]
    pub blob_name: Option<String>,
}

/// A provider-specific flag that was given: its name, provider, setting and value.
struct Setting {
    flag: &'static str,
    provider: &'static str,
    key: &'static str,
    value: String,
}

impl RepositoryFlags {
    fn settings(&self) -> Vec<Setting> {
        let dir = self.directory.as_ref().map(|d| d.display().to_string());
        [
            ("--repository-dir", "filesystem", "directory", dir),
            ("--redis-url", "redis", "url", self.redis_url.clone()),
            ("--redis-key", "redis", "key", self.redis_key.clone()),
            (
                "--blob-service",
                "blob",
                "service",
                self.blob_service.clone(),
            ),
            (
                "--blob-endpoint",
                "blob",
                "endpoint",
                self.blob_endpoint.clone(),
            ),
            (
                "--blob-container",
                "blob",
                "container",
                self.blob_container.clone(),
            ),
            ("--blob-name", "blob", "blob", self.blob_name.clone()),
        ]
        .into_iter()
        .filter_map(|(flag, provider, key, value)| {
            value.map(|value| Setting {
                flag,
                provider,
                key,
                value,
            })
        })
        .collect()
    }

    /// The repository after applying the flags to `file` (the configuration file's table).
    pub fn apply(&self, file: Option<&ProviderConfig>) -> Result<Option<ProviderConfig>, CliError> {
        let settings = self.settings();
        if self.provider.is_none() && settings.is_empty() {
            return Ok(file.cloned());
        }
        let provider = match (&self.provider, file, settings.first()) {
            (Some(id), _, _) => id.clone(),
            (None, Some(f), _) => f.provider.clone(),
            (None, None, Some(s)) => s.provider.to_string(),
            (None, None, None) => return Ok(None),
        };
        let origin = if self.provider.is_some() {
            "--repository"
        } else if file.is_some() {
            "the configuration file's [repository] provider"
        } else {
            if let Some(other) = settings.iter().find(|s| s.provider != provider) {
                return Err(CliError::usage(anyhow!(
                    "{} and {} configure different repositories ({provider}, {}); keep the \
                     flags of one and pass --repository ID",
                    settings[0].flag,
                    other.flag,
                    other.provider
                )));
            }
            "the flags"
        };
        if let Some(bad) = settings.iter().find(|s| s.provider != provider) {
            return Err(CliError::usage(anyhow!(
                "{} applies to the {} repository, but the repository is {provider} (from \
                 {origin}); drop {} or pass --repository {}",
                bad.flag,
                bad.provider,
                bad.flag,
                bad.provider
            )));
        }
        let mut table = match file {
            Some(f) if f.provider == provider => f.settings.clone(),
            _ => toml::Table::new(),
        };
        for s in settings {
            table.insert(s.key.to_string(), toml::Value::String(s.value));
        }
        Ok(Some(ProviderConfig {
            provider,
            settings: table,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(provider: &str, settings: &str) -> ProviderConfig {
        ProviderConfig {
            provider: provider.into(),
            settings: toml::from_str(settings).unwrap(),
        }
    }

    fn applied(flags: &RepositoryFlags, f: Option<&ProviderConfig>) -> (String, String) {
        let r = flags.apply(f).unwrap().unwrap();
        (r.provider.clone(), r.settings_json())
    }

    #[test]
    fn flags_override_the_file_for_the_same_provider() {
        let f = file("redis", "url = \"redis://a/\"\nkey = \"K\"\n");
        let flags = RepositoryFlags {
            redis_url: Some("redis://b/".into()),
            ..Default::default()
        };
        assert_eq!(
            applied(&flags, Some(&f)),
            ("redis".into(), r#"{"key":"K","url":"redis://b/"}"#.into())
        );
    }

    #[test]
    fn another_provider_starts_from_empty_settings() {
        let f = file("redis", "url = \"redis://a/\"\n");
        let flags = RepositoryFlags {
            provider: Some("filesystem".into()),
            directory: Some("/k".into()),
            ..Default::default()
        };
        assert_eq!(
            applied(&flags, Some(&f)),
            ("filesystem".into(), r#"{"directory":"/k"}"#.into())
        );
    }

    #[test]
    fn provider_flags_alone_choose_their_provider() {
        let flags = RepositoryFlags {
            blob_service: Some("s3".into()),
            blob_container: Some("c".into()),
            ..Default::default()
        };
        assert_eq!(applied(&flags, None).0, "blob");
        assert!(RepositoryFlags::default().apply(None).unwrap().is_none());
    }

    #[test]
    fn a_flag_of_another_provider_is_a_usage_error_saying_what_to_do() {
        let flags = RepositoryFlags {
            provider: Some("filesystem".into()),
            redis_url: Some("redis://h/".into()),
            ..Default::default()
        };
        let e = flags.apply(None).unwrap_err();
        assert_eq!(e.code(), 2);
        assert_eq!(
            e.error().to_string(),
            "--redis-url applies to the redis repository, but the repository is filesystem \
             (from --repository); drop --redis-url or pass --repository redis"
        );
        let mixed = RepositoryFlags {
            redis_url: Some("redis://h/".into()),
            directory: Some("/k".into()),
            ..Default::default()
        };
        let e = mixed.apply(None).unwrap_err();
        assert_eq!(e.code(), 2);
        assert_eq!(
            e.error().to_string(),
            "--repository-dir and --redis-url configure different repositories (filesystem, \
             redis); keep the flags of one and pass --repository ID"
        );
    }
}
