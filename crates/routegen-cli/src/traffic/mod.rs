//! Observed traffic: access-log lines as requests (`line`), and reading whole logs (`read`).
//! `learn`, `coverage` and `top` all start here.

pub mod attribution;
pub mod line;
pub mod read;

pub use line::{parse, Format, Observation};
pub use read::{read_logs, LogSummary};
