package live

import (
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smartassist-exporter/smartassist_exporter/collector"
	"github.com/smartassist-exporter/smartassist_exporter/conversation"
	"github.com/smartassist-exporter/smartassist_exporter/simulator"
)

// countingSink counts how often each conversation was observed.
type countingSink struct {
	mu       sync.Mutex
	observed map[string]int
}

func (s *countingSink) Observe(c *conversation.Conversation) {
	s.mu.Lock()
	s.observed[c.Key()]++
	s.mu.Unlock()
}

func (s *countingSink) SetOpen(map[string]int) {}

func isLive(r *http.Request) bool {
	return strings.HasSuffix(r.URL.Path, "/queue-performance") || strings.Contains(r.URL.Path, "/monitor/") || strings.HasSuffix(r.URL.Path, "/queues")
}

func (r *rig) callDetails(t *testing.T, sink collector.Sink) *collector.Poller {
	t.Helper()
	state, err := collector.OpenState(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { state.Close() })
	return collector.New(collector.Options{
		Upstream: r.up,
		Client:   collector.ClientConfig{AccountID: "acc", StreamID: "st", Endpoint: "calldetails"},
		State:    state, Sink: sink, Registerer: r.reg, Log: r.logger(), Now: r.clock.Now,
		Poll: collector.PollerConfig{Interval: time.Minute, Lookback: 2 * time.Hour, RecentWindow: 30 * time.Minute},
	})
}

// TestLive429DoesNotStarveCallDetails: the platform refuses every live
// request with 429 while the live collector polls on its own interval; the
// call-details collector on the same upstream client and budget still
// counts every finished conversation exactly once, and the live collector
// sends one request per poll (no retries piling up).
func TestLive429DoesNotStarveCallDetails(t *testing.T) {
	r := newRig(t, simulator.LiveOptions{}, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			if isLive(req) {
				w.Header().Set("Retry-After", "30")
				http.Error(w, `{"errors":[{"msg":"You've exceeded the per-minute rate limit. Please wait for sometime before retrying."}]}`, http.StatusTooManyRequests)
				return
			}
			h.ServeHTTP(w, req)
		})
	})
	r.up = r.upstream(t, 1200) // 20/s: the test takes a few seconds of real time
	c := r.collector(Options{Interval: 100 * time.Millisecond})
	sink := &countingSink{observed: map[string]int{}}
	p := r.callDetails(t, sink)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); c.Run(ctx) }()
	var res collector.PollResult
	for range 5 {
		if res = p.Poll(context.Background()); res.Complete {
			break
		}
	}
	cancel()
	<-done
	if !res.Complete {
		t.Fatalf("call details never completed a poll: %+v", res)
	}
	finished, _ := r.sim.Visible(r.clock.Now(), r.clock.Now().Add(-2*time.Hour), r.clock.Now())
	if len(finished) == 0 {
		t.Fatal("nothing finished to count")
	}
	for _, conv := range finished {
		if n := sink.observed[conv.Key()]; n != 1 {
			t.Errorf("%s observed %d times, want once", conv.Key(), n)
		}
	}
	polls := counterValueLabeled(t, r, "smartassist_exporter_live_polls_total", "error")
	if polls < 2 {
		t.Errorf("%v failed live polls while call details ran; the live loop should have kept polling", polls)
	}
	// The last poll may have been cut by the cancel before it sent.
	if n := r.requests(EndpointQueuePerformance); n > polls || n < polls-1 {
		t.Errorf("%v live requests for %v polls: a refused live request must not be retried", n, polls)
	}
	if up := r.gauges(t, "smartassist_live_up")[""]; up != 0 {
		t.Errorf("live_up %v while every live request is refused", up)
	}
}

// TestBusyCallDetailsDoNotStarveLive: a call-details backfill that keeps
// the budget saturated (and meets 429s on a third of its requests) does
// not hold the live polls back: each live poll waits at most about one
// budget slot (the backfill holds at most one reservation at a time, and
// live requests go before normal ones that have not reserved yet).
func TestBusyCallDetailsDoNotStarveLive(t *testing.T) {
	var n atomic.Int64
	r := newRig(t, simulator.LiveOptions{}, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			if !isLive(req) && n.Add(1)%3 == 0 {
				w.Header().Set("Retry-After", "1")
				http.Error(w, `{"errors":[{"msg":"rate limit"}]}`, http.StatusTooManyRequests)
				return
			}
			h.ServeHTTP(w, req)
		})
	})
	r.sim.Generate(r.clock.Now().Add(-2*time.Hour), r.clock.Now(), simulator.Profile{PerHour: 3000})
	r.up = r.upstream(t, 120) // 2 requests a second, a bucket of 5
	c := r.collector(Options{Interval: time.Second})
	sink := &countingSink{observed: map[string]int{}}
	p := r.callDetails(t, sink)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); p.Poll(ctx) }()
	time.Sleep(1500 * time.Millisecond) // let the backfill drain the bucket
	before := n.Load()
	for i := range 4 {
		began := time.Now()
		if err := c.Poll(context.Background()); err != nil {
			t.Fatalf("live poll %d: %v", i, err)
		}
		// One slot is 0.5s; allow for a slow, shared machine.
		if took := time.Since(began); took > 2*time.Second {
			t.Errorf("live poll %d took %s behind the call-details backfill", i, took)
		}
	}
	during := n.Load() - before
	cancel()
	<-done
	if during == 0 {
		t.Error("the call-details backfill was not running during the live polls: the test proves nothing")
	}
	if up := r.gauges(t, "smartassist_live_up")[""]; up != 1 {
		t.Errorf("live_up %v", up)
	}
}

func counterValueLabeled(t *testing.T, r *rig, name, value string) float64 {
	t.Helper()
	mfs, err := r.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if labelKey(m) == value {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}
