package teams_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/threadline/threadline/chatops/teams"
	"github.com/threadline/threadline/chatops/teams/teamstest"
	"github.com/threadline/threadline/internal/testclock"
)

func newValidator(em *teamstest.Server, c *testclock.Clock) *teams.Validator {
	opts := teams.ValidatorOptions{AppID: em.AppID(), MetadataURL: em.MetadataURL()}
	if c != nil {
		opts.Clock = c
	}
	return teams.NewValidator(opts)
}

func TestValidator(t *testing.T) {
	em := teamstest.New(teamstest.Options{})
	defer em.Close()
	v := newValidator(em, nil)
	ctx := context.Background()
	good := em.ValidSpec()
	tamper := func(tok string) string {
		parts := strings.Split(tok, ".")
		payload := []byte(parts[1])
		payload[len(payload)/2] ^= 1
		parts[1] = string(payload)
		return strings.Join(parts, ".")
	}
	hs := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"iss": good.Issuer, "aud": good.Audience, "serviceurl": good.ServiceURL, "exp": good.Expires.Unix()})
	hsToken, _ := hs.SignedString([]byte("public-key-as-secret"))
	none, _ := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims{"iss": good.Issuer, "aud": good.Audience, "serviceurl": good.ServiceURL, "exp": good.Expires.Unix()}).SignedString(jwt.UnsafeAllowNoneSignatureType)
	spec := func(f func(*teamstest.TokenSpec)) string {
		s := em.ValidSpec()
		f(&s)
		return "Bearer " + em.ChannelToken(s)
	}
	tests := []struct {
		name, header string
		ok           bool
	}{
		{"good", "Bearer " + em.ChannelToken(good), true},
		{"lower-case scheme", "bearer " + em.ChannelToken(good), true},
		{"expired within leeway", spec(func(s *teamstest.TokenSpec) { s.Expires = time.Now().Add(-time.Minute) }), true},
		{"expired", spec(func(s *teamstest.TokenSpec) { s.Expires = time.Now().Add(-10 * time.Minute) }), false},
		{"not yet valid", spec(func(s *teamstest.TokenSpec) { s.IssuedAt = time.Now().Add(10 * time.Minute) }), false},
		{"wrong audience", spec(func(s *teamstest.TokenSpec) { s.Audience = "another-bot" }), false},
		{"wrong issuer", spec(func(s *teamstest.TokenSpec) { s.Issuer = "https://sts.windows.net/x/" }), false},
		{"no serviceurl", spec(func(s *teamstest.TokenSpec) { s.ServiceURL = "" }), false},
		{"forged signature", spec(func(s *teamstest.TokenSpec) { s.ForeignKey = true }), false},
		{"unknown kid", spec(func(s *teamstest.TokenSpec) { s.UnknownKid = true }), false},
		{"tampered payload", "Bearer " + tamper(em.ChannelToken(good)), false},
		{"HS256 with a guessed secret", "Bearer " + hsToken, false},
		{"alg none", "Bearer " + none, false},
		{"no scheme", em.ChannelToken(good), false},
		{"basic auth", "Basic dXNlcjpwYXNz", false},
		{"empty", "", false},
		{"garbage", "Bearer a.b.c", false},
	}
	for _, tc := range tests {
		claims, err := v.Validate(ctx, tc.header)
		if (err == nil) != tc.ok {
			t.Errorf("%s: err = %v, want ok=%v", tc.name, err, tc.ok)
		}
		if err != nil && !errors.Is(err, teams.ErrUnauthorized) {
			t.Errorf("%s: err %v is not ErrUnauthorized", tc.name, err)
		}
		if err == nil && (claims.ServiceURL != good.ServiceURL || !claims.Endorses("msteams") || claims.Endorses("slack")) {
			t.Errorf("%s: claims %+v", tc.name, claims)
		}
	}
}

func TestValidatorCachesAndRefreshesOnRotation(t *testing.T) {
	em := teamstest.New(teamstest.Options{})
	defer em.Close()
	c := testclock.New(time.Now())
	v := newValidator(em, c)
	ctx := context.Background()
	tok := "Bearer " + em.ChannelToken(em.ValidSpec())

	// Many concurrent first requests fetch the keys once.
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for range 32 {
		wg.Go(func() {
			if _, err := v.Validate(ctx, tok); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if m, k := em.Calls("metadata"), em.Calls("keys"); m != 1 || k != 1 {
		t.Fatalf("metadata fetched %d times, keys %d, want once each", m, k)
	}

	// A token with a new kid makes the validator fetch the keys again.
	em.RotateKey()
	c.Advance(11 * time.Second)
	if _, err := v.Validate(ctx, "Bearer "+em.ChannelToken(em.ValidSpec())); err != nil {
		t.Fatalf("token signed with the rotated key: %v", err)
	}
	if k := em.Calls("keys"); k != 2 {
		t.Fatalf("keys fetched %d times after rotation, want 2", k)
	}
	// Unknown kids (forgeries) do not make it fetch more than once in 10 s.
	forged := func() string {
		s := em.ValidSpec()
		s.UnknownKid = true
		return "Bearer " + em.ChannelToken(s)
	}
	for range 5 {
		if _, err := v.Validate(ctx, forged()); !errors.Is(err, teams.ErrUnauthorized) {
			t.Fatalf("forged token: %v", err)
		}
	}
	if k := em.Calls("keys"); k != 2 {
		t.Fatalf("keys fetched %d times after forgeries right after a fetch, want still 2", k)
	}
	c.Advance(11 * time.Second)
	_, _ = v.Validate(ctx, forged())
	if k := em.Calls("keys"); k != 3 {
		t.Fatalf("keys fetched %d times a while later, want 3", k)
	}
	// Keys are refreshed daily even when every kid is known.
	c.Advance(25 * time.Hour)
	// (The emulator's token carries wall-clock times, expired for this
	// clock: the key fetch happens before the claims are checked.)
	_, _ = v.Validate(ctx, "Bearer "+em.ChannelToken(em.ValidSpec()))
	if k := em.Calls("keys"); k != 4 {
		t.Fatalf("keys fetched %d times after a day, want 4", k)
	}
}

func TestValidatorKeysUnreachable(t *testing.T) {
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "down", 503) }))
	defer down.Close()
	em := teamstest.New(teamstest.Options{})
	defer em.Close()
	v := teams.NewValidator(teams.ValidatorOptions{AppID: em.AppID(), MetadataURL: down.URL})
	_, err := v.Validate(context.Background(), "Bearer "+em.ChannelToken(em.ValidSpec()))
	if err == nil || errors.Is(err, teams.ErrUnauthorized) {
		t.Fatalf("err = %v, want a fetch error that is not the token's fault", err)
	}
}

func FuzzValidate(f *testing.F) {
	em := teamstest.New(teamstest.Options{})
	defer em.Close()
	v := newValidator(em, nil)
	f.Add("Bearer " + em.ChannelToken(em.ValidSpec()))
	f.Add("Bearer eyJhbGciOiJub25lIn0.eyJ9.")
	f.Add("Bearer ...")
	f.Add("bearer " + strings.Repeat("A", 100))
	f.Fuzz(func(t *testing.T, header string) {
		claims, err := v.Validate(context.Background(), header)
		if err == nil && (claims.ServiceURL == "" || !strings.Contains(header, ".")) {
			t.Errorf("accepted %q with claims %+v", header, claims)
		}
	})
}
