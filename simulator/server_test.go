package simulator

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

var t0 = time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)

func token(t *testing.T, secret, appID, jti string, exp time.Time) string {
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"appId": appID, "sub": "x", "jti": jti, "exp": exp.Unix()}).SignedString([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestRules: the simulator enforces what the API documents.
func TestRules(t *testing.T) {
	s := New(Options{AccountID: "acc", StreamID: "st", ClientID: "cs", ClientSecret: "secret", Now: func() time.Time { return t0 }})
	s.Generate(t0.Add(-time.Hour), t0, Profile{PerHour: 200})
	good := token(t, "secret", "cs", "j1", t0.Add(time.Minute))
	body := `{"startDate":"2026-03-10 11:00:00","endDate":"2026-03-10 12:00:00","timeZoneOffset":0}`
	path := "/agentassist/api/public/analytics/account/acc/v2/calldetails"
	for _, tc := range []struct {
		name, query, body, auth, iid string
		want                         int
	}{
		{"ok", "?offset=0&limit=100", body, good, "st", 200},
		{"limit over 100", "?offset=0&limit=101", body, good, "st", 400},
		{"offset over 10", "?offset=11&limit=100", body, good, "st", 400},
		{"range over 7 days", "?offset=0&limit=100", `{"startDate":"2026-03-01 00:00:00","endDate":"2026-03-08 00:00:01","timeZoneOffset":0}`, good, "st", 400},
		{"no timeZoneOffset", "?offset=0&limit=100", `{"startDate":"2026-03-10 11:00:00","endDate":"2026-03-10 12:00:00"}`, good, "st", 400},
		{"wrong secret", "", body, token(t, "other", "cs", "j2", t0.Add(time.Minute)), "st", 401},
		{"wrong app", "", body, token(t, "secret", "cs-other", "j3", t0.Add(time.Minute)), "st", 401},
		{"expired", "", body, token(t, "secret", "cs", "j4", t0.Add(-time.Second)), "st", 401},
		{"jti reused by another token", "", body, token(t, "secret", "cs", "j1", t0.Add(2*time.Minute)), "st", 401},
		{"wrong stream", "", body, good, "st-x", 400},
	} {
		req := httptest.NewRequest(http.MethodPost, path+tc.query, strings.NewReader(tc.body))
		req.Header.Set("auth", tc.auth)
		req.Header.Set("accountId", "acc")
		req.Header.Set("iId", tc.iid)
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		if rec.Code != tc.want {
			t.Errorf("%s: %d, want %d (%s)", tc.name, rec.Code, tc.want, rec.Body)
		}
	}
}

// TestPagingCoversWindowOnce: reading every page of a window returns each
// listed conversation exactly once, and nothing started outside it.
func TestPagingCoversWindowOnce(t *testing.T) {
	s := New(Options{AccountID: "acc", StreamID: "st", ClientID: "cs", ClientSecret: "secret", Now: func() time.Time { return t0.Add(3 * time.Hour) }})
	s.Generate(t0.Add(-2*time.Hour), t0, Profile{PerHour: 400})
	tok := token(t, "secret", "cs", "j", t0.Add(4*time.Hour))
	seen := map[string]int{}
	for page := 0; page <= 10; page++ {
		req := httptest.NewRequest(http.MethodPost, "/agentassist/api/public/analytics/account/acc/v2/calldetails?limit=100&offset="+strconv.Itoa(page),
			strings.NewReader(`{"startDate":"2026-03-10 15:00:00","endDate":"2026-03-10 16:30:00","timeZoneOffset":-330}`))
		req.Header.Set("auth", tok)
		req.Header.Set("accountId", "acc")
		req.Header.Set("iId", "st")
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		var resp struct {
			Data []map[string]any `json:"data"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
			t.Fatal(err)
		}
		for _, r := range resp.Data {
			k, _ := r["conversationId"].(string)
			if k == "" {
				k, _ = r["sessionId"].(string)
			}
			seen[k]++
		}
	}
	// India (-330): 15:00-16:30 local is 09:30-11:00 UTC.
	finished, open := s.Visible(t0.Add(3*time.Hour), time.Date(2026, 3, 10, 9, 30, 0, 0, time.UTC), time.Date(2026, 3, 10, 11, 0, 0, 0, time.UTC))
	if len(seen) != len(finished)+len(open) || len(seen) < 200 {
		t.Errorf("paged %d distinct records, the window lists %d", len(seen), len(finished)+len(open))
	}
	for k, n := range seen {
		if n != 1 && k != "" {
			t.Errorf("%s on %d pages", k, n)
		}
	}
}

func TestForget(t *testing.T) {
	s := New(Options{AccountID: "acc", StreamID: "st", ClientID: "cs", ClientSecret: "secret", Now: func() time.Time { return t0 }})
	s.Generate(t0.Add(-10*24*time.Hour), t0, Profile{PerHour: 10})
	s.Forget(t0.Add(-retention))
	finished, open := s.Visible(t0.Add(time.Hour), time.Time{}, t0)
	if len(s.order) != len(s.convs) || len(s.order) == 0 {
		t.Fatalf("order %d, index %d", len(s.order), len(s.convs))
	}
	for _, c := range append(finished, open...) {
		if c.Start.Before(t0.Add(-retention)) {
			t.Fatalf("kept %s from %s", c.Key(), c.Start)
		}
	}
	if len(finished) < 1500 {
		t.Errorf("kept only %d conversations of the last 8 days", len(finished))
	}
}

// TestListPageMax: SetListPageMax caps a list page below the limit asked
// for and echoes the cap it applied, with hasMore while more remain, so
// that the exporter's paging can be tried against a small cap; with
// hideLimit the answer carries nothing but the results, as an upstream
// that says nothing about its paging.
func TestListPageMax(t *testing.T) {
	s := New(Options{AccountID: "acc", StreamID: "st", ClientID: "cs", ClientSecret: "secret", Seed: 5, Now: func() time.Time { return t0 }})
	open := 0
	for _, c := range s.Generate(t0.Add(-3*time.Hour), t0, Profile{PerHour: 600, LongOpenShare: 0.3}) {
		if c.ListStatusAt(t0) == "ACTIVE" {
			open++
		}
	}
	if open <= 150 {
		t.Fatalf("only %d open conversations; the test wants more than a page and a half of 100", open)
	}
	path := "/agentassist/api/v1/public/st/conversations?status=ACTIVE&limit=500&skip="
	get := func(jti string, skip int) (results int, fields map[string]json.RawMessage) {
		t.Helper()
		rec := liveRequest(t, s, http.MethodGet, path+strconv.Itoa(skip), "", jti)
		if rec.Code != 200 {
			t.Fatalf("%d %s", rec.Code, rec.Body)
		}
		var rs []json.RawMessage
		if err := json.Unmarshal(rec.Body.Bytes(), &fields); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(fields["results"], &rs); err != nil {
			t.Fatal(err)
		}
		return len(rs), fields
	}
	s.SetListPageMax(100, false)
	for _, tc := range []struct {
		skip     int
		results  int
		hasMore  string
		describe string
	}{
		{0, 100, "true", "first page"},
		{open - 50, 50, "false", "last page, short"},
		{open - 100, 100, "false", "last page, full"},
	} {
		n, fields := get("p"+strconv.Itoa(tc.skip), tc.skip)
		if n != tc.results {
			t.Errorf("%s: %d results, want %d", tc.describe, n, tc.results)
		}
		if got := string(fields["limit"]); got != "100" {
			t.Errorf("%s: limit %q echoed, want the cap 100", tc.describe, got)
		}
		if got := string(fields["hasMore"]); got != tc.hasMore {
			t.Errorf("%s: hasMore %q, want %s", tc.describe, got, tc.hasMore)
		}
	}
	s.SetListPageMax(100, true)
	n, fields := get("hidden", 0)
	if n != 100 {
		t.Errorf("hidden: %d results, want 100", n)
	}
	for k := range fields {
		if k != "results" {
			t.Errorf("hidden: the answer carries %q", k)
		}
	}
	// 0 is the default again: one page of up to 500.
	s.SetListPageMax(0, false)
	if n, fields := get("default", 0); n != min(open, DefaultListPageMax) || string(fields["limit"]) != strconv.Itoa(DefaultListPageMax) {
		t.Errorf("default: %d results, limit %s; want %d, %d", n, fields["limit"], min(open, DefaultListPageMax), DefaultListPageMax)
	}
}
