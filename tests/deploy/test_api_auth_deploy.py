"""The API's authentication as deployed (ADR 0008): compose and both k8s overlays configure
an API that starts (a usable key, or a Secret reference to one) and verifies tokens."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from api.auth import TokenVerifier
from pipeline.settings import AuthMode, AuthSettings, JwtAlgorithm
from tests.deploy.support import OVERLAYS, ROOT, Manifest, containers, render

pytestmark = pytest.mark.deploy


def test_compose_runs_the_api_with_authentication() -> None:
    doc: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    env = {k: str(v) for k, v in doc["services"]["api"]["environment"].items()}
    auth = AuthSettings.from_env(env)
    assert auth.mode is AuthMode.JWT
    assert auth.algorithm is JwtAlgorithm.HS256
    # The API would start with it (length, not a PEM), and the value says what it is.
    TokenVerifier(auth)
    assert auth.key is not None
    assert "NOT-A-SECRET" in auth.key.get_secret_value()
    for name, service in doc["services"].items():
        if name != "api":
            assert not any("JWT" in key for key in service.get("environment", {})), name


def _api_container(objects: list[Manifest]) -> dict[str, Any]:
    (deployment,) = [
        o
        for o in objects
        if o["kind"] == "Deployment" and o["metadata"]["name"] == "threadweaver-api"
    ]
    (container,) = containers(deployment)
    return container


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_k8s_api_takes_its_key_from_a_secret(overlay: str) -> None:
    objects = render(overlay)
    (config,) = [o for o in objects if o["kind"] == "ConfigMap"]
    settings = config["data"]
    env = {e["name"]: e for e in _api_container(objects)["env"]}
    key = env["THREADWEAVER_API_JWT_KEY"]
    assert "value" not in key
    assert key["valueFrom"]["secretKeyRef"] == {"name": "threadweaver-api-jwt", "key": "key"}
    assert "optional" not in key["valueFrom"]["secretKeyRef"]  # no Secret, no API
    assert settings["THREADWEAVER_API_AUTH_MODE"] == "jwt"
    expected = {"eks": "RS256", "local": "HS256"}[overlay]
    assert settings["THREADWEAVER_API_JWT_ALGORITHM"] == expected
    # No other workload sees the key.
    for obj in objects:
        if obj["metadata"]["name"] == "threadweaver-api":
            continue
        for c in containers(obj):
            names = {e["name"] for e in c.get("env", [])}
            assert "THREADWEAVER_API_JWT_KEY" not in names, obj["metadata"]["name"]
