//! Layer 0: generic helpers that know nothing of contracts, exchanges or verdicts.

pub mod bounded;
pub mod codec;
pub mod fs;
pub mod glob;
pub mod tape;
pub mod text;
pub mod time;
