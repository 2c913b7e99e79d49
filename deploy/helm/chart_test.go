// Package helm checks the Helm chart. No Helm binary or cluster is available
// where Threadline is developed, so the test renders the templates with
// text/template and the few Helm functions they use, parses the output as
// YAML and checks what a deployment depends on. It does not replace
// `helm lint` or a schema check against a cluster's API.
package helm_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"text/template"

	"gopkg.in/yaml.v3"

	"github.com/threadline/threadline/internal/config"
)

func readYAML(t *testing.T, path string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := yaml.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return m
}

func render(t *testing.T, values map[string]any) map[string][]map[string]any {
	t.Helper()
	chart := readYAML(t, "threadline/Chart.yaml")
	root := template.New("chart")
	root.Funcs(template.FuncMap{
		"include": func(name string, data any) (string, error) {
			var b bytes.Buffer
			err := root.ExecuteTemplate(&b, name, data)
			return b.String(), err
		},
		"nindent": func(n int, s string) string {
			pad := strings.Repeat(" ", n)
			return "\n" + pad + strings.ReplaceAll(s, "\n", "\n"+pad)
		},
		"toYaml": func(v any) (string, error) {
			b, err := yaml.Marshal(v)
			return strings.TrimSuffix(string(b), "\n"), err
		},
		"quote": func(v any) string { return fmt.Sprintf("%q", fmt.Sprint(v)) },
		"default": func(d, v any) any {
			if v == nil || v == "" {
				return d
			}
			return v
		},
	})
	files, err := filepath.Glob("threadline/templates/*")
	if err != nil || len(files) == 0 {
		t.Fatalf("templates: %v", err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := root.New(filepath.Base(f)).Parse(string(b)); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
	}
	data := map[string]any{
		"Values":  values,
		"Chart":   map[string]any{"Name": chart["name"], "AppVersion": chart["appVersion"]},
		"Release": map[string]any{"Name": "prod"},
	}
	out := map[string][]map[string]any{}
	for _, f := range files {
		name := filepath.Base(f)
		if strings.HasPrefix(name, "_") {
			continue
		}
		var b bytes.Buffer
		if err := root.ExecuteTemplate(&b, name, data); err != nil {
			t.Fatalf("render %s: %v", name, err)
		}
		for _, doc := range strings.Split(b.String(), "\n---") {
			if strings.TrimSpace(doc) == "" {
				continue
			}
			var m map[string]any
			if err := yaml.Unmarshal([]byte(doc), &m); err != nil {
				t.Fatalf("%s renders invalid YAML: %v\n%s", name, err, doc)
			}
			kind, _ := m["kind"].(string)
			out[kind] = append(out[kind], m)
		}
	}
	return out
}

func get(m any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			mm, _ := m.(map[string]any)
			m = mm[k]
		case int:
			s, _ := m.([]any)
			if k >= len(s) {
				return nil
			}
			m = s[k]
		}
	}
	return m
}

func TestChartRenders(t *testing.T) {
	values := readYAML(t, "threadline/values.yaml")
	objs := render(t, values)
	if len(objs["Deployment"]) != 1 || len(objs["Service"]) != 1 || len(objs["Job"]) != 1 {
		t.Fatalf("rendered kinds: %v", keys(objs))
	}
	dep := objs["Deployment"][0]
	c := get(dep, "spec", "template", "spec", "containers", 0)
	checks := []struct {
		what string
		got  any
		want any
	}{
		{"replicas", get(dep, "spec", "replicas"), 3},
		{"image", get(c, "image"), "ghcr.io/threadline/threadline:0.1.0"},
		{"args", get(c, "args", 0), "serve"},
		{"liveness", get(c, "livenessProbe", "httpGet", "path"), "/healthz"},
		{"readiness", get(c, "readinessProbe", "httpGet", "path"), "/readyz"},
		{"secret", get(c, "envFrom", 0, "secretRef", "name"), "threadline"},
		{"non-root", get(dep, "spec", "template", "spec", "securityContext", "runAsNonRoot"), true},
		{"selector matches labels", get(dep, "spec", "selector", "matchLabels", "app.kubernetes.io/instance"), get(dep, "spec", "template", "metadata", "labels", "app.kubernetes.io/instance")},
		{"migration job", get(objs["Job"][0], "spec", "template", "spec", "containers", 0, "args", 0), "migrate"},
		{"migration hook", get(objs["Job"][0], "metadata", "annotations", "helm.sh/hook"), "pre-install,pre-upgrade"},
		{"service port", get(objs["Service"][0], "spec", "ports", 0, "targetPort"), "http"},
	}
	for _, ck := range checks {
		if fmt.Sprint(ck.got) != fmt.Sprint(ck.want) {
			t.Errorf("%s = %v, want %v", ck.what, ck.got, ck.want)
		}
	}
	// Every setting the chart passes is one Threadline knows, and none is a secret.
	known := map[string]config.Key{}
	for _, k := range config.Keys() {
		known[k.Name] = k
	}
	for _, e := range get(c, "env").([]any) {
		name := fmt.Sprint(get(e, "name"))
		k, ok := known[name]
		if !ok {
			t.Errorf("chart sets unknown setting %s", name)
		}
		if k.Secret {
			t.Errorf("chart puts secret %s in plain env; it belongs in the Secret", name)
		}
	}
	values["migrations"] = map[string]any{"enabled": false}
	if n := len(render(t, values)["Job"]); n != 0 {
		t.Errorf("migrations disabled still renders %d jobs", n)
	}
}

func keys(m map[string][]map[string]any) []string {
	var out []string
	for k, v := range m {
		out = append(out, fmt.Sprintf("%s x%d", k, len(v)))
	}
	return out
}
