use time::macros::datetime;
use trousseau_core::ComponentKind::{self, *};

use super::*;

fn policy(toml_text: &str) -> Policy {
    let cfg: PolicyConfig = toml::from_str(toml_text).unwrap();
    Policy::from_config(&cfg).unwrap()
}

#[test]
fn keepass_example_263168_requires_user_account() {
    assert_eq!(263168, 0x40000 | 0x400);
    let p = policy("key_creation_flags = 263168");
    assert_eq!(p.creation_requirement(UserAccount), Requirement::Required);
    assert_eq!(p.creation_requirement(Password), Requirement::Free);
    assert_eq!(p.creation_requirement(KeyFile), Requirement::Free);
    let e = p
        .check_new_master_key(&[Password], Some("a long enough passphrase"))
        .unwrap_err();
    assert_eq!(
        e.0,
        vec!["a new master key must include a user-account source".to_string()]
    );
    assert!(p
        .check_new_master_key(&[Password, UserAccount], Some("x"))
        .is_ok());
}

#[test]
fn each_flag_bit() {
    let cases: &[(u64, ComponentKind, Requirement)] = &[
        (0x1, Password, Requirement::Free),
        (0x100, Password, Requirement::Required), // disabled, checked by default
        (0x100 | 0x1000000, Password, Requirement::Forbidden),
        (0x200, KeyFile, Requirement::Forbidden), // disabled, unchecked by default
        (0x200 | 0x20000, KeyFile, Requirement::Required),
        (0x20000, KeyFile, Requirement::Free), // checked but still changeable
        (0x2000000, KeyFile, Requirement::Free),
        (0x400, UserAccount, Requirement::Forbidden),
        (
            0x400 | 0x40000 | 0x4000000,
            UserAccount,
            Requirement::Forbidden,
        ), // uncheck after check
        (0x4 | 0x400 | 0x40000, UserAccount, Requirement::Required), // disable after enable
    ];
    for &(bits, kind, want) in cases {
        let (rules, warnings) = decode_flags(bits);
        assert_eq!(
            rules.get(&kind).copied().unwrap_or(Requirement::Free),
            want,
            "bits {bits:#x}"
        );
        assert!(warnings.is_empty());
    }
    // Hide-password bits are accepted and change nothing.
    assert!(decode_flags(0x8 | 0x800 | 0x80000 | 0x8000000).0.is_empty());
    let (_, w) = decode_flags(0x10_0000_0000);
    assert!(w[0].contains("unknown bits"), "{w:?}");
}

#[test]
fn prompt_flags_apply_when_unlocking() {
    let p = policy("key_prompt_flags = 512"); // 0x200: key file disabled (unchecked)
    assert!(p.check_unlock(&[Password]).is_ok());
    let e = p.check_unlock(&[Password, KeyFile]).unwrap_err();
    assert!(
        e.to_string()
            .contains("unlocking must not include a key-file source"),
        "{e}"
    );
    assert!(p.check_new_master_key(&[KeyFile], None).is_ok());
}

#[test]
fn readable_require_and_forbid() {
    let p = policy("require = [\"password\", \"keyfile\"]\nforbid = [\"user-account\"]");
    let e = p.check_new_master_key(&[UserAccount], None).unwrap_err();
    assert_eq!(e.0.len(), 3, "{e}");
    assert!(p
        .check_new_master_key(&[Password, KeyFile], Some("x"))
        .is_ok());
    let cfg: PolicyConfig =
        toml::from_str("require = [\"password\"]\nforbid = [\"password\"]").unwrap();
    assert!(Policy::from_config(&cfg)
        .unwrap_err()
        .to_string()
        .contains("both"));
    let cfg: PolicyConfig =
        toml::from_str("key_creation_flags = 263168\nforbid = [\"user-account\"]").unwrap();
    assert!(Policy::from_config(&cfg).is_err());
    let cfg: PolicyConfig = toml::from_str("require = [\"yubikey\"]").unwrap();
    assert!(Policy::from_config(&cfg)
        .unwrap_err()
        .to_string()
        .contains("yubikey"));
    assert!(toml::from_str::<PolicyConfig>("minimum_lenght = 3").is_err());
}

#[test]
#[cfg(not(feature = "password-quality"))]
fn minimum_quality_is_refused_without_an_estimator() {
    let config: PolicyConfig = toml::from_str("minimum_quality = 60").unwrap();
    let e = Policy::from_config(&config).unwrap_err();
    assert!(e.0.contains("`password-quality` feature"), "{e}");
}

#[test]
#[cfg(feature = "password-quality")]
fn length_and_quality_say_by_how_much() {
    let p = policy("minimum_length = 12\nminimum_quality = 60");
    let e = p
        .check_new_master_key(&[Password], Some("password"))
        .unwrap_err();
    assert!(
        e.0[0].contains("8 characters, the minimum is 12 (4 more needed)"),
        "{e}"
    );
    assert!(e.0[1].contains("the minimum is 60 bits"), "{e}");
    // UTF-16 code units, like KeePass: one astral character counts 2.
    let min3 = policy("minimum_length = 3");
    assert!(min3
        .check_new_master_key(&[Password], Some("a\u{1F511}"))
        .is_ok());
    let e = min3
        .check_new_master_key(&[Password], Some("\u{1F511}"))
        .unwrap_err();
    assert!(e.0[0].contains("2 characters"), "{e}");
    let strong = "correct horse battery staple violet 83!";
    assert!(estimated_bits(strong) > 60.0, "{}", estimated_bits(strong));
    assert!(p.check_new_master_key(&[Password], Some(strong)).is_ok());
    assert!(estimated_bits("password") < 10.0);
    assert_eq!(estimated_bits(""), 0.0);
}

#[test]
fn expiry_durations_and_dates() {
    let changed = datetime!(2026-01-01 00:00 UTC);
    let p = policy("master_key_expiry_rec = \"P90D\"\nmaster_key_expiry_force = \"p1y\"");
    assert_eq!(
        p.expiry(changed, datetime!(2026-03-31 00:00 UTC)),
        ExpiryStatus::Current
    );
    assert!(matches!(
        p.expiry(changed, datetime!(2026-04-02 00:00 UTC)),
        ExpiryStatus::Recommended(_)
    ));
    // A year is 365 days (.NET): 2027-01-01 is exactly 365 days later, not past it.
    assert!(matches!(
        p.expiry(changed, datetime!(2027-01-01 00:00 UTC)),
        ExpiryStatus::Recommended(_)
    ));
    assert!(matches!(
        p.expiry(changed, datetime!(2027-01-01 00:00:01 UTC)),
        ExpiryStatus::Forced(_)
    ));
    let p = policy("master_key_expiry_force = \" 2026-06-01T12:00:00+02:00 \"");
    assert!(matches!(
        p.expiry(
            datetime!(2026-06-01 09:59 UTC),
            datetime!(2030-01-01 0:00 UTC)
        ),
        ExpiryStatus::Forced(_)
    ));
    assert_eq!(
        p.expiry(
            datetime!(2026-06-01 10:00 UTC),
            datetime!(2030-01-01 0:00 UTC)
        ),
        ExpiryStatus::Current
    );
    for (v, rule) in [
        ("P1M", ExpiryRule::After(time::Duration::days(30))),
        ("PT36H", ExpiryRule::After(time::Duration::hours(36))),
        (
            "P1DT1.5S",
            ExpiryRule::After(time::Duration::days(1) + time::Duration::milliseconds(1500)),
        ),
        ("-P1D", ExpiryRule::After(-time::Duration::days(1))),
        (
            "2027-01-01",
            ExpiryRule::ChangedBefore(datetime!(2027-01-01 0:00 UTC)),
        ),
        (
            "2027-01-01Z",
            ExpiryRule::ChangedBefore(datetime!(2027-01-01 0:00 UTC)),
        ),
        (
            "2027-01-01T10:00:00.25Z",
            ExpiryRule::ChangedBefore(datetime!(2027-01-01 10:00:00.25 UTC)),
        ),
    ] {
        assert_eq!(parse_expiry(v).unwrap(), rule, "{v}");
    }
}

#[test]
fn unparsable_expiry_warns_and_never_expires() {
    let changed = datetime!(2000-01-01 00:00 UTC);
    for bad in [
        "P",
        "PT",
        "P1H",
        "P1.5D",
        "90 days",
        "2027-13-01",
        "2027-02-30",
        "2027-01-01T25:00:00",
        "P1D2",
    ] {
        let p = policy(&format!("master_key_expiry_force = \"{bad}\""));
        assert_eq!(p.warnings.len(), 1, "{bad}");
        assert!(p.warnings[0].contains("is ignored"), "{:?}", p.warnings);
        assert_eq!(
            p.expiry(changed, datetime!(2030-01-01 0:00 UTC)),
            ExpiryStatus::Current,
            "{bad}"
        );
    }
}
