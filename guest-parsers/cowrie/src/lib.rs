//! HELPER-2: parser cowrie
