//! [`Keyspace`], the handle, and the [`Db`] calls that create, open, list
//! and drop keyspaces: each a manifest edit, synced before it takes
//! effect, made under the write lock so no write is between the edit and
//! the change it makes.

use std::ops::RangeBounds;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use bytes::Bytes;

use super::{KeyspaceMeta, KeyspaceOptions, check_name};
use crate::db::{Inner, SuperVersion};
use crate::iter::DbIter;
use crate::key::ValueKind;
use crate::manifest::VersionEdit;
use crate::memtable::Memtable;
use crate::read::{Snapshot, bound_key, bounds, prefix_bounds};
use crate::version::Version;
use crate::{Db, Error, Result, WriteBatch};

/// A named keyspace of a [`Db`] (RocksDB's column family, fjall's
/// keyspace): its own memtable, tables and [`KeyspaceOptions`], with the
/// database's log, manifest, sequence numbers and snapshots. A
/// [`WriteBatch`] may span keyspaces (its `_in` methods) and is atomic
/// across them; recovery restores every keyspace to the same point.
/// Cheap to clone; keeps the database open like a [`Db`] clone does.
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let dir = tempfile::tempdir()?;
/// use larder_lsm::{Db, Options, WriteBatch};
/// let db = Db::open(dir.path(), Options::default())?;
/// let users = db.keyspace("users")?;
/// let emails = db.keyspace("emails")?;
/// let mut b = WriteBatch::new();
/// b.put_in(&users, "u1", "Ada");
/// b.put_in(&emails, "ada@example.com", "u1");
/// db.write(b)?; // both or neither
/// assert_eq!(users.get(b"u1")?.as_deref(), Some(&b"Ada"[..]));
/// assert_eq!(db.get(b"u1")?, None); // the default keyspace is apart
/// db.drop_keyspace("emails")?;
/// assert_eq!(db.keyspace_names(), ["users"]);
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct Keyspace {
    db: Db,
    tree: Arc<Inner>,
}

impl Keyspace {
    /// The keyspace's name.
    pub fn name(&self) -> &str {
        &self.tree.meta.name
    }

    /// The options it was created with.
    pub fn options(&self) -> KeyspaceOptions {
        self.tree.meta.opts
    }

    pub(crate) fn id(&self) -> u64 {
        self.tree.id
    }

    pub(crate) fn tree(&self) -> &Arc<Inner> {
        &self.tree
    }

    pub(crate) fn db(&self) -> &Db {
        &self.db
    }

    /// `Ok` while the keyspace is live and the database readable.
    fn check(&self) -> Result<()> {
        self.tree.state.check_readable()?;
        self.tree.check_live()
    }

    fn write_one(&self, kind: ValueKind, k: Bytes, v: Bytes) -> Result<()> {
        let mut b = WriteBatch::new();
        b.push(self.id(), kind, k, v);
        self.db.write(b)
    }

    /// Sets `key` to `value` in this keyspace.
    ///
    /// # Errors
    ///
    /// As [`Db::put`]; [`Error::InvalidKeyspace`] once it is dropped.
    pub fn put(&self, key: impl Into<Bytes>, value: impl Into<Bytes>) -> Result<()> {
        self.write_one(ValueKind::Inline, key.into(), value.into())
    }

    /// Deletes `key` in this keyspace.
    ///
    /// # Errors
    ///
    /// As [`Keyspace::put`].
    pub fn delete(&self, key: impl Into<Bytes>) -> Result<()> {
        self.write_one(ValueKind::Delete, key.into(), Bytes::new())
    }

    /// Deletes every key of `range` in this keyspace, in one write (as
    /// [`Db::delete_range`]).
    ///
    /// # Errors
    ///
    /// As [`Db::delete_range`].
    pub fn delete_range<K: AsRef<[u8]>, R: RangeBounds<K>>(&self, range: R) -> Result<()> {
        let (start, end) = crate::range_del::range_keys(&range)?;
        self.write_one(ValueKind::RangeDelete, start, end)
    }

    /// Merges `operand` into `key` in this keyspace (as [`Db::merge`]).
    ///
    /// # Errors
    ///
    /// As [`Db::merge`].
    pub fn merge(&self, key: impl Into<Bytes>, operand: impl Into<Bytes>) -> Result<()> {
        self.write_one(ValueKind::Merge, key.into(), operand.into())
    }

    /// The current value of `key` in this keyspace.
    ///
    /// # Errors
    ///
    /// As [`Db::get`]; [`Error::InvalidKeyspace`] once it is dropped.
    pub fn get(&self, key: &[u8]) -> Result<Option<Bytes>> {
        self.check()?;
        self.tree.get_at(key, None)
    }

    /// The value of `key` in this keyspace as of `snapshot` (a snapshot of
    /// the whole database, [`Db::snapshot`]).
    ///
    /// # Errors
    ///
    /// As [`Keyspace::get`].
    pub fn get_at(&self, snapshot: &Snapshot, key: &[u8]) -> Result<Option<Bytes>> {
        self.check()?;
        self.tree.get_at(key, Some(snapshot.seq))
    }

    /// The live pairs of `range`, in key order; `.rev()` for descending.
    pub fn range<K: AsRef<[u8]>, R: RangeBounds<K>>(&self, range: R) -> DbIter {
        self.tree.range_at(bounds(&range), None)
    }

    /// The live pairs of `range` as of `snapshot`, both directions.
    pub fn range_at<K: AsRef<[u8]>, R: RangeBounds<K>>(
        &self,
        snapshot: &Snapshot,
        range: R,
    ) -> DbIter {
        self.tree.range_at(bounds(&range), Some(snapshot.seq))
    }

    /// Every live pair, in key order; `.rev()` for descending.
    pub fn iter(&self) -> DbIter {
        self.range::<&[u8], _>(..)
    }

    /// The live pairs whose key starts with `prefix`, both directions.
    pub fn prefix(&self, prefix: &[u8]) -> DbIter {
        self.tree.range_at(prefix_bounds(prefix), None)
    }

    /// Flushes every keyspace's memtable, then compacts this keyspace's
    /// tables overlapping `range` down the levels (as
    /// [`Db::compact_range`]).
    ///
    /// # Errors
    ///
    /// As [`Db::compact_range`].
    pub fn compact_range<K: AsRef<[u8]>, R: RangeBounds<K>>(&self, range: R) -> Result<()> {
        self.db.check_writable()?;
        self.db.flush()?;
        self.tree.check_live()?;
        let (lo, hi) = bounds(&range);
        self.tree.compact_range(bound_key(&lo), bound_key(&hi))
    }

    /// This keyspace's levels and memtables, with the database's counters
    /// ([`Db::stats`] adds every keyspace up).
    pub fn stats(&self) -> crate::Stats {
        self.tree.stats_of(std::slice::from_ref(&self.tree))
    }
}

impl Inner {
    /// [`Error::InvalidKeyspace`] once the keyspace is dropped.
    pub(crate) fn check_live(&self) -> Result<()> {
        if self.dropped.load(Ordering::Acquire) {
            return Err(Error::InvalidKeyspace(format!(
                "keyspace {:?} was dropped",
                self.meta.name
            )));
        }
        Ok(())
    }
}

impl Db {
    /// Opens keyspace `name`, creating it (with the database's own
    /// [`KeyspaceOptions::from_db`]) if it does not exist. Creating is one
    /// synced manifest edit; a keyspace exists once this returns, and
    /// after any crash from then on.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidKeyspace`] for a name that is empty, longer than
    /// [`KEYSPACE_NAME_LEN_MAX`](crate::KEYSPACE_NAME_LEN_MAX) bytes or
    /// `"default"`, or with [`Options::publish_manifest`](crate::Options::publish_manifest)
    /// (only the default keyspace is published); [`Error::ReadOnly`] to
    /// create one on a read-only handle; a failed manifest write.
    pub fn keyspace(&self, name: &str) -> Result<Keyspace> {
        if let Some(ks) = self.find_keyspace(name) {
            return Ok(ks);
        }
        let opts = KeyspaceOptions::from_db(&self.inner().opts);
        self.create_keyspace(name, opts)
    }

    /// Opens keyspace `name`, creating it with `opts` if it does not
    /// exist. An existing keyspace keeps the options it was created with:
    /// asking for others is an error, not a silent change.
    ///
    /// # Errors
    ///
    /// As [`Db::keyspace`]; [`Error::InvalidKeyspace`] for options out of
    /// range, or other than an existing keyspace's.
    pub fn keyspace_with(&self, name: &str, opts: KeyspaceOptions) -> Result<Keyspace> {
        if let Some(ks) = self.find_keyspace(name) {
            if ks.options() != opts {
                return Err(Error::InvalidKeyspace(format!(
                    "keyspace {name:?} exists with other options ({:?})",
                    ks.options()
                )));
            }
            return Ok(ks);
        }
        self.create_keyspace(name, opts)
    }

    /// The names of the live keyspaces besides the default, in the order
    /// they were created.
    pub fn keyspace_names(&self) -> Vec<String> {
        self.inner()
            .trees()
            .iter()
            .filter(|t| t.id != 0)
            .map(|t| t.meta.name.clone())
            .collect()
    }

    fn find_keyspace(&self, name: &str) -> Option<Keyspace> {
        let tree = self
            .inner()
            .trees()
            .into_iter()
            .find(|t| t.id != 0 && t.meta.name == name)?;
        Some(Keyspace {
            db: self.clone(),
            tree,
        })
    }

    fn create_keyspace(&self, name: &str, opts: KeyspaceOptions) -> Result<Keyspace> {
        check_name(name)?;
        let inner = self.inner();
        inner.state.check()?;
        self.check_writable()?;
        opts.validate(inner.blobs.is_some())?;
        if inner.opts.publish_manifest {
            return Err(Error::InvalidKeyspace(
                "keyspaces are not published: a store with publish_manifest has the default \
                 keyspace only"
                    .into(),
            ));
        }
        // The write lock: no write between the edit and the tree taking
        // writes, and the log its writes start in is the current one.
        let w = inner.write.lock();
        if let Some(ks) = self.find_keyspace(name) {
            drop(w);
            return if ks.options() == opts {
                Ok(ks)
            } else {
                Err(Error::InvalidKeyspace(format!(
                    "keyspace {name:?} exists with other options ({:?})",
                    ks.options()
                )))
            };
        }
        let id = inner.new_file_number()?.0;
        let meta = KeyspaceMeta {
            id,
            name: name.to_string(),
            opts,
        };
        let mut m = inner.versions.manifest.lock();
        let mut logs = m.keyspace_logs.clone();
        logs.insert(id, w.log_number);
        let edit = VersionEdit {
            keyspaces_created: vec![meta.clone()],
            keyspace_logs: logs.iter().map(|(&id, &l)| (id, l)).collect(),
            ..VersionEdit::default()
        };
        Inner::log_edit(&mut m, &edit)?;
        m.keyspace_logs = logs;
        let core = Arc::clone(&inner.core);
        let tree = Inner::new_tree(
            &core,
            meta,
            Memtable::new(),
            Version::default(),
            w.log_number,
        );
        inner.keyspaces.write().insert(id, Arc::clone(&tree));
        drop(m);
        drop(w);
        Ok(Keyspace {
            db: self.clone(),
            tree,
        })
    }

    /// Drops keyspace `name`: one synced manifest edit, after which its
    /// writes are gone (a crash before the edit is durable keeps the
    /// keyspace whole; after, it is gone whole). Its tables are deleted
    /// once no iterator or snapshot read reads them; handles on it return
    /// [`Error::InvalidKeyspace`].
    ///
    /// # Errors
    ///
    /// [`Error::InvalidKeyspace`] if no live keyspace has the name;
    /// [`Error::ReadOnly`]; a failed manifest write.
    pub fn drop_keyspace(&self, name: &str) -> Result<()> {
        let inner = self.inner();
        inner.state.check()?;
        self.check_writable()?;
        let w = inner.write.lock();
        let Some(ks) = self.find_keyspace(name) else {
            return Err(Error::InvalidKeyspace(format!("no keyspace {name:?}")));
        };
        let tree = ks.tree;
        let mut m = inner.versions.manifest.lock();
        let version = Arc::clone(&tree.sv.read().version);
        let mut logs = m.keyspace_logs.clone();
        logs.remove(&tree.id);
        let log_number = logs.values().min().copied().unwrap_or(w.log_number);
        let edit = VersionEdit {
            keyspace: tree.id,
            deleted: version
                .levels
                .iter()
                .enumerate()
                .flat_map(|(l, ts)| ts.iter().map(move |t| (l as u8, t.number)))
                .collect(),
            keyspaces_dropped: vec![tree.id],
            log_number: Some(log_number),
            keyspace_logs: if logs.len() > 1 {
                logs.iter().map(|(&id, &l)| (id, l)).collect()
            } else {
                Vec::new()
            },
            ..VersionEdit::default()
        };
        Inner::log_edit(&mut m, &edit)?;
        tree.dropped.store(true, Ordering::Release);
        // Handles on the keyspace outlive it: they must not pin its files.
        *tree.sv.write() = Arc::new(SuperVersion {
            mem: Arc::new(Memtable::new()),
            imm: Vec::new(),
            version: Arc::new(Version::default()),
            mem_log: w.log_number,
        });
        let old_log_number = std::mem::replace(&mut m.log_number, log_number);
        m.keyspace_logs = logs;
        inner.keyspaces.write().remove(&tree.id);
        drop(m);
        drop(w);
        {
            let mut o = inner.obsolete.lock();
            o.tables.extend(version.levels.iter().flatten().cloned());
            if log_number > old_log_number {
                o.logs_below(log_number);
            }
        }
        drop(version);
        inner.delete_obsolete()?;
        inner.wake_writers();
        Ok(())
    }
}
