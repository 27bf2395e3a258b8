//! Counting a feed's records as a parser reads them.
//!
//! A parser refuses only what is not its feed. A genuine export with some
//! messy records (a URL with a space inside, a line of a log torn by a copy
//! taken while it was written) is still the feed: the reference stores it
//! whole, so the parser does too, and reports how many records it read and
//! how many were malformed, so an operator sees a feed degrade without
//! losing it. [`Tally`] keeps that count and applies the one rule every
//! record-oriented parser shares ([`Tally::is_feed`]).

/// Longest note about a malformed record, in characters (longer ones are
/// cut by the parser and again by the host).
pub const MAX_NOTE_CHARS: usize = 200;

/// How many records a parser read in one plaintext (URLs, events, messages)
/// and how many of them were malformed. Malformed records stay in the
/// document exactly as received; the counts are for the operator.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RecordCounts {
    pub records: u64,
    pub malformed: u64,
}

impl RecordCounts {
    /// Records that were not malformed.
    pub fn well_formed(&self) -> u64 {
        self.records.saturating_sub(self.malformed)
    }
}

/// The records of one plaintext as a parser reads them: each is well-formed
/// or malformed, and the first malformed one is remembered (where it is and
/// what is wrong with it).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    counts: RecordCounts,
    /// The last record is a torn tail: see [`Tally::torn_tail`].
    torn_tail: bool,
    first_malformed: Option<String>,
}

impl Tally {
    pub fn well_formed(&mut self) {
        self.counts.records += 1;
    }

    /// A malformed record. `note` says where it is and what is wrong
    /// (`line 812: not JSON …`); it is only built for the first one.
    pub fn malformed(&mut self, note: impl FnOnce() -> String) {
        self.counts.records += 1;
        self.counts.malformed += 1;
        if self.first_malformed.is_none() {
            self.first_malformed = Some(cut_note(&note()));
        }
    }

    /// The last record, cut off where the text ends (a log copied while it
    /// was being written): malformed, but not held against the feed by
    /// [`Tally::is_feed`], since every such copy ends so.
    pub fn torn_tail(&mut self, note: impl FnOnce() -> String) {
        self.malformed(note);
        self.torn_tail = true;
    }

    pub fn counts(&self) -> RecordCounts {
        self.counts
    }

    pub fn first_malformed(&self) -> Option<&str> {
        self.first_malformed.as_deref()
    }

    /// Whether the records make the text the feed: at least one record is
    /// well-formed, and well-formed records outnumber the malformed ones (a
    /// torn tail not counted against). So a feed with a few dozen messy
    /// records among thousands is stored, while a text where one record in
    /// two is not the feed's (prose, another format, garbage) is refused.
    pub fn is_feed(&self) -> bool {
        let well_formed = self.counts.well_formed();
        let against = self.counts.malformed - u64::from(self.torn_tail);
        well_formed > 0 && well_formed > against
    }

    /// Why a text whose records do not make it the feed is refused: the
    /// first malformed record, and how many of how many `unit` (`lines`,
    /// `records`, `messages`) were malformed.
    pub fn not_the_feed(&self, unit: &str) -> String {
        let RecordCounts { records, malformed } = self.counts;
        match &self.first_malformed {
            Some(first) => format!("{first}; {malformed} of {records} {unit} malformed"),
            None => format!("no {unit}"),
        }
    }

    /// The counts and the first note, for the document.
    pub(crate) fn finish(self) -> (RecordCounts, Option<String>) {
        (self.counts, self.first_malformed)
    }
}

/// One non-blank line of a text, trimmed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Line<'a> {
    /// 1-based.
    pub number: usize,
    pub text: &'a str,
    /// No line break follows it: the text ends inside this line, which a
    /// copy taken while the file was being written may have cut off.
    pub unterminated: bool,
}

/// The non-blank lines of `text` (LF or CRLF line breaks), trimmed.
pub fn lines(text: &str) -> impl Iterator<Item = Line<'_>> {
    let last = text.matches('\n').count();
    text.split('\n').enumerate().filter_map(move |(index, line)| {
        let line = line.trim();
        (!line.is_empty()).then_some(Line { number: index + 1, text: line, unterminated: index == last })
    })
}

/// At most [`MAX_NOTE_CHARS`] characters of `note`, ending in `…` if cut.
pub fn cut_note(note: &str) -> String {
    match note.char_indices().nth(MAX_NOTE_CHARS - 1) {
        Some((end, _)) if note.chars().count() > MAX_NOTE_CHARS => format!("{}…", &note[..end]),
        _ => note.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tally(well_formed: u64, malformed: u64, torn: bool) -> Tally {
        let mut tally = Tally::default();
        for i in 0..malformed {
            tally.malformed(|| format!("record {i}"));
        }
        for _ in 0..well_formed {
            tally.well_formed();
        }
        if torn {
            tally.torn_tail(|| "torn".into());
        }
        tally
    }

    #[test]
    fn a_feed_is_mostly_well_formed_records() {
        // (well-formed, malformed, torn tail) -> is the feed
        let table = [
            ((0, 0, false), false),
            ((0, 1, false), false),
            ((0, 0, true), false),
            ((1, 0, false), true),
            ((1, 1, false), false),
            ((1, 0, true), true),
            ((1, 1, true), false),
            ((2, 1, false), true),
            ((2, 1, true), true),
            ((2, 2, false), false),
            ((7_000, 31, false), true),
            ((6_073, 0, true), true),
        ];
        for ((well, bad, torn), want) in table {
            assert_eq!(tally(well, bad, torn).is_feed(), want, "{well} well-formed, {bad} malformed, torn {torn}");
        }
    }

    #[test]
    fn counts_and_the_first_note() {
        let mut t = tally(3, 2, true);
        assert_eq!(t.counts(), RecordCounts { records: 6, malformed: 3 });
        assert_eq!(t.counts().well_formed(), 3);
        assert_eq!(t.first_malformed(), Some("record 0"));
        t.malformed(|| unreachable!("only the first note is built"));
        assert_eq!(t.not_the_feed("lines"), "record 0; 4 of 7 lines malformed");
        assert_eq!(Tally::default().not_the_feed("lines"), "no lines");
        let doc = crate::RawDoc::default().counted(t);
        assert_eq!((doc.counts.records, doc.first_malformed.as_deref()), (7, Some("record 0")));
    }

    #[test]
    fn lines_know_whether_a_line_break_ends_them() {
        let got: Vec<(usize, &str, bool)> =
            lines("a\r\n\n  b \n\t\nc").map(|l| (l.number, l.text, l.unterminated)).collect();
        assert_eq!(got, [(1, "a", false), (3, "b", false), (5, "c", true)]);
        let got: Vec<bool> = lines("a\nb\r\n").map(|l| l.unterminated).collect();
        assert_eq!(got, [false, false]);
        assert_eq!(lines(" \n\r\n").count(), 0);
    }

    #[test]
    fn notes_are_cut() {
        let long = "é".repeat(MAX_NOTE_CHARS + 1);
        let cut = cut_note(&long);
        assert_eq!(cut.chars().count(), MAX_NOTE_CHARS);
        assert!(cut.ends_with('…'));
        let exact = "é".repeat(MAX_NOTE_CHARS);
        assert_eq!(cut_note(&exact), exact);
        let mut t = Tally::default();
        t.malformed(|| long.clone());
        assert_eq!(t.first_malformed().map(|n| n.chars().count()), Some(MAX_NOTE_CHARS));
    }
}
