// Package telemetry builds arca's OpenTelemetry tracer provider from the
// standard OTEL_* environment variables. Tracing is off unless the
// environment asks for it; off, the provider is OpenTelemetry's no-op one
// and the composition root installs none of the tracing wrappers, so a
// process that does not trace pays nothing for it.
//
// The provider is passed explicitly to what traces (the HTTP middleware,
// the database, the blob store, the upstream client, the job runner);
// OpenTelemetry's global provider is never set.
package telemetry

import (
	"context"
	"errors"
	"os"
	"strings"

	"go.opentelemetry.io/contrib/exporters/autoexport"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// Tracing is a process's tracer provider and how it propagates context.
type Tracing struct {
	// Provider makes tracers; the no-op provider when tracing is off.
	Provider trace.TracerProvider
	// Propagator reads and writes W3C trace context (traceparent,
	// tracestate) and baggage headers.
	Propagator propagation.TextMapPropagator

	sdk *sdktrace.TracerProvider // nil when off
}

// Off is tracing switched off: a no-op provider.
func Off() *Tracing {
	return &Tracing{Provider: noop.NewTracerProvider(), Propagator: propagator()}
}

func propagator() propagation.TextMapPropagator {
	return propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
}

// Requested reports whether the environment asks for traces: OTEL_SDK_DISABLED
// is not "true", and either OTEL_TRACES_EXPORTER names an exporter other
// than "none" or an OTLP endpoint is set (OTEL_EXPORTER_OTLP_ENDPOINT or
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT). OpenTelemetry's own default would
// export to localhost:4318 when nothing is set; arca's is to trace nothing.
func Requested(getenv func(string) string) bool {
	if strings.EqualFold(strings.TrimSpace(getenv("OTEL_SDK_DISABLED")), "true") {
		return false
	}
	if e := strings.TrimSpace(getenv("OTEL_TRACES_EXPORTER")); e != "" {
		return e != "none"
	}
	return getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != ""
}

// FromEnv returns the tracing the environment configures (see Requested),
// or Off. The exporter is chosen by OTEL_TRACES_EXPORTER (otlp by default,
// also console or none) and OTEL_EXPORTER_OTLP_PROTOCOL (http/protobuf by
// default, or grpc); endpoint, headers, timeouts, the sampler
// (OTEL_TRACES_SAMPLER, OTEL_TRACES_SAMPLER_ARG; parentbased_always_on by
// default), batching (OTEL_BSP_*) and resource (OTEL_SERVICE_NAME,
// OTEL_RESOURCE_ATTRIBUTES) follow the OpenTelemetry specification, read by
// the SDK itself. The service name is "arca" unless OTEL_SERVICE_NAME says
// otherwise.
func FromEnv(ctx context.Context, version string) (*Tracing, error) {
	if !Requested(os.Getenv) {
		return Off(), nil
	}
	exp, err := autoexport.NewSpanExporter(ctx)
	if err != nil {
		return nil, err
	}
	// Later options win: the environment's service name over "arca".
	res, err := resource.New(ctx,
		resource.WithAttributes(semconv.ServiceName("arca"), semconv.ServiceVersion(version)),
		resource.WithFromEnv(), resource.WithTelemetrySDK(), resource.WithHost(), resource.WithProcessPID())
	if err != nil && !errors.Is(err, resource.ErrPartialResource) {
		exp.Shutdown(ctx)
		return nil, err
	}
	sdk := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	return &Tracing{Provider: sdk, Propagator: propagator(), sdk: sdk}, nil
}

// Enabled reports whether spans are recorded and exported.
func (t *Tracing) Enabled() bool { return t != nil && t.sdk != nil }

// Shutdown exports the spans still buffered and stops the exporter.
func (t *Tracing) Shutdown(ctx context.Context) error {
	if !t.Enabled() {
		return nil
	}
	return t.sdk.Shutdown(ctx)
}
