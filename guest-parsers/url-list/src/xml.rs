//! The XML of PhishTank's `online-valid.xml`, checked without building a tree:
//!
//! ```text
//! <?xml version="1.0" encoding="utf-8"?>
//! <output>
//!   <meta><generated_at>…</generated_at><total_entries>…</total_entries></meta>
//!   <entries>
//!     <entry>
//!       <url><![CDATA[http://…]]></url>
//!       <phish_id>…</phish_id>
//!       <phish_detail_url>…</phish_detail_url>
//!       <details><detail><ip_address>…</ip_address>…</detail></details>
//!       <submission><submission_time>…</submission_time></submission>
//!       <verification><verified>yes</verified>…</verification>
//!       <status><online>yes</online></status>
//!       <target>…</target>
//!     </entry>
//!   </entries>
//! </output>
//! ```
//!
//! Well-formedness is checked for the subset of XML 1.0 such a file uses
//! (anything else means the text is not this format):
//! a declaration, elements with (skipped) attributes, text, CDATA sections,
//! comments, processing instructions, the predefined entities and numeric
//! character references. A DTD is refused (nothing PhishTank writes has one,
//! and entity declarations are the classic XML bomb). Written here rather
//! than taken from an XML crate for the reason given in `csv.rs`.

use cybexp_tahoe::Tally;

/// Checks that `text` is well-formed PhishTank XML and counts each
/// `output/entries/entry` in `tally`: well-formed when it has a `url` child
/// whose text passes `check_url`, malformed otherwise. Returns the number of
/// entries.
pub(crate) fn check_phishtank_xml(
    text: &str,
    check_url: fn(&str) -> Result<(), &'static str>,
    tally: &mut Tally,
) -> Result<usize, String> {
    let mut scan = Scan { rest: text, line: 1 };
    let mut stack: Vec<&str> = Vec::new();
    let mut text_of_url = String::new();
    // The entry's `url`, checked: `None` until one is closed.
    let mut entry_url: Option<Result<(), String>> = None;
    let mut entries = 0usize;
    let mut root_done = false;
    while !scan.rest.is_empty() {
        let line = scan.line;
        let at = |why: &str| format!("line {line}: {why}");
        if let Some(rest) = scan.rest.strip_prefix("<!--") {
            let end = rest.find("-->").ok_or_else(|| at("a comment is not closed"))?;
            scan.advance(4 + end + 3);
        } else if scan.rest.starts_with("<![CDATA[") {
            if stack.is_empty() {
                return Err(at("CDATA outside the root element"));
            }
            let end = scan.rest.find("]]>").ok_or_else(|| at("a CDATA section is not closed"))?;
            if stack.last() == Some(&"url") {
                text_of_url.push_str(&scan.rest["<![CDATA[".len()..end]);
            }
            scan.advance(end + 3);
        } else if scan.rest.starts_with("<!") {
            return Err(at("a DTD or other declaration; PhishTank XML has none"));
        } else if scan.rest.starts_with("<?") {
            let end = scan.rest.find("?>").ok_or_else(|| at("a processing instruction is not closed"))?;
            scan.advance(end + 2);
        } else if let Some(rest) = scan.rest.strip_prefix("</") {
            let end = rest.find('>').ok_or_else(|| at("an end tag is not closed"))?;
            let name = rest[..end].trim_end();
            match stack.pop() {
                Some(open) if open == name => {}
                Some(open) => return Err(at(&format!("</{name}> closes <{open}>"))),
                None => return Err(at(&format!("</{name}> closes nothing"))),
            }
            if path_is(&stack, &["output", "entries", "entry"]) && name == "url" {
                entry_url = Some(check_url(text_of_url.trim()).map_err(|why| {
                    at(&format!("entry {}: `url` {why}: {}", entries + 1, cybexp_tahoe::excerpt(&text_of_url, 80)))
                }));
            }
            if path_is(&stack, &["output", "entries"]) && name == "entry" {
                match entry_url.take() {
                    Some(Ok(())) => tally.well_formed(),
                    Some(Err(note)) => tally.malformed(|| note),
                    None => tally.malformed(|| at(&format!("entry {} has no `url`", entries + 1))),
                }
                entries += 1;
            }
            root_done = stack.is_empty();
            scan.advance(2 + end + 1);
        } else if scan.rest.starts_with('<') {
            let end = tag_end(scan.rest).ok_or_else(|| at("a start tag is not closed"))?;
            let tag = &scan.rest[1..end];
            let (tag, empty) = match tag.strip_suffix('/') {
                Some(tag) => (tag, true),
                None => (tag, false),
            };
            let name = tag.split(|c: char| c.is_ascii_whitespace()).next().unwrap_or_default();
            if !is_name(name) {
                return Err(at(&format!("not an element name: {}", cybexp_tahoe::excerpt(name, 40))));
            }
            if root_done {
                return Err(at("a second root element"));
            }
            if stack.is_empty() && name != "output" {
                return Err(at(&format!("the root element is <{name}>, not <output>")));
            }
            if name == "entry" && path_is(&stack, &["output", "entries"]) {
                entry_url = None;
            }
            if name == "url" {
                text_of_url.clear();
            }
            if empty {
                if name == "entry" && path_is(&stack, &["output", "entries"]) {
                    tally.malformed(|| at(&format!("entry {} has no `url`", entries + 1)));
                    entries += 1;
                }
                root_done = stack.is_empty();
            } else {
                stack.push(name);
            }
            scan.advance(end + 1);
        } else {
            let end = scan.rest.find('<').unwrap_or(scan.rest.len());
            let chars = &scan.rest[..end];
            if stack.is_empty() && !chars.trim().is_empty() {
                return Err(at(&format!("text outside the root element: {}", cybexp_tahoe::excerpt(chars.trim(), 40))));
            }
            let decoded = decode_text(chars).map_err(at)?;
            if stack.last() == Some(&"url") {
                text_of_url.push_str(&decoded);
            }
            scan.advance(end);
        }
    }
    match stack.last() {
        Some(open) => Err(format!("<{open}> is not closed at the end of the text")),
        None if !root_done => Err("no root element".into()),
        None => Ok(entries),
    }
}

/// The unread text and the line it starts on.
struct Scan<'a> {
    rest: &'a str,
    line: usize,
}

impl Scan<'_> {
    fn advance(&mut self, bytes: usize) {
        self.line += self.rest[..bytes].bytes().filter(|&b| b == b'\n').count();
        self.rest = &self.rest[bytes..];
    }
}

fn path_is(stack: &[&str], path: &[&str]) -> bool {
    stack == path
}

/// The index of the `>` that ends the tag at the start of `text`, skipping
/// quoted attribute values.
fn tag_end(text: &str) -> Option<usize> {
    let mut quote = None;
    for (i, c) in text.char_indices().skip(1) {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, '>') => return Some(i),
            (None, '<') => return None,
            _ => {}
        }
    }
    None
}

/// An XML name, loosely: letters, digits, `_`, `-`, `.`, `:` and any
/// non-ASCII, not starting with a digit, `-` or `.`.
fn is_name(name: &str) -> bool {
    let mut chars = name.chars();
    let start_ok = chars.next().is_some_and(|c| c.is_alphabetic() || c == '_' || c == ':');
    start_ok && chars.all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | ':'))
}

/// Character data with its references resolved.
fn decode_text(chars: &str) -> Result<String, &'static str> {
    let mut out = String::with_capacity(chars.len());
    let mut rest = chars;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        let semi = after.find(';').ok_or("an `&` that starts no reference")?;
        let name = &after[..semi];
        let c = match name {
            "amp" => '&',
            "lt" => '<',
            "gt" => '>',
            "quot" => '"',
            "apos" => '\'',
            _ => {
                let code = match (name.strip_prefix("#x"), name.strip_prefix('#')) {
                    (Some(hex), _) => u32::from_str_radix(hex, 16).ok(),
                    (None, Some(dec)) => dec.parse().ok(),
                    (None, None) => return Err("a reference to an undeclared entity"),
                };
                code.and_then(char::from_u32).ok_or("a character reference to no character")?
            }
        };
        out.push(c);
        rest = &after[semi + 1..];
    }
    out.push_str(rest);
    Ok(out)
}
