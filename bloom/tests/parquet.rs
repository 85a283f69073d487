//! The split-block filter against bytes derived by hand from the Apache
//! Parquet specification (`BloomFilter.md`).

use larder_bloom::{SALT, SplitBlockBloomFilter};

#[test]
fn salt_constants_are_the_specifications() {
    assert_eq!(
        SALT,
        [
            0x47b6137b, 0x44974d91, 0x8824ad5b, 0xa2b7289d, 0x705495c7, 0x2df1424b, 0x9efc4947,
            0x5c6bfb31
        ]
    );
}

#[test]
fn hash_is_xxh64_seed_zero() {
    // XXH64 of the empty input with seed 0, the algorithm's published value.
    assert_eq!(SplitBlockBloomFilter::hash(b""), 0xEF46_DB37_51D8_E999);
}

#[test]
fn insert_of_hash_with_low_word_one_sets_the_top_five_salt_bits() {
    // x = 1: word i gets bit (1 * SALT[i]) >> 27, the salt's top five bits:
    // 0x47.. -> 01000 = 8, 0x44.. -> 8, 0x88.. -> 10001 = 17, 0xa2.. -> 10100 = 20,
    // 0x70.. -> 01110 = 14, 0x2d.. -> 00101 = 5, 0x9e.. -> 10011 = 19, 0x5c.. -> 01011 = 11.
    let mut filter = SplitBlockBloomFilter::with_bytes(32).unwrap();
    filter.insert_hash(1);
    let expected: [u8; 32] = [
        0x00, 0x01, 0x00, 0x00, // 1 << 8
        0x00, 0x01, 0x00, 0x00, // 1 << 8
        0x00, 0x00, 0x02, 0x00, // 1 << 17
        0x00, 0x00, 0x10, 0x00, // 1 << 20
        0x00, 0x40, 0x00, 0x00, // 1 << 14
        0x20, 0x00, 0x00, 0x00, // 1 << 5
        0x00, 0x00, 0x08, 0x00, // 1 << 19
        0x00, 0x08, 0x00, 0x00, // 1 << 11
    ];
    assert_eq!(filter.to_parquet_bitset(), expected);
    assert!(filter.contains_hash(1));
    assert!(!filter.contains_hash(2));
}

#[test]
fn upper_half_of_the_hash_picks_the_block() {
    // Two blocks: (0x8000_0000 * 2) >> 32 = 1, the second block.
    let mut filter = SplitBlockBloomFilter::with_bytes(64).unwrap();
    filter.insert_hash(0x8000_0000_0000_0001);
    let bitset = filter.to_parquet_bitset();
    assert!(bitset[..32].iter().all(|&b| b == 0));
    assert_eq!(&bitset[32..36], &[0x00, 0x01, 0x00, 0x00]);
    // (0x7fff_ffff * 2) >> 32 = 0, the first block.
    let mut filter = SplitBlockBloomFilter::with_bytes(64).unwrap();
    filter.insert_hash(0x7fff_ffff_0000_0001);
    assert!(filter.to_parquet_bitset()[32..].iter().all(|&b| b == 0));
}

#[test]
fn multiplication_wraps_modulo_two_to_the_32() {
    // x = 0xffff_ffff = -1 mod 2^32: x * SALT[0] = 2^32 - 0x47b6137b = 0xb849ec85,
    // whose top five bits are 10111 = 23.
    let mut filter = SplitBlockBloomFilter::with_bytes(32).unwrap();
    filter.insert_hash(0xffff_ffff);
    let bitset = filter.to_parquet_bitset();
    assert_eq!(&bitset[0..4], &(1u32 << 23).to_le_bytes());
}

#[test]
fn parquet_bitset_round_trips() {
    let mut filter = SplitBlockBloomFilter::with_rate(1000, 0.01).unwrap();
    for i in 0u32..1000 {
        filter.insert(&i.to_le_bytes());
    }
    let bitset = filter.to_parquet_bitset();
    assert_eq!(bitset.len(), filter.len_bytes());
    let read = SplitBlockBloomFilter::from_parquet_bitset(&bitset).unwrap();
    assert_eq!(read, filter);
    assert!(SplitBlockBloomFilter::from_parquet_bitset(&bitset[..31]).is_err());
}
