package capacity

import (
	"errors"
	"fmt"
	"math"
)

// Model names a queueing model; its value is the `model` label.
type Model string

// The models RequiredAgents knows.
const (
	ModelErlangC Model = "erlang_c"
	ModelErlangA Model = "erlang_a"
)

// Models lists the models in label order.
var Models = []Model{ModelErlangC, ModelErlangA}

// MaxAgents caps the staffing search: a queue whose target no staffing up
// to MaxAgents meets gets ErrAboveMaxAgents. No single queue has that many
// agents; a load that needs them comes from corrupt input (a handle time
// of days), and the cap keeps the search and its memory bounded.
const MaxAgents = 100000

// ErrAboveMaxAgents says that no staffing up to MaxAgents meets the target.
var ErrAboveMaxAgents = errors.New("no staffing up to capacity.MaxAgents meets the target")

// Target is what a staffing must achieve.
type Target struct {
	// ServiceLevel: share of all arrivals to answer within Seconds, in
	// (0, 1). 1 is unreachable in both models (some caller always waits).
	ServiceLevel float64
	// Seconds: the service-level threshold t, >= 0.
	Seconds float64
	// MaxOccupancy: the busiest the agents may be, carried load ÷ agents,
	// in (0, 1].
	MaxOccupancy float64
}

func (g Target) validate() error {
	if !(g.ServiceLevel > 0 && g.ServiceLevel < 1) {
		return fmt.Errorf("%w: service-level target %v, want > 0 and < 1", ErrInvalidInput, g.ServiceLevel)
	}
	if !(g.Seconds >= 0) || math.IsInf(g.Seconds, 0) {
		return fmt.Errorf("%w: service-level threshold %v s, want a finite number >= 0", ErrInvalidInput, g.Seconds)
	}
	if !(g.MaxOccupancy > 0 && g.MaxOccupancy <= 1) {
		return fmt.Errorf("%w: maximum occupancy %v, want > 0 and <= 1", ErrInvalidInput, g.MaxOccupancy)
	}
	return nil
}

// RequiredAgents returns the smallest number of agents c with which the
// model's service level is at least target.ServiceLevel within
// target.Seconds and its occupancy at most target.MaxOccupancy.
//
// Edges: a queue with no load (λ = 0 or AHT = 0) needs 0 agents. A target
// that no staffing up to MaxAgents meets returns ErrAboveMaxAgents (the
// search never runs past the cap). A NaN, infinite or negative input, or a
// target outside its range, returns an error wrapping ErrInvalidInput.
// Erlang A with PatienceSeconds = +Inf (or above PatienceRatioLimit handle
// times) is Erlang C; with 0 (or below its inverse) it is Erlang B.
//
// Search. Erlang C: every c <= A fails and occupancy A/c <= max needs
// c >= A/max, so the walk starts at the larger bound, computes B(c, A) once
// by the recursion (O(c)) and then steps c upward updating B in O(1) per
// candidate; the service level rises with c, so the first c that meets it
// is the answer (typically O(√A) steps past the start). Erlang A: the share
// answered is at most c/A and occupancy is answered load ÷ c, so any c
// meeting both targets has c >= ServiceLevel·A/MaxOccupancy; from there an
// exponential probe finds a staffing that meets the target and bisection
// narrows it, O(log) evaluations of ErlangA, each O(√(cμ/θ)) with B(c, A)
// read from a table the recursion fills once. Both searches rely on the
// service level rising and occupancy falling with c, which the property
// tests check.
func RequiredAgents(m Model, t Traffic, target Target) (int, error) {
	if err := target.validate(); err != nil {
		return 0, err
	}
	switch m {
	case ModelErlangC:
		if err := t.validate(false); err != nil {
			return 0, err
		}
		return requiredErlangC(t, target)
	case ModelErlangA:
		if err := t.validate(true); err != nil {
			return 0, err
		}
		if t.Load() > 0 && math.IsInf(effectivePatience(t), 1) {
			return requiredErlangC(t, target)
		}
		return requiredErlangA(t, target)
	}
	return 0, fmt.Errorf("%w: unknown model %q", ErrInvalidInput, m)
}

func requiredErlangC(t Traffic, target Target) (int, error) {
	load := t.Load()
	if load == 0 {
		return 0, nil
	}
	if load >= MaxAgents {
		return 0, fmt.Errorf("%w (%.6g Erlangs)", ErrAboveMaxAgents, load)
	}
	c := max(int(math.Floor(load))+1, minAgentsForOccupancy(load, target.MaxOccupancy))
	b := erlangB(c, load)
	for ; c <= MaxAgents; c++ {
		p := erlangCWith(c, load, t.HandleSeconds, target.Seconds, b)
		if p.ServiceLevel >= target.ServiceLevel {
			return c, nil
		}
		b = nextErlangB(b, c+1, load)
	}
	return 0, fmt.Errorf("%w (%.6g Erlangs)", ErrAboveMaxAgents, load)
}

// minAgentsForOccupancy is the smallest c with load/c <= maxOccupancy,
// evaluated with the same floating-point predicate the check uses (so that
// 8.5 Erlangs at 0.85 gives 10, not 11 from 10.000000000000002).
func minAgentsForOccupancy(load, maxOccupancy float64) int {
	c := int(math.Ceil(load / maxOccupancy))
	for c > 1 && load/float64(c-1) <= maxOccupancy {
		c--
	}
	for load/float64(c) > maxOccupancy {
		c++
	}
	return max(c, 1)
}

func requiredErlangA(t Traffic, target Target) (int, error) {
	load := t.Load()
	if load == 0 {
		return 0, nil
	}
	lo := max(1, int(math.Floor(target.ServiceLevel*load/target.MaxOccupancy)))
	if lo > MaxAgents {
		return 0, fmt.Errorf("%w (%.6g Erlangs)", ErrAboveMaxAgents, load)
	}
	table := erlangBTable{load: load, b: []float64{1}}
	ok := func(c int) bool {
		p := erlangAWith(c, t, target.Seconds, table.at(c), false)
		return p.ServiceLevel >= target.ServiceLevel && p.Occupancy <= target.MaxOccupancy
	}
	if ok(lo) {
		return lo, nil
	}
	// Invariant: bad fails; probe good = bad + 1, 2, 4, … until it passes.
	bad, step := lo, 1
	good := 0
	for good == 0 {
		next := bad + step
		if next >= MaxAgents {
			if !ok(MaxAgents) {
				return 0, fmt.Errorf("%w (%.6g Erlangs)", ErrAboveMaxAgents, load)
			}
			good = MaxAgents
			break
		}
		if ok(next) {
			good = next
		} else {
			bad, step = next, step*2
		}
	}
	for good-bad > 1 {
		mid := bad + (good-bad)/2
		if ok(mid) {
			good = mid
		} else {
			bad = mid
		}
	}
	return good, nil
}

// erlangBTable holds B(0..n, A), extended by the recursion on demand, so a
// search evaluates each B(c, A) in O(1) after one O(c) pass.
type erlangBTable struct {
	load float64
	b    []float64
}

func (t *erlangBTable) at(c int) float64 {
	for n := len(t.b); n <= c; n++ {
		t.b = append(t.b, nextErlangB(t.b[n-1], n, t.load))
	}
	return t.b[c]
}
