"""One small MLflow run through arca: an experiment, a run with a param,
a metric and an artifact (MLFLOW_TRACKING_URI and credentials from the
environment). Prints RESULT run_id <id>."""
import mlflow

mlflow.set_experiment("tracing-e2e")
with mlflow.start_run() as run:
    mlflow.log_param("alpha", 0.5)
    mlflow.log_metric("loss", 0.25, step=1)
    mlflow.log_text("traced artifact\n", "notes/readme.txt")
print("RESULT run_id", run.info.run_id)
