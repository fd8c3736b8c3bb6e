package collector

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/smartassist-exporter/smartassist_exporter/conversation"
	"github.com/smartassist-exporter/smartassist_exporter/upstream"
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

// Endpoints of the call-details API (SMARTASSIST_ENDPOINT).
var Endpoints = []string{"calldetails", "interactionDetails"}

// ErrUnauthorized is upstream's: the platform refused the credentials.
var ErrUnauthorized = upstream.ErrUnauthorized

// Window is a range of session start times, inclusive at both ends, as the
// API reads startDate and endDate.
type Window struct {
	Start, End time.Time
}

// Duration is the window's length.
func (w Window) Duration() time.Duration { return w.End.Sub(w.Start) }

func (w Window) String() string {
	return w.Start.UTC().Format(time.RFC3339) + "/" + w.End.UTC().Format(time.RFC3339)
}

// Contains reports whether t lies in the window, to the second the API
// works in.
func (w Window) Contains(t time.Time) bool {
	t = t.Truncate(time.Second)
	return !t.Before(w.Start.Truncate(time.Second)) && !t.After(w.End.Truncate(time.Second))
}

// ClientConfig is what the call-details client needs of the configuration.
type ClientConfig struct {
	AccountID      string
	StreamID       string
	Endpoint       string // calldetails or interactionDetails
	TimezoneOffset int
}

// PageSource reads one page of a window: the call-details client, or a
// test's stand-in.
type PageSource interface {
	FetchPage(ctx context.Context, w Window, page int) (conversation.Page, error)
}

var _ PageSource = (*Client)(nil)

// Client calls the call-details API through the shared upstream client.
type Client struct {
	cfg  ClientConfig
	up   *upstream.Client
	path string
	loc  *time.Location
}

// NewClient builds the call-details client.
func NewClient(cfg ClientConfig, up *upstream.Client) *Client {
	return &Client{
		cfg:  cfg,
		up:   up,
		path: fmt.Sprintf("/agentassist/api/public/analytics/account/%s/v2/%s", url.PathEscape(cfg.AccountID), url.PathEscape(cfg.Endpoint)),
		loc:  conversation.ZoneForOffset(cfg.TimezoneOffset),
	}
}

type requestBody struct {
	StartDate      string   `json:"startDate"`
	EndDate        string   `json:"endDate"`
	TimeZoneOffset int      `json:"timeZoneOffset"`
	SelectedFields []string `json:"selectedFields"`
}

// FetchPage reads one page of a window (retries are the upstream client's).
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
	var p conversation.Page
	err = c.up.Do(ctx, upstream.Request{
		Endpoint: c.cfg.Endpoint,
		Method:   http.MethodPost,
		Path:     c.path,
		Query:    url.Values{"offset": {strconv.Itoa(page)}, "limit": {strconv.Itoa(PageLimit)}},
		Body:     body,
		Header:   http.Header{http.CanonicalHeaderKey("iId"): {c.cfg.StreamID}},
		Priority: upstream.PriorityNormal,
		Attributes: []attribute.KeyValue{
			attribute.Int("smartassist.page", page),
			attribute.String("smartassist.window.start", w.Start.UTC().Format(time.RFC3339)),
			attribute.String("smartassist.window.end", w.End.UTC().Format(time.RFC3339)),
		},
	}, func(ctx context.Context, data []byte) error {
		var err error
		p, err = conversation.DecodePage(data, c.loc)
		trace.SpanFromContext(ctx).SetAttributes(attribute.Int("smartassist.records", p.Len))
		return err
	})
	if err != nil {
		return conversation.Page{}, fmt.Errorf("window %s page %d: %w", w, page, err)
	}
	return p, nil
}
