//! Sorted string tables: immutable files of sorted internal keys.
//!
//! `data block* | filter block | properties block | index block | footer`

pub(crate) mod block;
pub(crate) mod check;
pub(crate) mod footer;
pub(crate) mod index;
pub(crate) mod properties;
pub(crate) mod reader;
pub(crate) mod trailer;
pub(crate) mod writer;
