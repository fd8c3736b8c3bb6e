package metrics

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/smartassist-exporter/smartassist_exporter/conversation"
)

// durationFamilies are the histograms that carry exemplars.
var durationFamilies = []string{
	"smartassist_conversation_duration_seconds", "smartassist_first_response_seconds", "smartassist_interaction_seconds",
	"smartassist_hold_seconds", "smartassist_after_call_work_seconds", "smartassist_handle_seconds",
	"smartassist_queue_wait_seconds", "smartassist_consult_seconds",
}

func TestExemplarIDs(t *testing.T) {
	for _, tc := range []struct {
		id   string
		want bool
	}{
		{"c-185d9c5-9ac3-4313-8073-8697b2a6xxxx", true},
		{"  c-1 ", true}, // trimmed like the dedup key
		{"a.b_c:d-E9", true},
		{"", false},
		{strings.Repeat("c", maxExemplarIDRunes), true},
		{strings.Repeat("c", maxExemplarIDRunes+1), false}, // client_golang would panic
		{strings.Repeat("c", 40000), false},
		{"c-1 with space", false},
		{"c-1\n", true},   // trailing new line trimmed
		{"c-\x00", false}, // control character
		{"c-é", false},    // outside the conservative charset
		{"c-1\"}", false}, // would end the exemplar early in a naive writer
		{"+491701234567", false},
	} {
		c := conversation.Conversation{ConversationID: conversation.Text(tc.id)}
		ex := Exemplar(&c)
		if got := ex != nil; got != tc.want {
			t.Errorf("Exemplar(%q) = %v, want an exemplar: %v", tc.id, ex, tc.want)
			continue
		}
		if ex != nil {
			if len(ex) != 1 || ex[ExemplarLabel] != strings.TrimSpace(tc.id) {
				t.Errorf("Exemplar(%q) = %v: only the trimmed id", tc.id, ex)
			}
			// What client_golang checks, and panics on, at observation.
			h := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "h", Help: "h"})
			h.(prometheus.ExemplarObserver).ObserveWithExemplar(1, ex)
		}
	}
	// A bot-only session has no conversation id: no exemplar, no
	// "session:" key either.
	if ex := Exemplar(&conversation.Conversation{SessionID: "68db7457"}); ex != nil {
		t.Errorf("session-only record: %v", ex)
	}
}

// gatherExemplars observes every finished sample record into a registry
// with opts and returns, per family, the exemplar ids found.
func gatherExemplars(t *testing.T, opts Options, mutate func(*conversation.Conversation)) (map[string][]string, *prometheus.Registry, *Metrics) {
	t.Helper()
	reg := prometheus.NewRegistry()
	m := New(reg, opts)
	for _, c := range seedRecords(t) {
		if c.Finished() {
			if mutate != nil {
				mutate(c)
			}
			m.Observe(c)
		}
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, mf := range mfs {
		for _, mt := range mf.GetMetric() {
			var exs []*dto.Exemplar
			if h := mt.GetHistogram(); h != nil {
				for _, b := range h.GetBucket() {
					if b.GetExemplar() != nil {
						exs = append(exs, b.GetExemplar())
					}
				}
				exs = append(exs, h.GetExemplars()...)
			}
			if c := mt.GetCounter(); c != nil && c.GetExemplar() != nil {
				exs = append(exs, c.GetExemplar())
			}
			for _, e := range exs {
				if len(e.GetLabel()) != 1 || e.GetLabel()[0].GetName() != ExemplarLabel {
					t.Errorf("%s: exemplar labels %v, want only %s", mf.GetName(), e.GetLabel(), ExemplarLabel)
				}
				if ts := e.GetTimestamp().AsTime(); time.Since(ts) > time.Minute || time.Until(ts) > time.Minute {
					t.Errorf("%s: exemplar time %v is not the time of counting", mf.GetName(), ts)
				}
				out[mf.GetName()] = append(out[mf.GetName()], e.GetLabel()[0].GetValue())
			}
		}
	}
	return out, reg, m
}

func TestExemplarsOnDurationHistograms(t *testing.T) {
	recs := seedRecords(t)
	opts := DefaultOptions()
	opts.Exemplars = true
	got, _, m := gatherExemplars(t, opts, nil)
	for _, name := range durationFamilies {
		if len(got[name]) == 0 {
			t.Errorf("%s: no exemplar", name)
		}
		for _, id := range got[name] {
			if c := recs[id]; c == nil || !c.Finished() {
				t.Errorf("%s: exemplar %q is not a finished sample conversation", name, id)
			}
		}
	}
	for name := range got {
		if !contains(durationFamilies, name) {
			t.Errorf("%s carries exemplars; only the duration histograms should", name)
		}
	}
	// The sample's bot-only sessions have no conversation id.
	if n := testutil.ToFloat64(m.exemplarsSkipped); n < 1 {
		t.Errorf("exemplars skipped: %v, want the bot-only sessions", n)
	}

	off, _, _ := gatherExemplars(t, DefaultOptions(), nil)
	if len(off) != 0 {
		t.Errorf("exemplars without the option: %v", off)
	}
}

// TestHostileIDsSkipExemplarsOnly: an id no exemplar may hold costs the
// exemplar, never the observation, and never panics.
func TestHostileIDsSkipExemplarsOnly(t *testing.T) {
	opts := DefaultOptions()
	opts.Exemplars = true
	hostile := func(c *conversation.Conversation) {
		if c.ConversationID != "" {
			c.ConversationID = conversation.Text(strings.Repeat("é", 200) + string(c.ConversationID))
		}
	}
	got, reg, m := gatherExemplars(t, opts, hostile)
	if len(got) != 0 {
		t.Errorf("exemplars with hostile ids: %v", got)
	}
	_, plain, _ := gatherExemplars(t, DefaultOptions(), nil)
	if n := testutil.ToFloat64(m.exemplarsSkipped); n != 19 {
		t.Errorf("exemplars skipped %v, want all 19 finished sample records", n)
	}
	for _, name := range durationFamilies {
		a, _ := testutil.GatherAndCount(reg, name)
		b, _ := testutil.GatherAndCount(plain, name)
		if a != b || a == 0 {
			t.Errorf("%s: %d series with hostile ids, %d without", name, a, b)
		}
	}
}

func TestImplausibleDurations(t *testing.T) {
	for _, v := range []float64{1e308, math.Inf(1), math.NaN(), -1, MaxPlausibleDuration.Seconds() + 1} {
		rec := `{"conversationId":"c-x","channel":"Chat","finalStatus":"CLOSED","sessionStartTime":"2025-01-01T10:00:00",
			"sessionEndTime":"2025-01-01T10:05:00",
			"destinations":[{"destinationType":"AgentSegment","status":"Answered","acceptedTime":"2025-01-01T10:00:05",
				"interactionDuration":` + jsonNumber(v) + `,"afterCallWorkDuration":10}]}`
		p, err := conversation.DecodePage([]byte(`{"data":[`+rec+`]}`), time.UTC)
		if err != nil || len(p.Records) != 1 {
			t.Fatalf("%v: record not decoded: %v %+v", v, err, p.Invalid)
		}
		reg := prometheus.NewRegistry()
		m := New(reg, DefaultOptions())
		m.Observe(&p.Records[0])
		if n := testutil.CollectAndCount(m.interaction) + testutil.CollectAndCount(m.handle); n != 0 {
			t.Errorf("%v: interaction or handle observed (%d series)", v, n)
		}
		invalid := 0.0
		for _, reason := range []string{ReasonImplausible, ReasonNotNumber, ReasonNegative} {
			invalid += testutil.ToFloat64(m.invalidValues.WithLabelValues(FieldInteraction, reason))
		}
		if invalid != 1 {
			t.Errorf("%v: counted %v times as invalid, want once", v, invalid)
		}
		// The rest of the conversation still flows.
		if n := testutil.CollectAndCount(m.acw); n != 1 {
			t.Errorf("%v: after-call work not observed", v)
		}
		mfs, _ := reg.Gather()
		for _, mf := range mfs {
			for _, mt := range mf.GetMetric() {
				if s := mt.GetHistogram().GetSampleSum(); math.IsInf(s, 0) || math.IsNaN(s) {
					t.Errorf("%v: %s _sum is %v", v, mf.GetName(), s)
				}
			}
		}
	}
	if got := Derive(&conversation.Conversation{}); got.Duration.OK {
		t.Error("duration without times")
	}
	var o Observations
	if v := o.nonNegative(FieldHold, MaxPlausibleDuration.Seconds()); !v.OK {
		t.Error("exactly MaxPlausibleDuration is plausible")
	}
	if v := o.nonNegative(FieldHold, MaxPlausibleDuration.Seconds()*1.0001); v.OK || o.Invalid[0] != (InvalidValue{FieldHold, ReasonImplausible}) {
		t.Errorf("over MaxPlausibleDuration: %+v %+v", v, o.Invalid)
	}
}

func jsonNumber(v float64) string {
	switch {
	case math.IsNaN(v):
		return `"NaN"`
	case math.IsInf(v, 1):
		return `"Infinity"`
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// TestKnownOutcomesNeverFold: a flood of odd nonResponseEvent values fills
// the outcome cap, and the documented outcomes still keep their names.
func TestKnownOutcomesNeverFold(t *testing.T) {
	m := New(prometheus.NewRegistry(), DefaultOptions())
	var offers []OfferObs
	for i := range 50 {
		offers = append(offers, OfferObs{Queue: "Sales", Outcome: "odd_event_" + strings.Repeat("x", i)})
	}
	m.Record(&Observations{Channel: "Voice", Direction: "inbound", Status: "CLOSED", Offers: offers})
	known := []string{OutcomeAnswered, OfferMissed, OfferIgnored, OfferSupervisorReassigned}
	var later []OfferObs
	for _, o := range known {
		later = append(later, OfferObs{Queue: "Sales", Outcome: o})
	}
	m.Record(&Observations{Channel: "Voice", Direction: "inbound", Status: "CLOSED", Offers: later})
	for _, o := range known {
		if got := testutil.ToFloat64(m.offers.WithLabelValues("Voice", "Sales", o)); got != 1 {
			t.Errorf("outcome %s: %v, want 1 (folded into other?)", o, got)
		}
	}
	if got := testutil.ToFloat64(m.offers.WithLabelValues("Voice", "Sales", OtherValue)); got != 40 {
		t.Errorf("other: %v, want 40 (50 odd values, 10 kept)", got)
	}
	if got := testutil.ToFloat64(m.folded.WithLabelValues("outcome")); got != 40 {
		t.Errorf("folded outcomes: %v, want 40", got)
	}
}

func TestNativeHistogramsOptIn(t *testing.T) {
	opts := DefaultOptions()
	opts.NativeHistograms = true
	reg := prometheus.NewRegistry()
	m := New(reg, opts)
	m.Record(&Observations{Channel: "Voice", Direction: "inbound", Status: "CLOSED", Duration: s(60),
		Segments: []SegmentObs{{Queue: "q", Interaction: s(200), ACW: s(30), Handle: s(230)}}})
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	for _, mf := range mfs {
		if contains(durationFamilies, mf.GetName()) {
			found++
			h := mf.GetMetric()[0].GetHistogram()
			if h.Schema == nil || len(h.GetPositiveSpan()) == 0 || len(h.GetBucket()) != len(DurationBuckets) {
				t.Errorf("%s: schema %v, %d native spans, %d classic buckets", mf.GetName(), h.Schema, len(h.GetPositiveSpan()), len(h.GetBucket()))
			}
		}
	}
	if found != 4 { // duration, interaction, after-call work, handle
		t.Errorf("%d duration families observed, want 4", found)
	}
}

func contains(list []string, v string) bool { return slices.Contains(list, v) }
