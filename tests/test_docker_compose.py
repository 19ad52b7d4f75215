"""docker/compose.yaml: valid against the Compose Specification's JSON schema, and sound:
builds exist, ports stay on loopback unless documented, ccpbx gets its database,
every long-running service has a healthcheck, Asterisk has the sandbox's packages."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from ccpbx.sandbox.root import PACKAGES

DOCKER = Path(__file__).resolve().parents[1] / "docker"
TEST_ONLY_PACKAGES = {"sip-tester"}


def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((DOCKER / "compose.yaml").read_text())
    return data


def schema_errors(document: dict[str, Any]) -> list[str]:
    schema = json.loads((DOCKER / "compose-spec" / "compose-spec.json").read_text())
    validator = jsonschema.Draft7Validator(schema)
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in validator.iter_errors(document)
    ]


def test_compose_file_is_valid_against_the_spec_schema() -> None:
    """The compose file passes the vendored Compose Specification schema."""
    assert schema_errors(compose()) == []


def test_schema_check_catches_a_broken_file() -> None:
    """The schema check is real: an unknown service key, ports not a list: refused."""
    broken = compose()
    broken["services"]["ccpbx"]["restart_policy"] = "always"
    broken["services"]["postgres"]["ports"] = 5432
    errors = schema_errors(broken)
    assert any("restart_policy" in e for e in errors), errors
    assert any(e.startswith("services/postgres/ports") for e in errors), errors


def test_every_build_context_and_dockerfile_exists() -> None:
    """Each service builds from a folder and Dockerfile that are in the repository."""
    for name, service in compose()["services"].items():
        build = service.get("build")
        if build is None:
            assert "image" in service, name
            continue
        context = DOCKER / (build if isinstance(build, str) else build.get("context", "."))
        assert context.is_dir(), f"{name}: no build context {context}"
        dockerfile = (
            "Dockerfile" if isinstance(build, str) else build.get("dockerfile", "Dockerfile")
        )
        assert (context / dockerfile).is_file(), f"{name}: no {dockerfile} in {context}"


_HOST_IP = re.compile(r"^(?P<ip>\$\{(?P<var>[A-Z_]+):-(?P<default>[0-9.]+)\}|[0-9.]+):")


def test_published_ports_on_loopback_or_documented() -> None:
    """A published port is bound to 127.0.0.1, or to a variable that defaults to it and
    is documented in docker/README.md."""
    readme = (DOCKER / "README.md").read_text()
    for name, service in compose()["services"].items():
        for port in service.get("ports", []):
            assert isinstance(port, str), f"{name}: write ports as HOST_IP:HOST:CONTAINER"
            match = _HOST_IP.match(port)
            assert match, f"{name}: port {port} is published on every address"
            if match.group("var"):
                assert match.group("default") == "127.0.0.1", port
                assert f"`{match.group('var')}`" in readme, f"{match.group('var')} undocumented"
            else:
                assert match.group("ip") == "127.0.0.1", port


def test_ccpbx_services_get_the_database_and_asterisk() -> None:
    """ccpbx and its migration get DATABASE_URL pointing at the postgres service, and the
    AMI host and FastAGI address of the stack."""
    services = compose()["services"]
    assert "postgres" in services
    for name in ("ccpbx", "migrate"):
        env = services[name]["environment"]
        assert re.fullmatch(
            r"postgresql://ccpbx:\$\{CCPBX_DB_PASSWORD:\?[^}]+\}@postgres:5432/ccpbx",
            env["DATABASE_URL"],
        )
        assert env["CCPBX_AMI_HOST"] == "asterisk"
        assert env["CCPBX_AGI_HOST"] == "ccpbx"  # the dialplan's agi://ccpbx:4573
    assert services["migrate"]["command"] == ["migrate"]
    assert (
        services["ccpbx"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    )


def test_long_running_services_have_healthchecks_and_dependencies_exist() -> None:
    """Every service but the one-shot migration has a healthcheck; each dependency names a
    service, and waiting for health only on services that have one."""
    services = compose()["services"]
    for name, service in services.items():
        if service.get("restart") != "no":
            assert "healthcheck" in service, f"{name} has no healthcheck"
            assert service["healthcheck"]["test"], name
        for dep, how in (service.get("depends_on") or {}).items():
            assert dep in services, f"{name} depends on unknown {dep}"
            if how["condition"] == "service_healthy":
                assert "healthcheck" in services[dep], f"{name} waits for {dep}'s health"


@pytest.mark.parametrize("package", sorted(set(PACKAGES) - TEST_ONLY_PACKAGES))
def test_asterisk_image_installs_the_sandbox_packages(package: str) -> None:
    """The Asterisk image installs every Debian package the sandbox root has (but SIPp)."""
    dockerfile = (DOCKER / "asterisk" / "Dockerfile").read_text()
    assert re.search(r"^FROM debian:sid$", dockerfile, re.M)
    assert re.search(
        rf"^\s+{re.escape(package)} \\$|install[^\n]*\s{re.escape(package)}\b", dockerfile, re.M
    ), package
