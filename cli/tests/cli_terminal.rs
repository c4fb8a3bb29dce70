//! The prompts as a person sees them: each command runs on a real pseudo-terminal (its
//! controlling terminal, so that prompts go to `/dev/tty` as they do for people), the test
//! types as a person would, and asserts on what the screen shows: the prompt texts, no echo
//! of a password, the error after a wrong password, success after the right one. A
//! pseudo-terminal that cannot be made fails the test.
#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, unsafe_code)]

#[path = "support/cli.rs"]
mod cli;

use std::{
    fs::File,
    io::{Read, Write},
    os::fd::{AsRawFd, FromRawFd, OwnedFd},
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use cli::Home;

/// How long a screen may take to show what is expected (the KDFs are calibrated to 0.1 s).
const PATIENCE: Duration = Duration::from_secs(60);

/// A command running on a pseudo-terminal, and everything it has written to the screen.
struct Screen {
    child: Child,
    master: File,
    /// The terminal side, kept to read its settings (whether echo is on).
    slave: OwnedFd,
    seen: Arc<Mutex<Vec<u8>>>,
    /// How much of `seen` the last [`Screen::expect`] consumed.
    mark: usize,
}

/// A new pseudo-terminal pair; panics (the test fails) when none can be made.
fn openpty() -> (OwnedFd, OwnedFd) {
    let (mut master, mut slave) = (-1, -1);
    // SAFETY: openpty writes two descriptors; the name, termios and winsize may be null.
    let rc = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    assert_eq!(
        rc,
        0,
        "cannot create a pseudo-terminal: {}",
        std::io::Error::last_os_error()
    );
    // SAFETY: both descriptors were just opened and are owned by nobody else.
    unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) }
}

impl Screen {
    /// Starts `trousseau ARGS` in `home` with the pseudo-terminal as its controlling
    /// terminal and standard streams.
    fn start(home: &Home, args: &[&str]) -> Screen {
        let (master, slave) = openpty();
        let stdio = || Stdio::from(slave.try_clone().unwrap());
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_trousseau"));
        cmd.args(args)
            .env("HOME", home.dir.path())
            .env("XDG_DATA_HOME", home.path("data"))
            .env("XDG_CONFIG_HOME", home.path("cfg"))
            .env("TROUSSEAU_UNLOCK_TIME", "0.1")
            .env("TERM", "dumb")
            .env_remove("TROUSSEAU_CONFIG")
            .env_remove("TROUSSEAU_PLUGIN_PATH")
            .env_remove("TROUSSEAU_ALLOW_WEAK_PASSWORD")
            .stdin(stdio())
            .stdout(stdio())
            .stderr(stdio());
        // SAFETY: setsid and ioctl are async-signal-safe; they make the pseudo-terminal (the
        // child's standard input) its controlling terminal.
        unsafe {
            std::os::unix::process::CommandExt::pre_exec(&mut cmd, || {
                if libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd.spawn().expect("cannot start trousseau");
        let master = File::from(master);
        let seen = Arc::new(Mutex::new(Vec::new()));
        let mut reader = master.try_clone().unwrap();
        let sink = seen.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            // Ends with EIO once the child and every other holder of the terminal side are
            // gone.
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        Screen {
            child,
            master,
            slave,
            seen,
            mark: 0,
        }
    }

    /// Everything shown so far, as text.
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.seen.lock().unwrap()).to_string()
    }

    /// Waits until the screen shows `what` after what was already consumed; returns the
    /// screen up to and including it.
    fn expect(&mut self, what: &str) -> String {
        let start = Instant::now();
        loop {
            let text = self.text();
            if let Some(at) = text[self.mark.min(text.len())..].find(what) {
                self.mark += at + what.len();
                return text[..self.mark].to_string();
            }
            if start.elapsed() > PATIENCE {
                panic!("the screen never showed {what:?}; it shows:\n{text}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Whether the terminal echoes what is typed.
    fn echo(&self) -> bool {
        // SAFETY: termios is plain data; tcgetattr fills it for the open terminal side.
        let mut t: libc::termios = unsafe { std::mem::zeroed() };
        // SAFETY: as above.
        assert_eq!(
            unsafe { libc::tcgetattr(self.slave.as_raw_fd(), &mut t) },
            0
        );
        t.c_lflag & libc::ECHO != 0
    }

    /// Types a secret at the prompt `prompt`: waits for the prompt and for echo to be off
    /// (typing earlier would be echoed, or flushed when echo goes off), then the line.
    fn type_secret(&mut self, prompt: &str, secret: &str) {
        self.expect(prompt);
        let start = Instant::now();
        while self.echo() {
            assert!(
                start.elapsed() < PATIENCE,
                "echo never went off at {prompt:?}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        self.master
            .write_all(format!("{secret}\r").as_bytes())
            .unwrap();
    }

    /// Answers a question that shows `prompt`.
    fn answer(&mut self, prompt: &str, answer: &str) {
        self.expect(prompt);
        self.master
            .write_all(format!("{answer}\r").as_bytes())
            .unwrap();
    }

    /// Waits for the command to end; returns its exit code and the whole screen.
    fn finish(mut self) -> (Option<i32>, String) {
        let start = Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if start.elapsed() > PATIENCE {
                let _ = self.child.kill();
                panic!(
                    "the command did not end; the screen shows:\n{}",
                    self.text()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        // Let the reader take what the child wrote last.
        std::thread::sleep(Duration::from_millis(200));
        (status.code(), self.text())
    }
}

const FIRST: &str = "tulip Cobalt 93 orbit; wander-glass";
const SECOND: &str = "seven quiet Otters 41 rowing north";

fn assert_no_secret(screen: &str) {
    for secret in [FIRST, SECOND, "sunshine", "not the password"] {
        assert!(!screen.contains(secret), "{secret:?} was echoed:\n{screen}");
    }
}

#[test]
fn init_add_slot_change_and_unprotect_on_a_terminal() {
    let home = Home::new();
    let place = format!("key ring {}", home.ring().display());

    // init: the password, asked twice; its strength is said.
    let mut s = Screen::start(&home, &["init", "--source", "password"]);
    s.type_secret(&format!("Password for {place}: "), FIRST);
    s.type_secret(&format!("Repeat password for {place}: "), FIRST);
    let (code, screen) = s.finish();
    assert_eq!(code, Some(0), "{screen}");
    assert!(screen.contains("new password strength: strong"), "{screen}");
    assert!(screen.contains("created a new key ring"), "{screen}");
    assert_no_secret(&screen);

    // add-slot: the current and the new password in different words; a weak new password is
    // said to be weak and used only once confirmed.
    let mut s = Screen::start(&home, &["master-key", "add-slot", "--source", "password"]);
    s.type_secret(&format!("Current master password for {place}: "), FIRST);
    s.type_secret(&format!("New master password for {place}: "), "sunshine");
    s.type_secret(
        &format!("Repeat new master password for {place}: "),
        "sunshine",
    );
    s.expect("the new password is very weak");
    s.answer("Use this weak password anyway? [y/N] ", "y");
    let (code, screen) = s.finish();
    assert_eq!(code, Some(0), "{screen}");
    assert!(screen.contains("added master-key slot"), "{screen}");
    assert_no_secret(&screen);

    // change: the plan, a confirmation, then the new password.
    let mut s = Screen::start(&home, &["master-key", "change"]);
    s.type_secret(&format!("Current master password for {place}: "), FIRST);
    s.expect("plan: replace master-key slot");
    s.answer("Proceed? [y/N] ", "y");
    s.type_secret(&format!("New master password for {place}: "), SECOND);
    s.type_secret(&format!("Repeat new master password for {place}: "), SECOND);
    let (code, screen) = s.finish();
    assert_eq!(code, Some(0), "{screen}");
    assert!(screen.contains("the new slot"), "{screen}");
    assert_no_secret(&screen);

    // unprotect: a wrong password fails and says so; the right one opens the payload.
    let payload = {
        std::fs::write(home.path("pw"), format!("{SECOND}\n")).unwrap();
        let pw = home.path("pw");
        home.ok(&[
            "protect",
            "--password-file",
            pw.to_str().unwrap(),
            "on the screen",
        ])
    };
    let mut s = Screen::start(&home, &["unprotect", payload.trim()]);
    s.type_secret(&format!("Password for {place}: "), "not the password");
    let (code, screen) = s.finish();
    assert_eq!(code, Some(1), "{screen}");
    assert!(
        screen.contains("error: no master-key slot opens"),
        "{screen}"
    );
    assert!(screen.contains("wrong key"), "{screen}");
    assert_no_secret(&screen);
    let mut s = Screen::start(&home, &["unprotect", payload.trim()]);
    s.type_secret(&format!("Password for {place}: "), SECOND);
    let (code, screen) = s.finish();
    assert_eq!(code, Some(0), "{screen}");
    assert!(screen.contains("on the screen"), "{screen}");
    assert!(!screen.contains("error"), "{screen}");
    assert_no_secret(&screen);
}
