"""The notebooks run top to bottom against the test database (offline), and are committed without outputs.

Each notebook runs in a real Jupyter kernel started from this venv's Python (a kernelspec written to a
temporary JUPYTER_PATH, so no user-level "python3" kernel can take over). The kernel inherits the
environment `committed_env` sets (DATABASE_URL, STUDIO_HOME, STUDIO_COOKIE_KEY) plus the notebook's own
parameters. Set NOTEBOOK_OUT_DIR to keep the executed copies.
"""

from __future__ import annotations

import ast
import datetime as dt
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient
from sqlalchemy import Engine, text

from devtools.report_seed import seed_usage
from lib.accounts import users
from lib.catalog import characters, prompts
from lib.core import settings as settings_module
from lib.design import expressions
from lib.generation import jobs
from lib.lab.real_artwork import REAL_DEV
from lib.reports import frames
from tests.conftest import PASSWORD

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
KERNEL = "studio-notebook-test"


@pytest.fixture
def run_notebook(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., nbformat.NotebookNode]:
    """Execute a notebook in a kernel running this interpreter; returns the executed notebook."""
    spec = tmp_path / "jupyter" / "kernels" / KERNEL
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Studio tests", "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.setenv("JUPYTER_PLATFORM_DIRS", "1")
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))

    def run(name: str, **params: str) -> nbformat.NotebookNode:
        for key, value in params.items():
            monkeypatch.setenv(key, value)
        nb = nbformat.read(NOTEBOOKS / name, as_version=4)
        NotebookClient(nb, kernel_name=KERNEL, timeout=120, resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
        if os.environ.get("NOTEBOOK_OUT_DIR"):  # keep the executed copy to look at (never in notebooks/)
            nbformat.write(nb, Path(os.environ["NOTEBOOK_OUT_DIR"]) / name)
        return nb

    return run


def tagged(nb: nbformat.NotebookNode, tag: str) -> dict[str, Any]:
    """The last rich output (mimebundle: result or display) of the cell with this tag."""
    cell = next(c for c in nb.cells if tag in c.metadata.get("tags", []))
    return next(o for o in reversed(cell.outputs) if o.output_type in ("execute_result", "display_data"))["data"]


def make_admin(engine: Engine) -> users.User:
    with engine.begin() as conn:
        return users.create_user(conn, email="admin@studio.local", password=PASSWORD, role="admin", plan="pro")


def test_prompt_tuning_saves_the_template_the_next_batch_uses(committed_env, engine, run_notebook) -> None:
    admin = make_admin(engine)
    with engine.connect() as conn:
        before = prompts.active_template(conn)
    nb = run_notebook("prompt_tuning.ipynb", TUNING_ADMIN_EMAIL=admin.email, TUNING_BACKEND="offline",
                      TUNING_WINNER="keep-list first",
                      TUNING_EXPRESSIONS="happy,sad", OFFLINE_BASE_SIZE="[192, 256]")
    saved_version = int(tagged(nb, "saved-version")["text/plain"])
    trials = tagged(nb, "trials-table")["text/html"]
    assert "keep-list first" in trials and "short" in trials and f"v{before.version} (active)" in trials
    with engine.begin() as conn:
        active = prompts.active_template(conn)
        assert active.version == saved_version > before.version
        assert "This is the anime character $name" in active.body and "prompt_tuning notebook" in active.notes
        sample = characters.list_characters(conn, actor=admin)
        assert [c.name for c in sample] == ["Tuning sample"]  # drawn by the notebook: the admin had none
        request = jobs.JobRequest(expressions=[expressions.get("happy")], variants=[], backend="offline",
                                        model="offline", image_size="1K")
        job_id, _ = jobs.create_job(conn, actor=admin, character=sample[0], request=request)
        used = conn.execute(text("SELECT template_version FROM generation_jobs WHERE id = :id"), {"id": job_id})
        assert used.scalar_one() == saved_version
        prompt = conn.execute(text("SELECT prompt FROM differences WHERE job_id = :id"), {"id": job_id}).scalar_one()
        assert prompt.startswith("This is the anime character Tuning sample.")


def test_consistency_calibration_writes_the_threshold_settings_read(committed_env, run_notebook) -> None:
    secrets_file = settings_module.SECRETS_FILE  # a temporary file for every test (conftest.isolated_settings)
    secrets_file.write_text('# local secrets\nGEMINI_API_KEY = "keep-me"\nCONSISTENCY_THRESHOLD = 12.0\n')
    nb = run_notebook("consistency_calibration.ipynb", CALIBRATION_CHARACTERS="2", CALIBRATION_FACES="detected",
                      CALIBRATION_SETTINGS_FILE=str(secrets_file))
    chosen = float(tagged(nb, "chosen-threshold")["text/plain"])
    assert 0 < chosen < 100 and chosen != 12.0
    kept = '# local secrets\nGEMINI_API_KEY = "keep-me"\n'
    assert secrets_file.read_text() == f"{kept}CONSISTENCY_THRESHOLD = {chosen!r}\n"
    assert settings_module.load_settings().consistency_threshold == chosen
    roc = tagged(nb, "roc-table")["text/html"]
    assert "tpr" in roc and "fpr" in roc and "youden_j" in roc
    by_kind = tagged(nb, "parts-by-kind")["text/html"]
    assert "neg_unchanged" in by_kind and "synthetic" in by_kind
    if REAL_DEV.is_dir():  # the real set, scored on the face finder's boxes as CALIBRATION_FACES asked
        assert "real_fringe_cut" in by_kind and "detected" in by_kind and "hand" not in by_kind


def test_cost_report_shows_spend_credits_and_a_run_rate(committed_env, engine, run_notebook) -> None:
    end = dt.datetime.now(dt.UTC)
    with engine.begin() as conn:
        seed_usage(conn, users=6, ledger_rows=300, variants=100, days=20, end=end)
    nb = run_notebook("cost_report.ipynb", REPORT_DAYS="30")
    with engine.connect() as conn:
        spend = frames.spend_by_model_size(conn, date_from=end.date() - dt.timedelta(days=29), date_to=end.date())
    assert len(spend) >= 3
    table = tagged(nb, "spend-table")["text/html"]
    assert all(model in table for model in spend["model"])
    projection = ast.literal_eval(tagged(nb, "projection")["text/plain"])
    assert projection["monthly_cost_usd"] == pytest.approx(spend["cost_usd"].sum() / 30 * 30.44, rel=1e-6)
    assert projection["monthly_credits"] == pytest.approx(spend["credits"].sum() / 30 * 30.44, rel=1e-6)


def test_cost_report_says_so_when_there_is_no_usage(committed_env, run_notebook) -> None:
    nb = run_notebook("cost_report.ipynb", REPORT_DAYS="30")
    shown = "".join(o.get("data", {}).get("text/markdown", "") for c in nb.cells if c.cell_type == "code"
                    for o in c.outputs)
    assert "No usage" in shown


@pytest.mark.parametrize("path", sorted(NOTEBOOKS.glob("*.ipynb")), ids=lambda p: p.name)
def test_committed_notebooks_have_no_outputs(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(c.outputs == [] and c.execution_count is None for c in code)
    assert "sys.path" in code[0].source  # every notebook starts by putting the repo root on sys.path


def test_every_notebook_is_executed_by_a_test() -> None:
    source = Path(__file__).read_text()
    assert {p.name for p in NOTEBOOKS.glob("*.ipynb")} == {
        "prompt_tuning.ipynb", "consistency_calibration.ipynb", "cost_report.ipynb"}
    assert all(f'"{p.name}"' in source for p in NOTEBOOKS.glob("*.ipynb"))
