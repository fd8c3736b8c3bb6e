package collector

import (
	"context"
	"testing"
	"time"

	"github.com/smartassist-exporter/smartassist_exporter/openlist"
	"github.com/smartassist-exporter/smartassist_exporter/simulator"
)

// shiftedLister is the real list with every start moved: a platform whose
// list gives a start that is not call details' sessionStartTime to the
// second (its startTime, the queue entry, comes after the session start).
type shiftedLister struct {
	OpenLister
	by time.Duration
}

func (l shiftedLister) ListOpen(ctx context.Context) (openlist.Listing, error) {
	out, err := l.OpenLister.ListOpen(ctx)
	for id, s := range out.Open {
		out.Open[id] = s.Add(l.by)
	}
	return out, err
}

// TestListedOnlyStartSlack: a conversation known from the list alone whose
// listed start is up to a minute after call details' (or a second or two
// before) is still found by its narrow window, which reaches back
// listSlackBefore; one listed 5 minutes off is not. The 2h tier is made
// too slow to count any of them within the test.
func TestListedOnlyStartSlack(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		shift time.Duration
		found bool // within lateCheck of being reported
	}{{0, true}, {time.Second, true}, {45 * time.Second, true}, {-2 * time.Second, true}, {5 * time.Minute, false}} {
		var listed []*simulator.Conversation
		slowTiers := []Tier{{Name: "30m", MaxAge: 30 * time.Minute}, {Name: "2h", MaxAge: 2 * time.Hour, Period: 24 * time.Hour}}
		rig := newRecheckRig(t, t0, PollerConfig{Interval: time.Minute, Lookback: 2 * time.Hour, RecentWindow: DefaultRecentWindow, RequestsPerPoll: 40, Tiers: slowTiers},
			func(sim *simulator.Server) {
				// Background traffic: narrow windows a few minutes wide.
				sim.Generate(t0.Add(-3*time.Hour), t0, simulator.Profile{PerHour: 1000})
				cs := sim.Generate(t0.Add(-100*time.Minute), t0.Add(-40*time.Minute), simulator.Profile{PerHour: 30})
				sim.Update(func([]*simulator.Conversation) {
					for _, c := range cs {
						if c.ID == "" || c.Broken != "" {
							continue
						}
						c.OpenFrom = time.Time{}
						c.End = t0.Add(time.Duration(2+len(listed)%10) * time.Minute)
						c.FinishedFrom = c.End.Add(30 * time.Second)
						listed = append(listed, c)
					}
				})
			},
			func(o *Options) {
				o.OpenList = shiftedLister{OpenLister: openlist.New(openlist.Config{StreamID: "st"}, o.Upstream), by: tc.shift}
			})
		for range 20 {
			rig.p.Poll(context.Background())
			rig.clock.Advance(time.Minute)
		}
		late := 0
		for _, c := range listed {
			at, ok := rig.sink.counted[c.Key()]
			if !ok || at.Sub(c.FinishedFrom) > lateCheck {
				late++
			}
		}
		if tc.found && late > 0 {
			t.Errorf("listed start %s off: %d of %d not counted within %s", tc.shift, late, len(listed), lateCheck)
		}
		if !tc.found && late == 0 {
			t.Errorf("listed start %s off: all %d counted within %s, though none could be found by its listed start", tc.shift, len(listed), lateCheck)
		}
		rig.sink.checkOnce(t)
	}
}
