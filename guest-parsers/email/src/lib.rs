//! HELPER-2: parser email
