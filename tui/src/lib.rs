//! The operator dashboard (issue: live dashboard). Not built yet.
