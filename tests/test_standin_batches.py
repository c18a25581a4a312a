"""The stand-in's Batch API over HTTP, driven by the real google-genai SDK (`client.batches`)."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator

import pytest
from google import genai
from google.genai import errors, types
from PIL import Image

from devtools.gemini_standin import StandinServer

KEY = "test-key"
MODEL = "gemini-3.1-flash-image"


@pytest.fixture
def server() -> Iterator[StandinServer]:
    with StandinServer(api_keys={KEY}, render=_plain_render) as srv:
        yield srv


def _plain_render(base_png: bytes, prompt: str, width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (len(prompt) % 256, 90, 120)).save(out, format="PNG")
    return out.getvalue()


@pytest.fixture
def client(server: StandinServer) -> Iterator[genai.Client]:
    client = genai.Client(api_key=KEY, http_options=types.HttpOptions(base_url=server.base_url,
                                                                      api_version="v1beta"))
    yield client
    client.close()


@pytest.fixture(scope="module")
def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (48, 64), (200, 180, 170)).save(out, format="PNG")
    return out.getvalue()


def inline_requests(png: bytes, n: int) -> list[dict]:
    config = {"response_modalities": ["IMAGE"], "image_config": {"aspect_ratio": "3:4", "image_size": "512"}}
    return [{"contents": [{"role": "user", "parts": [
                types.Part.from_bytes(data=png, mime_type="image/png"), {"text": f"expression number {i}"}]}],
             "config": config, "metadata": {"item": f"id-{i}"}} for i in range(n)]


def wait_until_ended(client: genai.Client, name: str, *, timeout: float = 10.0) -> types.BatchJob:
    deadline = time.monotonic() + timeout
    while True:
        job = client.batches.get(name=name)
        if job.done or time.monotonic() > deadline:
            return job
        time.sleep(0.05)


def test_a_job_runs_pending_running_succeeded_with_one_answer_per_request_in_order(
        server: StandinServer, client: genai.Client, png: bytes) -> None:
    server.configure(batch_delay_s=0.6)
    server.force("ok", "image_safety", "text_only", "ok", "503", "prompt_blocked")
    job = client.batches.create(model=MODEL, src=inline_requests(png, 6), config={"display_name": "economy-1"})
    assert job.name.startswith("batches/")
    assert job.state == types.JobState.JOB_STATE_PENDING
    assert job.display_name == "economy-1" and job.dest is None
    time.sleep(0.25)
    assert client.batches.get(name=job.name).state == types.JobState.JOB_STATE_RUNNING
    ended = wait_until_ended(client, job.name)
    assert ended.state == types.JobState.JOB_STATE_SUCCEEDED and ended.end_time is not None
    answers = ended.dest.inlined_responses
    assert [a.metadata for a in answers] == [{"item": f"id-{i}"} for i in range(6)]
    ok = answers[0].response.candidates[0].content.parts[0].inline_data
    assert ok.mime_type == "image/png"
    with Image.open(io.BytesIO(ok.data)) as image:
        assert image.size == (448, 592)  # 512-class at 3:4, like a generate call
    assert answers[1].response.candidates[0].finish_reason == types.FinishReason.IMAGE_SAFETY
    assert answers[2].response.candidates[0].content.parts[0].text.startswith("I can't make that edit")
    assert answers[3].response.candidates[0].content.parts[0].inline_data.data
    assert answers[4].response is None and answers[4].error.code == 503
    assert answers[5].response.prompt_feedback.block_reason == types.BlockedReason.PROHIBITED_CONTENT
    stats = server.stats()
    assert stats["by_outcome"]["batch_create"] == 1 and stats["generate"] == 0
    assert stats["by_outcome"]["batched_image_safety"] == 1
    assert stats["last_request"] == {}  # nothing went through generateContent


@pytest.mark.parametrize(("end", "state"), [("failed", types.JobState.JOB_STATE_FAILED),
                                            ("expired", types.JobState.JOB_STATE_EXPIRED)])
def test_failed_and_expired_jobs_carry_no_answers(
        server: StandinServer, client: genai.Client, png: bytes, end: str, state: types.JobState) -> None:
    server.configure(batch_delay_s=0.1, batch_end=end)
    job = client.batches.create(model=MODEL, src=inline_requests(png, 2))
    ended = wait_until_ended(client, job.name)
    assert ended.state == state and ended.dest is None


def test_cancel_before_the_end_and_not_after(server: StandinServer, client: genai.Client, png: bytes) -> None:
    server.configure(batch_delay_s=30)
    job = client.batches.create(model=MODEL, src=inline_requests(png, 2))
    client.batches.cancel(name=job.name)
    cancelled = client.batches.get(name=job.name)
    assert cancelled.state == types.JobState.JOB_STATE_CANCELLED and cancelled.dest is None
    with pytest.raises(errors.ClientError) as refused:
        client.batches.cancel(name=job.name)
    assert refused.value.code == 400


def test_list_pages_through_every_job_newest_first(server: StandinServer, client: genai.Client, png: bytes) -> None:
    names = [client.batches.create(model=MODEL, src=inline_requests(png, 1)).name for _ in range(3)]
    listed = [j.name for j in client.batches.list(config={"page_size": 2})]
    assert listed == list(reversed(names))
    assert server.stats()["by_outcome"]["batch_list"] == 2  # two pages


def test_unknown_jobs_models_and_keys_are_refused(server: StandinServer, client: genai.Client, png: bytes) -> None:
    with pytest.raises(errors.ClientError) as missing:
        client.batches.get(name="batches/doesnotexist")
    assert missing.value.code == 404
    with pytest.raises(errors.ClientError) as model:
        client.batches.create(model="gemini-0-nothing", src=inline_requests(png, 1))
    assert model.value.code == 404
    stranger = genai.Client(api_key="wrong", http_options=types.HttpOptions(base_url=server.base_url,
                                                                           api_version="v1beta"))
    with pytest.raises(errors.ClientError) as key:
        stranger.batches.list()
    assert key.value.code == 403
    stranger.close()


def test_a_malformed_request_inside_a_job_is_an_error_entry(
        server: StandinServer, client: genai.Client, png: bytes) -> None:
    requests = inline_requests(png, 2)
    requests[1]["contents"] = [{"role": "user", "parts": [{"text": "no image here"}]}]
    job = client.batches.create(model=MODEL, src=requests)
    answers = wait_until_ended(client, job.name).dest.inlined_responses
    assert answers[0].response is not None
    assert answers[1].error.code == 400
