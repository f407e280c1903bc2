//! Lines through vertices with cumulative arc length: the queries ([`Line`]) over any storage
//! of the vertices, and [`Polyline`], a line that owns them. A map's lanes are lines over the
//! map's packed vertex table ([`crate::driving::map::LaneLine`]).

use super::{cross, point_segment_offset, V2};

/// Where a point projects onto a polyline.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Projection {
    /// Arc length of the closest point.
    pub s: f32,
    /// Index of the segment holding the closest point.
    pub seg: usize,
    /// Signed distance, positive to the left of the travel direction.
    pub lateral: f32,
    /// Unsigned distance.
    pub dist: f32,
}

/// A line through vertices `0..num_points()` with their cumulative arc lengths (non-decreasing,
/// the first 0), and the queries on it. Implementors give the three accessors; the queries
/// read nothing else, so every storage answers them bit for bit alike.
pub trait Line {
    fn num_points(&self) -> usize;
    /// Vertex `i`.
    fn point(&self, i: usize) -> V2;
    /// Arc length at vertex `i`.
    fn arc(&self, i: usize) -> f32;

    fn length(&self) -> f32 {
        match self.num_points() {
            0 => 0.0,
            n => self.arc(n - 1),
        }
    }

    fn num_segments(&self) -> usize {
        self.num_points().saturating_sub(1)
    }

    /// Segment index containing arc length `s` (clamped to the line).
    fn segment_at(&self, s: f32) -> usize {
        let n = self.num_segments();
        if n == 0 {
            return 0;
        }
        // The partition point of `x <= s` over the arc lengths (none hold for a NaN `s`).
        let (mut lo, mut hi) = (0, self.num_points());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.arc(mid) <= s {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo.saturating_sub(1).min(n - 1)
    }

    /// [`Line::segment_at`], found by walking from segment `hint` instead of a binary
    /// search: the same answer, sooner when `s` lies a few segments from the hint.
    fn segment_at_from(&self, hint: usize, s: f32) -> usize {
        let n = self.num_segments();
        if n == 0 {
            return 0;
        }
        // The partition point of `segment_at`'s predicate (a NaN `s` walks back to 0 as there).
        let at_or_before = |x: f32| x <= s;
        let len = self.num_points();
        let mut i = (hint + 1).min(len);
        while i < len && at_or_before(self.arc(i)) {
            i += 1;
        }
        while i > 0 && !at_or_before(self.arc(i - 1)) {
            i -= 1;
        }
        i.saturating_sub(1).min(n - 1)
    }

    /// Point at arc length `s`, clamped to the ends.
    fn point_at(&self, s: f32) -> V2 {
        match self.num_points() {
            0 => V2::ZERO,
            1 => self.point(0),
            _ => self.point_in_segment(self.segment_at(s), s),
        }
    }

    /// [`Line::point_at`] with the segment found from segment `hint`; also returns that
    /// segment.
    fn point_at_from(&self, hint: usize, s: f32) -> (V2, usize) {
        match self.num_points() {
            0 => (V2::ZERO, 0),
            1 => (self.point(0), 0),
            _ => {
                let i = self.segment_at_from(hint, s);
                (self.point_in_segment(i, s), i)
            }
        }
    }

    /// The point at arc length `s` on segment `i` (clamped to the segment).
    fn point_in_segment(&self, i: usize, s: f32) -> V2 {
        let (s0, s1) = (self.arc(i), self.arc(i + 1));
        let len = s1 - s0;
        let t = if len > 0.0 {
            ((s - s0) / len).clamp(0.0, 1.0)
        } else {
            0.0
        };
        self.point(i).lerp(self.point(i + 1), t)
    }

    /// Unit direction of the segment at arc length `s`.
    fn direction_at(&self, s: f32) -> V2 {
        self.segment_direction(self.segment_at(s))
    }

    fn segment_direction(&self, seg: usize) -> V2 {
        let n = self.num_points();
        if n < 2 {
            return V2::X;
        }
        let seg = seg.min(n - 2);
        (self.point(seg + 1) - self.point(seg)).normalize_or(V2::X)
    }

    fn heading_at(&self, s: f32) -> f32 {
        let d = self.direction_at(s);
        d.y.atan2(d.x)
    }

    /// Closest point among segments `lo..hi` (clamped).
    fn project_range(&self, p: V2, lo: usize, hi: usize) -> Projection {
        let n = self.num_segments();
        let mut best = Projection {
            dist: f32::INFINITY,
            ..Default::default()
        };
        if n == 0 {
            return Projection {
                dist: (p - self.point_at(0.0)).length(),
                ..best
            };
        }
        // A square root is taken only for a smaller squared distance, the only kind whose
        // root can be smaller than the best distance so far.
        let mut best_squared = f32::INFINITY;
        for i in lo.min(n - 1)..hi.min(n) {
            let (a, b) = (self.point(i), self.point(i + 1));
            let (offset, t) = point_segment_offset(p, a, b);
            let squared = offset.length_squared();
            if squared >= best_squared || squared.is_nan() {
                continue;
            }
            let d = offset.length();
            if d < best.dist {
                best_squared = squared;
                let seg_len = self.arc(i + 1) - self.arc(i);
                let side = cross(b - a, p - a);
                best = Projection {
                    s: self.arc(i) + t * seg_len,
                    seg: i,
                    lateral: if side >= 0.0 { d } else { -d },
                    dist: d,
                };
            }
        }
        best
    }

    /// Closest point over the whole line.
    fn project(&self, p: V2) -> Projection {
        self.project_range(p, 0, self.num_segments())
    }

    /// Closest point searched in a window of segments around `hint`.
    fn project_near(&self, p: V2, hint: usize, back: usize, ahead: usize) -> Projection {
        self.project_range(p, hint.saturating_sub(back), hint + ahead + 1)
    }
}

/// A polyline with cumulative arc length, the centre line of lanes and routes.
#[derive(Clone, Debug, PartialEq)]
pub struct Polyline {
    pub pts: Vec<V2>,
    pub s: Vec<f32>,
}

impl Line for Polyline {
    fn num_points(&self) -> usize {
        self.pts.len()
    }

    fn point(&self, i: usize) -> V2 {
        self.pts[i]
    }

    fn arc(&self, i: usize) -> f32 {
        self.s[i]
    }
}

impl Polyline {
    pub fn new(pts: Vec<V2>) -> Self {
        let mut s = Vec::with_capacity(pts.len());
        let mut acc = 0.0;
        for i in 0..pts.len() {
            if i > 0 {
                acc += (pts[i] - pts[i - 1]).length();
            }
            s.push(acc);
        }
        Polyline { pts, s }
    }

    /// Curvature (1/m) at each vertex, from the turning angle over neighbouring segments.
    pub fn curvatures(&self) -> Vec<f32> {
        let n = self.pts.len();
        (0..n)
            .map(|i| {
                if i == 0 || i + 1 >= n {
                    return 0.0;
                }
                let a = self.pts[i] - self.pts[i - 1];
                let b = self.pts[i + 1] - self.pts[i];
                let turn = cross(a, b).atan2(a.dot(b)).abs();
                let len = 0.5 * (a.length() + b.length());
                if len > 1e-4 {
                    turn / len
                } else {
                    0.0
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn projection_is_signed_and_arc_length_correct() {
        let line = Polyline::new(vec![
            V2::new(0.0, 0.0),
            V2::new(10.0, 0.0),
            V2::new(10.0, 10.0),
        ]);
        assert_eq!(line.length(), 20.0);
        let p = line.project(V2::new(4.0, 1.5));
        assert!((p.s - 4.0).abs() < 1e-5 && (p.lateral - 1.5).abs() < 1e-5);
        let q = line.project(V2::new(11.0, 5.0));
        assert!((q.s - 15.0).abs() < 1e-5 && (q.lateral + 1.0).abs() < 1e-5);
        assert!((line.point_at(12.0) - V2::new(10.0, 2.0)).length() < 1e-5);
    }

    #[test]
    fn segment_walk_from_any_hint_matches_the_binary_search() {
        // Uneven segments with a zero-length one, so ties at vertices are exercised.
        let line = Polyline::new(vec![
            V2::new(0.0, 0.0),
            V2::new(1.5, 0.0),
            V2::new(1.5, 0.0),
            V2::new(4.0, 1.0),
            V2::new(7.0, -2.0),
            V2::new(7.5, -2.0),
        ]);
        let mut queries: Vec<f32> = line.s.clone();
        queries.extend([
            -1.0,
            -0.0,
            0.3,
            1.5001,
            2.9,
            6.0,
            100.0,
            f32::NAN,
            f32::INFINITY,
        ]);
        queries.extend(line.s.iter().map(|s| s + 1e-6));
        for &s in &queries {
            // The slice's own partition point, which `segment_at` computes by hand.
            let searched = line.s.partition_point(|&x| x <= s).saturating_sub(1).min(4);
            assert_eq!(line.segment_at(s), searched, "s {s}");
            for hint in 0..line.pts.len() + 2 {
                assert_eq!(
                    line.segment_at_from(hint, s),
                    line.segment_at(s),
                    "s {s} hint {hint}"
                );
                let (p, seg) = line.point_at_from(hint, s);
                assert_eq!(seg, line.segment_at(s));
                assert_eq!(
                    p.to_array().map(f32::to_bits),
                    line.point_at(s).to_array().map(f32::to_bits)
                );
            }
        }
    }
}
