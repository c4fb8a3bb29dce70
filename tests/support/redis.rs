//! A private `redis-server` on a unix socket in a temp dir; optionally also on a TLS loopback
//! port with a certificate from a private CA made for the run.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use crate::{free_port, Server};

/// A private Redis server; [`Redis::url`] points at it.
#[derive(Debug)]
pub struct Redis {
    dir: tempfile::TempDir,
    server: Option<Server>,
    password: Option<String>,
    tls_port: Option<u16>,
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

    /// Starts a server that also serves TLS on a free loopback port ([`Redis::tls_url`]), with
    /// a certificate for `localhost` and 127.0.0.1 signed by a private CA ([`Redis::ca_file`]).
    /// Needs the `openssl` command.
    pub fn start_tls() -> Redis {
        let dir = tempfile::tempdir().expect("cannot create a temp dir");
        make_certificates(dir.path());
        let mut redis = Redis {
            dir,
            server: None,
            password: None,
            tls_port: Some(free_port()),
        };
        redis.restart();
        redis
    }

    fn start_with(password: Option<String>) -> Redis {
        let dir = tempfile::tempdir().expect("cannot create a temp dir");
        let mut redis = Redis {
            dir,
            server: None,
            password,
            tls_port: None,
        };
        redis.restart();
        redis
    }

    /// `rediss://localhost:PORT/0` (servers from [`Redis::start_tls`] only).
    pub fn tls_url(&self) -> String {
        let port = self
            .tls_port
            .expect("not a TLS server: use Redis::start_tls");
        format!("rediss://localhost:{port}/0")
    }

    /// The PEM certificate of the private CA that signed the TLS server's certificate.
    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
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
        if let Some(port) = self.tls_port {
            let file = |name: &str| dir.join(name).display().to_string();
            args.extend([
                "--tls-port".to_string(),
                port.to_string(),
                "--bind".to_string(),
                "127.0.0.1".to_string(),
                "--tls-cert-file".to_string(),
                file("server.pem"),
                "--tls-key-file".to_string(),
                file("server.key"),
                "--tls-ca-cert-file".to_string(),
                file("ca.pem"),
                "--tls-auth-clients".to_string(),
                "no".to_string(),
            ]);
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

    /// The type of `key` (`list`, `string`, … or `none` when it does not exist).
    pub fn key_type(&self, key: &str) -> String {
        self.command(&["TYPE", key])
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

/// A CA (`ca.pem`) and a server certificate for `localhost` / 127.0.0.1 signed by it
/// (`server.pem`, `server.key`) in `dir`, made with the `openssl` command.
fn make_certificates(dir: &Path) {
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n\
         keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
    )
    .expect("write server.ext");
    let steps: [&[&str]; 3] = [
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=trousseau test CA",
        ],
        &[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=localhost",
        ],
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.pem",
            "-days",
            "2",
            "-extfile",
            "server.ext",
        ],
    ];
    for args in steps {
        let out = std::process::Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .unwrap_or_else(|e| {
                panic!("cannot run openssl ({e}); install it: .ci/install.d/repositories.sh")
            });
        assert!(
            out.status.success(),
            "openssl {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
