package bridge_test

import (
	"testing"
	"time"

	"github.com/threadline/threadline/bridge"
	"github.com/threadline/threadline/internal/businesshours"
)

// FuzzParseHours: whatever an agent types after hours, a command that parses
// holds a schedule and time zone that read again, or says off, or asks.
func FuzzParseHours(f *testing.F) {
	for _, s := range []string{"mon-fri 09:00-17:00 Europe/Berlin", "off", "", "<UBOB Bob> off", "@bob mon 09:00-10:00", "24/7",
		"mon-fri 22:00-06:00 utc", "sat 10:00-14:00; sun 24:00-01:00", "mon-fri 09:00-17:00 ../../x/y", "#team off", "fri-mon 00:00-24:00 america/new_york"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		for _, syn := range []bridge.Syntax{bridge.PlainSyntax{}, angleSyntax{}} {
			cmd, err := bridge.ParseCommandWith(syn, "hours "+in)
			if err != nil {
				continue
			}
			h := cmd.Hours
			if h.Off && h.Schedule != "" {
				t.Fatalf("%q: off and a schedule: %+v", in, h)
			}
			if h.Schedule == "" {
				if h.Zone != "" {
					t.Fatalf("%q: a zone without a schedule: %+v", in, h)
				}
				continue
			}
			loc := time.UTC
			if h.Zone != "" {
				if loc, err = time.LoadLocation(h.Zone); err != nil {
					t.Fatalf("%q: zone %q does not load: %v", in, h.Zone, err)
				}
			}
			if _, err := businesshours.Parse(h.Schedule, loc); err != nil {
				t.Fatalf("%q: schedule %q does not parse again: %v", in, h.Schedule, err)
			}
		}
	})
}
