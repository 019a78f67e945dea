//! Export records plus files, kept in step.
//!
//! [`ExportService`] is the only owner of the export directory: it names every file itself
//! (`export-{utc time}-{random}.{ext}`, never anything a user typed), and downloads and deletions
//! go through a record id, so no request can name a path. The record is the source of truth and
//! the file follows it:
//!
//! - `create`: record `writing` → file written atomically by the `export` crate (temp file,
//!   fsync, rename) → record `ready`. On failure the record becomes `failed` with the reason and
//!   no file remains.
//! - A crash can leave a `writing` record, a temp file, or (between the rename and the `ready`
//!   update) a finished file whose record is not `ready`. The writer's instance owns the record:
//!   once its heartbeat is stale, another process's [`Heartbeat`](crate::Heartbeat) fails it, and
//!   [`ExportService::recover`] at start-up removes files no live record owns, so none of them
//!   accumulates over months while a live process's export is never touched.
//! - A record is `ready` only together with its place among its run's outputs (one
//!   transaction); a run cut off while writing fails the export with it.
//! - `delete` and `apply_retention` remove the file and the record; only finished exports are
//!   ever removed, never one being written.
//!
//! With `exports.store = "s3"` the same protocol holds with objects instead of files (see
//! [`crate::export_store`]): the export streams into a multipart upload that is completed before
//! the record becomes `ready` and aborted when the export fails; downloads stream from the
//! bucket, so any instance serves any export; `delete`, retention and the start-up sweep remove
//! objects. No instance keeps anything about an export but its database record.

use std::collections::HashSet;
use std::hash::{BuildHasher, Hasher};
use std::io;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use chrono::{Duration, Utc};
use export::{Destination, ExportFormat, ExportRequest, SymbolSummary};
use futures::StreamExt;
use futures::stream::BoxStream;
use storage::{ExportRecord, ExportStatus, Storage};
use tokio_util::io::ReaderStream;
use tracing::{info, warn};

use crate::config::{ExportStoreKind, ExportsConfig};
use crate::export_store::{S3Exports, UploadError};

/// Read size when streaming a local file: large enough for few syscalls, small enough that
/// concurrent downloads hold little memory.
const READ_CHUNK_BYTES: usize = 64 * 1024;

/// `kind` of an export of bars.
pub const KIND_BARS: &str = "bars";
/// `kind` of a per-symbol summary table.
pub const KIND_SUMMARY: &str = "summary";
/// `kind` of a table of social mentions.
pub const KIND_MENTIONS: &str = "mentions";
/// `kind` of a table of research notes (the latest note per watched symbol).
pub const KIND_NOTES: &str = "notes";

/// Prefixes of the file names this service creates; only such files are ever removed by the
/// start-up sweep.
const FILE_PREFIXES: [&str; 4] = ["export-", "summary-", "mentions-", "notes-"];

/// Why an export operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Export(#[from] export::ExportError),
    #[error(transparent)]
    Storage(#[from] storage::StorageError),
    #[error("export {0} not found")]
    NotFound(i64),
    #[error("export {0} is still being written")]
    NotReady(i64),
    /// The export exists but failed; it has no file (added: a download of it is a clear error
    /// rather than a bare "not found").
    #[error("export {id} failed: {error}")]
    Failed { id: i64, error: String },
    #[error("export directory {dir}: {message}")]
    Directory { dir: PathBuf, message: String },
    /// The object store refused or could not be reached (the message names the bucket, the
    /// operation and the server's answer, never a credential).
    #[error("export storage {0}")]
    Store(String),
}

/// A ready export's bytes, streamed from its file or object.
pub struct ExportContent {
    /// Size in bytes.
    pub length: u64,
    /// The bytes, read as they are consumed.
    pub body: BoxStream<'static, io::Result<Bytes>>,
}

/// Where finished exports live.
#[derive(Clone)]
enum Backend {
    Local,
    S3(S3Exports),
    /// `store = "s3"` with settings no client can be built from (only when they were not
    /// validated): every operation fails with this message.
    Unavailable(String),
}

/// Creates, lists, serves and deletes exports; the only owner of the export directory.
#[derive(Clone)]
pub struct ExportService {
    storage: Storage,
    config: ExportsConfig,
    backend: Backend,
}

impl ExportService {
    /// The service over `config.dir`. Cheap and infallible: the directory is created by
    /// [`recover`](Self::recover) at start-up and again before each export, so a directory that
    /// is missing or not writable is reported where it matters (and a run fails with that
    /// message) instead of preventing the server from starting.
    ///
    /// With `store = "s3"` the client is built here without any request; settings that pass
    /// [`ExportsConfig::validate`] always build one.
    pub fn new(storage: Storage, config: ExportsConfig) -> Self {
        let backend = match (config.store, &config.s3) {
            (ExportStoreKind::Local, _) => Backend::Local,
            (ExportStoreKind::S3, Some(s3)) => match S3Exports::new(s3) {
                Ok(store) => Backend::S3(store),
                Err(error) => Backend::Unavailable(error.to_string()),
            },
            (ExportStoreKind::S3, None) => Backend::Unavailable(
                "invalid setting exports.s3: required when exports.store = \"s3\"".to_owned(),
            ),
        };
        Self { storage, config, backend }
    }

    /// Where exports are kept, for logs: the directory or `s3://bucket/prefix`.
    pub fn location(&self) -> String {
        match &self.backend {
            Backend::S3(store) => store.display().to_owned(),
            _ => self.config.dir.display().to_string(),
        }
    }

    /// At start-up (after the [`Heartbeat`](crate::Heartbeat) took over dead owners' exports):
    /// creates the directory, removes stray temp files no live writer holds, and removes files
    /// of ours whose record is gone or failed (a crash between the rename and the `ready`
    /// update). Files of `writing` records are kept: they belong to a live process (another
    /// server or a CLI run on the same database), whose work is never touched.
    ///
    /// With `store = "s3"`: removes the objects directly under the prefix, named like ours, that
    /// no `ready` or `writing` record owns (a crash between completing the upload and the `ready`
    /// update). Incomplete multipart uploads cannot be listed through `object_store`; the
    /// bucket's `AbortIncompleteMultipartUpload` lifecycle rule removes those (see
    /// [`crate::export_store`]).
    ///
    /// # Errors
    /// [`ExportError::Storage`] if the database fails, [`ExportError::Directory`] if the directory
    /// cannot be created, listed or cleaned, [`ExportError::Store`] if the bucket cannot be
    /// listed or cleaned.
    pub async fn recover(&self) -> Result<(), ExportError> {
        let keep: HashSet<String> = self
            .storage
            .exports(u64::MAX)
            .await?
            .into_iter()
            .filter(|e| matches!(e.status, ExportStatus::Ready | ExportStatus::Writing))
            .map(|e| e.file_name)
            .collect();
        match &self.backend {
            Backend::Local => {}
            Backend::S3(store) => {
                let swept = store.sweep(&FILE_PREFIXES, &keep).await.map_err(ExportError::Store)?;
                if swept > 0 {
                    info!(
                        store = store.display(),
                        removed = swept,
                        "Removed export objects without a live record."
                    );
                }
                return Ok(());
            }
            Backend::Unavailable(message) => return Err(ExportError::Store(message.clone())),
        }
        let dir = self.config.dir.clone();
        let swept = tokio::task::spawn_blocking(move || sweep_dir(&dir, &keep))
            .await
            .map_err(|e| self.directory_error(format!("cleaning up failed unexpectedly: {e}")))?
            .map_err(|e| self.directory_error(e))?;
        if swept > 0 {
            info!(dir = %self.config.dir.display(), removed = swept, "Removed export files without a live record.");
        }
        Ok(())
    }

    /// Writes an export: record `writing` → file written atomically → record `ready`; on failure
    /// the record is `failed` and no file remains.
    ///
    /// # Errors
    /// [`ExportError::Directory`] if the directory cannot be created, [`ExportError::Export`] if
    /// writing fails (the record is then `failed`), [`ExportError::Storage`] if the database fails.
    pub async fn create(
        &self,
        request: &ExportRequest,
        run_id: Option<i64>,
    ) -> Result<ExportRecord, ExportError> {
        self.create_with_summaries(request, run_id).await.map(|(record, _)| record)
    }

    /// [`create`](Self::create), also returning the per-symbol summaries computed while writing
    /// (for [`create_summary`](Self::create_summary)).
    ///
    /// # Errors
    /// As [`create`](Self::create).
    pub async fn create_with_summaries(
        &self,
        request: &ExportRequest,
        run_id: Option<i64>,
    ) -> Result<(ExportRecord, Vec<SymbolSummary>), ExportError> {
        let format = request.format;
        let file_name = new_file_name("export", format.extension());
        self.write(format.as_str(), KIND_BARS, &file_name, run_id, |storage, destination| async move {
            export::export_to(&storage, request, destination, None).await
        })
        .await
    }

    /// Writes `summaries` as a csv table (kind `summary`), like [`create`](Self::create).
    ///
    /// # Errors
    /// As [`create`](Self::create).
    pub async fn create_summary(
        &self,
        summaries: &[SymbolSummary],
        run_id: Option<i64>,
    ) -> Result<ExportRecord, ExportError> {
        let file_name = new_file_name("summary", ExportFormat::Csv.extension());
        let (record, _) = self
            .write(
                ExportFormat::Csv.as_str(),
                KIND_SUMMARY,
                &file_name,
                run_id,
                |_, destination| async move { export::write_summary_csv_to(summaries, destination).await },
            )
            .await?;
        Ok(record)
    }

    /// Writes a mentions table (CSV, kind `mentions`) as its own export.
    ///
    /// # Errors
    /// As [`create`](Self::create).
    pub async fn create_mentions(
        &self,
        mentions: &[domain::Mention],
        run_id: Option<i64>,
    ) -> Result<ExportRecord, ExportError> {
        let file_name = new_file_name("mentions", ExportFormat::Csv.extension());
        let (record, _) = self
            .write(
                ExportFormat::Csv.as_str(),
                KIND_MENTIONS,
                &file_name,
                run_id,
                |_, destination| async move { export::write_mentions_csv_to(mentions, destination).await },
            )
            .await?;
        Ok(record)
    }

    /// Writes a research-notes table (CSV, kind `notes`) as its own export.
    ///
    /// # Errors
    /// As [`create`](Self::create).
    pub async fn create_notes(
        &self,
        notes: &[storage::Stored<domain::ResearchNote>],
        run_id: Option<i64>,
    ) -> Result<ExportRecord, ExportError> {
        let file_name = new_file_name("notes", ExportFormat::Csv.extension());
        let (record, _) = self
            .write(ExportFormat::Csv.as_str(), KIND_NOTES, &file_name, run_id, |_, destination| async move {
                export::write_notes_csv_to(notes, destination).await
            })
            .await?;
        Ok(record)
    }

    /// The record-file protocol shared by every kind of export: `produce` writes into the
    /// destination it is given (a file in the directory, or the stream of an upload).
    async fn write<F, Fut>(
        &self,
        format: &str,
        kind: &str,
        file_name: &str,
        run_id: Option<i64>,
        produce: F,
    ) -> Result<(ExportRecord, Vec<SymbolSummary>), ExportError>
    where
        F: FnOnce(Storage, Destination) -> Fut,
        Fut: Future<Output = Result<export::ExportOutput, export::ExportError>>,
    {
        match &self.backend {
            Backend::Local => self.ensure_dir().await?,
            // The directory only takes xlsx's temporary sheet files.
            Backend::S3(_) if format == ExportFormat::Xlsx.as_str() => self.ensure_dir().await?,
            Backend::S3(_) => {}
            Backend::Unavailable(message) => return Err(ExportError::Store(message.clone())),
        }
        // Our own generated name: a plain file name by construction.
        let path = self.config.dir.join(file_name);
        let record = self.storage.create_export(format, kind, file_name, run_id).await?;
        let id = record.id;
        let produced = match &self.backend {
            Backend::S3(store) => store
                .upload(file_name, self.config.dir.clone(), |target| {
                    produce(self.storage.clone(), Destination::Stream(target))
                })
                .await
                .map_err(|error| match error {
                    UploadError::Store(message) => ExportError::Store(message),
                    UploadError::Export(error) => ExportError::Export(error),
                }),
            _ => produce(self.storage.clone(), Destination::File(path.clone()))
                .await
                .map_err(ExportError::from),
        };
        let output = match produced {
            Ok(output) => output,
            Err(error) => {
                let message = error.to_string();
                warn!(export_id = id, %error, "Export failed.");
                // Nothing is left behind on error (the export crate removes its temporary file,
                // the upload is aborted); the record says why.
                if let Err(db_error) = self.storage.fail_export(id, &message).await {
                    warn!(export_id = id, error = %db_error, "Cannot mark the export failed.");
                }
                return Err(error);
            }
        };
        if let Err(error) = self.storage.complete_export(id, output.rows, output.bytes, &output.sha256).await
        {
            // Without a `ready` record the file must not stay: remove it, then try to say why.
            self.remove_stored(file_name).await.ok();
            self.storage.fail_export(id, &format!("cannot record the finished export: {error}")).await.ok();
            return Err(error.into());
        }
        match self.storage.export(id).await? {
            Some(record) => {
                info!(
                    export_id = id,
                    kind,
                    format,
                    rows = output.rows,
                    bytes = output.bytes,
                    "Export ready."
                );
                Ok((record, output.summaries))
            }
            // Deleted while it was being written: the file has no owner any more.
            None => {
                self.remove_stored(file_name).await.ok();
                Err(ExportError::NotFound(id))
            }
        }
    }

    /// The record of a ready export.
    async fn ready_record(&self, id: i64) -> Result<ExportRecord, ExportError> {
        let record = self.storage.export(id).await?.ok_or(ExportError::NotFound(id))?;
        match record.status {
            ExportStatus::Writing => Err(ExportError::NotReady(id)),
            ExportStatus::Failed => {
                let error = record.error.unwrap_or_else(|| "unknown reason".to_owned());
                Err(ExportError::Failed { id, error })
            }
            ExportStatus::Ready => Ok(record),
        }
    }

    /// A ready export's record and bytes, streamed from its file or object (memory does not
    /// grow with its size), for downloads from any instance.
    ///
    /// # Errors
    /// `NotFound` (also when its file or object has gone missing), `NotReady` while it is
    /// being written, `Failed` for a failed export, `Storage` if the database fails,
    /// `Directory` if the file cannot be opened, `Store` if the bucket fails.
    pub async fn open(&self, id: i64) -> Result<(ExportRecord, ExportContent), ExportError> {
        match &self.backend {
            Backend::Local => {
                let (record, path) = self.ready_file(id).await?;
                let file = match tokio::fs::File::open(&path).await {
                    Ok(file) => file,
                    // Deleted between the lookup and the open: as gone as an unknown id.
                    Err(error) if error.kind() == io::ErrorKind::NotFound => {
                        return Err(ExportError::NotFound(id));
                    }
                    Err(error) => {
                        return Err(
                            self.directory_error(format!("cannot open {}: {error}", record.file_name))
                        );
                    }
                };
                let length = file
                    .metadata()
                    .await
                    .map_err(|e| self.directory_error(format!("cannot read {}: {e}", record.file_name)))?
                    .len();
                let body = ReaderStream::with_capacity(file, READ_CHUNK_BYTES).boxed();
                Ok((record, ExportContent { length, body }))
            }
            Backend::S3(store) => {
                let record = self.ready_record(id).await?;
                if !is_plain_name(&record.file_name) {
                    warn!(export_id = id, file_name = %record.file_name, "Refusing a stored export file name that is not a plain name.");
                    return Err(ExportError::NotFound(id));
                }
                match store.open(&record.file_name).await.map_err(ExportError::Store)? {
                    Some((length, body)) => Ok((record, ExportContent { length, body })),
                    None => {
                        warn!(export_id = id, store = store.display(), file_name = %record.file_name, "The object of a ready export is missing.");
                        Err(ExportError::NotFound(id))
                    }
                }
            }
            Backend::Unavailable(message) => Err(ExportError::Store(message.clone())),
        }
    }

    /// The path of a ready export's file (`store = "local"` only; [`open`](Self::open) serves
    /// both stores).
    ///
    /// # Errors
    /// `NotFound` (also when its file has gone missing), `NotReady` while it is being written,
    /// `Failed` for a failed export, `Storage` if the database fails, `Store` with
    /// `store = "s3"`.
    pub async fn ready_file(&self, id: i64) -> Result<(ExportRecord, PathBuf), ExportError> {
        let record = self.ready_record(id).await?;
        if !matches!(self.backend, Backend::Local) {
            return Err(ExportError::Store(format!(
                "export {id} is in object storage ({}), not a local file: read it with `open`",
                self.location()
            )));
        }
        let Some(path) = self.path_of(&record.file_name) else {
            warn!(export_id = id, file_name = %record.file_name, "Refusing a stored export file name that is not a plain name.");
            return Err(ExportError::NotFound(id));
        };
        match tokio::fs::metadata(&path).await {
            Ok(meta) if meta.is_file() => Ok((record, path)),
            _ => {
                warn!(export_id = id, path = %path.display(), "The file of a ready export is missing.");
                Err(ExportError::NotFound(id))
            }
        }
    }

    /// Deletes the record and its file. An export still being written cannot be deleted.
    ///
    /// # Errors
    /// `NotFound`, `NotReady` while it is being written, or a database/file error (the record is
    /// then gone and the file is removed by the next start-up's sweep).
    pub async fn delete(&self, id: i64) -> Result<ExportRecord, ExportError> {
        let record = self.storage.export(id).await?.ok_or(ExportError::NotFound(id))?;
        if record.status == ExportStatus::Writing {
            return Err(ExportError::NotReady(id));
        }
        let record = self.storage.delete_export(id).await?.ok_or(ExportError::NotFound(id))?;
        self.remove_file_of(&record).await?;
        info!(export_id = id, "Export deleted.");
        Ok(record)
    }

    /// Applies the retention policy; returns how many exports were removed. An export whose file
    /// cannot be removed keeps its record (it is retried next time) and is logged.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn apply_retention(&self) -> Result<usize, ExportError> {
        let retention = &self.config.retention;
        let older_than = retention
            .max_age_days
            .and_then(|days| i64::try_from(days).ok())
            .and_then(Duration::try_days)
            .and_then(|age| Utc::now().checked_sub_signed(age));
        let expired = self.storage.expired_exports(retention.keep_last, older_than).await?;
        let mut removed = 0;
        for record in expired {
            if let Err(error) = self.remove_file_of(&record).await {
                warn!(export_id = record.id, %error, "Cannot remove an expired export's file; keeping its record.");
                continue;
            }
            if self.storage.delete_export(record.id).await?.is_some() {
                removed += 1;
            }
        }
        if removed > 0 {
            info!(removed, "Retention removed old exports.");
        }
        Ok(removed)
    }

    /// The storage handle.
    pub fn storage(&self) -> &Storage {
        &self.storage
    }

    /// The settings.
    pub fn config(&self) -> &ExportsConfig {
        &self.config
    }

    /// The export directory.
    pub fn dir(&self) -> &Path {
        &self.config.dir
    }

    /// `dir/file_name` when `file_name` is one plain path component (no `/`, `\`, `..`, not
    /// hidden); `None` otherwise, so no stored or crafted name can reach outside the directory.
    fn path_of(&self, file_name: &str) -> Option<PathBuf> {
        is_plain_name(file_name).then(|| self.config.dir.join(file_name))
    }

    async fn ensure_dir(&self) -> Result<(), ExportError> {
        tokio::fs::create_dir_all(&self.config.dir)
            .await
            .map_err(|e| self.directory_error(format!("cannot create it: {e}")))
    }

    async fn remove_file_of(&self, record: &ExportRecord) -> Result<(), ExportError> {
        if !is_plain_name(&record.file_name) {
            warn!(export_id = record.id, file_name = %record.file_name, "Not removing a stored export file name that is not a plain name.");
            return Ok(());
        }
        self.remove_stored(&record.file_name).await
    }

    /// Removes the file or object of `file_name` (a plain name); a missing one is no error.
    async fn remove_stored(&self, file_name: &str) -> Result<(), ExportError> {
        match &self.backend {
            Backend::S3(store) => store.delete(file_name).await.map_err(ExportError::Store),
            Backend::Unavailable(message) => Err(ExportError::Store(message.clone())),
            Backend::Local => remove_file_if_exists(&self.config.dir.join(file_name))
                .await
                .map_err(|e| self.directory_error(format!("cannot remove {file_name}: {e}"))),
        }
    }

    fn directory_error(&self, message: impl Into<String>) -> ExportError {
        ExportError::Directory { dir: self.config.dir.clone(), message: message.into() }
    }
}

/// Whether `file_name` is one plain path component (no `/`, `\\`, `..`, not hidden), so no
/// stored or crafted name can reach outside the directory or the bucket's prefix.
fn is_plain_name(file_name: &str) -> bool {
    !file_name.is_empty()
        && !file_name.starts_with('.')
        && !file_name.contains(['/', '\\', '\0'])
        && !file_name.contains("..")
        && matches!(Path::new(file_name).components().collect::<Vec<_>>().as_slice(), [Component::Normal(_)])
}

/// `{prefix}-{UTC time}-{16 hex digits}.{extension}`: sortable, unique (the random part comes
/// from the process's random hasher keys, a counter and the clock; the database's unique index
/// on `file_name` would refuse a duplicate anyway), and never derived from user input.
fn new_file_name(prefix: &str, extension: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let now = Utc::now();
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    hasher.write_i64(now.timestamp_nanos_opt().unwrap_or_default());
    hasher.write_u32(std::process::id());
    format!("{prefix}-{}-{:016x}.{extension}", now.format("%Y%m%dT%H%M%SZ"), hasher.finish())
}

async fn remove_file_if_exists(path: &Path) -> io::Result<()> {
    match tokio::fs::remove_file(path).await {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Creates `dir`, removes the `export` crate's stray temp files (only the unlocked ones: a temp
/// file another live process is writing, such as a second server on the same directory or a
/// CLI export, is locked and stays), and removes our own files that are not in `keep`. Returns
/// how many files were removed.
fn sweep_dir(dir: &Path, keep: &HashSet<String>) -> Result<usize, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create it: {e}"))?;
    let mut removed =
        export::clean_stray_temp_files(dir).map_err(|e| format!("cannot remove temp files: {e}"))?;
    let entries = std::fs::read_dir(dir).map_err(|e| format!("cannot list it: {e}"))?;
    for entry in entries {
        let entry = entry.map_err(|e| format!("cannot list it: {e}"))?;
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else { continue };
        let ours = FILE_PREFIXES.iter().any(|p| name.starts_with(p));
        let is_file = entry.file_type().is_ok_and(|t| t.is_file());
        if !ours || !is_file || keep.contains(&name) {
            continue;
        }
        match std::fs::remove_file(entry.path()) {
            Ok(()) => removed += 1,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(format!("cannot remove {name}: {e}")),
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_are_plain_and_unique() {
        let a = new_file_name("export", "csv");
        let b = new_file_name("export", "csv");
        assert_ne!(a, b);
        assert!(a.starts_with("export-") && a.ends_with(".csv"), "{a}");
        assert!(!a.contains('/') && !a.contains(".."));
    }
}
