//! What the numbers ran on, so they are never quoted without it.

use std::path::Path;

/// The machine, the code and the moment of a report.
#[derive(Clone, Debug, PartialEq)]
pub struct Machine {
    /// CPU model name.
    pub cpu: String,
    /// Cores available to this process.
    pub cores: usize,
    /// Total memory.
    pub memory_gib: f64,
    /// Kernel release.
    pub kernel: String,
    /// Filesystem type of the data directory's mount, and the mount point.
    pub filesystem: String,
    /// The read-ahead of the block device under the data directory
    /// (`/sys/dev/block/M:m/queue/read_ahead_kb`), e.g. `"8192 KiB"`: how
    /// much a page fault on a memory map may read around it unless the map
    /// is advised random.
    pub read_ahead: String,
    /// `git rev-parse --short HEAD`, with `-dirty` if the tree has changes.
    pub commit: String,
    /// The UTC date and time the report started.
    pub date: String,
}

impl Machine {
    /// Reads `/proc` and git; what cannot be read is `"unknown"`.
    pub fn detect(data_dir: &Path) -> Machine {
        let read = |path: &str| std::fs::read_to_string(path).unwrap_or_default();
        let cpu = read("/proc/cpuinfo")
            .lines()
            .find(|l| l.starts_with("model name"))
            .and_then(|l| l.split(':').nth(1))
            .map_or_else(|| "unknown".to_string(), |s| s.trim().to_string());
        let memory_gib = read("/proc/meminfo")
            .lines()
            .find(|l| l.starts_with("MemTotal:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map_or(0.0, |kb| kb / (1024.0 * 1024.0));
        Machine {
            cpu,
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            memory_gib,
            kernel: read("/proc/sys/kernel/osrelease").trim().to_string(),
            filesystem: filesystem_of(data_dir, &read("/proc/mounts")),
            read_ahead: read_ahead_of(data_dir),
            commit: commit(),
            date: utc_now(),
        }
    }
}

/// The type of the longest mount point that is a prefix of `dir`.
fn filesystem_of(dir: &Path, mounts: &str) -> String {
    let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    mounts
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let (_, point, kind) = (f.next()?, f.next()?, f.next()?);
            dir.starts_with(point)
                .then(|| (point.len(), format!("{kind} ({point})")))
        })
        .max_by_key(|(len, _)| *len)
        .map_or_else(|| "unknown".to_string(), |(_, s)| s)
}

/// The read-ahead of the block device holding `dir`: its own queue's, or
/// for a partition its disk's (the partition's parent in sysfs).
fn read_ahead_of(dir: &Path) -> String {
    let Ok(st) = rustix::fs::stat(dir) else {
        return "unknown".into();
    };
    let dev = st.st_dev;
    let base = format!(
        "/sys/dev/block/{}:{}",
        rustix::fs::major(dev),
        rustix::fs::minor(dev)
    );
    [
        format!("{base}/queue/read_ahead_kb"),
        format!("{base}/../queue/read_ahead_kb"),
    ]
    .iter()
    .find_map(|p| std::fs::read_to_string(p).ok())
    .map_or_else(
        || "none (not a block device)".to_string(),
        |kb| format!("{} KiB", kb.trim()),
    )
}

fn commit() -> String {
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    match git(&["rev-parse", "--short", "HEAD"]) {
        Some(hash) => {
            let dirty = git(&["status", "--porcelain", "--untracked-files=no"])
                .is_some_and(|s| !s.is_empty());
            if dirty { format!("{hash}-dirty") } else { hash }
        }
        None => "unknown".to_string(),
    }
}

/// `YYYY-MM-DD HH:MM` UTC, from the system clock (civil-from-days).
fn utc_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_longest_matching_mount() {
        let mounts = "rootfs / ext4 rw 0 0\ntmpfs /tmp tmpfs rw 0 0\n";
        assert_eq!(filesystem_of(Path::new("/tmp/x"), mounts), "tmpfs (/tmp)");
        assert_eq!(filesystem_of(Path::new("/home"), mounts), "ext4 (/)");
    }

    #[test]
    fn read_ahead_names_a_size_or_says_why_not() {
        assert_eq!(read_ahead_of(Path::new("/no/such/dir")), "unknown");
        let here = read_ahead_of(Path::new("."));
        assert!(
            here.ends_with(" KiB") || here == "none (not a block device)",
            "{here}"
        );
    }

    #[test]
    fn the_date_is_well_formed() {
        let d = utc_now();
        assert_eq!(d.len(), 16, "{d}");
        assert!(d.starts_with("20"), "{d}");
    }
}
