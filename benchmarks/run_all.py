"""The whole benchmark suite in one command: stackit vs hand-written JAX vs Keras 3 (JAX).

    python benchmarks/run_all.py [--quick] [--only NAME,...] [--out benchmarks/RESULTS.md]

Runs each case of `cases.py` in its own process (so memory and compile caches do not leak from
one case to the next), collects the JSON line each prints, and appends a markdown section to
`--out`: the date, the machine (CPU, cores, load average before and after, versions, device),
a table per kind of case, and which targets are met. The section is rewritten after every
case, so a run cut short still leaves what it measured. `--quick` shrinks every case to seconds
(a smoke test); the default run takes about 15 minutes on 2 CPU cores.

Targets: stackit `fit` >= 1.0x the best hand-written JAX loop and >= 1.15x the best Keras on
every model; evaluate / predict >= 1.0x the best jitted forward; peak RSS <= 1.2x the
hand-written loop's.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
JSON_PREFIX = "BENCH_JSON "  # as _common.JSON_PREFIX (not imported: it would load JAX here)
TRAINING = ("mlp-b32", "mlp-b128", "mlp-b1024", "lenet", "tf-cnn", "alexnet", "resnet32", "lstm")
#: Memory cases: the training case whose contenders each run alone in a process.
MEMORY = {"memory-mlp": "mlp-b128", "memory-lenet": "lenet"}
MEMORY_CONTENDERS = ("stackit", "jax-step", "keras-spe1")
ALL = (*TRAINING, "predict", "startup", *MEMORY)
TARGET_JAX, TARGET_KERAS, TARGET_INFER, TARGET_MEMORY = 1.0, 1.15, 1.0, 1.2
LOGS = Path(tempfile.gettempdir()) / "stackit-bench-logs"


def run_case(argv: list[str], timeout: float) -> dict | None:
    """Runs `cases.py *argv` in a fresh process; its JSON result, or None (log kept in LOGS)."""
    LOGS.mkdir(exist_ok=True)
    log = LOGS / ("_".join(argv).replace("--", "") + ".log")
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="stackit-bench-jax-cache-") as cache:
        # A fresh persistent compilation cache (stackit turns one on): first epochs compile.
        env = {**os.environ, "JAX_COMPILATION_CACHE_DIR": cache}
        try:
            proc = subprocess.run([sys.executable, str(HERE / "cases.py"), *argv], text=True,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  timeout=timeout, env=env)
            output, failed = proc.stdout, proc.returncode != 0
        except subprocess.TimeoutExpired as exc:
            output = (exc.stdout or b"").decode(errors="replace") + "\nTIMEOUT"
            failed = True
    log.write_text(output)
    lines = [line for line in output.splitlines() if line.startswith(JSON_PREFIX)]
    status = "FAILED" if failed or not lines else "ok"
    print(f"  {' '.join(argv)}: {status} in {time.perf_counter() - start:.0f} s (log {log})",
          flush=True)
    if status != "ok":
        print("    " + "\n    ".join(output.splitlines()[-8:]))
        return None
    return json.loads(lines[-1][len(JSON_PREFIX):])


# -- the machine ----------------------------------------------------------------------------------

def loadavg() -> str:
    """The 1, 5 and 15 minute load averages, as `cat /proc/loadavg` shows them."""
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def versions() -> str:
    found = []
    for package in ("jax", "jaxlib", "optax", "keras", "numpy"):
        try:
            found.append(f"{package} {importlib.metadata.version(package)}")
        except importlib.metadata.PackageNotFoundError:
            found.append(f"{package} missing")
    return ", ".join(found)


def device() -> str:
    """Backend and device kind, asked of a child process (JAX stays out of this one)."""
    code = "import jax; d = jax.devices()[0]; print(jax.default_backend(), d.device_kind)"
    out = subprocess.run([sys.executable, "-c", code], text=True, capture_output=True)
    return out.stdout.strip() or "?"


# -- the report -----------------------------------------------------------------------------------

def fmt(value: float | None, digits: int = 0) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def verdict(value: float | None, target: float, at_most: bool = False) -> str:
    if value is None:
        return "n/a"
    return "met" if (value <= target if at_most else value >= target) else "MISSED"


def training_table(results: dict[str, dict], checks: list[tuple[str, str]]) -> list[str]:
    lines = ["| case | rows, batch | stackit samples/s | best JAX (variant) | best Keras (variant)"
             " | stackit / JAX | stackit / Keras | first epoch s: stackit / JAX step / JAX scan"
             " / Keras spe1 / spe32 |", "|" + "---|" * 8]
    for name in TRAINING:
        r = results.get(name)
        if r is None:
            continue
        jax, keras = r["jax"], r["keras"]
        first = " / ".join(fmt(r["contenders"].get(c, {}).get("first_epoch_s"), 1)
                           for c in ("stackit", "jax-step", "jax-scan", "keras-spe1",
                                     "keras-spe32"))
        lines.append(
            f"| {name}: {r['title']} | {r['rows']:,}, {r['batch']} | {fmt(r['stackit'])} | "
            f"{fmt(jax[1])} ({jax[0]}) | "
            f"{fmt(keras[1]) + ' (' + keras[0] + ')' if keras else '-'} | "
            f"**{fmt(r['ratio_jax'], 2)}** | **{fmt(r['ratio_keras'], 2)}** | {first} |")
        checks.append((f"{name} fit vs JAX >= {TARGET_JAX}",
                       verdict(r["ratio_jax"], TARGET_JAX)))
        checks.append((f"{name} fit vs Keras >= {TARGET_KERAS}",
                       verdict(r["ratio_keras"], TARGET_KERAS)))
    return lines


def inference_table(r: dict, checks: list[tuple[str, str]]) -> list[str]:
    c = r["contenders"]
    lines = [f"MLP inference on {r['rows']:,} rows, batch {r['batch']} (rows/s; the jitted "
             f"forward returns probabilities to the host): jax-batch "
             f"{fmt(c['jax-batch']['samples_per_s'])}, jax-whole "
             f"{fmt(c['jax-whole']['samples_per_s'])}.", "",
             "| call | stackit rows/s | best jitted forward | stackit / forward | Keras rows/s "
             "| stackit / Keras |", "|" + "---|" * 6]
    for call in ("predict", "evaluate"):
        ours, keras = c[f"stackit-{call}"]["samples_per_s"], c[f"keras-{call}"]["samples_per_s"]
        ratio = ours / r["jax"][1]
        lines.append(f"| {call} | {fmt(ours)} | {fmt(r['jax'][1])} ({r['jax'][0]}) | "
                     f"**{ratio:.2f}** | {fmt(keras)} | {ours / keras:.2f} |")
        checks.append((f"{call} vs jitted forward >= {TARGET_INFER}",
                       verdict(ratio, TARGET_INFER)))
    return lines


def startup_table(r: dict, checks: list[tuple[str, str]]) -> list[str]:
    first, imports = r["first_epoch_s"], r["imports"]
    lines = ["Time to the first trained epoch, LeNet-5 on 5,000 digits (build + compile + one "
             "epoch, each in a fresh process after its imports; medians): an empty JAX "
             "compilation cache (cold) and the one that run filled (warm, a rerun).", "",
             "| contender | import s | cold s | warm s |", "|" + "---|" * 4]
    for name in ("stackit", "jax-step", "keras"):
        lines.append(f"| {name} | {fmt(imports.get(name), 2)} | "
                     f"{fmt(first.get(name + '-cold'), 2)} | {fmt(first.get(name + '-warm'), 2)} |")
    for kind in ("cold", "warm"):
        ours, keras = first.get(f"stackit-{kind}"), first.get(f"keras-{kind}")
        checks.append((f"first epoch ({kind}) <= Keras's",
                       verdict(ours / keras if ours and keras else None, 1.0, at_most=True)))
    return lines


def memory_table(results: dict[str, dict], checks: list[tuple[str, str]]) -> list[str]:
    lines = ["| model (own process per contender, warm-up + 1 epoch) | stackit MiB | "
             "hand-written JAX MiB | Keras MiB | stackit / hand-written |", "|" + "---|" * 5]
    for name in MEMORY:
        rss = {c: results.get(f"{name}:{c}", {}).get("peak_rss_mb") for c in MEMORY_CONTENDERS}
        if not any(rss.values()):
            continue
        ours, ref = rss["stackit"], rss["jax-step"]
        ratio = ours / ref if ours and ref else None
        lines.append(f"| {MEMORY[name]} | {fmt(ours)} | {fmt(ref)} | {fmt(rss['keras-spe1'])}"
                     f" | **{fmt(ratio, 2)}** |")
        checks.append((f"{name} peak RSS <= {TARGET_MEMORY}x",
                       verdict(ratio, TARGET_MEMORY, at_most=True)))
    return lines


def section(meta: dict, results: dict[str, dict], done: bool) -> str:
    """The markdown section of this run."""
    checks: list[tuple[str, str]] = []
    lines = [f"## {meta['date']}{' (quick smoke test)' if meta['quick'] else ''}"
             f"{'' if done else ' (in progress)'}", "",
             f"- command: `{meta['command']}`",
             f"- machine: {meta['cpu']}, {meta['cores']} cores ({meta['affinity']} usable), "
             f"{meta['device']}", f"- {meta['versions']}, python {platform.python_version()}",
             f"- load average (1, 5, 15 min) before: {meta['load_before']}, after: "
             f"{meta.get('load_after', '-')}", "",
             "Training: samples/s, median of the rounds after a warm-up epoch, contenders "
             "alternated; stackit is `DNN(net)` with default arguments (global-norm clipping "
             "at 5.0, which the others do not do) and `fit(..., show_metric=True)`.", ""]
    lines += training_table(results, checks)
    if "predict" in results:
        lines += ["", *inference_table(results["predict"], checks)]
    if "startup" in results:
        lines += ["", *startup_table(results["startup"], checks)]
    memory = memory_table(results, checks)
    if len(memory) > 2:
        lines += ["", *memory]
    met = [name for name, v in checks if v == "met"]
    missed = [name for name, v in checks if v == "MISSED"]
    unmeasured = [name for name, v in checks if v == "n/a"]
    lines += ["", f"Targets met ({len(met)}): {', '.join(met) or 'none'}.", "",
              f"Targets MISSED ({len(missed)}): {', '.join(missed) or 'none'}.", ""]
    if unmeasured:
        lines += [f"Not measured (contender not run): {', '.join(unmeasured)}.", ""]
    failed = [name for name in meta["cases"] if done and not any(
        key == name or key.startswith(name + ":") for key in results)]
    if failed:
        lines += [f"Cases that failed (see {LOGS}): {', '.join(failed)}.", ""]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke test")
    parser.add_argument("--only", help=f"comma-separated cases, of: {', '.join(ALL)}")
    parser.add_argument("--out", type=Path, default=HERE / "RESULTS.md",
                        help="markdown file the section is appended to (default "
                             "benchmarks/RESULTS.md)")
    args = parser.parse_args()
    cases = args.only.split(",") if args.only else list(ALL)
    unknown = set(cases) - set(ALL)
    if unknown:
        parser.error(f"unknown case(s) {', '.join(sorted(unknown))}; known: {', '.join(ALL)}")

    meta = {"date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M"), "quick": args.quick,
            "command": " ".join(["python benchmarks/run_all.py", *sys.argv[1:]]),
            "cpu": cpu_model(), "cores": os.cpu_count(),
            "affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else "?",
            "versions": versions(), "device": device(), "load_before": loadavg(), "cases": cases}
    print(f"{meta['cpu']}, {meta['cores']} cores, {meta['device']}, load {meta['load_before']}")
    before = args.out.read_text() if args.out.exists() else (
        "# Benchmark results\n\nSections appended by `python benchmarks/run_all.py`; newest "
        "last. See benchmarks/README.md.\n")
    results: dict[str, dict] = {}
    quick = ["--quick"] if args.quick else []
    timeout = 300 if args.quick else 900
    for name in cases:
        if name in MEMORY:
            for contender in MEMORY_CONTENDERS:
                result = run_case([MEMORY[name], *quick, "--memory", contender], timeout)
                if result:
                    results[f"{name}:{contender}"] = result
        else:
            result = run_case([name, *quick], timeout)
            if result:
                results[name] = result
        args.out.write_text(before.rstrip("\n") + "\n\n" + section(meta, results, done=False))
    meta["load_after"] = loadavg()
    args.out.write_text(before.rstrip("\n") + "\n\n" + section(meta, results, done=True))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
