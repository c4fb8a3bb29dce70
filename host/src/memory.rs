//! [`MemoryRepository`]: a key ring kept in this process's memory, for tests and for
//! processes whose protected data never outlives them. It has every capability of a real
//! repository (deletion, conditional store), so code tested against it behaves the same on a
//! shared one.

use std::sync::Mutex;

use trousseau_core::{
    Capabilities, Element, Error, ErrorCode, Repository, RepositoryDescription, Snapshot,
};

/// The provider id an in-memory repository reports.
pub const MEMORY_PROVIDER: &str = "memory";

/// A key ring in memory: elements and a version counter that changes on every write.
///
/// With [`Builder::repository_in_process`](crate::Builder::repository_in_process) (or
/// [`Builder::ephemeral`](crate::Builder::ephemeral), which also skips the master key):
///
/// ```
/// use trousseau::{providers::Password, MemoryRepository, Trousseau};
///
/// # std::env::set_var("RING_PASSWORD", "a long passphrase");
/// let tr = Trousseau::builder()
///     .repository_in_process("memory", MemoryRepository::new())
///     .unlock_with(Password::from_env("RING_PASSWORD"))
///     .build()?;
/// let p = tr.protector("cache");
/// assert_eq!(p.unprotect(&p.protect(b"x")?)?, b"x");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// Or directly, as any [`Repository`]:
///
/// ```
/// use trousseau::{MemoryRepository, Repository};
/// use trousseau_core::Element;
///
/// let repo = MemoryRepository::new();
/// let empty = repo.load()?;
/// repo.store(&Element::new("key-1", "<key id=\"1\" />"))?;
/// let after = repo.load()?;
/// assert_ne!(after.version(), empty.version());
/// assert_eq!(after.elements().len(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Default)]
pub struct MemoryRepository {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    elements: Vec<Element>,
    version: u64,
}

impl MemoryRepository {
    /// An empty ring.
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> Result<std::sync::MutexGuard<'_, State>, Error> {
        self.state.lock().map_err(|_| {
            Error::new(
                ErrorCode::Internal,
                "the in-memory key ring was poisoned by a panic in another thread",
            )
        })
    }
}

impl State {
    fn add(&mut self, element: &Element) -> Result<(), Error> {
        if self.elements.iter().any(|e| e.name() == element.name()) {
            return Err(Error::new(
                ErrorCode::Conflict,
                format!("an element named {:?} already exists", element.name()),
            ));
        }
        self.elements.push(element.clone());
        Ok(())
    }
}

impl Repository for MemoryRepository {
    fn describe(&self) -> RepositoryDescription {
        RepositoryDescription::new(
            MEMORY_PROVIDER,
            "(in memory)",
            Capabilities::DELETE | Capabilities::CONDITIONAL_STORE,
        )
    }

    fn load(&self) -> Result<Snapshot, Error> {
        let state = self.state()?;
        Ok(Snapshot::new(
            state.elements.clone(),
            state.version.to_string(),
        ))
    }

    fn store(&self, element: &Element) -> Result<(), Error> {
        let mut state = self.state()?;
        state.add(element)?;
        state.version += 1;
        Ok(())
    }

    fn delete(&self, names: &[String]) -> Result<(), Error> {
        let mut state = self.state()?;
        state
            .elements
            .retain(|e| !names.iter().any(|n| n == e.name()));
        state.version += 1;
        Ok(())
    }

    fn store_conditional(
        &self,
        expected_version: &str,
        elements: &[Element],
    ) -> Result<String, Error> {
        let mut state = self.state()?;
        if state.version.to_string() != expected_version {
            return Err(Error::new(
                ErrorCode::Conflict,
                "the in-memory key ring changed since it was read",
            ));
        }
        let before = state.elements.len();
        for element in elements {
            if let Err(e) = state.add(element) {
                state.elements.truncate(before);
                return Err(e);
            }
        }
        state.version += 1;
        Ok(state.version.to_string())
    }
}
