package teams

import (
	"context"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/threadline/threadline/bridge"
)

// Bot Framework defaults; tests point the URLs at teamstest.
const (
	DefaultOpenIDMetadataURL = "https://login.botframework.com/v1/.well-known/openidconfiguration"
	// ChannelIssuer issues the tokens the Bot Connector sends with activities.
	ChannelIssuer = "https://api.botframework.com"
)

// ErrUnauthorized says an inbound request's token is missing or invalid.
var ErrUnauthorized = errors.New("teams: unauthorized")

// Claims are what a validated channel token says.
type Claims struct {
	jwt.RegisteredClaims
	// ServiceURL must equal the activity's serviceUrl: a token for one
	// connector must not let its bearer point Threadline at another.
	ServiceURL string `json:"serviceurl"`
	// Endorsements of the signing key: the channels it may sign for.
	Endorsements []string `json:"-"`
}

// ValidatorOptions configures a Validator.
type ValidatorOptions struct {
	AppID       string // the expected audience
	MetadataURL string // default DefaultOpenIDMetadataURL
	Issuer      string // default ChannelIssuer
	HTTPClient  *http.Client
	Clock       bridge.Clock
	// Leeway tolerates clock skew on exp and nbf (default 5 minutes, as
	// the Bot Framework SDKs allow).
	Leeway time.Duration
	// MaxKeyAge refreshes the keys this often even when every kid is
	// known (default 24 h: Microsoft rolls its keys).
	MaxKeyAge time.Duration
	// MinRefresh is the least time between two fetches prompted by an
	// unknown kid (default 10 s), so forged tokens cannot make Threadline
	// hammer the metadata endpoint, while a real key rollover is picked up
	// within seconds.
	MinRefresh time.Duration
}

type signingKey struct {
	pub          *rsa.PublicKey
	endorsements []string
}

// Validator checks channel tokens against the Bot Framework's OpenID
// metadata and signing keys, which it caches. Safe for concurrent use: one
// fetch at a time, readers never see a half-built key set.
type Validator struct {
	opts   ValidatorOptions
	parser *jwt.Parser

	fetchMu sync.Mutex // serializes fetches
	mu      sync.RWMutex
	keys    map[string]signingKey
	fetched time.Time // when keys were last fetched successfully
	tried   time.Time // when a fetch was last attempted
}

// NewValidator returns a validator; it fetches nothing until the first token.
func NewValidator(opts ValidatorOptions) *Validator {
	if opts.MetadataURL == "" {
		opts.MetadataURL = DefaultOpenIDMetadataURL
	}
	if opts.Issuer == "" {
		opts.Issuer = ChannelIssuer
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if opts.Clock == nil {
		opts.Clock = bridge.SystemClock{}
	}
	if opts.Leeway == 0 {
		opts.Leeway = 5 * time.Minute
	}
	if opts.MaxKeyAge == 0 {
		opts.MaxKeyAge = 24 * time.Hour
	}
	if opts.MinRefresh == 0 {
		opts.MinRefresh = 10 * time.Second
	}
	return &Validator{
		opts: opts,
		parser: jwt.NewParser(
			jwt.WithValidMethods([]string{"RS256"}),
			jwt.WithIssuer(opts.Issuer),
			jwt.WithAudience(opts.AppID),
			jwt.WithExpirationRequired(),
			jwt.WithLeeway(opts.Leeway),
			jwt.WithTimeFunc(opts.Clock.Now),
		),
	}
}

// maxTokenLength bounds the Authorization header: Bot Framework tokens are
// about 1.5 KB.
const maxTokenLength = 16 << 10

// Validate checks the Authorization header of an inbound request. Errors
// wrap ErrUnauthorized when the token is at fault; others mean the keys
// could not be fetched.
func (v *Validator) Validate(ctx context.Context, authorization string) (Claims, error) {
	scheme, token, ok := strings.Cut(authorization, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return Claims{}, fmt.Errorf("%w: no bearer token", ErrUnauthorized)
	}
	if len(token) > maxTokenLength {
		return Claims{}, fmt.Errorf("%w: token over %d bytes", ErrUnauthorized, maxTokenLength)
	}
	var claims Claims
	var fetchErr error
	_, err := v.parser.ParseWithClaims(token, &claims, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		if kid == "" {
			return nil, errors.New("token has no kid")
		}
		key, err := v.key(ctx, kid)
		if err != nil {
			fetchErr = err
			return nil, err
		}
		claims.Endorsements = key.endorsements
		return key.pub, nil
	})
	if fetchErr != nil {
		return Claims{}, fetchErr
	}
	if err != nil {
		return Claims{}, fmt.Errorf("%w: %v", ErrUnauthorized, err)
	}
	if claims.ServiceURL == "" {
		return Claims{}, fmt.Errorf("%w: token has no serviceurl claim", ErrUnauthorized)
	}
	return claims, nil
}

// errUnknownKey is a kid the current key set does not have.
var errUnknownKey = fmt.Errorf("%w: unknown signing key", ErrUnauthorized)

// key returns the signing key kid, fetching the key set when it is stale or
// lacks kid (at most once per MinRefresh for unknown kids).
func (v *Validator) key(ctx context.Context, kid string) (signingKey, error) {
	now := v.opts.Clock.Now()
	v.mu.RLock()
	k, found := v.keys[kid]
	fresh := !v.fetched.IsZero() && now.Sub(v.fetched) < v.opts.MaxKeyAge
	v.mu.RUnlock()
	if found && fresh {
		return k, nil
	}
	if err := v.refresh(ctx, kid, found); err != nil {
		if found {
			return k, nil // a known key stays good while the metadata is unreachable
		}
		return signingKey{}, err
	}
	v.mu.RLock()
	k, found = v.keys[kid]
	v.mu.RUnlock()
	if !found {
		return signingKey{}, errUnknownKey
	}
	return k, nil
}

func (v *Validator) refresh(ctx context.Context, kid string, stale bool) error {
	v.fetchMu.Lock()
	defer v.fetchMu.Unlock()
	now := v.opts.Clock.Now()
	v.mu.RLock()
	_, found := v.keys[kid]
	fetched, tried := v.fetched, v.tried
	v.mu.RUnlock()
	if found && !fetched.IsZero() && now.Sub(fetched) < v.opts.MaxKeyAge {
		return nil // another caller fetched while this one waited
	}
	if !stale && !tried.IsZero() && now.Sub(tried) < v.opts.MinRefresh {
		return errUnknownKey
	}
	v.mu.Lock()
	v.tried = now
	v.mu.Unlock()
	keys, err := v.fetch(ctx)
	if err != nil {
		return fmt.Errorf("teams: fetch signing keys: %w", err)
	}
	v.mu.Lock()
	v.keys, v.fetched = keys, now
	v.mu.Unlock()
	return nil
}

type openIDMetadata struct {
	Issuer  string `json:"issuer"`
	JWKSURI string `json:"jwks_uri"`
}

type jwkSet struct {
	Keys []struct {
		Kty          string   `json:"kty"`
		Use          string   `json:"use"`
		Kid          string   `json:"kid"`
		N            string   `json:"n"`
		E            string   `json:"e"`
		Endorsements []string `json:"endorsements"`
	} `json:"keys"`
}

func (v *Validator) fetch(ctx context.Context) (map[string]signingKey, error) {
	var meta openIDMetadata
	if err := getJSON(ctx, v.opts.HTTPClient, v.opts.MetadataURL, &meta); err != nil {
		return nil, fmt.Errorf("openid metadata: %w", err)
	}
	if meta.JWKSURI == "" {
		return nil, errors.New("openid metadata has no jwks_uri")
	}
	var set jwkSet
	if err := getJSON(ctx, v.opts.HTTPClient, meta.JWKSURI, &set); err != nil {
		return nil, fmt.Errorf("jwks: %w", err)
	}
	keys := map[string]signingKey{}
	for _, k := range set.Keys {
		if k.Kty != "RSA" || k.Kid == "" || (k.Use != "" && k.Use != "sig") {
			continue
		}
		pub, err := rsaKey(k.N, k.E)
		if err != nil {
			continue // one bad key must not take the others with it
		}
		keys[k.Kid] = signingKey{pub: pub, endorsements: k.Endorsements}
	}
	if len(keys) == 0 {
		return nil, errors.New("jwks has no usable RSA signing key")
	}
	return keys, nil
}

func rsaKey(n, e string) (*rsa.PublicKey, error) {
	nb, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(n, "="))
	if err != nil {
		return nil, err
	}
	eb, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(e, "="))
	if err != nil {
		return nil, err
	}
	if len(nb) < 256 || len(eb) == 0 || len(eb) > 4 {
		return nil, errors.New("rsa key too small or exponent invalid")
	}
	exp := 0
	for _, b := range eb {
		exp = exp<<8 | int(b)
	}
	if exp < 3 {
		return nil, errors.New("rsa exponent invalid")
	}
	return &rsa.PublicKey{N: new(big.Int).SetBytes(nb), E: exp}, nil
}

func getJSON(ctx context.Context, c *http.Client, url string, v any) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	res, err := c.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, res.Status)
	}
	return json.NewDecoder(io.LimitReader(res.Body, 1<<20)).Decode(v)
}

// Endorses reports whether the signing key may sign for the channel (the
// activity's channelId, "msteams").
func (c Claims) Endorses(channelID string) bool {
	return slices.Contains(c.Endorsements, channelID)
}
