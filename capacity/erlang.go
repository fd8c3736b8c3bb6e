// Package capacity answers the capacity planner's question — how many
// agents does this queue need to answer a share of its contacts within a
// threshold — from Erlang C and Erlang A, and estimates the inputs (arrival
// rate, handle time, patience) per queue over a sliding interval of the
// conversations the exporter counts.
//
// It is pure: it imports the standard library and, for the Collector,
// client_golang; the exporter feeds it samples and registers the Collector.
//
// # The models
//
// Both are M/M/c queues: Poisson arrivals at rate λ, exponential handle
// times with mean 1/μ (AHT), c agents, first come first served; the offered
// load is A = λ/μ Erlangs. Erlang C (M/M/c) assumes nobody hangs up.
// Erlang A (M/M/c+M, Palm's model) gives every waiting caller an exponential
// patience with mean 1/θ; a caller whose patience ends before an agent
// answers abandons.
//
// Definitions are those of pyworkforce (rodrigo-arenas/pyworkforce,
// queuing/erlang.py and queuing/abandonment.py) and of the CRAN package
// ErlangC, which reproduce the reference values in UPSTREAM-APIS.md: the
// probability of waiting is the share of arrivals that find every agent busy;
// the service level is the share of ALL arrivals answered within the
// threshold t (in Erlang A an abandoned caller counts as not answered);
// occupancy is the carried load divided by c. The Erlang A quantities are
// closed forms of the kind Mandelbaum and Zeltyn summarise for Palm's model
// ("Service Engineering in Action: The Palm/Erlang-A Queue, with
// Applications to Call Centers"); ErlangA's comment derives the ones used
// here, and the tests check them against an independent computation.
package capacity

import (
	"errors"
	"fmt"
	"math"
)

// ErrInvalidInput is wrapped by every error about a NaN, infinite or out of
// range input.
var ErrInvalidInput = errors.New("invalid input")

// Traffic is the load offered to one queue. Times are in seconds.
type Traffic struct {
	// ArrivalRate λ: contacts entering the queue per second, >= 0.
	ArrivalRate float64
	// HandleSeconds 1/μ: mean handle time (interaction + after-call work)
	// of an answered contact, >= 0.
	HandleSeconds float64
	// PatienceSeconds 1/θ: mean time a caller waits before abandoning
	// (Erlang A only), >= 0. +Inf means nobody abandons: Erlang A is then
	// Erlang C (its limit). 0 means a caller who finds every agent busy
	// hangs up at once: Erlang A is then Erlang B, the loss system.
	PatienceSeconds float64
}

// Load is the offered load A = λ/μ = ArrivalRate × HandleSeconds, in
// Erlangs: the number of agents that would be busy if every contact were
// answered.
func (t Traffic) Load() float64 { return t.ArrivalRate * t.HandleSeconds }

func (t Traffic) validate(withPatience bool) error {
	if !(t.ArrivalRate >= 0) || math.IsInf(t.ArrivalRate, 0) {
		return fmt.Errorf("%w: arrival rate %v, want a finite number >= 0", ErrInvalidInput, t.ArrivalRate)
	}
	if !(t.HandleSeconds >= 0) || math.IsInf(t.HandleSeconds, 0) {
		return fmt.Errorf("%w: handle time %v s, want a finite number >= 0", ErrInvalidInput, t.HandleSeconds)
	}
	if math.IsInf(t.Load(), 0) {
		return fmt.Errorf("%w: offered load %v Erlangs overflows", ErrInvalidInput, t.Load())
	}
	if withPatience && !(t.PatienceSeconds >= 0) {
		return fmt.Errorf("%w: patience %v s, want a number >= 0 or +Inf", ErrInvalidInput, t.PatienceSeconds)
	}
	return nil
}

func validateStaffing(agents int, thresholdSeconds float64) error {
	if agents < 0 {
		return fmt.Errorf("%w: %d agents, want >= 0", ErrInvalidInput, agents)
	}
	if !(thresholdSeconds >= 0) || math.IsInf(thresholdSeconds, 0) {
		return fmt.Errorf("%w: service-level threshold %v s, want a finite number >= 0", ErrInvalidInput, thresholdSeconds)
	}
	return nil
}

// Performance is what a queue achieves with a given number of agents, in
// the long run (the stationary state of the model).
type Performance struct {
	Agents int
	// WaitProbability: share of arrivals that find every agent busy.
	WaitProbability float64
	// AbandonProbability: share of arrivals that hang up before an agent
	// answers (always 0 in Erlang C).
	AbandonProbability float64
	// ServiceLevel: share of all arrivals answered within the threshold.
	ServiceLevel float64
	// ASA, the average speed of answer: mean wait of the answered
	// contacts, those answered at once included, in seconds. +Inf when the
	// queue grows without bound; NaN when nobody is answered (no agents),
	// and in Erlang A when the sum would take more than 1e7 terms (more
	// than ~1e7 callers waiting on average).
	ASA float64
	// MeanWait: mean time in queue of all arrivals, abandoned ones
	// included, in seconds (equal to ASA in Erlang C).
	MeanWait float64
	// Occupancy: share of agent time busy, carried load ÷ agents; 0
	// without agents.
	Occupancy float64
}

// noLoad is the performance of a queue with nothing to do: every contact
// (if any) is answered at once.
func noLoad(agents int) Performance {
	return Performance{Agents: agents, ServiceLevel: 1}
}

// erlangB returns the Erlang B blocking probability B(c, A) by the
// recursion B(0) = 1, B(n) = A·B(n-1) / (n + A·B(n-1)), which is stable for
// any load: no factorials, no powers. For c ≫ A it underflows to 0, which
// every caller treats as "never blocked".
func erlangB(c int, load float64) float64 {
	b := 1.0
	for n := 1; n <= c; n++ {
		b = nextErlangB(b, n, load)
	}
	return b
}

// nextErlangB is one step of the recursion: B(n) from B(n-1).
func nextErlangB(prev float64, n int, load float64) float64 {
	return load * prev / (float64(n) + load*prev)
}

// ErlangC returns the performance of an M/M/c queue (nobody abandons) with
// the given agents, the service level measured against thresholdSeconds.
// PatienceSeconds is ignored.
//
// With B = B(c, A) from the Erlang B recursion and A < c:
//
//	P(wait) = C(c, A) = B / (1 − (A/c)(1 − B))
//	SL(t)   = 1 − C(c, A) · exp(−(c − A) · t / AHT)
//	ASA     = C(c, A) · AHT / (c − A)
//	occupancy = A / c
//
// (the Erlang C formula written through Erlang B, as pyworkforce and CRAN
// ErlangC compute it). With A >= c the queue grows without bound: P(wait)
// is 1, the service level 0, ASA +Inf and occupancy 1 (0 without agents).
// A queue with no load (λ = 0 or AHT = 0) answers everyone at once.
func ErlangC(t Traffic, agents int, thresholdSeconds float64) (Performance, error) {
	if err := t.validate(false); err != nil {
		return Performance{}, err
	}
	if err := validateStaffing(agents, thresholdSeconds); err != nil {
		return Performance{}, err
	}
	load := t.Load()
	if load == 0 {
		return noLoad(agents), nil
	}
	return erlangCWith(agents, load, t.HandleSeconds, thresholdSeconds, erlangB(agents, load)), nil
}

// erlangCWith is ErlangC given b = B(c, A), for the search that walks the
// Erlang B recursion upward.
func erlangCWith(c int, load, aht, threshold, b float64) Performance {
	if float64(c) <= load {
		p := Performance{Agents: c, WaitProbability: 1, ASA: math.Inf(1), MeanWait: math.Inf(1)}
		if c > 0 {
			p.Occupancy = 1
		}
		return p
	}
	cf := float64(c)
	pw := b / (1 - load/cf*(1-b))
	asa := pw * aht / (cf - load)
	return Performance{
		Agents:          c,
		WaitProbability: pw,
		ServiceLevel:    clamp01(1 - pw*math.Exp(-(cf-load)*threshold/aht)),
		ASA:             asa,
		MeanWait:        asa,
		Occupancy:       load / cf,
	}
}

// ErlangA returns the performance of an M/M/c+M queue (exponential
// patience with mean t.PatienceSeconds) with the given agents, the service
// level measured against thresholdSeconds.
//
// # Formulas
//
// Write a = cμ/θ, y = λ/θ, z = exp(−θt), E = B(c, A) (Erlang B) and
// S(s, x) = Σ_{k≥0} x^k / (s(s+1)…(s+k)) = e^x x^(-s) γ(s, x) (see logS).
// The stationary probabilities are Erlang's below c, and above it
// p(c+j) = p(c) · y^j / ((a+1)…(a+j)), whose sum over j ≥ 0 is J = a·S(a, y).
// Normalising against the states below c (whose mass is p(c)(1−E)/E):
//
//	P(wait)    = J·E / (1 + (J − 1)·E)                       (PASTA)
//	P(ans|wait) = (1/ρ)(1 − 1/J),  ρ = A/c = y/a
//	P(abandon) = P(wait) · (1 − P(ans|wait))
//	occupancy  = A · (1 − P(abandon)) / c
//	MeanWait   = P(abandon) / θ                              (Little: θ·E[Q] = λ·P(abandon))
//
// (the forms Mandelbaum and Zeltyn give for Palm's model; pyworkforce's
// abandonment.py computes the same quantities from the truncated
// stationary distribution and uniformization instead.)
//
// Service level. A caller who finds j others waiting reaches an agent after
// T_j = Σ_{k=0..j} Exp(cμ + kθ) (each step: an agent frees up or one of the
// k ahead abandons), unless its own patience τ ~ Exp(θ) ends first, so
// P(answered within t | j) = E[e^(−θT_j); T_j ≤ t]. Since
// X = e^(−θT_j) ~ Beta(a, j+1) (a product of independent Beta(a+k, 1)),
// summing over j with the weights above collapses to one integral:
//
//	P(answered within t | wait) = (a/J) · [S(a+1, y) − z^(a+1) e^(y(1−z)) S(a+1, yz)]
//	SL(t) = 1 − P(wait) + P(wait) · P(answered within t | wait)
//
// where a·S(a+1, y)/J = P(ans|wait) (t → ∞) and the bracket vanishes at
// t = 0. ASA, the mean wait of answered callers, follows from
// E[T_j e^(−θT_j)] = (1/θ)(a/(a+j+1)) Σ_{k=0..j} 1/(a+1+k) summed over j
// (a sum of positive terms, O(max(y−a, 0) + √y) of them).
//
// Everything is evaluated in log space (log J can be 10⁵ for an overloaded
// queue) from the Erlang B recursion and logS; no factorials, no powers.
// These formulas were checked against an independent birth-death sum in
// 500-digit decimal arithmetic (testdata/reference.py).
//
// Limits: PatienceSeconds = +Inf (or above PatienceRatioLimit handle
// times) is Erlang C, except that with A >= c the
// excess abandons in the limit, P(abandon) = 1 − c/A; PatienceSeconds = 0
// (or below 1/PatienceRatioLimit handle times) is Erlang B (P(wait) = P(abandon) = B(c, A), SL = 1 − B(c, A)). Without
// agents everybody abandons. A queue with no load answers everyone at once.
func ErlangA(t Traffic, agents int, thresholdSeconds float64) (Performance, error) {
	return erlangA(t, agents, thresholdSeconds, true)
}

// erlangA is ErlangA; withASA false skips the ASA sum (ASA is then NaN),
// which no gauge shows and which costs O(y − a) terms for a badly
// understaffed queue.
func erlangA(t Traffic, agents int, thresholdSeconds float64, withASA bool) (Performance, error) {
	if err := t.validate(true); err != nil {
		return Performance{}, err
	}
	if err := validateStaffing(agents, thresholdSeconds); err != nil {
		return Performance{}, err
	}
	load := t.Load()
	if load == 0 {
		return noLoad(agents), nil
	}
	return erlangAWith(agents, t, thresholdSeconds, erlangB(agents, load), withASA), nil
}

// erlangAWith is erlangA given b = B(c, A), for the staffing search.
func erlangAWith(c int, t Traffic, threshold, b float64, withASA bool) Performance {
	load := t.Load()
	patience := effectivePatience(t)
	switch {
	case c == 0:
		return Performance{WaitProbability: 1, AbandonProbability: 1, ASA: math.NaN(), MeanWait: patience}
	case math.IsInf(patience, 1):
		p := erlangCWith(c, load, t.HandleSeconds, threshold, b)
		if float64(c) < load {
			p.AbandonProbability = 1 - float64(c)/load
		}
		return p
	case patience == 0:
		return Performance{
			Agents:             c,
			WaitProbability:    b,
			AbandonProbability: b,
			ServiceLevel:       1 - b,
			Occupancy:          math.Min(1, load*(1-b)/float64(c)),
		}
	}

	a := float64(c) * patience / t.HandleSeconds // cμ/θ
	y := t.ArrivalRate * patience                // λ/θ
	logJ := math.Log(a) + logS(a, y)
	// P(wait) = 1 / (1 + (1−E)/(E·J)); E underflowing to 0 gives 0.
	pWait := 1 / (1 + math.Exp(math.Log((1-b)/b)-logJ))
	// 1 − 1/J without cancellation when J is near 1.
	pAnsweredIfWait := a / y * -math.Expm1(-logJ)
	pAbandon := clamp01(pWait * (1 - pAnsweredIfWait))

	// The t-dependent term of P(answered within t | wait), in log space.
	theta := 1 / patience
	logTail := math.Log(a) + (a+1)*(-theta*threshold) + y*-math.Expm1(-theta*threshold) +
		logS(a+1, y*math.Exp(-theta*threshold)) - logJ
	answeredWithin := math.Max(0, pAnsweredIfWait-math.Exp(logTail))

	p := Performance{
		Agents:             c,
		WaitProbability:    pWait,
		AbandonProbability: pAbandon,
		ServiceLevel:       clamp01(1 - pWait + pWait*answeredWithin),
		ASA:                math.NaN(),
		MeanWait:           pAbandon * patience,
		Occupancy:          math.Min(1, load*(1-pAbandon)/float64(c)),
	}
	if withASA {
		p.ASA = pWait * patience * answeredWaitSum(a, y, logJ) / (1 - pAbandon)
	}
	return p
}

// maxASATerms bounds the work of the ASA sum: a queue so overloaded that
// more than this many callers wait on average (y − a) gets ASA NaN.
const maxASATerms = 1e7

// answeredWaitSum returns Σ_j (w_j/J) · a/(a+j+1) · Σ_{k=0..j} 1/(a+1+k),
// w_j = y^j / ((a+1)…(a+j)): θ·E[W; answered | wait]. The weights rise
// while a+j < y and then fall; the sum stops once past the peak a term is
// below 1e-17 of the total (or at a bound far past that).
func answeredWaitSum(a, y, logJ float64) float64 {
	peak := math.Max(0, y-a)
	if peak > maxASATerms {
		return math.NaN()
	}
	limit := int(peak) + maxIterations(y+a)
	logW := 0.0      // log w_j
	h := 1 / (a + 1) // Σ_{k=0..j} 1/(a+1+k)
	sum := 0.0
	for j := range limit {
		if j > 0 {
			logW += math.Log(y / (a + float64(j)))
			h += 1 / (a + 1 + float64(j))
		}
		term := math.Exp(logW-logJ) * a / (a + float64(j) + 1) * h
		sum += term
		if float64(j) > peak && term < sum*1e-17 {
			break
		}
	}
	return sum
}

// PatienceRatioLimit bounds the patience: ErlangA and RequiredAgents treat a patience more
// than PatienceRatioLimit times the handle time as infinite (Erlang C) and
// one less than 1/PatienceRatioLimit times it as zero (Erlang B). The
// models differ from these limits by O(handle/patience) (resp.
// O(patience/handle)) — about 1e-7 in the service level even near
// saturation — and the limits bound the work: a = cμ/θ stays below
// MaxAgents × PatienceRatioLimit.
const PatienceRatioLimit = 1e6

func effectivePatience(t Traffic) float64 {
	switch r := t.PatienceSeconds / t.HandleSeconds; {
	case r > PatienceRatioLimit:
		return math.Inf(1)
	case r < 1/PatienceRatioLimit:
		return 0
	}
	return t.PatienceSeconds
}

func clamp01(v float64) float64 {
	return math.Min(1, math.Max(0, v))
}
