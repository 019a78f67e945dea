//! [`Stored`], what the store hands back for a value it keeps as a row of its own.

use chrono::{DateTime, Utc};
use serde::Serialize;

/// A value as stored: the row's id and when it was written, beside the value itself.
///
/// One wrapper instead of a `NewThing`/`ThingRecord` pair per table, so a field added to the
/// value cannot be forgotten on one side. Serialized flat: `{"id": …, "created_at": …, <value's
/// fields>}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stored<T> {
    pub id: i64,
    pub created_at: DateTime<Utc>,
    #[serde(flatten)]
    pub value: T,
}

impl<T> std::ops::Deref for Stored<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.value
    }
}
