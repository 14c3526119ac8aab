"""Renditions: the pipeline against a naive Pillow baseline on generated JPEG sources.

.venv/bin/python -m bench.renditions [--quick]

Subject: ``promotions.renditions.render`` with ``fill-300x250|format-…``. Baseline: the
obvious code, ``Image.open -> resize((300, 250), LANCZOS) -> save``, which decodes every
source pixel and resamples all of them. Timing runs in one worker process and every
peak-RSS probe in a fresh one, so neither Django's settings nor the memory of the calling
process (``python -m bench`` runs other benchmarks too) leak into the numbers.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from PIL import Image, features

from bench.harness import REPO_ROOT, BenchError, child_env, machine_facts

SETTINGS = "portal.settings.dev"
FORMATS = ("jpeg", "webp", "avif")
RESIZE = "fill-300x250"
SIZE = (300, 250)
ROLES = ("subject", "baseline")
SOURCE_QUALITY = 90
RSS_RENDITIONS = 3
TARGET_RATIO = 2.0
TARGET_PEAK_MB = 300.0
TARGET_PEAK_SOURCE = "24 MP"
WORKER_TIMEOUT_S = 600.0

Renderer = Callable[[IO[bytes]], bytes]
# source label -> format -> role -> milliseconds per rendition, one per iteration
Timings = dict[str, dict[str, dict[str, list[float]]]]


@dataclass(frozen=True)
class Source:
    label: str
    width: int
    height: int
    iterations: int
    quick_iterations: int

    @property
    def filename(self) -> str:
        return f"source-{self.width}x{self.height}.jpg"


SOURCES = (
    Source("3 MP", 2000, 1500, iterations=15, quick_iterations=5),
    Source("24 MP", 6000, 4000, iterations=7, quick_iterations=3),
)


@dataclass(frozen=True)
class Peak:
    """Peak resident set of a fresh process, in KiB as the kernel reports it."""

    before_kib: int
    after_kib: int

    @property
    def peak_mb(self) -> float:
        return self.after_kib * 1024 / 1e6

    @property
    def growth_mb(self) -> float:
        return (self.after_kib - self.before_kib) * 1024 / 1e6


def _progress(message: str) -> None:
    # stderr, so stdout stays a clean Markdown document.
    print(f"[bench] {message}", file=sys.stderr, flush=True)


# --- sources ------------------------------------------------------------------------------


def source_image(width: int, height: int) -> Image.Image:
    """Gradients under coarse blotches and fine grain, one pattern per channel.

    A flat or smooth picture decodes, resamples and encodes unrealistically fast; the
    grain brings the JPEG to about the size of a camera photo of the same pixel count
    (about 1.1 MB at 3 MP and 9 MB at 24 MP at quality 90).
    """
    gradient = Image.linear_gradient("L")
    channels = []
    for angle in (0, 90, 45):
        ramp = gradient.rotate(angle).resize((width, height), Image.Resampling.BILINEAR)
        blotches = Image.effect_noise((max(1, width // 24), max(1, height // 24)), 64).resize(
            (width, height), Image.Resampling.BICUBIC
        )
        grain = Image.effect_noise((width, height), 40)
        channels.append(Image.blend(Image.blend(ramp, blotches, 0.5), grain, 0.3))
    return Image.merge("RGB", channels)


def write_source(source: Source, path: Path) -> int:
    source_image(source.width, source.height).save(path, "JPEG", quality=SOURCE_QUALITY)
    return path.stat().st_size


# --- the two contestants (worker side: Django is set up) ----------------------------------


def _setup_django() -> None:
    # Nothing here touches a database, but importing promotions.renditions imports the
    # models; make sure a configured real database or Redis can never be picked up.
    for name in ("DATABASE_URL", "REDIS_URL"):
        os.environ.pop(name, None)
    if "LITFASS_VAR_DIR" not in os.environ:
        raise BenchError("the worker needs LITFASS_VAR_DIR set to a temporary directory")
    os.environ["DJANGO_SETTINGS_MODULE"] = SETTINGS
    import django

    django.setup()


def renderers(image_format: str) -> dict[str, Renderer]:
    """Subject and baseline for one output format, with the same quality setting."""
    from promotions.renditions import PIL_FORMATS, render
    from promotions.specs import parse_spec

    spec = parse_spec(f"{RESIZE}|format-{image_format}")
    pil_format = PIL_FORMATS[spec.format]

    def subject(source: IO[bytes]) -> bytes:
        return render(source, spec).content

    def baseline(source: IO[bytes]) -> bytes:
        with Image.open(source) as image:
            resized = image.resize(SIZE, Image.Resampling.LANCZOS)
        output = io.BytesIO()
        resized.save(output, pil_format, quality=spec.effective_quality)
        return output.getvalue()

    return {"subject": subject, "baseline": baseline}


def _check_output(content: bytes, image_format: str, what: str) -> None:
    # A contestant that silently produced something else would win for the wrong reason.
    with Image.open(io.BytesIO(content)) as image:
        if image.size != SIZE or (image.format or "").lower() != image_format:
            raise BenchError(
                f"{what} made a {image.format} of {image.size}, not a {image_format} of {SIZE}"
            )


def time_all(directory: Path, *, quick: bool) -> Timings:
    timings: Timings = {}
    contestants = {fmt: renderers(fmt) for fmt in FORMATS}
    for source in SOURCES:
        # From memory, not disk: the page cache would make disk reads noise, not signal.
        data = (directory / source.filename).read_bytes()
        for fmt, pair in contestants.items():
            for role, make in pair.items():
                # Unmeasured: loads codec plugins and encoder state, and checks the output.
                _check_output(make(io.BytesIO(data)), fmt, f"{role} ({source.label} {fmt})")
        per_format: dict[str, dict[str, list[float]]] = {
            fmt: {role: [] for role in ROLES} for fmt in FORMATS
        }
        iterations = source.quick_iterations if quick else source.iterations
        for n in range(1, iterations + 1):
            _progress(f"renditions: {source.label} iteration {n}/{iterations}")
            for fmt in FORMATS:
                # Subject and baseline back to back, so a burst of noise hits both.
                for role in ROLES:
                    started = time.perf_counter()
                    contestants[fmt][role](io.BytesIO(data))
                    per_format[fmt][role].append((time.perf_counter() - started) * 1000)
        timings[source.label] = per_format
    return timings


def peak_rss_kib() -> int:
    """This process's peak resident set size so far, in KiB."""
    try:
        # VmHWM, not ru_maxrss: on Linux ru_maxrss survives fork and exec, so a fresh
        # child would report the peak of whatever process started it.
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def probe_rss(path: Path, image_format: str, role: str) -> Peak:
    make = renderers(image_format)[role]
    # Both roles start from the same interpreter: Django, the subject's modules (imported
    # above for both) and every Pillow plugin loaded before the first measurement.
    Image.init()
    before = peak_rss_kib()
    for _ in range(RSS_RENDITIONS):
        with path.open("rb") as source:
            make(source)
    return Peak(before_kib=before, after_kib=peak_rss_kib())


# --- the calling side ---------------------------------------------------------------------


def _worker(args: Sequence[str], env: Mapping[str, str]) -> Any:
    """Run ``python -m bench.renditions --worker ...``; its last stdout line is JSON."""
    done = subprocess.run(
        [sys.executable, "-m", "bench.renditions", "--worker", *args],
        cwd=REPO_ROOT,
        env=dict(env),
        stdout=subprocess.PIPE,
        text=True,
        timeout=WORKER_TIMEOUT_S,
        check=False,
    )
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        raise BenchError(
            f"worker {' '.join(args)} failed ({done.returncode}); its stderr is above:\n"
            f"{done.stdout}"
        )
    return json.loads(lines[-1])


def _median(values: Sequence[float]) -> float:
    return statistics.median(values)


def table(
    timings: Timings,
    peaks: Mapping[tuple[str, str, str], Peak],
    source_bytes: Mapping[str, int],
    *,
    quick: bool,
    facts: str,
) -> str:
    lines = [
        "### Renditions: pipeline vs. naive Pillow (`fill-300x250`)",
        "",
        f"Machine: {facts}; Pillow {Image.__version__}",
        "",
        "| source | format | subject renditions/s | baseline renditions/s | ratio (throughput) "
        "| subject median ms | baseline median ms | subject peak RSS MB "
        "| baseline peak RSS MB |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    slow: list[str] = []
    for source in SOURCES:
        for fmt in FORMATS:
            subject_ms = _median(timings[source.label][fmt]["subject"])
            baseline_ms = _median(timings[source.label][fmt]["baseline"])
            ratio = baseline_ms / subject_ms
            if ratio < TARGET_RATIO:
                slow.append(f"{source.label} {fmt} (ratio {ratio:.2f})")
            subject_peak = peaks[(source.label, fmt, "subject")]
            baseline_peak = peaks[(source.label, fmt, "baseline")]
            lines.append(
                f"| {source.label} | {fmt} | {1000 / subject_ms:.1f} | {1000 / baseline_ms:.1f} "
                f"| {ratio:.2f} | {subject_ms:.1f} | {baseline_ms:.1f} "
                f"| {subject_peak.peak_mb:.0f} (+{subject_peak.growth_mb:.0f}) "
                f"| {baseline_peak.peak_mb:.0f} (+{baseline_peak.growth_mb:.0f}) |"
            )
    heaviest_format, heaviest = max(
        ((fmt, peaks[(TARGET_PEAK_SOURCE, fmt, "subject")]) for fmt in FORMATS),
        key=lambda item: item[1].after_kib,
    )
    throughput_verdict = "**met**" if not slow else "**missed** for " + ", ".join(slow)
    memory_verdict = "**met**" if heaviest.peak_mb < TARGET_PEAK_MB else "**missed**"
    iterations = ", ".join(
        f"{s.label} {s.quick_iterations if quick else s.iterations}" for s in SOURCES
    )
    sources = ", ".join(
        f"{s.label} {s.width}×{s.height} ({source_bytes[s.label] / 1e6:.1f} MB)" for s in SOURCES
    )
    notes = [
        f"Sources: generated in this run (gradients, blotches and grain; JPEG quality "
        f"{SOURCE_QUALITY}): {sources}. Subject: `promotions.renditions.render` with "
        f"`{RESIZE}|format-…` (JPEG draft, `reducing_gap`, crop to the focal point). "
        f"Baseline: `Image.open` → `resize((300, 250), LANCZOS)` of the whole frame → "
        f"`save`, at the same default quality per format as the spec.",
        f"Timing: one worker process, one unmeasured warm-up per case, then {iterations} "
        f"iterations per case, subject and baseline interleaved (S, B, S, B, …), sources "
        f"read from memory. Median ms per rendition; renditions/s = 1000 / median ms; "
        f"ratio = subject renditions/s ÷ baseline renditions/s.",
        f"Peak RSS: a fresh process per cell (Django set up, modules and Pillow plugins "
        f"loaded) makes {RSS_RENDITIONS} renditions from the file on disk; its peak resident "
        f"set (VmHWM) in MB (10^6 bytes), in brackets the growth over its peak before the "
        f"first rendition.",
        f"Targets: subject throughput at least {TARGET_RATIO:g}× the baseline's for every "
        f"JPEG source and format: {throughput_verdict}. Subject peak RSS for the "
        f"{TARGET_PEAK_SOURCE} source under {TARGET_PEAK_MB:.0f} MB: {memory_verdict} "
        f"(highest {heaviest.peak_mb:.0f} MB, {heaviest_format}).",
    ]
    if quick:
        notes.append("Quick run: too few iterations to quote; a smoke test only.")
    for note in notes:
        # A blank line each, or Markdown would run the notes together into one paragraph.
        lines.extend(["", note])
    return "\n".join(lines)


def run(*, quick: bool = False) -> str:
    missing = [fmt for fmt in FORMATS if not features.check(fmt if fmt != "jpeg" else "jpg")]
    if missing:
        raise BenchError(f"this Pillow cannot write {', '.join(missing)}")
    facts = machine_facts()
    with tempfile.TemporaryDirectory(prefix="litfass-bench-renditions-") as tmp:
        directory = Path(tmp)
        var_dir = directory / "var"
        var_dir.mkdir()
        env = child_env({"DJANGO_SETTINGS_MODULE": SETTINGS, "LITFASS_VAR_DIR": str(var_dir)})
        source_bytes: dict[str, int] = {}
        for source in SOURCES:
            _progress(f"renditions: generating the {source.label} source")
            source_bytes[source.label] = write_source(source, directory / source.filename)
        timings: Timings = _worker(["timing", "--dir", tmp, *(["--quick"] if quick else [])], env)
        peaks: dict[tuple[str, str, str], Peak] = {}
        for source in SOURCES:
            for fmt in FORMATS:
                for role in ROLES:
                    _progress(f"renditions: peak RSS, {source.label} {fmt} {role}")
                    probe = _worker(
                        [
                            "rss",
                            "--dir",
                            tmp,
                            "--source",
                            source.label,
                            "--format",
                            fmt,
                            "--role",
                            role,
                        ],
                        env,
                    )
                    peaks[(source.label, fmt, role)] = Peak(**probe)
    return table(timings, peaks, source_bytes, quick=quick, facts=facts)


def _run_worker(args: argparse.Namespace) -> None:
    _setup_django()
    directory = Path(args.dir)
    if args.worker == "timing":
        result: Any = time_all(directory, quick=args.quick)
    else:
        source = next(s for s in SOURCES if s.label == args.source)
        peak = probe_rss(directory / source.filename, args.format, args.role)
        result = {"before_kib": peak.before_kib, "after_kib": peak.after_kib}
    print(json.dumps(result))


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="fewer iterations: a smoke run")
    # Internal: the fresh processes that run() starts for timing and for each RSS probe.
    parser.add_argument("--worker", choices=("timing", "rss"), help=argparse.SUPPRESS)
    parser.add_argument("--dir", help=argparse.SUPPRESS)
    parser.add_argument("--source", choices=[s.label for s in SOURCES], help=argparse.SUPPRESS)
    parser.add_argument("--format", choices=FORMATS, help=argparse.SUPPRESS)
    parser.add_argument("--role", choices=ROLES, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        _run_worker(args)
        return
    print(run(quick=args.quick))


if __name__ == "__main__":
    main()
