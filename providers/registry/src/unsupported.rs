//! The registry provider on systems without a Windows registry: listed, but every call fails.

use trousseau_core::{
    Capabilities, Element, Error, ErrorCode, Repository, RepositoryDescription, Result, Snapshot,
};

use crate::RegistryConfig;

/// Stands in for the registry repository off Windows.
#[derive(Debug)]
pub(crate) struct Unsupported {
    key: String,
}

impl Unsupported {
    pub(crate) fn new(config: &RegistryConfig) -> Self {
        Unsupported {
            key: config.key.clone(),
        }
    }

    fn error(&self) -> Error {
        Error::new(
            ErrorCode::Unsupported,
            format!(
                "the registry repository ({}) is available on Windows only; use the filesystem, redis or blob repository here",
                self.key
            ),
        )
    }
}

impl Repository for Unsupported {
    fn describe(&self) -> RepositoryDescription {
        RepositoryDescription::new("registry", self.key.clone(), Capabilities::NONE)
    }

    fn load(&self) -> Result<Snapshot> {
        Err(self.error())
    }

    fn store(&self, _: &Element) -> Result<()> {
        Err(self.error())
    }

    fn delete(&self, _: &[String]) -> Result<()> {
        Err(self.error())
    }

    fn store_conditional(&self, _: &str, _: &[Element]) -> Result<String> {
        Err(self.error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_call_says_windows_only() {
        let repo = crate::create(r#"{"key":"HKCU\\Software\\T"}"#).unwrap();
        let errors = [
            repo.load().unwrap_err(),
            repo.store(&Element::new("key-1", "<key/>")).unwrap_err(),
            repo.delete(&["key-1".into()]).unwrap_err(),
            repo.store_conditional("v", &[]).unwrap_err(),
        ];
        for e in errors {
            assert_eq!(e.code(), ErrorCode::Unsupported);
            assert!(
                e.message().contains("available on Windows only"),
                "{}",
                e.message()
            );
        }
        assert_eq!(repo.describe().provider_id(), "registry");
        assert!(crate::PLUGIN.provider("registry").is_some());
    }
}
