//! Database errors as Trousseau errors that name the repository (server or file, database,
//! table), say what failed and what to do. Database messages never hold the password.

use trousseau_core::{Error, ErrorCode};

/// Builds the message: `the sql repository LOCATION: DOING failed (CAUSE); HINT`.
fn error(
    code: ErrorCode,
    location: &str,
    doing: &str,
    cause: &dyn std::fmt::Display,
    hint: &str,
) -> Error {
    Error::new(
        code,
        format!("the sql repository {location}: {doing} failed ({cause}); {hint}"),
    )
}

/// What the table's schema must be, for errors caused by another one.
const SCHEMA_HINT: &str = "the table must have Entity Framework Core's DataProtectionKeys \
                           schema (\"Id\" integer, \"FriendlyName\" and \"Xml\" text)";

/// Maps a PostgreSQL error raised while `doing` something with the repository at `location`.
pub(crate) fn postgres(e: &postgres::Error, location: &str, doing: &str) -> Error {
    let Some(state) = e.code() else {
        // No SQL state: the connection (refused, reset, closed) or a conversion.
        let text = e.to_string();
        if text.starts_with("error deserializing") || text.starts_with("error serializing") {
            return error(ErrorCode::CorruptData, location, doing, e, SCHEMA_HINT);
        }
        return error(
            ErrorCode::Unavailable,
            location,
            doing,
            e,
            "check that the server is running and that `host` and `port` point at it; the \
             next operation connects again",
        );
    };
    let (code, hint) = classify(state);
    error(code, location, doing, e, hint)
}

/// The code and advice for a PostgreSQL error with SQL state `state`.
fn classify(state: &postgres::error::SqlState) -> (ErrorCode, &'static str) {
    use postgres::error::SqlState as S;
    let is = |states: &[S]| states.contains(state);
    if is(&[S::INVALID_PASSWORD, S::INVALID_AUTHORIZATION_SPECIFICATION]) {
        return (
            ErrorCode::InvalidConfig,
            "check `user`, the password in the variable named by `password_env`, and the \
             server's pg_hba.conf",
        );
    }
    if is(&[S::INVALID_CATALOG_NAME]) {
        return (ErrorCode::InvalidConfig, "check `database`");
    }
    if is(&[S::INSUFFICIENT_PRIVILEGE]) {
        return (
            ErrorCode::InvalidConfig,
            "grant the role SELECT, INSERT and DELETE on the table (and CREATE on the schema \
             for `create_table`)",
        );
    }
    if is(&[S::UNDEFINED_TABLE, S::INVALID_SCHEMA_NAME]) {
        return (
            ErrorCode::InvalidConfig,
            "check `table` and `schema`, or set `create_table` to true",
        );
    }
    if is(&[S::LOCK_NOT_AVAILABLE, S::QUERY_CANCELED]) {
        return (
            ErrorCode::Unavailable,
            "the table was held by another writer, or the server was slow, for longer than \
             `command_timeout_ms`; retry, or raise it",
        );
    }
    if is(&[S::T_R_SERIALIZATION_FAILURE, S::T_R_DEADLOCK_DETECTED]) {
        return (ErrorCode::Conflict, "read the repository again and retry");
    }
    let class = state.code();
    if class.starts_with("08") || class.starts_with("57P") || is(&[S::TOO_MANY_CONNECTIONS]) {
        return (
            ErrorCode::Unavailable,
            "the server is shutting down, starting or overloaded; the next operation connects \
             again",
        );
    }
    if class.starts_with("42") {
        return (ErrorCode::InvalidConfig, SCHEMA_HINT);
    }
    (ErrorCode::Io, "see the server's log")
}

/// Maps a SQLite error raised while `doing` something with the repository at `location`.
pub(crate) fn sqlite(e: &rusqlite::Error, location: &str, doing: &str) -> Error {
    use rusqlite::ErrorCode as C;
    let (code, hint) = match e.sqlite_error_code() {
        Some(C::DatabaseBusy | C::DatabaseLocked) => (
            ErrorCode::Unavailable,
            "another process held the database for longer than `command_timeout_ms`; retry, \
             or raise it",
        ),
        Some(C::CannotOpen | C::PermissionDenied | C::ReadOnly) => (
            ErrorCode::Io,
            "check `path`, and that this user may read and write the file and its directory",
        ),
        Some(C::NotADatabase | C::DatabaseCorrupt) => (
            ErrorCode::CorruptData,
            "`path` is not a sound SQLite database; restore it from a backup",
        ),
        Some(C::DiskFull | C::SystemIoFailure) => (ErrorCode::Io, "check the disk"),
        _ if e.to_string().contains("no such table") => (
            ErrorCode::InvalidConfig,
            "check `table`, or set `create_table` to true",
        ),
        _ if matches!(
            e,
            rusqlite::Error::FromSqlConversionFailure(..) | rusqlite::Error::InvalidColumnType(..)
        ) =>
        {
            (ErrorCode::CorruptData, SCHEMA_HINT)
        }
        _ => (ErrorCode::Io, SCHEMA_HINT),
    };
    error(code, location, doing, e, hint)
}

/// A row whose text is not UTF-8 (SQLite stores whatever a writer gave it).
pub(crate) fn not_text(location: &str, id: i64, column: &str) -> Error {
    Error::new(
        ErrorCode::CorruptData,
        format!(
            "the sql repository {location}: column \"{column}\" of the row with Id {id} is not \
             UTF-8 text; delete that row"
        ),
    )
}

/// The table is missing and `create_table` is off.
pub(crate) fn missing_table(location: &str) -> Error {
    Error::new(
        ErrorCode::InvalidConfig,
        format!(
            "the sql repository {location}: the table does not exist; create it (the .NET \
             application's Entity Framework Core migrations do), or set `create_table` to true"
        ),
    )
}
