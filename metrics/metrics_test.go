package metrics

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"

	"github.com/smartassist-exporter/smartassist_exporter/conversation"
)

var update = flag.Bool("update", false, "rewrite the golden exposition files in testdata/")

func seedRecords(t testing.TB) map[string]*conversation.Conversation {
	t.Helper()
	out := map[string]*conversation.Conversation{}
	for _, name := range []string{"calldetails_2024.json", "calldetails_2026.json"} {
		b, err := os.ReadFile(filepath.Join("..", "testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		p, err := conversation.DecodePage(b, time.UTC)
		if err != nil || len(p.Invalid) > 0 {
			t.Fatalf("%s: %v %v", name, err, p.Invalid)
		}
		for i := range p.Records {
			out[p.Records[i].Key()] = &p.Records[i]
		}
	}
	return out
}

func s(v float64) Opt { return Opt{V: v, OK: true} }

// at is an RFC 3339 time of the sample records, in UTC as they decode.
func at(v string) time.Time {
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		panic(err)
	}
	return t
}

// TestDeriveTrickyRecords compares Derive with expectations computed by
// hand from the sample records.
func TestDeriveTrickyRecords(t *testing.T) {
	recs := seedRecords(t)
	for _, tc := range []struct {
		key  string
		want Observations
	}{
		{
			// Queue entry whose offered agent was passed over by a
			// supervisor, then a direct agent answered: reassigned.
			key: "c-252425a-903a-469e-b16d-eee318e3xxxx",
			want: Observations{
				Channel: "Web/Mobile Client", Direction: "inbound", Status: "CLOSED",
				Duration: s(57), // 15:30:04 → 15:31:01
				Segments: []SegmentObs{{Queue: QueueDirect, Agent: "u-3ea001b4-664a-58b6-8108-b8bca37xxxxx",
					Interaction: s(15), ACW: s(32), Handle: s(47)}},
				QueueEntries: []QueueEntryObs{{Queue: "Default Queue", Outcome: OutcomeReassigned, Wait: s(22), Entered: at("2025-10-01T15:30:23Z")}}, // 15:30:23 → accepted 15:30:45
				Offers: []OfferObs{
					{Queue: "Default Queue", Outcome: "supervisor_reassigned", Agent: "u-3ea001b4-664a-58b6-8108-b8bca375xxxx"},
					{Queue: QueueDirect, Outcome: OutcomeAnswered, Agent: "u-3ea001b4-664a-58b6-8108-b8bca37xxxxx"},
				},
			},
		},
		{
			// Bot-only session: no conversationId, no direction, no agent.
			key:  "session:68db745779cb8cebd651xxxx",
			want: Observations{Channel: "Web/Mobile Client", Direction: "unknown", Status: "BotResolved", Duration: s(11)},
		},
		{
			// Voice call with hold and a consult (2024 API).
			key: "c-185d9c5-9ac3-4313-8073-8697b2a6xxxx",
			want: Observations{
				Channel: "Voice", Direction: "inbound", Status: "CLOSED", Duration: s(118), // 17:18:03 → 17:20:01
				Segments: []SegmentObs{{Queue: "Default Queue", Agent: "u-13034353-c9bc-53c8-845d-f8ce869fxxxx",
					FirstResponse: s(0), Interaction: s(104), Hold: s(57), Handle: s(104)}},
				QueueEntries: []QueueEntryObs{{Queue: "Default Queue", Outcome: OutcomeAnswered, Wait: s(16), Entered: at("2024-11-18T17:18:04Z"), Handle: s(104)}}, // 17:18:04 → 17:18:20
				Offers:       []OfferObs{{Queue: "Default Queue", Outcome: OutcomeAnswered, Agent: "u-13034353-c9bc-53c8-845d-f8ce869fxxxx"}},
				Consults:     []ConsultObs{{Queue: "Default Queue", Seconds: 62}}, // 17:18:55 → 17:19:57
			},
		},
		{
			// Consult, ACW and a callback-free queue (2026 API).
			key: "c-b48e690-7d7c-4e72-9855-a669d688xxxx",
			want: Observations{
				Channel: "Voice", Direction: "inbound", Status: "CLOSED", Duration: s(66),
				Segments: []SegmentObs{{Queue: "Default Queue", Agent: "u-e3f58196-0f28-5419-9601-dc136e8dxxxx",
					FirstResponse: s(0), Interaction: s(49), ACW: s(4), Handle: s(53)}},
				QueueEntries: []QueueEntryObs{{Queue: "Default Queue", Outcome: OutcomeAnswered, Wait: s(9), Entered: at("2025-09-30T12:37:11Z"), Handle: s(53)}},
				Offers:       []OfferObs{{Queue: "Default Queue", Outcome: OutcomeAnswered, Agent: "u-e3f58196-0f28-5419-9601-dc136e8dxxxx"}},
				Consults:     []ConsultObs{{Queue: "Default Queue", Seconds: 11}},
				Dispositions: []string{"Requires Supervisor Attention"},
			},
		},
		{
			// Abandoned in queue: waited to the end of the session.
			key: "c-43bc8a3-782e-436a-a646-755ad98exxxx",
			want: Observations{
				Channel: "telegram", Direction: "inbound", Status: "CLOSED", Duration: s(182),
				QueueEntries: []QueueEntryObs{{Queue: "Default Queue", Outcome: OutcomeAbandoned, Wait: s(181), Entered: at("2024-11-18T18:53:38Z")}}, // 18:53:38 → 18:56:39
				Dispositions: []string{"DROP-OFF"},
			},
		},
		{
			// Outbound campaign call, attempt as a number, no destinations.
			key: "c-9c9a4c6-6614-4adc-9a29-12e4278xxxxx",
			want: Observations{Channel: "Voice", Direction: "outbound", Status: "CLOSED", Duration: s(0),
				Campaign: &CampaignObs{Name: "Jan 23 hotfix check (Copy)", ContactStatus: "no-answer"}},
		},
		{
			// Callback opted; CSAT-free; answered.
			key: "c-c880eb2-0a78-416e-a5b6-b210d033xxxx",
			want: Observations{
				Channel: "Voice", Direction: "inbound", Status: "CLOSED", Duration: s(114),
				Segments: []SegmentObs{{Queue: "Default Queue", Agent: "u-e3f58196-0f28-5419-9601-dc136e8dxxxx",
					FirstResponse: s(0), Interaction: s(70), ACW: s(3), Handle: s(73)}},
				QueueEntries: []QueueEntryObs{{Queue: "Default Queue", Outcome: OutcomeAnswered, Wait: s(37), Callback: true, Entered: at("2025-09-30T12:04:23Z"), Handle: s(73)}},
				Offers:       []OfferObs{{Queue: "Default Queue", Outcome: OutcomeAnswered, Agent: "u-e3f58196-0f28-5419-9601-dc136e8dxxxx"}},
				Consults:     []ConsultObs{{Queue: "Default Queue", Seconds: 13}},
				Dispositions: []string{"Requires Supervisor Attention"},
			},
		},
	} {
		t.Run(tc.key, func(t *testing.T) {
			c := recs[tc.key]
			if c == nil {
				t.Fatal("no such record in the samples")
			}
			got := Derive(c)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
	if recs["c-c613d89-2c52-400d-9e0a-d85804e1xxxx"].Finished() {
		t.Error("the open sample record counts as finished")
	}
}

func TestSurveysAndInvalidValues(t *testing.T) {
	rec := `{"conversationId":"c-x","channel":"Chat","finalStatus":"CLOSED","sessionStartTime":"2025-01-01T10:00:00",
		"sessionEndTime":"2025-01-01T09:59:00","csatScore":9,"npsScore":"abc","likeDislikeScore":0,
		"dispositions":[" Resolved ","-",""],
		"destinations":[{"destinationType":"QueueEntry","queueId":"qu-1","EnterTime":"2025-01-01T10:00:10",
			"respondingAgent":{"status":"Answered","acceptedTime":"2025-01-01T10:00:05","interactionDuration":-3,
				"firstResponseTime":"2025-01-01T10:00:25","holdDuration":0}}]}`
	p, err := conversation.DecodePage([]byte(`{"data":[`+rec+`]}`), time.UTC)
	if err != nil || len(p.Records) != 1 {
		t.Fatalf("record not decoded: %v %+v", err, p.Invalid)
	}
	c := p.Records[0]
	o := Derive(&c)
	wantInvalid := []InvalidValue{
		{FieldConversationDuration, ReasonNegative}, // ends before it starts
		{FieldQueueWait, ReasonNegative},            // accepted before entering the queue
		{FieldInteraction, ReasonNegative},
		{FieldCSAT, ReasonOutOfRange},
		{FieldNPS, ReasonNotNumber},
	}
	if !reflect.DeepEqual(o.Invalid, wantInvalid) {
		t.Errorf("invalid %+v\nwant    %+v", o.Invalid, wantInvalid)
	}
	seg := o.Segments[0]
	// First response from the times when the duration is absent; hold 0 is
	// not a hold; no interaction, no handle.
	if seg.Queue != "qu-1" || seg.FirstResponse != s(20) || seg.Hold.OK || seg.Interaction.OK || seg.Handle.OK {
		t.Errorf("segment %+v", seg)
	}
	if o.Vote != "dislike" || o.CSAT.OK || o.NPS.OK || !reflect.DeepEqual(o.Dispositions, []string{"Resolved"}) {
		t.Errorf("surveys/dispositions: %+v", o)
	}

	reg := prometheus.NewRegistry()
	m := New(reg, DefaultOptions())
	m.Observe(&c)
	if v := testutil.ToFloat64(m.invalidValues.WithLabelValues(FieldCSAT, ReasonOutOfRange)); v != 1 {
		t.Errorf("invalid csat counted %v times", v)
	}
	if n := testutil.CollectAndCount(m.csat); n != 0 {
		t.Errorf("csat 9 observed (%d series)", n)
	}
}

func TestLabelCaps(t *testing.T) {
	reg := prometheus.NewRegistry()
	opts := DefaultOptions()
	opts.MaxQueues, opts.MaxDispositions = 2, 1
	m := New(reg, opts)
	for i, q := range []string{"Sales", "Support", "Billing", "Sales", "Retention"} {
		m.Record(&Observations{Channel: "Voice", Direction: "inbound", Status: "CLOSED",
			QueueEntries: []QueueEntryObs{{Queue: q, Outcome: OutcomeAbandoned}},
			Dispositions: []string{[]string{"A", "B"}[i%2]}})
	}
	for q, want := range map[string]float64{"Sales": 2, "Support": 1, OtherValue: 2} {
		if got := testutil.ToFloat64(m.queueEntries.WithLabelValues("Voice", q, OutcomeAbandoned)); got != want {
			t.Errorf("queue %s: %v, want %v", q, got, want)
		}
	}
	if got := testutil.ToFloat64(m.folded.WithLabelValues("queue")); got != 2 {
		t.Errorf("folded queues %v, want 2", got)
	}
	if got := testutil.ToFloat64(m.dispositions.WithLabelValues("Voice", OtherValue)); got != 2 {
		t.Errorf("folded dispositions %v, want 2", got)
	}
	long := strings.Repeat("é", 80) + "\xff"
	if v := cleanLabel(long); len(v) > maxLabelLength || !strings.HasPrefix(v, "éé") {
		t.Errorf("long label %q", v)
	}
	if cleanLabel("  a \n b ") != "a b" || cleanLabel(" ") != "unknown" {
		t.Error("cleanLabel")
	}
}

func TestAgentMetricsOptIn(t *testing.T) {
	recs := seedRecords(t)
	off := prometheus.NewRegistry()
	New(off, DefaultOptions()).Observe(recs["c-185d9c5-9ac3-4313-8073-8697b2a6xxxx"])
	mfs, _ := off.Gather()
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "agent" {
					t.Errorf("%s has an agent label without SMARTASSIST_AGENT_METRICS", mf.GetName())
				}
			}
		}
	}
}

// TestGoldenExposition feeds every finished sample record to the metrics
// and compares the whole exposition with testdata/golden/seeds.prom
// (go test ./metrics -update rewrites it).
func TestGoldenExposition(t *testing.T) {
	recs := seedRecords(t)
	reg := prometheus.NewRegistry()
	opts := DefaultOptions()
	opts.AgentMetrics = true
	m := New(reg, opts)
	finished := 0
	keys := make([]string, 0, len(recs))
	for k := range recs {
		keys = append(keys, k)
	}
	sort.Strings(keys) // label caps keep the first values seen: observe in a fixed order
	for _, k := range keys {
		if c := recs[k]; c.Finished() {
			m.Observe(c)
			finished++
		}
	}
	if finished != 19 {
		t.Fatalf("%d finished sample records, want 19 (20 less the open one)", finished)
	}
	m.SetOpen(map[string]int{"Jones ": 1})
	golden := filepath.Join("..", "testdata", "golden", "seeds.prom")
	if *update {
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		enc := expfmt.NewEncoder(&buf, expfmt.NewFormat(expfmt.TypeTextPlain))
		for _, mf := range mfs {
			if err := enc.Encode(mf); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	f, err := os.Open(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./metrics -update to create it)", err)
	}
	defer f.Close()
	if err := testutil.GatherAndCompare(reg, f); err != nil {
		t.Error(err)
	}
	// By default the duration histograms are classic only: no native
	// buckets to build on every scrape (SMARTASSIST_NATIVE_HISTOGRAMS).
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "smartassist_handle_seconds" {
			h := mf.GetMetric()[0].GetHistogram()
			if h.Schema != nil || len(h.GetPositiveSpan()) != 0 || len(h.GetBucket()) != len(DurationBuckets) {
				t.Errorf("handle histogram: schema %v, %d native spans, %d classic buckets", h.Schema, len(h.GetPositiveSpan()), len(h.GetBucket()))
			}
		}
	}
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
}
