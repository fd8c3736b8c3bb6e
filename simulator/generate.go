package simulator

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// Profile shapes generated traffic.
type Profile struct {
	// PerHour is the mean number of conversations starting per hour.
	PerHour float64
	// OpenShare is the share of agent conversations listed as open before
	// they finish.
	OpenShare float64
	// LateShare is the share reported only 90 minutes after their start.
	LateShare float64
	// BrokenShare is the share of records rendered unusable.
	BrokenShare float64
	// HandleSeconds, when > 0, gives every segment answered from a queue
	// an exponentially distributed handle time with this mean (whole
	// seconds of interaction, no after-call work): the M/M/c assumption of
	// the capacity models, with a handle time a test knows. 0: the
	// channel's lognormal interaction plus after-call work.
	HandleSeconds float64
	// LongOpenShare is the share of agent conversations that stay open
	// for 1 to 48 hours (chats, messaging, e-mail), listed open all along
	// (see longopen.go).
	LongOpenShare float64
	// Shape, when set, scales the arrival rate at t (a daily curve,
	// bursts), up to ShapeMax.
	Shape func(t time.Time) float64
	// Staff, when set, is how many agents serve a queue at t: calls and
	// chats then wait for the first free agent of their queue (one
	// conversation at a time each) and abandon when that takes longer than
	// their patience, so waits and abandons grow in a burst and shrink as
	// agents free up. Unset, waits are drawn at random. Email keeps random
	// waits either way. Generate must then move forward in time.
	Staff func(t time.Time, queue string) int
}

// patienceMean is a caller's mean patience by channel, for Profile.Staff.
func patienceMean(channel string) float64 {
	if channel == "Voice" {
		return 120
	}
	return 300
}

// pooled is the wait of a contact entering queue q at enter: until the
// first of the queue's staff is free, plus a few seconds of ringing. It
// returns the agent's slot to book, or abandon when the wait is longer
// than the contact's patience (the wait is then the time it gave up after).
func (g *generator) pooled(q queue, channel string, enter time.Time, p Profile) (wait int, abandon bool, slot *time.Time) {
	n := max(1, p.Staff(enter, q.name))
	if g.pools == nil {
		g.pools = map[string][]time.Time{}
	}
	pool := g.pools[q.id]
	for len(pool) < n {
		pool = append(pool, enter) // an agent logs in
	}
	pool = pool[:n] // agents beyond the staff log out (after their conversation)
	g.pools[q.id] = pool
	i := 0
	for j := range pool {
		if pool[j].Before(pool[i]) {
			i = j
		}
	}
	w := max(0, pool[i].Sub(enter).Seconds()) + float64(2+g.rng.IntN(9))
	patience := g.rng.ExpFloat64() * patienceMean(channel)
	if w > patience {
		return max(1, int(patience)), true, nil
	}
	return int(w), false, &pool[i]
}

// ShapeMax bounds Profile.Shape.
const ShapeMax = 3.0

// shapeAt is the profile's rate factor at t, within [0, ShapeMax].
func (p Profile) shapeAt(t time.Time) float64 {
	if p.Shape == nil {
		return 1
	}
	return min(max(p.Shape(t), 0), ShapeMax)
}

// DemoProfile is a small, busy contact center: enough traffic to move every
// panel within a minute.
var DemoProfile = Profile{PerHour: 900, OpenShare: 0.6, LateShare: 0.02, BrokenShare: 0.003, Shape: DemoShape, Staff: DemoStaff}

// DemoShape is a daily curve (busiest mid-afternoon UTC, quiet at night)
// with a two-minute burst of two and a half times the traffic every ten
// minutes: the live dashboard shows waiting rising and falling within a
// few minutes of -demo.
func DemoShape(t time.Time) float64 {
	f := demoDaily(t)
	if t.Minute()%10 < 2 {
		f *= 2.5
	}
	return f
}

// demoDaily is the daily curve, between 0.5 and 1.2.
func demoDaily(t time.Time) float64 {
	h := float64(t.Hour()) + float64(t.Minute())/60
	return 0.85 + 0.35*math.Sin(2*math.Pi*(h-9)/24)
}

// DemoStaff is the demo's logged-in agents per queue (of a roster of
// DemoRoster). Like a real schedule it is planned in two-hour blocks, each
// staffed for the daily curve at the block's middle and sized per queue for
// its usual traffic (Retention's long calls need more agents than Sales'),
// but not for the bursts (nobody staffs for those): contacts queue up in a
// burst, and the capacity plan's staffing gap moves with the day.
func DemoStaff(t time.Time, queue string) int {
	perQueue, ok := demoStaffing[queue]
	if !ok {
		perQueue = 25
	}
	block := t.UTC().Truncate(2 * time.Hour).Add(time.Hour)
	return int(math.Round(perQueue * demoDaily(block)))
}

// demoStaffing is each demo queue's staff at a daily-curve factor of 1:
// below what the bursts need, so the Live wallboard shows contacts queueing
// in each burst (TestDemoBurst), and close to what the plan asks for, so the
// capacity plan's staffing gap (which reads the traffic of about an hour
// before) opens while the curve falls and closes or turns negative while it
// rises.
var demoStaffing = map[string]float64{"Sales": 22, "Support": 25, "Billing": 25, "Retention": 30}

// DemoRoster is the agents assigned to each demo queue.
const DemoRoster = 40

type queue struct{ id, name string }

var (
	queues = []queue{
		{"qu-1a2b3c4-0001-4d6e-9f00-aa00000000s1", "Sales"},
		{"qu-1a2b3c4-0002-4d6e-9f00-aa00000000s2", "Support"},
		{"qu-1a2b3c4-0003-4d6e-9f00-aa00000000b1", "Billing"},
		{"qu-1a2b3c4-0004-4d6e-9f00-aa00000000r1", "Retention"},
	}
	dispositionPool = []string{"Resolved", "Billing Inquiry", "Payment Taken", "Escalated", "Callback Scheduled", "Requires Supervisor Attention"}
	campaignPool    = []string{"Renewals Q4", "Win-back", "Payment Reminder"}
	contactStatuses = []string{"answered", "no-answer", "busy", "failed"}
)

type generator struct {
	rng    *rand.Rand
	agents []string
	seq    int
	// pools holds, per queue id, when each logged-in agent is next free
	// (Profile.Staff only).
	pools map[string][]time.Time
}

func newGenerator(seed uint64) *generator {
	g := &generator{rng: rand.New(rand.NewPCG(seed+1, seed^0xc0ffee))}
	for i := range 24 {
		g.agents = append(g.agents, fmt.Sprintf("u-%08x-5a5a-5b5b-8c8c-%012x", g.rng.Uint32(), i))
	}
	return g
}

// Generate adds conversations starting in [from, to): Poisson arrivals at
// the profile's rate.
func (s *Server) Generate(from, to time.Time, p Profile) []*Conversation {
	s.mu.Lock()
	g := s.gen
	var out []*Conversation
	if p.PerHour > 0 {
		mean := float64(time.Hour) / p.PerHour
		if p.Shape != nil {
			// Thinning: candidates at the highest rate, each kept with
			// probability shape/ShapeMax.
			mean /= ShapeMax
		}
		for t := from.Add(time.Duration(g.rng.ExpFloat64() * mean)); t.Before(to); t = t.Add(time.Duration(g.rng.ExpFloat64() * mean)) {
			if p.Shape != nil && g.rng.Float64()*ShapeMax >= p.shapeAt(t) {
				continue
			}
			out = append(out, g.conversation(t.Truncate(time.Second), p))
		}
	}
	s.mu.Unlock()
	s.Add(out...)
	return out
}

// RunLive keeps generating arrivals as the clock moves, until ctx ends,
// and forgets conversations no query can reach any more, so that a demo
// left running for days stays small.
func (s *Server) RunLive(ctx context.Context, since time.Time, p Profile) {
	last := since
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for n := 0; ; n++ {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			now := s.now()
			s.Generate(last, now, p)
			last = now
			if n%60 == 0 {
				s.Forget(now.Add(-retention))
			}
		}
	}
}

// retention is how long the simulator keeps a conversation: past the
// 7 days a query may span, plus a day.
const retention = 8 * 24 * time.Hour

// Forget drops conversations that started before the given time.
func (s *Server) Forget(before time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.changes++
	kept := s.order[:0]
	for _, c := range s.order {
		if c.Start.Before(before) {
			delete(s.convs, c.Key())
			continue
		}
		kept = append(kept, c)
	}
	clear(s.order[len(kept):])
	s.order = kept
}

func (g *generator) pick(list []string) string { return list[g.rng.IntN(len(list))] }

func (g *generator) chance(p float64) bool { return g.rng.Float64() < p }

// lognormal-ish positive duration with the given median, in whole seconds.
func (g *generator) secs(median float64) int {
	v := median * math.Exp(g.rng.NormFloat64()*0.6)
	return max(1, int(v))
}

func (g *generator) conversation(start time.Time, p Profile) *Conversation {
	g.seq++
	c := &Conversation{
		SessionID: fmt.Sprintf("%016x%08x", uint64(start.Unix())<<8, g.seq),
		Start:     start,
		Status:    "CLOSED",
		Style:     g.rng.IntN(2),
	}
	roll := g.rng.Float64()
	var channel string
	var waitMedian, talkMedian float64
	switch {
	case roll < 0.45:
		channel, waitMedian, talkMedian = "Voice", 20, 240
	case roll < 0.85:
		channel, waitMedian, talkMedian = "Web/Mobile Client", 30, 420
		if g.chance(0.2) {
			channel = "Web/Mobile Client " // the platform's stray space
		}
	default:
		channel, waitMedian, talkMedian = "System Mail", 600, 900
	}
	c.Channel = channel

	// Bot-only sessions: contained by the bot, no conversationId.
	if channel != "System Mail" && g.chance(0.25) {
		c.Status = "BotResolved"
		c.End = start.Add(time.Duration(g.secs(90)) * time.Second)
		c.FinishedFrom = c.End.Add(time.Duration(g.rng.IntN(120)) * time.Second)
		return c
	}
	c.ID = fmt.Sprintf("c-%07x-%04x-4%03x-a%03x-%012x", g.rng.Uint32()&0xfffffff, g.rng.IntN(0xffff), g.rng.IntN(0xfff), g.rng.IntN(0xfff), g.seq)
	c.Direction = "Inbound"
	if channel == "Voice" && g.chance(0.2) {
		c.Direction = "Outbound"
		if g.chance(0.6) {
			c.Campaign = &Campaign{Name: g.pick(campaignPool), Status: g.pick(contactStatuses), Attempt: 1 + g.rng.IntN(3)}
		}
	}
	q := queues[g.rng.IntN(len(queues))]
	enter := start.Add(time.Duration(5+g.rng.IntN(40)) * time.Second)
	qe := Destination{Queue: true, QueueID: q.id, QueueName: q.name, Enter: enter}
	if q.name == "Sales" && g.chance(0.3) {
		qe.QueueName = "" // some queues come back with only an id
	}
	wait := g.secs(waitMedian)
	end := enter
	outcome := g.rng.Float64()
	var slot *time.Time // the agent booked, with Profile.Staff
	if p.Staff != nil && channel != "System Mail" {
		var abandon bool
		wait, abandon, slot = g.pooled(q, channel, enter, p)
		switch {
		case abandon:
			outcome = 0.05
		case outcome < 0.10:
			outcome += 0.15 // patience decides abandons: answered instead
		}
	}
	book := func(seg *Segment) {
		if slot != nil {
			*slot = seg.end()
		}
	}
	switch {
	case outcome < 0.10: // abandoned
		end = enter.Add(time.Duration(wait) * time.Second)
		qe.Callback = channel == "Voice" && g.chance(0.3)
		c.Dispositions = []string{"DROP-OFF"}
		c.Destinations = []Destination{qe}
	case outcome < 0.15: // reassigned by a supervisor to a direct agent
		qe.NonResponding = []Segment{{AgentID: g.pick(g.agents), Assigned: enter.Add(3 * time.Second), NonResponseEvent: "Supervisor Reassigned"}}
		seg := g.segment(enter.Add(time.Duration(wait)*time.Second), talkMedian, channel)
		book(seg)
		c.Destinations = []Destination{qe, {Agent: seg}}
		end = seg.end()
	default: // answered from the queue, perhaps after an agent ignored it
		if outcome < 0.22 {
			ev := "Ignored"
			if g.chance(0.3) {
				ev = ""
			}
			qe.NonResponding = []Segment{{AgentID: g.pick(g.agents), Assigned: enter.Add(2 * time.Second), NonResponseEvent: ev}}
		}
		seg := g.segment(enter.Add(time.Duration(wait)*time.Second), talkMedian, channel)
		if p.HandleSeconds > 0 {
			seg.Interaction, seg.ACW = max(1, int(math.Round(g.rng.ExpFloat64()*p.HandleSeconds))), -1
			seg.Hold = min(seg.Hold, seg.Interaction/2)
		}
		book(seg)
		qe.Callback = channel == "Voice" && g.chance(0.03)
		qe.Responding = seg
		c.Destinations = []Destination{qe}
		end = seg.end()
		if g.chance(0.1) { // transferred to a second agent directly
			seg2 := g.segment(end.Add(5*time.Second), talkMedian/2, channel)
			c.Destinations = append(c.Destinations, Destination{Agent: seg2})
			end = seg2.end()
		}
		if g.chance(0.8) {
			c.Dispositions = []string{g.pick(dispositionPool)}
		}
		switch s := g.rng.Float64(); {
		case s < 0.15:
			v := 1 + min(4, int(g.rng.ExpFloat64()*0.8)) // mostly 1-2 → flipped below
			v = 6 - v
			c.CSAT = &v
		case s < 0.25:
			v := min(10, 5+g.rng.IntN(6)-g.rng.IntN(4))
			v = max(v, 0)
			c.NPS = &v
		case s < 0.33:
			v := 0
			if g.chance(0.8) {
				v = 1
			}
			c.Like = &v
		}
	}
	c.End = end
	c.FinishedFrom = end.Add(time.Duration(g.rng.IntN(120)) * time.Second)
	if g.chance(0.25) { // the documented reporting delay, up to ~15 min
		c.FinishedFrom = end.Add(time.Duration(2+g.rng.IntN(13)) * time.Minute)
	}
	if g.chance(p.LateShare) {
		c.FinishedFrom = maxTime(c.FinishedFrom, start.Add(90*time.Minute))
	}
	if g.chance(p.OpenShare) {
		c.OpenFrom = start.Add(30 * time.Second)
	}
	g.longOpen(c, p)
	if g.chance(p.BrokenShare) {
		c.Broken = []string{"no_id", "bad_start", "bad_type"}[g.rng.IntN(3)]
	}
	return c
}

func (g *generator) segment(accepted time.Time, talkMedian float64, channel string) *Segment {
	s := &Segment{
		AgentID:       g.pick(g.agents),
		Assigned:      accepted.Add(-time.Duration(2+g.rng.IntN(10)) * time.Second),
		Accepted:      accepted,
		FirstResponse: g.rng.IntN(25),
		Interaction:   g.secs(talkMedian),
		ACW:           -1,
	}
	if channel == "Voice" {
		s.FirstResponse = 0
		if g.chance(0.3) {
			s.Hold = min(s.Interaction/2, g.secs(45))
		}
		if g.chance(0.1) {
			a := accepted.Add(time.Duration(s.Interaction/3) * time.Second)
			s.Consults = []Consult{{Assigned: a, Accepted: a.Add(8 * time.Second), End: a.Add(time.Duration(8+g.secs(60)) * time.Second)}}
		}
	}
	if g.chance(0.75) {
		s.ACW = g.secs(30)
	}
	return s
}

func (s *Segment) end() time.Time {
	e := s.Accepted.Add(time.Duration(s.Interaction) * time.Second)
	if s.ACW > 0 {
		e = e.Add(time.Duration(s.ACW) * time.Second)
	}
	return e
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
