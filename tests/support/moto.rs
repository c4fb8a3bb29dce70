//! A private moto server (S3) on a free loopback port.

use std::path::PathBuf;

use crate::azurite::home;
use crate::{http, server::PortService, Server};

/// A running moto server.
#[derive(Debug)]
pub struct Moto {
    service: PortService,
}

impl Moto {
    /// Starts `moto_server` from the venv `$TROUSSEAU_VENV` (default `~/.cache/trousseau/venv`).
    pub fn start() -> Moto {
        Moto {
            service: PortService::start(Self::spawn),
        }
    }

    /// Starts it again on the same port (empty: it keeps nothing).
    pub fn restart(&mut self) {
        self.service.restart();
    }

    fn spawn(port: u16, dir: &std::path::Path) -> Server {
        let venv = std::env::var_os("TROUSSEAU_VENV")
            .map(PathBuf::from)
            .unwrap_or_else(|| home().join(".cache/trousseau/venv"));
        let args = ["-H", "127.0.0.1", "-p", &port.to_string()].map(String::from);
        let mut server = Server::spawn("moto_server", &venv.join("bin/moto_server"), &args, dir);
        server.wait_for_port(port);
        server
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.service.port())
    }

    /// Kills the server (its data is lost).
    pub fn kill(&mut self) {
        self.service.kill();
    }

    /// Creates `bucket` (moto checks no signature); panics unless 200.
    pub fn create_bucket(&self, bucket: &str) {
        let (status, response) =
            http::request(self.service.port(), "PUT", &format!("/{bucket}"), &[]);
        assert_eq!(
            status, 200,
            "moto refused to create bucket {bucket}:\n{response}"
        );
    }
}
