//! Line plots as SVG files: labelled axes with units, a legend, and log
//! scales where values span orders of magnitude.

use std::path::Path;

use plotters::prelude::*;

use super::Plot;

/// The range of the values on one axis, widened a little for margins; on
/// a log axis only positive values count.
fn bounds(values: impl Iterator<Item = f64>, log: bool) -> (f64, f64) {
    let (lo, hi) = values
        .filter(|v| v.is_finite() && (!log || *v > 0.0))
        .fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if lo > hi {
        return (if log { 1.0 } else { 0.0 }, 1.0);
    }
    if log {
        // Whole decades, so the labelled ticks are powers of ten.
        (
            10f64.powf(lo.log10().floor()),
            10f64.powf(hi.log10().ceil().max(lo.log10().floor() + 1.0)),
        )
    } else {
        let pad = ((hi - lo) * 0.05).max(hi.abs() * 0.05).max(1e-9);
        (if lo >= 0.0 { 0.0 } else { lo - pad }, hi + pad)
    }
}

/// Colours that read on white (the tab10 palette).
const PALETTE: [(u8, u8, u8); 8] = [
    (0x1f, 0x77, 0xb4),
    (0xd6, 0x27, 0x28),
    (0x2c, 0xa0, 0x2c),
    (0xff, 0x7f, 0x0e),
    (0x94, 0x67, 0xbd),
    (0x8c, 0x56, 0x4b),
    (0xe3, 0x77, 0xc2),
    (0x7f, 0x7f, 0x7f),
];

/// The upper corner with fewer points under it, for the legend.
fn emptier_upper_corner(plot: &Plot, x: (f64, f64), y: (f64, f64)) -> SeriesLabelPosition {
    let norm = |v: f64, (lo, hi): (f64, f64), log: bool| {
        if log {
            (v.max(lo).ln() - lo.ln()) / (hi.ln() - lo.ln())
        } else {
            (v - lo) / (hi - lo)
        }
    };
    let (mut left, mut right) = (0, 0);
    for &(px, py) in plot.series.iter().flat_map(|s| &s.points) {
        if norm(py, y, plot.log_y) > 0.5 {
            if norm(px, x, plot.log_x) < 0.5 {
                left += 1;
            } else {
                right += 1;
            }
        }
    }
    if left <= right {
        SeriesLabelPosition::UpperLeft
    } else {
        SeriesLabelPosition::UpperRight
    }
}

/// A tick label: on a log axis only powers of ten are labelled (the other
/// ticks are grid lines); numbers are short (`1k`, `2.5M`, `0.001`).
fn tick(v: f64, log: bool) -> String {
    if log && (v.log10() - v.log10().round()).abs() > 1e-9 {
        return String::new();
    }
    let a = v.abs();
    let (scaled, suffix) = if a >= 1e9 {
        (v / 1e9, "G")
    } else if a >= 1e6 {
        (v / 1e6, "M")
    } else if a >= 1e4 {
        (v / 1e3, "k")
    } else {
        (v, "")
    };
    // Up to three significant digits, no trailing zeros.
    let text = format!("{scaled:.3}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    let text = if scaled != 0.0 && scaled.abs() < 0.001 {
        format!("{scaled:.0e}")
    } else {
        text.to_string()
    };
    format!("{text}{suffix}")
}

fn io_error(e: impl std::fmt::Display) -> std::io::Error {
    std::io::Error::other(e.to_string())
}

/// Draws `plot` into `path`: lines over a numeric x axis, or grouped bars
/// over named categories.
pub(crate) fn svg(plot: &Plot, path: &Path) -> std::io::Result<()> {
    if plot.categories.is_empty() {
        lines(plot, path)
    } else {
        bars(plot, path)
    }
}

/// The frame both kinds of plot share: title, margins, axis label areas.
fn chart_builder<'a, 'b>(
    root: &'a DrawingArea<SVGBackend<'b>, plotters::coord::Shift>,
    title: &'a str,
) -> ChartBuilder<'a, 'b, SVGBackend<'b>> {
    let mut builder = ChartBuilder::on(root);
    builder
        .caption(title, ("sans-serif", 24))
        .margin(20)
        .x_label_area_size(55)
        .y_label_area_size(85);
    builder
}

/// The color of the `i`-th series.
fn series_color(i: usize) -> RGBAColor {
    let (r, g, b) = PALETTE[i % PALETTE.len()];
    RGBColor(r, g, b).to_rgba()
}

fn lines(plot: &Plot, path: &Path) -> std::io::Result<()> {
    let xs = || {
        plot.series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.0))
    };
    let ys = || {
        plot.series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.1))
    };
    let (x0, x1) = bounds(xs(), plot.log_x);
    let (y0, y1) = bounds(ys(), plot.log_y);
    let legend = emptier_upper_corner(plot, (x0, x1), (y0, y1));
    let root = SVGBackend::new(path, (900, 540)).into_drawing_area();
    root.fill(&WHITE).map_err(io_error)?;
    let mut builder = chart_builder(&root, &plot.title);
    // One body for the four axis kinds.
    macro_rules! draw {
        ($x:expr, $y:expr) => {{
            let mut chart = builder.build_cartesian_2d($x, $y).map_err(io_error)?;
            chart
                .configure_mesh()
                .x_desc(plot.x_label.as_str())
                .y_desc(plot.y_label.as_str())
                .x_label_formatter(&|v| tick(*v, plot.log_x))
                .y_label_formatter(&|v| tick(*v, plot.log_y))
                .x_labels(12)
                .y_labels(10)
                .label_style(("sans-serif", 16))
                .axis_desc_style(("sans-serif", 18))
                .draw()
                .map_err(io_error)?;
            for (i, series) in plot.series.iter().enumerate() {
                let color = series_color(i);
                let points: Vec<(f64, f64)> = series
                    .points
                    .iter()
                    .copied()
                    .filter(|&(x, y)| (!plot.log_x || x > 0.0) && (!plot.log_y || y > 0.0))
                    .collect();
                chart
                    .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))
                    .map_err(io_error)?
                    .label(series.name.as_str())
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 24, y)], color.stroke_width(3))
                    });
                chart
                    .draw_series(
                        points
                            .into_iter()
                            .map(|p| Circle::new(p, 3, color.filled())),
                    )
                    .map_err(io_error)?;
            }
            chart
                .configure_series_labels()
                .label_font(("sans-serif", 16))
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK)
                .position(legend)
                .draw()
                .map_err(io_error)?;
        }};
    }
    match (plot.log_x, plot.log_y) {
        (true, true) => draw!((x0..x1).log_scale(), (y0..y1).log_scale()),
        (true, false) => draw!((x0..x1).log_scale(), y0..y1),
        (false, true) => draw!(x0..x1, (y0..y1).log_scale()),
        (false, false) => draw!(x0..x1, y0..y1),
    }
    root.present().map_err(io_error)
}

/// Grouped bars: category `i` (x = i + 1) holds one bar per series, from
/// the bottom of the axis to the value, side by side.
fn bars(plot: &Plot, path: &Path) -> std::io::Result<()> {
    let n = plot.categories.len();
    let ys = plot
        .series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1));
    let (y0, y1) = bounds(ys, plot.log_y);
    // Bars grow from the axis: start it a decade below the smallest value
    // (log) or at zero (linear), so the smallest bar is still visible.
    let y0 = if plot.log_y { y0 / 10.0 } else { y0.min(0.0) };
    let width = (160 + 95 * n as u32).max(900);
    let root = SVGBackend::new(path, (width, 560)).into_drawing_area();
    root.fill(&WHITE).map_err(io_error)?;
    let mut builder = chart_builder(&root, &plot.title);
    let name = |v: &f64| {
        let i = v.round();
        if (v - i).abs() < 1e-6 && i >= 1.0 {
            plot.categories
                .get(i as usize - 1)
                .cloned()
                .unwrap_or_default()
        } else {
            String::new()
        }
    };
    let groups = plot.series.len().max(1) as f64;
    let bar = 0.8 / groups;
    macro_rules! draw {
        ($y:expr) => {{
            let mut chart = builder
                .build_cartesian_2d(0.5..n as f64 + 0.5, $y)
                .map_err(io_error)?;
            chart
                .configure_mesh()
                .disable_x_mesh()
                .x_desc(plot.x_label.as_str())
                .y_desc(plot.y_label.as_str())
                .x_labels(n)
                .x_label_formatter(&name)
                .y_label_formatter(&|v| tick(*v, plot.log_y))
                .y_labels(10)
                .label_style(("sans-serif", 14))
                .axis_desc_style(("sans-serif", 18))
                .draw()
                .map_err(io_error)?;
            for (i, series) in plot.series.iter().enumerate() {
                let color = series_color(i);
                let rects: Vec<_> = series
                    .points
                    .iter()
                    .filter(|&&(_, y)| !plot.log_y || y > 0.0)
                    .map(|&(x, y)| {
                        let left = x - 0.4 + bar * i as f64;
                        Rectangle::new([(left, y0), (left + bar, y)], color.filled())
                    })
                    .collect();
                chart
                    .draw_series(rects)
                    .map_err(io_error)?
                    .label(series.name.as_str())
                    .legend(move |(x, y)| {
                        Rectangle::new([(x, y - 6), (x + 18, y + 6)], color.filled())
                    });
            }
            chart
                .configure_series_labels()
                .label_font(("sans-serif", 16))
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK)
                .position(SeriesLabelPosition::UpperRight)
                .draw()
                .map_err(io_error)?;
        }};
    }
    if plot.log_y {
        draw!((y0..y1).log_scale());
    } else {
        draw!(y0..y1);
    }
    root.present().map_err(io_error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_short_and_log_axes_label_only_decades() {
        assert_eq!(tick(1_000_000.0, true), "1M");
        assert_eq!(tick(20_000.0, false), "20k");
        assert_eq!(tick(0.7000000001, false), "0.7");
        assert_eq!(tick(3000.0, true), "");
        assert_eq!(tick(0.001, true), "0.001");
        assert_eq!(tick(0.0001, true), "1e-4");
    }
}
