//! A repository written in the application itself: the ring's elements kept wherever the
//! application already keeps its data (here a map guarded by a mutex; in practice a table of
//! its database). Implement [`Repository`]; no plugin, no ABI types.
//!
//! ```sh
//! cargo run -p trousseau --example in_process_repository
//! ```

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
};

use trousseau::Trousseau;
use trousseau_core::{
    Capabilities, Element, Error, ErrorCode, Repository, RepositoryDescription, Snapshot,
};

/// Elements by name, shared by every engine of the process.
#[derive(Clone, Default)]
struct Table(Arc<Mutex<BTreeMap<String, String>>>);

impl Table {
    fn rows(&self) -> Result<std::sync::MutexGuard<'_, BTreeMap<String, String>>, Error> {
        self.0
            .lock()
            .map_err(|_| Error::new(ErrorCode::Internal, "table poisoned"))
    }
}

impl Repository for Table {
    fn describe(&self) -> RepositoryDescription {
        RepositoryDescription::new("app-table", "the application's table", Capabilities::NONE)
    }

    fn load(&self) -> Result<Snapshot, Error> {
        let rows = self.rows()?;
        let elements = rows.iter().map(|(n, x)| Element::new(n, x)).collect();
        // The version token only has to change when the contents do.
        Ok(Snapshot::new(elements, rows.len().to_string()))
    }

    fn store(&self, element: &Element) -> Result<(), Error> {
        self.rows()?
            .insert(element.name().to_string(), element.xml().to_string());
        Ok(())
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let table = Table::default();
    // The ring is written only by this process: interop mode keeps its keys unencrypted, as
    // an application trusting its own database would. With untrusted writers, add
    // `.unlock_with(…)` and leave interop off.
    let open = || {
        Trousseau::builder()
            .application_name("orders")
            .repository_in_process("app-table", table.clone())
            .interop(true)
            .build()
    };
    let first = open()?;
    let token = first.protector("invoices").protect(b"invoice 7")?;
    let second = open()?;
    assert_eq!(
        second.protector("invoices").unprotect(&token)?,
        b"invoice 7"
    );
    println!(
        "{} element(s) in the application's table",
        table.rows()?.len()
    );
    Ok(())
}
