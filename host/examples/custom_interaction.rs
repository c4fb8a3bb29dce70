//! A custom [`Interaction`]: how key sources ask the application for a password or a PIN.
//! A desktop application would show a dialog; this one answers from a secret it holds and
//! logs what the sources say.
//!
//! ```sh
//! cargo run -p trousseau --example custom_interaction -- /tmp/ring-dir
//! ```

use trousseau::{
    providers::{Filesystem, Password},
    Trousseau,
};
use trousseau_core::{Error, ErrorCode, Interaction, MessageLevel, SecretBytes};

/// Answers every password prompt with one secret; refuses anything else.
struct Answers {
    password: &'static str,
}

impl Interaction for Answers {
    fn message(&self, level: MessageLevel, text: &str) {
        eprintln!("[{level:?}] {text}");
    }

    fn request_secret(&self, prompt: &str, _confirm: bool) -> Result<SecretBytes, Error> {
        eprintln!("asked: {prompt}");
        Ok(SecretBytes::copy_from(self.password.as_bytes()))
    }

    fn request_value(&self, prompt: &str) -> Result<String, Error> {
        Err(Error::new(
            ErrorCode::Unavailable,
            format!("this application answers no question like {prompt:?}"),
        ))
    }

    fn confirm(&self, _question: &str, default: bool) -> Result<bool, Error> {
        Ok(default)
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args()
        .nth(1)
        .ok_or("usage: custom_interaction RING_DIRECTORY")?;
    let open = |password| {
        Trousseau::builder()
            .application_name("desktop-app")
            .repository(Filesystem::at(&dir))
            .unlock_with(Password::prompt())
            .interaction(Answers { password })
            .build()
    };
    let tr = open("a long passphrase for the example")?;
    let p = tr.protector("notes");
    let token = p.protect(b"remember the milk")?;
    drop(tr);
    // A second opening asks again; the payload still opens.
    let again = open("a long passphrase for the example")?;
    assert_eq!(
        again.protector("notes").unprotect(&token)?,
        b"remember the milk"
    );
    // The wrong answer opens nothing.
    match open("not the passphrase") {
        Ok(_) => return Err("a wrong password opened the ring".into()),
        Err(e) => eprintln!("wrong password refused: {e}"),
    }
    println!("ok");
    Ok(())
}
