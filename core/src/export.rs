//! The two registration macros: [`export_plugin!`] for a `cdylib`, [`register_builtin!`] for a
//! crate linked into the host.

/// Exports a [`crate::PluginDef`] `static` as this `cdylib`'s plugin root module.
///
/// ```
/// static PLUGIN: trousseau_core::PluginDef = trousseau_core::PluginDef {
///     name: "my-plugin",
///     version: "0.1.0",
///     providers: &[], // ProviderDef { id, summary, config_help, factory }, …
/// };
/// trousseau_core::export_plugin!(PLUGIN);
/// ```
///
/// Use it once per `cdylib`, never in a crate that is also linked into a host (the exported
/// symbol has one fixed name). Every entry point and every trait method is wrapped in
/// `catch_unwind`, so a panic in the plugin becomes an `internal` error instead of ending the
/// host process. The plugin must be built with `panic = "unwind"` (the default).
#[macro_export]
macro_rules! export_plugin {
    ($def:path) => {
        const _: () = {
            use $crate::abi::__private as __p;

            extern "C" fn __trousseau_info() -> __p::RResult<$crate::PluginInfo, $crate::Error> {
                $crate::abi::plugin_info(&$def)
            }

            extern "C" fn __trousseau_create_key_source(
                id: __p::RStr<'_>,
                config: __p::RStr<'_>,
            ) -> __p::RResult<$crate::abi::KeySourceObject, $crate::Error> {
                $crate::abi::create_key_source(&$def, id.as_str(), config.as_str())
            }

            extern "C" fn __trousseau_create_repository(
                id: __p::RStr<'_>,
                config: __p::RStr<'_>,
            ) -> __p::RResult<$crate::abi::RepositoryObject, $crate::Error> {
                $crate::abi::create_repository(&$def, id.as_str(), config.as_str())
            }

            fn __trousseau_root_module() -> $crate::abi::PluginModuleRef {
                use __p::PrefixTypeTrait;
                $crate::abi::PluginModule {
                    info: __trousseau_info,
                    create_key_source: __trousseau_create_key_source,
                    create_repository: __trousseau_create_repository,
                }
                .leak_into_prefix()
            }

            extern "C" fn __trousseau_erased_root_module() -> __p::RootModuleResult {
                __p::__call_root_module_loader(__trousseau_root_module)
            }

            // The symbol abi_stable's loader looks up (abi_stable's `#[export_root_module]`
            // emits the same static; it is written out here so that plugin crates need no
            // direct abi_stable dependency).
            #[unsafe(no_mangle)]
            #[allow(non_upper_case_globals)]
            static _1as_0lib_1header_0root_bmodule_bloader: __p::LibHeader = {
                #[allow(unsafe_code)]
                // SAFETY: the constructor returns the root module of type `PluginModuleRef`.
                unsafe {
                    __p::LibHeader::from_constructor::<$crate::abi::PluginModuleRef>(
                        __trousseau_erased_root_module,
                        __p::CheckTypeLayout::Yes,
                    )
                }
            };
        };
    };
}

/// Registers a [`crate::PluginDef`] `static` as a built-in of any host that links this crate.
///
/// ```
/// static PLUGIN: trousseau_core::PluginDef = trousseau_core::PluginDef {
///     name: "my-builtin",
///     version: "0.1.0",
///     providers: &[],
/// };
/// trousseau_core::register_builtin!(PLUGIN);
///
/// assert!(trousseau_core::builtin_plugins().any(|p| p.name == "my-builtin"));
/// ```
#[macro_export]
macro_rules! register_builtin {
    ($def:path) => {
        $crate::__inventory::submit! { $crate::BuiltinPlugin(&$def) }
    };
}
