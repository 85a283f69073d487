//! Power cut at every sync point of a workload that uses every write
//! feature together: puts, deletes, range deletes, merges, transactions
//! and bulk ingest, in the default keyspace and two named ones (one with
//! its own options), batches spanning keyspaces, a keyspace dropped and
//! created again, with flushes and compactions between them. Every write
//! syncs, so the store recovered after each cut must hold exactly the
//! writes acknowledged before it, or those and the one in flight: every
//! keyspace at the same point of the write order (a batch across
//! keyspaces whole or not at all, a dropped keyspace whole or gone).

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use larder_lsm::{
    AppendOperator, Db, Durability, Keyspace, KeyspaceOptions, Options, TableWriter, WriteBatch,
};
use vfs::crash_test::{ExploreOptions, explore};

type Model = BTreeMap<Vec<u8>, Vec<u8>>;

/// The whole store: the default keyspace and each named one that exists.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct State {
    default: Model,
    named: BTreeMap<String, Model>,
}

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

/// Keyspace `b`'s own options: every value inline (the database sends
/// values of 24 bytes and more to blobs), no compression, other Bloom
/// bits, a larger write buffer.
fn options_b() -> KeyspaceOptions {
    KeyspaceOptions {
        write_buffer_size_bytes: 4096,
        compression: false,
        bloom_bits_per_key: 4,
        blob_threshold_bytes: None,
    }
}

/// Keyspace `a`'s options: the database's, with the write buffer raised
/// to a keyspace's 4 KiB minimum (`Db::keyspace` refuses the tiny
/// options' 2 KiB; see `tests/model.rs`).
fn options_a() -> KeyspaceOptions {
    KeyspaceOptions {
        write_buffer_size_bytes: 4096,
        ..KeyspaceOptions::from_db(&options())
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

/// The keyspaces the workload writes to: the default, and `a` and `b`
/// while they exist.
struct Handles {
    a: Option<Keyspace>,
    b: Option<Keyspace>,
}

impl Handles {
    /// Keyspace `n % 3` (0 the default, 1 `a`, 2 `b`), or the default if
    /// that one is dropped: its handle and its model in `next`.
    fn pick<'a>(&'a self, n: u8, next: &'a mut State) -> (Option<&'a Keyspace>, &'a mut Model) {
        let ks = match n % 3 {
            1 => self.a.as_ref(),
            2 => self.b.as_ref(),
            _ => None,
        };
        match ks {
            Some(ks) => (
                Some(ks),
                next.named.get_mut(ks.name()).expect("a live keyspace"),
            ),
            None => (None, &mut next.default),
        }
    }
}

/// One write, chosen by `i`, applied to `db` and to `next`.
fn write(
    db: &Db,
    fs: &Arc<dyn vfs::Fs>,
    h: &Handles,
    i: u8,
    next: &mut State,
) -> larder_lsm::Result<()> {
    let k = i % 9;
    // The keyspace cycles apart from the kind of write, so each keyspace
    // takes each kind.
    let (ks, m) = h.pick(i / 6 + i, next);
    match i % 7 {
        0 => {
            let v = format!("p{i}-{}", "x".repeat(usize::from(i % 4) * 10));
            m.insert(key(k), v.clone().into_bytes());
            match ks {
                Some(ks) => ks.put(key(k), v),
                None => db.put(key(k), v),
            }
        }
        1 => {
            let operand = format!("m{i}");
            merge_into(m, key(k), operand.as_bytes());
            match ks {
                Some(ks) => ks.merge(key(k), operand),
                None => db.merge(key(k), operand),
            }
        }
        2 => {
            let (lo, hi) = (key(k), key(k + 3));
            m.retain(|key, _| !(*key >= lo && *key < hi));
            match ks {
                Some(ks) => ks.delete_range(lo.as_slice()..hi.as_slice()),
                None => db.delete_range(lo.as_slice()..hi.as_slice()),
            }
        }
        3 => {
            // Transactions are the default keyspace's.
            let mut t = db.transaction()?;
            let seen = t.get(&key(k))?;
            let v = format!("t{i}-{}", seen.map_or(0, |s| s.len()));
            t.put(key((k + 4) % 9), v.clone());
            next.default.insert(key((k + 4) % 9), v.into_bytes());
            t.commit()
        }
        4 => {
            // A sorted run of three keys, written beside the store (its
            // own syncs are sync points too) and ingested into the default
            // keyspace.
            let path = format!("/ext/{i}.sst");
            let mut w = TableWriter::create_with_fs(Arc::clone(fs), &path, &options())?;
            let mut run = Model::new();
            for j in k % 5..k % 5 + 3 {
                let v = format!("i{i}").into_bytes();
                w.put(key(j), v.clone())?;
                run.insert(key(j), v);
            }
            let paths: Vec<_> = w.finish()?.into_iter().map(|t| t.path).collect();
            next.default.extend(run);
            db.ingest(&paths).map(|_| ())
        }
        5 => {
            // One batch across every live keyspace, every kind of write.
            let mut b = WriteBatch::new();
            for n in 0..3u8 {
                let (ks, m) = h.pick(n, next);
                let (k0, k1) = (key((k + n) % 9), key((k + n + 1) % 9));
                let v = format!("b{i}-{n}-{}", "y".repeat(usize::from(n) * 12));
                let operand = format!("bm{i}");
                let (lo, hi) = (key((k + 5) % 9), key((k + 5) % 9 + 2));
                m.insert(k0.clone(), v.clone().into_bytes());
                merge_into(m, k1.clone(), operand.as_bytes());
                m.retain(|key, _| !(*key >= lo && *key < hi));
                m.remove(&key((k + n + 3) % 9));
                match ks {
                    Some(ks) => {
                        b.put_in(ks, k0, v);
                        b.merge_in(ks, k1, operand);
                        b.delete_range_in(ks, lo, hi);
                        b.delete_in(ks, key((k + n + 3) % 9));
                    }
                    None => {
                        b.put(k0, v);
                        b.merge(k1, operand);
                        b.delete_range(lo, hi);
                        b.delete(key((k + n + 3) % 9));
                    }
                }
            }
            db.write(b)
        }
        _ => {
            m.remove(&key(k));
            match ks {
                Some(ks) => ks.delete(key(k)),
                None => db.delete(key(k)),
            }
        }
    }
}

/// Writes before keyspace `a` is dropped, and before it is created again.
const DROP_AT: u8 = 24;
const RECREATE_AT: u8 = 36;
/// Writes in all.
const WRITES: u8 = 56;

/// `acked[i]` is the state after the `i`-th acknowledged change (a write,
/// or a keyspace created or dropped); the second value is the state with
/// the change in flight when the disk failed.
fn workload(fs: Arc<dyn vfs::Fs>) -> (Vec<State>, Option<State>) {
    let mut acked = vec![State::default()];
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
    let mut state = State::default();
    let mut h = Handles { a: None, b: None };
    // Creating a keyspace: a change in the write order like any other.
    macro_rules! create {
        ($name:literal, $call:expr, $slot:expr) => {{
            let mut next = state.clone();
            next.named.insert($name.to_string(), Model::new());
            match $call {
                Ok(ks) => $slot = Some(ks),
                Err(_) => return (acked, Some(next)),
            }
            state = next;
            acked.push(state.clone());
        }};
    }
    create!("a", db.keyspace_with("a", options_a()), h.a);
    create!("b", db.keyspace_with("b", options_b()), h.b);
    for i in 0..WRITES {
        if i == DROP_AT {
            let mut next = state.clone();
            next.named.remove("a");
            if db.drop_keyspace("a").is_err() {
                return (acked, Some(next));
            }
            h.a = None;
            state = next;
            acked.push(state.clone());
        }
        if i == RECREATE_AT {
            create!("a", db.keyspace_with("a", options_a()), h.a);
        }
        let mut next = state.clone();
        if write(&db, &fs, &h, i, &mut next).is_err() {
            return (acked, Some(next));
        }
        state = next;
        acked.push(state.clone());
        if i % 10 == 9 && db.flush().is_err() {
            return (acked, None);
        }
        if i == 30 && db.compact_range::<&[u8], _>(..).is_err() {
            return (acked, None);
        }
        if i == 31
            && h.b
                .as_ref()
                .is_some_and(|b| b.compact_range::<&[u8], _>(..).is_err())
        {
            return (acked, None);
        }
    }
    (acked, None)
}

/// What `db` holds, every keyspace read forward and (by a second
/// iterator) backward, which must agree; `b`'s options as created.
fn recovered(db: &Db, point: &vfs::crash_test::CrashPoint) -> State {
    let read = |it: larder_lsm::DbIter, back: larder_lsm::DbIter| -> Model {
        let got: Model = common::collect(it).into_iter().collect();
        let mut back = common::collect(back.rev());
        back.reverse();
        assert_eq!(
            back,
            got.clone().into_iter().collect::<Vec<_>>(),
            "{point:?}"
        );
        got
    };
    let mut state = State {
        default: read(db.iter(), db.iter()),
        named: BTreeMap::new(),
    };
    for name in db.keyspace_names() {
        let ks = db.keyspace(&name).expect("open a recovered keyspace");
        let want = if name == "b" {
            options_b()
        } else {
            options_a()
        };
        assert_eq!(ks.options(), want, "{point:?}");
        state.named.insert(name, read(ks.iter(), ks.iter()));
    }
    state
}

#[test]
fn power_cut_at_every_sync_point_of_a_workload_using_every_feature() {
    // Without a crash the workload runs to its end: the initial state,
    // two creates, the drop, the re-create and every write.
    let (acked, in_flight) = workload(Arc::new(vfs::MemFs::new()));
    assert_eq!(acked.len(), usize::from(WRITES) + 5);
    assert!(in_flight.is_none());
    let last = acked.last().expect("a state");
    assert_eq!(
        last.named.keys().collect::<Vec<_>>(),
        ["a", "b"],
        "{last:?}"
    );
    assert!(
        !last.default.is_empty() && last.named.values().all(|m| !m.is_empty()),
        "{last:?}"
    );
    let report = explore(
        &ExploreOptions::default(),
        workload,
        |point, disk, (acked, in_flight)| {
            let fs: Arc<dyn vfs::Fs> = Arc::new(disk);
            let db = Db::open_with_fs(Arc::clone(&fs), "/db", options())
                .unwrap_or_else(|e| panic!("{point:?}: recovery failed: {e}"));
            let got = recovered(&db, &point);
            let last = acked.last().cloned().unwrap_or_default();
            assert!(
                got == last || in_flight.as_ref() == Some(&got),
                "{point:?}: got {got:?}, last acked {last:?}, in flight {in_flight:?}"
            );
            assert!(db.verify().expect("verify").is_clean(), "{point:?}");
            db.close().expect("close");
            // Recovery writes a new manifest (keyspaces and all) and
            // replays the logs: a second open reads what the first wrote
            // and must find the same.
            let db = Db::open_with_fs(fs, "/db", options())
                .unwrap_or_else(|e| panic!("{point:?}: second open failed: {e}"));
            let again = recovered(&db, &point);
            assert_eq!(again, got, "{point:?}: second open");
            db.close().expect("close");
        },
    );
    assert!(report.syncs > u64::from(WRITES) + 3, "{report:?}");
}
