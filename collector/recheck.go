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
// finished record may still appear, paid for in pages of 100:
//
//   - The 30m tier re-reads the last half hour whole every two polls, in
//     the head read's scan (hotFrom): most conversations are reported
//     finished within it, and one scan of it costs less than a narrow
//     window per close.
//   - Known-open conversations that the List of Conversations API no longer
//     lists as open have closed: they leave the open gauge at once, and
//     those older than the 30m tier have their narrow windows (their start
//     second, coalesced when close together) re-read until call details
//     reports them finished (closeWait), for at most closeFollowUp; then
//     the tiers take over (gaveUp). The list is read every other poll when two
//     polls bound a close (listEvery), and a listing of many pages every
//     few polls (listPagesPerPoll).
//   - Conversations the list shows open that call details has not shown
//     open (unseen: most are first reported finished) are looked for the
//     same way when the list stops showing them, by their start from the
//     list, every lateCheck. Given up when none is ever found
//     (checkUnseen).
//   - Where that API is absent (404/403) or keeps failing (checkListBroken),
//     known-open conversations are re-checked in narrow windows,
//     oldest-unchecked first, within a share of each poll's budget.
//   - Older age tiers re-read what the list cannot show (bot-only
//     sessions, conversations too short to be listed) reported late: each
//     tier's range of ages once per period (rolling passes, newest starts
//     first, paced so that every start is re-read within the period), so
//     a record first reported late is counted within its tier's period.
//     Their periods are long with the list, short without it. The tier
//     reaching the end of the lookback reads a period past it (tierFloor),
//     so that what is reported just before leaving it is not lost.

// DefaultRecentWindow is SMARTASSIST_RECENT_WINDOW's default: how far
// before the last complete read the head read starts. Short, because the
// 30m tier re-reads everything younger every two polls: it only has to keep
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
	// Period is how often the tier's range is re-read; 0 means two polls,
	// at least a minute (the bound on counting a close).
	Period time.Duration
	// PeriodWithoutList, if set, replaces Period while the List of
	// Conversations API is not used or not available: the tier is then
	// what finds the records of conversations only the list would have
	// shown.
	PeriodWithoutList time.Duration
}

// DefaultTiers are the age tiers. Under 30 minutes every two polls: most
// conversations are reported finished within half an hour of their start,
// and reading that range whole is cheaper than a narrow window per close.
// Beyond, the List of Conversations API shows the conversations that close
// (and their starts), so the tiers only look for records the list never
// showed — bot-only sessions, conversations shorter than a listing apart —
// reported late: under 2 h hourly, under a day every 3 hours, the rest of a
// 7-day lookback twice a day. Without the list they find everything: under
// 2 h every 5 minutes, under a day hourly.
var DefaultTiers = []Tier{
	{Name: "30m", MaxAge: 30 * time.Minute},
	{Name: "2h", MaxAge: 2 * time.Hour, Period: time.Hour, PeriodWithoutList: 5 * time.Minute},
	{Name: "1d", MaxAge: 24 * time.Hour, Period: 3 * time.Hour, PeriodWithoutList: time.Hour},
	{Name: "7d", MaxAge: 7 * 24 * time.Hour, Period: 24 * time.Hour, PeriodWithoutList: 12 * time.Hour},
}

// TiersWithPeriods is DefaultTiers with the periods of the 2h, 1d and 7d
// tiers given (SMARTASSIST_RECHECK_*_PERIOD). A period set explicitly
// (given reports which) is used with or without the list.
func TiersWithPeriods(p2h, p1d, p7d time.Duration, given func(tier string) bool) []Tier {
	tiers := slices.Clone(DefaultTiers)
	tiers[1].Period, tiers[2].Period, tiers[3].Period = p2h, p1d, p7d
	for i := 1; i < len(tiers); i++ {
		if given(tiers[i].Name) {
			tiers[i].PeriodWithoutList = 0
		}
	}
	return tiers
}

// TierOpen is the recheck_age_seconds label of the known-open
// conversations: the age of the last complete listing, or in the fallback
// of the least recently re-checked one.
const TierOpen = "open"

const (
	// closeFollowUp is how long a conversation the list shows closed is
	// re-read before the tiers take over.
	closeFollowUp = 2 * time.Hour
	// reportDelay is how long the platform may take to report a finished
	// conversation (up to ~15 minutes after it ends, its docs say): until
	// then a closed one is re-read every two polls at most, after it every
	// lateCheck: within the 5 minutes promised for a record reported late,
	// and a multiple of two 1-minute polls, so that these re-reads fall on
	// the polls that read the list and share windows with the closes it
	// shows (measured: 5 minutes cost 0.08 requests/min more at the
	// defaults).
	reportDelay = 15 * time.Minute
	lateCheck   = 4 * time.Minute
	// closeBackoffMax caps the wait between re-reads of a closed
	// conversation not yet reported finished (or two polls, if longer):
	// it is counted within that of call details reporting it finished.
	closeBackoffMax = time.Minute
	// narrowRecords is the most records a coalesced narrow window is
	// expected to hold: it stays one page, with room for a busier minute.
	narrowRecords = 95
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
	tier Tier
	// period and periodWithoutList are the tier's, resolved.
	period, periodWithoutList time.Duration
	minAge                    time.Duration
	began                     time.Time // the pass under way began; zero: none under way
	from, to                  time.Time // its range of starts, fixed when it began
	cursor                    time.Time
	complete                  bool
	// listCovered: a complete pass began after the list was first read
	// (since it last became available). Until then the tier runs at its
	// period without the list: the list cannot have shown what closed
	// before the exporter started reading it.
	listCovered bool
	// wholePass: the pass under way reads its range in one go (as much of
	// it as the poll's budget allows), not spread over the period.
	wholePass bool
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
	// listedOnly: known from the list alone (call details had not shown it
	// open); it stops being followed when counted, not when the state
	// stops holding it open.
	listedOnly bool
	overdue    bool // listedOnly, and not reported within reportDelay
}

// freshness is the poller's re-reading state: in memory only. After a
// restart every tier starts a pass at once and the first listing finds
// the closes again.
type freshness struct {
	tiers    []*tierPass
	lister   OpenLister
	listDown time.Time // when the list was found unavailable; zero: available
	lastList time.Time // the last complete listing
	// listFailing is when listings began to fail (other than 404/403);
	// zero while they succeed. Failing for listStale, the list is broken:
	// treated as unavailable (the fallback, the tiers' periods without the
	// list) while listings go on being tried at their usual pace.
	listFailing time.Time
	listBroken  bool
	// listSince is the first complete listing since the list was last
	// found available (or the exporter started); zero before one.
	listSince time.Time
	listWait  int // polls to skip before the next listing
	closing   map[string]*closing
	// unseen holds the conversations the last listing showed open that the
	// state does not hold open (call details has not reported them yet),
	// with their session start from the list: when the list stops showing
	// one, its record is looked for like a known-open one's.
	unseen map[string]time.Time
	// gaveUp holds the known-open conversations followed for closeFollowUp
	// without call details reporting them finished: left to the tiers, not
	// followed again at every listing.
	gaveUp map[string]struct{}
	// Of the conversations known from the list alone that closed: how many
	// were found in call details, and how many were not within the
	// reporting delay. Many overdue and none found means the list's ids are
	// not call details' conversationIds: following them would spend the
	// budget for nothing, so it stops (unseenOff) and is tried again after
	// listRetry.
	listedFound, listedOverdue int
	unseenOff                  time.Time
	// tierRead is what this poll's tier steps read completely: a closing
	// conversation whose start lies in it needs no narrow re-read of its
	// own this poll.
	tierRead  []Window
	checked   map[string]time.Time // fallback: when each known-open one was last re-checked
	startedAt time.Time
}

func newFreshness(tiers []Tier, interval, lookback time.Duration, lister OpenLister, now time.Time) *freshness {
	f := &freshness{lister: lister, closing: map[string]*closing{}, unseen: map[string]time.Time{}, gaveUp: map[string]struct{}{}, checked: map[string]time.Time{}, startedAt: now}
	var minAge time.Duration
	for _, t := range tiers {
		if minAge >= lookback {
			break
		}
		tp := &tierPass{tier: t, minAge: minAge, period: t.Period, periodWithoutList: t.PeriodWithoutList}
		if tp.period <= 0 {
			tp.period = max(2*interval, time.Minute)
		}
		if tp.periodWithoutList <= 0 {
			tp.periodWithoutList = tp.period
		}
		f.tiers = append(f.tiers, tp)
		// A tier reads one period past its MaxAge (see tierStep), so a
		// start younger than MaxAge when it turns up is re-read by this
		// tier, not left to the next one's longer period.
		minAge = t.MaxAge
	}
	return f
}

// listAvailable reports whether closes are seen from the list.
func (f *freshness) listAvailable() bool {
	return f.lister != nil && f.listDown.IsZero() && !f.listBroken
}

// uncover makes the tiers run at their periods without the list until a
// pass that begins after the next complete listing: the list is down, or
// what it shows is not being followed.
func (f *freshness) uncover() {
	f.listSince = time.Time{}
	for _, tp := range f.tiers {
		tp.listCovered = false
	}
}

// periodNow is the tier's period with the list as it is now.
func (f *freshness) periodNow(tp *tierPass) time.Duration {
	if f.listAvailable() && f.unseenOff.IsZero() && tp.listCovered {
		return tp.period
	}
	return tp.periodWithoutList
}

// wholeTier reports whether the tier's period is two polls or less: such a
// tier reads its range whole, once per period, so that every start in it
// is re-read every period exactly (a rolling pass cut at page boundaries
// drifts by a step).
func (p *Poller) wholeTier(tp *tierPass) bool {
	return p.fresh.periodNow(tp) <= 2*p.cfg.Interval
}

// coveredByTiers reports whether a tier reading its range whole re-reads
// start: a close or a re-check there needs no narrow window of its own.
func (p *Poller) coveredByTiers(now, start time.Time) bool {
	age := now.Sub(start)
	for _, tp := range p.fresh.tiers {
		if age < tp.tier.MaxAge && age >= tp.minAge {
			return p.wholeTier(tp)
		}
	}
	return false
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
	// Known-open conversations in the lookback, and those neither the head
	// read nor a fast tier re-reads soon enough.
	var watched, older []Entry
	for _, e := range open {
		if !e.Start.Before(lookbackStart) {
			watched = append(watched, e)
			if !p.closeCovered(now, headFrom, e.Start) {
				older = append(older, e)
			}
		}
	}
	if f.lister != nil && (f.listDown.IsZero() || now.Sub(f.listDown) >= listRetry) && ctx.Err() == nil && left > 0 {
		if f.listWait > 0 {
			f.listWait--
		} else {
			listRequests = p.listStep(ctx, now, lookbackStart, watched)
			left -= listRequests
			f.listWait = max(p.listEvery(), (listRequests+listPagesPerPoll-1)/listPagesPerPoll) - 1
		}
		p.checkListBroken(now)
	}
	// Tiers first, so that a closing conversation whose start a tier step
	// reads anyway is not read twice; they may not spend what the closes
	// due now need (at most a request each): closes keep their priority.
	listAvailable := f.listAvailable()
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
		cs := p.closeStep(ctx, now, lookbackStart, watched, headFrom, left)
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
func (p *Poller) listStep(ctx context.Context, now, lookbackStart time.Time, watched []Entry) int {
	f := p.fresh
	l, err := f.lister.ListOpen(ctx)
	if err != nil {
		if errors.Is(err, openlist.ErrUnavailable) {
			if f.listDown.IsZero() {
				p.log.Warn("the List of Conversations API is not available; re-checking known-open conversations in narrow call-details windows instead (slower to see closes); trying the list again hourly", "err", err)
				p.metrics.openListAvailable.Set(0)
			}
			f.listDown = now
			f.uncover()
		} else if ctx.Err() == nil {
			// Nothing can be concluded from a partial list. The caller
			// spaces listings by what this one cost, so the next may be a
			// few polls away; listFailing decides when to stop relying on
			// the list.
			if f.listFailing.IsZero() {
				f.listFailing = now
				p.log.Warn("listing open conversations failed; closes are looked for again at the next listing", "err", err)
			} else {
				p.log.Debug("listing open conversations failed again", "err", err, "since", f.listFailing)
			}
		}
		return l.Requests
	}
	f.listFailing = time.Time{}
	if !f.listDown.IsZero() {
		p.log.Info("the List of Conversations API answers again; using it to see closes")
		f.listDown = time.Time{}
		p.metrics.openListAvailable.Set(1)
	}
	f.lastList = now
	if f.listSince.IsZero() {
		f.listSince = now
	}
	watchedKeys := make(map[string]struct{}, len(watched))
	for k := range f.gaveUp {
		if _, listed := l.Open[k]; listed {
			delete(f.gaveUp, k) // open again: followed afresh when it closes
		}
	}
	for _, e := range watched {
		watchedKeys[e.Key] = struct{}{}
		_, listed := l.Open[e.Key]
		_, known := f.closing[e.Key]
		_, given := f.gaveUp[e.Key]
		switch {
		case listed && known:
			delete(f.closing, e.Key) // listed open again: the list decides
		case !listed && !known && !given:
			f.closing[e.Key] = &closing{start: e.Start, seen: now, next: p.firstRead(now)}
		}
	}
	for k := range f.gaveUp {
		if _, ok := watchedKeys[k]; !ok {
			delete(f.gaveUp, k) // counted, or out of the lookback
		}
	}
	p.checkUnseen(now)
	if !f.unseenOff.IsZero() {
		return l.Requests
	}
	// Conversations listed open that call details has not shown open: most
	// conversations are first reported finished, minutes after they start.
	// When the list stops showing one, its record is due.
	for id, start := range f.unseen {
		if _, listed := l.Open[id]; listed {
			continue
		}
		delete(f.unseen, id)
		if _, ok := watchedKeys[id]; ok {
			continue // call details showed it open meanwhile: followed above
		}
		if counted, err := p.state.Counted(id, start); err != nil || counted {
			continue
		}
		f.closing[id] = &closing{start: start, seen: now, next: now.Add(time.Duration(p.listEvery()) * p.cfg.Interval), listedOnly: true}
	}
	for id, start := range l.Open {
		_, watchedOpen := watchedKeys[id]
		_, known := f.closing[id]
		switch {
		case watchedOpen || start.IsZero() || start.Before(lookbackStart) || start.After(now):
			delete(f.unseen, id)
		case known:
			delete(f.closing, id) // listed open again
			f.unseen[id] = start
		default:
			f.unseen[id] = start
		}
	}
	return l.Requests
}

// The window in which the record of a conversation known from the list
// alone is looked for reaches listSlackBefore before the start the list
// gave and listSlackAfter after it: the list gives the session start in
// milliseconds, call details in whole seconds, and nothing documents that
// the two agree to the second; where the list has no session start, its
// startTime is the queue entry, a little after the session started.
const (
	listSlackBefore = time.Minute
	listSlackAfter  = 2 * time.Second
)

// window is where the conversation's record is looked for; span is the
// widest window expected to fit one page (0: unknown).
func (c *closing) window(span time.Duration) Window {
	if c.listedOnly {
		before := listSlackBefore
		if span > 0 {
			before = min(before, span/2) // a busy account: one page still
		}
		return Window{c.start.Add(-before), c.start.Add(listSlackAfter)}
	}
	return Window{c.start, c.start}
}

// narrowSpan is the widest start range a narrow window is expected to
// read in one page at the observed density (0: unknown).
func (p *Poller) narrowSpan() time.Duration {
	if p.density <= 0 {
		return 0
	}
	return time.Duration(narrowRecords / p.density * float64(time.Second)).Truncate(time.Second)
}

// Following the conversations known from the list alone is given up when
// at least unseenGiveUp of them were not reported within the reporting
// delay and none was found; the counts start over every unseenWindow.
const (
	unseenGiveUp = 20
	unseenWindow = 200
)

// checkUnseen stops following conversations known from the list alone when
// none is ever found in call details, and tries again after listRetry.
func (p *Poller) checkUnseen(now time.Time) {
	f := p.fresh
	switch {
	case !f.unseenOff.IsZero():
		if now.Sub(f.unseenOff) >= listRetry {
			f.unseenOff = time.Time{}
			f.listedFound, f.listedOverdue = 0, 0
			f.uncover()
		}
	case f.listedFound == 0 && f.listedOverdue >= unseenGiveUp:
		p.log.Warn("none of the conversations the List of Conversations API showed closing was reported by call details within the reporting delay: its ids may not be call details' conversationIds; records of conversations call details never showed open are left to the age tiers; trying again in an hour",
			"overdue", f.listedOverdue, "reporting_delay", reportDelay)
		f.unseenOff = now
		f.uncover()
		clear(f.unseen)
		for k, c := range f.closing {
			if c.listedOnly {
				delete(f.closing, k)
			}
		}
	case f.listedFound+f.listedOverdue >= unseenWindow:
		f.listedFound, f.listedOverdue = 0, 0
	}
}

// found is called when a conversation is counted or seen counted: it is
// not looked for any more.
func (f *freshness) found(key string) {
	if c, ok := f.closing[key]; ok {
		if c.listedOnly {
			f.listedFound++
		}
		delete(f.closing, key)
	}
}

// closeStep re-reads the windows of closing conversations that are due;
// those started within the head read need none.
func (p *Poller) closeStep(ctx context.Context, now, lookbackStart time.Time, watched []Entry, headFrom time.Time, left int) scanResult {
	f := p.fresh
	stillOpen := make(map[string]bool, len(watched))
	for _, e := range watched {
		stillOpen[e.Key] = true
	}
	var due []Window
	var dueKeys []string
	span := p.narrowSpan()
	for k, c := range f.closing {
		want := c.window(span)
		if c.listedOnly && !c.overdue && now.Sub(c.seen) >= reportDelay {
			c.overdue = true
			f.listedOverdue++
		}
		switch {
		case c.listedOnly && c.start.Before(lookbackStart):
			delete(f.closing, k) // left the lookback
		case !c.listedOnly && !stillOpen[k]:
			delete(f.closing, k) // counted, or left the lookback
		case now.Sub(c.seen) > closeFollowUp:
			delete(f.closing, k) // the tiers take over
			if !c.listedOnly {
				f.gaveUp[k] = struct{}{}
			}
		case p.windowCovered(now, headFrom, want):
			// The head read or a fast tier re-reads it soon enough.
		case !c.next.After(now):
			if p.readByTiers(want) {
				// Re-read this poll by a tier step: it counts as an attempt.
				c.attempts++
				c.next = now.Add(p.closeWait(c, now))
				continue
			}
			due = append(due, want)
			dueKeys = append(dueKeys, k)
		}
	}
	res := scanResult{complete: true}
	if len(due) == 0 || left <= 0 {
		return res
	}
	res = p.readNarrow(ctx, due, left)
	for _, k := range dueKeys {
		if c := f.closing[k]; c != nil { // nil: counted by this read
			c.attempts++
			c.next = now.Add(p.closeWait(c, now))
		}
	}
	return res
}

// closesDue is how many closing conversations are due for a narrow re-read
// now: at most one request each.
func (p *Poller) closesDue(now, headFrom time.Time) int {
	n := 0
	for _, c := range p.fresh.closing {
		w := c.window(p.narrowSpan())
		if !p.windowCovered(now, headFrom, w) && !c.next.After(now) && now.Sub(c.seen) <= closeFollowUp {
			n++
		}
	}
	return n
}

// closeBound is the most a close may wait for a re-read of its start once
// call details reports it finished: two polls, at least closeBackoffMax.
func (p *Poller) closeBound() time.Duration { return max(closeBackoffMax, 2*p.cfg.Interval) }

// closeCovered reports whether start is re-read by the head read (every
// poll) or by a tier reading its range whole every two polls or less: a
// close there needs no narrow window.
func (p *Poller) closeCovered(now, headFrom, start time.Time) bool {
	return !start.Before(headFrom) || p.coveredByTiers(now, start)
}

// windowCovered is closeCovered for every start of w.
func (p *Poller) windowCovered(now, headFrom time.Time, w Window) bool {
	return p.closeCovered(now, headFrom, w.Start) && p.closeCovered(now, headFrom, w.End)
}

// readByTiers reports whether one of this poll's tier steps read all of
// want.
func (p *Poller) readByTiers(want Window) bool {
	from, to := want.Start.Truncate(time.Second), want.End.Truncate(time.Second)
	for _, w := range p.fresh.tierRead {
		if !from.Before(w.Start) && !to.After(w.End) {
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
	wanted := make([]Window, 0, n)
	for _, e := range older[:n] {
		wanted = append(wanted, Window{e.Start, e.Start})
	}
	if len(wanted) == 0 {
		return scanResult{complete: true}
	}
	res := p.readNarrow(ctx, wanted, maxRequests)
	for _, e := range older[:n] {
		f.checked[e.Key] = now
	}
	return res
}

// readNarrow reads the windows given (start seconds, or a start with its
// slack), coalescing those close enough that the window holding them is
// expected to stay within one page.
func (p *Poller) readNarrow(ctx context.Context, wanted []Window, maxRequests int) scanResult {
	slices.SortFunc(wanted, func(a, b Window) int { return a.Start.Compare(b.Start) })
	span := p.narrowSpan()
	var windows []Window
	for _, w := range wanted {
		w = Window{w.Start.Truncate(time.Second), w.End.Truncate(time.Second)}
		if n := len(windows); n > 0 && w.End.Sub(windows[n-1].Start) <= span {
			if w.End.After(windows[n-1].End) {
				windows[n-1].End = w.End
			}
			continue
		}
		windows = append(windows, w)
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
	began := tp.began
	res, stepped := p.tierStepOnce(ctx, tp, now, lookbackStart, headFrom, left)
	if tp.began.IsZero() && !began.IsZero() && now.Sub(began)+p.cfg.Interval > p.pace(tp) && left-res.requests > 0 && ctx.Err() == nil {
		// The pass ended late (budget, errors): the next starts now, so
		// that the newest starts, read first, wait no longer than they
		// must. One on schedule ends a poll or more before its period is
		// over, and the next starts at the next poll: a pass a period.
		next, ok := p.tierStepOnce(ctx, tp, now, lookbackStart, headFrom, left-res.requests)
		stepped = stepped || ok
		res.merge(next)
	}
	return res, stepped
}

func (p *Poller) tierStepOnce(ctx context.Context, tp *tierPass, now, lookbackStart, headFrom time.Time, left int) (scanResult, bool) {
	period := p.fresh.periodNow(tp)
	whole := p.wholeTier(tp)
	if tp.began.IsZero() {
		from := now.Add(-tp.tier.MaxAge - period).Truncate(time.Second)
		to := now.Add(-tp.minAge).Truncate(time.Second)
		if !to.Before(headFrom) {
			to = headFrom.Add(-time.Second)
		}
		floor := p.tierFloor(lookbackStart, period)
		if from.Before(floor) {
			from = floor
		}
		if !from.Before(to) {
			return scanResult{complete: true}, false // nothing of the tier's is older than the head
		}
		// A range of a few pages is read in one go, once a period: rolling
		// it would cost a part-filled page a step and a pace faster than
		// the period.
		small := p.density > 0 && to.Sub(from).Seconds()*p.density <= wholeMaxRecords
		if (whole || small) && !tp.lastBegan.IsZero() && now.Sub(tp.lastBegan) < period-p.cfg.Interval/2 {
			return scanResult{complete: true}, false // read whole less than a period ago
		}
		tp.wholePass = whole || small
		if whole && p.density > 0 {
			from = p.fillBack(from, to)
		}
		tp.began, tp.from, tp.to, tp.cursor, tp.complete = now, from, to, to, true
	}
	if floor := p.tierFloor(lookbackStart, period); tp.from.Before(floor) {
		tp.from = floor // the lookback moved past the pass's oldest starts
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
		pace := p.pace(tp)
		ahead := max(p.cfg.Interval, min(pace/10, aheadMax))
		frac := min(1, float64(now.Sub(tp.began)+ahead)/float64(pace))
		if tp.wholePass {
			frac = 1
		}
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
			// A conversation the list never showed because it closed
			// before the first listing, reported after this pass read its
			// start, waits for the next pass: it is not lost (tierFloor).
			if f := p.fresh; !f.listSince.IsZero() && !tp.began.Before(f.listSince) {
				tp.listCovered = true
			}
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
		p.metrics.recheckPeriod.WithLabelValues(tp.tier.Name).Set(f.periodNow(tp).Seconds())
	}
	var openAge time.Duration
	period := time.Duration(p.listEvery()) * p.cfg.Interval
	switch {
	case f.listAvailable():
		last := f.lastList
		if last.IsZero() {
			last = f.startedAt
		}
		openAge = now.Sub(last)
	default:
		// The fallback promises no period: it is held to that of the
		// first tier slower than the bound on closes (the 2h tier's).
		for _, tp := range f.tiers {
			if period = f.periodNow(tp); period > p.closeBound() {
				break
			}
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

// hotFrom reports whether the first tier, one read whole every two polls
// and adjacent to the head, is due for its read at now, and if so where a
// head read [headFrom, to] must begin to include its range: as far back as
// the last page of the merged scan allows.
func (p *Poller) hotFrom(now, headFrom, to, lookbackStart time.Time) (time.Time, bool) {
	f := p.fresh
	if len(f.tiers) == 0 || p.density <= 0 {
		return time.Time{}, false
	}
	tp := f.tiers[0]
	period := f.periodNow(tp)
	if tp.minAge != 0 || !p.wholeTier(tp) || !tp.began.IsZero() ||
		(!tp.lastBegan.IsZero() && now.Sub(tp.lastBegan) < period-p.cfg.Interval/2) {
		return time.Time{}, false
	}
	from := now.Add(-tp.tier.MaxAge - period).Truncate(time.Second)
	from = p.fillBack(from, to)
	if floor := p.tierFloor(lookbackStart, period); from.Before(floor) {
		from = floor
	}
	if headFrom.Before(from) {
		from = headFrom
	}
	return from, true
}

// hotRead records that the head read of now read the first tier's range
// whole.
func (p *Poller) hotRead(now time.Time) {
	tp := p.fresh.tiers[0]
	tp.lastBegan, tp.lastEnded = now, now
}

// fillBack moves from back as far as the last page of a scan of [from, to]
// allows at the observed density: read whole, a range costs
// ⌊records/100⌋+1 requests, so the rest of its last page comes free (a
// margin of 25 records for a busier minute). density must be > 0.
func (p *Poller) fillBack(from, to time.Time) time.Time {
	pages := int(to.Sub(from).Seconds()*p.density/PageLimit) + 1
	if full := to.Add(-time.Duration(float64(pages*PageLimit-25) / p.density * float64(time.Second))).Truncate(time.Second); full.Before(from) {
		return full
	}
	return from
}

// tierFloor is the oldest start a tier reads: one period before the
// lookback (the state keeps that much past it: stateKeep), so that a
// record reported just before its start leaves the lookback is still read
// by the next pass, not lost — but never a start that was not in the
// lookback since this process started: one that never was may have been
// counted by a state this one replaced.
func (p *Poller) tierFloor(lookbackStart time.Time, period time.Duration) time.Time {
	floor := lookbackStart.Add(-min(period, p.stateKeep()))
	if first := p.fresh.startedAt.Add(-p.cfg.Lookback).Truncate(time.Second); floor.Before(first) {
		return first
	}
	return floor
}

// stateKeep is how long the state keeps conversations past the lookback:
// stateMargin (clock skew), or the longest period of the tier that reaches
// the end of the lookback, which reads that far past it.
func (p *Poller) stateKeep() time.Duration {
	keep := stateMargin
	if n := len(p.fresh.tiers); n > 0 {
		last := p.fresh.tiers[n-1]
		keep = max(keep, last.period, last.periodWithoutList)
	}
	return keep
}

// wholeMaxRecords is the most records a tier's range may hold to be read in
// one go once a period instead of in a rolling pass.
const wholeMaxRecords = 25 * PageLimit

// pace is how long a rolling pass of the tier may take. Newest first, a
// pass reads a start later than the pass before did, by what the start aged
// meanwhile in proportion to the range: with passes of length D over a
// range of span, a start is re-read every D·(1 + D/span). A pass of
// period·span/(span+period) keeps that within the period.
func (p *Poller) pace(tp *tierPass) time.Duration {
	period := p.fresh.periodNow(tp)
	span := tp.to.Sub(tp.from)
	if span <= 0 {
		return period
	}
	return time.Duration(float64(period) * float64(span) / float64(span+period))
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
	span := time.Duration(float64(pages*PageLimit-25) / p.density * float64(time.Second)).Truncate(time.Second)
	aligned := cursor.Add(-span)
	if aligned.Before(oldest) {
		aligned = oldest
	}
	return aligned, true
}

// listStale is how long listings may fail before the list is taken as
// broken: a few listings' worth, at least 5 minutes.
func (p *Poller) listStale() time.Duration {
	return max(5*time.Minute, 3*time.Duration(p.fresh.listWait+1)*p.cfg.Interval)
}

// checkListBroken turns the list's failing listings into the fallback once
// they have failed for listStale, and back once one succeeds.
func (p *Poller) checkListBroken(now time.Time) {
	f := p.fresh
	// Once broken, broken until a listing succeeds (listFailing cleared):
	// listStale varies with the listing's spacing.
	broken := !f.listFailing.IsZero() && (f.listBroken || now.Sub(f.listFailing) >= p.listStale())
	switch {
	case broken && !f.listBroken:
		p.log.Warn("listing open conversations has kept failing; re-checking known-open conversations in narrow call-details windows instead, and re-reading older starts more often, until a listing succeeds",
			"since", f.listFailing)
		f.listBroken = true
		f.uncover()
		p.metrics.openListAvailable.Set(0)
	case !broken && f.listBroken:
		p.log.Info("listing open conversations succeeds again; using it to see closes")
		f.listBroken = false
		p.metrics.openListAvailable.Set(1)
	}
}

// listEvery is how many polls apart the list is read: every poll, or every
// other one when two polls are the bound on counting a close (polls of 30 s
// or more). A close is then seen at most two polls late and its start read
// in the poll that sees it (firstRead), which keeps the bound.
func (p *Poller) listEvery() int {
	if 2*p.cfg.Interval >= p.closeBound() {
		return 2
	}
	return 1
}

// firstRead is when a conversation the list shows closed at now is first
// re-read: a poll later (call details needs a moment to report it
// finished), or at once when the list is read every other poll.
func (p *Poller) firstRead(now time.Time) time.Time {
	if p.listEvery() > 1 {
		return now
	}
	return now.Add(p.cfg.Interval)
}

// closeWait is how long after a re-read (its attempts-th) a closed
// conversation not yet reported finished is re-read again (the first
// re-read is firstRead's, or two polls after the list stopped showing one
// known from the list alone). A known-open one is re-read after waits
// doubling up to closeBound, so that it is counted within that of call
// details reporting it finished — until the platform's documented
// reporting delay is over, then every lateCheck. One known from the list
// alone was never seen open: it is a record first reported late, re-read
// every lateCheck.
func (p *Poller) closeWait(c *closing, now time.Time) time.Duration {
	if c.listedOnly || now.Sub(c.seen) >= reportDelay {
		return max(lateCheck, p.cfg.Interval)
	}
	return min(p.cfg.Interval<<min(c.attempts, 16), p.closeBound())
}
