//! HELPER-2: parser url-list
