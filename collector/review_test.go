package collector

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smartassist-exporter/smartassist_exporter/openlist"
	"github.com/smartassist-exporter/smartassist_exporter/simulator"
)

// The tests of this file pin what a review of the re-reading by value found:
// each failed on the code before its fix.

// TestLateRecordsNeverListedNotLost: bot-only sessions (never listed) first
// reported 100 minutes after their start, at the default 2 h lookback with
// the 2h tier hourly, are all counted: the tier reads one period past the
// lookback, so none leaves it between two passes.
func TestLateRecordsNeverListedNotLost(t *testing.T) {
	if testing.Short() {
		t.Skip("five simulated hours over HTTP: not in -short")
	}
	t.Parallel()
	t0 := time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC)
	var late []*simulator.Conversation
	rig := newRecheckRig(t, t0, PollerConfig{Interval: time.Minute, Lookback: 2 * time.Hour, RecentWindow: DefaultRecentWindow, RequestsPerPoll: 40},
		func(sim *simulator.Server) {
			sim.Generate(t0.Add(-3*time.Hour), t0, simulator.Profile{PerHour: 1000, OpenShare: 0.5})
			cs := sim.Generate(t0, t0.Add(4*time.Hour), simulator.Profile{PerHour: 1000, OpenShare: 0.5})
			sim.Update(func([]*simulator.Conversation) {
				for _, c := range cs {
					if c.ID != "" || c.Broken != "" || c.Start.Before(t0.Add(time.Hour)) || c.Start.After(t0.Add(2*time.Hour)) {
						continue
					}
					c.FinishedFrom = c.Start.Add(100 * time.Minute) // within the lookback
					late = append(late, c)
				}
			})
		}, nil)
	if len(late) < 100 {
		t.Fatalf("%d late bot-only sessions: too few", len(late))
	}
	for range 5 * 60 {
		rig.p.Poll(context.Background())
		rig.clock.Advance(time.Minute)
	}
	if p := rig.p.fresh.periodNow(rig.p.fresh.tiers[1]); p != time.Hour {
		t.Fatalf("the 2h tier runs every %s, not hourly: the test does not test the long period", p)
	}
	missed := 0
	for _, c := range late {
		if _, ok := rig.sink.counted[c.Key()]; !ok {
			missed++
		}
	}
	if missed > 0 {
		t.Errorf("%d of %d bot-only records reported 100 minutes after their start were never counted", missed, len(late))
	}
	rig.sink.checkOnce(t)
}

// failingLister is a list that fails (not with 404) while fail is set,
// after pages requests (a listing of several pages failing on its last).
type failingLister struct {
	OpenLister
	fail  *atomic.Bool
	pages int
}

func (l failingLister) ListOpen(ctx context.Context) (openlist.Listing, error) {
	if l.fail.Load() {
		return openlist.Listing{Requests: max(l.pages, 1)}, fmt.Errorf("listing open conversations, page %d: upstream answered 500", max(l.pages, 1)-1)
	}
	return l.OpenLister.ListOpen(ctx)
}

// TestListFailingFallsBack: a list that answered, then fails with 500s for
// hours, is taken as broken after a few listings: known-open conversations
// are re-checked in narrow windows and the tiers run at their periods
// without the list, so the conversations that close meanwhile, 60–110
// minutes after their start, are all counted; when it answers again, the
// list is used again. One warning each way, not one a listing.
func TestListFailingFallsBack(t *testing.T) {
	if testing.Short() {
		t.Skip("six simulated hours over HTTP: not in -short")
	}
	t.Parallel()
	t0 := time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC)
	fail := &atomic.Bool{}
	var watched []*simulator.Conversation
	rig := newRecheckRig(t, t0, PollerConfig{Interval: time.Minute, Lookback: 2 * time.Hour, RecentWindow: DefaultRecentWindow, RequestsPerPoll: 40},
		func(sim *simulator.Server) {
			sim.Generate(t0.Add(-3*time.Hour), t0.Add(6*time.Hour), simulator.Profile{PerHour: 300})
			cs := sim.Generate(t0.Add(2*time.Hour), t0.Add(3*time.Hour), simulator.Profile{PerHour: 60})
			sim.Update(func([]*simulator.Conversation) {
				for i, c := range cs {
					if c.ID == "" || c.Broken != "" {
						continue
					}
					c.OpenFrom = c.Start.Add(30 * time.Second)
					c.End = c.Start.Add(time.Duration(60+i%50) * time.Minute)
					c.FinishedFrom = c.End.Add(time.Minute)
					watched = append(watched, c)
				}
			})
		},
		func(o *Options) {
			o.OpenList = failingLister{OpenLister: openlist.New(openlist.Config{StreamID: "st"}, o.Upstream), fail: fail}
		})
	ctx := context.Background()
	for i := range 6 * 60 {
		switch i {
		case 2 * 60:
			fail.Store(true)
		case 2*60 + 30:
			if p := rig.p.fresh.periodNow(rig.p.fresh.tiers[1]); p != 5*time.Minute {
				t.Errorf("half an hour into the failures the 2h tier runs every %s, want 5m", p)
			}
		case 5 * 60:
			fail.Store(false)
		}
		rig.p.Poll(ctx)
		rig.clock.Advance(time.Minute)
	}
	missed := 0
	for _, c := range watched {
		if _, ok := rig.sink.counted[c.Key()]; !ok {
			missed++
		}
	}
	if missed > 0 {
		t.Errorf("%d of %d known-open conversations that closed while the list failed were never counted", missed, len(watched))
	}
	logs := rig.log.String()
	if n := strings.Count(logs, "has kept failing"); n != 1 {
		t.Errorf("the fallback was logged %d times, want once", n)
	}
	if n := strings.Count(logs, "succeeds again"); n != 1 {
		t.Errorf("the return was logged %d times, want once", n)
	}
	if n := strings.Count(logs, "listing open conversations failed;"); n != 1 {
		t.Errorf("the failing listings were warned about %d times, want once", n)
	}
	rig.sink.checkOnce(t)
}

// TestStuckCloseLeftToTheTiers: a conversation the list shows closed that
// call details keeps reporting open is followed for closeFollowUp, then
// left to the tiers — not taken up again at the next listing, for ever.
func TestStuckCloseLeftToTheTiers(t *testing.T) {
	if testing.Short() {
		t.Skip("five simulated hours over HTTP: not in -short")
	}
	t.Parallel()
	t0 := time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC)
	var stuck []*simulator.Conversation
	rig := newRecheckRig(t, t0, PollerConfig{Interval: time.Minute, Lookback: 12 * time.Hour, RecentWindow: DefaultRecentWindow, RequestsPerPoll: 40},
		func(sim *simulator.Server) {
			sim.Generate(t0.Add(-13*time.Hour), t0, simulator.Profile{PerHour: 60})
			cs := sim.Generate(t0.Add(-150*time.Minute), t0.Add(-140*time.Minute), simulator.Profile{PerHour: 30})
			sim.Update(func([]*simulator.Conversation) {
				for _, c := range cs {
					if c.ID == "" || c.Broken != "" || len(stuck) == 3 {
						continue
					}
					c.OpenFrom = c.Start
					c.End = t0.Add(2 * time.Minute)
					c.FinishedFrom = t0.Add(100 * time.Hour) // call details: open for days
					stuck = append(stuck, c)
				}
			})
		}, nil)
	if len(stuck) == 0 {
		t.Fatal("no stuck conversations")
	}
	late := 0
	for i := range 5 * 60 {
		r := rig.p.Poll(context.Background())
		if i >= int(closeFollowUp/time.Minute)+10 {
			late += r.CloseRequests
		}
		rig.clock.Advance(time.Minute)
	}
	if late > 0 {
		t.Errorf("%d narrow re-reads after the follow-up of the stuck conversations ended", late)
	}
	for _, c := range stuck {
		if _, ok := rig.p.fresh.closing[c.Key()]; ok {
			t.Errorf("%s still followed after %s", c.Key(), 5*time.Hour)
		}
	}
}

// TestRestartFindsWhatClosedBefore: conversations known from the list alone
// that closed just before a restart (the list's memory is gone) and are
// reported 10 minutes after it are counted.
func TestRestartFindsWhatClosedBefore(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC)
	restart := t0.Add(time.Hour)
	var listed []*simulator.Conversation
	rig := newRecheckRig(t, t0, PollerConfig{Interval: time.Minute, Lookback: 2 * time.Hour, RecentWindow: DefaultRecentWindow, RequestsPerPoll: 40},
		func(sim *simulator.Server) {
			sim.Generate(t0.Add(-3*time.Hour), t0.Add(3*time.Hour), simulator.Profile{PerHour: 300})
			cs := sim.Generate(restart.Add(-75*time.Minute), restart.Add(-65*time.Minute), simulator.Profile{PerHour: 60})
			sim.Update(func([]*simulator.Conversation) {
				for _, c := range cs {
					if c.ID == "" || c.Broken != "" {
						continue
					}
					c.OpenFrom = time.Time{}
					c.End = restart.Add(-30 * time.Second)
					c.FinishedFrom = restart.Add(10 * time.Minute)
					listed = append(listed, c)
				}
			})
		}, nil)
	if len(listed) < 3 {
		t.Fatalf("%d listed conversations: too few", len(listed))
	}
	for range 150 {
		if rig.clock.Now().Equal(restart) { // what a restart loses: the re-reading state
			p := rig.p
			p.fresh = newFreshness(DefaultTiers, p.cfg.Interval, p.cfg.Lookback, p.fresh.lister, rig.clock.Now())
		}
		rig.p.Poll(context.Background())
		rig.clock.Advance(time.Minute)
	}
	for _, c := range listed {
		if _, ok := rig.sink.counted[c.Key()]; !ok {
			t.Errorf("%s, closed just before the restart and reported 10 minutes after it, never counted", c.Key())
		}
	}
	rig.sink.checkOnce(t)
}
