//! A store directory as data: every file's relative path and bytes, copies
//! of it, and snapshots (size and CRC-32 of every file) to tell whether a
//! command changed anything.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Every file under `dir`, by path relative to it, with its bytes.
pub(crate) fn read_tree(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let rel = path.strip_prefix(dir).unwrap().to_path_buf();
                out.insert(rel, std::fs::read(&path).unwrap());
            }
        }
    }
    out
}

/// Makes `dir` hold exactly `tree`.
pub(crate) fn write_tree(dir: &Path, tree: &BTreeMap<PathBuf, Vec<u8>>) {
    if dir.exists() {
        std::fs::remove_dir_all(dir).unwrap();
    }
    std::fs::create_dir_all(dir).unwrap();
    for (rel, bytes) in tree {
        let path = dir.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, bytes).unwrap();
    }
}

/// Size and CRC-32 of every file under a directory (directories too, so an
/// emptied blob directory shows).
pub(crate) type Snapshot = BTreeMap<PathBuf, Option<(u64, u32)>>;

/// Takes the snapshot of `dir`.
pub(crate) fn snapshot(dir: &Path) -> Snapshot {
    let mut out = Snapshot::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            let rel = path.strip_prefix(dir).unwrap().to_path_buf();
            if path.is_dir() {
                out.insert(rel, None);
                stack.push(path);
            } else {
                let bytes = std::fs::read(&path).unwrap_or_default();
                out.insert(rel, Some((bytes.len() as u64, crc32fast::hash(&bytes))));
            }
        }
    }
    out
}

/// What differs from `before` to `after`, or `None`. An empty lock file a
/// command created (`LOCK`, `KV-LOCK`, `btree.db.lock`, once the damage
/// deleted it) is not a change: opening needs it and it holds nothing.
pub(crate) fn diff(before: &Snapshot, after: &Snapshot) -> Option<String> {
    let is_lock = |p: &Path| {
        let name = super::base_name(p);
        name == "LOCK" || name == "KV-LOCK" || name.ends_with(".lock")
    };
    let mut changes = Vec::new();
    for (path, was) in before {
        match after.get(path) {
            None => changes.push(format!("deleted {}", path.display())),
            Some(now) if now != was => changes.push(format!("changed {}", path.display())),
            Some(_) => {}
        }
    }
    for (path, now) in after {
        let empty_lock = is_lock(path) && *now == Some((0, 0));
        if !before.contains_key(path) && !empty_lock {
            changes.push(format!("created {}", path.display()));
        }
    }
    (!changes.is_empty()).then(|| changes.join(", "))
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::{Snapshot, diff};

    #[test]
    fn diff_reports_changes_but_not_a_recreated_empty_lock() {
        let before: Snapshot = [(PathBuf::from("a.sst"), Some((3, 7)))].into();
        let mut after = before.clone();
        after.insert(PathBuf::from("LOCK"), Some((0, 0)));
        assert_eq!(diff(&before, &after), None);
        after.insert(PathBuf::from("b.sst"), Some((1, 1)));
        assert!(diff(&before, &after).is_some_and(|d| d.contains("created b.sst")));
        let changed: Snapshot = [(PathBuf::from("a.sst"), Some((3, 8)))].into();
        assert!(diff(&before, &changed).is_some_and(|d| d.contains("changed a.sst")));
        assert!(diff(&before, &Snapshot::new()).is_some_and(|d| d.contains("deleted a.sst")));
    }
}
