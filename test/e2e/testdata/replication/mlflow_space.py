"""The MLflow side of the replication end-to-end test, with the real client.

  mlflow_space.py write   logs an experiment with a finished run (params,
                          tags, a metric history, an artifact) and registers
                          a model version of it with an alias
  mlflow_space.py check   reads it all back from another tracking server
                          (the replica) and compares with what write logged

MLFLOW_TRACKING_URI and the credentials come from the environment. Prints
RESULT lines; exits non-zero naming what differs.
"""
import os
import sys
import tempfile

import mlflow
from mlflow import MlflowClient

EXPERIMENT = "replicated-experiment"
MODEL = "replicated-model"
ARTIFACT = "reports/summary.txt"
CONTENT = "accuracy is fine\n" * 100


def write():
    mlflow.set_experiment(EXPERIMENT)
    with mlflow.start_run(run_name="trained") as run:
        mlflow.log_params({"lr": "0.01", "layers": "3"})
        mlflow.set_tags({"team": "vision"})
        for step in range(10):
            mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
        with tempfile.TemporaryDirectory() as d:
            os.makedirs(os.path.join(d, "reports"))
            with open(os.path.join(d, ARTIFACT), "w") as f:
                f.write(CONTENT)
            mlflow.log_artifacts(d)
            os.makedirs(os.path.join(d, "model"))
            with open(os.path.join(d, "model", "MLmodel"), "w") as f:
                f.write("flavors: {}\n")
            mlflow.log_artifacts(os.path.join(d, "model"), artifact_path="model")
    client = MlflowClient()
    client.create_registered_model(MODEL, description="replication test")
    mv = client.create_model_version(MODEL, source=run.info.artifact_uri + "/model", run_id=run.info.run_id)
    client.set_registered_model_alias(MODEL, "champion", mv.version)
    print("RESULT run", run.info.run_id)


def check():
    client = MlflowClient()
    exp = client.get_experiment_by_name(EXPERIMENT)
    if exp is None:
        sys.exit("no experiment " + EXPERIMENT)
    runs = client.search_runs([exp.experiment_id])
    if len(runs) != 1:
        sys.exit("want 1 run, got %d" % len(runs))
    run = runs[0]
    if run.data.params != {"lr": "0.01", "layers": "3"}:
        sys.exit("params %r" % run.data.params)
    if run.data.tags.get("team") != "vision" or run.info.status != "FINISHED" or run.info.run_name != "trained":
        sys.exit("run %r %r" % (run.info, run.data.tags))
    hist = client.get_metric_history(run.info.run_id, "loss")
    if sorted((m.step, m.value) for m in hist) != [(s, 1.0 / (s + 1)) for s in range(10)]:
        sys.exit("loss history %r" % [(m.step, m.value) for m in hist])
    with tempfile.TemporaryDirectory() as d:
        p = mlflow.artifacts.download_artifacts(run_id=run.info.run_id, artifact_path=ARTIFACT, dst_path=d)
        with open(p) as f:
            if f.read() != CONTENT:
                sys.exit("artifact differs")
    mv = client.get_model_version_by_alias(MODEL, "champion")
    if mv.run_id != run.info.run_id:
        sys.exit("model version's run %s, want %s" % (mv.run_id, run.info.run_id))
    with tempfile.TemporaryDirectory() as d:
        p = mlflow.artifacts.download_artifacts(artifact_uri="models:/%s@champion" % MODEL, dst_path=d)
        if not os.path.exists(os.path.join(p, "MLmodel")):
            sys.exit("the model's files did not come with it: %r" % os.listdir(p))
    print("RESULT run", run.info.run_id)
    print("RESULT source_run", run.data.tags.get("arca.replication.source_run", ""))


if __name__ == "__main__":
    {"write": write, "check": check}[sys.argv[1]]()
