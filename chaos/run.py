"""`python -m chaos.run`: run chaos scenarios and check every invariant.

    python -m chaos.run --all [--seed N]          every scenario (`make chaos`)
    python -m chaos.run --scenario partition-one --seed 42
    python -m chaos.run --list
    python -m chaos.run --scenario smoke --plaintext   without TLS and access keys

One run writes chaos/out/<run>/: per scenario a directory with report.json, summary.txt,
the lag plot, every process's log, the histories, samples and dumps; plus report.json and
summary.txt for the whole run. Exit code 0 when every scenario passed, 1 when one failed,
2 on usage errors, 3 when this host cannot run the suite (not root, tools missing).
chaos/execute.py runs each scenario; teardown happens in every case, also on errors,
Ctrl-C and SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import pathlib
import random
import signal
import sys
import time
from typing import Any

from chaos import execute, report
from chaos.net import cleanup_leftovers, missing_tools
from chaos.scenarios import OUTAGE_SHORT, SCENARIOS, SMOKE, Scenario

OUT = pathlib.Path(__file__).resolve().parent / "out"
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_ENV = 0, 1, 2, 3


def environment_problems(scenarios: list[Scenario]) -> list[str]:
    """Why this host cannot run these scenarios (empty: it can)."""
    return missing_tools() if scenarios else []


async def run_all(
    scenarios: list[Scenario], seed: int, out: pathlib.Path, tls: bool = True
) -> list[dict[str, Any]]:
    """Scenarios one after the other; SIGTERM cancels like Ctrl-C (teardown still runs).
    `tls` False runs the groups plaintext (`insecure: true`, no access keys)."""
    task = asyncio.current_task()
    assert task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    cleanup_leftovers()
    reports = []
    for sc in scenarios:
        rep = await execute.run_scenario(sc, seed, out, tls)
        print(report.summary(rep), flush=True)
        reports.append(rep)
    return reports


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m chaos.run", description=__doc__.split("\n")[0])
    parser.add_argument("--all", action="store_true", help="run every scenario")
    parser.add_argument("--scenario", action="append", default=[], help="run this scenario")
    parser.add_argument("--seed", type=int, help="seed of the fault schedules (default: random)")
    parser.add_argument("--out", type=pathlib.Path, default=OUT, help="output root")
    parser.add_argument("--list", action="store_true", help="list the scenarios")
    parser.add_argument(
        "--plaintext", action="store_true", help="no TLS and no access keys (insecure: true)"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    known = {**SCENARIOS, SMOKE.name: SMOKE, OUTAGE_SHORT.name: OUTAGE_SHORT}
    if args.list:
        for sc in known.values():
            print(f"{sc.name:18} {sc.proves}")
        return EXIT_OK
    unknown = [n for n in args.scenario if n not in known]
    if unknown or not (args.all or args.scenario):
        parser.print_usage(sys.stderr)
        print(
            f"unknown scenario(s): {unknown}" if unknown else "give --all or --scenario NAME",
            file=sys.stderr,
        )
        return EXIT_USAGE
    scenarios = list(SCENARIOS.values()) if args.all else [known[n] for n in args.scenario]
    problems = environment_problems(scenarios)
    if problems:
        print("cannot run the chaos suite here:\n  " + "\n  ".join(problems), file=sys.stderr)
        return EXIT_ENV
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1 << 31)
    run_dir = args.out / f"{time.strftime('%Y%m%d-%H%M%S')}-seed{seed}"
    run_dir.mkdir(parents=True, exist_ok=True)
    print(f"chaos run {run_dir} (seed {seed}; repeat with --seed {seed})", flush=True)
    try:
        reports = asyncio.run(run_all(scenarios, seed, run_dir, not args.plaintext))
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("interrupted; namespaces and processes of this run were removed", file=sys.stderr)
        cleanup_leftovers()
        return EXIT_FAILED
    table = [
        f"{r['scenario']:18} {'PASS' if r['ok'] else 'FAIL'}  {r.get('elapsed_s', 0):6.1f} s"
        for r in reports
    ]
    passed = all(r["ok"] for r in reports)
    text = "\n".join([f"seed {seed}", *table, "PASS" if passed else "FAIL"])
    (run_dir / "summary.txt").write_text(
        text + "\n\n" + "\n\n".join(report.summary(r) for r in reports) + "\n"
    )
    (run_dir / "report.json").write_text(
        json.dumps({"seed": seed, "ok": passed, "scenarios": reports}, indent=2, default=str)
    )
    print(text)
    return EXIT_OK if passed else EXIT_FAILED


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
