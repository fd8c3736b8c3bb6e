// Package live reads the present state of the contact center — contacts
// waiting in each queue, the oldest wait, agents by status — on its own
// short interval, beside the call-details collector, which sees
// conversations only once they have finished.
//
// It shares the upstream.Client (the JWT and the account's one API budget)
// with every other source. Its requests go first (upstream.PriorityHigh: a
// live answer is worth its freshness) but it spends at most a bounded share
// of the budget per poll, so it never starves the call-details reads; a
// request that fails is not retried (a stale answer is worthless), the poll
// is skipped and the next interval asks again.
//
// Sources: Queue Performance (one POST for every queue x channel x
// direction row, paged by rows, live projections only) and, where that API
// is absent (404/403) or SMARTASSIST_LIVE_SOURCE says so, Queue Size (one
// POST per queue, queue ids from the queues list); after such a fallback
// Queue Performance is tried again hourly. The gauges are built from
// the last poll's snapshot at scrape time: a queue that vanished from the
// answer has no series, and a snapshot older than a few intervals is not
// shown at all (smartassist_live_up says why).
package live

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/smartassist-exporter/smartassist_exporter/upstream"
)

// Sources, as SMARTASSIST_LIVE_SOURCE names them.
const (
	SourceAuto             = "auto"
	SourceQueuePerformance = "queue_performance"
	SourceQueueSize        = "queue_size"
)

// Sources are the accepted SMARTASSIST_LIVE_SOURCE values (config checks
// the setting against them).
var Sources = []string{SourceAuto, SourceQueuePerformance, SourceQueueSize}

// DefaultBudgetShare is the share of the account's budget the live
// collector may spend: the rest is the call-details collector's.
const DefaultBudgetShare = 0.4

// DefaultQueueListInterval is how often the Queue Size source reads the
// queues list again (new and deleted queues).
const DefaultQueueListInterval = 10 * time.Minute

// Options configure the live collector.
type Options struct {
	// Upstream is the shared platform client (JWT, budget, request
	// metrics).
	Upstream            *upstream.Client
	AccountID, StreamID string
	// Interval between polls (SMARTASSIST_LIVE_INTERVAL, > 0).
	Interval time.Duration
	// Source is auto, queue_performance or queue_size; "" is auto.
	Source string
	// MaxQueues and MaxChannels cap the queue and channel labels, as
	// SMARTASSIST_MAX_QUEUES and SMARTASSIST_MAX_CHANNELS do for the other
	// families.
	MaxQueues, MaxChannels int
	// BudgetShare is the share of the budget one poll may spend; 0 means
	// DefaultBudgetShare.
	BudgetShare float64
	// PlanPerMinute is the budget the collector plans its share against;
	// 0 means the upstream budget's. (Benchmarks on a simulated clock set
	// it: the token bucket itself runs on the real clock.)
	PlanPerMinute float64
	// QueueListInterval: 0 means DefaultQueueListInterval.
	QueueListInterval time.Duration
	// PageRows is the Queue Performance page size; 0 means the API's
	// maximum, 1000 (tests page with less).
	PageRows   int
	Registerer prometheus.Registerer
	Log        *slog.Logger
	// Now is the clock (time.Now when nil); Sleep waits between polls
	// (a timer when nil). Tests simulate both.
	Now   func() time.Time
	Sleep func(context.Context, time.Duration) error
}

// Collector polls the live state and exposes it. It implements
// prometheus.Collector (the queue gauges, built from the last snapshot at
// scrape time) and capacity.Staffing.
type Collector struct {
	opts  Options
	log   *slog.Logger
	now   func() time.Time
	sleep func(context.Context, time.Duration) error

	pollMu sync.Mutex // one poll at a time
	// Queue Size state, touched only under pollMu.
	listed   []listedQueue
	listedAt time.Time
	cursor   int
	perQueue map[string]queueReading // by queue id
	reserved float64
	failing  bool
	// listFailing: the last refresh of the queues list failed (warned
	// once; repeats go to debug until one succeeds).
	listFailing bool

	// fellBack is when auto mode last found Queue Performance unusable
	// and read Queue Size instead; zero while it is used.
	fellBack time.Time

	mu     sync.Mutex
	source string // queue_performance or queue_size, what polls use now
	snap   *snapshot

	m selfMetrics
}

// New builds the collector, reserves its expected cost in the shared
// budget (so that the call-details poller, built after it, sizes its work
// to what is left) and registers its metrics.
func New(o Options) *Collector {
	if o.Source == "" {
		o.Source = SourceAuto
	}
	if o.BudgetShare <= 0 || o.BudgetShare > 1 {
		o.BudgetShare = DefaultBudgetShare
	}
	if o.QueueListInterval <= 0 {
		o.QueueListInterval = DefaultQueueListInterval
	}
	if o.PageRows <= 0 || o.PageRows > maxPageRows {
		o.PageRows = maxPageRows
	}
	if o.MaxQueues <= 0 {
		o.MaxQueues = 50
	}
	if o.MaxChannels <= 0 {
		o.MaxChannels = 20
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	c := &Collector{opts: o, log: o.Log, now: o.Now, sleep: o.Sleep, perQueue: map[string]queueReading{}}
	if c.now == nil {
		c.now = time.Now
	}
	if c.sleep == nil {
		c.sleep = upstream.SleepContext
	}
	c.source = SourceQueuePerformance
	if o.Source == SourceQueueSize {
		c.source = SourceQueueSize
	}
	c.reserve()
	c.m = newSelfMetrics(c)
	if o.Registerer != nil {
		o.Registerer.MustRegister(c)
		c.m.register(o.Registerer)
	}
	c.m.setSource(c.source)
	return c
}

// QueuePerformanceRetry is how long after falling back to Queue Size the
// auto mode tries Queue Performance again: a 404 or 403 may be a tenant
// being set up, or a permission granted since.
const QueuePerformanceRetry = time.Hour

// useSource switches the source polls use and what it reserves.
func (c *Collector) useSource(source string) {
	c.mu.Lock()
	c.source = source
	c.mu.Unlock()
	c.m.setSource(source)
	c.reserve()
}

// planPerMinute is the budget the share is taken of, read at every poll.
func (c *Collector) planPerMinute() float64 {
	if c.opts.PlanPerMinute > 0 {
		return c.opts.PlanPerMinute
	}
	return c.opts.Upstream.Budget().PerMinute()
}

// sharePerMinute is the most the live collector may spend a minute.
func (c *Collector) sharePerMinute() float64 { return c.opts.BudgetShare * c.planPerMinute() }

// allowance is how many requests one poll may send: the share of the
// budget over one interval, at least one.
func (c *Collector) allowance() int {
	return max(1, int(math.Floor(c.sharePerMinute()*c.opts.Interval.Minutes()+1e-9)))
}

// reserve tells the budget what the current source will spend a minute:
// Queue Performance one page a poll, Queue Size its whole share. Going back
// to Queue Performance gives the difference back.
func (c *Collector) reserve() {
	want := c.sharePerMinute()
	if c.Source() == SourceQueuePerformance {
		want = min(want, time.Minute.Seconds()/c.opts.Interval.Seconds())
	}
	if want != c.reserved {
		c.opts.Upstream.Budget().Reserve(want - c.reserved)
		c.reserved = want
	}
}

// Source is the source polls use now: queue_performance or queue_size.
func (c *Collector) Source() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.source
}

// Run polls every Interval until ctx ends. A poll may take at most one
// interval: a live answer that late is not worth waiting for.
func (c *Collector) Run(ctx context.Context) {
	for {
		start := c.now()
		pctx, cancel := context.WithTimeout(ctx, c.opts.Interval)
		_ = c.Poll(pctx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		if wait := c.opts.Interval - c.now().Sub(start); wait > 0 {
			if c.sleep(ctx, wait) != nil {
				return
			}
		}
	}
}

// Poll reads the live state once and replaces the snapshot. It returns the
// poll's error (also logged and in smartassist_live_up).
func (c *Collector) Poll(ctx context.Context) error {
	c.pollMu.Lock()
	defer c.pollMu.Unlock()
	began := c.now()
	allowed := c.allowance()
	var err error
	// In auto mode, an hour after falling back, Queue Performance is tried
	// again (one page: the cost of one poll).
	retry := c.Source() == SourceQueueSize && c.opts.Source == SourceAuto && !c.fellBack.IsZero() &&
		began.Sub(c.fellBack) >= QueuePerformanceRetry
	if c.Source() == SourceQueuePerformance || retry {
		var spent int
		spent, err = c.pollQueuePerformance(ctx, began, allowed)
		switch {
		case err == nil && retry:
			c.log.Info("the Queue Performance API answers again; reading live state from it")
			c.fellBack = time.Time{}
			c.useSource(SourceQueuePerformance)
		case err != nil && c.opts.Source == SourceAuto && (retry || upstream.HasStatus(err, http.StatusNotFound, http.StatusForbidden)):
			if !retry {
				c.log.Warn("the Queue Performance API is not available on this tenant; reading live state from Queue Size per queue instead (more requests: see smartassist_exporter_live_source), trying Queue Performance again hourly",
					"err", err)
				c.useSource(SourceQueueSize)
			} else {
				c.log.Debug("Queue Performance still not usable; staying on Queue Size", "err", err)
			}
			c.fellBack = began
			err = nil
			if allowed-spent > 0 {
				err = c.pollQueueSize(ctx, began, allowed-spent)
			}
		}
	} else {
		err = c.pollQueueSize(ctx, began, allowed)
	}
	c.m.pollDone(err, c.now())
	switch {
	case err != nil && !c.failing:
		c.failing = true
		c.log.Warn("live poll failed; the live gauges go stale after a few intervals and smartassist_live_up is 0 until a poll succeeds", "err", err)
	case err != nil:
		c.log.Debug("live poll failed again", "err", err)
	case c.failing:
		c.failing = false
		c.log.Info("live poll succeeded again")
	}
	return err
}

// pollQueuePerformance reads every row, page by page, within allowed
// requests. A poll that cannot read every page keeps the previous snapshot:
// half an answer would drop the queues of the missing pages.
func (c *Collector) pollQueuePerformance(ctx context.Context, now time.Time, allowed int) (spent int, err error) {
	b := newBuilder(c.opts.MaxQueues, c.opts.MaxChannels)
	limit := c.opts.PageRows
	for offset := 0; ; offset += limit {
		if spent >= allowed {
			return spent, fmt.Errorf("queue performance: more rows than %d pages of %d (the live share of the API budget per poll); raise SMARTASSIST_API_RATE_LIMIT or SMARTASSIST_LIVE_INTERVAL", allowed, limit)
		}
		rows, bad, hasMore, total, err := c.queuePerformancePage(ctx, now, offset, limit)
		spent++
		if err != nil {
			return spent, fmt.Errorf("queue performance rows from %d: %w", offset, err)
		}
		c.m.invalid.Add(float64(bad))
		for _, r := range rows {
			c.m.invalid.Add(float64(b.addRow(r, now)))
		}
		// Stop on a short or empty page too: a server whose hasMore never
		// turns false must not spend the budget.
		if !hasMore || len(rows)+bad < limit || (total >= 0 && float64(offset+limit) >= total) {
			break
		}
	}
	c.setSnapshot(b.snapshot(now, 3*c.opts.Interval))
	return spent, nil
}

// queueReading is one queue's last Queue Size answer.
type queueReading struct {
	entry qsEntry
	at    time.Time
}

// pollQueueSize reads the queues list when it is due, then as many queues
// as the allowance leaves, round robin: with more queues than the share
// allows per poll, each queue is read every few polls and its gauges are as
// old as its last reading (smartassist_exporter_live_data_age_seconds).
func (c *Collector) pollQueueSize(ctx context.Context, now time.Time, allowed int) error {
	if c.listed == nil || now.Sub(c.listedAt) >= c.opts.QueueListInterval {
		list, spent, err := c.queueList(ctx, allowed)
		allowed -= spent
		if err != nil {
			if c.listed == nil {
				return err
			}
			// Keep the old list; the next poll asks again.
			if c.listFailing {
				c.log.Debug("reading the queues list failed again; keeping the previous one", "err", err)
			} else {
				c.listFailing = true
				c.log.Warn("reading the queues list failed; keeping the previous one and asking again every poll", "err", err)
			}
		} else {
			if c.listFailing {
				c.listFailing = false
				c.log.Info("the queues list answers again")
			}
			c.listed, c.listedAt = list, now
			ids := make(map[string]bool, len(list))
			for _, q := range list {
				ids[q.id] = true
			}
			for id := range c.perQueue {
				if !ids[id] {
					delete(c.perQueue, id) // a deleted queue drops its series
				}
			}
			c.m.listedQueues.Set(float64(len(list)))
		}
	}
	var firstErr error
	n := len(c.listed)
	for i := 0; i < min(allowed, n); i++ {
		q := c.listed[c.cursor%n]
		c.cursor = (c.cursor + 1) % n
		entries, err := c.queueSize(ctx, q.id)
		if upstream.HasStatus(err, http.StatusNotFound) {
			delete(c.perQueue, q.id) // deleted since the list was read
			continue
		}
		if err != nil {
			// 429 or worse: spend nothing more this poll.
			firstErr = fmt.Errorf("queue size: %w", err)
			break
		}
		e, ok := pickEntry(entries, q.id)
		if !ok {
			delete(c.perQueue, q.id)
			continue
		}
		c.perQueue[q.id] = queueReading{entry: e, at: now}
	}
	// A queue is read every ceil(n/allowed) polls; it is stale when two
	// sweeps pass without a reading.
	sweep := time.Duration(math.Ceil(float64(max(n, 1))/float64(max(allowed, 1)))) * c.opts.Interval
	b := newBuilder(c.opts.MaxQueues, c.opts.MaxChannels)
	for _, q := range c.listed {
		if r, ok := c.perQueue[q.id]; ok {
			c.m.invalid.Add(float64(b.addQueueSize(q, r.entry, r.at)))
		}
	}
	c.setSnapshot(b.snapshot(now, 3*c.opts.Interval+2*sweep))
	return firstErr
}

// pickEntry finds the asked queue in a Queue Size answer (an array).
func pickEntry(entries []qsEntry, id string) (qsEntry, bool) {
	for _, e := range entries {
		if string(e.QueueID) == id {
			return e, true
		}
	}
	if len(entries) > 0 && entries[0].QueueID == "" {
		return entries[0], true
	}
	return qsEntry{}, false
}

func (c *Collector) setSnapshot(s *snapshot) {
	c.mu.Lock()
	c.snap = s
	c.mu.Unlock()
	c.m.folded.Set(float64(s.folded))
}

// current is the last snapshot, or nil.
func (c *Collector) current() *snapshot {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.snap
}

// StaffedAgents implements capacity.Staffing: available + busy agents of
// the queue (its label value, as the call-details families write it) from
// the last poll that read it; ok is false when the queue is unknown, has
// no agent counts or its reading is stale.
func (c *Collector) StaffedAgents(queue string) (float64, bool) {
	s := c.current()
	if s == nil {
		return 0, false
	}
	q, ok := s.queues[queue]
	if !ok || !q.hasAgents || c.now().Sub(q.at) > s.staleAfter {
		return 0, false
	}
	return q.agents[statusAvailable] + q.agents[statusBusy], true
}
