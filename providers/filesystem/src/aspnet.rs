//! Where ASP.NET Core keeps its key ring when the application configures no repository, so
//! that `aspnet_default = true` shares that ring with the .NET applications of this machine.
//!
//! ASP.NET Core (`XmlKeyManager`'s fallback, `DefaultKeyStorageDirectories`) tries, in order:
//! 1. **Azure App Service**: `WEBSITE_INSTANCE_ID` and `HOME` both set and non-empty:
//!    `%HOME%\ASP.NET\DataProtection-Keys`.
//! 2. **The user profile**:
//!    - on Windows, the known folder `LocalApplicationData` when it resolves:
//!      `…\AppData\Local\ASP.NET\DataProtection-Keys`;
//!    - else `LOCALAPPDATA` when set: `%LOCALAPPDATA%\ASP.NET\DataProtection-Keys`;
//!    - else `USERPROFILE` when set: `%USERPROFILE%\AppData\Local\ASP.NET\DataProtection-Keys`;
//!    - else `HOME` when set: `$HOME/.aspnet/DataProtection-Keys` (the Unix convention);
//!    - else, on other systems, .NET's `LocalApplicationData` (`$XDG_DATA_HOME`):
//!      `$XDG_DATA_HOME/ASP.NET/DataProtection-Keys`.
//! 3. **IIS without a profile** (Windows): the registry key
//!    `HKLM\SOFTWARE\Microsoft\ASP.NET\4.0.30319.0\AutoGenKeys\{SID}\DataProtection`, which
//!    belongs to the registry repository, not to this one.
//! 4. Otherwise keys live in memory only and nothing can be shared.
//!
//! ASP.NET also drops a profile directory it cannot create; here a directory that cannot be
//! created is the repository's usual error, which names it.

use std::{ffi::OsString, path::PathBuf};

/// The folder name ASP.NET Core uses under every base directory.
const KEYS_FOLDER: &str = "DataProtection-Keys";

/// The rule of [`resolve`] that chose the directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// `WEBSITE_INSTANCE_ID` and `HOME` are set: Azure App Service.
    AzureAppService,
    /// Windows' `LocalApplicationData` known folder.
    LocalAppDataFolder,
    /// The `LOCALAPPDATA` variable.
    LocalAppDataVariable,
    /// The `USERPROFILE` variable.
    UserProfile,
    /// The `HOME` variable, Unix convention.
    Home,
    /// .NET's `LocalApplicationData` on systems other than Windows (`XDG_DATA_HOME`).
    XdgDataHome,
}

impl Rule {
    /// Which of ASP.NET Core's rules applied, in words.
    pub fn describe(self) -> &'static str {
        match self {
            Rule::AzureAppService => "Azure App Service: WEBSITE_INSTANCE_ID and HOME are set",
            Rule::LocalAppDataFolder => "user profile: Windows' LocalApplicationData folder",
            Rule::LocalAppDataVariable => "user profile: LOCALAPPDATA",
            Rule::UserProfile => "user profile: USERPROFILE, with LOCALAPPDATA unset",
            Rule::Home => "user profile: HOME, with LOCALAPPDATA and USERPROFILE unset",
            Rule::XdgDataHome => "user profile: XDG_DATA_HOME, with HOME unset",
        }
    }
}

/// What ASP.NET Core would use on a machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AspNetDefault {
    /// A directory, and the rule that chose it.
    Directory {
        /// The key-ring directory.
        path: PathBuf,
        /// Why this one.
        rule: Rule,
    },
    /// Windows without a user profile: IIS's registry key (the registry repository's).
    Registry,
    /// No location: ASP.NET would keep its keys in memory only.
    InMemory,
}

/// The facts [`resolve`] reads: the platform, the environment and Windows' known folder.
pub struct Machine<'a> {
    /// Whether this is Windows (rules 2 and 3 differ there).
    pub windows: bool,
    /// An environment variable's value (`None` when unset).
    pub var: &'a dyn Fn(&str) -> Option<OsString>,
    /// Windows' `LocalApplicationData` known folder, when it resolves.
    pub local_app_data_folder: Option<PathBuf>,
}

impl std::fmt::Debug for Machine<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Machine")
            .field("windows", &self.windows)
            .field("local_app_data_folder", &self.local_app_data_folder)
            .finish_non_exhaustive()
    }
}

impl Machine<'_> {
    /// This process on this machine.
    pub fn current(var: &dyn Fn(&str) -> Option<OsString>) -> Machine<'_> {
        Machine {
            windows: cfg!(windows),
            var,
            // The known folder is what LOCALAPPDATA names in a loaded profile; reading the
            // variable keeps this crate free of shell APIs, and rule 2's variable branch gives
            // the same directory.
            local_app_data_folder: None,
        }
    }
}

/// The location ASP.NET Core would choose on `machine`.
pub fn resolve(machine: &Machine<'_>) -> AspNetDefault {
    let var = |name: &str| (machine.var)(name);
    let set = |name: &str| var(name).filter(|v| !v.is_empty());
    let under = |base: PathBuf, rule| AspNetDefault::Directory {
        path: base.join("ASP.NET").join(KEYS_FOLDER),
        rule,
    };
    if let (Some(_), Some(home)) = (set("WEBSITE_INSTANCE_ID"), set("HOME")) {
        return under(PathBuf::from(home), Rule::AzureAppService);
    }
    if machine.windows {
        if let Some(folder) = machine.local_app_data_folder.clone() {
            return under(folder, Rule::LocalAppDataFolder);
        }
    }
    if let Some(local) = var("LOCALAPPDATA") {
        return under(PathBuf::from(local), Rule::LocalAppDataVariable);
    }
    if let Some(profile) = var("USERPROFILE") {
        let base = PathBuf::from(profile).join("AppData").join("Local");
        return under(base, Rule::UserProfile);
    }
    if let Some(home) = var("HOME") {
        return AspNetDefault::Directory {
            path: PathBuf::from(home).join(".aspnet").join(KEYS_FOLDER),
            rule: Rule::Home,
        };
    }
    if machine.windows {
        return AspNetDefault::Registry;
    }
    match set("XDG_DATA_HOME").map(PathBuf::from) {
        Some(data) if data.is_absolute() => under(data, Rule::XdgDataHome),
        _ => AspNetDefault::InMemory,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn on(windows: bool, vars: &[(&str, &str)], folder: Option<&str>) -> AspNetDefault {
        let env: HashMap<String, OsString> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), OsString::from(v)))
            .collect();
        let var = move |name: &str| env.get(name).cloned();
        resolve(&Machine {
            windows,
            var: &var,
            local_app_data_folder: folder.map(PathBuf::from),
        })
    }

    fn dir(path: &[&str], rule: Rule) -> AspNetDefault {
        AspNetDefault::Directory {
            path: path.iter().collect(),
            rule,
        }
    }

    #[test]
    fn azure_app_service_takes_home_when_website_instance_id_is_set() {
        let vars = [
            ("WEBSITE_INSTANCE_ID", "a1b2"),
            ("HOME", "/home"),
            ("LOCALAPPDATA", "/local"),
        ];
        let expected = dir(
            &["/home", "ASP.NET", "DataProtection-Keys"],
            Rule::AzureAppService,
        );
        assert_eq!(on(false, &vars, None), expected);
        assert_eq!(on(true, &vars, Some("/folder")), expected);
        // An empty instance id or HOME is not App Service.
        let vars = [("WEBSITE_INSTANCE_ID", ""), ("HOME", "/home")];
        assert_eq!(
            on(false, &vars, None),
            dir(&["/home", ".aspnet", "DataProtection-Keys"], Rule::Home)
        );
        let vars = [
            ("WEBSITE_INSTANCE_ID", "a1b2"),
            ("HOME", ""),
            ("USERPROFILE", "/u"),
        ];
        assert_eq!(
            on(false, &vars, None),
            dir(
                &["/u", "AppData", "Local", "ASP.NET", "DataProtection-Keys"],
                Rule::UserProfile
            )
        );
    }

    #[test]
    fn windows_known_folder_comes_before_the_variables_and_only_on_windows() {
        let vars = [("LOCALAPPDATA", "/env-local"), ("HOME", "/h")];
        assert_eq!(
            on(true, &vars, Some("/known")),
            dir(
                &["/known", "ASP.NET", "DataProtection-Keys"],
                Rule::LocalAppDataFolder
            )
        );
        assert_eq!(
            on(false, &vars, Some("/known")),
            dir(
                &["/env-local", "ASP.NET", "DataProtection-Keys"],
                Rule::LocalAppDataVariable
            )
        );
    }

    #[test]
    fn profile_variables_in_asp_net_order() {
        let all = [
            ("LOCALAPPDATA", "/l"),
            ("USERPROFILE", "/u"),
            ("HOME", "/h"),
        ];
        assert_eq!(
            on(true, &all, None),
            dir(
                &["/l", "ASP.NET", "DataProtection-Keys"],
                Rule::LocalAppDataVariable
            )
        );
        assert_eq!(
            on(true, &all[1..], None),
            dir(
                &["/u", "AppData", "Local", "ASP.NET", "DataProtection-Keys"],
                Rule::UserProfile
            )
        );
        assert_eq!(
            on(false, &all[2..], None),
            dir(&["/h", ".aspnet", "DataProtection-Keys"], Rule::Home)
        );
    }

    #[test]
    fn without_a_profile_windows_means_the_registry_and_unix_xdg_or_memory() {
        assert_eq!(on(true, &[], None), AspNetDefault::Registry);
        assert_eq!(
            on(true, &[("XDG_DATA_HOME", "/x")], None),
            AspNetDefault::Registry
        );
        assert_eq!(
            on(false, &[("XDG_DATA_HOME", "/x")], None),
            dir(&["/x", "ASP.NET", "DataProtection-Keys"], Rule::XdgDataHome)
        );
        assert_eq!(
            on(false, &[("XDG_DATA_HOME", "rel")], None),
            AspNetDefault::InMemory
        );
        assert_eq!(on(false, &[], None), AspNetDefault::InMemory);
    }
}
