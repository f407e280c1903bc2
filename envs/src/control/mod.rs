//! Classic control tasks as rapier2d rigid-body worlds.
//! TEMPORARY STUBS: replaced by the real implementations (cartpole.rs, pendulum.rs, ...).

use serde::{Deserialize, Serialize};

use crate::EnvError;

macro_rules! stub_env {
    ($env:ident, $cfg:ident, $id:literal) => {
        #[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct $cfg {}
        pub struct $env;
        impl $env {
            pub fn new(_c: $cfg) -> Result<Self, EnvError> {
                Err(EnvError::InvalidConfig {
                    env: $id.into(),
                    message: "not built yet".into(),
                })
            }
        }
        impl crate::Env for $env {
            fn name(&self) -> &'static str {
                $id
            }
            fn observation_space(&self) -> &crate::Space {
                unimplemented!()
            }
            fn action_space(&self) -> &crate::Space {
                unimplemented!()
            }
            fn signal_spec(&self) -> &crate::SignalSpec {
                unimplemented!()
            }
            fn reset(&mut self, _s: Option<u64>, _o: &mut [f32]) {}
            fn step(&mut self, _a: &[f32], _o: &mut [f32], _s: &mut [f32]) -> crate::StepOutcome {
                unimplemented!()
            }
        }
    };
}
stub_env!(CartPole, CartPoleConfig, "cartpole");
stub_env!(Pendulum, PendulumConfig, "pendulum");
stub_env!(Acrobot, AcrobotConfig, "acrobot");
stub_env!(MountainCar, MountainCarConfig, "mountain_car");
