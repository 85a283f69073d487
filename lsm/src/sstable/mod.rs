//! Sorted string tables: immutable files of sorted internal keys.
//!
//! `data block* | filter block | properties block | index block | footer`
//!
//! - `block/`: the block format shared by data and index blocks (builder,
//!   reader, order walk).
//! - `trailer.rs`: the 5-byte trailer after every block (compression, CRC).
//! - `index.rs`: block handles and the index block.
//! - `properties.rs`: the properties block (counts, sequence and key range).
//! - `footer.rs`: the fixed-size footer and the file header.
//! - `writer.rs`: writes a table from entries in order.
//! - `reader.rs`: opens a table; point lookups and iterators.
//! - `check.rs`: checks a whole table as it is on disk, for `verify`.
//! - `readahead.rs`: the windows a reader going through a table in order
//!   asks for ahead of use (tables are mapped for random access).

pub(crate) mod block;
pub(crate) mod check;
pub(crate) mod footer;
pub(crate) mod index;
pub(crate) mod properties;
pub(crate) mod readahead;
pub(crate) mod reader;
pub(crate) mod trailer;
pub(crate) mod writer;
