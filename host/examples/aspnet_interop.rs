//! Sharing a key ring with ASP.NET Core applications: interop mode writes keys exactly as
//! ASP.NET Core does on Linux (unencrypted key XML in `PersistKeysToFileSystem`'s layout), so a
//! .NET application pointed at the same directory with the same application name reads what
//! this program protects, and the other way round.
//!
//! ```sh
//! cargo run -p trousseau --example aspnet_interop -- /shared/DataProtection-Keys "text"
//! ```
//!
//! In .NET: `services.AddDataProtection().PersistKeysToFileSystem(new
//! DirectoryInfo("/shared/DataProtection-Keys")).SetApplicationName("shop")` and
//! `provider.CreateProtector("cookies").Unprotect(payload)`.

use trousseau::{providers::Filesystem, Trousseau};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: aspnet_interop KEY_DIRECTORY TEXT";
    let dir = args.next().ok_or(usage)?;
    let text = args.next().ok_or(usage)?;
    let tr = Trousseau::builder()
        .application_name("shop")
        .repository(Filesystem::at(&dir))
        .interop(true)
        .build()?;
    let payload = tr.protector("cookies").protect_str(&text)?;
    // The payload and the key it names, for the .NET side.
    let key = tr.key_manager().keys()?.into_iter().find(|k| !k.revoked);
    println!("{payload}");
    if let Some(key) = key {
        println!("{}", key.key.id);
    }
    Ok(())
}
