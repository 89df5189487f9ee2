//! A script's `input_schema` (JSON Schema 2020-12, checked with the
//! jsonschema crate): whether a schema is one, and whether an input fits,
//! with the JSON pointer of the first value that does not. Compiled
//! schemas are kept per backend by their text. Pure: no Postgres.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use serde_json::Value;

/// Compiled schemas kept per backend, then emptied.
const MAX_CACHED: usize = 256;

thread_local! {
    static COMPILED: RefCell<HashMap<String, Rc<jsonschema::Validator>>> = RefCell::new(HashMap::new());
}

/// Why an input was refused: where (a JSON pointer, "" for the whole input) and what.
#[derive(Debug, PartialEq)]
pub struct Refusal {
    pub pointer: String,
    pub message: String,
}

fn compile(schema: &Value) -> Result<jsonschema::Validator, String> {
    if !matches!(schema, Value::Object(_) | Value::Bool(_)) {
        return Err("an input_schema is a JSON Schema: an object or a boolean".into());
    }
    jsonschema::draft202012::new(schema).map_err(|e| {
        let at = e.instance_path().as_str().to_string();
        if at.is_empty() {
            format!("not a valid JSON Schema 2020-12: {e}")
        } else {
            format!("not a valid JSON Schema 2020-12 at {at}: {e}")
        }
    })
}

/// Err says why `schema` is not a JSON Schema 2020-12 this server can use.
pub fn check_schema(schema: &Value) -> Result<(), String> {
    compile(schema).map(|_| ())
}

/// Whether `input` fits the schema whose JSON text is `schema_text`.
pub fn check_input(schema_text: &str, input: &Value) -> Result<(), Refusal> {
    let validator = COMPILED.with(|c| c.borrow().get(schema_text).cloned());
    let validator = match validator {
        Some(v) => v,
        None => {
            let schema: Value = serde_json::from_str(schema_text).map_err(|e| Refusal {
                pointer: String::new(),
                message: format!("the script's input_schema is not JSON: {e}"),
            })?;
            let v = Rc::new(compile(&schema).map_err(|m| Refusal {
                pointer: String::new(),
                message: format!("the script's input_schema is {m}"),
            })?);
            COMPILED.with(|c| {
                let mut c = c.borrow_mut();
                if c.len() >= MAX_CACHED {
                    c.clear();
                }
                c.insert(schema_text.to_string(), v.clone());
            });
            v
        }
    };
    validator.validate(input).map_err(|e| Refusal {
        pointer: e.instance_path().as_str().to_string(),
        message: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ORDER: &str = r#"{"type": "object", "required": ["amount"],
        "properties": {"amount": {"type": "number", "minimum": 0},
                       "items": {"type": "array", "items": {"type": "string"}}}}"#;

    #[test]
    fn inputs_fit_or_are_refused_with_a_pointer() {
        assert_eq!(check_input(ORDER, &json!({"amount": 3})), Ok(()));
        let r = check_input(ORDER, &json!({"amount": "3"})).unwrap_err();
        assert_eq!(r.pointer, "/amount");
        assert!(r.message.contains("number"), "{}", r.message);
        let r = check_input(ORDER, &json!({"amount": 1, "items": ["a", 2]})).unwrap_err();
        assert_eq!(r.pointer, "/items/1");
        let r = check_input(ORDER, &json!({})).unwrap_err();
        assert_eq!(r.pointer, "");
        assert!(r.message.contains("amount"), "{}", r.message);
    }

    #[test]
    fn schemas_are_checked() {
        assert!(check_schema(&json!({"type": "object"})).is_ok());
        assert!(check_schema(&json!(true)).is_ok());
        assert!(check_schema(&json!({"type": "nothing"})).is_err());
        assert!(check_schema(&json!({"minimum": "five"})).is_err());
        assert!(check_schema(&json!([1])).is_err());
    }
}
