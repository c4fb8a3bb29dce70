//! The built-in providers linked into this binary. Each crate registers itself with
//! `inventory`; it must be named here, or the linker drops it and its registration with it.

use trousseau_blob as _;
use trousseau_filesystem as _;
use trousseau_keyfile as _;
use trousseau_password as _;
use trousseau_pkcs11 as _;
use trousseau_redis as _;
use trousseau_registry as _;
use trousseau_user_account as _;
