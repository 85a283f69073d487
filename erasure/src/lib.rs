//! The `erasure` crate (under construction).
#![forbid(unsafe_code)]
