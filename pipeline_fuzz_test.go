package main

// FuzzPipeline drives one page body through everything a poll does with it
// after the HTTP exchange: decode, the window check, the state (the page
// applied, applied again, and applied again after reopening the file) and
// derive + record into the metrics, then a scrape. It checks the promises
// of issue 8 on whatever the fuzzer makes of the hostile seeds: nothing
// panics, no conversation is counted twice, nothing outside the window
// asked for is counted, the state accepts every key the decoder lets
// through, and the scrape succeeds with finite samples.
//
// Every execution writes a bbolt file (with fsync), so minimizing a new
// input takes many seconds with the default -fuzzminimizetime (60s), and
// the exec count stands still meanwhile. Run longer by hand:
//
//	go test -run '^$' -fuzz '^FuzzPipeline$' -fuzztime 5m -fuzzminimizetime 5s .

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/smartassist-exporter/smartassist_exporter/collector"
	"github.com/smartassist-exporter/smartassist_exporter/conversation"
	"github.com/smartassist-exporter/smartassist_exporter/metrics"
)

// fuzzRecord is a well-formed finished record; the seeds vary one field.
func fuzzRecord(id, start, fields string) string {
	return `{"conversationId":"` + id + `","sessionId":"s1","channel":"Voice","Direction":"Inbound","finalStatus":"CLOSED",` +
		`"sessionStartTime":"` + start + `","sessionEndTime":"2025-09-30T11:50:00"` + fields + `}`
}

func fuzzPage(records ...string) string {
	return `{"numResults":` + strconv.Itoa(len(records)) + `,"data":[` + strings.Join(records, ",") + `]}`
}

// The window of the seeds: the day of the 2026 sample's records.
var fuzzWindowStart = time.Date(2025, 9, 30, 0, 0, 0, 0, time.UTC).Unix()

// pipelineSeed is one input of FuzzPipeline.
type pipelineSeed struct {
	body        []byte
	windowStart int64
	days        uint8
}

// pipelineSeeds are the documentation's two samples, one record a page,
// and the hostile shapes of issue 8.
func pipelineSeeds(t testing.TB) []pipelineSeed {
	var seeds []pipelineSeed
	for name, start := range map[string]time.Time{
		"testdata/calldetails_2024.json": time.Date(2024, 11, 18, 0, 0, 0, 0, time.UTC),
		"testdata/calldetails_2026.json": time.Unix(fuzzWindowStart, 0),
	} {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		var sample struct{ Data []json.RawMessage }
		if err := json.Unmarshal(b, &sample); err != nil || len(sample.Data) == 0 {
			t.Fatalf("%s: %v", name, err)
		}
		for _, rec := range sample.Data {
			seeds = append(seeds, pipelineSeed{[]byte(fuzzPage(string(rec))), start.Unix(), 1})
		}
	}
	ok := fuzzRecord("c-ok", "2025-09-30T11:40:00", "")
	for _, body := range []string{
		// 40 kB ids: a bbolt key too long must not block the page (and
		// one just over the decoder's 128-byte limit, small enough to fuzz).
		fuzzPage(fuzzRecord("c-"+strings.Repeat("x", 40000), "2025-09-30T11:40:00", ""), ok),
		fuzzPage(fuzzRecord("c-ok", "2025-09-30T11:40:00", `,"sessionId":"`+strings.Repeat("s", 40000)+`"`)),
		fuzzPage(fuzzRecord("c-"+strings.Repeat("x", 200), "2025-09-30T11:40:00", ""), ok),
		// Impossible durations and scores: two 1e308 in one series would
		// make its _sum +Inf.
		fuzzPage(fuzzRecord("c-1", "2025-09-30T11:40:00", `,"csatScore":1e308,"destinations":[{"destinationType":"QueueEntry","queueName":"q","respondingAgent":{"agentId":"a","interactionDuration":1e308,"holdDuration":1e308}}]`),
			fuzzRecord("c-2", "2025-09-30T11:41:00", `,"destinations":[{"destinationType":"QueueEntry","queueName":"q","respondingAgent":{"agentId":"a","interactionDuration":1e308,"afterCallWorkDuration":-1e308}}]`), ok),
		// Dates far outside the window: 9999 and 0001, finished and open.
		fuzzPage(fuzzRecord("c-9999", "9999-12-31T23:59:59", ""), fuzzRecord("c-0001", "0001-01-01T00:00:00", ""), ok),
		fuzzPage(`{"conversationId":"c-open-9999","sessionStartTime":"9999-12-31T23:59:59","finalStatus":"OPEN"}`),
		// The same record twice on one page, open then finished.
		fuzzPage(ok, ok, `{"conversationId":"c-ok","sessionStartTime":"2025-09-30T11:40:00"}`),
		// Bad types, nulls, truncated JSON.
		fuzzPage(`{"conversationId":12,"sessionStartTime":true}`, `null`, `[1]`, ok),
		fuzzPage(fuzzRecord("c-3", "2025-09-30T11:40:00", `,"channel":{"a":1},"dispositions":7,"csatScore":"NaN"`)),
		fuzzPage(ok)[:60],
		`{"data":null}`, `{"data":{}}`, ``, `[]`,
	} {
		seeds = append(seeds, pipelineSeed{[]byte(body), fuzzWindowStart, 1})
	}
	return seeds
}

func FuzzPipeline(f *testing.F) {
	for _, seed := range pipelineSeeds(f) {
		// Bodies over 4 kB slow the mutator and the minimizer (as in
		// conversation's FuzzDecodePage); TestPipelineLargeSeeds runs them.
		if len(seed.body) <= 4096 {
			f.Add(seed.body, seed.windowStart, seed.days)
		}
	}
	f.Fuzz(checkPipeline)
}

// TestPipelineLargeSeeds runs the seeds too large for the fuzzer (the 40 kB
// ids) through the same checks.
func TestPipelineLargeSeeds(t *testing.T) {
	n := 0
	for _, seed := range pipelineSeeds(t) {
		if len(seed.body) > 4096 {
			n++
			t.Run("", func(t *testing.T) { checkPipeline(t, seed.body, seed.windowStart, seed.days) })
		}
	}
	if n < 2 {
		t.Fatalf("%d large seeds", n)
	}
}

// checkPipeline is FuzzPipeline's body: one page, asked for a window of
// days (at most the API's 7) from windowStart (Unix seconds).
func checkPipeline(t *testing.T, body []byte, windowStart int64, days uint8) {
	{
		loc := conversation.ZoneForOffset(0)
		// A window the poller could ask for: within the API's limit.
		start := time.Unix(windowStart%(1<<40), 0).UTC()
		w := collector.Window{Start: start, End: start.Add(min(time.Duration(days)*24*time.Hour, collector.MaxWindow))}

		page, err := conversation.DecodePage(body, loc)
		if err != nil {
			return // the window fails; nothing of it is counted
		}
		if got := len(page.Records) + len(page.Invalid); got > page.Len {
			t.Fatalf("%d records and invalid ones from a data array of %d", got, page.Len)
		}
		// The page's conversations inside the window, in page order.
		var entries []pageEntry
		for i := range page.Records {
			c := &page.Records[i]
			if len(c.Key()) > conversation.MaxKeyBytes {
				t.Fatalf("a key of %d bytes passed the decoder", len(c.Key()))
			}
			if !w.Contains(c.Start) {
				continue // outside_window: not counted
			}
			entries = append(entries, pageEntry{collector.Entry{Key: c.Key(), Start: c.Start, Channel: c.ChannelName()}, c})
		}

		path := filepath.Join(t.TempDir(), "state.db")
		state, err := collector.OpenState(path)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { state.Close() }()
		reg := prometheus.NewPedanticRegistry()
		m := metrics.New(reg, metrics.Options{AgentMetrics: true, MaxChannels: 3, MaxQueues: 3, MaxDispositions: 3, MaxCampaigns: 3, MaxStatuses: 3, MaxAgents: 3})

		counted := map[string]int{}
		apply := func(round string) {
			outcomes, err := applyPage(state, entries)
			if err != nil {
				t.Fatalf("%s: the state refused a page the decoder accepted: %v", round, err)
			}
			if len(outcomes) != len(entries) {
				t.Fatalf("%s: %d outcomes for %d entries", round, len(outcomes), len(entries))
			}
			for i, o := range outcomes {
				c := entries[i].rec
				if o != collector.OutcomeNew {
					continue
				}
				if !c.Finished() {
					t.Fatalf("%s: open conversation %s counted", round, c.Key())
				}
				if counted[c.Key()]++; counted[c.Key()] > 1 {
					t.Fatalf("%s: %s counted twice", round, c.Key())
				}
				if !w.Contains(c.Start) {
					t.Fatalf("%s: %s counted, started %s outside %s", round, c.Key(), c.Start, w)
				}
				checkDerived(t, c)
				m.Observe(c)
			}
		}
		apply("first")
		apply("the same page again")
		if err := state.Close(); err != nil {
			t.Fatal(err)
		}
		if state, err = collector.OpenState(path); err != nil {
			t.Fatalf("reopening the state: %v", err)
		}
		apply("after a restart")
		checkScrape(t, reg)
	}
}

// pageEntry is one conversation of a page as the state sees it, and the
// record it came from.
type pageEntry struct {
	entry collector.Entry
	rec   *conversation.Conversation
}

// applyPage offers a page to the state as the poller does and returns each
// entry's outcome in page order.
func applyPage(state *collector.State, page []pageEntry) ([]collector.Outcome, error) {
	entries := make([]collector.Entry, len(page))
	for i, pe := range page {
		entries[i] = pe.entry
		entries[i].Finished = pe.rec.Finished()
	}
	return state.Apply(entries)
}

// checkDerived: every duration Derive yields is a number a histogram can
// take.
func checkDerived(t *testing.T, c *conversation.Conversation) {
	t.Helper()
	o := metrics.Derive(c)
	opts := []metrics.Opt{o.Duration}
	for _, s := range o.Segments {
		opts = append(opts, s.FirstResponse, s.Interaction, s.Hold, s.ACW)
	}
	for _, v := range opts {
		if v.OK && (math.IsNaN(v.V) || math.IsInf(v.V, 0) || v.V < 0) {
			t.Fatalf("%s: derived duration %v", c.Key(), v.V)
		}
	}
}

// checkScrape gathers the registry as /metrics does (the pedantic registry
// also checks HELP, label consistency and UTF-8) and wants every sample
// finite: one absurd value must not turn a _sum into +Inf for good.
func checkScrape(t *testing.T, reg *prometheus.Registry) {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatalf("scrape: %v", err)
	}
	for _, mf := range families {
		for _, s := range mf.GetMetric() {
			var vs []float64
			if h := s.GetHistogram(); h != nil {
				vs = append(vs, h.GetSampleSum())
			}
			if c := s.GetCounter(); c != nil {
				vs = append(vs, c.GetValue())
			}
			if g := s.GetGauge(); g != nil {
				vs = append(vs, g.GetValue())
			}
			for _, v := range vs {
				if math.IsNaN(v) || math.IsInf(v, 0) {
					t.Fatalf("%s %v = %v", mf.GetName(), s.GetLabel(), v)
				}
			}
		}
	}
}
