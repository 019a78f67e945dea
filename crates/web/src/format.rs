//! Numbers as people read them in a quote table.

/// A price with two decimals (four under one unit, where cents hide the movement); `—` when
/// unknown.
pub fn money(value: Option<f64>) -> String {
    match value {
        Some(v) if v.is_finite() && v.abs() < 1.0 => format!("{v:.4}"),
        Some(v) if v.is_finite() => format!("{v:.2}"),
        _ => "—".to_owned(),
    }
}

/// A signed percentage with two decimals; `—` when unknown.
pub fn percent(value: Option<f64>) -> String {
    match value {
        Some(v) if v.is_finite() => format!("{v:+.2} %"),
        _ => "—".to_owned(),
    }
}

/// The CSS class that colours a change: `up`, `down` or `flat`.
pub fn change_class(value: Option<f64>) -> &'static str {
    match value {
        Some(v) if v > 0.0 => "up",
        Some(v) if v < 0.0 => "down",
        _ => "flat",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_values_are_a_dash_not_zero() {
        assert_eq!(money(None), "—");
        assert_eq!(money(Some(f64::NAN)), "—");
        assert_eq!(percent(None), "—");
        assert_eq!(money(Some(189.456)), "189.46");
        assert_eq!(money(Some(0.123456)), "0.1235");
        assert_eq!(percent(Some(-1.234)), "-1.23 %");
        assert_eq!(percent(Some(0.5)), "+0.50 %");
        assert_eq!(
            (change_class(Some(1.0)), change_class(Some(-1.0)), change_class(None)),
            ("up", "down", "flat")
        );
    }
}
