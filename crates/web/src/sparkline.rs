//! A small inline SVG line of recent closes, for table rows.

use std::fmt::Write as _;

const WIDTH: f64 = 120.0;
const HEIGHT: f64 = 32.0;
const PAD: f64 = 2.0;

/// An SVG polyline of `values` (oldest first), scaled to its own range; coloured by whether the
/// last value is above the first. `None` for fewer than two finite values: a flat line would
/// claim a movement nobody measured.
pub fn sparkline_svg(values: &[f64]) -> Option<String> {
    let values: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    let (first, last) = (*values.first()?, *values.last()?);
    if values.len() < 2 {
        return None;
    }
    let (low, high) =
        values.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(*v), hi.max(*v)));
    let span = if high > low { high - low } else { 1.0 };
    let step = (WIDTH - 2.0 * PAD) / (values.len() - 1) as f64;
    let mut points = String::with_capacity(values.len() * 12);
    for (index, value) in values.iter().enumerate() {
        let x = PAD + index as f64 * step;
        let y = HEIGHT - PAD - (value - low) / span * (HEIGHT - 2.0 * PAD);
        let _ = write!(points, "{x:.1},{y:.1} ");
    }
    let class = if last >= first { "spark up" } else { "spark down" };
    Some(format!(
        r#"<svg class="{class}" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" role="img" aria-label="last {} closes"><polyline fill="none" stroke-width="1.5" points="{}"/></svg>"#,
        values.len(),
        points.trim_end()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_spans_the_box_and_says_its_direction() {
        let svg = sparkline_svg(&[1.0, 3.0, 2.0, 4.0]).unwrap();
        assert!(svg.contains("spark up"));
        assert!(svg.contains("points=\"2.0,30.0 "), "{svg}");
        assert!(svg.contains(" 118.0,2.0\""), "{svg}");
        assert!(sparkline_svg(&[4.0, 1.0]).unwrap().contains("spark down"));
        assert_eq!(sparkline_svg(&[1.0]), None);
        assert_eq!(sparkline_svg(&[1.0, f64::NAN]), None);
    }
}
