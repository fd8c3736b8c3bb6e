package live

import (
	"sort"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/smartassist-exporter/smartassist_exporter/conversation"
	"github.com/smartassist-exporter/smartassist_exporter/metrics"
)

// Label values the live source does not take from the API.
const (
	// AllValue is the channel and direction of Queue Size readings: that
	// API does not split a queue by channel or direction.
	AllValue = "all"
	// maxDirections caps the direction label (Inbound, Outbound and
	// whatever else a future API writes there).
	maxDirections = 10
)

// Agent statuses, in the order of queueValues.agents.
const (
	statusAvailable = iota
	statusBusy
	statusAway
	statusOffline
	numStatuses
)

var statusNames = [numStatuses]string{"available", "busy", "away", "offline"}

// Row figures, in the order of rowValues.v.
const (
	figWaiting = iota
	figOngoing
	figOverdue
	figLoad
	numFigures
)

type rowKey struct{ queue, channel, direction string }

type rowValues struct {
	v   [numFigures]float64
	has [numFigures]bool
}

type queueValues struct {
	agents      [numStatuses]float64
	hasAgents   bool
	longestWait float64 // seconds
	hasLongest  bool
	at          time.Time // when it was read (the oldest, for a folded queue)
}

// snapshot is what one poll saw, with its labels capped.
type snapshot struct {
	rows       map[rowKey]*rowValues
	queues     map[string]*queueValues // by queue label
	at         time.Time
	staleAfter time.Duration
	folded     int // queues folded into "other"
}

// fresh reports whether the queue's reading is recent enough to show.
func (s *snapshot) fresh(queue string, now time.Time) (*queueValues, bool) {
	q, ok := s.queues[queue]
	return q, ok && now.Sub(q.at) <= s.staleAfter
}

// builder collects one poll's readings by queue id, then caps the labels.
type builder struct {
	maxQueues, maxChannels int
	rows                   map[rawKey]*rowValues
	queues                 map[string]*rawQueue // by queue id (or label when no id)
	rowOrder               []rawKey
}

// rawKey is a row before capping: the queue's id and label (two queues
// may share a name), channel and direction.
type rawKey struct{ id, label, channel, direction string }

type rawQueue struct {
	label string
	queueValues
}

func newBuilder(maxQueues, maxChannels int) *builder {
	return &builder{maxQueues: maxQueues, maxChannels: maxChannels, rows: map[rawKey]*rowValues{}, queues: map[string]*rawQueue{}}
}

// queueLabel is the queue label as the call-details families make it: the
// name, else the id, cleaned the same way, so that PromQL can join them.
func queueLabel(name, id conversation.Text) string {
	v := strings.TrimSpace(string(name))
	if v == "" {
		v = strings.TrimSpace(string(id))
	}
	return metrics.CleanLabel(v)
}

func (b *builder) queue(id, label string, at time.Time) *rawQueue {
	if id == "" {
		id = "label:" + label
	}
	q, ok := b.queues[id]
	if !ok {
		q = &rawQueue{label: label}
		q.at = at
		b.queues[id] = q
	}
	return q
}

// setFigures reads the live counts into v and returns how many were
// present but unusable.
func setFigures(v *rowValues, figs [numFigures]conversation.Number) (bad int) {
	for i, n := range figs {
		x, ok, isBad := count(n)
		if isBad {
			bad++
		}
		if ok {
			v.v[i], v.has[i] = x, true
		}
	}
	return bad
}

// setAgents reads a queue's agent counts once: Queue Performance repeats
// them on each of the queue's rows, and they must not be summed.
func setAgents(q *rawQueue, a *agentCounts) (bad int) {
	if a == nil || q.hasAgents {
		return 0
	}
	for i, n := range [numStatuses]conversation.Number{a.Available, a.Busy, a.Away, a.Offline} {
		x, ok, isBad := count(n)
		if isBad {
			bad++
		}
		if ok {
			q.agents[i] = x
			q.hasAgents = true
		}
	}
	return bad
}

// addRow adds one Queue Performance row; it returns the number of unusable
// values. A row repeated (pages shift while the platform's state moves)
// counts once.
func (b *builder) addRow(r qpRow, at time.Time) (bad int) {
	label := queueLabel(r.QueueName, r.QueueID)
	id := strings.TrimSpace(string(r.QueueID))
	q := b.queue(id, label, at)
	k := rawKey{id: id, label: label, channel: metrics.CleanLabel(string(r.Channel)), direction: metrics.CleanLabel(string(r.Direction))}
	if _, dup := b.rows[k]; dup {
		return 0
	}
	v := &rowValues{}
	bad = setFigures(v, [numFigures]conversation.Number{r.Waiting, r.Ongoing, r.Overdue, r.QueueLoad})
	b.rows[k] = v
	b.rowOrder = append(b.rowOrder, k)
	return bad + setAgents(q, r.AgentStatus)
}

// addQueueSize adds one queue's Queue Size reading, taken at at.
func (b *builder) addQueueSize(l listedQueue, e qsEntry, at time.Time) (bad int) {
	name := conversation.Text(l.name)
	if strings.TrimSpace(l.name) == "" {
		name = e.QueueName
	}
	label := queueLabel(name, conversation.Text(l.id))
	q := b.queue(l.id, label, at)
	k := rawKey{id: l.id, label: label, channel: AllValue, direction: AllValue}
	v := &rowValues{}
	var none conversation.Number
	bad = setFigures(v, [numFigures]conversation.Number{e.Waiting, e.Engaged, none, none})
	b.rows[k] = v
	b.rowOrder = append(b.rowOrder, k)
	bad += setAgents(q, e.AgentStatus)
	if e.QueueSummary != nil {
		// Milliseconds, the platform's analytics duration unit.
		x, ok, isBad := count(e.QueueSummary.MaxWait)
		if isBad {
			bad++
		}
		if ok {
			q.longestWait, q.hasLongest = x/1000, true
		}
	}
	return bad
}

// capValues keeps the first limit distinct values in sorted order and maps
// the rest to "other"; it returns the mapping and how many were folded.
func capValues(values map[string]bool, limit int) (map[string]string, int) {
	sorted := make([]string, 0, len(values))
	for v := range values {
		sorted = append(sorted, v)
	}
	sort.Strings(sorted)
	out := make(map[string]string, len(sorted))
	for i, v := range sorted {
		out[v] = v
		if i >= limit {
			out[v] = metrics.OtherValue
		}
	}
	return out, max(len(sorted)-limit, 0)
}

// snapshot caps the labels — queues and channels past their caps become
// "other", their figures summed — and returns the poll's snapshot.
func (b *builder) snapshot(now time.Time, staleAfter time.Duration) *snapshot {
	queueSet, channelSet, directionSet := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, q := range b.queues {
		queueSet[q.label] = true
	}
	for k := range b.rows {
		channelSet[k.channel] = true
		directionSet[k.direction] = true
	}
	queueOf, folded := capValues(queueSet, b.maxQueues)
	channelOf, _ := capValues(channelSet, b.maxChannels)
	directionOf, _ := capValues(directionSet, maxDirections)

	s := &snapshot{rows: map[rowKey]*rowValues{}, queues: map[string]*queueValues{}, at: now, staleAfter: staleAfter, folded: folded}
	for _, q := range b.queues {
		label := queueOf[q.label]
		t, ok := s.queues[label]
		if !ok {
			t = &queueValues{at: q.at}
			s.queues[label] = t
		}
		if q.at.Before(t.at) {
			t.at = q.at
		}
		if q.hasAgents {
			t.hasAgents = true
			for i := range t.agents {
				t.agents[i] += q.agents[i]
			}
		}
		if q.hasLongest && (!t.hasLongest || q.longestWait > t.longestWait) {
			t.longestWait, t.hasLongest = q.longestWait, true
		}
	}
	for _, k := range b.rowOrder {
		v := b.rows[k]
		fk := rowKey{queue: queueOf[k.label], channel: channelOf[k.channel], direction: directionOf[k.direction]}
		t, ok := s.rows[fk]
		if !ok {
			t = &rowValues{}
			s.rows[fk] = t
		}
		for i := range v.v {
			if v.has[i] {
				t.v[i] += v.v[i]
				t.has[i] = true
			}
		}
	}
	return s
}

// The queue families' descriptions.
var (
	rowLabels   = []string{"queue", "channel", "direction"}
	figureDescs = [numFigures]*prometheus.Desc{
		prometheus.NewDesc("smartassist_queue_waiting", "Contacts waiting in the queue now (live state; Queue Performance waiting or Queue Size waiting, read every SMARTASSIST_LIVE_INTERVAL). channel and direction are \"all\" from Queue Size.", rowLabels, nil),
		prometheus.NewDesc("smartassist_queue_ongoing", "Conversations of the queue in progress with an agent now (Queue Performance ongoing, Queue Size engaged).", rowLabels, nil),
		prometheus.NewDesc("smartassist_queue_overdue", "Contacts waiting past the queue's wait threshold now (Queue Performance only).", rowLabels, nil),
		prometheus.NewDesc("smartassist_queue_load", "The platform's live queue load for the queue, channel and direction (Queue Performance queueLoad).", rowLabels, nil),
	}
	agentsDesc = prometheus.NewDesc("smartassist_queue_agents",
		"Agents of the queue now by status (available, busy, away, offline); per queue, as the platform counts them (an agent in two queues counts in both). Not summed over the queue's channel rows.",
		[]string{"queue", "status"}, nil)
	longestWaitDesc = prometheus.NewDesc("smartassist_queue_longest_wait_seconds",
		"How long the longest-waiting contact of the queue has waited, in seconds (Queue Size maxWait, milliseconds upstream). Absent where the source does not give it.",
		[]string{"queue"}, nil)
	dataAgeDesc = prometheus.NewDesc("smartassist_exporter_live_data_age_seconds",
		"smartassist_exporter: age of the oldest live reading shown, in seconds. Queue Size reads queues round robin within the live share of the budget, so with many queues a reading can be several intervals old.",
		nil, nil)
)

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range figureDescs {
		ch <- d
	}
	ch <- agentsDesc
	ch <- longestWaitDesc
	ch <- dataAgeDesc
}

// Collect implements prometheus.Collector: the last snapshot's queues
// whose readings are fresh, nothing else. It never calls the platform.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	s := c.current()
	if s == nil {
		return
	}
	now := c.now()
	oldest := time.Time{}
	for k, v := range s.rows {
		if _, ok := s.fresh(k.queue, now); !ok {
			continue
		}
		for i, d := range figureDescs {
			if v.has[i] {
				ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v.v[i], k.queue, k.channel, k.direction)
			}
		}
	}
	for name := range s.queues {
		q, ok := s.fresh(name, now)
		if !ok {
			continue
		}
		if oldest.IsZero() || q.at.Before(oldest) {
			oldest = q.at
		}
		if q.hasAgents {
			for i, st := range statusNames {
				ch <- prometheus.MustNewConstMetric(agentsDesc, prometheus.GaugeValue, q.agents[i], name, st)
			}
		}
		if q.hasLongest {
			ch <- prometheus.MustNewConstMetric(longestWaitDesc, prometheus.GaugeValue, q.longestWait, name)
		}
	}
	if !oldest.IsZero() {
		ch <- prometheus.MustNewConstMetric(dataAgeDesc, prometheus.GaugeValue, max(0, now.Sub(oldest).Seconds()))
	}
}

// selfMetrics are the live collector's own metrics.
type selfMetrics struct {
	up, lastSuccess, folded, listedQueues prometheus.Gauge
	source                                *prometheus.GaugeVec
	polls                                 *prometheus.CounterVec
	invalid                               prometheus.Counter
	share                                 prometheus.GaugeFunc
}

func newSelfMetrics(c *Collector) selfMetrics {
	m := selfMetrics{
		up: prometheus.NewGauge(prometheus.GaugeOpts{Name: "smartassist_live_up",
			Help: "1 if the last live-state poll (SMARTASSIST_LIVE_INTERVAL) succeeded, 0 if it failed or none finished yet."}),
		lastSuccess: prometheus.NewGauge(prometheus.GaugeOpts{Name: "smartassist_live_last_success_timestamp_seconds",
			Help: "Unix time of the last successful live-state poll; 0 before the first."}),
		folded: prometheus.NewGauge(prometheus.GaugeOpts{Name: "smartassist_exporter_live_queues_folded",
			Help: "smartassist_exporter: queues of the last live poll past SMARTASSIST_MAX_QUEUES, shown together as queue=\"other\"."}),
		listedQueues: prometheus.NewGauge(prometheus.GaugeOpts{Name: "smartassist_exporter_live_listed_queues",
			Help: "smartassist_exporter: active queues in the last queues list the Queue Size source read (0 while Queue Performance is the source)."}),
		source: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "smartassist_exporter_live_source",
			Help: "smartassist_exporter: 1 for the API live state is read from now (queue_performance, or queue_size per queue after Queue Performance answered 404/403 or by SMARTASSIST_LIVE_SOURCE), 0 for the other."},
			[]string{"source"}),
		polls: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "smartassist_exporter_live_polls_total",
			Help: "smartassist_exporter: live-state polls by result (success, error)."}, []string{"result"}),
		invalid: prometheus.NewCounter(prometheus.CounterOpts{Name: "smartassist_exporter_live_invalid_values_total",
			Help: "smartassist_exporter: live values the platform sent that were not usable counts (negative, not a number) or rows that did not decode; left out, the rest of the answer is used."}),
		share: prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "smartassist_exporter_live_budget_requests_per_minute",
			Help: "smartassist_exporter: the most the live collector may spend of the API budget per minute (its share of SMARTASSIST_API_RATE_LIMIT); the call-details collector keeps the rest."},
			c.sharePerMinute),
	}
	for _, s := range []string{SourceQueuePerformance, SourceQueueSize} {
		m.source.WithLabelValues(s)
	}
	for _, r := range []string{"success", "error"} {
		m.polls.WithLabelValues(r)
	}
	return m
}

func (m *selfMetrics) register(reg prometheus.Registerer) {
	reg.MustRegister(m.up, m.lastSuccess, m.folded, m.listedQueues, m.source, m.polls, m.invalid, m.share)
}

func (m *selfMetrics) setSource(source string) {
	for _, s := range []string{SourceQueuePerformance, SourceQueueSize} {
		v := 0.0
		if s == source {
			v = 1
		}
		m.source.WithLabelValues(s).Set(v)
	}
}

func (m *selfMetrics) pollDone(err error, now time.Time) {
	if err != nil {
		m.up.Set(0)
		m.polls.WithLabelValues("error").Inc()
		return
	}
	m.up.Set(1)
	m.lastSuccess.Set(float64(now.UnixNano()) / 1e9)
	m.polls.WithLabelValues("success").Inc()
}
