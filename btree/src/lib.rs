//! The `btree` crate (under construction).
#![forbid(unsafe_code)]
