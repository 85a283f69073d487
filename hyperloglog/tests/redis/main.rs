//! Against Redis: registers and counts agree both ways. A test starts its
//! own `redis-server` on 127.0.0.1 (free port, no persistence) when one is
//! on `PATH`, and otherwise replays the server's answers captured in
//! `tests/data/redis/` (`session.rs` says how, and `REDIS_TEST` forces a
//! mode). CI installs the Debian package `redis-server` and runs it live.

mod resp;
mod session;

use larder_hyperloglog::HyperLogLog;

use resp::Reply;
use session::Redis;

#[test]
fn registers_and_counts_agree_with_redis_both_ways() {
    let mut redis = Redis::start("registers_and_counts");
    for n in [0u64, 1, 10, 100, 1_000, 3_000, 10_000, 100_000, 1_000_000] {
        let key = format!("theirs:{n}").into_bytes();
        let mut ours = HyperLogLog::redis();
        redis.int(&[b"DEL", &key]);
        let items: Vec<Vec<u8>> = (0..n).map(|i| format!("item:{i}").into_bytes()).collect();
        for item in &items {
            ours.insert(item);
        }
        if items.is_empty() {
            redis.int(&[b"PFADD", &key]);
        }
        for batch in items.chunks(10_000) {
            let mut args: Vec<&[u8]> = vec![b"PFADD", &key];
            args.extend(batch.iter().map(|i| i.as_slice()));
            redis.int(&args);
        }

        // Ours read from Redis' bytes (sparse below ~3,000 bytes, dense above).
        let bytes = redis.get(&key);
        // Both of Redis' encodings are read: sparse for small sets, dense
        // once the sparse form passes hll-sparse-max-bytes (3,000).
        let expected_encoding = if n <= 1_000 {
            1
        } else if n >= 10_000 {
            0
        } else {
            bytes[4]
        };
        assert_eq!(bytes[4], expected_encoding, "n={n}: encoding");
        let theirs = HyperLogLog::from_redis(&bytes).unwrap();
        assert_eq!(
            theirs, ours,
            "n={n}: registers differ (encoding {})",
            bytes[4]
        );
        let pfcount = redis.int(&[b"PFCOUNT", &key]) as u64;
        assert_eq!(ours.count(), pfcount, "n={n}: count vs PFCOUNT");

        // Redis reading ours.
        let our_key = format!("ours:{n}").into_bytes();
        redis.call(&[b"SET", &our_key, &ours.to_redis().unwrap()]);
        assert_eq!(
            redis.int(&[b"PFCOUNT", &our_key]) as u64,
            pfcount,
            "n={n}: PFCOUNT of our bytes"
        );
        let mut merged_key = format!("merged:{n}").into_bytes();
        merged_key.extend_from_slice(b"x");
        match redis.call(&[b"PFMERGE", &merged_key, &our_key, &key]) {
            Reply::Simple(ok) => assert_eq!(ok, "OK"),
            other => panic!("PFMERGE: {other:?}"),
        }
        assert_eq!(
            HyperLogLog::from_redis(&redis.get(&merged_key)).unwrap(),
            ours,
            "n={n}: PFMERGE of equal sketches"
        );
    }
    redis.finish();
}

#[test]
fn to_redis_refuses_sketches_redis_cannot_read() {
    assert!(HyperLogLog::new(14).unwrap().to_redis().is_err());
    assert!(HyperLogLog::redis().reduce(12).unwrap().to_redis().is_err());
    assert!(HyperLogLog::from_redis(b"HYLL").is_err());
    assert!(HyperLogLog::from_redis(b"nope").is_err());
}
