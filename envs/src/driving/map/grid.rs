//! Uniform grids over the map: one over lane segments (each cell lists the segments whose
//! widened bounding box touches it, so point queries check a handful of segments instead of
//! the whole map) and one over stop lines.

use super::{LaneHit, LaneInfo, LaneVertex, StopLine};
use crate::driving::geometry::{cross, point_segment, V2};

const CELL: f32 = 8.0;
/// Extra width stored around each lane strip so queries with a small margin stay exact, and
/// around each stop line.
const STORED_MARGIN: f32 = 1.0;

/// Items listed in the cells of a uniform grid that their boxes touch.
#[derive(Clone, Debug, Default)]
struct CellGrid<T> {
    origin: V2,
    nx: usize,
    ny: usize,
    /// Cell `i` holds `entries[starts[i]..starts[i + 1]]`.
    starts: Vec<u32>,
    entries: Vec<T>,
}

impl<T: Copy> CellGrid<T> {
    /// A grid covering `min..max` (and a cell more around), each item listed in every cell
    /// its box `(lo, hi)` touches, in the order given.
    fn build(min: V2, max: V2, boxes: impl IntoIterator<Item = (V2, V2, T)>) -> Self {
        let origin = min - V2::splat(CELL);
        let nx = (((max.x - origin.x) / CELL).ceil() as usize + 2).max(1);
        let ny = (((max.y - origin.y) / CELL).ceil() as usize + 2).max(1);
        let mut cells: Vec<Vec<T>> = vec![Vec::new(); nx * ny];
        for (lo, hi, item) in boxes {
            let (x0, y0) = cell_of(origin, nx, ny, lo);
            let (x1, y1) = cell_of(origin, nx, ny, hi);
            for y in y0..=y1 {
                for x in x0..=x1 {
                    cells[y * nx + x].push(item);
                }
            }
        }
        let (starts, entries) = flatten_cells(cells);
        CellGrid {
            origin,
            nx,
            ny,
            starts,
            entries,
        }
    }

    fn cell(&self, x: usize, y: usize) -> &[T] {
        let i = y * self.nx + x;
        &self.entries[self.starts[i] as usize..self.starts[i + 1] as usize]
    }

    /// The items of the cell holding `p` (none outside the grid).
    fn at(&self, p: V2) -> &[T] {
        let x = ((p.x - self.origin.x) / CELL).floor();
        let y = ((p.y - self.origin.y) / CELL).floor();
        if !(x >= 0.0 && y >= 0.0 && (x as usize) < self.nx && (y as usize) < self.ny) {
            return &[];
        }
        self.cell(x as usize, y as usize)
    }

    /// Does `test` hold for an item of a cell that box `(lo, hi)` touches? Every item whose
    /// box meets that box is tried (some more than once).
    fn any_in_box(&self, lo: V2, hi: V2, mut test: impl FnMut(T) -> bool) -> bool {
        let (x0, y0) = cell_of(self.origin, self.nx, self.ny, lo);
        let (x1, y1) = cell_of(self.origin, self.nx, self.ny, hi);
        (y0..=y1).any(|y| (x0..=x1).any(|x| self.cell(x, y).iter().any(|&item| test(item))))
    }
}

/// Lane segments by cell, as `(lane, first vertex)` pairs: the segment from that vertex of the
/// map's vertex table to the next.
#[derive(Clone, Debug, Default)]
pub struct LaneGrid {
    cells: CellGrid<(u32, u32)>,
}

impl LaneGrid {
    /// The grid over the lanes of the map's packed tables (`info`, `vertices`).
    pub fn build(info: &[LaneInfo], vertices: &[LaneVertex], min: V2, max: V2) -> Self {
        let boxes = info.iter().enumerate().flat_map(|(li, lane)| {
            let pad = V2::splat(lane.width * 0.5 + STORED_MARGIN);
            let first = lane.first_vertex();
            let line = lane.line(vertices).vertices();
            line.windows(2).enumerate().map(move |(seg, w)| {
                let (a, b) = (w[0].p, w[1].p);
                (
                    a.min(b) - pad,
                    a.max(b) + pad,
                    (li as u32, (first + seg) as u32),
                )
            })
        });
        LaneGrid {
            cells: CellGrid::build(min, max, boxes),
        }
    }

    fn cell_entries(&self, p: V2) -> &[(u32, u32)] {
        self.cells.at(p)
    }

    /// Every lane whose strip (half width + `margin`, at most 1 m) contains `p`, with the
    /// closest point on that lane.
    pub fn lanes_at(
        &self,
        info: &[LaneInfo],
        vertices: &[LaneVertex],
        p: V2,
        margin: f32,
        out: &mut Vec<LaneHit>,
    ) {
        out.clear();
        for &(li, v) in self.cell_entries(p) {
            let (va, vb) = (vertices[v as usize], vertices[v as usize + 1]);
            let (a, b) = (va.p, vb.p);
            let (d, t) = point_segment(p, a, b);
            if d > info[li as usize].width * 0.5 + margin {
                continue;
            }
            let s = va.s + t * (b - a).length();
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

    pub fn any_lane_at(
        &self,
        info: &[LaneInfo],
        vertices: &[LaneVertex],
        p: V2,
        margin: f32,
    ) -> bool {
        self.cell_entries(p).iter().any(|&(li, v)| {
            let (a, b) = (vertices[v as usize].p, vertices[v as usize + 1].p);
            point_segment(p, a, b).0 <= info[li as usize].width * 0.5 + margin
        })
    }
}

/// Stop lines by cell (indices into the map's stop lines), each listed where its box widened
/// by `STORED_MARGIN` lies: a crossing test then reads the lines near one step's path instead
/// of every line of the map.
#[derive(Clone, Debug, Default)]
pub struct StopLineGrid {
    cells: CellGrid<u32>,
}

impl StopLineGrid {
    pub fn build(lines: &[StopLine], min: V2, max: V2) -> Self {
        let margin = V2::splat(STORED_MARGIN);
        let boxes = lines
            .iter()
            .enumerate()
            .map(|(i, l)| (l.a.min(l.b) - margin, l.a.max(l.b) + margin, i as u32));
        StopLineGrid {
            cells: CellGrid::build(min, max, boxes),
        }
    }

    /// Does `test` hold for some line whose widened box touches a cell of segment `a-b`'s box?
    /// Every line that segment crosses is among those tried (some more than once).
    pub fn any_near(&self, a: V2, b: V2, mut test: impl FnMut(usize) -> bool) -> bool {
        self.cells
            .any_in_box(a.min(b), a.max(b), |line| test(line as usize))
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
