package report

import (
	"fmt"
	"strconv"
)

// svgChart is the timeline drawn as SVG shapes: the program computes every
// rectangle, so the page needs no script and no chart library.
type svgChart struct {
	Width, Height int
	Bars          []svgBar
	Ticks         []svgText // y axis
	Labels        []svgText // x axis (dates)
	Legend        []svgLegend
	AxisX, AxisY  int // where the axes meet
	PlotRight     int
}

type svgBar struct {
	X, Y, W, H string
	Class      string
	Title      string // date, kind and count, for hovering
}

type svgText struct {
	X, Y int
	Text string
}

type svgLegend struct {
	X, Y  int
	Class string
	Kind  string
}

const (
	chartW, chartH         = 760, 260
	padL, padR, padT, padB = 44, 10, 12, 56
)

func chart(c *Chart) *svgChart {
	if len(c.Days) == 0 {
		return nil
	}
	g := &svgChart{Width: chartW, Height: chartH, AxisX: padL, AxisY: chartH - padB, PlotRight: chartW - padR}
	var top int64
	for _, d := range c.Days {
		var sum int64
		for _, n := range d.Counts {
			sum += n
		}
		top = max(top, sum)
	}
	top = niceTop(top)
	plotW, plotH := float64(chartW-padL-padR), float64(chartH-padT-padB)
	step := plotW / float64(len(c.Days))
	w := min(step*0.8, 48)
	if step < 3 {
		w = step
	}
	for i, d := range c.Days {
		x := float64(padL) + float64(i)*step + (step-w)/2
		y := float64(chartH - padB)
		for k, n := range d.Counts {
			if n == 0 {
				continue
			}
			h := float64(n) / float64(top) * plotH
			y -= h
			g.Bars = append(g.Bars, svgBar{X: num(x), Y: num(y), W: num(w), H: num(h), Class: "k" + strconv.Itoa(k),
				Title: fmt.Sprintf("%s %s: %d", d.Date, c.Kinds[k], n)})
		}
	}
	for _, v := range []int64{0, top / 2, top} {
		g.Ticks = append(g.Ticks, svgText{X: padL - 4, Y: chartH - padB - int(float64(v)/float64(top)*plotH) + 4, Text: strconv.FormatInt(v, 10)})
	}
	every := max(1, (len(c.Days)+5)/6) // at most about seven dates
	for i := 0; i < len(c.Days); i += every {
		g.Labels = append(g.Labels, svgText{X: padL + int(float64(i)*step+step/2), Y: chartH - padB + 14, Text: c.Days[i].Date})
	}
	for k, kind := range c.Kinds {
		g.Legend = append(g.Legend, svgLegend{X: padL + (k%4)*178, Y: chartH - 26 + (k/4)*14, Class: "k" + strconv.Itoa(k), Kind: kind})
	}
	return g
}

// niceTop rounds the tallest bar up to 1, 2 or 5 times a power of ten,
// so the axis reads in round numbers.
func niceTop(n int64) int64 {
	if n <= 2 {
		return 2
	}
	for p := int64(1); ; p *= 10 {
		for _, m := range []int64{1, 2, 5} {
			if m*p >= n {
				return m * p
			}
		}
	}
}

func num(f float64) string { return strconv.FormatFloat(f, 'f', 1, 64) }
