//! The write-ahead log: a file of 32 KiB blocks holding checksummed records.
//! The manifest uses the same record format.
//!
//! - `format.rs`: what writer and reader share (block size, record header,
//!   fragment types, the durable marker, the file header).
//! - `writer.rs`: appends records, fragmenting them at block boundaries.
//! - `reader/`: reads a log back, telling a torn tail from damage.

pub(crate) mod format;
pub(crate) mod reader;
pub(crate) mod writer;
