//! Route tracking: the ego's projection on the route and the furthest point reached, from which
//! route completion and per-step progress follow (forward only, near the route, capped by the
//! distance actually driven: no gains from teleports or jumps).

use super::geometry::{Line, Projection, V2};
use super::route::Route;

/// Progress counts only within this distance of the route (m).
const PROGRESS_MAX_DIST_M: f32 = 10.0;
/// A step's progress is capped by the distance moved plus this slack (m).
const PROGRESS_SLACK_M: f32 = 0.5;
/// The route counts as finished this close to its end (m).
const FINISH_MARGIN_M: f32 = 1.0;
/// A local projection further than this from the route is redone over the whole route (m).
const REPROJECT_DIST_M: f32 = 15.0;
/// Segments searched behind and ahead of the last one by the local projection.
const LOCAL_SEGMENTS_BACK: usize = 3;
const LOCAL_SEGMENTS_AHEAD: usize = 12;

/// The episode's route and how far along it the ego is.
#[derive(Clone, Debug)]
pub(crate) struct RouteTracker {
    pub route: Route,
    /// The ego's current projection on the route.
    pub proj: Projection,
    /// The furthest route arc length reached so far.
    pub max_s: f32,
}

/// What one step of tracking found.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RouteStep {
    /// Route completion gained this step (%).
    pub progress: f32,
    pub finished: bool,
}

impl RouteTracker {
    pub fn new(route: Route) -> Self {
        RouteTracker {
            route,
            proj: Projection::default(),
            max_s: 0.0,
        }
    }

    /// Restarts tracking at `start` (the beginning of the route).
    pub fn restart(&mut self, start: V2) {
        self.proj = self.route.line.project_near(start, 0, 0, 4);
        self.max_s = 0.0;
    }

    /// Route completion so far (%).
    pub fn completion(&self) -> f32 {
        100.0 * self.max_s / self.route.length()
    }

    /// Route length still to drive (m).
    pub fn left(&self) -> f32 {
        self.route.length() - self.max_s
    }

    /// Moves the projection to `pos`, reached after driving `moved` metres.
    pub fn advance(&mut self, pos: V2, moved: f32) -> RouteStep {
        let line = &self.route.line;
        let proj = line.project_near(
            pos,
            self.proj.seg,
            LOCAL_SEGMENTS_BACK,
            LOCAL_SEGMENTS_AHEAD,
        );
        let proj = if proj.dist > REPROJECT_DIST_M {
            line.project(pos)
        } else {
            proj
        };
        let forward = proj.s - self.proj.s;
        self.proj = proj;
        let before = self.max_s;
        if proj.dist <= PROGRESS_MAX_DIST_M && proj.s > self.max_s && forward > 0.0 {
            self.max_s += (proj.s - self.max_s)
                .min(forward)
                .min(moved + PROGRESS_SLACK_M);
        }
        let length = self.route.length();
        let finished = self.max_s >= length - FINISH_MARGIN_M;
        if finished {
            self.max_s = length;
        }
        RouteStep {
            progress: 100.0 * (self.max_s - before) / length,
            finished,
        }
    }
}
