"""Best-of-n pays for another call only when the image users get would be wrong (paste-back on).

A model answer that redrew the outfit but drew the right face is kept: paste-back restores the outfit.
One that changed the eye colour is regenerated. The pipeline runs in-process with a scripted backend
on the real database; the retry decision is the one the worker task makes.
"""

from __future__ import annotations

from lib.backends.base import ImageRequest, ImageResult
from lib.core.images import png_bytes
from lib.design.expressions import LIBRARY
from lib.design.features import Features
from lib.generation import batches, jobs, pipeline
from lib.lab.calibration import Drift, apply_drift, replace_features
from lib.render.portrait import render_portrait
from tests.test_batches import SIZE, count, job_request, make_character, make_member, submit

FEATURES = Features(hair_color="#4060c0")  # the character make_character draws
THRESHOLD = 70.0


class ScriptedModel:
    """A Gemini-like backend that answers every request with `features` drawn surprised, slightly shifted."""

    name = "gemini"

    def __init__(self, features: Features) -> None:
        self.features, self.calls = features, 0

    def generate(self, request: ImageRequest) -> ImageResult:
        self.calls += 1
        drawn = render_portrait(self.features, size=SIZE, expression=LIBRARY["surprised"])
        png = png_bytes(apply_drift(drawn, Drift(shift=(0.01, 0.01), jpeg=90)))
        return ImageResult(png=png, model=request.model, image_size=request.image_size, cost_usd=0.0, attempts=(),
                           usage={})


def run_once(studio, model: ScriptedModel):
    owner = make_member(studio.engine)
    character = make_character(studio, owner)
    request = job_request(["surprised"], backend="gemini", model="gemini-3.1-flash-image", size="1K")
    done = submit(studio, owner, character, jobs.JobRequest(**{**request.__dict__, "best_of": 3}))
    item = done.difference_ids[0]
    status = pipeline.run_difference(studio.engine, studio.store, model, difference_id=item, threshold=THRESHOLD)
    with studio.engine.begin() as conn:
        again = batches.retry_if_below_threshold(conn, difference_id=item, threshold=THRESHOLD)
    return done, status, again


def test_a_redrawn_outfit_with_the_right_face_is_kept_after_one_call(studio) -> None:
    model = ScriptedModel(replace_features(FEATURES, outfit_color="#b8324a"))
    done, status, again = run_once(studio, model)
    assert status == "done" and again is None and model.calls == 1
    kept = count(studio.engine, "SELECT count(*) FROM differences WHERE job_id = :j AND "
                                "score_parts->'flags' ? 'restored_by_paste_back' AND (score_parts->>'passed')::boolean",
                 j=done.job_id)
    assert kept == 1


def test_a_changed_eye_colour_is_regenerated(studio) -> None:
    model = ScriptedModel(replace_features(FEATURES, eye_color="#c0392b"))  # blue eyes drawn red
    done, status, again = run_once(studio, model)
    assert status == "done" and again is not None
    assert count(studio.engine, "SELECT count(*) FROM differences WHERE job_id = :j AND status = 'queued'",
                 j=done.job_id) == 1
    assert count(studio.engine, "SELECT count(*) FROM differences WHERE job_id = :j "
                                "AND score_parts->'flags' ? 'eye_colour_changed'", j=done.job_id) == 1
