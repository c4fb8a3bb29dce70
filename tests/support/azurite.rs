//! A private Azurite (Azure Blob emulator), in memory, on a free loopback port.

use std::path::PathBuf;
use std::time::SystemTime;

use base64::Engine as _;
use hmac::{KeyInit, Mac};

use crate::{http, server::PortService, Server};

/// The emulator's well-known development account.
pub const ACCOUNT: &str = "devstoreaccount1";
/// The emulator's well-known (public) development account key.
pub const ACCOUNT_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/// A running Azurite blob service.
#[derive(Debug)]
pub struct Azurite {
    service: PortService,
}

impl Azurite {
    /// Starts `azurite-blob` from `$TROUSSEAU_NODE` (default `~/.cache/trousseau/node`).
    pub fn start() -> Azurite {
        Azurite {
            service: PortService::start(Self::spawn),
        }
    }

    /// Starts it again on the same port (empty: it keeps nothing).
    pub fn restart(&mut self) {
        self.service.restart();
    }

    fn spawn(port: u16, dir: &std::path::Path) -> Server {
        let node = std::env::var_os("TROUSSEAU_NODE")
            .map(PathBuf::from)
            .unwrap_or_else(|| home().join(".cache/trousseau/node"));
        let program = node.join("node_modules/.bin/azurite-blob");
        let args = [
            "--blobHost",
            "127.0.0.1",
            "--blobPort",
            &port.to_string(),
            "--inMemoryPersistence",
            "--disableTelemetry",
            "--silent",
        ]
        .map(String::from);
        let mut server = Server::spawn("azurite-blob", &program, &args, dir);
        server.wait_for_port(port);
        server
    }

    /// The blob endpoint (path style, account included).
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}/{ACCOUNT}", self.service.port())
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.service.port()
    }

    /// Kills the emulator (its in-memory data is lost).
    pub fn kill(&mut self) {
        self.service.kill();
    }

    /// Creates `container` with one SharedKey-signed REST call; panics unless 201 Created.
    pub fn create_container(&self, container: &str) {
        let date = httpdate::fmt_http_date(SystemTime::now());
        let version = "2021-08-06";
        let to_sign = format!(
            "PUT\n{}x-ms-date:{date}\nx-ms-version:{version}\n/{ACCOUNT}/{ACCOUNT}/{container}\nrestype:container",
            "\n".repeat(11)
        );
        let key = base64::engine::general_purpose::STANDARD
            .decode(ACCOUNT_KEY)
            .expect("dev key is base64");
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&key).expect("any key length");
        mac.update(to_sign.as_bytes());
        let signature =
            base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
        let (status, response) = http::request(
            self.service.port(),
            "PUT",
            &format!("/{ACCOUNT}/{container}?restype=container"),
            &[
                ("x-ms-date".into(), date),
                ("x-ms-version".into(), version.into()),
                (
                    "Authorization".into(),
                    format!("SharedKey {ACCOUNT}:{signature}"),
                ),
            ],
        );
        assert_eq!(
            status, 201,
            "Azurite refused to create container {container}:\n{response}"
        );
    }
}

pub(crate) fn home() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/root"))
}
