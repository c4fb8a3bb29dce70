//! The project venv's Python, where the Python peers (pykeepass, `cryptography`) are installed.

use std::path::PathBuf;

/// The project venv's Python (`$TROUSSEAU_VENV`, default `~/.cache/trousseau/venv`); fails the
/// test naming `install_script` when it is missing.
pub fn venv_python(install_script: &str) -> PathBuf {
    let venv = std::env::var_os("TROUSSEAU_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cache/trousseau/venv")
        });
    let py = venv.join("bin/python");
    assert!(
        py.exists(),
        "{} is missing: run {install_script}",
        py.display()
    );
    py
}
