//! The error type of the file layer.

use std::fmt;
use std::io;
use std::path::PathBuf;

/// What the file layer was doing when an error happened.
///
/// Carried by [`Error::Io`] so a failure names its operation, and used by fault
/// injection to choose which operations fail.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Op {
    /// [`Fs::open`](crate::Fs::open).
    Open,
    /// [`File::read_at`](crate::File::read_at) and `read_exact_at`.
    Read,
    /// [`File::write_all_at`](crate::File::write_all_at).
    Write,
    /// [`File::append`](crate::File::append).
    Append,
    /// [`File::sync_data`](crate::File::sync_data).
    SyncData,
    /// [`File::set_len`](crate::File::set_len).
    SetLen,
    /// [`File::len`](crate::File::len).
    Len,
    /// [`File::map`](crate::File::map).
    Map,
    /// [`Fs::rename`](crate::Fs::rename).
    Rename,
    /// [`Fs::remove_file`](crate::Fs::remove_file).
    RemoveFile,
    /// [`Fs::create_dir`](crate::Fs::create_dir) and `create_dir_all`.
    CreateDir,
    /// [`Fs::remove_dir`](crate::Fs::remove_dir).
    RemoveDir,
    /// [`Fs::list_dir`](crate::Fs::list_dir).
    ListDir,
    /// [`Fs::sync_dir`](crate::Fs::sync_dir).
    SyncDir,
    /// [`Fs::exists`](crate::Fs::exists).
    Exists,
    /// [`Fs::lock`](crate::Fs::lock).
    Lock,
    /// [`Fs::hard_link`](crate::Fs::hard_link).
    HardLink,
}

impl Op {
    /// Every operation, for tests that enumerate them.
    pub const ALL: [Op; 17] = [
        Op::Open,
        Op::Read,
        Op::Write,
        Op::Append,
        Op::SyncData,
        Op::SetLen,
        Op::Len,
        Op::Map,
        Op::Rename,
        Op::RemoveFile,
        Op::CreateDir,
        Op::RemoveDir,
        Op::ListDir,
        Op::SyncDir,
        Op::Exists,
        Op::Lock,
        Op::HardLink,
    ];

    /// The operation's name as it appears in error messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Open => "open",
            Op::Read => "read",
            Op::Write => "write",
            Op::Append => "append",
            Op::SyncData => "sync_data",
            Op::SetLen => "set_len",
            Op::Len => "len",
            Op::Map => "map",
            Op::Rename => "rename",
            Op::RemoveFile => "remove_file",
            Op::CreateDir => "create_dir",
            Op::RemoveDir => "remove_dir",
            Op::ListDir => "list_dir",
            Op::SyncDir => "sync_dir",
            Op::Exists => "exists",
            Op::Lock => "lock",
            Op::HardLink => "hard_link",
        }
    }

    /// Whether the operation can change what is on disk (data, names or
    /// durability).
    pub fn is_mutation(self) -> bool {
        matches!(
            self,
            Op::Write
                | Op::Append
                | Op::SyncData
                | Op::SetLen
                | Op::Rename
                | Op::RemoveFile
                | Op::CreateDir
                | Op::RemoveDir
                | Op::SyncDir
                | Op::HardLink
        )
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error of the file layer: which operation, on which path, and why.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An operation failed in the operating system (or, in tests, was made to
    /// fail by fault injection).
    #[error("{op} {}: {source}", path.display())]
    Io {
        /// The operation that failed.
        op: Op,
        /// The file or directory it was applied to (for a rename, the source).
        path: PathBuf,
        /// The underlying error; [`Error::kind`] reads its kind.
        #[source]
        source: io::Error,
    },
    /// The lock file is held by another handle or process.
    #[error("{} is locked by another handle or process", path.display())]
    Locked {
        /// The lock file.
        path: PathBuf,
    },
    /// The call would make a file shorter than a live view of it
    /// ([`File::map`](crate::File::map)): on a real disk, reading the view
    /// would then kill the process with `SIGBUS`. Drop every clone of the
    /// view first. Nothing was changed.
    #[error(
        "{op} {}: would cut the file to {len_bytes} bytes while a view of its first {view_len_bytes} bytes is alive",
        path.display()
    )]
    ViewAlive {
        /// The refused operation: [`Op::SetLen`], or [`Op::Open`] with
        /// [`OpenMode::Truncate`](crate::OpenMode::Truncate).
        op: Op,
        /// The file.
        path: PathBuf,
        /// The length the call asked for.
        len_bytes: u64,
        /// The length of the longest live view of the file.
        view_len_bytes: u64,
    },
}

impl Error {
    /// Builds an [`Error::Io`].
    pub fn io(op: Op, path: impl Into<PathBuf>, source: io::Error) -> Error {
        Error::Io {
            op,
            path: path.into(),
            source,
        }
    }

    /// The kind of the underlying I/O error ([`io::ErrorKind::WouldBlock`] for
    /// [`Error::Locked`], [`io::ErrorKind::ResourceBusy`] for
    /// [`Error::ViewAlive`]).
    pub fn kind(&self) -> io::ErrorKind {
        match self {
            Error::Io { source, .. } => source.kind(),
            Error::Locked { .. } => io::ErrorKind::WouldBlock,
            Error::ViewAlive { .. } => io::ErrorKind::ResourceBusy,
        }
    }

    /// Whether the file or directory does not exist.
    pub fn is_not_found(&self) -> bool {
        self.kind() == io::ErrorKind::NotFound
    }

    /// The operation that failed, if it was an I/O operation.
    pub fn op(&self) -> Option<Op> {
        match self {
            Error::Io { op, .. } => Some(*op),
            Error::Locked { .. } => Some(Op::Lock),
            Error::ViewAlive { op, .. } => Some(*op),
        }
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
