//! Keyspaces (RocksDB's column families, fjall's keyspaces): named trees
//! with their own memtables, tables and [`KeyspaceOptions`], sharing the
//! database's log, manifest, sequence numbers and background threads.

mod meta;

pub use meta::{DEFAULT_NAME, KEYSPACE_NAME_LEN_MAX, KeyspaceOptions};
pub(crate) use meta::{KeyspaceMeta, check_name};
mod handle;

pub use handle::Keyspace;
