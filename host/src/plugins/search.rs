//! The plugin search path a host builds ([`search_path`]): the directories it was given
//! explicitly (the command-line tool's `--plugin-dir`), a path list from its environment (the
//! tool reads `TROUSSEAU_PLUGIN_PATH`), the configuration's `[plugins] dirs`, then the per-user
//! default directory.

use std::path::{Path, PathBuf};

/// Where a plugin directory came from; only the default may be missing silently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DirSource {
    /// Named explicitly by the host (the command-line tool's `--plugin-dir`).
    CommandLine,
    /// From a path list in the environment (the command-line tool's `TROUSSEAU_PLUGIN_PATH`).
    Environment,
    /// `[plugins] dirs` in the configuration file.
    ConfigFile,
    /// The per-user default (`$XDG_DATA_HOME/trousseau/plugins`).
    Default,
}

impl DirSource {
    /// How the source is named in messages.
    pub fn as_str(self) -> &'static str {
        match self {
            DirSource::CommandLine => "--plugin-dir",
            DirSource::Environment => "TROUSSEAU_PLUGIN_PATH",
            DirSource::ConfigFile => "[plugins] dirs",
            DirSource::Default => "default plugin directory",
        }
    }
}

/// The ordered search path, without duplicates.
pub fn search_path(
    command_line: &[PathBuf],
    env_value: Option<&std::ffi::OsStr>,
    config_dirs: &[PathBuf],
    default_dir: Option<PathBuf>,
) -> Vec<(PathBuf, DirSource)> {
    let mut out: Vec<(PathBuf, DirSource)> = Vec::new();
    let mut push = |p: PathBuf, s: DirSource| {
        if !p.as_os_str().is_empty() && !out.iter().any(|(q, _)| q == &p) {
            out.push((p, s));
        }
    };
    for p in command_line {
        push(p.clone(), DirSource::CommandLine);
    }
    if let Some(v) = env_value {
        for p in std::env::split_paths(v) {
            push(p, DirSource::Environment);
        }
    }
    for p in config_dirs {
        push(p.clone(), DirSource::ConfigFile);
    }
    if let Some(p) = default_dir {
        push(p, DirSource::Default);
    }
    out
}

/// Whether `path` looks like a plugin library for this platform (by extension).
pub fn is_library(path: &Path) -> bool {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    matches!(ext, "so" | "dylib" | "dll")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_and_dedup() {
        let got = search_path(
            &[PathBuf::from("/a"), PathBuf::from("/b")],
            Some(std::ffi::OsStr::new("/c:/a:")),
            &[PathBuf::from("/d")],
            Some(PathBuf::from("/e")),
        );
        let names: Vec<_> = got.iter().map(|(p, s)| (p.to_str().unwrap(), *s)).collect();
        assert_eq!(
            names,
            vec![
                ("/a", DirSource::CommandLine),
                ("/b", DirSource::CommandLine),
                ("/c", DirSource::Environment),
                ("/d", DirSource::ConfigFile),
                ("/e", DirSource::Default),
            ]
        );
    }
}
