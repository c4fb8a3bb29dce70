//! Certificate-protected keys (ASP.NET Core's `ProtectKeysWithCertificate`) checked against an
//! independent XML Encryption implementation, `xmlsec1`: it decrypts the keys Trousseau writes
//! and encrypts keys Trousseau reads (RSA PKCS#1 v1.5 and RSA-OAEP key transport, AES-256-CBC).
//! Certificates are made by the `openssl` command. Also: key rotation to a new certificate
//! while old keys stay readable, configuration files with PEM and PKCS#12, and tampered
//! encrypted forms. Needs `.ci/install.d/dataprotection.sh`; fails if xmlsec1 or openssl is
//! missing. With feature `pkcs11`, also the private key on a PKCS#11 token (`token`), which
//! needs SoftHSM2 and OpenSC (`.ci/install.d/hwsources.sh`) and fails without them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::{
    path::{Path, PathBuf},
    process::Command,
    sync::Arc,
};

use base64::Engine;
use trousseau::{
    dataprotection::{
        at_rest::KeyEncryption,
        keyring::{Key, MasterKeySecret},
        keyxml,
        manager::KeyManager,
        xmlenc::{Certificate, CertificateKeys},
        xmltree,
    },
    providers::Filesystem,
    Config, Trousseau,
};
use trousseau_core::SecretBytes;

#[path = "support/certificates.rs"]
mod certificates;
#[path = "support/interop.rs"]
mod interop;
use interop::{key_files, key_with_secret, plain_ring};

const INSTALL: &str = ".ci/install.d/dataprotection.sh";
const DECRYPTOR: &str = "Microsoft.AspNetCore.DataProtection.XmlEncryption.EncryptedXmlDecryptor, Microsoft.AspNetCore.DataProtection, Version=8.0.0.0, Culture=neutral, PublicKeyToken=adb9793829ddae60";

fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(b)
}

fn unb64(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}

/// Runs a tool of the test environment; a missing tool fails the test.
fn run(program: &str, args: &[&str], dir: &Path) -> String {
    let out = Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program} ({e}): run {INSTALL}"));
    assert!(
        out.status.success(),
        "{program} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A self-signed RSA-2048 certificate `name.crt` with `name.key`, `name.pem` (both) and
/// `name.pfx` (password `pfx-password`) in `dir`.
fn make_certificate(dir: &Path, name: &str) -> PathBuf {
    let (crt, key) = (format!("{name}.crt"), format!("{name}.key"));
    certificates::self_signed(dir, name);
    let pem = std::fs::read_to_string(dir.join(&crt)).unwrap()
        + &std::fs::read_to_string(dir.join(&key)).unwrap();
    std::fs::write(dir.join(format!("{name}.pem")), pem).unwrap();
    run(
        "openssl",
        &[
            "pkcs12",
            "-export",
            "-in",
            &crt,
            "-inkey",
            &key,
            "-out",
            &format!("{name}.pfx"),
            "-passout",
            "pass:pfx-password",
        ],
        dir,
    );
    dir.join(format!("{name}.pem"))
}

fn load(pem: &Path) -> Certificate {
    Certificate::load(pem, None, "").unwrap()
}

fn xmlsec1(args: &[&str], dir: &Path) -> String {
    run("xmlsec1", args, dir)
}

/// The `xmlsec1 encrypt` template: what ASP.NET Core's EncryptedXml writes, with `transport`
/// as the key transport method (its inner elements included).
fn template(transport: &str) -> String {
    format!(
        r#"<EncryptedData Type="http://www.w3.org/2001/04/xmlenc#Element" xmlns="http://www.w3.org/2001/04/xmlenc#">
  <EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#aes256-cbc" />
  <KeyInfo xmlns="http://www.w3.org/2000/09/xmldsig#">
    <EncryptedKey xmlns="http://www.w3.org/2001/04/xmlenc#">
      {transport}
      <KeyInfo xmlns="http://www.w3.org/2000/09/xmldsig#">
        <X509Data><X509Certificate/></X509Data>
      </KeyInfo>
      <CipherData><CipherValue/></CipherData>
    </EncryptedKey>
  </KeyInfo>
  <CipherData><CipherValue/></CipherData>
</EncryptedData>"#
    )
}

const RSA_1_5: &str =
    r#"<EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#rsa-1_5" />"#;

fn master_key_xml(master: &[u8]) -> String {
    format!(
        "<masterKey p4:requiresEncryption=\"true\" xmlns:p4=\"http://schemas.asp.net/2015/03/dataProtection\"><!-- Warning: the key below is in an unencrypted form. --><value>{}</value></masterKey>",
        b64(master)
    )
}

/// `master` encrypted by xmlsec1 for `cert` (a PEM certificate) with `transport`.
fn xmlsec1_encrypt(dir: &Path, cert: &Path, master: &[u8], transport: &str) -> String {
    std::fs::write(dir.join("template.xml"), template(transport)).unwrap();
    std::fs::write(dir.join("plain.xml"), master_key_xml(master)).unwrap();
    let cert = cert.with_extension("crt");
    xmlsec1(
        &[
            "encrypt",
            "--pubkey-cert-pem",
            cert.to_str().unwrap(),
            "--session-key",
            "aes-256",
            "--xml-data",
            "plain.xml",
            "--output",
            "encrypted.xml",
            "template.xml",
        ],
        dir,
    );
    let out = std::fs::read_to_string(dir.join("encrypted.xml")).unwrap();
    out.trim_start_matches("<?xml version=\"1.0\"?>")
        .trim()
        .to_string()
}

fn encrypted_secret(encrypted_data: &str) -> String {
    format!(
        "<encryptedSecret decryptorType=\"{DECRYPTOR}\" xmlns=\"http://schemas.asp.net/2015/03/dataProtection\">{encrypted_data}</encryptedSecret>"
    )
}

/// The configuration of a filesystem ring in `dir` for application `shop` with the
/// `[key_protection]` settings `key_protection`.
fn ring_config(dir: &Path, key_protection: &str) -> Config {
    let text = format!(
        "[repository]\nprovider = \"filesystem\"\ndirectory = \"{}\"\n\
         [data_protection]\napplication_name = \"shop\"\n[key_protection]\n{key_protection}",
        dir.display()
    );
    Config::parse(&text, Path::new("(test)")).unwrap()
}

fn ring(dir: &Path, keys: CertificateKeys) -> Trousseau {
    Trousseau::builder()
        .repository(Filesystem::at(dir))
        .application_name("shop")
        .protect_keys_with(Arc::new(keys))
        .build()
        .unwrap()
}

/// The master key of every key in the ring, as the ring's protection opens it.
fn master_keys(manager: &KeyManager) -> Vec<(uuid::Uuid, Result<SecretBytes, String>)> {
    manager
        .keys()
        .unwrap()
        .iter()
        .map(|k| {
            let d = k.key.descriptor.as_ref().unwrap();
            let secret = manager
                .protection()
                .open_secret(&k.key, d)
                .map_err(|e| e.to_string());
            (k.key.id, secret)
        })
        .collect()
}

/// A copy of `key_xml` with its `<encryptedSecret>` replaced by the plain `<masterKey>`, in a
/// fresh interop ring directory: a payload of the key then unprotects there only if `master`
/// really is the key's master key.
fn plain_copy(key_xml: &str, master: &[u8], dir: &Path) {
    let start = key_xml.find("<encryptedSecret").unwrap();
    let end = key_xml.find("</encryptedSecret>").unwrap() + "</encryptedSecret>".len();
    let plain = format!(
        "{}{}{}",
        &key_xml[..start],
        master_key_xml(master),
        &key_xml[end..]
    );
    let id = keyxml::parse_key(&xmltree::parse(&plain).unwrap())
        .unwrap()
        .id;
    std::fs::write(dir.join(format!("key-{id}.xml")), plain).unwrap();
}

#[test]
fn xmlsec1_decrypts_what_trousseau_writes() {
    let certs = tempfile::tempdir().unwrap();
    let a = make_certificate(certs.path(), "a");
    let d = tempfile::tempdir().unwrap();
    let tr = ring(d.path(), CertificateKeys::new(load(&a), vec![]));
    let payload = tr.protector("cookies").protect(b"for .NET").unwrap();
    let files = key_files(d.path());
    assert_eq!(files.len(), 1);
    let xml = std::fs::read_to_string(&files[0]).unwrap();
    // The form ASP.NET Core's CertificateXmlEncryptor writes.
    for expected in [
        "<encryptedSecret decryptorType=\"Microsoft.AspNetCore.DataProtection.XmlEncryption.EncryptedXmlDecryptor, Microsoft.AspNetCore.DataProtection, Version=",
        "xmlns=\"http://schemas.asp.net/2015/03/dataProtection\">\n        <EncryptedData Type=\"http://www.w3.org/2001/04/xmlenc#Element\" xmlns=\"http://www.w3.org/2001/04/xmlenc#\">",
        "<EncryptionMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#aes256-cbc\" />",
        "<KeyInfo xmlns=\"http://www.w3.org/2000/09/xmldsig#\">\n            <EncryptedKey xmlns=\"http://www.w3.org/2001/04/xmlenc#\">",
        "<EncryptionMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#rsa-1_5\" />",
        &format!("<X509Certificate>{}</X509Certificate>", b64(load(&a).der())),
    ] {
        assert!(xml.contains(expected), "{expected} not in\n{xml}");
    }
    assert!(!xml.contains("<value>"), "the secret is in clear:\n{xml}");

    // xmlsec1 decrypts the EncryptedData to the <masterKey> element.
    let key_pem = a.with_extension("key");
    let cert_pem = a.with_extension("crt");
    let key_arg = format!("{},{}", key_pem.display(), cert_pem.display());
    xmlsec1(
        &[
            "decrypt",
            "--privkey-pem",
            &key_arg,
            "--trusted-pem",
            cert_pem.to_str().unwrap(),
            "--output",
            "decrypted.xml",
            files[0].to_str().unwrap(),
        ],
        certs.path(),
    );
    let decrypted = std::fs::read_to_string(certs.path().join("decrypted.xml")).unwrap();
    let start = decrypted
        .find("<masterKey")
        .expect("no <masterKey> decrypted");
    let end = decrypted.find("</masterKey>").unwrap() + "</masterKey>".len();
    let element = xmltree::parse(&decrypted[start..end]).unwrap();
    assert_eq!(
        element.attr("requiresEncryption"),
        Some("true"),
        "{decrypted}"
    );
    let value = unb64(&element.child("value").unwrap().text);
    let ours = master_keys(tr.key_manager());
    assert_eq!(ours.len(), 1);
    assert_eq!(ours[0].1.as_ref().unwrap().expose(), value.as_slice());
    assert_eq!(value.len(), 64);

    // The decrypted master key, stored in clear, unprotects Trousseau's payload.
    let plain = tempfile::tempdir().unwrap();
    plain_copy(&xml, &value, plain.path());
    let p = plain_ring(plain.path()).protector("cookies");
    assert_eq!(p.unprotect(&payload).unwrap(), b"for .NET");
}

fn trousseau_reads_xmlsec1(transport: &str) {
    let certs = tempfile::tempdir().unwrap();
    reads_xmlsec1(certs.path(), transport, &|a| {
        CertificateKeys::new(load(a), vec![])
    });
}

/// A key xmlsec1 encrypts for a new certificate `a` in `certs` with `transport` is read by
/// the protection `keys` makes for `a`, and a payload round-trips.
fn reads_xmlsec1(certs: &Path, transport: &str, keys: &dyn Fn(&Path) -> CertificateKeys) {
    let a = make_certificate(certs, "a");
    let master: Vec<u8> = (0..64u8).map(|i| i.wrapping_mul(37) ^ 0x5a).collect();
    let encrypted = xmlsec1_encrypt(certs, &a, &master, transport);
    let id = "6c7a3a48-0f6a-4a39-9c5b-5f3e2b1d0a11";
    let xml = key_with_secret(id, &encrypted_secret(&encrypted));
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join(format!("key-{id}.xml")), &xml).unwrap();

    let tr = ring(d.path(), keys(&a));
    let opened = master_keys(tr.key_manager());
    assert_eq!(opened.len(), 1);
    assert_eq!(opened[0].1.as_ref().unwrap().expose(), master.as_slice());
    let p = tr.protector("cookies");
    let payload = p.protect(b"round trip").unwrap();
    assert_eq!(p.unprotect(&payload).unwrap(), b"round trip");
    assert_eq!(key_files(d.path()).len(), 1, "xmlsec1's key was not used");
    // The same master key in clear reads the payload: it was made with xmlsec1's key.
    let plain = tempfile::tempdir().unwrap();
    plain_copy(&xml, &master, plain.path());
    assert_eq!(
        plain_ring(plain.path())
            .protector("cookies")
            .unprotect(&payload)
            .unwrap(),
        b"round trip"
    );
}

#[test]
fn trousseau_reads_what_xmlsec1_encrypts_pkcs1_v1_5() {
    trousseau_reads_xmlsec1(RSA_1_5);
}

const RSA_OAEP: &str = r#"<EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p"><DigestMethod xmlns="http://www.w3.org/2000/09/xmldsig#" Algorithm="http://www.w3.org/2000/09/xmldsig#sha1" /></EncryptionMethod>"#;

#[test]
fn trousseau_reads_what_xmlsec1_encrypts_oaep() {
    trousseau_reads_xmlsec1(RSA_OAEP);
}

/// The pkcs11 provider's private SoftHSM2 instance for one test.
#[cfg(feature = "pkcs11")]
#[path = "../../providers/pkcs11/tests/support/mod.rs"]
mod softhsm;
/// The certificate's private key on a PKCS#11 token (SoftHSM2; the tests fail when it is
/// missing).
#[cfg(feature = "pkcs11")]
#[path = "certificate_keys/token.rs"]
mod token;

#[test]
fn rotation_to_a_new_certificate_keeps_old_keys_readable() {
    let certs = tempfile::tempdir().unwrap();
    let a = make_certificate(certs.path(), "a");
    let b = make_certificate(certs.path(), "b");
    let d = tempfile::tempdir().unwrap();
    let old = ring(d.path(), CertificateKeys::new(load(&a), vec![]));
    let old_payload = old.protector("cookies").protect(b"old").unwrap();

    // B writes, A still reads; configured from a file, B as PKCS#12 with its password in the
    // environment, A as PEM.
    std::env::set_var("TROUSSEAU_TEST_PFX_PASSWORD", "pfx-password");
    let config = ring_config(
        d.path(),
        &format!(
            r#"
            certificate = "{}"
            password_env = "TROUSSEAU_TEST_PFX_PASSWORD"
            unprotect_certificates = [{{ path = "{}" }}]
            "#,
            b.with_extension("pfx").display(),
            a.display(),
        ),
    );
    let tr = trousseau::Builder::from_config(&config)
        .unwrap()
        .build()
        .unwrap();
    let manager = tr.key_manager();
    let now = manager.now();
    let new_id = manager
        .create_key(now, manager.expiration_from(now).unwrap())
        .unwrap();
    let new_xml = std::fs::read_to_string(d.path().join(format!("key-{new_id}.xml"))).unwrap();
    assert!(
        new_xml.contains(&b64(load(&b).der())),
        "the new key is not under B"
    );
    let opened = master_keys(manager);
    assert_eq!(opened.len(), 2);
    assert!(opened.iter().all(|(_, s)| s.is_ok()), "{opened:?}");
    assert_eq!(
        tr.protector("cookies").unprotect(&old_payload).unwrap(),
        b"old"
    );

    // B alone cannot read A's key, and says which certificate it needs.
    let only_b = ring(d.path(), CertificateKeys::new(load(&b), vec![]));
    let opened = master_keys(only_b.key_manager());
    let refused: Vec<&String> = opened
        .iter()
        .filter_map(|(_, s)| s.as_ref().err())
        .collect();
    assert_eq!(refused.len(), 1, "{opened:?}");
    let a_thumbprint = load(&a).thumbprint().to_string();
    assert!(
        refused[0].contains(&a_thumbprint) && refused[0].contains("unprotect_certificates"),
        "{}",
        refused[0]
    );
    let err = only_b
        .protector("cookies")
        .unprotect(&old_payload)
        .unwrap_err();
    assert!(err.to_string().contains(&a_thumbprint), "{err}");

    // A wrong PKCS#12 password is a configuration error naming the file.
    std::env::set_var("TROUSSEAU_TEST_PFX_PASSWORD", "wrong");
    let err = trousseau::Builder::from_config(&config).unwrap_err();
    assert!(err.is_configuration(), "{err}");
    assert!(err.to_string().contains("b.pfx"), "{err}");
}

/// Every tampered form is refused with a clear reason and no panic; the key is unusable.
#[test]
fn tampered_encrypted_secrets_are_refused() {
    let certs = tempfile::tempdir().unwrap();
    let a = make_certificate(certs.path(), "a");
    let b = make_certificate(certs.path(), "b");
    let keys = CertificateKeys::new(load(&a), vec![load(&b)]);
    let master = SecretBytes::from_vec((0..64u8).collect());
    let id = "0b5c1f0e-3a2d-4c4b-8e7f-6a5b4c3d2e1f";
    let probe = keyxml::parse_key(
        &xmltree::parse(&key_with_secret(
            id,
            "<masterKey><value>AA==</value></masterKey>",
        ))
        .unwrap(),
    )
    .unwrap();
    let secret = keys
        .secret_xml(
            &probe,
            probe.descriptor.as_ref().unwrap().algorithm,
            &master,
        )
        .unwrap();
    let good = key_with_secret(id, secret.trim());
    let open = |xml: &str| -> Result<SecretBytes, String> {
        let key: Key = keyxml::parse_key(&xmltree::parse(xml).map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())?;
        let d = key.descriptor.as_ref().map_err(Clone::clone)?;
        assert!(matches!(d.secret, MasterKeySecret::Encrypted { .. }));
        keys.open_secret(&key, d).map_err(|e| e.to_string())
    };
    assert_eq!(open(&good).unwrap().expose(), master.expose());

    let values: Vec<(usize, usize)> = good
        .match_indices("<CipherValue>")
        .map(|(i, _)| {
            let start = i + "<CipherValue>".len();
            (start, start + good[start..].find('<').unwrap())
        })
        .collect();
    let (wrapped, content) = (values[0], values[1]);
    let replace =
        |(s, e): (usize, usize), with: &str| format!("{}{with}{}", &good[..s], &good[e..]);
    let content_bytes = unb64(&good[content.0..content.1]);
    let with_content = |f: &dyn Fn(&mut Vec<u8>)| {
        let mut c = content_bytes.clone();
        f(&mut c);
        replace(content, &b64(&c))
    };
    let n = content_bytes.len();
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "flipped ciphertext byte",
            with_content(&|c| c[20] ^= 1),
            "altered or damaged",
        ),
        (
            "wrong padding (last byte 0x50)",
            with_content(&|c| c[n - 17] ^= 0x40),
            "altered or damaged",
        ),
        (
            "flipped encrypted key byte",
            {
                let mut w = unb64(&good[wrapped.0..wrapped.1]);
                w[100] ^= 1;
                replace(wrapped, &b64(&w))
            },
            "altered or damaged",
        ),
        (
            "truncated CipherValue",
            with_content(&|c| c.truncate(n - 5)),
            "truncated or damaged",
        ),
        (
            "IV only",
            with_content(&|c| c.truncate(16)),
            "truncated or damaged",
        ),
        (
            "base64 garbage",
            replace(content, "%%%not base64%%%"),
            "not base64",
        ),
        (
            "oversized CipherValue",
            replace(content, &"A".repeat(200_000)),
            "more than the",
        ),
        (
            "swapped certificate (B named, A's ciphertext)",
            good.replace(&b64(load(&a).der()), &b64(load(&b).der())),
            "altered or damaged",
        ),
        (
            "unknown certificate",
            good.replace(&b64(load(&a).der()), &b64(b"not a certificate")),
            "no configured certificate",
        ),
        (
            "unknown content algorithm",
            good.replace("xmlenc#aes256-cbc", "xmlenc#aes128-cbc"),
            "not supported",
        ),
        (
            "too many EncryptedKey elements",
            {
                let s = good.find("<EncryptedKey").unwrap();
                let e = good.find("</EncryptedKey>").unwrap() + "</EncryptedKey>".len();
                let many = good[s..e].repeat(9);
                format!("{}{many}{}", &good[..s], &good[e..])
            },
            "more than 8 <EncryptedKey>",
        ),
        (
            "CipherReference",
            good.replacen(
                "<CipherValue>",
                "<CipherReference URI=\"http://x\"/><CipherValue>",
                2,
            ),
            "<CipherReference>",
        ),
    ];
    for (what, xml, expected) in cases {
        let err = open(&xml).expect_err(what);
        assert!(err.contains(expected), "{what}: {err}");
    }

    // In a ring the tampered key is skipped: it exists but cannot be used; the good one can.
    let d = tempfile::tempdir().unwrap();
    std::fs::write(
        d.path().join(format!("key-{id}.xml")),
        with_content(&|c| c[20] ^= 1),
    )
    .unwrap();
    let tr = ring(d.path(), CertificateKeys::new(load(&a), vec![]));
    let p = tr.protector("cookies");
    let payload = p.protect(b"still works").unwrap();
    assert_eq!(p.unprotect(&payload).unwrap(), b"still works");
    assert_eq!(
        key_files(d.path()).len(),
        2,
        "no new key replaced the tampered one"
    );
}

#[test]
fn other_protected_forms_are_refused_naming_what_they_need() {
    let certs = tempfile::tempdir().unwrap();
    let a = make_certificate(certs.path(), "a");
    let keys = CertificateKeys::new(load(&a), vec![]);
    for (decryptor, needs) in [
        ("Microsoft.AspNetCore.DataProtection.XmlEncryption.DpapiNGXmlDecryptor, Microsoft.AspNetCore.DataProtection", "DPAPI-NG"),
        ("Azure.Extensions.AspNetCore.DataProtection.Keys.AzureKeyVaultXmlDecryptor, Azure.Extensions.AspNetCore.DataProtection.Keys", "Azure Key Vault"),
        ("Microsoft.AspNetCore.DataProtection.XmlEncryption.DpapiXmlDecryptor, Microsoft.AspNetCore.DataProtection", "DPAPI"),
    ] {
        let xml = key_with_secret(
            "1b5c1f0e-3a2d-4c4b-8e7f-6a5b4c3d2e1f",
            &format!("<encryptedSecret decryptorType=\"{decryptor}\" xmlns=\"http://schemas.asp.net/2015/03/dataProtection\"><encryptedKey xmlns=\"\"><value>AAAA</value></encryptedKey></encryptedSecret>"),
        );
        let key = keyxml::parse_key(&xmltree::parse(&xml).unwrap()).unwrap();
        let err = keys
            .open_secret(&key, key.descriptor.as_ref().unwrap())
            .unwrap_err()
            .to_string();
        assert!(err.contains(needs), "{err}");
        #[cfg(not(windows))]
        if needs == "DPAPI" {
            assert!(err.contains("needs Windows and the same user account"), "{err}");
        }
    }
}
