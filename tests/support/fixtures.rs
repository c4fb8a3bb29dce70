//! Fixture providers for tests and benchmarks: `fixed` (a constant key, the cheapest possible
//! call) and `panicky` (panics where its configuration says).

use trousseau_core::{
    ComponentKind, DeriveContext, Enrollment, Error, ErrorCode, Factory, Interaction, KeySource,
    PluginDef, ProviderDef, SecretBytes, SourceDescription, SourceFlags,
};

/// The fixture plugin (linked into tests, and exported by the `trousseau_fixture_plugin`
/// example as a `.so`).
pub static PLUGIN: PluginDef = PluginDef {
    name: "trousseau-fixtures",
    version: "0.0.1",
    providers: &[
        ProviderDef {
            id: "fixed",
            summary: "a constant 32-byte key (benchmarks and tests only)",
            config_help: "no configuration",
            factory: Factory::KeySource(make_fixed),
        },
        ProviderDef {
            id: "panicky",
            summary: "panics on purpose (tests only)",
            config_help: "{\"panic_in\": \"factory\" | \"describe\" | \"derive\"}",
            factory: Factory::KeySource(make_panicky),
        },
    ],
};

/// The constant key `fixed` returns.
pub const FIXED_KEY: [u8; 32] = *b"fixture key: 32 bytes, constant.";

/// A key source returning [`FIXED_KEY`].
#[derive(Debug)]
pub struct Fixed;

impl KeySource for Fixed {
    fn describe(&self) -> SourceDescription {
        SourceDescription::new("fixed", ComponentKind::Provider, SourceFlags::NONE, "fixed")
    }

    fn enroll(&self, ctx: &DeriveContext, ui: &dyn Interaction) -> Result<Enrollment, Error> {
        Ok(Enrollment::new(self.derive(ctx, ui)?, "{}"))
    }

    fn derive(&self, _ctx: &DeriveContext, _ui: &dyn Interaction) -> Result<SecretBytes, Error> {
        Ok(SecretBytes::copy_from(&FIXED_KEY))
    }
}

fn make_fixed(_config: &str) -> Result<Box<dyn KeySource>, Error> {
    Ok(Box::new(Fixed))
}

struct Panicky {
    panic_in: String,
}

impl KeySource for Panicky {
    #[allow(clippy::panic)]
    fn describe(&self) -> SourceDescription {
        if self.panic_in == "describe" {
            panic!("fixture panic in describe");
        }
        SourceDescription::new(
            "panicky",
            ComponentKind::Provider,
            SourceFlags::NONE,
            "panicky",
        )
    }

    fn enroll(&self, ctx: &DeriveContext, ui: &dyn Interaction) -> Result<Enrollment, Error> {
        Ok(Enrollment::new(self.derive(ctx, ui)?, "{}"))
    }

    #[allow(clippy::panic)]
    fn derive(&self, _ctx: &DeriveContext, _ui: &dyn Interaction) -> Result<SecretBytes, Error> {
        if self.panic_in == "derive" {
            panic!("fixture panic in derive");
        }
        Ok(SecretBytes::copy_from(b"no panic"))
    }
}

#[allow(clippy::panic)]
fn make_panicky(config: &str) -> Result<Box<dyn KeySource>, Error> {
    let value: serde_json::Value = serde_json::from_str(config)
        .map_err(|e| Error::new(ErrorCode::InvalidConfig, e.to_string()))?;
    let panic_in = value["panic_in"].as_str().unwrap_or("").to_string();
    if panic_in == "factory" {
        panic!("fixture panic in factory");
    }
    Ok(Box::new(Panicky { panic_in }))
}
