package capacity

import (
	"math"
	"slices"
	"sort"
	"sync"
	"time"
)

// Outcome is how a queue entry ended.
type Outcome int

// Queue-entry outcomes.
const (
	// Answered: an agent of the queue answered; the entry carries the
	// handle time of the answered segment.
	Answered Outcome = iota + 1
	// Abandoned: the caller left the queue before an agent answered.
	Abandoned
	// Other: the entry left the queue neither answered by its agents nor
	// abandoned (reassigned, transferred). It is an arrival, and its wait
	// is a lower bound of the caller's patience (censored, as for Answered).
	Other
)

// Sample is one queue entry of a finished conversation.
type Sample struct {
	Queue   string    // an already bounded queue label
	Entered time.Time // when the contact entered the queue
	Outcome Outcome
	// Wait in queue until answered, abandoned or moved; negative: unknown.
	Wait time.Duration
	// Handle time of the answered segment (interaction + after-call work);
	// used for Answered only; negative: unknown.
	Handle time.Duration
}

// SampleResult is what Add did with a sample; its value is the `result`
// label of smartassist_capacity_samples_total.
type SampleResult string

// Sample results; every sample gets exactly one.
const (
	// SampleOnTime: entered the queue less than Settle ago, so counted
	// before its time reached the interval.
	SampleOnTime SampleResult = "on_time"
	// SampleLate: counted after its time had entered the interval: the
	// interval undercounted it until then. Many late samples mean Settle
	// is shorter than the time from queue entry to counting.
	SampleLate SampleResult = "late"
	// SampleExpired: entered before the interval's start; dropped.
	SampleExpired SampleResult = "expired"
	// SampleInvalid: no queue, no entry time, an unknown outcome, or an
	// entry time more than FutureTolerance after now; dropped.
	SampleInvalid SampleResult = "invalid"
)

// SampleResults lists the results in label order.
var SampleResults = []SampleResult{SampleOnTime, SampleLate, SampleExpired, SampleInvalid}

// FutureTolerance is how far after now a sample's entry time may lie (the
// platform's clock against ours) before the sample is invalid: a finished
// conversation cannot have entered a queue in the future.
const FutureTolerance = 10 * time.Minute

// Estimate is one queue's traffic over the interval.
type Estimate struct {
	Queue string
	// Queue entries whose entry time lies in the interval, by outcome.
	Arrivals, Answered, Abandoned int
	// ArrivalRate λ = Arrivals ÷ interval, per second.
	ArrivalRate float64
	// HandleSeconds: mean handle time of the answered entries with a known
	// handle time; NaN when there are none.
	HandleSeconds float64
	// PatienceSeconds: Σ wait of all entries with a known wait ÷ the number
	// of those that abandoned, the maximum-likelihood estimate of the mean
	// of an exponential patience when answered and moved callers' patience
	// is censored at their wait. +Inf when none abandoned; NaN when the
	// abandoned entries have no known wait.
	PatienceSeconds float64
	// OfferedLoad A = λ × HandleSeconds = Arrivals × HandleSeconds ÷
	// interval, in Erlangs; NaN when HandleSeconds is.
	OfferedLoad float64
}

// Traffic returns the estimate as the models' input.
func (e Estimate) Traffic() Traffic {
	return Traffic{ArrivalRate: e.ArrivalRate, HandleSeconds: e.HandleSeconds, PatienceSeconds: e.PatienceSeconds}
}

// Estimator keeps, per queue, the queue entries of the last Settle +
// Interval and estimates each queue's traffic over the interval
// (now − Settle − Interval, now − Settle], placed by the time contacts
// ENTERED the queue.
//
// Why placed by entry time and ended Settle ago: the exporter counts a
// conversation when it first sees it finished, which is after the caller
// waited and was handled, plus the platform's reporting delay (up to about
// 15 minutes). An interval ending now would miss most of its newest
// contacts, and miss long ones more than short ones (biasing the handle
// time down); placing samples by counting time instead would turn a
// catch-up after downtime into a burst of arrivals. So the interval ends
// Settle before now and covers contacts that entered the queue between
// Settle + Interval and Settle ago; with the defaults the gauges describe
// the half hour that started an hour ago and ended 30 minutes ago. A
// contact counted more than Settle after it entered is still included
// (SampleLate) — the interval undercounted it until then.
//
// Memory is proportional to the samples of the last Settle + Interval (plus
// up to FutureTolerance of early ones): each Add and each Estimates drops
// what left the interval, and a queue with no samples left is forgotten, so
// its series disappear. It is safe for concurrent use.
type Estimator struct {
	opts             Options
	interval, settle time.Duration
	now              func() time.Time

	mu        sync.Mutex
	queues    map[string][]entry // per queue, sorted by entered
	results   map[SampleResult]uint64
	lastSweep time.Time
}

// entry is a stored sample: 32 bytes.
type entry struct {
	entered int64   // Unix nanoseconds
	wait    float64 // seconds; < 0 unknown
	handle  float64 // seconds; < 0 unknown or not answered
	outcome Outcome
}

// NewEstimator returns an estimator over opts.Interval ending opts.Settle
// before now(); a nil now means time.Now. It returns opts.Validate's error.
func NewEstimator(opts Options, now func() time.Time) (*Estimator, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if now == nil {
		now = time.Now
	}
	return &Estimator{
		opts:     opts,
		interval: opts.Interval,
		settle:   opts.Settle,
		now:      now,
		queues:   map[string][]entry{},
		results:  map[SampleResult]uint64{},
	}, nil
}

// bounds returns the interval (start, end].
func (e *Estimator) bounds(now time.Time) (start, end time.Time) {
	end = now.Add(-e.settle)
	return end.Add(-e.interval), end
}

// Add records one queue entry and returns what it did with it.
func (e *Estimator) Add(s Sample) SampleResult {
	now := e.now()
	start, end := e.bounds(now)
	var r SampleResult
	switch {
	case s.Queue == "" || s.Entered.IsZero() || s.Outcome < Answered || s.Outcome > Other ||
		s.Entered.After(now.Add(FutureTolerance)):
		r = SampleInvalid
	case !s.Entered.After(start):
		r = SampleExpired
	case !s.Entered.After(end):
		r = SampleLate
	default:
		r = SampleOnTime
	}

	e.mu.Lock()
	defer e.mu.Unlock()
	e.results[r]++
	if r == SampleInvalid || r == SampleExpired {
		return r
	}
	// Within a day of now, so UnixNano is defined.
	entered := s.Entered.UnixNano()
	ent := entry{entered: entered, wait: -1, handle: -1, outcome: s.Outcome}
	if s.Wait >= 0 {
		ent.wait = s.Wait.Seconds()
	}
	if s.Outcome == Answered && s.Handle >= 0 {
		ent.handle = s.Handle.Seconds()
	}
	q := e.queues[s.Queue]
	// Samples come in finish order, not entry order: insert in place.
	i := sort.Search(len(q), func(i int) bool { return q[i].entered > entered })
	e.queues[s.Queue] = slices.Insert(q, i, ent)
	if now.Sub(e.lastSweep) >= time.Second || now.Before(e.lastSweep) {
		e.sweep(start.UnixNano())
		e.lastSweep = now
	}
	return r
}

// sweep drops from every queue the entries at or before start, and the
// queues left empty. Add sweeps at most once a second (of now), so a queue
// that stopped receiving samples is released even if nobody scrapes.
func (e *Estimator) sweep(start int64) {
	for queue, q := range e.queues {
		if q = expire(q, start); len(q) == 0 {
			delete(e.queues, queue)
		} else {
			e.queues[queue] = q
		}
	}
}

// expire drops the entries at or before start (the slice is sorted), and
// releases the array once most of it is dead.
func expire(q []entry, start int64) []entry {
	n := sort.Search(len(q), func(i int) bool { return q[i].entered > start })
	if n == 0 {
		return q
	}
	if n > len(q)/2 {
		return append([]entry(nil), q[n:]...)
	}
	return q[n:]
}

// Results returns how many samples Add gave each result since the start.
func (e *Estimator) Results() map[SampleResult]uint64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make(map[SampleResult]uint64, len(SampleResults))
	for _, r := range SampleResults {
		out[r] = e.results[r]
	}
	return out
}

// Options returns the options the estimator was built with.
func (e *Estimator) Options() Options { return e.opts }

// Estimates returns the estimate of every queue with at least one entry in
// the interval, sorted by queue. A queue without one has no estimate: no
// traffic is "no series", not zeros.
func (e *Estimator) Estimates() []Estimate {
	startT, endT := e.bounds(e.now())
	start, end := startT.UnixNano(), endT.UnixNano()
	seconds := e.interval.Seconds()
	e.mu.Lock()
	defer e.mu.Unlock()
	e.sweep(start)
	out := make([]Estimate, 0, len(e.queues))
	for queue, q := range e.queues {
		est := Estimate{Queue: queue}
		var handleSum, waitSum float64
		handled, waitAbandons := 0, 0
		for _, s := range q {
			if s.entered > end {
				break // not settled yet
			}
			est.Arrivals++
			switch s.outcome {
			case Answered:
				est.Answered++
				if s.handle >= 0 {
					handleSum += s.handle
					handled++
				}
			case Abandoned:
				est.Abandoned++
			}
			if s.wait >= 0 {
				waitSum += s.wait
				if s.outcome == Abandoned {
					waitAbandons++
				}
			}
		}
		if est.Arrivals == 0 {
			continue
		}
		est.ArrivalRate = float64(est.Arrivals) / seconds
		est.HandleSeconds, est.OfferedLoad = math.NaN(), math.NaN()
		if handled > 0 {
			est.HandleSeconds = handleSum / float64(handled)
			est.OfferedLoad = float64(est.Arrivals) * est.HandleSeconds / seconds
		}
		switch {
		case est.Abandoned == 0:
			est.PatienceSeconds = math.Inf(1)
		case waitAbandons == 0:
			est.PatienceSeconds = math.NaN()
		default:
			est.PatienceSeconds = waitSum / float64(waitAbandons)
		}
		out = append(out, est)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Queue < out[j].Queue })
	return out
}
