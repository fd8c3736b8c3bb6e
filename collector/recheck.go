package collector

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/smartassist-exporter/smartassist_exporter/openlist"
)

// Re-reading by value. After the head read of a poll (new starts since the
// last complete read), the poller re-reads older starts only where a
// finished record may still appear:
//
//   - Known-open conversations that the List of Conversations API no longer
//     lists as open have closed: their narrow windows (their start second,
//     coalesced when close together) are re-read a poll later, then
//     every two polls (with short polls: doubling up to a minute) until
//     call details reports them finished — the platform's reporting
//     delay — for at most closeFollowUp; then the tiers take over. They
//     leave the open gauge at once. A listing of many pages is read every
//     few polls (listPagesPerPoll).
//   - Where that API is absent (404/403), known-open conversations are
//     re-checked in narrow windows, oldest-unchecked first, within a share
//     of each poll's budget.
//   - Age tiers re-read the starts no one listed open: each tier's range of
//     ages is re-read once per period, spread evenly over the polls of the
//     period (rolling passes, newest starts first, back to back), so a
//     record first reported late is counted within its tier's period.

// DefaultRecentWindow is SMARTASSIST_RECENT_WINDOW's default: how far
// before the last complete read the head read starts. Short, because the
// 2h tier re-reads everything younger within minutes: it only has to keep
// the freshest conversations (reported within minutes of their start)
// counted within a poll.
const DefaultRecentWindow = 3 * time.Minute

// Tier is a range of session-start ages re-read once per Period.
type Tier struct {
	// Name is the tier's label value on recheck_age_seconds.
	Name string
	// MaxAge is the oldest start the tier re-reads (capped at the
	// lookback); the youngest is where the previous tier ends.
	MaxAge time.Duration
	Period time.Duration
}

// DefaultTiers are the age tiers: under 2 h every 5 minutes, under a day hourly, the rest of
// a 7-day lookback twice a day.
var DefaultTiers = []Tier{
	{Name: "2h", MaxAge: 2 * time.Hour, Period: 5 * time.Minute},
	{Name: "1d", MaxAge: 24 * time.Hour, Period: time.Hour},
	{Name: "7d", MaxAge: 7 * 24 * time.Hour, Period: 12 * time.Hour},
}

// TiersWithPeriods is DefaultTiers with the periods of the 2h, 1d and 7d
// tiers given (SMARTASSIST_RECHECK_*_PERIOD).
func TiersWithPeriods(p2h, p1d, p7d time.Duration) []Tier {
	tiers := slices.Clone(DefaultTiers)
	tiers[0].Period, tiers[1].Period, tiers[2].Period = p2h, p1d, p7d
	return tiers
}

// TierOpen is the recheck_age_seconds label of the known-open
// conversations: the age of the last complete listing, or in the fallback
// of the least recently re-checked one.
const TierOpen = "open"

const (
	// closeFollowUp is how long a conversation the list shows closed is
	// re-read before the tiers take over: the platform reports a finished
	// conversation up to ~15 minutes after it ends.
	closeFollowUp = 30 * time.Minute
	// closeBackoffMax caps the wait between re-reads of a closed
	// conversation not yet reported finished (or two polls, if longer):
	// it is counted within that of call details reporting it finished.
	closeBackoffMax = time.Minute
	// narrowRecords is the most records a coalesced narrow window is
	// expected to hold: it stays one page, with room for a busier minute.
	narrowRecords = 80
	// budgetShare is the part of each poll's share of the API budget the
	// poller plans to spend; the rest absorbs retries and other sources.
	budgetShare = 0.8
	// fallbackShare is the part of that the fallback spends on re-checking
	// known-open conversations.
	fallbackShare = 0.25
	// aheadMax caps how far ahead of its schedule a tier pass runs: a
	// tenth of a 12 h period would read 72 minutes' worth at once.
	aheadMax = 5 * time.Minute
	// listRetry is how often an absent List of Conversations API is tried
	// again.
	listRetry = time.Hour
	// listPagesPerPoll is what listing may cost per poll on average: a
	// listing of more pages (many long-open conversations) is read every
	// ⌈pages/listPagesPerPoll⌉ polls instead of every poll.
	listPagesPerPoll = 2
)

// OpenLister lists the conversations the platform's live side has open.
type OpenLister interface {
	ListOpen(ctx context.Context) (openlist.Listing, error)
}

// tierPass is the state of one tier's rolling re-read.
type tierPass struct {
	tier     Tier
	minAge   time.Duration
	began    time.Time // the pass under way began; zero: none under way
	from, to time.Time // its range of starts, fixed when it began
	cursor   time.Time
	complete bool
	// The last complete pass (or the backfill): when it began and ended.
	// A start at a fraction f of the range was last read at about
	// lastBegan + f·(lastEnded − lastBegan).
	lastBegan, lastEnded time.Time
}

// closing is a known-open conversation the list no longer shows open.
type closing struct {
	start    time.Time
	seen     time.Time // when the list first did not show it
	next     time.Time // when to re-read its window next
	attempts int
}

// freshness is the poller's re-reading state: in memory only. After a
// restart every tier starts a pass at once and the first listing finds
// the closes again.
type freshness struct {
	tiers    []*tierPass
	lister   OpenLister
	listDown time.Time // when the list was found unavailable; zero: available
	lastList time.Time // the last complete listing
	listWait int       // polls to skip before the next listing
	closing  map[string]*closing
	// tierRead is what this poll's tier steps read completely: a closing
	// conversation whose start lies in it needs no narrow re-read of its
	// own this poll.
	tierRead  []Window
	checked   map[string]time.Time // fallback: when each known-open one was last re-checked
	startedAt time.Time
}

func newFreshness(tiers []Tier, lookback time.Duration, lister OpenLister, now time.Time) *freshness {
	f := &freshness{lister: lister, closing: map[string]*closing{}, checked: map[string]time.Time{}, startedAt: now}
	var minAge time.Duration
	for _, t := range tiers {
		if minAge >= lookback {
			break
		}
		f.tiers = append(f.tiers, &tierPass{tier: t, minAge: minAge})
		// A tier reads one period past its MaxAge (see tierStep), so a
		// start younger than MaxAge when it turns up is re-read by this
		// tier, not left to the next one's longer period.
		minAge = t.MaxAge
	}
	return f
}

// backfilled records that a complete read of the whole lookback began at
// t: every tier is as fresh as that.
func (f *freshness) backfilled(t time.Time) {
	for _, tp := range f.tiers {
		tp.lastBegan, tp.lastEnded = t, t
	}
}

// pollBudget is how many requests one poll may plan for, from the share of
// the account's budget other sources have not reserved (re-read every poll:
// another collector may reserve some at any time).
func (p *Poller) pollBudget() int {
	if p.cfg.RequestsPerPoll > 0 {
		return p.cfg.RequestsPerPoll
	}
	if p.budget == nil {
		return 1 << 30
	}
	return max(3, int(p.budget.Unreserved()*p.cfg.Interval.Minutes()*budgetShare))
}

// merge adds the counts of another scan to r; r is complete only if both
// are. next is r's own: merged scans cover different ranges.
func (r *scanResult) merge(s scanResult) {
	r.requests += s.requests
	r.records += s.records
	r.counted += s.counted
	r.open += s.open
	r.splits += s.splits
	r.complete = r.complete && s.complete
}

// recheck runs the re-reads of older starts after the head read, which
// covered starts from headFrom on. spent is what the poll already used.
func (p *Poller) recheck(ctx context.Context, now, lookbackStart, headFrom time.Time, spent int, out *PollResult) (scanResult, int) {
	f := p.fresh
	res := scanResult{complete: true}
	listRequests := 0
	left := p.pollBudget() - spent
	add := func(s scanResult) {
		res.merge(s)
		left -= s.requests
	}
	open, err := p.state.Open()
	if err != nil {
		p.log.Error("reading open conversations from state", "err", err)
	}
	// Known-open conversations in the lookback, and those started before
	// the head read (the head re-reads the others every poll).
	var watched, older []Entry
	for _, e := range open {
		if !e.Start.Before(lookbackStart) {
			watched = append(watched, e)
			if e.Start.Before(headFrom) {
				older = append(older, e)
			}
		}
	}
	if f.lister != nil && (f.listDown.IsZero() || now.Sub(f.listDown) >= listRetry) && ctx.Err() == nil && left > 0 {
		if f.listWait > 0 {
			f.listWait--
		} else {
			listRequests = p.listStep(ctx, now, watched)
			left -= listRequests
			f.listWait = (listRequests+listPagesPerPoll-1)/listPagesPerPoll - 1
		}
	}
	// Tiers first, so that a closing conversation whose start a tier step
	// reads anyway is not read twice; they may not spend what the closes
	// due now need (at most a request each): closes keep their priority.
	listAvailable := f.lister != nil && f.listDown.IsZero()
	reserved := 0
	if listAvailable {
		reserved = p.closesDue(now, headFrom)
	}
	f.tierRead = f.tierRead[:0]
	tierLeft := left - reserved
	for _, tp := range f.tiers {
		if ctx.Err() != nil {
			break
		}
		if s, ok := p.tierStep(ctx, tp, now, lookbackStart, headFrom, tierLeft); ok {
			out.TierRequests += s.requests
			add(s)
			tierLeft -= s.requests
		}
	}
	if listAvailable {
		cs := p.closeStep(ctx, now, watched, headFrom, left)
		out.CloseRequests += cs.requests
		add(cs)
	} else {
		// At least one request: the re-checks go on even when the other
		// steps spent the poll's share.
		fs := p.fallbackStep(ctx, now, older, int(float64(max(left, 0))*fallbackShare)+1)
		out.CloseRequests += fs.requests
		add(fs)
	}
	p.publishFreshness(now, older)
	return res, listRequests
}

// listStep reads the list and marks the known-open conversations it no
// longer shows as closing. It returns the requests spent.
func (p *Poller) listStep(ctx context.Context, now time.Time, watched []Entry) int {
	f := p.fresh
	l, err := f.lister.ListOpen(ctx)
	if err != nil {
		if errors.Is(err, openlist.ErrUnavailable) {
			if f.listDown.IsZero() {
				p.log.Warn("the List of Conversations API is not available; re-checking known-open conversations in narrow call-details windows instead (slower to see closes); trying the list again hourly", "err", err)
				p.metrics.openListAvailable.Set(0)
			}
			f.listDown = now
		} else if ctx.Err() == nil {
			// Nothing can be concluded from a partial list. The caller
			// spaces listings by what this one cost, so the next may be a
			// few polls away.
			p.log.Warn("listing open conversations failed; closes are looked for again at the next listing", "err", err)
		}
		return l.Requests
	}
	if !f.listDown.IsZero() {
		p.log.Info("the List of Conversations API answers again; using it to see closes")
		f.listDown = time.Time{}
		p.metrics.openListAvailable.Set(1)
	}
	f.lastList = now
	for _, e := range watched {
		_, listed := l.Open[e.Key]
		_, known := f.closing[e.Key]
		switch {
		case listed && known:
			delete(f.closing, e.Key) // listed open again: the list decides
		case !listed && !known:
			f.closing[e.Key] = &closing{start: e.Start, seen: now, next: now.Add(p.closeWait(0))}
		}
	}
	return l.Requests
}

// closeStep re-reads the windows of closing conversations that are due;
// those started within the head read need none.
func (p *Poller) closeStep(ctx context.Context, now time.Time, watched []Entry, headFrom time.Time, left int) scanResult {
	f := p.fresh
	stillOpen := make(map[string]bool, len(watched))
	for _, e := range watched {
		stillOpen[e.Key] = true
	}
	var due []time.Time
	var dueKeys []string
	for k, c := range f.closing {
		switch {
		case !stillOpen[k]:
			delete(f.closing, k) // counted, or left the lookback
		case now.Sub(c.seen) > closeFollowUp:
			delete(f.closing, k) // the tiers take over
		case !c.start.Before(headFrom):
			// The head read re-reads it every poll.
		case !c.next.After(now):
			if p.readByTiers(c.start) {
				// Re-read this poll by a tier step: it counts as an attempt.
				c.attempts++
				c.next = now.Add(p.closeWait(c.attempts))
				continue
			}
			due = append(due, c.start)
			dueKeys = append(dueKeys, k)
		}
	}
	res := scanResult{complete: true}
	if len(due) == 0 || left <= 0 {
		return res
	}
	res = p.readNarrow(ctx, due, left)
	for _, k := range dueKeys {
		c := f.closing[k]
		c.attempts++
		c.next = now.Add(p.closeWait(c.attempts))
	}
	return res
}

// closesDue is how many closing conversations are due for a narrow re-read
// now: at most one request each.
func (p *Poller) closesDue(now, headFrom time.Time) int {
	n := 0
	for _, c := range p.fresh.closing {
		if c.start.Before(headFrom) && !c.next.After(now) && now.Sub(c.seen) <= closeFollowUp {
			n++
		}
	}
	return n
}

// readByTiers reports whether this poll's tier steps read start's second.
func (p *Poller) readByTiers(start time.Time) bool {
	start = start.Truncate(time.Second)
	for _, w := range p.fresh.tierRead {
		if !start.Before(w.Start) && !start.After(w.End) {
			return true
		}
	}
	return false
}

// fallbackStep re-checks known-open conversations in narrow windows,
// oldest-unchecked first, within maxRequests.
func (p *Poller) fallbackStep(ctx context.Context, now time.Time, older []Entry, maxRequests int) scanResult {
	f := p.fresh
	keep := make(map[string]bool, len(older))
	for _, e := range older {
		keep[e.Key] = true
	}
	for k := range f.checked {
		if !keep[k] {
			delete(f.checked, k)
		}
	}
	clear(f.closing)
	slices.SortFunc(older, func(a, b Entry) int {
		if c := f.checked[a.Key].Compare(f.checked[b.Key]); c != 0 {
			return c
		}
		return a.Start.Compare(b.Start)
	})
	// One narrow window each at most: take as many as the share allows,
	// then coalesce (which only lowers the cost).
	n := min(len(older), maxRequests)
	starts := make([]time.Time, 0, n)
	for _, e := range older[:n] {
		starts = append(starts, e.Start)
	}
	if len(starts) == 0 {
		return scanResult{complete: true}
	}
	res := p.readNarrow(ctx, starts, maxRequests)
	for _, e := range older[:n] {
		f.checked[e.Key] = now
	}
	return res
}

// readNarrow reads the start seconds given, coalescing those close enough
// that the window holding them is expected to stay within one page.
func (p *Poller) readNarrow(ctx context.Context, starts []time.Time, maxRequests int) scanResult {
	slices.SortFunc(starts, func(a, b time.Time) int { return a.Compare(b) })
	span := time.Duration(0)
	if p.density > 0 {
		span = time.Duration(narrowRecords / p.density * float64(time.Second)).Truncate(time.Second)
	}
	var windows []Window
	for _, s := range starts {
		s = s.Truncate(time.Second)
		if n := len(windows); n > 0 && s.Sub(windows[n-1].Start) <= span {
			windows[n-1].End = s
			continue
		}
		windows = append(windows, Window{s, s})
	}
	p.narrow = true
	defer func() { p.narrow = false }()
	res := scanResult{complete: true}
	for _, w := range windows {
		if ctx.Err() != nil || res.requests >= maxRequests {
			res.complete = false
			break
		}
		if err := p.readWindow(ctx, w, &res); err != nil {
			res.complete = false
			if ctx.Err() != nil || errors.Is(err, ErrUnauthorized) {
				break
			}
			p.log.Warn("narrow re-read failed; tried again later", "window", w.String(), "err", err)
		}
	}
	return res
}

// tierStep advances a tier's rolling pass to where its schedule says it
// should be by the next poll, starting a pass when the last one is done.
// A pass reads newest first: starts that were too young for the last pass
// (they were in the head read then) are the first this one reads, so every
// start in the tier is re-read within about one period, wherever it lies.
func (p *Poller) tierStep(ctx context.Context, tp *tierPass, now, lookbackStart, headFrom time.Time, left int) (scanResult, bool) {
	res, stepped := p.tierStepOnce(ctx, tp, now, lookbackStart, headFrom, left)
	if tp.began.IsZero() && left-res.requests > 0 && ctx.Err() == nil {
		// The pass ended: the next starts now, so that the newest starts,
		// read first, wait no more than the period.
		next, ok := p.tierStepOnce(ctx, tp, now, lookbackStart, headFrom, left-res.requests)
		stepped = stepped || ok
		res.merge(next)
	}
	return res, stepped
}

func (p *Poller) tierStepOnce(ctx context.Context, tp *tierPass, now, lookbackStart, headFrom time.Time, left int) (scanResult, bool) {
	if tp.began.IsZero() {
		from := now.Add(-tp.tier.MaxAge - tp.tier.Period).Truncate(time.Second)
		to := now.Add(-tp.minAge).Truncate(time.Second)
		if !to.Before(headFrom) {
			to = headFrom.Add(-time.Second)
		}
		tp.began, tp.from, tp.to, tp.cursor, tp.complete = now, from, to, to, true
	}
	if tp.from.Before(lookbackStart) {
		tp.from = lookbackStart // the lookback moved past the pass's oldest starts
	}
	res := scanResult{complete: true}
	stepped := false
	if !tp.cursor.Before(tp.from) && left > 0 {
		// Spread evenly: by the end of this poll the pass should be where
		// it would be a little later (a poll interval, at least a tenth of
		// the period up to aheadMax) at a pace that ends it that much
		// before the period is over. Steps waiting for a page's worth of records (with short
		// polls) and the step of the poll that ends a pass then still
		// leave every start re-read within the period (tested:
		// TestFreshnessOneSecondPolls; measured: BenchmarkAPIEconomySteady).
		ahead := max(p.cfg.Interval, min(tp.tier.Period/10, aheadMax))
		frac := min(1, float64(now.Sub(tp.began)+ahead)/float64(tp.tier.Period))
		target := tp.to.Add(-time.Duration(frac * float64(tp.to.Sub(tp.from)))).Truncate(time.Second)
		if target.Before(tp.from) || frac >= 1 {
			target = tp.from
		}
		target, due := p.pageAligned(target, tp.cursor, tp.from, frac >= 1)
		if p.density > 0 {
			// No more than the poll's budget can read: a step cut short
			// would leave the cursor where it was, to read it all again.
			most := tp.cursor.Add(-time.Duration(float64(left*(PageLimit-10)) / p.density * float64(time.Second)))
			if target.Before(most) {
				target = most.Truncate(time.Second)
			}
		}
		if due && !target.After(tp.cursor) {
			res = p.scan(ctx, ScanSweep, target, tp.cursor, left)
			tp.complete = tp.complete && res.complete
			if res.complete {
				p.fresh.tierRead = append(p.fresh.tierRead, Window{target, tp.cursor})
			}
			// Cut short (next not past the cursor), the cursor stays: the
			// next poll reads the chunk again.
			if res.next.After(tp.cursor) {
				tp.cursor = target.Add(-time.Second)
			}
			stepped = true
		}
	}
	if tp.cursor.Before(tp.from) && ctx.Err() == nil {
		if tp.complete {
			tp.lastBegan, tp.lastEnded = tp.began, now
		}
		tp.began = time.Time{}
	}
	return res, stepped
}

// publishFreshness sets the staleness gauges and the open snapshot.
func (p *Poller) publishFreshness(now time.Time, older []Entry) {
	f := p.fresh
	for _, tp := range f.tiers {
		p.metrics.recheckAge.WithLabelValues(tp.tier.Name).Set(max(now.Sub(tp.lastRead(f.startedAt)), 0).Seconds())
		p.metrics.recheckPeriod.WithLabelValues(tp.tier.Name).Set(tp.tier.Period.Seconds())
	}
	var openAge time.Duration
	period := p.cfg.Interval
	switch {
	case f.lister != nil && f.listDown.IsZero():
		last := f.lastList
		if last.IsZero() {
			last = f.startedAt
		}
		openAge = now.Sub(last)
	default:
		// The fallback promises no period: it is held to the first tier's.
		if len(f.tiers) > 0 {
			period = f.tiers[0].tier.Period
		}
		for _, e := range older {
			last := f.checked[e.Key]
			if last.IsZero() {
				last = f.startedAt
			}
			openAge = max(openAge, now.Sub(last))
		}
	}
	p.metrics.recheckAge.WithLabelValues(TierOpen).Set(max(openAge, 0).Seconds())
	p.metrics.recheckPeriod.WithLabelValues(TierOpen).Set(period.Seconds())
}

// lastRead estimates when the least recently read start of the tier was
// last read: the one just ahead of the pass's cursor, read by the previous
// complete pass at the same fraction of its range. Before any complete
// pass, since the poller started.
func (tp *tierPass) lastRead(startedAt time.Time) time.Time {
	if tp.lastBegan.IsZero() {
		return startedAt
	}
	frac := 0.0
	if !tp.began.IsZero() && tp.to.After(tp.from) {
		frac = min(1, max(0, float64(tp.to.Sub(tp.cursor))/float64(tp.to.Sub(tp.from))))
	}
	return tp.lastBegan.Add(time.Duration(frac * float64(tp.lastEnded.Sub(tp.lastBegan))))
}

// pageAligned adjusts a tier step [target, cursor] (read newest first, so
// target is its older end) to whole pages: reading n records costs
// ⌊n/100⌋+1 requests, so a step is sized at just under a multiple of 100
// expected records, and one expected to hold less than most of a page
// waits for the next poll (unless the period ends: last). The pass then
// runs at most a fraction of a page behind its schedule.
func (p *Poller) pageAligned(target, cursor, oldest time.Time, last bool) (time.Time, bool) {
	if last || p.density <= 0 {
		return target, true
	}
	expected := cursor.Sub(target).Seconds() * p.density
	if expected < 0.9*PageLimit {
		return target, false
	}
	pages := max(1, int(expected/PageLimit+0.5))
	span := time.Duration(float64(pages*PageLimit-5) / p.density * float64(time.Second)).Truncate(time.Second)
	aligned := cursor.Add(-span)
	if aligned.Before(oldest) {
		aligned = oldest
	}
	return aligned, true
}

// closeWait is how long after its attempts-th re-read a closed conversation
// is re-read again: one poll after the list showed it closed (call details
// needs a moment to report it finished), then doubling up to
// closeBackoffMax or two polls, whichever is longer — so it is counted
// within that of call details reporting it finished.
func (p *Poller) closeWait(attempts int) time.Duration {
	return min(p.cfg.Interval<<min(attempts, 16), max(closeBackoffMax, 2*p.cfg.Interval))
}
