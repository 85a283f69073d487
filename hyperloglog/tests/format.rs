//! The serialized sketch: golden bytes, and every bad input an `Err`.

use larder_hyperloglog::{Error, HyperLogLog, UltraLogLog};

fn golden() -> HyperLogLog {
    let mut s = HyperLogLog::new(4).unwrap();
    for i in 0u32..20 {
        s.insert(&i.to_le_bytes());
    }
    s
}

fn path() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/dense_p4.bin")
}

/// `HLL_BLESS=1` rewrites the golden file after a deliberate format change.
#[test]
fn serialized_bytes_match_golden_file() {
    let bytes = golden().to_bytes();
    if std::env::var_os("HLL_BLESS").is_some() {
        std::fs::write(path(), &bytes).unwrap();
    }
    assert_eq!(bytes, std::fs::read(path()).unwrap());
    assert_eq!(&bytes[..8], &[b'H', b'Y', b'L', b'S', 1, 1, 4, 1]);
    assert_eq!(bytes.len(), 8 + (16 * 6 / 8 + 1) + 4);
}

#[test]
fn decode_rejects_every_truncation_and_flipped_bit() {
    let bytes = golden().to_bytes();
    for len in 0..bytes.len() {
        assert!(HyperLogLog::from_bytes(&bytes[..len]).is_err(), "len {len}");
    }
    for bit in 0..bytes.len() * 8 {
        let mut bad = bytes.clone();
        bad[bit / 8] ^= 1 << (bit % 8);
        assert!(HyperLogLog::from_bytes(&bad).is_err(), "bit {bit}");
    }
    let mut long = bytes.clone();
    long.push(0);
    assert!(matches!(
        HyperLogLog::from_bytes(&long),
        Err(Error::TrailingBytes { .. })
    ));
}

#[test]
fn decode_rejects_impossible_registers_and_padding_even_with_valid_crc() {
    let bytes = golden().to_bytes();
    let body = bytes.len() - 4;
    // Register 0 = 63 > 61, the maximum at p = 4.
    let mut bad = bytes.clone();
    bad[8] |= 0x3f;
    reseal(&mut bad, body);
    assert!(matches!(
        HyperLogLog::from_bytes(&bad),
        Err(Error::RegisterValue {
            index: 0,
            value: 63,
            max: 61
        })
    ));
    let mut bad = bytes.clone();
    bad[body - 1] = 1;
    reseal(&mut bad, body);
    assert!(matches!(
        HyperLogLog::from_bytes(&bad),
        Err(Error::BadHeader { .. })
    ));
}

fn reseal(bytes: &mut [u8], body: usize) {
    let mut crc = !0u32;
    for &b in &bytes[..body] {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    bytes[body..].copy_from_slice(&(!crc).to_le_bytes());
}

fn ull_golden() -> UltraLogLog {
    let mut s = UltraLogLog::new(4).unwrap();
    for i in 0u32..20 {
        s.insert(&i.to_le_bytes());
    }
    s
}

/// `HLL_BLESS=1` rewrites this golden file too.
#[test]
fn ultraloglog_bytes_match_golden_file() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/ull_p4.bin");
    let bytes = ull_golden().to_bytes();
    if std::env::var_os("HLL_BLESS").is_some() {
        std::fs::write(&path, &bytes).unwrap();
    }
    assert_eq!(bytes, std::fs::read(&path).unwrap());
    assert_eq!(&bytes[..8], &[b'H', b'Y', b'L', b'S', 1, 3, 4, 1]);
    assert_eq!(bytes.len(), 8 + 16 + 4);
}

#[test]
fn ultraloglog_decode_rejects_every_truncation_and_flipped_bit() {
    let bytes = ull_golden().to_bytes();
    for len in 0..bytes.len() {
        assert!(UltraLogLog::from_bytes(&bytes[..len]).is_err(), "len {len}");
    }
    for bit in 0..bytes.len() * 8 {
        let mut bad = bytes.clone();
        bad[bit / 8] ^= 1 << (bit % 8);
        assert!(UltraLogLog::from_bytes(&bad).is_err(), "bit {bit}");
    }
}

#[test]
fn the_two_sketch_kinds_refuse_each_others_bytes() {
    assert!(matches!(
        HyperLogLog::from_bytes(&ull_golden().to_bytes()),
        Err(Error::BadHeader { .. })
    ));
    assert!(matches!(
        UltraLogLog::from_bytes(&golden().to_bytes()),
        Err(Error::BadHeader { .. })
    ));
}

#[test]
fn ultraloglog_decode_rejects_impossible_registers_even_with_valid_crc() {
    let bytes = ull_golden().to_bytes();
    let body = bytes.len() - 4;
    // u = 62 > 61, the largest value at p = 4; then u = 1 with history bits
    // for values 0 and -1, which do not exist.
    for (register, value) in [(0usize, 62u8 << 2), (3, (1 << 2) | 1), (5, (2 << 2) | 1)] {
        let mut bad = bytes.clone();
        bad[8 + register] = value;
        reseal(&mut bad, body);
        assert!(
            matches!(
                UltraLogLog::from_bytes(&bad),
                Err(Error::RegisterValue { index, value: v, .. }) if index == register && v == value
            ),
            "register {register} = {value:#x}"
        );
    }
}
