//! The `bloom` crate (under construction).
#![forbid(unsafe_code)]
