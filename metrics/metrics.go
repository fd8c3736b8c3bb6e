package metrics

import (
	"math"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/smartassist-exporter/smartassist_exporter/capacity"
	"github.com/smartassist-exporter/smartassist_exporter/conversation"
)

// DurationBuckets are the classic buckets of every duration histogram, in
// seconds: 1 s to 4 h, with the usual service-level thresholds (10, 20, 30,
// 60 s) as bucket bounds so that service level is bucket{le="20"} / count.
var DurationBuckets = []float64{1, 2, 5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 300, 600, 900, 1200, 1800, 2700, 3600, 5400, 7200, 10800, 14400}

// Survey buckets: one per possible score.
var (
	CSATBuckets = []float64{1, 2, 3, 4, 5}
	NPSBuckets  = []float64{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
)

// Native histograms beside the classic buckets, when switched on
// (Options.NativeHistograms): ~10% resolution. With no reset duration set,
// a histogram past the bucket limit lowers its resolution instead of
// resetting. Off by default: client_golang then builds no native buckets,
// which cost scrape time even for text scrapes and grow protobuf scrapes
// (BENCHMARKS.md, "Scrape").
const (
	nativeBucketFactor = 1.1
	nativeMaxBuckets   = 160
)

// Options bound the labels taken from upstream text and switch on the
// per-agent series, exemplars and native histograms.
type Options struct {
	AgentMetrics    bool
	MaxChannels     int
	MaxQueues       int
	MaxDispositions int
	MaxCampaigns    int
	MaxStatuses     int
	MaxAgents       int
	// Capacity, when set, receives every queue entry Record counts, with
	// its bounded queue label: the capacity plan is fed from the same
	// exactly-once stream as the counters, never from a second read.
	Capacity *capacity.Estimator

	// Exemplars attaches {conversation_id="…"} exemplars to the duration
	// histograms' observations (served in the OpenMetrics and protobuf
	// formats only).
	Exemplars bool
	// NativeHistograms adds native (sparse) buckets to the duration
	// histograms beside the classic ones.
	NativeHistograms bool
}

// Metrics holds every contact-center metric. It implements collector.Sink.
type Metrics struct {
	conversations   *prometheus.CounterVec
	duration        *prometheus.HistogramVec
	firstResponse   *prometheus.HistogramVec
	interaction     *prometheus.HistogramVec
	hold            *prometheus.HistogramVec
	acw             *prometheus.HistogramVec
	handle          *prometheus.HistogramVec
	queueEntries    *prometheus.CounterVec
	queueWait       *prometheus.HistogramVec
	offers          *prometheus.CounterVec
	consult         *prometheus.HistogramVec
	csat            *prometheus.HistogramVec
	nps             *prometheus.HistogramVec
	likeDislike     *prometheus.CounterVec
	dispositions    *prometheus.CounterVec
	callbacks       *prometheus.CounterVec
	campaigns       *prometheus.CounterVec
	open            *prometheus.GaugeVec
	invalidValues   *prometheus.CounterVec
	folded          *prometheus.CounterVec
	lastObservation prometheus.Gauge

	agentSegments *prometheus.CounterVec
	agentHandle   *prometheus.CounterVec
	agentACW      *prometheus.CounterVec
	agentOffers   *prometheus.CounterVec

	channels, queues, dispositionCap, campaignCap, contactStatuses, statuses, agents, offerOutcomes *labelCap

	capacity *capacity.Estimator

	exemplars        bool
	exemplarsSkipped prometheus.Counter

	// mu serializes writers (Record, Observe, SetOpen): it guards the
	// label caps' sets and latestEnd. Scrapes do not take it, so a scrape
	// can see part of a conversation's observations; the next one sees
	// them all. Each series on its own is always consistent.
	mu        sync.Mutex
	latestEnd float64
}

// durationHistograms makes the duration histograms of one Options.
type durationHistograms struct{ native bool }

func (d durationHistograms) vec(name, help string, labels ...string) *prometheus.HistogramVec {
	opts := prometheus.HistogramOpts{Namespace: namespace, Name: name, Help: help, Buckets: DurationBuckets}
	if d.native {
		opts.NativeHistogramBucketFactor = nativeBucketFactor
		opts.NativeHistogramMaxBucketNumber = nativeMaxBuckets
		opts.NativeHistogramMinResetDuration = 0
	}
	return prometheus.NewHistogramVec(opts, labels)
}

func counter(name, help string, labels ...string) *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: name, Help: help}, labels)
}

// New creates the metrics and registers them.
func New(reg prometheus.Registerer, opts Options) *Metrics {
	durationHistogram := durationHistograms{native: opts.NativeHistograms}.vec
	m := &Metrics{
		exemplars: opts.Exemplars,
		conversations: counter("conversations_total",
			"Finished conversations, counted once each when first seen finished, by channel, direction and finalStatus.",
			"channel", "direction", "status"),
		duration: durationHistogram("conversation_duration_seconds",
			"Session length of finished conversations (sessionEndTime - sessionStartTime), in seconds.",
			"channel", "direction"),
		firstResponse: durationHistogram("first_response_seconds",
			"Agent segments: time from the agent's acceptance to their first response (firstResponseDuration), in seconds.",
			"channel", "queue"),
		interaction: durationHistogram("interaction_seconds",
			"Agent segments: time from acceptance to the last utterance, hold included (interactionDuration), in seconds.",
			"channel", "queue"),
		hold: durationHistogram("hold_seconds",
			"Agent segments with hold: time on hold (holdDuration > 0), in seconds.",
			"channel", "queue"),
		acw: durationHistogram("after_call_work_seconds",
			"Agent segments: after-call work (afterCallWorkDuration), in seconds.",
			"channel", "queue"),
		handle: durationHistogram("handle_seconds",
			"Agent segments: handle time = interaction (hold included) + after-call work, in seconds.",
			"channel", "queue"),
		queueEntries: counter("queue_entries_total",
			"Queue entries by outcome: answered (an agent responded), abandoned (no agent, none later), reassigned (no queue agent, a direct agent later).",
			"channel", "queue", "outcome"),
		queueWait: durationHistogram("queue_wait_seconds",
			"Time in queue: to the agent's acceptance (answered, reassigned) or to the end of the session (abandoned), in seconds.",
			"channel", "queue", "outcome"),
		offers: counter("agent_offers_total",
			"Offers of conversations to agents: answered segments, and non-responding agents by nonResponseEvent (ignored, supervisor_reassigned, missed when none).",
			"channel", "queue", "outcome"),
		consult: durationHistogram("consult_seconds",
			"Consultations of another agent or number during a segment (consultingEndTime - acceptedTime), in seconds.",
			"channel", "queue"),
		csat: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: namespace, Name: "csat_score",
			Help: "CSAT survey scores (1-5) of finished conversations.", Buckets: CSATBuckets}, []string{"channel"}),
		nps: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: namespace, Name: "nps_score",
			Help: "NPS survey scores (0-10) of finished conversations.", Buckets: NPSBuckets}, []string{"channel"}),
		likeDislike: counter("like_dislike_total",
			"Like/dislike survey votes of finished conversations.", "channel", "vote"),
		dispositions: counter("dispositions_total",
			"Dispositions set on finished conversations (one per disposition; empty and \"-\" skipped).", "channel", "disposition"),
		callbacks: counter("callbacks_total",
			"Queue entries in which the customer opted for a callback.", "channel", "queue"),
		campaigns: counter("campaign_attempts_total",
			"Outbound campaign calls, by campaign name and contact status.", "campaign", "contact_status"),
		open: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: namespace, Name: "open_conversations",
			Help: "Conversations listed as not yet finished, started within the lookback. Refreshed every poll."}, []string{"channel"}),
		invalidValues: counter("exporter_invalid_values_total",
			"smartassist_exporter: values not observed because they were outside their documented range, by field and reason.",
			"field", "reason"),
		folded: counter("exporter_label_values_folded_total",
			"smartassist_exporter: observations whose label value was replaced by \"other\" because the label reached its cap (SMARTASSIST_MAX_*).",
			"label"),
		lastObservation: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: namespace, Subsystem: "exporter",
			Name: "last_conversation_end_timestamp_seconds",
			Help: "smartassist_exporter: sessionEndTime of the most recently ending conversation counted so far, Unix time."}),
	}
	m.capacity = opts.Capacity
	m.channels = newLabelCap("channel", opts.MaxChannels, m.folded)
	m.queues = newLabelCap("queue", opts.MaxQueues, m.folded)
	m.dispositionCap = newLabelCap("disposition", opts.MaxDispositions, m.folded)
	m.campaignCap = newLabelCap("campaign", opts.MaxCampaigns, m.folded)
	m.contactStatuses = newLabelCap("contact_status", 20, m.folded)
	m.statuses = newLabelCap("status", opts.MaxStatuses, m.folded)
	// The outcomes the platform documents are always kept: a burst of
	// odd nonResponseEvent values must not fold "answered" into "other".
	m.offerOutcomes = newLabelCap("outcome", 10, m.folded, OutcomeAnswered, OfferMissed, OfferIgnored, OfferSupervisorReassigned)
	cs := []prometheus.Collector{m.conversations, m.duration, m.firstResponse, m.interaction, m.hold, m.acw, m.handle,
		m.queueEntries, m.queueWait, m.offers, m.consult, m.csat, m.nps, m.likeDislike, m.dispositions, m.callbacks,
		m.campaigns, m.open, m.invalidValues, m.folded, m.lastObservation}
	if opts.AgentMetrics {
		m.agents = newLabelCap("agent", opts.MaxAgents, m.folded)
		m.agentSegments = counter("agent_segments_total",
			"Answered segments per agent (agent id). Only with SMARTASSIST_AGENT_METRICS=true.", "agent")
		m.agentHandle = counter("agent_handle_seconds_total",
			"Handle time (interaction + after-call work) per agent, in seconds. Only with SMARTASSIST_AGENT_METRICS=true.", "agent")
		m.agentACW = counter("agent_after_call_work_seconds_total",
			"After-call work per agent, in seconds. Only with SMARTASSIST_AGENT_METRICS=true.", "agent")
		m.agentOffers = counter("agent_offer_outcomes_total",
			"Offers per agent by outcome (answered, ignored, supervisor_reassigned, missed). Only with SMARTASSIST_AGENT_METRICS=true.", "agent", "outcome")
		cs = append(cs, m.agentSegments, m.agentHandle, m.agentACW, m.agentOffers)
	}
	// Counters whose series users alert on exist from the start at 0, so
	// that rate() and absent() work before the first event.
	// Registered with exemplars off too (then it stays 0): a scrape has
	// the same families whatever SMARTASSIST_EXEMPLARS says.
	m.exemplarsSkipped = prometheus.NewCounter(prometheus.CounterOpts{Namespace: namespace, Subsystem: "exporter",
		Name: "exemplars_skipped_total",
		Help: "smartassist_exporter: finished conversations observed without an exemplar (SMARTASSIST_EXEMPLARS=true) because their id was missing, over the exemplar length limit or held characters outside [A-Za-z0-9-_.:]."})
	cs = append(cs, m.exemplarsSkipped)
	for _, l := range []string{"channel", "queue", "disposition", "campaign", "contact_status", "status", "outcome", "agent"} {
		m.folded.WithLabelValues(l)
	}
	for _, iv := range possibleInvalidValues {
		m.invalidValues.WithLabelValues(iv.Field, iv.Reason)
	}
	reg.MustRegister(cs...)
	return m
}

// Observe implements collector.Sink: it derives and records one finished
// conversation.
func (m *Metrics) Observe(c *conversation.Conversation) {
	o := Derive(c)
	var ex prometheus.Labels
	if m.exemplars {
		if ex = Exemplar(c); ex == nil {
			m.exemplarsSkipped.Inc()
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.record(&o, ex)
	if !c.End.IsZero() {
		// Conversations are counted in no time order: keep the latest end.
		if end := float64(c.End.Unix()); end > m.latestEnd {
			m.latestEnd = end
			m.lastObservation.Set(end)
		}
	}
}

// Record adds derived observations to the metrics, bounding labels, without
// exemplars.
func (m *Metrics) Record(o *Observations) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.record(o, nil)
}

// record adds o; ex, when not nil, is the exemplar of every duration
// observation. The caller holds m.mu.
func (m *Metrics) record(o *Observations, ex prometheus.Labels) {
	ch := m.channels.value(o.Channel)
	m.conversations.WithLabelValues(ch, o.Direction, m.statuses.value(o.Status)).Inc()
	observe(m.duration, o.Duration, ex, ch, o.Direction)
	for _, s := range o.Segments {
		q := m.queues.value(s.Queue)
		observe(m.firstResponse, s.FirstResponse, ex, ch, q)
		observe(m.interaction, s.Interaction, ex, ch, q)
		observe(m.hold, s.Hold, ex, ch, q)
		observe(m.acw, s.ACW, ex, ch, q)
		observe(m.handle, s.Handle, ex, ch, q)
		if m.agents != nil && s.Agent != "" {
			a := m.agents.value(s.Agent)
			m.agentSegments.WithLabelValues(a).Inc()
			m.agentHandle.WithLabelValues(a).Add(s.Handle.V)
			m.agentACW.WithLabelValues(a).Add(s.ACW.V)
		}
	}
	for _, e := range o.QueueEntries {
		q := m.queues.value(e.Queue)
		m.queueEntries.WithLabelValues(ch, q, e.Outcome).Inc()
		observe(m.queueWait, e.Wait, ex, ch, q, e.Outcome)
		if e.Callback {
			m.callbacks.WithLabelValues(ch, q).Inc()
		}
		if m.capacity != nil {
			m.capacity.Add(CapacitySample(q, e))
		}
	}
	for _, of := range o.Offers {
		outcome := m.offerOutcomes.value(of.Outcome)
		m.offers.WithLabelValues(ch, m.queues.value(of.Queue), outcome).Inc()
		if m.agents != nil && of.Agent != "" {
			m.agentOffers.WithLabelValues(m.agents.value(of.Agent), outcome).Inc()
		}
	}
	for _, cs := range o.Consults {
		observeExemplar(m.consult.WithLabelValues(ch, m.queues.value(cs.Queue)), cs.Seconds, ex)
	}
	// Scores are not durations: no exemplar (a score is not a spike to
	// explain, and the id would be the survey respondent's).
	observe(m.csat, o.CSAT, nil, ch)
	observe(m.nps, o.NPS, nil, ch)
	if o.Vote != "" {
		m.likeDislike.WithLabelValues(ch, o.Vote).Inc()
	}
	for _, d := range o.Dispositions {
		m.dispositions.WithLabelValues(ch, m.dispositionCap.value(d)).Inc()
	}
	if o.Campaign != nil {
		m.campaigns.WithLabelValues(m.campaignCap.value(o.Campaign.Name), m.contactStatuses.value(o.Campaign.ContactStatus)).Inc()
	}
	for _, iv := range o.Invalid {
		m.invalidValues.WithLabelValues(iv.Field, iv.Reason).Inc()
	}
}

// CapacitySample is the capacity estimator's view of a queue entry whose
// queue label is already bounded: reassigned entries are neither answered
// nor abandoned by the queue (capacity.Other), an unknown wait or handle
// time is negative, and an absent entry time stays zero (the estimator
// counts the sample invalid).
func CapacitySample(queue string, e QueueEntryObs) capacity.Sample {
	s := capacity.Sample{Queue: queue, Entered: e.Entered, Wait: -1, Handle: -1}
	switch e.Outcome {
	case OutcomeAnswered:
		s.Outcome = capacity.Answered
	case OutcomeAbandoned:
		s.Outcome = capacity.Abandoned
	default:
		s.Outcome = capacity.Other
	}
	if e.Wait.OK {
		s.Wait = seconds(e.Wait.V)
	}
	if e.Handle.OK {
		s.Handle = seconds(e.Handle.V)
	}
	return s
}

// seconds converts a non-negative, finite number of seconds (as Derive
// produces them) to a Duration, saturating instead of overflowing.
func seconds(v float64) time.Duration {
	if v >= float64(math.MaxInt64)/float64(time.Second) {
		return math.MaxInt64
	}
	return time.Duration(v * float64(time.Second))
}

func observe(h *prometheus.HistogramVec, v Opt, ex prometheus.Labels, labels ...string) {
	if v.OK {
		observeExemplar(h.WithLabelValues(labels...), v.V, ex)
	}
}

// SetOpen implements collector.Sink: it replaces the open-conversation
// snapshot, so channels with none left disappear.
func (m *Metrics) SetOpen(byChannel map[string]int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.open.Reset()
	for ch, n := range byChannel {
		m.open.WithLabelValues(m.channels.value(ch)).Add(float64(n))
	}
}
