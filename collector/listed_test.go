package collector

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/smartassist-exporter/smartassist_exporter/conversation"
	"github.com/smartassist-exporter/smartassist_exporter/internal/testkit"
	"github.com/smartassist-exporter/smartassist_exporter/openlist"
	"github.com/smartassist-exporter/smartassist_exporter/simulator"
)

// recheckRig is a simulated platform and a poller on its clock, built from
// options the test may adjust (a recording page source, a fake list).
type recheckRig struct {
	clock *testkit.Clock
	sim   *simulator.Server
	p     *Poller
	sink  *clockSink
	log   *testkit.SyncBuffer
}

func newRecheckRig(t *testing.T, t0 time.Time, cfg PollerConfig, history func(*simulator.Server), adjust func(*Options)) *recheckRig {
	t.Helper()
	return newSeededRig(t, 11, t0, cfg, history, adjust)
}

// newSeededRig is newRecheckRig with the simulator's seed given.
func newSeededRig(t *testing.T, seed uint64, t0 time.Time, cfg PollerConfig, history func(*simulator.Server), adjust func(*Options)) *recheckRig {
	t.Helper()
	clock := testkit.NewClock(t0)
	sim := simulator.New(simulator.Options{AccountID: "acc", StreamID: "st", ClientID: "cs-1", ClientSecret: "secret", Seed: seed, Now: clock.Now})
	history(sim)
	url := newSimServer(t, sim)
	state := openTestState(t, filepath.Join(t.TempDir(), "state.db"))
	t.Cleanup(func() { state.Close() })
	r := &recheckRig{clock: clock, sim: sim, sink: newClockSink(clock.Now), log: &testkit.SyncBuffer{}}
	reg := prometheus.NewRegistry()
	o := Options{
		Upstream: newTestUpstream(t, url, reg, clock.Now, 60000),
		Client:   ClientConfig{AccountID: "acc", StreamID: "st", Endpoint: "calldetails"},
		State:    state, Sink: r.sink, Registerer: reg, Poll: cfg, Now: clock.Now, UseOpenList: true,
		Log: slog.New(slog.NewTextHandler(r.log, &slog.HandlerOptions{Level: slog.LevelInfo})),
	}
	if adjust != nil {
		adjust(&o)
	}
	r.p = New(o)
	return r
}

// TestListedOnlyClosesCounted: conversations call details never shows open
// (most are first reported finished) but the List of Conversations API
// lists while they last are followed by their start from the list: when
// the list stops showing one, its record is looked for, so it is counted
// within 5 minutes of call details reporting it — with a reporting delay
// of up to 12 minutes, and for records reported 90 minutes after their
// start — though the 2h tier re-reads only hourly.
func TestListedOnlyClosesCounted(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC)
	var listed []*simulator.Conversation
	delays := []time.Duration{0, 30 * time.Second, 3 * time.Minute, 12 * time.Minute}
	rig := newRecheckRig(t, t0, PollerConfig{Interval: time.Minute, Lookback: 2 * time.Hour, RecentWindow: DefaultRecentWindow, RequestsPerPoll: 40},
		func(sim *simulator.Server) {
			sim.Generate(t0.Add(-3*time.Hour), t0, simulator.Profile{PerHour: 300})
			cs := sim.Generate(t0.Add(-100*time.Minute), t0.Add(-40*time.Minute), simulator.Profile{PerHour: 30})
			sim.Update(func([]*simulator.Conversation) {
				for _, c := range cs {
					if c.ID == "" || c.Broken != "" {
						continue
					}
					i := len(listed)
					c.OpenFrom = time.Time{} // never open in call details
					c.End = t0.Add(time.Duration(2+i%20) * time.Minute)
					c.FinishedFrom = c.End.Add(delays[i%len(delays)])
					if i%5 == 4 { // reported 90 minutes after its start, at the earliest
						c.FinishedFrom = maxTime(c.FinishedFrom, c.Start.Add(90*time.Minute))
					}
					listed = append(listed, c)
				}
			})
		}, nil)
	if len(listed) < 15 {
		t.Fatalf("%d listed-only conversations: too few", len(listed))
	}
	ctx := context.Background()
	for range 45 {
		rig.p.Poll(ctx)
		rig.clock.Advance(time.Minute)
	}
	for _, c := range listed {
		at, ok := rig.sink.counted[c.Key()]
		if !ok {
			t.Errorf("%s (started %s before its end, reported %s after it) not counted", c.Key(), c.End.Sub(c.Start), c.FinishedFrom.Sub(c.End))
			continue
		}
		if lat := at.Sub(c.FinishedFrom); lat > lateCheck || lat < 0 {
			t.Errorf("%s (started %s before it was reported) counted %s after call details reported it, want within %s", c.Key(), c.FinishedFrom.Sub(c.Start), lat, lateCheck)
		}
	}
	rig.sink.checkOnce(t)
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// fakeLister lists ids that call details never reports: a platform whose
// list ids are not call details' conversationIds.
type fakeLister struct {
	now  func() time.Time
	mu   sync.Mutex
	next int
}

func (l *fakeLister) ListOpen(context.Context) (openlist.Listing, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	// Five new ids a listing, each listed once: every one closes at the
	// next listing, started 40 minutes earlier.
	out := openlist.Listing{Open: map[string]time.Time{}, Requests: 1}
	for range 5 {
		l.next++
		out.Open[fmt.Sprintf("c-not-in-call-details-%d", l.next)] = l.now().Add(-40 * time.Minute)
	}
	return out, nil
}

// TestListedOnlyGivenUpWhenNeverFound: when none of the conversations known
// from the list alone turns up in call details within the reporting delay
// (the list's ids are not call details' conversationIds), the exporter
// warns once and stops looking for them, instead of spending narrow
// re-reads on each for two hours.
func TestListedOnlyGivenUpWhenNeverFound(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC)
	var lister *fakeLister
	rig := newRecheckRig(t, t0, PollerConfig{Interval: time.Minute, Lookback: 2 * time.Hour, RecentWindow: DefaultRecentWindow, RequestsPerPoll: 40},
		func(sim *simulator.Server) { sim.Generate(t0.Add(-3*time.Hour), t0, simulator.Profile{PerHour: 300}) },
		func(o *Options) {
			lister = &fakeLister{now: o.Now}
			o.OpenList = lister
		})
	ctx := context.Background()
	narrowBefore, narrowAfter := 0, 0
	for i := range 50 {
		r := rig.p.Poll(ctx)
		if i < 20 {
			narrowBefore += r.CloseRequests
		} else if i >= 30 {
			narrowAfter += r.CloseRequests
		}
		rig.clock.Advance(time.Minute)
	}
	if narrowBefore == 0 {
		t.Fatal("no narrow re-reads at all: the listed-only conversations were not followed")
	}
	if n := strings.Count(rig.log.String(), "ids may not be call details' conversationIds"); n != 1 {
		t.Errorf("the warning was logged %d times, want once; log:\n%s", n, rig.log.String())
	}
	if narrowAfter != 0 {
		t.Errorf("%d narrow re-reads after giving up (before: %d)", narrowAfter, narrowBefore)
	}
}

// TestCloseCoverage: at 1 m polls the 30m tier is read whole every two polls,
// so a close whose start it holds needs no narrow window; older starts do.
// At 1 s polls the 30m tier's period (a minute) is many polls: it rolls, and
// closes anywhere are read narrowly.
func TestCloseCoverage(t *testing.T) {
	t0 := time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		interval time.Duration
		age      time.Duration
		covered  bool
	}{
		{time.Minute, 10 * time.Minute, true},
		{time.Minute, 29 * time.Minute, true},
		{time.Minute, 31 * time.Minute, false},
		{time.Minute, 90 * time.Minute, false},
		{time.Second, 10 * time.Minute, false},
		{time.Second, 2 * time.Minute, true}, // the head's
	} {
		p := &Poller{cfg: PollerConfig{Interval: tc.interval}}
		p.fresh = newFreshness(DefaultTiers, tc.interval, 2*time.Hour, &fakeLister{now: func() time.Time { return t0 }}, t0)
		headFrom := t0.Add(-DefaultRecentWindow - tc.interval)
		if got := p.closeCovered(t0, headFrom, t0.Add(-tc.age)); got != tc.covered {
			t.Errorf("%s polls, start %s old: covered %v, want %v", tc.interval, tc.age, got, tc.covered)
		}
	}
}

// recordingPages records every window read, with the time it was read.
type recordingPages struct {
	PageSource
	now   func() time.Time
	mu    sync.Mutex
	reads []windowRead
}

type windowRead struct {
	at time.Time
	w  Window
}

func (r *recordingPages) FetchPage(ctx context.Context, w Window, page int) (conversation.Page, error) {
	r.mu.Lock()
	r.reads = append(r.reads, windowRead{r.now(), w})
	r.mu.Unlock()
	return r.PageSource.FetchPage(ctx, w, page)
}

// TestTiersKeepTheirPeriod: over four hours of 1 m polls, every start of the
// 2h tier's range (30 min – 2 h old) is read again within the tier's
// period, and every start of the 30m tier's range within two polls. A
// rolling pass reads newest first, so a start has aged when the next pass
// comes to it; the pass is paced to absorb that.
func TestTiersKeepTheirPeriod(t *testing.T) {
	if testing.Short() {
		t.Skip("240 polls over HTTP: not in -short")
	}
	t.Parallel()
	t0 := time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC)
	var rec *recordingPages
	profile := simulator.Profile{PerHour: 1000}
	rig := newRecheckRig(t, t0, PollerConfig{Interval: time.Minute, Lookback: 2 * time.Hour, RecentWindow: DefaultRecentWindow, RequestsPerPoll: 40},
		func(sim *simulator.Server) { sim.Generate(t0.Add(-3*time.Hour), t0, profile) },
		func(o *Options) {
			rec = &recordingPages{PageSource: NewClient(o.Client, o.Upstream), now: o.Now}
			o.Pages = rec
		})
	ctx := context.Background()
	const polls = 240
	for range polls {
		before := rig.clock.Now()
		rig.p.Poll(ctx)
		rig.clock.Advance(time.Minute)
		rig.sim.Generate(before, rig.clock.Now(), profile)
	}
	// Starts every 7 s across what the run covers; for each, the times a
	// read window held it.
	tier2h := DefaultTiers[1]
	checked := 0
	for s := t0.Add(-2 * time.Hour); s.Before(t0.Add(polls * time.Minute)); s = s.Add(7 * time.Second) {
		var last time.Time
		for _, r := range rec.reads {
			if !r.w.Contains(s) {
				continue
			}
			age := r.at.Sub(s)
			// From its first read after the backfill's first hour (passes
			// then run on schedule) while the start is in the tiers' care.
			if !last.IsZero() && r.at.After(t0.Add(time.Hour)) && age < tier2h.MaxAge {
				gap := r.at.Sub(last)
				bound := tier2h.Period
				if age <= DefaultTiers[0].MaxAge {
					bound = 2 * time.Minute
				}
				if gap > bound {
					t.Errorf("start %s: read at %s (aged %s) and not again until %s: %s > %s",
						s.Format(time.TimeOnly), last.Format(time.TimeOnly), last.Sub(s), r.at.Format(time.TimeOnly), gap, bound)
				}
				checked++
			}
			last = r.at
		}
	}
	if checked < 1000 {
		t.Errorf("only %d re-reads checked", checked)
	}
}

// TestListingCadence: at 1 m polls the list is read every other poll (a
// close is still counted within two polls: its start is read in the poll
// that sees it); at 1 s polls, where closes are promised within a minute,
// every poll, so that the open gauge follows the list at once.
func TestListingCadence(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		interval time.Duration
		want     int
	}{{time.Minute, 10}, {time.Second, 20}} {
		rig := newRecheckRig(t, t0, PollerConfig{Interval: tc.interval, Lookback: 2 * time.Hour, RecentWindow: DefaultRecentWindow, RequestsPerPoll: 40},
			func(sim *simulator.Server) { sim.Generate(t0.Add(-3*time.Hour), t0, simulator.Profile{PerHour: 300}) }, nil)
		rig.p.Poll(context.Background()) // the backfill: no listing
		for range 20 {
			rig.clock.Advance(tc.interval)
			rig.p.Poll(context.Background())
		}
		if got := rig.sim.ListRequests(); got != tc.want {
			t.Errorf("%s polls: %d listings in 20 polls, want %d", tc.interval, got, tc.want)
		}
	}
}
