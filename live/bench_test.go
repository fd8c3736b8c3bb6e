package live

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/smartassist-exporter/smartassist_exporter/simulator"
)

// BenchmarkLiveCost measures what the live state costs the account's
// budget at the default settings (SMARTASSIST_LIVE_INTERVAL=15s,
// SMARTASSIST_API_RATE_LIMIT=50, a 40% live share = 20 requests a minute):
// one simulated hour of polls against the simulator over real HTTP, for 5
// and 200 queues, from each source. It reports the requests a minute spent
// (req/min), that cost as a share of the live share (of_share: at most 1),
// and the oldest reading shown (stale_s: the price Queue Size pays for
// many queues).
//
//	go test -run '^$' -bench LiveCost -benchtime 1x ./live/
func BenchmarkLiveCost(b *testing.B) {
	const (
		interval  = 15 * time.Second
		perMinute = 50.0
		polls     = 240 // one hour
	)
	for _, source := range []string{SourceQueuePerformance, SourceQueueSize} {
		for _, nQueues := range []int{5, 200} {
			b.Run(fmt.Sprintf("%s/queues=%d", source, nQueues), func(b *testing.B) {
				var reqPerMin, stale float64
				for range b.N {
					r := newRig(b, simulator.LiveOptions{ExtraQueues: nQueues - 4}, nil)
					c := r.collector(Options{Source: source, Interval: interval, PlanPerMinute: perMinute})
					stale = 0
					for range polls {
						if err := c.Poll(context.Background()); err != nil {
							b.Fatal(err)
						}
						if s := c.current(); s != nil {
							for _, q := range s.queues {
								stale = max(stale, r.clock.Now().Sub(q.at).Seconds())
							}
						}
						r.clock.Advance(interval)
					}
					spent := r.requests(EndpointQueuePerformance) + r.requests(EndpointQueueSize) + r.requests(EndpointQueues)
					reqPerMin = spent / (polls * interval.Minutes())
				}
				b.ReportMetric(reqPerMin, "req/min")
				b.ReportMetric(reqPerMin/(DefaultBudgetShare*perMinute), "of_share")
				b.ReportMetric(stale, "stale_s")
			})
		}
	}
}
