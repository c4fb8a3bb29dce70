//! An encrypted key ring in Redis, opened by a password from the environment: what a web
//! service running on several nodes does.
//!
//! ```sh
//! RING_PASSWORD='correct horse battery staple' \
//!     cargo run -p trousseau --features redis --example redis_ring -- redis://127.0.0.1:6379/0
//! ```
//!
//! The first run creates the ring (a master-key slot under the password, then the first key);
//! every later run, on any node, opens the same ring. A wrong password fails and changes
//! nothing.

use trousseau::{
    providers::{Password, Redis},
    Trousseau,
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "redis://127.0.0.1:6379/0".to_string());
    let tr = Trousseau::builder()
        .application_name("shop")
        .repository(Redis::new(&url))
        .unlock_with(Password::from_env("RING_PASSWORD"))
        .build()?;
    if let Some(created) = tr.created() {
        println!("created the key ring with key {}", created.key);
    }
    let cookies = tr.protector("cookies");
    let token = cookies.protect_str("session 42")?;
    assert_eq!(cookies.unprotect_str(&token)?, "session 42");
    // Another purpose cannot read it.
    assert!(tr.protector("csrf").unprotect_str(&token).is_err());
    println!("protected and unprotected with key ring in {url}");
    println!("{token}");
    Ok(())
}
