//! Layer 1: the data every other layer shares (plans, outcomes, failures, classes, errors). It
//! imports nothing of the crate but `util` and `context`.

pub mod assertion;
pub mod budget;
pub mod capability;
pub mod class;
pub mod deviation;
pub mod drift;
pub mod error;
pub mod failure;
pub mod family;
pub mod fixture;
pub mod observation;
pub mod outcome;
pub mod plan;
pub mod runid;
pub mod violation;
