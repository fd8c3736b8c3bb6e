package simulator

import "time"

// longOpen makes c, with the profile's LongOpenShare, a conversation that
// stays open 1 to 48 hours (uniformly), listed open from its start and
// reported finished after the usual reporting delay. A zero share draws no
// random number, so that other profiles generate what they always did.
func (g *generator) longOpen(c *Conversation, p Profile) {
	if p.LongOpenShare <= 0 || !g.chance(p.LongOpenShare) {
		return
	}
	c.End = c.Start.Add(time.Hour + time.Duration(g.rng.Int64N(int64(47*time.Hour))).Truncate(time.Second))
	c.FinishedFrom = c.End.Add(time.Duration(g.rng.IntN(120)) * time.Second)
	c.OpenFrom = c.Start.Add(30 * time.Second)
}
