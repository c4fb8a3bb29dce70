//! A `<key>` element as ASP.NET Core writes it, around any secret element: for tests of the
//! forms a key's secret can take at rest (certificate, DPAPI).

use trousseau::dataprotection::timestamp::{days, Timestamp};

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
