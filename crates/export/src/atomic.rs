//! Atomic, durable file replacement and on-the-fly hashing.
//!
//! An export is written to `{TEMP_PREFIX}{random}.tmp` next to its destination (same directory,
//! so the final `rename` cannot cross file systems and is atomic), fsynced, renamed, and the
//! directory fsynced so the rename itself survives a crash. The writer holds an exclusive
//! advisory lock on its temporary file throughout, which is how [`clean_stray_temp_files`] tells
//! a killed writer's debris from a live export's file. [`TempFile`] is the guard that makes
//! every other outcome (an error, a panic, a dropped future) remove the temporary file, so a
//! reader sees either the old destination or the complete new one, never a prefix.
//! [`HashingWriter`] computes the SHA-256 and byte count of exactly what reaches the file, so
//! callers get a checksum without reading the file back.

use std::collections::hash_map::RandomState;
use std::fs::{self, File, OpenOptions, TryLockError};
use std::hash::{BuildHasher, Hasher};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};

use crate::report::ExportError;
use crate::{TEMP_PREFIX, TEMP_SUFFIX};

/// Removes the temporary files of exports that were killed before they could clean up (a crash,
/// `SIGKILL`; an orderly failure removes its own file) from `dir`, and returns how many it
/// removed. Every export calls it for its own directory, and the export service at start-up.
///
/// Only regular files named like ours (`{TEMP_PREFIX}….tmp`) are candidates, and of those only
/// the ones nobody holds a lock on: a writer holds an exclusive advisory lock on its temporary
/// file from creating it until it is renamed or removed ([`TempFile`]), so the file of an export
/// in progress, in this process or another (a second server on the same directory, a CLI
/// export), is never touched. On a file system without advisory locks nothing is removed.
///
/// # Errors
/// If `dir` cannot be listed or an unlocked file of ours cannot be removed (one that vanished
/// meanwhile is not an error).
pub fn clean_stray_temp_files(dir: &Path) -> io::Result<usize> {
    let mut removed = 0;
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let is_ours =
            name.to_str().is_some_and(|name| name.starts_with(TEMP_PREFIX) && name.ends_with(TEMP_SUFFIX));
        // `file_type` does not follow symlinks: links, directories and FIFOs are never ours.
        if !is_ours || !entry.file_type()?.is_file() {
            continue;
        }
        let path = entry.path();
        let file = match File::open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        match file.try_lock() {
            Ok(()) => {}
            // A live writer holds it.
            Err(TryLockError::WouldBlock) => continue,
            Err(TryLockError::Error(error)) => {
                tracing::debug!(path = %path.display(), %error, "Cannot lock a temporary export file; leaving it.");
                continue;
            }
        }
        // Removed while we hold the lock, so no writer can be taking it over meanwhile.
        match fs::remove_file(&path) {
            Ok(()) => removed += 1,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    if removed > 0 {
        tracing::info!(dir = %dir.display(), removed, "Removed stray temporary export files.");
    }
    Ok(removed)
}

/// [`clean_stray_temp_files`] for an export about to write into `dir`: a failure is logged, not
/// returned, since stale debris is no reason to fail the export.
pub(crate) fn clean_before_export(dir: &Path) {
    if let Err(error) = clean_stray_temp_files(dir) {
        tracing::warn!(dir = %dir.display(), %error, "Cannot remove stray temporary export files.");
    }
}

/// The directory a destination lives in (`.` for a bare file name).
pub(crate) fn parent_dir(destination: &Path) -> PathBuf {
    match destination.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Checks that `destination` can name a file: it has a file name and is not a directory.
pub(crate) fn check_destination(destination: &Path) -> Result<(), ExportError> {
    let invalid = || ExportError::InvalidDestination { path: destination.to_path_buf() };
    match destination.file_name() {
        Some(_) if !destination.is_dir() => Ok(()),
        _ => Err(invalid()),
    }
}

/// A random-enough suffix for temporary names: the process's random hasher keys mixed with the
/// time, the pid and a counter. Collisions are still handled by `create_new` and a retry.
fn random_suffix() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    hasher.write_u32(std::process::id());
    hasher.write_u128(SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos()));
    format!("{:016x}", hasher.finish())
}

/// Owns a temporary file until [`TempFile::commit`]; dropping it uncommitted removes the file
/// and tells the writer thread (through the shared abort flag) to stop.
///
/// It also holds the exclusive advisory lock on the file (through its own handle, so the lock
/// lasts until the rename or the removal whenever the writer closes its handle), which tells
/// [`clean_stray_temp_files`] in any process that the file is alive.
#[derive(Debug)]
pub(crate) struct TempFile {
    path: PathBuf,
    abort: Arc<AtomicBool>,
    committed: bool,
    /// `None` where the file system has no advisory locks (cleaners cannot lock either there,
    /// so they leave the file alone).
    _lock: Option<File>,
}

impl TempFile {
    /// Creates a new, empty temporary file in `dir`, locked, and returns the guard and the open
    /// file.
    ///
    /// # Errors
    /// [`ExportError::DestinationNotWritable`] if no file can be created in `dir`.
    pub(crate) fn create_in(dir: &Path) -> Result<(Self, File), ExportError> {
        let not_writable = |source| ExportError::DestinationNotWritable { dir: dir.to_path_buf(), source };
        let mut attempt = 0;
        loop {
            let path = dir.join(format!("{TEMP_PREFIX}{}{TEMP_SUFFIX}", random_suffix()));
            match OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(file) => match lock_new_file(&file, &path).map_err(not_writable)? {
                    Claim::Locked(lock) => {
                        let abort = Arc::new(AtomicBool::new(false));
                        return Ok((Self { path, abort, committed: false, _lock: lock }, file));
                    }
                    // A cleaner took it between its creation and our lock: it is (being)
                    // removed; take another name.
                    Claim::Lost if attempt < 8 => attempt += 1,
                    Claim::Lost => {
                        return Err(not_writable(io::Error::other("temporary files keep vanishing")));
                    }
                },
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && attempt < 8 => attempt += 1,
                Err(source) => return Err(not_writable(source)),
            }
        }
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The flag the [`HashingWriter`] checks; set when the guard is dropped uncommitted.
    pub(crate) fn abort_flag(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.abort)
    }

    /// Renames the (already synced and closed) file to `destination`, atomically replacing any
    /// file there. Synchronous and without an `.await`, so cancellation cannot fall between the
    /// rename and disarming the guard. Call [`sync_dir`] afterwards for durability.
    ///
    /// # Errors
    /// [`ExportError::Io`] if the rename fails; the guard then still removes the file.
    pub(crate) fn commit(mut self, destination: &Path) -> Result<(), ExportError> {
        fs::rename(&self.path, destination).map_err(|e| ExportError::io(destination, e))?;
        self.committed = true;
        Ok(())
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if self.committed {
            return;
        }
        self.abort.store(true, Ordering::Relaxed);
        match fs::remove_file(&self.path) {
            Ok(()) => tracing::debug!(path = %self.path.display(), "Removed unfinished export file."),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => {
                tracing::warn!(path = %self.path.display(), error = %e, "Cannot remove unfinished export file.")
            }
        }
    }
}

/// The outcome of locking a temporary file just created.
enum Claim {
    /// Ours: the lock is held by this handle (`None` without advisory locks).
    Locked(Option<File>),
    /// A cleaner locked it first, or removed it before we locked it.
    Lost,
}

/// Locks a file just created at `path`. Creating and locking cannot be one step, so a cleaner
/// may find the file unlocked in between and remove it: after locking, the file must still be
/// the one at `path`.
fn lock_new_file(file: &File, path: &Path) -> io::Result<Claim> {
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => return Ok(Claim::Lost),
        Err(TryLockError::Error(error)) => {
            tracing::debug!(path = %path.display(), %error, "No advisory lock on a temporary export file.");
            return Ok(Claim::Locked(None));
        }
    }
    if !is_still_at(file, path)? {
        return Ok(Claim::Lost);
    }
    // A second handle of the same open file shares its lock and keeps it after the writer's
    // handle is closed.
    file.try_clone().map(|lock| Claim::Locked(Some(lock)))
}

/// Whether `path` still names `file` (not removed, not replaced).
fn is_still_at(file: &File, path: &Path) -> io::Result<bool> {
    let at_path = match fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e),
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt as _;
        let open = file.metadata()?;
        Ok(open.dev() == at_path.dev() && open.ino() == at_path.ino())
    }
    #[cfg(not(unix))]
    {
        let _ = (file, at_path);
        Ok(true)
    }
}

/// Fsyncs a directory, making a rename in it durable.
///
/// # Errors
/// If the directory cannot be opened or synced.
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Passes writes through to `inner` while hashing them and counting bytes; fails every write
/// once `abort` is set, so a writer whose export was cancelled stops at its next buffer flush.
pub(crate) struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
    bytes: u64,
    abort: Arc<AtomicBool>,
}

impl<W: Write> HashingWriter<W> {
    pub(crate) fn new(inner: W, abort: Arc<AtomicBool>) -> Self {
        Self { inner, hasher: Sha256::new(), bytes: 0, abort }
    }

    /// The inner writer, the lower-case hex SHA-256 and the number of bytes written.
    pub(crate) fn finish(self) -> (W, String, u64) {
        (self.inner, hex::encode(self.hasher.finalize()), self.bytes)
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.abort.load(Ordering::Relaxed) {
            // Not `Interrupted`: `write_all` would retry that forever.
            return Err(io::Error::other("export cancelled"));
        }
        let written = self.inner.write(buf)?;
        self.hasher.update(&buf[..written]);
        self.bytes += written as u64;
        Ok(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashing_writer_hashes_what_it_passes_on() {
        let mut w = HashingWriter::new(Vec::new(), Arc::new(AtomicBool::new(false)));
        w.write_all(b"abc").unwrap();
        let (inner, sha, bytes) = w.finish();
        assert_eq!(inner, b"abc");
        assert_eq!(bytes, 3);
        assert_eq!(sha, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    #[test]
    fn aborted_writer_refuses_writes() {
        let abort = Arc::new(AtomicBool::new(true));
        let mut w = HashingWriter::new(Vec::new(), abort);
        assert!(w.write_all(b"x").is_err());
    }

    #[test]
    fn dropped_guard_removes_its_file() {
        let dir = tempfile::tempdir().unwrap();
        let (guard, file) = TempFile::create_in(dir.path()).unwrap();
        let path = guard.path().to_path_buf();
        assert!(path.file_name().unwrap().to_str().unwrap().starts_with(TEMP_PREFIX));
        drop(file);
        drop(guard);
        assert!(!path.exists());
    }

    #[test]
    fn bare_file_names_live_in_the_working_directory() {
        assert_eq!(parent_dir(Path::new("out.csv")), PathBuf::from("."));
        assert_eq!(parent_dir(Path::new("/a/b.csv")), PathBuf::from("/a"));
        assert!(check_destination(Path::new("/")).is_err());
    }
}
