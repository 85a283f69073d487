//! The crate's error type.

use std::path::PathBuf;

/// Everything that can go wrong in this crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The file layer failed (I/O error, missing file, lock held elsewhere).
    #[error(transparent)]
    Io(#[from] vfs::Error),

    /// A page's CRC-32 does not match its bytes, or a valid page is not the
    /// one its parent (or the meta page) recorded: an older copy or another
    /// page's bytes sit in its place (a lost or misdirected write).
    #[error(
        "page {page} of {file:?}: checksum mismatch (expected {expected:#010x}, found {found:#010x})"
    )]
    Corruption {
        /// The database file.
        file: PathBuf,
        /// The page at fault.
        page: u64,
        /// The checksum stored in the page, or the one its parent (or the
        /// meta page) recorded for it.
        expected: u32,
        /// The checksum computed over its bytes, or the one stored in it.
        found: u32,
    },

    /// A savepoint was restored into a write transaction other than the
    /// one that took it.
    #[error("savepoint of another write transaction")]
    ForeignSavepoint,

    /// No persistent savepoint has this id (never created, or deleted).
    #[error("no persistent savepoint {id}")]
    SavepointNotFound {
        /// The id asked for.
        id: u64,
    },

    /// [`Db::compact`](crate::Db::compact) was refused: a compacted file
    /// keeps no persistent savepoint, and these exist. Delete them first.
    #[error("{count} persistent savepoints exist; compaction would drop them")]
    PersistentSavepoints {
        /// How many persistent savepoints the database holds.
        count: u64,
    },

    /// A table was opened as the other kind: a multimap table as a plain
    /// one or the reverse.
    #[error("table {name:?} is {} table", if *multimap { "a multimap" } else { "a plain" })]
    TableKind {
        /// The table's name.
        name: String,
        /// Whether the table as it exists is a multimap table.
        multimap: bool,
    },

    /// A table name is empty or longer than the format allows
    /// ([`TABLE_NAME_LEN_MAX`](crate::TABLE_NAME_LEN_MAX) bytes).
    #[error("table name of {len} bytes: 1 to {len_max} allowed")]
    TableNameLength {
        /// The name's length in bytes.
        len: usize,
        /// The longest name allowed.
        len_max: usize,
    },

    /// A page's checksum holds but its contents break the format (a bad page
    /// number, kind, length or child reference).
    #[error("page {page} of {file:?} is malformed: {what}")]
    Malformed {
        /// The database file.
        file: PathBuf,
        /// The page at fault.
        page: u64,
        /// What is wrong with it.
        what: &'static str,
    },

    /// Neither meta page holds a valid checksum and magic: the file is not a
    /// database of this format, or both meta pages are damaged.
    #[error("{file:?}: no valid meta page")]
    NoValidMeta {
        /// The database file.
        file: PathBuf,
    },

    /// The file was written with another format version.
    #[error("{file:?}: format version {found}, this build reads {expected}")]
    Version {
        /// The database file.
        file: PathBuf,
        /// The version this build reads.
        expected: u32,
        /// The version in the file.
        found: u32,
    },

    /// The file's page size differs from [`Options::page_size_bytes`](crate::Options).
    #[error("{file:?}: page size {found} bytes, options ask for {expected}")]
    PageSize {
        /// The database file.
        file: PathBuf,
        /// The page size the options ask for.
        expected: u32,
        /// The page size in the file.
        found: u32,
    },

    /// A page size that is not a power of two in the supported range.
    #[error("page size {page_size_bytes} bytes is not a power of two in 512..=32768")]
    BadPageSize {
        /// The rejected size.
        page_size_bytes: u32,
    },

    /// A key longer than the format allows.
    #[error("key of {len} bytes exceeds the maximum of {len_max}")]
    KeyTooLarge {
        /// The key's length in bytes.
        len: usize,
        /// The longest key allowed, in bytes.
        len_max: usize,
    },

    /// A value longer than the format allows.
    #[error("value of {len} bytes exceeds the maximum of {len_max}")]
    ValueTooLarge {
        /// The value's length in bytes.
        len: usize,
        /// The longest value allowed, in bytes.
        len_max: usize,
    },

    /// [`WriteTxn::bulk_load`](crate::WriteTxn::bulk_load) was given keys
    /// that are not strictly increasing.
    #[error("bulk load keys out of order at item {index}")]
    Unsorted {
        /// The 0-based position of the first key not greater than its predecessor.
        index: u64,
    },

    /// A commit or sync failed after it began writing, so the file may hold
    /// a meta page this handle does not know about: reopen the database
    /// (which picks the right meta page) before writing again. Readers keep
    /// working.
    #[error("a failed commit left the write side unusable; reopen the database")]
    Poisoned,

    /// A meta page is damaged and open cannot prove the other one holds the
    /// newest durable commit: a page of the file was written by a later
    /// commit than the one the valid meta page records, so the damaged meta
    /// page may have recorded it (see the README, "Opening a damaged
    /// file"). Opening the older commit could lose acknowledged durable
    /// writes, so open refuses.
    #[error(
        "meta page {page} of {file:?} is damaged ({problem}); the other meta page holds commit \
         {fallback_txn}, but page {newer_page} was written by commit {newer_txn}, so a newer \
         commit may have been durable: refusing to open the older one"
    )]
    MetaDamaged {
        /// The database file.
        file: PathBuf,
        /// The damaged meta page (0 or 1).
        page: u64,
        /// What is wrong with it.
        problem: crate::MetaProblem,
        /// The commit the other meta page holds.
        fallback_txn: u64,
        /// A page written by a later commit than `fallback_txn`.
        newer_page: u64,
        /// The commit that wrote `newer_page`.
        newer_txn: u64,
    },

    /// A meta page found by [`Db::check`](crate::Db::check) to be damaged
    /// in a way other than its checksum (which is [`Error::Corruption`]).
    #[error("meta page {page} of {file:?}: {problem}")]
    BadMeta {
        /// The database file.
        file: PathBuf,
        /// The meta page (0 or 1).
        page: u64,
        /// What is wrong with it.
        problem: crate::MetaProblem,
    },

    /// A meta page whose checksum holds records more pages than the file
    /// has: the file was cut short. The file only grows while in use (and
    /// compaction replaces it whole), so this is damage, never a crash.
    #[error(
        "{file:?} is truncated: meta page {page} records {page_count} pages of {page_size} bytes \
         ({} bytes), the file has {file_len} bytes",
        page_count.saturating_mul(u64::from(*page_size))
    )]
    Truncated {
        /// The database file.
        file: PathBuf,
        /// The meta page (0 or 1) whose page count does not fit.
        page: u64,
        /// The page count it records.
        page_count: u64,
        /// Bytes per page.
        page_size: u32,
        /// The file's length in bytes.
        file_len: u64,
    },

    /// The file exists but is empty where a database was expected
    /// ([`Db::open_existing`](crate::Db::open_existing),
    /// [`Db::open_read_only`](crate::Db::open_read_only)).
    #[error("{file:?} is empty: expected an existing database")]
    Empty {
        /// The database file.
        file: PathBuf,
    },

    /// The file does not exist and the open may not create it
    /// ([`Db::open_existing`](crate::Db::open_existing),
    /// [`Db::open_read_only`](crate::Db::open_read_only)).
    #[error("{file:?} does not exist: expected an existing database")]
    Missing {
        /// The database file.
        file: PathBuf,
    },

    /// A write (transaction, compaction) on a handle opened with
    /// [`Db::open_read_only`](crate::Db::open_read_only).
    #[error("{file:?} is open read-only")]
    ReadOnly {
        /// The database file.
        file: PathBuf,
    },

    /// [`WriteTxn::bulk_load`](crate::WriteTxn::bulk_load) needs an empty tree.
    #[error("bulk load needs an empty tree, this one has {len} entries")]
    NotEmpty {
        /// Entries in the tree.
        len: u64,
    },

    /// [`Db::checkpoint`](crate::Db::checkpoint) was given a path that
    /// exists; nothing was written.
    #[error("checkpoint destination {file:?} exists")]
    CheckpointDestination {
        /// The refused destination.
        file: PathBuf,
    },
}

/// The crate's result type.
pub type Result<T> = std::result::Result<T, Error>;
