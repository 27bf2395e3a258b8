//! HELPER-2: parser json
