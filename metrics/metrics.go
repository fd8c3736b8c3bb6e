package metrics

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"

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

// Native histograms beside the classic buckets: ~10% resolution. With no
// reset duration set, a histogram past the bucket limit lowers its
// resolution instead of resetting.
const (
	nativeBucketFactor = 1.1
	nativeMaxBuckets   = 160
)

// Options bound the labels taken from upstream text and switch on the
// per-agent series.
type Options struct {
	AgentMetrics    bool
	MaxChannels     int
	MaxQueues       int
	MaxDispositions int
	MaxCampaigns    int
	MaxStatuses     int
	MaxAgents       int
}

// DefaultOptions are the defaults of the SMARTASSIST_MAX_* settings.
func DefaultOptions() Options {
	return Options{MaxChannels: 20, MaxQueues: 50, MaxDispositions: 50, MaxCampaigns: 50, MaxStatuses: 20, MaxAgents: 500}
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

	mu        sync.Mutex // one conversation's observations land together
	latestEnd float64
}

func durationHistogram(name, help string, labels ...string) *prometheus.HistogramVec {
	return prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: namespace, Name: name, Help: help,
		Buckets:                         DurationBuckets,
		NativeHistogramBucketFactor:     nativeBucketFactor,
		NativeHistogramMaxBucketNumber:  nativeMaxBuckets,
		NativeHistogramMinResetDuration: 0,
	}, labels)
}

func counter(name, help string, labels ...string) *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: name, Help: help}, labels)
}

// New creates the metrics and registers them.
func New(reg prometheus.Registerer, opts Options) *Metrics {
	m := &Metrics{
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
	m.channels = newLabelCap("channel", opts.MaxChannels, m.folded)
	m.queues = newLabelCap("queue", opts.MaxQueues, m.folded)
	m.dispositionCap = newLabelCap("disposition", opts.MaxDispositions, m.folded)
	m.campaignCap = newLabelCap("campaign", opts.MaxCampaigns, m.folded)
	m.contactStatuses = newLabelCap("contact_status", 20, m.folded)
	m.statuses = newLabelCap("status", opts.MaxStatuses, m.folded)
	m.offerOutcomes = newLabelCap("outcome", 10, m.folded)
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
	m.Record(&o)
	if !c.End.IsZero() {
		m.mu.Lock()
		// Conversations are counted in no time order: keep the latest end.
		if end := float64(c.End.Unix()); end > m.latestEnd {
			m.latestEnd = end
			m.lastObservation.Set(end)
		}
		m.mu.Unlock()
	}
}

// Record adds derived observations to the metrics, bounding labels.
func (m *Metrics) Record(o *Observations) {
	m.mu.Lock()
	defer m.mu.Unlock()
	ch := m.channels.value(o.Channel)
	m.conversations.WithLabelValues(ch, o.Direction, m.statuses.value(o.Status)).Inc()
	if o.Duration.OK {
		m.duration.WithLabelValues(ch, o.Direction).Observe(o.Duration.V)
	}
	for _, s := range o.Segments {
		q := m.queues.value(s.Queue)
		observe(m.firstResponse, s.FirstResponse, ch, q)
		observe(m.interaction, s.Interaction, ch, q)
		observe(m.hold, s.Hold, ch, q)
		observe(m.acw, s.ACW, ch, q)
		observe(m.handle, s.Handle, ch, q)
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
		observe(m.queueWait, e.Wait, ch, q, e.Outcome)
		if e.Callback {
			m.callbacks.WithLabelValues(ch, q).Inc()
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
		m.consult.WithLabelValues(ch, m.queues.value(cs.Queue)).Observe(cs.Seconds)
	}
	observe(m.csat, o.CSAT, ch)
	observe(m.nps, o.NPS, ch)
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

func observe(h *prometheus.HistogramVec, v Opt, labels ...string) {
	if v.OK {
		h.WithLabelValues(labels...).Observe(v.V)
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
