package live

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"go.opentelemetry.io/otel/attribute"

	"github.com/smartassist-exporter/smartassist_exporter/conversation"
	"github.com/smartassist-exporter/smartassist_exporter/upstream"
)

// Endpoint names of the live sources, as they appear in
// smartassist_exporter_api_requests_total{endpoint}.
const (
	EndpointQueuePerformance = "queue_performance"
	EndpointQueueSize        = "queue_size"
	EndpointQueues           = "queues"
)

// Endpoints are the endpoint label values the live collector may use, for
// upstream.NewRequestMetrics to create at zero.
var Endpoints = []string{EndpointQueuePerformance, EndpointQueueSize, EndpointQueues}

// Queue Performance paging: the API returns at most 1000 rows a page (one
// row per queue x channel x direction).
const maxPageRows = 1000

// liveProjection asks Queue Performance for the live figures only: the
// day's totals (ASA, AHT, SLA, ...) cost the platform work and come from
// call details anyway.
var liveProjection = []string{"waiting", "ongoing", "overdue", "queueLoad", "agentStatusCount"}

// queueListPageSize is the page size asked of the queues list.
const queueListPageSize = 100

// maxQueueListPages bounds the queues list walk: 100 pages of 100 queues
// is far beyond any contact center, and a list that never ends (hasMore
// always true) must not eat the budget.
const maxQueueListPages = 100

// agentCounts is a queue's agents by status.
type agentCounts struct {
	Available conversation.Number `json:"available"`
	Busy      conversation.Number `json:"busy"`
	Away      conversation.Number `json:"away"`
	Offline   conversation.Number `json:"offline"`
}

// qpRow is one Queue Performance row; only the live projections.
type qpRow struct {
	QueueID     conversation.Text   `json:"queueId"`
	QueueName   conversation.Text   `json:"queueName"`
	Channel     conversation.Text   `json:"channel"`
	Direction   conversation.Text   `json:"direction"`
	Waiting     conversation.Number `json:"waiting"`
	Ongoing     conversation.Number `json:"ongoing"`
	Overdue     conversation.Number `json:"overdue"`
	QueueLoad   conversation.Number `json:"queueLoad"`
	AgentStatus *agentCounts        `json:"agentStatusCount"`
}

type qpPage struct {
	FinalResult  []json.RawMessage   `json:"finalResult"`
	HasMore      conversation.Bool   `json:"hasMore"`
	TotalResults conversation.Number `json:"totalResults"`
}

type qpBody struct {
	StartDate  string   `json:"startDate"`
	EndDate    string   `json:"endDate"`
	Queues     []string `json:"queues"`
	Channels   []string `json:"channels"`
	Direction  []string `json:"direction"`
	Limit      int      `json:"limit"`
	Offset     int      `json:"offset"`
	Projection []string `json:"projection"`
}

// queuePerformancePage asks for one page of rows. The range is the last
// quarter hour: the live projections do not depend on it, and the API
// requires one of at most 24 hours.
func (c *Collector) queuePerformancePage(ctx context.Context, now time.Time, offset, limit int) (rows []qpRow, bad int, hasMore bool, total float64, err error) {
	body, err := json.Marshal(qpBody{
		StartDate: now.Add(-15 * time.Minute).UTC().Format("2006-01-02T15:04:05.000Z"),
		EndDate:   now.UTC().Format("2006-01-02T15:04:05.000Z"),
		Queues:    []string{}, Channels: []string{}, Direction: []string{},
		Limit: limit, Offset: offset, Projection: liveProjection,
	})
	if err != nil {
		return nil, 0, false, 0, err
	}
	req := upstream.Request{
		Endpoint: EndpointQueuePerformance, Method: http.MethodPost,
		Path:  "/agentassist/api/public/analytics/account/" + url.PathEscape(c.opts.AccountID) + "/queue-performance",
		Query: url.Values{"sortBy": {"queueName:asc"}},
		Body:  body, Header: http.Header{"iId": {c.opts.StreamID}},
		Priority: upstream.PriorityHigh, MaxAttempts: 1,
		Attributes: []attribute.KeyValue{attribute.Int("smartassist.offset", offset)},
	}
	err = c.opts.Upstream.Do(ctx, req, func(_ context.Context, data []byte) error {
		var p qpPage
		if err := json.Unmarshal(data, &p); err != nil {
			return fmt.Errorf("decoding a queue-performance page: %w", err)
		}
		rows, bad = rows[:0], 0
		for _, raw := range p.FinalResult {
			var r qpRow
			if err := json.Unmarshal(raw, &r); err != nil {
				bad++ // one broken row; the others still count
				continue
			}
			rows = append(rows, r)
		}
		hasMore = p.HasMore.Set && p.HasMore.Value
		total = -1
		if p.TotalResults.Set {
			total = p.TotalResults.Value
		}
		return nil
	})
	return rows, bad, hasMore, total, err
}

// qsEntry is one Queue Size answer element.
type qsEntry struct {
	QueueID      conversation.Text   `json:"queueId"`
	QueueName    conversation.Text   `json:"queueName"`
	Waiting      conversation.Number `json:"waiting"`
	Engaged      conversation.Number `json:"engaged"`
	AgentStatus  *agentCounts        `json:"agentStatus"`
	QueueSummary *struct {
		MaxWait conversation.Number `json:"maxWait"`
	} `json:"queueSummary"`
}

// queueSize asks for one queue's live figures.
func (c *Collector) queueSize(ctx context.Context, queueID string) ([]qsEntry, error) {
	req := upstream.Request{
		Endpoint: EndpointQueueSize, Method: http.MethodPost,
		Path:     "/agentassist/api/v1/public/" + url.PathEscape(c.opts.StreamID) + "/monitor/queueStatsById/" + url.PathEscape(queueID),
		Body:     []byte(`{}`),
		Priority: upstream.PriorityHigh, MaxAttempts: 1,
	}
	var out []qsEntry
	err := c.opts.Upstream.Do(ctx, req, func(_ context.Context, data []byte) error {
		var raws []json.RawMessage
		if err := json.Unmarshal(data, &raws); err != nil {
			// Some deployments wrap single answers in an object.
			var one json.RawMessage
			if err2 := json.Unmarshal(data, &one); err2 != nil || len(one) == 0 || one[0] != '{' {
				return fmt.Errorf("decoding a queue-size answer: %w", err)
			}
			raws = []json.RawMessage{one}
		}
		out = out[:0]
		for _, raw := range raws {
			var e qsEntry
			if json.Unmarshal(raw, &e) == nil {
				out = append(out, e)
			}
		}
		return nil
	})
	return out, err
}

type queueListPage struct {
	Results []struct {
		ID       conversation.Text `json:"id"`
		Name     conversation.Text `json:"name"`
		IsActive conversation.Bool `json:"isActive"`
	} `json:"results"`
	HasMore conversation.Bool `json:"hasMore"`
}

// listedQueue is a queue of the queues list.
type listedQueue struct{ id, name string }

// queueList reads the queues list, page by page, spending at most allowed
// requests; it says how many it spent. Inactive queues are left out.
func (c *Collector) queueList(ctx context.Context, allowed int) ([]listedQueue, int, error) {
	var out []listedQueue
	seen := map[string]bool{}
	spent := 0
	for page := 1; page <= maxQueueListPages; page++ {
		if spent >= allowed {
			return nil, spent, fmt.Errorf("the queues list needs more than the %d requests this poll may spend (the live share of the API budget per poll); raise SMARTASSIST_API_RATE_LIMIT or SMARTASSIST_LIVE_INTERVAL", allowed)
		}
		var p queueListPage
		req := upstream.Request{
			Endpoint: EndpointQueues, Method: http.MethodGet,
			Path:     "/agentassist/api/v1/public/" + url.PathEscape(c.opts.StreamID) + "/queues",
			Query:    url.Values{"page": {strconv.Itoa(page)}, "limit": {strconv.Itoa(queueListPageSize)}},
			Priority: upstream.PriorityHigh, MaxAttempts: 1,
		}
		spent++
		err := c.opts.Upstream.Do(ctx, req, func(_ context.Context, data []byte) error {
			p = queueListPage{}
			if err := json.Unmarshal(data, &p); err != nil {
				return fmt.Errorf("decoding a queues list page: %w", err)
			}
			return nil
		})
		if err != nil {
			return nil, spent, fmt.Errorf("reading the queues list: %w", err)
		}
		added := 0
		for _, q := range p.Results {
			id := string(q.ID)
			if id == "" || seen[id] || (q.IsActive.Set && !q.IsActive.Value) {
				continue
			}
			seen[id] = true
			added++
			out = append(out, listedQueue{id: id, name: string(q.Name)})
		}
		// A page with nothing new ends the walk even if hasMore says
		// otherwise: a server that repeats its last page must not loop.
		if !p.HasMore.Value || added == 0 {
			return out, spent, nil
		}
	}
	return out, spent, nil
}

// count reads a live count: present, finite and not negative. ok is false
// when absent; bad when present but unusable.
func count(n conversation.Number) (v float64, ok, bad bool) {
	if n.Bad {
		return 0, false, true
	}
	if !n.Set {
		return 0, false, false
	}
	if math.IsNaN(n.Value) || math.IsInf(n.Value, 0) || n.Value < 0 {
		return 0, false, true
	}
	return n.Value, true, false
}
