package collector

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/smartassist-exporter/smartassist_exporter/conversation"
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
	split := func(p *conversation.Page) []Entry {
		entries := make([]Entry, 0, len(p.Records))
		for i := range p.Records {
			c := &p.Records[i]
			entries = append(entries, Entry{Key: c.Key(), Start: c.Start, Channel: c.ChannelName(), Finished: c.Finished()})
		}
		return entries
	}
	p, _ := conversation.DecodePage(body, time.UTC)
	if _, err := state.Apply(split(&p)); err != nil {
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
		if _, err := state.Apply(split(&p)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(100*b.N)/b.Elapsed().Seconds(), "records/s")
}

type countingSink struct{ n int }

func (c *countingSink) Observe(*conversation.Conversation) { c.n++ }
func (c *countingSink) SetOpen(map[string]int)             {}

// economy runs polls on a fake clock and reports API requests against the
// minimum needed to read the records those polls returned.
func economy(b *testing.B, lookback time.Duration, perHour float64, polls int) {
	for i := 0; i < b.N; i++ {
		t0 := time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC)
		clock := &fakeClock{t: t0}
		sim := simulator.New(simulator.Options{AccountID: "acc", StreamID: "st", ClientID: "cs-1", ClientSecret: "secret", Seed: 3, Now: clock.Now})
		srv := httptest.NewServer(sim)
		profile := simulator.Profile{PerHour: perHour, OpenShare: 0.5}
		sim.Generate(t0.Add(-lookback-time.Hour), t0, profile)
		state, err := OpenState(filepath.Join(b.TempDir(), fmt.Sprintf("state-%d.db", i)))
		if err != nil {
			b.Fatal(err)
		}
		reg := prometheus.NewRegistry()
		p := New(Options{
			Upstream: newTestUpstream(b, srv.URL, reg, clock.Now, 1e7),
			Client:   ClientConfig{AccountID: "acc", StreamID: "st", Endpoint: "calldetails"},
			State:    state, Sink: &countingSink{}, Registerer: reg, Log: quiet, Now: clock.Now,
			Poll: PollerConfig{Interval: time.Minute, Lookback: lookback, RecentWindow: 30 * time.Minute,
				FullScanInterval: 15 * time.Minute, SweepRequests: SweepRequestsFor(50, time.Minute)},
		})

		// The first poll is the backfill of the whole lookback.
		first := p.Poll(context.Background())
		b.ReportMetric(float64(first.Requests), "backfill-requests")
		b.ReportMetric(float64(first.Requests)/float64(first.MinimumRequests), "backfill-requests/minimum")
		b.ReportMetric(float64(first.Splits), "backfill-splits")
		var reqs, minimum, records, counted, maxReqs int
		for k := 0; k < polls; k++ {
			before := clock.Now()
			clock.Advance(time.Minute)
			sim.Generate(before, clock.Now(), profile)
			r := p.Poll(context.Background())
			reqs += r.Requests
			records += r.Records
			counted += r.Counted
			minimum += r.MinimumRequests
			maxReqs = max(maxReqs, r.Requests)
		}
		if polls > 0 {
			b.ReportMetric(float64(reqs)/float64(polls), "steady-requests/poll")
			b.ReportMetric(float64(maxReqs), "steady-max-requests/poll")
			b.ReportMetric(float64(reqs)/float64(minimum), "steady-requests/minimum")
			b.ReportMetric(float64(records)/float64(polls), "steady-records-read/poll")
			b.ReportMetric(float64(counted)/float64(polls), "steady-new/poll")
		}
		state.Close()
		srv.Close()
	}
}

// BenchmarkAPIEconomySteady: a 2 h lookback at 1000 conversations an hour,
// one poll a minute for an hour after the backfill.
func BenchmarkAPIEconomySteady(b *testing.B) { economy(b, 2*time.Hour, 1000, 60) }

// BenchmarkAPIEconomyBackfill7d: a first start with a 7-day lookback at
// 300 conversations an hour (~50k records), then an hour of polls in which
// the sweep re-reads the week within the budget's share.
func BenchmarkAPIEconomyBackfill7d(b *testing.B) { economy(b, 7*24*time.Hour, 300, 60) }
