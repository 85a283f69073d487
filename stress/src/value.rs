//! Keys and self-describing values: a value names its key and its write
//! id and carries a CRC-32, so a verifier can tell a stale, misplaced or
//! damaged value from the one it expects.
//!
//! Value: `key u32 LE | id u64 LE | filler | crc32 LE` where the filler is
//! 8 to 199 bytes derived from the id, and the CRC covers everything before
//! it. A value written by a batch may also name every write of its batch,
//! between the filler and the CRC: `n` times `key u32 LE | id u64 LE |
//! put u8`, then `n u8`. A verifier that finds such a value knows what
//! else the batch wrote, and so whether the batch survived a crash whole.

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
    batch_value(k, id, &[])
}

/// One write of a batch, as a value of the batch names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Member {
    /// The key written.
    pub key: u32,
    /// The write's id.
    pub id: u64,
    /// A put (else a delete).
    pub put: bool,
}

/// Bytes a member takes in a value.
const MEMBER_BYTES: usize = 13;
/// Members a value names, at most (its count is one byte).
pub const MEMBERS_MAX: usize = 255;

fn filler_len(id: u64) -> usize {
    8 + (id.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 57) as usize
}

/// The value written for key `k` by write `id` of a batch of `members`
/// (every write of the batch, this one included); with none, [`value`].
///
/// # Panics
///
/// With more than [`MEMBERS_MAX`] members.
pub fn batch_value(k: u32, id: u64, members: &[Member]) -> Vec<u8> {
    assert!(members.len() <= MEMBERS_MAX, "{} members", members.len());
    let filler = filler_len(id);
    let trailer = if members.is_empty() {
        0
    } else {
        MEMBER_BYTES * members.len() + 1
    };
    let mut v = Vec::with_capacity(12 + filler + trailer + 4);
    v.extend_from_slice(&k.to_le_bytes());
    v.extend_from_slice(&id.to_le_bytes());
    v.extend((0..filler).map(|i| (id as u8).wrapping_add(i as u8)));
    for m in members {
        v.extend_from_slice(&m.key.to_le_bytes());
        v.extend_from_slice(&m.id.to_le_bytes());
        v.push(u8::from(m.put));
    }
    if !members.is_empty() {
        // Cannot truncate: checked against `MEMBERS_MAX` above.
        v.push(members.len() as u8);
    }
    let crc = crc32fast::hash(&v);
    v.extend_from_slice(&crc.to_le_bytes());
    v
}

/// The batch members a value names (empty for a value written alone).
/// Meant for a value [`parse`] found sound; anything else names none.
pub fn members(v: &[u8]) -> Vec<Member> {
    let Some(body) = v.len().checked_sub(4).map(|n| &v[..n]) else {
        return Vec::new();
    };
    let Some(id) = body.get(4..12) else {
        return Vec::new();
    };
    let mut b = [0u8; 8];
    b.copy_from_slice(id);
    let single = 12 + filler_len(u64::from_le_bytes(b));
    if body.len() <= single {
        return Vec::new();
    }
    let n = usize::from(body[body.len() - 1]);
    if body.len() != single + MEMBER_BYTES * n + 1 {
        return Vec::new();
    }
    body[single..body.len() - 1]
        .chunks_exact(MEMBER_BYTES)
        .map(|c| {
            let mut k = [0u8; 4];
            k.copy_from_slice(&c[..4]);
            let mut id = [0u8; 8];
            id.copy_from_slice(&c[4..12]);
            Member {
                key: u32::from_le_bytes(k),
                id: u64::from_le_bytes(id),
                put: c[12] == 1,
            }
        })
        .collect()
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
    if batch_value(owner, id, &members(v)) != v {
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

    #[test]
    fn batch_values_name_their_members_and_damage_is_seen() {
        let ms = [
            Member {
                key: 9,
                id: 40,
                put: true,
            },
            Member {
                key: 2,
                id: 41,
                put: false,
            },
            Member {
                key: 5,
                id: 42,
                put: true,
            },
        ];
        let v = batch_value(9, 40, &ms);
        assert_eq!(parse(9, &v), Parsed::Id(40));
        assert_eq!(members(&v), ms);
        assert!(members(&value(9, 40)).is_empty());
        for i in 0..v.len() {
            let mut bad = v.clone();
            bad[i] ^= 0x20;
            assert_eq!(parse(9, &bad), Parsed::Damaged, "byte {i}");
        }
        // A single value's bytes with a member count glued on do not pass.
        let mut glued = value(9, 40);
        let body = glued.len() - 4;
        glued.truncate(body);
        glued.push(1);
        let crc = crc32fast::hash(&glued);
        glued.extend_from_slice(&crc.to_le_bytes());
        assert_eq!(parse(9, &glued), Parsed::Damaged);
    }
}
