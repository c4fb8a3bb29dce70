//! The built-in providers linked into this binary, one cargo feature each. Each crate registers
//! itself with `inventory`; it must be named here, or the linker drops it and its registration
//! with it.

#[cfg(feature = "blob")]
use trousseau_blob as _;
#[cfg(feature = "filesystem")]
use trousseau_filesystem as _;
#[cfg(feature = "keyfile")]
use trousseau_keyfile as _;
#[cfg(feature = "password")]
use trousseau_password as _;
#[cfg(feature = "pkcs11")]
use trousseau_pkcs11 as _;
#[cfg(feature = "redis")]
use trousseau_redis as _;
#[cfg(feature = "registry")]
use trousseau_registry as _;
#[cfg(feature = "user-account")]
use trousseau_user_account as _;
