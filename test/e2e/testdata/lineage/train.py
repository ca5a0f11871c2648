"""Logs the MLflow side of the lineage end-to-end test
(test/e2e/lineage_test.go) with the real mlflow client: one run that logs a
dataset whose source is the S3 URI where `dvc push` stored the data in
arca, and a registered model version made from that run.

Usage: train.py --source s3://BUCKET/KEY --model NAME

Prints "RESULT <name> <value>" lines: run_id, experiment_id,
dataset_digest, model_version.
"""
import argparse
import os
import sys
import tempfile

import mlflow
import pandas as pd
from mlflow.tracking import MlflowClient


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--source", required=True)
    ap.add_argument("--model", required=True)
    args = ap.parse_args()
    client = MlflowClient()
    exp_id = mlflow.set_experiment("lineage-e2e").experiment_id
    data = pd.DataFrame({"sepal": [5.1, 4.9, 6.3], "label": [0, 0, 1]})
    dataset = mlflow.data.from_pandas(data, source=args.source, name="iris", targets="label")
    assert dataset.source.to_dict().get("uri") == args.source, dataset.source.to_dict()
    with mlflow.start_run(run_name="train") as run:
        rid = run.info.run_id
        mlflow.log_input(dataset, context="training")
        mlflow.log_param("lr", "0.1")
        with tempfile.TemporaryDirectory() as d:
            p = os.path.join(d, "weights.txt")
            with open(p, "w") as f:
                f.write("w=0.42\n")
            mlflow.log_artifact(p, artifact_path="model")
    inputs = client.get_run(rid).inputs.dataset_inputs
    assert len(inputs) == 1 and inputs[0].dataset.digest == dataset.digest, inputs
    client.create_registered_model(args.model)
    mv = client.create_model_version(args.model, f"runs:/{rid}/model", run_id=rid)
    print("RESULT run_id", rid)
    print("RESULT experiment_id", exp_id)
    print("RESULT dataset_digest", dataset.digest)
    print("RESULT model_version", mv.version)
    return 0


if __name__ == "__main__":
    sys.exit(main())
