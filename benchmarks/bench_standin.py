"""Per-request overhead of the Gemini stand-in through the real google-genai SDK, zero added latency.

Run from the repository root: `python -m benchmarks.bench_standin [-n 200] [--size 512]`.
Three figures: the SDK call with a trivial renderer (server + SDK + JSON/base64), the same with the
default renderer (adds Pillow resize/tint/encode at the requested size), and the whole GeminiBackend
path (adds PNG verification and re-encoding).
"""

from __future__ import annotations

import argparse
import io
import statistics
import time
from collections.abc import Callable

from google import genai
from google.genai import types
from PIL import Image

from devtools.gemini_standin import Renderer, StandinServer, default_render
from lib.backends.gemini import GeminiBackend, GeminiConfig

MODEL = "gemini-3.1-flash-image"


def png_of(width: int, height: int, colour: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, format="PNG")
    return out.getvalue()


def trivial_render(_base: bytes, _prompt: str, _width: int, _height: int) -> bytes:
    return png_of(16, 16, (200, 40, 90))


def median_ms(call: Callable[[], object], n: int) -> tuple[float, float]:
    """Median and 90th percentile of n timed calls, after 5 warm-up calls."""
    for _ in range(5):
        call()
    times = []
    for _ in range(n):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), statistics.quantiles(times, n=10)[-1]


def bench_sdk(render: Renderer, base: bytes, size: str, n: int) -> tuple[float, float]:
    with StandinServer(render=render) as server:
        options = types.HttpOptions(base_url=server.base_url, api_version="v1beta", timeout=30_000)
        client = genai.Client(api_key="bench", http_options=options)
        config = types.GenerateContentConfig(
            response_modalities=["IMAGE"], image_config=types.ImageConfig(aspect_ratio="3:4", image_size=size)
        )
        contents = [types.Part.from_bytes(data=base, mime_type="image/png"), "same character, now smiling"]
        result = median_ms(lambda: client.models.generate_content(model=MODEL, contents=contents, config=config), n)
        client.close()
        return result


def bench_backend(base: bytes, size: str, n: int) -> tuple[float, float]:
    with StandinServer() as server:
        backend = GeminiBackend(GeminiConfig(api_key="bench", base_url=server.base_url, image_size=size))
        request = backend.request_for(base_png=base, prompt="same character, now smiling", width=768, height=1024,
                                      expression_key="smile")
        result = median_ms(lambda: backend.generate(request), n)
        backend.close()
        return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=200, help="timed requests per figure")
    parser.add_argument("--size", default="512", choices=["512", "1K", "2K", "4K"])
    args = parser.parse_args()
    base = png_of(768, 1024, (230, 180, 200))
    rows = [
        ("SDK call, trivial render", bench_sdk(trivial_render, base, args.size, args.n)),
        (f"SDK call, default render {args.size}", bench_sdk(default_render, base, args.size, args.n)),
        (f"GeminiBackend.generate {args.size}", bench_backend(base, args.size, args.n)),
    ]
    print(f"Gemini stand-in, zero latency, n={args.n} per row (base 768x1024 PNG)")
    for label, (median, p90) in rows:
        print(f"  {label:<34} median {median:7.2f} ms   p90 {p90:7.2f} ms")


if __name__ == "__main__":
    main()
