//! How a raw document is written out (`parse`, `dump archive`): one JSON
//! line in the reference's field order. `data` is the parser's JSON text as
//! is, so it may hold `NaN`/`Infinity`, as Python's `json.dumps` would write.
//! And what its parser read, for a person (`parse`, `parser check`, `replay`).

use cybexp_lake::RawDocument;
use cybexp_sandbox::RecordCounts;

pub fn to_json_line(doc: &RawDocument) -> String {
    let s = |v: &str| serde_json::Value::from(v).to_string();
    format!(
        "{{\"itype\": {}, \"data\": {}, \"orgid\": {}, \"timezone\": {}, \"sub_type\": {}, \"_hash\": {}}}",
        s(RawDocument::ITYPE),
        doc.data_json,
        s(&doc.orgid),
        s(&doc.timezone),
        s(&doc.sub_type),
        s(&doc.hash)
    )
}

/// The records a parser read, in words: `7032, 31 malformed (first: line
/// 812: …)`, or `none counted` for a parser that counts none. The note
/// comes from the parser and may quote the feed, so it is escaped.
pub fn records_summary(counts: RecordCounts, first_malformed: Option<&str>) -> String {
    let RecordCounts { records, malformed } = counts;
    match (records, first_malformed) {
        (0, _) => "none counted".to_owned(),
        (_, Some(first)) if malformed > 0 => {
            format!("{records}, {malformed} malformed (first: {})", cybexp_status::untrusted::escape(first))
        }
        _ => format!("{records}, {malformed} malformed"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_in_reference_order_with_data_verbatim() {
        let doc = RawDocument {
            sub_type: "x".into(),
            data_json: "{\"a\": NaN}".into(),
            orgid: "o\"1".into(),
            timezone: "UTC".into(),
            hash: "ab".into(),
        };
        assert_eq!(
            to_json_line(&doc),
            r#"{"itype": "raw", "data": {"a": NaN}, "orgid": "o\"1", "timezone": "UTC", "sub_type": "x", "_hash": "ab"}"#
        );
    }

    #[test]
    fn records_in_words() {
        assert_eq!(records_summary(RecordCounts::default(), None), "none counted");
        assert_eq!(records_summary(RecordCounts { records: 300, malformed: 0 }, None), "300, 0 malformed");
        let counts = RecordCounts { records: 7_032, malformed: 31 };
        assert_eq!(
            records_summary(counts, Some("line 812: whitespace\u{1b}[2J")),
            "7032, 31 malformed (first: line 812: whitespace\\u{1b}[2J)"
        );
    }
}
