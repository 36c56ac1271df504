"""The interactive docs page at /docs: one self-contained HTML file (no CDN: the machines
that run this cannot be assumed to reach one) that reads /openapi.json and renders each
operation with its parameters, body and responses, plus a "try it" form.

All text from the document is inserted with textContent, never as HTML. A Content Security
Policy allows exactly the inline script and style below (by hash) and requests to this
origin.
"""

from __future__ import annotations

import base64
import hashlib

_STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 0; color: #1d2330; background: #f6f7f9; }
header { background: #1d2330; color: #fff; padding: 14px 24px; }
header h1 { margin: 0; font-size: 20px; }
header p { margin: 4px 0 0; color: #c9cfdb; }
main { max-width: 1100px; margin: 0 auto; padding: 16px 24px 48px; }
h2 { margin: 28px 0 8px; font-size: 17px; text-transform: capitalize; }
details { background: #fff; border: 1px solid #d8dce4; border-radius: 6px; margin: 6px 0; }
summary { cursor: pointer; padding: 8px 12px; display: flex; gap: 12px; align-items: center; }
.method { font: bold 12px monospace; padding: 2px 8px; border-radius: 4px; color: #fff;
  min-width: 44px; text-align: center; }
.get { background: #2f7d4f; } .post { background: #2c5fa8; }
.path { font-family: monospace; font-size: 14px; }
.summary { color: #555; }
.op { padding: 4px 16px 16px; border-top: 1px solid #eceef2; }
table { border-collapse: collapse; width: 100%; margin: 6px 0; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid #eceef2;
  vertical-align: top; }
th { font-weight: 600; color: #444; }
code, pre, input, textarea { font-family: ui-monospace, monospace; font-size: 13px; }
pre { background: #f3f4f7; padding: 8px; border-radius: 4px; overflow: auto; margin: 4px 0; }
input { width: 100%; box-sizing: border-box; padding: 3px 6px; }
textarea { width: 100%; box-sizing: border-box; min-height: 120px; }
button { margin-top: 8px; padding: 6px 16px; cursor: pointer; }
.status { font-weight: bold; margin-top: 8px; }
.error { color: #b3261e; }
"""

_SCRIPT = r"""
"use strict";
const main = document.getElementById("main");
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return node;
}
let doc = null;
// One token for every "try it" of the operations that need one (`security`).
const token = el("input", { name: "bearer-token",
  placeholder: "a JWT for the /v1 routes, e.g. from: threadweaver api token ACCOUNT_ID" });
function resolve(schema) {
  let seen = 0;
  while (schema && schema.$ref && seen++ < 20) {
    schema = doc.components.schemas[schema.$ref.split("/").pop()];
  }
  return schema || {};
}
function typeName(schema) {
  if (!schema) return "";
  if (schema.$ref) return schema.$ref.split("/").pop();
  if (schema.anyOf) return schema.anyOf.map(typeName).join(" | ");
  if (schema.type === "array") return typeName(schema.items) + "[]";
  let name = schema.type || "";
  if (schema.pattern) name += " (ULID)";
  if (schema.format) name += " (" + schema.format + ")";
  if (schema.minimum !== undefined || schema.maximum !== undefined) {
    name += " " + (schema.minimum ?? "") + ".." + (schema.maximum ?? "");
  }
  if (schema.maxLength !== undefined && !schema.pattern) name += " ≤" + schema.maxLength;
  return name;
}
function example(schema, depth) {
  schema = resolve(schema);
  if (depth > 6) return null;
  if (schema.anyOf) return example(schema.anyOf[0], depth + 1);
  if (schema.examples) return schema.examples[0];
  if (schema.default !== undefined) return schema.default;
  switch (schema.type) {
    case "object": {
      const out = {};
      for (const [name, prop] of Object.entries(schema.properties || {})) {
        out[name] = example(prop, depth + 1);
      }
      return out;
    }
    case "array": return [example(schema.items, depth + 1)];
    case "integer": return schema.minimum ?? 0;
    case "string": return schema.enum ? schema.enum[0] : "text";
    default: return null;
  }
}
function schemaTable(schema) {
  schema = resolve(schema);
  if (schema.type !== "object") return el("pre", {}, typeName(schema));
  const required = new Set(schema.required || []);
  const rows = Object.entries(schema.properties || {}).map(([name, prop]) =>
    el("tr", {}, el("td", {}, el("code", {}, name)),
      el("td", {}, typeName(prop)),
      el("td", {}, required.has(name) ? "required" : "optional"),
      el("td", {}, resolve(prop).description || prop.description || "")));
  return el("table", {}, el("tr", {}, el("th", {}, "field"), el("th", {}, "type"),
    el("th", {}, ""), el("th", {}, "description")), ...rows);
}
function tryIt(method, path, op) {
  const form = el("form", {});
  const inputs = [];
  for (const param of op.parameters || []) {
    const input = el("input", { name: param.name, placeholder: typeName(param.schema) });
    inputs.push([param, input]);
    form.append(el("label", {}, param.name + " (" + param.in + ")"), input);
  }
  let body = null;
  if (op.requestBody) {
    const schema = op.requestBody.content["application/json"].schema;
    body = el("textarea", {});
    body.value = JSON.stringify(example(schema, 0), null, 2);
    form.append(el("label", {}, "body (JSON)"), body);
  }
  const status = el("div", { class: "status" });
  const output = el("pre", {});
  form.append(el("button", { type: "submit" }, "Send"), status, output);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    let url = path;
    const query = new URLSearchParams();
    const headers = {};
    for (const [param, input] of inputs) {
      if (!input.value) continue;
      const value = encodeURIComponent(input.value);
      if (param.in === "path") url = url.replace("{" + param.name + "}", value);
      else if (param.in === "query") query.set(param.name, input.value);
      else if (param.in === "header") headers[param.name] = input.value;
    }
    if ([...query].length) url += "?" + query.toString();
    if ((op.security || []).length && token.value.trim()) {
      headers["Authorization"] = "Bearer " + token.value.trim();
    }
    const init = { method: method.toUpperCase(), headers };
    if (body) { headers["Content-Type"] = "application/json"; init.body = body.value; }
    status.className = "status"; status.textContent = "…"; output.textContent = "";
    const started = performance.now();
    try {
      const response = await fetch(url, init);
      const text = await response.text();
      const ms = Math.round(performance.now() - started);
      status.textContent = init.method + " " + url + " → " + response.status + " (" + ms + " ms)";
      if (!response.ok) status.className = "status error";
      try { output.textContent = JSON.stringify(JSON.parse(text), null, 2); }
      catch { output.textContent = text; }
    } catch (error) {
      status.className = "status error"; status.textContent = String(error);
    }
  });
  return form;
}
function operation(method, path, op) {
  const details = el("details", {},
    el("summary", {}, el("span", { class: "method " + method }, method.toUpperCase()),
      el("span", { class: "path" }, path), el("span", { class: "summary" }, op.summary || "")));
  const body = el("div", { class: "op" });
  if (op.description) body.append(el("p", {}, op.description));
  if (op.parameters && op.parameters.length) {
    body.append(el("h4", {}, "Parameters"), el("table", {},
      el("tr", {}, el("th", {}, "name"), el("th", {}, "in"), el("th", {}, "type"),
        el("th", {}, ""), el("th", {}, "description")),
      ...op.parameters.map((p) => el("tr", {}, el("td", {}, el("code", {}, p.name)),
        el("td", {}, p.in), el("td", {}, typeName(p.schema)),
        el("td", {}, p.required ? "required" : "optional"),
        el("td", {}, p.description || "")))));
  }
  if (op.requestBody) {
    body.append(el("h4", {}, "Body"),
      schemaTable(op.requestBody.content["application/json"].schema));
  }
  body.append(el("h4", {}, "Responses"), el("table", {},
    ...Object.entries(op.responses || {}).map(([code, response]) => {
      const content = response.content || {};
      const media = Object.keys(content)[0];
      const schema = media ? content[media].schema : null;
      return el("tr", {}, el("td", {}, el("code", {}, code)),
        el("td", {}, response.description || ""),
        el("td", {}, schema ? typeName(schema) : ""));
    })));
  body.append(el("h4", {}, "Try it"), tryIt(method, path, op));
  details.append(body);
  return details;
}
async function render() {
  try {
    const response = await fetch("openapi.json");
    doc = await response.json();
  } catch (error) {
    main.append(el("p", { class: "error" }, "could not load openapi.json: " + error));
    return;
  }
  document.getElementById("title").textContent = doc.info.title + " " + doc.info.version;
  document.getElementById("description").textContent = doc.info.description || "";
  if ((doc.components || {}).securitySchemes) {
    main.append(el("label", {}, "Authorization: Bearer "), token);
  }
  const byTag = new Map((doc.tags || []).map((t) => [t.name, []]));
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      const tag = (op.tags || ["other"])[0];
      if (!byTag.has(tag)) byTag.set(tag, []);
      byTag.get(tag).push(operation(method, path, op));
    }
  }
  const descriptions = new Map((doc.tags || []).map((t) => [t.name, t.description]));
  for (const [tag, operations] of byTag) {
    main.append(el("h2", {}, tag));
    if (descriptions.get(tag)) main.append(el("p", {}, descriptions.get(tag)));
    main.append(...operations);
  }
}
render();
"""

DOCS_HTML = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Threadweaver API</title>
<style>{_STYLE}</style>
</head>
<body>
<header><h1 id="title">Threadweaver API</h1><p id="description"></p></header>
<main id="main"></main>
<script>{_SCRIPT}</script>
</body>
</html>
"""


def _csp_hash(source: str) -> str:
    digest = hashlib.sha256(source.encode()).digest()
    return f"'sha256-{base64.b64encode(digest).decode()}'"


DOCS_HEADERS = {
    "Content-Security-Policy": (
        f"default-src 'none'; script-src {_csp_hash(_SCRIPT)}; "
        f"style-src {_csp_hash(_STYLE)}; connect-src 'self'; img-src 'self'; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
