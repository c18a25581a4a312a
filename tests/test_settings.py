import tomllib
from pathlib import Path

import pytest

from lib.core import settings as settings_module
from lib.core.errors import ConfigError
from lib.core.settings import load_settings


def test_nothing_configured_means_embedded_defaults(tmp_path: Path) -> None:
    s = load_settings(studio_home=tmp_path)
    assert s.embedded
    assert s.objects_dir == tmp_path / "objects"
    assert s.s3_bucket is None
    assert s.port == 8501


def test_embedded_default_generates_a_cookie_key_once(tmp_path: Path) -> None:
    first = load_settings(studio_home=tmp_path).cookie_key()
    again = load_settings(studio_home=tmp_path).cookie_key()
    assert first == again
    assert len(first) >= 32
    assert (tmp_path / "cookie_key").stat().st_mode & 0o077 == 0


@pytest.mark.parametrize("key", [None, "change-me", "short-but-real"])
def test_production_refuses_missing_or_placeholder_cookie_key(key: str | None, tmp_path: Path) -> None:
    s = load_settings(database_url="postgresql://db.internal/studio", studio_cookie_key=key, studio_home=tmp_path)
    with pytest.raises(ConfigError, match="STUDIO_COOKIE_KEY"):
        s.validate_for_startup()
    assert not (tmp_path / "cookie_key").exists()


def test_production_accepts_a_real_cookie_key() -> None:
    key = "k" * 16 + "9" * 16
    s = load_settings(database_url="postgresql://db.internal/studio", studio_cookie_key=key)
    s.validate_for_startup()
    assert s.cookie_key() == key


def test_secrets_file_is_read_with_any_key_case_and_env_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secrets_file = tmp_path / "secrets.toml"
    secrets_file.write_text('S3_BUCKET = "from-file"\ns3_region = "ap-northeast-1"\n[section]\nport = 1\n')
    monkeypatch.setattr(settings_module, "SECRETS_FILE", secrets_file)
    assert load_settings().s3_bucket == "from-file"
    assert load_settings().s3_region == "ap-northeast-1"
    monkeypatch.setenv("S3_BUCKET", "from-env")
    assert load_settings().s3_bucket == "from-env"
    assert load_settings().port == 8501  # tables in secrets.toml are not settings


def test_invalid_values_raise_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORT", "not-a-port")
    with pytest.raises(ConfigError, match="port"):
        load_settings()
    monkeypatch.setenv("PORT", "8502")
    monkeypatch.setenv("FILE_LINK_SECONDS", "10")
    with pytest.raises(ConfigError, match="file_link_seconds"):
        load_settings()


def test_readme_documents_every_setting() -> None:
    readme = (settings_module.PROJECT_ROOT / "README.md").read_text()
    table = [line for line in readme.splitlines() if line.startswith("| `")]
    documented = " ".join(table)
    missing = [name.upper() for name in settings_module.Settings.model_fields if f"`{name.upper()}`" not in documented]
    assert not missing, f"README's configuration table lacks {missing}"


def test_consistency_threshold_defaults_to_70_and_reads_env_and_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert load_settings().consistency_threshold == 70.0
    secrets_file = tmp_path / "secrets.toml"
    monkeypatch.setattr(settings_module, "SECRETS_FILE", secrets_file)
    settings_module.write_setting(secrets_file, "CONSISTENCY_THRESHOLD", 63.5)
    assert load_settings().consistency_threshold == 63.5
    monkeypatch.setenv("CONSISTENCY_THRESHOLD", "81")
    assert load_settings().consistency_threshold == 81.0
    monkeypatch.setenv("CONSISTENCY_THRESHOLD", "101")
    with pytest.raises(ConfigError, match="consistency_threshold"):
        load_settings()


def test_write_setting_replaces_one_flat_key_and_keeps_every_other_line(tmp_path: Path) -> None:
    path = tmp_path / "secrets.toml"
    original = ('# studio secrets\nGEMINI_API_KEY = "abc"\nconsistency_threshold = 70.0  # old\n\n'
                'Consistency_Threshold = 71\n[connections.other]\nconsistency_threshold = 5\n')
    path.write_text(original)
    path.chmod(0o600)
    settings_module.write_setting(path, "CONSISTENCY_THRESHOLD", 66.25)
    assert path.read_text() == ('# studio secrets\nGEMINI_API_KEY = "abc"\nCONSISTENCY_THRESHOLD = 66.25\n\n'
                                '[connections.other]\nconsistency_threshold = 5\n')
    assert path.stat().st_mode & 0o777 == 0o600
    settings_module.write_setting(path, "studio_public_url", 'http://a"b')
    assert tomllib.loads(path.read_text())["STUDIO_PUBLIC_URL"] == 'http://a"b'
    assert path.read_text().index("STUDIO_PUBLIC_URL") < path.read_text().index("[connections.other]")


def test_write_setting_creates_the_file_and_refuses_unknown_names(tmp_path: Path) -> None:
    path = tmp_path / "new" / "secrets.toml"
    settings_module.write_setting(path, "CONSISTENCY_THRESHOLD", 72.0)
    assert path.read_text() == "CONSISTENCY_THRESHOLD = 72.0\n"
    with pytest.raises(ConfigError, match="not a setting"):
        settings_module.write_setting(path, "NO_SUCH_SETTING", 1)
    assert path.read_text() == "CONSISTENCY_THRESHOLD = 72.0\n"
