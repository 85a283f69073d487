//! Key-value separation over an erasure-coded blob store: values survive
//! the loss of up to `m` blob directories or object stores, or rot in up to
//! `m` shards; with `m + 1` lost, the errors name the keys. Every test runs
//! with the shards in `k + m` directories and in `k + m` object stores
//! (`Options::blob_stores`, in memory); one runs on `k + m` buckets of a
//! real S3 server.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use larder_lsm::{BlobCode, Db, Error, Options};
use objstore::{MemStore, PutMode, Store};
use vfs::{Fs, MemFs, OpenMode};

const K: usize = 2;
const M: usize = 1;

fn dirs() -> Vec<PathBuf> {
    (0..K + M)
        .map(|i| PathBuf::from(format!("/blob{i}")))
        .collect()
}

/// Where one run keeps its blob shards, with the disk of the rest.
struct Place {
    fs: MemFs,
    /// `None`: the directories [`dirs`]; else the `k + m` stores.
    stores: Option<Vec<Arc<dyn Store>>>,
}

impl Place {
    fn dirs() -> Place {
        Place {
            fs: MemFs::new(),
            stores: None,
        }
    }

    fn stores(stores: Vec<Arc<dyn Store>>) -> Place {
        assert_eq!(stores.len(), K + M);
        Place {
            fs: MemFs::new(),
            stores: Some(stores),
        }
    }

    fn mem_stores() -> Place {
        Place::stores(
            (0..K + M)
                .map(|_| Arc::new(MemStore::new()) as Arc<dyn Store>)
                .collect(),
        )
    }

    fn name(&self) -> &'static str {
        if self.stores.is_some() {
            "stores"
        } else {
            "dirs"
        }
    }

    fn opts(&self) -> Options {
        let base = Options {
            blob_threshold_bytes: Some(1000),
            blob_code: BlobCode {
                data_shards: K,
                parity_shards: M,
            },
            ..common::tiny_options()
        };
        match &self.stores {
            None => Options {
                blob_dirs: dirs(),
                ..base
            },
            Some(stores) => Options {
                blob_stores: stores.clone(),
                ..base
            },
        }
    }

    fn open(&self) -> Db {
        Db::open_with_fs(Arc::new(self.fs.clone()), "/db", self.opts()).expect("open")
    }

    /// Names of the shards at index `i`: file names in directory `i`, or
    /// object names in store `i`.
    fn shards(&self, i: usize) -> Vec<String> {
        match &self.stores {
            None => self
                .fs
                .list_dir(&dirs()[i])
                .expect("list")
                .into_iter()
                .map(|n| n.to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".shard"))
                .collect(),
            Some(stores) => stores[i]
                .list("blobs/")
                .expect("list")
                .into_iter()
                .map(|m| m.name)
                .filter(|n| n.ends_with(".shard"))
                .collect(),
        }
    }

    fn read(&self, i: usize, name: &str) -> Vec<u8> {
        match &self.stores {
            None => {
                let f = self
                    .fs
                    .open(&dirs()[i].join(name), OpenMode::Read)
                    .expect("open shard");
                let mut b = vec![0; f.len().expect("len") as usize];
                f.read_exact_at(&mut b, 0).expect("read");
                b
            }
            Some(stores) => stores[i].get(name).expect("get").0.to_vec(),
        }
    }

    fn write(&self, i: usize, name: &str, bytes: Vec<u8>) {
        match &self.stores {
            None => {
                let f = self
                    .fs
                    .open(&dirs()[i].join(name), OpenMode::ReadWrite)
                    .expect("open shard");
                f.write_all_at(&bytes, 0).expect("write");
            }
            Some(stores) => {
                stores[i]
                    .put(name, Bytes::from(bytes), PutMode::Overwrite)
                    .expect("put");
            }
        }
    }

    /// Where shard `i` lives, as damage reports name it.
    fn location(&self, i: usize) -> String {
        match &self.stores {
            None => dirs()[i].display().to_string(),
            Some(stores) => stores[i].location(),
        }
    }

    /// Deletes every shard at index `i` (a disk or bucket lost).
    fn lose(&self, i: usize) {
        for n in self.shards(i) {
            match &self.stores {
                None => self.fs.remove_file(&dirs()[i].join(&n)).expect("remove"),
                Some(stores) => stores[i].delete(&n).expect("delete"),
            }
        }
    }

    /// Flips a byte every 997 from offset 100 of every shard at index `i`.
    fn rot(&self, i: usize) {
        for n in self.shards(i) {
            let mut b = self.read(i, &n);
            for off in (100..b.len()).step_by(997) {
                b[off] ^= 0x5a;
            }
            self.write(i, &n, b);
        }
    }
}

/// Runs `test` with the shards in directories, then in object stores.
fn each_place(test: impl Fn(&Place)) {
    for place in [Place::dirs(), Place::mem_stores()] {
        eprintln!("blob shards in {}", place.name());
        test(&place);
    }
}

fn value(i: u32) -> Vec<u8> {
    // Alternately large (separated) and small (inline).
    let len = if i.is_multiple_of(2) {
        1000 + (i as usize * 37) % 9000
    } else {
        20
    };
    (0..len).map(|j| (i as usize * 31 + j) as u8).collect()
}

fn key(i: u32) -> Vec<u8> {
    format!("key{i:05}").into_bytes()
}

const N: u32 = 200;

/// Writes `N` keys, half with large values, flushes and compacts.
fn fill(place: &Place) {
    let db = place.open();
    for i in 0..N {
        db.put(key(i), value(i)).expect("put");
    }
    db.flush().expect("flush");
    db.compact_range::<&[u8], _>(..).expect("compact");
    db.close().expect("close");
}

fn read_all(db: &Db) {
    for i in 0..N {
        assert_eq!(
            db.get(&key(i)).expect("get").as_deref(),
            Some(value(i).as_slice()),
            "key {i}"
        );
    }
    let all = common::collect(db.range::<&[u8], _>(..));
    assert_eq!(all.len(), N as usize);
    for (i, (k, v)) in all.into_iter().enumerate() {
        assert_eq!(k, key(i as u32));
        assert_eq!(v, value(i as u32));
    }
}

#[test]
fn large_values_go_to_blobs_and_read_back() {
    each_place(|place| {
        fill(place);
        assert!(!place.shards(0).is_empty());
        if place.stores.is_some() {
            // Nothing of the blob store is in the directory.
            assert!(!place.fs.exists(Path::new("/db/blobs")).expect("exists"));
        }
        read_all(&place.open());
    });
}

#[test]
fn losing_m_blob_dirs_or_stores_loses_no_value() {
    for lost in 0..K + M {
        each_place(|place| {
            fill(place);
            place.lose(lost);
            read_all(&place.open());
        });
    }
}

#[test]
fn flipped_bytes_in_m_shards_lose_no_value() {
    for rotten in 0..K + M {
        each_place(|place| {
            fill(place);
            place.rot(rotten);
            let db = place.open();
            read_all(&db);
            // The damage is reported naming the store or directory, the
            // shard's file or object, and the offset of the bad stripe.
            let r = db.verify().expect("verify");
            assert!(r.lost_nothing() && !r.is_clean(), "{r:?}");
            let location = place.location(rotten);
            for p in &r.problems {
                let larder_lsm::Problem::BlobDegraded { damage, .. } = p else {
                    panic!("{p:?}");
                };
                assert_eq!(damage.len(), 1, "{damage:?}");
                let d = &damage[0];
                assert!(
                    d.contains(&location) && d.contains(".shard at offset "),
                    "{d}"
                );
            }
        });
    }
}

/// With `m + 1` shards of every blob gone, separated values are errors
/// naming their keys, never wrong values; inline values still read.
fn m_plus_one_lost_names_the_keys(db: &Db) {
    for i in 0..N {
        let r = db.get(&key(i));
        if i.is_multiple_of(2) {
            assert!(
                matches!(&r, Err(Error::BlobUnavailable { key: k, .. }) if *k == key(i)),
                "key {i}: {r:?}"
            );
        } else {
            assert_eq!(r.expect("inline").as_deref(), Some(value(i).as_slice()));
        }
    }
    let first_err = db.range::<&[u8], _>(..).find_map(Result::err);
    assert!(
        matches!(&first_err, Some(Error::BlobUnavailable { key: k, .. }) if *k == key(0)),
        "{first_err:?}"
    );
}

#[test]
fn losing_m_plus_one_blob_dirs_or_stores_names_the_keys() {
    each_place(|place| {
        fill(place);
        for i in 0..=M {
            place.lose(i);
        }
        m_plus_one_lost_names_the_keys(&place.open());
    });
}

#[test]
fn separation_off_reads_existing_blob_values() {
    each_place(|place| {
        fill(place);
        let off = Options {
            blob_threshold_bytes: None,
            ..place.opts()
        };
        let db = Db::open_with_fs(Arc::new(place.fs.clone()), "/db", off).expect("open");
        read_all(&db);
    });
}

#[test]
fn verify_is_clean_on_a_healthy_db() {
    each_place(|place| {
        fill(place);
        let r = place.open().verify().expect("verify");
        assert!(r.is_clean(), "{r:?}");
        assert_eq!(r.blob_refs_checked, u64::from(N / 2));
        assert!(r.tables_checked > 0 && r.entries_checked >= u64::from(N));
    });
}

#[test]
fn verify_reports_degraded_blobs_and_repair_rebuilds_them() {
    each_place(|place| {
        fill(place);
        place.lose(1);
        let db = place.open();
        let r = db.verify().expect("verify");
        assert!(!r.is_clean() && r.lost_nothing(), "{r:?}");
        assert!(
            r.problems.iter().all(
                |p| matches!(p, larder_lsm::Problem::BlobDegraded { bad_shards, damage, .. }
                    if *bad_shards == [1] && damage.len() == 1
                        && damage[0].contains(&place.location(1)) && damage[0].contains("missing"))
            ),
            "{r:?}"
        );
        let repaired = db.repair_blobs().expect("repair");
        assert!(repaired.shards_rebuilt > 0, "{repaired:?}");
        assert!(repaired.after.is_clean(), "{repaired:?}");
        assert_eq!(place.shards(1), place.shards(0));
        read_all(&db);
    });
}

#[test]
fn verify_names_every_key_of_a_lost_blob() {
    each_place(|place| {
        fill(place);
        for i in 0..=M {
            place.lose(i);
        }
        let db = place.open();
        let r = db.verify().expect("verify");
        let mut named: Vec<Vec<u8>> = r
            .problems
            .iter()
            .flat_map(|p| match p {
                larder_lsm::Problem::BlobLost { keys, .. } => keys.clone(),
                other => panic!("unexpected {other:?}"),
            })
            .collect();
        named.sort();
        let want: Vec<Vec<u8>> = (0..N).filter(|i| i % 2 == 0).map(key).collect();
        assert_eq!(named, want);
        // Repair cannot bring them back, and says so with the same keys.
        let repaired = db.repair_blobs().expect("repair");
        assert_eq!(repaired.after.problems, r.problems);
    });
}

#[test]
fn verify_names_the_keys_in_a_rotten_stripe_only() {
    each_place(|place| {
        fill(place);
        // Rot one byte in the same place of M + 1 shards: one stripe of one
        // blob is beyond repair, the rest reads.
        let name = place
            .shards(0)
            .into_iter()
            .max_by_key(|n| place.read(0, n).len())
            .expect("a shard");
        for i in 0..=M {
            let mut b = place.read(i, &name);
            b[200] ^= 0x5a;
            place.write(i, &name, b);
        }
        let db = place.open();
        let r = db.verify().expect("verify");
        let lost: Vec<&Vec<Vec<u8>>> = r
            .problems
            .iter()
            .filter_map(|p| match p {
                larder_lsm::Problem::BlobLost { keys, .. } => Some(keys),
                _ => None,
            })
            .collect();
        assert_eq!(lost.len(), 1, "{r:?}");
        let keys = lost[0];
        assert!(!keys.is_empty() && keys.len() < (N / 2) as usize, "{r:?}");
        for k in keys {
            assert!(matches!(db.get(k), Err(Error::BlobUnavailable { .. })));
        }
        // Every key not named reads back.
        for i in 0..N {
            if !keys.contains(&key(i)) {
                assert_eq!(
                    db.get(&key(i)).expect("get").as_deref(),
                    Some(value(i).as_slice())
                );
            }
        }
    });
}
