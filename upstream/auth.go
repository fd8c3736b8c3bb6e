package upstream

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

var (
	_ TokenSource = (*MintedTokens)(nil)
	_ TokenSource = StaticToken("")
)

// TokenSource gives the JWT sent in the auth header.
type TokenSource interface {
	// Token returns a token valid for at least a few more seconds.
	Token() (string, error)
	// Invalidate drops a cached token the platform refused (401), so the
	// next call mints a new one.
	Invalidate()
}

// Minted token lifetime. The platform only needs the token for one request;
// a short life limits the harm of a leaked one.
const (
	tokenLifetime = 5 * time.Minute
	// A token is replaced this long before it expires, so that a slow
	// request or a clock skew never carries an expired token.
	tokenRenewBefore = time.Minute
	// JWTSubject is the sub claim of minted tokens.
	JWTSubject = "smartassist_exporter"
)

// MintedTokens mints HS256 JWTs from the JWT app's client id and secret, in
// the form SmartAssist documents (claim appId = client id), with sub, iat,
// exp and a fresh jti (some apps refuse a jti they have seen), and reuses
// one until shortly before it expires.
type MintedTokens struct {
	clientID string
	secret   func() (string, error)
	now      func() time.Time

	mu     sync.Mutex
	token  string
	expiry time.Time
}

// NewMintedTokens mints with the given client id; secret is called at every
// mint so that a secret read from a file can rotate.
func NewMintedTokens(clientID string, secret func() (string, error)) *MintedTokens {
	return NewMintedTokensAt(clientID, secret, time.Now)
}

// NewMintedTokensAt is NewMintedTokens on another clock: the simulated
// platform of the tests checks iat and exp against its own.
func NewMintedTokensAt(clientID string, secret func() (string, error), now func() time.Time) *MintedTokens {
	return &MintedTokens{clientID: clientID, secret: secret, now: now}
}

// Token returns the current JWT, minting a new one when it is near expiry.
func (m *MintedTokens) Token() (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	if m.token != "" && now.Add(tokenRenewBefore).Before(m.expiry) {
		return m.token, nil
	}
	secret, err := m.secret()
	if err != nil {
		return "", err
	}
	jti, err := newJTI()
	if err != nil {
		return "", err
	}
	exp := now.Add(tokenLifetime)
	claims := jwt.MapClaims{
		"appId": m.clientID,
		"sub":   JWTSubject,
		"iat":   now.Unix(),
		"exp":   exp.Unix(),
		"jti":   jti,
	}
	signed, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(secret))
	if err != nil {
		// The error of SignedString never holds the key.
		return "", fmt.Errorf("signing JWT: %w", err)
	}
	m.token, m.expiry = signed, exp
	return signed, nil
}

// Invalidate drops the current JWT (the platform refused it): the next
// Token mints a new one.
func (m *MintedTokens) Invalidate() {
	m.mu.Lock()
	m.token = ""
	m.mu.Unlock()
}

func newJTI() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("generating jti: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// StaticToken is a ready JWT given by the user (SMARTASSIST_TOKEN). It
// cannot be renewed: once the platform refuses it, every poll reports 401
// until the user replaces it.
type StaticToken string

// Token returns the token as given.
func (s StaticToken) Token() (string, error) { return string(s), nil }

// Invalidate does nothing: a static token cannot be renewed.
func (StaticToken) Invalidate() {}
