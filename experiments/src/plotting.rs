//! Line and point charts with confidence bands, written as PNG and SVG with plotters.
//!
//! Text is rendered with ab_glyph from the DejaVu Sans font embedded in the binary (the
//! `dejavu` crate), so plots work on a machine without any system fonts.

use std::path::{Path, PathBuf};
use std::sync::Once;

use anyhow::{anyhow, Context, Result};
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::{register_font, FontStyle};

const SIZE: (u32, u32) = (960, 600);

/// Ten distinguishable colors (matplotlib's tab10).
const COLORS: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// How a series is drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    /// A line with a shaded band.
    Line,
    /// Markers joined by a line, with error bars.
    Markers,
    /// Small hollow dots without a line or legend entry (e.g. per-seed values), in the colour
    /// of series `of`, just right of its x positions (beside its error bars).
    Points { of: usize },
}

/// One labelled series: points and an optional `(x, low, high)` band.
#[derive(Clone, Debug)]
pub struct Series {
    pub label: String,
    pub points: Vec<(f64, f64)>,
    pub band: Vec<(f64, f64, f64)>,
    pub style: Style,
}

/// Titles and axis descriptions of a chart.
pub struct Chart<'a> {
    pub title: &'a str,
    pub x_desc: &'a str,
    pub y_desc: &'a str,
    /// Formats x tick values; `None` prints numbers.
    pub x_format: Option<&'a dyn Fn(f64) -> String>,
    /// Draws a dashed horizontal reference line with this label.
    pub reference: Option<(f64, &'a str)>,
}

fn init_fonts() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The embedded font is valid TrueType; failure here would be a build defect.
        let _ = register_font("sans-serif", FontStyle::Normal, dejavu::sans::regular());
        let _ = register_font("sans-serif", FontStyle::Bold, dejavu::sans::bold());
    });
}

/// Draws `series` to `<stem>.png` and `<stem>.svg`, returning both paths.
pub fn draw_chart(stem: &Path, chart: &Chart, series: &[Series]) -> Result<[PathBuf; 2]> {
    init_fonts();
    // Append (not replace) extensions: stems like `final_vs_ppo.minibatch_size` hold dots.
    let name = stem.file_name().map(|n| n.to_string_lossy().into_owned());
    let name = name.unwrap_or_else(|| "chart".into());
    let png = stem.with_file_name(format!("{name}.png"));
    let svg = stem.with_file_name(format!("{name}.svg"));
    let png_tmp = temp_sibling(&png);
    let svg_tmp = temp_sibling(&svg);
    let written = (|| -> Result<()> {
        draw(
            BitMapBackend::new(&png_tmp, SIZE).into_drawing_area(),
            chart,
            series,
        )
        .map_err(|e| anyhow!("plot {}: {e}", png.display()))?;
        draw(
            SVGBackend::new(&svg_tmp, SIZE).into_drawing_area(),
            chart,
            series,
        )
        .map_err(|e| anyhow!("plot {}: {e}", svg.display()))?;
        std::fs::rename(&png_tmp, &png).with_context(|| format!("writing {}", png.display()))?;
        std::fs::rename(&svg_tmp, &svg).with_context(|| format!("writing {}", svg.display()))
    })();
    if written.is_err() {
        // A failed plot (a full disk, say) leaves no partial temp file behind.
        let _ = std::fs::remove_file(&png_tmp);
        let _ = std::fs::remove_file(&svg_tmp);
    }
    written?;
    Ok([png, svg])
}

/// Where the image is written before it is renamed into place (the run directory's rule).
fn temp_sibling(path: &Path) -> PathBuf {
    carrot_agents::run_dir::temp_sibling(path)
}

fn bounds(series: &[Series], reference: Option<f64>) -> ((f64, f64), (f64, f64)) {
    let mut xs = (f64::INFINITY, f64::NEG_INFINITY);
    let mut ys = (f64::INFINITY, f64::NEG_INFINITY);
    let mut grow = |x: f64, y: f64| {
        if x.is_finite() && y.is_finite() {
            xs = (xs.0.min(x), xs.1.max(x));
            ys = (ys.0.min(y), ys.1.max(y));
        }
    };
    for s in series {
        s.points.iter().for_each(|&(x, y)| grow(x, y));
        s.band.iter().for_each(|&(x, lo, hi)| {
            grow(x, lo);
            grow(x, hi);
        });
    }
    if let Some(y) = reference.filter(|y| y.is_finite()) {
        ys = (ys.0.min(y), ys.1.max(y));
    }
    if !xs.0.is_finite() {
        return ((0.0, 1.0), (0.0, 1.0));
    }
    let pad = |(lo, hi): (f64, f64), frac: f64| {
        let span = if hi > lo { hi - lo } else { lo.abs().max(1.0) };
        (lo - frac * span, hi + frac * span)
    };
    (pad(xs, 0.03), pad(ys, 0.08))
}

/// The chart's drawing context: f64 data coordinates on both axes.
type Plot<'a, DB> = ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>;
type DrawResult<DB> = Result<(), DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

fn draw<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    chart: &Chart,
    series: &[Series],
) -> DrawResult<DB> {
    root.fill(&WHITE)?;
    let ((x0, x1), (y0, y1)) = bounds(series, chart.reference.map(|r| r.0));
    let mut ctx = ChartBuilder::on(&root)
        .caption(chart.title, ("sans-serif", 24).into_font())
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(72)
        .build_cartesian_2d(x0..x1, y0..y1)?;
    draw_mesh(&mut ctx, chart)?;
    if let Some((y, label)) = chart.reference {
        draw_reference(&mut ctx, (x0, x1), y, label)?;
    }
    for (i, s) in series.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        match s.style {
            Style::Line => draw_line(&mut ctx, s, color)?,
            Style::Points { of } => {
                let dodge = marker_dodge(series, of, x1 - x0) + 0.005 * (x1 - x0);
                draw_points(&mut ctx, s, COLORS[of % COLORS.len()], dodge)?;
            }
            Style::Markers => {
                let dodge = marker_dodge(series, i, x1 - x0);
                draw_markers(&mut ctx, s, color, dodge)?;
            }
        }
    }
    ctx.configure_series_labels()
        .position(emptiest_corner(series, (x0, x1), (y0, y1)))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.4))
        .label_font(("sans-serif", 15))
        .draw()?;
    root.present()
}

/// Axes, tick labels and axis descriptions.
fn draw_mesh<DB: DrawingBackend>(ctx: &mut Plot<'_, DB>, chart: &Chart) -> DrawResult<DB> {
    let default_format = |x: &f64| format_number(*x);
    let custom_format;
    let x_format: &dyn Fn(&f64) -> String = match chart.x_format {
        Some(f) => {
            custom_format = move |x: &f64| f(*x);
            &custom_format
        }
        None => &default_format,
    };
    let y_format = |y: &f64| format_number(*y);
    ctx.configure_mesh()
        .x_desc(chart.x_desc)
        .y_desc(chart.y_desc)
        .x_label_formatter(x_format)
        .y_label_formatter(&y_format)
        .label_style(("sans-serif", 15))
        .axis_desc_style(("sans-serif", 17))
        .light_line_style(WHITE.mix(0.0))
        .draw()
}

/// A dashed horizontal line at `y` across `xs`, with a legend entry.
fn draw_reference<DB: DrawingBackend>(
    ctx: &mut Plot<'_, DB>,
    (x0, x1): (f64, f64),
    y: f64,
    label: &str,
) -> DrawResult<DB> {
    let dashes = (0..80).map(|i| {
        let a = x0 + (x1 - x0) * i as f64 / 80.0;
        let b = x0 + (x1 - x0) * (i as f64 + 0.5) / 80.0;
        PathElement::new(vec![(a, y), (b, y)], BLACK.stroke_width(2))
    });
    ctx.draw_series(dashes)?
        .label(label)
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLACK.stroke_width(2)));
    Ok(())
}

/// [`Style::Line`]: the shaded band, then the line.
fn draw_line<DB: DrawingBackend>(
    ctx: &mut Plot<'_, DB>,
    s: &Series,
    color: RGBColor,
) -> DrawResult<DB> {
    if !s.band.is_empty() {
        let mut outline: Vec<(f64, f64)> = s.band.iter().map(|&(x, _, hi)| (x, hi)).collect();
        outline.extend(s.band.iter().rev().map(|&(x, lo, _)| (x, lo)));
        ctx.draw_series(std::iter::once(Polygon::new(outline, color.mix(0.2))))?;
    }
    ctx.draw_series(LineSeries::new(
        s.points.iter().copied(),
        color.stroke_width(2),
    ))?
    .label(&s.label)
    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(3)));
    Ok(())
}

/// [`Style::Points`]: hollow dots shifted right by `dodge`, without a legend entry.
fn draw_points<DB: DrawingBackend>(
    ctx: &mut Plot<'_, DB>,
    s: &Series,
    color: RGBColor,
    dodge: f64,
) -> DrawResult<DB> {
    ctx.draw_series(
        s.points
            .iter()
            .map(|&(x, y)| Circle::new((x + dodge, y), 3, color.stroke_width(1))),
    )?;
    Ok(())
}

/// [`Style::Markers`]: error bars, a joining line and filled markers, all shifted by `dodge`.
fn draw_markers<DB: DrawingBackend>(
    ctx: &mut Plot<'_, DB>,
    s: &Series,
    color: RGBColor,
    dodge: f64,
) -> DrawResult<DB> {
    let points: Vec<(f64, f64)> = s.points.iter().map(|&(x, y)| (x + dodge, y)).collect();
    let bars = s.band.iter().map(|&(x, lo, hi)| {
        PathElement::new(
            vec![(x + dodge, lo), (x + dodge, hi)],
            color.stroke_width(2),
        )
    });
    ctx.draw_series(bars)?;
    ctx.draw_series(LineSeries::new(
        points.iter().copied(),
        color.stroke_width(2),
    ))?;
    ctx.draw_series(
        points
            .iter()
            .map(|&(x, y)| Circle::new((x, y), 5, color.filled())),
    )?
    .label(&s.label)
    .legend(move |(x, y)| Circle::new((x + 10, y), 5, color.filled()));
    Ok(())
}

/// The x offset of the `Markers` series at `index`: series sharing x positions are spread apart
/// a little so that their bars stay visible.
fn marker_dodge(series: &[Series], index: usize, x_span: f64) -> f64 {
    let markers = series.iter().filter(|s| s.style == Style::Markers).count();
    let rank = series[..index.min(series.len())]
        .iter()
        .filter(|s| s.style == Style::Markers)
        .count();
    (rank as f64 - (markers as f64 - 1.0) / 2.0) * 0.012 * x_span
}

/// The legend goes into the corner quadrant holding the fewest data points.
fn emptiest_corner(series: &[Series], xs: (f64, f64), ys: (f64, f64)) -> SeriesLabelPosition {
    let mut counts = [0usize; 4]; // upper-left, upper-right, lower-left, lower-right
    let all = series.iter().flat_map(|s| {
        s.points
            .iter()
            .copied()
            .chain(s.band.iter().flat_map(|&(x, lo, hi)| [(x, lo), (x, hi)]))
    });
    for (x, y) in all {
        let right = x > (xs.0 + xs.1) / 2.0;
        let lower = y < (ys.0 + ys.1) / 2.0;
        counts[usize::from(lower) * 2 + usize::from(right)] += 1;
    }
    let best = (0..4)
        .min_by_key(|&i| (counts[i], [1, 0, 3, 2][i]))
        .unwrap_or(3);
    [
        SeriesLabelPosition::UpperLeft,
        SeriesLabelPosition::UpperRight,
        SeriesLabelPosition::LowerLeft,
        SeriesLabelPosition::LowerRight,
    ][best]
        .clone()
}

/// Compact tick labels: `4096`, `20k`, `1.5M`, `0.500`, `2.5e-4`.
pub fn format_number(x: f64) -> String {
    let trimmed = |v: f64, decimals: usize| {
        let s = format!("{v:.decimals$}");
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        }
    };
    let a = x.abs();
    if a == 0.0 {
        "0".into()
    } else if a >= 1e6 {
        format!("{}M", trimmed(x / 1e6, 3))
    } else if a >= 1e4 {
        format!("{}k", trimmed(x / 1e3, 1))
    } else if a >= 1.0 {
        trimmed(x, 2)
    } else if a >= 1e-2 {
        format!("{x:.3}")
    } else {
        format!("{x:.1e}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charts_are_written_as_png_and_svg_with_text() {
        let dir = tempfile::tempdir().unwrap();
        let series = vec![
            Series {
                label: "group a".into(),
                points: (0..20)
                    .map(|i| (i as f64 * 100.0, (i * i) as f64))
                    .collect(),
                band: (0..20)
                    .map(|i| (i as f64 * 100.0, (i * i) as f64 - 5.0, (i * i) as f64 + 5.0))
                    .collect(),
                style: Style::Line,
            },
            Series {
                label: "group b".into(),
                points: vec![(0.0, 10.0), (1000.0, 50.0)],
                band: vec![(0.0, 5.0, 15.0), (1000.0, 40.0, 60.0)],
                style: Style::Markers,
            },
            Series {
                label: String::new(),
                points: vec![(0.0, 8.0), (0.0, 12.0), (1000.0, 45.0)],
                band: Vec::new(),
                style: Style::Points { of: 1 },
            },
        ];
        let chart = Chart {
            title: "Learning curve",
            x_desc: "environment steps",
            y_desc: "episodic return",
            x_format: None,
            reference: Some((300.0, "expert")),
        };
        let [png, svg] = draw_chart(&dir.path().join("curve"), &chart, &series).unwrap();
        assert!(std::fs::metadata(&png).unwrap().len() > 10_000);
        let svg_text = std::fs::read_to_string(svg).unwrap();
        assert!(svg_text.contains("Learning curve") && svg_text.contains("group b"));
    }

    #[test]
    fn numbers_format_compactly() {
        assert_eq!(format_number(4096.0), "4096");
        assert_eq!(format_number(20000.0), "20k");
        assert_eq!(format_number(1_500_000.0), "1.5M");
        assert_eq!(format_number(0.5), "0.500");
        assert_eq!(format_number(0.00025), "2.5e-4");
    }
}
