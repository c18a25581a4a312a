"""The deployment files (deploy/): what cannot run here (no container runtime) is parsed and checked against
the studio itself — every command is one the CLI accepts, every setting one the studio knows, every file the
image copies exists."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest
import yaml

from lib.cli.main import build_parser
from lib.core.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
INFRASTRUCTURE = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}  # read by boto3 itself


def compose() -> dict:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


def env_example() -> dict[str, str]:
    lines = (DEPLOY / "studio.env.example").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


def lib_command(command: list[str]) -> list[str]:
    assert command[:3] == ["python", "-m", "lib"], command
    return command[3:]


def test_compose_has_every_part_and_one_image_with_two_commands() -> None:
    services = compose()["services"]
    assert set(services) == {"postgres", "redis", "s3", "s3-bucket", "studio", "worker"}
    studio, worker = services["studio"], services["worker"]
    assert studio["image"] == worker["image"] and studio["build"] == worker["build"]
    assert lib_command(studio["command"]) == ["run", "--no-worker", "--address", "0.0.0.0"]
    assert lib_command(worker["command"]) == ["worker"] and worker["deploy"]["replicas"] >= 2
    for command in (studio["command"], worker["command"]):
        args = build_parser().parse_args(lib_command(command))  # the CLI accepts it as written
        assert callable(args.handler)
    assert studio["ports"] == ["8501:8501"]
    assert studio["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_every_variable_the_processes_get_is_a_setting_and_loads() -> None:
    known = {name.upper() for name in Settings.model_fields}
    environment = compose()["services"]["studio"]["environment"]
    example = env_example()
    unknown = sorted((set(environment) | set(example)) - INFRASTRUCTURE - known)
    assert not unknown, unknown
    values = {k.lower(): v for k, v in {**example, **environment}.items() if k not in INFRASTRUCTURE and v}
    settings = load_settings(**values)  # every value parses as the studio reads it
    assert settings.database_url.startswith("postgresql://") and settings.redis_url.startswith("redis://")
    assert settings.s3_bucket == "studio" and settings.log_format == "json"


def test_the_image_copies_what_exists_and_runs_the_studio_command() -> None:
    lines = [line.strip() for line in (DEPLOY / "Dockerfile").read_text().splitlines()]
    for line in lines:
        if line.startswith("COPY "):
            for source in shlex.split(line)[1:-1]:
                assert (ROOT / source).exists(), source
    cmd = next(line for line in lines if line.startswith("CMD "))
    assert json.loads(cmd.removeprefix("CMD ")) == compose()["services"]["studio"]["command"]
    assert "pip install --no-cache-dir -r requirements.txt" in "\n".join(lines)
    assert re.search(r"^EXPOSE 8501$", "\n".join(lines), re.M)


@pytest.mark.parametrize("name", ["compose.yaml", "studio.env.example", "Dockerfile"])
def test_the_readme_points_at_each_deployment_file(name: str) -> None:
    assert f"deploy/{name}" in (ROOT / "README.md").read_text()
