//! Builds a plugin against a *copy* of `trousseau-core` whose `derive` method has a changed
//! signature (an extra `rounds: u32` parameter), the classic third-party mistake of building
//! against the wrong interface. Nothing of it is committed as code: the copy is made from the
//! live `core/` at test time, so it always differs from the host in exactly that one method.

use std::path::{Path, PathBuf};

use crate::workspace;

/// One text edit, which must apply exactly once.
struct Edit {
    file: &'static str,
    anchor: &'static str,
    from: &'static str,
    to: &'static str,
}

const EDITS: &[Edit] = &[
    // The ABI trait: derive gains a parameter.
    Edit {
        file: "core/src/abi/traits.rs",
        anchor: "fn derive<'a>(",
        from: "ui: InteractionRef<'a>,",
        to: "ui: InteractionRef<'a>, rounds: u32,",
    },
    // Its implementation for guarded provider objects.
    Edit {
        file: "core/src/abi/guard.rs",
        anchor: "fn derive<'a>(",
        from: "ui: InteractionRef<'a>,",
        to: "ui: InteractionRef<'a>, _rounds: u32,",
    },
    // Its one caller.
    Edit {
        file: "core/src/abi/handles.rs",
        anchor: "",
        from: "self.object.derive(ctx, ui)",
        to: "self.object.derive(ctx, ui, 0)",
    },
];

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let dest = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &dest);
        } else {
            write_if_changed(&dest, &std::fs::read(entry.path()).unwrap());
        }
    }
}

// Keeps mtimes stable across runs so cargo rebuilds only what changed.
fn write_if_changed(path: &Path, contents: &[u8]) {
    if std::fs::read(path).ok().as_deref() != Some(contents) {
        std::fs::write(path, contents).unwrap();
    }
}

fn apply(ws: &Path, edit: &Edit) {
    let path = ws.join(edit.file);
    let text = std::fs::read_to_string(&path).unwrap();
    let start = text.find(edit.anchor).unwrap_or_else(|| {
        panic!(
            "{}: anchor {:?} not found; update support/incompatible.rs",
            edit.file, edit.anchor
        )
    });
    let at = start
        + text[start..].find(edit.from).unwrap_or_else(|| {
            panic!(
                "{}: {:?} not found; update support/incompatible.rs",
                edit.file, edit.from
            )
        });
    let patched = format!(
        "{}{}{}",
        &text[..at],
        edit.to,
        &text[at + edit.from.len()..]
    );
    write_if_changed(&path, patched.as_bytes());
}

/// Builds the incompatible plugin (the command-source plugin compiled against the edited core
/// copy) and returns the library path. Uses its own workspace and target directory under the
/// test's target directory, reusing the workspace's `Cargo.lock`.
pub fn build() -> PathBuf {
    let root = workspace::root();
    let base = workspace::profile_dir()
        .parent()
        .unwrap()
        .join("fixtures")
        .join("incompatible");
    let ws = base.join("ws");
    copy_dir(&root.join("core"), &ws.join("core"));
    copy_dir(&root.join("plugins/command-source"), &ws.join("plugin"));
    for edit in EDITS {
        apply(&ws, edit);
    }
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    let members_line = manifest
        .lines()
        .find(|l| l.starts_with("members"))
        .expect("workspace members line");
    let manifest = manifest.replace(members_line, "members = [\"core\", \"plugin\"]");
    write_if_changed(&ws.join("Cargo.toml"), manifest.as_bytes());
    write_if_changed(
        &ws.join("Cargo.lock"),
        &std::fs::read(root.join("Cargo.lock")).unwrap(),
    );
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let out = std::process::Command::new(cargo)
        .current_dir(&ws)
        .args([
            "build",
            "--quiet",
            "-p",
            "trousseau-command-source",
            "--target-dir",
        ])
        .arg(base.join("target"))
        .output()
        .expect("run cargo");
    assert!(
        out.status.success(),
        "building the incompatible fixture plugin failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    base.join("target/debug")
        .join(workspace::dylib_name("trousseau_command_source"))
}
