//! `--keyspace` and `kv-store keyspaces` on the built binary: data
//! commands in a keyspace, apart from the default one; listing and
//! dropping; what is refused, and with which exit code.

mod common;
use common::{ok, stderr};

use std::path::Path;
use std::process::Output;

fn kv(db: &Path, args: &[&str]) -> Output {
    common::run(db, args, b"")
}

fn fails(out: &Output, code: i32, needle: &str) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(code), "stderr: {err}");
    assert!(err.contains(needle), "{needle:?} not in {err:?}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn data_commands_work_in_a_keyspace_apart_from_the_default() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("db");
    ok(&kv(&db, &["put", "k", "default"]));
    ok(&kv(&db, &["--keyspace", "users", "put", "k", "in users"]));
    ok(&kv(&db, &["--keyspace", "users", "put", "j", "also"]));
    assert_eq!(ok(&kv(&db, &["get", "k"])), "default\n");
    assert_eq!(
        ok(&kv(&db, &["--keyspace", "users", "get", "k"])),
        "in users\n"
    );
    assert_eq!(
        ok(&kv(&db, &["--keyspace", "users", "scan"])),
        "j\talso\nk\tin users\n"
    );
    assert_eq!(ok(&kv(&db, &["scan"])), "k\tdefault\n");
    assert_eq!(ok(&kv(&db, &["--keyspace", "users", "count"])), "2\n");
    ok(&kv(&db, &["--keyspace", "users", "delete", "j"]));
    ok(&kv(&db, &["--keyspace", "users", "compact"]));
    assert_eq!(
        ok(&kv(&db, &["--keyspace", "users", "dump", "-"])),
        "k\tin users\n"
    );

    // load, and load --sorted (ingest), into another keyspace.
    let input = dir.path().join("pairs.tsv");
    std::fs::write(&input, "a\t1\nb\t2\n").expect("write");
    let input = input.to_str().expect("utf-8");
    ok(&kv(&db, &["--keyspace", "orders", "load", input]));
    ok(&kv(
        &db,
        &["--keyspace", "sorted", "load", "--sorted", input],
    ));
    assert_eq!(
        ok(&kv(&db, &["--keyspace", "sorted", "scan"])),
        "a\t1\nb\t2\n"
    );
    assert_eq!(ok(&kv(&db, &["keyspaces"])), "users\norders\nsorted\n");
    assert_eq!(ok(&kv(&db, &["scan"])), "k\tdefault\n");

    ok(&kv(&db, &["keyspaces", "--drop", "orders"]));
    assert_eq!(ok(&kv(&db, &["keyspaces"])), "users\nsorted\n");
    ok(&kv(&db, &["verify"]));
}

#[test]
fn what_is_refused() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("db");
    ok(&kv(&db, &["put", "k", "v"]));
    // Reading a keyspace that does not exist creates nothing.
    fails(
        &kv(&db, &["--keyspace", "nope", "get", "k"]),
        2,
        "no such keyspace",
    );
    fails(
        &kv(&db, &["--keyspace", "nope", "scan"]),
        2,
        "no such keyspace",
    );
    assert_eq!(ok(&kv(&db, &["keyspaces"])), "");
    fails(&kv(&db, &["keyspaces", "--drop", "nope"]), 2, "no keyspace");
    fails(
        &kv(&db, &["--keyspace", "default", "put", "k", "v"]),
        2,
        "default",
    );
    fails(
        &kv(&db, &["--keyspace", "users", "stats"]),
        2,
        "--keyspace works with",
    );
    let bt = dir.path().join("bt");
    ok(&kv(&bt, &["--engine", "btree", "put", "k", "v"]));
    fails(
        &kv(
            &bt,
            &["--engine", "btree", "--keyspace", "users", "put", "k", "v"],
        ),
        2,
        "btree stores have no keyspaces",
    );
    assert_eq!(ok(&kv(&bt, &["--engine", "btree", "keyspaces"])), "");
}
