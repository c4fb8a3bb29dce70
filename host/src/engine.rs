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
    ///
    /// ```
    /// use trousseau::{providers::{Filesystem, Password}, Trousseau};
    ///
    /// # let dir = tempfile::tempdir()?;
    /// # std::env::set_var("SHOP_RING_PASSWORD", "a long passphrase");
    /// let tr = Trousseau::builder()
    ///     .application_name("shop")
    ///     .repository(Filesystem::at(dir.path()))
    ///     .unlock_with(Password::from_env("SHOP_RING_PASSWORD"))
    ///     .build()?;
    /// # let _ = tr;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// The engine a configuration file describes (see [`Builder::from_config`] for the
    /// tables read, and [`crate::config`] for the format).
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # std::env::set_var("SHOP_RING_PASSWORD", "a long passphrase");
    /// # let ring = dir.path().join("ring");
    /// # let path = dir.path().join("trousseau.toml");
    /// # std::fs::write(&path, format!(r#"
    /// [repository]
    /// provider = "filesystem"
    /// directory = {ring:?}
    ///
    /// [data_protection]
    /// application_name = "shop"
    ///
    /// [[master_key.sources]]
    /// provider = "password"
    /// env = "SHOP_RING_PASSWORD"
    /// # "#))?;
    /// // `path` names a file holding the TOML above.
    /// let tr = trousseau::Trousseau::from_config_file(&path)?;
    /// let token = tr.protector("cookies").protect_str("session 42")?;
    /// # assert!(ring.is_dir());
    /// # let _ = token;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
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
    ///
    /// ```
    /// let tr = trousseau::Trousseau::ephemeral()?;
    /// let token = tr.protector("cookies").protect(b"session 42")?;
    /// assert_eq!(tr.protector("cookies").unprotect(&token)?, b"session 42");
    /// assert!(tr.protector("csrf").unprotect(&token).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn protector(&self, purpose: &str) -> DataProtector {
        self.protector_for(&[purpose])
    }

    /// A protector for a purpose chain (`["orders", "v2"]`) under the application name: the
    /// same as [`DataProtector::create_protector`] applied purpose after purpose.
    ///
    /// ```
    /// let tr = trousseau::Trousseau::ephemeral()?;
    /// let orders = tr.protector_for(&["orders", "v2"]);
    /// assert_eq!(orders.purposes(), ["trousseau", "orders", "v2"]);
    /// let token = orders.protect(b"order 7")?;
    /// let same = tr.protector("orders").create_protector("v2");
    /// assert_eq!(same.unprotect(&token)?, b"order 7");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn protector_for(&self, purposes: &[&str]) -> DataProtector {
        let chain = std::iter::once(self.application_name.as_str())
            .filter(|name| !name.is_empty())
            .chain(purposes.iter().copied())
            .map(str::to_string)
            .collect();
        DataProtector::new(self.manager.clone(), chain).with_max_payload(self.max_payload)
    }

    /// A protector whose payloads carry an expiration (ASP.NET's `ITimeLimitedDataProtector`).
    ///
    /// ```
    /// use trousseau::{dataprotection::timestamp::minutes, Timestamp};
    ///
    /// let tr = trousseau::Trousseau::ephemeral()?;
    /// let links = tr.time_limited_protector("password-reset");
    /// let now = Timestamp::now();
    /// let token = links.protect(b"user 42", now.plus(minutes(15)))?;
    /// let (data, expires) = links.unprotect(&token, now)?;
    /// assert_eq!((data.as_slice(), expires), (&b"user 42"[..], now.plus(minutes(15))));
    /// // Sixteen minutes later it is refused.
    /// assert!(links.unprotect(&token, now.plus(minutes(16))).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn time_limited_protector(&self, purpose: &str) -> TimeLimitedProtector {
        self.protector(purpose).time_limited()
    }

    /// The key manager: list, create, revoke and delete keys (see [`KeyManager`]).
    ///
    /// ```
    /// let tr = trousseau::Trousseau::ephemeral()?;
    /// tr.protector("warm-up").protect(b"")?; // the first use makes the first key
    /// let keys = tr.key_manager().keys()?;
    /// assert_eq!(keys.len(), 1);
    /// assert!(!keys[0].revoked);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn key_manager(&self) -> &Arc<KeyManager> {
        &self.manager
    }

    /// What was made when this engine created its ring (the first use), if it did: the
    /// master-key slot, the first key and the key sources the slot is made of. `None` when
    /// the ring already existed, and for a ring without slots (interop mode,
    /// [`Trousseau::ephemeral`]).
    ///
    /// ```
    /// use trousseau::{providers::{Filesystem, Password}, Trousseau};
    ///
    /// # let dir = tempfile::tempdir()?;
    /// # std::env::set_var("SHOP_RING_PASSWORD", "a long passphrase");
    /// let open = || {
    ///     Trousseau::builder()
    ///         .repository(Filesystem::at(dir.path()))
    ///         .unlock_with(Password::from_env("SHOP_RING_PASSWORD"))
    ///         .build()
    /// };
    /// let first = open()?;
    /// let created = first.created().ok_or("the first build creates the ring")?;
    /// assert!(created.slot.is_some());
    /// assert!(open()?.created().is_none()); // opened, not created
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn created(&self) -> Option<&CreatedRing> {
        self.created.as_ref()
    }
}
