//! Rule-based driving shared by traffic and the ego's expert: the Intelligent Driver Model for
//! speed (leaders along the lane path, merging vehicles projected onto the merge point, stop
//! lines at red lights and at junctions that are not clear) and pure pursuit for steering.

use super::geometry::{Frame, Line, V2};
use super::map::{LightState, Map};

/// Intelligent Driver Model parameters (Treiber et al. 2000).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Idm {
    pub max_accel: f32,
    pub comfort_decel: f32,
    pub max_decel: f32,
    pub time_headway: f32,
    pub min_gap: f32,
}

impl Default for Idm {
    fn default() -> Self {
        Idm {
            max_accel: 2.0,
            comfort_decel: 2.5,
            max_decel: 8.0,
            time_headway: 1.2,
            min_gap: 2.5,
        }
    }
}

impl Idm {
    /// Acceleration at speed `v` toward desired speed `v0`, behind a leader `gap` metres
    /// (bumper to bumper) ahead moving at `leader_speed`.
    pub fn accel(&self, v: f32, v0: f32, leader: Option<(f32, f32)>) -> f32 {
        let v0 = v0.max(0.1);
        let free = 1.0 - (v / v0).powi(4);
        let interaction = match leader {
            Some((gap, lv)) => {
                let dv = v - lv;
                let s_star = self.min_gap
                    + (v * self.time_headway
                        + v * dv / (2.0 * (self.max_accel * self.comfort_decel).sqrt()))
                    .max(0.0);
                (s_star / gap.max(0.1)).powi(2)
            }
            None => 0.0,
        };
        (self.max_accel * (free - interaction)).clamp(-self.max_decel, self.max_accel)
    }
}

/// Where an actor is on the lane graph, for the others' planning.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Occupant {
    /// 0 is the ego, `i + 1` traffic vehicle `i`.
    pub actor: usize,
    pub lane: usize,
    pub s: f32,
    pub speed: f32,
    pub pos: V2,
    /// The lane the actor enters after `lane`, when known.
    pub next: Option<usize>,
}

/// The actors' lane occupancy, with per lane the set of occupants on it (bit `j` for
/// occupant `j`), so a driver reads the actors on its path's lanes instead of testing every
/// actor against every lane: that scan's outcome differs from one env to the next, and across
/// many envs the branch predictor cannot learn it.
#[derive(Clone, Debug, Default)]
pub struct Occupancy {
    occupants: Vec<Occupant>,
    /// Per map lane; kept for the first [`Occupancy::MAX_INDEXED`] occupants.
    on_lane: Vec<u64>,
}

impl Occupancy {
    const MAX_INDEXED: usize = u64::BITS as usize;

    /// Empties the occupancy of a map with `lane_count` lanes.
    pub fn clear(&mut self, lane_count: usize) {
        for o in &self.occupants {
            if let Some(set) = self.on_lane.get_mut(o.lane) {
                *set = 0;
            }
        }
        self.occupants.clear();
        self.on_lane.resize(lane_count, 0);
    }

    pub fn push(&mut self, o: Occupant) {
        let j = self.occupants.len();
        if j < Self::MAX_INDEXED {
            self.on_lane[o.lane] |= 1 << j;
        }
        self.occupants.push(o);
    }

    pub fn occupants(&self) -> &[Occupant] {
        &self.occupants
    }

    /// Whether [`Occupancy::on_lane`] covers every occupant.
    fn indexed(&self) -> bool {
        self.occupants.len() <= Self::MAX_INDEXED
    }

    /// The occupants on `lane`, bit `j` for occupant `j`.
    fn on_lane(&self, lane: usize) -> u64 {
        self.on_lane[lane]
    }

    /// The occupants in `set` (bit `j` for occupant `j`), in occupancy order.
    fn members(&self, mut set: u64) -> impl Iterator<Item = &Occupant> {
        std::iter::from_fn(move || {
            let j = (set != 0).then(|| set.trailing_zeros() as usize)?;
            set &= set - 1;
            Some(&self.occupants[j])
        })
    }
}

/// Half the length of every vehicle (m).
pub const HALF_LENGTH: f32 = 2.3;
const LOOKAHEAD: f32 = 90.0;
/// Actors further away than this (straight-line) cannot matter within the lookahead.
const NEAR: f32 = LOOKAHEAD + 20.0;
/// A driver follows at most this many near actors, the first in occupancy order.
const MAX_NEAR: usize = 256;
// The leader search leaves out its `MAX_NEAR` cap on an indexed occupancy.
const _: () = assert!(Occupancy::MAX_INDEXED <= MAX_NEAR);

/// Rule switches of one driver.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DriverRules {
    pub obey_lights: bool,
    pub yield_at_junctions: bool,
}

/// A read-only view of the world for planning one step.
pub struct Planner<'a> {
    pub map: &'a Map,
    pub occupancy: &'a Occupancy,
    pub time: f32,
    /// Forces every light to one state (scripted scenes).
    pub light_override: Option<LightState>,
    pub idm: Idm,
}

impl Planner<'_> {
    /// IDM acceleration of actor `me` following `path` (lanes, `path[0]` the current one) at
    /// arc length `s` on `path[0]`, with desired speed capped at `v_cap`.
    #[allow(clippy::too_many_arguments)]
    pub fn accel(
        &self,
        me: usize,
        pos: V2,
        path: &[usize],
        s: f32,
        speed: f32,
        v_cap: f32,
        rules: DriverRules,
    ) -> f32 {
        let advisory = self.map.lane_line(path[0]).advisory_at(s);
        self.accel_at_advisory(me, pos, path, s, speed, v_cap.min(advisory), rules)
    }

    /// [`Planner::accel`] with `v_cap` already capped by the advisory speed at `s` (which a
    /// traffic vehicle remembers from its last re-localization).
    #[allow(clippy::too_many_arguments)]
    pub fn accel_at_advisory(
        &self,
        me: usize,
        pos: V2,
        path: &[usize],
        s: f32,
        speed: f32,
        v_cap: f32,
        rules: DriverRules,
    ) -> f32 {
        let map = self.map;
        let mut v0 = v_cap;
        let mut leader: Option<(f32, f32)> = None;
        // Distance from me to the start of path[k].
        let mut to_start = -s;
        for (k, &lane_id) in path.iter().enumerate() {
            if to_start > LOOKAHEAD {
                break;
            }
            let lane = &map.lane_info[lane_id];
            if k > 0 {
                let adv = lane.first_advisory;
                v0 = v0.min((adv * adv + 2.0 * self.idm.comfort_decel * to_start).sqrt());
            }
            self.follow_on_lane(me, pos, lane_id, to_start, &mut leader);
            let to_end = to_start + lane.length;
            if to_end > 0.0 && to_end < LOOKAHEAD {
                let stop_gap = to_end - HALF_LENGTH - 2.0;
                if self.must_stop_at_end(me, pos, path, k, stop_gap, speed, rules) {
                    keep_closer(&mut leader, stop_gap.max(0.05), 0.0);
                }
            }
            to_start = to_end;
        }
        self.idm.accel(speed, v0, leader)
    }

    /// Is `o` an actor other than `me` within `NEAR` of `pos`?
    fn is_near(o: &Occupant, me: usize, pos: V2) -> bool {
        o.actor != me && (o.pos - pos).length_squared() <= NEAR * NEAR
    }

    /// Offers as leaders the near actors (the first `MAX_NEAR` others within `NEAR` of `pos`)
    /// on `lane_id` ahead of actor `me` and those merging into it closer to the merge point;
    /// `to_start` is my distance to the lane's start.
    fn follow_on_lane(
        &self,
        me: usize,
        pos: V2,
        lane_id: usize,
        to_start: f32,
        leader: &mut Option<(f32, f32)>,
    ) {
        let map = self.map;
        let lane = &map.lane_info[lane_id];
        let merging_lanes = map.merges(lane_id);
        let offer = |o: &Occupant| {
            if o.lane == lane_id {
                let gap = to_start + o.s;
                if gap > 0.0 {
                    keep_closer(leader, gap - 2.0 * HALF_LENGTH, o.speed);
                }
            } else if merging_lanes.contains(&(o.lane as u32)) {
                // Merging into the same lane: whoever is closer to the merge point leads.
                let mine = to_start + lane.length;
                let theirs = map.lane_info[o.lane].length - o.s;
                if theirs < mine && mine > 0.0 {
                    keep_closer(leader, mine - theirs - 2.0 * HALF_LENGTH, o.speed);
                }
            }
        };
        if self.occupancy.indexed() {
            // The same offers in the same order as the scan below (whose cap cannot bind on
            // an indexed occupancy): offers to actors on other lanes than `lane_id` and
            // `merging_lanes` are no-ops.
            let mut candidates = self.occupancy.on_lane(lane_id);
            for &m in merging_lanes {
                candidates |= self.occupancy.on_lane(m as usize);
            }
            self.occupancy
                .members(candidates)
                .filter(|o| Self::is_near(o, me, pos))
                .for_each(offer);
        } else {
            self.occupancy
                .occupants()
                .iter()
                .filter(|o| Self::is_near(o, me, pos))
                .take(MAX_NEAR)
                .for_each(offer);
        }
    }

    /// Must the driver stop `stop_gap` metres ahead, at the end of `path[k]`, for a light or to
    /// give way at the junction after it?
    #[allow(clippy::too_many_arguments)]
    fn must_stop_at_end(
        &self,
        me: usize,
        pos: V2,
        path: &[usize],
        k: usize,
        stop_gap: f32,
        speed: f32,
        rules: DriverRules,
    ) -> bool {
        let map = self.map;
        let lane = &map.lane_info[path[k]];
        let next = path.get(k + 1).copied();
        let mut must_stop = false;
        if rules.obey_lights {
            if let Some(signal) = lane.signal {
                let state = self
                    .light_override
                    .unwrap_or_else(|| map.light_state(signal, self.time));
                must_stop |= match state {
                    LightState::Red => true,
                    // Stop for yellow only if that is comfortably possible.
                    LightState::Yellow => {
                        stop_gap > speed * speed / (2.0 * self.idm.comfort_decel * 1.5)
                    }
                    LightState::Green => false,
                };
            }
        }
        if let (true, Some(next)) = (rules.yield_at_junctions, next) {
            // Checked until the vehicle has left the approach lane.
            if map.lane_info[next].in_junction {
                must_stop |= !self.clear_to_enter(me, pos, path[k], next, stop_gap, speed);
            }
        }
        must_stop
    }

    /// May actor `me`, `dist` metres before the end of `from`, enter connector `next`? Not while
    /// an actor is on a crossing connector, and, when `from` gives way, not while a priority
    /// actor is close to a conflicting connector.
    fn clear_to_enter(
        &self,
        me: usize,
        pos: V2,
        from: usize,
        next: usize,
        dist: f32,
        speed: f32,
    ) -> bool {
        let map = self.map;
        // Decide only once close enough that the decision matters.
        if dist > 8.0 + speed * speed / (2.0 * self.idm.comfort_decel) {
            return true;
        }
        let conflicts = map.conflicts(next);
        if conflicts.is_empty() {
            return true;
        }
        let signalized = map.lane_info[next].in_signalized_junction;
        let from_yields = map.lane_info[from].yields;
        let blocks = |o: &Occupant| {
            if o.actor == me || (o.pos - pos).length_squared() > 1.5 * 1.5 * NEAR * NEAR {
                return false;
            }
            for &c in conflicts {
                let c = c as usize;
                if o.lane == c {
                    // On a crossing connector; on a merging one, only while in its first half
                    // when `from` gives way.
                    if !map.merges(next).contains(&(c as u32))
                        || (from_yields && o.s < 0.5 * map.lane_info[c].length)
                    {
                        return true;
                    }
                }
                let approaching = !signalized
                    && o.next.is_none_or(|n| n == c)
                    && map.predecessors(c).contains(&(o.lane as u32));
                if approaching && self.gives_way(from, next, o.lane, c) {
                    let to_go = map.lane_info[o.lane].length - o.s;
                    if to_go < 10.0 + 4.5 * o.speed {
                        return true;
                    }
                }
            }
            false
        };
        if !self.occupancy.indexed() {
            return !self.occupancy.occupants().iter().any(blocks);
        }
        // Only actors on a conflicting connector, or approaching one, can block; they are
        // tested in the same order.
        let mut watched = 0;
        for &c in conflicts {
            watched |= self.occupancy.on_lane(c as usize);
            if !signalized {
                for &p in map.predecessors(c as usize) {
                    watched |= self.occupancy.on_lane(p as usize);
                }
            }
        }
        !self.occupancy.members(watched).any(blocks)
    }

    /// At an unsignalized junction, does movement `from -> next` give way to `other -> c`?
    /// Minor roads give way to the main road; on the same road class, a movement turning
    /// further left gives way (left turns yield to oncoming straight and right turns).
    fn gives_way(&self, from: usize, next: usize, other: usize, c: usize) -> bool {
        let map = self.map;
        match (map.lane_info[from].yields, map.lane_info[other].yields) {
            (true, false) => true,
            (false, true) => false,
            _ => map.lane_info[next].turn > map.lane_info[c].turn + 0.3,
        }
    }
}

/// Pure pursuit: steering angle (rad) to reach `target` from a vehicle at `pos` heading `yaw`
/// with the given wheelbase, measured from the rear axle `rear` metres behind `pos`.
pub fn pure_pursuit(pos: V2, yaw: f32, rear: f32, target: V2, wheelbase: f32) -> f32 {
    let (sin, cos) = yaw.sin_cos();
    let axle = pos - V2::new(cos, sin) * rear;
    let local = Frame::with_sin_cos(axle, sin, cos).to_local(target);
    let ld2 = local.length_squared().max(1.0);
    (2.0 * wheelbase * local.y / ld2).atan()
}

/// The point `ahead` metres along `path` from arc length `s` on `path[0]`; `seg` is a segment
/// of `path[0]`'s centre line near `s` (a hint that speeds up the look-up).
pub fn point_along(map: &Map, path: &[usize], s: f32, seg: usize, ahead: f32) -> V2 {
    let mut rest = s + ahead;
    for (k, &l) in path.iter().enumerate() {
        let len = map.lane_info[l].length;
        if rest <= len || k + 1 == path.len() {
            let hint = if k == 0 { seg } else { 0 };
            return map.lane_line(l).point_at_from(hint, rest).0;
        }
        rest -= len;
    }
    V2::ZERO
}

/// Keeps in `leader` the closer of it and `(gap, leader_speed)`; the first offered wins ties.
fn keep_closer(leader: &mut Option<(f32, f32)>, gap: f32, leader_speed: f32) {
    if leader.is_none_or(|(g, _)| gap < g) {
        *leader = Some((gap, leader_speed));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::driving::map::{generate, MapFamily};
    use crate::env_rng;
    use rand::RngExt;

    /// The per-lane index finds the leaders and the actors to give way to that a scan of every
    /// actor finds: random actors on town and rural maps (some merging into the same lane,
    /// some close behind each other, half near a lane's end), the same plans with and without
    /// the index, bit for bit; one `Occupancy` reused throughout, so stale entries would show.
    #[test]
    fn indexed_occupancy_plans_as_a_scan_of_every_actor() {
        let (mut indexed, mut scanned) = (Occupancy::default(), Occupancy::default());
        let (mut plans, mut led) = (0, 0);
        for seed in 0..4 {
            let family = [MapFamily::Town, MapFamily::Rural][seed as usize % 2];
            let map = generate(family, &mut env_rng(seed));
            let mut rng = env_rng(50 + seed);
            for _ in 0..300 {
                let count = rng.random_range(1..=40);
                let fill = |occ: &mut Occupancy, rng: &mut crate::EnvRng, far: usize| {
                    occ.clear(map.lanes.len());
                    for actor in 0..count {
                        let lane = rng.random_range(0..map.lanes.len());
                        let length = map.lane_info[lane].length;
                        // Half of them close to their lane's end, where junctions matter.
                        let s = if rng.random_bool(0.5) {
                            rng.random_range(0.0..length)
                        } else {
                            (length - rng.random_range(0.0..12.0)).max(0.0)
                        };
                        let succ = &map.lanes[lane].successors;
                        occ.push(Occupant {
                            actor,
                            lane,
                            s,
                            speed: rng.random_range(0.0..15.0),
                            pos: map.lanes[lane].centre.point_at(s),
                            next: (!succ.is_empty()).then(|| succ[rng.random_range(0..succ.len())]),
                        });
                    }
                    for k in 0..far {
                        occ.push(Occupant {
                            actor: count + k,
                            lane: k % map.lanes.len(),
                            s: 0.0,
                            speed: 0.0,
                            pos: V2::splat(1e6),
                            next: None,
                        });
                    }
                };
                let state = rng.clone();
                fill(&mut indexed, &mut rng, 0);
                rng = state;
                fill(&mut scanned, &mut rng, 70);
                assert!(indexed.indexed() && !scanned.indexed());
                let time = rng.random_range(0.0..120.0);
                let planner = |occupancy| Planner {
                    map: &map,
                    occupancy,
                    time,
                    light_override: None,
                    idm: Idm::default(),
                };
                let mut empty = Occupancy::default();
                empty.clear(map.lanes.len());
                for o in indexed.occupants().to_vec() {
                    let mut path = vec![o.lane];
                    while path.len() < 4 {
                        let succ = &map.lanes[*path.last().unwrap()].successors;
                        if succ.is_empty() {
                            break;
                        }
                        path.push(succ[rng.random_range(0..succ.len())]);
                    }
                    let rules = DriverRules {
                        obey_lights: rng.random_bool(0.5),
                        yield_at_junctions: rng.random_bool(0.5),
                    };
                    let plan = |occupancy| {
                        planner(occupancy).accel(o.actor, o.pos, &path, o.s, o.speed, 14.0, rules)
                    };
                    let a = plan(&indexed);
                    assert_eq!(a.to_bits(), plan(&scanned).to_bits(), "seed {seed}, {o:?}");
                    plans += 1;
                    led += usize::from(a < plan(&empty));
                }
            }
        }
        assert!(led * 4 > plans, "leaders in {led} of {plans} plans");
    }

    #[test]
    fn idm_accelerates_freely_and_brakes_for_a_close_leader() {
        let idm = Idm::default();
        assert!(idm.accel(5.0, 14.0, None) > 1.5);
        assert!(idm.accel(14.0, 14.0, None).abs() < 1e-4);
        assert!(idm.accel(14.0, 14.0, Some((8.0, 0.0))) < -5.0);
        // Following at the equilibrium gap roughly holds speed.
        let gap = idm.min_gap + 10.0 * idm.time_headway;
        let a = idm.accel(10.0, 30.0, Some((gap, 10.0)));
        assert!(a.abs() < 0.3, "{a}");
    }

    #[test]
    fn pure_pursuit_steers_toward_the_target() {
        let left = pure_pursuit(V2::ZERO, 0.0, 1.5, V2::new(10.0, 2.0), 2.7);
        let right = pure_pursuit(V2::ZERO, 0.0, 1.5, V2::new(10.0, -2.0), 2.7);
        assert!(left > 0.0 && right < 0.0 && (left + right).abs() < 1e-5);
    }
}
