package capacity

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Options are the capacity-planning settings. Each field's comment names
// the environment variable the exporter reads it from; Validate's errors
// name it too.
type Options struct {
	// ServiceLevelTarget (SMARTASSIST_SERVICE_LEVEL_TARGET): share of
	// arrivals to answer within ServiceLevelSeconds, in (0, 1).
	ServiceLevelTarget float64
	// ServiceLevelSeconds (SMARTASSIST_SERVICE_LEVEL_SECONDS): the
	// threshold, seconds, finite and >= 0.
	ServiceLevelSeconds float64
	// MaxOccupancy (SMARTASSIST_MAX_OCCUPANCY): the busiest agents may be,
	// in (0, 1].
	MaxOccupancy float64
	// Shrinkage (SMARTASSIST_SHRINKAGE): share of scheduled time agents are
	// not available for contacts (breaks, training, absence), in [0, 1).
	Shrinkage float64
	// Interval (SMARTASSIST_CAPACITY_INTERVAL): length of the sliding
	// interval the inputs are estimated over, 1m to 24h.
	Interval time.Duration
	// Settle (SMARTASSIST_CAPACITY_SETTLE): how long before now the
	// interval ends, 0 to 24h; see Estimator.
	Settle time.Duration
}

// DefaultOptions are the targets by default: 80 % within 20 s, at most 85 % occupancy, 30 %
// shrinkage, over the 30 minutes that ended 30 minutes ago.
func DefaultOptions() Options {
	return Options{
		ServiceLevelTarget:  0.8,
		ServiceLevelSeconds: 20,
		MaxOccupancy:        0.85,
		Shrinkage:           0.3,
		Interval:            30 * time.Minute,
		Settle:              30 * time.Minute,
	}
}

// Validate returns every setting that is out of range, each naming its
// environment variable.
func (o Options) Validate() error {
	var errs []error
	if !(o.ServiceLevelTarget > 0 && o.ServiceLevelTarget < 1) {
		errs = append(errs, fmt.Errorf("SMARTASSIST_SERVICE_LEVEL_TARGET must be greater than 0 and less than 1 (a share, 0.8 for 80 %%), got %v", o.ServiceLevelTarget))
	}
	if !(o.ServiceLevelSeconds >= 0) || math.IsInf(o.ServiceLevelSeconds, 0) {
		errs = append(errs, fmt.Errorf("SMARTASSIST_SERVICE_LEVEL_SECONDS must be a finite number of seconds >= 0, got %v", o.ServiceLevelSeconds))
	}
	if !(o.MaxOccupancy > 0 && o.MaxOccupancy <= 1) {
		errs = append(errs, fmt.Errorf("SMARTASSIST_MAX_OCCUPANCY must be greater than 0 and at most 1, got %v", o.MaxOccupancy))
	}
	if !(o.Shrinkage >= 0 && o.Shrinkage < 1) {
		errs = append(errs, fmt.Errorf("SMARTASSIST_SHRINKAGE must be at least 0 and less than 1, got %v", o.Shrinkage))
	}
	if o.Interval < time.Minute || o.Interval > 24*time.Hour {
		errs = append(errs, fmt.Errorf("SMARTASSIST_CAPACITY_INTERVAL must be between 1m and 24h, got %v", o.Interval))
	}
	if o.Settle < 0 || o.Settle > 24*time.Hour {
		errs = append(errs, fmt.Errorf("SMARTASSIST_CAPACITY_SETTLE must be between 0s and 24h, got %v", o.Settle))
	}
	return errors.Join(errs...)
}

func (o Options) target() Target {
	return Target{ServiceLevel: o.ServiceLevelTarget, Seconds: o.ServiceLevelSeconds, MaxOccupancy: o.MaxOccupancy}
}

// ScheduledAgents is the staffing to schedule so that `required` agents
// are available after shrinkage: ceil(required ÷ (1 − shrinkage)). The
// quotient is rounded to 1e-9 first, so 7 ÷ 0.7 = 10.000000000000002 gives
// 10, not 11.
func ScheduledAgents(required int, shrinkage float64) int {
	q := float64(required) / (1 - shrinkage)
	return int(math.Ceil(q - 1e-9*math.Max(1, q)))
}
