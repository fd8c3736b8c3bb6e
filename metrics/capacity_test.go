package metrics

import (
	"math"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/smartassist-exporter/smartassist_exporter/capacity"
)

func TestCapacitySample(t *testing.T) {
	entered := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		in   QueueEntryObs
		want capacity.Sample
	}{
		{"answered", QueueEntryObs{Queue: "raw", Outcome: OutcomeAnswered, Wait: s(12.5), Entered: entered, Handle: s(300)},
			capacity.Sample{Queue: "Sales", Entered: entered, Outcome: capacity.Answered, Wait: 12500 * time.Millisecond, Handle: 300 * time.Second}},
		{"abandoned", QueueEntryObs{Outcome: OutcomeAbandoned, Wait: s(40), Entered: entered},
			capacity.Sample{Queue: "Sales", Entered: entered, Outcome: capacity.Abandoned, Wait: 40 * time.Second, Handle: -1}},
		{"reassigned is neither answered nor abandoned by the queue", QueueEntryObs{Outcome: OutcomeReassigned, Wait: s(22), Entered: entered},
			capacity.Sample{Queue: "Sales", Entered: entered, Outcome: capacity.Other, Wait: 22 * time.Second, Handle: -1}},
		{"unknown wait, handle and entry time", QueueEntryObs{Outcome: OutcomeAnswered},
			capacity.Sample{Queue: "Sales", Outcome: capacity.Answered, Wait: -1, Handle: -1}},
		{"absurd wait saturates", QueueEntryObs{Outcome: OutcomeAbandoned, Wait: s(1e300), Entered: entered},
			capacity.Sample{Queue: "Sales", Entered: entered, Outcome: capacity.Abandoned, Wait: math.MaxInt64, Handle: -1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := CapacitySample("Sales", tc.in); got != tc.want {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

// TestCapacityFeed: every queue entry Record counts reaches the estimator
// once, under the same bounded queue label as queue_entries_total.
func TestCapacityFeed(t *testing.T) {
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	opts := capacity.DefaultOptions()
	est, err := capacity.NewEstimator(opts, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	mopts := DefaultOptions()
	mopts.MaxQueues = 2
	mopts.Capacity = est
	m := New(prometheus.NewRegistry(), mopts)
	// In the interval (12:00 − 30m settle − 30m, 12:00 − 30m]: 11:15.
	inInterval := now.Add(-45 * time.Minute)
	for _, q := range []string{"Sales", "Support", "Billing", "Sales", "Retention"} {
		m.Record(&Observations{Channel: "Voice", Direction: "inbound", Status: "CLOSED",
			QueueEntries: []QueueEntryObs{
				{Queue: q, Outcome: OutcomeAnswered, Wait: s(10), Entered: inInterval, Handle: s(180)},
				{Queue: q, Outcome: OutcomeAbandoned, Wait: s(30), Entered: inInterval.Add(time.Minute)},
			}})
	}
	// No entry time: counted by the counters, invalid for the plan.
	m.Record(&Observations{Channel: "Voice", QueueEntries: []QueueEntryObs{{Queue: "Sales", Outcome: OutcomeAbandoned}}})

	got := map[string]capacity.Estimate{}
	for _, e := range est.Estimates() {
		got[e.Queue] = e
	}
	for q, arrivals := range map[string]int{"Sales": 4, "Support": 2, OtherValue: 4} {
		e, ok := got[q]
		if !ok {
			t.Errorf("queue %q: no estimate", q)
			continue
		}
		counted := testutil.ToFloat64(m.queueEntries.WithLabelValues("Voice", q, OutcomeAnswered)) +
			testutil.ToFloat64(m.queueEntries.WithLabelValues("Voice", q, OutcomeAbandoned))
		if q == "Sales" {
			counted-- // the entry without an entry time
		}
		if e.Arrivals != arrivals || float64(e.Arrivals) != counted {
			t.Errorf("queue %q: %d arrivals in the plan, %v counted, want %d", q, e.Arrivals, counted, arrivals)
		}
		if e.Answered != arrivals/2 || e.Abandoned != arrivals/2 || e.HandleSeconds != 180 {
			t.Errorf("queue %q: %+v", q, e)
		}
		// Σ wait ÷ abandons = (10 + 30) × n/2 ÷ n/2.
		if e.PatienceSeconds != 40 {
			t.Errorf("queue %q: patience %v, want 40", q, e.PatienceSeconds)
		}
	}
	if len(got) != 3 {
		t.Errorf("estimates for %d queues, want 3 (Sales, Support, other): %+v", len(got), got)
	}
	if r := est.Results(); r[capacity.SampleLate] != 10 || r[capacity.SampleInvalid] != 1 {
		t.Errorf("results %v, want 10 late (entered before the settle time) and 1 invalid", r)
	}
}
