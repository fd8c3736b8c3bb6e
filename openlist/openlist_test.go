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
	"sync"
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

// TestListOpenPagingAgainstSimulator: over real HTTP, whatever page cap the
// platform applies and whether or not it says so (echoed limit and
// hasMore, or nothing but the results), the listing pages on until the
// platform's own end and returns exactly the conversations it has open,
// each with its session start — for an open count that fills its last
// page exactly too, where a listing that stops on a full page without
// being told it is the last would miss the rest, and one that never stops
// on a full page would ask once more.
//
// The requests expected follow from the paging protocol, not from the
// code: told hasMore, a listing needs ⌈n/cap⌉ pages; told nothing, it can
// only see the end on a short page, so it needs ⌊n/cap⌋+1.
func TestListOpenPagingAgainstSimulator(t *testing.T) {
	ceil := func(n, d int) int { return (n + d - 1) / d }
	for _, pop := range []struct {
		name string
		// exact pads the open conversations to a multiple of 100.
		exact bool
	}{
		{"generated", false},
		{"exact multiple of 100", true},
	} {
		t.Run(pop.name, func(t *testing.T) {
			sim := simulator.New(simulator.Options{AccountID: "acc", StreamID: "st", ClientID: "cs-1", ClientSecret: "secret", Seed: 9,
				Now: func() time.Time { return t0 }})
			srv := httptest.NewServer(sim)
			defer srv.Close()
			all := sim.Generate(t0.Add(-3*time.Hour), t0, simulator.Profile{PerHour: 600, LongOpenShare: 0.3})
			want := map[string]time.Time{}
			for _, c := range all {
				if c.ListStatusAt(t0) == "ACTIVE" {
					want[c.ID] = c.Start
				}
			}
			if pop.exact && len(want)%100 != 0 {
				// Open until further notice (no FinishedFrom), started
				// in the last hour, at starts no other one has.
				var pad []*simulator.Conversation
				for i := range 100 - len(want)%100 {
					c := &simulator.Conversation{ID: fmt.Sprintf("c-pad-%03d", i), SessionID: fmt.Sprintf("s-pad-%03d", i),
						Channel: "Voice", Start: t0.Add(-time.Duration(i)*17*time.Second - 350*time.Millisecond)}
					pad = append(pad, c)
					want[c.ID] = c.Start
				}
				sim.Add(pad...)
			}
			n := len(want)
			// One default page (500) holds them all — padded, exactly —
			// while a cap of 100 needs several pages, and a cap of 30
			// more than the 100 assumed.
			if n < 350 || n > simulator.DefaultListPageMax || n > PageLimit || (pop.exact && n%100 != 0) {
				t.Fatalf("%d open conversations; the test wants 350 to %d (a multiple of 100: %v)", n, simulator.DefaultListPageMax, pop.exact)
			}
			t.Logf("%d open conversations", n)
			for id, s := range want {
				// The simulator renders milliseconds: a finer start could
				// not come back equal.
				if !s.Equal(s.Truncate(time.Millisecond)) {
					t.Fatalf("%s starts at %s, finer than the milliseconds the API renders", id, s)
				}
			}
			cases := []struct {
				name      string
				pageMax   int
				hideLimit bool
				requests  int
			}{
				{"default page holds all", 0, false, 1},
				{"cap 100, limit and hasMore echoed", 100, false, ceil(n, 100)},
				{"cap 30, limit and hasMore echoed", 30, false, ceil(n, 30)},
				// Nothing echoed: full pages of 100 (the assumed cap) are
				// paged on; the short one ends the listing.
				{"cap 100, nothing echoed", 100, true, n/100 + 1},
			}
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					sim.SetListPageMax(tc.pageMax, tc.hideLimit)
					before := sim.ListRequests()
					l, err := New(Config{StreamID: "st"}, newUpstream(t, srv.URL, slog.New(slog.DiscardHandler))).ListOpen(context.Background())
					if err != nil {
						t.Fatal(err)
					}
					if served := sim.ListRequests() - before; served != l.Requests {
						t.Errorf("Requests %d, the simulator answered %d", l.Requests, served)
					}
					if l.Requests != tc.requests {
						t.Errorf("%d requests for %d open conversations, want %d", l.Requests, n, tc.requests)
					}
					if len(l.Open) != n {
						t.Errorf("listed %d open, want %d", len(l.Open), n)
					}
					for id, s := range want {
						got, ok := l.Open[id]
						switch {
						case !ok:
							t.Errorf("%s open but not listed", id)
						case !got.Equal(s):
							t.Errorf("%s listed with start %s, want %s", id, got, s)
						}
					}
				})
			}
			// A cap below the assumed 100 and not a word about paging: the
			// first page of 30 looks like the short last page of a
			// platform capped at 100, so the listing ends there, without
			// an error, holding only the newest 30. Nothing in such an
			// answer tells the two apart: this is the known limit of an
			// upstream that says nothing about its paging. The test pins
			// it so that a change to it (for better or worse) is noticed.
			t.Run("cap 30, nothing echoed: known limit", func(t *testing.T) {
				sim.SetListPageMax(30, true)
				l, err := New(Config{StreamID: "st"}, newUpstream(t, srv.URL, slog.New(slog.DiscardHandler))).ListOpen(context.Background())
				if err != nil {
					t.Fatalf("error %v; this limit used to be silent: update the test and its comment", err)
				}
				if l.Requests != 1 || len(l.Open) != 30 {
					t.Fatalf("%d requests, %d listed; want 1 request listing the first page of 30", l.Requests, len(l.Open))
				}
				var newestUnlisted time.Time
				for id, s := range want {
					if _, ok := l.Open[id]; !ok && s.After(newestUnlisted) {
						newestUnlisted = s
					}
				}
				for id, got := range l.Open {
					s, ok := want[id]
					switch {
					case !ok:
						t.Errorf("%s listed but not open", id)
					case !got.Equal(s):
						t.Errorf("%s listed with start %s, want %s", id, got, s)
					case s.Before(newestUnlisted):
						t.Errorf("%s (started %s) listed, but one started %s is not: not the first page", id, s, newestUnlisted)
					}
				}
			})
		})
	}
}

// pagedServer serves total open conversations "c-0".."c-{total-1}", skip
// honoured, at most pageMax a page (and no more than the limit asked), and
// echoes only the paging fields named in echo ("limit", "hasMore"). The
// limit echoed is echoLimit when set (a platform that says more than it
// applies), else the one applied. It counts its requests in *n.
func pagedServer(t *testing.T, total, pageMax int, echo []string, echoLimit int, n *int) *httptest.Server {
	t.Helper()
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		*n++
		q := r.URL.Query()
		skip, limit := 0, 0
		_, _ = fmt.Sscan(q.Get("skip"), &skip)
		_, _ = fmt.Sscan(q.Get("limit"), &limit)
		limit = min(limit, pageMax)
		lo := min(skip, total)
		hi := min(lo+limit, total)
		var b strings.Builder
		b.WriteString(`{"results":[`)
		for i := lo; i < hi; i++ {
			if i > lo {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, `{"_id":"c-%d","status":"ACTIVE"}`, i)
		}
		b.WriteString("]")
		for _, f := range echo {
			switch f {
			case "limit":
				l := limit
				if echoLimit > 0 {
					l = echoLimit
				}
				fmt.Fprintf(&b, `,"limit":%d`, l)
			case "hasMore":
				fmt.Fprintf(&b, `,"hasMore":%v`, hi < total)
			}
		}
		b.WriteString("}")
		_, _ = io.WriteString(w, b.String())
	}))
}

// TestListOpenPagingFields: each way a platform may say where its list
// ends — hasMore alone, the limit applied alone, a limit above the one
// asked for — is paged to the end, every conversation listed once; a
// platform that says nothing is paged on while pages are full at the
// assumed cap of 100. The simulator echoes both fields or neither: these
// are the answers in between.
func TestListOpenPagingFields(t *testing.T) {
	cases := []struct {
		name           string
		total, pageMax int
		echo           []string
		echoLimit      int
		requests       int
	}{
		// The limit applied, no hasMore: a page shorter than it is the last.
		{"limit only, cap 30", 95, 30, []string{"limit"}, 0, 4},
		{"limit only, cap 30, exact", 90, 30, []string{"limit"}, 0, 4},
		// hasMore alone decides, even on a page short of the cap.
		{"hasMore only, cap 250", 600, 250, []string{"hasMore"}, 0, 3},
		{"hasMore only, cap 20", 45, 20, []string{"hasMore"}, 0, 3},
		// A limit echoed above the one asked for: the platform applied
		// what was asked, and a page of that many is not the last.
		{"limit echoed above the asked", 2*PageLimit + 7, PageLimit, []string{"limit"}, 2 * PageLimit, 3},
		// Nothing: full pages at the assumed cap are paged on.
		{"nothing, cap 100", 250, 100, nil, 0, 3},
		{"nothing, cap 100, exact", 300, 100, nil, 0, 4},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			n := 0
			srv := pagedServer(t, tc.total, tc.pageMax, tc.echo, tc.echoLimit, &n)
			defer srv.Close()
			l, err := New(Config{StreamID: "st"}, newUpstream(t, srv.URL, slog.New(slog.DiscardHandler))).ListOpen(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if len(l.Open) != tc.total {
				t.Errorf("listed %d, want %d", len(l.Open), tc.total)
			}
			for i := range tc.total {
				if _, ok := l.Open[fmt.Sprintf("c-%d", i)]; !ok {
					t.Errorf("c-%d not listed", i)
					break
				}
			}
			if n != tc.requests || l.Requests != n {
				t.Errorf("%d requests (Requests %d), want %d", n, l.Requests, tc.requests)
			}
		})
	}
}

// TestListOpenStart: each open id comes with its session start: the bot
// session's (startSessionTime) when it parses, else the queue entry's
// (startTime); zero when neither gives a plausible time. A record without
// any start is still listed: that it is open is worth more than when it
// began. The expected times are written out, not computed.
func TestListOpenStart(t *testing.T) {
	session := time.Date(2023, 5, 25, 6, 56, 11, 959_000_000, time.UTC)
	queued := time.Date(2023, 5, 25, 6, 57, 2, 0, time.UTC)
	const sessionS, queuedS = `"2023-05-25T06:56:11.959Z"`, `"2023-05-25T06:57:02.000Z"`
	// Parses as RFC 3339 (nanoseconds, the rest of the digits dropped) but
	// is 200 characters: nothing a real platform sends.
	long := `"2023-05-25T06:56:11.` + strings.Repeat("9", 179) + `Z"`
	if len(long) != 200+2 {
		t.Fatalf("the long start is %d characters", len(long)-2)
	}
	cases := []struct {
		name   string
		fields string // the record's JSON after _id and status
		want   time.Time
	}{
		{"both: the session's", `"startSessionTime":` + sessionS + `,"startTime":` + queuedS, session},
		{"session only", `"startSessionTime":` + sessionS, session},
		{"with an offset", `"startSessionTime":"2023-05-25T12:26:11.959+05:30"`, session},
		{"no session start", `"startTime":` + queuedS, queued},
		{"session start empty", `"startSessionTime":"","startTime":` + queuedS, queued},
		{"session start null", `"startSessionTime":null,"startTime":` + queuedS, queued},
		{"session start garbage", `"startSessionTime":"yesterday","startTime":` + queuedS, queued},
		{"session start not RFC 3339", `"startSessionTime":"2023-05-25 06:56:11","startTime":` + queuedS, queued},
		{"session start in year 9999", `"startSessionTime":"9999-12-31T23:59:59Z","startTime":` + queuedS, queued},
		{"both garbage", `"startSessionTime":"yesterday","startTime":"soon"`, time.Time{}},
		{"200 characters", `"startSessionTime":` + long, time.Time{}},
		{"200 characters both", `"startSessionTime":` + long + `,"startTime":` + long, time.Time{}},
		{"year 1900", `"startSessionTime":"1900-01-01T00:00:00Z"`, time.Time{}},
		{"year 9999", `"startTime":"9999-12-31T23:59:59Z"`, time.Time{}},
		{"year 1", `"startSessionTime":"0001-01-01T00:00:00Z","startTime":"0001-01-01T00:00:00Z"`, time.Time{}},
		{"only _id and status", ``, time.Time{}},
		// Another JSON type is a start unknown, not a page lost.
		{"session start a number", `"startSessionTime":1685000000000,"startTime":` + queuedS, queued},
		{"both numbers", `"startSessionTime":1685000000000,"startTime":1685000000000`, time.Time{}},
		{"session start an object", `"startSessionTime":{"$date":"2023-05-25T06:56:11.959Z"}`, time.Time{}},
		{"session start an array", `"startSessionTime":["2023-05-25T06:56:11.959Z"],"startTime":` + queuedS, queued},
	}
	var b strings.Builder
	b.WriteString(`{"results":[`)
	for i, tc := range cases {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"_id":"c-%d","status":"ACTIVE"`, i)
		if tc.fields != "" {
			b.WriteString("," + tc.fields)
		}
		b.WriteString("}")
	}
	b.WriteString(`],"hasMore":false}`)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, b.String())
	}))
	defer srv.Close()
	l, err := New(Config{StreamID: "st"}, newUpstream(t, srv.URL, slog.New(slog.DiscardHandler))).ListOpen(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Open) != len(cases) {
		t.Errorf("listed %d, want %d", len(l.Open), len(cases))
	}
	for i, tc := range cases {
		got, ok := l.Open[fmt.Sprintf("c-%d", i)]
		switch {
		case !ok:
			t.Errorf("%s: not listed", tc.name)
		case !got.Equal(tc.want) || got.IsZero() != tc.want.IsZero():
			t.Errorf("%s: start %s, want %s", tc.name, got, tc.want)
		}
	}
}

// TestListOpenHostilePaging: paging an upstream cannot be trusted with
// stays bounded. A page holding more than was asked for means the limit is
// not applied as sent: an error, at once. An upstream that says hasMore
// for ever, with new ids on every page, costs a bounded number of requests
// and ends in an error, never a listing taken as complete. An empty page
// ends the listing whatever hasMore says: skipping past the end again
// would get the same empty page for ever. And whatever the pages, the
// listing holds no more than MaxListed conversations (and one page).
func TestListOpenHostilePaging(t *testing.T) {
	page := func(first, count int, hasMore string) string {
		var b strings.Builder
		b.WriteString(`{"results":[`)
		for i := range count {
			if i > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, `{"_id":"c-%d","status":"ACTIVE"}`, first+i)
		}
		b.WriteString("]" + hasMore + "}")
		return b.String()
	}
	cases := []struct {
		name string
		// body answers the request-th request (0-based).
		body     func(request int) string
		wantErr  error // nil: no error
		maxReq   int
		wantOpen int // checked when no error is wanted
	}{
		{"more than asked", func(int) string { return page(0, PageLimit+1, `,"hasMore":false`) }, ErrIncomplete, 1, 0},
		{"more than asked, limit echoed", func(int) string { return page(0, PageLimit+1, `,"limit":500`) }, ErrIncomplete, 1, 0},
		{"hasMore for ever, pages of 100", func(r int) string { return page(r*100, 100, `,"hasMore":true`) }, ErrIncomplete, MaxPages, 0},
		{"hasMore for ever, full pages", func(r int) string { return page(r*PageLimit, PageLimit, `,"hasMore":true`) }, ErrIncomplete, MaxPages, 0},
		{"hasMore for ever, pages of 1", func(r int) string { return page(r, 1, `,"hasMore":true`) }, ErrIncomplete, MaxPages, 0},
		{"empty first page, hasMore true", func(int) string { return page(0, 0, `,"hasMore":true`) }, nil, 1, 0},
		{"empty page after one of 100, hasMore true", func(r int) string {
			if r == 0 {
				return page(0, 100, `,"hasMore":true`)
			}
			return page(0, 0, `,"hasMore":true`)
		}, nil, 2, 100},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			n := 0
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				mu.Lock()
				r := n
				n++
				mu.Unlock()
				if r > 10*MaxPages {
					// Far past any bound: stop feeding a runaway loop.
					w.WriteHeader(http.StatusBadRequest)
					return
				}
				_, _ = io.WriteString(w, tc.body(r))
			}))
			defer srv.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			l, err := New(Config{StreamID: "st"}, newUpstream(t, srv.URL, slog.New(slog.DiscardHandler))).ListOpen(ctx)
			mu.Lock()
			requests := n
			mu.Unlock()
			if requests > tc.maxReq || l.Requests != requests {
				t.Errorf("%d requests (Requests %d), want at most %d", requests, l.Requests, tc.maxReq)
			}
			// MaxListed bounds what a listing holds, whatever the pages
			// allow (MaxPages full pages are far more): at most the page
			// that crossed it past.
			if len(l.Open) > MaxListed+PageLimit {
				t.Errorf("holds %d conversations, past the bound of %d", len(l.Open), MaxListed)
			}
			if tc.wantErr == nil {
				if err != nil {
					t.Fatalf("error %v", err)
				}
				if len(l.Open) != tc.wantOpen {
					t.Errorf("listed %d, want %d", len(l.Open), tc.wantOpen)
				}
				return
			}
			if !errors.Is(err, tc.wantErr) {
				t.Errorf("error %v, want %v", err, tc.wantErr)
			}
		})
	}
}
