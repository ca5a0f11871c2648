"""Populates an MLflow tracking server (MLFLOW_TRACKING_URI) for the import
test: two experiments, runs with params, tags, a 10,000-point metric
history, dataset inputs and artifacts, a deleted run, MLflow 3 logged
models, and a registered model with versions, a stage and an alias.
Prints RESULT lines."""

import os
import sys
import time

import mlflow
import numpy as np
import pandas as pd
from mlflow.entities import Metric, Param, RunTag
from mlflow.tracking import MlflowClient
from sklearn.linear_model import LogisticRegression

POINTS = int(os.environ.get("IMPORT_POINTS", "10000"))
EXTRA_RUNS = int(os.environ.get("IMPORT_EXTRA_RUNS", "20"))


def main():
    client = MlflowClient()
    a = client.create_experiment("import-a", tags={"team": "vision", "mlflow.note.content": "imported"})
    b = client.create_experiment("import-b")
    client.set_experiment_tag(b, "stage", "dev")

    # Run 1: a long metric history, params, tags, a dataset, artifacts.
    r1 = client.create_run(a, run_name="long-history", tags={"purpose": "import"}, start_time=1_700_000_000_000)
    rid = r1.info.run_id
    client.log_batch(rid, params=[Param("lr", "0.01"), Param("layers", "3")], tags=[RunTag("owner", "alice")])
    base = 1_700_000_000_000
    for start in range(0, POINTS, 1000):
        ms = [Metric("loss", 1.0 / (i + 1), base + i * 7, i) for i in range(start, min(start + 1000, POINTS))]
        client.log_batch(rid, metrics=ms)
    client.log_batch(rid, metrics=[Metric("acc", 0.5, base, 0), Metric("acc", float("nan"), base + 1, 1),
                                   Metric("acc", 0.75, base + 2, 2), Metric("acc", 0.75, base + 3, 2)])
    df = pd.DataFrame({"x": [1, 2, 3], "y": [0, 1, 0]})
    ds = mlflow.data.from_pandas(df, source="s3://bucket/train.csv", name="train")
    with mlflow.start_run(run_id=rid):
        mlflow.log_input(ds, context="training")
        mlflow.log_text("hello artifacts\n", "notes/readme.txt")
        mlflow.log_dict({"a": 1, "b": [1, 2]}, "config.json")
        blob = np.random.default_rng(7).bytes(300_000)
        p = os.path.join(os.environ.get("WORKDIR", "."), "weights.bin")
        with open(p, "wb") as f:
            f.write(blob)
        mlflow.log_artifact(p, "deep/er/dir")
    client.set_terminated(rid, "FINISHED", end_time=1_700_000_100_000)
    print("RESULT run1", rid)

    # Run 2 logs a model (an MLflow 3 logged model) registered as version 1.
    X = np.array([[0.0], [1.0], [2.0], [3.0]])
    y = np.array([0, 0, 1, 1])
    mlflow.set_experiment(experiment_id=a)
    with mlflow.start_run(run_name="model-run") as run:
        mlflow.log_param("C", 1.0)
        m = LogisticRegression().fit(X, y)
        info = mlflow.sklearn.log_model(m, name="model", registered_model_name="import-model",
                                        pip_requirements=["scikit-learn"], input_example=X[:1])
        mlflow.log_metric("train_acc", 1.0, step=1, model_id=info.model_id)
        r2 = run.info.run_id
    print("RESULT run2", r2)
    print("RESULT model1", info.model_id)

    # Run 3 (experiment b) logs a second model; version 2 comes from its
    # runs:/ URI, and gets the alias.
    mlflow.set_experiment(experiment_id=b)
    with mlflow.start_run(run_name="second-model") as run:
        m = LogisticRegression(C=0.5).fit(X, y)
        mlflow.sklearn.log_model(m, name="model", pip_requirements=["scikit-learn"])
        # The version below comes from the run's own artifacts.
        mlflow.log_text("weights v2\n", "model/weights.txt")
        mlflow.log_dict({"flavor": "test", "version": 2}, "model/meta/model.json")
        r3 = run.info.run_id
    v2 = client.create_model_version("import-model", f"runs:/{r3}/model", run_id=r3, description="second",
                                     tags={"quality": "good"})
    client.set_registered_model_alias("import-model", "champion", v2.version)
    client.set_registered_model_alias("import-model", "first", "1")
    client.set_registered_model_tag("import-model", "domain", "tabular")
    client.transition_model_version_stage("import-model", "1", "Staging")
    print("RESULT run3", r3)

    # A deleted run, and a run still RUNNING.
    r4 = client.create_run(b, run_name="to-delete")
    client.log_metric(r4.info.run_id, "m", 1.0, timestamp=base, step=0)
    client.set_terminated(r4.info.run_id, "KILLED", end_time=base + 5)
    client.delete_run(r4.info.run_id)
    r5 = client.create_run(b, run_name="still-running")
    client.log_metric(r5.info.run_id, "m", 2.0, timestamp=base, step=0)
    print("RESULT running", r5.info.run_id)

    # Smaller runs, for the import's throughput.
    for i in range(EXTRA_RUNS):
        r = client.create_run(a, run_name=f"small-{i}", start_time=base + i)
        client.log_batch(r.info.run_id, metrics=[Metric("loss", 1.0 / (s + 1), base + s, s) for s in range(100)],
                         params=[Param("i", str(i))])
        client.set_terminated(r.info.run_id, "FINISHED", end_time=base + 1000 + i)
    print("RESULT experiments", a, b)


if __name__ == "__main__":
    t = time.time()
    main()
    print("populated in %.1fs" % (time.time() - t), file=sys.stderr)
