// Package chart draws the report chart as a PNG: conversations per day as
// bars on the left axis, and the median first-response time per day as a
// line on the right axis. It draws with image/draw and encodes with
// image/png; labels use the Go project's 7x13 bitmap face
// (golang.org/x/image/font/basicfont), so no font file is needed.
package chart

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"math"
	"time"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"
)

// Day is one day of the chart.
type Day struct {
	Day           time.Time
	Conversations int
	// FirstResponse is the day's median first response; Answered says
	// whether any conversation of the day was answered (else no point).
	FirstResponse time.Duration
	Answered      bool
}

// Options sizes the chart.
type Options struct {
	Title         string
	Width, Height int // default 960 x 400
}

var (
	background = color.RGBA{0xff, 0xff, 0xff, 0xff}
	ink        = color.RGBA{0x1d, 0x1c, 0x1d, 0xff}
	grid       = color.RGBA{0xdd, 0xdd, 0xdd, 0xff}
	barColor   = color.RGBA{0x36, 0x7c, 0xc5, 0xff}
	lineColor  = color.RGBA{0xe0, 0x1e, 0x5a, 0xff}
)

const (
	marginLeft, marginRight, marginTop, marginBottom = 56, 70, 44, 46
)

// PNG draws the chart.
func PNG(days []Day, o Options) ([]byte, error) {
	if o.Width <= 0 {
		o.Width = 960
	}
	if o.Height <= 0 {
		o.Height = 400
	}
	img := image.NewRGBA(image.Rect(0, 0, o.Width, o.Height))
	draw.Draw(img, img.Bounds(), &image.Uniform{background}, image.Point{}, draw.Src)
	plot := image.Rect(marginLeft, marginTop, o.Width-marginRight, o.Height-marginBottom)

	maxCount, maxResp := 0, time.Duration(0)
	for _, d := range days {
		maxCount = max(maxCount, d.Conversations)
		if d.Answered {
			maxResp = max(maxResp, d.FirstResponse)
		}
	}
	countTop := niceCeil(float64(max(maxCount, 1)))
	respUnit, respName := unitFor(maxResp)
	respTop := niceCeil(math.Max(float64(maxResp)/float64(respUnit), 1))

	// Grid and axes: five steps on both scales.
	const steps = 5
	for i := 0; i <= steps; i++ {
		y := plot.Max.Y - i*plot.Dy()/steps
		hline(img, plot.Min.X, plot.Max.X, y, grid)
		label(img, fmt.Sprintf("%g", countTop*float64(i)/steps), plot.Min.X-6, y+4, alignRight, barColor)
		label(img, fmt.Sprintf("%g", respTop*float64(i)/steps), plot.Max.X+6, y+4, alignLeft, lineColor)
	}
	vline(img, plot.Min.X, plot.Min.Y, plot.Max.Y, ink)
	vline(img, plot.Max.X, plot.Min.Y, plot.Max.Y, ink)
	hline(img, plot.Min.X, plot.Max.X, plot.Max.Y, ink)

	n := max(len(days), 1)
	slot := float64(plot.Dx()) / float64(n)
	barW := max(int(slot*0.6), 1)
	labelEvery := max(1, int(math.Ceil(float64(n)*50/float64(plot.Dx())))) // about 50 px per date label
	var prev image.Point
	havePrev := false
	for i, d := range days {
		cx := plot.Min.X + int(slot*(float64(i)+0.5))
		if d.Conversations > 0 {
			h := int(float64(plot.Dy()) * float64(d.Conversations) / countTop)
			fill(img, image.Rect(cx-barW/2, plot.Max.Y-h, cx-barW/2+barW, plot.Max.Y), barColor)
		}
		if i%labelEvery == 0 {
			label(img, d.Day.Format("01-02"), cx, plot.Max.Y+16, alignCenter, ink)
		}
		if !d.Answered {
			havePrev = false // a gap: no line across days without answers
			continue
		}
		y := plot.Max.Y - int(float64(plot.Dy())*float64(d.FirstResponse)/float64(respUnit)/respTop)
		p := image.Pt(cx, y)
		if havePrev {
			line(img, prev, p, lineColor)
		}
		fill(img, image.Rect(p.X-3, p.Y-3, p.X+4, p.Y+4), lineColor)
		prev, havePrev = p, true
	}

	label(img, o.Title, o.Width/2, 22, alignCenter, ink)
	fill(img, image.Rect(marginLeft, o.Height-18, marginLeft+10, o.Height-8), barColor)
	label(img, "conversations per day", marginLeft+16, o.Height-8, alignLeft, ink)
	fill(img, image.Rect(o.Width/2, o.Height-18, o.Width/2+10, o.Height-8), lineColor)
	label(img, "median first response ("+respName+")", o.Width/2+16, o.Height-8, alignLeft, ink)

	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, fmt.Errorf("encode chart: %w", err)
	}
	return buf.Bytes(), nil
}

// unitFor picks the response-time axis unit.
func unitFor(d time.Duration) (time.Duration, string) {
	switch {
	case d >= 3*time.Hour:
		return time.Hour, "hours"
	case d >= 3*time.Minute:
		return time.Minute, "minutes"
	}
	return time.Second, "seconds"
}

// niceCeil rounds up to 1, 2 or 5 times a power of ten, so the five grid
// steps have round labels.
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	exp := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*exp >= v {
			top := m * exp
			if top < 5 && top == math.Floor(top) { // small counts: whole-number steps
				return 5
			}
			return top
		}
	}
	return 10 * exp
}

type align int

const (
	alignLeft align = iota
	alignCenter
	alignRight
)

func label(img draw.Image, s string, x, y int, a align, c color.Color) {
	d := &font.Drawer{Dst: img, Src: image.NewUniform(c), Face: basicfont.Face7x13}
	w := d.MeasureString(s).Ceil()
	switch a {
	case alignCenter:
		x -= w / 2
	case alignRight:
		x -= w
	}
	d.Dot = fixed.P(x, y)
	d.DrawString(s)
}

func fill(img draw.Image, r image.Rectangle, c color.Color) {
	draw.Draw(img, r, &image.Uniform{c}, image.Point{}, draw.Src)
}

func hline(img draw.Image, x0, x1, y int, c color.Color) { fill(img, image.Rect(x0, y, x1+1, y+1), c) }
func vline(img draw.Image, x, y0, y1 int, c color.Color) { fill(img, image.Rect(x, y0, x+1, y1+1), c) }

// line draws a two-pixel line from a to b (Bresenham).
func line(img *image.RGBA, a, b image.Point, c color.RGBA) {
	dx, dy := abs(b.X-a.X), -abs(b.Y-a.Y)
	sx, sy := sign(b.X-a.X), sign(b.Y-a.Y)
	e := dx + dy
	for p := a; ; {
		img.SetRGBA(p.X, p.Y, c)
		img.SetRGBA(p.X, p.Y+1, c)
		if p == b {
			return
		}
		e2 := 2 * e
		if e2 >= dy {
			e += dy
			p.X += sx
		}
		if e2 <= dx {
			e += dx
			p.Y += sy
		}
	}
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

func sign(v int) int {
	switch {
	case v < 0:
		return -1
	case v > 0:
		return 1
	}
	return 0
}
