//go:build ignore

// generate writes the v1 state fixture (state.db) and its manifest
// (manifest.txt) with the state code of the release that wrote v1 files
// (collector.OpenState/Apply/Prune/SetWatermark as of commit 9bfdb9b). It
// no longer builds against the current API; it is kept to say how the
// fixture was made. Run (at that commit) from the repository root:
//
//	go run collector/testdata/state-v1/generate.go collector/testdata/state-v1
package main

import (
	"fmt"
	"log"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/smartassist-exporter/smartassist_exporter/collector"
)

func main() {
	dir := os.Args[1]
	path := filepath.Join(dir, "state.db")
	_ = os.Remove(path)
	s, err := collector.OpenState(path)
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	rng := rand.New(rand.NewPCG(14, 9))
	id := func(seq int) string {
		// The simulator's (and the platform's) c-... id shape.
		return fmt.Sprintf("c-%07x-%04x-4%03x-a%03x-%012x", rng.Uint32()&0xfffffff, rng.IntN(0xffff), rng.IntN(0xfff), rng.IntN(0xfff), seq)
	}
	channels := []string{"Voice", "Chat", "Email", "WhatsApp"}
	t0 := time.Date(2026, 3, 8, 0, 0, 0, 0, time.UTC)
	var manifest strings.Builder
	var fin, open []collector.Entry
	// 360 finished conversations over 60 hours (2026-03-08 00:00 to
	// 2026-03-10 12:00), 48 open ones, in pages of up to 100 as the poller
	// applies them.
	for i := 0; i < 360; i++ {
		e := collector.Entry{Key: id(i), Start: t0.Add(time.Duration(i) * 10 * time.Minute).Add(time.Duration(rng.IntN(600)) * time.Second), Channel: channels[i%4]}
		fin = append(fin, e)
	}
	for i := 0; i < 48; i++ {
		e := collector.Entry{Key: id(1000 + i), Start: t0.Add(time.Duration(i) * 75 * time.Minute).Add(time.Duration(rng.IntN(600)) * time.Second), Channel: channels[i%4]}
		open = append(open, e)
	}
	// Values an older release stored without refusing them: a start before
	// the epoch (stored as a wrapped unsigned number) and one far in the
	// future.
	hostile := []collector.Entry{
		{Key: "c-pre-epoch", Start: time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), Channel: "Voice"},
		{Key: "c-far-future", Start: time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC), Channel: "Voice"},
	}
	for lo := 0; lo < len(fin); lo += 100 {
		hi := min(lo+100, len(fin))
		if _, err := s.Apply(fin[lo:hi], open[lo*48/360:hi*48/360]); err != nil {
			log.Fatal(err)
		}
	}
	if _, err := s.Apply(hostile, nil); err != nil {
		log.Fatal(err)
	}
	// Forget what started before 2026-03-08 06:00: the horizon.
	horizon := t0.Add(6 * time.Hour)
	if _, _, err := s.Prune(horizon); err != nil {
		log.Fatal(err)
	}
	watermark := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	if err := s.SetWatermark(watermark); err != nil {
		log.Fatal(err)
	}
	fmt.Fprintf(&manifest, "# v1 state fixture: what state.db holds. kind key start(unix) channel\n")
	fmt.Fprintf(&manifest, "watermark - %d -\nhorizon - %d -\n", watermark.Unix(), horizon.Unix())
	for _, e := range fin {
		kind := "counted"
		if e.Start.Before(horizon) {
			kind = "pruned"
		}
		fmt.Fprintf(&manifest, "%s %s %d %s\n", kind, e.Key, e.Start.Unix(), e.Channel)
	}
	for _, e := range open {
		kind := "open"
		if e.Start.Before(horizon) {
			kind = "pruned-open"
		}
		fmt.Fprintf(&manifest, "%s %s %d %s\n", kind, e.Key, e.Start.Unix(), e.Channel)
	}
	for _, e := range hostile {
		fmt.Fprintf(&manifest, "hostile %s %d %s\n", e.Key, e.Start.Unix(), e.Channel)
	}
	if err := os.WriteFile(filepath.Join(dir, "manifest.txt"), []byte(manifest.String()), 0o644); err != nil {
		log.Fatal(err)
	}
	c, o := s.Sizes()
	fmt.Printf("wrote %s: %d counted, %d open\n", path, c, o)
}
