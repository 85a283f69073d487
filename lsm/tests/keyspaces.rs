//! Keyspaces: writes, reads, atomic batches across keyspaces, drops, and
//! reopen (recovery from the log and from tables).

use std::sync::Arc;

use larder_lsm::{Db, Error, KeyspaceOptions, Options, WriteBatch};

fn small() -> Options {
    Options {
        write_buffer_size_bytes: 16 << 10,
        ..Options::default()
    }
}

#[test]
fn keyspaces_are_apart_and_a_batch_spans_them() {
    let dir = tempfile::tempdir().expect("dir");
    let db = Db::open(dir.path(), small()).expect("open");
    let a = db.keyspace("a").expect("a");
    a.put("k", "in a").expect("put");
    assert_eq!(a.get(b"k").expect("get").as_deref(), Some(&b"in a"[..]));
    assert_eq!(db.get(b"k").expect("get"), None);
    let b = db.keyspace("b").expect("b");
    let mut batch = WriteBatch::new();
    batch.put("k", "in default");
    batch.put_in(&b, "k", "in b");
    batch.delete_in(&a, "k");
    db.write(batch).expect("write");
    assert_eq!(
        db.get(b"k").expect("get").as_deref(),
        Some(&b"in default"[..])
    );
    assert_eq!(b.get(b"k").expect("get").as_deref(), Some(&b"in b"[..]));
    assert_eq!(a.get(b"k").expect("get"), None);
    assert_eq!(db.keyspace_names(), ["a", "b"]);
}

/// Files in `dir` whose extension is `ext`.
fn files_named(dir: &std::path::Path, ext: &str) -> usize {
    std::fs::read_dir(dir)
        .expect("ls")
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.path().extension().is_some_and(|x| x == ext))
        })
        .count()
}

fn key(i: u32) -> Vec<u8> {
    format!("key{i:06}").into_bytes()
}

#[test]
fn keyspaces_survive_reopen_from_the_log_and_from_tables() {
    let dir = tempfile::tempdir().expect("dir");
    {
        let db = Db::open(dir.path(), small()).expect("open");
        let a = db.keyspace("a").expect("a");
        let b = db
            .keyspace_with(
                "b",
                KeyspaceOptions {
                    write_buffer_size_bytes: 64 << 10,
                    compression: true,
                    bloom_bits_per_key: 4,
                    blob_threshold_bytes: None,
                },
            )
            .expect("b");
        // Enough for several flushes of `a`; `b` keeps part in its memtable.
        for i in 0..3000 {
            a.put(key(i), format!("a{i}")).expect("put a");
            if i % 3 == 0 {
                b.put(key(i), format!("b{i}")).expect("put b");
            }
            if i % 7 == 0 {
                db.put(key(i), format!("d{i}")).expect("put default");
            }
        }
        a.delete_range(key(100)..key(200)).expect("range delete");
        db.wait_idle().expect("idle");
        assert!(a.stats().levels.iter().map(|l| l.files).sum::<usize>() > 0);
        db.close().expect("close");
    }
    // Reopened twice: the second reopen reads the manifest the first wrote.
    for _ in 0..2 {
        let db = Db::open(dir.path(), small()).expect("reopen");
        assert_eq!(db.keyspace_names(), ["a", "b"]);
        let a = db.keyspace("a").expect("a");
        let b = db.keyspace("b").expect("b");
        assert_eq!(b.options().write_buffer_size_bytes, 64 << 10);
        assert!(b.options().compression);
        for i in 0..3000 {
            let want = [
                (!(100..200).contains(&i)).then(|| format!("a{i}")),
                (i % 3 == 0).then(|| format!("b{i}")),
                (i % 7 == 0).then(|| format!("d{i}")),
            ];
            let got = [
                a.get(&key(i)).expect("get a"),
                b.get(&key(i)).expect("get b"),
                db.get(&key(i)).expect("get default"),
            ];
            for (w, g) in want.iter().zip(&got) {
                assert_eq!(g.as_deref(), w.as_deref().map(str::as_bytes), "key {i}");
            }
        }
        assert_eq!(a.iter().count(), 2900);
        assert_eq!(b.iter().rev().count(), 1000);
        db.close().expect("close");
    }
}

#[test]
fn a_dropped_keyspace_is_gone_with_its_files_and_stays_gone() {
    let dir = tempfile::tempdir().expect("dir");
    let db = Db::open(dir.path(), small()).expect("open");
    let a = db.keyspace("a").expect("a");
    let b = db.keyspace("b").expect("b");
    for i in 0..2000 {
        a.put(key(i), vec![b'a'; 100]).expect("put a");
        b.put(key(i), "b").expect("put b");
    }
    db.flush().expect("flush");
    let tables_before = files_named(dir.path(), "sst");
    let a_tables: usize = a.stats().levels.iter().map(|l| l.files).sum();
    assert!(a_tables > 0);
    // An iterator made before the drop reads on.
    let it = a.iter();
    db.drop_keyspace("a").expect("drop");
    assert_eq!(it.count(), 2000);
    assert!(matches!(
        a.get(b"key000001"),
        Err(Error::InvalidKeyspace(_))
    ));
    assert!(matches!(a.put("x", "y"), Err(Error::InvalidKeyspace(_))));
    assert!(matches!(
        db.drop_keyspace("a"),
        Err(Error::InvalidKeyspace(_))
    ));
    db.wait_idle().expect("idle");
    let tables_after = files_named(dir.path(), "sst");
    assert_eq!(tables_after, tables_before - a_tables);
    assert_eq!(db.keyspace_names(), ["b"]);
    // A keyspace handle is a handle on the database: it keeps the
    // directory locked until it is dropped, as a `Db` clone does.
    drop((a, b));
    db.close().expect("close");

    let db = Db::open(dir.path(), small()).expect("reopen");
    assert_eq!(db.keyspace_names(), ["b"]);
    // A new keyspace of the same name starts empty.
    let a = db.keyspace("a").expect("a again");
    assert_eq!(a.iter().count(), 0);
    assert_eq!(db.keyspace("b").expect("b").iter().count(), 2000);
}

#[test]
fn a_dropped_keyspace_with_unflushed_writes_stays_dropped_after_a_crash() {
    let fs = Arc::new(vfs::MemFs::new());
    let opts = small();
    {
        let db = Db::open_with_fs(fs.clone(), "/db", opts.clone()).expect("open");
        let a = db.keyspace("a").expect("a");
        a.put("k", "v").expect("put");
        db.put("d", "v").expect("put");
        db.drop_keyspace("a").expect("drop");
        db.sync().expect("sync");
        // Dropped without close: the log still holds `a`'s write.
    }
    let db = Db::open_with_fs(fs, "/db", opts).expect("reopen");
    assert!(db.keyspace_names().is_empty());
    assert_eq!(db.get(b"d").expect("get").as_deref(), Some(&b"v"[..]));
    assert_eq!(db.keyspace("a").expect("a").get(b"k").expect("get"), None);
}

#[test]
fn names_and_options_out_of_range_are_refused() {
    let dir = tempfile::tempdir().expect("dir");
    let no_blobs = Options {
        blob_threshold_bytes: None,
        ..small()
    };
    let db = Db::open(dir.path(), no_blobs.clone()).expect("open");
    for bad in ["", "default", &"x".repeat(256)] {
        assert!(
            matches!(db.keyspace(bad), Err(Error::InvalidKeyspace(_))),
            "{bad:?}"
        );
    }
    let opts = KeyspaceOptions::from_db(&no_blobs);
    let tiny = KeyspaceOptions {
        write_buffer_size_bytes: 10,
        ..opts
    };
    assert!(matches!(
        db.keyspace_with("t", tiny),
        Err(Error::InvalidKeyspace(_))
    ));
    let blobs = KeyspaceOptions {
        blob_threshold_bytes: Some(100),
        ..opts
    };
    assert!(matches!(
        db.keyspace_with("t", blobs),
        Err(Error::InvalidKeyspace(_))
    ));
    db.keyspace_with("t", opts).expect("create");
    let other = KeyspaceOptions {
        compression: !opts.compression,
        ..opts
    };
    assert!(matches!(
        db.keyspace_with("t", other),
        Err(Error::InvalidKeyspace(_))
    ));
    assert!(matches!(
        db.drop_keyspace("nope"),
        Err(Error::InvalidKeyspace(_))
    ));
    db.close().expect("close");
    let ro = Db::open_read_only(dir.path(), small()).expect("read-only");
    assert_eq!(ro.keyspace_names(), ["t"]);
    assert!(matches!(ro.keyspace("new"), Err(Error::ReadOnly)));
    assert!(matches!(ro.drop_keyspace("t"), Err(Error::ReadOnly)));
}

/// A quiet keyspace does not keep the logs of a busy one alive: its
/// memtable is switched along once it is older than the last few logs.
#[test]
fn a_quiet_keyspace_does_not_pin_old_logs() {
    let dir = tempfile::tempdir().expect("dir");
    let db = Db::open(dir.path(), small()).expect("open");
    let quiet = db.keyspace("quiet").expect("quiet");
    quiet.put("q", "1").expect("put");
    let busy = db.keyspace("busy").expect("busy");
    for i in 0..20_000 {
        busy.put(key(i), vec![b'x'; 64]).expect("put");
    }
    db.wait_idle().expect("idle");
    let logs = files_named(dir.path(), "log");
    assert!(logs <= 8, "{logs} logs live");
    assert!(
        quiet.stats().levels[0].files >= 1,
        "the quiet keyspace was flushed"
    );
    assert_eq!(quiet.get(b"q").expect("get").as_deref(), Some(&b"1"[..]));
}

fn fill(db: &Db) -> (larder_lsm::Keyspace, larder_lsm::Keyspace) {
    let a = db.keyspace("a").expect("a");
    let b = db.keyspace("b").expect("b");
    for i in 0..1500 {
        a.put(key(i), format!("a{i}")).expect("put a");
        if i % 10 == 0 {
            b.put(key(i), vec![b'b'; 5000]).expect("put b (a blob)");
        }
        db.put(key(i), "d").expect("put default");
    }
    db.flush().expect("flush");
    (a, b)
}

#[test]
fn a_checkpoint_holds_every_keyspace() {
    let dir = tempfile::tempdir().expect("dir");
    let db = Db::open(dir.path(), small()).expect("open");
    let (a, b) = fill(&db);
    a.put("late", "in memtable").expect("put");
    let dest = dir.path().join("copy");
    let info = db.checkpoint(&dest).expect("checkpoint");
    assert!(info.tables >= 3 && info.blob_files >= 1, "{info:?}");
    drop((a, b));
    db.close().expect("close");
    let copy = Db::open(&dest, small()).expect("open the copy");
    assert_eq!(copy.keyspace_names(), ["a", "b"]);
    let a = copy.keyspace("a").expect("a");
    let b = copy.keyspace("b").expect("b");
    assert_eq!(
        a.get(b"late").expect("get").as_deref(),
        Some(&b"in memtable"[..])
    );
    assert_eq!(a.iter().count(), 1501);
    assert_eq!(b.get(&key(70)).expect("get").map(|v| v.len()), Some(5000));
    assert_eq!(b.iter().count(), 150);
    assert_eq!(copy.iter().count(), 1500);
    assert!(copy.verify().expect("verify").problems.is_empty());
}

#[test]
fn verify_and_describe_cover_every_keyspace() {
    let dir = tempfile::tempdir().expect("dir");
    let db = Db::open(dir.path(), small()).expect("open");
    let (a, _b) = fill(&db);
    let d = db.describe().expect("describe");
    assert_eq!(d.keyspaces.len(), 2);
    assert_eq!(d.keyspaces[0].name, "a");
    let a_tables: Vec<u64> = d.keyspaces[0]
        .levels
        .iter()
        .flat_map(|l| l.tables.iter().map(|t| t.number))
        .collect();
    assert!(!a_tables.is_empty());
    let report = db.verify().expect("verify");
    for n in &a_tables {
        assert!(
            report.tables.iter().any(|t| t.table == *n),
            "table {n} verified"
        );
    }
    assert_eq!(
        db.stats().levels.iter().map(|l| l.files).sum::<usize>(),
        d.levels.iter().map(|l| l.tables.len()).sum::<usize>()
            + d.keyspaces
                .iter()
                .flat_map(|k| &k.levels)
                .map(|l| l.tables.len())
                .sum::<usize>()
    );
    assert_eq!(
        a.stats().levels.iter().map(|l| l.files).sum::<usize>(),
        a_tables.len()
    );
}

/// Damage at rest in a keyspace's files is found: a flipped byte in one
/// of its tables by `verify`, a deleted table by the next open.
#[test]
fn damage_to_a_keyspace_table_is_reported_or_refused() {
    let dir = tempfile::tempdir().expect("dir");
    let db = Db::open(dir.path(), small()).expect("open");
    let (a, b) = fill(&db);
    let d = db.describe().expect("describe");
    let t = d.keyspaces[0]
        .levels
        .iter()
        .flat_map(|l| l.tables.iter())
        .next()
        .expect("a table of keyspace a")
        .clone();
    drop((a, b));
    db.close().expect("close");
    // A flipped byte in the middle of the first data block.
    let mut bytes = std::fs::read(&t.location).expect("read");
    bytes[100] ^= 0x40;
    std::fs::write(&t.location, &bytes).expect("write");
    let db = Db::open(dir.path(), small()).expect("open");
    let report = db.verify().expect("verify");
    assert!(
        report
            .problems
            .iter()
            .any(|p| format!("{p:?}").contains(&t.name)),
        "{report:?}"
    );
    db.close().expect("close");
    std::fs::remove_file(&t.location).expect("rm");
    match Db::open(dir.path(), small()) {
        Err(Error::Corruption { file, .. }) => assert!(file.ends_with(&t.name), "{file:?}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_transaction_spans_keyspaces_and_conflicts_per_keyspace() {
    let dir = tempfile::tempdir().expect("dir");
    let db = Db::open(dir.path(), small()).expect("open");
    let a = db.keyspace("a").expect("a");
    let b = db.keyspace("b").expect("b");
    a.put("k", "a0").expect("put");
    b.put("k", "b0").expect("put");

    // The same key in another keyspace is another key: no conflict.
    let mut t = db.transaction().expect("txn");
    assert_eq!(
        t.get_in(&a, b"k").expect("get").as_deref(),
        Some(&b"a0"[..])
    );
    b.put("k", "b1").expect("put b");
    db.put("k", "d1").expect("put default");
    t.put_in(&b, "moved", "from a");
    t.delete_in(&a, "k");
    t.commit().expect("commit");
    assert_eq!(a.get(b"k").expect("get"), None);
    assert_eq!(
        b.get(b"moved").expect("get").as_deref(),
        Some(&b"from a"[..])
    );

    // A write to a key read in a keyspace conflicts, and nothing is written.
    let mut t = db.transaction().expect("txn");
    let seen = t.range_in::<&[u8], _>(&b, ..).expect("range");
    assert_eq!(seen.len(), 2);
    t.put_in(&a, "x", "1");
    t.put("x", "1");
    b.put("moved", "again").expect("put");
    assert!(matches!(t.commit(), Err(Error::Conflict { key }) if key == b"moved"));
    assert_eq!(a.get(b"x").expect("get"), None);
    assert_eq!(db.get(b"x").expect("get"), None);

    // Own writes are read back per keyspace.
    let mut t = db.transaction().expect("txn");
    t.put_in(&a, "own", "a");
    assert_eq!(
        t.get_in(&a, b"own").expect("get").as_deref(),
        Some(&b"a"[..])
    );
    assert_eq!(t.get(b"own").expect("get"), None);
    assert_eq!(t.range_in::<&[u8], _>(&a, ..).expect("range").len(), 1);

    // A keyspace dropped before the commit: refused, nothing written.
    db.drop_keyspace("a").expect("drop");
    t.put("d", "1");
    assert!(matches!(t.commit(), Err(Error::InvalidKeyspace(_))));
    assert_eq!(db.get(b"d").expect("get"), None);
}

/// Money moves between accounts kept in two keyspaces, from several
/// threads: the total across both keyspaces never changes.
#[test]
fn transfers_between_keyspaces_keep_the_total() {
    let dir = tempfile::tempdir().expect("dir");
    let db = Db::open(dir.path(), small()).expect("open");
    let checking = db.keyspace("checking").expect("checking");
    let savings = db.keyspace("savings").expect("savings");
    for i in 0..8u32 {
        checking
            .put(key(i), 100u64.to_le_bytes().to_vec())
            .expect("put");
        savings
            .put(key(i), 100u64.to_le_bytes().to_vec())
            .expect("put");
    }
    let read = |v: Option<bytes::Bytes>| {
        u64::from_le_bytes(v.expect("account")[..8].try_into().expect("u64"))
    };
    std::thread::scope(|s| {
        for t in 0..3u32 {
            let (db, checking, savings) = (db.clone(), checking.clone(), savings.clone());
            s.spawn(move || {
                let mut done = 0;
                let mut n = t;
                while done < 40 {
                    n = n.wrapping_mul(1_103_515_245).wrapping_add(12345);
                    let (from, to) = (key(n % 8), key((n / 8) % 8));
                    let mut txn = db.transaction().expect("txn");
                    let f = read(txn.get_in(&checking, &from).expect("get"));
                    let g = read(txn.get_in(&savings, &to).expect("get"));
                    let amount = u64::from(n % 7).min(f);
                    txn.put_in(&checking, from, (f - amount).to_le_bytes().to_vec());
                    txn.put_in(&savings, to, (g + amount).to_le_bytes().to_vec());
                    match txn.commit() {
                        Ok(()) => done += 1,
                        Err(Error::Conflict { .. }) => {}
                        Err(e) => panic!("{e}"),
                    }
                }
            });
        }
    });
    let total: u64 = [&checking, &savings]
        .iter()
        .flat_map(|ks| ks.iter().map(|r| read(Some(r.expect("scan").1))))
        .sum();
    assert_eq!(total, 1600);
}

#[test]
fn ingest_goes_into_the_keyspace_asked_for() {
    let dir = tempfile::tempdir().expect("dir");
    let db = Db::open(dir.path().join("db"), small()).expect("open");
    let a = db.keyspace("a").expect("a");
    a.put(key(5), "older").expect("put");
    db.put(key(5), "default").expect("put");
    let mut w =
        larder_lsm::TableWriter::create(dir.path().join("run.sst"), &small()).expect("writer");
    for i in 0..100 {
        w.put(key(i), format!("ingested{i}")).expect("put");
    }
    let files: Vec<_> = w
        .finish()
        .expect("finish")
        .into_iter()
        .map(|t| t.path)
        .collect();
    let info = a.ingest(&files).expect("ingest");
    assert_eq!(info.tables.iter().map(|t| t.entries).sum::<u64>(), 100);
    assert_eq!(
        a.get(&key(5)).expect("get").as_deref(),
        Some(&b"ingested5"[..])
    );
    assert_eq!(
        db.get(&key(5)).expect("get").as_deref(),
        Some(&b"default"[..])
    );
    assert_eq!(db.get(&key(6)).expect("get"), None);
    assert_eq!(a.iter().count(), 100);
    drop(a);
    db.close().expect("close");
    let db = Db::open(dir.path().join("db"), small()).expect("reopen");
    let a = db.keyspace("a").expect("a");
    assert_eq!(
        a.get(&key(99)).expect("get").as_deref(),
        Some(&b"ingested99"[..])
    );
}

/// Under `Durability::None` a `sync` makes every acknowledged write
/// durable, also a quiet keyspace's write in a log that a busy keyspace's
/// switches have long left behind (its memtable still holds it).
#[test]
fn sync_makes_a_quiet_keyspaces_old_log_durable() {
    let fs = Arc::new(vfs::MemFs::new());
    let opts = Options {
        durability: larder_lsm::Durability::None,
        ..small()
    };
    let db = Db::open_with_fs(fs.clone(), "/db", opts.clone()).expect("open");
    let quiet = db.keyspace("quiet").expect("quiet");
    let busy = db.keyspace("busy").expect("busy");
    quiet.put("q", "1").expect("put");
    // Three switches of `busy`: fewer than switch `quiet` along.
    for i in 0..3 * 16 * 1024 / 80 {
        busy.put(key(i), vec![b'x'; 64]).expect("put");
    }
    db.wait_idle().expect("idle");
    assert_eq!(quiet.stats().levels[0].files, 0, "quiet was not flushed");
    db.sync().expect("sync");
    let image = fs.crash(vfs::CrashOptions {
        seed: 0,
        tear: false,
    });
    drop((quiet, busy, db));
    let db = Db::open_with_fs(Arc::new(image), "/db", opts).expect("reopen");
    let quiet = db.keyspace("quiet").expect("quiet");
    assert_eq!(quiet.get(b"q").expect("get").as_deref(), Some(&b"1"[..]));
}

/// Checkpoints taken while a writer commits batches across two keyspaces
/// with small memtables (flushes all the time): every checkpoint holds
/// each batch whole, in both keyspaces or in neither.
#[test]
fn checkpoints_cut_every_keyspace_at_one_point_while_batches_land() {
    let dir = tempfile::tempdir().expect("dir");
    let opts = Options {
        write_buffer_size_bytes: 4 << 10,
        ..small()
    };
    let db = Db::open(dir.path().join("db"), opts.clone()).expect("open");
    let a = db.keyspace("a").expect("a");
    let b = db.keyspace("b").expect("b");
    let copies: Vec<std::path::PathBuf> = std::thread::scope(|s| {
        s.spawn(|| {
            for i in 0..20_000u32 {
                let mut batch = WriteBatch::new();
                // The counter in both keyspaces, and filler in `a` alone so
                // the two flush at different times.
                batch.put_in(&a, "n", i.to_le_bytes().to_vec());
                batch.put_in(&b, "n", i.to_le_bytes().to_vec());
                batch.put_in(&a, key(i % 500), vec![b'x'; 200]);
                db.write(batch).expect("write");
            }
        });
        (0..6)
            .map(|c| {
                let dest = dir.path().join(format!("copy{c}"));
                db.checkpoint(&dest).expect("checkpoint");
                dest
            })
            .collect()
    });
    for dest in copies {
        let copy = Db::open(&dest, opts.clone()).expect("open copy");
        let (ca, cb) = (
            copy.keyspace("a").expect("a"),
            copy.keyspace("b").expect("b"),
        );
        assert_eq!(
            ca.get(b"n").expect("get"),
            cb.get(b"n").expect("get"),
            "{dest:?}"
        );
    }
}
