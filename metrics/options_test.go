package metrics

// DefaultOptions are the defaults of the SMARTASSIST_MAX_* settings, for
// tests: the exporter takes its options from config.
func DefaultOptions() Options {
	return Options{MaxChannels: 20, MaxQueues: 50, MaxDispositions: 50, MaxCampaigns: 50, MaxStatuses: 20, MaxAgents: 500}
}
