use sha2::{Digest, Sha256};
use trousseau_core::{ComponentKind, SecretBytes, SourceFlags};

use super::*;

fn c(kind: ComponentKind, hex_bytes: &str) -> Component {
    flagged(kind, SourceFlags::NONE, &hex::decode(hex_bytes).unwrap())
}

fn flagged(kind: ComponentKind, flags: SourceFlags, bytes: &[u8]) -> Component {
    Component {
        kind,
        flags,
        bytes: SecretBytes::copy_from(bytes),
    }
}

fn composite_hex(components: Vec<Component>) -> String {
    hex::encode(composite_key(components).unwrap().expose())
}

fn pw(p: &str) -> String {
    hex::encode(Sha256::digest(p.as_bytes()))
}

// Known answers from KeePassXC's test data (`tests/data/`: FileKeyXml.key, FileKeyXmlV2.keyx,
// FileKeyHex.key, FileKeyBinary.key, FileKeyHashed.key, KeyFileProtected*.key with their
// `.kdbx` files): the key-file component and the composite key that opens the database.
#[test]
fn spec_7_key_file_only_vectors() {
    for (key, raw) in [
        (
            "9e135a97e53da7a875ad600027962b36431accc4d990858b8b7582e0942fe639",
            "d47ae816f8d20164da957b896a346e753501c8c067f66cb3afe357c89d767434",
        ),
        (
            "a7007945d07d54ba28df64341b4500fc9750dfb1d36ada2d9c32dc194c7ab01b",
            "fe2949b83209abdbd99f049b6a0231282b5854214b0b58f5135148f905ad5a95",
        ),
        (
            "0123456789abcdeffedcba98765432100123456789abcdeffedcba9876543210",
            "8cc498b5fc1381eb67906e51f9c8369b2a5fc166a598d9d775030c71d71ac328",
        ),
        (
            "0102030405060708091011121314151617181920212223242526272829303132",
            "fe9f5fd9d5f6d37eecd342e21dcd7bf12fbe489018905d06e2085666069b867d",
        ),
        (
            "a86c55910c7e33606dfe88eb3da46b80b73287c63544ea82eb40dadf80fe8df4",
            "76386d84554ae6ec030d82c3f7aea311000e634c6a4a482a56330a3fb582501b",
        ),
        (
            "569c1054dc96412a438bb0d2202564947c9fd8fe9438a61a5b2adc60a78c3f68",
            "7280003231af10a502942c7b671c0b29caad4c9e825fee91ed57b98a156609d7",
        ),
    ] {
        assert_eq!(
            composite_hex(vec![c(ComponentKind::KeyFile, key)]),
            raw,
            "{key}"
        );
    }
}

#[test]
fn spec_7_password_vectors_and_order() {
    let kf = "c31c9d96f6c70736b69bcdb4b7de24b85d7a8db5abdf49e66a02b5abfa27daf9";
    let expected = "8520f51b5f22a664095e84455f242495d1c664ae0ded653c480f59516ea23548";
    // Password first whatever order the sources are listed in.
    assert_eq!(
        composite_hex(vec![
            c(ComponentKind::Password, &pw("a")),
            c(ComponentKind::KeyFile, kf)
        ]),
        expected
    );
    assert_eq!(
        composite_hex(vec![
            c(ComponentKind::KeyFile, kf),
            c(ComponentKind::Password, &pw("a"))
        ]),
        expected
    );
    assert_eq!(
        composite_hex(vec![c(ComponentKind::Password, &pw("Δöض"))]),
        "47707d8c6c4e47f959eebe5dad4024e576ed9ac938f2ee731f8fe903291deb3b"
    );
    // Empty password is a component: differs from no password.
    assert_ne!(
        composite_hex(vec![
            c(ComponentKind::Password, &pw("")),
            c(ComponentKind::KeyFile, kf)
        ]),
        composite_hex(vec![c(ComponentKind::KeyFile, kf)])
    );
}

#[test]
fn provider_user_account_and_challenge_response_rules() {
    let p = pw("p");
    let ua = [0x55u8; 64];
    let prov = b"provider key";
    let (r1, r2) = ([1u8; 20], [2u8; 20]);
    let got = composite_hex(vec![
        flagged(ComponentKind::ChallengeResponse, SourceFlags::HARDWARE, &r1),
        flagged(ComponentKind::UserAccount, SourceFlags::NONE, &ua),
        flagged(ComponentKind::Provider, SourceFlags::NONE, prov),
        flagged(ComponentKind::ChallengeResponse, SourceFlags::HARDWARE, &r2),
        c(ComponentKind::Password, &p),
    ]);
    let mut h = Sha256::new();
    h.update(hex::decode(&p).unwrap());
    h.update(Sha256::digest(prov));
    h.update(ua);
    h.update(Sha256::digest([r1, r2].concat()));
    assert_eq!(got, hex::encode(h.finalize()));
    // DirectKey: raw provider bytes.
    let direct = composite_hex(vec![flagged(
        ComponentKind::Provider,
        SourceFlags::DIRECT_KEY,
        prov,
    )]);
    assert_eq!(direct, hex::encode(Sha256::digest(prov)));
}

#[test]
fn invalid_compositions() {
    assert!(matches!(
        composite_key(vec![]),
        Err(MasterKeyError::NoComponents)
    ));
    let excl = flagged(ComponentKind::Provider, SourceFlags::EXCLUSIVE, b"k");
    let e = composite_key(vec![excl.clone(), c(ComponentKind::Password, &pw("x"))]).unwrap_err();
    assert!(e.to_string().contains("exclusive"), "{e}");
    assert!(composite_key(vec![excl]).is_ok());
    let ua = flagged(ComponentKind::UserAccount, SourceFlags::NONE, &[1; 64]);
    let e = composite_key(vec![ua.clone(), ua]).unwrap_err();
    assert!(e.to_string().contains("only one user-account"), "{e}");
    let e = composite_key(vec![flagged(
        ComponentKind::KeyFile,
        SourceFlags::NONE,
        b"",
    )])
    .unwrap_err();
    assert!(e.to_string().contains("empty component"), "{e}");
}

// Known answers computed with pycryptodomex (AES) and argon2-cffi (Argon2) for
// composite = SHA-256("composite").
fn kat_composite() -> SecretBytes {
    SecretBytes::copy_from(&Sha256::digest(b"composite"))
}

#[test]
fn aes_kdf_known_answer() {
    let seed: [u8; 32] = std::array::from_fn(|i| i as u8);
    let out = transform_key(
        &kat_composite(),
        &KdfParams::AesKdf {
            rounds: 10_000,
            seed,
        },
    )
    .unwrap();
    assert_eq!(
        hex::encode(out.expose()),
        "42ab3f25dbb28dea3333b2b73ba5d9c7f1c68b3a4763d1325aeedb216537e5d0"
    );
}

/// FIPS-197 appendix C.3 (AES-256): one KDF round encrypts each half once.
#[test]
fn aes_rounds_fips197_vector() {
    let seed: [u8; 32] = std::array::from_fn(|i| i as u8);
    let block = hex::decode("00112233445566778899aabbccddeeff").unwrap();
    let expected = "8ea2b7ca516745bfeafc49904b496089".repeat(2);
    let mut data = [0u8; 32];
    data[..16].copy_from_slice(&block);
    data[16..].copy_from_slice(&block);
    let mut portable = data;
    super::aes_kdf::portable_rounds(&seed, &mut portable, 1);
    assert_eq!(hex::encode(portable), expected);
    super::aes_kdf::aes_rounds(&seed, &mut data, 1);
    assert_eq!(hex::encode(data), expected);
}

/// The AES-NI path and the portable `aes`-crate path agree for many seeds, keys and counts.
// Runs in the main test run; the portable-crypto run has no AES-NI path to compare.
#[cfg(all(target_arch = "x86_64", not(feature = "portable-crypto")))]
#[test]
fn aes_ni_matches_portable_rounds() {
    let ni = crate::crypto::aes_ni::AesNi::detect()
        .expect("this x86_64 CPU reports no AES-NI, so the AES-NI path cannot be tested");
    let bytes =
        |label: &str, i: usize| -> [u8; 32] { Sha256::digest(format!("{label}{i}")).into() };
    for i in 0..6 {
        let (seed, key) = (bytes("seed", i), bytes("key", i));
        for rounds in [0, 1, 2, 3, 1000, 60_000 + i as u64, 1_000_000] {
            let mut portable = key;
            super::aes_kdf::portable_rounds(&seed, &mut portable, rounds);
            let mut fast = key;
            ni.kdf_rounds(&seed, &mut fast, rounds);
            assert_eq!(fast, portable, "seed {i}, {rounds} rounds");
            if rounds > 0 {
                assert_ne!(fast, key, "seed {i}, {rounds} rounds changed nothing");
            } else {
                assert_eq!(fast, key, "0 rounds must leave the key unchanged");
            }
        }
    }
    // Equal halves stay equal (ECB), different seeds give different output.
    let mut same = [0x5au8; 32];
    ni.kdf_rounds(&[1; 32], &mut same, 5);
    assert_eq!(same[..16], same[16..]);
    let mut other = [0x5au8; 32];
    ni.kdf_rounds(&[2; 32], &mut other, 5);
    assert_ne!(same, other);
}

#[test]
fn argon2_known_answers() {
    let salt: Vec<u8> = (100..132).collect();
    for (variant, version, expected) in [
        (
            Argon2Variant::D,
            0x13,
            "2da538265ea38673b2703bc03f54721de710d717088668ddc7708fe823cbf792",
        ),
        (
            Argon2Variant::Id,
            0x13,
            "8c362f7d98fdac59c9bc9a0d5cc87fdb42c96c6da71d2cf9bec50c7b7c8707aa",
        ),
        (
            Argon2Variant::D,
            0x10,
            "d244314149f44a5ecd31f41f325aef19c64812faa9d9d3ea26c2f47802937e90",
        ),
    ] {
        let params = KdfParams::Argon2 {
            variant,
            salt: salt.clone(),
            memory_kib: 1024,
            iterations: 3,
            parallelism: 2,
            version,
        };
        assert_eq!(
            hex::encode(transform_key(&kat_composite(), &params).unwrap().expose()),
            expected
        );
    }
}

#[test]
fn bad_kdf_parameters_are_errors() {
    let argon2 = |variant, salt_len, memory_kib, version| KdfParams::Argon2 {
        variant,
        salt: vec![0; salt_len],
        memory_kib,
        iterations: 1,
        parallelism: 1,
        version,
    };
    let bad_version = argon2(Argon2Variant::D, 32, 1024, 0x14);
    assert!(transform_key(&kat_composite(), &bad_version)
        .unwrap_err()
        .to_string()
        .contains("0x14"));
    let short_salt = argon2(Argon2Variant::D, 4, 1024, 0x13);
    assert!(transform_key(&kat_composite(), &short_salt).is_err());
    let zero_mem = argon2(Argon2Variant::Id, 32, 0, 0x13);
    assert!(transform_key(&kat_composite(), &zero_mem).is_err());
    let aes = KdfParams::AesKdf {
        rounds: 1,
        seed: [0; 32],
    };
    assert!(transform_key(&SecretBytes::copy_from(&[0; 31]), &aes).is_err());
}

#[test]
fn params_serialize_with_base64_and_round_trip() {
    let p = KdfParams::new_default();
    let json = serde_json::to_string(&p).unwrap();
    assert!(
        json.starts_with(r#"{"kdf":"argon2","variant":"id","salt":""#),
        "{json}"
    );
    assert_eq!(serde_json::from_str::<KdfParams>(&json).unwrap(), p);
    assert_eq!(p.seed().len(), 32);
    assert_ne!(
        KdfParams::new_default().seed(),
        p.seed(),
        "salt is not fresh"
    );
    let aes = KdfParams::AesKdf {
        rounds: 7,
        seed: [9; 32],
    };
    let json = serde_json::to_string(&aes).unwrap();
    assert_eq!(
        json,
        format!(
            r#"{{"kdf":"aes-kdf","rounds":7,"seed":"{}"}}"#,
            "CQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQk="
        )
    );
    assert_eq!(aes.seed(), &[9; 32]);
    assert!(
        serde_json::from_str::<KdfParams>(r#"{"kdf":"aes-kdf","rounds":7,"seed":"CQk="}"#).is_err()
    );
}

#[test]
fn calibration_picks_usable_parameters() {
    let limits = KdfLimits::default();
    let p = KdfParams::calibrate(
        Argon2Variant::D,
        std::time::Duration::from_millis(1),
        &limits,
    )
    .unwrap();
    match &p {
        KdfParams::Argon2 {
            variant,
            iterations,
            memory_kib,
            ..
        } => {
            assert_eq!(*variant, Argon2Variant::D);
            assert_eq!((*memory_kib, *iterations), (19 * 1024, 2), "the floor");
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(limits.check(&p).is_ok());
    assert!(transform_key(&kat_composite(), &p).is_ok());
    match KdfParams::calibrate_aes(std::time::Duration::from_millis(50)) {
        KdfParams::AesKdf { rounds, .. } => assert!(rounds >= 60_000),
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
#[cfg(all(feature = "password", feature = "keyfile"))]
fn enroll_then_derive_through_the_registry() {
    let registry = crate::plugins::Registry::with_builtins(None).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let kf = dir.path().join("k.keyx");
    std::env::set_var("TROUSSEAU_MK_TEST_PW", "a");
    let specs = vec![
        SourceSpec {
            provider: "keyfile".into(),
            config: serde_json::json!({"path": kf, "create": "xml2"}).to_string(),
            public_params: String::new(),
        },
        SourceSpec {
            provider: "password".into(),
            config: r#"{"env":"TROUSSEAU_MK_TEST_PW"}"#.into(),
            public_params: String::new(),
        },
    ];
    let ui = EverySource(&trousseau_core::NoInteraction);
    let (enrolled, stored) = enroll_components(&registry, &specs, &[1; 32], &ui, "test").unwrap();
    assert!(stored[0].public_params.contains("\"check\""));
    let derived = derive_components(&registry, &stored, &[1; 32], &ui, "test").unwrap();
    let a = composite_key(enrolled).unwrap();
    assert_eq!(a, composite_key(derived).unwrap());
    // A key file replaced since enrollment: WrongKey.
    std::fs::remove_file(&kf).unwrap();
    trousseau_keyfile::create_key_file(&kf, trousseau_keyfile::CreateFormat::XmlV2, None).unwrap();
    let e = derive_components(&registry, &stored, &[1; 32], &ui, "test").unwrap_err();
    assert_eq!(e.code(), trousseau_core::ErrorCode::WrongKey);
    let unknown = [SourceSpec {
        provider: "nope".into(),
        config: "{}".into(),
        public_params: String::new(),
    }];
    assert!(derive_components(&registry, &unknown, &[], &ui, "t").is_err());
}

#[test]
fn the_work_estimate_of_the_largest_parameters_does_not_overflow() {
    let bomb = KdfParams::Argon2 {
        variant: Argon2Variant::Id,
        salt: vec![0; 32],
        memory_kib: u32::MAX,
        iterations: u32::MAX,
        parallelism: 1,
        version: 0x13,
    };
    assert!(bomb.work_estimate() > KdfParams::new_default().work_estimate());
    let rounds = KdfParams::AesKdf {
        rounds: u64::MAX,
        seed: [0; 32],
    };
    assert!(rounds.work_estimate() > 0);
}
