//! Classic control tasks as rapier2d rigid-body worlds, with Gymnasium's constants.
//!
//! Each env owns one rapier world, stepped single-threaded, except that in a VecEnv
//! `envs_per_world` cart-poles, pendulums or acrobots share one ([`CartPoles`], [`Pendulums`],
//! [`Acrobots`]: each env its own island, the same bits); bodies carry their mass directly
//! (no colliders where joints suffice) and the solver substeps are set per task. Each declares
//! its spaces and a signal vector holding its classic reward plus the raw physical quantities.

/// The `Env` methods every control task answers from its `observation_space`, `action_space`
/// and `signal_spec` fields.
macro_rules! spec_accessors {
    ($name:literal) => {
        fn name(&self) -> &'static str {
            $name
        }

        fn observation_space(&self) -> &Space {
            &self.observation_space
        }

        fn action_space(&self) -> &Space {
            &self.action_space
        }

        fn signal_spec(&self) -> &SignalSpec {
            &self.signal_spec
        }
    };
}

mod acrobot;
mod cartpole;
mod mountain_car;
mod pendulum;
mod rigs;
mod world;

pub(crate) use acrobot::build_vec as build_acrobot_vec;
pub use acrobot::{Acrobot, AcrobotConfig, Acrobots};
pub(crate) use cartpole::build_vec as build_cartpole_vec;
pub use cartpole::{CartPole, CartPoleConfig, CartPoles};
pub use mountain_car::{MountainCar, MountainCarConfig};
pub(crate) use pendulum::build_vec as build_pendulum_vec;
pub use pendulum::{Pendulum, PendulumConfig, Pendulums};
