//! Cancellation requests (being written).
