package metrics

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"sort"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/smartassist-exporter/smartassist_exporter/capacity"
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
	for ch := range 4 {
		for q := range 16 {
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

// BenchmarkRecordCapacityFeed: Record of one conversation with one queue
// entry, without and with the capacity estimator fed: the cost the feed
// adds per queue entry. The two are interleaved call by call and timed
// separately, so the machine's load hits both alike (reported: ns of each
// and their ratio). The estimator's clock advances 100 ms per conversation
// (36 000 queue entries an hour over 16 queues) and entries arrive up to 5
// minutes out of entry-time order, so it holds its steady state of one
// hour of entries, inserting and expiring.
func BenchmarkRecordCapacityFeed(b *testing.B) {
	base := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	var now time.Time
	est, err := capacity.NewEstimator(capacity.DefaultOptions(), func() time.Time { return now })
	if err != nil {
		b.Fatal(err)
	}
	plain := New(prometheus.NewRegistry(), DefaultOptions())
	fedOpts := DefaultOptions()
	fedOpts.Capacity = est
	fed := New(prometheus.NewRegistry(), fedOpts)
	rng := rand.New(rand.NewPCG(1, 2))
	obs := make([]Observations, 1024)
	for i := range obs {
		obs[i] = Observations{Channel: "Voice", Direction: "inbound", Status: "CLOSED", Duration: s(300),
			Segments:     []SegmentObs{{Queue: fmt.Sprint("q", i%16), Interaction: s(200), ACW: s(30), Handle: s(230)}},
			QueueEntries: []QueueEntryObs{{Queue: fmt.Sprint("q", i%16), Outcome: OutcomeAnswered, Wait: s(12), Handle: s(230)}}}
	}
	var plainTime, fedTime time.Duration
	i := 0
	for b.Loop() {
		now = base.Add(time.Duration(i) * 100 * time.Millisecond)
		o := &obs[i%len(obs)]
		o.QueueEntries[0].Entered = now.Add(-45*time.Minute - time.Duration(rng.Int64N(int64(5*time.Minute))))
		t0 := time.Now()
		plain.Record(o)
		t1 := time.Now()
		fed.Record(o)
		fedTime += time.Since(t1)
		plainTime += t1.Sub(t0)
		i++
	}
	b.ReportMetric(float64(plainTime.Nanoseconds())/float64(i), "ns-without")
	b.ReportMetric(float64(fedTime.Nanoseconds())/float64(i), "ns-with-capacity")
	b.ReportMetric(float64(fedTime)/float64(plainTime), "with/without")
}
