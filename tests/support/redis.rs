//! A private `redis-server` on a unix socket in a temp dir.

use std::io::{BufRead, BufReader, Read, Write};
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

    /// How many commands the server has executed since it started, summed over every command
    /// in `INFO commandstats` except `INFO` itself (so reading the counter does not move it).
    pub fn command_calls(&self) -> u64 {
        let text = self.command(&["INFO", "commandstats"]);
        text.lines()
            .filter_map(|l| l.strip_prefix("cmdstat_"))
            .filter(|l| !l.starts_with("info:"))
            .filter_map(|l| {
                let calls = l.split_once("calls=")?.1;
                calls.split(',').next()?.parse::<u64>().ok()
            })
            .sum()
    }

    /// Sends one command over RESP and returns its bulk-string or status reply.
    fn command(&self, args: &[&str]) -> String {
        let mut stream = UnixStream::connect(self.socket())
            .unwrap_or_else(|e| panic!("cannot connect to redis at {}: {e}", self.url()));
        let mut request = format!("*{}\r\n", args.len());
        for a in args {
            request.push_str(&format!("${}\r\n{a}\r\n", a.len()));
        }
        if let Some(pw) = &self.password {
            let auth = format!("*2\r\n$4\r\nAUTH\r\n${}\r\n{pw}\r\n", pw.len());
            request.insert_str(0, &auth);
        }
        stream.write_all(request.as_bytes()).expect("redis write");
        let mut reader = BufReader::new(stream);
        let mut line = String::new();
        if self.password.is_some() {
            reader.read_line(&mut line).expect("redis AUTH reply");
            assert!(line.starts_with("+OK"), "redis AUTH failed: {line}");
            line.clear();
        }
        reader.read_line(&mut line).expect("redis reply");
        match line.as_bytes().first() {
            Some(b'$') => {
                let len: usize = line[1..].trim().parse().expect("bulk length");
                let mut body = vec![0u8; len + 2];
                reader.read_exact(&mut body).expect("bulk body");
                body.truncate(len);
                String::from_utf8(body).expect("utf-8 reply")
            }
            Some(b'+') => line[1..].trim_end().to_string(),
            _ => panic!("redis {args:?} failed: {line}"),
        }
    }
}
