"""`synthlab bench`: timings as tables headed by the machine, saved as JSON; every figure
next to a straightforward reference measured in the same run, so it reads as a ratio.

    synthlab bench texture   per-evaluation cost at 128/256/512 px and whole 3 x 100 syntheses
    synthlab bench cppn      megapixels/s and peak memory at 1080^2, 3240^2, 7680x4320
    synthlab bench gan       generator step images/s and seconds per epoch
    synthlab bench sweep     framework overhead per sweep job

`synthlab bench WHAT --help` lists each one's options. Nothing here is asserted by tests:
speed depends on the machine, so it is measured and printed, never checked against a clock.
"""

import argparse
import importlib
import os
import platform
import sys

import torch

WHATS = ("texture", "cppn", "gan", "sweep")


def machine(device: str = "cpu") -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    info = {"cpu": cpu, "cores": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "torch": torch.__version__, "device": device, "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "unset")}
    if device.startswith("cuda"):
        info["gpu"] = torch.cuda.get_device_name(device)
    return info


def header(info: dict) -> str:
    return (f"machine: {info['cpu']} | {info['cores']} cores, torch {info['torch']} "
            f"({info['torch_threads']} threads, OMP_WAIT_POLICY {info.get('omp_wait_policy', 'unset')}) "
            f"| device {info.get('gpu', info['device'])}")


def table(rows: list[dict], cols: list[tuple[str, str, str]]) -> str:
    """Markdown table; cols are (key, heading, format spec). Missing values print as '-'."""
    def cell(r, k, f):
        v = r.get(k)
        return "-" if v is None else (format(v, f) if f else str(v))
    lines = ["| " + " | ".join(h for _, h, _ in cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(cell(r, k, f) for k, _, f in cols) + " |" for r in rows]
    return "\n".join(lines)


def sync(device: str) -> None:
    if str(device).startswith("cuda"):
        torch.cuda.synchronize(device)


def common_args(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--json", default=f"outputs/bench/{what}.json")


def main(argv=None) -> int:
    argv = list(argv or [])
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__.strip())
        return 0
    if argv[0] not in WHATS:
        print(f"synthlab bench: error: unknown bench {argv[0]!r}; choose one of: {', '.join(WHATS)}", file=sys.stderr)
        return 2
    from synthlab.errors import SynthlabError

    try:
        return importlib.import_module(f"synthlab.bench.{argv[0]}").main(argv[1:])
    except SynthlabError as e:  # a bad size or option: one line, as the main command does
        print(f"synthlab bench: error: {e}", file=sys.stderr)
        return 1


def finish(what: str, a, info: dict, result: dict, text: str) -> int:
    from synthlab.io import write_json

    print(header(info))
    print(text)
    write_json(a.json, {"machine": info, what: result})
    print(f"wrote {a.json}")
    return 0
