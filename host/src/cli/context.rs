//! The context every subcommand gets: the configuration and the provider registry.

use std::path::{Path, PathBuf};

use crate::{
    config::{self, Config},
    plugins::{search_path, Registry},
};

use super::CliError;

/// Configuration and registry, built once per invocation.
#[derive(Debug)]
pub struct Context {
    /// The configuration (defaults when no file exists).
    pub config: Config,
    /// The file it was read from, if any.
    pub config_path: Option<PathBuf>,
    /// Built-ins plus every plugin found on the search path.
    pub registry: Registry,
}

impl Context {
    /// Reads the configuration and loads plugins. Configuration problems are usage errors
    /// (exit 2); an unusable plugin directory fails the command (exit 1); individual bad
    /// plugin files are recorded as refusals and logged, and loading carries on.
    pub fn new(config_file: Option<&Path>, plugin_dirs: &[PathBuf]) -> Result<Context, CliError> {
        let (config, config_path) = Config::load(config_file).map_err(CliError::usage)?;
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
            registry.load_dir(&dir, source).map_err(CliError::failed)?;
        }
        Ok(Context {
            config,
            config_path,
            registry,
        })
    }
}
