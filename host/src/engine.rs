//! [`Trousseau`]: an opened key ring and the protectors made from it, what an application
//! embeds (ASP.NET Core's `IDataProtectionProvider`).

use std::{path::Path, sync::Arc};

use crate::{
    dataprotection::{
        manager::KeyManager,
        protector::{DataProtector, TimeLimitedProtector},
    },
    ring::{CreatedRing, OpenedRing, RingError},
    Builder,
};

/// An opened key ring: makes protectors, and gives the key manager for operators' tasks. Cheap
/// to share (`Arc<Trousseau>` or clones of its protectors) across threads; protectors follow
/// key rotation by themselves.
#[derive(Debug)]
pub struct Trousseau {
    manager: Arc<KeyManager>,
    created: Option<CreatedRing>,
    application_name: String,
    max_payload: usize,
}

impl Trousseau {
    /// A builder with every default (see [`Builder`]).
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// The engine a configuration file describes (see [`Builder::from_config`]).
    pub fn from_config_file(path: impl AsRef<Path>) -> Result<Trousseau, RingError> {
        Builder::from_config_file(path)?.build()
    }

    /// An ephemeral engine: its ring lives in this process's memory only (see
    /// [`Builder::ephemeral`]). For tests.
    ///
    /// ```
    /// let tr = trousseau::Trousseau::ephemeral()?;
    /// let p = tr.protector("test");
    /// assert_eq!(p.unprotect(&p.protect(b"x")?)?, b"x");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn ephemeral() -> Result<Trousseau, RingError> {
        Builder::default().ephemeral().build()
    }

    pub(crate) fn new(opened: OpenedRing, application_name: String, max_payload: usize) -> Self {
        Trousseau {
            manager: opened.manager,
            created: opened.created,
            application_name,
            max_payload,
        }
    }

    /// A protector for `purpose` under the application name: payloads protected by it open
    /// only with a protector of the same application name and purpose.
    pub fn protector(&self, purpose: &str) -> DataProtector {
        self.protector_for(&[purpose])
    }

    /// A protector for a purpose chain (`["orders", "v2"]`) under the application name.
    pub fn protector_for(&self, purposes: &[&str]) -> DataProtector {
        let chain = std::iter::once(self.application_name.as_str())
            .filter(|name| !name.is_empty())
            .chain(purposes.iter().copied())
            .map(str::to_string)
            .collect();
        DataProtector::new(self.manager.clone(), chain).with_max_payload(self.max_payload)
    }

    /// A protector whose payloads carry an expiration (ASP.NET's `ITimeLimitedDataProtector`).
    pub fn time_limited_protector(&self, purpose: &str) -> TimeLimitedProtector {
        self.protector(purpose).time_limited()
    }

    /// The key manager: list, create, revoke and delete keys.
    pub fn key_manager(&self) -> &Arc<KeyManager> {
        &self.manager
    }

    /// What was made when this engine created its ring (the first use), if it did.
    pub fn created(&self) -> Option<&CreatedRing> {
        self.created.as_ref()
    }
}
