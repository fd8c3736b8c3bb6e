package collector

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
)

// State is what the exporter has counted and which conversations it knows as
// still open, kept in a bbolt file so that a restart neither repeats nor
// loses a conversation. Every change is one transaction, made durable
// (fsync) before the observations it guards are made: a crash can lose an
// observation that was never scraped, never repeat one.
//
// Entries are keyed by conversation key and expire once their session start
// is older than the lookback (plus a margin): such conversations are never
// read again, so forgetting them is safe, and the file stays bounded.
type State struct {
	db *bolt.DB
}

var (
	bucketCounted = []byte("counted") // key -> session start (unix seconds)
	bucketExpiry  = []byte("expiry")  // start (8 bytes BE) + key -> nothing: counted entries by age
	bucketOpen    = []byte("open")    // key -> start (8 bytes) + channel
	bucketMeta    = []byte("meta")

	metaVersion   = []byte("version")
	metaWatermark = []byte("watermark") // everything started before it has been read at least once
	metaHorizon   = []byte("horizon")   // counted entries started before it were forgotten
)

const stateVersion = 1

// Entry is a conversation as the state knows it.
type Entry struct {
	Key     string
	Start   time.Time
	Channel string
}

// Outcome of a conversation offered to Apply.
type Outcome int

const (
	OutcomeNew       Outcome = iota // finished and not counted before: count it now
	OutcomeDuplicate                // already counted
	OutcomeOpen                     // not finished; remembered as open
	OutcomeExpired                  // started before the horizon of forgotten entries
)

// OpenState opens or creates the state file, creating its directory.
func OpenState(path string) (*State, error) {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("creating state directory %s: %w", dir, err)
		}
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		if errors.Is(err, bolt.ErrTimeout) {
			return nil, fmt.Errorf("state file %s is locked: is another exporter running on it? (two exporters on one account double the API spend)", path)
		}
		return nil, fmt.Errorf("opening state file %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketCounted, bucketExpiry, bucketOpen, bucketMeta} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		meta := tx.Bucket(bucketMeta)
		if v := meta.Get(metaVersion); v != nil && binary.BigEndian.Uint64(v) != stateVersion {
			return fmt.Errorf("state file version %d, this exporter reads version %d", binary.BigEndian.Uint64(v), stateVersion)
		}
		return meta.Put(metaVersion, u64(stateVersion))
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("preparing state file %s: %w", path, err)
	}
	return &State{db: db}, nil
}

// Close closes the file.
func (s *State) Close() error { return s.db.Close() }

// Apply records one batch (a page) in one durable transaction: finished
// conversations not counted before become counted and stop being open; open
// ones not counted are remembered. It returns each conversation's outcome,
// finished first, in order. A key twice in one batch is new only once.
func (s *State) Apply(finished, open []Entry) ([]Outcome, error) {
	out := make([]Outcome, len(finished)+len(open))
	needWrite := false
	// A read pass first: most re-read records are duplicates, and a
	// read-only transaction costs no fsync.
	err := s.db.View(func(tx *bolt.Tx) error {
		counted, openB := tx.Bucket(bucketCounted), tx.Bucket(bucketOpen)
		horizon := getTime(tx.Bucket(bucketMeta), metaHorizon)
		for i, e := range finished {
			switch {
			case counted.Get([]byte(e.Key)) != nil:
				out[i] = OutcomeDuplicate
			case !horizon.IsZero() && e.Start.Before(horizon):
				out[i] = OutcomeExpired
			default:
				out[i] = OutcomeNew
				needWrite = true
			}
		}
		for j, e := range open {
			i := len(finished) + j
			switch {
			case counted.Get([]byte(e.Key)) != nil:
				out[i] = OutcomeDuplicate
			case !horizon.IsZero() && e.Start.Before(horizon):
				out[i] = OutcomeExpired
			default:
				out[i] = OutcomeOpen
				if !openMatches(openB.Get([]byte(e.Key)), e) {
					needWrite = true
				}
			}
		}
		return nil
	})
	if err != nil || !needWrite {
		return out, err
	}
	err = s.db.Update(func(tx *bolt.Tx) error {
		counted, expiry, openB := tx.Bucket(bucketCounted), tx.Bucket(bucketExpiry), tx.Bucket(bucketOpen)
		for i, e := range finished {
			if out[i] != OutcomeNew {
				continue
			}
			k := []byte(e.Key)
			if counted.Get(k) != nil { // the same key earlier in this batch
				out[i] = OutcomeDuplicate
				continue
			}
			if err := counted.Put(k, u64(uint64(e.Start.Unix()))); err != nil {
				return err
			}
			if err := expiry.Put(expiryKey(e.Start, e.Key), nil); err != nil {
				return err
			}
			if err := openB.Delete(k); err != nil {
				return err
			}
		}
		for j, e := range open {
			i := len(finished) + j
			if out[i] != OutcomeOpen {
				continue
			}
			k := []byte(e.Key)
			if counted.Get(k) != nil {
				out[i] = OutcomeDuplicate
				continue
			}
			if err := openB.Put(k, openValue(e)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("writing state: %w", err)
	}
	return out, nil
}

// Prune forgets counted conversations that started before cutoff and open
// ones that did (they will never be read again, so they can no longer be
// seen finishing). It moves the horizon to cutoff so that such a
// conversation, should a longer lookback read it again, is not counted twice.
func (s *State) Prune(cutoff time.Time) (counted, openExpired int, err error) {
	err = s.db.Update(func(tx *bolt.Tx) error {
		cb, expiry, openB := tx.Bucket(bucketCounted), tx.Bucket(bucketExpiry), tx.Bucket(bucketOpen)
		limit := uint64(cutoff.Unix())
		c := expiry.Cursor()
		for k, _ := c.First(); k != nil && len(k) >= 8 && binary.BigEndian.Uint64(k[:8]) < limit; k, _ = c.Next() {
			key := k[8:]
			// Only forget the key if this index entry is its current one.
			if v := cb.Get(key); v != nil && binary.BigEndian.Uint64(v) == binary.BigEndian.Uint64(k[:8]) {
				if err := cb.Delete(key); err != nil {
					return err
				}
				counted++
			}
			if err := c.Delete(); err != nil {
				return err
			}
		}
		var stale [][]byte
		err := openB.ForEach(func(k, v []byte) error {
			if e := decodeOpen(k, v); e.Start.Before(cutoff) {
				stale = append(stale, append([]byte(nil), k...))
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, k := range stale {
			if err := openB.Delete(k); err != nil {
				return err
			}
		}
		openExpired = len(stale)
		meta := tx.Bucket(bucketMeta)
		if cutoff.After(getTime(meta, metaHorizon)) {
			return meta.Put(metaHorizon, u64(uint64(cutoff.Unix())))
		}
		return nil
	})
	return counted, openExpired, err
}

// Open lists the conversations known as open.
func (s *State) Open() ([]Entry, error) {
	var entries []Entry
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketOpen).ForEach(func(k, v []byte) error {
			entries = append(entries, decodeOpen(k, v))
			return nil
		})
	})
	return entries, err
}

// Sizes returns how many conversations are remembered as counted and open.
func (s *State) Sizes() (counted, open int) {
	_ = s.db.View(func(tx *bolt.Tx) error {
		counted = tx.Bucket(bucketCounted).Stats().KeyN
		open = tx.Bucket(bucketOpen).Stats().KeyN
		return nil
	})
	return counted, open
}

// Watermark is the time before which every conversation start has been read
// at least once; zero on a first start.
func (s *State) Watermark() time.Time {
	var t time.Time
	_ = s.db.View(func(tx *bolt.Tx) error {
		t = getTime(tx.Bucket(bucketMeta), metaWatermark)
		return nil
	})
	return t
}

// SetWatermark stores the watermark.
func (s *State) SetWatermark(t time.Time) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMeta).Put(metaWatermark, u64(uint64(t.Unix())))
	})
}

func expiryKey(start time.Time, key string) []byte {
	b := make([]byte, 8+len(key))
	binary.BigEndian.PutUint64(b, uint64(start.Unix()))
	copy(b[8:], key)
	return b
}

func openValue(e Entry) []byte {
	b := make([]byte, 8+len(e.Channel))
	binary.BigEndian.PutUint64(b, uint64(e.Start.Unix()))
	copy(b[8:], e.Channel)
	return b
}

func openMatches(v []byte, e Entry) bool {
	return v != nil && string(v) == string(openValue(e))
}

func decodeOpen(k, v []byte) Entry {
	e := Entry{Key: string(k)}
	if len(v) >= 8 {
		e.Start = time.Unix(int64(binary.BigEndian.Uint64(v[:8])), 0)
		e.Channel = string(v[8:])
	}
	return e
}

func getTime(b *bolt.Bucket, key []byte) time.Time {
	v := b.Get(key)
	if len(v) != 8 {
		return time.Time{}
	}
	return time.Unix(int64(binary.BigEndian.Uint64(v)), 0)
}

func u64(v uint64) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, v)
	return b
}
