//! `checkpoint`, `backup` and `restore`, on top of the engines' checkpoints
//! ([`Engine::checkpoint`]).
//!
//! A *checkpoint* is a new store directory: the engine's consistent copy
//! plus the engine marker; `kv-store --db DIR ...` opens it like any store.
//! An lsm checkpoint shares its tables and blob files with the source
//! through hard links (copies them across file systems); a btree checkpoint
//! is a compacted copy of the last commit.
//!
//! A *backup directory* holds numbered backups `DIR/1`, `DIR/2`, ... (like
//! RocksDB's BackupEngine). Each is a checkpoint's files, copied (never
//! linked to the live store, so damage to the store cannot reach a backup),
//! plus [`MANIFEST_NAME`], a JSON object listing every file with its size
//! and SHA-256. A file equal (same path, size and SHA-256, checked again on
//! the older copy) to one in the latest backup is hard-linked to it instead
//! of copied: backups of a store whose tables did not change cost little.
//! A backup is built under a temporary name and renamed to its number once
//! complete and synced, so a crash leaves no half backup under a number.
//!
//! `restore` checks every file of a backup against its manifest (size and
//! SHA-256) before it copies anything, refuses a damaged backup naming the
//! file, expected and found, and copies into a new directory under a
//! temporary name, renamed once complete and synced.
//!
//! Locking: `checkpoint` and `backup` open an lsm store read-write (its
//! checkpoint flushes the memtable first, a write), so they wait for no
//! one but are refused while another process has the store; a btree store
//! is opened read-only (its checkpoint reads one committed snapshot), so
//! they run beside readers.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Component, Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::cli::{Command, ListFormat};
use crate::engine::{Engine, EngineKind};
use crate::store::{Create, LOCK_FILE, MARKER_FILE, Store};
use crate::{Error, Result};

/// The file in each backup listing its files, sizes and SHA-256 sums.
pub(crate) const MANIFEST_NAME: &str = "BACKUP-MANIFEST.json";
/// Version of the manifest's layout.
const MANIFEST_FORMAT: u64 = 1;
/// Bytes read at a time when hashing or copying.
const CHUNK_BYTES: usize = 1 << 20;
/// Largest backup number accepted from a directory name.
const BACKUP_ID_MAX: u64 = 1 << 53;

/// One file of a backup.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct FileEntry {
    /// Path relative to the backup (and to the store), `/`-separated.
    pub path: String,
    /// Length in bytes.
    pub size: u64,
    /// SHA-256 of the contents, lowercase hex.
    pub sha256: String,
}

/// A backup's manifest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct BackupManifest {
    /// The backup's number.
    pub id: u64,
    /// When it was made, in seconds since the Unix epoch.
    pub created_unix_s: u64,
    /// The engine of the store it holds.
    pub engine: EngineKind,
    /// Every file, sorted by path.
    pub files: Vec<FileEntry>,
}

impl BackupManifest {
    /// Total bytes of the files.
    pub(crate) fn bytes(&self) -> u64 {
        self.files.iter().map(|f| f.size).sum()
    }

    fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "format": MANIFEST_FORMAT,
            "id": self.id,
            "created_unix_s": self.created_unix_s,
            "engine": self.engine.as_str(),
            "files": self.files.iter().map(|f| serde_json::json!({
                "path": f.path, "size": f.size, "sha256": f.sha256,
            })).collect::<Vec<_>>(),
        })
    }

    /// Parses a manifest read from `file`.
    fn parse(text: &str, file: &Path) -> Result<BackupManifest> {
        let bad = |what: &str| Error::BackupDamaged {
            file: file.to_path_buf(),
            what: "manifest does not read".to_string(),
            expected: format!("a backup manifest (format {MANIFEST_FORMAT})"),
            found: what.to_string(),
        };
        let v: serde_json::Value =
            serde_json::from_str(text).map_err(|e| bad(&format!("bad JSON: {e}")))?;
        let u64_field = |o: &serde_json::Value, name: &str| {
            o.get(name)
                .and_then(serde_json::Value::as_u64)
                .ok_or_else(|| bad(&format!("no number `{name}`")))
        };
        let format = u64_field(&v, "format")?;
        if format != MANIFEST_FORMAT {
            return Err(bad(&format!("format {format}")));
        }
        let engine = v
            .get("engine")
            .and_then(serde_json::Value::as_str)
            .and_then(EngineKind::from_name)
            .ok_or_else(|| bad("no engine `lsm` or `btree`"))?;
        let mut files = Vec::new();
        for f in v
            .get("files")
            .and_then(serde_json::Value::as_array)
            .ok_or_else(|| bad("no `files` list"))?
        {
            let path = f
                .get("path")
                .and_then(serde_json::Value::as_str)
                .ok_or_else(|| bad("a file without `path`"))?;
            if !is_safe_relative(path) {
                return Err(bad(&format!("unsafe path {path:?}")));
            }
            let sha256 = f
                .get("sha256")
                .and_then(serde_json::Value::as_str)
                .filter(|s| s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()))
                .ok_or_else(|| bad(&format!("no 64-digit `sha256` for {path}")))?;
            files.push(FileEntry {
                path: path.to_string(),
                size: u64_field(f, "size")?,
                sha256: sha256.to_ascii_lowercase(),
            });
        }
        Ok(BackupManifest {
            id: u64_field(&v, "id")?,
            created_unix_s: u64_field(&v, "created_unix_s")?,
            engine,
            files,
        })
    }
}

/// A relative path of plain names (no `..`, no root): stays inside its dir.
fn is_safe_relative(path: &str) -> bool {
    !path.is_empty()
        && Path::new(path)
            .components()
            .all(|c| matches!(c, Component::Normal(_)))
}

/// Opens the store in `db` for `checkpoint` or `backup`: read-only for
/// btree (a checkpoint reads one commit), read-write for lsm (its
/// checkpoint flushes the memtable first), waiting up to `wait` (`--wait`)
/// for another process to release it.
///
/// # Errors
///
/// As [`Store::open_with_wait`] and [`Store::open_read_only_with_wait`].
pub(crate) fn open_for_copy(
    db: &Path,
    requested: Option<EngineKind>,
    wait: std::time::Duration,
) -> Result<Store> {
    let marker = std::fs::read_to_string(db.join(MARKER_FILE)).ok();
    let kind = marker
        .as_deref()
        .map(str::trim)
        .and_then(EngineKind::from_name);
    match kind {
        Some(EngineKind::Btree) => Store::open_read_only_with_wait(db, requested, wait),
        _ => Store::open_with_wait(db, requested, Create::Never, wait),
    }
}

/// Writes a checkpoint of `engine` into the new store directory `dest`
/// (missing, or an empty directory); returns what was written, as lines.
/// On failure, a `dest` this call created is removed again.
///
/// # Errors
///
/// [`Error::DestinationExists`] if `dest` exists and is not an empty
/// directory; the engine's checkpoint error; an I/O error.
pub(crate) fn checkpoint(engine: &dyn Engine, dest: &Path) -> Result<String> {
    let created = prepare_empty_dir(dest, "checkpoint")?;
    let r = write_checkpoint(engine, dest);
    if r.is_err() && created {
        let _ = std::fs::remove_dir_all(dest);
    }
    r
}

fn write_checkpoint(engine: &dyn Engine, dest: &Path) -> Result<String> {
    let text = engine.checkpoint(dest)?;
    write_file_synced(
        &dest.join(MARKER_FILE),
        format!("{}\n", engine.kind()).as_bytes(),
    )?;
    sync_dir(dest)?;
    sync_dir(&parent_of(dest))?;
    Ok(text)
}

/// Refuses a `dest` that exists and is not an empty directory; creates it
/// otherwise. Returns whether it was created.
fn prepare_empty_dir(dest: &Path, what: &'static str) -> Result<bool> {
    match std::fs::read_dir(dest) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                return Err(Error::DestinationExists {
                    path: dest.to_path_buf(),
                    what,
                });
            }
            Ok(false)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(dest).map_err(|e| Error::io(dest, e))?;
            Ok(true)
        }
        Err(_) if dest.exists() => Err(Error::DestinationExists {
            path: dest.to_path_buf(),
            what,
        }),
        Err(e) => Err(Error::io(dest, e)),
    }
}

/// What `backup` made.
#[derive(Clone, Debug)]
pub(crate) struct BackupInfo {
    /// The new backup's manifest.
    pub manifest: BackupManifest,
    /// Files hard-linked to the previous backup's copy.
    pub files_shared: usize,
    /// The number of the backup they are shared with.
    pub shared_with: Option<u64>,
}

/// Makes backup number (latest + 1) of `engine` in `dir` (created if
/// missing).
///
/// # Errors
///
/// The engine's checkpoint error, or an I/O error: the backup is then not
/// made, and its temporary directories are removed (or, if that fails too,
/// replaced by the next backup).
pub(crate) fn backup(engine: &dyn Engine, dir: &Path) -> Result<BackupInfo> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let ids = backup_ids(dir)?;
    let latest = ids.last().copied();
    let id = latest.map_or(1, |l| l + 1);
    let stage = dir.join(format!(".checkpoint-{id}.tmp"));
    let out = dir.join(format!(".{id}.tmp"));
    for leftover in [&stage, &out] {
        if leftover.exists() {
            std::fs::remove_dir_all(leftover).map_err(|e| Error::io(leftover, e))?;
        }
    }
    let made = make_backup(engine, dir, id, latest, &stage, &out);
    if made.is_err() {
        // Best effort: the next backup replaces what is left anyway.
        let _ = std::fs::remove_dir_all(&stage);
        let _ = std::fs::remove_dir_all(&out);
    }
    made
}

/// The body of [`backup`]: checkpoint into `stage`, copy or link into
/// `out`, write the manifest, rename `out` to `dir/id`.
fn make_backup(
    engine: &dyn Engine,
    dir: &Path,
    id: u64,
    latest: Option<u64>,
    stage: &Path,
    out: &Path,
) -> Result<BackupInfo> {
    checkpoint(engine, stage)?;
    // The latest backup, if its manifest reads: files equal to its files
    // are linked to them.
    let previous = latest.and_then(|l| read_manifest(&dir.join(l.to_string())).ok());
    let previous_files: BTreeMap<&str, &FileEntry> = previous
        .iter()
        .flat_map(|m| m.files.iter().map(|f| (f.path.as_str(), f)))
        .collect();
    std::fs::create_dir(out).map_err(|e| Error::io(out, e))?;
    let mut files = Vec::new();
    let mut files_shared = 0;
    for rel in list_files(stage)? {
        let src = stage.join(&rel);
        let (size, sha256) = hash_file(&src)?;
        let to = out.join(&rel);
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        }
        let shared = match (&previous, previous_files.get(rel.as_str())) {
            (Some(p), Some(f)) if f.size == size && f.sha256 == sha256 => {
                let old = dir.join(p.id.to_string()).join(&rel);
                // The older copy must still be what its manifest says, or
                // the new backup would share its damage.
                hash_file(&old).is_ok_and(|h| h == (size, sha256.clone()))
                    && std::fs::hard_link(&old, &to).is_ok()
            }
            _ => false,
        };
        if shared {
            files_shared += 1;
        } else {
            copy_checked(&src, &to, size, &sha256)?;
        }
        files.push(FileEntry {
            path: rel,
            size,
            sha256,
        });
    }
    let manifest = BackupManifest {
        id,
        created_unix_s: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
        engine: engine.kind(),
        files,
    };
    let text = serde_json::to_string_pretty(&manifest.to_json())
        .map_err(|e| Error::Internal(format!("encoding the backup manifest: {e}")))?;
    write_file_synced(&out.join(MANIFEST_NAME), format!("{text}\n").as_bytes())?;
    sync_tree(out)?;
    let final_dir = dir.join(id.to_string());
    std::fs::rename(out, &final_dir).map_err(|e| Error::io(out, e))?;
    sync_dir(dir)?;
    std::fs::remove_dir_all(stage).map_err(|e| Error::io(stage, e))?;
    Ok(BackupInfo {
        manifest,
        files_shared,
        shared_with: previous.map(|p| p.id),
    })
}

/// The manifests of every backup in `dir`, by number.
///
/// # Errors
///
/// [`Error::NoBackup`] if `dir` does not exist; [`Error::BackupDamaged`]
/// naming a manifest that does not read.
pub(crate) fn list(dir: &Path) -> Result<Vec<BackupManifest>> {
    if !dir.is_dir() {
        return Err(Error::NoBackup {
            dir: dir.to_path_buf(),
            id: None,
        });
    }
    backup_ids(dir)?
        .into_iter()
        .map(|id| read_manifest(&dir.join(id.to_string())))
        .collect()
}

/// What `restore` did.
#[derive(Clone, Debug)]
pub(crate) struct RestoreInfo {
    /// The manifest of the backup restored.
    pub manifest: BackupManifest,
}

/// Checks every file of backup `id` (the latest when `None`) in `dir`
/// against its manifest, then copies them into the new store directory
/// `to`, which must not exist.
///
/// # Errors
///
/// [`Error::DestinationExists`] if `to` exists; [`Error::NoBackup`];
/// [`Error::BackupDamaged`] naming the first file missing, of the wrong
/// size or SHA-256 (nothing is written then); an I/O error.
pub(crate) fn restore(dir: &Path, id: Option<u64>, to: &Path) -> Result<RestoreInfo> {
    if to.exists() {
        return Err(Error::DestinationExists {
            path: to.to_path_buf(),
            what: "restore",
        });
    }
    let ids = if dir.is_dir() {
        backup_ids(dir)?
    } else {
        Vec::new()
    };
    let id = match id {
        Some(i) if ids.contains(&i) => i,
        None if !ids.is_empty() => ids[ids.len() - 1],
        _ => {
            return Err(Error::NoBackup {
                dir: dir.to_path_buf(),
                id,
            });
        }
    };
    let from = dir.join(id.to_string());
    let manifest = read_manifest(&from)?;
    for f in &manifest.files {
        let path = from.join(&f.path);
        let found = match hash_file(&path) {
            Ok(found) => found,
            Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::BackupDamaged {
                    file: path,
                    what: "file missing".to_string(),
                    expected: format!("{} bytes, sha256 {}", f.size, f.sha256),
                    found: "no file".to_string(),
                });
            }
            Err(e) => return Err(e),
        };
        if found != (f.size, f.sha256.clone()) {
            return Err(Error::BackupDamaged {
                file: path,
                what: "contents differ from the manifest".to_string(),
                expected: format!("{} bytes, sha256 {}", f.size, f.sha256),
                found: format!("{} bytes, sha256 {}", found.0, found.1),
            });
        }
    }
    let name = to
        .file_name()
        .ok_or_else(|| Error::BadArgument(format!("--to {} names no directory", to.display())))?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(".restore-tmp");
    let stage = parent_of(to).join(tmp_name);
    if stage.exists() {
        std::fs::remove_dir_all(&stage).map_err(|e| Error::io(&stage, e))?;
    }
    std::fs::create_dir_all(&stage).map_err(|e| Error::io(&stage, e))?;
    let copied = (|| {
        for f in &manifest.files {
            let dest = stage.join(&f.path);
            if let Some(parent) = dest.parent() {
                std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
            }
            copy_checked(&from.join(&f.path), &dest, f.size, &f.sha256)?;
        }
        sync_tree(&stage)?;
        std::fs::rename(&stage, to).map_err(|e| Error::io(&stage, e))?;
        sync_dir(&parent_of(to))
    })();
    if copied.is_err() {
        let _ = std::fs::remove_dir_all(&stage);
    }
    copied?;
    Ok(RestoreInfo { manifest })
}

/// Runs `checkpoint`, `backup` or `restore` and prints what it did;
/// `engine` is the open store, `None` for `restore` and `backup --list`,
/// which use none.
///
/// # Errors
///
/// As [`checkpoint`], [`backup`], [`list`] and [`restore`]; a write to `out`
/// that fails.
pub(crate) fn execute(
    engine: Option<&dyn Engine>,
    cmd: &Command,
    out: &mut dyn Write,
) -> Result<()> {
    let w = |r: std::io::Result<()>| r.map_err(Error::Output);
    let need = || Error::Internal("checkpoint and backup need an open store".to_string());
    match cmd {
        Command::Checkpoint(args) => {
            let text = checkpoint(engine.ok_or_else(need)?, &args.dir)?;
            w(writeln!(out, "{text}"))?;
            w(writeln!(
                out,
                "checkpoint written to {}",
                args.dir.display()
            ))
        }
        Command::Backup(args) if args.list => {
            for m in list(&args.dir)? {
                let line = match args.format {
                    ListFormat::Json => serde_json::json!({
                        "id": m.id,
                        "created": format_utc(m.created_unix_s),
                        "created_unix_s": m.created_unix_s,
                        "engine": m.engine.as_str(),
                        "bytes": m.bytes(),
                        "files": m.files.len(),
                    })
                    .to_string(),
                    ListFormat::Tsv => format!(
                        "{}\t{}\t{}\t{} bytes\t{} files",
                        m.id,
                        format_utc(m.created_unix_s),
                        m.engine,
                        m.bytes(),
                        m.files.len()
                    ),
                };
                w(writeln!(out, "{line}"))?;
            }
            Ok(())
        }
        Command::Backup(args) => {
            let b = backup(engine.ok_or_else(need)?, &args.dir)?;
            let m = &b.manifest;
            let shared = match b.shared_with {
                Some(p) => format!(", {} shared with backup {p}", b.files_shared),
                None => String::new(),
            };
            w(writeln!(
                out,
                "backup {} in {}: {} files, {} bytes{shared}",
                m.id,
                args.dir.display(),
                m.files.len(),
                m.bytes()
            ))
        }
        Command::Restore(args) => {
            let r = restore(&args.dir, args.id, &args.to)?;
            let m = &r.manifest;
            w(writeln!(
                out,
                "restored backup {} ({} files, {} bytes, every SHA-256 checked) to {}",
                m.id,
                m.files.len(),
                m.bytes(),
                args.to.display()
            ))
        }
        _ => Err(need()),
    }
}

/// Reads and parses the manifest of the backup directory `backup`.
fn read_manifest(backup: &Path) -> Result<BackupManifest> {
    let path = backup.join(MANIFEST_NAME);
    let text = std::fs::read_to_string(&path).map_err(|e| Error::BackupDamaged {
        file: path.clone(),
        what: "manifest does not read".to_string(),
        expected: "a readable UTF-8 file".to_string(),
        found: e.to_string(),
    })?;
    BackupManifest::parse(&text, &path)
}

/// The numbers of the backups in `dir` (directories named by a number),
/// ascending.
fn backup_ids(dir: &Path) -> Result<Vec<u64>> {
    let mut ids = Vec::new();
    for e in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let e = e.map_err(|e| Error::io(dir, e))?;
        let name = e.file_name();
        let Some(name) = name.to_str() else { continue };
        if !name.bytes().all(|b| b.is_ascii_digit()) || name.starts_with('0') {
            continue;
        }
        if let Ok(id) = name.parse::<u64>()
            && id <= BACKUP_ID_MAX
            && e.path().is_dir()
        {
            ids.push(id);
        }
    }
    ids.sort_unstable();
    Ok(ids)
}

/// Every regular file under `root` (but the lock file), as `/`-separated
/// relative paths, sorted.
fn list_files(root: &Path) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut dirs = vec![PathBuf::new()];
    while let Some(rel) = dirs.pop() {
        let abs = root.join(&rel);
        for e in std::fs::read_dir(&abs).map_err(|e| Error::io(&abs, e))? {
            let e = e.map_err(|e| Error::io(&abs, e))?;
            let child = rel.join(e.file_name());
            let kind = e.file_type().map_err(|err| Error::io(e.path(), err))?;
            if kind.is_dir() {
                dirs.push(child);
            } else if kind.is_file() && child != Path::new(LOCK_FILE) {
                let text = child.to_str().ok_or_else(|| {
                    Error::Internal(format!("file name {} is not UTF-8", child.display()))
                })?;
                out.push(text.replace(std::path::MAIN_SEPARATOR, "/"));
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Length and SHA-256 (lowercase hex) of a file.
fn hash_file(path: &Path) -> Result<(u64, String)> {
    let mut f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; CHUNK_BYTES];
    let mut len = 0u64;
    loop {
        let n = f.read(&mut buf).map_err(|e| Error::io(path, e))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        len += n as u64;
    }
    Ok((len, hex(&h.finalize())))
}

/// Copies `from` to the new file `to`, synced, checking that the bytes
/// copied are the `size` bytes with SHA-256 `sha256` expected.
fn copy_checked(from: &Path, to: &Path, size: u64, sha256: &str) -> Result<()> {
    let mut src = std::fs::File::open(from).map_err(|e| Error::io(from, e))?;
    let mut dst = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(to)
        .map_err(|e| Error::io(to, e))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; CHUNK_BYTES];
    let mut len = 0u64;
    loop {
        let n = src.read(&mut buf).map_err(|e| Error::io(from, e))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        dst.write_all(&buf[..n]).map_err(|e| Error::io(to, e))?;
        len += n as u64;
    }
    dst.sync_all().map_err(|e| Error::io(to, e))?;
    let found = hex(&h.finalize());
    if len != size || found != sha256 {
        return Err(Error::BackupDamaged {
            file: from.to_path_buf(),
            what: "changed while being copied".to_string(),
            expected: format!("{size} bytes, sha256 {sha256}"),
            found: format!("{len} bytes, sha256 {found}"),
        });
    }
    Ok(())
}

fn write_file_synced(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut f = std::fs::File::create(path).map_err(|e| Error::io(path, e))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .map_err(|e| Error::io(path, e))
}

fn sync_dir(dir: &Path) -> Result<()> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io(dir, e))
}

/// Syncs every directory under `root`, and `root`.
fn sync_tree(root: &Path) -> Result<()> {
    for e in std::fs::read_dir(root).map_err(|e| Error::io(root, e))? {
        let e = e.map_err(|e| Error::io(root, e))?;
        if e.file_type()
            .map_err(|err| Error::io(e.path(), err))?
            .is_dir()
        {
            sync_tree(&e.path())?;
        }
    }
    sync_dir(root)
}

fn parent_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        // Writing to a String cannot fail.
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// A Unix time as `YYYY-MM-DDTHH:MM:SSZ` (UTC), for `backup --list`.
pub(crate) fn format_utc(unix_s: u64) -> String {
    let days = unix_s / 86_400;
    let rem = unix_s % 86_400;
    // Howard Hinnant's days-to-civil, on days since 1970-01-01.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_times_format_as_rfc3339() {
        assert_eq!(format_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(format_utc(1_798_761_599), "2026-12-31T23:59:59Z");
    }

    #[test]
    fn manifest_paths_must_stay_inside_the_backup() {
        assert!(is_safe_relative("blobs/MANIFEST"));
        assert!(!is_safe_relative("../x"));
        assert!(!is_safe_relative("/etc/passwd"));
        assert!(!is_safe_relative(""));
    }

    #[test]
    fn manifest_round_trips_and_bad_ones_name_the_file() {
        let m = BackupManifest {
            id: 3,
            created_unix_s: 10,
            engine: EngineKind::Btree,
            files: vec![FileEntry {
                path: "btree.db".into(),
                size: 4,
                sha256: "ab".repeat(32),
            }],
        };
        let text = m.to_json().to_string();
        assert_eq!(
            BackupManifest::parse(&text, Path::new("m")).expect("parse"),
            m
        );
        let bad = text.replace("btree.db", "../btree.db");
        let err = BackupManifest::parse(&bad, Path::new("m")).expect_err("unsafe");
        assert!(
            matches!(&err, Error::BackupDamaged { file, .. } if file == Path::new("m")),
            "{err}"
        );
    }
}
