//! Export files in an S3-compatible bucket (`exports.store = "s3"`), through `object_store`.
//!
//! Upload: the `export` crate's encoders are synchronous writers on a blocking thread; they
//! write into a bounded channel of byte chunks ([`export::StreamTarget`]) and an async uploader
//! on the calling task feeds the chunks to a multipart upload ([`WriteMultipart`]), which sends
//! a part each time `part_size` bytes have gathered, at most `upload_concurrency` at once.
//! Why this bridge rather than spooling to a local file first: nothing is written twice, the
//! upload runs while the export is encoded, no instance keeps a copy, and the backpressure
//! chain (network → part slots → channel → encoder → database cursor) bounds memory to about
//! `part_size × (upload_concurrency + 1)` plus the channel's few chunks, whatever the export's
//! size. Why not `object_store::buffered::BufWriter`: it is an `AsyncWrite`, which the
//! synchronous encoders cannot drive, and it would hide the multipart upload we abort.
//!
//! Atomic for readers: a multipart upload is invisible until it is completed, and the record
//! becomes `ready` only after that; a failed export aborts the upload, and an upload cut off by
//! a dropped future is aborted by [`AbortOnDrop`] in the background. A process killed mid-upload
//! leaves an incomplete multipart upload that `object_store` cannot list (it has no
//! ListMultipartUploads), so the bucket should carry a lifecycle rule
//! `AbortIncompleteMultipartUpload` (e.g. after one day); such leftovers are never visible as
//! objects. Finished objects without a live record are removed by [`S3Exports::sweep`].

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path as ObjectPath;
use object_store::{ClientOptions, ObjectStore, ObjectStoreExt, RetryConfig, WriteMultipart};
use tokio::sync::mpsc;
use tracing::warn;

use crate::config::{ConfigError, S3Config};

/// Bytes per chunk between the encoder and the uploader: small next to a part, large enough
/// that the channel is not the bottleneck.
const CHUNK_BYTES: usize = 256 * 1024;
/// Chunks the channel holds before the encoder waits for the uploader.
const CHANNEL_CHUNKS: usize = 8;

/// One bucket (and prefix) holding exports.
#[derive(Clone)]
pub(crate) struct S3Exports {
    store: Arc<AmazonS3>,
    /// `s3://bucket/prefix`, for messages (never a credential).
    display: String,
    prefix: ObjectPath,
    part_size: usize,
    upload_concurrency: usize,
}

/// A failed object-store operation, as text: `object_store`'s errors name the operation, the
/// URL and the server's answer, never the credentials (requests are signed, not authenticated
/// by a header holding the secret).
pub(crate) type StoreError = String;

impl S3Exports {
    /// The client for `config` (validated); no request is made.
    ///
    /// # Errors
    /// A [`ConfigError`] on `exports.s3` when the client cannot be built.
    pub(crate) fn new(config: &S3Config) -> Result<Self, ConfigError> {
        config.validate()?;
        let mut builder = AmazonS3Builder::new()
            .with_bucket_name(&config.bucket)
            .with_region(&config.region)
            .with_retry(RetryConfig {
                max_retries: 3,
                retry_timeout: Duration::from_secs(60),
                ..RetryConfig::default()
            })
            .with_client_options(
                ClientOptions::new()
                    .with_connect_timeout(Duration::from_secs(10))
                    .with_timeout(Duration::from_secs(120)),
            );
        if let (Some(key_id), Some(secret)) = (&config.access_key_id, &config.secret_access_key) {
            builder = builder.with_access_key_id(key_id.expose()).with_secret_access_key(secret.expose());
        }
        if let Some(endpoint) = &config.endpoint {
            // Path-style (`{endpoint}/{bucket}/{key}`), what S3-compatible servers expect.
            builder = builder
                .with_endpoint(endpoint.trim_end_matches('/'))
                .with_virtual_hosted_style_request(false)
                .with_allow_http(endpoint.starts_with("http://"));
        }
        // The builder's error may quote settings; it is not passed on.
        let store = builder.build().map_err(|_| {
            ConfigError::new("exports.s3", "cannot build an S3 client from these settings".to_owned())
        })?;
        let prefix = ObjectPath::from(config.normalized_prefix());
        let display = match config.normalized_prefix() {
            "" => format!("s3://{}", config.bucket),
            prefix => format!("s3://{}/{prefix}", config.bucket),
        };
        Ok(Self {
            store: Arc::new(store),
            display,
            prefix,
            part_size: config.part_size_bytes(),
            upload_concurrency: config.upload_concurrency,
        })
    }

    /// `s3://bucket/prefix`.
    pub(crate) fn display(&self) -> &str {
        &self.display
    }

    /// The object of an export file name (a plain name, checked by the caller).
    fn location(&self, file_name: &str) -> ObjectPath {
        self.prefix.clone().join(file_name)
    }

    /// Uploads what `produce` writes into the [`export::StreamTarget`] it is given as the object
    /// `file_name`, with a multipart upload completed only when `produce` succeeded; otherwise
    /// the upload is aborted and no object exists. Returns `produce`'s output.
    ///
    /// # Errors
    /// [`UploadError::Store`] when the bucket refuses (the cause, even when the encoder then
    /// failed for want of a receiver), [`UploadError::Export`] when `produce` failed.
    pub(crate) async fn upload<F, Fut>(
        &self,
        file_name: &str,
        scratch_dir: std::path::PathBuf,
        produce: F,
    ) -> Result<export::ExportOutput, UploadError>
    where
        F: FnOnce(export::StreamTarget) -> Fut,
        Fut: Future<Output = Result<export::ExportOutput, export::ExportError>>,
    {
        let location = self.location(file_name);
        let upload =
            self.store.put_multipart(&location).await.map_err(|e| self.error("start an upload", e))?;
        let mut guard = AbortOnDrop(Some(WriteMultipart::new_with_chunk_size(upload, self.part_size)));
        let (tx, rx) = mpsc::channel::<Bytes>(CHANNEL_CHUNKS);
        let target =
            export::StreamTarget { tx, name: location.to_string(), scratch_dir, chunk_bytes: CHUNK_BYTES };
        let concurrency = self.upload_concurrency;
        let writer = guard.0.as_mut().expect("a fresh guard holds the upload");
        let uploading = async move {
            // Owns the receiver: when a part fails, returning drops it and the encoder stops.
            let mut rx = rx;
            while let Some(chunk) = rx.recv().await {
                writer.wait_for_capacity(concurrency).await?;
                writer.put(chunk);
            }
            Ok::<_, object_store::Error>(())
        };
        let (produced, sent) = tokio::join!(produce(target), uploading);
        let writer = guard.0.take().expect("the upload is still held");
        match (produced, sent) {
            (Ok(output), Ok(())) => match writer.finish().await {
                Ok(_) => Ok(output),
                // `finish` aborts the upload itself when completing fails.
                Err(error) => Err(self.error("complete the upload", error)),
            },
            (_, Err(error)) => {
                self.abort(writer, &location).await;
                Err(self.error("upload a part", error))
            }
            (Err(error), Ok(())) => {
                self.abort(writer, &location).await;
                Err(UploadError::Export(error))
            }
        }
    }

    async fn abort(&self, writer: WriteMultipart, location: &ObjectPath) {
        if let Err(error) = writer.abort().await {
            warn!(store = %self.display, object = %location, %error, "Cannot abort a multipart upload; the bucket's lifecycle rule must remove it.");
        }
    }

    /// The object's size and its bytes as a stream (read from the bucket as it is sent).
    ///
    /// # Errors
    /// `Ok(None)` when there is no such object; a [`StoreError`] when the bucket fails.
    pub(crate) async fn open(
        &self,
        file_name: &str,
    ) -> Result<Option<(u64, futures::stream::BoxStream<'static, std::io::Result<Bytes>>)>, StoreError> {
        let location = self.location(file_name);
        match self.store.get(&location).await {
            Ok(result) => {
                let length = result.meta.size;
                let stream = result.into_stream().map_err(std::io::Error::other).boxed();
                Ok(Some((length, stream)))
            }
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(error) => Err(self.error("read an export", error).to_string()),
        }
    }

    /// Deletes the object of `file_name`; one that does not exist is no error.
    ///
    /// # Errors
    /// A [`StoreError`] when the bucket refuses.
    pub(crate) async fn delete(&self, file_name: &str) -> Result<(), StoreError> {
        match self.store.delete(&self.location(file_name)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(error) => Err(self.error("delete an export", error).to_string()),
        }
    }

    /// Deletes the objects directly under the prefix whose names start with one of `prefixes`
    /// and are not in `keep`; returns how many it deleted.
    ///
    /// # Errors
    /// A [`StoreError`] when listing or deleting fails.
    pub(crate) async fn sweep(&self, prefixes: &[&str], keep: &HashSet<String>) -> Result<usize, StoreError> {
        let depth = self.prefix.parts().count() + 1;
        let mut listing = self.store.list(Some(&self.prefix));
        let mut orphans = Vec::new();
        while let Some(meta) = listing.next().await {
            let meta = meta.map_err(|e| self.error("list the exports", e).to_string())?;
            if meta.location.parts().count() != depth {
                continue;
            }
            let Some(name) = meta.location.filename() else { continue };
            if prefixes.iter().any(|p| name.starts_with(p)) && !keep.contains(name) {
                orphans.push(meta.location.clone());
            }
        }
        for location in &orphans {
            match self.store.delete(location).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(error) => return Err(self.error("delete an orphaned export", error).to_string()),
            }
        }
        Ok(orphans.len())
    }

    fn error(&self, action: &str, error: object_store::Error) -> UploadError {
        UploadError::Store(format!("{}: cannot {action}: {error}", self.display))
    }
}

/// Why an upload failed.
#[derive(Debug)]
pub(crate) enum UploadError {
    /// The bucket refused or could not be reached.
    Store(String),
    /// The export itself failed.
    Export(export::ExportError),
}

impl std::fmt::Display for UploadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Store(message) => f.write_str(message),
            Self::Export(error) => error.fmt(f),
        }
    }
}

/// Holds an unfinished multipart upload; dropped while still holding it (the export's future was
/// dropped), it aborts the upload on a background task so no parts are left behind.
struct AbortOnDrop(Option<WriteMultipart>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        let Some(writer) = self.0.take() else { return };
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                if let Err(error) = writer.abort().await {
                    warn!(%error, "Cannot abort the multipart upload of a cancelled export.");
                }
            });
        }
    }
}
