//! The built-in providers linked into this binary. Each crate registers itself with
//! `inventory`; it must be named here, or the linker drops it and its registration with it.
