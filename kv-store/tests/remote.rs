//! `--db s3://bucket/prefix`: the real binary against a real S3 server
//! (`s3s-fs`, in-process on 127.0.0.1), credentials and endpoint passed
//! through the `AWS_*` environment as a user would. Writers keep their log
//! in `--wal-dir`; readers need nothing local and write nothing anywhere.

mod common;
use common::{ok, stderr};

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use objstore::testing::{ACCESS_KEY, REGION, S3Server, SECRET_KEY};
use serde_json::Value;

/// Runs `kv-store --db DB ARGS` with the server's endpoint and keys in the
/// environment (and no other `AWS_*` variable of ours).
fn kv(server: &S3Server, db: &str, args: &[&str], stdin: &[u8]) -> Output {
    let mut cmd = Command::new(common::BIN);
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("AWS_") {
            cmd.env_remove(name);
        }
    }
    let mut child = cmd
        .arg("--db")
        .arg(db)
        .args(args)
        .env("AWS_ENDPOINT_URL", server.endpoint())
        .env("AWS_ALLOW_HTTP", "true")
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
        .env("AWS_REGION", REGION)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    if let Err(e) = input.write_all(stdin) {
        assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "{e}");
    }
    drop(input);
    child.wait_with_output().unwrap()
}

/// Every file under `dir` (the server's buckets): relative name to bytes.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                out.insert(
                    p.strip_prefix(root).unwrap().to_path_buf(),
                    std::fs::read(&p).unwrap(),
                );
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

fn objects(server: &S3Server) -> Vec<String> {
    snapshot(server.dir())
        .keys()
        .map(|p| p.to_string_lossy().into_owned())
        .collect()
}

#[test]
fn a_writer_with_a_local_log_and_readers_with_nothing_local() {
    let server = S3Server::start().unwrap();
    server.bucket("kvs").unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let wal = tmp.path().join("wal");
    let wal_arg = wal.to_str().unwrap();
    let db = "s3://kvs/team/db";

    // Writing: put, load, delete, each a process of its own.
    ok(&kv(
        &server,
        db,
        &["--wal-dir", wal_arg, "put", "a", "1"],
        b"",
    ));
    ok(&kv(
        &server,
        db,
        &["--wal-dir", wal_arg, "put", "b", "2"],
        b"",
    ));
    // Values from 4 KiB on are separated into blob files: those are
    // objects under the prefix too, so readers read them.
    let big = "x".repeat(6000);
    ok(&kv(
        &server,
        db,
        &["--wal-dir", wal_arg, "put", "big", &big],
        b"",
    ));
    let pairs: String = (0..300).map(|i| format!("k{i:04}\tv{i}\n")).collect();
    let out = ok(&kv(
        &server,
        db,
        &["--wal-dir", wal_arg, "load", "-"],
        pairs.as_bytes(),
    ));
    assert!(out.contains("loaded 300 pairs"), "{out}");
    ok(&kv(
        &server,
        db,
        &["--wal-dir", wal_arg, "delete", "a"],
        b"",
    ));

    // The tables are objects under the prefix; the directory keeps the log,
    // the manifest and the tables' URL, and no table.
    let names = objects(&server);
    assert!(
        names.iter().any(|n| n.starts_with("kvs/team/db/tables/")),
        "{names:?}"
    );
    assert!(
        names.iter().any(|n| n.starts_with("kvs/team/db/manifest/")),
        "{names:?}"
    );
    assert!(
        names.iter().any(|n| n.starts_with("kvs/team/db/blobs/")),
        "{names:?}"
    );
    let local: Vec<String> = std::fs::read_dir(&wal)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(!local.iter().any(|n| n.ends_with(".sst")), "{local:?}");
    assert_eq!(
        std::fs::read_to_string(wal.join("KV-TABLES")).unwrap(),
        format!("{db}\n")
    );

    // Reading, with no local directory: nothing written, on the server or
    // here.
    let before = snapshot(server.dir());
    assert_eq!(ok(&kv(&server, db, &["get", "b"], b"")), "2\n");
    assert_eq!(
        ok(&kv(&server, db, &["get", "big"], b"")),
        format!("{big}\n")
    );
    assert_eq!(ok(&kv(&server, db, &["get", "k0123"], b"")), "v123\n");
    let gone = kv(&server, db, &["get", "a"], b"");
    assert_eq!(gone.status.code(), Some(1), "{}", stderr(&gone));
    assert_eq!(
        ok(&kv(
            &server,
            db,
            &["scan", "--prefix", "k02", "--limit", "2"],
            b""
        )),
        "k0200\tv200\nk0201\tv201\n"
    );
    assert_eq!(ok(&kv(&server, db, &["count"], b"")), "302\n");
    let dumped = ok(&kv(&server, db, &["dump", "-"], b""));
    assert_eq!(dumped.lines().count(), 302);
    let verified = ok(&kv(&server, db, &["verify"], b""));
    assert!(verified.starts_with("ok: 302 pairs"), "{verified}");
    ok(&kv(&server, db, &["stats"], b""));

    let text = ok(&kv(&server, db, &["inspect"], b""));
    assert!(text.contains(&format!("engine: lsm ({db})")), "{text}");
    assert!(
        text.contains("manifest:") && text.contains(&format!("{db}/manifest/")),
        "{text}"
    );
    assert!(
        text.contains(&format!("location:    {db}/tables/")),
        "{text}"
    );
    let doc: Value =
        serde_json::from_str(&ok(&kv(&server, db, &["inspect", "--format", "json"], b""))).unwrap();
    let tables: Vec<&Value> = doc["levels"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|l| l["tables"].as_array().unwrap())
        .collect();
    assert!(!tables.is_empty(), "{doc}");
    for t in tables {
        let location = t["location"].as_str().unwrap();
        let name = t["name"].as_str().unwrap();
        assert_eq!(location, format!("{db}/tables/{name}"));
    }
    assert!(
        doc["published_manifest"]["location"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{db}/manifest/")),
        "{doc}"
    );
    assert_eq!(
        snapshot(server.dir()),
        before,
        "a reader wrote to the bucket"
    );

    // A compaction through the writer, then readers see the same pairs.
    ok(&kv(&server, db, &["--wal-dir", wal_arg, "compact"], b""));
    assert_eq!(ok(&kv(&server, db, &["count"], b"")), "302\n");
    assert_eq!(ok(&kv(&server, db, &["get", "b"], b"")), "2\n");
}

#[test]
fn what_cannot_run_remotely_says_why() {
    let server = S3Server::start().unwrap();
    server.bucket("kvs").unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let wal = tmp.path().join("wal");
    let wal_arg = wal.to_str().unwrap();
    let db = "s3://kvs/db";

    let refused = |out: &Output, code: i32, needle: &str| {
        assert_eq!(out.status.code(), Some(code), "{}", stderr(out));
        assert!(
            stderr(out).contains(needle),
            "{needle:?} in {}",
            stderr(out)
        );
    };
    // Nothing published yet: a reader says so and exits 1.
    refused(
        &kv(&server, db, &["get", "a"], b""),
        1,
        "no published manifest",
    );
    // A write needs a local log.
    refused(&kv(&server, db, &["put", "a", "1"], b""), 2, "--wal-dir");
    refused(
        &kv(
            &server,
            db,
            &["checkpoint", tmp.path().join("c").to_str().unwrap()],
            b"",
        ),
        2,
        "checkpoint needs a local store",
    );
    refused(
        &kv(&server, db, &["bench"], b""),
        2,
        "bench needs a local store",
    );
    refused(
        &kv(
            &server,
            db,
            &["--engine", "btree", "--wal-dir", wal_arg, "put", "a", "1"],
            b"",
        ),
        2,
        "btree",
    );
    refused(&kv(&server, "s3://", &["get", "a"], b""), 2, "no bucket");
    assert!(objects(&server).is_empty(), "{:?}", objects(&server));

    // --wal-dir belongs to s3:// stores; a log directory is not a store of
    // its own, and serves one URL only.
    let local = tmp.path().join("local");
    refused(
        &kv(
            &server,
            local.to_str().unwrap(),
            &["--wal-dir", wal_arg, "put", "a", "1"],
            b"",
        ),
        2,
        "--wal-dir",
    );
    ok(&kv(
        &server,
        db,
        &["--wal-dir", wal_arg, "put", "a", "1"],
        b"",
    ));
    refused(&kv(&server, wal_arg, &["get", "a"], b""), 2, db);
    refused(&kv(&server, wal_arg, &["put", "a", "2"], b""), 2, db);
    refused(
        &kv(
            &server,
            "s3://kvs/other",
            &["--wal-dir", wal_arg, "put", "a", "1"],
            b"",
        ),
        2,
        "not of s3://kvs/other",
    );
    assert_eq!(ok(&kv(&server, db, &["get", "a"], b"")), "1\n");
}
