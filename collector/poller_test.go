package collector

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/smartassist-exporter/smartassist_exporter/conversation"
	"github.com/smartassist-exporter/smartassist_exporter/internal/testkit"
	"github.com/smartassist-exporter/smartassist_exporter/simulator"
	"github.com/smartassist-exporter/smartassist_exporter/upstream"
)

type fakeClock = testkit.Clock

// recordingSink remembers how often each conversation was observed.
type recordingSink struct {
	mu       sync.Mutex
	observed map[string]int
	open     map[string]int
}

func newRecordingSink() *recordingSink { return &recordingSink{observed: map[string]int{}} }

func (s *recordingSink) Observe(c *conversation.Conversation) {
	s.mu.Lock()
	s.observed[c.Key()]++
	s.mu.Unlock()
}

func (s *recordingSink) SetOpen(m map[string]int) {
	s.mu.Lock()
	s.open = m
	s.mu.Unlock()
}

type testRig struct {
	clock   *fakeClock
	sim     *simulator.Server
	url     string
	cfg     PollerConfig
	reg     *prometheus.Registry
	metrics *PollMetrics
}

func newRig(t *testing.T, start time.Time, failureRate float64) *testRig {
	clock := testkit.NewClock(start)
	sim := simulator.New(simulator.Options{AccountID: "acc", StreamID: "st", ClientID: "cs-1", ClientSecret: "secret",
		FailureRate: failureRate, Seed: 42, Now: clock.Now})
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	return &testRig{clock: clock, sim: sim, url: srv.URL,
		cfg: PollerConfig{Interval: time.Minute, Lookback: 2 * time.Hour, RecentWindow: 30 * time.Minute}}
}

func (r *testRig) poller(t *testing.T, state *State, sink Sink) *Poller {
	r.reg = prometheus.NewRegistry()
	p := New(Options{
		Upstream: newTestUpstream(t, r.url, r.reg, r.clock.Now, 60000),
		Client:   ClientConfig{AccountID: "acc", StreamID: "st", Endpoint: "calldetails", TimezoneOffset: -330},
		State:    state, Sink: sink, Registerer: r.reg, Poll: r.cfg, Log: quiet, Now: r.clock.Now,
		UseOpenList: true,
	})
	r.metrics = p.metrics
	return p
}

// newTestUpstream is the shared upstream client as main builds it, for the
// simulated platform at url on the given clock, with instant retries.
func newTestUpstream(t testing.TB, url string, reg prometheus.Registerer, now func() time.Time, perMinute float64) *upstream.Client {
	t.Helper()
	tokens := upstream.NewMintedTokensAt("cs-1", func() (string, error) { return "secret", nil }, now)
	up, err := upstream.New(upstream.Config{BaseURL: url, AccountID: "acc", RequestTimeout: 5 * time.Second},
		&http.Client{}, tokens, upstream.NewBudget(perMinute), upstream.NewRequestMetrics(reg, perMinute), quiet)
	if err != nil {
		t.Fatal(err)
	}
	up.SetSleep(func(context.Context, time.Duration) error { return nil })
	return up
}

// TestPollerExactlyOnce runs 150 simulated minutes of a busy contact center
// (with 5% of requests failing, pages in no order, conversations listed
// open before they finish, late reports, broken records, and a burst that
// forces window splits), restarting the poller on the same state midway,
// and checks that every conversation is observed at most once and every
// one that was there to be seen is. Under -short it runs 40 minutes
// (restart at 20): the same events (backfill, burst, splits, restart,
// tier re-reads, late reports), fewer repetitions of them.
func TestPollerExactlyOnce(t *testing.T) {
	t.Parallel() // independent rigs; the quick tier waits on the slowest of them
	minutes, restartAt := 150, 70
	if testing.Short() {
		minutes, restartAt = 40, 20
	}
	t0 := time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC)
	rig := newRig(t, t0, 0.05)
	profile := simulator.Profile{PerHour: 1500, OpenShare: 0.6, LateShare: 0.03, BrokenShare: 0.01}
	rig.sim.Generate(t0.Add(-3*time.Hour), t0, profile)
	// A burst of 1300 conversations in two minutes: more than one query
	// can return, so the window holding them must split.
	burst := rig.sim.Generate(t0.Add(-50*time.Minute), t0.Add(-48*time.Minute), simulator.Profile{PerHour: 39000})

	statePath := filepath.Join(t.TempDir(), "state.db")
	state := openTestState(t, statePath)
	sinks := []*recordingSink{newRecordingSink()}
	p := rig.poller(t, state, sinks[0])
	firstMetrics := rig.metrics // the burst is read (and split) before the restart
	ctx := context.Background()
	firstPoll := rig.clock.Now()
	for minute := 0; minute < minutes; minute++ {
		if minute == restartAt { // restart on the same state
			state.Close()
			state = openTestState(t, statePath)
			sinks = append(sinks, newRecordingSink())
			p = rig.poller(t, state, sinks[1])
		}
		p.Poll(ctx)
		before := rig.clock.Now()
		rig.clock.Advance(time.Minute)
		rig.sim.Generate(before, rig.clock.Now(), profile)
	}
	// End with a whole re-read of the lookback so that everything due is seen.
	recheckAllNow(p)
	p.Poll(ctx)
	lastPoll := rig.clock.Now()
	defer state.Close()

	if got := testutil.ToFloat64(rig.metrics.up); got != 1 {
		t.Errorf("smartassist_up = %v after the final poll", got)
	}
	if splits := testutil.ToFloat64(firstMetrics.windowSplits) + testutil.ToFloat64(rig.metrics.windowSplits); splits < 1 {
		t.Errorf("no window split, though %d conversations started within two minutes", len(burst))
	}
	observed := map[string]int{}
	for _, s := range sinks {
		for k, n := range s.observed {
			observed[k] += n
		}
	}
	for k, n := range observed {
		if n > 1 {
			t.Errorf("%s observed %d times", k, n)
		}
	}
	finished, open := rig.sim.Visible(lastPoll, time.Time{}, lastPoll)
	want, seen := 0, 0
	for _, c := range finished {
		inRange := !c.Start.Before(lastPoll.Add(-rig.cfg.Lookback))
		if c.Broken != "" {
			if observed[c.Key()] > 0 {
				t.Errorf("broken record %s (%s) observed", c.Key(), c.Broken)
			}
			continue
		}
		if c.Start.Before(firstPoll.Add(-rig.cfg.Lookback)) && observed[c.Key()] > 0 {
			t.Errorf("%s started before anything was ever in the lookback, yet observed", c.Key())
		}
		if inRange {
			want++
			if observed[c.Key()] == 1 {
				seen++
			} else {
				t.Errorf("%s (start %s, listed finished from %s) not observed", c.Key(), c.Start.Format(time.TimeOnly), c.FinishedFrom.Format(time.TimeOnly))
			}
		}
	}
	if want < 2000 || seen != want {
		t.Errorf("observed %d of %d conversations finished within the lookback", seen, want)
	}
	wantOpen := 0
	for _, c := range open {
		// Open in call details, and not yet shown closed by the list.
		if !c.Start.Before(lastPoll.Add(-rig.cfg.Lookback)) && c.Broken == "" && c.ListStatusAt(lastPoll) != "CLOSED" {
			wantOpen++
		}
	}
	gotOpen := 0
	for _, n := range sinks[1].open {
		gotOpen += n
	}
	if wantOpen == 0 || gotOpen != wantOpen {
		t.Errorf("open conversations %d, want %d", gotOpen, wantOpen)
	}
	if dup := testutil.ToFloat64(rig.metrics.records.WithLabelValues(ResultDuplicate)); dup == 0 {
		t.Error("no duplicates counted: re-reads are not being deduplicated, or not happening")
	}
	if inv := testutil.ToFloat64(rig.metrics.invalidRecords.WithLabelValues(conversation.InvalidMalformed)); inv == 0 {
		t.Error("broken records not counted as invalid")
	}
	t.Logf("observed %d conversations, %d open; requests by status %v", seen, gotOpen, rig.sim.Requests())
}

// TestPollerReportsFailure: a poll that cannot read everything says so.
func TestPollerReportsFailure(t *testing.T) {
	t0 := time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC)
	rig := newRig(t, t0, 1.0) // every request fails
	rig.sim.Generate(t0.Add(-time.Hour), t0, simulator.Profile{PerHour: 100})
	state := openTestState(t, filepath.Join(t.TempDir(), "state.db"))
	defer state.Close()
	sink := newRecordingSink()
	p := rig.poller(t, state, sink)
	p.Poll(context.Background())
	if got := testutil.ToFloat64(rig.metrics.up); got != 0 {
		t.Errorf("smartassist_up = %v after a failed poll", got)
	}
	if !p.Ready() {
		t.Error("not ready after the first poll")
	}
	if !state.Watermark().IsZero() {
		t.Error("watermark advanced by a failed poll")
	}
	if lag := p.Lag(); lag != rig.cfg.Lookback {
		t.Errorf("lag %v before anything was read, want the lookback", lag)
	}
}

// TestWindowSplitting: 2500 conversations within ten minutes are read in
// full by splitting; 1200 within one second cannot be, and the poll says so.
func TestWindowSplitting(t *testing.T) {
	t.Parallel() // independent rigs; the quick tier waits on the slowest of them
	t0 := time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC)
	rig := newRig(t, t0, 0)
	rig.sim.Generate(t0.Add(-20*time.Minute), t0.Add(-10*time.Minute), simulator.Profile{PerHour: 15000})
	state := openTestState(t, filepath.Join(t.TempDir(), "state.db"))
	defer state.Close()
	sink := newRecordingSink()
	p := rig.poller(t, state, sink)
	res := p.scan(context.Background(), ScanFull, t0.Add(-time.Hour), t0, 0)
	finished, open := rig.sim.Visible(t0, t0.Add(-time.Hour), t0)
	if !res.complete || res.splits < 2 || res.records < len(finished)+len(open) {
		t.Errorf("scan %+v, want complete with splits, reading %d records", res, len(finished)+len(open))
	}
	want := 0
	for _, c := range finished {
		if c.Broken == "" {
			want++
			if sink.observed[c.Key()] != 1 {
				t.Errorf("%s observed %d times", c.Key(), sink.observed[c.Key()])
			}
		}
	}
	t.Logf("%d conversations, %d requests, %d splits", want, res.requests, res.splits)

	// 1200 in one second: no window can page past 1100.
	var same []*simulator.Conversation
	for i := range 1200 {
		same = append(same, &simulator.Conversation{SessionID: fmt.Sprintf("burst%06d", i), Channel: "Voice", Status: "BotResolved",
			Start: t0.Add(-5 * time.Minute), End: t0.Add(-4 * time.Minute), FinishedFrom: t0.Add(-4 * time.Minute)})
	}
	rig.sim.Add(same...)
	p.density = -1
	res = p.scan(context.Background(), ScanFull, t0.Add(-6*time.Minute), t0, 0)
	if res.complete {
		t.Error("a second holding 1200 conversations was reported read completely")
	}
}

// recheckAllNow makes the next poll re-read every tier whole and list the
// open conversations.
func recheckAllNow(p *Poller) {
	p.fresh.listWait = 0
	for _, tp := range p.fresh.tiers {
		tp.began = time.Time{}
		tp.period, tp.periodWithoutList = time.Second, time.Second
	}
}

// TestTiersSpreadTheLookback: with a 7-day lookback, after the backfill
// each poll spends about its tiers' share on re-reading the week, and a
// conversation that turns up finished three days after its start is
// counted within the oldest tier's period (shortened here to keep the
// test fast).
func TestTiersSpreadTheLookback(t *testing.T) {
	t.Parallel() // independent rigs; the quick tier waits on the slowest of them
	t0 := time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC)
	rig := newRig(t, t0, 0)
	rig.cfg.Lookback = 7 * 24 * time.Hour
	rig.cfg.Tiers = []Tier{{Name: "2h", MaxAge: 2 * time.Hour, Period: 5 * time.Minute}, {Name: "1d", MaxAge: 24 * time.Hour, Period: 20 * time.Minute}, {Name: "7d", MaxAge: 7 * 24 * time.Hour, Period: 40 * time.Minute}}
	generated := rig.sim.Generate(t0.Add(-7*24*time.Hour), t0, simulator.Profile{PerHour: 150})
	state := openTestState(t, filepath.Join(t.TempDir(), "state.db"))
	defer state.Close()
	sink := newRecordingSink()
	p := rig.poller(t, state, sink)
	backfill := p.Poll(context.Background())
	if backfill.Scan != ScanFull || !backfill.Complete || backfill.Requests < len(generated)/100 {
		t.Fatalf("backfill %+v", backfill)
	}
	late := &simulator.Conversation{ID: "c-late-three-days", SessionID: "late01", Channel: "System Mail", Direction: "Inbound",
		Status: "CLOSED", Start: t0.Add(-rig.cfg.Lookback * 3 / 7), End: t0.Add(-rig.cfg.Lookback*3/7 + time.Hour)} // 3 days of 7
	rig.sim.Add(late)
	// The 7d tier re-reads ~6 days (~backfill.Requests·6/7 requests) over
	// its 40 minutes, starting a tenth of the period ahead of schedule:
	// a tenth of that in the first poll, then a 40th a poll; plus a
	// window's pages of rounding for each tier.
	perPoll := backfill.Requests/10 + 3*(MaxPageIndex+1)
	maxPolls := 3 + 2*40 + 1
	turnedUp := time.Time{}
	for i := 1; i <= maxPolls && sink.observed[late.Key()] == 0; i++ {
		rig.clock.Advance(time.Minute)
		if i == 3 {
			late.FinishedFrom = rig.clock.Now() // it turns up now
			turnedUp = late.FinishedFrom
		}
		r := p.Poll(context.Background())
		if r.Requests > perPoll {
			t.Fatalf("poll %d spent %d requests, more than %d", i, r.Requests, perPoll)
		}
	}
	if sink.observed[late.Key()] != 1 {
		t.Fatalf("a conversation that finished 3 days after its start was not counted within %d polls", maxPolls)
	}
	if waited := rig.clock.Now().Sub(turnedUp); waited > 40*time.Minute+time.Minute {
		t.Errorf("counted %s after it turned up, more than the 7d tier's period of 40m", waited)
	}
	for k, n := range sink.observed {
		if n > 1 {
			t.Errorf("%s observed %d times", k, n)
		}
	}
	for _, tier := range []string{"2h", "1d", "7d"} {
		age := testutil.ToFloat64(rig.metrics.recheckAge.WithLabelValues(tier))
		period := testutil.ToFloat64(rig.metrics.recheckPeriod.WithLabelValues(tier))
		if period == 0 || age > 2*period {
			t.Errorf("tier %s: recheck age %vs, period %vs: the tier falls behind", tier, age, period)
		}
	}
}
