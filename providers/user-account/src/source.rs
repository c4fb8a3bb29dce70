//! [`UserAccountSource`]: the `user-account` key source.

use trousseau_core::{
    ComponentKind, DeriveContext, Enrollment, Error, ErrorCode, Interaction, KeySource,
    MessageLevel, Result, SecretBytes, SourceDescription, SourceFlags,
};

use crate::{
    backend::{self, Store},
    config::{PublicParams, UserAccountConfig},
    key,
};

/// The provider id.
pub const PROVIDER_ID: &str = "user-account";

/// A key source whose component is the current user's 64-byte user key, used raw.
#[derive(Debug)]
pub struct UserAccountSource {
    config: UserAccountConfig,
}

impl UserAccountSource {
    /// A source with this configuration.
    pub fn new(config: UserAccountConfig) -> Self {
        UserAccountSource { config }
    }

    /// The user key, created in the chosen backend if there is none yet. An existing key that
    /// cannot be read is an error: it is never replaced.
    fn load_or_create(&self, store: &dyn Store, ui: &dyn Interaction) -> Result<SecretBytes> {
        match store.load() {
            Ok(k) => return Ok(k),
            Err(e) if e.code() == ErrorCode::NotFound => {}
            Err(e) => return Err(e),
        }
        let fresh = key::generate()?;
        match store.create(&fresh) {
            Ok(()) => {
                ui.message(
                    MessageLevel::Warning,
                    &format!(
                        "created a new user key in {} ({}); back it up with `trousseau \
                         user-account export FILE` and keep the copy somewhere safe — without it, \
                         what it protects cannot be recovered",
                        backend::describe(store.kind(), &store.location()),
                        backend::reason(store.kind(), &self.config)
                    ),
                );
                Ok(fresh)
            }
            // Another process created it in between: use that one.
            Err(e) if e.code() == ErrorCode::Conflict => store.load(),
            Err(e) => Err(e),
        }
    }
}

impl KeySource for UserAccountSource {
    fn describe(&self) -> SourceDescription {
        let label = match self.config.backend {
            Some(b) => format!("user account ({b})"),
            None => "user account".to_owned(),
        };
        SourceDescription::new(
            PROVIDER_ID,
            ComponentKind::UserAccount,
            SourceFlags::DIRECT_KEY,
            label,
        )
    }

    fn enroll(&self, _ctx: &DeriveContext, ui: &dyn Interaction) -> Result<Enrollment> {
        let store = backend::open(&self.config, None)?;
        let key = self.load_or_create(store.as_ref(), ui)?;
        let params = PublicParams {
            backend: store.kind(),
            location: store.location(),
            check: key::check_value(&key),
        };
        Ok(Enrollment::new(key, params.to_json()))
    }

    fn derive(&self, ctx: &DeriveContext, _ui: &dyn Interaction) -> Result<SecretBytes> {
        let params = PublicParams::parse(ctx.public_params())?;
        let store = backend::open(&self.config, params.as_ref().map(|p| p.backend))?;
        let key = store.load()?;
        if let Some(p) = params {
            if !key::matches_check_value(&key, &p.check) {
                return Err(Error::new(
                    ErrorCode::WrongKey,
                    format!(
                        "the user key at {} is not the one this was enrolled with (enrolled: {} \
                         at {}); this is another user's key or it was replaced — restore the \
                         right one with `trousseau user-account import BACKUP`",
                        store.location(),
                        p.backend,
                        p.location
                    ),
                ));
            }
        }
        Ok(key)
    }
}
