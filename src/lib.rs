//! hls-swarm: simulate N live HLS viewers and measure exactly what they experience.

pub mod backoff;
pub mod player;
pub mod ramp;
pub mod stats;
