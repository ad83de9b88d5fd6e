//! The OpenAPI document and the conventions every operation in it follows
//! (docs/CONTRIBUTING.md, "Routes and the OpenAPI document").
//!
//! Handlers annotate what only they know: summary (the doc comment's first line), query and
//! header parameters, request body, success responses and the domain's own error codes
//! (`(status = 409, body = ProblemBody, description = "handle_taken, sku_taken")`). Everything
//! that follows from the shape of the operation is added here, one way for every route:
//!
//! * path parameters, from the path template and [`PATH_PARAMS`] (one schema per name);
//! * the errors the extractors answer: 400/404 for path parameters, 400 for query strings,
//!   400/413/415/422 for JSON bodies, 401 (and 403 for staff) for secured operations;
//! * every error response as `application/problem+json` with the [`ProblemBody`] schema, its
//!   description the list of codes it can carry;
//! * operation ids unique across audiences (`admin_list_products`, `store_list_products`).
//!
//! [`violations`] lists what this cannot repair (an unknown path parameter, a missing summary,
//! an unbounded `limit`, a `$ref` to nothing); a unit test keeps that list empty.
//!
//! [`ProblemBody`]: crate::problem::ProblemBody

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

use crate::problem::PROBLEM_JSON;

/// How a path parameter is spelled in every path that has it.
enum Kind {
    Uuid,
    Text,
}

/// Every path parameter name the API uses, with its schema and description. A new name goes
/// here (the conventions test names any that is missing).
const PATH_PARAMS: &[(&str, Kind, &str)] = &[
    ("store", Kind::Text, "store handle or id"),
    ("handle", Kind::Text, "product handle"),
    ("key", Kind::Text, "the object key (with its slashes)"),
    ("db_key", Kind::Text, "database connection key"),
    ("postal_code", Kind::Text, "a Japanese postal code: 1500001, 150-0001 (full-width digits too)"),
    ("tenant_id", Kind::Uuid, "tenant id"),
    ("store_id", Kind::Uuid, "store id"),
    ("vendor_id", Kind::Uuid, "vendor id"),
    ("location_id", Kind::Uuid, "location id"),
    ("staff_id", Kind::Uuid, "staff member id"),
    ("product_id", Kind::Uuid, "product id"),
    ("variant_id", Kind::Uuid, "variant id"),
    ("asset_id", Kind::Uuid, "digital asset id"),
    ("image_id", Kind::Uuid, "product image id"),
    ("customer_id", Kind::Uuid, "customer id"),
    ("address_id", Kind::Uuid, "address id"),
    ("order_id", Kind::Uuid, "order id"),
    ("kind", Kind::Text, "the document: invoice, receipt or delivery-slip"),
    ("shipment_id", Kind::Uuid, "shipment id"),
    ("delivery_id", Kind::Uuid, "delivery id"),
    ("promotion_id", Kind::Uuid, "promotion id"),
    ("statement_id", Kind::Uuid, "statement id"),
    ("webhook_id", Kind::Uuid, "webhook endpoint id"),
    ("webhook_delivery_id", Kind::Uuid, "webhook delivery id"),
    ("cart_id", Kind::Uuid, "cart id"),
    ("item_id", Kind::Uuid, "cart line id"),
    ("request_id", Kind::Uuid, "flash-sale add-to-cart request id"),
];

/// Largest `limit` of any list (kernel's `MAX_LIMIT`).
const MAX_LIMIT: u64 = kernel::page::MAX_LIMIT as u64;

const METHODS: &[&str] = &["get", "put", "post", "delete", "patch", "head", "options", "trace"];

/// The errors an extractor answers, by what the operation has.
const PATH_ERRORS: &[(u16, &str)] = &[(400, "invalid_path"), (404, "not_found")];
const QUERY_ERRORS: &[(u16, &str)] = &[(400, "invalid_query")];
const BODY_ERRORS: &[(u16, &str)] = &[(413, "payload_too_large"), (415, "unsupported_media_type")];
const JSON_BODY_ERRORS: &[(u16, &str)] = &[(400, "malformed_json"), (422, "invalid_body")];
const SECURED_ERRORS: &[(u16, &str)] = &[(401, "missing_token, invalid_token")];
/// Every API operation reaches the database: when no connection frees up in time, 503
/// `overloaded` with Retry-After (problem::ApiError).
const API_ERRORS: &[(u16, &str)] = &[(503, "overloaded")];
const STAFF_ERRORS: &[(u16, &str)] = &[(403, "permission_denied")];
const OPERATOR_ERRORS: &[(u16, &str)] = &[(401, "operator_api_disabled")];

/// The served document: every route of [`crate::routes`], with the conventions applied.
pub fn document() -> Value {
    let (_, mut doc) = crate::routes::api().split_for_parts();
    doc.merge(crate::routes::uploads().split_for_parts().1);
    crate::event_doc::publish(&mut doc);
    let mut doc = serde_json::to_value(doc).unwrap_or_default();
    conventions(&mut doc);
    doc
}

/// Calls `f` with each operation's path and object.
fn for_each_operation(doc: &mut Value, mut f: impl FnMut(&str, &mut Map<String, Value>)) {
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else { return };
    for (path, item) in paths.iter_mut() {
        for (method, op) in item.as_object_mut().into_iter().flatten() {
            if let (true, Some(op)) = (METHODS.contains(&method.as_str()), op.as_object_mut()) {
                f(path, op);
            }
        }
    }
}

fn operations(doc: &Value) -> Vec<(String, &str, &Map<String, Value>)> {
    let mut out = Vec::new();
    for (path, item) in doc.get("paths").and_then(Value::as_object).into_iter().flatten() {
        for (method, op) in item.as_object().into_iter().flatten() {
            if let (Some(m), Some(op)) = (METHODS.iter().find(|m| **m == method), op.as_object()) {
                out.push((path.clone(), *m, op));
            }
        }
    }
    out
}

/// The `{name}`s of a path template, in order.
fn template_params(path: &str) -> Vec<&str> {
    path.split('{').skip(1).filter_map(|s| s.split_once('}').map(|(name, _)| name)).collect()
}

fn path_param(name: &str) -> Value {
    let (schema, description) = match PATH_PARAMS.iter().find(|(n, ..)| *n == name) {
        Some((_, Kind::Uuid, d)) => (json!({"type": "string", "format": "uuid"}), *d),
        Some((_, Kind::Text, d)) => (json!({"type": "string", "minLength": 1}), *d),
        None => (json!({"type": "string"}), ""),
    };
    json!({"name": name, "in": "path", "required": true, "description": description, "schema": schema})
}

fn audience(path: &str) -> &str {
    path.trim_start_matches('/').split('/').next().unwrap_or("")
}

fn security_schemes(op: &Map<String, Value>) -> BTreeSet<String> {
    op.get("security")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
        .flat_map(|req| req.keys().cloned())
        .collect()
}

/// Applies the conventions to a document built from the route annotations.
pub fn conventions(doc: &mut Value) {
    for_each_operation(doc, |path, op| {
        // path parameters: one declaration per name, from the template
        let names = template_params(path);
        let mut params: Vec<Value> = names.iter().map(|n| path_param(n)).collect();
        let others = op.remove("parameters").and_then(|p| p.as_array().cloned()).unwrap_or_default();
        let has_query = others.iter().any(|p| p["in"] == "query");
        params.extend(others.into_iter().filter(|p| p["in"] != "path"));
        if !params.is_empty() {
            op.insert("parameters".into(), Value::Array(params));
        }

        if let Some(id) = op.get("operationId").and_then(Value::as_str) {
            let prefix = format!("{}_", audience(path));
            if !id.starts_with(&prefix) {
                let id = format!("{prefix}{id}");
                op.insert("operationId".into(), Value::String(id));
            }
        }

        let mut errors: Vec<(u16, &str)> = Vec::new();
        if ["platform", "admin", "store"].contains(&audience(path)) {
            errors.extend(API_ERRORS);
        }
        if !names.is_empty() {
            errors.extend(PATH_ERRORS);
        }
        if has_query {
            errors.extend(QUERY_ERRORS);
        }
        if let Some(content) = op.get("requestBody").and_then(|b| b.get("content")).and_then(Value::as_object) {
            errors.extend(BODY_ERRORS);
            if content.keys().any(|ct| ct == "application/json") {
                errors.extend(JSON_BODY_ERRORS);
            }
        }
        let schemes = security_schemes(op);
        if schemes.contains("staff") {
            errors.extend(SECURED_ERRORS);
            errors.extend(STAFF_ERRORS);
        }
        if schemes.contains("operator") {
            errors.extend(SECURED_ERRORS);
            errors.extend(OPERATOR_ERRORS);
        }
        if schemes.contains("shopper") {
            errors.extend(SECURED_ERRORS);
        }

        let responses = op.entry("responses").or_insert_with(|| json!({}));
        let Some(responses) = responses.as_object_mut() else { return };
        for (status, codes) in errors {
            let response = responses.entry(status.to_string()).or_insert_with(|| json!({"description": ""}));
            let description = response.get("description").and_then(Value::as_str).unwrap_or("");
            let mut listed: Vec<String> =
                description.split(',').map(str::trim).filter(|c| !c.is_empty()).map(String::from).collect();
            for code in codes.split(", ") {
                if !description.contains(code) {
                    listed.push(code.to_string());
                }
            }
            response["description"] = Value::String(listed.join(", "));
        }
        for (status, response) in responses.iter_mut() {
            if status.starts_with('4') || status.starts_with('5') {
                response["content"] = json!({ PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/ProblemBody"}} });
                if response.get("description").and_then(Value::as_str).is_none_or(str::is_empty) {
                    response["description"] = Value::String(default_code(status).into());
                }
            }
        }
    });
}

fn default_code(status: &str) -> &'static str {
    match status {
        "400" => "bad_request",
        "401" => "missing_token, invalid_token",
        "403" => "permission_denied",
        "404" => "not_found",
        "409" => "conflict",
        "413" => "payload_too_large",
        "415" => "unsupported_media_type",
        "422" => "validation_failed",
        "429" => "too_many_attempts",
        "503" => "unavailable",
        _ => "see docs/ERRORS.md",
    }
}

/// What the conventions cannot repair: each entry names the operation and what to change.
pub fn violations(doc: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let mut ids = BTreeSet::new();
    for (path, method, op) in operations(doc) {
        let at = format!("{} {path}", method.to_uppercase());
        for name in template_params(&path) {
            if !PATH_PARAMS.iter().any(|(n, ..)| *n == name) {
                out.push(format!("{at}: path parameter `{name}` is not in openapi::PATH_PARAMS"));
            }
        }
        if op.get("summary").and_then(Value::as_str).is_none_or(str::is_empty) {
            out.push(format!("{at}: no summary (give the handler a doc comment)"));
        }
        match op.get("operationId").and_then(Value::as_str) {
            Some(id) if !ids.insert(id.to_string()) => out.push(format!("{at}: operationId `{id}` is taken")),
            Some(_) => {}
            None => out.push(format!("{at}: no operationId")),
        }
        if op.get("tags").and_then(Value::as_array).is_none_or(Vec::is_empty) {
            out.push(format!("{at}: no tag"));
        }
        for p in op.get("parameters").and_then(Value::as_array).into_iter().flatten() {
            if p["in"] == "query" && p["name"] == "limit" {
                let schema = &p["schema"];
                if schema["minimum"] != json!(1) || schema["maximum"] != json!(MAX_LIMIT) {
                    out.push(format!("{at}: `limit` must declare minimum 1 and maximum {MAX_LIMIT}"));
                }
            }
        }
        let secured = !security_schemes(op).is_empty();
        let public = match audience(&path) {
            "admin" => PUBLIC_ADMIN.contains(&path.as_str()),
            "platform" => false,
            _ => true,
        };
        if !secured && !public {
            out.push(format!("{at}: declare security(...) (staff or operator)"));
        }
        let responses = op.get("responses").and_then(Value::as_object);
        if responses.is_none_or(|r| !r.keys().any(|s| s.starts_with('2') || s.starts_with('3'))) {
            out.push(format!("{at}: no success response"));
        }
    }
    let text = doc.to_string();
    let schemas = doc.pointer("/components/schemas").and_then(Value::as_object);
    for r in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
        let name = r.split('"').next().unwrap_or("");
        if !schemas.is_some_and(|s| s.contains_key(name)) {
            out.push(format!("$ref to schema `{name}`, which is not in components (register it or #[param(inline)])"));
        }
    }
    out.sort();
    out.dedup();
    out
}

/// Operations under `/admin/v1` that need no staff token.
const PUBLIC_ADMIN: &[&str] = &["/admin/v1/auth/login"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_follows_the_conventions() {
        let doc = document();
        let found = violations(&doc);
        assert!(found.is_empty(), "the OpenAPI conventions are broken:\n{}", found.join("\n"));
    }

    #[test]
    fn every_operation_declares_its_path_parameters_and_errors() {
        let doc = document();
        for (path, method, op) in operations(&doc) {
            let params = op.get("parameters").and_then(Value::as_array).cloned().unwrap_or_default();
            for name in template_params(&path) {
                assert!(
                    params.iter().any(|p| p["in"] == "path" && p["name"] == name && p["required"] == true),
                    "{method} {path}: {name}"
                );
            }
            for (status, response) in op["responses"].as_object().into_iter().flatten() {
                if status.starts_with('4') {
                    assert!(response["content"].get(PROBLEM_JSON).is_some(), "{method} {path} {status}");
                    assert!(response["content"].get("application/json").is_none(), "{method} {path} {status}");
                }
            }
            if !security_schemes(op).is_empty() {
                assert!(op["responses"].get("401").is_some(), "{method} {path}: 401");
            }
        }
    }

    #[test]
    fn a_route_that_breaks_them_is_named() {
        let mut doc = json!({
            "paths": {"/admin/v1/widgets/{widget_id}": {"get": {
                "operationId": "get_widget", "tags": ["x"],
                "parameters": [{"name": "limit", "in": "query", "schema": {"type": "integer"}}],
                "responses": {"200": {"description": "", "content": {"application/json":
                    {"schema": {"$ref": "#/components/schemas/Widget"}}}}}
            }}},
            "components": {"schemas": {}}
        });
        conventions(&mut doc);
        let found = violations(&doc).join("\n");
        assert!(found.contains("`widget_id` is not in openapi::PATH_PARAMS"), "{found}");
        assert!(found.contains("no summary"), "{found}");
        assert!(found.contains("`limit` must declare"), "{found}");
        assert!(found.contains("declare security"), "{found}");
        assert!(found.contains("schema `Widget`"), "{found}");
        let op = &doc["paths"]["/admin/v1/widgets/{widget_id}"]["get"];
        assert_eq!(op["operationId"], "admin_get_widget");
        assert_eq!(
            op["responses"]["404"]["content"][PROBLEM_JSON]["schema"]["$ref"],
            "#/components/schemas/ProblemBody"
        );
        assert!(op["responses"]["400"]["description"].as_str().unwrap_or("").contains("invalid_query"));
    }
}
