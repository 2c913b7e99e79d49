package slack

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/threadline/threadline/bridge"
)

// ReplayWindow is how old a signed request may be; Slack recommends 5 minutes.
const ReplayWindow = 5 * time.Minute

// Verifier checks Slack's request signature (v0 HMAC-SHA256 of
// "v0:timestamp:body" with the signing secret).
type Verifier struct {
	Secret string
	Clock  bridge.Clock
}

var errUnsigned = errors.New("slack: request signature missing or wrong")

// Verify checks the signature headers against the raw body.
func (v Verifier) Verify(timestamp, signature string, body []byte) error {
	if v.Secret == "" || timestamp == "" || signature == "" {
		return errUnsigned
	}
	ts, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return errUnsigned
	}
	now := time.Now()
	if v.Clock != nil {
		now = v.Clock.Now()
	}
	if age := now.Sub(time.Unix(ts, 0)); age > ReplayWindow || age < -ReplayWindow {
		return fmt.Errorf("slack: request timestamp outside the %s replay window", ReplayWindow)
	}
	mac := hmac.New(sha256.New, []byte(v.Secret))
	fmt.Fprintf(mac, "v0:%s:%s", timestamp, body)
	want := "v0=" + hex.EncodeToString(mac.Sum(nil))
	if !hmac.Equal([]byte(want), []byte(signature)) {
		return errUnsigned
	}
	return nil
}
