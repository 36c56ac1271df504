"""Profile a running process (a worker during a capacity run) with py-spy.

    python -m bench.profile --pid PID [--seconds 30] [--name worker] [--results-dir DIR]
        [--out result.json]

Writes DIR/profile-NAME.svg (a flame graph) and DIR/profile-NAME.txt (the functions with the
most samples, on-CPU and in total, from the collapsed stacks) while sampling the process at
--rate Hz without pausing it (--nonblocking), so the profiled run keeps its pace.

py-spy reads the target's memory with ptrace: it needs the same user and a permissive
kernel.yama.ptrace_scope (or CAP_SYS_PTRACE). When it cannot attach, `make bench` goes on
without a profile and says why; the in-process alternative is to start the process under
`python -m cProfile -o FILE` (no extra dependency), e.g.
`python -m cProfile -o worker.prof -m pipeline.cli.main worker` and read it with pstats.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from bench.config import ROOT
from bench.processes import write_result


def py_spy() -> str:
    found = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(found).exists():
        raise SystemExit("py-spy is not installed (pip install -e '.[bench]')")
    return found


def can_attach(pid: int, attempts: int = 5) -> tuple[bool, str]:
    """Whether py-spy may read the process. A dump of a running process can also fail by
    catching it mid-update ("Bad address"), so only repeated failures count."""
    why = ""
    for _ in range(attempts):
        done = subprocess.run(
            [py_spy(), "dump", "--pid", str(pid), "--nonblocking"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if done.returncode == 0:
            return True, ""
        why = (done.stderr or done.stdout).strip()
        if "ermission" in why or "not permitted" in why:
            break
    return False, why[-500:]


def summarise(collapsed: Path, top: int = 25) -> str:
    """Self (innermost frame) and inclusive sample counts per function."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    samples = 0
    for line in collapsed.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        samples += count
        frames = stack.split(";")
        own[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
    lines = [f"{samples} samples", "", f"top {top} by own samples (on the innermost frame):"]
    lines += [f"{n / samples * 100:6.2f} %  {frame}" for frame, n in own.most_common(top)]
    lines += ["", f"top {top} by inclusive samples:"]
    lines += [f"{n / samples * 100:6.2f} %  {frame}" for frame, n in inclusive.most_common(top)]
    return "\n".join(lines) + "\n"


def record(pid: int, seconds: float, name: str, results: Path, rate: int) -> dict[str, Any]:
    attachable, why = can_attach(pid)
    if not attachable:
        return {"name": name, "pid": pid, "profiled": False, "reason": why}
    results.mkdir(parents=True, exist_ok=True)
    svg = results / f"profile-{name}.svg"
    raw = results / f"profile-{name}.collapsed"
    common = [
        "--pid",
        str(pid),
        "--duration",
        str(int(seconds)),
        "--rate",
        str(rate),
        "--nonblocking",
    ]
    # Two samplers side by side: py-spy writes one format per recording.
    recorders = [
        subprocess.Popen(
            [py_spy(), "record", *common, "--format", fmt, "--output", str(path)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for fmt, path in (("flamegraph", svg), ("raw", raw))
    ]
    errors = [p.communicate(timeout=seconds + 120)[1].decode(errors="replace") for p in recorders]
    if not raw.exists():
        return {"name": name, "pid": pid, "profiled": False, "reason": errors[1][-500:]}
    summary = results / f"profile-{name}.txt"
    summary.write_text(summarise(raw))
    raw.unlink()
    return {
        "name": name,
        "pid": pid,
        "profiled": True,
        "seconds": seconds,
        "rate_hz": rate,
        "flamegraph": str(svg.relative_to(ROOT)) if svg.is_relative_to(ROOT) else str(svg),
        "summary": str(summary.relative_to(ROOT)) if summary.is_relative_to(ROOT) else str(summary),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--pid", type=int, required=True)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--name", default="worker")
    parser.add_argument("--rate", type=int, default=100)
    parser.add_argument("--results-dir", default=str(ROOT / "bench" / "results"))
    parser.add_argument("--out")
    args = parser.parse_args()
    result = record(args.pid, args.seconds, args.name, Path(args.results_dir), args.rate)
    if args.out:
        write_result(args.out, result)
    else:
        print(result)


if __name__ == "__main__":
    main()
