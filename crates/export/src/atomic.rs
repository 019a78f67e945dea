//! Atomic, durable file replacement and on-the-fly hashing.
//!
//! An export is written to `{TEMP_PREFIX}{random}.tmp` next to its destination (same directory,
//! so the final `rename` cannot cross file systems and is atomic), fsynced, renamed, and the
//! directory fsynced so the rename itself survives a crash. [`TempFile`] is the guard that makes
//! every other outcome (an error, a panic, a dropped future) remove the temporary file, so a
//! reader sees either the old destination or the complete new one, never a prefix.
//! [`HashingWriter`] computes the SHA-256 and byte count of exactly what reaches the file, so
//! callers get a checksum without reading the file back.

use std::collections::hash_map::RandomState;
use std::fs::{self, File, OpenOptions};
use std::hash::{BuildHasher, Hasher};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};

use crate::TEMP_PREFIX;
use crate::report::ExportError;

/// Removes every file in `dir` whose name starts with [`TEMP_PREFIX`]: debris of exports that
/// were killed before they could clean up (a crash or `SIGKILL`; any orderly failure removes its
/// own file). Returns how many were removed. Other files, and directories, are left alone.
///
/// Call it at startup, before exports into `dir` begin: it would also remove the temporary
/// file of an export in progress, which would then fail at its final rename (never producing a
/// partial destination).
///
/// # Errors
/// If `dir` cannot be listed or a matching file cannot be removed (one that vanished meanwhile
/// is not an error).
pub fn clean_stray_temp_files(dir: &Path) -> io::Result<usize> {
    let mut removed = 0;
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let is_ours = name.to_str().is_some_and(|name| name.starts_with(TEMP_PREFIX));
        // `file_type` does not follow symlinks: a symlink named like ours is removed as a link.
        if !is_ours || entry.file_type()?.is_dir() {
            continue;
        }
        match fs::remove_file(entry.path()) {
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
#[derive(Debug)]
pub(crate) struct TempFile {
    path: PathBuf,
    abort: Arc<AtomicBool>,
    committed: bool,
}

impl TempFile {
    /// Creates a new, empty temporary file in `dir` and returns the guard and the open file.
    ///
    /// # Errors
    /// [`ExportError::DestinationNotWritable`] if no file can be created in `dir`.
    pub(crate) fn create_in(dir: &Path) -> Result<(Self, File), ExportError> {
        let mut attempt = 0;
        loop {
            let path = dir.join(format!("{TEMP_PREFIX}{}.tmp", random_suffix()));
            match OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(file) => {
                    let guard = Self { path, abort: Arc::new(AtomicBool::new(false)), committed: false };
                    return Ok((guard, file));
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && attempt < 8 => attempt += 1,
                Err(source) => {
                    return Err(ExportError::DestinationNotWritable { dir: dir.to_path_buf(), source });
                }
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
