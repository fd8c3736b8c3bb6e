package collector

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func TestMintedTokens(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	m := NewMintedTokens("cs-app", func() (string, error) { return "s3cret", nil })
	m.now = func() time.Time { return now }
	tok, err := m.Token()
	if err != nil {
		t.Fatal(err)
	}
	claims := jwt.MapClaims{}
	_, err = jwt.ParseWithClaims(tok, claims, func(*jwt.Token) (any, error) { return []byte("s3cret"), nil },
		jwt.WithValidMethods([]string{"HS256"}), jwt.WithTimeFunc(func() time.Time { return now }))
	if err != nil {
		t.Fatal(err)
	}
	if claims["appId"] != "cs-app" || claims["sub"] != JWTSubject || claims["jti"] == "" ||
		claims["exp"] != float64(now.Add(tokenLifetime).Unix()) || claims["iat"] != float64(now.Unix()) {
		t.Errorf("claims: %v", claims)
	}
	if again, _ := m.Token(); again != tok {
		t.Error("token not reused while fresh")
	}
	now = now.Add(tokenLifetime - tokenRenewBefore + time.Second)
	renewed, _ := m.Token()
	if renewed == tok {
		t.Error("token not renewed shortly before expiry")
	}
	m.Invalidate()
	fresh, _ := m.Token()
	c1, c2 := jwt.MapClaims{}, jwt.MapClaims{}
	_, _, _ = jwt.NewParser().ParseUnverified(renewed, c1)
	_, _, _ = jwt.NewParser().ParseUnverified(fresh, c2)
	if fresh == renewed || c1["jti"] == c2["jti"] {
		t.Error("invalidated token reused, or jti repeated")
	}
	broken := NewMintedTokens("cs-app", func() (string, error) { return "", errors.New("no secret") })
	if _, err := broken.Token(); err == nil {
		t.Error("secret error swallowed")
	}
}

// scripted is an upstream that answers from a list of statuses, then 200.
type scripted struct {
	mu       sync.Mutex
	statuses []int
	headers  []http.Header
	bodies   []string
	queries  []string
	delay    time.Duration
}

func (s *scripted) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	b, _ := io.ReadAll(r.Body)
	s.headers = append(s.headers, r.Header.Clone())
	s.bodies = append(s.bodies, string(b))
	s.queries = append(s.queries, r.URL.RawQuery)
	code := http.StatusOK
	if len(s.statuses) > 0 {
		code, s.statuses = s.statuses[0], s.statuses[1:]
	}
	delay := s.delay
	s.mu.Unlock()
	if delay > 0 {
		time.Sleep(delay)
	}
	if code == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", "7")
	}
	w.WriteHeader(code)
	if code == http.StatusOK {
		io.WriteString(w, `{"numResults":1,"data":[{"conversationId":"c-1","sessionStartTime":"2026-01-01T07:00:00","finalStatus":"CLOSED"}]}`)
	} else {
		io.WriteString(w, `{"errors":[{"msg":"nope"}]}`)
	}
}

type countingObserver struct {
	mu     sync.Mutex
	codes  map[string]int
	waited time.Duration
}

func (o *countingObserver) Request(code string, waited time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.codes == nil {
		o.codes = map[string]int{}
	}
	o.codes[code]++
	o.waited += waited
}

func newTestClient(t *testing.T, h http.Handler, tokens TokenSource, rateLimit float64) (*Client, *countingObserver, *[]time.Duration) {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	obs := &countingObserver{}
	c := NewClient(ClientConfig{BaseURL: srv.URL, AccountID: "acc", StreamID: "st-1", Endpoint: "calldetails",
		TimezoneOffset: 300, RateLimit: rateLimit, RequestTimeout: 300 * time.Millisecond, UserAgent: "test"},
		srv.Client(), tokens, obs, quiet)
	var sleeps []time.Duration
	c.sleep = func(_ context.Context, d time.Duration) error { sleeps = append(sleeps, d); return nil }
	return c, obs, &sleeps
}

var testWindow = Window{Start: time.Date(2026, 1, 1, 15, 0, 0, 0, time.UTC), End: time.Date(2026, 1, 1, 17, 0, 0, 0, time.UTC)}

func TestRequestShape(t *testing.T) {
	up := &scripted{}
	c, _, _ := newTestClient(t, up, StaticToken("tok"), 6000)
	p, err := c.FetchPage(context.Background(), testWindow, 3)
	if err != nil {
		t.Fatal(err)
	}
	// New York (offset 300): 15:00 UTC is 10:00 local; the record's 07:00
	// local is 12:00 UTC.
	if len(p.Records) != 1 || !p.Records[0].Start.Equal(time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)) {
		t.Errorf("records: %+v", p.Records)
	}
	h := up.headers[0]
	if h.Get("auth") != "tok" || h.Get("accountId") != "acc" || h.Get("iId") != "st-1" || h.Get("content-type") != "application/json" {
		t.Errorf("headers: %v", h)
	}
	if up.queries[0] != "offset=3&limit=100" {
		t.Errorf("query: %s", up.queries[0])
	}
	var body map[string]any
	if err := json.Unmarshal([]byte(up.bodies[0]), &body); err != nil {
		t.Fatal(err)
	}
	if body["startDate"] != "2026-01-01 10:00:00" || body["endDate"] != "2026-01-01 12:00:00" || body["timeZoneOffset"] != float64(300) {
		t.Errorf("body: %s", up.bodies[0])
	}
	if strings.Contains(up.bodies[0], "customerinfo") {
		t.Error("asked for customer details")
	}
	if _, err := c.FetchPage(context.Background(), Window{testWindow.Start, testWindow.Start.Add(MaxWindow + time.Second)}, 0); err == nil {
		t.Error("sent a range over 7 days")
	}
	if _, err := c.FetchPage(context.Background(), testWindow, 11); err == nil {
		t.Error("sent offset 11")
	}
}

func TestRetries(t *testing.T) {
	for _, tc := range []struct {
		name      string
		statuses  []int
		wantErr   error
		wantCalls int
		check     func(t *testing.T, sleeps []time.Duration)
	}{
		{name: "429 honours Retry-After", statuses: []int{429}, wantCalls: 2, check: func(t *testing.T, s []time.Duration) {
			if len(s) != 1 || s[0] != 7*time.Second {
				t.Errorf("sleeps %v, want [7s]", s)
			}
		}},
		{name: "5xx backs off exponentially with jitter", statuses: []int{500, 502, 503, 504}, wantCalls: 5, check: func(t *testing.T, s []time.Duration) {
			for i, d := range s {
				hi := backoffBase << i
				if d < hi/2 || d > hi {
					t.Errorf("retry %d waited %v, want within [%v, %v]", i+1, d, hi/2, hi)
				}
			}
		}},
		{name: "gives up after 5 attempts", statuses: []int{503, 503, 503, 503, 503, 503}, wantCalls: 5, wantErr: &StatusError{}},
		{name: "401 is not retried", statuses: []int{401}, wantCalls: 1, wantErr: ErrUnauthorized},
		{name: "400 is not retried", statuses: []int{400}, wantCalls: 1, wantErr: &StatusError{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			up := &scripted{statuses: append([]int(nil), tc.statuses...)}
			tokens := &countingTokens{}
			c, obs, sleeps := newTestClient(t, up, tokens, 6000)
			_, err := c.FetchPage(context.Background(), testWindow, 0)
			switch want := tc.wantErr.(type) {
			case nil:
				if err != nil {
					t.Fatal(err)
				}
			case *StatusError:
				var se *StatusError
				if !errors.As(err, &se) {
					t.Fatalf("err %v, want a StatusError", err)
				}
			default:
				if !errors.Is(err, want) {
					t.Fatalf("err %v, want %v", err, want)
				}
			}
			if len(up.headers) != tc.wantCalls {
				t.Errorf("%d calls, want %d", len(up.headers), tc.wantCalls)
			}
			total := 0
			for _, n := range obs.codes {
				total += n
			}
			if total != tc.wantCalls {
				t.Errorf("observer saw %d requests, want %d", total, tc.wantCalls)
			}
			if errors.Is(tc.wantErr, ErrUnauthorized) && tokens.invalidated != 1 {
				t.Error("401 did not invalidate the token")
			}
			if tc.check != nil {
				tc.check(t, *sleeps)
			}
			if err != nil && strings.Contains(err.Error(), "tok-") {
				t.Errorf("error carries the token: %v", err)
			}
		})
	}
}

type countingTokens struct{ invalidated int }

func (c *countingTokens) Token() (string, error) { return "tok-secret-value", nil }
func (c *countingTokens) Invalidate()            { c.invalidated++ }

func TestDeadline(t *testing.T) {
	up := &scripted{delay: 2 * time.Second}
	c, obs, _ := newTestClient(t, up, StaticToken("tok"), 6000)
	began := time.Now()
	_, err := c.FetchPage(context.Background(), testWindow, 0)
	if err == nil {
		t.Fatal("no error from a server slower than the request timeout")
	}
	// 5 attempts of 300 ms each (1.5 s); without the deadline they would
	// wait out the slow server's 2 s each (10 s).
	if took := time.Since(began); took > 5*time.Second {
		t.Errorf("took %v: the request deadline was not applied", took)
	}
	if obs.codes["error"] != maxAttempts {
		t.Errorf("codes %v", obs.codes)
	}
}

func TestRateLimitWaits(t *testing.T) {
	up := &scripted{}
	// 60/min: one request a second, a burst of 5.
	c, obs, _ := newTestClient(t, up, StaticToken("tok"), 60)
	for i := 0; i < 7; i++ {
		if _, err := c.FetchPage(context.Background(), testWindow, 0); err != nil {
			t.Fatal(err)
		}
	}
	// After the burst of 5, the 6th and 7th wait ~1 s each.
	if obs.waited < 1500*time.Millisecond {
		t.Errorf("waited %v for the rate limit, want about 2s", obs.waited)
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for v, want := range map[string]time.Duration{
		"": 0, "3": 3 * time.Second, "-1": 0, "abc": 0,
		now.Add(90 * time.Second).Format(http.TimeFormat): 90 * time.Second,
		now.Add(-time.Minute).Format(http.TimeFormat):     0,
	} {
		if got := parseRetryAfter(v, now); got != want {
			t.Errorf("%q: %v, want %v", v, got, want)
		}
	}
}
