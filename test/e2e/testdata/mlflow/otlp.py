"""An OpenTelemetry-instrumented application that exports its spans
straight to an MLflow tracking server over OTLP/HTTP (no mlflow import on
the export path), then the mlflow client reading them back.

The exporter is the OpenTelemetry SDK's OTLPSpanExporter, configured only
through the standard environment: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT
(.../v1/traces) and OTEL_EXPORTER_OTLP_TRACES_HEADERS, to which this script
adds the x-mlflow-experiment-id header of the experiment it creates.

Usage: otlp.py --prefix NAME (mlflow against MLFLOW_TRACKING_URI). The same
script runs against arca and against a real `mlflow server`; the steps and
their outcomes are the same on both.
"""

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from opentelemetry import trace as otel_trace  # noqa: E402
from opentelemetry.exporter.otlp.proto.http import Compression  # noqa: E402
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter  # noqa: E402
from opentelemetry.sdk.resources import Resource  # noqa: E402
from opentelemetry.sdk.trace import TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult  # noqa: E402
from opentelemetry.trace import Status, StatusCode  # noqa: E402

import mlflow  # noqa: E402
from mlflow import MlflowClient  # noqa: E402
from mlcheck import Steps, check, equal  # noqa: E402


class Recorder(OTLPSpanExporter):
    """The SDK's exporter, remembering whether each export succeeded."""

    results = []

    def export(self, spans):
        r = super().export(spans)
        self.results.append(r)
        return r


BASE_HEADERS = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "")


def tracer_for(experiment_id, compression):
    headers = ",".join(h for h in [BASE_HEADERS, f"x-mlflow-experiment-id={experiment_id}"] if h)
    os.environ["OTEL_EXPORTER_OTLP_TRACES_HEADERS"] = headers
    provider = TracerProvider(resource=Resource.create({"service.name": "otlp-e2e-app", "deployment.environment": "test"}))
    provider.add_span_processor(SimpleSpanProcessor(Recorder(compression=compression, timeout=120)))
    return provider


def run_app(provider, question):
    """The instrumented application: an agent span with a retrieval and an
    LLM call below it, with MLflow's span attributes set by hand."""
    tracer = provider.get_tracer("otlp-e2e")
    with tracer.start_as_current_span("agent") as root:
        root.set_attribute("mlflow.spanType", json.dumps("AGENT"))
        root.set_attribute("mlflow.spanInputs", json.dumps({"question": question}))
        root.set_attribute("mlflow.traceTag.team", "search")
        root.set_attribute("user.id", "ada")
        with tracer.start_as_current_span("retrieve") as s:
            s.set_attribute("mlflow.spanType", json.dumps("RETRIEVER"))
            s.set_attribute("mlflow.spanInputs", json.dumps({"query": question}))
            s.set_attribute("mlflow.spanOutputs", json.dumps(["doc-1", "doc-2"]))
            s.set_attribute("top_k", 2)
        with tracer.start_as_current_span("llm") as s:
            s.set_attribute("mlflow.spanType", json.dumps("LLM"))
            s.set_attribute("mlflow.spanInputs", json.dumps({"prompt": question}))
            s.set_attribute("mlflow.spanOutputs", json.dumps("Paris"))
            s.set_status(Status(StatusCode.OK))
        root.set_attribute("mlflow.spanOutputs", json.dumps({"answer": "Paris"}))
        return format(root.get_span_context().trace_id, "032x")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--prefix", required=True)
    args = p.parse_args()
    print(f"mlflow {mlflow.__version__} → {mlflow.get_tracking_uri()} (otlp, prefix {args.prefix}); "
          f"OTLP endpoint {os.environ['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT']}", flush=True)
    client = MlflowClient()
    steps = Steps()
    state = {}

    def export():
        exp = client.create_experiment(f"{args.prefix}-otlp")
        state["experiment"] = exp
        plain = tracer_for(exp, Compression.NoCompression)
        state["plain"] = run_app(plain, "Capital of France?")
        plain.shutdown()
        gz = tracer_for(exp, Compression.Gzip)
        state["gzip"] = run_app(gz, "Capital of France, compressed?")
        gz.shutdown()
        equal(Recorder.results, [SpanExportResult.SUCCESS] * 6, "export results (3 spans, 2 traces)")

    def search():
        found = mlflow.search_traces(locations=[state["experiment"]], return_type="list")
        ids = sorted(t.info.trace_id for t in found)
        equal(ids, sorted(["tr-" + state["plain"], "tr-" + state["gzip"]]), "traces found")
        for t in found:
            equal(t.info.state.value, "OK", "trace state")
            equal(sorted(s.name for s in t.data.spans), ["agent", "llm", "retrieve"], "spans of a searched trace")

    def read_back():
        t = client.get_trace("tr-" + state["plain"])
        spans = {s.name: s for s in t.data.spans}
        equal(sorted(spans), ["agent", "llm", "retrieve"], "span names")
        root = spans["agent"]
        equal(root.parent_id, None, "root span's parent")
        equal((spans["retrieve"].parent_id, spans["llm"].parent_id), (root.span_id, root.span_id), "children's parent")
        check(t.info.request_preview and "Capital of France?" in t.info.request_preview,
              "request preview %r", t.info.request_preview)
        check(t.info.response_preview and "Paris" in t.info.response_preview,
              "response preview %r", t.info.response_preview)
        equal(t.info.tags.get("mlflow.trace.spansLocation"), "TRACKING_STORE", "spans location")
        equal(t.info.tags.get("service.name"), "otlp-e2e-app", "resource attribute as a tag")
        equal(t.info.tags.get("team"), "search", "trace tag from mlflow.traceTag.team")
        check(t.info.execution_duration is not None and t.info.execution_duration >= 0,
              "execution duration %r", t.info.execution_duration)
        return spans

    def inputs_outputs():
        spans = read_back()
        # The application JSON-encoded its values itself, as MLflow's
        # attributes are; the server keeps them so, and the client decodes
        # them once.
        for name, want_in, want_out in [
            ("agent", {"question": "Capital of France?"}, {"answer": "Paris"}),
            ("retrieve", {"query": "Capital of France?"}, ["doc-1", "doc-2"]),
            ("llm", {"prompt": "Capital of France?"}, "Paris"),
        ]:
            s = spans[name]
            equal(s.inputs, want_in, f"inputs of {name}")
            equal(s.outputs, want_out, f"outputs of {name}")
        equal(spans["retrieve"].get_attribute("top_k"), 2, "an integer attribute")
        equal(spans["llm"].status.status_code.value, "OK", "status of the llm span")
        equal((spans["agent"].span_type, spans["llm"].span_type), ("AGENT", "LLM"), "span types")

    steps.run("export two traces over OTLP (plain and gzip)", export)
    steps.run("search the exported traces", search)
    steps.run("read a trace and its spans back", read_back)
    steps.run("span inputs and outputs", inputs_outputs)
    steps.finish()


if __name__ == "__main__":
    main()
