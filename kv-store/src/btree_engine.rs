//! The [`Engine`] adapter over the `btree` crate (not merged yet).

use std::path::Path;

use crate::engine::{Engine, EngineKind};
use crate::{Error, Result};

/// Opens the B+ tree store in `dir`.
///
/// # Errors
///
/// Always, until the `btree` crate is merged.
pub(crate) fn open(_dir: &Path) -> Result<Box<dyn Engine>> {
    Err(Error::Engine {
        engine: EngineKind::Btree,
        message: "the btree engine is not built into this kv-store yet".to_string(),
    })
}
