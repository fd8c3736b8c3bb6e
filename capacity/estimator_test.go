package capacity

import (
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"
)

// clock is a settable now func.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

var t0 = time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)

func newTestEstimator(t testing.TB, interval, settle time.Duration) (*Estimator, *clock) {
	t.Helper()
	opts := DefaultOptions()
	opts.Interval, opts.Settle = interval, settle
	clk := &clock{t: t0}
	est, err := NewEstimator(opts, clk.now)
	if err != nil {
		t.Fatal(err)
	}
	return est, clk
}

func sec(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// TestEstimatorWindow: only entries that entered in (now − settle −
// interval, now − settle] count, and each sample gets the right result.
func TestEstimatorWindow(t *testing.T) {
	est, _ := newTestEstimator(t, 30*time.Minute, 30*time.Minute)
	// The interval is (11:00, 11:30].
	for _, tc := range []struct {
		entered time.Time
		want    SampleResult
	}{
		{t0.Add(-60 * time.Minute), SampleExpired},                   // the start is excluded
		{t0.Add(-60*time.Minute + time.Nanosecond), SampleLate},      // just inside
		{t0.Add(-45 * time.Minute), SampleLate},                      // inside
		{t0.Add(-30 * time.Minute), SampleLate},                      // the end is included
		{t0.Add(-30*time.Minute + time.Nanosecond), SampleOnTime},    // not settled yet
		{t0.Add(-time.Minute), SampleOnTime},                         // not settled yet
		{t0.Add(FutureTolerance), SampleOnTime},                      // platform clock ahead
		{t0.Add(FutureTolerance + time.Nanosecond), SampleInvalid},   // impossible
		{t0.Add(-61 * time.Minute), SampleExpired},                   // too old
		{t0.Add(-24 * time.Hour), SampleExpired},                     // too old
		{time.Date(1500, 1, 1, 0, 0, 0, 0, time.UTC), SampleExpired}, // outside UnixNano's range
		{time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC), SampleInvalid}, // outside UnixNano's range
	} {
		got := est.Add(Sample{Queue: "sales", Entered: tc.entered, Outcome: Answered, Wait: sec(10), Handle: sec(100)})
		if got != tc.want {
			t.Errorf("entered %v: %s, want %s", tc.entered.Sub(t0), got, tc.want)
		}
	}
	for _, s := range []Sample{
		{Queue: "", Entered: t0.Add(-45 * time.Minute), Outcome: Answered},
		{Queue: "sales", Outcome: Answered},
		{Queue: "sales", Entered: t0.Add(-45 * time.Minute)},
		{Queue: "sales", Entered: t0.Add(-45 * time.Minute), Outcome: Other + 1},
	} {
		if got := est.Add(s); got != SampleInvalid {
			t.Errorf("%+v: %s, want invalid", s, got)
		}
	}
	es := est.Estimates()
	if len(es) != 1 || es[0].Arrivals != 3 {
		t.Fatalf("estimates %+v, want sales with the 3 entries inside the interval", es)
	}
	want := map[SampleResult]uint64{SampleOnTime: 3, SampleLate: 3, SampleExpired: 4, SampleInvalid: 6}
	for r, n := range est.Results() {
		if n != want[r] {
			t.Errorf("result %s: %d samples, want %d", r, n, want[r])
		}
	}
}

// TestEstimatorValues: the estimates, hand-computed.
func TestEstimatorValues(t *testing.T) {
	est, _ := newTestEstimator(t, 10*time.Minute, 0)
	in := func(minutesAgo float64) time.Time { return t0.Add(-sec(minutesAgo * 60)) }
	for _, s := range []Sample{
		// support: 6 entries in 600 s.
		{Queue: "support", Entered: in(9), Outcome: Answered, Wait: sec(10), Handle: sec(200)},
		{Queue: "support", Entered: in(8), Outcome: Answered, Wait: sec(30), Handle: sec(400)},
		{Queue: "support", Entered: in(7), Outcome: Answered, Wait: sec(20), Handle: -1},        // handle unknown
		{Queue: "support", Entered: in(6), Outcome: Abandoned, Wait: sec(45), Handle: sec(999)}, // handle ignored
		{Queue: "support", Entered: in(5), Outcome: Abandoned, Wait: -1},                        // wait unknown
		{Queue: "support", Entered: in(4), Outcome: Other, Wait: sec(15)},
		// billing: nobody abandoned.
		{Queue: "billing", Entered: in(3), Outcome: Answered, Wait: sec(5), Handle: sec(60)},
		// fraud: every entry abandoned, no wait known.
		{Queue: "fraud", Entered: in(2), Outcome: Abandoned, Wait: -1},
	} {
		est.Add(s)
	}
	es := est.Estimates()
	if len(es) != 3 || es[0].Queue != "billing" || es[1].Queue != "fraud" || es[2].Queue != "support" {
		t.Fatalf("estimates %+v, want billing, fraud, support", es)
	}
	billing, fraud, support := es[0], es[1], es[2]

	// support: λ = 6/600; handle = (200+400)/2 = 300; patience = (10+30+20+45+15)/1
	// (the abandon with an unknown wait is left out of both sums) = 120;
	// load = 6 × 300 / 600 = 3.
	if support.Arrivals != 6 || support.Answered != 3 || support.Abandoned != 2 ||
		support.ArrivalRate != 0.01 || support.HandleSeconds != 300 || support.PatienceSeconds != 120 || support.OfferedLoad != 3 {
		t.Errorf("support: %+v", support)
	}
	if !math.IsInf(billing.PatienceSeconds, 1) || billing.OfferedLoad != 0.1 {
		t.Errorf("billing (no abandons): %+v, want patience +Inf, load 1 × 60 / 600", billing)
	}
	if !math.IsNaN(fraud.HandleSeconds) || !math.IsNaN(fraud.OfferedLoad) || !math.IsNaN(fraud.PatienceSeconds) || fraud.Arrivals != 1 {
		t.Errorf("fraud (abandons only, no wait): %+v, want NaN handle, load and patience", fraud)
	}
	if tr := support.Traffic(); tr.ArrivalRate != 0.01 || tr.HandleSeconds != 300 || tr.PatienceSeconds != 120 {
		t.Errorf("support traffic %+v", tr)
	}
}

// TestEstimatorSlides: entries enter the interval once settled and leave
// it after the interval; a queue that went quiet disappears and its
// memory is released.
func TestEstimatorSlides(t *testing.T) {
	est, clk := newTestEstimator(t, 30*time.Minute, 15*time.Minute)
	est.Add(Sample{Queue: "sales", Entered: t0.Add(-time.Minute), Outcome: Answered, Wait: 0, Handle: sec(60)})
	if es := est.Estimates(); len(es) != 0 {
		t.Fatalf("an entry not yet settled is in the interval: %+v", es)
	}
	clk.advance(14 * time.Minute) // entered 15 min ago: the interval's end
	if es := est.Estimates(); len(es) != 1 || es[0].Arrivals != 1 {
		t.Fatalf("a settled entry is missing: %+v", es)
	}
	clk.advance(30*time.Minute - time.Nanosecond) // still inside
	if es := est.Estimates(); len(es) != 1 {
		t.Fatalf("the entry left early: %+v", es)
	}
	clk.advance(time.Nanosecond) // entered 45 min ago: the start, excluded
	if es := est.Estimates(); len(es) != 0 {
		t.Fatalf("a quiet queue still has an estimate: %+v", es)
	}
	if len(est.queues) != 0 {
		t.Errorf("the quiet queue is still held: %d queues", len(est.queues))
	}
}

// TestEstimatorOrderAndMemory: out-of-order samples over simulated hours
// give the same estimates as a brute-force count, and the estimator never
// holds more than the samples of settle + interval + FutureTolerance.
func TestEstimatorOrderAndMemory(t *testing.T) {
	interval, settle := 30*time.Minute, 20*time.Minute
	est, clk := newTestEstimator(t, interval, settle)
	rng := rand.New(rand.NewPCG(1, 2))
	type rec struct {
		queue   string
		entered time.Time
		answer  bool
	}
	var all []rec
	queues := []string{"a", "b", "c"}
	hours := 6
	if testing.Short() {
		hours = 2
	}
	for step := 0; step < hours*360; step++ { // a poll every 10 s
		clk.advance(10 * time.Second)
		now := clk.now()
		added := rng.IntN(4)
		for range added {
			// Counted 0 to 40 min after entering: some late, some expired.
			r := rec{queues[rng.IntN(len(queues))], now.Add(-time.Duration(rng.Int64N(int64(40 * time.Minute)))), rng.IntN(3) > 0}
			out := Abandoned
			if r.answer {
				out = Answered
			}
			est.Add(Sample{Queue: r.queue, Entered: r.entered, Outcome: out, Wait: sec(30), Handle: sec(100)})
			all = append(all, r)
		}
		held, live := 0, 0
		for _, q := range est.queues {
			held += len(q)
		}
		for _, r := range all {
			if r.entered.After(now.Add(-settle - interval)) {
				live++
			}
		}
		// Add sweeps every queue (at most once a second), so after an Add
		// the estimator holds exactly the live samples, without a scrape.
		if added > 0 && held != live {
			t.Fatalf("step %d: holding %d samples, %d entered in the last settle + interval", step, held, live)
		}
		if step%30 != 0 {
			continue
		}
		want := map[string]int{}
		for _, r := range all {
			if r.entered.After(now.Add(-settle-interval)) && !r.entered.After(now.Add(-settle)) {
				want[r.queue]++
			}
		}
		got := map[string]int{}
		for _, e := range est.Estimates() {
			got[e.Queue] = e.Arrivals
		}
		for _, q := range queues {
			if got[q] != want[q] {
				t.Fatalf("step %d queue %s: %d arrivals, brute force %d", step, q, got[q], want[q])
			}
		}
	}
}

// TestEstimatorConcurrent: fed from one goroutine, read from others (run
// with -race).
func TestEstimatorConcurrent(t *testing.T) {
	est, clk := newTestEstimator(t, 30*time.Minute, 0)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 2 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
					est.Estimates()
					est.Results()
				}
			}
		})
	}
	for i := range 5000 {
		clk.advance(time.Second)
		est.Add(Sample{Queue: "q" + strings.Repeat("x", i%5), Entered: clk.now(), Outcome: Answered, Wait: sec(1), Handle: sec(10)})
	}
	close(stop)
	wg.Wait()
	n := 0
	for _, e := range est.Estimates() {
		n += e.Arrivals
	}
	if n != 1800 {
		t.Errorf("%d arrivals in the last 30 min, want 1800 (one a second)", n)
	}
}

// TestOptionsValidate: each bad setting gives an error naming its variable.
func TestOptionsValidate(t *testing.T) {
	if err := DefaultOptions().Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	for _, tc := range []struct {
		set  func(*Options)
		want string
	}{
		{func(o *Options) { o.ServiceLevelTarget = 1 }, "SMARTASSIST_SERVICE_LEVEL_TARGET must be greater than 0 and less than 1 (a share, 0.8 for 80 %), got 1"},
		{func(o *Options) { o.ServiceLevelTarget = 80 }, "SMARTASSIST_SERVICE_LEVEL_TARGET must be greater than 0 and less than 1 (a share, 0.8 for 80 %), got 80"},
		{func(o *Options) { o.ServiceLevelTarget = math.NaN() }, "SMARTASSIST_SERVICE_LEVEL_TARGET must be greater than 0 and less than 1 (a share, 0.8 for 80 %), got NaN"},
		{func(o *Options) { o.ServiceLevelSeconds = -1 }, "SMARTASSIST_SERVICE_LEVEL_SECONDS must be a finite number of seconds >= 0, got -1"},
		{func(o *Options) { o.ServiceLevelSeconds = math.Inf(1) }, "SMARTASSIST_SERVICE_LEVEL_SECONDS must be a finite number of seconds >= 0, got +Inf"},
		{func(o *Options) { o.MaxOccupancy = 0 }, "SMARTASSIST_MAX_OCCUPANCY must be greater than 0 and at most 1, got 0"},
		{func(o *Options) { o.MaxOccupancy = 85 }, "SMARTASSIST_MAX_OCCUPANCY must be greater than 0 and at most 1, got 85"},
		{func(o *Options) { o.Shrinkage = 1 }, "SMARTASSIST_SHRINKAGE must be at least 0 and less than 1, got 1"},
		{func(o *Options) { o.Shrinkage = -0.1 }, "SMARTASSIST_SHRINKAGE must be at least 0 and less than 1, got -0.1"},
		{func(o *Options) { o.Interval = 30 * time.Second }, "SMARTASSIST_CAPACITY_INTERVAL must be between 1m and 24h, got 30s"},
		{func(o *Options) { o.Interval = 25 * time.Hour }, "SMARTASSIST_CAPACITY_INTERVAL must be between 1m and 24h, got 25h0m0s"},
		{func(o *Options) { o.Settle = -time.Second }, "SMARTASSIST_CAPACITY_SETTLE must be between 0s and 24h, got -1s"},
	} {
		o := DefaultOptions()
		tc.set(&o)
		err := o.Validate()
		if err == nil || err.Error() != tc.want {
			t.Errorf("got %v, want %q", err, tc.want)
		}
		if _, err := NewEstimator(o, nil); err == nil {
			t.Errorf("NewEstimator accepted %+v", o)
		}
	}
	o := DefaultOptions()
	o.MaxOccupancy, o.Shrinkage = 2, 2
	if err := o.Validate(); err == nil || !strings.Contains(err.Error(), "SMARTASSIST_MAX_OCCUPANCY") || !strings.Contains(err.Error(), "SMARTASSIST_SHRINKAGE") {
		t.Errorf("two bad settings: %v, want both named", err)
	}
}
