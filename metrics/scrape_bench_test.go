package metrics

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
)

// Scrape cost (issue 14): /metrics of our registry against a bare
// client_golang registry holding the same series, in one binary, so the
// ratio is one command:
//
//	go test ./metrics -run XXX -bench Scrape -benchtime 2s -count 3
//
// Registries: "bare" mirrors ours into plain HistogramVecs and CounterVecs
// (classic buckets only, the same bucket counts); "ours" is New with the
// default options; "ours_native" has SMARTASSIST_NATIVE_HISTOGRAMS on.

// scrapeFormats are the Accept (and Accept-Encoding) headers of the
// scrapers compared.
var scrapeFormats = []struct{ name, accept, encoding string }{
	{"text", "text/plain;version=0.0.4", ""},
	{"openmetrics_gzip", "application/openmetrics-text;version=1.0.0", "gzip"},
	{"protobuf_gzip", "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited", "gzip"},
}

// filledMetrics records conversations over channels x queues label sets,
// obsPerSeries observations of spread-out durations each, so histograms
// fill many buckets (classic and native) as real traffic does.
func filledMetrics(reg prometheus.Registerer, channels, queues, obsPerSeries int, native bool) {
	opts := DefaultOptions()
	opts.MaxQueues, opts.NativeHistograms = queues, native
	m := New(reg, opts)
	for ch := range channels {
		for q := range queues {
			for i := range obsPerSeries {
				// Durations from 1 s to a few hours, a different spread
				// per series.
				v := float64(1+(i*37+q*11+ch*5)%97) * float64(1+i%7) * 3.1
				queue := fmt.Sprint("queue-", q)
				m.Record(&Observations{Channel: fmt.Sprint("channel-", ch), Direction: "inbound", Status: "CLOSED", Duration: s(v * 2),
					Segments: []SegmentObs{{Queue: queue, FirstResponse: s(v / 20), Interaction: s(v), Hold: s(v / 5),
						ACW: s(v / 4), Handle: s(v * 1.25)}},
					QueueEntries: []QueueEntryObs{{Queue: queue, Outcome: OutcomeAnswered, Wait: s(v / 10)}},
					Consults:     []ConsultObs{{Queue: queue, Seconds: v / 3}},
					Offers:       []OfferObs{{Queue: queue, Outcome: OutcomeAnswered}},
				})
			}
		}
	}
}

// bareMirror builds a plain client_golang registry with the same families,
// label sets, classic buckets and counts as the gathered families.
func bareMirror(tb testing.TB, mfs []*dto.MetricFamily) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	for _, mf := range mfs {
		if len(mf.GetMetric()) == 0 {
			continue
		}
		var names []string
		for _, l := range mf.GetMetric()[0].GetLabel() {
			names = append(names, l.GetName())
		}
		values := func(m *dto.Metric) []string {
			var vs []string
			for _, l := range m.GetLabel() {
				vs = append(vs, l.GetValue())
			}
			return vs
		}
		switch mf.GetType() {
		case dto.MetricType_HISTOGRAM:
			var bounds []float64
			for _, b := range mf.GetMetric()[0].GetHistogram().GetBucket() {
				bounds = append(bounds, b.GetUpperBound())
			}
			vec := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: mf.GetName(), Help: mf.GetHelp(), Buckets: bounds}, names)
			for _, m := range mf.GetMetric() {
				h := vec.WithLabelValues(values(m)...)
				prev := uint64(0)
				for _, b := range m.GetHistogram().GetBucket() {
					for ; prev < b.GetCumulativeCount(); prev++ {
						h.Observe(b.GetUpperBound())
					}
				}
			}
			reg.MustRegister(vec)
		case dto.MetricType_COUNTER:
			vec := prometheus.NewCounterVec(prometheus.CounterOpts{Name: mf.GetName(), Help: mf.GetHelp()}, names)
			for _, m := range mf.GetMetric() {
				vec.WithLabelValues(values(m)...).Add(m.GetCounter().GetValue())
			}
			reg.MustRegister(vec)
		case dto.MetricType_GAUGE:
			vec := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: mf.GetName(), Help: mf.GetHelp()}, names)
			for _, m := range mf.GetMetric() {
				vec.WithLabelValues(values(m)...).Set(m.GetGauge().GetValue())
			}
			reg.MustRegister(vec)
		default:
			tb.Fatalf("%s: type %v not mirrored", mf.GetName(), mf.GetType())
		}
	}
	return reg
}

// seriesCount counts samples as the text format lists them.
func seriesCount(mfs []*dto.MetricFamily) int {
	n := 0
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			if h := m.GetHistogram(); h != nil {
				n += len(h.GetBucket()) + 3 // buckets, +Inf, _sum, _count
			} else {
				n++
			}
		}
	}
	return n
}

type scrapeRegistries struct {
	series             int
	ours, bare, native *prometheus.Registry
}

func buildScrapeRegistries(tb testing.TB, channels, queues, obs int) scrapeRegistries {
	ours, native := prometheus.NewRegistry(), prometheus.NewRegistry()
	filledMetrics(ours, channels, queues, obs, false)
	filledMetrics(native, channels, queues, obs, true)
	mfs, err := ours.Gather()
	if err != nil {
		tb.Fatal(err)
	}
	return scrapeRegistries{series: seriesCount(mfs), ours: ours, bare: bareMirror(tb, mfs), native: native}
}

// scrape serves one /metrics request and returns the bytes sent (gzipped
// when encoding is gzip).
func scrape(h http.Handler, accept, encoding string) (sent int, err error) {
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	req.Header.Set("Accept", accept)
	if encoding != "" {
		req.Header.Set("Accept-Encoding", encoding)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		return 0, fmt.Errorf("status %d", rec.Code)
	}
	return rec.Body.Len(), nil
}

// scrapeSizes are the registries compared: channels x queues label sets,
// 20 observations each, about 10k and 60k series.
var scrapeSizes = []struct {
	name                  string
	channels, queues, obs int
}{
	{"10k", 4, 14, 20},
	{"60k", 8, 42, 20},
}

// BenchmarkScrape: ns/op of one scrape per registry and format, and the
// bytes sent (bytes/scrape). Compare ours and ours_native with bare of the
// same size and format, within one run.
func BenchmarkScrape(b *testing.B) {
	for _, size := range scrapeSizes {
		regs := buildScrapeRegistries(b, size.channels, size.queues, size.obs)
		for _, f := range scrapeFormats {
			for _, r := range []struct {
				name string
				reg  *prometheus.Registry
			}{{"bare", regs.bare}, {"ours", regs.ours}, {"ours_native", regs.native}} {
				h := promhttp.HandlerFor(r.reg, promhttp.HandlerOpts{EnableOpenMetrics: true})
				b.Run(fmt.Sprintf("series=%s/format=%s/registry=%s", size.name, f.name, r.name), func(b *testing.B) {
					sent := 0
					b.ReportAllocs()
					for i := 0; i < b.N; i++ {
						n, err := scrape(h, f.accept, f.encoding)
						if err != nil {
							b.Fatal(err)
						}
						sent = n
					}
					b.ReportMetric(float64(regs.series), "series")
					b.ReportMetric(float64(sent), "bytes/scrape")
				})
			}
		}
	}
}

// TestScrapeMirror checks the benchmark's premise: the bare mirror serves
// the same series as ours, so the ratio compares like with like, and a
// protobuf scrape of ours with native histograms off is no larger than the
// mirror's (the default costs nothing extra).
func TestScrapeMirror(t *testing.T) {
	regs := buildScrapeRegistries(t, 2, 3, 5)
	bareMFs, err := regs.bare.Gather()
	if err != nil {
		t.Fatal(err)
	}
	oursMFs, _ := regs.ours.Gather()
	if got, want := seriesCount(bareMFs), seriesCount(oursMFs); got != want || want < 500 {
		t.Fatalf("mirror has %d series, ours %d", got, want)
	}
	for i := range oursMFs {
		o, m := oursMFs[i], bareMFs[i]
		if o.GetName() != m.GetName() || len(o.GetMetric()) != len(m.GetMetric()) {
			t.Fatalf("family %d: %s (%d) vs %s (%d)", i, o.GetName(), len(o.GetMetric()), m.GetName(), len(m.GetMetric()))
		}
		for j := range o.GetMetric() {
			oh, mh := o.GetMetric()[j].GetHistogram(), m.GetMetric()[j].GetHistogram()
			if oh.GetSampleCount() != mh.GetSampleCount() || len(oh.GetBucket()) != len(mh.GetBucket()) {
				t.Errorf("%s: histogram %d differs", o.GetName(), j)
			}
		}
	}
	proto := scrapeFormats[2]
	size := func(reg *prometheus.Registry) int {
		n, err := scrape(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}), proto.accept, "")
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	bare, ours, native := size(regs.bare), size(regs.ours), size(regs.native)
	// Ours spells the same samples; only HELP texts and sums differ.
	if float64(ours) > 1.02*float64(bare) {
		t.Errorf("protobuf scrape: ours %d bytes, bare %d", ours, bare)
	}
	if native <= ours {
		t.Errorf("native histograms add no bytes (%d vs %d): are they on?", native, ours)
	}
}

// BenchmarkScrapeRatio interleaves the registries: each iteration scrapes
// bare, ours and ours_native once in the same format, back to back, so load
// from other processes hits all three alike; it reports the median over
// iterations of ours/bare and native/bare (the goal: ours <= 1.15x
// bare), the order rotating. Medians of adjacent scrapes resist the shared machine's noise
// better than ratios of separate benchmarks.
//
//	go test ./metrics -run XXX -bench ScrapeRatio -benchtime 31x -count 3
func BenchmarkScrapeRatio(b *testing.B) {
	for _, size := range scrapeSizes {
		regs := buildScrapeRegistries(b, size.channels, size.queues, size.obs)
		for _, f := range scrapeFormats {
			handlers := []http.Handler{
				promhttp.HandlerFor(regs.bare, promhttp.HandlerOpts{EnableOpenMetrics: true}),
				promhttp.HandlerFor(regs.ours, promhttp.HandlerOpts{EnableOpenMetrics: true}),
				promhttp.HandlerFor(regs.native, promhttp.HandlerOpts{EnableOpenMetrics: true}),
			}
			b.Run(fmt.Sprintf("series=%s/format=%s", size.name, f.name), func(b *testing.B) {
				ours, native := make([]float64, 0, b.N), make([]float64, 0, b.N)
				for i := 0; i < b.N; i++ {
					var spent [3]time.Duration
					// Rotate who goes first: the first scrape of a round
					// pays for the previous round's garbage.
					for j := range handlers {
						k := (i + j) % len(handlers)
						start := time.Now()
						if _, err := scrape(handlers[k], f.accept, f.encoding); err != nil {
							b.Fatal(err)
						}
						spent[k] = time.Since(start)
					}
					ours = append(ours, float64(spent[1])/float64(spent[0]))
					native = append(native, float64(spent[2])/float64(spent[0]))
				}
				b.ReportMetric(median(ours), "ours/bare")
				b.ReportMetric(median(native), "native/bare")
				b.ReportMetric(float64(regs.series), "series")
			})
		}
	}
}

func median(xs []float64) float64 {
	sort.Float64s(xs)
	if len(xs) == 0 {
		return 0
	}
	return xs[len(xs)/2]
}
