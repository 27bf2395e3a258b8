//! How a raw document is written out (`parse`, `dump archive`): one JSON
//! line in the reference's field order. `data` is the parser's JSON text as
//! is, so it may hold `NaN`/`Infinity`, as Python's `json.dumps` would write.

use cybexp_lake::RawDocument;

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
}
