package main

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"math"
	"strconv"
)

// The chart's geometry in CSS pixels. The page puts the SVG at
// (chartPageX, chartPageY) whatever the fonts (a header of fixed height), so
// the rendering test can find each point on a screenshot.
const (
	chartWidth, chartHeight             = 720, 320
	plotLeft, plotRight                 = 64, 24
	plotTop, plotBottom                 = 24, 48
	chartPageX, chartPageY              = 24, 96
	chartLineColour, chartGoalColour    = "#1f77b4", "#d62728"
	chartLineR, chartLineG, chartLineB  = 0x1f, 0x77, 0xb4
	chartPointRadius, chartStrokeWidthP = 6, 3
)

//go:embed report.html.tmpl
var reportHTML string

var reportTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"human": human, "pct": pct, "percent": percent, "bytes": bytesHuman,
	"float": func(v uint64) float64 { return float64(v) },
	"sub":   func(a, b int) int { return a - b },
	"div":   func(a, b int) int { return a / b },
}).Parse(reportHTML))

// chartPoint is one report on the chart.
type chartPoint struct {
	Period string
	Value  float64 // 0..1
	X, Y   float64
	Label  string // e.g. 12.5%
}

type chartTick struct {
	Y     float64
	Label string
}

// chart is the trend of the goal's metric over the history.
type chart struct {
	Width, Height, Left, Right, Top, Bottom int
	PlotRight, PlotBottom                   int
	Line, Goal                              string
	Points                                  []chartPoint
	Polyline                                string
	Ticks                                   []chartTick
	GoalY                                   float64
	GoalLabel                               string
	Metric                                  string
	Radius, Stroke                          int
}

// buildChart places the history's shares: x evenly by report, y linear
// from 0 to a top above the highest value and the goal (a multiple of 10%).
func (r *reportData) buildChart() chart {
	c := chart{Width: chartWidth, Height: chartHeight, Left: plotLeft, Right: plotRight, Top: plotTop, Bottom: plotBottom,
		PlotRight: chartWidth - plotRight, PlotBottom: chartHeight - plotBottom, Line: chartLineColour, Goal: chartGoalColour,
		Radius: chartPointRadius, Stroke: chartStrokeWidthP}
	metric := goalMetric(r.History)
	c.Metric = (&goalTrend{Metric: metric}).what()
	top := 0.0
	for _, h := range r.History {
		if v, ok := share(h, metric); ok {
			c.Points = append(c.Points, chartPoint{Period: h.Period, Value: v, Label: pct(v)})
			top = max(top, v)
		}
	}
	if r.Goal != nil {
		top = max(top, r.Goal.Goal)
	}
	top = min(math.Max(math.Ceil(top*1.1*10)/10, 0.1), 1)
	plotW, plotH := float64(chartWidth-plotLeft-plotRight), float64(chartHeight-plotTop-plotBottom)
	y := func(v float64) float64 { return chartRound(plotTop + plotH*(1-v/top)) }
	for i := range c.Points {
		p := &c.Points[i]
		p.X = plotLeft + plotW/2
		if n := len(c.Points); n > 1 {
			p.X = plotLeft + plotW*float64(i)/float64(n-1)
		}
		p.X, p.Y = chartRound(p.X), y(p.Value)
		if i > 0 {
			c.Polyline += " "
		}
		c.Polyline += strconv.FormatFloat(p.X, 'f', 1, 64) + "," + strconv.FormatFloat(p.Y, 'f', 1, 64)
	}
	for i := 0; i <= 5; i++ {
		v := top * float64(i) / 5
		c.Ticks = append(c.Ticks, chartTick{Y: y(v), Label: fmt.Sprintf("%.0f%%", 100*v)})
	}
	if r.Goal != nil {
		c.GoalY, c.GoalLabel = y(r.Goal.Goal), "goal "+pct(r.Goal.Goal)
	}
	return c
}

func chartRound(v float64) float64 { return math.Round(v*10) / 10 }

// writeHTML writes the page: no scripts, fonts, images or links to fetch.
func (r *reportData) writeHTML(w io.Writer) error {
	current, _, _ := periodOfHistory(r.History, r.Now.Time)
	return reportTemplate.Execute(w, struct {
		*reportData
		Chart   chart
		Current string
		PageX   int
		PageY   int
	}{r, r.buildChart(), current, chartPageX, chartPageY})
}
