package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestInvalidConfigExitsTwoNamingTheKey(t *testing.T) {
	t.Setenv("THREADLINE_LOG_LEVEL", "loud")
	var out, errOut bytes.Buffer
	if code := run([]string{"version"}, &out, &errOut); code != 2 {
		t.Fatalf("exit %d, want 2", code)
	}
	if !strings.Contains(errOut.String(), "THREADLINE_LOG_LEVEL") {
		t.Errorf("stderr %q does not name the key", errOut.String())
	}
}

func TestHelpNeverPrintsSecrets(t *testing.T) {
	t.Setenv("THREADLINE_SLACK_BOT_TOKEN", "xoxb-do-not-print")
	for _, args := range [][]string{{"--help"}, {"serve", "--help"}, {"nope"}} {
		var out, errOut bytes.Buffer
		run(args, &out, &errOut)
		all := out.String() + errOut.String()
		if strings.Contains(all, "do-not-print") {
			t.Errorf("%v printed a secret", args)
		}
		if !strings.Contains(all, "THREADLINE_DATABASE_URL") {
			t.Errorf("%v: help lacks the settings table", args)
		}
	}
}

func TestUnknownCommandIsUsageError(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"frobnicate"}, &out, &errOut); code != 2 {
		t.Errorf("exit %d, want 2", code)
	}
}
