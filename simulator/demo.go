package simulator

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"net/http"
	"time"
)

// Demo is a simulated account served on loopback: what `-demo` polls.
type Demo struct {
	URL                    string
	AccountID, StreamID    string
	ClientID, ClientSecret string

	srv    *http.Server
	cancel context.CancelFunc
}

// StartDemo serves a simulated contact center on 127.0.0.1: `history` of
// past traffic at once, then live arrivals until ctx ends or Close. It
// answers a few 429s and 5xx on purpose, and enforces a rate limit above
// what the demo's exporter spends.
func StartDemo(ctx context.Context, history time.Duration) (*Demo, error) {
	d := &Demo{AccountID: "demo-account", StreamID: "st-demo-stream", ClientID: "cs-demo-" + randomHex(4), ClientSecret: randomHex(16)}
	sim := New(Options{AccountID: d.AccountID, StreamID: d.StreamID, ClientID: d.ClientID, ClientSecret: d.ClientSecret,
		RateLimit: 600, FailureRate: 0.02, Seed: uint64(time.Now().UnixNano())})
	sim.SetLive(LiveOptions{Staff: DemoStaff, RosterSize: DemoRoster})
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	d.URL = "http://" + listener.Addr().String()
	d.srv = &http.Server{Handler: sim, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = d.srv.Serve(listener) }()
	now := time.Now()
	sim.Generate(now.Add(-history), now, DemoProfile)
	var live context.Context
	live, d.cancel = context.WithCancel(ctx)
	go sim.RunLive(live, now, DemoProfile)
	return d, nil
}

// Close stops the simulated API.
func (d *Demo) Close() {
	d.cancel()
	_ = d.srv.Close()
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
