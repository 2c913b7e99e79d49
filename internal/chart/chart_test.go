package chart

import (
	"bytes"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func decode(t *testing.T, b []byte) image.Image {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func same(a, b interface{ RGBA() (r, g, bl, al uint32) }) bool {
	r1, g1, b1, a1 := a.RGBA()
	r2, g2, b2, a2 := b.RGBA()
	return r1 == r2 && g1 == g2 && b1 == b2 && a1 == a2
}

// barHeight measures the bar of day i: from the x axis up to the highest
// bar-coloured pixel in its slot's left quarter (the response line may
// cross the middle).
func barHeight(img image.Image, i, n int) int {
	plot := image.Rect(marginLeft, marginTop, img.Bounds().Dx()-marginRight, img.Bounds().Dy()-marginBottom)
	slot := float64(plot.Dx()) / float64(n)
	x := plot.Min.X + int(slot*(float64(i)+0.5)) - int(slot*0.25)
	for y := plot.Min.Y; y < plot.Max.Y; y++ {
		if same(img.At(x, y), barColor) {
			return plot.Max.Y - y
		}
	}
	return 0
}

func TestBarsAreProportionalAndLineDrawn(t *testing.T) {
	start := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
	var days []Day
	for i, n := range []int{2, 4, 0, 8, 1, 3, 6} {
		days = append(days, Day{Day: start.AddDate(0, 0, i), Conversations: n, FirstResponse: time.Duration(i+1) * 7 * time.Minute, Answered: n > 0})
	}
	b, err := PNG(days, Options{Title: "Volume and first response, last 7 days"})
	if err != nil {
		t.Fatal(err)
	}
	img := decode(t, b)
	if img.Bounds().Dx() != 960 || img.Bounds().Dy() != 400 {
		t.Fatalf("size %v", img.Bounds())
	}
	plotHeight := 400 - marginTop - marginBottom
	for i, d := range days {
		got := barHeight(img, i, len(days))
		// The axis tops at 10 for a busiest day of 8.
		if want := plotHeight * d.Conversations / 10; got < want-1 || got > want+1 {
			t.Errorf("day %d: bar %d px, want about %d", i, got, want)
		}
	}
	red := 0
	for y := 0; y < img.Bounds().Dy(); y++ {
		for x := marginLeft; x < img.Bounds().Dx()-marginRight; x++ {
			if same(img.At(x, y), lineColor) {
				red++
			}
		}
	}
	if red < 200 {
		t.Errorf("response-time line: %d pixels", red)
	}
	if out := os.Getenv("THREADLINE_CHART_OUT"); out != "" {
		_ = os.WriteFile(filepath.Clean(out), b, 0o644)
	}
}

func TestEmptyAndLongPeriods(t *testing.T) {
	if _, err := PNG(nil, Options{}); err != nil {
		t.Fatal(err)
	}
	var days []Day
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 366 {
		days = append(days, Day{Day: start.AddDate(0, 0, i), Conversations: i % 17, FirstResponse: 5 * time.Hour, Answered: i%3 == 0})
	}
	b, err := PNG(days, Options{Width: 640, Height: 300})
	if err != nil {
		t.Fatal(err)
	}
	if img := decode(t, b); img.Bounds().Dx() != 640 {
		t.Fatalf("size %v", img.Bounds())
	}
}

func TestNiceCeil(t *testing.T) {
	for in, want := range map[float64]float64{0: 1, 1: 5, 3: 5, 7: 10, 12: 20, 48: 50, 51: 100, 0.4: 0.5} {
		if got := niceCeil(in); got != want {
			t.Errorf("niceCeil(%g) = %g, want %g", in, got, want)
		}
	}
}
