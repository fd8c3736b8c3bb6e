// Package openlist reads which conversations the platform's live side lists
// as open, from the List of Conversations API
// (GET {host}/agentassist/api/v1/public/{streamId}/conversations), through
// the shared upstream client (JWT, budget, retries).
//
// The API's records carry personal data (phone numbers, callers' names,
// agents' notes). This package decodes only each record's `_id`, `status`
// and start times (`startSessionTime`, `startTime`): nothing else is read
// into memory as a value, let alone logged, stored or used as a label. The
// start lets the poller find the call-details record of a conversation it
// has only seen listed: call details is queried by session start.
package openlist

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"

	"github.com/smartassist-exporter/smartassist_exporter/upstream"
)

// Endpoint names the API in request metrics, logs and traces.
const Endpoint = "conversations"

// PageLimit is the records asked for per page. The docs name no maximum
// (their sample answers `"limit": 10` with `hasMore`, `totalResults`): one
// request lists a busy contact center's open conversations. A platform that
// caps pages lower is paged on (see ListOpen).
const PageLimit = 500

// assumedCap is the page size a page is taken to be capped at when the
// answer says neither hasMore nor the limit it applied: the call-details
// API's maximum. A page of that many may have more after it.
const assumedCap = 100

// MaxPages bounds one listing: past it (an upstream that ignores the
// status filter or skip, or a page cap far below what is asked) the listing
// is incomplete and says nothing about what closed.
const MaxPages = 50

// MaxListed bounds the conversations one listing holds in memory.
const MaxListed = 10000

// OpenStatuses are the documented statuses of a conversation not yet over
// (the others are CLOSED and TERMINATED).
var OpenStatuses = []string{"ACTIVE", "OPEN", "IDLE", "OVERDUE"}

// ErrUnavailable means the tenant has no such API (404) or the app may not
// use it (403): the caller falls back to re-reading call details.
var ErrUnavailable = errors.New("the List of Conversations API is not available")

// ErrIncomplete is a listing that could not be read to its end.
var ErrIncomplete = errors.New("the list of open conversations was not read to its end")

// Config is what the client needs.
type Config struct {
	StreamID string
}

// Client reads the list.
type Client struct {
	up   *upstream.Client
	path string
}

// New builds the client on the shared upstream client.
func New(cfg Config, up *upstream.Client) *Client {
	return &Client{up: up, path: "/agentassist/api/v1/public/" + url.PathEscape(cfg.StreamID) + "/conversations"}
}

// Listing is what one read of the list found.
type Listing struct {
	// Open holds the ids listed with an open status, each with its session
	// start (`startSessionTime`, else `startTime`); zero when the record
	// gives none that parses.
	Open map[string]time.Time
	// Requests is how many requests the listing cost.
	Requests int
}

// listedRecord is all this package reads of a record.
type listedRecord struct {
	ID     string `json:"_id"`
	Status string `json:"status"`
	// Raw, so that a start of another JSON type (a number, an object) is
	// only a start unknown, not a page that cannot be decoded.
	StartSessionTime json.RawMessage `json:"startSessionTime"`
	StartTime        json.RawMessage `json:"startTime"`
}

// start is the record's session start: the bot session's, which is what
// call details calls sessionStartTime, else the queue entry's.
func (r *listedRecord) start() time.Time {
	for _, raw := range []json.RawMessage{r.StartSessionTime, r.StartTime} {
		var v string
		if len(raw) < 2 || len(raw) > 42 || raw[0] != '"' || json.Unmarshal(raw, &v) != nil || v == "" {
			continue
		}
		if t, err := time.Parse(time.RFC3339Nano, v); err == nil && t.Year() >= 2000 && t.Year() < 3000 {
			return t
		}
	}
	return time.Time{}
}

type listPage struct {
	Results *[]listedRecord `json:"results"`
	HasMore *bool           `json:"hasMore"`
	// Limit is the page size the platform applied, when it says.
	Limit *int `json:"limit"`
}

// last reports whether the page ends the listing: the platform says there
// is no more, or the page is shorter than the size it applied (or, when it
// says neither, than the size it may be capped at).
func (pg *listPage) last() bool {
	n := len(*pg.Results)
	switch {
	case n == 0:
		return true
	case pg.HasMore != nil:
		return !*pg.HasMore
	case pg.Limit != nil && *pg.Limit > 0:
		return n < min(*pg.Limit, PageLimit)
	}
	return n < assumedCap
}

// maxIDLen bounds an id kept in memory: a real one is ~40 bytes.
const maxIDLen = 128

// ListOpen reads every page of the conversations listed with an open status.
// It asks for the open statuses only; a record that comes back with another
// status (an upstream ignoring the filter) is not open. Each page skips the
// records listed so far, so a platform that returns fewer than asked is
// paged on; the list is complete when a page says hasMore false or comes
// back shorter than the size applied (see listPage.last). An error wraps
// ErrUnavailable (404/403), ErrIncomplete, or the upstream's error;
// Requests is set either way.
func (c *Client) ListOpen(ctx context.Context) (Listing, error) {
	l := Listing{Open: map[string]time.Time{}}
	// Every id listed so far, open or not: a page mostly made of them
	// means the upstream ignores skip (perhaps shifting by the few
	// conversations that arrived meanwhile), and reading on would spend up
	// to MaxPages requests for nothing. Honest paging repeats an id only
	// when conversations close or arrive between two pages: a few.
	seen := map[string]struct{}{}
	skip := 0
	for page := range MaxPages {
		q := url.Values{"skip": {strconv.Itoa(skip)}, "limit": {strconv.Itoa(PageLimit)}, "status": OpenStatuses}
		var pg listPage
		l.Requests++
		err := c.up.Do(ctx, upstream.Request{
			Endpoint: Endpoint, Method: http.MethodGet, Path: c.path, Query: q,
			Priority:   upstream.PriorityNormal,
			Attributes: []attribute.KeyValue{attribute.Int("smartassist.page", page)},
		}, func(_ context.Context, body []byte) error {
			pg = listPage{}
			if err := json.Unmarshal(body, &pg); err != nil {
				return fmt.Errorf("decoding list page: %w", err)
			}
			if pg.Results == nil {
				return errors.New("list page has no results array")
			}
			return nil
		})
		if err != nil {
			var se *upstream.StatusError
			if errors.As(err, &se) && (se.Code == http.StatusNotFound || se.Code == http.StatusForbidden) {
				return l, fmt.Errorf("%w: %w", ErrUnavailable, err)
			}
			return l, fmt.Errorf("listing open conversations, page %d: %w", page, err)
		}
		recs := *pg.Results
		if len(recs) > PageLimit {
			return l, fmt.Errorf("%w: page %d holds %d records, more than the %d asked for", ErrIncomplete, page, len(recs), PageLimit)
		}
		repeated := 0
		for _, r := range recs {
			if _, ok := seen[r.ID]; ok {
				repeated++
			}
			seen[r.ID] = struct{}{}
		}
		if page > 0 && len(recs) >= assumedCap/2 && repeated > len(recs)/2 {
			return l, fmt.Errorf("%w: page %d repeats %d ids of earlier pages (skip ignored?)", ErrIncomplete, page, repeated)
		}
		if len(seen) > MaxListed {
			return l, fmt.Errorf("%w: more than %d conversations listed", ErrIncomplete, MaxListed)
		}
		for i := range recs {
			r := &recs[i]
			if r.ID == "" || len(r.ID) > maxIDLen || !isOpen(r.Status) {
				continue
			}
			l.Open[r.ID] = r.start()
		}
		if pg.last() {
			return l, nil
		}
		skip += len(recs)
	}
	return l, fmt.Errorf("%w: more than %d pages", ErrIncomplete, MaxPages)
}

func isOpen(status string) bool {
	for _, s := range OpenStatuses {
		if strings.EqualFold(status, s) {
			return true
		}
	}
	return false
}
