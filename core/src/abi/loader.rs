//! Low-level loading of one plugin library: open, check the ABI, get the root module.
//!
//! This is abi_stable's `RawLibrary` + `LibHeader` path, not `RootModule::load_from_file`
//! (which caches one module per root-module type, so a second plugin would silently return the
//! first). Libraries are never unloaded: their vtables and the deallocators inside returned
//! values are `'static`. Policy (which files may be loaded) belongs to the host.

use std::{fmt, path::Path};

use abi_stable::library::{lib_header_from_raw_library, LibraryError, RawLibrary};
use abi_stable::std_types::RStr;

use super::{module::PluginModuleRef, KeySourceBox, RepositoryBox};
use crate::{Error, PluginInfo};

/// Why a library could not be loaded as a plugin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadErrorKind {
    /// The file could not be opened as a shared library (missing, truncated, wrong format).
    Open,
    /// The library is not a Trousseau plugin (no plugin root module symbol).
    NotAPlugin,
    /// The plugin was built against an incompatible `trousseau-core` (version or layout).
    AbiMismatch,
    /// The plugin's root-module constructor failed or panicked.
    Initialisation,
}

/// A plugin load failure: a one-line summary for users and the full detail for debug logs.
#[derive(Debug, Clone)]
pub struct LoadError {
    kind: LoadErrorKind,
    summary: String,
    detail: String,
}

impl LoadError {
    /// The kind of failure.
    pub fn kind(&self) -> LoadErrorKind {
        self.kind
    }

    /// One line that says what is wrong (for ABI mismatches: the first mismatch found).
    pub fn summary(&self) -> &str {
        &self.summary
    }

    /// The full text (for ABI mismatches, abi_stable's layout report, often kilobytes).
    pub fn detail(&self) -> &str {
        &self.detail
    }
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.summary)
    }
}

impl std::error::Error for LoadError {}

/// A loaded plugin library. Cheap to copy; the library stays mapped for the process lifetime.
#[derive(Clone, Copy)]
pub struct DynamicPlugin {
    module: PluginModuleRef,
}

impl fmt::Debug for DynamicPlugin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DynamicPlugin")
    }
}

impl DynamicPlugin {
    /// What the plugin offers.
    pub fn info(&self) -> Result<PluginInfo, Error> {
        (self.module.info())().into_result()
    }

    /// Makes key source `id` from a JSON `config`.
    pub fn create_key_source(&self, id: &str, config: &str) -> Result<KeySourceBox, Error> {
        (self.module.create_key_source())(RStr::from(id), RStr::from(config))
            .into_result()
            .map(KeySourceBox::new)
    }

    /// Makes repository `id` from a JSON `config`.
    pub fn create_repository(&self, id: &str, config: &str) -> Result<RepositoryBox, Error> {
        (self.module.create_repository())(RStr::from(id), RStr::from(config))
            .into_result()
            .map(RepositoryBox::new)
    }
}

/// Loads the plugin library at `path`, checks its ABI against this `trousseau-core` and
/// returns its root module. The library is never unloaded, even on error after opening.
///
/// The caller decides whether `path` may be loaded at all: loading runs the library's static
/// initialisers.
pub fn load_library(path: &Path) -> Result<DynamicPlugin, LoadError> {
    let raw = RawLibrary::load_at(path).map_err(summarise)?;
    // Leaked on purpose: libraries are never unloaded (see the module docs).
    let raw: &'static RawLibrary = Box::leak(Box::new(raw));
    // SAFETY: abi_stable reads the header symbol and checks its magic and ABI header before
    // trusting anything else in it; the library stays loaded forever (leaked above).
    #[allow(unsafe_code)]
    let header = unsafe { lib_header_from_raw_library(raw) }.map_err(summarise)?;
    let module = header
        .init_root_module::<PluginModuleRef>()
        .map_err(summarise)?;
    Ok(DynamicPlugin { module })
}

fn summarise(err: LibraryError) -> LoadError {
    let detail = err.to_string();
    let (kind, summary) = match &err {
        LibraryError::OpenError { err, .. } => (
            LoadErrorKind::Open,
            format!("cannot open as a shared library: {err}"),
        ),
        LibraryError::GetSymbolError { .. } => (
            LoadErrorKind::NotAPlugin,
            "not a Trousseau plugin (no plugin root module; was it built with \
             trousseau_core::export_plugin!?)"
                .to_string(),
        ),
        LibraryError::IncompatibleVersionNumber {
            expected_version,
            actual_version,
            ..
        } => (
            LoadErrorKind::AbiMismatch,
            format!(
                "incompatible plugin ABI: built with trousseau-core {actual_version}, this host \
                 needs {expected_version}; rebuild the plugin against trousseau-core \
                 {expected_version}"
            ),
        ),
        LibraryError::ParseVersionError(e) => (
            LoadErrorKind::AbiMismatch,
            format!("incompatible plugin ABI: unreadable version: {e}"),
        ),
        LibraryError::AbiInstability(e) => (
            LoadErrorKind::AbiMismatch,
            format!(
                "incompatible plugin ABI (built against a different trousseau-core interface): \
                 {}; rebuild the plugin against this host's trousseau-core {}",
                first_layout_error(&e.to_string()),
                crate::SDK_VERSION
            ),
        ),
        LibraryError::InvalidAbiHeader(_) | LibraryError::InvalidCAbi { .. } => (
            LoadErrorKind::AbiMismatch,
            "incompatible plugin ABI: built with an incompatible abi_stable or C ABI".to_string(),
        ),
        LibraryError::RootModule { err, .. } => (
            LoadErrorKind::Initialisation,
            format!("the plugin's root module failed to initialise: {err}"),
        ),
        LibraryError::Many(errors) => {
            let first = errors.iter().next().map(|e| summarise(clone_shallow(e)));
            match first {
                Some(e) => (e.kind, e.summary),
                None => (
                    LoadErrorKind::AbiMismatch,
                    "incompatible plugin ABI".to_string(),
                ),
            }
        }
    };
    LoadError {
        kind,
        summary: one_line(&summary),
        detail,
    }
}

// `LibraryError` is not `Clone`; nested errors are only summarised from their text.
fn clone_shallow(err: &LibraryError) -> LibraryError {
    LibraryError::AbiInstability(abi_stable::std_types::RBoxError::from_fmt(err))
}

/// Picks the first `Error:…` entry out of abi_stable's layout report (the line and the few
/// lines of expected/found detail under it), as one line.
fn first_layout_error(report: &str) -> String {
    let lines: Vec<&str> = report
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    match lines.iter().position(|l| l.starts_with("Error:")) {
        Some(at) => {
            let mut parts = vec![lines[at].trim_start_matches("Error:").trim()];
            parts.extend(
                lines[at + 1..]
                    .iter()
                    .take_while(|l| !l.starts_with("Error:"))
                    .take(6),
            );
            parts.join(" ")
        }
        None => lines
            .first()
            .copied()
            .unwrap_or("layout mismatch")
            .to_string(),
    }
}

fn one_line(text: &str) -> String {
    let joined = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if joined.chars().count() > 400 {
        let cut: String = joined.chars().take(400).collect();
        format!("{cut}…")
    } else {
        joined
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_report_is_summarised_to_the_first_error() {
        let report = "Error:mismatched type\n  Expected:\n    RStr<'a>\n  Found:\n    RString\n\
                      Error:too many fields\nExpected: 3 Found: 2\n";
        assert_eq!(
            first_layout_error(report),
            "mismatched type Expected: RStr<'a> Found: RString"
        );
        let report2 = "Error:unexpected field\nExpected: field_name:__returns type:RResult\n\
                       Found: field_name:param_2 type:u32\n";
        assert_eq!(
            first_layout_error(report2),
            "unexpected field Expected: field_name:__returns type:RResult Found: field_name:param_2 type:u32"
        );
    }

    #[test]
    fn missing_file_is_an_open_error() {
        let err = load_library(Path::new("/nonexistent/libnothing.so")).unwrap_err();
        assert_eq!(err.kind(), LoadErrorKind::Open);
        assert!(!err.summary().contains('\n'));
    }
}
