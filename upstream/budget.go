package upstream

import (
	"context"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Priority orders callers waiting for the budget.
type Priority int

const (
	// PriorityNormal is for the call-details reads: they may wait.
	PriorityNormal Priority = iota
	// PriorityHigh is for the live-state polls: a few cheap requests whose
	// value is their freshness, so they go before normal ones.
	PriorityHigh
)

// Budget is the account's API budget, shared by every source of the
// exporter: the platform's 60 requests a minute are per account, for all its
// Contact Center APIs together, so SMARTASSIST_API_RATE_LIMIT bounds the sum
// of what the exporter sends. It is a token bucket; high-priority callers go
// first.
//
// rate.Limiter reserves a slot when a caller starts waiting, so the priority
// applies to callers that have not yet reserved: a normal caller waits while
// any high-priority one is waiting, and a high-priority caller arriving later
// waits at most for the one slot a normal caller already holds (each source
// sends its requests one at a time).
type Budget struct {
	perMinute float64
	limiter   *rate.Limiter

	mu       sync.Mutex
	urgent   int           // high-priority callers waiting
	calm     chan struct{} // closed while urgent == 0
	reserved float64       // requests a minute promised to sources with a fixed cost
}

// NewBudget allows perMinute requests a minute. The bucket holds at most a
// tenth of a minute's allowance (at least 1, at most 5): a poll can start at
// once, and no minute ever sees much more than the budget.
func NewBudget(perMinute float64) *Budget {
	burst := max(1, min(int(perMinute/10), 5))
	calm := make(chan struct{})
	close(calm)
	return &Budget{perMinute: perMinute, limiter: rate.NewLimiter(rate.Limit(perMinute/60), burst), calm: calm}
}

// PerMinute is the whole budget.
func (b *Budget) PerMinute() float64 { return b.perMinute }

// Reserve records that a source with a steady cost (the live poll) will
// spend perMinute requests a minute, so that sources that size their work to
// the budget (the call-details poller) plan with what is left. It does not
// hold tokens back: the bucket is still one.
func (b *Budget) Reserve(perMinute float64) {
	b.mu.Lock()
	b.reserved += perMinute
	b.mu.Unlock()
}

// Unreserved is the budget minus what Reserve promised, never less than a
// tenth of the budget.
func (b *Budget) Unreserved() float64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return max(b.perMinute-b.reserved, b.perMinute/10)
}

// Wait blocks until one request may be sent and says how long it waited.
func (b *Budget) Wait(ctx context.Context, p Priority) (time.Duration, error) {
	began := time.Now()
	if p == PriorityHigh {
		b.mu.Lock()
		if b.urgent == 0 {
			b.calm = make(chan struct{})
		}
		b.urgent++
		b.mu.Unlock()
		defer func() {
			b.mu.Lock()
			b.urgent--
			if b.urgent == 0 {
				close(b.calm)
			}
			b.mu.Unlock()
		}()
	} else {
		for {
			b.mu.Lock()
			calm, urgent := b.calm, b.urgent
			b.mu.Unlock()
			if urgent == 0 {
				break
			}
			select {
			case <-calm:
			case <-ctx.Done():
				return time.Since(began), ctx.Err()
			}
		}
	}
	err := b.limiter.Wait(ctx)
	return time.Since(began), err
}
