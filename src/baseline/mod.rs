//! Layer 5: what a run is compared with and what it stores. Drift against pinned fixtures,
//! redaction (one table for storing and comparing), recording exchanges as fixtures, and the
//! recorded endpoint that replays them.

pub mod compare;
pub mod drift;
pub mod record;
pub mod redact;
pub mod replay;
pub mod sanitize;
