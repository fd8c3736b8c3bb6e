package capacity

import (
	"bytes"
	"flag"
	"maps"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"
)

var update = flag.Bool("update", false, "rewrite the golden exposition files in testdata/")

// staffingMap is a Staffing source with fixed counts.
type staffingMap map[string]float64

func (s staffingMap) StaffedAgents(queue string) (float64, bool) {
	v, ok := s[queue]
	return v, ok
}

// scenario feeds, at t0 with the default options (the interval is 11:00 to
// 11:30 by entry time):
//   - sales: 100 entries, 95 answered (handle 180 s, wait 10 s) and 5
//     abandoned (wait 110 s): the reference traffic, λ = 100/1800,
//     AHT 180 s, patience (95·10 + 5·110)/5 = 300 s, A = 10 Erlangs;
//   - support: 50 entries, all answered, handle 72 s: λ = 1/36, A = 2,
//     no abandons (Erlang A is then Erlang C);
//   - fraud: 3 entries, all abandoned after 20 s: no handle time, patience
//     60/3 = 20 s;
//
// plus one sales entry not settled yet (on_time), one expired, one invalid.
func scenario(t *testing.T, staffing Staffing) (*Collector, *clock) {
	t.Helper()
	est, clk := newTestEstimator(t, 30*time.Minute, 30*time.Minute)
	start := t0.Add(-60 * time.Minute)
	at := func(i int) time.Time { return start.Add(time.Duration(i+1) * 17 * time.Second) } // inside (start, start+30m]
	for i := range 100 {
		s := Sample{Queue: "sales", Entered: at(i), Outcome: Answered, Wait: sec(10), Handle: sec(180)}
		if i%20 == 0 {
			s = Sample{Queue: "sales", Entered: at(i), Outcome: Abandoned, Wait: sec(110), Handle: -1}
		}
		est.Add(s)
	}
	for i := range 50 {
		est.Add(Sample{Queue: "support", Entered: at(i), Outcome: Answered, Wait: sec(float64(i)), Handle: sec(72)})
	}
	for i := range 3 {
		est.Add(Sample{Queue: "fraud", Entered: at(i), Outcome: Abandoned, Wait: sec(20), Handle: -1})
	}
	est.Add(Sample{Queue: "sales", Entered: t0.Add(-5 * time.Minute), Outcome: Answered, Wait: sec(1), Handle: sec(1000)})
	est.Add(Sample{Queue: "sales", Entered: start, Outcome: Answered})
	est.Add(Sample{Queue: "", Entered: at(0), Outcome: Answered})
	return NewCollector(est, staffing), clk
}

// flatten gathers c into name{label="value",...} → value.
func flatten(t *testing.T, c prometheus.Collector) map[string]float64 {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			key := mf.GetName()
			if len(labels) > 0 {
				key += "{" + strings.Join(labels, ",") + "}"
			}
			v := m.GetGauge().GetValue()
			if m.GetCounter() != nil {
				v = m.GetCounter().GetValue()
			}
			out[key] = v
		}
	}
	return out
}

// targetsAndSamples are the series present whatever the traffic.
var targetsAndSamples = map[string]float64{
	"smartassist_capacity_service_level_target":          0.8,
	"smartassist_capacity_service_level_seconds":         20,
	"smartassist_capacity_max_occupancy":                 0.85,
	"smartassist_capacity_shrinkage":                     0.3,
	"smartassist_capacity_interval_seconds":              1800,
	"smartassist_capacity_settle_seconds":                1800,
	"smartassist_capacity_samples_total{result=late}":    153,
	"smartassist_capacity_samples_total{result=on_time}": 1,
	"smartassist_capacity_samples_total{result=expired}": 1,
	"smartassist_capacity_samples_total{result=invalid}": 1,
}

// withoutStaffing: the hand-computed values (required agents from the
// golden Erlang values: see TestRequiredAgentsReference).
var withoutStaffing = map[string]float64{
	"smartassist_capacity_arrival_rate{queue=sales}":                               100.0 / 1800,
	"smartassist_capacity_handle_seconds{queue=sales}":                             180,
	"smartassist_capacity_patience_seconds{queue=sales}":                           300,
	"smartassist_capacity_offered_load_erlangs{queue=sales}":                       10,
	"smartassist_capacity_required_agents{model=erlang_c,queue=sales}":             14,
	"smartassist_capacity_required_agents{model=erlang_a,queue=sales}":             13,
	"smartassist_capacity_required_scheduled_agents{model=erlang_c,queue=sales}":   20, // ceil(14/0.7)
	"smartassist_capacity_required_scheduled_agents{model=erlang_a,queue=sales}":   19, // ceil(18.57)
	"smartassist_capacity_arrival_rate{queue=support}":                             50.0 / 1800,
	"smartassist_capacity_handle_seconds{queue=support}":                           72,
	"smartassist_capacity_offered_load_erlangs{queue=support}":                     2,
	"smartassist_capacity_required_agents{model=erlang_c,queue=support}":           4, // 3 give 0.6633, 4 give 0.9002
	"smartassist_capacity_required_agents{model=erlang_a,queue=support}":           4, // no abandons: Erlang C
	"smartassist_capacity_required_scheduled_agents{model=erlang_c,queue=support}": 6,
	"smartassist_capacity_required_scheduled_agents{model=erlang_a,queue=support}": 6,
	"smartassist_capacity_arrival_rate{queue=fraud}":                               3.0 / 1800,
	"smartassist_capacity_patience_seconds{queue=fraud}":                           20,
}

func merge(ms ...map[string]float64) map[string]float64 {
	out := map[string]float64{}
	for _, m := range ms {
		maps.Copy(out, m)
	}
	return out
}

func compareSeries(t *testing.T, got, want map[string]float64) {
	t.Helper()
	var keys []string
	for k := range merge(got, want) {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		g, inGot := got[k]
		w, inWant := want[k]
		switch {
		case !inGot:
			t.Errorf("missing %s (want %v)", k, w)
		case !inWant:
			t.Errorf("unexpected %s %v", k, g)
		case g != w:
			t.Errorf("%s = %v, want %v", k, g, w)
		}
	}
}

// TestCollectorWithoutStaffing: no staffing source, no staffing gauges.
func TestCollectorWithoutStaffing(t *testing.T) {
	c, _ := scenario(t, nil)
	compareSeries(t, flatten(t, c), merge(targetsAndSamples, withoutStaffing))
}

// TestCollectorWithStaffing: sales has 14 agents, support none known. The
// predictions at 14 agents are the reference values of UPSTREAM-APIS.md.
func TestCollectorWithStaffing(t *testing.T) {
	c, _ := scenario(t, staffingMap{"sales": 14, "fraud": 2})
	got := flatten(t, c)
	predicted := map[string]struct {
		digits int
		want   float64
	}{
		"smartassist_capacity_predicted_service_level{model=erlang_c,queue=sales}": {5, 0.88835},
		"smartassist_capacity_predicted_service_level{model=erlang_a,queue=sales}": {6, 0.916792},
		"smartassist_capacity_predicted_abandon_ratio{queue=sales}":                {6, 0.013984},
	}
	for k, p := range predicted {
		if v, ok := got[k]; !ok || round(v, p.digits) != p.want {
			t.Errorf("%s = %v (present %v), want %v", k, v, ok, p.want)
		}
		delete(got, k)
	}
	compareSeries(t, got, merge(targetsAndSamples, withoutStaffing, map[string]float64{
		"smartassist_capacity_staffed_agents{queue=sales}":              14,
		"smartassist_capacity_staffing_gap{model=erlang_c,queue=sales}": 0,
		"smartassist_capacity_staffing_gap{model=erlang_a,queue=sales}": -1,
		"smartassist_capacity_staffed_agents{queue=fraud}":              2, // no handle time: nothing to predict
	}))
}

// TestCollectorQuietQueue: an hour later every entry has left the
// interval: the queue series are gone, not frozen.
func TestCollectorQuietQueue(t *testing.T) {
	c, clk := scenario(t, staffingMap{"sales": 14})
	clk.advance(30 * time.Minute)
	// The interval is now 11:30 to 12:00: only the on_time sales entry.
	got := flatten(t, c)
	if got["smartassist_capacity_arrival_rate{queue=sales}"] != 1.0/1800 || got["smartassist_capacity_handle_seconds{queue=sales}"] != 1000 {
		t.Errorf("sales half an hour later: %v", got)
	}
	if _, ok := got["smartassist_capacity_arrival_rate{queue=support}"]; ok {
		t.Errorf("support is still exported half an hour after its last entry left the interval")
	}
	clk.advance(30 * time.Minute)
	compareSeries(t, flatten(t, c), targetsAndSamples)
}

// TestCollectorStaffingEdges: a staffing source that reports nonsense or
// far too few agents.
func TestCollectorStaffingEdges(t *testing.T) {
	c, _ := scenario(t, staffingMap{"sales": math.NaN(), "support": 0})
	got := flatten(t, c)
	if _, ok := got["smartassist_capacity_staffed_agents{queue=sales}"]; ok {
		t.Errorf("a NaN staffing is exported")
	}
	// Nobody staffed for 2 Erlangs: nobody is answered.
	for k, want := range map[string]float64{
		"smartassist_capacity_staffed_agents{queue=support}":                         0,
		"smartassist_capacity_predicted_service_level{model=erlang_c,queue=support}": 0,
		"smartassist_capacity_predicted_service_level{model=erlang_a,queue=support}": 0,
		"smartassist_capacity_staffing_gap{model=erlang_c,queue=support}":            4,
	} {
		if v, ok := got[k]; !ok || v != want {
			t.Errorf("%s = %v (present %v), want %v", k, v, ok, want)
		}
	}
	// No abandons and no agents: the Erlang C limit of Erlang A has the
	// whole excess abandon.
	if v := got["smartassist_capacity_predicted_abandon_ratio{queue=support}"]; v != 1 {
		t.Errorf("abandon ratio without agents %v, want 1", v)
	}
}

// TestCollectorGoldenAndLint compares the whole exposition (HELP and TYPE
// included) with testdata/collector.prom (go test ./capacity -update
// rewrites it) and lints it.
func TestCollectorGoldenAndLint(t *testing.T) {
	c, _ := scenario(t, staffingMap{"sales": 14})
	golden := filepath.Join("testdata", "collector.prom")
	if *update {
		reg := prometheus.NewPedanticRegistry()
		reg.MustRegister(c)
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		enc := expfmt.NewEncoder(&buf, expfmt.NewFormat(expfmt.TypeTextPlain))
		for _, mf := range mfs {
			if err := enc.Encode(mf); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	f, err := os.Open(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./capacity -update to create it)", err)
	}
	defer f.Close()
	if err := testutil.CollectAndCompare(c, f); err != nil {
		t.Error(err)
	}
	problems, err := testutil.CollectAndLint(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
	for _, d := range describe(c) {
		s := d.String()
		if strings.ContainsFunc(s, func(r rune) bool { return r > 127 }) {
			t.Errorf("HELP is not ASCII like the exporter's other metrics: %s", s)
		}
		if !strings.Contains(s, `help: "smartassist_exporter: `) && !strings.Contains(s, "the last SMARTASSIST_CAPACITY_INTERVAL") {
			t.Errorf("a capacity gauge must say it comes from the interval, a setting or self-metric must name the exporter: %s", s)
		}
	}
}

func describe(c prometheus.Collector) []*prometheus.Desc {
	ch := make(chan *prometheus.Desc, 64)
	c.Describe(ch)
	close(ch)
	var out []*prometheus.Desc
	for d := range ch {
		out = append(out, d)
	}
	return out
}

// BenchmarkCollect: one scrape of 50 queues of 10 to 500 Erlangs, with
// staffing (two searches and two predictions per queue).
func BenchmarkCollect(b *testing.B) {
	est, _ := newTestEstimator(b, 30*time.Minute, 0)
	staffed := staffingMap{}
	for q := range 50 {
		name := "q" + string(rune('A'+q%26)) + string(rune('a'+q/26))
		load := 10 + float64(q)*10 // Erlangs
		n := int(load * 10)        // entries in 1800 s at AHT 180 s
		for i := range n {
			s := Sample{Queue: name, Entered: t0.Add(-time.Duration(i+1) * (1800 * time.Second) / time.Duration(n+1)), Outcome: Answered, Wait: sec(10), Handle: sec(180)}
			if i%10 == 0 {
				s.Outcome, s.Wait = Abandoned, sec(30)
			}
			est.Add(s)
		}
		staffed[name] = load
	}
	c := NewCollector(est, staffed)
	ch := make(chan prometheus.Metric, 4096)
	series := 0
	for b.Loop() {
		c.Collect(ch)
		series = len(ch)
		for len(ch) > 0 {
			<-ch
		}
	}
	b.ReportMetric(float64(series), "series")
}
