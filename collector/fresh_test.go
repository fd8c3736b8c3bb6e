package collector

import (
	"context"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/smartassist-exporter/smartassist_exporter/conversation"
	"github.com/smartassist-exporter/smartassist_exporter/simulator"
)

// clockSink remembers when, on the simulated clock, each conversation was
// counted (and how often), and the last open snapshot.
type clockSink struct {
	mu      sync.Mutex
	now     func() time.Time
	counted map[string]time.Time
	times   map[string]int
	open    int
}

func newClockSink(now func() time.Time) *clockSink {
	return &clockSink{now: now, counted: map[string]time.Time{}, times: map[string]int{}}
}

func (s *clockSink) Observe(c *conversation.Conversation) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.times[c.Key()]++
	if _, ok := s.counted[c.Key()]; !ok {
		s.counted[c.Key()] = s.now()
	}
}

func (s *clockSink) SetOpen(m map[string]int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.open = 0
	for _, n := range m {
		s.open += n
	}
}

func (s *clockSink) checkOnce(t *testing.T) {
	t.Helper()
	for k, n := range s.times {
		if n > 1 {
			t.Errorf("%s counted %d times", k, n)
		}
	}
}

// newFreshRig is the simulated platform (call details and the List of
// Conversations API over real HTTP) and a poller on its clock that the
// freshness tests were written against (seed 7).
func newFreshRig(t *testing.T, t0 time.Time, cfg PollerConfig, history func(*simulator.Server)) *recheckRig {
	t.Helper()
	return newSeededRig(t, 7, t0, cfg, history, nil)
}

// designate makes the conversations of cs (those with an id) long-open
// ones that end at the times given by end(i) and are reported finished
// delay(i) later.
func designate(sim *simulator.Server, cs []*simulator.Conversation, end func(i int) time.Time, delay func(i int) time.Duration) []*simulator.Conversation {
	var out []*simulator.Conversation
	sim.Update(func([]*simulator.Conversation) {
		for _, c := range cs {
			if c.ID == "" || c.Broken != "" {
				continue
			}
			i := len(out)
			c.OpenFrom = c.Start.Add(30 * time.Second)
			c.End = end(i)
			c.FinishedFrom = c.End.Add(delay(i))
			out = append(out, c)
		}
	})
	return out
}

// TestFreshnessOneSecondPolls: with 1 s polls and an ample budget, a
// conversation listed open that finishes is counted within 60 s of call
// details reporting it finished, whatever its start within a 3 h lookback
// (and whatever the reporting delay after the list shows it closed); the
// open gauge drops as soon as the list shows it closed; a record first
// reported 85–95 minutes after its start is counted within 5 minutes.
func TestFreshnessOneSecondPolls(t *testing.T) {
	if testing.Short() {
		t.Skip("1020 polls over HTTP (~20 s): not in -short")
	}
	t0 := time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC)
	var closers, late []*simulator.Conversation
	delays := []time.Duration{0, 20 * time.Second, 90 * time.Second, 4 * time.Minute, 11 * time.Minute}
	rig := newFreshRig(t, t0, PollerConfig{Interval: time.Second, Lookback: 3 * time.Hour, RecentWindow: DefaultRecentWindow},
		func(sim *simulator.Server) {
			sim.Generate(t0.Add(-4*time.Hour), t0, simulator.Profile{PerHour: 500})
			// Open at the first poll, ending over the next 5 minutes.
			closers = designate(sim, sim.Generate(t0.Add(-175*time.Minute), t0.Add(-5*time.Minute), simulator.Profile{PerHour: 15}),
				func(i int) time.Time { return t0.Add(time.Duration(10+11*i) * time.Second) },
				func(i int) time.Duration { return delays[i%len(delays)] })
			// Never listed open, first reported 85–95 minutes after start,
			// within the first 3 minutes.
			gen := sim.Generate(t0.Add(-95*time.Minute), t0.Add(-85*time.Minute), simulator.Profile{PerHour: 300})
			for _, c := range gen {
				if c.Broken == "" && c.ID != "" {
					late = append(late, c)
				}
			}
			sim.Update(func([]*simulator.Conversation) {
				for i, c := range late {
					c.OpenFrom = time.Time{}
					c.FinishedFrom = t0.Add(time.Duration(10+i*11) * time.Second)
					c.End = c.FinishedFrom.Add(-time.Second)
				}
			})
		})
	if len(closers) < 20 || len(late) < 8 {
		t.Fatalf("%d closers, %d late: too few to test", len(closers), len(late))
	}
	ctx := context.Background()
	end := t0.Add(17 * time.Minute)
	for i := 0; !rig.clock.Now().After(end); i++ {
		rig.p.Poll(ctx)
		now := rig.clock.Now()
		wantOpen := 0
		for _, c := range closers {
			if c.ListStatusAt(now) == "ACTIVE" {
				wantOpen++
			}
		}
		if i > 0 && rig.sink.open != wantOpen {
			t.Fatalf("%s: open gauge %d, but %d are still open in the List of Conversations API", now.Format(time.TimeOnly), rig.sink.open, wantOpen)
		}
		rig.clock.Advance(time.Second)
	}
	checked := 0
	for _, c := range closers {
		if c.FinishedFrom.After(end.Add(-time.Minute)) {
			continue
		}
		checked++
		at, ok := rig.sink.counted[c.Key()]
		if !ok {
			t.Errorf("%s (started %s before, reported finished at %s) not counted", c.Key(), t0.Sub(c.Start), c.FinishedFrom.Format(time.TimeOnly))
			continue
		}
		if lat := at.Sub(c.FinishedFrom); lat > 60*time.Second || lat < 0 {
			t.Errorf("%s (started %s before) counted %s after call details reported it finished", c.Key(), t0.Sub(c.Start), lat)
		}
	}
	if checked < 20 {
		t.Errorf("only %d closes reported within the test", checked)
	}
	for _, c := range late {
		at, ok := rig.sink.counted[c.Key()]
		if lat := at.Sub(c.FinishedFrom); !ok || lat > 5*time.Minute {
			t.Errorf("late record %s (started %s before it was reported) counted %v after, want within 5m", c.Key(), c.FinishedFrom.Sub(c.Start), lat)
		}
	}
	rig.sink.checkOnce(t)
	if up := testutil.ToFloat64(rig.p.metrics.openListAvailable); up != 1 {
		t.Errorf("open_list_available %v", up)
	}
}

// TestFreshnessWithoutList: where the List of Conversations API answers
// 404, known-open conversations are re-checked in narrow windows within a
// share of the budget; those that finish are counted within the first
// tier's period, exactly once, and the exporter says it is in the fallback.
func TestFreshnessWithoutList(t *testing.T) {
	t.Parallel() // independent rigs; the quick tier waits on the slowest of them
	t0 := time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC)
	var closers []*simulator.Conversation
	// The budget's planning share of 50 a minute; the limiter itself is
	// ample, since the test's clock is simulated.
	rig := newFreshRig(t, t0, PollerConfig{Interval: time.Minute, Lookback: 2 * time.Hour, RecentWindow: DefaultRecentWindow, RequestsPerPoll: 40},
		func(sim *simulator.Server) {
			sim.SetListDisabled(true)
			sim.Generate(t0.Add(-3*time.Hour), t0, simulator.Profile{PerHour: 600})
			closers = designate(sim, sim.Generate(t0.Add(-110*time.Minute), t0.Add(-10*time.Minute), simulator.Profile{PerHour: 20}),
				func(i int) time.Time { return t0.Add(time.Duration(1+i%10) * time.Minute) },
				func(i int) time.Duration { return time.Duration(i%3) * time.Minute })
		})
	if len(closers) < 10 {
		t.Fatalf("%d closers: too few", len(closers))
	}
	ctx := context.Background()
	narrow := 0
	for i := 0; i <= 20; i++ {
		r := rig.p.Poll(ctx)
		narrow += r.CloseRequests
		if r.ListRequests > 1 {
			t.Errorf("poll %d: %d list requests against an absent API", i, r.ListRequests)
		}
		rig.clock.Advance(time.Minute)
	}
	for _, c := range closers {
		at, ok := rig.sink.counted[c.Key()]
		if lat := at.Sub(c.FinishedFrom); !ok || lat > 5*time.Minute {
			t.Errorf("%s (started %s before) counted %v after call details reported it finished (counted: %v)", c.Key(), t0.Sub(c.Start), lat, ok)
		}
	}
	if narrow == 0 {
		t.Error("no narrow re-checks in the fallback")
	}
	if up := testutil.ToFloat64(rig.p.metrics.openListAvailable); up != 0 {
		t.Errorf("open_list_available %v in the fallback", up)
	}
	if n := rig.sim.ListRequests(); n != 0 {
		t.Errorf("%d list requests answered 200 by a disabled API", n)
	}
	rig.sink.checkOnce(t)
}

// newSimServer serves sim on loopback for the test's duration.
func newSimServer(t *testing.T, sim *simulator.Server) string {
	t.Helper()
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestCloseReadByTierNeedsNoNarrowRead: a closing conversation whose start a
// tier step of the same poll has read completely costs no narrow re-read of
// its own (it counts as an attempt, re-read again after the usual wait); one
// outside what the tiers read is re-read narrowly.
func TestCloseReadByTierNeedsNoNarrowRead(t *testing.T) {
	t0 := time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC)
	rig := newRig(t, t0, 0)
	state := openTestState(t, filepath.Join(t.TempDir(), "state.db"))
	p := rig.poller(t, state, &countingSink{})
	headFrom := t0.Add(-3 * time.Minute)
	covered, uncovered := t0.Add(-40*time.Minute), t0.Add(-90*time.Minute)
	p.fresh.tierRead = []Window{{Start: t0.Add(-50 * time.Minute), End: t0.Add(-30 * time.Minute)}}
	p.fresh.closing["c-covered"] = &closing{start: covered, seen: t0.Add(-time.Minute), next: t0}
	p.fresh.closing["c-uncovered"] = &closing{start: uncovered, seen: t0.Add(-time.Minute), next: t0}
	watched := []Entry{{Key: "c-covered", Start: covered}, {Key: "c-uncovered", Start: uncovered}}
	if n := p.closesDue(t0, headFrom); n != 2 {
		t.Fatalf("closesDue = %d, want 2", n)
	}
	res := p.closeStep(context.Background(), t0, t0.Add(-2*time.Hour), watched, headFrom, 10)
	if res.requests != 1 {
		t.Errorf("%d narrow requests, want 1 (only the close the tiers did not read)", res.requests)
	}
	for _, k := range []string{"c-covered", "c-uncovered"} {
		c := p.fresh.closing[k]
		if c.attempts != 1 || !c.next.After(t0) {
			t.Errorf("%s: attempts %d, next %v: want one attempt and a later re-read", k, c.attempts, c.next)
		}
	}
}
