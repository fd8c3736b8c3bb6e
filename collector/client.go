package collector

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"golang.org/x/time/rate"

	"github.com/smartassist-exporter/smartassist_exporter/conversation"
)

// API limits of the call-details endpoint, as documented.
const (
	PageLimit    = 100 // records per page at most
	MaxPageIndex = 10  // offset is a page index, 0..10: 1100 records per query
	// MaxWindow is the longest range one query may name.
	MaxWindow = 7 * 24 * time.Hour
	// DateLayout is how startDate and endDate are written, in the local
	// time of the timeZoneOffset sent with them.
	DateLayout = "2006-01-02 15:04:05"
)

// Retry policy. Exactly one layer retries: this client. The poll loop never
// repeats a request that failed here; it reports the poll incomplete and the
// next poll reads the same range again.
const (
	maxAttempts    = 5
	backoffBase    = time.Second
	backoffMax     = 30 * time.Second
	maxRetryAfter  = 5 * time.Minute
	maxErrBodySize = 256
)

// tracer is the global provider's: a no-op until otlp.Setup installs one.
var tracer = otel.Tracer("github.com/smartassist-exporter/smartassist_exporter/collector")

// ErrUnauthorized means the platform refused the token (401 or 403). It is
// not retried: a retry in a hot loop would only spend the rate limit.
var ErrUnauthorized = errors.New("upstream refused the credentials")

// StatusError is a response with a status the client does not retry, or the
// last of a series of retried ones.
type StatusError struct {
	Code int
	Body string // the start of the body, for the log
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("upstream answered %d %s: %s", e.Code, http.StatusText(e.Code), e.Body)
}

// Window is a range of session start times, inclusive at both ends, as the
// API reads startDate and endDate.
type Window struct {
	Start, End time.Time
}

func (w Window) Duration() time.Duration { return w.End.Sub(w.Start) }

func (w Window) String() string {
	return w.Start.UTC().Format(time.RFC3339) + "/" + w.End.UTC().Format(time.RFC3339)
}

// ClientConfig is what the client needs of the configuration.
type ClientConfig struct {
	BaseURL        string
	AccountID      string
	StreamID       string
	Endpoint       string
	TimezoneOffset int
	RateLimit      float64 // requests per minute
	RequestTimeout time.Duration
	UserAgent      string
}

// RequestObserver is told about every request the client sends.
type RequestObserver interface {
	// Request is called after every attempt: code is the HTTP status or
	// "error" for a transport failure; waited is the time spent waiting for
	// the rate limit before it.
	Request(code string, waited time.Duration)
}

// Client calls the call-details API. It is safe for one poller; requests
// are sequential by design (the budget is per minute, not per connection).
type Client struct {
	cfg     ClientConfig
	url     string
	loc     *time.Location
	http    *http.Client
	tokens  TokenSource
	limiter *rate.Limiter
	obs     RequestObserver
	log     *slog.Logger
	// sleep waits between retries; tests replace it.
	sleep func(context.Context, time.Duration) error
}

// NewClient builds the client. httpClient is reused for every request.
func NewClient(cfg ClientConfig, httpClient *http.Client, tokens TokenSource, obs RequestObserver, log *slog.Logger) *Client {
	perSecond := cfg.RateLimit / 60
	// A small burst lets a poll start without waiting while keeping the
	// minute total within the budget: the bucket holds at most a tenth of a
	// minute's allowance (at least 1, at most 5).
	burst := int(cfg.RateLimit / 10)
	burst = max(1, min(burst, 5))
	u := fmt.Sprintf("%s/agentassist/api/public/analytics/account/%s/v2/%s",
		strings.TrimRight(cfg.BaseURL, "/"), url.PathEscape(cfg.AccountID), cfg.Endpoint)
	return &Client{
		cfg:     cfg,
		url:     u,
		loc:     conversation.ZoneForOffset(cfg.TimezoneOffset),
		http:    httpClient,
		tokens:  tokens,
		limiter: rate.NewLimiter(rate.Limit(perSecond), burst),
		obs:     obs,
		log:     log,
		sleep:   sleepCtx,
	}
}

// Location is the zone of the configured timeZoneOffset.
func (c *Client) Location() *time.Location { return c.loc }

type requestBody struct {
	StartDate      string   `json:"startDate"`
	EndDate        string   `json:"endDate"`
	TimeZoneOffset int      `json:"timeZoneOffset"`
	SelectedFields []string `json:"selectedFields"`
}

// FetchPage reads one page of a window, retrying 429s, 5xx and transport
// failures with exponential backoff and jitter, honouring Retry-After.
func (c *Client) FetchPage(ctx context.Context, w Window, page int) (conversation.Page, error) {
	if page < 0 || page > MaxPageIndex {
		return conversation.Page{}, fmt.Errorf("page %d outside 0..%d", page, MaxPageIndex)
	}
	if w.End.Before(w.Start) || w.Duration() > MaxWindow {
		return conversation.Page{}, fmt.Errorf("window %s is not a range of at most 7 days", w)
	}
	body, err := json.Marshal(requestBody{
		StartDate:      w.Start.In(c.loc).Format(DateLayout),
		EndDate:        w.End.In(c.loc).Format(DateLayout),
		TimeZoneOffset: c.cfg.TimezoneOffset,
		// customerinfo is never asked for: the exporter has no use for
		// customers' names, phones or e-mails.
		SelectedFields: []string{"campaigninfo"},
	})
	if err != nil {
		return conversation.Page{}, err
	}
	target := fmt.Sprintf("%s?offset=%d&limit=%d", c.url, page, PageLimit)
	var lastErr error
	for attempt := 1; attempt <= maxAttempts; attempt++ {
		p, retryAfter, err := c.attempt(ctx, w, page, attempt, target, body)
		if err == nil {
			return p, nil
		}
		lastErr = err
		if retryAfter < 0 || ctx.Err() != nil || attempt == maxAttempts {
			break
		}
		wait := backoff(attempt)
		if retryAfter > 0 {
			wait = min(retryAfter, maxRetryAfter)
		}
		c.log.Debug("retrying upstream request", "window", w.String(), "page", page, "attempt", attempt, "wait", wait, "err", err)
		if err := c.sleep(ctx, wait); err != nil {
			return conversation.Page{}, fmt.Errorf("window %s page %d: %w (while waiting to retry after: %v)", w, page, err, lastErr)
		}
	}
	return conversation.Page{}, fmt.Errorf("window %s page %d: %w", w, page, lastErr)
}

// attempt sends one request. retryAfter is -1 when the failure must not be
// retried, 0 to retry after the usual backoff, or the server's Retry-After.
func (c *Client) attempt(ctx context.Context, w Window, page, attempt int, target string, body []byte) (p conversation.Page, retryAfter time.Duration, err error) {
	// One span per attempt, covering the wait for the rate limit; a no-op
	// unless traces are exported.
	ctx, span := tracer.Start(ctx, "smartassist.api.request", trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(
			attribute.String("smartassist.endpoint", c.cfg.Endpoint),
			attribute.Int("smartassist.page", page),
			attribute.Int("smartassist.attempt", attempt),
			attribute.String("smartassist.window.start", w.Start.UTC().Format(time.RFC3339)),
			attribute.String("smartassist.window.end", w.End.UTC().Format(time.RFC3339)),
		))
	defer func() {
		if err != nil {
			span.RecordError(err)
			span.SetStatus(codes.Error, err.Error())
		}
		span.SetAttributes(attribute.Int("smartassist.records", p.Len), attribute.Bool("smartassist.will_retry", err != nil && retryAfter >= 0))
		span.End()
	}()
	began := time.Now()
	if err := c.limiter.Wait(ctx); err != nil {
		return conversation.Page{}, -1, fmt.Errorf("waiting for the API rate limit: %w", err)
	}
	waited := time.Since(began)
	span.SetAttributes(attribute.Float64("smartassist.rate_limit_wait_seconds", waited.Seconds()))
	token, err := c.tokens.Token()
	if err != nil {
		return conversation.Page{}, -1, fmt.Errorf("getting a token: %w", err)
	}
	rctx, cancel := context.WithTimeout(ctx, c.cfg.RequestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return conversation.Page{}, -1, err
	}
	req.Header.Set("auth", token)
	req.Header.Set("accountId", c.cfg.AccountID)
	req.Header.Set("iId", c.cfg.StreamID)
	req.Header.Set("content-type", "application/json")
	req.Header.Set("accept", "application/json")
	if c.cfg.UserAgent != "" {
		req.Header.Set("user-agent", c.cfg.UserAgent)
	}
	// W3C trace context, when traces are exported (the default propagator
	// injects nothing).
	otel.GetTextMapPropagator().Inject(ctx, propagation.HeaderCarrier(req.Header))
	resp, err := c.http.Do(req)
	if err != nil {
		c.obs.Request("error", waited)
		if ctx.Err() != nil {
			return conversation.Page{}, -1, ctx.Err()
		}
		// url.Error holds the URL and the cause, never the headers.
		return conversation.Page{}, 0, err
	}
	defer resp.Body.Close()
	c.obs.Request(strconv.Itoa(resp.StatusCode), waited)
	span.SetAttributes(attribute.Int("http.response.status_code", resp.StatusCode))
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		if ctx.Err() != nil {
			return conversation.Page{}, -1, ctx.Err()
		}
		return conversation.Page{}, 0, fmt.Errorf("reading response: %w", err)
	}
	switch {
	case resp.StatusCode == http.StatusOK:
		p, err := conversation.DecodePage(data, c.loc)
		if err != nil {
			// A cut or garbled body is usually a proxy's fault: retry it.
			return conversation.Page{}, 0, err
		}
		return p, 0, nil
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		c.tokens.Invalidate()
		return conversation.Page{}, -1, fmt.Errorf("%w: %w", ErrUnauthorized, statusError(resp.StatusCode, data))
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return conversation.Page{}, parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()), statusError(resp.StatusCode, data)
	default:
		return conversation.Page{}, -1, statusError(resp.StatusCode, data)
	}
}

func statusError(code int, body []byte) *StatusError {
	s := strings.Join(strings.Fields(string(body)), " ")
	if len(s) > maxErrBodySize {
		s = strings.ToValidUTF8(s[:maxErrBodySize], "") + "…" // the cut may split a character
	}
	return &StatusError{Code: code, Body: s}
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
	if s, err := strconv.Atoi(v); err == nil {
		if s <= 0 {
			return 0
		}
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
