//! Exports into a bounded channel of byte chunks instead of a file, for a caller that uploads
//! them (the export service's object store).
//!
//! Why a channel and not an `AsyncWrite`: every encoder here (csv, serde_json, Parquet,
//! rust_xlsxwriter, the HTML renderer) is a synchronous `std::io::Write` user running on the
//! export's blocking thread. [`ChunkWriter`] is that `Write`: it gathers bytes into chunks of
//! [`StreamTarget::chunk_bytes`] and hands each one to the channel with `blocking_send`, which
//! waits while the channel is full. So the uploader's pace (the network) slows the encoder, the
//! encoder slows the database cursor, and the memory of the whole path is a few chunks whatever
//! the export's size. The bytes are hashed and counted on their way into the channel (the same
//! [`HashingWriter`](crate::atomic::HashingWriter) as for files), so the SHA-256 describes
//! exactly what the receiver got.
//!
//! End of stream: the sender is dropped when the writer finishes *or fails*; the receiver tells
//! the two apart by the export's result, never by the channel alone. When the receiver goes away
//! (the upload failed), the writer's next send fails and the export stops with an I/O error.

use std::fs::File;
use std::io::{self, Write};
use std::path::PathBuf;

use bytes::Bytes;
use tokio::sync::mpsc;

/// Where a streamed export goes.
#[derive(Debug)]
pub struct StreamTarget {
    /// Receives the export's bytes in chunks, in order; dropped when the export ends.
    pub tx: mpsc::Sender<Bytes>,
    /// A name for messages and logs (e.g. the object's key); not a path.
    pub name: String,
    /// Where an xlsx export keeps its sheets' temporary files while it is written (they are
    /// unnamed and vanish with the export); other formats write nothing there.
    pub scratch_dir: PathBuf,
    /// Bytes per chunk sent (at least 1).
    pub chunk_bytes: usize,
}

/// The writer at the bottom of every encoder: a file, or the channel of a [`StreamTarget`].
pub(crate) enum Out {
    File(File),
    Stream(ChunkWriter),
}

impl Out {
    /// Makes the written bytes final: fsyncs a file, sends a stream's last partial chunk.
    pub(crate) fn finish(&mut self) -> io::Result<()> {
        match self {
            Self::File(file) => file.sync_all(),
            Self::Stream(stream) => stream.send_buffered(),
        }
    }
}

impl Write for Out {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Self::File(file) => file.write(buf),
            Self::Stream(stream) => stream.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Self::File(file) => file.flush(),
            Self::Stream(stream) => stream.flush(),
        }
    }
}

/// A blocking `Write` into a bounded channel of chunks; use on a blocking thread only.
pub(crate) struct ChunkWriter {
    tx: mpsc::Sender<Bytes>,
    buffer: Vec<u8>,
    chunk_bytes: usize,
}

impl ChunkWriter {
    pub(crate) fn new(tx: mpsc::Sender<Bytes>, chunk_bytes: usize) -> Self {
        let chunk_bytes = chunk_bytes.max(1);
        Self { tx, buffer: Vec::with_capacity(chunk_bytes), chunk_bytes }
    }

    /// Sends what is buffered, if anything, waiting while the channel is full.
    fn send_buffered(&mut self) -> io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let chunk = std::mem::replace(&mut self.buffer, Vec::with_capacity(self.chunk_bytes));
        self.tx
            .blocking_send(Bytes::from(chunk))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the upload of the export stopped"))
    }
}

impl Write for ChunkWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let room = self.chunk_bytes - self.buffer.len();
        let n = buf.len().min(room);
        self.buffer.extend_from_slice(&buf[..n]);
        if self.buffer.len() >= self.chunk_bytes {
            self.send_buffered()?;
        }
        Ok(n)
    }

    /// Sends nothing: encoders flush often, and chunks stay full-sized until the end.
    fn flush(&mut self) -> io::Result<()> {
        if self.tx.is_closed() {
            return Err(io::Error::new(io::ErrorKind::BrokenPipe, "the upload of the export stopped"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sends_full_chunks_then_the_rest() {
        let (tx, mut rx) = mpsc::channel(16);
        let mut out = Out::Stream(ChunkWriter::new(tx, 4));
        out.write_all(b"abcdefghij").unwrap();
        out.finish().unwrap();
        drop(out);
        let mut chunks = Vec::new();
        while let Some(chunk) = rx.blocking_recv() {
            chunks.push(chunk);
        }
        assert_eq!(
            chunks,
            vec![Bytes::from_static(b"abcd"), Bytes::from_static(b"efgh"), Bytes::from_static(b"ij")]
        );
    }

    #[test]
    fn a_gone_receiver_fails_the_write() {
        let (tx, rx) = mpsc::channel(1);
        drop(rx);
        let mut out = ChunkWriter::new(tx, 2);
        let error = out.write_all(b"abcd").unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::BrokenPipe);
        assert!(out.flush().is_err());
    }
}
