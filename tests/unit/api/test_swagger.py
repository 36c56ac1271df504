"""The /docs page (Swagger UI from the swagger-ui-bundle-v2 package) and its files, in-process:
what the page loads is served, nothing else of the package is, and the Content Security Policy
allows exactly the page's one inline script. tests/browser runs the page in Chromium."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import AsyncIterator

import httpx
import pytest
from swagger_ui_bundle import swagger_ui_path

from api.app import create_app
from api.swagger import ASSETS, DOCS_HEADERS, DOCS_HTML
from pipeline.settings import ApiSettings, Settings
from tests.support.auth import auth_settings

pytestmark = pytest.mark.unit


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(Settings(api=ApiSettings(auth=auth_settings())))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as http:
        yield http


def test_swagger_ui_reads_openapi_3_1() -> None:
    # Swagger UI renders OpenAPI 3.1 documents from version 5 on.
    version = re.fullmatch(r"swagger-ui-(\d+)\.\d+\.\d+", swagger_ui_path.name)
    assert version is not None, swagger_ui_path
    assert int(version.group(1)) >= 5


def test_the_page_loads_only_files_that_are_served() -> None:
    loaded = set(re.findall(r'(?:href|src)="docs/([^"]+)"', DOCS_HTML))
    assert loaded == ASSETS
    for name in loaded:
        assert (swagger_ui_path / name).is_file(), name
    # Relative: the page works behind a path prefix.
    assert 'data-openapi="openapi.json"' in DOCS_HTML


def test_the_policy_allows_the_inline_script_by_its_hash_and_nothing_else() -> None:
    scripts = re.findall(r"<script>(.*?)</script>", DOCS_HTML, re.DOTALL)
    assert len(scripts) == 1
    digest = base64.b64encode(hashlib.sha256(scripts[0].encode()).digest()).decode()
    policy = dict(
        directive.strip().split(" ", 1)
        for directive in DOCS_HEADERS["Content-Security-Policy"].split(";")
    )
    assert policy["default-src"] == "'none'"
    assert policy["script-src"] == f"'sha256-{digest}' 'self'"
    assert policy["style-src"] == "'self'"
    assert policy["connect-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'"
    assert "unsafe" not in DOCS_HEADERS["Content-Security-Policy"]
    assert "<style" not in DOCS_HTML
    assert " style=" not in DOCS_HTML


async def test_the_page_and_its_files_are_served(client: httpx.AsyncClient) -> None:
    page = await client.get("/docs")
    assert page.status_code == 200
    assert page.headers["content-security-policy"] == DOCS_HEADERS["Content-Security-Policy"]
    assert page.headers["x-content-type-options"] == "nosniff"
    bundle = await client.get("/docs/swagger-ui-bundle.js")
    assert bundle.status_code == 200
    assert "javascript" in bundle.headers["content-type"]
    assert bundle.headers["x-content-type-options"] == "nosniff"
    assert "SwaggerUIBundle" in bundle.text
    style = await client.get("/docs/swagger-ui.css")
    assert style.headers["content-type"].startswith("text/css")


@pytest.mark.parametrize(
    "path",
    [
        "/docs/index.html",  # the package's demo page, which loads another document
        "/docs/swagger-initializer.js",
        "/docs/swagger-ui-bundle.js.map",
        "/docs/",
        "/docs/../pyproject.toml",
        "/docs/%2e%2e/%2e%2e/api/app.py",
    ],
)
async def test_nothing_else_is_served(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)
    assert response.status_code == 404, path
    assert response.json()["reason"] == "NOT_FOUND"
