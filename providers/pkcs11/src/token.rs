//! Talking to the token: loading the module, finding the token and the key, logging in, and
//! turning PKCS#11 return values into Trousseau error codes.

use std::{
    path::Path,
    sync::{Mutex, MutexGuard},
};

use cryptoki::{
    context::{CInitializeArgs, CInitializeFlags, Pkcs11},
    error::{Error as CkError, RvError},
    object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle},
    session::{Session, UserType},
    slot::Slot,
    types::RawAuthPin,
};
use trousseau_core::{Error, ErrorCode, Interaction, Result, SecretBytes};

use crate::{config::MacMechanism, secret_input::SecretInput};

/// One PKCS#11 library may be initialized once per process; every operation of this crate
/// holds this lock from `C_Initialize` to `C_Finalize`.
static MODULE_LOCK: Mutex<()> = Mutex::new(());

/// An initialized module, finalized on drop.
pub struct Module {
    ctx: Option<Pkcs11>,
    path: String,
    _guard: MutexGuard<'static, ()>,
}

impl std::fmt::Debug for Module {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Module({})", self.path)
    }
}

impl Drop for Module {
    fn drop(&mut self) {
        if let Some(ctx) = self.ctx.take() {
            if let Err(e) = ctx.finalize() {
                tracing::debug!("C_Finalize of {}: {e}", self.path);
            }
        }
    }
}

/// Which token to use.
#[derive(Debug, Clone, Default)]
pub struct TokenSelector {
    /// By serial number (wins).
    pub serial: Option<String>,
    /// By label.
    pub label: Option<String>,
}

/// The token found: its slot, label and serial.
#[derive(Debug, Clone)]
pub struct FoundToken {
    /// The slot holding it.
    pub slot: Slot,
    /// Its label (trimmed).
    pub label: String,
    /// Its serial number (trimmed).
    pub serial: String,
    /// Whether C_Login is needed.
    pub login_required: bool,
    /// Whether the user PIN is locked.
    pub pin_locked: bool,
}

impl Module {
    /// Loads and initializes the module at `path`.
    pub fn open(path: &Path) -> Result<Module> {
        let guard = MODULE_LOCK.lock().unwrap_or_else(|p| p.into_inner());
        let shown = path.display().to_string();
        if !path.exists() {
            return Err(Error::new(
                ErrorCode::InvalidConfig,
                format!("the PKCS#11 module {shown} does not exist; give the path of your token's PKCS#11 library (e.g. /usr/lib/softhsm/libsofthsm2.so)"),
            ));
        }
        let ctx = Pkcs11::new(path).map_err(|e| {
            Error::new(
                ErrorCode::InvalidConfig,
                format!("{shown} is not a PKCS#11 module ({e}); give the path of your token's PKCS#11 library (a shared library exporting C_GetFunctionList)"),
            )
        })?;
        match ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
            Ok(()) | Err(CkError::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
            Err(e) => {
                return Err(Error::new(
                    ErrorCode::Unavailable,
                    format!("the PKCS#11 module {shown} failed to initialize ({e}); check its configuration"),
                ))
            }
        }
        Ok(Module {
            ctx: Some(ctx),
            path: shown,
            _guard: guard,
        })
    }

    fn ctx(&self) -> Result<&Pkcs11> {
        self.ctx
            .as_ref()
            .ok_or_else(|| Error::new(ErrorCode::Internal, "PKCS#11 module already finalized"))
    }

    /// Finds the token by serial or label among the slots that hold one.
    pub fn find_token(&self, want: &TokenSelector) -> Result<FoundToken> {
        let ctx = self.ctx()?;
        let slots = ctx
            .get_slots_with_token()
            .map_err(|e| map_err(e, "listing the token slots"))?;
        let mut seen = Vec::new();
        for slot in slots {
            let Ok(info) = ctx.get_token_info(slot) else {
                continue;
            };
            if !info.token_initialized() {
                continue;
            }
            let label = info.label().trim().to_owned();
            let serial = info.serial_number().trim().to_owned();
            let hit = match (&want.serial, &want.label) {
                (Some(s), _) => *s == serial,
                (None, Some(l)) => *l == label,
                (None, None) => true,
            };
            if hit {
                return Ok(FoundToken {
                    slot,
                    label,
                    serial,
                    login_required: info.login_required(),
                    pin_locked: info.user_pin_locked(),
                });
            }
            seen.push(format!("{label} (serial {serial})"));
        }
        let wanted = match (&want.serial, &want.label) {
            (Some(s), Some(l)) => format!("token {l} (serial {s})"),
            (Some(s), None) => format!("token with serial {s}"),
            (None, Some(l)) => format!("token {l}"),
            (None, None) => "any token".to_owned(),
        };
        let present = if seen.is_empty() {
            "no initialized token is present".to_owned()
        } else {
            format!("present: {}", seen.join(", "))
        };
        Err(Error::new(
            ErrorCode::DeviceAbsent,
            format!(
                "token absent: {wanted} is not present in any slot of {} ({present}); insert it",
                self.path
            ),
        ))
    }

    /// Opens a session on the token and logs in with the PIN from `pin` (or asked via `ui`).
    pub fn login(
        &self,
        token: &FoundToken,
        read_write: bool,
        pin: &SecretInput,
        ui: &dyn Interaction,
    ) -> Result<Session> {
        let ctx = self.ctx()?;
        let session = if read_write {
            ctx.open_rw_session(token.slot)
        } else {
            ctx.open_ro_session(token.slot)
        }
        .map_err(|e| map_err(e, "opening a session"))?;
        if !token.login_required {
            return Ok(session);
        }
        if token.pin_locked {
            return Err(pin_locked(&token.label));
        }
        let prompt = format!("PIN of token {}", token.label);
        let pin: SecretBytes = pin.read(ui, &prompt)?;
        let raw = RawAuthPin::new(Box::new(pin.expose().to_vec()));
        match session.login_with_raw(UserType::User, &raw) {
            Ok(()) | Err(CkError::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => Ok(session),
            Err(CkError::Pkcs11(
                RvError::PinIncorrect | RvError::PinInvalid | RvError::PinLenRange,
                _,
            )) => Err(Error::new(
                ErrorCode::WrongPin,
                format!(
                    "wrong PIN for token {}: the token refused it; mind the remaining attempts",
                    token.label
                ),
            )),
            Err(CkError::Pkcs11(RvError::PinLocked, _)) => Err(pin_locked(&token.label)),
            Err(e) => Err(map_err(e, "logging in")),
        }
    }
}

fn pin_locked(label: &str) -> Error {
    Error::new(
        ErrorCode::PinLocked,
        format!("the user PIN of token {label} is locked; unblock it with the SO PIN (e.g. `pkcs11-tool --init-pin --login --login-type so`)"),
    )
}

/// The key's type for a mechanism.
pub fn key_type_for(mechanism: MacMechanism) -> KeyType {
    match mechanism {
        MacMechanism::HmacSha256 => KeyType::GENERIC_SECRET,
        MacMechanism::AesCmac => KeyType::AES,
    }
}

/// A secret key found on the token, with its label and id.
#[derive(Debug)]
pub struct FoundKey {
    /// The object.
    pub handle: ObjectHandle,
    /// CKA_LABEL.
    pub label: String,
    /// CKA_ID.
    pub id: Vec<u8>,
}

/// Finds the secret key with `id` (if given) or `label`; `None` when there is none. A key of
/// the wrong type for `mechanism` is an error.
pub fn find_key(
    session: &Session,
    label: &str,
    id: Option<&[u8]>,
    mechanism: MacMechanism,
) -> Result<Option<FoundKey>> {
    let mut template = vec![Attribute::Class(ObjectClass::SECRET_KEY)];
    match id {
        Some(id) => template.push(Attribute::Id(id.to_vec())),
        None => template.push(Attribute::Label(label.as_bytes().to_vec())),
    }
    let found = session
        .find_objects(&template)
        .map_err(|e| map_err(e, "searching for the key"))?;
    let what = match id {
        Some(id) => format!("id {}", hex::encode(id)),
        None => format!("label {label:?}"),
    };
    let handle = match found.as_slice() {
        [] => return Ok(None),
        [one] => *one,
        many => {
            return Err(Error::new(
                ErrorCode::InvalidConfig,
                format!(
                    "{} secret keys on the token have {what}; name one by its id (\"key_id\")",
                    many.len()
                ),
            ))
        }
    };
    let attrs = session
        .get_attributes(
            handle,
            &[
                AttributeType::KeyType,
                AttributeType::Label,
                AttributeType::Id,
            ],
        )
        .map_err(|e| map_err(e, "reading the key's attributes"))?;
    let mut key = FoundKey {
        handle,
        label: String::new(),
        id: Vec::new(),
    };
    let want = key_type_for(mechanism);
    for a in attrs {
        match a {
            Attribute::KeyType(t)
                if t != want && !(t == KeyType::SHA256_HMAC && want == KeyType::GENERIC_SECRET) =>
            {
                return Err(Error::new(
                    ErrorCode::InvalidConfig,
                    format!(
                        "the key with {what} is of type {t}, but mechanism {} needs a {want} key; \
                         choose another key label or the matching mechanism",
                        mechanism.as_str()
                    ),
                ))
            }
            Attribute::Label(l) => key.label = String::from_utf8_lossy(&l).into_owned(),
            Attribute::Id(i) => key.id = i,
            _ => {}
        }
    }
    Ok(Some(key))
}

/// Maps an error of creating the key on the token. Besides CKR_DEVICE_MEMORY, tokens report a
/// full (or write-protected) object store as a generic failure: SoftHSM2 returns
/// CKR_FUNCTION_FAILED when its token directory has no space left.
pub fn map_create_err(e: CkError) -> Error {
    match e {
        CkError::Pkcs11(
            RvError::FunctionFailed | RvError::GeneralError | RvError::DeviceError,
            _,
        ) => Error::new(
            ErrorCode::Io,
            format!(
                "the token could not store a new key ({e}); it may be full or write-protected: \
                 delete unused objects from it, use another token, or name an existing key \
                 with key_label/key_id"
            ),
        ),
        e => map_err(e, "creating the key on the token"),
    }
}

/// Maps a PKCS#11 error during `doing` to a Trousseau error.
pub fn map_err(e: CkError, doing: &str) -> Error {
    let code = match &e {
        CkError::Pkcs11(rv, _) => match rv {
            RvError::TokenNotPresent | RvError::DeviceRemoved | RvError::SlotIdInvalid => {
                ErrorCode::DeviceAbsent
            }
            RvError::PinIncorrect | RvError::PinInvalid | RvError::PinLenRange => {
                ErrorCode::WrongPin
            }
            RvError::PinLocked => ErrorCode::PinLocked,
            RvError::UserNotLoggedIn => ErrorCode::NeedsPin,
            RvError::DeviceMemory => {
                return Error::new(
                    ErrorCode::Io,
                    format!("the token is full while {doing} ({e}); delete unused objects from it or use another token"),
                )
            }
            RvError::KeyTypeInconsistent
            | RvError::KeyFunctionNotPermitted
            | RvError::KeySizeRange
            | RvError::MechanismInvalid => ErrorCode::InvalidConfig,
            _ => ErrorCode::Io,
        },
        _ => ErrorCode::Internal,
    };
    Error::new(code, format!("PKCS#11 error while {doing}: {e}"))
}
