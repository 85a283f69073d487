//! One block format, shared by data and index blocks: sorted entries with
//! shared-prefix key compression and restart points.
//!
//! ```text
//! entry*: shared: varint | unshared: varint | value_len: varint | key_delta | value
//! restarts: u32 LE * n   (offsets of entries whose `shared` is 0)
//! n: u32 LE
//! ```
//! Keys are encoded internal keys, compared with [`cmp_encoded`].
//!
//! One file per part: `builder.rs` writes a block, `reader.rs` decodes one
//! and searches it, `order.rs` walks every entry checking the order a
//! search relies on.

mod builder;
mod order;
mod reader;
#[cfg(test)]
mod tests;

pub(crate) use builder::BlockBuilder;
pub(crate) use order::Bounds;
pub(crate) use reader::{Block, BlockSpans, Malformed};
