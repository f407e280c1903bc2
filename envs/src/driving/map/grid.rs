//! A uniform grid over lane segments: each cell lists the segments whose widened bounding box
//! touches it, so point queries check a handful of segments instead of the whole map.

use super::{Lane, LaneHit, StopLine};
use crate::driving::geometry::{cross, point_segment, V2};

const CELL: f32 = 8.0;
/// Extra width stored around each lane strip so queries with a small margin stay exact.
const STORED_MARGIN: f32 = 1.0;

#[derive(Clone, Debug, Default)]
pub struct LaneGrid {
    origin: V2,
    nx: usize,
    ny: usize,
    /// Cell `i` holds `entries[starts[i]..starts[i + 1]]`, each a `(lane, segment)` pair.
    starts: Vec<u32>,
    entries: Vec<(u32, u32)>,
}

impl LaneGrid {
    pub fn build(lanes: &[Lane], min: V2, max: V2) -> Self {
        let origin = min - V2::splat(CELL);
        let nx = (((max.x - origin.x) / CELL).ceil() as usize + 2).max(1);
        let ny = (((max.y - origin.y) / CELL).ceil() as usize + 2).max(1);
        let mut cells: Vec<Vec<(u32, u32)>> = vec![Vec::new(); nx * ny];
        for (li, lane) in lanes.iter().enumerate() {
            let pad = lane.width * 0.5 + STORED_MARGIN;
            for seg in 0..lane.centre.num_segments() {
                let (a, b) = (lane.centre.pts[seg], lane.centre.pts[seg + 1]);
                let lo = a.min(b) - V2::splat(pad);
                let hi = a.max(b) + V2::splat(pad);
                let (x0, y0) = cell_of(origin, nx, ny, lo);
                let (x1, y1) = cell_of(origin, nx, ny, hi);
                for y in y0..=y1 {
                    for x in x0..=x1 {
                        cells[y * nx + x].push((li as u32, seg as u32));
                    }
                }
            }
        }
        let (starts, entries) = flatten_cells(cells);
        LaneGrid {
            origin,
            nx,
            ny,
            starts,
            entries,
        }
    }

    fn cell_entries(&self, p: V2) -> &[(u32, u32)] {
        let x = ((p.x - self.origin.x) / CELL).floor();
        let y = ((p.y - self.origin.y) / CELL).floor();
        if !(x >= 0.0 && y >= 0.0 && (x as usize) < self.nx && (y as usize) < self.ny) {
            return &[];
        }
        let i = y as usize * self.nx + x as usize;
        &self.entries[self.starts[i] as usize..self.starts[i + 1] as usize]
    }

    /// Every lane whose strip (half width + `margin`, at most 1 m) contains `p`, with the
    /// closest point on that lane.
    pub fn lanes_at(&self, lanes: &[Lane], p: V2, margin: f32, out: &mut Vec<LaneHit>) {
        out.clear();
        for &(li, seg) in self.cell_entries(p) {
            let lane = &lanes[li as usize];
            let (a, b) = (
                lane.centre.pts[seg as usize],
                lane.centre.pts[seg as usize + 1],
            );
            let (d, t) = point_segment(p, a, b);
            if d > lane.width * 0.5 + margin {
                continue;
            }
            let s = lane.centre.s[seg as usize] + t * (b - a).length();
            let lateral = if cross(b - a, p - a) >= 0.0 { d } else { -d };
            match out.iter_mut().find(|h| h.lane == li as usize) {
                Some(h) if h.lateral.abs() > d => {
                    h.s = s;
                    h.lateral = lateral;
                }
                Some(_) => {}
                None => out.push(LaneHit {
                    lane: li as usize,
                    s,
                    lateral,
                }),
            }
        }
    }

    pub fn any_lane_at(&self, lanes: &[Lane], p: V2, margin: f32) -> bool {
        self.cell_entries(p).iter().any(|&(li, seg)| {
            let lane = &lanes[li as usize];
            let (a, b) = (
                lane.centre.pts[seg as usize],
                lane.centre.pts[seg as usize + 1],
            );
            point_segment(p, a, b).0 <= lane.width * 0.5 + margin
        })
    }
}

/// A uniform grid over stop lines: each cell lists the lines whose box, widened by
/// `STORED_MARGIN`, touches it. A crossing test then reads the lines near one step's path
/// instead of every line of the map.
#[derive(Clone, Debug, Default)]
pub struct StopLineGrid {
    origin: V2,
    nx: usize,
    ny: usize,
    /// Cell `i` holds `entries[starts[i]..starts[i + 1]]`, indices into the map's stop lines.
    starts: Vec<u32>,
    entries: Vec<u32>,
}

impl StopLineGrid {
    pub fn build(lines: &[StopLine], min: V2, max: V2) -> Self {
        let origin = min - V2::splat(CELL);
        let nx = (((max.x - origin.x) / CELL).ceil() as usize + 2).max(1);
        let ny = (((max.y - origin.y) / CELL).ceil() as usize + 2).max(1);
        let mut cells: Vec<Vec<u32>> = vec![Vec::new(); nx * ny];
        for (i, line) in lines.iter().enumerate() {
            let (x0, y0) = cell_of(
                origin,
                nx,
                ny,
                line.a.min(line.b) - V2::splat(STORED_MARGIN),
            );
            let (x1, y1) = cell_of(
                origin,
                nx,
                ny,
                line.a.max(line.b) + V2::splat(STORED_MARGIN),
            );
            for y in y0..=y1 {
                for x in x0..=x1 {
                    cells[y * nx + x].push(i as u32);
                }
            }
        }
        let (starts, entries) = flatten_cells(cells);
        StopLineGrid {
            origin,
            nx,
            ny,
            starts,
            entries,
        }
    }

    /// Does `test` hold for some line whose box comes within `STORED_MARGIN` of the box of
    /// segment `a-b`? Every line that segment crosses is among those tried (some more than
    /// once).
    pub fn any_near(&self, a: V2, b: V2, mut test: impl FnMut(usize) -> bool) -> bool {
        let (x0, y0) = cell_of(self.origin, self.nx, self.ny, a.min(b));
        let (x1, y1) = cell_of(self.origin, self.nx, self.ny, a.max(b));
        (y0..=y1).any(|y| {
            (x0..=x1).any(|x| {
                let i = y * self.nx + x;
                self.entries[self.starts[i] as usize..self.starts[i + 1] as usize]
                    .iter()
                    .any(|&line| test(line as usize))
            })
        })
    }
}

fn cell_of(origin: V2, nx: usize, ny: usize, p: V2) -> (usize, usize) {
    let x = ((p.x - origin.x) / CELL).floor().max(0.0) as usize;
    let y = ((p.y - origin.y) / CELL).floor().max(0.0) as usize;
    (x.min(nx - 1), y.min(ny - 1))
}

/// Per-cell lists as one flat array plus the start of each cell's run (`starts[c]..starts[c + 1]`,
/// one more start than cells): the compact form of a uniform grid's buckets.
pub(crate) fn flatten_cells<T>(cells: Vec<Vec<T>>) -> (Vec<u32>, Vec<T>) {
    let mut starts = Vec::with_capacity(cells.len() + 1);
    let mut entries = Vec::with_capacity(cells.iter().map(Vec::len).sum());
    for cell in cells {
        starts.push(entries.len() as u32);
        entries.extend(cell);
    }
    starts.push(entries.len() as u32);
    (starts, entries)
}

#[cfg(test)]
mod tests {
    use rand::RngExt;

    use crate::driving::geometry::{segments_intersect, V2};
    use crate::driving::map::{generate, MapFamily};
    use crate::env_rng;

    /// The grid finds a crossed stop line exactly when a scan of every line does: random
    /// steps of up to 6 m over town maps, and steps that end on, start on or pass through a
    /// line (its ends included).
    #[test]
    fn stop_line_grid_finds_every_crossed_line() {
        let mut crossings = 0;
        for seed in 0..4 {
            let map = generate(MapFamily::Town, &mut env_rng(seed));
            let lines = &map.stop_lines;
            assert!(lines.len() > 8, "a town has signalized lanes");
            let mut rng = env_rng(100 + seed);
            let mut steps: Vec<(V2, V2)> = (0..20_000)
                .map(|_| {
                    let from = V2::new(
                        rng.random_range(map.min.x..map.max.x),
                        rng.random_range(map.min.y..map.max.y),
                    );
                    let step = V2::new(rng.random_range(-6.0..6.0), rng.random_range(-6.0..6.0));
                    (from, from + step)
                })
                .collect();
            for l in lines {
                let across = l.dir * 2.0;
                for p in [l.a, l.b, (l.a + l.b) * 0.5] {
                    steps.extend([(p - across, p), (p, p + across), (p - across, p + across)]);
                }
            }
            for (from, to) in steps {
                let crosses = |i: usize| segments_intersect(from, to, lines[i].a, lines[i].b);
                let scanned = (0..lines.len()).any(crosses);
                assert_eq!(
                    map.stop_line_grid.any_near(from, to, crosses),
                    scanned,
                    "step {from:?} -> {to:?}, map seed {seed}"
                );
                crossings += scanned as usize;
            }
        }
        assert!(crossings > 100, "only {crossings} steps crossed a line");
    }
}
