//! Credentials in connection strings: one rule for where they are, used to
//! hide them from descriptions and from messages.

/// Byte range of the userinfo (`user:secret`) in `text`'s first
/// `scheme://userinfo@host...`: from after `://` to the LAST `@` before the
/// first `/` or space after it. The last one: a password may contain an
/// unescaped `@`, a host never does.
fn userinfo(text: &str) -> Option<(usize, usize)> {
    let start = text.find("://")? + 3;
    let end = text[start..].find(['/', ' ']).map_or(text.len(), |i| start + i);
    let at = text[start..end].rfind('@')?;
    Some((start, start + at))
}

/// `scheme://user:secret@host/...` → `scheme://***@host/...`; text without
/// credentials comes back as it is.
pub fn redact_credentials(text: &str) -> String {
    match userinfo(text) {
        Some((start, end)) => format!("{}***{}", &text[..start], &text[end..]),
        None => text.to_owned(),
    }
}

/// The password in `uri` (as written, not percent-decoded): the userinfo
/// after its first `:`. `None` without one, or when it is empty.
pub fn url_password(uri: &str) -> Option<&str> {
    let (start, end) = userinfo(uri)?;
    let (_, password) = uri[start..end].split_once(':')?;
    (!password.is_empty()).then_some(password)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_redacted() {
        assert_eq!(redact_credentials("mongodb://u:p@h1,h2/db.c (GridFS fs)"), "mongodb://***@h1,h2/db.c (GridFS fs)");
        assert_eq!(redact_credentials("mongodb://h1/db.c"), "mongodb://h1/db.c");
        assert_eq!(redact_credentials("sqlite:/var/x@y/archive.db"), "sqlite:/var/x@y/archive.db");
        assert_eq!(redact_credentials("mongodb://a%40b:p@w@h/db"), "mongodb://***@h/db");
        assert_eq!(redact_credentials("mongodb://u:p@h"), "mongodb://***@h");
        assert_eq!(redact_credentials("see mongodb://u:p@h x@y"), "see mongodb://***@h x@y");
    }

    #[test]
    fn the_password_is_found_by_the_same_rule() {
        assert_eq!(url_password("mongodb://u:s3cret@h/"), Some("s3cret"));
        assert_eq!(url_password("mongodb://a%40b:p@w@h/db"), Some("p@w"));
        assert_eq!(url_password("mongodb://u:a:b@h"), Some("a:b"));
        assert_eq!(url_password("mongodb://user@h/"), None);
        assert_eq!(url_password("mongodb://u:@h/"), None);
        assert_eq!(url_password("mongodb://h/?x=a@b"), None);
        assert_eq!(url_password("sqlite:/var/x:y@z/archive.db"), None);
    }
}
