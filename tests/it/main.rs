//! Lokal's integration tests: one binary, one module per area.

mod architecture;
mod explain;
mod holidays;
