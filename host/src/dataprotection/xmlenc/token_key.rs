//! A certificate's private key on a PKCS#11 token (`private_key_pkcs11`, feature `pkcs11`):
//! the RSA key-transport step runs on the token, through the `pkcs11` provider's
//! [`TokenRsaKey`]. Only the content key comes back from the token.

use std::path::Path;

use rsa::{traits::PublicKeyParts, PublicKey};
use trousseau_pkcs11::{RsaDecryption, TokenRsaKey};
use zeroize::Zeroizing;

use super::{certificate::invalid, encrypted_data::Transport};
use crate::{
    config::Pkcs11PrivateKey,
    dataprotection::error::{DataProtectionError, Result},
};

/// The RSA private key of one certificate, on a token.
pub(super) struct TokenKey {
    key: TokenRsaKey,
}

impl TokenKey {
    /// The key `config` names, checked against the public key of the certificate at `path`
    /// (logging in to the token once): a token key with another modulus or exponent is
    /// refused.
    pub(super) fn open(
        path: &Path,
        config: &Pkcs11PrivateKey,
        public: &PublicKey,
        thumbprint: &str,
    ) -> Result<TokenKey> {
        let key = TokenRsaKey::new(config.clone())
            .map_err(|e| invalid(path, format!("private_key_pkcs11: {}", e.message())))?;
        let parts = key
            .public_parts()
            .map_err(|e| invalid(path, format!("private_key_pkcs11: {}", e.message())))?;
        if !parts.matches(&public.n_bytes(), &public.e_bytes()) {
            return Err(invalid(
                path,
                format!(
                    "private_key_pkcs11: the {} is not the private key of certificate {thumbprint} \
                     (its modulus or exponent differs); name the key imported with this \
                     certificate",
                    key.describe()
                ),
            ));
        }
        Ok(TokenKey { key })
    }

    /// `cipher` decrypted by the token; `Ok(None)` for every refusal that may depend on the
    /// ciphertext (bad padding included), reported by the caller as a damaged key.
    pub(super) fn decrypt(
        &self,
        transport: Transport,
        cipher: &[u8],
    ) -> Result<Option<Zeroizing<Vec<u8>>>> {
        let mechanism = match transport {
            Transport::Pkcs1v15 => RsaDecryption::Pkcs1v15,
            Transport::OaepSha1 => RsaDecryption::OaepSha1,
        };
        self.key.decrypt(mechanism, cipher).map_err(|e| {
            DataProtectionError::InvalidInput(format!(
                "the {} cannot be used: {}",
                self.key.describe(),
                e.message()
            ))
        })
    }
}
