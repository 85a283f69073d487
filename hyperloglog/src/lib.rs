//! The `hyperloglog` crate (under construction).
#![forbid(unsafe_code)]
