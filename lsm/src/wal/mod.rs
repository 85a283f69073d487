//! The write-ahead log: a file of 32 KiB blocks holding checksummed records.
//! The manifest uses the same record format.

pub(crate) mod format;
pub(crate) mod reader;
pub(crate) mod writer;
