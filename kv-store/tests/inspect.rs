//! `inspect`: the store's files explained, on both engines, in text and
//! JSON; numbers checked against the files on disk; nothing written; a
//! damaged store described as far as it reads, with exit code 1.

mod common;
use common::ok;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;

fn kv(db: &Path, args: &[&str]) -> Output {
    common::run(db, args, b"")
}

/// Every file under `dir`: relative name to contents.
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

fn json(out: &Output) -> Value {
    let text = String::from_utf8(out.stdout.clone()).unwrap();
    assert_eq!(text.lines().count(), 1, "one JSON document: {text}");
    serde_json::from_str(&text).unwrap()
}

fn u(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a number: {v}"))
}

fn len_on_disk(path: &Path) -> u64 {
    std::fs::metadata(path).unwrap().len()
}

/// Runs inspect in both formats and checks it changed no byte of the store.
fn inspect_both(db: &Path, code: i32) -> (String, Value) {
    let before = snapshot(db);
    let text = kv(db, &["inspect"]);
    assert_eq!(text.status.code(), Some(code), "{text:?}");
    let doc = kv(db, &["inspect", "--format", "json"]);
    assert_eq!(doc.status.code(), Some(code), "{doc:?}");
    assert_eq!(
        snapshot(db),
        before,
        "inspect left every file byte-identical"
    );
    (String::from_utf8(text.stdout).unwrap(), json(&doc))
}

/// An lsm store with tables on two levels (a full compaction, then a
/// flush), two blob values (over 4 KiB), a deletion and a log tail.
fn lsm_store(dir: &Path) -> PathBuf {
    let db = dir.join("lsm");
    let a: String = (1..=3000)
        .map(|i| format!("key{i:05}\t{i:0100}\n"))
        .collect();
    std::fs::write(dir.join("a.tsv"), a).unwrap();
    let b: String = (1500..=2500)
        .map(|i| format!("key{i:05}\tb{i}\n"))
        .collect();
    std::fs::write(dir.join("b.tsv"), b).unwrap();
    std::fs::write(dir.join("big"), vec![b'z'; 6000]).unwrap();
    let big = dir.join("big");
    let big = big.to_str().unwrap();
    ok(&kv(&db, &["load", dir.join("a.tsv").to_str().unwrap()]));
    ok(&kv(&db, &["compact"]));
    ok(&kv(&db, &["load", dir.join("b.tsv").to_str().unwrap()]));
    ok(&kv(&db, &["delete", "key00007"]));
    ok(&kv(&db, &["put", "big1", "--file", big]));
    ok(&kv(&db, &["put", "big2", "--file", big]));
    // `repair` flushes the memtable: an L0 table and a blob file.
    ok(&kv(&db, &["repair"]));
    ok(&kv(&db, &["put", "tail1", "x"]));
    ok(&kv(&db, &["put", "tail2", "y"]));
    db
}

fn live_keys(db: &Path) -> u64 {
    ok(&kv(db, &["scan", "--keys-only"])).lines().count() as u64
}

#[test]
fn lsm_inspect_explains_levels_tables_blobs_and_the_log_tail() {
    let dir = tempfile::tempdir().unwrap();
    let db = lsm_store(dir.path());
    let (text, doc) = inspect_both(&db, 0);

    assert_eq!(doc["engine"], "lsm");
    assert_eq!(doc["opened"], true);
    assert_eq!(doc["problems"].as_array().unwrap().len(), 0);
    let levels = doc["levels"].as_array().unwrap();
    assert_eq!(levels.len(), 7);
    let used: Vec<&Value> = levels.iter().filter(|l| u(&l["table_count"]) > 0).collect();
    assert!(used.len() >= 2, "tables on several levels: {doc}");
    let (mut tables, mut entries, mut bytes) = (0, 0, 0);
    for l in levels {
        let ts = l["tables"].as_array().unwrap();
        assert_eq!(u(&l["table_count"]), ts.len() as u64);
        assert_eq!(
            u(&l["entries"]),
            ts.iter().map(|t| u(&t["entries"])).sum::<u64>()
        );
        for t in ts {
            let name = t["name"].as_str().unwrap();
            assert_eq!(u(&t["size_bytes"]), len_on_disk(&db.join(name)), "{name}");
            assert!(t["smallest_key"].as_str().unwrap() <= t["largest_key"].as_str().unwrap());
            assert!(u(&t["smallest_seqno"]) <= u(&t["largest_seqno"]));
            assert!(u(&t["largest_seqno"]) <= u(&doc["last_sequence"]));
            assert!(u(&t["blocks"]) >= 1 && u(&t["blocks_lz4"]) <= u(&t["blocks"]));
            assert!(u(&t["data_bytes"]) < u(&t["size_bytes"]));
            assert_eq!(t["filter"]["kind"], "blocked-bloom");
            assert!(t["filter"]["bits_per_key"].as_f64().unwrap() > 1.0);
            assert!(u(&t["number"]) < u(&doc["next_file_number"]));
            tables += 1;
            entries += u(&t["entries"]);
            bytes += u(&t["size_bytes"]);
        }
    }
    assert_eq!(u(&doc["totals"]["table_count"]), tables);
    assert_eq!(u(&doc["totals"]["entries"]), entries);
    assert_eq!(u(&doc["totals"]["size_bytes"]), bytes);
    // Every live key is in a table or in the log tail.
    assert!(entries + u(&doc["memtable_entries"]) >= live_keys(&db));
    assert_eq!(
        u(&doc["memtable_entries"]),
        2,
        "the two puts after the flush"
    );
    let bottom = &levels[6]["tables"][0];
    assert_eq!(bottom["smallest_key"], "key00001");
    assert_eq!(bottom["largest_key"], "key03000");
    assert_eq!(u(&bottom["smallest_seqno"]), 1);
    assert_eq!(bottom["compression"], "lz4");

    let manifest = &doc["manifest"];
    let mname = manifest["name"].as_str().unwrap();
    assert_eq!(u(&manifest["size_bytes"]), len_on_disk(&db.join(mname)));
    assert!(u(&manifest["edits"]) >= 1);
    let logs = doc["logs"].as_array().unwrap();
    for l in logs {
        let name = l["name"].as_str().unwrap();
        assert_eq!(u(&l["size_bytes"]), len_on_disk(&db.join(name)), "{name}");
    }
    let tail_records: u64 = logs
        .iter()
        .filter(|l| l["live"] == true)
        .map(|l| u(&l["records"]))
        .sum();
    assert!(tail_records >= 2, "the log tail's two batches: {doc}");

    let blobs = &doc["blobs"];
    assert_eq!(
        (u(&blobs["data_shards"]), u(&blobs["parity_shards"])),
        (1, 0)
    );
    let files = blobs["files"].as_array().unwrap();
    assert_eq!(files.len(), 1, "{doc}");
    let f = &files[0];
    assert_eq!((u(&f["values"]), u(&f["live_values"])), (2, 2));
    assert_eq!(u(&f["value_bytes"]), 12_000);
    assert_eq!(u(&f["garbage_bytes"]), 0);
    assert_eq!(u(&f["shard_files"]), 1);
    let shard = db.join("blobs").join(format!("{:016x}.shard", u(&f["id"])));
    assert_eq!(u(&f["size_bytes"]), len_on_disk(&shard));

    for needle in [
        "engine: lsm",
        "manifest:",
        "write-ahead logs:",
        "level 0:",
        "level 6: 1 table(s)",
        "keys:        key00001 .. key03000",
        "seqnos:      1 .. 3000",
        "compression: lz4",
        "blocked bloom",
        "blob files: 1 (erasure code k=1 + m=0)",
        "(12000 bytes)",
    ] {
        assert!(text.contains(needle), "{needle:?} in:\n{text}");
    }
    assert!(!text.contains("damaged"), "{text}");
}

#[test]
fn inspect_hex_prints_table_keys_as_scan_hex_does() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s");
    ok(&kv(&db, &["put", "--hex", "00ff", "01"]));
    ok(&kv(&db, &["put", "--hex", "0a0b", "02"]));
    ok(&kv(&db, &["compact"]));
    let text = ok(&kv(&db, &["inspect", "--hex"]));
    assert!(text.contains("keys:        00ff .. 0a0b"), "{text}");
    let plain = ok(&kv(&db, &["inspect"]));
    assert!(
        plain.contains(r"keys:        \x00\xff .. \n\x0b"),
        "{plain}"
    );
    // Keys that are not UTF-8 go to `*_base64` in JSON, as in `scan`.
    let doc = json(&kv(&db, &["inspect", "--format", "json"]));
    let t = &doc["levels"][6]["tables"][0];
    assert_eq!(t["smallest_key_base64"], "AP8=");
    assert_eq!(t["largest_key"], "\n\u{b}");
}

#[test]
fn btree_inspect_explains_meta_pages_depth_and_pages_by_kind() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("bt");
    let a: String = (1..=3000)
        .map(|i| format!("key{i:05}\t{i:0100}\n"))
        .collect();
    std::fs::write(dir.path().join("a.tsv"), a).unwrap();
    std::fs::write(dir.path().join("big"), vec![b'z'; 6000]).unwrap();
    let big = dir.path().join("big");
    ok(&kv(
        &db,
        &[
            "--engine",
            "btree",
            "load",
            dir.path().join("a.tsv").to_str().unwrap(),
        ],
    ));
    ok(&kv(&db, &["put", "big1", "--file", big.to_str().unwrap()]));
    ok(&kv(&db, &["delete", "key00005"]));
    let (text, doc) = inspect_both(&db, 0);

    assert_eq!(doc["engine"], "btree");
    assert_eq!(doc["opened"], true);
    assert_eq!(doc["problems"].as_array().unwrap().len(), 0);
    assert_eq!(
        u(&doc["file_size_bytes"]),
        len_on_disk(&db.join("btree.db"))
    );
    assert_eq!(u(&doc["page_size_bytes"]), 4096);
    assert_eq!(u(&doc["format_version"]), 6);
    let metas = doc["meta_pages"].as_array().unwrap();
    assert_eq!(metas.len(), 2);
    assert_eq!(metas.iter().filter(|m| m["current"] == true).count(), 1);
    let current = metas.iter().find(|m| m["current"] == true).unwrap();
    let older = metas.iter().find(|m| m["current"] == false).unwrap();
    for m in metas {
        assert_eq!(m["valid"], true);
        assert_eq!(m["problem"], Value::Null);
    }
    assert!(u(&current["txn"]) > u(&older["txn"]));
    let tree = &doc["tree"];
    assert_eq!(u(&tree["entries"]), live_keys(&db));
    assert_eq!(u(&current["entry_count"]), u(&tree["entries"]));
    assert!(u(&tree["depth"]) >= 2);
    let pages = &tree["pages"];
    assert!(u(&pages["overflow"]) >= 1, "the 6000-byte value: {doc}");
    assert!(u(&pages["leaf"]) > u(&pages["branch"]));
    let sum = ["branch", "leaf", "overflow", "free_tree", "free"]
        .iter()
        .map(|k| u(&pages[*k]))
        .sum::<u64>();
    // Every page past the two meta pages is in one tree or free.
    assert_eq!(sum + 2, u(&tree["page_count"]));
    assert!(u(&tree["page_count"]) * 4096 <= u(&doc["file_size_bytes"]));
    let fill = tree["fill_factor"].as_f64().unwrap();
    assert!(fill > 0.0 && fill <= 1.0);

    for needle in [
        "engine: btree",
        "page size:      4.0 KiB (4096 bytes)",
        "meta page 0: valid",
        "meta page 1: valid",
        "valid, current",
        "depth:",
        "overflow pages:",
        "fill factor:",
    ] {
        assert!(text.contains(needle), "{needle:?} in:\n{text}");
    }
}

/// A btree store given named tables, a multimap table and a persistent
/// savepoint through the library: `inspect` shows the catalogue and
/// savepoint tree roots in the meta pages, each table and each savepoint,
/// and `verify` checks them.
#[test]
fn btree_inspect_shows_tables_and_persistent_savepoints() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("bt");
    for i in 0..20 {
        ok(&kv(
            &db,
            &["--engine", "btree", "put", &format!("k{i:03}"), "v"],
        ));
    }
    {
        let file = btree::Db::open_with_fs(
            std::sync::Arc::new(vfs::OsFs::new()),
            db.join("btree.db"),
            btree::Options::default(),
        )
        .unwrap();
        let mut txn = file.begin_write().unwrap();
        txn.open_table("fruit")
            .unwrap()
            .insert(b"apple", b"red")
            .unwrap();
        txn.open_multimap_table("tags")
            .unwrap()
            .insert(b"apple", b"sweet")
            .unwrap();
        txn.persistent_savepoint().unwrap();
        txn.commit().unwrap();
    }
    let (text, doc) = inspect_both(&db, 0);
    let current = doc["meta_pages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["current"] == true)
        .unwrap()
        .clone();
    assert!(current["catalog_root_page"].is_u64(), "{current}");
    assert!(current["savepoint_root_page"].is_u64(), "{current}");
    let tables = doc["tables"].as_array().unwrap();
    assert_eq!(tables.len(), 2);
    assert_eq!(tables[0]["name"], "fruit");
    assert_eq!(tables[1]["multimap"], true);
    let savepoints = doc["persistent_savepoints"].as_array().unwrap();
    assert_eq!(savepoints.len(), 1);
    assert_eq!(u(&savepoints[0]["entries"]), 20);
    for needle in [
        "table catalogue root:",
        "savepoint tree root:",
        "named tables: 2",
        "\"fruit\": plain, 1 entries",
        "\"tags\": multimap, 1 entries",
        "persistent savepoints: 1",
        "20 entries in the default table",
    ] {
        assert!(text.contains(needle), "{needle:?} in:\n{text}");
    }
    ok(&kv(&db, &["verify"]));
}

#[test]
fn btree_inspect_names_a_damaged_page_and_still_shows_the_meta_pages() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("bt");
    for i in 0..50 {
        ok(&kv(
            &db,
            &["--engine", "btree", "put", &format!("k{i:03}"), "v"],
        ));
    }
    let doc = json(&kv(&db, &["inspect", "--format", "json"]));
    let current = doc["meta_pages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["current"] == true)
        .unwrap()
        .clone();
    let root = u(&current["root_page"]);
    let file = db.join("btree.db");
    let mut bytes = std::fs::read(&file).unwrap();
    bytes[(root * 4096 + 100) as usize] ^= 0xff;
    std::fs::write(&file, &bytes).unwrap();

    let (text, doc) = inspect_both(&db, 1);
    let problems = doc["problems"].as_array().unwrap();
    assert_eq!(problems.len(), 1, "{doc}");
    let p = problems[0].as_str().unwrap();
    assert!(p.contains(&format!("page {root}")), "{p}");
    assert_eq!(doc["tree"], Value::Null);
    assert_eq!(doc["meta_pages"].as_array().unwrap().len(), 2);
    assert!(
        text.contains("meta page 0:") && text.contains("meta page 1:"),
        "{text}"
    );
    assert!(
        text.contains(&format!("damaged: page walk stopped: page {root}")),
        "{text}"
    );
    let out = kv(&db, &["inspect"]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("inspect found 1 damaged"),
        "{out:?}"
    );
}

#[test]
fn lsm_inspect_of_a_store_missing_a_table_lists_its_files_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let db = lsm_store(dir.path());
    let doc = json(&kv(&db, &["inspect", "--format", "json"]));
    let bottom = doc["levels"][6]["tables"][0]["name"]
        .as_str()
        .unwrap()
        .to_string();
    std::fs::remove_file(db.join(&bottom)).unwrap();

    let (text, doc) = inspect_both(&db, 1);
    assert_eq!(doc["engine"], "lsm");
    assert_eq!(doc["opened"], false);
    assert!(
        doc["open_error"].as_str().unwrap().contains(&bottom),
        "{doc}"
    );
    let files = doc["files"].as_array().unwrap();
    for f in files {
        let name = f["name"].as_str().unwrap();
        assert_eq!(u(&f["size_bytes"]), len_on_disk(&db.join(name)), "{name}");
    }
    assert!(files.iter().any(|f| f["name"] == "CURRENT"));
    assert!(files.iter().all(|f| f["name"] != bottom.as_str()));
    assert!(text.contains("the store does not open"), "{text}");
    assert!(
        text.contains("damaged: ") && text.contains(&bottom),
        "{text}"
    );
}

#[test]
fn lsm_inspect_names_a_missing_blob_shard_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s");
    std::fs::write(dir.path().join("big"), vec![b'z'; 6000]).unwrap();
    let big = dir.path().join("big");
    ok(&kv(&db, &["put", "big", "--file", big.to_str().unwrap()]));
    ok(&kv(&db, &["compact"]));
    let shards: Vec<PathBuf> = std::fs::read_dir(db.join("blobs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "shard"))
        .collect();
    assert_eq!(shards.len(), 1);
    std::fs::remove_file(&shards[0]).unwrap();
    let (text, doc) = inspect_both(&db, 1);
    assert_eq!(doc["opened"], true);
    let problems = doc["problems"].as_array().unwrap();
    assert_eq!(problems.len(), 1, "{doc}");
    assert!(problems[0].as_str().unwrap().contains("0 of 1 shard files"));
    assert_eq!(u(&doc["blobs"]["files"][0]["shard_files"]), 0);
    assert!(text.contains("damaged: blob"), "{text}");
}

#[test]
fn inspect_of_a_missing_store_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = kv(&dir.path().join("none"), &["inspect"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(!dir.path().join("none").exists(), "inspect created nothing");
}

#[test]
fn btree_inspect_of_a_refused_file_still_shows_both_meta_pages() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("bt");
    for i in 0..5 {
        ok(&kv(
            &db,
            &["--engine", "btree", "put", &format!("k{i}"), "v"],
        ));
    }
    let doc = json(&kv(&db, &["inspect", "--format", "json"]));
    let current = doc["meta_pages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["current"] == true)
        .map(|m| u(&m["slot"]))
        .unwrap();
    let file = db.join("btree.db");
    let mut bytes = std::fs::read(&file).unwrap();
    bytes[(current * 4096 + 100) as usize] ^= 0xff;
    std::fs::write(&file, &bytes).unwrap();
    assert_eq!(
        kv(&db, &["get", "k1"]).status.code(),
        Some(1),
        "open refuses"
    );

    let (text, doc) = inspect_both(&db, 1);
    assert_eq!(doc["opened"], false);
    assert_eq!(doc["engine"], "btree");
    let metas = doc["meta_pages"].as_array().unwrap();
    assert_eq!(metas.len(), 2, "{doc}");
    let bad = &metas[current as usize];
    assert_eq!(bad["valid"], false);
    assert!(
        bad["problem"].as_str().unwrap().contains("checksum"),
        "{doc}"
    );
    assert_eq!(metas[(current ^ 1) as usize]["valid"], true);
    assert!(
        text.contains(&format!("meta page {current}: INVALID: checksum mismatch")),
        "{text}"
    );
    assert!(text.contains("btree.db"), "{text}");
}
