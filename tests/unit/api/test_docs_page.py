"""The docs page's script, run by node against a minimal DOM and the real document: it must
render every operation and build a "try it" request from the form (skipped without node)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from api.docs import _SCRIPT
from api.openapi import build_document
from api.routes import ENDPOINTS, TAGS

pytestmark = pytest.mark.unit

# Just enough DOM for the page: elements with children, attributes, text and listeners.
HARNESS = r"""
class Node {
  constructor(tag) { this.tag = tag; this.children = []; this.attrs = {}; this.listeners = {};
                     this.value = ""; this._text = ""; }
  setAttribute(k, v) { this.attrs[k] = v; }
  append(...nodes) { this.children.push(...nodes); }
  addEventListener(name, fn) { this.listeners[name] = fn; }
  set textContent(v) { this._text = v; this.children = []; }
  get textContent() { return this._text + this.children.map((c) => c.textContent).join(""); }
  set className(v) { this.attrs.class = v; }
  all(tag, out = []) { if (this.tag === tag) out.push(this);
                       for (const c of this.children) if (c.all) c.all(tag, out); return out; }
}
const nodes = { main: new Node("main"), title: new Node("h1"), description: new Node("p") };
globalThis.document = {
  createElement: (tag) => new Node(tag),
  createTextNode: (text) => ({ textContent: text }),
  getElementById: (id) => nodes[id],
};
globalThis.performance = { now: () => 0 };
const DOC = JSON.parse(process.argv[2]);
const sent = [];
globalThis.fetch = async (url, init) => {
  if (url === "openapi.json") return { json: async () => DOC };
  sent.push({ url, init });
  return { status: 200, ok: true, text: async () => "{\"ok\": true}" };
};
SCRIPT
setTimeout(async () => {
  const details = nodes.main.all("details");
  const forms = nodes.main.all("form");
  nodes.main.all("input").find((i) => i.attrs.name === "bearer-token").value = " tok.en.sig ";
  // Fill the messages query form and submit it.
  const index = details.findIndex((d) => d.textContent.includes("/v1/threads/{thread_id}/messages")
    && d.textContent.includes("GET"));
  const inputs = forms[index].all("input");
  for (const input of inputs) {
    input.value = input.attrs.name === "limit" ? "5" : "01KAB0000000000000000000AA";
  }
  await forms[index].listeners.submit({ preventDefault() {} });
  const create = details.findIndex((d) => d.textContent.includes("/v1/threads/create"));
  await forms[create].listeners.submit({ preventDefault() {} });
  console.log(JSON.stringify({ operations: details.length, title: nodes.title.textContent, sent }));
}, 50);
"""


def test_the_page_renders_every_operation_and_sends_requests(tmp_path: Path) -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    script = tmp_path / "page.js"
    script.write_text(HARNESS.replace("SCRIPT", _SCRIPT))
    document = build_document(ENDPOINTS, TAGS)
    result = subprocess.run(
        [node, str(script), json.dumps(document)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["operations"] == len(ENDPOINTS)
    assert report["title"] == "Threadweaver API 1"
    query, create = report["sent"]
    ulid = "01KAB0000000000000000000AA"
    assert query["url"].startswith(f"/v1/threads/{ulid}/messages?")
    assert "limit=5" in query["url"]
    assert query["init"]["method"] == "GET"
    assert query["init"]["headers"]["Authorization"] == "Bearer tok.en.sig"
    assert create["url"] == "/v1/threads/create"
    assert create["init"]["headers"]["Content-Type"] == "application/json"
    assert create["init"]["headers"]["Authorization"] == "Bearer tok.en.sig"
    body = json.loads(create["init"]["body"])
    assert set(body) == {
        "account_id", "title", "remarks", "parent_thread_id", "administrator_ids", "member_ids",
    }  # fmt: skip
