package collector

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/smartassist-exporter/smartassist_exporter/conversation"
	"github.com/smartassist-exporter/smartassist_exporter/internal/testkit"
	"github.com/smartassist-exporter/smartassist_exporter/simulator"
	"github.com/smartassist-exporter/smartassist_exporter/upstream"
)

// simPage renders one full 100-record page as the simulator serves it.
func simPage(b *testing.B) []byte {
	b.Helper()
	t0 := time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC)
	sim := simulator.New(simulator.Options{AccountID: "acc", StreamID: "st", ClientID: "cs", ClientSecret: "x", Seed: 1,
		Now: func() time.Time { return t0.Add(6 * time.Hour) }})
	sim.Generate(t0.Add(-2*time.Hour), t0, simulator.Profile{PerHour: 200})
	tokens := upstream.NewMintedTokensAt("cs", func() (string, error) { return "x", nil }, func() time.Time { return t0.Add(6 * time.Hour) })
	tok, _ := tokens.Token()
	req := httptest.NewRequest(http.MethodPost, "/agentassist/api/public/analytics/account/acc/v2/calldetails?offset=0&limit=100",
		strings.NewReader(`{"startDate":"2026-03-10 06:00:00","endDate":"2026-03-10 09:00:00","timeZoneOffset":0}`))
	req.Header.Set("auth", tok)
	req.Header.Set("accountId", "acc")
	req.Header.Set("iId", "st")
	rec := httptest.NewRecorder()
	sim.ServeHTTP(rec, req)
	if rec.Code != 200 {
		b.Fatalf("simulator answered %d: %s", rec.Code, rec.Body)
	}
	body, _ := io.ReadAll(rec.Body)
	if p, err := conversation.DecodePage(body, time.UTC); err != nil || p.Len != 100 {
		b.Fatalf("page of %d records: %v", p.Len, err)
	}
	return body
}

// BenchmarkDecodeAndDedupe: decode a realistic 100-record page and check
// every record against the state, as a steady-state re-read does (all
// records already counted or open: no write).
func BenchmarkDecodeAndDedupe(b *testing.B) {
	body := simPage(b)
	state, err := OpenState(filepath.Join(b.TempDir(), "state.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer state.Close()
	entriesOf := func(p *conversation.Page) []Entry {
		entries := make([]Entry, 0, len(p.Records))
		for i := range p.Records {
			c := &p.Records[i]
			entries = append(entries, Entry{Key: c.Key(), Start: c.Start, Channel: c.ChannelName(), Finished: c.Finished()})
		}
		return entries
	}
	p, _ := conversation.DecodePage(body, time.UTC)
	if _, err := state.Apply(entriesOf(&p)); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		p, err := conversation.DecodePage(body, time.UTC)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := state.Apply(entriesOf(&p)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(100*b.N)/b.Elapsed().Seconds(), "records/s")
}

// timingSink remembers when (on the simulated clock) each conversation was
// counted.
type timingSink struct {
	now     func() time.Time
	counted map[string]time.Time
	n       int
}

func (c *timingSink) Observe(conv *conversation.Conversation) {
	c.n++
	c.counted[conv.Key()] = c.now()
}
func (c *timingSink) SetOpen(map[string]int) {}

// warmup is how many polls (one a minute) run after the backfill before
// the steady state is measured.
const warmup = 60

// economyCase is one API-economy run.
type economyCase struct {
	lookback time.Duration
	profile  simulator.Profile
	polls    int  // one a minute, measured after the backfill and the warm-up hour
	noList   bool // the List of Conversations API answers 404
	// listPageMax caps the List of Conversations API's pages (0: the
	// simulator's default, 500): its docs name no maximum.
	listPageMax int
}

// economy runs a backfill, a warm-up hour and an hour of steady polls on a
// fake clock, and reports the steady hour's API requests against the
// minimum needed to read the records those polls returned, and how long
// after the API reported a conversation finished it was counted.
func economy(b *testing.B, ec economyCase) {
	for i := 0; i < b.N; i++ {
		t0 := time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC)
		clock := testkit.NewClock(t0)
		sim := simulator.New(simulator.Options{AccountID: "acc", StreamID: "st", ClientID: "cs-1", ClientSecret: "secret", Seed: 3, Now: clock.Now})
		sim.SetListDisabled(ec.noList)
		sim.SetListPageMax(ec.listPageMax, false)
		srv := httptest.NewServer(sim)
		all := map[string]*simulator.Conversation{}
		remember := func(cs []*simulator.Conversation) {
			for _, c := range cs {
				all[c.Key()] = c
			}
		}
		remember(sim.Generate(t0.Add(-ec.lookback-time.Hour), t0, ec.profile))
		state, err := OpenState(filepath.Join(b.TempDir(), fmt.Sprintf("state-%d.db", i)))
		if err != nil {
			b.Fatal(err)
		}
		reg := prometheus.NewRegistry()
		sink := &timingSink{now: clock.Now, counted: map[string]time.Time{}}
		p := New(economyOptions(b, srv.URL, reg, clock.Now, state, sink, ec.lookback))

		// The first poll is the backfill of the whole lookback.
		first := p.Poll(context.Background())
		b.ReportMetric(float64(first.Requests), "backfill-requests")
		b.ReportMetric(float64(first.Requests)/float64(first.MinimumRequests), "backfill-requests/minimum")
		b.ReportMetric(float64(first.Splits), "backfill-splits")
		// The first hour after a start is not steady: the tiers' first
		// passes look, at their periods without the list, for what closed
		// before the list was first read. It is reported on its own.
		warmReqs := 0
		for range warmup {
			before := clock.Now()
			clock.Advance(time.Minute)
			remember(sim.Generate(before, clock.Now(), ec.profile))
			warmReqs += p.Poll(context.Background()).Requests
		}
		b.ReportMetric(float64(warmReqs)/warmup, "first-hour-requests/poll")
		steadyFrom := clock.Now()
		var reqs, minimum, records, counted, maxReqs, list, narrow, tiers int
		for k := 0; k < ec.polls; k++ {
			before := clock.Now()
			clock.Advance(time.Minute)
			remember(sim.Generate(before, clock.Now(), ec.profile))
			r := p.Poll(context.Background())
			reqs += r.Requests
			records += r.Records
			counted += r.Counted
			minimum += r.MinimumRequests
			maxReqs = max(maxReqs, r.Requests)
			list += r.ListRequests
			narrow += r.CloseRequests
			tiers += r.TierRequests
		}
		if ec.polls > 0 {
			b.ReportMetric(float64(reqs)/float64(ec.polls), "steady-requests/poll")
			b.ReportMetric(float64(list)/float64(ec.polls), "list-requests/poll")
			b.ReportMetric(float64(narrow)/float64(ec.polls), "narrow-requests/poll")
			b.ReportMetric(float64(tiers)/float64(ec.polls), "tier-requests/poll")
			b.ReportMetric(float64(maxReqs), "steady-max-requests/poll")
			b.ReportMetric(float64(reqs)/float64(max(minimum, 1)), "steady-requests/minimum")
			b.ReportMetric(float64(records)/float64(ec.polls), "steady-records-read/poll")
			b.ReportMetric(float64(counted)/float64(ec.polls), "steady-new/poll")
		}
		// Latency from "the API reports it finished" to "counted", for
		// conversations that finished in the steady state: those the
		// exporter had seen open (closes) and the others (first seen
		// finished), and what finished but is still not counted.
		var closes, others []time.Duration
		missed := 0
		end := clock.Now()
		for key, c := range all {
			if c.Broken != "" || c.FinishedFrom.Before(steadyFrom) || c.FinishedFrom.After(end.Add(-10*time.Minute)) || c.Start.Before(end.Add(-ec.lookback)) {
				continue
			}
			at, ok := sink.counted[key]
			if !ok {
				missed++
				continue
			}
			lat := max(at.Sub(c.FinishedFrom), 0)
			if !c.OpenFrom.IsZero() && c.OpenFrom.Before(steadyFrom) {
				closes = append(closes, lat)
			} else {
				others = append(others, lat)
			}
		}
		reportLatency(b, "close", closes)
		reportLatency(b, "first-seen", others)
		b.ReportMetric(float64(missed), "missed")
		state.Close()
		srv.Close()
	}
}

func reportLatency(b *testing.B, name string, ds []time.Duration) {
	if len(ds) == 0 {
		return
	}
	slices.Sort(ds)
	q := func(f float64) float64 { return ds[min(len(ds)-1, int(f*float64(len(ds))))].Seconds() }
	b.ReportMetric(q(0.5), name+"-p50-s")
	b.ReportMetric(q(0.99), name+"-p99-s")
	b.ReportMetric(ds[len(ds)-1].Seconds(), name+"-max-s")
	b.ReportMetric(float64(len(ds)), name+"-n")
}

// BenchmarkAPIEconomySteady: a 2 h lookback at 1000 conversations an hour,
// one poll a minute, measured for an hour after the backfill and the
// warm-up hour.
func BenchmarkAPIEconomySteady(b *testing.B) { economy(b, steady) }

// steady is issue 9's case at the defaults.
var steady = economyCase{lookback: 2 * time.Hour, profile: simulator.Profile{PerHour: 1000, OpenShare: 0.5}, polls: 60}

// BenchmarkAPIEconomyBackfill7d: a first start with a 7-day lookback at
// 300 conversations an hour (~50k records), then the warm-up hour and an
// hour of polls.
func BenchmarkAPIEconomyBackfill7d(b *testing.B) {
	economy(b, economyCase{lookback: 7 * 24 * time.Hour, profile: simulator.Profile{PerHour: 300, OpenShare: 0.5}, polls: 60})
}

// week is issue 9's case: a 7-day lookback at 1000 conversations an hour,
// 3 % of them open for 1–48 h, one poll a minute for an hour of steady
// state after the backfill and the warm-up hour.
var week = economyCase{lookback: 7 * 24 * time.Hour, polls: 60,
	profile: simulator.Profile{PerHour: 1000, OpenShare: 0.5, LongOpenShare: 0.03}}

// BenchmarkAPIEconomyWeek: issue 9's case with the List of Conversations API.
func BenchmarkAPIEconomyWeek(b *testing.B) { economy(b, week) }

// BenchmarkAPIEconomyWeekNoList: the same where the List of Conversations
// API answers 404.
func BenchmarkAPIEconomyWeekNoList(b *testing.B) {
	ec := week
	ec.noList = true
	economy(b, ec)
}

func economyOptions(b *testing.B, url string, reg *prometheus.Registry, now func() time.Time, state *State, sink Sink, lookback time.Duration) Options {
	return Options{
		Upstream: newTestUpstream(b, url, reg, now, 1e7),
		Client:   ClientConfig{AccountID: "acc", StreamID: "st", Endpoint: "calldetails"},
		State:    state, Sink: sink, Registerer: reg, Log: quiet, Now: now, UseOpenList: true,
		Poll: PollerConfig{Interval: time.Minute, Lookback: lookback, RecentWindow: DefaultRecentWindow, RequestsPerPoll: 40},
	}
}

type countingSink struct{ n int }

func (c *countingSink) Observe(*conversation.Conversation) { c.n++ }
func (c *countingSink) SetOpen(map[string]int)             {}

// BenchmarkAPIEconomyWeekListPage100: the same where the List of
// Conversations API returns at most 100 records a page.
func BenchmarkAPIEconomyWeekListPage100(b *testing.B) {
	ec := week
	ec.listPageMax = 100
	economy(b, ec)
}

// BenchmarkAPIEconomySteadyListPage100: the defaults' case where the List
// of Conversations API returns at most 100 records a page.
func BenchmarkAPIEconomySteadyListPage100(b *testing.B) {
	ec := steady
	ec.listPageMax = 100
	economy(b, ec)
}
