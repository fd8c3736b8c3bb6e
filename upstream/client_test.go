package upstream

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/smartassist-exporter/smartassist_exporter/internal/testkit"
)

func TestMintedTokens(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	m := NewMintedTokensAt("cs-app", func() (string, error) { return "s3cret", nil }, func() time.Time { return now })
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
		_, _ = io.WriteString(w, `{"ok":true}`)
	} else {
		_, _ = io.WriteString(w, `{"errors":[{"msg":"nope"}]}`)
	}
}

type countingObserver struct {
	mu     sync.Mutex
	codes  map[string]int
	waited time.Duration
}

func (o *countingObserver) Request(endpoint, code string, waited time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.codes == nil {
		o.codes = map[string]int{}
	}
	o.codes[endpoint+" "+code]++
	o.waited += waited
}

func (o *countingObserver) total() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := 0
	for _, v := range o.codes {
		n += v
	}
	return n
}

type testClient struct {
	*Client
	obs    *countingObserver
	sleeps *[]time.Duration
	logs   *syncBuffer
}

type syncBuffer = testkit.SyncBuffer

func newTestClient(t *testing.T, url string, tokens TokenSource, perMinute float64, maxBody int64) testClient {
	t.Helper()
	obs := &countingObserver{}
	logs := &syncBuffer{}
	c, err := New(Config{BaseURL: url, AccountID: "acc", RequestTimeout: 300 * time.Millisecond, UserAgent: "test", MaxBodyBytes: maxBody},
		&http.Client{}, tokens, NewBudget(perMinute), obs, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	var sleeps []time.Duration
	c.sleep = func(_ context.Context, d time.Duration) error { sleeps = append(sleeps, d); return nil }
	return testClient{c, obs, &sleeps, logs}
}

func serve(t *testing.T, h http.Handler) string {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

var testRequest = Request{Endpoint: "calldetails", Method: http.MethodPost, Path: "/api/x", Body: []byte(`{}`),
	Header: http.Header{"Iid": {"st-1"}}}

func ignoreBody(context.Context, []byte) error { return nil }

func TestRequestHeaders(t *testing.T) {
	up := &scripted{}
	c := newTestClient(t, serve(t, up), StaticToken("tok"), 6000, 0)
	var got []byte
	if err := c.Do(context.Background(), testRequest, func(_ context.Context, b []byte) error { got = b; return nil }); err != nil {
		t.Fatal(err)
	}
	if string(got) != `{"ok":true}` {
		t.Errorf("body %q", got)
	}
	h := up.headers[0]
	if h.Get("auth") != "tok" || h.Get("accountId") != "acc" || h.Get("iId") != "st-1" || h.Get("content-type") != "application/json" ||
		h.Get("user-agent") != "test" {
		t.Errorf("headers: %v", h)
	}
	if c.obs.codes["calldetails 200"] != 1 {
		t.Errorf("observed %v", c.obs.codes)
	}
}

func TestRetries(t *testing.T) {
	for _, tc := range []struct {
		name      string
		statuses  []int
		wantErr   error
		wantCalls int
		check     func(t *testing.T, sleeps []time.Duration, logs string)
	}{
		{name: "429 honours Retry-After and says so", statuses: []int{429}, wantCalls: 2, check: func(t *testing.T, s []time.Duration, logs string) {
			if len(s) != 1 || s[0] != 7*time.Second {
				t.Errorf("sleeps %v, want [7s]", s)
			}
			if !strings.Contains(logs, "level=INFO") || !strings.Contains(logs, "Retry-After") {
				t.Errorf("a Retry-After wait is not logged at info:\n%s", logs)
			}
		}},
		{name: "5xx backs off exponentially with jitter", statuses: []int{500, 502, 503, 504}, wantCalls: 5, check: func(t *testing.T, s []time.Duration, _ string) {
			for i, d := range s {
				hi := backoffBase << i
				if d < hi/2 || d > hi {
					t.Errorf("retry %d waited %v, want within [%v, %v]", i+1, d, hi/2, hi)
				}
			}
		}},
		{name: "gives up after 5 attempts", statuses: []int{503, 503, 503, 503, 503, 503}, wantCalls: 5, wantErr: &StatusError{}},
		{name: "401 is not retried", statuses: []int{401}, wantCalls: 1, wantErr: ErrUnauthorized},
		{name: "403 is not retried", statuses: []int{403}, wantCalls: 1, wantErr: ErrUnauthorized},
		{name: "400 is not retried", statuses: []int{400}, wantCalls: 1, wantErr: &StatusError{}},
		{name: "404 is not retried", statuses: []int{404}, wantCalls: 1, wantErr: &StatusError{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			up := &scripted{statuses: append([]int(nil), tc.statuses...)}
			tokens := &countingTokens{}
			c := newTestClient(t, serve(t, up), tokens, 6000, 0)
			err := c.Do(context.Background(), testRequest, ignoreBody)
			switch want := tc.wantErr.(type) { //nolint:errorlint // switches on the table's expected value, not on an error returned
			case nil:
				if err != nil {
					t.Fatal(err)
				}
			case *StatusError:
				if _, ok := errors.AsType[*StatusError](err); !ok {
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
			if c.obs.total() != tc.wantCalls {
				t.Errorf("observer saw %d requests, want %d", c.obs.total(), tc.wantCalls)
			}
			if errors.Is(tc.wantErr, ErrUnauthorized) {
				if tokens.invalidated != 1 {
					t.Error("401/403 did not invalidate the token")
				}
				if !HasStatus(err, 401, 403) {
					t.Errorf("the status is not in the error chain: %v", err)
				}
			}
			if tc.check != nil {
				tc.check(t, *c.sleeps, c.logs.String())
			}
			if err != nil && strings.Contains(err.Error(), "tok-") {
				t.Errorf("error carries the token: %v", err)
			}
		})
	}
}

// TestDecodeErrorsAreRetried: a body the caller cannot decode is taken for
// a cut or garbled answer and asked again.
func TestDecodeErrorsAreRetried(t *testing.T) {
	up := &scripted{}
	c := newTestClient(t, serve(t, up), StaticToken("tok"), 6000, 0)
	calls := 0
	err := c.Do(context.Background(), testRequest, func(context.Context, []byte) error {
		calls++
		if calls < 3 {
			return errors.New("garbled")
		}
		return nil
	})
	if err != nil || calls != 3 || len(up.headers) != 3 {
		t.Errorf("err %v after %d decodes and %d requests", err, calls, len(up.headers))
	}
}

type countingTokens struct{ invalidated int }

func (c *countingTokens) Token() (string, error) { return "tok-secret-value", nil }
func (c *countingTokens) Invalidate()            { c.invalidated++ }

// TestDeadline: no request outlives its deadline, whatever the server does.
func TestDeadline(t *testing.T) {
	t.Parallel() // waits in real time; nothing shared
	up := &scripted{delay: 2 * time.Second}
	c := newTestClient(t, serve(t, up), StaticToken("tok"), 6000, 0)
	err := c.Do(context.Background(), testRequest, ignoreBody)
	if err == nil {
		t.Fatal("no error from a server slower than the request timeout")
	}
	// Every attempt ended by the 300 ms deadline, none by the server's
	// answer after 2 s: no 200 was observed, only transport errors.
	if c.obs.codes["calldetails error"] != MaxAttempts || c.obs.total() != MaxAttempts {
		t.Errorf("codes %v", c.obs.codes)
	}
	if !strings.Contains(err.Error(), "deadline exceeded") && !strings.Contains(err.Error(), "Timeout") {
		t.Errorf("error does not say the deadline passed: %v", err)
	}
}

func TestBudgetWaits(t *testing.T) {
	t.Parallel() // waits in real time; nothing shared
	up := &scripted{}
	// 60/min: one request a second, a burst of 5.
	c := newTestClient(t, serve(t, up), StaticToken("tok"), 60, 0)
	for range 7 {
		if err := c.Do(context.Background(), testRequest, ignoreBody); err != nil {
			t.Fatal(err)
		}
	}
	// After the burst of 5, the 6th and 7th wait ~1 s each.
	if c.obs.waited < 1500*time.Millisecond {
		t.Errorf("waited %v for the budget, want about 2s", c.obs.waited)
	}
}

// TestRedirects: the JWT goes only to the configured scheme and host. A
// redirect elsewhere (another host, https to http) is refused with an error
// naming the Location, and the target is never asked; one on the same
// origin is followed.
func TestRedirects(t *testing.T) {
	var elsewhereHit sync.Mutex
	hits := 0
	elsewhere := serve(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		elsewhereHit.Lock()
		hits++
		elsewhereHit.Unlock()
		_, _ = io.WriteString(w, `{"stolen":true}`)
	}))
	origin := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/x":
			http.Redirect(w, r, elsewhere+"/collect?token=abc", http.StatusTemporaryRedirect)
		case "/api/same":
			http.Redirect(w, r, "/api/final", http.StatusTemporaryRedirect)
		case "/api/final":
			if r.Header.Get("auth") != "tok" {
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			_, _ = io.WriteString(w, `{"ok":true}`)
		}
	}))
	c := newTestClient(t, origin, StaticToken("tok"), 6000, 0)
	decoded := 0
	err := c.Do(context.Background(), testRequest, func(context.Context, []byte) error { decoded++; return nil })
	if !errors.Is(err, ErrRedirect) || !strings.Contains(err.Error(), elsewhere+"/collect") {
		t.Errorf("err %v, want a refused redirect naming the Location", err)
	}
	if hits != 0 || decoded != 0 {
		t.Errorf("the other host was asked %d times, %d answers used", hits, decoded)
	}
	if len(*c.sleeps) != 0 {
		t.Errorf("a refused redirect was retried: %v", *c.sleeps)
	}
	same := testRequest
	same.Path = "/api/same"
	if err := c.Do(context.Background(), same, func(context.Context, []byte) error { decoded++; return nil }); err != nil || decoded != 1 {
		t.Errorf("a same-origin redirect: %v, %d decoded", err, decoded)
	}
}

// TestBodyCap: an endless body costs the cap, not the body; it is an error,
// not retried, and memory stays bounded.
func TestBodyCap(t *testing.T) {
	const capBytes = 1 << 20
	endless := serve(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("content-type", "application/json")
		chunk := bytes.Repeat([]byte(" "), 64<<10)
		for range 2048 { // up to 128 MiB, chunked
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}))
	c := newTestClient(t, endless, StaticToken("tok"), 6000, capBytes)
	c.cfg.RequestTimeout = 30 * time.Second
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	err := c.Do(context.Background(), testRequest, ignoreBody)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, ErrBodyTooLarge) {
		t.Fatalf("err %v, want ErrBodyTooLarge", err)
	}
	if len(*c.sleeps) != 0 {
		t.Errorf("an oversized body was retried")
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 16*capBytes {
		t.Errorf("allocated %d bytes reading a body capped at %d", grew, capBytes)
	}
	declared := serve(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("content-length", "3000000000")
		w.WriteHeader(http.StatusOK)
	}))
	c2 := newTestClient(t, declared, StaticToken("tok"), 6000, capBytes)
	if err := c2.Do(context.Background(), testRequest, ignoreBody); !errors.Is(err, ErrBodyTooLarge) {
		t.Errorf("a declared 3 GB body: %v", err)
	}
}

// TestBudgetPriority: while a high-priority caller waits, normal callers
// that have not reserved a slot wait behind it.
func TestBudgetPriority(t *testing.T) {
	t.Parallel()       // waits in real time; nothing shared
	b := NewBudget(60) // one a second, a burst of 5
	ctx := context.Background()
	for range 5 { // empty the bucket
		if _, err := b.Wait(ctx, PriorityNormal); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	var order []string
	var wg sync.WaitGroup
	wg.Go(func() { // the high-priority caller arrives first and waits ~1 s
		_, _ = b.Wait(ctx, PriorityHigh)
		mu.Lock()
		order = append(order, "high")
		mu.Unlock()
	})
	time.Sleep(100 * time.Millisecond)
	for range 2 {
		wg.Go(func() {
			_, _ = b.Wait(ctx, PriorityNormal)
			mu.Lock()
			order = append(order, "normal")
			mu.Unlock()
		})
	}
	wg.Wait()
	if len(order) != 3 || order[0] != "high" {
		t.Errorf("served in order %v, want high first", order)
	}
	b.Reserve(8)
	if got := b.Unreserved(); got != 52 {
		t.Errorf("unreserved %v, want 52", got)
	}
	b.Reserve(100)
	if got := b.Unreserved(); got != 6 {
		t.Errorf("unreserved %v after over-reserving, want the floor of a tenth (6)", got)
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for v, want := range map[string]time.Duration{
		"": 0, "3": 3 * time.Second, "-1": 0, "abc": 0,
		"86400":                   24 * time.Hour,
		"99999999999999999":       365 * 24 * time.Hour, // no overflow
		"99999999999999999999999": 0,                    // not an int64: ignored
		now.Add(90 * time.Second).Format(http.TimeFormat): 90 * time.Second,
		now.Add(-time.Minute).Format(http.TimeFormat):     0,
	} {
		if got := parseRetryAfter(v, now); got != want {
			t.Errorf("%q: %v, want %v", v, got, want)
		}
	}
}

// TestLongRetryAfterCapped: a day's Retry-After waits the 5-minute cap, and
// the log line at info says what and why.
func TestLongRetryAfterCapped(t *testing.T) {
	calls := 0
	url := serve(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		calls++
		if calls == 1 {
			w.Header().Set("Retry-After", "86400")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		_, _ = io.WriteString(w, `{}`)
	}))
	c := newTestClient(t, url, StaticToken("tok"), 6000, 0)
	if err := c.Do(context.Background(), testRequest, ignoreBody); err != nil {
		t.Fatal(err)
	}
	if len(*c.sleeps) != 1 || (*c.sleeps)[0] != maxRetryAfter {
		t.Errorf("slept %v, want [%v]", *c.sleeps, maxRetryAfter)
	}
	logs := c.logs.String()
	if !strings.Contains(logs, "level=INFO") || !strings.Contains(logs, "24h0m0s") || !strings.Contains(logs, "capped") {
		t.Errorf("the capped wait is not explained at info:\n%s", logs)
	}
}

var (
	spansOnce sync.Once
	spans     = tracetest.NewInMemoryExporter()
)

func TestTraceContextOnRequests(t *testing.T) {
	spansOnce.Do(func() {
		otel.SetTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans)))
		otel.SetTextMapPropagator(propagation.TraceContext{})
	})
	spans.Reset()
	up := &scripted{}
	c := newTestClient(t, serve(t, up), StaticToken("tok"), 6000, 0)
	if err := c.Do(context.Background(), testRequest, ignoreBody); err != nil {
		t.Fatal(err)
	}
	got := up.headers[0].Get("traceparent")
	span := spans.GetSpans().Snapshots()[0]
	want := span.SpanContext().TraceID().String() + "-" + span.SpanContext().SpanID().String()
	if !strings.Contains(got, want) {
		t.Errorf("traceparent %q does not carry the request span %s", got, want)
	}
}

// TestMaxAttemptsPerRequest: a request that asks for one attempt (a live
// poll) gives up on its first 429 without sleeping; one that asks for none
// keeps the client's policy.
func TestMaxAttemptsPerRequest(t *testing.T) {
	up := &scripted{statuses: []int{http.StatusTooManyRequests, http.StatusTooManyRequests}}
	c := newTestClient(t, serve(t, up), StaticToken("tok"), 6000, 0)
	once := testRequest
	once.MaxAttempts = 1
	err := c.Do(context.Background(), once, ignoreBody)
	if !HasStatus(err, http.StatusTooManyRequests) || len(up.headers) != 1 || len(*c.sleeps) != 0 {
		t.Fatalf("one attempt: err %v, %d requests, sleeps %v", err, len(up.headers), *c.sleeps)
	}
	if err := c.Do(context.Background(), testRequest, ignoreBody); err != nil || len(up.headers) != 3 {
		t.Fatalf("default policy: err %v after %d requests in all, want success on the 3rd", err, len(up.headers))
	}
}
