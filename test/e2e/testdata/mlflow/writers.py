"""Concurrent writers: several processes log to one experiment at once.

`concurrent` creates the experiment and one shared run, starts --writers
copies of this script in `writer` mode at the same moment, waits for all,
and checks that every point of every writer arrived:

  - each writer's own --runs runs hold its --points steps of "loss" (logged
    in batches of 100) and 50 single log_metric calls of "single";
  - the shared run holds every writer's interleaved steps of "shared"
    (writer i logs the steps s with s % writers == i, in batches of 50),
    one param per writer, and a metric "shared.w<i>" per writer;
  - search_runs over the experiment returns exactly the writers' runs and
    the shared run.
"""

import os
import subprocess
import sys
import time

from mlflow import MlflowClient
from mlflow.entities import Metric, Param

from mlcheck import Steps, check, equal

SINGLE = 50
BATCH = 100
SHARED_BATCH = 50


def shared_steps(args):
    return args.points  # in total over all writers


def writer(args):
    c = MlflowClient()
    i = args.index
    t0 = int(time.time() * 1000)
    started = time.time()
    for r in range(args.runs):
        run = c.create_run(args.experiment_id, run_name=f"w{i}-r{r}", tags={"writer": str(i), "round": str(r)})
        rid = run.info.run_id
        c.log_batch(rid, params=[Param("writer", str(i)), Param("round", str(r))])
        for start in range(0, args.points, BATCH):
            c.log_batch(rid, metrics=[Metric("loss", value(i, r, s), t0 + s, s)
                                      for s in range(start, min(start + BATCH, args.points))])
        for s in range(SINGLE):
            c.log_metric(rid, "single", float(s), timestamp=t0, step=s)
        c.set_terminated(rid)
    mine = [s for s in range(shared_steps(args)) if s % args.writers == i]
    for start in range(0, len(mine), SHARED_BATCH):
        chunk = mine[start:start + SHARED_BATCH]
        c.log_batch(args.shared_run, metrics=[Metric("shared", float(s), t0, s) for s in chunk]
                    + [Metric(f"shared.w{i}", float(s), t0, s) for s in chunk])
    c.log_param(args.shared_run, f"writer{i}", str(i))
    c.set_tag(args.shared_run, f"done.w{i}", "yes")
    print(f"writer {i}: {args.runs} runs x {args.points} points, {len(mine)} shared points", flush=True)
    print(f"interval {started:.3f} {time.time():.3f}", flush=True)


def value(i, r, s):
    return i * 1e6 + r * 1e4 + s / 7


def concurrent(args):
    c = MlflowClient()
    steps = Steps(args.keep_going)
    state = {}

    def setup():
        state["exp"] = c.create_experiment(f"{args.prefix}-concurrent")
        state["shared"] = c.create_run(state["exp"], run_name="shared", tags={"writer": "shared"}).info.run_id

    def run_writers():
        cmd = [sys.executable, os.path.abspath(sys.argv[0]), "writer", "--prefix", args.prefix,
               "--experiment-id", state["exp"], "--shared-run", state["shared"],
               "--writers", str(args.writers), "--points", str(args.points), "--runs", str(args.runs)]
        procs = [subprocess.Popen(cmd + ["--index", str(i)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
                 for i in range(args.writers)]
        failed, intervals = [], []
        for i, p in enumerate(procs):
            out, _ = p.communicate(timeout=900)
            print("".join(f"  [w{i}] {line}\n" for line in out.splitlines()), end="", flush=True)
            if p.returncode != 0:
                failed.append(i)
            intervals += [tuple(map(float, line.split()[1:])) for line in out.splitlines() if line.startswith("interval ")]
        check(not failed, "writer process(es) %s exited non-zero", failed)
        # The writers really wrote at the same time: their busy intervals overlap.
        equal(len(intervals), args.writers, "writers that reported their interval")
        check(max(a for a, _ in intervals) < min(b for _, b in intervals),
              "the writers did not overlap in time: %s", intervals)

    def verify_runs():
        runs = c.search_runs([state["exp"]], "tags.writer != 'shared'", max_results=1000)
        by_writer = {}
        for run in runs:
            by_writer.setdefault(run.data.tags.get("writer"), []).append(run)
        equal(sorted(by_writer), sorted(str(i) for i in range(args.writers)), "writers with runs")
        for w, rs in by_writer.items():
            equal(len(rs), args.runs, f"runs of writer {w}")
            for run in rs:
                rid, rnd = run.info.run_id, int(run.data.tags["round"])
                equal(run.info.status, "FINISHED", f"status of {run.info.run_name}")
                equal(run.data.params, {"writer": w, "round": str(rnd)}, f"params of {run.info.run_name}")
                hist = sorted((m.step, m.value) for m in c.get_metric_history(rid, "loss"))
                want = [(s, value(int(w), rnd, s)) for s in range(args.points)]
                check(hist == want, "loss history of %s: %d points, want %d (or values differ)",
                      run.info.run_name, len(hist), len(want))
                single = sorted(m.step for m in c.get_metric_history(rid, "single"))
                equal(single, list(range(SINGLE)), f"single log_metric steps of {run.info.run_name}")
                equal(run.data.metrics.get("loss"), value(int(w), rnd, args.points - 1), f"latest loss of {run.info.run_name}")
        total = c.search_runs([state["exp"]], max_results=1000)
        equal(len(total), args.writers * args.runs + 1, "runs in the experiment")

    def verify_shared():
        run = c.get_run(state["shared"])
        hist = sorted(int(m.value) for m in c.get_metric_history(state["shared"], "shared"))
        check(hist == list(range(shared_steps(args))), "shared run: %d of %d interleaved points arrived",
              len(hist), shared_steps(args))
        for i in range(args.writers):
            mine = sorted(m.step for m in c.get_metric_history(state["shared"], f"shared.w{i}"))
            equal(mine, [s for s in range(shared_steps(args)) if s % args.writers == i], f"shared.w{i} steps")
            equal(run.data.params.get(f"writer{i}"), str(i), f"param writer{i} of the shared run")
            equal(run.data.tags.get(f"done.w{i}"), "yes", f"tag done.w{i} of the shared run")
        equal(run.data.metrics.get("shared"), float(shared_steps(args) - 1), "latest value of shared")

    steps.run("create experiment and shared run", setup)
    steps.run(f"{args.writers} writer processes at once", run_writers)
    steps.run("every writer's runs and points arrived", verify_runs)
    steps.run("every writer's points in the shared run arrived", verify_shared)
    steps.finish()
