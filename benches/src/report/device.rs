//! What the storage under the engines can do, measured in the same run: the
//! limits a fill (sequential write bandwidth) and a cold get (one random
//! read of an evicted page) run into, so an engine's figure can be put
//! beside the machine's.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::time::{Duration, Instant};

/// The device limits one run measured.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DeviceLimits {
    /// Size of the probe file written, then read.
    pub file_bytes: u64,
    /// Writing it in 1 MiB writes and one `fdatasync`, MB/s (10^6 bytes).
    pub write_mb_per_sec: f64,
    /// Random 4 KiB-aligned reads of it after it was evicted from the page
    /// cache (`POSIX_FADV_DONTNEED`, then `POSIX_FADV_RANDOM`: no
    /// read-ahead), one thread: reads per second.
    pub reads_per_sec: f64,
    /// Median latency of those reads, µs.
    pub read_p50_us: f64,
    /// 99th percentile latency of those reads, µs.
    pub read_p99_us: f64,
}

/// Bytes in one write of the probe.
const WRITE_BYTES: usize = 1 << 20;
/// Bytes in one read of the probe: a page, and about one table block.
const READ_BYTES: u64 = 4096;

/// Writes a probe file of `file_bytes` (rounded up to whole MiB) in `dir`,
/// syncs it, evicts it and reads 4 KiB at random offsets of it for up to
/// `read_secs` or `max_reads` reads; removes it.
///
/// # Errors
///
/// A message naming the file and the call that failed.
pub fn measure(
    dir: &Path,
    file_bytes: u64,
    read_secs: f64,
    max_reads: u64,
) -> Result<DeviceLimits, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let path = dir.join("device-probe");
    let r = probe(&path, file_bytes, read_secs, max_reads);
    let _ = std::fs::remove_file(&path);
    r
}

fn probe(
    path: &Path,
    file_bytes: u64,
    read_secs: f64,
    max_reads: u64,
) -> Result<DeviceLimits, String> {
    let at = |what: &str, e: std::io::Error| format!("{}: {what}: {e}", path.display());
    let chunks = file_bytes.div_ceil(WRITE_BYTES as u64).max(1);
    let file_bytes = chunks * WRITE_BYTES as u64;
    // Incompressible bytes, so no layer below can shrink the writes.
    let mut rng = crate::SplitMix64::new(0xD15C);
    let mut buf = vec![0u8; WRITE_BYTES];
    let mut file = OpenOptions::new()
        .create(true)
        .truncate(true)
        .read(true)
        .write(true)
        .open(path)
        .map_err(|e| at("create", e))?;
    let started = Instant::now();
    for _ in 0..chunks {
        for word in buf.chunks_exact_mut(8) {
            word.copy_from_slice(&rng.next_u64().to_le_bytes());
        }
        file.write_all(&buf).map_err(|e| at("write", e))?;
    }
    file.sync_data().map_err(|e| at("fdatasync", e))?;
    let write_secs = started.elapsed().as_secs_f64().max(1e-9);

    evict_for_random_reads(&file).map_err(|e| at("posix_fadvise", e))?;
    let pages = file_bytes / READ_BYTES;
    let mut page = [0u8; READ_BYTES as usize];
    let mut latencies_ns: Vec<u64> = Vec::new();
    let budget = Duration::from_secs_f64(read_secs);
    let reading = Instant::now();
    while (latencies_ns.len() as u64) < max_reads.max(1) && reading.elapsed() < budget {
        let offset = rng.next_u64() % pages * READ_BYTES;
        let t = Instant::now();
        file.read_exact_at(&mut page, offset)
            .map_err(|e| at("pread", e))?;
        latencies_ns.push(t.elapsed().as_nanos() as u64);
    }
    let read_secs = reading.elapsed().as_secs_f64().max(1e-9);
    latencies_ns.sort_unstable();
    let quantile = |q: f64| {
        let i = ((latencies_ns.len() - 1) as f64 * q).round() as usize;
        latencies_ns[i] as f64 / 1e3
    };
    Ok(DeviceLimits {
        file_bytes,
        write_mb_per_sec: file_bytes as f64 / write_secs / 1e6,
        reads_per_sec: latencies_ns.len() as f64 / read_secs,
        read_p50_us: quantile(0.5),
        read_p99_us: quantile(0.99),
    })
}

/// Drops `file` from the page cache and turns read-ahead off for it, so
/// each read is one trip to the device.
fn evict_for_random_reads(file: &File) -> std::io::Result<()> {
    use rustix::fs::{Advice, fadvise};
    fadvise(file, 0, None, Advice::DontNeed)?;
    fadvise(file, 0, None, Advice::Random)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_probe_writes_reads_and_removes_its_file() {
        let dir = tempfile::tempdir().unwrap();
        let limits = measure(dir.path(), 3 << 20, 0.2, 100).unwrap();
        assert_eq!(limits.file_bytes, 3 << 20);
        assert!(limits.write_mb_per_sec > 0.0);
        assert!(limits.reads_per_sec > 0.0);
        assert!(limits.read_p50_us <= limits.read_p99_us);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn a_directory_that_cannot_be_made_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let blocker = dir.path().join("file");
        std::fs::write(&blocker, b"x").unwrap();
        let err = measure(&blocker.join("sub"), 1 << 20, 0.1, 10).unwrap_err();
        assert!(err.contains("sub"), "{err}");
    }
}
