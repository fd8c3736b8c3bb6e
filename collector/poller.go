// Package collector reads conversations from the SmartAssist call-details API
// and hands every finished one to a Sink exactly once.
//
// The API is an event log queried by session start time, with pages that may
// shift, records that show up late and conversations listed before they end.
// The poller therefore re-reads: a first start reads the whole lookback;
// then every poll reads the head (since the watermark minus
// SMARTASSIST_RECENT_WINDOW) and re-reads older starts by value (see
// recheck.go): the last half hour whole every two polls, the narrow windows
// of conversations the List of Conversations API shows closed, and older
// age tiers, each re-read once per period. The state file decides what
// is new; re-reading only ever costs API requests, never a double count.
package collector

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/smartassist-exporter/smartassist_exporter/conversation"
	"github.com/smartassist-exporter/smartassist_exporter/openlist"
	"github.com/smartassist-exporter/smartassist_exporter/upstream"
)

// tracer is the global provider's: a no-op until otlp.Setup installs one.
var tracer = otel.Tracer("github.com/smartassist-exporter/smartassist_exporter/collector")

// Sink receives what the poller finds. It is the metrics layer.
type Sink interface {
	// Observe is called once per finished conversation, ever.
	Observe(c *conversation.Conversation)
	// SetOpen replaces the snapshot of conversations known as open, by
	// channel (as given by the API; the sink bounds the label).
	SetOpen(byChannel map[string]int)
}

// PollerConfig is what the poll loop needs of the configuration.
type PollerConfig struct {
	Interval time.Duration
	Lookback time.Duration
	// RecentWindow is how far before the last complete read the head read
	// of every poll starts.
	RecentWindow time.Duration
	// Tiers are the age tiers re-read by period; nil means DefaultTiers.
	Tiers []Tier
	// RequestsPerPoll bounds what one poll plans to spend on re-reads; 0
	// sizes it every poll from the budget other sources left unreserved.
	RequestsPerPoll int
}

// Sizing of query windows. A window is sized from the observed density of
// conversations so that it is expected to hold targetRecords: enough to keep
// the one extra request per window (the page that comes back short) small,
// and well below the 1100 a query can return so that a busier hour than the
// last rarely forces a split.
const (
	targetRecords = 800
	firstSpan     = time.Hour // the first window of a scan with no density known
	minSpan       = time.Minute
	// stateMargin keeps state entries this long past the lookback, against
	// clock skew between the exporter and the platform.
	stateMargin = time.Hour
	// progressEvery is how often a long scan logs its progress.
	progressEvery = 5 * time.Second
)

// Poller runs polls on an interval. /metrics never calls it: it only reads
// what the last polls left in the registry.
type Poller struct {
	pages   PageSource
	state   *State
	sink    Sink
	metrics *PollMetrics
	cfg     PollerConfig
	log     *slog.Logger
	now     func() time.Time

	ready    atomic.Bool
	mu       sync.Mutex // guards watermark for the lag gauge
	readUpTo time.Time  // watermark, advanced live during a scan

	budget  *upstream.Budget // the shared budget, re-read every poll; nil in some tests
	fresh   *freshness       // the re-reads by value: tiers, closes, fallback
	density float64          // conversations per second of session start; -1 = not yet known
	// narrow is set while narrow windows are read: they are chosen for
	// holding a conversation, so they say nothing of the density.
	narrow bool
}

// Options is everything a call-details poller needs. New wires the
// pipeline from it — the call-details client on the shared upstream client,
// the poller's own metrics, the poller — the same way for main, the tests and
// the benchmarks.
type Options struct {
	// Upstream is the shared platform client (JWT, budget, retries).
	Upstream *upstream.Client
	// Client says which call-details API to read and how.
	Client ClientConfig
	// Pages, when set, replaces the call-details client built from
	// Upstream and Client (tests with a hostile upstream use it).
	Pages      PageSource
	State      *State
	Sink       Sink
	Registerer prometheus.Registerer
	Poll       PollerConfig
	// OpenList, when set, replaces the List of Conversations client built
	// from Upstream when UseOpenList is set.
	OpenList OpenLister
	// UseOpenList reads the List of Conversations API to see closes
	// (SMARTASSIST_OPEN_LIST).
	UseOpenList bool
	Log         *slog.Logger
	// Now is the clock (time.Now when nil); tests simulate it.
	Now func() time.Time
}

// New builds the poller and registers its metrics.
func New(o Options) *Poller {
	pages := o.Pages
	if pages == nil {
		pages = NewClient(o.Client, o.Upstream)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Poll.Tiers == nil {
		o.Poll.Tiers = DefaultTiers
	}
	var lister OpenLister // nil: closes are re-checked in narrow windows
	if o.UseOpenList {
		lister = o.OpenList
		if lister == nil && o.Upstream != nil {
			lister = openlist.New(openlist.Config{StreamID: o.Client.StreamID}, o.Upstream)
		}
	}
	p := &Poller{pages: pages, state: o.State, sink: o.Sink, cfg: o.Poll, log: o.Log, now: o.Now, density: -1}
	if o.Upstream != nil {
		p.budget = o.Upstream.Budget()
	}
	p.fresh = newFreshness(o.Poll.Tiers, o.Poll.Interval, o.Poll.Lookback, lister, o.Now())
	p.readUpTo = o.State.Watermark()
	p.metrics = newPollMetrics(o.Registerer, o.Poll.Interval, p.Lag)
	if lister != nil {
		p.metrics.openListAvailable.Set(1)
	}
	return p
}

// Ready reports whether the first poll has finished.
func (p *Poller) Ready() bool { return p.ready.Load() }

// Lag is how far behind the exporter is: now minus the time up to which
// every conversation start has been read. Before anything was ever read, it
// is the lookback.
func (p *Poller) Lag() time.Duration {
	p.mu.Lock()
	wm := p.readUpTo
	p.mu.Unlock()
	now := p.now()
	if wm.IsZero() {
		return p.cfg.Lookback
	}
	return max(now.Sub(wm), 0)
}

func (p *Poller) advance(t time.Time) {
	p.mu.Lock()
	if t.After(p.readUpTo) {
		p.readUpTo = t
	}
	p.mu.Unlock()
}

// Run polls until ctx ends. Polls start every Interval; one that takes
// longer is followed at once by the next.
func (p *Poller) Run(ctx context.Context) {
	for {
		began := p.now()
		p.Poll(ctx)
		wait := max(p.cfg.Interval-p.now().Sub(began), 0)
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

// PollResult says what one poll did.
type PollResult struct {
	Scan     string // ScanFull (the backfill of a first start) or ScanRecent
	Requests int    // every request of the poll, listing included
	// ListRequests is the part of Requests spent on the List of
	// Conversations API, CloseRequests on narrow re-reads of known-open
	// conversations (closes, or the fallback's re-checks), TierRequests on
	// the age tiers; the rest is the head read.
	ListRequests, CloseRequests, TierRequests int
	Records                                   int
	Counted                                   int
	Open                                      int
	Splits                                    int
	// MinimumRequests is what reading the same records would cost with
	// every page full: the sum over the poll's scans of ⌈records / 100⌉.
	MinimumRequests int
	// Complete: everything the poll asked for was read.
	Complete bool
}

// Poll runs one poll. On a first start (nothing read yet) it reads the
// whole lookback: the backfill. Otherwise it reads the head, from the
// watermark minus the recent window (so a failed poll or downtime is
// covered), then the re-reads of older starts (recheck). It ends by
// pruning the state and publishing the open conversations.
func (p *Poller) Poll(ctx context.Context) PollResult {
	began := p.now()
	lookbackStart := began.Add(-p.cfg.Lookback).Truncate(time.Second)
	to := began.Truncate(time.Second)
	wm := p.state.Watermark()
	kind, from := ScanFull, lookbackStart
	mergedHot := false
	var headFrom time.Time // the head's own start, when the scan reads the 30m tier too
	if !wm.IsZero() {
		kind = ScanRecent
		if f := wm.Add(-p.cfg.RecentWindow).Truncate(time.Second); f.After(lookbackStart) {
			from = f
		}
		// When the first tier is due for its whole read, the head reads
		// its range too: one scan fills its pages better than two.
		if hot, ok := p.hotFrom(began, from, to, lookbackStart); ok {
			headFrom, from, mergedHot = from, hot, true
		}
	}
	ctx, span := tracer.Start(ctx, "smartassist.poll", trace.WithAttributes(
		attribute.String("smartassist.scan", kind),
		attribute.String("smartassist.window.start", from.UTC().Format(time.RFC3339)),
		attribute.String("smartassist.window.end", to.UTC().Format(time.RFC3339)),
	))
	defer span.End()
	main := p.scan(ctx, kind, from, to, 0)
	if main.complete {
		if kind == ScanFull {
			p.fresh.backfilled(began)
		}
		if mergedHot {
			p.hotRead(began)
			headFrom = from
		}
		if err := p.state.SetWatermark(to); err != nil {
			main.complete = false
			p.log.Error("saving watermark", "err", err)
		}
	}
	res := PollResult{Scan: kind, Complete: true}
	res.add(main)
	if kind == ScanRecent && ctx.Err() == nil {
		if headFrom.IsZero() {
			headFrom = from
		}
		// A merged scan cut short did not read the 30m tier's range: its
		// own step does, after the head's own start.
		re, listRequests := p.recheck(ctx, began, lookbackStart, headFrom, res.Requests, &res)
		res.add(re)
		res.Requests += listRequests
		res.ListRequests = listRequests
	}
	span.SetAttributes(
		attribute.Int("smartassist.requests", res.Requests),
		attribute.Int("smartassist.records", res.Records),
		attribute.Int("smartassist.counted", res.Counted),
		attribute.Int("smartassist.open", res.Open),
		attribute.Int("smartassist.splits", res.Splits),
		attribute.Bool("smartassist.complete", res.Complete),
	)
	if !res.Complete {
		span.SetStatus(codes.Error, "poll did not read everything it asked for")
	}
	if ctx.Err() != nil && !res.Complete {
		// Stopped (SIGTERM): nothing to report, the state is consistent.
		return res
	}
	p.afterPoll(lookbackStart)
	elapsed := p.now().Sub(began)
	m := p.metrics
	m.pollDuration.WithLabelValues(kind).Observe(elapsed.Seconds())
	if res.Complete {
		m.up.Set(1)
		m.lastSuccess.Set(float64(p.now().UnixNano()) / 1e9)
	} else {
		m.up.Set(0)
	}
	lvl := slog.LevelDebug
	if kind == ScanFull || !res.Complete {
		lvl = slog.LevelInfo
	}
	p.log.Log(ctx, lvl, "poll done", "scan", kind, "window", Window{from, to}.String(), "complete", res.Complete,
		"requests", res.Requests, "records", res.Records, "counted", res.Counted, "open", res.Open,
		"splits", res.Splits, "duration", elapsed.Round(time.Millisecond))
	p.ready.Store(true)
	return res
}

func (r *PollResult) add(s scanResult) {
	r.Requests += s.requests
	r.Records += s.records
	r.Counted += s.counted
	r.Open += s.open
	r.Splits += s.splits
	r.MinimumRequests += (s.records + PageLimit - 1) / PageLimit
	r.Complete = r.Complete && s.complete
}

// afterPoll forgets what left the lookback and publishes the open snapshot.
func (p *Poller) afterPoll(lookbackStart time.Time) {
	_, expired, err := p.state.Prune(lookbackStart.Add(-p.stateKeep()))
	if err != nil {
		p.log.Error("pruning state", "err", err)
	}
	p.metrics.openExpired.Add(float64(expired))
	open, err := p.state.Open()
	if err != nil {
		p.log.Error("reading open conversations from state", "err", err)
		return
	}
	byChannel := map[string]int{}
	for _, e := range open {
		// Between lookback start and the prune margin an entry is kept but
		// no longer shown as open: it is outside what the exporter watches.
		// One the List of Conversations API shows closed is not open any
		// more, though call details may take minutes to report it finished.
		if _, closed := p.fresh.closing[e.Key]; closed {
			continue
		}
		if !e.Start.Before(lookbackStart) {
			byChannel[e.Channel]++
		}
	}
	p.sink.SetOpen(byChannel)
	counted, openN := p.state.Sizes()
	p.metrics.stateEntries.WithLabelValues("counted").Set(float64(counted))
	p.metrics.stateEntries.WithLabelValues("open").Set(float64(openN))
}

type scanResult struct {
	complete                                 bool
	requests, records, counted, open, splits int
	next                                     time.Time // the first start not read
}

// scan reads [from, to] in windows, oldest first, so that the watermark can
// advance as windows complete. With maxRequests > 0 it stops starting new
// windows once that many requests are spent; next says where it stopped.
func (p *Poller) scan(ctx context.Context, kind string, from, to time.Time, maxRequests int) scanResult {
	res := scanResult{complete: true, next: from}
	began := p.now()
	lastLog := began
	total := to.Sub(from)
	for cursor := from; !cursor.After(to) && (maxRequests == 0 || res.requests < maxRequests); res.next = cursor {
		if ctx.Err() != nil {
			res.complete = false
			return res
		}
		end := cursor.Add(p.span(to.Sub(cursor)))
		if end.After(to) {
			end = to
		}
		w := Window{cursor, end}
		err := p.readWindow(ctx, w, &res)
		if err != nil {
			res.complete = false
			if errors.Is(err, ErrUnauthorized) {
				p.log.Error("upstream refused the credentials; check SMARTASSIST_CLIENT_ID and the secret (or SMARTASSIST_TOKEN); next try at the next poll", "err", err)
				return res
			}
			if ctx.Err() != nil {
				return res
			}
			// Other windows may still read: go on, the next poll reads this
			// one again.
			p.log.Warn("window not read completely; a later poll reads it again", "window", w.String(), "err", err)
		} else if res.complete {
			p.advance(end)
		}
		cursor = end.Add(time.Second)
		if now := p.now(); now.Sub(lastLog) >= progressEvery && total > 0 {
			lastLog = now
			done := float64(cursor.Sub(from)) / float64(total)
			done = min(done, 1)
			elapsed := now.Sub(began)
			eta := time.Duration(0)
			if done > 0 {
				eta = time.Duration(float64(elapsed) * (1 - done) / done)
			}
			p.log.Info("scan progress", "scan", kind, "done_through", cursor.UTC().Format(time.RFC3339),
				"percent", int(done*100), "records", res.records, "counted", res.counted,
				"requests", res.requests, "eta", eta.Round(time.Second))
		}
	}
	return res
}

// span is the length of the next window: sized for targetRecords at the
// observed density, between minSpan and the API's 7 days.
func (p *Poller) span(remaining time.Duration) time.Duration {
	var s time.Duration
	switch {
	case p.density < 0:
		s = firstSpan
	case p.density == 0:
		s = MaxWindow
	default:
		s = time.Duration(targetRecords / p.density * float64(time.Second))
	}
	s = max(s, minSpan)
	s = min(s, MaxWindow-time.Second, remaining)
	return s.Truncate(time.Second)
}

// readWindow reads every page of w; a window whose last allowed page is full
// may hold more than one query returns, so it is split in two and each half
// read. Records of the overflowing read are used too: the state dedupes.
func (p *Poller) readWindow(ctx context.Context, w Window, res *scanResult) error {
	n := 0
	var prevKeys []string
	for page := 0; page <= MaxPageIndex; page++ {
		pg, err := p.pages.FetchPage(ctx, w, page)
		res.requests++
		if err != nil {
			return err
		}
		if err := checkPaging(&pg, page, &prevKeys); err != nil {
			return fmt.Errorf("window %s: %w", w, err)
		}
		if err := p.process(&pg, w, res); err != nil {
			return err
		}
		n += pg.Len
		if pg.Len < PageLimit {
			if !p.narrow {
				p.learnDensity(n, w)
			}
			return nil
		}
	}
	// The 11th page was full: there may be more than 1100 records.
	res.splits++
	p.metrics.windowSplits.Inc()
	secs := int64(w.Duration() / time.Second)
	if secs < 1 {
		return fmt.Errorf("more than %d conversations started within the second %s: the API cannot page past them", (MaxPageIndex+1)*PageLimit, w.Start.UTC().Format(time.RFC3339))
	}
	// At least 1100 in this window: a density the next windows respect.
	p.density = max(p.density, float64(n)/float64(secs+1))
	mid := w.Start.Add(time.Duration(secs/2) * time.Second)
	p.log.Debug("splitting window", "window", w.String(), "records_seen", n)
	if err := p.readWindow(ctx, Window{w.Start, mid}, res); err != nil {
		return err
	}
	return p.readWindow(ctx, Window{mid.Add(time.Second), w.End}, res)
}

func (p *Poller) learnDensity(n int, w Window) {
	d := float64(n) / (w.Duration().Seconds() + 1)
	if p.density <= 0 {
		p.density = d
		return
	}
	// Smooth, but follow a rise quickly: a split costs more than a window.
	p.density = max(d, (p.density+d)/2)
}

// ErrUpstreamIgnoresPaging is a page that repeats the page before it: an
// upstream that ignores offset would otherwise have every window read to its
// last page and split again and again, burning the budget.
var ErrUpstreamIgnoresPaging = errors.New("the upstream ignores paging")

// checkPaging compares a full page's keys with the previous page's: the
// API's pages shift while they are read, but two whole identical pages in a
// row mean the offset was not applied.
func checkPaging(pg *conversation.Page, page int, prev *[]string) error {
	keys := make([]string, 0, len(pg.Records))
	for i := range pg.Records {
		keys = append(keys, pg.Records[i].Key())
	}
	repeated := page > 0 && len(keys) > 0 && len(keys) == len(*prev)
	for i := 0; repeated && i < len(keys); i++ {
		repeated = keys[i] == (*prev)[i]
	}
	*prev = keys
	if repeated {
		return fmt.Errorf("%w: page %d (offset=%d) holds the same %d records as page %d; the window is not read", ErrUpstreamIgnoresPaging, page, page, len(keys), page-1)
	}
	return nil
}

// process classifies one page's records and hands the new finished ones to
// the sink, after the state has made them durable. w is the window asked
// for: a record starting outside it is an answer to another question (an
// upstream that ignored the dates, a clock far off, a date such as
// 9999-12-31) and is not counted.
func (p *Poller) process(pg *conversation.Page, w Window, res *scanResult) error {
	m := p.metrics
	res.records += pg.Len
	for _, inv := range pg.Invalid {
		m.records.WithLabelValues(ResultInvalid).Inc()
		m.invalidRecords.WithLabelValues(inv.Reason).Inc()
		p.log.Debug("skipping invalid record", "index", inv.Index, "key", inv.Key, "reason", inv.Reason, "err", inv.Err)
	}
	entries := make([]Entry, 0, len(pg.Records))
	recs := make([]*conversation.Conversation, 0, len(pg.Records))
	for i := range pg.Records {
		c := &pg.Records[i]
		if !w.Contains(c.Start) {
			m.records.WithLabelValues(ResultInvalid).Inc()
			m.invalidRecords.WithLabelValues(InvalidOutsideWindow).Inc()
			p.log.Debug("skipping record outside the window asked for", "key", c.Key(), "window", w.String(),
				"start", c.Start.UTC().Format(time.RFC3339))
			continue
		}
		entries = append(entries, Entry{Key: c.Key(), Start: c.Start, Channel: c.ChannelName(), Finished: c.Finished()})
		recs = append(recs, c)
	}
	outcomes, err := p.state.Apply(entries)
	if err != nil {
		return err
	}
	for i, o := range outcomes {
		switch o {
		case OutcomeNew:
			p.fresh.found(entries[i].Key)
			p.sink.Observe(recs[i])
			m.records.WithLabelValues(ResultCounted).Inc()
			res.counted++
		case OutcomeDuplicate:
			p.fresh.found(entries[i].Key) // counted before: nothing to look for
			m.records.WithLabelValues(ResultDuplicate).Inc()
		case OutcomeOpen:
			m.records.WithLabelValues(ResultOpen).Inc()
			res.open++
		case OutcomeExpired:
			m.records.WithLabelValues(ResultExpired).Inc()
		case OutcomeBadStart:
			m.records.WithLabelValues(ResultInvalid).Inc()
			m.invalidRecords.WithLabelValues(InvalidBadStartTime).Inc()
			p.log.Debug("skipping record with a start time the state refuses", "key", recs[i].Key(),
				"start", recs[i].Start.UTC().Format(time.RFC3339))
		}
	}
	return nil
}
