//! Plane geometry for the driving world: polylines with arc length, projections, curves.

mod polyline;

pub use polyline::{Line, Polyline, Projection};
pub use rapier2d::math::Vector as V2;

use std::f32::consts::PI;

/// Wraps an angle to `(-pi, pi]`.
pub fn wrap_angle(a: f32) -> f32 {
    // The remainder of a smaller magnitude is the number itself: skip the library call.
    let mut a = if a.abs() < 2.0 * PI {
        a
    } else {
        a % (2.0 * PI)
    };
    if a > PI {
        a -= 2.0 * PI
    } else if a <= -PI {
        a += 2.0 * PI
    }
    a
}

/// Unit vector at angle `a`.
pub fn dir(a: f32) -> V2 {
    V2::new(a.cos(), a.sin())
}

/// Left-hand normal of a direction (rotated +90 degrees).
pub fn left(d: V2) -> V2 {
    V2::new(-d.y, d.x)
}

/// 2D cross product `a x b`.
pub fn cross(a: V2, b: V2) -> f32 {
    a.x * b.y - a.y * b.x
}

/// `p` expressed in the frame at `origin` with heading `yaw` (x forward, y left).
pub fn to_frame(p: V2, origin: V2, yaw: f32) -> V2 {
    Frame::new(origin, yaw).to_local(p)
}

/// A frame at `origin` with a heading, its sine and cosine computed once for many points.
#[derive(Clone, Copy, Debug)]
pub struct Frame {
    origin: V2,
    sin: f32,
    cos: f32,
}

impl Frame {
    pub fn new(origin: V2, yaw: f32) -> Self {
        let (sin, cos) = yaw.sin_cos();
        Frame { origin, sin, cos }
    }

    /// The frame at `origin` whose heading has the given sine and cosine.
    pub fn with_sin_cos(origin: V2, sin: f32, cos: f32) -> Self {
        Frame { origin, sin, cos }
    }

    /// [`to_frame`] of `p` in this frame.
    pub fn to_local(&self, p: V2) -> V2 {
        let d = p - self.origin;
        let (s, c) = (self.sin, self.cos);
        V2::new(c * d.x + s * d.y, -s * d.x + c * d.y)
    }
}

/// True when segments `a0-a1` and `b0-b1` cross (touching counts).
pub fn segments_intersect(a0: V2, a1: V2, b0: V2, b1: V2) -> bool {
    let d1 = cross(a1 - a0, b0 - a0);
    let d2 = cross(a1 - a0, b1 - a0);
    let d3 = cross(b1 - b0, a0 - b0);
    let d4 = cross(b1 - b0, a1 - b0);
    d1 * d2 <= 0.0 && d3 * d4 <= 0.0 && (d1 != 0.0 || d2 != 0.0 || d3 != 0.0 || d4 != 0.0)
}

/// Distance from `p` to segment `a-b`, and the segment parameter of the closest point.
pub fn point_segment(p: V2, a: V2, b: V2) -> (f32, f32) {
    let (offset, t) = point_segment_offset(p, a, b);
    (offset.length(), t)
}

/// The vector from `p` to the closest point of segment `a-b`, and that point's parameter.
pub(crate) fn point_segment_offset(p: V2, a: V2, b: V2) -> (V2, f32) {
    let ab = b - a;
    let len2 = ab.length_squared();
    let t = if len2 > 0.0 {
        ((p - a).dot(ab) / len2).clamp(0.0, 1.0)
    } else {
        0.0
    };
    (a + ab * t - p, t)
}

/// Samples a cubic Bezier curve leaving `p0` along `d0` and arriving at `p1` along `d1`.
/// `pull` is the distance of the inner control points (about 0.4 x chord gives round turns).
pub fn bezier(p0: V2, d0: V2, p1: V2, d1: V2, pull: f32, spacing: f32) -> Vec<V2> {
    let c0 = p0 + d0 * pull;
    let c1 = p1 - d1 * pull;
    let rough = (p1 - p0).length() + pull;
    let n = ((rough / spacing).ceil() as usize).max(2);
    (0..=n)
        .map(|i| {
            let t = i as f32 / n as f32;
            let u = 1.0 - t;
            p0 * (u * u * u) + c0 * (3.0 * u * u * t) + c1 * (3.0 * u * t * t) + p1 * (t * t * t)
        })
        .collect()
}

/// Resamples a point list to spacing at most `spacing`, keeping the end points.
pub fn resample(pts: &[V2], spacing: f32) -> Vec<V2> {
    let line = Polyline::new(pts.to_vec());
    let len = line.length();
    let n = ((len / spacing).ceil() as usize).max(1);
    (0..=n)
        .map(|i| line.point_at(len * i as f32 / n as f32))
        .collect()
}

/// Offsets a polyline sideways by `offset` (positive to the left of travel).
pub fn offset_points(pts: &[V2], offset: f32) -> Vec<V2> {
    let n = pts.len();
    (0..n)
        .map(|i| {
            let a = pts[i.saturating_sub(1)];
            let b = pts[(i + 1).min(n - 1)];
            let d = (b - a).normalize_or_zero();
            pts[i] + left(d) * offset
        })
        .collect()
}

/// `v` rotated by `yaw`.
pub fn rotate(v: V2, yaw: f32) -> V2 {
    let (sin, cos) = yaw.sin_cos();
    rotate_by(v, sin, cos)
}

/// `v` rotated by the angle whose sine and cosine are given.
pub fn rotate_by(v: V2, sin: f32, cos: f32) -> V2 {
    V2::new(cos * v.x - sin * v.y, sin * v.x + cos * v.y)
}

/// Separating-axis test of two oriented boxes given by centre, yaw and half extents.
pub fn boxes_overlap(pa: V2, ya: f32, ha: V2, pb: V2, yb: f32, hb: V2) -> bool {
    boxes_overlap_along(pa, dir(ya), ha, pb, dir(yb), hb)
}

/// [`boxes_overlap`] with the boxes' headings given as unit vectors `da` and `db`.
pub fn boxes_overlap_along(pa: V2, da: V2, ha: V2, pb: V2, db: V2, hb: V2) -> bool {
    let axes = [da, left(da), db, left(db)];
    let d = pb - pa;
    let (ax, ay) = (axes[0], axes[1]);
    let (bx, by) = (axes[2], axes[3]);
    axes.iter().all(|&n| {
        let ra = ha.x * ax.dot(n).abs() + ha.y * ay.dot(n).abs();
        let rb = hb.x * bx.dot(n).abs() + hb.y * by.dot(n).abs();
        d.dot(n).abs() <= ra + rb
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapped_angles_match_the_plain_remainder() {
        let plain = |a: f32| {
            let mut a = a % (2.0 * PI);
            if a > PI {
                a -= 2.0 * PI
            } else if a <= -PI {
                a += 2.0 * PI
            }
            a
        };
        for i in -2000..=2000 {
            let a = i as f32 * 0.01;
            assert_eq!(wrap_angle(a).to_bits(), plain(a).to_bits(), "{a}");
        }
        for a in [2.0 * PI, -2.0 * PI, PI, -PI, -0.0, 1e9, f32::NAN] {
            assert_eq!(wrap_angle(a).to_bits(), plain(a).to_bits(), "{a}");
        }
    }

    #[test]
    fn segment_intersection_and_angles() {
        let o = V2::ZERO;
        assert!(segments_intersect(
            o,
            V2::new(2.0, 2.0),
            V2::new(0.0, 2.0),
            V2::new(2.0, 0.0)
        ));
        assert!(!segments_intersect(
            o,
            V2::new(1.0, 0.0),
            V2::new(0.0, 1.0),
            V2::new(1.0, 1.0)
        ));
        assert!((wrap_angle(3.0 * PI) - PI).abs() < 1e-5);
        let f = to_frame(V2::new(1.0, 1.0), V2::new(1.0, 0.0), PI / 2.0);
        assert!((f - V2::new(1.0, 0.0)).length() < 1e-5);
    }

    #[test]
    fn box_overlap_separates_along_every_axis() {
        let half = V2::new(2.0, 1.0);
        assert!(boxes_overlap(
            V2::ZERO,
            0.0,
            half,
            V2::new(3.9, 0.0),
            0.0,
            half
        ));
        assert!(!boxes_overlap(
            V2::ZERO,
            0.0,
            half,
            V2::new(4.1, 0.0),
            0.0,
            half
        ));
        // Rotated by 90 degrees the second box is 2 wide along x: touching at 3.0.
        let q = std::f32::consts::FRAC_PI_2;
        assert!(boxes_overlap(
            V2::ZERO,
            0.0,
            half,
            V2::new(2.9, 0.0),
            q,
            half
        ));
        assert!(!boxes_overlap(
            V2::ZERO,
            0.0,
            half,
            V2::new(3.1, 0.0),
            q,
            half
        ));
    }
}
