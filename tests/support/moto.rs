//! A private moto server (S3) on a free loopback port.

use std::path::PathBuf;

use crate::azurite::home;
use crate::{free_port, http, Server};

/// A running moto server.
#[derive(Debug)]
pub struct Moto {
    _dir: tempfile::TempDir,
    server: Server,
    port: u16,
}

impl Moto {
    /// Starts `moto_server` from the venv `$TROUSSEAU_VENV` (default `~/.cache/trousseau/venv`).
    pub fn start() -> Moto {
        let dir = tempfile::tempdir().expect("cannot create a temp dir");
        let port = free_port();
        let server = Self::spawn(port, dir.path());
        Moto {
            _dir: dir,
            server,
            port,
        }
    }

    /// Starts the server again on the same port (empty).
    pub fn restart(&mut self) {
        self.server.kill();
        self.server = Self::spawn(self.port, self._dir.path());
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
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Kills the server (its data is lost).
    pub fn kill(&mut self) {
        self.server.kill();
    }

    /// Creates `bucket` (moto checks no signature); panics unless 200.
    pub fn create_bucket(&self, bucket: &str) {
        let (status, response) = http::request(self.port, "PUT", &format!("/{bucket}"), &[]);
        assert_eq!(
            status, 200,
            "moto refused to create bucket {bucket}:\n{response}"
        );
    }
}
