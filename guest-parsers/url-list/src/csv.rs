//! CSV as PhishTank writes `online-valid.csv` (RFC 4180: fields separated by
//! `,`, a field in double quotes may hold `,`, `""` and line breaks; records
//! end in LF or CRLF).
//!
//! Written here rather than taken from the `csv` crate: the check needs only
//! the record splitting (some forty lines), and every dependency of a guest
//! is code inside the sandbox and in its fuzzing surface.

use cybexp_tahoe::excerpt;

/// One record and the 1-based line it starts on.
struct Record {
    line: usize,
    fields: Vec<String>,
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
            loop {
                let Some(c) = self.chars.next() else {
                    fields.push(field);
                    break;
                };
                match c {
                    '"' if field.is_empty() && !quoted => {
                        quoted = true;
                        if let Err(why) = self.quoted_field(&mut field) {
                            return Some(Err(format!("line {line}: {why}")));
                        }
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
                return Some(Ok(Record { line, fields }));
            }
        }
    }
}

impl Records<'_> {
    /// The rest of a quoted field, after its opening quote.
    fn quoted_field(&mut self, field: &mut String) -> Result<(), &'static str> {
        loop {
            match self.chars.next() {
                None => return Err("a quoted field is not closed"),
                Some('"') if self.chars.peek() == Some(&'"') => {
                    self.chars.next();
                    field.push('"');
                }
                Some('"') => return Ok(()),
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

/// A CSV whose header names a `url` column and whose records all hold a URL
/// there (and as many fields as the header).
pub(crate) fn check_url_csv(text: &str, check_url: fn(&str) -> Result<(), &'static str>) -> Result<(), String> {
    let mut records = Records::new(text);
    let header = match records.next() {
        Some(header) => header?,
        None => return Err("no header".into()),
    };
    let Some(column) = url_column(&header) else {
        return Err(format!("line {}: the header names no `url` column", header.line));
    };
    let mut rows = 0usize;
    for record in records {
        let record = record?;
        if record.fields.len() != header.fields.len() {
            return Err(format!(
                "line {}: {} fields where the header has {}",
                record.line,
                record.fields.len(),
                header.fields.len()
            ));
        }
        let url = &record.fields[column];
        check_url(url.trim()).map_err(|why| format!("line {}: `url` {why}: {}", record.line, excerpt(url, 80)))?;
        rows += 1;
    }
    if rows == 0 {
        return Err("a header but no records (expected one record per URL)".into());
    }
    Ok(())
}
