//! Subreddit names: the one place that decides what a subreddit may be called, shared by the
//! config (`social.subreddits`) and the command line (`scan --subreddit`).
//!
//! Reddit's rule for new subreddits is 3 to 21 letters, digits or underscores. Older ones may be
//! shorter (r/de, r/nl), so two characters are accepted too. The name goes into request paths,
//! so nothing else (no `/`, no spaces, no `r/` prefix) is.

/// The shortest name accepted (Reddit creates names of 3 or more; older ones have 2).
pub const MIN_SUBREDDIT_LEN: usize = 2;
/// The longest name Reddit allows.
pub const MAX_SUBREDDIT_LEN: usize = 21;

/// A name that cannot be a subreddit; the message says what one looks like.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{name:?} is not a subreddit name: {MIN_SUBREDDIT_LEN} to {MAX_SUBREDDIT_LEN} letters, digits or \
     underscores{hint}"
)]
pub struct InvalidSubreddit {
    name: String,
    hint: &'static str,
}

/// Checks `name` and returns it (as given; Reddit ignores case).
///
/// # Errors
/// [`InvalidSubreddit`] naming the input and the rule.
pub fn parse_subreddit(name: &str) -> Result<String, InvalidSubreddit> {
    let valid = (MIN_SUBREDDIT_LEN..=MAX_SUBREDDIT_LEN).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if valid {
        return Ok(name.to_owned());
    }
    let hint = if name.starts_with("r/") || name.starts_with("/r/") { ", without r/" } else { "" };
    Err(InvalidSubreddit { name: name.to_owned(), hint })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_reddit_names() {
        for name in
            ["wallstreetbets", "stocks", "de", "Daytrading", "options_trading", "a23456789012345678901"]
        {
            assert_eq!(parse_subreddit(name).as_deref(), Ok(name));
        }
    }

    #[test]
    fn refuses_what_reddit_would_not_name_a_subreddit() {
        for name in ["", "x", "no such/sub", "no such", "a234567890123456789012", "wsb!", "ünicode", "../etc"]
        {
            let error = parse_subreddit(name).unwrap_err().to_string();
            assert!(error.contains("letters, digits or underscores"), "{name}: {error}");
        }
        let error = parse_subreddit("r/stocks").unwrap_err().to_string();
        assert!(error.ends_with(", without r/"), "{error}");
    }
}
