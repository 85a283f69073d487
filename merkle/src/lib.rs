//! The `merkle` crate (under construction).
#![forbid(unsafe_code)]
