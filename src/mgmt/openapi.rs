//! The OpenAPI 3.1 document of the management API, made from the route
//! table (`routes::ROUTES`) and the schemas below. Pure.

use serde_json::{json, Map, Value};

use super::routes::{RouteDef, PREFIX, ROUTES};

/// The whole document.
pub fn document() -> Value {
    let mut paths = Map::new();
    for r in ROUTES {
        let path = format!("{PREFIX}{}", r.path);
        let item = paths.entry(path).or_insert_with(|| json!({}));
        item[r.method.to_ascii_lowercase()] = operation(r);
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "jsruntime management API",
            "version": "1",
            "description": "Everything a SQL user of jsruntime can do, over HTTP. Each request runs as its API key's role within the key's tenant (a jsrt_superadmin key may name one with X-Jsrt-Tenant), so row-level security and the role grants decide. Errors are application/problem+json (RFC 9457) with the SQLSTATE."
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}, {"apiKey": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"}
            },
            "schemas": schemas(),
            "responses": {
                "Problem": {
                    "description": "An RFC 9457 problem",
                    "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
                }
            }
        }
    })
}

fn operation(r: &RouteDef) -> Value {
    let mut params: Vec<Value> = r
        .path
        .split('/')
        .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .map(|name| {
            let schema = if name == "version" {
                json!({"type": "integer", "minimum": 1})
            } else {
                json!({"type": "string", "minLength": 1})
            };
            json!({"name": name, "in": "path", "required": true, "schema": schema})
        })
        .collect();
    for (name, ty, description) in r.query {
        params.push(json!({"name": name, "in": "query", "required": false,
                           "description": description, "schema": {"type": ty}}));
    }
    params.push(
        json!({"name": "X-Jsrt-Tenant", "in": "header", "required": false,
                       "description": "the tenant a jsrt_superadmin key acts in (name or id)",
                       "schema": {"type": "string"}}),
    );
    if r.method == "PATCH" || r.method == "DELETE" && r.path == "/scripts/{name}" {
        params.push(
            json!({"name": "If-Match", "in": "header", "required": false,
                           "description": "the ETag the change is based on; a stale one gets 412",
                           "schema": {"type": "string"}}),
        );
    }
    let ok_content = match (r.returns, r.path) {
        (_, "/jsrt.d.ts") => json!({"text/plain": {"schema": {"type": "string"}}}),
        (_, "/openapi.json") => json!({"application/json": {"schema": {"type": "object"}}}),
        (_, "/runs/stream") => json!({"text/event-stream": {"schema": {"type": "string"}}}),
        (Some(s), _) => {
            json!({"application/json": {"schema": {"$ref": format!("#/components/schemas/{s}")}}})
        }
        (None, _) => Value::Null,
    };
    let mut ok = json!({"description": r.summary});
    if !ok_content.is_null() {
        ok["content"] = ok_content;
    }
    let mut responses = Map::new();
    responses.insert(r.ok.to_string(), ok);
    if r.ok == 202 {
        // a run started with wait that ended in time
        responses.insert(
            "200".into(),
            json!({"description": "the run ended within the wait",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Run"}}}}),
        );
    }
    for code in [
        "400", "401", "403", "404", "409", "412", "422", "429", "503",
    ] {
        responses.insert(
            code.into(),
            json!({"$ref": "#/components/responses/Problem"}),
        );
    }
    let mut op = json!({
        "operationId": r.op_id,
        "summary": r.summary,
        "description": format!("Needs {} or a role above it.", r.role),
        "tags": [r.tag],
        "parameters": params,
        "responses": responses,
    });
    if let Some(body) = r.body {
        op["requestBody"] = json!({"required": true, "content": {"application/json":
            {"schema": {"$ref": format!("#/components/schemas/{body}")}}}});
    }
    op
}

fn page(item: &str) -> Value {
    json!({"type": "object", "required": ["items", "next_cursor"], "properties": {
        "items": {"type": "array", "items": {"$ref": format!("#/components/schemas/{item}")}},
        "next_cursor": {"type": ["string", "null"], "description": "pass as cursor for the next page; null on the last"}}})
}

fn list(item: &str) -> Value {
    json!({"type": "object", "required": ["items"], "properties": {
        "items": {"type": "array", "items": {"$ref": format!("#/components/schemas/{item}")}}}})
}

fn schemas() -> Value {
    let options = json!({
        "description": {"type": ["string", "null"]},
        "status": {"enum": ["draft", "active", "paused", "disabled", "archived"]},
        "cron_expression": {"type": ["string", "null"]},
        "timezone": {"type": "string"},
        "http_path": {"type": ["string", "null"]},
        "http_methods": {"type": ["array", "null"], "items": {"type": "string"}},
        "event_types": {"type": ["array", "null"], "items": {"type": "string"}},
        "resource_limits": {"type": "object"},
        "metadata": {"type": "object"},
        "tags": {"type": ["array", "null"], "items": {"type": "string"}},
        "history": {"enum": ["all", "sampled", "errors"]},
        "organization_id": {"type": ["string", "null"]},
        "overlap": {"enum": ["skip", "queue"]},
        "catch_up": {"enum": ["none", "one", "all"]},
        "catch_up_window_s": {"type": "integer"},
        "http_auth": {"enum": ["api_key", "public"]},
        "retry": {"type": ["object", "null"]},
        "input_schema": {"type": ["object", "boolean", "null"], "description": "a JSON Schema (2020-12) every run's input must fit"}
    });
    let mut create = options.clone();
    create["name"] = json!({"type": "string", "minLength": 1, "maxLength": 255});
    create["source"] = json!({"type": "string"});
    create["type"] = json!({"enum": ["scheduled", "http", "event", "oneoff", "embedded"]});
    let mut update = options.clone();
    update["source"] = json!({"type": "string"});
    update["change_description"] = json!({"type": "string"});
    let mut script = create.clone();
    for (k, v) in [
        ("id", json!({"type": "string", "format": "uuid"})),
        ("version", json!({"type": "integer"})),
        ("etag", json!({"type": "string"})),
        (
            "created_at",
            json!({"type": "string", "format": "date-time"}),
        ),
        (
            "updated_at",
            json!({"type": "string", "format": "date-time"}),
        ),
        ("created_by", json!({"type": ["string", "null"]})),
        ("updated_by", json!({"type": ["string", "null"]})),
        ("last_run_status", json!({"type": ["string", "null"]})),
        (
            "last_run_at",
            json!({"type": ["string", "null"], "format": "date-time"}),
        ),
        (
            "next_run_at",
            json!({"type": ["string", "null"], "format": "date-time"}),
        ),
    ] {
        script[k] = v;
    }
    let run = json!({"type": "object", "required": ["id", "status"], "properties": {
        "id": {"type": "string", "format": "uuid"},
        "script_id": {"type": "string", "format": "uuid"},
        "script": {"type": ["string", "null"]},
        "status": {"enum": ["pending", "running", "completed", "failed", "timeout", "cancelled"]},
        "trigger_type": {"type": "string"},
        "input": {}, "output": {}, "error": {"type": ["string", "null"]},
        "error_detail": {"type": ["object", "null"]}, "metrics": {"type": ["object", "null"]},
        "logs": {"type": ["array", "null"]}, "version_number": {"type": ["integer", "null"]},
        "attempt": {"type": ["integer", "null"]},
        "started_at": {"type": ["string", "null"], "format": "date-time"},
        "completed_at": {"type": ["string", "null"], "format": "date-time"},
        "live": {"type": ["object", "null"], "description": "progress and last log lines while it runs"}}});
    json!({
        "Problem": {"type": "object", "required": ["type", "title", "status", "detail"], "properties": {
            "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
            "detail": {"type": "string"}, "sqlstate": {"type": "string"}, "field": {"type": "string"},
            "line": {"type": "integer"}, "column": {"type": "integer"}, "pointer": {"type": "string"},
            "hint": {"type": "string"}}},
        "Me": {"type": "object", "required": ["role", "tenant_id", "tenant"], "properties": {
            "role": {"enum": ["jsrt_viewer", "jsrt_developer", "jsrt_admin", "jsrt_superadmin"]},
            "tenant_id": {"type": "string", "format": "uuid"}, "tenant": {"type": "string"}}},
        "ScriptCreate": {"type": "object", "required": ["name", "source"], "properties": create},
        "ScriptUpdate": {"type": "object", "properties": update},
        "Script": {"type": "object", "required": ["id", "name", "version", "etag"], "properties": script},
        "ScriptPage": page("Script"),
        "StatusChange": {"type": "object", "required": ["status"], "properties": {"status": options["status"]}},
        "Version": {"type": "object", "properties": {
            "version": {"type": "integer"}, "source": {"type": "string"},
            "change_description": {"type": ["string", "null"]}, "created_by": {"type": ["string", "null"]},
            "created_at": {"type": "string", "format": "date-time"}}},
        "VersionList": list("Version"),
        "Diff": {"type": "object", "properties": {"from": {"type": "integer"}, "to": {"type": "integer"},
            "diff": {"type": "string"}}},
        "Rollback": {"type": "object", "required": ["version"], "properties": {"version": {"type": "integer", "minimum": 1}}},
        "Schedule": {"type": "object", "properties": {"script": {"type": "string"},
            "cron_expression": {"type": "string"}, "timezone": {"type": "string"},
            "status": {"type": "string"},
            "next_runs": {"type": "array", "items": {"type": "string", "format": "date-time"}}}},
        "ScheduleList": list("Schedule"),
        "DryRunRequest": {"type": "object", "properties": {
            "source": {"type": ["string", "null"], "description": "an edited source; the script's own when left out"},
            "input": {}, "allow_http": {"type": "boolean", "description": "let ctx.http requests out (refused by default)"}}},
        "DryRunResult": {"type": "object", "required": ["ok", "writes", "logs"], "properties": {
            "ok": {"type": "boolean"}, "output": {}, "error": {"type": ["object", "null"]},
            "logs": {"type": "array"}, "duration_ms": {"type": "number"}, "rolled_back": {"type": "boolean"},
            "writes": {"type": "array", "items": {"type": "object", "properties": {
                "table": {"type": "string"}, "operation": {"enum": ["insert", "update", "delete"]},
                "count": {"type": "integer"}, "sample": {"type": "array"}}}}}},
        "RunStart": {"type": "object", "properties": {"input": {},
            "wait": {"type": "integer", "minimum": 0, "maximum": 30, "description": "seconds to wait for the end"}}},
        "Replay": {"type": "object", "properties": {"input": {"description": "the input; the original run's when left out"}}},
        "Run": run,
        "RunPage": page("Run"),
        "Cancelled": {"type": "object", "properties": {"cancelled": {"type": "boolean"}}},
        "DeadLetter": {"type": "object", "properties": {"id": {"type": "string"}, "script": {"type": "string"},
            "event_type": {"type": "string"}, "event_data": {}, "error": {"type": "string"},
            "retry_count": {"type": "integer"}, "created_at": {"type": "string", "format": "date-time"}}},
        "DeadLetterPage": page("DeadLetter"),
        "Redrive": {"type": "object", "properties": {"script": {"type": ["string", "null"]},
            "event_type": {"type": ["string", "null"]}, "since": {"type": ["string", "null"], "format": "date-time"}}},
        "Redriven": {"type": "object", "properties": {"redriven": {"type": "integer"}}},
        "Event": {"type": "object", "required": ["type"], "properties": {"type": {"type": "string"}, "payload": {}}},
        "Emitted": {"type": "object", "properties": {"id": {"type": "integer"}}},
        "Secret": {"type": "object", "properties": {"name": {"type": "string"},
            "updated_at": {"type": "string", "format": "date-time"}, "updated_by": {"type": ["string", "null"]}}},
        "SecretList": list("Secret"),
        "SecretValue": {"type": "object", "required": ["value"], "properties": {"value": {"type": "string"}}},
        "Key": {"type": "object", "properties": {"id": {"type": "string"}, "name": {"type": "string"},
            "role": {"type": "string"}, "created_at": {"type": "string", "format": "date-time"},
            "revoked_at": {"type": ["string", "null"], "format": "date-time"}}},
        "KeyList": list("Key"),
        "KeyCreate": {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"},
            "role": {"enum": ["jsrt_viewer", "jsrt_developer", "jsrt_admin", "jsrt_superadmin"]}}},
        "KeyCreated": {"type": "object", "properties": {"name": {"type": "string"}, "role": {"type": "string"},
            "key": {"type": "string", "description": "shown only now"}}},
        "Bundle": {"type": "object", "required": ["scripts"], "properties": {
            "scripts": {"type": "array", "items": {"$ref": "#/components/schemas/ScriptCreate"}}}},
        "Deployed": {"type": "object", "properties": {"scripts": {"type": "array", "items": {"type": "object",
            "properties": {"name": {"type": "string"}, "action": {"enum": ["created", "updated", "unchanged"]},
                           "version": {"type": "integer"}}}}}}
    })
}

#[cfg(test)]
mod tests {
    use super::super::routes::{find, Found};
    use super::*;

    /// The document and the router agree: every operation in the document
    /// routes to the route it documents, and every route is in the document.
    #[test]
    fn document_matches_router() {
        let doc = document();
        let paths = doc["paths"].as_object().unwrap();
        let mut seen = 0;
        for (path, item) in paths {
            for (method, op) in item.as_object().unwrap() {
                let concrete = path
                    .replace("{name}", "x")
                    .replace("{id}", "y")
                    .replace("{version}", "2");
                let m = method.to_ascii_uppercase();
                match find(&m, &concrete) {
                    Found::Route(o, _) => {
                        let r = ROUTES.iter().find(|r| r.op == o).unwrap();
                        assert_eq!(op["operationId"], r.op_id, "{m} {path}");
                    }
                    other => panic!("{m} {path} does not route: {other:?}"),
                }
                seen += 1;
            }
        }
        assert_eq!(seen, ROUTES.len());
    }

    #[test]
    fn every_reference_resolves() {
        let doc = document();
        let text = doc.to_string();
        let schemas = doc["components"]["schemas"].as_object().unwrap();
        for part in text.split("\"#/components/schemas/").skip(1) {
            let name = &part[..part.find('"').unwrap()];
            assert!(schemas.contains_key(name), "missing schema {name}");
        }
        assert_eq!(doc["openapi"], "3.1.0");
    }
}
