//! Layer 3: talking HTTP. The client and its deadlines, SSE framing as bytes arrive, the gate
//! that bounds requests in flight, retries and their waits, the poll loop of asynchronous tasks,
//! and the loopback HTTP server that replays fixtures and plays faults.

pub mod endpoint;
pub mod gate;
pub mod poll;
pub mod request;
pub mod retry;
pub mod server;
pub mod sse;
pub mod transport;
pub mod watch;
