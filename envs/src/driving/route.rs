//! Lane-level routes: a chain of lanes from a start point to a goal, with its centre polyline in
//! route coordinates (arc length from the start).

use rand::{Rng, RngExt};

use super::geometry::{Line, Polyline, V2};
use super::map::Map;

/// One lane of a route and where it lies in route coordinates.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RouteLane {
    pub lane: usize,
    /// Route arc length where this lane starts and ends.
    pub start: f32,
    pub end: f32,
    /// Lane arc length at `start`.
    pub lane_s0: f32,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Route {
    pub line: Polyline,
    pub lanes: Vec<RouteLane>,
}

impl Route {
    pub fn length(&self) -> f32 {
        self.line.length()
    }

    /// Index into `lanes` of the lane at route arc length `s`.
    pub fn lane_index_at(&self, s: f32) -> usize {
        self.lanes
            .partition_point(|l| l.end <= s)
            .min(self.lanes.len() - 1)
    }

    /// Follows `lanes` (each a successor of the previous) from lane arc length `s0` for at most
    /// `max_len` metres.
    pub fn from_lanes(map: &Map, lanes: &[usize], s0: f32, max_len: f32) -> Route {
        let mut pts: Vec<V2> = Vec::new();
        let mut route_lanes = Vec::new();
        let mut acc = 0.0f32;
        for (k, &li) in lanes.iter().enumerate() {
            let line = &map.lanes[li].centre;
            let a = if k == 0 {
                s0.clamp(0.0, line.length())
            } else {
                0.0
            };
            let b = line.length().min(a + (max_len - acc));
            if b <= a && k > 0 {
                break;
            }
            let mut push = |p: V2| {
                if pts.last().is_none_or(|q: &V2| (*q - p).length() > 1e-3) {
                    pts.push(p);
                }
            };
            push(line.point_at(a));
            for (i, &p) in line.pts.iter().enumerate() {
                if line.s[i] > a && line.s[i] < b {
                    push(p);
                }
            }
            push(line.point_at(b));
            route_lanes.push(RouteLane {
                lane: li,
                start: acc,
                end: acc + (b - a),
                lane_s0: a,
            });
            acc += b - a;
            if acc >= max_len - 1e-3 {
                break;
            }
        }
        let line = Polyline::new(pts);
        // Polyline lengths can differ from the summed lane lengths by rounding; rescale ends.
        if let Some(last) = route_lanes.last_mut() {
            last.end = last.end.max(line.length());
        }
        Route {
            line,
            lanes: route_lanes,
        }
    }

    /// A random route of `min_len..=max_len` metres (shorter only where the map runs out).
    pub fn generate<R: Rng + ?Sized>(map: &Map, rng: &mut R, min_len: f32, max_len: f32) -> Route {
        let mut best: Option<Route> = None;
        for _ in 0..30 {
            let target = rng.random_range(min_len..=max_len);
            let start = map.spawn_lanes[rng.random_range(0..map.spawn_lanes.len())];
            let len = map.lanes[start].length();
            let s0 = len * rng.random_range(0.1..0.6);
            let mut chain = vec![start];
            let mut acc = len - s0;
            while acc < target {
                let succ = &map.lanes[*chain.last().unwrap()].successors;
                if succ.is_empty() {
                    break;
                }
                let fresh: Vec<usize> = succ
                    .iter()
                    .copied()
                    .filter(|s| {
                        !chain.contains(s)
                            && !map.lanes[*s].successors.iter().any(|t| chain.contains(t))
                    })
                    .collect();
                let next = if fresh.is_empty() {
                    succ[rng.random_range(0..succ.len())]
                } else {
                    fresh[rng.random_range(0..fresh.len())]
                };
                if chain.contains(&next) {
                    break;
                }
                chain.push(next);
                acc += map.lanes[next].length();
            }
            let route = Route::from_lanes(map, &chain, s0, target);
            if route.length() >= min_len * 0.999 {
                return route;
            }
            if best.as_ref().is_none_or(|b| b.length() < route.length()) {
                best = Some(route);
            }
        }
        best.expect("30 attempts produce a route")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::driving::map::{generate, MapFamily};
    use crate::env_rng;

    #[test]
    fn routes_follow_successors_and_have_the_requested_length() {
        for family in MapFamily::ALL {
            let map = generate(family, &mut env_rng(11));
            let mut rng = env_rng(5);
            for _ in 0..10 {
                let route = Route::generate(&map, &mut rng, 300.0, 800.0);
                assert!(route.length() >= 299.0, "{family:?}: {}", route.length());
                assert!(route.length() <= 801.0, "{family:?}: {}", route.length());
                for w in route.lanes.windows(2) {
                    assert!(map.lanes[w[0].lane].successors.contains(&w[1].lane));
                    assert!((w[0].end - w[1].start).abs() < 1e-3);
                }
                let k = route.lane_index_at(route.length() * 0.5);
                assert!(route.lanes[k].start <= route.length() * 0.5);
            }
        }
    }
}
