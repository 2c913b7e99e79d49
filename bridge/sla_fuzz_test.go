package bridge_test

import (
	"testing"
	"time"

	"github.com/threadline/threadline/bridge"
)

func FuzzParseSLATargets(f *testing.F) {
	for _, s := range []string{"p1=15m,p2=1h,p3=4h,p4=24h", "review:p3=24h,telegram:p1=10m", "off", "", "p1=", "=", "p9=1h", "a:b:p1=1h"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tg, err := bridge.ParseSLATargets(s)
		if err != nil {
			return
		}
		for _, p := range []bridge.Priority{bridge.P1, bridge.P2, bridge.P3, bridge.P4} {
			if d, ok := tg.For(p, bridge.PlatformTelegram, bridge.SourceDM); ok && d <= 0 {
				t.Fatalf("%q: non-positive target %s", s, d)
			}
		}
	})
}

func FuzzParseReportPeriod(f *testing.F) {
	for _, s := range []string{"today", "yesterday", "7d", "30d", "2026-11-01..2026-11-30", "..", "999999999999d", "2026-02-30..2026-03-01"} {
		f.Add(s)
	}
	now := time.Date(2026, 12, 1, 15, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		from, to, label, err := bridge.ParseReportPeriod(s, now, time.UTC)
		if err != nil {
			return
		}
		if !to.After(from) || label == "" || to.Sub(from) > 367*24*time.Hour {
			t.Fatalf("%q: %v..%v %q", s, from, to, label)
		}
	})
}
