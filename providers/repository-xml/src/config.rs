//! Provider configuration: a JSON object deserialised into the provider's own struct.

use serde::de::DeserializeOwned;
use trousseau_core::{Error, ErrorCode, Result};

/// Parses `json` (an empty string or `null` counts as `{}`) into `T`, or says which provider's
/// configuration was wrong and how.
pub fn parse<T: DeserializeOwned>(provider: &str, json: &str) -> Result<T> {
    let json = json.trim();
    let json = if json.is_empty() || json == "null" {
        "{}"
    } else {
        json
    };
    // serde would read a struct from a JSON array too (`[]` as all defaults): refuse anything
    // but an object, so that a mistaken configuration never silently means the defaults.
    if !json.starts_with('{') {
        return Err(Error::new(
            ErrorCode::InvalidConfig,
            format!(
                "the {provider} repository configuration is not a JSON object ({{\"key\": value, …}}); see `trousseau plugins inspect {provider}` for its keys"
            ),
        ));
    }
    serde_json::from_str(json).map_err(|e| {
        Error::new(
            ErrorCode::InvalidConfig,
            format!(
                "the {provider} repository configuration is invalid: {e}; see `trousseau plugins inspect {provider}` for its keys"
            ),
        )
    })
}

/// Reads the secret held by the environment variable `name`, named in a provider's
/// configuration; says which variable is missing when it is.
pub fn secret_from_env(provider: &str, key: &str, name: &str) -> Result<String> {
    std::env::var(name).map_err(|_| {
        Error::new(
            ErrorCode::InvalidConfig,
            format!(
                "the {provider} repository configuration names environment variable {name} in `{key}`, but it is not set (or not UTF-8); export it or remove `{key}`"
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    struct Conf {
        #[serde(default)]
        url: Option<String>,
    }

    #[test]
    fn empty_is_an_empty_object_and_unknown_keys_are_named() {
        assert_eq!(parse::<Conf>("redis", "").unwrap().url, None);
        let e = parse::<Conf>("redis", r#"{"ulr":"x"}"#).unwrap_err();
        assert_eq!(e.code(), ErrorCode::InvalidConfig);
        assert!(e.message().contains("ulr"), "{}", e.message());
        assert!(e.message().contains("redis"), "{}", e.message());
    }

    #[test]
    fn only_an_object_is_a_configuration() {
        for json in ["[]", "[\"x\"]", "42", "\"url\""] {
            let e = parse::<Conf>("redis", json).unwrap_err();
            assert_eq!(e.code(), ErrorCode::InvalidConfig, "{json}");
            assert!(e.message().contains("not a JSON object"), "{}", e.message());
        }
    }

    #[test]
    fn missing_env_variable_is_named() {
        let e = secret_from_env("redis", "password_env", "TROUSSEAU_SURELY_UNSET_42").unwrap_err();
        assert!(e.message().contains("TROUSSEAU_SURELY_UNSET_42"));
    }
}
