//! Serialized proofs: golden bytes, and every bad input an `Err`.

use larder_merkle::{
    CompactTree, ConsistencyProof, Error, InclusionProof, MerkleTree, MultiProof, Sha256, Xxh3,
};

fn tree() -> MerkleTree<Sha256> {
    MerkleTree::from_leaves((0u8..7).map(|i| [i]))
}

fn goldens() -> Vec<(&'static str, Vec<u8>)> {
    let t = tree();
    let mut log = CompactTree::<Sha256>::new();
    for i in 0u8..7 {
        log.push(&[i]);
    }
    vec![
        ("inclusion.bin", t.inclusion_proof(2, 7).unwrap().to_bytes()),
        (
            "consistency.bin",
            t.consistency_proof(3, 7).unwrap().to_bytes(),
        ),
        (
            "multi.bin",
            t.multi_proof(&[1, 2, 6], 7).unwrap().to_bytes(),
        ),
        ("frontier.bin", log.to_bytes()),
    ]
}

fn path(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

/// `MERKLE_BLESS=1` rewrites the golden files after a deliberate change.
#[test]
fn serialized_bytes_match_golden_files() {
    for (name, bytes) in goldens() {
        if std::env::var_os("MERKLE_BLESS").is_some() {
            std::fs::write(path(name), &bytes).unwrap();
        }
        assert_eq!(bytes, std::fs::read(path(name)).unwrap(), "{name}");
    }
}

#[test]
fn inclusion_layout_is_as_documented() {
    let bytes = tree().inclusion_proof(2, 7).unwrap().to_bytes();
    assert_eq!(&bytes[..4], b"MRKL");
    assert_eq!(
        bytes[4..8],
        [1, 1, 1, 32],
        "version, kind, hasher, digest length"
    );
    assert_eq!(u64::from_le_bytes(bytes[8..16].try_into().unwrap()), 2);
    assert_eq!(u64::from_le_bytes(bytes[16..24].try_into().unwrap()), 7);
    assert_eq!(u32::from_le_bytes(bytes[24..28].try_into().unwrap()), 3);
    assert_eq!(bytes.len(), 28 + 3 * 32 + 4);
}

#[test]
fn decoders_reject_every_truncation_and_flipped_bit() {
    for (name, bytes) in goldens() {
        for len in 0..bytes.len() {
            let cut = &bytes[..len];
            assert!(
                InclusionProof::<Sha256>::from_bytes(cut).is_err(),
                "{name} at {len}"
            );
            assert!(MultiProof::<Sha256>::from_bytes(cut).is_err());
            assert!(CompactTree::<Sha256>::from_bytes(cut).is_err());
        }
        for bit in 0..bytes.len() * 8 {
            let mut bad = bytes.clone();
            bad[bit / 8] ^= 1 << (bit % 8);
            assert!(
                ConsistencyProof::<Sha256>::from_bytes(&bad).is_err(),
                "{name} bit {bit}"
            );
            assert!(InclusionProof::<Sha256>::from_bytes(&bad).is_err());
        }
    }
}

#[test]
fn decoders_reject_other_kinds_and_hashers() {
    let bytes = tree().inclusion_proof(2, 7).unwrap().to_bytes();
    assert!(matches!(
        ConsistencyProof::<Sha256>::from_bytes(&bytes),
        Err(Error::BadHeader { .. })
    ));
    assert!(matches!(
        InclusionProof::<Xxh3>::from_bytes(&bytes),
        Err(Error::BadHeader { .. })
    ));
    let mut trailing = bytes.clone();
    trailing.insert(bytes.len() - 4, 0);
    reseal(&mut trailing);
    assert!(matches!(
        InclusionProof::<Sha256>::from_bytes(&trailing),
        Err(Error::TrailingBytes { .. })
    ));
}

#[test]
fn huge_count_is_rejected_without_allocating() {
    let mut bytes = tree().inclusion_proof(2, 7).unwrap().to_bytes();
    bytes[24..28].copy_from_slice(&u32::MAX.to_le_bytes());
    reseal(&mut bytes);
    assert!(matches!(
        InclusionProof::<Sha256>::from_bytes(&bytes),
        Err(Error::Truncated { .. })
    ));
    let mut frontier = goldens()[3].1.clone();
    frontier[16..20].copy_from_slice(&u32::MAX.to_le_bytes());
    reseal(&mut frontier);
    assert!(matches!(
        CompactTree::<Sha256>::from_bytes(&frontier),
        Err(Error::Truncated { .. })
    ));
}

#[test]
fn frontier_must_match_its_size() {
    let mut bytes = goldens()[3].1.clone();
    bytes[8..16].copy_from_slice(&8u64.to_le_bytes()); // 8 has one set bit, frontier has 3
    reseal(&mut bytes);
    assert!(matches!(
        CompactTree::<Sha256>::from_bytes(&bytes),
        Err(Error::ProofLength {
            expected: 1,
            found: 3
        })
    ));
}

fn reseal(bytes: &mut [u8]) {
    let end = bytes.len() - 4;
    let crc = crc32(&bytes[..end]);
    bytes[end..].copy_from_slice(&crc.to_le_bytes());
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}
