package main

import (
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/smartassist-exporter/smartassist_exporter/capacity"
	"github.com/smartassist-exporter/smartassist_exporter/simulator"
)

// queueTruth is one queue's traffic in the capacity interval, computed by
// the test from the simulator's own records (not from the exporter).
type queueTruth struct {
	arrivals, answered, abandoned int
	handleSum, waitSum            float64
}

// capacityTruth applies the estimator's formulas to the simulator's
// records whose queue entry lies in (from, to]: the exporter must reach
// the same numbers through HTTP, the poller, Derive and the estimator.
func capacityTruth(convs []*simulator.Conversation, from, to time.Time) (map[string]*queueTruth, int) {
	out := map[string]*queueTruth{}
	entries := 0
	for _, c := range convs {
		for i, d := range c.Destinations {
			if !d.Queue {
				continue
			}
			entries++
			if !d.Enter.After(from) || d.Enter.After(to) {
				continue
			}
			name := strings.TrimSpace(d.QueueName)
			if name == "" {
				name = strings.TrimSpace(d.QueueID)
			}
			q := out[name]
			if q == nil {
				q = &queueTruth{}
				out[name] = q
			}
			q.arrivals++
			var waitEnd time.Time
			switch {
			case d.Responding != nil:
				q.answered++
				q.handleSum += float64(d.Responding.Interaction + max(d.Responding.ACW, 0))
				waitEnd = d.Responding.Accepted
			case i+1 < len(c.Destinations) && c.Destinations[i+1].Agent != nil:
				waitEnd = c.Destinations[i+1].Agent.Accepted // reassigned
			default:
				q.abandoned++
				waitEnd = c.End
			}
			q.waitSum += waitEnd.Sub(d.Enter).Seconds()
		}
	}
	return out, entries
}

// TestCapacityEndToEnd drives the simulator with a known arrival rate and
// an exponential handle time of known mean, runs the real exporter against
// it over HTTP, and checks every capacity gauge against the formulas:
//
//   - arrival rate, handle time, patience and offered load exactly (to
//     float rounding) against the same formulas applied to the simulator's
//     records: no sampling error, since it is the same sample, so this
//     proves each queue entry is fed once, with its entry time, wait and
//     handle time, under the right queue;
//   - the handle time also against the Profile's mean h: the mean of n
//     exponential handle times has standard error h/√n, and the test
//     allows 4 of them (a false failure about once in 16 000 runs);
//   - required and scheduled agents exactly against the capacity package
//     on the measured traffic (the models have golden tests of their own);
//   - with the live agent counts the simulator serves (20 a queue, one
//     sometimes away), staffing gap and predicted service level and
//     abandonment by the formulas with the staffed agents of the scrape;
//     a queue the live endpoints do not know (an id-only label) has none.
//
// Traffic is generated in three blocks with gaps at the interval's edges,
// so that the few seconds the test takes do not move an entry across an
// edge: the interval (now − 60m, now − 30m] holds exactly the middle block.
func TestCapacityEndToEnd(t *testing.T) {
	sim, apiURL := newSimulator(t)
	sim.SetLive(simulator.LiveOptions{RosterSize: 30, Staff: func(time.Time, string) int { return liveStaff }})
	now := time.Now().Truncate(time.Second)
	const handleMean = 240.0
	profile := simulator.Profile{PerHour: 2000, HandleSeconds: handleMean}
	var convs []*simulator.Conversation
	for _, block := range [][2]time.Duration{{-100 * time.Minute, -62 * time.Minute}, {-58 * time.Minute, -32 * time.Minute}, {-28 * time.Minute, -10 * time.Minute}} {
		convs = append(convs, sim.Generate(now.Add(block[0]), now.Add(block[1]), profile)...)
	}
	sim.Update(func(all []*simulator.Conversation) {
		for _, c := range all {
			c.OpenFrom, c.FinishedFrom, c.Broken = time.Time{}, now.Add(-time.Second), ""
		}
	})
	// Entries of the middle block enter at most 45 s after their start,
	// so before now − 31m15s: the scrape must come within 75 s of now.
	truth, entries := capacityTruth(convs, now.Add(-60*time.Minute), now.Add(-30*time.Minute))
	if len(truth) < 4 {
		t.Fatalf("scenario: %d queues with traffic in the interval", len(truth))
	}

	env := exporterEnv(apiURL, filepath.Join(t.TempDir(), "state.db"))
	e := startExporter(t, env)
	var mfs map[string]*dto.MetricFamily
	waitFor(t, 40*time.Second, fmt.Sprintf("%d queue entries fed to the estimator", entries), func() bool {
		mfs, _ = e.scrape(t)
		return sum(mfs, "smartassist_capacity_samples_total") >= float64(entries)
	})
	if time.Since(now) > 75*time.Second {
		t.Fatalf("the exporter took %v to count everything: entries may have left the interval", time.Since(now))
	}
	if got := sum(mfs, "smartassist_capacity_samples_total"); got != float64(entries) {
		t.Errorf("samples fed %v, want exactly the %d queue entries", got, entries)
	}

	opts := capacity.DefaultOptions()
	interval := opts.Interval.Seconds()
	target := capacity.Target{ServiceLevel: opts.ServiceLevelTarget, Seconds: opts.ServiceLevelSeconds, MaxOccupancy: opts.MaxOccupancy}
	allAnswered, allHandle := 0, 0.0
	for queue, q := range truth {
		t.Run(queue, func(t *testing.T) {
			gauge := func(name string, labels ...string) (float64, bool) {
				return findGauge(mfs, "smartassist_capacity_"+name, append([]string{"queue", queue}, labels...)...)
			}
			near := func(name string, want float64, labels ...string) {
				t.Helper()
				got, ok := gauge(name, labels...)
				if !ok || math.Abs(got-want) > 1e-9*math.Max(1, math.Abs(want)) {
					t.Errorf("%s%v = %v (present %v), want %v", name, labels, got, ok, want)
				}
			}
			traffic := capacity.Traffic{ArrivalRate: float64(q.arrivals) / interval, HandleSeconds: q.handleSum / float64(q.answered),
				PatienceSeconds: math.Inf(1)}
			near("arrival_rate", traffic.ArrivalRate)
			near("handle_seconds", traffic.HandleSeconds)
			near("offered_load_erlangs", traffic.Load())
			if q.abandoned > 0 {
				traffic.PatienceSeconds = q.waitSum / float64(q.abandoned)
				near("patience_seconds", traffic.PatienceSeconds)
			} else if _, ok := gauge("patience_seconds"); ok {
				t.Error("patience_seconds present without abandons")
			}
			for _, m := range capacity.Models {
				required, err := capacity.RequiredAgents(m, traffic, target)
				if err != nil {
					t.Fatal(err)
				}
				near("required_agents", float64(required), "model", string(m))
				near("required_scheduled_agents", float64(capacity.ScheduledAgents(required, opts.Shrinkage)), "model", string(m))
				t.Logf("%s: λ=%.4f/s AHT=%.1fs A=%.2f E %s: %d agents", queue, traffic.ArrivalRate, traffic.HandleSeconds, traffic.Load(), m, required)
			}
			// Staffing from the live agent counts, read in the same scrape:
			// the gap and the predictions follow from it by the formulas.
			staffed, ok := gauge("staffed_agents")
			if !ok {
				// The live endpoints know queues by name: an id-only
				// queue label has no staffing, so no staffing gauges.
				if strings.HasPrefix(queue, "qu-") {
					for _, name := range []string{"staffing_gap", "predicted_service_level", "predicted_abandon_ratio"} {
						if _, ok := findGaugeAny(mfs, "smartassist_capacity_"+name, queue); ok {
							t.Errorf("%s present for a queue without staffing", name)
						}
					}
					return
				}
				t.Fatalf("no staffed_agents for queue %s", queue)
			}
			// The simulator staffs 20 agents a queue, one of whom may be away.
			if staffed != liveStaff && staffed != liveStaff-1 {
				t.Errorf("staffed_agents %v, want %d or %d", staffed, liveStaff, liveStaff-1)
			}
			for _, m := range capacity.Models {
				required, _ := capacity.RequiredAgents(m, traffic, target)
				near("staffing_gap", float64(required)-staffed, "model", string(m))
				var p capacity.Performance
				var err error
				if m == capacity.ModelErlangC {
					p, err = capacity.ErlangC(traffic, int(staffed), opts.ServiceLevelSeconds)
				} else {
					p, err = capacity.ErlangA(traffic, int(staffed), opts.ServiceLevelSeconds)
				}
				if err != nil {
					t.Fatal(err)
				}
				near("predicted_service_level", p.ServiceLevel, "model", string(m))
				if m == capacity.ModelErlangA {
					near("predicted_abandon_ratio", p.AbandonProbability)
				}
			}
		})
		allAnswered += q.answered
		allHandle += q.handleSum
	}
	// The handle time against the Profile's mean, within the sampling error.
	mean, se := allHandle/float64(allAnswered), handleMean/math.Sqrt(float64(allAnswered))
	if math.Abs(mean-handleMean) > 4*se {
		t.Errorf("mean handle time %.1f s over %d answered entries, want %.0f ± %.1f (4 standard errors)", mean, allAnswered, handleMean, 4*se)
	}
	t.Logf("handle time %.1f s over %d answered entries (Profile mean %.0f, standard error %.1f)", mean, allAnswered, handleMean, se)
	e.stop(t)
}

// liveStaff is the agents the simulator's live endpoints log in per queue.
const liveStaff = 20

// findGaugeAny reports whether any series of the family has this queue.
func findGaugeAny(mfs map[string]*dto.MetricFamily, name, queue string) (float64, bool) {
	for _, m := range mfs[name].GetMetric() {
		if promLabels(m)["queue"] == queue {
			return m.GetGauge().GetValue(), true
		}
	}
	return 0, false
}

// findGauge returns the value of the gauge series with exactly these
// label pairs (name, value, ...).
func findGauge(mfs map[string]*dto.MetricFamily, name string, pairs ...string) (float64, bool) {
	mf := mfs[name]
	if mf == nil {
		return 0, false
	}
series:
	for _, m := range mf.GetMetric() {
		if len(m.GetLabel()) != len(pairs)/2 {
			continue
		}
		for _, l := range m.GetLabel() {
			found := false
			for i := 0; i+1 < len(pairs); i += 2 {
				if pairs[i] == l.GetName() && pairs[i+1] == l.GetValue() {
					found = true
				}
			}
			if !found {
				continue series
			}
		}
		return m.GetGauge().GetValue(), true
	}
	return 0, false
}
