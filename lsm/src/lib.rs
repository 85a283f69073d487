//! The `lsm` crate (under construction).
#![forbid(unsafe_code)]
