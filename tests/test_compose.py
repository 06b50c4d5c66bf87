"""docker-compose.yml cannot run here (no Docker engine): check its shape and wiring instead."""

from __future__ import annotations

import shutil
import subprocess

import pytest
import yaml

from .conftest import REPO


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((REPO / "docker-compose.yml").read_text())


def test_services_and_wiring(compose):
    services = compose["services"]
    assert {"neo4j", "dashboard", "loader"} <= set(services)
    neo4j = services["neo4j"]
    assert neo4j["image"].startswith("neo4j:5") and "community" in neo4j["image"]
    assert "NEO4J_PASSWORD" in neo4j["environment"]["NEO4J_AUTH"]
    assert {"/data", "/logs"} <= {v.split(":")[1] for v in neo4j["volumes"]}
    assert "healthcheck" in neo4j
    for name in ("dashboard", "loader"):
        env = services[name]["environment"]
        assert env["NEO4J_URI"] == "bolt://neo4j:7687"
        assert "NEO4J_PASSWORD" in env["NEO4J_PASSWORD"]
        assert services[name]["depends_on"]["neo4j"]["condition"] == "service_healthy"
    assert services["loader"]["command"][-1].startswith("dicom-graph standard load && dicom-graph ingest")
    # published ports never leave the machine
    for service in services.values():
        for port in service.get("ports", []):
            assert port.startswith("127.0.0.1:"), port


def test_dashboard_in_a_container_requires_a_login(compose):
    dashboard = compose["services"]["dashboard"]
    assert "0.0.0.0" in dashboard["command"]
    assert "DICOM_GRAPH_DASHBOARD_PASSWORD" in dashboard["environment"]


@pytest.mark.skipif(shutil.which("docker") is None, reason="docker client not installed")
def test_docker_compose_config_accepts_it():
    probe = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip("the docker client has no compose plugin")
    env = {"NEO4J_PASSWORD": "x", "DASHBOARD_PASSWORD": "y", "PATH": "/usr/bin:/bin:/usr/local/bin"}
    out = subprocess.run(["docker", "compose", "-f", str(REPO / "docker-compose.yml"), "config", "-q"],
                         capture_output=True, text=True, env=env, cwd=REPO)
    assert out.returncode == 0, out.stderr
