//! CSV as PhishTank writes `online-valid.csv` (RFC 4180: fields separated by
//! `,`, a field in double quotes may hold `,`, `""` and line breaks; records
//! end in LF or CRLF).
//!
//! Written here rather than taken from the `csv` crate: the check needs only
//! the record splitting (some forty lines), and every dependency of a guest
//! is code inside the sandbox and in its fuzzing surface.

use cybexp_tahoe::{Tally, excerpt};

/// One record and the 1-based line it starts on.
struct Record {
    line: usize,
    fields: Vec<String>,
    /// The text ended inside a quoted field: a record cut off where the
    /// text ends (a file copied while it was being written).
    torn: bool,
}

/// Splits CSV text into records. Blank lines are skipped.
struct Records<'a> {
    chars: std::iter::Peekable<std::str::Chars<'a>>,
    line: usize,
}

impl<'a> Records<'a> {
    fn new(text: &'a str) -> Self {
        Records { chars: text.chars().peekable(), line: 1 }
    }
}

impl Iterator for Records<'_> {
    type Item = Result<Record, String>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            self.chars.peek()?;
            let line = self.line;
            let mut fields = Vec::new();
            let mut field = String::new();
            let mut quoted = false;
            let mut torn = false;
            loop {
                let Some(c) = self.chars.next() else {
                    fields.push(field);
                    break;
                };
                match c {
                    '"' if field.is_empty() && !quoted => {
                        quoted = true;
                        torn = !self.quoted_field(&mut field);
                        match self.chars.peek() {
                            None | Some(',' | '\n' | '\r') => {}
                            Some(_) => {
                                return Some(Err(format!("line {}: text after a closing quote", self.line)));
                            }
                        }
                    }
                    ',' => {
                        fields.push(std::mem::take(&mut field));
                        quoted = false;
                    }
                    '\r' if self.chars.peek() == Some(&'\n') => {}
                    '\n' => {
                        self.line += 1;
                        fields.push(field);
                        break;
                    }
                    c => field.push(c),
                }
            }
            let blank = fields.len() == 1 && fields[0].trim().is_empty() && !quoted;
            if !blank {
                return Some(Ok(Record { line, fields, torn }));
            }
        }
    }
}

impl Records<'_> {
    /// The rest of a quoted field, after its opening quote; false when the
    /// text ends before the closing quote.
    fn quoted_field(&mut self, field: &mut String) -> bool {
        loop {
            match self.chars.next() {
                None => return false,
                Some('"') if self.chars.peek() == Some(&'"') => {
                    self.chars.next();
                    field.push('"');
                }
                Some('"') => return true,
                Some(c) => {
                    self.line += usize::from(c == '\n');
                    field.push(c);
                }
            }
        }
    }
}

/// Whether `line`, read as a CSV header, has a column named `url` (any case).
pub(crate) fn header_names_url(line: &str) -> bool {
    matches!(Records::new(line).next(), Some(Ok(header)) if url_column(&header).is_some())
}

fn url_column(header: &Record) -> Option<usize> {
    header.fields.iter().position(|name| name.trim().eq_ignore_ascii_case("url"))
}

/// A CSV whose header names a `url` column. Each record is counted in
/// `tally`: well-formed when it has the header's number of fields and a URL
/// in the `url` column, malformed otherwise; a record cut off inside a quoted
/// field where the text ends is a torn tail. A record that cannot be split
/// (text after a closing quote) means this is not the CSV of a feed.
pub(crate) fn check_url_csv(
    text: &str,
    check_url: fn(&str) -> Result<(), &'static str>,
    tally: &mut Tally,
) -> Result<(), String> {
    let mut records = Records::new(text);
    let header = match records.next() {
        Some(header) => header?,
        None => return Err("no header".into()),
    };
    let Some(column) = url_column(&header) else {
        return Err(format!("line {}: the header names no `url` column", header.line));
    };
    for record in records {
        let record = record?;
        let line = record.line;
        if record.torn {
            tally.torn_tail(|| format!("line {line}: a quoted field is not closed at the end of the text"));
        } else if record.fields.len() != header.fields.len() {
            let (got, want) = (record.fields.len(), header.fields.len());
            tally.malformed(|| format!("line {line}: {got} fields where the header has {want}"));
        } else {
            let url = &record.fields[column];
            match check_url(url.trim()) {
                Ok(()) => tally.well_formed(),
                Err(why) => tally.malformed(|| format!("line {line}: `url` {why}: {}", excerpt(url, 80))),
            }
        }
    }
    Ok(())
}
