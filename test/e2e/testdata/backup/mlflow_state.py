"""Fill an arca's MLflow space, or print what it holds, for the backup test.

  mlflow_state.py fill         experiments, runs with params, tags, metric
                               histories and artifacts, a registered model
                               with a version and an alias
  mlflow_state.py read         print the state as one JSON line (STATE ...)
  mlflow_state.py write-more   a new run in a new experiment (a restored
                               server takes writes)
"""
import json
import os
import sys
import tempfile

import mlflow
from mlflow import MlflowClient

EXPERIMENT = "backup-e2e"


def fill():
    exp = mlflow.set_experiment(EXPERIMENT)
    client = MlflowClient()
    client.set_experiment_tag(exp.experiment_id, "owner", "erin")
    work = tempfile.mkdtemp()
    first = None
    for i in range(2):
        with mlflow.start_run(run_name=f"run-{i}") as run:
            first = first or run.info.run_id
            mlflow.log_params({"lr": 0.1 * (i + 1), "depth": i + 3})
            mlflow.set_tag("team", "ml")
            for step in range(50):
                mlflow.log_metric("loss", 1.0 / (step + 1 + i), step=step)
            path = os.path.join(work, f"weights-{i}.txt")
            with open(path, "w") as f:
                f.write(f"weights of run {i}\n" * 1000)
            mlflow.log_artifact(path, artifact_path="model")
    client.create_registered_model("bk-model")
    v = client.create_model_version("bk-model", f"runs:/{first}/model", run_id=first)
    client.set_registered_model_alias("bk-model", "champion", v.version)


def read():
    client = MlflowClient()
    exp = client.get_experiment_by_name(EXPERIMENT)
    state = {"experiment": exp.name, "tags": exp.tags, "runs": []}
    for run in sorted(client.search_runs([exp.experiment_id]), key=lambda r: r.info.run_name):
        rid = run.info.run_id
        hist = [(m.step, m.value) for m in client.get_metric_history(rid, "loss")]
        dest = tempfile.mkdtemp()
        files = {}
        for a in client.list_artifacts(rid, "model"):
            p = client.download_artifacts(rid, a.path, dest)
            with open(p) as f:
                files[a.path] = f.read()
        state["runs"].append({"id": rid, "name": run.info.run_name, "params": run.data.params,
                              "tags": {k: v for k, v in run.data.tags.items() if not k.startswith("mlflow.")},
                              "history": sorted(hist), "artifacts": files})
    mv = client.get_model_version_by_alias("bk-model", "champion")
    state["model"] = {"version": mv.version, "run_id": mv.run_id, "source": mv.source}
    print("STATE " + json.dumps(state, sort_keys=True))


def write_more():
    mlflow.set_experiment("after-restore")
    with mlflow.start_run() as run:
        mlflow.log_metric("x", 1.0)
    print("NEWRUN " + run.info.run_id)


{"fill": fill, "read": read, "write-more": write_more}[sys.argv[1]]()
