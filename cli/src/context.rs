//! The context every subcommand gets: the configuration and the provider registry.

use std::{
    io::ErrorKind,
    path::{Path, PathBuf},
};

use anyhow::anyhow;
use trousseau_core::ProviderKind;

use trousseau::{
    config::{self, Config, ConfigError},
    dataprotection::manager::{MAX_KEY_LIFETIME_DAYS, MIN_KEY_LIFETIME_DAYS},
    masterkey::SourceSpec,
    plugins::{search_path, Registry},
};

use super::{slot_options::SlotOptions, CliError, RepositoryArg};

/// Configuration and registry, built once per invocation.
#[derive(Debug)]
pub struct Context {
    /// The configuration (defaults when no file exists).
    pub config: Config,
    /// The file it was read from, if any.
    pub config_path: Option<PathBuf>,
    /// The repository provider was named by `--repository` (not by the file).
    pub repository_from_flag: bool,
    /// Built-ins plus every plugin found on the search path.
    pub registry: Registry,
    /// The key sources given with `--unlock` (empty: use `[[master_key.sources]]`).
    pub unlock_sources: Vec<SourceSpec>,
    /// How new slots are made and whether a recovery key unlocks (from the command line).
    pub slot_options: SlotOptions,
}

impl Context {
    /// Reads the configuration, applies `--repository` over its `[repository]` table,
    /// and loads plugins. Configuration problems, including a plugin directory named by a flag,
    /// `TROUSSEAU_PLUGIN_PATH` or the file that cannot be read, are usage errors (exit 2);
    /// individual bad plugin files are recorded as refusals and logged, and loading carries on.
    pub fn new(
        config_file: Option<&Path>,
        plugin_dirs: &[PathBuf],
        repository: &RepositoryArg,
    ) -> Result<Context, CliError> {
        let (mut config, config_path) = Config::load(config_file).map_err(|e| match e {
            ConfigError::Read { path, source } if source.kind() == ErrorKind::InvalidData => {
                CliError::usage(anyhow!(
                    "the configuration file {} is not UTF-8 text; save it as UTF-8 (TOML \
                     files are UTF-8), e.g. with `iconv -t UTF-8`",
                    path.display()
                ))
            }
            e => CliError::usage(e),
        })?;
        check_data_protection(&config, config_path.as_deref())?;
        config.repository = repository.apply(config.repository.as_ref())?;
        let mut registry =
            Registry::with_builtins(config.plugins.pins.as_deref()).map_err(CliError::usage)?;
        let env = std::env::var_os("TROUSSEAU_PLUGIN_PATH");
        let dirs = search_path(
            plugin_dirs,
            env.as_deref(),
            &config.plugins.dirs,
            config::default_data_dir().map(|d| d.join("plugins")),
        );
        for (dir, source) in dirs {
            registry.load_dir(&dir, source).map_err(CliError::usage)?;
        }
        Ok(Context {
            config,
            config_path,
            repository_from_flag: repository.spec.is_some(),
            registry,
            unlock_sources: Vec::new(),
            slot_options: SlotOptions::default(),
        })
    }

    /// Checks that every provider the configuration names exists in the registry, with the
    /// kind it is used as. The error names the file, the setting and what is available.
    pub fn check_providers(&self) -> Result<(), CliError> {
        let Some(repo) = &self.config.repository else {
            return Ok(());
        };
        let setting = if self.repository_from_flag {
            "--repository".to_string()
        } else {
            let file = self.config_path.as_ref().map_or_else(
                || "the configuration".to_string(),
                |p| p.display().to_string(),
            );
            format!("{file}: [repository] provider")
        };
        trousseau::ring::check_provider(
            &self.registry,
            &repo.provider,
            ProviderKind::Repository,
            &setting,
        )
        .map_err(CliError::usage)
    }
}

/// Checks the `[data_protection]` settings that only make sense within bounds (the key
/// lifetime: a key expiring past the year 9999 could be written but never read back). The
/// error names the file and the setting.
fn check_data_protection(config: &Config, path: Option<&Path>) -> Result<(), CliError> {
    if let Some(days) = config.data_protection.key_lifetime_days {
        if !(MIN_KEY_LIFETIME_DAYS..=MAX_KEY_LIFETIME_DAYS).contains(&days) {
            let file = path.map_or_else(
                || "the configuration".to_string(),
                |p| p.display().to_string(),
            );
            return Err(CliError::usage(anyhow!(
                "{file}: [data_protection] key_lifetime_days = {days} is out of range: give a \
                 number of days from {MIN_KEY_LIFETIME_DAYS} to {MAX_KEY_LIFETIME_DAYS} (100 \
                 years)"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context_with(config: &str) -> Context {
        let path = Path::new("/etc/trousseau.toml");
        Context {
            config: Config::parse(config, path).unwrap(),
            config_path: Some(path.to_path_buf()),
            repository_from_flag: false,
            registry: Registry::with_builtins(None).unwrap(),
            unlock_sources: Vec::new(),
            slot_options: SlotOptions::default(),
        }
    }

    #[test]
    fn unknown_repository_provider_is_a_usage_error_naming_the_file() {
        let ctx = context_with("[repository]\nprovider = \"mongo\"\n");
        let err = ctx.check_providers().unwrap_err();
        assert_eq!(err.code(), 2);
        let msg = format!("{:#}", err.error());
        assert!(
            msg.starts_with("/etc/trousseau.toml: [repository] provider \"mongo\" is unknown"),
            "{msg}"
        );
        assert!(msg.contains("available repositories:"), "{msg}");
    }

    #[test]
    fn key_lifetime_is_checked_when_the_configuration_is_read() {
        for days in [6, 36_501, 10_000_000, i64::MAX] {
            let ctx = context_with(&format!("[data_protection]\nkey_lifetime_days = {days}\n"));
            let err = check_data_protection(&ctx.config, ctx.config_path.as_deref()).unwrap_err();
            assert_eq!(err.code(), 2);
            let msg = err.message();
            assert!(
                msg.starts_with(&format!(
                    "/etc/trousseau.toml: [data_protection] key_lifetime_days = {days} is out of range"
                )),
                "{msg}"
            );
        }
        let ctx = context_with("[data_protection]\nkey_lifetime_days = 36500\n");
        assert!(check_data_protection(&ctx.config, None).is_ok());
    }

    #[test]
    fn no_repository_setting_is_fine() {
        assert!(context_with("").check_providers().is_ok());
    }
}
