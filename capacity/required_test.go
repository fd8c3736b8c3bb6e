package capacity

import (
	"errors"
	"fmt"
	"math"
	"testing"
	"time"
)

var defaultTarget = Target{ServiceLevel: 0.8, Seconds: 20, MaxOccupancy: 0.85}

// meets evaluates the public model functions directly: the definition
// RequiredAgents must agree with.
func meets(t *testing.T, m Model, tr Traffic, g Target, c int) bool {
	t.Helper()
	var p Performance
	var err error
	if m == ModelErlangC {
		p, err = ErlangC(tr, c, g.Seconds)
	} else {
		p, err = ErlangA(tr, c, g.Seconds)
	}
	if err != nil {
		t.Fatal(err)
	}
	return p.ServiceLevel >= g.ServiceLevel && p.Occupancy <= g.MaxOccupancy
}

// TestRequiredAgentsReference: with the reference traffic and the default
// targets (80 % in 20 s, occupancy ≤ 85 %), Erlang C needs 14 agents (13
// give 0.7956, 14 give 0.8884) and Erlang A 13 (12 give 0.7723, 13 give
// 0.8582 at occupancy 0.750): the golden values of erlang_test.go.
func TestRequiredAgentsReference(t *testing.T) {
	for m, want := range map[Model]int{ModelErlangC: 14, ModelErlangA: 13} {
		got, err := RequiredAgents(m, reference, defaultTarget)
		if err != nil || got != want {
			t.Errorf("%s: %d, %v; want %d", m, got, err, want)
		}
	}
	// 2 Erlangs at AHT 72 s: occupancy alone needs 3 (2/0.85 = 2.35), but
	// Erlang C gives 3 agents 0.6633 and 4 agents 0.9002.
	got, err := RequiredAgents(ModelErlangC, Traffic{ArrivalRate: 1.0 / 36, HandleSeconds: 72}, defaultTarget)
	if err != nil || got != 4 {
		t.Errorf("2 Erlangs: %d, %v; want 4", got, err)
	}
}

// TestRequiredAgentsMinimal: over a grid of loads, patiences and targets
// (service level binding, occupancy binding), the answer meets the target
// and one agent fewer does not.
func TestRequiredAgentsMinimal(t *testing.T) {
	loads := []float64{0.01, 0.4, 1, 3.3, 10, 27.5, 100, 500}
	if testing.Short() {
		loads = loads[:6]
	}
	for _, load := range loads {
		for _, patience := range []float64{0, 0.5, 10, 120, 300, 3600, 1e7, math.Inf(1)} {
			for _, g := range []Target{
				defaultTarget,
				{ServiceLevel: 0.9, Seconds: 15, MaxOccupancy: 1},
				{ServiceLevel: 0.5, Seconds: 60, MaxOccupancy: 1},
				{ServiceLevel: 0.95, Seconds: 0, MaxOccupancy: 0.7},
			} {
				tr := Traffic{ArrivalRate: load / 240, HandleSeconds: 240, PatienceSeconds: patience}
				for _, m := range Models {
					c, err := RequiredAgents(m, tr, g)
					if err != nil {
						t.Fatalf("%s A=%g patience %g %+v: %v", m, load, patience, g, err)
					}
					if !meets(t, m, tr, g, c) || (c > 0 && meets(t, m, tr, g, c-1)) {
						t.Errorf("%s A=%g patience %g %+v: %d agents is not the smallest staffing meeting the target", m, load, patience, g, c)
					}
				}
			}
		}
	}
}

// TestRequiredAgentsMonotone: never fewer agents for more load, a higher
// target, a shorter threshold or a lower maximum occupancy.
func TestRequiredAgentsMonotone(t *testing.T) {
	for _, patience := range []float64{30, 300, math.Inf(1)} {
		for _, m := range Models {
			prev := 0
			for load := 0.05; load < 400; load *= 1.07 {
				c, err := RequiredAgents(m, Traffic{ArrivalRate: load / 180, HandleSeconds: 180, PatienceSeconds: patience}, defaultTarget)
				if err != nil {
					t.Fatal(err)
				}
				if c < prev {
					t.Errorf("%s patience %g: load %g needs %d agents, less than %d for a lower load", m, patience, load, c, prev)
				}
				prev = c
			}
			tr := Traffic{ArrivalRate: 25.0 / 180, HandleSeconds: 180, PatienceSeconds: patience}
			prev = 0
			for sl := 0.05; sl < 0.995; sl += 0.01 {
				c, _ := RequiredAgents(m, tr, Target{ServiceLevel: sl, Seconds: 20, MaxOccupancy: 1})
				if c < prev {
					t.Errorf("%s patience %g: target %g needs %d agents, less than %d for a lower target", m, patience, sl, c, prev)
				}
				prev = c
			}
			prev = math.MaxInt
			for sec := 0.0; sec <= 600; sec += 5 {
				c, _ := RequiredAgents(m, tr, Target{ServiceLevel: 0.8, Seconds: sec, MaxOccupancy: 1})
				if c > prev {
					t.Errorf("%s patience %g: threshold %g s needs %d agents, more than %d for a shorter one", m, patience, sec, c, prev)
				}
				prev = c
			}
			prev = math.MaxInt
			for occ := 0.3; occ <= 1; occ += 0.01 {
				c, _ := RequiredAgents(m, tr, Target{ServiceLevel: 0.8, Seconds: 20, MaxOccupancy: occ})
				if c > prev {
					t.Errorf("%s patience %g: max occupancy %g needs %d agents, more than %d for a lower one", m, patience, occ, c, prev)
				}
				prev = c
			}
		}
	}
}

// TestRequiredAgentsCap: a load no staffing up to MaxAgents serves is an
// error, returned fast (no search past the cap).
func TestRequiredAgentsCap(t *testing.T) {
	start := time.Now()
	for _, load := range []float64{MaxAgents, 0.95 * MaxAgents, 1e12} {
		for _, m := range Models {
			tr := Traffic{ArrivalRate: load / 180, HandleSeconds: 180, PatienceSeconds: 300}
			if c, err := RequiredAgents(m, tr, defaultTarget); !errors.Is(err, ErrAboveMaxAgents) {
				t.Errorf("%s %g Erlangs: %d, %v; want ErrAboveMaxAgents", m, load, c, err)
			}
		}
	}
	// A generous bound on a shared machine: the searches take milliseconds.
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("refusing loads above the cap took %v", d)
	}
}

func TestMinAgentsForOccupancy(t *testing.T) {
	for _, tc := range []struct {
		load, occ float64
		want      int
	}{{8.5, 0.85, 10}, {10, 0.85, 12}, {10, 1, 10}, {0.1, 0.85, 1}, {17, 0.85, 20}, {7, 0.7, 10}} {
		if got := minAgentsForOccupancy(tc.load, tc.occ); got != tc.want {
			t.Errorf("minAgentsForOccupancy(%g, %g) = %d, want %d", tc.load, tc.occ, got, tc.want)
		}
	}
}

func TestScheduledAgents(t *testing.T) {
	for _, tc := range []struct {
		required  int
		shrinkage float64
		want      int
	}{{7, 0.3, 10}, {14, 0.3, 20}, {13, 0.3, 19}, {0, 0.3, 0}, {1, 0, 1}, {10, 0.5, 20}, {100, 0.35, 154}} {
		if got := ScheduledAgents(tc.required, tc.shrinkage); got != tc.want {
			t.Errorf("ScheduledAgents(%d, %g) = %d, want %d", tc.required, tc.shrinkage, got, tc.want)
		}
	}
}

// naiveRequired is the textbook search (pyworkforce's and the CRAN
// package's): from ceil(A) upward, every candidate evaluated from scratch
// (the Erlang B recursion from 0 and, for Erlang A, every quantity). It is
// the reference the benchmarks compare against.
func naiveRequired(m Model, tr Traffic, g Target) int {
	for c := max(1, int(math.Ceil(tr.Load()))); ; c++ {
		var p Performance
		if m == ModelErlangC {
			p, _ = ErlangC(tr, c, g.Seconds)
		} else {
			p, _ = ErlangA(tr, c, g.Seconds)
		}
		if p.ServiceLevel >= g.ServiceLevel && p.Occupancy <= g.MaxOccupancy {
			return c
		}
	}
}

// BenchmarkRequiredAgents: the search at 10, 100 and 1000 Erlangs (AHT
// 180 s, patience 300 s, 80 % in 20 s), with the default 85 % occupancy
// cap and without one (the service level then decides, a longer search);
// naive is the textbook linear search in the same run.
func BenchmarkRequiredAgents(b *testing.B) {
	for _, occ := range []float64{0.85, 1} {
		for _, m := range Models {
			for _, load := range []float64{10, 100, 1000} {
				tr := Traffic{ArrivalRate: load / 180, HandleSeconds: 180, PatienceSeconds: 300}
				g := Target{ServiceLevel: 0.8, Seconds: 20, MaxOccupancy: occ}
				for _, impl := range []string{"search", "naive"} {
					b.Run(fmt.Sprintf("occ=%g/%s/%gE/%s", occ, m, load, impl), func(b *testing.B) {
						agents := 0
						for b.Loop() {
							if impl == "search" {
								agents, _ = RequiredAgents(m, tr, g)
							} else {
								agents = naiveRequired(m, tr, g)
							}
						}
						b.ReportMetric(float64(agents), "agents")
					})
				}
			}
		}
	}
}

// FuzzModels: for any input, the models return an error or probabilities
// in [0, 1], and RequiredAgents an error or a staffing that meets the
// target (go test -fuzz FuzzModels ./capacity explores further).
func FuzzModels(f *testing.F) {
	f.Add(100.0/1800, 180.0, 300.0, 14, 20.0, 0.8, 0.85)
	f.Add(5.0, 200.0, 1e6, 900, 0.0, 0.99, 1.0)
	f.Add(1e-9, 1e-9, 1e-9, 0, 1e9, 0.01, 0.01)
	f.Add(3.0, 3600.0, 0.0, 1, 20.0, 0.5, 0.5)
	f.Fuzz(func(t *testing.T, rate, handle, patience float64, agents int, threshold, sl, occ float64) {
		tr := Traffic{ArrivalRate: rate, HandleSeconds: handle, PatienceSeconds: patience}
		agents %= 20000
		for _, m := range Models {
			var p Performance
			var err error
			if m == ModelErlangC {
				p, err = ErlangC(tr, agents, threshold)
			} else {
				p, err = erlangA(tr, agents, threshold, false)
			}
			if err == nil {
				for _, v := range []float64{p.WaitProbability, p.AbandonProbability, p.ServiceLevel, p.Occupancy} {
					if !(v >= 0 && v <= 1) {
						t.Fatalf("%s %+v c=%d t=%g: %+v", m, tr, agents, threshold, p)
					}
				}
			}
			g := Target{ServiceLevel: sl, Seconds: threshold, MaxOccupancy: occ}
			c, err := RequiredAgents(m, tr, g)
			if err == nil && c < 2000 && !meets(t, m, tr, g, c) {
				t.Fatalf("%s %+v %+v: %d agents do not meet the target", m, tr, g, c)
			}
		}
	})
}
