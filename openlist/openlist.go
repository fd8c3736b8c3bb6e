// Package openlist reads which conversations the platform's live side lists
// as open, from the List of Conversations API
// (GET {host}/agentassist/api/v1/public/{streamId}/conversations), through
// the shared upstream client (JWT, budget, retries).
//
// The API's records carry personal data (phone numbers, callers' names,
// agents' notes). This package decodes only each record's `_id` and
// `status`: nothing else is read into memory as a value, let alone logged,
// stored or used as a label.
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

	"go.opentelemetry.io/otel/attribute"

	"github.com/smartassist-exporter/smartassist_exporter/upstream"
)

// Endpoint names the API in request metrics, logs and traces.
const Endpoint = "conversations"

// PageLimit is the records asked for per page. The docs name no maximum;
// 100 is what the call-details API allows.
const PageLimit = 100

// MaxPages bounds one listing: past it (more than 5000 open conversations,
// or an upstream that ignores the status filter or skip) the listing is
// incomplete and says nothing about what closed.
const MaxPages = 50

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
	// Open holds the ids listed with an open status.
	Open map[string]struct{}
	// Requests is how many requests the listing cost.
	Requests int
}

// listedRecord is all this package reads of a record.
type listedRecord struct {
	ID     string `json:"_id"`
	Status string `json:"status"`
}

type listPage struct {
	Results *[]listedRecord `json:"results"`
	HasMore *bool           `json:"hasMore"`
}

// maxIDLen bounds an id kept in memory: a real one is ~40 bytes.
const maxIDLen = 128

// ListOpen reads every page of the conversations listed with an open status.
// It asks for the open statuses only; a record that comes back with another
// status (an upstream ignoring the filter) is not open. The list is complete
// when a page comes back shorter than asked or says hasMore false. An error
// wraps ErrUnavailable (404/403), ErrIncomplete, or the upstream's error;
// Requests is set either way.
func (c *Client) ListOpen(ctx context.Context) (Listing, error) {
	l := Listing{Open: map[string]struct{}{}}
	// Every id listed so far, open or not: a page mostly made of them
	// means the upstream ignores skip (perhaps shifting by the few
	// conversations that arrived meanwhile), and reading on would spend up
	// to MaxPages requests for nothing. Honest paging repeats an id only
	// when conversations close or arrive between two pages: a few.
	seen := map[string]struct{}{}
	for page := range MaxPages {
		q := url.Values{"skip": {strconv.Itoa(page * PageLimit)}, "limit": {strconv.Itoa(PageLimit)}, "status": OpenStatuses}
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
		repeated := 0
		for _, r := range recs {
			if _, ok := seen[r.ID]; ok {
				repeated++
			}
			seen[r.ID] = struct{}{}
		}
		if page > 0 && len(recs) == PageLimit && repeated > PageLimit/2 {
			return l, fmt.Errorf("%w: page %d repeats %d ids of earlier pages (skip ignored?)", ErrIncomplete, page, repeated)
		}
		for _, r := range recs {
			if r.ID == "" || len(r.ID) > maxIDLen || !isOpen(r.Status) {
				continue
			}
			l.Open[r.ID] = struct{}{}
		}
		if len(recs) < PageLimit || (pg.HasMore != nil && !*pg.HasMore) {
			return l, nil
		}
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
