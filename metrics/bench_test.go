package metrics

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// BenchmarkDeriveObserve: derive and record one finished conversation,
// cycling through the finished sample records.
func BenchmarkDeriveObserve(b *testing.B) { benchmarkDeriveObserve(b, false) }

// BenchmarkDeriveObserveExemplars: the same with SMARTASSIST_EXEMPLARS on
// (each duration observation also stores its exemplar).
func BenchmarkDeriveObserveExemplars(b *testing.B) { benchmarkDeriveObserve(b, true) }

func benchmarkDeriveObserve(b *testing.B, exemplars bool) {
	recs := seedRecords(b)
	keys := make([]string, 0, len(recs))
	for k, c := range recs {
		if c.Finished() {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	opts := DefaultOptions()
	opts.AgentMetrics, opts.Exemplars = true, exemplars
	m := New(prometheus.NewRegistry(), opts)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		m.Observe(recs[keys[i%len(keys)]])
	}
}

// BenchmarkRenderMetrics10k: one /metrics scrape of a registry holding
// about 10k series (mostly histogram buckets), in the text format.
func BenchmarkRenderMetrics10k(b *testing.B) {
	reg := prometheus.NewRegistry()
	opts := DefaultOptions()
	m := New(reg, opts)
	// 4 channels x 16 queues: each duration histogram (5 per segment plus
	// wait) has 23 buckets + sum + count per label set.
	for ch := 0; ch < 4; ch++ {
		for q := 0; q < 16; q++ {
			m.Record(&Observations{Channel: fmt.Sprint("ch", ch), Direction: "inbound", Status: "CLOSED", Duration: s(60),
				Segments:     []SegmentObs{{Queue: fmt.Sprint("q", q), FirstResponse: s(3), Interaction: s(200), Hold: s(20), ACW: s(30), Handle: s(230)}},
				QueueEntries: []QueueEntryObs{{Queue: fmt.Sprint("q", q), Outcome: OutcomeAnswered, Wait: s(12)}},
			})
		}
	}
	mfs, _ := reg.Gather()
	series := seriesCount(mfs)
	handler := promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	req.Header.Set("Accept", "text/plain")
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		_, _ = io.Copy(io.Discard, rec.Body)
	}
	b.ReportMetric(float64(series), "series")
}
