//! HELPER-1: keys crate
