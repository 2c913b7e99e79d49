package meta_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/threadline/threadline/adapters/meta"
	"github.com/threadline/threadline/bridge"
)

func seedFixtures(f *testing.F) [][]byte {
	f.Helper()
	paths, _ := filepath.Glob("testdata/*.json")
	var out [][]byte
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		out = append(out, b)
	}
	out = append(out,
		[]byte(`{"object":"page","entry":[{"id":"`+pageID+`","messaging":[`+messaging("u1", pageID, `"message":{"mid":"m1","text":"x","attachments":[{"type":"image","payload":{"url":"https://a/b.jpg","sticker_id":1}},{"type":"fallback","payload":null}]}`)+`]}]}`),
		[]byte(`{"object":"page","entry":[{"id":`+pageID+`,"standby":[`+messaging(pageID, "u1", `"message":{"mid":"m2","is_echo":true,"app_id":"1","metadata":"threadline:msg:9"}`)+`]}]}`),
		[]byte(`{"object":"instagram","entry":[{"id":"`+igID+`","messaging":[`+messaging("u2", igID, `"message":{"mid":"m3","reply_to":{"story":{"url":"https://s","id":5}}}`)+`,`+messaging("u2", igID, `"postback":{"payload":"P"}`)+`]}]}`),
		[]byte(`{"object":"page","entry":[{"id":"`+pageID+`","messaging":[`+messaging("u1", pageID, `"delivery":{"mids":["m1","m2"],"watermark":1458668856253}`)+`,`+messaging("u1", pageID, `"read":{"watermark":1458668856253}`)+`]}]}`),
		[]byte(`{"object":"instagram","entry":[{"id":"`+igID+`","messaging":[`+messaging("u2", igID, `"read":{"mid":"aWdfZAG1"}`)+`]}]}`),
		[]byte(`{"object":"instagram","entry":[{"id":"`+igID+`","messaging":[`+messaging("u2", igID, `"message":{"mid":"m9","text":"5","quick_reply":{"payload":"csat:3:5"}}`)+`]}]}`),
		[]byte(`{"object":"instagram","entry":[{"id":"`+igID+`","time":1,"changes":[{"field":"mentions","value":{"media_id":17918195224117851,"comment_id":"17894227972186120"}},{"field":"mentions","value":{"media_id":"17918195224117852"}}]}]}`),
	)
	return out
}

// FuzzParse: no input panics the parser, and every event it yields is one
// the bridge accepts (a refused event would be redelivered by Meta forever).
func FuzzParse(f *testing.F) {
	for _, s := range seedFixtures(f) {
		f.Add(s)
	}
	a := newAdapter(f, "http://127.0.0.1:1", nil)
	f.Fuzz(func(t *testing.T, body []byte) {
		w, err := meta.DecodeWebhook(body)
		if err != nil {
			return
		}
		for _, ev := range a.Parse(w).Events {
			switch {
			case ev.Inbound != nil:
				in := ev.Inbound
				if in.Platform == "" || in.Account.ExternalID == "" || in.Thread == "" || in.Sender.ExternalUserID == "" || in.PlatformMessageID == "" {
					t.Fatalf("inbound event the bridge refuses: %+v", in)
				}
				if in.Thread == in.Account.ExternalID {
					t.Fatalf("the account's own message taken as the customer's: %+v", in)
				}
			case ev.Outbound != nil:
				out := ev.Outbound
				if out.Platform == "" || out.Account.ExternalID == "" || out.Thread == "" || out.Customer.ExternalUserID == "" || out.PlatformMessageID == "" {
					t.Fatalf("observed event the bridge refuses: %+v", out)
				}
			case ev.Receipt != nil:
				r := ev.Receipt
				if r.Platform == "" || r.Account == "" || r.Thread == "" || r.Thread == r.Account || (len(r.PlatformMessageIDs) == 0 && r.Watermark.IsZero()) {
					t.Fatalf("receipt the bridge cannot place: %+v", r)
				}
				if r.Status != bridge.ReceiptDelivered && r.Status != bridge.ReceiptSeen {
					t.Fatalf("receipt status %d", r.Status)
				}
			default:
				t.Fatal("empty event")
			}
		}
	})
}

// FuzzVerifySignature: only the exact HMAC of the body verifies.
func FuzzVerifySignature(f *testing.F) {
	for _, s := range seedFixtures(f) {
		f.Add(s, meta.Sign(secret, s))
		f.Add(s, "sha256=")
		f.Add(s, "sha256="+strings.Repeat("0", 64))
	}
	f.Fuzz(func(t *testing.T, body []byte, header string) {
		good := meta.Sign(secret, body)
		ok := meta.VerifySignature(secret, body, header)
		if header == good && !ok {
			t.Fatal("the right signature was refused")
		}
		if ok && !strings.EqualFold(header, good) {
			t.Fatalf("%q verified for a body whose signature is %q", header, good)
		}
		if meta.VerifySignature(secret+"x", body, good) {
			t.Fatal("another secret's signature verified")
		}
	})
}
