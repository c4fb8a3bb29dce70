//! A private `redis-server` on a unix socket in a temp dir.

use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use crate::Server;

/// A private Redis server; [`Redis::url`] points at it.
#[derive(Debug)]
pub struct Redis {
    dir: tempfile::TempDir,
    server: Option<Server>,
    password: Option<String>,
}

impl Redis {
    /// Starts a server without authentication.
    pub fn start() -> Redis {
        Self::start_with(None)
    }

    /// Starts a server that requires `password` (`requirepass`).
    pub fn start_with_password(password: &str) -> Redis {
        Self::start_with(Some(password.into()))
    }

    fn start_with(password: Option<String>) -> Redis {
        let dir = tempfile::tempdir().expect("cannot create a temp dir");
        let mut redis = Redis {
            dir,
            server: None,
            password,
        };
        redis.restart();
        redis
    }

    /// The socket path.
    pub fn socket(&self) -> PathBuf {
        self.dir.path().join("redis.sock")
    }

    /// `redis+unix:///…/redis.sock` (no credentials).
    pub fn url(&self) -> String {
        format!("redis+unix://{}", self.socket().display())
    }

    /// Kills the server (the socket goes away; data is not persisted).
    pub fn kill(&mut self) {
        if let Some(mut s) = self.server.take() {
            s.kill();
        }
        let _ = std::fs::remove_file(self.socket());
    }

    /// Starts the server again on the same socket (empty, as nothing is persisted).
    pub fn restart(&mut self) {
        self.kill();
        let dir = self.dir.path();
        let mut args: Vec<String> = [
            "--port",
            "0",
            "--unixsocket",
            &self.socket().display().to_string(),
            "--unixsocketperm",
            "700",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            &dir.display().to_string(),
            "--daemonize",
            "no",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        if let Some(pw) = &self.password {
            args.extend(["--requirepass".to_string(), pw.clone()]);
        }
        let mut server = Server::spawn("redis-server", Path::new("redis-server"), &args, dir);
        let socket = self.socket();
        server.wait_ready(|| UnixStream::connect(&socket).is_ok());
        self.server = Some(server);
    }
}
