package config_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/threadline/threadline/internal/config"
)

func TestTeamsSettings(t *testing.T) {
	full := map[string]string{
		"THREADLINE_TEAMS_APP_ID": "app-1", "THREADLINE_TEAMS_APP_PASSWORD": "teams-pw-5",
		"THREADLINE_TEAMS_TENANT_ID": "tenant-1", "THREADLINE_TEAMS_CHANNEL": "19:inbox@thread.tacv2",
	}
	load := func(env map[string]string) (config.Config, error) {
		return config.Load("", func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	}
	c, err := load(full)
	if err != nil {
		t.Fatal(err)
	}
	if c.Teams.ServiceURL != "https://smba.trafficmanager.net/teams/" || c.Teams.TokenURL != "" || c.DefaultSurface != "slack" ||
		c.Teams.OpenIDMetadataURL != "https://login.botframework.com/v1/.well-known/openidconfiguration" {
		t.Errorf("defaults: %+v %q", c.Teams, c.DefaultSurface)
	}
	if s := fmt.Sprintf("%v %+v", c, c); strings.Contains(s, "teams-pw-5") {
		t.Error("the Teams password was printed")
	}
	for _, missing := range []string{"THREADLINE_TEAMS_APP_PASSWORD", "THREADLINE_TEAMS_TENANT_ID", "THREADLINE_TEAMS_CHANNEL"} {
		env := map[string]string{}
		for k, v := range full {
			if k != missing {
				env[k] = v
			}
		}
		var inv *config.InvalidError
		if _, err := load(env); !errors.As(err, &inv) || inv.Key != missing {
			t.Errorf("without %s: %v", missing, err)
		}
	}
	full["THREADLINE_DEFAULT_SURFACE"] = "email"
	if _, err := load(full); err == nil {
		t.Error("accepted THREADLINE_DEFAULT_SURFACE=email")
	}
}

func TestSurfaceRoutes(t *testing.T) {
	load := func(v string) (config.Config, error) {
		return config.Load("", func(k string) (string, bool) {
			if k == "THREADLINE_SURFACE_ROUTES" {
				return v, true
			}
			return "", false
		})
	}
	c, err := load(" telegram=teams, messenger:1234567=slack ,")
	if err != nil {
		t.Fatal(err)
	}
	want := []config.SurfaceRoute{{Platform: "telegram", Surface: "teams"}, {Platform: "messenger", Account: "1234567", Surface: "slack"}}
	if fmt.Sprint(c.SurfaceRoutes) != fmt.Sprint(want) {
		t.Errorf("routes %+v, want %+v", c.SurfaceRoutes, want)
	}
	for _, bad := range []string{"telegram", "telegram=email", "=teams", "telegram:1=slack,x=fax"} {
		if _, err := load(bad); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}
