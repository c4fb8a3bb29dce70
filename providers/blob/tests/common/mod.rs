//! One private emulator (Azurite or moto) with a fresh container, the repository configuration
//! for it, and raw access to the blob (standing in for an ASP.NET Core node).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use object_store::aws::AmazonS3Builder;
use object_store::azure::MicrosoftAzureBuilder;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use trousseau_blob::{BlobConfig, BlobRepository};
use trousseau_tests::{Azurite, Moto};

pub const BLOB: &str = "ring/keys.xml";

/// Dummy S3 credentials (moto checks no signature, but an unsigned GET of a missing object is
/// answered 403, as S3 does). Set once, before any test starts a server or a thread: every test
/// calls this first, and `Once` holds the others until it is done.
fn s3_credentials() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        std::env::set_var("TROUSSEAU_TEST_S3_ID", "AKIDEXAMPLE");
        std::env::set_var(
            "TROUSSEAU_TEST_S3_SECRET",
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        );
    });
}
pub const CONTAINER: &str = "keys";

enum Server {
    Azurite(Azurite),
    Moto(Moto),
}

pub struct Backend {
    server: Server,
    pub config: String,
    raw: Arc<dyn ObjectStore>,
    rt: tokio::runtime::Runtime,
}

impl Backend {
    pub fn azurite() -> Backend {
        s3_credentials();
        let server = Azurite::start();
        server.create_container(CONTAINER);
        let config = format!(
            r#"{{"service":"azure","container":"{CONTAINER}","blob":"{BLOB}","emulator":true,"endpoint":"{}"}}"#,
            server.endpoint()
        );
        let raw = MicrosoftAzureBuilder::new()
            .with_endpoint(server.endpoint())
            .with_allow_http(true)
            .with_account(trousseau_tests::azurite::ACCOUNT)
            .with_access_key(trousseau_tests::azurite::ACCOUNT_KEY)
            .with_container_name(CONTAINER)
            .build()
            .unwrap();
        Self::new(Server::Azurite(server), config, Arc::new(raw))
    }

    pub fn moto() -> Backend {
        s3_credentials();
        let server = Moto::start();
        server.create_bucket(CONTAINER);
        let config = format!(
            r#"{{"service":"s3","container":"{CONTAINER}","blob":"{BLOB}","region":"us-east-1","access_key_id_env":"TROUSSEAU_TEST_S3_ID","secret_access_key_env":"TROUSSEAU_TEST_S3_SECRET","endpoint":"{}"}}"#,
            server.endpoint()
        );
        let raw = AmazonS3Builder::new()
            .with_endpoint(server.endpoint())
            .with_allow_http(true)
            .with_region("us-east-1")
            .with_bucket_name(CONTAINER)
            .with_access_key_id("AKIDEXAMPLE")
            .with_secret_access_key("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
            .with_virtual_hosted_style_request(false)
            .build()
            .unwrap();
        Self::new(Server::Moto(server), config, Arc::new(raw))
    }

    fn new(server: Server, config: String, raw: Arc<dyn ObjectStore>) -> Backend {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        Backend {
            server,
            config,
            raw,
            rt,
        }
    }

    pub fn repo(&self) -> BlobRepository {
        BlobRepository::new(BlobConfig::from_json(&self.config).unwrap()).unwrap()
    }

    pub fn put_raw(&self, bytes: &[u8]) {
        self.rt
            .block_on(
                self.raw
                    .put(&Path::from(BLOB), PutPayload::from(bytes.to_vec())),
            )
            .unwrap();
    }

    pub fn get_raw(&self) -> Vec<u8> {
        self.rt
            .block_on(async { self.raw.get(&Path::from(BLOB)).await?.bytes().await })
            .unwrap()
            .to_vec()
    }

    pub fn kill(&mut self) {
        match &mut self.server {
            Server::Azurite(s) => s.kill(),
            Server::Moto(s) => s.kill(),
        }
    }

    /// Restarts the emulator on the same port and re-creates the (lost) container.
    pub fn restart(&mut self) {
        match &mut self.server {
            Server::Azurite(s) => {
                s.restart();
                s.create_container(CONTAINER);
            }
            Server::Moto(s) => {
                s.restart();
                s.create_bucket(CONTAINER);
            }
        }
    }
}
