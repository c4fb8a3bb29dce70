use sha2::{Digest, Sha256};
use trousseau_core::{DeriveContext, ErrorCode, KeySource, NoInteraction};

use super::*;

fn key_hex(bytes: &[u8]) -> (String, KeyFileFormat) {
    let l = interpret(bytes).unwrap();
    (hex::encode(l.key.expose()), l.format)
}

fn raw_of(key_hex: &str) -> String {
    hex::encode(Sha256::digest(hex::decode(key_hex).unwrap()))
}

// Known answers from KeePassXC's test data (`tests/data/FileKeyXml.key`, `FileKeyXmlV2.keyx`
// and its broken-hash and broken-hex variants, `FileKeyXmlBrokenBase64.key`, `FileKeyHex.key`,
// `FileKeyBinary.key`; `tests/TestKeys.cpp`): the component `key`, and `raw`, the composite key
// that opens the matching `.kdbx`. The `vector_7_6` values follow from KeePass's detection rules
// alone: a 65-byte file is not hex, so the key is SHA-256 of the whole file.

const XML_V1: &str = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\r\n<KeyFile>\r\n\t<Meta>\r\n\t\t<Version>1.00</Version>\r\n\t</Meta>\r\n\t<Key>\r\n\t\t<Data>nhNal+U9p6h1rWAAJ5YrNkMazMTZkIWLi3WC4JQv5jk=</Data>\r\n\t</Key>\r\n</KeyFile>\r\n";

fn xml_v2(hash: &str, first: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<KeyFile xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\">\n\t<Meta>\n\t\t<Version>2.0</Version>\n\t</Meta>\n\t<Key>\n\t\t<Data Hash=\"{hash}\">\n\t\t\t{first}7007945 D07D54BA 28DF6434 1B4500FC\n\t\t\t9750DFB1 D36ADA2D 9C32DC19 4C7AB01B\n\t\t</Data>\n\t</Key>\n</KeyFile>"
    )
}

#[test]
fn vector_7_1_xml_v1() {
    assert_eq!(XML_V1.len(), 187);
    let (k, f) = key_hex(XML_V1.as_bytes());
    assert_eq!(f, KeyFileFormat::XmlV1);
    assert_eq!(
        k,
        "9e135a97e53da7a875ad600027962b36431accc4d990858b8b7582e0942fe639"
    );
    assert_eq!(
        raw_of(&k),
        "d47ae816f8d20164da957b896a346e753501c8c067f66cb3afe357c89d767434"
    );
}

#[test]
fn vector_7_2_xml_v2_and_negatives() {
    let (k, f) = key_hex(xml_v2("FE2949B8", "A").as_bytes());
    assert_eq!(f, KeyFileFormat::XmlV2);
    assert_eq!(
        k,
        "a7007945d07d54ba28df64341b4500fc9750dfb1d36ada2d9c32dc194c7ab01b"
    );
    assert_eq!(
        raw_of(&k),
        "fe2949b83209abdbd99f049b6a0231282b5854214b0b58f5135148f905ad5a95"
    );
    let e = interpret(xml_v2("FE2949B9", "A").as_bytes()).unwrap_err();
    assert_eq!(e.code(), ErrorCode::CorruptData);
    assert!(e.message().contains("hash mismatch"), "{e}");
    let e = interpret(xml_v2("FE2949B8", "X").as_bytes()).unwrap_err();
    assert!(e.message().contains("invalid hex"), "{e}");
    let broken64 = XML_V1.replace("nhNal+U9p6h1rWAAJ5YrNkMazMTZkIWLi3WC4JQv5jk=", "yy");
    let e = interpret(broken64.as_bytes()).unwrap_err();
    assert!(e.message().contains("invalid Base64"), "{e}");
}

#[test]
fn vector_7_3_hex_binary_and_protected() {
    let hexfile = b"0123456789abcdeffedcba98765432100123456789abcdeffedcba9876543210";
    let (k, f) = key_hex(hexfile);
    assert_eq!(
        (k.as_str(), f),
        (std::str::from_utf8(hexfile).unwrap(), KeyFileFormat::Hex)
    );
    assert_eq!(
        raw_of(&k),
        "8cc498b5fc1381eb67906e51f9c8369b2a5fc166a598d9d775030c71d71ac328"
    );
    let upper = hexfile.to_ascii_uppercase();
    assert_eq!(key_hex(&upper).0, k);

    let bin =
        hex::decode("0102030405060708091011121314151617181920212223242526272829303132").unwrap();
    let (k, f) = key_hex(&bin);
    assert_eq!(f, KeyFileFormat::Binary);
    assert_eq!(
        raw_of(&k),
        "fe9f5fd9d5f6d37eecd342e21dcd7bf12fbe489018905d06e2085666069b867d"
    );
}

#[test]
fn vector_7_6_hex_with_newline_is_hashed() {
    let hexfile = "0123456789abcdeffedcba98765432100123456789abcdeffedcba9876543210";
    let (k, f) = key_hex(format!("{hexfile}\n").as_bytes());
    assert_eq!(f, KeyFileFormat::Hashed);
    assert_eq!(
        k,
        "080280203c2376cef430c48828fe0e67a92e41a9e7a5573780c682c9b6035ab8"
    );
    let (k, _) = key_hex(format!("{hexfile}\r\n").as_bytes());
    assert_eq!(
        k,
        "ea7dac5b99a59d0d970378911d305658f91e95dc4ed4f242def988d0d135a3ca"
    );
    // BOM + 64 hex (67 bytes): hashed.
    let bom = [&b"\xEF\xBB\xBF"[..], hexfile.as_bytes()].concat();
    assert_eq!(
        key_hex(&bom),
        (hex::encode(Sha256::digest(&bom)), KeyFileFormat::Hashed)
    );
}

#[test]
fn writer_matches_keepass_byte_for_byte() {
    // KeePass 2.47+'s writer (`KfxFile.Create`), byte for byte as in pykeepass's
    // `tests/test4_keyx.keyx` and keepass-rs's `test_db_kdbx4_with_keyfile_v2_alt.keyx`.
    let key =
        hex::decode("30D73184FBE1C7C4B07EE4D6BC4F118B87577CAB5CB8846F5FD286FFF98BF9A9").unwrap();
    let expected = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<KeyFile>\n\t<Meta>\n\t\t<Version>2.0</Version>\n\t</Meta>\n\t<Key>\n\t\t<Data Hash=\"F79BE54D\">\n\t\t\t30D73184 FBE1C7C4 B07EE4D6 BC4F118B\n\t\t\t87577CAB 5CB8846F 5FD286FF F98BF9A9\n\t\t</Data>\n\t</Key>\n</KeyFile>";
    assert_eq!(
        render(CreateFormat::XmlV2, &key).expose(),
        expected.as_bytes()
    );
    // Each format reads back to the same key, in the expected format.
    for (fmt, detected) in [
        (CreateFormat::XmlV2, KeyFileFormat::XmlV2),
        (CreateFormat::XmlV1, KeyFileFormat::XmlV1),
        (CreateFormat::Hex, KeyFileFormat::Hex),
        (CreateFormat::Binary, KeyFileFormat::Binary),
    ] {
        let l = interpret(render(fmt, &key).expose()).unwrap();
        assert_eq!((l.key.expose(), l.format), (&key[..], detected));
        assert!(
            l.keepassxc_differences.is_empty(),
            "{fmt:?}: {:?}",
            l.keepassxc_differences
        );
    }
    // v1 as KeePass <= 2.46 wrote it, modulo line endings (KeePassXC's
    // `tests/data/FileKeyXml.key`).
    let v1_key =
        hex::decode("9e135a97e53da7a875ad600027962b36431accc4d990858b8b7582e0942fe639").unwrap();
    let v1 = String::from_utf8(render(CreateFormat::XmlV1, &v1_key).expose().to_vec()).unwrap();
    assert_eq!(format!("{}\r\n", v1.replace('\n', "\r\n")), XML_V1);
}

#[test]
fn edge_cases_of_section_2_3() {
    // XML with comments, BOM, PI: parsed.
    let commented = format!("\u{feff}<!-- made by hand -->{}", &XML_V1[39..])
        .replace("<Key>", "<?pi x?><Key><!-- c -->");
    assert_eq!(key_hex(commented.as_bytes()).1, KeyFileFormat::XmlV1);
    // DOCTYPE: hashed, and KeePassXC differs.
    let with_dtd = XML_V1.replace(
        "<KeyFile>",
        "<!DOCTYPE KeyFile [<!ENTITY a \"aaaa\">]><KeyFile>",
    );
    let l = interpret(with_dtd.as_bytes()).unwrap();
    assert_eq!(l.format, KeyFileFormat::Hashed);
    assert_eq!(
        l.key.expose(),
        Sha256::digest(with_dtd.as_bytes()).as_slice()
    );
    assert!(l.keepassxc_differences[0].contains("DOCTYPE"));
    // Entity bomb: refused as XML (hashed), no expansion.
    let bomb = "<?xml version=\"1.0\"?><!DOCTYPE KeyFile [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\"><!ENTITY c \"&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;\">]><KeyFile><Meta><Version>1.0</Version></Meta><Key><Data>&c;</Data></Key></KeyFile>";
    assert_eq!(key_hex(bomb.as_bytes()).1, KeyFileFormat::Hashed);
    // Undefined entity without DTD: not XML either.
    let undefined = XML_V1.replace("nhNal", "&x;nhNal");
    assert_eq!(key_hex(undefined.as_bytes()).1, KeyFileFormat::Hashed);
    // v2 without Hash: accepted by KeePass, KeePassXC differs.
    let nohash = xml_v2("", "A").replace(" Hash=\"\"", "");
    let l = interpret(nohash.as_bytes()).unwrap();
    assert_eq!(l.format, KeyFileFormat::XmlV2);
    assert!(l
        .keepassxc_differences
        .iter()
        .any(|d| d.contains("without a Hash")));
    // Version "2.00" and "1": accepted, KeePassXC differs.
    for (v, from) in [("2.00", "2.0"), (" 2 . 1", "2.0")] {
        let l = interpret(xml_v2("FE2949B8", "A").replace(from, v).as_bytes()).unwrap();
        assert_eq!(l.format, KeyFileFormat::XmlV2);
        assert!(
            l.keepassxc_differences
                .iter()
                .any(|d| d.contains("refuses Version")),
            "{v}"
        );
    }
    let l = interpret(XML_V1.replace("1.00", "1").as_bytes()).unwrap();
    assert_eq!(l.format, KeyFileFormat::XmlV1);
    assert_eq!(l.keepassxc_differences.len(), 1);
    // Unsupported version, missing version, empty data: hard errors.
    for bad in [
        XML_V1.replace("1.00", "3.0"),
        XML_V1.replace("<Version>1.00</Version>", ""),
        XML_V1
            .replace("<Meta>", "<Other>")
            .replace("</Meta>", "</Other>"),
    ] {
        assert_eq!(
            interpret(bad.as_bytes()).unwrap_err().code(),
            ErrorCode::Unsupported,
            "{bad}"
        );
    }
    let empty_data = XML_V1.replace("nhNal+U9p6h1rWAAJ5YrNkMazMTZkIWLi3WC4JQv5jk=", "");
    assert_eq!(
        interpret(empty_data.as_bytes()).unwrap_err().code(),
        ErrorCode::CorruptData
    );
    // Short XML key: kept as is by KeePass, padded by KeePassXC.
    let short = "<KeyFile><Meta><Version>2.0</Version></Meta><Key><Data>00112233445566778899AABBCCDDEEFF</Data></Key></KeyFile>";
    let l = interpret(short.as_bytes()).unwrap();
    assert_eq!(l.key.len(), 16);
    assert!(l
        .keepassxc_differences
        .iter()
        .any(|d| d.contains("zero-pads")));
    // Meta after Key: KeePass reads it, KeePassXC refuses.
    let swapped = "<KeyFile><Key><Data>00112233445566778899AABBCCDDEEFF00112233445566778899AABBCCDDEEFF</Data></Key><Meta><Version>2.0</Version></Meta></KeyFile>";
    let l = interpret(swapped.as_bytes()).unwrap();
    assert!(l.keepassxc_differences.iter().any(|d| d.contains("<Meta>")));
    // Another root (SVG), garbage, truncated XML, empty file: hashed.
    for other in [
        &b"<svg><Key/></svg>"[..],
        b"\x00\xff\xfe garbage",
        b"<KeyFile><Meta>",
        b"<KeyFile></KeyFile><KeyFile></KeyFile>",
    ] {
        assert_eq!(
            key_hex(other),
            (hex::encode(Sha256::digest(other)), KeyFileFormat::Hashed)
        );
    }
    let l = interpret(b"").unwrap();
    assert_eq!(
        hex::encode(l.key.expose()),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    assert!(l.keepassxc_differences[0].contains("empty"));
    // 32 bytes of XML-looking text: XML tried first, then binary.
    let xml32 = b"<KeyFile><Meta></Meta></KeyFile>";
    assert_eq!(xml32.len(), 32);
    assert_eq!(interpret(xml32).unwrap_err().code(), ErrorCode::Unsupported);
}

#[test]
fn large_files_are_hashed_by_streaming() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("big.bin");
    let content: Vec<u8> = (0..(3u32 << 20) + 7)
        .map(|i| (i * 31 % 251) as u8)
        .collect();
    std::fs::write(&p, &content).unwrap();
    let l = load_key_file(&p).unwrap();
    assert_eq!(l.format, KeyFileFormat::Hashed);
    assert_eq!(l.key.expose(), Sha256::digest(&content).as_slice());
    // A large XML key file (padded with a comment) is still parsed as XML.
    let big_xml = XML_V1.replace(
        "<KeyFile>",
        &format!("<!--{}--><KeyFile>", "x".repeat(2 << 20)),
    );
    std::fs::write(&p, &big_xml).unwrap();
    assert_eq!(load_key_file(&p).unwrap().format, KeyFileFormat::XmlV1);
}

#[test]
fn file_errors_are_clear() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.keyx");
    let e = load_key_file(&missing).unwrap_err();
    assert_eq!(e.code(), ErrorCode::NotFound);
    assert!(e.message().contains("missing.keyx"), "{e}");
    let e = load_key_file(dir.path()).unwrap_err();
    assert!(e.message().contains("directory"), "{e}");
    // A path through a regular file (ENOTDIR): an I/O error naming the path. (Permission
    // denied cannot be produced reliably: tests may run as root.)
    let p = dir.path().join("plain");
    std::fs::write(&p, b"x").unwrap();
    let e = load_key_file(&p.join("k.keyx")).unwrap_err();
    assert_eq!(e.code(), ErrorCode::Io);
    assert!(e.message().contains("plain/k.keyx"), "{e}");
}

#[test]
fn create_refuses_overwrite_and_uses_0600() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("k.keyx");
    let key = create_key_file(&p, CreateFormat::XmlV2, Some(b"typed entropy")).unwrap();
    #[cfg(unix)]
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&p).unwrap().permissions())
            & 0o777,
        0o600
    );
    assert_eq!(load_key_file(&p).unwrap().key, key);
    let e = create_key_file(&p, CreateFormat::Hex, None).unwrap_err();
    assert_eq!(e.code(), ErrorCode::Conflict);
    assert_eq!(load_key_file(&p).unwrap().key, key, "file was overwritten");
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        1,
        "temp file left behind"
    );
    assert_ne!(generate_key(None).unwrap(), generate_key(None).unwrap());
    assert_eq!(
        CreateFormat::parse("pem").unwrap_err().code(),
        ErrorCode::InvalidInput
    );
}

#[test]
fn source_detects_a_changed_key_file() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("k.key");
    let cfg = serde_json::json!({"path": p, "create": "binary"}).to_string();
    let source = KeyFileSource::from_config(&cfg).unwrap();
    let enrolled = source
        .enroll(&DeriveContext::default(), &NoInteraction)
        .unwrap();
    let params = enrolled.public_params().to_string();
    assert!(params.contains("\"format\":\"binary\""), "{params}");
    assert!(params.contains(&key_check(enrolled.component().expose())));
    let ctx = DeriveContext::new(&[], &params, "x");
    assert_eq!(
        &source.derive(&ctx, &NoInteraction).unwrap(),
        enrolled.component()
    );
    std::fs::remove_file(&p).unwrap();
    std::fs::write(&p, [7u8; 32]).unwrap();
    let e = source.derive(&ctx, &NoInteraction).unwrap_err();
    assert_eq!(e.code(), ErrorCode::WrongKey);
    assert!(
        e.message()
            .contains("not the key file this master key was created with"),
        "{e}"
    );
}

#[test]
fn source_refuses_a_database_as_key_file_and_bad_config() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("db.kdbx");
    std::fs::write(
        &p,
        [0x03, 0xD9, 0xA2, 0x9A, 0x67, 0xFB, 0x4B, 0xB5, 1, 0, 4, 0],
    )
    .unwrap();
    let source = KeyFileSource::from_config(&serde_json::json!({"path": p}).to_string()).unwrap();
    let e = source
        .enroll(&DeriveContext::default(), &NoInteraction)
        .unwrap_err();
    assert!(e.message().contains("KeePass database"), "{e}");
    assert_eq!(
        KeyFileSource::from_config("{}").unwrap_err().code(),
        ErrorCode::InvalidConfig
    );
    let e = KeyFileSource::from_config(r#"{"path":"x","create":"pem"}"#).unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidConfig);
}

/// Runs `f` on another thread and fails the test if it has not finished within 10 s, so that a
/// read that blocks (a FIFO) fails rather than hangs the test run.
fn within_seconds<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(std::time::Duration::from_secs(10))
        .expect("blocked: the key file was opened or read as if it were a regular file")
}

fn mkfifo(path: &std::path::Path) {
    let made = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .unwrap();
    assert!(made.success());
}

#[test]
fn fifos_and_devices_are_refused_without_blocking() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("k.keyx");
    mkfifo(&fifo);
    for (path, kind) in [
        (fifo.clone(), "a FIFO (named pipe)"),
        ("/dev/zero".into(), "a character device"),
    ] {
        let p = path.clone();
        let e = within_seconds(move || load_key_file(&p).unwrap_err());
        assert_eq!(e.code(), ErrorCode::InvalidInput, "{e}");
        assert!(
            e.message()
                .contains(&format!("not a regular file but {kind}")),
            "{e}"
        );
        assert!(e.message().contains(path.to_str().unwrap()), "{e}");
        // Enrollment (which first looks for a database signature) and derivation alike.
        let source =
            KeyFileSource::from_config(&serde_json::json!({ "path": path }).to_string()).unwrap();
        let e = within_seconds(move || {
            source
                .enroll(&DeriveContext::default(), &NoInteraction)
                .unwrap_err()
        });
        assert!(e.message().contains("not a regular file"), "{e}");
    }
}

#[test]
fn files_over_the_ceiling_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    // Sparse: no disk space used, and refused from its size before any read.
    let p = dir.path().join("huge.bin");
    std::fs::File::create(&p)
        .unwrap()
        .set_len(MAX_KEY_FILE_SIZE + 1)
        .unwrap();
    let e = load_key_file(&p).unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidInput);
    assert!(
        e.message().contains("larger than 64 MiB") && e.message().contains("huge.bin"),
        "{e}"
    );
    // Exactly at the ceiling is still a key file (hashed).
    std::fs::File::create(&p)
        .unwrap()
        .set_len(MAX_KEY_FILE_SIZE)
        .unwrap();
    assert_eq!(load_key_file(&p).unwrap().format, KeyFileFormat::Hashed);
}

#[test]
fn deeply_nested_xml_key_file_is_refused_quickly() {
    // Regression: a <KeyFile> nested 100,000 deep took 29 s (the element path was rebuilt and
    // joined for every element and every text node: quadratic).
    let n = 100_000;
    let deep = format!(
        "<KeyFile><Meta><Version>2.0</Version></Meta>{}{}</KeyFile>",
        "<a>".repeat(n),
        "</a>".repeat(n)
    );
    let started = std::time::Instant::now();
    let e = interpret(deep.as_bytes()).unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidInput);
    assert!(
        e.message().contains("more than 64 levels"),
        "{}",
        e.message()
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    // 64 levels are still read; a DOCTYPE means KeePass hashes the file, whatever follows.
    let at_limit = xml_v2("", "8").replace(
        "</Meta>",
        &format!("</Meta>{}{}", "<a>".repeat(62), "</a>".repeat(62)),
    );
    assert_eq!(key_hex(at_limit.as_bytes()).1, KeyFileFormat::XmlV2);
    let with_dtd = format!("<!DOCTYPE KeyFile>{deep}");
    assert_eq!(key_hex(with_dtd.as_bytes()).1, KeyFileFormat::Hashed);
}

#[test]
fn large_wide_xml_key_file_reads_in_linear_time() {
    // 4 MiB of siblings with text: every text node used to join the whole path.
    let body = "<Other>some text &amp; more</Other>".repeat(120_000);
    let doc = XML_V1.replace("</Meta>", &format!("</Meta>{body}"));
    let started = std::time::Instant::now();
    assert_eq!(key_hex(doc.as_bytes()).1, KeyFileFormat::XmlV1);
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
}

#[test]
fn a_missing_path_says_how_to_give_one() {
    for config in ["{}", "{\"create\": \"xml2\"}"] {
        let e = KeyFileSource::from_config(config).unwrap_err();
        assert_eq!(e.code(), ErrorCode::InvalidConfig);
        assert!(
            e.message().contains("needs a path: keyfile:path=")
                && !e.message().contains("missing field"),
            "{}",
            e.message()
        );
    }
}
