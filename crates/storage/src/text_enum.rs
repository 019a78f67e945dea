//! The spellings of the enums this crate stores as TEXT (declared with `domain::text_enum!`).

#[cfg(test)]
mod tests {
    use crate::{CrewRunStatus, ExportStatus, MentionBucketSize, RunStatus};

    #[test]
    fn every_spelling_round_trips_and_unknown_ones_keep_their_error_wording() {
        for status in ExportStatus::ALL {
            assert_eq!(status.to_string().parse::<ExportStatus>(), Ok(status));
        }
        assert_eq!(MentionBucketSize::ALL.map(MentionBucketSize::as_str), ["hour", "day"]);
        assert_eq!("x".parse::<CrewRunStatus>(), Err(r#"unknown crew run status "x""#.to_owned()));
        assert_eq!(
            "x".parse::<MentionBucketSize>(),
            Err(r#"unknown bucket "x": expected hour or day"#.to_owned())
        );
        assert_eq!("x".parse::<ExportStatus>(), Err(r#"unknown export status "x""#.to_owned()));
        assert_eq!("x".parse::<RunStatus>(), Err(r#"unknown run status "x""#.to_owned()));
    }
}
