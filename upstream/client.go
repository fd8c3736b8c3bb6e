// Package upstream is what every reader of the Kore.ai platform shares: one
// HTTP client, the JWT, the account's API budget, the retry policy and the
// limits that keep a hostile or broken upstream from hurting the exporter
// (no redirects to other hosts, a cap on response bodies, a deadline on every
// request). The call-details collector and the live-state collector each
// build their requests and decode their answers; this package sends them.
package upstream

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// Retry policy. Exactly one layer retries: this client. Callers never repeat
// a request that failed here; a poll reports itself incomplete and the next
// poll asks again.
const (
	MaxAttempts   = 5
	backoffBase   = time.Second
	backoffMax    = 30 * time.Second
	maxRetryAfter = 5 * time.Minute
	// A wait at least this long is worth an info line: the operator sees
	// why nothing moves.
	noticeableWait = 10 * time.Second
	maxErrBodySize = 256
)

// DefaultMaxBodyBytes caps one response body. A call-details page of 100
// records is a few hundred kB (about 1 MB with every optional field); 32 MiB
// is generous headroom and still keeps a hostile upstream (a 2 GB chunked
// body) from taking the process's memory.
const DefaultMaxBodyBytes = 32 << 20

// tracer is the global provider's: a no-op until otlp.Setup installs one.
var tracer = otel.Tracer("github.com/smartassist-exporter/smartassist_exporter/upstream")

// ErrUnauthorized means the platform refused the token (401 or 403). It is
// not retried: a retry in a hot loop would only spend the budget. The
// StatusError is in the chain too (errors.As), for callers to whom a 403
// means "this API is not available on this tenant".
var ErrUnauthorized = errors.New("upstream refused the credentials")

// ErrRedirect is a redirect the client refused to follow: the auth header
// goes only to the configured scheme and host.
var ErrRedirect = errors.New("upstream redirect refused")

// ErrBodyTooLarge is a response body over the cap.
var ErrBodyTooLarge = errors.New("upstream response body too large")

// StatusError is a response with a status the client does not retry, or the
// last of a series of retried ones.
type StatusError struct {
	Code int
	Body string // the start of the body, for the log
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("upstream answered %d %s: %s", e.Code, http.StatusText(e.Code), e.Body)
}

// Config is what the client needs of the configuration.
type Config struct {
	// BaseURL is the platform's scheme and host (config validated it).
	BaseURL        string
	AccountID      string
	RequestTimeout time.Duration
	UserAgent      string
	// MaxBodyBytes caps a response body; 0 means DefaultMaxBodyBytes.
	MaxBodyBytes int64
}

// RequestObserver is told about every request the client sends.
type RequestObserver interface {
	// Request is called after every attempt: endpoint names the API, code
	// is the HTTP status or "error" for a transport failure; waited is the
	// time spent waiting for the budget before it.
	Request(endpoint, code string, waited time.Duration)
}

// Request is one call of a platform API.
type Request struct {
	// Endpoint names the API in metrics, logs and traces (calldetails,
	// queue_performance, ...): a closed set of names, never upstream text.
	Endpoint string
	Method   string
	// Path is the URL path below the base URL, segments already escaped.
	Path  string
	Query url.Values
	// Body is sent as application/json; nil sends none.
	Body []byte
	// Header holds extra headers (iId); auth, accountId, accept,
	// content-type and user-agent are the client's.
	Header   http.Header
	Priority Priority
	// MaxAttempts bounds the attempts of this request; 0 means the
	// client's MaxAttempts. A live-state poll sends 1: a stale live answer
	// is worthless, so it skips to its next interval instead of retrying.
	MaxAttempts int
	// Attributes describe the request on its span (window, page, ...).
	Attributes []attribute.KeyValue
}

// DecodeFunc turns a 200 body into the caller's result. An error is taken
// for a cut or garbled body (usually a proxy's fault) and retried. ctx
// carries the attempt's span, for attributes such as the record count.
type DecodeFunc func(ctx context.Context, body []byte) error

// Client sends requests to the platform. It is safe for concurrent use by
// several sources; each source sends its own requests one at a time.
type Client struct {
	cfg     Config
	base    *url.URL
	http    *http.Client
	tokens  TokenSource
	budget  *Budget
	obs     RequestObserver
	log     *slog.Logger
	maxBody int64
	// sleep waits between retries; tests replace it.
	sleep func(context.Context, time.Duration) error
}

// New builds the client. httpClient is reused for every request (its
// Transport is shared); the client follows a redirect only to the same
// scheme and host, so that the JWT in the custom auth header, which Go's
// client does not strip on a cross-host redirect, never leaves the platform.
func New(cfg Config, httpClient *http.Client, tokens TokenSource, budget *Budget, obs RequestObserver, log *slog.Logger) (*Client, error) {
	base, err := url.Parse(strings.TrimRight(cfg.BaseURL, "/"))
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, fmt.Errorf("base URL %q is not an http or https URL with a host", cfg.BaseURL)
	}
	hc := *httpClient
	hc.CheckRedirect = sameOrigin(base)
	maxBody := cfg.MaxBodyBytes
	if maxBody <= 0 {
		maxBody = DefaultMaxBodyBytes
	}
	return &Client{cfg: cfg, base: base, http: &hc, tokens: tokens, budget: budget, obs: obs, log: log,
		maxBody: maxBody, sleep: SleepContext}, nil
}

// SetSleep replaces the wait between retries (tests make it instant).
func (c *Client) SetSleep(sleep func(context.Context, time.Duration) error) { c.sleep = sleep }

// Budget is the shared budget the client draws from.
func (c *Client) Budget() *Budget { return c.budget }

func sameOrigin(base *url.URL) func(*http.Request, []*http.Request) error {
	return func(req *http.Request, via []*http.Request) error {
		if len(via) >= 5 {
			return fmt.Errorf("%w: more than 5 redirects, last to %s", ErrRedirect, req.URL.Redacted())
		}
		if req.URL.Scheme != base.Scheme || req.URL.Host != base.Host {
			return fmt.Errorf("%w: the platform redirected to %s, outside %s://%s (the auth token is sent only there)",
				ErrRedirect, req.URL.Redacted(), base.Scheme, base.Host)
		}
		return nil
	}
}

// Do sends req with retries — 429, 5xx, transport failures and bodies decode
// rejects, with exponential backoff and jitter honouring Retry-After — and
// hands the body of a 200 to decode. 401/403, other 4xx, refused redirects
// and oversized bodies are not retried.
func (c *Client) Do(ctx context.Context, req Request, decode DecodeFunc) error {
	// Path is already escaped: joined as text, not through url.URL.Path,
	// which would escape its percent signs again.
	target := strings.TrimRight(c.base.String(), "/") + req.Path
	if len(req.Query) > 0 {
		target += "?" + req.Query.Encode()
	}
	attempts := MaxAttempts
	if req.MaxAttempts > 0 {
		attempts = min(req.MaxAttempts, MaxAttempts)
	}
	var lastErr error
	for attempt := 1; attempt <= attempts; attempt++ {
		retryAfter, err := c.attempt(ctx, req, target, attempt, decode)
		if err == nil {
			return nil
		}
		lastErr = err
		if retryAfter < 0 || ctx.Err() != nil || attempt == attempts {
			break
		}
		wait := backoff(attempt)
		reason := "backing off"
		if retryAfter > 0 {
			wait = min(retryAfter, maxRetryAfter)
			reason = "the platform asked to wait (Retry-After)"
			if retryAfter > maxRetryAfter {
				reason = fmt.Sprintf("the platform asked to wait %s (Retry-After), capped", retryAfter.Round(time.Second))
			}
		}
		lvl := slog.LevelDebug
		if retryAfter > 0 || wait >= noticeableWait {
			lvl = slog.LevelInfo
		}
		c.log.Log(ctx, lvl, "waiting before retrying an upstream request", "endpoint", req.Endpoint, "wait", wait,
			"why", reason, "attempt", attempt, "of", attempts, "err", err)
		if err := c.sleep(ctx, wait); err != nil {
			// lastErr is context for the reader, not a cause to match on:
			// errors.Is must see only why the wait ended.
			return fmt.Errorf("%w (while waiting to retry after: %v)", err, lastErr) //nolint:errorlint // see above
		}
	}
	return lastErr
}

// attempt sends one request. retryAfter is -1 when the failure must not be
// retried, 0 to retry after the usual backoff, or the server's Retry-After.
func (c *Client) attempt(ctx context.Context, r Request, target string, attempt int, decode DecodeFunc) (retryAfter time.Duration, err error) {
	// One span per attempt, covering the wait for the budget; a no-op
	// unless traces are exported.
	attrs := append([]attribute.KeyValue{
		attribute.String("smartassist.endpoint", r.Endpoint),
		attribute.Int("smartassist.attempt", attempt),
	}, r.Attributes...)
	ctx, span := tracer.Start(ctx, "smartassist.api.request", trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
	defer func() {
		if err != nil {
			span.RecordError(err)
			span.SetStatus(codes.Error, err.Error())
		}
		span.SetAttributes(attribute.Bool("smartassist.will_retry", err != nil && retryAfter >= 0))
		span.End()
	}()
	waited, err := c.budget.Wait(ctx, r.Priority)
	if err != nil {
		return -1, fmt.Errorf("waiting for the API budget: %w", err)
	}
	span.SetAttributes(attribute.Float64("smartassist.rate_limit_wait_seconds", waited.Seconds()))
	token, err := c.tokens.Token()
	if err != nil {
		return -1, fmt.Errorf("getting a token: %w", err)
	}
	rctx, cancel := context.WithTimeout(ctx, c.cfg.RequestTimeout)
	defer cancel()
	var body io.Reader
	if r.Body != nil {
		body = bytes.NewReader(r.Body)
	}
	req, err := http.NewRequestWithContext(rctx, r.Method, target, body)
	if err != nil {
		return -1, err
	}
	maps.Copy(req.Header, r.Header)
	req.Header.Set("auth", token)
	req.Header.Set("accountId", c.cfg.AccountID)
	req.Header.Set("accept", "application/json")
	if r.Body != nil {
		req.Header.Set("content-type", "application/json")
	}
	if c.cfg.UserAgent != "" {
		req.Header.Set("user-agent", c.cfg.UserAgent)
	}
	// W3C trace context, when traces are exported (the default propagator
	// injects nothing).
	otel.GetTextMapPropagator().Inject(ctx, propagation.HeaderCarrier(req.Header))
	resp, err := c.http.Do(req)
	if err != nil {
		c.obs.Request(r.Endpoint, "error", waited)
		switch {
		case ctx.Err() != nil:
			return -1, ctx.Err()
		case errors.Is(err, ErrRedirect):
			return -1, errors.Unwrap(err) // the url.Error repeats the URL; ours names both
		}
		// url.Error holds the URL and the cause, never the headers.
		return 0, err
	}
	defer resp.Body.Close()
	c.obs.Request(r.Endpoint, strconv.Itoa(resp.StatusCode), waited)
	span.SetAttributes(attribute.Int("http.response.status_code", resp.StatusCode))
	data, err := c.readBody(resp)
	switch {
	case errors.Is(err, ErrBodyTooLarge):
		return -1, err
	case err != nil && ctx.Err() != nil:
		return -1, ctx.Err()
	case err != nil:
		return 0, fmt.Errorf("reading response: %w", err)
	}
	switch code := resp.StatusCode; {
	case code == http.StatusOK:
		if err := decode(ctx, data); err != nil {
			return 0, err
		}
		return 0, nil
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		c.tokens.Invalidate()
		return -1, fmt.Errorf("%w: %w", ErrUnauthorized, statusError(code, data))
	case code == http.StatusTooManyRequests || code >= 500:
		return parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()), statusError(code, data)
	default:
		// Other 3xx (a redirect the client did not follow) and 4xx.
		return -1, statusError(code, data)
	}
}

// readBody reads at most the cap; a body over it is an error, read no
// further (a 2 GB body costs 32 MiB, not 2 GB).
func (c *Client) readBody(resp *http.Response) ([]byte, error) {
	if resp.ContentLength > c.maxBody {
		return nil, fmt.Errorf("%w: Content-Length %d over the %d-byte cap", ErrBodyTooLarge, resp.ContentLength, c.maxBody)
	}
	size := c.maxBody + 1
	if resp.ContentLength >= 0 {
		size = resp.ContentLength + 1
	}
	buf := bytes.NewBuffer(make([]byte, 0, min(size, 1<<20)))
	n, err := buf.ReadFrom(io.LimitReader(resp.Body, c.maxBody+1))
	if n > c.maxBody {
		return nil, fmt.Errorf("%w: over the %d-byte cap", ErrBodyTooLarge, c.maxBody)
	}
	return buf.Bytes(), err
}

func statusError(code int, body []byte) *StatusError {
	s := strings.Join(strings.Fields(string(body)), " ")
	if len(s) > maxErrBodySize {
		s = strings.ToValidUTF8(s[:maxErrBodySize], "") + "…" // the cut may split a character
	}
	return &StatusError{Code: code, Body: s}
}

// HasStatus reports whether err carries a StatusError with one of codes.
func HasStatus(err error, codes ...int) bool {
	var se *StatusError
	if !errors.As(err, &se) {
		return false
	}
	return slices.Contains(codes, se.Code)
}

// backoff is the wait before retry number attempt (1-based): exponential
// from 1s, capped at 30s, with jitter over its upper half so that several
// exporters of one account do not retry in step.
func backoff(attempt int) time.Duration {
	d := backoffBase << (attempt - 1)
	if d > backoffMax || d <= 0 {
		d = backoffMax
	}
	return d/2 + rand.N(d/2+1)
}

// parseRetryAfter reads seconds or an HTTP date; 0 when absent or unusable.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseInt(v, 10, 64); err == nil {
		if s <= 0 {
			return 0
		}
		// A year is as good as forever; it also keeps the multiplication
		// from overflowing.
		return time.Duration(min(s, 365*24*3600)) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}

// SleepContext waits d or until ctx ends, whichever is first; it returns
// ctx.Err() when the context ended the wait. It is the client's default
// retry sleep and the live collector's default wait between polls.
func SleepContext(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
