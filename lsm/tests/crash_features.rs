//! Power cut at every sync point of a workload that uses every write
//! feature together: puts, deletes, range deletes, merges, transactions
//! and bulk ingest, with flushes and a compaction between them. Every
//! write syncs, so the store recovered after each cut must hold exactly
//! the writes acknowledged before it, or those and the one in flight.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use larder_lsm::{AppendOperator, Db, Durability, Options, TableWriter};
use vfs::crash_test::{ExploreOptions, explore};

type Model = BTreeMap<Vec<u8>, Vec<u8>>;

fn key(k: u8) -> Vec<u8> {
    format!("k{k:02}").into_bytes()
}

fn options() -> Options {
    Options {
        merge_operator: Some(Arc::new(AppendOperator::new(","))),
        blob_threshold_bytes: Some(24),
        ..common::tiny_options()
    }
}

fn merge_into(m: &mut Model, k: Vec<u8>, operand: &[u8]) {
    let v = match m.remove(&k) {
        Some(mut old) => {
            old.push(b',');
            old.extend_from_slice(operand);
            old
        }
        None => operand.to_vec(),
    };
    m.insert(k, v);
}

/// One write, chosen by `i`, applied to `db` and to `next`.
fn write(db: &Db, fs: &Arc<dyn vfs::Fs>, i: u8, next: &mut Model) -> larder_lsm::Result<()> {
    let k = i % 9;
    match i % 6 {
        0 => {
            let v = format!("p{i}-{}", "x".repeat(usize::from(i % 4) * 10));
            next.insert(key(k), v.clone().into_bytes());
            db.put(key(k), v)
        }
        1 => {
            let operand = format!("m{i}");
            merge_into(next, key(k), operand.as_bytes());
            db.merge(key(k), operand)
        }
        2 => {
            let (lo, hi) = (key(k), key(k + 3));
            next.retain(|key, _| !(*key >= lo && *key < hi));
            db.delete_range(lo.as_slice()..hi.as_slice())
        }
        3 => {
            let mut t = db.transaction()?;
            let seen = t.get(&key(k))?;
            let v = format!("t{i}-{}", seen.map_or(0, |s| s.len()));
            t.put(key((k + 4) % 9), v.clone());
            next.insert(key((k + 4) % 9), v.into_bytes());
            t.commit()
        }
        4 => {
            // A sorted run of three keys, written beside the store (its
            // own syncs are sync points too) and ingested.
            let path = format!("/ext/{i}.sst");
            let mut w = TableWriter::create_with_fs(Arc::clone(fs), &path, &options())?;
            let mut run = Model::new();
            for j in k % 5..k % 5 + 3 {
                let v = format!("i{i}").into_bytes();
                w.put(key(j), v.clone())?;
                run.insert(key(j), v);
            }
            let paths: Vec<_> = w.finish()?.into_iter().map(|t| t.path).collect();
            next.extend(run);
            db.ingest(&paths).map(|_| ())
        }
        _ => {
            next.remove(&key(k));
            db.delete(key(k))
        }
    }
}

/// `acked[i]` is the model after the `i`-th acknowledged write; the second
/// value is the model with the write in flight when the disk failed.
fn workload(fs: Arc<dyn vfs::Fs>) -> (Vec<Model>, Option<Model>) {
    let mut acked = vec![Model::new()];
    if fs.create_dir_all(std::path::Path::new("/ext")).is_err() {
        return (acked, None);
    }
    let opts = Options {
        durability: Durability::Immediate,
        ..options()
    };
    let Ok(db) = Db::open_with_fs(Arc::clone(&fs), "/db", opts) else {
        return (acked, None);
    };
    let mut model = Model::new();
    for i in 0..48u8 {
        let mut next = model.clone();
        if write(&db, &fs, i, &mut next).is_err() {
            return (acked, Some(next));
        }
        model = next;
        acked.push(model.clone());
        if i % 10 == 9 && db.flush().is_err() {
            return (acked, None);
        }
        if i == 30 && db.compact_range::<&[u8], _>(..).is_err() {
            return (acked, None);
        }
    }
    (acked, None)
}

#[test]
fn power_cut_at_every_sync_point_of_a_workload_using_every_feature() {
    let report = explore(
        &ExploreOptions::default(),
        workload,
        |point, disk, (acked, in_flight)| {
            let db = Db::open_with_fs(Arc::new(disk), "/db", options())
                .unwrap_or_else(|e| panic!("{point:?}: recovery failed: {e}"));
            let got: Model = common::collect(db.iter()).into_iter().collect();
            let last = acked.last().cloned().unwrap_or_default();
            assert!(
                got == last || in_flight.as_ref() == Some(&got),
                "{point:?}: got {got:?}, last acked {last:?}"
            );
            let mut back: Vec<_> = common::collect(db.iter().rev());
            back.reverse();
            assert_eq!(back, got.into_iter().collect::<Vec<_>>(), "{point:?}");
            assert!(db.verify().expect("verify").is_clean(), "{point:?}");
            db.close().expect("close");
        },
    );
    assert!(report.syncs > 48, "{report:?}");
}
