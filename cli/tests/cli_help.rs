// Unix only: bash and groff, and the support module's process groups.
#![cfg(unix)]
//! Help, shell completions and manual pages: the key ring's options only on the commands that
//! use a key ring, under their own heading; completion scripts that a shell accepts and that
//! complete; manual pages that render without a warning.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "support/cli.rs"]
mod cli;

use std::process::Command;

use cli::Home;

/// The option names (`--repository`, `-v`) a help text lists, by section heading.
fn sections(help: &str) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for line in help.lines() {
        if !line.starts_with(' ') && line.ends_with(':') {
            out.push((line.trim_end_matches(':').to_string(), Vec::new()));
            continue;
        }
        let Some((_, options)) = out.last_mut() else {
            continue;
        };
        let item = line.trim_start();
        // An option line starts (after the indent) with `-x, --long` or `--long`.
        if line.starts_with("  ") && item.starts_with('-') {
            let names = item.split("  ").next().unwrap();
            for name in names.split([',', ' ']) {
                if name.starts_with('-') {
                    let name = name.split(['=', '<', '.']).next().unwrap();
                    options.push(name.to_string());
                }
            }
        }
    }
    out
}

/// The short help of `args` (`trousseau ARGS… -h`: one line per option).
fn help(home: &Home, args: &[&str]) -> String {
    let mut all = args.to_vec();
    all.push("-h");
    home.ok(&all)
}

/// The options listed under `heading` in the help of `args`.
fn options_under(home: &Home, args: &[&str], heading: &str) -> Vec<String> {
    sections(&help(home, args))
        .into_iter()
        .filter(|(h, _)| h == heading)
        .flat_map(|(_, o)| o)
        .collect()
}

/// Every option of the help of `args`, whatever its heading.
fn all_options(home: &Home, args: &[&str]) -> Vec<String> {
    sections(&help(home, args))
        .into_iter()
        .flat_map(|(_, o)| o)
        .collect()
}

#[test]
fn key_ring_options_show_only_on_commands_that_use_a_key_ring_under_their_own_heading() {
    let home = Home::new();
    for args in [
        &["keyfile", "create"][..],
        &["keyfile", "inspect"],
        &["completions"],
        &["man"],
        &["plugins", "list"],
        &["plugins", "inspect"],
        &["keepass", "verify"],
        &["user-account", "export"],
    ] {
        let options = all_options(&home, args);
        assert!(
            options.contains(&"--help".to_string()),
            "{args:?}: {options:?}"
        );
        for flag in ["--repository", "--unlock"] {
            assert!(
                !options.contains(&flag.to_string()),
                "{args:?} lists {flag}"
            );
        }
        assert!(
            !help(&home, args).contains("Key ring:"),
            "{args:?} has a key ring section"
        );
    }
    for args in [
        &["init"][..],
        &["protect"],
        &["unprotect"],
        &["keys"],
        &["keys", "list"],
        &["keys", "delete"],
        &["master-key", "status"],
        &["master-key", "change"],
        &[],
    ] {
        let ring = options_under(&home, args, "Key ring");
        assert_eq!(ring, ["--repository", "--unlock"], "{args:?}");
        let elsewhere: Vec<String> = sections(&help(&home, args))
            .into_iter()
            .filter(|(h, _)| h != "Key ring")
            .flat_map(|(_, o)| o)
            .collect();
        assert!(
            !elsewhere.contains(&"--repository".to_string()),
            "{args:?}: {elsewhere:?}"
        );
    }
}

#[test]
fn key_ring_options_go_before_or_after_the_command_name_but_only_where_a_ring_is_used() {
    let home = Home::new();
    let dir = home.path("ring");
    let spec = format!("filesystem:directory={}", dir.display());
    // Before the command name, after it, and after a group's command: the same ring.
    let out = home.run(&["--repository", &spec, "protect", "one"], None);
    assert!(out.status.success(), "{out:?}");
    assert!(dir.is_dir());
    let payload = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        home.ok(&["unprotect", "--repository", &spec, payload.trim()]),
        "one"
    );
    assert!(
        home.ok(&["keys", "list", "--repository", &spec])
            .lines()
            .count()
            == 2
    );
    assert!(
        home.ok(&["keys", "--repository", &spec, "list"])
            .lines()
            .count()
            == 2
    );

    // A command that uses no key ring refuses them, saying so, before or after its name.
    let out = home.run(&["--repository", &spec, "keyfile", "inspect", "/k"], None);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("`trousseau keyfile` does not use one, so leave --repository out"),
        "{err}"
    );
    let out = home.run(&["keyfile", "inspect", "--unlock", "password", "/k"], None);
    assert_eq!(out.status.code(), Some(2));
    // Twice is refused too.
    let other = format!("filesystem:directory={}", home.path("other").display());
    let out = home.run(
        &[
            "--repository",
            &spec,
            "protect",
            "--repository",
            &other,
            "x",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--repository is given twice"));
}

/// `bash -c SCRIPT` with the bash completion script sourced first; returns stdout.
fn in_bash_with_completions(home: &Home, script: &str) -> String {
    let completions = home.path("trousseau.bash");
    std::fs::write(&completions, home.ok(&["completions", "bash"])).unwrap();
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "set -u; source {}\n{script}",
            completions.display()
        ))
        .output()
        .expect("bash is needed by this test");
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).unwrap()
}

/// What bash completes for the words of `line` (the last one being completed), through the
/// function `complete -p trousseau` names.
fn complete(home: &Home, line: &[&str]) -> Vec<String> {
    let words = line
        .iter()
        .map(|w| format!("'{w}'"))
        .collect::<Vec<_>>()
        .join(" ");
    let script = format!(
        r#"spec=$(complete -p trousseau)
function=$(printf '%s\n' "$spec" | sed -n 's/.* -F \([^ ]*\) .*/\1/p')
[ -n "$function" ] || {{ echo "no completion function in: $spec" >&2; exit 1; }}
COMP_WORDS=({words})
COMP_CWORD=$(( ${{#COMP_WORDS[@]}} - 1 ))
COMP_LINE="${{COMP_WORDS[*]}}"
COMP_POINT=${{#COMP_LINE}}
"$function" trousseau "${{COMP_WORDS[COMP_CWORD]}}" "${{COMP_WORDS[COMP_CWORD-1]}}"
printf '%s\n' "${{COMPREPLY[@]}}""#
    );
    in_bash_with_completions(home, &script)
        .lines()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .collect()
}

#[test]
fn bash_completion_is_valid_and_completes_commands_and_options() {
    let home = Home::new();
    let script = home.ok(&["completions", "bash"]);
    let file = home.path("trousseau.bash");
    std::fs::write(&file, &script).unwrap();
    let out = Command::new("bash").arg("-n").arg(&file).output().unwrap();
    assert!(out.status.success(), "bash -n: {out:?}");

    assert_eq!(complete(&home, &["trousseau", "mas"]), ["master-key"]);
    assert_eq!(
        complete(&home, &["trousseau", "master-key", "ch"]),
        ["change"]
    );
    assert_eq!(
        complete(&home, &["trousseau", "keys", "list", "--repo"]),
        ["--repository"]
    );
    // No key ring options where no key ring is used.
    assert!(complete(&home, &["trousseau", "keyfile", "create", "--re"]).is_empty());
}

#[test]
fn completion_scripts_exist_for_zsh_fish_and_powershell() {
    let home = Home::new();
    for (shell, marker) in [
        ("zsh", "#compdef trousseau"),
        ("fish", "complete -c trousseau"),
        ("powershell", "Register-ArgumentCompleter"),
    ] {
        let script = home.ok(&["completions", shell]);
        assert!(script.contains(marker), "{shell}: {script}");
        assert!(script.contains("master-key"), "{shell}");
    }
    let out = home.run(&["completions", "tcsh"], None);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn manual_pages_are_written_for_every_command_and_render_without_warnings() {
    let home = Home::new();
    let dir = home.path("man/man1");
    let out = home.run(&["man", "--out-dir", dir.to_str().unwrap()], None);
    assert!(out.status.success(), "{out:?}");
    let mut pages: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    pages.sort();
    for page in [
        "trousseau.1",
        "trousseau-protect.1",
        "trousseau-master-key.1",
        "trousseau-master-key-change.1",
        "trousseau-keys-list.1",
        "trousseau-user-account-export.1",
        "trousseau-completions.1",
    ] {
        assert!(
            pages.contains(&page.to_string()),
            "{page} missing: {pages:?}"
        );
    }
    assert!(!pages.iter().any(|p| p.contains("help")), "{pages:?}");
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains(&format!("wrote {} manual pages to", pages.len())),
        "{said}"
    );
    for page in &pages {
        let path = dir.join(page);
        let out = Command::new("groff")
            .args(["-man", "-Tutf8", "-ww", "-z"])
            .arg(&path)
            .output()
            .expect("groff is needed by this test (.ci/install.d/manpages.sh)");
        assert!(out.status.success(), "{page}: {out:?}");
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            "",
            "groff warns on {page}"
        );
    }
    // The page of a command holds its options: the key ring's on master-key change.
    let change = std::fs::read_to_string(dir.join("trousseau-master-key-change.1")).unwrap();
    assert!(change.contains("repository"), "{change}");
    assert!(change.is_ascii());
}
