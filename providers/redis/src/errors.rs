//! Redis errors as Trousseau errors that name the repository and say what to do.

use redis::{ErrorKind, RedisError};
use trousseau_core::{Error, ErrorCode};

/// Whether the connection that produced `e` must be dropped (and a new one made next time).
pub(crate) fn breaks_connection(e: &RedisError) -> bool {
    e.is_io_error() || e.is_connection_dropped() || e.is_timeout() || e.is_unrecoverable_error()
}

/// Maps `e`, raised while talking to the repository at `location`.
pub(crate) fn map(e: &RedisError, location: &str) -> Error {
    // RedisError's text never holds the URL or the password.
    if e.code() == Some("NOPERM") && e.to_string().to_ascii_lowercase().contains("'eval'") {
        return Error::new(
            ErrorCode::InvalidConfig,
            format!(
                "the redis repository at {location} does not let this user run EVAL ({e}), \
                 which reads the list within its size limits; grant it, e.g. `ACL SETUSER \
                 <user> +eval`"
            ),
        );
    }
    if e.kind() == ErrorKind::AuthenticationFailed
        || matches!(e.code(), Some("WRONGPASS" | "NOAUTH" | "NOPERM"))
    {
        return Error::new(
            ErrorCode::InvalidConfig,
            format!(
                "the redis repository at {location} refused our credentials ({e}); check the username and password in the URL or in the variables named by `username_env`/`password_env`"
            ),
        );
    }
    if e.code() == Some("WRONGTYPE") {
        return wrong_type(location);
    }
    if e.is_timeout() {
        return Error::new(
            ErrorCode::Unavailable,
            format!(
                "the redis repository at {location} did not answer in time ({e}); check the server's load and network, or raise `command_timeout_ms`/`connect_timeout_ms`"
            ),
        );
    }
    if e.to_string().contains("certificate") {
        return Error::new(
            ErrorCode::Unavailable,
            format!(
                "the redis repository at {location} has a TLS certificate we do not trust ({e}); if a private CA signed it, name the CA's PEM file in `tls_ca_file`"
            ),
        );
    }
    if breaks_connection(e) || e.is_connection_refusal() {
        return Error::new(
            ErrorCode::Unavailable,
            format!(
                "the redis repository at {location} cannot be reached ({e}); check that the server is running and that `url` points at it"
            ),
        );
    }
    Error::new(
        ErrorCode::Io,
        format!("the redis repository at {location} failed: {e}"),
    )
}

/// The list key holds another type.
pub(crate) fn wrong_type(location: &str) -> Error {
    Error::new(
        ErrorCode::CorruptData,
        format!(
            "the redis repository at {location}: the key holds a value that is not a list (the ASP.NET Core layout is a list); set `key` to another name or remove that key"
        ),
    )
}
