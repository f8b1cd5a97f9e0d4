//! Values that fit a JSON schema, so structured-output and tool clients can be tested end to
//! end: the mock answers a `json_schema` format, or calls a tool, with one of these.

use serde_json::{Map, Value, json};

/// A value `schema` accepts: the first `enum` or `const`, every property of an object (required
/// or not), one item of an array, `"t0"` for strings, 0 for numbers, `true` for booleans.
pub fn example(schema: &Value) -> Value {
    example_at(schema, schema, 0)
}

fn example_at(schema: &Value, root: &Value, depth: usize) -> Value {
    if depth > 16 {
        return Value::Null;
    }
    if let Some(c) = schema.get("const") {
        return c.clone();
    }
    if let Some(first) = schema["enum"].as_array().and_then(|e| e.first()) {
        return first.clone();
    }
    if let Some(r) = schema["$ref"].as_str() {
        // Local references only (`#/$defs/X`, `#/definitions/X`), as pydantic and zod write them.
        let target = r.strip_prefix('#').and_then(|p| root.pointer(p)).unwrap_or(&Value::Null);
        return example_at(target, root, depth + 1);
    }
    for combo in ["anyOf", "oneOf", "allOf"] {
        if let Some(first) = schema[combo].as_array().and_then(|a| a.first()) {
            return example_at(first, root, depth + 1);
        }
    }
    let kind = match &schema["type"] {
        Value::String(s) => s.as_str(),
        Value::Array(types) => types.iter().filter_map(Value::as_str).find(|t| *t != "null").unwrap_or("null"),
        _ if schema.get("properties").is_some() => "object",
        _ => "string",
    };
    match kind {
        "object" => {
            let mut o = Map::new();
            for (k, s) in schema["properties"].as_object().into_iter().flatten() {
                o.insert(k.clone(), example_at(s, root, depth + 1));
            }
            Value::Object(o)
        }
        "array" => json!([example_at(&schema["items"], root, depth + 1)]),
        "integer" | "number" => json!(schema["minimum"].as_i64().unwrap_or(0)),
        "boolean" => json!(true),
        "null" => Value::Null,
        _ => json!("t0"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn examples_fit_their_schemas() {
        let s = json!({"type":"object","properties":{"city":{"type":"string"},"days":{"type":"integer","minimum":1},
            "unit":{"enum":["c","f"]},"tags":{"type":"array","items":{"type":"string"}},
            "where":{"$ref":"#/$defs/Place"}},"$defs":{"Place":{"type":"object","properties":{"lat":{"type":"number"}}}}});
        assert_eq!(example(&s), json!({"city":"t0","days":1,"unit":"c","tags":["t0"],"where":{"lat":0}}));
        assert_eq!(example(&json!({"type":["null","boolean"]})), json!(true));
    }
}
