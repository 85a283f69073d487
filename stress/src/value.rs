//! Keys and self-describing values: a value names its key and its write
//! id and carries a CRC-32, so a verifier can tell a stale, misplaced or
//! damaged value from the one it expects.
//!
//! Value: `key u32 LE | id u64 LE | filler | crc32 LE` where the filler is
//! 8 to 199 bytes derived from the id, and the CRC covers everything before
//! it.

/// The key bytes for key number `k`: big-endian, so keys sort by number.
pub fn key(k: u32) -> [u8; 4] {
    k.to_be_bytes()
}

/// The key number of key bytes, if they are one.
pub fn key_number(bytes: &[u8]) -> Option<u32> {
    Some(u32::from_be_bytes(bytes.try_into().ok()?))
}

/// The value written for key `k` by write `id`.
pub fn value(k: u32, id: u64) -> Vec<u8> {
    let filler = 8 + (id.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 57) as usize;
    let mut v = Vec::with_capacity(12 + filler + 4);
    v.extend_from_slice(&k.to_le_bytes());
    v.extend_from_slice(&id.to_le_bytes());
    v.extend((0..filler).map(|i| (id as u8).wrapping_add(i as u8)));
    let crc = crc32fast::hash(&v);
    v.extend_from_slice(&crc.to_le_bytes());
    v
}

/// What a value read back says.
#[derive(Debug, PartialEq, Eq)]
pub enum Parsed {
    /// A sound value of this key with this write id.
    Id(u64),
    /// Sound, but written for another key.
    OtherKey(u32),
    /// Too short, a failed CRC, or a filler that does not match its id.
    Damaged,
}

/// Checks a value read for key `k`.
pub fn parse(k: u32, v: &[u8]) -> Parsed {
    let Some(body_len) = v.len().checked_sub(4) else {
        return Parsed::Damaged;
    };
    if body_len < 12 {
        return Parsed::Damaged;
    }
    let crc = u32::from_le_bytes([
        v[body_len],
        v[body_len + 1],
        v[body_len + 2],
        v[body_len + 3],
    ]);
    if crc32fast::hash(&v[..body_len]) != crc {
        return Parsed::Damaged;
    }
    let owner = u32::from_le_bytes([v[0], v[1], v[2], v[3]]);
    let mut id = [0u8; 8];
    id.copy_from_slice(&v[4..12]);
    let id = u64::from_le_bytes(id);
    if value(owner, id) != v {
        return Parsed::Damaged;
    }
    if owner != k {
        return Parsed::OtherKey(owner);
    }
    Parsed::Id(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_parse_back_and_damage_is_seen() {
        for id in [1u64, 2, 77, u64::MAX / 3] {
            let v = value(9, id);
            assert_eq!(parse(9, &v), Parsed::Id(id));
            assert_eq!(parse(10, &v), Parsed::OtherKey(9));
            for i in 0..v.len() {
                let mut bad = v.clone();
                bad[i] ^= 0x20;
                assert_eq!(parse(9, &bad), Parsed::Damaged, "byte {i}");
            }
            assert_eq!(parse(9, &v[..v.len() - 1]), Parsed::Damaged);
        }
        assert_eq!(key_number(&key(123_456)), Some(123_456));
    }
}
