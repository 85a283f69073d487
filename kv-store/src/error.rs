//! The error type of the tool, and the exit code each error maps to.

use std::path::PathBuf;

use crate::engine::EngineKind;

/// Everything that can stop a command. Each variant prints as one line that
/// names the cause; [`Error::exit_code`] maps it to the documented exit code.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// `get` of a key that is not in the store.
    #[error("key not found: {key}")]
    NotFound {
        /// The key as `scan` prints it (escaped, or in `--hex`/`--base64`).
        key: String,
    },
    /// `verify` found corruption (the findings were printed before).
    #[error("verify found {count} corruption(s)")]
    CorruptionFound {
        /// How many corruptions were found.
        count: usize,
    },
    /// `repair` did what it could, and the verify after it still found
    /// damage (each place was printed before).
    #[error("repair left {count} damaged place(s), the first in {first}")]
    DamageRemains {
        /// How many damaged places verify found after the repair.
        count: usize,
        /// The first of them: file, offset and what failed.
        first: String,
    },
    /// A command that reads a store was pointed at a directory with none.
    #[error("no store at {}: create one with `kv-store --db {} put KEY VALUE` or `load`", path.display(), path.display())]
    NoStore {
        /// The store directory given with `--db`.
        path: PathBuf,
    },
    /// `--db` names something that is not a directory.
    #[error("--db {} is not a directory", path.display())]
    NotADirectory {
        /// The path given with `--db`.
        path: PathBuf,
    },
    /// The directory holds files but no engine marker: not a store of ours.
    #[error("{} is not a kv-store store (it is not empty and has no {} marker)", path.display(), crate::store::MARKER_FILE)]
    NotAStore {
        /// The directory.
        path: PathBuf,
    },
    /// `--engine` differs from the engine the store was created with.
    #[error("store {} was created by engine {found}, refusing to open it as {requested} (omit --engine or pass --engine {found})", path.display())]
    WrongEngine {
        /// The store directory.
        path: PathBuf,
        /// The engine named in the store's marker file.
        found: EngineKind,
        /// The engine asked for on the command line.
        requested: EngineKind,
    },
    /// Another process has a file of the store open (an engine's own lock).
    /// Exits 3, as [`Error::Busy`].
    #[error("store {} is locked by another process (lock file {}); retry when it is done, or pass --wait SECONDS", path.display(), lock.display())]
    Locked {
        /// The store directory.
        path: PathBuf,
        /// The lock file held by the other process.
        lock: PathBuf,
    },
    /// The engine marker file holds something we do not understand.
    #[error("bad engine marker {}: found {found:?}, expected `lsm` or `btree`", path.display())]
    BadMarker {
        /// The marker file.
        path: PathBuf,
        /// What it holds.
        found: String,
    },
    /// A checksum or structure check of the engine failed.
    #[error("corruption in {} at offset {offset}: {what}", file.display())]
    Corruption {
        /// The damaged file.
        file: PathBuf,
        /// Byte offset (or page offset) of the damaged unit.
        offset: u64,
        /// What failed, with expected and found values where the engine has them.
        what: String,
    },
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause (not found, permission denied, ...).
        source: std::io::Error,
    },
    /// Writing to standard output or error failed.
    #[error("writing output: {0}")]
    Output(std::io::Error),
    /// A malformed line of `load` input; every line before it is committed.
    #[error("line {line}: {reason} (the {committed} line(s) before it are committed)")]
    BadLine {
        /// 1-based line number.
        line: u64,
        /// What is wrong with it.
        reason: String,
        /// Lines loaded before it.
        committed: u64,
    },
    /// A command-line argument that cannot be decoded (bad hex, base64, escape).
    #[error("bad argument: {0}")]
    BadArgument(String),
    /// A remote store (`--db s3://...`) that cannot be reached or used as
    /// asked: a bad `AWS_*` setting, a command that needs a local store, a
    /// writing command without `--wal-dir`.
    #[error("{0}")]
    Remote(String),
    /// The interactive prompt could not start or read the terminal.
    #[error("terminal: {0}")]
    Terminal(String),
    /// A `shell` command failed: on piped input (any failure) or with
    /// `--bail`. Each failure printed its own line before.
    #[error("{failed} shell command(s) failed, the first on input line {line}")]
    ShellFailed {
        /// How many commands failed (1 with `--bail`).
        failed: u64,
        /// 1-based input line of the first failure.
        line: u64,
        /// The exit code of the first failure.
        exit_code: u8,
    },
    /// Something that should not happen: a bug in the tool or an engine.
    #[error("internal error: {0}")]
    Internal(String),
    /// Damage the engine met that has no single byte offset: a missing
    /// file the store needs, a blob value whose checksum fails, a blob
    /// store's manifest that does not read. Like [`Error::Corruption`], it
    /// exits 1.
    #[error("damaged store ({engine} engine): {message}")]
    Damaged {
        /// Which engine.
        engine: EngineKind,
        /// The engine's message, naming the file or key.
        message: String,
    },
    /// The engine refused one pair (a key or value over its limit): the
    /// input is wrong, not the store.
    #[error("{engine} engine refused the pair: {message}")]
    Refused {
        /// Which engine.
        engine: EngineKind,
        /// Its message, with the limit.
        message: String,
    },
    /// Any other engine error, with the engine's own message.
    #[error("{engine} engine: {message}")]
    Engine {
        /// Which engine.
        engine: EngineKind,
        /// Its message.
        message: String,
    },
    /// Another process has the store open in a way that excludes us (a
    /// writer excludes everyone; readers exclude a writer), and `--wait`
    /// was not given or ran out. Exits 3.
    #[error("store {} is busy: {holder} has it open{}; {}", path.display(), waited_text(*waited), hint_text(*waited))]
    Busy {
        /// The store directory.
        path: PathBuf,
        /// Who holds it, as far as known: `a writer (pid 1234)`, `readers`.
        holder: String,
        /// How long this process waited (`--wait`), if it did.
        waited: Option<std::time::Duration>,
    },
    /// Ctrl-C stopped the command (see [`crate::interrupt`]); what it had
    /// committed stays. Exits 130; in the shell the prompt comes back.
    #[error("interrupted")]
    Interrupted,
    /// `checkpoint` or `restore` was given a destination that exists (for
    /// `checkpoint`: and is not an empty directory); nothing was written.
    #[error("{what} destination {} exists: give a new directory", path.display())]
    DestinationExists {
        /// The refused destination.
        path: PathBuf,
        /// Which command refused it.
        what: &'static str,
    },
    /// `restore` found no backup (or not the one asked for) in the directory.
    #[error("no backup{} in {}", id.map(|i| format!(" {i}")).unwrap_or_default(), dir.display())]
    NoBackup {
        /// The backup directory.
        dir: PathBuf,
        /// The backup number asked for, if one was.
        id: Option<u64>,
    },
    /// A file of a backup is missing or differs from its manifest, or the
    /// manifest does not read: `restore` refuses it (exit 1).
    #[error("damaged backup: {}: {what}: expected {expected}, found {found}", file.display())]
    BackupDamaged {
        /// The damaged file.
        file: PathBuf,
        /// What is wrong.
        what: String,
        /// What the manifest records (size and SHA-256).
        expected: String,
        /// What the file holds.
        found: String,
    },
    /// `inspect` described the store and found parts it could not read
    /// (each was printed before, named). Exits 1, as damage does.
    #[error("inspect found {count} damaged or unreadable part(s) of the store (listed above)")]
    InspectFoundDamage {
        /// How many.
        count: usize,
    },
}

fn waited_text(waited: Option<std::time::Duration>) -> String {
    waited.map_or(String::new(), |d| {
        format!(" (still, after waiting {:.1} s)", d.as_secs_f64())
    })
}

fn hint_text(waited: Option<std::time::Duration>) -> &'static str {
    match waited {
        None => "retry when it is done, or pass --wait SECONDS to wait for it",
        Some(_) => "retry when it is done, or wait longer with a larger --wait",
    }
}

impl Error {
    /// The process exit code: 1 for "not found" and for damage, whichever
    /// command met it (corruption found by `verify`, a checksum or structure
    /// check failing, a file of the store missing, a bad engine marker); 3
    /// ([`EXIT_BUSY`]) when another process holds the store; 2 for every
    /// usage, I/O or other engine error; a failed `shell` script exits with
    /// the code of its first failure.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::NotFound { .. }
            | Error::CorruptionFound { .. }
            | Error::DamageRemains { .. }
            | Error::Corruption { .. }
            | Error::Damaged { .. }
            | Error::BadMarker { .. }
            | Error::BackupDamaged { .. } => 1,
            Error::InspectFoundDamage { .. } => 1,
            Error::ShellFailed { exit_code, .. } => *exit_code,
            Error::Locked { .. } | Error::Busy { .. } => EXIT_BUSY,
            Error::Interrupted => crate::interrupt::EXIT_CODE,
            _ => 2,
        }
    }

    /// Maps a file-layer error met by `engine` inside the store: a file the
    /// engine expects but that does not exist is damage (the engine only
    /// opens files it wrote and still names), any other failure is an I/O
    /// error keeping its kind (`ENOSPC`, `EIO`) and its file.
    pub(crate) fn from_fs(engine: EngineKind, e: vfs::Error) -> Error {
        match e {
            vfs::Error::Io { path, source, .. }
                if source.kind() == std::io::ErrorKind::NotFound =>
            {
                Error::Corruption {
                    file: path,
                    offset: 0,
                    what: format!("a file of the {engine} store is missing ({source})"),
                }
            }
            vfs::Error::Io { path, source, .. } => Error::Io { path, source },
            vfs::Error::Locked { path } => Error::Locked {
                path: path
                    .parent()
                    .map(std::path::Path::to_path_buf)
                    .unwrap_or_default(),
                lock: path,
            },
            other => Error::Engine {
                engine,
                message: other.to_string(),
            },
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Error {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}

/// The exit code of a store another process holds ([`Error::Busy`]).
pub const EXIT_BUSY: u8 = 3;

/// `Result` with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
