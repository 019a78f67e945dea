//! The schema migrations, embedded in the binary.
//!
//! `sqlx::migrate!()` would do this but needs sqlx's `macros` feature, which the workspace does
//! not build; `include_str!` plus [`Migrator::with_migrations`] gives the same result (same
//! `_sqlx_migrations` table, same SHA-384 checksums) with no build-time dependency. The price is
//! that a new file must be listed here; `every_migration_file_is_registered` enforces that.

use std::borrow::Cow;

use sqlx::SqlStr;
use sqlx::migrate::{Migration, MigrationType, Migrator};

use crate::Backend;

/// One embedded migration file, `migrations/<backend>/<version:04>_<description with _ for spaces>.sql`.
struct Embedded {
    version: i64,
    description: &'static str,
    sql: &'static str,
}

macro_rules! embedded {
    ($backend:literal, $version:literal, $description:literal, $file:literal) => {
        Embedded {
            version: $version,
            description: $description,
            sql: include_str!(concat!("../migrations/", $backend, "/", $file)),
        }
    };
}

// To add a migration: add the file to BOTH directories and a line to BOTH lists. Never edit a
// released file; sqlx refuses to run when an applied migration's checksum changes.
const SQLITE: &[Embedded] = &[
    embedded!("sqlite", 1, "initial", "0001_initial.sql"),
    embedded!("sqlite", 2, "jobs exports tokens", "0002_jobs_exports_tokens.sql"),
    embedded!("sqlite", 3, "social", "0003_social.sql"),
    embedded!("sqlite", 4, "analysis", "0004_analysis.sql"),
    embedded!("sqlite", 5, "trading days", "0005_trading_days.sql"),
    embedded!("sqlite", 6, "run owners", "0006_run_owners.sql"),
    embedded!("sqlite", 7, "alerts", "0007_alerts.sql"),
    embedded!("sqlite", 8, "provider requests", "0008_provider_requests.sql"),
    embedded!("sqlite", 9, "universe", "0009_universe.sql"),
    embedded!("sqlite", 10, "run claims", "0010_run_claims.sql"),
];

const POSTGRES: &[Embedded] = &[
    embedded!("postgres", 1, "initial", "0001_initial.sql"),
    embedded!("postgres", 2, "jobs exports tokens", "0002_jobs_exports_tokens.sql"),
    embedded!("postgres", 3, "social", "0003_social.sql"),
    embedded!("postgres", 4, "analysis", "0004_analysis.sql"),
    embedded!("postgres", 5, "trading days", "0005_trading_days.sql"),
    embedded!("postgres", 6, "run owners", "0006_run_owners.sql"),
    embedded!("postgres", 7, "alerts", "0007_alerts.sql"),
    embedded!("postgres", 8, "provider requests", "0008_provider_requests.sql"),
    embedded!("postgres", 9, "universe", "0009_universe.sql"),
    embedded!("postgres", 10, "run claims", "0010_run_claims.sql"),
];

fn embedded(backend: Backend) -> &'static [Embedded] {
    match backend {
        Backend::Sqlite => SQLITE,
        Backend::Postgres => POSTGRES,
    }
}

/// The migrator for `backend`. Each migration runs in its own transaction (sqlx's default), so a
/// failing one leaves the schema at the previous version.
pub(crate) fn migrator(backend: Backend) -> Migrator {
    migrator_up_to(backend, i64::MAX)
}

/// The migrator stopping after `version`: tests build databases of an earlier schema with it.
pub(crate) fn migrator_up_to(backend: Backend, version: i64) -> Migrator {
    let migrations = embedded(backend)
        .iter()
        .filter(|m| m.version <= version)
        .map(|m| {
            Migration::new(
                m.version,
                Cow::Borrowed(m.description),
                MigrationType::Simple,
                SqlStr::from_static(m.sql),
                false,
            )
        })
        .collect();
    Migrator::with_migrations(migrations)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::Path;

    use super::*;

    /// sqlx's convention: `0002_jobs_exports_tokens.sql` has the description "jobs exports tokens".
    fn file_name(version: i64, description: &str) -> String {
        format!("{version:04}_{}.sql", description.replace(' ', "_"))
    }

    #[test]
    fn every_migration_file_is_registered() {
        for (dir, backend) in [("sqlite", Backend::Sqlite), ("postgres", Backend::Postgres)] {
            let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations").join(dir);
            let on_disk: BTreeSet<String> = std::fs::read_dir(&path)
                .unwrap()
                .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|name| name.ends_with(".sql"))
                .collect();
            let registered: BTreeSet<String> =
                embedded(backend).iter().map(|m| file_name(m.version, m.description)).collect();
            assert_eq!(on_disk, registered, "migrations/{dir} and src/migrations.rs disagree");
        }
    }

    #[test]
    fn backends_stay_in_step() {
        let versions = |b| embedded(b).iter().map(|m| (m.version, m.description)).collect::<Vec<_>>();
        assert_eq!(versions(Backend::Sqlite), versions(Backend::Postgres));
    }
}
