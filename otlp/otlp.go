// Package otlp pushes the exporter's metrics, and traces of its polls, over
// OTLP, configured only by the standard OpenTelemetry environment.
//
// Metrics have one source of truth: the Prometheus registry. The
// OpenTelemetry SDK's periodic reader pulls it through the Prometheus bridge
// (go.opentelemetry.io/contrib/bridges/prometheus); nothing is instrumented
// twice. Traces use the global tracer provider, which stays a no-op (no
// cost) unless a traces endpoint is configured.
package otlp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	promclient "github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.opentelemetry.io/contrib/bridges/prometheus"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetricgrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/smartassist-exporter/smartassist_exporter/naming"
)

// DefaultServiceName is service.name when OTEL_SERVICE_NAME is not set.
const DefaultServiceName = "smartassist_exporter"

// Signal settings read from the environment.
type signal struct {
	name     string // "metrics" or "traces"
	enabled  bool
	protocol string
}

// env reads a per-signal variable, falling back to the general one.
func env(getenv func(string) string, signal, suffix string) (string, string) {
	specific := "OTEL_EXPORTER_OTLP_" + strings.ToUpper(signal) + "_" + suffix
	if v := getenv(specific); v != "" {
		return v, specific
	}
	general := "OTEL_EXPORTER_OTLP_" + suffix
	return getenv(general), general
}

// settings decides, from the standard variables, whether a signal is
// pushed and over which protocol. A signal is on when its endpoint (or the
// general OTEL_EXPORTER_OTLP_ENDPOINT) is set and OTEL_<SIGNAL>_EXPORTER is
// not "none".
func settings(getenv func(string) string, name string) (signal, error) {
	s := signal{name: name}
	endpoint, _ := env(getenv, name, "ENDPOINT")
	exporterVar := "OTEL_" + strings.ToUpper(name) + "_EXPORTER"
	switch v := getenv(exporterVar); v {
	case "", "otlp":
	case "none":
		return s, nil
	default:
		return s, fmt.Errorf("%s must be otlp or none, got %q", exporterVar, v)
	}
	if endpoint == "" {
		return s, nil
	}
	s.enabled = true
	protocol, variable := env(getenv, name, "PROTOCOL")
	switch protocol {
	case "":
		s.protocol = "http/protobuf" // the specification's default
	case "grpc", "http/protobuf":
		s.protocol = protocol
	default:
		return s, fmt.Errorf("%s must be grpc or http/protobuf, got %q", variable, protocol)
	}
	return s, nil
}

// CheckEnvironment reports a bad OTEL_* setting, naming the variable.
func CheckEnvironment() error {
	for _, name := range []string{"metrics", "traces"} {
		if _, err := settings(os.Getenv, name); err != nil {
			return err
		}
	}
	return nil
}

// Identity is what the resource says about the monitored account.
type Identity struct {
	AccountID, StreamID string
}

// Telemetry is the running OTLP pipeline.
type Telemetry struct {
	shutdown []func(context.Context) error
	// MetricsEnabled and TracesEnabled tell what is pushed.
	MetricsEnabled, TracesEnabled bool
}

// Shutdown flushes and stops the pipeline within ctx's deadline.
func (t *Telemetry) Shutdown(ctx context.Context) error {
	var errs []error
	for _, f := range t.shutdown {
		errs = append(errs, f(ctx))
	}
	return errors.Join(errs...)
}

// Setup starts what the environment asks for. reg is both the source of
// the pushed metrics and where the failure counter is registered.
func Setup(ctx context.Context, reg *promclient.Registry, id Identity, log *slog.Logger) (*Telemetry, error) {
	// The SDK's exporters read the rest of the OTEL_* variables themselves.
	metricsSig, err := settings(os.Getenv, "metrics")
	if err != nil {
		return nil, err
	}
	tracesSig, err := settings(os.Getenv, "traces")
	if err != nil {
		return nil, err
	}
	failures := promclient.NewCounterVec(promclient.CounterOpts{
		Namespace: naming.Namespace, Subsystem: "exporter", Name: "otlp_export_failures_total",
		Help: "smartassist_exporter: OTLP exports that failed (receiver down or refusing), by signal. Polling and /metrics go on regardless.",
	}, []string{"signal"})
	failures.WithLabelValues("metrics")
	failures.WithLabelValues("traces")
	reg.MustRegister(failures)

	t := &Telemetry{MetricsEnabled: metricsSig.enabled, TracesEnabled: tracesSig.enabled}
	if !t.MetricsEnabled && !t.TracesEnabled {
		return t, nil
	}
	// Later detectors win: OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES
	// override the defaults given first.
	res, err := resource.New(ctx,
		resource.WithAttributes(
			attribute.String("service.name", DefaultServiceName),
			attribute.String("smartassist.account_id", id.AccountID),
			attribute.String("smartassist.stream_id", id.StreamID),
		),
		resource.WithTelemetrySDK(),
		resource.WithHost(),
		resource.WithFromEnv(),
	)
	switch {
	case errors.Is(err, resource.ErrPartialResource):
		// A detector (the host's, say) failed: the rest is still usable.
		log.Warn("OpenTelemetry resource is incomplete", "err", err)
	case err != nil:
		return nil, fmt.Errorf("OTEL_RESOURCE_ATTRIBUTES or OTEL_SERVICE_NAME: %w", err)
	}
	warn := newRateLimitedWarner(log, time.Minute)

	if t.MetricsEnabled {
		var exp sdkmetric.Exporter
		if metricsSig.protocol == "grpc" {
			exp, err = otlpmetricgrpc.New(ctx)
		} else {
			exp, err = otlpmetrichttp.New(ctx)
		}
		if err != nil {
			return nil, fmt.Errorf("OTLP metrics exporter: %w", err)
		}
		exp = &countingMetricExporter{exp, failureReport{"metrics", failures.WithLabelValues("metrics"), warn}}
		// The bridge reads the registry at each export (interval:
		// OTEL_METRIC_EXPORT_INTERVAL, default 60s), in the reader's own
		// goroutine: a slow or absent receiver never delays a poll.
		reader := sdkmetric.NewPeriodicReader(exp, sdkmetric.WithProducer(
			prometheus.NewMetricProducer(prometheus.WithGatherer(classicHistograms{reg}))))
		mp := sdkmetric.NewMeterProvider(sdkmetric.WithResource(res), sdkmetric.WithReader(reader))
		t.shutdown = append(t.shutdown, mp.Shutdown)
		log.Info("pushing metrics over OTLP", "protocol", metricsSig.protocol)
	}
	if t.TracesEnabled {
		var exp sdktrace.SpanExporter
		if tracesSig.protocol == "grpc" {
			exp, err = otlptracegrpc.New(ctx)
		} else {
			exp, err = otlptracehttp.New(ctx)
		}
		if err != nil {
			return nil, fmt.Errorf("OTLP traces exporter: %w", err)
		}
		exp = &countingSpanExporter{exp, failureReport{"traces", failures.WithLabelValues("traces"), warn}}
		// The batch processor drops spans when its queue is full rather
		// than block the poller.
		tp := sdktrace.NewTracerProvider(sdktrace.WithResource(res), sdktrace.WithBatcher(exp))
		otel.SetTracerProvider(tp)
		otel.SetTextMapPropagator(propagation.TraceContext{})
		t.shutdown = append(t.shutdown, tp.Shutdown)
		log.Info("exporting traces of polls over OTLP", "protocol", tracesSig.protocol)
	}
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) { warn.warn("OpenTelemetry", err) }))
	return t, nil
}

// classicHistograms gathers the registry with the native (exponential)
// buckets of histograms removed: the bridge would otherwise turn them into
// OTLP exponential histograms and drop the classic bucket bounds, which are
// the metric contract (service level is bucket{le="20"} / count).
type classicHistograms struct{ g promclient.Gatherer }

func (c classicHistograms) Gather() ([]*dto.MetricFamily, error) {
	mfs, err := c.g.Gather()
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			if h := m.GetHistogram(); h != nil && len(h.GetBucket()) > 0 {
				h.Schema, h.ZeroThreshold, h.ZeroCount, h.ZeroCountFloat = nil, nil, nil, nil
				h.PositiveSpan, h.PositiveDelta, h.PositiveCount = nil, nil, nil
				h.NegativeSpan, h.NegativeDelta, h.NegativeCount = nil, nil, nil
			}
		}
	}
	return mfs, err
}

// rateLimitedWarner logs one warning per interval per source, counting the
// ones it held back, so that a receiver that is down does not flood the log.
type rateLimitedWarner struct {
	log      *slog.Logger
	interval time.Duration
	mu       sync.Mutex
	last     map[string]time.Time
	held     map[string]int
}

func newRateLimitedWarner(log *slog.Logger, interval time.Duration) *rateLimitedWarner {
	return &rateLimitedWarner{log: log, interval: interval, last: map[string]time.Time{}, held: map[string]int{}}
}

func (w *rateLimitedWarner) warn(source string, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	now := time.Now()
	if now.Sub(w.last[source]) < w.interval {
		w.held[source]++
		return
	}
	w.log.Warn("OTLP export failed; polling and /metrics go on", "signal", source, "err", err, "similar_since_last", w.held[source])
	w.last[source], w.held[source] = now, 0
}

// failureReport counts a signal's failed exports and warns about them. The
// error is not passed back: the SDK would only log it a second time.
type failureReport struct {
	signal   string
	failures promclient.Counter
	warn     *rateLimitedWarner
}

func (f failureReport) report(err error) {
	if err != nil {
		f.failures.Inc()
		f.warn.warn(f.signal, err)
	}
}

type countingMetricExporter struct {
	sdkmetric.Exporter
	failureReport
}

func (e *countingMetricExporter) Export(ctx context.Context, rm *metricdata.ResourceMetrics) error {
	e.report(e.Exporter.Export(ctx, rm))
	return nil
}

type countingSpanExporter struct {
	sdktrace.SpanExporter
	failureReport
}

func (e *countingSpanExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	e.report(e.SpanExporter.ExportSpans(ctx, spans))
	return nil
}
