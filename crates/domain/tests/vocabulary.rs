//! Every shared spelling parses back to its variant, serializes as the same text, and an unknown
//! spelling is an error that names the input.

use domain::{MentionKind, PostSource, Rating, RunTrigger, ScanStatus};
use serde::Serialize;
use serde::de::DeserializeOwned;

fn round_trips<T>(all: &[T], as_str: fn(T) -> &'static str)
where
    T: Copy + PartialEq + std::fmt::Debug + std::str::FromStr + Serialize + DeserializeOwned,
    T::Err: std::fmt::Debug,
{
    for &value in all {
        let text = as_str(value);
        assert_eq!(text.parse::<T>().unwrap(), value);
        assert_eq!(serde_json::to_string(&value).unwrap(), format!("\"{text}\""));
        assert_eq!(serde_json::from_str::<T>(&format!("\"{text}\"")).unwrap(), value);
    }
}

#[test]
fn spellings_round_trip_through_text_and_serde() {
    round_trips(&Rating::ALL, Rating::as_str);
    round_trips(&PostSource::ALL, PostSource::as_str);
    round_trips(&MentionKind::ALL, MentionKind::as_str);
    round_trips(&ScanStatus::ALL, ScanStatus::as_str);
    round_trips(&RunTrigger::ALL, RunTrigger::as_str);
    assert_eq!(Rating::ALL.map(Rating::as_str), ["buy", "hold", "sell"]);
    assert_eq!(MentionKind::ALL.map(MentionKind::as_str), ["cashtag", "bare", "alias"]);
    assert_eq!(PostSource::default(), PostSource::Sample);
}

#[test]
fn unknown_spellings_are_errors_naming_the_input() {
    assert_eq!(
        "strong buy".parse::<Rating>(),
        Err(r#"unknown rating "strong buy": expected buy, hold or sell"#.to_owned())
    );
    assert_eq!(
        "twitter".parse::<PostSource>(),
        Err(r#"unknown post source "twitter": expected sample or reddit"#.to_owned())
    );
    assert_eq!(
        "symbol".parse::<MentionKind>(),
        Err(r#"unknown mention kind "symbol": expected cashtag, bare or alias"#.to_owned())
    );
    assert_eq!("done".parse::<ScanStatus>(), Err(r#"unknown scan status "done""#.to_owned()));
    assert_eq!(
        "cron".parse::<RunTrigger>(),
        Err(r#"unknown run trigger "cron": expected api, schedule or cli"#.to_owned())
    );
    // Spellings are exact: no case folding, no trimming.
    assert!("Buy".parse::<Rating>().is_err());
    assert!(" api".parse::<RunTrigger>().is_err());
}
