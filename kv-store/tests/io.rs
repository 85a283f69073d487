//! How keys, values and errors go in and out of the built binary: `-` for
//! stdin and stdout, `get --raw` and `--format`, the escaped spelling that
//! `scan` prints and every argument accepts back, JSON fields, a byte-order
//! mark, and the exact text of errors (one `error:` prefix, one line number,
//! columns counted within the line).

mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};

use kv_store::store::{Create, Store};
use kv_store::{Flow, ScanSpec};
use proptest::prelude::*;

fn kv(db: &Path, args: &[&str]) -> Output {
    common::run(db, args, b"")
}

fn ok(out: &Output) -> Vec<u8> {
    assert!(
        out.status.success(),
        "exit {:?}, stderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout.clone()
}

fn text(out: &Output) -> String {
    String::from_utf8(ok(out)).unwrap()
}

/// Asserts exit `code`, nothing on stdout and exactly `stderr` (one line).
fn fails_with(out: &Output, code: i32, stderr: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "stderr: {err}");
    assert_eq!(err, format!("{stderr}\n"));
    assert!(out.stdout.is_empty(), "{:?}", out.stdout);
}

/// How long an in-process open, or a command run right after one, waits for
/// a lock another thread's forking child may briefly hold.
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

fn new_db() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    (dir, db)
}

/// Every pair in the store at `db`, read through the library.
///
/// Waits for the store's lock: the kv-store child a test just ran has
/// exited, but a child another test thread is starting at that moment may
/// still hold a copy of a lock descriptor it inherited from this process
/// (inherited at fork, closed at exec).
fn pairs_of(db: &Path) -> Vec<(Vec<u8>, Vec<u8>)> {
    let store = Store::open_with_wait(db, None, Create::Never, LOCK_WAIT).unwrap();
    let mut pairs = Vec::new();
    store
        .engine()
        .scan(&ScanSpec::default(), &mut |k, v| {
            pairs.push((k.to_vec(), v.to_vec()));
            Ok(Flow::Continue)
        })
        .unwrap();
    store.close().unwrap();
    pairs
}

#[test]
fn dash_means_stdout_for_get_out_and_stdin_for_put_file() {
    let (dir, db) = new_db();
    let value = b"line 1\n\ttab\x00\xff end";
    ok(&common::run(&db, &["put", "k", "--file", "-"], value));
    // Run in the temporary directory: no file named `-` may appear.
    let out = Command::new(common::BIN)
        .current_dir(dir.path())
        .args(["--db", "db", "get", "k", "--out", "-"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(ok(&out), value);
    assert!(
        !dir.path().join("-").exists(),
        "a file named `-` was written"
    );
    // --raw: the same bytes, no newline added; without it, escaped + newline.
    assert_eq!(ok(&kv(&db, &["get", "k", "--raw"])), value);
    assert_eq!(
        text(&kv(&db, &["get", "k"])),
        "line 1\\n\\ttab\\x00\\xff end\n"
    );
    let out = kv(&db, &["get", "k", "--raw", "--format", "json"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn get_prints_a_pair_as_tsv_or_json_with_scans_fields() {
    let (_dir, db) = new_db();
    ok(&kv(&db, &["put", "tab\\tkey", "café"]));
    ok(&kv(&db, &["put", "--hex", "ff00", "6869"]));
    assert_eq!(
        text(&kv(&db, &["get", "tab\\tkey", "--format", "json"])),
        "{\"key\":\"tab\\tkey\",\"value\":\"café\"}\n"
    );
    assert_eq!(
        text(&kv(&db, &["get", "tab\\tkey", "--format", "tsv"])),
        "tab\\tkey\tcafé\n"
    );
    assert_eq!(
        text(&kv(&db, &["get", "\\xff\\x00", "--format", "json"])),
        "{\"key_base64\":\"/wA=\",\"value\":\"hi\"}\n"
    );
    assert_eq!(
        text(&kv(&db, &["get", "--hex", "ff00", "--format", "json"])),
        "{\"key_hex\":\"ff00\",\"value_hex\":\"6869\"}\n"
    );
    // Not found: exit 1, nothing on stdout, the key on stderr.
    fails_with(
        &kv(&db, &["get", "no\\tsuch", "--format", "json"]),
        1,
        "error: key not found: no\\tsuch",
    );
}

#[test]
fn scan_prints_utf8_as_text_and_its_spelling_pastes_back() {
    let (_dir, db) = new_db();
    for (k, v) in [
        ("tab\\tkey", "a\\\\b"),
        ("café", "日本語 😀"),
        ("bin\\x00\\xff", "\\r\\n"),
        ("ctl\\x7f\\xc2\\x85", "x"),
    ] {
        ok(&kv(&db, &["put", k, v]));
    }
    let printed = text(&kv(&db, &["scan"]));
    assert_eq!(
        printed,
        "bin\\x00\\xff\t\\r\\n\ncafé\t日本語 😀\nctl\\x7f\\xc2\\x85\tx\ntab\\tkey\ta\\\\b\n"
    );
    assert_eq!(
        pairs_of(&db)[3],
        (b"tab\tkey".to_vec(), b"a\\b".to_vec()),
        "a literal backslash is written \\\\"
    );
    for line in printed.lines() {
        let (k, v) = line.split_once('\t').unwrap();
        assert_eq!(text(&kv(&db, &["get", k])), format!("{v}\n"), "{k}");
        let from = text(&kv(&db, &["scan", "--from", k, "--limit", "1"]));
        assert_eq!(from, format!("{line}\n"));
    }
    ok(&kv(&db, &["delete", "tab\\tkey"]));
    fails_with(
        &kv(&db, &["get", "tab\\tkey"]),
        1,
        "error: key not found: tab\\tkey",
    );
}

#[test]
fn an_unknown_escape_in_an_argument_names_its_column() {
    let (_dir, db) = new_db();
    ok(&kv(&db, &["put", "a", "1"]));
    fails_with(
        &kv(&db, &["get", "é\\q"]),
        2,
        "error: bad argument: `é\\q`: unknown escape \\q at column 2 \
         (escapes are \\\\ \\t \\n \\r \\xHH; write a backslash as \\\\)",
    );
    let (_dir2, fresh) = new_db();
    fails_with(
        &kv(&fresh, &["put", "a\\b", "1"]),
        2,
        "error: bad argument: `a\\b`: unknown escape \\b at column 2 \
         (escapes are \\\\ \\t \\n \\r \\xHH; write a backslash as \\\\)",
    );
    assert!(!fresh.exists(), "a refused put created the store");
    fails_with(
        &kv(&db, &["put", "a", "x\\x4"]),
        2,
        "error: bad argument: `x\\x4`: bad \\x escape at column 2: expected two hex digits",
    );
}

#[test]
fn load_errors_give_one_line_number_and_columns_within_the_line() {
    let (_dir, db) = new_db();
    fails_with(
        &common::run(&db, &["load", "-"], b"a\t1\nkey\tv\\qx\n"),
        2,
        "error: line 2: unknown escape \\q at column 6 (escapes are \\\\ \\t \\n \\r \\xHH; \
         write a backslash as \\\\) (the 1 line(s) before it are committed)",
    );
    fails_with(
        &common::run(&db, &["load", "--format", "json", "-"], b"{\"key\": }\n"),
        2,
        "error: line 1: invalid JSON at column 9: expected value \
         (the 0 line(s) before it are committed)",
    );
}

#[test]
fn a_json_line_giving_a_key_or_value_twice_is_refused() {
    let (_dir, db) = new_db();
    let input = b"{\"key\":\"a\",\"value\":\"1\"}\n{\"key\":\"b\",\"key_base64\":\"Yg==\",\"value\":\"2\"}\n";
    fails_with(
        &common::run(&db, &["load", "--format", "json", "-"], input),
        2,
        "error: line 2: both \"key\" and \"key_base64\" given: give the key once \
         (the 1 line(s) before it are committed)",
    );
    let input = b"{\"key\":\"c\",\"value\":\"1\",\"value_hex\":\"31\"}\n";
    fails_with(
        &common::run(&db, &["load", "--format", "json", "-"], input),
        2,
        "error: line 1: both \"value\" and \"value_hex\" given: give the value once \
         (the 0 line(s) before it are committed)",
    );
    assert_eq!(pairs_of(&db), [(b"a".to_vec(), b"1".to_vec())]);
}

#[test]
fn load_batch_0_is_a_usage_error() {
    let (_dir, db) = new_db();
    let out = common::run(&db, &["load", "--batch", "0", "-"], b"a\t1\n");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with(
            "error: invalid value '0' for '--batch <N>': a batch holds at least 1 pair\n"
        ),
        "{err}"
    );
    assert!(!db.exists(), "a refused command created the store");
}

#[test]
fn scan_hex_json_writes_hex_fields_that_load_reads_back() {
    let (_dir, db) = new_db();
    ok(&kv(&db, &["put", "--hex", "00ff", "6869"]));
    ok(&kv(&db, &["put", "k", "v"]));
    let json = text(&kv(&db, &["scan", "--hex", "--format", "json"]));
    assert_eq!(
        json,
        "{\"key_hex\":\"00ff\",\"value_hex\":\"6869\"}\n{\"key_hex\":\"6b\",\"value_hex\":\"76\"}\n"
    );
    let keys = text(&kv(
        &db,
        &["scan", "--base64", "--format", "json", "--keys-only"],
    ));
    assert_eq!(
        keys,
        "{\"key_base64\":\"AP8=\"}\n{\"key_base64\":\"aw==\"}\n"
    );
    let (_dir2, copy) = new_db();
    ok(&common::run(
        &copy,
        &["load", "--format", "json", "-"],
        json.as_bytes(),
    ));
    assert_eq!(pairs_of(&copy), pairs_of(&db));
}

#[test]
fn a_byte_order_mark_is_skipped_and_said_so() {
    for format in ["tsv", "json"] {
        let (_dir, db) = new_db();
        let input: &[u8] = if format == "tsv" {
            b"\xef\xbb\xbfa\t1\nb\t2\n"
        } else {
            b"\xef\xbb\xbf{\"key\":\"a\",\"value\":\"1\"}\n"
        };
        let out = common::run(&db, &["load", "--format", format, "-"], input);
        let summary = text(&out);
        assert!(
            summary.contains("skipped a UTF-8 byte-order mark at the start"),
            "{summary}"
        );
        assert_eq!(pairs_of(&db)[0], (b"a".to_vec(), b"1".to_vec()));
    }
    // Only at the start: elsewhere it is data.
    let (_dir, db) = new_db();
    let out = common::run(&db, &["load", "-"], "a\t1\n\u{feff}b\t2\n".as_bytes());
    assert!(!text(&out).contains("byte-order"));
    assert_eq!(pairs_of(&db)[1].0, "\u{feff}b".as_bytes());
}

#[test]
fn a_lost_blob_value_names_its_key_as_scan_prints_it() {
    let (_dir, db) = new_db();
    let big = "v".repeat(5000);
    let input = format!("big\t{big}\ntab\\tbig\t{big}\nsmall\tx\n");
    ok(&common::run(&db, &["load", "-"], input.as_bytes()));
    ok(&kv(&db, &["compact"]));
    let blobs = db.join("blobs");
    for entry in std::fs::read_dir(&blobs).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "shard") {
            std::fs::remove_file(path).unwrap();
        }
    }
    let out = kv(&db, &["get", "big"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.starts_with("error: damaged store (lsm engine): value of key big in blob "),
        "{err}"
    );
    let out = kv(&db, &["get", "tab\\tbig"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("value of key tab\\tbig in blob "), "{err}");
    let out = kv(&db, &["verify"]);
    assert_eq!(out.status.code(), Some(1));
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        report.contains("2 value(s) lost") && report.ends_with("keys: big, tab\\tbig\n"),
        "{report}"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    /// Arbitrary byte keys and values, put through the library: `dump`
    /// then `load` gives an identical store, and every key `scan` prints
    /// finds its value with `get`.
    #[test]
    fn arbitrary_bytes_dump_load_and_paste_back(
        pairs in proptest::collection::btree_map(
            proptest::collection::vec(any::<u8>(), 1..12),
            proptest::collection::vec(any::<u8>(), 0..12),
            1..6,
        ),
        json in any::<bool>(),
    ) {
        let (_dir, db) = new_db();
        let store = Store::open(&db, None, Create::IfMissing).unwrap();
        for (k, v) in &pairs {
            store.engine().put(k, v).unwrap();
        }
        store.close().unwrap();
        let format = if json { "json" } else { "tsv" };
        // The store was just closed in this process: wait out a lock copy
        // another thread's child may hold until its exec.
        let dump = ok(&kv(&db, &["--wait", "30", "dump", "--format", format, "-"]));
        let (_dir2, copy) = new_db();
        ok(&common::run(&copy, &["load", "--format", format, "-"], &dump));
        let expected: Vec<_> = pairs.clone().into_iter().collect();
        prop_assert_eq!(pairs_of(&copy), expected);

        let printed = text(&kv(&db, &["scan", "--keys-only"]));
        let keys: Vec<&str> = printed.lines().collect();
        prop_assert_eq!(keys.len(), pairs.len());
        for (key, (_, value)) in keys.iter().zip(&pairs) {
            prop_assert_eq!(&ok(&kv(&db, &["get", "--raw", "--", key])), value);
        }
    }
}

#[test]
fn the_shell_takes_raw_and_escapes_and_dash_reads_the_script_after_it() {
    let (_dir, db) = new_db();
    // As `load -`, `put --file -` in a piped script reads the lines after it.
    let script = "put 'tab\\tkey' 'v\\x01'\nget --raw 'tab\\tkey'\nput k --file -\nrest\n";
    let out = common::run(&db, &["shell"], script.as_bytes());
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(out.stdout, b"v\x01");
    assert_eq!(
        pairs_of(&db),
        [
            (b"k".to_vec(), b"rest\n".to_vec()),
            (b"tab\tkey".to_vec(), b"v\x01".to_vec())
        ]
    );
}
