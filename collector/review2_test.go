package collector

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/smartassist-exporter/smartassist_exporter/conversation"
	"github.com/smartassist-exporter/smartassist_exporter/openlist"
	"github.com/smartassist-exporter/smartassist_exporter/simulator"
)

// The tests of this file come from a second review. TestListBrokenDoesNotFlap
// failed on the code before its fix; TestMergedScanFailureStillReads30m
// guards the path a failed merged scan takes (its records are in the 30m
// tier's own range at the failing poll and in no later due read's);
// TestStateCountsStayTrue guards the state's counts under starts a second
// off near hour edges.

// TestListBrokenDoesNotFlap: a list whose listings of several pages keep
// failing is taken as broken once, and not back until a listing succeeds —
// though how long it may fail before that depends on the listing's
// spacing, which changes between listings.
func TestListBrokenDoesNotFlap(t *testing.T) {
	t0 := time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC)
	fail := &atomic.Bool{}
	rig := newRecheckRig(t, t0, PollerConfig{Interval: time.Minute, Lookback: 2 * time.Hour, RecentWindow: DefaultRecentWindow, RequestsPerPoll: 40},
		func(sim *simulator.Server) {
			sim.Generate(t0.Add(-3*time.Hour), t0.Add(3*time.Hour), simulator.Profile{PerHour: 300})
		},
		func(o *Options) {
			o.OpenList = failingLister{OpenLister: openlist.New(openlist.Config{StreamID: "st"}, o.Upstream), fail: fail, pages: 8}
		})
	ctx := context.Background()
	var trace []string
	for i := range 60 {
		if i == 10 {
			fail.Store(true)
		}
		rig.p.Poll(ctx)
		f := rig.p.fresh
		trace = append(trace, fmt.Sprintf("poll %d: listWait=%d failingFor=%v stale=%v broken=%v", i, f.listWait, func() time.Duration {
			if f.listFailing.IsZero() {
				return 0
			}
			return rig.clock.Now().Sub(f.listFailing)
		}(), rig.p.listStale(), f.listBroken))
		rig.clock.Advance(time.Minute)
	}
	logs := rig.log.String()
	nw, ns := strings.Count(logs, "has kept failing"), strings.Count(logs, "succeeds again")
	if nw != 1 || ns != 0 {
		for _, l := range trace[8:30] {
			t.Log(l)
		}
		t.Errorf("list failing without a single success: fallback warned %d times, 'succeeds again' logged %d times", nw, ns)
	}
}

// failPages fails every window starting before now-10m while on is set.
type failPages struct {
	PageSource
	on  *atomic.Bool
	now func() time.Time
}

func (f failPages) FetchPage(ctx context.Context, w Window, page int) (conversation.Page, error) {
	if f.on.Load() && w.Start.Before(f.now().Add(-10*time.Minute)) {
		f.on.Store(false) // one failed request: the first window of the merged scan
		return conversation.Page{}, errors.New("upstream answered 503")
	}
	if scratchLog != nil {
		scratchLog(fmt.Sprintf("%s fetch %s page %d", f.now().Format(time.TimeOnly), w.String(), page))
	}
	return f.PageSource.FetchPage(ctx, w, page)
}

var scratchLog func(string)

// TestMergedScanFailureStillReads30m: when the head read that takes in the
// 30m tier's half hour fails, the tier's own step reads that half hour in
// the same poll: records started just over half an hour ago and reported
// just before are counted within minutes, not left to the 2h tier's hour.
func TestMergedScanFailureStillReads30m(t *testing.T) {
	t0 := time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC)
	on := &atomic.Bool{}
	rig := newRecheckRig(t, t0, PollerConfig{Interval: time.Minute, Lookback: 2 * time.Hour, RecentWindow: DefaultRecentWindow, RequestsPerPoll: 40},
		func(sim *simulator.Server) {
			cs := sim.Generate(t0.Add(-3*time.Hour), t0.Add(3*time.Hour), simulator.Profile{PerHour: 1000, OpenShare: 0.5})
			sim.Update(func([]*simulator.Conversation) {
				for _, c := range cs {
					if c.ID == "" && c.Broken == "" && c.Start.After(t0) {
						c.FinishedFrom = t0.Add(100 * time.Hour)
					}
				}
			})
		},
		func(o *Options) {
			o.Pages = failPages{PageSource: NewClient(o.Client, o.Upstream), on: on, now: o.Now}
		})
	ctx := context.Background()
	for range 70 {
		rig.p.Poll(ctx)
		rig.clock.Advance(time.Minute)
	}
	// Advance to a poll where the 30m tier is due (merged into the head).
	for {
		tp := rig.p.fresh.tiers[0]
		now := rig.clock.Now()
		if tp.began.IsZero() && now.Sub(tp.lastBegan) >= rig.p.fresh.periodNow(tp)-rig.p.cfg.Interval/2 {
			break
		}
		rig.p.Poll(ctx)
		rig.clock.Advance(time.Minute)
	}
	T := rig.clock.Now()
	wm := rig.p.state.Watermark()
	lb := T.Add(-2 * time.Hour).Truncate(time.Second)
	hf := wm.Add(-DefaultRecentWindow).Truncate(time.Second)
	hotT, _ := rig.p.hotFrom(T, hf, T.Truncate(time.Second), lb)
	T2 := T.Add(2 * time.Minute)
	hotT2, _ := rig.p.hotFrom(T2, T2.Add(-5*time.Minute), T2.Truncate(time.Second), lb.Add(2*time.Minute))
	t.Logf("hot range at T starts %s, at T+2m about %s; 2h tier lastBegan %s", hotT.Format(time.TimeOnly), hotT2.Format(time.TimeOnly), rig.p.fresh.tiers[1].lastBegan.Format(time.TimeOnly))
	// Bot-only records started in what the hot read of T covers and that of T+2m does not, reported 20 s before T.
	var late []*simulator.Conversation
	rig.sim.Update(func(all []*simulator.Conversation) {
		for _, c := range all {
			// In the 30m tier's own range at T (32 minutes), not in the
			// next due read's (two polls on): only T's read finds them.
			if c.ID == "" && c.Broken == "" && !c.Start.Before(T.Add(-31*time.Minute-30*time.Second)) && c.Start.Before(T.Add(-30*time.Minute-30*time.Second)) {
				c.FinishedFrom = T.Add(-20 * time.Second)
				late = append(late, c)
			}
		}
	})
	if len(late) == 0 {
		t.Fatal("no bot-only records in range")
	}
	on.Store(true)
	r := rig.p.Poll(ctx)
	on.Store(false)
	t.Logf("failing poll at %s: complete=%v; tier 30m lastBegan=%s (marked read at the failing poll: %v)", T.Format(time.TimeOnly), r.Complete,
		rig.p.fresh.tiers[0].lastBegan.Format(time.TimeOnly), rig.p.fresh.tiers[0].lastBegan.Equal(T))
	rig.clock.Advance(time.Minute)
	for range 10 {
		now := rig.clock.Now()
		wm := rig.p.state.Watermark()
		hf := wm.Add(-DefaultRecentWindow).Truncate(time.Second)
		h, ok := rig.p.hotFrom(now, hf, now.Truncate(time.Second), now.Add(-2*time.Hour).Truncate(time.Second))
		t.Logf("poll %s: headFrom %s hot %v %s density %.3f", now.Format(time.TimeOnly), hf.Format(time.TimeOnly), ok, h.Format(time.TimeOnly), rig.p.density)
		rig.p.Poll(ctx)
		rig.clock.Advance(time.Minute)
	}
	missed := 0
	for _, c := range late {
		if at, ok := rig.sink.counted[c.Key()]; !ok || at.Sub(T) > 5*time.Minute {
			missed++
		}
		t.Logf("%s start %s counted at %s", c.Key(), c.Start.Format(time.TimeOnly), rig.sink.counted[c.Key()].Format(time.TimeOnly))
	}
	if missed > 0 {
		t.Errorf("%d of %d records (start 30.5–31.5 min old, reported 20 s before a poll whose merged head+30m scan failed) not counted within 10 polls", missed, len(late))
	}
	rig.sink.checkOnce(t)
}

// TestStateCountsStayTrue: random Apply/Prune sequences near hour edges,
// starts a second off either way: the open count equals the open entries,
// the counted count equals the hour buckets' entries.
func TestStateCountsStayTrue(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	for round := range 40 {
		s := openTestState(t, filepath.Join(t.TempDir(), fmt.Sprintf("s%d.db", round)))
		base := time.Date(2026, 1, 1, 10, 59, 0, 0, time.UTC)
		for step := range 200 {
			var batch []Entry
			for range 1 + rng.Intn(4) {
				ki := rng.Intn(12)
				k := fmt.Sprintf("c-%d", ki)
				// each key: a base start near an hour boundary (different per round), read a second off either way
				kb := base.Add(time.Duration((ki%4)*3600+(ki*37+round*13)%130) * time.Second)
				st := kb.Add(time.Duration(rng.Intn(61)-30) * time.Second)
				batch = append(batch, Entry{Key: k, Start: st, Finished: rng.Intn(3) == 0, Channel: "x"})
			}
			if _, err := s.Apply(batch); err != nil {
				t.Fatal(err)
			}
			if rng.Intn(50) == 0 {
				if _, _, err := s.Prune(base.Add(time.Duration(rng.Intn(3)) * time.Hour)); err != nil {
					t.Fatal(err)
				}
			}
			open, _ := s.Open()
			counted, openN := s.Sizes()
			if openN != len(open) {
				t.Fatalf("round %d step %d: open-n %d, entries %d", round, step, openN, len(open))
			}
			keys := map[string]int{}
			for _, e := range open {
				keys[e.Key]++
			}
			for i, e := range open {
				if c, _ := s.Counted(e.Key, e.Start); c {
					t.Fatalf("round %d step %d: %s at %s both counted and open", round, step, e.Key, e.Start)
				}
				for _, o := range open[i+1:] {
					if o.Key == e.Key && o.Start.Sub(e.Start).Abs() <= time.Minute {
						t.Fatalf("round %d step %d: %s open twice (%s, %s)", round, step, e.Key, e.Start, o.Start)
					}
				}
			}
			n := 0
			_ = s.view(func(tx *bolt.Tx) error {
				return tx.Bucket(bucketHours).ForEach(func(k, _ []byte) error {
					n += tx.Bucket(bucketHours).Bucket(k).Stats().KeyN
					return nil
				})
			})
			if n != counted {
				t.Fatalf("round %d step %d: counted-n %d, entries %d", round, step, counted, n)
			}
		}
		s.Close()
	}
}
