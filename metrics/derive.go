// Package metrics is the metric contract: the pure derivation from one
// finished conversation to observations (Derive), and the Prometheus
// registry that holds them (Metrics). Dashboards, alerts and capacity plans
// are built on these names; see METRICS.md.
package metrics

import (
	"math"
	"strings"
	"time"
	"unicode"

	"github.com/smartassist-exporter/smartassist_exporter/conversation"
)

// Queue labels that do not come from the API.
const (
	QueueDirect  = "direct"  // a top-level AgentSegment: no queue
	unknownValue = "unknown" // an absent label value
)

// Queue entry outcomes.
const (
	OutcomeAnswered   = "answered"
	OutcomeAbandoned  = "abandoned"
	OutcomeReassigned = "reassigned"
	OfferMissed       = "missed" // a non-responding agent without nonResponseEvent
	// nonResponseEvent values the platform documents, in snake case.
	OfferIgnored              = "ignored"
	OfferSupervisorReassigned = "supervisor_reassigned"
)

// Invalid value reasons: label values of smartassist_exporter_invalid_values_total.
const (
	ReasonNegative   = "negative"
	ReasonOutOfRange = "out_of_range"
	ReasonNotNumber  = "not_a_number"
	ReasonMissing    = "missing"
	// ReasonImplausible: a duration over MaxPlausibleDuration. Observing
	// it would wreck the histogram's _sum for good (1e308 makes it +Inf
	// until the exporter restarts).
	ReasonImplausible = "implausible"
)

// MaxPlausibleDuration bounds every duration the exporter observes: no
// conversation, segment, wait or after-call work lasts 30 days (asynchronous
// chats stay open for days, not months). Longer values are invalid values
// with reason "implausible".
const MaxPlausibleDuration = 30 * 24 * time.Hour

// Fields that can hold an invalid value.
const (
	FieldConversationDuration = "conversation_duration"
	FieldFirstResponse        = "first_response"
	FieldInteraction          = "interaction"
	FieldHold                 = "hold"
	FieldAfterCallWork        = "after_call_work"
	FieldQueueWait            = "queue_wait"
	FieldConsult              = "consult"
	FieldCSAT                 = "csat_score"
	FieldNPS                  = "nps_score"
	FieldLikeDislike          = "like_dislike_score"
)

// possibleInvalidValues are the field and reason pairs Derive can report.
var possibleInvalidValues = func() []InvalidValue {
	var out []InvalidValue
	for _, f := range []string{FieldConversationDuration, FieldFirstResponse, FieldInteraction, FieldHold, FieldAfterCallWork, FieldQueueWait, FieldConsult} {
		out = append(out, InvalidValue{f, ReasonNegative}, InvalidValue{f, ReasonNotNumber}, InvalidValue{f, ReasonImplausible})
	}
	out = append(out, InvalidValue{FieldConversationDuration, ReasonMissing})
	for _, f := range []string{FieldCSAT, FieldNPS, FieldLikeDislike} {
		out = append(out, InvalidValue{f, ReasonOutOfRange}, InvalidValue{f, ReasonNotNumber})
	}
	return out
}()

// Opt is an optional value.
type Opt struct {
	V  float64
	OK bool
}

func some(v float64) Opt { return Opt{V: v, OK: true} }

// Observations is everything one finished conversation contributes.
// Label values here are as derived from the record, before bounding.
type Observations struct {
	Channel, Direction, Status string
	Duration                   Opt
	Segments                   []SegmentObs
	QueueEntries               []QueueEntryObs
	Offers                     []OfferObs
	Consults                   []ConsultObs
	CSAT, NPS                  Opt
	Vote                       string // "like", "dislike" or ""
	Dispositions               []string
	Campaign                   *CampaignObs
	Invalid                    []InvalidValue
}

// SegmentObs is one answered agent segment.
type SegmentObs struct {
	Queue, Agent                                  string
	FirstResponse, Interaction, Hold, ACW, Handle Opt
}

// QueueEntryObs is one QueueEntry destination.
type QueueEntryObs struct {
	Queue, Outcome string
	Wait           Opt
	Callback       bool
	// Entered is when the contact entered the queue (enterTime); zero when
	// absent or unreadable. The capacity estimator places entries by it.
	Entered time.Time
	// Handle is the answering segment's handle time (interaction + after-
	// call work), for an answered entry; the capacity estimator's AHT.
	Handle Opt
}

// OfferObs is one offer of the conversation to an agent.
type OfferObs struct {
	Queue, Outcome, Agent string
}

// ConsultObs is one consultation of another agent by a segment's agent.
type ConsultObs struct {
	Queue   string
	Seconds float64
}

// CampaignObs is the campaign of an outbound campaign call.
type CampaignObs struct {
	Name, ContactStatus string
}

// InvalidValue is a value outside its documented range, not observed.
type InvalidValue struct {
	Field, Reason string
}

// Derive computes the observations of one finished conversation. It is
// pure: the same record always gives the same observations.
func Derive(c *conversation.Conversation) Observations {
	o := Observations{
		Channel:   c.ChannelName(),
		Direction: c.DirectionName(),
		Status:    c.Status(),
	}
	if c.End.IsZero() {
		o.invalid(FieldConversationDuration, ReasonMissing)
	} else {
		o.Duration = o.nonNegative(FieldConversationDuration, c.End.Sub(c.Start).Seconds())
	}

	for i := range c.Destinations {
		d := &c.Destinations[i]
		switch {
		case d.IsQueueEntry():
			o.queueEntry(c, i)
		case d.IsAnsweredAgentSegment():
			o.segment(c, &d.Segment, QueueDirect)
		}
	}

	o.CSAT = o.score(FieldCSAT, c.CSATScore, 1, 5)
	o.NPS = o.score(FieldNPS, c.NPSScore, 0, 10)
	if v := o.score(FieldLikeDislike, c.LikeDislike, 0, 1); v.OK {
		o.Vote = "dislike"
		if v.V == 1 {
			o.Vote = "like"
		}
	}
	for _, d := range c.Dispositions {
		if d = strings.TrimSpace(d); d != "" && d != "-" {
			o.Dispositions = append(o.Dispositions, d)
		}
	}
	if cp := c.Campaign; cp != nil {
		if name := strings.TrimSpace(string(cp.CampaignName)); name != "" {
			status := strings.TrimSpace(string(cp.ContactStatus))
			if status == "" {
				status = unknownValue
			}
			o.Campaign = &CampaignObs{Name: name, ContactStatus: status}
		}
	}
	return o
}

// queueEntry derives a QueueEntry destination: its outcome and wait, the
// answering segment, and the offers to agents who did not respond.
func (o *Observations) queueEntry(c *conversation.Conversation, idx int) {
	d := &c.Destinations[idx]
	queue := strings.TrimSpace(string(d.QueueName))
	if queue == "" {
		queue = strings.TrimSpace(string(d.QueueID))
	}
	if queue == "" {
		queue = unknownValue
	}
	q := QueueEntryObs{Queue: queue, Callback: d.CallbackOpted.Set && d.CallbackOpted.Value}
	enter, hasEnter := c.ParseTime(d.EnterTime)
	if hasEnter {
		q.Entered = enter
	}
	var waitEnd time.Time
	hasEnd := false
	switch {
	case d.RespondingAgent != nil:
		q.Outcome = OutcomeAnswered
		waitEnd, hasEnd = c.ParseTime(d.RespondingAgent.AcceptedTime)
	default:
		// Abandoned, unless an agent answered the conversation directly
		// later: then the queue's agents were passed over and a supervisor
		// (or a routing rule) gave it to someone else.
		q.Outcome = OutcomeAbandoned
		waitEnd, hasEnd = c.End, !c.End.IsZero()
		for j := idx + 1; j < len(c.Destinations); j++ {
			if next := &c.Destinations[j]; next.IsAnsweredAgentSegment() {
				q.Outcome = OutcomeReassigned
				waitEnd, hasEnd = c.ParseTime(next.AcceptedTime)
				break
			}
		}
	}
	if hasEnter && hasEnd {
		q.Wait = o.nonNegative(FieldQueueWait, waitEnd.Sub(enter).Seconds())
	}
	if d.RespondingAgent != nil {
		o.segment(c, d.RespondingAgent, queue)
		q.Handle = o.Segments[len(o.Segments)-1].Handle
	}
	o.QueueEntries = append(o.QueueEntries, q)
	for k := range d.NonRespondingAgents {
		n := &d.NonRespondingAgents[k]
		outcome := snakeCase(string(n.NonResponseEvent))
		if outcome == "" {
			outcome = OfferMissed
		}
		o.Offers = append(o.Offers, OfferObs{Queue: queue, Outcome: outcome, Agent: strings.TrimSpace(string(n.AgentID))})
	}
}

// segment derives an answered agent segment. Durations come from the
// duration fields; where only the times are given, from their difference.
func (o *Observations) segment(c *conversation.Conversation, s *conversation.Segment, queue string) {
	seg := SegmentObs{Queue: queue, Agent: strings.TrimSpace(string(s.AgentID))}
	seg.FirstResponse = o.duration(c, FieldFirstResponse, s.FirstResponseDuration, s.AcceptedTime, s.FirstResponseTime)
	seg.Interaction = o.duration(c, FieldInteraction, s.InteractionDuration, s.AcceptedTime, s.InteractionEndTime)
	seg.ACW = o.duration(c, FieldAfterCallWork, s.AfterCallWorkDuration, s.InteractionEndTime, s.AfterCallWorkEndTime)
	if h := o.duration(c, FieldHold, s.HoldDuration, conversation.Time{}, conversation.Time{}); h.OK && h.V > 0 {
		seg.Hold = h
	}
	if seg.Interaction.OK {
		// The interaction already includes hold; after-call work is added.
		seg.Handle = some(seg.Interaction.V + seg.ACW.V)
	}
	o.Segments = append(o.Segments, seg)
	o.Offers = append(o.Offers, OfferObs{Queue: queue, Outcome: OutcomeAnswered, Agent: seg.Agent})
	for _, ca := range s.ConsultingAgents {
		from, ok1 := c.ParseTime(ca.AcceptedTime)
		to, ok2 := c.ParseTime(ca.ConsultingEndTime)
		if !ok1 || !ok2 {
			continue
		}
		if v := o.nonNegative(FieldConsult, to.Sub(from).Seconds()); v.OK {
			o.Consults = append(o.Consults, ConsultObs{Queue: queue, Seconds: v.V})
		}
	}
}

// duration reads a duration field, or the difference of two times when the
// field is absent.
func (o *Observations) duration(c *conversation.Conversation, field string, n conversation.Number, from, to conversation.Time) Opt {
	switch {
	case n.Bad:
		o.invalid(field, ReasonNotNumber)
		return Opt{}
	case n.Set:
		return o.nonNegative(field, n.Value)
	}
	if !from.Present() || !to.Present() {
		return Opt{}
	}
	a, ok1 := c.ParseTime(from)
	b, ok2 := c.ParseTime(to)
	if !ok1 || !ok2 {
		return Opt{}
	}
	return o.nonNegative(field, b.Sub(a).Seconds())
}

// nonNegative checks a duration in seconds: a number, not negative, not
// over MaxPlausibleDuration.
func (o *Observations) nonNegative(field string, v float64) Opt {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		o.invalid(field, ReasonNotNumber)
		return Opt{}
	}
	if v < 0 {
		o.invalid(field, ReasonNegative)
		return Opt{}
	}
	if v > MaxPlausibleDuration.Seconds() {
		o.invalid(field, ReasonImplausible)
		return Opt{}
	}
	return some(v)
}

// score reads a survey score that must be a whole number in [lo, hi].
func (o *Observations) score(field string, n conversation.Number, lo, hi float64) Opt {
	switch {
	case n.Bad:
		o.invalid(field, ReasonNotNumber)
	case !n.Set:
	case n.Value < lo || n.Value > hi || n.Value != math.Trunc(n.Value):
		o.invalid(field, ReasonOutOfRange)
	default:
		return some(n.Value)
	}
	return Opt{}
}

func (o *Observations) invalid(field, reason string) {
	o.Invalid = append(o.Invalid, InvalidValue{Field: field, Reason: reason})
}

// snakeCase turns "Supervisor Reassigned" into "supervisor_reassigned".
func snakeCase(s string) string {
	var b strings.Builder
	pendingSep := false
	for _, r := range strings.TrimSpace(s) {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			if pendingSep && b.Len() > 0 {
				b.WriteByte('_')
			}
			pendingSep = false
			b.WriteRune(unicode.ToLower(r))
			continue
		}
		pendingSep = true
	}
	return b.String()
}
