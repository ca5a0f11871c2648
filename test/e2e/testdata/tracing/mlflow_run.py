"""One small MLflow run through arca: an experiment, a run with a param,
a metric and an artifact, larger than blob.inline_max so that its bytes
go to the blob store and its trace shows blob.commit (MLFLOW_TRACKING_URI
and credentials from the environment). Prints RESULT run_id <id>."""
import mlflow

mlflow.set_experiment("tracing-e2e")
with mlflow.start_run() as run:
    mlflow.log_param("alpha", 0.5)
    mlflow.log_metric("loss", 0.25, step=1)
    mlflow.log_text("traced artifact\n" * 4096, "notes/readme.txt")  # 64 KiB
print("RESULT run_id", run.info.run_id)
