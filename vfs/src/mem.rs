//! `MemFs`: an in-memory file system that knows what is durable.
//!
//! # Fault model
//!
//! It promises what POSIX promises and no more:
//!
//! - File data is durable once `sync_data` on that file returned. Writes and
//!   length changes made since are lost by [`MemFs::crash`], or, with
//!   [`CrashOptions::tear`], kept up to the last write, which is torn at a
//!   512-byte sector boundary (a seeded prefix of it reaches the disk).
//! - A directory's entries (files created, renamed, removed; directories
//!   made) are durable once `sync_dir` of that directory returned. Changes
//!   made since are replayed in order up to a point chosen by
//!   [`CrashOptions::seed`]: seed 0 undoes them all, `u64::MAX` keeps them
//!   all, any other seed keeps a pseudo-random prefix per directory. A file
//!   whose data was synced but whose name was not may therefore vanish. A
//!   rename within one directory is one change, all or nothing; across
//!   directories each side belongs to its own directory.
//! - Handles keep working on a file after its name is removed or replaced.
//! - A file is never cut below a live view of it ([`File::map`]): the call
//!   fails with [`Error::ViewAlive`] as it does on [`OsFs`](crate::OsFs),
//!   where the cut would crash the process, though a `MemFs` view is a copy.
//! - After [`MemFs::crash_before_sync`] fires, every operation fails with
//!   `EIO`: the process "lost power" and the workload stops.

use std::collections::{BTreeMap, HashMap};
use std::ffi::OsString;
use std::io;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::Mutex;

use crate::views::Views;
use crate::{Error, File, Fs, LockGuard, Op, OpenMode, Result};

/// Bytes in a sector: the unit a torn write keeps whole.
pub const SECTOR_BYTES: u64 = 512;

/// The largest file a [`MemFs`] holds: 1 GiB. A write or `set_len` past it
/// fails with [`io::ErrorKind::FileTooLarge`] (as `EFBIG` would), so a
/// corrupt length read back by an engine under test cannot make the test
/// process allocate without bound.
pub const MEM_FILE_MAX_BYTES: u64 = 1 << 30;

/// How [`MemFs::crash`] resolves what was not durable.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CrashOptions {
    /// Chooses which unsynced directory changes survive: 0 none, `u64::MAX`
    /// all, otherwise a pseudo-random prefix of each directory's changes.
    /// With `tear`, also where each torn write is cut.
    pub seed: u64,
    /// Keep each file's unsynced writes but tear the last one at a sector
    /// boundary, instead of dropping them all.
    pub tear: bool,
}

type Ino = u64;
type DirId = u64;
const ROOT: DirId = 0;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Entry {
    File(Ino),
    Dir(DirId),
}

#[derive(Clone, Debug)]
enum DirChange {
    Insert(OsString, Entry),
    Remove(OsString),
    /// A rename inside one directory: all or nothing after a crash, as on a
    /// journaling file system.
    Rename(OsString, OsString, Entry),
}

#[derive(Clone, Debug, Default)]
struct Dir {
    entries: BTreeMap<OsString, Entry>,
    durable: BTreeMap<OsString, Entry>,
    /// Changes since the last `sync_dir`, in order.
    pending: Vec<DirChange>,
}

#[derive(Clone, Debug)]
enum FileChange {
    Write { offset: u64, data: Vec<u8> },
    SetLen(u64),
}

#[derive(Clone, Debug, Default)]
struct Inode {
    data: Vec<u8>,
    durable: Vec<u8>,
    /// Changes since the last `sync_data`, in order.
    pending: Vec<FileChange>,
}

impl Inode {
    fn apply(data: &mut Vec<u8>, change: &FileChange) {
        match change {
            FileChange::Write {
                offset,
                data: bytes,
            } => {
                let start = *offset as usize;
                let end = start + bytes.len();
                if data.len() < end {
                    data.resize(end, 0);
                }
                data[start..end].copy_from_slice(bytes);
            }
            FileChange::SetLen(len) => data.resize(*len as usize, 0),
        }
    }

    fn change(&mut self, change: FileChange) {
        Inode::apply(&mut self.data, &change);
        self.pending.push(change);
    }

    fn after_crash(&self, options: CrashOptions, rng: &mut SplitMix) -> Vec<u8> {
        let mut data = self.durable.clone();
        if !options.tear || self.pending.is_empty() {
            return data;
        }
        let (last, kept) = self.pending.split_last().unwrap_or_else(|| unreachable!());
        for change in kept {
            Inode::apply(&mut data, change);
        }
        match last {
            FileChange::Write {
                offset,
                data: bytes,
            } => {
                // Cut at a sector boundary inside the write: bytes before
                // the cut reached the disk, bytes after it did not.
                let end = offset + bytes.len() as u64;
                let mut cuts: Vec<u64> = (offset / SECTOR_BYTES + 1..=end / SECTOR_BYTES)
                    .map(|s| s * SECTOR_BYTES)
                    .filter(|&c| c > *offset && c < end)
                    .collect();
                cuts.insert(0, *offset);
                let cut = cuts[(rng.next() % cuts.len() as u64) as usize];
                let kept_len = (cut - offset) as usize;
                if kept_len > 0 {
                    Inode::apply(
                        &mut data,
                        &FileChange::Write {
                            offset: *offset,
                            data: bytes[..kept_len].to_vec(),
                        },
                    );
                }
            }
            FileChange::SetLen(_) => {}
        }
        data
    }
}

/// A tiny deterministic generator for crash choices.
#[derive(Clone, Debug)]
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// A planned power loss: before the `sync_index`-th sync (1-based).
#[derive(Clone, Copy, Debug)]
struct Trigger {
    sync_index: u64,
    options: CrashOptions,
}

#[derive(Debug)]
struct State {
    inodes: HashMap<Ino, Inode>,
    /// The live views of each inode, kept as `OsFs` keeps its own.
    views: Views<Ino>,
    dirs: HashMap<DirId, Dir>,
    next_id: u64,
    /// Held locks: `None` for an exclusive holder, `Some(n)` for `n`
    /// shared holders.
    locks: HashMap<PathBuf, Option<usize>>,
    syncs: u64,
    trigger: Option<Trigger>,
    crashed: Option<MemFs>,
}

impl Default for State {
    fn default() -> State {
        State {
            inodes: HashMap::new(),
            views: Views::new(),
            dirs: HashMap::new(),
            next_id: 0,
            locks: HashMap::new(),
            syncs: 0,
            trigger: None,
            crashed: None,
        }
    }
}

/// An in-memory [`Fs`] that tracks durability and can simulate power loss.
/// See the module documentation for its fault model.
///
/// Clones share one disk.
///
/// # Concurrency
///
/// One mutex guards the whole disk; every operation is atomic.
#[derive(Clone, Debug)]
pub struct MemFs {
    state: Arc<Mutex<State>>,
}

impl Default for MemFs {
    fn default() -> MemFs {
        MemFs::new()
    }
}

fn not_found(op: Op, path: &Path) -> Error {
    Error::io(op, path, io::Error::from(io::ErrorKind::NotFound))
}

fn error(op: Op, path: &Path, kind: io::ErrorKind, message: &str) -> Error {
    Error::io(op, path, io::Error::new(kind, message.to_string()))
}

/// The path's normal components; `.` dropped, `..` refused.
fn components(op: Op, path: &Path) -> Result<Vec<OsString>> {
    let mut out = Vec::new();
    for component in path.components() {
        match component {
            Component::Normal(name) => out.push(name.to_os_string()),
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
            Component::ParentDir => {
                return Err(error(
                    op,
                    path,
                    io::ErrorKind::InvalidInput,
                    "`..` is not supported",
                ));
            }
        }
    }
    Ok(out)
}

impl State {
    fn new_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    fn check_alive(&self, op: Op, path: &Path) -> Result<()> {
        if self.crashed.is_some() {
            return Err(Error::io(
                op,
                path,
                io::Error::from_raw_os_error(crate::fault::EIO),
            ));
        }
        Ok(())
    }

    /// The directory holding `path`'s last component, and that component.
    fn parent(&self, op: Op, path: &Path) -> Result<(DirId, OsString)> {
        let mut names = components(op, path)?;
        let name = names
            .pop()
            .ok_or_else(|| error(op, path, io::ErrorKind::InvalidInput, "no file name"))?;
        let mut dir = ROOT;
        for component in names {
            match self.dirs[&dir].entries.get(&component) {
                Some(Entry::Dir(id)) => dir = *id,
                Some(Entry::File(_)) => {
                    return Err(error(
                        op,
                        path,
                        io::ErrorKind::NotADirectory,
                        "not a directory",
                    ));
                }
                None => return Err(not_found(op, path)),
            }
        }
        Ok((dir, name))
    }

    fn lookup(&self, op: Op, path: &Path) -> Result<Entry> {
        if components(op, path)?.is_empty() {
            return Ok(Entry::Dir(ROOT));
        }
        let (dir, name) = self.parent(op, path)?;
        self.dirs[&dir]
            .entries
            .get(&name)
            .copied()
            .ok_or_else(|| not_found(op, path))
    }

    fn dir_id(&self, op: Op, path: &Path) -> Result<DirId> {
        match self.lookup(op, path)? {
            Entry::Dir(id) => Ok(id),
            Entry::File(_) => Err(error(
                op,
                path,
                io::ErrorKind::NotADirectory,
                "not a directory",
            )),
        }
    }

    fn insert(&mut self, dir: DirId, name: OsString, entry: Entry) {
        let d = self.dirs.get_mut(&dir).unwrap_or_else(|| unreachable!());
        d.entries.insert(name.clone(), entry);
        d.pending.push(DirChange::Insert(name, entry));
    }

    fn remove(&mut self, dir: DirId, name: &OsString) {
        let d = self.dirs.get_mut(&dir).unwrap_or_else(|| unreachable!());
        d.entries.remove(name);
        d.pending.push(DirChange::Remove(name.clone()));
    }

    /// Counts a sync; fires a planned crash before it. Returns whether the
    /// sync may go ahead.
    fn sync_point(&mut self, this: &MemFs, op: Op, path: &Path) -> Result<()> {
        self.check_alive(op, path)?;
        self.syncs += 1;
        if let Some(trigger) = self.trigger
            && trigger.sync_index == self.syncs
        {
            let image = this.image(self, trigger.options);
            self.crashed = Some(image);
            return self.check_alive(op, path);
        }
        Ok(())
    }
}

impl MemFs {
    /// An empty disk holding only the root directory `/` (relative paths
    /// are taken from the root).
    pub fn new() -> MemFs {
        let mut state = State::default();
        state.dirs.insert(ROOT, Dir::default());
        MemFs {
            state: Arc::new(Mutex::new(state)),
        }
    }

    /// The disk as it would be after a power loss now (see the module doc):
    /// a new, independent `MemFs` with only durable state, plus what
    /// `options` keeps of the rest.
    pub fn crash(&self, options: CrashOptions) -> MemFs {
        let state = self.state.lock();
        self.image(&state, options)
    }

    fn image(&self, state: &State, options: CrashOptions) -> MemFs {
        let mut rng = SplitMix(options.seed);
        let mut new = State::default();
        let mut inodes_seen: HashMap<Ino, Ino> = HashMap::new();
        // Walk from the root, resolving each directory's entries as the
        // crash leaves them.
        let mut stack = vec![(ROOT, ROOT)];
        new.dirs.insert(ROOT, Dir::default());
        while let Some((old_id, new_id)) = stack.pop() {
            let dir = &state.dirs[&old_id];
            let keep = match options.seed {
                0 => 0,
                u64::MAX => dir.pending.len(),
                _ => (rng.next() % (dir.pending.len() as u64 + 1)) as usize,
            };
            let mut entries = dir.durable.clone();
            for change in &dir.pending[..keep] {
                match change {
                    DirChange::Insert(name, entry) => {
                        entries.insert(name.clone(), *entry);
                    }
                    DirChange::Remove(name) => {
                        entries.remove(name);
                    }
                    DirChange::Rename(from, to, entry) => {
                        entries.remove(from);
                        entries.insert(to.clone(), *entry);
                    }
                }
            }
            let mut resolved = BTreeMap::new();
            for (name, entry) in entries {
                let new_entry = match entry {
                    Entry::File(ino) => {
                        let id = match inodes_seen.get(&ino) {
                            Some(id) => *id,
                            None => {
                                let id = new.new_id();
                                let data = state.inodes[&ino].after_crash(options, &mut rng);
                                new.inodes.insert(
                                    id,
                                    Inode {
                                        durable: data.clone(),
                                        data,
                                        pending: Vec::new(),
                                    },
                                );
                                inodes_seen.insert(ino, id);
                                id
                            }
                        };
                        Entry::File(id)
                    }
                    Entry::Dir(child) => {
                        let id = new.new_id();
                        new.dirs.insert(id, Dir::default());
                        stack.push((child, id));
                        Entry::Dir(id)
                    }
                };
                resolved.insert(name, new_entry);
            }
            let d = new.dirs.get_mut(&new_id).unwrap_or_else(|| unreachable!());
            d.durable = resolved.clone();
            d.entries = resolved;
        }
        MemFs {
            state: Arc::new(Mutex::new(new)),
        }
    }

    /// Plans a power loss just before the `sync_index`-th sync (`sync_data`
    /// or `sync_dir`, counted from 1): that sync fails with `EIO`, as does
    /// every operation after it, and [`crashed_image`](Self::crashed_image)
    /// returns the disk as the crash left it.
    pub fn crash_before_sync(&self, sync_index: u64, options: CrashOptions) {
        self.state.lock().trigger = Some(Trigger {
            sync_index,
            options,
        });
    }

    /// The image a planned crash left, once it fired.
    pub fn crashed_image(&self) -> Option<MemFs> {
        self.state.lock().crashed.clone()
    }

    /// Syncs (`sync_data` and `sync_dir`) called so far.
    pub fn sync_count(&self) -> u64 {
        self.state.lock().syncs
    }

    /// Flips bit `bit` (0..8) of the byte at `offset` of a file, in its
    /// current and durable contents: a bit rotting on the medium.
    ///
    /// # Errors
    ///
    /// `NotFound` if the file is missing; `InvalidInput` if `offset` is past
    /// its end or `bit > 7`.
    pub fn flip_bit(&self, path: &Path, offset: u64, bit: u8) -> Result<()> {
        let mut state = self.state.lock();
        let Entry::File(ino) = state.lookup(Op::Write, path)? else {
            return Err(error(
                Op::Write,
                path,
                io::ErrorKind::IsADirectory,
                "is a directory",
            ));
        };
        let inode = state.inodes.get_mut(&ino).unwrap_or_else(|| unreachable!());
        if bit > 7 || offset >= inode.data.len() as u64 {
            return Err(error(
                Op::Write,
                path,
                io::ErrorKind::InvalidInput,
                "offset or bit out of range",
            ));
        }
        inode.data[offset as usize] ^= 1 << bit;
        if let Some(byte) = inode.durable.get_mut(offset as usize) {
            *byte ^= 1 << bit;
        }
        Ok(())
    }
}

impl Fs for MemFs {
    fn open(&self, path: &Path, mode: OpenMode) -> Result<Box<dyn File>> {
        let mut state = self.state.lock();
        state.check_alive(Op::Open, path)?;
        let (dir, name) = state.parent(Op::Open, path)?;
        let existing = state.dirs[&dir].entries.get(&name).copied();
        let ino = match (existing, mode) {
            (Some(Entry::Dir(_)), _) => {
                return Err(error(
                    Op::Open,
                    path,
                    io::ErrorKind::IsADirectory,
                    "is a directory",
                ));
            }
            (Some(Entry::File(_)), OpenMode::CreateNew) => {
                return Err(Error::io(
                    Op::Open,
                    path,
                    io::Error::from(io::ErrorKind::AlreadyExists),
                ));
            }
            (Some(Entry::File(ino)), OpenMode::Truncate) => {
                state.views.check_shrink(ino, 0, Op::Open, path)?;
                let inode = state.inodes.get_mut(&ino).unwrap_or_else(|| unreachable!());
                inode.change(FileChange::SetLen(0));
                ino
            }
            (Some(Entry::File(ino)), _) => ino,
            (None, OpenMode::Read | OpenMode::ReadWrite) => return Err(not_found(Op::Open, path)),
            (None, _) => {
                let ino = state.new_id();
                state.inodes.insert(ino, Inode::default());
                state.insert(dir, name, Entry::File(ino));
                ino
            }
        };
        let end = state.inodes[&ino].data.len() as u64;
        Ok(Box::new(MemFile {
            fs: self.clone(),
            ino,
            path: path.to_path_buf(),
            writable: mode.writes(),
            end: Mutex::new(end),
        }))
    }

    fn rename(&self, from: &Path, to: &Path) -> Result<()> {
        let mut state = self.state.lock();
        state.check_alive(Op::Rename, from)?;
        let (from_dir, from_name) = state.parent(Op::Rename, from)?;
        let entry = state.dirs[&from_dir]
            .entries
            .get(&from_name)
            .copied()
            .ok_or_else(|| not_found(Op::Rename, from))?;
        let (to_dir, to_name) = state.parent(Op::Rename, to)?;
        if let (Entry::File(_), Some(Entry::Dir(_))) =
            (entry, state.dirs[&to_dir].entries.get(&to_name))
        {
            return Err(error(
                Op::Rename,
                from,
                io::ErrorKind::IsADirectory,
                "target is a directory",
            ));
        }
        if from_dir == to_dir {
            if from_name != to_name {
                let d = state
                    .dirs
                    .get_mut(&from_dir)
                    .unwrap_or_else(|| unreachable!());
                d.entries.remove(&from_name);
                d.entries.insert(to_name.clone(), entry);
                d.pending.push(DirChange::Rename(from_name, to_name, entry));
            }
        } else {
            // Across directories each side becomes durable with its own
            // directory's sync, as POSIX promises.
            state.remove(from_dir, &from_name);
            state.insert(to_dir, to_name, entry);
        }
        Ok(())
    }

    fn remove_file(&self, path: &Path) -> Result<()> {
        let mut state = self.state.lock();
        state.check_alive(Op::RemoveFile, path)?;
        let (dir, name) = state.parent(Op::RemoveFile, path)?;
        match state.dirs[&dir].entries.get(&name) {
            Some(Entry::File(_)) => {
                state.remove(dir, &name);
                Ok(())
            }
            Some(Entry::Dir(_)) => Err(error(
                Op::RemoveFile,
                path,
                io::ErrorKind::IsADirectory,
                "is a directory",
            )),
            None => Err(not_found(Op::RemoveFile, path)),
        }
    }

    fn create_dir(&self, path: &Path) -> Result<()> {
        let mut state = self.state.lock();
        state.check_alive(Op::CreateDir, path)?;
        let (dir, name) = state.parent(Op::CreateDir, path)?;
        if state.dirs[&dir].entries.contains_key(&name) {
            return Err(Error::io(
                Op::CreateDir,
                path,
                io::Error::from(io::ErrorKind::AlreadyExists),
            ));
        }
        let id = state.new_id();
        state.dirs.insert(id, Dir::default());
        state.insert(dir, name, Entry::Dir(id));
        Ok(())
    }

    fn create_dir_all(&self, path: &Path) -> Result<()> {
        let mut prefix = PathBuf::from("/");
        for name in components(Op::CreateDir, path)? {
            prefix.push(name);
            match self.create_dir(&prefix) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    let state = self.state.lock();
                    state.dir_id(Op::CreateDir, &prefix)?;
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    fn remove_dir(&self, path: &Path) -> Result<()> {
        let mut state = self.state.lock();
        state.check_alive(Op::RemoveDir, path)?;
        let id = state.dir_id(Op::RemoveDir, path)?;
        if id == ROOT {
            return Err(error(
                Op::RemoveDir,
                path,
                io::ErrorKind::InvalidInput,
                "cannot remove the root",
            ));
        }
        if !state.dirs[&id].entries.is_empty() {
            return Err(error(
                Op::RemoveDir,
                path,
                io::ErrorKind::DirectoryNotEmpty,
                "directory not empty",
            ));
        }
        let (dir, name) = state.parent(Op::RemoveDir, path)?;
        state.remove(dir, &name);
        Ok(())
    }

    fn list_dir(&self, path: &Path) -> Result<Vec<OsString>> {
        let state = self.state.lock();
        state.check_alive(Op::ListDir, path)?;
        let id = state.dir_id(Op::ListDir, path)?;
        Ok(state.dirs[&id].entries.keys().cloned().collect())
    }

    fn exists(&self, path: &Path) -> Result<bool> {
        let state = self.state.lock();
        state.check_alive(Op::Exists, path)?;
        match state.lookup(Op::Exists, path) {
            Ok(_) => Ok(true),
            Err(e) if e.is_not_found() => Ok(false),
            Err(e) => Err(e),
        }
    }

    fn sync_dir(&self, path: &Path) -> Result<()> {
        let mut state = self.state.lock();
        let id = state.dir_id(Op::SyncDir, path)?;
        state.sync_point(self, Op::SyncDir, path)?;
        let dir = state.dirs.get_mut(&id).unwrap_or_else(|| unreachable!());
        dir.durable = dir.entries.clone();
        dir.pending.clear();
        Ok(())
    }

    fn lock(&self, path: &Path) -> Result<LockGuard> {
        let key = self.lock_key(path)?;
        // The lock file exists on disk, as with `OsFs`.
        drop(self.open(path, OpenMode::Append)?);
        self.take_lock(path, key, None)
    }

    fn lock_shared(&self, path: &Path) -> Result<LockGuard> {
        let key = self.lock_key(path)?;
        if !self.exists(path)? {
            return Err(not_found(Op::Lock, path));
        }
        self.take_lock(path, key, Some(1))
    }
}

impl MemFs {
    fn lock_key(&self, path: &Path) -> Result<PathBuf> {
        let state = self.state.lock();
        state.check_alive(Op::Lock, path)?;
        Ok(PathBuf::from("/").join(components(Op::Lock, path)?.iter().collect::<PathBuf>()))
    }

    /// Takes the lock at `key`: exclusive for `None`, one more shared holder
    /// for `Some(1)`.
    fn take_lock(&self, path: &Path, key: PathBuf, shared: Option<usize>) -> Result<LockGuard> {
        let mut state = self.state.lock();
        let held = state.locks.get(&key).copied();
        let next = match (held, shared) {
            (None, want) => want,
            (Some(Some(n)), Some(_)) => Some(n + 1),
            (Some(_), _) => {
                return Err(Error::Locked {
                    path: path.to_path_buf(),
                });
            }
        };
        state.locks.insert(key.clone(), next);
        Ok(LockGuard::new(
            path,
            Box::new(MemLock {
                fs: self.clone(),
                key,
            }),
        ))
    }
}

/// Releases a `MemFs` lock on drop.
#[derive(Debug)]
struct MemLock {
    fs: MemFs,
    key: PathBuf,
}

impl Drop for MemLock {
    fn drop(&mut self) {
        let mut state = self.fs.state.lock();
        match state.locks.get(&self.key).copied() {
            Some(Some(n)) if n > 1 => {
                state.locks.insert(self.key.clone(), Some(n - 1));
            }
            _ => {
                state.locks.remove(&self.key);
            }
        }
    }
}

/// A file of [`MemFs`]: a handle on an inode, valid after its name is gone.
#[derive(Debug)]
struct MemFile {
    fs: MemFs,
    ino: Ino,
    path: PathBuf,
    writable: bool,
    end: Mutex<u64>,
}

impl MemFile {
    /// Applies one change to the file: `plan` gets the end of the file as
    /// this handle knows it and returns the change and the new end. Returns
    /// the end before the change (where an append lands).
    fn change(&self, op: Op, plan: impl FnOnce(u64) -> (FileChange, u64)) -> Result<u64> {
        let mut end = self.end.lock();
        let mut state = self.fs.state.lock();
        state.check_alive(op, &self.path)?;
        let before = *end;
        let (change, after) = plan(before);
        if let FileChange::SetLen(len_bytes) = change {
            // Before the read-only check, in the order `OsFs` checks.
            state
                .views
                .check_shrink(self.ino, len_bytes, op, &self.path)?;
        }
        self.check_writable(op)?;
        // A write or length past the cap would make this process allocate
        // it: refuse as a disk refuses a file larger than it allows.
        if after > MEM_FILE_MAX_BYTES {
            return Err(error(
                op,
                &self.path,
                io::ErrorKind::FileTooLarge,
                "past MemFs's per-file limit (MEM_FILE_MAX_BYTES)",
            ));
        }
        state
            .inodes
            .get_mut(&self.ino)
            .unwrap_or_else(|| unreachable!("a handle's inode is never dropped"))
            .change(change);
        *end = after;
        Ok(before)
    }

    fn check_writable(&self, op: Op) -> Result<()> {
        if self.writable {
            return Ok(());
        }
        // The kinds Linux gives: ftruncate(2) on a read-only descriptor
        // fails with EINVAL, pwrite(2) and write(2) with EBADF.
        let kind = match op {
            Op::SetLen => io::ErrorKind::InvalidInput,
            _ => io::Error::from_raw_os_error(9).kind(),
        };
        Err(error(op, &self.path, kind, "file opened read-only"))
    }
}

impl File for MemFile {
    fn path(&self) -> &Path {
        &self.path
    }

    fn read_at(&self, buf: &mut [u8], offset: u64) -> Result<usize> {
        let state = self.fs.state.lock();
        state.check_alive(Op::Read, &self.path)?;
        let data = &state.inodes[&self.ino].data;
        let start = (offset.min(data.len() as u64)) as usize;
        let n = buf.len().min(data.len() - start);
        buf[..n].copy_from_slice(&data[start..start + n]);
        Ok(n)
    }

    fn write_all_at(&self, buf: &[u8], offset: u64) -> Result<()> {
        let data = buf.to_vec();
        let len = buf.len() as u64;
        self.change(Op::Write, |end| {
            (
                FileChange::Write { offset, data },
                end.max(offset.saturating_add(len)),
            )
        })?;
        Ok(())
    }

    fn append(&self, buf: &[u8]) -> Result<u64> {
        let data = buf.to_vec();
        let len = buf.len() as u64;
        self.change(Op::Append, |end| {
            (
                FileChange::Write { offset: end, data },
                end.saturating_add(len),
            )
        })
    }

    fn sync_data(&self) -> Result<()> {
        let mut state = self.fs.state.lock();
        state.sync_point(&self.fs, Op::SyncData, &self.path)?;
        let inode = state
            .inodes
            .get_mut(&self.ino)
            .unwrap_or_else(|| unreachable!());
        inode.durable = inode.data.clone();
        inode.pending.clear();
        Ok(())
    }

    fn set_len(&self, len_bytes: u64) -> Result<()> {
        self.change(Op::SetLen, |_| (FileChange::SetLen(len_bytes), len_bytes))?;
        Ok(())
    }

    fn len(&self) -> Result<u64> {
        let state = self.fs.state.lock();
        state.check_alive(Op::Len, &self.path)?;
        Ok(state.inodes[&self.ino].data.len() as u64)
    }

    fn map(&self) -> Result<Bytes> {
        let mut state = self.fs.state.lock();
        state.check_alive(Op::Map, &self.path)?;
        let data = state.inodes[&self.ino].data.clone();
        if data.is_empty() {
            return Ok(Bytes::new());
        }
        let len_bytes = data.len() as u64;
        state.views.add(self.ino, len_bytes);
        Ok(Bytes::from_owner(MemView {
            data,
            _lease: MemLease {
                fs: self.fs.clone(),
                ino: self.ino,
                len_bytes,
            },
        }))
    }
}

/// A view of a [`MemFile`]: a copy of its bytes, with a lease on its length
/// as an `OsFs` map holds one, so the same misuse fails the same way.
struct MemView {
    data: Vec<u8>,
    _lease: MemLease,
}

impl AsRef<[u8]> for MemView {
    fn as_ref(&self) -> &[u8] {
        &self.data
    }
}

/// A view's hold on its file's length, released when the view is dropped.
struct MemLease {
    fs: MemFs,
    ino: Ino,
    len_bytes: u64,
}

impl Drop for MemLease {
    fn drop(&mut self) {
        self.fs.state.lock().views.remove(self.ino, self.len_bytes);
    }
}
