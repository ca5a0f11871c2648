"""Logs the runs that the web UI's end-to-end test (test/e2e/ui_mlflow_test.go)
then browses: one experiment with three runs, each with params, a tag, two
metrics over 200 steps, a small dataset input and an artifact, and a
registered model version made from the first run.

Prints "RESULT <name> <value>" lines: experiment_id, run_ids (comma
separated, in logging order) and model.
"""
import math
import os
import sys
import tempfile
import time

import mlflow
import pandas as pd
from mlflow.entities import Metric, Param, RunTag
from mlflow.tracking import MlflowClient

STEPS = 200


def main():
    client = MlflowClient()
    exp_id = mlflow.set_experiment("ui-e2e").experiment_id
    client.set_experiment_tag(exp_id, "team", "vision")
    data = pd.DataFrame({"x": [1.0, 2.0, 3.0], "y": [0, 1, 0]})
    dataset = mlflow.data.from_pandas(data, name="toy-data", targets="y")
    run_ids = []
    for i, lr in enumerate([0.1, 0.03, 0.01]):
        with mlflow.start_run(run_name=f"ui-run-{i}") as run:
            rid = run.info.run_id
            now = int(time.time() * 1000)
            metrics = []
            for step in range(STEPS):
                loss = 1.0 / (1.0 + step * lr) + 0.01 * math.sin(step)
                metrics.append(Metric("loss", loss, now + step, step))
                metrics.append(Metric("acc", 1.0 - 0.5 * math.exp(-step * lr / 4), now + step, step))
            for k in range(0, len(metrics), 1000):
                client.log_batch(rid, metrics=metrics[k:k + 1000])
            client.log_batch(rid, params=[Param("lr", str(lr)), Param("batch_size", "32")],
                             tags=[RunTag("owner", "e2e")])
            mlflow.log_input(dataset, context="training")
            with tempfile.TemporaryDirectory() as d:
                p = os.path.join(d, "summary.txt")
                with open(p, "w") as f:
                    f.write(f"lr={lr}\n")
                mlflow.log_artifact(p, artifact_path="reports")
            run_ids.append(rid)
    client.create_registered_model("ui-e2e-model", description="registered by the UI e2e test")
    mv = client.create_model_version("ui-e2e-model", f"runs:/{run_ids[0]}/reports", run_id=run_ids[0])
    client.set_registered_model_alias("ui-e2e-model", "champion", mv.version)
    print("RESULT experiment_id", exp_id)
    print("RESULT run_ids", ",".join(run_ids))
    print("RESULT model ui-e2e-model")
    return 0


if __name__ == "__main__":
    sys.exit(main())
