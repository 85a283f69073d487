//! [`Db::describe`]: the store's files explained, as RocksDB's
//! `ldb manifest_dump` and `sst_dump --show_properties` explain theirs.
//!
//! Reads only: the tables' properties, index and footer (held in memory
//! since open), the manifest and the logs (read again to count their
//! records), and the sizes of the blob shard files. It reads no data block
//! and checks no block checksum; that is [`Db::verify`]'s work.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::blob::{BlobMeta, Blobs, Live};
use crate::manifest::{self, FileKind, VersionEdit};
use crate::version::{NUM_LEVELS, Version, user_range};
use crate::wal::reader::read_log;
use crate::{Db, Result};

/// What [`Db::inspect_state`] hands over, taken at one moment.
pub(crate) struct State {
    pub(crate) fs: Arc<dyn vfs::Fs>,
    pub(crate) dir: PathBuf,
    pub(crate) version: Arc<Version>,
    /// The other keyspaces: their record, version and memtable entries.
    pub(crate) keyspaces: Vec<(crate::keyspace::KeyspaceMeta, Arc<Version>, u64)>,
    pub(crate) memtable_entries: u64,
    pub(crate) last_seq: u64,
    pub(crate) next_file: u64,
    pub(crate) log_number: u64,
    pub(crate) blob_files: Vec<BlobMeta>,
    pub(crate) blob_live: BTreeMap<erasure::BlobId, Live>,
    pub(crate) blobs: Option<Arc<crate::blob::Blobs>>,
}

/// The store's files and what each holds ([`Db::describe`]).
#[derive(Clone, Debug, PartialEq)]
pub struct StoreDescription {
    /// The database directory.
    pub dir: PathBuf,
    /// The live manifest (`None` in a directory without a store yet).
    pub manifest: Option<ManifestDescription>,
    /// Every write-ahead log in the directory, oldest first.
    pub logs: Vec<LogDescription>,
    /// Writes replayed from the logs and not yet in a table (entries of
    /// the memtables, overwrites and deletions counted one each).
    pub memtable_entries: u64,
    /// The newest sequence number used.
    pub last_seq: u64,
    /// The next file number the store will hand out.
    pub next_file_number: u64,
    /// The oldest log whose writes are not all in tables.
    pub log_number: u64,
    /// Every level of the default keyspace, L0 first (empty levels
    /// included).
    pub levels: Vec<LevelDescription>,
    /// The other keyspaces, in the order they were created.
    pub keyspaces: Vec<KeyspaceDescription>,
    /// The blob store (`None` when the store has none).
    pub blobs: Option<BlobStoreDescription>,
    /// What could not be read, each naming its file (damage: a log that
    /// does not read, a shard file missing).
    pub problems: Vec<String>,
}

/// A keyspace besides the default ([`Db::keyspace`](crate::Db::keyspace)).
#[derive(Clone, Debug, PartialEq)]
pub struct KeyspaceDescription {
    /// Its name.
    pub name: String,
    /// Its id (the file number drawn when it was created).
    pub id: u64,
    /// The options it was created with.
    pub options: crate::KeyspaceOptions,
    /// Entries of its memtables.
    pub memtable_entries: u64,
    /// Every level, L0 first (empty levels included).
    pub levels: Vec<LevelDescription>,
}

/// The manifest: the log of version edits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ManifestDescription {
    /// File name, `MANIFEST-000001`.
    pub name: String,
    /// Its file number.
    pub number: u64,
    /// Its length on disk.
    pub size_bytes: u64,
    /// Version edits it holds (`None` if it could not be read again).
    pub edits: Option<u64>,
    /// The merge operator name it records (manifest tag 13): the operator
    /// the store's merge operands are for. `None` if none is recorded or
    /// the manifest could not be read again.
    pub merge_operator: Option<String>,
}

/// One write-ahead log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogDescription {
    /// File name, `000004.log`.
    pub name: String,
    /// Its file number.
    pub number: u64,
    /// Its length on disk.
    pub size_bytes: u64,
    /// Whether its writes are not all in tables yet (number at least
    /// [`StoreDescription::log_number`]): replayed at open.
    pub live: bool,
    /// Whole records (write batches) it holds (`None` if it did not read).
    pub records: Option<u64>,
    /// Where a torn tail (a write cut short by a crash) starts, if any.
    pub torn_at: Option<u64>,
}

/// One level of the tree.
#[derive(Clone, Debug, PartialEq)]
pub struct LevelDescription {
    /// 0 for L0.
    pub level: usize,
    /// Its tables: L0 newest first, deeper levels in key order.
    pub tables: Vec<TableDescription>,
}

impl LevelDescription {
    /// Bytes of the level's table files.
    pub fn size_bytes(&self) -> u64 {
        self.tables.iter().map(|t| t.size_bytes).sum()
    }

    /// Entries of the level's tables (every version and deletion counts).
    pub fn entries(&self) -> u64 {
        self.tables.iter().map(|t| t.entries).sum()
    }
}

/// One table, from its properties, index and footer.
#[derive(Clone, Debug, PartialEq)]
pub struct TableDescription {
    /// File number.
    pub number: u64,
    /// File name, `000012.sst`.
    pub name: String,
    /// Where the table lives: its file's path, or, with
    /// [`Options::table_store`](crate::Options::table_store), the object's
    /// `<store location>/tables/000012.sst`.
    pub location: std::path::PathBuf,
    /// Length of the file.
    pub size_bytes: u64,
    /// Entries (puts, deletions and blob references).
    pub entries: u64,
    /// Of which deletions.
    pub tombstones: u64,
    /// Range tombstones ([`Db::delete_range`](crate::Db::delete_range)),
    /// counted per fragment and sequence number, kept apart from `entries`.
    pub range_tombstones: u64,
    /// Smallest user key.
    pub smallest_key: Vec<u8>,
    /// Largest user key.
    pub largest_key: Vec<u8>,
    /// Smallest sequence number of an entry.
    pub seq_min: u64,
    /// Largest sequence number of an entry.
    pub seq_max: u64,
    /// Data blocks.
    pub blocks: u64,
    /// Data blocks stored LZ4-compressed (a block is stored as written
    /// when compressing would not save an eighth). 0 for a table on an
    /// object store: counting them would read every block.
    pub blocks_lz4: u64,
    /// Bytes of the data blocks as stored.
    pub data_bytes: u64,
    /// Bytes of the index block.
    pub index_bytes: u64,
    /// Bytes of the Bloom filter block (0: no filter).
    pub filter_bytes: u64,
}

impl TableDescription {
    /// Filter bits per entry (0.0 without a filter or entries).
    pub fn filter_bits_per_key(&self) -> f64 {
        if self.entries == 0 {
            0.0
        } else {
            self.filter_bytes as f64 * 8.0 / self.entries as f64
        }
    }

    /// `"lz4"`, `"none"`, or `"mixed"` when only some blocks compressed.
    pub fn compression(&self) -> &'static str {
        match self.blocks_lz4 {
            0 => "none",
            n if n == self.blocks => "lz4",
            _ => "mixed",
        }
    }
}

/// The blob store of key-value separation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlobStoreDescription {
    /// Where its shards live (`k + m` places): directories, or with
    /// [`Options::blob_stores`](crate::Options::blob_stores) the stores'
    /// locations (`memory`, `s3://bucket/prefix`).
    pub dirs: Vec<PathBuf>,
    /// `k`: data shards per stripe.
    pub data_shards: usize,
    /// `m`: parity shards per stripe.
    pub parity_shards: usize,
    /// Every blob file the manifest records, by id.
    pub files: Vec<BlobFileDescription>,
}

/// One blob file (stored as `k + m` shard files).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlobFileDescription {
    /// Blob id.
    pub id: u64,
    /// Values written into it.
    pub values: u64,
    /// Bytes of those values.
    pub value_bytes: u64,
    /// Values the current tables still reference.
    pub live_values: u64,
    /// Bytes of those.
    pub live_bytes: u64,
    /// `value_bytes - live_bytes`: what garbage collection may reclaim.
    pub garbage_bytes: u64,
    /// Shard files (or shard objects) found (`k + m` when whole).
    pub shard_files: usize,
    /// Bytes of those shard files (data, parity and headers).
    pub size_bytes: u64,
}

impl Db {
    /// Describes the store's files: the manifest, the logs, every table of
    /// every level (key range, sequence range, blocks, filter and
    /// compression) and the blob files (values, live and garbage bytes,
    /// shards). Writes nothing; works on a read-only handle. What cannot be
    /// read (a log that no longer reads, a shard file gone) is listed in
    /// [`StoreDescription::problems`], not returned as an error.
    ///
    /// # Errors
    ///
    /// [`Error::Closed`](crate::Error::Closed) once the database is closed;
    /// an I/O error listing the directory.
    pub fn describe(&self) -> Result<StoreDescription> {
        describe(self.inspect_state()?)
    }
}

fn describe(s: State) -> Result<StoreDescription> {
    let fs = &*s.fs;
    let mut problems = Vec::new();
    let mut names: Vec<(u64, String)> = Vec::new();
    if fs.exists(&s.dir)? {
        for name in fs.list_dir(&s.dir)? {
            let name = name.to_string_lossy().into_owned();
            if let FileKind::Log(n) = manifest::parse_name(&name) {
                names.push((n.0, name));
            }
        }
    }
    names.sort();
    let manifest = match manifest::read_current(fs, &s.dir) {
        Ok(None) => None,
        Ok(Some(number)) => {
            let name = manifest::manifest_name(number);
            let path = s.dir.join(&name);
            let mut merge_operator = None;
            let edits = match read_log(fs, &path) {
                Ok(c) => {
                    // The last name recorded counts, as in recovery.
                    for (rec, offset) in c.records.iter().zip(&c.offsets) {
                        match VersionEdit::decode(rec, &path, *offset) {
                            Ok(e) => merge_operator = e.merge_operator.or(merge_operator),
                            Err(e) => problems.push(e.to_string()),
                        }
                    }
                    Some(c.records.len() as u64)
                }
                Err(e) => {
                    problems.push(format!("{}: {e}", path.display()));
                    None
                }
            };
            Some(ManifestDescription {
                size_bytes: file_len(fs, &path, &mut problems),
                name,
                number: number.0,
                edits,
                merge_operator,
            })
        }
        Err(e) => {
            problems.push(e.to_string());
            None
        }
    };
    let mut logs = Vec::new();
    for (number, name) in names {
        let path = s.dir.join(&name);
        let (records, torn_at) = match read_log(fs, &path) {
            Ok(c) => (Some(c.records.len() as u64), c.torn_at),
            Err(e) => {
                problems.push(format!("{}: {e}", path.display()));
                (None, None)
            }
        };
        logs.push(LogDescription {
            size_bytes: file_len(fs, &path, &mut problems),
            live: number >= s.log_number,
            name,
            number,
            records,
            torn_at,
        });
    }
    let levels = describe_levels(&s.version);
    let keyspaces = s
        .keyspaces
        .iter()
        .map(|(meta, v, entries)| KeyspaceDescription {
            name: meta.name.clone(),
            id: meta.id,
            options: meta.opts,
            memtable_entries: *entries,
            levels: describe_levels(v),
        })
        .collect();
    let blobs = s
        .blobs
        .as_deref()
        .map(|store| describe_blobs(fs, store, &s.blob_files, &s.blob_live, &mut problems));
    Ok(StoreDescription {
        dir: s.dir,
        manifest,
        logs,
        memtable_entries: s.memtable_entries,
        last_seq: s.last_seq,
        next_file_number: s.next_file,
        log_number: s.log_number,
        levels,
        keyspaces,
        blobs,
        problems,
    })
}

/// The levels of `version`, L0 first, each table described.
fn describe_levels(version: &Version) -> Vec<LevelDescription> {
    (0..NUM_LEVELS)
        .map(|level| LevelDescription {
            level,
            tables: version.levels[level]
                .iter()
                .map(|t| {
                    let (smallest, largest) = user_range(t);
                    let layout = t.layout();
                    TableDescription {
                        number: t.number.0,
                        name: manifest::table_name(t.number),
                        location: t.path().to_path_buf(),
                        size_bytes: t.size_bytes(),
                        entries: t.props.entries,
                        tombstones: t.props.tombstones,
                        range_tombstones: t.range_dels().map_or(0, |f| f.count()),
                        smallest_key: smallest.to_vec(),
                        largest_key: largest.to_vec(),
                        seq_min: t.props.seq_min,
                        seq_max: t.props.seq_max,
                        blocks: layout.blocks,
                        blocks_lz4: layout.blocks_lz4,
                        data_bytes: t.props.data_bytes,
                        index_bytes: layout.index_bytes,
                        filter_bytes: layout.filter_bytes,
                    }
                })
                .collect(),
        })
        .collect()
}

fn describe_blobs(
    fs: &dyn vfs::Fs,
    store: &Blobs,
    files: &[BlobMeta],
    live: &BTreeMap<erasure::BlobId, Live>,
    problems: &mut Vec<String>,
) -> BlobStoreDescription {
    let options = store.options();
    let shards = options.data_shards + options.parity_shards;
    // Per blob id: shard files (or objects) found and their bytes.
    let mut on_disk: BTreeMap<u64, (usize, u64)> = BTreeMap::new();
    match store {
        Blobs::Objects { store, .. } => match store.shard_objects() {
            Ok(found) => {
                for (id, f) in found {
                    on_disk.insert(id.0, (f.stores, f.bytes));
                }
            }
            Err(e) => problems.push(format!("blob stores {:?}: {e}", store.locations())),
        },
        Blobs::Dirs(store) => shard_files(fs, store.dirs(), &mut on_disk, problems),
    }
    let files = files
        .iter()
        .map(|m| {
            let l = live.get(&m.blob).copied().unwrap_or_default();
            let (shard_files, size_bytes) = on_disk.get(&m.blob.0).copied().unwrap_or_default();
            if shard_files < shards {
                problems.push(format!(
                    "blob {}: {shard_files} of {shards} shard files found",
                    m.blob
                ));
            }
            BlobFileDescription {
                id: m.blob.0,
                values: m.values,
                value_bytes: m.bytes,
                live_values: l.values,
                live_bytes: l.bytes,
                garbage_bytes: m.bytes.saturating_sub(l.bytes),
                shard_files,
                size_bytes,
            }
        })
        .collect();
    BlobStoreDescription {
        dirs: store.locations(),
        data_shards: options.data_shards,
        parity_shards: options.parity_shards,
        files,
    }
}

/// Counts the shard files of each blob id in `dirs`, and their bytes.
fn shard_files(
    fs: &dyn vfs::Fs,
    dirs: &[PathBuf],
    on_disk: &mut BTreeMap<u64, (usize, u64)>,
    problems: &mut Vec<String>,
) {
    for dir in dirs {
        let names = match fs.list_dir(dir) {
            Ok(names) => names,
            Err(e) => {
                problems.push(format!("blob directory {}: {e}", dir.display()));
                continue;
            }
        };
        for name in names {
            let name = name.to_string_lossy();
            let Some(id) = name
                .strip_suffix(".shard")
                .filter(|stem| stem.len() == 16)
                .and_then(|stem| u64::from_str_radix(stem, 16).ok())
            else {
                continue;
            };
            let len = file_len(fs, &dir.join(&*name), problems);
            let e = on_disk.entry(id).or_default();
            e.0 += 1;
            e.1 += len;
        }
    }
}

/// The length of `path`, or 0 with a problem noted.
fn file_len(fs: &dyn vfs::Fs, path: &Path, problems: &mut Vec<String>) -> u64 {
    match fs.open(path, vfs::OpenMode::Read).and_then(|f| f.len()) {
        Ok(len) => len,
        Err(e) => {
            problems.push(format!("{}: {e}", path.display()));
            0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Options;

    fn fill(db: &Db, from: u32, to: u32, value_len: usize) {
        for i in from..to {
            db.put(format!("key{i:05}"), vec![b'v'; value_len])
                .expect("put");
        }
    }

    #[test]
    fn describe_counts_tables_logs_and_blobs_as_they_are_on_disk() {
        let dir = tempfile::tempdir().expect("tempdir");
        let opts = Options {
            write_buffer_size_bytes: 64 << 10,
            ..Options::default()
        };
        let db = Db::open(dir.path(), opts.clone()).expect("open");
        fill(&db, 0, 2000, 100);
        fill(&db, 2000, 2003, 5000); // over the blob threshold
        db.flush().expect("flush");
        db.compact_range::<&[u8], _>(..).expect("compact");
        fill(&db, 0, 10, 100); // a log tail
        db.sync().expect("sync");
        db.close().expect("close");

        let ro = Db::open_read_only(dir.path(), opts).expect("read-only open");
        let d = ro.describe().expect("describe");
        assert!(d.problems.is_empty(), "{:?}", d.problems);
        assert_eq!(d.levels.len(), NUM_LEVELS);
        let tables: Vec<&TableDescription> = d.levels.iter().flat_map(|l| &l.tables).collect();
        assert!(!tables.is_empty());
        for t in &tables {
            let on_disk = std::fs::metadata(dir.path().join(&t.name))
                .expect("table")
                .len();
            assert_eq!(t.size_bytes, on_disk, "{}", t.name);
            assert!(t.smallest_key <= t.largest_key);
            assert!(t.seq_min <= t.seq_max && t.seq_max <= d.last_seq);
            assert!(t.blocks >= 1 && t.blocks_lz4 <= t.blocks);
            assert!(t.filter_bytes > 0 && t.filter_bits_per_key() > 1.0);
        }
        let entries: u64 = d.levels.iter().map(LevelDescription::entries).sum();
        assert!(entries >= 2003, "{entries}");
        let manifest = d.manifest.as_ref().expect("manifest");
        assert!(manifest.edits.is_some_and(|n| n >= 1));
        assert_eq!(
            manifest.size_bytes,
            std::fs::metadata(dir.path().join(&manifest.name))
                .expect("m")
                .len()
        );
        assert!(d.next_file_number > tables.iter().map(|t| t.number).max().unwrap_or(0));
        let live_logs: Vec<_> = d.logs.iter().filter(|l| l.live).collect();
        assert!(live_logs.iter().any(|l| l.records.is_some_and(|r| r >= 1)));
        assert_eq!(d.memtable_entries, 10);
        let blobs = d.blobs.as_ref().expect("blob store");
        assert_eq!((blobs.data_shards, blobs.parity_shards), (1, 0));
        let live: u64 = blobs.files.iter().map(|b| b.live_values).sum();
        assert_eq!(live, 3);
        for b in &blobs.files {
            assert_eq!(b.shard_files, 1);
            assert!(b.size_bytes >= b.value_bytes);
            assert_eq!(b.garbage_bytes, b.value_bytes - b.live_bytes);
        }
        ro.close().expect("close");
    }

    #[test]
    fn describe_names_a_missing_shard_file_instead_of_failing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = Db::open(dir.path(), Options::default()).expect("open");
        db.put("big", vec![7u8; 10_000]).expect("put");
        db.flush().expect("flush");
        db.close().expect("close");
        // The default layout, RS(1, 0), keeps its one shard in `blobs/`.
        let mut removed = 0;
        for f in std::fs::read_dir(dir.path().join("blobs")).expect("blobs") {
            let f = f.expect("entry").path();
            if f.extension().is_some_and(|e| e == "shard") {
                std::fs::remove_file(f).expect("remove");
                removed += 1;
            }
        }
        assert_eq!(removed, 1);
        let ro = Db::open_read_only(dir.path(), Options::default()).expect("open");
        let d = ro.describe().expect("describe");
        assert_eq!(d.problems.len(), 1, "{:?}", d.problems);
        assert!(
            d.problems[0].contains("0 of 1 shard files"),
            "{:?}",
            d.problems
        );
    }
}
