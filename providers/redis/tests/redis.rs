//! The Redis repository against a real, private redis-server.
// Unix only: a private redis-server on a unix socket (the Windows legs are .ci/legs.d/windows-*.sh).
#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use redis::Commands;
use trousseau_core::{Element, ErrorCode, Repository};
use trousseau_redis::{RedisConfig, RedisRepository};
use trousseau_tests::fixtures::{
    key_element, key_id, key_xml, key_xml_indented, mass_revocation_xml, revocation_xml,
    store_and_read_back,
};
use trousseau_tests::{free_port, Redis};

const LIST: &str = "DataProtection-Keys";

fn repo(json: &str) -> RedisRepository {
    RedisRepository::new(RedisConfig::from_json(json).unwrap()).unwrap()
}

fn repo_at(redis: &Redis) -> RedisRepository {
    repo(&format!(r#"{{"url":"{}"}}"#, redis.url()))
}

/// A plain client, standing in for an ASP.NET Core node (StackExchange.Redis).
fn raw(redis: &Redis) -> redis::Connection {
    redis::Client::open(redis.url())
        .unwrap()
        .get_connection()
        .unwrap()
}

#[test]
fn round_trip_keeps_order_text_and_names() {
    let redis = Redis::start();
    let repo = repo_at(&redis);
    let snapshot = store_and_read_back(&repo);
    assert_eq!(snapshot.version().len(), 64);
    let d = repo.describe();
    assert_eq!(d.provider_id(), "redis");
    assert!(d.location().contains(LIST) && d.location().contains("redis.sock"));
}

#[test]
fn reads_a_list_written_in_the_asp_net_layout() {
    let redis = Redis::start();
    let mut con = raw(&redis);
    // StackExchange.Redis: RPUSH of element.ToString(SaveOptions.DisableFormatting).
    let _: () = con
        .rpush(LIST, &[key_xml(&key_id(7)), mass_revocation_xml()])
        .unwrap();
    let snapshot = repo_at(&redis).load().unwrap();
    let elements = snapshot.elements();
    assert_eq!(elements.len(), 2);
    assert_eq!(elements[0], key_element(7));
    assert_eq!(elements[1].xml(), mass_revocation_xml());
    assert!(elements[1].name().starts_with("revocation-"));
}

#[test]
fn writes_entries_byte_for_byte_as_asp_net_does() {
    let redis = Redis::start();
    let repo = repo_at(&redis);
    // Whatever formatting the caller used, the list holds the text without formatting.
    repo.store(&Element::new("key-x", key_xml_indented(&key_id(3))))
        .unwrap();
    repo.store(&Element::new(
        "revocation-x",
        format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n{}",
            revocation_xml(&key_id(3))
        ),
    ))
    .unwrap();
    let entries: Vec<String> = raw(&redis).lrange(LIST, 0, -1).unwrap();
    assert_eq!(
        entries,
        vec![key_xml(&key_id(3)), revocation_xml(&key_id(3))]
    );
}

#[test]
fn conditional_store_detects_every_intervening_write() {
    let redis = Redis::start();
    let repo = repo_at(&redis);
    let v0 = repo.load().unwrap().version().to_string();
    let v1 = repo.store_conditional(&v0, &[key_element(1)]).unwrap();
    assert_ne!(v1, v0);
    assert_eq!(repo.load().unwrap().version(), v1);

    // A racing node that read v0 loses and stores nothing.
    let lost = repo.store_conditional(&v0, &[key_element(2)]).unwrap_err();
    assert_eq!(lost.code(), ErrorCode::Conflict);
    assert!(lost.message().contains(LIST), "{}", lost.message());
    assert_eq!(repo.load().unwrap().elements(), &[key_element(1)][..]);

    // An ASP.NET node's plain RPUSH moves the version too.
    let _: () = raw(&redis).rpush(LIST, key_xml(&key_id(9))).unwrap();
    let err = repo.store_conditional(&v1, &[key_element(2)]).unwrap_err();
    assert_eq!(err.code(), ErrorCode::Conflict);
    let now = repo.load().unwrap();
    assert_ne!(now.version(), v1);
    let v3 = repo
        .store_conditional(now.version(), &[key_element(2), key_element(4)])
        .unwrap();
    let last = repo.load().unwrap();
    assert_eq!(last.version(), v3);
    assert_eq!(
        last.elements(),
        &[
            key_element(1),
            key_element(9),
            key_element(2),
            key_element(4)
        ][..]
    );
}

#[test]
fn deletion_removes_exactly_the_named_elements() {
    let redis = Redis::start();
    let repo = repo_at(&redis);
    let revocation = Element::new("r", revocation_xml(&key_id(1)));
    for e in [key_element(1), key_element(2), revocation] {
        repo.store(&e).unwrap();
    }
    let before = repo.load().unwrap();
    repo.delete(&[
        format!("key-{}", key_id(1)),
        format!("revocation-{}", key_id(1)),
        "key-absent".into(),
    ])
    .unwrap();
    let after = repo.load().unwrap();
    assert_eq!(after.elements(), &[key_element(2)][..]);
    assert_ne!(after.version(), before.version());
    assert_eq!(
        repo.store_conditional(before.version(), &[key_element(5)])
            .unwrap_err()
            .code(),
        ErrorCode::Conflict
    );
}

#[test]
fn server_killed_then_restarted_without_recreating_the_repository() {
    let mut redis = Redis::start();
    let repo = repo_at(&redis);
    repo.store(&key_element(1)).unwrap();
    redis.kill();
    for err in [
        repo.load().unwrap_err(),
        repo.store(&key_element(2)).unwrap_err(),
    ] {
        assert_eq!(err.code(), ErrorCode::Unavailable, "{err:?}");
        assert!(
            err.message().contains("redis.sock") && err.message().contains(LIST),
            "{}",
            err.message()
        );
        assert!(
            err.message().contains("check that the server is running"),
            "{}",
            err.message()
        );
    }
    redis.restart();
    repo.store(&key_element(3)).unwrap();
    assert_eq!(repo.load().unwrap().elements(), &[key_element(3)][..]);
}

#[test]
fn wrong_url_scheme_and_unreachable_host_are_explained() {
    let err = RedisConfig::from_json(r#"{"url":"http://127.0.0.1:6379"}"#)
        .and_then(RedisRepository::new)
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidConfig);
    assert!(err.message().contains("redis://"), "{}", err.message());

    let port = free_port();
    let repo = repo(&format!(
        r#"{{"url":"redis://127.0.0.1:{port}/0","connect_timeout_ms":500}}"#
    ));
    let err = repo.load().unwrap_err();
    assert_eq!(err.code(), ErrorCode::Unavailable);
    assert!(
        err.message().contains(&format!("127.0.0.1:{port}")),
        "{}",
        err.message()
    );
}

#[test]
fn wrong_password_names_the_host_but_never_the_password() {
    let redis = Redis::start_with_password("correct-horse");
    let url = format!("{}?pass=wrong-battery", redis.url());
    let err = repo(&format!(r#"{{"url":"{url}"}}"#)).load().unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidConfig, "{err:?}");
    assert!(err.message().contains("redis.sock"), "{}", err.message());
    assert!(!err.message().contains("wrong-battery") && !err.message().contains("correct-horse"));

    let url = format!("{}?pass=correct-horse", redis.url());
    let good = repo(&format!(r#"{{"url":"{url}"}}"#));
    good.store(&key_element(1)).unwrap();
    assert!(!format!("{good:?}").contains("correct-horse"));
    assert!(!good.describe().location().contains("correct-horse"));
}

#[test]
fn a_key_of_another_type_is_a_clear_error() {
    let redis = Redis::start();
    let _: () = raw(&redis).set(LIST, "not a list").unwrap();
    let repo = repo_at(&redis);
    for err in [
        repo.load().unwrap_err(),
        repo.store(&key_element(1)).unwrap_err(),
        repo.store_conditional("x", &[key_element(1)]).unwrap_err(),
    ] {
        assert_eq!(err.code(), ErrorCode::CorruptData, "{err:?}");
        assert!(
            err.message().contains("not a list") && err.message().contains(LIST),
            "{}",
            err.message()
        );
    }
    let value: String = raw(&redis).get(LIST).unwrap();
    assert_eq!(value, "not a list");
}

#[test]
fn elements_that_are_not_xml_are_refused_before_anything_is_written() {
    let redis = Redis::start();
    let repo = repo_at(&redis);
    let err = repo
        .store(&Element::new("key-bad", "<key><oops></key>"))
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidInput);
    assert!(err.message().contains("key-bad"), "{}", err.message());
    let v0 = repo.load().unwrap().version().to_string();
    let err = repo
        .store_conditional(
            &v0,
            &[key_element(1), Element::new("key-bad", "plain text")],
        )
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidInput);
    assert!(repo.load().unwrap().elements().is_empty());

    // A foreign entry in the list is reported with its position.
    let _: () = raw(&redis).rpush(LIST, "garbage").unwrap();
    let err = repo.load().unwrap_err();
    assert_eq!(err.code(), ErrorCode::CorruptData);
    assert!(err.message().contains("entry 0"), "{}", err.message());
}

#[test]
#[cfg(feature = "tls")]
fn rediss_with_a_private_ca_round_trips_and_refuses_an_untrusted_server() {
    let redis = Redis::start_tls();
    let config = |extra: &str| format!(r#"{{"url":"{}"{extra}}}"#, redis.tls_url());
    let ca = format!(r#","tls_ca_file":"{}""#, redis.ca_file().display());
    let trusted = repo(&config(&ca));
    trusted.store(&key_element(1)).unwrap();
    assert_eq!(trusted.load().unwrap().elements(), &[key_element(1)][..]);
    assert!(trusted
        .describe()
        .location()
        .starts_with("rediss://localhost:"));

    // Without the CA, the public web roots do not vouch for this server: refused, named.
    let err = repo(&config("")).load().unwrap_err();
    assert_eq!(err.code(), ErrorCode::Unavailable, "{}", err.message());
    assert!(err.message().contains("tls_ca_file"), "{}", err.message());
    assert!(
        err.message().contains(&redis.tls_url().replace("/0", "")),
        "{}",
        err.message()
    );

    // A CA file that is not PEM, or one given for a plain connection: configuration errors.
    let not_pem = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(not_pem.path(), "hello").unwrap();
    let err = RedisConfig::from_json(&config(&format!(
        r#","tls_ca_file":"{}""#,
        not_pem.path().display()
    )))
    .and_then(RedisRepository::new)
    .unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidConfig);
    assert!(
        err.message().contains("no PEM certificate"),
        "{}",
        err.message()
    );
    let err = RedisConfig::from_json(&format!(r#"{{"url":"{}"{ca}}}"#, redis.url()))
        .and_then(RedisRepository::new)
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidConfig);
    assert!(err.message().contains("rediss://"), "{}", err.message());
}

/// Every operation that reads the list, with the error each gives.
fn every_read(repo: &RedisRepository) -> Vec<trousseau_core::Error> {
    vec![
        repo.load().unwrap_err(),
        repo.delete(&["key-x".into()]).unwrap_err(),
        repo.store_conditional("x", &[key_element(1)]).unwrap_err(),
    ]
}

#[test]
fn an_entry_over_the_element_ceiling_is_refused_by_every_read() {
    let redis = Redis::start();
    let mut con = raw(&redis);
    let huge = format!("<key>{}</key>", "x".repeat(2 << 20));
    let _: () = con.rpush(LIST, &[key_xml(&key_id(1)), huge]).unwrap();
    // The default ceiling: 1 MiB per entry.
    for err in every_read(&repo_at(&redis)) {
        assert_eq!(err.code(), ErrorCode::CorruptData, "{err:?}");
        let m = err.message();
        assert!(
            m.contains("entry 1 of the list is 2097163 bytes long")
                && m.contains("1048576")
                && m.contains("max_element_bytes")
                && m.contains(LIST),
            "{m}"
        );
    }
    // Nothing was changed by the refused writes.
    let len: usize = con.llen(LIST).unwrap();
    assert_eq!(len, 2);
    // A configured ceiling that admits it reads it.
    let roomy = repo(&format!(
        r#"{{"url":"{}","max_element_bytes":4194304}}"#,
        redis.url()
    ));
    assert_eq!(roomy.load().unwrap().elements().len(), 2);
}

#[test]
fn a_list_over_the_ring_ceiling_is_refused_whatever_its_entries_sizes() {
    let redis = Redis::start();
    let mut con = raw(&redis);
    // Many small entries: 40 × (1000 + 256) bytes is over a 32 KiB ceiling.
    let entries: Vec<String> = (0..40)
        .map(|i| format!("<k n=\"{i}\">{}</k>", "y".repeat(986)))
        .collect();
    let _: () = con.rpush(LIST, &entries).unwrap();
    let small = repo(&format!(
        r#"{{"url":"{}","max_ring_bytes":32768,"max_element_bytes":2048}}"#,
        redis.url()
    ));
    for err in every_read(&small) {
        assert_eq!(err.code(), ErrorCode::CorruptData, "{err:?}");
        let m = err.message();
        assert!(
            m.contains("more than 32768 bytes by entry 26") && m.contains("max_ring_bytes"),
            "{m}"
        );
    }
    // The default ceiling (64 MiB) also counts entries: 300,000 one-byte entries are refused.
    let _: () = con.del(LIST).unwrap();
    for _ in 0..3 {
        let _: () = con.rpush(LIST, vec!["z"; 100_000]).unwrap();
    }
    let err = repo_at(&redis).load().unwrap_err();
    assert!(
        err.message().contains("more than 67108864 bytes"),
        "{}",
        err.message()
    );
}

#[test]
fn a_user_who_may_not_run_eval_is_told_which_permission_to_grant() {
    let redis = Redis::start();
    let _: () = redis::cmd("ACL")
        .arg(&["SETUSER", "reader", "on", ">pw", "~*", "+@all", "-eval"])
        .query(&mut raw(&redis))
        .unwrap();
    let limited = repo(&format!(
        r#"{{"url":"{}?user=reader&pass=pw"}}"#,
        redis.url()
    ));
    let err = limited.load().unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidConfig, "{err:?}");
    assert!(
        err.message().contains("+eval") && err.message().contains("redis.sock"),
        "{}",
        err.message()
    );
}
