//! A private PostgreSQL server (Debian's `postgresql` packages) in a temp dir, reached on a
//! unix socket only (`listen_addresses` empty), with password authentication (SCRAM) for the
//! superuser `postgres`.
//!
//! PostgreSQL refuses to run as root. When the tests run as root (CI), `initdb` and `postgres`
//! run as `nobody`, which then owns the temp dir; root reaches the socket whatever its mode.

use std::path::PathBuf;
use std::process::Command;

use crate::Server;

/// The port: with no TCP listener it only names the socket (`.s.PGSQL.5432`) in the private
/// directory, so every instance can use the default.
const PORT: u16 = 5432;

/// A private PostgreSQL server; stopped (fast shutdown) when dropped.
#[derive(Debug)]
pub struct Postgres {
    dir: tempfile::TempDir,
    bin: PathBuf,
    owner: Option<(u32, u32)>,
    server: Option<Server>,
}

impl Postgres {
    /// The password of the superuser `postgres`.
    pub const PASSWORD: &'static str = "trousseau-test-pg-password";
    /// The superuser.
    pub const USER: &'static str = "postgres";

    /// Makes a cluster (`initdb`) and starts the server. Panics, naming the install script,
    /// when PostgreSQL is not installed or does not start.
    pub fn start() -> Postgres {
        let bin = bin_dir();
        let dir = tempfile::tempdir().expect("cannot create a temp dir");
        let owner = unprivileged_owner();
        let password_file = dir.path().join("password");
        std::fs::write(&password_file, Self::PASSWORD).expect("write the password file");
        #[cfg(unix)]
        if let Some((uid, gid)) = owner {
            for path in [dir.path(), &password_file] {
                std::os::unix::fs::chown(path, Some(uid), Some(gid))
                    .expect("cannot give the temp dir to nobody");
            }
        }
        let data = dir.path().join("data");
        let mut initdb = Command::new(bin.join("initdb"));
        initdb
            .arg("-D")
            .arg(&data)
            .args(["-U", Self::USER, "--auth=scram-sha-256", "-E", "UTF8"])
            .arg(format!("--pwfile={}", password_file.display()))
            .args(["--locale=C", "--no-sync"])
            .current_dir(dir.path());
        #[cfg(unix)]
        if let Some((uid, gid)) = owner {
            use std::os::unix::process::CommandExt;
            initdb.uid(uid).gid(gid);
        }
        let out = initdb.output().unwrap_or_else(|e| {
            panic!(
                "postgresql: cannot run initdb: {e}; {}",
                crate::INSTALL_HINT
            )
        });
        assert!(
            out.status.success(),
            "postgresql: initdb failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let mut postgres = Postgres {
            dir,
            bin,
            owner,
            server: None,
        };
        postgres.start_again();
        postgres
    }

    /// The unix-socket directory (the `host` setting of a client).
    pub fn socket_dir(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    /// The port that names the socket.
    pub fn port(&self) -> u16 {
        PORT
    }

    /// Starts the server (again) on the same cluster and socket, and waits until it accepts
    /// connections.
    pub fn start_again(&mut self) {
        self.stop();
        let dir = self.dir.path();
        let args: Vec<String> = [
            "-D",
            &dir.join("data").display().to_string(),
            "-k",
            &dir.display().to_string(),
            "-p",
            &PORT.to_string(),
            "-c",
            "listen_addresses=",
            "-c",
            "shared_buffers=16MB",
            "-c",
            "max_connections=60",
            // Data safety across an OS crash does not matter here.
            "-F",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let mut server = Server::spawn_as(
            "postgres",
            &self.bin.join("postgres"),
            &args,
            dir,
            self.owner,
        );
        let ready = self.bin.join("pg_isready");
        server.wait_ready(|| {
            Command::new(&ready)
                .args([
                    "-q",
                    "-h",
                    &dir.display().to_string(),
                    "-p",
                    &PORT.to_string(),
                ])
                .status()
                .is_ok_and(|s| s.success())
        });
        self.server = Some(server);
    }

    /// Stops the server (fast shutdown: clients are disconnected, work is rolled back).
    pub fn stop(&mut self) {
        if let Some(mut server) = self.server.take() {
            server.stop("INT");
        }
    }

    /// Runs `sql` in `database` with `psql` as the superuser and returns what it printed
    /// (unaligned, tuples only); panics with psql's message when it fails.
    pub fn psql(&self, database: &str, sql: &str) -> String {
        let out = Command::new(self.bin.join("psql"))
            .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"])
            .args(["-h", &self.dir.path().display().to_string()])
            .args(["-p", &PORT.to_string(), "-U", Self::USER, "-d", database])
            .args(["-c", sql])
            .env("PGPASSWORD", Self::PASSWORD)
            .output()
            .expect("cannot run psql");
        assert!(
            out.status.success(),
            "psql {sql:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Creates database `name` (a plain identifier).
    pub fn create_database(&self, name: &str) {
        self.psql("postgres", &format!("CREATE DATABASE \"{name}\""));
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The directory of the newest installed PostgreSQL's programs (`/usr/lib/postgresql/N/bin`),
/// or `$TROUSSEAU_PG_BINDIR`.
fn bin_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("TROUSSEAU_PG_BINDIR") {
        return PathBuf::from(dir);
    }
    let newest = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let version: u32 = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .max();
    match newest {
        Some((_, bin)) => bin,
        None => panic!(
            "postgresql: no /usr/lib/postgresql/<version>/bin/initdb (or $TROUSSEAU_PG_BINDIR); {}",
            crate::INSTALL_HINT
        ),
    }
}

/// `nobody`'s uid and gid when this process runs as root (PostgreSQL refuses root), else
/// `None` (run as ourselves).
fn unprivileged_owner() -> Option<(u32, u32)> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        // /proc/self belongs to the effective user.
        let root = std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0);
        if !root {
            return None;
        }
        let passwd = std::fs::read_to_string("/etc/passwd").expect("cannot read /etc/passwd");
        let line = passwd
            .lines()
            .find(|l| l.starts_with("nobody:"))
            .expect("running as root, PostgreSQL needs another user: no `nobody` in /etc/passwd");
        let fields: Vec<&str> = line.split(':').collect();
        let id = |i: usize| fields.get(i).and_then(|f| f.parse().ok());
        Some((id(2).expect("nobody's uid"), id(3).expect("nobody's gid")))
    }
    #[cfg(not(unix))]
    None
}
