package otlp

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

func TestSettings(t *testing.T) {
	for _, tc := range []struct {
		env      map[string]string
		signal   string
		enabled  bool
		protocol string
		err      string
	}{
		{env: nil, signal: "metrics"},
		{env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, signal: "metrics", enabled: true, protocol: "http/protobuf"},
		{env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, signal: "traces", enabled: true, protocol: "http/protobuf"},
		{env: map[string]string{"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": "http://c:4317", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, signal: "metrics", enabled: true, protocol: "grpc"},
		{env: map[string]string{"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": "http://c:4317"}, signal: "traces"},
		{env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/protobuf"}, signal: "traces", enabled: true, protocol: "http/protobuf"},
		{env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c", "OTEL_TRACES_EXPORTER": "none"}, signal: "traces"},
		{env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"}, signal: "metrics",
			err: `OTEL_EXPORTER_OTLP_PROTOCOL must be grpc or http/protobuf, got "http/json"`},
		{env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c", "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL": "udp"}, signal: "metrics",
			err: `OTEL_EXPORTER_OTLP_METRICS_PROTOCOL must be grpc or http/protobuf, got "udp"`},
		{env: map[string]string{"OTEL_METRICS_EXPORTER": "prometheus"}, signal: "metrics", err: `OTEL_METRICS_EXPORTER must be otlp or none, got "prometheus"`},
	} {
		s, err := settings(func(k string) string { return tc.env[k] }, tc.signal)
		if tc.err != "" {
			if err == nil || err.Error() != tc.err {
				t.Errorf("%v: error %v, want %s", tc.env, err, tc.err)
			}
			continue
		}
		if err != nil || s.enabled != tc.enabled || s.protocol != tc.protocol {
			t.Errorf("%v %s: %+v %v, want enabled %v protocol %q", tc.env, tc.signal, s, err, tc.enabled, tc.protocol)
		}
	}
}

// TestClassicHistograms: the bridge sees histograms without their native
// buckets, so it sends explicit-bucket OTLP histograms.
func TestClassicHistograms(t *testing.T) {
	reg := prometheus.NewRegistry()
	h := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "h", Help: "h", Buckets: []float64{1, 20},
		NativeHistogramBucketFactor: 1.1})
	reg.MustRegister(h)
	h.Observe(3)
	mfs, err := classicHistograms{reg}.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := mfs[0].GetMetric()[0].GetHistogram()
	if got.Schema != nil || got.ZeroThreshold != nil || len(got.GetPositiveSpan()) != 0 || len(got.GetBucket()) != 2 || got.GetSampleCount() != 1 {
		t.Errorf("histogram still native, or classic part lost: %v", got)
	}
	// The registry's own data is untouched for /metrics.
	again, _ := reg.Gather()
	if again[0].GetMetric()[0].GetHistogram().Schema == nil {
		t.Error("stripping reached the registry")
	}
}

func TestRateLimitedWarner(t *testing.T) {
	var buf bytes.Buffer
	w := newRateLimitedWarner(slog.New(slog.NewTextHandler(&buf, nil)), time.Hour)
	for range 5 {
		w.warn("metrics", errors.New("connection refused"))
	}
	w.warn("traces", errors.New("connection refused"))
	if n := strings.Count(buf.String(), "OTLP export failed"); n != 2 {
		t.Errorf("%d warnings, want one per signal:\n%s", n, buf.String())
	}
}
