//! The serialized layout: golden files pin the bytes; bad bytes are `Err`s
//! naming what is wrong.

use larder_bloom::{
    BlockedBloomFilter, BloomFilter, CountingBloomFilter, Error, FilterRef, Kind,
    SplitBlockBloomFilter,
};

const KEYS: [&[u8]; 4] = [b"", b"a", b"storage", b"engine"];

fn goldens() -> Vec<(&'static str, Vec<u8>)> {
    let mut classic = BloomFilter::with_bits(128, 3).unwrap();
    let mut blocked = BlockedBloomFilter::with_bits(512, 4).unwrap();
    let mut split = SplitBlockBloomFilter::with_bytes(64).unwrap();
    let mut counting = CountingBloomFilter::with_counters(32, 3).unwrap();
    for key in KEYS {
        classic.insert(key);
        blocked.insert(key);
        split.insert(key);
        counting.insert(key);
    }
    counting.insert(b"a");
    vec![
        ("classic.bin", classic.to_bytes()),
        ("blocked.bin", blocked.to_bytes()),
        ("split_block.bin", split.to_bytes()),
        ("counting.bin", counting.to_bytes()),
    ]
}

fn data_path(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

/// Set `BLOOM_BLESS=1` to rewrite the golden files after a deliberate format
/// change (and record the change in FORMAT.md's version history).
#[test]
fn serialized_bytes_match_golden_files() {
    for (name, bytes) in goldens() {
        if std::env::var_os("BLOOM_BLESS").is_some() {
            std::fs::write(data_path(name), &bytes).unwrap();
        }
        let golden = std::fs::read(data_path(name)).unwrap();
        assert_eq!(bytes, golden, "{name} differs from its golden file");
    }
}

#[test]
fn golden_files_decode_and_answer() {
    let classic =
        BloomFilter::from_bytes(&std::fs::read(data_path("classic.bin")).unwrap()).unwrap();
    let blocked =
        BlockedBloomFilter::from_bytes(&std::fs::read(data_path("blocked.bin")).unwrap()).unwrap();
    let split =
        SplitBlockBloomFilter::from_bytes(&std::fs::read(data_path("split_block.bin")).unwrap())
            .unwrap();
    let counting =
        CountingBloomFilter::from_bytes(&std::fs::read(data_path("counting.bin")).unwrap())
            .unwrap();
    for key in KEYS {
        assert!(
            classic.contains(key)
                && blocked.contains(key)
                && split.contains(key)
                && counting.contains(key)
        );
    }
}

#[test]
fn header_fields_sit_at_documented_offsets() {
    let bytes = BloomFilter::with_bits(128, 3).unwrap().to_bytes();
    assert_eq!(&bytes[0..4], b"BLMF");
    assert_eq!(bytes[4], 1, "version");
    assert_eq!(bytes[5], 1, "kind: classic");
    assert_eq!(bytes[6], 1, "hash: xxh3-128");
    assert_eq!(bytes[7], 0);
    assert_eq!(
        u64::from_le_bytes(bytes[8..16].try_into().unwrap()),
        128,
        "bits"
    );
    assert_eq!(
        u32::from_le_bytes(bytes[16..20].try_into().unwrap()),
        3,
        "probes"
    );
    assert_eq!(u32::from_le_bytes(bytes[20..24].try_into().unwrap()), 0);
    assert_eq!(
        u64::from_le_bytes(bytes[24..32].try_into().unwrap()),
        16,
        "payload bytes"
    );
    assert_eq!(bytes.len(), 32 + 16 + 4);
    let crc = u32::from_le_bytes(bytes[48..52].try_into().unwrap());
    assert_eq!(crc, crc32fast_hash(&bytes[..48]));
    let split = SplitBlockBloomFilter::with_bytes(64).unwrap().to_bytes();
    assert_eq!((split[5], split[6]), (3, 2), "split-block kind, xxh64 hash");
}

fn crc32fast_hash(bytes: &[u8]) -> u32 {
    // Reference CRC-32 (IEEE, reflected), bit by bit, so the test does not
    // share code with the implementation.
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

#[test]
fn decode_rejects_truncated_input_at_every_length() {
    let bytes = BloomFilter::with_rate(100, 0.01).unwrap().to_bytes();
    for len in 0..bytes.len() {
        let err = BloomFilter::from_bytes(&bytes[..len]).unwrap_err();
        assert!(
            matches!(err, Error::Truncated { len: l, .. } if l == len),
            "len {len}: {err:?}"
        );
        assert!(FilterRef::new(&bytes[..len]).is_err());
    }
}

#[test]
fn decode_rejects_trailing_bytes() {
    let mut bytes = BloomFilter::with_rate(100, 0.01).unwrap().to_bytes();
    bytes.push(0);
    assert!(matches!(
        BloomFilter::from_bytes(&bytes),
        Err(Error::TrailingBytes { .. })
    ));
}

#[test]
fn decode_reports_every_flipped_bit() {
    let mut filter = BlockedBloomFilter::with_rate(100, 0.01).unwrap();
    filter.insert(b"x");
    let bytes = filter.to_bytes();
    for bit in 0..bytes.len() * 8 {
        let mut corrupt = bytes.clone();
        corrupt[bit / 8] ^= 1 << (bit % 8);
        let err = BlockedBloomFilter::from_bytes(&corrupt).unwrap_err();
        // A flip in the magic, version or length fields is caught by those
        // checks; anywhere else the CRC catches it.
        assert!(
            matches!(
                err,
                Error::Checksum { .. }
                    | Error::BadMagic { .. }
                    | Error::UnsupportedVersion { .. }
                    | Error::Truncated { .. }
                    | Error::TrailingBytes { .. }
            ),
            "bit {bit}: {err:?}"
        );
    }
}

#[test]
fn checksum_error_names_expected_and_found() {
    let mut bytes = BloomFilter::with_rate(100, 0.01).unwrap().to_bytes();
    let last = bytes.len() - 5;
    bytes[last] ^= 0xFF;
    match BloomFilter::from_bytes(&bytes) {
        Err(Error::Checksum { expected, found }) => assert_ne!(expected, found),
        other => panic!("expected a checksum error, got {other:?}"),
    }
}

#[test]
fn decode_of_another_kind_is_wrong_kind() {
    let bytes = BlockedBloomFilter::with_rate(100, 0.01).unwrap().to_bytes();
    assert!(matches!(
        BloomFilter::from_bytes(&bytes),
        Err(Error::WrongKind {
            expected: Kind::Classic,
            found: Kind::Blocked
        })
    ));
    assert!(matches!(
        CountingBloomFilter::from_bytes(&bytes),
        Err(Error::WrongKind {
            expected: Kind::Counting,
            found: Kind::Blocked
        })
    ));
    assert_eq!(FilterRef::new(&bytes).unwrap().kind(), Kind::Blocked);
}

#[test]
fn decode_rejects_bad_magic_version_and_kind() {
    let bytes = BloomFilter::with_rate(100, 0.01).unwrap().to_bytes();
    let mut bad = bytes.clone();
    bad[0] = b'X';
    assert!(matches!(
        BloomFilter::from_bytes(&bad),
        Err(Error::BadMagic { .. })
    ));
    let mut bad = bytes.clone();
    bad[4] = 2;
    assert!(matches!(
        BloomFilter::from_bytes(&bad),
        Err(Error::UnsupportedVersion {
            found: 2,
            supported: 1
        })
    ));
    // A valid CRC over an unknown kind: re-seal after editing.
    let mut bad = bytes.clone();
    bad[5] = 9;
    reseal(&mut bad);
    assert!(matches!(
        BloomFilter::from_bytes(&bad),
        Err(Error::UnknownKind { found: 9 })
    ));
}

#[test]
fn decode_rejects_inconsistent_header_even_with_valid_crc() {
    let bytes = BloomFilter::with_bits(128, 3).unwrap().to_bytes();
    // Claim more bits than the payload holds.
    let mut bad = bytes.clone();
    bad[8..16].copy_from_slice(&4096u64.to_le_bytes());
    reseal(&mut bad);
    assert!(matches!(
        BloomFilter::from_bytes(&bad),
        Err(Error::BadHeader { .. })
    ));
    assert!(matches!(FilterRef::new(&bad), Err(Error::BadHeader { .. })));
    // Zero probes.
    let mut bad = bytes.clone();
    bad[16..20].copy_from_slice(&0u32.to_le_bytes());
    reseal(&mut bad);
    assert!(matches!(
        BloomFilter::from_bytes(&bad),
        Err(Error::BadHeader { .. })
    ));
}

#[test]
fn huge_length_field_is_rejected_without_allocating() {
    let mut bytes = BloomFilter::with_bits(128, 3).unwrap().to_bytes();
    bytes[24..32].copy_from_slice(&u64::MAX.to_le_bytes());
    assert!(matches!(
        BloomFilter::from_bytes(&bytes),
        Err(Error::Truncated { .. })
    ));
    bytes[8..16].copy_from_slice(&u64::MAX.to_le_bytes());
    bytes[24..32].copy_from_slice(&16u64.to_le_bytes());
    reseal(&mut bytes);
    assert!(matches!(
        BloomFilter::from_bytes(&bytes),
        Err(Error::BadHeader { .. })
    ));
}

fn reseal(bytes: &mut [u8]) {
    let end = bytes.len() - 4;
    let crc = crc32fast_hash(&bytes[..end]);
    bytes[end..].copy_from_slice(&crc.to_le_bytes());
}
