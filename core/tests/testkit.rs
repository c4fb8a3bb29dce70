//! The kit tests itself: a small correct repository and key source pass their contracts, and
//! each kind of broken provider fails with a message naming what it broke.
#![cfg(feature = "testkit")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::{collections::HashMap, sync::Mutex};

use trousseau_core::testkit::{
    self, key_source::KeySourceContract, repository::RepositoryContract, Plugin, TempDir,
};
use trousseau_core::*;

// ---- an in-memory repository, shared by every instance made with one configuration ----------

/// How the fixture repository misbehaves, chosen by its configuration.
#[derive(Clone, Copy, PartialEq)]
enum Flaw {
    None,
    IgnoresVersion,
    StoreKeepsVersion,
    DropsNames,
}

/// Each ring's elements and write counter (its version), by ring name.
type Rings = HashMap<String, (Vec<Element>, u64)>;

static RINGS: Mutex<Option<Rings>> = Mutex::new(None);

struct Memory {
    ring: String,
    flaw: Flaw,
}

impl Memory {
    fn with<T>(&self, f: impl FnOnce(&mut (Vec<Element>, u64)) -> T) -> T {
        let mut rings = RINGS.lock().unwrap();
        f(rings
            .get_or_insert_with(HashMap::new)
            .entry(self.ring.clone())
            .or_default())
    }

    fn version(&self, state: &(Vec<Element>, u64)) -> String {
        format!("v{}", state.1)
    }
}

impl Repository for Memory {
    fn describe(&self) -> RepositoryDescription {
        RepositoryDescription::new(
            "memory",
            format!("memory ring {}", self.ring),
            Capabilities::DELETE | Capabilities::CONDITIONAL_STORE,
        )
    }

    fn load(&self) -> Result<Snapshot> {
        self.with(|s| {
            let elements =
                s.0.iter()
                    .map(|e| match self.flaw {
                        Flaw::DropsNames => Element::new("x", e.xml()),
                        _ => e.clone(),
                    })
                    .collect();
            Ok(Snapshot::new(elements, self.version(s)))
        })
    }

    fn store(&self, element: &Element) -> Result<()> {
        self.with(|s| {
            s.0.push(element.clone());
            if self.flaw != Flaw::StoreKeepsVersion {
                s.1 += 1;
            }
        });
        Ok(())
    }

    fn delete(&self, names: &[String]) -> Result<()> {
        self.with(|s| {
            s.0.retain(|e| !names.iter().any(|n| n == e.name()));
            s.1 += 1;
        });
        Ok(())
    }

    fn store_conditional(&self, expected: &str, elements: &[Element]) -> Result<String> {
        self.with(|s| {
            if self.flaw != Flaw::IgnoresVersion && self.version(s) != expected {
                return Err(Error::new(ErrorCode::Conflict, "the ring changed"));
            }
            s.0.extend_from_slice(elements);
            s.1 += 1;
            Ok(self.version(s))
        })
    }
}

fn make_memory(config: &str) -> Result<Box<dyn Repository>> {
    let (flaw, ring) = match config.split_once(':') {
        Some(("ignores-version", r)) => (Flaw::IgnoresVersion, r),
        Some(("counts", r)) => (Flaw::StoreKeepsVersion, r),
        Some(("drops-names", r)) => (Flaw::DropsNames, r),
        Some(("ok", r)) => (Flaw::None, r),
        _ if config.starts_with("panics") => panic!("unexpected configuration"),
        _ => {
            return Err(Error::new(
                ErrorCode::InvalidConfig,
                "expected FLAW:RING, e.g. ok:ring-1",
            ))
        }
    };
    Ok(Box::new(Memory {
        ring: ring.to_string(),
        flaw,
    }))
}

// ---- a key source from a fixed key, or a flawed one ------------------------------------------

struct Fixed {
    flaw: &'static str,
    counter: Mutex<u8>,
}

impl KeySource for Fixed {
    fn describe(&self) -> SourceDescription {
        SourceDescription::new(
            "fixed",
            ComponentKind::Provider,
            SourceFlags::NONE,
            "fixed test key",
        )
    }

    fn enroll(&self, ctx: &DeriveContext, ui: &dyn Interaction) -> Result<Enrollment> {
        let key = self.derive(ctx, ui)?;
        let params = if self.flaw == "leaks" {
            format!("{{\"key\":\"{}\"}}", hex(key.expose()))
        } else {
            "{}".to_string()
        };
        Ok(Enrollment::new(key, params))
    }

    fn derive(&self, ctx: &DeriveContext, ui: &dyn Interaction) -> Result<SecretBytes> {
        let mut key = b"0123456789abcdef0123456789abcdef".to_vec();
        match self.flaw {
            "drifts" => {
                let mut c = self.counter.lock().unwrap();
                *c += 1;
                key[0] = *c;
            }
            "uses-challenge" => key[..2].copy_from_slice(&ctx.challenge()[30..32]),
            "prompts" => {
                ui.request_value("which key?")?;
            }
            "params-panic" if ctx.public_params().starts_with("not") => panic!("bad params"),
            _ => {}
        }
        Ok(SecretBytes::from_vec(key))
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn make_fixed(config: &str) -> Result<Box<dyn KeySource>> {
    let flaw = match config {
        "{\"flaw\":\"none\"}" => "none",
        "{\"flaw\":\"drifts\"}" => "drifts",
        "{\"flaw\":\"uses-challenge\"}" => "uses-challenge",
        "{\"flaw\":\"prompts\"}" => "prompts",
        "{\"flaw\":\"leaks\"}" => "leaks",
        "{\"flaw\":\"params-panic\"}" => "params-panic",
        _ => {
            return Err(Error::new(
                ErrorCode::InvalidConfig,
                "expected {\"flaw\": \"…\"}",
            ))
        }
    };
    Ok(Box::new(Fixed {
        flaw,
        counter: Mutex::new(0),
    }))
}

static PLUGIN: PluginDef = PluginDef {
    name: "testkit-self-test",
    version: "0.1.0",
    providers: &[
        ProviderDef {
            id: "memory",
            summary: "in-memory repository",
            config_help: "FLAW:RING",
            factory: Factory::Repository(make_memory),
        },
        ProviderDef {
            id: "fixed",
            summary: "fixed key",
            config_help: "{\"flaw\": \"…\"}",
            factory: Factory::KeySource(make_fixed),
        },
    ],
};

register_builtin!(PLUGIN);

fn repository() -> RepositoryContract {
    RepositoryContract::new(Plugin::builtin(&PLUGIN), "memory")
}

fn key_source() -> KeySourceContract {
    KeySourceContract::new(Plugin::builtin(&PLUGIN), "fixed")
}

/// A ring name no other test uses.
fn ring(name: &str) -> String {
    let dir = TempDir::new(name);
    dir.path().display().to_string()
}

#[test]
fn a_correct_repository_passes() {
    repository().check(&format!("ok:{}", ring("ok")));
}

#[test]
#[should_panic(expected = "stale version succeeded")]
fn a_conditional_store_that_ignores_the_version_fails() {
    repository().check(&format!("ignores-version:{}", ring("ignores")));
}

#[test]
#[should_panic(expected = "version token did not change after a store")]
fn a_version_that_misses_a_store_fails() {
    repository().check(&format!("counts:{}", ring("counts")));
}

#[test]
#[should_panic(expected = "internal error")]
fn a_factory_that_panics_on_a_bad_configuration_fails() {
    repository()
        .bad_config("panics", ErrorCode::InvalidConfig)
        .check(&format!("ok:{}", ring("panics")));
}

#[test]
#[should_panic(expected = "friendly name did not come back")]
fn lost_names_fail() {
    repository().check(&format!("drops-names:{}", ring("names")));
}

#[test]
fn lost_names_pass_when_opted_out() {
    repository()
        .without(
            testkit::repository::RepositoryCheck::FriendlyNames,
            "the self-test",
        )
        .check(&format!("ok:{}", ring("names-ok")));
}

#[test]
fn a_correct_repository_wins_races_once() {
    // The memory ring is per process: the children race on their own copies, so each wins;
    // this shows the race detects a repository that does not share state across processes.
    testkit::child_process_entry();
    let result = std::panic::catch_unwind(|| {
        repository().check_two_processes(
            &format!("ok:{}", ring("race")),
            "a_correct_repository_wins_races_once",
        )
    });
    let message = result
        .expect_err("processes that share nothing cannot have exactly one winner")
        .downcast::<String>()
        .map(|s| *s)
        .unwrap_or_default();
    assert!(message.contains("exactly one winner"), "{message}");
}

#[test]
fn a_correct_key_source_passes() {
    key_source().check("{\"flaw\":\"none\"}");
}

#[test]
#[should_panic(expected = "other bytes than enroll")]
fn a_drifting_key_source_fails() {
    key_source().check("{\"flaw\":\"drifts\"}");
}

#[test]
#[should_panic(expected = "must ignore the challenge")]
fn a_provider_source_that_answers_the_challenge_fails() {
    key_source().check("{\"flaw\":\"uses-challenge\"}");
}

#[test]
#[should_panic(expected = "does not declare SourceFlags::MIGHT_PROMPT")]
fn an_undeclared_prompt_fails() {
    key_source()
        .interaction(testkit::ScriptedInteraction::new().with_value("that one"))
        .check("{\"flaw\":\"prompts\"}");
}

#[test]
#[should_panic(expected = "public parameters contain the component")]
fn a_component_in_the_public_parameters_fails() {
    key_source().check("{\"flaw\":\"leaks\"}");
}

#[test]
#[should_panic(expected = "internal error")]
fn a_panic_on_garbage_public_parameters_fails() {
    key_source().check("{\"flaw\":\"params-panic\"}");
}
