//! A table's range-deletion section: after the fields of its properties
//! block (table format version 2), `len: u32 LE | fragments | crc: u32 LE`,
//! the CRC-32 over the fragments' bytes ([`Fragments::encode`]).

use std::path::Path;

use bytes::Bytes;

use super::Fragments;
use crate::{Error, Result};

/// Appends `f`'s section to an encoded properties block.
pub(crate) fn encode_section(f: &Fragments, out: &mut Vec<u8>) {
    let mut body = Vec::new();
    f.encode(&mut body);
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(&body);
    out.extend_from_slice(&crc32fast::hash(&body).to_le_bytes());
}

/// Decodes the section `rest` (what follows the properties' fields in the
/// block at `offset` of `path`): the length, checksum and fragment order
/// checked. `None` when it holds no fragment.
///
/// # Errors
///
/// [`Error::Corruption`] naming the file, the block's offset and what is wrong.
pub(crate) fn decode_section(
    rest: &Bytes,
    path: &Path,
    offset: u64,
) -> Result<Option<std::sync::Arc<Fragments>>> {
    let bad =
        |what, expected: u64, found: u64| Error::corruption(path, offset, what, expected, found);
    let len_bytes = rest
        .get(..4)
        .ok_or_else(|| bad("range-del section length", 4, rest.len() as u64))?;
    let mut a = [0u8; 4];
    a.copy_from_slice(len_bytes);
    let n = u32::from_le_bytes(a) as usize;
    let need = n as u64 + 8;
    if rest.len() as u64 != need {
        return Err(bad("range-del section length", need, rest.len() as u64));
    }
    let body = rest.slice(4..4 + n);
    a.copy_from_slice(&rest[4 + n..]);
    let stored = u32::from_le_bytes(a);
    let found = crc32fast::hash(&body);
    if stored != found {
        return Err(bad(
            "range-del section checksum",
            u64::from(stored),
            u64::from(found),
        ));
    }
    let f = Fragments::decode(&body).map_err(|b| bad(b.what, b.expected, b.found))?;
    Ok((!f.is_empty()).then(|| std::sync::Arc::new(f)))
}
