//! A child process owned by a test: output captured in its temp dir, killed on drop.

use std::fs::File;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A free loopback TCP port (bound then released; servers bind it right after).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("cannot bind a loopback port")
        .port()
}

/// A running server process.
#[derive(Debug)]
pub struct Server {
    name: String,
    child: Option<Child>,
    log: PathBuf,
}

impl Server {
    /// Starts `program` with `args`, output to `dir/<name>.log`. Panics (naming the install
    /// script) when the program does not exist.
    pub fn spawn(name: &str, program: &Path, args: &[String], dir: &Path) -> Server {
        Self::spawn_as(name, program, args, dir, None)
    }

    /// [`Server::spawn`], run as the user and group `owner` (uid, gid) when given: for servers
    /// that refuse to run as root (PostgreSQL) when the tests do.
    pub fn spawn_as(
        name: &str,
        program: &Path,
        args: &[String],
        dir: &Path,
        owner: Option<(u32, u32)>,
    ) -> Server {
        if !program.exists() && which(program).is_none() {
            panic!(
                "{name}: {} not found; {}",
                program.display(),
                crate::INSTALL_HINT
            );
        }
        let log = dir.join(format!("{name}.log"));
        let out = File::create(&log).expect("cannot create the server log");
        let err = out.try_clone().expect("cannot dup the server log");
        let mut command = Command::new(program);
        command
            .args(args)
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err);
        #[cfg(unix)]
        if let Some((uid, gid)) = owner {
            use std::os::unix::process::CommandExt;
            command.uid(uid).gid(gid);
        }
        #[cfg(not(unix))]
        let _ = owner;
        let child = command.spawn().unwrap_or_else(|e| {
            panic!(
                "{name}: cannot start {}: {e}; {}",
                program.display(),
                crate::INSTALL_HINT
            )
        });
        Server {
            name: name.into(),
            child: Some(child),
            log,
        }
    }

    /// Waits (up to 30 s) until `ready` holds; panics with the server's output when it exits
    /// or does not get ready.
    pub fn wait_ready(&mut self, mut ready: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if ready() {
                return;
            }
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    panic!(
                        "{} exited ({status}) before it was ready:\n{}",
                        self.name,
                        self.output()
                    );
                }
            }
            if Instant::now() > deadline {
                panic!("{} was not ready after 30 s:\n{}", self.name, self.output());
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// Waits until something accepts TCP connections on `127.0.0.1:port`.
    pub fn wait_for_port(&mut self, port: u16) {
        self.wait_ready(|| TcpStream::connect(("127.0.0.1", port)).is_ok());
    }

    /// Kills the server (SIGKILL) and reaps it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Asks the server to stop with `signal` (a name for `kill -s`, e.g. `INT`), waits up to
    /// 30 s for it to exit, then kills it (SIGKILL) if it has not.
    pub fn stop(&mut self, signal: &str) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let _ = Command::new("kill")
            .args(["-s", signal, &child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
    }

    /// What the server printed so far.
    pub fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

fn which(program: &Path) -> Option<PathBuf> {
    if program.components().count() > 1 {
        return None;
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(program))
            .find(|p| p.is_file())
    })
}

/// A server on a free loopback port with its own temp dir, that can be killed and started again
/// on the same port. `launch` starts the program and waits until it answers.
#[derive(Debug)]
pub struct PortService {
    dir: tempfile::TempDir,
    server: Server,
    port: u16,
    launch: fn(u16, &Path) -> Server,
}

impl PortService {
    /// Picks a free port and a temp dir and launches the server there.
    pub fn start(launch: fn(u16, &Path) -> Server) -> PortService {
        let dir = tempfile::tempdir().expect("cannot create a temp dir");
        let port = free_port();
        let server = launch(port, dir.path());
        PortService {
            dir,
            server,
            port,
            launch,
        }
    }

    /// Kills the server and launches it again on the same port.
    pub fn restart(&mut self) {
        self.server.kill();
        self.server = (self.launch)(self.port, self.dir.path());
    }

    /// Kills the server.
    pub fn kill(&mut self) {
        self.server.kill();
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }
}
