package capacity

import (
	"math"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/smartassist-exporter/smartassist_exporter/naming"
)

// Staffing reports how many agents serve a queue now (from live agent
// counts: available + busy). ok is false when the queue's count is unknown;
// the collector then leaves out the staffing gauges of that queue.
type Staffing interface {
	StaffedAgents(queue string) (agents float64, ok bool)
}

// Collector exposes the capacity plan of every queue with traffic in the
// estimator's interval. It computes everything at scrape time from the
// estimator; it never calls the platform.
type Collector struct {
	est      *Estimator
	opts     Options
	staffing Staffing

	arrivalRate, handle, patience, offeredLoad *prometheus.Desc
	required, scheduled                        *prometheus.Desc
	staffed, predictedSL, predictedAbandon     *prometheus.Desc
	gap                                        *prometheus.Desc
	slTarget, slSeconds, maxOccupancy          *prometheus.Desc
	shrinkage, interval, settle                *prometheus.Desc
	samples                                    *prometheus.Desc
}

var _ prometheus.Collector = (*Collector)(nil)

const fromInterval = " Computed at scrape from the last SMARTASSIST_CAPACITY_INTERVAL of queue entries (by the time they entered the queue), which ends SMARTASSIST_CAPACITY_SETTLE before now."

// NewCollector returns the collector of est, with the targets of the
// Options est was built with. staffing may be nil: the staffed, predicted
// and gap gauges are then left out.
func NewCollector(est *Estimator, staffing Staffing) *Collector {
	q := []string{"queue"}
	qm := []string{"queue", "model"}
	d := func(name, help string, labels []string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(naming.Namespace, "capacity", name), help, labels, nil)
	}
	// Settings and the estimator's own counter are about the exporter:
	// their HELP names it, as on the other self-metrics.
	self := func(name, help string, labels []string) *prometheus.Desc {
		return d(name, "smartassist_exporter: "+help, labels)
	}
	return &Collector{
		est:      est,
		opts:     est.Options(),
		staffing: staffing,

		arrivalRate: d("arrival_rate", "Contacts entering the queue per second: queue entries / interval seconds."+fromInterval, q),
		handle:      d("handle_seconds", "Mean handle time (interaction + after-call work) of the answered queue entries (AHT)."+fromInterval+" Absent when none has a handle time.", q),
		patience:    d("patience_seconds", "Mean caller patience: sum of the time waited by all entries (answered, abandoned and moved) / abandoned entries, the maximum-likelihood estimate for exponential patience."+fromInterval+" Absent when none abandoned (Erlang A is then Erlang C).", q),
		offeredLoad: d("offered_load_erlangs", "Offered load A = arrival_rate x handle_seconds, in Erlangs: the agents busy if every contact were answered."+fromInterval, q),
		required:    d("required_agents", "Smallest number of agents c whose model service level (share of all arrivals answered within smartassist_capacity_service_level_seconds) is at least smartassist_capacity_service_level_target with occupancy at most smartassist_capacity_max_occupancy, for the offered load; model erlang_c (M/M/c, nobody abandons) or erlang_a (M/M/c+M, exponential patience of mean patience_seconds)."+fromInterval, qm),
		scheduled:   d("required_scheduled_agents", "Agents to schedule so that required_agents are available after shrinkage: ceil(required_agents / (1 - smartassist_capacity_shrinkage))."+fromInterval, qm),

		staffed:          d("staffed_agents", "Agents serving the queue now (available + busy) as the live staffing source reports them at scrape; exported for the queues with traffic in the last SMARTASSIST_CAPACITY_INTERVAL (ending SMARTASSIST_CAPACITY_SETTLE before now).", q),
		predictedSL:      d("predicted_service_level", "Model service level with c = floor(staffed_agents) agents: share of all arrivals answered within smartassist_capacity_service_level_seconds t. Erlang C: 1 - C(c,A) exp(-(c-A) t / handle_seconds), 0 when c <= A. Erlang A: abandoned callers count as not answered."+fromInterval, qm),
		predictedAbandon: d("predicted_abandon_ratio", "Erlang A share of arrivals that abandon with floor(staffed_agents) agents and mean patience patience_seconds."+fromInterval, q),
		gap:              d("staffing_gap", "required_agents - staffed_agents: positive is understaffed by that many agents, negative overstaffed."+fromInterval, qm),

		slTarget:     self("service_level_target", "Target share of arrivals answered within smartassist_capacity_service_level_seconds (SMARTASSIST_SERVICE_LEVEL_TARGET).", nil),
		slSeconds:    self("service_level_seconds", "Service-level threshold in seconds (SMARTASSIST_SERVICE_LEVEL_SECONDS).", nil),
		maxOccupancy: self("max_occupancy", "Highest occupancy (carried load / agents) required_agents allows (SMARTASSIST_MAX_OCCUPANCY).", nil),
		shrinkage:    self("shrinkage", "Share of scheduled agent time not available for contacts (SMARTASSIST_SHRINKAGE).", nil),
		interval:     self("interval_seconds", "Length of the interval the capacity gauges are estimated over (SMARTASSIST_CAPACITY_INTERVAL).", nil),
		settle:       self("settle_seconds", "How long before now the capacity interval ends, so that counting (at finish, after the reporting delay) catches up with queue entries (SMARTASSIST_CAPACITY_SETTLE).", nil),
		samples:      self("samples_total", "Queue entries fed to the capacity estimator, by result: on_time (counted before their entry time reached the interval), late (counted after: the interval undercounted them until then), expired (entered before the interval; dropped), invalid (no queue, no entry time, or an entry time in the future; dropped).", []string{"result"}),
	}
}

// Describe sends every descriptor.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		c.arrivalRate, c.handle, c.patience, c.offeredLoad, c.required, c.scheduled,
		c.staffed, c.predictedSL, c.predictedAbandon, c.gap,
		c.slTarget, c.slSeconds, c.maxOccupancy, c.shrinkage, c.interval, c.settle, c.samples,
	} {
		ch <- d
	}
}

// Collect computes the plan of every queue with traffic in the interval.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	gauge(c.slTarget, c.opts.ServiceLevelTarget)
	gauge(c.slSeconds, c.opts.ServiceLevelSeconds)
	gauge(c.maxOccupancy, c.opts.MaxOccupancy)
	gauge(c.shrinkage, c.opts.Shrinkage)
	gauge(c.interval, c.opts.Interval.Seconds())
	gauge(c.settle, c.opts.Settle.Seconds())
	results := c.est.Results()
	for _, r := range SampleResults {
		ch <- prometheus.MustNewConstMetric(c.samples, prometheus.CounterValue, float64(results[r]), string(r))
	}

	for _, e := range c.est.Estimates() {
		c.collectQueue(e, gauge)
	}
}

func (c *Collector) collectQueue(e Estimate, gauge func(*prometheus.Desc, float64, ...string)) {
	q := e.Queue
	gauge(c.arrivalRate, e.ArrivalRate, q)
	if !math.IsInf(e.PatienceSeconds, 0) && !math.IsNaN(e.PatienceSeconds) {
		gauge(c.patience, e.PatienceSeconds, q)
	}
	staffed, haveStaffing := 0.0, false
	if c.staffing != nil {
		staffed, haveStaffing = c.staffing.StaffedAgents(q)
		haveStaffing = haveStaffing && staffed >= 0 && !math.IsInf(staffed, 0)
		if haveStaffing {
			gauge(c.staffed, staffed, q)
		}
	}
	if math.IsNaN(e.HandleSeconds) {
		return // no load without a handle time: nothing to plan
	}
	gauge(c.handle, e.HandleSeconds, q)
	gauge(c.offeredLoad, e.OfferedLoad, q)
	traffic := e.Traffic()
	// Erlang A needs a patience; +Inf (no abandons) is its Erlang C limit.
	models := Models
	if math.IsNaN(e.PatienceSeconds) {
		models = []Model{ModelErlangC}
	}

	// A fraction of an agent answers nobody: predict with whole agents.
	agents := int(math.Floor(math.Min(staffed, MaxAgents) + 1e-9))

	for _, m := range models {
		required, err := RequiredAgents(m, traffic, c.opts.target())
		if err == nil {
			gauge(c.required, float64(required), q, string(m))
			gauge(c.scheduled, float64(ScheduledAgents(required, c.opts.Shrinkage)), q, string(m))
			if haveStaffing {
				gauge(c.gap, float64(required)-staffed, q, string(m))
			}
		}
		if !haveStaffing {
			continue
		}
		var p Performance
		if m == ModelErlangC {
			p, err = ErlangC(traffic, agents, c.opts.ServiceLevelSeconds)
		} else {
			p, err = erlangA(traffic, agents, c.opts.ServiceLevelSeconds, false)
		}
		if err != nil {
			continue
		}
		gauge(c.predictedSL, p.ServiceLevel, q, string(m))
		if m == ModelErlangA {
			gauge(c.predictedAbandon, p.AbandonProbability, q)
		}
	}
}
