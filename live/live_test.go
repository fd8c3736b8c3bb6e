package live

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/smartassist-exporter/smartassist_exporter/capacity"
	"github.com/smartassist-exporter/smartassist_exporter/internal/testkit"
	"github.com/smartassist-exporter/smartassist_exporter/simulator"
	"github.com/smartassist-exporter/smartassist_exporter/upstream"
)

var t0 = time.Date(2026, 3, 10, 14, 0, 0, 0, time.UTC)

// The collector is what capacity reads staffing from.
var _ capacity.Staffing = (*Collector)(nil)

type fakeClock = testkit.Clock

type syncBuffer = testkit.SyncBuffer

// rig is a simulated account over real HTTP, the shared upstream client as
// main builds it, and a live collector on the simulator's clock.
type rig struct {
	clock *fakeClock
	sim   *simulator.Server
	url   string
	reg   *prometheus.Registry
	up    *upstream.Client
	logs  *syncBuffer
}

func newRig(t testing.TB, live simulator.LiveOptions, wrap func(http.Handler) http.Handler) *rig {
	t.Helper()
	clock := testkit.NewClock(t0)
	sim := simulator.New(simulator.Options{AccountID: "acc", StreamID: "st", ClientID: "cs-1", ClientSecret: "secret", Seed: 7, Now: clock.Now})
	sim.SetLive(live)
	sim.Generate(t0.Add(-3*time.Hour), t0, simulator.Profile{PerHour: 600, OpenShare: 0.5, Shape: simulator.DemoShape})
	var h http.Handler = sim
	if wrap != nil {
		h = wrap(sim)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	r := &rig{clock: clock, sim: sim, url: srv.URL, reg: prometheus.NewRegistry(), logs: &syncBuffer{}}
	r.up = r.upstream(t, 6000)
	return r
}

func (r *rig) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(r.logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// upstream builds the shared client with a budget of perMinute, on a
// fresh registry (call it before building collectors).
func (r *rig) upstream(t testing.TB, perMinute float64) *upstream.Client {
	t.Helper()
	r.reg = prometheus.NewRegistry()
	tokens := upstream.NewMintedTokensAt("cs-1", func() (string, error) { return "secret", nil }, r.clock.Now)
	up, err := upstream.New(upstream.Config{BaseURL: r.url, AccountID: "acc", RequestTimeout: 5 * time.Second},
		&http.Client{}, tokens, upstream.NewBudget(perMinute), upstream.NewRequestMetrics(r.reg, perMinute, Endpoints...), r.logger())
	if err != nil {
		t.Fatal(err)
	}
	up.SetSleep(func(context.Context, time.Duration) error { return nil })
	return up
}

func (r *rig) collector(o Options) *Collector {
	o.Upstream, o.AccountID, o.StreamID = r.up, "acc", "st"
	if o.Interval == 0 {
		o.Interval = 15 * time.Second
	}
	o.Registerer, o.Log, o.Now = r.reg, r.logger(), r.clock.Now
	return New(o)
}

// gauges reads one family from the registry: label values joined by "/"
// to value.
func (r *rig) gauges(t *testing.T, name string) map[string]float64 {
	t.Helper()
	mfs, err := r.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			out[labelKey(m)] = m.GetGauge().GetValue()
		}
	}
	return out
}

// labelOrder is the order of label values in the keys of gauges.
var labelOrder = []string{"queue", "channel", "direction", "status", "source", "endpoint", "code", "result"}

func labelKey(m *dto.Metric) string {
	byName := map[string]string{}
	for _, l := range m.GetLabel() {
		byName[l.GetName()] = l.GetValue()
	}
	var parts []string
	for _, n := range labelOrder {
		if v, ok := byName[n]; ok {
			parts = append(parts, v)
		}
	}
	return strings.Join(parts, "/")
}

// requests is how many requests went to the endpoint, any status.
func (r *rig) requests(endpoint string) float64 {
	mfs, _ := r.reg.Gather()
	n := 0.0
	for _, mf := range mfs {
		if mf.GetName() != "smartassist_exporter_api_requests_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "endpoint" && l.GetValue() == endpoint {
					n += m.GetCounter().GetValue()
				}
			}
		}
	}
	return n
}

// sumBy adds up a row family by queue (the first label).
func sumBy(rows map[string]float64) map[string]float64 {
	out := map[string]float64{}
	for k, v := range rows {
		q, _, _ := strings.Cut(k, "/")
		out[q] += v
	}
	return out
}

func wantAgents(t *testing.T, got map[string]float64, want map[string]simulator.LiveQueue) {
	t.Helper()
	if len(got) != 4*len(want) {
		t.Errorf("%d agent series, want 4 statuses x %d queues: %v", len(got), len(want), got)
	}
	for name, q := range want {
		for status, n := range q.Agents {
			if g := got[name+"/"+status]; g != float64(n) {
				t.Errorf("agents %s/%s = %v, want %d (per queue, never summed over its rows)", name, status, g, n)
			}
		}
	}
}

// TestQueuePerformance: one poll reads every row, page by page, and the
// gauges say what the simulated platform says: waiting per queue x channel
// x direction, agents per queue (not multiplied by the queue's 4 rows).
func TestQueuePerformance(t *testing.T) {
	r := newRig(t, simulator.LiveOptions{}, nil)
	c := r.collector(Options{PageRows: 3}) // 16 rows: 6 pages
	if err := c.Poll(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := r.requests(EndpointQueuePerformance); n != 6 {
		t.Errorf("%v Queue Performance requests for 16 rows of 3, want 6", n)
	}
	want := r.sim.LiveQueues(r.clock.Now())
	waiting := r.gauges(t, "smartassist_queue_waiting")
	if len(waiting) != 16 {
		t.Errorf("%d waiting series, want 16 (4 queues x 4 channel/direction rows): %v", len(waiting), waiting)
	}
	total := 0
	for name, q := range want {
		total += q.Waiting
		if got := sumBy(waiting)[name]; got != float64(q.Waiting) {
			t.Errorf("waiting %s = %v, want %d", name, got, q.Waiting)
		}
		if got := sumBy(r.gauges(t, "smartassist_queue_ongoing"))[name]; got != float64(q.Ongoing) {
			t.Errorf("ongoing %s = %v, want %d", name, got, q.Ongoing)
		}
		if got := sumBy(r.gauges(t, "smartassist_queue_overdue"))[name]; got != float64(q.Overdue) {
			t.Errorf("overdue %s = %v, want %d", name, got, q.Overdue)
		}
	}
	if total == 0 {
		t.Fatal("nobody waiting in the simulated burst: the test proves nothing")
	}
	if _, ok := waiting["Sales/Voice/Outbound"]; !ok {
		t.Errorf("no Sales/Voice/Outbound row: %v", waiting)
	}
	wantAgents(t, r.gauges(t, "smartassist_queue_agents"), want)
	if len(r.gauges(t, "smartassist_queue_longest_wait_seconds")) != 0 {
		t.Error("longest wait from Queue Performance, which does not give it")
	}
	if up := r.gauges(t, "smartassist_live_up")[""]; up != 1 {
		t.Errorf("live_up %v", up)
	}
	if src := r.gauges(t, "smartassist_exporter_live_source"); src["queue_performance"] != 1 || src["queue_size"] != 0 {
		t.Errorf("source %v", src)
	}
	if ts := r.gauges(t, "smartassist_live_last_success_timestamp_seconds")[""]; ts != float64(t0.Unix()) {
		t.Errorf("last success %v, want %d", ts, t0.Unix())
	}
	// Staffing for capacity: available + busy of the queue.
	sales := want["Sales"]
	if n, ok := c.StaffedAgents("Sales"); !ok || n != float64(sales.Agents["available"]+sales.Agents["busy"]) {
		t.Errorf("StaffedAgents(Sales) = %v, %v; want %d", n, ok, sales.Agents["available"]+sales.Agents["busy"])
	}
	if _, ok := c.StaffedAgents("No Such Queue"); ok {
		t.Error("staffing for an unknown queue")
	}
}

// TestFallbackToQueueSize: where Queue Performance answers 404, auto mode
// says so once, switches to the queues list and Queue Size per queue, and
// converts its maxWait from milliseconds.
func TestFallbackToQueueSize(t *testing.T) {
	r := newRig(t, simulator.LiveOptions{QueuePerformanceMissing: true}, nil)
	c := r.collector(Options{})
	for range 3 {
		if err := c.Poll(context.Background()); err != nil {
			t.Fatal(err)
		}
		r.clock.Advance(15 * time.Second)
	}
	r.clock.Advance(-15 * time.Second)
	if n := r.requests(EndpointQueuePerformance); n != 1 {
		t.Errorf("Queue Performance asked %v times; once is enough to learn it is missing", n)
	}
	if got := strings.Count(r.logs.String(), "Queue Performance API is not available"); got != 1 {
		t.Errorf("the fallback logged %d times, want once:\n%s", got, r.logs)
	}
	if src := r.gauges(t, "smartassist_exporter_live_source"); src["queue_size"] != 1 || src["queue_performance"] != 0 {
		t.Errorf("source %v", src)
	}
	if n := r.requests(EndpointQueues); n != 1 {
		t.Errorf("queues list read %v times in 3 polls, want once (it is refreshed every 10m)", n)
	}
	want := r.sim.LiveQueues(r.clock.Now())
	// Budget 6000/min x 40% x 15s = 600 requests a poll: every queue is
	// read each poll, so every gauge is of the last poll.
	waiting := r.gauges(t, "smartassist_queue_waiting")
	longest := r.gauges(t, "smartassist_queue_longest_wait_seconds")
	for name, q := range want {
		if got := waiting[name+"/all/all"]; got != float64(q.Waiting) {
			t.Errorf("waiting %s = %v, want %d", name, got, q.Waiting)
		}
		if got, want := longest[name], float64(q.LongestWait.Milliseconds())/1000; got != want {
			t.Errorf("longest wait %s = %v s, want %v s (maxWait is in ms)", name, got, want)
		}
	}
	if len(r.gauges(t, "smartassist_queue_overdue")) != 0 {
		t.Error("overdue from Queue Size, which does not give it")
	}
	wantAgents(t, r.gauges(t, "smartassist_queue_agents"), want)
	maxLongest := 0.0
	for _, v := range longest {
		maxLongest = max(maxLongest, v)
	}
	if maxLongest < 1 {
		t.Errorf("longest waits %v: the simulated burst should have someone waiting over a second", longest)
	}
}

// TestFallbackRetried: an hour after falling back, auto mode tries Queue
// Performance again — one request, staying on Queue Size while it still
// answers 404 — and goes back to it once it answers, giving back the
// budget Queue Size had reserved.
func TestFallbackRetried(t *testing.T) {
	r := newRig(t, simulator.LiveOptions{QueuePerformanceMissing: true}, nil)
	c := r.collector(Options{})
	budget := c.opts.Upstream.Budget()
	onPerformance := budget.Unreserved()
	poll := func(advance time.Duration) {
		t.Helper()
		r.clock.Advance(advance)
		if err := c.Poll(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	poll(0)
	onQueueSize := budget.Unreserved()
	if c.Source() != SourceQueueSize || onQueueSize >= onPerformance {
		t.Fatalf("after a 404: source %s, unreserved %v (was %v)", c.Source(), onQueueSize, onPerformance)
	}
	poll(QueuePerformanceRetry - time.Minute)
	if n := r.requests(EndpointQueuePerformance); n != 1 {
		t.Errorf("Queue Performance asked %v times within the hour, want once", n)
	}
	poll(time.Minute) // an hour on: tried again, still 404
	if n := r.requests(EndpointQueuePerformance); n != 2 || c.Source() != SourceQueueSize {
		t.Errorf("an hour on: Queue Performance asked %v times (want 2), source %s", n, c.Source())
	}
	poll(15 * time.Second) // not again before another hour
	if n := r.requests(EndpointQueuePerformance); n != 2 {
		t.Errorf("Queue Performance asked %v times right after a retry, want 2", n)
	}
	r.sim.SetLive(simulator.LiveOptions{})
	poll(QueuePerformanceRetry)
	if c.Source() != SourceQueuePerformance {
		t.Fatalf("source %s after Queue Performance answered again", c.Source())
	}
	if got := budget.Unreserved(); got != onPerformance {
		t.Errorf("unreserved budget %v back on Queue Performance, want %v as before the fallback", got, onPerformance)
	}
	if src := r.gauges(t, "smartassist_exporter_live_source"); src["queue_performance"] != 1 || src["queue_size"] != 0 {
		t.Errorf("source gauge %v", src)
	}
	if !strings.Contains(r.logs.String(), "answers again") {
		t.Errorf("the return was not logged:\n%s", r.logs)
	}
	want := r.sim.LiveQueues(r.clock.Now())
	wantAgents(t, r.gauges(t, "smartassist_queue_agents"), want)
}

// TestForcedQueuePerformanceDoesNotFallBack: SMARTASSIST_LIVE_SOURCE=
// queue_performance reports the 404 as a failed poll instead.
func TestForcedQueuePerformanceDoesNotFallBack(t *testing.T) {
	r := newRig(t, simulator.LiveOptions{QueuePerformanceMissing: true}, nil)
	c := r.collector(Options{Source: SourceQueuePerformance})
	err := c.Poll(context.Background())
	if !upstream.HasStatus(err, http.StatusNotFound) {
		t.Fatalf("err %v, want the 404", err)
	}
	if c.Source() != SourceQueuePerformance || r.requests(EndpointQueueSize) != 0 {
		t.Error("fell back although the source was forced")
	}
	if up := r.gauges(t, "smartassist_live_up")[""]; up != 0 {
		t.Errorf("live_up %v after a failed poll", up)
	}
}

// TestQueueDisappears: a deleted queue drops its series at the next poll,
// from either source; nothing stays frozen at its last value.
func TestQueueDisappears(t *testing.T) {
	for _, source := range []string{SourceQueuePerformance, SourceQueueSize} {
		t.Run(source, func(t *testing.T) {
			r := newRig(t, simulator.LiveOptions{}, nil)
			c := r.collector(Options{Source: source, QueueListInterval: time.Minute})
			if err := c.Poll(context.Background()); err != nil {
				t.Fatal(err)
			}
			if _, ok := r.gauges(t, "smartassist_queue_agents")["Billing/busy"]; !ok {
				t.Fatal("no Billing queue to begin with")
			}
			r.sim.HideQueue("Billing")
			r.clock.Advance(15 * time.Second) // within the list interval: Queue Size learns it from the 404
			if err := c.Poll(context.Background()); err != nil {
				t.Fatal(err)
			}
			for _, fam := range []string{"smartassist_queue_agents", "smartassist_queue_waiting"} {
				for k := range r.gauges(t, fam) {
					if strings.HasPrefix(k, "Billing/") {
						t.Errorf("%s still has %s after the queue was deleted", fam, k)
					}
				}
			}
			if _, ok := c.StaffedAgents("Billing"); ok {
				t.Error("staffing for a deleted queue")
			}
			if _, ok := r.gauges(t, "smartassist_queue_agents")["Sales/busy"]; !ok {
				t.Error("the other queues went too")
			}
		})
	}
}

// TestStaleSnapshotIsNotShown: when polls keep failing, the gauges vanish
// after a few intervals instead of freezing, and staffing turns unknown.
func TestStaleSnapshotIsNotShown(t *testing.T) {
	var failing sync.Map
	r := newRig(t, simulator.LiveOptions{}, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			if _, ok := failing.Load("on"); ok {
				w.Header().Set("Retry-After", "1")
				http.Error(w, `{"errors":[{"msg":"You've exceeded the per-minute rate limit."}]}`, http.StatusTooManyRequests)
				return
			}
			h.ServeHTTP(w, req)
		})
	})
	c := r.collector(Options{})
	if err := c.Poll(context.Background()); err != nil {
		t.Fatal(err)
	}
	failing.Store("on", true)
	before := r.requests(EndpointQueuePerformance)
	for i := range 4 {
		r.clock.Advance(15 * time.Second)
		if err := c.Poll(context.Background()); !upstream.HasStatus(err, http.StatusTooManyRequests) {
			t.Fatalf("poll %d: err %v, want the 429", i, err)
		}
		if i == 0 && len(r.gauges(t, "smartassist_queue_waiting")) == 0 {
			t.Error("one failed poll already hid the gauges; they should last a few intervals")
		}
	}
	if n := r.requests(EndpointQueuePerformance) - before; n != 4 {
		t.Errorf("%v requests in 4 failed polls, want 4: a live request is not retried", n)
	}
	if g := r.gauges(t, "smartassist_queue_waiting"); len(g) != 0 {
		t.Errorf("stale gauges still shown after 60s of failed polls: %v", g)
	}
	if _, ok := c.StaffedAgents("Sales"); ok {
		t.Error("staffing from a stale snapshot")
	}
	if up := r.gauges(t, "smartassist_live_up")[""]; up != 0 {
		t.Errorf("live_up %v", up)
	}
	if got := strings.Count(r.logs.String(), "live poll failed"); got != 1 {
		t.Errorf("%d warnings for 4 failed polls, want 1 (then debug):\n%s", got, r.logs)
	}
}

// TestQueueSizeRoundRobin: with more queues than the live share allows per
// poll, Queue Size reads them in turn and never spends more than its share.
func TestQueueSizeRoundRobin(t *testing.T) {
	r := newRig(t, simulator.LiveOptions{ExtraQueues: 20}, nil)
	// 50/min x 40% x 15s = 5 requests a poll for 24 queues.
	c := r.collector(Options{Source: SourceQueueSize, PlanPerMinute: 50})
	polls := 0
	for ; polls < 6; polls++ {
		if err := c.Poll(context.Background()); err != nil {
			t.Fatal(err)
		}
		r.clock.Advance(15 * time.Second)
	}
	spent := r.requests(EndpointQueueSize) + r.requests(EndpointQueues)
	if spent > float64(5*polls) {
		t.Errorf("%v requests in %d polls, over the share of 5 a poll", spent, polls)
	}
	if n := len(r.gauges(t, "smartassist_queue_waiting")); n != 24 {
		t.Errorf("%d queues shown after %d polls, want all 24", n, polls)
	}
	if age := r.gauges(t, "smartassist_exporter_live_data_age_seconds")[""]; age < 60 || age > 90 {
		t.Errorf("oldest reading %vs old, want 75s (24 queues at 5 a poll, one poll for the list)", age)
	}
}

// TestLabelCaps: past SMARTASSIST_MAX_QUEUES / MAX_CHANNELS the extra
// queues and channels of a poll are shown together as "other", their
// counts summed (nothing lost), and the folded queues are counted.
func TestLabelCaps(t *testing.T) {
	r := newRig(t, simulator.LiveOptions{}, nil)
	c := r.collector(Options{MaxQueues: 2, MaxChannels: 2})
	if err := c.Poll(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := r.sim.LiveQueues(r.clock.Now())
	waiting := sumBy(r.gauges(t, "smartassist_queue_waiting"))
	// Sorted by name: Billing and Retention keep their label.
	if len(waiting) != 3 || waiting["Billing"] != float64(want["Billing"].Waiting) ||
		waiting["other"] != float64(want["Sales"].Waiting+want["Support"].Waiting) {
		t.Errorf("waiting by queue %v; want Billing %d, Retention %d, other %d", waiting,
			want["Billing"].Waiting, want["Retention"].Waiting, want["Sales"].Waiting+want["Support"].Waiting)
	}
	agents := r.gauges(t, "smartassist_queue_agents")
	if got, w := agents["other/busy"], want["Sales"].Agents["busy"]+want["Support"].Agents["busy"]; got != float64(w) {
		t.Errorf("other/busy = %v, want %d", got, w)
	}
	channels := map[string]bool{}
	for k := range r.gauges(t, "smartassist_queue_waiting") {
		channels[strings.Split(k, "/")[1]] = true
	}
	if len(channels) != 3 || !channels["other"] {
		t.Errorf("channels %v, want 2 kept and other", channels)
	}
	if n := r.gauges(t, "smartassist_exporter_live_queues_folded")[""]; n != 2 {
		t.Errorf("%v queues folded, want 2", n)
	}
}
