//! The `[jobs]` and `[exports]` sections as the binary reads them from TOML.

use export::ExportFormat;
use jobs::{ExportsConfig, JobsConfig};

#[test]
fn partial_sections_fill_in_defaults() {
    let jobs: JobsConfig = toml::from_str(
        r#"
        shutdown_grace_secs = 5
        [download_tracker]
        schedule = "0 30 22 * * Mon-Fri"
        export_format = "parquet"
        "#,
    )
    .unwrap();
    assert_eq!(jobs.shutdown_grace_secs, 5);
    assert_eq!(jobs.download_tracker.export_format, ExportFormat::Parquet);
    assert_eq!(jobs.download_tracker.concurrency, 4);
    assert_eq!(jobs.schedules(), vec![("download-tracker".to_owned(), "0 30 22 * * Mon-Fri".to_owned())]);
    jobs.validate().unwrap();

    let exports: ExportsConfig =
        toml::from_str("dir = \"/var/lib/tw/exports\"\n[retention]\nkeep_last = 10\n").unwrap();
    assert_eq!(exports.retention.keep_last, Some(10));
    assert_eq!(exports.retention.max_age_days, Some(90));
}

#[test]
fn unknown_keys_are_errors() {
    let err = toml::from_str::<JobsConfig>("[download_tracker]\nshedule = \"* * * * * *\"\n").unwrap_err();
    assert!(err.to_string().contains("shedule"), "{err}");
    assert!(toml::from_str::<ExportsConfig>("[retention]\nkeep = 3\n").is_err());
}

#[test]
fn defaults_round_trip() {
    let text = toml::to_string(&JobsConfig::default()).unwrap();
    assert_eq!(toml::from_str::<JobsConfig>(&text).unwrap(), JobsConfig::default());
    let text = toml::to_string(&ExportsConfig::default()).unwrap();
    assert_eq!(toml::from_str::<ExportsConfig>(&text).unwrap(), ExportsConfig::default());
}
