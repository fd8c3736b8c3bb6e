package collector

import (
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/smartassist-exporter/smartassist_exporter/conversation"
	"github.com/smartassist-exporter/smartassist_exporter/naming"
)

// namespace is the one metric namespace, in this package's metric options.
const namespace = naming.Namespace

// Record results: label values of smartassist_exporter_records_total.
const (
	ResultCounted   = "counted"   // finished, first seen: counted now
	ResultDuplicate = "duplicate" // already counted (re-read window, shifted page, window edge)
	ResultOpen      = "open"      // not finished yet: remembered, counted once it finishes
	ResultInvalid   = "invalid"   // unusable, skipped: see invalid_records_total
	ResultExpired   = "expired"   // started before what the state still remembers
)

// InvalidOutsideWindow is the invalid_records_total reason of a record whose
// session start lies outside the window the exporter asked for.
const InvalidOutsideWindow = "outside_window"

// InvalidBadStartTime is the invalid_records_total reason of a record whose
// session start the state refuses to hold (OutcomeBadStart: before 1970 or
// more than 48 h ahead of the exporter's clock): the decoder's reason for a
// start it cannot read, since either way the start is unusable.
const InvalidBadStartTime = conversation.InvalidStartTime

// Scan kinds: label values of the poll histogram.
const (
	ScanRecent = "recent" // the head read (and the re-reads of older starts), every poll
	ScanFull   = "full"   // the whole lookback at once: the backfill of a first start
	ScanSweep  = "sweep"  // a step of a tier's rolling re-read (logs only)
)

// PollMetrics are the exporter's own metrics about polling the call-details
// API (what it sends is upstream.RequestMetrics).
type PollMetrics struct {
	up             prometheus.Gauge
	lastSuccess    prometheus.Gauge
	records        *prometheus.CounterVec
	invalidRecords *prometheus.CounterVec
	pollDuration   *prometheus.HistogramVec
	windowSplits   prometheus.Counter
	openExpired    prometheus.Counter
	stateEntries   *prometheus.GaugeVec
	pollInterval   prometheus.Gauge
	lag            prometheus.GaugeFunc

	recheckAge        *prometheus.GaugeVec
	recheckPeriod     *prometheus.GaugeVec
	openListAvailable prometheus.Gauge
}

// newPollMetrics registers the poller's metrics. lag is read at scrape time.
func newPollMetrics(reg prometheus.Registerer, pollInterval time.Duration, lag func() time.Duration) *PollMetrics {
	m := &PollMetrics{
		up: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: namespace, Name: "up",
			Help: "1 if the last poll of the SmartAssist API read everything it asked for, else 0.",
		}),
		lastSuccess: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: namespace, Subsystem: "exporter", Name: "last_success_timestamp_seconds",
			Help: "smartassist_exporter: Unix time at which the last complete poll ended (0 before the first).",
		}),
		records: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: "exporter", Name: "records_total",
			Help: "smartassist_exporter: conversation records read from the API, by what became of them (counted, duplicate, open, invalid, expired).",
		}, []string{"result"}),
		invalidRecords: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: "exporter", Name: "invalid_records_total",
			Help: "smartassist_exporter: records skipped because they could not be used, by reason.",
		}, []string{"reason"}),
		pollDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Subsystem: "exporter", Name: "poll_duration_seconds",
			Help:    "smartassist_exporter: duration of polls, by scan (full: the backfill of a first start; recent: the head read and the re-reads of older starts).",
			Buckets: []float64{0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600},
		}, []string{"scan"}),
		windowSplits: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: "exporter", Name: "window_splits_total",
			Help: "smartassist_exporter: query windows split because they held more than the 1100 records one query can return.",
		}),
		openExpired: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: "exporter", Name: "open_expired_total",
			Help: "smartassist_exporter: conversations last seen open whose start left the lookback before they were seen finished; never counted.",
		}),
		stateEntries: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: namespace, Subsystem: "exporter", Name: "state_entries",
			Help: "smartassist_exporter: conversations remembered in the state file (counted: to avoid counting twice; open: awaiting their end). Refreshed every poll.",
		}, []string{"kind"}),
		pollInterval: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: namespace, Subsystem: "exporter", Name: "poll_interval_seconds",
			Help: "smartassist_exporter: the configured time between polls (SMARTASSIST_POLL_INTERVAL), for staleness alerts.",
		}),
		lag: prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: namespace, Subsystem: "exporter", Name: "lag_seconds",
			Help: "smartassist_exporter: how far behind the exporter is: now minus the time up to which every conversation start has been read.",
		}, func() float64 { return lag().Seconds() }),
		recheckAge: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: namespace, Subsystem: "exporter", Name: "recheck_age_seconds",
			Help: "smartassist_exporter: how stale the re-reading of older starts is, by tier (30m, 2h, 1d, 7d: how long ago the least recently re-read start of the tier was read; open: time since the last complete listing of open conversations, or in the fallback since the least recently re-checked known-open one).",
		}, []string{"tier"}),
		recheckPeriod: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: namespace, Subsystem: "exporter", Name: "recheck_period_seconds",
			Help: "smartassist_exporter: the period each tier is meant to be re-read in, longer while the List of Conversations API shows what closes (recheck_age_seconds stays under twice this when the budget suffices).",
		}, []string{"tier"}),
		openListAvailable: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: namespace, Subsystem: "exporter", Name: "open_list_available",
			Help: "smartassist_exporter: 1 if closes are seen through the List of Conversations API, 0 if it is disabled, absent (404/403) or has kept failing, and known-open conversations are re-checked in narrow call-details windows.",
		}),
	}
	m.pollInterval.Set(pollInterval.Seconds())
	for _, r := range []string{ResultCounted, ResultDuplicate, ResultOpen, ResultInvalid, ResultExpired} {
		m.records.WithLabelValues(r)
	}
	for _, r := range slices.Concat(conversation.InvalidReasons, []string{InvalidOutsideWindow}) {
		m.invalidRecords.WithLabelValues(r)
	}
	for _, s := range []string{ScanRecent, ScanFull} {
		m.pollDuration.WithLabelValues(s)
	}
	for _, k := range []string{"counted", "open"} {
		m.stateEntries.WithLabelValues(k)
	}
	reg.MustRegister(m.up, m.lastSuccess, m.records, m.invalidRecords,
		m.pollDuration, m.windowSplits, m.openExpired, m.stateEntries, m.pollInterval, m.lag,
		m.recheckAge, m.recheckPeriod, m.openListAvailable)
	return m
}
