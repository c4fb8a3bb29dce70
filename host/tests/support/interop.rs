//! What the tests of the forms a key's secret takes at rest (certificate, DPAPI) share: a
//! `<key>` element as ASP.NET Core writes it around any secret element, and a ring opened the
//! way ASP.NET Core's interop form is, with no key protection configured.
#![allow(dead_code, clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use trousseau::{
    dataprotection::timestamp::{days, Timestamp},
    providers::Filesystem,
    Trousseau,
};

/// A key element active now (created three days ago, for 80 more days) with `secret` as its
/// descriptor's secret element.
pub fn key_with_secret(id: &str, secret: &str) -> String {
    let now = Timestamp::now();
    format!(
        r#"<key id="{id}" version="1">
  <creationDate>{}</creationDate>
  <activationDate>{}</activationDate>
  <expirationDate>{}</expirationDate>
  <descriptor deserializerType="Microsoft.AspNetCore.DataProtection.AuthenticatedEncryption.ConfigurationModel.AuthenticatedEncryptorDescriptorDeserializer, Microsoft.AspNetCore.DataProtection, Version=8.0.0.0, Culture=neutral, PublicKeyToken=adb9793829ddae60">
    <descriptor>
      <encryption algorithm="AES_256_CBC" />
      <validation algorithm="HMACSHA256" />
      {secret}
    </descriptor>
  </descriptor>
</key>"#,
        now.plus(-days(3)),
        now.plus(-days(3)),
        now.plus(days(80)),
    )
}

/// A ring with no key protection configured (ASP.NET Core's interop form), opening an existing
/// ring only.
pub fn plain_ring(dir: &Path) -> Trousseau {
    Trousseau::builder()
        .repository(Filesystem::at(dir))
        .application_name("shop")
        .interop(true)
        .create_if_missing(false)
        .build()
        .unwrap()
}

/// The key files (`key-*.xml`) of the ring directory `dir`, sorted.
pub fn key_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("key-"))
        .collect();
    v.sort();
    v
}
