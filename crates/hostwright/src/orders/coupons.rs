//! Promotion codes (being written).
