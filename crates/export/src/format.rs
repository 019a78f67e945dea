use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// An export file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    Csv,
    Ndjson,
    Xlsx,
    Parquet,
    Html,
}

/// The text is not a known export format.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown export format {0:?}; expected csv, ndjson, xlsx, parquet or html")]
pub struct ParseExportFormatError(pub String);

impl ExportFormat {
    /// Every format.
    pub const ALL: [ExportFormat; 5] = [Self::Csv, Self::Ndjson, Self::Xlsx, Self::Parquet, Self::Html];

    /// The config and API spelling, also the file extension.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Csv => "csv",
            Self::Ndjson => "ndjson",
            Self::Xlsx => "xlsx",
            Self::Parquet => "parquet",
            Self::Html => "html",
        }
    }

    /// The file extension (without the dot).
    pub fn extension(self) -> &'static str {
        self.as_str()
    }

    /// The HTTP Content-Type of a download.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Csv => "text/csv; charset=utf-8",
            Self::Ndjson => "application/x-ndjson",
            Self::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            Self::Parquet => "application/vnd.apache.parquet",
            Self::Html => "text/html; charset=utf-8",
        }
    }
}

impl fmt::Display for ExportFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ExportFormat {
    type Err = ParseExportFormatError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim().to_ascii_lowercase();
        Self::ALL
            .into_iter()
            .find(|f| f.as_str() == wanted)
            .ok_or_else(|| ParseExportFormatError(s.to_owned()))
    }
}
