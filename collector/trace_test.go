package collector

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/smartassist-exporter/smartassist_exporter/simulator"
)

var (
	spansOnce sync.Once
	spans     = tracetest.NewInMemoryExporter()
)

// recordSpans installs a tracer provider that keeps spans in memory. The
// global provider can be set once; tests reset the recorded spans.
func recordSpans(_ *testing.T) *tracetest.InMemoryExporter {
	spansOnce.Do(func() {
		otel.SetTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans)))
		otel.SetTextMapPropagator(propagation.TraceContext{})
	})
	spans.Reset()
	return spans
}

func TestPollSpans(t *testing.T) {
	rec := recordSpans(t)
	t0 := time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC)
	rig := newRig(t, t0, 0.3) // failures: some request spans carry a retry
	rig.sim.Generate(t0.Add(-time.Hour), t0, simulator.Profile{PerHour: 400})
	state := openTestState(t, filepath.Join(t.TempDir(), "state.db"))
	defer state.Close()
	p := rig.poller(t, state, newRecordingSink())
	p.Poll(context.Background())

	var poll sdktrace.ReadOnlySpan
	var requests []sdktrace.ReadOnlySpan
	for _, s := range rec.GetSpans().Snapshots() {
		switch s.Name() {
		case "smartassist.poll":
			poll = s
		case "smartassist.api.request":
			requests = append(requests, s)
		}
	}
	if poll == nil || len(requests) < 4 {
		t.Fatalf("poll span %v, %d request spans", poll != nil, len(requests))
	}
	attrs := map[string]string{}
	for _, a := range poll.Attributes() {
		attrs[string(a.Key)] = a.Value.String()
	}
	for _, k := range []string{"smartassist.scan", "smartassist.window.start", "smartassist.records", "smartassist.counted", "smartassist.splits", "smartassist.complete"} {
		if attrs[k] == "" {
			t.Errorf("poll span lacks %s: %v", k, attrs)
		}
	}
	retried := false
	for _, r := range requests {
		if r.Parent().SpanID() != poll.SpanContext().SpanID() || r.SpanContext().TraceID() != poll.SpanContext().TraceID() {
			t.Errorf("request span is not a child of the poll span")
		}
		for _, a := range r.Attributes() {
			if a.Key == "smartassist.attempt" && a.Value.AsInt64() > 1 {
				retried = true
			}
		}
	}
	if !retried {
		t.Error("no request span records a retry, though 30% of requests failed")
	}
}
