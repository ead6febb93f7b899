//! The gate that bounds the requests a run has out at once (`--jobs`).

use std::sync::Arc;

/// At most `--jobs` requests out at once across a run's cases. A case holds a [`Pass`] only
/// while its request is out (sent, answered, the body read and, for a stream, checked frame by
/// frame); it judges the answer, waits between retries and between polls without one, so the next
/// case's request leaves as soon as an answer is in, not after it has been judged.
#[derive(Debug, Clone)]
pub struct Gate(Option<Arc<tokio::sync::Semaphore>>);

/// Leave to have one request out; given back when dropped.
#[derive(Debug)]
pub struct Pass(Option<tokio::sync::OwnedSemaphorePermit>);

impl Gate {
    /// No limit: every case sends when it is ready (`cargo test`'s trials, single cases).
    pub fn open() -> Gate {
        Gate(None)
    }

    /// At most `n` requests out (at least one).
    pub fn new(n: usize) -> Gate {
        Gate(Some(Arc::new(tokio::sync::Semaphore::new(n.max(1)))))
    }

    /// Waits for leave to send (first come, first served).
    pub async fn pass(&self) -> Pass {
        match &self.0 {
            // The semaphore is never closed, so acquiring cannot fail.
            Some(s) => Pass(s.clone().acquire_owned().await.ok()),
            None => Pass(None),
        }
    }

    /// Gives `pass` back and, when it was a real one, lets the case waiting for it send its
    /// request before this task goes on to judge its own answer.
    pub async fn give_back(&self, pass: Pass) {
        let held = pass.0.is_some();
        drop(pass);
        if held {
            tokio::task::yield_now().await;
        }
    }
}
