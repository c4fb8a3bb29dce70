//! The blob repository's configuration and the object store built from it.

use std::sync::Arc;
use std::time::Duration;

use object_store::aws::AmazonS3Builder;
use object_store::azure::{AzureConfigKey, MicrosoftAzureBuilder};
use object_store::gcp::GoogleCloudStorageBuilder;
use object_store::{BackoffConfig, ClientOptions, ObjectStore, RetryConfig};
use serde::Deserialize;
use trousseau_core::{Error, ErrorCode, Result};
use trousseau_repository_xml::config::{parse, secret_from_env};

/// Azurite's well-known development account (public; see Azure's emulator documentation).
const EMULATOR_ACCOUNT: &str = "devstoreaccount1";
/// Azurite's well-known development key (public; see Azure's emulator documentation).
const EMULATOR_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/// Which object store holds the blob.
#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Service {
    /// Azure Blob Storage (or Azurite).
    Azure,
    /// Amazon S3 or an S3-compatible server.
    S3,
    /// Google Cloud Storage.
    Gcs,
}

/// The configuration (a JSON object; see [`crate::CONFIG_HELP`]).
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct BlobConfig {
    /// The object store.
    pub service: Service,
    /// Container (Azure) or bucket (S3, GCS).
    pub container: String,
    /// The object holding the ring.
    pub blob: String,
    /// Service URL (emulators, S3-compatible servers).
    #[serde(default)]
    pub endpoint: Option<String>,
    /// Azure storage account.
    #[serde(default)]
    pub account: Option<String>,
    /// Environment variable holding the Azure account key.
    #[serde(default)]
    pub access_key_env: Option<String>,
    /// Environment variable holding an Azure SAS token.
    #[serde(default)]
    pub sas_env: Option<String>,
    /// Use Azurite's well-known development account and key.
    #[serde(default)]
    pub emulator: bool,
    /// S3 region.
    #[serde(default)]
    pub region: Option<String>,
    /// Environment variable holding the S3 access key id.
    #[serde(default)]
    pub access_key_id_env: Option<String>,
    /// Environment variable holding the S3 secret access key.
    #[serde(default)]
    pub secret_access_key_env: Option<String>,
    /// Send unsigned requests (public buckets, test servers).
    #[serde(default)]
    pub anonymous: bool,
    /// GCS service-account key file.
    #[serde(default)]
    pub service_account_path: Option<String>,
    /// Per-request timeout in milliseconds.
    #[serde(default = "default_timeout")]
    pub timeout_ms: u64,
    /// Connect timeout in milliseconds.
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout_ms: u64,
    /// The largest blob a read accepts, in bytes (default [`DEFAULT_MAX_RING_BYTES`]).
    #[serde(default = "default_max_ring_bytes")]
    pub max_ring_bytes: u64,
}

/// Default of `max_ring_bytes`: 64 MiB, as the filesystem repository's ring ceiling (a ring's
/// elements are a few KB each).
pub const DEFAULT_MAX_RING_BYTES: u64 = 64 << 20;

fn default_max_ring_bytes() -> u64 {
    DEFAULT_MAX_RING_BYTES
}

fn default_timeout() -> u64 {
    30_000
}

fn default_connect_timeout() -> u64 {
    5_000
}

/// The store and where it points, for messages.
pub(crate) struct Target {
    pub(crate) store: Arc<dyn ObjectStore>,
    pub(crate) location: String,
    /// Secrets that must never appear in a message (a SAS token can show up in a URL).
    pub(crate) redact: Vec<String>,
}

impl BlobConfig {
    /// Parses the JSON configuration.
    pub fn from_json(json: &str) -> Result<Self> {
        parse("blob", json)
    }

    pub(crate) fn target(&self) -> Result<Target> {
        let invalid = |m: String| Error::new(ErrorCode::InvalidConfig, m);
        for (key, value) in [("container", &self.container), ("blob", &self.blob)] {
            if value.trim().is_empty() {
                return Err(invalid(format!(
                    "the blob repository `{key}` is empty: name it"
                )));
            }
        }
        if self.max_ring_bytes == 0 {
            return Err(invalid(format!(
                "the blob repository `max_ring_bytes` is 0: give the largest blob to read in \
                 bytes (default {DEFAULT_MAX_RING_BYTES})"
            )));
        }
        for (key, ms) in [
            ("timeout_ms", self.timeout_ms),
            ("connect_timeout_ms", self.connect_timeout_ms),
        ] {
            if ms == 0 {
                return Err(invalid(format!(
                    "the blob repository `{key}` is 0: give a positive number of milliseconds"
                )));
            }
        }
        let http = self
            .endpoint
            .as_deref()
            .is_some_and(|e| e.starts_with("http://"));
        let client = ClientOptions::new()
            .with_timeout(Duration::from_millis(self.timeout_ms))
            .with_connect_timeout(Duration::from_millis(self.connect_timeout_ms))
            .with_allow_http(http);
        // Fail fast on an unreachable service: a couple of quick retries, not minutes.
        let retry = RetryConfig {
            backoff: BackoffConfig {
                init_backoff: Duration::from_millis(50),
                max_backoff: Duration::from_millis(500),
                base: 2.0,
            },
            max_retries: 2,
            retry_timeout: Duration::from_millis(self.timeout_ms),
        };
        let mut redact = Vec::new();
        let where_ = self
            .endpoint
            .as_deref()
            .map(|e| format!(" at {e}"))
            .unwrap_or_default();
        let built = match self.service {
            Service::Azure => {
                let mut b = MicrosoftAzureBuilder::from_env()
                    .with_container_name(&self.container)
                    .with_client_options(client)
                    .with_retry(retry);
                if self.emulator {
                    b = b
                        .with_account(EMULATOR_ACCOUNT)
                        .with_access_key(EMULATOR_KEY);
                }
                if let Some(account) = &self.account {
                    b = b.with_account(account);
                }
                if let Some(var) = &self.access_key_env {
                    b = b.with_access_key(secret_from_env("blob", "access_key_env", var)?);
                }
                if let Some(var) = &self.sas_env {
                    let sas = secret_from_env("blob", "sas_env", var)?;
                    redact.push(sas.trim_start_matches('?').to_string());
                    b = b.with_config(AzureConfigKey::SasKey, sas);
                }
                if let Some(endpoint) = &self.endpoint {
                    b = b.with_endpoint(endpoint.clone());
                }
                let account = self
                    .account
                    .clone()
                    .or_else(|| self.emulator.then(|| EMULATOR_ACCOUNT.to_string()))
                    .unwrap_or_else(|| "(account from AZURE_STORAGE_ACCOUNT_NAME)".into());
                let location = format!(
                    "azure blob {account}/{}/{}{where_}",
                    self.container, self.blob
                );
                b.build()
                    .map(|s| (Arc::new(s) as Arc<dyn ObjectStore>, location))
            }
            Service::S3 => {
                let mut b = AmazonS3Builder::from_env()
                    .with_bucket_name(&self.container)
                    .with_client_options(client)
                    .with_retry(retry)
                    .with_skip_signature(self.anonymous);
                if let Some(region) = &self.region {
                    b = b.with_region(region);
                }
                if let Some(var) = &self.access_key_id_env {
                    b = b.with_access_key_id(secret_from_env("blob", "access_key_id_env", var)?);
                }
                if let Some(var) = &self.secret_access_key_env {
                    b = b.with_secret_access_key(secret_from_env(
                        "blob",
                        "secret_access_key_env",
                        var,
                    )?);
                }
                if let Some(endpoint) = &self.endpoint {
                    b = b
                        .with_endpoint(endpoint)
                        .with_virtual_hosted_style_request(false);
                }
                let location = format!("s3 object {}/{}{where_}", self.container, self.blob);
                b.build()
                    .map(|s| (Arc::new(s) as Arc<dyn ObjectStore>, location))
            }
            Service::Gcs => {
                let mut b = GoogleCloudStorageBuilder::from_env()
                    .with_bucket_name(&self.container)
                    .with_client_options(client)
                    .with_retry(retry)
                    .with_skip_signature(self.anonymous);
                if let Some(path) = &self.service_account_path {
                    b = b.with_service_account_path(path);
                }
                let location = format!("gcs object {}/{}", self.container, self.blob);
                b.build()
                    .map(|s| (Arc::new(s) as Arc<dyn ObjectStore>, location))
            }
        };
        let (store, location) = built.map_err(|e| {
            invalid(format!(
                "the blob repository configuration is incomplete or invalid: {e}; see `trousseau plugins inspect blob`"
            ))
        })?;
        Ok(Target {
            store,
            location,
            redact,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(json: &str) -> Result<Target> {
        BlobConfig::from_json(json)?.target()
    }

    #[test]
    fn locations_name_the_service_container_and_blob() {
        let t = target(r#"{"service":"azure","container":"c","blob":"keys.xml","emulator":true,"endpoint":"http://127.0.0.1:1/devstoreaccount1"}"#).unwrap();
        assert_eq!(
            t.location,
            "azure blob devstoreaccount1/c/keys.xml at http://127.0.0.1:1/devstoreaccount1"
        );
        let t = target(r#"{"service":"s3","container":"b","blob":"ring/keys.xml","region":"eu-west-1","anonymous":true}"#).unwrap();
        assert_eq!(t.location, "s3 object b/ring/keys.xml");
    }

    #[test]
    fn bad_configuration_is_explained() {
        for (json, needle) in [
            (r#"{"service":"ftp","container":"c","blob":"b"}"#, "ftp"),
            (
                r#"{"service":"s3","container":"","blob":"b"}"#,
                "`container` is empty",
            ),
            (r#"{"service":"s3","container":"c"}"#, "blob"),
            (
                r#"{"service":"s3","container":"c","blob":"b","timeout_ms":0}"#,
                "timeout_ms",
            ),
            (
                r#"{"service":"s3","container":"c","blob":"b","max_ring_bytes":0}"#,
                "max_ring_bytes",
            ),
            (
                r#"{"service":"azure","container":"c","blob":"b","sas_env":"TROUSSEAU_SURELY_UNSET_44"}"#,
                "TROUSSEAU_SURELY_UNSET_44",
            ),
        ] {
            let e = target(json).err().unwrap();
            assert_eq!(e.code(), ErrorCode::InvalidConfig, "{json}");
            assert!(e.message().contains(needle), "{json}: {}", e.message());
        }
    }
}
