//! `load --sorted`: sorted input written as tables and ingested (lsm), the
//! same pairs as a plain `load`, unsorted input refused with its line
//! number (the lines before it loaded), the scratch files gone, and the
//! btree engine refused.

mod common;
use common::{ok, stderr};

use std::path::Path;
use std::process::Output;

fn kv(db: &Path, engine: &str, args: &[&str], stdin: &[u8]) -> Output {
    let all: Vec<&str> = ["--engine", engine]
        .into_iter()
        .chain(args.iter().copied())
        .collect();
    common::run(db, &all, stdin)
}

fn sorted_input(n: u32) -> String {
    (0..n).map(|i| format!("k{i:06}\tvalue-{i}\n")).collect()
}

#[test]
fn sorted_load_ingests_the_same_pairs_as_a_plain_load() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let input = sorted_input(20_000);
    let out = ok(&kv(&a, "lsm", &["load", "--sorted", "-"], input.as_bytes()));
    assert!(out.contains("loaded 20000 pairs"), "{out}");
    ok(&kv(&b, "lsm", &["load", "-"], input.as_bytes()));
    let dump_a = ok(&kv(&a, "lsm", &["dump", "-"], b""));
    let dump_b = ok(&kv(&b, "lsm", &["dump", "-"], b""));
    assert_eq!(dump_a.lines().count(), 20_000);
    assert_eq!(dump_a, dump_b);
    assert_eq!(
        ok(&kv(&a, "lsm", &["get", "k012345"], b"")),
        "value-12345\n"
    );
    assert!(!a.join("load-sorted.tmp").exists(), "scratch files left");
    // A second sorted load over the same keys wins over the first.
    let again: String = (0..100).map(|i| format!("k{i:06}\tnew\n")).collect();
    ok(&kv(&a, "lsm", &["load", "--sorted", "-"], again.as_bytes()));
    assert_eq!(ok(&kv(&a, "lsm", &["get", "k000050"], b"")), "new\n");
    assert_eq!(ok(&kv(&a, "lsm", &["get", "k000150"], b"")), "value-150\n");
    let verify = kv(&a, "lsm", &["verify"], b"");
    assert_eq!(verify.status.code(), Some(0), "{}", stderr(&verify));
}

#[test]
fn unsorted_input_stops_at_its_line_keeping_the_lines_before() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let mut input = sorted_input(1000);
    input += "k000500\tback\nk999999\tafter\n";
    let out = kv(&db, "lsm", &["load", "--sorted", "-"], input.as_bytes());
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("line 1001"), "{err}");
    assert!(err.contains("sort"), "{err}");
    let keys = ok(&kv(&db, "lsm", &["scan", "--keys-only"], b""));
    assert_eq!(keys.lines().count(), 1000);
    assert_eq!(ok(&kv(&db, "lsm", &["get", "k000500"], b"")), "value-500\n");
    // A duplicate key is out of order too.
    let out = kv(&db, "lsm", &["load", "--sorted", "-"], b"x\t1\nx\t2\n");
    assert!(stderr(&out).contains("line 2"), "{}", stderr(&out));
    assert!(!db.join("load-sorted.tmp").exists(), "scratch files left");
}

#[test]
fn sorted_load_is_refused_on_btree() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let out = kv(&db, "btree", &["load", "--sorted", "-"], b"a\t1\n");
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("lsm"), "{}", stderr(&out));
}
