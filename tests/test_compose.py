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
    assert neo4j["environment"]["NEO4J_AUTH"].startswith("neo4j/${NEO4J_PASSWORD")
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


# The official image maps NEO4J_<setting> to a setting (dots as _, underscores as __) and, with strict
# validation, refuses to start on a name that is not one; NEO4J_PASSWORD there stopped the whole stack.
IMAGE_VARIABLES = {"NEO4J_AUTH", "NEO4J_PLUGINS", "NEO4J_ACCEPT_LICENSE_AGREEMENT", "NEO4J_DEBUG"}
SETTING_NAMESPACES = ("server.", "db.", "dbms.", "initial.", "browser.")


def test_only_the_images_variables_and_settings_reach_neo4j(compose):
    for name in compose["services"]["neo4j"]["environment"]:
        if name in IMAGE_VARIABLES:
            continue
        assert name.startswith("NEO4J_") and name[6:] == name[6:].lower(), name
        setting = name[6:].replace("__", "\0").replace("_", ".").replace("\0", "_")
        assert setting.startswith(SETTING_NAMESPACES), f"{name} -> {setting} is not a Neo4j setting"


def test_the_loaders_report_volume_is_not_a_bind_mount(compose):
    """A bind mount of ./reports is created root-owned: the non-root loader could not write its report."""
    loader = compose["services"]["loader"]
    report_mounts = [v for v in loader["volumes"] if v.split(":")[1] == "/reports"]
    assert report_mounts and not report_mounts[0].startswith((".", "/")), report_mounts


def compose_command() -> list[str] | None:
    """`docker compose` (the v2 plugin) or the standalone `docker-compose`; both validate without an engine."""
    if shutil.which("docker") and subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    return None


def test_docker_compose_config_accepts_it():
    command = compose_command()
    if command is None:
        pytest.skip("neither `docker compose` nor `docker-compose` is installed (.ci/run installs docker-compose)")
    env = {"NEO4J_PASSWORD": "x", "DASHBOARD_PASSWORD": "y", "PATH": "/usr/bin:/bin:/usr/local/bin"}
    out = subprocess.run([*command, "-f", str(REPO / "docker-compose.yml"), "config", "-q"],
                         capture_output=True, text=True, env=env, cwd=REPO)
    assert out.returncode == 0, out.stderr
    missing = subprocess.run([*command, "-f", str(REPO / "docker-compose.yml"), "config", "-q"],
                             capture_output=True, text=True, env={"PATH": env["PATH"]}, cwd=REPO)
    assert missing.returncode != 0 and "NEO4J_PASSWORD" in missing.stderr
