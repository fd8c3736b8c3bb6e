package openlist

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/smartassist-exporter/smartassist_exporter/simulator"
	"github.com/smartassist-exporter/smartassist_exporter/upstream"
)

var t0 = time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC)

func newUpstream(t *testing.T, url string, log *slog.Logger) *upstream.Client {
	t.Helper()
	now := func() time.Time { return t0 }
	tokens := upstream.NewMintedTokensAt("cs-1", func() (string, error) { return "secret", nil }, now)
	up, err := upstream.New(upstream.Config{BaseURL: url, AccountID: "acc", RequestTimeout: 5 * time.Second},
		&http.Client{}, tokens, upstream.NewBudget(60000), upstream.NewRequestMetrics(prometheus.NewRegistry(), 60000), log)
	if err != nil {
		t.Fatal(err)
	}
	up.SetSleep(func(context.Context, time.Duration) error { return nil })
	return up
}

// TestListOpenAgainstSimulator: over real HTTP, with the JWT, the listing
// pages through 350 open conversations and returns exactly the ids the
// simulated platform has open — not the closed ones, not bot sessions —
// and nothing of the personal data the records carry reaches the log.
func TestListOpenAgainstSimulator(t *testing.T) {
	sim := simulator.New(simulator.Options{AccountID: "acc", StreamID: "st", ClientID: "cs-1", ClientSecret: "secret", Seed: 9,
		Now: func() time.Time { return t0 }})
	srv := httptest.NewServer(sim)
	defer srv.Close()
	all := sim.Generate(t0.Add(-3*time.Hour), t0, simulator.Profile{PerHour: 600, LongOpenShare: 0.3})
	want := map[string]bool{}
	for _, c := range all {
		if c.ListStatusAt(t0) == "ACTIVE" {
			want[c.ID] = true
		}
	}
	if len(want) < 250 {
		t.Fatalf("only %d open conversations generated; the test wants several pages", len(want))
	}
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	l, err := New(Config{StreamID: "st"}, newUpstream(t, srv.URL, log)).ListOpen(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Open) != len(want) {
		t.Errorf("listed %d open, want %d", len(l.Open), len(want))
	}
	for id := range want {
		if _, ok := l.Open[id]; !ok {
			t.Errorf("%s open but not listed", id)
		}
	}
	if wantReq := len(want)/PageLimit + 1; l.Requests != wantReq {
		t.Errorf("%d requests for %d open conversations, want %d", l.Requests, len(want), wantReq)
	}
	for _, secret := range []string{"+1555", "Jane", "Doe", "note"} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("log holds personal data %q", secret)
		}
	}
}

// TestListOpenUnavailable: a tenant without the API (404) or an app not
// allowed to use it (403) is ErrUnavailable after one request; a 401 is
// not (the credentials are wrong for every API).
func TestListOpenUnavailable(t *testing.T) {
	for _, code := range []int{http.StatusNotFound, http.StatusForbidden, http.StatusUnauthorized} {
		calls := 0
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			calls++
			w.WriteHeader(code)
		}))
		_, err := New(Config{StreamID: "st"}, newUpstream(t, srv.URL, slog.New(slog.DiscardHandler))).ListOpen(context.Background())
		srv.Close()
		if got := errors.Is(err, ErrUnavailable); got != (code != http.StatusUnauthorized) {
			t.Errorf("%d: ErrUnavailable %v (%v)", code, got, err)
		}
		if calls != 1 {
			t.Errorf("%d: %d requests, want 1 (no retry)", code, calls)
		}
	}
}

// TestListOpenHostile: answers that cannot be trusted give an error, never
// a listing that would make open conversations look closed.
func TestListOpenHostile(t *testing.T) {
	fullPage := func(first int) string {
		var b strings.Builder
		b.WriteString(`{"results":[`)
		for i := range PageLimit {
			if i > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, `{"_id":"c-%d","status":"ACTIVE","phoneNumber":"+15550100"}`, first+i)
		}
		b.WriteString(`]}`)
		return b.String()
	}
	cases := []struct {
		name string
		body func(skip string) string
		want error
	}{
		{"no results array", func(string) string { return `{"data":[]}` }, nil},
		{"not JSON", func(string) string { return `<html>maintenance</html>` }, nil},
		{"skip ignored", func(string) string { return fullPage(0) }, ErrIncomplete},
		// skip ignored while new conversations arrive: every page is the
		// newest 100, shifted by one or two.
		{"skip ignored, shifting", func(s string) string { return fullPage(len(s)) }, ErrIncomplete},
		{"endless", func(skip string) string { return fullPage(len(skip) * 1000) }, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			n := 0
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				n++
				_, _ = io.WriteString(w, tc.body(r.URL.Query().Get("skip")+strings.Repeat("x", n)))
			}))
			defer srv.Close()
			l, err := New(Config{StreamID: "st"}, newUpstream(t, srv.URL, slog.New(slog.DiscardHandler))).ListOpen(context.Background())
			if err == nil {
				t.Fatalf("no error; listing of %d", len(l.Open))
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("error %v, want %v", err, tc.want)
			}
			if n > MaxPages*upstream.MaxAttempts {
				t.Errorf("%d requests: unbounded", n)
			}
			if errors.Is(tc.want, ErrIncomplete) && n > 2 {
				t.Errorf("%d requests to see that skip is ignored, want 2", n)
			}
		})
	}
}

// TestListOpenStatuses: the request asks for the open statuses only, and a
// record coming back with another status (a filter ignored) is not open;
// ids that no real conversation has are dropped.
func TestListOpenStatuses(t *testing.T) {
	var query string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		query = r.URL.RawQuery
		_, _ = io.WriteString(w, `{"results":[{"_id":"c-1","status":"ACTIVE"},{"_id":"c-2","status":"CLOSED"},{"_id":"c-3","status":"overdue"},`+
			`{"_id":"","status":"OPEN"},{"_id":"`+strings.Repeat("x", 200)+`","status":"OPEN"},{"_id":"c-4","status":"TERMINATED"}],"hasMore":false}`)
	}))
	defer srv.Close()
	l, err := New(Config{StreamID: "st"}, newUpstream(t, srv.URL, slog.New(slog.DiscardHandler))).ListOpen(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Open) != 2 {
		t.Errorf("open %v, want c-1 and c-3", l.Open)
	}
	for _, st := range OpenStatuses {
		if !strings.Contains(query, "status="+st) {
			t.Errorf("query %q does not ask for %s", query, st)
		}
	}
	if strings.Contains(query, "CLOSED") {
		t.Errorf("query %q asks for closed ones", query)
	}
}
