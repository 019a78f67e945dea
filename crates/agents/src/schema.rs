//! A small JSON-schema check for task outputs: `type`, `required`, `properties`, `enum`,
//! `minimum`/`maximum` and array `items`. Enough to hold a model to a note's shape and tell it
//! precisely what is wrong; a full validator (the `jsonschema` crate) would add a regex engine
//! and a dozen crates to the build for keywords our schemas do not use.

use serde_json::Value;

/// Checks `value` against `schema`; the error names the first mismatch by its path.
///
/// # Errors
/// A readable reason such as `$.confidence: 1.4 is above the maximum 1`.
pub fn check(schema: &Value, value: &Value) -> Result<(), String> {
    check_at(schema, value, "$")
}

fn check_at(schema: &Value, value: &Value, path: &str) -> Result<(), String> {
    let Some(schema) = schema.as_object() else { return Ok(()) };
    if let Some(expected) = schema.get("type") {
        let allowed: Vec<&str> = match expected {
            Value::String(one) => vec![one.as_str()],
            Value::Array(many) => many.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        if !allowed.is_empty() && !allowed.iter().any(|kind| is_type(value, kind)) {
            return Err(format!("{path}: expected {}, found {}", allowed.join(" or "), type_name(value)));
        }
    }
    if let Some(options) = schema.get("enum").and_then(Value::as_array)
        && !options.contains(value)
    {
        return Err(format!("{path}: {value} is not one of {}", Value::Array(options.clone())));
    }
    if let Some(number) = value.as_f64() {
        if let Some(minimum) = schema.get("minimum").and_then(Value::as_f64)
            && number < minimum
        {
            return Err(format!("{path}: {number} is below the minimum {minimum}"));
        }
        if let Some(maximum) = schema.get("maximum").and_then(Value::as_f64)
            && number > maximum
        {
            return Err(format!("{path}: {number} is above the maximum {maximum}"));
        }
    }
    if let Some(object) = value.as_object() {
        for name in schema.get("required").and_then(Value::as_array).into_iter().flatten() {
            if let Some(name) = name.as_str()
                && !object.contains_key(name)
            {
                return Err(format!("{path}: missing required property {name:?}"));
            }
        }
        if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
            for (name, property) in properties {
                if let Some(inner) = object.get(name) {
                    check_at(property, inner, &format!("{path}.{name}"))?;
                }
            }
        }
    }
    if let (Some(items), Some(array)) = (schema.get("items"), value.as_array()) {
        for (index, item) in array.iter().enumerate() {
            check_at(items, item, &format!("{path}[{index}]"))?;
        }
    }
    Ok(())
}

fn is_type(value: &Value, kind: &str) -> bool {
    match kind {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "number" => value.is_number(),
        "integer" => value.is_i64() || value.is_u64(),
        "boolean" => value.is_boolean(),
        "null" => value.is_null(),
        _ => true,
    }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::check;

    fn note_schema() -> serde_json::Value {
        json!({
            "type": "object",
            "required": ["rating", "confidence", "risks"],
            "properties": {
                "rating": {"type": "string", "enum": ["buy", "hold", "sell"]},
                "confidence": {"type": "number", "minimum": 0, "maximum": 1},
                "risks": {"type": "array", "items": {"type": "string"}}
            }
        })
    }

    #[test]
    fn accepts_a_matching_value() {
        assert_eq!(
            check(&note_schema(), &json!({"rating": "buy", "confidence": 0.7, "risks": ["x"]})),
            Ok(())
        );
    }

    #[test]
    fn names_the_first_mismatch() {
        let schema = note_schema();
        let missing = check(&schema, &json!({"rating": "buy", "confidence": 0.7})).unwrap_err();
        assert!(missing.contains("\"risks\""), "{missing}");
        let bad_enum =
            check(&schema, &json!({"rating": "strong buy", "confidence": 0.7, "risks": []})).unwrap_err();
        assert!(bad_enum.starts_with("$.rating"), "{bad_enum}");
        let too_high = check(&schema, &json!({"rating": "buy", "confidence": 1.4, "risks": []})).unwrap_err();
        assert!(too_high.contains("maximum"), "{too_high}");
        let bad_item =
            check(&schema, &json!({"rating": "buy", "confidence": 0.4, "risks": [3]})).unwrap_err();
        assert!(bad_item.starts_with("$.risks[0]"), "{bad_item}");
        assert!(check(&schema, &json!([1])).unwrap_err().contains("expected object"));
    }
}
