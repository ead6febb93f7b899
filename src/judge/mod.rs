//! Layer 4: judging an exchange. Body and stream checks (frame by frame, with a grammar per
//! family), the classification table, and the one function that decides verdict and class.

pub mod assert;
pub mod body;
pub mod capability;
pub mod classify;
pub mod exchange;
pub mod family;
pub mod grammar;
pub mod levels;
pub mod stream;
pub mod verdict;
