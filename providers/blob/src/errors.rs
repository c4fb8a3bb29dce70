//! object_store errors as Trousseau errors that name the repository and say what to do.

use trousseau_core::{Error, ErrorCode};

/// Maps `e`, raised while talking to the blob at `location`; `redact` holds secrets to blank out.
pub(crate) fn map(e: &object_store::Error, location: &str, redact: &[String]) -> Error {
    let mut text = e.to_string();
    for secret in redact.iter().filter(|s| !s.is_empty()) {
        text = text.replace(secret.as_str(), "<redacted>");
    }
    use object_store::Error as E;
    let (code, advice) = match e {
        E::PermissionDenied { .. } | E::Unauthenticated { .. } => (
            ErrorCode::InvalidConfig,
            "check the account, key, SAS token or credentials the configuration names",
        ),
        // The HTTP status as the client prints it ("403 Forbidden"): a bare "403" could be
        // part of a port number or a request id.
        E::Generic { .. }
            if text.contains("401 Unauthorized") || text.contains("403 Forbidden") =>
        {
            (
                ErrorCode::InvalidConfig,
                "check the account, key, SAS token or credentials the configuration names",
            )
        }
        E::NotFound { .. } => (
            ErrorCode::NotFound,
            "check that the container or bucket exists (it is not created automatically)",
        ),
        E::NotSupported { .. } | E::NotImplemented { .. } => (
            ErrorCode::Unsupported,
            "this object store lacks an operation the repository needs",
        ),
        _ => (
            ErrorCode::Unavailable,
            "check that the service is reachable and `endpoint` is right, then retry",
        ),
    };
    Error::new(
        code,
        format!("the blob repository at {location} failed ({text}); {advice}"),
    )
}
